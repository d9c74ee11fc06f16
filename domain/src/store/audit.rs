//! The table of `audit/`: the append-only history of mutation attempts, each row linked to the
//! one before it by a hash (the link is computed here, where a row is appended under the chain's
//! lock; `audit/history.rs` recomputes it to verify the chain).

use serde_json::Value;
use sqlx::Row;

use super::{Args, Backend, Store};
use crate::error::{Error, Result};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The operation ran and failed (bad input, engine error, wrong password).
    Failure,
    /// Authorization refused it.
    Denied,
    /// Refused before running because of too many recent failures.
    Throttled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Throttled => "throttled",
        }
    }

    /// The outcome a failed operation's error stands for.
    pub fn of_error(error: &Error) -> Outcome {
        match error {
            Error::Unauthenticated | Error::Forbidden(_) => Outcome::Denied,
            Error::Throttled { .. } => Outcome::Throttled,
            _ => Outcome::Failure,
        }
    }
}

/// A row about to be written.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub started_at: i64,
    pub duration_ms: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub source: String,
    /// How the attempt arrived: `console`, `api` (a token), `system` (Berth itself) or `anonymous`.
    pub channel: String,
    pub action: String,
    pub target: String,
    /// Parameters with secrets already removed (see [`redact`]).
    pub params: Value,
    pub outcome: Outcome,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request_id: String,
    /// The cluster the operation is about, which decides who may read the row.
    pub cluster_id: Option<i64>,
}

impl NewOperation {
    /// The fields the chain hashes, with the parameters as they will be stored.
    pub(crate) fn fields(&self, params: &str) -> String {
        canonical(&Fields {
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            actor_id: self.actor_id,
            actor_name: &self.actor_name,
            source: &self.source,
            channel: &self.channel,
            action: &self.action,
            target: &self.target,
            params,
            outcome: self.outcome.as_str(),
            error_code: self.error_code.as_deref(),
            error_message: self.error_message.as_deref(),
            request_id: &self.request_id,
            cluster_id: self.cluster_id,
        })
    }
}

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row's fields in the order the chain hashes them.
struct Fields<'a> {
    started_at: i64,
    duration_ms: i64,
    actor_id: Option<i64>,
    actor_name: &'a str,
    source: &'a str,
    channel: &'a str,
    action: &'a str,
    target: &'a str,
    params: &'a str,
    outcome: &'a str,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    request_id: &'a str,
    cluster_id: Option<i64>,
}

/// A JSON array of the fields: unambiguous (strings are quoted and escaped) and stable.
fn canonical(f: &Fields) -> String {
    serde_json::json!([
        f.started_at,
        f.duration_ms,
        f.actor_id,
        f.actor_name,
        f.source,
        f.channel,
        f.action,
        f.target,
        f.params,
        f.outcome,
        f.error_code,
        f.error_message,
        f.request_id,
        f.cluster_id
    ])
    .to_string()
}

/// A row's link: SHA-256 over the previous row's hash and this row's fields, hex.
pub(crate) fn chain_hash(prev: &str, fields: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(fields.as_bytes());
    hex::encode(hasher.finalize())
}

/// A row of the history as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Operation {
    pub id: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub source: String,
    pub channel: String,
    pub action: String,
    pub target: String,
    pub params: String,
    pub outcome: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request_id: String,
    pub cluster_id: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl Operation {
    /// The fields the chain hashes, as stored.
    pub(crate) fn fields(&self) -> String {
        canonical(&Fields {
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            actor_id: self.actor_id,
            actor_name: &self.actor_name,
            source: &self.source,
            channel: &self.channel,
            action: &self.action,
            target: &self.target,
            params: &self.params,
            outcome: &self.outcome,
            error_code: self.error_code.as_deref(),
            error_message: self.error_message.as_deref(),
            request_id: &self.request_id,
            cluster_id: self.cluster_id,
        })
    }
}

/// Which column a failure count is keyed on: the attempted account, or the client address.
#[derive(Clone, Copy, Debug)]
pub enum FailureKey {
    Target,
    Source,
}

/// What the history page asks for. Empty strings and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperationFilter {
    /// Words that must all appear in the action, target, parameters, actor or error (any case).
    pub q: String,
    pub actor: String,
    /// An action or an action prefix ending in `.` (`app.` for every app operation).
    pub action: String,
    pub outcome: String,
    pub cluster: Option<i64>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Rows older than this id (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "id, started_at, duration_ms, actor_id, actor_name, source, channel, action, target, params, \
                       outcome, error_code, error_message, request_id, cluster_id, prev_hash, hash";

impl Store {
    /// Appends one row to the chain: its hash covers its fields and the hash of the row before it.
    pub async fn operation_insert(&self, op: &NewOperation) -> Result<i64> {
        let _appending = self.chain.lock().await;
        // SQLite: `write` takes the write lock first. PostgreSQL: other replicas append too, so the
        // table is locked for one append at a time, each after the last committed row.
        let mut tx = self.write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE operations IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        let prev: Option<String> =
            sqlx::query_scalar("SELECT hash FROM operations WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let prev = prev.unwrap_or_else(|| GENESIS.to_string());
        let params = op.params.to_string();
        let hash = chain_hash(&prev, &op.fields(&params));
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO operations (started_at, duration_ms, actor_id, actor_name, source, channel, action, \
             target, params, outcome, error_code, error_message, request_id, cluster_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        )
        .bind(op.started_at)
        .bind(op.duration_ms)
        .bind(op.actor_id)
        .bind(&op.actor_name)
        .bind(&op.source)
        .bind(&op.channel)
        .bind(&op.action)
        .bind(&op.target)
        .bind(&params)
        .bind(op.outcome.as_str())
        .bind(op.error_code.as_deref())
        .bind(op.error_message.as_deref())
        .bind(&op.request_id)
        .bind(op.cluster_id)
        .bind(&prev)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Chains rows written before the history was chained (at start, before anything is appended).
    pub(super) async fn operations_chain_unhashed(&self) -> Result<()> {
        let _appending = self.chain.lock().await;
        let rows = self.operations_page("WHERE hash IS NULL", None, i64::MAX).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut prev: String = sqlx::query_scalar(
            "SELECT hash FROM operations WHERE hash IS NOT NULL AND id < $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(rows[0].id)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or_else(|| GENESIS.to_string());
        let mut tx = self.write().await?;
        for row in rows {
            let hash = chain_hash(&prev, &row.fields());
            sqlx::query("UPDATE operations SET prev_hash = $1, hash = $2 WHERE id = $3 AND hash IS NULL")
                .bind(&prev)
                .bind(&hash)
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
            prev = hash;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows in id order after `after` (`None`: from the start), at most `limit`: for verification.
    pub async fn operations_after(&self, after: i64, limit: i64) -> Result<Vec<Operation>> {
        self.operations_page("WHERE id > $1", Some(after), limit).await
    }

    async fn operations_page(&self, filter: &str, after: Option<i64>, limit: i64) -> Result<Vec<Operation>> {
        let sql = format!("SELECT {COLUMNS} FROM operations {filter} ORDER BY id LIMIT {limit}");
        let mut query = sqlx::query_as(&sql);
        if let Some(after) = after {
            query = query.bind(after);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Start times (newest first, at most `limit`) of `action` attempts that ended in `outcome` since
    /// `since`, for one account or one address.
    pub async fn operation_times(
        &self,
        action: &str,
        outcome: &str,
        key: FailureKey,
        value: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let column = match key {
            FailureKey::Target => "target",
            FailureKey::Source => "source",
        };
        Ok(sqlx::query_scalar(&format!(
            "SELECT started_at FROM operations \
             WHERE action = $1 AND outcome = $2 AND {column} = $3 AND started_at > $4 \
             ORDER BY started_at DESC LIMIT $5"
        ))
        .bind(action)
        .bind(outcome)
        .bind(value)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest operations first.
    pub async fn operations_recent(&self, limit: i64) -> Result<Vec<Operation>> {
        self.operations(&OperationFilter { limit, ..Default::default() }, None).await
    }

    /// The newest operations matching `filter`, first. `scope` narrows to rows about these clusters
    /// or done by this user (`None`: every row).
    pub async fn operations(&self, f: &OperationFilter, scope: Option<(&[i64], i64)>) -> Result<Vec<Operation>> {
        let mut args = Args::default();
        let mut clauses: Vec<String> = Vec::new();
        for word in f.q.split_whitespace().take(8) {
            let n = args.text(format!("%{}%", word.to_lowercase().replace(['%', '_'], "")));
            clauses.push(format!(
                "(LOWER(action) LIKE {n} OR LOWER(target) LIKE {n} OR LOWER(params) LIKE {n} \
                 OR LOWER(actor_name) LIKE {n} OR LOWER(COALESCE(error_message, '')) LIKE {n})"
            ));
        }
        if !f.actor.is_empty() {
            clauses.push(format!("actor_name = {}", args.text(&f.actor)));
        }
        if let Some(prefix) = f.action.strip_suffix('.') {
            clauses.push(format!("action LIKE {}", args.text(format!("{}.%", prefix.replace(['%', '_'], "")))));
        } else if !f.action.is_empty() {
            clauses.push(format!("action = {}", args.text(&f.action)));
        }
        if !f.outcome.is_empty() {
            clauses.push(format!("outcome = {}", args.text(&f.outcome)));
        }
        for (clause, value) in
            [("cluster_id =", f.cluster), ("started_at >=", f.since), ("started_at <", f.until), ("id <", f.before)]
        {
            if let Some(v) = value {
                clauses.push(format!("{clause} {}", args.int(v)));
            }
        }
        if let Some((clusters, user)) = scope {
            let me = format!("actor_id = {}", args.int(user));
            // Cluster ids are integers from the store, safe to inline.
            let list: Vec<String> = clusters.iter().map(i64::to_string).collect();
            clauses.push(if list.is_empty() {
                format!("({me})")
            } else {
                format!("(cluster_id IN ({}) OR {me})", list.join(", "))
            });
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql =
            format!("SELECT {COLUMNS} FROM operations {filter} ORDER BY id DESC LIMIT {}", f.limit.clamp(1, 100_000));
        let query = args.bind(sqlx::query_as(&sql));
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Distinct actor names and actions, for the history page's filter menus.
    pub async fn operation_facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let actors = sqlx::query("SELECT DISTINCT actor_name FROM operations ORDER BY actor_name LIMIT 500")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        let actions = sqlx::query_scalar("SELECT DISTINCT action FROM operations ORDER BY action LIMIT 500")
            .fetch_all(&self.pool)
            .await?;
        Ok((actors, actions))
    }
}
