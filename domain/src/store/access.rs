//! The tables of `access/`: users, grants, invite links, API tokens, shared dashboard links,
//! sessions (the rows people see and revoke, and those behind the console's cookie), and the
//! one-time token that creates the first admin.

use super::Store;
use crate::error::Result;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub user_id: i64,
    pub cluster_id: Option<i64>,
    pub role: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub cluster_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub role: String,
    pub cluster_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ShareRow {
    pub id: i64,
    pub cluster_id: i64,
    pub label: String,
    pub created_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub signed_in_at: Option<i64>,
    pub source: Option<String>,
    pub agent: Option<String>,
    pub seen_at: Option<i64>,
    pub expires_at: i64,
}

/// What a session row says about its sign-in, kept beside the opaque session data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMeta {
    pub user_id: Option<i64>,
    pub signed_in_at: Option<i64>,
    pub source: Option<String>,
    pub agent: Option<String>,
    pub seen_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, role, disabled, created_at";
const TOKEN_COLUMNS: &str =
    "id, user_id, name, prefix, role, cluster_id, created_at, expires_at, last_used_at, revoked_at";
const SHARE_COLUMNS: &str = "id, cluster_id, label, created_by_name, created_at, expires_at, revoked_at";

impl Store {
    // ----- users -----

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")).fetch_all(&self.pool).await?)
    }

    /// Inserts a user; `None` when the username is taken.
    pub async fn user_insert(&self, user: &NewUser) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5) ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user_set_disabled(&self, id: i64, disabled: bool, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(disabled as i64)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user_set_role(&self, id: i64, role: &str, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a password and ends every session of the user in one transaction.
    pub async fn user_set_password(&self, id: i64, password_hash: &str, now: i64) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user_delete(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Enabled admins, so that the last one cannot be removed.
    pub async fn admins_enabled(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(&self.pool)
            .await?)
    }

    // ----- grants -----

    pub async fn grants_of(&self, user_id: i64) -> Result<Vec<GrantRow>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, cluster_id, role, created_at FROM grants WHERE user_id = $1 ORDER BY cluster_id, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn grants_all(&self) -> Result<Vec<GrantRow>> {
        Ok(sqlx::query_as("SELECT id, user_id, cluster_id, role, created_at FROM grants ORDER BY user_id, id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Gives `user_id` `role` on `cluster_id` (every cluster when `None`), replacing a grant on the same.
    pub async fn grant_put(&self, user_id: i64, cluster_id: Option<i64>, role: &str, now: i64) -> Result<i64> {
        let mut tx = self.write().await?;
        match cluster_id {
            Some(c) => sqlx::query("DELETE FROM grants WHERE user_id = $1 AND cluster_id = $2").bind(user_id).bind(c),
            None => sqlx::query("DELETE FROM grants WHERE user_id = $1 AND cluster_id IS NULL").bind(user_id),
        }
        .execute(&mut *tx)
        .await?;
        let id = sqlx::query_scalar(
            "INSERT INTO grants (user_id, cluster_id, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(cluster_id)
        .bind(role)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn grant(&self, id: i64) -> Result<Option<GrantRow>> {
        Ok(sqlx::query_as("SELECT id, user_id, cluster_id, role, created_at FROM grants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn grant_delete(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM grants WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    // ----- invites -----

    /// Replaces any open invite of the user with this one.
    pub async fn invite_replace(&self, user_id: i64, token_hash: &str, now: i64, expires_at: i64) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM invites WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO invites (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `(user_id, expires_at, used_at)` of an invite.
    pub async fn invite(&self, token_hash: &str) -> Result<Option<(i64, i64, Option<i64>)>> {
        Ok(sqlx::query_as("SELECT user_id, expires_at, used_at FROM invites WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Uses an invite and sets the password in one transaction (ending the user's sessions). The user,
    /// or `None` when the invite is unknown, used or expired (nothing is written).
    pub async fn invite_consume(&self, token_hash: &str, password_hash: &str, now: i64) -> Result<Option<i64>> {
        let mut tx = self.write().await?;
        let user: Option<i64> = sqlx::query_scalar(
            "UPDATE invites SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user) = user else { return Ok(None) };
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Every open invite: (user, when it expires).
    pub async fn invites_open(&self, now: i64) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as("SELECT user_id, expires_at FROM invites WHERE used_at IS NULL AND expires_at > $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }

    /// When a user's open invite expires, if they have one.
    pub async fn invite_open(&self, user_id: i64, now: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT expires_at FROM invites WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(user_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    // ----- API tokens -----

    pub async fn token_insert(&self, t: &NewToken) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, role, cluster_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(t.user_id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(&t.role)
        .bind(t.cluster_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn tokens_of(&self, user_id: i64) -> Result<Vec<TokenRow>> {
        Ok(sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn token(&self, id: i64) -> Result<Option<TokenRow>> {
        Ok(sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRow>> {
        Ok(sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn token_revoke(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn token_touch(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- shared dashboard links -----

    pub async fn share_insert(
        &self,
        cluster_id: i64,
        token_hash: &str,
        label: &str,
        by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO share_links (cluster_id, token_hash, label, created_by_name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(cluster_id)
        .bind(token_hash)
        .bind(label)
        .bind(by)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn shares_of(&self, cluster_id: i64) -> Result<Vec<ShareRow>> {
        Ok(sqlx::query_as(&format!("SELECT {SHARE_COLUMNS} FROM share_links WHERE cluster_id = $1 ORDER BY id DESC"))
            .bind(cluster_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn share(&self, id: i64) -> Result<Option<ShareRow>> {
        Ok(sqlx::query_as(&format!("SELECT {SHARE_COLUMNS} FROM share_links WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn share_by_hash(&self, token_hash: &str) -> Result<Option<ShareRow>> {
        Ok(sqlx::query_as(&format!("SELECT {SHARE_COLUMNS} FROM share_links WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn share_revoke(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE share_links SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    // ----- sessions people see -----

    /// The live sessions of a user, newest sign-in first.
    pub async fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, signed_in_at, source, agent, seen_at, expires_at FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY signed_in_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends one session of a user; `false` when the user has no such session.
    pub async fn session_delete_of(&self, user_id: i64, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

// ----- Users -----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: i64,
    pub created_at: i64,
}

/// A user about to be inserted; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}

// ----- Sessions table -----
//
// The records behind the console's session cookie, keyed by `session_key` of the id rather than
// the id itself. The data is an opaque JSON document owned by the session layer; `user_id` is kept
// beside it so that all of one user's sessions can be ended at once.

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

// ----- The one-time token that creates the first admin -----

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
