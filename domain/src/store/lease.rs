//! Leases on background work shared by the replicas of one database, and each cluster's newest
//! collection.

use super::Store;
use crate::error::Result;

impl Store {
    /// Takes or renews the lease `name` for `holder` until `expires_at` (ms): granted when nobody
    /// holds it, `holder` already does, or the last holder let it lapse (`expires_at <= now`).
    pub async fn lease_hold(&self, name: &str, holder: &str, now: i64, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the claim `name` (a cluster or app a job works on) for `holder` unless a live process
    /// holds it: claims do not lapse by time but with their holder's `instance:` lease. `token`
    /// (kept in `expires_at`, unused by claims) tells this claim from an earlier one of the holder.
    pub async fn claim_take(&self, name: &str, holder: &str, token: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR NOT EXISTS (SELECT 1 FROM leases alive \
             WHERE alive.name = 'instance:' || leases.holder AND alive.expires_at > $4)",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up a claim, if it is still the one `holder` took with `token`.
    pub async fn claim_drop(&self, name: &str, holder: &str, token: i64) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2 AND expires_at = $3")
            .bind(name)
            .bind(holder)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up the leases `holder` holds whose names start with `prefix` ('' for all), so that
    /// another replica takes the work over at once.
    pub async fn lease_release(&self, prefix: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE holder = $1 AND substr(name, 1, CAST($2 AS INTEGER)) = $3")
            .bind(holder)
            .bind(prefix.len() as i64)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds the lease `name` and until when.
    pub async fn lease(&self, name: &str) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Keeps a cluster's newest collection (JSON), written by `collector`.
    pub async fn metric_latest_put(&self, cluster: i64, ts: i64, collector: &str, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO metric_latest (cluster_id, ts, collector, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cluster_id) DO UPDATE SET ts = excluded.ts, collector = excluded.collector, \
             body = excluded.body",
        )
        .bind(cluster)
        .bind(ts)
        .bind(collector)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A cluster's newest collection: its time, who collected it and the JSON.
    pub async fn metric_latest(&self, cluster: i64) -> Result<Option<(i64, String, String)>> {
        Ok(sqlx::query_as("SELECT ts, collector, body FROM metric_latest WHERE cluster_id = $1")
            .bind(cluster)
            .fetch_optional(&self.pool)
            .await?)
    }
}
