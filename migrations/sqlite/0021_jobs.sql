-- Job runs: each run of a job service (`deploy.mode: replicated-job`), started at its cron time
-- (`berth.schedule`), by hand (Run now) or by a deploy, with its tasks' states and exit codes.
-- A scheduled run is kept once per service and time: whichever replica inserts it first starts it.
-- Keep in step with ../postgres/0021_jobs.sql.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    -- The swarm service its tasks belong to: the app's, or a copy made for a run that overlaps
    -- another (concurrency allow), removed when it ends.
    swarm_service TEXT NOT NULL DEFAULT '',
    -- `schedule`, `manual` or `deploy`.
    trigger TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- The cron time it was due (scheduled runs only).
    scheduled_at INTEGER,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    -- `running`, `succeeded`, `failed`, `replaced`, `skipped` or `missed`.
    state TEXT NOT NULL,
    -- Swarm's job iteration the run's tasks carry.
    iteration INTEGER,
    completions INTEGER NOT NULL,
    succeeded_tasks INTEGER NOT NULL DEFAULT 0,
    failed_tasks INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    -- [{id, node_id, container_id, state, exit_code, started_at, ended_at, error}] as JSON.
    tasks TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX job_runs_once_per_time ON job_runs (app_id, service, scheduled_at);
CREATE INDEX job_runs_by_service ON job_runs (app_id, service, id);
CREATE INDEX job_runs_open ON job_runs (state) WHERE state = 'running';
