//! Store contract: the same tests on SQLite and on PostgreSQL (see `domain::testing`).

use domain::operation::{NewOperation, Outcome};
use domain::store::{FailureKey, NewUser, SessionMeta, Store};
use domain::store_test;
use serde_json::json;

fn admin(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: name.to_uppercase(),
        password_hash: "$argon2id$stub".into(),
        role: "admin".into(),
        created_at: 1_000,
    }
}

fn op(action: &str, outcome: Outcome, target: &str, source: &str, at: i64) -> NewOperation {
    NewOperation {
        started_at: at,
        duration_ms: 3,
        actor_id: None,
        actor_name: "anonymous".into(),
        source: source.into(),
        channel: "console".into(),
        action: action.into(),
        target: target.into(),
        params: json!({"k": 1}),
        outcome,
        error_code: (outcome != Outcome::Success).then(|| "invalid".into()),
        error_message: None,
        request_id: "req-1".into(),
        cluster_id: None,
    }
}

async fn bootstrap_token_is_used_once(store: Store) {
    store.bootstrap_token_replace("h1", 0, 10_000).await.unwrap();
    assert_eq!(store.bootstrap_token("h1").await.unwrap(), Some((10_000, None)));
    // Expired tokens cannot be used, and nothing is written.
    assert_eq!(store.bootstrap_consume("h1", 10_000, &admin("a")).await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 0);
    // A valid one creates the admin and is then used up.
    let id = store.bootstrap_consume("h1", 5_000, &admin("ada")).await.unwrap().expect("consumed");
    assert_eq!(store.bootstrap_token("h1").await.unwrap(), Some((10_000, Some(5_000))));
    assert_eq!(store.bootstrap_consume("h1", 5_001, &admin("eve")).await.unwrap(), None);
    let user = store.user_by_id(id).await.unwrap().unwrap();
    assert_eq!((user.username.as_str(), user.display_name.as_str(), user.role.as_str()), ("ada", "ADA", "admin"));
    assert_eq!(store.user_by_username("ada").await.unwrap().unwrap().id, id);
    assert!(store.user_by_username("eve").await.unwrap().is_none());
    // A newer token replaces the old one, but cannot create a second first admin.
    store.bootstrap_token_replace("h2", 6_000, 20_000).await.unwrap();
    assert_eq!(store.bootstrap_token("h1").await.unwrap(), None);
    assert_eq!(store.bootstrap_consume("h2", 7_000, &admin("eve")).await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 1);
}
store_test!(bootstrap, bootstrap_token_is_used_once);

async fn concurrent_bootstrap_creates_one_admin(store: Store) {
    store.bootstrap_token_replace("h", 0, i64::MAX).await.unwrap();
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.bootstrap_consume("h", 1, &admin(&format!("u{i}"))).await })
    });
    let mut created = 0;
    for attempt in attempts {
        if let Ok(Some(_)) = attempt.await.unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
}
store_test!(bootstrap_race, concurrent_bootstrap_creates_one_admin);

async fn sessions_round_trip(store: Store) {
    let uid = {
        store.bootstrap_token_replace("h", 0, i64::MAX).await.unwrap();
        store.bootstrap_consume("h", 1, &admin("ada")).await.unwrap().unwrap()
    };
    let anon = SessionMeta::default();
    let signed = SessionMeta {
        user_id: Some(uid),
        signed_in_at: Some(10),
        source: Some("10.0.0.9".into()),
        agent: Some("Firefox".into()),
        seen_at: Some(10),
    };
    assert!(store.session_create("s1", &anon, "{}", 100).await.unwrap());
    assert!(!store.session_create("s1", &anon, "{}", 100).await.unwrap(), "ids are unique");
    assert_eq!(store.session_load("s1", 50).await.unwrap(), Some(("{}".into(), 100)));
    assert_eq!(store.session_load("s1", 100).await.unwrap(), None, "expired at its expiry");
    store.session_save("s1", &signed, r#"{"auth":1}"#, 200).await.unwrap();
    assert_eq!(store.session_load("s1", 150).await.unwrap(), Some((r#"{"auth":1}"#.into(), 200)));
    assert!(store.session_create("s2", &signed, "{}", 300).await.unwrap());
    assert!(store.session_create("s3", &anon, "{}", 50).await.unwrap());
    assert_eq!(store.sessions_count_for_user(uid).await.unwrap(), 2);
    let listed = store.sessions_of(uid, 150).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].source.as_deref(), listed[0].agent.as_deref()), (Some("10.0.0.9"), Some("Firefox")));
    assert_eq!(store.sessions_delete_expired(100).await.unwrap(), 1);
    assert_eq!(store.sessions_delete_for_user(uid).await.unwrap(), 2);
    assert_eq!(store.session_load("s2", 0).await.unwrap(), None);
    // A save after the session was ended does not bring it back.
    store.session_save("s2", &signed, "{}", 300).await.unwrap();
    assert_eq!(store.session_load("s2", 0).await.unwrap(), None);
    assert!(store.session_create("s4", &anon, "{}", 300).await.unwrap());
    assert!(!store.session_delete_of(uid, "s4").await.unwrap(), "not the user's session");
    store.session_delete("s4").await.unwrap();
    assert_eq!(store.session_load("s4", 0).await.unwrap(), None);
}
store_test!(sessions, sessions_round_trip);

async fn operations_are_kept_and_counted(store: Store) {
    let rows = [
        op("session.sign_in", Outcome::Failure, "ada", "10.0.0.1", 100),
        op("session.sign_in", Outcome::Failure, "ada", "10.0.0.2", 200),
        op("session.sign_in", Outcome::Success, "ada", "10.0.0.1", 300),
        op("session.sign_in", Outcome::Failure, "bob", "10.0.0.1", 400),
        op("session.sign_out", Outcome::Failure, "ada", "10.0.0.1", 500),
    ];
    for row in &rows {
        store.operation_insert(row).await.unwrap();
    }
    let failures = |key, value: &'static str, since, limit| {
        let store = store.clone();
        async move { store.operation_times("session.sign_in", "failure", key, value, since, limit).await.unwrap() }
    };
    assert_eq!(failures(FailureKey::Target, "ada", 0, 10).await, vec![200, 100]);
    assert_eq!(failures(FailureKey::Target, "ada", 150, 10).await, vec![200]);
    assert_eq!(failures(FailureKey::Target, "ada", 0, 1).await, vec![200]);
    assert_eq!(failures(FailureKey::Source, "10.0.0.1", 0, 10).await, vec![400, 100]);
    let recent = store.operations_recent(10).await.unwrap();
    assert_eq!(recent.len(), 5);
    assert_eq!(recent[0].action, "session.sign_out");
    assert_eq!(recent[4].params, r#"{"k":1}"#);
    assert_eq!(recent[4].outcome, "failure");
    assert_eq!(recent[2].error_code, None);
}
store_test!(operations, operations_are_kept_and_counted);

#[tokio::test]
async fn reopening_applies_no_migration_twice() {
    for db in [Some(domain::testing::TestDb::sqlite()), domain::testing::TestDb::postgres().await].into_iter().flatten()
    {
        let first = db.open().await;
        first.bootstrap_token_replace("h", 0, 1).await.unwrap();
        first.close().await;
        let again = db.open().await;
        assert_eq!(again.bootstrap_token("h").await.unwrap(), Some((1, None)), "{}", db.url);
        again.close().await;
        db.remove().await;
    }
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let mut v: Vec<_> = std::fs::read_dir(format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}

store_test!(templates, templates_keep_every_version);

async fn templates_keep_every_version(store: Store) {
    let id = store.template_save(None, "web", "first", "services: {}", "ada", 10).await.unwrap();
    assert!(store.template_name_taken("web", None).await.unwrap());
    assert!(!store.template_name_taken("web", Some(id)).await.unwrap());
    let again = store.template_save(Some(id), "web", "second", "services:\n  a: {}", "bob", 20).await.unwrap();
    assert_eq!(again, id);
    let t = store.template(id).await.unwrap().unwrap();
    assert_eq!((t.version, t.description.as_str(), t.updated_at, t.created_at), (2, "second", 20, 10));
    let versions = store.template_versions(id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| (v.version, v.created_by.as_str())).collect::<Vec<_>>(),
        [(2, "bob"), (1, "ada")]
    );
    assert_eq!(versions[1].compose, "services: {}");
    assert!(store.template_delete(id).await.unwrap());
    assert!(store.template_versions(id).await.unwrap().is_empty(), "versions go with their template");
    assert!(!store.template_delete(id).await.unwrap());
}

store_test!(apps, apps_versions_and_overrides);

async fn apps_versions_and_overrides(store: Store) {
    use domain::cluster::NewCluster;
    use domain::store::NewVersion;
    let new = NewCluster { name: "c".into(), provider: "local".into(), status: "ready".into(), zones: vec![] };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let v = |compose: &'static str, action: &'static str| NewVersion {
        compose,
        vars: "sealed",
        action,
        note: "",
        by: "ada",
    };
    let app = store.app_insert(cluster, "shop", "deploying", None, &v("one", "create"), 5).await.unwrap().unwrap();
    // One app of a name per cluster.
    assert_eq!(store.app_insert(cluster, "shop", "deploying", None, &v("x", "create"), 6).await.unwrap(), None);
    let overrides = domain::app::Overrides { replicas: [("web".to_string(), 3)].into(), ..Default::default() };
    store.app_set_overrides(app, &overrides, 7).await.unwrap();
    assert_eq!(store.app(app).await.unwrap().unwrap().overrides().replicas["web"], 3);
    // A new version is current and clears the overrides.
    assert_eq!(store.app_add_version(app, &v("two", "update"), "deploying", 8).await.unwrap(), 2);
    let row = store.app(app).await.unwrap().unwrap();
    assert_eq!((row.version, row.status.as_str()), (2, "deploying"));
    assert!(row.overrides().replicas.is_empty());
    let versions = store.app_versions(app).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| (v.version, v.action.as_str())).collect::<Vec<_>>(),
        [(2, "update"), (1, "create")]
    );
    assert_eq!(store.app_version(app, 1).await.unwrap().unwrap().compose, "one");
    store.app_set_status(app, "running", "", 9).await.unwrap();
    assert_eq!(store.apps(Some(cluster)).await.unwrap().len(), 1);
    assert_eq!(store.apps(Some(cluster + 1)).await.unwrap().len(), 0);
    // Deleting the cluster takes its apps and their versions.
    store.cluster_delete(cluster).await.unwrap();
    assert!(store.app(app).await.unwrap().is_none());
    assert!(store.app_versions(app).await.unwrap().is_empty());
}

store_test!(concurrent_writers, transactions_that_read_then_write_survive_concurrent_writers);

/// Transactions that read before they write (an app's name check, then its insert) keep succeeding
/// while other connections write: on SQLite a deferred transaction would fail with "database is
/// locked" (`SQLITE_BUSY_SNAPSHOT`, no waiting) whenever another write committed in between.
async fn transactions_that_read_then_write_survive_concurrent_writers(store: Store) {
    use domain::cluster::NewCluster;
    use domain::store::NewVersion;
    let new = NewCluster { name: "busy".into(), provider: "local".into(), status: "ready".into(), zones: vec![] };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let writers = (0..2).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                store.operation_insert(&op("noise.write", Outcome::Success, &format!("{w}/{i}"), "ip", i)).await?;
                store.cluster_set_status(cluster, "ready", "", i).await?;
            }
            Ok::<_, domain::error::Error>(())
        })
    });
    let writers: Vec<_> = writers.collect();
    let deployers = (0..4).map(|d| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                let v = NewVersion { compose: "c", vars: "v", action: "create", note: "", by: "ada" };
                let name = format!("app-{d}-{i}");
                store.app_insert(cluster, &name, "deploying", None, &v, i).await?.expect("name is free");
            }
            Ok::<_, domain::error::Error>(())
        })
    });
    for task in deployers.collect::<Vec<_>>().into_iter().chain(writers) {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.apps(Some(cluster)).await.unwrap().len(), 100);
}

store_test!(leases, leases_have_one_holder_until_they_lapse);

async fn leases_have_one_holder_until_they_lapse(store: Store) {
    assert!(store.lease_hold("cluster:1", "a", 0, 100).await.unwrap());
    assert!(!store.lease_hold("cluster:1", "b", 50, 150).await.unwrap(), "held by a");
    assert!(store.lease_hold("cluster:1", "a", 60, 160).await.unwrap(), "a renews");
    assert_eq!(store.lease("cluster:1").await.unwrap(), Some(("a".into(), 160)));
    assert!(!store.lease_hold("cluster:1", "b", 159, 259).await.unwrap());
    assert!(store.lease_hold("cluster:1", "b", 160, 260).await.unwrap(), "lapsed: b takes it over");
    assert!(!store.lease_hold("cluster:1", "a", 170, 270).await.unwrap());
    // Leases are independent; releasing gives up only the holder's own, by prefix.
    assert!(store.lease_hold("maintenance", "a", 170, 270).await.unwrap());
    store.lease_release("cluster:", "a").await.unwrap();
    assert_eq!(store.lease("cluster:1").await.unwrap(), Some(("b".into(), 260)));
    store.lease_release("cluster:", "b").await.unwrap();
    assert_eq!(store.lease("cluster:1").await.unwrap(), None);
    assert_eq!(store.lease("maintenance").await.unwrap(), Some(("a".into(), 270)));
    assert!(store.lease_hold("cluster:1", "a", 180, 280).await.unwrap(), "free again");

    // Claims last as long as their holder's heartbeat (`instance:` lease), not by time.
    assert!(store.lease_hold("instance:a", "a", 1_000, 2_000).await.unwrap());
    assert!(store.claim_take("claim:app:1", "a", 1, 1_000).await.unwrap());
    assert!(!store.claim_take("claim:app:1", "b", 2, 1_500).await.unwrap(), "a is alive");
    assert!(store.claim_take("claim:app:1", "a", 3, 1_500).await.unwrap(), "a claims again");
    store.claim_drop("claim:app:1", "a", 1).await.unwrap();
    assert_eq!(store.lease("claim:app:1").await.unwrap(), Some(("a".into(), 3)), "an old claim's release is void");
    assert!(store.claim_take("claim:app:1", "b", 4, 2_000).await.unwrap(), "a's heartbeat lapsed");
    store.claim_drop("claim:app:1", "b", 4).await.unwrap();
    assert_eq!(store.lease("claim:app:1").await.unwrap(), None);

    // A cluster's newest collection is replaced by the next one.
    assert_eq!(store.metric_latest(7).await.unwrap(), None);
    store.metric_latest_put(7, 1_000, "a", "{\"one\":1}").await.unwrap();
    store.metric_latest_put(7, 2_000, "b", "{\"two\":2}").await.unwrap();
    assert_eq!(store.metric_latest(7).await.unwrap(), Some((2_000, "b".into(), "{\"two\":2}".into())));
}

store_test!(scaling, scaling_policies_points_and_decisions);

async fn scaling_policies_points_and_decisions(store: Store) {
    use domain::cluster::NewCluster;
    use domain::store::{DecisionRow, NewPoint, NewVersion, PolicyRow, ScalingPoint};
    let new = NewCluster { name: "c".into(), provider: "local".into(), status: "ready".into(), zones: vec![] };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let v = NewVersion { compose: "x", vars: "sealed", action: "create", note: "", by: "ada" };
    let app = store.app_insert(cluster, "shop", "deploying", None, &v, 5).await.unwrap().unwrap();
    let row = |source: &str, schedules: &str| PolicyRow {
        app_id: app,
        service: "web".into(),
        source: source.into(),
        policy: r#"{"metric":"cpu","mode":"target","target":50.0,"window_s":300,"min":1,"max":3}"#.into(),
        schedules: schedules.into(),
        updated_by: "ada".into(),
        updated_at: 10,
        ..PolicyRow::default()
    };
    store.scaling_policy_put(&row("console", r#"[{"name":"w"}]"#)).await.unwrap();
    // Paused and read back with its cluster; a policy from labels keeps the console's windows.
    assert!(store.scaling_policy_pause(app, "web", Some(("ada", 20))).await.unwrap());
    store.scaling_policy_put(&row("labels", "[]")).await.unwrap();
    let of_cluster = store.scaling_policies_of_cluster(cluster).await.unwrap();
    assert_eq!(of_cluster.len(), 1);
    let p = &of_cluster[0];
    assert_eq!(
        (p.app_name.as_str(), p.row.source.as_str(), p.row.schedules.as_str()),
        ("shop", "labels", r#"[{"name":"w"}]"#)
    );
    assert_eq!((p.row.paused_at, p.row.paused_by.as_str()), (Some(20), "ada"));
    assert!(store.scaling_policy_pause(app, "web", None).await.unwrap());
    assert_eq!(store.scaling_policies(app).await.unwrap()[0].paused_at, None);
    assert!(!store.scaling_policy_pause(app, "db", None).await.unwrap(), "no policy, nothing paused");

    let point = |ts, value| NewPoint {
        app_id: app,
        service: "web".into(),
        point: ScalingPoint { ts, replicas: 2, recommended: 3, value },
    };
    store.scaling_points_insert(&[point(100, Some(61.5)), point(200, None)]).await.unwrap();
    let points = store.scaling_points(app, "web", 150).await.unwrap();
    assert_eq!(points, vec![ScalingPoint { ts: 200, replicas: 2, recommended: 3, value: None }]);
    let decision = |ts, kind: &str| DecisionRow {
        app_id: app,
        service: "web".into(),
        ts,
        from_replicas: 2,
        to_replicas: 3,
        value: Some(61.5),
        kind: kind.into(),
        reason: "why".into(),
        ..DecisionRow::default()
    };
    store.scaling_decision_insert(&decision(100, "scale-up")).await.unwrap();
    store.scaling_decision_insert(&decision(300, "at-max")).await.unwrap();
    let newest: Vec<String> =
        store.scaling_decisions(app, "web", 10).await.unwrap().into_iter().map(|d| d.kind).collect();
    assert_eq!(newest, ["at-max", "scale-up"]);
    // Expiry: evaluations and decisions by their own cut-offs.
    store.scaling_expire(150, 200).await.unwrap();
    assert_eq!(store.scaling_points(app, "web", 0).await.unwrap().len(), 1);
    assert_eq!(store.scaling_decisions(app, "web", 10).await.unwrap().len(), 1);
    assert!(store.scaling_policy_delete(app, "web").await.unwrap());
    assert!(store.scaling_policies(app).await.unwrap().is_empty());
}

store_test!(job_runs, job_runs_once_per_time_followed_and_trimmed);

async fn job_runs_once_per_time_followed_and_trimmed(store: Store) {
    use domain::cluster::NewCluster;
    use domain::jobs::{JobRunRow, RUNS_KEPT};
    use domain::store::NewVersion;
    let new = NewCluster { name: "c".into(), provider: "local".into(), status: "ready".into(), zones: vec![] };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let v = NewVersion { compose: "x", vars: "sealed", action: "create", note: "", by: "ada" };
    let app = store.app_insert(cluster, "shop", "deploying", None, &v, 5).await.unwrap().unwrap();
    let run = |scheduled_at: Option<i64>, started_at: i64, state: &str| JobRunRow {
        app_id: app,
        service: "report".into(),
        swarm_service: "shop_report".into(),
        trigger: if scheduled_at.is_some() { "schedule" } else { "manual" }.into(),
        actor: "scheduler".into(),
        scheduled_at,
        started_at,
        state: state.into(),
        completions: 2,
        tasks: "[]".into(),
        ..JobRunRow::default()
    };
    // A scheduled time is recorded once: a second replica's insert lands nowhere.
    let first = store.job_run_insert(&run(Some(10_000), 10_050, "running")).await.unwrap().expect("recorded");
    assert_eq!(store.job_run_insert(&run(Some(10_000), 10_060, "running")).await.unwrap(), None);
    // Manual runs have no time and are never merged.
    assert!(store.job_run_insert(&run(None, 11_000, "running")).await.unwrap().is_some());
    assert!(store.job_run_insert(&run(None, 11_001, "running")).await.unwrap().is_some());
    assert_eq!(store.job_last_scheduled(app, "report").await.unwrap(), Some(10_000));
    assert_eq!(store.job_last_scheduled(app, "other").await.unwrap(), None);

    let open = store.job_runs_open(cluster).await.unwrap();
    assert_eq!(open.len(), 3);
    assert_eq!((open[0].app_name.as_str(), open[0].run.id), ("shop", first));
    assert!(store.job_runs_open(cluster + 1).await.unwrap().is_empty());

    // Followed, then ended; an ended run no longer changes.
    let mut r = store.job_run(first).await.unwrap().unwrap();
    r.iteration = Some(4);
    r.succeeded_tasks = 1;
    r.tasks = r#"[{"id":"t1","exit_code":0}]"#.into();
    assert!(store.job_run_update(&r).await.unwrap());
    r.state = "succeeded".into();
    r.ended_at = Some(12_000);
    r.succeeded_tasks = 2;
    assert!(store.job_run_update(&r).await.unwrap());
    r.state = "failed".into();
    assert!(!store.job_run_update(&r).await.unwrap(), "an ended run stays as it ended");
    let back = store.job_run(first).await.unwrap().unwrap();
    assert_eq!(
        (back.state.as_str(), back.ended_at, back.iteration, back.succeeded_tasks),
        ("succeeded", Some(12_000), Some(4), 2)
    );
    assert_eq!(back.tasks, r#"[{"id":"t1","exit_code":0}]"#);
    assert_eq!(store.job_runs_open(cluster).await.unwrap().len(), 2);

    // Newest first; the newest RUNS_KEPT are kept per service, open runs never trimmed.
    for i in 0..RUNS_KEPT + 5 {
        store.job_run_insert(&run(Some(20_000 + i), 20_000 + i, "skipped")).await.unwrap().unwrap();
    }
    let kept = store.job_runs(app, "report", 1_000).await.unwrap();
    assert!(kept.len() as i64 <= RUNS_KEPT + 2, "{} kept", kept.len());
    assert_eq!(kept[0].scheduled_at, Some(20_000 + RUNS_KEPT + 4), "newest first");
    assert!(kept.iter().all(|r| r.id != first), "the oldest ended run went");
    assert_eq!(kept.iter().filter(|r| r.state == "running").count(), 2, "open runs stay");

    // Expiry by age leaves open runs.
    store.job_runs_expire(1_000_000).await.unwrap();
    let left = store.job_runs(app, "report", 1_000).await.unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|r| r.state == "running"));
}
