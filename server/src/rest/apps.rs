//! Apps: deploy a Compose template, read an app, new versions, redeploy, scale, delete.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::fail;
use super::{ApiActor, ApiError, ApiPath, ApiQuery, Body, BodyRefusals, Busy, EngineFailed, Refusals, Unprocessable};
use app::api::app::map::release as release_row;
use app::api::app::ReleaseRow;
use app::api::jobs::{JobRow, RunDetail};
use app::api::scaling::{PolicyInput, ServiceScalingRow};

use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deploy_app))
        .routes(routes!(app_detail, delete_app))
        .routes(routes!(update_app))
        .routes(routes!(redeploy_app))
        .routes(routes!(release))
        .routes(routes!(release_weight))
        .routes(routes!(confirm_release))
        .routes(routes!(rollback_release))
        .routes(routes!(scale_service))
        .routes(routes!(app_scaling))
        .routes(routes!(set_scaling, remove_scaling))
        .routes(routes!(resume_scaling))
        .routes(routes!(app_jobs))
        .routes(routes!(run_job))
        .routes(routes!(job_run))
}

#[derive(Deserialize, ToSchema)]
struct DeployBody {
    /// The cluster to deploy on.
    cluster: i64,
    name: String,
    /// Compose file (v2/v3) with ${VARIABLES}.
    compose: String,
    /// Values of the template's variables.
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// The template this app comes from, if any.
    #[serde(default)]
    template: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct Started {
    app: i64,
    job: i64,
}

/// Deploys a new app; answers 202 with the app and the job to follow (`GET /api/v1/jobs/{id}`).
#[utoipa::path(post, path = "/api/v1/apps", summary = "Deploy a Compose template as a new app (202: follow the job)", request_body = DeployBody, security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = Started), Refusals, BodyRefusals, Busy))]
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

#[utoipa::path(get, path = "/api/v1/apps/{id}", summary = "An app: services, tasks, drift, versions", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = serde_json::Value), Refusals, EngineFailed))]
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

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Also remove the app's volumes on every node.
    #[serde(default)]
    remove_volumes: bool,
}

/// Deletes an app (its services, networks, secrets and configs; volumes with
/// `remove_volumes=true`); 202 with the job.
#[utoipa::path(delete, path = "/api/v1/apps/{id}", summary = "Delete an app: services, networks, secrets, configs; volumes with remove_volumes=true (202)", params(("id" = i64, Path, description = "The app's id"), DeleteQuery), security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = JobStarted), Refusals, Busy))]
async fn delete_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.delete_app(&actor, id, q.remove_volumes).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

#[derive(Deserialize, ToSchema)]
struct UpdateBody {
    /// Compose file (v2/v3) with ${VARIABLES}.
    compose: String,
    /// Values of variables to change; the others keep theirs.
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// `rolling`, `blue-green` or `progressive`; when left out, what the template's
    /// `berth.update_method` says.
    #[serde(default)]
    method: Option<String>,
    /// How a progressive release steps (defaults: 5, 25, 50, 100 %, 60 s each, at most 1 % 5xx
    /// and p99 1000 ms, judged from 10 requests a step).
    #[serde(default)]
    progressive: Option<ProgressivePlan>,
}

#[derive(Deserialize, ToSchema)]
struct ProgressivePlan {
    /// The new side's weights in percent, rising; 100 is added when missing.
    #[serde(default)]
    steps: Option<Vec<u32>>,
    /// Seconds each step lasts once every router serves it.
    #[serde(default)]
    interval_s: Option<u64>,
    #[serde(default)]
    max_5xx_pct: Option<f64>,
    #[serde(default)]
    max_p99_ms: Option<f64>,
    #[serde(default)]
    min_requests: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct JobStarted {
    job: i64,
}

/// A new version of an app (variables not given keep their values); 202 with the job.
#[utoipa::path(post, path = "/api/v1/apps/{id}/update", summary = "Deploy a new version (202)", params(("id" = i64, Path, description = "The app's id")), request_body = UpdateBody, security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = JobStarted), Refusals, BodyRefusals, Busy))]
async fn update_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(body): Body<UpdateBody>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let method = match body.method.as_deref() {
        None => None,
        Some(m) => Some(compose::UpdateMethod::parse(m).ok_or_else(|| {
            fail(&actor)(domain::Error::invalid(
                "method",
                format!("`{m}` is not an update method: rolling, blue-green or progressive"),
            ))
        })?),
    };
    let job = if method == Some(compose::UpdateMethod::Progressive) || body.progressive.is_some() {
        let d = domain::release::Progressive::default();
        let p = body.progressive.unwrap_or(ProgressivePlan {
            steps: None,
            interval_s: None,
            max_5xx_pct: None,
            max_p99_ms: None,
            min_requests: None,
        });
        let plan = domain::release::Progressive {
            steps: p.steps.unwrap_or_else(|| d.steps.clone()),
            interval_s: p.interval_s.unwrap_or(d.interval_s),
            max_5xx_pct: p.max_5xx_pct.unwrap_or(d.max_5xx_pct),
            max_p99_ms: p.max_p99_ms.unwrap_or(d.max_p99_ms),
            min_requests: p.min_requests.unwrap_or(d.min_requests),
            ..d
        };
        state.berth.release_app_progressive(&actor, id, &body.compose, &body.variables, plan).await
    } else {
        state.berth.update_app_as(&actor, id, &body.compose, &body.variables, method).await
    }
    .map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

/// The app's release in progress, else its last one; 404 when it never had one.
#[utoipa::path(get, path = "/api/v1/apps/{id}/release", summary = "The app's blue-green release", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = ReleaseRow), Refusals))]
async fn release(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReleaseRow>, ApiError> {
    match state.berth.release(&actor, id).await.map_err(fail(&actor))? {
        Some(r) => Ok(Json(release_row(r))),
        None => Err(fail(&actor)(domain::Error::NotFound(format!("a release of app {id}")))),
    }
}

#[derive(Deserialize, ToSchema)]
struct WeightBody {
    /// The new side's share in percent.
    #[schema(maximum = 100)]
    weight: u32,
}

/// Sets the new side's share of the shared routes while the release awaits a decision.
#[utoipa::path(put, path = "/api/v1/apps/{id}/release/weight", summary = "Set the new side's weight (percent)", params(("id" = i64, Path, description = "The app's id")), request_body = WeightBody, security(("token" = [])),
    responses((status = 200, description = "OK", body = ReleaseRow), Refusals, BodyRefusals, Busy))]
async fn release_weight(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
    Body(body): Body<WeightBody>,
) -> Result<Json<ReleaseRow>, ApiError> {
    let r = state.berth.set_release_weight(&actor, id, body.weight).await.map_err(fail(&actor))?;
    Ok(Json(release_row(r)))
}

/// Confirms the release: all traffic to the new side, then the old services removed; 202 with the job.
#[utoipa::path(post, path = "/api/v1/apps/{id}/release/confirm", summary = "Confirm the blue-green release (202)", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = JobStarted), Refusals, Busy))]
async fn confirm_release(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.confirm_release(&actor, id).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

/// Rolls the release back: all traffic to the old side, the old version deployed again; 202 with the job.
#[utoipa::path(post, path = "/api/v1/apps/{id}/release/rollback", summary = "Roll the blue-green release back (202)", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = JobStarted), Refusals, Busy))]
async fn rollback_release(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.rollback_release(&actor, id).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

/// Redeploys an app (images of `latest_image` services fetched again); 202 with the job.
#[utoipa::path(post, path = "/api/v1/apps/{id}/redeploy", summary = "Redeploy: replace every task, fetch latest_image images again (202)", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 202, description = "Accepted: the work runs as a job", body = JobStarted), Refusals, Busy, Unprocessable))]
async fn redeploy_app(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let job = state.berth.redeploy_app(&actor, id).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job })))
}

#[derive(Deserialize, ToSchema)]
struct ScaleBody {
    #[schema(maximum = 1000)]
    replicas: u64,
}

#[derive(Serialize, ToSchema)]
struct Scaled {
    service: String,
    replicas: u64,
}

#[utoipa::path(post, path = "/api/v1/apps/{id}/services/{service}/scale", summary = "Set a service's replicas", params(("id" = i64, Path, description = "The app's id"), ("service" = String, Path, description = "The service's name in the template")), request_body = ScaleBody, security(("token" = [])),
    responses((status = 200, description = "OK", body = Scaled), Refusals, BodyRefusals, Busy, EngineFailed))]
async fn scale_service(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
    Body(body): Body<ScaleBody>,
) -> Result<Json<Scaled>, ApiError> {
    state.berth.scale_service(&actor, id, &service, body.replicas).await.map_err(fail(&actor))?;
    Ok(Json(Scaled { service, replicas: body.replicas }))
}

/// Every service of the app with its autoscaling policy, the last hour's evaluations and its newest
/// decisions.
#[utoipa::path(get, path = "/api/v1/apps/{id}/scaling", summary = "The app's autoscaling: policies, evaluations, decisions", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<ServiceScalingRow>), Refusals))]
async fn app_scaling(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ServiceScalingRow>>, ApiError> {
    let rows = state.berth.app_scaling(&actor, id).await.map_err(fail(&actor))?;
    Ok(Json(rows.into_iter().map(app::api::scaling::map::service).collect()))
}

/// Sets a service's autoscaling policy (numbers as strings, as a form sends them; a wrong one is
/// named by field).
#[utoipa::path(put, path = "/api/v1/apps/{id}/services/{service}/scaling", summary = "Set a service's autoscaling policy", params(("id" = i64, Path, description = "The app's id"), ("service" = String, Path, description = "The service's name in the template")), request_body = PolicyInput, security(("token" = [])),
    responses((status = 204, description = "Set"), Refusals, BodyRefusals))]
async fn set_scaling(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
    Body(body): Body<PolicyInput>,
) -> Result<StatusCode, ApiError> {
    let (policy, windows) = app::api::scaling::map::input(&body).map_err(fail(&actor))?;
    state
        .berth
        .set_scaling_policy(&actor, id, &service, policy, windows)
        .await
        .map_err(|e| fail(&actor)(app::api::scaling::map::field(e)))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a service's autoscaling policy (its replicas stay).
#[utoipa::path(delete, path = "/api/v1/apps/{id}/services/{service}/scaling", summary = "Remove a service's autoscaling policy", params(("id" = i64, Path, description = "The app's id"), ("service" = String, Path, description = "The service's name in the template")), security(("token" = [])),
    responses((status = 204, description = "Removed"), Refusals))]
async fn remove_scaling(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    state.berth.remove_scaling_policy(&actor, id, &service).await.map_err(fail(&actor))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resumes a policy a manual scale paused.
#[utoipa::path(post, path = "/api/v1/apps/{id}/services/{service}/scaling/resume", summary = "Resume a paused autoscaling policy", params(("id" = i64, Path, description = "The app's id"), ("service" = String, Path, description = "The service's name in the template")), security(("token" = [])),
    responses((status = 204, description = "Resumed"), Refusals))]
async fn resume_scaling(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    state.berth.resume_scaling(&actor, id, &service).await.map_err(fail(&actor))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The app's jobs (cron tasks and run-to-completion jobs): how each runs, its schedule with its
/// next times, and its newest runs with their tasks' exit codes.
#[utoipa::path(get, path = "/api/v1/apps/{id}/jobs", summary = "The app's jobs and their newest runs", params(("id" = i64, Path, description = "The app's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = Vec<JobRow>), Refusals))]
async fn app_jobs(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<JobRow>>, ApiError> {
    Ok(Json(app::api::jobs::map::jobs(&state.berth, &actor, id).await.map_err(fail(&actor))?))
}

#[derive(Serialize, ToSchema)]
struct RunStarted {
    /// The run's id (`GET /api/v1/apps/{id}/runs/{run}`).
    run: i64,
}

/// Starts a run of a job now (a scheduled job's concurrency applies: `forbid` answers 409 while a
/// run goes).
#[utoipa::path(post, path = "/api/v1/apps/{id}/services/{service}/run", summary = "Run a job now", params(("id" = i64, Path, description = "The app's id"), ("service" = String, Path, description = "The job service's name in the template")), security(("token" = [])),
    responses((status = 202, description = "Started: follow the run", body = RunStarted), Refusals, Busy, EngineFailed))]
async fn run_job(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, service)): ApiPath<(i64, String)>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    let run = state.berth.run_job_now(&actor, id, &service).await.map_err(fail(&actor))?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run })))
}

/// One run of a job with its tasks (node, state, exit code, times) and their newest log lines.
#[utoipa::path(get, path = "/api/v1/apps/{id}/runs/{run}", summary = "A job run with its tasks and logs", params(("id" = i64, Path, description = "The app's id"), ("run" = i64, Path, description = "The run's id")), security(("token" = [])),
    responses((status = 200, description = "OK", body = RunDetail), Refusals))]
async fn job_run(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiPath((id, run)): ApiPath<(i64, i64)>,
) -> Result<Json<RunDetail>, ApiError> {
    let detail = state.berth.job_run(&actor, id, run).await.map_err(fail(&actor))?;
    Ok(Json(app::api::jobs::map::detail(detail)))
}
