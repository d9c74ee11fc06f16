//! Observability on a real 3-node local cluster with images built offline: the collector follows
//! every task container's log into the store (each task's lines in order, the service's lines merged
//! by time, word search, lines kept after the app is gone), samples CPU and memory per container,
//! service, node and cluster, evaluates alert rules (a CPU rule fires and resolves, posting both to a
//! webhook; a replicas rule fires while a service runs fewer tasks than desired), writes the
//! timeline, and leaves the operation history intact.
#![allow(clippy::print_stderr)] // the time each part took, shown with --nocapture

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::alerts::NewAlertRule;
use domain::app::AppInput;
use domain::authz::{Principal, UserRef};
use domain::logs::{LogFilter, LogLine};
use domain::store::OperationFilter;
use domain::testing::{ClusterOptions, TestBerth, TestCluster};
use domain::{Actor, Berth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMAGE: &str = "berth-test/observe:1";

fn admin() -> Actor {
    Actor {
        principal: Principal::User(UserRef::admin(1, "admin")),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn wait_job(berth: &Berth, id: i64) -> domain::job::Job {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let job = berth.job(&admin(), id).await.unwrap();
        if job.status != "running" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still running: {:?}", job.steps());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn succeeded(berth: &Berth, id: i64) -> domain::job::Job {
    let job = wait_job(berth, id).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    job
}

async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A webhook receiver: answers every request 200 and keeps the JSON bodies of the POSTs.
async fn webhook_server() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let bodies = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then the body by Content-Length.
                let (head_end, length) = loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = &buf[head_end..head_end + length];
                if let Ok(json) = serde_json::from_slice(body) {
                    bodies.lock().unwrap().push(json);
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, received)
}

/// An SMTP sink: speaks just enough SMTP to take messages, and keeps each message's text.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let messages = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let messages = messages.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let (read, mut write) = stream.into_split();
                let mut lines = tokio::io::BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(text) = data.as_mut() {
                        if line == "." {
                            messages.lock().unwrap().push(std::mem::take(text));
                            data = None;
                            let _ = write.write_all(b"250 OK\r\n").await;
                        } else {
                            text.push_str(&line);
                            text.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    let _ = write.write_all(answer).await;
                }
            });
        }
    });
    (port, received)
}

const APP: &str = r#"
services:
  talk:
    image: berth-test/observe:1
    init: true
    hostname: "talker{{.Task.Slot}}"
    command: ["sh", "-c", "i=0; while [ $$i -lt 50 ]; do echo \"line $$i from $$(hostname)\"; i=$$((i+1)); sleep 0.05; done; sleep 100000"]
    deploy:
      replicas: 3
  burn:
    image: berth-test/observe:1
    init: true
    command: ["sh", "-c", "while :; do :; done"]
  idle:
    image: berth-test/observe:1
    init: true
    command: ["sleep", "100000"]
"#;

/// The number in `line N from talkerS`.
fn number(l: &LogLine) -> i64 {
    l.line.split(' ').nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("unexpected line {:?}", l.line))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_metrics_alerts_and_timeline_of_a_real_cluster() {
    let started = Instant::now();
    let test = TestBerth::new(|config| {
        config.app_deploy_timeout = Duration::from_secs(90);
        config.collect_every = Duration::from_secs(1);
        config.maintain_every = Duration::from_secs(2);
    })
    .await;
    let berth = test.berth.clone();
    let admin = admin();

    // A busybox-static image with the few applets the services use.
    let options =
        ClusterOptions::three_nodes("observe").image(IMAGE, &["sh", "sleep", "echo", "hostname", "[", "test"]);
    let created = TestCluster::create(&berth, options).await;
    let cluster = &created.summary;
    let id = created.id;
    let manager = created.node("n1").endpoint.clone();

    let input =
        AppInput { cluster_id: id, name: "obs".into(), compose: APP.into(), vars: BTreeMap::new(), template_id: None };
    let (app, job) = berth.deploy_app(&admin, &input).await.unwrap();
    succeeded(&berth, job).await;
    let detail = berth.app_detail(&admin, app).await.unwrap();
    let service = |name: &str| detail.services.iter().find(|s| s.name == name).unwrap().clone();
    let talk_containers: BTreeSet<String> = service("talk").tasks.iter().map(|t| t.container_id.clone()).collect();
    assert_eq!(talk_containers.len(), 3, "{:?}", service("talk").tasks);
    let burn_task = service("burn").tasks[0].clone();
    eprintln!("deployed after {:?}", started.elapsed());

    // 1. Logs: all 150 lines arrive, once each.
    let talk = LogFilter { cluster_id: id, service: "obs_talk".into(), limit: 1000, ..LogFilter::default() };
    eventually(Duration::from_secs(30), "150 lines of obs_talk", async || {
        berth.logs(&admin, &talk).await.unwrap().len() >= 150
    })
    .await;
    // Followers read each line once, also across collections.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let merged = berth.logs(&admin, &talk).await.unwrap();
    assert_eq!(merged.len(), 150, "{:?}", merged.iter().map(|l| &l.line).collect::<Vec<_>>());
    // The service's view merges its tasks by time.
    assert!(merged.windows(2).all(|w| w[0].ts <= w[1].ts), "not in time order");
    let from_logs: BTreeSet<String> = merged.iter().map(|l| l.container_id.clone()).collect();
    assert_eq!(from_logs, talk_containers);
    assert!(merged.iter().all(|l| l.app == "obs" && l.stream == "stdout" && l.task.starts_with("obs_talk.")));
    // Each task's lines, by container: 0 to 49 in order, all from the same replica.
    let mut replicas = BTreeSet::new();
    for container in &talk_containers {
        let filter = LogFilter { container: container.clone(), ..talk.clone() };
        let lines = berth.logs(&admin, &filter).await.unwrap();
        assert_eq!(lines.iter().map(number).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>(), "{container}");
        let from: BTreeSet<&str> = lines.iter().map(|l| l.line.rsplit(' ').next().unwrap()).collect();
        assert_eq!(from.len(), 1, "{from:?}");
        replicas.extend(from.into_iter().map(str::to_string));
    }
    assert_eq!(replicas, BTreeSet::from(["talker1".into(), "talker2".into(), "talker3".into()]));
    // A word search over the whole cluster finds one replica's lines, and one line by two words.
    let search = |q: &str| LogFilter { cluster_id: id, q: q.into(), limit: 1000, ..LogFilter::default() };
    let found = berth.logs(&admin, &search("talker2")).await.unwrap();
    assert_eq!(found.len(), 50, "{found:?}");
    assert!(found.iter().all(|l| l.line.ends_with(" from talker2")), "{found:?}");
    assert_eq!(found.iter().map(|l| &l.container_id).collect::<BTreeSet<_>>().len(), 1);
    let one = berth.logs(&admin, &search("TALKER2 line 7")).await.unwrap();
    assert_eq!(one.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["line 7 from talker2"]);
    assert!(berth.logs(&admin, &search("talker9")).await.unwrap().is_empty());
    eprintln!("logs checked after {:?}", started.elapsed());

    // 2. Metrics. cpu is percent of one core; the machine has 2 cores shared with the node engines
    // and this test, so the burner is expected above 50 % (it would be ~100 % alone), the idle
    // service below 10 %.
    let series = |scope: &'static str, key: String| {
        let (berth, admin) = (berth.clone(), admin.clone());
        async move { berth.metric_series(&admin, id, scope, &key, 60_000).await.unwrap() }
    };
    let recent_cpu = |points: &[domain::metrics::Point]| -> Vec<f64> {
        points.iter().rev().take(3).map(|p| p.cpu).collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(30), "three recent burner samples above 50 % CPU", async || {
        let s = series("service", "obs_burn".into()).await;
        let cpu = recent_cpu(&s.points);
        cpu.len() == 3 && cpu.iter().all(|c| *c > 50.0)
    })
    .await;
    let burn = series("service", "obs_burn".into()).await;
    assert!(burn.points.iter().all(|p| p.mem > 0.0), "{:?}", burn.points);
    assert!(burn.step >= 1000, "{burn:?}");
    // The idle service's first sample may come a collection after the burner's.
    eventually(Duration::from_secs(15), "three idle samples", async || {
        series("service", "obs_idle".into()).await.points.len() >= 3
    })
    .await;
    let idle = series("service", "obs_idle".into()).await;
    assert!(idle.points.iter().all(|p| p.cpu < 10.0), "idle service uses CPU: {:?}", idle.points);
    assert!(idle.points.iter().all(|p| p.mem > 0.0), "{:?}", idle.points);
    let container = series("container", burn_task.container_id.clone()).await;
    assert!(recent_cpu(&container.points).iter().any(|c| *c > 50.0), "{:?}", container.points);
    let burn_node = cluster.nodes.iter().find(|n| n.name == burn_task.node).unwrap();
    let node = series("node", burn_node.id.to_string()).await;
    assert!(recent_cpu(&node.points).iter().any(|c| *c > 50.0), "{:?}", node.points);
    let whole = series("cluster", String::new()).await;
    assert!(recent_cpu(&whole.points).iter().any(|c| *c > 50.0), "{:?}", whole.points);
    // (The cluster's series starts at zero before the app's containers exist.)
    assert!(whole.points.iter().rev().take(3).all(|p| p.mem > 0.0), "{:?}", whole.points);
    for n in &cluster.nodes {
        assert!(!series("node", n.id.to_string()).await.points.is_empty(), "no series of node {}", n.name);
    }
    // The same collection in the Prometheus text, read back from the store.
    let text = berth.prometheus(&admin).await.unwrap();
    let burner_cpu = text
        .lines()
        .find(|l| l.starts_with("berth_service_cpu_percent{") && l.contains("service=\"obs_burn\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(burner_cpu.is_some_and(|c| c > 50.0), "{text}");
    let burner_container = format!("container=\"{}\"", burn_task.container_id);
    assert!(
        text.lines().any(|l| l.starts_with("berth_container_memory_bytes{") && l.contains(&burner_container)),
        "{text}"
    );
    eprintln!("metrics checked after {:?}", started.elapsed());

    // 3. A CPU rule on the burner fires, posts to the webhook, and resolves once the burner is gone.
    let (hook, received) = webhook_server().await;
    let bodies = |status: &str| -> Vec<serde_json::Value> {
        received.lock().unwrap().iter().filter(|b| b["status"] == status).cloned().collect()
    };
    let rule = berth
        .alert_rule_create(
            &admin,
            NewAlertRule {
                cluster_id: id,
                name: "burner hot".into(),
                kind: "metric".into(),
                scope: "service".into(),
                subject: "obs_burn".into(),
                metric: "cpu".into(),
                threshold: 30.0,
                for_secs: 0,
                webhook: hook.clone(),
                channel: String::new(),
            },
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "the webhook receives the firing", async || !bodies("firing").is_empty()).await;
    let history = berth.alert_history(&admin, id).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!((history[0].rule_id, history[0].resolved_at), (rule, None), "{history:?}");
    assert!(history[0].value > 30.0, "{history:?}");
    let firing = bodies("firing");
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["rule"]["subject"], "obs_burn");
    assert_eq!(firing[0]["cluster"]["name"], "observe");
    assert_eq!(firing[0]["alert"], history[0].id);
    assert!(firing[0]["value"].as_f64().unwrap() > 30.0, "{firing:?}");

    berth.scale_service(&admin, app, "burn", 0).await.unwrap();
    eventually(Duration::from_secs(30), "the alert resolves", async || {
        berth.alert_history(&admin, id).await.unwrap()[0].resolved_at.is_some()
    })
    .await;
    eventually(Duration::from_secs(15), "the webhook receives the resolution", async || !bodies("resolved").is_empty())
        .await;
    let resolved = bodies("resolved");
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["alert"], firing[0]["alert"]);
    assert!(resolved[0]["resolved_at"].is_i64(), "{resolved:?}");
    eventually(Duration::from_secs(10), "the resolution's delivery is recorded", async || {
        berth.alert_history(&admin, id).await.unwrap()[0].delivery == "resolved: 200"
    })
    .await;
    // Nothing fires again while the burner is gone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(berth.alert_history(&admin, id).await.unwrap().len(), 1);
    assert_eq!(bodies("firing").len(), 1);

    // The timeline: the alert fired and resolved; the app's containers started.
    let events = berth.events(&admin, id, "", 1000).await.unwrap();
    let alert =
        |action: &str| events.iter().any(|e| e.kind == "alert" && e.action == action && e.subject == "burner hot");
    assert!(alert("firing") && alert("resolved"), "{events:#?}");
    // A timeline narrowed to a severity outside the allow-list is refused, naming the field.
    for severity in ["debug", "Error", "error ", "warning,error", "%"] {
        let filter = domain::alerts::EventFilter { severity: severity.into(), limit: 10, ..Default::default() };
        let err = berth.events_where(&admin, id, &filter).await.unwrap_err();
        assert!(matches!(&err, domain::Error::Invalid { field, .. } if field == "severity"), "{severity:?}: {err:?}");
    }
    let errors = domain::alerts::EventFilter { severity: "error".into(), limit: 1000, ..Default::default() };
    assert!(berth.events_where(&admin, id, &errors).await.unwrap().iter().all(|e| e.severity == "error"));
    // The engines' events arrive with the next collection after they happen.
    eventually(Duration::from_secs(15), "the app's starts and the burner's end in the timeline", async || {
        let app_events = berth.events(&admin, id, "obs", 1000).await.unwrap();
        let starts: BTreeSet<&str> = app_events
            .iter()
            .filter(|e| e.kind == "container" && e.action == "start")
            .map(|e| e.service.as_str())
            .collect();
        starts == BTreeSet::from(["obs_burn", "obs_idle", "obs_talk"])
            && app_events.iter().any(|e| e.kind == "container" && e.action == "die" && e.service == "obs_burn")
    })
    .await;
    let app_events = berth.events(&admin, id, "obs", 1000).await.unwrap();
    assert!(app_events.iter().all(|e| e.app == "obs"), "{app_events:#?}");
    eprintln!("CPU alert checked after {:?}", started.elapsed());

    // 4. A replicas rule fires while the idle service cannot place its task, and resolves after. It
    // e-mails through the installation's mail server (a local SMTP sink): refused before one is set
    // up, then the firing arrives as an e-mail; muted, the resolution is not sent.
    let idle_rule = NewAlertRule {
        cluster_id: id,
        name: "idle replicas".into(),
        kind: "replicas".into(),
        subject: "obs_idle".into(),
        channel: "email".into(),
        webhook: "ops@example.com".into(),
        ..NewAlertRule::default()
    };
    let refused = berth.alert_rule_create(&admin, idle_rule.clone()).await.unwrap_err();
    assert!(matches!(&refused, domain::Error::Invalid { field, .. } if field == "channel"), "{refused:?}");
    let (smtp_port, mails) = smtp_sink().await;
    let mail = domain::mail::MailInput {
        host: "127.0.0.1".into(),
        port: smtp_port,
        security: "none".into(),
        from: "berth@example.com".into(),
        ..Default::default()
    };
    berth.set_mail(&admin, mail).await.unwrap();
    berth.mail_test(&admin, "ops@example.com").await.unwrap();
    assert!(mails.lock().unwrap().iter().any(|m| m.contains("Subject: Berth: test e-mail")), "{mails:?}");
    let replicas = berth.alert_rule_create(&admin, idle_rule).await.unwrap();
    let open = async || {
        let history = berth.alert_history(&admin, id).await.unwrap();
        history.into_iter().find(|a| a.rule_id == replicas)
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(open().await.is_none(), "the replicas rule fired while the service runs");
    docker(&["-H", &manager, "service", "update", "-d", "--constraint-add", "node.labels.nowhere==1", "obs_idle"]);
    eventually(Duration::from_secs(30), "the replicas rule fires", async || open().await.is_some()).await;
    let fired = open().await.unwrap();
    assert!(fired.message.contains("obs_idle runs 0 of 1"), "{fired:?}");
    eventually(Duration::from_secs(15), "the firing is e-mailed", async || {
        mails.lock().unwrap().iter().any(|m| m.contains("FIRING: idle replicas on cluster observe"))
    })
    .await;
    let sent = mails.lock().unwrap().len();
    berth.alert_rule_mute(&admin, id, replicas, 60).await.unwrap();
    docker(&["-H", &manager, "service", "update", "-d", "--constraint-rm", "node.labels.nowhere==1", "obs_idle"]);
    eventually(Duration::from_secs(30), "the replicas rule resolves", async || {
        open().await.unwrap().resolved_at.is_some()
    })
    .await;
    eventually(Duration::from_secs(10), "the muted resolution is recorded, not sent", async || {
        open().await.unwrap().delivery.starts_with("resolved: not sent, muted until")
    })
    .await;
    assert_eq!(mails.lock().unwrap().len(), sent, "nothing is e-mailed while muted");
    eprintln!("replicas alert checked after {:?}", started.elapsed());

    // Logs outlive their containers: delete the app, the lines are still found.
    let job = berth.delete_app(&admin, app, true).await.unwrap();
    succeeded(&berth, job).await;
    for n in &cluster.nodes {
        let left = docker(&["-H", &n.endpoint, "ps", "-aq", "--filter", "label=com.docker.stack.namespace=obs"]);
        assert_eq!(left, "", "{}", n.name);
    }
    let kept = berth.logs(&admin, &talk).await.unwrap();
    assert_eq!(kept.len(), 150);
    let found = berth.logs(&admin, &search("talker3")).await.unwrap();
    assert_eq!(found.len(), 50);
    assert!(found.iter().all(|l| l.line.ends_with(" from talker3")), "{found:?}");

    // 5. Every step is in the history, and the chain is intact.
    let ops = berth
        .operations(&admin, &OperationFilter { cluster: Some(id), limit: 1000, ..OperationFilter::default() })
        .await
        .unwrap();
    let done = |action: &str, target: &str| {
        ops.iter().any(|o| o.action == action && o.target.starts_with(target) && o.outcome == "success")
    };
    assert!(done("app.create", "obs"), "{ops:#?}");
    assert!(done("app.scale", "obs/burn"), "{ops:#?}");
    assert!(done("alert.create", "burner hot") && done("alert.create", "idle replicas"), "{ops:#?}");
    assert!(done("app.delete", "obs"), "{ops:#?}");
    let report = berth.verify_history(&admin).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert!(report.rows >= ops.len() as i64, "{report:?}");

    let job = berth.delete_cluster(&admin, id).await.unwrap();
    succeeded(&berth, job).await;
    eprintln!("done after {:?}", started.elapsed());
}
