//! PERFORMANCE.md P6: metrics — (1) API reads (cluster list, operations page, 1 h service chart) with
//! no ingest; (2) the same reads while a sustained stream of samples goes through `Berth::ingest` and
//! its batching writer into the store — first as fast as the writer takes them (the samples per second
//! actually written), then at the goal's 5,000 samples/s (the p99 the goal is about); (3) a 24 h chart
//! of a service read from the one-minute rollups (24 h of samples rolled up and the raw ones expired
//! after 6 h, as maintenance does). On SQLite always, and on PostgreSQL when `TEST_POSTGRES_URL` is
//! set. Both sides of each comparison come from one run.
//!
//! `cargo bench -p domain --bench metrics` (no docker needed; `scripts/bench` runs it).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::authz::{Principal, UserRef};
use domain::clock::now_ms;
use domain::cluster::NewCluster;
use domain::engine::Endpoint;
use domain::metrics::Sample;
use domain::node::NewNode;
use domain::operation::{NewOperation, Outcome};
use domain::store::{OperationFilter, Store};
use domain::testing::TestDb;
use domain::{Actor, Berth, Config};

/// The fleet whose samples are ingested: per cluster, containers, services, nodes and the cluster.
const CLUSTERS: usize = 4;
const CONTAINERS: usize = 200;
const SERVICES: usize = 40;
const NODES: usize = 5;
/// Operation history rows behind the operations page.
const OPERATIONS: usize = 300;
/// Readers, each making one read every `READ_EVERY` (a busy console, not a saturating loop).
const READERS: usize = 4;
const READ_EVERY: Duration = Duration::from_millis(20);
const IDLE_FOR: Duration = Duration::from_secs(5);
const INGEST_FOR: Duration = Duration::from_secs(10);
/// The goal's rate: the reads are also measured while samples arrive at it.
const GOAL_RATE: f64 = 5_000.0;
/// Samples handed to `ingest` at once (one cluster's collection is about 250).
const CHUNK: usize = 1_000;
/// Series besides the charted one in the 24 h history (sampled once a minute; the chart's every 10 s).
const HISTORY_SERIES: usize = 199;
const CHART_RUNS: usize = 20;

const EVERY: i64 = 10_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

const READS: [&str; 3] = ["cluster list", "operations page", "1 h chart"];

fn admin() -> Actor {
    Actor {
        principal: Principal::User(UserRef::admin(1, "bench")),
        source: "127.0.0.1".into(),
        request_id: "bench".into(),
    }
}

/// A cluster's series: (scope, key).
fn series_of(cluster: usize) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for i in 0..CONTAINERS {
        // Container ids are 64 hex digits.
        let id = (cluster * 10_000 + i + 1) as u128 * 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;
        out.push(("container", format!("{id:032x}{:032x}", id.rotate_left(64))));
    }
    out.extend((0..SERVICES).map(|j| ("service", format!("app{}_svc{j}", j / 4))));
    out.extend((0..NODES).map(|n| ("node", format!("{}", cluster * 100 + n + 1))));
    out.push(("cluster", String::new()));
    out
}

/// A plausible sample (values vary with the series and the time).
fn sample(cluster_id: i64, scope: &str, key: &str, ts: i64, seed: usize) -> Sample {
    let wave = ((ts / EVERY) as f64 / 30.0 + seed as f64).sin().abs();
    Sample {
        cluster_id,
        scope: scope.into(),
        key: key.into(),
        ts,
        cpu: 5.0 + 40.0 * wave,
        mem: 50e6 + 20e6 * wave,
        mem_limit: 256e6,
        net_rx: 1e4 * wave,
        net_tx: 5e3 * wave,
        blk_read: 100.0 * wave,
        blk_write: 2e3 * wave,
    }
}

/// One collection of every cluster at `at` (each cluster read a little after the previous one).
fn collection(fleet: &[(i64, Vec<(&'static str, String)>)], at: i64) -> Vec<Sample> {
    let mut out = Vec::with_capacity(fleet.len() * fleet[0].1.len());
    for (c, (id, series)) in fleet.iter().enumerate() {
        let ts = at + c as i64 * 1_700;
        for (i, (scope, key)) in series.iter().enumerate() {
            out.push(sample(*id, scope, key, ts + (i % 50) as i64, i));
        }
    }
    out
}

async fn insert_all(store: &Store, samples: Vec<Sample>) {
    for chunk in samples.chunks(5_000) {
        store.metric_insert(chunk).await.expect("insert samples");
    }
}

/// Reads in turn, one every `READ_EVERY`, until told to stop: (which read, how long it took).
async fn reader(berth: Berth, chart: (i64, String), stop: Arc<AtomicBool>, first: usize) -> Vec<(usize, Duration)> {
    let actor = admin();
    let mut out = Vec::new();
    let mut turn = first;
    while !stop.load(Ordering::Relaxed) {
        let kind = turn % READS.len();
        turn += 1;
        let t0 = Instant::now();
        match kind {
            0 => {
                berth.clusters(&actor).await.expect("cluster list");
            }
            1 => {
                let filter = OperationFilter { limit: 50, ..Default::default() };
                berth.operations(&actor, &filter).await.expect("operations page");
            }
            _ => {
                berth.metric_series(&actor, chart.0, "service", &chart.1, HOUR).await.expect("1 h chart");
            }
        }
        out.push((kind, t0.elapsed()));
        tokio::time::sleep(READ_EVERY).await;
    }
    out
}

/// What one ingest phase did.
struct Ingested {
    reads: Vec<(usize, Duration)>,
    produced: u64,
    /// Until the last sample was queued, and until the last one was written.
    queued_for: Duration,
    drained: Duration,
    /// Samples written per second (from the first queued to the last written).
    rate: f64,
}

/// Streams collections into `Berth::ingest` for `INGEST_FOR` — as fast as the writer takes them, or
/// at `rate` samples/s — while the readers run, then waits until the writer has written them all.
async fn ingest(
    berth: &Berth,
    store: &Store,
    fleet: &[(i64, Vec<(&'static str, String)>)],
    at: &mut i64,
    rate: Option<f64>,
) -> Ingested {
    let before = store.metric_count().await.unwrap();
    let readers = start_readers(berth, fleet);
    let t0 = Instant::now();
    let mut produced = 0u64;
    while t0.elapsed() < INGEST_FOR {
        if let Some(rate) = rate {
            tokio::time::sleep_until((t0 + Duration::from_secs_f64(produced as f64 / rate)).into()).await;
        }
        let samples = collection(fleet, *at);
        *at += EVERY;
        for chunk in samples.chunks(CHUNK) {
            produced += chunk.len() as u64;
            berth.ingest(chunk.to_vec()).await;
        }
    }
    let queued_for = t0.elapsed();
    let expected = before + produced as i64;
    let (mut written, mut last_change) = (before, Instant::now());
    while written < expected {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = store.metric_count().await.unwrap();
        if n != written {
            (written, last_change) = (n, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(15) {
            println!("the writer stalled: {} samples never arrived", count((expected - n) as u64));
            break;
        }
    }
    let drained = t0.elapsed();
    let reads = stop_readers(readers).await;
    let rate = (written - before) as f64 / drained.as_secs_f64();
    Ingested { reads, produced, queued_for, drained, rate }
}

type Readers = (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<Vec<(usize, Duration)>>>);

fn start_readers(berth: &Berth, fleet: &[(i64, Vec<(&'static str, String)>)]) -> Readers {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..READERS)
        .map(|r| {
            let chart = (fleet[r % fleet.len()].0, format!("app{}_svc{r}", r / 4));
            tokio::spawn(reader(berth.clone(), chart, stop.clone(), r))
        })
        .collect();
    (stop, handles)
}

async fn stop_readers((stop, handles): Readers) -> Vec<(usize, Duration)> {
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("reader"));
    }
    all
}

/// The `q` quantile (nearest rank) in milliseconds.
fn quantile(mut v: Vec<Duration>, q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort();
    let rank = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len());
    v[rank - 1].as_secs_f64() * 1000.0
}

fn of_kind(reads: &[(usize, Duration)], kind: Option<usize>) -> Vec<Duration> {
    reads.iter().filter(|(k, _)| kind.is_none_or(|want| *k == want)).map(|(_, d)| *d).collect()
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// Thousands separated by commas.
fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn run(name: &str, db: &TestDb) {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.data_dir = data.path().to_path_buf();
    let store = db.open().await;
    let berth = Berth::new(store.clone(), config);
    let now = now_ms();

    // The fleet: clusters with nodes, their series, 1 h of samples already stored, and a history of
    // operations.
    let mut fleet = Vec::new();
    for c in 0..CLUSTERS {
        let cluster = NewCluster {
            name: format!("bench{c}"),
            provider: "local".into(),
            status: "ready".into(),
            zones: vec!["a".into()],
        };
        let id = store.cluster_insert(&cluster, now).await.unwrap();
        for n in 0..NODES {
            let node = NewNode {
                cluster_id: id,
                name: format!("bench{c}-{n}"),
                endpoint: format!("unix:///tmp/bench{c}-{n}.sock"),
                container: format!("bench{c}-{n}"),
                role: if n == 0 { "manager" } else { "worker" }.into(),
                zone: "a".into(),
                state: "ready".into(),
                tls: "none".into(),
                address: String::new(),
            };
            store.node_insert(&node, now).await.unwrap();
        }
        fleet.push((id, series_of(c)));
    }
    let per_collection = fleet.iter().map(|(_, s)| s.len()).sum::<usize>();
    let seed_from = (now - HOUR) / EVERY * EVERY;
    let mut seed = Vec::new();
    let mut at = seed_from;
    while at < now - 2 * EVERY {
        seed.extend(collection(&fleet, at));
        at += EVERY;
    }
    let seeded = seed.len();
    insert_all(&store, seed).await;
    for i in 0..OPERATIONS {
        let op = NewOperation {
            started_at: now - (OPERATIONS - i) as i64 * 1_000,
            duration_ms: 40,
            actor_id: Some(1),
            actor_name: "bench".into(),
            source: "127.0.0.1".into(),
            channel: "console".into(),
            action: ["app.deploy", "app.scale", "node.drain", "secret.create"][i % 4].into(),
            target: format!("app{} on bench{}", i % 10, i % CLUSTERS),
            params: serde_json::json!({ "replicas": i % 7, "image": "nginx:1.27" }),
            outcome: if i.is_multiple_of(9) { Outcome::Failure } else { Outcome::Success },
            error_code: (i.is_multiple_of(9)).then(|| "engine".into()),
            error_message: (i.is_multiple_of(9)).then(|| "no suitable node".into()),
            request_id: format!("req{i}"),
            cluster_id: Some(fleet[i % CLUSTERS].0),
        };
        store.operation_insert(&op).await.unwrap();
    }

    println!(
        "P6: metrics on {name} — {CLUSTERS} clusters × ({CONTAINERS} containers + {SERVICES} services + {NODES} nodes + 1) \
         = {per_collection} series; {} samples (1 h at 10 s) and {OPERATIONS} operations stored beforehand",
        count(seeded as u64)
    );
    println!(
        "API reads: {READERS} readers, each one read every {} ms in turn: cluster list, operations page (50 rows), \
         1 h service chart\n",
        READ_EVERY.as_millis()
    );

    // (1) Idle.
    let readers = start_readers(&berth, &fleet);
    tokio::time::sleep(IDLE_FOR).await;
    let idle = stop_readers(readers).await;

    // (2) The same reads while samples stream in: as fast as the writer takes them, then at the goal's
    // rate. Timestamps go on from now, 10 s per collection of every cluster (simulated time runs
    // faster than the clock; series grow at their ends as they do in production).
    let mut at = now / EVERY * EVERY;
    let flat_out = ingest(&berth, &store, &fleet, &mut at, None).await;
    let paced = ingest(&berth, &store, &fleet, &mut at, Some(GOAL_RATE)).await;

    println!(
        "{:<16} {:>24} │ {:>31} │ {:>31}",
        "",
        "idle",
        format!("ingest flat out ({}/s)", count(flat_out.rate as u64)),
        format!("ingest at {}/s", count(paced.rate as u64))
    );
    println!(
        "{:<16} {:>6} {:>8} {:>8} │ {:>6} {:>8} {:>8} {:>6} │ {:>6} {:>8} {:>8} {:>6}",
        "read", "n", "p50", "p99", "n", "p50", "p99", "p99×", "n", "p50", "p99", "p99×"
    );
    let mut ratios = (0.0, 0.0);
    for (label, kind) in READS.iter().enumerate().map(|(i, r)| (*r, Some(i))).chain([("all", None)]) {
        let i = of_kind(&idle, kind);
        let (ni, i50, i99) = (i.len(), quantile(i.clone(), 0.50), quantile(i, 0.99));
        let mut cells = String::new();
        let mut row_ratios = Vec::new();
        for phase in [&flat_out, &paced] {
            let l = of_kind(&phase.reads, kind);
            let (nl, l50, l99) = (l.len(), quantile(l.clone(), 0.50), quantile(l, 0.99));
            row_ratios.push(l99 / i99);
            cells.push_str(&format!(" │ {nl:>6} {l50:>5.2} ms {l99:>5.2} ms {:>5.2}×", l99 / i99));
        }
        if kind.is_none() {
            ratios = (row_ratios[0], row_ratios[1]);
            println!("{}", "─".repeat(114));
        }
        println!("{label:<16} {ni:>6} {i50:>5.2} ms {i99:>5.2} ms{cells}");
    }
    println!(
        "\ningest flat out: {} samples queued in {:.1} s, all written after {:.1} s: {} samples/s   goal ≥ 5,000/s   {}",
        count(flat_out.produced),
        flat_out.queued_for.as_secs_f64(),
        flat_out.drained.as_secs_f64(),
        count(flat_out.rate as u64),
        verdict(flat_out.rate >= GOAL_RATE)
    );
    println!(
        "API p99 while ingesting 5,000 samples/s: {:.2}× idle   goal ≤ 2×   {}   (flat out: {:.2}×)",
        ratios.1,
        verdict(ratios.1 <= 2.0),
        ratios.0
    );

    // (3) 24 h chart: a service sampled every 10 s and 199 other series once a minute for 24 h, rolled
    // up per minute; raw samples older than 6 h expired, as maintenance leaves them.
    let now = now_ms();
    let hist = NewCluster { name: "history".into(), provider: "local".into(), status: "ready".into(), zones: vec![] };
    let hist = store.cluster_insert(&hist, now).await.unwrap();
    let from = (now - DAY) / MINUTE * MINUTE;
    let t_fill = Instant::now();
    let mut raw = Vec::new();
    let mut rows = 0usize;
    let others =
        series_of(CLUSTERS).into_iter().filter(|(_, k)| k != "app0_svc0").take(HISTORY_SERIES).collect::<Vec<_>>();
    let mut minute = from;
    while minute < now {
        for s in 0..MINUTE / EVERY {
            let ts = minute + s * EVERY + 3_000;
            if ts < now {
                raw.push(sample(hist, "service", "app0_svc0", ts, 0));
            }
        }
        for (i, (scope, key)) in others.iter().enumerate() {
            let ts = minute + (i as i64 * 211) % MINUTE;
            if ts < now {
                raw.push(sample(hist, scope, key, ts, i + 1));
            }
        }
        if raw.len() >= 50_000 {
            rows += raw.len();
            insert_all(&store, std::mem::take(&mut raw)).await;
        }
        minute += MINUTE;
    }
    rows += raw.len();
    insert_all(&store, raw).await;
    let until = (now - 15_000) / MINUTE * MINUTE;
    let mut rolled = 0;
    let mut slice = from;
    while slice < until {
        let to = (slice + HOUR).min(until);
        rolled += store.metric_rollup(slice, to).await.unwrap();
        slice = to;
    }
    let raw_kept = berth.config().metrics_raw_retention.as_millis() as i64;
    let kept = berth.config().metrics_retention.as_millis() as i64;
    store.metric_expire(now - raw_kept, now - kept).await.unwrap();
    let filled = t_fill.elapsed();

    let mut times = Vec::new();
    let mut points = 0;
    for _ in 0..CHART_RUNS {
        let t0 = Instant::now();
        let series = berth.metric_series(&admin(), hist, "service", "app0_svc0", DAY).await.unwrap();
        times.push(t0.elapsed());
        points = series.points.len();
    }
    let (p50, max) = (quantile(times.clone(), 0.5), quantile(times, 1.0));
    println!(
        "\n24 h chart of a service: {} raw samples over 24 h for {} series, {} one-minute rollups (all clusters), raw kept 6 h \
         (filled in {:.1} s)",
        count(rows as u64),
        HISTORY_SERIES + 1,
        count(rolled),
        filled.as_secs_f64()
    );
    println!(
        "{CHART_RUNS} queries, {points} points each: p50 {p50:.2} ms, max {max:.2} ms   goal ≤ 50 ms   {}\n",
        verdict(max <= 50.0)
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let db = TestDb::sqlite();
    run("SQLite", &db).await;
    if let Some(db) = TestDb::postgres().await {
        run("PostgreSQL", &db).await;
        db.remove().await;
    }
    println!("goal: ≥ 5,000 samples/s written while the API is read, API p99 ≤ 2× idle; 24 h chart query ≤ 50 ms");
}
