//! Observability: the operation history, logs, metric series, events and alerts.

// A rule's form has nine fields; the server function macro does not carry an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationRow {
    pub id: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub actor: String,
    pub source: String,
    pub channel: String,
    pub action: String,
    pub target: String,
    pub cluster_id: Option<i64>,
    pub params: String,
    pub outcome: String,
    pub error: String,
}

/// The history page's filters (empty: any).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    pub q: String,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub cluster: Option<i64>,
    /// Only the last this many hours (0: all).
    pub hours: i64,
    pub before: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub rows: Vec<OperationRow>,
    pub actors: Vec<String>,
    pub actions: Vec<String>,
    /// Whether this user may verify the chain (admins).
    pub can_verify: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainRow {
    pub rows: i64,
    pub head_id: i64,
    pub head_hash: String,
    pub broken_id: Option<i64>,
    pub broken_reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub id: i64,
    pub ts: i64,
    pub node_id: i64,
    pub service: String,
    pub container_id: String,
    pub task: String,
    pub stream: String,
    pub line: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointRow {
    pub ts: i64,
    pub cpu: f64,
    pub mem: f64,
    pub mem_limit: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub blk_read: f64,
    pub blk_write: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub points: Vec<PointRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub ts: i64,
    pub kind: String,
    pub action: String,
    pub app: String,
    pub service: String,
    pub subject: String,
    pub severity: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRuleRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub scope: String,
    pub subject: String,
    pub metric: String,
    pub threshold: f64,
    pub for_secs: i64,
    pub webhook: String,
    /// `webhook`, `slack`, `teams` or `email`.
    pub channel: String,
    /// Notifications are held until then (Unix ms; 0: not muted).
    pub muted_until: i64,
    pub created_by: String,
}

/// An alert firing now, on a cluster the user may see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FiringRow {
    pub cluster_id: i64,
    pub cluster_name: String,
    pub rule_name: String,
    pub message: String,
    pub fired_at: i64,
}

/// The mail server, as the settings page shows it (never the password).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MailRow {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub from: String,
    pub username: String,
    pub password_set: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub id: i64,
    pub rule_name: String,
    pub fired_at: i64,
    pub resolved_at: Option<i64>,
    pub value: f64,
    pub message: String,
    pub delivery: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsPage {
    pub rules: Vec<AlertRuleRow>,
    pub history: Vec<AlertRow>,
    /// Whether this user may add and delete rules (cluster admins).
    pub can_manage: bool,
    /// Whether this user may mute rules (operators and up).
    pub can_mute: bool,
    pub now: i64,
}

#[cfg(feature = "ssr")]
pub mod map {
    use super::*;

    pub fn operation(o: domain::operation::Operation) -> OperationRow {
        OperationRow {
            id: o.id,
            started_at: o.started_at,
            duration_ms: o.duration_ms,
            actor: o.actor_name,
            source: o.source,
            channel: o.channel,
            action: o.action,
            target: o.target,
            cluster_id: o.cluster_id,
            params: o.params,
            outcome: o.outcome,
            error: o.error_message.unwrap_or_default(),
        }
    }

    pub fn filter(q: &HistoryQuery, limit: i64) -> domain::store::OperationFilter {
        domain::store::OperationFilter {
            q: q.q.clone(),
            actor: q.actor.clone(),
            action: q.action.clone(),
            outcome: q.outcome.clone(),
            cluster: q.cluster,
            since: (q.hours > 0).then(|| domain::clock::now_ms() - q.hours * 3_600_000),
            until: None,
            before: q.before,
            limit,
        }
    }

    pub fn chain(r: domain::history::ChainReport) -> ChainRow {
        ChainRow {
            rows: r.rows,
            head_id: r.head_id,
            head_hash: r.head_hash,
            broken_id: r.broken.as_ref().map(|b| b.id),
            broken_reason: r.broken.map(|b| b.reason).unwrap_or_default(),
        }
    }

    pub fn log(l: domain::logs::LogLine) -> LogRow {
        LogRow {
            id: l.id,
            ts: l.ts,
            node_id: l.node_id,
            service: l.service,
            container_id: l.container_id,
            task: l.task,
            stream: l.stream,
            line: l.line,
        }
    }

    pub fn series(s: domain::metrics::Series) -> SeriesRow {
        SeriesRow {
            from: s.from,
            to: s.to,
            step: s.step,
            points: s
                .points
                .into_iter()
                .map(|p| PointRow {
                    ts: p.ts,
                    cpu: p.cpu,
                    mem: p.mem,
                    mem_limit: p.mem_limit,
                    net_rx: p.net_rx,
                    net_tx: p.net_tx,
                    blk_read: p.blk_read,
                    blk_write: p.blk_write,
                })
                .collect(),
        }
    }

    pub fn event(e: domain::alerts::Event) -> EventRow {
        EventRow {
            id: e.id,
            ts: e.ts,
            kind: e.kind,
            action: e.action,
            app: e.app,
            service: e.service,
            subject: e.subject,
            severity: e.severity,
            message: e.message,
        }
    }

    pub fn rule(r: domain::alerts::AlertRule) -> AlertRuleRow {
        AlertRuleRow {
            id: r.id,
            name: r.name,
            kind: r.kind,
            scope: r.scope,
            subject: r.subject,
            metric: r.metric,
            threshold: r.threshold,
            for_secs: r.for_secs,
            webhook: r.webhook,
            channel: r.channel,
            muted_until: r.muted_until,
            created_by: r.created_by,
        }
    }

    pub fn alert(a: domain::alerts::AlertEvent) -> AlertRow {
        AlertRow {
            id: a.id,
            rule_name: a.rule_name,
            fired_at: a.fired_at,
            resolved_at: a.resolved_at,
            value: a.value,
            message: a.message,
            delivery: a.delivery,
        }
    }

    pub fn log_filter(
        cluster: i64,
        app: String,
        service: String,
        container: String,
        q: String,
    ) -> domain::logs::LogFilter {
        domain::logs::LogFilter { cluster_id: cluster, app, service, container, q, ..Default::default() }
    }
}

/// A page of the operation history (newest first, 100 rows) with the filter menus.
#[server(endpoint = "get_history", output = crate::codec::Wire)]
pub async fn get_history(
    q: String,
    actor: String,
    action: String,
    outcome: String,
    cluster: Option<i64>,
    hours: i64,
    before: Option<i64>,
) -> Result<HistoryPage, AppError> {
    use super::ssr::{context, wire};
    let query = HistoryQuery { q, actor, action, outcome, cluster, hours, before };
    let (berth, actor) = context()?;
    let rows = berth.operations(&actor, &map::filter(&query, 100)).await.map_err(wire)?;
    let (actors, actions) = berth.operation_facets(&actor).await.map_err(wire)?;
    let can_verify = actor.user().is_some_and(|u| u.is_admin());
    Ok(HistoryPage { rows: rows.into_iter().map(map::operation).collect(), actors, actions, can_verify })
}

/// The filtered history as CSV, for the page's download.
#[server(endpoint = "history_csv", output = crate::codec::Wire)]
pub async fn history_csv(
    q: String,
    actor: String,
    action: String,
    outcome: String,
    cluster: Option<i64>,
    hours: i64,
) -> Result<String, AppError> {
    use super::ssr::{context, wire};
    let query = HistoryQuery { q, actor, action, outcome, cluster, hours, before: None };
    let (berth, actor) = context()?;
    berth.operations_csv(&actor, &map::filter(&query, 100_000)).await.map_err(wire)
}

#[server(endpoint = "verify_history", output = crate::codec::Wire)]
pub async fn verify_history() -> Result<ChainRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(map::chain(berth.verify_history(&actor).await.map_err(wire)?))
}

/// Log lines: with `after`, the lines stored since (a live tail, oldest first, at most 500);
/// without, the newest `limit` matching lines in time order.
#[server(endpoint = "get_logs", output = crate::codec::Wire)]
pub async fn get_logs(
    cluster: i64,
    app: String,
    service: String,
    container: String,
    q: String,
    after: Option<i64>,
    limit: i64,
    #[server(default)] since_min: i64,
) -> Result<Vec<LogRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let since_ns = (since_min > 0).then(|| (domain::clock::now_ms() - since_min * 60_000) * 1_000_000);
    let filter =
        domain::logs::LogFilter { after, limit, since_ns, ..map::log_filter(cluster, app, service, container, q) };
    Ok(berth.logs(&actor, &filter).await.map_err(wire)?.into_iter().map(map::log).collect())
}

/// A search of a cluster's stored logs (also of containers and apps that are gone): the newest 500
/// matching lines before `before`, in time order.
#[server(endpoint = "search_logs", output = crate::codec::Wire)]
pub async fn search_logs(
    cluster: i64,
    app: String,
    service: String,
    node: Option<i64>,
    q: String,
    hours: i64,
    before: Option<i64>,
) -> Result<Vec<LogRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let since_ns = (hours > 0).then(|| (domain::clock::now_ms() - hours * 3_600_000) * 1_000_000);
    let filter = domain::logs::LogFilter {
        node,
        since_ns,
        before,
        limit: 500,
        ..map::log_filter(cluster, app.trim().to_string(), service.trim().to_string(), String::new(), q)
    };
    Ok(berth.logs(&actor, &filter).await.map_err(wire)?.into_iter().map(map::log).collect())
}

/// Matching lines as a text file (at most 10,000), for the viewer's download.
#[server(endpoint = "logs_text", output = crate::codec::Wire)]
pub async fn logs_text(
    cluster: i64,
    app: String,
    service: String,
    container: String,
    q: String,
) -> Result<String, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.logs_text(&actor, &map::log_filter(cluster, app, service, container, q)).await.map_err(wire)
}

#[server(endpoint = "get_series", output = crate::codec::Wire)]
pub async fn get_series(cluster: i64, scope: String, key: String, range: i64) -> Result<SeriesRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(map::series(berth.metric_series(&actor, cluster, &scope, &key, range).await.map_err(wire)?))
}

/// Events a timeline shows at a time.
pub const EVENTS_PAGE: usize = 50;

/// A page of the cluster's (or one app's) events, newest first: narrowed to `severity` (`warning`
/// or `error`) and the words `q`, older than the event `before` for the pages after the first.
#[server(endpoint = "get_events", output = crate::codec::Wire)]
pub async fn get_events(
    cluster: i64,
    app: String,
    severity: String,
    q: String,
    before: Option<i64>,
) -> Result<Vec<EventRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let filter = domain::alerts::EventFilter { app, severity, q, before, limit: EVENTS_PAGE as i64 };
    Ok(berth.events_where(&actor, cluster, &filter).await.map_err(wire)?.into_iter().map(map::event).collect())
}

#[server(endpoint = "get_alerts", output = crate::codec::Wire)]
pub async fn get_alerts(cluster: i64) -> Result<AlertsPage, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let rules = berth.alert_rules(&actor, cluster).await.map_err(wire)?.into_iter().map(map::rule).collect();
    let history = berth.alert_history(&actor, cluster).await.map_err(wire)?.into_iter().map(map::alert).collect();
    let can_manage = domain::authz::authorize(&actor, domain::Permission::ClusterManage(cluster)).is_ok();
    let can_mute = domain::authz::authorize(&actor, domain::Permission::AppOperate(cluster)).is_ok();
    Ok(AlertsPage { rules, history, can_manage, can_mute, now: domain::clock::now_ms() })
}

/// What a rule of the cluster can watch: its apps' services (full names) and its nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSubjectsRow {
    pub services: Vec<String>,
    pub nodes: Vec<String>,
}

#[server(endpoint = "get_alert_subjects", output = crate::codec::Wire)]
pub async fn get_alert_subjects(cluster: i64) -> Result<AlertSubjectsRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let s = berth.alert_subjects(&actor, cluster).await.map_err(wire)?;
    Ok(AlertSubjectsRow { services: s.services, nodes: s.nodes })
}

/// Adds a rule, or (with `rule`) changes that rule.
#[server(endpoint = "create_alert_rule", output = crate::codec::Wire)]
#[allow(clippy::too_many_arguments)]
pub async fn create_alert_rule(
    cluster: i64,
    rule: Option<i64>,
    name: String,
    kind: String,
    scope: String,
    subject: String,
    metric: String,
    threshold: String,
    for_secs: String,
    webhook: String,
    #[server(default)] channel: String,
) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let number = |field: &str, v: &str| -> Result<f64, AppError> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(0.0);
        }
        v.parse::<f64>().map_err(|_| wire(domain::Error::invalid(field, "must be a number")))
    };
    let new = domain::alerts::NewAlertRule {
        cluster_id: cluster,
        name,
        kind,
        scope,
        subject,
        metric,
        threshold: number("threshold", &threshold)?,
        for_secs: number("for_secs", &for_secs)? as i64,
        webhook,
        channel,
    };
    match rule {
        Some(id) => berth.alert_rule_update(&actor, id, new).await.map(|()| id).map_err(wire),
        None => berth.alert_rule_create(&actor, new).await.map_err(wire),
    }
}

/// Mutes a rule's notifications for `minutes` (0 unmutes); answers until when.
#[server(endpoint = "mute_alert_rule", output = crate::codec::Wire)]
pub async fn mute_alert_rule(cluster: i64, id: i64, minutes: i64) -> Result<i64, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.alert_rule_mute(&actor, cluster, id, minutes).await.map_err(wire)
}

/// The alerts firing now on the clusters this user may see.
#[server(endpoint = "get_firing", output = crate::codec::Wire)]
pub async fn get_firing() -> Result<Vec<FiringRow>, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(berth
        .alerts_firing(&actor)
        .await
        .map_err(wire)?
        .into_iter()
        .map(|f| FiringRow {
            cluster_id: f.alert.cluster_id,
            cluster_name: f.cluster_name,
            rule_name: f.alert.rule_name,
            message: f.alert.message,
            fired_at: f.alert.fired_at,
        })
        .collect())
}

#[cfg(feature = "ssr")]
fn mail_row(m: domain::mail::MailView) -> MailRow {
    MailRow {
        host: m.host,
        port: m.port,
        security: m.security,
        from: m.from,
        username: m.username,
        password_set: m.password_set,
    }
}

#[server(endpoint = "get_mail", output = crate::codec::Wire)]
pub async fn get_mail() -> Result<MailRow, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    Ok(mail_row(berth.mail(&actor).await.map_err(wire)?))
}

#[server(endpoint = "set_mail", output = crate::codec::Wire)]
pub async fn set_mail(
    host: String,
    port: String,
    security: String,
    from: String,
    username: String,
    password: String,
    clear_password: Option<String>,
) -> Result<MailRow, AppError> {
    use super::ssr::{context, invalid, wire};
    let (berth, actor) = context()?;
    let port = match port.trim() {
        "" if host.trim().is_empty() => 0,
        p => p.parse::<u16>().map_err(|_| invalid("port", "must be a number between 1 and 65535"))?,
    };
    let input = domain::mail::MailInput {
        host,
        port,
        security,
        from,
        username,
        password,
        clear_password: clear_password.is_some(),
    };
    Ok(mail_row(berth.set_mail(&actor, input).await.map_err(wire)?))
}

#[server(endpoint = "test_mail", output = crate::codec::Wire)]
pub async fn test_mail(to: String) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.mail_test(&actor, &to).await.map_err(wire)
}

#[server(endpoint = "delete_alert_rule", output = crate::codec::Wire)]
pub async fn delete_alert_rule(cluster: i64, id: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.alert_rule_delete(&actor, cluster, id).await.map_err(wire)
}
