//! The `berth` server: settings, the axum router (Leptos pages, server functions, static files),
//! sessions, and the security middleware around them. [`Server::serve`] takes a bound listener and a
//! shutdown future, so tests run it on port 0 and stop it without sleeping.

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
use axum::extract::{FromRef, State};
use axum::http::{Method, Request, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

    /// Serves until `shutdown` resolves, then lets requests in flight finish and closes the store.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = self.router();
        let berth = self.state.berth.clone();
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
    let api = Router::new().route("/api/{*name}", post(server_fn));
    let with_session = pages.merge(api).layer(from_fn_with_state(state.clone(), resolve_actor)).layer(sessions);

    Router::new()
        .route("/healthz", get(healthz))
        .merge(rest::router())
        .merge(with_session)
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(from_fn_with_state(state.clone(), refuse_cross_site))
        .layer(from_fn(catch_panics))
        .layer(from_fn(security_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
            tracing::info_span!("request", id = %request_id(req.headers()), method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
        .with_state(state)
}

/// Runs a registered server function; anything else under `/api` is 404 without touching the domain.
async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> Response {
    let key = (req.uri().path().to_string(), req.method().clone());
    if !state.server_fns.contains(&key) {
        let body = serde_json::json!({
            "code": "not_found",
            "message": "no such API endpoint",
            "error_id": request_id(req.headers()),
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let berth = state.berth.clone();
    leptos_axum::handle_server_fns_with_context(move || provide_context(berth.clone()), req).await.into_response()
}

/// Liveness and readiness: 200 when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.berth.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}
