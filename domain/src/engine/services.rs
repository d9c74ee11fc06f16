//! Swarm services and their tasks: what an app's services become on a cluster, read back as they
//! run. The types here name a service to deploy (with its networks, secrets, configs and volumes
//! on this swarm) and a live one.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    Limit, ResourceObject, ServiceSpec, ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob, TaskSpecResources,
};
use bollard::query_parameters::{InspectServiceOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions};

use super::spec::{canonical, live_volumes, service_spec};
use super::{Engine, EngineError};
use compose::{Resources, VolumeSpec};

/// The label `docker stack` puts on everything of a stack.
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// The label `docker stack` puts on a service with the image it was deployed with.
pub(super) const STACK_IMAGE: &str = "com.docker.stack.image";

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
    /// A job's current run (swarm's job iteration: a version number, new for each run); `None` for
    /// other services.
    pub job_iteration: Option<u64>,
}

/// One task of a service, with where it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceTask {
    pub id: String,
    pub service_id: String,
    pub node_id: String,
    pub slot: Option<i64>,
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
    pub container_id: String,
    /// Milliseconds since the epoch of the last status change.
    pub updated_at: i64,
    /// Milliseconds since the epoch when swarm made the task.
    pub created_at: i64,
    /// The job iteration (run) a job's task belongs to; `None` for other services.
    pub job_iteration: Option<u64>,
    /// How its container exited, once it has.
    pub exit_code: Option<i64>,
}

/// A task of a service with its address on one network (what a router sends requests to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskAddress {
    pub task_id: String,
    pub service_id: String,
    pub node_id: String,
    /// `running`, `starting`, … (a task with a healthcheck is `running` only once healthy).
    pub state: String,
    pub ip: std::net::IpAddr,
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

pub(super) fn label_filter(labels: &[String]) -> Option<HashMap<String, Vec<String>>> {
    (!labels.is_empty()).then(|| HashMap::from([("label".to_string(), labels.to_vec())]))
}

pub(super) fn ignore_missing(r: Result<(), EngineError>) -> Result<(), EngineError> {
    match r {
        Err(e) if e.status() == Some(404) => Ok(()),
        other => other,
    }
}

pub(super) fn live_service(s: bollard::models::Service, network_names: &HashMap<String, String>) -> LiveService {
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
        job_iteration: spec_in
            .mode
            .as_ref()
            .and_then(|m| m.replicated_job.as_ref())
            .map(|_| s.job_status.as_ref().and_then(|j| j.job_iteration.as_ref()).and_then(|v| v.index).unwrap_or(0)),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time the engine gave (0 when unreadable).
pub(super) fn rfc3339_ms(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

impl Engine {
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

    /// Starts a new run of a job service: `completions` tasks that exit 0, `parallelism` at once
    /// (a run still going is stopped, its tasks removed, as swarm does for a job's new iteration).
    /// Returns the new run's iteration.
    pub async fn service_run_job(&self, name: &str, completions: u64, parallelism: u64) -> Result<u64, EngineError> {
        self.service_patch(name, |spec| {
            let mode = spec.mode.get_or_insert_with(Default::default);
            if mode.replicated_job.is_none() {
                return Err(EngineError::Api { what: "job run", status: 400, message: format!("{name} is not a job") });
            }
            mode.replicated_job = Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(parallelism.max(1) as i64),
                total_completions: Some(completions as i64),
            });
            let task = spec.task_template.get_or_insert_with(Default::default);
            task.force_update = Some(task.force_update.unwrap_or(0) + 1);
            Ok(())
        })
        .await?;
        let live = self.service(name).await?;
        Ok(live.and_then(|s| s.job_iteration).unwrap_or(0))
    }

    /// Stops a job service's run: a new iteration of no tasks (swarm shuts the run's tasks down),
    /// the template's completions kept in the label [`super::JOB_COMPLETIONS`] so that the service
    /// still reads as its template says (no drift) until the next run asks for them again.
    pub async fn service_stop_job(&self, name: &str, completions: u64) -> Result<u64, EngineError> {
        self.service_patch(name, |spec| {
            let mode = spec.mode.get_or_insert_with(Default::default);
            let Some(job) = mode.replicated_job.as_mut() else {
                return Err(EngineError::Api {
                    what: "job stop",
                    status: 400,
                    message: format!("{name} is not a job"),
                });
            };
            job.total_completions = Some(0);
            spec.labels
                .get_or_insert_with(Default::default)
                .insert(super::JOB_COMPLETIONS.to_string(), completions.to_string());
            let task = spec.task_template.get_or_insert_with(Default::default);
            task.force_update = Some(task.force_update.unwrap_or(0) + 1);
            Ok(())
        })
        .await?;
        let live = self.service(name).await?;
        Ok(live.and_then(|s| s.job_iteration).unwrap_or(0))
    }

    /// Runs a job service once more beside the run still going (overlap allowed): a copy of its
    /// spec named `run_name`, with `drop` labels left out and `add` labels set, running
    /// `completions` tasks. Returns the copy's id; it is removed when its run has ended.
    pub async fn service_run_copy(
        &self,
        name: &str,
        run_name: &str,
        completions: u64,
        parallelism: u64,
        drop: &[&str],
        add: &[(&str, String)],
    ) -> Result<String, EngineError> {
        let docker = self.client()?;
        let current =
            self.read("service inspect", || docker.inspect_service(name, None::<InspectServiceOptions>)).await?;
        let mut spec = current.spec.unwrap_or_default();
        spec.name = Some(run_name.to_string());
        let labels = spec.labels.get_or_insert_with(Default::default);
        labels.retain(|k, _| !drop.contains(&k.as_str()));
        labels.extend(add.iter().map(|(k, v)| (k.to_string(), v.clone())));
        spec.mode = Some(bollard::models::ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(parallelism.max(1) as i64),
                total_completions: Some(completions as i64),
            }),
            ..Default::default()
        });
        let created = self.call("service create", docker.create_service(spec, None)).await?;
        Ok(created.id.unwrap_or_default())
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
        self.tasks_where("service", service).await
    }

    /// Every task of the swarm that should be running (one list for all services: the autoscaler
    /// reads a cluster's tasks once per evaluation).
    pub async fn running_tasks(&self) -> Result<Vec<ServiceTask>, EngineError> {
        self.tasks_where("desired-state", "running").await
    }

    async fn tasks_where(&self, filter: &str, value: &str) -> Result<Vec<ServiceTask>, EngineError> {
        let docker = self.client()?;
        let filters = Some(HashMap::from([(filter.to_string(), vec![value.to_string()])]));
        let tasks =
            self.read("task list", || docker.list_tasks(Some(ListTasksOptions { filters: filters.clone() }))).await?;
        let mut out: Vec<ServiceTask> = tasks
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                let container = status.container_status.unwrap_or_default();
                ServiceTask {
                    id: t.id.unwrap_or_default(),
                    service_id: t.service_id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    slot: t.slot,
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    desired_state: t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
                    message: status.message.unwrap_or_default(),
                    error: status.err.unwrap_or_default(),
                    container_id: container.container_id.unwrap_or_default(),
                    updated_at: t.updated_at.as_deref().map(rfc3339_ms).unwrap_or(0),
                    created_at: t.created_at.as_deref().map(rfc3339_ms).unwrap_or(0),
                    // The engine leaves out a job's first iteration's index (0).
                    job_iteration: t.job_iteration.map(|v| v.index.unwrap_or(0)),
                    // The engine says 0 for a container that has not exited yet.
                    exit_code: container.exit_code.filter(|_| {
                        status
                            .state
                            .map(|s| s.to_string())
                            .is_some_and(|s| matches!(s.as_str(), "complete" | "failed" | "shutdown" | "rejected"))
                    }),
                }
            })
            .collect();
        out.sort_by_key(|t| t.updated_at);
        Ok(out)
    }

    /// The swarm tasks running on this engine's node that are attached to `network` (by name), with
    /// their address on it. A task whose container has a healthcheck counts as running only once
    /// healthy. (Read from the node's containers: the task list of the Engine API as bollard types it
    /// has no network attachments.)
    pub async fn task_addresses(&self, network: &str) -> Result<Vec<TaskAddress>, EngineError> {
        use bollard::query_parameters::ListContainersOptions;
        let docker = self.client()?;
        let filters = Some(HashMap::from([
            ("network".to_string(), vec![network.to_string()]),
            ("label".to_string(), vec!["com.docker.swarm.task.id".to_string()]),
        ]));
        let list = self
            .read("container list", || {
                docker.list_containers(Some(ListContainersOptions { filters: filters.clone(), ..Default::default() }))
            })
            .await?;
        let mut out = Vec::new();
        for c in list {
            let labels = c.labels.unwrap_or_default();
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let status = c.status.unwrap_or_default();
            let running = c.state.map(|s| s.to_string()).as_deref() == Some("running");
            let state = if !running {
                "stopped"
            } else if status.contains("(health: starting)") {
                "starting"
            } else if status.contains("(unhealthy)") {
                "unhealthy"
            } else {
                "running"
            };
            let ip = c
                .network_settings
                .and_then(|n| n.networks)
                .and_then(|mut n| n.remove(network))
                .and_then(|e| e.ip_address)
                .and_then(|ip| ip.parse().ok());
            if let Some(ip) = ip {
                out.push(TaskAddress {
                    task_id: label("com.docker.swarm.task.id"),
                    service_id: label("com.docker.swarm.service.id"),
                    node_id: label("com.docker.swarm.node.id"),
                    state: state.into(),
                    ip,
                });
            }
        }
        out.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        Ok(out)
    }
}
