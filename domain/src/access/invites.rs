//! Invite links: an account made without a password (or whose password an admin reset) gets a
//! link with which its person chooses one; the link is good once, for a few days.

use serde_json::json;

use crate::access::accounts::{check_password_for, Issued};
use crate::access::user::User;
use crate::audit::operation::{Attempt, Who};
use crate::authz::Actor;
use crate::clock::now_ms;
use crate::error::{Checks, Error, Result};
use crate::secret::{random_token, token_hash};
use crate::Berth;

/// How long an invite (or password reset) link stays valid.
pub const INVITE_HOURS: i64 = 72;

/// What an invite link is good for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InviteState {
    Valid {
        username: String,
        expires_at: i64,
    },
    /// Unknown, used, expired or replaced: the message says which.
    Invalid(String),
}

impl Berth {
    pub(crate) async fn issue_invite(&self, user_id: i64, now: i64) -> Result<Issued> {
        let secret = random_token()?;
        let expires_at = now + INVITE_HOURS * 3_600_000;
        self.store.invite_replace(user_id, &token_hash(&secret), now, expires_at).await?;
        Ok(Issued { id: user_id, secret, expires_at })
    }

    /// What an invite link is good for (anyone with the link may ask).
    pub async fn invite_state(&self, token: &str) -> Result<InviteState> {
        let Some((user_id, expires_at, used_at)) = self.store.invite(&token_hash(token)).await? else {
            return Ok(InviteState::Invalid(
                "This link is not valid; it may have been replaced by a newer one.".into(),
            ));
        };
        if used_at.is_some() {
            return Ok(InviteState::Invalid("This link has been used already.".into()));
        }
        if expires_at <= now_ms() {
            return Ok(InviteState::Invalid("This link has expired; ask an admin for a new one.".into()));
        }
        let user = self.user_row(user_id).await?;
        if user.disabled {
            return Ok(InviteState::Invalid("This account is disabled.".into()));
        }
        Ok(InviteState::Valid { username: user.username, expires_at })
    }

    /// Sets a password with an invite link, using it up. Recorded whatever the outcome; the caller signs
    /// the user in.
    pub async fn accept_invite(&self, actor: &Actor, token: &str, password: &str, confirm: &str) -> Result<User> {
        let attempt = Attempt::start();
        let result = async {
            let username = match self.invite_state(token).await? {
                InviteState::Valid { username, .. } => username,
                InviteState::Invalid(why) => return Err(Error::Forbidden(why)),
            };
            let mut checks = Checks::default();
            checks.field(check_password_for(password, &username));
            if password != confirm {
                checks.invalid("confirm_password", "does not match the password");
            }
            checks.finish()?;
            let hash = self.hasher.hash(password).await?;
            let id = self
                .store
                .invite_consume(&token_hash(token), &hash, now_ms())
                .await?
                .ok_or_else(|| Error::Conflict("this link was used at the same moment".into()))?;
            self.user_row(id).await
        }
        .await;
        let who = match &result {
            Ok(user) => Who { id: Some(user.id), name: user.username.clone() },
            Err(_) => Who::of(actor),
        };
        let target = result.as_ref().map(|u| u.username.clone()).unwrap_or_default();
        self.finish(attempt, actor, who, "user.accept_invite", target, json!({}), &result).await;
        result
    }
}
