//! Apps on a real 3-node local cluster with images built offline: a two-service app whose services
//! talk across nodes, rolling update, scale, rollback, redeploy with image ids before and after,
//! `docker stack` seeing the app, a `docker stack deploy` stack adopted without drift, the workload
//! policy (refused for an operator, allowed for an admin, on create and on scale), and deletion that
//! leaves nothing behind.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use domain::app::AppInput;
use domain::authz::{Grant, Principal, UserRef};
use domain::testing::{ClusterOptions, TestBerth, TestCluster};
use domain::user::Role;
use domain::{Actor, Berth, ClusterRole, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WEB: &str = "berth-test/web:1";

fn actor(user: UserRef) -> Actor {
    Actor { principal: Principal::User(user), source: "127.0.0.1".into(), request_id: "test".into() }
}

fn admin() -> Actor {
    actor(UserRef::admin(1, "admin"))
}

fn operator(cluster: i64) -> Actor {
    actor(UserRef {
        id: 2,
        username: "otto".into(),
        role: Role::User,
        grants: vec![Grant { cluster: Some(cluster), role: ClusterRole::Operator }],
        token: None,
    })
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A tiny web image from busybox-static: `httpd` serving `/www` (with `marker` in `index.html`) and a
/// CGI script that asks the `api` service over the app's network.
fn build_web_image(marker: &str) {
    domain::testing::busybox_image_with(
        WEB,
        &["sh", "sleep", "httpd", "nc", "printf", "echo", "cat", "hostname", "env"],
        &[
            ("www/index.html", marker),
            (
                "www/cgi-bin/fetch",
                "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nprintf 'GET /who.txt HTTP/1.0\\r\\n\\r\\n' | nc -w 3 api 8080\n",
            ),
        ],
    );
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

/// GET `path` from `addr`; the body, or an empty string when nothing answers.
async fn http_get(addr: &str, path: &str) -> String {
    let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await
    else {
        return String::new();
    };
    let _ = stream.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await;
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut out)).await;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

async fn eventually(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const SHOP: &str = r#"
version: "3.8"
services:
  api:
    image: berth-test/web:1
    init: true
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    command: ["sh", "-c", "mkdir -p /www && (hostname; echo version=$$VERSION) > /www/who.txt && exec httpd -f -p 8080 -h /www"]
    environment:
      VERSION: ${VERSION:-1}
    volumes:
      - data:/data
    secrets:
      - greeting
    deploy:
      replicas: 2
      placement:
        constraints: [node.labels.berth.zone==b]
      update_config:
        parallelism: 1
  web:
    image: berth-test/web:1
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "18080:8080"
    labels:
      berth.latest_image: "true"
      berth.depends: api
    deploy:
      placement:
        constraints: [node.hostname==n1]
volumes:
  data: {}
secrets:
  greeting:
    environment: GREETING
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_deploy_update_scale_roll_back_redeploy_adopt_and_delete() {
    build_web_image("first");
    let test = TestBerth::new(|config| config.app_deploy_timeout = Duration::from_secs(90)).await;
    let (berth, data) = (test.berth.clone(), &test.data);

    let created = TestCluster::create(&berth, ClusterOptions::three_nodes("apps").zones(&["a", "b"])).await;
    let cluster = &created.summary;
    let id = created.id;
    let host = |name: &str| created.node(name).endpoint.clone();
    let n1_web = format!("{}:18080", created.node("n1").address);

    // A template with a missing required variable is refused at its line, nothing is created.
    let vars = BTreeMap::from([("GREETING".to_string(), "hello".to_string())]);
    let bad = SHOP.replace("environment: GREETING", "environment: MISSING");
    let refused = berth
        .deploy_app(
            &admin(),
            &AppInput { cluster_id: id, name: "shop".into(), compose: bad, vars: vars.clone(), template_id: None },
        )
        .await;
    assert!(matches!(refused, Err(Error::Invalid { ref field, .. }) if field == "compose"), "{refused:?}");
    assert!(berth.apps(&admin(), Some(id)).await.unwrap().is_empty());

    // Deploy: the job copies the image onto the nodes (no registry), then both services run.
    let input = AppInput { cluster_id: id, name: "shop".into(), compose: SHOP.into(), vars, template_id: None };
    let (app, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = succeeded(&berth, job).await;
    let images = &job.steps()[1];
    assert!(images.detail.contains("copied from Berth's engine"), "{images:?}");

    // web on n1 asks api (zone b, another node) through the app's overlay network.
    eventually(Duration::from_secs(30), "web reaches api across nodes", async || {
        let body = http_get(&n1_web, "/cgi-bin/fetch").await;
        body.contains("shop_api-") && body.contains("version=1")
    })
    .await;
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    assert_eq!(detail.app.status, "running");
    let api = detail.services.iter().find(|s| s.name == "api").unwrap();
    assert_eq!((api.desired, api.running), (2, 2));
    assert!(api.tasks.iter().all(|t| t.node == "n2" && t.state == "running"), "{:?}", api.tasks);
    assert!(detail.services.iter().all(|s| s.drift.is_empty()), "{:?}", detail.services);

    // The Docker CLI sees a stack.
    let manager = host("n1");
    let stacks = docker(&["-H", &manager, "stack", "ls", "--format", "{{.Name}} {{.Services}}"]);
    assert!(stacks.lines().any(|l| l == "shop 2"), "{stacks}");
    let ps = docker(&["-H", &manager, "stack", "ps", "shop", "--format", "{{.Name}} {{.CurrentState}}"]);
    assert_eq!(ps.lines().filter(|l| l.contains("Running")).count(), 3, "{ps}");

    // Rolling update: a new variable value is version 2.
    let vars2 = BTreeMap::from([("VERSION".to_string(), "2".to_string())]);
    let job = berth.update_app(&admin(), app, SHOP, &vars2).await.unwrap();
    succeeded(&berth, job).await;
    eventually(Duration::from_secs(30), "api answers version 2", async || {
        http_get(&n1_web, "/cgi-bin/fetch").await.contains("version=2")
    })
    .await;

    // Scale api to 3; the override shows in the app.
    berth.scale_service(&admin(), app, "api", 3).await.unwrap();
    eventually(Duration::from_secs(30), "3 api tasks", async || {
        let d = berth.app_detail(&admin(), app).await.unwrap();
        let api = d.services.iter().find(|s| s.name == "api").unwrap();
        api.running == 3 && api.desired == 3
    })
    .await;
    let refused = berth.scale_service(&admin(), app, "nope", 1).await;
    assert!(matches!(refused, Err(Error::Invalid { ref field, .. }) if field == "service"), "{refused:?}");

    // Roll back to version 1: a new version 3, api answers version 1 again, replicas from the template.
    let job = berth.rollback_app(&admin(), app, 1).await.unwrap();
    succeeded(&berth, job).await;
    let detail = berth.app_detail(&admin(), app).await.unwrap();
    assert_eq!(detail.app.version, 3);
    assert_eq!(detail.versions[0].action, "rollback");
    assert_eq!(detail.versions[0].note, "to version 1");
    assert_eq!(detail.services.iter().find(|s| s.name == "api").unwrap().desired, 2);
    eventually(Duration::from_secs(30), "api answers version 1", async || {
        http_get(&n1_web, "/cgi-bin/fetch").await.contains("version=1")
    })
    .await;
    let diff = berth.app_version_diff(&admin(), app, 1, 2).await.unwrap();
    assert!(diff.iter().any(|l| l.tag == '+' && l.text.contains("VERSION = 2")), "{diff:?}");
    let back = berth.app_version_diff(&admin(), app, 2, 3).await.unwrap();
    assert!(back.iter().any(|l| l.tag == '-' && l.text.contains("VERSION = 2")), "{back:?}");
    assert!(back.iter().all(|l| l.tag == ' ' || l.text.contains("VERSION")), "{back:?}");

    // Redeploy with latest_image: a rebuilt image reaches the nodes; ids before and after are reported.
    build_web_image("second");
    let job = berth.redeploy_app(&admin(), app).await.unwrap();
    let job = succeeded(&berth, job).await;
    let images = &job.steps()[1].detail;
    assert!(images.contains("pull failed"), "no registry here, so no pull may be claimed: {images}");
    let changed = images.split(", ").find(|c| c.contains("n1 ")).unwrap_or_default().to_string();
    let ids: Vec<&str> = changed.split(' ').filter(|w| w.starts_with("sha256:")).collect();
    assert_eq!(ids.len(), 2, "{images}");
    assert_ne!(ids[0], ids[1], "{images}");
    eventually(Duration::from_secs(30), "web serves the new image", async || {
        http_get(&n1_web, "/index.html").await.contains("second")
    })
    .await;

    // Workload policy: refused for an operator on every form, with nothing created; allowed for admins.
    let otto = operator(id);
    let privileged: &[(&str, &str)] = &[
        ("privileged", "    privileged: true\n"),
        ("pid", "    pid: host\n"),
        ("network_mode", "    network_mode: host\n"),
        ("devices", "    devices: [\"/dev/fuse:/dev/fuse\"]\n"),
        ("cap_add", "    cap_add: [SYS_ADMIN]\n"),
        ("volumes", "    volumes: [\"/:/host\"]\n"),
        ("volumes", "    volumes: [\"/var/run/../run/docker.sock:/s\"]\n"),
        (
            "volumes",
            "    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n        target: /var/run/docker.sock\n",
        ),
    ];
    for (field, extra) in privileged {
        let compose = format!("services:\n  tool:\n    image: {WEB}\n    command: [sleep, '1000']\n{extra}");
        let input = AppInput { cluster_id: id, name: "tool".into(), compose, vars: BTreeMap::new(), template_id: None };
        match berth.deploy_app(&otto, &input).await {
            Err(Error::Forbidden(m)) => assert!(m.contains(field), "{field}: {m}"),
            other => panic!("{extra}: {other:?}"),
        }
    }
    assert_eq!(berth.apps(&admin(), Some(id)).await.unwrap().len(), 1);
    let compose = format!(
        "services:\n  tool:\n    image: {WEB}\n    init: true\n    command: [sleep, '100000']\n    cap_add: [NET_ADMIN]\n    \
         volumes: [\"/var/run/docker.sock:/var/run/docker.sock:ro\"]\n"
    );
    let input = AppInput { cluster_id: id, name: "tool".into(), compose, vars: BTreeMap::new(), template_id: None };
    let (tool, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    succeeded(&berth, job).await;
    match berth.scale_service(&otto, tool, "tool", 3).await {
        Err(Error::Forbidden(m)) => assert!(m.contains("cap_add"), "{m}"),
        other => panic!("operator scaled a privileged service: {other:?}"),
    }
    // The operator may scale what the policy allows.
    berth.scale_service(&otto, app, "web", 1).await.unwrap();

    // Zone spreading: two replicas with `berth.zone_spread` land in both zones (n1, n3 are a; n2 is b).
    let compose = format!(
        "services:\n  spread:\n    image: {WEB}\n    init: true\n    command: [sleep, '100000']\n    labels:\n      \
         berth.zone_spread: 'true'\n    deploy:\n      replicas: 2\n"
    );
    let input = AppInput { cluster_id: id, name: "spread".into(), compose, vars: BTreeMap::new(), template_id: None };
    let (spread, job) = berth.deploy_app(&otto, &input).await.unwrap();
    succeeded(&berth, job).await;
    let detail = berth.app_detail(&admin(), spread).await.unwrap();
    assert_eq!(detail.services[0].spread, ["node.labels.berth.zone"]);
    let mut zones: Vec<String> = detail.services[0]
        .tasks
        .iter()
        .map(|t| cluster.nodes.iter().find(|n| n.name == t.node).unwrap().zone.clone())
        .collect();
    zones.sort();
    assert_eq!(zones, ["a", "b"], "{:?}", detail.services[0].tasks);
    // Stop keeps the app but runs nothing; start brings the replicas back.
    berth.stop_app(&otto, spread).await.unwrap();
    eventually(Duration::from_secs(30), "no spread tasks", async || {
        let d = berth.app_detail(&admin(), spread).await.unwrap();
        d.app.status == "stopped" && d.services[0].running == 0
    })
    .await;
    let job = berth.start_app(&otto, spread).await.unwrap();
    succeeded(&berth, job).await;
    assert_eq!(berth.app_detail(&admin(), spread).await.unwrap().services[0].running, 2);

    // A stack deployed with the Docker CLI shows up and is adopted without drift or restarts.
    let file = data.path().join("ext.yml");
    std::fs::write(
        &file,
        format!(
            "version: '3.8'\nservices:\n  probe:\n    image: {WEB}\n    init: true\n    command: [sleep, '100000']\n    \
             environment:\n      MODE: external\n    deploy:\n      replicas: 2\n      endpoint_mode: dnsrr\n"
        ),
    )
    .unwrap();
    docker(&["-H", &manager, "stack", "deploy", "--resolve-image", "never", "-c", file.to_str().unwrap(), "ext"]);
    let stacks = berth.stacks(&admin(), id).await.unwrap();
    assert_eq!(stacks.len(), 1, "{stacks:?}");
    assert_eq!((stacks[0].name.as_str(), stacks[0].services.clone()), ("ext", vec!["probe".to_string()]));
    let before = docker(&["-H", &manager, "service", "ps", "-q", "ext_probe"]);
    let adopted = berth.adopt_stack(&otto, id, "ext").await.unwrap();
    let detail = berth.app_detail(&admin(), adopted).await.unwrap();
    assert_eq!(detail.versions[0].action, "adopt");
    assert!(detail.compose.contains("MODE") && detail.compose.contains("external"), "{}", detail.compose);
    let probe = &detail.services[0];
    assert!(probe.drift.is_empty(), "adopted stack drifts: {:?}", probe.drift);
    assert_eq!(docker(&["-H", &manager, "service", "ps", "-q", "ext_probe"]), before, "adoption restarted tasks");
    assert!(berth.stacks(&admin(), id).await.unwrap().is_empty());
    // Drift made behind Berth's back is shown.
    docker(&["-H", &manager, "service", "update", "-d", "--env-add", "MODE=changed", "ext_probe"]);
    let detail = berth.app_detail(&admin(), adopted).await.unwrap();
    assert_eq!(detail.services[0].drift, ["environment (values not shown)"]);

    // Delete with volumes: nothing of the stack is left on any node.
    let job = berth.delete_app(&admin(), app, true).await.unwrap();
    succeeded(&berth, job).await;
    let label = "label=com.docker.stack.namespace=shop";
    assert_eq!(docker(&["-H", &manager, "service", "ls", "-q", "--filter", label]), "");
    assert_eq!(docker(&["-H", &manager, "network", "ls", "-q", "--filter", label]), "");
    assert_eq!(docker(&["-H", &manager, "secret", "ls", "-q", "--filter", label]), "");
    for n in ["n1", "n2", "n3"] {
        assert_eq!(docker(&["-H", &host(n), "volume", "ls", "-q", "--filter", label]), "", "{n}");
        assert_eq!(docker(&["-H", &host(n), "ps", "-aq", "--filter", label]), "", "{n}");
    }
    let stacks = docker(&["-H", &manager, "stack", "ls", "--format", "{{.Name}}"]);
    assert!(!stacks.lines().any(|l| l == "shop"), "{stacks}");
    assert!(berth.app_detail(&admin(), app).await.is_err());

    let job = berth.delete_cluster(&admin(), id).await.unwrap();
    succeeded(&berth, job).await;
}
