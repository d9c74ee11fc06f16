//! An app's triggers: list them with their newest calls, create one (its secret in the answer,
//! once), rotate its secret, revoke it, read its calls. The trigger URLs themselves are
//! `POST /hooks/{public id}` (`crate::hooks`), outside this API: they take the trigger's secret,
//! not an API token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::fail;
use super::{ApiActor, ApiError, ApiPath, Body, BodyRefusals, Refusals};
use app::api::trigger::{map, IssuedTrigger, TriggerCallRow, TriggerRow};

use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(triggers, create_trigger))
        .routes(routes!(rotate_trigger))
        .routes(routes!(revoke_trigger))
        .routes(routes!(trigger_calls))
}

/// An app's triggers with their newest calls (never their secrets).
#[utoipa::path(get, path = "/api/v1/apps/{id}/triggers", summary = "The app's triggers", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<TriggerRow>), Refusals))]
async fn triggers(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<TriggerRow>>, ApiError> {
    let list = state.berth.triggers(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(list.into_iter().map(map::trigger).collect()))
}

#[derive(Deserialize, ToSchema)]
struct NewTrigger {
    /// Lowercase letters, digits and inner `-`; unique among the app's triggers.
    name: String,
    /// `redeploy`, `scale` or `rollback`.
    action: String,
    /// `signature` (Standard Webhooks, the default) or `header` (the secret in `Authorization:
    /// Bearer`).
    #[serde(default)]
    auth: String,
    /// Scale: the service (its name in the template).
    #[serde(default)]
    service: String,
    /// Scale: the replicas (at most 1000).
    #[serde(default)]
    #[schema(maximum = 1000)]
    replicas: Option<u64>,
    /// Scale: a call may say how many (`{"replicas": N}`, clamped to 0..=1000).
    #[serde(default)]
    replicas_from_body: bool,
    /// Redeploy: fetch every service's image again, not only `berth.latest_image` ones.
    #[serde(default)]
    latest_image: bool,
}

/// Creates a trigger (operators of the app's cluster). The answer holds its secret, once.
#[utoipa::path(post, path = "/api/v1/apps/{id}/triggers", summary = "Create a trigger (its secret is in the answer, once)", params(("id" = i64, Path, description = "The app's id")), request_body = NewTrigger, security(("token" = [])),
    responses((status = 200, description = "OK", body = IssuedTrigger), Refusals, BodyRefusals))]
async fn create_trigger(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(body): Body<NewTrigger>,
) -> Result<Json<IssuedTrigger>, ApiError> {
    let input = domain::triggers::TriggerInput {
        name: body.name,
        action: body.action,
        service: body.service,
        replicas: body.replicas,
        replicas_from_body: body.replicas_from_body,
        latest_image: body.latest_image,
        auth: body.auth,
    };
    let issued = state.berth.create_trigger(&actor, id, &input).await.map_err(fail(&actor))?;
    Ok(Json(map::issued(issued)))
}

/// A new secret (in the answer, once); the one it replaces works for another 24 hours.
#[utoipa::path(post, path = "/api/v1/apps/{id}/triggers/{trigger}/rotate", summary = "Rotate a trigger's secret (the old one works for 24 h)", params(("id" = i64, Path, description = "The app's id"), ("trigger" = i64, Path, description = "The trigger's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = IssuedTrigger), Refusals))]
async fn rotate_trigger(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, trigger)): ApiPath<(i64, i64)>,
) -> Result<Json<IssuedTrigger>, ApiError> {
    let issued = state.berth.rotate_trigger(&actor, id, trigger).await.map_err(fail(&actor))?;
    Ok(Json(map::issued(issued)))
}

/// Revokes a trigger: its URL answers 404 from now on.
#[utoipa::path(delete, path = "/api/v1/apps/{id}/triggers/{trigger}", summary = "Revoke a trigger", params(("id" = i64, Path, description = "The app's id"), ("trigger" = i64, Path, description = "The trigger's id")), security(("token" = [])),
    responses((status = 204, description = "Revoked"), Refusals))]
async fn revoke_trigger(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, trigger)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    state.berth.revoke_trigger(&actor, id, trigger).await.map_err(fail(&actor))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A trigger's newest calls (the last 100 are kept), newest first: outcome, status, source, job.
#[utoipa::path(get, path = "/api/v1/apps/{id}/triggers/{trigger}/calls", summary = "A trigger's calls", params(("id" = i64, Path, description = "The app's id"), ("trigger" = i64, Path, description = "The trigger's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<TriggerCallRow>), Refusals))]
async fn trigger_calls(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, trigger)): ApiPath<(i64, i64)>,
) -> Result<Json<Vec<TriggerCallRow>>, ApiError> {
    let calls = state.berth.trigger_calls(&actor, id, trigger).await.map_err(fail(&actor))?;
    Ok(Json(calls.into_iter().map(map::call).collect()))
}
