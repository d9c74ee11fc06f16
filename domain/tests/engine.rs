//! The engine adapter against the real dockerd: the overview it reads, and how it behaves when the
//! engine is missing, hangs, and comes back.

use std::path::Path;
use std::time::{Duration, Instant};

use domain::engine::{Endpoint, Engine, EngineError};

use tokio::net::{UnixListener, UnixStream};

const DOCKER_SOCK: &str = "/var/run/docker.sock";

fn docker_cli(args: &[&str]) -> String {
    let out = std::process::Command::new("docker").args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn overview_matches_what_the_engine_says() {
    let engine = Engine::new(Endpoint::parse(&format!("unix://{DOCKER_SOCK}")).unwrap(), Duration::from_secs(5));
    let o = engine.overview().await.unwrap();
    assert_eq!(o.engine_version, docker_cli(&["version", "--format", "{{.Server.Version}}"]));
    assert_eq!(o.api_version, docker_cli(&["version", "--format", "{{.Server.APIVersion}}"]));
    assert_eq!(o.cpus.to_string(), docker_cli(&["info", "--format", "{{.NCPU}}"]));
    assert_eq!(o.kernel, docker_cli(&["info", "--format", "{{.KernelVersion}}"]));
    assert_eq!(o.endpoint, "unix:///var/run/docker.sock");
    assert!(o.memory_bytes > 0);
    let c = o.containers;
    assert_eq!(c.total, c.running + c.paused + c.stopped);
    assert!(["inactive", "active", "pending", "error", "locked"].contains(&o.swarm.state.as_str()));
}

#[tokio::test]
async fn a_missing_socket_is_unreachable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let engine = Engine::new(Endpoint::Unix(sock.display().to_string()), Duration::from_secs(5));
    let started = Instant::now();
    let err = engine.overview().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    let EngineError::Unreachable(message) = err else { panic!("{err:?}") };
    assert!(message.contains(&sock.display().to_string()), "{message}");
}

#[tokio::test]
async fn a_hung_engine_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("hung.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    // Accepts connections and never answers.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let engine = Engine::new(Endpoint::Unix(sock.display().to_string()), Duration::from_millis(800));
    let started = Instant::now();
    let err = engine.overview().await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(700) && took < Duration::from_secs(3), "{took:?}");
    assert!(matches!(&err, EngineError::Unreachable(m) if m.contains("no answer")), "{err:?}");
    hold.abort();
}

/// Forwards every connection on `path` to the real Docker socket.
fn proxy(path: &Path) -> tokio::task::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut docker) = UnixStream::connect(DOCKER_SOCK).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut docker).await;
                }
            });
        }
    })
}

#[tokio::test]
async fn recovers_when_the_engine_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("flaky.sock");
    let engine = Engine::new(Endpoint::Unix(sock.display().to_string()), Duration::from_secs(2));
    assert!(matches!(engine.overview().await, Err(EngineError::Unreachable(_))));

    let up = proxy(&sock);
    assert!(engine.overview().await.is_ok(), "answers once the socket is there");

    // Down again: the socket is gone and connections are refused.
    up.abort();
    let _ = up.await;
    std::fs::remove_file(&sock).unwrap();
    assert!(matches!(engine.overview().await, Err(EngineError::Unreachable(_))));

    let _up = proxy(&sock);
    assert!(engine.overview().await.is_ok(), "and again");
}
