//! The routes an app claims with its routing labels, and the refusal of a claim another app of
//! the cluster holds already (at deploy and update, naming the label's line and the other app), so
//! that no route is taken from one app by another's deploy; likewise the load balancers' front
//! ports, which must also name a load balancer the cluster has.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::Berth;

/// One route an app's template asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) service: String,
    pub(crate) port: u16,
}

/// Every route `spec` claims, with prefixes under `root_domain` (a prefix without a root domain
/// claims nothing yet).
pub(crate) fn claims(spec: &compose::AppSpec, root_domain: &str) -> Vec<Claim> {
    let mut out = Vec::new();
    for (service, s) in &spec.services {
        for (&port, targets) in &s.ext.routing {
            for t in targets.iter().filter_map(|t| compose::routing_target(t).ok()) {
                if let Some(host) = super::plan::route_host(&t, root_domain) {
                    out.push(Claim { host, path: t.path, service: service.clone(), port });
                }
            }
        }
    }
    out
}

/// One front port an app's template binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrontClaim {
    pub(crate) balancer: String,
    pub(crate) front_port: u16,
    pub(crate) service: String,
    pub(crate) port: u16,
}

/// Every `berth.lb.port_N` binding of `spec`.
pub(crate) fn lb_claims(spec: &compose::AppSpec) -> Vec<FrontClaim> {
    let mut out = Vec::new();
    for (service, s) in &spec.services {
        for (&port, written) in &s.ext.lb {
            if let Ok(t) = compose::lb_target(written) {
                out.push(FrontClaim { balancer: t.name, front_port: t.front_port, service: service.clone(), port });
            }
        }
    }
    out
}

impl Berth {
    /// Refuses routes of `spec` (the template `text` of app `app`) that another app of the cluster
    /// claims, each named by its line, the route and the app that holds it.
    pub(crate) async fn check_routes(
        &self,
        cluster_id: i64,
        app: &str,
        text: &str,
        spec: &compose::AppSpec,
    ) -> Result<()> {
        let root = self.store.routing(cluster_id).await?.map(|r| r.root_domain).unwrap_or_default();
        let mine = claims(spec, &root);
        let fronts = lb_claims(spec);
        if mine.is_empty() && fronts.is_empty() {
            return Ok(());
        }
        let mut found = Vec::new();
        // A load balancer is a named object of the cluster: its admins create it first.
        if !fronts.is_empty() {
            let known: BTreeSet<String> = self.store.balancers(cluster_id).await?.into_iter().map(|b| b.name).collect();
            for f in fronts.iter().filter(|f| !known.contains(&f.balancer)) {
                let line = compose::label_line(text, &f.service, &format!("lb.port_{}", f.port));
                let at = if line > 0 { format!("line {line}: ") } else { String::new() };
                found.push(format!(
                    "{at}services.{}.labels.berth.lb.port_{}: this cluster has no load balancer {} (its admins create                      load balancers on the Routing page)",
                    f.service, f.port, f.balancer
                ));
            }
        }
        for other in self.store.apps(Some(cluster_id)).await? {
            if other.name == app || other.status == "deleting" {
                continue;
            }
            // An app whose template no longer reads claims nothing (it cannot be routed either).
            let Ok(theirs) = self.app_spec(&other).await else { continue };
            let held_fronts: BTreeSet<u16> = lb_claims(&theirs).into_iter().map(|f| f.front_port).collect();
            for f in fronts.iter().filter(|f| held_fronts.contains(&f.front_port)) {
                let line = compose::label_line(text, &f.service, &format!("lb.port_{}", f.port));
                let at = if line > 0 { format!("line {line}: ") } else { String::new() };
                found.push(format!(
                    "{at}services.{}.labels.berth.lb.port_{}: front port {} serves app {} already",
                    f.service, f.port, f.front_port, other.name
                ));
            }
            let held: BTreeSet<(String, String)> =
                claims(&theirs, &root).into_iter().map(|c| (c.host, c.path)).collect();
            for c in mine.iter().filter(|c| held.contains(&(c.host.clone(), c.path.clone()))) {
                let line = compose::label_line(text, &c.service, &format!("routing.port_{}", c.port));
                let at = if line > 0 { format!("line {line}: ") } else { String::new() };
                found.push(format!(
                    "{at}services.{}.labels.berth.routing.port_{}: {}{} is routed to app {} already",
                    c.service, c.port, c.host, c.path, other.name
                ));
            }
        }
        if found.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid("compose", found.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_expand_prefixes_and_lines_are_found() {
        let text = "services:\n  web:\n    image: a\n    labels:\n      berth.routing.port_80: \"shop;x.example.com/api\"\n  other:\n    image: b\n";
        let spec = compose::parse(text, &Default::default()).unwrap().spec;
        let got: Vec<(String, String)> = claims(&spec, "apps.test").into_iter().map(|c| (c.host, c.path)).collect();
        assert_eq!(got, [("shop.apps.test".to_string(), "/".to_string()), ("x.example.com".into(), "/api".into())]);
        assert_eq!(claims(&spec, "").len(), 1, "a prefix claims nothing without a root domain");
        assert_eq!(compose::label_line(text, "web", "routing.port_80"), 5);
        assert_eq!(compose::label_line(text, "other", "routing.port_80"), 0);
    }
}
