//! Store contract of the observability tables, on SQLite and PostgreSQL: the hash-chained history and
//! its verification, metric samples and rollups, the routers' request samples, log search and
//! retention, events and alerts.

use domain::alerts::{NewAlertRule, NewEvent};
use domain::logs::{LogFilter, NewLogLine};
use domain::metrics::Sample;
use domain::operation::{NewOperation, Outcome};
use domain::store::{OperationFilter, Store, TrafficSample};
use domain::store_test;
use serde_json::json;

fn op(action: &str, cluster: Option<i64>, actor: (i64, &str), at: i64) -> NewOperation {
    NewOperation {
        started_at: at,
        duration_ms: 3,
        actor_id: Some(actor.0),
        actor_name: actor.1.into(),
        source: "10.0.0.1".into(),
        channel: "console".into(),
        action: action.into(),
        target: format!("target-{at}"),
        params: json!({"replicas": at}),
        outcome: Outcome::Success,
        error_code: None,
        error_message: None,
        request_id: format!("req-{at}"),
        cluster_id: cluster,
    }
}

fn is_sqlite(store: &Store) -> bool {
    store.backend() == domain::store::Backend::Sqlite
}

async fn history_is_chained_filtered_and_tamper_evident(store: Store) {
    let empty = store.verify_chain().await.unwrap();
    assert!(empty.intact() && empty.rows == 0);
    let mut ids = Vec::new();
    for (i, (action, cluster, actor)) in [
        ("app.deploy", Some(1), (1, "ann")),
        ("app.scale", Some(2), (2, "bob")),
        ("cluster.rename", Some(1), (2, "bob")),
        ("user.create", None, (1, "ann")),
        ("app.delete", Some(2), (1, "ann")),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(store.operation_insert(&op(action, cluster, actor, 1000 + i as i64)).await.unwrap());
    }
    let report = store.verify_chain().await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.rows, report.head_id), (5, ids[4]));

    // Filters: action prefix, actor, cluster, words, time, paging; and grant scope.
    let list = |f: OperationFilter| {
        let store = store.clone();
        async move { store.operations(&OperationFilter { limit: 100, ..f }, None).await.unwrap() }
    };
    let actions = |rows: Vec<domain::operation::Operation>| rows.into_iter().map(|r| r.action).collect::<Vec<_>>();
    assert_eq!(
        actions(list(OperationFilter { action: "app.".into(), ..Default::default() }).await),
        ["app.delete", "app.scale", "app.deploy"]
    );
    assert_eq!(
        actions(list(OperationFilter { actor: "bob".into(), ..Default::default() }).await),
        ["cluster.rename", "app.scale"]
    );
    assert_eq!(
        actions(list(OperationFilter { cluster: Some(1), ..Default::default() }).await),
        ["cluster.rename", "app.deploy"]
    );
    assert_eq!(
        actions(list(OperationFilter { q: "RENAME target".into(), ..Default::default() }).await),
        ["cluster.rename"]
    );
    assert_eq!(
        actions(list(OperationFilter { since: Some(1003), ..Default::default() }).await),
        ["app.delete", "user.create"]
    );
    assert_eq!(
        actions(list(OperationFilter { before: Some(ids[2]), ..Default::default() }).await),
        ["app.scale", "app.deploy"]
    );
    let scoped =
        store.operations(&OperationFilter { limit: 100, ..Default::default() }, Some((&[1], 2))).await.unwrap();
    assert_eq!(actions(scoped), ["cluster.rename", "app.scale", "app.deploy"]);
    let nothing =
        store.operations(&OperationFilter { limit: 100, ..Default::default() }, Some((&[], 9))).await.unwrap();
    assert!(nothing.is_empty());

    // The database refuses changes to chained rows…
    assert!(store.execute_for_tests("UPDATE operations SET target = 'x'").await.is_err());
    assert!(store.execute_for_tests("DELETE FROM operations").await.is_err());
    // …and when an attacker removes that guard, verification finds what they did.
    let unguard = if is_sqlite(&store) {
        "DROP TRIGGER operations_no_update; DROP TRIGGER operations_no_delete"
    } else {
        "DROP TRIGGER operations_append_only ON operations"
    };
    for sql in unguard.split("; ") {
        store.execute_for_tests(sql).await.unwrap();
    }
    store
        .execute_for_tests(&format!("UPDATE operations SET params = '{{\"replicas\":0}}' WHERE id = {}", ids[1]))
        .await
        .unwrap();
    let report = store.verify_chain().await.unwrap();
    let broken = report.broken.expect("a changed row is found");
    assert_eq!(broken.id, ids[1]);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);

    store.execute_for_tests(&format!("DELETE FROM operations WHERE id = {}", ids[1])).await.unwrap();
    let report = store.verify_chain().await.unwrap();
    let broken = report.broken.expect("a removed row is found");
    assert_eq!(broken.id, ids[2]);
    assert!(broken.reason.contains("removed"), "{}", broken.reason);
}
store_test!(history_chain, history_is_chained_filtered_and_tamper_evident);

fn sample(scope: &str, key: &str, ts: i64, cpu: f64) -> Sample {
    Sample {
        cluster_id: 1,
        scope: scope.into(),
        key: key.into(),
        ts,
        cpu,
        mem: 100.0,
        mem_limit: 1000.0,
        ..Sample::default()
    }
}

async fn metrics_roll_up_and_expire(store: Store) {
    // Three minutes of a series every 10 s: cpu 10, 20, 30 per minute; plus another series.
    let mut samples = Vec::new();
    for minute in 0..3 {
        for s in 0..6 {
            let ts = 600_000 + minute * 60_000 + s * 10_000;
            samples.push(sample("service", "web", ts, 10.0 * (minute + 1) as f64));
            samples.push(sample("service", "db", ts, 99.0));
        }
    }
    store.metric_insert(&samples).await.unwrap();
    let raw = store.metric_raw_series(1, "service", "web", 600_000, 780_000, 60_000).await.unwrap();
    assert_eq!(
        raw.iter().map(|p| (p.ts, p.cpu)).collect::<Vec<_>>(),
        [(600_000, 10.0), (660_000, 20.0), (720_000, 30.0)]
    );

    assert_eq!(store.metric_rollup_start().await.unwrap(), Some(600_000));
    assert_eq!(store.metric_rollup(600_000, 720_000).await.unwrap(), 4);
    // Rolling up the same minutes again changes nothing.
    assert_eq!(store.metric_rollup(600_000, 720_000).await.unwrap(), 0);
    assert_eq!(store.metric_rollup_start().await.unwrap(), Some(720_000));
    let rolled = store.metric_rollup_series(1, "service", "web", 0, 10_000_000, 120_000).await.unwrap();
    assert_eq!(rolled.len(), 1);
    assert_eq!((rolled[0].ts, rolled[0].cpu, rolled[0].cpu_max, rolled[0].mem), (600_000, 15.0, 20.0, 100.0));

    assert_eq!(store.metric_expire(660_000, 0).await.unwrap(), 12);
    assert_eq!(store.metric_raw_series(1, "service", "web", 0, 10_000_000, 60_000).await.unwrap().len(), 2);
    store.metric_expire(0, 10_000_000).await.unwrap();
    assert!(store.metric_rollup_series(1, "service", "web", 0, 10_000_000, 60_000).await.unwrap().is_empty());
}
store_test!(metrics, metrics_roll_up_and_expire);

fn traffic(
    cluster_id: i64,
    ts: i64,
    route: &str,
    side: &str,
    requests: i64,
    s5xx: i64,
    p99: Option<f64>,
) -> TrafficSample {
    TrafficSample {
        cluster_id,
        ts,
        route: route.into(),
        app: route.split('/').next().unwrap().into(),
        service: side.into(),
        interval_ms: 5000,
        requests,
        status5xx: s5xx,
        rps: requests as f64 / 5.0,
        err5xx_pct: if requests > 0 { 100.0 * s5xx as f64 / requests as f64 } else { 0.0 },
        p50_ms: p99.map(|p| p / 2.0),
        p99_ms: p99,
        latency: "0,0,0,0,1".into(),
        ..TrafficSample::default()
    }
}

async fn traffic_is_bucketed_read_latest_windowed_and_expired(store: Store) {
    let rows = [
        traffic(1, 5_000, "shop/web:80", "web", 50, 0, Some(20.0)),
        traffic(1, 10_000, "shop/web:80", "web", 100, 10, Some(40.0)),
        traffic(1, 10_000, "shop/web:80", "web-green", 10, 10, Some(900.0)),
        traffic(1, 15_000, "shop/web:80", "web", 0, 0, None),
        traffic(1, 15_000, "shop/web:80", "web-green", 0, 0, None),
        traffic(1, 15_000, "blog/www:80", "www", 5, 0, Some(3.0)),
        traffic(2, 15_000, "shop/web:80", "web", 7, 0, Some(1.0)),
    ];
    store.traffic_insert(&rows).await.unwrap();
    store.traffic_insert(&[]).await.unwrap();

    // Steps of 10 s: rates averaged, 5xx as a share of the step's requests, the highest p99, p50
    // averaged over the intervals that had requests (NULLs left out).
    let series = store.traffic_series(1, Some("shop"), 0, 20_000, 10_000).await.unwrap();
    let keys: Vec<(&str, i64)> = series.iter().map(|r| (r.service.as_str(), r.ts)).collect();
    assert_eq!(keys, [("web", 0), ("web", 10_000), ("web-green", 10_000)]);
    let web = &series[1];
    assert_eq!((web.route.as_str(), web.app.as_str(), web.requests), ("shop/web:80", "shop", 100));
    assert_eq!(web.rps, 10.0);
    assert_eq!(web.err5xx_pct, 10.0);
    assert_eq!((web.p50_ms, web.p99_ms), (Some(20.0), Some(40.0)));
    assert_eq!(series[2].err5xx_pct, 100.0);
    let all = store.traffic_series(1, None, 0, 20_000, 10_000).await.unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(store.traffic_series(1, Some("shop"), 20_000, 30_000, 10_000).await.unwrap().is_empty());

    // The newest collection, whole: NULL latencies read as none.
    let latest = store.traffic_latest(1, None).await.unwrap();
    let sides: Vec<&str> = latest.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(sides, ["www", "web", "web-green"]);
    assert_eq!(latest[1], rows[3]);
    assert_eq!(store.traffic_latest(1, Some("blog")).await.unwrap(), [rows[5].clone()]);
    assert!(store.traffic_latest(3, None).await.unwrap().is_empty());

    // One side's window, by route or by app.
    let by_route = store.traffic_window(1, "shop/web:80", "web", 5_000).await.unwrap();
    assert_eq!(by_route, [rows[1].clone(), rows[3].clone()]);
    assert_eq!(store.traffic_window(1, "shop", "web", 0).await.unwrap().len(), 3);
    assert!(store.traffic_window(1, "blog", "web", 0).await.unwrap().is_empty());

    // Expiry by age; a deleted cluster's samples go with it.
    assert_eq!(store.traffic_expire(10_000).await.unwrap(), 1);
    store.traffic_forget_cluster(2).await.unwrap();
    assert!(store.traffic_latest(2, None).await.unwrap().is_empty());
    assert_eq!(store.traffic_latest(1, None).await.unwrap().len(), 3);
}

store_test!(traffic_samples, traffic_is_bucketed_read_latest_windowed_and_expired);

fn line(container: &str, service: &str, ts: i64, text: &str) -> NewLogLine {
    NewLogLine {
        cluster_id: 1,
        node_id: 3,
        app: "shop".into(),
        service: service.into(),
        container_id: container.into(),
        task: format!("{service}.1"),
        ts,
        stream: "stdout",
        line: text.into(),
    }
}

async fn logs_are_searched_tailed_and_expired(store: Store) {
    store
        .log_insert(&[
            line("c1", "shop_web", 30, "GET /cart 200 in 3ms"),
            line("c2", "shop_web", 10, "connection timeout to db"),
            line("c1", "shop_web", 20, "GET /pay 500 Timeout"),
            line("c3", "shop_db", 15, "checkpoint complete"),
        ])
        .await
        .unwrap();
    let texts = |lines: Vec<domain::logs::LogLine>| lines.into_iter().map(|l| l.line).collect::<Vec<_>>();
    let f = |q: &str| LogFilter { cluster_id: 1, q: q.into(), limit: 100, ..Default::default() };
    // Time order across containers; words in any case.
    assert_eq!(
        texts(store.log_lines(&LogFilter { service: "shop_web".into(), ..f("") }).await.unwrap()),
        ["connection timeout to db", "GET /pay 500 Timeout", "GET /cart 200 in 3ms"]
    );
    assert_eq!(
        texts(store.log_lines(&f("timeout")).await.unwrap()),
        ["connection timeout to db", "GET /pay 500 Timeout"]
    );
    assert_eq!(texts(store.log_lines(&f("get TIMEOUT")).await.unwrap()), ["GET /pay 500 Timeout"]);
    assert_eq!(texts(store.log_lines(&f("\" * -")).await.unwrap()).len(), 4);
    assert!(store.log_lines(&f("nothinglikethis")).await.unwrap().is_empty());
    assert_eq!(
        texts(store.log_lines(&LogFilter { container: "c3".into(), ..f("") }).await.unwrap()),
        ["checkpoint complete"]
    );
    assert_eq!(store.log_lines(&LogFilter { cluster_id: 2, ..f("") }).await.unwrap().len(), 0);
    // A tail returns what came after an id.
    let all = store.log_lines(&f("")).await.unwrap();
    let max = all.iter().map(|l| l.id).max().unwrap();
    store.log_insert(&[line("c1", "shop_web", 40, "later")]).await.unwrap();
    assert_eq!(texts(store.log_lines(&LogFilter { after: Some(max), ..f("") }).await.unwrap()), ["later"]);
    assert_eq!(store.log_last_ts("c1").await.unwrap(), Some(40));

    // The kept size follows every insert (characters, not bytes: "µs" is 2).
    let kept = |lines: Vec<domain::logs::LogLine>| lines.iter().map(|l| l.line.chars().count() as i64).sum::<i64>();
    store.log_insert(&[line("c9", "other", 50, "took 5µs")]).await.unwrap();
    let everything = LogFilter { cluster_id: 1, limit: 10_000, ..Default::default() };
    assert_eq!(store.log_bytes().await.unwrap(), kept(store.log_lines(&everything).await.unwrap()));
    assert_eq!(store.log_bytes().await.unwrap(), 20 + 24 + 20 + 19 + 5 + 8);

    // Retention by age, then by size (the oldest lines go first), and the index and size follow.
    assert_eq!(store.log_expire(15, i64::MAX).await.unwrap(), 1);
    assert!(store.log_lines(&f("connection")).await.unwrap().is_empty());
    assert_eq!(store.log_bytes().await.unwrap(), 20 + 20 + 19 + 5 + 8);
    store.log_expire(0, 13).await.unwrap();
    assert_eq!(texts(store.log_lines(&f("")).await.unwrap()), ["later", "took 5µs"]);
    assert!(store.log_lines(&f("timeout")).await.unwrap().is_empty());
    assert_eq!(store.log_bytes().await.unwrap(), 13);
    store.log_forget_cluster(1).await.unwrap();
    assert_eq!(store.log_bytes().await.unwrap(), 0);
}
store_test!(logs, logs_are_searched_tailed_and_expired);

async fn events_and_alerts_are_kept(store: Store) {
    let new = domain::cluster::NewCluster {
        name: "c1".into(),
        provider: "local".into(),
        status: "ready".into(),
        zones: vec![],
    };
    let cluster = store.cluster_insert(&new, 1).await.unwrap();
    let event = |ts: i64, app: &str| NewEvent {
        cluster_id: cluster,
        ts,
        kind: "container".into(),
        action: "die".into(),
        app: app.into(),
        service: format!("{app}_web"),
        subject: "x".into(),
        severity: "error",
        message: format!("at {ts}"),
    };
    store.event_insert(&[event(1, "shop"), event(2, "blog"), event(3, "shop")]).await.unwrap();
    let messages = |e: Vec<domain::alerts::Event>| e.into_iter().map(|e| e.message).collect::<Vec<_>>();
    assert_eq!(messages(store.events(cluster, "", 10).await.unwrap()), ["at 3", "at 2", "at 1"]);
    assert_eq!(messages(store.events(cluster, "shop", 10).await.unwrap()), ["at 3", "at 1"]);
    // Narrowed by words, severity and a page's last event.
    let mut info = event(4, "shop");
    info.severity = "info";
    info.message = "shop web started".into();
    store.event_insert(&[info]).await.unwrap();
    let filter = |severity: &str, q: &str, before: Option<i64>| domain::alerts::EventFilter {
        severity: severity.into(),
        q: q.into(),
        before,
        limit: 2,
        ..Default::default()
    };
    let all = store.events_where(cluster, &filter("", "", None)).await.unwrap();
    assert_eq!(messages(all.clone()), ["shop web started", "at 3"]);
    let older = store.events_where(cluster, &filter("", "", Some(all[1].id))).await.unwrap();
    assert_eq!(messages(older), ["at 2", "at 1"]);
    assert_eq!(messages(store.events_where(cluster, &filter("error", "", None)).await.unwrap()), ["at 3", "at 2"]);
    assert_eq!(
        messages(store.events_where(cluster, &filter("", "WEB start", None)).await.unwrap()),
        ["shop web started"]
    );
    assert_eq!(messages(store.events_where(cluster, &filter("", "100%_", None)).await.unwrap()), Vec::<String>::new());
    assert_eq!(store.event_expire(2).await.unwrap(), 1);

    let rule = NewAlertRule {
        cluster_id: cluster,
        name: "hot".into(),
        kind: "metric".into(),
        scope: "cluster".into(),
        metric: "cpu".into(),
        threshold: 80.0,
        for_secs: 60,
        ..Default::default()
    };
    let id = store.alert_rule_insert(&rule, "ann", 5).await.unwrap();
    let rule = store.alert_rule(id).await.unwrap().unwrap();
    assert_eq!((rule.name.as_str(), rule.threshold, rule.enabled), ("hot", 80.0, 1));
    let fired = store.alert_fire(&rule, 100, 91.5, "too hot").await.unwrap();
    assert_eq!(store.alert_open(id).await.unwrap().map(|a| a.id), Some(fired));
    store.alert_resolve(fired, 200).await.unwrap();
    store.alert_delivered(fired, "resolved: 200").await.unwrap();
    assert_eq!(store.alert_open(id).await.unwrap(), None);
    let history = store.alert_events(cluster, 10).await.unwrap();
    assert_eq!(
        (history[0].fired_at, history[0].resolved_at, history[0].delivery.as_str()),
        (100, Some(200), "resolved: 200")
    );
    // Since when a condition holds is kept (the first time counts) and cleared.
    store.alert_pending_set(id, Some(300)).await.unwrap();
    store.alert_pending_set(id, Some(400)).await.unwrap();
    assert_eq!(store.alert_pending(cluster).await.unwrap(), [(id, 300)].into());
    assert!(store.alert_pending(cluster + 1).await.unwrap().is_empty());
    store.alert_pending_set(id, None).await.unwrap();
    assert!(store.alert_pending(cluster).await.unwrap().is_empty());
    store.alert_pending_set(id, Some(500)).await.unwrap();
    // The history outlives the rule; what was pending goes with it.
    store.alert_rule_delete(id).await.unwrap();
    assert_eq!(store.alert_events(cluster, 10).await.unwrap().len(), 1);
    assert!(store.alert_pending(cluster).await.unwrap().is_empty());
    let left: i64 = store.execute_for_tests("DELETE FROM alert_pending").await.unwrap() as i64;
    assert_eq!(left, 0, "no pending row outlives its rule");
}
store_test!(alerts, events_and_alerts_are_kept);
