//! Refusals that anyone can cause without an account — cross-site requests, unknown API tokens,
//! requests that do not parse, sign-ins refused for throttling — are recorded in the operation
//! history, but bounded per source: the first refusal of a kind from an address in a window is a row
//! of its own, the rest of that window become one more row carrying their count. A client that sends
//! a thousand refused requests a second costs the history two rows a minute, not a thousand (S12).
//!
//! The counters live in memory. They are capped: when more addresses are counting at once than
//! [`MAX_SOURCES`], the newcomers share one counter for "other sources", so a flood from many
//! addresses stays bounded too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::audit::operation::{Attempt, Who};
use crate::authz::Actor;
use crate::error::{Error, Result};
use crate::Berth;

/// How long one row stands for the refusals of one kind from one source.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Sources counted at once; beyond this, new sources share one counter.
pub const MAX_SOURCES: usize = 10_000;

/// The source name of the shared counter.
const OTHERS: &str = "(other sources)";

/// A counting window of one kind of refusal from one source.
#[derive(Debug)]
struct Window {
    opened: Instant,
    /// Refusals after the first, not yet written.
    more: u64,
    /// What the last of them was about, for the summary row.
    last_target: String,
}

/// The counters of [`Berth::record_refusal`].
#[derive(Debug, Default)]
pub(crate) struct Refusals(Mutex<HashMap<(String, &'static str), Window>>);

/// A summary row to write: refusals counted in a window after its first.
struct Summary {
    source: String,
    action: &'static str,
    count: u64,
    target: String,
}

impl Refusals {
    /// Counts one refusal. True when it opens a window, so the caller writes its row now.
    fn count(&self, source: &str, action: &'static str, target: &str, window: Duration) -> (bool, Vec<Summary>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut due = Vec::new();
        if map.len() >= MAX_SOURCES {
            due = take_expired(&mut map, now, window);
        }
        let key_source =
            if map.len() >= MAX_SOURCES && !map.contains_key(&(source.to_string(), action)) { OTHERS } else { source };
        let key = (key_source.to_string(), action);
        match map.get_mut(&key) {
            Some(w) if now.duration_since(w.opened) < window => {
                w.more += 1;
                w.last_target = target.chars().take(256).collect();
                (false, due)
            }
            _ => {
                if let Some(old) = map.remove(&key) {
                    if old.more > 0 {
                        due.push(summary(&key, old));
                    }
                }
                let fresh = Window { opened: now, more: 0, last_target: String::new() };
                map.insert(key, fresh);
                (true, due)
            }
        }
    }

    /// Windows that have closed (all of them with `all`), as summary rows to write.
    fn drain(&self, all: bool, window: Duration) -> Vec<Summary> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if all {
            return map.drain().filter(|(_, w)| w.more > 0).map(|(k, w)| summary(&k, w)).collect();
        }
        take_expired(&mut map, Instant::now(), window)
    }
}

fn take_expired(map: &mut HashMap<(String, &'static str), Window>, now: Instant, window: Duration) -> Vec<Summary> {
    let expired: Vec<_> =
        map.iter().filter(|(_, w)| now.duration_since(w.opened) >= window).map(|(k, _)| k.clone()).collect();
    let mut out = Vec::new();
    for key in expired {
        if let Some(w) = map.remove(&key) {
            if w.more > 0 {
                out.push(summary(&key, w));
            }
        }
    }
    out
}

fn summary(key: &(String, &'static str), w: Window) -> Summary {
    Summary { source: key.0.clone(), action: key.1, count: w.more, target: w.last_target }
}

impl Berth {
    /// Records a refusal of `action` (e.g. a cross-site request) by `actor`, bounded per source:
    /// the first of a window is written now; the others are counted and written as one row when the
    /// window closes ([`Berth::flush_refusals`]).
    pub async fn record_refusal(&self, actor: &Actor, action: &'static str, target: &str, params: Value, error: Error) {
        let (first, due) = self.refusals.count(&actor.source, action, target, self.config.refusal_window);
        self.write_summaries(due).await;
        if first {
            let refused: Result<()> = Err(error);
            let target = target.chars().take(256).collect();
            self.finish(Attempt::start(), actor, Who::of(actor), action, target, params, &refused).await;
        }
    }

    /// Writes the counts of closed windows (of every window with `all`, e.g. on shutdown).
    pub async fn flush_refusals(&self, all: bool) {
        let due = self.refusals.drain(all, self.config.refusal_window);
        self.write_summaries(due).await;
    }

    async fn write_summaries(&self, due: Vec<Summary>) {
        for s in due {
            let actor = Actor::anonymous(s.source.clone(), "refusals".to_string());
            let message =
                format!("{} more refused from {} within {} s", s.count, s.source, self.config.refusal_window.as_secs());
            let refused: Result<()> = Err(Error::Forbidden(message));
            let params = json!({ "count": s.count, "window_secs": self.config.refusal_window.as_secs() });
            self.finish(Attempt::start(), &actor, Who::of(&actor), s.action, s.target, params, &refused).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_source_and_window_then_a_count() {
        let r = Refusals::default();
        let w = Duration::from_secs(3600);
        assert!(r.count("10.0.0.1", "x", "/a", w).0);
        for _ in 0..99 {
            assert!(!r.count("10.0.0.1", "x", "/b", w).0);
        }
        // Another source and another kind open windows of their own.
        assert!(r.count("10.0.0.2", "x", "/a", w).0);
        assert!(r.count("10.0.0.1", "y", "/a", w).0);
        assert!(r.drain(false, w).is_empty(), "nothing has closed yet");
        let mut all = r.drain(true, w);
        all.sort_by_key(|s| s.count);
        assert_eq!(all.len(), 1, "only windows with more than their first refusal");
        assert_eq!((all[0].source.as_str(), all[0].count, all[0].target.as_str()), ("10.0.0.1", 99, "/b"));
    }

    #[test]
    fn closed_windows_are_summed_up_when_the_next_one_opens() {
        let r = Refusals::default();
        let w = Duration::ZERO;
        assert!(r.count("a", "x", "/", w).0);
        let (first, due) = r.count("a", "x", "/", w);
        assert!(first, "a zero window closes at once");
        assert!(due.is_empty(), "the closed window had no more refusals");
    }

    #[test]
    fn many_sources_share_one_counter_beyond_the_cap() {
        let r = Refusals::default();
        let w = Duration::from_secs(3600);
        let mut rows = 0;
        for i in 0..(MAX_SOURCES + 500) {
            if r.count(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255), "x", "/", w).0 {
                rows += 1;
            }
        }
        assert_eq!(rows, MAX_SOURCES + 1, "the sources past the cap share one window");
        assert!(r.0.lock().unwrap().len() <= MAX_SOURCES + 1);
    }
}
