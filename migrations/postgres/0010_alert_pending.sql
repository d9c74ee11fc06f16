-- Since when each alert rule's condition has held ("for N seconds"), kept across restarts and
-- replicas. Keep in step with ../sqlite/0010_alert_pending.sql.
CREATE TABLE alert_pending (
    rule_id BIGINT  PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
    since   BIGINT  NOT NULL
);
