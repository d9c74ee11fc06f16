//! The autoscaler of a cluster: after every collection of the cluster's metrics (checked every
//! `autoscale_every`, a second by default, so a sample that crosses a target acts within one
//! collection interval and a second), each policy of the cluster's apps is judged from the
//! collection's samples of its running tasks and the swarm's tasks and services, read once per
//! evaluation for the whole cluster. A change is a scale by the actor `autoscaler` (an operation
//! in the history); every evaluation is a point of the service's chart and the window's memory,
//! and a decision is kept when it scaled or its reason changed.
//!
//! It runs where the cluster's collection runs: only the process holding the cluster's lease has
//! collections to judge. The window's memory is read back from the store after a restart or a
//! change of holder, so neither causes an early scale-down.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::task::JoinHandle;

use compose::scaling::{Metric, Mode};

use super::decide::{decide, Input, Past, Reading};
use super::{schedule, ScalingPolicy};
use crate::authz::Actor;
use crate::clock::{now_ms, rfc3339};
use crate::clusters::reconcile::Follower;
use crate::error::Result;
use crate::store::{DecisionRow, NewPoint, ScalingPoint};
use crate::Berth;

/// The actor the autoscaler's scales are recorded under.
pub const AUTOSCALER: &str = "autoscaler";

/// What the autoscaler remembers between evaluations.
#[derive(Debug, Default)]
pub(crate) struct State {
    loops: Mutex<HashMap<i64, JoinHandle<()>>>,
    /// Each cluster's last collection judged (its time).
    judged: Mutex<HashMap<i64, i64>>,
    /// Each service's recent evaluations (app id, service), and the kind of its last decision kept.
    memory: Mutex<HashMap<(i64, String), Memory>>,
}

#[derive(Debug, Default)]
struct Memory {
    past: VecDeque<Past>,
    last_kind: String,
    /// The policy's schedule windows, parsed, with the JSON they were parsed from.
    windows: (String, Vec<schedule::Compiled>),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How far back a policy's decision looks: its window or its hold, and a step of slack.
fn lookback_ms(p: &compose::scaling::Policy) -> i64 {
    let s = match p.mode {
        Mode::Target { window_s, .. } => window_s,
        Mode::Step { hold_s, .. } => hold_s,
    };
    (s as i64 + 60) * 1000
}

impl Berth {
    /// Starts (or restarts) a cluster's autoscaler.
    pub(crate) fn start_autoscaler(&self, cluster_id: i64) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.autoscale_every, move || {
            let berth = berth.clone();
            async move {
                if let Err(e) = berth.autoscale(cluster_id).await {
                    tracing::debug!(cluster = cluster_id, error = %e, "autoscaling pass failed");
                }
            }
        });
        if let Some(old) = lock(&self.elastic.loops).insert(cluster_id, handle) {
            old.abort();
        }
    }

    pub(crate) fn stop_autoscaler(&self, cluster_id: i64) {
        if let Some(h) = lock(&self.elastic.loops).remove(&cluster_id) {
            h.abort();
        }
        lock(&self.elastic.judged).remove(&cluster_id);
    }

    /// Every autoscaler's handle, for a stop to wait for.
    pub(crate) fn take_autoscalers(&self) -> Vec<JoinHandle<()>> {
        lock(&self.elastic.loops).drain().map(|(_, h)| h).collect()
    }

    /// Forgets what the autoscaler remembers of a service (its policy changed or went).
    pub(crate) fn forget_scaling(&self, app_id: i64, service: &str) {
        lock(&self.elastic.memory).remove(&(app_id, service.to_string()));
    }

    /// Judges the cluster's newest collection, once. Returns how many policies were evaluated.
    pub(crate) async fn autoscale(&self, cluster_id: i64) -> Result<usize> {
        let Some((ts, snapshot)) = self.latest_collection(cluster_id) else { return Ok(0) };
        {
            let mut judged = lock(&self.elastic.judged);
            if judged.get(&cluster_id).is_some_and(|&t| t >= ts) {
                return Ok(0);
            }
            judged.insert(cluster_id, ts);
        }
        let rows = self.store.scaling_policies_of_cluster(cluster_id).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let installation = self.installation().await?;
        let owned = crate::clusters::cluster::owned_by(&installation, cluster_id);
        let live: HashMap<String, crate::engine::LiveService> =
            manager.services_labelled(&owned).await?.into_iter().map(|s| (s.name.clone(), s)).collect();
        let tasks = manager.running_tasks().await?;
        let samples: HashMap<&str, &crate::store::Sample> =
            snapshot.containers.iter().map(|l| (l.sample.key.as_str(), &l.sample)).collect();
        let wants_rps = rows.iter().any(|r| r.row.policy.contains("\"rps\""));
        let mut rps: HashMap<(String, String), f64> = HashMap::new();
        if wants_rps {
            for side in self.sides_now(cluster_id, None).await? {
                *rps.entry((side.app, side.side)).or_default() += side.rps;
            }
        }
        let now = now_ms();
        let mut points = Vec::with_capacity(rows.len());
        let mut evaluated = 0;
        for row in rows {
            let app_id = row.row.app_id;
            let app_name = row.app_name.clone();
            let schedules_json = row.row.schedules.clone();
            let Ok(sp) = ScalingPolicy::from_row(row.row) else { continue };
            let Some(service) = live.get(&format!("{app_name}_{}", sp.service)) else { continue };
            let compose::Mode::Replicated(current) = service.spec.mode else { continue };
            let running: Vec<&crate::engine::ServiceTask> =
                tasks.iter().filter(|t| t.service_id == service.id && t.state == "running").collect();
            let r = &service.spec.resources;
            let per_replica_rps =
                rps.get(&(app_name.clone(), sp.service.clone())).map(|total| total / running.len().max(1) as f64);
            let readings: Vec<Reading> = running
                .iter()
                .map(|t| {
                    let sample = samples.get(t.container_id.as_str());
                    let value = match sp.policy.metric {
                        Metric::Cpu => {
                            let nano = r.limit_nano_cpus.or(r.reserve_nano_cpus).unwrap_or(0) as f64;
                            sample.filter(|_| nano > 0.0).map(|s| s.cpu * 1e9 / nano)
                        }
                        Metric::Memory => {
                            let bytes = r.limit_memory_bytes.or(r.reserve_memory_bytes).unwrap_or(0) as f64;
                            sample.filter(|_| bytes > 0.0).map(|s| s.mem / bytes * 100.0)
                        }
                        Metric::Rps => per_replica_rps,
                    };
                    Reading { value, age_ms: ts - t.updated_at }
                })
                .collect();
            let key = (app_id, sp.service.clone());
            let (past, scheduled): (Vec<Past>, _) = {
                let mut memory = lock(&self.elastic.memory);
                let m = memory.entry(key.clone()).or_default();
                if m.windows.0 != schedules_json {
                    m.windows = (schedules_json, schedule::compile_all(&sp.schedules));
                }
                (m.past.iter().copied().collect(), schedule::floor(&m.windows.1, now))
            };
            let past = if past.is_empty() {
                let since = now - lookback_ms(&sp.policy);
                self.store
                    .scaling_points(app_id, &sp.service, since)
                    .await?
                    .into_iter()
                    .map(|p| Past { ts: p.ts, recommended: p.recommended.max(0) as u64, value: p.value })
                    .collect()
            } else {
                past
            };
            let input = Input { policy: &sp.policy, current, readings: &readings, history: &past, scheduled, now };
            let mut d = decide(&input);
            evaluated += 1;
            let mut to = current;
            if let Some((by, at)) = &sp.paused {
                d.kind = "paused";
                d.reason = format!("paused: {by} scaled by hand at {}; resume the policy to let it act", rfc3339(*at));
            } else if d.replicas != current {
                match self.scale_service(&Actor::system(AUTOSCALER), app_id, &sp.service, d.replicas).await {
                    Ok(()) => to = d.replicas,
                    Err(e) => {
                        d.kind = "failed";
                        d.reason = format!("could not scale {current} → {}: {e}", d.replicas);
                    }
                }
            }
            let point =
                ScalingPoint { ts: now, replicas: to as i64, recommended: d.recommended as i64, value: d.value };
            points.push(NewPoint { app_id, service: sp.service.clone(), point });
            let keep = {
                let mut memory = lock(&self.elastic.memory);
                let m = memory.entry(key).or_default();
                if m.past.is_empty() {
                    m.past.extend(past.iter().copied());
                }
                m.past.push_back(Past { ts: now, recommended: d.recommended, value: d.value });
                let since = now - lookback_ms(&sp.policy);
                while m.past.front().is_some_and(|p| p.ts < since) {
                    m.past.pop_front();
                }
                let keep = to != current || m.last_kind != d.kind;
                m.last_kind = d.kind.to_string();
                keep
            };
            if keep {
                let row = DecisionRow {
                    id: 0,
                    app_id,
                    service: sp.service.clone(),
                    ts: now,
                    from_replicas: current as i64,
                    to_replicas: to as i64,
                    value: d.value,
                    kind: d.kind.to_string(),
                    reason: d.reason,
                };
                self.store.scaling_decision_insert(&row).await?;
            }
        }
        self.store.scaling_points_insert(&points).await?;
        Ok(evaluated)
    }
}

/// Follows each cluster's reconciler: the autoscaler runs while the cluster is reconciled.
pub(crate) struct Autoscaling;

impl Follower for Autoscaling {
    fn start(&self, berth: &Berth, cluster_id: i64) {
        berth.start_autoscaler(cluster_id);
    }

    fn stop(&self, berth: &Berth, cluster_id: i64) {
        berth.stop_autoscaler(cluster_id);
    }
}
