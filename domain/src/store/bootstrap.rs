//! The one-time token that creates the first admin.

use super::{NewUser, Store};
use crate::error::Result;

impl Store {
    /// Replaces any earlier token with this one (only the newest printed link works).
    pub async fn bootstrap_token_replace(&self, token_hash: &str, now: i64, expires_at: i64) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM bootstrap_tokens").execute(&mut *tx).await?;
        sqlx::query("INSERT INTO bootstrap_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `(expires_at, used_at)` of a token, if it exists.
    pub async fn bootstrap_token(&self, token_hash: &str) -> Result<Option<(i64, Option<i64>)>> {
        Ok(sqlx::query_as("SELECT expires_at, used_at FROM bootstrap_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Uses the token and inserts the first admin in one transaction. Returns the new user's id, or
    /// `None` when the token is unknown, used, expired, or a user already exists (nothing is written).
    pub async fn bootstrap_consume(&self, token_hash: &str, now: i64, admin: &NewUser) -> Result<Option<i64>> {
        let mut tx = self.write().await?;
        let used = sqlx::query(
            "UPDATE bootstrap_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1 {
            return Ok(None);
        }
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
        if users > 0 {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
        )
        .bind(&admin.username)
        .bind(&admin.display_name)
        .bind(&admin.password_hash)
        .bind(&admin.role)
        .bind(admin.created_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }
}
