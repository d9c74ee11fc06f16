//! A cluster's route table, computed from what its apps ask for (routing and load-balancer labels)
//! and the tasks that run: pure, so every rule is tested without a cluster.
//!
//! - `berth.routing.port_<n>: shop;a.example.com/api` routes `shop.<root domain>/` and
//!   `a.example.com/api` to port `n` of the service's running tasks (a task with a healthcheck is
//!   running only once healthy; with `berth.probe.url` on that port the router probes it too);
//! - `berth.lb.port_<n>: tcp://<balancer>:<front>` forwards TCP on the front port to port `n`;
//! - a route two apps claim goes to the first app by name, and the other claim is reported (deploys
//!   refuse such claims; this covers apps deployed before a rename of the root domain);
//! - in a blue-green release, a route both services of a pair claim has two sides, the old one
//!   first, weighted as the release says (a route only one side claims is that side's alone); a
//!   front port both claim stays with the old side until the release is confirmed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use router::table::{Backend, Route, RouteTable, Side, TcpRoute};

use crate::engine::TaskAddress;

/// A service of a deployed app as routing sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoutedService {
    /// The app (stack) and the service's name in it.
    pub app: String,
    pub service: String,
    /// The swarm service's id (tasks name their service by id).
    pub service_id: String,
    pub ext: compose::Extensions,
    /// In a blue-green release: which side of a pair the service is, and its share of the routes
    /// the pair shares.
    pub side: Option<ReleaseSide>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseSide {
    pub old: bool,
    pub weight: u32,
}

/// What went into a table that a person should hear about: a target that could not be routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub app: String,
    pub service: String,
    pub target: String,
    pub why: String,
}

/// The table for `services` with backends from `tasks` (version left 0: the store hands it out),
/// and what was left out.
pub fn build(
    root_domain: &str,
    cookie_secret: &str,
    services: &[RoutedService],
    tasks: &[TaskAddress],
) -> (RouteTable, Vec<Skipped>) {
    let mut by_service: HashMap<&str, Vec<&TaskAddress>> = HashMap::new();
    for t in tasks.iter().filter(|t| t.state == "running") {
        by_service.entry(t.service_id.as_str()).or_default().push(t);
    }
    let mut sorted: Vec<&RoutedService> = services.iter().collect();
    sorted.sort_by(|a, b| (&a.app, &a.service).cmp(&(&b.app, &b.service)));

    // Services in a release, by app and name (a pair is within one app).
    let released: HashMap<(&str, &str), ReleaseSide> =
        services.iter().filter_map(|s| Some(((s.app.as_str(), s.service.as_str()), s.side?))).collect();
    let mut skipped = Vec::new();
    let mut routes: BTreeMap<(String, String), (Route, String)> = BTreeMap::new();
    let mut tcp: BTreeMap<u16, (TcpRoute, String)> = BTreeMap::new();
    for s in sorted {
        let tasks = by_service.get(s.service_id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let backends = |port: u16| -> Vec<Backend> {
            let probe = probe_path(&s.ext, port);
            tasks
                .iter()
                .map(|t| Backend { id: t.task_id.clone(), addr: SocketAddr::new(t.ip, port), probe: probe.clone() })
                .collect()
        };
        for (&port, targets) in &s.ext.routing {
            for written in targets {
                let skip = |why: String| Skipped {
                    app: s.app.clone(),
                    service: s.service.clone(),
                    target: written.clone(),
                    why,
                };
                let target = match compose::routing_target(written) {
                    Ok(t) => t,
                    Err(why) => {
                        skipped.push(skip(why));
                        continue;
                    }
                };
                let Some(host) = crate::apps::plan::route_host(&target, root_domain) else {
                    skipped.push(skip("a prefix needs the cluster's root domain (set it on the Routing page)".into()));
                    continue;
                };
                let key = (host.clone(), target.path.clone());
                let side = Side { name: s.service.clone(), weight: 100, backends: backends(port) };
                if let Some((route, holder)) = routes.get_mut(&key) {
                    let theirs = (holder == &s.app && route.sides.len() == 1)
                        .then(|| released.get(&(s.app.as_str(), route.sides[0].name.as_str())))
                        .flatten();
                    let pair = match (theirs, s.side) {
                        (Some(t), Some(m)) if t.old != m.old => Some((*t, m)),
                        _ => None,
                    };
                    if let Some((theirs, mine)) = pair {
                        route.sides[0].weight = theirs.weight;
                        let side = Side { weight: mine.weight, ..side };
                        if mine.old {
                            route.id = format!("{}/{}:{port}", s.app, s.service);
                            route.sides.insert(0, side);
                        } else {
                            route.sides.push(side);
                        }
                        continue;
                    }
                    if holder != &s.app {
                        skipped.push(skip(format!("{host}{} is routed to app {holder}", target.path)));
                    } else {
                        skipped.push(skip(format!("{host}{} is routed twice in this app", target.path)));
                    }
                    continue;
                }
                let route = Route {
                    id: format!("{}/{}:{port}", s.app, s.service),
                    host,
                    path: target.path.clone(),
                    sticky: s.ext.session_sticky,
                    https_redirect: target.https,
                    sides: vec![side],
                };
                routes.insert(key, (route, s.app.clone()));
            }
        }
        for (&port, written) in &s.ext.lb {
            let target = match compose::lb_target(written) {
                Ok(t) => t,
                Err(why) => {
                    skipped.push(Skipped {
                        app: s.app.clone(),
                        service: s.service.clone(),
                        target: written.clone(),
                        why,
                    });
                    continue;
                }
            };
            if let Some((_, holder)) = tcp.get(&target.front_port) {
                if holder == &s.app && s.side.is_some_and(|x| x.old) {
                    // The old side keeps the front port until the release is confirmed.
                    let route = TcpRoute {
                        id: format!("{}/{}:{port}", s.app, s.service),
                        port: target.front_port,
                        backends: backends(port),
                    };
                    tcp.insert(target.front_port, (route, s.app.clone()));
                    continue;
                }
                let why = format!("front port {} of {} serves app {holder}", target.front_port, target.name);
                skipped.push(Skipped { app: s.app.clone(), service: s.service.clone(), target: written.clone(), why });
                continue;
            }
            let route = TcpRoute {
                id: format!("{}/{}:{port}", s.app, s.service),
                port: target.front_port,
                backends: backends(port),
            };
            tcp.insert(target.front_port, (route, s.app.clone()));
        }
    }
    let table = RouteTable {
        version: 0,
        routes: routes.into_values().map(|(r, _)| r).collect(),
        tcp: tcp.into_values().map(|(r, _)| r).collect(),
        certificates: Vec::new(),
        cookie_secret: cookie_secret.to_owned(),
    };
    (table, skipped)
}

/// The path of `berth.probe.url` when it probes the routed port over HTTP.
fn probe_path(ext: &compose::Extensions, port: u16) -> Option<String> {
    let url = ext.probe.as_ref()?.url.as_deref()?;
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let probe_port: u16 = authority.rsplit_once(':')?.1.parse().ok()?;
    (probe_port == port).then(|| if path.is_empty() { "/".to_owned() } else { path.to_owned() })
}

/// A digest of a table's content (its version aside): the store raises the version when it changes.
pub fn digest(table: &RouteTable) -> String {
    use sha2::{Digest, Sha256};
    let unversioned = RouteTable { version: 0, ..table.clone() };
    let bytes = serde_json::to_vec(&unversioned).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(app: &str, service: &str, routing: &[(u16, &str)], lb: &[(u16, &str)]) -> RoutedService {
        let mut ext = compose::Extensions::default();
        for (port, targets) in routing {
            ext.routing.insert(*port, targets.split(';').map(str::to_owned).collect());
        }
        for (port, v) in lb {
            ext.lb.insert(*port, (*v).to_owned());
        }
        RoutedService {
            app: app.into(),
            service: service.into(),
            service_id: format!("id-{app}-{service}"),
            ext,
            side: None,
        }
    }

    fn task(app: &str, service: &str, n: u8, state: &str) -> TaskAddress {
        TaskAddress {
            task_id: format!("t-{app}-{service}-{n}"),
            service_id: format!("id-{app}-{service}"),
            node_id: "n1".into(),
            state: state.into(),
            ip: [10, 0, 9, n].into(),
        }
    }

    #[test]
    fn labels_become_routes_with_running_tasks_as_backends() {
        let mut web = svc("shop", "web", &[(8080, "shop;www.example.com/api;https://pay.example.com")], &[]);
        web.ext.session_sticky = true;
        web.ext.probe = Some(compose::Probe {
            url: Some("http://container:8080/health".into()),
            cmd: None,
            initial_delay_ns: None,
            timeout_ns: None,
        });
        let db = svc("shop", "db", &[], &[(5432, "tcp://front:15432")]);
        let tasks = [
            task("shop", "web", 1, "running"),
            task("shop", "web", 2, "running"),
            task("shop", "web", 3, "starting"),
            task("shop", "db", 4, "running"),
        ];
        let (t, skipped) = build("c1.example", &"ab".repeat(32), &[web, db], &tasks);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert!(t.check(&[80, 443, 9443]).is_empty(), "{:?}", t.check(&[80, 443, 9443]));
        let hosts: Vec<(&str, &str, bool)> =
            t.routes.iter().map(|r| (r.host.as_str(), r.path.as_str(), r.https_redirect)).collect();
        assert_eq!(
            hosts,
            [("pay.example.com", "/", true), ("shop.c1.example", "/", false), ("www.example.com", "/api", false)]
        );
        let r = &t.routes[1];
        assert_eq!(r.id, "shop/web:8080");
        assert!(r.sticky);
        let addrs: Vec<String> = r.sides[0].backends.iter().map(|b| b.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.9.1:8080", "10.0.9.2:8080"], "only running tasks");
        assert_eq!(r.sides[0].backends[0].probe.as_deref(), Some("/health"));
        assert_eq!(t.tcp.len(), 1);
        assert_eq!((t.tcp[0].port, t.tcp[0].backends[0].addr.to_string()), (15432, "10.0.9.4:5432".into()));
    }

    #[test]
    fn conflicting_claims_go_to_the_first_app_and_are_reported() {
        let a = svc("alpha", "web", &[(80, "shop.example.com;shop")], &[(5000, "tcp://lb:7000")]);
        let b = svc("beta", "web", &[(80, "shop.example.com;other.example.com")], &[(5000, "tcp://lb:7000")]);
        let (t, skipped) = build("", "", &[b, a], &[]);
        let routes: Vec<(&str, &str)> = t.routes.iter().map(|r| (r.host.as_str(), r.id.as_str())).collect();
        assert_eq!(routes, [("other.example.com", "beta/web:80"), ("shop.example.com", "alpha/web:80")]);
        let why: Vec<(&str, &str)> = skipped.iter().map(|s| (s.app.as_str(), s.why.as_str())).collect();
        assert_eq!(
            why,
            [
                ("alpha", "a prefix needs the cluster's root domain (set it on the Routing page)"),
                ("beta", "shop.example.com/ is routed to app alpha"),
                ("beta", "front port 7000 of lb serves app alpha"),
            ]
        );
        assert_eq!(t.tcp[0].id, "alpha/web:5000");
    }

    #[test]
    fn a_release_splits_the_routes_a_pair_shares_between_its_sides() {
        let side = |old: bool, weight: u32| Some(ReleaseSide { old, weight });
        // The new service sorts before the old one: the old side still comes first, and names the route.
        let old = RoutedService {
            side: side(true, 75),
            ..svc("shop", "web", &[(80, "shop;legacy")], &[(80, "tcp://lb:7000")])
        };
        let new = RoutedService {
            side: side(false, 25),
            ..svc("shop", "a-web", &[(8080, "shop;fresh")], &[(8080, "tcp://lb:7000")])
        };
        let other = svc("zoo", "web", &[(80, "zoo")], &[]);
        let tasks = [task("shop", "web", 1, "running"), task("shop", "a-web", 2, "running")];
        let (t, skipped) = build("c.example", "", &[new, old, other], &tasks);
        assert!(skipped.is_empty(), "{skipped:?}");
        let shop = t.routes.iter().find(|r| r.host == "shop.c.example").unwrap();
        assert_eq!(shop.id, "shop/web:80");
        let sides: Vec<(&str, u32, String)> =
            shop.sides.iter().map(|s| (s.name.as_str(), s.weight, s.backends[0].addr.to_string())).collect();
        assert_eq!(sides, [("web", 75, "10.0.9.1:80".into()), ("a-web", 25, "10.0.9.2:8080".into())]);
        // A route only one side claims is that side's alone, at full weight.
        for (host, name) in [("legacy.c.example", "web"), ("fresh.c.example", "a-web")] {
            let r = t.routes.iter().find(|r| r.host == host).unwrap();
            assert_eq!((r.sides.len(), r.sides[0].name.as_str(), r.sides[0].weight), (1, name, 100));
        }
        // The front port stays with the old side.
        assert_eq!(
            (t.tcp[0].id.as_str(), t.tcp[0].backends[0].addr.to_string()),
            ("shop/web:80", "10.0.9.1:80".into())
        );
        assert!(t.check(&[80, 443, 9443]).is_empty(), "{:?}", t.check(&[80, 443, 9443]));
    }

    #[test]
    fn the_digest_ignores_the_version_and_follows_the_content() {
        let (mut t, _) =
            build("c.example", "", &[svc("a", "web", &[(80, "x")], &[])], &[task("a", "web", 1, "running")]);
        let d = digest(&t);
        t.version = 9;
        assert_eq!(digest(&t), d);
        t.routes[0].sides[0].backends.clear();
        assert_ne!(digest(&t), d);
    }
}
