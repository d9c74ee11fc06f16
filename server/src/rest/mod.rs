//! The REST API under `/api/v1` for CI systems and scripts: the same domain and authorization as the
//! console, authenticated with personal API tokens (`Authorization: Bearer berth_…`), never with
//! cookies, so a browser cannot be tricked into calling it. Described by the OpenAPI document at
//! `/api/v1/openapi.json`.

use std::net::SocketAddr;

use app::api::cluster::{map, ClusterRow, NodeRow};
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{Actor, Error};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::middleware::request_id;
use crate::AppState;

/// Every REST route as (method, path in OpenAPI form). The router, the OpenAPI document and the
/// authorization matrix test are all checked against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/clusters/{id}"),
    ("GET", "/api/v1/clusters/{id}/nodes"),
    ("GET", "/api/v1/clusters/{id}/policy"),
    ("PUT", "/api/v1/clusters/{id}/policy"),
    ("POST", "/api/v1/apps"),
    ("GET", "/api/v1/apps/{id}"),
    ("DELETE", "/api/v1/apps/{id}"),
    ("POST", "/api/v1/apps/{id}/update"),
    ("POST", "/api/v1/apps/{id}/redeploy"),
    ("POST", "/api/v1/apps/{id}/services/{service}/scale"),
    ("GET", "/api/v1/jobs/{id}"),
    ("GET", "/api/v1/operations"),
    ("GET", "/api/v1/operations/verify"),
    ("GET", "/api/v1/clusters/{id}/logs"),
    ("GET", "/api/v1/clusters/{id}/metrics"),
    ("GET", "/api/v1/clusters/{id}/events"),
    ("GET", "/api/v1/clusters/{id}/alerts"),
    ("POST", "/api/v1/clusters/{id}/alerts"),
    ("DELETE", "/api/v1/clusters/{id}/alerts/{rule}"),
    ("GET", "/metrics"),
];

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_document))
        .route("/api/v1/me", get(me))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/clusters/{id}", get(cluster))
        .route("/api/v1/clusters/{id}/nodes", get(nodes))
        .route("/api/v1/clusters/{id}/policy", get(workload_policy).put(set_workload_policy))
        .route("/api/v1/apps", post(deploy_app))
        .route("/api/v1/apps/{id}", get(app_detail).delete(delete_app))
        .route("/api/v1/apps/{id}/update", post(update_app))
        .route("/api/v1/apps/{id}/redeploy", post(redeploy_app))
        .route("/api/v1/apps/{id}/services/{service}/scale", post(scale_service))
        .route("/api/v1/jobs/{id}", get(job))
        .route("/api/v1/operations", get(operations))
        .route("/api/v1/operations/verify", get(verify_operations))
        .route("/api/v1/clusters/{id}/logs", get(logs))
        .route("/api/v1/clusters/{id}/metrics", get(metrics))
        .route("/api/v1/clusters/{id}/events", get(events))
        .route("/api/v1/clusters/{id}/alerts", get(alerts).post(create_alert))
        .route("/api/v1/clusters/{id}/alerts/{rule}", axum::routing::delete(delete_alert))
        .route("/metrics", get(prometheus))
        .route_layer(axum::middleware::from_fn_with_state(state, idempotent))
}

/// The API token a request carries (`Authorization: Bearer …`).
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// `Idempotency-Key` on a mutation (R4): the first answer to a key is kept for a day; a retry with
/// the same key and request gets it again (`Idempotent-Replayed: true`) and runs nothing; another
/// request under the key is refused (422); a retry while the first still runs is told so (409).
/// Answers the server failed to give (5xx) and refused tokens are not kept, so a retry runs again.
async fn idempotent(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let key = match req.headers().get("idempotency-key") {
        Some(key) if !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD) => key,
        _ => return next.run(req).await,
    };
    let id = request_id(req.headers());
    let Ok(key) = key.to_str().map(str::to_string) else {
        let message = "must be visible ASCII characters".to_string();
        return ApiError::refused(StatusCode::BAD_REQUEST, "Idempotency-Key", message, &id).into_response();
    };
    let Some(token) = bearer(req.headers()).map(str::to_string) else { return next.run(req).await };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await else {
        let message = format!("the body is larger than {} KB", crate::MAX_BODY_BYTES / 1024);
        return ApiError::refused(StatusCode::PAYLOAD_TOO_LARGE, "body", message, &id).into_response();
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    match state.berth.idempotency_begin(&token, &key, parts.method.as_str(), &target, &bytes).await {
        Ok(domain::idempotency::Idempotent::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let json = !body.is_empty();
            let mut res = (status, body).into_response();
            if json {
                res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            res
        }
        Ok(domain::idempotency::Idempotent::Run) => {
            let res = next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await;
            let status = res.status();
            let (res_parts, res_body) = res.into_parts();
            let res_bytes = axum::body::to_bytes(res_body, 4 << 20).await.unwrap_or_default();
            let keep = !(status.is_server_error()
                || status == StatusCode::UNAUTHORIZED
                || status == StatusCode::TOO_MANY_REQUESTS);
            if keep {
                let text = String::from_utf8_lossy(&res_bytes);
                state.berth.idempotency_answer(&token, &key, status.as_u16(), &text).await;
            } else {
                state.berth.idempotency_release(&token, &key).await;
            }
            Response::from_parts(res_parts, axum::body::Body::from(res_bytes))
        }
        Err(e) => ApiError::new(e, &id).into_response(),
    }
}

/// A refusal or failure in the API's error shape (the console's: code, message, error id).
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn new(e: Error, request_id: &str) -> ApiError {
        let status = app::api::ssr::status_of(&e);
        let message = match &e {
            Error::Internal(inner) => {
                tracing::error!(error_id = request_id, error = %inner, "internal error");
                "Something went wrong on the server; it has been logged.".to_string()
            }
            Error::Unauthenticated => "send a valid API token: Authorization: Bearer berth_…".to_string(),
            other => other.to_string(),
        };
        let mut body = json!({ "code": e.code(), "message": message, "error_id": request_id });
        match &e {
            Error::Invalid { field, .. } => body["field"] = json!(field),
            Error::Problems(all) => {
                body["field"] = json!(all.first().map(|(f, _)| f));
                body["fields"] = all.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect();
            }
            _ => {}
        }
        ApiError { status, body }
    }
}

impl ApiError {
    /// A refusal of what the request says, decided before the domain saw it (a path or query value of
    /// the wrong type, a body that is not the JSON the route takes): `status` with the usual shape.
    fn refused(status: StatusCode, field: &str, message: String, request_id: &str) -> ApiError {
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid" };
        let body = json!({ "code": code, "field": field, "message": message, "error_id": request_id });
        ApiError { status, body }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"berth\""));
        }
        res
    }
}

/// The actor an API token stands for, resolved through the domain. No token, or one that is unknown,
/// revoked or expired: 401 (and the refusal is recorded).
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let id = request_id(&parts.headers);
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "-".into());
        let Some(secret) = bearer(&parts.headers) else {
            return Err(ApiError::new(Error::Unauthenticated, &id));
        };
        match state.berth.resolve_token(secret, source.clone(), id.clone()).await {
            Ok(actor) => {
                // For the extractors after this one, which record mutation attempts they refuse.
                parts.extensions.insert(actor.clone());
                Ok(ApiActor(actor))
            }
            Err(e) => {
                if matches!(e, Error::Unauthenticated) {
                    let anon = Actor::anonymous(source, id.clone());
                    state.berth.refuse_token(&anon, parts.uri.path()).await;
                }
                Err(ApiError::new(e, &id))
            }
        }
    }
}

fn fail(actor: &Actor) -> impl Fn(Error) -> ApiError + '_ {
    move |e| ApiError::new(e, &actor.request_id)
}

#[derive(Serialize)]
struct Me {
    id: i64,
    username: String,
    role: String,
    token_role: String,
    token_cluster: Option<i64>,
}

async fn me(ApiActor(actor): ApiActor) -> Result<Json<Me>, ApiError> {
    let user = actor.user().ok_or_else(|| ApiError::new(Error::Unauthenticated, &actor.request_id))?;
    let scope = user.token.unwrap_or(domain::TokenScope { role: None, cluster: None });
    Ok(Json(Me {
        id: user.id,
        username: user.username.clone(),
        role: user.role.as_str().into(),
        token_role: scope.role.map_or("admin", domain::ClusterRole::as_str).into(),
        token_cluster: scope.cluster,
    }))
}

async fn clusters(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Vec<ClusterRow>>, ApiError> {
    let list = state.berth.clusters(&actor).await.map_err(fail(&actor))?;
    Ok(Json(list.into_iter().map(map::cluster).collect()))
}

#[derive(Serialize)]
struct ClusterWithNodes {
    cluster: ClusterRow,
    nodes: Vec<NodeRow>,
}

async fn cluster(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ClusterWithNodes>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    let nodes = summary.nodes.iter().cloned().map(map::node).collect();
    Ok(Json(ClusterWithNodes { cluster: map::cluster(summary), nodes }))
}

async fn nodes(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<NodeRow>>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(summary.nodes.into_iter().map(map::node).collect()))
}

/// A cluster's workload policy allowances (what non-admins' workloads may use besides their own).
async fn workload_policy(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<compose::Allowances>, ApiError> {
    Ok(Json(state.berth.workload_policy(&actor, id).await.map_err(fail(&actor))?))
}

/// Replaces a cluster's allowances (cluster admins); answers what was stored, normalised.
async fn set_workload_policy(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(allow): Body<compose::Allowances>,
) -> Result<Json<compose::Allowances>, ApiError> {
    Ok(Json(state.berth.set_workload_policy(&actor, id, &allow).await.map_err(fail(&actor))?))
}

/// A body that is not the JSON a route expects: `invalid`, naming the problem.
pub struct Body<T>(T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let id = request_id(req.headers());
        let who = req.extensions().get::<Actor>().cloned();
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => {
                // Syntax 400, wrong fields 422, not JSON 415, too large 413: axum's own statuses.
                let status = e.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("the body is larger than {} KB", crate::MAX_BODY_BYTES / 1024)
                } else {
                    e.body_text()
                };
                if let Some(actor) = who {
                    let error = Error::invalid("body", message.clone());
                    state.berth.refuse_malformed(&actor, &method, &path, error).await;
                }
                Err(ApiError::refused(status, "body", message, &id))
            }
        }
    }
}

/// Path parameters; a value of the wrong type is `400 invalid` naming the parameter, in the error
/// shape (axum's own answer is plain text).
pub struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => {
                let field = match &e {
                    axum::extract::rejection::PathRejection::FailedToDeserializePathParams(inner) => {
                        match inner.kind() {
                            axum::extract::path::ErrorKind::ParseErrorAtKey { key, .. }
                            | axum::extract::path::ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                            _ => "path".to_string(),
                        }
                    }
                    _ => "path".to_string(),
                };
                Err(refuse_parts(parts, state, StatusCode::BAD_REQUEST, &field, e.body_text()).await)
            }
        }
    }
}

/// Query parameters; a value of the wrong type is `400 invalid` in the error shape.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(refuse_parts(parts, state, StatusCode::BAD_REQUEST, "query", e.body_text()).await),
        }
    }
}

/// The refusal of a path or query value; mutation attempts (not GET) get their bounded history row.
async fn refuse_parts(parts: &Parts, state: &AppState, status: StatusCode, field: &str, message: String) -> ApiError {
    let id = request_id(&parts.headers);
    if parts.method != axum::http::Method::GET {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            let error = Error::invalid(field, message.clone());
            state.berth.refuse_malformed(actor, parts.method.as_str(), parts.uri.path(), error).await;
        }
    }
    ApiError::refused(status, field, message, &id)
}

#[derive(Deserialize)]
struct DeployBody {
    cluster: i64,
    name: String,
    compose: String,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    template: Option<i64>,
}

#[derive(Serialize)]
struct Started {
    app: i64,
    job: i64,
}

/// Deploys a new app; answers 202 with the app and the job to follow (`GET /api/v1/jobs/{id}`).
async fn deploy_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Body(body): Body<DeployBody>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let input = domain::app::AppInput {
        cluster_id: body.cluster,
        name: body.name,
        compose: body.compose,
        vars: body.variables,
        template_id: body.template,
    };
    let (app, job) = state.berth.deploy_app(&actor, &input).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(Started { app, job })))
}

async fn app_detail(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<app::api::app::AppPage>, ApiError> {
    let detail = state.berth.app_detail(&actor, id).await.map_err(fail(&actor))?;
    let access = app::api::cluster::Access::of(&actor, detail.app.cluster_id);
    let cluster_name = detail.cluster_name.clone();
    let mut page = app::api::app::map::page(detail, access, Vec::new());
    page.app.cluster_name = cluster_name;
    Ok(Json(page))
}

#[derive(Deserialize, Default)]
struct DeleteQuery {
    /// Also remove the app's volumes on every node.
    #[serde(default)]
    remove_volumes: bool,
}

/// Deletes an app (its services, networks, secrets and configs; volumes with
/// `remove_volumes=true`); 202 with the job.
async fn delete_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.delete_app(&actor, id, q.remove_volumes).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

#[derive(Deserialize)]
struct UpdateBody {
    compose: String,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct JobStarted {
    job: i64,
}

/// A new version of an app (variables not given keep their values); 202 with the job.
async fn update_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(body): Body<UpdateBody>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.update_app(&actor, id, &body.compose, &body.variables).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

/// Redeploys an app (images of `latest_image` services fetched again); 202 with the job.
async fn redeploy_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.redeploy_app(&actor, id).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

#[derive(Deserialize)]
struct ScaleBody {
    replicas: u64,
}

async fn scale_service(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
    Body(body): Body<ScaleBody>,
) -> Result<Json<Value>, ApiError> {
    state.berth.scale_service(&actor, id, &service, body.replicas).await.map_err(fail(&actor))?;
    Ok(Json(json!({ "service": service, "replicas": body.replicas })))
}

async fn job(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<app::api::cluster::JobRow>, ApiError> {
    let job = state.berth.job(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(map::job(job)))
}

/// Query parameters of the history: the page's filters, plus `format=csv`.
#[derive(Deserialize, Default)]
struct OperationsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    cluster: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    format: String,
}

async fn operations(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(q): ApiQuery<OperationsQuery>,
) -> Result<Response, ApiError> {
    let csv = match q.format.as_str() {
        "" | "json" => false,
        "csv" => true,
        _ => return Err(ApiError::new(Error::invalid("format", "must be json or csv"), &actor.request_id)),
    };
    let filter = domain::store::OperationFilter {
        q: q.q,
        actor: q.actor,
        action: q.action,
        outcome: q.outcome,
        cluster: q.cluster,
        since: q.since,
        until: q.until,
        before: q.before,
        limit: q.limit.unwrap_or(if csv { 100_000 } else { 100 }),
    };
    if csv {
        let text = state.berth.operations_csv(&actor, &filter).await.map_err(fail(&actor))?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response());
    }
    let rows = state.berth.operations(&actor, &filter).await.map_err(fail(&actor))?;
    Ok(Json(rows.into_iter().map(app::api::observe::map::operation).collect::<Vec<_>>()).into_response())
}

async fn verify_operations(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<domain::history::ChainReport>, ApiError> {
    Ok(Json(state.berth.verify_history(&actor).await.map_err(fail(&actor))?))
}

#[derive(Deserialize, Default)]
struct LogsQuery {
    #[serde(default)]
    app: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    container: String,
    node: Option<i64>,
    #[serde(default)]
    q: String,
    /// Unix milliseconds.
    since: Option<i64>,
    until: Option<i64>,
    after: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    format: String,
}

async fn logs(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<Response, ApiError> {
    let filter = domain::logs::LogFilter {
        cluster_id: id,
        app: q.app,
        service: q.service,
        container: q.container,
        node: q.node,
        q: q.q,
        since_ns: q.since.map(|t| t.saturating_mul(1_000_000)),
        until_ns: q.until.map(|t| t.saturating_mul(1_000_000)),
        after: q.after,
        before: q.before,
        limit: q.limit.unwrap_or(500),
    };
    match q.format.as_str() {
        "" | "json" => {
            let lines = state.berth.logs(&actor, &filter).await.map_err(fail(&actor))?;
            Ok(Json(lines.into_iter().map(app::api::observe::map::log).collect::<Vec<_>>()).into_response())
        }
        "text" => {
            let text = state.berth.logs_text(&actor, &filter).await.map_err(fail(&actor))?;
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        _ => Err(ApiError::new(Error::invalid("format", "must be json or text"), &actor.request_id)),
    }
}

#[derive(Deserialize)]
struct MetricsQuery {
    scope: String,
    #[serde(default)]
    key: String,
    /// Milliseconds back from now.
    range: Option<i64>,
}

async fn metrics(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> Result<Json<app::api::observe::SeriesRow>, ApiError> {
    let series = state
        .berth
        .metric_series(&actor, id, &q.scope, &q.key, q.range.unwrap_or(3_600_000))
        .await
        .map_err(fail(&actor))?;
    Ok(Json(app::api::observe::map::series(series)))
}

#[derive(Deserialize, Default)]
struct EventsQuery {
    #[serde(default)]
    app: String,
    /// `warning` (warnings and errors) or `error`.
    #[serde(default)]
    severity: String,
    #[serde(default)]
    q: String,
    /// Events older than this one's id: the next page.
    before: Option<i64>,
    limit: Option<i64>,
}

async fn events(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<app::api::observe::EventRow>>, ApiError> {
    let filter = domain::alerts::EventFilter {
        app: q.app,
        severity: q.severity,
        q: q.q,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    let events = state.berth.events_where(&actor, id, &filter).await.map_err(fail(&actor))?;
    Ok(Json(events.into_iter().map(app::api::observe::map::event).collect()))
}

async fn alerts(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let rules: Vec<_> = state
        .berth
        .alert_rules(&actor, id)
        .await
        .map_err(fail(&actor))?
        .into_iter()
        .map(app::api::observe::map::rule)
        .collect();
    let history: Vec<_> = state
        .berth
        .alert_history(&actor, id)
        .await
        .map_err(fail(&actor))?
        .into_iter()
        .map(app::api::observe::map::alert)
        .collect();
    Ok(Json(json!({ "rules": rules, "history": history })))
}

#[derive(Deserialize)]
struct AlertBody {
    name: String,
    kind: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    metric: String,
    #[serde(default)]
    threshold: f64,
    #[serde(default)]
    for_secs: i64,
    #[serde(default)]
    webhook: String,
    /// `webhook` (the default), `slack`, `teams` or `email`.
    #[serde(default)]
    channel: String,
}

async fn create_alert(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(b): Body<AlertBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let rule = domain::alerts::NewAlertRule {
        cluster_id: id,
        name: b.name,
        kind: b.kind,
        scope: b.scope,
        subject: b.subject,
        metric: b.metric,
        threshold: b.threshold,
        for_secs: b.for_secs,
        webhook: b.webhook,
        channel: b.channel,
    };
    let rule = state.berth.alert_rule_create(&actor, rule).await.map_err(fail(&actor))?;
    Ok((StatusCode::CREATED, Json(json!({ "rule": rule }))))
}

async fn delete_alert(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, rule)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    state.berth.alert_rule_delete(&actor, id, rule).await.map_err(fail(&actor))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The latest samples in the Prometheus text format, for scrapers with an API token
/// (`authorization: { credentials: berth_… }` in a Prometheus scrape config).
async fn prometheus(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Response, ApiError> {
    let text = state.berth.prometheus(&actor).await.map_err(fail(&actor))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

async fn openapi_document() -> Json<Value> {
    Json(openapi())
}

/// The OpenAPI 3.1 description of [`ROUTES`]: every status each route can answer, and typed
/// parameters (a contract test calls each route and checks its answers against this document).
pub fn openapi() -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    // Statuses every token-authenticated route may answer besides its success: a bad path or query
    // value, no or a bad token, not permitted, not found, a database that is away, an internal error.
    let common = ["400", "401", "403", "404", "500", "503"];
    let op = |summary: &str, status: &str, schema: Value, extra: &[&str]| {
        let mut responses = serde_json::Map::new();
        let description = match status {
            "201" => "Created",
            "202" => "Accepted: the work runs as a job",
            "204" => "Done",
            _ => "OK",
        };
        responses.insert(
            status.to_string(),
            if status == "204" {
                json!({ "description": description })
            } else {
                json!({ "description": description, "content": { "application/json": { "schema": schema } } })
            },
        );
        for code in common.iter().chain(extra) {
            responses.insert(code.to_string(), error.clone());
        }
        json!({ "summary": summary, "security": [{ "token": [] }], "responses": responses })
    };
    // A body adds: malformed JSON (400), too large (413), not JSON (415), fields not as described (422).
    let body_errors: &[&str] = &["413", "415", "422"];
    let path_param =
        |name: &str, kind: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": kind } });
    let query = |params: &[(&str, &str)]| -> Vec<Value> {
        params
            .iter()
            .map(|(n, kind)| json!({ "name": n, "in": "query", "required": false, "schema": { "type": kind } }))
            .collect()
    };
    let with_params = |mut v: Value, path: &[(&str, &str)], q: &[(&str, &str)]| {
        let mut params: Vec<Value> = path.iter().map(|(n, k)| path_param(n, k)).collect();
        params.extend(query(q));
        v["parameters"] = Value::Array(params);
        v
    };
    let id: &[(&str, &str)] = &[("id", "integer")];
    let with_body = |mut v: Value, schema: Value| {
        v["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        v
    };
    let idempotent = |mut v: Value| {
        let key = json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 200 },
            "description": "Retries with the same key within a day get the first answer and have one effect; another body under a used key is refused (422)." });
        match v["parameters"].as_array_mut() {
            Some(params) => params.push(key),
            None => v["parameters"] = json!([key]),
        }
        v
    };
    let started =
        json!({ "type": "object", "properties": { "app": { "type": "integer" }, "job": { "type": "integer" } } });
    let job_started = json!({ "type": "object", "properties": { "job": { "type": "integer" } } });
    let cluster_ref = json!({ "$ref": "#/components/schemas/Cluster" });
    let policy_ref = json!({ "$ref": "#/components/schemas/WorkloadPolicy" });
    let node_ref = json!({ "$ref": "#/components/schemas/Node" });
    let array = |items: Value| json!({ "type": "array", "items": items });
    let object = json!({ "type": "object" });
    let compose_body = |required: &[&str]| {
        json!({
            "type": "object", "required": required,
            "properties": {
                "cluster": { "type": "integer" }, "name": { "type": "string" },
                "compose": { "type": "string", "description": "Compose file (v2/v3) with ${VARIABLES}" },
                "variables": { "type": "object", "additionalProperties": { "type": "string" } },
                "template": { "type": ["integer", "null"] }
            }
        })
    };
    let job_errors: &[&str] = &["409", "413", "415", "422"];
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Berth API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Clusters and nodes for CI systems. Authenticate with a personal API token created \
                on the Account page: `Authorization: Bearer berth_…`. A token can do at most what its role \
                scope, its cluster scope and its user's grants all allow. Every error has the shape \
                `{code, message, field?, error_id}`.",
        },
        "paths": {
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI document", "content": { "application/json": {} } } }
            } },
            "/api/v1/me": { "get": op("The token's user and scope", "200", json!({ "$ref": "#/components/schemas/Me" }), &[]) },
            "/api/v1/clusters": { "get": op("Clusters the token may see", "200", array(cluster_ref.clone()), &[]) },
            "/api/v1/clusters/{id}": { "get": with_params(op("One cluster with its nodes", "200", json!({
                "type": "object",
                "properties": { "cluster": cluster_ref, "nodes": array(node_ref.clone()) }
            }), &[]), id, &[]) },
            "/api/v1/clusters/{id}/nodes": { "get": with_params(op("A cluster's nodes", "200", array(node_ref), &[]), id, &[]) },
            "/api/v1/clusters/{id}/policy": {
                "get": with_params(op("The workload policy's allowances: host directories and networks non-admins' workloads may use", "200", policy_ref.clone(), &[]), id, &[]),
                "put": with_body(with_params(op("Replace the allowances (cluster admins); answers them normalised", "200", policy_ref.clone(), body_errors), id, &[]), policy_ref.clone()),
            },
            "/api/v1/apps": { "post": idempotent(with_body(op("Deploy a Compose template as a new app (202: follow the job)", "202", started, job_errors),
                compose_body(&["cluster", "name", "compose"]))) },
            "/api/v1/apps/{id}": {
                "get": with_params(op("An app: services, tasks, drift, versions", "200", object.clone(), &["502"]), id, &[]),
                "delete": idempotent(with_params(op("Delete an app: services, networks, secrets, configs; volumes with remove_volumes=true (202)", "202", job_started.clone(), &["409"]),
                    id, &[("remove_volumes", "boolean")])),
            },
            "/api/v1/apps/{id}/update": { "post": idempotent(with_body(with_params(op("Deploy a new version (202)", "202", job_started.clone(), job_errors), id, &[]),
                compose_body(&["compose"]))) },
            "/api/v1/apps/{id}/redeploy": { "post": idempotent(with_params(op("Redeploy: replace every task, fetch latest_image images again (202)", "202", job_started, &["409", "422"]), id, &[])) },
            "/api/v1/apps/{id}/services/{service}/scale": { "post": idempotent(with_body(with_params(op("Set a service's replicas", "200", json!({
                "type": "object", "properties": { "service": { "type": "string" }, "replicas": { "type": "integer" } } }), &["409", "413", "415", "422", "502"]),
                &[("id", "integer"), ("service", "string")], &[]), json!({
                "type": "object", "required": ["replicas"], "properties": { "replicas": { "type": "integer", "minimum": 0, "maximum": 1000 } }
            }))) },
            "/api/v1/jobs/{id}": { "get": with_params(op("An operation's progress", "200", json!({ "$ref": "#/components/schemas/Job" }), &[]), id, &[]) },
            "/api/v1/operations": { "get": with_params(op("The operation history the token may see, newest first (format=csv for CSV)", "200", array(object.clone()), &["422"]), &[],
                &[("q", "string"), ("actor", "string"), ("action", "string"), ("outcome", "string"), ("cluster", "integer"), ("since", "integer"),
                  ("until", "integer"), ("before", "integer"), ("limit", "integer"), ("format", "string")]) },
            "/api/v1/operations/verify": { "get": op("Verify the history's hash chain (admins)", "200", json!({ "type": "object", "properties": {
                "rows": { "type": "integer" }, "head_id": { "type": "integer" }, "head_hash": { "type": "string" },
                "broken": { "type": ["object", "null"] } } }), &[]) },
            "/api/v1/clusters/{id}/logs": { "get": with_params(op("Collected log lines in time order (format=text for a file)", "200", array(object.clone()), &["422"]), id,
                &[("app", "string"), ("service", "string"), ("container", "string"), ("node", "integer"), ("q", "string"), ("since", "integer"),
                  ("until", "integer"), ("after", "integer"), ("before", "integer"), ("limit", "integer"), ("format", "string")]) },
            "/api/v1/clusters/{id}/metrics": { "get": with_params(op("A metric series: scope container|service|node|cluster, key, range in ms", "200", object.clone(), &["422"]), id,
                &[("scope", "string"), ("key", "string"), ("range", "integer")]) },
            "/api/v1/clusters/{id}/events": { "get": with_params(op("The cluster's timeline, newest first", "200", array(object.clone()), &[]), id, &[("app", "string"), ("limit", "integer")]) },
            "/api/v1/clusters/{id}/alerts": {
                "get": with_params(op("Alert rules and alert history", "200", object.clone(), &[]), id, &[]),
                "post": with_body(with_params(op("Add an alert rule (cluster admins)", "201", json!({ "type": "object", "properties": { "rule": { "type": "integer" } } }), body_errors), id, &[]), json!({
                    "type": "object", "required": ["name", "kind"],
                    "properties": {
                        "name": { "type": "string" }, "kind": { "type": "string", "enum": ["metric", "replicas", "node_down"] },
                        "scope": { "type": "string", "enum": ["service", "node", "cluster"] }, "subject": { "type": "string" },
                        "metric": { "type": "string", "enum": ["cpu", "mem"] }, "threshold": { "type": "number" },
                        "for_secs": { "type": "integer" }, "webhook": { "type": "string" }
                    }
                }))
            },
            "/api/v1/clusters/{id}/alerts/{rule}": { "delete": with_params(op("Delete an alert rule (cluster admins)", "204", Value::Null, &[]),
                &[("id", "integer"), ("rule", "integer")], &[]) },
            "/metrics": { "get": {
                "summary": "Latest samples in the Prometheus text format",
                "security": [{ "token": [] }],
                "responses": { "200": { "description": "Prometheus text", "content": { "text/plain": {} } }, "401": error, "500": error, "503": error }
            } },
        },
        "components": {
            "securitySchemes": { "token": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": {
                    "description": "Refused or failed",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["code", "message", "error_id"], "properties": {
                    "code": { "type": "string", "enum": ["unauthenticated", "forbidden", "not_found", "conflict",
                        "invalid", "too_large", "throttled", "engine_unreachable", "node_unreachable", "engine_error", "unavailable", "internal"] },
                    "message": { "type": "string" },
                    "field": { "type": "string" },
                    "error_id": { "type": "string" }
                } },
                "WorkloadPolicy": { "type": "object", "properties": {
                    "paths": { "type": "array", "items": { "type": "object", "required": ["path", "read_write"], "properties": {
                        "path": { "type": "string", "description": "absolute host directory; binds under it are allowed" },
                        "read_write": { "type": "boolean" } } } },
                    "networks": { "type": "array", "items": { "type": "string" }, "description": "existing overlay networks, by exact name" }
                } },
                "Me": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "username": { "type": "string" },
                    "role": { "type": "string", "enum": ["admin", "user"] },
                    "token_role": { "type": "string", "enum": ["admin", "cluster_admin", "operator", "viewer"] },
                    "token_cluster": { "type": ["integer", "null"] }
                } },
                "Cluster": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "name": { "type": "string" }, "provider": { "type": "string" },
                    "status": { "type": "string", "enum": ["creating", "ready", "degraded", "unreachable", "deleting", "failed"] },
                    "message": { "type": "string" }, "zones": { "type": "array", "items": { "type": "string" } },
                    "nodes": { "type": "integer" }, "ready": { "type": "integer" }, "down": { "type": "integer" },
                    "managers": { "type": "integer" },
                    "engine_versions": { "type": "array", "items": { "type": "string" } },
                    "cpus": { "type": "number" }, "memory_bytes": { "type": "integer" },
                    "created_at": { "type": "integer", "description": "Unix milliseconds" },
                    "swarm_id": { "type": "string" }
                } },
                "Job": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "kind": { "type": "string" }, "target": { "type": "string" },
                    "status": { "type": "string", "enum": ["running", "succeeded", "failed"] },
                    "progress": { "type": "integer" }, "error": { "type": "string" },
                    "steps": { "type": "array", "items": { "type": "object" } }
                } },
                "Node": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "name": { "type": "string" },
                    "role": { "type": "string", "enum": ["manager", "worker"] }, "leader": { "type": "boolean" },
                    "state": { "type": "string", "enum": ["pending", "ready", "down", "unreachable", "missing", "removing"] },
                    "availability": { "type": "string", "enum": ["active", "pause", "drain"] },
                    "zone": { "type": "string" }, "address": { "type": "string" }, "endpoint": { "type": "string" },
                    "engine_version": { "type": "string" }, "cpus": { "type": "number" },
                    "memory_bytes": { "type": "integer" },
                    "labels": { "type": "array", "items": { "type": "array", "items": { "type": "string" } } },
                    "message": { "type": "string" },
                    "seen_at": { "type": "integer", "description": "Unix milliseconds" }
                } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let doc = openapi();
        let mut described: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
            .collect();
        described.sort();
        let mut routes: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        routes.sort();
        assert_eq!(described, routes);
    }
}
