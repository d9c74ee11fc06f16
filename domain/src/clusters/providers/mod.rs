//! Cluster providers: the ways Berth makes a cluster's nodes, one file each, behind one trait.
//!
//! A provider owns what differs between them: the input a person gives (and its validation), the
//! steps of creating a cluster, adding nodes, removing a node and deleting the cluster, what is
//! left to remove of a node that leaves, and what to clean up after a job that was creating or
//! deleting a cluster was interrupted. It has its own public entry points for creating a cluster and
//! adding nodes (their inputs differ: a number of node containers, a list of hosts); everything
//! else in `clusters/` reaches it through [`Provider`], found by the name a cluster row carries.
//!
//! Adding a provider is one new file here with a type implementing [`Provider`], and its line in
//! [`PROVIDERS`]. Nothing outside this folder names a provider's file (`domain/tests/tidy.rs`).
//!
//! May import: its own folder (`clusters/`), `runtime/`, `audit/`, `engine/`, `store/` and the root
//! files. Must not import the other product folders.

pub mod hosts;
pub mod local;

use futures::future::BoxFuture;

use crate::clusters::cluster::Cluster;
use crate::clusters::node::Node;
use crate::error::{Error, Internal, Result};
use crate::runtime::job::JobCtx;
use crate::Berth;

/// Every provider Berth knows. A new provider is its file and its line here.
pub(crate) const PROVIDERS: &[&dyn Provider] = &[&local::Local, &hosts::Hosts];

/// What one way of making clusters does differently. The futures borrow their arguments; the
/// trait is object-safe so that [`PROVIDERS`] can list providers side by side.
pub(crate) trait Provider: Sync {
    /// The name its clusters carry (`clusters.provider`).
    fn name(&self) -> &'static str;

    /// The steps of each job, as the console shows them.
    fn create_steps(&self) -> &'static [&'static str];
    fn add_steps(&self) -> &'static [&'static str];
    fn remove_steps(&self) -> &'static [&'static str];
    fn delete_steps(&self) -> &'static [&'static str];

    /// Whether each node's engine is the node itself (a container Berth runs): a node whose engine
    /// does not answer is down, whatever the managers have not noticed yet.
    fn engine_is_the_node(&self) -> bool;

    /// What is left of a node once it is out of the swarm (a node container and its files), removed
    /// when the node is removed or when it never finished joining.
    fn release_node<'a>(&'a self, berth: &'a Berth, node: &'a Node) -> BoxFuture<'a, Result<()>>;

    /// Deletes a cluster (the job behind `Berth::delete_cluster`), ending with its row.
    fn tear_down<'a>(&'a self, berth: &'a Berth, ctx: &'a JobCtx, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>>;

    /// After a start: removes from the engines what a job creating or deleting `cluster` left when it
    /// was interrupted (the row is forgotten by the caller).
    fn clean_up<'a>(&'a self, berth: &'a Berth, cluster: &'a Cluster) -> BoxFuture<'a, Result<()>>;
}

/// The provider a cluster row names.
pub(crate) fn provider(name: &str) -> Result<&'static dyn Provider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| Error::Internal(Internal::Other(format!("unknown cluster provider {name:?}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_have_distinct_names() {
        let mut names: Vec<&str> = PROVIDERS.iter().map(|p| p.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PROVIDERS.len());
        for name in names {
            assert_eq!(provider(name).map(|p| p.name()).ok(), Some(name));
        }
        assert!(provider("nope").is_err());
    }
}
