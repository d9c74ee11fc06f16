//! Two Berth processes on one PostgreSQL database (the replicas setup): a cluster's background work
//! (reconcile passes, collection) is done by one of them at a time, the other takes it over when the
//! first stops, and clusters created behind a replica's back get its loops too.
//!
//! The cluster's node has no engine behind it: what is observed is who does the work (the lease, the
//! newest collection's writer, the node-state events written once), not what the engine says.

use std::future::Future;
use std::time::{Duration, Instant};

use domain::cluster::NewCluster;
use domain::engine::Endpoint;
use domain::node::NewNode;
use domain::store::{NewJob, Store};
use domain::testing::TestDb;
use domain::{Berth, Config};

fn config(data: &std::path::Path) -> Config {
    let mut config = Config::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.data_dir = data.to_path_buf();
    // Fast enough for takeovers within the tests' seconds, slow enough that a heartbeat (three
    // intervals: 750 ms) does not lapse while a loaded machine delays a live replica's renewal.
    config.reconcile_every = Duration::from_millis(250);
    config.collect_every = Duration::from_millis(200);
    config
}

async fn cluster_with_a_silent_node(store: &Store, name: &str) -> i64 {
    let new = NewCluster { name: name.into(), provider: "hosts".into(), status: "ready".into(), zones: vec![] };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let node = NewNode {
        cluster_id: cluster,
        name: "n1".into(),
        endpoint: "unix:///nonexistent/berth-replicas.sock".into(),
        container: String::new(),
        role: "manager".into(),
        zone: String::new(),
        state: "ready".into(),
        tls: "none".into(),
        address: "10.9.8.7".into(),
    };
    store.node_insert(&node, 1).await.unwrap();
    cluster
}

async fn eventually<F: Future<Output = bool>>(limit: Duration, what: &str, mut check: impl FnMut() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_does_a_clusters_background_work_and_another_takes_over() {
    let Some(db) = TestDb::postgres().await else { return };
    let data = tempfile::tempdir().unwrap();
    let store = db.open().await;
    let first = cluster_with_a_silent_node(&store, "shared").await;

    let a = Berth::new(db.open().await, config(data.path()));
    let b = Berth::new(db.open().await, config(data.path()));
    a.recover().await.unwrap();
    b.recover().await.unwrap();
    let lease = format!("cluster:{first}");

    eventually(Duration::from_secs(10), "a first collection", || async {
        store.metric_latest(first).await.unwrap().is_some()
    })
    .await;
    let (holder, _) = store.lease(&lease).await.unwrap().expect("a holder");
    assert!(holder == a.instance() || holder == b.instance(), "{holder}");
    // For a while (many ticks of both processes' loops) the same one does all of it.
    for _ in 0..30 {
        assert_eq!(store.lease(&lease).await.unwrap().unwrap().0, holder);
        assert_eq!(store.metric_latest(first).await.unwrap().unwrap().1, holder, "collected by the other replica");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The node went from ready to down once, and that is in the timeline once.
    eventually(Duration::from_secs(5), "the node's change in the timeline", || async {
        store.events(first, "", 100).await.unwrap().iter().any(|e| e.kind == "node")
    })
    .await;
    let node_events = store.events(first, "", 100).await.unwrap();
    let node_events: Vec<_> = node_events.iter().filter(|e| e.kind == "node").collect();
    assert_eq!(node_events.len(), 1, "{node_events:#?}");

    // The holder stops: the other one carries on at once (the lease was released).
    let (stopping, other) = if holder == a.instance() { (&a, &b) } else { (&b, &a) };
    stopping.stop_background().await;
    let stopped_at = Instant::now();
    eventually(Duration::from_secs(3), "the other replica to collect", || async {
        store.metric_latest(first).await.unwrap().unwrap().1 == other.instance()
    })
    .await;
    assert_eq!(store.lease(&lease).await.unwrap().unwrap().0, other.instance());
    assert!(stopped_at.elapsed() < Duration::from_secs(3));

    // A cluster created by someone else (here: straight in the database) gets the survivor's loops.
    let second = cluster_with_a_silent_node(&store, "later").await;
    eventually(Duration::from_secs(5), "the new cluster to be adopted and collected", || async {
        store.metric_latest(second).await.unwrap().is_some_and(|(_, by, _)| by == other.instance())
    })
    .await;

    other.stop_background().await;
    assert_eq!(store.lease(&lease).await.unwrap(), None, "released on stop");
    for s in [&store, a.store(), b.store()] {
        s.close().await;
    }
    db.remove().await;
}

fn admin() -> domain::Actor {
    use domain::authz::{Principal, UserRef};
    domain::Actor {
        principal: Principal::User(UserRef::admin(1, "admin")),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    }
}

async fn creating(store: &Store, name: &str, runner: &str) -> (i64, i64) {
    let cluster = cluster_with_a_silent_node(store, name).await;
    store.cluster_set_status(cluster, "creating", "", 2).await.unwrap();
    let job = store
        .job_insert(&NewJob {
            kind: "cluster.create",
            cluster_id: Some(cluster),
            target: name,
            steps: &[],
            actor_name: "ada",
            runner,
            started_at: 2,
        })
        .await
        .unwrap();
    (cluster, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_claims_belong_to_live_replicas() {
    let Some(db) = TestDb::postgres().await else { return };
    let data = tempfile::tempdir().unwrap();
    let store = db.open().await;
    let held = cluster_with_a_silent_node(&store, "held").await;
    let a = Berth::new(db.open().await, config(data.path()));
    let b = Berth::new(db.open().await, config(data.path()));
    a.recover().await.unwrap();
    b.recover().await.unwrap();

    // One job per cluster across replicas: a claim in one process is a conflict in the other.
    let claim = a.claim_cluster_for_tests(held).await.unwrap();
    let refused = b.claim_cluster_for_tests(held).await.expect_err("held by the other replica");
    assert!(matches!(refused, domain::error::Error::Conflict(_)), "{refused:?}");
    assert!(a.claim_cluster_for_tests(held).await.is_err(), "held in this process");
    drop(claim);
    let start = Instant::now();
    let taken = loop {
        match b.claim_cluster_for_tests(held).await {
            Ok(taken) => break taken,
            Err(_) if start.elapsed() < Duration::from_secs(3) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("the claim was not released: {e:?}"),
        }
    };
    drop(taken);
    // A claim whose holder is gone (no `instance:` lease) is no obstacle.
    eventually(Duration::from_secs(3), "b's claim to be released", || async {
        store.lease(&format!("claim:cluster:{held}")).await.unwrap().is_none()
    })
    .await;
    assert!(store.claim_take(&format!("claim:cluster:{held}"), "ghost", 1, domain::clock::now_ms()).await.unwrap());
    drop(b.claim_cluster_for_tests(held).await.expect("the ghost's claim is void"));

    // A job of a process that is gone is failed (once) and its half-created cluster removed; a job
    // of a live replica is left alone, also by a replica starting now.
    let (live_cluster, live_job) = creating(&store, "half-live", a.instance()).await;
    let (dead_cluster, dead_job) = creating(&store, "half-dead", "ghost").await;
    eventually(Duration::from_secs(5), "the ghost's job to be recovered", || async {
        store.job(dead_job).await.unwrap().unwrap().status == "failed"
    })
    .await;
    let dead = store.job(dead_job).await.unwrap().unwrap();
    assert!(dead.error.contains("interrupted"), "{dead:?}");
    eventually(Duration::from_secs(3), "the half-created cluster to go", || async {
        store.cluster(dead_cluster).await.unwrap().is_none()
    })
    .await;
    let c = Berth::new(db.open().await, config(data.path()));
    c.recover().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(store.job(live_job).await.unwrap().unwrap().status, "running");
    assert_eq!(store.cluster(live_cluster).await.unwrap().unwrap().status, "creating");
    let history = b.recent_operations(&admin(), 100).await.unwrap();
    let recorded = history.iter().filter(|o| o.action == "cluster.create" && o.target == "half-dead").count();
    assert_eq!(recorded, 1, "{history:#?}");

    // The live replica stops: its job is now interrupted, and undone by another.
    a.stop_background().await;
    eventually(Duration::from_secs(5), "the stopped replica's job to be recovered", || async {
        store.job(live_job).await.unwrap().unwrap().status == "failed"
            && store.cluster(live_cluster).await.unwrap().is_none()
    })
    .await;

    b.stop_background().await;
    c.stop_background().await;
    for s in [&store, a.store(), b.store(), c.store()] {
        s.close().await;
    }
    db.remove().await;
}

/// Sets its flag when dropped: whether a job's work was stopped.
struct Dropped(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_another_replica_ended_stops_and_stays_ended() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let Some(db) = TestDb::postgres().await else { return };
    let data = tempfile::tempdir().unwrap();
    let store = db.open().await;
    let held = cluster_with_a_silent_node(&store, "held").await;
    let a = Berth::new(db.open().await, config(data.path()));
    a.recover().await.unwrap();

    let (stopped, finished) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let work = {
        let (stopped, finished) = (Dropped(stopped.clone()), finished.clone());
        async move {
            let _stopped = stopped;
            tokio::time::sleep(Duration::from_secs(20)).await;
            finished.store(true, Ordering::SeqCst);
            Ok(())
        }
    };
    let job = a.launch_for_tests(&admin(), held, work).await.unwrap();
    eventually(Duration::from_secs(3), "the work to start", || async {
        store.job(job).await.unwrap().unwrap().steps()[0].state == "running"
    })
    .await;
    // Another replica's recovery ends it, as when this replica's heartbeat lapsed while it was frozen.
    assert!(store.job_finish(job, "failed", "interrupted: taken over", &[], domain::clock::now_ms()).await.unwrap());
    eventually(Duration::from_secs(3), "the work to be stopped", || async { stopped.load(Ordering::SeqCst) }).await;
    assert!(!finished.load(Ordering::SeqCst));
    let ended = store.job(job).await.unwrap().unwrap();
    assert_eq!((ended.status.as_str(), ended.error.as_str()), ("failed", "interrupted: taken over"));
    let history = a.recent_operations(&admin(), 100).await.unwrap();
    assert!(!history.iter().any(|o| o.action == "cluster.test"), "{history:#?}");

    // The claim went with the work: the next job on the cluster runs, and its end is recorded.
    let start = Instant::now();
    let next = loop {
        match a.launch_for_tests(&admin(), held, async { Ok(()) }).await {
            Ok(id) => break id,
            Err(_) if start.elapsed() < Duration::from_secs(3) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("the claim was kept: {e:?}"),
        }
    };
    eventually(Duration::from_secs(3), "the next job to succeed", || async {
        store.job(next).await.unwrap().unwrap().status == "succeeded"
    })
    .await;
    eventually(Duration::from_secs(3), "its end in the history", || async {
        let history = a.recent_operations(&admin(), 100).await.unwrap();
        history.iter().filter(|o| o.action == "cluster.test" && o.outcome == "success").count() == 1
    })
    .await;

    a.stop_background().await;
    for s in [&store, a.store()] {
        s.close().await;
    }
    db.remove().await;
}
