//! Metric history: samples computed from the engines' container counters, summed per service, node
//! and cluster, written in batches, rolled up per minute, expired by age, and read back as chart
//! series or as Prometheus text (which also gives the routers' newest request numbers per route
//! and side, read from the store as routing's collection wrote them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::authz::{authorize, Actor, ClusterRole, Level, Permission};
use crate::clock::now_ms;
use crate::engine::Counters;
use crate::error::{Error, Result};
use crate::Berth;

pub use crate::store::{Point, Sample};

/// What a series is about.
pub const SCOPES: &[&str] = &["container", "service", "node", "cluster"];

impl Sample {
    fn add(&mut self, other: &Sample) {
        self.cpu += other.cpu;
        self.mem += other.mem;
        self.mem_limit += other.mem_limit;
        self.net_rx += other.net_rx;
        self.net_tx += other.net_tx;
        self.blk_read += other.blk_read;
        self.blk_write += other.blk_write;
    }
}

/// A chart's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub scope: String,
    pub key: String,
    pub from: i64,
    pub to: i64,
    /// Milliseconds each point averages.
    pub step: i64,
    pub points: Vec<Point>,
}

/// A container's sample with what Prometheus labels it by.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    pub sample: Sample,
    pub node: String,
    pub app: String,
    pub service: String,
    pub task: String,
}

/// The latest collection of a cluster, for `/metrics` and alert rules (the collector makes it).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Snapshot {
    pub containers: Vec<Labelled>,
    /// Sums per service, node and cluster.
    pub totals: Vec<Sample>,
    /// Node id (as in samples' keys) → node name.
    pub node_names: HashMap<String, String>,
    /// The (scope, key) of every service, node and cluster with a running task container, with or
    /// without a sample yet.
    pub active: HashSet<(String, String)>,
    /// Whether every node collected from answered: then what is not active runs nothing.
    pub complete: bool,
}

/// The rates between two reads of a container's counters, or `None` when they are too close
/// together (or the counters went backwards: the container restarted).
pub fn rates(prev: &Counters, now: &Counters) -> Option<Sample> {
    let secs = (now.at_ns - prev.at_ns) as f64 / 1e9;
    if secs < 0.05 || now.cpu_ns < prev.cpu_ns {
        return None;
    }
    let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
    Some(Sample {
        ts: now.at_ns / 1_000_000,
        cpu: per_sec(now.cpu_ns, prev.cpu_ns) / 1e9 * 100.0,
        mem: now.mem as f64,
        mem_limit: now.mem_limit as f64,
        net_rx: per_sec(now.net_rx, prev.net_rx),
        net_tx: per_sec(now.net_tx, prev.net_tx),
        blk_read: per_sec(now.blk_read, prev.blk_read),
        blk_write: per_sec(now.blk_write, prev.blk_write),
        ..Sample::default()
    })
}

/// The container samples of one collection plus their sums per service, node and cluster, all
/// stamped with the collection's time.
pub fn aggregate(cluster_id: i64, at: i64, containers: &[Labelled], node_ids: &BTreeMap<String, i64>) -> Vec<Sample> {
    let mut out = Vec::with_capacity(containers.len() * 2 + 4);
    let mut services: BTreeMap<&str, Sample> = BTreeMap::new();
    let mut nodes: BTreeMap<i64, Sample> = BTreeMap::new();
    let mut cluster = Sample { cluster_id, scope: "cluster".into(), ts: at, ..Sample::default() };
    for c in containers {
        out.push(Sample { ts: at, ..c.sample.clone() });
        let service = services.entry(c.service.as_str()).or_insert_with(|| Sample {
            cluster_id,
            scope: "service".into(),
            key: c.service.clone(),
            ts: at,
            ..Sample::default()
        });
        service.add(&c.sample);
        if let Some(node) = node_ids.get(&c.node) {
            nodes
                .entry(*node)
                .or_insert_with(|| Sample {
                    cluster_id,
                    scope: "node".into(),
                    key: node.to_string(),
                    ts: at,
                    ..Sample::default()
                })
                .add(&c.sample);
        }
        cluster.add(&c.sample);
    }
    out.extend(services.into_values());
    out.extend(nodes.into_values());
    out.push(cluster);
    out
}

/// The chart ranges the console offers (ms), and the longest any caller may ask for.
pub const RANGES: &[i64] = &[15 * 60_000, 3_600_000, 6 * 3_600_000, 24 * 3_600_000, 7 * 24 * 3_600_000];

/// About this many points per chart.
const POINTS: i64 = 360;

impl Berth {
    /// One series over the last `range` ms: raw samples for short ranges, rollups (and the raw
    /// samples of the minutes not rolled up yet) for long ones.
    pub async fn metric_series(
        &self,
        actor: &Actor,
        cluster: i64,
        scope: &str,
        key: &str,
        range: i64,
    ) -> Result<Series> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "metrics.read", format!("cluster {cluster}"))
            .await?;
        if !SCOPES.contains(&scope) {
            return Err(Error::invalid("scope", "must be container, service, node or cluster"));
        }
        if !(60_000..=RANGES[RANGES.len() - 1]).contains(&range) {
            return Err(Error::invalid("range", "must be between one minute and seven days"));
        }
        self.series(cluster, scope, key, now_ms(), range).await
    }

    pub(crate) async fn series(&self, cluster: i64, scope: &str, key: &str, to: i64, range: i64) -> Result<Series> {
        let from = to - range;
        let every = self.config.collect_every.as_millis() as i64;
        let raw_kept = self.config.metrics_raw_retention.as_millis() as i64;
        let points = if range <= 3 * 3_600_000 && range <= raw_kept {
            let step = (range / POINTS).max(every).max(1000);
            self.store.metric_raw_series(cluster, scope, key, from, to, step).await?
        } else {
            let step = (range / POINTS).max(60_000) / 60_000 * 60_000;
            let mut points = self.store.metric_rollup_series(cluster, scope, key, from, to, step).await?;
            // The minutes not rolled up yet come from the raw samples.
            let rolled = points.last().map_or(from, |p| p.ts + step);
            if rolled < to {
                points.extend(self.store.metric_raw_series(cluster, scope, key, rolled, to, step).await?);
            }
            points
        };
        let step = points.windows(2).map(|w| w[1].ts - w[0].ts).min().unwrap_or(every);
        Ok(Series { scope: scope.into(), key: key.into(), from, to, step, points })
    }

    /// The latest samples of every cluster the actor can see, in the Prometheus text format.
    pub async fn prometheus(&self, actor: &Actor) -> Result<String> {
        let user = authorize(actor, Permission::ClusterList)?;
        let clusters = self.store.clusters().await?;
        // Collections from whichever replica collects, unless they are too old to be current.
        let fresh_since = now_ms() - 3 * self.config.collect_every.as_millis() as i64;
        let mut latest = Vec::new();
        let mut up: Vec<(String, String, bool)> = Vec::new();
        // The routers' newest request samples (routing's collection), under the same rule.
        let traffic_since = now_ms() - 3 * self.config.traffic_every.as_millis() as i64;
        let mut routes = Vec::new();
        for cluster in clusters.iter().filter(|c| user.level(c.id) >= Level::Role(ClusterRole::Viewer)) {
            for node in self.store.nodes(cluster.id).await? {
                up.push((cluster.name.clone(), node.name.clone(), node.state == "ready"));
            }
            for s in self.store.traffic_latest(cluster.id, None).await? {
                if s.ts >= traffic_since {
                    routes.push((cluster.name.clone(), s));
                }
            }
            if let Some((ts, _, body)) = self.store.metric_latest(cluster.id).await? {
                if ts >= fresh_since {
                    latest.push((cluster, serde_json::from_str::<Snapshot>(&body)?));
                }
            }
        }
        let mut containers: Vec<(String, &Labelled)> = Vec::new();
        let mut totals: Vec<(String, String, String, &Sample)> = Vec::new();
        for (cluster, snapshot) in &latest {
            for l in &snapshot.containers {
                containers.push((cluster.name.clone(), l));
            }
            for s in &snapshot.totals {
                let label = match s.scope.as_str() {
                    "node" => snapshot.node_names.get(&s.key).cloned().unwrap_or_else(|| s.key.clone()),
                    _ => s.key.clone(),
                };
                totals.push((cluster.name.clone(), s.scope.clone(), label, s));
            }
        }
        let mut out = String::new();
        let _ =
            writeln!(out, "# HELP berth_node_up Whether a node is ready (1) or not (0).\n# TYPE berth_node_up gauge");
        for (cluster, node, ready) in &up {
            let _ = writeln!(
                out,
                "berth_node_up{{cluster=\"{}\",node=\"{}\"}} {}",
                esc(cluster),
                esc(node),
                u8::from(*ready)
            );
        }
        for (name, help, get) in FIELDS {
            let _ = writeln!(out, "# HELP berth_container_{name} {help}\n# TYPE berth_container_{name} gauge");
            for (cluster, l) in &containers {
                let _ = writeln!(
                    out,
                    "berth_container_{name}{{cluster=\"{}\",node=\"{}\",app=\"{}\",service=\"{}\",task=\"{}\",container=\"{}\"}} {}",
                    esc(cluster),
                    esc(&l.node),
                    esc(&l.app),
                    esc(&l.service),
                    esc(&l.task),
                    esc(&l.sample.key),
                    get(&l.sample)
                );
            }
            for scope in ["service", "node", "cluster"] {
                let _ = writeln!(out, "# HELP berth_{scope}_{name} {help} (sum over the {scope}'s containers)\n# TYPE berth_{scope}_{name} gauge");
                for (cluster, _, label, s) in totals.iter().filter(|t| t.1 == scope) {
                    let label = match scope {
                        "cluster" => String::new(),
                        _ => format!(",{scope}=\"{}\"", esc(label)),
                    };
                    let _ = writeln!(out, "berth_{scope}_{name}{{cluster=\"{}\"{label}}} {}", esc(cluster), get(s));
                }
            }
        }
        for (name, help, get) in ROUTE_FIELDS {
            let _ = writeln!(out, "# HELP berth_route_{name} {help}\n# TYPE berth_route_{name} gauge");
            for (cluster, s) in &routes {
                if let Some(value) = get(s) {
                    let _ = writeln!(
                        out,
                        "berth_route_{name}{{cluster=\"{}\",app=\"{}\",route=\"{}\",side=\"{}\"}} {value}",
                        esc(cluster),
                        esc(&s.app),
                        esc(&s.route),
                        esc(&s.service),
                    );
                }
            }
        }
        Ok(out)
    }
}

type RouteField = (&'static str, &'static str, fn(&crate::store::TrafficSample) -> Option<f64>);

/// Per route and side, from the newest collection of the routers' counters (summed over the
/// cluster's routers); no p99 line for an interval without requests.
const ROUTE_FIELDS: &[RouteField] = &[
    (
        "requests_per_second",
        "Requests per second to a route's side over the last collection interval.",
        |s| Some(s.rps),
    ),
    ("5xx_ratio", "Share of a route side's responses that were 5xx over the last interval (0 to 1).", |s| {
        Some(s.err5xx_pct / 100.0)
    }),
    (
        "latency_p99_seconds",
        "99th percentile of a route side's latency to the response head over the last interval (interpolated in the routers' histogram buckets).",
        |s| s.p99_ms.map(|ms| ms / 1000.0),
    ),
];

type Field = (&'static str, &'static str, fn(&Sample) -> f64);

const FIELDS: &[Field] = &[
    ("cpu_percent", "CPU use, percent of one core.", |s| s.cpu),
    ("memory_bytes", "Memory in use, bytes.", |s| s.mem),
    ("memory_limit_bytes", "Memory limit, bytes.", |s| s.mem_limit),
    ("network_receive_bytes_per_second", "Network bytes received per second.", |s| s.net_rx),
    ("network_transmit_bytes_per_second", "Network bytes sent per second.", |s| s.net_tx),
    ("disk_read_bytes_per_second", "Block device bytes read per second.", |s| s.blk_read),
    ("disk_write_bytes_per_second", "Block device bytes written per second.", |s| s.blk_write),
];

/// A Prometheus label value: backslash, quote and newline escaped.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_cpu_is_percent_of_a_core() {
        let prev = Counters { at_ns: 0, cpu_ns: 0, net_rx: 1000, ..Counters::default() };
        let now = Counters { at_ns: 2_000_000_000, cpu_ns: 1_000_000_000, mem: 5, net_rx: 5000, ..Counters::default() };
        let s = rates(&prev, &now).unwrap();
        assert_eq!((s.cpu, s.mem, s.net_rx, s.ts), (50.0, 5.0, 2000.0, 2000));
        // A restarted container's counters start again: no rate.
        assert_eq!(rates(&now, &prev), None);
        assert_eq!(rates(&prev, &Counters { at_ns: 1, ..prev }), None);
    }

    #[test]
    fn aggregates_sum_per_service_node_and_cluster() {
        let c = |key: &str, node: &str, service: &str, cpu: f64| Labelled {
            sample: Sample {
                cluster_id: 1,
                scope: "container".into(),
                key: key.into(),
                cpu,
                mem: 10.0,
                ..Sample::default()
            },
            node: node.into(),
            service: service.into(),
            ..Labelled::default()
        };
        let nodes = BTreeMap::from([("n1".to_string(), 7), ("n2".to_string(), 8)]);
        let out =
            aggregate(1, 99, &[c("a", "n1", "web", 10.0), c("b", "n2", "web", 30.0), c("c", "n1", "db", 5.0)], &nodes);
        let find = |scope: &str, key: &str| out.iter().find(|s| s.scope == scope && s.key == key).unwrap().clone();
        assert_eq!(find("service", "web").cpu, 40.0);
        assert_eq!(find("node", "7").cpu, 15.0);
        assert_eq!(find("cluster", "").cpu, 45.0);
        assert_eq!(find("cluster", "").mem, 30.0);
        assert!(out.iter().all(|s| s.ts == 99 && s.cluster_id == 1));
        assert_eq!(out.len(), 3 + 2 + 2 + 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
