//! The engine adapter: the only module that talks to Docker (through bollard).
//!
//! Every call is bounded by a timeout so that a hung or vanished engine turns into an
//! `engine_unreachable` answer, never a stuck request. The client is created lazily and again after a
//! failure to connect, so Berth recovers by itself when the engine comes back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
use bollard::models::{SystemInfo, SystemVersion};
use bollard::{ClientVersion, Docker};

use crate::error::{Error, Result};

/// The oldest Engine API Berth speaks: Debian's docker.io 20.10 (API 1.41).
const API_VERSION: ClientVersion = ClientVersion { major_version: 1, minor_version: 41 };

/// Where an engine listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///var/run/docker.sock`
    Unix(String),
    /// `tcp://host:2375` (plain HTTP; mutual TLS arrives with remote hosts).
    Tcp(String),
}

impl Endpoint {
    /// Parses `unix://PATH` or `tcp://HOST:PORT`; the error names the setting.
    pub fn parse(s: &str) -> Result<Endpoint> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.starts_with('/') {
                return Ok(Endpoint::Unix(path.to_string()));
            }
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            if addr.contains(':') && !addr.contains('/') {
                return Ok(Endpoint::Tcp(addr.to_string()));
            }
        }
        Err(Error::invalid("docker_host", format!("{s:?} is not unix:///absolute/path or tcp://host:port")))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

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

/// A connection to one Docker engine.
#[derive(Debug)]
pub struct Engine {
    endpoint: Endpoint,
    timeout: Duration,
    client: Mutex<Option<Docker>>,
    /// The last overview and when it was read. Many open consoles then cost the engine one read per
    /// `fresh_for`; the lock also makes concurrent callers share one read.
    overview: tokio::sync::Mutex<Option<(Instant, EngineOverview)>>,
    fresh_for: Duration,
}

impl Engine {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Engine {
        Engine { endpoint, timeout, client: Mutex::new(None), overview: Default::default(), fresh_for: Duration::ZERO }
    }

    /// Reuses an overview for `fresh_for` before asking the engine again.
    pub fn with_overview_cache(mut self, fresh_for: Duration) -> Engine {
        self.fresh_for = fresh_for;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> Error {
        Error::EngineUnreachable(format!("Docker engine at {} is unreachable: {reason}", self.endpoint))
    }

    /// The cached client, or a new one. Connecting to a unix socket fails at once when the socket file
    /// is missing, so nothing is cached then and the next call tries again.
    fn client(&self) -> Result<Docker> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(docker) = slot.as_ref() {
            return Ok(docker.clone());
        }
        let secs = self.timeout.as_secs().max(1);
        let docker = match &self.endpoint {
            Endpoint::Unix(path) => Docker::connect_with_unix(path, secs, &API_VERSION),
            Endpoint::Tcp(addr) => Docker::connect_with_http(addr, secs, &API_VERSION),
        }
        .map_err(|e| self.unreachable(describe(&e)))?;
        *slot = Some(docker.clone());
        Ok(docker)
    }

    /// Runs one engine call under the timeout, mapping transport failures to `engine_unreachable`.
    async fn call<T, F>(&self, what: &str, call: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T, BollardError>>,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(self.unreachable(format!("no answer to {what} within {} ms", self.timeout.as_millis()))),
            Ok(Err(BollardError::DockerResponseServerError { status_code, message })) => {
                Err(Error::Internal(crate::error::Internal::Engine(format!("{what}: HTTP {status_code}: {message}"))))
            }
            Ok(Err(e)) => Err(self.unreachable(describe(&e))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Engine, host and swarm facts, read with two concurrent calls (or reused while fresh). Failures
    /// are never cached: the next call asks again.
    pub async fn overview(&self) -> Result<EngineOverview> {
        let mut cached = self.overview.lock().await;
        if let Some((read_at, overview)) = cached.as_ref() {
            if read_at.elapsed() < self.fresh_for {
                return Ok(overview.clone());
            }
        }
        let docker = self.client()?;
        let (info, version) =
            tokio::try_join!(self.call("info", docker.info()), self.call("version", docker.version()))?;
        let overview = overview_of(self.endpoint.to_string(), info, version);
        *cached = Some((Instant::now(), overview.clone()));
        Ok(overview)
    }
}

/// A short human reason for a bollard failure, without the nested debug noise.
fn describe(e: &BollardError) -> String {
    match e {
        BollardError::SocketNotFoundError(path) => format!("no socket at {path}"),
        BollardError::RequestTimeoutError => "timed out".into(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = s.to_string();
                source = s.source();
            }
            text
        }
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

    #[test]
    fn endpoints() {
        let ok = [
            ("unix:///var/run/docker.sock", Endpoint::Unix("/var/run/docker.sock".into())),
            ("tcp://10.0.0.5:2375", Endpoint::Tcp("10.0.0.5:2375".into())),
        ];
        for (s, want) in ok {
            let got = Endpoint::parse(s).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), s);
        }
        for bad in ["", "/var/run/docker.sock", "unix://relative.sock", "tcp://nohost", "http://x:1", "tcp://h:1/x"] {
            assert!(
                matches!(Endpoint::parse(bad), Err(Error::Invalid { ref field, .. }) if field == "docker_host"),
                "{bad:?}"
            );
        }
    }

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
