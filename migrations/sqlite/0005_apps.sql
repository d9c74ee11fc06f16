-- The template catalog and apps (deployed templates) with their version history.
-- Keep in step with ../postgres/0005_apps.sql.

-- A saved Compose template; every save is a version.
CREATE TABLE templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    compose     TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE template_versions (
    template_id INTEGER NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    description TEXT    NOT NULL,
    compose     TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- An app is one swarm stack on one cluster; `name` is the stack namespace.
CREATE TABLE apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id  INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    message     TEXT    NOT NULL DEFAULT '',
    version     INTEGER NOT NULL DEFAULT 0,
    template_id INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    -- Per-service changes made since the version (scale, resources, stopped), as JSON.
    overrides   TEXT    NOT NULL DEFAULT '{}',
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (cluster_id, name)
);

-- Every deployed version: the template text and its variable values (sealed: they may hold secrets).
CREATE TABLE app_versions (
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    compose    TEXT    NOT NULL,
    vars       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, version)
);
