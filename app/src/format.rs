//! Numbers and times as people read them. Plain arithmetic, so the wasm carries no date library.

/// `1536` → `1.5 KiB`. Integer arithmetic: formatting floats would add their whole machinery to the
/// wasm.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let n = n.max(0) as u128;
    let mut unit = 0;
    let mut scale: u128 = 1;
    while n >= scale * 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    let tenths = (n * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// Unix milliseconds → `HH:MM:SS UTC`.
pub fn time_of_day_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Unix milliseconds → `2026-11-26 14:05 UTC` (the civil calendar from days, as in Howard Hinnant's
/// `civil_from_days`).
pub fn date_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// A short id for display: the first 12 characters, as Docker shows them.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `1.5` CPUs → `1.5`, `2.0` → `2` (in tenths, without float formatting).
pub fn cpus(n: f64) -> String {
    let tenths = (n.max(0.0) * 10.0 + 0.5) as u64;
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// Milliseconds → `850 ms`, `12 s`, `3 min 05 s`, `2 h 10 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms} ms"),
        1..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// How long ago `then` was, seen at `now` (both Unix ms): `just now`, `5 s ago`, `3 min ago`.
pub fn ago(then: i64, now: i64) -> String {
    if then <= 0 {
        return "never".into();
    }
    let secs = (now - then).max(0) / 1000;
    match secs {
        0..=1 => "just now".into(),
        2..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A value in tenths without float formatting: `12.34` → `12.3`.
pub fn tenths(v: f64) -> String {
    let t = (v.abs() * 10.0 + 0.5) as u64;
    let sign = if v < 0.0 && t > 0 { "-" } else { "" };
    format!("{sign}{}.{}", t / 10, t % 10)
}

/// CPU use, percent of one core: `37.5 %`.
pub fn percent(v: f64) -> String {
    format!("{} %", tenths(v))
}

/// A rate in bytes per second: `1.5 KiB/s`.
pub fn rate(v: f64) -> String {
    format!("{}/s", bytes(v as i64))
}

/// Unix milliseconds → `HH:MM` (UTC), for chart axes.
/// A number as typed: `0.05`, `80`, never rounded.
pub fn number(v: f64) -> String {
    format!("{v}")
}

pub fn hour_minute_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// `1 node`, `3 nodes`: a count with its noun, plural for every number but one.
pub fn count(n: impl Into<i64>, singular: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

/// Names as a sentence: `a`, `a and b`, `a, b and c`.
pub fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lists() {
        assert_eq!(
            (count(0, "node"), count(1, "node"), count(3, "app")),
            ("0 nodes".into(), "1 node".into(), "3 apps".into())
        );
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(and_list(&names(&[])), "");
        assert_eq!(and_list(&names(&["a"])), "a");
        assert_eq!(and_list(&names(&["a", "b"])), "a and b");
        assert_eq!(and_list(&names(&["a", "b", "c"])), "a, b and c");
    }

    #[test]
    fn dates() {
        assert_eq!(date_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(date_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(date_utc(1_795_705_500_000), "2026-11-26 15:05 UTC");
    }

    #[test]
    fn byte_sizes() {
        let cases =
            [(0, "0 B"), (-5, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (25 << 30, "25.0 GiB")];
        for (n, want) in cases {
            assert_eq!(bytes(n), want, "{n}");
        }
    }

    #[test]
    fn durations_and_ages() {
        let cases =
            [(0, "0 ms"), (850, "850 ms"), (12_400, "12 s"), (185_000, "3 min 05 s"), (7_800_000, "2 h 10 min")];
        for (ms, want) in cases {
            assert_eq!(duration(ms), want, "{ms}");
        }
        assert_eq!(ago(0, 10), "never");
        assert_eq!(ago(1_000, 1_500), "just now");
        assert_eq!(ago(1_000, 6_000), "5 s ago");
        assert_eq!(ago(1_000, 181_000), "3 min ago");
        assert_eq!((cpus(2.0), cpus(1.5), cpus(0.25)), ("2".into(), "1.5".into(), "0.3".into()), "halves round up");
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day_utc(0), "00:00:00 UTC");
        assert_eq!(time_of_day_utc(1_764_140_645_123), "07:04:05 UTC");
        assert_eq!(short_id("abcdefghijklmnop"), "abcdefghijkl");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn chart_values_read_well() {
        assert_eq!(tenths(12.34), "12.3");
        assert_eq!(tenths(-0.04), "0.0");
        assert_eq!(tenths(-2.25), "-2.3");
        assert_eq!(percent(99.96), "100.0 %");
        assert_eq!(rate(1536.0), "1.5 KiB/s");
        assert_eq!(hour_minute_utc(1_764_140_645_123), "07:04");
    }
}
