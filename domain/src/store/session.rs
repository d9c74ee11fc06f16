//! Sessions table: the records behind the console's session cookie, keyed by
//! [`crate::session::session_key`] of the id rather than the id itself.
//!
//! The data is an opaque JSON document owned by the session layer; `user_id` is kept beside it so that
//! all of one user's sessions can be ended at once.

use super::{SessionMeta, Store};
use crate::error::Result;

impl Store {
    /// Inserts a new session; `false` when the id is taken (the caller picks another).
    pub async fn session_create(&self, id: &str, meta: &SessionMeta, data: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, user_id, data, expires_at, signed_in_at, source, agent, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(meta.user_id)
        .bind(data)
        .bind(expires_at)
        .bind(meta.signed_in_at)
        .bind(&meta.source)
        .bind(&meta.agent)
        .bind(meta.seen_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Saves a session that exists. A session whose row is gone (revoked, or its user's sessions were
    /// ended while a request was in flight) stays gone: only `session_create` inserts.
    pub async fn session_save(&self, id: &str, meta: &SessionMeta, data: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4, signed_in_at = $5, source = $6, \
             agent = $7, seen_at = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(meta.user_id)
        .bind(data)
        .bind(expires_at)
        .bind(meta.signed_in_at)
        .bind(&meta.source)
        .bind(&meta.agent)
        .bind(meta.seen_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The data and expiry of a session that has not expired.
    pub async fn session_load(&self, id: &str, now: i64) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn session_delete(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn sessions_delete_expired(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Ends every session of one user (sign-out everywhere, disable, password change).
    pub async fn sessions_delete_for_user(&self, user_id: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    pub async fn sessions_count_for_user(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }
}
