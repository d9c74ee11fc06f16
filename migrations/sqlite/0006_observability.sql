-- Observability: the hash-chained operation history, metric samples and rollups, collected logs with
-- full-text search, engine events, alert rules and their history.
-- Keep in step with ../postgres/0006_observability.sql.

-- The history's chain: each row's hash covers its fields and the previous row's hash, so changing,
-- inserting or removing a row breaks every later link. Rows written before this migration are
-- chained by Berth at start (their hash is NULL until then).
ALTER TABLE operations ADD COLUMN cluster_id INTEGER;
ALTER TABLE operations ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN prev_hash TEXT;
ALTER TABLE operations ADD COLUMN hash TEXT;
CREATE INDEX operations_by_cluster ON operations (cluster_id, id);
CREATE TRIGGER operations_no_delete BEFORE DELETE ON operations
BEGIN SELECT RAISE(ABORT, 'the operation history is append-only'); END;
CREATE TRIGGER operations_no_update BEFORE UPDATE ON operations WHEN OLD.hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the operation history is append-only'); END;

-- Raw samples, one per container per collection and the sums per service, node and cluster.
-- `scope` is container | service | node | cluster; `key` the container id, service name, node id or ''.
-- Rates are per second; cpu is percent of one core (like `docker stats`).
CREATE TABLE metric_samples (
    cluster_id INTEGER NOT NULL,
    scope      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    ts         INTEGER NOT NULL,
    cpu        REAL    NOT NULL,
    mem        REAL    NOT NULL,
    mem_limit  REAL    NOT NULL,
    net_rx     REAL    NOT NULL,
    net_tx     REAL    NOT NULL,
    blk_read   REAL    NOT NULL,
    blk_write  REAL    NOT NULL
);
CREATE INDEX metric_samples_by_series ON metric_samples (cluster_id, scope, key, ts);
CREATE INDEX metric_samples_by_time ON metric_samples (ts);

-- One-minute averages (and maxima of cpu and memory), kept longer than the raw samples.
CREATE TABLE metric_rollups (
    cluster_id INTEGER NOT NULL,
    scope      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    bucket     INTEGER NOT NULL,
    cpu        REAL    NOT NULL,
    cpu_max    REAL    NOT NULL,
    mem        REAL    NOT NULL,
    mem_max    REAL    NOT NULL,
    mem_limit  REAL    NOT NULL,
    net_rx     REAL    NOT NULL,
    net_tx     REAL    NOT NULL,
    blk_read   REAL    NOT NULL,
    blk_write  REAL    NOT NULL,
    PRIMARY KEY (cluster_id, scope, key, bucket)
);
CREATE INDEX metric_rollups_by_time ON metric_rollups (bucket);

-- Container log lines collected from every node; they outlive their containers until retention.
-- `ts` is nanoseconds (the engine's timestamp), `app` the stack namespace ('' outside apps).
CREATE TABLE log_lines (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id   INTEGER NOT NULL,
    node_id      INTEGER NOT NULL,
    app          TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    container_id TEXT    NOT NULL,
    task         TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    stream       TEXT    NOT NULL,
    line         TEXT    NOT NULL
);
CREATE INDEX log_lines_by_service ON log_lines (cluster_id, service, ts);
CREATE INDEX log_lines_by_container ON log_lines (container_id, ts);
CREATE INDEX log_lines_by_time ON log_lines (ts);
CREATE VIRTUAL TABLE log_search USING fts5 (line, content = 'log_lines', content_rowid = 'id');
CREATE TRIGGER log_lines_indexed AFTER INSERT ON log_lines
BEGIN INSERT INTO log_search (rowid, line) VALUES (new.id, new.line); END;
CREATE TRIGGER log_lines_unindexed AFTER DELETE ON log_lines
BEGIN INSERT INTO log_search (log_search, rowid, line) VALUES ('delete', old.id, old.line); END;

-- Engine and swarm events (and Berth's own observations) per cluster, for the timelines.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    app        TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    message    TEXT    NOT NULL
);
CREATE INDEX events_by_cluster ON events (cluster_id, ts);
CREATE INDEX events_by_time ON events (ts);

-- Alert rules: kind metric (scope/subject/metric/threshold/for_secs), replicas (a service below its
-- desired count for for_secs) or node_down.
CREATE TABLE alert_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    metric     TEXT    NOT NULL,
    threshold  REAL    NOT NULL,
    for_secs   INTEGER NOT NULL,
    webhook    TEXT    NOT NULL,
    enabled    INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (cluster_id, name)
);

-- Each firing of a rule, resolved or not. Kept when the rule is deleted (it names the rule).
CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id     INTEGER NOT NULL,
    rule_name   TEXT    NOT NULL,
    cluster_id  INTEGER NOT NULL,
    fired_at    INTEGER NOT NULL,
    resolved_at INTEGER,
    value       REAL    NOT NULL,
    message     TEXT    NOT NULL,
    delivery    TEXT    NOT NULL
);
CREATE INDEX alert_events_by_cluster ON alert_events (cluster_id, fired_at);
CREATE INDEX alert_events_open ON alert_events (rule_id, resolved_at);
