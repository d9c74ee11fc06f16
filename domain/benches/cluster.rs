//! PERFORMANCE.md P2: a 3-node local cluster (1 manager) until every node is Ready — through Berth's
//! one-click creation, and the same steps scripted directly against the engine with bollard (network,
//! three node containers at once, swarm init, two joins, zone labels, wait for Ready) — alternating,
//! side by side in one run.
//!
//! `cargo bench -p domain --bench cluster` (needs a running dockerd; `scripts/bench` runs it).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::authz::{Principal, UserRef};
use domain::engine::{Endpoint, Engine, NodeContainerSpec, NodeState};
use domain::local::LocalClusterInput;
use domain::testing::TestDb;
use domain::{Actor, Berth, Config};

const RUNS: usize = 3;

fn admin() -> Actor {
    Actor {
        principal: Principal::User(UserRef::admin(1, "bench")),
        source: "127.0.0.1".into(),
        request_id: "bench".into(),
    }
}

/// Through Berth: one call, then the job until it succeeded. Returns the time and the cluster id.
async fn through_berth(berth: &Berth, name: &str) -> (Duration, i64) {
    let t0 = Instant::now();
    let input = LocalClusterInput { name: name.into(), nodes: 3, managers: 1, zones: vec!["a".into(), "b".into()] };
    let job = berth.create_local_cluster(&admin(), &input).await.expect("create");
    loop {
        let j = berth.job(&admin(), job).await.unwrap();
        match j.status.as_str() {
            "succeeded" => return (t0.elapsed(), j.cluster_id.unwrap()),
            "failed" => panic!("creation failed: {}", j.error),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn delete(berth: &Berth, id: i64) {
    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    while berth.job(&admin(), job).await.unwrap().status == "running" {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same steps with the engine adapter alone: no store, no job, no history.
async fn direct(local: &Engine, dir: &std::path::Path, tag: &str) -> Duration {
    let t0 = Instant::now();
    let labels = BTreeMap::from([("berth.bench".to_string(), tag.to_string())]);
    let network = format!("berth-bench-{tag}");
    local.network_create(&network, &labels).await.unwrap();
    let nodes: Vec<(String, Arc<Engine>)> = futures::future::join_all((1..=3).map(|i| {
        let network = network.clone();
        let labels = labels.clone();
        async move {
            let name = format!("n{i}");
            let sockets = dir.join(tag).join(&name);
            std::fs::create_dir_all(&sockets).unwrap();
            let spec = NodeContainerSpec {
                name: format!("berth-bench-{tag}-{name}"),
                hostname: name.clone(),
                image: domain::DEFAULT_NODE_IMAGE.into(),
                network,
                socket_dir: sockets.display().to_string(),
                host_binaries: true,
                labels,
            };
            let container = local.node_container_start(&spec).await.unwrap();
            let engine = Arc::new(Engine::new(
                Endpoint::Unix(sockets.join("docker.sock").display().to_string()),
                Duration::from_secs(4),
            ));
            while engine.ping().await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (container.ip, engine)
        }
    }))
    .await;
    let (first_ip, first) = &nodes[0];
    first.swarm_init(first_ip, Duration::from_secs(2)).await.unwrap();
    let (_, worker, _) = first.swarm_join_tokens().await.unwrap();
    let remote = format!("{first_ip}:2377");
    futures::future::join_all(nodes[1..].iter().map(|(ip, e)| e.swarm_join(&remote, &worker, ip))).await;
    for (i, (_, engine)) in nodes.iter().enumerate() {
        let id = engine.overview().await.unwrap().swarm.node_id;
        let zone = if i % 2 == 0 { "a" } else { "b" };
        first
            .swarm_update_node(&id, |n| {
                n.labels.insert("berth.zone".into(), zone.into());
            })
            .await
            .unwrap();
    }
    loop {
        let list = first.swarm_nodes().await.unwrap();
        if list.len() == 3 && list.iter().all(|n| n.state == NodeState::Ready) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t0.elapsed()
}

async fn direct_cleanup(local: &Engine, tag: &str) {
    for c in local.containers_labelled(&[format!("berth.bench={tag}")]).await.unwrap() {
        local.container_remove(&c.id).await.unwrap();
    }
    local.network_remove(&format!("berth-bench-{tag}")).await.unwrap();
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
    let local = Engine::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap(), Duration::from_secs(30));

    println!("P2: 3-node local cluster (1 manager) until every node is Ready, {RUNS} runs each, alternating\n");
    println!("{:<6} {:>12} {:>12} {:>8}", "run", "Berth", "direct", "ratio");
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=RUNS {
        let (b, id) = through_berth(&berth, &format!("bench{run}")).await;
        delete(&berth, id).await;
        let tag = format!("{}-{run}", std::process::id());
        let d = direct(&local, data.path(), &tag).await;
        direct_cleanup(&local, &tag).await;
        let ratio = b.as_secs_f64() / d.as_secs_f64();
        println!("{run:<6} {:>10.2} s {:>10.2} s {ratio:>7.2}×", b.as_secs_f64(), d.as_secs_f64());
        ours.push(b);
        theirs.push(d);
        ratios.push((ratio * 1000.0) as u64);
    }
    ratios.sort();
    let (b, d) = (median(ours), median(theirs));
    println!("{}", "-".repeat(42));
    println!(
        "{:<6} {:>10.2} s {:>10.2} s {:>7.2}×",
        "median",
        b.as_secs_f64(),
        d.as_secs_f64(),
        ratios[ratios.len() / 2] as f64 / 1000.0
    );
    println!("\ngoal: Berth ≤ 1.2× direct, and < 30 s on this machine");
}
