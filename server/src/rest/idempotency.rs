//! `Idempotency-Key` on the REST API's mutations (RELIABILITY R4).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::extract::{bearer, ApiError};
use crate::middleware::request_id;
use crate::AppState;

/// `Idempotency-Key` on a mutation (R4): the first answer to a key is kept for a day; a retry with
/// the same key and request gets it again (`Idempotent-Replayed: true`) and runs nothing; another
/// request under the key is refused (422); a retry while the first still runs is told so (409).
/// Answers the server failed to give (5xx) and refused tokens are not kept, so a retry runs again.
pub(super) async fn idempotent(
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
