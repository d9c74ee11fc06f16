-- Routing (berth-router on a cluster's edge nodes). Per cluster: the root domain that one-label
-- routes are served under, whether only nodes labelled berth.edge=true run routers, the sticky-cookie
-- key and the routers' admin certificate (key and cookie key sealed with the data directory's key),
-- and the route table last computed: its version (raised on every change, so routers never move
-- back) and a digest of its content.
-- Per router (one per edge node): the table version it said it serves and when, or why it did not
-- answer. Keep in step with ../postgres/0014_routing.sql.
CREATE TABLE cluster_routing (
    cluster_id INTEGER PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
    root_domain TEXT NOT NULL DEFAULT '',
    edge_label INTEGER NOT NULL DEFAULT 0,
    cookie_secret TEXT NOT NULL DEFAULT '',
    router_cert TEXT NOT NULL DEFAULT '',
    router_key TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE routers (
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    node TEXT NOT NULL,
    address TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    seen_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster_id, node)
);
