//! Cron tasks and run-to-completion jobs. A job service (`deploy.mode: replicated-job`) is swarm's
//! `replicated-job`: swarm places its tasks, retries them as its restart policy says and counts
//! completions, but keeps no schedule and forgets finished tasks. This loop adds both, per
//! cluster, every `jobs_every` (a second by default) under the cluster's lease:
//!
//! - **Schedules**: a job with `berth.schedule` runs at each of its times. The newest time due is
//!   compared with the newest one recorded for the service (so a restart within the starting
//!   deadline still starts it, and a time further back is recorded as `missed`); the row for a
//!   time is unique, so of several replicas only the one whose insert lands starts the run. A run
//!   due while the last still goes follows the schedule's concurrency: `forbid` records it as
//!   `skipped`, `replace` stops the last (recorded as `replaced`) and starts anew, `allow` runs
//!   it in a copy of the service beside the last (removed when it ends).
//! - **Runs**: every open run is followed from its tasks (those of its job iteration): state,
//!   exit code and times per task are written into the run, and it ends `succeeded` when its
//!   completions are done, `failed` when a task failed and swarm has nothing left to try (or its
//!   `berth.job.deadline` passed: it is stopped), `replaced` when something else started a new
//!   iteration. The logs of its tasks stay in the log store, read by container.
//! - A job without a schedule runs when deployed: a new iteration nobody recorded is a run by
//!   the trigger `deploy`. **Run now** (`Berth::run_job_now`) starts one by hand.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;

use compose::Concurrency;

use super::schedule;
use crate::apps::app::app_op;
use crate::apps::plan::{APP_LABEL, VERSION_LABEL};
use crate::authz::Actor;
use crate::clock::now_ms;
use crate::clusters::reconcile::Follower;
use crate::engine::{Engine, LiveService, ServiceTask, JOB_COMPLETIONS};
use crate::error::{Error, Result};
use crate::runtime::lease;
use crate::store::{App, JobRunRow, LogFilter, LogLine};
use crate::Berth;

/// The actor scheduled runs are recorded under.
pub const SCHEDULER: &str = "scheduler";

/// The label on the copy of a job service that runs one overlapping run (its run's id).
pub const RUN_LABEL: &str = "berth.job.run";

/// How long ended runs are kept (besides the newest [`crate::store::RUNS_KEPT`] per service).
pub const RUNS_RETAINED_MS: i64 = 30 * 24 * 3600 * 1000;

/// A run that has no iteration this long after it was recorded never started (its starter died).
const START_GRACE_MS: i64 = 60_000;

/// How long after its last failed task a run waits for swarm's retry before it is failed.
const RETRY_SLACK_MS: i64 = 3_000;

/// How often leftover overlap copies are looked for.
const SWEEP_EVERY_MS: i64 = 60_000;

/// How long a finished overlap copy stays, so that the collector reads its tasks' logs to the end.
const COPY_KEPT_MS: i64 = 30_000;

/// One task of a run, as kept after swarm forgets it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTask {
    pub id: String,
    pub slot: Option<i64>,
    /// The swarm node id.
    pub node_id: String,
    pub container_id: String,
    /// Swarm's task state: `pending`, `running`, `complete`, `failed`, `shutdown`, `rejected`, …
    pub state: String,
    pub exit_code: Option<i64>,
    pub started_at: i64,
    /// When it reached its final state.
    pub ended_at: Option<i64>,
    /// Swarm's error for the task ("task: non-zero exit (3)"), or its status message.
    pub error: String,
}

/// One run of a job, as the Jobs tab and REST show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub id: i64,
    pub service: String,
    /// `schedule`, `manual` or `deploy`.
    pub trigger: String,
    pub actor: String,
    pub scheduled_at: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `running`, `succeeded`, `failed`, `replaced`, `skipped` or `missed`.
    pub state: String,
    pub completions: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
    pub message: String,
    pub tasks: Vec<RunTask>,
}

impl JobRun {
    fn from_row(r: JobRunRow) -> JobRun {
        JobRun {
            tasks: serde_json::from_str(&r.tasks).unwrap_or_default(),
            id: r.id,
            service: r.service,
            trigger: r.trigger,
            actor: r.actor,
            scheduled_at: r.scheduled_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            state: r.state,
            completions: r.completions,
            succeeded_tasks: r.succeeded_tasks,
            failed_tasks: r.failed_tasks,
            message: r.message,
        }
    }
}

/// A job's schedule as the Jobs tab shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSchedule {
    pub cron: String,
    pub timezone: String,
    pub concurrency: String,
    pub starting_deadline_s: u64,
    /// In words ("Every 10 seconds").
    pub describe: String,
    /// The next five times (Unix ms).
    pub next: Vec<i64>,
}

/// A job service of an app: how it runs, and its newest runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobService {
    pub service: String,
    pub completions: u64,
    pub parallelism: u64,
    /// Swarm's retries ("none", "on failure, at most 3 attempts").
    pub retries: String,
    pub deadline_s: Option<u64>,
    pub schedule: Option<JobSchedule>,
    pub runs: Vec<JobRun>,
}

/// An app's jobs, with the names of its cluster's nodes (swarm node id → name) for their tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppJobs {
    pub jobs: Vec<JobService>,
    pub nodes: Vec<(String, String)>,
}

/// A run with its tasks' logs (from the log store: they outlive the containers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRunDetail {
    pub run: JobRun,
    /// Swarm node id → the node's name in Berth.
    pub nodes: Vec<(String, String)>,
    /// The newest lines of each task's container, oldest first (task id, lines).
    pub logs: Vec<(String, Vec<LogLine>)>,
}

/// A job service of an app's current version.
#[derive(Clone, Debug)]
struct JobDef {
    service: String,
    completions: u64,
    parallelism: u64,
    deadline_s: Option<u64>,
    /// How long swarm waits before a retry, when it retries at all.
    retry_delay_ms: Option<i64>,
    /// How many failed tasks a run may have before Berth stops it (swarm retries a job's failed
    /// tasks whatever its restart policy says when several run at once): none without retries,
    /// `max_attempts` per completion with them, no bound with unlimited retries.
    allowed_failures: Option<u64>,
    schedule: Option<(compose::Schedule, Arc<schedule::Schedule>)>,
}

fn job_defs(spec: &compose::AppSpec) -> Vec<JobDef> {
    spec.services
        .iter()
        .filter_map(|(name, s)| {
            let compose::Mode::Job { completions, parallelism } = s.mode else { return None };
            let retries = s.restart.condition.as_deref().is_some_and(|c| c != "none");
            Some(JobDef {
                service: name.clone(),
                completions,
                parallelism,
                deadline_s: s.ext.job_deadline_s,
                retry_delay_ms: retries.then(|| s.restart.delay_ns.unwrap_or(5_000_000_000) / 1_000_000),
                allowed_failures: match (retries, s.restart.max_attempts) {
                    (false, _) => Some(0),
                    (true, Some(n)) => Some(n.saturating_mul(completions)),
                    (true, None) => None,
                },
                schedule: s.ext.schedule.as_ref().and_then(|sc| {
                    let compiled = schedule::parse(&sc.cron, &sc.timezone, "berth.schedule").ok()?;
                    Some((sc.clone(), Arc::new(compiled)))
                }),
            })
        })
        .collect()
}

fn retries_text(s: &compose::ServiceSpec) -> String {
    match (s.restart.condition.as_deref(), s.restart.max_attempts) {
        (None | Some("none"), _) => "none".into(),
        (Some(c), Some(n)) => format!("{}, at most {n} attempt(s)", c.replace('-', " ")),
        (Some(c), None) => format!("{}, without limit", c.replace('-', " ")),
    }
}

/// An app's job services, shared between passes.
type JobDefs = Arc<Vec<JobDef>>;

/// What the job loops remember.
#[derive(Debug, Default)]
pub(crate) struct State {
    loops: Mutex<HashMap<i64, JoinHandle<()>>>,
    /// Each app's job services, parsed from its current version (app id → (version, jobs)).
    defs: Mutex<HashMap<i64, (i64, JobDefs)>>,
    /// Each scheduled job's newest time handled (app id, service) → Unix ms.
    handled: Mutex<HashMap<(i64, String), i64>>,
    /// Each unscheduled job's newest iteration recorded (app id, service) → iteration.
    known: Mutex<HashMap<(i64, String), u64>>,
    /// Overlap copies to remove (cluster, service name, when).
    copies: Mutex<Vec<(i64, String, i64)>>,
    /// When each cluster's leftover copies were last looked for (Unix ms).
    swept: Mutex<HashMap<i64, i64>>,
    last_expiry: Mutex<i64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn terminal(state: &str) -> bool {
    matches!(state, "complete" | "failed" | "shutdown" | "rejected" | "orphaned" | "remove")
}

/// Swarm's words for the newest failed task.
fn last_error(tasks: &[&ServiceTask]) -> String {
    tasks
        .iter()
        .filter(|t| matches!(t.state.as_str(), "failed" | "rejected"))
        .max_by_key(|t| t.updated_at)
        .map(|t| if t.error.is_empty() { t.message.clone() } else { t.error.clone() })
        .unwrap_or_default()
}

fn run_task(t: &ServiceTask) -> RunTask {
    RunTask {
        id: t.id.clone(),
        slot: t.slot,
        node_id: t.node_id.clone(),
        container_id: t.container_id.clone(),
        state: t.state.clone(),
        exit_code: t.exit_code,
        started_at: t.created_at,
        ended_at: terminal(&t.state).then_some(t.updated_at),
        error: if t.error.is_empty() && t.state != "complete" { t.message.clone() } else { t.error.clone() },
    }
}

/// The app's job service on the swarm.
fn swarm_name(app: &str, service: &str) -> String {
    format!("{app}_{service}")
}

impl Berth {
    pub(crate) fn start_jobs(&self, cluster_id: i64) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.jobs_every, move || {
            let berth = berth.clone();
            async move {
                if !berth.hold_lease(&lease::cluster(cluster_id), berth.cluster_lease_ttl()).await {
                    return;
                }
                if let Err(e) = berth.jobs_pass(cluster_id, now_ms()).await {
                    tracing::debug!(cluster = cluster_id, error = %e, "jobs pass failed");
                }
            }
        });
        if let Some(old) = lock(&self.job_runs.loops).insert(cluster_id, handle) {
            old.abort();
        }
        lock(&self.job_runs.swept).remove(&cluster_id);
    }

    pub(crate) fn stop_jobs(&self, cluster_id: i64) {
        if let Some(h) = lock(&self.job_runs.loops).remove(&cluster_id) {
            h.abort();
        }
    }

    pub(crate) fn take_job_loops(&self) -> Vec<JoinHandle<()>> {
        lock(&self.job_runs.loops).drain().map(|(_, h)| h).collect()
    }

    /// The job services of an app's current version (parsed once per version).
    async fn jobs_of(&self, app: &App) -> Result<Arc<Vec<JobDef>>> {
        if let Some((version, defs)) = lock(&self.job_runs.defs).get(&app.id) {
            if *version == app.version {
                return Ok(defs.clone());
            }
        }
        let defs = Arc::new(job_defs(&self.app_spec(app).await?));
        lock(&self.job_runs.defs).insert(app.id, (app.version, defs.clone()));
        Ok(defs)
    }

    /// One pass over a cluster's jobs at `now`: follows open runs, starts what is due.
    pub(crate) async fn jobs_pass(&self, cluster_id: i64, now: i64) -> Result<()> {
        let apps = self.store.apps(Some(cluster_id)).await?;
        let mut jobs = Vec::new();
        for app in apps {
            if matches!(app.status.as_str(), "deleting" | "failed") && app.version == 0 {
                continue;
            }
            match self.jobs_of(&app).await {
                Ok(defs) if !defs.is_empty() => jobs.push((app, defs)),
                Ok(_) => {}
                Err(e) => tracing::debug!(app = app.id, error = %e, "could not read the app's jobs"),
            }
        }
        let open = self.store.job_runs_open(cluster_id).await?;
        let copies_due = lock(&self.job_runs.copies).iter().any(|(c, _, _)| *c == cluster_id);
        // Copies whose run is gone (Berth stopped meanwhile, or the app was deleted under it) are
        // looked for when the loop starts and every minute.
        let swept = lock(&self.job_runs.swept).get(&cluster_id).is_some_and(|at| now - at < SWEEP_EVERY_MS);
        if jobs.is_empty() && open.is_empty() && !copies_due && swept {
            return Ok(());
        }
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let installation = self.installation().await?;
        let owned = crate::clusters::cluster::owned_by(&installation, cluster_id);
        let live: HashMap<String, LiveService> =
            manager.services_labelled(&owned).await?.into_iter().map(|s| (s.name.clone(), s)).collect();
        if !swept {
            self.sweep_copies(cluster_id, &manager, &live, &open).await;
        }
        self.remove_copies(cluster_id, &manager, now).await;

        // Follow what runs.
        let by_app: HashMap<i64, (&App, &Arc<Vec<JobDef>>)> = jobs.iter().map(|(a, d)| (a.id, (a, d))).collect();
        let mut still_open: HashMap<(i64, String), Vec<JobRunRow>> = HashMap::new();
        for o in open {
            let def = by_app.get(&o.run.app_id).and_then(|(_, defs)| defs.iter().find(|d| d.service == o.run.service));
            let run = self.follow_run(cluster_id, &manager, &live, &o.app_name, o.run, def, now).await;
            if let Some(run) = run {
                still_open.entry((run.app_id, run.service.clone())).or_default().push(run);
            }
        }

        // Start what is due, and record deploys' runs.
        for (app, defs) in &jobs {
            let stopped = app.overrides().stopped || matches!(app.status.as_str(), "stopped" | "deleting");
            for def in defs.iter() {
                let key = (app.id, def.service.clone());
                let open = still_open.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                let Some(service) = live.get(&swarm_name(&app.name, &def.service)) else { continue };
                match &def.schedule {
                    Some((sc, compiled)) => {
                        if stopped || app.status == "deploying" {
                            continue;
                        }
                        if let Err(e) = self.run_if_due(app, def, sc, compiled, &manager, service, open, now).await {
                            tracing::warn!(app = app.id, service = %def.service, error = %e, "a scheduled run failed to start");
                        }
                    }
                    None => {
                        if let Err(e) = self.record_deploy_run(app, def, service, open, stopped, now).await {
                            tracing::debug!(app = app.id, service = %def.service, error = %e, "could not record a run");
                        }
                    }
                }
            }
        }

        let expire = {
            let mut last = lock(&self.job_runs.last_expiry);
            let due = now - *last > 3_600_000;
            if due {
                *last = now;
            }
            due
        };
        if expire {
            self.store.job_runs_expire(now - RUNS_RETAINED_MS).await?;
        }
        Ok(())
    }

    /// Removes overlap copies left by an earlier process whose runs are no longer open.
    async fn sweep_copies(
        &self,
        cluster_id: i64,
        manager: &Engine,
        live: &HashMap<String, LiveService>,
        open: &[crate::store::OpenRunRow],
    ) {
        let open: HashSet<String> = open.iter().map(|o| o.run.id.to_string()).collect();
        let mut gone = true;
        for s in live.values() {
            let Some(run) = s.labels.get(RUN_LABEL) else { continue };
            if !open.contains(run) && manager.service_remove(&s.name).await.is_err() {
                gone = false;
            }
        }
        if gone {
            lock(&self.job_runs.swept).insert(cluster_id, now_ms());
        }
    }

    async fn remove_copies(&self, cluster_id: i64, manager: &Engine, now: i64) {
        let due: Vec<String> = {
            let mut copies = lock(&self.job_runs.copies);
            let due =
                copies.iter().filter(|(c, _, at)| *c == cluster_id && *at <= now).map(|(_, n, _)| n.clone()).collect();
            copies.retain(|(c, _, at)| !(*c == cluster_id && *at <= now));
            due
        };
        for name in due {
            if let Err(e) = manager.service_remove(&name).await {
                tracing::debug!(service = %name, error = %e, "could not remove a finished run's copy");
                lock(&self.job_runs.copies).push((cluster_id, name, now + COPY_KEPT_MS));
            }
        }
    }

    /// Brings an open run up to date from its tasks; returns it when it is still open.
    #[allow(clippy::too_many_arguments)]
    async fn follow_run(
        &self,
        cluster_id: i64,
        manager: &Engine,
        live: &HashMap<String, LiveService>,
        app_name: &str,
        mut run: JobRunRow,
        def: Option<&JobDef>,
        now: i64,
    ) -> Option<JobRunRow> {
        let Some(iteration) = run.iteration else {
            if now - run.started_at > START_GRACE_MS {
                run.state = "failed".into();
                run.ended_at = Some(now);
                run.message = "the run never started: Berth stopped while starting it".into();
                self.end_run(cluster_id, &run).await;
                return None;
            }
            return Some(run);
        };
        let copy = run.swarm_service != swarm_name(app_name, &run.service);
        let Some(service) = live.get(&run.swarm_service) else {
            run.state = "failed".into();
            run.ended_at = Some(now);
            run.message = format!("the service {} was removed from the swarm", run.swarm_service);
            self.end_run(cluster_id, &run).await;
            return None;
        };
        let tasks = match manager.service_tasks(&run.swarm_service).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(run = run.id, error = %e, "could not read a run's tasks");
                return Some(run);
            }
        };
        let mine: Vec<&ServiceTask> = tasks.iter().filter(|t| t.job_iteration == Some(iteration as u64)).collect();
        let kept: Vec<RunTask> = mine.iter().map(|t| run_task(t)).collect();
        let before = (run.tasks.clone(), run.succeeded_tasks, run.failed_tasks);
        run.succeeded_tasks = mine.iter().filter(|t| t.state == "complete").count() as i64;
        run.failed_tasks = mine.iter().filter(|t| matches!(t.state.as_str(), "failed" | "rejected")).count() as i64;
        run.tasks = serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into());
        let active = mine.iter().filter(|t| !terminal(&t.state)).count();
        let last_change = mine.iter().map(|t| t.updated_at).max().unwrap_or(run.started_at);
        let deadline = def.and_then(|d| d.deadline_s);

        let ending = if run.succeeded_tasks >= run.completions {
            Some(("succeeded", String::new()))
        } else if service.job_iteration != Some(iteration as u64) && !copy {
            Some(("replaced", "a newer run of the job started (a deploy, a stop or Run now)".to_string()))
        } else if let Some(limit) = deadline.filter(|s| now - run.started_at > *s as i64 * 1000) {
            self.stop_run(manager, &run, copy).await;
            Some(("failed", format!("still going after its deadline of {limit} s: stopped")))
        } else if let Some(allowed) = def.and_then(|d| d.allowed_failures).filter(|a| run.failed_tasks as u64 > *a) {
            self.stop_run(manager, &run, copy).await;
            let retries =
                if allowed == 0 { "the job has no retries".to_string() } else { format!("{allowed} allowed") };
            Some((
                "failed",
                format!(
                    "{} of {} task(s) failed ({retries}), the rest stopped: {}",
                    run.failed_tasks,
                    run.completions,
                    last_error(&mine)
                ),
            ))
        } else if active == 0
            && run.failed_tasks > 0
            && now - last_change >= def.and_then(|d| d.retry_delay_ms).unwrap_or(0) + RETRY_SLACK_MS
        {
            Some((
                "failed",
                format!("{} of {} task(s) failed: {}", run.failed_tasks, run.completions, last_error(&mine)),
            ))
        } else if mine.is_empty() && now - run.started_at > START_GRACE_MS {
            Some(("failed", "swarm made no task for the run in a minute".to_string()))
        } else {
            None
        };
        if let Some((state, message)) = ending {
            run.state = state.into();
            run.message = message;
            run.ended_at = Some(if state == "succeeded" { last_change } else { now });
            if copy {
                lock(&self.job_runs.copies).push((cluster_id, run.swarm_service.clone(), now + COPY_KEPT_MS));
            }
            self.end_run(cluster_id, &run).await;
            return None;
        }
        if (run.tasks.clone(), run.succeeded_tasks, run.failed_tasks) != before {
            if let Err(e) = self.store.job_run_update(&run).await {
                tracing::debug!(run = run.id, error = %e, "could not write a run");
            }
        }
        Some(run)
    }

    /// Stops a run's tasks: its copy removed, or the job's service given an empty iteration.
    async fn stop_run(&self, manager: &Engine, run: &JobRunRow, copy: bool) {
        let stopped = if copy {
            manager.service_remove(&run.swarm_service).await
        } else {
            manager.service_stop_job(&run.swarm_service, run.completions as u64).await.map(|_| ())
        };
        if let Err(e) = stopped {
            tracing::warn!(run = run.id, error = %e, "could not stop a run");
        }
    }

    async fn end_run(&self, cluster_id: i64, run: &JobRunRow) {
        match self.store.job_run_update(run).await {
            Ok(_) => {
                tracing::info!(cluster = cluster_id, run = run.id, service = %run.service, state = %run.state, "job run ended")
            }
            Err(e) => tracing::warn!(run = run.id, error = %e, "could not write a run's end"),
        }
    }

    /// Starts a scheduled job's run when one of its times is due and not handled yet.
    #[allow(clippy::too_many_arguments)]
    async fn run_if_due(
        &self,
        app: &App,
        def: &JobDef,
        sc: &compose::Schedule,
        compiled: &schedule::Schedule,
        manager: &Arc<Engine>,
        service: &LiveService,
        open: &[JobRunRow],
        now: i64,
    ) -> Result<()> {
        let Some(due) = compiled.last_at_or_before(now) else { return Ok(()) };
        let key = (app.id, def.service.clone());
        let handled = lock(&self.job_runs.handled).get(&key).copied();
        let handled = match handled {
            Some(h) => h,
            None => {
                // The newest time recorded, or (a job never run) the times before now are not ours.
                let h = self.store.job_last_scheduled(app.id, &def.service).await?.unwrap_or(now);
                lock(&self.job_runs.handled).insert(key.clone(), h);
                h
            }
        };
        if due <= handled {
            return Ok(());
        }
        lock(&self.job_runs.handled).insert(key, due);
        let base = JobRunRow {
            app_id: app.id,
            service: def.service.clone(),
            swarm_service: service.name.clone(),
            trigger: "schedule".into(),
            actor: SCHEDULER.into(),
            scheduled_at: Some(due),
            started_at: now,
            completions: def.completions as i64,
            tasks: "[]".into(),
            ..Default::default()
        };
        if now - due > sc.starting_deadline_s as i64 * 1000 {
            let row = JobRunRow {
                state: "missed".into(),
                ended_at: Some(now),
                message: format!(
                    "not started within its starting deadline of {} s (Berth or the cluster was away)",
                    sc.starting_deadline_s
                ),
                ..base
            };
            self.store.job_run_insert(&row).await?;
            return Ok(());
        }
        if let (Some(going), Concurrency::Forbid) = (open.first(), sc.concurrency) {
            let row = JobRunRow {
                state: "skipped".into(),
                ended_at: Some(now),
                message: format!("run {} was still going (concurrency forbid)", going.id),
                ..base
            };
            self.store.job_run_insert(&row).await?;
            return Ok(());
        }
        let op = app_op(
            "app.job.run",
            app,
            format!("{}/{}", app.name, def.service),
            json!({ "app": app.id, "service": def.service, "trigger": "schedule", "scheduled_at": due }),
        );
        let actor = Actor::system(SCHEDULER);
        self.mutate(&actor, op, |_| self.start_run(app, def, sc.concurrency, manager, service, open, base)).await?;
        Ok(())
    }

    /// Records the run a deploy started (a job without a schedule runs when deployed).
    async fn record_deploy_run(
        &self,
        app: &App,
        def: &JobDef,
        service: &LiveService,
        open: &[JobRunRow],
        stopped: bool,
        now: i64,
    ) -> Result<()> {
        let Some(iteration) = service.job_iteration else { return Ok(()) };
        let key = (app.id, def.service.clone());
        if lock(&self.job_runs.known).get(&key) == Some(&iteration) {
            return Ok(());
        }
        // A run being started (no iteration yet) or followed already.
        if open.iter().any(|r| r.iteration.is_none() || r.iteration == Some(iteration as i64)) {
            if open.iter().any(|r| r.iteration == Some(iteration as i64)) {
                lock(&self.job_runs.known).insert(key, iteration);
            }
            return Ok(());
        }
        let newest = self.store.job_runs(app.id, &def.service, 1).await?;
        let recorded = newest.first().is_some_and(|r| r.iteration == Some(iteration as i64));
        // A stopped app's job cannot place tasks: its iteration is no run.
        if !recorded && !stopped && service.spec.mode.is_job() {
            let completions = match service.labels.get(JOB_COMPLETIONS) {
                Some(_) => return Ok(()),
                None => def.completions,
            };
            let row = JobRunRow {
                app_id: app.id,
                service: def.service.clone(),
                swarm_service: service.name.clone(),
                trigger: "deploy".into(),
                actor: app.created_by.clone(),
                started_at: now,
                state: "running".into(),
                iteration: Some(iteration as i64),
                completions: completions as i64,
                tasks: "[]".into(),
                ..Default::default()
            };
            self.store.job_run_insert(&row).await?;
        }
        lock(&self.job_runs.known).insert(key, iteration);
        Ok(())
    }

    /// Starts a run of `def` as its concurrency says, given the runs still open; records it (the
    /// row `base` with the run's iteration) and returns its id. A scheduled run's time already
    /// recorded (by another replica) is not started again: `Ok(None)`.
    #[allow(clippy::too_many_arguments)]
    async fn start_run(
        &self,
        app: &App,
        def: &JobDef,
        concurrency: Concurrency,
        manager: &Arc<Engine>,
        service: &LiveService,
        open: &[JobRunRow],
        base: JobRunRow,
    ) -> Result<Option<i64>> {
        let now = base.started_at;
        let going: Vec<&JobRunRow> = open.iter().collect();
        if let (Some(first), Concurrency::Forbid) = (going.first(), concurrency) {
            return Err(Error::Conflict(format!(
                "run {} of {} is still going: wait for it to end (the job's concurrency is forbid)",
                first.id, def.service
            )));
        }
        let mut row = JobRunRow { state: "running".into(), ..base };
        let Some(id) = self.store.job_run_insert(&row).await? else { return Ok(None) };
        row.id = id;
        let overlap = !going.is_empty() && concurrency == Concurrency::Allow;
        let started: Result<(String, u64)> = async {
            if overlap {
                let copy = format!("{}-r{id}", service.name);
                manager
                    .service_run_copy(
                        &service.name,
                        &copy,
                        def.completions,
                        def.parallelism,
                        &[APP_LABEL, VERSION_LABEL, JOB_COMPLETIONS],
                        &[(RUN_LABEL, id.to_string())],
                    )
                    .await?;
                let live = manager.service(&copy).await?;
                return Ok((copy, live.and_then(|s| s.job_iteration).unwrap_or(0)));
            }
            if concurrency == Concurrency::Replace {
                for old in &going {
                    let mut old = (*old).clone();
                    old.state = "replaced".into();
                    old.ended_at = Some(now);
                    old.message = format!("replaced by run {id} (concurrency replace)");
                    self.store.job_run_update(&old).await?;
                    if old.swarm_service != service.name {
                        manager.service_remove(&old.swarm_service).await?;
                    }
                }
            }
            let iteration = manager.service_run_job(&service.name, def.completions, def.parallelism).await?;
            Ok((service.name.clone(), iteration))
        }
        .await;
        match started {
            Ok((swarm_service, iteration)) => {
                row.swarm_service = swarm_service;
                row.iteration = Some(iteration as i64);
                self.store.job_run_update(&row).await?;
                lock(&self.job_runs.known).insert((app.id, def.service.clone()), iteration);
                Ok(Some(id))
            }
            Err(e) => {
                row.state = "failed".into();
                row.ended_at = Some(now_ms());
                row.message = format!("could not start: {e}");
                self.store.job_run_update(&row).await?;
                Err(e)
            }
        }
    }

    /// Starts a run of a job service now (an operator's **Run now**); returns the run's id.
    pub async fn run_job_now(&self, actor: &Actor, app_id: i64, service: &str) -> Result<i64> {
        let app = self.visible_app(actor, app_id, "app.job.run", true).await?;
        let op = app_op(
            "app.job.run",
            &app,
            format!("{}/{service}", app.name),
            json!({ "app": app_id, "service": service, "trigger": "manual" }),
        );
        self.mutate(actor, op, |_| self.run_job_now_work(actor, &app, service)).await
    }

    async fn run_job_now_work(&self, actor: &Actor, app: &App, service: &str) -> Result<i64> {
        let defs = self.jobs_of(app).await?;
        let Some(def) = defs.iter().find(|d| d.service == service) else {
            return Err(Error::invalid("service", format!("{service} is not a job of app {}", app.name)));
        };
        if app.overrides().stopped {
            return Err(Error::Conflict(format!("app {} is stopped: start it first", app.name)));
        }
        let (_, manager) = self.reachable_manager(app.cluster_id).await?;
        let name = swarm_name(&app.name, service);
        let Some(live) = manager.service(&name).await? else {
            return Err(Error::Conflict(format!(
                "{service} of {} is not on the swarm: redeploy the app first",
                app.name
            )));
        };
        let open: Vec<JobRunRow> = self
            .store
            .job_runs_open(app.cluster_id)
            .await?
            .into_iter()
            .map(|o| o.run)
            .filter(|r| r.app_id == app.id && r.service == service)
            .collect();
        let concurrency = def.schedule.as_ref().map(|(s, _)| s.concurrency).unwrap_or_default();
        let base = JobRunRow {
            app_id: app.id,
            service: service.to_string(),
            swarm_service: name,
            trigger: "manual".into(),
            actor: actor.user().map(|u| u.username.clone()).unwrap_or_default(),
            started_at: now_ms(),
            completions: def.completions as i64,
            tasks: "[]".into(),
            ..Default::default()
        };
        self.start_run(app, def, concurrency, &manager, &live, &open, base)
            .await?
            .ok_or_else(|| Error::Conflict("the run was not started".into()))
    }

    /// An app's job services with their schedules and newest runs.
    pub async fn app_jobs(&self, actor: &Actor, app_id: i64) -> Result<AppJobs> {
        let app = self.visible_app(actor, app_id, "app.jobs.read", false).await?;
        let spec = self.app_spec(&app).await?;
        let now = now_ms();
        let mut out = Vec::new();
        for (name, s) in &spec.services {
            let compose::Mode::Job { completions, parallelism } = s.mode else { continue };
            let schedule = s.ext.schedule.as_ref().map(|sc| {
                let compiled = schedule::parse(&sc.cron, &sc.timezone, "berth.schedule").ok();
                JobSchedule {
                    cron: sc.cron.clone(),
                    timezone: sc.timezone.clone(),
                    concurrency: sc.concurrency.as_str().into(),
                    starting_deadline_s: sc.starting_deadline_s,
                    describe: compiled.as_ref().map(|c| c.describe()).unwrap_or_default(),
                    next: compiled.map(|c| c.upcoming(now, 5)).unwrap_or_default(),
                }
            });
            let runs = self.store.job_runs(app.id, name, 20).await?.into_iter().map(JobRun::from_row).collect();
            out.push(JobService {
                service: name.clone(),
                completions,
                parallelism,
                retries: retries_text(s),
                deadline_s: s.ext.job_deadline_s,
                schedule,
                runs,
            });
        }
        let nodes = self.store.nodes(app.cluster_id).await?.into_iter().map(|n| (n.swarm_node_id, n.name)).collect();
        Ok(AppJobs { jobs: out, nodes })
    }

    /// One run of an app's job with its tasks' logs.
    pub async fn job_run(&self, actor: &Actor, app_id: i64, run_id: i64) -> Result<JobRunDetail> {
        let app = self.visible_app(actor, app_id, "app.jobs.read", false).await?;
        let run = match self.store.job_run(run_id).await? {
            Some(r) if r.app_id == app.id => JobRun::from_row(r),
            _ => return Err(Error::NotFound(format!("run {run_id} of app {}", app.name))),
        };
        let nodes = self.store.nodes(app.cluster_id).await?.into_iter().map(|n| (n.swarm_node_id, n.name)).collect();
        let mut logs = Vec::new();
        for t in run.tasks.iter().filter(|t| !t.container_id.is_empty()) {
            let filter = LogFilter {
                cluster_id: app.cluster_id,
                container: t.container_id.clone(),
                limit: 200,
                ..Default::default()
            };
            let mut lines = self.store.log_lines(&filter).await?;
            lines.sort_by_key(|l| (l.ts, l.id));
            logs.push((t.id.clone(), lines));
        }
        Ok(JobRunDetail { run, nodes, logs })
    }
}

/// Follows each cluster's reconciler: its jobs loop runs while the cluster is reconciled.
pub(crate) struct Jobs;

impl Follower for Jobs {
    fn start(&self, berth: &Berth, cluster_id: i64) {
        berth.start_jobs(cluster_id);
    }

    fn stop(&self, berth: &Berth, cluster_id: i64) {
        berth.stop_jobs(cluster_id);
    }
}

/// How often the jobs loop looks (a second: a schedule with seconds starts within one).
pub const JOBS_EVERY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> compose::AppSpec {
        compose::parse(text, &Default::default()).expect("a valid template").spec
    }

    #[test]
    fn job_services_are_read_from_the_template() {
        let s = spec(
            "services:\n  web:\n    image: nginx\n  batch:\n    image: busybox\n    deploy:\n      mode: replicated-job\n      replicas: 3\n      restart_policy:\n        condition: on-failure\n        delay: 2s\n        max_attempts: 2\n    labels:\n      berth.job.parallelism: \"2\"\n      berth.job.deadline: \"30\"\n  nightly:\n    image: busybox\n    labels:\n      berth.schedule: \"0 3 * * *\"\n      berth.schedule.timezone: Europe/Berlin\n",
        );
        let defs = job_defs(&s);
        let names: Vec<&str> = defs.iter().map(|d| d.service.as_str()).collect();
        assert_eq!(names, ["batch", "nightly"], "a replicated service is no job");
        let batch = &defs[0];
        assert_eq!((batch.completions, batch.parallelism, batch.deadline_s), (3, 2, Some(30)));
        assert_eq!(batch.retry_delay_ms, Some(2_000));
        assert_eq!(batch.allowed_failures, Some(6), "2 attempts for each of 3 completions");
        assert!(batch.schedule.is_none());
        assert_eq!(retries_text(&s.services["batch"]), "on failure, at most 2 attempt(s)");
        let nightly = &defs[1];
        assert_eq!(nightly.retry_delay_ms, None, "a job retries nothing unless its restart policy says so");
        assert_eq!(nightly.allowed_failures, Some(0));
        assert_eq!(retries_text(&s.services["nightly"]), "none");
        let (sc, compiled) = nightly.schedule.as_ref().expect("scheduled");
        assert_eq!(sc.timezone, "Europe/Berlin");
        // 03:00 in Berlin on 2026-12-05 is 02:00 UTC.
        let at = compiled.next_after(1_796_428_800_000).unwrap();
        assert_eq!(at % 86_400_000, 2 * 3_600_000);
    }

    #[test]
    fn a_task_is_kept_with_its_end_only_once_it_ended() {
        let mut t = ServiceTask {
            id: "t".into(),
            state: "running".into(),
            created_at: 1_000,
            updated_at: 2_000,
            message: "started".into(),
            ..Default::default()
        };
        let running = run_task(&t);
        assert_eq!((running.ended_at, running.exit_code), (None, None));
        assert_eq!(running.error, "started", "swarm's message stands in while there is no error");
        t.state = "failed".into();
        t.exit_code = Some(3);
        t.error = "task: non-zero exit (3)".into();
        t.updated_at = 5_000;
        let failed = run_task(&t);
        assert_eq!((failed.ended_at, failed.exit_code, failed.started_at), (Some(5_000), Some(3), 1_000));
        assert_eq!(failed.error, "task: non-zero exit (3)");
        t.state = "complete".into();
        t.error.clear();
        assert_eq!(run_task(&t).error, "", "a completed task has no error");
        for (state, ended) in
            [("complete", true), ("shutdown", true), ("rejected", true), ("pending", false), ("starting", false)]
        {
            assert_eq!(terminal(state), ended, "{state}");
        }
    }
}
