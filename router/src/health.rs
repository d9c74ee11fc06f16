//! Which backends may get requests besides being in the table: one that refused a connection is
//! ejected for a few seconds (passive), and one with a probe path gets requests only while its last
//! probe answered 2xx or 3xx (active, checked by the router itself every `probe_every`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub use crate::api::BackendState;
use crate::table::Backend;

pub struct Health {
    eject_for: Duration,
    ejected: RwLock<HashMap<SocketAddr, Instant>>,
    /// The last probe's verdict per backend address and probe path; absent until the first probe.
    probed: RwLock<HashMap<(SocketAddr, String), bool>>,
}

impl Health {
    pub fn new(eject_for: Duration) -> Health {
        Health { eject_for, ejected: RwLock::default(), probed: RwLock::default() }
    }

    pub fn usable(&self, b: &Backend) -> bool {
        self.state(b) == BackendState::Up
    }

    pub fn state(&self, b: &Backend) -> BackendState {
        if let Some(path) = &b.probe {
            match read(&self.probed).get(&(b.addr, path.clone())) {
                None => return BackendState::ProbePending,
                Some(false) => return BackendState::ProbeFailing,
                Some(true) => {}
            }
        }
        let ejected = read(&self.ejected);
        if !ejected.is_empty() && ejected.get(&b.addr).is_some_and(|until| *until > Instant::now()) {
            return BackendState::Ejected;
        }
        BackendState::Up
    }

    /// A connection to `addr` failed: no requests go there until `eject_for` has passed.
    pub fn eject(&self, addr: SocketAddr) {
        let now = Instant::now();
        let mut ejected = self.ejected.write().unwrap_or_else(|e| e.into_inner());
        ejected.retain(|_, until| *until > now);
        ejected.insert(addr, now + self.eject_for);
    }

    pub fn set_probe(&self, addr: SocketAddr, path: &str, ok: bool) {
        self.probed.write().unwrap_or_else(|e| e.into_inner()).insert((addr, path.to_owned()), ok);
    }

    /// Forgets probe verdicts of backends no table names any more.
    pub fn retain_probes(&self, keep: impl Fn(&(SocketAddr, String)) -> bool) {
        self.probed.write().unwrap_or_else(|e| e.into_inner()).retain(|k, _| keep(k));
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}
