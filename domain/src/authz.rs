//! Authorization: the one entry point every domain operation goes through.
//!
//! An operation names the [`Permission`] it needs; [`authorize`] decides from the [`Actor`] alone: the
//! user's installation role, their grants (user × cluster or every cluster × role) and, for API tokens,
//! the token's scope, which can only narrow what the user has. Pages and server functions never decide
//! who may do what; lists are filtered here too (see `Berth::clusters`).

use crate::error::{Error, Result};

/// A user's installation-wide role. What a plain user may do comes from their grants
/// ([`Grant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, everywhere.
    Admin,
    /// A sub-account: only what their grants allow.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// Who is calling, from where, as part of which request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub principal: Principal,
    /// The client's address as the server saw it (for the operation history and throttling).
    pub source: String,
    /// The request id that ties a log line, an operation row and (later) Docker labels together.
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(UserRef),
}

/// The parts of a user that authorization and the operation history need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRef {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// What the user may do on which clusters (ignored for admins, who may do everything).
    pub grants: Vec<Grant>,
    /// Set when the request came with an API token rather than a console session.
    pub token: Option<TokenScope>,
}

/// A role on clusters, weakest first: each includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterRole {
    /// Read only.
    Viewer,
    /// Deploy and operate apps.
    Operator,
    /// Nodes, apps and resources of the cluster.
    ClusterAdmin,
}

impl ClusterRole {
    pub const ALL: [ClusterRole; 3] = [ClusterRole::Viewer, ClusterRole::Operator, ClusterRole::ClusterAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterRole::Viewer => "viewer",
            ClusterRole::Operator => "operator",
            ClusterRole::ClusterAdmin => "cluster_admin",
        }
    }

    pub fn parse(s: &str) -> Option<ClusterRole> {
        ClusterRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ClusterRole::Viewer => "Viewer",
            ClusterRole::Operator => "Operator",
            ClusterRole::ClusterAdmin => "Cluster admin",
        }
    }
}

/// A user's role on one cluster, or on every cluster when `cluster` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    pub cluster: Option<i64>,
    pub role: ClusterRole,
}

/// What an API token may do at most: a role (admin included) and optionally one cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenScope {
    /// `None` is the admin scope: whatever the user may do.
    pub role: Option<ClusterRole>,
    pub cluster: Option<i64>,
}

/// How much an actor may do on a cluster, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Role(ClusterRole),
    Admin,
}

/// The user id of [`Actor::system`] and [`Actor::trigger`]: no account has it (ids start at 1).
const SYSTEM_USER_ID: i64 = 0;

/// How the history names a trigger's calls: `trigger:<name>`.
pub const TRIGGER_PREFIX: &str = "trigger:";

impl Actor {
    pub fn anonymous(source: impl Into<String>, request_id: impl Into<String>) -> Self {
        Actor { principal: Principal::Anonymous, source: source.into(), request_id: request_id.into() }
    }

    /// Berth itself acting (a progressive release stepping, the autoscaler): allowed what an admin
    /// is, named `name` in the history, on the `system` channel.
    pub fn system(name: &str) -> Self {
        Actor {
            principal: Principal::User(UserRef::admin(SYSTEM_USER_ID, name)),
            source: "local".into(),
            request_id: name.into(),
        }
    }

    /// Whether this is Berth itself acting ([`Actor::system`]).
    pub fn is_system(&self) -> bool {
        self.source == "local" && self.user().is_some_and(|u| u.id == SYSTEM_USER_ID)
    }

    /// An app trigger called by a CI system that proved it holds the trigger's secret: an operator
    /// of the app's cluster and no more (a token scope of that role and cluster, so the workload
    /// policy applies as for any operator and nothing outside the cluster is in reach), named
    /// `trigger:<name>` in the history on the `trigger` channel, from the caller's address. No
    /// account is behind it.
    pub fn trigger(name: &str, cluster: i64, source: impl Into<String>, request_id: impl Into<String>) -> Self {
        let scope = TokenScope { role: Some(ClusterRole::Operator), cluster: Some(cluster) };
        Actor {
            principal: Principal::User(UserRef {
                id: SYSTEM_USER_ID,
                username: format!("{TRIGGER_PREFIX}{name}"),
                role: Role::User,
                grants: vec![Grant { cluster: Some(cluster), role: ClusterRole::Operator }],
                token: Some(scope),
            }),
            source: source.into(),
            request_id: request_id.into(),
        }
    }

    /// Whether this is an app trigger's call ([`Actor::trigger`]).
    pub fn is_trigger(&self) -> bool {
        !self.is_system()
            && self.user().is_some_and(|u| u.id == SYSTEM_USER_ID && u.username.starts_with(TRIGGER_PREFIX))
    }

    /// Whether an account stands behind this actor (not Berth itself, not a trigger).
    pub fn has_account(&self) -> bool {
        self.user().is_some_and(|u| u.id != SYSTEM_USER_ID)
    }

    pub fn user(&self) -> Option<&UserRef> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::Anonymous => None,
        }
    }
}

impl UserRef {
    /// An admin signed in to the console (for tools and tests that act as one).
    pub fn admin(id: i64, username: impl Into<String>) -> UserRef {
        UserRef { id, username: username.into(), role: Role::Admin, grants: Vec::new(), token: None }
    }

    /// The user's level on `cluster`, before any token scope.
    fn own_level(&self, cluster: i64) -> Level {
        if self.role == Role::Admin {
            return Level::Admin;
        }
        self.grants
            .iter()
            .filter(|g| g.cluster.is_none_or(|c| c == cluster))
            .map(|g| Level::Role(g.role))
            .max()
            .unwrap_or(Level::None)
    }

    /// The level this request has on `cluster`: the user's, narrowed by the token's scope.
    pub fn level(&self, cluster: i64) -> Level {
        let own = self.own_level(cluster);
        match self.token {
            None => own,
            Some(scope) if scope.cluster.is_some_and(|c| c != cluster) => Level::None,
            Some(TokenScope { role: None, .. }) => own,
            Some(TokenScope { role: Some(role), .. }) => own.min(Level::Role(role)),
        }
    }

    /// Whether this request acts with the installation's admin role (an admin, not narrowed by a token).
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin && self.token.is_none_or(|t| t.role.is_none() && t.cluster.is_none())
    }
}

/// What an operation needs. One variant per kind of access, named after the noun it touches;
/// cluster permissions carry the cluster so that per-cluster grants can decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the local engine's overview (the machine Berth runs on): admins.
    EngineRead,
    /// Read the whole operation history: admins.
    OperationRead,
    /// End one's own session, change one's own password, see and revoke one's own sessions and
    /// tokens: any signed-in user, from a console session (not with an API token).
    OwnAccount,
    /// See the list of clusters, filtered to those each entry's `ClusterRead` allows: any user.
    ClusterList,
    /// Create a cluster, prepare hosts (Berth's CA): admins.
    ClusterCreate,
    /// Delete a cluster: admins.
    ClusterDelete(i64),
    /// See one cluster, its nodes, jobs and dashboard: viewer and up on it.
    ClusterRead(i64),
    /// Deploy and operate apps on one cluster: operator and up on it.
    AppOperate(i64),
    /// Change one cluster: rename, nodes, shared dashboard links: cluster admin and up on it.
    ClusterManage(i64),
    /// Set installation quotas: admins.
    QuotaManage,
    /// Manage accounts, grants and anyone's sessions and tokens: admins.
    UserManage,
    /// Read the template catalog: anyone signed in.
    TemplateRead,
    /// Save and delete catalog templates: admins.
    TemplateManage,
    /// Deploy what the workload policy keeps from other users (privileged, host namespaces, devices,
    /// added capabilities, binds of `/` or the Docker socket) on one cluster: admins.
    PrivilegedWorkload(i64),
}

impl Permission {
    /// One of each kind (cluster 1 for the per-cluster ones), for tests that walk them all.
    pub const ALL: &'static [Permission] = &[
        Permission::EngineRead,
        Permission::OperationRead,
        Permission::OwnAccount,
        Permission::ClusterList,
        Permission::ClusterCreate,
        Permission::ClusterDelete(1),
        Permission::ClusterRead(1),
        Permission::AppOperate(1),
        Permission::ClusterManage(1),
        Permission::QuotaManage,
        Permission::UserManage,
        Permission::TemplateRead,
        Permission::TemplateManage,
        Permission::PrivilegedWorkload(1),
    ];

    /// The cluster a per-cluster permission is about.
    pub fn cluster(self) -> Option<i64> {
        match self {
            Permission::ClusterRead(c)
            | Permission::AppOperate(c)
            | Permission::ClusterManage(c)
            | Permission::ClusterDelete(c)
            | Permission::PrivilegedWorkload(c) => Some(c),
            _ => None,
        }
    }
}

/// Decides whether `actor` may do what `permission` covers. Deny by default: a permission that no rule
/// grants is refused.
pub fn authorize(actor: &Actor, permission: Permission) -> Result<&UserRef> {
    let Principal::User(user) = &actor.principal else {
        return Err(Error::Unauthenticated);
    };
    let on = |cluster: i64, needed: ClusterRole| user.level(cluster) >= Level::Role(needed);
    let allowed = match permission {
        Permission::OwnAccount => user.token.is_none(),
        Permission::ClusterList => true,
        Permission::ClusterRead(c) => on(c, ClusterRole::Viewer),
        Permission::AppOperate(c) => on(c, ClusterRole::Operator),
        Permission::ClusterManage(c) => on(c, ClusterRole::ClusterAdmin),
        Permission::ClusterDelete(c) | Permission::PrivilegedWorkload(c) => {
            user.is_admin() && user.level(c) == Level::Admin
        }
        Permission::TemplateRead => true,
        Permission::EngineRead
        | Permission::OperationRead
        | Permission::ClusterCreate
        | Permission::QuotaManage
        | Permission::UserManage
        | Permission::TemplateManage => user.is_admin(),
    };
    if allowed {
        Ok(user)
    } else {
        Err(Error::Forbidden(refusal(user, permission)))
    }
}

/// The refusal a person reads: what they lack, never what exists.
fn refusal(user: &UserRef, permission: Permission) -> String {
    let via = if user.token.is_some() { " with this API token" } else { "" };
    match permission {
        Permission::ClusterRead(c) => format!("You are not permitted to see cluster {c}{via}."),
        Permission::AppOperate(c) => {
            format!("You are not permitted to operate apps on cluster {c}{via}; that needs the operator role.")
        }
        Permission::ClusterManage(c) => {
            format!("You are not permitted to change cluster {c}{via}; that needs the cluster admin role.")
        }
        Permission::OwnAccount => "Account settings cannot be changed with an API token.".into(),
        Permission::PrivilegedWorkload(_) => {
            format!("Only admins may deploy this{via}: the workload policy refuses it for other users.")
        }
        _ => format!("You are not permitted to do this{via}; it needs the admin role."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;

    fn actor(role: Role, grants: &[Grant], token: Option<TokenScope>) -> Actor {
        Actor {
            principal: Principal::User(UserRef { id: 7, username: "ann".into(), role, grants: grants.to_vec(), token }),
            source: "127.0.0.1".into(),
            request_id: "r".into(),
        }
    }

    fn on(cluster: i64, role: ClusterRole) -> Grant {
        Grant { cluster: Some(cluster), role }
    }

    #[test]
    fn anonymous_is_refused_everything() {
        let anon = Actor::anonymous("127.0.0.1", "r");
        for p in Permission::ALL {
            assert!(matches!(authorize(&anon, *p), Err(Error::Unauthenticated)), "{p:?}");
        }
    }

    #[test]
    fn admin_is_allowed_everything() {
        let admin = actor(Role::Admin, &[], None);
        for p in Permission::ALL {
            assert_eq!(authorize(&admin, *p).map(|u| u.id).ok(), Some(7), "{p:?}");
        }
    }

    /// Every permission × every cluster role × granted cluster (1) or another (2).
    #[test]
    fn cluster_roles_matrix() {
        use ClusterRole::*;
        // The roles that may, on the granted cluster; nobody may on another.
        let expected: &[(Permission, &[ClusterRole])] = &[
            (P::EngineRead, &[]),
            (P::OperationRead, &[]),
            (P::OwnAccount, &[Viewer, Operator, ClusterAdmin]),
            (P::ClusterList, &[Viewer, Operator, ClusterAdmin]),
            (P::ClusterCreate, &[]),
            (P::ClusterDelete(1), &[]),
            (P::ClusterRead(1), &[Viewer, Operator, ClusterAdmin]),
            (P::AppOperate(1), &[Operator, ClusterAdmin]),
            (P::ClusterManage(1), &[ClusterAdmin]),
            (P::QuotaManage, &[]),
            (P::UserManage, &[]),
            (P::TemplateRead, &[Viewer, Operator, ClusterAdmin]),
            (P::TemplateManage, &[]),
            (P::PrivilegedWorkload(1), &[]),
        ];
        assert_eq!(expected.len(), Permission::ALL.len());
        let mut unexpected = Vec::new();
        for (permission, allowed) in expected {
            for role in ClusterRole::ALL {
                let a = actor(Role::User, &[on(1, role)], None);
                let got = authorize(&a, *permission).is_ok();
                if got != allowed.contains(&role) {
                    unexpected.push(format!("{permission:?} as {role:?}: {got}"));
                }
                if let Some(c) = permission.cluster() {
                    let other = match permission {
                        P::ClusterRead(_) => P::ClusterRead(c + 1),
                        P::AppOperate(_) => P::AppOperate(c + 1),
                        P::ClusterManage(_) => P::ClusterManage(c + 1),
                        P::PrivilegedWorkload(_) => P::PrivilegedWorkload(c + 1),
                        _ => P::ClusterDelete(c + 1),
                    };
                    if authorize(&a, other).is_ok() {
                        unexpected.push(format!("{other:?} as {role:?} on cluster 1: allowed"));
                    }
                }
            }
        }
        assert!(unexpected.is_empty(), "{unexpected:#?}");
    }

    #[test]
    fn grants_on_every_cluster_and_the_strongest_wins() {
        let a = actor(
            Role::User,
            &[Grant { cluster: None, role: ClusterRole::Viewer }, on(3, ClusterRole::Operator)],
            None,
        );
        assert!(authorize(&a, P::ClusterRead(99)).is_ok());
        assert!(authorize(&a, P::AppOperate(99)).is_err());
        assert!(authorize(&a, P::AppOperate(3)).is_ok());
        assert!(authorize(&a, P::ClusterManage(3)).is_err());
        let none = actor(Role::User, &[], None);
        assert!(authorize(&none, P::ClusterRead(1)).is_err());
        assert!(authorize(&none, P::ClusterList).is_ok());
    }

    #[test]
    fn token_scopes_only_narrow() {
        let viewer_token = Some(TokenScope { role: Some(ClusterRole::Viewer), cluster: None });
        let admin_as_viewer = actor(Role::Admin, &[], viewer_token);
        assert!(authorize(&admin_as_viewer, P::ClusterRead(5)).is_ok());
        assert!(authorize(&admin_as_viewer, P::AppOperate(5)).is_err());
        assert!(authorize(&admin_as_viewer, P::ClusterCreate).is_err());
        assert!(authorize(&admin_as_viewer, P::OwnAccount).is_err());

        let admin_token = Some(TokenScope { role: None, cluster: None });
        let operator_with_admin_token = actor(Role::User, &[on(1, ClusterRole::Operator)], admin_token);
        assert!(authorize(&operator_with_admin_token, P::AppOperate(1)).is_ok());
        assert!(authorize(&operator_with_admin_token, P::ClusterManage(1)).is_err());
        assert!(authorize(&operator_with_admin_token, P::UserManage).is_err());

        let one_cluster = Some(TokenScope { role: None, cluster: Some(2) });
        let admin_on_two = actor(Role::Admin, &[], one_cluster);
        assert!(authorize(&admin_on_two, P::ClusterManage(2)).is_ok());
        assert!(authorize(&admin_on_two, P::ClusterRead(1)).is_err());
        assert!(authorize(&admin_on_two, P::ClusterCreate).is_err());
        assert!(authorize(&admin_on_two, P::ClusterDelete(2)).is_err());

        let full = actor(Role::Admin, &[], admin_token);
        assert!(authorize(&full, P::UserManage).is_ok());
    }

    #[test]
    fn a_trigger_is_an_operator_of_its_cluster_only() {
        let t = Actor::trigger("ci", 3, "10.0.0.9", "r");
        assert!(t.is_trigger() && !t.is_system() && !t.has_account());
        assert_eq!(t.user().unwrap().username, "trigger:ci");
        assert!(authorize(&t, P::AppOperate(3)).is_ok());
        for refused in [P::AppOperate(4), P::ClusterManage(3), P::PrivilegedWorkload(3), P::OwnAccount, P::UserManage] {
            assert!(authorize(&t, refused).is_err(), "{refused:?}");
        }
        assert!(!Actor::system("progressive").is_trigger());
        assert!(actor(Role::Admin, &[], None).has_account());
    }

    #[test]
    fn refusals_say_what_is_missing() {
        let a = actor(Role::User, &[on(1, ClusterRole::Viewer)], None);
        let Err(Error::Forbidden(m)) = authorize(&a, P::ClusterRead(2)) else { panic!() };
        assert_eq!(m, "You are not permitted to see cluster 2.");
        let Err(Error::Forbidden(m)) = authorize(&a, P::UserManage) else { panic!() };
        assert!(m.contains("admin role"), "{m}");
    }
}
