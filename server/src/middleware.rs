//! HTTP middleware: request ids, security headers, the cross-site check, the actor every request
//! carries, and the guard that sends anonymous visitors to the sign-in page.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_sessions::Session;

use crate::AppState;

/// Request ids: a random prefix per process and a counter, e.g. `3f9a1c0e-000042`.
#[derive(Clone, Debug)]
pub struct RequestIds {
    prefix: u32,
    counter: std::sync::Arc<AtomicU64>,
}

impl RequestIds {
    pub fn new() -> Self {
        // Tells processes apart in logs; request ids are not secrets.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let prefix = nanos.rotate_left(7) ^ std::process::id().wrapping_mul(2_654_435_761);
        RequestIds { prefix, counter: Default::default() }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:06}", self.prefix)).ok().map(RequestId::new)
    }
}

/// The request id set by the request-id layer.
pub fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}

/// Static files that caches may keep: the built site under `/pkg/` and the favicon. Everything else
/// (pages, server functions, the REST API, answers that show a token or a link once) is `no-store`.
fn cacheable(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// Headers on every response. Pages set their own CSP (with the script nonce); everything else gets
/// a policy that allows nothing. Nothing but static files may be stored by a browser or a proxy: a
/// signed-in page, the setup page with its one-time token, a token shown once.
pub async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let store = !cacheable(req.uri().path());
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    if store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    res
}

/// Turns a panicking handler into a 500 in the usual error shape (with the request id), instead of a
/// dropped connection. The panic itself goes to the log, not to the client.
pub async fn catch_panics(req: Request<Body>, next: Next) -> Response {
    use futures::FutureExt as _;
    let id = request_id(req.headers());
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!(error_id = %id, "a request handler panicked");
            let body = serde_json::json!({
                "code": "internal",
                "message": "Something went wrong on the server; it has been logged.",
                "error_id": id,
            });
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }
    }
}

/// Whether a request that changes something comes from another site: `Sec-Fetch-Site` other than
/// `same-origin`/`none`, or an `Origin` that is not this console's. Requests with neither header
/// (curl, CI) carry no browser cookies by accident and pass.
pub fn is_cross_site(headers: &HeaderMap, expected_origin: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin") | Ok("none")) {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let Ok(origin) = origin.to_str() else { return true };
    match expected_origin {
        Some(expected) => !origin.eq_ignore_ascii_case(expected),
        None => {
            // Without a configured public URL, the origin's host must be the host the request was sent to.
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, h)| h);
            match (origin_host, host) {
                (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
                _ => true,
            }
        }
    }
}

/// Refuses cross-site requests on every method that may change something, before any handler runs,
/// and records the refusal in the operation history. A trigger's URL is the one exception: its
/// callers authenticate with the trigger's secret in their own headers, never a cookie, so a
/// request from another site has nothing to borrow (`hooks.rs`).
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe
        || crate::hooks::is_hook_path(req.uri().path())
        || !is_cross_site(req.headers(), state.public_origin.as_deref())
    {
        return next.run(req).await;
    }
    let request_id = request_id(req.headers());
    let actor = domain::Actor::anonymous(peer.ip().to_string(), request_id.clone());
    state.berth.refuse_cross_site(&actor, req.method().as_str(), req.uri().path()).await;
    let body = serde_json::json!({
        "code": "forbidden",
        "message": "cross-site request refused",
        "error_id": request_id,
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// Resolves who is calling from the session (and keeps an active session alive), and puts the
/// [`domain::Actor`] into the request for server functions and pages.
pub async fn resolve_actor(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let request_id = request_id(req.headers());
    let unavailable = |error: &dyn std::fmt::Display| {
        tracing::error!(error_id = %request_id, error = %error, "could not resolve the session");
        let body = serde_json::json!({
            "code": "unavailable", "message": "Berth cannot reach its database right now; try again in a few seconds",
            "error_id": request_id,
        });
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        res
    };
    let auth = match app::api::ssr::session_auth(&session).await {
        Ok(auth) => auth,
        Err(e) => return unavailable(&e),
    };
    let actor = match state.berth.resolve_actor(auth, peer.ip().to_string(), request_id.clone()).await {
        Ok(actor) => actor,
        Err(e) => return unavailable(&e),
    };
    match (auth.is_some(), actor.user().is_some()) {
        // The session names a user who may no longer act (deleted, disabled, timed out): end it.
        (true, false) => {
            let _ = app::api::ssr::end_session(&session).await;
        }
        (true, true) => app::api::ssr::keep_alive(&session).await,
        _ => {}
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// Pages that anonymous visitors may open.
const PUBLIC_PAGES: &[&str] = &["/signin", "/setup", "/invite", "/share"];

/// Sends anonymous visitors of console pages to sign in (and back afterwards), and signed-in users
/// away from the sign-in page.
pub async fn page_guard(req: Request<Body>, next: Next) -> Response {
    let signed_in = req.extensions().get::<domain::Actor>().is_some_and(|a| a.user().is_some());
    let path = req.uri().path();
    let public = PUBLIC_PAGES.contains(&path);
    if !signed_in && !public {
        let next_page = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target =
            if next_page == "/" { "/signin".to_string() } else { format!("/signin?next={}", encode(next_page)) };
        return Redirect::to(&target).into_response();
    }
    if signed_in && path == "/signin" {
        return Redirect::to("/").into_response();
    }
    next.run(req).await
}

/// Percent-encodes a path for a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    /// Request headers, the configured public origin, and whether that is cross-site.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, bool);

    #[test]
    fn cross_site_table() {
        let cases: &[Case] = &[
            (&[], None, false),
            (&[("host", "127.0.0.1:8080")], None, false),
            (&[("sec-fetch-site", "same-origin")], None, false),
            (&[("sec-fetch-site", "none")], None, false),
            (&[("sec-fetch-site", "cross-site")], None, true),
            (&[("sec-fetch-site", "same-site")], None, true),
            (&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")], None, false),
            (&[("origin", "http://evil.example"), ("host", "127.0.0.1:8080")], None, true),
            (&[("origin", "null"), ("host", "127.0.0.1:8080")], None, true),
            (&[("origin", "http://127.0.0.1:8080")], None, true),
            (&[("origin", "https://berth.example.com")], Some("https://berth.example.com"), false),
            (&[("origin", "http://berth.example.com")], Some("https://berth.example.com"), true),
            (
                &[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")],
                None,
                true,
            ),
        ];
        for (pairs, expected_origin, cross) in cases {
            let h = headers(pairs);
            assert_eq!(is_cross_site(&h, *expected_origin), *cross, "{pairs:?} {expected_origin:?}");
        }
    }

    #[tokio::test]
    async fn panics_become_500_with_the_request_id() {
        use tower::ServiceExt as _;
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { panic!("secret detail") as &'static str }))
            .layer(axum::middleware::from_fn(catch_panics));
        let req = Request::builder().uri("/").header("x-request-id", "req-7").body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((json["code"].as_str(), json["error_id"].as_str()), (Some("internal"), Some("req-7")));
        assert!(!text.contains("secret detail"), "{text}");
    }

    #[test]
    fn next_is_encoded() {
        assert_eq!(encode("/clusters?id=1&x=a b"), "/clusters%3Fid%3D1%26x%3Da%20b");
    }
}
