//! What Berth observed on a cluster: logs, metric series, the timeline, alert rules and their
//! history, and the latest samples for Prometheus.

use app::api::observe::{map, AlertRow, AlertRuleRow, EventRow, SeriesRow};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::fail;
use super::{ApiActor, ApiError, ApiPath, ApiQuery, Body, BodyRefusals, Refusals, Unprocessable};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logs))
        .routes(routes!(metrics))
        .routes(routes!(events))
        .routes(routes!(alerts, create_alert))
        .routes(routes!(delete_alert))
        .routes(routes!(prometheus))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
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

#[utoipa::path(get, path = "/api/v1/clusters/{id}/logs", summary = "Collected log lines in time order (format=text for a file)", params(("id" = i64, Path, description = "The cluster's id"), LogsQuery), security(("token" = [])),
    responses((status = 200, description = "OK", content((Vec<serde_json::Value> = "application/json"), (String = "text/plain"))), Refusals, Unprocessable))]
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
            Ok(Json(lines.into_iter().map(map::log).collect::<Vec<_>>()).into_response())
        }
        "text" => {
            let text = state.berth.logs_text(&actor, &filter).await.map_err(fail(&actor))?;
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
        }
        _ => Err(ApiError::new(Error::invalid("format", "must be json or text"), &actor.request_id)),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MetricsQuery {
    scope: String,
    #[serde(default)]
    key: String,
    /// Milliseconds back from now.
    range: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/clusters/{id}/metrics", summary = "A metric series: scope container|service|node|cluster, key, range in ms", params(("id" = i64, Path, description = "The cluster's id"), MetricsQuery), security(("token" = [])),
    responses((status = 200, description = "OK", body = serde_json::Value), Refusals, Unprocessable))]
async fn metrics(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> Result<Json<SeriesRow>, ApiError> {
    let series = state
        .berth
        .metric_series(&actor, id, &q.scope, &q.key, q.range.unwrap_or(3_600_000))
        .await
        .map_err(fail(&actor))?;
    Ok(Json(map::series(series)))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
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

#[utoipa::path(get, path = "/api/v1/clusters/{id}/events", summary = "The cluster's timeline, newest first", params(("id" = i64, Path, description = "The cluster's id"), EventsQuery), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<serde_json::Value>), Refusals))]
async fn events(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<EventRow>>, ApiError> {
    let filter = domain::alerts::EventFilter {
        app: q.app,
        severity: q.severity,
        q: q.q,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    let events = state.berth.events_where(&actor, id, &filter).await.map_err(fail(&actor))?;
    Ok(Json(events.into_iter().map(map::event).collect()))
}

/// A cluster's alert rules and what they fired.
#[derive(Serialize, ToSchema)]
struct Alerts {
    #[schema(value_type = Vec<Object>)]
    rules: Vec<AlertRuleRow>,
    #[schema(value_type = Vec<Object>)]
    history: Vec<AlertRow>,
}

#[utoipa::path(get, path = "/api/v1/clusters/{id}/alerts", summary = "Alert rules and alert history", params(("id" = i64, Path, description = "The cluster's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Alerts), Refusals))]
async fn alerts(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Alerts>, ApiError> {
    let rules = state.berth.alert_rules(&actor, id).await.map_err(fail(&actor))?.into_iter().map(map::rule).collect();
    let history =
        state.berth.alert_history(&actor, id).await.map_err(fail(&actor))?.into_iter().map(map::alert).collect();
    Ok(Json(Alerts { rules, history }))
}

#[derive(Deserialize, ToSchema)]
struct AlertBody {
    name: String,
    /// `metric`, `replicas` or `node_down`.
    kind: String,
    /// `service`, `node` or `cluster`.
    #[serde(default)]
    scope: String,
    /// The service (`app/service`) or node the rule watches.
    #[serde(default)]
    subject: String,
    /// `cpu` or `mem`, for `metric` rules.
    #[serde(default)]
    metric: String,
    #[serde(default)]
    threshold: f64,
    /// How long the condition must hold before the alert fires.
    #[serde(default)]
    for_secs: i64,
    /// Where to send the alert.
    #[serde(default)]
    webhook: String,
    /// `webhook` (the default), `slack`, `teams` or `email`.
    #[serde(default)]
    channel: String,
}

#[derive(Serialize, ToSchema)]
struct RuleCreated {
    rule: i64,
}

#[utoipa::path(post, path = "/api/v1/clusters/{id}/alerts", summary = "Add an alert rule (cluster admins)", params(("id" = i64, Path, description = "The cluster's id")), request_body = AlertBody, security(("token" = [])),
    responses((status = 201, description = "Created", body = RuleCreated), Refusals, BodyRefusals))]
async fn create_alert(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(b): Body<AlertBody>,
) -> Result<(StatusCode, Json<RuleCreated>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(RuleCreated { rule })))
}

#[utoipa::path(delete, path = "/api/v1/clusters/{id}/alerts/{rule}", summary = "Delete an alert rule (cluster admins)", params(("id" = i64, Path, description = "The cluster's id"), ("rule" = i64, Path, description = "The rule's id")), security(("token" = [])),
    responses((status = 204, description = "Done"), Refusals))]
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
#[utoipa::path(get, path = "/metrics", summary = "Latest samples in the Prometheus text format", security(("token" = [])),
    responses((status = 200, description = "Prometheus text", content_type = "text/plain"), Refusals))]
async fn prometheus(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Response, ApiError> {
    let text = state.berth.prometheus(&actor).await.map_err(fail(&actor))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
