//! Nodes: the engines of a cluster, and what an admin does to them — drain, pause, activate,
//! promote, demote, label, zone, add, remove.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clusters::providers::Provider;
use crate::engine::{Engine, NodeAvailability, NodeRole, SwarmTask};
use crate::error::{Error, Result};
use crate::runtime::job::{JobCtx, JobSpec, Prepared};
use crate::Berth;

pub use crate::store::{NewNode, Node, NodeObservation};

/// The swarm label that carries a node's zone (placement preferences spread over it).
pub const ZONE_LABEL: &str = "berth.zone";

impl Node {
    pub fn is_manager(&self) -> bool {
        self.role == NodeRole::Manager.as_str()
    }
}

/// A node with the tasks the swarm runs on it, for the node page.
#[derive(Clone, Debug)]
pub struct NodeDetail {
    pub node: Node,
    /// `(task, service name)`.
    pub tasks: Vec<(SwarmTask, String)>,
    /// Why the tasks could not be listed, if they could not.
    pub tasks_error: Option<String>,
}

/// Label keys: `a-z 0-9 . _ - /`, at most 128 characters, not in Berth's own `berth.` namespace.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in labels {
        if key.is_empty() || key.len() > 128 {
            return Err(Error::invalid("labels", format!("label key {key:?} must have 1–128 characters")));
        }
        if let Some(bad) = key.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))) {
            return Err(Error::invalid("labels", format!("label key {key:?} may not contain {bad:?}")));
        }
        if key.starts_with("berth.") {
            return Err(Error::invalid("labels", format!("{key:?}: keys starting with 'berth.' are Berth's own")));
        }
        if value.len() > 256 || value.chars().any(char::is_control) {
            return Err(Error::invalid(
                "labels",
                format!("the value of {key:?} is too long or has control characters"),
            ));
        }
    }
    Ok(())
}

impl Berth {
    /// The engine of a node (cached per endpoint): a unix socket, plain tcp, or tcp with mutual TLS
    /// under Berth's CA.
    pub(crate) async fn node_engine(&self, node: &Node) -> Result<Arc<Engine>> {
        if let Some(engine) = self.engines.lock().unwrap_or_else(|p| p.into_inner()).get(&node.endpoint) {
            return Ok(engine.clone());
        }
        let endpoint = crate::engine::Endpoint::parse(&node.endpoint)?;
        let engine = match (&endpoint, node.tls.as_str()) {
            (crate::engine::Endpoint::Tcp(addr), "mtls") => {
                Arc::new(Engine::with_tls(addr, self.tls_material().await?, self.config.node_timeout))
            }
            _ => Arc::new(Engine::new(endpoint, self.config.node_timeout)),
        };
        let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        Ok(engines.entry(node.endpoint.clone()).or_insert(engine).clone())
    }

    /// What Berth trusts and presents to hosts.
    pub(crate) async fn tls_material(&self) -> Result<crate::engine::TlsMaterial> {
        let pki = self.pki().await?;
        Ok(crate::engine::TlsMaterial {
            ca_pem: pki.ca_cert.clone(),
            cert_pem: pki.client_cert.clone(),
            key_pem: pki.client_key.clone(),
        })
    }

    /// A manager of the cluster whose engine answers, the leader first. Managers are asked at once,
    /// each for at most `node_timeout`, so this answers `node_unreachable` in bounded time.
    pub(crate) async fn reachable_manager(&self, cluster_id: i64) -> Result<(Node, Arc<Engine>)> {
        let mut managers: Vec<Node> = self
            .store
            .nodes(cluster_id)
            .await?
            .into_iter()
            .filter(|n| n.is_manager() && n.state != "pending")
            .collect();
        managers.sort_by_key(|n| (n.leader == 0, n.state != "ready", n.id));
        let probes = managers.iter().map(|m| async move {
            let engine = self.node_engine(m).await?;
            engine.ping().await.map_err(Error::from)?;
            Ok::<_, Error>(engine)
        });
        let answers = futures::future::join_all(probes).await;
        for (manager, answer) in managers.into_iter().zip(answers) {
            if let Ok(engine) = answer {
                return Ok((manager, engine));
            }
        }
        Err(Error::NodeUnreachable("no manager of this cluster answers".into()))
    }

    async fn cluster_node(&self, cluster_id: i64, node_id: i64) -> Result<Node> {
        match self.store.node(node_id).await? {
            Some(node) if node.cluster_id == cluster_id => Ok(node),
            _ => Err(Error::NotFound(format!("node {node_id}"))),
        }
    }

    /// A node, the tasks on it and what runs them.
    pub async fn node_detail(&self, actor: &Actor, cluster_id: i64, node_id: i64) -> Result<NodeDetail> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "node.read", cluster_id.to_string()).await?;
        let node = self.cluster_node(cluster_id, node_id).await?;
        let (tasks, tasks_error) = if node.swarm_node_id.is_empty() {
            (Vec::new(), None)
        } else {
            match self.tasks_on(cluster_id, &node.swarm_node_id).await {
                Ok(tasks) => (tasks, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        let (mut node, mut tasks_error) = (node, tasks_error);
        if crate::authz::authorize(actor, Permission::ClusterManage(cluster_id)).is_err() {
            self.hide_node_paths(&mut node);
            tasks_error = tasks_error.map(|e| self.hide_paths(&e));
        }
        Ok(NodeDetail { node, tasks, tasks_error })
    }

    /// The tasks the swarm has on one node, with their services' names.
    async fn tasks_on(&self, cluster_id: i64, swarm_node_id: &str) -> Result<Vec<(SwarmTask, String)>> {
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let services = manager.swarm_service_names().await?;
        let tasks = manager.swarm_tasks(Some(swarm_node_id)).await?;
        Ok(tasks
            .into_iter()
            .map(|t| {
                let name = services.get(&t.service_id).cloned().unwrap_or_default();
                (t, name)
            })
            .collect())
    }

    /// Drain, pause or activate a node.
    pub async fn set_node_availability(
        &self,
        actor: &Actor,
        cluster_id: i64,
        node_id: i64,
        availability: NodeAvailability,
    ) -> Result<()> {
        let op = Op {
            action: "node.set_availability",
            permission: Permission::ClusterManage(cluster_id),
            target: node_id.to_string(),
            params: json!({ "cluster": cluster_id, "availability": availability.as_str() }),
        };
        self.mutate(actor, op, |_| async {
            let node = self.swarm_member(cluster_id, node_id).await?;
            let (_, manager) = self.reachable_manager(cluster_id).await?;
            manager.swarm_update_node(&node.swarm_node_id, |n| n.availability = availability).await?;
            self.refresh_cluster(cluster_id).await;
            Ok(())
        })
        .await
    }

    /// Promote a worker or demote a manager. The last manager cannot be demoted.
    pub async fn set_node_role(&self, actor: &Actor, cluster_id: i64, node_id: i64, role: NodeRole) -> Result<()> {
        let op = Op {
            action: "node.set_role",
            permission: Permission::ClusterManage(cluster_id),
            target: node_id.to_string(),
            params: json!({ "cluster": cluster_id, "role": role.as_str() }),
        };
        self.mutate(actor, op, |_| async {
            let node = self.swarm_member(cluster_id, node_id).await?;
            if role == NodeRole::Worker && node.is_manager() {
                let managers = self.store.nodes(cluster_id).await?.iter().filter(|n| n.is_manager()).count();
                if managers <= 1 {
                    return Err(Error::Conflict(
                        "the last manager cannot be demoted; promote another node first".into(),
                    ));
                }
            }
            if role == NodeRole::Manager && node.state != "ready" {
                return Err(Error::Conflict(format!(
                    "{} is {}; only a ready node can be promoted",
                    node.name, node.state
                )));
            }
            let (_, manager) = self.reachable_manager(cluster_id).await?;
            manager.swarm_update_node(&node.swarm_node_id, |n| n.role = role).await?;
            if role == NodeRole::Manager {
                // A promoted node is a manager once it is a reachable member of raft; until then it
                // cannot be demoted again, so answer only when it is.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let joined = manager
                        .swarm_nodes()
                        .await?
                        .iter()
                        .any(|n| n.id == node.swarm_node_id && n.manager_reachable == Some(true));
                    if joined || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            self.refresh_cluster(cluster_id).await;
            Ok(())
        })
        .await
    }

    /// Sets a node's zone and its other labels (replacing them).
    pub async fn set_node_labels(
        &self,
        actor: &Actor,
        cluster_id: i64,
        node_id: i64,
        zone: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<()> {
        let op = Op {
            action: "node.set_labels",
            permission: Permission::ClusterManage(cluster_id),
            target: node_id.to_string(),
            params: json!({ "cluster": cluster_id, "zone": zone, "labels": labels }),
        };
        self.mutate(actor, op, |_| async {
            let zone = crate::clusters::cluster::validate_name("zone", zone, 32)?;
            validate_labels(labels)?;
            let node = self.swarm_member(cluster_id, node_id).await?;
            let (_, manager) = self.reachable_manager(cluster_id).await?;
            let mut wanted = labels.clone();
            wanted.insert(ZONE_LABEL.into(), zone.clone());
            manager
                .swarm_update_node(&node.swarm_node_id, |n| {
                    // Keep labels others set in Berth's namespace except the zone, which this sets.
                    let mut next: BTreeMap<String, String> = n
                        .labels
                        .iter()
                        .filter(|(k, _)| k.starts_with("berth."))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    next.extend(wanted.clone());
                    n.labels = next;
                })
                .await?;
            self.refresh_cluster(cluster_id).await;
            Ok(())
        })
        .await
    }

    /// A node that is in the swarm (has joined), or why not.
    async fn swarm_member(&self, cluster_id: i64, node_id: i64) -> Result<Node> {
        let node = self.cluster_node(cluster_id, node_id).await?;
        if node.swarm_node_id.is_empty() || node.state == "pending" || node.state == "removing" {
            return Err(Error::Conflict(format!("{} is {} and not (yet) in the swarm", node.name, node.state)));
        }
        Ok(node)
    }

    /// Waits until no task the swarm wants running is still on `swarm_node_id`, or `limit` passes.
    pub(crate) async fn wait_tasks_moved(
        &self,
        manager: &Engine,
        swarm_node_id: &str,
        limit: Duration,
    ) -> Result<usize> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = manager
                .swarm_tasks(Some(swarm_node_id))
                .await?
                .into_iter()
                .filter(|t| t.desired_state == "running" || t.state == "running")
                .count();
            if left == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(left);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Removing nodes, and what a failed or interrupted addition leaves.
impl Berth {
    /// Removes a node (a job; returns its id): drains it so its tasks move to other nodes, waits for
    /// them to move, makes it leave the swarm (demoting a manager first), removes it from the node
    /// list and removes what its provider made for it (a local node's container).
    pub async fn remove_node(&self, actor: &Actor, cluster_id: i64, node_id: i64) -> Result<i64> {
        let op = Op {
            action: "node.remove",
            permission: Permission::ClusterManage(cluster_id),
            target: node_id.to_string(),
            params: json!({ "cluster": cluster_id }),
        };
        // The steps are the provider's, known once the node is found.
        let spec = JobSpec { op, kind: "node.remove", steps: &[] };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let node = match this.store.node(node_id).await? {
                    Some(n) if n.cluster_id == cluster_id => n,
                    _ => return Err(Error::NotFound(format!("node {node_id}"))),
                };
                let nodes = this.store.nodes(cluster_id).await?;
                if nodes.len() == 1 {
                    return Err(Error::Conflict(
                        "a cluster keeps at least one node; delete the cluster instead".into(),
                    ));
                }
                if node.is_manager() && nodes.iter().filter(|n| n.is_manager()).count() == 1 {
                    return Err(Error::Conflict(
                        "the last manager cannot be removed; promote another node first".into(),
                    ));
                }
                let provider = this.provider_of(cluster_id).await?;
                let claim = this.claim(cluster_id).await?;
                this.store.node_set_state(node.id, "removing", "").await?;
                Ok(Prepared {
                    cluster_id: Some(cluster_id),
                    target: node.name.clone(),
                    claim: Some(claim),
                    input: (provider, node),
                    steps: Some(provider.remove_steps()),
                })
            },
            |berth, ctx, (provider, node)| async move {
                let result = berth.take_node_out(&ctx, provider, &node).await;
                if result.is_err() {
                    // Let the reconciler say what the node is now.
                    let _ = berth.store.node_set_state(node.id, "unknown", "").await;
                    berth.refresh_cluster(node.cluster_id).await;
                }
                result
            },
        )
        .await
    }

    async fn take_node_out(&self, ctx: &JobCtx, provider: &dyn Provider, node: &Node) -> Result<()> {
        let (_, manager) = self.reachable_manager(node.cluster_id).await?;
        ctx.step(0).await;
        let in_swarm = !node.swarm_node_id.is_empty();
        if in_swarm {
            manager.swarm_update_node(&node.swarm_node_id, |n| n.availability = NodeAvailability::Drain).await?;
        }
        ctx.step(1).await;
        if in_swarm {
            let left = self.wait_tasks_moved(&manager, &node.swarm_node_id, Duration::from_secs(60)).await?;
            if left > 0 {
                ctx.detail(format!("{left} tasks did not move within 60 s; going on")).await;
            }
        }
        ctx.step(2).await;
        if in_swarm {
            if node.is_manager() {
                manager.swarm_update_node(&node.swarm_node_id, |n| n.role = NodeRole::Worker).await?;
            }
            // The node itself leaves when its engine answers; otherwise the managers forget it.
            let engine = self.node_engine(node).await?;
            let left_cleanly = engine.swarm_leave(true).await.is_ok();
            if !left_cleanly {
                ctx.detail("the node's engine does not answer; removing it from the node list").await;
            }
            self.forget_swarm_node(&manager, &node.swarm_node_id).await?;
        }
        ctx.step(3).await;
        provider.release_node(self, node).await?;
        self.engines.lock().unwrap_or_else(|p| p.into_inner()).remove(&node.endpoint);
        self.store.node_delete(node.id).await?;
        self.refresh_cluster(node.cluster_id).await;
        Ok(())
    }

    /// Removes a swarm node from the managers' list, waiting briefly for it to be seen down first.
    async fn forget_swarm_node(&self, manager: &Engine, swarm_node_id: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match manager.swarm_remove_node(swarm_node_id, false).await {
                Ok(()) => return Ok(()),
                Err(e) if e.status() == Some(404) => return Ok(()),
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                // Still not down after the wait: force it out.
                Err(_) => {
                    return manager.swarm_remove_node(swarm_node_id, true).await.or_else(|e| match e.status() {
                        Some(404) => Ok(()),
                        _ => Err(e.into()),
                    })
                }
            }
        }
    }

    /// Undoes a node that never finished joining: its swarm entry if it got that far, what its
    /// provider made for it (a local node's container); then its row.
    pub(crate) async fn undo_pending_node(&self, provider: &dyn Provider, node: &Node) -> Result<()> {
        if !node.swarm_node_id.is_empty() {
            if let Ok((_, manager)) = self.reachable_manager(node.cluster_id).await {
                let _ = manager.swarm_remove_node(&node.swarm_node_id, true).await;
            }
        }
        provider.release_node(self, node).await?;
        self.engines.lock().unwrap_or_else(|p| p.into_inner()).remove(&node.endpoint);
        self.store.node_delete(node.id).await
    }

    /// Drops cached engine clients of a cluster's nodes.
    pub(crate) async fn forget_node_engines(&self, cluster_id: i64) -> Result<()> {
        let endpoints: Vec<String> = self.store.nodes(cluster_id).await?.into_iter().map(|n| n.endpoint).collect();
        let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        for endpoint in endpoints {
            engines.remove(&endpoint);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rules() {
        let ok: BTreeMap<String, String> = [("disk".into(), "ssd".into()), ("team/owner".into(), "ops".into())].into();
        assert!(validate_labels(&ok).is_ok());
        for (k, v) in [("", "x"), ("a b", "x"), ("berth.zone", "a"), ("k", "\u{7}")] {
            let labels: BTreeMap<String, String> = [(k.to_string(), v.to_string())].into();
            assert!(matches!(validate_labels(&labels), Err(Error::Invalid { .. })), "{k:?}={v:?}");
        }
    }
}
