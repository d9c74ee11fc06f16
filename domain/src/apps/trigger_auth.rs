//! How an app trigger's call proves it holds the trigger's secret, and how often it may call: the
//! pure part of `triggers.rs`, tested by tables.
//!
//! - Standard Webhooks ([standardwebhooks.com](https://www.standardwebhooks.com)): the secret is
//!   `whsec_` and the base64 of the HMAC key; a call signs `{webhook-id}.{webhook-timestamp}.{body}`
//!   with HMAC-SHA256 and sends `webhook-signature: v1,<base64>` (several entries, space-separated,
//!   during a sender's own rotation). [`verify_signature`] checks the timestamp (±[`SKEW_S`]) and
//!   every entry against every valid secret with `ring::hmac::verify` (constant time), without
//!   stopping at the first match.
//! - A secret in a header: [`verify_header`] compares SHA-256 digests without an early exit.
//! - [`retry_after`]: at most [`LIMIT`] calls per [`WINDOW_MS`].

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Calls per trigger in [`WINDOW_MS`]; the next is answered 429.
pub const LIMIT: usize = 10;
/// The rate limit's window.
pub const WINDOW_MS: i64 = 60_000;
/// How far a signed call's timestamp may be from Berth's clock, either way.
pub const SKEW_S: i64 = 300;
/// Signature entries looked at in one `webhook-signature` header (bounded work per call).
const MAX_SIGNATURES: usize = 8;
/// The prefix of a secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a call was not authenticated; recorded in the trigger's calls, never told to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A header the mode needs is missing.
    Missing(&'static str),
    /// The timestamp is not Unix seconds.
    BadTimestamp,
    /// The timestamp is this many seconds off (positive: in the future).
    Stale(i64),
    /// The webhook id is empty, too long or not printable ASCII.
    BadId,
    /// No signature entry could be read as `v1,<base64 of 32 bytes>`.
    Malformed,
    /// No entry matches a valid secret (or the secret does not).
    NoMatch,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing(h) => write!(f, "no {h} header"),
            Refusal::BadTimestamp => f.write_str("webhook-timestamp is not Unix seconds"),
            Refusal::Stale(skew) => write!(f, "webhook-timestamp is {skew} s off (at most {SKEW_S} s either way)"),
            Refusal::BadId => f.write_str("webhook-id is empty, longer than 256 or not printable ASCII"),
            Refusal::Malformed => f.write_str("no webhook-signature entry reads as v1,<base64 HMAC-SHA256>"),
            Refusal::NoMatch => f.write_str("the signature or secret matches no valid secret"),
        }
    }
}

/// A new secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| crate::error::Internal::Random(e.to_string()))?;
    Ok(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// The HMAC key of a Standard Webhooks secret: the bytes its base64 (after `whsec_`) stands for.
pub fn signing_key(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    base64::engine::general_purpose::STANDARD.decode(b64).ok().filter(|k| !k.is_empty())
}

/// The `webhook-signature` value for a call (what a sender computes; tests and snippets use it).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &signing_key(secret).unwrap_or_default());
    let tag = ring::hmac::sign(&key, &signed_content(id, &timestamp.to_string(), body));
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// Checks a Standard Webhooks call against the valid secrets (`secrets`: the current one and, during
/// a rotation, the previous one) at `now_s` (Unix seconds). Pure.
pub fn verify_signature(
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[&str],
    now_s: i64,
) -> std::result::Result<(), Refusal> {
    let id = id.ok_or(Refusal::Missing("webhook-id"))?;
    let timestamp = timestamp.ok_or(Refusal::Missing("webhook-timestamp"))?;
    let signature = signature.ok_or(Refusal::Missing("webhook-signature"))?;
    if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::BadId);
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .ok()
        .filter(|_| timestamp.trim().bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Refusal::BadTimestamp)?;
    let skew = ts.saturating_sub(now_s);
    if skew.abs() > SKEW_S {
        return Err(Refusal::Stale(skew));
    }
    let tags: Vec<Vec<u8>> = signature
        .split_ascii_whitespace()
        .take(MAX_SIGNATURES)
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter(|tag| tag.len() == 32)
        .collect();
    if tags.is_empty() {
        return Err(Refusal::Malformed);
    }
    let content = signed_content(id, timestamp, body);
    let keys: Vec<ring::hmac::Key> = secrets
        .iter()
        .filter_map(|s| signing_key(s))
        .map(|k| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k))
        .collect();
    // Every pair is tried (no early exit on the first match), so the time taken says nothing
    // about which entry or which secret matched.
    let mut matched = false;
    for key in &keys {
        for tag in &tags {
            matched |= ring::hmac::verify(key, &content, tag).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(Refusal::NoMatch)
    }
}

/// Checks a secret sent in a header against the valid secrets: SHA-256 digests compared in
/// constant time, so neither the length nor a common prefix of a guess shows in the time taken.
pub fn verify_header(given: Option<&str>, secrets: &[&str]) -> std::result::Result<(), Refusal> {
    let given = given.ok_or(Refusal::Missing("Authorization: Bearer"))?;
    let given = Sha256::digest(given.trim().as_bytes());
    let mut matched = false;
    for secret in secrets {
        let want = Sha256::digest(secret.as_bytes());
        matched |= given.iter().zip(want.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    }
    if matched {
        Ok(())
    } else {
        Err(Refusal::NoMatch)
    }
}

/// The rate limit: seconds until another call is admitted, given the times (Unix ms, newest
/// first) of the calls that count in the window before `now`; `None` admits it. Pure.
pub fn retry_after(counted_desc: &[i64], now: i64) -> Option<u64> {
    let oldest = *counted_desc.get(LIMIT - 1)?;
    let wait = oldest + WINDOW_MS - now;
    Some((wait.max(1) as u64).div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn secret() -> String {
        format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a != b);
        assert_eq!(signing_key(&a).unwrap().len(), 32);
    }

    /// The Standard Webhooks reference vector (standard-webhooks' own test: secret, id, timestamp,
    /// body, and the signature its libraries compute).
    #[test]
    fn signs_like_the_reference_libraries() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn signature_table() {
        let current = secret();
        let old = format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode([9u8; 32]));
        let other = format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode([1u8; 32]));
        let body = br#"{"replicas":3}"#;
        let good = sign(&current, "msg_1", NOW, body);
        let by_old = sign(&old, "msg_1", NOW, body);
        let by_other = sign(&other, "msg_1", NOW, body);
        let ts = NOW.to_string();
        let (past, future) = ((NOW - 301).to_string(), (NOW + 301).to_string());
        let (edge_past, edge_future) = ((NOW - 300).to_string(), (NOW + 300).to_string());
        let signed_past = sign(&current, "msg_1", NOW - 301, body);
        let signed_future = sign(&current, "msg_1", NOW + 301, body);
        let signed_edge_past = sign(&current, "msg_1", NOW - 300, body);
        let signed_edge_future = sign(&current, "msg_1", NOW + 300, body);
        let both = format!("v1,bm90IGl0 {by_other} v2,abc {good}");
        let other_version = good.replace("v1,", "v1a,");
        let during: &[&str] = &[&current, &old];
        let after: &[&str] = &[&current];
        type Case<'a> =
            (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a [u8], &'a [&'a str], Result<(), Refusal>);
        let cases: Vec<Case> = vec![
            ("valid", Some("msg_1"), Some(&ts), Some(&good), body, after, Ok(())),
            (
                "tampered body",
                Some("msg_1"),
                Some(&ts),
                Some(&good),
                br#"{"replicas":30}"#,
                after,
                Err(Refusal::NoMatch),
            ),
            ("other id", Some("msg_2"), Some(&ts), Some(&good), body, after, Err(Refusal::NoMatch)),
            ("wrong secret", Some("msg_1"), Some(&ts), Some(&by_other), body, after, Err(Refusal::NoMatch)),
            ("old secret during rotation", Some("msg_1"), Some(&ts), Some(&by_old), body, during, Ok(())),
            (
                "old secret after the deadline",
                Some("msg_1"),
                Some(&ts),
                Some(&by_old),
                body,
                after,
                Err(Refusal::NoMatch),
            ),
            ("new secret during rotation", Some("msg_1"), Some(&ts), Some(&good), body, during, Ok(())),
            ("301 s old", Some("msg_1"), Some(&past), Some(&signed_past), body, after, Err(Refusal::Stale(-301))),
            ("301 s ahead", Some("msg_1"), Some(&future), Some(&signed_future), body, after, Err(Refusal::Stale(301))),
            ("300 s old", Some("msg_1"), Some(&edge_past), Some(&signed_edge_past), body, after, Ok(())),
            ("300 s ahead", Some("msg_1"), Some(&edge_future), Some(&signed_edge_future), body, after, Ok(())),
            ("no id", None, Some(&ts), Some(&good), body, after, Err(Refusal::Missing("webhook-id"))),
            ("no timestamp", Some("msg_1"), None, Some(&good), body, after, Err(Refusal::Missing("webhook-timestamp"))),
            ("no signature", Some("msg_1"), Some(&ts), None, body, after, Err(Refusal::Missing("webhook-signature"))),
            (
                "timestamp in ms",
                Some("msg_1"),
                Some("1700000000000"),
                Some(&good),
                body,
                after,
                Err(Refusal::Stale(1_698_300_000_000)),
            ),
            (
                "timestamp not a number",
                Some("msg_1"),
                Some("soon"),
                Some(&good),
                body,
                after,
                Err(Refusal::BadTimestamp),
            ),
            ("negative timestamp", Some("msg_1"), Some("-5"), Some(&good), body, after, Err(Refusal::BadTimestamp)),
            ("empty id", Some(""), Some(&ts), Some(&good), body, after, Err(Refusal::BadId)),
            ("id with a space", Some("msg 1"), Some(&ts), Some(&good), body, after, Err(Refusal::BadId)),
            ("hex, not base64", Some("msg_1"), Some(&ts), Some("v1,0123abcd"), body, after, Err(Refusal::Malformed)),
            (
                "no version",
                Some("msg_1"),
                Some(&ts),
                Some(good.trim_start_matches("v1,")),
                body,
                after,
                Err(Refusal::Malformed),
            ),
            ("another version", Some("msg_1"), Some(&ts), Some(&other_version), body, after, Err(Refusal::Malformed)),
            ("empty", Some("msg_1"), Some(&ts), Some(""), body, after, Err(Refusal::Malformed)),
            ("several entries, one valid", Some("msg_1"), Some(&ts), Some(&both), body, after, Ok(())),
        ];
        for (what, id, ts, sig, body, secrets, want) in cases {
            assert_eq!(verify_signature(id, ts, sig, body, secrets, NOW), want, "{what}");
        }
    }

    #[test]
    fn only_the_first_entries_are_read() {
        let current = secret();
        let good = sign(&current, "m", NOW, b"");
        let padded = format!("{} {good}", ["v1,AAAA"; MAX_SIGNATURES].join(" "));
        let ts = NOW.to_string();
        assert_eq!(
            verify_signature(Some("m"), Some(&ts), Some(&padded), b"", &[&current], NOW),
            Err(Refusal::Malformed)
        );
    }

    #[test]
    fn header_secrets() {
        let (current, old) = (secret(), "whsec_old".to_string());
        assert_eq!(verify_header(Some(&current), &[&current]), Ok(()));
        assert_eq!(verify_header(Some(&format!(" {current}\n")), &[&current]), Ok(()));
        assert_eq!(verify_header(Some(&old), &[&current, &old]), Ok(()));
        assert_eq!(verify_header(Some(&old), &[&current]), Err(Refusal::NoMatch));
        assert_eq!(verify_header(Some(&current[..20]), &[&current]), Err(Refusal::NoMatch));
        assert_eq!(verify_header(Some(""), &[&current]), Err(Refusal::NoMatch));
        assert!(matches!(verify_header(None, &[&current]), Err(Refusal::Missing(_))));
    }

    #[test]
    fn the_eleventh_call_in_a_minute_waits() {
        let now = 1_000_000_000;
        let at = |ago_ms: &[i64]| ago_ms.iter().map(|a| now - a).collect::<Vec<_>>();
        let nine = at(&[100, 200, 300, 400, 500, 600, 700, 800, 900]);
        assert_eq!(retry_after(&nine, now), None, "the 10th is admitted");
        let ten = at(&[100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000]);
        assert_eq!(retry_after(&ten, now), Some(59), "the 11th waits until the oldest leaves the window");
        let spread = at(&[1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 59_500]);
        assert_eq!(retry_after(&spread, now), Some(1));
        let at_edge = at(&[1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 60_000]);
        assert_eq!(retry_after(&at_edge, now), Some(1), "never 0 s while refused");
        assert_eq!(retry_after(&[], now), None);
    }
}
