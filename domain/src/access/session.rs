//! Signing in and out, and turning a session back into an [`Actor`] on every request.

use std::time::Duration;

use serde_json::json;

use crate::access::throttle::{self, Limit};
use crate::access::user::{normalize_username, User, USERNAME_MAX};
use crate::audit::operation::{Attempt, Op, Outcome, Who};
use crate::authz::{Actor, Permission, Principal, UserRef};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::{FailureKey, SessionRow};
use crate::Berth;

pub const SIGN_IN: &str = "session.sign_in";
pub const SIGN_OUT: &str = "session.sign_out";

/// What a session remembers about who signed in, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionAuth {
    pub user_id: i64,
    /// Unix milliseconds; the absolute timeout counts from here.
    pub signed_in_at: i64,
}

impl Berth {
    /// Checks a username and password. Throttled per account and per address; every attempt, whatever
    /// its outcome, writes one history row. The caller cycles the session id on success.
    #[tracing::instrument(skip(self, password), fields(source = %actor.source))]
    pub async fn sign_in(&self, actor: &Actor, username: &str, password: &str) -> Result<User> {
        let attempt = Attempt::start();
        // The history keeps what was typed (bounded), even when it is not a valid username.
        let attempted: String = username.trim().to_lowercase().chars().take(USERNAME_MAX).collect();
        let result = self.check_sign_in(actor, &attempted, username, password, attempt.started_at()).await;
        let who = match &result {
            Ok(user) => Who { id: Some(user.id), name: user.username.clone() },
            Err(_) => Who::of(actor),
        };
        match &result {
            // Attempts refused for throttling are what a flood looks like: bounded per address.
            Err(Error::Throttled { retry_after_secs }) => {
                let e = Error::Throttled { retry_after_secs: *retry_after_secs };
                self.record_refusal(actor, SIGN_IN, &attempted, json!({}), e).await;
            }
            _ => self.finish(attempt, actor, who, SIGN_IN, attempted, json!({}), &result).await,
        }
        result
    }

    async fn check_sign_in(
        &self,
        actor: &Actor,
        attempted: &str,
        username: &str,
        password: &str,
        now: i64,
    ) -> Result<User> {
        if username.trim().is_empty() {
            return Err(Error::invalid("username", "is required"));
        }
        if password.is_empty() {
            return Err(Error::invalid("password", "is required"));
        }
        if password.len() > crate::access::password::MAX_LENGTH {
            return Err(Error::invalid("password", "is too long"));
        }
        let wait = [
            (FailureKey::Target, attempted, self.config.account_limit),
            (FailureKey::Source, actor.source.as_str(), self.config.address_limit),
        ];
        for (key, value, limit) in wait {
            if let Some(secs) = self.throttled_for(key, value, limit, now).await? {
                return Err(Error::Throttled { retry_after_secs: secs });
            }
        }
        let row = match normalize_username(username) {
            Ok(name) => self.store.user_by_username(&name).await?,
            Err(_) => None,
        };
        let stored = row.as_ref().map(|r| r.password_hash.clone());
        let user = row.and_then(User::from_row);
        let matches = self.hasher.verify(password, stored.as_deref()).await?;
        // A disabled account answers a right password exactly as a wrong one: the answer must not
        // tell a guesser that the password was right.
        match user {
            Some(user) if matches && !user.disabled => Ok(user),
            _ => Err(Error::invalid("password", "wrong username or password")),
        }
    }

    async fn throttled_for(&self, key: FailureKey, value: &str, limit: Limit, now: i64) -> Result<Option<u64>> {
        if limit.max_failures == 0 {
            return Ok(None);
        }
        let since = now - limit.window.as_millis() as i64;
        let times = self
            .store
            .operation_times(SIGN_IN, Outcome::Failure.as_str(), key, value, since, limit.max_failures as i64)
            .await?;
        Ok(throttle::retry_after(&times, limit, now))
    }

    /// Records the end of a session. The caller deletes the session itself.
    pub async fn sign_out(&self, actor: &Actor) -> Result<()> {
        let target = actor.user().map(|u| u.username.clone()).unwrap_or_default();
        let op = Op { action: SIGN_OUT, permission: Permission::OwnAccount, target, params: json!({}) };
        self.mutate(actor, op, |_| async { Ok(()) }).await
    }

    /// The actor behind a request: the session's user if the session is still valid (user exists, is
    /// enabled, absolute timeout not passed), else anonymous.
    pub async fn resolve_actor(&self, auth: Option<SessionAuth>, source: String, request_id: String) -> Result<Actor> {
        let mut actor = Actor::anonymous(source, request_id);
        let Some(auth) = auth else { return Ok(actor) };
        if session_expired(auth, self.config.session_absolute, now_ms()) {
            return Ok(actor);
        }
        let Some(user) = self.store.user_by_id(auth.user_id).await?.and_then(User::from_row) else {
            return Ok(actor);
        };
        if user.disabled {
            return Ok(actor);
        }
        let grants = self.grants_for(user.id).await?;
        actor.principal =
            Principal::User(UserRef { id: user.id, username: user.username, role: user.role, grants, token: None });
        Ok(actor)
    }

    /// The signed-in user's account, for the top bar.
    pub async fn current_user(&self, actor: &Actor) -> Result<Option<User>> {
        let Some(user) = actor.user() else { return Ok(None) };
        Ok(self.store.user_by_id(user.id).await?.and_then(User::from_row))
    }

    /// Removes expired sessions; run periodically.
    pub async fn sweep_sessions(&self) -> Result<u64> {
        self.store.sessions_delete_expired(now_ms()).await
    }
}

/// The sessions people see and end (their own, or anyone's for an admin).
impl Berth {
    /// A user's live sessions: one's own, or anyone's for an admin.
    pub async fn sessions(&self, actor: &Actor, user_id: i64) -> Result<Vec<SessionRow>> {
        self.authorize_for_user(actor, user_id)?;
        self.store.sessions_of(user_id, now_ms()).await
    }

    /// Ends one session: one's own, or anyone's for an admin.
    pub async fn revoke_session(&self, actor: &Actor, user_id: i64, session: &str) -> Result<()> {
        let op = Op {
            action: "session.revoke",
            permission: self.permission_for_user(actor, user_id),
            target: user_id.to_string(),
            params: json!({ "session": session.chars().take(12).collect::<String>() }),
        };
        self.mutate(actor, op, |_| async move {
            if !self.store.session_delete_of(user_id, session).await? {
                return Err(Error::NotFound("that session (it may have ended already)".into()));
            }
            Ok(())
        })
        .await
    }
}

/// The key a session is stored under: the SHA-256 of its id, so the table alone cannot be used to
/// take over a session.
pub fn session_key(session_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

/// Whether a session signed in at `auth.signed_in_at` is past its absolute lifetime at `now`.
pub fn session_expired(auth: SessionAuth, absolute: Duration, now: i64) -> bool {
    now - auth.signed_in_at >= absolute.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_timeout() {
        let day = Duration::from_secs(86_400);
        let auth = SessionAuth { user_id: 1, signed_in_at: 1_000 };
        assert!(!session_expired(auth, day, 1_000));
        assert!(!session_expired(auth, day, 1_000 + 86_399_999));
        assert!(session_expired(auth, day, 1_000 + 86_400_000));
    }
}
