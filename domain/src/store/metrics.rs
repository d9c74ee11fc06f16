//! Metric samples and their one-minute rollups.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

/// One sample of one series. Rates are per second; cpu is percent of one core.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub cluster_id: i64,
    pub scope: String,
    pub key: String,
    pub ts: i64,
    pub cpu: f64,
    pub mem: f64,
    pub mem_limit: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub blk_read: f64,
    pub blk_write: f64,
}

/// A point of a chart: the average over its step (and the highest cpu in it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Point {
    pub ts: i64,
    pub cpu: f64,
    pub cpu_max: f64,
    pub mem: f64,
    pub mem_limit: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub blk_read: f64,
    pub blk_write: f64,
}

/// Rows per INSERT statement (11 parameters each, well under both backends' limits).
const ROWS_PER_INSERT: usize = 500;

/// Where a series is read from.
#[derive(Clone, Copy)]
enum Source {
    Raw,
    Rollups,
}

impl Store {
    /// Writes a batch of samples in one transaction, in the order of the series index (each index
    /// page is then visited once per batch rather than once per row: about a quarter faster on SQLite).
    pub async fn metric_insert(&self, samples: &[Sample]) -> Result<()> {
        let mut sorted: Vec<&Sample> = samples.iter().collect();
        sorted.sort_by(|a, b| (a.cluster_id, &a.scope, &a.key, a.ts).cmp(&(b.cluster_id, &b.scope, &b.key, b.ts)));
        let mut tx = self.write().await?;
        for chunk in sorted.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO metric_samples (cluster_id, scope, key, ts, cpu, mem, mem_limit, net_rx, net_tx, blk_read, \
                 blk_write) VALUES {}",
                self.values(chunk.len(), 11)
            );
            let mut query = sqlx::query(&sql);
            for s in chunk {
                query = query
                    .bind(s.cluster_id)
                    .bind(&s.scope)
                    .bind(&s.key)
                    .bind(s.ts)
                    .bind(s.cpu)
                    .bind(s.mem)
                    .bind(s.mem_limit)
                    .bind(s.net_rx)
                    .bind(s.net_tx)
                    .bind(s.blk_read)
                    .bind(s.blk_write);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many raw samples are stored (benchmarks and tests wait on it for the batching writer).
    pub async fn metric_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM metric_samples").fetch_one(&self.pool).await?)
    }

    /// Averages the raw samples of whole minutes in `[from, to)` into rollups (a minute already rolled
    /// up is left as it is).
    pub async fn metric_rollup(&self, from: i64, to: i64) -> Result<u64> {
        let done = sqlx::query(
            "INSERT INTO metric_rollups (cluster_id, scope, key, bucket, cpu, cpu_max, mem, mem_max, mem_limit, \
             net_rx, net_tx, blk_read, blk_write) \
             SELECT cluster_id, scope, key, (ts / 60000) * 60000, AVG(cpu), MAX(cpu), AVG(mem), MAX(mem), \
             MAX(mem_limit), AVG(net_rx), AVG(net_tx), AVG(blk_read), AVG(blk_write) \
             FROM metric_samples WHERE ts >= $1 AND ts < $2 \
             GROUP BY cluster_id, scope, key, (ts / 60000) * 60000 \
             ON CONFLICT (cluster_id, scope, key, bucket) DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Where rolling up resumes: the minute after the newest rollup, or the oldest raw sample's.
    pub async fn metric_rollup_start(&self) -> Result<Option<i64>> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(bucket) FROM metric_rollups").fetch_one(&self.pool).await?;
        if let Some(last) = last {
            return Ok(Some(last + 60_000));
        }
        let first: Option<i64> = sqlx::query_scalar("SELECT MIN(ts) FROM metric_samples").fetch_one(&self.pool).await?;
        Ok(first.map(|t| t / 60_000 * 60_000))
    }

    /// Deletes raw samples older than `raw_before` and rollups older than `rollup_before`.
    pub async fn metric_expire(&self, raw_before: i64, rollup_before: i64) -> Result<u64> {
        let raw = sqlx::query("DELETE FROM metric_samples WHERE ts < $1").bind(raw_before).execute(&self.pool).await?;
        let rolled =
            sqlx::query("DELETE FROM metric_rollups WHERE bucket < $1").bind(rollup_before).execute(&self.pool).await?;
        Ok(raw.rows_affected() + rolled.rows_affected())
    }

    /// One series from the raw samples, averaged over steps of `step` ms.
    pub async fn metric_raw_series(
        &self,
        cluster: i64,
        scope: &str,
        key: &str,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<Point>> {
        self.metric_series(Source::Raw, (cluster, scope, key), from, to, step.max(1)).await
    }

    /// One series from the rollups, averaged over steps of `step` ms (a multiple of a minute).
    pub async fn metric_rollup_series(
        &self,
        cluster: i64,
        scope: &str,
        key: &str,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<Point>> {
        self.metric_series(Source::Rollups, (cluster, scope, key), from, to, step.max(60_000)).await
    }

    async fn metric_series(
        &self,
        source: Source,
        (cluster, scope, key): (i64, &str, &str),
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<Point>> {
        // A rollup's highest cpu is its own column; a raw sample's is its cpu.
        let (table, time, cpu_max) = match source {
            Source::Raw => ("metric_samples", "ts", "cpu"),
            Source::Rollups => ("metric_rollups", "bucket", "cpu_max"),
        };
        Ok(sqlx::query_as(&format!(
            "SELECT ({time} / {step}) * {step} AS ts, AVG(cpu) AS cpu, MAX({cpu_max}) AS cpu_max, AVG(mem) AS mem, \
             MAX(mem_limit) AS mem_limit, AVG(net_rx) AS net_rx, AVG(net_tx) AS net_tx, AVG(blk_read) AS blk_read, \
             AVG(blk_write) AS blk_write FROM {table} \
             WHERE cluster_id = $1 AND scope = $2 AND key = $3 AND {time} >= $4 AND {time} < $5 \
             GROUP BY ({time} / {step}) * {step} ORDER BY 1"
        ))
        .bind(cluster)
        .bind(scope)
        .bind(key)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets a deleted cluster's metrics.
    pub async fn metric_forget_cluster(&self, cluster: i64) -> Result<()> {
        sqlx::query("DELETE FROM metric_samples WHERE cluster_id = $1").bind(cluster).execute(&self.pool).await?;
        sqlx::query("DELETE FROM metric_rollups WHERE cluster_id = $1").bind(cluster).execute(&self.pool).await?;
        Ok(())
    }
}
