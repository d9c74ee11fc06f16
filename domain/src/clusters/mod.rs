//! Clusters: the swarms Berth creates and operates, their nodes, the reconciler that keeps the
//! store true to them, the installation's CA for hosts, and the providers that make clusters.

pub mod cluster;
pub mod node;
pub mod pki;
pub mod providers;
pub(crate) mod reconcile;
pub(crate) mod swarm;
