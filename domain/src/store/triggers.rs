//! The tables of `apps/triggers.rs`: an app's triggers (secrets still sealed), each call with its
//! outcome, and the webhook ids seen in the last minutes.
//!
//! A call is decided in one write transaction that first writes the trigger's row (`last_call_at`),
//! so calls of one trigger take turns on both databases (SQLite's write lock, PostgreSQL's row
//! lock): the rate limit counts what the calls before it recorded, also on other replicas, and two
//! calls with one webhook id cannot both pass.

use super::Store;
use crate::error::Result;

/// A trigger as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TriggerRow {
    pub id: i64,
    pub app_id: i64,
    pub public_id: String,
    pub name: String,
    pub action: String,
    /// JSON.
    pub params: String,
    pub auth: String,
    /// Sealed.
    pub secret: String,
    /// Sealed, or empty.
    pub previous_secret: String,
    pub previous_until: i64,
    pub created_by: String,
    pub created_at: i64,
    pub rotated_at: i64,
    pub revoked_at: Option<i64>,
}

/// A trigger to add.
#[derive(Clone, Debug)]
pub struct NewTrigger<'a> {
    pub app_id: i64,
    pub public_id: &'a str,
    pub name: &'a str,
    pub action: &'a str,
    pub params: &'a str,
    pub auth: &'a str,
    pub secret: &'a str,
    pub created_by: &'a str,
    pub created_at: i64,
}

/// One call of a trigger.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TriggerCall {
    pub id: i64,
    pub trigger_id: i64,
    pub at: i64,
    /// `accepted`, `unauthorized`, `replayed`, `throttled` or `failed`.
    pub outcome: String,
    pub status: i64,
    pub job_id: Option<i64>,
    pub source: String,
    pub message: String,
}

/// What the store decided for a call (see [`Store::trigger_call_admit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admitted {
    /// Over the limit: refused, the caller may retry after this many seconds.
    Throttled(u64),
    /// Its webhook id was seen already (recorded as call `.0`).
    Replayed(i64),
    /// Recorded as call `.0` with the outcome it came with.
    Recorded(i64),
}

/// Calls kept per trigger (older ones go as new ones come).
pub const CALLS_KEPT: i64 = 100;

const COLUMNS: &str = "id, app_id, public_id, name, action, params, auth, secret, previous_secret, previous_until, \
    created_by, created_at, rotated_at, revoked_at";
const CALL_COLUMNS: &str = "id, trigger_id, at, outcome, status, job_id, source, message";

impl Store {
    /// Adds a trigger; `None` when the app has a live trigger of that name.
    pub async fn trigger_insert(&self, t: &NewTrigger<'_>) -> Result<Option<i64>> {
        let mut tx = self.write().await?;
        let taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM triggers WHERE app_id = $1 AND name = $2 AND revoked_at IS NULL")
                .bind(t.app_id)
                .bind(t.name)
                .fetch_one(&mut *tx)
                .await?;
        if taken > 0 {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO triggers (app_id, public_id, name, action, params, auth, secret, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(t.app_id)
        .bind(t.public_id)
        .bind(t.name)
        .bind(t.action)
        .bind(t.params)
        .bind(t.auth)
        .bind(t.secret)
        .bind(t.created_by)
        .bind(t.created_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// An app's live triggers, by name.
    pub async fn triggers(&self, app_id: i64) -> Result<Vec<TriggerRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM triggers WHERE app_id = $1 AND revoked_at IS NULL ORDER BY name"
        ))
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One live trigger of an app.
    pub async fn trigger(&self, app_id: i64, id: i64) -> Result<Option<TriggerRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM triggers WHERE app_id = $1 AND id = $2 AND revoked_at IS NULL"
        ))
        .bind(app_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The live trigger a public id names.
    pub async fn trigger_by_public_id(&self, public_id: &str) -> Result<Option<TriggerRow>> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM triggers WHERE public_id = $1 AND revoked_at IS NULL"))
            .bind(public_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A new secret; the one it replaces stays valid until `previous_until`. False when the trigger
    /// is gone or revoked.
    pub async fn trigger_rotate(&self, id: i64, secret: &str, previous_until: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE triggers SET previous_secret = secret, previous_until = $3, secret = $2, rotated_at = $4 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(secret)
        .bind(previous_until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes a trigger (its calls stay readable until the app goes). False when it was not live.
    pub async fn trigger_revoke(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE triggers SET revoked_at = $2, secret = '', previous_secret = '' WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest calls of a trigger, newest first.
    pub async fn trigger_calls(&self, trigger_id: i64, limit: i64) -> Result<Vec<TriggerCall>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CALL_COLUMNS} FROM trigger_calls WHERE trigger_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(trigger_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a call, deciding in the same transaction whether it is over the limit or a replay.
    ///
    /// `throttle` gets the times (newest first) of the calls since `since` that count (every outcome
    /// but `throttled`) and answers how long to wait, if the call is over the limit; a throttled
    /// call is written only when the trigger's newest call is not throttled too, so a flood writes
    /// one row, not one per request. A call recorded `accepted` with a `webhook_id` seen before
    /// becomes `replayed` (409). Webhook ids older than `seen_since` and calls beyond the newest
    /// [`CALLS_KEPT`] go in the same transaction.
    pub async fn trigger_call_admit(
        &self,
        call: &TriggerCall,
        webhook_id: Option<&str>,
        since: i64,
        seen_since: i64,
        throttle: impl FnOnce(&[i64]) -> Option<u64>,
    ) -> Result<Admitted> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE triggers SET last_call_at = $2 WHERE id = $1")
            .bind(call.trigger_id)
            .bind(call.at)
            .execute(&mut *tx)
            .await?;
        let counted: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM trigger_calls WHERE trigger_id = $1 AND at > $2 AND outcome <> 'throttled' \
             ORDER BY at DESC",
        )
        .bind(call.trigger_id)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        let mut call = call.clone();
        let mut replayed = false;
        let wait = throttle(&counted);
        if let Some(secs) = wait {
            let newest: Option<String> =
                sqlx::query_scalar("SELECT outcome FROM trigger_calls WHERE trigger_id = $1 ORDER BY id DESC LIMIT 1")
                    .bind(call.trigger_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if newest.as_deref() != Some("throttled") {
                call.outcome = "throttled".into();
                call.status = 429;
                call.job_id = None;
                call.message = format!("over the limit; refused for {secs} s (one row for the calls refused in a row)");
                insert_call(&mut tx, &call).await?;
            }
        } else {
            if let (Some(webhook_id), "accepted") = (webhook_id, call.outcome.as_str()) {
                sqlx::query("DELETE FROM trigger_seen WHERE trigger_id = $1 AND at < $2")
                    .bind(call.trigger_id)
                    .bind(seen_since)
                    .execute(&mut *tx)
                    .await?;
                let fresh = sqlx::query(
                    "INSERT INTO trigger_seen (trigger_id, webhook_id, at) VALUES ($1, $2, $3) \
                     ON CONFLICT (trigger_id, webhook_id) DO NOTHING",
                )
                .bind(call.trigger_id)
                .bind(webhook_id)
                .bind(call.at)
                .execute(&mut *tx)
                .await?;
                if fresh.rows_affected() == 0 {
                    replayed = true;
                    call.outcome = "replayed".into();
                    call.status = 409;
                    call.message = "this webhook-id was received already; the call had no effect".into();
                }
            }
            call.id = insert_call(&mut tx, &call).await?;
        }
        sqlx::query(
            "DELETE FROM trigger_calls WHERE trigger_id = $1 AND id <= \
             (SELECT id FROM trigger_calls WHERE trigger_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(call.trigger_id)
        .bind(CALLS_KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(match (wait, replayed) {
            (Some(secs), _) => Admitted::Throttled(secs),
            (None, true) => Admitted::Replayed(call.id),
            (None, false) => Admitted::Recorded(call.id),
        })
    }

    /// What became of an accepted call: its job, or why it failed to start.
    pub async fn trigger_call_ended(
        &self,
        call_id: i64,
        outcome: &str,
        status: i64,
        job_id: Option<i64>,
        message: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE trigger_calls SET outcome = $2, status = $3, job_id = $4, message = $5 WHERE id = $1")
            .bind(call_id)
            .bind(outcome)
            .bind(status)
            .bind(job_id)
            .bind(message)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

async fn insert_call(tx: &mut sqlx::Transaction<'_, sqlx::Any>, c: &TriggerCall) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO trigger_calls (trigger_id, at, outcome, status, job_id, source, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(c.trigger_id)
    .bind(c.at)
    .bind(&c.outcome)
    .bind(c.status)
    .bind(c.job_id)
    .bind(&c.source)
    .bind(&c.message)
    .fetch_one(&mut **tx)
    .await?)
}
