//! App triggers over HTTP (`POST /hooks/{public id}`).
//!
//! `calls` runs on both databases against a cluster whose node has no engine (an accepted call's
//! job starts, then fails): signatures, stale timestamps, replays, header secrets and the query
//! string, the limit of 10 calls a minute (also 15 at once: exactly 10 get through, so replicas
//! sharing PostgreSQL share it), 404 for unknown and revoked triggers, 405 for GET, and that the
//! cross-site check lets exactly the trigger URL through.
//!
//! `on_a_real_cluster` shares one local cluster for its steps: a signed redeploy made over REST
//! answers 202 within 1 s and its job succeeds, in the history by the trigger's name; the
//! console's signing snippet works as written; a header-mode scale trigger sets the replicas a
//! call asks for; a rollback trigger deploys the version before the current one.

mod support;

use std::time::{Duration, Instant};

use domain::cluster::NewCluster;
use domain::node::NewNode;
use domain::testing::{ClusterOptions, TestCluster, TestDb};
use domain::triggers::{sign, TriggerInput};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;

fn now_s() -> i64 {
    domain::clock::now_ms() / 1000
}

/// A signed call of `url` as Standard Webhooks senders make it.
fn signed(client: &reqwest::Client, url: &str, secret: &str, id: &str, ts: i64, body: &str) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign(secret, id, ts, body.as_bytes()))
        .header("content-type", "application/json")
        .body(body.to_string())
}

async fn status_and_body(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn job_end(berth: &domain::Berth, id: i64) -> domain::job::Job {
    let admin = admin_actor(berth).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let job = berth.job(&admin, id).await.unwrap();
        if job.status != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still running: {:?}", job.steps());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn input(name: &str, action: &str, auth: &str) -> TriggerInput {
    TriggerInput { name: name.into(), action: action.into(), auth: auth.into(), ..Default::default() }
}

async fn calls(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let admin_browser = Browser::new(&server.url);
    create_admin(&admin_browser, &server.token()).await;
    let berth = server.berth.clone();
    let admin = admin_actor(&berth).await;
    let store = berth.store().clone();
    let now = domain::clock::now_ms();
    let new =
        NewCluster { name: "ci".into(), provider: "hosts".into(), status: "ready".into(), zones: vec!["a".into()] };
    let cluster = store.cluster_insert(&new, now).await.unwrap();
    let node = NewNode {
        cluster_id: cluster,
        name: "n1".into(),
        endpoint: "unix:///nonexistent/berth-triggers.sock".into(),
        container: String::new(),
        role: "manager".into(),
        zone: "a".into(),
        state: "ready".into(),
        tls: "none".into(),
        address: "10.9.8.7".into(),
    };
    store.node_insert(&node, now).await.unwrap();
    let app_input = domain::app::AppInput {
        cluster_id: cluster,
        name: "shop".into(),
        compose: "services:\n  web:\n    image: berth-test/busybox:1\n".into(),
        ..Default::default()
    };
    let (app, deploy) = berth.deploy_app(&admin, &app_input).await.unwrap();
    job_end(&berth, deploy).await;

    let client = reqwest::Client::new();
    let redeploy = berth.create_trigger(&admin, app, &input("from-ci", "redeploy", "signature")).await.unwrap();
    assert!(redeploy.secret.starts_with("whsec_"));
    let url = format!("{}/hooks/{}", server.url, redeploy.trigger.public_id);
    let secret = redeploy.secret.clone();

    // A signed call: 202 with its job, quickly.
    let started = Instant::now();
    let (status, body) = status_and_body(signed(&client, &url, &secret, "msg_1", now_s(), "")).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    report(&format!("signed redeploy answered 202 in {} ms", took.as_millis()));
    let job = body["job"].as_i64().unwrap();
    let ended = job_end(&berth, job).await;
    assert_eq!(ended.kind, "app.redeploy");

    // The same webhook id again: refused, no second job.
    let jobs_before = berth.jobs(&admin, Some(cluster)).await.unwrap().len();
    let (status, body) = status_and_body(signed(&client, &url, &secret, "msg_1", now_s(), "")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    assert_eq!(berth.jobs(&admin, Some(cluster)).await.unwrap().len(), jobs_before, "a replay started a job");

    // A tampered body, a wrong secret, stale and future timestamps, no signature: 401, generic.
    let ts = now_s();
    let tampered = signed(&client, &url, &secret, "msg_2", ts, "{}").body("{\"replicas\": 9}");
    let other = domain::triggers::new_secret().unwrap();
    let refused = [
        tampered,
        signed(&client, &url, &other, "msg_3", ts, ""),
        signed(&client, &url, &secret, "msg_4", ts - 301, ""),
        signed(&client, &url, &secret, "msg_5", ts + 301, ""),
        client.post(&url),
        client.post(&url).bearer_auth(&secret),
    ];
    let mut messages = Vec::new();
    for req in refused {
        let (status, body) = status_and_body(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        messages.push(body["message"].as_str().unwrap().to_string());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "refusals must not say which check failed: {messages:?}");
    assert_eq!(berth.jobs(&admin, Some(cluster)).await.unwrap().len(), jobs_before, "a refused call started a job");
    // …but the trigger's calls say why, for its operators.
    let recorded = berth.trigger_calls(&admin, app, redeploy.trigger.id).await.unwrap();
    let outcomes: Vec<&str> = recorded.iter().map(|c| c.outcome.as_str()).collect();
    assert_eq!(outcomes, ["unauthorized"; 6].iter().chain(&["replayed", "accepted"]).copied().collect::<Vec<_>>());
    assert!(recorded[2].message.contains("301 s off"), "{:?}", recorded[2]);
    assert_eq!(recorded[7].job_id, Some(job));

    // GET and other methods: 405; an unknown trigger: 404.
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(client.put(&url).send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    let unknown = format!("{}/hooks/{}", server.url, "0".repeat(40));
    assert_eq!(
        signed(&client, &unknown, &secret, "m", now_s(), "").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client.post(format!("{}/hooks/not-hex", server.url)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // The cross-site check lets a trigger's URL through (its secret is in its own headers)…
    let (status, _) = status_and_body(
        signed(&client, &url, &secret, "msg_x", now_s(), r#"{"object_kind": "push"}"#)
            .header("origin", "https://ci.example")
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // …and nothing else.
    let res = client
        .post(format!("{}/api/sign_in", server.url))
        .header("origin", "https://ci.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("username", "x"), ("password", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res =
        client.post(format!("{}/hooks/a/b", server.url)).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Header mode: the secret in `Authorization: Bearer` or `X-Berth-Trigger-Secret`, never in the URL.
    let header = berth.create_trigger(&admin, app, &input("simple-ci", "redeploy", "header")).await.unwrap();
    let hurl = format!("{}/hooks/{}", server.url, header.trigger.public_id);
    let job = berth.jobs(&admin, Some(cluster)).await.unwrap()[0].id;
    job_end(&berth, job).await;
    let (status, body) = status_and_body(client.post(&hurl).bearer_auth(&header.secret)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    job_end(&berth, body["job"].as_i64().unwrap()).await;
    let (status, body) = status_and_body(client.post(&hurl).header("x-berth-trigger-secret", &header.secret)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    job_end(&berth, body["job"].as_i64().unwrap()).await;
    let in_query = format!("{hurl}?secret={}", header.secret);
    assert_eq!(client.post(&in_query).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let newest = &berth.trigger_calls(&admin, app, header.trigger.id).await.unwrap()[0];
    assert!(newest.message.contains("rotate it"), "{newest:?}");
    assert_eq!(client.post(&hurl).bearer_auth(&secret).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Rotation: the old secret works until its deadline, the new one at once.
    let rotated = berth.rotate_trigger(&admin, app, header.trigger.id).await.unwrap();
    assert_ne!(rotated.secret, header.secret);
    for s in [&header.secret, &rotated.secret] {
        let (status, body) = status_and_body(client.post(&hurl).bearer_auth(s)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        job_end(&berth, body["job"].as_i64().unwrap()).await;
    }

    // The 11th call in a minute: 429 with Retry-After (refused calls count too).
    let limited = berth.create_trigger(&admin, app, &input("limited", "redeploy", "header")).await.unwrap();
    let lurl = format!("{}/hooks/{}", server.url, limited.trigger.public_id);
    for _ in 0..10 {
        assert_eq!(client.post(&lurl).bearer_auth("wrong").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let res = client.post(&lurl).bearer_auth(&limited.secret).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // A flood writes one row for the calls refused in a row.
    for _ in 0..5 {
        assert_eq!(client.post(&lurl).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let rows = berth.trigger_calls(&admin, app, limited.trigger.id).await.unwrap();
    assert_eq!(rows.iter().filter(|c| c.outcome == "throttled").count(), 1);
    assert_eq!(rows.len(), 11);

    // 15 calls at once: exactly 10 get through (the limit is decided in the store's transaction).
    let racing = berth.create_trigger(&admin, app, &input("racing", "redeploy", "header")).await.unwrap();
    let rurl = format!("{}/hooks/{}", server.url, racing.trigger.public_id);
    let all = futures::future::join_all((0..15).map(|_| client.post(&rurl).bearer_auth("wrong").send())).await;
    let statuses: Vec<StatusCode> = all.into_iter().map(|r| r.unwrap().status()).collect();
    let through = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!((through, statuses.len() - through), (10, 5), "{statuses:?}");

    // Revoked: 404.
    berth.revoke_trigger(&admin, app, header.trigger.id).await.unwrap();
    assert_eq!(client.post(&hurl).bearer_auth(&rotated.secret).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert!(berth.triggers(&admin, app).await.unwrap().iter().all(|t| t.name != "simple-ci"));

    // Creating, rotating and revoking are in the history; secrets never are.
    let ops = berth.recent_operations(&admin, 500).await.unwrap();
    for action in ["trigger.create", "trigger.rotate", "trigger.revoke"] {
        assert!(ops.iter().any(|o| o.action == action && o.outcome == "success"), "{action}");
    }
    let redeploys: Vec<_> = ops.iter().filter(|o| o.action == "app.redeploy").collect();
    assert!(redeploys
        .iter()
        .all(|o| o.actor_name.starts_with("trigger:") && o.channel == "trigger" && o.actor_id.is_none()));
    assert!(ops.iter().any(|o| o.action == "trigger.refused"), "refused calls are in the history (bounded per source)");
    for s in [&secret, &header.secret, &rotated.secret] {
        assert!(ops.iter().all(|o| !o.params.contains(s.as_str())), "a secret is in the history");
    }
    server.stop().await;
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        for file in [path.to_string(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{file} holds a trigger secret");
        }
    }
}

both_backends!(http, calls);

const WEB: &str = "berth-test/trigger-web:1";

/// One local cluster for every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_real_cluster() {
    let f = fixture(|_| {}).await;
    create_admin(&f.browser, &f.server.token()).await;
    let berth = f.server.berth.clone();
    let admin = admin_actor(&berth).await;
    let cluster =
        TestCluster::create(&berth, ClusterOptions::one_node("triggers").image(WEB, &["httpd", "sleep"])).await;
    let compose = |marker: &str| {
        format!(
            "services:\n  web:\n    image: {WEB}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\"]\n    environment:\n      MARKER: {marker}\n"
        )
    };
    let input = domain::app::AppInput {
        cluster_id: cluster.id,
        name: "shop".into(),
        compose: compose("one"),
        ..Default::default()
    };
    let (app, job) = berth.deploy_app(&admin, &input).await.unwrap();
    assert_eq!(job_end(&berth, job).await.status, "succeeded");
    let job = berth.update_app(&admin, app, &compose("two"), &Default::default()).await.unwrap();
    assert_eq!(job_end(&berth, job).await.status, "succeeded");

    // A signed redeploy trigger made over REST with an operator-scoped token.
    let issued: Value = f
        .browser
        .call("create_token", &[("name", "ci"), ("role", "operator"), ("cluster", "all"), ("days", "1")])
        .await
        .json()
        .await
        .unwrap();
    let token = issued["secret"].as_str().unwrap();
    let client = reqwest::Client::new();
    let made: Value = client
        .post(format!("{}/api/v1/apps/{app}/triggers", f.server.url))
        .bearer_auth(token)
        .json(&json!({ "name": "deploy-from-ci", "action": "redeploy", "latest_image": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    let url = format!("{}{}", f.server.url, made["trigger"]["path"].as_str().unwrap());
    let started = Instant::now();
    let (status, body) = status_and_body(signed(&client, &url, &secret, "msg_deploy_1", now_s(), "")).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    report(&format!("signed redeploy on a real cluster answered 202 in {} ms", took.as_millis()));
    let job = job_end(&berth, body["job"].as_i64().unwrap()).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let ops = berth.recent_operations(&admin, 200).await.unwrap();
    let row = ops.iter().find(|o| o.action == "app.redeploy").expect("the redeploy's history row");
    assert_eq!(
        (row.actor_name.as_str(), row.channel.as_str(), row.outcome.as_str()),
        ("trigger:deploy-from-ci", "trigger", "success")
    );
    let calls: Value = client
        .get(format!("{}/api/v1/apps/{app}/triggers/{}/calls", f.server.url, made["trigger"]["id"]))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((calls[0]["outcome"].as_str(), calls[0]["job"].as_i64()), (Some("accepted"), Some(job.id)), "{calls}");

    // The console's signing snippet, as written, with the secret in the environment.
    let shell = app::api::trigger::shell_snippet(&url, "signature", "");
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&shell)
        .env(app::api::trigger::SECRET_VARIABLE, &secret)
        .output()
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{shell}\n{answer}\n{}", String::from_utf8_lossy(&out.stderr));
    let snippet_job: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(job_end(&berth, snippet_job["job"].as_i64().unwrap()).await.status, "succeeded");

    // A header-mode scale trigger taking the replicas from the call.
    let scale = TriggerInput {
        name: "scale-web".into(),
        action: "scale".into(),
        auth: "header".into(),
        service: "web".into(),
        replicas: Some(1),
        replicas_from_body: true,
        ..Default::default()
    };
    let scale = berth.create_trigger(&admin, app, &scale).await.unwrap();
    let surl = format!("{}/hooks/{}", f.server.url, scale.trigger.public_id);
    let (status, body) =
        status_and_body(client.post(&surl).bearer_auth(&scale.secret).json(&json!({ "replicas": 2 }))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = job_end(&berth, body["job"].as_i64().unwrap()).await;
    assert_eq!((job.status.as_str(), job.kind.as_str()), ("succeeded", "app.scale"), "{}", job.error);
    let detail = berth.app_detail(&admin, app).await.unwrap();
    assert_eq!(detail.services.iter().find(|s| s.name == "web").unwrap().desired, 2);

    // A rollback trigger deploys the version before the current one (2 → 1, as version 3).
    let rollback = berth
        .create_trigger(
            &admin,
            app,
            &TriggerInput { name: "undo".into(), action: "rollback".into(), ..Default::default() },
        )
        .await
        .unwrap();
    let rurl = format!("{}/hooks/{}", f.server.url, rollback.trigger.public_id);
    // Its body, a CI's own payload, is signed but not read.
    let payload = r#"{"object_kind": "push", "ref": "refs/heads/main", "replicas": "many"}"#;
    let (status, body) = status_and_body(signed(&client, &rurl, &rollback.secret, "msg_undo", now_s(), payload)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = job_end(&berth, body["job"].as_i64().unwrap()).await;
    assert_eq!(job.status, "succeeded", "{}", job.error);
    let detail = berth.app_detail(&admin, app).await.unwrap();
    assert_eq!(detail.app.version, 3);
    assert!(detail.compose.contains("MARKER: one"), "{}", detail.compose);
    f.server.stop().await;
    drop(cluster);
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}
