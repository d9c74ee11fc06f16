//! Service autoscaling on a real local cluster: a service whose requests burn CPU (a CGI, under a
//! 0.1 CPU limit) is deployed with `berth.auto_scaling.target_cpu` labels and reached through the
//! cluster's router; under a load generator the autoscaler scales it out (each change an operation
//! by `autoscaler`, each decision with its reason), and once the load stops it scales back in only
//! after the window. A person scaling it by hand pauses the policy (the autoscaler records why it
//! does not act) until it is resumed; a policy set in the console replaces the labels' and is
//! checked against the service, and a schedule window holds the floor it asks for.

#![allow(clippy::print_stdout)] // the test reports how long scaling took

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::scaling::{Metric, Mode, Policy, Window};
use domain::store::OperationFilter;
use domain::testing::{admin, job_end, ClusterOptions, TestBerth, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMAGE: &str = "berth-test/burn:1";
const HOST: &str = "burn.apps.as.test";

/// A service whose every request burns CPU in a shell loop (slow under its 0.1 CPU limit).
const TEMPLATE: &str = r#"
services:
  web:
    image: berth-test/burn:1
    init: true
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\ni=0\\nwhile [ $i -lt 3000 ]; do i=$((i+1)); done\\necho Content-Type: text/plain\\necho\\necho burnt\\n' > /www/cgi-bin/burn && chmod +x /www/cgi-bin/burn && exec httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: burn
      berth.auto_scaling.target_cpu: "50"
      berth.auto_scaling.min_instances: "1"
      berth.auto_scaling.max_instances: "3"
      berth.auto_scaling.window: "15"
    deploy:
      replicas: 1
      resources:
        limits:
          cpus: "0.1"
"#;

async fn get(addr: &str) -> Option<u16> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(format!("GET /cgi-bin/burn HTTP/1.0\r\nHost: {HOST}\r\n\r\n").as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        String::from_utf8_lossy(&out).split(' ').nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
}

async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_bound_service_scales_out_under_load_and_back_in_after_the_window() {
    let t = TestBerth::new(|c| {
        c.reconcile_every = Duration::from_millis(500);
        c.collect_every = Duration::from_secs(2);
        c.route_every = Duration::from_millis(250);
        c.autoscale_every = Duration::from_millis(200);
    })
    .await;
    let berth = &t.berth;
    let options = ClusterOptions::one_node("as").image(IMAGE, &["sh", "httpd", "mkdir", "printf", "chmod"]);
    let cluster = TestCluster::create(berth, options).await;
    let id = cluster.id;
    berth.set_routing(&admin(), id, "apps.as.test", false).await.unwrap();
    let input = AppInput {
        cluster_id: id,
        name: "burn".into(),
        compose: TEMPLATE.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let edge = format!("{}:80", cluster.node("n1").address);
    eventually(Duration::from_secs(60), "the service answers through the router", async || {
        get(&edge).await == Some(200)
    })
    .await;

    // The labels' policy is the service's.
    let panel = berth.app_scaling(&admin(), app).await.unwrap();
    let web = panel.iter().find(|s| s.service == "web").unwrap();
    let policy = web.policy.as_ref().expect("the labels state a policy");
    assert_eq!(policy.source, "labels");
    assert_eq!(policy.policy.mode, Mode::Target { target: 50.0, window_s: 15 });
    assert!(web.cpus);

    // Load: 6 requests at a time, each burning CPU under the service's 0.1 limit.
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..6)
        .map(|_| {
            let (stop, edge) = (stop.clone(), edge.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = get(&edge).await;
                }
            })
        })
        .collect();
    let replicas = async || {
        let panel = berth.app_scaling(&admin(), app).await.unwrap();
        let web = panel.into_iter().find(|s| s.service == "web").unwrap();
        web.points.last().map(|p| p.replicas).unwrap_or(0)
    };
    let out = eventually(Duration::from_secs(60), "the autoscaler scales out", async || replicas().await >= 2).await;
    println!("scaled out {out:?} after the load started");
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    let stopped = Instant::now();
    // Back to one, but not before the 15 s window has passed.
    eventually(Duration::from_secs(90), "the autoscaler scales back in", async || replicas().await == 1).await;
    let back = stopped.elapsed();
    println!("scaled back in {back:?} after the load stopped");
    assert!(back >= Duration::from_secs(15), "the window held the replicas ({back:?})");

    let panel = berth.app_scaling(&admin(), app).await.unwrap();
    let web = panel.iter().find(|s| s.service == "web").unwrap();
    let kinds: Vec<&str> = web.decisions.iter().map(|d| d.kind.as_str()).collect();
    assert!(kinds.contains(&"scale-up") && kinds.contains(&"scale-down"), "{kinds:?}");
    let up = web.decisions.iter().find(|d| d.kind == "scale-up").unwrap();
    assert!(up.reason.contains("against a target of 50%"), "{}", up.reason);
    let filter =
        OperationFilter { actor: "autoscaler".into(), action: "app.scale".into(), limit: 50, ..Default::default() };
    let ops = berth.operations(&admin(), &filter).await.unwrap();
    assert!(ops.len() >= 2, "each change is an operation by the autoscaler: {ops:?}");
    let odd: Vec<String> = ops
        .iter()
        .filter(|o| o.channel != "system" || o.outcome != "success")
        .map(|o| format!("{} {} {} {:?}", o.action, o.channel, o.outcome, o.error_message))
        .collect();
    assert!(odd.is_empty(), "the autoscaler's operations are on the system channel and succeeded: {odd:?}");

    // A person scaling by hand pauses the policy; the autoscaler says so and leaves it alone.
    berth.scale_service(&admin(), app, "web", 2).await.unwrap();
    let paused = async || {
        let panel = berth.app_scaling(&admin(), app).await.unwrap();
        let web = panel.into_iter().find(|s| s.service == "web").unwrap();
        web.policy.unwrap().paused.is_some() && web.decisions.first().is_some_and(|d| d.kind == "paused")
    };
    eventually(Duration::from_secs(30), "the policy shows it is paused", paused).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(replicas().await, 2, "a paused policy does not scale the idle service back in");
    berth.resume_scaling(&admin(), app, "web").await.unwrap();
    eventually(Duration::from_secs(60), "the resumed policy scales back in", async || replicas().await == 1).await;

    // The console's policy replaces the labels' and is checked against the service.
    let memory = Policy { metric: Metric::Memory, mode: Mode::Target { target: 50.0, window_s: 60 }, min: 1, max: 3 };
    let e = berth.set_scaling_policy(&admin(), app, "web", memory, vec![]).await.unwrap_err().to_string();
    assert!(e.contains("target_memory") && e.contains("limits.memory"), "{e}");
    let steps = Policy {
        metric: Metric::Cpu,
        mode: Mode::Step { lower: 10.0, upper: 80.0, step: 1, hold_s: 60 },
        min: 1,
        max: 2,
    };
    let set = berth.set_scaling_policy(&admin(), app, "web", steps.clone(), vec![]).await.unwrap();
    assert_eq!((set.source.as_str(), &set.policy), ("console", &steps));
    let viewer = domain::Actor {
        principal: domain::Principal::User(domain::UserRef {
            id: 7,
            username: "vera".into(),
            role: domain::authz::Role::User,
            grants: vec![domain::Grant { cluster: Some(id), role: domain::ClusterRole::Viewer }],
            token: None,
        }),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    };
    let refused = berth.set_scaling_policy(&viewer, app, "web", steps.clone(), vec![]).await;
    assert!(refused.is_err(), "a viewer may not set a policy");

    // A schedule window raises the floor: one that opened this minute (and closes on January 1st)
    // holds 2 replicas of the idle service; a window asking for more than max is refused by field.
    let window = |replicas| Window {
        name: "launch".into(),
        start: "* * * * *".into(),
        end: "0 0 1 1 *".into(),
        timezone: "Europe/Berlin".into(),
        replicas,
    };
    let e = berth.set_scaling_policy(&admin(), app, "web", steps.clone(), vec![window(3)]).await.unwrap_err();
    assert!(e.to_string().contains("schedules[0].replicas"), "{e}");
    berth.set_scaling_policy(&admin(), app, "web", steps, vec![window(2)]).await.unwrap();
    eventually(Duration::from_secs(60), "the window scales the service to 2", async || replicas().await == 2).await;
    let panel = berth.app_scaling(&admin(), app).await.unwrap();
    let web = panel.iter().find(|s| s.service == "web").unwrap();
    let by_schedule = web.decisions.iter().find(|d| d.kind == "schedule").expect("a decision by the schedule");
    assert!(by_schedule.reason.contains("the schedule launch asks for 2"), "{}", by_schedule.reason);
    assert!(web.next_openings[0].is_some());
    berth.remove_scaling_policy(&admin(), app, "web").await.unwrap();
    assert!(berth.app_scaling(&admin(), app).await.unwrap().iter().all(|s| s.policy.is_none()));
}
