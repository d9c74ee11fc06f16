//! The routers of a cluster: the system service `berth-routing_router` (berth-router, one task per
//! edge node, ports 80, 443, the admin port and the load balancers' front ports published on the
//! node), its image built offline from the berth-router binary and copied to the nodes like app
//! images, its admin certificate, and the loop that computes the cluster's table and pushes it.
//!
//! Push, not pull: Berth already reaches every node (it dials their engines), while routers would
//! need Berth's address and a way through to it. Each pass computes the table from the apps and the
//! running tasks (one task list for the whole cluster); the store raises the version only when the
//! content changed; routers that do not serve that version get it over mutual TLS, and every router
//! is asked again now and then, so one that restarted (it serves the table it kept on disk) or was
//! missed catches up.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use router::RouteTable;
use sha2::{Digest, Sha256};

use super::table::{self, ReleaseSide, RoutedService};
use crate::apps::plan::{is_routed, ROUTING_NETWORK};
use crate::clock::now_ms;
use crate::clusters::cluster::ownership;
use crate::engine::{Engine, Pushed, RouterAdmin, ServiceDeploy, TlsMaterial, VolumeUse, ROUTER_TLS_NAME};
use crate::error::{Error, Internal, Result};
use crate::store::{App, NewEvent, ReleaseRow, RouterRow, RoutingRow};
use crate::Berth;

/// The routers' swarm service, and the stack it is labelled with.
pub const ROUTER_SERVICE: &str = "berth-routing_router";
pub const ROUTER_STACK: &str = "berth-routing";
pub use crate::apps::plan::SYSTEM_LABEL;
/// The port Berth pushes tables to on every edge node.
pub const ADMIN_PORT: u16 = 9443;
/// The node label that makes a node an edge node when a cluster's admins choose edge nodes.
pub const EDGE_LABEL: &str = "berth.edge";
const IMAGE_REPO: &str = "berth/router";
/// A router is asked again at least this often, even when it said it serves the current table.
const RECHECK: Duration = Duration::from_secs(10);

/// An app's routed services: each service's name and extension labels.
pub(super) type RoutedSpecs = Vec<(String, compose::Extensions)>;

/// A routed service: app, service, extension labels, side in a release.
type RoutedEntry = (String, String, compose::Extensions, Option<ReleaseSide>);

/// What routing keeps between passes, per process.
#[derive(Default)]
pub struct RoutingState {
    loops: Mutex<HashMap<i64, tokio::task::JoinHandle<()>>>,
    image: tokio::sync::OnceCell<String>,
    admin: tokio::sync::OnceCell<RouterAdmin>,
    /// Each app's routed services by version (templates are parsed once).
    specs: Mutex<HashMap<(i64, i64), RoutedSpecs>>,
    /// Per cluster: what the routers' service was last made to match (spec digest and nodes).
    ensured: Mutex<HashMap<i64, String>>,
    /// Per cluster and node: the version a router said it serves, and when.
    pushed: Mutex<HashMap<(i64, String), (u64, Instant)>>,
    /// Per cluster: the last table's digest and version (the store is written only on a change).
    versions: Mutex<HashMap<i64, (String, u64)>>,
    /// The routers' last metrics reads and when each cluster was last collected (`traffic.rs`).
    pub(super) traffic: Mutex<super::traffic::TrafficMemory>,
}

impl std::fmt::Debug for RoutingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoutingState")
    }
}

pub(crate) fn lock_loops(state: &RoutingState) -> std::sync::MutexGuard<'_, HashMap<i64, tokio::task::JoinHandle<()>>> {
    lock(&state.loops)
}

/// Forgets what this process remembers of a cluster's routing (another replica routes it now, and
/// may hand out versions meanwhile).
pub(crate) fn forget(state: &RoutingState, cluster_id: i64) {
    lock(&state.versions).remove(&cluster_id);
    lock(&state.ensured).remove(&cluster_id);
    lock(&state.pushed).retain(|(c, _), _| *c != cluster_id);
    lock(&state.traffic).forget(cluster_id);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn internal(what: impl std::fmt::Display) -> Error {
    Error::Internal(Internal::Other(what.to_string()))
}

/// A cluster's routing settings and secrets, opened.
pub(crate) struct Opened {
    pub(crate) row: RoutingRow,
    pub(crate) cookie_secret: String,
    pub(crate) router_key: String,
    pub(crate) default_key: String,
}

impl Berth {
    /// The cluster's routing row, created with fresh secrets (a sticky-cookie key, the routers'
    /// admin certificate) the first time.
    pub(crate) async fn routing_opened(&self, cluster_id: i64) -> Result<Opened> {
        let row = match self.store.routing(cluster_id).await? {
            Some(row) => row,
            None => {
                let sealer = self.sealer()?;
                let cookie = crate::secret::random_token()? + &crate::secret::random_token()?;
                let cookie = hex::encode(Sha256::digest(cookie.as_bytes()));
                let pki = self.pki().await?;
                let (from, until) = crate::clusters::pki::validity(3650);
                let issued = pki.issue_server(&[ROUTER_TLS_NAME.to_string()], from, until)?;
                let (cookie, key) = (sealer.seal(cookie.as_bytes())?, sealer.seal(issued.key.as_bytes())?);
                self.store.routing_init(cluster_id, &cookie, &issued.cert, &key, now_ms()).await?;
                self.store.routing(cluster_id).await?.ok_or_else(|| internal("the routing row was not created"))?
            }
        };
        let sealer = self.sealer()?;
        let row = if row.default_cert.is_empty() {
            let (cert, key) = super::certs::self_signed()?;
            self.store.routing_default_cert(cluster_id, &cert, &sealer.seal(key.as_bytes())?).await?;
            self.store.routing(cluster_id).await?.ok_or_else(|| internal("the routing row went away"))?
        } else {
            row
        };
        let open = |s: &str| -> Result<String> { Ok(String::from_utf8_lossy(&sealer.unseal(s)?).into_owned()) };
        Ok(Opened {
            cookie_secret: open(&row.cookie_secret)?,
            router_key: open(&row.router_key)?,
            default_key: open(&row.default_key)?,
            row,
        })
    }

    async fn router_admin(&self) -> Result<RouterAdmin> {
        self.routing
            .admin
            .get_or_try_init(|| async {
                let pki = self.pki().await?;
                let tls = TlsMaterial {
                    ca_pem: pki.ca_cert.clone(),
                    cert_pem: pki.client_cert.clone(),
                    key_pem: pki.client_key.clone(),
                };
                RouterAdmin::new(&tls).map_err(internal)
            })
            .await
            .cloned()
    }

    /// What the router at a node's `address` serves.
    pub(crate) async fn router_status(&self, _cluster_id: i64, address: &str) -> Result<router::Status> {
        let ip: std::net::IpAddr =
            address.parse().map_err(|_| internal(format!("{address:?} is not an IP address")))?;
        self.router_admin().await?.status(SocketAddr::new(ip, ADMIN_PORT)).await.map_err(internal)
    }

    /// The request counters of the router at a node's `address`.
    pub(crate) async fn router_metrics(&self, address: &str) -> Result<router::MetricsSnapshot> {
        let ip: std::net::IpAddr =
            address.parse().map_err(|_| internal(format!("{address:?} is not an IP address")))?;
        self.router_admin().await?.metrics(SocketAddr::new(ip, ADMIN_PORT)).await.map_err(internal)
    }

    /// The routers' image on the local engine, built from the berth-router binary the first time
    /// (tagged with the binary's digest, so a new binary is a new image).
    async fn router_image(&self) -> Result<String> {
        self.routing
            .image
            .get_or_try_init(|| async {
                let path = self.config.router_binary.clone().ok_or_else(|| {
                    Error::invalid(
                        "router_binary",
                        "Berth does not know where the berth-router binary is (set router_binary)",
                    )
                })?;
                let binary = tokio::fs::read(&path)
                    .await
                    .map_err(|e| Error::invalid("router_binary", format!("{}: {e}", path.display())))?;
                if binary.windows(10).take(4096).any(|w| w == b"ld-linux-x") {
                    return Err(Error::invalid(
                        "router_binary",
                        format!(
                            "{} is linked dynamically; build it static (--target x86_64-unknown-linux-musl)",
                            path.display()
                        ),
                    ));
                }
                let tag = hex::encode(&Sha256::digest(&binary)[..6]);
                let image = format!("{IMAGE_REPO}:{tag}");
                if self.engine.image_id(&image).await?.is_none() {
                    let rootfs = router_rootfs(&binary).map_err(internal)?;
                    let changes = vec![r#"ENTRYPOINT ["/usr/local/bin/berth-router"]"#.to_string()];
                    self.engine.import_rootfs(IMAGE_REPO, &tag, rootfs, changes).await?;
                }
                Ok(image)
            })
            .await
            .cloned()
    }

    /// One routing pass over a cluster: compute the table, make sure routers run when there is
    /// anything to route, get the table to every router.
    pub(crate) async fn route_pass(&self, cluster_id: i64) -> Result<()> {
        let (wanted, releases) = self.routed_services(cluster_id).await?;
        // A cluster that never routed anything costs one read per pass, no engine call.
        if wanted.is_empty() && self.store.routing(cluster_id).await?.is_none_or(|r| r.version == 0) {
            return Ok(());
        }
        let (_, manager) = self.reachable_manager(cluster_id).await?;
        let installation = self.installation().await?;
        let live = manager.services_labelled(&crate::clusters::cluster::owned_by(&installation, cluster_id)).await?;
        let router_live = live.iter().find(|s| s.name == ROUTER_SERVICE).cloned();
        if wanted.is_empty() && router_live.is_none() {
            return Ok(());
        }
        let opened = self.routing_opened(cluster_id).await?;
        let ids: HashMap<&str, &str> = live.iter().map(|s| (s.name.as_str(), s.id.as_str())).collect();
        let services: Vec<RoutedService> = wanted
            .into_iter()
            .filter_map(|(app, service, ext, side)| {
                let id = ids.get(format!("{app}_{service}").as_str())?.to_string();
                Some(RoutedService { app, service, service_id: id, ext, side })
            })
            .collect();
        let tasks = self.routed_tasks(cluster_id).await?;
        let (mut table, skipped) = table::build(&opened.row.root_domain, &opened.cookie_secret, &services, &tasks);
        table.certificates =
            self.table_certificates(cluster_id, (&opened.row.default_cert, &opened.default_key)).await?;
        for s in &skipped {
            tracing::debug!(cluster = cluster_id, app = %s.app, target = %s.target, why = %s.why, "not routed");
        }
        let digest = table::digest(&table);
        let known = lock(&self.routing.versions).get(&cluster_id).filter(|(d, _)| *d == digest).map(|(_, v)| *v);
        table.version = match known {
            Some(v) => v,
            None => {
                let v = self.store.routing_version(cluster_id, &digest, now_ms()).await? as u64;
                lock(&self.routing.versions).insert(cluster_id, (digest, v));
                v
            }
        };
        self.ensure_routers(cluster_id, &opened, &manager, &installation, &table).await?;
        self.push_table(cluster_id, &opened.row, &table).await?;
        // A release's weight is served once every router that answers serves this table.
        if releases.iter().any(|r| r.served_weight != r.weight) {
            let routers = self.store.routers(cluster_id).await?;
            let serving = routers.iter().filter(|r| r.error.is_empty()).all(|r| r.version >= table.version as i64);
            if serving {
                for r in releases.iter().filter(|r| r.served_weight != r.weight) {
                    self.store.release_served(r.id, r.weight).await?;
                }
            }
        }
        self.advance_releases(&releases).await
    }

    /// The tasks on the routing network, from every ready node at once; a node that does not
    /// answer contributes none (its tasks are unreachable for the routers too).
    async fn routed_tasks(&self, cluster_id: i64) -> Result<Vec<crate::engine::TaskAddress>> {
        let nodes: Vec<_> = self.store.nodes(cluster_id).await?.into_iter().filter(|n| n.state == "ready").collect();
        let mut engines = Vec::new();
        for n in &nodes {
            engines.push(self.node_engine(n).await?);
        }
        let lists = futures::future::join_all(engines.iter().map(|e| e.task_addresses(ROUTING_NETWORK))).await;
        Ok(lists.into_iter().filter_map(|l| l.ok()).flatten().collect())
    }

    /// Each deployed app's services that have routing or load-balancer labels, by app and service,
    /// with their side in a blue-green release; and the cluster's open releases. In a release the
    /// old side comes from the version it runs, the new side from the version released, the rest
    /// from the app's current version.
    async fn routed_services(&self, cluster_id: i64) -> Result<(Vec<RoutedEntry>, Vec<ReleaseRow>)> {
        let apps = self.store.apps(Some(cluster_id)).await?;
        // A cluster without apps has no release: its pass stays one read.
        let releases = if apps.is_empty() { Vec::new() } else { self.store.releases_open(cluster_id).await? };
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for app in apps.iter().filter(|a| a.status != "deleting") {
            let release = releases.iter().find(|r| r.app_id == app.id);
            let Some(current) = self.routed_specs(app, app.version, &mut keep).await else { continue };
            let Some(r) = release else {
                out.extend(current.into_iter().map(|(name, ext)| (app.name.clone(), name, ext, None)));
                continue;
            };
            let pairs = r.pairs();
            let weight = r.weight.clamp(0, 100) as u32;
            let in_pair = |name: &str| pairs.iter().any(|(o, n)| o == name || n == name);
            out.extend(
                current
                    .into_iter()
                    .filter(|(name, _)| !in_pair(name))
                    .map(|(name, ext)| (app.name.clone(), name, ext, None)),
            );
            for (version, old) in [(r.from_version, true), (r.to_version, false)] {
                let Some(specs) = self.routed_specs(app, version, &mut keep).await else { continue };
                let side = ReleaseSide { old, weight: if old { 100 - weight } else { weight } };
                for (name, ext) in specs {
                    if pairs.iter().any(|(o, n)| if old { o == &name } else { n == &name }) {
                        out.push((app.name.clone(), name, ext, Some(side)));
                    }
                }
            }
        }
        lock(&self.routing.specs).retain(|key, _| keep.contains(key) || !apps.iter().any(|a| a.id == key.0));
        Ok((out, releases))
    }

    /// An app's routed services at one version (None when the version does not read).
    pub(super) async fn routed_specs(
        &self,
        app: &App,
        version: i64,
        keep: &mut Vec<(i64, i64)>,
    ) -> Option<RoutedSpecs> {
        keep.push((app.id, version));
        if let Some(s) = lock(&self.routing.specs).get(&(app.id, version)) {
            return Some(s.clone());
        }
        let read = async {
            let v = self
                .store
                .app_version(app.id, version)
                .await?
                .ok_or_else(|| Error::NotFound(format!("version {version}")))?;
            self.parse_compose(&v.compose, &self.open_vars(&v)?).await.map(|p| p.spec)
        };
        let spec = match read.await {
            Ok(spec) => spec,
            Err(e) => {
                tracing::debug!(app = %app.name, version, error = %e, "the app's template does not read; not routed");
                return None;
            }
        };
        let s: RoutedSpecs =
            spec.services.iter().filter(|(_, s)| is_routed(s)).map(|(n, s)| (n.clone(), s.ext.clone())).collect();
        lock(&self.routing.specs).insert((app.id, version), s.clone());
        Some(s)
    }

    /// Makes the routers' service match what the table needs (the image on every node, the admin
    /// certificate as secrets, the front ports published), doing nothing when it already does.
    async fn ensure_routers(
        &self,
        cluster_id: i64,
        opened: &Opened,
        manager: &Engine,
        installation: &str,
        table: &RouteTable,
    ) -> Result<()> {
        let image = self.router_image().await?;
        let nodes: Vec<_> = self.store.nodes(cluster_id).await?.into_iter().filter(|n| n.state == "ready").collect();
        let pki = self.pki().await?;
        let files = [
            ("berth-router-ca.pem", pki.ca_cert.clone()),
            ("berth-router-cert.pem", opened.row.router_cert.clone()),
            ("berth-router-key.pem", opened.router_key.clone()),
        ];
        let secrets: Vec<(String, String, String)> = files
            .iter()
            .map(|(target, content)| {
                let hash = hex::encode(&Sha256::digest(content.as_bytes())[..4]);
                (
                    format!("{ROUTER_STACK}_{}-{hash}", target.trim_end_matches(".pem")),
                    target.to_string(),
                    content.clone(),
                )
            })
            .collect();
        let mut front: Vec<u16> = table.tcp.iter().map(|t| t.port).collect();
        front.sort_unstable();
        let deploy =
            router_deploy(&image, ownership(installation, cluster_id), &secrets, opened.row.edge_label == 1, &front);
        let mut node_ids: Vec<&str> = nodes.iter().map(|n| n.swarm_node_id.as_str()).collect();
        node_ids.sort_unstable();
        let spec_digest = hex::encode(Sha256::digest(format!("{:?}|{node_ids:?}", deploy.spec).as_bytes()));
        if lock(&self.routing.ensured).get(&cluster_id) == Some(&spec_digest) {
            return Ok(());
        }
        for n in &nodes {
            let engine = self.node_engine(n).await?;
            if engine.image_id(&image).await?.is_none() {
                self.engine.copy_image_to(&image, &engine).await?;
            }
        }
        for (name, _, content) in &secrets {
            manager.swarm_file_create(false, name, content.as_bytes(), &deploy.labels).await?;
        }
        manager.overlay_create(ROUTING_NETWORK, &ownership(installation, cluster_id), false).await?;
        let ids = manager.ids().await?;
        let mut deploy = deploy;
        deploy.labels.insert("berth.routing.spec".into(), spec_digest[..16].to_string());
        let (verb, result) = match manager.service(ROUTER_SERVICE).await? {
            Some(live) if live.labels.get("berth.routing.spec") == deploy.labels.get("berth.routing.spec") => {
                ("", Ok(()))
            }
            Some(_) => ("updated", manager.service_update(&deploy, &ids, false).await),
            None => ("started", manager.service_create(&deploy, &ids).await.map(drop)),
        };
        result?;
        if !verb.is_empty() {
            let event = NewEvent {
                cluster_id,
                ts: now_ms(),
                kind: "routing".into(),
                action: verb.into(),
                app: ROUTER_STACK.into(),
                service: "router".into(),
                subject: ROUTER_SERVICE.into(),
                severity: "info",
                message: format!("routers {verb} on the edge nodes ({image})"),
            };
            self.store.event_insert(&[event]).await?;
        }
        lock(&self.routing.ensured).insert(cluster_id, spec_digest);
        Ok(())
    }

    /// Sends the table to every edge node's router that does not serve it (or was not asked for a
    /// while), all at once, and records what each said.
    async fn push_table(&self, cluster_id: i64, row: &RoutingRow, table: &RouteTable) -> Result<()> {
        let admin = self.router_admin().await?;
        let edge_only = row.edge_label == 1;
        let nodes: Vec<_> = self
            .store
            .nodes(cluster_id)
            .await?
            .into_iter()
            .filter(|n| n.state == "ready")
            .filter(|n| !edge_only || n.labels().get(EDGE_LABEL).is_some_and(|v| v == "true"))
            .collect();
        let due: Vec<_> = nodes
            .iter()
            .filter(|n| {
                let pushed = lock(&self.routing.pushed);
                !matches!(pushed.get(&(cluster_id, n.name.clone())), Some((v, at)) if *v == table.version && at.elapsed() < RECHECK)
            })
            .collect();
        let pushes = due.iter().map(|n| {
            let admin = admin.clone();
            async move {
                let addr = n.address.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, ADMIN_PORT));
                let answer = match addr {
                    Ok(addr) => admin.push(addr, table).await,
                    Err(_) => Err(format!("the node's address {:?} is not an IP address", n.address)),
                };
                (n, answer)
            }
        });
        for (n, answer) in futures::future::join_all(pushes).await {
            let (version, error) = match answer {
                Ok(Pushed::Serving(v)) | Ok(Pushed::Newer(v)) => (v, String::new()),
                Ok(Pushed::Refused(why)) => (0, format!("refused the table: {}", why.join("; "))),
                Err(e) => (0, e),
            };
            if error.is_empty() {
                lock(&self.routing.pushed).insert((cluster_id, n.name.clone()), (version, Instant::now()));
            } else {
                lock(&self.routing.pushed).remove(&(cluster_id, n.name.clone()));
            }
            let seen = RouterRow {
                cluster_id,
                node: n.name.clone(),
                address: n.address.clone(),
                version: version as i64,
                error,
                seen_at: now_ms(),
            };
            self.store.router_seen(&seen).await?;
        }
        let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        self.store.routers_keep(cluster_id, &names).await
    }
}

/// The routers' service: global (or on edge nodes), host-published ports, the routing network, the
/// admin certificate as secrets, a volume per node for the kept table.
fn router_deploy(
    image: &str,
    mut labels: BTreeMap<String, String>,
    secrets: &[(String, String, String)],
    edge_only: bool,
    front_ports: &[u16],
) -> ServiceDeploy {
    labels.insert(SYSTEM_LABEL.into(), "routing".into());
    let port = |p: u16| compose::PortSpec { target: p, published: Some(p), protocol: "tcp".into() };
    let mut ports = vec![port(80), port(443), port(ADMIN_PORT)];
    ports.extend(front_ports.iter().map(|&p| port(p)));
    let spec = compose::ServiceSpec {
        image: image.to_string(),
        environment: BTreeMap::from([
            ("BERTH_ROUTER_TLS_DIR".to_string(), "/run/secrets".to_string()),
            ("BERTH_ROUTER_STATE".to_string(), "/var/lib/berth-router/table.json".to_string()),
            // mimalloc (the binary's allocator) hands freed memory back at once: ~4 MB less RSS
            // after load for a few % of throughput (the router bench).
            ("MIMALLOC_PURGE_DELAY".to_string(), "0".to_string()),
        ]),
        ports,
        mounts: vec![compose::MountSpec {
            kind: compose::MountKind::Volume,
            source: "state".into(),
            target: "/var/lib/berth-router".into(),
            read_only: false,
        }],
        mode: compose::Mode::Global,
        placement: compose::Placement {
            constraints: if edge_only { vec![format!("node.labels.{EDGE_LABEL}==true")] } else { Vec::new() },
            ..Default::default()
        },
        restart: compose::RestartSpec {
            condition: Some("any".into()),
            delay_ns: Some(1_000_000_000),
            ..Default::default()
        },
        stop_grace_period_ns: Some(15_000_000_000),
        secrets: secrets
            .iter()
            .map(|(_, target, _)| compose::FileRef { source: target.clone(), target: target.clone() })
            .collect(),
        ..Default::default()
    };
    ServiceDeploy {
        name: ROUTER_SERVICE.into(),
        alias: "router".into(),
        stack: ROUTER_STACK.into(),
        spec,
        labels,
        networks: vec![ROUTING_NETWORK.into()],
        secrets: secrets.iter().map(|(name, target, _)| (name.clone(), target.clone())).collect(),
        configs: Vec::new(),
        volumes: BTreeMap::from([(
            "state".to_string(),
            VolumeUse { name: format!("{ROUTER_STACK}_state"), driver: None, options: BTreeMap::new() },
        )]),
    }
}

/// The image's root filesystem: the static binary and the directories it writes to.
fn router_rootfs(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    use tar::{EntryType, Header};
    let mut tar = tar::Builder::new(Vec::new());
    for dir in ["etc", "run", "tmp", "usr", "usr/local", "usr/local/bin", "var", "var/lib", "var/lib/berth-router"] {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        tar.append_data(&mut h, dir, std::io::empty())?;
    }
    let mut h = Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(binary.len() as u64);
    tar.append_data(&mut h, "usr/local/bin/berth-router", binary)?;
    for (path, content) in
        [("etc/passwd", "root:x:0:0:root:/:/usr/local/bin/berth-router\n"), ("etc/group", "root:x:0:\n")]
    {
        let mut h = Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        tar.append_data(&mut h, path, content.as_bytes())?;
    }
    tar.into_inner()
}

/// The routers' service spec as Berth makes it, for tests of the spec without an engine.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routers_service_is_global_publishes_its_ports_and_joins_the_routing_network() {
        let secrets = vec![("berth-routing_ca-1234".to_string(), "berth-router-ca.pem".to_string(), "pem".to_string())];
        let d = router_deploy("berth/router:abc", BTreeMap::new(), &secrets, true, &[15432]);
        assert_eq!(d.spec.mode, compose::Mode::Global);
        let ports: Vec<(u16, Option<u16>)> = d.spec.ports.iter().map(|p| (p.target, p.published)).collect();
        assert_eq!(ports, [(80, Some(80)), (443, Some(443)), (9443, Some(9443)), (15432, Some(15432))]);
        assert_eq!(d.networks, [ROUTING_NETWORK]);
        assert_eq!(d.spec.placement.constraints, ["node.labels.berth.edge==true"]);
        assert_eq!(d.secrets, [("berth-routing_ca-1234".to_string(), "berth-router-ca.pem".to_string())]);
        assert_eq!(d.labels[SYSTEM_LABEL], "routing");
        let all = router_deploy("i", BTreeMap::new(), &secrets, false, &[]);
        assert!(all.spec.placement.constraints.is_empty(), "every node by default");
    }

    #[test]
    fn the_image_holds_the_binary_where_the_entrypoint_looks() {
        let tar = router_rootfs(b"\x7fELF static").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        assert!(names.contains(&"usr/local/bin/berth-router".to_string()), "{names:?}");
        assert!(
            names.contains(&"var/lib/berth-router".to_string()) || names.contains(&"var/lib/berth-router/".to_string())
        );
    }
}
