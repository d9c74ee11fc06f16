-- Accounts, sessions, the one-time bootstrap token and the operation history.
-- Timestamps are Unix milliseconds (INTEGER) so that SQLite and PostgreSQL share every query.
-- Keep in step with ../postgres/0001_spine.sql (a test checks both sets have the same files).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE bootstrap_tokens (
    token_hash TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- One row per mutation attempt. No foreign key to users: the history outlives the accounts it names.
CREATE TABLE operations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    actor_id      INTEGER,
    actor_name    TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    request_id    TEXT    NOT NULL
);
CREATE INDEX operations_by_time ON operations (started_at);
CREATE INDEX operations_by_target ON operations (action, outcome, target, started_at);
CREATE INDEX operations_by_source ON operations (action, outcome, source, started_at);
