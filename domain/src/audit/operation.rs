//! The operation history: one row per mutation attempt — who, when, from where, what, on what, with
//! which parameters, and how it ended. Successes, failures, denials and throttled attempts all count.
//!
//! [`Berth::mutate`] is how domain code performs a mutation: it authorizes, runs the work, and writes
//! exactly one row whatever happens, so a new operation cannot forget either step.

use std::future::Future;
use std::time::Instant;

use serde_json::Value;

use crate::authz::{authorize, Actor, Permission, UserRef};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::Berth;

pub use crate::store::{NewOperation, Operation, Outcome, GENESIS};

/// The action recorded for a request refused by the cross-site check.
pub const CROSS_SITE_REFUSED: &str = "http.cross_site_refused";
/// The action recorded for a mutation attempt refused while its request was read.
pub const MALFORMED_REFUSED: &str = "http.malformed_refused";

/// What a mutation is, for authorization and the history.
#[derive(Clone, Debug)]
pub struct Op {
    pub action: &'static str,
    pub permission: Permission,
    pub target: String,
    pub params: Value,
}

/// Keys whose values never reach the history.
const SECRET_KEYS: &[&str] = &["password", "secret", "token", "key", "passphrase"];

/// Replaces the value of every key that looks secret, at any depth, with `"[redacted]"`.
pub fn redact(mut params: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let k = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| k.contains(s)) {
                        *v = Value::String("[redacted]".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut params);
    params
}

/// The start of an attempt, for its row's time and duration.
pub(crate) struct Attempt {
    started_at: i64,
    clock: Instant,
    /// The cluster the attempt is about, for who may read its row.
    cluster: Option<i64>,
}

impl Attempt {
    pub(crate) fn start() -> Attempt {
        Attempt { started_at: now_ms(), clock: Instant::now(), cluster: None }
    }

    /// The attempt is about `cluster`.
    pub(crate) fn on(mut self, cluster: Option<i64>) -> Attempt {
        self.cluster = self.cluster.or(cluster);
        self
    }

    pub(crate) fn started_at(&self) -> i64 {
        self.started_at
    }
}

/// How an attempt arrived, for the history's channel column.
fn channel(actor: &Actor) -> &'static str {
    match actor.user() {
        _ if actor.is_system() => "system",
        _ if actor.is_trigger() => "trigger",
        Some(user) if user.token.is_some() => "api",
        Some(_) => "console",
        None if actor.request_id == "recovery" || actor.source == "local" => "system",
        None => "anonymous",
    }
}

/// Who the history names for an attempt: the signed-in user, or the account an anonymous attempt
/// produced (a successful sign-in, the bootstrap admin).
pub(crate) struct Who {
    pub id: Option<i64>,
    pub name: String,
}

impl Who {
    pub(crate) fn of(actor: &Actor) -> Who {
        Who {
            id: actor.user().filter(|_| actor.has_account()).map(|u| u.id),
            name: actor.user().map(|u| u.username.clone()).unwrap_or_else(|| "anonymous".into()),
        }
    }
}

impl Berth {
    /// Authorizes `op` for `actor`, runs `work` with the authorized user, and records one history row
    /// with the outcome. A denial is recorded and returned without running `work`.
    pub(crate) async fn mutate<T, F, Fut>(&self, actor: &Actor, op: Op, work: F) -> Result<T>
    where
        F: FnOnce(UserRef) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let attempt = Attempt::start().on(op.permission.cluster());
        let result = match authorize(actor, op.permission) {
            Ok(user) => work(user.clone()).await,
            Err(e) => Err(e),
        };
        self.finish(attempt, actor, Who::of(actor), op.action, op.target, op.params, &result).await;
        result
    }

    /// Writes the one history row of an attempt that has ended with `result`. A failure to write is
    /// logged loudly but does not turn a completed mutation into an error the caller would retry.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn finish<T>(
        &self,
        attempt: Attempt,
        actor: &Actor,
        who: Who,
        action: &str,
        target: String,
        params: Value,
        result: &Result<T>,
    ) {
        let op = NewOperation {
            started_at: attempt.started_at,
            duration_ms: attempt.clock.elapsed().as_millis() as i64,
            actor_id: who.id,
            actor_name: who.name,
            source: actor.source.clone(),
            channel: channel(actor).into(),
            action: action.to_string(),
            target,
            params: redact(params),
            outcome: result.as_ref().map_or_else(Outcome::of_error, |_| Outcome::Success),
            error_code: result.as_ref().err().map(|e| e.code().to_string()),
            error_message: result.as_ref().err().map(|e| e.to_string()),
            request_id: actor.request_id.clone(),
            cluster_id: attempt.cluster,
        };
        if let Err(e) = self.store.operation_insert(&op).await {
            tracing::error!(action = %op.action, target = %op.target, error = %e, "could not record operation");
        }
    }

    /// Authorizes a read. A signed-in user refused is recorded (who tried to see what); anonymous
    /// refusals are not, so that a signed-out tab polling cannot flood the history.
    pub(crate) async fn authorize_read(
        &self,
        actor: &Actor,
        permission: Permission,
        action: &str,
        target: String,
    ) -> Result<()> {
        let attempt = Attempt::start().on(permission.cluster());
        match authorize(actor, permission) {
            Ok(_) => Ok(()),
            Err(e @ Error::Forbidden(_)) => {
                let refused: Result<()> = Err(e);
                self.finish(attempt, actor, Who::of(actor), action, target, serde_json::json!({}), &refused).await;
                refused
            }
            Err(e) => Err(e),
        }
    }

    /// Records an API request refused for an unknown, revoked or expired token (bounded per source).
    pub async fn refuse_token(&self, actor: &Actor, path: &str) {
        self.record_refusal(actor, "token.refused", path, serde_json::json!({}), Error::Unauthenticated).await;
    }

    /// Records a request refused because it came from another site (no handler ran; bounded per
    /// source).
    pub async fn refuse_cross_site(&self, actor: &Actor, method: &str, path: &str) {
        let params = serde_json::json!({ "method": method });
        let error = Error::Forbidden("cross-site request refused".into());
        self.record_refusal(actor, CROSS_SITE_REFUSED, path, params, error).await;
    }

    /// Records a mutation attempt refused while its request was read (a body that is not what the
    /// route expects, a bad path or query value), before any domain operation could run; bounded per
    /// source.
    pub async fn refuse_malformed(&self, actor: &Actor, method: &str, path: &str, error: Error) {
        let params = serde_json::json!({ "method": method });
        self.record_refusal(actor, MALFORMED_REFUSED, path, params, error).await;
    }

    /// The newest operations, for the history page and tests.
    pub async fn recent_operations(&self, actor: &Actor, limit: i64) -> Result<Vec<Operation>> {
        authorize(actor, Permission::OperationRead)?;
        self.store.operations_recent(limit.clamp(1, 1000)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redact_hides_secret_keys_at_any_depth() {
        let cases = [
            (json!({"username": "ann", "password": "hunter2"}), json!({"username": "ann", "password": "[redacted]"})),
            (json!({"node": {"tls_key": "PEM"}}), json!({"node": {"tls_key": "[redacted]"}})),
            (json!([{"Token": "t"}]), json!([{"Token": "[redacted]"}])),
            (json!({"replicas": 3}), json!({"replicas": 3})),
            (json!(null), json!(null)),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input.clone()), expected, "{input}");
        }
    }

    #[test]
    fn outcome_follows_the_error() {
        assert_eq!(Outcome::of_error(&Error::Unauthenticated), Outcome::Denied);
        assert_eq!(Outcome::of_error(&Error::Forbidden("x".into())), Outcome::Denied);
        assert_eq!(Outcome::of_error(&Error::Throttled { retry_after_secs: 3 }), Outcome::Throttled);
        assert_eq!(Outcome::of_error(&Error::invalid("f", "bad")), Outcome::Failure);
    }
}
