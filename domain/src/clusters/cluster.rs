//! Clusters: swarms that Berth creates and operates. The `local` provider runs each node as a
//! Docker-in-Docker container on the local engine (one click); `hosts` adds existing engines.

use std::collections::BTreeMap;

use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::node::Node;
use crate::engine::NodeRole;
use crate::error::{Checks, Error, Result};
use crate::runtime::job::{JobSpec, Prepared};
use crate::Berth;

pub use crate::store::{Cluster, NewCluster};

pub const LOCAL: &str = "local";
pub const HOSTS: &str = "hosts";

/// Most nodes one creation may ask for.
pub const MAX_NODES: u32 = 20;

/// A cluster with its node counts, for lists.
#[derive(Clone, Debug)]
pub struct ClusterSummary {
    pub cluster: Cluster,
    pub nodes: Vec<Node>,
}

/// A one-click cluster as a person asks for it.
#[derive(Clone, Debug)]
pub struct LocalClusterInput {
    pub name: String,
    pub nodes: u32,
    pub managers: u32,
    /// Zones the nodes are spread over, in turn.
    pub zones: Vec<String>,
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

impl LocalClusterInput {
    /// Checks every field, naming each that is wrong.
    pub fn validate(&self) -> Result<LocalClusterInput> {
        let mut checks = Checks::default();
        let name = checks.field(validate_name("name", &self.name, 40));
        let nodes_ok = (1..=MAX_NODES).contains(&self.nodes);
        if !nodes_ok {
            checks.invalid("nodes", format!("must be between 1 and {MAX_NODES}"));
        }
        if !matches!(self.managers, 1 | 3) {
            checks.invalid("managers", "must be 1 or 3");
        } else if nodes_ok && self.managers > self.nodes {
            checks.invalid("managers", "cannot be more than the nodes");
        }
        let zones = checks.field(validate_zones(&self.zones));
        let (name, zones) = checks.done(name.zip(zones))?;
        Ok(LocalClusterInput { name, nodes: self.nodes, managers: self.managers, zones })
    }
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

const INSTALLATION: &str = "installation_id";
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

    /// A cluster and its nodes, unauthorized: for callers that have decided access themselves.
    pub(crate) async fn cluster_summary(&self, id: i64) -> Result<Option<ClusterSummary>> {
        let Some(cluster) = self.store.cluster(id).await? else { return Ok(None) };
        let nodes = self.store.nodes(id).await?;
        Ok(Some(ClusterSummary { cluster, nodes }))
    }

    /// Creates a `local` cluster in one click: validates, checks quotas, records the cluster and its
    /// nodes as `creating`, and starts the job that builds it. Returns the job id.
    pub async fn create_local_cluster(&self, actor: &Actor, input: &LocalClusterInput) -> Result<i64> {
        let op = Op {
            action: "cluster.create",
            permission: Permission::ClusterCreate,
            target: input.name.trim().to_lowercase(),
            params: json!({ "provider": LOCAL, "nodes": input.nodes, "managers": input.managers, "zones": input.zones }),
        };
        let spec = JobSpec { op, kind: "cluster.create", steps: crate::clusters::providers::local::CREATE_STEPS };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let input = input.validate()?;
                let quotas = this.quotas().await?;
                if this.store.cluster_count().await? >= quotas.max_clusters {
                    return Err(Error::Conflict(format!(
                        "the installation already has its quota of {} clusters",
                        quotas.max_clusters
                    )));
                }
                if input.nodes as i64 > quotas.max_nodes_per_cluster {
                    return Err(Error::invalid(
                        "nodes",
                        format!("the quota is {} nodes per cluster", quotas.max_nodes_per_cluster),
                    ));
                }
                if this.store.cluster_by_name(&input.name).await?.is_some() {
                    return Err(Error::invalid("name", format!("a cluster named {} exists already", input.name)));
                }
                let now = now_ms();
                let new = NewCluster {
                    name: input.name.clone(),
                    provider: LOCAL.into(),
                    status: "creating".into(),
                    zones: input.zones.clone(),
                };
                let id = match this.store.cluster_insert(&new, now).await {
                    Ok(id) => id,
                    // Two requests for one name at once: the unique index decides.
                    Err(_) if this.store.cluster_by_name(&input.name).await?.is_some() => {
                        return Err(Error::invalid("name", format!("a cluster named {} exists already", input.name)))
                    }
                    Err(e) => return Err(e),
                };
                let claim = this.claim(id).await?;
                let installation = this.installation().await?;
                let names = next_node_names(&[], input.nodes as usize);
                let zones = spread_over_zones(&input.zones, &[], names.len());
                for (i, (name, zone)) in names.iter().zip(zones).enumerate() {
                    let role = if (i as u32) < input.managers { NodeRole::Manager } else { NodeRole::Worker };
                    this.store
                        .node_insert(
                            &crate::clusters::providers::local::new_node(&this, &installation, id, name, role, &zone),
                            now,
                        )
                        .await?;
                }
                Ok(Prepared {
                    cluster_id: Some(id),
                    target: input.name.clone(),
                    claim: Some(claim),
                    input: id,
                    steps: None,
                })
            },
            |berth, ctx, id| async move { berth.build_local_cluster(&ctx, id).await },
        )
        .await
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
        let spec = JobSpec { op, kind: "cluster.delete", steps: crate::clusters::providers::local::DELETE_STEPS };
        let this = self.clone();
        self.launch(
            actor,
            spec,
            |_| async move {
                let cluster = this.store.cluster(id).await?.ok_or_else(|| Error::NotFound(format!("cluster {id}")))?;
                let claim = this.claim(id).await?;
                this.store.cluster_set_status(id, "deleting", "", now_ms()).await?;
                let steps = if cluster.provider == HOSTS {
                    crate::clusters::providers::hosts::DELETE_STEPS
                } else {
                    crate::clusters::providers::local::DELETE_STEPS
                };
                Ok(Prepared {
                    cluster_id: Some(id),
                    target: cluster.name.clone(),
                    claim: Some(claim),
                    input: cluster,
                    steps: Some(steps),
                })
            },
            |berth, ctx, cluster| async move {
                if cluster.provider == HOSTS {
                    berth.release_hosts(&ctx, cluster.id).await
                } else {
                    berth.tear_down_cluster(&ctx, &cluster).await
                }
            },
        )
        .await
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
    fn local_input_names_the_bad_field() {
        let ok = LocalClusterInput { name: "prod".into(), nodes: 3, managers: 1, zones: vec![] };
        assert_eq!(ok.validate().unwrap().zones, vec!["default"]);
        let cases = [
            (LocalClusterInput { nodes: 0, ..ok.clone() }, "nodes"),
            (LocalClusterInput { nodes: 21, ..ok.clone() }, "nodes"),
            (LocalClusterInput { managers: 2, ..ok.clone() }, "managers"),
            (LocalClusterInput { nodes: 2, managers: 3, ..ok.clone() }, "managers"),
            (LocalClusterInput { name: "x y".into(), ..ok.clone() }, "name"),
            (LocalClusterInput { zones: vec!["a".into(), "a".into()], ..ok.clone() }, "zones"),
            (LocalClusterInput { zones: vec!["A!".into()], ..ok.clone() }, "zones"),
        ];
        for (input, field) in cases {
            match input.validate() {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
        // Every wrong field at once, each said once, in the form's order.
        let bad = LocalClusterInput { name: "x y".into(), nodes: 0, managers: 2, zones: vec!["a".into(), "a".into()] };
        match bad.validate() {
            Err(Error::Problems(all)) => {
                let fields: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
                assert_eq!(fields, ["name", "nodes", "managers", "zones"]);
            }
            other => panic!("{other:?}"),
        }
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
