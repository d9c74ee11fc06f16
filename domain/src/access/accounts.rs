//! Accounts: the sub-accounts an admin creates, disables, deletes and resets, their roles, and a
//! person's own password change; the users page's view of an account with its grants.
//!
//! With the rest of the folder's sharing of access (grants, invite links, API tokens, shared
//! dashboard links, the sessions people see): every operation is authorized through
//! [`crate::authz::authorize`] and every mutation writes one history row through
//! [`Berth::mutate`] (or [`Berth::finish`] for the anonymous invite).

use serde_json::json;

use crate::access::user::{normalize_display_name, normalize_username, Role, User};
use crate::audit::operation::Op;
use crate::authz::{Actor, ClusterRole, Permission};
use crate::clock::now_ms;
use crate::error::{Checks, Error, Result};
use crate::store::{GrantRow, NewUser};
use crate::Berth;

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

impl Berth {
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

    pub(crate) async fn user_row(&self, id: i64) -> Result<User> {
        self.store.user_by_id(id).await?.and_then(User::from_row).ok_or_else(|| Error::NotFound(format!("user {id}")))
    }

    pub(crate) async fn cluster_names(&self) -> Result<std::collections::HashMap<i64, String>> {
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

    /// Acting on a user's own things needs `OwnAccount`; on someone else's, `UserManage`.
    pub(crate) fn permission_for_user(&self, actor: &Actor, user_id: i64) -> Permission {
        match actor.user() {
            Some(me) if me.id == user_id => Permission::OwnAccount,
            _ => Permission::UserManage,
        }
    }

    pub(crate) fn authorize_for_user(&self, actor: &Actor, user_id: i64) -> Result<()> {
        crate::authz::authorize(actor, self.permission_for_user(actor, user_id)).map(|_| ())
    }
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
