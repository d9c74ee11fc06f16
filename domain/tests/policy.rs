//! The workload policy on a real one-node local cluster: the two bypasses an operator used to take
//! the nodes (an external network named `host`; the Docker socket through `/proc/self/root` and the
//! node's second socket) are refused naming the line, and allowed for an admin; a cluster admin's
//! allowances (a host directory read-only, then read-write; an existing overlay network) let an
//! operator deploy exactly that; a volume an admin's app left on the nodes as a bind of `/etc`
//! cannot be taken over by an operator's app of the same name; the container keys swarm applies
//! reach the containers; an app whose service is removed behind Berth's back turns `degraded`
//! (with an event) without anyone opening its page, and `running` again after a redeploy; and a
//! client that follows a job to its end and acts at once never meets the job's claim (R7).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::authz::{Grant, Principal, UserRef};
use domain::testing::{ClusterOptions, TestBerth, TestCluster};
use domain::user::Role;
use domain::{Actor, Berth, ClusterRole, Error};

const IMAGE: &str = "berth-test/policy:1";

fn actor(user: UserRef) -> Actor {
    Actor { principal: Principal::User(user), source: "127.0.0.1".into(), request_id: "test".into() }
}

fn admin() -> Actor {
    actor(UserRef::admin(1, "admin"))
}

fn member(cluster: i64, role: ClusterRole, name: &str) -> Actor {
    actor(UserRef {
        id: 2,
        username: name.into(),
        role: Role::User,
        grants: vec![Grant { cluster: Some(cluster), role }],
        token: None,
    })
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn wait_job(berth: &Berth, id: i64) -> domain::job::Job {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let job = berth.job(&admin(), id).await.unwrap();
        if job.status != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn succeeded(berth: &Berth, id: i64) {
    let job = wait_job(berth, id).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
}

fn service(extra: &str) -> String {
    format!("services:\n  tool:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '100000']\n{extra}")
}

fn input(cluster: i64, name: &str, compose: String) -> AppInput {
    AppInput { cluster_id: cluster, name: name.into(), compose, vars: BTreeMap::new(), template_id: None }
}

/// The refusal's message, asserting it is one.
async fn refused(berth: &Berth, who: &Actor, input: &AppInput) -> String {
    match berth.deploy_app(who, input).await {
        Err(Error::Forbidden(m)) => m,
        other => panic!("{}: expected a refusal, got {other:?}", input.compose),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_policy_on_a_real_cluster() {
    let test = TestBerth::new(|config| config.app_deploy_timeout = Duration::from_secs(60)).await;
    let berth = test.berth.clone();
    let options = ClusterOptions::one_node("policy").zones(&["a"]).image(IMAGE, &["sleep", "cat", "ls"]);
    let created = TestCluster::create(&berth, options).await;
    let cluster = &created.summary;
    let id = created.id;
    let node = cluster.nodes[0].endpoint.clone();
    let otto = member(id, ClusterRole::Operator, "otto");
    let carla = member(id, ClusterRole::ClusterAdmin, "carla");

    // The two confirmed bypasses, refused for an operator at their lines; nothing is created.
    let host_network = "services:\n  tool:\n    image: IMAGE\n    init: true\n    command: [sleep, '100000']\n    \
                        networks: [h]\nnetworks:\n  h:\n    external: true\n    name: host\n"
        .replace("IMAGE", IMAGE);
    let m = refused(&berth, &otto, &input(id, "tool", host_network.clone())).await;
    assert!(m.contains("line 6: services.tool.networks.h") && m.contains("host"), "{m}");
    for (socket, line) in [
        ("/proc/self/root/var/run/docker.sock", 7),
        ("/run/node/docker.sock", 7),
        ("/run/containerd/containerd.sock", 7),
        ("/etc", 7),
    ] {
        let compose = service(&format!("    volumes:\n      - {socket}:/s\n"));
        let m = refused(&berth, &otto, &input(id, "tool", compose)).await;
        assert!(m.contains(&format!("line {line}: services.tool.volumes[0]")) && m.contains(socket), "{m}");
    }
    assert!(berth.apps(&admin(), Some(id)).await.unwrap().is_empty(), "nothing was created");
    // An admin may: the task joins the node's network (it sees the node's interfaces).
    let (tool, job) = berth.deploy_app(&admin(), &input(id, "hostnet", host_network)).await.unwrap();
    succeeded(&berth, job).await;
    let detail = berth.app_detail(&admin(), tool).await.unwrap();
    assert_eq!(detail.services[0].running, 1);
    let inspect = docker(&[
        "-H",
        &node,
        "ps",
        "--filter",
        "label=com.docker.stack.namespace=hostnet",
        "--format",
        "{{.Networks}}",
    ]);
    assert_eq!(inspect, "host", "the admin's service runs in the host network");
    let job = berth.delete_app(&admin(), tool, true).await.unwrap();
    succeeded(&berth, job).await;

    // Allowances: a cluster admin allows /usr/share read-only; the operator may bind under it
    // read-only, not read-write, and not next to it.
    let set = |paths: Vec<(&str, bool)>, networks: Vec<&str>| compose::Allowances {
        paths: paths.into_iter().map(|(p, rw)| compose::HostPath { path: p.into(), read_write: rw }).collect(),
        networks: networks.into_iter().map(String::from).collect(),
    };
    let refused_setting = berth.set_workload_policy(&carla, id, &set(vec![("/", false)], vec![])).await;
    assert!(
        matches!(refused_setting, Err(Error::Invalid { ref field, .. }) if field == "paths[0]"),
        "{refused_setting:?}"
    );
    let refused_setting = berth.set_workload_policy(&otto, id, &set(vec![("/usr/share", false)], vec![])).await;
    assert!(matches!(refused_setting, Err(Error::Forbidden(_))), "an operator sets no allowances");
    let stored = berth.set_workload_policy(&carla, id, &set(vec![("/usr/share/", false)], vec![])).await.unwrap();
    assert_eq!(stored.paths[0].path, "/usr/share", "normalised");
    assert_eq!(berth.workload_policy(&otto, id).await.unwrap(), stored, "operators read what is allowed");
    let read_only = service("    volumes:\n      - /usr/share/doc:/doc:ro\n");
    let (docs, job) = berth.deploy_app(&otto, &input(id, "docs", read_only)).await.unwrap();
    succeeded(&berth, job).await;
    let m = refused(&berth, &otto, &input(id, "docsrw", service("    volumes:\n      - /usr/share/doc:/doc\n"))).await;
    assert!(m.contains("read-only"), "{m}");
    let m = refused(&berth, &otto, &input(id, "lib", service("    volumes:\n      - /usr/lib:/lib2:ro\n"))).await;
    assert!(m.contains("/usr/lib"), "{m}");
    // Made read-write, the same bind is allowed.
    berth.set_workload_policy(&carla, id, &set(vec![("/usr/share", true)], vec![])).await.unwrap();
    let (docsrw, job) = berth
        .deploy_app(&otto, &input(id, "docsrw", service("    volumes:\n      - /usr/share/doc:/doc\n")))
        .await
        .unwrap();
    succeeded(&berth, job).await;

    // An existing overlay network, allowed by name, may be joined; an unknown one is refused.
    let manager = cluster.nodes[0].endpoint.clone();
    docker(&["-H", &manager, "network", "create", "-d", "overlay", "--attachable", "shared-net"]);
    let joins = |net: &str| {
        format!(
            "services:\n  tool:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '100000']\n    networks: [s]\n\
             networks:\n  s:\n    external: true\n    name: {net}\n"
        )
    };
    let m = refused(&berth, &otto, &input(id, "joiner", joins("shared-net"))).await;
    assert!(m.contains("shared-net"), "{m}");
    berth
        .set_workload_policy(&carla, id, &set(vec![("/usr/share", true)], vec!["shared-net", "ghost-net"]))
        .await
        .unwrap();
    let (joiner, job) = berth.deploy_app(&otto, &input(id, "joiner", joins("shared-net"))).await.unwrap();
    succeeded(&berth, job).await;
    let (_, job) = berth.deploy_app(&otto, &input(id, "ghost", joins("ghost-net"))).await.unwrap();
    let ended = wait_job(&berth, job).await;
    assert!(ended.error.contains("network `ghost-net` does not exist"), "{}", ended.error);

    // A volume an admin's app left on the node as a bind of /etc cannot be reused by an operator's
    // app of the same name.
    let etc = format!(
        "services:\n  tool:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '100000']\n    volumes: [conf:/conf]\n\
         volumes:\n  conf:\n    driver: local\n    driver_opts:\n      type: none\n      o: bind\n      device: /etc\n"
    );
    let (left, job) = berth.deploy_app(&admin(), &input(id, "leftover", etc)).await.unwrap();
    succeeded(&berth, job).await;
    let job = berth.delete_app(&admin(), left, false).await.unwrap();
    succeeded(&berth, job).await;
    let plain = format!(
        "services:\n  tool:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '100000']\n    volumes: [conf:/conf]\n\
         volumes:\n  conf: {{}}\n"
    );
    let m = refused(&berth, &otto, &input(id, "leftover", plain)).await;
    assert!(m.contains("volume `leftover_conf` already exists") && m.contains("device=/etc"), "{m}");
    docker(&["-H", &node, "volume", "rm", "leftover_conf"]);

    // The container keys swarm applies reach the container; nothing drifts.
    let keys = service(
        "    read_only: true\n    stop_signal: SIGINT\n    tty: true\n    extra_hosts: [\"db.internal:10.1.2.3\"]\n    \
         dns_search: [example.internal]\n    sysctls:\n      net.core.somaxconn: '511'\n    ulimits:\n      nofile: {soft: 1024, hard: 2048}\n    \
         pids_limit: 64\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
    );
    let (keyed, job) = berth.deploy_app(&otto, &input(id, "keys", keys)).await.unwrap();
    succeeded(&berth, job).await;
    let container = docker(&["-H", &node, "ps", "-q", "--filter", "label=com.docker.stack.namespace=keys"]);
    let host_config = docker(&[
        "-H",
        &node,
        "inspect",
        "--format",
        "{{json .HostConfig}} {{json .Config.StopSignal}} {{json .Config.Tty}}",
        &container,
    ]);
    for want in [
        "\"ReadonlyRootfs\":true",
        "\"net.core.somaxconn\":\"511\"",
        "\"Name\":\"nofile\",\"Hard\":2048,\"Soft\":1024",
        "db.internal:10.1.2.3",
        "\"PidsLimit\":64",
        "\"max-size\":\"1m\"",
        "\"SIGINT\"",
        " true",
    ] {
        assert!(host_config.contains(want), "{want} missing from {host_config}");
    }
    let detail = berth.app_detail(&admin(), keyed).await.unwrap();
    assert!(detail.services[0].drift.is_empty(), "{:?}", detail.services[0].drift);

    // Behind Berth's back: the service goes; the app turns degraded with an event, unopened.
    docker(&["-H", &manager, "service", "rm", "keys_tool"]);
    let started = Instant::now();
    loop {
        let app = berth.apps(&admin(), Some(id)).await.unwrap().into_iter().find(|a| a.id == keyed).unwrap();
        if app.status == "degraded" {
            assert!(app.message.contains("tool is missing from the swarm"), "{}", app.message);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still {} after 20 s", app.status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = berth.events(&admin(), id, "keys", 20).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "app" && e.action == "degraded"), "{events:?}");
    let job = berth.redeploy_app(&otto, keyed).await.unwrap();
    succeeded(&berth, job).await;
    assert_eq!(berth.apps(&admin(), Some(id)).await.unwrap().iter().find(|a| a.id == keyed).unwrap().status, "running");

    // R7, in process where a client reacts within microseconds: a job followed to `succeeded` has
    // released its claim, so the next operation on the app starts at once.
    for i in 0..10 {
        let (app, job) = berth.deploy_app(&otto, &input(id, &format!("quick{i}"), service(""))).await.unwrap();
        loop {
            let j = berth.job(&admin(), job).await.unwrap();
            if j.status != "running" {
                assert_eq!(j.status, "succeeded", "{}", j.error);
                break;
            }
            tokio::task::yield_now().await;
        }
        match berth.delete_app(&otto, app, true).await {
            Ok(job) => succeeded(&berth, job).await,
            Err(e) => panic!("deploy {i}: a client that waited for the job met: {e}"),
        }
    }

    for app in [docs, docsrw, joiner, keyed] {
        let job = berth.delete_app(&admin(), app, true).await.unwrap();
        succeeded(&berth, job).await;
    }
    docker(&["-H", &manager, "network", "rm", "shared-net"]);
    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    succeeded(&berth, job).await;
}
