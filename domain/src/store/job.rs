//! Jobs table: long-running operations and their progress.

use super::Store;
use crate::error::Result;
use crate::job::{Job, Step};

const COLUMNS: &str = "id, kind, cluster_id, target, status, steps, error, actor_name, started_at, finished_at";

impl Store {
    pub async fn job_insert(
        &self,
        kind: &str,
        cluster_id: Option<i64>,
        target: &str,
        steps: &[Step],
        actor_name: &str,
        now: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO jobs (kind, cluster_id, target, status, steps, actor_name, started_at) \
             VALUES ($1, $2, $3, 'running', $4, $5, $6) RETURNING id",
        )
        .bind(kind)
        .bind(cluster_id)
        .bind(target)
        .bind(serde_json::to_string(steps)?)
        .bind(actor_name)
        .bind(now)
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

    pub async fn job_finish(&self, id: i64, status: &str, error: &str, steps: &[Step], now: i64) -> Result<()> {
        sqlx::query("UPDATE jobs SET status = $2, error = $3, steps = $4, finished_at = $5 WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(error)
            .bind(serde_json::to_string(steps)?)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
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
