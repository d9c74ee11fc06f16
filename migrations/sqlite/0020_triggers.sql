-- App triggers: URLs (`POST /hooks/{public_id}`) that redeploy, scale or roll back one app, each
-- authenticated by Standard Webhooks signatures or a secret in a header. Secrets are sealed at rest
-- (`secret.rs`); after a rotation the previous secret stays valid until `previous_until`.
-- `trigger_calls` is every call with its outcome (the newest 100 per trigger are kept; the rate
-- limit counts the last minute's); `trigger_seen` the webhook ids of the last 10 minutes, so a
-- replayed one is refused. Keep in step with ../postgres/0020_triggers.sql.
CREATE TABLE triggers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id          INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    public_id       TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    -- `redeploy`, `scale` or `rollback`.
    action          TEXT    NOT NULL,
    -- JSON: `{"latest_image": true}`, `{"service": "web", "replicas": 3, "replicas_from_body": false}`.
    params          TEXT    NOT NULL DEFAULT '{}',
    -- `signature` (Standard Webhooks) or `header` (the secret in `Authorization: Bearer`).
    auth            TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    previous_secret TEXT    NOT NULL DEFAULT '',
    previous_until  INTEGER NOT NULL DEFAULT 0,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    rotated_at      INTEGER NOT NULL DEFAULT 0,
    -- Written at the start of every call's transaction, so calls of one trigger take turns.
    last_call_at    INTEGER NOT NULL DEFAULT 0,
    revoked_at      INTEGER
);
CREATE UNIQUE INDEX triggers_app_name ON triggers (app_id, name) WHERE revoked_at IS NULL;

CREATE TABLE trigger_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_id  INTEGER NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    -- `accepted`, `unauthorized`, `replayed`, `throttled` or `failed`.
    outcome     TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    job_id      INTEGER,
    source      TEXT    NOT NULL,
    message     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX trigger_calls_by_trigger ON trigger_calls (trigger_id, at);

CREATE TABLE trigger_seen (
    trigger_id  INTEGER NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    webhook_id  TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (trigger_id, webhook_id)
);
