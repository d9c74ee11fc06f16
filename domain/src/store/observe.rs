//! The tables of `observe/` but logs and metric samples (`logs.rs`, `metrics.rs`): events of the
//! clusters' timelines, alert rules and the alerts they fired, each cluster's newest collection.

use serde::{Deserialize, Serialize};

use super::{Args, Store};
use crate::error::Result;

/// An event on its way to the store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub cluster_id: i64,
    pub ts: i64,
    pub kind: String,
    pub action: String,
    pub app: String,
    pub service: String,
    pub subject: String,
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub cluster_id: i64,
    pub ts: i64,
    pub kind: String,
    pub action: String,
    pub app: String,
    pub service: String,
    pub subject: String,
    pub severity: String,
    pub message: String,
}

/// Which of a cluster's events a timeline shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// One app's events (its name), or every event of the cluster when empty.
    pub app: String,
    /// `warning` (warnings and errors) or `error`; empty for every event.
    pub severity: String,
    /// Words that must all appear in the message, subject, service or action.
    pub q: String,
    /// Only events older than this one (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// A rule as the form sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewAlertRule {
    pub cluster_id: i64,
    pub name: String,
    /// `metric`, `replicas` or `node_down`.
    pub kind: String,
    /// For metric rules: `service`, `node` or `cluster`.
    pub scope: String,
    /// The service's full name, the node's id, or '' for the cluster (and for node_down: any node).
    pub subject: String,
    /// For metric rules: `cpu` (percent of one core) or `mem` (percent of the limit, or MiB without one).
    pub metric: String,
    pub threshold: f64,
    /// How long the condition must hold before the alert fires.
    pub for_secs: i64,
    /// Where firings and resolutions go: for the `webhook`, `slack` and `teams` channels an http or
    /// https URL (empty for none), for `email` the addresses, separated by commas.
    pub webhook: String,
    /// How notifications are sent: `webhook` (Berth's JSON), `slack` or `teams` (their incoming
    /// webhook formats) or `email` (through the installation's mail server). Empty means `webhook`.
    #[serde(default)]
    pub channel: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AlertRule {
    pub id: i64,
    pub cluster_id: i64,
    pub name: String,
    pub kind: String,
    pub scope: String,
    pub subject: String,
    pub metric: String,
    pub threshold: f64,
    pub for_secs: i64,
    pub webhook: String,
    pub channel: String,
    /// Notifications are not sent before this time (Unix ms; 0: not muted).
    pub muted_until: i64,
    pub enabled: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub cluster_id: i64,
    pub fired_at: i64,
    pub resolved_at: Option<i64>,
    pub value: f64,
    pub message: String,
    /// What the webhook answered to the last notification.
    pub delivery: String,
}

impl Store {
    pub async fn event_insert(&self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for e in events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest events of a cluster (of one app when `app` is not empty), newest first.
    pub async fn events(&self, cluster: i64, app: &str, limit: i64) -> Result<Vec<Event>> {
        self.events_where(cluster, &EventFilter { app: app.to_string(), limit, ..Default::default() }).await
    }

    /// The newest events of a cluster that `f` lets through, newest first.
    pub async fn events_where(&self, cluster: i64, f: &EventFilter) -> Result<Vec<Event>> {
        let mut args = Args::default();
        let mut clauses = vec![format!("cluster_id = {}", args.int(cluster))];
        if !f.app.is_empty() {
            clauses.push(format!("app = {}", args.text(&f.app)));
        }
        // Severities are an allow-list checked by the domain; these are the store's own words.
        match f.severity.as_str() {
            "warning" => clauses.push("severity IN ('warning', 'error')".into()),
            "error" => clauses.push("severity = 'error'".into()),
            _ => {}
        }
        for word in f.q.split_whitespace().take(8) {
            let n = args.text(format!("%{}%", word.to_lowercase().replace(['%', '_'], "")));
            clauses.push(format!(
                "(LOWER(message) LIKE {n} OR LOWER(subject) LIKE {n} OR LOWER(service) LIKE {n} OR LOWER(action) LIKE {n})"
            ));
        }
        if let Some(before) = f.before {
            let n = args.int(before);
            let ts = format!("(SELECT ts FROM events WHERE id = {n})");
            clauses.push(format!("(ts < {ts} OR (ts = {ts} AND id < {n}))"));
        }
        let sql = format!(
            "SELECT id, cluster_id, ts, kind, action, app, service, subject, severity, message FROM events \
             WHERE {} ORDER BY ts DESC, id DESC LIMIT {}",
            clauses.join(" AND "),
            f.limit.clamp(1, 1000)
        );
        Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&self.pool).await?)
    }

    pub async fn event_expire(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM events WHERE ts < $1").bind(before).execute(&self.pool).await?.rows_affected())
    }

    pub async fn alert_rule_insert(&self, r: &NewAlertRule, created_by: &str, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO alert_rules (cluster_id, name, kind, scope, subject, metric, threshold, for_secs, webhook, \
             channel, enabled, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12) \
             RETURNING id",
        )
        .bind(r.cluster_id)
        .bind(&r.name)
        .bind(&r.kind)
        .bind(&r.scope)
        .bind(&r.subject)
        .bind(&r.metric)
        .bind(r.threshold)
        .bind(r.for_secs)
        .bind(&r.webhook)
        .bind(&r.channel)
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn alert_rules(&self, cluster: i64) -> Result<Vec<AlertRule>> {
        Ok(sqlx::query_as(
            "SELECT id, cluster_id, name, kind, scope, subject, metric, threshold, for_secs, webhook, channel, \
             muted_until, enabled, created_by, created_at FROM alert_rules WHERE cluster_id = $1 ORDER BY name",
        )
        .bind(cluster)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn alert_rule(&self, id: i64) -> Result<Option<AlertRule>> {
        Ok(sqlx::query_as(
            "SELECT id, cluster_id, name, kind, scope, subject, metric, threshold, for_secs, webhook, channel, \
             muted_until, enabled, created_by, created_at FROM alert_rules WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Since when each rule of a cluster whose condition holds has held it.
    pub async fn alert_pending(&self, cluster: i64) -> Result<std::collections::HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT p.rule_id, p.since FROM alert_pending p JOIN alert_rules r ON r.id = p.rule_id \
             WHERE r.cluster_id = $1",
        )
        .bind(cluster)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Records that a rule's condition holds since `since` (`None`: it no longer holds).
    pub async fn alert_pending_set(&self, rule: i64, since: Option<i64>) -> Result<()> {
        let query = match since {
            Some(since) => sqlx::query(
                "INSERT INTO alert_pending (rule_id, since) VALUES ($1, $2) ON CONFLICT (rule_id) DO NOTHING",
            )
            .bind(rule)
            .bind(since),
            None => sqlx::query("DELETE FROM alert_pending WHERE rule_id = $1").bind(rule),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Changes a rule's fields (its cluster stays).
    pub async fn alert_rule_update(&self, id: i64, r: &NewAlertRule) -> Result<()> {
        sqlx::query(
            "UPDATE alert_rules SET name = $1, kind = $2, scope = $3, subject = $4, metric = $5, threshold = $6, \
             for_secs = $7, webhook = $8, channel = $9 WHERE id = $10",
        )
        .bind(&r.name)
        .bind(&r.kind)
        .bind(&r.scope)
        .bind(&r.subject)
        .bind(&r.metric)
        .bind(r.threshold)
        .bind(r.for_secs)
        .bind(&r.webhook)
        .bind(&r.channel)
        .bind(id)
        .execute(&self.pool)
        .await?;
        // A changed condition is judged afresh.
        self.alert_pending_set(id, None).await
    }

    /// Mutes a rule's notifications until `until` (Unix ms; 0 unmutes).
    pub async fn alert_rule_mute(&self, id: i64, until: i64) -> Result<()> {
        sqlx::query("UPDATE alert_rules SET muted_until = $1 WHERE id = $2")
            .bind(until)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every unresolved alert, newest first.
    pub async fn alerts_firing(&self) -> Result<Vec<AlertEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, rule_id, rule_name, cluster_id, fired_at, resolved_at, value, message, delivery \
             FROM alert_events WHERE resolved_at IS NULL ORDER BY fired_at DESC, id DESC LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn alert_rule_delete(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn alert_fire(&self, rule: &AlertRule, at: i64, value: f64, message: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO alert_events (rule_id, rule_name, cluster_id, fired_at, value, message, delivery) \
             VALUES ($1, $2, $3, $4, $5, $6, '') RETURNING id",
        )
        .bind(rule.id)
        .bind(&rule.name)
        .bind(rule.cluster_id)
        .bind(at)
        .bind(value)
        .bind(message)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn alert_resolve(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE alert_events SET resolved_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn alert_delivered(&self, id: i64, delivery: &str) -> Result<()> {
        sqlx::query("UPDATE alert_events SET delivery = $1 WHERE id = $2")
            .bind(delivery)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The unresolved firing of a rule, if any.
    pub async fn alert_open(&self, rule: i64) -> Result<Option<AlertEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, rule_id, rule_name, cluster_id, fired_at, resolved_at, value, message, delivery \
             FROM alert_events WHERE rule_id = $1 AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(rule)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A cluster's alerts, newest first.
    pub async fn alert_events(&self, cluster: i64, limit: i64) -> Result<Vec<AlertEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, rule_id, rule_name, cluster_id, fired_at, resolved_at, value, message, delivery \
             FROM alert_events WHERE cluster_id = $1 ORDER BY fired_at DESC, id DESC LIMIT $2",
        )
        .bind(cluster)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Each cluster's newest collection, so that `/metrics` answers the same on every replica.
impl Store {
    /// Keeps a cluster's newest collection (JSON), written by `collector`.
    pub async fn metric_latest_put(&self, cluster: i64, ts: i64, collector: &str, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO metric_latest (cluster_id, ts, collector, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cluster_id) DO UPDATE SET ts = excluded.ts, collector = excluded.collector, \
             body = excluded.body",
        )
        .bind(cluster)
        .bind(ts)
        .bind(collector)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A cluster's newest collection: its time, who collected it and the JSON.
    pub async fn metric_latest(&self, cluster: i64) -> Result<Option<(i64, String, String)>> {
        Ok(sqlx::query_as("SELECT ts, collector, body FROM metric_latest WHERE cluster_id = $1")
            .bind(cluster)
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// One event, inside a write of the caller's (`event_insert`, or a change of state that the event
/// tells of, so that a reader who sees the change also finds its event).
pub(super) async fn insert_event(tx: &mut sqlx::Transaction<'static, sqlx::Any>, e: &NewEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (cluster_id, ts, kind, action, app, service, subject, severity, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.cluster_id)
    .bind(e.ts)
    .bind(&e.kind)
    .bind(&e.action)
    .bind(&e.app)
    .bind(&e.service)
    .bind(&e.subject)
    .bind(e.severity)
    .bind(&e.message)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
