//! The `local` provider: every node is a Docker-in-Docker container on the local engine, on a bridge
//! network of its cluster's own, reached by Berth through a unix socket in the data directory.
//!
//! The node image is built offline when missing: a near-empty root filesystem whose `/usr` is the
//! host's, bound read-only at run time (so the node runs the host's own dockerd), imported with
//! `docker import`. Another image (e.g. `docker:dind`) can be configured where a registry is reachable.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::now_ms;
use crate::clusters::cluster::{owned_by, ownership, Cluster};
use crate::clusters::node::{NewNode, Node, ZONE_LABEL};
use crate::engine::{Endpoint, Engine, NodeContainerSpec, NodeRole, NodeState};
use crate::error::{Error, Internal, Result};
use crate::runtime::job::JobCtx;
use crate::Berth;

pub const CREATE_STEPS: &[&str] = &[
    "Prepare the node image",
    "Create the cluster network",
    "Start the node engines",
    "Initialise the swarm",
    "Join the nodes",
    "Label the zones",
    "Wait until every node is Ready",
];

pub const DELETE_STEPS: &[&str] =
    &["Remove the node containers", "Remove the cluster network", "Remove the cluster's files", "Forget the cluster"];

/// The image Berth builds itself when it is missing. The tag's number goes up whenever the root
/// filesystem below changes (a test holds it to [`ROOTFS_DIGEST`]), so machines build the new one.
pub const DEFAULT_NODE_IMAGE: &str = "berth/node:host-2";
/// SHA-256 of the node root filesystem that [`DEFAULT_NODE_IMAGE`] names.
#[cfg(test)]
const ROOTFS_DIGEST: &str = "9e2f7529148196e447d3549f7a00b8a7f52bd7a80b49c7021e65d94226c56181";
/// Set in images whose node runs the host's binaries (so `/usr` must be bound).
const HOST_BINARIES_ENV: &str = "BERTH_NODE_IMAGE=host-binaries";

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

    /// Joins every node but `first` (managers one at a time for raft, then the workers at once).
    pub(crate) async fn join_nodes(
        &self,
        ctx: &JobCtx,
        first: &Node,
        nodes: &[(Node, Arc<Engine>)],
        worker_token: &str,
        manager_token: &str,
    ) -> Result<()> {
        let remote = format!("{}:2377", first.address);
        let others: Vec<_> = nodes.iter().filter(|(n, _)| n.id != first.id).collect();
        let total = others.len();
        let mut joined = 0;
        for (node, engine) in others.iter().filter(|(n, _)| n.is_manager()) {
            engine.swarm_join(&remote, manager_token, &node.address).await?;
            joined += 1;
            ctx.detail(format!("{joined} of {total} nodes joined")).await;
        }
        let workers = others.iter().filter(|(n, _)| !n.is_manager());
        let results = futures::future::join_all(
            workers.map(|(node, engine)| engine.swarm_join(&remote, worker_token, &node.address)),
        )
        .await;
        for result in results {
            result?;
            joined += 1;
        }
        ctx.detail(format!("{joined} of {total} nodes joined")).await;
        Ok(())
    }

    /// Puts each node's zone on its swarm node and records the swarm node ids. Each node's own engine
    /// says which swarm node it is (hostnames of existing hosts need not match Berth's node names).
    pub(crate) async fn label_zones(&self, manager: &Engine, nodes: &[(Node, Arc<Engine>)]) -> Result<()> {
        for (node, engine) in nodes {
            let swarm_id = engine.overview().await?.swarm.node_id;
            if swarm_id.is_empty() {
                return Err(Error::Engine(format!("{} did not join the swarm", node.name)));
            }
            // A node that has just joined can take a moment to show in the managers' list.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !manager.swarm_nodes().await?.iter().any(|m| m.id == swarm_id) {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Engine(format!("{} did not appear in the swarm", node.name)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let zone = node.zone.clone();
            manager
                .swarm_update_node(&swarm_id, |n| {
                    n.labels.insert(ZONE_LABEL.into(), zone.clone());
                })
                .await?;
            self.store.node_set_swarm(node.id, &swarm_id, &node.address).await?;
        }
        Ok(())
    }

    /// Waits until the swarm lists at least `count` nodes, all Ready.
    pub(crate) async fn wait_all_ready(&self, manager: &Engine, count: usize, limit: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let nodes = manager.swarm_nodes().await?;
            let ready = nodes.iter().filter(|n| n.state == NodeState::Ready).count();
            if nodes.len() >= count && ready == nodes.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Engine(format!(
                    "only {ready} of {count} nodes became Ready within {} s",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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

/// Polls an engine until it answers, for at most `limit`.
pub(crate) async fn wait_until_answers(engine: &Engine, limit: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match engine.ping().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

pub const ADD_STEPS: &[&str] =
    &["Start the node engines", "Join the nodes", "Label the zones", "Wait until every node is Ready"];
pub const REMOVE_STEPS: &[&str] =
    &["Drain the node", "Wait for its tasks to move", "Leave the swarm", "Remove the node container"];
/// Removing a host: the same, but there is no container to remove.
const REMOVE_HOST_STEPS: &[&str] =
    &["Drain the node", "Wait for its tasks to move", "Leave the swarm", "Forget the node"];

impl Berth {
    /// Adds `count` worker nodes to a local cluster (a job; returns its id).
    pub async fn add_local_nodes(&self, actor: &crate::authz::Actor, cluster_id: i64, count: u32) -> Result<i64> {
        use crate::clusters::cluster::{next_node_names, spread_over_zones};
        let op = crate::audit::operation::Op {
            action: "node.add",
            permission: crate::authz::Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: serde_json::json!({ "count": count }),
        };
        let spec = crate::runtime::job::JobSpec { op, kind: "node.add", steps: ADD_STEPS };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                if !(1..=crate::clusters::cluster::MAX_NODES).contains(&count) {
                    return Err(Error::invalid("count", format!("must be between 1 and {}", crate::clusters::cluster::MAX_NODES)));
                }
                let cluster = this.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
                if cluster.provider != crate::clusters::cluster::LOCAL {
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
                Ok(crate::runtime::job::Prepared { cluster_id: Some(cluster_id), target: cluster.name.clone(), claim: Some(claim), input: (cluster, ids), steps: None })
            },
            |berth, ctx, (cluster, ids)| async move {
                let result = berth.grow_local_cluster(&ctx, &cluster, &ids).await;
                if result.is_err() {
                    for id in &ids {
                        if let Ok(Some(node)) = berth.store.node(*id).await {
                            if let Err(e) = berth.undo_pending_node(&node).await {
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

    /// Removes a node (a job; returns its id): drains it so its tasks move to other nodes, waits for
    /// them to move, makes it leave the swarm (demoting a manager first), removes it from the node
    /// list and, for a local node, removes its container.
    pub async fn remove_node(&self, actor: &crate::authz::Actor, cluster_id: i64, node_id: i64) -> Result<i64> {
        let op = crate::audit::operation::Op {
            action: "node.remove",
            permission: crate::authz::Permission::ClusterManage(cluster_id),
            target: node_id.to_string(),
            params: serde_json::json!({ "cluster": cluster_id }),
        };
        let spec = crate::runtime::job::JobSpec { op, kind: "node.remove", steps: REMOVE_STEPS };
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
                let claim = this.claim(cluster_id).await?;
                this.store.node_set_state(node.id, "removing", "").await?;
                let steps = if node.container.is_empty() { REMOVE_HOST_STEPS } else { REMOVE_STEPS };
                Ok(crate::runtime::job::Prepared {
                    cluster_id: Some(cluster_id),
                    target: node.name.clone(),
                    claim: Some(claim),
                    input: node,
                    steps: Some(steps),
                })
            },
            |berth, ctx, node| async move {
                let result = berth.take_node_out(&ctx, &node).await;
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

    async fn take_node_out(&self, ctx: &JobCtx, node: &Node) -> Result<()> {
        let (_, manager) = self.reachable_manager(node.cluster_id).await?;
        ctx.step(0).await;
        let in_swarm = !node.swarm_node_id.is_empty();
        if in_swarm {
            manager
                .swarm_update_node(&node.swarm_node_id, |n| n.availability = crate::engine::NodeAvailability::Drain)
                .await?;
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
        if !node.container.is_empty() {
            self.engine.container_remove(&node.container).await?;
            let dir = self.socket_dir(node.cluster_id, &node.name);
            let _ = std::fs::remove_dir_all(dir);
        }
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

    /// Undoes a node that never finished joining: its container and, if it got that far, its swarm
    /// entry; then its row.
    pub(crate) async fn undo_pending_node(&self, node: &Node) -> Result<()> {
        if !node.swarm_node_id.is_empty() {
            if let Ok((_, manager)) = self.reachable_manager(node.cluster_id).await {
                let _ = manager.swarm_remove_node(&node.swarm_node_id, true).await;
            }
        }
        if !node.container.is_empty() {
            self.engine.container_remove(&node.container).await?;
            let _ = std::fs::remove_dir_all(self.socket_dir(node.cluster_id, &node.name));
        }
        self.engines.lock().unwrap_or_else(|p| p.into_inner()).remove(&node.endpoint);
        self.store.node_delete(node.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
