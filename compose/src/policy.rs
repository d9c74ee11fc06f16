//! The workload policy: what only admins may deploy, because it gives a container power over the
//! node (and so over every other app on it).

use crate::spec::{AppSpec, MountKind, Violation};
use crate::values::normalise_path;

/// Host paths whose bind mount hands over the node: the root, the Docker socket, Docker's state,
/// and every directory that contains one of them.
const SENSITIVE: &[&str] = &["/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker"];

fn sensitive(source: &str) -> Option<&'static str> {
    let path = normalise_path(source);
    SENSITIVE.iter().copied().find(|s| {
        // An ancestor of a sensitive path (including `/`) or the path itself, or anything inside it.
        let inside = path.len() > s.len() && path.starts_with(s) && path.as_bytes()[s.len()] == b'/';
        path == *s || inside || path == "/" || s.starts_with(&format!("{path}/"))
    })
}

pub fn violations(spec: &AppSpec) -> Vec<Violation> {
    let mut out = Vec::new();
    for (name, s) in &spec.services {
        let mut add = |field: String, message: String| {
            let line = s.lines.get(&field).copied().unwrap_or(s.line);
            out.push(Violation { service: name.clone(), field, line, message });
        };
        if s.privileged {
            add("privileged".into(), "privileged containers have full access to the node".into());
        }
        if s.pid.as_deref() == Some("host") {
            add("pid".into(), "`pid: host` sees and can signal every process on the node".into());
        }
        if s.network_mode.as_deref() == Some("host") {
            add("network_mode".into(), "`network_mode: host` uses the node's network stack directly".into());
        }
        if !s.devices.is_empty() {
            add("devices".into(), format!("device access ({})", s.devices.join(", ")));
        }
        if !s.cap_add.is_empty() {
            add("cap_add".into(), format!("added capabilities ({})", s.cap_add.join(", ")));
        }
        for (i, m) in s.mounts.iter().enumerate() {
            if m.kind != MountKind::Bind {
                continue;
            }
            if let Some(what) = sensitive(&m.source) {
                let message = format!("bind mount of `{}` exposes `{what}`, which controls the node", m.source);
                add(format!("volumes[{i}]"), message);
            }
        }
    }
    out
}
