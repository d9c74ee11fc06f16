//! The workload policy's table of bypass attempts (the compose crate's rows: every spelling of the
//! engine's networks, every path to the node's sockets and files, every confinement switch) through
//! the real deploy path over REST: each is refused for an operator, naming the field at its line,
//! and nothing is created; each is allowed for an admin. The rows' allowances are the cluster's.

mod support;

#[path = "../../compose/tests/common/policy_rows.rs"]
mod policy_rows;

use domain::cluster::NewCluster;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bypass_is_refused_for_an_operator_and_allowed_for_an_admin() {
    let f = fixture(|_| {}).await;
    create_admin(&f.browser, &f.server.token()).await;
    let store = f.server.berth.store().clone();
    let new =
        NewCluster { name: "rows".into(), provider: "hosts".into(), status: "ready".into(), zones: vec!["a".into()] };
    let cluster = store.cluster_insert(&new, domain::clock::now_ms()).await.unwrap();

    // An operator on the cluster, with an operator token.
    let password = "otto sails the harbour at dawn";
    let form = [
        ("username", "otto"),
        ("display_name", ""),
        ("role", "user"),
        ("password", password),
        ("confirm_password", password),
    ];
    assert_eq!(f.browser.call("create_user", &form).await.status(), StatusCode::OK);
    let users: Value = f.browser.call("get_users", &[]).await.json().await.unwrap();
    let otto = users.as_array().unwrap().iter().find(|u| u["username"] == "otto").unwrap()["id"].as_i64().unwrap();
    let grant = [("user", otto.to_string()), ("cluster", cluster.to_string()), ("role", "operator".to_string())];
    let grant: Vec<(&str, &str)> = grant.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(f.browser.call("set_grant", &grant).await.status(), StatusCode::OK);
    let operator = Browser::new(&f.server.url);
    assert_eq!(operator.sign_in("otto", password).await.status(), StatusCode::OK);
    let issued: Value = operator
        .call("create_token", &[("name", "ci"), ("role", "operator"), ("cluster", "all"), ("days", "1")])
        .await
        .json()
        .await
        .unwrap();
    let token = issued["secret"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();

    let rows = policy_rows::bypass_rows();
    assert!(rows.len() >= 100, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        // The row's allowances, as the cluster's (set in the store: some rows allow what a cluster
        // admin could not, to show the policy holds even then).
        let allow = json!({
            "paths": row.paths.iter().map(|(p, rw)| json!({ "path": p, "read_write": rw })).collect::<Vec<_>>(),
            "networks": row.networks,
        });
        store.cluster_set_policy(cluster, &allow.to_string(), 0).await.unwrap();

        let body = json!({ "cluster": cluster, "name": "bypass", "compose": row.yaml });
        let res =
            client.post(format!("{}/api/v1/apps", f.server.url)).bearer_auth(&token).json(&body).send().await.unwrap();
        let status = res.status();
        let answer: Value = res.json().await.unwrap();
        let message = answer["message"].as_str().unwrap_or_default();
        let at = format!("line {}: services.web.{}", row.line, row.field);
        if status != StatusCode::FORBIDDEN || !message.contains(&at) || !message.contains(row.msg) {
            failures.push(format!("{}: operator got {status} {message:?}, expected 403 naming {at:?}", row.name));
        }

        let check = f
            .browser
            .call("check_app", &[("cluster", &cluster.to_string()), ("compose", &row.yaml), ("vars", "")])
            .await;
        let check: Value = check.json().await.unwrap();
        if check["violations"].as_array().is_none_or(|v| !v.is_empty()) {
            failures.push(format!("{}: refused for an admin: {}", row.name, check["violations"]));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), rows.len(), failures.join("\n"));
    assert!(store.apps(Some(cluster)).await.unwrap().is_empty(), "no refused attempt created anything");
    // Every attempt is in the history, refused.
    let ops = f.server.berth.recent_operations(&admin_actor(&f.server.berth).await, 1000).await.unwrap();
    let denied = ops.iter().filter(|o| o.action == "app.create" && o.outcome == "denied").count();
    assert_eq!(denied, rows.len());
    f.server.stop().await;
}
