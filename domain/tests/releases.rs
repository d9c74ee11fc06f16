//! Blue-green releases on a real 3-node local cluster, through the routers on the nodes' port 80:
//! the renamed service of a new version comes up beside the old one at weight 0 (every request
//! still reaches the old version), 50 % splits 1,000 requests about evenly, **Confirm** moves
//! everything to the new version and removes the old service — while a concurrent load sees no
//! answer other than 200 — and a second release rolled back leaves the confirmed version alone.
//! Then two progressive releases: a healthy version is stepped to 100 % and confirmed by Berth
//! under load, and a version that answers 500 is rolled back by Berth as soon as the routers
//! measure it, each move in the history by `progressive-release`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::testing::{admin, job_end, ClusterOptions, TestBerth, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMAGE: &str = "berth-test/released:1";

/// A template whose one routed service (named `service`) answers `version hostname`.
fn template(service: &str, version: &str, blue_green: bool) -> String {
    let method = if blue_green { "\n      berth.update_method: blue-green" } else { "" };
    shaped(service, &format!("echo {version} $(hostname) > /www/index.html"), method)
}

/// A template whose one routed service answers every request with 500 (an index CGI).
fn broken(service: &str) -> String {
    let cgi = "mkdir -p /www/cgi-bin && echo '#!/bin/sh' > /www/cgi-bin/index.cgi \
               && echo 'echo Status: 500 Broken' >> /www/cgi-bin/index.cgi && echo 'echo' >> /www/cgi-bin/index.cgi \
               && echo 'echo broken' >> /www/cgi-bin/index.cgi && chmod +x /www/cgi-bin/index.cgi";
    shaped(service, cgi, "")
}

fn shaped(service: &str, content: &str, method: &str) -> String {
    format!(
        r#"
services:
  {service}:
    image: {IMAGE}
    init: true
    hostname: "{{{{.Service.Name}}}}-{{{{.Task.Slot}}}}"
    command: ["sh", "-c", "mkdir -p /www && {content} && exec httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: shop{method}
    deploy:
      replicas: 2
"#
    )
}

/// One HTTP/1.0 GET of `/` with a Host header: (status, body), None when nothing answers in 3 s.
async fn get(addr: &str, host: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        Some((head.split(' ').nth(1)?.parse().ok()?, body.trim().to_string()))
    };
    tokio::time::timeout(Duration::from_secs(3), exchange).await.ok().flatten()
}

/// How many of `n` answers came from each version (the first word of the body).
async fn versions(addr: &str, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let v = match get(addr, "shop.apps.rel.test").await {
            Some((200, body)) => body.split(' ').next().unwrap_or_default().to_string(),
            Some((status, _)) => format!("status {status}"),
            None => "no answer".into(),
        };
        *seen.entry(v).or_default() += 1;
    }
    seen
}

async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Requests sent in a loop until stopped, counting answers other than 200.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    bad: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(addr: String) -> Load {
        let bad: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (s, n, b) = (stop.clone(), sent.clone(), Arc::clone(&bad));
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                let answer = get(&addr, "shop.apps.rel.test").await;
                n.fetch_add(1, Ordering::Relaxed);
                if !matches!(answer, Some((200, _))) {
                    b.lock().unwrap().push(format!("{answer:?}"));
                }
            }
        });
        Load { stop, sent, bad, task }
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        (self.sent.load(Ordering::Relaxed), self.bad.lock().unwrap().clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_release_moves_traffic_by_weight_and_confirm_removes_the_old_side() {
    let t = TestBerth::new(|c| {
        c.reconcile_every = Duration::from_millis(500);
        c.route_every = Duration::from_millis(250);
        c.traffic_every = Duration::from_millis(500);
    })
    .await;
    let berth = &t.berth;
    let options =
        ClusterOptions::three_nodes("rel").image(IMAGE, &["sh", "httpd", "hostname", "mkdir", "echo", "chmod"]);
    let cluster = TestCluster::create(berth, options).await;
    let id = cluster.id;
    berth.set_routing(&admin(), id, "apps.rel.test", false).await.unwrap();
    let input = AppInput {
        cluster_id: id,
        name: "shop".into(),
        compose: template("web", "v1", false),
        vars: BTreeMap::new(),
        template_id: None,
    };
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let edge = format!("{}:80", cluster.node("n1").address);
    let other_edge = format!("{}:80", cluster.node("n3").address);
    for at in [&edge, &other_edge] {
        eventually(Duration::from_secs(60), &format!("v1 answers through the router on {at}"), async || {
            versions(at, 4).await == BTreeMap::from([("v1".to_string(), 4)])
        })
        .await;
    }

    // Blue-green needs a renamed service sharing a route: the same names are refused, by field.
    let same = berth
        .update_app_as(
            &admin(),
            app,
            &template("web", "v2", false),
            &BTreeMap::new(),
            Some(compose::UpdateMethod::BlueGreen),
        )
        .await;
    let same = match same {
        Ok(job) => job_end(berth, job).await.error,
        Err(e) => e.to_string(),
    };
    assert!(same.contains("needs a routed service under a new name"), "{same}");

    // The template asks for blue-green: web-v2 starts beside web, at weight 0.
    let load = Load::start(other_edge.clone());
    let job = berth.update_app(&admin(), app, &template("web-v2", "v2", true), &BTreeMap::new()).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let r = berth.release(&admin(), app).await.unwrap().expect("a release");
    assert_eq!((r.state.as_str(), r.weight, r.pairs.clone()), ("awaiting", 0, vec![("web".into(), "web-v2".into())]));
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    let sides: BTreeMap<String, (String, u64)> =
        detail.services.iter().map(|s| (s.name.clone(), (s.side.clone(), s.running))).collect();
    assert_eq!(sides, BTreeMap::from([("web".into(), ("old".into(), 2)), ("web-v2".into(), ("new".into(), 2))]));
    assert!(detail.extra_services.is_empty(), "{:?}", detail.extra_services);
    // Other changes of version wait for the release.
    let busy = berth.redeploy_app(&admin(), app).await;
    let busy = match busy {
        Ok(job) => job_end(berth, job).await.error,
        Err(e) => e.to_string(),
    };
    assert!(busy.contains("release of version 2 in progress"), "{busy}");

    eventually(Duration::from_secs(20), "the routers serve weight 0", async || {
        berth.release(&admin(), app).await.unwrap().unwrap().served_weight == Some(0)
    })
    .await;
    assert_eq!(versions(&edge, 40).await, BTreeMap::from([("v1".to_string(), 40)]), "weight 0: all on the old side");
    let view = berth.routing(&admin(), id).await.unwrap();
    let route = view.routes.iter().find(|r| r.host == "shop.apps.rel.test").unwrap();
    let weights: Vec<(&str, u32, usize)> =
        route.sides.iter().map(|s| (s.name.as_str(), s.weight, s.backends.len())).collect();
    assert_eq!(weights, [("web", 100, 2), ("web-v2", 0, 2)]);

    // Half the traffic to the new side.
    let refused = berth.set_release_weight(&admin(), app, 101).await;
    assert!(matches!(refused, Err(domain::Error::Invalid { ref field, .. }) if field == "weight"), "{refused:?}");
    berth.set_release_weight(&admin(), app, 50).await.unwrap();
    eventually(Duration::from_secs(20), "the routers serve weight 50", async || {
        berth.release(&admin(), app).await.unwrap().unwrap().served_weight == Some(50)
    })
    .await;
    let split = versions(&edge, 1000).await;
    let v2 = split.get("v2").copied().unwrap_or_default();
    assert!((400..=600).contains(&v2), "50 % should give 500 ± 100 of 1,000 to v2: {split:?}");
    assert_eq!(split.values().sum::<usize>(), split.get("v1").copied().unwrap_or_default() + v2, "{split:?}");

    // Confirm: everything to v2, the old service removed, no failed request meanwhile.
    let job = berth.confirm_release(&admin(), app).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    assert_eq!(berth.release(&admin(), app).await.unwrap().unwrap().state, "confirmed");
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    let names: Vec<&str> = detail.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web-v2"]);
    assert!(detail.extra_services.is_empty(), "the old service is gone: {:?}", detail.extra_services);
    assert_eq!(versions(&edge, 40).await, BTreeMap::from([("v2".to_string(), 40)]));
    let (sent, bad) = load.finish().await;
    assert!(sent > 200, "the load ran ({sent} requests)");
    assert!(
        bad.is_empty(),
        "{} of {sent} requests failed during the release: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    // A second release, rolled back: v2 serves everything again and web-v3 is gone.
    let job = berth.update_app(&admin(), app, &template("web-v3", "v3", true), &BTreeMap::new()).await.unwrap();
    assert_eq!(job_end(berth, job).await.status, "succeeded");
    berth.set_release_weight(&admin(), app, 100).await.unwrap();
    eventually(Duration::from_secs(20), "v3 serves everything", async || {
        versions(&edge, 10).await == BTreeMap::from([("v3".to_string(), 10)])
    })
    .await;
    let job = berth.rollback_release(&admin(), app).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let r = berth.release(&admin(), app).await.unwrap().unwrap();
    assert_eq!((r.state.as_str(), r.to_version), ("rolled_back", 3));
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    assert_eq!(detail.app.version, 4, "the rollback is a version of its own");
    assert_eq!(detail.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["web-v2"]);
    assert!(detail.extra_services.is_empty(), "{:?}", detail.extra_services);
    assert_eq!(versions(&edge, 20).await, BTreeMap::from([("v2".to_string(), 20)]));

    // A progressive release of a healthy version: stepped 50 → 100 % and confirmed by Berth.
    let plan = |steps: Vec<u32>| domain::release::Progressive {
        steps,
        interval_s: 2,
        max_5xx_pct: 5.0,
        max_p99_ms: 2000.0,
        min_requests: 5,
        ..Default::default()
    };
    let load = Load::start(other_edge.clone());
    let started = Instant::now();
    let job = berth
        .release_app_progressive(&admin(), app, &template("web-v5", "v5", false), &BTreeMap::new(), plan(vec![50]))
        .await
        .unwrap();
    assert_eq!(job_end(berth, job).await.status, "succeeded");
    eventually(Duration::from_secs(60), "the progressive release is confirmed", async || {
        berth.release(&admin(), app).await.unwrap().unwrap().state == "confirmed"
    })
    .await;
    let took = started.elapsed();
    let (sent, bad) = load.finish().await;
    assert!(
        bad.is_empty(),
        "{} of {sent} failed during the progressive release: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert_eq!(versions(&edge, 20).await, BTreeMap::from([("v5".to_string(), 20)]));
    let filter = domain::store::OperationFilter { action: "app.release.".into(), limit: 50, ..Default::default() };
    let ops = berth.operations(&admin(), &filter).await.unwrap();
    let by_berth: Vec<&str> =
        ops.iter().filter(|o| o.actor_name == "progressive-release").map(|o| o.action.as_str()).collect();
    assert!(by_berth.contains(&"app.release.step") && by_berth.contains(&"app.release.confirm"), "{by_berth:?}");
    assert!(ops.iter().all(|o| o.actor_name != "progressive-release" || o.channel == "system"));
    report(&format!("a progressive release 50 → 100 %, 2 s a step: confirmed {took:?} after it started ({sent} requests, none failed)"));

    // A version that answers 500: rolled back by Berth once the routers measure it.
    let load = Load::start(other_edge.clone());
    let job = berth
        .release_app_progressive(&admin(), app, &broken("web-v6"), &BTreeMap::new(), plan(vec![50]))
        .await
        .unwrap();
    assert_eq!(job_end(berth, job).await.status, "succeeded");
    eventually(Duration::from_secs(60), "the failing progressive release is rolled back", async || {
        berth.release(&admin(), app).await.unwrap().unwrap().state == "rolled_back"
    })
    .await;
    let (sent, bad) = load.finish().await;
    let r = berth.release(&admin(), app).await.unwrap().unwrap();
    assert!(r.message.contains("% 5xx"), "the release says why: {r:?}");
    assert!(
        !bad.is_empty() && bad.len() < sent,
        "some requests met the broken side before the rollback ({}/{sent})",
        bad.len()
    );
    assert_eq!(versions(&edge, 20).await, BTreeMap::from([("v5".to_string(), 20)]));
    let events = berth.events(&admin(), id, "shop", 100).await.unwrap();
    assert!(events.iter().any(|e| e.action == "release.failing" && e.message.contains("rolling back")), "{events:?}");
    let ops = berth.operations(&admin(), &filter).await.unwrap();
    assert!(ops.iter().any(|o| o.actor_name == "progressive-release" && o.action == "app.release.rollback"));
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}
