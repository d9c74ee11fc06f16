//! Service autoscaling: each service's policy with its schedule windows, its evaluations over the
//! last hour (the chart of replicas over the metric) and its newest decisions with their reasons;
//! set (operators), remove, resume after a manual scale.

// `set_scaling` takes the form's fields flat, as the console's forms post them (the generated
// client function is where the lint fires, so it is allowed for this small module).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One service on the Scaling tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServiceScalingRow {
    pub service: String,
    /// Whether CPU % / memory % can be measured (the template sets a limit or a reservation).
    pub cpus: bool,
    pub memory: bool,
    pub global: bool,
    pub policy: Option<PolicyView>,
    pub points: Vec<PointRow>,
    pub decisions: Vec<DecisionView>,
}

/// A policy as the form shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyView {
    /// `labels` or `console`.
    pub source: String,
    /// `cpu`, `memory` or `rps`.
    pub metric: String,
    /// `target` or `step`.
    pub mode: String,
    pub target: f64,
    pub window_s: u64,
    pub lower: f64,
    pub upper: f64,
    pub step: u64,
    pub hold_s: u64,
    pub min: u64,
    pub max: u64,
    pub schedules: Vec<WindowRow>,
    /// In words.
    pub describe: String,
    pub paused_by: Option<String>,
    pub paused_at: Option<i64>,
    pub updated_by: String,
    pub updated_at: i64,
}

/// A schedule window with when it next opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WindowRow {
    pub name: String,
    pub start: String,
    pub end: String,
    pub timezone: String,
    pub replicas: u64,
    pub next_opening: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PointRow {
    pub ts: i64,
    pub replicas: i64,
    pub recommended: i64,
    pub value: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DecisionView {
    pub ts: i64,
    pub from: i64,
    pub to: i64,
    pub value: Option<f64>,
    pub kind: String,
    pub reason: String,
}

/// A policy as a form (or REST) sends it: numbers as typed, so a wrong one is named by field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyInput {
    pub metric: String,
    pub mode: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub window: String,
    #[serde(default)]
    pub lower: String,
    #[serde(default)]
    pub upper: String,
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub hold: String,
    #[serde(default)]
    pub min: String,
    pub max: String,
    /// One window per line: `name; start cron; end cron; time zone; replicas`.
    #[serde(default)]
    pub schedules: String,
}

#[cfg(feature = "ssr")]
pub mod map {
    use super::*;
    use domain::error::Error;
    use domain::scaling::{Metric, Mode, Policy, ServiceScaling, Window};

    pub fn service(s: ServiceScaling) -> ServiceScalingRow {
        ServiceScalingRow {
            policy: s.policy.map(|p| {
                let (target, window_s, lower, upper, step, hold_s, mode) = match p.policy.mode {
                    Mode::Target { target, window_s } => (target, window_s, 0.0, 0.0, 0, 0, "target"),
                    Mode::Step { lower, upper, step, hold_s } => (0.0, 0, lower, upper, step, hold_s, "step"),
                };
                PolicyView {
                    describe: p.policy.describe(),
                    source: p.source,
                    metric: p.policy.metric.as_str().into(),
                    mode: mode.into(),
                    target,
                    window_s,
                    lower,
                    upper,
                    step,
                    hold_s,
                    min: p.policy.min,
                    max: p.policy.max,
                    schedules: p
                        .schedules
                        .into_iter()
                        .zip(s.next_openings.iter().copied().chain(std::iter::repeat(None)))
                        .map(|(w, next)| WindowRow {
                            name: w.name,
                            start: w.start,
                            end: w.end,
                            timezone: w.timezone,
                            replicas: w.replicas,
                            next_opening: next,
                        })
                        .collect(),
                    paused_by: p.paused.as_ref().map(|p| p.0.clone()),
                    paused_at: p.paused.as_ref().map(|p| p.1),
                    updated_by: p.updated_by,
                    updated_at: p.updated_at,
                }
            }),
            service: s.service,
            cpus: s.cpus,
            memory: s.memory,
            global: s.global,
            points: s
                .points
                .into_iter()
                .map(|p| PointRow { ts: p.ts, replicas: p.replicas, recommended: p.recommended, value: p.value })
                .collect(),
            decisions: s
                .decisions
                .into_iter()
                .map(|d| DecisionView {
                    ts: d.ts,
                    from: d.from_replicas,
                    to: d.to_replicas,
                    value: d.value,
                    kind: d.kind,
                    reason: d.reason,
                })
                .collect(),
        }
    }

    fn number(field: &str, v: &str, default: Option<f64>) -> Result<f64, Error> {
        let v = v.trim();
        match (v.is_empty(), default) {
            (true, Some(d)) => Ok(d),
            (true, None) => Err(Error::invalid(field, "is needed")),
            _ => {
                v.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| Error::invalid(field, "must be a number"))
            }
        }
    }

    fn whole(field: &str, v: &str, default: Option<u64>) -> Result<u64, Error> {
        let v = v.trim();
        match (v.is_empty(), default) {
            (true, Some(d)) => Ok(d),
            (true, None) => Err(Error::invalid(field, "is needed")),
            _ => v.parse::<u64>().map_err(|_| Error::invalid(field, "must be a whole number")),
        }
    }

    /// The form's policy and windows; a wrong value names its field (the window's line).
    pub fn input(i: &PolicyInput) -> Result<(Policy, Vec<Window>), Error> {
        let metric =
            Metric::parse(i.metric.trim()).ok_or_else(|| Error::invalid("metric", "must be cpu, memory or rps"))?;
        let mode = match i.mode.trim() {
            "target" => Mode::Target {
                target: number("target", &i.target, None)?,
                window_s: whole("window", &i.window, Some(compose::scaling::DEFAULT_WINDOW_S))?,
            },
            "step" => Mode::Step {
                lower: number("lower", &i.lower, None)?,
                upper: number("upper", &i.upper, None)?,
                step: whole("step", &i.step, Some(1))?,
                hold_s: whole("hold", &i.hold, Some(compose::scaling::DEFAULT_HOLD_S))?,
            },
            _ => return Err(Error::invalid("mode", "must be target or step")),
        };
        let policy = Policy { metric, mode, min: whole("min", &i.min, Some(1))?, max: whole("max", &i.max, None)? };
        let mut windows = Vec::new();
        for (n, line) in i.schedules.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split(';').map(str::trim).collect();
            let [name, start, end, timezone, replicas] = parts[..] else {
                return Err(Error::invalid(
                    "schedules",
                    format!("line {}: write `name; start cron; end cron; time zone; replicas`", n + 1),
                ));
            };
            let replicas = replicas
                .parse::<u64>()
                .map_err(|_| Error::invalid("schedules", format!("line {}: replicas must be a whole number", n + 1)))?;
            windows.push(Window {
                name: name.into(),
                start: start.into(),
                end: end.into(),
                timezone: timezone.into(),
                replicas,
            });
        }
        Ok((policy, windows))
    }

    /// The policy's labels' names are the form's fields (`target_cpu` is `target`, …).
    pub fn field(e: Error) -> Error {
        match e {
            Error::Invalid { field, message } => {
                let form = match field.as_str() {
                    "target_cpu" | "target_memory" | "target_rps" => "target".to_string(),
                    "min_cpu" | "min_memory" => "lower".to_string(),
                    "max_cpu" | "max_memory" => "upper".to_string(),
                    "min_instances" => "min".to_string(),
                    "max_instances" => "max".to_string(),
                    f if f.starts_with("schedules[") => "schedules".to_string(),
                    _ => field.clone(),
                };
                let message = if form != field { format!("{message} ({field})") } else { message };
                Error::Invalid { field: form, message }
            }
            other => other,
        }
    }
}

/// Every service of the app with its policy, chart and decisions.
#[server(endpoint = "get_scaling", output = crate::codec::Wire)]
pub async fn get_scaling(app: i64) -> Result<Vec<ServiceScalingRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let rows = berth.app_scaling(&actor, app).await.map_err(wire)?;
    Ok(rows.into_iter().map(map::service).collect())
}

/// Sets a service's policy (operators). The form's fields, flat (as [`PolicyInput`] names them).
#[server(endpoint = "set_scaling", output = crate::codec::Wire)]
pub async fn set_scaling(
    app: i64,
    service: String,
    metric: String,
    mode: String,
    target: String,
    window: String,
    lower: String,
    upper: String,
    step: String,
    hold: String,
    min: String,
    max: String,
    schedules: String,
) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let policy = PolicyInput { metric, mode, target, window, lower, upper, step, hold, min, max, schedules };
    let (p, windows) = map::input(&policy).map_err(wire)?;
    berth.set_scaling_policy(&actor, app, &service, p, windows).await.map_err(|e| wire(map::field(e)))?;
    Ok(())
}

/// Removes a service's policy (operators).
#[server(endpoint = "remove_scaling", output = crate::codec::Wire)]
pub async fn remove_scaling(app: i64, service: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.remove_scaling_policy(&actor, app, &service).await.map_err(wire)
}

/// Resumes a policy a manual scale paused (operators).
#[server(endpoint = "resume_scaling", output = crate::codec::Wire)]
pub async fn resume_scaling(app: i64, service: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.resume_scaling(&actor, app, &service).await.map_err(wire)
}
