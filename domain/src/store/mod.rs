//! The store: every SQL statement Berth runs, behind one `Store` over an sqlx `AnyPool`.
//!
//! SQLite (the embedded default) and PostgreSQL are chosen by the URL's scheme. Queries are written once
//! in the dialect both accept (`$1` placeholders, integer millisecond timestamps, `RETURNING`); each
//! backend has its own migration set under `migrations/`. Nothing outside this module imports sqlx
//! query APIs.
//!
//! One file per folder it serves (`access.rs`, `apps.rs`, `audit.rs`, `clusters.rs`, `elastic.rs`,
//! `observe.rs`, `runtime.rs`, `routing.rs`, `triggers.rs` (apps' triggers); observe's logs and
//! metric samples in `logs.rs` and `metrics.rs`, the
//! routers' request samples in `traffic.rs`). The store owns the rows it reads and writes
//! (`Cluster`, `Node`, `App`, `Job`, `Operation`, `AlertRule`, …, with the inputs and filters it
//! takes): each is defined beside the SQL of its table and re-exported by the folder whose logic
//! works with it (`crate::clusters::cluster::Cluster`). So the store sits below the logic: it may
//! import the root files only.

mod access;
mod apps;
mod audit;
mod clusters;
mod elastic;
mod jobs;
mod logs;
mod metrics;
mod observe;
mod routing;
mod runtime;
mod traffic;
mod triggers;

pub use access::{GrantRow, NewToken, NewUser, SessionMeta, SessionRow, ShareRow, TokenRow, UserRow};
pub use apps::{App, AppVersion, NewRelease, NewVersion, Overrides, ReleaseRow, Template, TemplateVersion};
pub(crate) use audit::chain_hash;
pub use audit::{FailureKey, NewOperation, Operation, OperationFilter, Outcome, GENESIS};
pub use clusters::{Cluster, NewCluster, NewNode, Node, NodeObservation};
pub use elastic::{ClusterPolicyRow, DecisionRow, NewPoint, PolicyRow, ScalingPoint};
pub use jobs::{JobRunRow, OpenRunRow, RUNS_KEPT};
pub use logs::{LogFilter, LogLine, NewLogLine};
pub use metrics::{Point, Sample};
pub use observe::{AlertEvent, AlertRule, Event, EventFilter, NewAlertRule, NewEvent};
pub use routing::{BalancerRow, CertificateRow, RouterRow, RoutingRow};
pub(crate) use runtime::cluster_lease;
pub use runtime::{Job, KeyState, NewJob, Step};
pub use traffic::{TrafficRow, TrafficSample};
pub use triggers::{Admitted, NewTrigger, TriggerCall, TriggerRow, CALLS_KEPT};

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Internal, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or an error naming the setting.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::invalid("database_url", "must start with sqlite: or postgres:"))
        }
    }
}

/// The parameters of a query whose WHERE clause is built from optional filters: each `int` or
/// `text` call keeps the value and returns its placeholder (`$n`, in order), and `bind` binds them.
#[derive(Default)]
pub(crate) struct Args(Vec<Arg>);

enum Arg {
    Int(i64),
    Text(String),
}

impl Args {
    pub(crate) fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }

    pub(crate) fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Arg::Text(v.into()));
        format!("${}", self.0.len())
    }

    pub(crate) fn bind<'q, O>(
        self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for arg in self.0 {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
            };
        }
        query
    }
}

/// A connection pool with Berth's schema applied.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Serialises appends to the operation history's hash chain within this process (PostgreSQL
    /// replicas also lock the table; see `operation_insert`).
    chain: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Connects, configures SQLite for concurrent use (WAL, busy timeout, foreign keys) and applies
    /// the migrations. Fails rather than starting on a schema it does not know.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            // Create the file on first start.
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            // Bounded, so that a database that is away is a quick 503 rather than a hang.
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets the console read while a write is in progress; NORMAL is durable
                        // under WAL except for the last transactions on power loss.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(Internal::from)?;
        let store = Store { pool, backend, chain: Default::default() };
        store.operations_chain_unhashed().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; used on shutdown so SQLite checkpoints its WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs raw SQL, for tests that play an attacker with direct access to the database.
    #[cfg(feature = "testing")]
    pub async fn execute_for_tests(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }

    /// The `VALUES` list of a multi-row INSERT of `rows` rows of `columns` parameters. SQLite gets
    /// anonymous `?` parameters: sqlx looks up each numbered parameter's name, which SQLite finds by a
    /// linear search, so thousands of `$N` in one statement cost time quadratic in their number.
    pub(crate) fn values(&self, rows: usize, columns: usize) -> String {
        use std::fmt::Write as _;
        let mut sql = String::with_capacity(rows * columns * 4);
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ",(" });
            for column in 0..columns {
                if column > 0 {
                    sql.push(',');
                }
                match self.backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        let _ = write!(sql, "${}", row * columns + column + 1);
                    }
                }
            }
            sql.push(')');
        }
        sql
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`,
    /// waiting up to the busy timeout): a deferred transaction that reads and then writes fails with
    /// `SQLITE_BUSY_SNAPSHOT` — without waiting — when another connection wrote in between.
    pub(crate) async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The installation's settings: one value per key (the installation id, quotas, the CA, mail).
impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM install_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Inserts a setting unless it exists (the existing value wins).
    pub async fn setting_insert_new(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO install_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn setting_put(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO install_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
