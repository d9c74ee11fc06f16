-- Service autoscaling: a policy per service (from the template's `berth.auto_scaling.*` labels or
-- set in the console), its schedule windows, every evaluation for the chart and the stabilisation
-- window, and the decisions people read ("scaled 2 → 4: cpu 96 % against a target of 50 %").
-- Keep in step with ../postgres/0019_autoscaling.sql.
CREATE TABLE scaling_policies (
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    -- `labels` (rewritten by every version) or `console` (kept until removed).
    source TEXT NOT NULL,
    -- compose::scaling::Policy as JSON.
    policy TEXT NOT NULL,
    -- [{name, start, end, timezone, replicas}] as JSON.
    schedules TEXT NOT NULL DEFAULT '[]',
    -- A manual scale pauses the policy until it is resumed.
    paused_at INTEGER,
    paused_by TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, service)
);

CREATE TABLE scaling_points (
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    ts INTEGER NOT NULL,
    replicas INTEGER NOT NULL,
    recommended INTEGER NOT NULL,
    value REAL
);
CREATE INDEX scaling_points_by_service ON scaling_points (app_id, service, ts);
CREATE INDEX scaling_points_by_time ON scaling_points (ts);

CREATE TABLE scaling_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    ts INTEGER NOT NULL,
    from_replicas INTEGER NOT NULL,
    to_replicas INTEGER NOT NULL,
    value REAL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX scaling_decisions_by_service ON scaling_decisions (app_id, service, id);
