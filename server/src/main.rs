//! `berth`: starts the console on the embedded default (SQLite in `./data`, the local Docker engine)
//! or as configured. See README.md.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use berth::{Server, Settings};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: berth [--config FILE]\n       berth verify-history [--config FILE]\n\n\
Starts the Berth console. Settings come from FILE (or $BERTH_CONFIG, or ./berth.toml),\n\
then BERTH_* environment variables; see README.md.\n\n\
verify-history recomputes the operation history's hash chain and exits 1 when a row was\n\
changed, inserted or removed (it prints the first broken row and the chain's head).";

/// What the command line asks for.
struct Command {
    config: Option<PathBuf>,
    verify_history: bool,
}

fn parse_args() -> anyhow::Result<Command> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    let mut verify_history = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "verify-history" => verify_history = true,
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
    Ok(Command { config, verify_history })
}

/// `berth verify-history`: the chain's verdict on stdout, exit status 1 when it is broken.
#[allow(clippy::print_stdout)]
async fn verify_history(settings: &Settings) -> anyhow::Result<()> {
    let store = domain::store::Store::open(&settings.database_url()).await.context("opening the database")?;
    let report = store.verify_chain().await.context("reading the history")?;
    store.close().await;
    println!("rows checked: {}", report.rows);
    println!("head: row {} hash {}", report.head_id, report.head_hash);
    match report.broken {
        None => {
            println!("the operation history is intact");
            Ok(())
        }
        Some(b) => {
            println!("TAMPERED: row {}: {}", b.id, b.reason);
            std::process::exit(1);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = parse_args()?;
    let settings = Settings::load(command.config.as_deref())?;
    if command.verify_history {
        return verify_history(&settings).await;
    }
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
