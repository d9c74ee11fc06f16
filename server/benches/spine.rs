//! The spine's numbers beside their goals in PERFORMANCE.md, from one run:
//! cold start to listening (P8), idle memory (P5), SSR latency of the overview under 10 connections
//! (P3), the bytes a browser downloads (P4), and how much a flood of refused requests slows other
//! people's changes (S12).
//!
//! Run with `scripts/bench` (it builds the release site first) or
//! `cargo bench -p berth --bench spine` after `cargo leptos build --release --precompress`.

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::cookie::Jar;

const PASSWORD: &str = "correct horse battery staple";
const CONNECTIONS: usize = 10;
const REQUESTS: usize = 4000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Berth {
    child: Child,
    url: String,
    setup_link: Option<String>,
    started: Duration,
    _data: tempfile::TempDir,
}

impl Berth {
    /// Starts the release binary on a fresh data directory; `started` is exec → accepting TCP.
    fn start() -> Result<Berth> {
        let data = tempfile::tempdir()?;
        let bin = std::env::var_os("BERTH_BIN").map(PathBuf::from).unwrap_or(root().join("target/release/berth"));
        if !bin.exists() {
            bail!("{} is missing: run `cargo leptos build --release --precompress` first", bin.display());
        }
        let t0 = Instant::now();
        let mut child = Command::new(&bin)
            .env("BERTH_DATA_DIR", data.path())
            .env("BERTH_LISTEN", "127.0.0.1:0")
            .env("BERTH_SITE_ROOT", root().join("target/site"))
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting berth")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let mut setup_link = None;
        let url = loop {
            let line = lines.next().context("berth exited before listening")??;
            if let Some(i) = line.find("/setup?token=") {
                let start = line[..i].rfind("http").unwrap_or(0);
                setup_link = Some(line[start..].trim().to_string());
            }
            if let Some(url) = line.strip_prefix("Berth is listening on ") {
                break url.trim().to_string();
            }
        };
        let addr = url.trim_start_matches("http://").to_string();
        while std::net::TcpStream::connect(&addr).is_err() {
            std::thread::yield_now();
        }
        let started = t0.elapsed();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Berth { child, url, setup_link, started, _data: data })
    }

    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("VmRSS")
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Latencies of `REQUESTS` GETs of `path` over `CONNECTIONS` concurrent connections.
async fn load(client: &reqwest::Client, url: &str, path: &str) -> Result<(Vec<Duration>, Duration)> {
    let url = format!("{url}{path}");
    // Warm up.
    for _ in 0..100 {
        client.get(&url).send().await?.bytes().await?;
    }
    let t0 = Instant::now();
    let tasks = (0..CONNECTIONS).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS / CONNECTIONS);
            for _ in 0..REQUESTS / CONNECTIONS {
                let t = Instant::now();
                let res = client.get(&url).send().await?;
                anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
                res.bytes().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        })
    });
    let mut all = Vec::with_capacity(REQUESTS);
    for task in tasks {
        all.extend(task.await??);
    }
    let wall = t0.elapsed();
    all.sort();
    Ok((all, wall))
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("Berth spine benchmark ({} CPUs)\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));

    // P8: cold start, fresh SQLite database (migrations included).
    let mut starts = Vec::new();
    for _ in 0..7 {
        starts.push(Berth::start()?.started);
    }
    starts.sort();

    // One instance for memory and latency.
    let berth = Berth::start()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_fresh = berth.rss_kib()?;
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar).pool_max_idle_per_host(CONNECTIONS).build()?;
    let token = berth.setup_link.as_deref().and_then(|l| l.split("token=").nth(1)).context("setup link")?;
    let res = client
        .post(format!("{}/api/create_first_admin", berth.url))
        .header("origin", &berth.url)
        .form(&[
            ("token", token),
            ("username", "bench"),
            ("display_name", ""),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
        ])
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "creating the admin: {}", res.status());
    client.get(format!("{}/", berth.url)).send().await?.bytes().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_signed_in = berth.rss_kib()?;

    // P3: SSR of the overview (and the sign-in page, which asks no engine) under 10 connections.
    let (overview, overview_wall) = load(&client, &berth.url, "/").await?;
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (signin, _) = load(&anon, &berth.url, "/signin").await?;
    let rss_after_load = berth.rss_kib()?;

    // S12: a flood of refused cross-site requests from one client must not slow other people's
    // changes (each writes a history row) by more than 2×.
    let idle_changes = changes(&client, &berth.url, 300).await?;
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let (flooding, sent, url) = (flooding.clone(), sent.clone(), format!("{}/api/sign_in", berth.url));
            tokio::spawn(async move {
                let attacker = reqwest::Client::new();
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = attacker
                        .post(&url)
                        .header("origin", "http://evil.example")
                        .form(&[("username", "bench"), ("password", "x")])
                        .send()
                        .await;
                    if res.is_ok() {
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let flood_start = Instant::now();
    let flooded_changes = changes(&client, &berth.url, 300).await?;
    let flood_rate = sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / flood_start.elapsed().as_secs_f64();
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }

    // P4: what a browser downloads, raw and as served (brotli).
    let pkg = root().join("target/site/pkg");
    let mut raw_total = 0;
    let mut br_total = 0;
    let mut weights = Vec::new();
    for name in ["berth.wasm", "berth.js", "berth.css"] {
        let raw = file_size(&pkg.join(name)).with_context(|| format!("{name} missing in {}", pkg.display()))?;
        let br = file_size(&pkg.join(format!("{name}.br")))
            .with_context(|| format!("{name}.br missing: build with `cargo leptos build --release --precompress`"))?;
        raw_total += raw;
        br_total += br;
        weights.push((name, raw, br));
    }

    println!("{:<44} {:>16} {:>16}", "measure", "Berth", "goal");
    println!("{}", "-".repeat(78));
    println!(
        "{:<44} {:>16} {:>16}",
        "P8 cold start to listening (median of 7)",
        ms(starts[starts.len() / 2]),
        "<= 1000 ms"
    );
    println!("{:<44} {:>16}", "   min / max", format!("{} / {}", ms(starts[0]), ms(starts[starts.len() - 1])));
    println!(
        "{:<44} {:>16} {:>16}",
        "P5 RSS idle, fresh start",
        format!("{:.1} MB", rss_idle_fresh as f64 / 1024.0),
        "<= 30 MB"
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "P5 RSS idle, after sign-in and a page",
        format!("{:.1} MB", rss_idle_signed_in as f64 / 1024.0),
        "<= 30 MB"
    );
    println!("{:<44} {:>16}", "   RSS after the load below", format!("{:.1} MB", rss_after_load as f64 / 1024.0));
    println!(
        "{:<44} {:>16} {:>16}",
        format!("P3 SSR overview p50 ({CONNECTIONS} conn, {REQUESTS} req)"),
        ms(percentile(&overview, 0.5)),
        "<= 5 ms"
    );
    println!("{:<44} {:>16} {:>16}", "P3 SSR overview p99", ms(percentile(&overview, 0.99)), "<= 25 ms");
    println!(
        "{:<44} {:>16}",
        "   overview throughput",
        format!("{:.0} req/s", REQUESTS as f64 / overview_wall.as_secs_f64())
    );
    println!(
        "{:<44} {:>16}",
        "   SSR sign-in page p50 / p99",
        format!("{} / {}", ms(percentile(&signin, 0.5)), ms(percentile(&signin, 0.99)))
    );
    for (name, raw, br) in &weights {
        println!("{:<44} {:>16}", format!("   {name} raw / brotli"), format!("{} / {} KB", raw / 1000, br / 1000));
    }
    println!(
        "{:<44} {:>16} {:>16}",
        "P4 page weight wasm+js+css (brotli)",
        format!("{} KB", br_total / 1000),
        "<= 350 KB"
    );
    println!("{:<44} {:>16}", "   raw", format!("{} KB", raw_total / 1000));
    let (idle_p50, flood_p50) = (percentile(&idle_changes, 0.5), percentile(&flooded_changes, 0.5));
    println!(
        "{:<44} {:>16} {:>16}",
        "S12 a change, p50 idle / under a flood",
        format!("{} / {}", ms(idle_p50), ms(flood_p50)),
        "<= 2x"
    );
    println!(
        "{:<44} {:>16}",
        "   ratio; flood of refused requests",
        format!("{:.2}x; {flood_rate:.0} req/s", flood_p50.as_secs_f64() / idle_p50.as_secs_f64())
    );
    Ok(())
}

/// Latencies of `n` changes in a row by the signed-in admin (quotas saved: one history row each).
async fn changes(client: &reqwest::Client, url: &str, n: usize) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let res = client
            .post(format!("{url}/api/set_quotas"))
            .header("origin", url)
            .form(&[("max_clusters", "5"), ("max_nodes_per_cluster", "20")])
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "set_quotas: {}", res.status());
        res.bytes().await?;
        out.push(t.elapsed());
    }
    out.sort();
    Ok(out)
}
