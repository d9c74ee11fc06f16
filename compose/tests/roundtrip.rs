//! Round trip: hand-built rich specs survive `parse(to_compose(spec))` unchanged (lines aside),
//! including strings that look like YAML syntax, numbers, booleans or variables.

use std::collections::BTreeMap;

use compose::*;

fn round_trip(spec: &AppSpec) {
    let text = to_compose(spec);
    match parse(&text, &BTreeMap::new()) {
        Ok(p) => assert_eq!(p.spec.without_lines(), spec.clone().without_lines(), "\n{text}"),
        Err(e) => panic!("{text}\n{e:#?}"),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const TRICKY: &[&str] = &[
    "true",
    "no",
    "null",
    "~",
    "123",
    "0x1F",
    "1e3",
    "",
    " lead",
    "trail ",
    "a: b",
    "- x",
    "# not a comment",
    "{a}",
    "[b]",
    "*alias",
    "&anchor",
    "!tag",
    "%",
    "@",
    "`",
    "|",
    ">",
    "'single'",
    "\"double\"",
    "back\\slash",
    "multi\nline\n",
    "tab\there",
    "$HOME",
    "${VAR:-x}",
    "$$",
    "costs $5",
    "ünïcødé ✓",
    "\u{7f}\u{1}",
    "\u{2028}",
];

fn rich() -> AppSpec {
    let mut web = ServiceSpec {
        image: "registry.example.com:5000/team/web:1.2.3".into(),
        command: Some(TRICKY.iter().map(|s| s.to_string()).collect()),
        entrypoint: Some(vec![]),
        environment: TRICKY.iter().enumerate().map(|(i, s)| (format!("V{i}"), s.to_string())).collect(),
        working_dir: Some("/srv/app dir".into()),
        user: Some("1000:1000".into()),
        hostname: Some("web-1".into()),
        ports: vec![
            PortSpec { target: 80, published: Some(8080), protocol: "tcp".into() },
            PortSpec { target: 53, published: Some(53), protocol: "udp".into() },
            PortSpec { target: 9000, published: None, protocol: "tcp".into() },
        ],
        mounts: vec![
            MountSpec { kind: MountKind::Volume, source: "data".into(), target: "/data".into(), read_only: false },
            MountSpec { kind: MountKind::Bind, source: "/srv/conf".into(), target: "/etc/app".into(), read_only: true },
            MountSpec { kind: MountKind::Tmpfs, source: String::new(), target: "/tmp".into(), read_only: false },
            MountSpec { kind: MountKind::Volume, source: String::new(), target: "/cache".into(), read_only: true },
            MountSpec { kind: MountKind::Bind, source: "/".into(), target: "/host".into(), read_only: true },
        ],
        networks: vec!["front".into(), "default".into()],
        labels: TRICKY.iter().enumerate().map(|(i, s)| (format!("com.example.l{i}: {s}"), s.to_string())).collect(),
        service_labels: map(&[("traefik.http.routers.web.rule", "Host(`a.example.com`)"), ("x", "")]),
        healthcheck: Some(HealthSpec {
            test: vec!["CMD".into(), "curl".into(), "-f".into(), "http://localhost/$x".into()],
            interval_ns: Some(90_000_000_000),
            timeout_ns: Some(1_500_000_000),
            retries: Some(3),
            start_period_ns: Some(1),
        }),
        mode: Mode::Replicated(3),
        resources: Resources {
            limit_nano_cpus: Some(1_500_000_001),
            limit_memory_bytes: Some(536_870_913),
            reserve_nano_cpus: Some(1),
            reserve_memory_bytes: Some(0),
        },
        placement: Placement {
            constraints: vec!["node.role==worker".into(), "node.labels.disk != hdd".into()],
            spread: vec!["node.labels.rack".into(), "node.labels.berth.zone".into()],
            max_replicas_per_node: Some(2),
        },
        update: UpdateSpec {
            parallelism: Some(2),
            delay_ns: Some(10_000_000_000),
            order: Some("start-first".into()),
            failure_action: Some("rollback".into()),
            monitor_ns: Some(1_000),
        },
        restart: RestartSpec {
            condition: Some("on-failure".into()),
            delay_ns: Some(5_000_000),
            max_attempts: Some(0),
            window_ns: Some(3_600_000_000_000),
        },
        init: true,
        stop_grace_period_ns: Some(0),
        secrets: vec![
            FileRef { source: "db".into(), target: "/run/secrets/db".into() },
            FileRef { source: "db".into(), target: "/etc/pass word".into() },
        ],
        configs: vec![FileRef { source: "conf".into(), target: "/conf".into() }],
        privileged: true,
        cap_add: vec!["NET_ADMIN".into()],
        cap_drop: vec!["ALL".into()],
        devices: vec!["/dev/fuse:/dev/fuse:rwm".into()],
        pid: Some("host".into()),
        ipc: Some("shareable".into()),
        uts: Some("host".into()),
        userns_mode: Some("host".into()),
        cgroup: Some("private".into()),
        network_mode: None,
        security_opt: vec!["no-new-privileges:true".into(), "seccomp=unconfined".into(), "label=type:$x".into()],
        read_only: true,
        stop_signal: Some("SIGRTMIN+3".into()),
        tty: true,
        stdin_open: true,
        extra_hosts: vec![
            HostEntry { host: "db.local".into(), ip: "10.0.0.5".into() },
            HostEntry { host: "v6".into(), ip: "::1".into() },
            HostEntry { host: "v6".into(), ip: "fe80::1".into() },
        ],
        dns: vec!["1.1.1.1".into(), "2606:4700::1111".into()],
        dns_search: vec!["example.com".into(), "svc.local".into()],
        dns_opt: vec!["ndots:2".into(), "timeout:1".into()],
        sysctls: map(&[("net.core.somaxconn", "1024"), ("kernel.shm_rmid_forced", "1"), ("net.ipv4.x", "true")]),
        ulimits: [
            ("nofile".to_string(), Ulimit { soft: 20_000, hard: 40_000 }),
            ("memlock".to_string(), Ulimit { soft: -1, hard: -1 }),
            ("nproc".to_string(), Ulimit { soft: 0, hard: 10 }),
        ]
        .into_iter()
        .collect(),
        group_add: vec!["wheel".into(), "1000".into()],
        logging: Some(Logging {
            driver: "json-file".into(),
            options: map(&[("max-size", "10m"), ("max-file", "3"), ("tag", "{{.Name}} $x")]),
        }),
        pids_limit: Some(100),
        isolation: Some("default".into()),
        ext: Extensions {
            depends: vec!["db".into()],
            probe: Some(Probe {
                url: Some("http://container:8080/health?x=$y".into()),
                cmd: Some("pg_isready -U \"$USER\"".into()),
                initial_delay_ns: Some(10_000_000_000),
                timeout_ns: Some(1_500_000),
            }),
            rolling_updates: Some(true),
            rolling_parallelism: Some(2),
            latest_image: true,
            zone_spread: true,
            auto_scaling: map(&[
                ("min_instances", "1"),
                ("max_instances", "10"),
                ("min_cpu", "10.5"),
                ("max_cpu", "70"),
                ("step", "2"),
            ]),
            routing: [(80, vec!["a.example.com".to_string(), "b.example.com/api/v1".to_string(), "shop".to_string()])]
                .into_iter()
                .collect(),
            session_sticky: true,
            lb: [(443, "tcp://front-1:8443".to_string())].into_iter().collect(),
            update_method: Some(UpdateMethod::BlueGreen),
            schedule: None,
            job_deadline_s: None,
        },
        line: 0,
        lines: BTreeMap::new(),
    };
    web.environment.insert("EMPTY".into(), String::new());
    let db = ServiceSpec {
        image: "postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        mode: Mode::Global,
        network_mode: Some("host".into()),
        logging: Some(Logging { driver: "syslog".into(), options: BTreeMap::new() }),
        isolation: Some("process".into()),
        stop_signal: Some("9".into()),
        ext: Extensions { rolling_updates: Some(false), ..Extensions::default() },
        healthcheck: Some(HealthSpec {
            test: vec!["NONE".into()],
            interval_ns: None,
            timeout_ns: None,
            retries: None,
            start_period_ns: None,
        }),
        ..ServiceSpec::default()
    };
    let bare = ServiceSpec {
        image: "busybox".into(),
        network_mode: Some("none".into()),
        logging: Some(Logging { driver: String::new(), options: map(&[("max-size", "1m")]) }),
        command: Some(vec!["sh".into(), "-c".into(), "echo $$HOME; exit 0".into()]),
        healthcheck: Some(HealthSpec {
            test: vec![],
            interval_ns: Some(1_000_000_000),
            timeout_ns: None,
            retries: None,
            start_period_ns: None,
        }),
        mode: Mode::Replicated(0),
        ..ServiceSpec::default()
    };
    let mut spec = AppSpec::default();
    spec.services.insert("web".into(), web);
    spec.services.insert("db".into(), db);
    spec.services.insert("bare-1".into(), bare);
    spec.networks.insert(
        "front".into(),
        NetworkSpec { external: None, labels: map(&[("a", "b: c")]), internal: true, attachable: true },
    );
    spec.networks
        .insert("proxy".into(), NetworkSpec { external: Some("traefik_public".into()), ..NetworkSpec::default() });
    spec.volumes.insert(
        "data".into(),
        VolumeSpec {
            external: None,
            driver: Some("local".into()),
            driver_opts: map(&[("type", "nfs"), ("o", "addr=10.0.0.1,nfsvers=4"), ("device", ":/export/$x")]),
            labels: map(&[("k", "$v")]),
        },
    );
    spec.volumes.insert("old".into(), VolumeSpec { external: Some("old".into()), ..VolumeSpec::default() });
    spec.secrets.insert(
        "db".into(),
        SecretSpec { external: None, content: Some("multi\nline $ secret\n".into()), labels: map(&[("l", "1")]) },
    );
    spec.secrets.insert("ext".into(), SecretSpec { external: Some("shared".into()), ..SecretSpec::default() });
    spec.configs
        .insert("conf".into(), ConfigSpec { external: None, content: Some(String::new()), labels: BTreeMap::new() });
    spec
}

#[test]
fn rich_spec_round_trips() {
    round_trip(&rich());
}

#[test]
fn minimal_specs_round_trip() {
    let mut spec = AppSpec::default();
    spec.services.insert("a".into(), ServiceSpec { image: "a".into(), ..ServiceSpec::default() });
    round_trip(&spec);
    for s in TRICKY {
        let mut spec = spec.clone();
        if let Some(a) = spec.services.get_mut("a") {
            a.user = Some(s.to_string());
            a.hostname = Some(format!("{s}{s}"));
        }
        round_trip(&spec);
    }
}

#[test]
fn jobs_and_schedules_round_trip() {
    for (mode, schedule, deadline) in [
        (Mode::Job { completions: 3, parallelism: 3 }, None, None),
        (Mode::Job { completions: 4, parallelism: 2 }, None, Some(600)),
        (
            Mode::Job { completions: 1, parallelism: 1 },
            Some(Schedule {
                cron: "*/10 * * * * *".into(),
                timezone: "Europe/Berlin".into(),
                concurrency: Concurrency::Allow,
                starting_deadline_s: 30,
            }),
            None,
        ),
    ] {
        let mut svc = ServiceSpec { image: "a".into(), mode, ..ServiceSpec::default() };
        svc.restart.condition = Some("none".into());
        svc.ext.schedule = schedule;
        svc.ext.job_deadline_s = deadline;
        let mut spec = AppSpec::default();
        spec.services.insert("a".into(), svc);
        round_trip(&spec);
    }
}

#[test]
fn empty_logging_round_trips() {
    let mut spec = AppSpec::default();
    let svc = ServiceSpec { image: "a".into(), logging: Some(Logging::default()), ..ServiceSpec::default() };
    spec.services.insert("a".into(), svc);
    round_trip(&spec);
}

#[test]
fn policy_sees_the_same_after_a_round_trip() {
    let spec = rich();
    let back = parse(&to_compose(&spec), &BTreeMap::new()).unwrap().spec;
    // Lines differ (the hand-built spec has none); everything else must not.
    let strip = |vs: Vec<Violation>| vs.into_iter().map(|v| (v.service, v.field, v.message)).collect::<Vec<_>>();
    let allow = Allowances::default();
    assert_eq!(strip(policy_violations(&spec, &allow)), strip(policy_violations(&back, &allow)));
    let fields: Vec<String> =
        policy_violations(&spec, &allow).into_iter().map(|v| format!("{}.{}", v.service, v.field)).collect();
    for f in [
        "web.volumes[4]",
        "web.pid",
        "web.ipc",
        "web.security_opt[1]",
        "db.network_mode",
        "db.logging.driver",
        "db.isolation",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
}
