//! Jobs table: long-running operations and their progress.

use super::Store;
use crate::error::Result;
use crate::job::{Job, Step};

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
