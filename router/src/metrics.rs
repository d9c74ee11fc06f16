//! Request metrics per route and side: requests, status classes and a latency histogram (to the
//! response head). Counters are atomics a request bumps without locking; Berth reads them whole
//! from `/v1/metrics` and turns the differences between reads into rates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::api::{MetricsSnapshot, SideSnapshot};

pub use crate::api::BUCKETS_MS;

#[derive(Default)]
pub struct SideMetrics {
    requests: AtomicU64,
    status: [AtomicU64; 5],
    /// Requests the router answered itself because no backend of the side could take them.
    failed: AtomicU64,
    latency: [AtomicU64; BUCKETS_MS.len() + 1],
    latency_us_sum: AtomicU64,
}

impl SideMetrics {
    pub fn record(&self, status: u16, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.status[class].fetch_add(1, Ordering::Relaxed);
        let ms = took.as_millis() as u64;
        let bucket = BUCKETS_MS.iter().position(|&b| ms < b).unwrap_or(BUCKETS_MS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_us_sum.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn record_failure(&self, took: Duration) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.record(502, took);
    }
}

#[derive(Default)]
pub struct Metrics {
    sides: Mutex<HashMap<(String, String), Arc<SideMetrics>>>,
    /// Requests refused before routing (malformed) and requests for no route.
    pub refused: AtomicU64,
    pub unrouted: AtomicU64,
}

impl Metrics {
    /// The counters of a route's side, shared by every table that names it (they survive swaps).
    pub fn side(&self, route: &str, side: &str) -> Arc<SideMetrics> {
        let mut sides = self.sides.lock().unwrap_or_else(|e| e.into_inner());
        sides.entry((route.to_owned(), side.to_owned())).or_default().clone()
    }

    /// Drops the counters no live table holds any more.
    pub fn prune(&self) {
        self.sides.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, m| Arc::strong_count(m) > 1);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sides = self.sides.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<SideSnapshot> = sides
            .iter()
            .map(|((route, side), m)| SideSnapshot {
                route: route.clone(),
                side: side.clone(),
                requests: load(&m.requests),
                status: std::array::from_fn(|i| load(&m.status[i])),
                failed: load(&m.failed),
                latency: m.latency.iter().map(load).collect(),
                latency_us_sum: load(&m.latency_us_sum),
            })
            .collect();
        out.sort_by(|a, b| (&a.route, &a.side).cmp(&(&b.route, &b.side)));
        MetricsSnapshot {
            buckets_ms: BUCKETS_MS.to_vec(),
            refused: load(&self.refused),
            unrouted: load(&self.unrouted),
            sides: out,
        }
    }
}
