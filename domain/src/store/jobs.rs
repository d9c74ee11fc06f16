//! Job runs (`elastic/jobs.rs` starts and follows them): one row per run of a job service, with
//! its tasks' states and exit codes as JSON. A scheduled run is unique per service and cron time,
//! so of several replicas only the one whose insert lands starts it.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

/// A run of a job service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JobRunRow {
    pub id: i64,
    pub app_id: i64,
    pub service: String,
    /// The swarm service its tasks belong to (see the migration).
    pub swarm_service: String,
    /// `schedule`, `manual` or `deploy`.
    pub trigger: String,
    pub actor: String,
    pub scheduled_at: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `running`, `succeeded`, `failed`, `replaced`, `skipped` or `missed`.
    pub state: String,
    pub iteration: Option<i64>,
    pub completions: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
    pub message: String,
    /// `Vec<elastic::jobs::RunTask>` as JSON.
    pub tasks: String,
}

/// An open run with its cluster and app name, for the cluster's job loop.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct OpenRunRow {
    pub cluster_id: i64,
    pub app_name: String,
    #[sqlx(flatten)]
    pub run: JobRunRow,
}

const COLUMNS: &str =
    "r.id, r.app_id, r.service, r.swarm_service, r.trigger, r.actor, r.scheduled_at, r.started_at, r.ended_at, \
                       r.state, r.iteration, r.completions, r.succeeded_tasks, r.failed_tasks, r.message, r.tasks";

/// Runs kept per service; older ones are deleted as new ones come.
pub const RUNS_KEPT: i64 = 100;

impl Store {
    /// Records a run; `None` when it is a scheduled run already recorded for that time (another
    /// replica, or an earlier pass, has it).
    pub async fn job_run_insert(&self, r: &JobRunRow) -> Result<Option<i64>> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO job_runs (app_id, service, swarm_service, trigger, actor, scheduled_at, started_at, ended_at, state, \
             iteration, completions, succeeded_tasks, failed_tasks, message, tasks) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(r.app_id)
        .bind(&r.service)
        .bind(&r.swarm_service)
        .bind(&r.trigger)
        .bind(&r.actor)
        .bind(r.scheduled_at)
        .bind(r.started_at)
        .bind(r.ended_at)
        .bind(&r.state)
        .bind(r.iteration)
        .bind(r.completions)
        .bind(r.succeeded_tasks)
        .bind(r.failed_tasks)
        .bind(&r.message)
        .bind(&r.tasks)
        .fetch_optional(&self.pool)
        .await?;
        if id.is_some() {
            sqlx::query(
                "DELETE FROM job_runs WHERE app_id = $1 AND service = $2 AND state <> 'running' AND id <= \
                 (SELECT id FROM job_runs WHERE app_id = $1 AND service = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)",
            )
            .bind(r.app_id)
            .bind(&r.service)
            .bind(RUNS_KEPT)
            .execute(&self.pool)
            .await?;
        }
        Ok(id)
    }

    /// Writes what a run's tasks did; its state changes only while it is `running` (false when it
    /// had ended already).
    pub async fn job_run_update(&self, r: &JobRunRow) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE job_runs SET state = $1, ended_at = $2, iteration = $3, succeeded_tasks = $4, failed_tasks = $5, \
             message = $6, tasks = $7, swarm_service = $8 WHERE id = $9 AND state = 'running'",
        )
        .bind(&r.state)
        .bind(r.ended_at)
        .bind(r.iteration)
        .bind(r.succeeded_tasks)
        .bind(r.failed_tasks)
        .bind(&r.message)
        .bind(&r.tasks)
        .bind(&r.swarm_service)
        .bind(r.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn job_run(&self, id: i64) -> Result<Option<JobRunRow>> {
        let sql = format!("SELECT {COLUMNS} FROM job_runs r WHERE r.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A service's newest runs, newest first.
    pub async fn job_runs(&self, app_id: i64, service: &str, limit: i64) -> Result<Vec<JobRunRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM job_runs r WHERE r.app_id = $1 AND r.service = $2 ORDER BY r.id DESC LIMIT $3"
        );
        Ok(sqlx::query_as(&sql).bind(app_id).bind(service).bind(limit).fetch_all(&self.pool).await?)
    }

    /// The newest scheduled time a service has a run (or a skipped or missed one) for.
    pub async fn job_last_scheduled(&self, app_id: i64, service: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(scheduled_at) FROM job_runs WHERE app_id = $1 AND service = $2")
            .bind(app_id)
            .bind(service)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The runs still going on a cluster's apps.
    pub async fn job_runs_open(&self, cluster_id: i64) -> Result<Vec<OpenRunRow>> {
        let sql = format!(
            "SELECT a.cluster_id, a.name AS app_name, {COLUMNS} FROM job_runs r JOIN apps a ON a.id = r.app_id \
             WHERE r.state = 'running' AND a.cluster_id = $1 ORDER BY r.id"
        );
        Ok(sqlx::query_as(&sql).bind(cluster_id).fetch_all(&self.pool).await?)
    }

    /// Deletes ended runs that ended before `before`.
    pub async fn job_runs_expire(&self, before: i64) -> Result<()> {
        sqlx::query("DELETE FROM job_runs WHERE state <> 'running' AND started_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
