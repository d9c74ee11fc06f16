//! Routing on a real 3-node local cluster: an app with `berth.routing.port_80: shop` and three
//! replicas that answer their hostname is reached at `shop.<root domain>` through every node's
//! port 80 (berth-router as a global service, tables pushed over mutual TLS); the sticky cookie
//! holds a backend; a load-balancer label forwards TCP; the routers report the version they serve;
//! the requests they counted reach Berth's traffic series, its latest numbers, a side's window and
//! `/metrics`; scaling to five adds each new task's backend within a second of the task running;
//! stopping a node's container drops its backends, and no request fails once they are out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::testing::{admin, ClusterOptions, TestBerth, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WEB: &str = "berth-test/routed:1";

const SHOP: &str = r#"
services:
  web:
    image: berth-test/routed:1
    init: true
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: shop;www.shop.test
      berth.lb.port_8080: tcp://front:18080
    deploy:
      replicas: 3
  sticky:
    image: berth-test/routed:1
    init: true
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: sticky
      berth.routing.session_sticky: "true"
    deploy:
      replicas: 3
"#;

/// One HTTP/1.0 request with a Host header to `addr`; (status, headers, body), or None when nothing
/// answers within 3 s.
async fn request(addr: &str, host: &str, cookie: Option<&str>) -> Option<(u16, String, String)> {
    request_within(addr, host, cookie, Duration::from_secs(3)).await
}

/// [`request`], waiting up to `limit` for the answer.
async fn request_within(
    addr: &str,
    host: &str,
    cookie: Option<&str>,
    limit: Duration,
) -> Option<(u16, String, String)> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
        s.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n{cookie}\r\n").as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, head.to_string(), body.trim().to_string()))
    };
    tokio::time::timeout(limit, exchange).await.ok().flatten()
}

/// A CA and a certificate it signed for `host`: (CA PEM, certificate PEM, key PEM).
fn test_certificate(host: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![host.to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

/// GET / over TLS to `addr` with SNI `host`, trusting only `ca_pem`; the body, or None.
async fn https_get(addr: &str, host: &str, ca_pem: &str) -> Option<String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).ok()?).ok()?;
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).ok()?;
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.ok()?;
        tls.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await.ok()?;
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).into_owned();
        Some(text.split_once("\r\n\r\n")?.1.trim().to_string())
    };
    tokio::time::timeout(Duration::from_secs(3), exchange).await.ok().flatten()
}

async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The hostnames that answer `host` through `addr` over `n` requests.
async fn answering(addr: &str, host: &str, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        if let Some((200, _, body)) = request(addr, host, None).await {
            seen.insert(body);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_apps_are_reached_by_domain_through_every_edge_node() {
    let t = TestBerth::new(|c| {
        c.reconcile_every = Duration::from_millis(500);
        c.route_every = Duration::from_millis(250);
        c.traffic_every = Duration::from_millis(500);
    })
    .await;
    let berth = &t.berth;
    let options = ClusterOptions::three_nodes("route").image(WEB, &["sh", "httpd", "hostname", "mkdir"]);
    let cluster = TestCluster::create(berth, options).await;
    let id = cluster.id;

    let refused = berth.set_routing(&admin(), id, "not a domain", false).await;
    assert!(matches!(refused, Err(domain::Error::Invalid { ref field, .. }) if field == "root_domain"), "{refused:?}");
    let routing = berth.set_routing(&admin(), id, "Apps.Route.Test", false).await.unwrap();
    assert_eq!(routing.root_domain, "apps.route.test");

    let input = AppInput {
        cluster_id: id,
        name: "shop".into(),
        compose: SHOP.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    // A load balancer is a named object of the cluster: a label naming one it lacks is refused at
    // its line; once its admins create it, the deploy goes through (and it cannot be deleted while bound).
    match berth.deploy_app(&admin(), &input).await {
        Err(domain::Error::Invalid { field, message }) => {
            assert_eq!(field, "compose");
            assert!(
                message.contains(
                    "line 10: services.web.labels.berth.lb.port_8080: this cluster has no load balancer front"
                ),
                "{message}"
            );
        }
        other => panic!("a label naming no load balancer was not refused: {other:?}"),
    }
    let bad = berth.create_load_balancer(&admin(), id, "Front_1").await;
    assert!(matches!(bad, Err(domain::Error::Invalid { ref field, .. }) if field == "name"), "{bad:?}");
    berth.create_load_balancer(&admin(), id, "front").await.unwrap();
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = domain::testing::job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());

    let lbs = berth.load_balancers(&admin(), id).await.unwrap();
    let bound: Vec<(String, u16, String)> = lbs[0]
        .ports
        .iter()
        .map(|p| (lbs[0].name.clone(), p.front_port, format!("{}/{}:{}", p.app, p.service, p.port)))
        .collect();
    assert_eq!(bound, [("front".to_string(), 18080, "shop/web:8080".to_string())]);
    let busy = berth.delete_load_balancer(&admin(), id, "front").await;
    assert!(
        matches!(busy, Err(domain::Error::Conflict(ref m)) if m.contains("shop/web (front port 18080)")),
        "{busy:?}"
    );

    // Another app cannot take a route this one holds: refused at its line, naming the holder.
    let thief = "services:\n  web:\n    image: berth-test/routed:1\n    labels:\n      berth.routing.port_80: \"www.shop.test\"\n";
    let input2 = AppInput {
        cluster_id: id,
        name: "thief".into(),
        compose: thief.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    match berth.deploy_app(&admin(), &input2).await {
        Err(domain::Error::Invalid { field, message }) => {
            assert_eq!(field, "compose");
            assert!(
                message.contains(
                    "line 5: services.web.labels.berth.routing.port_80: www.shop.test/ is routed to app shop"
                ),
                "{message}"
            );
        }
        other => panic!("a claimed route was not refused: {other:?}"),
    }

    // Joining the routing network is Berth's doing, not drift; the routers are no stack to adopt.
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    assert!(detail.services.iter().all(|s| s.drift.is_empty()), "{:?}", detail.services);
    let web = detail.services.iter().find(|s| s.name == "web").unwrap();
    assert_eq!(web.urls, ["http://shop.apps.route.test/", "http://www.shop.test/"]);

    let nodes: Vec<String> = ["n1", "n2", "n3"].iter().map(|n| cluster.node(n).address.clone()).collect();
    let want: BTreeSet<String> = (1..=3).map(|i| format!("shop_web-{i}")).collect();
    // Every edge node's port 80 reaches all three replicas, under the prefix and the full domain.
    for addr in &nodes {
        let at = format!("{addr}:80");
        eventually(Duration::from_secs(60), &format!("{at} routes shop.apps.route.test"), async || {
            answering(&at, "shop.apps.route.test", 9).await == want
        })
        .await;
        assert_eq!(answering(&at, "www.shop.test", 6).await, want);
        let unknown = request(&at, "nothing.apps.route.test", None).await.unwrap();
        assert_eq!(unknown.0, 404, "an unrouted host is 404 from the router");
    }

    assert!(berth.stacks(&admin(), id).await.unwrap().is_empty(), "the routers are not offered for adoption");

    // The routing page's view: the routes as a router serves them, every backend up.
    let view = berth.routing(&admin(), id).await.unwrap();
    let shop = view.routes.iter().find(|r| r.host == "shop.apps.route.test").expect("the shop route");
    assert_eq!(shop.id, "shop/web:8080");
    assert_eq!(shop.sides[0].backends.len(), 3);
    assert!(shop.sides[0].backends.iter().all(|b| b.state == "up"), "{shop:?}");

    // The requests just sent were counted by the routers and collected: a series with requests
    // and no 5xx, the latest numbers of the side, its window and the /metrics lines.
    let started = domain::clock::now_ms() - 60_000;
    let mut sent = 0;
    eventually(Duration::from_secs(30), "the traffic series shows the route's requests", async || {
        // Requests keep coming while Berth collects, so an interval with requests follows.
        sent += answering(&format!("{}:80", nodes[0]), "shop.apps.route.test", 3).await.len();
        let now = domain::clock::now_ms();
        let series = berth.traffic(&admin(), id, Some("shop"), now - 600_000, now + 1).await.unwrap();
        series.iter().filter(|s| s.route == "shop/web:8080" && s.side == "web").any(|s| {
            s.points.iter().any(|p| p.requests > 0 && p.err5xx_pct == 0.0 && p.rps > 0.0 && p.p99_ms.is_some())
        })
    })
    .await;
    assert!(sent > 0);
    eventually(Duration::from_secs(10), "the side's latest numbers are current", async || {
        let now = berth.traffic_now(&admin(), id, Some("shop")).await.unwrap();
        now.iter().any(|s| s.route == "shop/web:8080" && s.side == "web" && s.app == "shop")
    })
    .await;
    let window = berth.side_window_for_tests(id, "shop", "web", started).await.unwrap().expect("a window");
    assert!(window.requests > 0 && window.p99_ms.is_some(), "{window:?}");
    assert!(berth.side_window_for_tests(id, "shop", "nothing", started).await.unwrap().is_none());
    eventually(Duration::from_secs(10), "/metrics has the route's lines", async || {
        let text = berth.prometheus(&admin()).await.unwrap();
        text.lines().any(|l| {
            l.starts_with("berth_route_requests_per_second{")
                && l.contains(r#"app="shop",route="shop/web:8080",side="web"}"#)
        }) && text.contains("# TYPE berth_route_5xx_ratio gauge")
            && text.contains("# TYPE berth_route_latency_p99_seconds gauge")
    })
    .await;

    // The routers say which version they serve, and it is the cluster's.
    let view = berth.routing(&admin(), id).await.unwrap();
    assert_eq!(view.routers.len(), 3, "{view:?}");
    eventually(Duration::from_secs(10), "every router serves the current table", async || {
        let v = berth.routing(&admin(), id).await.unwrap();
        v.routers.iter().all(|r| r.version == v.version && r.error.is_empty())
    })
    .await;

    // The sticky cookie holds one backend, whichever edge node the client reaches.
    let (status, head, first) = request(&format!("{}:80", nodes[0]), "sticky.apps.route.test", None).await.unwrap();
    assert_eq!(status, 200);
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("a sticky route sets its cookie")
        .to_string();
    for addr in nodes.iter().cycle().take(12) {
        let (_, _, body) = request(&format!("{addr}:80"), "sticky.apps.route.test", Some(&cookie)).await.unwrap();
        assert_eq!(body, first, "the cookie holds its backend through {addr}");
    }

    // A load-balancer front port forwards TCP to the service (the routers publish it once the
    // table has it, which restarts them: the port opens a moment later).
    let front = format!("{}:18080", nodes[1]);
    eventually(Duration::from_secs(60), "the front port forwards TCP", async || {
        let Ok(mut s) = tokio::net::TcpStream::connect(&front).await else { return false };
        let mut out = String::new();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.is_ok()
            && s.read_to_string(&mut out).await.is_ok()
            && out.contains("shop_web-")
    })
    .await;

    // TLS by SNI with an uploaded certificate: its names are read from it, and the routers serve it.
    let (ca_pem, cert_pem, key_pem) = test_certificate("www.shop.test");
    let wrong = berth.upload_certificate(&admin(), id, &cert_pem, &test_certificate("x.test").2).await;
    assert!(matches!(wrong, Err(domain::Error::Invalid { ref field, .. }) if field == "key"), "{wrong:?}");
    let cert = berth.upload_certificate(&admin(), id, &cert_pem, &key_pem).await.unwrap();
    assert_eq!(cert.hosts, ["www.shop.test"]);
    let https = format!("{}:443", nodes[0]);
    eventually(Duration::from_secs(30), "https://www.shop.test answers with the uploaded certificate", async || {
        https_get(&https, "www.shop.test", &ca_pem).await.is_some_and(|body| body.starts_with("shop_web-"))
    })
    .await;
    assert_eq!(berth.routing(&admin(), id).await.unwrap().certificates.len(), 1);

    // Publishing the front port rolls the routers one node at a time (a router being replaced
    // refuses on its node for a moment); what follows measures routing, so it starts once swarm
    // says that update is done.
    let manager = cluster.summary.nodes.iter().find(|n| n.role == "manager").expect("a manager").endpoint.clone();
    eventually(Duration::from_secs(90), "the routers' update is done", async || routers_settled(&manager)).await;

    // Scaling to five adds the new tasks' backends within a second of their tasks running. Both
    // sides are watched at once: the swarm through the app's detail (polled every 50 ms; a new task
    // runs from the earlier of the swarm's own timestamp of its last change, read in the first poll
    // that shows it `running`, and that poll itself), and the router through n3 (requests one after
    // another; a task's hostname answers when the first answer carrying it arrives).
    berth.scale_service(&admin(), app, "web", 5).await.unwrap();
    let five: BTreeSet<String> = (1..=5).map(|i| format!("shop_web-{i}")).collect();
    let added: BTreeSet<String> = five.difference(&want).cloned().collect();
    let at = format!("{}:80", nodes[2]);
    let scaled = Instant::now();
    let limit = Duration::from_secs(60);
    let swarm = async {
        // Hostname → (the poll that first showed it running, the swarm's timestamp then), Unix ms.
        let mut running: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        while running.len() < added.len() {
            assert!(scaled.elapsed() < limit, "the new tasks did not run within {limit:?}: {running:?}");
            let detail = berth.app_detail(&admin(), app).await.unwrap();
            let seen = domain::clock::now_ms();
            let web = detail.services.iter().find(|s| s.name == "web").unwrap();
            for t in web.tasks.iter().filter(|t| t.state == "running") {
                let host = format!("shop_web-{}", t.slot.unwrap_or_default());
                if added.contains(&host) {
                    running.entry(host).or_insert((seen, t.updated_at));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        running
    };
    let routed = async {
        // Hostname → when the first answer carrying it arrived, Unix ms.
        let mut answered: BTreeMap<String, i64> = BTreeMap::new();
        while !added.iter().all(|h| answered.contains_key(h)) {
            assert!(scaled.elapsed() < limit, "the new backends did not answer within {limit:?}: {answered:?}");
            if let Some((200, _, body)) = request(&at, "shop.apps.route.test", None).await {
                answered.entry(body).or_insert_with(domain::clock::now_ms);
            }
        }
        answered
    };
    let (running, answered) = tokio::join!(swarm, routed);
    let mut delays = Vec::new();
    for (host, &(seen, stamped)) in &running {
        let delay = answered[host] - seen.min(stamped);
        delays.push(format!("{host} {delay} ms (after the poll that saw it running: {} ms)", answered[host] - seen));
        assert!(delay <= 1000, "{host} answered {delay} ms after its task ran (poll {seen}, swarm {stamped})");
    }
    report(&format!("scaling to five, a new task answers through the router after it runs: {}", delays.join(", ")));
    assert_eq!(answering(&at, "shop.apps.route.test", 15).await, five);

    // Stopping a node's container drops its backends with no failed request once they are out. The
    // node stopped is a worker that runs web tasks (the manager keeps the swarm); requests go one
    // after another through another node while the container stops and for 6 s after it stopped
    // (past one ejection of a backend that refused). The backends are out once the routing page's
    // view (as a router serves it) has none of the node's tasks up, each ejected or gone from the
    // table. Every request sent from then on, at least 400, must answer 200, from a task on another
    // node: the stopped node's slots answer again only once swarm replaces their tasks elsewhere
    // (from the first sight of a replacement in swarm's task list, whatever its state: it runs, and
    // joins the table, only after).
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    let tasks = &detail.services.iter().find(|s| s.name == "web").unwrap().tasks;
    let on = |node: &str| -> Vec<&domain::app::TaskView> {
        tasks.iter().filter(|t| t.state == "running" && t.node == node).collect()
    };
    let victim = ["n2", "n3"]
        .into_iter()
        .filter(|n| cluster.node(n).role == "worker")
        .max_by_key(|n| on(n).len())
        .expect("a worker");
    let dead = on(victim);
    assert!(!dead.is_empty(), "{victim} runs no web task: {tasks:?}");
    let dead_ids: BTreeSet<String> = dead.iter().map(|t| t.id.clone()).collect();
    let dead_slots: BTreeSet<i64> = dead.iter().filter_map(|t| t.slot).collect();
    let dead_hosts: BTreeSet<String> = dead_slots.iter().map(|s| format!("shop_web-{s}")).collect();
    let alive: BTreeSet<String> = five.difference(&dead_hosts).cloned().collect();
    let edge = ["n1", "n2", "n3"].into_iter().find(|n| *n != victim).unwrap();
    let at = format!("{}:80", cluster.node(edge).address);
    let container = cluster.node(victim).container.clone();

    let stopped = Instant::now();
    let stop = tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("docker").arg("stop").arg(&container).output();
        assert!(out.is_ok_and(|o| o.status.success()), "docker stop {container}");
    });
    // Since the stop: the container stopped; the backends out, gone from the table; a replacement.
    let stop_ended = std::cell::Cell::new(None::<Duration>);
    let out = std::cell::Cell::new(None::<Duration>);
    let gone = std::cell::Cell::new(None::<Duration>);
    let replaced = std::cell::Cell::new(None::<Duration>);
    let done = std::cell::Cell::new(false);
    let stopping = async {
        stop.await.unwrap();
        stop_ended.set(Some(stopped.elapsed()));
    };
    let watch = async {
        while !done.get() {
            let view = berth.routing(&admin(), id).await.unwrap();
            let now = stopped.elapsed();
            let backends: Vec<_> = view
                .routes
                .iter()
                .filter(|r| r.host == "shop.apps.route.test")
                .flat_map(|r| r.sides.iter().flat_map(|s| s.backends.iter()))
                .collect();
            let listed: Vec<_> = backends.iter().filter(|b| dead_ids.contains(&b.task)).collect();
            if !backends.is_empty() && out.get().is_none() && listed.iter().all(|b| b.state != "up") {
                out.set(Some(now));
            }
            if !backends.is_empty() && gone.get().is_none() && listed.is_empty() {
                gone.set(Some(now));
            }
            if replaced.get().is_none() {
                let detail = berth.app_detail(&admin(), app).await.unwrap();
                let web = detail.services.iter().find(|s| s.name == "web").unwrap();
                if web.tasks.iter().any(|t| {
                    t.desired_state == "running"
                        && !dead_ids.contains(&t.id)
                        && t.slot.is_some_and(|s| dead_slots.contains(&s))
                }) {
                    replaced.set(Some(now));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let stream = async {
        // Each request: when it was sent (since the stop), its status (None: no answer in 10 s, more
        // than the router's 3 s to connect and another try), body, how long it took.
        let mut sent: Vec<(Duration, Option<u16>, String, Duration)> = Vec::new();
        loop {
            let at_send = stopped.elapsed();
            assert!(at_send < limit, "the stopped node's backends were not out within {limit:?}");
            let answer = request_within(&at, "shop.apps.route.test", None, Duration::from_secs(10)).await;
            let (status, body) = answer.map(|(s, _, b)| (Some(s), b)).unwrap_or((None, String::new()));
            sent.push((at_send, status, body, stopped.elapsed() - at_send));
            let after_out = out.get().map_or(0, |o| sent.iter().filter(|r| r.0 >= o).count());
            if after_out >= 400 && stop_ended.get().is_some_and(|e| stopped.elapsed() >= e + Duration::from_secs(6)) {
                done.set(true);
                return sent;
            }
        }
    };
    let ((), (), sent) = tokio::join!(stopping, watch, stream);
    let (out, stop_ended) = (out.get().unwrap(), stop_ended.get().unwrap());
    type Sent = (Duration, Option<u16>, String, Duration);
    let failures = |rs: &[&Sent]| -> String {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for r in rs.iter().filter(|r| r.1 != Some(200)) {
            *kinds.entry(r.1.map_or("no answer".into(), |s| s.to_string())).or_default() += 1;
        }
        let times: Vec<Duration> = rs.iter().filter(|r| r.1 != Some(200)).map(|r| r.0).collect();
        match (times.first(), times.last()) {
            (Some(first), Some(last)) => format!("{} ({kinds:?}, sent from {first:?} to {last:?})", times.len()),
            _ => "0".into(),
        }
    };
    let slowest = |rs: &[&Sent]| rs.iter().map(|r| r.3).max().unwrap_or_default();
    let (before, after): (Vec<_>, Vec<_>) = sent.iter().partition(|r| r.0 < out);
    let clean_from = match sent.iter().rposition(|r| r.1 != Some(200)) {
        Some(i) => sent.get(i + 1).map(|r| r.0),
        None => sent.first().map(|r| r.0),
    };
    report(&format!(
        "stopping {victim} (running {dead_hosts:?}), requests through {edge}: docker stop took {stop_ended:?}; \
         {} requests in {:?}; failed before the backends were out: {} (the slowest took {:?}); out after {out:?}, gone from the \
         table after {:?}, a replacement in swarm after {:?}; the clean streak from {clean_from:?}; \
         {} requests after out, the slowest took {:?}",
        sent.len(),
        sent.last().map(|r| r.0).unwrap_or_default(),
        failures(&before),
        slowest(&before),
        gone.get(),
        replaced.get(),
        after.len(),
        slowest(&after)
    ));
    assert!(
        after.iter().all(|r| r.1 == Some(200)),
        "requests failed after the backends were out at {out:?}: {}; routing: {:?}; routers: {}",
        failures(&after),
        berth.routing(&admin(), id).await.unwrap(),
        docker(&manager, &["service", "ps", domain::route::ROUTER_SERVICE]),
    );
    let replaced = replaced.get().unwrap_or(Duration::MAX);
    let hosts: BTreeSet<String> = after.iter().filter(|r| r.0 < replaced).map(|r| r.2.clone()).collect();
    assert_eq!(hosts, alive, "until swarm replaces them, only the other nodes' tasks answer");
}

/// What the docker CLI prints for `args` against the engine at `endpoint` (empty if it fails).
fn docker(endpoint: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker").arg("-H").arg(endpoint).args(args).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Whether swarm (asked through the manager at `endpoint`) has finished the routers' last update
/// and runs each of their tasks.
fn routers_settled(endpoint: &str) -> bool {
    let service = domain::route::ROUTER_SERVICE;
    let update = docker(
        endpoint,
        &["service", "inspect", service, "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"],
    );
    let states = docker(
        endpoint,
        &["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.CurrentState}}"],
    );
    matches!(update.trim(), "" | "completed")
        && !states.trim().is_empty()
        && states.lines().all(|l| l.starts_with("Running"))
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}
