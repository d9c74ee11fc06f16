//! Releases: an update whose new routed services come up beside the old ones under the same routes
//! (blue-green), as the product Berth is modelled on does it. The new version renames each routed
//! service it replaces (`web` → `web-v2`) and keeps at least one of its routes; the two are a pair.
//! The release starts the new version with the old services still running (nothing the new version
//! lacks is removed), and the cluster's routers split each shared route between the pair's sides:
//! the new side gets the release's weight (0 at first, percent), the old side the rest.
//! **Confirm** moves all traffic to the new side, waits until every router serves that, and removes
//! what the new version lacks; **Roll back** moves all traffic to the old side, waits the same way,
//! and deploys the old version again as a new version (removing the new services).
//!
//! The routing loop reads open releases from the store and writes back the weight every router
//! serves (`served_weight`), so this file never imports `routing/`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::apps::app::app_op;
use crate::apps::converge::How;
use crate::authz::{Actor, UserRef};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::runtime::job::{JobCtx, JobSpec, Prepared};
use crate::store::{App, NewEvent, NewRelease, NewVersion, ReleaseRow};
use crate::Berth;

/// How long a confirm or rollback waits for every router to serve the moved weight.
const SERVED_WITHIN: Duration = Duration::from_secs(20);

const START_STEPS: &[&str] = &[
    "Check the template",
    "Make images available",
    "Create networks, secrets and configs",
    "Deploy the new services beside the old",
    "Wait for tasks",
    "Keep the old services until the release is confirmed",
];
const CONFIRM_STEPS: &[&str] = &[
    "Move all traffic to the new services",
    "Check the template",
    "Make images available",
    "Create networks, secrets and configs",
    "Deploy services",
    "Wait for tasks",
    "Remove the old services",
];
const ROLLBACK_STEPS: &[&str] = &[
    "Move all traffic to the old services",
    "Check the old version",
    "Make images available",
    "Create networks, secrets and configs",
    "Deploy the old services",
    "Wait for tasks",
    "Remove the new services",
];

/// A release as the app page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub method: String,
    /// `starting`, `awaiting` (both sides run: move the weight, then confirm or roll back),
    /// `confirming`, `rolling_back`, `failed` (can be rolled back), `confirmed`, `rolled_back`.
    pub state: String,
    pub from_version: i64,
    pub to_version: i64,
    /// (old service, new service).
    pub pairs: Vec<(String, String)>,
    /// The new side's share of each shared route, in percent.
    pub weight: u32,
    /// The share every router serves (None until they all do).
    pub served_weight: Option<u32>,
    pub message: String,
    /// A progressive release's plan and where it stands.
    pub progressive: Option<Progressive>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Release {
    pub fn open(&self) -> bool {
        !matches!(self.state.as_str(), "confirmed" | "rolled_back")
    }
}

impl From<ReleaseRow> for Release {
    fn from(r: ReleaseRow) -> Release {
        Release {
            pairs: r.pairs(),
            id: r.id,
            method: r.method,
            state: r.state,
            from_version: r.from_version,
            to_version: r.to_version,
            weight: r.weight.clamp(0, 100) as u32,
            served_weight: u32::try_from(r.served_weight).ok(),
            message: r.message,
            progressive: serde_json::from_str(&r.plan).ok(),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// How a progressive release steps: the new side's weights in order (the last is 100), how long
/// each step lasts once every router serves it, and the bounds the new side's requests must stay
/// within. Where it stands is kept with it (`step`, `step_at`, `next_at`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progressive {
    pub steps: Vec<u32>,
    pub interval_s: u64,
    /// Roll back when more than this share of the new side's answers are 5xx (percent).
    pub max_5xx_pct: f64,
    /// Roll back when the new side's p99 latency is above this (milliseconds).
    pub max_p99_ms: f64,
    /// Fewer requests than this in a step say nothing about the new side (neither bound is judged).
    pub min_requests: u64,
    /// The index in `steps` of the weight now asked for.
    #[serde(default)]
    pub step: usize,
    /// When every router first served the current step's weight (0: not yet).
    #[serde(default)]
    pub step_at: i64,
    /// When the current step ends (0: not yet served).
    #[serde(default)]
    pub next_at: i64,
}

impl Default for Progressive {
    fn default() -> Progressive {
        Progressive {
            steps: vec![5, 25, 50, 100],
            interval_s: 60,
            max_5xx_pct: 1.0,
            max_p99_ms: 1000.0,
            min_requests: 10,
            step: 0,
            step_at: 0,
            next_at: 0,
        }
    }
}

impl Progressive {
    /// Checks what a person asked for, by field; the steps end at 100.
    pub fn checked(mut self) -> Result<Progressive> {
        if self.steps.last() != Some(&100) {
            self.steps.push(100);
        }
        let rising = self.steps.windows(2).all(|w| w[0] < w[1]);
        if !rising || self.steps[0] == 0 || self.steps.len() > 20 {
            return Err(Error::invalid(
                "steps",
                "the new side's weights: up to 20 rising percentages from 1 to 100, e.g. 5, 25, 50, 100",
            ));
        }
        if !(1..=86_400).contains(&self.interval_s) {
            return Err(Error::invalid("interval", "seconds per step, from 1 to 86400"));
        }
        if !(0.0..=100.0).contains(&self.max_5xx_pct) {
            return Err(Error::invalid("max_5xx", "a percentage from 0 to 100"));
        }
        if !(1.0..=600_000.0).contains(&self.max_p99_ms) {
            return Err(Error::invalid("max_p99", "milliseconds from 1 to 600000"));
        }
        if self.min_requests > 1_000_000 {
            return Err(Error::invalid("min_requests", "at most 1000000"));
        }
        Ok(Progressive { step: 0, step_at: 0, next_at: 0, ..self })
    }

    /// "5 → 25 → 50 → 100 %, 60 s each, ≤ 1 % 5xx, p99 ≤ 1000 ms".
    pub fn describe(&self) -> String {
        let steps = self.steps.iter().map(u32::to_string).collect::<Vec<_>>().join(" → ");
        format!(
            "{steps} %, {} s each, at most {} % 5xx and p99 {} ms",
            self.interval_s, self.max_5xx_pct, self.max_p99_ms
        )
    }
}

/// What the new side did during a step, as the routers measured it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub requests: u64,
    pub err_5xx_pct: f64,
    pub p99_ms: f64,
}

/// What a progressive release does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Nothing yet (the weight is not served everywhere, or the step is not over).
    Wait,
    /// The current weight became live now: the step's clock starts.
    Started,
    /// On to the next weight.
    Step(u32),
    /// The last step passed: confirm.
    Confirm,
    /// A bound was crossed: roll back, saying why.
    RollBack(String),
}

/// The next move of a progressive release at `now`, given whether every router serves the
/// current weight and what the new side did since the step started. Bounds are judged as soon as
/// a step has enough requests, so a broken version is rolled back without waiting for the step.
pub fn decide(p: &Progressive, served: bool, now: i64, measured: Option<Measured>) -> Decision {
    if !served {
        return Decision::Wait;
    }
    if p.step_at == 0 {
        return Decision::Started;
    }
    if let Some(m) = measured.filter(|m| m.requests >= p.min_requests.max(1)) {
        if m.err_5xx_pct > p.max_5xx_pct {
            return Decision::RollBack(format!(
                "the new side answered {:.1} % 5xx over {} requests at {} % (at most {} %)",
                m.err_5xx_pct, m.requests, p.steps[p.step], p.max_5xx_pct
            ));
        }
        if m.p99_ms > p.max_p99_ms {
            return Decision::RollBack(format!(
                "the new side's p99 was {:.0} ms over {} requests at {} % (at most {} ms)",
                m.p99_ms, m.requests, p.steps[p.step], p.max_p99_ms
            ));
        }
    }
    if now < p.next_at {
        return Decision::Wait;
    }
    match p.steps.get(p.step + 1) {
        Some(&w) => Decision::Step(w),
        None => Decision::Confirm,
    }
}

/// The routes a service claims, as written (host or prefix, and path): what pairs services.
fn claims(s: &compose::ServiceSpec) -> BTreeSet<(String, String)> {
    s.ext.routing.values().flatten().filter_map(|t| compose::routing_target(t).ok()).map(|t| (t.host, t.path)).collect()
}

/// The release's pairs: each routed service of `new` that `old` lacks, with the service of `old`
/// that `new` lacks and that shares one of its routes. Each service is in one pair at most.
pub fn pairs(old: &compose::AppSpec, new: &compose::AppSpec) -> Vec<(String, String)> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for (name, n) in new.services.iter().filter(|(name, _)| !old.services.contains_key(*name)) {
        let wanted = claims(n);
        if wanted.is_empty() {
            continue;
        }
        let partner = old
            .services
            .iter()
            .find(|(o, s)| !new.services.contains_key(*o) && !taken.contains(*o) && !claims(s).is_disjoint(&wanted));
        if let Some((o, _)) = partner {
            taken.insert(o.clone());
            out.push((o.clone(), name.clone()));
        }
    }
    out
}

/// How a template asks to be updated: `progressive` or `blue-green` on any service (progressive
/// first), else rolling.
pub fn asked_method(spec: &compose::AppSpec) -> compose::UpdateMethod {
    use compose::UpdateMethod::*;
    let asked: Vec<_> = spec.services.values().filter_map(|s| s.ext.update_method).collect();
    if asked.contains(&Progressive) {
        Progressive
    } else if asked.contains(&BlueGreen) {
        BlueGreen
    } else {
        Rolling
    }
}

/// Why a template cannot be released blue-green, as a person reads it.
fn no_pairs(app: &str) -> Error {
    Error::invalid(
        "compose",
        format!(
            "a blue-green release of {app} needs a routed service under a new name that shares a route with the \
             service it replaces (e.g. rename web to web-v2 and keep its berth.routing.port_N label); this version \
             has none — update it as a rolling update instead"
        ),
    )
}

impl Berth {
    /// An app's release in progress, else its last one (None when it never had one): everyone
    /// who sees the app.
    pub async fn release(&self, actor: &Actor, app_id: i64) -> Result<Option<Release>> {
        let app = self.visible_app(actor, app_id, "app.read", false).await?;
        self.release_of(app.id).await
    }

    /// The app's open release, if any (and its last one otherwise).
    pub(crate) async fn release_of(&self, app_id: i64) -> Result<Option<Release>> {
        Ok(self.store.releases(app_id).await?.into_iter().next().map(Release::from))
    }

    /// Refuses a change of version while a release holds the app.
    pub(crate) async fn no_open_release(&self, app: &App) -> Result<()> {
        match self.store.release_open(app.id).await? {
            Some(r) => Err(Error::Conflict(format!(
                "app {} has a {} release of version {} in progress ({}): confirm it or roll it back first",
                app.name, r.method, r.to_version, r.state
            ))),
            None => Ok(()),
        }
    }

    /// How the template of an update asks to be released ([`asked_method`]). Templates that do
    /// not parse are rolling: the update reports their errors.
    pub(crate) async fn asked_update_method(
        &self,
        app: &App,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<compose::UpdateMethod> {
        let mut all = self.open_vars(&self.current_version(app).await?)?;
        all.extend(vars.clone());
        let parsed = self.parse_compose(compose_text, &all).await;
        Ok(parsed.map(|p| asked_method(&p.spec)).unwrap_or_default())
    }

    /// Starts a blue-green release of a new version (a job): the new services beside the old ones
    /// at weight 0. Variables not given keep their current values.
    pub async fn release_app(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<i64> {
        self.start_release(actor, app_id, compose_text, vars, None).await
    }

    /// Starts a progressive release (a job): blue-green, with the weight stepped by Berth as
    /// `plan` says while the new side stays within its bounds.
    pub async fn release_app_progressive(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
        plan: Progressive,
    ) -> Result<i64> {
        self.start_release(actor, app_id, compose_text, vars, Some(plan)).await
    }

    async fn start_release(
        &self,
        actor: &Actor,
        app_id: i64,
        compose_text: &str,
        vars: &BTreeMap<String, String>,
        progressive: Option<Progressive>,
    ) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.release", true).await?;
        let method = if progressive.is_some() { "progressive" } else { "blue-green" };
        let mut params = json!({ "app": app_id, "method": method, "variables": vars.keys().collect::<Vec<_>>() });
        if let Some(p) = &progressive {
            params["plan"] = json!({ "steps": p.steps, "interval_s": p.interval_s, "max_5xx_pct": p.max_5xx_pct,
                                     "max_p99_ms": p.max_p99_ms, "min_requests": p.min_requests });
        }
        let op = app_op("app.release", &app, app.name.clone(), params);
        let (compose_text, vars) = (compose_text.to_string(), vars.clone());
        self.launch(
            actor,
            JobSpec { op, kind: "app.release", steps: START_STEPS },
            |user: UserRef| async move {
                let claim = self.claim_app(app.id).await?;
                self.no_open_release(&app).await?;
                let progressive = progressive.map(Progressive::checked).transpose()?;
                let plan = progressive.as_ref().map(serde_json::to_string).transpose()?.unwrap_or_default();
                let current = self.current_version(&app).await?;
                let current_vars = self.open_vars(&current)?;
                let old = self.parse_compose(&current.compose, &current_vars).await?.spec;
                let mut all = current_vars;
                all.extend(vars);
                let parsed = self.parse_compose(&compose_text, &all).await?;
                self.check_policy(actor, app.cluster_id, &app.name, &parsed.spec).await?;
                self.check_routes(app.cluster_id, &app.name, &compose_text, &parsed.spec).await?;
                let pairs = pairs(&old, &parsed.spec);
                if pairs.is_empty() {
                    return Err(no_pairs(&app.name));
                }
                let sealed = self.seal_vars(&all)?;
                // The release first: a routing pass between the two writes routes the old side alone.
                let release = NewRelease {
                    app_id: app.id,
                    cluster_id: app.cluster_id,
                    from_version: app.version,
                    to_version: app.version + 1,
                    method,
                    pairs: &pairs,
                    plan: &plan,
                    by: &user.username,
                };
                let release_id = self.store.release_insert(&release, now_ms()).await?;
                let note = format!("{method} release from version {}", app.version);
                let v = NewVersion {
                    compose: &compose_text,
                    vars: &sealed,
                    action: "update",
                    note: &note,
                    by: &user.username,
                };
                let version = self.store.app_add_version(app.id, &v, "deploying", now_ms()).await?;
                let said = pairs.iter().map(|(o, n)| format!("{o} → {n}")).collect::<Vec<_>>().join(", ");
                let how = match &progressive {
                    Some(p) => format!("; Berth steps the weight {}", p.describe()),
                    None => String::new(),
                };
                let msg = format!("{method} release of version {version} started: {said} (new side at weight 0{how})");
                self.release_event(&app, "release.started", "info", msg).await;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: (app.id, release_id, parsed.spec, progressive),
                    steps: None,
                })
            },
            |berth, ctx, (id, release_id, spec, progressive)| async move {
                let result = berth.converge_job_keeping(&ctx, id, spec, How::default(), true).await;
                let app = berth.app_row(id).await?;
                match &result {
                    Ok(()) => {
                        ctx.step(5).await;
                        if let Some(p) = progressive {
                            let first = p.steps[0];
                            berth.store.release_set_weight(release_id, i64::from(first), now_ms()).await?;
                            berth.store.release_set_state(release_id, "progressing", "", now_ms()).await?;
                            ctx.detail(format!("Berth steps the weight: {}", p.describe())).await;
                            let msg = format!(
                                "the new side runs: Berth moves it to {first} % and steps on while it stays within bounds"
                            );
                            berth.release_event(&app, "release.progressing", "info", msg).await;
                        } else {
                            berth.store.release_set_state(release_id, "awaiting", "", now_ms()).await?;
                            let msg = "both sides run: move the weight, then confirm or roll back".to_string();
                            berth.release_event(&app, "release.awaiting", "info", msg).await;
                        }
                    }
                    Err(e) => {
                        let why = crate::runtime::job::job_error(e);
                        berth.store.release_set_state(release_id, "failed", &why, now_ms()).await?;
                        let msg = format!("the new side did not come up ({why}): roll the release back");
                        berth.release_event(&app, "release.failed", "error", msg).await;
                    }
                }
                result
            },
        )
        .await
    }

    /// Sets the new side's share of the shared routes (0–100 %), while the release awaits.
    pub async fn set_release_weight(&self, actor: &Actor, app_id: i64, weight: u32) -> Result<Release> {
        let app = self.visible_app(actor, app_id, "app.release.weight", true).await?;
        let op = app_op("app.release.weight", &app, app.name.clone(), json!({ "app": app_id, "weight": weight }));
        self.mutate(actor, op, |_| async move {
            if weight > 100 {
                return Err(Error::invalid("weight", "the new side's share is a percentage from 0 to 100"));
            }
            let r = self.awaiting_release(&app, false).await?;
            self.store.release_set_weight(r.id, i64::from(weight), now_ms()).await?;
            let msg = format!("new side at {weight} %, old side at {} %", 100 - weight);
            self.release_event(&app, "release.weight", "info", msg).await;
            self.release_of(app.id).await?.ok_or_else(|| Error::NotFound(format!("release of app {}", app.name)))
        })
        .await
    }

    /// The app's release that awaits a decision, or why there is none; `progressing` ones too when
    /// `or_progressing` (they can be confirmed or rolled back by hand, not weighted).
    async fn awaiting_release(&self, app: &App, or_progressing: bool) -> Result<ReleaseRow> {
        match self.store.release_open(app.id).await? {
            Some(r) if r.state == "awaiting" || (or_progressing && r.state == "progressing") => Ok(r),
            Some(r) if r.state == "progressing" => Err(Error::Conflict(format!(
                "the release of app {} is progressive: Berth sets its weight (confirm or roll it back to end it)",
                app.name
            ))),
            Some(r) => Err(Error::Conflict(format!("the release of app {} is {}", app.name, r.state))),
            None => Err(Error::Conflict(format!("app {} has no release in progress", app.name))),
        }
    }

    /// Confirms the release (a job): all traffic to the new side, then the old services removed.
    pub async fn confirm_release(&self, actor: &Actor, app_id: i64) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.release.confirm", true).await?;
        let op = app_op("app.release.confirm", &app, app.name.clone(), json!({ "app": app_id }));
        self.launch(
            actor,
            JobSpec { op, kind: "app.release.confirm", steps: CONFIRM_STEPS },
            |_| async move {
                let claim = self.claim_app(app.id).await?;
                let r = self.awaiting_release(&app, true).await?;
                let spec = self.app_spec(&app).await?;
                self.store.release_set_state(r.id, "confirming", "", now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: (app, r.id, spec),
                    steps: None,
                })
            },
            |berth, ctx, (app, release_id, spec)| async move {
                ctx.step(0).await;
                berth.move_weight(&ctx, release_id, 100).await?;
                // Removing what the new version lacks is what a rolling update does last.
                let sub = ctx.after_steps(1);
                let result = berth.converge_job_keeping(&sub, app.id, spec, How::default(), false).await;
                let (state, why) = match &result {
                    Ok(()) => ("confirmed", String::new()),
                    Err(e) => ("awaiting", crate::runtime::job::job_error(e)),
                };
                berth.store.release_set_state(release_id, state, &why, now_ms()).await?;
                if result.is_ok() {
                    let msg = "release confirmed: the new side serves everything, the old services are removed";
                    berth.release_event(&app, "release.confirmed", "info", msg.into()).await;
                }
                result
            },
        )
        .await
    }

    /// Rolls the release back (a job): all traffic to the old side, then the old version deployed
    /// again as a new version (the new services removed). Also after a release that failed to start.
    pub async fn rollback_release(&self, actor: &Actor, app_id: i64) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.release.rollback", true).await?;
        let op = app_op("app.release.rollback", &app, app.name.clone(), json!({ "app": app_id }));
        self.launch(
            actor,
            JobSpec { op, kind: "app.release.rollback", steps: ROLLBACK_STEPS },
            |user: UserRef| async move {
                let claim = self.claim_app(app.id).await?;
                let r = match self.store.release_open(app.id).await? {
                    Some(r) if matches!(r.state.as_str(), "awaiting" | "progressing" | "failed") => r,
                    Some(r) => return Err(Error::Conflict(format!("the release of app {} is {}", app.name, r.state))),
                    None => return Err(Error::Conflict(format!("app {} has no release in progress", app.name))),
                };
                let old = self
                    .store
                    .app_version(app.id, r.from_version)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("version {} of app {}", r.from_version, app.name)))?;
                let vars = self.open_vars(&old)?;
                let spec = self.parse_compose(&old.compose, &vars).await?.spec;
                // A progressive release's reason for rolling back stays said.
                self.store.release_set_state(r.id, "rolling_back", &r.message, now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: app.name.clone(),
                    claim: Some(claim),
                    input: (app, r, old, spec, user.username.clone()),
                    steps: None,
                })
            },
            |berth, ctx, (app, r, old, spec, by)| async move {
                ctx.step(0).await;
                berth.move_weight(&ctx, r.id, 0).await?;
                let note = format!("blue-green release of version {} rolled back", r.to_version);
                let v = NewVersion { compose: &old.compose, vars: &old.vars, action: "rollback", note: &note, by: &by };
                berth.store.app_add_version(app.id, &v, "deploying", now_ms()).await?;
                let sub = ctx.after_steps(1);
                let result = berth.converge_job_keeping(&sub, app.id, spec, How::default(), false).await;
                let (state, why) = match &result {
                    Ok(()) => ("rolled_back", r.message.clone()),
                    Err(e) => ("failed", crate::runtime::job::job_error(e)),
                };
                berth.store.release_set_state(r.id, state, &why, now_ms()).await?;
                if result.is_ok() {
                    let msg =
                        format!("release of version {} rolled back: the old side serves everything", r.to_version);
                    berth.release_event(&app, "release.rolled_back", "warning", msg).await;
                }
                result
            },
        )
        .await
    }

    /// Sets the new side's weight and waits until every router serves it (the routing loop writes
    /// `served_weight`); routers that do not answer within the bound are said, not waited for.
    async fn move_weight(&self, ctx: &JobCtx, release_id: i64, weight: i64) -> Result<()> {
        self.store.release_set_weight(release_id, weight, now_ms()).await?;
        ctx.detail(format!("new side at {weight} %")).await;
        let started = Instant::now();
        loop {
            let served = self.store.release_by_id(release_id).await?.map(|r| r.served_weight);
            if served == Some(weight) {
                ctx.detail(format!("every router serves the new side at {weight} %")).await;
                return Ok(());
            }
            if started.elapsed() > SERVED_WITHIN {
                ctx.detail(format!(
                    "not every router said within {} s that it serves the new weight; going on",
                    SERVED_WITHIN.as_secs()
                ))
                .await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Records an event of the app about its release (a failure to record is logged, not fatal).
    pub(crate) async fn release_event(&self, app: &App, action: &str, severity: &'static str, message: String) {
        let event = NewEvent {
            cluster_id: app.cluster_id,
            ts: now_ms(),
            kind: "app".into(),
            action: action.into(),
            app: app.name.clone(),
            service: String::new(),
            subject: app.name.clone(),
            severity,
            message,
        };
        if let Err(e) = self.store.event_insert(&[event]).await {
            tracing::warn!(app = %app.name, error = %e, "could not record the release's event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> compose::AppSpec {
        compose::parse(yaml, &BTreeMap::new()).unwrap().spec
    }

    #[test]
    fn a_progressive_release_steps_while_the_new_side_stays_within_bounds() {
        let p = Progressive { interval_s: 10, ..Default::default() }.checked().unwrap();
        assert_eq!(decide(&p, false, 1_000, None), Decision::Wait, "not served yet");
        assert_eq!(decide(&p, true, 1_000, None), Decision::Started);
        let running = Progressive { step_at: 1_000, next_at: 11_000, ..p.clone() };
        let fine = Measured { requests: 50, err_5xx_pct: 0.5, p99_ms: 20.0 };
        assert_eq!(decide(&running, true, 5_000, Some(fine)), Decision::Wait, "mid-step");
        assert_eq!(decide(&running, true, 11_000, Some(fine)), Decision::Step(25));
        assert_eq!(decide(&running, true, 11_000, None), Decision::Step(25), "no traffic: nothing to judge");
        let last = Progressive { step: 3, ..running.clone() };
        assert_eq!(decide(&last, true, 11_000, Some(fine)), Decision::Confirm);
        // Bounds are judged mid-step, once there are enough requests.
        let broken = Measured { requests: 50, err_5xx_pct: 40.0, p99_ms: 20.0 };
        assert!(
            matches!(decide(&running, true, 2_000, Some(broken)), Decision::RollBack(why) if why.contains("40.0 % 5xx"))
        );
        let slow = Measured { requests: 50, err_5xx_pct: 0.0, p99_ms: 2500.0 };
        assert!(
            matches!(decide(&running, true, 2_000, Some(slow)), Decision::RollBack(why) if why.contains("p99 was 2500 ms"))
        );
        let few = Measured { requests: 3, err_5xx_pct: 100.0, p99_ms: 0.0 };
        assert_eq!(decide(&running, true, 2_000, Some(few)), Decision::Wait, "too few requests to judge");
    }

    #[test]
    fn progressive_plans_are_checked_by_field() {
        let p = Progressive { steps: vec![10, 50], ..Default::default() }.checked().unwrap();
        assert_eq!(p.steps, [10, 50, 100]);
        assert_eq!(p.describe(), "10 → 50 → 100 %, 60 s each, at most 1 % 5xx and p99 1000 ms");
        for (bad, field) in [
            (Progressive { steps: vec![50, 25], ..Default::default() }, "steps"),
            (Progressive { steps: vec![0, 50], ..Default::default() }, "steps"),
            (Progressive { interval_s: 0, ..Default::default() }, "interval"),
            (Progressive { max_5xx_pct: 101.0, ..Default::default() }, "max_5xx"),
            (Progressive { max_p99_ms: 0.0, ..Default::default() }, "max_p99"),
        ] {
            let got = bad.checked();
            assert!(matches!(got, Err(Error::Invalid { field: ref f, .. }) if f == field), "{got:?}");
        }
    }

    #[test]
    fn renamed_routed_services_pair_with_the_service_whose_route_they_share() {
        let old = spec(
            "services:\n  web:\n    image: a\n    labels:\n      berth.routing.port_80: shop;www.shop.test\n\
             \x20 api:\n    image: a\n    labels:\n      berth.routing.port_80: shop/api\n  db:\n    image: a\n",
        );
        let new = spec(
            "services:\n  web-v2:\n    image: b\n    labels:\n      berth.routing.port_8080: www.shop.test\n\
             \x20     berth.update_method: blue-green\n\
             \x20 api:\n    image: b\n    labels:\n      berth.routing.port_80: shop/api\n\
             \x20 admin:\n    image: b\n    labels:\n      berth.routing.port_80: admin\n  db:\n    image: a\n",
        );
        assert_eq!(pairs(&old, &new), [("web".to_string(), "web-v2".to_string())]);
        assert_eq!(asked_method(&new), compose::UpdateMethod::BlueGreen);
        assert_eq!(asked_method(&old), compose::UpdateMethod::Rolling);
        // Same names (nothing renamed) or no shared route: no pair.
        assert!(pairs(&old, &old).is_empty());
        let elsewhere = spec("services:\n  web-v2:\n    image: b\n    labels:\n      berth.routing.port_80: other\n");
        assert!(pairs(&old, &elsewhere).is_empty());
    }
}
