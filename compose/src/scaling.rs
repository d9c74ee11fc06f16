//! A service's autoscaling policy as `berth.auto_scaling.*` labels (or the console) state it, and the
//! rules every policy obeys wherever it comes from. The autoscaler that acts on it is Berth's
//! (`domain/src/elastic/`); this is what it may be given.
//!
//! Two modes:
//! - **target** (`target_cpu`, `target_memory` or `target_rps`): the rule of Kubernetes' HPA —
//!   desired = ceil(current × value / target), scale-down only to the highest recommendation of the
//!   last `window` seconds (300 by default);
//! - **step** (the seed's `min_cpu`/`max_cpu` or `min_memory`/`max_memory`): above the upper
//!   threshold for `hold` seconds (180 by default) add `step` replicas, below the lower one remove
//!   `step`.
//!
//! Both stay within `min_instances` (1 by default) and `max_instances` (required).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the policy measures, per replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Percent of the CPU limit (else of the reservation).
    Cpu,
    /// Percent of the memory limit (else of the reservation).
    Memory,
    /// Requests per second per replica, as the cluster's routers count them.
    Rps,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "cpu" => Some(Metric::Cpu),
            "memory" => Some(Metric::Memory),
            "rps" => Some(Metric::Rps),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Rps => "rps",
        }
    }

    /// The unit its values are written in.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Cpu | Metric::Memory => "%",
            Metric::Rps => " req/s",
        }
    }
}

/// How the policy turns the metric into replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    Target {
        target: f64,
        /// Scale-down stabilisation window, in seconds.
        window_s: u64,
    },
    Step {
        lower: f64,
        upper: f64,
        step: u64,
        /// How long a threshold must stay crossed, in seconds.
        hold_s: u64,
    },
}

/// A service's autoscaling policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub metric: Metric,
    #[serde(flatten)]
    pub mode: Mode,
    pub min: u64,
    pub max: u64,
}

pub const DEFAULT_WINDOW_S: u64 = 300;
pub const DEFAULT_HOLD_S: u64 = 180;
/// The most replicas a service may have (as `deploy.replicas` allows).
pub const MAX_REPLICAS: u64 = 1000;

/// A wrong part of a policy: the label (or form field) it is about, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrong {
    /// `target_cpu`, `min_instances`, … (the label's name after `berth.auto_scaling.`).
    pub key: &'static str,
    pub message: String,
}

fn wrong(key: &'static str, message: impl Into<String>) -> Wrong {
    Wrong { key, message: message.into() }
}

/// What a service offers a policy to be measured against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measurable {
    pub cpus: bool,
    pub memory: bool,
    pub global: bool,
    pub job: bool,
}

impl Policy {
    /// Reads the labels (`berth.auto_scaling.` taken off; values already known to be numbers).
    /// `None` when there are none.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Result<Policy, Wrong>> {
        if labels.is_empty() {
            return None;
        }
        Some(Policy::read(labels))
    }

    fn read(labels: &BTreeMap<String, String>) -> Result<Policy, Wrong> {
        let num = |k: &'static str| -> Result<Option<f64>, Wrong> {
            labels.get(k).map(|v| v.parse::<f64>().map_err(|_| wrong(k, "must be a number"))).transpose()
        };
        let whole = |k: &'static str| -> Result<Option<u64>, Wrong> {
            match num(k)? {
                None => Ok(None),
                Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e9 => Ok(Some(n as u64)),
                Some(_) => Err(wrong(k, "must be a whole number")),
            }
        };
        let targets: Vec<(&'static str, Metric)> =
            [("target_cpu", Metric::Cpu), ("target_memory", Metric::Memory), ("target_rps", Metric::Rps)]
                .into_iter()
                .filter(|(k, _)| labels.contains_key(*k))
                .collect();
        let steps: Vec<(&'static str, &'static str, Metric)> =
            [("min_cpu", "max_cpu", Metric::Cpu), ("min_memory", "max_memory", Metric::Memory)]
                .into_iter()
                .filter(|(lo, hi, _)| labels.contains_key(*lo) || labels.contains_key(*hi))
                .collect();
        let (metric, mode) = match (targets.as_slice(), steps.as_slice()) {
            ([(key, metric)], []) => {
                if labels.contains_key("step") || labels.contains_key("hold") {
                    let k = if labels.contains_key("step") { "step" } else { "hold" };
                    return Err(wrong(k, format!("belongs to the step mode (min_cpu/max_cpu), not to {key}")));
                }
                let target = num(key)?.unwrap_or_default();
                (*metric, Mode::Target { target, window_s: whole("window")?.unwrap_or(DEFAULT_WINDOW_S) })
            }
            ([], [(lo, hi, metric)]) => {
                if labels.contains_key("window") {
                    return Err(wrong(
                        "window",
                        "belongs to the target mode (target_cpu, …); the step mode holds for `hold` seconds",
                    ));
                }
                let lower = num(lo)?
                    .ok_or_else(|| wrong(lo, format!("is needed with {hi}: the threshold to scale in below")))?;
                let upper = num(hi)?
                    .ok_or_else(|| wrong(hi, format!("is needed with {lo}: the threshold to scale out above")))?;
                let mode = Mode::Step {
                    lower,
                    upper,
                    step: whole("step")?.unwrap_or(1),
                    hold_s: whole("hold")?.unwrap_or(DEFAULT_HOLD_S),
                };
                (*metric, mode)
            }
            ([], []) => {
                let first = labels.keys().next().map(String::as_str).unwrap_or("min_instances");
                let key = ["min_instances", "max_instances", "step", "hold", "window"]
                    .into_iter()
                    .find(|k| *k == first)
                    .unwrap_or("min_instances");
                return Err(wrong(
                    key,
                    "needs a metric: target_cpu, target_memory or target_rps, or the thresholds min_cpu/max_cpu or min_memory/max_memory",
                ));
            }
            _ => {
                let mut keys: Vec<&str> = targets.iter().map(|t| t.0).collect();
                keys.extend(steps.iter().map(|s| s.1));
                let key = targets.first().map(|t| t.0).or(steps.first().map(|s| s.1)).unwrap_or("target_cpu");
                return Err(wrong(key, format!("choose one metric and one mode, not {}", keys.join(" and "))));
            }
        };
        let min = whole("min_instances")?.unwrap_or(1);
        let max = whole("max_instances")?
            .ok_or_else(|| wrong("max_instances", "is needed: the most replicas the autoscaler may run"))?;
        let policy = Policy { metric, mode, min, max };
        policy.check()?;
        Ok(policy)
    }

    /// The rules every policy obeys: bounds in range, thresholds apart, a window a person can wait.
    pub fn check(&self) -> Result<(), Wrong> {
        if self.min < 1 {
            return Err(wrong("min_instances", "must be at least 1 (scale to zero with a schedule or a trigger)"));
        }
        if self.max > MAX_REPLICAS {
            return Err(wrong("max_instances", format!("must be at most {MAX_REPLICAS}")));
        }
        if self.min > self.max {
            return Err(wrong("min_instances", format!("({}) is more than max_instances ({})", self.min, self.max)));
        }
        let percent = self.metric != Metric::Rps;
        let (target_key, lower_key, upper_key) = match self.metric {
            Metric::Cpu => ("target_cpu", "min_cpu", "max_cpu"),
            Metric::Memory => ("target_memory", "min_memory", "max_memory"),
            Metric::Rps => ("target_rps", "min_cpu", "max_cpu"),
        };
        let in_range = |v: f64| v.is_finite() && v > 0.0 && (!percent || v <= 100.0);
        let range =
            if percent { "more than 0 and at most 100 (%)" } else { "more than 0 (requests per second per replica)" };
        match &self.mode {
            Mode::Target { target, window_s } => {
                if !in_range(*target) {
                    return Err(wrong(target_key, format!("must be {range}")));
                }
                if *window_s > 3600 {
                    return Err(wrong("window", "must be at most 3600 seconds"));
                }
            }
            Mode::Step { lower, upper, step, hold_s } => {
                if self.metric == Metric::Rps {
                    return Err(wrong("target_rps", "the step mode measures cpu or memory; requests use target_rps"));
                }
                if !lower.is_finite() || *lower < 0.0 || *lower > 100.0 {
                    return Err(wrong(lower_key, "must be from 0 to 100 (%)"));
                }
                if !in_range(*upper) {
                    return Err(wrong(upper_key, format!("must be {range}")));
                }
                if lower >= upper {
                    return Err(wrong(lower_key, format!("({lower}) must be below {upper_key} ({upper})")));
                }
                if !(1..=100).contains(step) {
                    return Err(wrong("step", "must be from 1 to 100 replicas"));
                }
                if *hold_s > 3600 {
                    return Err(wrong("hold", "must be at most 3600 seconds"));
                }
            }
        }
        Ok(())
    }

    /// Whether the service can be measured as the policy asks.
    pub fn check_for(&self, s: Measurable) -> Result<(), Wrong> {
        let key = self.key();
        if s.global {
            return Err(wrong(key, "cannot scale a global service (it runs one task per node)"));
        }
        if s.job {
            return Err(wrong(
                key,
                "cannot scale a job (it runs to completion; set its completions with deploy.replicas)",
            ));
        }
        match self.metric {
            Metric::Cpu if !s.cpus => Err(wrong(
                key,
                "needs deploy.resources.limits.cpus (or reservations.cpus): CPU % is measured against it",
            )),
            Metric::Memory if !s.memory => Err(wrong(
                key,
                "needs deploy.resources.limits.memory (or reservations.memory): memory % is measured against it",
            )),
            _ => Ok(()),
        }
    }

    /// The label that names the metric (`target_cpu`, `max_memory`, …).
    pub fn key(&self) -> &'static str {
        match (&self.mode, self.metric) {
            (Mode::Target { .. }, Metric::Cpu) => "target_cpu",
            (Mode::Target { .. }, Metric::Memory) => "target_memory",
            (Mode::Target { .. }, Metric::Rps) => "target_rps",
            (Mode::Step { .. }, Metric::Memory) => "max_memory",
            (Mode::Step { .. }, _) => "max_cpu",
        }
    }

    /// One line for people: "cpu at 60 % of the limit, 2–10 replicas".
    pub fn describe(&self) -> String {
        let what = match self.metric {
            Metric::Cpu => "CPU",
            Metric::Memory => "memory",
            Metric::Rps => "requests",
        };
        let u = self.metric.unit();
        let how = match &self.mode {
            Mode::Target { target, .. } => format!("{what} kept near {target}{u} per replica"),
            Mode::Step { lower, upper, step, hold_s } => {
                format!("{what} above {upper}{u} for {hold_s} s adds {step}, below {lower}{u} removes {step}")
            }
        };
        format!("{how}; {}–{} replicas", self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_seeds_labels_are_the_step_mode() {
        let p = Policy::from_labels(&labels(&[
            ("min_cpu", "30"),
            ("max_cpu", "70"),
            ("step", "2"),
            ("min_instances", "2"),
            ("max_instances", "10"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.metric, Metric::Cpu);
        assert_eq!(p.mode, Mode::Step { lower: 30.0, upper: 70.0, step: 2, hold_s: DEFAULT_HOLD_S });
        assert_eq!((p.min, p.max), (2, 10));
    }

    #[test]
    fn a_target_is_the_hpa_mode_with_its_window() {
        let p = Policy::from_labels(&labels(&[("target_rps", "50"), ("max_instances", "4"), ("window", "60")]))
            .unwrap()
            .unwrap();
        assert_eq!(p.metric, Metric::Rps);
        assert_eq!(p.mode, Mode::Target { target: 50.0, window_s: 60 });
        assert_eq!(p.min, 1);
    }

    /// Labels given, the label named in the error, what the error says.
    type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);

    #[test]
    fn wrong_policies_name_the_label() {
        let cases: &[Case] = &[
            (&[("max_instances", "3")], "max_instances", "needs a metric"),
            (&[("target_cpu", "50")], "max_instances", "is needed"),
            (&[("target_cpu", "150"), ("max_instances", "3")], "target_cpu", "at most 100"),
            (&[("target_cpu", "0"), ("max_instances", "3")], "target_cpu", "more than 0"),
            (&[("target_cpu", "50"), ("target_memory", "50"), ("max_instances", "3")], "target_cpu", "choose one"),
            (&[("target_cpu", "50"), ("max_cpu", "70"), ("max_instances", "3")], "target_cpu", "choose one"),
            (&[("max_cpu", "70"), ("max_instances", "3")], "min_cpu", "is needed with max_cpu"),
            (&[("min_cpu", "70"), ("max_cpu", "30"), ("max_instances", "3")], "min_cpu", "must be below"),
            (&[("target_cpu", "50"), ("step", "2"), ("max_instances", "3")], "step", "step mode"),
            (&[("min_cpu", "10"), ("max_cpu", "60"), ("window", "2"), ("max_instances", "3")], "window", "target mode"),
            (&[("target_cpu", "50"), ("min_instances", "0"), ("max_instances", "3")], "min_instances", "at least 1"),
            (&[("target_cpu", "50"), ("min_instances", "4"), ("max_instances", "3")], "min_instances", "more than"),
            (&[("target_cpu", "50"), ("max_instances", "1001")], "max_instances", "at most 1000"),
            (&[("target_cpu", "50"), ("max_instances", "2.5")], "max_instances", "whole number"),
            (&[("min_cpu", "10"), ("max_cpu", "60"), ("step", "0"), ("max_instances", "3")], "step", "from 1"),
        ];
        for (given, key, says) in cases {
            let got = Policy::from_labels(&labels(given)).unwrap().unwrap_err();
            assert_eq!(got.key, *key, "{given:?}: {got:?}");
            assert!(got.message.contains(says), "{given:?}: {got:?}");
        }
    }

    #[test]
    fn a_percent_needs_what_it_is_a_percent_of() {
        let p = Policy { metric: Metric::Cpu, mode: Mode::Target { target: 50.0, window_s: 0 }, min: 1, max: 3 };
        assert!(p.check_for(Measurable { cpus: true, ..Measurable::default() }).is_ok());
        let e = p.check_for(Measurable { memory: true, ..Measurable::default() }).unwrap_err();
        assert!(e.message.contains("limits.cpus"), "{e:?}");
        let e = p.check_for(Measurable { cpus: true, global: true, ..Measurable::default() }).unwrap_err();
        assert!(e.message.contains("global"), "{e:?}");
        let rps = Policy { metric: Metric::Rps, ..p };
        assert!(rps.check_for(Measurable::default()).is_ok());
    }
}
