-- TLS certificates the routers serve by SNI: uploaded per cluster by its admins (the names it is
-- valid for and its expiry read from it; the key sealed with the data directory's key), and a
-- self-signed default per cluster for names no certificate covers.
-- Keep in step with ../postgres/0015_certificates.sql.
CREATE TABLE routing_certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    hosts TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    not_after INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX routing_certificates_cluster ON routing_certificates (cluster_id);

ALTER TABLE cluster_routing ADD COLUMN default_cert TEXT NOT NULL DEFAULT '';
ALTER TABLE cluster_routing ADD COLUMN default_key TEXT NOT NULL DEFAULT '';
