//! Cron expressions in a time zone (croner on jiff), and scheduled-scaling windows: from `start`
//! to `end` (both cron, as KEDA's cron scaler has them) a service runs at least `replicas`.
//!
//! Croner's daylight-saving rules are the Vixie/OCPS ones: in a spring-forward gap a fixed-time
//! expression fires right after the gap, an interval one skips it; in a fall-back overlap a
//! fixed-time expression fires once, an interval one in both passes. Both change days are in the
//! tests below.

use std::str::FromStr;

use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A cron expression (5 fields, or 6 with seconds first) read in a time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
}

/// Reads `pattern` in `timezone` (an IANA name; empty is UTC); `field` names the form field or
/// label in the error.
pub fn parse(pattern: &str, timezone: &str, field: &str) -> Result<Schedule> {
    let fields = pattern.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(Error::invalid(
            field,
            format!("`{pattern}` has {fields} field(s): write 5 (minute hour day month weekday) or 6 (seconds first)"),
        ));
    }
    let cron = Cron::from_str(pattern)
        .map_err(|e| Error::invalid(field, format!("`{pattern}` is not a cron expression: {e}")))?;
    let tz = zone(timezone, &format!("{field}.timezone"))?;
    Ok(Schedule { cron, tz })
}

/// An IANA time zone; empty is UTC.
pub fn zone(name: &str, field: &str) -> Result<TimeZone> {
    let name = name.trim();
    if name.is_empty() || name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name)
        .map_err(|_| Error::invalid(field, format!("`{name}` is not a time zone (write e.g. Europe/Berlin)")))
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<Zoned> {
    Some(Timestamp::from_millisecond(ms).ok()?.to_zoned(tz.clone()))
}

impl Schedule {
    /// The first time after `ms` (Unix ms) it fires.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let z = self.cron.find_next_occurrence(&zoned(ms, &self.tz)?, false).ok()?;
        Some(z.timestamp().as_millisecond())
    }

    /// The last time at or before `ms` it fired.
    pub fn last_at_or_before(&self, ms: i64) -> Option<i64> {
        let z = self.cron.find_previous_occurrence(&zoned(ms, &self.tz)?, true).ok()?;
        Some(z.timestamp().as_millisecond())
    }

    /// The next `n` times after `ms`.
    pub fn upcoming(&self, ms: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut at = ms;
        while out.len() < n {
            let Some(next) = self.next_after(at) else { break };
            out.push(next);
            at = next;
        }
        out
    }

    /// In words ("At 09:00 on Monday through Friday").
    pub fn describe(&self) -> String {
        self.cron.describe()
    }
}

/// A scheduled-scaling window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    /// When the window opens (cron).
    pub start: String,
    /// When it closes (cron).
    pub end: String,
    /// IANA name; empty for UTC.
    #[serde(default)]
    pub timezone: String,
    pub replicas: u64,
}

/// At most this many windows per service.
pub const MAX_WINDOWS: usize = 10;

impl Window {
    /// Checks the window (`field` is the form's prefix, e.g. `schedules[0]`).
    pub fn check(&self, field: &str, max: u64) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 60 {
            return Err(Error::invalid(format!("{field}.name"), "is needed (at most 60 characters)"));
        }
        parse(&self.start, &self.timezone, &format!("{field}.start"))?;
        parse(&self.end, &self.timezone, &format!("{field}.end"))?;
        if self.replicas > max {
            return Err(Error::invalid(
                format!("{field}.replicas"),
                format!("({}) is more than the policy's max ({max})", self.replicas),
            ));
        }
        Ok(())
    }

    /// The window with its expressions parsed (once: the autoscaler keeps it between ticks).
    pub fn compile(&self) -> Result<Compiled> {
        Ok(Compiled {
            name: self.name.clone(),
            replicas: self.replicas,
            start: parse(&self.start, &self.timezone, "start")?,
            end: parse(&self.end, &self.timezone, "end")?,
        })
    }

    /// Whether the window is open at `ms` (see [`Compiled::open_at`]).
    pub fn open_at(&self, ms: i64) -> bool {
        self.compile().is_ok_and(|c| c.open_at(ms))
    }
}

/// A window ready to be asked.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub name: String,
    pub replicas: u64,
    start: Schedule,
    end: Schedule,
}

impl Compiled {
    /// Whether the window is open at `ms`: it opened since it last closed.
    pub fn open_at(&self, ms: i64) -> bool {
        match (self.start.last_at_or_before(ms), self.end.last_at_or_before(ms)) {
            (Some(opened), Some(closed)) => opened > closed,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// The windows that parse (a stored window always does: it was checked when set).
pub fn compile_all(windows: &[Window]) -> Vec<Compiled> {
    windows.iter().filter_map(|w| w.compile().ok()).collect()
}

/// The largest replica count of the windows open at `ms`, with the window's name.
pub fn floor(windows: &[Compiled], ms: i64) -> Option<(u64, String)> {
    windows.iter().filter(|w| w.open_at(ms)).max_by_key(|w| w.replicas).map(|w| (w.replicas, w.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn at(ms: i64) -> String {
        Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    #[test]
    fn five_or_six_fields_in_a_time_zone() {
        let s = parse("*/5 * * * *", "", "schedule").unwrap();
        assert_eq!(at(s.next_after(ms("2026-01-01T10:02:00Z")).unwrap()), "2026-01-01T10:05:00Z");
        let s = parse("30 * * * * *", "", "schedule").unwrap();
        assert_eq!(at(s.next_after(ms("2026-01-01T10:02:00Z")).unwrap()), "2026-01-01T10:02:30Z");
        // 09:00 in Tokyo is 00:00 UTC.
        let s = parse("0 9 * * *", "Asia/Tokyo", "schedule").unwrap();
        assert_eq!(at(s.next_after(ms("2026-01-01T10:00:00Z")).unwrap()), "2026-01-02T00:00:00Z");
        assert_eq!(s.upcoming(ms("2026-01-01T10:00:00Z"), 3).len(), 3);
    }

    #[test]
    fn wrong_expressions_name_the_field() {
        for (pattern, tz, says) in [
            ("* * * *", "", "has 4 field(s)"),
            ("* * * * * * *", "", "has 7 field(s)"),
            ("61 * * * *", "", "is not a cron expression"),
            ("* * * * *", "Mars/Olympus", "is not a time zone"),
        ] {
            let e = parse(pattern, tz, "berth.schedule").unwrap_err().to_string();
            assert!(e.contains(says), "{pattern} {tz}: {e}");
            assert!(e.contains("berth.schedule"), "{e}");
        }
    }

    /// Europe/Berlin's fall-back day: 02:00–03:00 happens twice. A fixed-time job runs once.
    #[test]
    fn the_fall_back_day_runs_a_fixed_time_once() {
        let s = parse("30 2 * * *", "Europe/Berlin", "s").unwrap();
        let runs: Vec<String> = s.upcoming(ms("2023-10-28T12:00:00Z"), 2).into_iter().map(at).collect();
        // 02:30 CEST (UTC+2) on the 29th, then 02:30 CET on the 30th.
        assert_eq!(runs, ["2023-10-29T00:30:00Z", "2023-10-30T01:30:00Z"]);
        // An hourly job runs in both passes of the repeated hour.
        let hourly = parse("15 * * * *", "Europe/Berlin", "s").unwrap();
        let runs: Vec<String> = hourly.upcoming(ms("2023-10-28T23:30:00Z"), 3).into_iter().map(at).collect();
        assert_eq!(runs, ["2023-10-29T00:15:00Z", "2023-10-29T01:15:00Z", "2023-10-29T02:15:00Z"]);
    }

    /// Europe/Berlin's spring-forward day: 02:00–03:00 does not exist. A fixed time in the gap runs
    /// right after it; the day still has exactly one run.
    #[test]
    fn the_spring_forward_day_still_runs_once() {
        let s = parse("30 2 * * *", "Europe/Berlin", "s").unwrap();
        let runs: Vec<String> = s.upcoming(ms("2024-03-30T12:00:00Z"), 2).into_iter().map(at).collect();
        assert_eq!(runs.len(), 2);
        // On the 31st, at 03:00 CEST (01:00 UTC), right after the gap; then 02:30 CEST on April 1st.
        assert_eq!(runs, ["2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"]);
    }

    #[test]
    fn a_window_is_open_between_its_start_and_its_end() {
        let w = Window {
            name: "business hours".into(),
            start: "0 9 * * 1-5".into(),
            end: "0 18 * * 1-5".into(),
            timezone: "Europe/Berlin".into(),
            replicas: 5,
        };
        // Monday 2026-01-05, 10:00 in Berlin (09:00 UTC): open; 19:00 Berlin: closed; Saturday: closed.
        assert!(w.open_at(ms("2026-01-05T09:00:00Z")));
        assert!(!w.open_at(ms("2026-01-05T18:00:00Z")));
        assert!(!w.open_at(ms("2026-01-10T10:00:00Z")));
        let compiled = compile_all(std::slice::from_ref(&w));
        assert_eq!(floor(&compiled, ms("2026-01-05T09:00:00Z")), Some((5, "business hours".into())));
        assert_eq!(floor(&compiled, ms("2026-01-05T20:00:00Z")), None);
        assert!(w.check("schedules[0]", 10).is_ok());
        let e = w.check("schedules[0]", 3).unwrap_err().to_string();
        assert!(e.contains("schedules[0].replicas"), "{e}");
    }
}
