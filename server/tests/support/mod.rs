//! What the server's integration tests share: a server on port 0 against a fresh database, a
//! browser-like client, and the first admin.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use berth::{Server, Settings};
use domain::testing::TestDb;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Running {
    pub url: String,
    pub berth: domain::Berth,
    pub setup_link: Option<String>,
    pub stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(settings: Settings) -> Running {
        let server = Server::open(settings).await.expect("server opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let setup_link = server.bootstrap_link(addr);
        let berth = server.berth().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
        Running { url: format!("http://{addr}"), berth, setup_link, stop: Some(stop), done }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        // Bounded, so a shutdown that never ends fails the test instead of hanging the suite.
        tokio::time::timeout(std::time::Duration::from_secs(60), &mut self.done)
            .await
            .expect("the server did not stop within 60 s")
            .unwrap();
    }

    pub fn token(&self) -> String {
        self.setup_link.as_ref().expect("a setup link").rsplit_once("token=").unwrap().1.to_string()
    }
}

/// A server on a fresh SQLite database, with `tweak` applied to its settings.
pub struct Fixture {
    pub server: Running,
    pub browser: Browser,
    pub _db: TestDb,
    pub _data: tempfile::TempDir,
}

pub async fn fixture(tweak: impl FnOnce(&mut Settings)) -> Fixture {
    let db = TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let mut settings = settings(&db, data.path());
    tweak(&mut settings);
    let server = Running::start(settings).await;
    let browser = Browser::new(&server.url);
    Fixture { server, browser, _db: db, _data: data }
}

/// The first admin, as an actor, to read the history with.
pub async fn admin_actor(berth: &domain::Berth) -> domain::Actor {
    let auth = domain::session::SessionAuth { user_id: 1, signed_in_at: domain::clock::now_ms() };
    berth.resolve_actor(Some(auth), "test".into(), "test".into()).await.unwrap()
}

pub fn settings(db: &TestDb, data: &Path) -> Settings {
    Settings {
        data_dir: data.to_path_buf(),
        database_url: db.url.clone(),
        site_root: data.join("site"),
        ..Settings::default()
    }
}

/// A browser-like client: a cookie jar, no redirects followed, same-origin headers on POSTs.
pub struct Browser {
    pub client: Client,
    pub jar: Arc<Jar>,
    pub origin: String,
}

impl Browser {
    pub fn new(url: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        // A bound on every request, so a server that never answers fails the test saying which
        // request, instead of hanging the suite.
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        Browser { client, jar, origin: url.to_string() }
    }

    pub async fn call(&self, function: &str, form: &[(&str, &str)]) -> Response {
        // Asks for JSON, which tests read (the console gets postcard, `app::codec`).
        let headers =
            [("origin", self.origin.as_str()), ("sec-fetch-site", "same-origin"), ("accept", "application/json")];
        self.call_with(function, form, &headers).await
    }

    pub async fn call_with(&self, function: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
        let mut req = self.client.post(format!("{}/api/{function}", self.origin)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.origin)).send().await.unwrap()
    }

    /// The session cookie's value, if any.
    pub fn session(&self) -> Option<String> {
        let url = self.origin.parse().unwrap();
        let cookies = self.jar.cookies(&url)?;
        cookies.to_str().ok()?.split("; ").find_map(|c| c.strip_prefix("berth_session=")).map(str::to_owned)
    }

    pub fn plant(&self, value: &str) {
        self.jar.add_cookie_str(&format!("berth_session={value}; Path=/"), &self.origin.parse().unwrap());
    }

    pub async fn current_user(&self) -> Value {
        let res = self.call("get_current_user", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        self.call("sign_in", &[("username", username), ("password", password)]).await
    }
}

pub async fn create_admin(browser: &Browser, token: &str) {
    let res = browser
        .call(
            "create_first_admin",
            &[
                ("token", token),
                ("username", "ada"),
                ("display_name", "Ada Admin"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

pub fn set_cookie(headers: &HeaderMap) -> String {
    headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join("\n")
}

/// Runs `$body(db)` on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(domain::testing::TestDb::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = domain::testing::TestDb::postgres().await {
                    super::$body(db).await;
                }
            }
        }
    };
}
