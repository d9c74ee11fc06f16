//! Berth's extension labels (`berth.*`, and the aliases in [`crate::ALIASES`]): recognising them
//! among a service's labels and parsing their values into [`Extensions`].
//!
//! Unknown `berth.` labels are errors: a typo such as `berth.scael` must not deploy silently
//! without the behaviour it asked for.

use crate::cx::{Cx, Pair};
use crate::spec::{Extensions, Probe};
use crate::values;

/// The canonical name (`berth.…`) of a label key, if it is an extension label.
pub fn canonical(key: &str) -> Option<String> {
    let mut name = None;
    if key.starts_with("berth.") {
        name = Some(key.to_string());
    }
    for (alias, canon) in crate::ALIASES {
        if alias.ends_with('.') {
            if let Some(rest) = key.strip_prefix(alias) {
                name = Some(format!("{canon}{rest}"));
            }
        }
    }
    let mut name = name?;
    for (alias, canon) in crate::ALIASES {
        if !alias.ends_with('.') && name == *alias {
            name = canon.to_string();
        }
    }
    Some(name)
}

/// What the labels asked for beyond [`Extensions`] itself: replicas and mode, which the service
/// code reconciles with `deploy:`.
#[derive(Default)]
pub struct Asked {
    pub scale: Option<(u64, usize, String)>,
    pub global: Option<(bool, usize, String)>,
    /// The line and field of each `berth.auto_scaling.*` label, for checks that need the whole service.
    pub scaling: std::collections::BTreeMap<String, (usize, String)>,
    /// `berth.job.parallelism`, with its line and field.
    pub parallelism: Option<(u64, usize, String)>,
    /// The line and field of `berth.schedule` (or of `berth.job.*`): the service is a job.
    pub job: Option<(usize, String)>,
}

/// `berth.schedule.*` read so far (they may come before `berth.schedule` itself).
#[derive(Default)]
struct ScheduleParts {
    cron: Option<String>,
    timezone: Option<String>,
    concurrency: Option<crate::Concurrency>,
    starting_deadline_s: Option<u64>,
    /// The first `berth.schedule.*` label's line and field, for "needs berth.schedule".
    first_part: Option<(usize, String)>,
    /// `berth.schedule` was given but wrong (already said).
    cron_wrong: bool,
}

/// Seconds (`90`) or a duration (`90s`, `5m`), from 1 s to a year.
fn seconds(v: &str) -> Option<u64> {
    let secs = match v.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => (values::duration(v).ok()? / 1_000_000_000) as u64,
    };
    (1..=86_400 * 365).contains(&secs).then_some(secs)
}

/// Checks a cron expression as the cron loop will read it: 5 fields, or 6 with seconds first.
pub fn cron_problem(pattern: &str) -> Option<String> {
    let fields = pattern.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Some(format!(
            "`{pattern}` has {fields} field(s): write 5 (minute hour day month weekday) or 6 (seconds first)"
        ));
    }
    match pattern.parse::<croner::Cron>() {
        Ok(_) => None,
        Err(e) => Some(format!("`{pattern}` is not a cron expression: {e}")),
    }
}

/// Whether `name` is an IANA time zone Berth knows (`UTC` included).
pub fn known_zone(name: &str) -> bool {
    name == "UTC" || jiff::tz::TimeZone::get(name).is_ok()
}

/// The autoscaling labels: the seed's step mode (`min_cpu`/`max_cpu` or `min_memory`/`max_memory`
/// thresholds, `step`, held `hold` seconds) and Berth's target mode (`target_cpu`, `target_memory`
/// or `target_rps` per replica, scale-down `window` seconds), both bounded by `min_instances` and
/// `max_instances`.
pub const AUTO_SCALING: &[&str] = &[
    "min_instances",
    "max_instances",
    "min_cpu",
    "max_cpu",
    "min_memory",
    "max_memory",
    "step",
    "hold",
    "target_cpu",
    "target_memory",
    "target_rps",
    "window",
];

/// Parses extension labels: each comes as its canonical name and the label as written (whose key
/// the messages quote).
pub fn parse(cx: &mut Cx<'_>, service: &str, pairs: &[(String, Pair)], ext: &mut Extensions) -> Asked {
    let mut asked = Asked::default();
    let mut scaling_lines = std::collections::BTreeMap::new();
    let mut sched = ScheduleParts::default();
    for (canonical, p) in pairs {
        let written = p.key.as_str();
        let value = p.value.clone().unwrap_or_default();
        let v = value.trim();
        let line = p.line;
        let f = p.field.as_str();
        let bad = |cx: &mut Cx<'_>, what: &str| cx.err(line, f, format!("`{written}` {what}, not `{v}`"));
        let boolean = |cx: &mut Cx<'_>| match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                bad(cx, "must be true or false");
                None
            }
        };
        let name = canonical.strip_prefix("berth.").unwrap_or(canonical);
        match name {
            "scale" => match v.parse::<u64>() {
                Ok(n) if n <= 1000 => asked.scale = Some((n, line, f.to_string())),
                _ => bad(cx, "must be a whole number from 0 to 1000"),
            },
            "global" => {
                if let Some(b) = boolean(cx) {
                    asked.global = Some((b, line, f.to_string()));
                }
            }
            "depends" => {
                let names: Vec<&str> = v.split(',').map(str::trim).collect();
                if names.iter().any(|n| n.is_empty()) {
                    bad(cx, "lists service names separated by commas");
                    continue;
                }
                for n in names {
                    if !ext.depends.iter().any(|d| d == n) {
                        ext.depends.push(n.to_string());
                    }
                    let dep = crate::cx::DependsRef {
                        service: service.to_string(),
                        target: n.to_string(),
                        line,
                        field: f.to_string(),
                    };
                    cx.depends.push(dep);
                }
            }
            "probe.url" => {
                if probe_url(v) {
                    probe(ext).url = Some(v.to_string());
                } else {
                    bad(cx, "must look like http://container:8080/health or tcp://container:6379");
                }
            }
            "probe.cmd" => {
                if v.is_empty() {
                    cx.err(line, f, format!("`{written}` must not be empty"));
                } else {
                    probe(ext).cmd = Some(value.clone());
                }
            }
            "probe.initial_delay" | "probe.timeout" => {
                let ns = match v.parse::<i64>() {
                    Ok(secs) if (0..=86_400 * 365).contains(&secs) => Some(secs * 1_000_000_000),
                    Ok(_) => None,
                    Err(_) => values::duration(v).ok(),
                };
                match ns {
                    Some(ns) if name == "probe.timeout" => probe(ext).timeout_ns = Some(ns),
                    Some(ns) => probe(ext).initial_delay_ns = Some(ns),
                    None => bad(cx, "must be seconds (e.g. 10) or a duration (e.g. 10s)"),
                }
            }
            "rolling_updates" => ext.rolling_updates = boolean(cx).or(ext.rolling_updates),
            "rolling_updates.parallelism" => match v.parse::<u64>() {
                Ok(n) if n >= 1 => ext.rolling_parallelism = Some(n),
                _ => bad(cx, "must be a whole number of at least 1"),
            },
            "latest_image" => ext.latest_image = boolean(cx).unwrap_or(ext.latest_image),
            "zone_spread" => ext.zone_spread = boolean(cx).unwrap_or(ext.zone_spread),
            "routing.session_sticky" => ext.session_sticky = boolean(cx).unwrap_or(ext.session_sticky),
            "schedule" => match cron_problem(v) {
                None => {
                    sched.cron = Some(v.to_string());
                    asked.job = Some((line, f.to_string()));
                }
                Some(why) => {
                    sched.cron_wrong = true;
                    cx.err(line, f, format!("`{written}`: {why}"));
                }
            },
            "schedule.timezone" | "schedule.concurrency" | "schedule.starting_deadline" => {
                sched.first_part.get_or_insert((line, f.to_string()));
                match name {
                    "schedule.timezone" if known_zone(v) => sched.timezone = Some(v.to_string()),
                    "schedule.timezone" => bad(cx, "must be an IANA time zone such as Europe/Berlin or UTC"),
                    "schedule.concurrency" => match crate::Concurrency::parse(v) {
                        Some(c) => sched.concurrency = Some(c),
                        None => bad(cx, "must be allow, forbid or replace"),
                    },
                    _ => match seconds(v) {
                        Some(s) => sched.starting_deadline_s = Some(s),
                        None => bad(cx, "must be seconds (e.g. 60) or a duration (e.g. 5m)"),
                    },
                }
            }
            "job.parallelism" => match v.parse::<u64>() {
                Ok(n) if (1..=1000).contains(&n) => {
                    asked.parallelism = Some((n, line, f.to_string()));
                    asked.job.get_or_insert((line, f.to_string()));
                }
                _ => bad(cx, "must be a whole number from 1 to 1000"),
            },
            "job.deadline" => match seconds(v) {
                Some(s) => {
                    ext.job_deadline_s = Some(s);
                    asked.job.get_or_insert((line, f.to_string()));
                }
                None => bad(cx, "must be seconds (e.g. 600) or a duration (e.g. 10m)"),
            },
            "update_method" => match crate::UpdateMethod::parse(v) {
                Some(m) => ext.update_method = Some(m),
                None => bad(cx, "must be rolling, blue-green or progressive"),
            },
            _ => {
                if let Some(key) = name.strip_prefix("auto_scaling.").filter(|k| AUTO_SCALING.contains(k)) {
                    if v.parse::<f64>().is_ok_and(f64::is_finite) {
                        ext.auto_scaling.insert(key.to_string(), v.to_string());
                        scaling_lines.insert(key.to_string(), (line, f.to_string()));
                    } else {
                        bad(cx, "must be a number");
                    }
                } else if let Some(port) = name.strip_prefix("routing.port_") {
                    let Some(port) = port_number(cx, port, line, f, written) else { continue };
                    let domains: Vec<String> = v.split(';').map(|d| d.trim().to_string()).collect();
                    let wrong = domains.iter().find_map(|d| values::routing_target(d).err().map(|e| (d, e)));
                    if let Some((d, why)) = wrong {
                        let message = format!(
                            "`{d}` in `{written}` is not a routing target: {why} (write e.g. shop, shop.example.com or shop.example.com/api; separate several with `;`)"
                        );
                        cx.err(line, f, message);
                    } else {
                        ext.routing.insert(port, domains);
                    }
                } else if let Some(port) = name.strip_prefix("lb.port_") {
                    if let Some(port) = port_number(cx, port, line, f, written) {
                        match values::lb_target(v) {
                            Ok(_) => {
                                ext.lb.insert(port, v.to_string());
                            }
                            Err(why) => bad(cx, &format!("must be tcp://<load balancer>:<front port>: {why}")),
                        }
                    }
                } else {
                    cx.err(
                        line,
                        f,
                        format!("unknown Berth label `{written}` (see the extension labels in the README)"),
                    );
                }
            }
        }
    }
    asked.scaling = scaling_lines;
    match (sched.cron, sched.first_part) {
        (Some(cron), _) => {
            ext.schedule = Some(crate::Schedule {
                cron,
                timezone: sched.timezone.unwrap_or_else(|| "UTC".into()),
                concurrency: sched.concurrency.unwrap_or_default(),
                starting_deadline_s: sched.starting_deadline_s.unwrap_or(crate::DEFAULT_STARTING_DEADLINE_S),
            });
        }
        (None, Some((line, f))) if !sched.cron_wrong => {
            cx.err(line, &f, "berth.schedule.* labels need berth.schedule (the cron expression)")
        }
        _ => {}
    }
    asked
}

fn probe(ext: &mut Extensions) -> &mut Probe {
    ext.probe.get_or_insert(Probe { url: None, cmd: None, initial_delay_ns: None, timeout_ns: None })
}

fn port_number(cx: &mut Cx<'_>, s: &str, line: usize, field: &str, written: &str) -> Option<u16> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Some(p),
        _ => {
            cx.err(line, field, format!("`{written}` must name a port from 1 to 65535 (e.g. port_80)"));
            None
        }
    }
}

/// `http(s)://host:port[/path]` or `tcp://host:port`.
fn probe_url(s: &str) -> bool {
    let (rest, tcp) = if let Some(r) = s.strip_prefix("tcp://") {
        (r, true)
    } else if let Some(r) = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://")) {
        (r, false)
    } else {
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if tcp && !(path.is_empty() || path == "/") {
        return false;
    }
    let Some((host, port)) = authority.rsplit_once(':') else { return false };
    !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && port.parse::<u16>().is_ok_and(|p| p > 0)
        && path.bytes().all(|b| b.is_ascii_graphic())
}
