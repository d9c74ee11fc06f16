//! Apps: a Compose template deployed to a cluster as one swarm stack, with its version history.
//!
//! An app's desired state is its current version (template text + variable values) plus the
//! overrides made since (scale, resources, stopped). [`Berth::converge`] makes the swarm match it:
//! images onto the nodes, networks, secrets and configs, services created or updated (swarm rolls the
//! update as the spec's update config says), then it waits for the tasks and removes what the
//! template no longer has. Everything on the engine is named and labelled like `docker stack deploy`
//! does (`com.docker.stack.namespace`, `<stack>_<name>`) plus Berth's ownership labels, so the Docker
//! CLI sees the app as a stack, and stacks made with the CLI can be adopted.
//!
//! Every path that creates or changes a workload checks the workload policy
//! ([`compose::policy_violations`]) for non-admins: create, update, scale, resources, redeploy,
//! rollback, start and template deploys.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission, UserRef};
use crate::clock::now_ms;
use crate::engine::{self, Engine, LiveService, ServiceDeploy, VolumeUse, STACK_NAMESPACE};
use crate::error::{Error, Result};
use crate::runtime::job::{Interrupted, JobCtx, JobSpec, Prepared, Recovery};
use crate::store::NewVersion;
use crate::Berth;

pub use crate::store::{App, AppVersion, Overrides};

/// The label that ties a service to its app.
pub const APP_LABEL: &str = "berth.app";
const VERSION_LABEL: &str = "berth.app.version";
/// The placement constraint that keeps a stopped global service from running anywhere.
const STOPPED_CONSTRAINT: &str = "node.labels.berth.stopped==true";

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
}

#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub version: i64,
    pub action: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct ServiceView {
    pub name: String,
    pub image: String,
    pub global: bool,
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

/// A stack on a cluster that no Berth app owns (made with `docker stack deploy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub services: Vec<String>,
}

/// One line of a diff between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    /// `' '`, `'+'` or `'-'`.
    pub tag: char,
    pub text: String,
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

/// Variable names whose values are never shown or recorded.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "token", "key", "passphrase", "credential"].iter().any(|s| n.contains(s))
}

fn parse(compose_text: &str, vars: &BTreeMap<String, String>) -> Result<compose::Parsed> {
    compose::parse(compose_text, vars).map_err(|d| invalid_compose(&d))
}

fn short_hash(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data)[..4])
}

/// Services in an order that starts dependencies first (the parser has refused cycles).
fn start_order(spec: &compose::AppSpec) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit(name: &str, spec: &compose::AppSpec, seen: &mut BTreeSet<String>, done: &mut Vec<String>) {
        if !seen.insert(name.to_string()) {
            return;
        }
        if let Some(s) = spec.services.get(name) {
            for d in &s.ext.depends {
                visit(d, spec, seen, done);
            }
            done.push(name.to_string());
        }
    }
    for name in spec.services.keys() {
        visit(name, spec, &mut seen, &mut done);
    }
    done
}

/// Where an app's swarm objects are named and labelled.
struct Plan {
    stack: String,
    deploys: Vec<ServiceDeploy>,
    /// Networks to create: full name → (internal).
    networks: BTreeMap<String, bool>,
    /// Secrets and configs to create: (config?, full name, content).
    files: Vec<(bool, String, Vec<u8>)>,
    labels: BTreeMap<String, String>,
}

impl Plan {
    fn new(installation: &str, app: &App, version: i64, spec: compose::AppSpec, overrides: &Overrides) -> Plan {
        let stack = app.name.clone();
        let mut labels = crate::clusters::cluster::ownership(installation, app.cluster_id);
        labels.insert(STACK_NAMESPACE.into(), stack.clone());
        labels.insert(APP_LABEL.into(), app.id.to_string());
        let network_name = |n: &str| match spec.networks.get(n).and_then(|n| n.external.clone()) {
            Some(external) => external,
            None => format!("{stack}_{n}"),
        };
        let mut networks = BTreeMap::new();
        let mut files = Vec::new();
        let mut file_name = |config: bool, source: &str| -> String {
            let (external, content) = if config {
                let c = spec.configs.get(source).cloned().unwrap_or_default();
                (c.external, c.content)
            } else {
                let s = spec.secrets.get(source).cloned().unwrap_or_default();
                (s.external, s.content)
            };
            if let Some(external) = external {
                return external;
            }
            let content = content.unwrap_or_default().into_bytes();
            let name = format!("{stack}_{source}-{}", short_hash(&content));
            if !files.iter().any(|(c, n, _)| *c == config && *n == name) {
                files.push((config, name.clone(), content));
            }
            name
        };
        let mut deploys = Vec::new();
        for name in start_order(&spec) {
            let mut s = spec.services[&name].clone();
            if let Some(r) = overrides.replicas.get(&name) {
                if let compose::Mode::Replicated(_) = s.mode {
                    s.mode = compose::Mode::Replicated(*r);
                }
            }
            if let Some(r) = overrides.resources.get(&name) {
                s.resources = r.clone();
            }
            if overrides.stopped {
                match s.mode {
                    compose::Mode::Replicated(_) => s.mode = compose::Mode::Replicated(0),
                    compose::Mode::Global => s.placement.constraints.push(STOPPED_CONSTRAINT.into()),
                }
            }
            let attach: Vec<String> =
                if s.networks.is_empty() { vec!["default".to_string()] } else { s.networks.clone() };
            let mut full_networks = Vec::new();
            for n in &attach {
                let full = network_name(n);
                let external = spec.networks.get(n).is_some_and(|n| n.external.is_some());
                if !external && s.network_mode.is_none() {
                    networks.insert(full.clone(), spec.networks.get(n).is_some_and(|n| n.internal));
                }
                full_networks.push(full);
            }
            let volumes = s
                .mounts
                .iter()
                .filter(|m| m.kind == compose::MountKind::Volume && !m.source.is_empty())
                .map(|m| {
                    let v = spec.volumes.get(&m.source).cloned().unwrap_or_default();
                    let name = v.external.clone().unwrap_or_else(|| format!("{stack}_{}", m.source));
                    (m.source.clone(), VolumeUse { name, driver: v.driver, options: v.driver_opts })
                })
                .collect();
            let secrets = s.secrets.iter().map(|f| (file_name(false, &f.source), f.target.clone())).collect();
            let configs = s.configs.iter().map(|f| (file_name(true, &f.source), f.target.clone())).collect();
            let mut service_labels = labels.clone();
            service_labels.insert(VERSION_LABEL.into(), version.to_string());
            deploys.push(ServiceDeploy {
                name: format!("{stack}_{name}"),
                alias: name.clone(),
                stack: stack.clone(),
                spec: s,
                labels: service_labels,
                networks: if spec.services[&name].network_mode.is_some() { Vec::new() } else { full_networks },
                secrets,
                configs,
                volumes,
            });
        }
        Plan { stack, deploys, networks, files, labels }
    }

    fn namespace_filter(&self) -> Vec<String> {
        vec![format!("{STACK_NAMESPACE}={}", self.stack)]
    }

    /// The stack's services as they run, by full name.
    async fn live(&self, manager: &Engine) -> Result<HashMap<String, LiveService>> {
        let services = manager.services_labelled(&self.namespace_filter()).await?;
        Ok(services.into_iter().map(|s| (s.name.clone(), s)).collect())
    }
}

/// How a converge treats what is already running.
#[derive(Clone, Copy, Debug, Default)]
struct How {
    /// Replace every task even when nothing changed (redeploy).
    force: bool,
    /// Fetch images again for services with `latest_image`.
    pull: bool,
}

const DEPLOY_STEPS: &[&str] = &[
    "Check the template",
    "Make images available",
    "Create networks, secrets and configs",
    "Deploy services",
    "Wait for tasks",
    "Remove what the template no longer has",
];
const DELETE_STEPS: &[&str] =
    &["Remove services", "Wait for containers to stop", "Remove networks, secrets and configs", "Remove volumes"];

/// The history entry of an operation on an app: operators and up on its cluster may.
fn app_op(action: &'static str, app: &App, target: String, params: serde_json::Value) -> Op {
    Op { action, permission: Permission::AppOperate(app.cluster_id), target, params }
}

impl Berth {
    async fn app_row(&self, id: i64) -> Result<App> {
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

    fn seal_vars(&self, vars: &BTreeMap<String, String>) -> Result<String> {
        self.sealer()?.seal(serde_json::to_string(vars)?.as_bytes())
    }

    fn open_vars(&self, v: &AppVersion) -> Result<BTreeMap<String, String>> {
        let plain = self.sealer()?.unseal(&v.vars)?;
        Ok(serde_json::from_slice(&plain)?)
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

    async fn current_version(&self, app: &App) -> Result<AppVersion> {
        self.store
            .app_version(app.id, app.version)
            .await?
            .ok_or_else(|| Error::NotFound(format!("version {} of app {}", app.version, app.name)))
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

    /// Creates an app and deploys it (a job). Returns `(app id, job id)`.
    pub async fn deploy_app(&self, actor: &Actor, input: &AppInput) -> Result<(i64, i64)> {
        let op = Op {
            action: "app.create",
            permission: Permission::AppOperate(input.cluster_id),
            target: input.name.clone(),
            params: json!({ "cluster": input.cluster_id, "name": input.name, "template": input.template_id,
                            "variables": input.vars.keys().collect::<Vec<_>>() }),
        };
        let app_id = Arc::new(std::sync::Mutex::new(0i64));
        let app_slot = app_id.clone();
        let job = self
            .launch(
                actor,
                JobSpec { op, kind: "app.create", steps: DEPLOY_STEPS },
                |user| async move {
                    let name = crate::clusters::cluster::validate_name("name", &input.name, 40)?;
                    let cluster = self
                        .store
                        .cluster(input.cluster_id)
                        .await?
                        .ok_or_else(|| Error::NotFound(format!("cluster {}", input.cluster_id)))?;
                    if cluster.status != "ready" {
                        return Err(Error::Conflict(format!("cluster {} is {}", cluster.name, cluster.status)));
                    }
                    if let Some(t) = input.template_id {
                        self.store.template(t).await?.ok_or_else(|| Error::NotFound(format!("template {t}")))?;
                    }
                    let parsed = self.parse_compose(&input.compose, &input.vars).await?;
                    self.check_policy(actor, input.cluster_id, &name, &parsed.spec).await?;
                    let vars = self.seal_vars(&input.vars)?;
                    let first = NewVersion {
                        compose: &input.compose,
                        vars: &vars,
                        action: "create",
                        note: "",
                        by: &user.username,
                    };
                    let id = self
                        .store
                        .app_insert(input.cluster_id, &name, "deploying", input.template_id, &first, now_ms())
                        .await?
                        .ok_or_else(|| {
                            Error::invalid("name", format!("cluster {} has an app named {name} already", cluster.name))
                        })?;
                    *app_slot.lock().unwrap_or_else(|p| p.into_inner()) = id;
                    let claim = self.claim_app(id).await?;
                    Ok(Prepared {
                        cluster_id: Some(input.cluster_id),
                        target: name,
                        claim: Some(claim),
                        input: (id, parsed.spec),
                        steps: None,
                    })
                },
                |berth, ctx, (id, spec)| async move { berth.converge_job(&ctx, id, spec, How::default()).await },
            )
            .await?;
        let id = *app_id.lock().unwrap_or_else(|p| p.into_inner());
        Ok((id, job))
    }

    /// Runs a converge as a job's work and records the app's resulting status.
    async fn converge_job(&self, ctx: &JobCtx, app_id: i64, spec: compose::AppSpec, how: How) -> Result<()> {
        ctx.step(0).await;
        let app = self.app_row(app_id).await?;
        let result = self.converge(ctx, &app, spec, how).await;
        let (status, message) = match &result {
            Ok(()) if app.overrides().stopped => ("stopped", String::new()),
            Ok(()) => ("running", String::new()),
            Err(e) => ("failed", crate::runtime::job::job_error(e)),
        };
        self.store.app_set_status(app_id, status, &message, now_ms()).await?;
        result
    }

    /// Makes the cluster run `spec` (with the app's overrides) as the app's stack.
    async fn converge(&self, ctx: &JobCtx, app: &App, spec: compose::AppSpec, how: How) -> Result<()> {
        let installation = self.installation().await?;
        let plan = Plan::new(&installation, app, app.version, spec, &app.overrides());
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;

        ctx.step(1).await;
        let report = self.distribute_images(ctx, app.cluster_id, &plan, how.pull).await?;
        if !report.is_empty() {
            ctx.detail(report.join("; ")).await;
        }

        ctx.step(2).await;
        for (network, internal) in &plan.networks {
            manager.overlay_create(network, &plan.labels, *internal).await?;
        }
        for (config, name, content) in &plan.files {
            manager.swarm_file_create(*config, name, content, &plan.labels).await?;
        }

        ctx.step(3).await;
        let live = plan.live(&manager).await?;
        let ids = manager.ids().await?;
        // External networks are joined by their exact name: the engine would also take a prefix of
        // another network's id for a name it does not know.
        let unknown = plan.deploys.iter().find_map(|d| {
            d.networks.iter().find(|n| !ids.networks.contains_key(*n)).map(|n| (d.alias.clone(), n.clone()))
        });
        if let Some((alias, n)) = unknown {
            return Err(Error::invalid(
                "compose",
                format!("{alias}: network `{n}` does not exist on this cluster (create it, or drop `external`)"),
            ));
        }
        for (i, d) in plan.deploys.iter().enumerate() {
            ctx.detail(format!("{} ({} of {})", d.alias, i + 1, plan.deploys.len())).await;
            let force = how.force || (how.pull && d.spec.ext.latest_image);
            if live.contains_key(&d.name) {
                manager.service_update(d, &ids, force).await?;
            } else {
                manager.service_create(d, &ids).await?;
            }
        }

        ctx.step(4).await;
        self.wait_for_tasks(ctx, &manager, &plan).await?;

        ctx.step(5).await;
        let wanted: BTreeSet<&str> = plan.deploys.iter().map(|d| d.name.as_str()).collect();
        for name in live.keys().filter(|n| !wanted.contains(n.as_str())) {
            ctx.detail(format!("removing {name}")).await;
            manager.service_remove(name).await?;
        }
        self.remove_unused_files(&manager, &plan).await?;
        Ok(())
    }

    /// Puts each image on every ready node that lacks it: copied from Berth's own engine when it has
    /// the image (clusters without a registry), else pulled by the node. With `pull`, images of
    /// `latest_image` services are fetched again. Returns what happened, with image ids before and
    /// after; a pull that failed is said so, never claimed.
    async fn distribute_images(&self, ctx: &JobCtx, cluster_id: i64, plan: &Plan, pull: bool) -> Result<Vec<String>> {
        let mut images: BTreeMap<String, bool> = BTreeMap::new();
        for d in &plan.deploys {
            *images.entry(d.spec.image.clone()).or_default() |= pull && d.spec.ext.latest_image;
        }
        let nodes: Vec<_> = self.store.nodes(cluster_id).await?.into_iter().filter(|n| n.state == "ready").collect();
        let mut engines = Vec::new();
        for n in &nodes {
            engines.push((n.name.clone(), self.node_engine(n).await?));
        }
        let mut report = Vec::new();
        for (image, refresh) in images {
            // Every node at once: usually they all have it and nothing else is needed.
            let befores = futures::future::join_all(engines.iter().map(|(_, e)| e.image_id(&image))).await;
            let befores = befores.into_iter().collect::<Result<Vec<_>, _>>()?;
            if !refresh && befores.iter().all(Option::is_some) {
                continue;
            }
            let source = self.engine.image_id(&image).await.ok().flatten();
            let mut missing = Vec::new();
            let mut changes = Vec::new();
            for ((node, engine), before) in engines.iter().zip(befores) {
                if before.is_some() && !refresh {
                    continue;
                }
                ctx.detail(format!("{image} on {node}")).await;
                let mut how = String::new();
                if refresh {
                    match engine.image_pull(&image).await {
                        Ok(()) => how = "pulled".into(),
                        Err(e) => how = format!("pull failed ({})", short(&e.to_string())),
                    }
                }
                if !how.starts_with("pulled") {
                    if let Some(source_id) = &source {
                        if before.as_ref() != Some(source_id) {
                            self.engine.copy_image_to(&image, engine).await?;
                            how = if how.is_empty() {
                                "copied from Berth's engine".into()
                            } else {
                                format!("{how}, copied from Berth's engine")
                            };
                        } else if how.is_empty() {
                            how = "already current".into();
                        }
                    } else if before.is_none() && !how.is_empty() {
                        // Not pulled and nowhere to copy from.
                    } else if before.is_none() {
                        match engine.image_pull(&image).await {
                            Ok(()) => how = "pulled".into(),
                            Err(e) => how = format!("pull failed ({})", short(&e.to_string())),
                        }
                    }
                }
                let after = engine.image_id(&image).await?;
                if after.is_none() {
                    missing.push(format!("{node}: {how}"));
                    continue;
                }
                if refresh || before != after {
                    changes.push(format!(
                        "{node} {} → {} ({how})",
                        short_id(before.as_deref()),
                        short_id(after.as_deref())
                    ));
                }
            }
            if !missing.is_empty() {
                return Err(Error::invalid(
                    "image",
                    format!(
                        "{image} is not on these nodes and could not be fetched: {}. Load the image into Berth's \
                         engine (docker load) or a registry the nodes reach.",
                        missing.join("; ")
                    ),
                ));
            }
            if !changes.is_empty() {
                report.push(format!("{image}: {}", changes.join(", ")));
            }
        }
        Ok(report)
    }

    async fn wait_for_tasks(&self, ctx: &JobCtx, manager: &Engine, plan: &Plan) -> Result<()> {
        let started = Instant::now();
        let limit = self.config.app_deploy_timeout;
        loop {
            let live = plan.live(manager).await?;
            let mut waiting = Vec::new();
            let mut summary = Vec::new();
            for d in &plan.deploys {
                let Some(s) = live.get(&d.name) else {
                    waiting.push(d.name.clone());
                    continue;
                };
                if s.update_state == "paused" || s.update_state == "rollback_completed" {
                    return Err(Error::Engine(format!(
                        "{}: the rolling update stopped ({}): {}",
                        d.alias, s.update_state, s.update_message
                    )));
                }
                let desired = match d.spec.mode {
                    compose::Mode::Replicated(n) => n,
                    compose::Mode::Global => s.desired,
                };
                summary.push(format!("{} {}/{}", d.alias, s.running, desired));
                if s.running != desired || s.update_state == "updating" || s.update_state == "rollback_started" {
                    waiting.push(d.name.clone());
                }
            }
            ctx.detail(summary.join(" · ")).await;
            if waiting.is_empty() {
                return Ok(());
            }
            if started.elapsed() > limit {
                let mut why = Vec::new();
                for name in &waiting {
                    let tasks = manager.service_tasks(name).await.unwrap_or_default();
                    let last_error = tasks.iter().rev().find(|t| !t.error.is_empty()).map(|t| t.error.clone());
                    why.push(match last_error {
                        Some(e) => format!("{name}: {e}"),
                        None => format!("{name}: tasks not running yet"),
                    });
                }
                return Err(Error::Engine(format!(
                    "not every task runs after {} s: {}",
                    limit.as_secs(),
                    why.join("; ")
                )));
            }
            // Often the tasks run within a second or two: look often at first, then less.
            let pause = if started.elapsed() < Duration::from_secs(3) { 25 } else { 250 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// Removes the stack's secrets and configs that no service uses any more (older contents).
    async fn remove_unused_files(&self, manager: &Engine, plan: &Plan) -> Result<()> {
        let used: BTreeSet<&str> = plan.files.iter().map(|(_, n, _)| n.as_str()).collect();
        let filter = plan.namespace_filter();
        let (secrets, configs) =
            futures::future::join(manager.swarm_files_with(false, &filter), manager.swarm_files_with(true, &filter))
                .await;
        for (config, files) in [(false, secrets?), (true, configs?)] {
            for f in files {
                if !used.contains(f.name.as_str()) && f.labels.contains_key(APP_LABEL) {
                    // Still referenced by a task shutting down: leave it for the next converge.
                    let _ = manager.swarm_file_remove(config, &f.id).await;
                }
            }
        }
        Ok(())
    }

    /// A new version of an app (edited template or variables), deployed as a rolling update.
    /// Variables not given keep their current values.
    pub async fn update_app(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.update", true).await?;
        let op = app_op(
            "app.update",
            &app,
            app.name.clone(),
            json!({ "app": app_id, "variables": vars.keys().collect::<Vec<_>>() }),
        );
        self.new_version_job(actor, op, app, "update", String::new(), compose_text.to_string(), vars.clone(), true)
            .await
    }

    /// Deploys an earlier version again, as a new version.
    pub async fn rollback_app(&self, actor: &Actor, app_id: i64, to_version: i64) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.rollback", true).await?;
        let op = app_op("app.rollback", &app, app.name.clone(), json!({ "app": app_id, "to_version": to_version }));
        // Reading the old version needs the permission too: authorize before looking.
        if authorize(actor, op.permission).is_ok() {
            if let Some(old) = self.store.app_version(app_id, to_version).await? {
                let vars = self.open_vars(&old)?;
                let note = format!("to version {to_version}");
                return self.new_version_job(actor, op, app, "rollback", note, old.compose, vars, false).await;
            }
        }
        let missing = format!("version {to_version} of app {}", app.name);
        self.launch(
            actor,
            JobSpec { op, kind: "app.rollback", steps: DEPLOY_STEPS },
            |_| async move { Err::<Prepared<()>, _>(Error::NotFound(missing)) },
            |_, _, ()| async { Ok(()) },
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn new_version_job(
        &self,
        actor: &Actor,
        op: Op,
        app: App,
        action: &'static str,
        note: String,
        compose_text: String,
        vars: BTreeMap<String, String>,
        keep_unset_vars: bool,
    ) -> Result<i64> {
        let kind = if action == "rollback" { "app.rollback" } else { "app.update" };
        self.launch(
            actor,
            JobSpec { op, kind, steps: DEPLOY_STEPS },
            |user: UserRef| async move {
                let claim = self.claim_app(app.id).await?;
                let mut vars = vars;
                if keep_unset_vars {
                    let current = self.open_vars(&self.current_version(&app).await?)?;
                    for (k, v) in current {
                        vars.entry(k).or_insert(v);
                    }
                }
                let parsed = self.parse_compose(&compose_text, &vars).await?;
                self.check_policy(actor, app.cluster_id, &app.name, &parsed.spec).await?;
                let sealed = self.seal_vars(&vars)?;
                let v = NewVersion { compose: &compose_text, vars: &sealed, action, note: &note, by: &user.username };
                self.store.app_add_version(app.id, &v, "deploying", now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: (app.id, parsed.spec),
                    steps: None,
                })
            },
            |berth, ctx, (id, spec)| async move { berth.converge_job(&ctx, id, spec, How::default()).await },
        )
        .await
    }

    /// Deploys the current version again, replacing every task; services with `latest_image` get
    /// their image fetched again first (the job reports image ids before and after).
    pub async fn redeploy_app(&self, actor: &Actor, app_id: i64) -> Result<i64> {
        self.rerun(actor, app_id, "app.redeploy", How { force: true, pull: true }, false).await
    }

    /// Starts a stopped app: its services get their replicas back.
    pub async fn start_app(&self, actor: &Actor, app_id: i64) -> Result<i64> {
        self.rerun(actor, app_id, "app.start", How::default(), true).await
    }

    async fn rerun(&self, actor: &Actor, app_id: i64, kind: &'static str, how: How, start: bool) -> Result<i64> {
        let app = self.visible_app(actor, app_id, kind, true).await?;
        let op = app_op(kind, &app, app.name.clone(), json!({ "app": app_id }));
        self.launch(
            actor,
            JobSpec { op, kind, steps: DEPLOY_STEPS },
            |_| async move {
                let claim = self.claim_app(app.id).await?;
                let current = self.current_version(&app).await?;
                let parsed = self.parse_compose(&current.compose, &self.open_vars(&current)?).await?;
                self.check_policy(actor, app.cluster_id, &app.name, &parsed.spec).await?;
                if start {
                    let mut o = app.overrides();
                    o.stopped = false;
                    self.store.app_set_overrides(app.id, &o, now_ms()).await?;
                }
                self.store.app_set_status(app.id, "deploying", "", now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: (app.id, parsed.spec),
                    steps: None,
                })
            },
            move |berth, ctx, (id, spec)| async move { berth.converge_job(&ctx, id, spec, how).await },
        )
        .await
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
        self.mutate(actor, op, |_| async move {
            if replicas > 1000 {
                return Err(Error::invalid("replicas", "at most 1000"));
            }
            let (spec, manager) = self.live_change(actor, &app, service).await?;
            if spec.services[service].mode == compose::Mode::Global {
                return Err(Error::invalid("replicas", format!("{service} is global: it runs one task per node")));
            }
            let mut o = app.overrides();
            o.replicas.insert(service.to_string(), replicas);
            if !o.stopped {
                manager
                    .service_scale(&format!("{}_{service}", app.name), replicas)
                    .await
                    .map_err(|e| not_deployed(e, &app.name, service))?;
            }
            self.store.app_set_overrides(app.id, &o, now_ms()).await
        })
        .await
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
            let (_, manager) = self.reachable_manager(app.cluster_id).await?;
            let filter = vec![format!("{STACK_NAMESPACE}={}", app.name), format!("{APP_LABEL}={}", app.id)];
            for s in manager.services_labelled(&filter).await? {
                if s.spec.mode == compose::Mode::Global {
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

    /// Deletes an app: its services, networks, secrets and configs, and with `remove_volumes` its
    /// volumes on every node (else they stay for a later app of the same name).
    pub async fn delete_app(&self, actor: &Actor, app_id: i64, remove_volumes: bool) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.delete", true).await?;
        let op =
            app_op("app.delete", &app, app.name.clone(), json!({ "app": app_id, "remove_volumes": remove_volumes }));
        self.launch(
            actor,
            JobSpec { op, kind: "app.delete", steps: DELETE_STEPS },
            |_| async move {
                let claim = self.claim_app(app.id).await?;
                self.store.app_set_status(app.id, "deleting", "", now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: app,
                    steps: None,
                })
            },
            move |berth, ctx, app| async move {
                let result = berth.tear_down_app(&ctx, &app, remove_volumes).await;
                match &result {
                    Ok(()) => berth.store.app_delete(app.id).await?,
                    Err(e) => {
                        berth
                            .store
                            .app_set_status(app.id, "failed", &crate::runtime::job::job_error(e), now_ms())
                            .await?
                    }
                }
                result
            },
        )
        .await
    }

    async fn tear_down_app(&self, ctx: &JobCtx, app: &App, remove_volumes: bool) -> Result<()> {
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;
        let filter = vec![format!("{STACK_NAMESPACE}={}", app.name)];
        ctx.step(0).await;
        let mut removed = Vec::new();
        for s in manager.services_labelled(&filter).await? {
            ctx.detail(format!("removing {}", s.name)).await;
            manager.service_remove(&s.name).await?;
            removed.push(s.id);
        }
        ctx.step(1).await;
        // The swarm forgets a removed service's tasks once they have shut down, and only then do
        // the nodes remove their containers: a task still starting has no container to wait for yet.
        let started = Instant::now();
        loop {
            let left = manager.swarm_tasks(None).await?.into_iter().filter(|t| removed.contains(&t.service_id)).count();
            if left == 0 {
                break;
            }
            ctx.detail(format!("{left} tasks shutting down")).await;
            if started.elapsed() > self.config.app_deploy_timeout {
                return Err(Error::Engine(format!("tasks of {} still in the swarm", app.name)));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Every node that answers, whatever the last heartbeat said of it: one that does not removes
        // the containers itself when it is back, as the swarm no longer has their tasks.
        let nodes = self.store.nodes(app.cluster_id).await?;
        let mut reached = Vec::new();
        for node in &nodes {
            let Ok(engine) = self.node_engine(node).await else { continue };
            loop {
                let left = match engine.containers_labelled(&filter).await {
                    Ok(left) => left,
                    Err(e) if node.state == "ready" => return Err(e.into()),
                    Err(_) => break,
                };
                if left.is_empty() {
                    reached.push(engine.clone());
                    break;
                }
                ctx.detail(format!("{}: {} containers stopping", node.name, left.len())).await;
                if started.elapsed() > self.config.app_deploy_timeout {
                    return Err(Error::Engine(format!("containers of {} still on {}", app.name, node.name)));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        ctx.step(2).await;
        for config in [false, true] {
            for f in manager.swarm_files_with(config, &filter).await? {
                manager.swarm_file_remove(config, &f.id).await?;
            }
        }
        // A network is released a moment after its last container: try for a while.
        let started = Instant::now();
        loop {
            let mut left = Vec::new();
            for n in manager.networks_with(&filter).await? {
                if manager.network_remove(&n.id).await.is_err() {
                    left.push(n.name);
                }
            }
            if left.is_empty() {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(Error::Engine(format!("networks still in use: {}", left.join(", "))));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        ctx.step(3).await;
        if remove_volumes {
            for engine in &reached {
                for v in engine.volumes_with(&filter).await? {
                    ctx.detail(v.clone()).await;
                    engine.volume_remove(&v).await?;
                }
            }
        } else {
            ctx.detail("kept").await;
        }
        Ok(())
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
        let plan = Plan::new(&installation, app, app.version, parsed.spec, &app.overrides());
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;
        let live = plan.live(&manager).await?;
        let nodes = self.store.nodes(app.cluster_id).await?;
        let node_names: HashMap<String, String> =
            nodes.iter().map(|n| (n.swarm_node_id.clone(), n.name.clone())).collect();
        let node_addresses: HashMap<&str, &str> =
            nodes.iter().filter(|n| !n.address.is_empty()).map(|n| (n.name.as_str(), n.address.as_str())).collect();
        let mut names: Vec<&ServiceDeploy> = plan.deploys.iter().collect();
        names.sort_by(|a, b| a.alias.cmp(&b.alias));
        for d in names {
            let s = &d.spec;
            let mut view = ServiceView {
                name: d.alias.clone(),
                image: s.image.clone(),
                global: s.mode == compose::Mode::Global,
                desired: match s.mode {
                    compose::Mode::Replicated(n) => n,
                    compose::Mode::Global => 0,
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
            };
            if let Some(l) = live.get(&d.name) {
                view.deployed = true;
                view.running = l.running;
                if view.global {
                    view.desired = l.desired;
                }
                view.update_state = l.update_state.clone();
                view.update_message = l.update_message.clone();
                view.drift = drift(&engine::normalise(d), &l.spec);
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

    /// The lines that differ between two versions' templates (variables: names only, values of
    /// secret-looking ones never).
    pub async fn app_version_diff(&self, actor: &Actor, app_id: i64, from: i64, to: i64) -> Result<Vec<DiffLine>> {
        self.visible_app(actor, app_id, "app.read", false).await?;
        let get = |v: i64| async move {
            self.store.app_version(app_id, v).await?.ok_or_else(|| Error::NotFound(format!("version {v}")))
        };
        let (a, b) = (get(from).await?, get(to).await?);
        let render = |v: &AppVersion| -> Result<String> {
            let vars = self.open_vars(v)?;
            let mut text = v.compose.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("# variables\n");
            for (k, value) in vars {
                // A keyed fingerprint: changes show, but a viewer cannot confirm a guess of the value.
                let shown = if looks_secret(&k) {
                    format!("(secret, {})", self.sealer()?.fingerprint(value.as_bytes()))
                } else {
                    value
                };
                text.push_str(&format!("#   {k} = {shown}\n"));
            }
            Ok(text)
        };
        let (old, new) = (render(&a)?, render(&b)?);
        self.cpu(move || {
            let diff = similar::TextDiff::from_lines(&old, &new);
            diff.iter_all_changes()
                .map(|c| DiffLine {
                    tag: match c.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => ' ',
                    },
                    text: c.value().trim_end_matches('\n').to_string(),
                })
                .collect()
        })
        .await
    }

    /// Stacks on a cluster that no Berth app owns (deployed with `docker stack deploy`).
    pub async fn stacks(&self, actor: &Actor, cluster_id: i64) -> Result<Vec<Stack>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "stack.list", cluster_id.to_string()).await?;
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let mut stacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in manager.services_labelled(&[STACK_NAMESPACE.to_string()]).await? {
            if s.labels.contains_key(APP_LABEL) {
                continue;
            }
            let stack = s.labels.get(STACK_NAMESPACE).cloned().unwrap_or_default();
            let short = s.name.strip_prefix(&format!("{stack}_")).unwrap_or(&s.name).to_string();
            stacks.entry(stack).or_default().push(short);
        }
        Ok(stacks.into_iter().map(|(name, services)| Stack { name, services }).collect())
    }

    /// Makes a stack deployed outside Berth an app: its services become version 1 (a Compose
    /// template written from the live specs) and get Berth's labels. Nothing is restarted.
    pub async fn adopt_stack(&self, actor: &Actor, cluster_id: i64, stack: &str) -> Result<i64> {
        let op = Op {
            action: "app.adopt",
            permission: Permission::AppOperate(cluster_id),
            target: stack.to_string(),
            params: json!({ "cluster": cluster_id, "stack": stack }),
        };
        self.mutate(actor, op, |user| async move {
            let name = crate::clusters::cluster::validate_name("stack", stack, 40)?;
            let (_, manager) = self.reachable_manager(cluster_id).await?;
            let live = manager.services_labelled(&[format!("{STACK_NAMESPACE}={name}")]).await?;
            if live.is_empty() {
                return Err(Error::NotFound(format!("stack {name}")));
            }
            if live.iter().any(|s| s.labels.contains_key(APP_LABEL)) {
                return Err(Error::Conflict(format!("stack {name} belongs to a Berth app already")));
            }
            let mut spec = compose::AppSpec::default();
            for s in &live {
                let short = s.name.strip_prefix(&format!("{name}_")).unwrap_or(&s.name).to_string();
                let mut service = s.spec.clone();
                for n in &service.networks {
                    spec.networks.entry(n.clone()).or_default();
                }
                // Secret values cannot be read back: the adopted app uses the existing ones.
                for f in &service.secrets {
                    spec.secrets.entry(f.source.clone()).or_insert_with(|| compose::SecretSpec {
                        external: Some(format!("{name}_{}", f.source)),
                        ..Default::default()
                    });
                }
                for f in &service.configs {
                    spec.configs.entry(f.source.clone()).or_insert_with(|| compose::ConfigSpec {
                        external: Some(format!("{name}_{}", f.source)),
                        ..Default::default()
                    });
                }
                for m in &service.mounts {
                    if m.kind == compose::MountKind::Volume && !m.source.is_empty() {
                        // With the driver and options the volume is made with, which the policy reads.
                        let declared = s.volumes.get(&m.source).cloned().unwrap_or_default();
                        spec.volumes.entry(m.source.clone()).or_insert(declared);
                    }
                }
                if service.networks == ["default"] {
                    service.networks.clear();
                }
                spec.services.insert(short, service);
            }
            spec.networks.remove("default");
            self.check_policy(actor, cluster_id, &name, &spec).await?;
            let text = compose::to_compose(&spec);
            let vars = self.seal_vars(&BTreeMap::new())?;
            let first = NewVersion { compose: &text, vars: &vars, action: "adopt", note: "", by: &user.username };
            let id = self
                .store
                .app_insert(cluster_id, &name, "running", None, &first, now_ms())
                .await?
                .ok_or_else(|| Error::Conflict(format!("an app named {name} exists on this cluster")))?;
            let installation = self.installation().await?;
            let mut labels = crate::clusters::cluster::ownership(&installation, cluster_id);
            labels.insert(APP_LABEL.into(), id.to_string());
            labels.insert(VERSION_LABEL.into(), "1".into());
            for s in &live {
                let labels = labels.clone();
                manager
                    .service_patch(&s.name, move |spec| {
                        let l = spec.labels.get_or_insert_with(HashMap::new);
                        l.extend(labels.clone());
                        Ok(())
                    })
                    .await?;
            }
            Ok(id)
        })
        .await
    }

    /// Marks failed the apps left deploying or deleting by an interrupted job (`interrupted(cluster,
    /// name)`).
    pub(crate) async fn recover_apps(&self, interrupted: impl Fn(i64, &str) -> bool) -> Result<()> {
        for app in self.store.apps(None).await? {
            if (app.status == "deploying" || app.status == "deleting") && interrupted(app.cluster_id, &app.name) {
                let message = "interrupted: Berth stopped during the operation; deploy or delete again";
                self.store.app_set_status(app.id, "failed", message, now_ms()).await?;
            }
        }
        Ok(())
    }
}

/// What interrupted jobs on apps leave (see [`Recovery`]): an app left deploying or deleting is
/// marked failed.
pub(crate) struct AppRecovery;

impl Recovery for AppRecovery {
    fn recover<'a>(&'a self, berth: &'a Berth, interrupted: &'a Interrupted) -> BoxFuture<'a, Result<()>> {
        Box::pin(berth.recover_apps(move |cluster, name| {
            interrupted.any(|j| j.kind.starts_with("app.") && j.cluster_id == Some(cluster) && j.target == name)
        }))
    }
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

/// The changes made by hand since the version whose spec is `spec`, as a person would say them.
pub fn by_hand(spec: &compose::AppSpec, overrides: &Overrides) -> Vec<String> {
    let mut out = Vec::new();
    for (service, n) in &overrides.replicas {
        let template = match spec.services.get(service).map(|s| &s.mode) {
            Some(compose::Mode::Replicated(t)) => *t,
            _ => continue,
        };
        if template != *n {
            out.push(format!("{service} scaled to {n} (the template says {template})"));
        }
    }
    for (service, r) in &overrides.resources {
        if spec.services.get(service).is_some_and(|s| s.resources != *r) {
            out.push(format!("{service}'s CPU and memory set by hand"));
        }
    }
    out
}

/// What differs between a desired and a live service spec, one line per leaf field
/// (`mode.replicated: 3 desired, 2 live`), values as plain text, shortened, never JSON.
pub fn drift(desired: &compose::ServiceSpec, live: &compose::ServiceSpec) -> Vec<String> {
    let (Ok(serde_json::Value::Object(d)), Ok(serde_json::Value::Object(l))) =
        (serde_json::to_value(desired), serde_json::to_value(live))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, want) in &d {
        // Fields swarm (API 1.41) does not keep on a service read back as nothing: not drift.
        if matches!(
            key.as_str(),
            "ext"
                | "line"
                | "lines"
                | "privileged"
                | "devices"
                | "pid"
                | "ipc"
                | "uts"
                | "userns_mode"
                | "cgroup"
                | "security_opt"
        ) {
            continue;
        }
        let have = l.get(key).cloned().unwrap_or(serde_json::Value::Null);
        if *want == have {
            continue;
        }
        if key == "environment" {
            out.push("environment (values not shown)".to_string());
        } else {
            leaf_drift(key, want, &have, &mut out);
        }
    }
    out
}

/// The leaves under `path` that differ between `want` and `have`, as lines.
fn leaf_drift(path: &str, want: &serde_json::Value, have: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            let keys: std::collections::BTreeSet<&String> = w.keys().chain(h.keys()).collect();
            for k in keys {
                let (a, b) = (w.get(k).unwrap_or(&Value::Null), h.get(k).unwrap_or(&Value::Null));
                if a != b {
                    leaf_drift(&format!("{path}.{k}"), a, b, out);
                }
            }
        }
        (Value::Object(w), Value::Null) | (Value::Null, Value::Object(w)) if w.is_empty() => {}
        _ => {
            let field = if path == "mode.replicated" { "replicas" } else { path };
            out.push(format!("{field}: {} desired, {} live", short(&plain(want)), short(&plain(have))))
        }
    }
}

/// A JSON value as a person would write it: strings bare, lists joined, nothing as "none".
fn plain(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "none".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(o) if o.is_empty() => "none".into(),
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn short(s: &str) -> &str {
    match s.char_indices().nth(120) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn short_id(id: Option<&str>) -> String {
    match id {
        Some(id) => {
            let hex = id.strip_prefix("sha256:").unwrap_or(id);
            format!("sha256:{}", &hex[..hex.len().min(12)])
        }
        None => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tasks_that_ended_by_themselves_are_restarts() {
        let task = |id: &str, state: &str, desired: &str, at: i64| engine::ServiceTask {
            id: id.into(),
            node_id: "n".into(),
            slot: Some(1),
            state: state.into(),
            desired_state: desired.into(),
            message: String::new(),
            error: String::new(),
            container_id: String::new(),
            updated_at: at,
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

    fn spec(yaml: &str) -> compose::AppSpec {
        compose::parse(yaml, &BTreeMap::new()).unwrap().spec
    }

    #[test]
    fn dependencies_start_first() {
        let s = spec(
            "services:\n  web:\n    image: a\n    depends_on: [api]\n  api:\n    image: a\n    depends_on: [db]\n  db:\n    image: a\n",
        );
        assert_eq!(start_order(&s), ["db", "api", "web"]);
    }

    #[test]
    fn plans_name_things_like_docker_stack() {
        let s = spec(
            "services:\n  web:\n    image: a\n    secrets: [pw]\n    networks: [front]\nnetworks:\n  front: {}\n\
             secrets:\n  pw:\n    content: hunter2\n",
        );
        let app = App {
            id: 4,
            cluster_id: 2,
            name: "shop".into(),
            status: "deploying".into(),
            message: String::new(),
            version: 3,
            template_id: None,
            overrides: r#"{"replicas":{"web":5}}"#.into(),
            created_by: "ann".into(),
            created_at: 0,
            updated_at: 0,
        };
        let plan = Plan::new("inst", &app, 3, s, &app.overrides());
        let d = &plan.deploys[0];
        assert_eq!(d.name, "shop_web");
        assert_eq!(d.networks, ["shop_front"]);
        assert_eq!(d.spec.mode, compose::Mode::Replicated(5));
        assert!(d.secrets[0].0.starts_with("shop_pw-"), "{:?}", d.secrets);
        assert_eq!(d.labels[STACK_NAMESPACE], "shop");
        assert_eq!(d.labels[APP_LABEL], "4");
        assert_eq!(d.labels[VERSION_LABEL], "3");
        assert_eq!(plan.networks.keys().collect::<Vec<_>>(), ["shop_front"]);
        // Identical content → identical name (idempotent); changed content → a new name.
        assert_eq!(engine::without_hash(&d.secrets[0].0), "shop_pw");
    }

    #[test]
    fn stopping_keeps_global_services_off_every_node() {
        let s = spec("services:\n  agent:\n    image: a\n    deploy:\n      mode: global\n  web:\n    image: a\n");
        let o = Overrides { stopped: true, ..Default::default() };
        let app = App {
            id: 1,
            cluster_id: 1,
            name: "x".into(),
            status: String::new(),
            message: String::new(),
            version: 1,
            template_id: None,
            overrides: "{}".into(),
            created_by: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        let plan = Plan::new("i", &app, 1, s, &o);
        let agent = plan.deploys.iter().find(|d| d.alias == "agent").unwrap();
        assert!(agent.spec.placement.constraints.contains(&STOPPED_CONSTRAINT.to_string()));
        let web = plan.deploys.iter().find(|d| d.alias == "web").unwrap();
        assert_eq!(web.spec.mode, compose::Mode::Replicated(0));
    }

    #[test]
    fn drift_names_the_fields_that_differ() {
        let a = compose::ServiceSpec { image: "a:1".into(), ..Default::default() };
        let mut b = a.clone();
        assert!(drift(&a, &b).is_empty());
        b.image = "a:2".into();
        b.mode = compose::Mode::Replicated(3);
        b.environment.insert("PASSWORD".into(), "x".into());
        let d = drift(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|l| l == "image: a:1 desired, a:2 live"), "{d:?}");
        assert!(d.iter().any(|l| l == "replicas: 1 desired, 3 live"), "{d:?}");
        assert!(d.iter().all(|l| !l.contains('{') && !l.contains('"')), "no JSON: {d:?}");
        assert!(d.iter().any(|l| l == "environment (values not shown)"), "{d:?}");
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
