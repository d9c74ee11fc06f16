//! The `berth` server: settings, the axum router (Leptos pages, server functions, static files),
//! sessions, and the security middleware around them. [`Server::serve`] takes a bound listener and a
//! shutdown future, so tests run it on port 0 and stop it without sleeping.

pub mod hooks;
pub mod middleware;
pub mod rest;
pub mod sessions;
pub mod settings;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use app::{shell, App, ExtraConnectSources};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{Method, Request, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt as _;
use axum::Router;
use domain::bootstrap::BootstrapToken;
use domain::store::Store;
use domain::Berth;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{
    file_and_error_handler_with_context, generate_route_list, render_app_to_stream_with_context, LeptosRoutes,
};
use tokio::net::TcpListener;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use middleware::{
    catch_panics, page_guard, refuse_cross_site, request_id, resolve_actor, security_headers, RequestIds,
};
use sessions::DbSessionStore;
pub use settings::Settings;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub berth: Berth,
    pub leptos: LeptosOptions,
    /// `scheme://host[:port]` that `Origin` must match, when `public_url` is set.
    pub public_origin: Option<String>,
    /// Registered server functions, so unknown `/api` paths answer 404 without running anything.
    server_fns: Arc<HashSet<(String, Method)>>,
    extra_connect: ExtraConnectSources,
    /// Set once a stop began: every new request answers 503 (see [`Server::serve`]).
    draining: Arc<std::sync::atomic::AtomicBool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// An opened Berth: store migrated, domain built, ready to serve.
pub struct Server {
    state: AppState,
    settings: Settings,
    bootstrap: Option<BootstrapToken>,
}

impl Server {
    /// Opens the database (creating the data directory for SQLite), applies migrations, builds the
    /// domain, and mints a bootstrap token when no user exists yet.
    pub async fn open(settings: Settings) -> anyhow::Result<Server> {
        let url = settings.database_url();
        // The data directory holds the SQLite file and local clusters' node sockets.
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        let store =
            Store::open(&url).await.with_context(|| format!("opening the database {}", settings::redact_url(&url)))?;
        let berth = Berth::new(store, settings.domain_config()?);
        let bootstrap = berth.prepare_bootstrap().await.context("preparing the first-admin link")?;
        berth.recover().await.context("picking up clusters and interrupted operations")?;
        let leptos = LeptosOptions::builder()
            .output_name("berth")
            .site_root(settings.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(settings.listen)
            .build();
        let server_fns =
            leptos::server_fn::axum::server_fn_paths().map(|(path, method)| (path.to_string(), method)).collect();
        let extra_connect = ExtraConnectSources(
            settings.dev_reload_port.map(|port| format!("ws://{}:{port}", settings.listen.ip())).unwrap_or_default(),
        );
        let state = AppState {
            berth,
            leptos,
            public_origin: settings.public_origin(),
            server_fns: Arc::new(server_fns),
            extra_connect,
            draining: Arc::default(),
        };
        Ok(Server { state, settings, bootstrap })
    }

    pub fn berth(&self) -> &Berth {
        &self.state.berth
    }

    /// The one-time link that creates the first admin, when no user exists. `addr` is where the
    /// server listens; `public_url` wins when set.
    pub fn bootstrap_link(&self, addr: SocketAddr) -> Option<String> {
        let token = self.bootstrap.as_ref()?;
        let base = match self.settings.public_url.trim_end_matches('/') {
            "" => {
                let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
                format!("http://{host}:{}", addr.port())
            }
            url => url.to_string(),
        };
        Some(format!("{base}/setup?token={}", token.token))
    }

    /// Minutes the bootstrap link stays valid.
    pub fn bootstrap_minutes(&self) -> u64 {
        self.state.berth.config().bootstrap_ttl.as_secs() / 60
    }

    /// The whole HTTP surface.
    pub fn router(&self) -> Router {
        router(self.state.clone(), &self.settings)
    }

    /// Serves until `shutdown` resolves, then stops gracefully (SECURITY.md R5): new requests get
    /// `503` while the jobs running in this process get up to `shutdown_grace` to finish, then the
    /// listener closes, requests in flight finish, the background loops stop after the tick they are
    /// in, and the store closes. Jobs still running are failed and undone at the next start.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = self.router();
        let berth = self.state.berth.clone();
        let draining = self.state.draining.clone();
        let grace = self.settings.shutdown_grace();
        let drain_berth = berth.clone();
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            let left = drain_berth.wait_for_jobs(grace).await;
            if left > 0 {
                tracing::warn!(jobs = left, "stopping with jobs still running; the next start fails and undoes them");
            }
        };
        let sweeper = tokio::spawn(sweep_sessions(berth.clone()));
        // Pages stream in several small writes; without TCP_NODELAY each response can stall ~40 ms
        // on Nagle's algorithm meeting the client's delayed ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
        sweeper.abort();
        berth.stop_background().await;
        berth.store().close().await;
        Ok(())
    }
}

/// Deletes expired sessions every ten minutes.
async fn sweep_sessions(berth: Berth) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match berth.sweep_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "removed expired sessions"),
            Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
        }
    }
}

fn router(state: AppState, settings: &Settings) -> Router {
    let secure = settings.served_over_tls();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.berth.store().clone()))
        .with_name(if secure { "__Host-berth_session" } else { "berth_session" })
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(settings.session_idle().as_secs() as i64)));

    let context = {
        let berth = state.berth.clone();
        let extra = state.extra_connect.clone();
        move || {
            provide_context(berth.clone());
            provide_context(extra.clone());
        }
    };
    // Pages only: `leptos_routes_with_context` would also mount every server function here, behind
    // the page guard; server functions get their own route below.
    let render = render_app_to_stream_with_context(context.clone(), {
        let options = state.leptos.clone();
        move || shell(options.clone())
    });
    let pages = Router::new().leptos_routes_with_handler(generate_route_list(App), render).layer(from_fn(page_guard));
    // Every method: an unknown path under /api is 404 whatever the method (not 405).
    let api = Router::new().route("/api/{*name}", any(server_fn));
    let with_session = pages.merge(api).layer(from_fn_with_state(state.clone(), resolve_actor)).layer(sessions);

    Router::new()
        .route("/healthz", get(healthz))
        .merge(hooks::router())
        .merge(rest::router(state.clone()))
        .merge(with_session)
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(from_fn_with_state(state.clone(), refuse_cross_site))
        .layer(from_fn_with_state(state.clone(), refuse_while_draining))
        .layer(from_fn(catch_panics))
        .layer(from_fn(security_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        // 5xx answers are logged as warnings: the ones that are Berth's fault are logged as errors
        // where they happen, with their cause (a 503 while stopping is not an error).
        .layer(TraceLayer::new_for_http().on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)).make_span_with(|req: &Request<Body>| {
            let client = req.headers().get("x-client-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id = %request_id(req.headers()), client_id = %client, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
        // Outermost: a client's own `x-request-id` never becomes Berth's (it would be stored in the
        // history as the request id); it is kept as `x-client-request-id` for the logs.
        .layer(from_fn(take_client_request_id))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The largest request body Berth reads (a 256 KB template, form-encoded, fits with room to spare).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Runs a registered server function; anything else under `/api` is 404 without touching the domain.
async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> Response {
    let key = (req.uri().path().to_string(), req.method().clone());
    let id = request_id(req.headers());
    if !state.server_fns.contains(&key) {
        let body = serde_json::json!({ "code": "not_found", "message": "no such API endpoint", "error_id": id });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let actor = req.extensions().get::<domain::Actor>().cloned();
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let berth = state.berth.clone();
    let res =
        leptos_axum::handle_server_fns_with_context(move || provide_context(berth.clone()), req).await.into_response();
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    // A 500 the function itself did not choose: the arguments could not be read (missing, of the
    // wrong type, not UTF-8, too large). That is the caller's mistake: 4xx in the error shape.
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let Some(refused) = unreadable_arguments(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let (status, message) = refused;
    if let Some(actor) = actor {
        let error = domain::Error::invalid("arguments", message.clone());
        state.berth.refuse_malformed(&actor, &method, &path, error).await;
    }
    parts.status = status;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid" };
    let body = serde_json::json!({ "code": code, "field": "arguments", "message": message, "error_id": id });
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// The status and message for a server function's own error answer about its arguments, if that is
/// what `body` is (its `request_failed` errors; errors of Berth's own have other codes).
fn unreadable_arguments(body: &[u8]) -> Option<(StatusCode, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v["code"] != "request_failed" {
        return None;
    }
    let message = v["message"].as_str().unwrap_or_default();
    if message.contains("length limit exceeded") {
        let limit = MAX_BODY_BYTES / 1024;
        return Some((StatusCode::PAYLOAD_TOO_LARGE, format!("the request is larger than {limit} KB")));
    }
    let detail = message.rsplit(": ").next().unwrap_or(message);
    Some((StatusCode::BAD_REQUEST, format!("the arguments could not be read: {detail}")))
}

/// While Berth stops, every new request answers 503 (and asks the client to close the connection),
/// so a load balancer or a client retries elsewhere or later instead of meeting a closed socket.
async fn refuse_while_draining(
    State(state): State<AppState>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    if !state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return next.run(req).await;
    }
    let body = serde_json::json!({
        "code": "unavailable", "message": "Berth is stopping; try again in a moment", "error_id": request_id(req.headers()),
    });
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
    res.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    res
}

/// Moves a client's `x-request-id` to `x-client-request-id`, so the request id is always Berth's own.
async fn take_client_request_id(mut req: Request<Body>, next: axum::middleware::Next) -> Response {
    if let Some(client) = req.headers_mut().remove("x-request-id") {
        let kept: String = client
            .to_str()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.:".contains(*c))
            .take(64)
            .collect();
        if let Ok(value) = axum::http::HeaderValue::from_str(&kept) {
            req.headers_mut().insert("x-client-request-id", value);
        }
    }
    next.run(req).await
}

/// Liveness and readiness: 200 when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.berth.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}
