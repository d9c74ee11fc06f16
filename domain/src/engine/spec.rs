//! Swarm services, overlay networks, secrets, configs and volumes: what an app becomes on a cluster.
//!
//! [`service_spec`] is the one translation from Berth's canonical [`compose::ServiceSpec`] to the
//! Engine API's service spec, and [`canonical`] the way back. Drift and adoption read live services
//! through `canonical`, and drift compares `canonical(service_spec(desired))` with
//! `canonical(live)`, so both sides pass through the same normalisation and only real differences show.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
    NetworkAttachmentConfig, NetworkCreateRequest, ResourceObject, ResourcesUlimits, SecretSpec, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecIsolationEnum, TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{
    CreateImageOptions, InspectServiceOptions, ListConfigsOptions, ListNetworksOptions, ListSecretsOptions,
    ListServicesOptions, ListTasksOptions, ListVolumesOptions, RemoveVolumeOptions, UpdateServiceOptions,
};
use futures::TryStreamExt;

use super::{Engine, EngineError};
use compose::{
    FileRef, HealthSpec, HostEntry, Logging, Mode, MountKind, MountSpec, Placement, PortSpec, Resources, RestartSpec,
    Ulimit, UpdateSpec, VolumeSpec,
};

/// The label `docker stack` puts on everything of a stack.
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";
/// The label `docker stack` puts on a service with the image it was deployed with.
const STACK_IMAGE: &str = "com.docker.stack.image";
/// Pulling an image may take a while.
const PULL_LIMIT: Duration = Duration::from_secs(300);

/// A service to create or update: the canonical spec plus the names it has on this swarm.
#[derive(Clone, Debug)]
pub struct ServiceDeploy {
    /// `<stack>_<service>`.
    pub name: String,
    /// The service's name inside the stack: its DNS alias on the stack's networks.
    pub alias: String,
    pub stack: String,
    pub spec: compose::ServiceSpec,
    /// Labels on the service (ownership, the stack namespace and the app's version come first; the
    /// template's `deploy.labels` are merged under them).
    pub labels: BTreeMap<String, String>,
    /// Networks to join, by full name.
    pub networks: Vec<String>,
    /// Secrets and configs: `(full name, target path)`.
    pub secrets: Vec<(String, String)>,
    pub configs: Vec<(String, String)>,
    /// The named volumes the service mounts, by their name in the template: the name on the nodes
    /// (`<stack>_<name>`, or the external one) and the driver with its options.
    pub volumes: BTreeMap<String, VolumeUse>,
}

/// A named volume as a service mounts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeUse {
    /// The volume's name on the nodes.
    pub name: String,
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// A service as it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveService {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub labels: BTreeMap<String, String>,
    /// The live spec, read back into Berth's canonical form.
    pub spec: compose::ServiceSpec,
    /// The named volumes it mounts with their driver configuration, by name (stack prefix off).
    pub volumes: BTreeMap<String, VolumeSpec>,
    pub running: u64,
    pub desired: u64,
    /// `updating`, `completed`, `paused`, `rollback_started`, … or empty.
    pub update_state: String,
    pub update_message: String,
}

/// One task of a service, with where it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceTask {
    pub id: String,
    pub node_id: String,
    pub slot: Option<i64>,
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
    pub container_id: String,
    /// Milliseconds since the epoch of the last status change.
    pub updated_at: i64,
}

/// A secret, config, network or volume found by label: its id (or name, for volumes), name and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labelled {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Ids of swarm objects by name: services refer to networks, secrets and configs by id.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    pub networks: HashMap<String, String>,
    pub secrets: HashMap<String, String>,
    pub configs: HashMap<String, String>,
}

/// A secret or config as found: its id, and its spec's name and labels.
type NameAndLabels = (Option<String>, Option<HashMap<String, String>>);

fn labelled(id: Option<String>, spec: Option<NameAndLabels>) -> Labelled {
    let (name, labels) = spec.unwrap_or_default();
    Labelled {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        labels: labels.unwrap_or_default().into_iter().collect(),
    }
}

fn label_filter(labels: &[String]) -> Option<HashMap<String, Vec<String>>> {
    (!labels.is_empty()).then(|| HashMap::from([("label".to_string(), labels.to_vec())]))
}

fn ignore_missing(r: Result<(), EngineError>) -> Result<(), EngineError> {
    match r {
        Err(e) if e.status() == Some(404) => Ok(()),
        other => other,
    }
}

fn to_map(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn none_if_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Translates a service of an app into the Engine API's service spec. Endpoints are always `dnsrr` and
/// ports published in host mode: this kernel has no IPVS, so VIPs and the routing mesh do not work.
pub fn service_spec(d: &ServiceDeploy, ids: &Ids) -> ServiceSpec {
    let network_ids = &ids.networks;
    let s = &d.spec;
    let mut container_labels = s.labels.clone();
    container_labels.insert(STACK_NAMESPACE.into(), d.stack.clone());
    let mut labels = s.service_labels.clone();
    labels.extend(d.labels.clone());
    labels.insert(STACK_NAMESPACE.into(), d.stack.clone());
    labels.insert(STACK_IMAGE.into(), s.image.clone());

    let env: Vec<String> = s.environment.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<Mount> = s
        .mounts
        .iter()
        .map(|m| {
            let volume = d.volumes.get(&m.source);
            Mount {
                target: Some(m.target.clone()),
                source: (!m.source.is_empty()).then(|| match (m.kind.clone(), volume) {
                    (MountKind::Volume, Some(v)) => v.name.clone(),
                    // Named volumes are the stack's: `<stack>_<name>`, as `docker stack deploy` names them.
                    (MountKind::Volume, None) => format!("{}_{}", d.stack, m.source),
                    _ => m.source.clone(),
                }),
                typ: Some(match m.kind {
                    MountKind::Volume => MountType::VOLUME,
                    MountKind::Bind => MountType::BIND,
                    MountKind::Tmpfs => MountType::TMPFS,
                }),
                read_only: m.read_only.then_some(true),
                volume_options: (m.kind == MountKind::Volume).then(|| MountVolumeOptions {
                    labels: Some(HashMap::from([(STACK_NAMESPACE.to_string(), d.stack.clone())])),
                    // The driver and its options make the volume on each node the first time a task
                    // mounts it (`driver: local` with `type: nfs`, …).
                    driver_config: volume.filter(|v| v.driver.is_some() || !v.options.is_empty()).map(|v| {
                        MountVolumeOptionsDriverConfig {
                            name: Some(v.driver.clone().unwrap_or_else(|| "local".into())),
                            options: (!v.options.is_empty()).then(|| to_map(&v.options)),
                        }
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let health = s.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: h.interval_ns,
        timeout: h.timeout_ns,
        retries: h.retries.map(|r| r as i64),
        start_period: h.start_period_ns,
        start_interval: None,
    });
    let secrets = d
        .secrets
        .iter()
        .map(|(name, target)| TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o444),
            }),
            secret_id: Some(ids.secrets.get(name).cloned().unwrap_or_else(|| name.clone())),
            secret_name: Some(name.clone()),
        })
        .collect();
    let configs = d
        .configs
        .iter()
        .map(|(name, target)| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o444),
            }),
            runtime: None,
            config_id: Some(ids.configs.get(name).cloned().unwrap_or_else(|| name.clone())),
            config_name: Some(name.clone()),
        })
        .collect();
    let container = TaskSpecContainerSpec {
        image: Some(s.image.clone()),
        labels: Some(to_map(&container_labels)),
        command: s.entrypoint.clone(),
        args: s.command.clone(),
        hostname: s.hostname.clone(),
        env: none_if_empty(env),
        dir: s.working_dir.clone(),
        user: s.user.clone(),
        mounts: none_if_empty(mounts),
        stop_grace_period: s.stop_grace_period_ns,
        health_check: health,
        secrets: none_if_empty(secrets),
        configs: none_if_empty(configs),
        init: s.init.then_some(true),
        capability_add: none_if_empty(s.cap_add.clone()),
        capability_drop: none_if_empty(s.cap_drop.clone()),
        read_only: s.read_only.then_some(true),
        stop_signal: s.stop_signal.clone(),
        tty: s.tty.then_some(true),
        open_stdin: s.stdin_open.then_some(true),
        // The hosts(5) form swarm wants: `IP name`.
        hosts: none_if_empty(s.extra_hosts.iter().map(|h| format!("{} {}", h.ip, h.host)).collect()),
        dns_config: (!s.dns.is_empty() || !s.dns_search.is_empty() || !s.dns_opt.is_empty()).then(|| {
            TaskSpecContainerSpecDnsConfig {
                nameservers: none_if_empty(s.dns.clone()),
                search: none_if_empty(s.dns_search.clone()),
                options: none_if_empty(s.dns_opt.clone()),
            }
        }),
        sysctls: (!s.sysctls.is_empty()).then(|| to_map(&s.sysctls)),
        ulimits: none_if_empty(
            s.ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits { name: Some(name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect(),
        ),
        groups: none_if_empty(s.group_add.clone()),
        isolation: s.isolation.as_deref().map(|i| match i {
            "process" => TaskSpecContainerSpecIsolationEnum::PROCESS,
            "hyperv" => TaskSpecContainerSpecIsolationEnum::HYPERV,
            _ => TaskSpecContainerSpecIsolationEnum::DEFAULT,
        }),
        ..Default::default()
    };
    let r = &s.resources;
    let resources = TaskSpecResources {
        limits: (r.limit_nano_cpus.is_some() || r.limit_memory_bytes.is_some() || s.pids_limit.is_some())
            .then_some(Limit { nano_cpus: r.limit_nano_cpus, memory_bytes: r.limit_memory_bytes, pids: s.pids_limit }),
        reservations: (r.reserve_nano_cpus.is_some() || r.reserve_memory_bytes.is_some()).then_some(ResourceObject {
            nano_cpus: r.reserve_nano_cpus,
            memory_bytes: r.reserve_memory_bytes,
            generic_resources: None,
        }),
        ..Default::default()
    };
    let restart = TaskSpecRestartPolicy {
        condition: s.restart.condition.as_deref().map(|c| match c {
            "none" => TaskSpecRestartPolicyConditionEnum::NONE,
            "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            _ => TaskSpecRestartPolicyConditionEnum::ANY,
        }),
        delay: s.restart.delay_ns,
        max_attempts: s.restart.max_attempts.map(|n| n as i64),
        window: s.restart.window_ns,
    };
    let placement = TaskSpecPlacement {
        constraints: none_if_empty(s.placement.constraints.clone()),
        preferences: none_if_empty(
            s.placement
                .spread
                .iter()
                .map(|p| TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread { spread_descriptor: Some(p.clone()) }),
                })
                .collect(),
        ),
        max_replicas: s.placement.max_replicas_per_node.map(|n| n as i64),
        platforms: None,
    };
    let networks: Vec<NetworkAttachmentConfig> = if let Some(mode) = &s.network_mode {
        // `host` or `none` (the parser refuses other modes; the policy keeps both from non-admins).
        vec![NetworkAttachmentConfig { target: Some(mode.clone()), ..Default::default() }]
    } else {
        d.networks
            .iter()
            .map(|n| NetworkAttachmentConfig {
                target: Some(network_ids.get(n).cloned().unwrap_or_else(|| n.clone())),
                aliases: Some(vec![d.alias.clone()]),
                driver_opts: None,
            })
            .collect()
    };
    let u = &s.update;
    let update = ServiceSpecUpdateConfig {
        parallelism: Some(u.parallelism.unwrap_or(1) as i64),
        delay: u.delay_ns,
        failure_action: u.failure_action.as_deref().map(|a| match a {
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            _ => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
        }),
        monitor: u.monitor_ns,
        max_failure_ratio: None,
        order: u.order.as_deref().map(|o| match o {
            "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            _ => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    };
    let ports: Vec<EndpointPortConfig> = s
        .ports
        .iter()
        .filter_map(|p| {
            Some(EndpointPortConfig {
                name: None,
                protocol: Some(if p.protocol == "udp" {
                    EndpointPortConfigProtocolEnum::UDP
                } else {
                    EndpointPortConfigProtocolEnum::TCP
                }),
                target_port: Some(p.target as i64),
                published_port: Some(p.published? as i64),
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            })
        })
        .collect();
    ServiceSpec {
        name: Some(d.name.clone()),
        labels: Some(to_map(&labels)),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(resources),
            restart_policy: Some(restart),
            placement: Some(placement),
            networks: none_if_empty(networks),
            log_driver: s.logging.as_ref().filter(|l| !l.driver.is_empty() || !l.options.is_empty()).map(|l| {
                TaskSpecLogDriver {
                    name: Some(if l.driver.is_empty() { "json-file".into() } else { l.driver.clone() }),
                    options: (!l.options.is_empty()).then(|| to_map(&l.options)),
                }
            }),
            ..Default::default()
        }),
        mode: Some(match s.mode {
            Mode::Global => ServiceSpecMode { global: Some(HashMap::new()), ..Default::default() },
            Mode::Replicated(n) => ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(n as i64) }),
                ..Default::default()
            },
        }),
        update_config: Some(update),
        rollback_config: None,
        networks: None,
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ports: none_if_empty(ports) }),
    }
}

/// Reads a live service spec back into Berth's canonical form. Networks are named through
/// `network_names` (the engine stores ids); `stack` prefixes are taken off volume names.
pub fn canonical(spec: &ServiceSpec, stack: &str, network_names: &HashMap<String, String>) -> compose::ServiceSpec {
    let task = spec.task_template.clone().unwrap_or_default();
    let c = task.container_spec.clone().unwrap_or_default();
    let stack_prefix = format!("{stack}_");
    let strip = |name: &str| name.strip_prefix(&stack_prefix).unwrap_or(name).to_string();
    let mut labels: BTreeMap<String, String> = c.labels.clone().unwrap_or_default().into_iter().collect();
    labels.remove(STACK_NAMESPACE);
    let service_labels: BTreeMap<String, String> = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("berth.") && !k.starts_with("com.docker.stack."))
        .collect();
    let environment = c
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect();
    let mounts = c
        .mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let kind = match m.typ {
                Some(MountType::BIND) => MountKind::Bind,
                Some(MountType::TMPFS) => MountKind::Tmpfs,
                _ => MountKind::Volume,
            };
            let source = m.source.unwrap_or_default();
            MountSpec {
                source: if kind == MountKind::Volume { strip(&source) } else { source },
                kind,
                target: m.target.unwrap_or_default(),
                read_only: m.read_only.unwrap_or(false),
            }
        })
        .collect();
    let attached = task.networks.clone().or_else(|| spec.networks.clone()).unwrap_or_default();
    // Attachments name networks by id (or by name, as written): the engine's `host` and `none` are
    // network modes, whatever the spelling that reached the swarm.
    let attached_names: Vec<String> =
        attached.iter().filter_map(|n| n.target.clone()).map(|t| network_names.get(&t).cloned().unwrap_or(t)).collect();
    let network_mode = attached_names.iter().find(|n| *n == "host" || *n == "none").cloned();
    let networks = attached_names.iter().filter(|n| *n != "host" && *n != "none").map(|n| strip(n)).collect();
    let healthcheck = c.health_check.clone().map(|h| HealthSpec {
        test: h.test.unwrap_or_default(),
        interval_ns: h.interval,
        timeout_ns: h.timeout,
        retries: h.retries.map(|r| r as u64),
        start_period_ns: h.start_period,
    });
    let mode = match spec.mode.as_ref() {
        Some(m) if m.global.is_some() => Mode::Global,
        Some(m) => Mode::Replicated(m.replicated.as_ref().and_then(|r| r.replicas).unwrap_or(1).max(0) as u64),
        None => Mode::Replicated(1),
    };
    let res = task.resources.clone().unwrap_or_default();
    let pids_limit = res.limits.as_ref().and_then(|l| l.pids).filter(|n| *n > 0);
    let resources = Resources {
        limit_nano_cpus: res.limits.as_ref().and_then(|l| l.nano_cpus).filter(|n| *n > 0),
        limit_memory_bytes: res.limits.as_ref().and_then(|l| l.memory_bytes).filter(|n| *n > 0),
        reserve_nano_cpus: res.reservations.as_ref().and_then(|l| l.nano_cpus).filter(|n| *n > 0),
        reserve_memory_bytes: res.reservations.as_ref().and_then(|l| l.memory_bytes).filter(|n| *n > 0),
    };
    let p = task.placement.clone().unwrap_or_default();
    let placement = Placement {
        constraints: p.constraints.unwrap_or_default(),
        spread: p
            .preferences
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.spread.and_then(|s| s.spread_descriptor))
            .collect(),
        max_replicas_per_node: p.max_replicas.filter(|n| *n > 0).map(|n| n as u64),
    };
    let u = spec.update_config.clone().unwrap_or_default();
    let update = UpdateSpec {
        parallelism: u.parallelism.filter(|p| *p != 1).map(|p| p as u64),
        delay_ns: u.delay.filter(|d| *d > 0),
        order: u.order.map(|o| o.to_string()).filter(|o| o == "start-first"),
        failure_action: u.failure_action.map(|a| a.to_string()).filter(|a| a != "pause"),
        monitor_ns: u.monitor.filter(|m| *m > 0),
    };
    let r = task.restart_policy.clone().unwrap_or_default();
    let restart = RestartSpec {
        condition: r.condition.map(|c| c.to_string()).filter(|c| c != "any" && !c.is_empty()),
        delay_ns: r.delay.filter(|d| *d > 0 && *d != 5_000_000_000),
        max_attempts: r.max_attempts.filter(|n| *n > 0).map(|n| n as u64),
        window_ns: r.window.filter(|w| *w > 0),
    };
    let ports = spec
        .endpoint_spec
        .as_ref()
        .and_then(|e| e.ports.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortSpec {
            target: p.target_port.unwrap_or(0) as u16,
            published: p.published_port.filter(|p| *p > 0).map(|p| p as u16),
            protocol: p.protocol.map(|p| p.to_string()).unwrap_or_else(|| "tcp".into()),
        })
        .collect();
    let files = |name: Option<String>, target: Option<String>| FileRef {
        source: without_hash(&strip(&name.unwrap_or_default())).to_string(),
        target: target.unwrap_or_default(),
    };
    compose::ServiceSpec {
        image: c.image.clone().unwrap_or_default().split('@').next().unwrap_or_default().to_string(),
        command: c.args.clone(),
        entrypoint: c.command.clone(),
        environment,
        working_dir: c.dir.clone().filter(|d| !d.is_empty()),
        user: c.user.clone().filter(|u| !u.is_empty()),
        hostname: c.hostname.clone().filter(|h| !h.is_empty()),
        ports,
        mounts,
        networks,
        labels,
        service_labels,
        healthcheck,
        mode,
        resources,
        placement,
        update,
        restart,
        init: c.init.unwrap_or(false),
        stop_grace_period_ns: c.stop_grace_period,
        secrets: c
            .secrets
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|s| files(s.secret_name, s.file.and_then(|f| f.name)))
            .collect(),
        configs: c
            .configs
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|s| files(s.config_name, s.file.and_then(|f| f.name)))
            .collect(),
        cap_add: c.capability_add.clone().unwrap_or_default(),
        cap_drop: c.capability_drop.clone().unwrap_or_default(),
        network_mode,
        read_only: c.read_only.unwrap_or(false),
        stop_signal: c.stop_signal.clone().filter(|s| !s.is_empty()),
        tty: c.tty.unwrap_or(false),
        stdin_open: c.open_stdin.unwrap_or(false),
        extra_hosts: c
            .hosts
            .clone()
            .unwrap_or_default()
            .iter()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let ip = words.next()?.to_string();
                Some(words.map(|host| HostEntry { host: host.to_string(), ip: ip.clone() }).collect::<Vec<_>>())
            })
            .flatten()
            .collect(),
        dns: c.dns_config.as_ref().and_then(|d| d.nameservers.clone()).unwrap_or_default(),
        dns_search: c.dns_config.as_ref().and_then(|d| d.search.clone()).unwrap_or_default(),
        dns_opt: c.dns_config.as_ref().and_then(|d| d.options.clone()).unwrap_or_default(),
        sysctls: c.sysctls.clone().unwrap_or_default().into_iter().collect(),
        ulimits: c
            .ulimits
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| Some((u.name?, Ulimit { soft: u.soft.unwrap_or(0), hard: u.hard.unwrap_or(0) })))
            .collect(),
        group_add: c.groups.clone().unwrap_or_default(),
        logging: task.log_driver.clone().map(|l| Logging {
            driver: l.name.unwrap_or_default(),
            options: l.options.unwrap_or_default().into_iter().collect(),
        }),
        pids_limit,
        isolation: c.isolation.map(|i| i.to_string()).filter(|i| !i.is_empty() && i != "default"),
        // What a swarm can say about confinement (API 1.41: SELinux labels only), for the policy
        // when a stack made outside Berth is adopted.
        security_opt: c
            .privileges
            .as_ref()
            .and_then(|p| p.se_linux_context.as_ref())
            .filter(|l| l.disable == Some(true))
            .map(|_| vec!["label=disable".to_string()])
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// The named volumes a live service mounts, with the driver configuration they were made with.
fn live_volumes(spec: &ServiceSpec, stack: &str) -> BTreeMap<String, VolumeSpec> {
    let prefix = format!("{stack}_");
    let mounts = spec.task_template.as_ref().and_then(|t| t.container_spec.as_ref()).and_then(|c| c.mounts.clone());
    let mut out = BTreeMap::new();
    for m in mounts.unwrap_or_default() {
        let (Some(MountType::VOLUME), Some(source)) = (m.typ, m.source) else { continue };
        let config = m.volume_options.and_then(|o| o.driver_config);
        let name = source.strip_prefix(&prefix).unwrap_or(&source).to_string();
        out.insert(
            name,
            VolumeSpec {
                driver: config.as_ref().and_then(|c| c.name.clone()),
                driver_opts: config.and_then(|c| c.options).unwrap_or_default().into_iter().collect(),
                ..Default::default()
            },
        );
    }
    out
}

/// What a service to deploy looks like once read back from the engine: drift compares this with
/// the live service's [`LiveService::spec`].
pub fn normalise(d: &ServiceDeploy) -> compose::ServiceSpec {
    canonical(&service_spec(d, &Ids::default()), &d.stack, &HashMap::new())
}

fn live_service(s: bollard::models::Service, network_names: &HashMap<String, String>) -> LiveService {
    let spec_in = s.spec.clone().unwrap_or_default();
    let labels: BTreeMap<String, String> = spec_in.labels.clone().unwrap_or_default().into_iter().collect();
    let stack = labels.get(STACK_NAMESPACE).cloned().unwrap_or_default();
    let status = s.service_status.clone().unwrap_or_default();
    let update = s.update_status.clone().unwrap_or_default();
    LiveService {
        id: s.id.clone().unwrap_or_default(),
        name: spec_in.name.clone().unwrap_or_default(),
        version: s.version.and_then(|v| v.index).unwrap_or(0),
        spec: canonical(&spec_in, &stack, network_names),
        volumes: live_volumes(&spec_in, &stack),
        labels,
        running: status.running_tasks.unwrap_or(0),
        desired: status.desired_tasks.unwrap_or(0),
        update_state: update.state.map(|s| s.to_string()).unwrap_or_default(),
        update_message: update.message.unwrap_or_default(),
    }
}

impl Engine {
    /// Network ids by name and names by id, for translating attachments both ways.
    pub async fn network_names(&self) -> Result<HashMap<String, String>, EngineError> {
        let docker = self.client()?;
        let networks = self.read("network list", || docker.list_networks(None::<ListNetworksOptions>)).await?;
        let mut names = HashMap::new();
        for n in networks {
            if let (Some(id), Some(name)) = (n.id, n.name) {
                names.insert(id, name);
            }
        }
        Ok(names)
    }

    /// Ids of every network, secret and config by name.
    pub async fn ids(&self) -> Result<Ids, EngineError> {
        let by_name = |list: Vec<Labelled>| list.into_iter().map(|l| (l.name, l.id)).collect();
        Ok(Ids {
            networks: self.network_names().await?.into_iter().map(|(id, name)| (name, id)).collect(),
            secrets: by_name(self.swarm_files_with(false, &[]).await?),
            configs: by_name(self.swarm_files_with(true, &[]).await?),
        })
    }

    /// Services carrying all of `labels` (`key=value` each), with their task counts.
    pub async fn services_labelled(&self, labels: &[String]) -> Result<Vec<LiveService>, EngineError> {
        let docker = self.client()?;
        let options = ListServicesOptions { filters: label_filter(labels), status: Some(true) };
        let services = self.read("service list", || docker.list_services(Some(options.clone()))).await?;
        let names = self.network_names().await?;
        Ok(services.into_iter().map(|s| live_service(s, &names)).collect())
    }

    /// One service by name or id, or `None`.
    pub async fn service(&self, name: &str) -> Result<Option<LiveService>, EngineError> {
        let docker = self.client()?;
        match self.read("service inspect", || docker.inspect_service(name, None::<InspectServiceOptions>)).await {
            Ok(s) => Ok(Some(live_service(s, &self.network_names().await?))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a service; `ids` are the swarm's network, secret and config ids ([`Engine::ids`],
    /// read once for all services of a deploy).
    pub async fn service_create(&self, d: &ServiceDeploy, ids: &Ids) -> Result<String, EngineError> {
        let docker = self.client()?;
        let created = self.call("service create", docker.create_service(service_spec(d, ids), None)).await?;
        Ok(created.id.unwrap_or_default())
    }

    /// Updates a service to `d` (a rolling update as its update config says); `force` restarts every
    /// task even when nothing changed (a redeploy). Retries when the service changed in between.
    pub async fn service_update(&self, d: &ServiceDeploy, ids: &Ids, force: bool) -> Result<(), EngineError> {
        let docker = self.client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current =
                self.read("service inspect", || docker.inspect_service(&d.name, None::<InspectServiceOptions>)).await?;
            let version = current.version.and_then(|v| v.index).unwrap_or(0);
            let previous_force =
                current.spec.as_ref().and_then(|s| s.task_template.as_ref()).and_then(|t| t.force_update).unwrap_or(0);
            let mut spec = service_spec(d, ids);
            if let Some(task) = spec.task_template.as_mut() {
                task.force_update = Some(if force { previous_force + 1 } else { previous_force });
            }
            let options = UpdateServiceOptions { version: version as i32, ..Default::default() };
            match self.call("service update", docker.update_service(&d.name, spec, options, None)).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 4 && e.to_string().contains("out of sequence") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Changes one thing of a live service's spec (replicas, resources, a label) and leaves the rest.
    pub async fn service_patch(
        &self,
        name: &str,
        change: impl Fn(&mut ServiceSpec) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let docker = self.client()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current =
                self.read("service inspect", || docker.inspect_service(name, None::<InspectServiceOptions>)).await?;
            let version = current.version.and_then(|v| v.index).unwrap_or(0);
            let mut spec = current.spec.unwrap_or_default();
            change(&mut spec)?;
            let options = UpdateServiceOptions { version: version as i32, ..Default::default() };
            match self.call("service update", docker.update_service(name, spec, options, None)).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 4 && e.to_string().contains("out of sequence") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sets a replicated service's replica count.
    pub async fn service_scale(&self, name: &str, replicas: u64) -> Result<(), EngineError> {
        self.service_patch(name, |spec| {
            let mode = spec.mode.get_or_insert_with(Default::default);
            if mode.global.is_some() {
                return Err(EngineError::Api {
                    what: "service scale",
                    status: 400,
                    message: format!("{name} is a global service: it runs one task per node and cannot be scaled"),
                });
            }
            mode.replicated = Some(ServiceSpecModeReplicated { replicas: Some(replicas as i64) });
            Ok(())
        })
        .await
    }

    /// Sets a live service's resource limits and reservations (tasks are replaced, rolling).
    pub async fn service_set_resources(&self, name: &str, r: &Resources) -> Result<(), EngineError> {
        let r = r.clone();
        self.service_patch(name, move |spec| {
            let task = spec.task_template.get_or_insert_with(Default::default);
            task.resources = Some(TaskSpecResources {
                limits: Some(Limit { nano_cpus: r.limit_nano_cpus, memory_bytes: r.limit_memory_bytes, pids: None }),
                reservations: Some(ResourceObject {
                    nano_cpus: r.reserve_nano_cpus,
                    memory_bytes: r.reserve_memory_bytes,
                    generic_resources: None,
                }),
                ..Default::default()
            });
            Ok(())
        })
        .await
    }

    /// Removes a service; a missing one is fine.
    pub async fn service_remove(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        ignore_missing(self.call("service remove", docker.delete_service(name)).await)
    }

    /// Every task of a service, oldest first within a slot.
    pub async fn service_tasks(&self, service: &str) -> Result<Vec<ServiceTask>, EngineError> {
        let docker = self.client()?;
        let filters = Some(HashMap::from([("service".to_string(), vec![service.to_string()])]));
        let tasks =
            self.read("task list", || docker.list_tasks(Some(ListTasksOptions { filters: filters.clone() }))).await?;
        let mut out: Vec<ServiceTask> = tasks
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                ServiceTask {
                    id: t.id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    slot: t.slot,
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    desired_state: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                    message: status.message.unwrap_or_default(),
                    error: status.err.unwrap_or_default(),
                    container_id: status.container_status.and_then(|c| c.container_id).unwrap_or_default(),
                    updated_at: t.updated_at.as_deref().map(rfc3339_ms).unwrap_or(0),
                }
            })
            .collect();
        out.sort_by_key(|t| t.updated_at);
        Ok(out)
    }

    /// Creates an attachable overlay network of a stack.
    pub async fn overlay_create(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        internal: bool,
    ) -> Result<(), EngineError> {
        let docker = self.client()?;
        let request = NetworkCreateRequest {
            name: name.into(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            internal: Some(internal),
            labels: Some(to_map(labels)),
            ..Default::default()
        };
        match self.call("network create", docker.create_network(request)).await {
            Ok(_) => Ok(()),
            // Already there (a retried deploy): fine.
            Err(e) if e.status() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Networks carrying all of `labels`.
    pub async fn networks_with(&self, labels: &[String]) -> Result<Vec<Labelled>, EngineError> {
        let docker = self.client()?;
        let options = ListNetworksOptions { filters: label_filter(labels) };
        let networks = self.read("network list", || docker.list_networks(Some(options.clone()))).await?;
        Ok(networks
            .into_iter()
            .map(|n| Labelled {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    /// Creates a swarm secret (`config: false`) or config holding `data`.
    pub async fn swarm_file_create(
        &self,
        config: bool,
        name: &str,
        data: &[u8],
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        use base64::Engine as _;
        let docker = self.client()?;
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        let created = if config {
            let spec = ConfigSpec {
                name: Some(name.into()),
                labels: Some(to_map(labels)),
                data: Some(data),
                templating: None,
            };
            self.call("config create", docker.create_config(spec)).await.map(drop)
        } else {
            let spec = SecretSpec {
                name: Some(name.into()),
                labels: Some(to_map(labels)),
                data: Some(data),
                ..Default::default()
            };
            self.call("secret create", docker.create_secret(spec)).await.map(drop)
        };
        match created {
            // Names carry a hash of the content: one that exists already holds the same data.
            Err(e) if e.status() == Some(409) => Ok(()),
            other => other,
        }
    }

    /// Secrets (`config: false`) or configs carrying all of `labels`.
    pub async fn swarm_files_with(&self, config: bool, labels: &[String]) -> Result<Vec<Labelled>, EngineError> {
        let docker = self.client()?;
        let filters = label_filter(labels);
        if config {
            let list = self
                .read("config list", || docker.list_configs(Some(ListConfigsOptions { filters: filters.clone() })))
                .await?;
            Ok(list.into_iter().map(|c| labelled(c.id, c.spec.map(|s| (s.name, s.labels)))).collect())
        } else {
            let list = self
                .read("secret list", || docker.list_secrets(Some(ListSecretsOptions { filters: filters.clone() })))
                .await?;
            Ok(list.into_iter().map(|c| labelled(c.id, c.spec.map(|s| (s.name, s.labels)))).collect())
        }
    }

    /// Removes a secret or config; a missing one is fine, one still in use is an error.
    pub async fn swarm_file_remove(&self, config: bool, id: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        if config {
            ignore_missing(self.call("config remove", docker.delete_config(id)).await)
        } else {
            ignore_missing(self.call("secret remove", docker.delete_secret(id)).await)
        }
    }

    /// Volumes on this engine carrying all of `labels`.
    pub async fn volumes_with(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let docker = self.client()?;
        let options = ListVolumesOptions { filters: label_filter(labels) };
        let list = self.read("volume list", || docker.list_volumes(Some(options.clone()))).await?;
        Ok(list.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect())
    }

    /// A volume's driver and options on this engine, or `None` when it has no volume of that name.
    pub async fn volume_driver(&self, name: &str) -> Result<Option<VolumeSpec>, EngineError> {
        let docker = self.client()?;
        match self.call("volume inspect", docker.inspect_volume(name)).await {
            Ok(v) => Ok(Some(VolumeSpec {
                driver: Some(v.driver),
                driver_opts: v.options.into_iter().collect(),
                ..Default::default()
            })),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn volume_remove(&self, name: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        ignore_missing(
            self.call("volume remove", docker.remove_volume(name, Some(RemoveVolumeOptions { force: false }))).await,
        )
    }

    /// The image's id (a content digest) on this engine, or `None` when it does not have it.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        let docker = self.client()?;
        match self.call("image inspect", docker.inspect_image(image)).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pulls `image` from its registry onto this engine.
    pub async fn image_pull(&self, image: &str) -> Result<(), EngineError> {
        let docker = self.client()?;
        let (repo, tag) = split_image(image);
        let options = CreateImageOptions { from_image: Some(repo), tag: Some(tag), ..Default::default() };
        let pull = docker.create_image(Some(options), None, None).try_collect::<Vec<_>>();
        self.call_within("image pull", PULL_LIMIT, pull).await.map(drop)
    }
}

/// Milliseconds since the epoch of an RFC 3339 time the engine gave (0 when unreadable).
fn rfc3339_ms(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// Secrets and configs are named `<stack>_<name>-<hash8>` (their content is immutable, so a changed
/// content is a new name); this is `<name>` again.
pub fn without_hash(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, hash)) if hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => base,
        _ => name,
    }
}

/// `repo[:tag]` → (repo, tag), `latest` when no tag (a `:` inside a registry host is not a tag).
fn split_image(image: &str) -> (String, String) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(spec: compose::ServiceSpec) -> ServiceDeploy {
        ServiceDeploy {
            name: "shop_web".into(),
            alias: "web".into(),
            stack: "shop".into(),
            spec,
            labels: BTreeMap::from([("berth.app".into(), "7".into())]),
            networks: vec!["shop_default".into()],
            secrets: vec![("shop_db-1a2b3c4d".into(), "db".into())],
            configs: vec![],
            volumes: BTreeMap::from([(
                "data".into(),
                VolumeUse {
                    name: "shop_data".into(),
                    driver: Some("local".into()),
                    options: BTreeMap::from([("type".into(), "nfs".into()), ("device".into(), ":/export".into())]),
                },
            )]),
        }
    }

    #[test]
    fn a_spec_survives_translation_and_back() {
        let spec = compose::ServiceSpec {
            image: "local/web:1".into(),
            command: Some(vec!["serve".into(), "--port".into(), "80".into()]),
            environment: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "x=y".into())]),
            ports: vec![PortSpec { target: 80, published: Some(8080), protocol: "tcp".into() }],
            mounts: vec![
                MountSpec { kind: MountKind::Volume, source: "data".into(), target: "/data".into(), read_only: false },
                MountSpec { kind: MountKind::Bind, source: "/srv".into(), target: "/srv".into(), read_only: true },
            ],
            networks: vec!["default".into()],
            labels: BTreeMap::from([("tier".into(), "front".into())]),
            service_labels: BTreeMap::from([("team".into(), "a".into())]),
            mode: Mode::Replicated(3),
            resources: Resources { limit_memory_bytes: Some(64 << 20), ..Default::default() },
            placement: Placement { spread: vec!["node.labels.zone".into()], ..Default::default() },
            update: UpdateSpec { parallelism: Some(2), order: Some("start-first".into()), ..Default::default() },
            init: true,
            secrets: vec![FileRef { source: "db".into(), target: "db".into() }],
            // The container keys swarm applies (API 1.41).
            read_only: true,
            stop_signal: Some("SIGINT".into()),
            tty: true,
            stdin_open: true,
            extra_hosts: vec![
                HostEntry { host: "db".into(), ip: "10.0.0.5".into() },
                HostEntry { host: "v6".into(), ip: "::1".into() },
            ],
            dns: vec!["10.0.0.2".into()],
            dns_search: vec!["example.internal".into()],
            dns_opt: vec!["ndots:2".into()],
            sysctls: BTreeMap::from([("net.core.somaxconn".into(), "1024".into())]),
            ulimits: BTreeMap::from([("nofile".into(), Ulimit { soft: 20000, hard: 40000 })]),
            group_add: vec!["audio".into()],
            logging: Some(Logging {
                driver: "json-file".into(),
                options: BTreeMap::from([("max-size".into(), "10m".into())]),
            }),
            pids_limit: Some(100),
            isolation: Some("process".into()),
            ..Default::default()
        };
        let d = deploy(spec.clone());
        let ids =
            Ids { networks: HashMap::from([("shop_default".to_string(), "n1".to_string())]), ..Default::default() };
        let live = service_spec(&d, &ids);
        assert_eq!(live.endpoint_spec.as_ref().unwrap().mode, Some(EndpointSpecModeEnum::DNSRR));
        let labels = live.labels.clone().unwrap();
        assert_eq!(labels[STACK_NAMESPACE], "shop");
        assert_eq!(labels["berth.app"], "7");
        let names = HashMap::from([("n1".to_string(), "shop_default".to_string())]);
        let back = canonical(&live, "shop", &names);
        assert_eq!(back, spec);
        // The volume is made with its driver and options, and read back with them for adoption.
        let volumes = live_volumes(&live, "shop");
        assert_eq!(volumes["data"].driver.as_deref(), Some("local"));
        assert_eq!(volumes["data"].driver_opts["type"], "nfs");
    }

    #[test]
    fn network_modes_are_read_back_whatever_the_attachment_names() {
        let spec = compose::ServiceSpec { image: "x".into(), network_mode: Some("host".into()), ..Default::default() };
        let mut d = deploy(spec.clone());
        d.networks.clear();
        let mut live = service_spec(&d, &Ids::default());
        assert_eq!(canonical(&live, "shop", &HashMap::new()).network_mode.as_deref(), Some("host"));
        // A stack made outside Berth names the host network by its id.
        let task = live.task_template.as_mut().unwrap();
        task.networks = Some(vec![NetworkAttachmentConfig { target: Some("h0st1d".into()), ..Default::default() }]);
        let names = HashMap::from([("h0st1d".to_string(), "host".to_string())]);
        let back = canonical(&live, "shop", &names);
        assert_eq!((back.network_mode.as_deref(), back.networks.len()), (Some("host"), 0));
    }

    #[test]
    fn image_names_split_into_repo_and_tag() {
        assert_eq!(split_image("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(split_image("local/web:2"), ("local/web".into(), "2".into()));
        assert_eq!(split_image("reg:5000/web"), ("reg:5000/web".into(), "latest".into()));
        assert_eq!(split_image("reg:5000/web:3@sha256:ab"), ("reg:5000/web".into(), "3".into()));
    }
}
