//! The `hosts` provider: clusters of existing Docker engines, reached over a unix socket or over
//! `tcp://` with mutual TLS under Berth's CA (plain tcp only when an admin marks a host insecure).
//! Berth forms the swarm on them, labels their zones, and makes them leave it on deletion.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::cluster::{
    next_node_names, spread_over_zones, validate_name, validate_zones, Cluster, NewCluster, MAX_NODES,
};
use crate::clusters::node::{NewNode, Node};
use crate::clusters::providers::Provider;
use crate::engine::{Endpoint, Engine, EngineOverview, NodeRole};
use crate::error::{Error, Result};
use crate::runtime::job::{JobCtx, JobSpec, Prepared};
use crate::Berth;

const CREATE_STEPS: &[&str] = &[
    "Connect to the hosts",
    "Check that no host is in a swarm",
    "Initialise the swarm",
    "Join the hosts",
    "Label the zones",
    "Wait until every node is Ready",
];
const ADD_STEPS: &[&str] = &["Connect to the host", "Join the swarm", "Label the zone", "Wait until it is Ready"];
const DELETE_STEPS: &[&str] = &["Make the hosts leave the swarm", "Forget the cluster"];
/// Removing a host: as removing a node container, but there is no container to remove.
const REMOVE_STEPS: &[&str] = &["Drain the node", "Wait for its tasks to move", "Leave the swarm", "Forget the node"];

/// The `hosts` provider (see the module's documentation).
pub(crate) struct Hosts;

/// The name of hosts clusters' provider.
const NAME: &str = "hosts";

impl Provider for Hosts {
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
        false
    }

    /// Nothing: Berth made nothing on a host but its swarm membership.
    fn release_node<'a>(&'a self, _berth: &'a Berth, _node: &'a Node) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn tear_down<'a>(&'a self, berth: &'a Berth, ctx: &'a JobCtx, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>> {
        Box::pin(berth.release_hosts(ctx, cluster.id))
    }

    /// Every host that answers leaves the swarm.
    fn clean_up<'a>(&'a self, berth: &'a Berth, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for node in berth.store.nodes(cluster.id).await? {
                if let Ok(engine) = berth.node_engine(&node).await {
                    let _ = engine.swarm_leave(true).await;
                }
            }
            Ok(())
        })
    }
}

/// One host as an admin names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostInput {
    /// `tcp://host:2376` or `unix:///var/run/docker.sock`.
    pub endpoint: String,
    /// Plain tcp without TLS — only when explicitly chosen.
    pub insecure: bool,
    /// The IP the host advertises to the swarm; defaults to the endpoint's host when that is an IP.
    pub advertise: String,
}

/// A checked host: its endpoint, how to reach it, and its advertise address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidHost {
    pub endpoint: String,
    /// `none`, `mtls` or `insecure`.
    pub tls: String,
    pub advertise: String,
}

impl HostInput {
    /// Parses one line of the hosts field: `ENDPOINT [insecure] [advertise=IP]`.
    pub fn parse_line(line: &str) -> HostInput {
        let mut input = HostInput::default();
        for word in line.split_whitespace() {
            if word == "insecure" {
                input.insecure = true;
            } else if let Some(ip) = word.strip_prefix("advertise=") {
                input.advertise = ip.into();
            } else if input.endpoint.is_empty() {
                input.endpoint = word.into();
            }
        }
        input
    }

    pub fn validate(&self) -> Result<ValidHost> {
        let endpoint = Endpoint::parse(self.endpoint.trim()).map_err(|_| {
            Error::invalid("hosts", format!("{:?} is not tcp://host:port or unix:///path", self.endpoint.trim()))
        })?;
        let (tls, host) = match &endpoint {
            Endpoint::Unix(_) if self.insecure => {
                return Err(Error::invalid("hosts", "insecure only applies to tcp:// endpoints"))
            }
            Endpoint::Unix(_) => ("none", None),
            Endpoint::Tcp(addr) => {
                let host = addr.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or(addr);
                (if self.insecure { "insecure" } else { "mtls" }, Some(host.to_string()))
            }
        };
        let advertise = match (self.advertise.trim(), host) {
            ("", Some(host)) if host.parse::<std::net::IpAddr>().is_ok() => host,
            ("", _) => {
                return Err(Error::invalid(
                    "hosts",
                    format!("{}: add advertise=IP, the address other nodes reach this host at", self.endpoint.trim()),
                ))
            }
            (ip, _) => {
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| Error::invalid("hosts", format!("advertise={ip} is not an IP address")))?;
                ip.to_string()
            }
        };
        Ok(ValidHost { endpoint: endpoint.to_string(), tls: tls.into(), advertise })
    }
}

/// A cluster of existing hosts as an admin asks for it.
#[derive(Clone, Debug)]
pub struct HostsClusterInput {
    pub name: String,
    pub hosts: Vec<HostInput>,
    pub managers: u32,
    pub zones: Vec<String>,
}

impl HostsClusterInput {
    pub fn validate(&self) -> Result<(String, Vec<ValidHost>, Vec<String>)> {
        let name = validate_name("name", &self.name, 40)?;
        if self.hosts.is_empty() || self.hosts.len() > MAX_NODES as usize {
            return Err(Error::invalid("hosts", format!("give 1 to {} hosts, one per line", MAX_NODES)));
        }
        let hosts = self.hosts.iter().map(HostInput::validate).collect::<Result<Vec<_>>>()?;
        for (i, h) in hosts.iter().enumerate() {
            if hosts[..i].iter().any(|o| o.endpoint == h.endpoint) {
                return Err(Error::invalid("hosts", format!("{} is listed twice", h.endpoint)));
            }
        }
        if !matches!(self.managers, 1 | 3) || self.managers as usize > hosts.len() {
            return Err(Error::invalid("managers", "must be 1 or 3, and no more than the hosts"));
        }
        Ok((name, hosts, validate_zones(&self.zones)?))
    }
}

/// What a probe of a host found.
#[derive(Clone, Debug)]
pub struct HostProbe {
    pub overview: EngineOverview,
}

impl Berth {
    /// An engine client for a host as given (not yet a node).
    async fn host_engine(&self, host: &ValidHost) -> Result<Engine> {
        let endpoint = Endpoint::parse(&host.endpoint)?;
        Ok(match (&endpoint, host.tls.as_str()) {
            (Endpoint::Tcp(addr), "mtls") => {
                Engine::with_tls(addr, self.tls_material().await?, self.config.node_timeout)
            }
            _ => Engine::new(endpoint, self.config.node_timeout),
        })
    }

    /// Connects to a host the way a cluster would and says what it found, or exactly why it could not
    /// (wrong CA, expired or misnamed certificate, no TLS, refused client certificate, not answering).
    pub async fn probe_host(&self, actor: &Actor, input: &HostInput) -> Result<HostProbe> {
        authorize(actor, Permission::ClusterCreate)?;
        let host = input.validate()?;
        let engine = self.host_engine(&host).await?;
        Ok(HostProbe { overview: engine.overview().await? })
    }

    /// Creates a cluster from existing hosts (a job; returns its id).
    pub async fn create_hosts_cluster(&self, actor: &Actor, input: &HostsClusterInput) -> Result<i64> {
        let op = Op {
            action: "cluster.create",
            permission: Permission::ClusterCreate,
            target: input.name.trim().to_lowercase(),
            params: json!({
                "provider": NAME,
                "hosts": input.hosts.iter().map(|h| &h.endpoint).collect::<Vec<_>>(),
                "managers": input.managers,
                "zones": input.zones,
            }),
        };
        let spec = JobSpec { op, kind: "cluster.create", steps: Hosts.create_steps() };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let (name, hosts, zones) = input.validate()?;
                let quotas = this.quotas().await?;
                if this.store.cluster_count().await? >= quotas.max_clusters {
                    return Err(Error::Conflict(format!(
                        "the installation already has its quota of {} clusters",
                        quotas.max_clusters
                    )));
                }
                if hosts.len() as i64 > quotas.max_nodes_per_cluster {
                    return Err(Error::invalid(
                        "hosts",
                        format!("the quota is {} nodes per cluster", quotas.max_nodes_per_cluster),
                    ));
                }
                if this.store.cluster_by_name(&name).await?.is_some() {
                    return Err(Error::invalid("name", format!("a cluster named {name} exists already")));
                }
                for host in &hosts {
                    this.endpoint_unused(&host.endpoint).await?;
                }
                let now = now_ms();
                let new = NewCluster {
                    name: name.clone(),
                    provider: NAME.into(),
                    status: "creating".into(),
                    zones: zones.clone(),
                };
                let id = this.store.cluster_insert(&new, now).await?;
                let claim = this.claim(id).await?;
                let names = next_node_names(&[], hosts.len());
                let node_zones = spread_over_zones(&zones, &[], hosts.len());
                for (i, ((host, name), zone)) in hosts.iter().zip(&names).zip(node_zones).enumerate() {
                    let role = if (i as u32) < input.managers { NodeRole::Manager } else { NodeRole::Worker };
                    this.store.node_insert(&host_node(id, name, host, role, &zone), now).await?;
                }
                Ok(Prepared { cluster_id: Some(id), target: name, claim: Some(claim), input: id, steps: None })
            },
            |berth, ctx, id| async move { berth.build_hosts_cluster(&ctx, id).await },
        )
        .await
    }

    /// Refuses an endpoint another node of this installation uses already.
    async fn endpoint_unused(&self, endpoint: &str) -> Result<()> {
        for cluster in self.store.clusters().await? {
            if self.store.nodes(cluster.id).await?.iter().any(|n| n.endpoint == endpoint) {
                return Err(Error::invalid(
                    "hosts",
                    format!("{endpoint} is a node of cluster {} already", cluster.name),
                ));
            }
        }
        Ok(())
    }

    async fn build_hosts_cluster(&self, ctx: &JobCtx, id: i64) -> Result<()> {
        let result = self.build_hosts_cluster_steps(ctx, id).await;
        match result {
            Ok(()) => {
                self.start_reconciler(id);
                Ok(())
            }
            Err(e) => {
                // Leave whatever swarm was formed, then forget the cluster.
                for node in self.store.nodes(id).await? {
                    if let Ok(engine) = self.node_engine(&node).await {
                        let _ = engine.swarm_leave(true).await;
                    }
                }
                self.forget_node_engines(id).await?;
                self.store.cluster_delete(id).await?;
                Err(e)
            }
        }
    }

    async fn build_hosts_cluster_steps(&self, ctx: &JobCtx, id: i64) -> Result<()> {
        let nodes = self.store.nodes(id).await?;
        ctx.step(0).await;
        let mut engines: Vec<(Node, Arc<Engine>)> = Vec::new();
        for node in &nodes {
            let engine = self.node_engine(node).await?;
            engine.ping().await.map_err(|e| Error::NodeUnreachable(format!("{}: {e}", node.endpoint)))?;
            engines.push((node.clone(), engine));
            ctx.detail(format!("{} of {} hosts answer", engines.len(), nodes.len())).await;
        }
        ctx.step(1).await;
        for (node, engine) in &engines {
            let overview = engine.overview().await?;
            if overview.swarm.state != "inactive" {
                return Err(Error::Conflict(format!(
                    "{} is already in a swarm ({}); make it leave first (docker swarm leave)",
                    node.endpoint, overview.swarm.state
                )));
            }
        }
        ctx.step(2).await;
        let (first, first_engine) =
            engines.iter().find(|(n, _)| n.is_manager()).ok_or_else(|| Error::invalid("managers", "no manager"))?;
        first_engine.swarm_init(&first.address, self.config.swarm_heartbeat).await?;
        let (swarm_id, worker_token, manager_token) = first_engine.swarm_join_tokens().await?;
        self.store.cluster_set_swarm(id, &swarm_id, "", now_ms()).await?;
        ctx.step(3).await;
        self.join_nodes(ctx, first, &engines, &worker_token, &manager_token).await?;
        ctx.step(4).await;
        self.label_zones(first_engine, &engines).await?;
        ctx.step(5).await;
        self.wait_all_ready(first_engine, engines.len(), Duration::from_secs(60)).await?;
        for (node, _) in &engines {
            self.store.node_set_state(node.id, "ready", "").await?;
        }
        self.store.cluster_set_status(id, "ready", "", now_ms()).await?;
        self.reconcile(id).await?;
        Ok(())
    }

    /// Adds an existing host to a hosts cluster as a worker (a job; returns its id).
    pub async fn add_host(&self, actor: &Actor, cluster_id: i64, input: &HostInput) -> Result<i64> {
        let op = Op {
            action: "node.add_host",
            permission: Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: json!({ "endpoint": input.endpoint, "insecure": input.insecure }),
        };
        let spec = JobSpec { op, kind: "node.add", steps: Hosts.add_steps() };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let host = input.validate()?;
                let cluster = this
                    .store
                    .cluster(cluster_id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
                if cluster.provider != NAME {
                    return Err(Error::Conflict(
                        "hosts join hosts clusters; a local cluster gets node containers".into(),
                    ));
                }
                if !matches!(cluster.status.as_str(), "ready" | "degraded") {
                    return Err(Error::Conflict(format!("the cluster is {}", cluster.status)));
                }
                this.endpoint_unused(&host.endpoint).await?;
                let claim = this.claim(cluster_id).await?;
                let existing = this.store.nodes(cluster_id).await?;
                let quotas = this.quotas().await?;
                if existing.len() as i64 >= quotas.max_nodes_per_cluster {
                    return Err(Error::invalid(
                        "hosts",
                        format!("the quota is {} nodes per cluster", quotas.max_nodes_per_cluster),
                    ));
                }
                let name = next_node_names(&existing.iter().map(|n| n.name.clone()).collect::<Vec<_>>(), 1).remove(0);
                let zone = spread_over_zones(
                    &cluster.zones(),
                    &existing.iter().map(|n| n.zone.clone()).collect::<Vec<_>>(),
                    1,
                )
                .remove(0);
                let node_id = this
                    .store
                    .node_insert(&host_node(cluster_id, &name, &host, NodeRole::Worker, &zone), now_ms())
                    .await?;
                Ok(Prepared {
                    cluster_id: Some(cluster_id),
                    target: cluster.name,
                    claim: Some(claim),
                    input: node_id,
                    steps: None,
                })
            },
            |berth, ctx, node_id| async move {
                let result = berth.join_host(&ctx, node_id).await;
                if result.is_err() {
                    if let Ok(Some(node)) = berth.store.node(node_id).await {
                        if let Ok(engine) = berth.node_engine(&node).await {
                            let _ = engine.swarm_leave(true).await;
                        }
                        let _ = berth.undo_pending_node(&Hosts, &node).await;
                    }
                }
                result
            },
        )
        .await
    }

    async fn join_host(&self, ctx: &JobCtx, node_id: i64) -> Result<()> {
        let node = self.store.node(node_id).await?.ok_or_else(|| Error::NotFound(format!("node {node_id}")))?;
        ctx.step(0).await;
        let engine = self.node_engine(&node).await?;
        let overview =
            engine.overview().await.map_err(|e| Error::NodeUnreachable(format!("{}: {e}", node.endpoint)))?;
        if overview.swarm.state != "inactive" {
            return Err(Error::Conflict(format!("{} is already in a swarm; make it leave first", node.endpoint)));
        }
        ctx.step(1).await;
        let (manager_node, manager) = self.reachable_manager(node.cluster_id).await?;
        let (_, worker_token, _) = manager.swarm_join_tokens().await?;
        engine.swarm_join(&format!("{}:2377", manager_node.address), &worker_token, &node.address).await?;
        ctx.step(2).await;
        let joined = [(node.clone(), engine.clone())];
        self.label_zones(&manager, &joined).await?;
        ctx.step(3).await;
        let total = self.store.nodes(node.cluster_id).await?.len();
        self.wait_all_ready(&manager, total, Duration::from_secs(60)).await?;
        self.store.node_set_state(node.id, "ready", "").await?;
        self.refresh_cluster(node.cluster_id).await;
        Ok(())
    }

    /// Deletes a hosts cluster: every host that answers leaves the swarm; then Berth forgets it.
    pub(crate) async fn release_hosts(&self, ctx: &JobCtx, cluster_id: i64) -> Result<()> {
        self.stop_reconciler(cluster_id);
        ctx.step(0).await;
        let nodes = self.store.nodes(cluster_id).await?;
        let mut unreachable = Vec::new();
        // Workers first, managers last, so the swarm keeps a quorum while others leave.
        let mut ordered = nodes.clone();
        ordered.sort_by_key(|n| n.is_manager());
        for node in &ordered {
            let left = match self.node_engine(node).await {
                Ok(engine) => engine.swarm_leave(true).await.map_err(Error::from),
                Err(e) => Err(e),
            };
            if let Err(e) = left {
                if !matches!(&e, Error::Engine(m) if m.contains("not part of a swarm")) {
                    unreachable.push(format!("{} ({e})", node.endpoint));
                }
            }
        }
        if !unreachable.is_empty() {
            ctx.detail(format!(
                "could not reach: {}; they may still think they are in the swarm",
                unreachable.join(", ")
            ))
            .await;
        }
        ctx.step(1).await;
        self.forget_node_engines(cluster_id).await?;
        self.store.cluster_delete(cluster_id).await?;
        Ok(())
    }
}

fn host_node(cluster_id: i64, name: &str, host: &ValidHost, role: NodeRole, zone: &str) -> NewNode {
    NewNode {
        cluster_id,
        name: name.into(),
        endpoint: host.endpoint.clone(),
        container: String::new(),
        role: role.as_str().into(),
        zone: zone.into(),
        state: "pending".into(),
        tls: host.tls.clone(),
        address: host.advertise.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line, and either (endpoint, tls, advertise) or a part of the error message.
    type Case<'a> = (&'a str, Result<(&'a str, &'a str, &'a str), &'a str>);

    #[test]
    fn host_lines() {
        let cases: &[Case] = &[
            ("tcp://10.0.0.5:2376", Ok(("tcp://10.0.0.5:2376", "mtls", "10.0.0.5"))),
            ("tcp://10.0.0.5:2375 insecure", Ok(("tcp://10.0.0.5:2375", "insecure", "10.0.0.5"))),
            ("tcp://node-1.example:2376 advertise=10.0.0.6", Ok(("tcp://node-1.example:2376", "mtls", "10.0.0.6"))),
            ("unix:///var/run/docker.sock advertise=10.0.0.7", Ok(("unix:///var/run/docker.sock", "none", "10.0.0.7"))),
            ("tcp://node-1.example:2376", Err("advertise=IP")),
            ("unix:///var/run/docker.sock", Err("advertise=IP")),
            ("unix:///var/run/docker.sock insecure", Err("insecure only applies")),
            ("http://10.0.0.5:2376", Err("is not tcp://")),
            ("tcp://10.0.0.5:2376 advertise=nope", Err("not an IP")),
        ];
        for (line, want) in cases {
            match (HostInput::parse_line(line).validate(), want) {
                (Ok(h), Ok((endpoint, tls, advertise))) => {
                    assert_eq!(
                        (h.endpoint.as_str(), h.tls.as_str(), h.advertise.as_str()),
                        (*endpoint, *tls, *advertise),
                        "{line}"
                    )
                }
                (Err(Error::Invalid { field, message }), Err(want)) => {
                    assert_eq!(field, "hosts");
                    assert!(message.contains(want), "{line}: {message}");
                }
                (got, want) => panic!("{line}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn cluster_input() {
        let host = |e: &str| HostInput::parse_line(e);
        let ok = HostsClusterInput {
            name: "edge".into(),
            hosts: vec![host("tcp://10.0.0.5:2376")],
            managers: 1,
            zones: vec![],
        };
        assert!(ok.validate().is_ok());
        let twice =
            HostsClusterInput { hosts: vec![host("tcp://10.0.0.5:2376"), host("tcp://10.0.0.5:2376")], ..ok.clone() };
        assert!(matches!(twice.validate(), Err(Error::Invalid { message, .. }) if message.contains("twice")));
        let managers = HostsClusterInput { managers: 3, ..ok.clone() };
        assert!(matches!(managers.validate(), Err(Error::Invalid { field, .. }) if field == "managers"));
        let none = HostsClusterInput { hosts: vec![], ..ok };
        assert!(matches!(none.validate(), Err(Error::Invalid { field, .. }) if field == "hosts"));
    }
}
