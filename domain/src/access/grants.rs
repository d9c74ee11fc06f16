//! Grants: a user's role (viewer, operator, cluster admin) on one cluster or on every cluster;
//! what a sub-account may do comes from its grants alone.

use serde_json::json;

use crate::access::user::Role;
use crate::audit::operation::Op;
use crate::authz::{Actor, ClusterRole, Grant, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::Berth;

impl Berth {
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
}
