//! The local Docker engine, as the overview page shows it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOverview {
    pub endpoint: String,
    pub name: String,
    pub engine_version: String,
    pub api_version: String,
    pub min_api_version: String,
    pub os: String,
    pub os_type: String,
    pub kernel: String,
    pub arch: String,
    pub cpus: i64,
    pub memory_bytes: i64,
    pub containers_total: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub storage_driver: String,
    pub cgroup: String,
    pub swarm_state: String,
    pub swarm_node_id: String,
    pub swarm_is_manager: bool,
    pub swarm_managers: i64,
    pub swarm_nodes: i64,
    pub swarm_error: String,
    /// When the server read these facts (Unix ms).
    pub fetched_at: i64,
}

#[server(endpoint = "get_engine_overview", output = crate::codec::Wire)]
pub async fn get_engine_overview() -> Result<EngineOverview, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let o = berth.engine_overview(&actor).await.map_err(wire)?;
    Ok(EngineOverview {
        endpoint: o.endpoint,
        name: o.name,
        engine_version: o.engine_version,
        api_version: o.api_version,
        min_api_version: o.min_api_version,
        os: o.os,
        os_type: o.os_type,
        kernel: o.kernel,
        arch: o.arch,
        cpus: o.cpus,
        memory_bytes: o.memory_bytes,
        containers_total: o.containers.total,
        containers_running: o.containers.running,
        containers_paused: o.containers.paused,
        containers_stopped: o.containers.stopped,
        images: o.images,
        storage_driver: o.storage_driver,
        cgroup: o.cgroup,
        swarm_state: o.swarm.state,
        swarm_node_id: o.swarm.node_id,
        swarm_is_manager: o.swarm.is_manager,
        swarm_managers: o.swarm.managers,
        swarm_nodes: o.swarm.nodes,
        swarm_error: o.swarm.error,
        fetched_at: o.fetched_at,
    })
}
