-- REST mutations sent with an Idempotency-Key: the first answer, kept for a day, so that a retry gets
-- the same answer and has one effect. `principal` is a hash of the API token; `fingerprint` a hash
-- of the method, path and body; `status` is NULL while the first request runs (in `runner`).
-- Keep in step with ../sqlite/0012_idempotency.sql.
CREATE TABLE idempotency_keys (
    principal   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    runner      TEXT    NOT NULL,
    status      BIGINT,
    response    TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
