//! The first admin. Berth ships with no default account: on a start with no users it mints a one-time
//! token (valid for [`crate::Config::bootstrap_ttl`], usable once) whose link the operator opens to
//! create the first admin.

use serde_json::json;

use crate::access::user::{AccountInput, Role, User, ValidAccount};
use crate::audit::operation::{Attempt, Who};
use crate::authz::Actor;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::NewUser;
use crate::Berth;

pub use crate::secret::random_token;
pub(crate) use crate::secret::token_hash;

pub const BOOTSTRAP_ADMIN: &str = "user.bootstrap_admin";
pub const BOOTSTRAP_LINK: &str = "user.bootstrap_link_issued";

/// A freshly minted token. Only its hash is stored.
#[derive(Clone, Debug)]
pub struct BootstrapToken {
    pub token: String,
    pub expires_at: i64,
}

/// What a bootstrap link is good for right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootstrapState {
    /// Usable until `expires_at`.
    Valid {
        expires_at: i64,
    },
    Expired,
    Used,
    /// Unknown token, or replaced by a newer one.
    Unknown,
    /// An admin exists already; bootstrap is over.
    Done,
}

impl Berth {
    /// Mints a new bootstrap token when no user exists (replacing any earlier one); `None` otherwise.
    pub async fn prepare_bootstrap(&self) -> Result<Option<BootstrapToken>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let attempt = Attempt::start();
        let result = self.issue_bootstrap_token(attempt.started_at()).await;
        // Issued by Berth itself at start; the history shows when each link was printed.
        let system = Actor::anonymous("local", "startup");
        let who = Who { id: None, name: "berth".into() };
        let params = json!({ "valid_minutes": self.config.bootstrap_ttl.as_secs() / 60 });
        self.finish(attempt, &system, who, BOOTSTRAP_LINK, String::new(), params, &result).await;
        result.map(Some)
    }

    async fn issue_bootstrap_token(&self, now: i64) -> Result<BootstrapToken> {
        let token = random_token()?;
        let expires_at = now + self.config.bootstrap_ttl.as_millis() as i64;
        self.store.bootstrap_token_replace(&token_hash(&token), now, expires_at).await?;
        Ok(BootstrapToken { token, expires_at })
    }

    pub async fn bootstrap_state(&self, token: &str) -> Result<BootstrapState> {
        if self.store.count_users().await? > 0 {
            return Ok(BootstrapState::Done);
        }
        Ok(match self.store.bootstrap_token(&token_hash(token)).await? {
            None => BootstrapState::Unknown,
            Some((_, Some(_))) => BootstrapState::Used,
            Some((expires_at, None)) if expires_at <= now_ms() => BootstrapState::Expired,
            Some((expires_at, None)) => BootstrapState::Valid { expires_at },
        })
    }

    /// Creates the first admin with a valid token, using the token up. Recorded in the history whatever
    /// the outcome; the caller signs the new admin in.
    pub async fn bootstrap_admin(&self, actor: &Actor, token: &str, input: &AccountInput) -> Result<User> {
        let attempt = Attempt::start();
        let target = input.username.trim().to_lowercase().chars().take(crate::access::user::USERNAME_MAX).collect();
        let result = self.create_first_admin(token, input, attempt.started_at()).await;
        let who = match &result {
            Ok(user) => Who { id: Some(user.id), name: user.username.clone() },
            Err(_) => Who::of(actor),
        };
        self.finish(attempt, actor, who, BOOTSTRAP_ADMIN, target, json!({ "role": "admin" }), &result).await;
        result
    }

    async fn create_first_admin(&self, token: &str, input: &AccountInput, now: i64) -> Result<User> {
        match self.bootstrap_state(token).await? {
            BootstrapState::Valid { .. } => {}
            BootstrapState::Done => return Err(Error::Conflict("an admin already exists; sign in instead".into())),
            BootstrapState::Expired => {
                return Err(Error::Forbidden("this setup link has expired; restart Berth for a new one".into()))
            }
            BootstrapState::Used => return Err(Error::Forbidden("this setup link has been used already".into())),
            BootstrapState::Unknown => return Err(Error::Forbidden("this setup link is not valid".into())),
        }
        let ValidAccount { username, display_name } = input.validate()?;
        let password_hash = self.hasher.hash(&input.password).await?;
        let admin = NewUser {
            username: username.clone(),
            display_name: display_name.clone(),
            password_hash,
            role: Role::Admin.as_str().into(),
            created_at: now,
        };
        let id = self
            .store
            .bootstrap_consume(&token_hash(token), now, &admin)
            .await?
            .ok_or_else(|| Error::Conflict("the setup link was used at the same moment; sign in instead".into()))?;
        Ok(User { id, username, display_name, role: Role::Admin, disabled: false, created_at: now })
    }
}
