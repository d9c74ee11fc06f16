//! berth-router: the reverse proxy Berth runs as a global service on a cluster's edge nodes.
//!
//! `table` is the route table Berth computes and pushes and `api` what routers answer (no I/O;
//! all Berth's domain uses). With
//! the `proxy` feature (on by default) the crate is also the router: `proxy` handles requests,
//! `live` is the compiled table swapped atomically, `pick` chooses backends, `health` ejects and
//! probes them, `metrics` counts requests, `tls` picks certificates by SNI, `l4` forwards TCP ports,
//! `serve` runs the client listeners and `admin` the mutual-TLS port Berth pushes tables to.
//!
//! Nothing here knows Berth's domain, store or UI: the router is given whole tables and serves them.

pub mod api;
pub mod table;

#[cfg(feature = "proxy")]
pub mod admin;
#[cfg(feature = "proxy")]
pub mod health;
#[cfg(feature = "proxy")]
pub mod l4;
#[cfg(feature = "proxy")]
pub mod live;
#[cfg(feature = "proxy")]
pub mod metrics;
#[cfg(feature = "proxy")]
pub mod pick;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "proxy")]
pub mod serve;
#[cfg(feature = "proxy")]
pub mod tls;

pub use api::{MetricsSnapshot, Status};
#[cfg(feature = "proxy")]
pub use proxy::{ApplyError, Options, Router};
pub use table::RouteTable;
