//! The operation history: reading it (JSON or CSV) and verifying its hash chain.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::fail;
use super::{ApiActor, ApiError, ApiQuery, Refusals, Unprocessable};
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(operations)).routes(routes!(verify_operations))
}

/// Query parameters of the history: the page's filters, plus `format=csv`.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct OperationsQuery {
    /// Words anywhere in the row.
    #[serde(default)]
    q: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// `success`, `failure` or `denied`.
    #[serde(default)]
    outcome: String,
    cluster: Option<i64>,
    /// Unix milliseconds.
    since: Option<i64>,
    /// Unix milliseconds.
    until: Option<i64>,
    /// Rows older than this row's id: the next page.
    before: Option<i64>,
    limit: Option<i64>,
    /// `json` (the default) or `csv`.
    #[serde(default)]
    format: String,
}

#[utoipa::path(get, path = "/api/v1/operations",
    summary = "The operation history the token may see, newest first (format=csv for CSV)",
    params(OperationsQuery), security(("token" = [])),
    responses((status = 200, description = "OK", content((Vec<serde_json::Value> = "application/json"), (String = "text/csv"))), Refusals, Unprocessable))]
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

/// What verifying the chain found.
#[derive(Serialize, ToSchema)]
struct Chain {
    /// Rows checked.
    rows: i64,
    /// The last row's id and hash: write them down to detect later removal of rows at the end.
    head_id: i64,
    head_hash: String,
    /// The first row whose link does not hold, and why.
    broken: Option<BrokenLink>,
}

#[derive(Serialize, ToSchema)]
struct BrokenLink {
    id: i64,
    reason: String,
}

#[utoipa::path(get, path = "/api/v1/operations/verify", summary = "Verify the history's hash chain (admins)",
    security(("token" = [])), responses((status = 200, description = "OK", body = Chain), Refusals))]
async fn verify_operations(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Chain>, ApiError> {
    let domain::history::ChainReport { rows, head_id, head_hash, broken } =
        state.berth.verify_history(&actor).await.map_err(fail(&actor))?;
    let broken = broken.map(|b| BrokenLink { id: b.id, reason: b.reason });
    Ok(Json(Chain { rows, head_id, head_hash, broken }))
}
