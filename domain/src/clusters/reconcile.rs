//! Keeping clusters true: a loop per cluster compares what the swarm and the node engines say with
//! what Berth recorded, and writes the differences (node state, role, availability, leader, engine,
//! resources, labels; the cluster's status). Level-triggered: each pass reads everything afresh and
//! never asks why it ran. It never deletes anything: a node missing from the swarm is marked
//! `missing`, not removed.

use std::collections::HashMap;

use futures::future::BoxFuture;

use crate::clock::now_ms;
use crate::clusters::node::{Node, NodeObservation, ZONE_LABEL};
use crate::clusters::providers::provider;
use crate::engine::{Engine, NodeState, SwarmNode};
use crate::error::Result;
use crate::{runtime::lease, Berth};

/// Work that follows each cluster's reconciler, which the clusters part does not name: started and
/// stopped with the cluster's loop, and told after each pass with the manager that answered.
/// lib.rs registers the followers (observe's collection, apps' health; see `Berth::followers`).
pub(crate) trait Follower: Sync {
    /// The cluster's loop started (or started again).
    fn start(&self, _berth: &Berth, _cluster_id: i64) {}

    /// The cluster's loop stopped.
    fn stop(&self, _berth: &Berth, _cluster_id: i64) {}

    /// A pass over the cluster ended, and `manager` answered it (errors are the follower's to log).
    fn after_pass<'a>(&'a self, _berth: &'a Berth, _cluster_id: i64, _manager: &'a Engine) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Node states a job owns; the reconciler leaves them alone.
const JOB_STATES: &[&str] = &["pending", "removing"];

impl Berth {
    /// Starts (or restarts) the reconcile loop of a cluster.
    pub(crate) fn start_reconciler(&self, cluster_id: i64) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.reconcile_every, move || {
            let berth = berth.clone();
            async move {
                if !berth.hold_lease(&lease::cluster(cluster_id), berth.cluster_lease_ttl()).await {
                    return;
                }
                if let Err(e) = berth.reconcile(cluster_id).await {
                    tracing::warn!(cluster = cluster_id, error = %e, "reconcile pass failed");
                }
            }
        });
        if let Some(old) = self.reconcilers.lock().unwrap_or_else(|p| p.into_inner()).insert(cluster_id, handle) {
            old.abort();
        }
        for follower in self.followers() {
            follower.start(self, cluster_id);
        }
    }

    /// With replicas (PostgreSQL): this process's `instance:` lease, renewed every reconcile
    /// interval (its jobs and claims are alive while it lasts); and every five, the loops of clusters
    /// other replicas created (or stopped for deleted ones) and the recovery of jobs whose process is
    /// gone.
    pub(crate) async fn start_replica_loops(&self) {
        if self.stopping() {
            return;
        }
        let alive = format!("instance:{}", self.instance);
        self.hold_lease(&alive, self.heartbeat_ttl()).await;
        let berth = self.clone();
        let heartbeat = self.every(self.config.reconcile_every, move || {
            let (berth, alive) = (berth.clone(), alive.clone());
            async move {
                berth.hold_lease(&alive, berth.heartbeat_ttl()).await;
            }
        });
        let berth = self.clone();
        let adopter = self.every(self.config.reconcile_every * 5, move || {
            let berth = berth.clone();
            async move {
                berth.adopt().await;
                if let Err(e) = berth.recover_interrupted(false).await {
                    tracing::warn!(error = %e, "could not recover the jobs of a stopped replica");
                }
            }
        });
        self.replica_loops.lock().unwrap_or_else(|p| p.into_inner()).extend([heartbeat, adopter]);
    }

    /// Starts the loops of clusters this process has none for, stops those of deleted clusters.
    async fn adopt(&self) {
        let clusters = match self.store.clusters().await {
            Ok(clusters) => clusters,
            Err(e) => {
                tracing::warn!(error = %e, "could not list clusters to adopt");
                return;
            }
        };
        let running: Vec<i64> = self.reconcilers.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        for c in clusters.iter().filter(|c| !matches!(c.status.as_str(), "creating" | "deleting")) {
            if !running.contains(&c.id) {
                self.start_reconciler(c.id);
            }
        }
        for id in running.into_iter().filter(|id| !clusters.iter().any(|c| c.id == *id)) {
            self.stop_reconciler(id);
        }
    }

    pub(crate) fn stop_reconciler(&self, cluster_id: i64) {
        if let Some(handle) = self.reconcilers.lock().unwrap_or_else(|p| p.into_inner()).remove(&cluster_id) {
            handle.abort();
        }
        for follower in self.followers() {
            follower.stop(self, cluster_id);
        }
    }

    /// One pass right now, after an operation changed something (errors are logged).
    pub(crate) async fn refresh_cluster(&self, cluster_id: i64) {
        if let Err(e) = self.reconcile(cluster_id).await {
            tracing::debug!(cluster = cluster_id, error = %e, "refresh failed");
        }
    }

    /// One reconcile pass over a cluster.
    pub async fn reconcile(&self, cluster_id: i64) -> Result<()> {
        let Some(cluster) = self.store.cluster(cluster_id).await? else { return Ok(()) };
        if matches!(cluster.status.as_str(), "creating" | "deleting" | "failed") {
            return Ok(());
        }
        let nodes = self.store.nodes(cluster_id).await?;
        // Which engines answer, all at once, each bounded by the node timeout.
        let pings = futures::future::join_all(nodes.iter().map(|n| async move {
            match self.node_engine(n).await {
                Ok(engine) => engine.ping().await.is_ok(),
                Err(_) => false,
            }
        }))
        .await;
        let answers: HashMap<i64, bool> = nodes.iter().map(|n| n.id).zip(pings).collect();

        // The swarm's view, from the first manager that answers.
        let mut swarm: Option<Vec<SwarmNode>> = None;
        let mut answering = None;
        let mut managers: Vec<&Node> = nodes.iter().filter(|n| n.is_manager() && answers[&n.id]).collect();
        managers.sort_by_key(|n| (n.leader == 0, n.id));
        for manager in managers {
            let engine = self.node_engine(manager).await?;
            if let Ok(list) = engine.swarm_nodes().await {
                swarm = Some(list);
                answering = Some(engine);
                break;
            }
        }

        let now = now_ms();
        let engine_is_node = provider(&cluster.provider)?.engine_is_the_node();
        for node in nodes.iter().filter(|n| !JOB_STATES.contains(&n.state.as_str())) {
            let reachable = answers[&node.id];
            let member = swarm.as_ref().and_then(|s| s.iter().find(|m| m.id == node.swarm_node_id));
            let observation = observe(node, member, swarm.is_some(), reachable, engine_is_node, now);
            // Written only over the state this pass read: of two overlapping passes (a lease that
            // lapsed under load), one moves the node and tells the timeline.
            let event = (observation.state != node.state).then(|| node_changed(node, &observation, now));
            self.store.node_observe(node.id, &node.state, &observation, event.as_ref()).await?;
        }

        let nodes = self.store.nodes(cluster_id).await?;
        let (status, message) = cluster_status(&nodes, swarm.is_some());
        self.store.cluster_set_status(cluster_id, status, &message, now).await?;
        // What follows the pass (the apps' health), from the manager that answered (nothing is
        // concluded without one).
        if let Some(manager) = answering {
            for follower in self.followers() {
                follower.after_pass(self, cluster_id, &manager).await;
            }
        }
        Ok(())
    }
}

/// The timeline's entry for a node whose state Berth saw change.
fn node_changed(node: &Node, o: &NodeObservation, now: i64) -> crate::store::NewEvent {
    let detail = if o.message.is_empty() { String::new() } else { format!(": {}", o.message) };
    crate::store::NewEvent {
        cluster_id: node.cluster_id,
        ts: now,
        kind: "node".into(),
        action: o.state.clone(),
        app: String::new(),
        service: String::new(),
        subject: node.name.clone(),
        severity: if o.state == "ready" { "info" } else { "warning" },
        message: format!("node {} is {} (was {}){detail}", node.name, o.state, node.state),
    }
}

/// What a node's row should say, from the swarm's entry for it (if the swarm could be asked) and
/// whether its own engine answered. Where the engine is the node itself (a local node container),
/// a node whose engine does not answer is down, whatever the managers have not noticed yet.
fn observe(
    node: &Node,
    member: Option<&SwarmNode>,
    swarm_known: bool,
    reachable: bool,
    engine_is_node: bool,
    now: i64,
) -> NodeObservation {
    let mut o = NodeObservation {
        role: node.role.clone(),
        zone: node.zone.clone(),
        state: node.state.clone(),
        availability: node.availability.clone(),
        leader: node.leader != 0,
        engine_version: node.engine_version.clone(),
        nano_cpus: node.nano_cpus,
        memory_bytes: node.memory_bytes,
        labels: node.labels(),
        message: String::new(),
        seen_at: reachable.then_some(now),
    };
    if let Some(m) = member {
        o.role = m.role.as_str().into();
        o.availability = m.availability.as_str().into();
        o.leader = m.leader;
        o.engine_version = m.engine_version.clone();
        o.nano_cpus = m.nano_cpus;
        o.memory_bytes = m.memory_bytes;
        o.labels = m.labels.clone();
        if let Some(zone) = m.labels.get(ZONE_LABEL) {
            o.zone = zone.clone();
        }
    }
    (o.state, o.message) = match (member.map(|m| m.state), reachable) {
        (_, false) if engine_is_node => ("down".into(), "the node's engine does not answer".into()),
        (Some(NodeState::Down), _) => ("down".into(), "the swarm marks the node down".into()),
        (Some(NodeState::Ready), false) => ("unreachable".into(), "Berth cannot reach the node's engine".into()),
        (Some(NodeState::Ready), true) => ("ready".into(), String::new()),
        (Some(state), _) => (state.as_str().into(), String::new()),
        (None, _) if swarm_known => ("missing".into(), "the swarm does not list this node".into()),
        (None, true) => (node.state.clone(), "no manager answers".into()),
        (None, false) => ("down".into(), "neither the node nor a manager answers".into()),
    };
    o
}

/// The cluster's status from its nodes: `ready` when every node is, `unreachable` when no manager
/// answers, `degraded` otherwise.
fn cluster_status(nodes: &[Node], swarm_known: bool) -> (&'static str, String) {
    if !swarm_known {
        return ("unreachable", "no manager answers".into());
    }
    let not_ready: Vec<&str> = nodes.iter().filter(|n| n.state != "ready").map(|n| n.name.as_str()).collect();
    if not_ready.is_empty() {
        ("ready", String::new())
    } else {
        ("degraded", format!("not ready: {}", not_ready.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{NodeAvailability, NodeRole};

    fn node(state: &str) -> Node {
        Node::for_test("n1", state)
    }

    fn member(state: NodeState) -> SwarmNode {
        SwarmNode {
            id: "abc".into(),
            version: 1,
            hostname: "n1".into(),
            role: NodeRole::Worker,
            availability: NodeAvailability::Drain,
            state,
            address: "10.0.0.2".into(),
            leader: false,
            manager_reachable: None,
            engine_version: "20.10".into(),
            nano_cpus: 2_000_000_000,
            memory_bytes: 1 << 30,
            labels: [(ZONE_LABEL.to_string(), "b".to_string())].into(),
        }
    }

    #[test]
    fn node_states_table() {
        let m_ready = member(NodeState::Ready);
        let m_down = member(NodeState::Down);
        // (swarm entry, swarm known, engine answers, local provider) → state
        let cases: &[(Option<&SwarmNode>, bool, bool, bool, &str)] = &[
            (Some(&m_ready), true, true, true, "ready"),
            (Some(&m_ready), true, false, true, "down"),
            (Some(&m_ready), true, false, false, "unreachable"),
            (Some(&m_down), true, true, true, "down"),
            (None, true, true, true, "missing"),
            (None, false, true, true, "ready"),
            (None, false, false, false, "down"),
        ];
        for (m, known, reachable, local, want) in cases {
            let o = observe(&node("ready"), *m, *known, *reachable, *local, 5);
            assert_eq!(o.state, *want, "{m:?} known={known} reachable={reachable} local={local}");
        }
        let o = observe(&node("pending"), Some(&m_ready), true, true, true, 5);
        assert_eq!((o.availability.as_str(), o.zone.as_str(), o.seen_at), ("drain", "b", Some(5)));
    }

    #[test]
    fn cluster_status_from_nodes() {
        let mut a = node("ready");
        a.name = "n1".into();
        let mut b = node("down");
        b.name = "n2".into();
        assert_eq!(cluster_status(&[a.clone()], true).0, "ready");
        assert_eq!(cluster_status(&[a.clone(), b.clone()], true), ("degraded", "not ready: n2".into()));
        assert_eq!(cluster_status(&[a], false).0, "unreachable");
    }
}
