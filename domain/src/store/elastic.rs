//! Autoscaling's tables (`elastic/` works with them): a policy per service with its schedule
//! windows and pause, the evaluations (one row per policy per evaluation: the chart of replicas
//! over the metric, and the stabilisation window after a restart or a change of lease holder), and
//! the decisions people read.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

const ROWS_PER_INSERT: usize = 500;

/// A service's policy as stored; `policy` and `schedules` are JSON (`compose::scaling::Policy`,
/// `Vec<elastic::schedule::Window>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PolicyRow {
    pub app_id: i64,
    pub service: String,
    pub source: String,
    pub policy: String,
    pub schedules: String,
    pub paused_at: Option<i64>,
    pub paused_by: String,
    pub updated_by: String,
    pub updated_at: i64,
}

/// A policy with the cluster and the name of its app, for the cluster's autoscaler.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct ClusterPolicyRow {
    pub cluster_id: i64,
    pub app_name: String,
    #[sqlx(flatten)]
    pub row: PolicyRow,
}

/// One evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ScalingPoint {
    pub ts: i64,
    pub replicas: i64,
    pub recommended: i64,
    pub value: Option<f64>,
}

/// An evaluation of one service, to insert.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPoint {
    pub app_id: i64,
    pub service: String,
    pub point: ScalingPoint,
}

/// A decision: scaled (from ≠ to) or why not, kept when its kind changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub app_id: i64,
    pub service: String,
    pub ts: i64,
    pub from_replicas: i64,
    pub to_replicas: i64,
    pub value: Option<f64>,
    pub kind: String,
    pub reason: String,
}

const POLICY_COLUMNS: &str =
    "p.app_id, p.service, p.source, p.policy, p.schedules, p.paused_at, p.paused_by, p.updated_by, p.updated_at";

impl Store {
    /// The policies of an app's services.
    pub async fn scaling_policies(&self, app_id: i64) -> Result<Vec<PolicyRow>> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM scaling_policies p WHERE p.app_id = $1 ORDER BY p.service");
        Ok(sqlx::query_as(&sql).bind(app_id).fetch_all(&self.pool).await?)
    }

    /// The policies of every app of a cluster.
    pub async fn scaling_policies_of_cluster(&self, cluster_id: i64) -> Result<Vec<ClusterPolicyRow>> {
        let sql = format!(
            "SELECT a.cluster_id, a.name AS app_name, {POLICY_COLUMNS} FROM scaling_policies p \
             JOIN apps a ON a.id = p.app_id WHERE a.cluster_id = $1 ORDER BY a.name, p.service"
        );
        Ok(sqlx::query_as(&sql).bind(cluster_id).fetch_all(&self.pool).await?)
    }

    /// Sets a service's policy (a new one starts unpaused; an existing one keeps its pause, and its
    /// schedule windows when the new one comes from labels, which state none).
    pub async fn scaling_policy_put(&self, r: &PolicyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO scaling_policies (app_id, service, source, policy, schedules, paused_at, paused_by, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, '', $6, $7) \
             ON CONFLICT (app_id, service) DO UPDATE SET source = excluded.source, policy = excluded.policy, \
             schedules = CASE WHEN excluded.source = 'labels' THEN scaling_policies.schedules ELSE excluded.schedules END, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(r.app_id)
        .bind(&r.service)
        .bind(&r.source)
        .bind(&r.policy)
        .bind(&r.schedules)
        .bind(&r.updated_by)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a service's policy; false when it had none.
    pub async fn scaling_policy_delete(&self, app_id: i64, service: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM scaling_policies WHERE app_id = $1 AND service = $2")
            .bind(app_id)
            .bind(service)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Pauses (`Some(by)`) or resumes (`None`) a policy; false when the service has none.
    pub async fn scaling_policy_pause(&self, app_id: i64, service: &str, paused: Option<(&str, i64)>) -> Result<bool> {
        let (at, by) = match paused {
            Some((by, at)) => (Some(at), by),
            None => (None, ""),
        };
        let done = sqlx::query(
            "UPDATE scaling_policies SET paused_at = $1, paused_by = $2 WHERE app_id = $3 AND service = $4",
        )
        .bind(at)
        .bind(by)
        .bind(app_id)
        .bind(service)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Writes evaluations, all in one transaction.
    pub async fn scaling_points_insert(&self, points: &[NewPoint]) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for chunk in points.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO scaling_points (app_id, service, ts, replicas, recommended, value) VALUES {}",
                self.values(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for p in chunk {
                query = query
                    .bind(p.app_id)
                    .bind(&p.service)
                    .bind(p.point.ts)
                    .bind(p.point.replicas)
                    .bind(p.point.recommended)
                    .bind(p.point.value);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A service's evaluations since `from`, oldest first.
    pub async fn scaling_points(&self, app_id: i64, service: &str, from: i64) -> Result<Vec<ScalingPoint>> {
        Ok(sqlx::query_as(
            "SELECT ts, replicas, recommended, value FROM scaling_points \
             WHERE app_id = $1 AND service = $2 AND ts >= $3 ORDER BY ts",
        )
        .bind(app_id)
        .bind(service)
        .bind(from)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn scaling_decision_insert(&self, d: &DecisionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO scaling_decisions (app_id, service, ts, from_replicas, to_replicas, value, kind, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(d.app_id)
        .bind(&d.service)
        .bind(d.ts)
        .bind(d.from_replicas)
        .bind(d.to_replicas)
        .bind(d.value)
        .bind(&d.kind)
        .bind(&d.reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A service's newest decisions, newest first.
    pub async fn scaling_decisions(&self, app_id: i64, service: &str, limit: i64) -> Result<Vec<DecisionRow>> {
        Ok(sqlx::query_as(
            "SELECT id, app_id, service, ts, from_replicas, to_replicas, value, kind, reason FROM scaling_decisions \
             WHERE app_id = $1 AND service = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(app_id)
        .bind(service)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes evaluations older than `points_before` and decisions older than `decisions_before`.
    pub async fn scaling_expire(&self, points_before: i64, decisions_before: i64) -> Result<()> {
        sqlx::query("DELETE FROM scaling_points WHERE ts < $1").bind(points_before).execute(&self.pool).await?;
        sqlx::query("DELETE FROM scaling_decisions WHERE ts < $1").bind(decisions_before).execute(&self.pool).await?;
        Ok(())
    }
}
