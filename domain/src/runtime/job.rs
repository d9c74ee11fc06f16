//! Jobs: multi-step work that outlives the request that started it (creating a cluster, adding or
//! removing nodes, deleting a cluster), with progress a console can follow and revisit.
//!
//! [`Berth::launch`] authorizes and prepares synchronously (a refusal or a bad request is answered and
//! recorded at once), then runs the work in the background. Each step's start and end is persisted;
//! the end of the job writes the one operation-history row of the attempt. A job found `running` when
//! Berth starts was interrupted and is failed by [`Berth::recover`](crate::Berth::recover).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use serde_json::Value;

use crate::audit::operation::{Attempt, Op, Who};
use crate::authz::{authorize, Actor, UserRef};
use crate::clock::now_ms;
use crate::error::{Error, Internal, Result};
use crate::Berth;

pub use crate::store::{Job, Step};

impl Step {
    fn pending(name: &str) -> Step {
        Step { name: name.into(), state: "pending".into(), started_at: None, finished_at: None, detail: String::new() }
    }
}

/// What a job holds while it runs: a cluster (creating, growing, deleting it) or one app (deploying,
/// updating, deleting it). Apps of one cluster deploy side by side; one app runs one job at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Held {
    Cluster(i64),
    App(i64),
}

/// Clusters and apps with a job in flight in this process.
#[derive(Debug, Default)]
pub(crate) struct Busy(Mutex<HashSet<Held>>);

/// How many jobs run in this process, so a stop can wait for them (see [`Berth::wait_for_jobs`]).
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts one job while it lives.
struct Running(Arc<InFlight>);

impl Running {
    fn start(jobs: &Arc<InFlight>) -> Running {
        jobs.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running(jobs.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Holds a cluster or app for one job; releases it when dropped. With replicas (PostgreSQL) the
/// claim is also a row in `leases`, so that no other replica starts a job on the same subject.
#[derive(Debug)]
pub(crate) struct Claim {
    busy: Arc<Busy>,
    held: Held,
    /// The claim's row, its holder and token, and the store: PostgreSQL only.
    shared: Option<(crate::store::Store, String, String, i64)>,
}

impl Claim {
    /// Releases the claim now, waiting for its row to go (PostgreSQL), so that whoever learns next
    /// that the job ended can start another one at once.
    pub(crate) async fn release(mut self) {
        self.busy.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.held);
        if let Some((store, name, holder, token)) = self.shared.take() {
            if let Err(e) = store.claim_drop(&name, &holder, token).await {
                tracing::warn!(claim = name, error = %e, "could not release a claim");
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.busy.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.held);
        if let Some((store, name, holder, token)) = self.shared.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = store.claim_drop(&name, &holder, token).await {
                        tracing::warn!(claim = name, error = %e, "could not release a claim");
                    }
                });
            }
        }
    }
}

impl Berth {
    /// Claims `cluster` for a job, or answers `conflict` while another job runs on it.
    pub(crate) async fn claim(&self, cluster: i64) -> Result<Claim> {
        self.hold(Held::Cluster(cluster), "another operation is running on this cluster; wait for it to finish").await
    }

    /// Claims an app for a job, or answers `conflict` while another job runs on it.
    pub(crate) async fn claim_app(&self, app: i64) -> Result<Claim> {
        self.hold(Held::App(app), "another operation is running on this app; wait for it to finish").await
    }

    async fn hold(&self, held: Held, busy_message: &str) -> Result<Claim> {
        if !self.busy.0.lock().unwrap_or_else(|p| p.into_inner()).insert(held) {
            return Err(Error::Conflict(busy_message.into()));
        }
        let mut claim = Claim { busy: self.busy.clone(), held, shared: None };
        if self.store.backend() == crate::store::Backend::Postgres {
            let name = match held {
                Held::Cluster(id) => format!("claim:cluster:{id}"),
                Held::App(id) => format!("claim:app:{id}"),
            };
            // A later claim of the same subject by this process must not be released by this
            // one's (asynchronous) release: each claim has its own token.
            static TOKENS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
            let token = TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Dropping `claim` on the way out frees the in-process hold.
            if !self.store.claim_take(&name, &self.instance, token, now_ms()).await? {
                return Err(Error::Conflict(busy_message.into()));
            }
            claim.shared = Some((self.store.clone(), name, self.instance.clone(), token));
        }
        Ok(claim)
    }

    /// Claims a cluster as a job would, for tests of claims across replicas.
    #[cfg(feature = "testing")]
    pub async fn claim_cluster_for_tests(&self, cluster: i64) -> Result<Box<dyn std::any::Any + Send>> {
        Ok(Box::new(self.claim(cluster).await?))
    }
}

/// What the work of a job gets: its steps to advance. Clones share the same progress.
#[derive(Clone)]
pub struct JobCtx {
    berth: Berth,
    id: i64,
    progress: Arc<tokio::sync::Mutex<Progress>>,
    /// Added to every step index (work shared between jobs whose own steps come first).
    offset: usize,
}

struct Progress {
    steps: Vec<Step>,
    current: Option<usize>,
}

impl JobCtx {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The same job, with step `i` of the work that follows being step `offset + i` of the job.
    pub(crate) fn after_steps(&self, offset: usize) -> JobCtx {
        JobCtx { offset: self.offset + offset, ..self.clone() }
    }

    /// Finishes the current step and starts step `index`.
    pub async fn step(&self, index: usize) {
        let index = index + self.offset;
        let now = now_ms();
        let mut p = self.progress.lock().await;
        if let Some(current) = p.current {
            p.steps[current].state = "done".into();
            p.steps[current].finished_at = Some(now);
        }
        if let Some(step) = p.steps.get_mut(index) {
            step.state = "running".into();
            step.started_at = Some(now);
            p.current = Some(index);
        }
        self.save(&p.steps).await;
    }

    /// Says what the current step is doing.
    pub async fn detail(&self, text: impl Into<String>) {
        let mut p = self.progress.lock().await;
        if let Some(current) = p.current {
            p.steps[current].detail = text.into();
            self.save(&p.steps).await;
        }
    }

    async fn save(&self, steps: &[Step]) {
        if let Err(e) = self.berth.store.job_set_steps(self.id, steps).await {
            tracing::warn!(job = self.id, error = %e, "could not save job progress");
        }
    }

    /// Closes the job: the current step done (or failed with the error), the status, the end time.
    /// False when the job had already been ended by another replica's recovery.
    async fn close(&self, result: &Result<()>) -> bool {
        let now = now_ms();
        let (status, error) = match result {
            Ok(()) => ("succeeded", String::new()),
            Err(e) => ("failed", job_error(e)),
        };
        let mut p = self.progress.lock().await;
        if let Some(current) = p.current {
            let step = &mut p.steps[current];
            step.finished_at = Some(now);
            step.state = if result.is_ok() { "done".into() } else { "failed".into() };
            if result.is_err() {
                step.detail = error.clone();
            }
        }
        match self.berth.store.job_finish(self.id, status, &error, &p.steps, now).await {
            Ok(ended) => ended,
            Err(e) => {
                tracing::error!(job = self.id, error = %e, "could not record the end of a job");
                true
            }
        }
    }
}

/// What a failed job tells the console: the engine's or the domain's own words; store and other
/// internal failures only as a pointer to the log.
pub(crate) fn job_error(e: &Error) -> String {
    match e {
        Error::Engine(message) => message.clone(),
        Error::Internal(other) => {
            tracing::error!(error = %other, "job failed");
            "internal error; the server log has the details".into()
        }
        other => other.to_string(),
    }
}

/// A job about to start.
pub(crate) struct JobSpec {
    pub op: Op,
    pub kind: &'static str,
    pub steps: &'static [&'static str],
}

/// What `prepare` hands to the job: the cluster it is about, the claim on it, and the work's input.
pub(crate) struct Prepared<T> {
    pub cluster_id: Option<i64>,
    pub target: String,
    pub claim: Option<Claim>,
    pub input: T,
    /// Steps other than the spec's, when they depend on what was prepared (e.g. the provider).
    pub steps: Option<&'static [&'static str]>,
}

impl Berth {
    /// Authorizes `spec.op`, runs `prepare` (validation, quota, rows), then `work` as a background job.
    /// Refusals and failed preparations are recorded and returned at once; a started job records its
    /// outcome when it ends. Returns the job id.
    pub(crate) async fn launch<T, P, PFut, W, WFut>(
        &self,
        actor: &Actor,
        spec: JobSpec,
        prepare: P,
        work: W,
    ) -> Result<i64>
    where
        P: FnOnce(UserRef) -> PFut,
        PFut: Future<Output = Result<Prepared<T>>>,
        T: Send + 'static,
        W: FnOnce(Berth, JobCtx, T) -> WFut + Send + 'static,
        WFut: Future<Output = Result<()>> + Send + 'static,
    {
        let Op { action, permission, target, params } = spec.op;
        let attempt = Attempt::start().on(permission.cluster());
        let prepared = match authorize(actor, permission) {
            Ok(user) => prepare(user.clone()).await,
            Err(e) => Err(e),
        };
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                let failed: Result<i64> = Err(e);
                self.finish(attempt, actor, Who::of(actor), action, target, params.clone(), &failed).await;
                return failed;
            }
        };
        let attempt = attempt.on(prepared.cluster_id);
        let steps: Vec<Step> = prepared.steps.unwrap_or(spec.steps).iter().map(|s| Step::pending(s)).collect();
        let who = Who::of(actor);
        let id = match self
            .store
            .job_insert(&crate::store::NewJob {
                kind: spec.kind,
                cluster_id: prepared.cluster_id,
                target: &prepared.target,
                steps: &steps,
                actor_name: &who.name,
                runner: &self.instance,
                started_at: attempt.started_at(),
            })
            .await
        {
            Ok(id) => id,
            Err(e) => {
                let failed: Result<i64> = Err(e);
                self.finish(attempt, actor, who, action, prepared.target, params, &failed).await;
                return failed;
            }
        };
        let progress = Arc::new(tokio::sync::Mutex::new(Progress { steps, current: None }));
        let ctx = JobCtx { berth: self.clone(), id, progress, offset: 0 };
        let berth = self.clone();
        let actor = actor.clone();
        let params = with_job(params, id);
        let running = Running::start(&self.jobs);
        tokio::spawn(async move {
            let _running = running;
            let claim = prepared.claim;
            let target = prepared.target;
            // A panic in the work fails the job instead of leaving it running forever.
            let run = std::panic::AssertUnwindSafe(work(berth.clone(), ctx.clone(), prepared.input));
            let run = async {
                futures::FutureExt::catch_unwind(run)
                    .await
                    .unwrap_or_else(|_| Err(Error::Internal(Internal::Other("the job panicked".into()))))
            };
            let result = tokio::select! {
                result = run => result,
                // Another replica ended the job (this one's heartbeat lapsed): the work stops at
                // its next await, and that replica has recorded and undone it.
                () = berth.taken_over(id) => return,
            };
            // The claim goes before the job reads ended: a client that follows the job and then
            // acts on the app or cluster must never meet this job's claim (R7).
            if let Some(claim) = claim {
                claim.release().await;
            }
            // Recorded only if nobody ended the job meanwhile.
            if ctx.close(&result).await {
                berth.finish(attempt, &actor, who, action, target, params, &result).await;
            }
        });
        Ok(id)
    }

    /// Waits until no job runs in this process, at most `within`; how many still run then (a stop
    /// leaves those to the recovery of the next start).
    pub async fn wait_for_jobs(&self, within: std::time::Duration) -> usize {
        let jobs = &self.jobs;
        let all_done = async {
            loop {
                let idle = jobs.idle.notified();
                if jobs.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(within, all_done).await;
        jobs.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once job `id` is no longer running in the store although its work is: another
    /// replica recovered it. Never on SQLite (one process per database).
    async fn taken_over(&self, id: i64) {
        if self.store.backend() == crate::store::Backend::Sqlite {
            return std::future::pending().await;
        }
        let mut tick = tokio::time::interval(self.config.reconcile_every);
        loop {
            tick.tick().await;
            if let Ok(Some(job)) = self.store.job(id).await {
                if job.status != "running" {
                    tracing::warn!(job = id, "another replica ended this job; its work stops here");
                    return;
                }
            }
        }
    }

    /// Runs `work` as a job on `cluster` (claimed) until it ends or is taken over, for tests of
    /// jobs across replicas.
    #[cfg(feature = "testing")]
    pub async fn launch_for_tests<F>(&self, actor: &Actor, cluster: i64, work: F) -> Result<i64>
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let op = Op {
            action: "cluster.test",
            permission: crate::authz::Permission::ClusterManage(cluster),
            target: format!("cluster {cluster}"),
            params: serde_json::json!({}),
        };
        let spec = JobSpec { op, kind: "cluster.test", steps: &["work"] };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let claim = this.claim(cluster).await?;
                Ok(Prepared {
                    cluster_id: Some(cluster),
                    target: format!("cluster {cluster}"),
                    claim: Some(claim),
                    input: (),
                    steps: None,
                })
            },
            |_, ctx, ()| async move {
                ctx.step(0).await;
                work.await
            },
        )
        .await
    }

    /// A job the caller may see. One about a cluster the caller may not see answers exactly as one
    /// that does not exist, so job ids tell nothing about other teams' work.
    pub async fn job(&self, actor: &Actor, id: i64) -> Result<Job> {
        if actor.user().is_none() {
            return Err(Error::Unauthenticated);
        }
        if let Some(job) = self.store.job(id).await? {
            // An operation that never got a cluster (a refused creation) is for admins.
            let permission =
                job.cluster_id.map_or(crate::authz::Permission::ClusterCreate, crate::authz::Permission::ClusterRead);
            if authorize(actor, permission).is_ok() {
                return Ok(job);
            }
        }
        let missing = format!("operation {id}");
        self.record_refusal(
            actor,
            "job.read",
            &missing,
            serde_json::json!({ "job": id }),
            Error::NotFound(missing.clone()),
        )
        .await;
        Err(Error::NotFound(missing))
    }

    /// Recent jobs of a cluster (or of every cluster).
    pub async fn jobs(&self, actor: &Actor, cluster: Option<i64>) -> Result<Vec<Job>> {
        authorize(
            actor,
            cluster.map_or(crate::authz::Permission::ClusterCreate, crate::authz::Permission::ClusterRead),
        )?;
        self.store.jobs(cluster, 50).await
    }
}

fn with_job(mut params: Value, job: i64) -> Value {
    if let Value::Object(map) = &mut params {
        map.insert("job".into(), job.into());
    }
    params
}

/// What a part of the product does after jobs were interrupted (a stop, a crash, a replica gone):
/// it finishes or undoes what they left half done. The runtime knows no part's work; each part
/// implements this and lib.rs registers it ([`Berth::recoveries`]), so the jobs reach, say, a
/// cluster's provider without importing it.
pub(crate) trait Recovery: Sync {
    fn recover<'a>(&'a self, berth: &'a Berth, interrupted: &'a Interrupted) -> BoxFuture<'a, Result<()>>;
}

/// The jobs a recovery has just failed.
pub(crate) struct Interrupted {
    /// Every running job was interrupted, and whatever was half done is nobody's (one process per
    /// database, at its start).
    sole: bool,
    jobs: Vec<Job>,
}

impl Interrupted {
    /// Whether work that `job` stands for may be half done: with `sole` all work may be, else the
    /// work of the failed jobs `job` picks.
    pub(crate) fn any(&self, job: impl Fn(&Job) -> bool) -> bool {
        self.sole || self.jobs.iter().any(job)
    }
}

impl Berth {
    /// Fails running jobs whose process is gone (`sole`: every running job, and what they were
    /// working on is known to be nobody's) and lets each part of the product undo what they left
    /// half done ([`Recovery`], registered in lib.rs).
    pub(crate) async fn recover_interrupted(&self, sole: bool) -> Result<()> {
        let system = Actor::anonymous("local", "recovery");
        const INTERRUPTED: &str = "interrupted: Berth stopped while this operation was running";
        let jobs = if sole { self.store.jobs_running().await? } else { self.store.jobs_orphaned(now_ms()).await? };
        let mut failed = Vec::new();
        for job in jobs {
            let mut steps = job.steps();
            for step in steps.iter_mut().filter(|s| s.state == "running") {
                step.state = "failed".into();
                step.detail = INTERRUPTED.into();
            }
            // Another replica may recover the same job: the one that ends it undoes it.
            if !self.store.job_finish(job.id, "failed", INTERRUPTED, &steps, now_ms()).await? {
                continue;
            }
            let interrupted: Result<()> = Err(Error::Conflict(INTERRUPTED.into()));
            let who = Who { id: None, name: job.actor_name.clone() };
            let params = serde_json::json!({ "job": job.id });
            self.finish(
                Attempt::start().on(job.cluster_id),
                &system,
                who,
                &job.kind,
                job.target.clone(),
                params,
                &interrupted,
            )
            .await;
            failed.push(job);
        }
        let interrupted = Interrupted { sole, jobs: failed };
        for part in self.recoveries() {
            part.recover(self, &interrupted).await?;
        }
        Ok(())
    }
}
