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
    ("POST", "/api/v1/apps"),
    ("GET", "/api/v1/apps/{id}"),
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

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_document))
        .route("/api/v1/me", get(me))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/clusters/{id}", get(cluster))
        .route("/api/v1/clusters/{id}/nodes", get(nodes))
        .route("/api/v1/apps", post(deploy_app))
        .route("/api/v1/apps/{id}", get(app_detail))
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
        if let Error::Invalid { field, .. } = &e {
            body["field"] = json!(field);
        }
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
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let Some(secret) = bearer else {
            return Err(ApiError::new(Error::Unauthenticated, &id));
        };
        match state.berth.resolve_token(secret, source.clone(), id.clone()).await {
            Ok(actor) => Ok(ApiActor(actor)),
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
    Path(id): Path<i64>,
) -> Result<Json<ClusterWithNodes>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    let nodes = summary.nodes.iter().cloned().map(map::node).collect();
    Ok(Json(ClusterWithNodes { cluster: map::cluster(summary), nodes }))
}

async fn nodes(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
) -> Result<Json<Vec<NodeRow>>, ApiError> {
    let summary = state.berth.cluster(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(summary.nodes.into_iter().map(map::node).collect()))
}

/// A body that is not the JSON a route expects: `invalid`, naming the problem.
pub struct Body<T>(T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let id = request_id(req.headers());
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::new(Error::invalid("body", e.body_text()), &id)),
        }
    }
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
    Path(id): Path<i64>,
) -> Result<Json<app::api::app::AppPage>, ApiError> {
    let detail = state.berth.app_detail(&actor, id).await.map_err(fail(&actor))?;
    let access = app::api::cluster::Access::of(&actor, detail.app.cluster_id);
    let cluster_name = detail.cluster_name.clone();
    let mut page = app::api::app::map::page(detail, access, Vec::new());
    page.app.cluster_name = cluster_name;
    Ok(Json(page))
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
    Path(id): Path<i64>,
    Body(body): Body<UpdateBody>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.update_app(&actor, id, &body.compose, &body.variables).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

/// Redeploys an app (images of `latest_image` services fetched again); 202 with the job.
async fn redeploy_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
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
    Path((id, service)): Path<(i64, String)>,
    Body(body): Body<ScaleBody>,
) -> Result<Json<Value>, ApiError> {
    state.berth.scale_service(&actor, id, &service, body.replicas).await.map_err(fail(&actor))?;
    Ok(Json(json!({ "service": service, "replicas": body.replicas })))
}

async fn job(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
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
    axum::extract::Query(q): axum::extract::Query<OperationsQuery>,
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
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<LogsQuery>,
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
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<MetricsQuery>,
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
    limit: Option<i64>,
}

async fn events(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<EventsQuery>,
) -> Result<Json<Vec<app::api::observe::EventRow>>, ApiError> {
    let events = state.berth.events(&actor, id, &q.app, q.limit.unwrap_or(100)).await.map_err(fail(&actor))?;
    Ok(Json(events.into_iter().map(app::api::observe::map::event).collect()))
}

async fn alerts(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
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
}

async fn create_alert(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<i64>,
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
    };
    let rule = state.berth.alert_rule_create(&actor, rule).await.map_err(fail(&actor))?;
    Ok((StatusCode::CREATED, Json(json!({ "rule": rule }))))
}

async fn delete_alert(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path((id, rule)): Path<(i64, i64)>,
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

/// The OpenAPI 3.1 description of [`ROUTES`].
pub fn openapi() -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    let id_param = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }]);
    let op = |summary: &str, schema: Value| {
        json!({
            "summary": summary,
            "security": [{ "token": [] }],
            "responses": {
                "200": { "description": "OK", "content": { "application/json": { "schema": schema } } },
                "401": error, "403": error, "404": error, "500": error,
            }
        })
    };
    let with_id = |mut v: Value| {
        v["parameters"] = id_param.clone();
        v
    };
    let with_service = |mut v: Value| {
        v["parameters"] = json!([
            { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } },
            { "name": "service", "in": "path", "required": true, "schema": { "type": "string" } }
        ]);
        v
    };
    let query = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({ "name": n, "in": "query", "required": false, "schema": { "type": "string" } }))
            .collect()
    };
    let with_query = |mut v: Value, names: &[&str]| {
        v["parameters"] = Value::Array(query(names));
        v
    };
    let with_id_query = |mut v: Value, names: &[&str]| {
        let mut params = id_param.as_array().cloned().unwrap_or_default();
        params.extend(query(names));
        v["parameters"] = Value::Array(params);
        v
    };
    let with_body = |mut v: Value, schema: Value| {
        v["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        v
    };
    let started =
        json!({ "type": "object", "properties": { "app": { "type": "integer" }, "job": { "type": "integer" } } });
    let job_started = json!({ "type": "object", "properties": { "job": { "type": "integer" } } });
    let cluster_ref = json!({ "$ref": "#/components/schemas/Cluster" });
    let node_ref = json!({ "$ref": "#/components/schemas/Node" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Berth API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Clusters and nodes for CI systems. Authenticate with a personal API token created \
                on the Account page: `Authorization: Bearer berth_…`. A token can do at most what its role \
                scope, its cluster scope and its user's grants all allow.",
        },
        "paths": {
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI document", "content": { "application/json": {} } } }
            } },
            "/api/v1/me": { "get": op("The token's user and scope", json!({ "$ref": "#/components/schemas/Me" })) },
            "/api/v1/clusters": { "get": op("Clusters the token may see", json!({ "type": "array", "items": cluster_ref })) },
            "/api/v1/clusters/{id}": { "get": with_id(op("One cluster with its nodes", json!({
                "type": "object",
                "properties": { "cluster": cluster_ref, "nodes": { "type": "array", "items": node_ref } }
            }))) },
            "/api/v1/clusters/{id}/nodes": { "get": with_id(op("A cluster's nodes", json!({ "type": "array", "items": node_ref }))) },
            "/api/v1/apps": { "post": with_body(op("Deploy a Compose template as a new app (202: follow the job)", started.clone()), json!({
                "type": "object", "required": ["cluster", "name", "compose"],
                "properties": {
                    "cluster": { "type": "integer" }, "name": { "type": "string" },
                    "compose": { "type": "string", "description": "Compose file (v2/v3) with ${VARIABLES}" },
                    "variables": { "type": "object", "additionalProperties": { "type": "string" } },
                    "template": { "type": ["integer", "null"] }
                }
            })) },
            "/api/v1/apps/{id}": { "get": with_id(op("An app: services, tasks, drift, versions", json!({ "type": "object" }))) },
            "/api/v1/apps/{id}/update": { "post": with_body(with_id(op("Deploy a new version (202)", job_started.clone())), json!({
                "type": "object", "required": ["compose"],
                "properties": {
                    "compose": { "type": "string" },
                    "variables": { "type": "object", "additionalProperties": { "type": "string" } }
                }
            })) },
            "/api/v1/apps/{id}/redeploy": { "post": with_id(op("Redeploy: replace every task, fetch latest_image images again (202)", job_started)) },
            "/api/v1/apps/{id}/services/{service}/scale": { "post": with_body(with_service(op("Set a service's replicas", json!({ "type": "object" }))), json!({
                "type": "object", "required": ["replicas"], "properties": { "replicas": { "type": "integer", "minimum": 0, "maximum": 1000 } }
            })) },
            "/api/v1/jobs/{id}": { "get": with_id(op("An operation's progress", json!({ "$ref": "#/components/schemas/Job" }))) },
            "/api/v1/operations": { "get": with_query(op("The operation history the token may see, newest first (format=csv for CSV)", json!({ "type": "array", "items": { "type": "object" } })),
                &["q", "actor", "action", "outcome", "cluster", "since", "until", "before", "limit", "format"]) },
            "/api/v1/operations/verify": { "get": op("Verify the history's hash chain (admins)", json!({ "type": "object", "properties": {
                "rows": { "type": "integer" }, "head_id": { "type": "integer" }, "head_hash": { "type": "string" },
                "broken": { "type": ["object", "null"] } } })) },
            "/api/v1/clusters/{id}/logs": { "get": with_id_query(op("Collected log lines in time order (format=text for a file)", json!({ "type": "array", "items": { "type": "object" } })),
                &["app", "service", "container", "node", "q", "since", "until", "after", "before", "limit", "format"]) },
            "/api/v1/clusters/{id}/metrics": { "get": with_id_query(op("A metric series: scope container|service|node|cluster, key, range in ms", json!({ "type": "object" })),
                &["scope", "key", "range"]) },
            "/api/v1/clusters/{id}/events": { "get": with_id_query(op("The cluster's timeline, newest first", json!({ "type": "array", "items": { "type": "object" } })), &["app", "limit"]) },
            "/api/v1/clusters/{id}/alerts": {
                "get": with_id(op("Alert rules and alert history", json!({ "type": "object" }))),
                "post": with_body(with_id(op("Add an alert rule (cluster admins)", json!({ "type": "object", "properties": { "rule": { "type": "integer" } } }))), json!({
                    "type": "object", "required": ["name", "kind"],
                    "properties": {
                        "name": { "type": "string" }, "kind": { "type": "string", "enum": ["metric", "replicas", "node_down"] },
                        "scope": { "type": "string", "enum": ["service", "node", "cluster"] }, "subject": { "type": "string" },
                        "metric": { "type": "string", "enum": ["cpu", "mem"] }, "threshold": { "type": "number" },
                        "for_secs": { "type": "integer" }, "webhook": { "type": "string" }
                    }
                }))
            },
            "/api/v1/clusters/{id}/alerts/{rule}": { "delete": {
                "summary": "Delete an alert rule (cluster admins)",
                "security": [{ "token": [] }],
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } },
                    { "name": "rule", "in": "path", "required": true, "schema": { "type": "integer" } }
                ],
                "responses": { "204": { "description": "Deleted" }, "401": error, "403": error, "404": error }
            } },
            "/metrics": { "get": {
                "summary": "Latest samples in the Prometheus text format",
                "security": [{ "token": [] }],
                "responses": { "200": { "description": "Prometheus text", "content": { "text/plain": {} } }, "401": error }
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
                        "invalid", "throttled", "engine_unreachable", "node_unreachable", "engine_error", "internal"] },
                    "message": { "type": "string" },
                    "field": { "type": "string" },
                    "error_id": { "type": "string" }
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
