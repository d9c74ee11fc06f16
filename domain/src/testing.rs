//! Test support (feature `testing`): a fresh database on each backend, so store and domain tests are
//! written once and run on SQLite and PostgreSQL.
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
