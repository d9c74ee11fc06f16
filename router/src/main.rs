//! The berth-router binary: reads its settings from the environment (it runs as a swarm service
//! whose spec Berth writes), opens the client listeners and the admin port, serves until SIGTERM
//! or SIGINT, then drains open connections.
//!
//! - `BERTH_ROUTER_HTTP` (default `0.0.0.0:80`), `BERTH_ROUTER_HTTPS` (`0.0.0.0:443`),
//!   `BERTH_ROUTER_ADMIN` (`0.0.0.0:9443`): listen addresses; an empty value turns one off;
//! - `BERTH_ROUTER_TLS_DIR` (`/run/secrets`): `berth-router-ca.pem`, `berth-router-cert.pem` and
//!   `berth-router-key.pem`, the admin port's CA and certificate;
//! - `BERTH_ROUTER_STATE` (`/var/lib/berth-router/table.json`): where the last table is kept;
//! - `BERTH_ROUTER_LOG` (`info`): the log filter.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use router::proxy::{Options, Router};
use tokio::net::TcpListener;

/// mimalloc rather than musl's malloc, which the static build would otherwise use (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn addr(name: &str, default: &str) -> Result<Option<SocketAddr>, String> {
    let v = setting(name, default);
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|e| format!("{name}={v}: {e}"))
}

fn main() {
    if let Err(e) = run() {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(setting("BERTH_ROUTER_LOG", "info")))
        .init();
    let http = addr("BERTH_ROUTER_HTTP", "0.0.0.0:80")?;
    let https = addr("BERTH_ROUTER_HTTPS", "0.0.0.0:443")?;
    let admin = addr("BERTH_ROUTER_ADMIN", "0.0.0.0:9443")?;
    let tls_dir = PathBuf::from(setting("BERTH_ROUTER_TLS_DIR", "/run/secrets"));
    let state = setting("BERTH_ROUTER_STATE", "/var/lib/berth-router/table.json");
    if let Some(dir) = PathBuf::from(&state).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let opts = Options {
        reserved_ports: [http, https, admin].iter().flatten().map(|a| a.port()).collect(),
        state_file: (!state.is_empty()).then(|| PathBuf::from(state)),
        ..Options::default()
    };
    let router = Router::new(opts);
    router.spawn_background();
    let (stop_tx, stop) = watch::channel(false);
    let drain = Duration::from_secs(10);
    let mut tasks = Vec::new();
    let bind = |a: SocketAddr| async move { TcpListener::bind(a).await.map_err(|e| format!("listen on {a}: {e}")) };
    if let Some(a) = http {
        tasks.push(tokio::spawn(router::serve::serve(router.clone(), bind(a).await?, None, stop.clone(), drain)));
    }
    if let Some(a) = https {
        let acceptor = TlsAcceptor::from(router::tls::public_config(router_live(&router)));
        tasks.push(tokio::spawn(router::serve::serve(
            router.clone(),
            bind(a).await?,
            Some(acceptor),
            stop.clone(),
            drain,
        )));
    }
    if let Some(a) = admin {
        let read = |f: &str| {
            std::fs::read_to_string(tls_dir.join(f)).map_err(|e| format!("{}: {e}", tls_dir.join(f).display()))
        };
        let config = router::tls::admin_config(
            &read("berth-router-ca.pem")?,
            &read("berth-router-cert.pem")?,
            &read("berth-router-key.pem")?,
        )?;
        let listener = bind(a).await?;
        tasks.push(tokio::spawn(router::admin::serve_admin(
            router.clone(),
            listener,
            TlsAcceptor::from(config),
            stop.clone(),
        )));
    }
    tracing::info!(?http, ?https, ?admin, version = router.version(), "berth-router serving");
    shutdown_signal().await;
    tracing::info!("stopping: draining open connections");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn router_live(router: &Arc<Router>) -> Arc<arc_swap::ArcSwap<router::live::Live>> {
    router.live_handle()
}

async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
