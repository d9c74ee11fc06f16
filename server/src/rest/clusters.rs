//! Clusters, their nodes and workload policy, and the jobs that change them.

use app::api::cluster::{map, ClusterRow, JobRow, NodeRow};
use app::api::routing::{
    CertificateRow, CertificateUpload, LoadBalancerRow, RoutingSettings, RoutingView, TrafficView,
};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::fail;
use super::{ApiActor, ApiError, ApiPath, ApiQuery, Body, BodyRefusals, Busy, Refusals, Unprocessable};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clusters))
        .routes(routes!(cluster))
        .routes(routes!(nodes))
        .routes(routes!(workload_policy, set_workload_policy))
        .routes(routes!(routing, set_routing))
        .routes(routes!(traffic))
        .routes(routes!(upload_certificate))
        .routes(routes!(delete_certificate))
        .routes(routes!(load_balancers, create_load_balancer))
        .routes(routes!(delete_load_balancer))
        .routes(routes!(rebalance_plan, rebalance_apply))
        .routes(routes!(job))
}

/// The cluster's rebalancing plan, a dry run: each app service's running tasks per node against an
/// even spread, and the moves that would get there (nothing changes).
#[utoipa::path(get, path = "/api/v1/clusters/{id}/rebalance", summary = "The cluster's rebalancing plan (a dry run)", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = app::api::rebalance::RebalancePlanView), Refusals))]
async fn rebalance_plan(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<app::api::rebalance::RebalancePlanView>, ApiError> {
    let plan = state.berth.rebalance_plan(&actor, id, None).await.map_err(fail(&actor))?;
    let manage = domain::authz::authorize(&actor, domain::Permission::ClusterManage(id)).is_ok();
    Ok(Json(app::api::rebalance::map::plan(plan, manage)))
}

#[derive(Serialize, ToSchema)]
struct RebalanceStarted {
    /// The job that moves the tasks (`GET /api/v1/jobs/{id}`).
    job: i64,
}

/// Moves the tasks the plan names (cluster admins): a job that scales each uneven service up by
/// the tasks to move and back, so only those restart.
#[utoipa::path(post, path = "/api/v1/clusters/{id}/rebalance", summary = "Apply the cluster's rebalancing plan (202: follow the job)", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = RebalanceStarted), Refusals, Busy))]
async fn rebalance_apply(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<(axum::http::StatusCode, Json<RebalanceStarted>), ApiError> {
    let job = state.berth.rebalance_apply(&actor, id, None).await.map_err(fail(&actor))?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(RebalanceStarted { job })))
}

#[utoipa::path(get, path = "/api/v1/clusters", summary = "Clusters the token may see", security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<ClusterRow>), Refusals))]
async fn clusters(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Vec<ClusterRow>>, ApiError> {
    let list = state.berth.clusters(&actor).await.map_err(fail(&actor))?;
    Ok(Json(list.into_iter().map(map::cluster).collect()))
}

#[derive(Serialize, ToSchema)]
struct ClusterWithNodes {
    cluster: ClusterRow,
    nodes: Vec<NodeRow>,
}

#[utoipa::path(get, path = "/api/v1/clusters/{id}", summary = "One cluster with its nodes", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = ClusterWithNodes), Refusals))]
async fn cluster(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ClusterWithNodes>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    let nodes = summary.nodes.iter().cloned().map(map::node).collect();
    Ok(Json(ClusterWithNodes { cluster: map::cluster(summary), nodes }))
}

#[utoipa::path(get, path = "/api/v1/clusters/{id}/nodes", summary = "A cluster's nodes", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<NodeRow>), Refusals))]
async fn nodes(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<NodeRow>>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(summary.nodes.into_iter().map(map::node).collect()))
}

/// A cluster's workload policy allowances (what non-admins' workloads may use besides their own).
#[utoipa::path(get, path = "/api/v1/clusters/{id}/policy", summary = "The workload policy's allowances: host directories and networks non-admins' workloads may use", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = compose::Allowances), Refusals))]
async fn workload_policy(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<compose::Allowances>, ApiError> {
    Ok(Json(state.berth.workload_policy(&actor, id).await.map_err(fail(&actor))?))
}

/// Replaces a cluster's allowances (cluster admins); answers what was stored, normalised.
#[utoipa::path(put, path = "/api/v1/clusters/{id}/policy", summary = "Replace the allowances (cluster admins); answers them normalised", params(("id" = i64, Path, description = "The cluster's id")), request_body = compose::Allowances, security(("token" = [])),
    responses((status = 200, description = "OK", body = compose::Allowances), Refusals, BodyRefusals))]
async fn set_workload_policy(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(allow): Body<compose::Allowances>,
) -> Result<Json<compose::Allowances>, ApiError> {
    Ok(Json(state.berth.set_workload_policy(&actor, id, &allow).await.map_err(fail(&actor))?))
}

/// A cluster's routing: root domain, edge nodes, routers with the table version each serves, routes
/// with their backends as a router serves them.
#[utoipa::path(get, path = "/api/v1/clusters/{id}/routing", summary = "Routing: root domain, edge nodes, routers and the version each serves, routes and backends", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = RoutingView), Refusals))]
async fn routing(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RoutingView>, ApiError> {
    let r = state.berth.routing(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(app::api::routing::map::routing(&actor, id, r)))
}

/// Sets a cluster's root domain and whether only nodes labelled `berth.edge=true` run routers
/// (cluster admins).
#[utoipa::path(put, path = "/api/v1/clusters/{id}/routing", summary = "Set the root domain and edge nodes (cluster admins)", params(("id" = i64, Path, description = "The cluster's id")), request_body = RoutingSettings, security(("token" = [])),
    responses((status = 200, description = "OK", body = RoutingView), Refusals, BodyRefusals))]
async fn set_routing(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(input): Body<RoutingSettings>,
) -> Result<Json<RoutingView>, ApiError> {
    let r = state.berth.set_routing(&actor, id, &input.root_domain, input.edge_label).await.map_err(fail(&actor))?;
    Ok(Json(app::api::routing::map::routing(&actor, id, r)))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
struct TrafficQuery {
    /// One app's routes; every app's when empty.
    #[serde(default)]
    app: String,
    /// Milliseconds back from now (one hour when left out; at most seven days, though samples are
    /// kept as long as raw metric samples).
    range: Option<i64>,
}

/// The requests the cluster's routers counted per route and side over a range: req/s, 5xx and 4xx
/// shares, p50 and p99 latency.
#[utoipa::path(get, path = "/api/v1/clusters/{id}/traffic", summary = "Requests per route and side: req/s, 5xx and 4xx %, p50 and p99 ms", params(("id" = i64, Path, description = "The cluster's id"), TrafficQuery), security(("token" = [])),
    responses((status = 200, description = "OK", body = TrafficView), Refusals, Unprocessable))]
async fn traffic(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<TrafficQuery>,
) -> Result<Json<TrafficView>, ApiError> {
    let to = domain::clock::now_ms();
    let from = to.saturating_sub(q.range.unwrap_or(3_600_000));
    let series = state.berth.traffic(&actor, id, Some(q.app.as_str()), from, to).await.map_err(fail(&actor))?;
    let step = state.berth.traffic_step(from, to);
    Ok(Json(app::api::routing::map::traffic(id, &q.app, (from, to, step), series)))
}

/// Uploads a TLS certificate and its key (PEM) for a cluster's routers (cluster admins); the names
/// it serves and its expiry are read from it.
#[utoipa::path(post, path = "/api/v1/clusters/{id}/certificates", summary = "Upload a certificate for the routers (cluster admins)", params(("id" = i64, Path, description = "The cluster's id")), request_body = CertificateUpload, security(("token" = [])),
    responses((status = 200, description = "OK", body = CertificateRow), Refusals, BodyRefusals))]
async fn upload_certificate(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(input): Body<CertificateUpload>,
) -> Result<Json<CertificateRow>, ApiError> {
    let c = state.berth.upload_certificate(&actor, id, &input.certificate, &input.key).await.map_err(fail(&actor))?;
    Ok(Json(app::api::routing::map::certificate(c)))
}

/// Removes an uploaded certificate (cluster admins).
#[utoipa::path(delete, path = "/api/v1/clusters/{id}/certificates/{cert}", summary = "Delete an uploaded certificate (cluster admins)", params(("id" = i64, Path, description = "The cluster's id"), ("cert" = i64, Path, description = "The certificate's id")), security(("token" = [])),
    responses((status = 204, description = "Deleted"), Refusals))]
async fn delete_certificate(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, cert)): ApiPath<(i64, i64)>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.berth.delete_certificate(&actor, id, cert).await.map_err(fail(&actor))?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A cluster's load balancers with the front ports its apps bind (`berth.lb.port_N`).
#[utoipa::path(get, path = "/api/v1/clusters/{id}/load-balancers", summary = "The cluster's load balancers", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<LoadBalancerRow>), Refusals))]
async fn load_balancers(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<LoadBalancerRow>>, ApiError> {
    let list = state.berth.load_balancers(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(list.into_iter().map(app::api::routing::map::balancer).collect()))
}

#[derive(Deserialize, ToSchema)]
struct NewBalancer {
    /// A DNS label: lowercase letters, digits and inner `-`.
    name: String,
}

/// Creates a load balancer (cluster admins); apps bind its front ports with `berth.lb.port_N:
/// tcp://<name>:<front port>`.
#[utoipa::path(post, path = "/api/v1/clusters/{id}/load-balancers", summary = "Create a load balancer (cluster admins)", params(("id" = i64, Path, description = "The cluster's id")), request_body = NewBalancer, security(("token" = [])),
    responses((status = 200, description = "OK", body = LoadBalancerRow), Refusals, BodyRefusals))]
async fn create_load_balancer(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(input): Body<NewBalancer>,
) -> Result<Json<LoadBalancerRow>, ApiError> {
    let b = state.berth.create_load_balancer(&actor, id, &input.name).await.map_err(fail(&actor))?;
    Ok(Json(app::api::routing::map::balancer(b)))
}

/// Deletes a load balancer no app binds (cluster admins); 409 names the apps that still do.
#[utoipa::path(delete, path = "/api/v1/clusters/{id}/load-balancers/{balancer}", summary = "Delete a load balancer (cluster admins)", params(("id" = i64, Path, description = "The cluster's id"), ("balancer" = String, Path, description = "The load balancer's name")), security(("token" = [])),
    responses((status = 204, description = "Deleted"), Refusals, Busy))]
async fn delete_load_balancer(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, name)): ApiPath<(i64, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.berth.delete_load_balancer(&actor, id, &name).await.map_err(fail(&actor))?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", summary = "An operation's progress", params(("id" = i64, Path, description = "The job's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = JobRow), Refusals))]
async fn job(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobRow>, ApiError> {
    let job = state.berth.job(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(map::job(job)))
}
