//! Observability over HTTP on both databases: the operation history through the REST API (filters,
//! grant scope, CSV, chain verification that catches a changed row), alert rules (bad input named
//! by field, create, list, delete), `/metrics` in the Prometheus text format behind a token, logs
//! and series answers, and the console's history function. Collection from a real cluster is
//! `domain/tests/observe.rs`; the browser journey is `end2end/tests/observe.test.mjs`.

mod support;

use domain::cluster::NewCluster;
use domain::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

async fn text(res: reqwest::Response, want: StatusCode) -> String {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    text
}

async fn body(res: reqwest::Response, want: StatusCode) -> Value {
    serde_json::from_str(&text(res, want).await).unwrap_or(Value::Null)
}

async fn rest_observe(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let admin = Browser::new(&server.url);
    create_admin(&admin, &server.token()).await;
    let store = server.berth.store().clone();
    let now = domain::clock::now_ms();
    let mut clusters = Vec::new();
    for name in ["seen", "hidden"] {
        let new = NewCluster { name: name.into(), provider: "hosts".into(), status: "ready".into(), zones: vec![] };
        clusters.push(store.cluster_insert(&new, now).await.unwrap());
    }
    let (seen, hidden) = (clusters[0], clusters[1]);

    // A cluster admin on the first cluster only.
    let password = "carla sails the harbour at dawn";
    body(
        admin
            .call(
                "create_user",
                &[
                    ("username", "carla"),
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
    let carla = users.as_array().unwrap().iter().find(|u| u["username"] == "carla").unwrap()["id"].as_i64().unwrap();
    body(
        admin
            .call(
                "set_grant",
                &[("user", &carla.to_string()), ("cluster", &seen.to_string()), ("role", "cluster_admin")],
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let browser = Browser::new(&server.url);
    assert_eq!(browser.sign_in("carla", password).await.status(), StatusCode::OK);
    let issued = body(
        browser
            .call("create_token", &[("name", "ci"), ("role", "cluster_admin"), ("cluster", "all"), ("days", "1")])
            .await,
        StatusCode::OK,
    )
    .await;
    let token = issued["secret"].as_str().unwrap().to_string();
    let issued = body(
        admin.call("create_token", &[("name", "root"), ("role", "admin"), ("cluster", "all"), ("days", "1")]).await,
        StatusCode::OK,
    )
    .await;
    let root = issued["secret"].as_str().unwrap().to_string();

    let client = reqwest::Client::new();
    let get = |path: String, token: &str| client.get(format!("{}{path}", server.url)).bearer_auth(token).send();
    let post = |path: String, token: &str, json: Value| {
        client.post(format!("{}{path}", server.url)).bearer_auth(token).json(&json).send()
    };

    // A rule with a bad field is refused naming it; good rules on each cluster (the admin's on the
    // hidden one).
    let bad = json!({ "name": "hot", "kind": "metric", "scope": "service", "subject": "shop_web", "metric": "disk", "threshold": 80 });
    let refused = body(
        post(format!("/api/v1/clusters/{seen}/alerts"), &token, bad).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "metric");
    // A service the cluster does not run would never fire: refused, naming the subject.
    let ghost = json!({ "name": "hot", "kind": "metric", "scope": "service", "subject": "shop_web", "metric": "cpu",
                        "threshold": 80 });
    let refused = body(
        post(format!("/api/v1/clusters/{seen}/alerts"), &token, ghost).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "subject");
    let hook = json!({ "name": "hot", "kind": "metric", "scope": "cluster", "subject": "", "metric": "cpu",
                       "threshold": 80, "for_secs": 300, "webhook": "http://127.0.0.1:9/hook" });
    let created =
        body(post(format!("/api/v1/clusters/{seen}/alerts"), &token, hook.clone()).await.unwrap(), StatusCode::CREATED)
            .await;
    let rule = created["rule"].as_i64().unwrap();
    let dup = body(
        post(format!("/api/v1/clusters/{seen}/alerts"), &token, hook).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(dup["field"], "name");
    body(
        post(format!("/api/v1/clusters/{hidden}/alerts"), &root, json!({ "name": "gone", "kind": "node_down" }))
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    body(
        post(format!("/api/v1/clusters/{hidden}/alerts"), &token, json!({ "name": "x", "kind": "node_down" }))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    let alerts = body(get(format!("/api/v1/clusters/{seen}/alerts"), &token).await.unwrap(), StatusCode::OK).await;
    assert_eq!(alerts["rules"][0]["name"], "hot");
    assert_eq!(alerts["rules"][0]["threshold"], 80.0);
    assert_eq!(alerts["history"], json!([]));

    // The history through the API: carla sees what is about her cluster and what she did, not the
    // admin's rule on the other cluster; the admin sees both.
    let mine = body(get("/api/v1/operations?action=alert.".into(), &token).await.unwrap(), StatusCode::OK).await;
    let targets: Vec<&str> = mine.as_array().unwrap().iter().map(|o| o["target"].as_str().unwrap()).collect();
    assert!(targets.contains(&"hot") && !targets.contains(&"gone"), "{targets:?}");
    let denied =
        mine.as_array().unwrap().iter().find(|o| o["target"] == "x").expect("her refused attempt is hers to see");
    assert_eq!((denied["outcome"].as_str(), denied["channel"].as_str()), (Some("denied"), Some("api")));
    let all = body(
        get("/api/v1/operations?action=alert.create&outcome=success".into(), &root).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["target"], "gone");
    assert_eq!(all[0]["cluster_id"], hidden);
    let words = body(get("/api/v1/operations?q=cpu%20hot".into(), &root).await.unwrap(), StatusCode::OK).await;
    assert!(!words.as_array().unwrap().is_empty());
    assert!(words.as_array().unwrap().iter().all(|o| o["target"] == "hot"), "{words}");
    let csv =
        text(get("/api/v1/operations?format=csv&action=alert.create".into(), &root).await.unwrap(), StatusCode::OK)
            .await;
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("id,time,duration_ms,actor,source,channel,action,target"));
    assert!(lines.all(|l| l.contains("alert.create")));
    let bad_format =
        body(get("/api/v1/operations?format=xml".into(), &root).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(bad_format["field"], "format");

    // The console's history function answers the same way.
    let page = body(
        browser
            .call("get_history", &[("q", ""), ("actor", ""), ("action", "alert."), ("outcome", ""), ("hours", "1")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["can_verify"], false);
    assert!(page["rows"].as_array().unwrap().iter().all(|r| r["target"] != "gone"));

    // Logs, series and events of a cluster without collections yet: empty answers, not errors;
    // a bad scope names the field.
    let logs =
        body(get(format!("/api/v1/clusters/{seen}/logs?q=error&limit=10"), &token).await.unwrap(), StatusCode::OK)
            .await;
    assert_eq!(logs, json!([]));
    let series = body(
        get(format!("/api/v1/clusters/{seen}/metrics?scope=cluster&range=3600000"), &token).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(series["points"], json!([]));
    let bad_scope = body(
        get(format!("/api/v1/clusters/{seen}/metrics?scope=galaxy"), &token).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad_scope["field"], "scope");
    body(get(format!("/api/v1/clusters/{hidden}/events"), &token).await.unwrap(), StatusCode::FORBIDDEN).await;

    // The routers' requests: a series per route and side of the clusters the token sees, and
    // their newest numbers in /metrics for those clusters only.
    let now = domain::clock::now_ms();
    for (cluster, app) in [(seen, "shop"), (hidden, "secret")] {
        let sample = domain::store::TrafficSample {
            cluster_id: cluster,
            ts: now,
            route: format!("{app}/web:80"),
            app: app.into(),
            service: "web".into(),
            interval_ms: 5000,
            requests: 50,
            status5xx: 5,
            rps: 10.0,
            err5xx_pct: 10.0,
            p50_ms: Some(4.0),
            p99_ms: Some(250.0),
            ..Default::default()
        };
        store.traffic_insert(&[sample]).await.unwrap();
    }
    let traffic = body(
        get(format!("/api/v1/clusters/{seen}/traffic?app=shop&range=600000"), &token).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(traffic["series"][0]["route"], "shop/web:80", "{traffic}");
    assert_eq!(traffic["series"][0]["side"], "web");
    assert_eq!(traffic["series"][0]["points"][0]["rps"], 10.0);
    assert_eq!(traffic["series"][0]["points"][0]["p99_ms"], 250.0);
    let none =
        body(get(format!("/api/v1/clusters/{seen}/traffic?app=other"), &token).await.unwrap(), StatusCode::OK).await;
    assert_eq!(none["series"], json!([]));
    body(get(format!("/api/v1/clusters/{hidden}/traffic"), &token).await.unwrap(), StatusCode::FORBIDDEN).await;
    let bad_range = body(
        get(format!("/api/v1/clusters/{seen}/traffic?range=-5"), &token).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad_range["field"], "range");
    let scoped = text(get("/metrics".into(), &token).await.unwrap(), StatusCode::OK).await;
    let line = r#"berth_route_requests_per_second{cluster="seen",app="shop",route="shop/web:80",side="web"} 10"#;
    assert!(scoped.lines().any(|l| l == line), "{scoped}");
    assert!(scoped.contains(r#"berth_route_5xx_ratio{cluster="seen",app="shop",route="shop/web:80",side="web"} 0.1"#));
    assert!(scoped
        .contains(r#"berth_route_latency_p99_seconds{cluster="seen",app="shop",route="shop/web:80",side="web"} 0.25"#));
    assert!(!scoped.contains("secret/web:80"), "a hidden cluster's routes are not listed: {scoped}");

    // Prometheus text behind a token; none: 401.
    let metrics = text(get("/metrics".into(), &root).await.unwrap(), StatusCode::OK).await;
    assert!(metrics.contains("# TYPE berth_container_cpu_percent gauge"), "{metrics}");
    assert!(metrics.contains(r#"route="secret/web:80""#), "admins see every cluster's routes: {metrics}");
    let anonymous = client.get(format!("{}/metrics", server.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Deleting the rule; the chain verifies, then catches a row changed behind Berth's back.
    let res = client
        .delete(format!("{}/api/v1/clusters/{seen}/alerts/{rule}", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    body(get("/api/v1/operations/verify".into(), &token).await.unwrap(), StatusCode::FORBIDDEN).await;
    let report = body(get("/api/v1/operations/verify".into(), &root).await.unwrap(), StatusCode::OK).await;
    assert_eq!(report["broken"], Value::Null, "{report}");
    assert!(report["rows"].as_i64().unwrap() > 5);
    let unguard = match store.backend() {
        domain::store::Backend::Sqlite => "DROP TRIGGER operations_no_update",
        domain::store::Backend::Postgres => "DROP TRIGGER operations_append_only ON operations",
    };
    store.execute_for_tests(unguard).await.unwrap();
    let victim = all[1]["id"].as_i64().unwrap();
    store
        .execute_for_tests(&format!("UPDATE operations SET actor_name = 'mallory' WHERE id = {victim}"))
        .await
        .unwrap();
    let report = body(get("/api/v1/operations/verify".into(), &root).await.unwrap(), StatusCode::OK).await;
    assert_eq!(report["broken"]["id"], victim, "{report}");
    server.stop().await;
}

both_backends!(rest, rest_observe);
