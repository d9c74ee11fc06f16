//! Events and alerts: the engines' events (task failures, restarts, node changes) and Berth's own
//! observations in a timeline per cluster and app; alert rules evaluated after every collection,
//! their firings and resolutions kept and sent to a webhook.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::operation::Op;
use crate::Berth;

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

/// Rule kinds.
pub const METRIC: &str = "metric";
pub const REPLICAS: &str = "replicas";
pub const NODE_DOWN: &str = "node_down";

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
    /// Where firings and resolutions are POSTed as JSON (http or https; empty for none).
    pub webhook: String,
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

/// What a cluster's rules can watch: its apps' services by full name (`shop_web`) and its nodes by
/// name, for the form's choices and the check of a new rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSubjects {
    pub services: Vec<String>,
    pub nodes: Vec<String>,
}

impl AlertSubjects {
    /// Refuses a rule whose subject is not on the cluster (it would never fire), naming the field.
    pub fn check(&self, r: &NewAlertRule) -> Result<()> {
        let subject = r.subject.trim();
        let service = r.kind == REPLICAS || (r.kind == METRIC && r.scope == "service");
        let node = (r.kind == METRIC && r.scope == "node") || (r.kind == NODE_DOWN && !subject.is_empty());
        if service && !self.services.iter().any(|s| s == subject) {
            return Err(Error::invalid(
                "subject",
                format!("no app of this cluster has a service {subject}: choose one of the cluster's services"),
            ));
        }
        if node && !self.nodes.iter().any(|n| n == subject) {
            return Err(Error::invalid("subject", format!("this cluster has no node {subject}")));
        }
        Ok(())
    }
}

/// A webhook URL as people other than the cluster's admins (and the history) see it: its scheme and
/// host, never the path, query or credentials, where tokens live (`https://hooks.example/…`).
pub fn webhook_shown(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.is_empty() { String::new() } else { "…".into() };
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let cut = authority.len() < rest.len() || host.len() < authority.len();
    format!("{scheme}://{host}{}", if cut { "/…" } else { "" })
}

/// Checks a rule's fields, naming the first that is wrong.
pub fn validate_rule(r: &NewAlertRule) -> Result<()> {
    let name = r.name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(Error::invalid("name", "must be 1 to 64 characters"));
    }
    match r.kind.as_str() {
        METRIC => {
            if !["service", "node", "cluster"].contains(&r.scope.as_str()) {
                return Err(Error::invalid("scope", "must be service, node or cluster"));
            }
            if r.scope != "cluster" && r.subject.trim().is_empty() {
                return Err(Error::invalid("subject", format!("name the {} the rule watches", r.scope)));
            }
            if !["cpu", "mem"].contains(&r.metric.as_str()) {
                return Err(Error::invalid("metric", "must be cpu or mem"));
            }
            if !r.threshold.is_finite() || r.threshold <= 0.0 {
                return Err(Error::invalid("threshold", "must be a number above 0"));
            }
        }
        REPLICAS => {
            if r.subject.trim().is_empty() {
                return Err(Error::invalid("subject", "name the service the rule watches"));
            }
        }
        NODE_DOWN => {}
        _ => return Err(Error::invalid("kind", "must be metric, replicas or node_down")),
    }
    if !(0..=86_400).contains(&r.for_secs) {
        return Err(Error::invalid("for_secs", "must be between 0 and 86400 seconds"));
    }
    let hook = r.webhook.trim();
    if !hook.is_empty() {
        let ok = (hook.starts_with("http://") || hook.starts_with("https://"))
            && hook.len() <= 2048
            && hook.parse::<hyper::Uri>().is_ok_and(|u| u.host().is_some());
        if !ok {
            return Err(Error::invalid("webhook", "must be an http:// or https:// URL"));
        }
    }
    Ok(())
}

impl Berth {
    /// A cluster's timeline (one app's when `app` is not empty), newest first.
    pub async fn events(&self, actor: &Actor, cluster: i64, app: &str, limit: i64) -> Result<Vec<Event>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "events.read", format!("cluster {cluster}"))
            .await?;
        self.store.events(cluster, app, limit).await
    }

    pub async fn alert_rules(&self, actor: &Actor, cluster: i64) -> Result<Vec<AlertRule>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "alerts.read", format!("cluster {cluster}"))
            .await?;
        let mut rules = self.store.alert_rules(cluster).await?;
        // A webhook URL often carries its token (in the path or the query): only the cluster's admins,
        // who manage the rules, see it whole.
        if authorize(actor, Permission::ClusterManage(cluster)).is_err() {
            for r in &mut rules {
                r.webhook = webhook_shown(&r.webhook);
            }
        }
        Ok(rules)
    }

    pub async fn alert_history(&self, actor: &Actor, cluster: i64) -> Result<Vec<AlertEvent>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "alerts.read", format!("cluster {cluster}"))
            .await?;
        self.store.alert_events(cluster, 200).await
    }

    /// What rules of this cluster can watch.
    pub async fn alert_subjects(&self, actor: &Actor, cluster: i64) -> Result<AlertSubjects> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "alerts.read", format!("cluster {cluster}"))
            .await?;
        self.subjects_of(cluster).await
    }

    async fn subjects_of(&self, cluster: i64) -> Result<AlertSubjects> {
        let mut services = Vec::new();
        for app in self.store.apps(Some(cluster)).await? {
            // An app whose template no longer parses has no services to watch.
            if let Ok(spec) = self.app_spec(&app).await {
                services.extend(spec.services.keys().map(|s| format!("{}_{s}", app.name)));
            }
        }
        services.sort();
        let nodes = self.store.nodes(cluster).await?.into_iter().map(|n| n.name).collect();
        Ok(AlertSubjects { services, nodes })
    }

    /// Adds a rule: cluster admins (a webhook makes Berth send requests where the rule says).
    pub async fn alert_rule_create(&self, actor: &Actor, rule: NewAlertRule) -> Result<i64> {
        let params = json!({
            "name": rule.name, "kind": rule.kind, "scope": rule.scope, "subject": rule.subject,
            "metric": rule.metric, "threshold": rule.threshold, "for_secs": rule.for_secs,
            "webhook": webhook_shown(&rule.webhook),
        });
        let op = Op {
            action: "alert.create",
            permission: Permission::ClusterManage(rule.cluster_id),
            target: rule.name.clone(),
            params,
        };
        self.mutate(actor, op, |user| async move {
            validate_rule(&rule)?;
            if self.store.cluster(rule.cluster_id).await?.is_none() {
                return Err(Error::NotFound(format!("cluster {}", rule.cluster_id)));
            }
            self.subjects_of(rule.cluster_id).await?.check(&rule)?;
            let rule =
                NewAlertRule { name: rule.name.trim().to_string(), webhook: rule.webhook.trim().to_string(), ..rule };
            if self.store.alert_rules(rule.cluster_id).await?.iter().any(|r| r.name == rule.name) {
                return Err(Error::invalid("name", format!("a rule named {} exists already", rule.name)));
            }
            self.store.alert_rule_insert(&rule, &user.username, now_ms()).await
        })
        .await
    }

    pub async fn alert_rule_delete(&self, actor: &Actor, cluster: i64, id: i64) -> Result<()> {
        let op = Op {
            action: "alert.delete",
            permission: Permission::ClusterManage(cluster),
            target: id.to_string(),
            params: json!({ "rule": id }),
        };
        self.mutate(actor, op, |_| async move {
            match self.store.alert_rule(id).await? {
                Some(rule) if rule.cluster_id == cluster => {
                    if let Some(open) = self.store.alert_open(id).await? {
                        self.store.alert_resolve(open.id, now_ms()).await?;
                    }
                    self.store.alert_rule_delete(id).await
                }
                _ => Err(Error::NotFound(format!("alert rule {id}"))),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_field_by_field() {
        let ok = NewAlertRule {
            cluster_id: 1,
            name: "hot".into(),
            kind: METRIC.into(),
            scope: "service".into(),
            subject: "shop_web".into(),
            metric: "cpu".into(),
            threshold: 80.0,
            for_secs: 300,
            webhook: "http://hooks.example/x".into(),
        };
        assert!(validate_rule(&ok).is_ok());
        let field = |r: NewAlertRule| match validate_rule(&r) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(NewAlertRule { name: " ".into(), ..ok.clone() }), "name");
        assert_eq!(field(NewAlertRule { kind: "x".into(), ..ok.clone() }), "kind");
        assert_eq!(field(NewAlertRule { metric: "disk".into(), ..ok.clone() }), "metric");
        assert_eq!(field(NewAlertRule { threshold: f64::NAN, ..ok.clone() }), "threshold");
        assert_eq!(field(NewAlertRule { subject: "".into(), ..ok.clone() }), "subject");
        assert_eq!(field(NewAlertRule { for_secs: -1, ..ok.clone() }), "for_secs");
        assert_eq!(field(NewAlertRule { webhook: "ftp://x".into(), ..ok.clone() }), "webhook");
        assert!(validate_rule(&NewAlertRule { kind: NODE_DOWN.into(), ..ok }).is_ok());
    }

    #[test]
    fn webhooks_are_shown_without_their_secrets() {
        for (url, shown) in [
            ("https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com/…"),
            ("https://user:token@hooks.example/x?key=1", "https://hooks.example/…"),
            ("http://hooks.example:8080?token=abc", "http://hooks.example:8080/…"),
            ("http://hooks.example", "http://hooks.example"),
            ("", ""),
            ("not a url", "…"),
        ] {
            assert_eq!(webhook_shown(url), shown, "{url}");
        }
    }
}
