//! The engine adapter: the only module that talks to Docker (through bollard), one submodule per
//! Engine API noun.
//!
//! Every call is bounded by a timeout so that a hung or vanished engine turns into an
//! [`EngineError::Unreachable`], never a stuck request. The client is created lazily and again after a
//! failure to connect, so Berth recovers by itself when the engine comes back.
//!
//! May import: the root files only. Nothing outside this folder imports bollard (or, but for the
//! webhook client, rustls); `domain/tests/tidy.rs` checks both.

mod containers;
mod files;
mod images;
mod networks;
mod observe;
mod router;
mod services;
mod spec;
mod swarm;
mod system;
mod tls;
mod volumes;

pub use containers::{NodeContainer, NodeContainerSpec};
pub use files::without_hash;
pub use observe::{Counters, EngineEvent, RawLine, MAX_LINE, SERVICE_LABEL, STACK_LABEL};
pub use router::{Pushed, RouterAdmin, ROUTER_TLS_NAME};
pub use services::{Ids, Labelled, LiveService, ServiceDeploy, ServiceTask, TaskAddress, VolumeUse, STACK_NAMESPACE};
pub use spec::{normalise, JOB_COMPLETIONS};
pub use swarm::{NodeAvailability, NodeRole, NodeState, SwarmNode, SwarmTask};
pub use system::{ContainerCounts, EngineOverview, SwarmSummary};

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
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

/// How an engine call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine did not answer: refused, missing, timed out.
    #[error("{0}")]
    Unreachable(String),
    /// The engine answered with an error status.
    #[error("{what}: Docker answered {status}: {message}")]
    Api { what: &'static str, status: u16, message: String },
}

impl EngineError {
    /// The engine's HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            EngineError::Api { status, .. } => Some(*status),
            EngineError::Unreachable(_) => None,
        }
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unreachable(message) => Error::EngineUnreachable(message),
            api => Error::Engine(api.to_string()),
        }
    }
}

/// What Berth presents and trusts when it speaks mutual TLS to a host.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The only CA whose certificates the host may present.
    pub ca_pem: String,
    /// Berth's client certificate and key; empty for no client certificate (the host must refuse).
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial(..)")
    }
}

/// A connection to one Docker engine.
#[derive(Debug)]
pub struct Engine {
    endpoint: Endpoint,
    /// For `tcp://` endpoints: mutual TLS (`None` means plain HTTP, which only an explicit
    /// "insecure" choice allows).
    tls: Option<TlsMaterial>,
    timeout: Duration,
    client: Mutex<Option<Docker>>,
    /// The last overview and when it was read. Many open consoles then cost the engine one read per
    /// `fresh_for`; the lock also makes concurrent callers share one read.
    overview: tokio::sync::Mutex<Option<(Instant, EngineOverview)>>,
    fresh_for: Duration,
}

impl Engine {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Engine {
        Engine {
            endpoint,
            tls: None,
            timeout,
            client: Mutex::new(None),
            overview: Default::default(),
            fresh_for: Duration::ZERO,
        }
    }

    /// An engine reached over `tcp://` with mutual TLS: only `tls.ca_pem` is trusted and the host's
    /// certificate must name the address dialled.
    pub fn with_tls(addr: &str, tls: TlsMaterial, timeout: Duration) -> Engine {
        Engine { tls: Some(tls), ..Engine::new(Endpoint::Tcp(addr.to_string()), timeout) }
    }

    /// Reuses an overview for `fresh_for` before asking the engine again.
    pub fn with_overview_cache(mut self, fresh_for: Duration) -> Engine {
        self.fresh_for = fresh_for;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> EngineError {
        EngineError::Unreachable(format!("Docker engine at {} is unreachable: {reason}", self.endpoint))
    }

    /// The cached client, or a new one. Connecting to a unix socket fails at once when the socket file
    /// is missing, so nothing is cached then and the next call tries again.
    fn client(&self) -> Result<Docker, EngineError> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(docker) = slot.as_ref() {
            return Ok(docker.clone());
        }
        let secs = self.timeout.as_secs().max(1);
        let docker = match (&self.endpoint, &self.tls) {
            (Endpoint::Unix(path), _) => Docker::connect_with_unix(path, secs, &API_VERSION).map_err(|e| describe(&e)),
            (Endpoint::Tcp(addr), None) => {
                Docker::connect_with_http(addr, secs, &API_VERSION).map_err(|e| describe(&e))
            }
            (Endpoint::Tcp(addr), Some(tls)) => tls::connect(addr, tls, secs, &API_VERSION),
        }
        .map_err(|reason| self.unreachable(reason))?;
        *slot = Some(docker.clone());
        Ok(docker)
    }

    /// Runs one engine call under the timeout, mapping transport failures to `Unreachable` and error
    /// answers to `Api`.
    async fn call<T, F>(&self, what: &'static str, call: F) -> Result<T, EngineError>
    where
        F: std::future::Future<Output = Result<T, BollardError>>,
    {
        self.call_within(what, self.timeout, call).await
    }

    /// A read (GET) that is repeated once when the connection closed before the request went out — a
    /// fresh connection to a busy host sometimes does; nothing was sent, so asking again is safe.
    async fn read<T, F, Fut>(&self, what: &'static str, call: F) -> Result<T, EngineError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, BollardError>>,
    {
        match self.call(what, call()).await {
            Err(EngineError::Unreachable(m)) if m.contains("not ready") || m.contains("closed before message") => {
                self.call(what, call()).await
            }
            other => other,
        }
    }

    /// [`Engine::call`] with a longer bound, for calls that legitimately take a while (joining a swarm,
    /// importing an image).
    async fn call_within<T, F>(&self, what: &'static str, limit: Duration, call: F) -> Result<T, EngineError>
    where
        F: std::future::Future<Output = Result<T, BollardError>>,
    {
        match tokio::time::timeout(limit, call).await {
            Err(_) => Err(self.unreachable(format!("no answer to {what} within {} ms", limit.as_millis()))),
            Ok(Err(BollardError::DockerResponseServerError { status_code, message })) => {
                Err(EngineError::Api { what, status: status_code, message: message.trim().to_string() })
            }
            Ok(Err(BollardError::DockerStreamError { error })) => {
                Err(EngineError::Api { what, status: 500, message: error.trim().to_string() })
            }
            Ok(Err(e)) => Err(self.unreachable(describe(&e))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Whether the engine answers at all (`/_ping`).
    pub async fn ping(&self) -> Result<(), EngineError> {
        let docker = self.client()?;
        self.read("ping", || docker.ping()).await.map(drop)
    }
}

/// A short human reason for a bollard failure, without the nested debug noise; TLS failures say what
/// is wrong with the certificates.
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
            tls::explain(&text).unwrap_or(text)
        }
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
    fn engine_errors_map_to_domain_errors() {
        let down: Error = EngineError::Unreachable("gone".into()).into();
        assert_eq!(down.code(), "engine_unreachable");
        let api: Error = EngineError::Api { what: "x", status: 409, message: "m".into() }.into();
        assert_eq!(api.code(), "engine_error");
        assert_eq!(EngineError::Api { what: "x", status: 404, message: String::new() }.status(), Some(404));
    }
}
