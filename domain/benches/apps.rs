//! PERFORMANCE.md P1: deploying N ∈ {1, 10, 50} replicas through Berth (a one-service app: parse,
//! policy, version row, job with its steps, images checked on every node, overlay network, service,
//! wait until every task runs) against the same service created directly through the engine adapter
//! (overlay network, service create, wait until every task runs) — same 3-node cluster, same image,
//! alternating, side by side in one run.
//!
//! `cargo bench -p domain --bench apps` (needs a running dockerd; `scripts/bench` runs it).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::authz::{Principal, UserRef};
use domain::engine::{Endpoint, Engine, ServiceDeploy};
use domain::local::LocalClusterInput;
use domain::testing::TestDb;
use domain::{Actor, Berth, Config};

const RUNS: usize = 10;
const IMAGE: &str = "berth-test/busybox:1";

fn admin() -> Actor {
    Actor {
        principal: Principal::User(UserRef::admin(1, "bench")),
        source: "127.0.0.1".into(),
        request_id: "bench".into(),
    }
}

async fn wait_job(berth: &Berth, job: i64) {
    loop {
        let j = berth.job(&admin(), job).await.unwrap();
        match j.status.as_str() {
            "succeeded" => return,
            "failed" => panic!("job failed: {} {:?}", j.error, j.steps()),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn compose(replicas: usize) -> String {
    format!(
        "services:\n  work:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '100000']\n    deploy:\n      replicas: {replicas}\n"
    )
}

/// Through Berth: the deploy call, then its job until it succeeded (it ends when every task runs).
async fn through_berth(berth: &Berth, cluster: i64, name: &str, replicas: usize) -> (Duration, i64) {
    let t0 = Instant::now();
    let input = AppInput { cluster_id: cluster, name: name.into(), compose: compose(replicas), ..Default::default() };
    let (app, job) = berth.deploy_app(&admin(), &input).await.expect("deploy");
    wait_job(berth, job).await;
    (t0.elapsed(), app)
}

/// Directly: an overlay network and the service, then poll until every task runs.
async fn direct(manager: &Engine, name: &str, replicas: usize) -> Duration {
    let t0 = Instant::now();
    let labels = BTreeMap::from([("com.docker.stack.namespace".to_string(), name.to_string())]);
    let network = format!("{name}_default");
    manager.overlay_create(&network, &labels, false).await.unwrap();
    let spec = compose::parse(&compose(replicas), &BTreeMap::new()).unwrap().spec.services["work"].clone();
    let d = ServiceDeploy {
        name: format!("{name}_work"),
        alias: "work".into(),
        stack: name.into(),
        spec,
        labels: labels.clone(),
        networks: vec![network],
        secrets: Vec::new(),
        configs: Vec::new(),
        volumes: BTreeMap::new(),
    };
    let ids = manager.ids().await.unwrap();
    manager.service_create(&d, &ids).await.unwrap();
    let filter = [format!("com.docker.stack.namespace={name}")];
    loop {
        let live = manager.services_labelled(&filter).await.unwrap();
        if live.iter().all(|s| s.running == replicas as u64) && !live.is_empty() {
            return t0.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Removes the directly made service and waits, like Berth's delete does, until its containers are
/// gone from every node and its network is removed, so that neither side starts on a busy cluster.
async fn direct_cleanup(manager: &Engine, nodes: &[Engine], name: &str) {
    manager.service_remove(&format!("{name}_work")).await.unwrap();
    let filter = [format!("com.docker.stack.namespace={name}")];
    for node in nodes {
        while !node.containers_labelled(&filter).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for _ in 0..200 {
        if manager.network_remove(&format!("{name}_default")).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let db = TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.data_dir = data.path().to_path_buf();
    let berth = Berth::new(db.open().await, config);
    domain::testing::ensure_node_image(&berth).await;
    let input = LocalClusterInput { name: "bench".into(), nodes: 3, managers: 1, zones: vec!["a".into()] };
    let job = berth.create_local_cluster(&admin(), &input).await.unwrap();
    wait_job(&berth, job).await;
    let cluster = berth.clusters(&admin()).await.unwrap().remove(0);
    let manager_node = cluster.nodes.iter().find(|n| n.is_manager()).unwrap();
    let manager = Engine::new(Endpoint::parse(&manager_node.endpoint).unwrap(), Duration::from_secs(30));
    let id = cluster.cluster.id;
    let nodes: Vec<Engine> = cluster
        .nodes
        .iter()
        .map(|n| Engine::new(Endpoint::parse(&n.endpoint).unwrap(), Duration::from_secs(30)))
        .collect();

    // Warm-up (not counted): the first deploy copies the image onto the nodes.
    let (_, app) = through_berth(&berth, id, "warmup", 3).await;
    let job = berth.delete_app(&admin(), app, true).await.unwrap();
    wait_job(&berth, job).await;

    println!("P1: deploy N replicas until every task runs, {RUNS} runs each, alternating; 3-node local cluster\n");
    println!("{:>4} {:>12} {:>12} {:>12} {:>10}", "N", "Berth p50", "direct p50", "overhead", "goal");
    for n in [1usize, 10, 50] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..RUNS {
            let name = format!("b{n}x{run}");
            let (t, app) = through_berth(&berth, id, &name, n).await;
            ours.push(t);
            let job = berth.delete_app(&admin(), app, true).await.unwrap();
            wait_job(&berth, job).await;
            let name = format!("d{n}x{run}");
            theirs.push(direct(&manager, &name, n).await);
            direct_cleanup(&manager, &nodes, &name).await;
        }
        let (b, d) = (median(ours), median(theirs));
        let overhead = b.as_secs_f64() - d.as_secs_f64();
        let allowed = (d.as_secs_f64() * 0.10).max(0.050);
        println!(
            "{n:>4} {:>10.0} ms {:>10.0} ms {:>+9.0} ms {:>7.0} ms {}",
            b.as_secs_f64() * 1000.0,
            d.as_secs_f64() * 1000.0,
            overhead * 1000.0,
            allowed * 1000.0,
            if overhead <= allowed { "met" } else { "MISSED" }
        );
    }
    println!("\ngoal: overhead ≤ max(50 ms, 10 %) at p50");
    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    wait_job(&berth, job).await;
}
