//! One doer per piece of background work when several replicas share a PostgreSQL database.
//!
//! A cluster's reconcile and collection loops (and its alert evaluation) and the store's
//! maintenance run in every process, but each tick does its work only while the process holds the
//! work's lease: a row in `leases` naming the holder and when it lapses. The holder renews it on
//! every tick; when it stops (shut down: leases released at once; crashed or cut off: after the
//! time to live) the next replica to tick takes it. Ticks are level-triggered, so a replica taking
//! over just carries on. On SQLite there is one process per database file and no leases.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::store::Backend;
use crate::Berth;

/// The lease of a cluster's background loops.
pub(crate) fn cluster(id: i64) -> String {
    crate::store::cluster_lease(id)
}

/// The lease of rollups and retention.
pub(crate) const MAINTENANCE: &str = "maintenance";

/// A name for this process among the replicas: host, process id and random bits (a restarted
/// process is a new holder).
pub(crate) fn instance_name() -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{}{}{}-{}", host, if host.is_empty() { "" } else { "-" }, std::process::id(), hex::encode(bytes))
}

impl Berth {
    /// Spawns a background loop: `tick` every `period` (a late tick is delayed, not doubled) until
    /// `stop_background`, which lets a tick in progress finish — an aborted query could still
    /// reach the database after the leases are released.
    pub(crate) fn every<F, Fut>(&self, period: Duration, mut tick: F) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => tick().await,
                    _ = async { stop.wait_for(|stopping| *stopping).await.is_ok() } => return,
                }
            }
        })
    }

    /// Whether `stop_background` was called: loops are no longer started.
    pub(crate) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// This process's name in leases and in the collections it writes.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// How long a process's heartbeat (`instance:` lease, renewed every reconcile interval) lasts
    /// without renewal: three heartbeats. Once it lapses, the process's jobs and claims are another
    /// replica's to recover — after a crash, within seconds rather than a collection interval.
    pub(crate) fn heartbeat_ttl(&self) -> Duration {
        3 * self.config.reconcile_every
    }

    /// How long a cluster's lease lasts without renewal: three ticks of its slower loop.
    pub(crate) fn cluster_lease_ttl(&self) -> Duration {
        3 * self.config.reconcile_every.max(self.config.collect_every)
    }

    /// Whether this process may do the work of lease `name` now (taking or renewing it for `ttl`).
    /// A store error counts as "no": the tick is skipped, the next one asks again.
    pub(crate) async fn hold_lease(&self, name: &str, ttl: Duration) -> bool {
        if self.store.backend() == Backend::Sqlite {
            return true;
        }
        let now = now_ms();
        match self.store.lease_hold(name, &self.instance, now, now + ttl.as_millis() as i64).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "could not take or renew a lease");
                false
            }
        }
    }

    /// Gives up every lease this process holds (on shutdown), so other replicas carry on at once.
    pub(crate) async fn release_leases(&self) {
        if let Err(e) = self.store.lease_release("", &self.instance).await {
            tracing::warn!(error = %e, "could not release leases");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_names_differ() {
        assert_ne!(super::instance_name(), super::instance_name());
    }
}
