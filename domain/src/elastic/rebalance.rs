//! Rebalancing: swarm places a task once and never moves it, so after a node comes back (or joins)
//! a service's tasks stay where they were — 3/3/0. A plan compares each replicated service's
//! running tasks per node with an even spread over the nodes it may run on (ready, active, meeting
//! its constraints; zone by zone first when it spreads over zones), and says what to move ("1 task
//! of shop_web from n1 to n3"). **Apply** moves only those: the service is scaled up by the number
//! of tasks to move (swarm's spread scheduler puts the new tasks on the emptiest nodes), then back
//! down (swarm removes tasks from the nodes with the most of the service first), so every other
//! task keeps running. A dry run changes nothing.
//!
//! Constraints are read by an allow-list: `node.id`, `node.hostname`, `node.role` and
//! `node.labels.<key>` with `==` or `!=`. A service with any other constraint is left alone, and
//! the plan says why.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authz::{authorize, Actor, Permission};
use crate::clusters::node::ZONE_LABEL;
use crate::engine::{Engine, NodeAvailability, NodeState, SwarmNode};
use crate::error::{Error, Result};
use crate::runtime::job::{JobSpec, Prepared};
use crate::Berth;

/// A node a task could be placed on, as the plan sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Candidate {
    /// The swarm node id.
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    pub labels: BTreeMap<String, String>,
    /// Ready and active: swarm places new tasks there.
    pub schedulable: bool,
}

impl Candidate {
    fn zone(&self) -> &str {
        self.labels.get(ZONE_LABEL).map(String::as_str).unwrap_or("")
    }
}

/// Whether `node` meets every constraint; `Err` names the first one of a kind Berth does not read.
pub fn meets(node: &Candidate, constraints: &[String]) -> std::result::Result<bool, String> {
    let mut all = true;
    for c in constraints {
        let (key, want, equal) = if let Some((k, v)) = c.split_once("!=") {
            (k.trim(), v.trim(), false)
        } else if let Some((k, v)) = c.split_once("==") {
            (k.trim(), v.trim(), true)
        } else {
            return Err(c.clone());
        };
        let have = match key {
            "node.id" => Some(node.id.as_str()),
            "node.hostname" => Some(node.hostname.as_str()),
            "node.role" => Some(node.role.as_str()),
            k => match k.strip_prefix("node.labels.") {
                Some(label) if !label.is_empty() => node.labels.get(label).map(String::as_str),
                _ => return Err(c.clone()),
            },
        };
        all &= (have == Some(want)) == equal;
    }
    Ok(all)
}

/// The even spread of `total` tasks over `nodes` (id, zone, tasks now): each node's target. With
/// `by_zone`, zones first share the tasks evenly, then each zone's nodes. Where the tasks do not
/// divide evenly, the one more goes to the groups with the most tasks now, so fewer move.
pub fn even(nodes: &[(String, String, u64)], by_zone: bool) -> HashMap<String, u64> {
    let total: u64 = nodes.iter().map(|n| n.2).sum();
    let mut targets = HashMap::new();
    if by_zone {
        let mut zones: BTreeMap<&str, Vec<&(String, String, u64)>> = BTreeMap::new();
        for n in nodes {
            zones.entry(n.1.as_str()).or_default().push(n);
        }
        let groups: Vec<(u64, u64)> = zones.values().map(|z| (z.len() as u64, z.iter().map(|n| n.2).sum())).collect();
        let shares = share(total, &groups.iter().map(|g| g.1).collect::<Vec<_>>());
        for (zone, share) in zones.values().zip(shares) {
            let now: Vec<u64> = zone.iter().map(|n| n.2).collect();
            let split = share_n(share, &now);
            for (n, t) in zone.iter().zip(split) {
                targets.insert(n.0.clone(), t);
            }
        }
    } else {
        let now: Vec<u64> = nodes.iter().map(|n| n.2).collect();
        for (n, t) in nodes.iter().zip(share_n(total, &now)) {
            targets.insert(n.0.clone(), t);
        }
    }
    targets
}

/// `total` split over groups as evenly as possible (one group each), the remainder to the groups
/// with the most now.
fn share(total: u64, now: &[u64]) -> Vec<u64> {
    share_n(total, now)
}

fn share_n(total: u64, now: &[u64]) -> Vec<u64> {
    let n = now.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    let (base, mut extra) = (total / n, total % n);
    let mut order: Vec<usize> = (0..now.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(now[i]), i));
    let mut out = vec![base; now.len()];
    for i in order {
        if extra == 0 {
            break;
        }
        out[i] += 1;
        extra -= 1;
    }
    out
}

/// One node of a service's spread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpread {
    pub node: String,
    pub zone: String,
    pub now: u64,
    pub target: u64,
}

/// Tasks to move from one node to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub tasks: u64,
}

/// One service's place in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlan {
    /// The swarm service (`<app>_<service>`).
    pub service: String,
    pub app: String,
    pub replicas: u64,
    pub spread: Vec<NodeSpread>,
    pub moves: Vec<Move>,
    /// Why it is left alone (a constraint Berth does not read, tasks not all running, …).
    pub skipped: String,
}

impl ServicePlan {
    pub fn tasks_to_move(&self) -> u64 {
        self.moves.iter().map(|m| m.tasks).sum()
    }

    /// In words: "move 1 task of shop_web from n1 to n3".
    pub fn describe(&self) -> Vec<String> {
        self.moves
            .iter()
            .map(|m| {
                let what = if m.tasks == 1 { "1 task".to_string() } else { format!("{} tasks", m.tasks) };
                format!("move {what} of {} from {} to {}", self.service, m.from, m.to)
            })
            .collect()
    }
}

/// A cluster's rebalancing plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalancePlan {
    pub services: Vec<ServicePlan>,
}

impl RebalancePlan {
    pub fn tasks_to_move(&self) -> u64 {
        self.services.iter().map(ServicePlan::tasks_to_move).sum()
    }
}

/// The moves from `now` to `target` per node (names), surplus nodes to those short of tasks.
pub fn moves(spread: &[NodeSpread]) -> Vec<Move> {
    let mut surplus: Vec<(String, u64)> =
        spread.iter().filter(|s| s.now > s.target).map(|s| (s.node.clone(), s.now - s.target)).collect();
    let mut short: Vec<(String, u64)> =
        spread.iter().filter(|s| s.now < s.target).map(|s| (s.node.clone(), s.target - s.now)).collect();
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < surplus.len() && j < short.len() {
        let k = surplus[i].1.min(short[j].1);
        out.push(Move { from: surplus[i].0.clone(), to: short[j].0.clone(), tasks: k });
        surplus[i].1 -= k;
        short[j].1 -= k;
        if surplus[i].1 == 0 {
            i += 1;
        }
        if short[j].1 == 0 {
            j += 1;
        }
    }
    out
}

fn candidate(n: &SwarmNode) -> Candidate {
    Candidate {
        id: n.id.clone(),
        hostname: n.hostname.clone(),
        role: n.role.as_str().into(),
        labels: n.labels.clone(),
        schedulable: n.state == NodeState::Ready && n.availability == NodeAvailability::Active,
    }
}

/// The plan of one service from its spec, its running tasks' nodes and the swarm's nodes.
pub fn plan_service(
    service: &str,
    app: &str,
    spec: &compose::ServiceSpec,
    running_on: &[String],
    nodes: &[Candidate],
    names: &HashMap<String, String>,
) -> ServicePlan {
    let mut plan = ServicePlan {
        service: service.to_string(),
        app: app.to_string(),
        replicas: 0,
        spread: Vec::new(),
        moves: Vec::new(),
        skipped: String::new(),
    };
    let compose::Mode::Replicated(replicas) = spec.mode else {
        plan.skipped = "not a replicated service".into();
        return plan;
    };
    plan.replicas = replicas;
    let mut eligible = Vec::new();
    for n in nodes.iter().filter(|n| n.schedulable) {
        match meets(n, &spec.placement.constraints) {
            Ok(true) => eligible.push(n),
            Ok(false) => {}
            Err(c) => {
                plan.skipped = format!("its constraint `{c}` is not one Berth reads; left to swarm");
                return plan;
            }
        }
    }
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let counts: Vec<(String, String, u64)> = eligible
        .iter()
        .map(|n| (n.id.clone(), n.zone().to_string(), running_on.iter().filter(|r| **r == n.id).count() as u64))
        .collect();
    let placed: u64 = counts.iter().map(|c| c.2).sum();
    if placed != replicas {
        plan.skipped = format!("{placed} of {replicas} tasks run on nodes it may use: wait until all run");
        return plan;
    }
    let by_zone = spec.placement.spread.iter().any(|s| s == &format!("node.labels.{ZONE_LABEL}"));
    let targets = even(&counts, by_zone);
    if let Some(max) = spec.placement.max_replicas_per_node {
        if targets.values().any(|t| *t > max) {
            plan.skipped = format!("an even spread would put more than {max} on a node (max_replicas_per_node)");
            return plan;
        }
    }
    plan.spread = counts
        .iter()
        .map(|(id, zone, now)| NodeSpread { node: name(id), zone: zone.clone(), now: *now, target: targets[id] })
        .collect();
    plan.spread.sort_by(|a, b| a.node.cmp(&b.node));
    plan.moves = moves(&plan.spread);
    plan
}

/// The steps of an applied rebalance.
const STEPS: &[&str] =
    &["Plan the moves", "Start tasks where they are short", "Stop tasks where there are too many", "Check the spread"];

/// How long each scale of an apply may take.
const SCALE_PATIENCE: Duration = Duration::from_secs(120);

impl Berth {
    /// A cluster's rebalancing plan (a dry run: nothing changes), of every app service or of one
    /// (`<app>_<service>`).
    pub async fn rebalance_plan(&self, actor: &Actor, cluster_id: i64, only: Option<&str>) -> Result<RebalancePlan> {
        authorize(actor, Permission::ClusterRead(cluster_id))?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        self.plan_on(cluster_id, &manager, only).await
    }

    async fn plan_on(&self, cluster_id: i64, manager: &Engine, only: Option<&str>) -> Result<RebalancePlan> {
        let installation = self.installation().await?;
        let owned = crate::clusters::cluster::owned_by(&installation, cluster_id);
        let mut services = manager.services_labelled(&owned).await?;
        services.retain(|s| s.labels.contains_key(crate::apps::plan::APP_LABEL));
        if let Some(name) = only {
            services.retain(|s| s.name == name);
            if services.is_empty() {
                return Err(Error::invalid("service", format!("no app service {name} on this cluster")));
            }
        }
        let nodes: Vec<Candidate> = manager.swarm_nodes().await?.iter().map(candidate).collect();
        let names: HashMap<String, String> =
            self.store.nodes(cluster_id).await?.into_iter().map(|n| (n.swarm_node_id, n.name)).collect();
        let tasks = manager.running_tasks().await?;
        let mut plan = RebalancePlan::default();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        for s in services {
            let on: Vec<String> = tasks
                .iter()
                .filter(|t| t.service_id == s.id && t.state == "running")
                .map(|t| t.node_id.clone())
                .collect();
            let app = s.labels.get(crate::engine::STACK_NAMESPACE).cloned().unwrap_or_default();
            plan.services.push(plan_service(&s.name, &app, &s.spec, &on, &nodes, &names));
        }
        Ok(plan)
    }

    /// Applies a cluster's plan as a job (cluster admins): each service with tasks to move is scaled
    /// up by that many and back, so only those tasks move. Returns the job id.
    pub async fn rebalance_apply(&self, actor: &Actor, cluster_id: i64, only: Option<String>) -> Result<i64> {
        let op = crate::audit::operation::Op {
            action: "cluster.rebalance",
            permission: Permission::ClusterManage(cluster_id),
            target: format!("cluster {cluster_id}"),
            params: json!({ "cluster": cluster_id, "service": only }),
        };
        let spec = JobSpec { op, kind: "cluster.rebalance", steps: STEPS };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let cluster = this
                    .store
                    .cluster(cluster_id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
                let claim = this.claim(cluster_id).await?;
                Ok(Prepared {
                    cluster_id: Some(cluster_id),
                    target: cluster.name,
                    claim: Some(claim),
                    input: only,
                    steps: None,
                })
            },
            move |berth, ctx, only| async move {
                ctx.step(0).await;
                let (_, manager) = berth.reachable_manager(cluster_id).await?;
                let plan = berth.plan_on(cluster_id, &manager, only.as_deref()).await?;
                let moving: Vec<&ServicePlan> = plan.services.iter().filter(|s| s.tasks_to_move() > 0).collect();
                let said: Vec<String> = moving.iter().flat_map(|s| s.describe()).collect();
                ctx.detail(if said.is_empty() {
                    "nothing to move: every service is spread evenly".into()
                } else {
                    said.join("; ")
                })
                .await;
                ctx.step(1).await;
                for s in &moving {
                    let k = s.tasks_to_move();
                    manager.service_scale(&s.service, s.replicas + k).await?;
                    wait_running(&manager, &s.service, s.replicas + k).await?;
                    ctx.detail(format!("{}: {k} more started", s.service)).await;
                }
                ctx.step(2).await;
                for s in &moving {
                    manager.service_scale(&s.service, s.replicas).await?;
                    wait_running(&manager, &s.service, s.replicas).await?;
                    ctx.detail(format!("{}: back to {}", s.service, s.replicas)).await;
                }
                ctx.step(3).await;
                let after = berth.plan_on(cluster_id, &manager, only.as_deref()).await?;
                let left: Vec<String> = after.services.iter().flat_map(|s| s.describe()).collect();
                ctx.detail(if left.is_empty() {
                    "every service is spread evenly".to_string()
                } else {
                    format!("swarm left some uneven: {}", left.join("; "))
                })
                .await;
                Ok(())
            },
        )
        .await
    }
}

/// Waits until exactly `n` tasks of `service` run (and none is starting or stopping).
async fn wait_running(manager: &Engine, service: &str, n: u64) -> Result<()> {
    let started = Instant::now();
    loop {
        let tasks = manager.service_tasks(service).await?;
        let running = tasks.iter().filter(|t| t.state == "running" && t.desired_state == "running").count() as u64;
        let settling = tasks.iter().any(|t| {
            (t.desired_state == "running" && t.state != "running")
                || (t.desired_state != "running" && t.state == "running")
        });
        if running == n && !settling {
            return Ok(());
        }
        if started.elapsed() > SCALE_PATIENCE {
            return Err(Error::Conflict(format!(
                "{service}: {running} of {n} tasks running after {} s",
                SCALE_PATIENCE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: &str, zone: &str) -> Candidate {
        let mut labels = BTreeMap::new();
        if !zone.is_empty() {
            labels.insert(ZONE_LABEL.to_string(), zone.to_string());
        }
        Candidate { id: id.into(), hostname: format!("host-{id}"), role: role.into(), labels, schedulable: true }
    }

    #[test]
    fn constraints_are_read_from_an_allow_list() {
        let n = node("a", "worker", "z1");
        let table: &[(&str, std::result::Result<bool, ()>)] = &[
            ("node.role==worker", Ok(true)),
            ("node.role == manager", Ok(false)),
            ("node.role!=manager", Ok(true)),
            ("node.id==a", Ok(true)),
            ("node.hostname==host-a", Ok(true)),
            ("node.hostname!=host-a", Ok(false)),
            ("node.labels.berth.zone==z1", Ok(true)),
            ("node.labels.berth.zone==z2", Ok(false)),
            ("node.labels.missing!=x", Ok(true)),
            ("node.labels.missing==x", Ok(false)),
            // Not read: the service is left to swarm.
            ("node.platform.os==linux", Err(())),
            ("engine.labels.ssd==true", Err(())),
            ("node.labels.==x", Err(())),
            ("node.role=worker", Err(())),
            ("node.role", Err(())),
            ("NODE.ROLE==worker", Err(())),
        ];
        for (c, want) in table {
            let got = meets(&n, &[c.to_string()]).map_err(|_| ());
            assert_eq!(&got, want, "{c}");
        }
    }

    #[test]
    fn the_even_spread_moves_as_few_tasks_as_it_can() {
        let spread = |nodes: &[(&str, &str, u64)], by_zone: bool| {
            let nodes: Vec<(String, String, u64)> =
                nodes.iter().map(|(n, z, c)| (n.to_string(), z.to_string(), *c)).collect();
            let t = even(&nodes, by_zone);
            let mut out: Vec<(String, u64)> = t.into_iter().collect();
            out.sort();
            out.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
        };
        assert_eq!(spread(&[("n1", "", 3), ("n2", "", 3), ("n3", "", 0)], false), [2, 2, 2]);
        // 7 over 3: the one more stays where most are.
        assert_eq!(spread(&[("n1", "", 5), ("n2", "", 2), ("n3", "", 0)], false), [3, 2, 2]);
        assert_eq!(spread(&[("n1", "", 1), ("n2", "", 1), ("n3", "", 1)], false), [1, 1, 1]);
        // Zones first: zone a has two nodes, b one; 4 tasks → 2 per zone.
        assert_eq!(spread(&[("n1", "a", 4), ("n2", "a", 0), ("n3", "b", 0)], true), [1, 1, 2]);
        assert!(spread(&[], false).is_empty());
    }

    #[test]
    fn a_plan_says_what_moves_where() {
        let nodes = vec![node("a", "manager", ""), node("b", "worker", ""), node("c", "worker", "")];
        let names: HashMap<String, String> =
            [("a", "n1"), ("b", "n2"), ("c", "n3")].iter().map(|(i, n)| (i.to_string(), n.to_string())).collect();
        let mut spec = compose::ServiceSpec { mode: compose::Mode::Replicated(6), ..Default::default() };
        let on: Vec<String> = ["a", "a", "a", "b", "b", "b"].iter().map(|s| s.to_string()).collect();
        let p = plan_service("shop_web", "shop", &spec, &on, &nodes, &names);
        assert_eq!(p.skipped, "");
        assert_eq!(p.tasks_to_move(), 2);
        assert_eq!(p.describe(), ["move 1 task of shop_web from n1 to n3", "move 1 task of shop_web from n2 to n3"]);

        // Only workers: n1 is not a place for it, so 3/3 over n2, n3.
        spec.placement.constraints = vec!["node.role==worker".into()];
        let on: Vec<String> = ["b", "b", "b", "b", "c", "c"].iter().map(|s| s.to_string()).collect();
        let p = plan_service("shop_web", "shop", &spec, &on, &nodes, &names);
        assert_eq!(p.describe(), ["move 1 task of shop_web from n2 to n3"]);

        // A drained node takes no task.
        let mut drained = nodes.clone();
        drained[2].schedulable = false;
        spec.placement.constraints.clear();
        let on: Vec<String> = ["a", "a", "a", "b", "b", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(plan_service("shop_web", "shop", &spec, &on, &drained, &names).tasks_to_move(), 0);

        // Left alone: an unread constraint, tasks not all running, a global service.
        spec.placement.constraints = vec!["node.platform.os==linux".into()];
        assert!(plan_service("s", "a", &spec, &on, &nodes, &names).skipped.contains("node.platform.os==linux"));
        spec.placement.constraints.clear();
        assert!(plan_service("s", "a", &spec, &on[..4], &nodes, &names).skipped.contains("4 of 6"));
        spec.mode = compose::Mode::Global;
        assert_eq!(plan_service("s", "a", &spec, &on, &nodes, &names).skipped, "not a replicated service");
    }
}
