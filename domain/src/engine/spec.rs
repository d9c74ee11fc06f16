//! The one translation between Berth's canonical service spec and the Engine API's: [`service_spec`]
//! from the canonical [`compose::ServiceSpec`] to the Engine API's service spec, and [`canonical`]
//! the way back.
//!
//! Drift and adoption read live services through `canonical`, and drift compares
//! `canonical(service_spec(desired))` with `canonical(live)`, so both sides pass through the same
//! normalisation and only real differences show.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
    NetworkAttachmentConfig, ResourceObject, ResourcesUlimits, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecIsolationEnum, TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use super::files::without_hash;
use super::services::{Ids, ServiceDeploy, STACK_IMAGE, STACK_NAMESPACE};
use compose::{
    FileRef, HealthSpec, HostEntry, Logging, Mode, MountKind, MountSpec, Placement, PortSpec, Resources, RestartSpec,
    Ulimit, UpdateSpec, VolumeSpec,
};

pub(super) fn to_map(m: &BTreeMap<String, String>) -> HashMap<String, String> {
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
    if let (Mode::Job { completions, .. }, Some(_)) = (&s.mode, &s.ext.schedule) {
        labels.insert(JOB_COMPLETIONS.into(), completions.to_string());
    }

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
            // A scheduled job asks for no completions when deployed: Berth's cron follower
            // starts each run (a new job iteration) at its times.
            Mode::Job { completions, parallelism } => ServiceSpecMode {
                replicated_job: Some(ServiceSpecModeReplicatedJob {
                    max_concurrent: Some(parallelism as i64),
                    total_completions: Some(if s.ext.schedule.is_some() { 0 } else { completions as i64 }),
                }),
                ..Default::default()
            },
        }),
        // Swarm refuses an update config on a job (each update is a new run, not a rollout).
        update_config: (!s.mode.is_job()).then_some(update),
        rollback_config: None,
        networks: None,
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ports: none_if_empty(ports) }),
    }
}

/// The service label that keeps a scheduled job's completions: it is deployed asking for none.
pub const JOB_COMPLETIONS: &str = "berth.job.completions";

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
        Some(m) if m.replicated_job.is_some() => {
            let j = m.replicated_job.as_ref().expect("checked");
            // A scheduled job is deployed with no completions; its template's count lives in
            // its labels, which read back with the rest of the extensions.
            let scheduled = spec.labels.as_ref().and_then(|l| l.get(JOB_COMPLETIONS)).and_then(|n| n.parse().ok());
            let completions = scheduled.unwrap_or(j.total_completions.unwrap_or(1).max(0) as u64);
            Mode::Job { completions, parallelism: j.max_concurrent.unwrap_or(1).max(1) as u64 }
        }
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
pub(super) fn live_volumes(spec: &ServiceSpec, stack: &str) -> BTreeMap<String, VolumeSpec> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::VolumeUse;

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
}
