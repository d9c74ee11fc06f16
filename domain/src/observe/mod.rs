//! Observe: what the clusters do — the collector, metrics, logs, events and alerts, and how alerts
//! are sent (webhooks, mail).

pub mod alerts;
pub(crate) mod collector;
pub(crate) mod evaluate;
pub mod logs;
pub mod mail;
pub mod metrics;
pub(crate) mod webhook;
