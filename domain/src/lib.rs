//! Berth's domain: what Berth does, independent of how it is shown.
//!
//! [`Berth`] is the facade every caller uses; each operation takes an [`authz::Actor`], is authorized
//! through [`authz::authorize`] and, when it changes anything, writes one operation-history row.
//! The store (sqlx) and the engine adapter (bollard) live here too; nothing in this crate knows about
//! HTTP or Leptos.
//!
//! The crate is laid out by part of the product: `access/`, `clusters/`, `apps/`, `observe/`,
//! `routing/`, `elastic/` above
//! `runtime/` and `audit/`, above `engine/` and `store/`, above the root files (`error.rs`,
//! `clock.rs`, `authz.rs`, `secret.rs`, `listing.rs`). Imports run that way only
//! (`domain/tests/tidy.rs`). Each part extends `Berth` with its methods; this file declares the
//! parts, builds `Berth`, registers what the parts plug into each other (recoveries, followers) and
//! starts and stops their background work. Other crates name one module per noun
//! (`domain::cluster`, `domain::app`, …), re-exported below.

mod access;
mod apps;
mod audit;
pub mod authz;
pub mod clock;
mod clusters;
mod elastic;
pub mod engine;
pub mod error;
pub mod listing;
mod observe;
mod routing;
mod runtime;
pub mod secret;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

// The paths callers name, one module per noun (`domain::cluster`, `domain::app`, …), whichever
// folder holds it: the folders are how the crate is laid out, not part of its interface.
pub use access::{accounts, bootstrap, grants, invites, password, session, shares, throttle, tokens, user};
/// What `ram.rs` (resource access management) held before it was split by noun into accounts,
/// grants, invites, tokens and shares; the console's `api/ram.rs` names these paths.
pub mod ram {
    pub use crate::access::accounts::{check_password_for, GrantView, Issued, NewAccount, UserDetail};
    pub use crate::access::invites::{InviteState, INVITE_HOURS};
    pub use crate::access::shares::{DashboardExtras, MAX_SHARE_HOURS};
    pub use crate::access::tokens::{TokenInput, MAX_TOKEN_DAYS, TOKEN_PREFIX};
}
pub use apps::{app, preview, release, template, triggers};
pub use audit::{history, operation, refusals};
pub use clusters::providers::{hosts, local};
pub use clusters::{cluster, node, pki};
pub use observe::{alerts, logs, mail, metrics};
/// A cluster's routing: settings, routers, the names of the routers' service and ports, the
/// routers' request metrics.
pub mod route {
    pub use crate::routing::traffic::{quantile, SideNow, TrafficPoint, TrafficSeries, Window};
    pub use crate::routing::{
        check_root_domain, BackendView, Binding, Certificate, LoadBalancer, RouteView, Router, Routing, SideView,
        TcpView, ADMIN_PORT, EDGE_LABEL, ROUTER_SERVICE, SYSTEM_LABEL,
    };
}
pub use runtime::{idempotency, job};
/// Service autoscaling: policies, schedule windows, the decision rule, the Scaling panel.
pub mod scaling {
    pub use crate::elastic::autoscaler::AUTOSCALER;
    pub use crate::elastic::decide::{decide, Decision, Input, Past, Reading, TOLERANCE, YOUNG_MS};
    pub use crate::elastic::schedule::{
        compile_all, floor, parse as parse_schedule, Compiled, Schedule, Window, MAX_WINDOWS,
    };
    pub use crate::elastic::{ScalingPolicy, ServiceScaling};
    pub use crate::store::{DecisionRow, ScalingPoint};
    pub use compose::scaling::{Metric, Mode, Policy};
}
/// Rebalancing: plans of even spreads and moving only the tasks they name.
pub use elastic::rebalance;
/// Cron tasks and run-to-completion jobs: their schedules, runs and tasks.
pub mod jobs {
    pub use crate::elastic::jobs::{
        AppJobs, JobRun, JobRunDetail, JobSchedule, JobService, RunTask, RUN_LABEL, SCHEDULER,
    };
    pub use crate::store::{JobRunRow, RUNS_KEPT};
}

pub use authz::{Actor, ClusterRole, Grant, Permission, Principal, TokenScope, UserRef};
pub use clusters::providers::local::DEFAULT_NODE_IMAGE;
pub use error::{Error, Result};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use access::password::Hasher;
use access::throttle::Limit;
use engine::{Endpoint, Engine, EngineOverview};
use runtime::job::Busy;
use store::Store;

/// The domain's settings, filled in by the server from its configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The local Docker engine.
    pub docker_host: Endpoint,
    /// Upper bound for one engine call.
    pub engine_timeout: Duration,
    /// How long an engine overview is reused before the engine is asked again.
    pub engine_overview_fresh: Duration,
    /// How long a bootstrap link stays valid.
    pub bootstrap_ttl: Duration,
    /// Failed sign-ins allowed per account…
    pub account_limit: Limit,
    /// …and per client address.
    pub address_limit: Limit,
    /// A session ends this long after sign-in, however active.
    pub session_absolute: Duration,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
    /// Where Berth keeps files (absolute): local clusters' node sockets live under `clusters/`.
    pub data_dir: PathBuf,
    /// The image of local node containers ([`DEFAULT_NODE_IMAGE`] is built when missing).
    pub node_image: String,
    /// Upper bound for one call to a node's engine.
    pub node_timeout: Duration,
    /// Swarm heartbeat of new clusters: how soon a lost node is marked down.
    pub swarm_heartbeat: Duration,
    /// How often each cluster is reconciled.
    pub reconcile_every: Duration,
    /// How long a deploy waits for its tasks to run before it fails.
    pub app_deploy_timeout: Duration,
    /// How often each cluster's metrics, logs and events are collected (and alerts evaluated).
    pub collect_every: Duration,
    /// How often samples are rolled up and retention applied.
    pub maintain_every: Duration,
    /// How long raw samples are kept; charts over longer ranges read the one-minute rollups.
    pub metrics_raw_retention: Duration,
    /// How long the one-minute rollups are kept.
    pub metrics_retention: Duration,
    /// How long collected log lines are kept…
    pub logs_retention: Duration,
    /// …and how much log text at most (the oldest lines go first).
    pub logs_max_bytes: u64,
    /// How long timeline events are kept.
    pub events_retention: Duration,
    /// Refusals anyone can cause (cross-site, unknown tokens, malformed requests) are one history row
    /// per source and kind in this window, plus one row with the count of the rest.
    pub refusal_window: Duration,
    /// How long the answer to a REST request with an `Idempotency-Key` is kept for retries.
    pub idempotency_ttl: Duration,
    /// How often each cluster's route table is computed and brought to its routers.
    pub route_every: Duration,
    /// How often each cluster's routers are asked for their request counters (in the routing loop,
    /// so at most as often as `route_every`).
    pub traffic_every: Duration,
    /// How often each cluster's autoscaler looks for a new collection to judge (it judges each
    /// collection once).
    pub autoscale_every: Duration,
    /// How often each cluster's jobs loop follows its runs and starts what its schedules make due.
    pub jobs_every: Duration,
    /// The berth-router binary (static) the routers' image is built from; by default the one next
    /// to the running program.
    pub router_binary: Option<PathBuf>,
}

impl Config {
    /// Defaults for the local engine; the server overrides them from its settings.
    pub fn new(docker_host: Endpoint) -> Config {
        Config {
            docker_host,
            engine_timeout: Duration::from_secs(5),
            engine_overview_fresh: Duration::from_secs(1),
            bootstrap_ttl: Duration::from_secs(15 * 60),
            account_limit: Limit { max_failures: 5, window: Duration::from_secs(15 * 60) },
            address_limit: Limit { max_failures: 20, window: Duration::from_secs(15 * 60) },
            session_absolute: Duration::from_secs(24 * 3600),
            hash_concurrency: std::thread::available_parallelism().map(|n| n.get().div_ceil(2)).unwrap_or(1),
            data_dir: std::env::temp_dir().join("berth"),
            node_image: DEFAULT_NODE_IMAGE.into(),
            node_timeout: Duration::from_secs(4),
            swarm_heartbeat: Duration::from_secs(2),
            reconcile_every: Duration::from_secs(2),
            app_deploy_timeout: Duration::from_secs(180),
            collect_every: Duration::from_secs(10),
            maintain_every: Duration::from_secs(30),
            metrics_raw_retention: Duration::from_secs(6 * 3600),
            metrics_retention: Duration::from_secs(30 * 24 * 3600),
            logs_retention: Duration::from_secs(7 * 24 * 3600),
            logs_max_bytes: 1 << 30,
            events_retention: Duration::from_secs(30 * 24 * 3600),
            refusal_window: audit::refusals::WINDOW,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            route_every: Duration::from_millis(500),
            traffic_every: Duration::from_secs(5),
            autoscale_every: Duration::from_secs(1),
            jobs_every: elastic::jobs::JOBS_EVERY,
            router_binary: default_router_binary(),
        }
    }
}

/// Where the berth-router binary is when no setting says: next to the running program (an install),
/// else the workspace's static build of the same profile (`target/x86_64-unknown-linux-musl/…`,
/// which `scripts/run` and `scripts/test` make).
fn default_router_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let beside = dir.join("berth-router");
    let profile = dir.file_name()?;
    let musl = dir.parent()?.join("x86_64-unknown-linux-musl").join(profile).join("berth-router");
    [musl, beside].into_iter().find(|p| p.exists())
}

/// The domain facade. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct Berth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub struct Inner {
    store: Store,
    /// The local engine (the overview, and where `local` clusters run).
    engine: Engine,
    hasher: Hasher,
    config: Config,
    busy: Arc<Busy>,
    /// Jobs running in this process.
    jobs: Arc<runtime::job::InFlight>,
    /// Clients of node engines, by endpoint.
    engines: Mutex<HashMap<String, Arc<Engine>>>,
    reconcilers: Mutex<HashMap<i64, tokio::task::JoinHandle<()>>>,
    /// With replicas: the heartbeat and the adopting loop (see `reconcile::start_replica_loops`).
    replica_loops: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set on shutdown: background loops end and none starts again (see `stop_background`).
    stop: tokio::sync::watch::Sender<bool>,
    installation: tokio::sync::OnceCell<String>,
    pki: tokio::sync::OnceCell<Arc<clusters::pki::Pki>>,
    sealer: std::sync::OnceLock<Arc<secret::Sealer>>,
    observatory: observe::collector::Observatory,
    /// This process's name among replicas (see `lease`).
    instance: String,
    /// Counters of refusals not yet written (see `refusals`).
    refusals: audit::refusals::Refusals,
    /// What the apps' reconcile pass remembers (see `app_health`).
    app_watch: apps::health::AppWatch,
    /// Routing's loops and what its passes remember (see `routing::router`).
    routing: routing::router::RoutingState,
    /// The autoscalers' loops and what they remember (see `elastic::autoscaler`).
    elastic: elastic::autoscaler::State,
    /// The jobs loops and what they remember (see `elastic::jobs`).
    job_runs: elastic::jobs::State,
    /// Bounds how much CPU-heavy work on request input (parsing templates, diffs) runs at once, off
    /// the async runtime (see [`Berth::cpu`]).
    cpu: Arc<tokio::sync::Semaphore>,
}

impl std::ops::Deref for Berth {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Berth {
    pub fn new(store: Store, config: Config) -> Berth {
        let engine = Engine::new(config.docker_host.clone(), config.engine_timeout)
            .with_overview_cache(config.engine_overview_fresh);
        let hasher = Hasher::new(config.hash_concurrency);
        Berth {
            inner: Arc::new(Inner {
                store,
                engine,
                hasher,
                config,
                busy: Arc::default(),
                jobs: Arc::default(),
                engines: Mutex::default(),
                reconcilers: Mutex::default(),
                replica_loops: Mutex::default(),
                stop: tokio::sync::watch::Sender::new(false),
                installation: tokio::sync::OnceCell::new(),
                pki: tokio::sync::OnceCell::new(),
                sealer: std::sync::OnceLock::new(),
                observatory: Default::default(),
                instance: runtime::lease::instance_name(),
                refusals: Default::default(),
                app_watch: Default::default(),
                routing: Default::default(),
                elastic: Default::default(),
                job_runs: Default::default(),
                cpu: Arc::new(tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                )),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs CPU-heavy work on request input (a template to parse, a diff) on the blocking pool,
    /// at most one per core at once: a large or hostile template never stalls the async runtime
    /// that serves every other request, and many at once queue instead of taking every thread.
    pub(crate) async fn cpu<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal(error::Internal::Other("the CPU work queue is closed".into())))?;
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await?;
        Ok(done)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The sealer of secrets at rest; its key file is `secret.key` in the data directory.
    pub(crate) fn sealer(&self) -> Result<Arc<secret::Sealer>> {
        if let Some(sealer) = self.sealer.get() {
            return Ok(sealer.clone());
        }
        let sealer = Arc::new(secret::Sealer::open(&self.config.data_dir.join("secret.key"))?);
        Ok(self.sealer.get_or_init(|| sealer).clone())
    }

    /// The local engine's overview.
    #[tracing::instrument(skip_all)]
    pub async fn engine_overview(&self, actor: &Actor) -> Result<EngineOverview> {
        authz::authorize(actor, Permission::EngineRead)?;
        Ok(self.engine.overview().await?)
    }

    /// The parts of the product that clean up after interrupted jobs, in order (see
    /// [`runtime::job::Recovery`]): apps first, then clusters and nodes.
    pub(crate) fn recoveries(&self) -> &'static [&'static dyn runtime::job::Recovery] {
        RECOVERIES
    }

    /// What follows each cluster's reconciler (see [`clusters::reconcile::Follower`]): the
    /// collection of its metrics, logs and events, and its apps' health.
    pub(crate) fn followers(&self) -> &'static [&'static dyn clusters::reconcile::Follower] {
        FOLLOWERS
    }
}

/// Starting and stopping the background work of every part: they are wired together here, where
/// every part is in reach, so that no part has to call another's loops.
impl Berth {
    /// After a start: fails jobs a stop interrupted (recording them), finishes or undoes what they
    /// left half done, and starts the reconcile loops of the clusters that remain. On SQLite every
    /// running job was this database's one process's; with replicas (PostgreSQL) only jobs whose
    /// process is gone are touched, here and then every few seconds (see `start_replica_loops`).
    pub async fn recover(&self) -> Result<()> {
        let sole = self.store.backend() == store::Backend::Sqlite;
        if !sole {
            self.start_replica_loops().await;
        }
        self.start_refusal_flusher();
        self.recover_interrupted(sole).await?;
        for cluster in self.store.clusters().await? {
            if !matches!(cluster.status.as_str(), "creating" | "deleting") {
                self.start_reconciler(cluster.id);
            }
        }
        Ok(())
    }

    /// Writes the counts of closed windows every window (the loop ends with the other background
    /// loops; `stop_background` writes what is still open).
    pub(crate) fn start_refusal_flusher(&self) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.refusal_window, move || {
            let berth = berth.clone();
            async move { berth.flush_refusals(false).await }
        });
        self.replica_loops.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
    }

    /// Stops every background loop (on shutdown): reconcile passes end where they are, which is
    /// safe because each pass only writes what it observed. Other replicas take the work over.
    pub async fn stop_background(&self) {
        // Nothing starts a loop from now on, and the loops end after the tick they are in (waited
        // for up to 10 s, then aborted), so that none renews a lease after they are released.
        self.stop.send_replace(true);
        let mut loops: Vec<_> = self.replica_loops.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        loops.extend(self.reconcilers.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, h)| h));
        loops.extend(self.take_observers());
        loops.extend(self.take_routing_loops());
        loops.extend(self.take_autoscalers());
        loops.extend(self.take_job_loops());
        let aborts: Vec<_> = loops.iter().map(|h| h.abort_handle()).collect();
        if tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(loops)).await.is_err() {
            aborts.iter().for_each(|h| h.abort());
        }
        self.release_leases().await;
        self.flush_refusals(true).await;
    }
}

/// What recovers interrupted jobs, registered for the runtime (see [`Berth::recoveries`]).
const RECOVERIES: &[&dyn runtime::job::Recovery] = &[&apps::converge::AppRecovery, &clusters::cluster::ClusterRecovery];

/// What follows a cluster's reconciler, registered for the clusters part (see [`Berth::followers`]).
const FOLLOWERS: &[&dyn clusters::reconcile::Follower] = &[
    &observe::collector::Collection,
    &apps::health::Health,
    &routing::RoutingLoop,
    &elastic::autoscaler::Autoscaling,
    &elastic::jobs::Jobs,
];
