-- The size of the collected log text (characters, as LENGTH counts them), kept up to date by every
-- insert and delete so that retention by size does not sum the whole table on every pass.
-- Keep in step with ../postgres/0009_log_usage.sql.
CREATE TABLE log_usage (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL
);
INSERT INTO log_usage (id, bytes) SELECT 1, COALESCE(SUM(LENGTH(line)), 0) FROM log_lines;
