//! Sign-in throttling: how long to refuse attempts after too many recent failures.
//!
//! The failures themselves are the operation history's rows (outcome `failure` of `session.sign_in`),
//! so throttling survives restarts and holds across replicas sharing one database.

use std::time::Duration;

/// At most `max_failures` failures within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: usize,
    pub window: Duration,
}

/// Seconds until another attempt is allowed, or `None` when one is allowed now.
///
/// `failures_desc` are failure times in Unix milliseconds, newest first, already limited to the
/// window. The attempt is refused while the `max_failures`-th newest failure is inside the window.
pub fn retry_after(failures_desc: &[i64], limit: Limit, now_ms: i64) -> Option<u64> {
    if limit.max_failures == 0 {
        return None;
    }
    let oldest_counted = *failures_desc.get(limit.max_failures - 1)?;
    let unlock = oldest_counted + limit.window.as_millis() as i64;
    let wait_ms = unlock - now_ms;
    (wait_ms > 0).then(|| (wait_ms as u64).div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn table() {
        let limit = Limit { max_failures: 3, window: Duration::from_secs(15 * 60) };
        let now = 100 * MIN;
        // (failures newest first, expected seconds to wait)
        let cases: &[(&[i64], Option<u64>)] = &[
            (&[], None),
            (&[now - MIN], None),
            (&[now - MIN, now - 2 * MIN], None),
            (&[now - MIN, now - 2 * MIN, now - 3 * MIN], Some(12 * 60)),
            (&[now, now, now], Some(15 * 60)),
            (&[now - MIN, now - 2 * MIN, now - 15 * MIN], None),
            (&[now - MIN, now - 2 * MIN, now - 15 * MIN + 1], Some(1)),
            (&[now - MIN, now - 2 * MIN, now - 14 * MIN - 500], Some(60)),
            (&[now - MIN, now - 2 * MIN, now - 15 * MIN + 500], Some(1)),
            (&[now - MIN, now - 2 * MIN, now - 3 * MIN, now - 4 * MIN], Some(12 * 60)),
        ];
        for (failures, expected) in cases {
            assert_eq!(retry_after(failures, limit, now), *expected, "{failures:?}");
        }
    }

    #[test]
    fn zero_limit_never_throttles() {
        let limit = Limit { max_failures: 0, window: Duration::from_secs(60) };
        assert_eq!(retry_after(&[1, 2, 3], limit, 3), None);
    }
}
