//! Evaluating alert rules after each collection: a rule's condition against the cluster's latest
//! collection (or its live services, or its nodes), held for its `for` time (kept in the store, so
//! a restart or another replica goes on counting), then fired or resolved — each on the timeline
//! and sent in its channel's format in the background.

use crate::clusters::node::Node;
use crate::engine::LiveService;
use crate::error::Result;
use crate::observe::alerts::{AlertRule, NewEvent, METRIC, NODE_DOWN, REPLICAS};
use crate::observe::metrics::{Sample, Snapshot};
use crate::Berth;

impl Berth {
    /// Fires and resolves a cluster's alert rules against its latest collection.
    pub(crate) async fn evaluate_alerts(
        &self,
        cluster_id: i64,
        snapshot: &Snapshot,
        nodes: &[Node],
        now: i64,
    ) -> Result<()> {
        let rules: Vec<AlertRule> =
            self.store.alert_rules(cluster_id).await?.into_iter().filter(|r| r.enabled != 0).collect();
        if rules.is_empty() {
            return Ok(());
        }
        let services =
            if rules.iter().any(|r| r.kind == REPLICAS) { self.live_services(cluster_id).await } else { None };
        // Kept in the store: a restart or another replica taking over goes on counting.
        let pending = self.store.alert_pending(cluster_id).await?;
        for rule in &rules {
            let Some((breached, value, message)) = condition(rule, snapshot, services.as_deref(), nodes) else {
                continue;
            };
            let since = match (breached, pending.get(&rule.id)) {
                (true, Some(since)) => Some(*since),
                (true, None) => {
                    self.store.alert_pending_set(rule.id, Some(now)).await?;
                    Some(now)
                }
                (false, Some(_)) => {
                    self.store.alert_pending_set(rule.id, None).await?;
                    None
                }
                (false, None) => None,
            };
            let open = self.store.alert_open(rule.id).await?;
            match (since, open) {
                (Some(since), None) if now - since >= rule.for_secs * 1000 => {
                    let id = self.store.alert_fire(rule, now, value, &message).await?;
                    self.store.event_insert(&[alert_event(rule, now, "firing", &message)]).await?;
                    self.notify(rule.clone(), id, "firing", value, message, now, None);
                }
                (None, Some(open)) => {
                    self.store.alert_resolve(open.id, now).await?;
                    let message = format!("resolved: {message}");
                    self.store.event_insert(&[alert_event(rule, now, "resolved", &message)]).await?;
                    self.notify(rule.clone(), open.id, "resolved", value, message, open.fired_at, Some(now));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The services of a cluster with running and desired counts, from a manager that answers.
    async fn live_services(&self, cluster_id: i64) -> Option<Vec<LiveService>> {
        let nodes = self.store.nodes(cluster_id).await.ok()?;
        for n in nodes.iter().filter(|n| n.is_manager() && n.state == "ready") {
            if let Ok(engine) = self.node_engine(n).await {
                if let Ok(list) = engine.services_labelled(&[]).await {
                    return Some(list);
                }
            }
        }
        None
    }

    /// Sends a firing or resolution to the rule's webhook in the background and records the answer.
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        rule: AlertRule,
        alert: i64,
        status: &'static str,
        value: f64,
        message: String,
        fired_at: i64,
        resolved_at: Option<i64>,
    ) {
        if rule.webhook.is_empty() {
            return;
        }
        let berth = self.clone();
        tokio::spawn(async move {
            if rule.muted_until > crate::clock::now_ms() {
                let until = crate::clock::rfc3339(rule.muted_until);
                let _ = berth.store.alert_delivered(alert, &format!("{status}: not sent, muted until {until}")).await;
                return;
            }
            let cluster = berth.store.cluster(rule.cluster_id).await.ok().flatten().map(|c| c.name).unwrap_or_default();
            let note = crate::observe::alerts::notification(
                &rule,
                &cluster,
                alert,
                status,
                value,
                &message,
                fired_at,
                resolved_at,
            );
            let delivery = match note {
                crate::observe::alerts::Notification::Post(body) => {
                    crate::observe::webhook::deliver(&rule.webhook, &body, crate::observe::webhook::RETRY_DELAYS).await
                }
                crate::observe::alerts::Notification::Mail { subject, body } => {
                    let to = crate::observe::alerts::email_addresses(&rule.webhook).unwrap_or_default();
                    match berth.send_mail(&to, &subject, &body).await {
                        Ok(()) => format!("e-mailed {}", to.join(", ")),
                        Err(e) => format!("e-mail failed: {e}"),
                    }
                }
            };
            let _ = berth.store.alert_delivered(alert, &format!("{status}: {delivery}")).await;
        });
    }
}

/// Whether a rule's condition holds now, the value it saw and a sentence about it; `None` when there
/// is nothing to judge by (no sample of its subject yet, a node not answering, no manager answering).
/// A metric rule's subject that runs no container (a service scaled to 0) uses nothing.
fn condition(
    rule: &AlertRule,
    snapshot: &Snapshot,
    services: Option<&[LiveService]>,
    nodes: &[Node],
) -> Option<(bool, f64, String)> {
    match rule.kind.as_str() {
        METRIC => {
            let key = if rule.scope == "cluster" { "" } else { rule.subject.as_str() };
            let node_key = nodes.iter().find(|n| n.name == key).map(|n| n.id.to_string());
            let found = snapshot
                .totals
                .iter()
                .find(|s| s.scope == rule.scope && (s.key == key || node_key.as_deref() == Some(s.key.as_str())));
            let subject = (rule.scope.clone(), node_key.unwrap_or_else(|| key.to_string()));
            let idle = Sample::default();
            let sample = match found {
                Some(sample) => sample,
                // Every node answered and none runs a container of the subject: it uses nothing.
                None if snapshot.complete && !snapshot.active.contains(&subject) => &idle,
                None => return None,
            };
            let (value, unit) = match rule.metric.as_str() {
                "cpu" => (sample.cpu, "% CPU"),
                _ if sample.mem_limit > 0.0 => (sample.mem / sample.mem_limit * 100.0, "% of its memory limit"),
                _ => (sample.mem / 1_048_576.0, " MiB of memory"),
            };
            let what = if rule.scope == "cluster" {
                "the cluster".to_string()
            } else {
                format!("{} {}", rule.scope, rule.subject)
            };
            Some((
                value > rule.threshold,
                value,
                format!("{what} uses {value:.1}{unit} (threshold {})", rule.threshold),
            ))
        }
        REPLICAS => {
            let s = services?.iter().find(|s| s.name == rule.subject)?;
            Some((
                s.running < s.desired,
                s.running as f64,
                if s.running < s.desired {
                    format!("service {} runs {} of {} replicas", s.name, s.running, s.desired)
                } else {
                    match s.desired {
                        0 => format!("service {} is scaled to 0", s.name),
                        1 => format!("service {} runs its replica", s.name),
                        n => format!("service {} runs all {n} of its replicas", s.name),
                    }
                },
            ))
        }
        NODE_DOWN => {
            let watched: Vec<&Node> = nodes
                .iter()
                .filter(|n| rule.subject.is_empty() || n.name == rule.subject || n.id.to_string() == rule.subject)
                .collect();
            let down: Vec<&str> = watched
                .iter()
                .filter(|n| matches!(n.state.as_str(), "down" | "unreachable" | "missing"))
                .map(|n| n.name.as_str())
                .collect();
            let message =
                if down.is_empty() { "every node is ready".to_string() } else { format!("down: {}", down.join(", ")) };
            Some((!down.is_empty(), down.len() as f64, message))
        }
        _ => None,
    }
}

fn alert_event(rule: &AlertRule, at: i64, action: &str, message: &str) -> NewEvent {
    NewEvent {
        cluster_id: rule.cluster_id,
        ts: at,
        kind: "alert".into(),
        action: action.into(),
        app: String::new(),
        service: if rule.kind == REPLICAS || rule.scope == "service" { rule.subject.clone() } else { String::new() },
        subject: rule.name.clone(),
        severity: if action == "firing" { "error" } else { "info" },
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn metric_rules_compare_the_latest_sums() {
        let rule = AlertRule {
            id: 1,
            cluster_id: 1,
            name: "hot".into(),
            kind: METRIC.into(),
            scope: "service".into(),
            subject: "shop_web".into(),
            metric: "cpu".into(),
            threshold: 50.0,
            for_secs: 0,
            webhook: String::new(),
            channel: "webhook".into(),
            muted_until: 0,
            enabled: 1,
            created_by: "ann".into(),
            created_at: 0,
        };
        let snapshot = |cpu: f64| Snapshot {
            totals: vec![Sample { scope: "service".into(), key: "shop_web".into(), cpu, ..Sample::default() }],
            ..Snapshot::default()
        };
        assert_eq!(condition(&rule, &snapshot(80.0), None, &[]).map(|c| c.0), Some(true));
        assert_eq!(condition(&rule, &snapshot(20.0), None, &[]).map(|c| c.0), Some(false));
        assert_eq!(condition(&rule, &Snapshot::default(), None, &[]), None);
        // Every node answered and the service runs no container (scaled to 0): it uses nothing.
        let gone = Snapshot { complete: true, ..Snapshot::default() };
        assert_eq!(condition(&rule, &gone, None, &[]).map(|c| (c.0, c.1)), Some((false, 0.0)));
        // It runs a container that has no sample yet: nothing to judge by.
        let starting = Snapshot { active: HashSet::from([("service".into(), "shop_web".into())]), ..gone };
        assert_eq!(condition(&rule, &starting, None, &[]), None);
    }
}
