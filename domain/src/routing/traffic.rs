//! Request metrics from the routers: every `traffic_every` (5 s by default), in the routing loop and
//! under the cluster's lease, Berth reads `/v1/metrics` from every router of the cluster at once
//! (a second each), turns the difference from the same router's previous read into the interval's
//! counts, sums them per route and side over the routers, and writes one sample per route and side
//! (`store/traffic.rs`). Read back as chart series (`Berth::traffic`), the newest numbers per side
//! (`Berth::traffic_now`, a release panel's live req/s and 5xx %) and one side's window
//! (`Berth::side_window`, what a progressive release decides on).
//!
//! The arithmetic is pure (`delta`, `merge`, `interval`, `quantile`, `samples`) and tested below:
//! - A side whose counters went backwards since the last read (the router restarted, or dropped the
//!   side's counters when no table named it and made them again) contributes nothing to that
//!   interval; its next read is the new baseline. A side a router did not have at the previous read
//!   was made since, so all of its counts fall into the interval.
//! - A router that does not answer loses its previous read, so its next answer is only a baseline:
//!   every delta summed into a sample then spans about one interval.
//! - An interval without requests on a side some router still counts is written as a sample with
//!   zero requests (and no latencies), so charts show 0 req/s; a gap means no router answered.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use router::api::{MetricsSnapshot, SideSnapshot, BUCKETS_MS};
use serde::{Deserialize, Serialize};

use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::TrafficSample;
use crate::Berth;

/// How long one router may take to answer `/v1/metrics`.
const ASK: Duration = Duration::from_secs(1);

/// About this many points per chart.
const POINTS: i64 = 360;

/// The longest range a chart may ask for (what is kept is shorter: `metrics_raw_retention`).
const MAX_RANGE: i64 = 7 * 24 * 3_600_000;

/// One side's counts over one interval, from one router or summed over several.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub requests: u64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub status: [u64; 5],
    /// Requests the router answered itself (502) because no backend could take them.
    pub failed: u64,
    /// Upper bounds of the latency buckets (ms), as the router reported them.
    pub bounds: Vec<u64>,
    /// Counts per bucket of `bounds`, and one more for everything above the last.
    pub latency: Vec<u64>,
}

/// A side's interval summed over the routers: counts, and rates summed from each router's own
/// interval (reads of different routers are a few milliseconds apart).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Sum {
    pub counts: Counts,
    pub rps: f64,
    pub failed_ps: f64,
    /// The longest interval of the routers summed.
    pub interval_ms: i64,
}

/// What one side did between two reads of one router, or None when any counter went backwards
/// (the counters started again) or the histogram changed its shape.
pub(crate) fn delta(bounds: &[u64], prev: Option<&SideSnapshot>, now: &SideSnapshot) -> Option<Counts> {
    if now.latency.len() != bounds.len() + 1 {
        return None;
    }
    let zero = SideSnapshot {
        route: now.route.clone(),
        side: now.side.clone(),
        requests: 0,
        status: [0; 5],
        failed: 0,
        latency: vec![0; now.latency.len()],
        latency_us_sum: 0,
    };
    let prev = prev.unwrap_or(&zero);
    if prev.latency.len() != now.latency.len() {
        return None;
    }
    let pairs = [(prev.requests, now.requests), (prev.failed, now.failed), (prev.latency_us_sum, now.latency_us_sum)]
        .into_iter()
        .chain(prev.status.iter().copied().zip(now.status.iter().copied()))
        .chain(prev.latency.iter().copied().zip(now.latency.iter().copied()));
    let mut went_back = false;
    for (before, after) in pairs {
        went_back |= after < before;
    }
    if went_back {
        return None;
    }
    Some(Counts {
        requests: now.requests - prev.requests,
        status: std::array::from_fn(|i| now.status[i] - prev.status[i]),
        failed: now.failed - prev.failed,
        bounds: bounds.to_vec(),
        latency: now.latency.iter().zip(&prev.latency).map(|(a, b)| a - b).collect(),
    })
}

/// Adds `other` into `into`. A histogram of other bounds than the sum's (routers of two versions)
/// is left out of the latencies; its requests and statuses still count.
pub(crate) fn merge(into: &mut Counts, other: &Counts) {
    into.requests += other.requests;
    for (a, b) in into.status.iter_mut().zip(other.status) {
        *a += b;
    }
    into.failed += other.failed;
    if into.bounds.is_empty() && into.latency.iter().all(|&c| c == 0) {
        into.bounds.clone_from(&other.bounds);
        into.latency.clone_from(&other.latency);
    } else if into.bounds == other.bounds && into.latency.len() == other.latency.len() {
        for (a, b) in into.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
    }
}

/// The `q`-quantile (0 < q ≤ 1) of a latency histogram in ms, **interpolated inside its bucket**
/// as Prometheus's `histogram_quantile` does: the bucket holding the rank `q × total` is found,
/// and the answer lies between its lower bound (the bound before it, 0 for the first) and its
/// upper bound in proportion to the rank's place among that bucket's requests. A rank in the
/// last, open bucket (slower than the last bound) answers the last bound: a floor, since the
/// histogram knows nothing above it. None for an empty histogram.
pub fn quantile(bounds_ms: &[u64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() != bounds_ms.len() + 1 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (i, &count) in counts.iter().enumerate() {
        if count > 0 && (below + count) as f64 >= rank {
            let Some(&upper) = bounds_ms.get(i) else {
                return bounds_ms.last().map(|&b| b as f64);
            };
            let lower = if i == 0 { 0.0 } else { bounds_ms[i - 1] as f64 };
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some(lower + (upper as f64 - lower) * within);
        }
        below += count;
    }
    bounds_ms.last().map(|&b| b as f64)
}

/// One collection's interval per (route, side), summed over the routers: each element is a
/// router's seconds since its previous read, that read (None: this is its first, a baseline
/// only) and the current one.
pub(crate) fn interval(reads: &[(f64, Option<&MetricsSnapshot>, &MetricsSnapshot)]) -> BTreeMap<(String, String), Sum> {
    let mut out: BTreeMap<(String, String), Sum> = BTreeMap::new();
    for &(secs, prev, now) in reads {
        let Some(prev) = prev else { continue };
        if secs <= 0.0 {
            continue;
        }
        let before: HashMap<(&str, &str), &SideSnapshot> =
            prev.sides.iter().map(|s| ((s.route.as_str(), s.side.as_str()), s)).collect();
        for side in &now.sides {
            // Reads of routers of another histogram shape than the previous one start again.
            let prev_side = before.get(&(side.route.as_str(), side.side.as_str())).copied();
            if prev.buckets_ms != now.buckets_ms && prev_side.is_some() {
                continue;
            }
            let Some(counts) = delta(&now.buckets_ms, prev_side, side) else { continue };
            let sum = out.entry((side.route.clone(), side.side.clone())).or_default();
            sum.rps += counts.requests as f64 / secs;
            sum.failed_ps += counts.failed as f64 / secs;
            sum.interval_ms = sum.interval_ms.max((secs * 1000.0).round() as i64);
            merge(&mut sum.counts, &counts);
        }
    }
    out
}

/// The samples of one collection, stamped `ts`.
pub(crate) fn samples(cluster_id: i64, ts: i64, sums: BTreeMap<(String, String), Sum>) -> Vec<TrafficSample> {
    sums.into_iter()
        .map(|((route, side), s)| {
            let c = &s.counts;
            let share = |n: u64| if c.requests == 0 { 0.0 } else { 100.0 * n as f64 / c.requests as f64 };
            TrafficSample {
                cluster_id,
                ts,
                app: app_of(&route).to_string(),
                route,
                service: side,
                interval_ms: s.interval_ms,
                requests: c.requests as i64,
                status5xx: c.status[4] as i64,
                status4xx: c.status[3] as i64,
                failed: c.failed as i64,
                rps: s.rps,
                err5xx_pct: share(c.status[4]),
                err4xx_pct: share(c.status[3]),
                failed_ps: s.failed_ps,
                p50_ms: quantile(&c.bounds, &c.latency, 0.5),
                p99_ms: quantile(&c.bounds, &c.latency, 0.99),
                latency: c.latency.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
            }
        })
        .collect()
}

/// The app of a route id (`app/service:port`).
fn app_of(route: &str) -> &str {
    route.split_once('/').map_or(route, |(app, _)| app)
}

/// What collection keeps between passes, per process.
#[derive(Default)]
pub(crate) struct TrafficMemory {
    /// Per cluster: when its last collection started.
    last: HashMap<i64, Instant>,
    /// Per cluster and router (node, address): its last read and when.
    reads: HashMap<(i64, String, String), (Instant, MetricsSnapshot)>,
}

impl TrafficMemory {
    /// Forgets a cluster (another replica collects it now: its reads here would span a gap).
    pub(crate) fn forget(&mut self, cluster_id: i64) {
        self.last.remove(&cluster_id);
        self.reads.retain(|(c, _, _), _| *c != cluster_id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One point of a side's chart: rates averaged over the step, shares of the step's requests, p50
/// averaged over the intervals with requests, the step's highest p99 (latencies None without
/// requests).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficPoint {
    pub ts: i64,
    pub requests: i64,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub err4xx_pct: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One route's side over a range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSeries {
    /// `app/service:port`.
    pub route: String,
    pub app: String,
    /// The service the route's requests went to.
    pub side: String,
    /// Milliseconds each point covers.
    pub step: i64,
    pub points: Vec<TrafficPoint>,
}

/// A side's numbers from the newest collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SideNow {
    pub route: String,
    pub app: String,
    pub side: String,
    /// When the interval ended, and how long it was (ms).
    pub ts: i64,
    pub interval_ms: i64,
    pub requests: i64,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub err4xx_pct: f64,
    pub failed_ps: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One side over a window of collections, for a release to decide on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The span the samples cover (Unix ms): the first interval's start to the last one's end.
    pub from: i64,
    pub to: i64,
    /// How many collections it sums.
    pub samples: usize,
    pub requests: u64,
    pub status5xx: u64,
    /// 5xx as a share of the window's requests (0 without requests).
    pub err5xx_pct: f64,
    /// From the window's merged latency histograms (interpolated as [`quantile`]); None without
    /// requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Berth {
    /// Every route's sides of a cluster (or of one app) between `from` and `to` (Unix ms), each as
    /// a series of about 360 points: everyone who sees the cluster.
    pub async fn traffic(
        &self,
        actor: &Actor,
        cluster_id: i64,
        app: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<TrafficSeries>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "traffic.read", cluster_id.to_string()).await?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        if to <= from || to - from > MAX_RANGE {
            return Err(Error::invalid("range", "must end after it starts and span at most seven days"));
        }
        let step = self.traffic_step(from, to);
        let rows = self.store.traffic_series(cluster_id, app.filter(|a| !a.is_empty()), from, to, step).await?;
        let mut out: Vec<TrafficSeries> = Vec::new();
        for r in rows {
            let point = TrafficPoint {
                ts: r.ts,
                requests: r.requests,
                rps: r.rps,
                err5xx_pct: r.err5xx_pct,
                err4xx_pct: r.err4xx_pct,
                p50_ms: r.p50_ms,
                p99_ms: r.p99_ms,
            };
            match out.last_mut() {
                Some(s) if s.route == r.route && s.side == r.service => s.points.push(point),
                _ => out.push(TrafficSeries { route: r.route, app: r.app, side: r.service, step, points: vec![point] }),
            }
        }
        Ok(out)
    }

    /// The milliseconds each point of a chart from `from` to `to` covers: about 360 points, none
    /// shorter than a collection interval.
    pub fn traffic_step(&self, from: i64, to: i64) -> i64 {
        let every = self.config.traffic_every.as_millis() as i64;
        ((to - from) / POINTS).max(every).max(1000)
    }

    /// The newest numbers of every side of a cluster (or of one app): everyone who sees the cluster.
    pub async fn traffic_now(&self, actor: &Actor, cluster_id: i64, app: Option<&str>) -> Result<Vec<SideNow>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "traffic.read", cluster_id.to_string()).await?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        self.sides_now(cluster_id, app).await
    }

    /// The newest collection's numbers per side (one indexed read), unless it is older than three
    /// collection intervals (then nothing: the numbers would not be current). Not authorized: for
    /// callers that already are.
    pub(crate) async fn sides_now(&self, cluster_id: i64, app: Option<&str>) -> Result<Vec<SideNow>> {
        let fresh_since = now_ms() - 3 * self.config.traffic_every.as_millis() as i64;
        Ok(self
            .store
            .traffic_latest(cluster_id, app.filter(|a| !a.is_empty()))
            .await?
            .into_iter()
            .filter(|s| s.ts >= fresh_since)
            .map(|s| SideNow {
                route: s.route,
                app: s.app,
                side: s.service,
                ts: s.ts,
                interval_ms: s.interval_ms,
                requests: s.requests,
                rps: s.rps,
                err5xx_pct: s.err5xx_pct,
                err4xx_pct: s.err4xx_pct,
                failed_ps: s.failed_ps,
                p50_ms: s.p50_ms,
                p99_ms: s.p99_ms,
            })
            .collect())
    }

    /// One side's requests, 5xx and latency over the collections that ended after `since_ms`: of
    /// one route (`app/service:port`) or of every route of an app (`app`). None when no collection
    /// in the window has the side (no router answered, or it was not routed); Some with zero
    /// requests when it was routed and idle. Not authorized: for the release logic.
    pub(crate) async fn side_window(
        &self,
        cluster_id: i64,
        route_or_app: &str,
        side: &str,
        since_ms: i64,
    ) -> Result<Option<Window>> {
        let rows = self.store.traffic_window(cluster_id, route_or_app, side, since_ms).await?;
        Ok(window(&rows))
    }

    /// Whether a cluster's traffic is due for collection; if so, its interval starts now.
    pub(crate) fn traffic_due(&self, cluster_id: i64) -> bool {
        let mut memory = lock(&self.routing.traffic);
        let due = memory.last.get(&cluster_id).is_none_or(|at| at.elapsed() >= self.config.traffic_every);
        if due {
            memory.last.insert(cluster_id, Instant::now());
        }
        due
    }

    /// One collection: every router of the cluster asked at once, the deltas summed and written.
    pub(crate) async fn collect_traffic(&self, cluster_id: i64) -> Result<usize> {
        let routers = self.store.routers(cluster_id).await?;
        if routers.is_empty() {
            lock(&self.routing.traffic).reads.retain(|(c, _, _), _| *c != cluster_id);
            return Ok(0);
        }
        let asked = futures::future::join_all(routers.iter().map(|r| async move {
            let answer = match tokio::time::timeout(ASK, self.router_metrics(&r.address)).await {
                Ok(Ok(metrics)) => Some(metrics),
                _ => None,
            };
            (r, Instant::now(), answer)
        }))
        .await;
        let sums = {
            let mut memory = lock(&self.routing.traffic);
            let mut previous = Vec::new();
            for (r, at, answer) in &asked {
                let key = (cluster_id, r.node.clone(), r.address.clone());
                let prev = memory.reads.remove(&key);
                if let Some(now) = answer {
                    previous.push((prev, *at, now));
                }
            }
            let reads: Vec<(f64, Option<&MetricsSnapshot>, &MetricsSnapshot)> = previous
                .iter()
                .map(|(prev, at, now)| match prev {
                    Some((then, snapshot)) => (at.duration_since(*then).as_secs_f64(), Some(snapshot), *now),
                    None => (0.0, None, *now),
                })
                .collect();
            let sums = interval(&reads);
            // Keep this read of every router that answered; routers gone from the list are forgotten.
            memory.reads.retain(|(c, _, _), _| *c != cluster_id);
            for (r, at, answer) in asked {
                if let Some(now) = answer {
                    memory.reads.insert((cluster_id, r.node.clone(), r.address.clone()), (at, now));
                }
            }
            sums
        };
        let samples = samples(cluster_id, now_ms(), sums);
        self.store.traffic_insert(&samples).await?;
        Ok(samples.len())
    }
}

/// A window's sums from its samples; the p99 from the merged histograms, or the highest p99 of
/// the samples when some histogram cannot be read (written by a router of other buckets).
fn window(rows: &[TrafficSample]) -> Option<Window> {
    let first = rows.first()?;
    let last = rows.last()?;
    let bounds = BUCKETS_MS.to_vec();
    let mut merged = Counts { bounds: bounds.clone(), latency: vec![0; bounds.len() + 1], ..Counts::default() };
    let or_max = |q: Option<f64>, other: Option<f64>| match (q, other) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut unreadable_p99: Option<f64> = None;
    let mut unreadable_p50: Option<f64> = None;
    for r in rows {
        let latency: Option<Vec<u64>> = r.latency.split(',').map(|c| c.parse().ok()).collect();
        let counts = Counts {
            requests: r.requests.max(0) as u64,
            status: [0, 0, 0, r.status4xx.max(0) as u64, r.status5xx.max(0) as u64],
            failed: r.failed.max(0) as u64,
            bounds: bounds.clone(),
            latency: latency.filter(|l| l.len() == bounds.len() + 1).unwrap_or_default(),
        };
        if counts.latency.is_empty() && r.requests > 0 {
            unreadable_p99 = or_max(unreadable_p99, r.p99_ms);
            unreadable_p50 = or_max(unreadable_p50, r.p50_ms);
        }
        let latency = if counts.latency.is_empty() { vec![0; bounds.len() + 1] } else { counts.latency.clone() };
        merge(&mut merged, &Counts { latency, ..counts });
    }
    let share = if merged.requests == 0 { 0.0 } else { 100.0 * merged.status[4] as f64 / merged.requests as f64 };
    Some(Window {
        from: first.ts - first.interval_ms,
        to: last.ts,
        samples: rows.iter().map(|r| r.ts).collect::<std::collections::BTreeSet<_>>().len(),
        requests: merged.requests,
        status5xx: merged.status[4],
        err5xx_pct: share,
        p50_ms: or_max(quantile(&bounds, &merged.latency, 0.5), unreadable_p50),
        p99_ms: or_max(quantile(&bounds, &merged.latency, 0.99), unreadable_p99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &[u64] = &BUCKETS_MS;
    /// The open bucket, slower than the last bound.
    const OPEN: usize = BUCKETS_MS.len();

    /// Equal to a millionth of a millisecond.
    fn close(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-6,
            (a, b) => a.is_none() && b.is_none(),
        }
    }

    fn side(route: &str, side: &str, requests: u64, s5xx: u64, latency_at: &[(usize, u64)]) -> SideSnapshot {
        let mut latency = vec![0; B.len() + 1];
        for &(bucket, n) in latency_at {
            latency[bucket] += n;
        }
        SideSnapshot {
            route: route.into(),
            side: side.into(),
            requests,
            status: [0, requests - s5xx, 0, 0, s5xx],
            failed: 0,
            latency,
            latency_us_sum: requests * 1000,
        }
    }

    fn snapshot(sides: Vec<SideSnapshot>) -> MetricsSnapshot {
        MetricsSnapshot { buckets_ms: B.to_vec(), refused: 0, unrouted: 0, sides }
    }

    #[test]
    fn traffic_quantiles_interpolate_inside_their_bucket() {
        let counts = |at: &[(usize, u64)]| {
            let mut c = vec![0; B.len() + 1];
            for &(i, n) in at {
                c[i] = n;
            }
            c
        };
        // (histogram, q, expected ms). Bucket 3 is [5, 10) ms, bucket 4 [10, 25), bucket 7 [100, 250).
        // (bucket, count) pairs of a histogram, the quantile, the answer.
        type Case = (&'static [(usize, u64)], f64, Option<f64>);
        let cases: &[Case] = &[
            (&[], 0.5, None),
            (&[(4, 10)], 0.5, Some(17.5)),
            (&[(4, 10)], 0.99, Some(24.85)),
            (&[(0, 50), (7, 50)], 0.5, Some(1.0)),
            (&[(0, 50), (7, 50)], 0.99, Some(247.0)),
            (&[(3, 1)], 0.5, Some(7.5)),
            (&[(3, 99), (9, 1)], 0.99, Some(10.0)),
            (&[(3, 98), (9, 2)], 0.99, Some(750.0)),
            // Slower than the last bound: the last bound, a floor.
            (&[(OPEN, 4)], 0.99, Some(30000.0)),
            (&[(0, 1), (OPEN, 4)], 0.5, Some(30000.0)),
        ];
        for (histogram, q, want) in cases {
            let got = quantile(B, &counts(histogram), *q);
            assert!(close(got, *want), "{histogram:?} q={q}: {got:?}, not {want:?}");
        }
        assert_eq!(quantile(B, &[1, 2], 0.5), None, "a histogram of another shape is not read");
    }

    #[test]
    fn traffic_deltas_skip_counters_that_went_backwards() {
        let before = side("shop/web:80", "web", 100, 5, &[(4, 100)]);
        let after = side("shop/web:80", "web", 130, 6, &[(4, 120), (5, 10)]);
        let d = delta(B, Some(&before), &after).unwrap();
        assert_eq!((d.requests, d.status[4], d.status[1]), (30, 1, 29));
        assert_eq!(d.latency[4..6], [20, 10]);
        // A restarted router counts from zero: that interval is skipped for the side.
        let restarted = side("shop/web:80", "web", 10, 0, &[(4, 10)]);
        assert_eq!(delta(B, Some(&before), &restarted), None);
        // One counter going back is enough, even when the requests went up.
        let mut odd = after.clone();
        odd.latency[4] = 50;
        assert_eq!(delta(B, Some(&before), &odd), None);
        // A side the router did not have before was made since: all of it is the interval's.
        assert_eq!(delta(B, None, &restarted).unwrap().requests, 10);
        // Another histogram shape is not compared.
        assert_eq!(delta(&B[..3], Some(&before), &after), None);
    }

    #[test]
    fn traffic_of_two_routers_is_summed_per_route_and_side() {
        let r1_then = snapshot(vec![side("shop/web:80", "web", 100, 0, &[(4, 100)])]);
        let r1_now = snapshot(vec![side("shop/web:80", "web", 150, 5, &[(4, 150)])]);
        let r2_then = snapshot(vec![side("shop/web:80", "web", 10, 0, &[(2, 10)])]);
        let r2_now = snapshot(vec![
            side("shop/web:80", "web", 60, 0, &[(2, 60)]),
            side("shop/web:80", "web-green", 20, 20, &[(9, 20)]),
        ]);
        // A third router's first read is only a baseline.
        let r3 = snapshot(vec![side("shop/web:80", "web", 1000, 0, &[(4, 1000)])]);
        let sums = interval(&[(5.0, Some(&r1_then), &r1_now), (5.0, Some(&r2_then), &r2_now), (0.0, None, &r3)]);
        let web = &sums[&("shop/web:80".to_string(), "web".to_string())];
        assert_eq!((web.counts.requests, web.counts.status[4]), (100, 5));
        assert_eq!(web.rps, 20.0);
        assert_eq!(web.interval_ms, 5000);
        assert_eq!(web.counts.latency[2], 50);
        assert_eq!(web.counts.latency[4], 50);
        let green = &sums[&("shop/web:80".to_string(), "web-green".to_string())];
        assert_eq!((green.counts.requests, green.rps), (20, 4.0));

        let out = samples(7, 1_000, sums);
        assert_eq!(out.len(), 2);
        let web = out.iter().find(|s| s.service == "web").unwrap();
        assert_eq!((web.cluster_id, web.ts, web.app.as_str(), web.route.as_str()), (7, 1_000, "shop", "shop/web:80"));
        assert_eq!((web.requests, web.status5xx, web.err5xx_pct, web.rps), (100, 5, 5.0, 20.0));
        // Half the requests in [2, 5) ms, half in [10, 25): the median is the first bucket's top.
        assert!(close(web.p50_ms, Some(5.0)), "{:?}", web.p50_ms);
        assert!(close(web.p99_ms, Some(10.0 + 15.0 * 0.98)), "{:?}", web.p99_ms);
        let green = out.iter().find(|s| s.service == "web-green").unwrap();
        assert_eq!(green.err5xx_pct, 100.0);
        assert!(close(green.p99_ms, Some(500.0 + 500.0 * 0.99)), "{:?}", green.p99_ms);
    }

    #[test]
    fn an_idle_interval_is_a_zero_request_sample_and_no_answer_is_none() {
        let then = snapshot(vec![side("shop/web:80", "web", 100, 0, &[(4, 100)])]);
        let out = samples(1, 5, interval(&[(5.0, Some(&then), &then)]));
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!((s.requests, s.rps, s.err5xx_pct), (0, 0.0, 0.0));
        assert_eq!((s.p50_ms, s.p99_ms), (None, None));
        // Only first reads (or restarted counters): nothing to write, a gap in the charts.
        assert!(samples(1, 5, interval(&[(0.0, None, &then)])).is_empty());
        let restarted = snapshot(vec![side("shop/web:80", "web", 3, 0, &[(4, 3)])]);
        assert!(samples(1, 5, interval(&[(5.0, Some(&then), &restarted)])).is_empty());
    }

    #[test]
    fn a_side_window_sums_its_collections_and_merges_their_histograms() {
        let sample = |ts: i64, requests: u64, s5xx: u64, at: &[(usize, u64)]| {
            let snap = snapshot(vec![side("shop/web:80", "web", requests, s5xx, at)]);
            let zero = snapshot(vec![side("shop/web:80", "web", 0, 0, &[])]);
            samples(1, ts, interval(&[(5.0, Some(&zero), &snap)])).remove(0)
        };
        assert_eq!(window(&[]), None);
        let rows = [sample(5_000, 90, 0, &[(4, 90)]), sample(10_000, 10, 10, &[(9, 10)]), sample(15_000, 0, 0, &[])];
        let w = window(&rows).unwrap();
        assert_eq!((w.from, w.to, w.samples), (0, 15_000, 3));
        assert_eq!((w.requests, w.status5xx, w.err5xx_pct), (100, 10, 10.0));
        // 90 requests in [10, 25) ms and 10 in [500, 1000): the p99 is in the slow bucket.
        assert!(close(w.p99_ms, Some(500.0 + 500.0 * 0.9)), "{:?}", w.p99_ms);
        assert!(close(w.p50_ms, Some(10.0 + 15.0 * 50.0 / 90.0)), "{:?}", w.p50_ms);
        // A window of idle collections: routed, no requests.
        let idle = window(&rows[2..]).unwrap();
        assert_eq!((idle.requests, idle.p99_ms), (0, None));
        // A histogram that does not read falls back to the sample's own p99.
        let mut odd = rows[1].clone();
        odd.latency = "1,2".into();
        assert_eq!(window(&[odd]).unwrap().p99_ms, rows[1].p99_ms);
    }
}
