-- Which process runs a job: with replicas (PostgreSQL), a job is failed as interrupted only when its
-- process no longer holds its `instance:<runner>` lease. Keep in step with ../sqlite/0008_job_runner.sql.
ALTER TABLE jobs ADD COLUMN runner TEXT NOT NULL DEFAULT '';
