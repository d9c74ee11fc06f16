//! Drift and adoption: what differs between an app's desired and live services (and what was
//! changed by hand since its version), and stacks deployed outside Berth, found and made apps.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::apps::app::short;
use crate::apps::plan::{APP_LABEL, VERSION_LABEL};
use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::engine::STACK_NAMESPACE;
use crate::error::{Error, Result};
use crate::store::{NewVersion, Overrides};
use crate::Berth;

/// A stack on a cluster that no Berth app owns (made with `docker stack deploy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub services: Vec<String>,
}

/// The changes made by hand since the version whose spec is `spec`, as a person would say them.
pub fn by_hand(spec: &compose::AppSpec, overrides: &Overrides) -> Vec<String> {
    let mut out = Vec::new();
    for (service, n) in &overrides.replicas {
        let template = match spec.services.get(service).map(|s| &s.mode) {
            Some(compose::Mode::Replicated(t)) => *t,
            _ => continue,
        };
        if template != *n {
            out.push(format!("{service} scaled to {n} (the template says {template})"));
        }
    }
    for (service, r) in &overrides.resources {
        if spec.services.get(service).is_some_and(|s| s.resources != *r) {
            out.push(format!("{service}'s CPU and memory set by hand"));
        }
    }
    out
}

/// What differs between a desired and a live service spec, one line per leaf field
/// (`mode.replicated: 3 desired, 2 live`), values as plain text, shortened, never JSON.
pub fn drift(desired: &compose::ServiceSpec, live: &compose::ServiceSpec) -> Vec<String> {
    differences(desired, live, |field, want, have| format!("{field}: {want} desired, {have} live"))
}

/// What a new version changes in a service, one line per field (`image: web:1 → web:2`).
pub fn changes(old: &compose::ServiceSpec, new: &compose::ServiceSpec) -> Vec<String> {
    differences(new, old, |field, new, old| format!("{field}: {old} → {new}"))
}

/// The fields of `desired` that `live` does not have, each said by `line(field, desired, live)`.
fn differences(
    desired: &compose::ServiceSpec,
    live: &compose::ServiceSpec,
    line: fn(&str, &str, &str) -> String,
) -> Vec<String> {
    let (Ok(serde_json::Value::Object(d)), Ok(serde_json::Value::Object(l))) =
        (serde_json::to_value(desired), serde_json::to_value(live))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, want) in &d {
        // Fields swarm (API 1.41) does not keep on a service read back as nothing: not drift.
        if matches!(
            key.as_str(),
            "ext"
                | "line"
                | "lines"
                | "privileged"
                | "devices"
                | "pid"
                | "ipc"
                | "uts"
                | "userns_mode"
                | "cgroup"
                | "security_opt"
        ) {
            continue;
        }
        let have = l.get(key).cloned().unwrap_or(serde_json::Value::Null);
        if *want == have {
            continue;
        }
        if key == "environment" {
            out.push("environment (values not shown)".to_string());
        } else {
            leaf_drift(key, want, &have, line, &mut out);
        }
    }
    out
}

/// The leaves under `path` that differ between `want` and `have`, as lines.
fn leaf_drift(
    path: &str,
    want: &serde_json::Value,
    have: &serde_json::Value,
    line: fn(&str, &str, &str) -> String,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            let keys: std::collections::BTreeSet<&String> = w.keys().chain(h.keys()).collect();
            for k in keys {
                let (a, b) = (w.get(k).unwrap_or(&Value::Null), h.get(k).unwrap_or(&Value::Null));
                if a != b {
                    leaf_drift(&format!("{path}.{k}"), a, b, line, out);
                }
            }
        }
        (Value::Object(w), Value::Null) | (Value::Null, Value::Object(w)) if w.is_empty() => {}
        _ => {
            let field = if path == "mode.replicated" { "replicas" } else { path };
            out.push(line(field, short(&plain(want)), short(&plain(have))))
        }
    }
}

/// A JSON value as a person would write it: strings bare, lists joined, nothing as "none".
fn plain(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "none".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(o) if o.is_empty() => "none".into(),
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

impl Berth {
    /// Stacks on a cluster that no Berth app owns (deployed with `docker stack deploy`).
    pub async fn stacks(&self, actor: &Actor, cluster_id: i64) -> Result<Vec<Stack>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "stack.list", cluster_id.to_string()).await?;
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let mut stacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in manager.services_labelled(&[STACK_NAMESPACE.to_string()]).await? {
            if s.labels.contains_key(APP_LABEL) || s.labels.contains_key(super::plan::SYSTEM_LABEL) {
                continue;
            }
            let stack = s.labels.get(STACK_NAMESPACE).cloned().unwrap_or_default();
            let short = s.name.strip_prefix(&format!("{stack}_")).unwrap_or(&s.name).to_string();
            stacks.entry(stack).or_default().push(short);
        }
        Ok(stacks.into_iter().map(|(name, services)| Stack { name, services }).collect())
    }

    /// Makes a stack deployed outside Berth an app: its services become version 1 (a Compose
    /// template written from the live specs) and get Berth's labels. Nothing is restarted.
    pub async fn adopt_stack(&self, actor: &Actor, cluster_id: i64, stack: &str) -> Result<i64> {
        let op = Op {
            action: "app.adopt",
            permission: Permission::AppOperate(cluster_id),
            target: stack.to_string(),
            params: json!({ "cluster": cluster_id, "stack": stack }),
        };
        self.mutate(actor, op, |user| async move {
            let name = crate::clusters::cluster::validate_name("stack", stack, 40)?;
            let (_, manager) = self.reachable_manager(cluster_id).await?;
            let live = manager.services_labelled(&[format!("{STACK_NAMESPACE}={name}")]).await?;
            if live.is_empty() {
                return Err(Error::NotFound(format!("stack {name}")));
            }
            if live.iter().any(|s| s.labels.contains_key(APP_LABEL)) {
                return Err(Error::Conflict(format!("stack {name} belongs to a Berth app already")));
            }
            let mut spec = compose::AppSpec::default();
            for s in &live {
                let short = s.name.strip_prefix(&format!("{name}_")).unwrap_or(&s.name).to_string();
                let mut service = s.spec.clone();
                for n in &service.networks {
                    spec.networks.entry(n.clone()).or_default();
                }
                // Secret values cannot be read back: the adopted app uses the existing ones.
                for f in &service.secrets {
                    spec.secrets.entry(f.source.clone()).or_insert_with(|| compose::SecretSpec {
                        external: Some(format!("{name}_{}", f.source)),
                        ..Default::default()
                    });
                }
                for f in &service.configs {
                    spec.configs.entry(f.source.clone()).or_insert_with(|| compose::ConfigSpec {
                        external: Some(format!("{name}_{}", f.source)),
                        ..Default::default()
                    });
                }
                for m in &service.mounts {
                    if m.kind == compose::MountKind::Volume && !m.source.is_empty() {
                        // With the driver and options the volume is made with, which the policy reads.
                        let declared = s.volumes.get(&m.source).cloned().unwrap_or_default();
                        spec.volumes.entry(m.source.clone()).or_insert(declared);
                    }
                }
                if service.networks == ["default"] {
                    service.networks.clear();
                }
                spec.services.insert(short, service);
            }
            spec.networks.remove("default");
            self.check_policy(actor, cluster_id, &name, &spec).await?;
            let text = compose::to_compose(&spec);
            let vars = self.seal_vars(&BTreeMap::new())?;
            let first = NewVersion { compose: &text, vars: &vars, action: "adopt", note: "", by: &user.username };
            let id = self
                .store
                .app_insert(cluster_id, &name, "running", None, &first, now_ms())
                .await?
                .ok_or_else(|| Error::Conflict(format!("an app named {name} exists on this cluster")))?;
            let installation = self.installation().await?;
            let mut labels = crate::clusters::cluster::ownership(&installation, cluster_id);
            labels.insert(APP_LABEL.into(), id.to_string());
            labels.insert(VERSION_LABEL.into(), "1".into());
            for s in &live {
                let labels = labels.clone();
                manager
                    .service_patch(&s.name, move |spec| {
                        let l = spec.labels.get_or_insert_with(HashMap::new);
                        l.extend(labels.clone());
                        Ok(())
                    })
                    .await?;
            }
            Ok(id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_names_the_fields_that_differ() {
        let a = compose::ServiceSpec { image: "a:1".into(), ..Default::default() };
        let mut b = a.clone();
        assert!(drift(&a, &b).is_empty());
        b.image = "a:2".into();
        b.mode = compose::Mode::Replicated(3);
        b.environment.insert("PASSWORD".into(), "x".into());
        let d = drift(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|l| l == "image: a:1 desired, a:2 live"), "{d:?}");
        assert!(d.iter().any(|l| l == "replicas: 1 desired, 3 live"), "{d:?}");
        assert!(d.iter().all(|l| !l.contains('{') && !l.contains('"')), "no JSON: {d:?}");
        assert!(d.iter().any(|l| l == "environment (values not shown)"), "{d:?}");
    }
}
