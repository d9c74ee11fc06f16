//! Crash and restart drills against the real `berth` binary, a real one-click cluster and both
//! databases (SECURITY.md R1, R5, R7):
//!
//! - R1: concurrent deploys, updates, scales and deletes through REST (with idempotency keys, retried
//!   across restarts) while the server is killed with SIGKILL at seeded random moments and started
//!   again: every acknowledged operation ends (succeeded, or failed saying why), nothing on the
//!   cluster is left without its app, nothing runs twice, and the apps converge within 30 s of the
//!   last restart. The seed is printed; `DRILL_SEED=n` repeats a run.
//! - R5: SIGTERM with requests and a deploy in flight: every request is answered (2xx, or 503 once the
//!   stop began), the deploy finishes within the grace period, the process exits 0, and nothing is
//!   left running.
//! - R7: a client that follows a job to its end and acts at once never meets a conflict.

mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::testing::{LocalClusterGuard, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::PASSWORD;
use tokio::io::AsyncBufReadExt;

const IMAGE: &str = "berth-drill/app:1";

/// xorshift64*: small, seeded, good enough to pick moments and operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[allow(clippy::print_stderr)]
fn say(line: &str) {
    eprintln!("{line}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One `berth` process on a fixed port, data directory and database.
struct Berth {
    child: tokio::process::Child,
    url: String,
    setup: Arc<Mutex<Option<String>>>,
}

struct Place {
    port: u16,
    data: tempfile::TempDir,
    db: String,
    grace_secs: u64,
}

impl Place {
    fn new(db: &TestDb, grace_secs: u64) -> Place {
        Place { port: free_port(), data: tempfile::tempdir().unwrap(), db: db.url.clone(), grace_secs }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary and waits until it answers.
    async fn start(&self) -> Berth {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .env("BERTH_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("BERTH_DATA_DIR", self.data.path())
            .env("BERTH_DATABASE_URL", &self.db)
            .env("BERTH_SITE_ROOT", self.data.path().join("site"))
            .env("BERTH_LOG", "error")
            .env("BERTH_SHUTDOWN_GRACE_SECS", self.grace_secs.to_string())
            .env_remove("BERTH_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the berth binary starts");
        let setup = Arc::new(Mutex::new(None));
        let out = child.stdout.take().unwrap();
        let seen = setup.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, token)) = line.trim().split_once("/setup?token=") {
                    *seen.lock().unwrap() = Some(token.to_string());
                }
            }
        });
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(res) = client.get(format!("{}/healthz", self.url())).send().await {
                if res.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(60), "berth did not start within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Berth { child, url: self.url(), setup }
    }
}

impl Berth {
    fn pid(&self) -> String {
        self.child.id().expect("running").to_string()
    }

    async fn kill(mut self, signal: &str) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill").args([signal, &self.pid()]).status().unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await.expect("berth exits").unwrap()
    }

    async fn setup_token(&self) -> String {
        for _ in 0..200 {
            if let Some(t) = self.setup.lock().unwrap().clone() {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no setup link printed");
    }
}

/// The first admin signed in, and an admin API token.
async fn admin(berth: &Berth) -> (support::Browser, String) {
    let browser = support::Browser::new(&berth.url);
    support::create_admin(&browser, &berth.setup_token().await).await;
    let issued: Value = browser
        .call("create_token", &[("name", "drill"), ("role", "admin"), ("cluster", "all"), ("days", "1")])
        .await
        .json()
        .await
        .unwrap();
    (browser, issued["secret"].as_str().unwrap().to_string())
}

/// A REST client that retries across restarts: connection errors and 503 are tried again with the
/// same idempotency key until `patience` runs out.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(&self, method: &str, path: &str, body: Option<Value>, key: Option<&str>) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut req = match method {
                "GET" => self.client.get(format!("{}{path}", self.url)),
                "DELETE" => self.client.delete(format!("{}{path}", self.url)),
                _ => self.client.post(format!("{}{path}", self.url)).json(body.as_ref().unwrap_or(&json!({}))),
            };
            req = req.bearer_auth(&self.token).timeout(Duration::from_secs(30));
            if let Some(key) = key {
                req = req.header("idempotency-key", key);
            }
            match req.send().await {
                Ok(res) if res.status() != StatusCode::SERVICE_UNAVAILABLE => {
                    let status = res.status();
                    let text = res.text().await.unwrap_or_default();
                    return (status, serde_json::from_str(&text).unwrap_or(Value::String(text)));
                }
                _ => {}
            }
            assert!(Instant::now() < deadline, "{method} {path}: no answer for 90 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Follows a job to its end.
    async fn job_end(&self, job: i64) -> Value {
        self.job_end_every(job, Duration::from_millis(100)).await
    }

    /// Follows a job to its end, asking every `pause` (a client in a hurry asks without pause).
    async fn job_end_every(&self, job: i64, pause: Duration) -> Value {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let (status, body) = self.send("GET", &format!("/api/v1/jobs/{job}"), None, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["status"] != "running" {
                return body;
            }
            assert!(Instant::now() < deadline, "job {job} still running: {body}");
            tokio::time::sleep(pause).await;
        }
    }
}

/// A one-node cluster through the console, ready; with the guard that removes its node when the
/// test ends before deleting it (the berth process that made it may be gone by then).
async fn cluster(db: &TestDb, browser: &support::Browser, api: &Api, name: &str) -> (i64, LocalClusterGuard) {
    let res =
        browser.call("create_cluster", &[("name", name), ("nodes", "1"), ("managers", "1"), ("zones", "a")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let job: i64 = res.json().await.unwrap();
    let guard = LocalClusterGuard::of_job(db, job).await;
    let end = api.job_end(job).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let (_, clusters) = api.send("GET", "/api/v1/clusters", None, None).await;
    let id = clusters.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["id"].as_i64().unwrap();
    (id, guard)
}

fn build_image() {
    domain::testing::busybox_image(IMAGE, &["sh", "sleep"]);
}

fn compose(version: u64) -> String {
    format!(
        "services:\n  work:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    init: true\n    \
         environment:\n      VERSION: \"{version}\"\n    stop_grace_period: 1s\n    volumes: [data:/data]\n\
         volumes:\n  data: {{}}\n"
    )
}

/// A service whose tasks count as running only after a first health check 3 s in: a deploy that
/// takes a few seconds.
fn slow_compose() -> String {
    format!(
        "services:\n  work:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    init: true\n    \
         healthcheck:\n      test: [\"CMD\", \"sh\", \"-c\", \"true\"]\n      interval: 3s\n"
    )
}

/// What a worker was told had happened.
#[derive(Debug, Clone)]
struct Ack {
    what: String,
    app: i64,
    job: Option<i64>,
}

/// One worker: deploys its own apps and updates, scales and deletes them, each request with its
/// own idempotency key, waiting for each job before the next operation on that app.
async fn worker(api: Api, cluster: i64, id: usize, seed: u64, stop: Arc<std::sync::atomic::AtomicBool>) -> Vec<Ack> {
    let mut rng = Rng(seed ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut acks = Vec::new();
    let mut apps: Vec<(i64, String)> = Vec::new();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        n += 1;
        let key = format!("drill-{seed}-{id}-{n}");
        // No app yet: deploy; one: any operation; two: no more deploys.
        let pick = match apps.len() {
            0 => 0,
            1 => rng.below(4),
            _ => 1 + rng.below(3),
        };
        let (what, app, status, body) = match pick {
            // Scale, update, delete an app of this worker's; or deploy another.
            1 => {
                let (app, _) = apps[rng.below(apps.len() as u64) as usize].clone();
                let replicas = 1 + rng.below(3);
                let (s, b) = api
                    .send(
                        "POST",
                        &format!("/api/v1/apps/{app}/services/work/scale"),
                        Some(json!({ "replicas": replicas })),
                        Some(&key),
                    )
                    .await;
                (format!("scale to {replicas}"), app, s, b)
            }
            2 => {
                let (app, _) = apps[rng.below(apps.len() as u64) as usize].clone();
                let body = json!({ "compose": compose(n), "variables": {} });
                let (s, b) = api.send("POST", &format!("/api/v1/apps/{app}/update"), Some(body), Some(&key)).await;
                ("update".to_string(), app, s, b)
            }
            3 => {
                let i = rng.below(apps.len() as u64) as usize;
                let (app, _) = apps.remove(i);
                let (s, b) =
                    api.send("DELETE", &format!("/api/v1/apps/{app}?remove_volumes=true"), None, Some(&key)).await;
                ("delete".to_string(), app, s, b)
            }
            _ => {
                let name = format!("w{id}n{n}");
                let body = json!({ "cluster": cluster, "name": name, "compose": compose(0), "variables": {} });
                let (s, b) = api.send("POST", "/api/v1/apps", Some(body), Some(&key)).await;
                if s == StatusCode::ACCEPTED {
                    apps.push((b["app"].as_i64().unwrap(), name));
                }
                ("deploy".to_string(), b["app"].as_i64().unwrap_or(0), s, b)
            }
        };
        match status {
            StatusCode::OK | StatusCode::ACCEPTED => {
                let job = body["job"].as_i64();
                acks.push(Ack { what, app, job });
                if let Some(job) = job {
                    api.job_end(job).await;
                }
            }
            // The server lost an answer mid-crash and the retry ran into its own effect (a deploy's
            // name taken, an app busy or gone): not acknowledged, nothing to check.
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::NOT_FOUND => {}
            other => panic!("{what} on app {app}: unexpected {other}: {body}"),
        }
    }
    acks
}

async fn crash_and_restart(db: TestDb) {
    build_image();
    let seed: u64 = std::env::var("DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    say(&format!("R1 drill seed {seed} (DRILL_SEED={seed} repeats it)"));
    let mut rng = Rng(seed | 1);
    let place = Place::new(&db, 30);
    let mut berth = place.start().await;
    let (browser, token) = admin(&berth).await;
    let api = Api { client: reqwest::Client::new(), url: place.url(), token };
    let (cluster, _cleanup) = cluster(&db, &browser, &api, &format!("drill{}", seed % 10_000)).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3).map(|w| tokio::spawn(worker(api.clone(), cluster, w, seed, stop.clone()))).collect();
    // Three kills at random moments, each followed by a start on the same data and database.
    for kill in 0..3 {
        let after = Duration::from_millis(1500 + rng.below(4000));
        tokio::time::sleep(after).await;
        let status = berth.kill("-KILL").await;
        say(&format!("R1 kill {} after {} ms ({status})", kill + 1, after.as_millis()));
        berth = place.start().await;
    }
    let last_start = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut acks = Vec::new();
    for w in workers {
        acks.extend(w.await.unwrap());
    }
    say(&format!("R1 acknowledged operations: {}", acks.len()));
    assert!(acks.len() >= 3, "the drill did too little: {acks:?}");

    // Every acknowledged job ended, succeeded or failed saying why.
    let (mut succeeded, mut failed) = (0, Vec::new());
    for ack in &acks {
        if let Some(job) = ack.job {
            let end = api.job_end(job).await;
            assert!(
                end["status"] == "succeeded" || (end["status"] == "failed" && end["error"] != ""),
                "{ack:?}: {end}"
            );
            if end["status"] == "succeeded" {
                succeeded += 1;
            } else {
                failed.push(format!("{} of app {}: {}", ack.what, ack.app, end["error"]));
            }
        }
    }
    say(&format!("R1 jobs: {succeeded} succeeded, {} failed: {failed:?}", failed.len()));

    // Converged: running apps run every task, none is left deploying or deleting, within 30 s.
    let (_, nodes) = api.send("GET", &format!("/api/v1/clusters/{cluster}/nodes"), None, None).await;
    let endpoint = nodes[0]["endpoint"].as_str().unwrap().to_string();
    let engine =
        domain::engine::Engine::new(domain::engine::Endpoint::parse(&endpoint).unwrap(), Duration::from_secs(5));
    let store = db.open().await;
    loop {
        let apps = store.apps(Some(cluster)).await.unwrap();
        let unsettled: Vec<String> = apps
            .iter()
            .filter(|a| !matches!(a.status.as_str(), "running" | "failed" | "stopped"))
            .map(|a| format!("{} {}", a.name, a.status))
            .collect();
        let services = engine.services_labelled(&["berth.app".to_string()]).await.unwrap();
        let short: Vec<String> = services
            .iter()
            .filter(|s| {
                let app = apps.iter().find(|a| s.labels.get("berth.app") == Some(&a.id.to_string()));
                app.is_some_and(|a| a.status == "running") && s.running != s.desired
            })
            .map(|s| format!("{} {}/{}", s.name, s.running, s.desired))
            .collect();
        if unsettled.is_empty() && short.is_empty() {
            break;
        }
        assert!(
            last_start.elapsed() < Duration::from_secs(30) + Duration::from_secs(10),
            "not converged 30 s after the last restart: {unsettled:?} {short:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    say(&format!("R1 converged {} ms after the last restart", last_start.elapsed().as_millis()));

    // Nothing without its app, nothing twice.
    let apps = store.apps(Some(cluster)).await.unwrap();
    let ids: Vec<String> = apps.iter().map(|a| a.id.to_string()).collect();
    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    for s in engine.services_labelled(&["berth.app".to_string()]).await.unwrap() {
        assert!(ids.contains(&s.labels["berth.app"]), "service {} has no app", s.name);
    }
    let mut slots = std::collections::BTreeSet::new();
    for c in engine.containers_labelled(&["com.docker.stack.namespace".to_string()]).await.unwrap() {
        let stack = &c.labels["com.docker.stack.namespace"];
        assert!(names.contains(&stack.as_str()), "container {} of stack {stack} has no app", c.name);
        // A task is `<service>.<slot>.<id>`: one running container per slot.
        if let (true, Some(task)) = (c.running, c.labels.get("com.docker.swarm.task.name")) {
            let slot = task.rsplit_once('.').map_or(task.as_str(), |(slot, _)| slot).to_string();
            assert!(slots.insert(slot.clone()), "two running containers for {slot}");
        }
    }
    for n in engine.networks_with(&["berth.app".to_string()]).await.unwrap() {
        assert!(ids.contains(&n.labels["berth.app"]), "network {} has no app", n.name);
    }
    // Apps are deleted with their volumes: every volume left is an existing app's (`<app>_data`).
    for v in engine.volumes_with(&["com.docker.stack.namespace".to_string()]).await.unwrap() {
        let stack = v.strip_suffix("_data").unwrap_or(&v);
        assert!(names.contains(&stack), "volume {v} has no app");
    }

    // Tidy up: the cluster goes (a job), and the process stops cleanly.
    let res = browser.call("delete_cluster", &[("id", &cluster.to_string())]).await;
    let job: i64 = res.json().await.unwrap();
    assert_eq!(api.job_end(job).await["status"], "succeeded");
    assert!(berth.kill("-TERM").await.success());
    store.close().await;
    db.remove().await;
}
both_backends!(crash_and_restart_r1, crash_and_restart);

/// R5 and R7 on one cluster: a client that follows a deploy to `succeeded` and deletes at once never
/// gets a conflict; then SIGTERM with requests and a deploy in flight.
async fn stop_gracefully(db: TestDb) {
    build_image();
    let place = Place::new(&db, 60);
    let berth = place.start().await;
    let (browser, token) = admin(&berth).await;
    let api = Api { client: reqwest::Client::new(), url: place.url(), token };
    let (cluster, _cleanup) = cluster(&db, &browser, &api, &format!("grace{}", free_port())).await;

    // R7 over HTTP: deploys followed to their end, each deleted at once, never 409. (A client in
    // the same process reacts faster: `domain/tests/policy.rs` has that case, which met the
    // finished job's claim on its first deploy before jobs released claims before ending.)
    for i in 0..6 {
        let body = json!({ "cluster": cluster, "name": format!("r7n{i}"), "compose": compose(i), "variables": {} });
        let (status, started) = api.send("POST", "/api/v1/apps", Some(body), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let job = started["job"].as_i64().unwrap();
        assert_eq!(api.job_end_every(job, Duration::ZERO).await["status"], "succeeded");
        let (status, deleted) = api.send("DELETE", &format!("/api/v1/apps/{}", started["app"]), None, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "a client that waited for the job met: {deleted}");
        assert_eq!(api.job_end(deleted["job"].as_i64().unwrap()).await["status"], "succeeded");
    }

    // R5: a deploy in flight and a stream of requests, then SIGTERM.
    let body = json!({ "cluster": cluster, "name": "inflight", "compose": slow_compose(), "variables": {} });
    let (status, started) = api.send("POST", "/api/v1/apps", Some(body), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = started["job"].as_i64().unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let pollers: Vec<_> = (0..4)
        .map(|_| {
            let (api, done, answers) = (api.clone(), done.clone(), answers.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let sent = client.get(format!("{}/api/v1/clusters", api.url)).bearer_auth(&api.token).send().await;
                    let outcome = match sent {
                        Ok(res) => {
                            let status = res.status();
                            // The whole body arrives: no answer is cut off.
                            match res.bytes().await {
                                Ok(_) => Some(status),
                                Err(e) => panic!("an answer was cut off: {e}"),
                            }
                        }
                        // No answer began: the connection was refused, or closed unread as the
                        // listener closed (the kernel had accepted it; Berth never read it). The
                        // stop is complete; a client retries such a request elsewhere safely.
                        Err(e) if e.is_connect() || e.is_request() => None,
                        Err(e) => panic!("a request failed mid-way: {e}"),
                    };
                    answers.lock().unwrap().push(outcome);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = berth.pid();
    let stopping = tokio::spawn(berth.kill("-TERM"));
    let exit = tokio::time::timeout(Duration::from_secs(90), stopping).await.expect("berth stops").unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for p in pollers {
        p.await.unwrap();
    }
    assert!(exit.success(), "berth {pid} exited with {exit}");
    let answers = answers.lock().unwrap().clone();
    let statuses: std::collections::BTreeSet<_> = answers.iter().flatten().copied().collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "answers while stopping: {statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::SERVICE_UNAVAILABLE), "new requests got 503 while the deploy finished");
    // The deploy finished during the grace period: succeeded, not interrupted.
    let store = db.open().await;
    let job_row = store.job(job).await.unwrap().unwrap();
    assert_eq!(job_row.status, "succeeded", "{}", job_row.error);

    // Start again and tidy up.
    let berth = place.start().await;
    let res = browser.call("delete_cluster", &[("id", &cluster.to_string())]).await;
    let job: i64 = res.json().await.unwrap();
    assert_eq!(api.job_end(job).await["status"], "succeeded");
    assert!(berth.kill("-TERM").await.success());
    store.close().await;
    db.remove().await;
    let _ = PASSWORD;
}
both_backends!(stop_gracefully_r5_r7, stop_gracefully);
