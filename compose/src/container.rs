//! The container-level service keys that swarm services apply (API 1.41 `ContainerSpec` and
//! `TaskTemplate`): `extra_hosts`, `dns*`, `sysctls`, `ulimits`, `logging`, `pids_limit`,
//! `stop_signal`, and the value grammars they share.
//!
//! Each reader names the field and the line of a bad value, and records the line of every item
//! the workload policy may report in the service's `lines`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::cx::Cx;
use crate::spec::{HostEntry, Logging, ServiceSpec, Ulimit};
use crate::yaml::{join, Entry, Kind, Node};

/// The resource limits Linux (and so Docker) knows.
const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `extra_hosts`: a list of `host:ip` / `host=ip` (`=` is looked for first, then the FIRST `:`, so
/// `myhost:::1` maps `myhost` to `::1`, as the Compose specification says), or a mapping of host to
/// one IP or a list of IPs. Several IPs may also be separated by commas.
pub fn extra_hosts(cx: &mut Cx<'_>, n: &Node, field: &str) -> Vec<HostEntry> {
    let mut out = Vec::new();
    match &n.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let f = format!("{field}[{i}]");
                let Some(t) = cx.text(item, &f) else { continue };
                let Some((host, ips)) = t.split_once('=').or_else(|| t.split_once(':')) else {
                    cx.err(item.line, &f, format!("`{t}` must be host:ip or host=ip"));
                    continue;
                };
                host_entries(cx, host, ips, item.line, &f, &mut out);
            }
        }
        _ => {
            for e in cx.map(n, field).unwrap_or_default() {
                let f = join(field, &e.key);
                let ips = match &e.value.kind {
                    Kind::Seq(_) => cx.strings(&e.value, &f).join(","),
                    _ => match cx.required_text(&e.value, &f) {
                        Some(ip) => ip,
                        None => continue,
                    },
                };
                host_entries(cx, &e.key, &ips, e.line, &f, &mut out);
            }
        }
    }
    out
}

fn host_entries(cx: &mut Cx<'_>, host: &str, ips: &str, line: usize, field: &str, out: &mut Vec<HostEntry>) {
    let host = host.trim();
    let valid_host =
        !host.is_empty() && host.len() <= 253 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !valid_host {
        cx.err(line, field, format!("`{host}` is not a host name (letters, digits, `-`, `.` and `_`)"));
        return;
    }
    for ip in ips.split(',') {
        let ip = ip.trim();
        // `[::1]` is how Compose lets IPv6 addresses be written unambiguously.
        let bare = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')).unwrap_or(ip);
        match bare.parse::<IpAddr>() {
            Ok(addr) => out.push(HostEntry { host: host.to_string(), ip: addr.to_string() }),
            Err(_) => cx.err(line, field, format!("`{ip}` (for host `{host}`) is not an IP address")),
        }
    }
}

/// `dns`: one IP address or a list of them.
pub fn dns(cx: &mut Cx<'_>, n: &Node, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (s, line, f) in cx.strings_or_one_at(n, field) {
        match s.trim().parse::<IpAddr>() {
            Ok(ip) => out.push(ip.to_string()),
            Err(_) => cx.err(line, &f, format!("`{s}` is not an IP address (name servers are given by address)")),
        }
    }
    out
}

/// `dns_search` and `dns_opt`: one word or a list of them (no spaces: resolv.conf splits on them).
pub fn words(cx: &mut Cx<'_>, n: &Node, field: &str, what: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (s, line, f) in cx.strings_or_one_at(n, field) {
        if s.is_empty() || s.contains(char::is_whitespace) {
            cx.err(line, &f, format!("`{s}` is not {what}: it must be one word without spaces"));
        } else {
            out.push(s);
        }
    }
    out
}

/// `sysctls`: a mapping or a list of `name=value`; every line is recorded for the policy.
pub fn sysctls(cx: &mut Cx<'_>, svc: &mut ServiceSpec, n: &Node, field: &str) {
    for p in cx.pairs(n, field) {
        if p.bad {
            continue;
        }
        let key = p.key.trim().to_string();
        if key.contains(char::is_whitespace) {
            cx.err(p.line, &p.field, format!("`{key}` is not a kernel parameter name (no spaces)"));
            continue;
        }
        let Some(value) = p.value else {
            cx.err(p.line, &p.field, format!("`{key}` needs a value (write {key}=value)"));
            continue;
        };
        if svc.sysctls.contains_key(&key) {
            cx.err(p.line, &p.field, format!("`{key}` is set twice"));
            continue;
        }
        svc.lines.insert(format!("sysctls.{key}"), p.line);
        svc.sysctls.insert(key, value);
    }
}

/// `ulimits`: `nofile: 20000` (soft = hard) or `nofile: {soft: 20000, hard: 40000}`.
pub fn ulimits(cx: &mut Cx<'_>, n: &Node, field: &str) -> BTreeMap<String, Ulimit> {
    let mut out = BTreeMap::new();
    for e in cx.map(n, field).unwrap_or_default() {
        let f = join(field, &e.key);
        if !ULIMITS.contains(&e.key.as_str()) {
            cx.err(e.line, &f, format!("`{}` is not a resource limit (one of: {})", e.key, ULIMITS.join(", ")));
            continue;
        }
        let limit = match &e.value.kind {
            Kind::Map(entries) => {
                let (mut soft, mut hard) = (None, None);
                for x in entries {
                    let xf = join(&f, &x.key);
                    match x.key.as_str() {
                        "soft" => soft = ulimit_value(cx, &x.value, &xf),
                        "hard" => hard = ulimit_value(cx, &x.value, &xf),
                        k if k.starts_with("x-") => {}
                        _ => cx.unknown_key(x, &xf),
                    }
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => Ulimit { soft, hard },
                    _ => {
                        if !entries.iter().any(|x| x.key == "soft") || !entries.iter().any(|x| x.key == "hard") {
                            cx.err(e.line, &f, "the long form needs both `soft` and `hard`");
                        }
                        continue;
                    }
                }
            }
            _ => match ulimit_value(cx, &e.value, &f) {
                Some(v) => Ulimit { soft: v, hard: v },
                None => continue,
            },
        };
        // -1 is unlimited, above every number.
        let rank = |v: i64| if v == -1 { i64::MAX } else { v };
        if rank(limit.soft) > rank(limit.hard) {
            cx.err(e.line, &f, format!("the soft limit ({}) is above the hard limit ({})", limit.soft, limit.hard));
            continue;
        }
        out.insert(e.key.clone(), limit);
    }
    out
}

fn ulimit_value(cx: &mut Cx<'_>, n: &Node, field: &str) -> Option<i64> {
    let v = cx.int(n, field)?;
    if v < -1 {
        cx.err(n.line, field, format!("`{v}` is not a limit (a whole number, or -1 for unlimited)"));
        return None;
    }
    Some(v)
}

/// `logging: {driver, options}`.
pub fn logging(cx: &mut Cx<'_>, svc: &mut ServiceSpec, n: &Node, field: &str) -> Option<Logging> {
    let mut l = Logging::default();
    for e in cx.map(n, field)? {
        let f = join(field, &e.key);
        match e.key.as_str() {
            "driver" => {
                let Some(d) = cx.text(&e.value, &f) else { continue };
                let valid = !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_./:".contains(&b));
                if valid {
                    svc.lines.insert("logging.driver".to_string(), e.line);
                    l.driver = d;
                } else {
                    cx.err(e.line, &f, format!("`{d}` is not a log driver name (e.g. json-file, local, syslog)"));
                }
            }
            "options" => {
                for p in cx.pairs(&e.value, &f) {
                    if !p.bad {
                        l.options.insert(p.key, p.value.unwrap_or_default());
                    }
                }
            }
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    Some(l)
}

/// A pids limit: `-1` and `0` mean none.
pub fn pids(cx: &mut Cx<'_>, n: &Node, field: &str) -> Option<Option<i64>> {
    let v = cx.int(n, field)?;
    match v {
        -1 | 0 => Some(None),
        v if v > 0 => Some(Some(v)),
        _ => {
            cx.err(n.line, field, format!("`{v}` is not a pids limit (a whole number; -1 or 0 for none)"));
            None
        }
    }
}

/// `stop_signal`: a signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number (1-64), kept as written.
pub fn stop_signal(cx: &mut Cx<'_>, e: &Entry, field: &str) -> Option<String> {
    let s = cx.text(&e.value, field)?;
    let name = s.strip_prefix("SIG").unwrap_or(&s);
    let number = s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n));
    let named = !name.is_empty()
        && name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"+-".contains(&b));
    if number || named {
        Some(s)
    } else {
        cx.err(e.line, field, format!("`{s}` is not a signal (write e.g. SIGTERM, SIGINT or 15)"));
        None
    }
}
