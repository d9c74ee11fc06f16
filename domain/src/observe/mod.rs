//! Observe: what the clusters do — the collector (`collector.rs`: metrics, logs, events through
//! bounded queues and batching writers), metrics and their series (`metrics.rs`), collected logs
//! (`logs.rs`), events and alert rules (`alerts.rs`), their evaluation after each collection
//! (`evaluate.rs`), and how alerts are sent (`webhook.rs`, `mail.rs`).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/`, the root files, and `clusters/` (the
//! collector reads a cluster's nodes and their engines) and `apps/` (an alert rule's subjects are
//! the services of the cluster's apps). Must not import `access/`.

pub mod alerts;
pub(crate) mod collector;
pub(crate) mod evaluate;
pub mod logs;
pub mod mail;
pub mod metrics;
pub(crate) mod webhook;
