//! What the admin port answers (`/v1/status`, `/v1/metrics`): the other half of the contract with
//! Berth beside `table`, so Berth reads routers with the `proxy` feature off. No I/O.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Upper bounds of the latency buckets, in milliseconds (the last bucket is everything above).
pub const BUCKETS_MS: [u64; 14] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/// What a router serves, as `/v1/status` answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub version: u64,
    pub uptime_s: u64,
    pub routes: Vec<RouteStatus>,
    pub tcp: Vec<TcpStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RouteStatus {
    pub id: String,
    pub host: String,
    pub path: String,
    pub sides: Vec<SideStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SideStatus {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<BackendStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BackendStatus {
    pub id: String,
    pub addr: SocketAddr,
    pub state: BackendState,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TcpStatus {
    pub id: String,
    pub port: u16,
    /// Why the port could not be opened, if it could not.
    pub error: Option<String>,
    pub backends: Vec<BackendStatus>,
}

/// One backend as the status shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendState {
    Up,
    Ejected,
    ProbeFailing,
    ProbePending,
}

/// What `/v1/metrics` answers for one side of one route.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SideSnapshot {
    pub route: String,
    pub side: String,
    pub requests: u64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub status: [u64; 5],
    pub failed: u64,
    /// Counts per bucket of `BUCKETS_MS` (one more for everything above the last bound).
    pub latency: Vec<u64>,
    pub latency_us_sum: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricsSnapshot {
    pub buckets_ms: Vec<u64>,
    pub refused: u64,
    pub unrouted: u64,
    pub sides: Vec<SideSnapshot>,
}
