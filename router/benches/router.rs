//! PERFORMANCE.md T1/T2: berth-router beside Debian's HAProxy on loopback, both from one run.
//!
//! Arrangement (2 cores): the proxy under test runs alone on core 0 (berth-router as a child process
//! of this bench, which re-executes itself as the router; HAProxy with `nbthread 1`); the load
//! generator (`wrk -t1 -c32`, or the bench's own open-loop generator) and the backend (a minimal
//! HTTP/1.1 server in this process answering 1 KB) share core 1. Both proxies serve the same 1,001
//! routes (1,000 filler hosts with 2 backends each, plus `bench.test` → the backend), HAProxy through
//! a host map, so the router's RSS and route change are measured with 1,000 routes live.
//!
//! Measured: keep-alive req/s plain and over TLS (median of 3 alternating 5 s runs); p99 at half load
//! (open loop at 50 % of berth-router's plain max, the same rate direct to the backend and through
//! each proxy; added p99 = through − direct); a live route change under load (berth-router: from
//! `apply` of a new table to the first request its own client sees served by the new backend;
//! HAProxy: from `set server … addr` on its runtime socket to the same); RSS from /proc.
//!
//! `cargo bench -p router --bench router` (needs Debian's `haproxy` and `wrk`; `scripts/bench`
//! installs them).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark reports on stdout

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use router::proxy::{Options, Router};
use router::table::{Backend, Certificate, Route, RouteTable, Side};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The allocator the berth-router binary ships with (src/main.rs), so the bench measures what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set in the environment of the child this bench starts as the router.
const ROLE: &str = "BERTH_ROUTER_BENCH_ROLE";
const HOST: &str = "bench.test";
/// Routes besides the benchmarked one (distinct hosts, 2 backends each).
const FILLER: usize = 1_000;
const BODY: usize = 1024;
const CONNS: usize = 32;
const RUN_S: u64 = 5;
const ROUNDS: usize = 3;
const LATENCY_FOR: Duration = Duration::from_secs(5);
const SWITCHES: usize = 5;
/// How long a route change may take before the bench gives up on it.
const SWITCH_GIVE_UP: Duration = Duration::from_secs(5);

const GOAL_RPS_SHARE: f64 = 0.90;
const GOAL_ADDED_P99_MS: f64 = 1.0;
const GOAL_TLS_SHARE: f64 = 0.50;
const GOAL_SWITCH: Duration = Duration::from_secs(1);
const GOAL_RSS_MB: f64 = 20.0;

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("router") {
        router_child();
        return;
    }
    let haproxy = tool("haproxy", "haproxy");
    let wrk = tool("wrk", "wrk");
    let taskset = tool("taskset", "util-linux");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cores >= 2;
    if pinned {
        // Before any thread exists, so every thread of this process (backend, generator) stays on core 1.
        let me = std::process::id().to_string();
        let ok = Command::new(&taskset).args(["-a", "-p", "-c", "1", &me]).stdout(Stdio::null()).status();
        assert!(ok.is_ok_and(|s| s.success()), "taskset could not pin the bench to core 1");
    } else {
        eprintln!("router bench: only {cores} core: nothing is pinned, the numbers mix proxy and load");
    }
    let pin = |core: &str, program: &Path| -> Command {
        if pinned {
            let mut c = Command::new(&taskset);
            c.args(["-c", core]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    let clk_tck: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);

    // The backends: `a` serves the route, `b` is where route changes send it.
    let (a, b) = start_backends();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = rcgen::CertificateParams::new(vec![HOST.to_owned()])
        .expect("certificate parameters")
        .self_signed(&key)
        .expect("a self-signed certificate");
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, &cert_pem).expect("write the certificate");
    std::fs::write(&key_file, &key_pem).expect("write the key");

    // berth-router: this bench again, as a child on core 0.
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut child = pin("0", &exe);
    child
        .env(ROLE, "router")
        // As the routers' service sets it (domain/src/routing/router.rs): freed memory goes back at once.
        .env("MIMALLOC_PURGE_DELAY", "0")
        .env("BENCH_A", a.to_string())
        .env("BENCH_B", b.to_string())
        .env("BENCH_CERT", &cert_file)
        .env("BENCH_KEY", &key_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut rt = RouterChild::start(child);
    let ready = rt.line();
    let mut words = ready.split_whitespace().skip(1);
    let r_http: SocketAddr = words.next().and_then(|w| w.parse().ok()).expect("the router's HTTP port");
    let r_https: SocketAddr = words.next().and_then(|w| w.parse().ok()).expect("the router's HTTPS port");
    let r_rss_empty = rss_kb(rt.pid());
    let applied = rt.ask("routes");
    let r_apply_us: u64 = applied.split_whitespace().nth(1).and_then(|w| w.parse().ok()).unwrap_or(0);
    let r_rss_routes = rss_kb(rt.pid());

    // HAProxy on core 0, the same routes.
    let h_http = free_port();
    let h_https = free_port();
    let socket = dir.path().join("admin.sock");
    let config = haproxy_config(dir.path(), h_http, h_https, &socket, a, &cert_pem, &key_pem);
    let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("the HAProxy log");
    let mut hp = pin("0", &haproxy);
    hp.arg("-db").arg("-f").arg(&config).stdout(log.try_clone().expect("log")).stderr(log);
    let hp = Killed(hp.spawn().expect("start haproxy"));
    let hp_pid = hp.0.id();

    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    for at in [r_http, h_http, a] {
        let up = client.block_on(first_from(at, "a", Instant::now() + Duration::from_secs(10)));
        if up.is_none() {
            let log = std::fs::read_to_string(dir.path().join("haproxy.log")).unwrap_or_default();
            panic!("no answer from backend a through {at}; HAProxy's log:\n{log}");
        }
    }
    let h_rss_routes = rss_kb(hp_pid);
    let r_pid = rt.pid();

    let arrangement = if pinned {
        "proxy alone on core 0; wrk / the open-loop generator and the backend on core 1"
    } else {
        "nothing pinned (one core)"
    };
    eprintln!("router bench: {arrangement}; plain and TLS keep-alive runs ({ROUNDS} × {RUN_S} s each)…");
    let wrk_run = |url: &str, pid: Option<u32>, secs: u64| -> WrkRun {
        let (mut run, cpu) = quietly(&format!("wrk on {url}"), pid, clk_tck, || {
            let mut c = pin("1", &wrk);
            c.args(["-t1", &format!("-c{CONNS}"), &format!("-d{secs}s"), "-H", &format!("Host: {HOST}"), url]);
            run_wrk(c)
        });
        run.cpu = cpu;
        run
    };
    let plain = [(format!("http://{r_http}/"), r_pid), (format!("http://{h_http}/"), hp_pid)];
    let tls = [(format!("https://{r_https}/"), r_pid), (format!("https://{h_https}/"), hp_pid)];
    for (url, pid) in plain.iter().chain(&tls) {
        wrk_run(url, Some(*pid), 1); // warm-up
    }
    let direct = wrk_run(&format!("http://{a}/"), None, RUN_S);
    let alternate = |targets: &[(String, u32); 2]| -> [Vec<WrkRun>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            for k in 0..2 {
                let side = (k + round) % 2;
                let (url, pid) = &targets[side];
                out[side].push(wrk_run(url, Some(*pid), RUN_S));
            }
        }
        out
    };
    let [r_plain, h_plain] = alternate(&plain);
    let [r_tls, h_tls] = alternate(&tls);
    let (r_rps, h_rps) = (median_rps(&r_plain), median_rps(&h_plain));
    let (r_tls_rps, h_tls_rps) = (median_rps(&r_tls), median_rps(&h_tls));

    // Half load: open loop at half of berth-router's max, direct and through each proxy, alternating.
    let rate = (r_rps / 2.0).max(100.0);
    eprintln!("router bench: p99 at {rate:.0} req/s, open loop ({ROUNDS} × {} s each)…", LATENCY_FOR.as_secs());
    let mut lat: [Vec<Latencies>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let targets = [a, r_http, h_http];
    for round in 0..ROUNDS {
        for k in 0..3 {
            let t = (k + round) % 3;
            let proxy = [None, Some(r_pid), Some(hp_pid)][t];
            let what = format!("the open loop on {}", targets[t]);
            let (mut run, cpu) = quietly(&what, proxy, clk_tck, || open_loop(&client, targets[t], rate, LATENCY_FOR));
            run.cpu = cpu;
            lat[t].push(run);
        }
    }
    let p99 = |runs: &[Latencies]| median(runs.iter().map(|l| l.quantile(0.99)).collect());
    let p50 = |runs: &[Latencies]| median(runs.iter().map(|l| l.quantile(0.50)).collect());
    let errors = |runs: &[Latencies]| runs.iter().map(|l| l.errors).sum::<usize>();
    let achieved = |runs: &[Latencies]| median(runs.iter().map(|l| l.achieved).collect());
    let (d99, r99, h99) = (p99(&lat[0]), p99(&lat[1]), p99(&lat[2]));

    // Route changes while wrk loads the proxy.
    eprintln!("router bench: {SWITCHES} live route changes on each proxy under load…");
    let load_for = SWITCHES as u64 + 2;
    let load = |url: &str| {
        let mut c = pin("1", &wrk);
        c.args(["-t1", &format!("-c{CONNS}"), &format!("-d{load_for}s"), "-H", &format!("Host: {HOST}"), url]);
        c.stdout(Stdio::piped()).spawn().expect("start wrk")
    };
    let wrk_bg = load(&format!("http://{r_http}/"));
    std::thread::sleep(Duration::from_secs(1));
    let (mut r_switch, mut r_apply) = (Vec::new(), Vec::new());
    for _ in 0..SWITCHES {
        let got = rt.ask("switch");
        let mut words = got.split_whitespace().skip(1).map(|w| w.parse::<i64>().unwrap_or(-1));
        let (us, apply) = (words.next().unwrap_or(-1), words.next().unwrap_or(-1));
        r_switch.push((us >= 0).then(|| Duration::from_micros(us as u64)));
        r_apply.push(apply as f64);
        std::thread::sleep(Duration::from_secs(1));
    }
    let r_switch_load = parse_wrk(&String::from_utf8_lossy(&wrk_bg.wait_with_output().expect("wrk").stdout));
    let wrk_bg = load(&format!("http://{h_http}/"));
    std::thread::sleep(Duration::from_secs(1));
    let mut h_switch = Vec::new();
    for i in 0..SWITCHES {
        let (to, name) = if i % 2 == 0 { (b, "b") } else { (a, "a") };
        let t0 = Instant::now();
        let said = haproxy_command(&socket, &format!("set server bench/s1 addr {} port {}", to.ip(), to.port()));
        assert!(!said.contains("rror") && !said.contains("nknown"), "HAProxy refused the change: {said}");
        let seen = client.block_on(first_from(h_http, name, t0 + SWITCH_GIVE_UP));
        h_switch.push(seen.map(|s| s - t0));
        std::thread::sleep(Duration::from_secs(1));
    }
    let h_switch_load = parse_wrk(&String::from_utf8_lossy(&wrk_bg.wait_with_output().expect("wrk").stdout));
    let (r_rss_after, h_rss_after) = (rss_kb(r_pid), rss_kb(hp_pid));
    drop(rt);
    drop(hp);

    // The report.
    println!();
    println!("berth-router vs HAProxy {} — loopback, {arrangement}.", haproxy_version(&haproxy));
    println!(
        "Backend: minimal HTTP/1.1 server in the bench answering {BODY} B; both proxies serve {} routes \
         ({FILLER} filler hosts × 2 backends + {HOST}).",
        FILLER + 1
    );
    println!(
        "wrk -t1 -c{CONNS} -d{RUN_S}s, {ROUNDS} runs alternating, median; straight to the backend (core 1's ceiling): \
         {} req/s.",
        thousands(direct.rps)
    );
    println!(
        "Half load: open loop at {} req/s (50 % of berth-router's max) over {CONNS} connections, {ROUNDS} × {} s, \
         median p99; the same rate straight to the backend: p50 {} / p99 {} ms (achieved {} req/s).",
        thousands(rate),
        LATENCY_FOR.as_secs(),
        ms(p50(&lat[0])),
        ms(d99),
        thousands(achieved(&lat[0])),
    );
    println!();
    let rows: Vec<[String; 5]> = vec![
        [
            "keep-alive req/s (plain)".into(),
            format!("{} ({:.0} % of HAProxy)", thousands(r_rps), 100.0 * r_rps / h_rps),
            thousands(h_rps),
            format!("≥ {:.0} % of HAProxy", GOAL_RPS_SHARE * 100.0),
            ok(r_rps >= GOAL_RPS_SHARE * h_rps),
        ],
        [
            "  runs".into(),
            r_plain.iter().map(|w| thousands(w.rps)).collect::<Vec<_>>().join(" / "),
            h_plain.iter().map(|w| thousands(w.rps)).collect::<Vec<_>>().join(" / "),
            String::new(),
            String::new(),
        ],
        [
            "  proxy's core busy".into(),
            format!("{:.0} %", median(r_plain.iter().map(|w| w.cpu.proxy * 100.0).collect())),
            format!("{:.0} %", median(h_plain.iter().map(|w| w.cpu.proxy * 100.0).collect())),
            "(< ~95 %: it waited on core 1 or others)".into(),
            String::new(),
        ],
        [
            "  other work on core 0 / core 1, most".into(),
            others(r_plain.iter().chain(&r_tls).map(|w| w.cpu).chain(lat[1].iter().map(|l| l.cpu))),
            others(h_plain.iter().chain(&h_tls).map(|w| w.cpu).chain(lat[2].iter().map(|l| l.cpu))),
            "(> a few %: numbers skewed)".into(),
            String::new(),
        ],
        [
            "  core 1 busy (wrk + backend)".into(),
            format!("{:.0} %", median(r_plain.iter().map(|w| w.cpu.own * 100.0).collect())),
            format!("{:.0} %", median(h_plain.iter().map(|w| w.cpu.own * 100.0).collect())),
            "(~100 %: the load side was the limit)".into(),
            String::new(),
        ],
        ["keep-alive req/s (TLS)".into(), thousands(r_tls_rps), thousands(h_tls_rps), String::new(), String::new()],
        [
            "TLS / plain".into(),
            format!("{:.0} %", 100.0 * r_tls_rps / r_rps),
            format!("{:.0} %", 100.0 * h_tls_rps / h_rps),
            format!("≥ {:.0} %", GOAL_TLS_SHARE * 100.0),
            ok(r_tls_rps >= GOAL_TLS_SHARE * r_rps),
        ],
        [
            "p50 / p99 at half load, ms".into(),
            format!("{} / {}", ms(p50(&lat[1])), ms(r99)),
            format!("{} / {}", ms(p50(&lat[2])), ms(h99)),
            String::new(),
            String::new(),
        ],
        [
            "added p99 at half load".into(),
            format!("{} ms", ms(r99 - d99)),
            format!("{} ms", ms(h99 - d99)),
            format!("≤ {GOAL_ADDED_P99_MS} ms"),
            ok(r99 - d99 <= GOAL_ADDED_P99_MS * 1000.0),
        ],
        [
            "route change live, median / max".into(),
            switches(&r_switch),
            switches(&h_switch),
            format!("≤ {} s", GOAL_SWITCH.as_secs()),
            ok(r_switch.iter().all(|s| s.is_some_and(|d| d <= GOAL_SWITCH))),
        ],
        [
            "  of which apply, median".into(),
            format!("{} ms (first: {} ms)", ms(median(r_apply.clone())), ms(r_apply_us as f64)),
            "(set server addr)".into(),
            String::new(),
            String::new(),
        ],
        ["RSS, no routes".into(), mb(r_rss_empty), "—".into(), String::new(), String::new()],
        [
            "RSS, 1,000 routes, before load".into(),
            mb(r_rss_routes),
            mb(h_rss_routes),
            format!("≤ {GOAL_RSS_MB} MB"),
            ok(r_rss_routes as f64 / 1024.0 <= GOAL_RSS_MB),
        ],
        [
            "RSS, 1,000 routes, after load".into(),
            mb(r_rss_after),
            mb(h_rss_after),
            format!("≤ {GOAL_RSS_MB} MB"),
            ok(r_rss_after as f64 / 1024.0 <= GOAL_RSS_MB),
        ],
    ];
    let widths: Vec<usize> =
        (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).chain([HEADER[c].len()]).max().unwrap_or(0)).collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        println!("{}", padded.join(" | ").trim_end());
    };
    line(&HEADER);
    println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-|-"));
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let failed: Vec<String> = [
        ("plain", r_plain.iter().chain(&h_plain).map(|w| w.errors).sum::<u64>()),
        ("TLS", r_tls.iter().chain(&h_tls).map(|w| w.errors).sum()),
        ("berth-router during route changes", r_switch_load.errors),
        ("HAProxy during route changes", h_switch_load.errors),
        ("half load", errors(&lat[0]) as u64 + errors(&lat[1]) as u64 + errors(&lat[2]) as u64),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(what, n)| format!("{what}: {n}"))
    .collect();
    println!();
    if failed.is_empty() {
        println!("No failed requests (wrk's non-2xx and socket errors, the generator's errors), including during the route changes.");
    } else {
        println!("Failed requests — {}.", failed.join("; "));
    }
}

const HEADER: [&str; 5] = ["metric", "berth-router", "HAProxy", "goal", "ok?"];

fn ok(pass: bool) -> String {
    (if pass { "yes" } else { "NO" }).into()
}

/// A command by name on PATH (or in /usr/sbin, where Debian puts haproxy), or a clear exit.
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        eprintln!("router bench: `{name}` is missing; install Debian's `{package}` package (apt-get install {package}), as scripts/bench does");
        std::process::exit(2);
    })
}

fn haproxy_version(haproxy: &Path) -> String {
    Command::new(haproxy)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(2).map(str::to_owned))
        .unwrap_or_default()
}

/// A loopback port nothing listens on now (bound, then released).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    l.local_addr().expect("its address")
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Other work above this share of a core during a run (or before it) makes the run suspect.
const NOISE: f64 = 0.10;
/// How long the bench waits for other work on the machine to stop before a run.
const QUIET_WAIT: Duration = Duration::from_secs(60);

/// What the cores did during a run: the proxy's share of core 0, and other work's of each core
/// (anything neither the proxy nor this process and its waited-for children, wrk, did).
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    proxy: f64,
    own: f64,
    others: [f64; 2],
}

impl Cpu {
    fn noise(&self) -> f64 {
        self.others[0].max(self.others[1])
    }
}

fn metered<T>(proxy: Option<u32>, clk_tck: f64, f: impl FnOnce() -> T) -> (T, Cpu) {
    let (p0, c0, c1, me) = (proxy.map_or(0, cpu_ticks), core_ticks(0), core_ticks(1), own_ticks());
    let t0 = Instant::now();
    let out = f();
    let ticks = t0.elapsed().as_secs_f64() * clk_tck;
    let p = proxy.map_or(0, cpu_ticks).saturating_sub(p0);
    let on0 = core_ticks(0).saturating_sub(c0).saturating_sub(p);
    let own = own_ticks().saturating_sub(me);
    let on1 = core_ticks(1).saturating_sub(c1).saturating_sub(own);
    let share = |t: u64| t as f64 / ticks;
    (out, Cpu { proxy: share(p), own: share(own), others: [share(on0), share(on1)] })
}

/// Waits (at most `QUIET_WAIT`) until other work takes at most `NOISE` of each core, then runs `f`;
/// runs it again, twice at most, when other work took more meanwhile, and keeps the cleanest run.
fn quietly<T>(what: &str, proxy: Option<u32>, clk_tck: f64, mut f: impl FnMut() -> T) -> (T, Cpu) {
    let mut best: Option<(T, Cpu)> = None;
    for attempt in 0..3 {
        let until = Instant::now() + QUIET_WAIT;
        let mut said = false;
        loop {
            let (_, idle) = metered(None, clk_tck, || std::thread::sleep(Duration::from_millis(500)));
            if idle.noise() <= NOISE || Instant::now() > until {
                break;
            }
            if !said {
                eprintln!(
                    "router bench: waiting for other work on this machine to stop (at most {} s)…",
                    QUIET_WAIT.as_secs()
                );
                said = true;
            }
        }
        let (out, cpu) = metered(proxy, clk_tck, &mut f);
        let noise = cpu.noise();
        if best.as_ref().is_none_or(|(_, b)| noise < b.noise()) {
            best = Some((out, cpu));
        }
        if noise <= NOISE {
            break;
        }
        let next = if attempt < 2 { "once more" } else { "kept the cleanest run" };
        eprintln!("router bench: other work took {:.0} % of a core during {what}; {next}", noise * 100.0);
    }
    best.expect("at least one run")
}

/// CPU ticks a core spent on processes (user, nice, system) or lost to the hypervisor (steal) so far.
fn core_ticks(core: usize) -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with(&format!("cpu{core} "))) else { return 0 };
    let f: Vec<u64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    // user nice system idle iowait irq softirq steal: the processes' time and the hypervisor's
    [0, 1, 2, 7].iter().map(|&i| f.get(i).copied().unwrap_or(0)).sum()
}

/// User and system CPU ticks a process used so far (all its threads).
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(&pid.to_string(), &[11, 12])
}

/// The same for this process, plus the children it waited for (wrk).
fn own_ticks() -> u64 {
    stat_fields("self", &[11, 12, 13, 14])
}

fn stat_fields(pid: &str, which: &[usize]) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |r| r.1).split_whitespace().collect();
    which.iter().map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0)).sum()
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as milliseconds.
fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn switches(runs: &[Option<Duration>]) -> String {
    if runs.iter().any(Option::is_none) {
        return format!("> {} s (never switched)", SWITCH_GIVE_UP.as_secs());
    }
    let mut us: Vec<f64> = runs.iter().flatten().map(|d| d.as_micros() as f64).collect();
    us.sort_by(f64::total_cmp);
    format!("{} / {} ms", ms(median(us.clone())), ms(us.last().copied().unwrap_or(0.0)))
}

// ---- wrk ----

struct WrkRun {
    rps: f64,
    /// Non-2xx answers and socket errors.
    errors: u64,
    cpu: Cpu,
}

/// The most other work took of each core in any of the runs.
fn others(runs: impl Iterator<Item = Cpu>) -> String {
    let most = runs.fold([0.0f64; 2], |m, c| [m[0].max(c.others[0]), m[1].max(c.others[1])]);
    format!("{:.0} % / {:.0} %", most[0] * 100.0, most[1] * 100.0)
}

fn median_rps(runs: &[WrkRun]) -> f64 {
    median(runs.iter().map(|w| w.rps).collect())
}

fn run_wrk(mut c: Command) -> WrkRun {
    let out = c.output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Requests/sec"),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text)
}

fn parse_wrk(text: &str) -> WrkRun {
    let mut run = WrkRun { rps: 0.0, errors: 0, cpu: Cpu::default() };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.errors += v.split(',').filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok()).sum::<u64>();
        }
    }
    run
}

// ---- the backend ----

/// Starts backends `a` and `b` on a thread of their own (a single-threaded runtime).
fn start_backends() -> (SocketAddr, SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        rt.block_on(async move {
            let a = TcpListener::bind("127.0.0.1:0").await.expect("bind backend a");
            let b = TcpListener::bind("127.0.0.1:0").await.expect("bind backend b");
            tx.send((a.local_addr().expect("a"), b.local_addr().expect("b"))).expect("tell the addresses");
            tokio::join!(backend(a, answer("a")), backend(b, answer("b")));
        });
    });
    rx.recv().expect("the backends' addresses")
}

fn answer(name: &str) -> &'static [u8] {
    let mut r =
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {BODY}\r\nx-backend: {name}\r\n\r\n")
            .into_bytes();
    r.extend(std::iter::repeat_n(b'x', BODY));
    r.leak()
}

/// A keep-alive HTTP/1.1 server that answers every request head with `answer` (the benchmark only
/// sends GETs without bodies), pipelined heads included.
async fn backend(listener: TcpListener, answer: &'static [u8]) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            let mut out: Vec<u8> = Vec::with_capacity(answer.len());
            loop {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(8192);
                }
                match stream.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let mut done = 0;
                while let Some(end) = buf[done..].windows(4).position(|w| w == b"\r\n\r\n") {
                    done += end + 4;
                    out.extend_from_slice(answer);
                }
                buf.drain(..done);
                if buf.len() > 64 * 1024 {
                    return;
                }
                if !out.is_empty() {
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        });
    }
}

// ---- a small HTTP/1.1 client ----

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(at: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(at).await.map_err(|e| format!("connect {at}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One GET / for the benchmarked host: which backend answered (its `x-backend`).
async fn get(sender: &mut Sender) -> Result<String, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = Request::get("/").header("host", HOST).body(Empty::new()).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let name = resp.headers().get("x-backend").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    resp.into_body().collect().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    Ok(name)
}

/// Asks through `at` over one keep-alive connection until backend `want` answers; when it did.
async fn first_from(at: SocketAddr, want: &str, give_up: Instant) -> Option<Instant> {
    let mut conn: Option<Sender> = None;
    while Instant::now() < give_up {
        if conn.is_none() {
            conn = connect(at).await.ok();
        }
        let Some(sender) = conn.as_mut() else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        match get(sender).await {
            Ok(name) if name == want => return Some(Instant::now()),
            Ok(_) => {}
            Err(_) => conn = None,
        }
    }
    None
}

/// Latencies of one open-loop run, in microseconds, from each request's scheduled time.
struct Latencies {
    us: Vec<u32>,
    errors: usize,
    achieved: f64,
    cpu: Cpu,
}

impl Latencies {
    fn quantile(&self, q: f64) -> f64 {
        if self.us.is_empty() {
            return f64::INFINITY;
        }
        let i = ((self.us.len() as f64 * q).ceil() as usize).clamp(1, self.us.len()) - 1;
        f64::from(self.us[i])
    }
}

/// When each request still unanswered on a connection was scheduled, oldest first.
type Sent = Arc<std::sync::Mutex<std::collections::VecDeque<Instant>>>;

/// Sends `rate` requests a second to `at` for `run` whatever the answers do (open loop, as wrk2
/// does): a pacing thread writes each request at its scheduled time on the next of `CONNS`
/// keep-alive connections (pipelined behind an unanswered one, if need be), and a reader per
/// connection times the answers from the scheduled time, so a stall counts for every request it
/// delays. Plain sockets and no HTTP library, so the generator takes little of its core.
fn open_loop(client: &tokio::runtime::Runtime, at: SocketAddr, rate: f64, run: Duration) -> Latencies {
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: bench.test\r\n\r\n";
    let give_up = Instant::now() + run + Duration::from_secs(10);
    let mut conns: Vec<(std::net::TcpStream, Sent)> = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    let _in_runtime = client.enter();
    for _ in 0..CONNS {
        let stream = std::net::TcpStream::connect(at).expect("the generator connects");
        let _ = stream.set_nodelay(true);
        stream.set_nonblocking(true).expect("a non-blocking socket");
        let reader = TcpStream::from_std(stream.try_clone().expect("a second handle")).expect("a tokio socket");
        let sent = Sent::default();
        readers.spawn_on(answers(reader, sent.clone(), give_up), client.handle());
        conns.push((stream, sent));
    }
    let started = Instant::now();
    let pacer = std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(20);
        let n = (rate * run.as_secs_f64()) as u64;
        let mut refused = 0usize;
        for i in 0..n {
            let t = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if t > now {
                std::thread::sleep(t - now);
            }
            let (stream, sent) = &conns[i as usize % CONNS];
            sent.lock().unwrap_or_else(|e| e.into_inner()).push_back(t);
            if (&*stream).write_all(REQUEST).is_err() {
                sent.lock().unwrap_or_else(|e| e.into_inner()).pop_back();
                refused += 1;
            }
        }
        // Done: once every request is answered (or after 3 s), the far side is told and closes,
        // which ends each reader.
        let drained = Instant::now() + Duration::from_secs(3);
        while Instant::now() < drained
            && conns.iter().any(|(_, sent)| !sent.lock().unwrap_or_else(|e| e.into_inner()).is_empty())
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        for (stream, _) in &conns {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        refused
    });
    let mut out = client.block_on(async {
        let mut all = Latencies { us: Vec::new(), errors: 0, achieved: 0.0, cpu: Cpu::default() };
        while let Some(done) = readers.join_next().await {
            let (us, errors) = done.expect("a generator connection");
            all.us.extend(us);
            all.errors += errors;
        }
        all
    });
    out.errors += pacer.join().expect("the pacer");
    out.achieved = out.us.len() as f64 / (started.elapsed().as_secs_f64() - 0.02).max(0.001);
    out.us.sort_unstable();
    out
}

/// Reads the answers on one connection until it closes: the latency of each 200, and how many
/// requests failed (another status, or no answer).
async fn answers(mut stream: TcpStream, sent: Sent, give_up: Instant) -> (Vec<u32>, usize) {
    let (mut us, mut errors) = (Vec::new(), 0usize);
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(16 * 1024);
        }
        match tokio::time::timeout_at(give_up.into(), stream.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
        let mut done = 0;
        while let Some(end) = buf[done..].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = &buf[done..done + end];
            let total = end + 4 + content_length(head);
            if buf.len() - done < total {
                break;
            }
            let ok = head.starts_with(b"HTTP/1.1 200");
            done += total;
            let scheduled = sent.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            match scheduled {
                Some(t) if ok => us.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32),
                _ => errors += 1,
            }
        }
        buf.drain(..done);
    }
    errors += sent.lock().unwrap_or_else(|e| e.into_inner()).len();
    (us, errors)
}

/// The Content-Length of a response head (0 without one).
fn content_length(head: &[u8]) -> usize {
    head.split(|&c| c == b'\n')
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .next()
        .unwrap_or(0)
}

// ---- HAProxy ----

fn filler_backends(i: usize) -> [SocketAddr; 2] {
    let ip = [127, 1, (i / 200) as u8, (i % 200 + 1) as u8];
    [SocketAddr::from((ip, 8080)), SocketAddr::from((ip, 8081))]
}

fn haproxy_config(
    dir: &Path,
    http: SocketAddr,
    https: SocketAddr,
    socket: &Path,
    backend: SocketAddr,
    cert_pem: &str,
    key_pem: &str,
) -> PathBuf {
    let pem = dir.join("haproxy.pem");
    std::fs::write(&pem, format!("{cert_pem}{key_pem}")).expect("write HAProxy's PEM");
    let map = dir.join("hosts.map");
    let mut hosts = format!("{HOST} bench\n");
    let mut cfg = format!(
        "global\n  nbthread 1\n  maxconn 4096\n  stats socket {socket} mode 600 level admin\n\n\
         defaults\n  mode http\n  option http-keep-alive\n  option forwardfor\n  timeout connect 3s\n  \
         timeout client 60s\n  timeout server 60s\n  timeout http-request 30s\n  timeout http-keep-alive 30s\n\n\
         frontend edge\n  bind {http}\n  bind {https} ssl crt {pem}\n  \
         http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}\n  \
         http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}\n  \
         http-request set-header X-Forwarded-Host %[req.hdr(host)]\n  \
         use_backend %[req.hdr(host),lower,field(1,:),map({map},none)]\n  default_backend none\n\n\
         backend none\n  http-request return status 404\n\n\
         backend bench\n  server s1 {backend}\n",
        socket = socket.display(),
        pem = pem.display(),
        map = map.display(),
    );
    for i in 0..FILLER {
        let [s1, s2] = filler_backends(i);
        hosts.push_str(&format!("r{i}.{HOST} r{i}\n"));
        cfg.push_str(&format!("\nbackend r{i}\n  server s1 {s1}\n  server s2 {s2}\n"));
    }
    std::fs::write(&map, hosts).expect("write HAProxy's map");
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).expect("write HAProxy's configuration");
    path
}

/// One command on HAProxy's runtime socket; its answer.
fn haproxy_command(socket: &Path, command: &str) -> String {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("HAProxy's runtime socket");
    s.write_all(format!("{command}\n").as_bytes()).expect("send the command");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// A child process killed when dropped (the bench never leaves a proxy running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- berth-router, in a child process ----

struct RouterChild {
    child: Killed,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl RouterChild {
    fn start(mut c: Command) -> RouterChild {
        let mut child = c.spawn().expect("start the router process");
        let stdin = child.stdin.take().expect("its stdin");
        let stdout = BufReader::new(child.stdout.take().expect("its stdout"));
        RouterChild { child: Killed(child), stdin, stdout }
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from the router process");
        assert!(!line.is_empty(), "the router process ended");
        line
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("write to the router process");
        self.line()
    }
}

/// The table the router serves: the filler routes and `bench.test` → `to`, with the certificate.
fn table(version: u64, to: SocketAddr, name: &str, cert_pem: &str, key_pem: &str) -> RouteTable {
    let route = |id: String, host: String, backends: Vec<Backend>| Route {
        id,
        host,
        path: "/".into(),
        sticky: false,
        https_redirect: false,
        sides: vec![Side { name: "v1".into(), weight: 1, backends }],
    };
    let mut routes =
        vec![route("bench".into(), HOST.into(), vec![Backend { id: format!("task-{name}"), addr: to, probe: None }])];
    for i in 0..FILLER {
        let backends = filler_backends(i)
            .iter()
            .enumerate()
            .map(|(k, addr)| Backend { id: format!("r{i}-{k}"), addr: *addr, probe: None })
            .collect();
        routes.push(route(format!("r{i}"), format!("r{i}.{HOST}"), backends));
    }
    RouteTable {
        version,
        routes,
        certificates: vec![Certificate {
            hosts: vec![HOST.into()],
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            default: true,
        }],
        cookie_secret: "5e".repeat(32),
        ..Default::default()
    }
}

/// The router's side: serves plain HTTP and HTTPS on loopback ports (printed as `ready HTTP HTTPS`),
/// then takes commands on stdin: `routes` applies the table with backend `a` (answers `applied US`);
/// `switch` applies a new table that moves the route to the other backend and asks through its own
/// listener until the new backend answers (answers `switched US APPLY_US`, -1 if it never did).
fn router_child() {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set"));
    let a: SocketAddr = env("BENCH_A").parse().expect("BENCH_A");
    let b: SocketAddr = env("BENCH_B").parse().expect("BENCH_B");
    let cert = std::fs::read_to_string(env("BENCH_CERT")).expect("the certificate");
    let key = std::fs::read_to_string(env("BENCH_KEY")).expect("the key");
    // Worker threads as the binary has them: one per core this process may use (taskset: one).
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let (router, http, https, _stop) = rt.block_on(async {
        let router = Router::new(Options { tcp_bind: [127, 0, 0, 1].into(), ..Options::default() });
        router.spawn_background();
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (http, https) = (plain.local_addr().expect("addr"), tls.local_addr().expect("addr"));
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let drain = Duration::from_secs(1);
        tokio::spawn(router::serve::serve(router.clone(), plain, None, stop.clone(), drain));
        let acceptor = tokio_rustls::TlsAcceptor::from(router::tls::public_config(router.live_handle()));
        tokio::spawn(router::serve::serve(router.clone(), tls, Some(acceptor), stop, drain));
        (router, http, https, stop_tx)
    });
    println!("ready {http} {https}");
    let (mut version, mut on_b) = (0, false);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "routes" => {
                version += 1;
                let t0 = Instant::now();
                router.apply(table(version, a, "a", &cert, &key)).expect("the table applies");
                println!("applied {}", t0.elapsed().as_micros());
            }
            "switch" => {
                on_b = !on_b;
                version += 1;
                let (to, name) = if on_b { (b, "b") } else { (a, "a") };
                let next = table(version, to, name, &cert, &key);
                let t0 = Instant::now();
                router.apply(next).expect("the table applies");
                let applied = t0.elapsed();
                let seen = rt.block_on(first_from(http, name, t0 + SWITCH_GIVE_UP));
                let took = seen.map_or(-1, |s| (s - t0).as_micros() as i64);
                println!("switched {took} {}", applied.as_micros());
            }
            _ => break,
        }
    }
}
