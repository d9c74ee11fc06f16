//! Operations table: the append-only history of mutation attempts.

use super::Store;
use crate::error::Result;
use crate::operation::{NewOperation, Operation};

/// Which column a failure count is keyed on: the attempted account, or the client address.
#[derive(Clone, Copy, Debug)]
pub enum FailureKey {
    Target,
    Source,
}

impl Store {
    pub async fn operation_insert(&self, op: &NewOperation) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO operations (started_at, duration_ms, actor_id, actor_name, source, action, target, \
             params, outcome, error_code, error_message, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(op.started_at)
        .bind(op.duration_ms)
        .bind(op.actor_id)
        .bind(&op.actor_name)
        .bind(&op.source)
        .bind(&op.action)
        .bind(&op.target)
        .bind(op.params.to_string())
        .bind(op.outcome.as_str())
        .bind(op.error_code.as_deref())
        .bind(op.error_message.as_deref())
        .bind(&op.request_id)
        .fetch_one(&self.pool)
        .await?)
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
        Ok(sqlx::query_as(
            "SELECT id, started_at, duration_ms, actor_id, actor_name, source, action, target, params, outcome, \
             error_code, error_message, request_id FROM operations ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
