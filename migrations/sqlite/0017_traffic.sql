-- Request metrics from the routers (berth-router), one row per route and side (a side is one service;
-- a route in a blue-green release has two) per collection interval (about 5 s), summed over every
-- router that answered: the interval's counts (requests, 5xx, 4xx, failed: answered by the router
-- because no backend could take the request), the rates and shares computed from them, p50 and p99
-- latency in ms (NULL for an interval without requests), and the interval's latency histogram (counts
-- per bucket of the router's BUCKETS_MS, comma-separated) so a window's quantiles are computed from
-- merged histograms rather than averaged. Kept as long as raw metric samples; no minute rollups (see
-- domain/src/store/traffic.rs). Keep in step with ../postgres/0017_traffic.sql.
CREATE TABLE traffic_samples (
    cluster_id  INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    route       TEXT    NOT NULL,
    app         TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    interval_ms INTEGER NOT NULL,
    requests    INTEGER NOT NULL,
    status5xx   INTEGER NOT NULL,
    status4xx   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    rps         REAL    NOT NULL,
    err5xx_pct  REAL    NOT NULL,
    err4xx_pct  REAL    NOT NULL,
    failed_ps   REAL    NOT NULL,
    p50_ms      REAL,
    p99_ms      REAL,
    latency     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX traffic_samples_by_app ON traffic_samples (cluster_id, app, ts);
CREATE INDEX traffic_samples_by_cluster ON traffic_samples (cluster_id, ts);
CREATE INDEX traffic_samples_by_time ON traffic_samples (ts);
