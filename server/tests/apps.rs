//! Apps over HTTP on both databases, without an engine behind the cluster: the console's template
//! check (problems at their lines), the REST API for CI (deploy, read, scale, follow the job) with
//! API tokens, the workload policy on the REST path, bad bodies, and the operation history.
//! Deploying for real is `domain/tests/apps.rs` and the browser journey.

mod support;

use domain::cluster::NewCluster;
use domain::node::NewNode;
use domain::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

async fn body(res: reqwest::Response, want: StatusCode) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn rest_apps(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let admin = Browser::new(&server.url);
    create_admin(&admin, &server.token()).await;
    let store = server.berth.store().clone();
    let now = domain::clock::now_ms();
    let new =
        NewCluster { name: "ci".into(), provider: "hosts".into(), status: "ready".into(), zones: vec!["a".into()] };
    let cluster = store.cluster_insert(&new, now).await.unwrap();
    let node = NewNode {
        cluster_id: cluster,
        name: "n1".into(),
        endpoint: "unix:///nonexistent/berth-apps.sock".into(),
        container: String::new(),
        role: "manager".into(),
        zone: "a".into(),
        state: "ready".into(),
        tls: "none".into(),
        address: "10.9.8.7".into(),
    };
    store.node_insert(&node, now).await.unwrap();

    // An operator on the cluster with an operator token, and a viewer token.
    let password = "otto sails the harbour at dawn";
    body(
        admin
            .call(
                "create_user",
                &[
                    ("username", "otto"),
                    ("display_name", ""),
                    ("role", "user"),
                    ("password", password),
                    ("confirm_password", password),
                ],
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let users = body(admin.call("get_users", &[]).await, StatusCode::OK).await;
    let otto = users.as_array().unwrap().iter().find(|u| u["username"] == "otto").unwrap()["id"].as_i64().unwrap();
    body(
        admin
            .call("set_grant", &[("user", &otto.to_string()), ("cluster", &cluster.to_string()), ("role", "operator")])
            .await,
        StatusCode::OK,
    )
    .await;
    let browser = Browser::new(&server.url);
    assert_eq!(browser.sign_in("otto", password).await.status(), StatusCode::OK);
    let token = |role: &'static str| {
        let browser = &browser;
        async move {
            let issued = body(
                browser
                    .call("create_token", &[("name", role), ("role", role), ("cluster", "all"), ("days", "1")])
                    .await,
                StatusCode::OK,
            )
            .await;
            issued["secret"].as_str().unwrap().to_string()
        }
    };
    let operator = token("operator").await;
    let viewer = token("viewer").await;

    // The console's check names the line, field and service of each problem.
    let check = body(
        browser
            .call(
                "check_app",
                &[
                    ("cluster", &cluster.to_string()),
                    ("compose", "services:\n  web:\n    image: x\n    deploy:\n      replicas: lots\n"),
                    ("vars", ""),
                ],
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(check["ok"], false);
    let problem = &check["diagnostics"][0];
    assert_eq!((problem["line"].as_i64(), problem["field"].as_str()), (Some(5), Some("services.web.deploy.replicas")));
    assert_eq!(problem["service"], "web");

    let client = reqwest::Client::new();
    let post = |path: String, token: &str, json: Value| {
        client.post(format!("{}{path}", server.url)).bearer_auth(token).json(&json).send()
    };
    let get = |path: String, token: &str| client.get(format!("{}{path}", server.url)).bearer_auth(token).send();

    // A bad template: 400 naming the compose field and the line; nothing created.
    let bad = json!({ "cluster": cluster, "name": "shop", "compose": "services:\n  web:\n    image: x\n    ports: [\"99999:80\"]\n" });
    let refused =
        body(post("/api/v1/apps".into(), &operator, bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!((refused["code"].as_str(), refused["field"].as_str()), (Some("invalid"), Some("compose")));
    assert!(refused["message"].as_str().unwrap().starts_with("compose: line 4:"), "{refused}");
    // Not JSON: 400 on `body`; JSON of the wrong shape: 422 on `body`.
    for (text, want) in [("{", StatusCode::BAD_REQUEST), ("[1]", StatusCode::UNPROCESSABLE_ENTITY)] {
        let res = client
            .post(format!("{}/api/v1/apps", server.url))
            .bearer_auth(&operator)
            .body(text)
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(body(res, want).await["field"], "body");
    }

    // A template whose secret reads a variable can be saved, and its form asks for the variable.
    let with_secret =
        "services:\n  web:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n    environment: DB_PASSWORD\n";
    let saved =
        admin.call("save_template", &[("name", "with-secret"), ("description", ""), ("compose", with_secret)]).await;
    body(saved, StatusCode::OK).await;
    let check = body(
        browser.call("check_app", &[("cluster", &cluster.to_string()), ("compose", with_secret), ("vars", "")]).await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = check["variables"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["DB_PASSWORD"], "{check}");

    // The cluster's workload policy over REST: cluster admins set it (errors name the entry), and
    // everyone who sees the cluster reads it; an operator cannot change it.
    let policy = format!("{}/api/v1/clusters/{cluster}/policy", server.url);
    let put = |token: &str, json: Value| client.put(&policy).bearer_auth(token).json(&json).send();
    let admin_token = {
        let issued = body(
            admin.call("create_token", &[("name", "ci"), ("role", "admin"), ("cluster", "all"), ("days", "1")]).await,
            StatusCode::OK,
        )
        .await;
        issued["secret"].as_str().unwrap().to_string()
    };
    let bad = json!({ "paths": [{ "path": "/srv/data" }, { "path": "/proc/1", "read_write": false }], "networks": [] });
    let refused = body(put(&admin_token, bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["field"], "paths[1]", "{refused}");
    let good = json!({ "paths": [{ "path": "/srv/data/", "read_write": true }], "networks": ["shared-net"] });
    let stored = body(put(&admin_token, good.clone()).await.unwrap(), StatusCode::OK).await;
    assert_eq!(stored["paths"][0]["path"], "/srv/data", "{stored}");
    body(put(&operator, good).await.unwrap(), StatusCode::FORBIDDEN).await;
    let read = body(get(format!("/api/v1/clusters/{cluster}/policy"), &viewer).await.unwrap(), StatusCode::OK).await;
    assert_eq!(read, stored);
    // What it allows passes the policy for the operator; what it does not is refused at its line.
    let under = json!({ "cluster": cluster, "name": "under", "compose":
        "services:\n  tool:\n    image: x\n    volumes:\n      - /srv/data/app:/data\n" });
    let started = body(post("/api/v1/apps".into(), &operator, under).await.unwrap(), StatusCode::ACCEPTED).await;
    assert!(started["job"].is_i64());
    let beside = json!({ "cluster": cluster, "name": "beside", "compose":
        "services:\n  tool:\n    image: x\n    volumes:\n      - /srv/database:/data\n" });
    let refused = body(post("/api/v1/apps".into(), &operator, beside).await.unwrap(), StatusCode::FORBIDDEN).await;
    assert!(refused["message"].as_str().unwrap().contains("line 5: services.tool.volumes[0]"), "{refused}");

    // The workload policy holds on the REST path: an operator may not deploy a Docker socket bind.
    let socket = json!({ "cluster": cluster, "name": "tool", "compose":
        "services:\n  tool:\n    image: x\n    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n        target: /s\n" });
    let refused = body(post("/api/v1/apps".into(), &operator, socket).await.unwrap(), StatusCode::FORBIDDEN).await;
    assert!(refused["message"].as_str().unwrap().contains("/var/run/docker.sock"), "{refused}");
    // A viewer may not deploy at all.
    const PLANTED: &str = "planted-secret-3f9a7c1e5b";
    let fine = json!({ "cluster": cluster, "name": "shop",
        "compose": "services:\n  web:\n    image: x:${TAG}\n    environment:\n      PASSWORD: ${DB_PASSWORD}\n",
        "variables": { "TAG": "2", "DB_PASSWORD": PLANTED } });
    body(post("/api/v1/apps".into(), &viewer, fine.clone()).await.unwrap(), StatusCode::FORBIDDEN).await;

    // A good one: 202 with the app and the job; the job is followed over REST to its end (it fails
    // here: the cluster's node has no engine) and the app says why.
    let started = body(post("/api/v1/apps".into(), &operator, fine).await.unwrap(), StatusCode::ACCEPTED).await;
    let (app, job) = (started["app"].as_i64().unwrap(), started["job"].as_i64().unwrap());
    let mut ended = Value::Null;
    for _ in 0..100 {
        ended = body(get(format!("/api/v1/jobs/{job}"), &viewer).await.unwrap(), StatusCode::OK).await;
        if ended["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ended["status"], "failed", "{ended}");
    assert!(ended["error"].as_str().unwrap().contains("no manager"), "{ended}");
    let page = body(get(format!("/api/v1/apps/{app}"), &viewer).await.unwrap(), StatusCode::OK).await;
    assert_eq!((page["app"]["name"].as_str(), page["app"]["status"].as_str()), (Some("shop"), Some("failed")));
    assert_eq!(page["versions"][0]["created_by"], "otto");
    assert!(page["compose"].as_str().unwrap().contains("x:${TAG}"));
    assert_eq!(page["access"]["operate"], false, "a viewer token operates nothing");
    // R4: a retried request with its Idempotency-Key gets the first answer and has one effect.
    let keyed = |json: Value, key: &'static str| {
        client
            .post(format!("{}/api/v1/apps", server.url))
            .bearer_auth(&operator)
            .header("idempotency-key", key)
            .json(&json)
            .send()
    };
    let once = json!({ "cluster": cluster, "name": "keyed", "compose": "services:\n  web:\n    image: x\n" });
    let first = keyed(once.clone(), "retry-7f3a").await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = body(first, StatusCode::ACCEPTED).await;
    let retry = keyed(once.clone(), "retry-7f3a").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(body(retry, StatusCode::ACCEPTED).await, first, "the same answer");
    let keyed_apps = || async {
        let apps = server.berth.store().apps(Some(cluster)).await.unwrap();
        apps.iter().filter(|a| a.name == "keyed").count()
    };
    assert_eq!(keyed_apps().await, 1, "one effect");
    for _ in 0..100 {
        let job = body(get(format!("/api/v1/jobs/{}", first["job"]), &operator).await.unwrap(), StatusCode::OK).await;
        if job["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Another request under a used key is refused, naming the header.
    let other = json!({ "cluster": cluster, "name": "keyed2", "compose": "services:\n  web:\n    image: x\n" });
    let refused = body(keyed(other, "retry-7f3a").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["field"], "Idempotency-Key", "{refused}");
    // A malformed key is refused before anything runs.
    let res = client
        .post(format!("{}/api/v1/apps", server.url))
        .bearer_auth(&operator)
        .header("idempotency-key", "x".repeat(201))
        .json(&once)
        .send()
        .await
        .unwrap();
    assert_eq!(body(res, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "Idempotency-Key");
    // After a day the key is forgotten: the same request runs again (and meets its own effect).
    {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        conn.execute("UPDATE idempotency_keys SET created_at = created_at - 86400001").await.unwrap();
    }
    let again = body(keyed(once, "retry-7f3a").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(again["field"], "name", "{again}");
    assert_eq!(keyed_apps().await, 1);

    // The same name again is refused on the field.
    let again = json!({ "cluster": cluster, "name": "shop", "compose": "services:\n  web:\n    image: x\n" });
    let refused =
        body(post("/api/v1/apps".into(), &operator, again).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["field"], "name");

    // Scale names the service; an update with a new version; a viewer may do neither.
    let refused = body(
        post(format!("/api/v1/apps/{app}/services/nope/scale"), &operator, json!({ "replicas": 2 })).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "service");
    body(
        post(format!("/api/v1/apps/{app}/services/web/scale"), &viewer, json!({ "replicas": 2 })).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    let update = json!({ "compose": "services:\n  web:\n    image: x:${TAG}\n    environment: [A=1]\n" });
    let started =
        body(post(format!("/api/v1/apps/{app}/update"), &operator, update).await.unwrap(), StatusCode::ACCEPTED).await;
    assert!(started["job"].as_i64().is_some());
    for _ in 0..100 {
        let page = body(get(format!("/api/v1/apps/{app}"), &operator).await.unwrap(), StatusCode::OK).await;
        if page["app"]["status"] != "deploying" {
            assert_eq!(page["app"]["version"], 2, "{page}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    body(post(format!("/api/v1/apps/{app}/redeploy"), &viewer, json!({})).await.unwrap(), StatusCode::FORBIDDEN).await;

    // The history has the deploys, the policy refusal and the viewer's refusals; no variable values.
    let berth = server.berth.clone();
    let ops = berth.recent_operations(&admin_actor(&berth).await, 200).await.unwrap();
    let count = |action: &str, outcome: &str| ops.iter().filter(|o| o.action == action && o.outcome == outcome).count();
    assert_eq!(count("app.create", "denied"), 3, "policy refusals (2) and the viewer's");
    let keyed_rows = ops.iter().filter(|o| o.action == "app.create" && o.target == "keyed").count();
    assert_eq!(keyed_rows, 2, "the first request and the one after the key expired; not the replay");
    assert!(count("app.create", "failure") >= 2, "bad template and taken name");
    assert!(ops.iter().filter(|o| o.action.starts_with("app.")).all(|o| !o.params.to_string().contains("\"2\"")));
    server.stop().await;

    // Variable values are sealed at rest (SECURITY.md S9): the planted one is in no database file.
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        for file in [path.to_string(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!bytes.windows(PLANTED.len()).any(|w| w == PLANTED.as_bytes()), "{file} holds a variable value");
        }
    }
}

both_backends!(rest, rest_apps);

/// The OpenAPI document says what the routes answer: every path parameter typed as the route reads
/// it, and every status the routes give for a bad value, no token, a malformed or wrong body is
/// documented for that route, in the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_answers() {
    let f = fixture(|_| {}).await;
    create_admin(&f.browser, &f.server.token()).await;
    let issued: Value = f
        .browser
        .call("create_token", &[("name", "doc"), ("role", "admin"), ("cluster", "all"), ("days", "1")])
        .await
        .json()
        .await
        .unwrap();
    let token = issued["secret"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let doc: Value =
        client.get(format!("{}/api/v1/openapi.json", f.server.url)).send().await.unwrap().json().await.unwrap();
    let mut checked = 0;
    for (method, path) in berth::rest::ROUTES {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not described");
        let documented = |status: StatusCode| op["responses"].get(status.as_str()).is_some();
        let send = |url: String, token: Option<&str>, body: Option<&'static str>| {
            let mut req = client.request(method.parse().unwrap(), url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.header("content-type", "application/json").body(b);
            }
            req.send()
        };
        let expect = |res: reqwest::Response, want: StatusCode, what: &'static str| async move {
            let status = res.status();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{method} {path} {what}: {text}");
            assert!(documented(status), "{method} {path} answers {status} ({what}) but the document does not say so");
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path} {what}: not the error shape: {text}"));
            assert!(v["code"].is_string() && v["error_id"].is_string(), "{method} {path} {what}: {text}");
        };
        let url = |id: &str| {
            format!(
                "{}{}",
                f.server.url,
                path.replace("{id}", id)
                    .replace("{rule}", "1")
                    .replace("{service}", "web")
                    .replace("{balancer}", "front")
                    .replace("{trigger}", "1")
                    .replace("{run}", "1")
            )
        };
        // Integer path parameters are integers in the document, and a word there is 400.
        for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap();
            let kind = p["schema"]["type"].as_str().unwrap();
            let words = ["service", "balancer"];
            assert_eq!(kind, if words.contains(&name) { "string" } else { "integer" }, "{method} {path}: {name}");
        }
        if path.contains("{id}") {
            expect(send(url("abc"), Some(&token), None).await.unwrap(), StatusCode::BAD_REQUEST, "bad id").await;
            checked += 1;
        }
        if op["security"].is_array() {
            expect(send(url("1"), None, None).await.unwrap(), StatusCode::UNAUTHORIZED, "no token").await;
            checked += 1;
        }
        if op["requestBody"].is_object() {
            expect(send(url("1"), Some(&token), Some("{")).await.unwrap(), StatusCode::BAD_REQUEST, "malformed body")
                .await;
            expect(
                send(url("1"), Some(&token), Some("\"text\"")).await.unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong body",
            )
            .await;
            checked += 2;
        }
    }
    // A query value of the wrong type is 400 in the error shape too.
    let res =
        client.get(format!("{}/api/v1/operations?limit=many", f.server.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "query");
    assert!(checked > 30, "{checked}");
    f.server.stop().await;
}
