//! Personal API tokens: a user's tokens for REST clients, each scoped to a role (admin included)
//! and optionally one cluster, which only narrows what the user may do; kept as hashes, shown once.

use serde_json::json;

use crate::access::accounts::Issued;
use crate::access::user::{Role, User};
use crate::audit::operation::Op;
use crate::authz::{Actor, ClusterRole, Permission, Principal, TokenScope, UserRef};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::secret::{random_token, token_hash};
use crate::store::{NewToken, TokenRow};
use crate::Berth;

/// The longest an API token or a shared link may live.
pub const MAX_TOKEN_DAYS: i64 = 365;

/// API tokens start with this, so that secret scanners and people recognise them.
pub const TOKEN_PREFIX: &str = "berth_";

/// How often a token's last use is written at most.
const TOKEN_TOUCH_MS: i64 = 60_000;

/// A new API token as a person asks for it.
#[derive(Clone, Debug)]
pub struct TokenInput {
    pub name: String,
    /// `None`: the admin scope (whatever the user may do).
    pub role: Option<ClusterRole>,
    pub cluster: Option<i64>,
    pub days: i64,
}

impl Berth {
    /// Creates a personal API token; the secret is returned once and only its hash is kept.
    pub async fn create_token(&self, actor: &Actor, input: &TokenInput) -> Result<Issued> {
        let target = input.name.trim().chars().take(64).collect();
        let op = Op {
            action: "token.create",
            permission: Permission::OwnAccount,
            target,
            params: json!({
                "role": input.role.map_or("admin", ClusterRole::as_str),
                "cluster": input.cluster,
                "days": input.days,
            }),
        };
        self.mutate(actor, op, |me| async move {
            let name = input.name.trim();
            if name.is_empty() {
                return Err(Error::invalid("name", "is required"));
            }
            if name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(Error::invalid("name", "must be at most 64 printable characters"));
            }
            if !(1..=MAX_TOKEN_DAYS).contains(&input.days) {
                return Err(Error::invalid("days", format!("must be between 1 and {MAX_TOKEN_DAYS}")));
            }
            if input.role.is_none() && me.role != Role::Admin {
                return Err(Error::invalid("role", "only admins can create admin-scoped tokens"));
            }
            if let Some(c) = input.cluster {
                // A cluster that does not exist reads like one without access (no foreign-key error,
                // and nothing about which ids exist).
                let exists = self.store.cluster(c).await?.is_some();
                if !exists || crate::authz::authorize(actor, Permission::ClusterRead(c)).is_err() {
                    return Err(Error::invalid("cluster", format!("you have no access to cluster {c}")));
                }
            }
            let secret = format!("{TOKEN_PREFIX}{}", random_token()?);
            let now = now_ms();
            let expires_at = now + input.days * 86_400_000;
            let new = NewToken {
                user_id: me.id,
                name: name.to_string(),
                token_hash: token_hash(&secret),
                prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
                role: input.role.map_or("admin", ClusterRole::as_str).into(),
                cluster_id: input.cluster,
                created_at: now,
                expires_at,
            };
            let id = self.store.token_insert(&new).await?;
            Ok(Issued { id, secret, expires_at })
        })
        .await
    }

    /// A user's tokens (never their secrets): one's own, or anyone's for an admin.
    pub async fn tokens(&self, actor: &Actor, user_id: i64) -> Result<Vec<TokenRow>> {
        self.authorize_for_user(actor, user_id)?;
        self.store.tokens_of(user_id).await
    }

    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<()> {
        let owner = self.store.token(id).await?.map(|t| t.user_id);
        let op = Op {
            action: "token.revoke",
            // An unknown token is someone else's as far as authorization goes.
            permission: self.permission_for_user(actor, owner.unwrap_or(-1)),
            target: id.to_string(),
            params: json!({}),
        };
        self.mutate(actor, op, |_| async move {
            if owner.is_none() {
                return Err(Error::NotFound(format!("token {id}")));
            }
            self.store.token_revoke(id, now_ms()).await?;
            Ok(())
        })
        .await
    }

    /// The actor behind an API token, or `Unauthenticated` when the token is unknown, revoked, expired
    /// or its user cannot act. Records the token's last use (at most once a minute).
    pub async fn resolve_token(&self, secret: &str, source: String, request_id: String) -> Result<Actor> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        let Some(token) = self.store.token_by_hash(&token_hash(secret)).await? else {
            return Err(Error::Unauthenticated);
        };
        let now = now_ms();
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Err(Error::Unauthenticated);
        }
        let Some(user) = self.store.user_by_id(token.user_id).await?.and_then(User::from_row) else {
            return Err(Error::Unauthenticated);
        };
        if user.disabled {
            return Err(Error::Unauthenticated);
        }
        if token.last_used_at.is_none_or(|t| now - t >= TOKEN_TOUCH_MS) {
            self.store.token_touch(token.id, now).await?;
        }
        let scope = TokenScope { role: ClusterRole::parse(&token.role), cluster: token.cluster_id };
        let grants = self.grants_for(user.id).await?;
        let principal = Principal::User(UserRef {
            id: user.id,
            username: user.username,
            role: user.role,
            grants,
            token: Some(scope),
        });
        Ok(Actor { principal, source, request_id })
    }
}
