-- Sub-accounts (users.role 'user'), their grants on clusters, one-time invite links, API tokens and
-- shared read-only dashboard links. Tokens of every kind are stored as SHA-256 hashes only.
-- Keep in step with ../postgres/0004_ram.sql.

-- A user's role on one cluster, or on every cluster when cluster_id is NULL (at most one grant per
-- user and cluster; the domain replaces rather than adds).
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cluster_id INTEGER REFERENCES clusters (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX grants_by_user ON grants (user_id);

-- Links with which a user sets their own password (a new account, or a reset).
CREATE TABLE invites (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX invites_by_user ON invites (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    cluster_id   INTEGER REFERENCES clusters (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE share_links (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id      INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    token_hash      TEXT    NOT NULL UNIQUE,
    label           TEXT    NOT NULL,
    created_by_name TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX share_links_by_cluster ON share_links (cluster_id);

-- What a person sees of their sessions: when they signed in, from where, with what, last seen.
ALTER TABLE sessions ADD COLUMN signed_in_at INTEGER;
ALTER TABLE sessions ADD COLUMN source TEXT;
ALTER TABLE sessions ADD COLUMN agent TEXT;
ALTER TABLE sessions ADD COLUMN seen_at INTEGER;
