//! An app's jobs: deploy, update, rollback, redeploy, start and delete. Each converges the swarm on
//! the app's current version with its overrides ([`Berth::converge`]): images onto the nodes,
//! networks, secrets and configs, services created or updated in dependency order (swarm rolls the
//! update as the spec's update config says), then it waits for the tasks and removes what the
//! template no longer has. After a start, apps an interrupted job left deploying or deleting are
//! marked failed ([`AppRecovery`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;

use crate::apps::app::{app_op, short, AppInput};
use crate::apps::plan::{Plan, APP_LABEL};
use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission, UserRef};
use crate::clock::now_ms;
use crate::engine::{Engine, STACK_NAMESPACE};
use crate::error::{Error, Result};
use crate::runtime::job::{Interrupted, JobCtx, JobSpec, Prepared, Recovery};
use crate::store::{App, NewVersion};
use crate::Berth;

/// How a converge treats what is already running.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct How {
    /// Replace every task even when nothing changed (redeploy).
    force: bool,
    /// Fetch images again for services with `latest_image`.
    pull: bool,
    /// With `pull`: fetch every service's image again, `latest_image` or not (a redeploy trigger
    /// that asks for the newest image of each tag).
    pull_all: bool,
}

impl How {
    /// Whether a service's image is fetched again.
    fn refetch(self, spec: &compose::ServiceSpec) -> bool {
        self.pull && (self.pull_all || spec.ext.latest_image)
    }
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

impl Berth {
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
                    self.check_routes(input.cluster_id, &name, &input.compose, &parsed.spec).await?;
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
        self.converge_job_keeping(ctx, app_id, spec, how, false).await
    }

    /// [`Berth::converge_job`]; with `keep_old` it removes nothing the version no longer has (a
    /// release keeps the old side, with its secrets and configs, until it is confirmed).
    pub(crate) async fn converge_job_keeping(
        &self,
        ctx: &JobCtx,
        app_id: i64,
        spec: compose::AppSpec,
        how: How,
        keep_old: bool,
    ) -> Result<()> {
        ctx.step(0).await;
        let app = self.app_row(app_id).await?;
        let scaling = labelled_scaling(&spec);
        let result = self.converge(ctx, &app, spec, how, keep_old).await;
        // A release's new side gets its policies when it is confirmed (its old side keeps its own).
        if result.is_ok() && !keep_old {
            self.sync_label_scaling(&app, scaling).await?;
        }
        let (status, message) = match &result {
            Ok(()) if app.overrides().stopped => ("stopped", String::new()),
            Ok(()) => ("running", String::new()),
            Err(e) => ("failed", crate::runtime::job::job_error(e)),
        };
        self.store.app_set_status(app_id, status, &message, now_ms()).await?;
        result
    }

    /// After a version is deployed: the policies its labels state replace the services' policies;
    /// a policy from labels no longer stated goes, as do the policies of services the version no
    /// longer has. (Policies set in the console stay while their service does.)
    async fn sync_label_scaling(&self, app: &App, scaling: LabelledScaling) -> Result<()> {
        let (services, labelled) = scaling;
        let now = now_ms();
        for row in self.store.scaling_policies(app.id).await? {
            let stated = labelled.iter().any(|(s, _)| *s == row.service);
            if !services.contains(&row.service) || (row.source == "labels" && !stated) {
                self.store.scaling_policy_delete(app.id, &row.service).await?;
            }
        }
        for (service, policy) in labelled {
            let row = crate::store::PolicyRow {
                app_id: app.id,
                service,
                source: "labels".into(),
                policy: serde_json::to_string(&policy)?,
                schedules: "[]".into(),
                updated_by: "template".into(),
                updated_at: now,
                ..Default::default()
            };
            self.store.scaling_policy_put(&row).await?;
        }
        Ok(())
    }

    /// Makes the cluster run `spec` (with the app's overrides) as the app's stack.
    async fn converge(&self, ctx: &JobCtx, app: &App, spec: compose::AppSpec, how: How, keep_old: bool) -> Result<()> {
        let installation = self.installation().await?;
        let plan = Plan::new(&installation, app, app.version, spec, &app.overrides());
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;

        ctx.step(1).await;
        let report = self.distribute_images(ctx, app.cluster_id, &plan, how).await?;
        if !report.is_empty() {
            ctx.detail(report.join("; ")).await;
        }

        ctx.step(2).await;
        for (network, internal) in &plan.networks {
            manager.overlay_create(network, &plan.labels, *internal).await?;
        }
        if plan.routed() {
            let labels = crate::clusters::cluster::ownership(&installation, app.cluster_id);
            manager.overlay_create(super::plan::ROUTING_NETWORK, &labels, false).await?;
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
            let force = how.force || how.refetch(&d.spec);
            if let Some(l) = live.get(&d.name) {
                // Any update of a job starts a new run of it (and stops the one going): an
                // unchanged job is left alone unless a redeploy asks for it.
                if d.spec.mode.is_job()
                    && !force
                    && super::drift::drift(&crate::engine::normalise(d), &l.spec).is_empty()
                {
                    continue;
                }
                manager.service_update(d, &ids, force).await?;
            } else {
                manager.service_create(d, &ids).await?;
            }
        }

        ctx.step(4).await;
        self.wait_for_tasks(ctx, &manager, &plan).await?;

        ctx.step(5).await;
        let wanted: BTreeSet<&str> = plan.deploys.iter().map(|d| d.name.as_str()).collect();
        if keep_old {
            ctx.detail("kept until the release is confirmed or rolled back").await;
            return Ok(());
        }
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
    async fn distribute_images(&self, ctx: &JobCtx, cluster_id: i64, plan: &Plan, how: How) -> Result<Vec<String>> {
        let mut images: BTreeMap<String, bool> = BTreeMap::new();
        for d in &plan.deploys {
            *images.entry(d.spec.image.clone()).or_default() |= how.refetch(&d.spec);
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
                    // A job is not waited for: it runs to completion (or at its times), and its
                    // runs are followed on their own.
                    compose::Mode::Job { .. } => {
                        summary.push(format!("{} (job)", d.alias));
                        continue;
                    }
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
        self.update_app_as(actor, app_id, compose_text, vars, None).await
    }

    /// [`Berth::update_app`] as `method` says: a rolling update, a blue-green release
    /// ([`Berth::release_app`]) or a progressive one with the default steps
    /// ([`Berth::release_app_progressive`]); `None` does what the template's `berth.update_method` asks.
    pub async fn update_app_as(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
        method: Option<compose::UpdateMethod>,
    ) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.update", true).await?;
        let method = match method {
            Some(m) => m,
            None => self.asked_update_method(&app, compose_text, vars).await?,
        };
        match method {
            compose::UpdateMethod::BlueGreen => return self.release_app(actor, app_id, compose_text, vars).await,
            compose::UpdateMethod::Progressive => {
                let plan = crate::apps::release::Progressive::default();
                return self.release_app_progressive(actor, app_id, compose_text, vars, plan).await;
            }
            compose::UpdateMethod::Rolling => {}
        }
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
                self.no_open_release(&app).await?;
                let mut vars = vars;
                if keep_unset_vars {
                    let current = self.open_vars(&self.current_version(&app).await?)?;
                    for (k, v) in current {
                        vars.entry(k).or_insert(v);
                    }
                }
                let parsed = self.parse_compose(&compose_text, &vars).await?;
                self.check_policy(actor, app.cluster_id, &app.name, &parsed.spec).await?;
                self.check_routes(app.cluster_id, &app.name, &compose_text, &parsed.spec).await?;
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
        self.redeploy_app_fetching(actor, app_id, false).await
    }

    /// [`Berth::redeploy_app`]; with `every_image` each service's image is fetched again, not only
    /// those of `latest_image` services (a redeploy trigger asking for the newest image of each tag).
    pub(crate) async fn redeploy_app_fetching(&self, actor: &Actor, app_id: i64, every_image: bool) -> Result<i64> {
        let how = How { force: true, pull: true, pull_all: every_image };
        self.rerun(actor, app_id, "app.redeploy", how, false).await
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
                self.no_open_release(&app).await?;
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

fn short_id(id: Option<&str>) -> String {
    match id {
        Some(id) => {
            let hex = id.strip_prefix("sha256:").unwrap_or(id);
            format!("sha256:{}", &hex[..hex.len().min(12)])
        }
        None => "none".into(),
    }
}

/// A version's services, and the autoscaling policies their labels state.
type LabelledScaling = (Vec<String>, Vec<(String, compose::scaling::Policy)>);

fn labelled_scaling(spec: &compose::AppSpec) -> LabelledScaling {
    let services = spec.services.keys().cloned().collect();
    let labelled = spec.services.iter().filter_map(|(n, s)| Some((n.clone(), s.scaling()?))).collect();
    (services, labelled)
}
