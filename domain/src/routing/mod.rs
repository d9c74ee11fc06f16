//! Routing: Berth's router (berth-router) on every cluster — the route table computed from the
//! apps' routing and load-balancer labels and their running tasks (`table.rs`), the routers' system
//! service and the loop that keeps every router serving the current table (`router.rs`), the TLS
//! certificates they serve (`certs.rs`), the load balancers whose front ports apps bind
//! (`balancers.rs`), the routers' request metrics collected into samples and
//! read back as charts, latest numbers and windows (`traffic.rs`), progressive releases stepped by
//! what they measure (`progressive.rs`), and the cluster's routing
//! settings (root domain, edge nodes) with what each router serves (here).
//!
//! May import: `runtime/`, `audit/`, `engine/`, `store/`, the root files, `clusters/` (routers run
//! on a cluster's edge nodes) and `apps/` (routes come from the apps' templates). No product
//! folder imports it; its loop follows each cluster's reconciler through `reconcile::Follower`,
//! registered in lib.rs.

pub(crate) mod balancers;
pub(crate) mod certs;
pub(crate) mod progressive;
pub(crate) mod router;
pub(crate) mod table;
pub(crate) mod traffic;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::clusters::reconcile::Follower;
use crate::error::{Error, Result};
use crate::runtime::lease;
use crate::Berth;

pub use balancers::{Binding, LoadBalancer};
pub use certs::Certificate;
pub use router::{ADMIN_PORT, EDGE_LABEL, ROUTER_SERVICE, SYSTEM_LABEL};

/// A cluster's routing as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    /// Routes written as one label (`shop`) are served as `<label>.<root_domain>`; empty for none.
    pub root_domain: String,
    /// Only nodes labelled `berth.edge=true` run routers (else every node).
    pub edge_label: bool,
    /// The version of the table last computed.
    pub version: i64,
    pub routers: Vec<Router>,
    /// The routes as a router serves them, with each backend's state there (from the first router
    /// that answers; empty when none does).
    pub routes: Vec<RouteView>,
    pub tcp: Vec<TcpView>,
    /// Uploaded certificates (the routers serve a self-signed one for names none covers).
    pub certificates: Vec<Certificate>,
    /// The cluster's load balancers with the front ports its apps bind.
    pub load_balancers: Vec<LoadBalancer>,
}

/// One route as a router serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    /// `app/service:port`.
    pub id: String,
    pub host: String,
    pub path: String,
    pub sides: Vec<SideView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideView {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<BackendView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendView {
    pub task: String,
    pub address: String,
    /// `up`, `ejected`, `probe_failing`, `probe_pending`.
    pub state: String,
}

/// A load balancer's front port as a router serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpView {
    pub id: String,
    pub port: u16,
    /// Why the router could not open the port, if it could not.
    pub error: String,
    pub backends: Vec<BackendView>,
}

/// One edge node's router as last asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    pub node: String,
    pub address: String,
    /// The table version it said it serves (0 until it answered).
    pub version: i64,
    /// Why it did not take the table, if it did not.
    pub error: String,
    pub seen_at: i64,
}

/// Checks a root domain: empty (none), or a domain of at least two labels (letters, digits and
/// inner `-`), at most 100 characters so that a prefix still fits the 128 of a route.
pub fn check_root_domain(written: &str) -> Result<String> {
    let d = written.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return Ok(d);
    }
    let ok = d.len() <= 100
        && d.contains('.')
        && compose::routing_target(&d).is_ok_and(|t| t.host == d && t.path == "/" && !t.https);
    if !ok {
        return Err(Error::invalid(
            "root_domain",
            format!("`{written}` is not a domain: at least two labels of letters, digits and inner `-` (e.g. apps.example.com), at most 100 characters"),
        ));
    }
    Ok(d)
}

impl Berth {
    /// A cluster's routing settings and routers: everyone who sees the cluster.
    pub async fn routing(&self, actor: &Actor, cluster_id: i64) -> Result<Routing> {
        self.authorize_read(actor, Permission::ClusterRead(cluster_id), "routing.read", cluster_id.to_string()).await?;
        self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
        self.routing_view(cluster_id).await
    }

    async fn routing_view(&self, cluster_id: i64) -> Result<Routing> {
        let row = self.store.routing(cluster_id).await?.unwrap_or_default();
        let routers: Vec<Router> = self
            .store
            .routers(cluster_id)
            .await?
            .into_iter()
            .map(|r| Router {
                node: r.node,
                address: r.address,
                version: r.version,
                error: r.error,
                seen_at: r.seen_at,
            })
            .collect();
        let (routes, tcp) = self.served_routes(cluster_id, &routers).await;
        let certificates = self.certificate_list(cluster_id).await?;
        let load_balancers = self.balancer_list(cluster_id).await?;
        Ok(Routing {
            load_balancers,
            root_domain: row.root_domain,
            edge_label: row.edge_label == 1,
            version: row.version,
            routers,
            routes,
            tcp,
            certificates,
        })
    }

    /// What the first router that answers serves (routers that last took the table first).
    async fn served_routes(&self, cluster_id: i64, routers: &[Router]) -> (Vec<RouteView>, Vec<TcpView>) {
        // Only routers that took the last push, at most two, a second each: a page never waits on
        // nodes that are away.
        for r in routers.iter().filter(|r| r.error.is_empty()).take(2) {
            let asked =
                tokio::time::timeout(std::time::Duration::from_secs(1), self.router_status(cluster_id, &r.address));
            if let Ok(Ok(status)) = asked.await {
                let backends = |bs: Vec<::router::api::BackendStatus>| {
                    bs.into_iter()
                        .map(|b| BackendView {
                            task: b.id,
                            address: b.addr.to_string(),
                            state: serde_json::to_value(b.state)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                        })
                        .collect()
                };
                let routes = status
                    .routes
                    .into_iter()
                    .map(|r| RouteView {
                        id: r.id,
                        host: r.host,
                        path: r.path,
                        sides: r
                            .sides
                            .into_iter()
                            .map(|s| SideView { name: s.name, weight: s.weight, backends: backends(s.backends) })
                            .collect(),
                    })
                    .collect();
                let tcp = status
                    .tcp
                    .into_iter()
                    .map(|t| TcpView {
                        id: t.id,
                        port: t.port,
                        error: t.error.unwrap_or_default(),
                        backends: backends(t.backends),
                    })
                    .collect();
                return (routes, tcp);
            }
        }
        (Vec::new(), Vec::new())
    }

    /// Sets a cluster's root domain and whether only labelled nodes run routers (cluster admins).
    pub async fn set_routing(
        &self,
        actor: &Actor,
        cluster_id: i64,
        root_domain: &str,
        edge_label: bool,
    ) -> Result<Routing> {
        let op = Op {
            action: "cluster.routing",
            permission: Permission::ClusterManage(cluster_id),
            target: cluster_id.to_string(),
            params: json!({ "root_domain": root_domain, "edge_label": edge_label }),
        };
        self.mutate(actor, op, |_| async move {
            self.store.cluster(cluster_id).await?.ok_or_else(|| Error::NotFound(format!("cluster {cluster_id}")))?;
            let domain = check_root_domain(root_domain)?;
            self.routing_opened(cluster_id).await?;
            self.store.routing_set(cluster_id, &domain, edge_label, now_ms()).await?;
            self.routing_view(cluster_id).await
        })
        .await
    }

    /// Starts (or restarts) a cluster's routing loop.
    pub(crate) fn start_routing(&self, cluster_id: i64) {
        if self.stopping() {
            return;
        }
        let berth = self.clone();
        let handle = self.every(self.config.route_every, move || {
            let berth = berth.clone();
            async move {
                if !berth.hold_lease(&lease::cluster(cluster_id), berth.cluster_lease_ttl()).await {
                    router::forget(&berth.routing, cluster_id);
                    return;
                }
                if let Err(e) = berth.route_pass(cluster_id).await {
                    tracing::debug!(cluster = cluster_id, error = %e, "routing pass failed");
                }
                // Every `traffic_every`, not every pass: a second at most (each router is asked
                // for a second, all at once), under the same lease.
                if berth.traffic_due(cluster_id) {
                    if let Err(e) = berth.collect_traffic(cluster_id).await {
                        tracing::debug!(cluster = cluster_id, error = %e, "traffic collection failed");
                    }
                }
            }
        });
        let old = router::lock_loops(&self.routing).insert(cluster_id, handle);
        if let Some(old) = old {
            old.abort();
        }
    }

    pub(crate) fn stop_routing(&self, cluster_id: i64) {
        if let Some(h) = router::lock_loops(&self.routing).remove(&cluster_id) {
            h.abort();
        }
        // The routers' last reads would span the pause (or outlive a deleted cluster).
        self.routing.traffic.lock().unwrap_or_else(|p| p.into_inner()).forget(cluster_id);
    }

    /// Every routing loop's handle, for a stop to wait for.
    pub(crate) fn take_routing_loops(&self) -> Vec<tokio::task::JoinHandle<()>> {
        router::lock_loops(&self.routing).drain().map(|(_, h)| h).collect()
    }
}

/// Follows each cluster's reconciler: routing runs while the cluster is reconciled.
pub(crate) struct RoutingLoop;

impl Follower for RoutingLoop {
    fn start(&self, berth: &Berth, cluster_id: i64) {
        berth.start_routing(cluster_id);
    }

    fn stop(&self, berth: &Berth, cluster_id: i64) {
        berth.stop_routing(cluster_id);
    }
}

#[cfg(test)]
mod tests {
    use super::check_root_domain;

    #[test]
    fn root_domains_are_domains_of_two_labels_or_more() {
        assert_eq!(check_root_domain(" Apps.Example.com. ").unwrap(), "apps.example.com");
        assert_eq!(check_root_domain("").unwrap(), "");
        for bad in [
            "shop",
            "a..b",
            "*.example.com",
            "http://a.example.com",
            "a.example.com/x",
            "a_b.example.com",
            "-a.example.com",
        ] {
            assert!(check_root_domain(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_root_domain(&format!("{}.example.com", "a".repeat(90))).is_err());
    }
}
