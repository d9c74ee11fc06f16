//! Clusters: the swarms Berth creates and operates — clusters (`cluster.rs`: names, zones, quotas,
//! the installation id, ownership labels, delete), their nodes (`node.rs`), forming and joining a
//! swarm (`swarm.rs`), the reconciler and what follows it (`reconcile.rs`), the installation's CA
//! for hosts (`pki.rs`), and the providers that make a cluster's nodes (`providers/`, one file each,
//! behind the `Provider` trait).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/` and the root files. Must not import another
//! product folder: `apps/`, `observe/` and `access/` build on clusters. What follows a cluster's
//! loop (observe's collection, apps' health) is registered through `reconcile::Follower`, and the
//! jobs' recovery reaches clusters through `runtime::job::Recovery`, both from lib.rs.

pub mod cluster;
pub mod node;
pub mod pki;
pub mod providers;
pub(crate) mod reconcile;
pub(crate) mod swarm;
