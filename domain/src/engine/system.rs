//! The engine's own facts: versions, host, containers, swarm state — what the overview shows.

use std::time::Instant;

use bollard::models::{SystemInfo, SystemVersion};

use super::{Engine, EngineError};

/// What the overview page shows about one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    pub containers: ContainerCounts,
    pub images: i64,
    pub storage_driver: String,
    pub cgroup: String,
    pub swarm: SwarmSummary,
    /// When these facts were read from the engine (Unix ms).
    pub fetched_at: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    pub total: i64,
    pub running: i64,
    pub paused: i64,
    pub stopped: i64,
}

/// The engine's view of swarm mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmSummary {
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    pub state: String,
    pub node_id: String,
    pub is_manager: bool,
    pub managers: i64,
    pub nodes: i64,
    pub cluster_id: String,
    pub error: String,
}

impl Engine {
    /// Engine, host and swarm facts, read with two concurrent calls (or reused while fresh). Failures
    /// are never cached: the next call asks again.
    pub async fn overview(&self) -> Result<EngineOverview, EngineError> {
        let mut cached = self.overview.lock().await;
        if let Some((read_at, overview)) = cached.as_ref() {
            if read_at.elapsed() < self.fresh_for {
                return Ok(overview.clone());
            }
        }
        let docker = self.client()?;
        let (info, version) =
            tokio::try_join!(self.read("info", || docker.info()), self.read("version", || docker.version()))?;
        let overview = overview_of(self.endpoint.to_string(), info, version);
        *cached = Some((Instant::now(), overview.clone()));
        Ok(overview)
    }
}

fn overview_of(endpoint: String, info: SystemInfo, version: SystemVersion) -> EngineOverview {
    let swarm = info.swarm.unwrap_or_default();
    let text = |v: Option<String>| v.unwrap_or_default();
    EngineOverview {
        endpoint,
        name: text(info.name),
        engine_version: text(version.version.or(info.server_version)),
        api_version: text(version.api_version),
        min_api_version: text(version.min_api_version),
        os: text(info.operating_system),
        os_type: text(info.os_type),
        kernel: text(info.kernel_version),
        arch: text(info.architecture),
        cpus: info.ncpu.unwrap_or(0),
        memory_bytes: info.mem_total.unwrap_or(0),
        containers: ContainerCounts {
            total: info.containers.unwrap_or(0),
            running: info.containers_running.unwrap_or(0),
            paused: info.containers_paused.unwrap_or(0),
            stopped: info.containers_stopped.unwrap_or(0),
        },
        images: info.images.unwrap_or(0),
        storage_driver: text(info.driver),
        cgroup: match (info.cgroup_driver, info.cgroup_version) {
            (Some(d), Some(v)) => format!("{d} (v{v})"),
            (Some(d), None) => d.to_string(),
            _ => String::new(),
        },
        swarm: SwarmSummary {
            state: swarm.local_node_state.map(|s| s.to_string()).filter(|s| !s.is_empty()).unwrap_or("inactive".into()),
            node_id: text(swarm.node_id),
            is_manager: swarm.control_available.unwrap_or(false),
            managers: swarm.managers.unwrap_or(0),
            nodes: swarm.nodes.unwrap_or(0),
            cluster_id: swarm.cluster.and_then(|c| c.id).unwrap_or_default(),
            error: text(swarm.error),
        },
        fetched_at: crate::clock::now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{SystemInfo, SystemVersion};

    #[test]
    fn overview_from_engine_answers() {
        let info = SystemInfo {
            name: Some("n1".into()),
            containers: Some(5),
            containers_running: Some(3),
            containers_paused: Some(1),
            containers_stopped: Some(1),
            ncpu: Some(2),
            mem_total: Some(1 << 30),
            swarm: Some(bollard::models::SwarmInfo {
                local_node_state: Some(bollard::models::LocalNodeState::ACTIVE),
                control_available: Some(true),
                managers: Some(1),
                nodes: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        let version =
            SystemVersion { version: Some("20.10.24".into()), api_version: Some("1.41".into()), ..Default::default() };
        let o = overview_of("unix:///s".into(), info, version);
        assert_eq!(o.engine_version, "20.10.24");
        assert_eq!(o.containers, ContainerCounts { total: 5, running: 3, paused: 1, stopped: 1 });
        assert_eq!((o.swarm.state.as_str(), o.swarm.is_manager, o.swarm.nodes), ("active", true, 3));
        let empty = overview_of("unix:///s".into(), SystemInfo::default(), SystemVersion::default());
        assert_eq!(empty.swarm.state, "inactive");
    }
}
