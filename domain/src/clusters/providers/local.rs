//! The `local` provider: every node is a Docker-in-Docker container on the local engine, on a bridge
//! network of its cluster's own, reached by Berth through a unix socket in the data directory.
//!
//! The node image is built offline when missing: a near-empty root filesystem whose `/usr` is the
//! host's, bound read-only at run time (so the node runs the host's own dockerd), imported with
//! `docker import`. Another image (e.g. `docker:dind`) can be configured where a registry is reachable.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::cluster::{
    next_node_names, owned_by, ownership, spread_over_zones, validate_name, validate_zones, Cluster, NewCluster,
    MAX_NODES,
};
use crate::clusters::node::{NewNode, Node};
use crate::clusters::providers::Provider;
use crate::clusters::swarm::wait_until_answers;
use crate::engine::{Endpoint, Engine, NodeContainerSpec, NodeRole};
use crate::error::{Checks, Error, Internal, Result};
use crate::runtime::job::{JobCtx, JobSpec, Prepared};
use crate::Berth;

/// The `local` provider (see the module's documentation).
pub(crate) struct Local;

/// The name of local clusters' provider.
const NAME: &str = "local";

impl Provider for Local {
    fn name(&self) -> &'static str {
        NAME
    }

    fn create_steps(&self) -> &'static [&'static str] {
        CREATE_STEPS
    }

    fn add_steps(&self) -> &'static [&'static str] {
        ADD_STEPS
    }

    fn remove_steps(&self) -> &'static [&'static str] {
        REMOVE_STEPS
    }

    fn delete_steps(&self) -> &'static [&'static str] {
        DELETE_STEPS
    }

    fn engine_is_the_node(&self) -> bool {
        true
    }

    /// The node's container and its socket directory.
    fn release_node<'a>(&'a self, berth: &'a Berth, node: &'a Node) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !node.container.is_empty() {
                berth.engine.container_remove(&node.container).await?;
                let _ = std::fs::remove_dir_all(berth.socket_dir(node.cluster_id, &node.name));
            }
            Ok(())
        })
    }

    fn tear_down<'a>(&'a self, berth: &'a Berth, ctx: &'a JobCtx, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>> {
        Box::pin(berth.tear_down_cluster(ctx, cluster))
    }

    fn clean_up<'a>(&'a self, berth: &'a Berth, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>> {
        Box::pin(berth.remove_local_resources(cluster.id))
    }
}

const CREATE_STEPS: &[&str] = &[
    "Prepare the node image",
    "Create the cluster network",
    "Start the node engines",
    "Initialise the swarm",
    "Join the nodes",
    "Label the zones",
    "Wait until every node is Ready",
];

const DELETE_STEPS: &[&str] =
    &["Remove the node containers", "Remove the cluster network", "Remove the cluster's files", "Forget the cluster"];

/// The image Berth builds itself when it is missing. The tag's number goes up whenever the root
/// filesystem below changes (a test holds it to [`ROOTFS_DIGEST`]), so machines build the new one.
pub const DEFAULT_NODE_IMAGE: &str = "berth/node:host-2";
/// SHA-256 of the node root filesystem that [`DEFAULT_NODE_IMAGE`] names.
#[cfg(test)]
const ROOTFS_DIGEST: &str = "9e2f7529148196e447d3549f7a00b8a7f52bd7a80b49c7021e65d94226c56181";
/// Set in images whose node runs the host's binaries (so `/usr` must be bound).
const HOST_BINARIES_ENV: &str = "BERTH_NODE_IMAGE=host-binaries";

/// A one-click cluster as a person asks for it.
#[derive(Clone, Debug)]
pub struct LocalClusterInput {
    pub name: String,
    pub nodes: u32,
    pub managers: u32,
    /// Zones the nodes are spread over, in turn.
    pub zones: Vec<String>,
}

impl LocalClusterInput {
    /// Checks every field, naming each that is wrong.
    pub fn validate(&self) -> Result<LocalClusterInput> {
        let mut checks = Checks::default();
        let name = checks.field(validate_name("name", &self.name, 40));
        let nodes_ok = (1..=MAX_NODES).contains(&self.nodes);
        if !nodes_ok {
            checks.invalid("nodes", format!("must be between 1 and {MAX_NODES}"));
        }
        if !matches!(self.managers, 1 | 3) {
            checks.invalid("managers", "must be 1 or 3");
        } else if nodes_ok && self.managers > self.nodes {
            checks.invalid("managers", "cannot be more than the nodes");
        }
        let zones = checks.field(validate_zones(&self.zones));
        let (name, zones) = checks.done(name.zip(zones))?;
        Ok(LocalClusterInput { name, nodes: self.nodes, managers: self.managers, zones })
    }
}

fn container_name(installation: &str, cluster_id: i64, node: &str) -> String {
    format!("berth-{installation}-c{cluster_id}-{node}")
}

fn network_name(installation: &str, cluster_id: i64) -> String {
    format!("berth-{installation}-c{cluster_id}")
}

impl Berth {
    fn cluster_dir(&self, cluster_id: i64) -> PathBuf {
        self.config.data_dir.join("clusters").join(cluster_id.to_string())
    }

    fn socket_dir(&self, cluster_id: i64, node: &str) -> PathBuf {
        self.cluster_dir(cluster_id).join(node)
    }
}

/// A node row for a local node container.
pub(crate) fn new_node(
    berth: &Berth,
    installation: &str,
    cluster_id: i64,
    name: &str,
    role: NodeRole,
    zone: &str,
) -> NewNode {
    let socket = berth.socket_dir(cluster_id, name).join("docker.sock");
    NewNode {
        cluster_id,
        name: name.into(),
        endpoint: Endpoint::Unix(socket.display().to_string()).to_string(),
        container: container_name(installation, cluster_id, name),
        role: role.as_str().into(),
        zone: zone.into(),
        state: "pending".into(),
        tls: "none".into(),
        address: String::new(),
    }
}

/// The root filesystem of the host-binaries node image, as a tarball.
fn node_rootfs() -> Result<Vec<u8>> {
    use tar::{EntryType, Header};
    const INIT: &str = "#!/bin/sh\n\
        # Berth node: make /sys and the cgroup hierarchies writable for the inner dockerd, then run it.\n\
        # A node container that was killed and started again keeps its pid file and runtime state.\n\
        rm -rf /var/run/docker.pid /var/run/docker /run/node/docker.sock\n\
        mount -o remount,rw /sys 2>/dev/null || true\n\
        for d in /sys/fs/cgroup/*; do\n\
        \x20 [ -d \"$d\" ] && mount -o remount,bind,rw \"$d\" \"$d\" 2>/dev/null || true\n\
        done\n\
        exec dockerd \"$@\"\n";
    let io = |e: std::io::Error| Error::Internal(Internal::Other(format!("building the node image: {e}")));
    let mut tar = tar::Builder::new(Vec::new());
    for dir in ["etc", "proc", "sys", "dev", "run", "tmp", "var", "var/lib", "var/lib/docker", "root", "usr", "sbin"] {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        tar.append_data(&mut h, dir, std::io::empty()).map_err(io)?;
    }
    for (link, target) in [("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, link, target).map_err(io)?;
    }
    let files: [(&str, &str, u32); 5] = [
        ("sbin/berth-node-init", INIT, 0o755),
        ("etc/resolv.conf", "nameserver 127.0.0.1\n", 0o644),
        ("etc/hosts", "127.0.0.1 localhost\n", 0o644),
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
        ("etc/group", "root:x:0:\n", 0o644),
    ];
    for (path, content, mode) in files {
        let mut h = Header::new_gnu();
        h.set_mode(mode);
        h.set_size(content.len() as u64);
        tar.append_data(&mut h, path, content.as_bytes()).map_err(io)?;
    }
    tar.into_inner().map_err(io)
}

impl Berth {
    /// Makes sure the node image is on the local engine, building the default one when missing.
    /// Answers whether nodes must bind the host's `/usr`.
    pub(crate) async fn ensure_node_image(&self) -> Result<bool> {
        let image = &self.config.node_image;
        if let Some(env) = self.engine.image_env(image).await? {
            return Ok(env.iter().any(|e| e == HOST_BINARIES_ENV));
        }
        if image != DEFAULT_NODE_IMAGE {
            return Err(Error::invalid(
                "node_image",
                format!("{image} is not on the local engine; load or pull it first"),
            ));
        }
        if !["/usr/bin/dockerd", "/usr/sbin/dockerd"].iter().any(|p| std::path::Path::new(p).exists()) {
            return Err(Error::invalid(
                "node_image",
                "building the node image needs dockerd installed on this host (/usr/bin/dockerd); \
                 or configure node_image with a Docker-in-Docker image such as docker:dind",
            ));
        }
        let (repo, tag) = DEFAULT_NODE_IMAGE.split_once(':').unwrap_or((DEFAULT_NODE_IMAGE, "latest"));
        let changes = vec![
            "ENTRYPOINT [\"/sbin/berth-node-init\"]".to_string(),
            "VOLUME /var/lib/docker".to_string(),
            format!("ENV {HOST_BINARIES_ENV}"),
        ];
        self.engine.import_rootfs(repo, tag, node_rootfs()?, changes).await?;
        Ok(true)
    }

    /// Starts the node containers of `nodes` at once and waits until each engine answers; records
    /// each node's address.
    pub(crate) async fn start_local_nodes(
        &self,
        ctx: &JobCtx,
        cluster: &Cluster,
        nodes: &[Node],
        host_binaries: bool,
    ) -> Result<Vec<(Node, Arc<Engine>)>> {
        let installation = self.installation().await?;
        let installation = &installation;
        let started = futures::future::join_all(nodes.iter().map(|node| async move {
            let dir = self.socket_dir(cluster.id, &node.name);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::Internal(Internal::Other(format!("creating {}: {e}", dir.display()))))?;
            let mut labels = ownership(installation, cluster.id);
            labels.insert("berth.node".into(), node.name.clone());
            let spec = NodeContainerSpec {
                name: node.container.clone(),
                hostname: node.name.clone(),
                image: self.config.node_image.clone(),
                network: cluster.network.clone(),
                socket_dir: dir.display().to_string(),
                host_binaries,
                labels,
            };
            let container = self.engine.node_container_start(&spec).await?;
            self.store.node_set_swarm(node.id, "", &container.ip).await?;
            let engine = self.node_engine(node).await?;
            wait_until_answers(&engine, Duration::from_secs(60)).await?;
            let mut node = node.clone();
            node.address = container.ip;
            Ok::<_, Error>((node, engine))
        }))
        .await;
        let mut out = Vec::new();
        for (i, result) in started.into_iter().enumerate() {
            out.push(result?);
            ctx.detail(format!("{} of {} node engines answer", i + 1, nodes.len())).await;
        }
        Ok(out)
    }

    /// Builds a local cluster whose rows exist (status `creating`); on failure removes what it made.
    pub(crate) async fn build_local_cluster(&self, ctx: &JobCtx, cluster_id: i64) -> Result<()> {
        match self.build_local_cluster_steps(ctx, cluster_id).await {
            Ok(()) => {
                self.start_reconciler(cluster_id);
                Ok(())
            }
            Err(e) => match self.remove_local_resources(cluster_id).await {
                Ok(()) => {
                    self.store.cluster_delete(cluster_id).await?;
                    Err(e)
                }
                Err(cleanup) => {
                    let message = format!(
                        "{}; removing what was created also failed: {cleanup}",
                        crate::runtime::job::job_error(&e)
                    );
                    self.store.cluster_set_status(cluster_id, "failed", &message, now_ms()).await?;
                    Err(Error::Engine(message))
                }
            },
        }
    }

    async fn build_local_cluster_steps(&self, ctx: &JobCtx, cluster_id: i64) -> Result<()> {
        ctx.step(0).await;
        let host_binaries = self.ensure_node_image().await?;

        ctx.step(1).await;
        let installation = self.installation().await?;
        let network = network_name(&installation, cluster_id);
        self.engine.network_create(&network, &ownership(&installation, cluster_id)).await?;
        self.store.cluster_set_swarm(cluster_id, "", &network, now_ms()).await?;
        let cluster = self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound("cluster".into()))?;
        let nodes = self.store.nodes(cluster_id).await?;

        ctx.step(2).await;
        let started = self.start_local_nodes(ctx, &cluster, &nodes, host_binaries).await?;

        ctx.step(3).await;
        let (first, first_engine) =
            started.iter().find(|(n, _)| n.is_manager()).ok_or_else(|| Error::invalid("managers", "no manager"))?;
        first_engine.swarm_init(&first.address, self.config.swarm_heartbeat).await?;
        let (swarm_id, worker_token, manager_token) = first_engine.swarm_join_tokens().await?;
        self.store.cluster_set_swarm(cluster_id, &swarm_id, &network, now_ms()).await?;

        ctx.step(4).await;
        self.join_nodes(ctx, first, &started, &worker_token, &manager_token).await?;

        ctx.step(5).await;
        self.label_zones(first_engine, &started).await?;

        ctx.step(6).await;
        self.wait_all_ready(first_engine, started.len(), Duration::from_secs(60)).await?;
        for (node, _) in &started {
            self.store.node_set_state(node.id, "ready", "").await?;
        }
        self.store.cluster_set_status(cluster_id, "ready", "", now_ms()).await?;
        self.reconcile(cluster_id).await?;
        Ok(())
    }

    /// Removes every container, network and file Berth made for a local cluster. Idempotent.
    pub(crate) async fn remove_local_resources(&self, cluster_id: i64) -> Result<()> {
        let label = owned_by(&self.installation().await?, cluster_id);
        let containers = self.engine.containers_labelled(&label).await?;
        let removed = futures::future::join_all(containers.iter().map(|c| self.engine.container_remove(&c.id))).await;
        for r in removed {
            r?;
        }
        for (id, _) in self.engine.networks_labelled(&label).await? {
            self.engine.network_remove(&id).await?;
        }
        let dir = self.cluster_dir(cluster_id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::Internal(Internal::Other(format!("removing {}: {e}", dir.display()))))?;
        }
        Ok(())
    }

    /// Deletes a cluster (the job behind `delete_cluster`).
    pub(crate) async fn tear_down_cluster(&self, ctx: &JobCtx, cluster: &Cluster) -> Result<()> {
        self.stop_reconciler(cluster.id);
        let label = owned_by(&self.installation().await?, cluster.id);
        ctx.step(0).await;
        let containers = self.engine.containers_labelled(&label).await?;
        let total = containers.len();
        for (i, c) in containers.iter().enumerate() {
            self.engine.container_remove(&c.id).await?;
            ctx.detail(format!("{} of {total} removed", i + 1)).await;
        }
        ctx.step(1).await;
        for (id, _) in self.engine.networks_labelled(&label).await? {
            self.engine.network_remove(&id).await?;
        }
        ctx.step(2).await;
        self.remove_local_resources(cluster.id).await?;
        ctx.step(3).await;
        self.forget_node_engines(cluster.id).await?;
        self.store.cluster_delete(cluster.id).await?;
        Ok(())
    }
}

const ADD_STEPS: &[&str] =
    &["Start the node engines", "Join the nodes", "Label the zones", "Wait until every node is Ready"];
const REMOVE_STEPS: &[&str] =
    &["Drain the node", "Wait for its tasks to move", "Leave the swarm", "Remove the node container"];

impl Berth {
    /// Creates a `local` cluster in one click: validates, checks quotas, records the cluster and its
    /// nodes as `creating`, and starts the job that builds it. Returns the job id.
    pub async fn create_local_cluster(&self, actor: &Actor, input: &LocalClusterInput) -> Result<i64> {
        let op = Op {
            action: "cluster.create",
            permission: Permission::ClusterCreate,
            target: input.name.trim().to_lowercase(),
            params: json!({ "provider": NAME, "nodes": input.nodes, "managers": input.managers, "zones": input.zones }),
        };
        let spec = JobSpec { op, kind: "cluster.create", steps: Local.create_steps() };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let input = input.validate()?;
                let quotas = this.quotas().await?;
                if this.store.cluster_count().await? >= quotas.max_clusters {
                    return Err(Error::Conflict(format!(
                        "the installation already has its quota of {} clusters",
                        quotas.max_clusters
                    )));
                }
                if input.nodes as i64 > quotas.max_nodes_per_cluster {
                    return Err(Error::invalid(
                        "nodes",
                        format!("the quota is {} nodes per cluster", quotas.max_nodes_per_cluster),
                    ));
                }
                if this.store.cluster_by_name(&input.name).await?.is_some() {
                    return Err(Error::invalid("name", format!("a cluster named {} exists already", input.name)));
                }
                let now = now_ms();
                let new = NewCluster {
                    name: input.name.clone(),
                    provider: NAME.into(),
                    status: "creating".into(),
                    zones: input.zones.clone(),
                };
                let id = match this.store.cluster_insert(&new, now).await {
                    Ok(id) => id,
                    // Two requests for one name at once: the unique index decides.
                    Err(_) if this.store.cluster_by_name(&input.name).await?.is_some() => {
                        return Err(Error::invalid("name", format!("a cluster named {} exists already", input.name)))
                    }
                    Err(e) => return Err(e),
                };
                let claim = this.claim(id).await?;
                let installation = this.installation().await?;
                let names = next_node_names(&[], input.nodes as usize);
                let zones = spread_over_zones(&input.zones, &[], names.len());
                for (i, (name, zone)) in names.iter().zip(zones).enumerate() {
                    let role = if (i as u32) < input.managers { NodeRole::Manager } else { NodeRole::Worker };
                    this.store.node_insert(&new_node(&this, &installation, id, name, role, &zone), now).await?;
                }
                Ok(Prepared {
                    cluster_id: Some(id),
                    target: input.name.clone(),
                    claim: Some(claim),
                    input: id,
                    steps: None,
                })
            },
            |berth, ctx, id| async move { berth.build_local_cluster(&ctx, id).await },
        )
        .await
    }

    /// Adds `count` worker nodes to a local cluster (a job; returns its id).
    pub async fn add_local_nodes(&self, actor: &Actor, cluster_id: i64, count: u32) -> Result<i64> {
        let op = Op {
            action: "node.add",
            permission: Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: json!({ "count": count }),
        };
        let spec = JobSpec { op, kind: "node.add", steps: Local.add_steps() };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                if !(1..=MAX_NODES).contains(&count) {
                    return Err(Error::invalid("count", format!("must be between 1 and {}", MAX_NODES)));
                }
                let cluster = this.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
                if cluster.provider != NAME {
                    return Err(Error::Conflict("only local clusters get new node containers; add a host instead".into()));
                }
                if cluster.status != "ready" && cluster.status != "degraded" {
                    return Err(Error::Conflict(format!("the cluster is {}", cluster.status)));
                }
                let claim = this.claim(cluster_id).await?;
                let existing = this.store.nodes(cluster_id).await?;
                let quotas = this.quotas().await?;
                if existing.len() as i64 + count as i64 > quotas.max_nodes_per_cluster {
                    return Err(Error::invalid(
                        "count",
                        format!("the quota is {} nodes per cluster; it has {}", quotas.max_nodes_per_cluster, existing.len()),
                    ));
                }
                let names = next_node_names(&existing.iter().map(|n| n.name.clone()).collect::<Vec<_>>(), count as usize);
                let zones = spread_over_zones(&cluster.zones(), &existing.iter().map(|n| n.zone.clone()).collect::<Vec<_>>(), names.len());
                let now = now_ms();
                let installation = this.installation().await?;
                let mut ids = Vec::new();
                for (name, zone) in names.iter().zip(zones) {
                    let node = new_node(&this, &installation, cluster_id, name, NodeRole::Worker, &zone);
                    ids.push(this.store.node_insert(&node, now).await?);
                }
                Ok(Prepared { cluster_id: Some(cluster_id), target: cluster.name.clone(), claim: Some(claim), input: (cluster, ids), steps: None })
            },
            |berth, ctx, (cluster, ids)| async move {
                let result = berth.grow_local_cluster(&ctx, &cluster, &ids).await;
                if result.is_err() {
                    for id in &ids {
                        if let Ok(Some(node)) = berth.store.node(*id).await {
                            if let Err(e) = berth.undo_pending_node(&Local, &node).await {
                                tracing::warn!(node = %node.name, error = %e, "could not undo a node that failed to join");
                            }
                        }
                    }
                }
                result
            },
        )
        .await
    }

    async fn grow_local_cluster(&self, ctx: &JobCtx, cluster: &Cluster, ids: &[i64]) -> Result<()> {
        ctx.step(0).await;
        let host_binaries = self.ensure_node_image().await?;
        let mut nodes = Vec::new();
        for id in ids {
            nodes.push(self.store.node(*id).await?.ok_or_else(|| Error::NotFound(format!("node {id}")))?);
        }
        let started = self.start_local_nodes(ctx, cluster, &nodes, host_binaries).await?;

        ctx.step(1).await;
        let (manager_node, manager) = self.reachable_manager(cluster.id).await?;
        let (_, worker_token, manager_token) = manager.swarm_join_tokens().await?;
        // The manager's address as the swarm knows it.
        let mut first = manager_node.clone();
        if first.address.is_empty() {
            return Err(Error::Engine("the manager's address is unknown".into()));
        }
        first.id = -1; // not one of the joining nodes
        self.join_nodes(ctx, &first, &started, &worker_token, &manager_token).await?;

        ctx.step(2).await;
        self.label_zones(&manager, &started).await?;

        ctx.step(3).await;
        let total = self.store.nodes(cluster.id).await?.len();
        self.wait_all_ready(&manager, total, Duration::from_secs(60)).await?;
        for id in ids {
            self.store.node_set_state(*id, "ready", "").await?;
        }
        self.refresh_cluster(cluster.id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_input_names_the_bad_field() {
        let ok = LocalClusterInput { name: "prod".into(), nodes: 3, managers: 1, zones: vec![] };
        assert_eq!(ok.validate().unwrap().zones, vec!["default"]);
        let cases = [
            (LocalClusterInput { nodes: 0, ..ok.clone() }, "nodes"),
            (LocalClusterInput { nodes: 21, ..ok.clone() }, "nodes"),
            (LocalClusterInput { managers: 2, ..ok.clone() }, "managers"),
            (LocalClusterInput { nodes: 2, managers: 3, ..ok.clone() }, "managers"),
            (LocalClusterInput { name: "x y".into(), ..ok.clone() }, "name"),
            (LocalClusterInput { zones: vec!["a".into(), "a".into()], ..ok.clone() }, "zones"),
            (LocalClusterInput { zones: vec!["A!".into()], ..ok.clone() }, "zones"),
        ];
        for (input, field) in cases {
            match input.validate() {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
        // Every wrong field at once, each said once, in the form's order.
        let bad = LocalClusterInput { name: "x y".into(), nodes: 0, managers: 2, zones: vec!["a".into(), "a".into()] };
        match bad.validate() {
            Err(Error::Problems(all)) => {
                let fields: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
                assert_eq!(fields, ["name", "nodes", "managers", "zones"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_node_image_tag_follows_the_rootfs() {
        use sha2::{Digest, Sha256};
        let digest = hex::encode(Sha256::digest(node_rootfs().unwrap()));
        assert_eq!(
            digest, ROOTFS_DIGEST,
            "the node root filesystem changed: bump the tag in DEFAULT_NODE_IMAGE and set ROOTFS_DIGEST to {digest}"
        );
    }

    #[test]
    fn the_node_rootfs_has_what_the_node_needs() {
        let tar = node_rootfs().unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entries: Vec<(String, tar::EntryType, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().entry_type(), e.header().mode().unwrap())
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let find = |p: &str| entries.iter().find(|e| e.0 == p).cloned().unwrap_or_else(|| panic!("{p} missing"));
        assert_eq!(find("sbin/berth-node-init").2, 0o755);
        assert_eq!(find("bin").1, tar::EntryType::Symlink);
        assert_eq!(find("tmp").2, 0o1777);
        assert_eq!(find("var/lib/docker").1, tar::EntryType::Directory);
    }
}
