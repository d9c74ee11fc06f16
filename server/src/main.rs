//! `berth`: starts the console on the embedded default (SQLite in `./data`, the local Docker engine)
//! or as configured. See README.md.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use berth::{Server, Settings};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: berth [--config FILE]\n\n\
Starts the Berth console. Settings come from FILE (or $BERTH_CONFIG, or ./berth.toml),\n\
then BERTH_* environment variables; see README.md.";

fn config_arg() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => config = Some(PathBuf::from(args.next().context("--config needs a file")?)),
            "--help" | "-h" => {
                #[allow(clippy::print_stdout)]
                {
                    println!("{USAGE}");
                }
                std::process::exit(0);
            }
            "--version" | "-V" => {
                #[allow(clippy::print_stdout)]
                {
                    println!("berth {}", env!("CARGO_PKG_VERSION"));
                }
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(config_arg()?.as_deref())?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&settings.log).context("the log setting")?)
        .with_writer(std::io::stderr)
        .init();
    tracing::debug!(?settings, "settings");

    let listen = settings.listen;
    let server = Server::open(settings).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    #[allow(clippy::print_stdout)]
    {
        if let Some(link) = server.bootstrap_link(addr) {
            println!(
                "\nBerth has no admin yet. Open this one-time link within {} minutes to create one:\n\n    {link}\n",
                server.bootstrap_minutes()
            );
        }
        println!("Berth is listening on http://{addr}");
    }
    server.serve(listener, shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
