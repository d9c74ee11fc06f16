//! The table a router serves, compiled for lookups: routes by host with the longest context path
//! first, the certificates by name, the cookie key. A `Live` is built off to the side from a checked
//! table and swapped in whole (`Router::apply`), so a request sees one table from start to end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ring::hmac;
use rustls::sign::CertifiedKey;

use crate::health::Health;
use crate::metrics::{Metrics, SideMetrics};
use crate::pick;
use crate::table::{self, Backend, Refusal, Route, RouteTable};

pub struct Live {
    pub table: Arc<RouteTable>,
    hosts: HashMap<String, Vec<Arc<LiveRoute>>>,
    pub certs: HashMap<String, Arc<CertifiedKey>>,
    pub default_cert: Option<Arc<CertifiedKey>>,
    cookie_key: Option<hmac::Key>,
}

pub struct LiveRoute {
    pub route: Route,
    path: String,
    pub sides: Vec<LiveSide>,
    /// The sides' weights, in order (what the weighted pick reads).
    weights: Vec<u32>,
    wrr: Mutex<Vec<i64>>,
}

pub struct LiveSide {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<Backend>,
    /// Each backend's address as a URI authority, made once per table rather than per request.
    pub authorities: Vec<hyper::http::uri::Authority>,
    next: AtomicUsize,
    pub metrics: Arc<SideMetrics>,
}

/// The backend a request goes to and the side it belongs to.
pub struct Picked<'a> {
    pub side: &'a LiveSide,
    pub backend: &'a Backend,
    pub authority: &'a hyper::http::uri::Authority,
}

impl Live {
    pub fn empty() -> Live {
        Live {
            table: Arc::default(),
            hosts: HashMap::new(),
            certs: HashMap::new(),
            default_cert: None,
            cookie_key: None,
        }
    }

    /// Compiles a table, or says why it cannot be served (including certificates that do not parse).
    pub fn compile(table: RouteTable, reserved: &[u16], metrics: &Metrics) -> Result<Live, Vec<Refusal>> {
        let mut refusals = table.check(reserved);
        let mut certs = HashMap::new();
        let mut default_cert = None;
        for (i, c) in table.certificates.iter().enumerate() {
            match crate::tls::certified_key(&c.cert_pem, &c.key_pem) {
                Ok(key) => {
                    let key = Arc::new(key);
                    for h in &c.hosts {
                        certs.insert(h.clone(), key.clone());
                    }
                    if c.default {
                        default_cert = Some(key);
                    }
                }
                Err(e) => refusals.push(Refusal { field: format!("certificates[{i}]"), message: e }),
            }
        }
        if !refusals.is_empty() {
            return Err(refusals);
        }
        let cookie_key = table::secret_bytes(&table.cookie_secret).map(|k| hmac::Key::new(hmac::HMAC_SHA256, &k));
        let mut hosts: HashMap<String, Vec<Arc<LiveRoute>>> = HashMap::new();
        for route in &table.routes {
            let sides = route
                .sides
                .iter()
                .map(|s| LiveSide {
                    name: s.name.clone(),
                    weight: s.weight,
                    authorities: s
                        .backends
                        .iter()
                        .map(|b| b.addr.to_string().parse().expect("a socket address is a URI authority"))
                        .collect(),
                    backends: s.backends.clone(),
                    next: AtomicUsize::new(0),
                    metrics: metrics.side(&route.id, &s.name),
                })
                .collect::<Vec<_>>();
            let live = LiveRoute {
                route: route.clone(),
                path: table::normal_path(&route.path).to_owned(),
                wrr: Mutex::new(vec![0; sides.len()]),
                weights: sides.iter().map(|s| s.weight).collect(),
                sides,
            };
            hosts.entry(route.host.clone()).or_default().push(Arc::new(live));
        }
        for routes in hosts.values_mut() {
            routes.sort_by_key(|r| std::cmp::Reverse(r.path.len()));
        }
        Ok(Live { table: Arc::new(table), hosts, certs, default_cert, cookie_key })
    }

    /// The route for a request: exact host, then the longest context path that holds the path.
    pub fn route(&self, host: &str, path: &str) -> Option<&Arc<LiveRoute>> {
        self.hosts.get(host)?.iter().find(|r| table::path_matches(&r.path, path))
    }

    /// The cookie value that sends a client back to `backend` on `route`: the task id and a MAC over
    /// route and task, so a client cannot write a cookie that names another backend.
    pub fn sticky_value(&self, route: &LiveRoute, backend: &Backend) -> Option<String> {
        let key = self.cookie_key.as_ref()?;
        let tag = hmac::sign(key, format!("{}\n{}", route.route.id, backend.id).as_bytes());
        Some(format!("{}.{}", backend.id, hex(&tag.as_ref()[..16])))
    }

    /// The backend a sticky cookie names, if its MAC holds.
    fn sticky_target<'v>(&self, route: &LiveRoute, value: &'v str) -> Option<&'v str> {
        let key = self.cookie_key.as_ref()?;
        let (id, mac) = value.rsplit_once('.')?;
        let want = table::unhex(mac)?;
        let full = hmac::sign(key, format!("{}\n{}", route.route.id, id).as_bytes());
        // Constant-time comparison of the truncated tag.
        let ok = want.len() == 16 && ring_eq(&full.as_ref()[..16], &want);
        ok.then_some(id)
    }
}

impl LiveRoute {
    /// Picks a backend: the one a valid sticky cookie names while it serves and its side has weight,
    /// else by weight between the sides and round robin within one. Unusable backends (ejected,
    /// failing their probe, or in `avoid`) are skipped.
    pub fn pick<'a>(
        &'a self,
        live: &Live,
        health: &Health,
        cookie: Option<&str>,
        avoid: &[&Backend],
    ) -> Option<Picked<'a>> {
        let usable = |b: &Backend| !avoid.contains(&b) && health.usable(b);
        if let Some(id) = cookie.and_then(|c| live.sticky_target(self, c)) {
            for side in self.sides.iter().filter(|s| s.weight > 0) {
                if let Some(j) = side.backends.iter().position(|b| b.id == id && usable(b)) {
                    return Some(Picked { side, backend: &side.backends[j], authority: &side.authorities[j] });
                }
            }
        }
        let i = if self.sides.len() == 1 {
            // One side (every route outside a release): no weighted pick, no lock.
            (self.weights[0] > 0 && self.sides[0].backends.iter().any(usable)).then_some(0)?
        } else {
            let mut current = self.wrr.lock().unwrap_or_else(|e| e.into_inner());
            pick::smooth_wrr(&mut current, &self.weights, |i| self.sides[i].backends.iter().any(usable))?
        };
        let side = &self.sides[i];
        let start = side.next.fetch_add(1, Ordering::Relaxed);
        let j = pick::round_robin(side.backends.len(), start, |j| usable(&side.backends[j]))?;
        Some(Picked { side, backend: &side.backends[j], authority: &side.authorities[j] })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
