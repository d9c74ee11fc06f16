//! R6: the PostgreSQL server stops and starts again under load. Writes go on arriving over REST and
//! through the console; while the database is away every request is answered `503 unavailable`
//! within the pool's bound (never a hang); within 5 s of the server being back requests succeed
//! again; and every write that was acknowledged is in the database afterwards.
//!
//! The test runs its own PostgreSQL server (initdb in a temporary directory, as the `postgres`
//! user), so stopping it disturbs no other test. It needs root and Debian's PostgreSQL binaries,
//! as `scripts/test` and CI have; elsewhere it is skipped with a note.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use domain::cluster::NewCluster;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

#[allow(clippy::print_stderr)]
fn say(line: &str) {
    eprintln!("{line}");
}

/// A PostgreSQL server of this test's own.
struct Postgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Option<Postgres> {
        let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
        let bin = versions.flatten().map(|v| v.path().join("bin")).filter(|b| b.join("initdb").exists()).max()?;
        let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        if !root {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres { dir, bin, port };
        assert!(Command::new("chown").args(["-R", "postgres"]).arg(pg.dir.path()).status().unwrap().success());
        pg.run("initdb", &["-D", &pg.data(), "-U", "berth", "--auth=trust", "-E", "UTF8"]);
        pg.ctl("start");
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ctl(&self, action: &str) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let log = self.dir.path().join("log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "-m", "fast", action]);
    }

    fn url(&self) -> String {
        format!("postgres://berth@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-w", "-m", "immediate", "stop"])
            .output();
    }
}

/// One write's fate.
#[derive(Debug)]
enum Outcome {
    Acknowledged(i64),
    Unavailable,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarts_under_load() {
    let Some(pg) = Postgres::start() else {
        assert!(std::env::var("TEST_REQUIRE_POSTGRES").is_err(), "R6 needs root and PostgreSQL's binaries");
        say("note: not root or no PostgreSQL binaries; skipping the database restart drill");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let settings = berth::Settings {
        data_dir: data.path().to_path_buf(),
        database_url: pg.url(),
        site_root: data.path().join("site"),
        ..berth::Settings::default()
    };
    let server = Running::start(settings).await;
    let browser = Browser::new(&server.url);
    create_admin(&browser, &server.token()).await;
    let issued: Value = browser
        .call("create_token", &[("name", "r6"), ("role", "admin"), ("cluster", "all"), ("days", "1")])
        .await
        .json()
        .await
        .unwrap();
    let token = issued["secret"].as_str().unwrap().to_string();
    let new =
        NewCluster { name: "r6".into(), provider: "hosts".into(), status: "ready".into(), zones: vec!["a".into()] };
    let cluster = server.berth.store().cluster_insert(&new, domain::clock::now_ms()).await.unwrap();

    // Writes, one after another, each an alert rule with its own name; each bounded in time.
    let client = reqwest::Client::new();
    let write = |n: usize| {
        let (client, url, token) =
            (client.clone(), format!("{}/api/v1/clusters/{cluster}/alerts", server.url), token.clone());
        async move {
            let started = Instant::now();
            let body = json!({ "name": format!("rule-{n}"), "kind": "node_down" });
            let res = client.post(url).bearer_auth(token).json(&body).timeout(Duration::from_secs(20)).send().await;
            let res = res.unwrap_or_else(|e| panic!("write {n}: no answer: {e}"));
            let took = started.elapsed();
            assert!(took < Duration::from_secs(8), "write {n} took {took:?}: a hang, not a refusal");
            let status = res.status();
            let v: Value = res.json().await.unwrap();
            match status {
                StatusCode::CREATED => Outcome::Acknowledged(v["rule"].as_i64().unwrap()),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(v["code"], "unavailable", "{v}");
                    Outcome::Unavailable
                }
                other => panic!("write {n}: {other}: {v}"),
            }
        }
    };
    let mut outcomes = Vec::new();
    for n in 0..20 {
        outcomes.push(write(n).await);
    }

    // The server goes away: writes and console calls are refused, quickly.
    pg.ctl("stop");
    let down = Instant::now();
    let mut refused = 0;
    for n in 20..23 {
        let outcome = write(n).await;
        refused += usize::from(matches!(outcome, Outcome::Unavailable));
        outcomes.push(outcome);
    }
    assert_eq!(refused, 3, "while the database is away, writes are 503");
    let started = Instant::now();
    let res = browser.call("get_clusters", &[]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "the console too");
    assert!(started.elapsed() < Duration::from_secs(8));
    say(&format!("R6 database away for {:?}", down.elapsed()));

    // Back: within 5 s requests succeed again, with no restart of Berth.
    pg.ctl("start");
    let back = Instant::now();
    let mut n = 23;
    loop {
        let outcome = write(n).await;
        n += 1;
        let ok = matches!(outcome, Outcome::Acknowledged(_));
        outcomes.push(outcome);
        if ok {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(5), "the pool did not recover within 5 s");
    }
    say(&format!("R6 first write acknowledged {} ms after the database was back", back.elapsed().as_millis()));
    for _ in 0..10 {
        outcomes.push(write(n).await);
        n += 1;
    }

    // No acknowledged write was lost.
    let stored: Vec<i64> = server.berth.store().alert_rules(cluster).await.unwrap().iter().map(|r| r.id).collect();
    let acknowledged: Vec<i64> =
        outcomes.iter().filter_map(|o| if let Outcome::Acknowledged(id) = o { Some(*id) } else { None }).collect();
    assert!(acknowledged.len() >= 31, "{outcomes:?}");
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged rule {id} is not in the database");
    }
    assert_eq!(browser.call("get_clusters", &[]).await.status(), StatusCode::OK);
    server.stop().await;
}
