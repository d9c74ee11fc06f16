//! Small value grammars used by Compose: Go durations, memory sizes, CPU counts, shell-like
//! command splitting, image references, DNS labels, domains and host paths.
//!
//! Each parser returns a message without the field name; the caller adds field and line.

/// Parses a Go duration (`1m30s`, `500ms`, `1.5s`, `2us`) into nanoseconds.
pub fn duration(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration (write e.g. 10s, 1m30s or 500ms)");
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("`{s}` is negative; durations must be zero or more"));
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if t == "0" {
        return Ok(0);
    }
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` has no unit (write e.g. {t}s)"));
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        total = total.saturating_add(decimal_scaled(num, scale).ok_or_else(bad)?);
        rest = next;
    }
    i64::try_from(total).map_err(|_| format!("`{s}` is too long a duration"))
}

/// The most significant fraction digits [`decimal_scaled`] reads; more are refused (by then the
/// value is exact to far below one nanosecond, byte or nano-CPU, and `u128` would overflow).
const MAX_FRACTION_DIGITS: usize = 24;

/// `digits[.digits]` times `scale`, computed exactly on the decimal digits with integer
/// arithmetic and rounded toward zero once, at the end (`1.5g` is 1,610,612,736 bytes, `0.5m` is
/// 524,288). `None` when it is not such a number or does not fit.
fn decimal_scaled(num: &str, scale: u128) -> Option<u128> {
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if (int.is_empty() && frac.is_empty()) || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || int.len() > 20 {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > MAX_FRACTION_DIGITS {
        return None;
    }
    let whole: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let whole = whole.checked_mul(scale)?;
    if frac.is_empty() {
        return Some(whole);
    }
    // frac / 10^len × scale, as one integer division: 10^24 × 3.6e12 (an hour in ns) < 2^128.
    let digits: u128 = frac.parse().ok()?;
    let part = digits.checked_mul(scale)? / 10u128.pow(frac.len() as u32);
    whole.checked_add(part)
}

/// Parses a memory size (`512m`, `1.5g`, `1073741824`, `64kb`) into bytes; units are binary
/// multiples and case-insensitive, as in Compose.
pub fn memory(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u128 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("`{s}` is not a memory size (write e.g. 512m or 2g)")),
    };
    let bytes =
        decimal_scaled(num, scale).ok_or_else(|| format!("`{s}` is not a memory size (write e.g. 512m or 2g)"))?;
    i64::try_from(bytes).map_err(|_| format!("`{s}` is too large a memory size"))
}

/// Parses a CPU count (`0.5`, `2`) into nano-CPUs, exactly.
pub fn cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a number of CPUs (write e.g. 0.5 or 2)");
    let t = s.trim();
    if t.split_once('.').is_some_and(|(_, frac)| frac.len() > 9) {
        return Err(format!("`{s}` has more than 9 decimals"));
    }
    let n = decimal_scaled(t, 1_000_000_000).ok_or_else(bad)?;
    i64::try_from(n).map_err(|_| bad())
}

/// Formats nano-CPUs the way `cpus` reads them.
pub fn format_cpus(n: i64) -> String {
    let (int, frac) = (n / 1_000_000_000, n % 1_000_000_000);
    if frac == 0 {
        return int.to_string();
    }
    format!("{int}.{}", format!("{:09}", frac.abs()).trim_end_matches('0'))
}

/// Formats nanoseconds as a Go duration in the largest exact unit.
pub fn format_duration(ns: i64) -> String {
    for (unit, scale) in
        [("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
    {
        if ns != 0 && ns % scale == 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// Splits a command string like a POSIX shell would, without any expansion: whitespace separates
/// words, single quotes keep everything, double quotes and backslashes escape.
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Checks an image reference: `[registry[:port]/]name[/name...][:tag][@algo:hex]`.
pub fn image(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{s}` is not a valid image reference: {why}"));
    if s.is_empty() {
        return Err("the image is empty".to_string());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !ok {
            return bad("the digest must look like sha256:<64 hex digits>");
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return bad("a tag is letters, digits, `_`, `.` and `-` (at most 128)");
        }
    }
    if name.len() > 255 {
        return bad("the name is longer than 255 characters");
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-')
                });
            if !host_ok || (first.contains(':') && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))) {
                return bad("the registry must be a host name with an optional :port");
            }
            parts.remove(0);
        }
    }
    for p in parts {
        if !path_component(p) {
            return bad("names are lowercase letters, digits and separators (`.`, `_`, `__`, `-`)");
        }
    }
    Ok(())
}

fn path_component(p: &str) -> bool {
    let b = p.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or any number of `-`.
        let start = i;
        while i < b.len() && !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
            i += 1;
        }
        let sep = &p[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

/// A DNS label as service names must be: lowercase letters, digits and `-`, starting with a
/// letter, not ending with `-`, at most 63 characters.
pub fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// One target of `berth.routing.port_<n>`, as the product Berth is modelled on writes it:
/// `[http://|https://]domain|prefix[:context_path]` (the context path may also follow a `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingTarget {
    /// Lowercase. One label (no dot) is a prefix: the route is `<prefix>.<the cluster's root domain>`.
    pub host: String,
    /// `/` or the context path without a trailing slash.
    pub path: String,
    /// Written `https://`: plain HTTP requests are redirected to HTTPS.
    pub https: bool,
}

impl RoutingTarget {
    pub fn is_prefix(&self) -> bool {
        !self.host.contains('.')
    }
}

/// The longest domain and context path a routing target may have (as the seed has them).
pub const MAX_ROUTING_DOMAIN: usize = 128;

/// Parses one routing target; the error says what is wrong with it.
pub fn routing_target(written: &str) -> Result<RoutingTarget, String> {
    let s = written.trim();
    let lower = s.to_ascii_lowercase();
    let (rest, https) = if lower.starts_with("https://") {
        (&s[8..], true)
    } else if lower.starts_with("http://") {
        (&s[7..], false)
    } else {
        (s, false)
    };
    let (host, path) = match rest.find([':', '/']) {
        Some(i) if rest.as_bytes()[i] == b':' => {
            let p = &rest[i + 1..];
            (&rest[..i], if p.starts_with('/') { p.to_string() } else { format!("/{p}") })
        }
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let host = host.to_ascii_lowercase();
    if host.starts_with("*.") {
        return Err("wildcard domains are not routed: name each domain".into());
    }
    if host.is_empty() || host.len() > MAX_ROUTING_DOMAIN {
        return Err(format!("a domain of 1–{MAX_ROUTING_DOMAIN} characters"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !host.split('.').all(label_ok) {
        return Err("a domain is letters, digits and inner `-`, in labels separated by `.`".into());
    }
    let trimmed = path.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() };
    if path.len() > MAX_ROUTING_DOMAIN {
        return Err(format!("a context path of at most {MAX_ROUTING_DOMAIN} characters"));
    }
    if path != "/" {
        let seg_ok = |seg: &str| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        };
        if !path[1..].split('/').all(seg_ok) {
            return Err("a context path is segments of letters, digits, `-`, `.`, `_` or `~`".into());
        }
    }
    Ok(RoutingTarget { host, path, https })
}

/// One `berth.lb.port_<n>` value: `tcp://<load balancer>:<front port>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbTarget {
    /// The load balancer's name on the cluster (a DNS label).
    pub name: String,
    pub front_port: u16,
}

/// Parses a load-balancer binding; the error says what is wrong with it.
pub fn lb_target(written: &str) -> Result<LbTarget, String> {
    let rest = written.trim().strip_prefix("tcp://").ok_or("it starts with tcp://")?;
    let (name, port) = rest.rsplit_once(':').ok_or("it names a front port after `:`")?;
    if !dns_label(name) {
        return Err(format!("`{name}` is not a load balancer name (lowercase letters, digits and `-`)"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(LbTarget { name: name.to_string(), front_port: p }),
        _ => Err(format!("`{port}` is not a port from 1 to 65535")),
    }
}

/// Normalises an absolute host path lexically: collapses `//`, drops `.`, resolves `..` (never above
/// `/`) and strips a trailing `/`. This is what the policy compares, so that `/var/run/../run/x`
/// and `/var/run/x/` cannot slip past a check for `/var/run/x`.
pub fn normalise_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn routing_targets_follow_the_seed_grammar() {
        let ok =
            |host: &str, path: &str, https: bool| Ok(RoutingTarget { host: host.into(), path: path.into(), https });
        let cases: &[(&str, Result<RoutingTarget, String>)] = &[
            ("shop", ok("shop", "/", false)),
            ("Shop.Example.com", ok("shop.example.com", "/", false)),
            ("http://wp.sample.com/context", ok("wp.sample.com", "/context", false)),
            ("wp.sample.com:context", ok("wp.sample.com", "/context", false)),
            ("wordpress:/blog/", ok("wordpress", "/blog", false)),
            ("https://secure.example.com/a/b", ok("secure.example.com", "/a/b", true)),
            ("HTTP://x.example.com", ok("x.example.com", "/", false)),
        ];
        for (written, want) in cases {
            assert_eq!(&routing_target(written), want, "{written}");
        }
        for bad in [
            "",
            "*.example.com",
            "a..b",
            "-a.b",
            "a_b.example",
            "a b",
            "a.example.com/../x",
            "a.example.com/./x",
            "a.example.com//x",
            "a.example.com/x%2e",
            "a.example.com:8080x/../",
            "ftp://a.example.com",
            "a.example.com/x?y",
        ] {
            assert!(routing_target(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(routing_target(&format!("{}.com", "a".repeat(130))).is_err());
        assert!(routing_target(&format!("a.com/{}", "b".repeat(130))).is_err());
        assert!(routing_target("shop").unwrap().is_prefix());
        assert!(!routing_target("shop.example.com").unwrap().is_prefix());
    }

    #[test]
    fn load_balancer_bindings_name_a_balancer_and_a_front_port() {
        assert_eq!(lb_target("tcp://front:5044"), Ok(LbTarget { name: "front".into(), front_port: 5044 }));
        for bad in [
            "front:5044",
            "http://front:80",
            "tcp://front",
            "tcp://front:0",
            "tcp://front:99999",
            "tcp://Fr_nt:80",
            "tcp://:80",
        ] {
            assert!(lb_target(bad).is_err(), "{bad:?} was accepted");
        }
    }

    use super::*;

    #[test]
    fn sizes_are_exact() {
        for (s, bytes) in [
            ("1.5g", 1_610_612_736),
            ("0.5m", 524_288),
            (".5k", 512),
            ("1.25G", 1_342_177_280),
            ("0.1k", 102),
            ("0.3333333333g", 357_913_941),
            ("1.000000000000000000000000000000k", 1024),
            ("512m", 536_870_912),
            ("64kb", 65_536),
            ("100", 100),
            ("1.5t", 1_649_267_441_664),
        ] {
            assert_eq!(memory(s), Ok(bytes), "{s}");
        }
        assert!(memory("1.0000000000000000000000001g").is_err());
        assert!(memory("1..5g").is_err());
        assert!(memory("9999999999t").is_err());
    }

    #[test]
    fn durations_and_cpus_are_exact() {
        for (s, ns) in [
            ("1.5s", 1_500_000_000),
            ("0.1m", 6_000_000_000),
            ("0.000000000009999h", 35),
            ("1.9ns", 1),
            ("0.33333333333m", 19_999_999_999),
            ("1h2m3.5s", 3_723_500_000_000),
            ("2.5us", 2_500),
        ] {
            assert_eq!(duration(s), Ok(ns), "{s}");
        }
        for (s, n) in [("0.5", 500_000_000), ("1.000000001", 1_000_000_001), ("0.1", 100_000_000), ("2", 2_000_000_000)]
        {
            assert_eq!(cpus(s), Ok(n), "{s}");
        }
        assert!(cpus("0.0000000001").is_err());
    }
}
