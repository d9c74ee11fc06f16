//! App triggers: URLs a CI system calls (`POST /hooks/{public id}`) to redeploy an app (optionally
//! fetching the newest image of each tag), scale one of its services or roll it back to the version
//! before the current one. Each trigger does one thing, chosen when it is made.
//!
//! A call proves it holds the trigger's secret one of two ways:
//! - `signature` ([Standard Webhooks](https://www.standardwebhooks.com)): `webhook-id`,
//!   `webhook-timestamp` (Unix seconds, at most [`SKEW_S`] off either way) and `webhook-signature`
//!   (space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, any one matching
//!   passes; the key is the base64 after `whsec_`). A webhook id is refused for [`SEEN_MS`] after
//!   it was first accepted, so a captured call cannot be replayed inside the timestamp window.
//! - `header`: the secret itself in `Authorization: Bearer …` or `X-Berth-Trigger-Secret`, for CI
//!   that cannot sign (no replay protection: keep it to TLS). Never in the URL: a query string is
//!   not read.
//!
//! Comparisons are constant-time (`ring::hmac::verify`; SHA-256 digests compared without early
//! exit). After a rotation the previous secret stays valid for [`ROTATION_GRACE_MS`], so a CI's
//! settings can follow. Every call of a trigger counts against [`LIMIT`] per [`WINDOW_MS`]
//! (throttled calls excepted), decided in the store's transaction so replicas share it.
//!
//! Each call is recorded in the trigger's calls (outcome, status, source, job); an accepted call
//! is a job and an operation in the history by `trigger:<name>` ([`Actor::trigger`]), which is an
//! operator of the app's cluster and no more. Creating, rotating and revoking are mutations of
//! the app's operators.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::apps::app::app_op;
use crate::authz::{Actor, Permission};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::runtime::job::{JobSpec, Prepared};
use crate::store::{Admitted, App, NewTrigger, TriggerCall, TriggerRow};
use crate::Berth;

pub use crate::apps::trigger_auth::{
    new_secret, retry_after, sign, signing_key, verify_header, verify_signature, Refusal, LIMIT, SECRET_PREFIX, SKEW_S,
    WINDOW_MS,
};

/// How long an accepted webhook id is remembered (longer than the timestamp window both ways, so
/// a call that could still pass the timestamp check cannot pass twice).
pub const SEEN_MS: i64 = 10 * 60_000;
/// How long the secret before a rotation stays valid.
pub const ROTATION_GRACE_MS: i64 = 24 * 3_600_000;
/// The largest body a call may carry.
pub const MAX_BODY: usize = 64 * 1024;
/// The most replicas a scale trigger sets.
pub const MAX_REPLICAS: u64 = 1000;

/// What a trigger does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Deploy the current version again, replacing every task; with `latest_image` every service's
    /// image is fetched again (else only those of `berth.latest_image` services, as the console's
    /// Redeploy does).
    Redeploy {
        #[serde(default)]
        latest_image: bool,
    },
    /// Set one service's replicas; with `replicas_from_body` a call may say how many
    /// (`{"replicas": N}`, clamped to 0..=1000).
    Scale {
        service: String,
        replicas: u64,
        #[serde(default)]
        replicas_from_body: bool,
    },
    /// Deploy the version before the current one again, as a new version.
    Rollback,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Redeploy { .. } => "redeploy",
            Action::Scale { .. } => "scale",
            Action::Rollback => "rollback",
        }
    }

    /// What it does, in words.
    pub fn describe(&self) -> String {
        match self {
            Action::Redeploy { latest_image: true } => "redeploy, fetching every image again".into(),
            Action::Redeploy { latest_image: false } => "redeploy".into(),
            Action::Scale { service, replicas, replicas_from_body: true } => {
                format!("scale {service} (to {replicas}, or the call's replicas)")
            }
            Action::Scale { service, replicas, .. } => format!("scale {service} to {replicas}"),
            Action::Rollback => "roll back to the previous version".into(),
        }
    }
}

/// How a call proves it holds the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Standard Webhooks signatures.
    Signature,
    /// The secret in a header.
    Header,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Signature => "signature",
            Auth::Header => "header",
        }
    }

    pub fn parse(s: &str) -> Option<Auth> {
        match s {
            "signature" => Some(Auth::Signature),
            "header" => Some(Auth::Header),
            _ => None,
        }
    }
}

/// A trigger to make, as a form or a REST body gives it.
#[derive(Clone, Debug, Default)]
pub struct TriggerInput {
    pub name: String,
    /// `redeploy`, `scale` or `rollback`.
    pub action: String,
    /// Scale: the service and its replicas.
    pub service: String,
    pub replicas: Option<u64>,
    pub replicas_from_body: bool,
    /// Redeploy: fetch every image again.
    pub latest_image: bool,
    /// `signature` (the default) or `header`.
    pub auth: String,
}

/// A trigger as the console and the REST API show it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub id: i64,
    pub app_id: i64,
    /// The token in its URL (`/hooks/{public_id}`).
    pub public_id: String,
    pub name: String,
    pub action: Action,
    pub auth: Auth,
    pub created_by: String,
    pub created_at: i64,
    /// 0 when never rotated.
    pub rotated_at: i64,
    /// Until when the secret before the last rotation is accepted too (0: none).
    pub previous_until: i64,
    /// The newest calls, newest first.
    pub calls: Vec<TriggerCall>,
}

/// A trigger with its secret, shown once (at creation and at each rotation).
#[derive(Clone, Debug)]
pub struct Issued {
    pub trigger: Trigger,
    pub secret: String,
}

/// A call as the server received it.
#[derive(Clone, Debug, Default)]
pub struct IncomingCall<'a> {
    pub public_id: &'a str,
    pub webhook_id: Option<&'a str>,
    pub webhook_timestamp: Option<&'a str>,
    pub webhook_signature: Option<&'a str>,
    /// From `Authorization: Bearer …` or `X-Berth-Trigger-Secret`.
    pub secret: Option<&'a str>,
    /// The URL's query string, never read for a secret (only to warn that one was sent there).
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    pub source: String,
    pub request_id: String,
}

/// The status `/hooks` answers for a call whose action failed to start (as the server maps
/// errors), kept in the call's row.
fn status_of(e: &Error) -> i64 {
    match e {
        Error::Unauthenticated => 401,
        Error::Forbidden(_) => 403,
        Error::NotFound(_) => 404,
        Error::Conflict(_) => 409,
        Error::Invalid { .. } | Error::Problems(_) => 422,
        Error::Throttled { .. } => 429,
        Error::EngineUnreachable(_) | Error::NodeUnreachable(_) | Error::Unavailable(_) => 503,
        Error::Engine(_) => 502,
        Error::Internal(_) => 500,
    }
}

/// Calls shown per trigger.
const CALLS_SHOWN: i64 = 20;

/// What a scale trigger reads of a call's body (anything else in it is left alone, so a CI's own
/// webhook payload can be signed and sent as it is).
#[derive(Deserialize, Default)]
struct CallBody {
    replicas: Option<u64>,
}

impl Berth {
    fn trigger_view(row: TriggerRow, calls: Vec<TriggerCall>) -> Result<Trigger> {
        let mut params: serde_json::Value = serde_json::from_str(&row.params)?;
        params["action"] = json!(row.action);
        Ok(Trigger {
            id: row.id,
            app_id: row.app_id,
            action: serde_json::from_value(params)?,
            auth: Auth::parse(&row.auth).unwrap_or(Auth::Signature),
            public_id: row.public_id,
            name: row.name,
            created_by: row.created_by,
            created_at: row.created_at,
            rotated_at: row.rotated_at,
            previous_until: row.previous_until,
            calls,
        })
    }

    /// An app's triggers with their newest calls: everyone who sees the app.
    pub async fn triggers(&self, actor: &Actor, app_id: i64) -> Result<Vec<Trigger>> {
        let app = self.visible_app(actor, app_id, "app.triggers", false).await?;
        self.authorize_read(actor, Permission::ClusterRead(app.cluster_id), "app.triggers", app.name.clone()).await?;
        let mut out = Vec::new();
        for row in self.store.triggers(app.id).await? {
            let calls = self.store.trigger_calls(row.id, CALLS_SHOWN).await?;
            out.push(Self::trigger_view(row, calls)?);
        }
        Ok(out)
    }

    /// One trigger's newest calls (up to the 100 kept), newest first.
    pub async fn trigger_calls(&self, actor: &Actor, app_id: i64, trigger_id: i64) -> Result<Vec<TriggerCall>> {
        let app = self.visible_app(actor, app_id, "app.triggers", false).await?;
        self.authorize_read(actor, Permission::ClusterRead(app.cluster_id), "app.triggers", app.name.clone()).await?;
        self.store
            .trigger(app.id, trigger_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("trigger {trigger_id}")))?;
        self.store.trigger_calls(trigger_id, crate::store::CALLS_KEPT).await
    }

    /// Makes a trigger (operators of the app's cluster); its secret is in the answer, once.
    pub async fn create_trigger(&self, actor: &Actor, app_id: i64, input: &TriggerInput) -> Result<Issued> {
        let app = self.visible_app(actor, app_id, "trigger.create", true).await?;
        let params = json!({ "app": app_id, "name": input.name, "action": input.action, "auth": input.auth,
                             "service": input.service, "replicas": input.replicas,
                             "replicas_from_body": input.replicas_from_body, "latest_image": input.latest_image });
        let op = app_op("trigger.create", &app, format!("{}/{}", app.name, input.name.trim()), params);
        self.mutate(actor, op, |user| async move {
            let (name, action, auth) = self.check_trigger(&app, input).await?;
            let secret = new_secret()?;
            let sealed = self.sealer()?.seal(secret.as_bytes())?;
            let public_id = crate::secret::random_token()?[..40].to_string();
            let mut params = serde_json::to_value(&action)?;
            if let Some(map) = params.as_object_mut() {
                map.remove("action");
            }
            let new = NewTrigger {
                app_id: app.id,
                public_id: &public_id,
                name: &name,
                action: action.name(),
                params: &params.to_string(),
                auth: auth.as_str(),
                secret: &sealed,
                created_by: &user.username,
                created_at: now_ms(),
            };
            let id = self.store.trigger_insert(&new).await?.ok_or_else(|| {
                Error::invalid("name", format!("app {} has a trigger named {name} already", app.name))
            })?;
            let row = self.store.trigger(app.id, id).await?.ok_or_else(|| Error::NotFound(format!("trigger {id}")))?;
            Ok(Issued { trigger: Self::trigger_view(row, Vec::new())?, secret })
        })
        .await
    }

    /// Checks a trigger's input against the app: every wrong field at once.
    async fn check_trigger(&self, app: &App, input: &TriggerInput) -> Result<(String, Action, Auth)> {
        let mut checks = crate::error::Checks::default();
        let name = checks.field(crate::clusters::cluster::validate_name("name", &input.name, 40));
        let auth = match input.auth.trim() {
            "" => Some(Auth::Signature),
            a => Auth::parse(a).or_else(|| {
                checks.invalid("auth", format!("`{a}` is not a way to authenticate: signature or header"));
                None
            }),
        };
        let action = match input.action.trim() {
            "redeploy" => Some(Action::Redeploy { latest_image: input.latest_image }),
            "rollback" => Some(Action::Rollback),
            "scale" => {
                let service = input.service.trim().to_string();
                let spec = self.app_spec(app).await?;
                if !spec.services.contains_key(&service) {
                    checks.invalid("service", format!("app {} has no service `{service}`", app.name));
                } else if spec.services[&service].mode == compose::Mode::Global {
                    checks.invalid("service", format!("{service} is global: it runs one task per node"));
                } else if spec.services[&service].mode.is_job() {
                    checks.invalid("service", format!("{service} is a job: it runs to completion, it is not scaled"));
                }
                match input.replicas {
                    Some(r) if r <= MAX_REPLICAS => {}
                    Some(_) => checks.invalid("replicas", format!("at most {MAX_REPLICAS}")),
                    None => checks.invalid("replicas", "is required"),
                }
                Some(Action::Scale {
                    service,
                    replicas: input.replicas.unwrap_or(0),
                    replicas_from_body: input.replicas_from_body,
                })
            }
            other => {
                checks.invalid("action", format!("`{other}` is not an action: redeploy, scale or rollback"));
                None
            }
        };
        let all = match (name, action, auth) {
            (Some(name), Some(action), Some(auth)) => Some((name, action, auth)),
            _ => None,
        };
        checks.done(all)
    }

    /// A new secret for a trigger (operators); the one it replaces stays valid for
    /// [`ROTATION_GRACE_MS`]. The new secret is in the answer, once.
    pub async fn rotate_trigger(&self, actor: &Actor, app_id: i64, trigger_id: i64) -> Result<Issued> {
        let app = self.visible_app(actor, app_id, "trigger.rotate", true).await?;
        let op = app_op(
            "trigger.rotate",
            &app,
            format!("{}/trigger {trigger_id}", app.name),
            json!({ "app": app_id, "trigger": trigger_id }),
        );
        self.mutate(actor, op, |_| async move {
            let secret = new_secret()?;
            let sealed = self.sealer()?.seal(secret.as_bytes())?;
            let now = now_ms();
            let known = self.store.trigger(app.id, trigger_id).await?.is_some();
            if !known || !self.store.trigger_rotate(trigger_id, &sealed, now + ROTATION_GRACE_MS, now).await? {
                return Err(Error::NotFound(format!("trigger {trigger_id}")));
            }
            let row = self
                .store
                .trigger(app.id, trigger_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("trigger {trigger_id}")))?;
            let calls = self.store.trigger_calls(trigger_id, CALLS_SHOWN).await?;
            Ok(Issued { trigger: Self::trigger_view(row, calls)?, secret })
        })
        .await
    }

    /// Revokes a trigger (operators): its URL answers 404 from now on.
    pub async fn revoke_trigger(&self, actor: &Actor, app_id: i64, trigger_id: i64) -> Result<()> {
        let app = self.visible_app(actor, app_id, "trigger.revoke", true).await?;
        let op = app_op(
            "trigger.revoke",
            &app,
            format!("{}/trigger {trigger_id}", app.name),
            json!({ "app": app_id, "trigger": trigger_id }),
        );
        self.mutate(actor, op, |_| async move {
            let known = self.store.trigger(app.id, trigger_id).await?.is_some();
            if !known || !self.store.trigger_revoke(trigger_id, now_ms()).await? {
                return Err(Error::NotFound(format!("trigger {trigger_id}")));
            }
            Ok(())
        })
        .await
    }

    /// A call of `POST /hooks/{public id}`: authenticated, limited, recorded, and when accepted the
    /// trigger's action started as a job (its id returned). Refusals are errors: `NotFound` for an
    /// unknown or revoked trigger, `Unauthenticated` (whatever check failed; the reason is in the
    /// trigger's calls), `Throttled`, `Conflict` for a replayed webhook id, and the action's own
    /// refusal when it cannot start.
    #[tracing::instrument(skip_all, fields(source = %call.source))]
    pub async fn call_trigger(&self, call: IncomingCall<'_>) -> Result<i64> {
        let anonymous = Actor::anonymous(call.source.clone(), call.request_id.clone());
        let unknown = || Error::NotFound("trigger".into());
        let plausible = call.public_id.len() <= 64 && call.public_id.bytes().all(|b| b.is_ascii_hexdigit());
        let row = if plausible { self.store.trigger_by_public_id(call.public_id).await? } else { None };
        let Some(row) = row else {
            self.record_refusal(&anonymous, "trigger.unknown", "/hooks", json!({}), unknown()).await;
            return Err(unknown());
        };
        let app = self.store.app(row.app_id).await?.ok_or_else(unknown)?;
        let trigger = Self::trigger_view(row.clone(), Vec::new())?;
        let now = now_ms();

        // The valid secrets: the current one, and the previous one until its deadline.
        let sealer = self.sealer()?;
        let mut secrets = vec![String::from_utf8(sealer.unseal(&row.secret)?).unwrap_or_default()];
        if !row.previous_secret.is_empty() && row.previous_until > now {
            secrets.push(String::from_utf8(sealer.unseal(&row.previous_secret)?).unwrap_or_default());
        }
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let verdict = match trigger.auth {
            Auth::Signature => verify_signature(
                call.webhook_id,
                call.webhook_timestamp,
                call.webhook_signature,
                call.body,
                &secrets,
                now.div_euclid(1000),
            ),
            Auth::Header => verify_header(call.secret, &secrets),
        };
        let leaked = call.query.is_some_and(|q| secrets.iter().any(|s| q.contains(s)) || q.contains(SECRET_PREFIX));
        let mut message = match &verdict {
            Ok(()) => String::new(),
            Err(refusal) => refusal.to_string(),
        };
        if leaked {
            message = format!("{message}; a secret was sent in the URL, which is never read: rotate it")
                .trim_start_matches("; ")
                .to_string();
        }
        let record = TriggerCall {
            id: 0,
            trigger_id: row.id,
            at: now,
            outcome: if verdict.is_ok() { "accepted" } else { "unauthorized" }.into(),
            status: if verdict.is_ok() { 202 } else { 401 },
            job_id: None,
            source: call.source.chars().take(64).collect(),
            message,
        };
        let webhook_id = (trigger.auth == Auth::Signature).then_some(call.webhook_id).flatten();
        let admitted = self
            .store
            .trigger_call_admit(&record, webhook_id, now - WINDOW_MS, now - SEEN_MS, |c| retry_after(c, now))
            .await?;
        let target = format!("{}/{}", app.name, trigger.name);
        let call_id = match admitted {
            Admitted::Throttled(secs) => return Err(Error::Throttled { retry_after_secs: secs }),
            Admitted::Replayed(_) => {
                return Err(Error::Conflict("this webhook-id was received already; the call has no effect".into()))
            }
            Admitted::Recorded(_) if verdict.is_err() => {
                let params = json!({ "app": app.id, "trigger": trigger.id });
                self.record_refusal(&anonymous, "trigger.refused", &target, params, Error::Unauthenticated).await;
                return Err(Error::Unauthenticated);
            }
            Admitted::Recorded(id) => id,
        };

        let actor = Actor::trigger(&trigger.name, app.cluster_id, call.source.clone(), call.request_id.clone());
        let started = self.run_trigger(&actor, &app, &trigger, call.body).await;
        let ended = match &started {
            Ok(job) => self.store.trigger_call_ended(call_id, "accepted", 202, Some(*job), "").await,
            Err(e) => {
                let message = crate::runtime::job::job_error(e);
                self.store.trigger_call_ended(call_id, "failed", status_of(e), None, &message).await
            }
        };
        if let Err(e) = ended {
            tracing::warn!(call = call_id, error = %e, "could not record how a trigger call ended");
        }
        started
    }

    /// Starts a trigger's action as `actor` (the trigger): a job whose id is returned.
    async fn run_trigger(&self, actor: &Actor, app: &App, trigger: &Trigger, body: &[u8]) -> Result<i64> {
        // Only a scale trigger reads the body (it is signed either way): a redeploy or rollback
        // called with a CI's push payload just does its one thing.
        let scale = matches!(trigger.action, Action::Scale { .. });
        let body: CallBody = if !scale || body.iter().all(u8::is_ascii_whitespace) {
            CallBody::default()
        } else {
            serde_json::from_slice(body).map_err(|e| {
                Error::invalid("body", format!("a scale trigger takes JSON such as {{\"replicas\": 3}}: {e}"))
            })?
        };
        match &trigger.action {
            Action::Redeploy { latest_image } => self.redeploy_app_fetching(actor, app.id, *latest_image).await,
            Action::Rollback => {
                let previous =
                    self.store.app_versions(app.id).await?.into_iter().find(|v| v.version < app.version).ok_or_else(
                        || Error::Conflict(format!("app {} has no version before {}", app.name, app.version)),
                    )?;
                self.rollback_app(actor, app.id, previous.version).await
            }
            Action::Scale { service, replicas, replicas_from_body } => {
                let replicas = match body.replicas {
                    Some(_) if !replicas_from_body => {
                        return Err(Error::invalid("replicas", "this trigger does not take replicas from the call"))
                    }
                    Some(n) => n.min(MAX_REPLICAS),
                    None => *replicas,
                };
                self.scale_job(actor, app, service, replicas).await
            }
        }
    }

    /// Scaling as a job (a trigger's call is always a job): the app is claimed, so a scale never
    /// runs beside a deploy of the same app.
    async fn scale_job(&self, actor: &Actor, app: &App, service: &str, replicas: u64) -> Result<i64> {
        let app = self.visible_app(actor, app.id, "app.scale", true).await?;
        let op = app_op(
            "app.scale",
            &app,
            format!("{}/{service}", app.name),
            json!({ "app": app.id, "service": service, "replicas": replicas }),
        );
        let (app_id, service, who) = (app.id, service.to_string(), actor.clone());
        self.launch(
            actor,
            JobSpec { op, kind: "app.scale", steps: &["Scale the service"] },
            |_| async move {
                let claim = self.claim_app(app.id).await?;
                Ok(Prepared {
                    cluster_id: Some(app.cluster_id),
                    target: format!("{}/{service}", app.name),
                    claim: Some(claim),
                    input: (who, service),
                    steps: None,
                })
            },
            move |berth, ctx, (who, service)| async move {
                ctx.step(0).await;
                ctx.detail(format!("{service} to {replicas}")).await;
                let app = berth.app_row(app_id).await?;
                berth.scale_now(&who, &app, &service, replicas).await
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_as_written() {
        for action in [
            Action::Redeploy { latest_image: true },
            Action::Scale { service: "web".into(), replicas: 3, replicas_from_body: false },
            Action::Rollback,
        ] {
            let text = serde_json::to_string(&action).unwrap();
            assert_eq!(serde_json::from_str::<Action>(&text).unwrap(), action, "{text}");
        }
        let legacy: Action = serde_json::from_str(r#"{"action":"redeploy"}"#).unwrap();
        assert_eq!(legacy, Action::Redeploy { latest_image: false });
    }
}
