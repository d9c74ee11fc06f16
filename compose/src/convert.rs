//! Compose semantics: the YAML tree → [`AppSpec`], with a diagnostic for everything refused or
//! ignored, then the checks that need the whole app (dependencies, port collisions).
//!
//! Where Compose is lenient (quoted numbers, `key:` meaning an empty mapping, v2 keys in a v3
//! file) Berth is too; where a key cannot work on swarm it is a warning if ignoring it is harmless
//! and an error if the app would behave differently from what the file says.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::cx::{Cx, DependsRef, Pair, PublishedRef};
use crate::spec::*;
use crate::yaml::{self, join, Entry, Kind, Node};
use crate::{container, ext, interp, values, Parsed, MAX_DIAGNOSTICS, MAX_TEMPLATE_BYTES};

/// Container keys swarm services have no equivalent for, each with what to use instead. The file
/// still deploys, so they are warnings: "`key` is ignored by swarm services: <advice>".
const IGNORED_SERVICE_KEYS: &[(&str, &str)] = &[
    ("annotations", "swarm services have no container annotations; use `labels`"),
    ("blkio_config", "swarm services cannot weigh or limit block I/O"),
    ("cgroup_parent", "swarm places each task in a cgroup of its own"),
    ("container_name", "swarm names containers itself; the service is `<app>_{service}`"),
    ("cpu_count", "use deploy.resources.limits.cpus"),
    ("cpu_percent", "use deploy.resources.limits.cpus"),
    ("cpu_period", "use deploy.resources.limits.cpus"),
    ("cpu_quota", "use deploy.resources.limits.cpus"),
    ("cpu_rt_period", "real-time scheduling is not available to swarm services"),
    ("cpu_rt_runtime", "real-time scheduling is not available to swarm services"),
    ("cpu_shares", "use deploy.resources (limits and reservations of cpus)"),
    ("cpuset", "swarm services cannot be pinned to CPUs; use deploy.resources.limits.cpus"),
    ("credential_spec", "it is for Windows group-managed service accounts, which Berth's nodes do not use"),
    ("device_cgroup_rules", "swarm services cannot be given device rules"),
    ("domainname", "set a fully qualified `hostname` instead"),
    ("external_links", "reach services of other apps through a shared external network"),
    ("links", "services reach each other by name on the app's networks"),
    ("mac_address", "swarm assigns addresses on its overlay networks"),
    ("mem_swappiness", "swarm services cannot tune swapping; set deploy.resources.limits.memory"),
    ("memswap_limit", "swarm services have no swap limit; set deploy.resources.limits.memory"),
    (
        "oom_kill_disable",
        "swarm services cannot turn off the OOM killer; leave headroom in deploy.resources.limits.memory",
    ),
    ("oom_score_adj", "swarm services (API 1.41) cannot adjust the OOM score"),
    (
        "platform",
        "each node pulls the image for its own platform; use a placement constraint such as node.platform.arch==x86_64",
    ),
    ("runtime", "swarm services run with the node's default runtime"),
    ("shm_size", "mount a tmpfs at /dev/shm (`tmpfs: /dev/shm`)"),
    ("storage_opt", "swarm services cannot set storage driver options"),
];

/// Valid Compose keys that Berth does not support. `true` marks an error: ignoring the key would
/// make the app behave differently from what the file says; the others are warnings.
const UNSUPPORTED_SERVICE_KEYS: &[(&str, bool, &str)] = &[
    ("attach", false, "Berth does not attach to containers' output; their logs are in the console; ignored"),
    ("develop", false, "it drives `docker compose watch` on a developer's machine; ignored"),
    ("extends", true, "write the service out in full, or share keys through an `x-` block and `<<: *anchor`"),
    ("gpus", true, "swarm services (API 1.41) cannot be given GPUs, so the service would run without them"),
    ("label_file", true, "a web console has no files; put the labels in `labels:`"),
    ("models", true, "Compose's AI models are not available to swarm services"),
    ("post_start", true, "lifecycle hooks do not run on swarm services; do the work in the image's entrypoint"),
    ("pre_stop", true, "lifecycle hooks do not run on swarm services; handle the stop signal in the container"),
    ("profiles", false, "every service of the template is deployed, whatever its profiles"),
    ("provider", true, "provider services are run by the Compose CLI, not by swarm"),
    (
        "pull_policy",
        false,
        "swarm pulls images when it schedules tasks; use the label berth.latest_image to re-pull on redeploy",
    ),
    ("use_api_socket", true, "Berth never hands the engine's socket to a container"),
    ("volumes_from", true, "declare a named volume and mount it in both services"),
];

/// Top-level Compose keys that Berth does not support (all errors: their content would be lost).
const UNSUPPORTED_TOP_KEYS: &[(&str, &str)] = &[
    ("include", "a web console has no files; paste the included services into this template"),
    ("models", "Compose's AI models are not available to swarm services"),
];

/// Names declared at the top level, which services may refer to.
#[derive(Default)]
struct Declared {
    networks: BTreeSet<String>,
    volumes: BTreeSet<String>,
    secrets: BTreeSet<String>,
    configs: BTreeSet<String>,
}

pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Parsed, Vec<Diagnostic>> {
    let mut cx = Cx::new(vars);
    let spec = if text.len() > MAX_TEMPLATE_BYTES {
        let kb = text.len().div_ceil(1024);
        cx.err(0, "", format!("the template is {kb} KB; the limit is {} KB", MAX_TEMPLATE_BYTES / 1024));
        None
    } else {
        let (root, diags) = yaml::load(text);
        cx.diags.extend(diags);
        match root {
            Some(mut root) if !root.is_null() => {
                interpolate_tree(&mut cx, &mut root, At::Root);
                Some(app(&mut cx, &root))
            }
            Some(_) | None => {
                if cx.diags.is_empty() {
                    cx.err(0, "", "the template is empty: it needs at least `services:`");
                }
                None
            }
        }
    };
    let mut diags = cx.diags;
    diags.sort_by_key(|d| d.line);
    if diags.len() > MAX_DIAGNOSTICS {
        let more = diags.len() - MAX_DIAGNOSTICS;
        diags.truncate(MAX_DIAGNOSTICS);
        let line = diags.last().map_or(0, |d| d.line);
        let s = if more == 1 { "" } else { "s" };
        let message = format!("… and {more} more problem{s} after this line (fix these first)");
        diags.push(crate::diagnostic(Severity::Error, line, "", message));
    }
    match spec {
        Some(spec) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Parsed { spec, warnings: diags }),
        _ => Err(diags),
    }
}

/// Where a node is, as a chain of borrowed keys and indexes: interpolation walks every node but
/// only values with a `$` need their field written out.
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn field(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => join(&parent.field(), key),
            At::Index(parent, i) => format!("{}[{i}]", parent.field()),
        }
    }
}

/// Interpolates every scalar value (not keys) in place. Top-level `x-*` blocks are skipped: they
/// are only anchors, and their copies are interpolated where they are used.
fn interpolate_tree(cx: &mut Cx<'_>, node: &mut Node, at: At<'_>) {
    let line = node.line;
    match &mut node.kind {
        Kind::Scalar(s) => {
            if !s.value.contains('$') {
                return;
            }
            let path = at.field();
            let limit = s.value.len() + cx.growth_left();
            match interp::interpolate(&s.value, cx.vars, limit) {
                Ok((value, unset)) => {
                    cx.grown += value.len().saturating_sub(s.value.len());
                    s.value = value;
                    for name in unset {
                        cx.warn(line, &path, format!("{name} is not set; using an empty string"));
                    }
                }
                Err(message) => {
                    s.bad = true;
                    if message.starts_with(interp::TOO_LARGE) {
                        cx.too_large(line, &path);
                    } else {
                        cx.err(line, &path, message);
                    }
                }
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(cx, item, At::Index(&at, i));
            }
        }
        Kind::Map(entries) => {
            let top = matches!(at, At::Root);
            for e in entries.iter_mut() {
                if interp::interpolated(&e.key, top) {
                    interpolate_tree(cx, &mut e.value, At::Key(&at, &e.key));
                }
            }
        }
    }
}

fn app(cx: &mut Cx<'_>, root: &Node) -> AppSpec {
    let mut spec = AppSpec::default();
    let Kind::Map(entries) = &root.kind else {
        cx.err(root.line, "", format!("the template must be a mapping with `services:`, not {}", root.describe()));
        return spec;
    };
    let mut services = None;
    let mut declared = Declared::default();
    for e in entries {
        match e.key.as_str() {
            "version" => {
                if let Some(v) = cx.text(&e.value, "version") {
                    if !(v.starts_with('2') || v.starts_with('3')) || v.len() > 1 && !v[1..].starts_with('.') {
                        cx.warn(
                            e.line,
                            "version",
                            format!("version `{v}` is not a Compose 2.x or 3.x version; reading the file as Compose 3"),
                        );
                    }
                }
            }
            "name" => {}
            "services" => services = Some(e),
            "networks" => {
                for n in cx.map(&e.value, "networks").unwrap_or_default() {
                    declared.networks.insert(n.key.clone());
                    let spec_n = network(cx, n);
                    spec.networks.insert(n.key.clone(), spec_n);
                }
            }
            "volumes" => {
                for v in cx.map(&e.value, "volumes").unwrap_or_default() {
                    declared.volumes.insert(v.key.clone());
                    let spec_v = volume(cx, v);
                    spec.volumes.insert(v.key.clone(), spec_v);
                }
            }
            "secrets" => {
                for s in cx.map(&e.value, "secrets").unwrap_or_default() {
                    declared.secrets.insert(s.key.clone());
                    let (external, content, labels) = file_object(cx, s, "secrets", "secret");
                    spec.secrets.insert(s.key.clone(), SecretSpec { external, content, labels });
                }
            }
            "configs" => {
                for c in cx.map(&e.value, "configs").unwrap_or_default() {
                    declared.configs.insert(c.key.clone());
                    let (external, content, labels) = file_object(cx, c, "configs", "config");
                    spec.configs.insert(c.key.clone(), ConfigSpec { external, content, labels });
                }
            }
            k if k.starts_with("x-") => {}
            k => match UNSUPPORTED_TOP_KEYS.iter().find(|(key, _)| *key == k) {
                Some((_, why)) => {
                    cx.err(e.line, &e.key, format!("`{k}` is a Compose key Berth does not support: {why}"))
                }
                None => cx.err(e.line, &e.key, format!("unknown top-level key `{}`", e.key)),
            },
        }
    }
    let Some(services) = services else {
        cx.err(root.line, "services", "the template has no `services:`");
        return spec;
    };
    let entries = cx.map(&services.value, "services").unwrap_or_default();
    if entries.is_empty() && !services.value.is_bad() {
        cx.err(services.line, "services", "`services:` is empty: define at least one service");
    }
    for e in entries {
        let field = format!("services.{}", e.key);
        if !values::dns_label(&e.key) {
            cx.err(
                e.line,
                &field,
                format!("service name `{}` must be a DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters", e.key),
            );
        }
        if e.value.is_null() {
            cx.err(e.line, &field, format!("service `{}` has no definition (it needs at least `image:`)", e.key));
            continue;
        }
        let Some(keys) = cx.map(&e.value, &field) else { continue };
        let svc = service(cx, &e.key, e.line, keys, &declared);
        spec.services.insert(e.key.clone(), svc);
    }
    check_app(cx, &spec);
    spec
}

/// `external: true`, `external: {name: x}` and `name:` → the external name, if external.
fn external(cx: &mut Cx<'_>, e: &Entry, field: &str, key: &str) -> Option<Option<String>> {
    if e.value.is_bad() {
        // Already reported; reading it as `true` keeps the checks that follow quiet about it.
        return Some(Some(String::new()));
    }
    match &e.value.kind {
        Kind::Map(entries) => {
            let mut name = None;
            for x in entries {
                let f = join(field, &x.key);
                match x.key.as_str() {
                    "name" => name = cx.text(&x.value, &f),
                    _ => cx.unknown_key(x, &f),
                }
            }
            Some(Some(name.unwrap_or_else(|| key.to_string())))
        }
        _ => match cx.boolean(&e.value, field)? {
            true => Some(Some(String::new())),
            false => Some(None),
        },
    }
}

fn labels_of(cx: &mut Cx<'_>, n: &Node, field: &str) -> BTreeMap<String, String> {
    cx.pairs(n, field).into_iter().map(|p| (p.key, p.value.unwrap_or_default())).collect()
}

fn network(cx: &mut Cx<'_>, n: &Entry) -> NetworkSpec {
    let field = format!("networks.{}", n.key);
    let mut spec = NetworkSpec::default();
    let (mut ext_name, mut name) = (None, None);
    for e in cx.map(&n.value, &field).unwrap_or_default() {
        let f = join(&field, &e.key);
        match e.key.as_str() {
            "driver" => {
                if let Some(d) = cx.text(&e.value, &f).filter(|d| d != "overlay") {
                    cx.warn(e.line, &f, format!("driver `{d}` is not used: Berth creates overlay networks"));
                }
            }
            "external" => ext_name = external(cx, e, &f, &n.key),
            "name" => name = cx.text(&e.value, &f).map(|v| (v, e.line, f)),
            "labels" => spec.labels = labels_of(cx, &e.value, &f),
            "internal" => spec.internal = cx.boolean(&e.value, &f).unwrap_or(false),
            "attachable" => spec.attachable = cx.boolean(&e.value, &f).unwrap_or(false),
            "driver_opts" => {
                for o in cx.map(&e.value, &f).unwrap_or_default() {
                    let of = join(&f, &o.key);
                    if o.key.contains("encrypted") {
                        cx.warn(o.line, &of, "encrypted overlay networks silently drop traffic on these nodes' kernel; the option is ignored");
                    } else {
                        cx.warn(o.line, &of, format!("driver option `{}` is ignored", o.key));
                    }
                }
            }
            "ipam" | "enable_ipv6" | "enable_ipv4" => cx.warn(e.line, &f, format!("`{}` is ignored by Berth", e.key)),
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    spec.external = resolve_external(cx, ext_name, name, &n.key);
    spec
}

/// Combines `external:` and `name:` (`name` is the external object's name; on its own it would
/// rename an object Berth creates, which Berth does not do).
fn resolve_external(
    cx: &mut Cx<'_>,
    ext_name: Option<Option<String>>,
    name: Option<(String, usize, String)>,
    key: &str,
) -> Option<String> {
    match (ext_name.flatten(), name) {
        (Some(n), Some((name, ..))) if n.is_empty() => Some(name),
        (Some(n), _) if n.is_empty() => Some(key.to_string()),
        (Some(n), _) => Some(n),
        (None, Some((name, line, f))) => {
            cx.warn(line, &f, format!("`name: {name}` is ignored: Berth names what it creates after the app"));
            None
        }
        (None, None) => None,
    }
}

fn volume(cx: &mut Cx<'_>, v: &Entry) -> VolumeSpec {
    let field = format!("volumes.{}", v.key);
    let mut spec = VolumeSpec::default();
    let (mut ext_name, mut name) = (None, None);
    for e in cx.map(&v.value, &field).unwrap_or_default() {
        let f = join(&field, &e.key);
        match e.key.as_str() {
            "driver" => spec.driver = cx.text(&e.value, &f),
            "driver_opts" => {
                for o in cx.map(&e.value, &f).unwrap_or_default() {
                    let of = join(&f, &o.key);
                    if let Some(value) = cx.text(&o.value, &of) {
                        spec.driver_opts.insert(o.key.clone(), value);
                    }
                }
            }
            "external" => ext_name = external(cx, e, &f, &v.key),
            "name" => name = cx.text(&e.value, &f).map(|n| (n, e.line, f)),
            "labels" => spec.labels = labels_of(cx, &e.value, &f),
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    spec.external = resolve_external(cx, ext_name, name, &v.key);
    spec
}

/// A top-level secret or config: (external, content, labels).
fn file_object(
    cx: &mut Cx<'_>,
    s: &Entry,
    section: &str,
    what: &str,
) -> (Option<String>, Option<String>, BTreeMap<String, String>) {
    let field = format!("{section}.{}", s.key);
    let (mut ext_name, mut name, mut content, mut labels, mut file) = (None, None, None, BTreeMap::new(), false);
    for e in cx.map(&s.value, &field).unwrap_or_default() {
        let f = join(&field, &e.key);
        match e.key.as_str() {
            "file" => {
                file = true;
                cx.err(
                    e.line,
                    &f,
                    "`file:` is not supported: a web console has no files; use `content:` or `environment:`",
                );
            }
            "content" => content = cx.text(&e.value, &f).or(Some(String::new())),
            "environment" => {
                if let Some(var) = cx.required_text(&e.value, &f) {
                    match cx.vars.get(&var) {
                        Some(v) if cx.grow(e.line, &f, v.len()) => content = Some(v.clone()),
                        Some(_) => file = true,
                        None => cx.err(e.line, &f, format!("variable `{var}` is not set, so this {what} has no value")),
                    }
                } else {
                    file = true;
                }
            }
            "external" => ext_name = external(cx, e, &f, &s.key),
            "name" => name = cx.text(&e.value, &f).map(|n| (n, e.line, f)),
            "labels" => labels = labels_of(cx, &e.value, &f),
            "driver" | "template_driver" => cx.warn(e.line, &f, format!("`{}` is ignored by Berth", e.key)),
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    let external = resolve_external(cx, ext_name, name, &s.key);
    if external.is_none() && content.is_none() && !file {
        cx.err(s.line, &field, format!("{what} `{}` needs `content:`, `environment:` or `external: true`", s.key));
    }
    (external, content, labels)
}

/// `pids_limit` and `deploy.resources.limits.pids` (each: the limit, line and field), which must agree.
#[derive(Default)]
struct Pids {
    top: Option<(Option<i64>, usize, String)>,
    deploy: Option<(Option<i64>, usize, String)>,
}

/// A host namespace key (`pid`, `ipc`, `uts`, `userns_mode`, `cgroup`) as written; swarm ignores it.
fn namespace(cx: &mut Cx<'_>, e: &Entry, field: &str) -> Option<String> {
    let v = cx.text(&e.value, field)?;
    if v.trim().is_empty() {
        return None;
    }
    cx.warn(e.line, field, format!("`{}: {v}` is not supported by swarm services; ignored", e.key));
    Some(v)
}

/// A list of strings whose items the policy may name: each item's line is kept as `key[i]`.
fn listed(cx: &mut Cx<'_>, lines: &mut BTreeMap<String, usize>, n: &Node, field: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (s, line, _) in cx.strings_at(n, field) {
        lines.insert(format!("{key}[{}]", out.len()), line);
        out.push(s);
    }
    out
}

/// Everything `deploy:` and the v2 keys may say about replicas, gathered before reconciling.
#[derive(Default)]
struct Replicas {
    scale: Option<(u64, usize)>,
    deploy: Option<(u64, usize, String)>,
    global: Option<(usize, String)>,
    /// `deploy.mode: replicated-job`.
    job: Option<(usize, String)>,
}

fn service(cx: &mut Cx<'_>, name: &str, line: usize, keys: &[Entry], declared: &Declared) -> ServiceSpec {
    let base = format!("services.{name}");
    let mut svc = ServiceSpec { line, ..ServiceSpec::default() };
    let mut image = None;
    let mut build = None;
    let mut label_pairs = Vec::new();
    let mut deploy = None;
    let mut tmpfs = Vec::new();
    let mut replicas = Replicas::default();
    let mut pids = Pids::default();
    for e in keys {
        let f = join(&base, &e.key);
        let v = &e.value;
        match e.key.as_str() {
            "image" => image = Some((cx.text(v, &f), e.line)),
            "build" => build = Some(e.line),
            "command" => svc.command = command(cx, v, &f),
            "entrypoint" => svc.entrypoint = command(cx, v, &f),
            "environment" => {
                for p in cx.pairs(v, &f) {
                    if p.bad {
                        continue;
                    }
                    let from_vars = p.value.is_none();
                    match p.value.or_else(|| cx.vars.get(&p.key).cloned()) {
                        Some(value) if from_vars && !cx.grow(p.line, &p.field, value.len()) => {}
                        Some(value) => {
                            svc.environment.insert(p.key, value);
                        }
                        None => cx.warn(
                            p.line,
                            &p.field,
                            format!("`{}` has no value and is not set; it is left out", p.key),
                        ),
                    }
                }
            }
            "env_file" => cx.err(
                e.line,
                &f,
                "env_file is not supported: a web console has no files; put the variables in `environment:`",
            ),
            "working_dir" => svc.working_dir = cx.text(v, &f),
            "user" => svc.user = cx.text(v, &f),
            "hostname" => svc.hostname = cx.text(v, &f),
            "ports" => {
                for (i, item) in cx.list(v, &f).unwrap_or_default().iter().enumerate() {
                    let pf = format!("{f}[{i}]");
                    for p in port(cx, item, &pf) {
                        if let Some(published) = p.published {
                            cx.published.push(PublishedRef {
                                port: published,
                                protocol: p.protocol.clone(),
                                service: name.to_string(),
                                line: item.line,
                                field: pf.clone(),
                            });
                        }
                        svc.ports.push(p);
                    }
                }
            }
            "expose" => {
                let _ = cx.list(v, &f);
            }
            "volumes" => {
                for (i, item) in cx.list(v, &f).unwrap_or_default().iter().enumerate() {
                    if let Some(m) = mount(cx, item, &format!("{f}[{i}]"), declared) {
                        svc.lines.insert(format!("volumes[{}]", svc.mounts.len()), item.line);
                        svc.mounts.push(m);
                    }
                }
            }
            "tmpfs" => {
                for t in cx.strings_or_one(v, &f) {
                    let target = t.split(':').next().unwrap_or_default().to_string();
                    if target.starts_with('/') {
                        tmpfs.push(MountSpec {
                            kind: MountKind::Tmpfs,
                            source: String::new(),
                            target,
                            read_only: false,
                        });
                    } else {
                        cx.err(v.line, &f, format!("the container path `{target}` must be absolute"));
                    }
                }
            }
            "networks" => svc.networks = service_networks(cx, v, &f, declared, &mut svc.lines),
            "labels" => label_pairs.extend(cx.pairs(v, &f).into_iter().filter(|p| !p.bad)),
            "healthcheck" => svc.healthcheck = healthcheck(cx, v, &f),
            "init" => svc.init = cx.boolean(v, &f).unwrap_or(false),
            "stop_grace_period" => svc.stop_grace_period_ns = cx.duration(v, &f),
            "secrets" => svc.secrets = file_refs(cx, v, &f, &declared.secrets, "secret"),
            "configs" => svc.configs = file_refs(cx, v, &f, &declared.configs, "config"),
            "privileged" => {
                svc.privileged = cx.boolean(v, &f).unwrap_or(false);
                svc.lines.insert(e.key.clone(), e.line);
            }
            "cap_add" => svc.cap_add = listed(cx, &mut svc.lines, v, &f, "cap_add"),
            "cap_drop" => svc.cap_drop = cx.strings(v, &f),
            "devices" => svc.devices = listed(cx, &mut svc.lines, v, &f, "devices"),
            "security_opt" => {
                svc.security_opt = listed(cx, &mut svc.lines, v, &f, "security_opt");
                if !svc.security_opt.is_empty() {
                    cx.warn(
                        e.line,
                        &f,
                        "`security_opt` is not applied: swarm services (API 1.41) cannot set security options; ignored",
                    );
                }
            }
            "pid" | "ipc" | "uts" | "userns_mode" | "cgroup" => {
                let value = namespace(cx, e, &f);
                svc.lines.insert(e.key.clone(), e.line);
                match e.key.as_str() {
                    "pid" => svc.pid = value,
                    "ipc" => svc.ipc = value,
                    "uts" => svc.uts = value,
                    "userns_mode" => svc.userns_mode = value,
                    _ => svc.cgroup = value,
                }
            }
            "network_mode" => {
                svc.lines.insert(e.key.clone(), e.line);
                match cx.text(v, &f).as_deref() {
                    Some(m @ ("host" | "none")) => svc.network_mode = Some(m.to_string()),
                    Some("") | None => {}
                    Some(other) => cx.err(
                        e.line,
                        &f,
                        format!("network_mode `{other}` is not supported by swarm services: use networks:"),
                    ),
                }
            }
            "read_only" => svc.read_only = cx.boolean(v, &f).unwrap_or(false),
            "tty" => svc.tty = cx.boolean(v, &f).unwrap_or(false),
            "stdin_open" => svc.stdin_open = cx.boolean(v, &f).unwrap_or(false),
            "stop_signal" => svc.stop_signal = container::stop_signal(cx, e, &f),
            "extra_hosts" => svc.extra_hosts = container::extra_hosts(cx, v, &f),
            "dns" => svc.dns = container::dns(cx, v, &f),
            "dns_search" => svc.dns_search = container::words(cx, v, &f, "a search domain"),
            "dns_opt" => svc.dns_opt = container::words(cx, v, &f, "a resolver option"),
            "sysctls" => container::sysctls(cx, &mut svc, v, &f),
            "ulimits" => svc.ulimits = container::ulimits(cx, v, &f),
            "group_add" => svc.group_add = container::words(cx, v, &f, "a group name or number"),
            "logging" => {
                let logging = container::logging(cx, &mut svc, v, &f);
                svc.logging = logging;
            }
            "pids_limit" => pids.top = container::pids(cx, v, &f).map(|p| (p, e.line, f.clone())),
            "isolation" => {
                svc.lines.insert(e.key.clone(), e.line);
                svc.isolation = cx.one_of(v, &f, &["default", "process", "hyperv"]);
            }
            "restart" => {
                if let Some(r) = cx.text(v, &f) {
                    restart_v2(cx, &r, e.line, &f, &mut svc.restart);
                }
            }
            "scale" => replicas.scale = cx.uint(v, &f).map(|n| (n, e.line)),
            "mem_limit" => svc.resources.limit_memory_bytes = cx.memory(v, &f),
            "mem_reservation" => svc.resources.reserve_memory_bytes = cx.memory(v, &f),
            "cpus" => svc.resources.limit_nano_cpus = cx.cpus(v, &f),
            "depends_on" => depends_on(cx, name, v, &f, &mut svc.ext.depends),
            "deploy" => deploy = Some(e),
            k if k.starts_with("x-") => {}
            k => {
                if let Some((_, advice)) = IGNORED_SERVICE_KEYS.iter().find(|(key, _)| *key == k) {
                    let advice = advice.replace("{service}", name);
                    cx.warn(e.line, &f, format!("`{k}` is ignored by swarm services: {advice}"));
                } else if let Some((_, error, why)) = UNSUPPORTED_SERVICE_KEYS.iter().find(|(key, ..)| *key == k) {
                    let message = format!("`{k}` is a Compose key Berth does not support: {why}");
                    cx.push(if *error { Severity::Error } else { Severity::Warning }, e.line, &f, message);
                } else {
                    cx.unknown_key(e, &f);
                }
            }
        }
    }
    svc.mounts.extend(tmpfs);
    if svc.network_mode.is_some() {
        if let Some(n) = keys.iter().find(|e| e.key == "networks") {
            let line = svc.lines.get("network_mode").copied().unwrap_or(n.line);
            let message = "`network_mode` and `networks` cannot be used together: a service with a network mode joins no other network";
            cx.err(line, &join(&base, "network_mode"), message);
        }
    }

    match (image, build) {
        (Some((Some(img), l)), b) => {
            if let Some(bl) = b {
                cx.warn(bl, &join(&base, "build"), "build is ignored: Berth deploys the image named in `image:`");
            }
            if let Err(m) = values::image(&img) {
                cx.err(l, &join(&base, "image"), m);
            }
            svc.image = img;
        }
        (_, Some(bl)) => cx.err(
            bl,
            &join(&base, "build"),
            "build is not supported: Berth deploys images; build the image and load/push it, then use image:",
        ),
        (Some((None, l)), None) => {
            let bad = keys.iter().any(|e| e.key == "image" && e.value.is_bad());
            if !bad {
                cx.err(l, &join(&base, "image"), "the image is empty");
            }
        }
        (None, None) => cx.err(line, &base, format!("service `{name}` has no `image:`")),
    }

    if let Some(d) = deploy {
        deploy_section(cx, &mut svc, &mut replicas, &mut pids, &mut label_pairs, &d.value, &join(&base, "deploy"));
    }
    svc.pids_limit = match (pids.top, pids.deploy) {
        (Some((a, ..)), Some((b, l, f))) if a != b => {
            let show = |p: Option<i64>| p.map_or("none".to_string(), |p| p.to_string());
            let message = format!("deploy.resources.limits.pids ({}) and pids_limit ({}) disagree", show(b), show(a));
            cx.err(l, &f, message);
            None
        }
        (Some((a, ..)), _) => a,
        (None, Some((b, ..))) => b,
        (None, None) => None,
    };

    // Extension labels come out of both label maps; everything else stays where it was written.
    let mut ext_pairs = Vec::new();
    let mut plain_labels = BTreeMap::new();
    for p in label_pairs {
        let deploy_label = p.field.starts_with(&format!("{base}.deploy."));
        match ext::canonical(&p.key) {
            Some(canon) => ext_pairs.push((canon, p)),
            None if deploy_label => {
                svc.service_labels.insert(p.key, p.value.unwrap_or_default());
            }
            None => {
                plain_labels.insert(p.key, p.value.unwrap_or_default());
            }
        }
    }
    svc.labels = plain_labels;
    let asked = ext::parse(cx, name, &ext_pairs, &mut svc.ext);
    let scaling_lines = asked.scaling.clone();
    reconcile(cx, &mut svc, replicas, asked, &base);
    check_scaling(cx, &svc, &scaling_lines, line, &base);

    if let Some(probe) = svc.ext.probe.clone() {
        if let (Some(cmd), None) = (&probe.cmd, &svc.healthcheck) {
            svc.healthcheck = Some(HealthSpec {
                test: vec!["CMD-SHELL".to_string(), cmd.clone()],
                interval_ns: None,
                timeout_ns: probe.timeout_ns,
                retries: None,
                start_period_ns: probe.initial_delay_ns,
            });
        }
    }
    if svc.ext.rolling_updates == Some(true) {
        let wanted = svc.ext.rolling_parallelism.unwrap_or(1);
        match svc.update.parallelism {
            Some(p) if p != wanted => cx.warn(
                line,
                &join(&base, "deploy.update_config.parallelism"),
                format!("update_config.parallelism ({p}) wins over berth.rolling_updates ({wanted})"),
            ),
            Some(_) => {}
            None => svc.update.parallelism = Some(wanted),
        }
    }
    if svc.ext.zone_spread && !svc.placement.spread.iter().any(|s| s == "node.labels.berth.zone") {
        svc.placement.spread.push("node.labels.berth.zone".to_string());
    }
    if let Mode::Replicated(n) = svc.mode {
        if n > 1000 {
            cx.err(line, &base, format!("{n} replicas is more than the limit of 1000"));
        }
    }
    svc
}

/// The autoscaling labels make one policy the service can be measured by; an error names the label.
fn check_scaling(
    cx: &mut Cx<'_>,
    svc: &ServiceSpec,
    lines: &BTreeMap<String, (usize, String)>,
    line: usize,
    base: &str,
) {
    let Some(read) = crate::scaling::Policy::from_labels(&svc.ext.auto_scaling) else { return };
    let checked = read.and_then(|p| p.check_for(svc.measurable()));
    if let Err(w) = checked {
        let (l, f) = lines.get(w.key).cloned().unwrap_or_else(|| (line, base.to_string()));
        cx.err(l, &f, format!("berth.auto_scaling.{} {}", w.key, w.message));
    }
}

/// Settles replicas and mode from `scale`, `deploy.replicas`, `deploy.mode`, `berth.scale` and
/// `berth.global`, refusing contradictions instead of picking one silently.
fn reconcile(cx: &mut Cx<'_>, svc: &mut ServiceSpec, r: Replicas, asked: ext::Asked, base: &str) {
    let mut count = None;
    if let Some((n, l, f)) = &r.deploy {
        count = Some(*n);
        if let Some((s, sl)) = r.scale {
            if s != *n {
                cx.err(sl, &join(base, "scale"), format!("scale ({s}) and deploy.replicas ({n}) disagree"));
            }
        }
        if r.global.is_some() {
            cx.err(*l, f, "replicas cannot be set with `mode: global`");
        }
    } else if let Some((s, sl)) = r.scale {
        count = Some(s);
        if let Some((_, f)) = &r.global {
            cx.err(sl, f, "scale cannot be set with `mode: global`");
        }
    }
    if let Some((n, l, f)) = &asked.scale {
        match count {
            Some(c) if c != *n => {
                cx.err(*l, f, format!("berth.scale ({n}) conflicts with deploy.replicas ({c})"));
            }
            _ => count = Some(*n),
        }
        if r.global.is_some() {
            cx.err(*l, f, "berth.scale cannot be used with `mode: global`");
        }
    }
    let mut global = r.global.is_some();
    if let Some((g, l, f)) = &asked.global {
        if *g && count.is_some() {
            cx.err(*l, f, "berth.global cannot be used with a replica count");
        }
        global |= *g;
    }
    // A job: `deploy.mode: replicated-job`, or a schedule (or `berth.job.*`) on a replicated service.
    let job = r.job.clone().or(asked.job.clone());
    if let Some((l, f)) = job.as_ref().filter(|_| global) {
        cx.err(*l, f, "a job or a schedule cannot be global: write replicas (its completions) instead");
    }
    if let (Some(_), Some((_, l, f))) = (&job, &r.deploy) {
        if count == Some(0) {
            cx.err(*l, f, "a job needs at least 1 completion (deploy.replicas)");
        }
    }
    svc.mode = match job {
        Some(_) if !global => {
            let completions = count.unwrap_or(1).max(1);
            let parallelism = match &asked.parallelism {
                Some((p, l, f)) if *p > completions => {
                    cx.err(
                        *l,
                        f,
                        format!("berth.job.parallelism ({p}) is more than the job's completions ({completions})"),
                    );
                    completions
                }
                Some((p, _, _)) => *p,
                None => completions,
            };
            // A run that fails is not tried again unless `restart_policy` asks for retries.
            if svc.restart.condition.is_none() {
                svc.restart.condition = Some("none".to_string());
            }
            Mode::Job { completions, parallelism }
        }
        _ if global => Mode::Global,
        _ => Mode::Replicated(count.unwrap_or(1)),
    };
    if let (Some((_, l, f)), false) = (&asked.parallelism, svc.mode.is_job()) {
        cx.err(*l, f, "berth.job.parallelism is for jobs (deploy.mode: replicated-job or berth.schedule)");
    }
}

fn command(cx: &mut Cx<'_>, n: &Node, field: &str) -> Option<Vec<String>> {
    match &n.kind {
        Kind::Scalar(_) => {
            let s = cx.text(n, field)?;
            cx.check(n.line, field, values::shell_split(&s))
        }
        _ => Some(cx.strings(n, field)),
    }
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let one = |p: &str| match p.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{p}` is not a port (1-65535)")),
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => (one(s)?, one(s)?),
    };
    if a > b {
        return Err(format!("the port range `{s}` runs backwards"));
    }
    if b - a >= 1000 {
        return Err(format!("the port range `{s}` holds more than 1000 ports"));
    }
    Ok((a, b))
}

fn host_ip_error(ip: &str) -> String {
    format!("host IP `{ip}` is not supported: swarm publishes host-mode ports on every address of the node")
}

fn short_port(s: &str) -> Result<Vec<PortSpec>, String> {
    let (spec, protocol) = s.rsplit_once('/').unwrap_or((s, "tcp"));
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(format!("protocol `{protocol}` must be tcp or udp"));
    }
    if spec.starts_with('[') || spec.matches(':').count() >= 2 {
        let ip = spec.rsplitn(3, ':').last().unwrap_or(spec);
        return Err(host_ip_error(ip));
    }
    let (published, target) = match spec.split_once(':') {
        Some((p, t)) => (Some(p).filter(|p| !p.is_empty()), t),
        None => (None, spec),
    };
    let (t0, t1) = port_range(target)?;
    let proto = protocol.to_string();
    let Some(published) = published else {
        return Ok((t0..=t1).map(|t| PortSpec { target: t, published: None, protocol: proto.clone() }).collect());
    };
    let (p0, p1) = port_range(published)?;
    if p1 - p0 != t1 - t0 {
        return Err(format!("the published range `{published}` and the target range `{target}` differ in length"));
    }
    Ok((t0..=t1)
        .zip(p0..=p1)
        .map(|(t, p)| PortSpec { target: t, published: Some(p), protocol: proto.clone() })
        .collect())
}

fn port(cx: &mut Cx<'_>, n: &Node, field: &str) -> Vec<PortSpec> {
    if let Kind::Map(entries) = &n.kind {
        let (mut target, mut published, mut protocol) = (None, None, "tcp".to_string());
        for e in entries {
            let f = join(field, &e.key);
            match e.key.as_str() {
                "target" => {
                    target = cx.uint(&e.value, &f).and_then(|t| match u16::try_from(t) {
                        Ok(t) if t > 0 => Some(t),
                        _ => {
                            cx.err(e.line, &f, format!("`{t}` is not a port (1-65535)"));
                            None
                        }
                    })
                }
                "published" => {
                    if let Some(p) = cx.text(&e.value, &f) {
                        match port_range(&p) {
                            Ok((a, b)) if a == b => published = Some(a),
                            Ok(_) => cx.err(
                                e.line,
                                &f,
                                "a published range needs the short syntax (e.g. \"8000-8001:80-81\")",
                            ),
                            Err(m) => cx.err(e.line, &f, m),
                        }
                    }
                }
                "protocol" => protocol = cx.one_of(&e.value, &f, &["tcp", "udp", "sctp"]).unwrap_or(protocol),
                "mode" => {
                    if cx.one_of(&e.value, &f, &["host", "ingress"]).as_deref() == Some("ingress") {
                        cx.warn(
                            e.line,
                            &f,
                            "`mode: ingress` is published in host mode: Berth has no routing mesh (no IPVS)",
                        );
                    }
                }
                "host_ip" => {
                    if let Some(ip) = cx.text(&e.value, &f) {
                        cx.err(e.line, &f, host_ip_error(&ip));
                    }
                }
                "name" | "app_protocol" => {}
                k if k.starts_with("x-") => {}
                _ => cx.unknown_key(e, &f),
            }
        }
        return match target {
            Some(target) => vec![PortSpec { target, published, protocol }],
            None => {
                if !entries.iter().any(|e| e.key == "target") {
                    cx.err(n.line, field, "`target` (the container port) is required");
                }
                Vec::new()
            }
        };
    }
    let Some(s) = cx.text(n, field) else { return Vec::new() };
    cx.check(n.line, field, short_port(&s)).unwrap_or_default()
}

/// A host path or volume name as a mount source.
fn mount_source(cx: &mut Cx<'_>, src: &str, line: usize, field: &str, declared: &Declared) -> Option<MountSpec> {
    let m = |kind, source: String| Some(MountSpec { kind, source, target: String::new(), read_only: false });
    if src.starts_with('/') {
        return m(MountKind::Bind, values::normalise_path(src));
    }
    if src == "." || src == ".." || src.starts_with("./") || src.starts_with("../") {
        cx.err(
            line,
            field,
            format!("the relative path `{src}` has no meaning on swarm nodes: use an absolute path or a named volume"),
        );
        return None;
    }
    if src.starts_with('~') {
        cx.err(
            line,
            field,
            format!("`{src}`: home directories have no meaning on swarm nodes: use an absolute path or a named volume"),
        );
        return None;
    }
    let valid = src.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && src.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        cx.err(line, field, format!("`{src}` is neither an absolute path nor a volume name"));
        return None;
    }
    if !declared.volumes.contains(src) {
        cx.err(line, field, format!("volume `{src}` is not declared in the top-level `volumes:`"));
        return None;
    }
    m(MountKind::Volume, src.to_string())
}

fn check_target(cx: &mut Cx<'_>, target: &str, line: usize, field: &str) -> bool {
    if target.starts_with('/') {
        true
    } else {
        cx.err(line, field, format!("the container path `{target}` must be absolute"));
        false
    }
}

fn mount(cx: &mut Cx<'_>, n: &Node, field: &str, declared: &Declared) -> Option<MountSpec> {
    if let Kind::Map(entries) = &n.kind {
        return long_mount(cx, n, entries, field, declared);
    }
    let s = cx.text(n, field)?;
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, o] => (Some(*s), *t, *o),
        _ => {
            cx.err(n.line, field, format!("`{s}` is not a volume: write source:/container/path[:ro]"));
            return None;
        }
    };
    let mut read_only = false;
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" | "rprivate" | "private" | "rshared"
            | "shared" | "rslave" | "slave" => {}
            _ => {
                cx.err(n.line, field, format!("unknown volume option `{o}` (use ro or rw)"));
                return None;
            }
        }
    }
    if !check_target(cx, target, n.line, field) {
        return None;
    }
    let mut m = match source {
        None => MountSpec { kind: MountKind::Volume, source: String::new(), target: String::new(), read_only },
        Some(src) => mount_source(cx, src, n.line, field, declared)?,
    };
    m.target = target.to_string();
    m.read_only = read_only;
    Some(m)
}

fn long_mount(cx: &mut Cx<'_>, n: &Node, entries: &[Entry], field: &str, declared: &Declared) -> Option<MountSpec> {
    let (mut kind, mut source, mut target, mut read_only) = (None, None, None, false);
    for e in entries {
        let f = join(field, &e.key);
        match e.key.as_str() {
            "type" => {
                kind = Some((cx.one_of(&e.value, &f, &["volume", "bind", "tmpfs"])?, e.line));
            }
            "source" if e.value.is_bad() => return None,
            "source" => source = cx.text(&e.value, &f).map(|s| (s, e.line, f)),
            "target" => target = cx.required_text(&e.value, &f).map(|t| (t, e.line, f)),
            "read_only" => read_only = cx.boolean(&e.value, &f).unwrap_or(false),
            "bind" | "volume" | "tmpfs" | "consistency" => {
                let _ = cx.map(&e.value, &f);
            }
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    let Some((kind, _)) = kind else {
        cx.err(n.line, field, "`type` is required: volume, bind or tmpfs");
        return None;
    };
    let Some((target, tl, tf)) = target else {
        if !entries.iter().any(|e| e.key == "target") {
            cx.err(n.line, field, "`target` (the path in the container) is required");
        }
        return None;
    };
    if !check_target(cx, &target, tl, &tf) {
        return None;
    }
    let mut m = match (kind.as_str(), source) {
        ("tmpfs", _) => MountSpec { kind: MountKind::Tmpfs, source: String::new(), target, read_only },
        ("volume", None) => MountSpec { kind: MountKind::Volume, source: String::new(), target, read_only },
        (_, None) => {
            cx.err(n.line, field, "a bind mount needs `source` (an absolute path on the node)");
            return None;
        }
        (k, Some((src, sl, sf))) => {
            let m = mount_source(cx, &src, sl, &sf, declared)?;
            let wanted = if k == "bind" { MountKind::Bind } else { MountKind::Volume };
            if m.kind != wanted {
                let message = if k == "bind" {
                    format!("a bind mount's source must be an absolute path, not `{src}`")
                } else {
                    format!("a volume's source must be a volume name, not the path `{src}` (use type: bind)")
                };
                cx.err(sl, &sf, message);
                return None;
            }
            MountSpec { target, read_only, ..m }
        }
    };
    m.read_only = read_only;
    Some(m)
}

/// The names of a list of names (`networks: [a, b]`, `depends_on: [db]`), each with its line and field.
fn listed_names(cx: &mut Cx<'_>, items: &[Node], field: &str) -> Vec<(String, usize, String)> {
    let mut names = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(name) = cx.text(item, &f) {
            names.push((name, item.line, f));
        }
    }
    names
}

fn service_networks(
    cx: &mut Cx<'_>,
    n: &Node,
    field: &str,
    declared: &Declared,
    lines: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    match &n.kind {
        Kind::Seq(items) => names.extend(listed_names(cx, items, field)),
        _ => {
            for e in cx.map(n, field).unwrap_or_default() {
                let f = join(field, &e.key);
                for o in cx.map(&e.value, &f).unwrap_or_default() {
                    if !o.key.starts_with("x-") {
                        cx.warn(o.line, &join(&f, &o.key), format!("network option `{}` is ignored by Berth", o.key));
                    }
                }
                names.push((e.key.clone(), e.line, f));
            }
        }
    }
    for (name, line, f) in names {
        if name != "default" && !declared.networks.contains(&name) {
            cx.err(line, &f, format!("network `{name}` is not declared in the top-level `networks:`"));
        } else if !out.contains(&name) {
            lines.insert(format!("networks.{name}"), line);
            out.push(name);
        }
    }
    out
}

fn healthcheck(cx: &mut Cx<'_>, n: &Node, field: &str) -> Option<HealthSpec> {
    let mut h =
        HealthSpec { test: Vec::new(), interval_ns: None, timeout_ns: None, retries: None, start_period_ns: None };
    let mut disable = false;
    for e in cx.map(n, field)? {
        let f = join(field, &e.key);
        match e.key.as_str() {
            "test" => match &e.value.kind {
                Kind::Seq(_) => {
                    h.test = cx.strings(&e.value, &f);
                    if !h.test.is_empty() && !matches!(h.test[0].as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                        cx.err(e.value.line, &f, "a test list must start with CMD, CMD-SHELL or NONE");
                    }
                }
                _ => match cx.text(&e.value, &f) {
                    Some(t) if !t.trim().is_empty() => h.test = vec!["CMD-SHELL".to_string(), t],
                    _ if e.value.is_bad() => {}
                    _ => cx.err(e.line, &f, "the test is empty"),
                },
            },
            "interval" => h.interval_ns = cx.duration(&e.value, &f),
            "timeout" => h.timeout_ns = cx.duration(&e.value, &f),
            "start_period" => h.start_period_ns = cx.duration(&e.value, &f),
            "retries" => h.retries = cx.uint(&e.value, &f),
            "start_interval" => cx.warn(e.line, &f, "`start_interval` is ignored by swarm services"),
            "disable" => disable = cx.boolean(&e.value, &f).unwrap_or(false),
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
    if disable {
        h.test = vec!["NONE".to_string()];
    }
    Some(h)
}

fn file_refs(cx: &mut Cx<'_>, n: &Node, field: &str, declared: &BTreeSet<String>, what: &str) -> Vec<FileRef> {
    let mut out = Vec::new();
    for (i, item) in cx.list(n, field).unwrap_or_default().iter().enumerate() {
        let f = format!("{field}[{i}]");
        let (source, target) = match &item.kind {
            Kind::Map(entries) => {
                let (mut source, mut target) = (None, None);
                for e in entries {
                    let ef = join(&f, &e.key);
                    match e.key.as_str() {
                        "source" => source = cx.required_text(&e.value, &ef),
                        "target" => target = cx.text(&e.value, &ef),
                        "uid" | "gid" | "mode" => {}
                        k if k.starts_with("x-") => {}
                        _ => cx.unknown_key(e, &ef),
                    }
                }
                if source.is_none() && !entries.iter().any(|e| e.key == "source") {
                    cx.err(item.line, &f, "`source` is required");
                }
                (source, target)
            }
            _ => (cx.text(item, &f), None),
        };
        let Some(source) = source else { continue };
        if !declared.contains(&source) {
            cx.err(item.line, &f, format!("{what} `{source}` is not declared in the top-level `{what}s:`"));
            continue;
        }
        let target = match target {
            Some(t) if t.starts_with('/') => t,
            Some(t) if what == "secret" => format!("/run/secrets/{t}"),
            Some(t) => format!("/{t}"),
            None if what == "secret" => format!("/run/secrets/{source}"),
            None => format!("/{source}"),
        };
        out.push(FileRef { source, target });
    }
    out
}

fn depends_on(cx: &mut Cx<'_>, service: &str, n: &Node, field: &str, depends: &mut Vec<String>) {
    let mut names = Vec::new();
    match &n.kind {
        Kind::Seq(items) => names.extend(listed_names(cx, items, field)),
        _ => {
            for e in cx.map(n, field).unwrap_or_default() {
                let f = join(field, &e.key);
                for o in cx.map(&e.value, &f).unwrap_or_default() {
                    let of = join(&f, &o.key);
                    match o.key.as_str() {
                        "condition" => {
                            let _ = cx.one_of(
                                &o.value,
                                &of,
                                &["service_started", "service_healthy", "service_completed_successfully"],
                            );
                        }
                        "restart" | "required" => {
                            let _ = cx.boolean(&o.value, &of);
                        }
                        _ => cx.unknown_key(o, &of),
                    }
                }
                names.push((e.key.clone(), e.line, f));
            }
        }
    }
    for (name, line, f) in names {
        if !depends.contains(&name) {
            depends.push(name.clone());
        }
        cx.depends.push(DependsRef { service: service.to_string(), target: name, line, field: f });
    }
}

fn restart_v2(cx: &mut Cx<'_>, r: &str, line: usize, field: &str, restart: &mut RestartSpec) {
    match r {
        "no" => restart.condition = Some("none".to_string()),
        "always" | "unless-stopped" => restart.condition = Some("any".to_string()),
        "on-failure" => restart.condition = Some("on-failure".to_string()),
        _ => match r.strip_prefix("on-failure:").map(str::parse::<u64>) {
            Some(Ok(n)) => {
                restart.condition = Some("on-failure".to_string());
                restart.max_attempts = Some(n);
            }
            _ => cx.err(line, field, format!("restart `{r}` must be no, always, on-failure[:N] or unless-stopped")),
        },
    }
}

fn deploy_section(
    cx: &mut Cx<'_>,
    svc: &mut ServiceSpec,
    replicas: &mut Replicas,
    pids: &mut Pids,
    labels: &mut Vec<Pair>,
    n: &Node,
    field: &str,
) {
    for e in cx.map(n, field).unwrap_or_default() {
        let f = join(field, &e.key);
        let v = &e.value;
        match e.key.as_str() {
            "mode" => match cx.one_of(v, &f, &["replicated", "global", "replicated-job"]).as_deref() {
                Some("global") => replicas.global = Some((e.line, f)),
                Some("replicated-job") => replicas.job = Some((e.line, f)),
                _ => {}
            },
            "replicas" => replicas.deploy = cx.uint(v, &f).map(|n| (n, e.line, f)),
            "labels" => labels.extend(cx.pairs(v, &f).into_iter().filter(|p| !p.bad)),
            "resources" => {
                for r in cx.map(v, &f).unwrap_or_default() {
                    let rf = join(&f, &r.key);
                    let limits = match r.key.as_str() {
                        "limits" => true,
                        "reservations" => false,
                        _ => {
                            cx.unknown_key(r, &rf);
                            continue;
                        }
                    };
                    for x in cx.map(&r.value, &rf).unwrap_or_default() {
                        let xf = join(&rf, &x.key);
                        match (x.key.as_str(), limits) {
                            ("cpus", true) => svc.resources.limit_nano_cpus = cx.cpus(&x.value, &xf),
                            ("cpus", false) => svc.resources.reserve_nano_cpus = cx.cpus(&x.value, &xf),
                            ("memory", true) => svc.resources.limit_memory_bytes = cx.memory(&x.value, &xf),
                            ("memory", false) => svc.resources.reserve_memory_bytes = cx.memory(&x.value, &xf),
                            ("pids", true) => {
                                pids.deploy = container::pids(cx, &x.value, &xf).map(|p| (p, x.line, xf.clone()));
                            }
                            ("devices", false) => cx.err(
                                x.line,
                                &xf,
                                "device reservations are not supported: swarm services (API 1.41) cannot be given devices or GPUs",
                            ),
                            ("generic_resources", false) => {
                                cx.warn(x.line, &xf, format!("`{}` is ignored by Berth", x.key));
                            }
                            _ => cx.unknown_key(x, &xf),
                        }
                    }
                }
            }
            "placement" => {
                for p in cx.map(v, &f).unwrap_or_default() {
                    let pf = join(&f, &p.key);
                    match p.key.as_str() {
                        "constraints" => {
                            let items = cx.list(&p.value, &pf).unwrap_or_default();
                            for (i, item) in items.iter().enumerate() {
                                let cf = format!("{pf}[{i}]");
                                let Some(c) = cx.text(item, &cf) else { continue };
                                if c.contains("==") || c.contains("!=") {
                                    svc.placement.constraints.push(c);
                                } else {
                                    cx.err(item.line, &cf, format!("constraint `{c}` must compare with == or !="));
                                }
                            }
                        }
                        "preferences" => {
                            let items = cx.list(&p.value, &pf).unwrap_or_default();
                            for (i, item) in items.iter().enumerate() {
                                let cf = format!("{pf}[{i}]");
                                for s in cx.map(item, &cf).unwrap_or_default() {
                                    let sf = join(&cf, &s.key);
                                    if s.key == "spread" {
                                        if let Some(x) = cx.required_text(&s.value, &sf) {
                                            svc.placement.spread.push(x);
                                        }
                                    } else {
                                        cx.unknown_key(s, &sf);
                                    }
                                }
                            }
                        }
                        "max_replicas_per_node" => svc.placement.max_replicas_per_node = cx.uint(&p.value, &pf),
                        _ => cx.unknown_key(p, &pf),
                    }
                }
            }
            "update_config" => {
                for u in cx.map(v, &f).unwrap_or_default() {
                    let uf = join(&f, &u.key);
                    let x = &u.value;
                    match u.key.as_str() {
                        "parallelism" => svc.update.parallelism = cx.uint(x, &uf),
                        "delay" => svc.update.delay_ns = cx.duration(x, &uf),
                        "order" => svc.update.order = cx.one_of(x, &uf, &["stop-first", "start-first"]),
                        "failure_action" => {
                            svc.update.failure_action = cx.one_of(x, &uf, &["pause", "continue", "rollback"])
                        }
                        "monitor" => svc.update.monitor_ns = cx.duration(x, &uf),
                        "max_failure_ratio" => {}
                        _ => cx.unknown_key(u, &uf),
                    }
                }
            }
            "rollback_config" => {
                cx.warn(e.line, &f, "rollback_config is ignored: Berth rolls back by redeploying the previous version")
            }
            "restart_policy" => {
                for r in cx.map(v, &f).unwrap_or_default() {
                    let rf = join(&f, &r.key);
                    let x = &r.value;
                    match r.key.as_str() {
                        "condition" => svc.restart.condition = cx.one_of(x, &rf, &["none", "on-failure", "any"]),
                        "delay" => svc.restart.delay_ns = cx.duration(x, &rf),
                        "max_attempts" => svc.restart.max_attempts = cx.uint(x, &rf),
                        "window" => svc.restart.window_ns = cx.duration(x, &rf),
                        _ => cx.unknown_key(r, &rf),
                    }
                }
            }
            "endpoint_mode" => {
                if cx.one_of(v, &f, &["vip", "dnsrr"]).as_deref() == Some("vip") {
                    cx.warn(e.line, &f, "endpoint_mode vip is not used: Berth uses dnsrr (no IPVS on these nodes)");
                }
            }
            k if k.starts_with("x-") => {}
            _ => cx.unknown_key(e, &f),
        }
    }
}

/// The checks that need every service: dependency targets and cycles, port collisions.
fn check_app(cx: &mut Cx<'_>, spec: &AppSpec) {
    let depends = std::mem::take(&mut cx.depends);
    for d in &depends {
        if !spec.services.contains_key(&d.target) {
            cx.err(d.line, &d.field, format!("`{}` is not a service of this template", d.target));
        } else if d.target == d.service {
            cx.err(d.line, &d.field, format!("service `{}` depends on itself", d.service));
        }
    }
    // Depth-first search for cycles; each cycle is reported once, at the first service in it.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let mut reported = BTreeSet::new();
    for start in spec.services.keys() {
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        state.insert(start, 1);
        while let Some((node, i)) = stack.last().copied() {
            let deps = spec.services.get(node).map(|s| s.ext.depends.as_slice()).unwrap_or_default();
            if i >= deps.len() {
                state.insert(node, 2);
                stack.pop();
                continue;
            }
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let next = deps[i].as_str();
            if next == node || !spec.services.contains_key(next) {
                continue;
            }
            match state.get(next).copied().unwrap_or(0) {
                0 => {
                    state.insert(next, 1);
                    stack.push((next, 0));
                }
                1 => {
                    let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                    let key: BTreeSet<&str> = cycle.iter().copied().collect();
                    if reported.insert(key.into_iter().collect::<Vec<_>>().join(",")) {
                        cycle.push(next);
                        let line = spec.services.get(next).map_or(0, |s| s.line);
                        cx.err(line, &format!("services.{next}"), format!("dependency cycle: {}", cycle.join(" → ")));
                    }
                }
                _ => {}
            }
        }
    }
    let published = std::mem::take(&mut cx.published);
    let mut seen: HashMap<(u16, &str), &PublishedRef> = HashMap::new();
    for p in &published {
        if let Some(first) = seen.get(&(p.port, p.protocol.as_str())) {
            let by = if first.service == p.service {
                "this service".to_string()
            } else {
                format!("service `{}` (line {})", first.service, first.line)
            };
            cx.err(p.line, &p.field, format!("published port {}/{} is also published by {by}", p.port, p.protocol));
        } else {
            seen.insert((p.port, p.protocol.as_str()), p);
        }
    }
}
