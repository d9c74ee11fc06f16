//! Authorization: the one entry point every domain operation goes through.
//!
//! An operation names the [`Permission`] it needs; [`authorize`] decides from the [`Actor`] alone.
//! Later roles and per-cluster grants plug in here and nowhere else: pages and server functions never
//! decide who may do what.

use crate::error::{Error, Result};
use crate::user::Role;

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
}

impl Actor {
    pub fn anonymous(source: impl Into<String>, request_id: impl Into<String>) -> Self {
        Actor { principal: Principal::Anonymous, source: source.into(), request_id: request_id.into() }
    }

    pub fn user(&self) -> Option<&UserRef> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::Anonymous => None,
        }
    }
}

/// What an operation needs. One variant per kind of access, named after the noun it touches;
/// cluster permissions carry the cluster so that per-cluster grants can decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the local engine's overview.
    EngineRead,
    /// Read the operation history.
    OperationRead,
    /// End one's own session.
    SessionEnd,
    /// See the list of clusters (each entry still needs `ClusterRead`).
    ClusterList,
    /// Create a cluster.
    ClusterCreate,
    /// See one cluster, its nodes and jobs.
    ClusterRead(i64),
    /// Change one cluster: rename, delete, nodes.
    ClusterManage(i64),
    /// Set installation quotas.
    QuotaManage,
}

impl Permission {
    /// One of each kind (cluster 1 for the per-cluster ones), for tests that walk them all.
    pub const ALL: &'static [Permission] = &[
        Permission::EngineRead,
        Permission::OperationRead,
        Permission::SessionEnd,
        Permission::ClusterList,
        Permission::ClusterCreate,
        Permission::ClusterRead(1),
        Permission::ClusterManage(1),
        Permission::QuotaManage,
    ];
}

/// Decides whether `actor` may do what `permission` covers. Deny by default: a permission that no rule
/// grants is refused.
pub fn authorize(actor: &Actor, permission: Permission) -> Result<&UserRef> {
    let Principal::User(user) = &actor.principal else {
        return Err(Error::Unauthenticated);
    };
    let allowed = match (user.role, permission) {
        (Role::Admin, _) => true,
    };
    if allowed {
        Ok(user)
    } else {
        Err(Error::Forbidden(format!("{permission:?} is not granted to {}", user.username)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Actor {
        Actor {
            principal: Principal::User(UserRef { id: 1, username: "root".into(), role: Role::Admin }),
            source: "127.0.0.1".into(),
            request_id: "r".into(),
        }
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
        let admin = admin();
        for p in Permission::ALL {
            assert_eq!(authorize(&admin, *p).map(|u| u.id).ok(), Some(1), "{p:?}");
        }
    }
}
