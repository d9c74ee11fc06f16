//! What every REST handler takes and answers: the token's actor, path and query values and JSON
//! bodies that are refused in the error shape (axum's own refusals are plain text), and the error
//! shape itself.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{Actor, Error};
use serde::Serialize;
use utoipa::ToSchema;

use crate::middleware::request_id;
use crate::AppState;

/// The API token a request carries (`Authorization: Bearer …`).
pub(super) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// A refusal or failure in the API's error shape (the console's: code, message, error id).
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// What every refusal and failure answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody {
    #[schema(value_type = String, example = "invalid")]
    /// `unauthenticated`, `forbidden`, `not_found`, `conflict`, `invalid`, `too_large`, `throttled`,
    /// `engine_unreachable`, `node_unreachable`, `engine_error`, `unavailable` or `internal`.
    code: &'static str,
    message: String,
    /// The input the refusal is about (the first, when several are).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// Every input that is wrong and why, when more than one is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldProblem>,
    /// The id the server logged this answer under: quote it when reporting a problem.
    error_id: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct FieldProblem {
    field: String,
    message: String,
}

impl ApiError {
    pub(super) fn new(e: Error, request_id: &str) -> ApiError {
        let status = app::api::ssr::status_of(&e);
        let message = match &e {
            Error::Internal(inner) => {
                tracing::error!(error_id = request_id, error = %inner, "internal error");
                "Something went wrong on the server; it has been logged.".to_string()
            }
            Error::Unauthenticated => "send a valid API token: Authorization: Bearer berth_…".to_string(),
            other => other.to_string(),
        };
        let (field, fields) = match &e {
            Error::Invalid { field, .. } => (Some(field.to_string()), Vec::new()),
            Error::Problems(all) => (
                all.first().map(|(f, _)| f.to_string()),
                all.iter().map(|(f, m)| FieldProblem { field: f.to_string(), message: m.to_string() }).collect(),
            ),
            _ => (None, Vec::new()),
        };
        ApiError { status, body: ErrorBody { code: e.code(), message, field, fields, error_id: request_id.into() } }
    }

    /// A refusal of what the request says, decided before the domain saw it (a path or query value of
    /// the wrong type, a body that is not the JSON the route takes): `status` with the usual shape.
    pub(super) fn refused(status: StatusCode, field: &str, message: String, request_id: &str) -> ApiError {
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid" };
        let body =
            ErrorBody { code, message, field: Some(field.into()), fields: Vec::new(), error_id: request_id.into() };
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

pub(super) fn fail(actor: &Actor) -> impl Fn(Error) -> ApiError + '_ {
    move |e| ApiError::new(e, &actor.request_id)
}

/// A body that is not the JSON a route expects: `invalid`, naming the problem.
pub struct Body<T>(pub T);

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
