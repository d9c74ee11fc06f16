//! Clusters, their nodes and the jobs that change them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A cluster in lists and on its page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClusterRow {
    pub id: i64,
    pub name: String,
    pub provider: String,
    /// `creating`, `ready`, `degraded`, `unreachable`, `deleting`, `failed`.
    pub status: String,
    pub message: String,
    pub zones: Vec<String>,
    pub nodes: u32,
    pub ready: u32,
    pub down: u32,
    pub managers: u32,
    pub engine_versions: Vec<String>,
    pub cpus: f64,
    pub memory_bytes: i64,
    pub created_at: i64,
    /// The swarm's id, once formed.
    pub swarm_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub leader: bool,
    /// `pending`, `ready`, `down`, `unreachable`, `missing`, `removing`.
    pub state: String,
    pub availability: String,
    pub zone: String,
    pub address: String,
    pub endpoint: String,
    pub engine_version: String,
    pub cpus: f64,
    pub memory_bytes: i64,
    /// Labels other than the zone.
    pub labels: Vec<(String, String)>,
    pub message: String,
    pub seen_at: i64,
    /// What draining this node would do beyond moving its tasks, seen against all of its cluster's
    /// nodes (in [`list_nodes`]' rows; `None` elsewhere).
    #[serde(default)]
    pub drain_warning: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterDetail {
    pub cluster: ClusterRow,
    pub nodes: Vec<NodeRow>,
    pub jobs: Vec<JobRow>,
    /// What the caller may do here, so the page shows only the controls that will work (the server
    /// decides again on every call).
    pub access: Access,
}

/// What the caller may do on one cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Rename, nodes, shared links (cluster admin and up).
    pub manage: bool,
    /// Deploy and operate apps (operator and up).
    pub operate: bool,
    /// Delete the cluster (admins).
    pub delete: bool,
}

#[cfg(feature = "ssr")]
impl Access {
    pub fn of(actor: &domain::Actor, cluster: i64) -> Access {
        use domain::authz::authorize;
        use domain::Permission as P;
        Access {
            manage: authorize(actor, P::ClusterManage(cluster)).is_ok(),
            operate: authorize(actor, P::AppOperate(cluster)).is_ok(),
            delete: authorize(actor, P::ClusterDelete(cluster)).is_ok(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StepRow {
    pub name: String,
    /// `pending`, `running`, `done`, `failed`.
    pub state: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub detail: String,
}

/// A long-running operation and its progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub cluster_id: Option<i64>,
    pub target: String,
    /// `running`, `succeeded`, `failed`.
    pub status: String,
    pub progress: u8,
    pub steps: Vec<StepRow>,
    pub error: String,
    pub actor: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// The server's clock when this was read, so elapsed times do not depend on the browser's clock.
    pub now: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: String,
    pub service: String,
    pub slot: Option<i64>,
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodePage {
    pub cluster_id: i64,
    pub cluster_name: String,
    pub node: NodeRow,
    /// The page of the node's tasks the table asked for.
    pub tasks: crate::api::list::PageRows<TaskRow>,
    pub tasks_error: Option<String>,
    pub access: Access,
    /// What draining this node would do beyond moving its tasks, seen against its cluster's nodes.
    pub drain_warning: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotasRow {
    pub max_clusters: i64,
    pub max_nodes_per_cluster: i64,
}

/// Domain values to DTOs, shared with the REST API.
#[cfg(feature = "ssr")]
pub mod map {
    use super::*;
    use domain::cluster::ClusterSummary;
    use domain::job::Job;
    use domain::node::{Node, ZONE_LABEL};

    pub fn node(n: Node) -> NodeRow {
        let labels = n.labels().into_iter().filter(|(k, _)| k != ZONE_LABEL).collect();
        NodeRow {
            id: n.id,
            role: n.role.clone(),
            leader: n.leader != 0,
            state: n.state.clone(),
            availability: n.availability.clone(),
            zone: n.zone.clone(),
            address: n.address.clone(),
            endpoint: n.endpoint.clone(),
            engine_version: n.engine_version.clone(),
            cpus: n.nano_cpus as f64 / 1e9,
            memory_bytes: n.memory_bytes,
            labels,
            message: n.message.clone(),
            seen_at: n.seen_at,
            name: n.name,
            drain_warning: None,
        }
    }

    /// What draining the nodes `draining` does beyond moving their tasks, when that is worth a
    /// second look: no node left to run them, or the cluster's only manager among them.
    pub fn drain_warning(draining: &[i64], all: &[NodeRow]) -> Option<String> {
        let others_active =
            all.iter().any(|n| !draining.contains(&n.id) && n.availability == "active" && n.state == "ready");
        let managers: Vec<&NodeRow> = all.iter().filter(|n| n.role == "manager").collect();
        let mut said = Vec::new();
        if !others_active {
            said.push(
                "No other node is active and ready: the apps' tasks will have nowhere to run until one is.".to_string(),
            );
        }
        if let [only] = managers[..] {
            if draining.contains(&only.id) {
                let who = if draining.len() > 1 { format!("{} is", only.name) } else { "It is".to_string() };
                said.push(format!(
                    "{who} the cluster's only manager: it goes on managing the swarm, but add another manager before you remove it."
                ));
            }
        }
        (!said.is_empty()).then(|| said.join(" "))
    }

    pub fn cluster(s: ClusterSummary) -> ClusterRow {
        let c = s.cluster;
        let mut versions: Vec<String> =
            s.nodes.iter().map(|n| n.engine_version.clone()).filter(|v| !v.is_empty()).collect();
        versions.sort();
        versions.dedup();
        ClusterRow {
            id: c.id,
            zones: c.zones(),
            nodes: s.nodes.len() as u32,
            ready: s.nodes.iter().filter(|n| n.state == "ready").count() as u32,
            down: s.nodes.iter().filter(|n| matches!(n.state.as_str(), "down" | "unreachable" | "missing")).count()
                as u32,
            managers: s.nodes.iter().filter(|n| n.is_manager()).count() as u32,
            engine_versions: versions,
            cpus: s.nodes.iter().map(|n| n.nano_cpus).sum::<i64>() as f64 / 1e9,
            memory_bytes: s.nodes.iter().map(|n| n.memory_bytes).sum(),
            created_at: c.created_at,
            swarm_id: c.swarm_id,
            name: c.name,
            provider: c.provider,
            status: c.status,
            message: c.message,
        }
    }

    pub fn job(j: Job) -> JobRow {
        JobRow {
            id: j.id,
            kind: j.kind.clone(),
            cluster_id: j.cluster_id,
            target: j.target.clone(),
            status: j.status.clone(),
            progress: j.progress(),
            steps: j
                .steps()
                .into_iter()
                .map(|s| StepRow {
                    name: s.name,
                    state: s.state,
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                    detail: s.detail,
                })
                .collect(),
            error: j.error.clone(),
            actor: j.actor_name.clone(),
            started_at: j.started_at,
            finished_at: j.finished_at,
            now: domain::clock::now_ms(),
        }
    }
}

#[server(endpoint = "get_clusters", output = crate::codec::Wire)]
pub async fn get_clusters() -> Result<Vec<ClusterRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth.clusters(&actor).await.map_err(wire)?.into_iter().map(map::cluster).collect())
}

/// One page of the clusters the caller may see, searched and sorted on the server.
#[server(endpoint = "list_clusters", output = crate::codec::Wire)]
pub async fn list_clusters(
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<crate::api::list::PageRows<ClusterRow>, AppError> {
    let rows = get_clusters().await?;
    crate::api::list::ssr::paged(rows, crate::api::list::ListArgs { q, sort, desc, page })
}

#[server(endpoint = "get_cluster", output = crate::codec::Wire)]
pub async fn get_cluster(id: i64) -> Result<ClusterDetail, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let summary = berth.cluster(&actor, id).await.map_err(wire)?;
    let nodes = summary.nodes.iter().cloned().map(map::node).collect();
    let jobs = berth.jobs(&actor, Some(id)).await.map_err(wire)?.into_iter().take(10).map(map::job).collect();
    Ok(ClusterDetail { cluster: map::cluster(summary), nodes, jobs, access: Access::of(&actor, id) })
}

/// Creates a local cluster in one click; answers the id of the job that builds it.
#[server(endpoint = "create_cluster", output = crate::codec::Wire)]
pub async fn create_cluster(name: String, nodes: String, managers: String, zones: String) -> Result<i64, AppError> {
    use super::ssr::{context, whole, wire};
    let (berth, actor) = context()?;
    let mut checks = domain::error::Checks::default();
    let input = domain::local::LocalClusterInput {
        name,
        // A number that does not parse fails its range check too; only the first message is kept.
        nodes: checks.field(whole("nodes", &nodes)).unwrap_or(u32::MAX),
        managers: checks.field(whole("managers", &managers)).unwrap_or(1),
        zones: zones.split([',', ' ']).map(str::to_owned).collect(),
    };
    if !checks.ok() {
        // A number that does not parse is said with every other wrong field, to those who may create
        // clusters (the domain checks the rest after it authorizes).
        domain::authz::authorize(&actor, domain::Permission::ClusterCreate).map_err(wire)?;
        checks.field(input.validate());
        checks.finish().map_err(wire)?;
    }
    berth.create_local_cluster(&actor, &input).await.map_err(wire)
}

#[server(endpoint = "rename_cluster", output = crate::codec::Wire)]
pub async fn rename_cluster(id: i64, name: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.rename_cluster(&actor, id, &name).await.map_err(wire)
}

/// Deletes a cluster; answers the job id.
#[server(endpoint = "delete_cluster", output = crate::codec::Wire)]
pub async fn delete_cluster(id: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_cluster(&actor, id).await.map_err(wire)
}

#[server(endpoint = "get_job", output = crate::codec::Wire)]
pub async fn get_job(id: i64) -> Result<JobRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.job(&actor, id).await.map(map::job).map_err(wire)
}

#[server(endpoint = "get_node", output = crate::codec::Wire)]
pub async fn get_node(
    cluster: i64,
    node: i64,
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<NodePage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let detail = berth.node_detail(&actor, cluster, node).await.map_err(wire)?;
    let summary = berth.cluster(&actor, cluster).await.map_err(wire)?;
    let siblings: Vec<NodeRow> = summary.nodes.into_iter().map(map::node).collect();
    let node = map::node(detail.node);
    let tasks: Vec<TaskRow> = detail
        .tasks
        .into_iter()
        .map(|(t, service)| TaskRow {
            id: t.id,
            service,
            slot: t.slot,
            state: t.state,
            desired_state: t.desired_state,
            message: t.message,
            error: t.error,
        })
        .collect();
    Ok(NodePage {
        cluster_id: cluster,
        cluster_name: summary.cluster.name,
        drain_warning: map::drain_warning(&[node.id], &siblings),
        node,
        tasks: crate::api::list::ssr::paged(tasks, crate::api::list::ListArgs { q, sort, desc, page })?,
        tasks_error: detail.tasks_error,
        access: Access::of(&actor, cluster),
    })
}

/// One page of a cluster's nodes, searched and sorted on the server; each row says what draining it
/// would do.
#[server(endpoint = "list_nodes", output = crate::codec::Wire)]
pub async fn list_nodes(
    cluster: i64,
    q: String,
    sort: String,
    desc: bool,
    page: usize,
) -> Result<crate::api::list::PageRows<NodeRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let summary = berth.cluster(&actor, cluster).await.map_err(wire)?;
    let all: Vec<NodeRow> = summary.nodes.into_iter().map(map::node).collect();
    let mut shown = crate::api::list::ssr::paged(all.clone(), crate::api::list::ListArgs { q, sort, desc, page })?;
    for row in &mut shown.rows {
        row.drain_warning = map::drain_warning(&[row.id], &all);
    }
    Ok(shown)
}

/// The node ids of a bulk action: `3,5,8`.
#[cfg(feature = "ssr")]
fn node_ids(raw: &str) -> Result<Vec<i64>, AppError> {
    let ids = raw.split(',').map(|id| super::ssr::number::<i64>("nodes", id)).collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() || ids.len() > crate::api::list::MAX_BULK {
        return Err(super::ssr::invalid("nodes", &format!("name 1 to {} nodes", crate::api::list::MAX_BULK)));
    }
    Ok(ids)
}

/// What draining the nodes `nodes` (`3,5,8`) together would do beyond moving their tasks.
#[server(endpoint = "drain_warning", output = crate::codec::Wire)]
pub async fn drain_warning(cluster: i64, nodes: String) -> Result<Option<String>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let summary = berth.cluster(&actor, cluster).await.map_err(wire)?;
    let ids = node_ids(&nodes)?;
    let all: Vec<NodeRow> = summary.nodes.into_iter().map(map::node).collect();
    if let Some(id) = ids.iter().find(|id| !all.iter().any(|n| n.id == **id)) {
        return Err(super::ssr::invalid("nodes", &format!("node {id} is not in this cluster")));
    }
    Ok(map::drain_warning(&ids, &all))
}

/// Drains the nodes `nodes` (`3,5,8`), one after another, each authorized and recorded on its own.
/// Stops at the first refusal, naming the node; answers how many were drained.
#[server(endpoint = "drain_nodes", output = crate::codec::Wire)]
pub async fn drain_nodes(cluster: i64, nodes: String) -> Result<usize, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    // Refused before the list is read; each drain is authorized (and recorded) again by the domain.
    domain::authz::authorize(&actor, domain::Permission::ClusterManage(cluster)).map_err(wire)?;
    let ids = node_ids(&nodes)?;
    for (done, node) in ids.iter().enumerate() {
        if let Err(e) =
            berth.set_node_availability(&actor, cluster, *node, domain::engine::NodeAvailability::Drain).await
        {
            let mut e = wire(e);
            e.message = format!("{} drained; node {node} was not: {}", done, e.message);
            return Err(e);
        }
    }
    Ok(ids.len())
}

/// `active`, `pause` or `drain`.
#[server(endpoint = "set_node_availability", output = crate::codec::Wire)]
pub async fn set_node_availability(cluster: i64, node: i64, availability: String) -> Result<(), AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let availability = domain::engine::NodeAvailability::parse(&availability)
        .ok_or_else(|| invalid("availability", "must be active, pause or drain"))?;
    berth.set_node_availability(&actor, cluster, node, availability).await.map_err(wire)
}

/// `manager` (promote) or `worker` (demote).
#[server(endpoint = "set_node_role", output = crate::codec::Wire)]
pub async fn set_node_role(cluster: i64, node: i64, role: String) -> Result<(), AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let role = domain::engine::NodeRole::parse(&role).ok_or_else(|| invalid("role", "must be manager or worker"))?;
    berth.set_node_role(&actor, cluster, node, role).await.map_err(wire)
}

/// The zone and the other labels, one `key=value` per line.
#[server(endpoint = "set_node_labels", output = crate::codec::Wire)]
pub async fn set_node_labels(cluster: i64, node: i64, zone: String, labels: String) -> Result<(), AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let mut parsed = std::collections::BTreeMap::new();
    for (i, line) in labels.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (k, v) =
            line.split_once('=').ok_or_else(|| invalid("labels", &format!("line {}: write key=value", i + 1)))?;
        parsed.insert(k.trim().to_string(), v.trim().to_string());
    }
    berth.set_node_labels(&actor, cluster, node, &zone, &parsed).await.map_err(wire)
}

/// Adds worker nodes to a local cluster; answers the job id.
#[server(endpoint = "add_nodes", output = crate::codec::Wire)]
pub async fn add_nodes(cluster: i64, count: String) -> Result<i64, AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    berth.add_local_nodes(&actor, cluster, number("count", &count)?).await.map_err(wire)
}

/// Removes a node (draining it first); answers the job id.
#[server(endpoint = "remove_node", output = crate::codec::Wire)]
pub async fn remove_node(cluster: i64, node: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.remove_node(&actor, cluster, node).await.map_err(wire)
}

#[server(endpoint = "get_quotas", output = crate::codec::Wire)]
pub async fn get_quotas() -> Result<QuotasRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let q = berth.quotas_for(&actor).await.map_err(wire)?;
    Ok(QuotasRow { max_clusters: q.max_clusters, max_nodes_per_cluster: q.max_nodes_per_cluster })
}

#[server(endpoint = "set_quotas", output = crate::codec::Wire)]
pub async fn set_quotas(max_clusters: String, max_nodes_per_cluster: String) -> Result<(), AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    let quotas = domain::cluster::Quotas {
        max_clusters: number("max_clusters", &max_clusters)?,
        max_nodes_per_cluster: number("max_nodes_per_cluster", &max_nodes_per_cluster)?,
    };
    berth.set_quotas(&actor, quotas).await.map(drop).map_err(wire)
}

/// What a connection test to a host found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostProbeRow {
    pub line: String,
    pub ok: bool,
    /// The engine version and swarm state, or why it could not connect.
    pub message: String,
}

/// Tests the connection to each host (one per line) the way a cluster would connect.
#[server(endpoint = "probe_hosts", output = crate::codec::Wire)]
pub async fn probe_hosts(hosts: String) -> Result<Vec<HostProbeRow>, AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let lines: Vec<&str> = hosts.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() || lines.len() > 20 {
        return Err(invalid("hosts", "give 1 to 20 hosts, one per line"));
    }
    let mut out = Vec::new();
    for line in lines {
        let input = domain::hosts::HostInput::parse_line(line);
        let row = match berth.probe_host(&actor, &input).await {
            Ok(p) => HostProbeRow {
                line: line.into(),
                ok: true,
                message: format!(
                    "Docker {} on {} — swarm {}",
                    p.overview.engine_version, p.overview.os, p.overview.swarm.state
                ),
            },
            Err(e @ (domain::Error::Unauthenticated | domain::Error::Forbidden(_))) => return Err(wire(e)),
            Err(e) => HostProbeRow { line: line.into(), ok: false, message: e.to_string() },
        };
        out.push(row);
    }
    Ok(out)
}

/// The setup script for a host and Berth's CA fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSetupRow {
    pub names: Vec<String>,
    pub script: String,
    pub ca_fingerprint: String,
}

/// Issues a server certificate for a host (addresses and names separated by commas or spaces).
#[server(endpoint = "prepare_host", output = crate::codec::Wire)]
pub async fn prepare_host(addresses: String) -> Result<HostSetupRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let names: Vec<String> =
        addresses.split([',', ' ', '\n']).map(str::to_owned).filter(|s| !s.trim().is_empty()).collect();
    let setup = berth.prepare_host(&actor, &names).await.map_err(wire)?;
    Ok(HostSetupRow { names: setup.names, script: setup.script, ca_fingerprint: setup.ca_fingerprint })
}

/// Creates a cluster from existing hosts (one per line: `tcp://host:2376 [insecure] [advertise=IP]`).
#[server(endpoint = "create_hosts_cluster", output = crate::codec::Wire)]
pub async fn create_hosts_cluster(
    name: String,
    hosts: String,
    managers: String,
    zones: String,
) -> Result<i64, AppError> {
    use super::ssr::{context, number, wire};
    let (berth, actor) = context()?;
    let input = domain::hosts::HostsClusterInput {
        name,
        hosts: hosts.lines().filter(|l| !l.trim().is_empty()).map(domain::hosts::HostInput::parse_line).collect(),
        managers: number("managers", &managers)?,
        zones: zones.split([',', ' ']).map(str::to_owned).collect(),
    };
    berth.create_hosts_cluster(&actor, &input).await.map_err(wire)
}

/// Adds one existing host to a hosts cluster; answers the job id.
#[server(endpoint = "add_host", output = crate::codec::Wire)]
pub async fn add_host(cluster: i64, host: String) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let input = domain::hosts::HostInput::parse_line(&host);
    berth.add_host(&actor, cluster, &input).await.map_err(wire)
}

/// One host directory non-admins' workloads may bind on a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedPath {
    pub path: String,
    pub read_write: bool,
}

/// A cluster's workload policy allowances, as the cluster page shows and edits them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadPolicy {
    pub paths: Vec<AllowedPath>,
    pub networks: Vec<String>,
    /// Whether the caller may change them (cluster admins).
    pub can_edit: bool,
    /// Whether the policy binds the caller at all (admins deploy anything).
    pub applies_to_me: bool,
}

#[cfg(feature = "ssr")]
fn policy_row(actor: &domain::Actor, cluster: i64, a: compose::Allowances) -> WorkloadPolicy {
    use domain::authz::authorize;
    WorkloadPolicy {
        paths: a.paths.into_iter().map(|p| AllowedPath { path: p.path, read_write: p.read_write }).collect(),
        networks: a.networks,
        can_edit: authorize(actor, domain::Permission::ClusterManage(cluster)).is_ok(),
        applies_to_me: authorize(actor, domain::Permission::PrivilegedWorkload(cluster)).is_err(),
    }
}

/// The allowances as typed into the form: one directory per line, `rw` after it for read-write; one
/// network per line. Errors name the field and the line.
#[cfg(feature = "ssr")]
pub fn parse_allowances(paths: &str, networks: &str) -> Result<compose::Allowances, domain::Error> {
    let mut allow = compose::Allowances::default();
    for (i, line) in paths.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let read_write = match words.as_slice() {
            [_] => false,
            [_, "ro"] => false,
            [_, "rw"] => true,
            _ => {
                return Err(domain::Error::invalid(
                    "paths",
                    format!("line {}: write a directory, then `rw` for read-write (`/srv/data rw`)", i + 1),
                ))
            }
        };
        allow.paths.push(compose::HostPath { path: words[0].to_string(), read_write });
    }
    allow.networks = networks.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    Ok(allow)
}

/// A domain error about `paths[i]` / `networks[i]` as the form's field and line.
#[cfg(feature = "ssr")]
fn policy_error(e: domain::Error) -> domain::Error {
    match e {
        domain::Error::Invalid { field, message } => {
            let (name, index) = field.split_once('[').unwrap_or((field.as_str(), ""));
            match index.trim_end_matches(']').parse::<usize>() {
                Ok(i) => domain::Error::invalid(name, format!("line {}: {message}", i + 1)),
                Err(_) => domain::Error::Invalid { field, message },
            }
        }
        other => other,
    }
}

#[server(endpoint = "get_workload_policy", output = crate::codec::Wire)]
pub async fn get_workload_policy(cluster: i64) -> Result<WorkloadPolicy, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let allow = berth.workload_policy(&actor, cluster).await.map_err(wire)?;
    Ok(policy_row(&actor, cluster, allow))
}

#[server(endpoint = "set_workload_policy", output = crate::codec::Wire)]
pub async fn set_workload_policy(cluster: i64, paths: String, networks: String) -> Result<WorkloadPolicy, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let allow = parse_allowances(&paths, &networks).map_err(wire)?;
    let stored = berth.set_workload_policy(&actor, cluster, &allow).await.map_err(|e| wire(policy_error(e)))?;
    Ok(policy_row(&actor, cluster, stored))
}
