//! The canonical Berth app spec: what a Compose file becomes, what policy checks read, what the
//! engine adapter translates to swarm objects, and what each app version stores (as JSON).
//!
//! Everything is normalised: durations are nanoseconds, memory is bytes, CPUs are nano-CPUs, short
//! and long syntaxes end up in one form. Maps are `BTreeMap` so a spec serialises the same way every
//! time (versions are compared and diffed as text).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole app: what one Compose file describes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppSpec {
    pub services: BTreeMap<String, ServiceSpec>,
    /// Networks declared at the top level (`external` ones are used, not created).
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkSpec>,
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeSpec>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSpec>,
    #[serde(default)]
    pub configs: BTreeMap<String, ConfigSpec>,
}

impl AppSpec {
    /// The spec without the YAML lines it was read from: what stays equal when a template is
    /// reformatted (and what a round trip through `to_compose` keeps).
    pub fn without_lines(mut self) -> AppSpec {
        for s in self.services.values_mut() {
            s.line = 0;
            s.lines.clear();
        }
        self
    }
}

/// One service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub image: String,
    /// Replaces the image's CMD (a string is split like a shell would, without expansion).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// Networks the service joins (names of top-level networks); empty means the app's `default`.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Labels on the service's containers (Compose `labels`), without the `berth.` extensions.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Labels on the swarm service (Compose `deploy.labels`).
    #[serde(default)]
    pub service_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub healthcheck: Option<HealthSpec>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub placement: Placement,
    #[serde(default)]
    pub update: UpdateSpec,
    #[serde(default)]
    pub restart: RestartSpec,
    /// Run an init as PID 1 (reaps zombies, forwards signals).
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub stop_grace_period_ns: Option<i64>,
    #[serde(default)]
    pub secrets: Vec<FileRef>,
    #[serde(default)]
    pub configs: Vec<FileRef>,
    /// What the workload policy looks at (kept even where swarm cannot honour it, so that the policy
    /// sees what was asked for).
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
    /// Host namespaces as written (`pid: host`, `ipc: shareable`, …). Swarm services (API 1.41)
    /// honour none of them; they are kept so that the policy sees what was asked for.
    #[serde(default)]
    pub pid: Option<String>,
    #[serde(default)]
    pub ipc: Option<String>,
    #[serde(default)]
    pub uts: Option<String>,
    #[serde(default)]
    pub userns_mode: Option<String>,
    #[serde(default)]
    pub cgroup: Option<String>,
    /// `network_mode` as written: `host` (the service joins the engine's `host` network) or `none`;
    /// any other value is refused by the parser (swarm services use `networks:`).
    #[serde(default)]
    pub network_mode: Option<String>,
    /// `security_opt` as written; swarm (API 1.41) cannot apply it, the policy reads it.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// Mount the container's root file system read-only.
    #[serde(default)]
    pub read_only: bool,
    /// The signal that stops the container (`SIGTERM`, `SIGINT`, `9`), as written.
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub stdin_open: bool,
    /// Lines added to the container's `/etc/hosts`.
    #[serde(default)]
    pub extra_hosts: Vec<HostEntry>,
    /// Name servers (IP addresses).
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// Resolver options (`ndots:2`, `timeout:1`).
    #[serde(default)]
    pub dns_opt: Vec<String>,
    /// Kernel parameters, as written (`net.core.somaxconn` → `1024`).
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits by name (`nofile`, `nproc`, …).
    #[serde(default)]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Supplementary groups (names or numbers, as text).
    #[serde(default)]
    pub group_add: Vec<String>,
    #[serde(default)]
    pub logging: Option<Logging>,
    /// Maximum number of processes (`pids_limit` or `deploy.resources.limits.pids`); `None` is no
    /// limit (Compose's `-1` and `0` mean the same).
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// `default`, `process` or `hyperv` (Windows nodes).
    #[serde(default)]
    pub isolation: Option<String>,
    /// Berth's extension labels (`berth.*` and their aliases), parsed.
    #[serde(default)]
    pub ext: Extensions,
    /// The YAML line where the service is defined (1-based), for messages about it.
    #[serde(default)]
    pub line: usize,
    /// The YAML line of each field the policy may name, by its path in the service (`volumes[2]`,
    /// `cap_add[0]`, `networks.front`, `sysctls.kernel.sem`, `privileged`); the policy falls back
    /// to `line` for fields not listed (specs built elsewhere have none).
    #[serde(default)]
    pub lines: BTreeMap<String, usize>,
}

/// One `extra_hosts` entry: `host` resolves to `ip` inside the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub host: String,
    pub ip: String,
}

/// A resource limit (`ulimit`); `-1` is unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

/// Where a service's container logs go.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    /// The log driver (`json-file`, `local`, `syslog`, …); empty means the engine's default.
    pub driver: String,
    pub options: BTreeMap<String, String>,
}

/// How many tasks a service runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Replicated(u64),
    /// One task on every eligible node.
    Global,
    /// Runs to completion (swarm's `replicated-job`): `completions` tasks that exit 0, at most
    /// `parallelism` at once. A scheduled one ([`Extensions::schedule`]) runs at its times instead
    /// of when deployed.
    Job {
        completions: u64,
        parallelism: u64,
    },
}

impl Mode {
    pub fn is_job(&self) -> bool {
        matches!(self, Mode::Job { .. })
    }
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Replicated(1)
    }
}

/// A published or exposed port. Berth publishes in host mode (no routing mesh without IPVS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// The container port.
    pub target: u16,
    /// The port on the node; `None` publishes nothing (the port is reachable inside the app's networks).
    pub published: Option<u16>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A named volume of the app (or an anonymous one when `source` is empty).
    Volume,
    /// A path on the node.
    Bind,
    Tmpfs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Volume name or host path (normalised: no trailing `/`, except `/` itself); empty for tmpfs.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// Compose `healthcheck` (and `berth.probe.*`, which becomes one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSpec {
    /// Docker's form: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_ns: Option<i64>,
    pub timeout_ns: Option<i64>,
    pub retries: Option<u64>,
    pub start_period_ns: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub limit_nano_cpus: Option<i64>,
    pub limit_memory_bytes: Option<i64>,
    pub reserve_nano_cpus: Option<i64>,
    pub reserve_memory_bytes: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Swarm constraints, e.g. `node.role==worker`, `node.labels.berth.zone==a`.
    pub constraints: Vec<String>,
    /// Spread descriptors, e.g. `node.labels.berth.zone` (from `preferences` and `berth.zone_spread`).
    pub spread: Vec<String>,
    pub max_replicas_per_node: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSpec {
    pub parallelism: Option<u64>,
    pub delay_ns: Option<i64>,
    /// `stop-first` or `start-first`.
    pub order: Option<String>,
    /// `pause`, `continue` or `rollback`.
    pub failure_action: Option<String>,
    pub monitor_ns: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartSpec {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    pub delay_ns: Option<i64>,
    pub max_attempts: Option<u64>,
    pub window_ns: Option<i64>,
}

/// A secret or config given to a service: which one, and where it appears in the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub source: String,
    /// Path in the container (secrets default to `/run/secrets/<source>`, configs to `/<source>`).
    pub target: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Use an existing network of this name instead of creating one.
    pub external: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub external: Option<String>,
    pub driver: Option<String>,
    /// The driver's options (for `local`: `type`, `o`, `device`), passed as the mount's volume
    /// driver configuration.
    #[serde(default)]
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A secret's value comes from the template (`content`, or `environment` read from the variables);
/// `file` sources are not available in a web console and are refused with an error naming the key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSpec {
    pub external: Option<String>,
    pub content: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSpec {
    pub external: Option<String>,
    pub content: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// Berth's extension labels on a service, parsed (prefix `berth.`; see [`crate::ALIASES`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// Services to start (and find healthy) before this one; also checked to exist.
    pub depends: Vec<String>,
    /// `berth.probe.*`: a readiness probe (becomes the healthcheck unless one is given).
    pub probe: Option<Probe>,
    /// `berth.rolling_updates: true` updates one task at a time (or `parallelism` at a time).
    pub rolling_updates: Option<bool>,
    pub rolling_parallelism: Option<u64>,
    /// Re-pull the image on redeploy and report the digest before and after.
    pub latest_image: bool,
    /// Spread tasks over zones (the node label `zone`).
    pub zone_spread: bool,
    /// `berth.auto_scaling.*` (the prefix taken off), checked as a [`crate::scaling::Policy`];
    /// [`ServiceSpec::scaling`] reads it.
    pub auto_scaling: BTreeMap<String, String>,
    /// `berth.routing.port_<n>` → domains (with optional `/path`), kept for the router.
    pub routing: BTreeMap<u16, Vec<String>>,
    pub session_sticky: bool,
    /// `berth.lb.port_<n>` values, kept for load balancer integration.
    pub lb: BTreeMap<u16, String>,
    /// `berth.update_method`: how an update that replaces this service is released (`rolling`
    /// when not given; `blue-green` on any service makes the whole update a blue-green release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_method: Option<UpdateMethod>,
    /// `berth.schedule` (and `berth.schedule.*`): the job runs at these times, not when deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// `berth.job.deadline`: a job's run still going after this many seconds is stopped and
    /// recorded as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_deadline_s: Option<u64>,
}

/// When a scheduled job runs, and what happens when a run is due while the last one still goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// 5 fields (minute hour day month weekday), or 6 with seconds first.
    pub cron: String,
    /// An IANA time zone; `UTC` unless `berth.schedule.timezone` says otherwise.
    pub timezone: String,
    pub concurrency: Concurrency,
    /// A run that could not start within this many seconds of its time (Berth was down, the
    /// cluster unreachable) is recorded as missed instead of starting late.
    pub starting_deadline_s: u64,
}

/// The starting deadline when `berth.schedule.starting_deadline` is not given.
pub const DEFAULT_STARTING_DEADLINE_S: u64 = 60;

/// What a due run does while the previous run of the same job still goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Concurrency {
    /// Both run.
    Allow,
    /// The due run is skipped (and recorded as skipped).
    #[default]
    Forbid,
    /// The previous run is stopped (recorded as replaced) and the due one starts.
    Replace,
}

impl Concurrency {
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Allow => "allow",
            Concurrency::Forbid => "forbid",
            Concurrency::Replace => "replace",
        }
    }

    /// Only these spellings.
    pub fn parse(written: &str) -> Option<Concurrency> {
        match written {
            "allow" => Some(Concurrency::Allow),
            "forbid" => Some(Concurrency::Forbid),
            "replace" => Some(Concurrency::Replace),
            _ => None,
        }
    }
}

/// How an update reaches the running app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateMethod {
    /// Swarm replaces each service's tasks as its update config says.
    #[default]
    Rolling,
    /// The new version's renamed services come up beside the old ones under the same routes at
    /// weight 0; people move the weight, then confirm or roll back.
    BlueGreen,
    /// Blue-green whose weight Berth steps up by itself while the new side's measured errors and
    /// latency stay within bounds, confirming at the end and rolling back when they do not.
    Progressive,
}

impl UpdateMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMethod::Rolling => "rolling",
            UpdateMethod::BlueGreen => "blue-green",
            UpdateMethod::Progressive => "progressive",
        }
    }

    /// The method a label or form value names; only these spellings.
    pub fn parse(written: &str) -> Option<UpdateMethod> {
        match written {
            "rolling" => Some(UpdateMethod::Rolling),
            "blue-green" => Some(UpdateMethod::BlueGreen),
            "progressive" => Some(UpdateMethod::Progressive),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// `http://container:PORT/path` or `tcp://container:PORT`.
    pub url: Option<String>,
    pub cmd: Option<String>,
    pub initial_delay_ns: Option<i64>,
    pub timeout_ns: Option<i64>,
}

/// One problem found in a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The 1-based YAML line (0 when the problem is not at one place, e.g. an empty document).
    pub line: usize,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// The field's path, e.g. `services.web.deploy.replicas` or `services.web.ports[1]`.
    pub field: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A variable a template uses: `${NAME}`, `${NAME:-default}`, `${NAME:?message}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub default: Option<String>,
    /// Whether a value is required (`:?` or `?` forms, or no default).
    pub required: bool,
    /// The message of `${NAME:?message}`.
    pub message: Option<String>,
    /// First line where it is used.
    pub line: usize,
}

/// A workload-policy finding: something only admins may deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub service: String,
    /// The Compose field in the service, e.g. `privileged`, `volumes[0]`, `cap_add[1]`,
    /// `networks.front`, `sysctls.kernel.core_pattern`.
    pub field: String,
    /// The YAML line of the offending key or item (the service's line when it is not known).
    #[serde(default)]
    pub line: usize,
    pub message: String,
}

impl ServiceSpec {
    /// What the service's resources let an autoscaling policy measure it by.
    pub fn measurable(&self) -> crate::scaling::Measurable {
        let r = &self.resources;
        crate::scaling::Measurable {
            cpus: r.limit_nano_cpus.or(r.reserve_nano_cpus).is_some_and(|n| n > 0),
            memory: r.limit_memory_bytes.or(r.reserve_memory_bytes).is_some_and(|n| n > 0),
            global: self.mode == Mode::Global,
            job: self.mode.is_job(),
        }
    }

    /// The autoscaling policy its labels state, if any (a template that parsed has a valid one).
    pub fn scaling(&self) -> Option<crate::scaling::Policy> {
        crate::scaling::Policy::from_labels(&self.ext.auto_scaling).and_then(Result::ok)
    }
}
