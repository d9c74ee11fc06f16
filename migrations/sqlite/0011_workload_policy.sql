-- What a cluster's admins allow non-admins' workloads beyond the app's own resources: host
-- directories to bind (read-only unless marked read-write) and existing overlay networks to join,
-- as JSON ({"paths": [{"path", "read_write"}], "networks": [...]}); empty by default (deny).
-- Keep in step with ../postgres/0011_workload_policy.sql.
ALTER TABLE clusters ADD COLUMN workload_policy TEXT NOT NULL DEFAULT '{}';
