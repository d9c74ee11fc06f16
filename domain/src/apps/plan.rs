//! An app's plan: how its services, networks, secrets, configs and volumes are named and labelled
//! on the swarm — like `docker stack deploy` does (`com.docker.stack.namespace`, `<stack>_<name>`),
//! plus Berth's ownership labels — with the app's overrides applied, in the order dependencies
//! start.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::engine::{Engine, LiveService, ServiceDeploy, VolumeUse, STACK_NAMESPACE};
use crate::error::Result;
use crate::store::{App, Overrides};

/// The label that ties a service to its app.
pub const APP_LABEL: &str = "berth.app";

pub(crate) const VERSION_LABEL: &str = "berth.app.version";

/// The overlay network a cluster's routers reach routed services on: every service with a routing
/// or load-balancer label joins it (besides its own networks), so a new route never changes the
/// routers' service. It belongs to the cluster, not to an app: deleting an app leaves it.
pub const ROUTING_NETWORK: &str = "berth-routing";

/// The label on Berth's own services (the routers): not an app, never offered for adoption.
pub const SYSTEM_LABEL: &str = "berth.system";

/// Whether a service is reached through the cluster's routers.
pub fn is_routed(s: &compose::ServiceSpec) -> bool {
    !s.ext.routing.is_empty() || !s.ext.lb.is_empty()
}

/// The host a routing target is served at: itself, or a prefix under the cluster's root domain
/// (None when it is a prefix and the cluster has no root domain).
pub fn route_host(target: &compose::RoutingTarget, root_domain: &str) -> Option<String> {
    match (target.is_prefix(), root_domain.is_empty()) {
        (false, _) => Some(target.host.clone()),
        (true, false) => Some(format!("{}.{root_domain}", target.host)),
        (true, true) => None,
    }
}

/// The URLs a service's routing labels make it reachable at, e.g. `http://shop.apps.example.com/`.
pub fn route_urls(ext: &compose::Extensions, root_domain: &str) -> Vec<String> {
    ext.routing
        .values()
        .flatten()
        .filter_map(|t| compose::routing_target(t).ok())
        .filter_map(|t| {
            let host = route_host(&t, root_domain)?;
            let scheme = if t.https { "https" } else { "http" };
            Some(format!("{scheme}://{host}{}", if t.path == "/" { "/" } else { &t.path }))
        })
        .collect()
}

/// The placement constraint that keeps a stopped global service from running anywhere.
pub(crate) const STOPPED_CONSTRAINT: &str = "node.labels.berth.stopped==true";

fn short_hash(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data)[..4])
}

/// Services in an order that starts dependencies first (the parser has refused cycles).
pub(crate) fn start_order(spec: &compose::AppSpec) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit(name: &str, spec: &compose::AppSpec, seen: &mut BTreeSet<String>, done: &mut Vec<String>) {
        if !seen.insert(name.to_string()) {
            return;
        }
        if let Some(s) = spec.services.get(name) {
            for d in &s.ext.depends {
                visit(d, spec, seen, done);
            }
            done.push(name.to_string());
        }
    }
    for name in spec.services.keys() {
        visit(name, spec, &mut seen, &mut done);
    }
    done
}

/// Where an app's swarm objects are named and labelled.
pub(crate) struct Plan {
    pub(crate) stack: String,
    pub(crate) deploys: Vec<ServiceDeploy>,
    /// Networks to create: full name → (internal).
    pub(crate) networks: BTreeMap<String, bool>,
    /// Secrets and configs to create: (config?, full name, content).
    pub(crate) files: Vec<(bool, String, Vec<u8>)>,
    pub(crate) labels: BTreeMap<String, String>,
}

impl Plan {
    pub(crate) fn new(
        installation: &str,
        app: &App,
        version: i64,
        spec: compose::AppSpec,
        overrides: &Overrides,
    ) -> Plan {
        let stack = app.name.clone();
        let mut labels = crate::clusters::cluster::ownership(installation, app.cluster_id);
        labels.insert(STACK_NAMESPACE.into(), stack.clone());
        labels.insert(APP_LABEL.into(), app.id.to_string());
        let network_name = |n: &str| match spec.networks.get(n).and_then(|n| n.external.clone()) {
            Some(external) => external,
            None => format!("{stack}_{n}"),
        };
        let mut networks = BTreeMap::new();
        let mut files = Vec::new();
        let mut file_name = |config: bool, source: &str| -> String {
            let (external, content) = if config {
                let c = spec.configs.get(source).cloned().unwrap_or_default();
                (c.external, c.content)
            } else {
                let s = spec.secrets.get(source).cloned().unwrap_or_default();
                (s.external, s.content)
            };
            if let Some(external) = external {
                return external;
            }
            let content = content.unwrap_or_default().into_bytes();
            let name = format!("{stack}_{source}-{}", short_hash(&content));
            if !files.iter().any(|(c, n, _)| *c == config && *n == name) {
                files.push((config, name.clone(), content));
            }
            name
        };
        let mut deploys = Vec::new();
        for name in start_order(&spec) {
            let mut s = spec.services[&name].clone();
            if let Some(r) = overrides.replicas.get(&name) {
                if let compose::Mode::Replicated(_) = s.mode {
                    s.mode = compose::Mode::Replicated(*r);
                }
            }
            if let Some(r) = overrides.resources.get(&name) {
                s.resources = r.clone();
            }
            if overrides.stopped {
                match s.mode {
                    compose::Mode::Replicated(_) => s.mode = compose::Mode::Replicated(0),
                    compose::Mode::Global | compose::Mode::Job { .. } => {
                        s.placement.constraints.push(STOPPED_CONSTRAINT.into())
                    }
                }
            }
            let attach: Vec<String> =
                if s.networks.is_empty() { vec!["default".to_string()] } else { s.networks.clone() };
            let mut full_networks = Vec::new();
            for n in &attach {
                let full = network_name(n);
                let external = spec.networks.get(n).is_some_and(|n| n.external.is_some());
                if !external && s.network_mode.is_none() {
                    networks.insert(full.clone(), spec.networks.get(n).is_some_and(|n| n.internal));
                }
                full_networks.push(full);
            }
            if is_routed(&s) && s.network_mode.is_none() {
                full_networks.push(ROUTING_NETWORK.to_string());
            }
            let volumes = s
                .mounts
                .iter()
                .filter(|m| m.kind == compose::MountKind::Volume && !m.source.is_empty())
                .map(|m| {
                    let v = spec.volumes.get(&m.source).cloned().unwrap_or_default();
                    let name = v.external.clone().unwrap_or_else(|| format!("{stack}_{}", m.source));
                    (m.source.clone(), VolumeUse { name, driver: v.driver, options: v.driver_opts })
                })
                .collect();
            let secrets = s.secrets.iter().map(|f| (file_name(false, &f.source), f.target.clone())).collect();
            let configs = s.configs.iter().map(|f| (file_name(true, &f.source), f.target.clone())).collect();
            let mut service_labels = labels.clone();
            service_labels.insert(VERSION_LABEL.into(), version.to_string());
            deploys.push(ServiceDeploy {
                name: format!("{stack}_{name}"),
                alias: name.clone(),
                stack: stack.clone(),
                spec: s,
                labels: service_labels,
                networks: if spec.services[&name].network_mode.is_some() { Vec::new() } else { full_networks },
                secrets,
                configs,
                volumes,
            });
        }
        Plan { stack, deploys, networks, files, labels }
    }

    /// Whether any service of the plan joins the routing network.
    pub(crate) fn routed(&self) -> bool {
        self.deploys.iter().any(|d| d.networks.iter().any(|n| n == ROUTING_NETWORK))
    }

    pub(crate) fn namespace_filter(&self) -> Vec<String> {
        vec![format!("{STACK_NAMESPACE}={}", self.stack)]
    }

    /// The stack's services as they run, by full name.
    pub(crate) async fn live(&self, manager: &Engine) -> Result<HashMap<String, LiveService>> {
        let services = manager.services_labelled(&self.namespace_filter()).await?;
        Ok(services.into_iter().map(|s| (s.name.clone(), s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine;

    fn spec(yaml: &str) -> compose::AppSpec {
        compose::parse(yaml, &BTreeMap::new()).unwrap().spec
    }

    #[test]
    fn dependencies_start_first() {
        let s = spec(
            "services:\n  web:\n    image: a\n    depends_on: [api]\n  api:\n    image: a\n    depends_on: [db]\n  db:\n    image: a\n",
        );
        assert_eq!(start_order(&s), ["db", "api", "web"]);
    }

    #[test]
    fn plans_name_things_like_docker_stack() {
        let s = spec(
            "services:\n  web:\n    image: a\n    secrets: [pw]\n    networks: [front]\nnetworks:\n  front: {}\n\
             secrets:\n  pw:\n    content: hunter2\n",
        );
        let app = App {
            id: 4,
            cluster_id: 2,
            name: "shop".into(),
            status: "deploying".into(),
            message: String::new(),
            version: 3,
            template_id: None,
            overrides: r#"{"replicas":{"web":5}}"#.into(),
            created_by: "ann".into(),
            created_at: 0,
            updated_at: 0,
        };
        let plan = Plan::new("inst", &app, 3, s, &app.overrides());
        let d = &plan.deploys[0];
        assert_eq!(d.name, "shop_web");
        assert_eq!(d.networks, ["shop_front"]);
        assert_eq!(d.spec.mode, compose::Mode::Replicated(5));
        assert!(d.secrets[0].0.starts_with("shop_pw-"), "{:?}", d.secrets);
        assert_eq!(d.labels[STACK_NAMESPACE], "shop");
        assert_eq!(d.labels[APP_LABEL], "4");
        assert_eq!(d.labels[VERSION_LABEL], "3");
        assert_eq!(plan.networks.keys().collect::<Vec<_>>(), ["shop_front"]);
        // Identical content → identical name (idempotent); changed content → a new name.
        assert_eq!(engine::without_hash(&d.secrets[0].0), "shop_pw");
    }

    #[test]
    fn stopping_keeps_global_services_off_every_node() {
        let s = spec("services:\n  agent:\n    image: a\n    deploy:\n      mode: global\n  web:\n    image: a\n");
        let o = Overrides { stopped: true, ..Default::default() };
        let app = App {
            id: 1,
            cluster_id: 1,
            name: "x".into(),
            status: String::new(),
            message: String::new(),
            version: 1,
            template_id: None,
            overrides: "{}".into(),
            created_by: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        let plan = Plan::new("i", &app, 1, s, &o);
        let agent = plan.deploys.iter().find(|d| d.alias == "agent").unwrap();
        assert!(agent.spec.placement.constraints.contains(&STOPPED_CONSTRAINT.to_string()));
        let web = plan.deploys.iter().find(|d| d.alias == "web").unwrap();
        assert_eq!(web.spec.mode, compose::Mode::Replicated(0));
    }
}
