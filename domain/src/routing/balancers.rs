//! Load balancers: named objects of a cluster, as in the product Berth is modelled on. Its front
//! ports are opened by the routers on the cluster's edge nodes; an app's `berth.lb.port_N:
//! tcp://<name>:<front port>` binds one service's port N to one front port (deploys refuse a name
//! the cluster does not have, and a front port another app holds: `apps/routes.rs`). Cluster
//! admins create and delete them; one still named by an app's label cannot be deleted.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::BalancerRow;
use crate::Berth;

/// A load balancer with the front ports the cluster's apps bind on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub ports: Vec<Binding>,
}

/// One front port of a load balancer and the service behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub front_port: u16,
    pub app: String,
    pub service: String,
    /// The container port the front port forwards to.
    pub port: u16,
}

/// Checks a load balancer's name: a DNS label (the grammar of `berth.lb.port_N` names).
pub fn check_name(written: &str) -> Result<String> {
    let name = written.trim().to_ascii_lowercase();
    match compose::lb_target(&format!("tcp://{name}:1")) {
        Ok(t) if t.name == name => Ok(name),
        _ => Err(Error::invalid(
            "name",
            format!("`{written}` is not a load balancer name: lowercase letters, digits and inner `-`, at most 63"),
        )),
    }
}

impl Berth {
    /// A cluster's load balancers with their bindings: everyone who sees the cluster.
    pub async fn load_balancers(&self, actor: &Actor, cluster_id: i64) -> Result<Vec<LoadBalancer>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "routing.balancers", cluster_id.to_string())
            .await?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        self.balancer_list(cluster_id).await
    }

    pub(crate) async fn balancer_list(&self, cluster_id: i64) -> Result<Vec<LoadBalancer>> {
        let bindings = self.lb_bindings(cluster_id).await?;
        Ok(self
            .store
            .balancers(cluster_id)
            .await?
            .into_iter()
            .map(|b| LoadBalancer {
                ports: bindings.iter().filter(|(lb, _)| *lb == b.name).map(|(_, p)| p.clone()).collect(),
                name: b.name,
                created_by: b.created_by,
                created_at: b.created_at,
            })
            .collect())
    }

    /// Every `berth.lb.port_N` binding of the cluster's apps (current versions): (balancer, binding).
    /// The routed services come from the routing loop's memory of each version, so a page refresh
    /// parses no template the loop has read already.
    async fn lb_bindings(&self, cluster_id: i64) -> Result<Vec<(String, Binding)>> {
        let mut out = Vec::new();
        let mut read = Vec::new();
        for app in self.store.apps(Some(cluster_id)).await?.into_iter().filter(|a| a.status != "deleting") {
            let Some(services) = self.routed_specs(&app, app.version, &mut read).await else { continue };
            for (service, ext) in &services {
                for (&port, written) in &ext.lb {
                    if let Ok(t) = compose::lb_target(written) {
                        let b =
                            Binding { front_port: t.front_port, app: app.name.clone(), service: service.clone(), port };
                        out.push((t.name, b));
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.0, a.1.front_port).cmp(&(&b.0, b.1.front_port)));
        Ok(out)
    }

    /// Creates a load balancer (cluster admins).
    pub async fn create_load_balancer(&self, actor: &Actor, cluster_id: i64, name: &str) -> Result<LoadBalancer> {
        let op = Op {
            action: "routing.balancer.create",
            permission: Permission::ClusterManage(cluster_id),
            target: format!("{cluster_id}/{name}"),
            params: json!({ "cluster": cluster_id, "name": name }),
        };
        self.mutate(actor, op, |user| async move {
            let cluster = self
                .store
                .cluster(cluster_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
            let name = check_name(name)?;
            let row =
                BalancerRow { cluster_id, name: name.clone(), created_by: user.username.clone(), created_at: now_ms() };
            if !self.store.balancer_insert(&row).await? {
                return Err(Error::invalid(
                    "name",
                    format!("cluster {} has a load balancer named {name}", cluster.name),
                ));
            }
            Ok(LoadBalancer { name, created_by: row.created_by, created_at: row.created_at, ports: Vec::new() })
        })
        .await
    }

    /// Deletes a load balancer no app's label names (cluster admins).
    pub async fn delete_load_balancer(&self, actor: &Actor, cluster_id: i64, name: &str) -> Result<()> {
        let op = Op {
            action: "routing.balancer.delete",
            permission: Permission::ClusterManage(cluster_id),
            target: format!("{cluster_id}/{name}"),
            params: json!({ "cluster": cluster_id, "name": name }),
        };
        self.mutate(actor, op, |_| async move {
            let users: Vec<String> = self
                .lb_bindings(cluster_id)
                .await?
                .into_iter()
                .filter(|(lb, _)| lb == name)
                .map(|(_, b)| format!("{}/{} (front port {})", b.app, b.service, b.front_port))
                .collect();
            if !users.is_empty() {
                return Err(Error::Conflict(format!(
                    "load balancer {name} is bound by {}: change their berth.lb labels first",
                    users.join(", ")
                )));
            }
            if !self.store.balancer_delete(cluster_id, name).await? {
                return Err(Error::NotFound(format!("load balancer {name}")));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn load_balancer_names_are_dns_labels() {
        assert_eq!(check_name(" Front-1 ").unwrap(), "front-1");
        for bad in ["", "front_1", "-front", "a.b", "tcp://x", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
