//! Swarm mode on an engine: init, join, leave, the node list and node updates, tasks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    NodeSpec, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState as BollardNodeState, Reachability,
    SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmSpecDispatcher, TaskState,
};
use bollard::query_parameters::{
    DeleteNodeOptions, LeaveSwarmOptions, ListNodesOptions, ListTasksOptions, UpdateNodeOptions,
};

use super::{Engine, EngineError};

/// Joining and initialising wait for raft; they get more time than ordinary calls.
const SWARM_CALL_LIMIT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeRole {
    Manager,
    Worker,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Manager => "manager",
            NodeRole::Worker => "worker",
        }
    }

    pub fn parse(s: &str) -> Option<NodeRole> {
        match s {
            "manager" => Some(NodeRole::Manager),
            "worker" => Some(NodeRole::Worker),
            _ => None,
        }
    }
}

/// Whether the scheduler may place tasks on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeAvailability {
    Active,
    Pause,
    Drain,
}

impl NodeAvailability {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeAvailability::Active => "active",
            NodeAvailability::Pause => "pause",
            NodeAvailability::Drain => "drain",
        }
    }

    pub fn parse(s: &str) -> Option<NodeAvailability> {
        match s {
            "active" => Some(NodeAvailability::Active),
            "pause" => Some(NodeAvailability::Pause),
            "drain" => Some(NodeAvailability::Drain),
            _ => None,
        }
    }
}

/// A node's state as the swarm managers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Ready,
    Down,
    Disconnected,
    Unknown,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Ready => "ready",
            NodeState::Down => "down",
            NodeState::Disconnected => "disconnected",
            NodeState::Unknown => "unknown",
        }
    }
}

/// One node of the swarm, from a manager's node list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmNode {
    pub id: String,
    /// The object version, needed to update the node.
    pub version: i64,
    pub hostname: String,
    pub role: NodeRole,
    pub availability: NodeAvailability,
    pub state: NodeState,
    pub address: String,
    pub leader: bool,
    /// For managers: whether the raft peer is reachable.
    pub manager_reachable: Option<bool>,
    pub engine_version: String,
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub labels: BTreeMap<String, String>,
}

/// One task (a service's container slot) as the swarm schedules it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub service_id: String,
    pub node_id: String,
    pub slot: Option<i64>,
    /// `running`, `pending`, `shutdown`, …
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
}

fn swarm_node(n: bollard::models::Node) -> SwarmNode {
    let spec = n.spec.unwrap_or_default();
    let description = n.description.unwrap_or_default();
    let resources = description.resources.unwrap_or_default();
    let status = n.status.unwrap_or_default();
    let manager = n.manager_status;
    SwarmNode {
        id: n.id.unwrap_or_default(),
        version: n.version.and_then(|v| v.index).unwrap_or(0) as i64,
        hostname: description.hostname.unwrap_or_default(),
        role: match spec.role {
            Some(NodeSpecRoleEnum::MANAGER) => NodeRole::Manager,
            _ => NodeRole::Worker,
        },
        availability: match spec.availability {
            Some(NodeSpecAvailabilityEnum::PAUSE) => NodeAvailability::Pause,
            Some(NodeSpecAvailabilityEnum::DRAIN) => NodeAvailability::Drain,
            _ => NodeAvailability::Active,
        },
        state: match status.state {
            Some(BollardNodeState::READY) => NodeState::Ready,
            Some(BollardNodeState::DOWN) => NodeState::Down,
            Some(BollardNodeState::DISCONNECTED) => NodeState::Disconnected,
            _ => NodeState::Unknown,
        },
        address: status.addr.unwrap_or_default(),
        leader: manager.as_ref().and_then(|m| m.leader).unwrap_or(false),
        manager_reachable: manager.and_then(|m| m.reachability).map(|r| r == Reachability::REACHABLE),
        engine_version: description.engine.and_then(|e| e.engine_version).unwrap_or_default(),
        nano_cpus: resources.nano_cpus.unwrap_or(0),
        memory_bytes: resources.memory_bytes.unwrap_or(0),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
    }
}

impl Engine {
    /// Makes this engine the first manager of a new swarm, advertising `advertise_addr`. The heartbeat
    /// decides how soon a lost node is marked down (the default 5 s gives 10–15 s; 2 s gives ~7 s).
    pub async fn swarm_init(&self, advertise_addr: &str, heartbeat: Duration) -> Result<String, EngineError> {
        let docker = self.client()?;
        let request = SwarmInitRequest {
            listen_addr: Some("0.0.0.0:2377".into()),
            advertise_addr: Some(advertise_addr.into()),
            spec: Some(SwarmSpec {
                dispatcher: Some(SwarmSpecDispatcher { heartbeat_period: Some(heartbeat.as_nanos() as i64) }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.call_within("swarm init", SWARM_CALL_LIMIT, docker.init_swarm(request)).await
    }

    /// The swarm's id and its join tokens `(id, worker, manager)`; only managers can tell.
    pub async fn swarm_join_tokens(&self) -> Result<(String, String, String), EngineError> {
        let docker = self.client()?;
        let swarm = self.read("swarm inspect", || docker.inspect_swarm()).await?;
        let tokens = swarm.join_tokens.unwrap_or_default();
        Ok((swarm.id.unwrap_or_default(), tokens.worker.unwrap_or_default(), tokens.manager.unwrap_or_default()))
    }

    /// Joins the swarm whose manager listens at `manager_addr` (`ip:2377`).
    pub async fn swarm_join(&self, manager_addr: &str, token: &str, advertise_addr: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        let request = SwarmJoinRequest {
            listen_addr: Some("0.0.0.0:2377".into()),
            advertise_addr: Some(advertise_addr.into()),
            remote_addrs: Some(vec![manager_addr.into()]),
            join_token: Some(token.into()),
            ..Default::default()
        };
        self.call_within("swarm join", SWARM_CALL_LIMIT, docker.join_swarm(request)).await
    }

    /// Leaves the swarm; `force` also for a manager (or the last one).
    pub async fn swarm_leave(&self, force: bool) -> Result<(), EngineError> {
        let docker = self.client()?;
        self.call_within("swarm leave", SWARM_CALL_LIMIT, docker.leave_swarm(Some(LeaveSwarmOptions { force }))).await
    }

    /// Every node of the swarm (from a manager).
    pub async fn swarm_nodes(&self) -> Result<Vec<SwarmNode>, EngineError> {
        let docker = self.client()?;
        let nodes = self.read("node list", || docker.list_nodes(None::<ListNodesOptions>)).await?;
        Ok(nodes.into_iter().map(swarm_node).collect())
    }

    /// Changes a node's role, availability and labels (from a manager). Retries once when the node
    /// changed in between ("update out of sequence").
    pub async fn swarm_update_node(
        &self,
        node_id: &str,
        change: impl Fn(&mut SwarmNode),
    ) -> Result<SwarmNode, EngineError> {
        let docker = self.client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = swarm_node(self.read("node inspect", || docker.inspect_node(node_id)).await?);
            let mut wanted = current.clone();
            change(&mut wanted);
            let spec = NodeSpec {
                name: None,
                labels: Some(wanted.labels.clone().into_iter().collect::<HashMap<_, _>>()),
                role: Some(match wanted.role {
                    NodeRole::Manager => NodeSpecRoleEnum::MANAGER,
                    NodeRole::Worker => NodeSpecRoleEnum::WORKER,
                }),
                availability: Some(match wanted.availability {
                    NodeAvailability::Active => NodeSpecAvailabilityEnum::ACTIVE,
                    NodeAvailability::Pause => NodeSpecAvailabilityEnum::PAUSE,
                    NodeAvailability::Drain => NodeSpecAvailabilityEnum::DRAIN,
                }),
            };
            let options = UpdateNodeOptions { version: current.version };
            match self.call("node update", docker.update_node(node_id, spec, options)).await {
                Ok(()) => return Ok(wanted),
                Err(e) if attempt < 3 && e.to_string().contains("out of sequence") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes a node from the swarm's list (from a manager); `force` for a node that is not down.
    pub async fn swarm_remove_node(&self, node_id: &str, force: bool) -> Result<(), EngineError> {
        let docker = self.client()?;
        self.call("node remove", docker.delete_node(node_id, Some(DeleteNodeOptions { force }))).await
    }

    /// Tasks the swarm knows (from a manager), optionally only those on one node.
    pub async fn swarm_tasks(&self, node_id: Option<&str>) -> Result<Vec<SwarmTask>, EngineError> {
        let docker = self.client()?;
        let filters = node_id.map(|id| HashMap::from([("node".to_string(), vec![id.to_string()])]));
        let tasks =
            self.read("task list", || docker.list_tasks(Some(ListTasksOptions { filters: filters.clone() }))).await?;
        let state = |s: Option<TaskState>| s.map(|s| s.to_string()).unwrap_or_default();
        Ok(tasks
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                SwarmTask {
                    id: t.id.unwrap_or_default(),
                    service_id: t.service_id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    slot: t.slot,
                    state: state(status.state),
                    desired_state: state(t.desired_state),
                    message: status.message.unwrap_or_default(),
                    error: status.err.unwrap_or_default(),
                }
            })
            .collect())
    }
}

impl Engine {
    /// Service names by id (from a manager), to show what a task belongs to.
    pub async fn swarm_service_names(&self) -> Result<HashMap<String, String>, EngineError> {
        let docker = self.client()?;
        let services = self
            .read("service list", || docker.list_services(None::<bollard::query_parameters::ListServicesOptions>))
            .await?;
        Ok(services
            .into_iter()
            .filter_map(|s| Some((s.id?, s.spec.and_then(|spec| spec.name).unwrap_or_default())))
            .collect())
    }
}
