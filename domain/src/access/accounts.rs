//! Resource access management: sub-accounts, their grants on clusters, invite links, password changes,
//! sessions people see and revoke, personal API tokens and shared read-only dashboard links.
//!
//! Every operation here is authorized through [`crate::authz::authorize`] and every mutation writes one
//! history row through [`Berth::mutate`] (or [`Berth::finish`] for the anonymous invite).

use serde_json::json;

use crate::access::bootstrap::{random_token, token_hash};
use crate::access::user::{normalize_display_name, normalize_username, Role, User};
use crate::audit::operation::{Attempt, Op, Who};
use crate::authz::{Actor, ClusterRole, Grant, Permission, Principal, TokenScope, UserRef};
use crate::clock::now_ms;
use crate::clusters::cluster::ClusterSummary;
use crate::error::{Checks, Error, Result};
use crate::store::{GrantRow, NewToken, NewUser, SessionRow, ShareRow, TokenRow};
use crate::Berth;

/// How long an invite (or password reset) link stays valid.
pub const INVITE_HOURS: i64 = 72;
/// The longest an API token or a shared link may live.
pub const MAX_TOKEN_DAYS: i64 = 365;
pub const MAX_SHARE_HOURS: i64 = 24 * 90;
/// API tokens start with this, so that secret scanners and people recognise them.
pub const TOKEN_PREFIX: &str = "berth_";
/// How often a token's last use is written at most.
const TOKEN_TOUCH_MS: i64 = 60_000;

/// A new sub-account as an admin fills it in. Without a password, an invite link is issued.
#[derive(Clone, Debug, Default)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub admin: bool,
    pub password: Option<String>,
}

impl NewAccount {
    /// Checks every field, naming each that is wrong; answers the canonical username and display
    /// name.
    pub fn validate(&self) -> Result<(String, String)> {
        let mut checks = Checks::default();
        let username = checks.field(normalize_username(&self.username));
        let name = username.as_deref().unwrap_or_default();
        let display_name = checks.field(normalize_display_name(&self.display_name, name));
        if let Some(password) = &self.password {
            checks.field(check_password_for(password, name));
        }
        checks.done(username.zip(display_name))
    }
}

/// A user with their grants, for the users page.
#[derive(Clone, Debug)]
pub struct UserDetail {
    pub user: User,
    pub grants: Vec<GrantView>,
    /// When an open invite link expires, if one is waiting to be used.
    pub invite_expires_at: Option<i64>,
}

/// A grant with the cluster's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantView {
    pub id: i64,
    pub cluster: Option<i64>,
    /// "every cluster" for grants on all.
    pub cluster_name: String,
    pub role: ClusterRole,
}

/// A secret shown once: an invite link's token, an API token, a shared link's token.
#[derive(Clone, Debug)]
pub struct Issued {
    pub id: i64,
    pub secret: String,
    pub expires_at: i64,
}

/// A new API token as a person asks for it.
#[derive(Clone, Debug)]
pub struct TokenInput {
    pub name: String,
    /// `None`: the admin scope (whatever the user may do).
    pub role: Option<ClusterRole>,
    pub cluster: Option<i64>,
    pub days: i64,
}

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
    // ----- accounts -----

    /// Every account with its grants.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserDetail>> {
        crate::authz::authorize(actor, Permission::UserManage)?;
        let names = self.cluster_names().await?;
        let grants = self.store.grants_all().await?;
        let invites: std::collections::HashMap<i64, i64> =
            self.store.invites_open(now_ms()).await?.into_iter().collect();
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .filter_map(User::from_row)
            .map(|user| UserDetail {
                grants: grants.iter().filter(|g| g.user_id == user.id).filter_map(|g| grant_view(g, &names)).collect(),
                invite_expires_at: invites.get(&user.id).copied(),
                user,
            })
            .collect())
    }

    pub async fn user_detail(&self, actor: &Actor, id: i64) -> Result<UserDetail> {
        crate::authz::authorize(actor, Permission::UserManage)?;
        self.detail_of(id).await
    }

    /// One's own account with one's grants.
    pub async fn own_account(&self, actor: &Actor) -> Result<UserDetail> {
        let me = crate::authz::authorize(actor, Permission::OwnAccount)?;
        self.detail_of(me.id).await
    }

    async fn detail_of(&self, id: i64) -> Result<UserDetail> {
        let user = self.user_row(id).await?;
        let names = self.cluster_names().await?;
        let grants = self.store.grants_of(id).await?.iter().filter_map(|g| grant_view(g, &names)).collect();
        let invite_expires_at = self.store.invite_open(id, now_ms()).await?;
        Ok(UserDetail { user, grants, invite_expires_at })
    }

    async fn user_row(&self, id: i64) -> Result<User> {
        self.store.user_by_id(id).await?.and_then(User::from_row).ok_or_else(|| Error::NotFound(format!("user {id}")))
    }

    async fn cluster_names(&self) -> Result<std::collections::HashMap<i64, String>> {
        Ok(self.store.clusters().await?.into_iter().map(|c| (c.id, c.name)).collect())
    }

    /// Creates an account. With a password it can sign in at once; without, the returned invite link
    /// lets the person choose their own.
    pub async fn create_user(&self, actor: &Actor, input: &NewAccount) -> Result<(User, Option<Issued>)> {
        let op = Op {
            action: "user.create",
            permission: Permission::UserManage,
            target: input.username.trim().to_lowercase().chars().take(crate::access::user::USERNAME_MAX).collect(),
            params: json!({
                "role": if input.admin { "admin" } else { "user" },
                "invite": input.password.is_none(),
                "password": input.password.as_ref().map(|_| "set"),
            }),
        };
        self.mutate(actor, op, |_| async {
            let (username, display_name) = input.validate()?;
            let password_hash = match &input.password {
                Some(password) => self.hasher.hash(password).await?,
                // No password can match an empty hash: the account waits for its invite to be used.
                None => String::new(),
            };
            let role = if input.admin { Role::Admin } else { Role::User };
            let now = now_ms();
            let new = NewUser {
                username: username.clone(),
                display_name,
                password_hash,
                role: role.as_str().into(),
                created_at: now,
            };
            let id = self
                .store
                .user_insert(&new)
                .await?
                .ok_or_else(|| Error::invalid("username", format!("{username} is taken")))?;
            let invite = match input.password {
                Some(_) => None,
                None => Some(self.issue_invite(id, now).await?),
            };
            Ok((self.user_row(id).await?, invite))
        })
        .await
    }

    async fn issue_invite(&self, user_id: i64, now: i64) -> Result<Issued> {
        let secret = random_token()?;
        let expires_at = now + INVITE_HOURS * 3_600_000;
        self.store.invite_replace(user_id, &token_hash(&secret), now, expires_at).await?;
        Ok(Issued { id: user_id, secret, expires_at })
    }

    /// Disables or re-enables an account. Disabling ends the user's sessions at once; nobody can
    /// disable themselves or the last enabled admin.
    pub async fn set_user_disabled(&self, actor: &Actor, id: i64, disabled: bool) -> Result<()> {
        let action = if disabled { "user.disable" } else { "user.enable" };
        let op = Op { action, permission: Permission::UserManage, target: id.to_string(), params: json!({}) };
        self.mutate(actor, op, |me| async move {
            let user = self.user_row(id).await?;
            if disabled {
                if user.id == me.id {
                    return Err(Error::Conflict("you cannot disable your own account".into()));
                }
                self.keep_an_admin(&user).await?;
            }
            self.store.user_set_disabled(id, disabled, now_ms()).await?;
            if disabled {
                self.store.sessions_delete_for_user(id).await?;
            }
            Ok(())
        })
        .await
    }

    /// Refuses to take away the last enabled admin.
    async fn keep_an_admin(&self, user: &User) -> Result<()> {
        if user.role == Role::Admin && !user.disabled && self.store.admins_enabled().await? <= 1 {
            return Err(Error::Conflict(format!("{} is the last admin; make another admin first", user.username)));
        }
        Ok(())
    }

    /// Makes a user an admin or a sub-account.
    pub async fn set_user_role(&self, actor: &Actor, id: i64, admin: bool) -> Result<()> {
        let role = if admin { Role::Admin } else { Role::User };
        let op = Op {
            action: "user.set_role",
            permission: Permission::UserManage,
            target: id.to_string(),
            params: json!({ "role": role.as_str() }),
        };
        self.mutate(actor, op, |me| async move {
            let user = self.user_row(id).await?;
            if !admin {
                if user.id == me.id {
                    return Err(Error::Conflict("you cannot take the admin role from yourself".into()));
                }
                self.keep_an_admin(&user).await?;
            }
            self.store.user_set_role(id, role.as_str(), now_ms()).await?;
            Ok(())
        })
        .await
    }

    /// Deletes an account, its grants, sessions and tokens. Its history rows stay.
    pub async fn delete_user(&self, actor: &Actor, id: i64) -> Result<()> {
        let op =
            Op { action: "user.delete", permission: Permission::UserManage, target: id.to_string(), params: json!({}) };
        self.mutate(actor, op, |me| async move {
            let user = self.user_row(id).await?;
            if user.id == me.id {
                return Err(Error::Conflict("you cannot delete your own account".into()));
            }
            self.keep_an_admin(&user).await?;
            self.store.user_delete(id).await?;
            Ok(())
        })
        .await
    }

    /// An admin resets a password: to the one given (the user's sessions end), or, without one, by a
    /// new invite link with which the user chooses their own.
    pub async fn reset_password(&self, actor: &Actor, id: i64, password: Option<&str>) -> Result<Option<Issued>> {
        let op = Op {
            action: "user.reset_password",
            permission: Permission::UserManage,
            target: id.to_string(),
            params: json!({ "link": password.is_none() }),
        };
        self.mutate(actor, op, |_| async move {
            let user = self.user_row(id).await?;
            match password {
                Some(password) => {
                    check_password_for(password, &user.username)?;
                    let hash = self.hasher.hash(password).await?;
                    self.store.user_set_password(id, &hash, now_ms()).await?;
                    Ok(None)
                }
                None => Ok(Some(self.issue_invite(id, now_ms()).await?)),
            }
        })
        .await
    }

    /// A user changes their own password; every one of their sessions ends (the caller starts a new one
    /// for the browser that asked).
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str, confirm: &str) -> Result<()> {
        let target = actor.user().map(|u| u.username.clone()).unwrap_or_default();
        let op = Op { action: "user.change_password", permission: Permission::OwnAccount, target, params: json!({}) };
        self.mutate(actor, op, |me| async move {
            let row = self.store.user_by_id(me.id).await?.ok_or_else(|| Error::NotFound("your account".into()))?;
            if current.is_empty() {
                return Err(Error::invalid("current_password", "is required"));
            }
            if current.len() > crate::access::password::MAX_LENGTH
                || !self.hasher.verify(current, Some(&row.password_hash)).await?
            {
                return Err(Error::invalid("current_password", "is not your current password"));
            }
            let mut checks = Checks::default();
            if new == current {
                checks.invalid("password", "is the same as the current one");
            }
            checks.field(check_password_for(new, &me.username));
            if new != confirm {
                checks.invalid("confirm_password", "does not match the new password");
            }
            checks.finish()?;
            let hash = self.hasher.hash(new).await?;
            self.store.user_set_password(me.id, &hash, now_ms()).await?;
            Ok(())
        })
        .await
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

    // ----- grants -----

    /// Gives a user a role on one cluster or on every cluster, replacing what they had there.
    pub async fn grant(&self, actor: &Actor, user_id: i64, cluster: Option<i64>, role: ClusterRole) -> Result<i64> {
        let op = Op {
            action: "grant.set",
            permission: Permission::UserManage,
            target: user_id.to_string(),
            params: json!({ "cluster": cluster, "role": role.as_str() }),
        };
        self.mutate(actor, op, |_| async move {
            let user = self.user_row(user_id).await?;
            if user.role == Role::Admin {
                return Err(Error::invalid(
                    "user",
                    format!("{} is an admin and may do everything already", user.username),
                ));
            }
            if let Some(c) = cluster {
                self.store
                    .cluster(c)
                    .await?
                    .ok_or_else(|| Error::invalid("cluster", format!("there is no cluster {c}")))?;
            }
            self.store.grant_put(user_id, cluster, role.as_str(), now_ms()).await
        })
        .await
    }

    pub async fn revoke_grant(&self, actor: &Actor, grant_id: i64) -> Result<()> {
        let op = Op {
            action: "grant.revoke",
            permission: Permission::UserManage,
            target: grant_id.to_string(),
            params: json!({}),
        };
        self.mutate(actor, op, |_| async move {
            if !self.store.grant_delete(grant_id).await? {
                return Err(Error::NotFound(format!("grant {grant_id}")));
            }
            Ok(())
        })
        .await
    }

    /// The grants a user's requests carry.
    pub(crate) async fn grants_for(&self, user_id: i64) -> Result<Vec<Grant>> {
        Ok(self
            .store
            .grants_of(user_id)
            .await?
            .into_iter()
            .filter_map(|g| Some(Grant { cluster: g.cluster_id, role: ClusterRole::parse(&g.role)? }))
            .collect())
    }

    // ----- sessions -----

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

    /// Acting on a user's own things needs `OwnAccount`; on someone else's, `UserManage`.
    fn permission_for_user(&self, actor: &Actor, user_id: i64) -> Permission {
        match actor.user() {
            Some(me) if me.id == user_id => Permission::OwnAccount,
            _ => Permission::UserManage,
        }
    }

    fn authorize_for_user(&self, actor: &Actor, user_id: i64) -> Result<()> {
        crate::authz::authorize(actor, self.permission_for_user(actor, user_id)).map(|_| ())
    }

    // ----- API tokens -----

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

    // ----- shared dashboards -----

    /// Creates an expiring read-only link to a cluster's dashboard; the secret is returned once.
    pub async fn create_share(&self, actor: &Actor, cluster: i64, label: &str, hours: i64) -> Result<Issued> {
        let op = Op {
            action: "share.create",
            permission: Permission::ClusterManage(cluster),
            target: cluster.to_string(),
            params: json!({ "label": label, "hours": hours }),
        };
        self.mutate(actor, op, |me| async move {
            self.store.cluster(cluster).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster}")))?;
            let label = label.trim();
            if label.chars().count() > 80 || label.chars().any(char::is_control) {
                return Err(Error::invalid("label", "must be at most 80 printable characters"));
            }
            if !(1..=MAX_SHARE_HOURS).contains(&hours) {
                return Err(Error::invalid("hours", format!("must be between 1 and {MAX_SHARE_HOURS}")));
            }
            let secret = random_token()?;
            let now = now_ms();
            let expires_at = now + hours * 3_600_000;
            let id =
                self.store.share_insert(cluster, &token_hash(&secret), label, &me.username, now, expires_at).await?;
            Ok(Issued { id, secret, expires_at })
        })
        .await
    }

    pub async fn shares(&self, actor: &Actor, cluster: i64) -> Result<Vec<ShareRow>> {
        crate::authz::authorize(actor, Permission::ClusterManage(cluster))?;
        self.store.shares_of(cluster).await
    }

    pub async fn revoke_share(&self, actor: &Actor, id: i64) -> Result<()> {
        let share = self.store.share(id).await?;
        // An unknown link is refused like a link on a cluster nobody is granted (id 0).
        let cluster = share.as_ref().map_or(0, |s| s.cluster_id);
        let op = Op {
            action: "share.revoke",
            permission: Permission::ClusterManage(cluster),
            target: id.to_string(),
            params: json!({ "cluster": cluster }),
        };
        self.mutate(actor, op, |_| async move {
            if share.is_none() {
                return Err(Error::NotFound(format!("shared link {id}")));
            }
            self.store.share_revoke(id, now_ms()).await?;
            Ok(())
        })
        .await
    }

    /// The dashboard behind a shared link: the link itself is the authorization, for one cluster, read
    /// only, until it expires or is revoked.
    /// What a cluster's dashboard shows besides its nodes (viewers and up).
    pub async fn dashboard_extras(&self, actor: &Actor, cluster: i64) -> Result<DashboardExtras> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "dashboard.read", format!("cluster {cluster}"))
            .await?;
        self.extras(cluster).await
    }

    /// A shared link's dashboard whole: the cluster with its nodes and the rest (the link is the
    /// permission; it is checked once).
    pub async fn shared_dashboard_with_extras(&self, token: &str) -> Result<(ClusterSummary, DashboardExtras)> {
        let summary = self.shared_dashboard(token).await?;
        let extras = self.extras(summary.cluster.id).await?;
        Ok((summary, extras))
    }

    async fn extras(&self, cluster: i64) -> Result<DashboardExtras> {
        let apps = self.store.apps(Some(cluster)).await?;
        let firing =
            self.store.alert_events(cluster, 200).await?.into_iter().filter(|a| a.resolved_at.is_none()).collect();
        let series = self.series(cluster, "cluster", "", now_ms(), 3_600_000).await?;
        Ok(DashboardExtras { apps, firing, series })
    }

    pub async fn shared_dashboard(&self, token: &str) -> Result<ClusterSummary> {
        let gone = || Error::Forbidden("This dashboard link has expired or been revoked.".into());
        if token.len() != 64 {
            return Err(gone());
        }
        let share = self.store.share_by_hash(&token_hash(token)).await?.ok_or_else(gone)?;
        if share.revoked_at.is_some() || share.expires_at <= now_ms() {
            return Err(gone());
        }
        Ok(self.shown(self.cluster_summary(share.cluster_id).await?.ok_or_else(gone)?, false))
    }
}

/// What a dashboard shows besides the cluster and its nodes: the cluster's apps, the alerts firing
/// on it, and its CPU and memory over the last hour.
#[derive(Clone, Debug)]
pub struct DashboardExtras {
    pub apps: Vec<crate::store::App>,
    pub firing: Vec<crate::store::AlertEvent>,
    pub series: crate::observe::metrics::Series,
}

fn grant_view(g: &GrantRow, names: &std::collections::HashMap<i64, String>) -> Option<GrantView> {
    let cluster_name = match g.cluster_id {
        None => "every cluster".to_string(),
        Some(c) => names.get(&c).cloned().unwrap_or_else(|| format!("cluster {c}")),
    };
    Some(GrantView { id: g.id, cluster: g.cluster_id, cluster_name, role: ClusterRole::parse(&g.role)? })
}

/// The password policy, plus: not the username.
pub fn check_password_for(password: &str, username: &str) -> Result<()> {
    crate::access::password::check_new(password)?;
    if password.trim().eq_ignore_ascii_case(username) {
        return Err(Error::invalid("password", "must not be the username"));
    }
    Ok(())
}
