//! Elasticity: service autoscaling — a policy per service from the template's
//! `berth.auto_scaling.*` labels or the console, with schedule windows (`schedule.rs`), decided by
//! the HPA rule or the seed's step rule (`decide.rs`, pure) after every collection of the cluster
//! (`autoscaler.rs`), each change an operation by the actor `autoscaler` — and what the Scaling
//! panel shows (here).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/`, the root files, `clusters/` (the
//! cluster's manager and its services), `apps/` (policies belong to an app's services; scaling is
//! the app's), `observe/` (the collection it measures) and `routing/` (requests per replica). No
//! product folder imports it; its loop follows each cluster's reconciler through
//! `reconcile::Follower`, registered in lib.rs.

pub(crate) mod autoscaler;
pub mod decide;
pub(crate) mod jobs;
pub mod rebalance;
pub mod schedule;

use serde::{Deserialize, Serialize};
use serde_json::json;

use compose::scaling::Policy;

use crate::apps::app::app_op;
use crate::authz::Actor;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::{DecisionRow, PolicyRow, ScalingPoint};
use crate::Berth;

pub use schedule::Window;

/// A service's policy as the console shows and edits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScalingPolicy {
    pub service: String,
    /// `labels` (the template's, rewritten by each version) or `console`.
    pub source: String,
    pub policy: Policy,
    pub schedules: Vec<Window>,
    /// Who paused it (by scaling by hand) and when; `None` while it acts.
    pub paused: Option<(String, i64)>,
    pub updated_by: String,
    pub updated_at: i64,
}

impl ScalingPolicy {
    fn from_row(r: PolicyRow) -> Result<ScalingPolicy> {
        Ok(ScalingPolicy {
            policy: serde_json::from_str(&r.policy)?,
            schedules: serde_json::from_str(&r.schedules)?,
            paused: r.paused_at.map(|at| (r.paused_by.clone(), at)),
            service: r.service,
            source: r.source,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        })
    }
}

/// One service on the Scaling panel: its policy (if any), what it can be measured by, its
/// evaluations over the last hour and its newest decisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceScaling {
    pub service: String,
    pub policy: Option<ScalingPolicy>,
    /// Whether the template sets what CPU % and memory % are measured against; global services
    /// cannot be scaled.
    pub cpus: bool,
    pub memory: bool,
    pub global: bool,
    pub points: Vec<ScalingPoint>,
    pub decisions: Vec<DecisionRow>,
    /// The windows' next openings, in the same order (Unix ms).
    pub next_openings: Vec<Option<i64>>,
}

fn no_policy(service: &str) -> Error {
    Error::invalid("service", format!("{service} has no scaling policy"))
}

/// How far back the panel's chart reaches.
const CHART_MS: i64 = 3_600_000;

impl Berth {
    /// The Scaling panel of an app: every replicated service of its current version.
    pub async fn app_scaling(&self, actor: &Actor, app_id: i64) -> Result<Vec<ServiceScaling>> {
        let app = self.visible_app(actor, app_id, "app.scaling.read", false).await?;
        let spec = self.app_spec(&app).await?;
        let mut policies: std::collections::BTreeMap<String, ScalingPolicy> = std::collections::BTreeMap::new();
        for row in self.store.scaling_policies(app.id).await? {
            let p = ScalingPolicy::from_row(row)?;
            policies.insert(p.service.clone(), p);
        }
        let now = now_ms();
        let mut out = Vec::new();
        for (name, service) in &spec.services {
            let m = service.measurable();
            let policy = policies.remove(name);
            let next_openings = policy
                .as_ref()
                .map(|p| {
                    p.schedules
                        .iter()
                        .map(|w| schedule::parse(&w.start, &w.timezone, "start").ok().and_then(|s| s.next_after(now)))
                        .collect()
                })
                .unwrap_or_default();
            out.push(ServiceScaling {
                service: name.clone(),
                cpus: m.cpus,
                memory: m.memory,
                global: m.global,
                points: self.store.scaling_points(app.id, name, now - CHART_MS).await?,
                decisions: self.store.scaling_decisions(app.id, name, 20).await?,
                policy,
                next_openings,
            });
        }
        Ok(out)
    }

    /// Sets a service's policy from the console (it stays until removed; a version whose labels
    /// state a policy replaces it).
    pub async fn set_scaling_policy(
        &self,
        actor: &Actor,
        app_id: i64,
        service: &str,
        policy: Policy,
        schedules: Vec<Window>,
    ) -> Result<ScalingPolicy> {
        let app = self.visible_app(actor, app_id, "app.scaling.set", true).await?;
        let params = json!({ "app": app_id, "service": service, "policy": policy, "schedules": schedules });
        let op = app_op("app.scaling.set", &app, format!("{}/{service}", app.name), params);
        self.mutate(actor, op, |user| async move {
            let spec = self.app_spec(&app).await?;
            let s = spec
                .services
                .get(service)
                .ok_or_else(|| Error::invalid("service", format!("app {} has no service {service}", app.name)))?;
            let fields = |w: compose::scaling::Wrong| Error::invalid(w.key, w.message);
            policy.check().map_err(fields)?;
            policy.check_for(s.measurable()).map_err(fields)?;
            if schedules.len() > schedule::MAX_WINDOWS {
                return Err(Error::invalid("schedules", format!("at most {} windows", schedule::MAX_WINDOWS)));
            }
            for (i, w) in schedules.iter().enumerate() {
                w.check(&format!("schedules[{i}]"), policy.max)?;
            }
            let row = PolicyRow {
                app_id: app.id,
                service: service.to_string(),
                source: "console".into(),
                policy: serde_json::to_string(&policy)?,
                schedules: serde_json::to_string(&schedules)?,
                updated_by: user.username.clone(),
                updated_at: now_ms(),
                ..PolicyRow::default()
            };
            self.store.scaling_policy_put(&row).await?;
            self.forget_scaling(app.id, service);
            let stored = self.store.scaling_policies(app.id).await?.into_iter().find(|r| r.service == service);
            ScalingPolicy::from_row(stored.ok_or_else(|| Error::NotFound(format!("the policy of {service}")))?)
        })
        .await
    }

    /// Removes a service's policy: its replicas stay as they are.
    pub async fn remove_scaling_policy(&self, actor: &Actor, app_id: i64, service: &str) -> Result<()> {
        let app = self.visible_app(actor, app_id, "app.scaling.remove", true).await?;
        let op = app_op(
            "app.scaling.remove",
            &app,
            format!("{}/{service}", app.name),
            json!({ "app": app_id, "service": service }),
        );
        self.mutate(actor, op, |_| async move {
            if !self.store.scaling_policy_delete(app.id, service).await? {
                return Err(no_policy(service));
            }
            self.forget_scaling(app.id, service);
            Ok(())
        })
        .await
    }

    /// Resumes a policy a manual scale paused.
    pub async fn resume_scaling(&self, actor: &Actor, app_id: i64, service: &str) -> Result<()> {
        let app = self.visible_app(actor, app_id, "app.scaling.resume", true).await?;
        let op = app_op(
            "app.scaling.resume",
            &app,
            format!("{}/{service}", app.name),
            json!({ "app": app_id, "service": service }),
        );
        self.mutate(actor, op, |_| async move {
            if !self.store.scaling_policy_pause(app.id, service, None).await? {
                return Err(no_policy(service));
            }
            Ok(())
        })
        .await
    }
}
