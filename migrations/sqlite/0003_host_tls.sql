-- How Berth reaches a node's engine: `none` (unix socket), `mtls` (tcp with mutual TLS under Berth's CA)
-- or `insecure` (plain tcp, only when an admin says so). Keep in step with ../postgres/0003_host_tls.sql.
ALTER TABLE nodes ADD COLUMN tls TEXT NOT NULL DEFAULT 'none';
