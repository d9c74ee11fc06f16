//! Local clusters on the real dockerd: one-click creation (1 and 3 managers), zones, tasks on every
//! node, drain and removal with tasks moving, a killed node seen down and back, failure clean-up,
//! deletion without leftovers, and recovery after a restart.
//!
//! Each test builds real Docker-in-Docker nodes; they take seconds, not milliseconds.

use std::process::Command;
use std::time::{Duration, Instant};

use domain::authz::{Principal, UserRef};
use domain::engine::{Endpoint, NodeAvailability, NodeRole};
use domain::local::LocalClusterInput;
use domain::store::NewJob;
use domain::testing::{ClusterOptions, TestBerth, TestCluster, TestDb};
use domain::{Actor, Berth, Error};

const IMAGE: &str = "berth-test/busybox:1";

fn admin() -> Actor {
    Actor {
        principal: Principal::User(UserRef::admin(1, "admin")),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A tiny image built from busybox-static, without a registry.
fn ensure_test_image() {
    if Command::new("docker").args(["image", "inspect", IMAGE]).output().unwrap().status.success() {
        return;
    }
    domain::testing::busybox_image(IMAGE, &["sh", "sleep", "true"]);
}

/// Waits for a job to end and returns its status and error.
async fn wait_job(berth: &Berth, id: i64) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let job = berth.job(&admin(), id).await.unwrap();
        if job.status != "running" {
            return (job.status, job.error);
        }
        assert!(Instant::now() < deadline, "job {id} still running: {:?}", job.steps());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `check` until it holds, for at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A cluster made through the one-click creation, its job succeeded; removed at the latest when the
/// test ends, also when it fails.
async fn create(berth: &Berth, name: &str, nodes: u32, managers: u32, zones: &[&str]) -> TestCluster {
    let options = ClusterOptions::one_node(name).nodes(nodes).managers(managers).zones(zones);
    let cluster = TestCluster::create(berth, options).await;
    assert_eq!(cluster.job.status, "succeeded", "{}", cluster.job.error);
    assert_eq!(cluster.name, name);
    cluster
}

/// The socket of a node, for the docker CLI.
async fn node_host(berth: &Berth, cluster: i64, name: &str) -> String {
    let detail = berth.cluster(&admin(), cluster).await.unwrap();
    detail.nodes.into_iter().find(|n| n.name == name).unwrap().endpoint
}

/// Containers and networks this installation made for `cluster` that still exist.
async fn leftovers(berth: &Berth, cluster: i64) -> (String, String) {
    let installation = format!("label=berth.installation={}", berth.installation().await.unwrap());
    let label = format!("label=berth.cluster={cluster}");
    (
        docker(&["ps", "-aq", "--filter", &installation, "--filter", &label]),
        docker(&["network", "ls", "-q", "--filter", &installation, "--filter", &label]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_cluster_runs_tasks_drains_removes_and_deletes() {
    ensure_test_image();
    let f = TestBerth::new(|_| {}).await;
    let berth = &f.berth;
    let alpha = create(berth, "alpha", 3, 1, &["a", "b"]).await;
    let id = alpha.id;

    // Three nodes, one manager and leader, all Ready, zones spread a, b, a.
    let detail = berth.cluster(&admin(), id).await.unwrap();
    assert_eq!(detail.cluster.status, "ready");
    let nodes = &detail.nodes;
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["n1", "n2", "n3"]);
    assert_eq!(nodes.iter().map(|n| n.zone.as_str()).collect::<Vec<_>>(), ["a", "b", "a"]);
    assert!(nodes.iter().all(|n| n.state == "ready"), "{nodes:?}");
    assert_eq!(nodes.iter().filter(|n| n.is_manager()).count(), 1);
    assert_eq!(nodes[0].leader, 1);
    assert!(nodes.iter().all(|n| n.labels().get("berth.zone") == Some(&n.zone)));

    // A task on each node: three replicas spread over three nodes.
    let manager = node_host(berth, id, "n1").await;
    alpha.load_image(IMAGE);
    docker(&[
        "-H",
        &manager,
        "service",
        "create",
        "-d",
        "--name",
        "probe",
        "--replicas",
        "3",
        "--no-resolve-image",
        "--endpoint-mode",
        "dnsrr",
        IMAGE,
        "sleep",
        "100000",
    ]);
    let running_nodes = |host: String| async move {
        let out = docker(&[
            "-H",
            &host,
            "service",
            "ps",
            "probe",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ]);
        out.lines()
            .filter(|l| l.contains("Running"))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    within(Duration::from_secs(60), "three running tasks", || {
        let host = manager.clone();
        async move {
            let mut nodes = running_nodes(host).await;
            nodes.sort();
            nodes == ["n1", "n2", "n3"]
        }
    })
    .await;

    // The node page lists the task on it.
    let n3 = berth.cluster(&admin(), id).await.unwrap().nodes.into_iter().find(|n| n.name == "n3").unwrap();
    let page = berth.node_detail(&admin(), id, n3.id).await.unwrap();
    assert!(page.tasks.iter().any(|(t, service)| service == "probe" && t.state == "running"), "{:?}", page.tasks);

    // Drain n3: its task moves to the others.
    berth.set_node_availability(&admin(), id, n3.id, NodeAvailability::Drain).await.unwrap();
    within(Duration::from_secs(60), "the task to leave n3", || {
        let host = manager.clone();
        async move {
            let nodes = running_nodes(host).await;
            nodes.len() == 3 && !nodes.iter().any(|n| n == "n3")
        }
    })
    .await;
    let n3 = berth.cluster(&admin(), id).await.unwrap().nodes.into_iter().find(|n| n.name == "n3").unwrap();
    assert_eq!(n3.availability, "drain");
    berth.set_node_availability(&admin(), id, n3.id, NodeAvailability::Active).await.unwrap();

    // Remove n2: drained first, its task runs elsewhere, its container is gone.
    let n2 = berth.cluster(&admin(), id).await.unwrap().nodes.into_iter().find(|n| n.name == "n2").unwrap();
    let job = berth.remove_node(&admin(), id, n2.id).await.unwrap();
    let (status, error) = wait_job(berth, job).await;
    assert_eq!(status, "succeeded", "{error}");
    let names: Vec<String> = berth.cluster(&admin(), id).await.unwrap().nodes.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["n1", "n3"]);
    assert_eq!(docker(&["ps", "-aq", "--filter", &format!("name={}", n2.container)]), "");
    let swarm_nodes = docker(&["-H", &manager, "node", "ls", "--format", "{{.Hostname}}"]);
    assert!(!swarm_nodes.contains("n2"), "{swarm_nodes}");
    within(Duration::from_secs(60), "three tasks on the two remaining nodes", || {
        let host = manager.clone();
        async move {
            let nodes = running_nodes(host).await;
            nodes.len() == 3 && nodes.iter().all(|n| n == "n1" || n == "n3")
        }
    })
    .await;

    // The last manager can neither be demoted nor removed.
    let n1 = berth.cluster(&admin(), id).await.unwrap().nodes.into_iter().find(|n| n.name == "n1").unwrap();
    assert!(matches!(berth.set_node_role(&admin(), id, n1.id, NodeRole::Worker).await, Err(Error::Conflict(_))));
    assert!(matches!(berth.remove_node(&admin(), id, n1.id).await, Err(Error::Conflict(_))));

    // Scale out by two: n4 and n5 join as workers.
    let job = berth.add_local_nodes(&admin(), id, 2).await.unwrap();
    let (status, error) = wait_job(berth, job).await;
    assert_eq!(status, "succeeded", "{error}");
    let nodes = berth.cluster(&admin(), id).await.unwrap().nodes;
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["n1", "n3", "n4", "n5"]);
    assert!(nodes.iter().all(|n| n.state == "ready"), "{nodes:?}");

    // Delete: nothing is left behind.
    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    let (status, error) = wait_job(berth, job).await;
    assert_eq!(status, "succeeded", "{error}");
    assert!(berth.clusters(&admin()).await.unwrap().is_empty());
    assert_eq!(leftovers(berth, id).await, (String::new(), String::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_managers_and_a_node_lost_and_found() {
    let f = TestBerth::new(|_| {}).await;
    let berth = &f.berth;
    let beta = create(berth, "beta", 3, 3, &[]).await;
    let id = beta.id;
    let nodes = berth.cluster(&admin(), id).await.unwrap().nodes;
    assert!(nodes.iter().all(|n| n.is_manager() && n.state == "ready"), "{nodes:?}");
    assert_eq!(nodes.iter().filter(|n| n.leader == 1).count(), 1);
    assert!(nodes.iter().all(|n| n.zone == "default"));

    // Kill a node: it is Down within 15 s, and Ready again after it restarts.
    let lost = nodes.iter().find(|n| n.leader == 0).unwrap().clone();
    docker(&["kill", &lost.container]);
    let took = within(Duration::from_secs(15), "the killed node to be marked down", || async {
        berth.cluster(&admin(), id).await.unwrap().nodes.iter().any(|n| n.id == lost.id && n.state == "down")
    })
    .await;
    assert!(took <= Duration::from_secs(15), "{took:?}");
    assert_eq!(berth.cluster(&admin(), id).await.unwrap().cluster.status, "degraded");
    // Calls that need the dead node answer node_unreachable in bounded time.
    let started = Instant::now();
    let lost_engine = domain::engine::Engine::new(Endpoint::parse(&lost.endpoint).unwrap(), Duration::from_secs(4));
    assert!(lost_engine.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));

    docker(&["start", &lost.container]);
    let back = Instant::now();
    // The pass that finds the node ready writes the nodes first and the cluster's status after.
    loop {
        let summary = berth.cluster(&admin(), id).await.unwrap();
        if summary.nodes.iter().all(|n| n.state == "ready") && summary.cluster.status == "ready" {
            break;
        }
        let states: Vec<_> = summary.nodes.iter().map(|n| format!("{} {} {}", n.name, n.state, n.message)).collect();
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "not ready again after 60 s: {} {states:?}",
            summary.cluster.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    assert_eq!(wait_job(berth, job).await.0, "succeeded");
    assert_eq!(leftovers(berth, id).await, (String::new(), String::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_creation_says_where_and_leaves_nothing() {
    let f = TestBerth::new(|c| c.node_image = "berth-test/no-such-node-image:1".into()).await;
    let berth = &f.berth;
    let input = LocalClusterInput { name: "gamma".into(), nodes: 2, managers: 1, zones: vec![] };
    let job_id = berth.create_local_cluster(&admin(), &input).await.unwrap();
    let (status, error) = wait_job(berth, job_id).await;
    assert_eq!(status, "failed");
    assert!(error.contains("berth-test/no-such-node-image:1"), "{error}");
    let job = berth.job(&admin(), job_id).await.unwrap();
    let failed: Vec<_> = job.steps().into_iter().filter(|s| s.state == "failed").map(|s| s.name).collect();
    assert_eq!(failed, ["Prepare the node image"]);
    assert!(berth.clusters(&admin()).await.unwrap().is_empty(), "the cluster row is gone");
    let cluster = job.cluster_id.unwrap();
    assert_eq!(leftovers(berth, cluster).await, (String::new(), String::new()));
    assert!(!f.data.path().join("clusters").join(cluster.to_string()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_quotas_are_refused_at_once() {
    let f = TestBerth::new(|_| {}).await;
    let berth = &f.berth;
    let bad = LocalClusterInput { name: "delta".into(), nodes: 2, managers: 3, zones: vec![] };
    assert!(
        matches!(berth.create_local_cluster(&admin(), &bad).await, Err(Error::Invalid { field, .. }) if field == "managers")
    );
    let quotas = domain::cluster::Quotas { max_clusters: 0, max_nodes_per_cluster: 20 };
    berth.set_quotas(&admin(), quotas).await.unwrap();
    let ok = LocalClusterInput { name: "delta".into(), nodes: 1, managers: 1, zones: vec![] };
    assert!(matches!(berth.create_local_cluster(&admin(), &ok).await, Err(Error::Conflict(m)) if m.contains("quota")));
    let anonymous = Actor::anonymous("127.0.0.1", "t");
    assert!(matches!(berth.create_local_cluster(&anonymous, &ok).await, Err(Error::Unauthenticated)));
    assert!(berth.clusters(&admin()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_finds_clusters_again_and_ends_interrupted_jobs() {
    ensure_test_image();
    let db = TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let config = || domain::testing::local_config(data.path());
    let first = Berth::new(db.open().await, config());
    let epsilon = create(&first, "epsilon", 1, 1, &[]).await;
    let id = epsilon.id;

    // What a stop in the middle of a creation leaves: a `creating` cluster, a `running` job, and a
    // container carrying the cluster's ownership label.
    let store = first.store();
    let new = domain::cluster::NewCluster {
        name: "zeta".into(),
        provider: "local".into(),
        status: "creating".into(),
        zones: vec!["default".into()],
    };
    let zeta = store.cluster_insert(&new, 1).await.unwrap();
    let job = store
        .job_insert(&NewJob {
            kind: "cluster.create",
            cluster_id: Some(zeta),
            target: "zeta",
            steps: &[],
            actor_name: "admin",
            runner: "",
            started_at: 1,
        })
        .await
        .unwrap();
    let installation = first.installation().await.unwrap();
    docker(&[
        "create",
        "--name",
        &format!("berth-{installation}-c{zeta}-n1"),
        "--label",
        &format!("berth.installation={installation}"),
        "--label",
        &format!("berth.cluster={zeta}"),
        IMAGE,
        "true",
    ]);
    first.stop_background().await;

    let second = Berth::new(db.open().await, config());
    second.recover().await.unwrap();
    let names: Vec<_> = second.clusters(&admin()).await.unwrap().into_iter().map(|c| c.cluster.name).collect();
    assert_eq!(names, ["epsilon"], "the half-created cluster is undone");
    assert_eq!(leftovers(&second, zeta).await, (String::new(), String::new()));
    let job = second.job(&admin(), job).await.unwrap();
    assert_eq!((job.status.as_str(), job.error.contains("interrupted")), ("failed", true));
    let history = second.recent_operations(&admin(), 10).await.unwrap();
    assert!(history.iter().any(|o| o.action == "cluster.create" && o.target == "zeta" && o.outcome == "failure"));

    // The surviving cluster is reconciled again.
    within(Duration::from_secs(20), "the reconciler to see the node", || async {
        second.cluster(&admin(), id).await.unwrap().nodes.iter().all(|n| n.state == "ready" && n.seen_at > 0)
    })
    .await;
    let job = second.delete_cluster(&admin(), id).await.unwrap();
    assert_eq!(wait_job(&second, job).await.0, "succeeded");
    assert_eq!(leftovers(&second, id).await, (String::new(), String::new()));
}

/// The test support's promise: a test that panics with its cluster up leaves none of its node
/// containers, networks or volumes behind, and touches no other cluster's. (The panic's message shows
/// in this test's output.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_panics_leaves_nothing_of_its_cluster() {
    ensure_test_image();
    let f = TestBerth::new(|_| {}).await;
    let installation = f.berth.installation().await.unwrap();
    let (made, made_rx) = tokio::sync::oneshot::channel();
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    let berth = f.berth.clone();
    let test = tokio::spawn(async move {
        let cluster = create(&berth, "panics", 1, 1, &[]).await;
        let node = cluster.node("n1").container.clone();
        let volumes = docker(&[
            "inspect",
            "--format",
            "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}",
            &node,
        ]);
        let _ = made.send((cluster.id, node, volumes));
        let _ = go_rx.await;
        panic!("a test fails with its cluster up");
    });
    let (id, node, volumes) = made_rx.await.expect("the cluster was made");
    assert_ne!(leftovers(&f.berth, id).await, (String::new(), String::new()), "the cluster is up");
    assert!(!volumes.is_empty(), "the node keeps its engine's state in a volume");

    // Things of other clusters on the same engine: another cluster of this installation, and a
    // cluster with the same id of another installation.
    let decoys = [(installation.clone(), id + 10), (format!("{installation}x"), id)];
    for (i, (installation, cluster)) in decoys.iter().enumerate() {
        docker(&[
            "create",
            "--name",
            &format!("berth-{installation}-decoy{i}"),
            "--label",
            &format!("berth.installation={installation}"),
            "--label",
            &format!("berth.cluster={cluster}"),
            IMAGE,
            "true",
        ]);
    }

    let _ = go.send(());
    assert!(test.await.unwrap_err().is_panic());
    assert_eq!(leftovers(&f.berth, id).await, (String::new(), String::new()));
    assert_eq!(docker(&["ps", "-aq", "--filter", &format!("name={node}")]), "");
    for volume in volumes.split_whitespace() {
        let inspect = Command::new("docker").args(["volume", "inspect", volume]).output().unwrap();
        assert!(!inspect.status.success(), "volume {volume} of {node} is left");
    }
    for (i, (installation, _)) in decoys.iter().enumerate() {
        let decoy = format!("berth-{installation}-decoy{i}");
        assert_eq!(
            docker(&["ps", "-aq", "--filter", &format!("name={decoy}")]).lines().count(),
            1,
            "{decoy} was removed"
        );
        docker(&["rm", &decoy]);
    }
    f.berth.stop_background().await;
}
