//! Clusters: swarms that Berth creates and operates — names, zones, quotas, the installation id and
//! the ownership labels of everything Berth makes, reading, renaming and deleting clusters. How a
//! cluster's nodes are made is its provider's (`providers/`).

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::node::Node;
use crate::clusters::providers::{provider, Provider};
use crate::error::{Error, Result};
use crate::runtime::job::{Interrupted, Job, JobSpec, Prepared, Recovery};
use crate::Berth;

pub use crate::store::{Cluster, NewCluster};

/// Most nodes one creation may ask for.
pub const MAX_NODES: u32 = 20;

/// A cluster with its node counts, for lists.
#[derive(Clone, Debug)]
pub struct ClusterSummary {
    pub cluster: Cluster,
    pub nodes: Vec<Node>,
}

/// Installation-wide limits, admin-settable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    pub max_clusters: i64,
    pub max_nodes_per_cluster: i64,
}

impl Default for Quotas {
    /// The seed's defaults.
    fn default() -> Self {
        Quotas { max_clusters: 5, max_nodes_per_cluster: 20 }
    }
}

/// A lower-case name of 1–40 characters `a-z 0-9 -`, starting with a letter.
pub fn validate_name(field: &str, raw: &str, max: usize) -> Result<String> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if name.chars().count() > max {
        return Err(Error::invalid(field, format!("must be at most {max} characters")));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(Error::invalid(field, "must start with a letter"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(Error::invalid(field, format!("may not contain {bad:?}; use a-z, 0-9 and '-'")));
    }
    if name.ends_with('-') {
        return Err(Error::invalid(field, "may not end with '-'"));
    }
    Ok(name)
}

/// Zones: 1–10 distinct names; none given means one zone, `default`.
pub fn validate_zones(zones: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for zone in zones.iter().map(|z| z.trim()).filter(|z| !z.is_empty()) {
        let zone = validate_name("zones", zone, 32)?;
        if out.contains(&zone) {
            return Err(Error::invalid("zones", format!("{zone} is listed twice")));
        }
        out.push(zone);
    }
    if out.len() > 10 {
        return Err(Error::invalid("zones", "at most 10 zones"));
    }
    if out.is_empty() {
        out.push("default".into());
    }
    Ok(out)
}

/// Zone for each of `count` new nodes: each goes to the zone with the fewest nodes so far (ties in
/// the order zones were given), so nodes spread evenly.
pub fn spread_over_zones(zones: &[String], existing: &[String], count: usize) -> Vec<String> {
    let mut load: Vec<(&String, usize)> =
        zones.iter().map(|z| (z, existing.iter().filter(|e| *e == z).count())).collect();
    (0..count)
        .map(|_| match load.iter_mut().min_by_key(|(_, n)| *n) {
            Some((zone, n)) => {
                *n += 1;
                zone.to_string()
            }
            None => "default".into(),
        })
        .collect()
}

/// Names for `count` new nodes: `n<k>` with `k` above every number in use.
pub fn next_node_names(existing: &[String], count: usize) -> Vec<String> {
    let highest = existing.iter().filter_map(|n| n.strip_prefix('n')?.parse::<usize>().ok()).max().unwrap_or(0);
    (1..=count).map(|i| format!("n{}", highest + i)).collect()
}

/// Labels on everything Berth creates for a cluster; teardown and recovery find things by them. The
/// installation id keeps two Berths on one engine (or the test suite) out of each other's way.
pub(crate) fn ownership(installation: &str, cluster_id: i64) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("berth.managed".to_string(), "true".to_string()),
        ("berth.installation".to_string(), installation.to_string()),
        ("berth.cluster".to_string(), cluster_id.to_string()),
    ])
}

/// The label filter that finds what Berth made for one cluster of this installation.
pub(crate) fn owned_by(installation: &str, cluster_id: i64) -> Vec<String> {
    vec![format!("berth.installation={installation}"), format!("berth.cluster={cluster_id}")]
}

/// The setting that keeps the installation id (read by the test support for a Berth in another process).
pub(crate) const INSTALLATION: &str = "installation_id";
const QUOTA_CLUSTERS: &str = "max_clusters";
const QUOTA_NODES: &str = "max_nodes_per_cluster";

impl Berth {
    /// This installation's id: 8 hex characters chosen at first use and kept in the database. It
    /// names and labels what Berth creates on a shared engine.
    pub async fn installation(&self) -> Result<String> {
        self.installation
            .get_or_try_init(|| async {
                if let Some(id) = self.store.setting(INSTALLATION).await? {
                    return Ok(id);
                }
                let id = crate::secret::random_token()?[..8].to_string();
                self.store.setting_insert_new(INSTALLATION, &id).await?;
                // Another replica may have won the race: use what is stored.
                Ok(self.store.setting(INSTALLATION).await?.unwrap_or(id))
            })
            .await
            .cloned()
    }

    /// The quotas, for someone allowed to see clusters.
    pub async fn quotas_for(&self, actor: &Actor) -> Result<Quotas> {
        authorize(actor, Permission::ClusterList)?;
        self.quotas().await
    }

    pub(crate) async fn quotas(&self) -> Result<Quotas> {
        let read = |key| async move { self.store.setting(key).await.map(|v| v.and_then(|v| v.parse::<i64>().ok())) };
        let defaults = Quotas::default();
        Ok(Quotas {
            max_clusters: read(QUOTA_CLUSTERS).await?.unwrap_or(defaults.max_clusters),
            max_nodes_per_cluster: read(QUOTA_NODES).await?.unwrap_or(defaults.max_nodes_per_cluster),
        })
    }

    pub async fn set_quotas(&self, actor: &Actor, quotas: Quotas) -> Result<Quotas> {
        let op = Op {
            action: "quota.update",
            permission: Permission::QuotaManage,
            target: "installation".into(),
            params: json!({ "max_clusters": quotas.max_clusters, "max_nodes_per_cluster": quotas.max_nodes_per_cluster }),
        };
        self.mutate(actor, op, |_| async {
            if !(0..=1000).contains(&quotas.max_clusters) {
                return Err(Error::invalid("max_clusters", "must be between 0 and 1000"));
            }
            if !(1..=1000).contains(&quotas.max_nodes_per_cluster) {
                return Err(Error::invalid("max_nodes_per_cluster", "must be between 1 and 1000"));
            }
            self.store.setting_put(QUOTA_CLUSTERS, &quotas.max_clusters.to_string()).await?;
            self.store.setting_put(QUOTA_NODES, &quotas.max_nodes_per_cluster.to_string()).await?;
            Ok(quotas)
        })
        .await
    }

    /// The clusters the actor may see, with their nodes.
    pub async fn clusters(&self, actor: &Actor) -> Result<Vec<ClusterSummary>> {
        authorize(actor, Permission::ClusterList)?;
        let mut out = Vec::new();
        for cluster in self.store.clusters().await? {
            if authorize(actor, Permission::ClusterRead(cluster.id)).is_ok() {
                let nodes = self.store.nodes(cluster.id).await?;
                let manages = authorize(actor, Permission::ClusterManage(cluster.id)).is_ok();
                out.push(self.shown(ClusterSummary { cluster, nodes }, manages));
            }
        }
        Ok(out)
    }

    /// One cluster and its nodes.
    pub async fn cluster(&self, actor: &Actor, id: i64) -> Result<ClusterSummary> {
        self.authorize_read(actor, Permission::ClusterRead(id), "cluster.read", id.to_string()).await?;
        let summary = self.cluster_summary(id).await?.ok_or_else(|| Error::NotFound(format!("cluster {id}")))?;
        Ok(self.shown(summary, authorize(actor, Permission::ClusterManage(id)).is_ok()))
    }

    /// A summary as someone who does not manage the cluster sees it (viewers, operators, shared
    /// links): the paths of Berth's own files (local nodes' sockets under the data directory, in
    /// endpoints and in engine messages) are left out.
    pub(crate) fn shown(&self, mut summary: ClusterSummary, manages: bool) -> ClusterSummary {
        if manages {
            return summary;
        }
        summary.cluster.message = self.hide_paths(&summary.cluster.message);
        for n in &mut summary.nodes {
            self.hide_node_paths(n);
        }
        summary
    }

    /// `text` without the path of Berth's data directory.
    pub(crate) fn hide_paths(&self, text: &str) -> String {
        let data = self.config.data_dir.to_string_lossy();
        if data.len() > 1 {
            text.replace(&*data, "…")
        } else {
            text.to_string()
        }
    }

    /// A node as people who do not manage its cluster see it (no socket paths).
    pub(crate) fn hide_node_paths(&self, n: &mut crate::clusters::node::Node) {
        if n.endpoint.starts_with("unix://") {
            n.endpoint = "unix socket on the Berth host".into();
        }
        n.message = self.hide_paths(&n.message);
    }

    /// The provider of cluster `id`.
    pub(crate) async fn provider_of(&self, id: i64) -> Result<&'static dyn Provider> {
        let cluster = self.store.cluster(id).await?.ok_or_else(|| Error::NotFound(format!("cluster {id}")))?;
        provider(&cluster.provider)
    }

    /// A cluster and its nodes, unauthorized: for callers that have decided access themselves.
    pub(crate) async fn cluster_summary(&self, id: i64) -> Result<Option<ClusterSummary>> {
        let Some(cluster) = self.store.cluster(id).await? else { return Ok(None) };
        let nodes = self.store.nodes(id).await?;
        Ok(Some(ClusterSummary { cluster, nodes }))
    }

    pub async fn rename_cluster(&self, actor: &Actor, id: i64, name: &str) -> Result<()> {
        let op = Op {
            action: "cluster.rename",
            permission: Permission::ClusterManage(id),
            target: id.to_string(),
            params: json!({ "name": name }),
        };
        self.mutate(actor, op, |_| async {
            let name = validate_name("name", name, 40)?;
            self.store.cluster(id).await?.ok_or_else(|| Error::NotFound(format!("cluster {id}")))?;
            if !self.store.cluster_rename(id, &name, now_ms()).await? {
                return Err(Error::invalid("name", format!("a cluster named {name} exists already")));
            }
            Ok(())
        })
        .await
    }

    /// Deletes a cluster: a local cluster's node containers, volumes, network and files go; hosts leave
    /// the swarm. Returns the job id.
    pub async fn delete_cluster(&self, actor: &Actor, id: i64) -> Result<i64> {
        let op = Op {
            action: "cluster.delete",
            permission: Permission::ClusterDelete(id),
            target: id.to_string(),
            params: json!({}),
        };
        // The steps are the provider's, known once the cluster is found.
        let spec = JobSpec { op, kind: "cluster.delete", steps: &[] };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let cluster = this.store.cluster(id).await?.ok_or_else(|| Error::NotFound(format!("cluster {id}")))?;
                let provider = provider(&cluster.provider)?;
                let claim = this.claim(id).await?;
                this.store.cluster_set_status(id, "deleting", "", now_ms()).await?;
                Ok(Prepared {
                    cluster_id: Some(id),
                    target: cluster.name.clone(),
                    claim: Some(claim),
                    input: (provider, cluster),
                    steps: Some(provider.delete_steps()),
                })
            },
            |berth, ctx, (provider, cluster)| async move { provider.tear_down(&berth, &ctx, &cluster).await },
        )
        .await
    }
}

/// What interrupted jobs on clusters and nodes leave (see [`Recovery`]): a cluster half created
/// or half deleted is removed (what is on the engines by its provider, then its row); a node that
/// was joining is undone, one that was being removed is left for the reconciler to say.
pub(crate) struct ClusterRecovery;

/// Whether a job is on a cluster or its nodes (`cluster.create`, `node.add`, …).
fn cluster_job(job: &Job) -> bool {
    job.kind.starts_with("cluster.") || job.kind.starts_with("node.")
}

impl Recovery for ClusterRecovery {
    fn recover<'a>(&'a self, berth: &'a Berth, interrupted: &'a Interrupted) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for cluster in berth.store.clusters().await? {
                if !interrupted.any(|j| cluster_job(j) && j.cluster_id == Some(cluster.id)) {
                    continue;
                }
                match cluster.status.as_str() {
                    // Half created or half deleted: finish removing it.
                    "creating" | "deleting" => {
                        provider(&cluster.provider)?.clean_up(berth, &cluster).await?;
                        berth.stop_reconciler(cluster.id);
                        berth.store.cluster_delete(cluster.id).await?;
                    }
                    _ => {
                        for node in berth.store.nodes(cluster.id).await? {
                            match node.state.as_str() {
                                "pending" => berth.undo_pending_node(provider(&cluster.provider)?, &node).await?,
                                "removing" => berth.store.node_set_state(node.id, "unknown", "").await?,
                                _ => {}
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("prod", Ok("prod")),
            (" Prod-EU-1 ", Ok("prod-eu-1")),
            ("", Err("is required")),
            ("1st", Err("must start with a letter")),
            ("a_b", Err("may not contain '_'")),
            ("edge-", Err("may not end with '-'")),
        ];
        for (raw, want) in cases {
            match (validate_name("name", raw, 40), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want),
                (Err(Error::Invalid { field, message }), Err(want)) => {
                    assert_eq!(field, "name");
                    assert!(message.contains(want), "{raw:?}: {message}");
                }
                (got, want) => panic!("{raw:?}: {got:?} vs {want:?}"),
            }
        }
        assert!(validate_name("name", &"a".repeat(41), 40).is_err());
    }

    #[test]
    fn nodes_spread_over_zones() {
        let zones = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(spread_over_zones(&zones, &[], 5), ["a", "b", "c", "a", "b"]);
        let existing = vec!["a".to_string(), "a".to_string(), "b".to_string()];
        assert_eq!(spread_over_zones(&zones, &existing, 3), ["c", "b", "c"]);
        assert_eq!(spread_over_zones(&["z".to_string()], &[], 2), ["z", "z"]);
    }

    #[test]
    fn node_names_continue() {
        assert_eq!(next_node_names(&[], 3), ["n1", "n2", "n3"]);
        let existing = vec!["n1".to_string(), "n4".to_string(), "edge".to_string()];
        assert_eq!(next_node_names(&existing, 2), ["n5", "n6"]);
    }
}
