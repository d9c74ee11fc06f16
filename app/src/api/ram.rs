//! Accounts, grants, sessions, API tokens, invite links and shared dashboards.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::cluster::{ClusterRow, NodeRow};
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRow {
    pub id: i64,
    /// `None`: every cluster.
    pub cluster_id: Option<i64>,
    pub cluster_name: String,
    /// `viewer`, `operator` or `cluster_admin`.
    pub role: String,
    pub role_label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub grants: Vec<GrantRow>,
    /// When an unused invite link expires, if one is open.
    pub invite_expires_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    /// The session this request came with.
    pub current: bool,
    pub signed_in_at: Option<i64>,
    pub source: String,
    pub agent: String,
    pub seen_at: Option<i64>,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// The first characters, to recognise it.
    pub prefix: String,
    /// `admin`, `cluster_admin`, `operator` or `viewer`.
    pub role: String,
    pub cluster_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A user with their sessions and tokens (the user page, and one's own account page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub user: UserRow,
    pub sessions: Vec<SessionRow>,
    pub tokens: Vec<TokenRow>,
    /// Clusters the caller can see, for grant and token scope choices.
    pub clusters: Vec<(i64, String)>,
    /// The server's clock, for "expired" and relative times.
    pub now: i64,
}

/// A secret shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub id: i64,
    /// The token, or a path (for links) to put after the console's address.
    pub secret: String,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub valid: bool,
    pub username: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRow {
    pub id: i64,
    pub label: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A read-only dashboard: what a shared link (or a viewer) sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub cluster: ClusterRow,
    pub nodes: Vec<NodeRow>,
    pub now: i64,
    pub apps: Vec<crate::api::app::AppRow>,
    pub firing: Vec<crate::api::observe::AlertRow>,
    /// The cluster's CPU and memory over the last hour.
    pub series: crate::api::observe::SeriesRow,
}

#[cfg(feature = "ssr")]
mod map {
    use super::*;

    pub fn user(d: domain::ram::UserDetail) -> UserRow {
        UserRow {
            id: d.user.id,
            admin: d.user.role == domain::user::Role::Admin,
            disabled: d.user.disabled,
            created_at: d.user.created_at,
            grants: d
                .grants
                .into_iter()
                .map(|g| GrantRow {
                    id: g.id,
                    cluster_id: g.cluster,
                    cluster_name: g.cluster_name,
                    role: g.role.as_str().into(),
                    role_label: g.role.label().into(),
                })
                .collect(),
            invite_expires_at: d.invite_expires_at,
            username: d.user.username,
            display_name: d.user.display_name,
        }
    }

    pub fn session(s: domain::store::SessionRow, current: Option<&str>) -> SessionRow {
        SessionRow {
            current: current == Some(s.id.as_str()),
            signed_in_at: s.signed_in_at,
            source: s.source.unwrap_or_default(),
            agent: s.agent.unwrap_or_default(),
            seen_at: s.seen_at,
            expires_at: s.expires_at,
            id: s.id,
        }
    }

    pub fn token(t: domain::store::TokenRow) -> TokenRow {
        TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            role: t.role,
            cluster_id: t.cluster_id,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[cfg(feature = "ssr")]
fn cluster_role(field: &str, raw: &str) -> Result<domain::ClusterRole, AppError> {
    domain::ClusterRole::parse(raw)
        .ok_or_else(|| super::ssr::invalid(field, "must be viewer, operator or cluster_admin"))
}

/// `admin` → true, `user` → false (`empty_is_user` lets a form leave it out).
#[cfg(feature = "ssr")]
fn is_admin_role(raw: &str, empty_is_user: bool) -> Result<bool, AppError> {
    match raw {
        "admin" => Ok(true),
        "user" => Ok(false),
        "" if empty_is_user => Ok(false),
        _ => Err(super::ssr::invalid("role", "must be admin or user")),
    }
}

/// `all` (or empty) for every cluster, else a cluster id.
#[cfg(feature = "ssr")]
fn cluster_choice(raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" | "all" => Ok(None),
        id => super::ssr::number("cluster", id).map(Some),
    }
}

#[cfg(feature = "ssr")]
async fn user_page(
    berth: &domain::Berth,
    actor: &domain::Actor,
    detail: domain::ram::UserDetail,
) -> Result<UserPage, AppError> {
    use super::ssr::{current_session_key, session, wire};
    let id = detail.user.id;
    let current = current_session_key(&session()?);
    let sessions = berth
        .sessions(actor, id)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|s| map::session(s, current.as_deref()))
        .collect();
    let tokens = berth.tokens(actor, id).await.map_err(wire)?.into_iter().map(map::token).collect();
    let clusters =
        berth.clusters(actor).await.map_err(wire)?.into_iter().map(|c| (c.cluster.id, c.cluster.name)).collect();
    Ok(UserPage { user: map::user(detail), sessions, tokens, clusters, now: domain::clock::now_ms() })
}

#[server(endpoint = "get_users", output = crate::codec::Wire)]
pub async fn get_users() -> Result<Vec<UserRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth.users(&actor).await.map_err(wire)?.into_iter().map(map::user).collect())
}

/// One page of the accounts, searched and sorted on the server.
#[server(endpoint = "list_users", output = crate::codec::Wire)]
pub async fn list_users(
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<crate::api::list::PageRows<UserRow>, AppError> {
    let rows = get_users().await?;
    crate::api::list::ssr::paged(rows, crate::api::list::ListArgs { q, sort, desc, page })
}

#[server(endpoint = "get_user", output = crate::codec::Wire)]
pub async fn get_user(id: i64) -> Result<UserPage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let detail = berth.user_detail(&actor, id).await.map_err(wire)?;
    user_page(&berth, &actor, detail).await
}

/// Creates an account: with a password, or (password left empty) with an invite link, whose path is
/// returned once.
#[server(endpoint = "create_user", output = crate::codec::Wire)]
pub async fn create_user(
    username: String,
    display_name: String,
    role: String,
    password: String,
    confirm_password: String,
) -> Result<Option<Issued>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let admin = is_admin_role(&role, true)?;
    let input = domain::ram::NewAccount {
        username,
        display_name,
        admin,
        password: Some(password.clone()).filter(|p| !p.is_empty()),
    };
    // A repeated password that differs is said with whatever else is wrong, to those who may
    // create accounts (the domain checks the rest after it authorizes).
    if !password.is_empty() && password != confirm_password {
        domain::authz::authorize(&actor, domain::Permission::UserManage).map_err(wire)?;
        let mut checks = domain::error::Checks::default();
        checks.field(input.validate());
        checks.invalid("confirm_password", "does not match the password");
        checks.finish().map_err(wire)?;
    }
    let (user, invite) = berth.create_user(&actor, &input).await.map_err(wire)?;
    Ok(invite.map(|i| Issued { id: user.id, secret: format!("/invite?token={}", i.secret), expires_at: i.expires_at }))
}

#[server(endpoint = "set_user_disabled", output = crate::codec::Wire)]
pub async fn set_user_disabled(id: i64, disabled: bool) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.set_user_disabled(&actor, id, disabled).await.map_err(wire)
}

/// `admin` or `user`.
#[server(endpoint = "set_user_role", output = crate::codec::Wire)]
pub async fn set_user_role(id: i64, role: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.set_user_role(&actor, id, is_admin_role(&role, false)?).await.map_err(wire)
}

#[server(endpoint = "delete_user", output = crate::codec::Wire)]
pub async fn delete_user(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_user(&actor, id).await.map_err(wire)
}

/// Sets a new password (the user's sessions end), or with an empty one issues a reset link (its path
/// is returned once).
#[server(endpoint = "reset_password", output = crate::codec::Wire)]
pub async fn reset_password(id: i64, password: String) -> Result<Option<Issued>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let password = Some(password.as_str()).filter(|p| !p.is_empty());
    let link = berth.reset_password(&actor, id, password).await.map_err(wire)?;
    Ok(link.map(|i| Issued { id, secret: format!("/invite?token={}", i.secret), expires_at: i.expires_at }))
}

/// Gives `user` `role` on `cluster` (`all` for every cluster).
#[server(endpoint = "set_grant", output = crate::codec::Wire)]
pub async fn set_grant(user: i64, cluster: String, role: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let cluster = cluster_choice(&cluster)?;
    let role = cluster_role("role", &role)?;
    berth.grant(&actor, user, cluster, role).await.map(drop).map_err(wire)
}

#[server(endpoint = "revoke_grant", output = crate::codec::Wire)]
pub async fn revoke_grant(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.revoke_grant(&actor, id).await.map_err(wire)
}

/// One's own account: profile, sessions, tokens.
#[server(endpoint = "get_account", output = crate::codec::Wire)]
pub async fn get_account() -> Result<UserPage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let detail = berth.own_account(&actor).await.map_err(wire)?;
    user_page(&berth, &actor, detail).await
}

/// Changes one's own password. Every session of the account ends; this browser gets a new one.
#[server(endpoint = "change_password", output = crate::codec::Wire)]
pub async fn change_password(
    current_password: String,
    password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use super::ssr::{context, session, start_session, wire};
    let (berth, actor) = context()?;
    berth.change_password(&actor, &current_password, &password, &confirm_password).await.map_err(wire)?;
    let me = actor.user().map(|u| u.id).ok_or_else(|| wire(domain::Error::Unauthenticated))?;
    start_session(&session()?, me).await
}

/// Ends one session of `user` (one's own, or anyone's for an admin).
#[server(endpoint = "revoke_session", output = crate::codec::Wire)]
pub async fn revoke_session(user: i64, session: String) -> Result<(), AppError> {
    use super::ssr::{context, current_session_key, end_session, session as this_session, wire};
    let (berth, actor) = context()?;
    berth.revoke_session(&actor, user, &session).await.map_err(wire)?;
    let this = this_session()?;
    if current_session_key(&this).as_deref() == Some(session.as_str()) {
        end_session(&this).await?;
    }
    Ok(())
}

/// Creates a personal API token (`role`: admin, cluster_admin, operator or viewer; `cluster`: `all` or
/// an id; `days` until it expires). The token is returned once.
#[server(endpoint = "create_token", output = crate::codec::Wire)]
pub async fn create_token(name: String, role: String, cluster: String, days: String) -> Result<Issued, AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    let role = match role.as_str() {
        "admin" => None,
        other => Some(cluster_role("role", other)?),
    };
    let input =
        domain::ram::TokenInput { name, role, cluster: cluster_choice(&cluster)?, days: number("days", &days)? };
    let issued = berth.create_token(&actor, &input).await.map_err(wire)?;
    Ok(Issued { id: issued.id, secret: issued.secret, expires_at: issued.expires_at })
}

#[server(endpoint = "revoke_token", output = crate::codec::Wire)]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.revoke_token(&actor, id).await.map_err(wire)
}

#[server(endpoint = "get_invite", output = crate::codec::Wire)]
pub async fn get_invite(token: String) -> Result<InviteInfo, AppError> {
    use super::ssr::{berth, wire};
    Ok(match berth()?.invite_state(&token).await.map_err(wire)? {
        domain::ram::InviteState::Valid { username, .. } => {
            InviteInfo { valid: true, username, message: String::new() }
        }
        domain::ram::InviteState::Invalid(message) => InviteInfo { valid: false, username: String::new(), message },
    })
}

/// Sets one's password with an invite link and signs in.
#[server(endpoint = "accept_invite", output = crate::codec::Wire)]
pub async fn accept_invite(token: String, password: String, confirm_password: String) -> Result<(), AppError> {
    use super::ssr::{context, session, start_session, wire};
    let (berth, actor) = context()?;
    let user = berth.accept_invite(&actor, &token, &password, &confirm_password).await.map_err(wire)?;
    start_session(&session()?, user.id).await
}

#[server(endpoint = "get_shares", output = crate::codec::Wire)]
pub async fn get_shares(cluster: i64) -> Result<Vec<ShareRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth
        .shares(&actor, cluster)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|s| ShareRow {
            id: s.id,
            label: s.label,
            created_by: s.created_by_name,
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
        })
        .collect())
}

/// Creates a read-only link to a cluster's dashboard, valid for `hours`; its path is returned once.
#[server(endpoint = "create_share", output = crate::codec::Wire)]
pub async fn create_share(cluster: i64, label: String, hours: String) -> Result<Issued, AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    let issued = berth.create_share(&actor, cluster, &label, number("hours", &hours)?).await.map_err(wire)?;
    Ok(Issued { id: issued.id, secret: format!("/share?token={}", issued.secret), expires_at: issued.expires_at })
}

#[server(endpoint = "revoke_share", output = crate::codec::Wire)]
pub async fn revoke_share(id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.revoke_share(&actor, id).await.map_err(wire)
}

/// The dashboard a shared link opens (no account needed; the link is the permission).
#[server(endpoint = "get_shared_dashboard", output = crate::codec::Wire)]
pub async fn get_shared_dashboard(token: String) -> Result<Dashboard, AppError> {
    use super::ssr::{berth, wire};
    let berth = berth()?;
    let (summary, extras) = berth.shared_dashboard_with_extras(&token).await.map_err(wire)?;
    Ok(dashboard(summary, extras))
}

/// A cluster's dashboard, for anyone who may see the cluster.
#[server(endpoint = "get_dashboard", output = crate::codec::Wire)]
pub async fn get_dashboard(cluster: i64) -> Result<Dashboard, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let summary = berth.cluster(&actor, cluster).await.map_err(wire)?;
    let extras = berth.dashboard_extras(&actor, cluster).await.map_err(wire)?;
    Ok(dashboard(summary, extras))
}

#[cfg(feature = "ssr")]
fn dashboard(summary: domain::cluster::ClusterSummary, extras: domain::ram::DashboardExtras) -> Dashboard {
    let nodes = summary.nodes.iter().cloned().map(crate::api::cluster::map::node).collect();
    let cluster_name = summary.cluster.name.clone();
    Dashboard {
        cluster: crate::api::cluster::map::cluster(summary),
        nodes,
        now: domain::clock::now_ms(),
        apps: extras
            .apps
            .iter()
            .map(|a| crate::api::app::AppRow { cluster_name: cluster_name.clone(), ..crate::api::app::map::app(a) })
            .collect(),
        firing: extras.firing.into_iter().map(crate::api::observe::map::alert).collect(),
        series: crate::api::observe::map::series(extras.series),
    }
}
