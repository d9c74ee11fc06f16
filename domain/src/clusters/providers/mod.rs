//! Cluster providers: one file per way of making a cluster's nodes.

pub mod hosts;
pub mod local;
