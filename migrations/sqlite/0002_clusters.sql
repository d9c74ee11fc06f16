-- Clusters (swarms), their nodes, long-running jobs with progress, and installation settings.
-- Keep in step with ../postgres/0002_clusters.sql.

CREATE TABLE clusters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    provider   TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    message    TEXT    NOT NULL DEFAULT '',
    zones      TEXT    NOT NULL,
    swarm_id   TEXT    NOT NULL DEFAULT '',
    network    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE nodes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id     INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    endpoint       TEXT    NOT NULL,
    container      TEXT    NOT NULL DEFAULT '',
    address        TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL,
    zone           TEXT    NOT NULL DEFAULT '',
    swarm_node_id  TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL,
    availability   TEXT    NOT NULL DEFAULT 'active',
    leader         INTEGER NOT NULL DEFAULT 0,
    engine_version TEXT    NOT NULL DEFAULT '',
    nano_cpus      INTEGER NOT NULL DEFAULT 0,
    memory_bytes   INTEGER NOT NULL DEFAULT 0,
    labels         TEXT    NOT NULL DEFAULT '{}',
    message        TEXT    NOT NULL DEFAULT '',
    seen_at        INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    UNIQUE (cluster_id, name)
);

-- Multi-step work (creating a cluster, adding or removing nodes, deleting a cluster) with its progress.
-- No foreign key: a job's record outlives the cluster it deleted.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    cluster_id  INTEGER,
    target      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    steps       TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    actor_name  TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX jobs_by_cluster ON jobs (cluster_id, status);

CREATE TABLE install_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
