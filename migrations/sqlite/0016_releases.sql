-- Releases: an update that brings the new version's services up beside the old ones under the
-- same routes (blue-green), the weight of the new side, and whether every router serves it yet.
-- `pairs` is JSON [[old service, new service], ...]; `weight` is the new side's share in percent;
-- `served_weight` is the share every router that answers serves (-1 until they do); `plan` is
-- JSON for automatic releases (steps, interval, thresholds). At most one release per app is open
-- (a state other than confirmed, rolled_back). Keep in step with ../postgres/0016_releases.sql.
CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    from_version INTEGER NOT NULL,
    to_version INTEGER NOT NULL,
    method TEXT NOT NULL,
    state TEXT NOT NULL,
    pairs TEXT NOT NULL,
    weight INTEGER NOT NULL DEFAULT 0,
    served_weight INTEGER NOT NULL DEFAULT -1,
    plan TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX releases_app ON releases (app_id, id);
CREATE INDEX releases_cluster ON releases (cluster_id, state);
