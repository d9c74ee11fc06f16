//! Issue 16's tick goal: 1,000 autoscaling policies (each with 10 running tasks and a 5-minute
//! window's worth of evaluations) decided, and 1,000 schedule windows (a business-hours window in
//! a time zone) checked, per tick — goal ≤ 50 ms for each. Pure work: the engine reads and store
//! writes of a tick are one call each per cluster, measured by the autoscaling test on a real cluster.
//!
//! `cargo bench -p domain --bench elastic` (no docker needed; `scripts/bench` runs it).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::time::Instant;

use domain::scaling::{compile_all, decide, floor, Input, Metric, Mode, Past, Policy, Reading, Window};

const POLICIES: usize = 1000;
const TICKS: usize = 20;

fn main() {
    let policy = Policy { metric: Metric::Cpu, mode: Mode::Target { target: 60.0, window_s: 300 }, min: 1, max: 50 };
    let now = 1_800_000_000_000i64;
    let readings: Vec<Vec<Reading>> = (0..POLICIES)
        .map(|i| (0..10).map(|t| Reading { value: Some(((i * 7 + t * 13) % 100) as f64), age_ms: 60_000 }).collect())
        .collect();
    // Thirty evaluations 10 s apart: the window's memory.
    let history: Vec<Past> = (0..30)
        .map(|k| Past { ts: now - (30 - k) * 10_000, recommended: 8 + (k % 5) as u64, value: Some(55.0) })
        .collect();
    let windows: Vec<Window> = (0..POLICIES)
        .map(|i| Window {
            name: format!("w{i}"),
            start: "0 9 * * 1-5".into(),
            end: "0 18 * * 1-5".into(),
            timezone: ["Europe/Berlin", "America/New_York", "Asia/Tokyo", ""][i % 4].into(),
            replicas: 4,
        })
        .collect();

    // Parsed once, as the autoscaler keeps them between ticks (and timed: a restart parses them all).
    let started = Instant::now();
    let compiled = compile_all(&windows);
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut decide_ms = Vec::new();
    let mut schedule_ms = Vec::new();
    let mut scaled = 0;
    for tick in 0..TICKS {
        let at = now + tick as i64 * 10_000;
        let started = Instant::now();
        for r in &readings {
            let d = decide(&Input {
                policy: &policy,
                current: 10,
                readings: r,
                history: &history,
                scheduled: None,
                now: at,
            });
            scaled += usize::from(d.replicas != 10);
        }
        decide_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let open = compiled.iter().filter(|w| floor(std::slice::from_ref(w), at).is_some()).count();
        schedule_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(open);
    }
    let p = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    };
    println!("{POLICIES} policies decided per tick:   p50 {:.2} ms, max {:.2} ms (goal ≤ 50 ms; {scaled} scale decisions over {TICKS} ticks)",
        p(&mut decide_ms, 0.5), p(&mut decide_ms, 1.0));
    println!(
        "{POLICIES} schedule windows per tick:  p50 {:.2} ms, max {:.2} ms (goal ≤ 50 ms; parsing all once: {compile_ms:.1} ms)",
        p(&mut schedule_ms, 0.5),
        p(&mut schedule_ms, 1.0)
    );
}
