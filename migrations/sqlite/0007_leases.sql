-- Replicas sharing one database: a cluster's background loops (reconcile, collection, alerts) and
-- the store's maintenance run in the one replica holding their lease; the others take it over
-- when it is not renewed in time. The newest collection of each cluster is kept for every replica.
-- Keep in step with ../postgres/0007_leases.sql.

CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- `body` is the collection as JSON (containers with their labels, sums), for `/metrics`.
CREATE TABLE metric_latest (
    cluster_id INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    collector  TEXT    NOT NULL,
    body       TEXT    NOT NULL
);
