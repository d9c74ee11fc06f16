//! The route table: what Berth computes for a cluster and every router of it serves. A table is a
//! whole snapshot with a version; a router swaps the one it serves for a newer one in one step.
//!
//! This module is the contract between Berth and its routers, so it has no I/O and no proxy types:
//! Berth's domain builds and checks tables with the crate's `proxy` feature off.

use std::collections::HashSet;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The longest domain a route may name (RFC 1035's limit on a name's text form).
pub const MAX_HOST: usize = 253;
/// The longest context path, as the product Berth is modelled on has it.
pub const MAX_PATH: usize = 128;
/// A side's weight is a share, not a count: 0 (no new requests) to this.
pub const MAX_WEIGHT: u32 = 10_000;

/// One cluster's routes, versioned. Berth raises `version` on every change; a router refuses a table
/// older than the one it serves, so two Berth replicas pushing at once cannot move it backwards.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    pub version: u64,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub tcp: Vec<TcpRoute>,
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// The key the sticky cookies are signed with (hex, at least 32 bytes), the same on every router
    /// of the cluster so that a client keeps its backend whichever edge node it reaches.
    #[serde(default)]
    pub cookie_secret: String,
}

/// Requests for `host` whose path is `path` or below it go to one of the sides, by weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// What the route is called in metrics and status, e.g. `shop/web:80`.
    pub id: String,
    pub host: String,
    #[serde(default = "root_path")]
    pub path: String,
    /// Keep a client on the backend it first reached (a signed cookie naming the task).
    #[serde(default)]
    pub sticky: bool,
    /// Answer plain HTTP with a redirect to HTTPS.
    #[serde(default)]
    pub https_redirect: bool,
    pub sides: Vec<Side>,
}

fn root_path() -> String {
    "/".into()
}

/// One version of the service behind a route: in a blue-green release the old and the new side
/// share the route and the weights say how requests split between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<Backend>,
}

/// A task that serves a route: its id (what a sticky cookie names, so a cookie never follows a
/// recycled address) and its address on the routing network.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backend {
    pub id: String,
    pub addr: SocketAddr,
    /// A path the router asks itself before sending a backend requests (`berth.probe.url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
}

/// TCP on a front port forwarded to one of a service's tasks (a load balancer's port).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpRoute {
    pub id: String,
    pub port: u16,
    pub backends: Vec<Backend>,
}

/// A certificate and key (PEM) served for the hosts it names, chosen by SNI. One marked default is
/// served when no name matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub hosts: Vec<String>,
    pub cert_pem: String,
    pub key_pem: String,
    #[serde(default)]
    pub default: bool,
}

/// Why a table was refused: each entry names the route (by index and id) and the field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub field: String,
    pub message: String,
}

impl RouteTable {
    /// Every reason the table cannot be served, or none. `reserved` are the ports the router itself
    /// listens on, which a TCP route cannot take.
    pub fn check(&self, reserved: &[u16]) -> Vec<Refusal> {
        let mut out = Vec::new();
        let mut refuse = |field: String, message: String| out.push(Refusal { field, message });
        let mut seen = HashSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let at = format!("routes[{i}] ({})", route.id);
            if let Err(e) = check_host(&route.host) {
                refuse(format!("{at}.host"), e);
            }
            if let Err(e) = check_path(&route.path) {
                refuse(format!("{at}.path"), e);
            }
            if !seen.insert((route.host.clone(), normal_path(&route.path).to_owned())) {
                refuse(format!("{at}.path"), format!("{}{} is routed twice", route.host, route.path));
            }
            if route.sides.is_empty() {
                refuse(format!("{at}.sides"), "a route needs at least one side".into());
            }
            let mut names = HashSet::new();
            for (j, side) in route.sides.iter().enumerate() {
                if !names.insert(side.name.as_str()) {
                    refuse(format!("{at}.sides[{j}].name"), format!("side {} appears twice", side.name));
                }
                if side.weight > MAX_WEIGHT {
                    refuse(format!("{at}.sides[{j}].weight"), format!("at most {MAX_WEIGHT}"));
                }
                check_backends(&format!("{at}.sides[{j}]"), &side.backends, &mut refuse);
            }
            if route.sticky && secret_bytes(&self.cookie_secret).is_none() {
                refuse(format!("{at}.sticky"), "sticky routes need a cookie_secret of at least 32 bytes (hex)".into());
            }
        }
        let mut ports = HashSet::new();
        for (i, tcp) in self.tcp.iter().enumerate() {
            let at = format!("tcp[{i}] ({})", tcp.id);
            if tcp.port == 0 || reserved.contains(&tcp.port) {
                refuse(format!("{at}.port"), format!("port {} is not free for a TCP route", tcp.port));
            } else if !ports.insert(tcp.port) {
                refuse(format!("{at}.port"), format!("port {} is forwarded twice", tcp.port));
            }
            check_backends(&at, &tcp.backends, &mut refuse);
        }
        let mut defaults = 0;
        for (i, cert) in self.certificates.iter().enumerate() {
            defaults += usize::from(cert.default);
            for host in &cert.hosts {
                // A certificate may name `*.example.com`: every name one label below it.
                if let Err(e) = check_host(host.strip_prefix("*.").unwrap_or(host)) {
                    refuse(format!("certificates[{i}].hosts"), e);
                }
            }
            if cert.hosts.is_empty() && !cert.default {
                refuse(format!("certificates[{i}].hosts"), "a certificate names a host or is the default".into());
            }
        }
        if defaults > 1 {
            refuse("certificates".into(), "at most one default certificate".into());
        }
        out
    }
}

fn check_backends(at: &str, backends: &[Backend], refuse: &mut impl FnMut(String, String)) {
    for (k, b) in backends.iter().enumerate() {
        let ok = !b.id.is_empty()
            && b.id.len() <= 128
            && b.id.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !ok {
            refuse(format!("{at}.backends[{k}].id"), "1–128 letters, digits, '.', '_' or '-'".into());
        }
        if b.addr.port() == 0 {
            refuse(format!("{at}.backends[{k}].addr"), "a backend needs a port".into());
        }
        if let Some(p) = &b.probe {
            if let Err(e) = check_path(p) {
                refuse(format!("{at}.backends[{k}].probe"), e);
            }
        }
    }
}

/// The sticky-cookie key, if the text is hex of at least 32 bytes.
pub fn secret_bytes(hex: &str) -> Option<Vec<u8>> {
    unhex(hex).filter(|k| k.len() >= 32)
}

/// Bytes from lowercase or uppercase hex, or None if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// A host name as a route or a request may carry it: lowercase labels of letters, digits and
/// inner hyphens, separated by single dots (an allow-list: nothing else is a host here).
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > MAX_HOST {
        return Err(format!("a host of 1–{MAX_HOST} characters"));
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{host:?} is not a host name (lowercase letters, digits and inner '-', labels separated by '.')"
            ));
        }
    }
    Ok(())
}

/// A context path: `/`, or segments of unreserved characters, never `.` or `..` segments.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.len() > MAX_PATH + 1 {
        return Err(format!("a path starting with '/', at most {MAX_PATH} characters"));
    }
    let trimmed = normal_path(path);
    if trimmed == "/" {
        return Ok(());
    }
    for seg in trimmed[1..].split('/') {
        let ok = !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'));
        if !ok {
            return Err(format!("{path:?}: segments of letters, digits, '-', '.', '_' or '~'"));
        }
    }
    Ok(())
}

/// A context path without its trailing slash (`/api/` and `/api` are the same route).
pub fn normal_path(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        "/"
    } else {
        t
    }
}

/// Whether a request path falls under a route's context path: the path itself or below it at a
/// segment boundary (`/api` holds `/api` and `/api/x`, not `/apix`).
pub fn path_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_an_allow_list() {
        for ok in ["shop.example", "a", "x-1.b2.c", "127.0.0.1"] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Shop.example",
            "a..b",
            ".a",
            "a.",
            "-a.b",
            "a-.b",
            "a_b.c",
            "a b",
            "a:80",
            "ä.de",
            "a/b",
            "*.x",
            "a\u{0}b",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_host(&"a".repeat(64)).is_err());
        assert!(check_host(&["a"; 130].join(".")).is_err());
    }

    #[test]
    fn paths_are_an_allow_list_and_match_at_segments() {
        for ok in ["/", "/api", "/api/", "/a/b-c/d_e.f~"] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "api", "/a//b", "/a/../b", "/./a", "/a b", "/a%2e", "/a?x", "/a#x"] {
            assert!(check_path(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/api", "/api"));
        assert!(path_matches("/api", "/api/v1"));
        assert!(!path_matches("/api", "/apix"));
        assert!(!path_matches("/api", "/ap"));
    }

    fn backend(id: &str, port: u16) -> Backend {
        Backend { id: id.into(), addr: SocketAddr::from(([127, 0, 0, 1], port)), probe: None }
    }

    #[test]
    fn a_table_is_refused_naming_each_wrong_field() {
        let side = |name: &str, weight| Side { name: name.into(), weight, backends: vec![backend("t1", 80)] };
        let table = RouteTable {
            version: 1,
            routes: vec![
                Route {
                    id: "a".into(),
                    host: "shop.x".into(),
                    path: "/".into(),
                    sticky: true,
                    https_redirect: false,
                    sides: vec![side("v1", 1), side("v1", 20_000)],
                },
                Route {
                    id: "b".into(),
                    host: "shop.x".into(),
                    path: "//".into(),
                    sticky: false,
                    https_redirect: false,
                    sides: vec![],
                },
            ],
            tcp: vec![
                TcpRoute { id: "l".into(), port: 80, backends: vec![backend("bad id", 0)] },
                TcpRoute { id: "m".into(), port: 5000, backends: vec![] },
                TcpRoute { id: "n".into(), port: 5000, backends: vec![] },
            ],
            certificates: vec![],
            cookie_secret: "abc".into(),
        };
        let fields: Vec<String> = table.check(&[80, 443]).into_iter().map(|r| r.field).collect();
        assert_eq!(
            fields,
            [
                "routes[0] (a).sides[1].name",
                "routes[0] (a).sides[1].weight",
                "routes[0] (a).sticky",
                // "//" is "/" once normalised: the same route as routes[0].
                "routes[1] (b).path",
                "routes[1] (b).sides",
                "tcp[0] (l).port",
                "tcp[0] (l).backends[0].id",
                "tcp[0] (l).backends[0].addr",
                "tcp[2] (n).port",
            ]
        );
        let good = RouteTable { cookie_secret: "ab".repeat(32), ..Default::default() };
        assert!(good.check(&[]).is_empty());
    }
}
