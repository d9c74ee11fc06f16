//! Idempotency keys of REST mutations: the first answer to a key, kept for a day.

use super::Store;
use crate::error::Result;

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
