//! Idempotency keys (SECURITY.md R4): a REST mutation sent with `Idempotency-Key` is answered once;
//! a retry with the same key (and the same request) gets the first answer and has no second effect,
//! another request under a used key is refused, and keys expire after `idempotency_ttl` (a day).
//!
//! Keys belong to the API token that sent them (its hash), so two clients cannot collide. While the
//! first request runs, a retry is told so (`conflict`); if the process that ran it is gone (a crash
//! between the effect and the answer), the retry runs the request again — the outcome of the first
//! is unknown, and running again is what a retry without a key would do.

use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::store::KeyState;
use crate::Berth;

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 200;

/// What to do with a request that carries a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Idempotent {
    /// Run it, then [`Berth::idempotency_answer`] (or [`Berth::idempotency_release`]).
    Run,
    /// Answer this without running anything.
    Replay { status: u16, body: String },
}

/// Checks a key as a client sent it: 1–200 visible ASCII characters.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID, say)"),
        ));
    }
    Ok(())
}

fn principal(token: &str) -> String {
    hex::encode(Sha256::digest(format!("idempotency\n{token}").as_bytes()))
}

fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

impl Berth {
    /// Looks a request up by its key: run it, or replay the first answer. `conflict` while the
    /// first request still runs; `invalid` (field `Idempotency-Key`) for another request under the
    /// key.
    pub async fn idempotency_begin(
        &self,
        token: &str,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Idempotent> {
        validate_key(key)?;
        let now = now_ms();
        let expired_before = now - self.config.idempotency_ttl.as_millis() as i64;
        let fp = fingerprint(method, path, body);
        match self.store.idempotency_claim(&principal(token), key, &fp, &self.instance, now, expired_before).await? {
            KeyState::Claimed => Ok(Idempotent::Run),
            KeyState::Answered { status, response } => {
                Ok(Idempotent::Replay { status: u16::try_from(status).unwrap_or(500), body: response })
            }
            KeyState::Running => Err(Error::Conflict(
                "the first request with this Idempotency-Key is still running; retry once it has answered".into(),
            )),
            KeyState::Mismatch => Err(Error::invalid(
                "Idempotency-Key",
                "this key was used for a different request (method, path or body); use a new key for a new request",
            )),
        }
    }

    /// Keeps the answer to the request that claimed `key`, for its retries.
    pub async fn idempotency_answer(&self, token: &str, key: &str, status: u16, body: &str) {
        if let Err(e) = self.store.idempotency_answer(&principal(token), key, &self.instance, status.into(), body).await
        {
            tracing::warn!(error = %e, "could not keep the answer of an idempotent request");
        }
    }

    /// Gives a key up: the request failed in a way a retry should not be answered with (the server
    /// failed, the token was refused), so the next retry runs it.
    pub async fn idempotency_release(&self, token: &str, key: &str) {
        if let Err(e) = self.store.idempotency_release(&principal(token), key, &self.instance).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("b7d9c1a2-5f0e-4c3a-9e61-0d2f7c8b9a14").is_ok());
        for bad in ["", " ", "a b", "é", &"x".repeat(MAX_KEY_LEN + 1), "tab\there"] {
            assert!(
                matches!(validate_key(bad), Err(Error::Invalid { ref field, .. }) if field == "Idempotency-Key"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint("POST", "/api/v1/apps", b"{}");
        assert_eq!(a, fingerprint("POST", "/api/v1/apps", b"{}"));
        assert_ne!(a, fingerprint("POST", "/api/v1/apps", b"{ }"));
        assert_ne!(a, fingerprint("POST", "/api/v1/apps/1/update", b"{}"));
        assert_ne!(principal("berth_a"), principal("berth_b"));
    }
}
