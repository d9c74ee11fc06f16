//! Issue 16's cron goal: a scheduled job's start delay, p95 ≤ 2 s. A one-node local cluster runs
//! a job every 2 seconds (`*/2 * * * * *`) for 40 s with the default loop interval (`jobs_every`,
//! 1 s); for each run it reports how long after its time Berth started it (the new job iteration
//! asked of swarm) and how long until swarm had made its task, beside the goal.
//!
//! `cargo bench -p domain --bench jobs` (needs a running dockerd; `scripts/bench` runs it).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::testing::{admin, job_end, ClusterOptions, TestBerth, TestCluster};

const IMAGE: &str = "berth-test/jobs:1";
const TEMPLATE: &str = r#"
services:
  tick:
    image: berth-test/jobs:1
    command: ["sh", "-c", "echo tick"]
    labels:
      berth.schedule: "*/2 * * * * *"
"#;

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let t = TestBerth::new(|_| {}).await;
    let berth = &t.berth;
    let cluster = TestCluster::create(berth, ClusterOptions::one_node("bj").image(IMAGE, &["sh", "echo"])).await;
    let input = AppInput {
        cluster_id: cluster.id,
        name: "cron".into(),
        compose: TEMPLATE.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    assert_eq!(job_end(berth, job).await.status, "succeeded");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(42) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let jobs = berth.app_jobs(&admin(), app).await.unwrap().jobs;
    let runs: Vec<_> = jobs[0].runs.iter().filter(|r| r.scheduled_at.is_some() && r.state != "missed").collect();
    let mut berth_ms: Vec<i64> = runs.iter().map(|r| r.started_at - r.scheduled_at.unwrap()).collect();
    let mut task_ms: Vec<i64> =
        runs.iter().filter_map(|r| Some(r.tasks.iter().map(|t| t.started_at).min()? - r.scheduled_at?)).collect();
    berth_ms.sort_unstable();
    task_ms.sort_unstable();
    let missed = jobs[0].runs.iter().filter(|r| r.state == "missed" || r.state == "skipped").count();
    println!("cron start delay over {} runs every 2 s ({missed} skipped or missed), loop every 1 s:", runs.len());
    println!(
        "  Berth starts the run     p50 {:>5} ms  p95 {:>5} ms  max {:>5} ms",
        pct(&berth_ms, 0.5),
        pct(&berth_ms, 0.95),
        berth_ms.last().copied().unwrap_or(0)
    );
    println!(
        "  swarm has made its task  p50 {:>5} ms  p95 {:>5} ms  max {:>5} ms",
        pct(&task_ms, 0.5),
        pct(&task_ms, 0.95),
        task_ms.last().copied().unwrap_or(0)
    );
    println!("  goal                               p95  2000 ms");
    berth.stop_background().await;
}
