-- Load balancers: named objects of a cluster whose front ports (on the cluster's edge nodes) the
-- apps' `berth.lb.port_N: tcp://<name>:<front port>` labels bind services to. Created and deleted by
-- the cluster's admins; a deploy naming one the cluster does not have is refused.
-- Keep in step with ../sqlite/0018_load_balancers.sql.
CREATE TABLE load_balancers (
    cluster_id BIGINT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, name)
);
