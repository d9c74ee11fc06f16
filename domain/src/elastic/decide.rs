//! The autoscaler's decision, pure: from a policy, the service's replicas, what each running task
//! measures and the recent recommendations, the replicas it should run and why.
//!
//! Target mode is the rule of Kubernetes' HPA (`horizontal-pod-autoscale.md`): desired =
//! ceil(current × value / target), nothing within a 0.1 tolerance; tasks without a sample or
//! younger than [`YOUNG_MS`] count as 0 when scaling up and as exactly on target when scaling
//! down (so they never cause a scale-down), and if counting them flips the direction nothing
//! happens; a step up is bounded by max(2 × current, current + 4); a step down goes only to the
//! highest recommendation of the stabilisation window. Step mode is the seed's: a threshold
//! crossed for `hold` seconds adds or removes `step`. Schedules raise the floor.

use compose::scaling::{Mode, Policy};

/// The HPA's tolerance: a ratio within 1 ± this changes nothing.
pub const TOLERANCE: f64 = 0.1;
/// Tasks younger than this (ms since they started running) are not judged yet.
pub const YOUNG_MS: i64 = 30_000;

/// What one running task measures now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// The metric in the policy's unit (% of the limit, or requests per second), or `None` when
    /// the task has no sample yet.
    pub value: Option<f64>,
    /// Milliseconds the task has been running.
    pub age_ms: i64,
}

/// One past evaluation: when, and what the metric alone recommended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Past {
    pub ts: i64,
    pub recommended: u64,
    /// The average the policy measured then (for step mode's hold).
    pub value: Option<f64>,
}

/// What the autoscaler decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// What the metric alone recommends (kept for the window).
    pub recommended: u64,
    /// The replicas to run: different from the current ones when it scales.
    pub replicas: u64,
    /// The average measured over the judged tasks, when there was one.
    pub value: Option<f64>,
    /// A short word for the outcome: `scale-up`, `scale-down`, `within-tolerance`, `held-by-window`,
    /// `at-max`, `at-min`, `no-metrics`, `schedule`, `holding`, `steady`.
    pub kind: &'static str,
    /// Why, for people.
    pub reason: String,
}

/// What the decision is given.
pub struct Input<'a> {
    pub policy: &'a Policy,
    /// The service's replicas now (its spec).
    pub current: u64,
    /// Every running task's reading.
    pub readings: &'a [Reading],
    /// The recent evaluations, oldest first (the window's and the hold's worth).
    pub history: &'a [Past],
    /// The largest replica count an active schedule window asks for.
    pub scheduled: Option<(u64, String)>,
    pub now: i64,
}

/// Whether a ratio is within the tolerance (inclusive: 55 against 50 is exactly 10 % over, which
/// floating point makes 0.1000…09).
fn within(ratio: f64) -> bool {
    (ratio - 1.0).abs() <= TOLERANCE + 1e-9
}

fn average(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn fmt(v: f64, unit: &str) -> String {
    if v >= 10.0 {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// The HPA's recommendation from the readings: (replicas, the average of the judged tasks, why).
fn target_recommendation(
    target: f64,
    current: u64,
    readings: &[Reading],
    unit: &str,
) -> (u64, Option<f64>, &'static str, String) {
    let judged: Vec<f64> = readings.iter().filter(|r| r.age_ms >= YOUNG_MS).filter_map(|r| r.value).collect();
    let unjudged = readings.len() - judged.len();
    let Some(usage) = average(judged.iter().copied()) else {
        let why = if readings.is_empty() {
            "no running task to measure"
        } else {
            "no task measured yet (new or without a sample)"
        };
        return (current, None, "no-metrics", why.to_string());
    };
    let ratio = usage / target;
    let measured = format!("{} against a target of {}", fmt(usage, unit), fmt(target, unit));
    if unjudged == 0 {
        if within(ratio) {
            return (current, Some(usage), "within-tolerance", format!("{measured}: within the 10 % tolerance"));
        }
        let desired = (ratio * judged.len() as f64).ceil() as u64;
        return (desired, Some(usage), if ratio > 1.0 { "scale-up" } else { "scale-down" }, measured);
    }
    // Unjudged tasks count as 0 on the way up and as on target on the way down.
    let fill = if ratio > 1.0 { 0.0 } else { target };
    let all = average(judged.iter().copied().chain(std::iter::repeat_n(fill, unjudged))).unwrap_or(usage);
    let new_ratio = all / target;
    let flipped = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if within(new_ratio) || flipped {
        let why = format!("{measured}, with {unjudged} task(s) not judged yet: within the tolerance");
        return (current, Some(usage), "within-tolerance", why);
    }
    let desired = (new_ratio * readings.len() as f64).ceil() as u64;
    if (new_ratio < 1.0 && desired > current) || (new_ratio > 1.0 && desired < current) {
        return (current, Some(usage), "within-tolerance", format!("{measured}: no change in its direction"));
    }
    let why = format!(
        "{measured} ({unjudged} task(s) not judged yet counted as {})",
        if ratio > 1.0 { "idle" } else { "on target" }
    );
    (desired, Some(usage), if new_ratio > 1.0 { "scale-up" } else { "scale-down" }, why)
}

/// Decides. Pure; the caller applies the replicas and records the decision.
pub fn decide(i: &Input<'_>) -> Decision {
    let p = i.policy;
    let unit = p.metric.unit();
    let current = i.current;
    let (recommended, value, mut kind, mut reason) = match &p.mode {
        Mode::Target { target, .. } => target_recommendation(*target, current, i.readings, unit),
        Mode::Step { lower, upper, step, hold_s } => step_recommendation(i, *lower, *upper, *step, *hold_s, unit),
    };
    let mut replicas = recommended;
    // Up at once, bounded; down only to the highest recommendation of the window.
    if replicas > current {
        let bound = (current * 2).max(current + 4);
        if replicas > bound {
            replicas = bound;
            reason = format!("{reason}; a step is at most {bound}");
        }
    } else if replicas < current {
        if let Mode::Target { window_s, .. } = p.mode {
            let since = i.now - window_s as i64 * 1000;
            let highest = i.history.iter().filter(|h| h.ts > since).map(|h| h.recommended).max().unwrap_or(0);
            if highest > replicas {
                replicas = highest.min(current);
                if replicas == current {
                    kind = "held-by-window";
                    reason = format!("{reason}: held by the window (the highest recommendation of the last {window_s} s is {highest})");
                } else {
                    reason = format!("{reason}; the window keeps {replicas}");
                }
            }
        }
    }
    // The policy's bounds, then the schedules' floor.
    if replicas > p.max {
        replicas = p.max;
        if replicas == current {
            kind = "at-max";
            reason = format!("{reason}: at max ({})", p.max);
        } else if current > p.max {
            reason = format!("above the policy's max ({}); {reason}", p.max);
        }
    }
    if replicas < p.min {
        replicas = p.min;
        if replicas == current {
            kind = "at-min";
            reason = format!("{reason}: at min ({})", p.min);
        } else if current < p.min {
            reason = format!("below the policy's min ({}); {reason}", p.min);
        }
    }
    if let Some((floor, window)) = &i.scheduled {
        if *floor > replicas {
            replicas = *floor;
            kind = "schedule";
            reason = format!("the schedule {window} asks for {floor} ({reason})");
        }
    }
    if replicas != current && !matches!(kind, "schedule") {
        kind = if replicas > current { "scale-up" } else { "scale-down" };
    } else if replicas == current && matches!(kind, "scale-up" | "scale-down") {
        // The metric leans one way, but rounding or the bounds leave the count as it is.
        (kind, reason) = match kind {
            "scale-down" if current <= p.min => ("at-min", format!("{reason}: at min ({})", p.min)),
            "scale-up" if current >= p.max => ("at-max", format!("{reason}: at max ({})", p.max)),
            _ => ("steady", format!("{reason}: the count stays")),
        };
    }
    Decision { recommended, replicas, value, kind, reason }
}

/// The seed's step mode: the average above `upper` through the last `hold_s` adds `step`, below
/// `lower` removes it; unjudged tasks block a scale-down.
fn step_recommendation(
    i: &Input<'_>,
    lower: f64,
    upper: f64,
    step: u64,
    hold_s: u64,
    unit: &str,
) -> (u64, Option<f64>, &'static str, String) {
    let current = i.current;
    let judged: Vec<f64> = i.readings.iter().filter(|r| r.age_ms >= YOUNG_MS).filter_map(|r| r.value).collect();
    let Some(usage) = average(judged.iter().copied()) else {
        return (current, None, "no-metrics", "no task measured yet (new or without a sample)".to_string());
    };
    let since = i.now - hold_s as i64 * 1000;
    // Held: every evaluation since `since` (and one at or before it, so the span is covered) crossed.
    let held = |crossed: &dyn Fn(f64) -> bool| {
        let covered = i.history.iter().any(|h| h.ts <= since);
        covered && i.history.iter().filter(|h| h.ts > since).all(|h| h.value.is_some_and(crossed))
    };
    let measured =
        format!("{} (scale out above {}, in below {})", fmt(usage, unit), fmt(upper, unit), fmt(lower, unit));
    if usage > upper {
        if held(&|v| v > upper) {
            return (current + step, Some(usage), "scale-up", format!("{measured}: above for {hold_s} s"));
        }
        return (current, Some(usage), "holding", format!("{measured}: above, not yet for {hold_s} s"));
    }
    if usage < lower {
        if judged.len() < i.readings.len() {
            return (current, Some(usage), "holding", format!("{measured}: below, but some tasks are not judged yet"));
        }
        if held(&|v| v < lower) {
            return (
                current.saturating_sub(step),
                Some(usage),
                "scale-down",
                format!("{measured}: below for {hold_s} s"),
            );
        }
        return (current, Some(usage), "holding", format!("{measured}: below, not yet for {hold_s} s"));
    }
    (current, Some(usage), "steady", format!("{measured}: between the thresholds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose::scaling::Metric;

    fn target(t: f64, min: u64, max: u64, window_s: u64) -> Policy {
        Policy { metric: Metric::Cpu, mode: Mode::Target { target: t, window_s }, min, max }
    }

    fn ready(values: &[f64]) -> Vec<Reading> {
        values.iter().map(|v| Reading { value: Some(*v), age_ms: 60_000 }).collect()
    }

    fn run(p: &Policy, current: u64, readings: &[Reading], history: &[Past]) -> Decision {
        decide(&Input { policy: p, current, readings, history, scheduled: None, now: 1_000_000 })
    }

    /// A row: name, the policy's target, current replicas, readings, the replicas wanted, the kind.
    type Row = (&'static str, f64, u64, Vec<Reading>, u64, &'static str);

    /// The HPA arithmetic, one row per case.
    #[test]
    fn the_hpa_rule_table() {
        let young = Reading { value: Some(500.0), age_ms: 5_000 };
        let missing = Reading { value: None, age_ms: 60_000 };
        let rows: Vec<Row> = vec![
            ("on target", 50.0, 3, ready(&[50.0, 50.0, 50.0]), 3, "within-tolerance"),
            ("10 % over is within the tolerance", 50.0, 3, ready(&[55.0, 55.0, 55.0]), 3, "within-tolerance"),
            ("11 % over scales up", 50.0, 3, ready(&[56.0, 56.0, 56.0]), 4, "scale-up"),
            ("twice the target doubles", 50.0, 2, ready(&[100.0, 100.0]), 4, "scale-up"),
            ("half the target halves", 50.0, 4, ready(&[25.0, 25.0, 25.0, 25.0]), 2, "scale-down"),
            ("a step up is bounded by current + 4 (or twice)", 10.0, 2, ready(&[100.0, 100.0]), 6, "scale-up"),
            ("bounded by twice for larger services", 10.0, 10, ready(&[100.0; 10]), 20, "scale-up"),
            ("at max", 50.0, 5, ready(&[100.0; 5]), 5, "at-max"),
            ("at min", 50.0, 1, ready(&[1.0]), 1, "at-min"),
            ("no readings", 50.0, 2, vec![], 2, "no-metrics"),
            ("only young tasks", 50.0, 2, vec![young, young], 2, "no-metrics"),
            // 10 and twice 50 (on target): 37 % is 0.73 of the target, ceil(0.73 × 3) = 3.
            ("missing metrics never scale down", 50.0, 3, vec![ready(&[10.0])[0], missing, missing], 3, "steady"),
            ("young tasks never scale down", 50.0, 3, vec![ready(&[10.0])[0], young, young], 3, "steady"),
            ("missing count as idle on the way up", 50.0, 2, vec![ready(&[200.0])[0], missing], 4, "scale-up"),
            ("young ones too (not their 500 %)", 50.0, 2, vec![ready(&[100.0])[0], young], 2, "within-tolerance"),
        ];
        for (name, t, current, readings, want, kind) in rows {
            // Max 5 for the "at max" row, room to grow for the others.
            let max = if name == "at max" { 5 } else { 100 };
            let d = run(&target(t, 1, max, 0), current, &readings, &[]);
            assert_eq!((d.replicas, d.kind), (want, kind), "{name}: {d:?}");
        }
    }

    #[test]
    fn a_scale_down_waits_for_the_window() {
        let p = target(50.0, 1, 10, 300);
        let history = [
            Past { ts: 1_000_000 - 200_000, recommended: 4, value: None },
            Past { ts: 1_000_000 - 100_000, recommended: 2, value: None },
        ];
        let d = run(&p, 4, &ready(&[25.0; 4]), &history);
        assert_eq!((d.replicas, d.kind), (4, "held-by-window"), "{d:?}");
        assert!(d.reason.contains("held by the window"), "{}", d.reason);
        // Once the high recommendation has left the window, down it goes.
        let old = [Past { ts: 1_000_000 - 400_000, recommended: 4, value: None }];
        let d = run(&p, 4, &ready(&[25.0; 4]), &old);
        assert_eq!((d.replicas, d.kind), (2, "scale-down"));
        // A middle recommendation in the window stops the way down there.
        let mid = [Past { ts: 1_000_000 - 10_000, recommended: 3, value: None }];
        assert_eq!(run(&p, 4, &ready(&[25.0; 4]), &mid).replicas, 3);
        // Scaling up never waits.
        assert_eq!(run(&p, 2, &ready(&[100.0; 2]), &history).replicas, 4);
    }

    #[test]
    fn a_schedule_raises_the_floor() {
        let p = target(50.0, 1, 10, 0);
        let r = ready(&[50.0; 2]);
        let d = decide(&Input {
            policy: &p,
            current: 2,
            readings: &r,
            history: &[],
            scheduled: Some((5, "business hours".into())),
            now: 0,
        });
        assert_eq!((d.replicas, d.kind), (5, "schedule"));
        assert!(d.reason.contains("business hours"));
        // The metric wins when it asks for more.
        let hot = ready(&[200.0; 2]);
        let d = decide(&Input {
            policy: &p,
            current: 2,
            readings: &hot,
            history: &[],
            scheduled: Some((3, "w".into())),
            now: 0,
        });
        assert_eq!(d.replicas, 6);
    }

    #[test]
    fn the_step_mode_holds_then_steps() {
        let p = Policy {
            metric: Metric::Cpu,
            mode: Mode::Step { lower: 20.0, upper: 70.0, step: 2, hold_s: 60 },
            min: 1,
            max: 10,
        };
        let now = 1_000_000;
        let hot = |ts| Past { ts, recommended: 3, value: Some(90.0) };
        let at = |history: &[Past], values: &[f64]| {
            decide(&Input { policy: &p, current: 3, readings: &ready(values), history, scheduled: None, now })
        };
        // Above, but only for 30 s.
        assert_eq!(at(&[hot(now - 30_000)], &[90.0]).kind, "holding");
        // Above for the whole minute: +2.
        let d = at(&[hot(now - 70_000), hot(now - 40_000), hot(now - 10_000)], &[90.0]);
        assert_eq!((d.replicas, d.kind), (5, "scale-up"));
        // One cool evaluation inside the minute resets the hold.
        let cool = Past { ts: now - 20_000, recommended: 3, value: Some(50.0) };
        assert_eq!(at(&[hot(now - 70_000), cool, hot(now - 10_000)], &[90.0]).kind, "holding");
        // Below for the minute: −2, but not below min.
        let cold = |ts| Past { ts, recommended: 3, value: Some(5.0) };
        let d = at(&[cold(now - 70_000), cold(now - 10_000)], &[5.0]);
        assert_eq!((d.replicas, d.kind), (1, "scale-down"));
        assert_eq!(at(&[], &[50.0]).kind, "steady");
    }

    /// A square wave of load: with the window, no reversal (up, down, up) inside it.
    #[test]
    fn a_square_wave_causes_no_reversal_inside_the_window() {
        let p = target(50.0, 1, 10, 60);
        let mut history: Vec<Past> = Vec::new();
        let mut current = 2u64;
        let mut changes: Vec<i64> = Vec::new();
        for tick in 0..36 {
            let now = tick * 10_000;
            // 20 s at twice the target, 20 s at a tenth of it.
            let load = if (tick / 2) % 2 == 0 { 100.0 } else { 5.0 };
            let readings = ready(&vec![load; current as usize]);
            let d =
                decide(&Input { policy: &p, current, readings: &readings, history: &history, scheduled: None, now });
            history.push(Past { ts: now, recommended: d.recommended, value: d.value });
            if d.replicas != current {
                changes.push(if d.replicas > current { 1 } else { -1 });
                current = d.replicas;
            }
        }
        assert!(!changes.contains(&-1), "no scale-down while the load comes back within the window: {changes:?}");
        // The control: without a window the same wave reverses again and again.
        let p0 = target(50.0, 1, 10, 0);
        let (mut current, mut reversals, mut last) = (2u64, 0, 0i64);
        for tick in 0..36 {
            let load = if (tick / 2) % 2 == 0 { 100.0 } else { 5.0 };
            let readings = ready(&vec![load; current as usize]);
            let d = decide(&Input {
                policy: &p0,
                current,
                readings: &readings,
                history: &[],
                scheduled: None,
                now: tick * 10_000,
            });
            if d.replicas != current {
                let dir = if d.replicas > current { 1 } else { -1 };
                if last != 0 && dir != last {
                    reversals += 1;
                }
                last = dir;
                current = d.replicas;
            }
        }
        assert!(reversals >= 4, "without a window the wave flaps ({reversals} reversals)");
    }
}
