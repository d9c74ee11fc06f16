//! Test support (feature `testing`): a fresh database on each backend, so store and domain tests are
//! written once and run on SQLite and PostgreSQL; and a Berth on the local engine ([`TestBerth`]) with
//! a one- or three-node local cluster ([`TestCluster`]) whose containers, networks and volumes go when
//! it is dropped, also when the test panics ([`LocalClusterGuard`]).
//!
//! PostgreSQL tests need `TEST_POSTGRES_URL` (a role that may create databases, e.g.
//! `postgres://berth:berth@127.0.0.1:5432/postgres`). Without it they are skipped with a note, unless
//! `TEST_REQUIRE_POSTGRES=1` (set by the test script and CI), which turns the skip into a failure.

use sqlx::{AnyConnection, Connection, Executor};

use crate::store::Store;

/// A database that exists only for one test.
pub struct TestDb {
    pub url: String,
    /// For PostgreSQL: the server URL and the database name, to drop it afterwards.
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("berth.db").display());
        TestDb { url, postgres: None, _dir: Some(dir) }
    }

    /// A new, empty PostgreSQL database, or `None` when no server is configured.
    #[allow(clippy::print_stderr)] // the skip note, shown with --nocapture
    pub async fn postgres() -> Option<TestDb> {
        let Ok(server) = std::env::var("TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("TEST_REQUIRE_POSTGRES").is_err(),
                "TEST_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not"
            );
            eprintln!("note: TEST_POSTGRES_URL is not set; skipping the PostgreSQL variant");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("berth_test_{}", crate::access::bootstrap::random_token().expect("random")[..16].to_owned());
        let mut conn = AnyConnection::connect(&server).await.expect("connect to TEST_POSTGRES_URL");
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        conn.close().await.ok();
        let (base, _) = server.rsplit_once('/').expect("TEST_POSTGRES_URL ends with /database");
        Some(TestDb { url: format!("{base}/{name}"), postgres: Some((server, name)), _dir: None })
    }

    /// Opens the store (applying migrations).
    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open the test store")
    }

    /// Drops a PostgreSQL test database (SQLite files go with the temporary directory).
    pub async fn remove(self) {
        if let Some((server, name)) = &self.postgres {
            if let Ok(mut conn) = AnyConnection::connect(server).await {
                let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
            }
        }
    }
}

/// Runs an async test body (a function taking a [`Store`]) once on SQLite and once on PostgreSQL,
/// as two tests named `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! store_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite();
                super::$body(db.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::testing::TestDb::postgres().await else { return };
                let store = db.open().await;
                super::$body(store.clone()).await;
                store.close().await;
                db.remove().await;
            }
        }
    };
}

/// Builds the default node image on the local engine if it is missing (tests start hosts with it).
pub async fn ensure_node_image(berth: &crate::Berth) {
    berth.ensure_node_image().await.expect("the node image");
}

impl crate::Berth {
    /// The TLS material Berth uses with hosts, for tests that talk to them directly.
    pub async fn tls_material_for_tests(&self) -> crate::engine::TlsMaterial {
        self.tls_material().await.expect("tls material")
    }

    /// `side_window` (crate-private: the release logic's), for tests.
    pub async fn side_window_for_tests(
        &self,
        cluster_id: i64,
        route_or_app: &str,
        side: &str,
        since_ms: i64,
    ) -> crate::Result<Option<crate::route::Window>> {
        self.side_window(cluster_id, route_or_app, side, since_ms).await
    }
}

/// Builds a tiny image `tag` on the local engine without a registry: busybox-static with the given
/// applets (plus `sh`), and `files` (path in the image → contents; scripts made executable).
/// Concurrent test binaries may build the same tag at once: `docker import` of identical contents
/// is harmless.
pub fn busybox_image_with(tag: &str, applets: &[&str], files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static is installed");
    for applet in applets.iter().chain(&["sh"]) {
        let link = bin.join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link).expect("applet link");
        }
    }
    for (path, contents) in files {
        let file = dir.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("a directory")).expect("directory");
        std::fs::write(&file, contents).expect("file");
        if contents.starts_with("#!") {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("mode");
        }
    }
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("tar -C {} -c . | docker import - {tag} >/dev/null", dir.path().display()))
        .status()
        .expect("docker import");
    assert!(status.success(), "docker import {tag}");
}

/// [`busybox_image_with`] without extra files.
pub fn busybox_image(tag: &str, applets: &[&str]) {
    busybox_image_with(tag, applets, &[]);
}

/// The actor the test support acts as: the first admin, as the domain's tests name it.
pub fn admin() -> crate::Actor {
    crate::Actor {
        principal: crate::Principal::User(crate::UserRef::admin(1, "admin")),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    }
}

/// The configuration tests start a Berth with: the local engine, and `data` as the data directory.
pub fn local_config(data: &std::path::Path) -> crate::Config {
    let engine = crate::engine::Endpoint::parse("unix:///var/run/docker.sock").expect("the local engine's socket");
    let mut config = crate::Config::new(engine);
    config.data_dir = data.to_path_buf();
    config.router_binary = Some(router_binary());
    config
}

/// The target the routers' static binary is built for.
pub const ROUTER_TARGET: &str = "x86_64-unknown-linux-musl";

/// The static berth-router binary for tests' routers: `BERTH_ROUTER_BIN` if set, else the
/// workspace's debug build for [`ROUTER_TARGET`], brought up to date once per test process (cargo
/// does nothing when it is; `scripts/test` builds it before the tests and sets the variable).
pub fn router_binary() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Ok(p) = std::env::var("BERTH_ROUTER_BIN") {
                return p.into();
            }
            let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
            let target = std::env::var("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or(workspace.join("target"));
            let path = target.join(ROUTER_TARGET).join("debug").join("berth-router");
            {
                let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .args(["build", "-p", "router", "--bin", "berth-router", "--target", ROUTER_TARGET])
                    .env("CC_x86_64_unknown_linux_musl", "musl-gcc")
                    .current_dir(&workspace)
                    .status()
                    .expect("cargo runs");
                assert!(status.success(), "building berth-router for {ROUTER_TARGET} (rustup target add {ROUTER_TARGET}; apt install musl-tools)");
            }
            path
        })
        .clone()
}

/// A Berth on the local engine for one test: a fresh SQLite database and data directory, with
/// `tweak` applied to [`local_config`]. Fields drop in order: the Berth, then its database and files.
pub struct TestBerth {
    pub berth: crate::Berth,
    pub db: TestDb,
    pub data: tempfile::TempDir,
}

impl TestBerth {
    pub async fn new(tweak: impl FnOnce(&mut crate::Config)) -> TestBerth {
        let db = TestDb::sqlite();
        let data = tempfile::tempdir().expect("temporary directory");
        let mut config = local_config(data.path());
        tweak(&mut config);
        let berth = crate::Berth::new(db.open().await, config);
        TestBerth { berth, db, data }
    }
}

/// A busybox image a test's cluster needs on Berth's engine (see [`busybox_image_with`]).
#[derive(Clone, Debug)]
pub struct TestImage {
    pub tag: String,
    pub applets: Vec<String>,
    /// Path in the image → contents.
    pub files: Vec<(String, String)>,
}

impl TestImage {
    /// Imports the image on the local engine.
    pub fn build(&self) {
        let applets: Vec<&str> = self.applets.iter().map(String::as_str).collect();
        let files: Vec<(&str, &str)> = self.files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
        busybox_image_with(&self.tag, &applets, &files);
    }
}

/// What a test asks of its local cluster: [`ClusterOptions::one_node`] or
/// [`ClusterOptions::three_nodes`], then managers, zones and images.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub name: String,
    pub nodes: u32,
    pub managers: u32,
    pub zones: Vec<String>,
    /// Built on Berth's engine before the cluster is created (apps copy them onto the nodes).
    pub images: Vec<TestImage>,
}

impl ClusterOptions {
    /// One node, a manager, in the default zone.
    pub fn one_node(name: &str) -> ClusterOptions {
        ClusterOptions { name: name.into(), nodes: 1, managers: 1, zones: Vec::new(), images: Vec::new() }
    }

    /// Three nodes, one of them a manager, in the default zone.
    pub fn three_nodes(name: &str) -> ClusterOptions {
        ClusterOptions { nodes: 3, ..ClusterOptions::one_node(name) }
    }

    /// Any number of nodes (for a test that asks for something else than one or three).
    pub fn nodes(mut self, nodes: u32) -> ClusterOptions {
        self.nodes = nodes;
        self
    }

    pub fn managers(mut self, managers: u32) -> ClusterOptions {
        self.managers = managers;
        self
    }

    /// Zones the nodes are spread over, in turn.
    pub fn zones(mut self, zones: &[&str]) -> ClusterOptions {
        self.zones = zones.iter().map(|z| z.to_string()).collect();
        self
    }

    /// A busybox image with `applets` (plus `sh`), built before the cluster is created.
    pub fn image(self, tag: &str, applets: &[&str]) -> ClusterOptions {
        self.image_with(tag, applets, &[])
    }

    /// [`ClusterOptions::image`] with `files` (path in the image → contents).
    pub fn image_with(mut self, tag: &str, applets: &[&str], files: &[(&str, &str)]) -> ClusterOptions {
        self.images.push(TestImage {
            tag: tag.into(),
            applets: applets.iter().map(|a| a.to_string()).collect(),
            files: files.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect(),
        });
        self
    }

    /// The request the console would send.
    pub fn input(&self) -> crate::local::LocalClusterInput {
        crate::local::LocalClusterInput {
            name: self.name.clone(),
            nodes: self.nodes,
            managers: self.managers,
            zones: self.zones.clone(),
        }
    }
}

/// How long a test waits for a cluster's job.
const CLUSTER_JOB_PATIENCE: std::time::Duration = std::time::Duration::from_secs(240);

/// Waits for job `id` to end and returns it (a test failure after [`CLUSTER_JOB_PATIENCE`]).
pub async fn job_end(berth: &crate::Berth, id: i64) -> crate::job::Job {
    let deadline = std::time::Instant::now() + CLUSTER_JOB_PATIENCE;
    loop {
        let job = berth.job(&admin(), id).await.expect("the job");
        if job.status != "running" {
            return job;
        }
        assert!(std::time::Instant::now() < deadline, "job {id} still running: {:?}", job.steps());
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A local cluster made for one test through the real [`crate::Berth`] API, ready: the node image is
/// ensured, the options' images built, the creation job succeeded. A test may delete it the usual way
/// (`delete_cluster`, and assert nothing is left); whatever is still there when the value is dropped
/// — also when the test panics — is removed by its [`LocalClusterGuard`].
pub struct TestCluster {
    pub id: i64,
    pub name: String,
    /// The creation job, succeeded.
    pub job: crate::job::Job,
    /// The cluster and its nodes as they are once the creation succeeded.
    pub summary: crate::cluster::ClusterSummary,
    pub guard: LocalClusterGuard,
}

impl TestCluster {
    /// Creates the cluster `options` asks for on `berth` (as [`admin`]) and waits until it is ready.
    pub async fn create(berth: &crate::Berth, options: ClusterOptions) -> TestCluster {
        for image in &options.images {
            image.build();
        }
        ensure_node_image(berth).await;
        let admin = admin();
        let job = berth.create_local_cluster(&admin, &options.input()).await.expect("the cluster's creation starts");
        // The guard exists before the job ends, so a creation that never finishes leaves nothing either.
        let id = berth.job(&admin, job).await.expect("the creation job").cluster_id.expect("the job's cluster");
        let guard = LocalClusterGuard::new(&berth.installation().await.expect("the installation id"), id);
        let job = job_end(berth, job).await;
        assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
        let summary = berth.cluster(&admin, id).await.expect("the new cluster");
        TestCluster { id, name: summary.cluster.name.clone(), job, summary, guard }
    }

    /// The node named `name` (`n1`, `n2`, …) as it was once the cluster was ready.
    pub fn node(&self, name: &str) -> &crate::node::Node {
        self.summary.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name} in {}", self.name))
    }

    /// Copies image `tag` from Berth's engine onto every node (`docker save | docker load`), for
    /// tasks a test starts with the Docker CLI; apps Berth deploys copy their images themselves.
    pub fn load_image(&self, tag: &str) {
        for node in &self.summary.nodes {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("docker save {tag} | docker -H {} load -q", node.endpoint))
                .status()
                .expect("docker save | docker load");
            assert!(status.success(), "loading {tag} onto {}", node.name);
        }
    }
}

/// Removes a local cluster's node containers (with their volumes) and networks from the local
/// engine when dropped — also while a test panics — synchronously with the docker CLI. It finds
/// them by the labels the local provider puts on everything it makes (`berth.installation` and
/// `berth.cluster`, both), so other clusters, also other tests' on the same engine, are left
/// alone. Nothing left (the test deleted the cluster) is nothing to do. It never panics.
#[derive(Debug)]
pub struct LocalClusterGuard {
    installation: String,
    cluster: i64,
}

impl LocalClusterGuard {
    pub fn new(installation: &str, cluster: i64) -> LocalClusterGuard {
        LocalClusterGuard { installation: installation.into(), cluster }
    }

    /// The guard of the cluster that job `job` (a cluster's creation) makes, read from the database
    /// `db` of a Berth running in another process.
    pub async fn of_job(db: &TestDb, job: i64) -> LocalClusterGuard {
        let store = db.open().await;
        let installation = store.setting(crate::clusters::cluster::INSTALLATION).await.expect("read the settings");
        let cluster = store.job(job).await.expect("read the job").and_then(|j| j.cluster_id);
        store.close().await;
        LocalClusterGuard::new(&installation.expect("the installation has an id"), cluster.expect("the job's cluster"))
    }

    /// The `--filter` arguments that select this cluster's things.
    fn filters(&self) -> [String; 4] {
        [
            "--filter".into(),
            format!("label=berth.installation={}", self.installation),
            "--filter".into(),
            format!("label=berth.cluster={}", self.cluster),
        ]
    }

    /// The ids of this cluster's containers (`ps`) or networks (`network ls`) that still exist.
    pub fn leftovers(&self, what: &[&str]) -> Vec<String> {
        let out = std::process::Command::new("docker").args(what).arg("-q").args(self.filters()).output();
        match out {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Removes what is left of the cluster now; returns how many containers and networks it removed.
    /// Errors are ignored: this runs while tests unwind.
    pub fn remove_now(&self) -> (usize, usize) {
        let quiet = |args: &[&str], ids: &[String]| {
            if !ids.is_empty() {
                let _ = std::process::Command::new("docker")
                    .args(args)
                    .args(ids)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        };
        // `-v`: a node's engine keeps its state in an anonymous volume (the node image's VOLUME).
        let containers = self.leftovers(&["ps", "-a"]);
        quiet(&["rm", "-f", "-v"], &containers);
        let networks = self.leftovers(&["network", "ls"]);
        quiet(&["network", "rm"], &networks);
        let volumes = self.leftovers(&["volume", "ls"]);
        quiet(&["volume", "rm", "-f"], &volumes);
        (containers.len(), networks.len())
    }
}

impl Drop for LocalClusterGuard {
    #[allow(clippy::print_stderr)] // shown with the failing test's output
    fn drop(&mut self) {
        let (containers, networks) = self.remove_now();
        if containers + networks > 0 {
            eprintln!(
                "note: removed {containers} container(s) and {networks} network(s) left by cluster {} of installation {}",
                self.cluster, self.installation
            );
        }
    }
}
