//! The workload policy's tables: bypass attempts (each must produce a violation naming the
//! expected field and line) and allowed workloads (none may produce one).
//!
//! Every bypass row fails against the policy this allow-list replaced, which reported no lines at
//! all (and `cap_add`/`devices` without an index). Beyond that, the old deny-list missed outright:
//! every network row (external `host`, `bridge`, `none`, `ingress`, `docker_gwbridge` by any
//! spelling, the external `default`, external networks not allowed), `network_mode: none`, the
//! binds of `/proc/...`, `/run/node/docker.sock`, `/run/containerd/...`, `/var/lib/containerd`,
//! `/etc` (rw and ro), `/root`, `/sys`, `/dev`, `/dev/sda`, `/boot`, `/var/log`, `/srv` (short and
//! long syntax), every named-volume row (bind/rbind/`ro,bind` of `/etc`, `/` and the socket through
//! `driver_opts`, ext4/xfs/btrfs devices, a plugin driver), `ipc`/`uts`/`userns_mode`/`cgroup`
//! host and `pid: container:…`, every `security_opt`, `sysctls`, `logging` and `isolation` row,
//! and every row relative to allowances (it had none). It caught only: binds of the Docker socket
//! through `/var/run` (also via `//`, `.` and `..`), `/var/lib/docker`, `/` (also via
//! `/home/x/..//..`), `privileged`, `pid: host`, `network_mode: host`, `devices` and `cap_add`.

use std::collections::BTreeMap;

use compose::*;

#[path = "common/policy_rows.rs"]
mod policy_rows;
use policy_rows::*;

fn allowances(paths: &[(&str, bool)], networks: &[&str]) -> Allowances {
    Allowances {
        paths: paths.iter().map(|(p, rw)| HostPath { path: p.to_string(), read_write: *rw }).collect(),
        networks: networks.iter().map(|n| n.to_string()).collect(),
    }
}

fn violations_of(yaml: &str, allow: &Allowances) -> Result<Vec<Violation>, String> {
    match parse(yaml, &BTreeMap::new()) {
        Ok(p) => Ok(policy_violations(&p.spec, allow)),
        Err(e) => Err(format!("does not parse: {e:#?}")),
    }
}

#[test]
fn bypass_attempts_are_refused() {
    let rows = bypass_rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for r in &rows {
        let allow = allowances(&r.paths, &r.networks);
        match violations_of(&r.yaml, &allow) {
            Ok(vs)
                if vs.iter().any(|v| {
                    v.service == "web" && v.field == r.field && v.line == r.line && v.message.contains(r.msg)
                }) => {}
            Ok(vs) => failures.push(format!(
                "`{}`: expected {} at line {} ({:?})\n{}\n=> {vs:#?}",
                r.name, r.field, r.line, r.msg, r.yaml
            )),
            Err(e) => failures.push(format!("`{}`: {e}\n{}", r.name, r.yaml)),
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n\n"));
}

/// (name, template after the `web` service's image, allowed paths, allowed networks).
type Allowed = (&'static str, &'static str, &'static [(&'static str, bool)], &'static [&'static str]);

const ALLOWED: &[Allowed] = &[
    ("rw bind under rw allowance", "    volumes: [\"/srv/data/x:/x\"]\n", &[("/srv/data", true)], &[]),
    ("the allowance itself", "    volumes: [\"/srv/data/:/x\"]\n", &[("/srv/data", true)], &[]),
    ("ro bind under ro allowance", "    volumes: [\"/srv/data/x:/x:ro\"]\n", &[("/srv/data", false)], &[]),
    ("ro bind under rw allowance", "    volumes: [\"/srv/data/x:/x:ro\"]\n", &[("/srv/data", true)], &[]),
    ("long ro bind under ro allowance", "    volumes:\n      - type: bind\n        source: /srv/data/x\n        target: /x\n        read_only: true\n", &[("/srv/data", false)], &[]),
    ("rw under nested rw allowance", "    volumes: [\"/srv/data/x:/x\"]\n", &[("/srv", false), ("/srv/data", true)], &[]),
    ("dotdot staying inside", "    volumes: [\"/srv/data/a/../b:/x\"]\n", &[("/srv/data", true)], &[]),
    ("external overlay allowed", "    networks: [shared]\nnetworks:\n  shared:\n    external: true\n    name: shared-net\n", &[], &["shared-net"]),
    ("external by key allowed", "    networks: [shared-net]\nnetworks:\n  shared-net:\n    external: true\n", &[], &["shared-net"]),
    ("own network named host", "    networks: [host]\nnetworks:\n  host:\n", &[], &[]),
    ("own default network", "    networks: [default, back]\nnetworks:\n  back:\n    internal: true\n", &[], &[]),
    ("default caps", "    cap_add: [NET_BIND_SERVICE, cap_chown, Cap_Kill, SETUID]\n    cap_drop: [ALL]\n", &[], &[]),
    ("namespaced sysctls", "    sysctls:\n      net.core.somaxconn: 1024\n      net.ipv4.ip_forward: 1\n      kernel.shm_rmid_forced: 1\n      kernel.sem: \"250 32000 100 128\"\n      fs.mqueue.msg_max: 100\n", &[], &[]),
    ("no-new-privileges", "    security_opt: [no-new-privileges, \"no-new-privileges:true\", \"no-new-privileges=true\"]\n", &[], &[]),
    ("nfs volume", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver: local\n    driver_opts: {type: nfs, o: \"addr=10.0.0.1,nfsvers=4,rw\", device: \":/export/data\"}\n", &[], &[]),
    ("nfs4 volume", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: nfs4, o: \"addr=10.0.0.1\", device: \":/\"}\n", &[], &[]),
    ("cifs volume", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: cifs, o: \"addr=10.0.0.2,username=u,password=p\", device: \"//10.0.0.2/share\"}\n", &[], &[]),
    ("tmpfs volume", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: tmpfs, device: tmpfs, o: \"size=100m,uid=1000\"}\n", &[], &[]),
    ("tmpfs mounts", "    tmpfs: [/run, /tmp]\n    volumes:\n      - type: tmpfs\n        target: /cache\n", &[], &[]),
    ("anonymous and named volumes", "    volumes: [/anon, \"data:/data\", \"old:/old:ro\"]\nvolumes:\n  data:\n  old:\n    external: true\n", &[], &[]),
    ("bind volume under allowance", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv/data/app}\n", &[("/srv/data", true)], &[]),
    ("ro bind volume under ro allowance", "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: none, o: \"bind,ro\", device: /srv/data/app}\n", &[("/srv/data", false)], &[]),
    ("log drivers kept on the node", "    logging: {driver: json-file, options: {max-size: 10m}}\n  b:\n    image: x\n    logging: {driver: local}\n  c:\n    image: x\n    logging: {driver: none}\n  d:\n    image: x\n    logging: {options: {max-size: 1m}}\n", &[], &[]),
    ("harmless keys", "    user: \"0:0\"\n    group_add: [docker, \"0\"]\n    ulimits: {nofile: 1048576, memlock: -1}\n    isolation: default\n    read_only: true\n    extra_hosts: [\"a=10.0.0.1\"]\n    dns: [1.1.1.1]\n    pids_limit: 100\n    init: true\n    hostname: web\n", &[], &[]),
    ("empty namespaces", "    pid: \"\"\n    ipc: \" \"\n", &[], &[]),
];

#[test]
fn allowed_workloads_pass() {
    let mut failures = Vec::new();
    for (name, rest, paths, networks) in ALLOWED {
        let yaml = format!("{WEB}{rest}");
        match violations_of(&yaml, &allowances(paths, networks)) {
            Ok(vs) if vs.is_empty() => {}
            Ok(vs) => failures.push(format!("`{name}`:\n{yaml}\n=> {vs:#?}")),
            Err(e) => failures.push(format!("`{name}`: {e}\n{yaml}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} allowed cases failed:\n{}",
        failures.len(),
        ALLOWED.len(),
        failures.join("\n\n")
    );
}

#[test]
fn messages_say_what_and_why() {
    let none = Allowances::default();
    let one = |rest: &str, allow: &Allowances| violations_of(&format!("{WEB}{rest}"), allow).unwrap().remove(0).message;
    assert_eq!(
        one("    volumes: [\"/proc/self/root/var/run/docker.sock:/s\"]\n", &none),
        "bind mount of `/proc/self/root/var/run/docker.sock`: `/proc` is never allowed"
    );
    assert_eq!(
        one("    volumes: [\"/etc:/e\"]\n", &none),
        "bind mount of `/etc`: not under a host directory allowed on this cluster (allowed: none)"
    );
    assert_eq!(
        one("    volumes: [\"/srv/data/../../etc:/e:ro\"]\n", &allowances(&[("/srv/data", true), ("/opt", false)], &[])),
        "bind mount of `/etc`: not under a host directory allowed on this cluster (allowed: `/srv/data` (read-write), `/opt` (read-only))"
    );
    assert_eq!(
        one("    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: host\n", &none),
        "external network `host` is the engine's host network: never allowed"
    );
    assert_eq!(
        one(
            "    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: proxy\n",
            &allowances(&[], &["shared-net"])
        ),
        "external network `proxy` is not allowed on this cluster (allowed: `shared-net`)"
    );
    assert!(one("    volumes: [\"/srv/data/x:/x\"]\n", &allowances(&[("/srv/data", false)], &[]))
        .contains("under `/srv/data`, which is allowed read-only on this cluster"));
    assert_eq!(
        one("    volumes: [\"v:/v:ro\"]\nvolumes:\n  v:\n    driver_opts: {o: bind, device: /srv/data/../../etc}\n", &none),
        "volume `v` binds `/srv/data/../../etc` (that is `/etc`) from the node: the path contains `..`, which the node resolves through symbolic links: write the path without it"
    );
    assert!(one("    cap_add: [sys_admin]\n", &none).contains("capability `sys_admin` is not in Docker's default set"));
    assert!(one("    sysctls: {kernel.core_pattern: \"|/x\"}\n", &none).contains("is not namespaced"));
}

/// Specs built elsewhere (adoption) carry no lines and need not be normalised; network modes the
/// parser refuses can still reach the policy that way.
#[test]
fn specs_built_elsewhere() {
    let svc = |f: &dyn Fn(&mut ServiceSpec)| {
        let mut s = ServiceSpec { image: "x".into(), line: 7, ..ServiceSpec::default() };
        f(&mut s);
        let mut spec = AppSpec::default();
        spec.services.insert("s".into(), s);
        spec
    };
    let none = Allowances::default();
    let bind =
        |source: &str| MountSpec { kind: MountKind::Bind, source: source.into(), target: "/x".into(), read_only: true };
    let spec = svc(&|s| s.mounts.push(bind("/var/run/./docker.sock/")));
    let vs = policy_violations(&spec, &none);
    assert_eq!((vs.len(), vs[0].field.as_str(), vs[0].line), (1, "volumes[0]", 7), "{vs:#?}");
    for mode in ["service:db", "container:abc", "bridge"] {
        let spec = svc(&|s| s.network_mode = Some(mode.into()));
        assert_eq!(policy_violations(&spec, &none)[0].field, "network_mode");
    }
    // A relative source, never produced by the parser, is refused rather than guessed at.
    let spec = svc(&|s| s.mounts.push(bind("srv/data")));
    assert_eq!(policy_violations(&spec, &allowances(&[("/srv/data", true)], &[])).len(), 1);
    // Unchecked allowances that validate_allowances would refuse are ignored, not trusted.
    let spec = svc(&|s| s.mounts.push(bind("/etc")));
    for bad in ["/", "//", "/proc/..", "etc", "/etc/../etc/.."] {
        let vs = policy_violations(&spec, &allowances(&[(bad, true)], &[]));
        assert_eq!(vs.len(), 1, "allowance {bad:?}: {vs:#?}");
    }
    let spec = svc(&|s| s.mounts.push(bind("/srv/data/link/../x")));
    let vs = policy_violations(&spec, &allowances(&[("/srv/data", true)], &[]));
    assert!(vs[0].message.contains("contains `..`"), "{vs:#?}");
    let spec = svc(&|s| s.mounts.push(bind("/proc")));
    assert_eq!(policy_violations(&spec, &allowances(&[("/proc", true)], &[])).len(), 1);
    // An external network with an empty name stands for its key.
    let mut spec = svc(&|s| s.networks = vec!["host".into()]);
    spec.networks.insert("host".into(), NetworkSpec { external: Some(String::new()), ..NetworkSpec::default() });
    assert!(policy_violations(&spec, &none)[0].message.contains("never allowed"));
    // Several violations on one service keep their own lines, falling back to the service's.
    let spec = parse(
        &format!("{WEB}    privileged: true\n    cap_add: [CHOWN, SYS_ADMIN]\n    volumes:\n      - /etc:/e\n"),
        &BTreeMap::new(),
    )
    .unwrap()
    .spec;
    let got: Vec<(String, usize)> = policy_violations(&spec, &none).into_iter().map(|v| (v.field, v.line)).collect();
    assert_eq!(got, [("privileged".to_string(), 4), ("cap_add[1]".to_string(), 5), ("volumes[0]".to_string(), 7)]);
}

#[test]
fn parser_refuses_network_modes_swarm_cannot_run() {
    for mode in ["\"service:x\"", "\"container:x\"", "bridge", "default"] {
        let ds = parse(&format!("{WEB}    network_mode: {mode}\n"), &BTreeMap::new()).unwrap_err();
        assert!(
            ds.iter()
                .any(|d| d.line == 4 && d.field == "services.web.network_mode" && d.message.contains("use networks:")),
            "{ds:#?}"
        );
    }
}

#[test]
fn allowances_are_validated() {
    let ok = validate_allowances(&allowances(
        &[("/srv/data/", false), (" //opt//app/./ ", true), ("/srv/data", true), ("/srv", false)],
        &["shared-net", " proxy ", "shared-net"],
    ))
    .unwrap();
    assert_eq!(ok, allowances(&[("/srv/data", true), ("/opt/app", true), ("/srv", false)], &["shared-net", "proxy"]));
    // (paths, networks, the entry named, a part of the message)
    type Refused<'a> = (&'a [(&'a str, bool)], &'a [&'a str], &'a str, &'a str);
    let refused: &[Refused] = &[
        (&[("/srv", true), ("srv/data", true)], &[], "paths[1]", "not an absolute path"),
        (&[("/", false)], &[], "paths[0]", "`/` would allow the whole node"),
        (&[("//", false)], &[], "paths[0]", "the whole node"),
        (&[("/proc", false)], &[], "paths[0]", "under `/proc`"),
        (&[("/sys/fs/cgroup", false)], &[], "paths[0]", "under `/sys`"),
        (&[("/dev/", false)], &[], "paths[0]", "under `/dev`"),
        (&[("/srv/../etc", false)], &[], "paths[0]", "contains `..`"),
        (&[("/srv/a\nb", false)], &[], "paths[0]", "printable ASCII"),
        (&[("", false)], &[], "paths[0]", "not an absolute path"),
        (&[], &["ok", "Host"], "networks[1]", "the engine's `host` network"),
        (&[], &["BRIDGE"], "networks[0]", "`bridge`"),
        (&[], &["none"], "networks[0]", "`none`"),
        (&[], &["ingress"], "networks[0]", "`ingress`"),
        (&[], &["docker_gwbridge"], "networks[0]", "`docker_gwbridge`"),
        (&[], &["a b"], "networks[0]", "not a network name"),
        (&[], &["-x"], "networks[0]", "not a network name"),
        (&[], &[""], "networks[0]", "not a network name"),
    ];
    for (paths, networks, field, msg) in refused {
        match validate_allowances(&allowances(paths, networks)) {
            Err((f, m)) if f == *field && m.contains(msg) => {}
            other => panic!("{paths:?} {networks:?}: expected {field} {msg:?}, got {other:?}"),
        }
    }
}
