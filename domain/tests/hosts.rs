//! Existing hosts over mutual TLS, against real dockerds in containers: a host set up with Berth's
//! certificates answers; every misconfiguration fails closed with a plain reason; a cluster formed on
//! two hosts becomes Ready and releases them on deletion.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use domain::authz::{Principal, UserRef};
use domain::engine::{Engine, EngineError, TlsMaterial};
use domain::hosts::{HostInput, HostsClusterInput};
use domain::pki::validity;
use domain::testing::TestDb;
use domain::{Actor, Berth, Config, Error};

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

/// Hosts for one test: dockerd containers on a network of their own at fixed addresses, removed on drop.
struct Hosts {
    network: String,
    prefix: String,
    containers: Vec<String>,
    dir: tempfile::TempDir,
}

impl Hosts {
    fn new(tag: &str) -> Hosts {
        let network = format!("berth-test-{tag}-{}", std::process::id());
        // Let the engine pick a free subnet, then take it over as our own (fixed addresses need one).
        docker(&["network", "create", "--label", "berth.test=hosts", &network]);
        let subnet = docker(&["network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", &network]);
        docker(&["network", "rm", &network]);
        docker(&["network", "create", "--label", "berth.test=hosts", "--subnet", &subnet, &network]);
        // a.b.c.0/NN → a.b.c.
        let base = subnet.split('/').next().unwrap();
        let prefix = base.rsplit_once('.').unwrap().0.to_string() + ".";
        Hosts { network, prefix, containers: Vec::new(), dir: tempfile::tempdir().unwrap() }
    }

    fn ip(&self, n: u8) -> String {
        format!("{}{}", self.prefix, 200 + n)
    }

    /// Starts a dockerd at `ip(n)`: with `tls` = (ca, cert, key) it requires client certificates on
    /// 2376; without, it listens in the clear on 2375.
    fn start(&mut self, n: u8, tls: Option<(&str, &str, &str)>) -> String {
        let ip = self.ip(n);
        let dir = self.dir.path().join(format!("h{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("{}-h{n}", self.network);
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--init",
            "--dns",
            "127.0.0.1",
            "--cap-add",
            "ALL",
            "--cap-drop",
            "SYS_RESOURCE",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--security-opt",
            "systempaths=unconfined",
            "--device-cgroup-rule",
            "a *:* rwm",
            "--label",
            "berth.test=hosts",
            "-e",
            "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1",
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/etc/alternatives:/etc/alternatives:ro",
        ]
        .map(String::from)
        .to_vec();
        args.extend(["--name".into(), name.clone(), "--hostname".into(), format!("h{n}")]);
        args.extend(["--network".into(), self.network.clone(), "--ip".into(), ip.clone()]);
        args.extend(["-v".into(), format!("{}:/run/node", dir.display())]);
        args.extend([domain::DEFAULT_NODE_IMAGE.into(), "-H".into(), "unix:///var/run/docker.sock".into()]);
        args.extend(["--storage-driver".into(), "overlay2".into()]);
        match tls {
            Some((ca, cert, key)) => {
                write(&dir, "ca.pem", ca);
                write(&dir, "cert.pem", cert);
                write(&dir, "key.pem", key);
                for a in ["--tlsverify", "--tlscacert", "/run/node/ca.pem", "--tlscert", "/run/node/cert.pem"] {
                    args.push(a.into());
                }
                for a in ["--tlskey", "/run/node/key.pem", "-H", "tcp://0.0.0.0:2376"] {
                    args.push(a.into());
                }
            }
            None => {
                for a in ["--tls=false", "-H", "tcp://0.0.0.0:2375"] {
                    args.push(a.into());
                }
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Remembered first, so a failed start is removed too.
        self.containers.push(name);
        docker(&args);
        ip
    }
}

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).unwrap();
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("docker").args(["rm", "-fv", c]).output();
        }
        let _ = Command::new("docker").args(["network", "rm", &self.network]).output();
    }
}

async fn new_berth() -> (Berth, TestDb, tempfile::TempDir) {
    let db = TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::new(domain::engine::Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.data_dir = data.path().to_path_buf();
    let berth = Berth::new(db.open().await, config);
    domain::testing::ensure_node_image(&berth).await;
    (berth, db, data)
}

/// Asks until the engine answers or gives a lasting answer (dockerd takes a moment to start).
async fn settle(engine: &Engine) -> Result<(), EngineError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match engine.ping().await {
            Err(EngineError::Unreachable(m)) if m.contains("Connection refused") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_fails_closed_for_every_misconfiguration() {
    let (berth, _db, _data) = new_berth().await;
    let pki = berth.pki().await.unwrap();
    let mut hosts = Hosts::new("tls");
    let (from, until) = validity(30);

    // 1: set up as Berth's script would. 2: a certificate from another CA. 3: expired.
    // 4: issued for another address. 5: no TLS at all.
    let good = pki.issue_server(&[hosts.ip(1)], from, until).unwrap();
    let stranger = {
        let (other, _db2, _data2) = new_berth().await;
        let other_pki = other.pki().await.unwrap();
        other_pki.issue_server(&[hosts.ip(2)], from, until).unwrap()
    };
    let past = validity(-1);
    let expired = pki.issue_server(&[hosts.ip(3)], past.0 - time::Duration::days(2), past.1).unwrap();
    let misnamed = pki.issue_server(&["10.9.9.9".to_string()], from, until).unwrap();
    let ca = pki.ca_cert.clone();
    hosts.start(1, Some((&ca, &good.cert, &good.key)));
    hosts.start(2, Some((&ca, &stranger.cert, &stranger.key)));
    hosts.start(3, Some((&ca, &expired.cert, &expired.key)));
    hosts.start(4, Some((&ca, &misnamed.cert, &misnamed.key)));
    hosts.start(5, None);

    let material =
        TlsMaterial { ca_pem: ca.clone(), cert_pem: pki.client_cert.clone(), key_pem: pki.client_key.clone() };
    let tls = |n: u8, material: TlsMaterial| {
        Engine::with_tls(&format!("{}:2376", hosts.ip(n)), material, Duration::from_secs(4))
    };

    // The well set-up host answers, over TLS, with Berth's client certificate.
    settle(&tls(1, material.clone())).await.expect("the host set up with Berth's certificates answers");
    let probe =
        berth.probe_host(&admin(), &HostInput::parse_line(&format!("tcp://{}:2376", hosts.ip(1)))).await.unwrap();
    assert!(!probe.overview.engine_version.is_empty());

    let refused = |r: Result<(), EngineError>| match r {
        Err(EngineError::Unreachable(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let m = refused(settle(&tls(2, material.clone())).await);
    assert!(m.contains("not signed by Berth's CA"), "{m}");
    let m = refused(settle(&tls(3, material.clone())).await);
    assert!(m.contains("expired"), "{m}");
    let m = refused(settle(&tls(4, material.clone())).await);
    assert!(m.contains("wrong SAN"), "{m}");
    let plain = Engine::with_tls(&format!("{}:2375", hosts.ip(5)), material.clone(), Duration::from_secs(4));
    let m = refused(settle(&plain).await);
    assert!(m.contains("does not speak TLS"), "{m}");

    // Berth without a client certificate, or with an expired one, is refused by the host.
    let anonymous = TlsMaterial { cert_pem: String::new(), key_pem: String::new(), ..material.clone() };
    let m = refused(settle(&tls(1, anonymous)).await);
    assert!(m.contains("refused Berth's client certificate"), "{m}");
    let old = pki.issue_client("berth", past.0 - time::Duration::days(2), past.1).unwrap();
    let stale = TlsMaterial { cert_pem: old.cert, key_pem: old.key, ..material.clone() };
    let m = refused(settle(&tls(1, stale)).await);
    assert!(m.contains("refused Berth's client certificate"), "{m}");

    // Plain tcp only when marked insecure; the probe says why otherwise.
    let secure = berth.probe_host(&admin(), &HostInput::parse_line(&format!("tcp://{}:2375", hosts.ip(5)))).await;
    assert!(matches!(&secure, Err(Error::EngineUnreachable(m)) if m.contains("does not speak TLS")), "{secure:?}");
    let insecure =
        berth.probe_host(&admin(), &HostInput::parse_line(&format!("tcp://{}:2375 insecure", hosts.ip(5)))).await;
    assert!(insecure.is_ok(), "{insecure:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_hosts_forms_and_releases_them() {
    let (berth, _db, _data) = new_berth().await;
    let pki = berth.pki().await.unwrap();
    let mut hosts = Hosts::new("cluster");
    let (from, until) = validity(30);
    for n in [1, 2] {
        let cert = pki.issue_server(&[hosts.ip(n)], from, until).unwrap();
        hosts.start(n, Some((&pki.ca_cert.clone(), &cert.cert, &cert.key)));
    }
    let material = berth.tls_material_for_tests().await;
    for n in [1, 2] {
        settle(&Engine::with_tls(&format!("{}:2376", hosts.ip(n)), material.clone(), Duration::from_secs(4)))
            .await
            .unwrap();
    }
    let input = HostsClusterInput {
        name: "edge".into(),
        hosts: [1, 2].iter().map(|n| HostInput::parse_line(&format!("tcp://{}:2376", hosts.ip(*n)))).collect(),
        managers: 1,
        zones: vec!["rack-1".into(), "rack-2".into()],
    };
    let job = berth.create_hosts_cluster(&admin(), &input).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let j = berth.job(&admin(), job).await.unwrap();
        if j.status != "running" {
            break j;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(job.status, "succeeded", "{}", job.error);
    let cluster = berth.clusters(&admin()).await.unwrap().remove(0);
    assert_eq!(cluster.cluster.provider, "hosts");
    assert!(cluster.nodes.iter().all(|n| n.state == "ready" && n.tls == "mtls"), "{:?}", cluster.nodes);
    assert_eq!(cluster.nodes.iter().map(|n| n.zone.as_str()).collect::<Vec<_>>(), ["rack-1", "rack-2"]);

    // The same host cannot be added twice.
    let again = berth
        .add_host(&admin(), cluster.cluster.id, &HostInput::parse_line(&format!("tcp://{}:2376", hosts.ip(1))))
        .await;
    assert!(matches!(again, Err(Error::Invalid { .. })), "{again:?}");

    let job = berth.delete_cluster(&admin(), cluster.cluster.id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = berth.job(&admin(), job).await.unwrap();
        if j.status != "running" {
            assert_eq!(j.status, "succeeded", "{}", j.error);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Both hosts left the swarm.
    for name in &hosts.containers {
        let state = docker(&["exec", name, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]);
        assert_eq!(state, "inactive", "{name}");
    }
}
