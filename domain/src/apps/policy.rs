//! The workload policy of each cluster (SECURITY.md S3): what non-admins' workloads may use beyond
//! the app's own resources, decided by the cluster's admins — host directories to bind (read-only
//! unless allowed read-write) and existing overlay networks to join; nothing by default. The rules
//! themselves are the allow-list in `compose::policy_violations`, checked on the one canonical spec
//! on every path that creates or changes a workload; admins (`PrivilegedWorkload`) skip them.
//!
//! What the template cannot show is checked on the nodes: a named volume that already exists there
//! (left by an earlier app of the same name, or `external`) is used as it is, so its driver options
//! must pass the same rules as the template's own.

use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::Berth;

impl Berth {
    /// A cluster's allowances, for the policy (nothing allowed when none were set).
    pub(crate) async fn allowances(&self, cluster_id: i64) -> Result<compose::Allowances> {
        let stored = self.store.cluster_policy(cluster_id).await?.unwrap_or_default();
        // A value that does not read (hand-edited) allows nothing rather than failing deploys open.
        Ok(serde_json::from_str(&stored).unwrap_or_default())
    }

    /// The workload policy's allowances of a cluster: everyone who sees the cluster may read them
    /// (the deploy form says what is allowed).
    pub async fn workload_policy(&self, actor: &Actor, cluster_id: i64) -> Result<compose::Allowances> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "cluster.policy.read", cluster_id.to_string())
            .await?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        self.allowances(cluster_id).await
    }

    /// Sets what non-admins' workloads may use on a cluster (cluster admins). Paths are normalised
    /// and checked (`/`, `/proc`, `/sys`, `/dev` and the engine's networks are never allowed); a bad
    /// entry is `invalid` naming it (`paths[1]`, `networks[0]`). Returns what was stored.
    pub async fn set_workload_policy(
        &self,
        actor: &Actor,
        cluster_id: i64,
        allow: &compose::Allowances,
    ) -> Result<compose::Allowances> {
        let op = Op {
            action: "cluster.policy",
            permission: Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: json!({ "paths": allow.paths, "networks": allow.networks }),
        };
        self.mutate(actor, op, |_| async move {
            self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
            let checked =
                compose::validate_allowances(allow).map_err(|(field, message)| Error::invalid(field, message))?;
            self.store.cluster_set_policy(cluster_id, &serde_json::to_string(&checked)?, now_ms()).await?;
            Ok(checked)
        })
        .await
    }

    /// Refuses what the workload policy keeps from `actor` on `cluster_id` for the app `stack`,
    /// naming every finding by service, line and field. Admins pass.
    pub(crate) async fn check_policy(
        &self,
        actor: &Actor,
        cluster_id: i64,
        stack: &str,
        spec: &compose::AppSpec,
    ) -> Result<()> {
        let why = match authorize(actor, Permission::PrivilegedWorkload(cluster_id)) {
            Ok(_) => return Ok(()),
            Err(Error::Forbidden(why)) => why,
            Err(e) => return Err(e),
        };
        let allow = self.allowances(cluster_id).await?;
        let mut found: Vec<String> = compose::policy_violations(spec, &allow)
            .iter()
            .map(|v| {
                let at = if v.line > 0 { format!("line {}: ", v.line) } else { String::new() };
                format!("{at}services.{}.{}: {}", v.service, v.field, v.message)
            })
            .collect();
        if found.is_empty() {
            found = self.volumes_on_nodes(cluster_id, stack, spec, &allow).await?;
        }
        if found.is_empty() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("{why} {}", found.join("; "))))
        }
    }

    /// The named volumes the app would mount that already exist on a node with driver options the
    /// policy would refuse in a template (a bind of a host path, a disk, a plugin).
    async fn volumes_on_nodes(
        &self,
        cluster_id: i64,
        stack: &str,
        spec: &compose::AppSpec,
        allow: &compose::Allowances,
    ) -> Result<Vec<String>> {
        let mut used = std::collections::BTreeSet::new();
        for s in spec.services.values() {
            for m in s.mounts.iter().filter(|m| m.kind == compose::MountKind::Volume && !m.source.is_empty()) {
                used.insert(m.source.clone());
            }
        }
        if used.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for node in self.store.nodes(cluster_id).await?.iter().filter(|n| n.state == "ready") {
            let engine = self.node_engine(node).await?;
            for volume in &used {
                let declared = spec.volumes.get(volume).cloned().unwrap_or_default();
                let name = declared.external.clone().unwrap_or_else(|| format!("{stack}_{volume}"));
                let Some(existing) = engine.volume_driver(&name).await? else { continue };
                if !volume_allowed(volume, existing.clone(), allow) {
                    let opts: Vec<String> = existing.driver_opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    found.push(format!(
                        "volume `{name}` already exists on node {} (driver {}, {}), which this cluster's workload \
                         policy does not allow",
                        node.name,
                        existing.driver.as_deref().unwrap_or("local"),
                        if opts.is_empty() { "no options".to_string() } else { opts.join(", ") }
                    ));
                }
            }
        }
        Ok(found)
    }
}

/// Whether a volume with this driver configuration would pass the policy in a template: the same
/// allow-list, asked about a service that mounts only it.
fn volume_allowed(name: &str, mut existing: compose::VolumeSpec, allow: &compose::Allowances) -> bool {
    if existing.driver.as_deref() == Some("local") && existing.driver_opts.is_empty() {
        return true;
    }
    existing.external = None;
    let mut spec = compose::AppSpec::default();
    let mount = compose::MountSpec {
        kind: compose::MountKind::Volume,
        source: name.to_string(),
        target: "/data".into(),
        read_only: false,
    };
    spec.services.insert("probe".into(), compose::ServiceSpec { mounts: vec![mount], ..Default::default() });
    spec.volumes.insert(name.to_string(), existing);
    compose::policy_violations(&spec, allow).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(driver: &str, opts: &[(&str, &str)]) -> compose::VolumeSpec {
        compose::VolumeSpec {
            driver: Some(driver.into()),
            driver_opts: opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn volumes_found_on_nodes_pass_the_templates_rules() {
        let none = compose::Allowances::default();
        let data = compose::Allowances {
            paths: vec![compose::HostPath { path: "/srv/data".into(), read_write: true }],
            networks: vec![],
        };
        let cases = [
            (volume("local", &[]), &none, true),
            (volume("local", &[("type", "none"), ("o", "bind"), ("device", "/etc")]), &none, false),
            (volume("local", &[("type", "none"), ("o", "bind"), ("device", "/srv/data/x")]), &data, true),
            (volume("local", &[("type", "none"), ("o", "bind"), ("device", "/srv/data/x")]), &none, false),
            (volume("local", &[("type", "ext4"), ("device", "/dev/vda1")]), &data, false),
            (volume("local", &[("type", "nfs"), ("o", "addr=10.0.0.5,ro"), ("device", ":/export")]), &none, true),
            (volume("some-plugin", &[]), &data, false),
        ];
        for (v, allow, ok) in cases {
            assert_eq!(volume_allowed("data", v.clone(), allow), ok, "{v:?} with {allow:?}");
        }
    }
}
