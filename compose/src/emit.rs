//! Writes an [`AppSpec`] back as Compose YAML (version "3.8" style), for stacks adopted from
//! outside Berth. The output is meant to round-trip: `parse(to_compose(spec)) == spec`.
//!
//! Every string is double-quoted and every `$` doubled, so no value can be mistaken for a number,
//! a boolean, YAML syntax or a variable. Long syntaxes are used throughout because they say
//! exactly what the spec says.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::spec::*;
use crate::values::{format_cpus, format_duration};

/// A double-quoted YAML string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A quoted value, with `$` escaped against interpolation.
fn v(s: &str) -> String {
    q(&s.replace('$', "$$"))
}

struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, indent: usize, s: &str) {
        for _ in 0..indent {
            self.text.push_str("  ");
        }
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn map(&mut self, indent: usize, key: &str, map: &BTreeMap<String, String>) {
        if map.is_empty() {
            return;
        }
        self.line(indent, &format!("{key}:"));
        for (k, val) in map {
            self.line(indent + 1, &format!("{}: {}", q(k), v(val)));
        }
    }

    fn list(&mut self, indent: usize, key: &str, items: &[String]) {
        self.line(indent, &format!("{key}: [{}]", items.iter().map(|i| v(i)).collect::<Vec<_>>().join(", ")));
    }

    fn opt_duration(&mut self, indent: usize, key: &str, ns: Option<i64>) {
        if let Some(ns) = ns {
            self.line(indent, &format!("{key}: {}", q(&format_duration(ns))));
        }
    }

    fn opt_num(&mut self, indent: usize, key: &str, n: Option<u64>) {
        if let Some(n) = n {
            self.line(indent, &format!("{key}: {n}"));
        }
    }

    fn opt_str(&mut self, indent: usize, key: &str, s: &Option<String>) {
        if let Some(s) = s {
            self.line(indent, &format!("{key}: {}", v(s)));
        }
    }

    /// `external: true` plus `name:`, or the labels of a created object.
    fn object(&mut self, external: &Option<String>, labels: &BTreeMap<String, String>) {
        if let Some(name) = external {
            self.line(2, "external: true");
            self.line(2, &format!("name: {}", v(name)));
        }
        self.map(2, "labels", labels);
    }
}

pub fn to_compose(spec: &AppSpec) -> String {
    let mut o = Out { text: String::new() };
    o.line(0, "version: \"3.8\"");
    o.line(0, "services:");
    for (name, s) in &spec.services {
        o.line(1, &format!("{}:", q(name)));
        service(&mut o, s);
    }
    if !spec.networks.is_empty() {
        o.line(0, "networks:");
        for (name, n) in &spec.networks {
            o.line(1, &format!("{}:", q(name)));
            o.object(&n.external, &n.labels);
            if n.internal {
                o.line(2, "internal: true");
            }
            if n.attachable {
                o.line(2, "attachable: true");
            }
        }
    }
    if !spec.volumes.is_empty() {
        o.line(0, "volumes:");
        for (name, vol) in &spec.volumes {
            o.line(1, &format!("{}:", q(name)));
            o.opt_str(2, "driver", &vol.driver);
            o.map(2, "driver_opts", &vol.driver_opts);
            o.object(&vol.external, &vol.labels);
        }
    }
    for (section, items) in [
        ("secrets", spec.secrets.iter().map(|(k, s)| (k, &s.external, &s.content, &s.labels)).collect::<Vec<_>>()),
        ("configs", spec.configs.iter().map(|(k, c)| (k, &c.external, &c.content, &c.labels)).collect()),
    ] {
        if items.is_empty() {
            continue;
        }
        o.line(0, &format!("{section}:"));
        for (name, external, content, labels) in items {
            o.line(1, &format!("{}:", q(name)));
            o.opt_str(2, "content", content);
            o.object(external, labels);
        }
    }
    o.text
}

fn service(o: &mut Out, s: &ServiceSpec) {
    o.line(2, &format!("image: {}", v(&s.image)));
    if let Some(c) = &s.entrypoint {
        o.list(2, "entrypoint", c);
    }
    if let Some(c) = &s.command {
        o.list(2, "command", c);
    }
    o.map(2, "environment", &s.environment);
    o.opt_str(2, "working_dir", &s.working_dir);
    o.opt_str(2, "user", &s.user);
    o.opt_str(2, "hostname", &s.hostname);
    if !s.ports.is_empty() {
        o.line(2, "ports:");
        for p in &s.ports {
            o.line(3, &format!("- target: {}", p.target));
            if let Some(published) = p.published {
                o.line(4, &format!("published: {published}"));
            }
            o.line(4, &format!("protocol: {}", v(&p.protocol)));
            o.line(4, "mode: host");
        }
    }
    // Every mount is written in long syntax under `volumes:`, in order, so that `tmpfs:` mounts
    // keep their place (and the policy's `volumes[i]` stays the same).
    if !s.mounts.is_empty() {
        o.line(2, "volumes:");
        for m in &s.mounts {
            let kind = match m.kind {
                MountKind::Volume => "volume",
                MountKind::Bind => "bind",
                MountKind::Tmpfs => "tmpfs",
            };
            o.line(3, &format!("- type: {kind}"));
            if !m.source.is_empty() {
                o.line(4, &format!("source: {}", v(&m.source)));
            }
            o.line(4, &format!("target: {}", v(&m.target)));
            if m.read_only {
                o.line(4, "read_only: true");
            }
        }
    }
    if !s.networks.is_empty() {
        o.list(2, "networks", &s.networks);
    }
    let mut labels: BTreeMap<String, String> = s.labels.clone();
    extension_labels(&s.ext, &mut labels);
    if let Mode::Job { completions, parallelism } = s.mode {
        if parallelism != completions {
            labels.insert("berth.job.parallelism".into(), parallelism.to_string());
        }
    }
    o.map(2, "labels", &labels);
    if let Some(h) = &s.healthcheck {
        o.line(2, "healthcheck:");
        if !h.test.is_empty() {
            o.list(3, "test", &h.test);
        }
        o.opt_duration(3, "interval", h.interval_ns);
        o.opt_duration(3, "timeout", h.timeout_ns);
        o.opt_num(3, "retries", h.retries);
        o.opt_duration(3, "start_period", h.start_period_ns);
    }
    if s.init {
        o.line(2, "init: true");
    }
    o.opt_duration(2, "stop_grace_period", s.stop_grace_period_ns);
    for (key, refs) in [("secrets", &s.secrets), ("configs", &s.configs)] {
        if refs.is_empty() {
            continue;
        }
        o.line(2, &format!("{key}:"));
        for r in refs {
            o.line(3, &format!("- source: {}", v(&r.source)));
            o.line(4, &format!("target: {}", v(&r.target)));
        }
    }
    if s.privileged {
        o.line(2, "privileged: true");
    }
    for (key, items) in [("cap_add", &s.cap_add), ("cap_drop", &s.cap_drop), ("devices", &s.devices)] {
        if !items.is_empty() {
            o.list(2, key, items);
        }
    }
    for (key, value) in [
        ("pid", &s.pid),
        ("ipc", &s.ipc),
        ("uts", &s.uts),
        ("userns_mode", &s.userns_mode),
        ("cgroup", &s.cgroup),
        ("network_mode", &s.network_mode),
        ("stop_signal", &s.stop_signal),
        ("isolation", &s.isolation),
    ] {
        o.opt_str(2, key, value);
    }
    for (key, on) in [("read_only", s.read_only), ("tty", s.tty), ("stdin_open", s.stdin_open)] {
        if on {
            o.line(2, &format!("{key}: true"));
        }
    }
    for (key, items) in [
        ("security_opt", &s.security_opt),
        ("dns", &s.dns),
        ("dns_search", &s.dns_search),
        ("dns_opt", &s.dns_opt),
        ("group_add", &s.group_add),
    ] {
        if !items.is_empty() {
            o.list(2, key, items);
        }
    }
    if !s.extra_hosts.is_empty() {
        // `host=ip` rather than `host:ip`, so that IPv6 addresses need no second thought.
        let items: Vec<String> = s.extra_hosts.iter().map(|h| format!("{}={}", h.host, h.ip)).collect();
        o.list(2, "extra_hosts", &items);
    }
    o.map(2, "sysctls", &s.sysctls);
    if !s.ulimits.is_empty() {
        o.line(2, "ulimits:");
        for (name, u) in &s.ulimits {
            o.line(3, &format!("{}: {{soft: {}, hard: {}}}", q(name), u.soft, u.hard));
        }
    }
    if let Some(l) = &s.logging {
        o.line(2, "logging:");
        if !l.driver.is_empty() {
            o.line(3, &format!("driver: {}", v(&l.driver)));
        }
        if l.options.is_empty() {
            o.line(3, "options: {}");
        }
        o.map(3, "options", &l.options);
    }
    if let Some(n) = s.pids_limit {
        o.line(2, &format!("pids_limit: {n}"));
    }
    if !s.ext.depends.is_empty() {
        o.list(2, "depends_on", &s.ext.depends);
    }
    deploy(o, s);
}

fn deploy(o: &mut Out, s: &ServiceSpec) {
    o.line(2, "deploy:");
    match s.mode {
        Mode::Global => o.line(3, "mode: global"),
        Mode::Replicated(n) => o.line(3, &format!("replicas: {n}")),
        Mode::Job { completions, .. } => {
            o.line(3, "mode: replicated-job");
            o.line(3, &format!("replicas: {completions}"));
        }
    }
    o.map(3, "labels", &s.service_labels);
    let r = &s.resources;
    if r != &Resources::default() {
        o.line(3, "resources:");
        for (key, cpus, memory) in [
            ("limits", r.limit_nano_cpus, r.limit_memory_bytes),
            ("reservations", r.reserve_nano_cpus, r.reserve_memory_bytes),
        ] {
            if cpus.is_none() && memory.is_none() {
                continue;
            }
            o.line(4, &format!("{key}:"));
            if let Some(c) = cpus {
                o.line(5, &format!("cpus: {}", q(&format_cpus(c))));
            }
            if let Some(m) = memory {
                o.line(5, &format!("memory: {}", q(&m.to_string())));
            }
        }
    }
    let p = &s.placement;
    if p != &Placement::default() {
        o.line(3, "placement:");
        if !p.constraints.is_empty() {
            o.list(4, "constraints", &p.constraints);
        }
        if !p.spread.is_empty() {
            o.line(4, "preferences:");
            for sp in &p.spread {
                o.line(5, &format!("- spread: {}", v(sp)));
            }
        }
        o.opt_num(4, "max_replicas_per_node", p.max_replicas_per_node);
    }
    let u = &s.update;
    if u != &UpdateSpec::default() {
        o.line(3, "update_config:");
        o.opt_num(4, "parallelism", u.parallelism);
        o.opt_duration(4, "delay", u.delay_ns);
        o.opt_str(4, "order", &u.order);
        o.opt_str(4, "failure_action", &u.failure_action);
        o.opt_duration(4, "monitor", u.monitor_ns);
    }
    let r = &s.restart;
    if r != &RestartSpec::default() {
        o.line(3, "restart_policy:");
        o.opt_str(4, "condition", &r.condition);
        o.opt_duration(4, "delay", r.delay_ns);
        o.opt_num(4, "max_attempts", r.max_attempts);
        o.opt_duration(4, "window", r.window_ns);
    }
}

/// The extension labels that reproduce `ext` (dependencies are written as `depends_on`).
fn extension_labels(ext: &Extensions, labels: &mut BTreeMap<String, String>) {
    let mut put = |k: &str, val: String| {
        labels.insert(format!("berth.{k}"), val);
    };
    if let Some(p) = &ext.probe {
        if let Some(u) = &p.url {
            put("probe.url", u.clone());
        }
        if let Some(c) = &p.cmd {
            put("probe.cmd", c.clone());
        }
        if let Some(ns) = p.initial_delay_ns {
            put("probe.initial_delay", format_duration(ns));
        }
        if let Some(ns) = p.timeout_ns {
            put("probe.timeout", format_duration(ns));
        }
    }
    if let Some(r) = ext.rolling_updates {
        put("rolling_updates", r.to_string());
    }
    if let Some(n) = ext.rolling_parallelism {
        put("rolling_updates.parallelism", n.to_string());
    }
    if ext.latest_image {
        put("latest_image", "true".into());
    }
    if ext.zone_spread {
        put("zone_spread", "true".into());
    }
    for (k, val) in &ext.auto_scaling {
        put(&format!("auto_scaling.{k}"), val.clone());
    }
    for (port, domains) in &ext.routing {
        put(&format!("routing.port_{port}"), domains.join(";"));
    }
    if ext.session_sticky {
        put("routing.session_sticky", "true".into());
    }
    for (port, val) in &ext.lb {
        put(&format!("lb.port_{port}"), val.clone());
    }
    if let Some(m) = ext.update_method {
        put("update_method", m.as_str().into());
    }
    if let Some(sc) = &ext.schedule {
        put("schedule", sc.cron.clone());
        if sc.timezone != "UTC" {
            put("schedule.timezone", sc.timezone.clone());
        }
        if sc.concurrency != crate::Concurrency::default() {
            put("schedule.concurrency", sc.concurrency.as_str().into());
        }
        if sc.starting_deadline_s != crate::DEFAULT_STARTING_DEADLINE_S {
            put("schedule.starting_deadline", sc.starting_deadline_s.to_string());
        }
    }
    if let Some(s) = ext.job_deadline_s {
        put("job.deadline", s.to_string());
    }
}
