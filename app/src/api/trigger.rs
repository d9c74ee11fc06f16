//! An app's triggers: the URLs CI calls to redeploy, scale or roll back the app (list with their
//! newest calls, create and rotate — each answers the secret once — and revoke), and the
//! copy-paste snippets that call them (`curl`, a signing shell script, GitHub Actions, GitLab CI).

// The create form has eight fields; the server function macro does not carry an item-level allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A trigger (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TriggerRow {
    pub id: i64,
    pub app_id: i64,
    pub name: String,
    /// `redeploy`, `scale` or `rollback`.
    pub action: String,
    /// What it does, in words.
    pub summary: String,
    /// Scale: the service and the replicas; whether a call may say how many.
    pub service: String,
    pub replicas: u64,
    pub replicas_from_body: bool,
    /// Redeploy: every image fetched again.
    pub latest_image: bool,
    /// `signature` (Standard Webhooks) or `header`.
    pub auth: String,
    /// The path a call is posted to: `/hooks/<public id>`.
    pub path: String,
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms; 0 when never rotated.
    pub rotated_at: i64,
    /// Until when (Unix ms) the secret before the last rotation is accepted too; 0 for none.
    pub previous_until: i64,
    /// The newest calls, newest first.
    pub calls: Vec<TriggerCallRow>,
}

/// One call of a trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TriggerCallRow {
    pub id: i64,
    /// Unix ms.
    pub at: i64,
    /// `accepted`, `unauthorized`, `replayed`, `throttled` or `failed`.
    pub outcome: String,
    /// The HTTP status the caller got.
    pub status: i64,
    /// The job an accepted call started.
    pub job: Option<i64>,
    /// The caller's address.
    pub source: String,
    /// Why it was refused or failed (never told to the caller).
    pub message: String,
}

/// A trigger with its secret: shown once, at creation and at each rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedTrigger {
    pub trigger: TriggerRow,
    pub secret: String,
}

/// The Triggers tab's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggersView {
    pub triggers: Vec<TriggerRow>,
    /// Server time (Unix ms), for "… ago".
    pub now: i64,
}

/// The environment variable every snippet reads the secret from (kept in the CI's secrets).
pub const SECRET_VARIABLE: &str = "BERTH_TRIGGER_SECRET";

/// A shell script that calls the trigger at `url` with `body` (JSON, or empty), the secret in
/// `$BERTH_TRIGGER_SECRET`: `curl` with the secret in a header, or Standard Webhooks signing with
/// `openssl` (the key is the base64 after `whsec_`, as hex for `-macopt hexkey:`).
pub fn shell_snippet(url: &str, auth: &str, body: &str) -> String {
    let data = if body.is_empty() {
        String::new()
    } else {
        " \\\n  -H 'content-type: application/json' -d \"$BODY\"".to_string()
    };
    let body_line = if body.is_empty() { "BODY=''".to_string() } else { format!("BODY='{body}'") };
    if auth == "header" {
        return format!(
            "{body_line}\ncurl -fsS -X POST '{url}' \\\n  -H \"Authorization: Bearer ${SECRET_VARIABLE}\"{data}\n"
        );
    }
    format!(
        "{body_line}\nID=\"msg_$(date +%s)_$$\"\nTS=$(date +%s)\n\
         KEY=$(printf %s \"${{{SECRET_VARIABLE}#whsec_}}\" | base64 -d | od -An -v -tx1 | tr -d ' \\n')\n\
         SIG=$(printf '%s.%s.%s' \"$ID\" \"$TS\" \"$BODY\" | openssl dgst -sha256 -mac HMAC -macopt \"hexkey:$KEY\" -binary | base64)\n\
         curl -fsS -X POST '{url}' \\\n  -H \"webhook-id: $ID\" -H \"webhook-timestamp: $TS\" -H \"webhook-signature: v1,$SIG\"{data}\n"
    )
}

/// The snippet as a GitHub Actions step (the secret from the repository's secrets).
pub fn github_snippet(name: &str, shell: &str) -> String {
    let run: String = shell.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        "- name: Berth trigger {name}\n  env:\n    {SECRET_VARIABLE}: ${{{{ secrets.{SECRET_VARIABLE} }}}}\n  run: |\n{}",
        run.trim_start_matches("  ")
    )
}

/// The snippet as a GitLab CI job (the secret a masked CI/CD variable).
pub fn gitlab_snippet(name: &str, shell: &str) -> String {
    let script: String = shell.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        "berth-{name}:\n  stage: deploy\n  image: alpine:3\n  script:\n    - apk add --no-cache curl openssl\n    - |\n{script}"
    )
}

/// The body a trigger's snippets send: the replicas for a scale trigger that takes them.
pub fn snippet_body(t: &TriggerRow) -> String {
    if t.action == "scale" && t.replicas_from_body {
        format!("{{\"replicas\": {}}}", t.replicas)
    } else {
        String::new()
    }
}

#[cfg(feature = "ssr")]
pub mod map {
    use super::*;
    use domain::triggers::{Action, Issued, Trigger};

    pub fn call(c: domain::store::TriggerCall) -> TriggerCallRow {
        TriggerCallRow {
            id: c.id,
            at: c.at,
            outcome: c.outcome,
            status: c.status,
            job: c.job_id,
            source: c.source,
            message: c.message,
        }
    }

    pub fn trigger(t: Trigger) -> TriggerRow {
        let summary = t.action.describe();
        let (service, replicas, replicas_from_body, latest_image) = match &t.action {
            Action::Scale { service, replicas, replicas_from_body } => {
                (service.clone(), *replicas, *replicas_from_body, false)
            }
            Action::Redeploy { latest_image } => (String::new(), 0, false, *latest_image),
            Action::Rollback => (String::new(), 0, false, false),
        };
        TriggerRow {
            id: t.id,
            app_id: t.app_id,
            name: t.name,
            action: t.action.name().into(),
            summary,
            service,
            replicas,
            replicas_from_body,
            latest_image,
            auth: t.auth.as_str().into(),
            path: format!("/hooks/{}", t.public_id),
            created_by: t.created_by,
            created_at: t.created_at,
            rotated_at: t.rotated_at,
            previous_until: t.previous_until,
            calls: t.calls.into_iter().map(call).collect(),
        }
    }

    pub fn issued(i: Issued) -> IssuedTrigger {
        IssuedTrigger { trigger: trigger(i.trigger), secret: i.secret }
    }
}

/// An app's triggers with their newest calls (everyone who sees the app).
#[server(endpoint = "get_triggers", output = crate::codec::Wire)]
pub async fn get_triggers(app: i64) -> Result<TriggersView, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let triggers = berth.triggers(&actor, app).await.map_err(wire)?;
    Ok(TriggersView { triggers: triggers.into_iter().map(map::trigger).collect(), now: domain::clock::now_ms() })
}

/// Makes a trigger (operators); the answer holds its secret, shown once.
#[server(endpoint = "create_trigger", output = crate::codec::Wire)]
pub async fn create_trigger(
    app: i64,
    name: String,
    action: String,
    auth: String,
    #[server(default)] service: String,
    #[server(default)] replicas: String,
    #[server(default)] replicas_from_body: Option<String>,
    #[server(default)] latest_image: Option<String>,
) -> Result<IssuedTrigger, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    let replicas = match replicas.trim() {
        "" => None,
        n => Some(
            n.parse::<u64>()
                .map_err(|_| wire(domain::Error::invalid("replicas", format!("`{n}` is not a number of replicas"))))?,
        ),
    };
    let input = domain::triggers::TriggerInput {
        name,
        action,
        service,
        replicas,
        replicas_from_body: replicas_from_body.is_some(),
        latest_image: latest_image.is_some(),
        auth,
    };
    berth.create_trigger(&actor, app, &input).await.map(map::issued).map_err(wire)
}

/// A new secret for a trigger (operators), shown once; the old one works for another 24 hours.
#[server(endpoint = "rotate_trigger", output = crate::codec::Wire)]
pub async fn rotate_trigger(app: i64, trigger: i64) -> Result<IssuedTrigger, AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.rotate_trigger(&actor, app, trigger).await.map(map::issued).map_err(wire)
}

/// Revokes a trigger (operators): its URL answers 404 from now on.
#[server(endpoint = "revoke_trigger", output = crate::codec::Wire)]
pub async fn revoke_trigger(app: i64, trigger: i64) -> Result<(), AppError> {
    use super::ssr::{context, wire};
    let (berth, actor) = context()?;
    berth.revoke_trigger(&actor, app, trigger).await.map_err(wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_read_the_secret_from_the_environment() {
        let url = "https://berth.example.com/hooks/abc";
        for auth in ["signature", "header"] {
            let shell = shell_snippet(url, auth, "{\"replicas\": 3}");
            assert!(shell.contains(url) && shell.contains(SECRET_VARIABLE), "{shell}");
            assert!(!shell.contains("?"), "never in the URL: {shell}");
            let gh = github_snippet("ci", &shell);
            assert!(gh.contains("${{ secrets.BERTH_TRIGGER_SECRET }}"), "{gh}");
            assert!(gitlab_snippet("ci", &shell).contains("script:"));
        }
        assert!(shell_snippet(url, "signature", "").contains("webhook-signature: v1,$SIG"));
        assert!(shell_snippet(url, "header", "").contains("Authorization: Bearer $BERTH_TRIGGER_SECRET"));
    }
}
