//! Settings: the one place configuration is read. Defaults, then a TOML file, then `BERTH_*`
//! environment variables, each overriding the one before.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything Berth can be told at start. See README.md, "Configuration".
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the console listens on.
    pub listen: SocketAddr,
    /// Where Berth keeps its state (the SQLite database by default).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/berth.db`.
    pub database_url: String,
    /// The local Docker engine: `unix:///var/run/docker.sock` or `tcp://host:port`.
    pub docker_host: String,
    /// The address people use to reach the console, e.g. `https://berth.example.com` behind a TLS
    /// proxy. With `https`, cookies are `Secure` and `__Host-` prefixed. Cross-site checks compare
    /// the request's `Origin` with it (or with the `Host` header when unset).
    pub public_url: String,
    /// The built site (wasm, js, css, assets) that `cargo leptos build` writes.
    pub site_root: PathBuf,
    /// Upper bound for one Docker engine call, in seconds.
    pub engine_timeout_secs: u64,
    /// A session ends after this many minutes without a request…
    pub session_idle_minutes: u64,
    /// …and this many hours after sign-in, however active.
    pub session_absolute_hours: u64,
    /// Failed sign-ins allowed per account, and per client address, within the window.
    pub signin_failures_per_account: usize,
    pub signin_failures_per_address: usize,
    pub signin_window_minutes: u64,
    /// The image of local clusters' node containers; `berth/node:host-N` is built from this host's
    /// Docker binaries when missing. `docker:dind` works where a registry is reachable.
    pub node_image: String,
    /// The static berth-router binary the clusters' routers run; empty: `berth-router` next to
    /// Berth's own binary, or the workspace's musl build of it.
    pub router_binary: PathBuf,
    /// Log filter, in `RUST_LOG` syntax.
    pub log: String,
    /// Metrics, logs and events are collected from every node this often.
    pub collect_every_secs: u64,
    /// Raw metric samples are kept this long; longer charts read one-minute rollups…
    pub metrics_raw_hours: u64,
    /// …which are kept this long.
    pub metrics_retention_days: u64,
    /// Collected log lines are kept this long…
    pub logs_retention_days: u64,
    /// …and at most this much log text (the oldest lines go first).
    pub logs_max_mb: u64,
    /// Timeline events are kept this long.
    pub events_retention_days: u64,
    /// On SIGTERM, how long running operations (jobs) may take to finish before Berth stops anyway
    /// (they are then failed and undone at the next start). New requests get 503 meanwhile.
    pub shutdown_grace_secs: u64,
    /// Set by `cargo leptos watch` (from `LEPTOS_WATCH` / `LEPTOS_RELOAD_PORT`): the live-reload port.
    #[serde(skip)]
    pub dev_reload_port: Option<u16>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            docker_host: "unix:///var/run/docker.sock".into(),
            public_url: String::new(),
            site_root: PathBuf::from("target/site"),
            engine_timeout_secs: 5,
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 24,
            signin_failures_per_account: 5,
            signin_failures_per_address: 20,
            signin_window_minutes: 15,
            node_image: domain::DEFAULT_NODE_IMAGE.into(),
            router_binary: PathBuf::new(),
            log: "info".into(),
            collect_every_secs: 10,
            metrics_raw_hours: 6,
            metrics_retention_days: 30,
            logs_retention_days: 7,
            logs_max_mb: 1024,
            events_retention_days: 30,
            shutdown_grace_secs: 30,
            dev_reload_port: None,
        }
    }
}

/// The settings' names, as keys in the file and (upper-cased, `BERTH_`-prefixed) in the environment.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "docker_host",
    "public_url",
    "site_root",
    "engine_timeout_secs",
    "session_idle_minutes",
    "session_absolute_hours",
    "signin_failures_per_account",
    "signin_failures_per_address",
    "signin_window_minutes",
    "node_image",
    "router_binary",
    "log",
    "collect_every_secs",
    "metrics_raw_hours",
    "metrics_retention_days",
    "logs_retention_days",
    "logs_max_mb",
    "events_retention_days",
    "shutdown_grace_secs",
];

/// A setting that could not be read, naming where it came from.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads the settings: defaults, then the file (`--config`, `BERTH_CONFIG`, or `berth.toml` in the
    /// working directory when it exists), then `BERTH_*` variables. `DOCKER_HOST` is honoured when
    /// `BERTH_DOCKER_HOST` is not set.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, SettingsError> {
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("BERTH_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("berth.toml")).filter(|p| p.exists()));
        if let Some(file) = &file {
            if !file.exists() {
                return Err(SettingsError(format!("config file {} does not exist", file.display())));
            }
        }
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Ok(docker_host) = std::env::var("DOCKER_HOST") {
            figment = figment.merge(Serialized::default("docker_host", docker_host));
        }
        if let Some(file) = &file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only known names: an unrelated BERTH_* variable must not stop Berth from starting.
        figment = figment.merge(Env::prefixed("BERTH_").only(KEYS));
        let mut settings: Settings = figment.extract().map_err(|e| SettingsError(e.to_string()))?;
        if std::env::var_os("LEPTOS_WATCH").is_some() {
            settings.dev_reload_port = std::env::var("LEPTOS_RELOAD_PORT").ok().and_then(|p| p.parse().ok());
        }
        Ok(settings)
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("berth.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Whether people reach the console over TLS (decides `Secure` cookies).
    pub fn served_over_tls(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of `public_url`, if set.
    pub fn public_origin(&self) -> Option<String> {
        let url = self.public_url.trim_end_matches('/');
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        (!host.is_empty()).then(|| format!("{scheme}://{host}"))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes * 60)
    }

    /// The domain's settings derived from these. `data_dir` must exist (it is made absolute here,
    /// because node containers bind paths inside it).
    pub fn domain_config(&self) -> Result<domain::Config, domain::Error> {
        use domain::throttle::Limit;
        let mut config = domain::Config::new(domain::engine::Endpoint::parse(&self.docker_host)?);
        let window = Duration::from_secs(self.signin_window_minutes * 60);
        config.engine_timeout = Duration::from_secs(self.engine_timeout_secs.max(1));
        config.session_absolute = Duration::from_secs(self.session_absolute_hours * 3600);
        config.account_limit = Limit { max_failures: self.signin_failures_per_account, window };
        config.address_limit = Limit { max_failures: self.signin_failures_per_address, window };
        config.data_dir = std::path::absolute(&self.data_dir).map_err(|e| domain::Error::invalid("data_dir", e))?;
        config.node_image = self.node_image.clone();
        if !self.router_binary.as_os_str().is_empty() {
            config.router_binary =
                Some(std::path::absolute(&self.router_binary).map_err(|e| domain::Error::invalid("router_binary", e))?);
        }
        const DAY: u64 = 24 * 3600;
        config.collect_every = Duration::from_secs(self.collect_every_secs.max(1));
        config.metrics_raw_retention = Duration::from_secs(self.metrics_raw_hours.max(1) * 3600);
        config.metrics_retention = Duration::from_secs(self.metrics_retention_days.max(1) * DAY);
        config.logs_retention = Duration::from_secs(self.logs_retention_days.max(1) * DAY);
        config.logs_max_bytes = self.logs_max_mb.max(1) * 1024 * 1024;
        config.events_retention = Duration::from_secs(self.events_retention_days.max(1) * DAY);
        Ok(config)
    }
}

/// `Debug` hides the database password.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url()))
            .field("docker_host", &self.docker_host)
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_string() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(redact_url("postgres://berth:s3cret@db:5432/berth"), "postgres://berth:***@db:5432/berth");
        assert_eq!(redact_url("sqlite://data/berth.db"), "sqlite://data/berth.db");
        let mut s = Settings::default();
        assert_eq!(s.database_url(), "sqlite://data/berth.db");
        assert!(!s.served_over_tls());
        assert_eq!(s.public_origin(), None);
        s.public_url = "https://berth.example.com/console/".into();
        assert!(s.served_over_tls());
        assert_eq!(s.public_origin().as_deref(), Some("https://berth.example.com"));
        assert!(format!("{s:?}").contains("sqlite://data/berth.db"));
    }

    #[test]
    fn bad_docker_host_names_the_setting() {
        let s = Settings { docker_host: "/var/run/docker.sock".into(), ..Settings::default() };
        let e = s.domain_config().unwrap_err();
        assert!(e.to_string().starts_with("docker_host:"), "{e}");
    }
}
