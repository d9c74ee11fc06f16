//! The server over HTTP on port 0, against the real dockerd and real databases: the first admin,
//! sessions (cycling, sign-out, restart, idle timeout), throttling, the cross-site check, headers,
//! error shapes, and the engine overview including an engine that is away and comes back.

use std::path::Path;

use domain::testing::TestDb;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{UnixListener, UnixStream};

mod support;

use support::*;

async fn first_admin_then_sessions(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let browser = Browser::new(&server.url);

    // Anonymous visitors are sent to sign in; nothing is mutated over GET.
    let res = browser.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/signin");
    assert_eq!(browser.current_user().await, Value::Null);

    // The setup link's token creates the admin and signs them in, with a strict cookie.
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    browser.plant(planted);
    let res = browser
        .call(
            "create_first_admin",
            &[
                ("token", &server.token()),
                ("username", "ada"),
                ("display_name", "Ada Admin"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(res.headers());
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag: {cookie}");
    let first = browser.session().expect("a session");
    assert_ne!(first, planted, "a planted session id is never adopted");
    assert_eq!(browser.current_user().await["username"], "ada");

    // The overview renders the engine's version for the admin.
    let page = browser.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let version =
        std::process::Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).output().unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    assert!(html.contains(version.trim()), "overview shows engine {version}");

    // Signing in again cycles the id.
    assert_eq!(browser.sign_in("ada", PASSWORD).await.status(), StatusCode::OK);
    let second = browser.session().unwrap();
    assert_ne!(first, second);
    // The old id is worthless.
    let old = Browser::new(&server.url);
    old.plant(&first);
    assert_eq!(old.current_user().await, Value::Null);

    // Sessions survive a restart of Berth.
    server.stop().await;
    let server = Running::start(settings(&db, data.path())).await;
    assert!(server.setup_link.is_none(), "no setup link once an admin exists");
    let browser = Browser { origin: server.url.clone(), ..browser };
    assert_eq!(browser.current_user().await["username"], "ada");

    // Sign-out ends the session on the server: replaying the cookie gets nothing.
    let before = browser.session().unwrap();
    assert_eq!(browser.call("sign_out", &[]).await.status(), StatusCode::OK);
    let replay = Browser::new(&server.url);
    replay.plant(&before);
    assert_eq!(replay.current_user().await, Value::Null);
    assert_eq!(replay.get("/").await.status(), StatusCode::SEE_OTHER);

    // Every mutation left its row.
    let admin = admin_actor(&server.berth).await;
    let actions: Vec<_> = server
        .berth
        .recent_operations(&admin, 50)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|o| (o.action, o.outcome))
        .collect();
    let expected = [
        ("user.bootstrap_link_issued", "success"),
        ("user.bootstrap_admin", "success"),
        ("session.sign_in", "success"),
        ("session.sign_out", "success"),
    ];
    assert_eq!(actions, expected.map(|(a, o)| (a.to_string(), o.to_string())));
    server.stop().await;
    db.remove().await;
}
both_backends!(sessions, first_admin_then_sessions);

#[tokio::test]
async fn idle_sessions_end() {
    let Fixture { server, browser, _db, _data } = fixture(|s| s.session_idle_minutes = 0).await;
    create_admin(&browser, &server.token()).await;
    assert_eq!(browser.current_user().await, Value::Null, "an idle limit of 0 ends the session at once");
    server.stop().await;
}

#[tokio::test]
async fn sessions_end_at_their_absolute_limit_however_active() {
    let Fixture { server, browser, _db, _data } = fixture(|s| s.session_absolute_hours = 0).await;
    create_admin(&browser, &server.token()).await;
    assert_eq!(browser.current_user().await, Value::Null, "an absolute limit of 0 ends the session at once");
    // The ended session is removed, not kept alive by the request that found it expired.
    assert_eq!(server.berth.store().sessions_count_for_user(1).await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_throttled() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    create_admin(&browser, &server.token()).await;

    let other = Browser::new(&server.url);
    let res = other.sign_in("ada", "wrong password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid");
    assert_eq!(body["field"], "password");
    assert_eq!(body["message"], "wrong username or password");
    assert_eq!(body["error_id"], request_id.as_str());
    for _ in 0..4 {
        assert_eq!(other.sign_in("ada", "wrong password").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = other.sign_in("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "throttled");
    assert_eq!(body["retry_after"], retry);
    assert!(other.session().is_none(), "no session for a throttled attempt");
    server.stop().await;
}

#[tokio::test]
async fn cross_site_posts_are_refused_without_effect() {
    let Fixture { server, browser: admin, _db, _data } = fixture(|_| {}).await;
    create_admin(&admin, &server.token()).await;

    let victim = Browser::new(&server.url);
    let form = [("username", "ada"), ("password", PASSWORD)];
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site"), ("origin", server.url.as_str())],
    ] {
        let res = victim.call_with("sign_in", &form, &headers).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(set_cookie(res.headers()).is_empty(), "no cookie for {headers:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
    }
    assert!(victim.session().is_none());
    // A signed-in admin's session cannot be ended from another site either.
    let res = admin.call_with("sign_out", &[], &[("origin", "http://evil.example")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.current_user().await["username"], "ada");
    // Non-browser clients (no Origin, no Sec-Fetch-Site) are not cross-site.
    assert_eq!(victim.call_with("sign_in", &form, &[]).await.status(), StatusCode::OK);

    // The refusals are in the history, bounded per source: the first one as a row, the other four
    // counted in one more row when the window closes. No sign-in ran for them.
    let admin_actor = admin_actor(&server.berth).await;
    let refused_rows = |ops: &[domain::operation::Operation]| {
        ops.iter()
            .filter(|o| o.action == "http.cross_site_refused" && o.outcome == "denied")
            .cloned()
            .collect::<Vec<_>>()
    };
    let ops = server.berth.recent_operations(&admin_actor, 50).await.unwrap();
    assert_eq!(refused_rows(&ops).len(), 1, "one row while the window is open");
    assert_eq!(ops.iter().filter(|o| o.action == "session.sign_in").count(), 1);
    server.berth.flush_refusals(true).await;
    let rows = refused_rows(&server.berth.recent_operations(&admin_actor, 50).await.unwrap());
    assert_eq!(rows.len(), 2, "{rows:?}");
    let count: Value = serde_json::from_str(&rows[0].params).unwrap();
    assert_eq!(count["count"], 4, "{rows:?}");
    server.stop().await;
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;

    let res = browser.get("/signin").await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap().to_string();
    let html = res.text().await.unwrap();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP");
    assert!(html.contains(&format!("<script nonce=\"{nonce}\"")), "inline scripts carry the nonce");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains(" 'unsafe-eval'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");

    // Another page gets another nonce.
    let again = browser.get("/signin").await.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert_ne!(again, csp);

    // Everything else allows nothing.
    for res in [browser.get("/no/such/page").await, browser.call("no_such_function", &[]).await] {
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
    let health = browser.get("/healthz").await;
    assert_eq!((health.status(), health.text().await.unwrap().as_str()), (StatusCode::OK, "ok"));
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_touch_nothing() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    for path in ["no_such_function", "v1/containers/json", "sign_in/extra"] {
        let res = browser.call(path, &[]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
    }
    // Every method on a path that is no endpoint is 404 (not 405), in the error shape; server
    // functions answer POST only.
    for (method, path) in [
        ("GET", "/api/get_current_user"),
        ("GET", "/api/no_such_function"),
        ("PUT", "/api/sign_in"),
        ("DELETE", "/api/v1/no/such/route"),
        ("GET", "/api/v1/nothing"),
    ] {
        let res =
            browser.client.request(method.parse().unwrap(), format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{method} {path}");
        assert!(body["error_id"].is_string());
    }
    server.stop().await;
}

#[tokio::test]
async fn nothing_is_stored_by_caches_but_static_files() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    // The setup page carries its one-time token; the answer to create_first_admin signs someone in.
    let setup = browser.get(&format!("/setup?token={}", server.token())).await;
    assert_eq!(setup.headers()["cache-control"], "no-store");
    for res in [
        browser.get("/signin").await,
        browser.get("/").await,
        browser.call("get_current_user", &[]).await,
        browser.get("/api/v1/openapi.json").await,
        browser.get("/api/v1/me").await,
        browser.get("/healthz").await,
        browser.get("/no/such/page").await,
    ] {
        let url = res.url().to_string();
        assert_eq!(res.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{url}");
    }
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_berths_own() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    create_admin(&browser, &server.token()).await;
    let res = browser
        .call_with(
            "sign_in",
            &[("username", "ada"), ("password", "wrong password!")],
            &[("origin", server.url.as_str()), ("x-request-id", "forged-0001")],
        )
        .await;
    let answered = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(answered, "forged-0001");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_id"], answered.as_str());
    let ops = server.berth.recent_operations(&admin_actor(&server.berth).await, 10).await.unwrap();
    let failed = ops.iter().find(|o| o.action == "session.sign_in" && o.outcome == "failure").unwrap();
    assert_eq!(failed.request_id, answered, "the history keeps Berth's id, not the client's");
    server.stop().await;
}

#[tokio::test]
async fn client_mistakes_are_4xx_in_the_error_shape() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    create_admin(&browser, &server.token()).await;
    let post = |function: &str, content_type: &str, body: Vec<u8>| {
        browser
            .client
            .post(format!("{}/api/{function}", server.url))
            .header("origin", server.url.as_str())
            .header("content-type", content_type.to_string())
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode)> = vec![
        // A missing argument, an argument of the wrong type, bytes that are not UTF-8.
        ("get_cluster", form, b"".to_vec(), StatusCode::BAD_REQUEST),
        ("get_cluster", form, b"id=not-a-number".to_vec(), StatusCode::BAD_REQUEST),
        ("rename_cluster", form, vec![b'i', b'd', b'=', 0xff, 0xfe], StatusCode::BAD_REQUEST),
        // More than the server reads.
        ("rename_cluster", form, vec![b'a'; 2 << 20], StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (function, content_type, body, want) in cases {
        let len = body.len();
        let res = post(function, content_type, body).await.unwrap();
        let status = res.status();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let text = res.text().await.unwrap();
        assert_eq!(status, want, "{function} ({len} bytes): {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(matches!(v["code"].as_str(), Some("invalid" | "too_large")), "{text}");
        assert_eq!(v["error_id"], id.as_str(), "{text}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{text}");
    }
    // The mutation attempts refused while parsing are in the history (bounded per source).
    let ops = server.berth.recent_operations(&admin_actor(&server.berth).await, 50).await.unwrap();
    assert!(
        ops.iter().any(|o| o.action == "http.malformed_refused"),
        "{:?}",
        ops.iter().map(|o| &o.action).collect::<Vec<_>>()
    );
    server.stop().await;
}

/// S12: a flood of refused requests from one client costs the history two rows, and other
/// people's changes go on being recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_is_bounded() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    create_admin(&browser, &server.token()).await;
    let flood = Browser::new(&server.url);
    let form = [("username", "ada"), ("password", PASSWORD)];
    for _ in 0..500 {
        let res = flood.call_with("sign_in", &form, &[("origin", "http://evil.example")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    // An unknown API token, over and over.
    for _ in 0..200 {
        let res = flood.client.get(format!("{}/api/v1/me", server.url)).bearer_auth("berth_nope").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(browser.call("sign_out", &[]).await.status(), StatusCode::OK);
    server.berth.flush_refusals(true).await;
    let ops = server.berth.recent_operations(&admin_actor(&server.berth).await, 1000).await.unwrap();
    let count = |action: &str| ops.iter().filter(|o| o.action == action).count();
    assert_eq!(count("http.cross_site_refused"), 2, "the first refusal, then one row counting the rest");
    assert_eq!(count("token.refused"), 2);
    assert_eq!(count("session.sign_out"), 1, "other changes are still recorded");
    let total: u64 = ops
        .iter()
        .filter(|o| o.action == "http.cross_site_refused")
        .map(|o| serde_json::from_str::<Value>(&o.params).unwrap()["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(total, 500, "every refusal is counted");
    server.stop().await;
}

#[tokio::test]
async fn secure_cookies_behind_tls() {
    let public = "https://berth.example.com";
    let Fixture { server, browser, _db, _data } = fixture(|s| s.public_url = public.into()).await;
    assert!(server.setup_link.as_deref().unwrap().starts_with("https://berth.example.com/setup?token="));
    let token = server.token();
    let form = [
        ("token", token.as_str()),
        ("username", "ada"),
        ("display_name", ""),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ];
    // The origin must be the public one.
    let res = browser.call_with("create_first_admin", &form, &[("origin", &server.url)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser.call_with("create_first_admin", &form, &[("origin", public)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(res.headers());
    assert!(cookie.starts_with("__Host-berth_session=") && cookie.contains("Secure"), "{cookie}");
    server.stop().await;
}

#[tokio::test]
async fn internal_errors_leak_nothing() {
    let Fixture { server, browser, _db: db, _data } = fixture(|_| {}).await;
    // Break the database behind Berth's back.
    {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        conn.execute("DROP TABLE users").await.unwrap();
    }
    let res = browser.sign_in("ada", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "internal");
    assert!(body["error_id"].as_str().is_some_and(|id| !id.is_empty()));
    for leak in ["users", "sqlite", "SELECT", "table", "/tmp", ".rs"] {
        assert!(!text.contains(leak), "{leak:?} leaked: {text}");
    }
    server.stop().await;
}

/// Forwards connections on `path` to the real Docker socket.
fn docker_proxy(path: &Path) -> tokio::task::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut docker) = UnixStream::connect("/var/run/docker.sock").await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut docker).await;
                }
            });
        }
    })
}

#[tokio::test]
async fn the_overview_says_when_the_engine_is_away_and_recovers() {
    let sockets = tempfile::tempdir().unwrap();
    let sock = sockets.path().join("docker.sock");
    let Fixture { server, browser, _db, _data } = fixture(|s| {
        s.docker_host = format!("unix://{}", sock.display());
        s.engine_timeout_secs = 2;
    })
    .await;
    create_admin(&browser, &server.token()).await;

    let res = browser.call("get_engine_overview", &[]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "engine_unreachable");
    assert!(body["message"].as_str().unwrap().contains(&sock.display().to_string()), "{body}");
    assert!(body["error_id"].is_string());
    // The page renders and says so.
    let html = browser.get("/").await.text().await.unwrap();
    assert!(html.contains("engine-unreachable"), "the overview shows the outage");

    let _proxy = docker_proxy(&sock);
    let res = browser.call("get_engine_overview", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["engine_version"].as_str().is_some_and(|v| !v.is_empty()), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn anonymous_calls_are_refused() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    let res = browser.call("get_engine_overview", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "unauthenticated");
    let res = browser.call("sign_out", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Server functions answer the console in postcard, and a caller that asks for JSON by name in JSON:
/// the same value either way.
#[tokio::test]
async fn server_functions_answer_postcard_or_json_when_asked() {
    let Fixture { server, browser, _db, _data } = fixture(|_| {}).await;
    create_admin(&browser, &server.token()).await;
    let same_origin = [("origin", browser.origin.as_str()), ("sec-fetch-site", "same-origin")];
    let compact = browser.call_with("get_current_user", &[], &same_origin).await;
    assert_eq!(compact.status(), StatusCode::OK);
    assert_eq!(compact.headers()["content-type"], "application/x-postcard");
    let bytes = compact.bytes().await.unwrap();
    let user: Option<app::api::session::CurrentUser> = postcard::from_bytes(&bytes).unwrap();
    let user = user.expect("signed in");
    let json = browser.call("get_current_user", &[]).await;
    assert_eq!(json.headers()["content-type"], "application/json");
    let value: Value = json.json().await.unwrap();
    assert_eq!(value["username"], user.username);
    assert_eq!(value["id"], user.id);
    assert!(value["admin"].as_bool().unwrap());
    server.stop().await;
}
