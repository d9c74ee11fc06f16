//! A cluster's routing: its root domain and edge nodes, the routers on the edge nodes with the table
//! version each serves, the routes with their backends as a router serves them, and the requests
//! the routers counted per route and side (`get_traffic`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The Routing page's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoutingView {
    pub cluster: i64,
    pub root_domain: String,
    /// Only nodes labelled `berth.edge=true` run routers (else every node).
    pub edge_label: bool,
    /// The version of the table Berth last computed.
    pub version: i64,
    pub routers: Vec<RouterRow>,
    pub routes: Vec<RouteRow>,
    pub tcp: Vec<TcpRow>,
    pub certificates: Vec<CertificateRow>,
    pub load_balancers: Vec<LoadBalancerRow>,
    /// Whether the caller may change the settings (cluster admins).
    pub can_edit: bool,
}

/// A load balancer with the front ports the cluster's apps bind on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadBalancerRow {
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub ports: Vec<BindingRow>,
}

/// A front port and the service behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BindingRow {
    pub front_port: u16,
    pub app: String,
    pub service: String,
    pub port: u16,
}

/// An uploaded certificate (its key never leaves Berth).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertificateRow {
    pub id: i64,
    pub hosts: Vec<String>,
    /// RFC 3339.
    pub expires: String,
    /// Whole days until it expires.
    pub days_left: i64,
    pub created_by: String,
}

/// A certificate and its key as PEM (REST `POST /api/v1/clusters/{id}/certificates`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertificateUpload {
    pub certificate: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RouterRow {
    pub node: String,
    pub address: String,
    /// The table version it said it serves (0 until it answered).
    pub version: i64,
    pub error: String,
    /// When Berth last heard from it (RFC 3339, empty if never).
    pub seen: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RouteRow {
    /// `app/service:port`.
    pub id: String,
    pub host: String,
    pub path: String,
    pub sides: Vec<SideRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SideRow {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<BackendRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BackendRow {
    pub task: String,
    pub address: String,
    /// `up`, `ejected` (refused connections), `probe_failing`, `probe_pending`.
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TcpRow {
    pub id: String,
    pub port: u16,
    pub error: String,
    pub backends: Vec<BackendRow>,
}

/// The settings a cluster admin sends (REST `PUT /api/v1/clusters/{id}/routing`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoutingSettings {
    /// Empty for none.
    #[serde(default)]
    pub root_domain: String,
    #[serde(default)]
    pub edge_label: bool,
}

/// The requests of a cluster's routes (or of one app's) over a range, per route and side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrafficView {
    pub cluster: i64,
    /// The app asked for; empty for every app.
    pub app: String,
    /// The range (Unix ms) and the milliseconds each point covers.
    pub from: i64,
    pub to: i64,
    pub step: i64,
    /// By route, then side.
    pub series: Vec<TrafficSeriesRow>,
}

/// One side of one route (the side is the service the requests went to; a blue-green release
/// has two).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrafficSeriesRow {
    /// `app/service:port`.
    pub route: String,
    pub app: String,
    pub side: String,
    pub points: Vec<TrafficPointRow>,
}

/// One step: rates averaged over it, shares of its requests, the average p50 and highest p99 (none
/// without requests).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrafficPointRow {
    /// Unix ms.
    pub ts: i64,
    pub requests: i64,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub err4xx_pct: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[cfg(feature = "ssr")]
pub mod map {
    use super::*;

    fn backends(bs: Vec<domain::route::BackendView>) -> Vec<BackendRow> {
        bs.into_iter().map(|b| BackendRow { task: b.task, address: b.address, state: b.state }).collect()
    }

    pub fn balancer(b: domain::route::LoadBalancer) -> LoadBalancerRow {
        LoadBalancerRow {
            name: b.name,
            created_by: b.created_by,
            created_at: b.created_at,
            ports: b
                .ports
                .into_iter()
                .map(|p| BindingRow { front_port: p.front_port, app: p.app, service: p.service, port: p.port })
                .collect(),
        }
    }

    pub fn certificate(c: domain::route::Certificate) -> CertificateRow {
        CertificateRow {
            id: c.id,
            hosts: c.hosts,
            expires: domain::clock::rfc3339(c.not_after),
            days_left: (c.not_after - domain::clock::now_ms()).div_euclid(86_400_000),
            created_by: c.created_by,
        }
    }

    pub fn traffic(
        cluster: i64,
        app: &str,
        (from, to, step): (i64, i64, i64),
        series: Vec<domain::route::TrafficSeries>,
    ) -> TrafficView {
        TrafficView {
            cluster,
            app: app.to_string(),
            from,
            to,
            step,
            series: series
                .into_iter()
                .map(|s| TrafficSeriesRow {
                    route: s.route,
                    app: s.app,
                    side: s.side,
                    points: s
                        .points
                        .into_iter()
                        .map(|p| TrafficPointRow {
                            ts: p.ts,
                            requests: p.requests,
                            rps: p.rps,
                            err5xx_pct: p.err5xx_pct,
                            err4xx_pct: p.err4xx_pct,
                            p50_ms: p.p50_ms,
                            p99_ms: p.p99_ms,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn routing(actor: &domain::Actor, cluster: i64, r: domain::route::Routing) -> RoutingView {
        RoutingView {
            cluster,
            root_domain: r.root_domain,
            edge_label: r.edge_label,
            version: r.version,
            routers: r
                .routers
                .into_iter()
                .map(|x| RouterRow {
                    node: x.node,
                    address: x.address,
                    version: x.version,
                    error: x.error,
                    seen: if x.seen_at > 0 { domain::clock::rfc3339(x.seen_at) } else { String::new() },
                })
                .collect(),
            routes: r
                .routes
                .into_iter()
                .map(|x| RouteRow {
                    id: x.id,
                    host: x.host,
                    path: x.path,
                    sides: x
                        .sides
                        .into_iter()
                        .map(|s| SideRow { name: s.name, weight: s.weight, backends: backends(s.backends) })
                        .collect(),
                })
                .collect(),
            tcp: r
                .tcp
                .into_iter()
                .map(|t| TcpRow { id: t.id, port: t.port, error: t.error, backends: backends(t.backends) })
                .collect(),
            certificates: r.certificates.into_iter().map(certificate).collect(),
            load_balancers: r.load_balancers.into_iter().map(balancer).collect(),
            can_edit: domain::authz::authorize(actor, domain::Permission::ClusterManage(cluster)).is_ok(),
        }
    }
}

#[server(endpoint = "get_routing", output = crate::codec::Wire)]
pub async fn get_routing(cluster: i64) -> Result<RoutingView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let r = berth.routing(&actor, cluster).await.map_err(wire)?;
    Ok(map::routing(&actor, cluster, r))
}

/// `edge_label` comes from a checkbox: present ("on") or absent.
#[server(endpoint = "set_routing", output = crate::codec::Wire)]
pub async fn set_routing(
    cluster: i64,
    root_domain: String,
    edge_label: Option<String>,
) -> Result<RoutingView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let r = berth.set_routing(&actor, cluster, &root_domain, edge_label.is_some()).await.map_err(wire)?;
    Ok(map::routing(&actor, cluster, r))
}

#[server(endpoint = "upload_certificate", output = crate::codec::Wire)]
pub async fn upload_certificate(cluster: i64, certificate: String, key: String) -> Result<CertificateRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let c = berth.upload_certificate(&actor, cluster, &certificate, &key).await.map_err(wire)?;
    Ok(map::certificate(c))
}

/// Creates a load balancer (cluster admins).
#[server(endpoint = "create_load_balancer", output = crate::codec::Wire)]
pub async fn create_load_balancer(cluster: i64, name: String) -> Result<LoadBalancerRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.create_load_balancer(&actor, cluster, &name).await.map(map::balancer).map_err(wire)
}

/// Deletes a load balancer no app binds (cluster admins).
#[server(endpoint = "delete_load_balancer", output = crate::codec::Wire)]
pub async fn delete_load_balancer(cluster: i64, name: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_load_balancer(&actor, cluster, &name).await.map_err(wire)
}

#[server(endpoint = "delete_certificate", output = crate::codec::Wire)]
pub async fn delete_certificate(cluster: i64, id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.delete_certificate(&actor, cluster, id).await.map_err(wire)
}

/// The requests of a cluster's routes (of one app when `app` is not empty) over the last `range` ms.
#[server(endpoint = "get_traffic", output = crate::codec::Wire)]
pub async fn get_traffic(cluster: i64, app: String, range: i64) -> Result<TrafficView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let to = domain::clock::now_ms();
    let from = to.saturating_sub(range);
    let series = berth.traffic(&actor, cluster, Some(app.as_str()), from, to).await.map_err(wire)?;
    Ok(map::traffic(cluster, &app, (from, to, berth.traffic_step(from, to)), series))
}
