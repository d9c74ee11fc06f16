//! The tables of `runtime/`: jobs and their progress, leases on background work shared by the
//! replicas of one database (and the claims of jobs), idempotency keys of REST mutations.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

/// One step of a job, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// What is happening (or went wrong) within the step.
    pub detail: String,
}

/// A job as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub cluster_id: Option<i64>,
    pub target: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    steps: String,
    pub error: String,
    pub actor_name: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

impl Job {
    pub fn steps(&self) -> Vec<Step> {
        serde_json::from_str(&self.steps).unwrap_or_default()
    }

    /// Percent of steps finished (100 once the job succeeded).
    pub fn progress(&self) -> u8 {
        if self.status == "succeeded" {
            return 100;
        }
        let steps = self.steps();
        let done = steps.iter().filter(|s| s.state == "done").count();
        (done * 100).checked_div(steps.len()).unwrap_or(0) as u8
    }
}

const COLUMNS: &str = "id, kind, cluster_id, target, status, steps, error, actor_name, started_at, finished_at";

/// A job about to start.
#[derive(Clone, Copy, Debug)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub cluster_id: Option<i64>,
    pub target: &'a str,
    pub steps: &'a [Step],
    pub actor_name: &'a str,
    /// The process that runs it (`Berth::instance`).
    pub runner: &'a str,
    pub started_at: i64,
}

impl Store {
    pub async fn job_insert(&self, job: &NewJob<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO jobs (kind, cluster_id, target, status, steps, actor_name, started_at, runner) \
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7) RETURNING id",
        )
        .bind(job.kind)
        .bind(job.cluster_id)
        .bind(job.target)
        .bind(serde_json::to_string(job.steps)?)
        .bind(job.actor_name)
        .bind(job.started_at)
        .bind(job.runner)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn job_set_steps(&self, id: i64, steps: &[Step]) -> Result<()> {
        sqlx::query("UPDATE jobs SET steps = $2 WHERE id = $1")
            .bind(id)
            .bind(serde_json::to_string(steps)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a running job; false when it had already ended (recovered by another replica).
    pub async fn job_finish(&self, id: i64, status: &str, error: &str, steps: &[Step], now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = $2, error = $3, steps = $4, finished_at = $5 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(status)
        .bind(error)
        .bind(serde_json::to_string(steps)?)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The newest jobs, of one cluster or of all.
    pub async fn jobs(&self, cluster_id: Option<i64>, limit: i64) -> Result<Vec<Job>> {
        let query = match cluster_id {
            Some(_) => format!("SELECT {COLUMNS} FROM jobs WHERE cluster_id = $1 ORDER BY id DESC LIMIT $2"),
            None => format!("SELECT {COLUMNS} FROM jobs WHERE $1 = $1 ORDER BY id DESC LIMIT $2"),
        };
        Ok(sqlx::query_as(&query).bind(cluster_id.unwrap_or(0)).bind(limit).fetch_all(&self.pool).await?)
    }

    pub async fn jobs_running(&self) -> Result<Vec<Job>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE status = 'running' ORDER BY id"))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Running jobs whose process holds no live `instance:<runner>` lease at `now`.
    pub async fn jobs_orphaned(&self, now: i64) -> Result<Vec<Job>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = 'running' AND NOT EXISTS \
             (SELECT 1 FROM leases WHERE leases.name = 'instance:' || jobs.runner AND leases.expires_at > $1) \
             ORDER BY id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}

// ----- Leases on background work shared by the replicas of one database -----

/// The lease of a cluster's background loops (deleted with the cluster).
pub(crate) fn cluster_lease(id: i64) -> String {
    format!("cluster:{id}")
}

impl Store {
    /// Takes or renews the lease `name` for `holder` until `expires_at` (ms): granted when nobody
    /// holds it, `holder` already does, or the last holder let it lapse (`expires_at <= now`).
    pub async fn lease_hold(&self, name: &str, holder: &str, now: i64, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the claim `name` (a cluster or app a job works on) for `holder` unless a live process
    /// holds it: claims do not lapse by time but with their holder's `instance:` lease. `token`
    /// (kept in `expires_at`, unused by claims) tells this claim from an earlier one of the holder.
    pub async fn claim_take(&self, name: &str, holder: &str, token: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR NOT EXISTS (SELECT 1 FROM leases alive \
             WHERE alive.name = 'instance:' || leases.holder AND alive.expires_at > $4)",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up a claim, if it is still the one `holder` took with `token`.
    pub async fn claim_drop(&self, name: &str, holder: &str, token: i64) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2 AND expires_at = $3")
            .bind(name)
            .bind(holder)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up the leases `holder` holds whose names start with `prefix` ('' for all), so that
    /// another replica takes the work over at once.
    pub async fn lease_release(&self, prefix: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE holder = $1 AND substr(name, 1, CAST($2 AS INTEGER)) = $3")
            .bind(holder)
            .bind(prefix.len() as i64)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds the lease `name` and until when.
    pub async fn lease(&self, name: &str) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }
}

// ----- Idempotency keys of REST mutations: the first answer to a key, kept for a day -----

/// What the table says about a key when a request arrives with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// This request is the first with the key (or the key had expired, or its first request's
    /// process is gone): it runs, and its answer is kept.
    Claimed,
    /// The first request with the key answered this.
    Answered { status: i64, response: String },
    /// The first request with the key is still running.
    Running,
    /// The key was used for another request (method, path or body).
    Mismatch,
}

impl Store {
    /// Claims `key` for a request with `fingerprint`, run by this process (`runner`). A row older
    /// than `expired_before` is taken over; so is a running one whose process is gone (on SQLite any
    /// other process is gone: one process per file; with replicas, one whose `instance:` lease has
    /// lapsed), provided it is the same request.
    pub async fn idempotency_claim(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &str,
        runner: &str,
        now: i64,
        expired_before: i64,
    ) -> Result<KeyState> {
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (principal, key, fingerprint, runner, status, response, created_at) \
             VALUES ($1, $2, $3, $4, NULL, NULL, $5) \
             ON CONFLICT (principal, key) DO UPDATE SET fingerprint = excluded.fingerprint, runner = excluded.runner, \
             status = NULL, response = NULL, created_at = excluded.created_at \
             WHERE idempotency_keys.created_at <= $6 \
             OR (idempotency_keys.status IS NULL AND idempotency_keys.fingerprint = excluded.fingerprint \
                 AND idempotency_keys.runner <> excluded.runner AND NOT EXISTS (SELECT 1 FROM leases alive \
                 WHERE alive.name = 'instance:' || idempotency_keys.runner AND alive.expires_at > $5))",
        )
        .bind(principal)
        .bind(key)
        .bind(fingerprint)
        .bind(runner)
        .bind(now)
        .bind(expired_before)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 1 {
            return Ok(KeyState::Claimed);
        }
        let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT fingerprint, status, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
        )
        .bind(principal)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            // Removed in between (the first request failed): the next retry claims it.
            None => KeyState::Running,
            Some((fp, _, _)) if fp != fingerprint => KeyState::Mismatch,
            Some((_, Some(status), response)) => KeyState::Answered { status, response: response.unwrap_or_default() },
            Some((_, None, _)) => KeyState::Running,
        })
    }

    /// Keeps the answer of the request that claimed `key`.
    pub async fn idempotency_answer(
        &self,
        principal: &str,
        key: &str,
        runner: &str,
        status: i64,
        response: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $4, response = $5 \
             WHERE principal = $1 AND key = $2 AND runner = $3 AND status IS NULL",
        )
        .bind(principal)
        .bind(key)
        .bind(runner)
        .bind(status)
        .bind(response)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a claimed key up (the request failed in a way a retry should not be answered with).
    pub async fn idempotency_release(&self, principal: &str, key: &str, runner: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND runner = $3 AND status IS NULL",
        )
        .bind(principal)
        .bind(key)
        .bind(runner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes keys created before `before`; the number removed.
    pub async fn idempotency_expire(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
