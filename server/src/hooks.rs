//! `POST /hooks/{public id}`: app triggers called by CI (`domain::triggers`). Machine to machine:
//! no session and no cross-site check (a call proves it holds the trigger's secret with its own
//! headers, never with a cookie, so there is nothing a forged cross-site request could borrow);
//! [`is_hook_path`] is the one path the cross-site check lets through. Other methods answer 405.
//!
//! Answers: 202 `{"job": id}` once the action's job started; 401 for any failed check (which
//! one is recorded in the trigger's calls, not told); 404 for an unknown or revoked trigger; 409
//! for a replayed `webhook-id`; 429 with `Retry-After` past 10 calls a minute; 413 for a body over
//! 64 KiB; the action's own refusal (409 busy, 422 a body it does not take) otherwise.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::triggers::{IncomingCall, MAX_BODY};
use domain::Error;

use crate::middleware::request_id;
use crate::AppState;

/// Where triggers are called.
pub const PREFIX: &str = "/hooks/";

/// Whether `path` is a trigger's URL (`/hooks/<one segment>`): the only path the cross-site check
/// lets through.
pub fn is_hook_path(path: &str) -> bool {
    path.strip_prefix(PREFIX).is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/{id}", post(call).fallback(not_allowed))
}

fn answer(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message, "error_id": request_id });
    (status, Json(body)).into_response()
}

async fn not_allowed(headers: HeaderMap) -> Response {
    let id = request_id(&headers);
    let mut res = answer(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "a trigger takes POST only", &id);
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

async fn call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let id = request_id(&parts.headers);
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        let message = format!("a trigger's body is at most {} KiB", MAX_BODY / 1024);
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &message, &id);
    };
    let headers = &parts.headers;
    let bearer = text(headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let call = IncomingCall {
        public_id: parts.uri.path().strip_prefix(PREFIX).unwrap_or_default(),
        webhook_id: text(headers, "webhook-id"),
        webhook_timestamp: text(headers, "webhook-timestamp"),
        webhook_signature: text(headers, "webhook-signature"),
        secret: bearer.or_else(|| text(headers, "x-berth-trigger-secret")),
        query: parts.uri.query(),
        body: &body,
        source: peer.ip().to_string(),
        request_id: id.clone(),
    };
    match state.berth.call_trigger(call).await {
        Ok(job) => (StatusCode::ACCEPTED, Json(serde_json::json!({ "job": job }))).into_response(),
        Err(Error::Unauthenticated) => answer(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the call could not be authenticated: sign it (Standard Webhooks) or send the trigger's secret in a header",
            &id,
        ),
        Err(Error::NotFound(_)) => answer(StatusCode::NOT_FOUND, "not_found", "no such trigger", &id),
        Err(Error::Throttled { retry_after_secs }) => {
            let message = format!("more than 10 calls a minute; try again in {retry_after_secs} s");
            let mut res = answer(StatusCode::TOO_MANY_REQUESTS, "throttled", &message, &id);
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            res
        }
        Err(Error::Internal(e)) => {
            tracing::error!(error_id = %id, error = %e, "a trigger call failed");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on the server; it has been logged.",
                &id,
            )
        }
        Err(e) => answer(app::api::ssr::status_of(&e), e.code(), &e.to_string(), &id),
    }
}

#[cfg(test)]
mod tests {
    use super::is_hook_path;

    #[test]
    fn only_a_trigger_url_is_a_hook() {
        for (path, hook) in [
            ("/hooks/0a1b2c", true),
            ("/hooks/", false),
            ("/hooks", false),
            ("/hooks/a/b", false),
            ("/api/sign_in", false),
            ("/api/v1/apps", false),
            ("/x/hooks/a", false),
        ] {
            assert_eq!(is_hook_path(path), hook, "{path}");
        }
    }
}
