//! Events and alerts: the engines' events (task failures, restarts, node changes) and Berth's own
//! observations in a timeline per cluster and app; alert rules evaluated after every collection,
//! their firings and resolutions kept and sent to a webhook.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::operation::Op;
use crate::authz::{authorize, Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Checks, Error, Result};
use crate::Berth;

pub use crate::store::{AlertEvent, AlertRule, Event, EventFilter, NewAlertRule, NewEvent};

/// The severities a timeline can be narrowed to.
pub const EVENT_SEVERITIES: &[&str] = &["warning", "error"];

/// Rule kinds.
pub const METRIC: &str = "metric";
pub const REPLICAS: &str = "replicas";
pub const NODE_DOWN: &str = "node_down";

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

/// The ways a rule can notify.
pub const CHANNELS: &[&str] = &["webhook", "slack", "teams", "email"];

/// The e-mail addresses of a destination, or why one of them is not an address. Addresses are
/// checked against an allow-list of characters (no quoting, comments or display names).
pub fn email_addresses(list: &str) -> Result<Vec<String>> {
    let addresses: Vec<String> =
        list.split([',', ' ', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect();
    if addresses.is_empty() {
        return Err(Error::invalid("webhook", "give at least one e-mail address"));
    }
    if addresses.len() > 10 {
        return Err(Error::invalid("webhook", "at most 10 addresses"));
    }
    for a in &addresses {
        let ok = a.len() <= 254
            && a.split_once('@').is_some_and(|(local, domain)| {
                let local_ok = !local.is_empty()
                    && local.len() <= 64
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    && !local.contains("..")
                    && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
                let domain_ok = !domain.is_empty()
                    && domain.len() <= 253
                    && domain.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && !l.starts_with('-')
                            && !l.ends_with('-')
                            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                local_ok && domain_ok
            });
        if !ok {
            return Err(Error::invalid("webhook", format!("{a} is not an e-mail address")));
        }
    }
    Ok(addresses)
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

/// Checks a rule's fields, naming each that is wrong.
pub fn validate_rule(r: &NewAlertRule) -> Result<()> {
    let mut checks = Checks::default();
    let name = r.name.trim();
    if name.is_empty() || name.len() > 64 {
        checks.invalid("name", "must be 1 to 64 characters");
    }
    match r.kind.as_str() {
        METRIC => {
            if !["service", "node", "cluster"].contains(&r.scope.as_str()) {
                checks.invalid("scope", "must be service, node or cluster");
            } else if r.scope != "cluster" && r.subject.trim().is_empty() {
                checks.invalid("subject", format!("name the {} the rule watches", r.scope));
            }
            if !["cpu", "mem"].contains(&r.metric.as_str()) {
                checks.invalid("metric", "must be cpu or mem");
            }
            if !r.threshold.is_finite() || r.threshold <= 0.0 {
                checks.invalid("threshold", "must be a number above 0");
            }
        }
        REPLICAS => {
            if r.subject.trim().is_empty() {
                checks.invalid("subject", "name the service the rule watches");
            }
        }
        NODE_DOWN => {}
        _ => checks.invalid("kind", "must be metric, replicas or node_down"),
    }
    if !(0..=86_400).contains(&r.for_secs) {
        checks.invalid("for_secs", "must be between 0 and 86400 seconds");
    }
    let channel = if r.channel.is_empty() { "webhook" } else { r.channel.as_str() };
    let hook = r.webhook.trim();
    if !CHANNELS.contains(&channel) {
        checks.invalid("channel", "must be webhook, slack, teams or email");
    } else if channel == "email" {
        checks.field(email_addresses(hook));
    } else if !hook.is_empty() {
        let ok = (hook.starts_with("http://") || hook.starts_with("https://"))
            && hook.len() <= 2048
            && hook.parse::<hyper::Uri>().is_ok_and(|u| u.host().is_some());
        if !ok {
            checks.invalid("webhook", "must be an http:// or https:// URL");
        }
    }
    checks.finish()
}

/// The rule as it is kept: trimmed, the channel named.
fn tidy(rule: NewAlertRule) -> NewAlertRule {
    let channel = if rule.channel.is_empty() { "webhook".to_string() } else { rule.channel.clone() };
    NewAlertRule { name: rule.name.trim().to_string(), webhook: rule.webhook.trim().to_string(), channel, ..rule }
}

/// What one notification of a rule is, in its channel's format.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    /// A JSON body to POST to the rule's URL.
    Post(serde_json::Value),
    /// An e-mail to the rule's addresses.
    Mail { subject: String, body: String },
}

/// A firing (`status` "firing") or resolution ("resolved") of `rule` in the rule's channel's format:
/// Berth's JSON for `webhook`, Slack's `text` message, a Teams message card, or an e-mail.
#[allow(clippy::too_many_arguments)]
pub fn notification(
    rule: &AlertRule,
    cluster: &str,
    alert: i64,
    status: &str,
    value: f64,
    message: &str,
    fired_at: i64,
    resolved_at: Option<i64>,
) -> Notification {
    let title = format!("{}: {} on cluster {cluster}", status.to_uppercase(), rule.name);
    match rule.channel.as_str() {
        "slack" => {
            let mark = if status == "firing" { ":rotating_light:" } else { ":white_check_mark:" };
            Notification::Post(json!({ "text": format!("{mark} *{title}*\n{message}") }))
        }
        "teams" => Notification::Post(json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "themeColor": if status == "firing" { "D92D20" } else { "12B76A" },
            "title": title,
            "text": message,
        })),
        "email" => Notification::Mail {
            subject: format!("[Berth] {title}"),
            body: format!(
                "{message}\n\nRule: {} ({})\nCluster: {cluster}\nValue: {value}\nFired at: {}\n{}",
                rule.name,
                rule.kind,
                crate::clock::rfc3339(fired_at),
                resolved_at.map(|r| format!("Resolved at: {}\n", crate::clock::rfc3339(r))).unwrap_or_default(),
            ),
        },
        _ => Notification::Post(json!({
            "status": status,
            "alert": alert,
            "rule": { "id": rule.id, "name": rule.name, "kind": rule.kind, "scope": rule.scope,
                      "subject": rule.subject, "metric": rule.metric, "threshold": rule.threshold,
                      "for_secs": rule.for_secs },
            "cluster": { "id": rule.cluster_id, "name": cluster },
            "value": value,
            "message": message,
            "fired_at": fired_at,
            "resolved_at": resolved_at,
        })),
    }
}

/// An unresolved alert and the cluster it is on.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub alert: AlertEvent,
    pub cluster_name: String,
}

impl Berth {
    /// A cluster's timeline (one app's when `app` is not empty), newest first.
    pub async fn events(&self, actor: &Actor, cluster: i64, app: &str, limit: i64) -> Result<Vec<Event>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "events.read", format!("cluster {cluster}"))
            .await?;
        self.store.events(cluster, app, limit).await
    }

    /// The cluster's events that `filter` lets through, newest first.
    pub async fn events_where(&self, actor: &Actor, cluster: i64, filter: &EventFilter) -> Result<Vec<Event>> {
        if !filter.severity.is_empty() && !EVENT_SEVERITIES.contains(&filter.severity.as_str()) {
            return Err(Error::invalid("severity", "must be warning or error (or empty for every event)"));
        }
        if filter.q.chars().count() > 200 {
            return Err(Error::invalid("q", "a search has at most 200 characters"));
        }
        self.authorize_read(actor, Permission::ClusterRead(cluster), "events.read", format!("cluster {cluster}"))
            .await?;
        self.store.events_where(cluster, filter).await
    }

    pub async fn alert_rules(&self, actor: &Actor, cluster: i64) -> Result<Vec<AlertRule>> {
        self.authorize_read(actor, Permission::ClusterRead(cluster), "alerts.read", format!("cluster {cluster}"))
            .await?;
        let mut rules = self.store.alert_rules(cluster).await?;
        // A webhook URL often carries its token (in the path or the query): only the cluster's admins,
        // who manage the rules, see it whole.
        if authorize(actor, Permission::ClusterManage(cluster)).is_err() {
            for r in rules.iter_mut().filter(|r| r.channel != "email") {
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
            "webhook": webhook_shown(&rule.webhook), "channel": rule.channel,
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
            let rule = tidy(rule);
            self.mail_ready_for(&rule).await?;
            if self.store.alert_rules(rule.cluster_id).await?.iter().any(|r| r.name == rule.name) {
                return Err(Error::invalid("name", format!("a rule named {} exists already", rule.name)));
            }
            self.store.alert_rule_insert(&rule, &user.username, now_ms()).await
        })
        .await
    }

    /// Changes a rule (cluster admins): its condition is judged afresh; an open alert stays open
    /// until the new condition no longer holds.
    pub async fn alert_rule_update(&self, actor: &Actor, id: i64, rule: NewAlertRule) -> Result<()> {
        let params = json!({
            "rule": id, "name": rule.name, "kind": rule.kind, "scope": rule.scope, "subject": rule.subject,
            "metric": rule.metric, "threshold": rule.threshold, "for_secs": rule.for_secs,
            "webhook": webhook_shown(&rule.webhook), "channel": rule.channel,
        });
        let op = Op {
            action: "alert.update",
            permission: Permission::ClusterManage(rule.cluster_id),
            target: id.to_string(),
            params,
        };
        self.mutate(actor, op, |_| async move {
            match self.store.alert_rule(id).await? {
                Some(old) if old.cluster_id == rule.cluster_id => {
                    validate_rule(&rule)?;
                    self.subjects_of(rule.cluster_id).await?.check(&rule)?;
                    let rule = tidy(rule);
                    self.mail_ready_for(&rule).await?;
                    let rules = self.store.alert_rules(rule.cluster_id).await?;
                    if rules.iter().any(|r| r.name == rule.name && r.id != id) {
                        return Err(Error::invalid("name", format!("a rule named {} exists already", rule.name)));
                    }
                    self.store.alert_rule_update(id, &rule).await
                }
                _ => Err(Error::NotFound(format!("alert rule {id}"))),
            }
        })
        .await
    }

    /// Mutes a rule's notifications for `minutes` (0 unmutes): operators and up, as one silences a
    /// pager. The rule still fires and resolves on its page.
    pub async fn alert_rule_mute(&self, actor: &Actor, cluster: i64, id: i64, minutes: i64) -> Result<i64> {
        let op = Op {
            action: if minutes == 0 { "alert.unmute" } else { "alert.mute" },
            permission: Permission::AppOperate(cluster),
            target: id.to_string(),
            params: json!({ "rule": id, "minutes": minutes }),
        };
        self.mutate(actor, op, |_| async move {
            if !(0..=7 * 24 * 60).contains(&minutes) {
                return Err(Error::invalid("minutes", "must be between 0 and 10080 (a week)"));
            }
            match self.store.alert_rule(id).await? {
                Some(rule) if rule.cluster_id == cluster => {
                    let until = if minutes == 0 { 0 } else { now_ms() + minutes * 60_000 };
                    self.store.alert_rule_mute(id, until).await?;
                    Ok(until)
                }
                _ => Err(Error::NotFound(format!("alert rule {id}"))),
            }
        })
        .await
    }

    /// The alerts firing now on the clusters the actor may see, newest first.
    pub async fn alerts_firing(&self, actor: &Actor) -> Result<Vec<Firing>> {
        authorize(actor, Permission::ClusterList)?;
        let names: std::collections::HashMap<i64, String> =
            self.store.clusters().await?.into_iter().map(|c| (c.id, c.name)).collect();
        Ok(self
            .store
            .alerts_firing()
            .await?
            .into_iter()
            .filter(|a| authorize(actor, Permission::ClusterRead(a.cluster_id)).is_ok())
            .filter_map(|alert| Some(Firing { cluster_name: names.get(&alert.cluster_id)?.clone(), alert }))
            .collect())
    }

    /// Refuses an e-mail rule while the installation has no mail server to send it through.
    async fn mail_ready_for(&self, rule: &NewAlertRule) -> Result<()> {
        if rule.channel == "email" && self.mail_settings().await?.host.is_empty() {
            return Err(Error::invalid("channel", "set up the mail server in Settings before e-mail alerts"));
        }
        Ok(())
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
            channel: String::new(),
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
        assert_eq!(field(NewAlertRule { channel: "pager".into(), ..ok.clone() }), "channel");
        assert!(validate_rule(&NewAlertRule { channel: "slack".into(), ..ok.clone() }).is_ok());
        assert_eq!(field(NewAlertRule { channel: "email".into(), ..ok.clone() }), "webhook", "a URL is no address");
        let mail = NewAlertRule { channel: "email".into(), webhook: "ops@example.com, b@x.io".into(), ..ok.clone() };
        assert!(validate_rule(&mail).is_ok());
        assert!(validate_rule(&NewAlertRule { kind: NODE_DOWN.into(), ..ok }).is_ok());
    }

    #[test]
    fn notifications_take_their_channels_format() {
        let rule = AlertRule {
            id: 7,
            cluster_id: 1,
            name: "hot".into(),
            kind: METRIC.into(),
            scope: "service".into(),
            subject: "shop_web".into(),
            metric: "cpu".into(),
            threshold: 80.0,
            for_secs: 0,
            webhook: "https://hooks.example/x".into(),
            channel: "webhook".into(),
            muted_until: 0,
            enabled: 1,
            created_by: "ann".into(),
            created_at: 0,
        };
        let note = |channel: &str, status: &str| {
            let r = AlertRule { channel: channel.into(), ..rule.clone() };
            notification(&r, "prod", 3, status, 91.5, "shop_web uses 91.5 % CPU", 1_764_140_645_000, None)
        };
        let Notification::Post(json) = note("webhook", "firing") else { panic!() };
        assert_eq!((json["status"].as_str(), json["alert"].as_i64()), (Some("firing"), Some(3)));
        assert_eq!(json["rule"]["subject"], "shop_web");
        let Notification::Post(slack) = note("slack", "firing") else { panic!() };
        assert_eq!(slack.as_object().map(|o| o.len()), Some(1), "only text: {slack}");
        assert_eq!(slack["text"], ":rotating_light: *FIRING: hot on cluster prod*\nshop_web uses 91.5 % CPU");
        let Notification::Post(teams) = note("teams", "resolved") else { panic!() };
        assert_eq!(teams["@type"], "MessageCard");
        assert_eq!(teams["themeColor"], "12B76A");
        assert_eq!(teams["title"], "RESOLVED: hot on cluster prod");
        let Notification::Mail { subject, body } = note("email", "firing") else { panic!() };
        assert_eq!(subject, "[Berth] FIRING: hot on cluster prod");
        assert!(body.starts_with("shop_web uses 91.5 % CPU\n"), "{body}");
        assert!(body.contains("Fired at: 2025-11-26T07:04:05Z"), "{body}");
    }

    #[test]
    fn email_addresses_are_an_allow_list() {
        assert_eq!(email_addresses("a@b.c,  d.e+f@g-h.io").unwrap(), ["a@b.c", "d.e+f@g-h.io"]);
        for bad in [
            "",
            "a",
            "@b.c",
            "a@",
            "a@b..c",
            ".a@b.c",
            "a..b@c.d",
            "a@-b.c",
            "\"a\"@b.c",
            "a@b.c\r\nBcc: x@y.z",
            "Name <a@b.c>",
            "a@b_c.d",
            "a@[127.0.0.1]",
            "ä@b.c",
            "a@b.c;x@y.z",
        ] {
            assert!(email_addresses(bad).is_err(), "{bad:?} is refused");
        }
        assert!(email_addresses(&["a@b.c"; 11].join(",")).is_err());
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
