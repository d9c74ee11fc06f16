//! Layer 4: a TCP listener per front port of the table, each connection forwarded to one of the
//! route's backends (round robin over the usable ones; a refusing backend is ejected and the next
//! one tried). Listeners open and close as tables come and go; a port that stays keeps its listener
//! and its open connections, only the backends it picks from change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpStream};

use crate::pick;
use crate::proxy::Router;
use crate::table::TcpRoute;

#[derive(Default)]
pub struct L4 {
    ports: Mutex<HashMap<u16, Port>>,
}

struct Port {
    target: Arc<ArcSwap<TcpRoute>>,
    /// Why the port could not be opened; None while it listens.
    error: Option<String>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Port {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl L4 {
    /// Makes the listeners match `routes`: new ports opened, gone ones closed, kept ones retargeted.
    pub fn sync(&self, router: &Router, routes: &[TcpRoute]) {
        let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        ports.retain(|port, _| routes.iter().any(|r| r.port == *port));
        for route in routes {
            if let Some(p) = ports.get_mut(&route.port) {
                p.target.store(Arc::new(route.clone()));
                if p.error.is_none() {
                    continue;
                }
            }
            let target = Arc::new(ArcSwap::from_pointee(route.clone()));
            let port = match bind(router.opts.tcp_bind, route.port) {
                Ok(listener) => {
                    let task = tokio::spawn(accept(listener, target.clone(), router.me()));
                    Port { target, error: None, task: Some(task) }
                }
                Err(e) => {
                    tracing::warn!(port = route.port, %e, "a TCP route's port cannot be opened");
                    Port { target, error: Some(e.to_string()), task: None }
                }
            };
            ports.insert(route.port, port);
        }
    }

    pub fn error(&self, port: u16) -> Option<String> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner()).get(&port).and_then(|p| p.error.clone())
    }
}

fn bind(ip: std::net::IpAddr, port: u16) -> std::io::Result<TcpListener> {
    let std = std::net::TcpListener::bind((ip, port))?;
    std.set_nonblocking(true)?;
    TcpListener::from_std(std)
}

async fn accept(listener: TcpListener, target: Arc<ArcSwap<TcpRoute>>, router: Weak<Router>) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let mut client = match listener.accept().await {
            Ok((c, _)) => c,
            Err(_) => {
                // Out of descriptors or similar: wait a little instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(r) = router.upgrade() else { return };
        let route = target.load_full();
        let next = next.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let mut tried = Vec::new();
            for _ in 0..3 {
                let start = next.fetch_add(1, Ordering::Relaxed);
                let usable = |i: usize| !tried.contains(&i) && r.health.usable(&route.backends[i]);
                let Some(i) = pick::round_robin(route.backends.len(), start, usable) else { return };
                let addr = route.backends[i].addr;
                match tokio::time::timeout(r.opts.connect_timeout, TcpStream::connect(addr)).await {
                    Ok(Ok(mut backend)) => {
                        let _ = backend.set_nodelay(true);
                        drop(r);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                        return;
                    }
                    _ => {
                        r.health.eject(addr);
                        tried.push(i);
                    }
                }
            }
        });
    }
}
