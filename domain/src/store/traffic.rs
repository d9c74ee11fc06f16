//! Request samples from the routers (`routing/traffic.rs` makes them): one row per route and side
//! per collection interval, summed over the cluster's routers, read back as chart series, as the
//! newest collection (the release panel, `/metrics`) and as a window of one side (a progressive
//! release's verdict).
//!
//! No minute rollups: samples are kept as long as raw metric samples (`metrics_raw_retention`, six
//! hours by default) and a chart over that long reads them directly in about 360 steps. A rollup
//! worth keeping for longer would have to merge latency histograms (a p99 of averages is no p99),
//! which is left until someone needs charts of requests over days.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

/// One side of one route over one collection interval, summed over the routers that answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TrafficSample {
    pub cluster_id: i64,
    /// When the interval ended (Unix ms).
    pub ts: i64,
    /// `app/service:port`.
    pub route: String,
    pub app: String,
    /// The side: the service the requests went to.
    pub service: String,
    pub interval_ms: i64,
    pub requests: i64,
    pub status5xx: i64,
    pub status4xx: i64,
    /// Requests the routers answered themselves (502) because no backend could take them.
    pub failed: i64,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub err4xx_pct: f64,
    pub failed_ps: f64,
    /// None for an interval without requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The interval's latency histogram: counts per bucket of `router::BUCKETS_MS` (and one above),
    /// comma-separated.
    pub latency: String,
}

/// One step of a chart of one route's side: rates averaged over the step, the 5xx and 4xx shares
/// of all its requests, p50 averaged over the intervals that had requests, the highest p99.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TrafficRow {
    pub route: String,
    pub app: String,
    pub service: String,
    pub ts: i64,
    pub requests: i64,
    pub rps: f64,
    pub err5xx_pct: f64,
    pub err4xx_pct: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

const COLUMNS: &str = "cluster_id, ts, route, app, service, interval_ms, requests, status5xx, status4xx, failed, rps, \
    err5xx_pct, err4xx_pct, failed_ps, p50_ms, p99_ms, latency";

/// Rows per INSERT statement (17 parameters each, well under both backends' limits).
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Writes one collection's samples in one transaction.
    pub async fn traffic_insert(&self, samples: &[TrafficSample]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for chunk in samples.chunks(ROWS_PER_INSERT) {
            let sql = format!("INSERT INTO traffic_samples ({COLUMNS}) VALUES {}", self.values(chunk.len(), 17));
            let mut query = sqlx::query(&sql);
            for s in chunk {
                query = query
                    .bind(s.cluster_id)
                    .bind(s.ts)
                    .bind(&s.route)
                    .bind(&s.app)
                    .bind(&s.service)
                    .bind(s.interval_ms)
                    .bind(s.requests)
                    .bind(s.status5xx)
                    .bind(s.status4xx)
                    .bind(s.failed)
                    .bind(s.rps)
                    .bind(s.err5xx_pct)
                    .bind(s.err4xx_pct)
                    .bind(s.failed_ps)
                    .bind(s.p50_ms)
                    .bind(s.p99_ms)
                    .bind(&s.latency);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every route's sides (of one app, or all) in `[from, to)`, in steps of `step` ms, by route,
    /// side and time.
    pub async fn traffic_series(
        &self,
        cluster: i64,
        app: Option<&str>,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<TrafficRow>> {
        let step = step.max(1);
        // The shares are of the step's requests (CAST: PostgreSQL's SUM of BIGINT is NUMERIC).
        let share = |column: &str| {
            format!(
                "CAST(CASE WHEN SUM(requests) > 0 THEN 100.0 * SUM({column}) / SUM(requests) ELSE 0 END \
                 AS DOUBLE PRECISION)"
            )
        };
        let sql = format!(
            "SELECT route, app, service, (ts / {step}) * {step} AS ts, CAST(SUM(requests) AS BIGINT) AS requests, \
             AVG(rps) AS rps, {} AS err5xx_pct, {} AS err4xx_pct, AVG(p50_ms) AS p50_ms, MAX(p99_ms) AS p99_ms \
             FROM traffic_samples WHERE cluster_id = $1 AND ts >= $2 AND ts < $3{} \
             GROUP BY route, app, service, (ts / {step}) * {step} ORDER BY route, service, 4",
            share("status5xx"),
            share("status4xx"),
            if app.is_some() { " AND app = $4" } else { "" },
        );
        let query = sqlx::query_as(&sql).bind(cluster).bind(from).bind(to);
        let query = match app {
            Some(app) => query.bind(app),
            None => query,
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// The newest collection's samples of a cluster (of one app, or all), by route and side.
    pub async fn traffic_latest(&self, cluster: i64, app: Option<&str>) -> Result<Vec<TrafficSample>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM traffic_samples WHERE cluster_id = $1 \
             AND ts = (SELECT MAX(ts) FROM traffic_samples WHERE cluster_id = $1){} ORDER BY route, service",
            if app.is_some() { " AND app = $2" } else { "" },
        );
        let query = sqlx::query_as(&sql).bind(cluster);
        let query = match app {
            Some(app) => query.bind(app),
            None => query,
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// One side's samples newer than `since` (exclusive), oldest first: of one route when
    /// `route_or_app` names a route (`app/service:port`), else of every route of that app.
    pub async fn traffic_window(
        &self,
        cluster: i64,
        route_or_app: &str,
        side: &str,
        since: i64,
    ) -> Result<Vec<TrafficSample>> {
        let column = if route_or_app.contains('/') { "route" } else { "app" };
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM traffic_samples WHERE cluster_id = $1 AND {column} = $2 AND service = $3 \
             AND ts > $4 ORDER BY ts, route"
        ))
        .bind(cluster)
        .bind(route_or_app)
        .bind(side)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes samples older than `before`.
    pub async fn traffic_expire(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM traffic_samples WHERE ts < $1").bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Forgets a deleted cluster's samples.
    pub async fn traffic_forget_cluster(&self, cluster: i64) -> Result<()> {
        sqlx::query("DELETE FROM traffic_samples WHERE cluster_id = $1").bind(cluster).execute(&self.pool).await?;
        Ok(())
    }
}
