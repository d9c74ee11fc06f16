//! The workload policy: an allow-list of what callers without the privileged-workload permission
//! may deploy. A container that can reach the node's files, devices, namespaces or engine owns the
//! node, and with it every other app on it; so whatever is not explicitly allowed here is refused,
//! and what is allowed depends on the [`Allowances`] a cluster admin has granted (host directories
//! and external networks). Admins skip the check altogether (the caller decides).
//!
//! Paths are compared lexically after normalisation (`//`, `.`, `..` and trailing `/` resolved),
//! component by component, so that `/srv/data` covers `/srv/data/x` but not `/srv/database`, and
//! `/srv/data/../../etc` is `/etc`.

use serde::{Deserialize, Serialize};

use crate::spec::{AppSpec, MountKind, ServiceSpec, Violation, VolumeSpec};
use crate::values::normalise_path;

/// What a cluster admin allows non-admins on that cluster, beyond the app's own objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Allowances {
    /// Host directories that may be bind-mounted (with everything under them).
    #[serde(default)]
    pub paths: Vec<HostPath>,
    /// External networks services may join, by exact name.
    #[serde(default)]
    pub networks: Vec<String>,
}

/// A host directory that may be bind-mounted, read-only unless `read_write`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostPath {
    pub path: String,
    #[serde(default)]
    pub read_write: bool,
}

/// Kernel file systems: binding any part of them hands over the node (`/proc/1/root` is the host's
/// root, `/proc/self/root/...` reaches any file, `/sys` and `/dev` reach the hardware), whatever an
/// admin has allowed.
const NEVER_PATHS: &[&str] = &["/proc", "/sys", "/dev"];

/// The engine's own networks: joining them leaves the app's isolation (or uses the node's stack).
const ENGINE_NETWORKS: &[&str] = &["host", "bridge", "none", "ingress", "docker_gwbridge"];

/// Docker's default capability set: adding one of these changes nothing unless the service also
/// drops them, so it is allowed.
const DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// The kernel parameters Docker accepts because they are namespaced (they change the container's
/// own IPC or network namespace, not the node); `fs.mqueue.*` and `net.*` are prefixes.
const NAMESPACED_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Log drivers that keep logs on the node; the others run with the node's addresses and
/// credentials (cloud drivers use the node's own cloud identity).
const LOG_DRIVERS: &[&str] = &["json-file", "local", "none"];

/// File systems the `local` volume driver may mount: network shares and memory, never a node's
/// disk (`ext4`, `xfs`, … of a `/dev/...` device).
const VOLUME_TYPES: &[&str] = &["nfs", "nfs4", "cifs", "tmpfs"];

/// The `security_opt` values allowed: they only take privileges away.
const SECURITY_OPTS: &[&str] = &["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"];

/// Checks and normalises what a cluster admin enters: paths absolute, printable, without `..`,
/// not `/` and not under `/proc`, `/sys` or `/dev`; networks valid names and not one of the
/// engine's own. Duplicates are merged (a path is read-write if any of its entries is).
/// `Err` names the entry (`paths[1]`, `networks[0]`) and says what is wrong.
pub fn validate_allowances(a: &Allowances) -> Result<Allowances, (String, String)> {
    let mut out = Allowances::default();
    for (i, p) in a.paths.iter().enumerate() {
        let path = allowance_path(&p.path).map_err(|m| (format!("paths[{i}]"), m))?;
        match out.paths.iter_mut().find(|x| x.path == path) {
            Some(x) => x.read_write |= p.read_write,
            None => out.paths.push(HostPath { path, read_write: p.read_write }),
        }
    }
    for (i, n) in a.networks.iter().enumerate() {
        let name = n.trim();
        let valid = name.len() <= 255
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid {
            let message = format!(
                "`{}` is not a network name: letters, digits, `_`, `.` and `-`, starting with a letter or digit",
                n.escape_debug()
            );
            return Err((format!("networks[{i}]"), message));
        }
        if let Some(engine) = engine_network(name) {
            let message = format!("`{name}` is the engine's `{engine}` network: it can never be allowed");
            return Err((format!("networks[{i}]"), message));
        }
        if !out.networks.iter().any(|x| x == name) {
            out.networks.push(name.to_string());
        }
    }
    Ok(out)
}

/// One allowance path, normalised, or why it cannot be allowed.
fn allowance_path(raw: &str) -> Result<String, String> {
    let p = raw.trim();
    if !printable(p) {
        return Err(format!("`{}` has characters other than printable ASCII", p.escape_debug()));
    }
    if !p.starts_with('/') {
        return Err(format!("`{p}` is not an absolute path (it must start with `/`)"));
    }
    if p.split('/').any(|c| c == "..") {
        return Err(format!("`{p}` contains `..`: write the directory itself"));
    }
    let path = normalise_path(p);
    if path == "/" {
        return Err("`/` would allow the whole node".to_string());
    }
    if let Some(root) = never(&path) {
        return Err(format!("`{path}` is under `{root}`, which can never be allowed"));
    }
    Ok(path)
}

/// Printable ASCII only: NUL, newlines and other control or invisible characters could make the
/// path the engine opens differ from the one checked here.
fn printable(p: &str) -> bool {
    p.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// A host path as written, and what it resolves to when that differs (`/srv/../etc` is `/etc`).
fn shown(raw: &str) -> String {
    let path = normalise_path(raw);
    if printable(raw) && raw.starts_with('/') && path != raw {
        format!("`{raw}` (that is `{path}`)")
    } else {
        format!("`{}`", raw.escape_debug())
    }
}

/// `path` (normalised) equal to or under `dir` (normalised), component-wise.
fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

fn never(path: &str) -> Option<&'static str> {
    NEVER_PATHS.iter().copied().find(|root| under(path, root))
}

/// The engine network an external name stands for, by any spelling (case, surrounding spaces or
/// invisible characters).
fn engine_network(name: &str) -> Option<&'static str> {
    let n: String = name
        .chars()
        .filter(|c| !(c.is_whitespace() || c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{feff}')))
        .collect::<String>()
        .to_lowercase();
    ENGINE_NETWORKS.iter().copied().find(|e| *e == n)
}

/// The allowances the policy trusts: entries that fail [`validate_allowances`]'s checks are
/// ignored, so that an unchecked `/` cannot allow the whole node.
struct Allowed<'a> {
    paths: Vec<(String, bool)>,
    networks: &'a [String],
}

impl Allowed<'_> {
    fn describe_paths(&self) -> String {
        if self.paths.is_empty() {
            return "none".to_string();
        }
        let rw = |w: bool| if w { "read-write" } else { "read-only" };
        self.paths.iter().map(|(p, w)| format!("`{p}` ({})", rw(*w))).collect::<Vec<_>>().join(", ")
    }

    fn describe_networks(&self) -> String {
        if self.networks.is_empty() {
            return "none".to_string();
        }
        self.networks.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }

    /// Whether a host path may be mounted; `Err` says why not (without naming the mount).
    fn host_path(&self, raw: &str, read_only: bool) -> Result<(), String> {
        if !printable(raw) {
            return Err("the path has characters other than printable ASCII".to_string());
        }
        if !raw.starts_with('/') {
            return Err("the path is not absolute".to_string());
        }
        // The parser stores bind sources normalised, so `..` only arrives in paths the node
        // resolves itself (a volume's `device`, specs built elsewhere), where it follows symbolic
        // links and can leave the directory that the lexical form stays in.
        if raw.split('/').any(|c| c == "..") {
            return Err(
                "the path contains `..`, which the node resolves through symbolic links: write the path without it"
                    .to_string(),
            );
        }
        let path = normalise_path(raw);
        if let Some(root) = never(&path) {
            return Err(format!("`{root}` is never allowed"));
        }
        let covering: Vec<&(String, bool)> = self.paths.iter().filter(|(dir, _)| under(&path, dir)).collect();
        if covering.is_empty() {
            return Err(format!(
                "not under a host directory allowed on this cluster (allowed: {})",
                self.describe_paths()
            ));
        }
        if !read_only && !covering.iter().any(|(_, rw)| *rw) {
            return Err(format!(
                "under `{}`, which is allowed read-only on this cluster: mount it read-only (`:ro` or `read_only: true`)",
                covering[0].0
            ));
        }
        Ok(())
    }

    /// Whether a named volume may be mounted; `Err` is the whole message.
    fn volume(&self, name: &str, v: &VolumeSpec, read_only: bool) -> Result<(), String> {
        if v.external.is_some() {
            // Existing volumes are inspected on the nodes by the caller.
            return Ok(());
        }
        if let Some(d) = v.driver.as_deref().filter(|d| *d != "local") {
            return Err(format!(
                "volume `{name}` uses the driver `{d}`: volume plugins run with full access to the node, so only admins may use them"
            ));
        }
        if v.driver_opts.is_empty() {
            return Ok(());
        }
        if let Some(k) = v.driver_opts.keys().find(|k| !matches!(k.as_str(), "type" | "o" | "device")) {
            return Err(format!(
                "volume `{name}` sets the driver option `{k}`: only `type`, `o` and `device` are allowed"
            ));
        }
        let options: Vec<&str> =
            v.driver_opts.get("o").map(|o| o.split(',').map(str::trim).collect()).unwrap_or_default();
        let device = v.driver_opts.get("device");
        if options.iter().any(|o| matches!(*o, "bind" | "rbind")) {
            let Some(device) = device else {
                return Err(format!("volume `{name}` is a bind mount without `device`"));
            };
            let read_only = read_only || options.contains(&"ro");
            return self
                .host_path(device, read_only)
                .map_err(|why| format!("volume `{name}` binds {} from the node: {why}", shown(device)));
        }
        match v.driver_opts.get("type") {
            Some(t) if VOLUME_TYPES.contains(&t.as_str()) => Ok(()),
            t => {
                let what = match (t, device) {
                    (Some(t), Some(d)) => format!("a `{t}` file system from `{d}`"),
                    (Some(t), None) => format!("a `{t}` file system"),
                    (None, Some(d)) => format!("`{d}`"),
                    (None, None) => "a file system".to_string(),
                };
                Err(format!(
                    "volume `{name}` mounts {what} on the node: only nfs, nfs4, cifs and tmpfs volumes, and binds of allowed host directories, are allowed"
                ))
            }
        }
    }
}

pub fn violations(spec: &AppSpec, allow: &Allowances) -> Vec<Violation> {
    let allowed = Allowed {
        paths: allow
            .paths
            .iter()
            .filter_map(|p| allowance_path(&p.path).ok().map(|path| (path, p.read_write)))
            .collect(),
        networks: &allow.networks,
    };
    let mut out = Vec::new();
    for (name, s) in &spec.services {
        let mut add = |field: String, message: String| {
            let line = s.lines.get(&field).copied().unwrap_or(s.line);
            out.push(Violation { service: name.clone(), field, line, message });
        };
        escape_surface(s, &mut add);
        for (i, m) in s.mounts.iter().enumerate() {
            let verdict = match m.kind {
                MountKind::Bind => allowed
                    .host_path(&m.source, m.read_only)
                    .map_err(|why| format!("bind mount of {}: {why}", shown(&m.source))),
                MountKind::Volume if !m.source.is_empty() => match spec.volumes.get(&m.source) {
                    Some(v) => allowed.volume(&m.source, v, m.read_only),
                    // Not declared (a spec built elsewhere): the engine creates a plain local volume.
                    None => Ok(()),
                },
                MountKind::Volume | MountKind::Tmpfs => Ok(()),
            };
            if let Err(message) = verdict {
                add(format!("volumes[{i}]"), message);
            }
        }
        if s.network_mode.is_none() {
            let default = ["default".to_string()];
            let joined = if s.networks.is_empty() { &default[..] } else { &s.networks[..] };
            for key in joined {
                let Some(external) = spec.networks.get(key).and_then(|n| n.external.as_deref()) else {
                    // The app's own network, created for it.
                    continue;
                };
                let external = if external.is_empty() { key.as_str() } else { external };
                let shown = external.escape_debug();
                let message = if let Some(engine) = engine_network(external) {
                    format!("external network `{shown}` is the engine's {engine} network: never allowed")
                } else if allowed.networks.iter().any(|n| n == external) {
                    continue;
                } else {
                    format!(
                        "external network `{shown}` is not allowed on this cluster (allowed: {})",
                        allowed.describe_networks()
                    )
                };
                add(format!("networks.{key}"), message);
            }
        }
    }
    out
}

/// Everything but mounts and networks: privileges, host namespaces, devices, capabilities,
/// confinement, kernel parameters, log drivers, isolation.
fn escape_surface(s: &ServiceSpec, add: &mut impl FnMut(String, String)) {
    if s.privileged {
        add("privileged".into(), "privileged containers have full access to the node".into());
    }
    for (key, value) in
        [("pid", &s.pid), ("ipc", &s.ipc), ("uts", &s.uts), ("userns_mode", &s.userns_mode), ("cgroup", &s.cgroup)]
    {
        let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) else { continue };
        let message = match (key, v.trim()) {
            ("pid", "host") => "`pid: host` sees and can signal every process on the node".to_string(),
            ("ipc", "host") => "`ipc: host` shares the node's shared memory and message queues".to_string(),
            ("uts", "host") => "`uts: host` can change the node's host name".to_string(),
            ("userns_mode", "host") => "`userns_mode: host` turns off user-namespace remapping".to_string(),
            ("cgroup", "host") => "`cgroup: host` sees and changes the node's cgroups".to_string(),
            _ => format!(
                "`{key}: {}` joins a namespace other than the container's own: only admins may set `{key}`",
                v.escape_debug()
            ),
        };
        add(key.into(), message);
    }
    match s.network_mode.as_deref() {
        None => {}
        Some("host") => {
            add("network_mode".into(), "`network_mode: host` uses the node's network stack directly".into())
        }
        Some(m) => add(
            "network_mode".into(),
            format!("`network_mode: {}`: only admins may set network_mode (use the app's networks)", m.escape_debug()),
        ),
    }
    for (i, d) in s.devices.iter().enumerate() {
        add(
            format!("devices[{i}]"),
            format!("device `{}` gives direct access to the node's hardware", d.escape_debug()),
        );
    }
    for (i, c) in s.cap_add.iter().enumerate() {
        let norm = c.trim().to_ascii_uppercase();
        let norm = norm.strip_prefix("CAP_").unwrap_or(&norm);
        if DEFAULT_CAPS.contains(&norm) {
            continue;
        }
        let message = if norm == "ALL" {
            "`ALL` adds every capability, which is as much as privileged".to_string()
        } else {
            format!("capability `{}` is not in Docker's default set: only admins may add it", c.escape_debug())
        };
        add(format!("cap_add[{i}]"), message);
    }
    for (i, o) in s.security_opt.iter().enumerate() {
        if SECURITY_OPTS.contains(&o.trim()) {
            continue;
        }
        let message = format!(
            "security option `{}` is not allowed: only `no-new-privileges` is (the others switch confinement off or change it)",
            o.escape_debug()
        );
        add(format!("security_opt[{i}]"), message);
    }
    for key in s.sysctls.keys() {
        let dotted = !key.is_empty()
            && key.split('.').all(|c| {
                !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
            });
        let message = if !dotted {
            format!("`{}` is not a kernel parameter written with dots (e.g. net.core.somaxconn)", key.escape_debug())
        } else if NAMESPACED_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") || key.starts_with("net.")
        {
            continue;
        } else {
            format!("kernel parameter `{key}` is not namespaced: setting it changes the whole node")
        };
        add(format!("sysctls.{key}"), message);
    }
    if let Some(l) = &s.logging {
        if !l.driver.is_empty() && !LOG_DRIVERS.contains(&l.driver.as_str()) {
            let message = format!(
                "log driver `{}` is not allowed: only json-file, local and none (the others run with the node's addresses and credentials)",
                l.driver.escape_debug()
            );
            add("logging.driver".into(), message);
        }
    }
    if let Some(i) = s.isolation.as_deref().filter(|i| *i != "default") {
        add("isolation".into(), format!("`isolation: {}` is not allowed (only `default`)", i.escape_debug()));
    }
}
