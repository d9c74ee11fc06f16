-- Where an alert rule's notifications go: `channel` is webhook (Berth's JSON), slack, teams (their
-- incoming-webhook formats) or email (`webhook` then holds the addresses); a rule muted until
-- `muted_until` (Unix ms) still fires and resolves on its page but sends nothing.
-- Keep in step with ../sqlite/0013_alert_channels.sql.
ALTER TABLE alert_rules ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE alert_rules ADD COLUMN muted_until BIGINT NOT NULL DEFAULT 0;
