//! Apps: a Compose template deployed to a cluster as one swarm stack, with its version history.
//!
//! An app's desired state is its current version (template text + variable values) plus the
//! overrides made since (scale, resources, stopped). Its jobs (`converge.rs`) make the swarm match
//! it: images onto the nodes, networks, secrets and configs, services created or updated (swarm
//! rolls the update as the spec's update config says), then they wait for the tasks and remove what
//! the template no longer has. Everything on the engine is named and labelled like `docker stack
//! deploy` does (`plan.rs`), so the Docker CLI sees the app as a stack, and stacks made with the
//! CLI can be adopted (`drift.rs`).
//!
//! This file: what an app is and how it reads (the app page with its services, tasks and drift),
//! checking a template, and the changes made in place (scale, resources, stop).
//!
//! Every path that creates or changes a workload checks the workload policy
//! ([`compose::policy_violations`], `policy.rs`) for non-admins: create, update, scale, resources,
//! redeploy, rollback, start and template deploys.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::json;

use crate::apps::plan::{Plan, STOPPED_CONSTRAINT};
use crate::apps::versions::looks_secret;
use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::engine::{self, Engine, ServiceDeploy, STACK_NAMESPACE};
use crate::error::{Error, Result};
use crate::Berth;

// What the app's page and the console name, from the files of this folder that define them.
pub use crate::apps::drift::{by_hand, drift, Stack};
pub use crate::apps::plan::APP_LABEL;
pub use crate::apps::versions::{DiffLine, VersionInfo};
pub use crate::store::{App, AppVersion, Overrides};

/// An app to create.
#[derive(Clone, Debug, Default)]
pub struct AppInput {
    pub cluster_id: i64,
    pub name: String,
    pub compose: String,
    pub vars: BTreeMap<String, String>,
    pub template_id: Option<i64>,
}

/// What checking a template says before anything is deployed.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Errors and warnings, by line.
    pub diagnostics: Vec<compose::Diagnostic>,
    /// What the workload policy would refuse for this caller (empty for admins).
    pub violations: Vec<compose::Violation>,
    pub variables: Vec<compose::Variable>,
    pub services: Vec<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && !self.diagnostics.iter().any(|d| d.severity == compose::Severity::Error)
    }
}

/// An app as its page shows it: the stored app, its versions and the live services.
#[derive(Clone, Debug)]
pub struct AppDetail {
    pub app: App,
    pub cluster_name: String,
    pub compose: String,
    /// The current variable values; those whose name looks secret are `None` (kept, not shown).
    pub vars: BTreeMap<String, Option<String>>,
    pub versions: Vec<VersionInfo>,
    pub services: Vec<ServiceView>,
    /// Services of the stack that the current version does not have.
    pub extra_services: Vec<String>,
    /// Why the live state could not be read (the cluster's managers do not answer, …).
    pub live_error: Option<String>,
    /// What was changed by hand since the current version (scale, resources), one line each: a
    /// new version from the template undoes it.
    pub by_hand: Vec<String>,
    /// The app's release in progress, else its last one.
    pub release: Option<crate::apps::release::Release>,
}

#[derive(Clone, Debug)]
pub struct ServiceView {
    pub name: String,
    pub image: String,
    pub global: bool,
    /// Runs to completion (its runs are on the Jobs tab); `desired` is its completions.
    pub job: bool,
    pub desired: u64,
    pub running: u64,
    pub update_state: String,
    pub update_message: String,
    pub ports: Vec<String>,
    pub resources: compose::Resources,
    pub constraints: Vec<String>,
    pub spread: Vec<String>,
    pub tasks: Vec<TaskView>,
    /// What differs between the desired spec and the live service (empty: none).
    pub drift: Vec<String>,
    pub deployed: bool,
    /// Where the published TCP ports answer: `http://<node address>:<port>` for each node that runs
    /// one of the service's tasks (ports are published in host mode, on the nodes themselves).
    pub links: Vec<String>,
    /// Where the cluster's routers serve it (its routing labels), e.g. `http://shop.apps.example.com/`.
    pub urls: Vec<String>,
    /// In a release in progress: `old` or `new` for a pair's services, else empty.
    pub side: String,
}

#[derive(Clone, Debug)]
pub struct TaskView {
    pub id: String,
    pub slot: Option<i64>,
    pub node: String,
    pub state: String,
    pub desired_state: String,
    pub message: String,
    pub error: String,
    /// Earlier tasks of the same slot (or node, for global services) that ended: restarts.
    pub restarts: u32,
    pub updated_at: i64,
    /// The task's container (empty before it has one), for its logs and charts.
    pub container_id: String,
}

/// A template's errors as one `invalid` error on the `compose` field: the first error in the
/// words the console shows (line, field, message), with how many more there are.
pub(crate) fn invalid_compose(diagnostics: &[compose::Diagnostic]) -> Error {
    let errors: Vec<&compose::Diagnostic> =
        diagnostics.iter().filter(|d| d.severity == compose::Severity::Error).collect();
    let Some(first) = errors.first() else {
        return Error::invalid("compose", "the template is not valid");
    };
    let more = match errors.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Error::invalid("compose", format!("{first}{more}"))
}

pub(crate) fn parse(compose_text: &str, vars: &BTreeMap<String, String>) -> Result<compose::Parsed> {
    compose::parse(compose_text, vars).map_err(|d| invalid_compose(&d))
}

/// The history entry of an operation on an app: operators and up on its cluster may.
pub(crate) fn app_op(action: &'static str, app: &App, target: String, params: serde_json::Value) -> Op {
    Op { action, permission: Permission::AppOperate(app.cluster_id), target, params }
}

/// Resource limits and reservations as people type them: CPUs as `0.5`, memory as `128M`, `1G`,
/// `512k` or bytes; empty means none. Errors name the field.
pub fn parse_resources(
    limit_cpus: &str,
    limit_memory: &str,
    reserve_cpus: &str,
    reserve_memory: &str,
) -> Result<compose::Resources> {
    fn cpus(field: &str, raw: &str) -> Result<Option<i64>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        match raw.parse::<f64>() {
            Ok(c) if c.is_finite() && c > 0.0 && c <= 1024.0 => Ok(Some((c * 1e9).round() as i64)),
            _ => Err(Error::invalid(field, format!("{raw:?} is not a number of CPUs like 0.5 or 2"))),
        }
    }
    fn memory(field: &str, raw: &str) -> Result<Option<i64>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let lower = raw.to_ascii_lowercase();
        let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &lower[digits.len()..];
        let scale: i64 = match unit {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            _ => return Err(Error::invalid(field, format!("{raw:?}: use a size like 128M or 1G"))),
        };
        match digits.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 && n * (scale as f64) < 1e15 => Ok(Some((n * scale as f64) as i64)),
            _ => Err(Error::invalid(field, format!("{raw:?}: use a size like 128M or 1G"))),
        }
    }
    let r = compose::Resources {
        limit_nano_cpus: cpus("limit_cpus", limit_cpus)?,
        limit_memory_bytes: memory("limit_memory", limit_memory)?,
        reserve_nano_cpus: cpus("reserve_cpus", reserve_cpus)?,
        reserve_memory_bytes: memory("reserve_memory", reserve_memory)?,
    };
    validate_resources(&r)?;
    Ok(r)
}

fn validate_resources(r: &compose::Resources) -> Result<()> {
    let fields = [
        ("limit_nano_cpus", r.limit_nano_cpus),
        ("limit_memory_bytes", r.limit_memory_bytes),
        ("reserve_nano_cpus", r.reserve_nano_cpus),
        ("reserve_memory_bytes", r.reserve_memory_bytes),
    ];
    for (field, value) in fields {
        if value.is_some_and(|v| v < 0) {
            return Err(Error::invalid(field, "may not be negative"));
        }
    }
    if r.limit_memory_bytes.is_some_and(|m| m > 0 && m < 6 * 1024 * 1024) {
        return Err(Error::invalid("limit_memory_bytes", "must be at least 6 MiB (Docker's minimum)"));
    }
    if let (Some(limit), Some(reserve)) = (r.limit_memory_bytes, r.reserve_memory_bytes) {
        if reserve > limit {
            return Err(Error::invalid("reserve_memory_bytes", "may not exceed the memory limit"));
        }
    }
    if let (Some(limit), Some(reserve)) = (r.limit_nano_cpus, r.reserve_nano_cpus) {
        if reserve > limit {
            return Err(Error::invalid("reserve_nano_cpus", "may not exceed the CPU limit"));
        }
    }
    Ok(())
}

/// Task views with restart counts: each slot's (or node's, for global services) earlier tasks that
/// ended count as restarts; the newest task of each is shown.
fn task_views(tasks: Vec<engine::ServiceTask>, node_names: &HashMap<String, String>) -> Vec<TaskView> {
    let mut by_slot: BTreeMap<String, Vec<engine::ServiceTask>> = BTreeMap::new();
    for t in tasks {
        let key = match t.slot {
            Some(slot) if slot > 0 => format!("{slot:06}"),
            _ => t.node_id.clone(),
        };
        by_slot.entry(key).or_default().push(t);
    }
    let mut views = Vec::new();
    for (_, mut tasks) in by_slot {
        // The slot's current task is the one swarm wants running; a task it stopped (scaled away,
        // replaced) may report its shutdown after its successor started, so the newest change alone
        // is not the current task.
        tasks.sort_by_key(|t| (t.desired_state == "running", t.updated_at));
        let Some(t) = tasks.pop() else { continue };
        // Earlier tasks that ended on their own (failed, rejected, or exited while meant to run);
        // those swarm shut down for an update, a drain or a scale are planned, not restarts.
        let restarts =
            tasks.iter().filter(|t| matches!(t.state.as_str(), "failed" | "rejected" | "complete")).count() as u32;
        if t.desired_state == "shutdown" && t.state != "running" && tasks.is_empty() && t.error.is_empty() {
            // A slot scaled away: nothing to show.
            continue;
        }
        views.push(TaskView {
            container_id: t.container_id.clone(),
            node: node_names.get(&t.node_id).cloned().unwrap_or_else(|| short(&t.node_id).to_string()),
            id: t.id,
            slot: t.slot,
            state: t.state,
            desired_state: t.desired_state,
            message: t.message,
            error: t.error,
            restarts,
            updated_at: t.updated_at,
        });
    }
    views
}

/// A live change to a service the swarm does not have (its deploy was interrupted, or it was removed
/// behind Berth's back) is a conflict the person can resolve, not an engine failure.
fn not_deployed(e: engine::EngineError, app: &str, service: &str) -> Error {
    if e.status() == Some(404) {
        Error::Conflict(format!("{service} of {app} is not on the swarm: redeploy the app first"))
    } else {
        e.into()
    }
}

pub(crate) fn short(s: &str) -> &str {
    match s.char_indices().nth(120) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl Berth {
    pub(crate) async fn app_row(&self, id: i64) -> Result<App> {
        self.store.app(id).await?.ok_or_else(|| Error::NotFound(format!("app {id}")))
    }

    /// App `id` for a caller who names it. One on a cluster the caller may not see answers exactly
    /// as one that does not exist, so ids tell nothing about other teams' apps. Mutation attempts
    /// on it (and refused reads by signed-in users) are recorded, without the cluster, since the
    /// caller reads their own rows.
    pub(crate) async fn visible_app(
        &self,
        actor: &Actor,
        id: i64,
        action: &'static str,
        mutation: bool,
    ) -> Result<App> {
        let found = if actor.user().is_some() { self.store.app(id).await? } else { None };
        let refused = match found {
            Some(app) => match authorize(actor, Permission::ClusterRead(app.cluster_id)) {
                Ok(_) => return Ok(app),
                Err(Error::Forbidden(_)) => Error::NotFound(format!("app {id}")),
                Err(e) => e,
            },
            None if actor.user().is_none() => Error::Unauthenticated,
            None => Error::NotFound(format!("app {id}")),
        };
        let target = format!("app {id}");
        if mutation {
            let failed: Result<()> = Err(refused);
            let attempt = crate::audit::operation::Attempt::start();
            let who = crate::audit::operation::Who::of(actor);
            self.finish(attempt, actor, who, action, target, json!({ "app": id }), &failed).await;
            return Err(failed.err().unwrap_or_else(|| Error::NotFound(format!("app {id}"))));
        }
        if actor.user().is_some() {
            // A page polling an app that is gone must not flood the history: bounded per source.
            self.record_refusal(actor, action, &target, json!({ "app": id }), Error::NotFound(target.clone())).await;
        }
        Err(refused)
    }

    /// Parses a template off the async runtime (see [`Berth::cpu`]).
    pub(crate) async fn parse_compose(
        &self,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<compose::Parsed> {
        let (text, values) = (compose_text.to_string(), vars.clone());
        self.cpu(move || parse(&text, &values)).await?
    }

    /// The canonical spec of an app's current version.
    pub(crate) async fn app_spec(&self, app: &App) -> Result<compose::AppSpec> {
        let current = self.current_version(app).await?;
        Ok(self.parse_compose(&current.compose, &self.open_vars(&current)?).await?.spec)
    }

    /// Checks a template with variable values for a cluster: errors and warnings by line, what the
    /// workload policy would refuse for this caller, the variables it uses.
    pub async fn check_app(
        &self,
        actor: &Actor,
        cluster_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Check> {
        authorize(actor, Permission::ClusterRead(cluster_id))?;
        let (text, values) = (compose_text.to_string(), vars.clone());
        let (variables, parsed) = self.cpu(move || (compose::variables(&text), compose::parse(&text, &values))).await?;
        Ok(match parsed {
            Ok(parsed) => {
                let privileged = authorize(actor, Permission::PrivilegedWorkload(cluster_id)).is_ok();
                let violations = if privileged {
                    Vec::new()
                } else {
                    compose::policy_violations(&parsed.spec, &self.allowances(cluster_id).await?)
                };
                Check {
                    diagnostics: parsed.warnings,
                    violations,
                    variables,
                    services: parsed.spec.services.keys().cloned().collect(),
                }
            }
            Err(diagnostics) => Check { diagnostics, variables, ..Default::default() },
        })
    }

    /// Apps the caller may see, of one cluster or of all.
    pub async fn apps(&self, actor: &Actor, cluster_id: Option<i64>) -> Result<Vec<App>> {
        match cluster_id {
            Some(c) => {
                self.authorize_read(actor, Permission::ClusterRead(c), "app.list", c.to_string()).await?;
            }
            None => {
                authorize(actor, Permission::ClusterList)?;
            }
        }
        Ok(self
            .store
            .apps(cluster_id)
            .await?
            .into_iter()
            .filter(|a| authorize(actor, Permission::ClusterRead(a.cluster_id)).is_ok())
            .collect())
    }

    /// An app with its versions, services, tasks and drift.
    pub async fn app_detail(&self, actor: &Actor, app_id: i64) -> Result<AppDetail> {
        let app = self.visible_app(actor, app_id, "app.read", false).await?;
        let cluster = self.store.cluster(app.cluster_id).await?.map(|c| c.name).unwrap_or_default();
        let current = self.current_version(&app).await?;
        let vars = self.open_vars(&current)?;
        let versions = self
            .store
            .app_versions(app.id)
            .await?
            .into_iter()
            .map(|v| VersionInfo {
                version: v.version,
                action: v.action,
                note: v.note,
                created_by: v.created_by,
                created_at: v.created_at,
            })
            .collect();
        let mut detail = AppDetail {
            cluster_name: cluster,
            compose: current.compose.clone(),
            vars: vars.iter().map(|(k, v)| (k.clone(), (!looks_secret(k)).then(|| v.clone()))).collect(),
            versions,
            services: Vec::new(),
            extra_services: Vec::new(),
            live_error: None,
            by_hand: Vec::new(),
            release: self.release_of(app.id).await?,
            app,
        };
        if let Err(e) = self.fill_live(&mut detail, &current.compose, &vars).await {
            detail.live_error = Some(crate::runtime::job::job_error(&e));
        }
        Ok(detail)
    }

    async fn fill_live(
        &self,
        detail: &mut AppDetail,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<()> {
        let app = &detail.app;
        let parsed = self.parse_compose(compose_text, vars).await?;
        detail.by_hand = by_hand(&parsed.spec, &app.overrides());
        let installation = self.installation().await?;
        let mut plan = Plan::new(&installation, app, app.version, parsed.spec, &app.overrides());
        // In a release, the old side's services are the app's too: from the version they run.
        let mut sides: HashMap<String, &'static str> = HashMap::new();
        if let Some(r) = detail.release.as_ref().filter(|r| r.open()) {
            for (old, new) in &r.pairs {
                sides.insert(old.clone(), "old");
                sides.insert(new.clone(), "new");
            }
            if let Some(v) = self.store.app_version(app.id, r.from_version).await? {
                let mut old = self.parse_compose(&v.compose, &self.open_vars(&v)?).await?.spec;
                old.services.retain(|name, _| sides.get(name) == Some(&"old"));
                let have: BTreeSet<String> = plan.deploys.iter().map(|d| d.alias.clone()).collect();
                let old_plan = Plan::new(&installation, app, r.from_version, old, &Default::default());
                plan.deploys.extend(old_plan.deploys.into_iter().filter(|d| !have.contains(&d.alias)));
            }
        }
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;
        let live = plan.live(&manager).await?;
        let nodes = self.store.nodes(app.cluster_id).await?;
        let node_names: HashMap<String, String> =
            nodes.iter().map(|n| (n.swarm_node_id.clone(), n.name.clone())).collect();
        let node_addresses: HashMap<&str, &str> =
            nodes.iter().filter(|n| !n.address.is_empty()).map(|n| (n.name.as_str(), n.address.as_str())).collect();
        let root_domain = self.store.routing(app.cluster_id).await?.map(|r| r.root_domain).unwrap_or_default();
        let mut names: Vec<&ServiceDeploy> = plan.deploys.iter().collect();
        names.sort_by(|a, b| a.alias.cmp(&b.alias));
        for d in names {
            let s = &d.spec;
            let mut view = ServiceView {
                name: d.alias.clone(),
                image: s.image.clone(),
                global: s.mode == compose::Mode::Global,
                job: s.mode.is_job(),
                desired: match s.mode {
                    compose::Mode::Replicated(n) => n,
                    compose::Mode::Global => 0,
                    compose::Mode::Job { completions, .. } => completions,
                },
                running: 0,
                update_state: String::new(),
                update_message: String::new(),
                ports: s
                    .ports
                    .iter()
                    .map(|p| match p.published {
                        Some(published) => format!("{published}→{}/{}", p.target, p.protocol),
                        None => format!("{}/{}", p.target, p.protocol),
                    })
                    .collect(),
                resources: s.resources.clone(),
                constraints: s.placement.constraints.clone(),
                spread: s.placement.spread.clone(),
                tasks: Vec::new(),
                drift: Vec::new(),
                deployed: false,
                links: Vec::new(),
                urls: super::plan::route_urls(&s.ext, &root_domain),
                side: sides.get(&d.alias).map(|s| s.to_string()).unwrap_or_default(),
            };
            if let Some(l) = live.get(&d.name) {
                view.deployed = true;
                view.running = l.running;
                if view.global {
                    view.desired = l.desired;
                }
                view.update_state = l.update_state.clone();
                view.update_message = l.update_message.clone();
                if view.side != "old" {
                    // The old side keeps running as it was: what it runs is not drift.
                    view.drift = drift(&engine::normalise(d), &l.spec);
                }
                view.tasks = task_views(manager.service_tasks(&l.id).await?, &node_names);
                let running: BTreeSet<&str> =
                    view.tasks.iter().filter(|t| t.state == "running").map(|t| t.node.as_str()).collect();
                view.links = s
                    .ports
                    .iter()
                    .filter(|p| p.protocol == "tcp")
                    .filter_map(|p| p.published)
                    .flat_map(|port| {
                        running.iter().filter_map(|n| node_addresses.get(n)).map(move |a| format!("http://{a}:{port}"))
                    })
                    .collect();
            } else if app.status != "deploying" {
                view.drift = vec!["not deployed: the service is missing from the swarm".into()];
            }
            detail.services.push(view);
        }
        let wanted: BTreeSet<&str> = plan.deploys.iter().map(|d| d.name.as_str()).collect();
        detail.extra_services = live.keys().filter(|n| !wanted.contains(n.as_str())).cloned().collect();
        Ok(())
    }

    /// The current spec of an app and a reachable manager, for changes made in place.
    async fn live_change(&self, actor: &Actor, app: &App, service: &str) -> Result<(compose::AppSpec, Arc<Engine>)> {
        let current = self.current_version(app).await?;
        let parsed = self.parse_compose(&current.compose, &self.open_vars(&current)?).await?;
        if !parsed.spec.services.contains_key(service) {
            return Err(Error::invalid("service", format!("app {} has no service {service}", app.name)));
        }
        self.check_policy(actor, app.cluster_id, &app.name, &parsed.spec).await?;
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;
        Ok((parsed.spec, manager))
    }

    /// Sets the replicas of one service (kept until the next version).
    pub async fn scale_service(&self, actor: &Actor, app_id: i64, service: &str, replicas: u64) -> Result<()> {
        let app = self.visible_app(actor, app_id, "app.scale", true).await?;
        let op = app_op(
            "app.scale",
            &app,
            format!("{}/{service}", app.name),
            json!({ "app": app_id, "service": service, "replicas": replicas }),
        );
        self.mutate(actor, op, |_| async move { self.scale_now(actor, &app, service, replicas).await }).await
    }

    /// Sets the replicas of one service of `app` on the swarm now and keeps them in its overrides
    /// (the work of [`Berth::scale_service`] and of a scale trigger's job; authorized by the caller).
    pub(crate) async fn scale_now(&self, actor: &Actor, app: &App, service: &str, replicas: u64) -> Result<()> {
        if replicas > 1000 {
            return Err(Error::invalid("replicas", "at most 1000"));
        }
        let (spec, manager) = self.live_change(actor, app, service).await?;
        match spec.services[service].mode {
            compose::Mode::Global => {
                return Err(Error::invalid("replicas", format!("{service} is global: it runs one task per node")))
            }
            compose::Mode::Job { .. } => {
                return Err(Error::invalid(
                    "replicas",
                    format!("{service} is a job: set its completions (deploy.replicas) in the template"),
                ))
            }
            compose::Mode::Replicated(_) => {}
        }
        let mut o = app.overrides();
        o.replicas.insert(service.to_string(), replicas);
        if !o.stopped {
            manager
                .service_scale(&format!("{}_{service}", app.name), replicas)
                .await
                .map_err(|e| not_deployed(e, &app.name, service))?;
        }
        // A person (or a trigger) scaling a service pauses its autoscaling policy until resumed.
        if !actor.is_system() {
            let by = actor.user().map(|u| u.username.clone()).unwrap_or_default();
            self.store.scaling_policy_pause(app.id, service, Some((&by, now_ms()))).await?;
        }
        self.store.app_set_overrides(app.id, &o, now_ms()).await
    }

    /// Changes a live service's resource limits and reservations (kept until the next version).
    pub async fn set_service_resources(
        &self,
        actor: &Actor,
        app_id: i64,
        service: &str,
        resources: &compose::Resources,
    ) -> Result<()> {
        let app = self.visible_app(actor, app_id, "app.resources", true).await?;
        let params = json!({ "app": app_id, "service": service, "resources": resources });
        let op = app_op("app.resources", &app, format!("{}/{service}", app.name), params);
        self.mutate(actor, op, |_| async move {
            validate_resources(resources)?;
            let (_, manager) = self.live_change(actor, &app, service).await?;
            manager
                .service_set_resources(&format!("{}_{service}", app.name), resources)
                .await
                .map_err(|e| not_deployed(e, &app.name, service))?;
            let mut o = app.overrides();
            o.resources.insert(service.to_string(), resources.clone());
            self.store.app_set_overrides(app.id, &o, now_ms()).await
        })
        .await
    }

    /// Stops an app: replicated services go to 0 tasks, global ones are kept off every node. Nothing is
    /// removed; [`Berth::start_app`] brings it back.
    pub async fn stop_app(&self, actor: &Actor, app_id: i64) -> Result<()> {
        let app = self.visible_app(actor, app_id, "app.stop", true).await?;
        let op = app_op("app.stop", &app, app.name.clone(), json!({ "app": app_id }));
        self.mutate(actor, op, |_| async move {
            let _claim = self.claim_app(app.id).await?;
            self.no_open_release(&app).await?;
            let (_, manager) = self.reachable_manager(app.cluster_id).await?;
            let filter = vec![format!("{STACK_NAMESPACE}={}", app.name), format!("{APP_LABEL}={}", app.id)];
            for s in manager.services_labelled(&filter).await? {
                // A global service or a job cannot go to zero replicas: a constraint no node
                // meets keeps its tasks from being placed (a job's current run stops with it).
                if !matches!(s.spec.mode, compose::Mode::Replicated(_)) {
                    manager
                        .service_patch(&s.name, |spec| {
                            let task = spec.task_template.get_or_insert_with(Default::default);
                            let placement = task.placement.get_or_insert_with(Default::default);
                            let constraints = placement.constraints.get_or_insert_with(Vec::new);
                            if !constraints.iter().any(|c| c == STOPPED_CONSTRAINT) {
                                constraints.push(STOPPED_CONSTRAINT.into());
                            }
                            Ok(())
                        })
                        .await?;
                } else {
                    manager.service_scale(&s.name, 0).await?;
                }
            }
            let mut o = app.overrides();
            o.stopped = true;
            self.store.app_set_overrides(app.id, &o, now_ms()).await?;
            self.store.app_set_status(app.id, "stopped", "", now_ms()).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tasks_that_ended_by_themselves_are_restarts() {
        let task = |id: &str, state: &str, desired: &str, at: i64| engine::ServiceTask {
            service_id: String::new(),
            id: id.into(),
            node_id: "n".into(),
            slot: Some(1),
            state: state.into(),
            desired_state: desired.into(),
            message: String::new(),
            error: String::new(),
            container_id: String::new(),
            updated_at: at,
            created_at: at,
            job_iteration: None,
            exit_code: None,
        };
        let names = HashMap::new();
        // Two rolling updates: each earlier task was shut down as asked.
        let updated = vec![
            task("a", "shutdown", "shutdown", 1),
            task("b", "shutdown", "shutdown", 2),
            task("c", "running", "running", 3),
        ];
        let views = task_views(updated, &names);
        assert_eq!((views.len(), views[0].id.as_str(), views[0].restarts), (1, "c", 0));
        // A crash and an exit while meant to run: two restarts.
        let crashed = vec![
            task("a", "failed", "shutdown", 1),
            task("b", "complete", "shutdown", 2),
            task("c", "running", "running", 3),
        ];
        assert_eq!(task_views(crashed, &names)[0].restarts, 2);
        // A slot scaled away shows nothing.
        assert!(task_views(vec![task("a", "shutdown", "shutdown", 1)], &names).is_empty());
        // Stopped and started again: the old task's shutdown, reported after the new task started,
        // does not hide the running one.
        let restarted = vec![task("a", "shutdown", "remove", 5), task("b", "running", "running", 3)];
        assert_eq!(task_views(restarted, &names)[0].id, "b");
    }

    #[test]
    fn resources_as_typed() {
        let r = parse_resources("0.5", "128M", "", "64m").unwrap();
        assert_eq!(r.limit_nano_cpus, Some(500_000_000));
        assert_eq!(r.limit_memory_bytes, Some(128 << 20));
        assert_eq!(r.reserve_nano_cpus, None);
        assert_eq!(r.reserve_memory_bytes, Some(64 << 20));
        for (args, field) in [
            (("x", "", "", ""), "limit_cpus"),
            (("", "12Q", "", ""), "limit_memory"),
            (("", "", "-1", ""), "reserve_cpus"),
            (("", "64M", "", "1G"), "reserve_memory_bytes"),
        ] {
            let got = parse_resources(args.0, args.1, args.2, args.3);
            assert!(matches!(got, Err(Error::Invalid { field: ref f, .. }) if f == field), "{args:?}: {got:?}");
        }
    }

    #[test]
    fn resources_are_checked() {
        let ok = compose::Resources { limit_memory_bytes: Some(64 << 20), ..Default::default() };
        assert!(validate_resources(&ok).is_ok());
        let tiny = compose::Resources { limit_memory_bytes: Some(1024), ..Default::default() };
        assert!(
            matches!(validate_resources(&tiny), Err(Error::Invalid { field, .. }) if field == "limit_memory_bytes")
        );
        let over = compose::Resources { limit_nano_cpus: Some(1), reserve_nano_cpus: Some(2), ..Default::default() };
        assert!(matches!(validate_resources(&over), Err(Error::Invalid { field, .. }) if field == "reserve_nano_cpus"));
    }
}
