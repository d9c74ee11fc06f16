//! The rows of the workload policy's bypass table, shared by `tests/policy.rs` (the rules) and the
//! server's tests (the same rows through the real deploy path, refused for an operator and allowed
//! for an admin). Each row is a template, the allowances it runs under, and the violation expected.

#![allow(dead_code)]

pub struct Row {
    pub name: String,
    pub yaml: String,
    /// Allowed host paths (path, read-write) and external networks.
    pub paths: Vec<(&'static str, bool)>,
    pub networks: Vec<&'static str>,
    /// The violation expected on service `web`: field, line and a part of the message.
    pub field: String,
    pub line: usize,
    pub msg: &'static str,
}

pub const WEB: &str = "services:\n  web:\n    image: nginx\n";

pub fn row(name: &str, rest: &str, field: &str, line: usize, msg: &'static str) -> Row {
    Row {
        name: name.into(),
        yaml: format!("{WEB}{rest}"),
        paths: vec![],
        networks: vec![],
        field: field.into(),
        line,
        msg,
    }
}

pub fn bypass_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    // ---- Networks: the engine's own networks by any spelling, and external networks not allowed.
    for (name, decl) in [
        ("external name host", "    external: true\n    name: host\n"),
        ("external name HOST", "    external: true\n    name: HOST\n"),
        ("external name ' host'", "    external: true\n    name: \" host\"\n"),
        ("external name 'host '", "    external: true\n    name: \"host \"\n"),
        ("external name Host tab", "    external: true\n    name: \"\\tHost\"\n"),
        ("external: {name: host}", "    external:\n      name: host\n"),
        ("external name bridge", "    external: true\n    name: bridge\n"),
        ("external name none", "    external: true\n    name: none\n"),
        ("external name ingress", "    external: true\n    name: ingress\n"),
        ("external name docker_gwbridge", "    external: true\n    name: docker_gwbridge\n"),
        ("external name Ingress", "    external: {name: Ingress}\n"),
        ("external not allowed", "    external: true\n    name: proxy\n"),
    ] {
        rows.push(row(name, &format!("    networks: [h]\nnetworks:\n  h:\n{decl}"), "networks.h", 4, ""));
    }
    for key in ["host", "bridge", "none", "ingress"] {
        rows.push(row(
            &format!("external key {key} without name"),
            &format!("    networks:\n      {key}:\nnetworks:\n  {key}:\n    external: true\n"),
            &format!("networks.{key}"),
            5,
            "never allowed",
        ));
    }
    rows.push(row(
        "external default network named host",
        "networks:\n  default:\n    external: true\n    name: host\n",
        "networks.default",
        2,
        "never allowed",
    ));
    let mut r = row(
        "allowed names are exact",
        "    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: Shared-Net\n",
        "networks.h",
        4,
        "not allowed on this cluster",
    );
    r.networks = vec!["shared-net"];
    rows.push(r);
    let mut r = row(
        "host even when allowed",
        "    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: host\n",
        "networks.h",
        4,
        "never allowed",
    );
    r.networks = vec!["host"];
    rows.push(r);
    rows.push(row("network_mode host", "    network_mode: host\n", "network_mode", 4, ""));
    rows.push(row("network_mode none", "    network_mode: none\n", "network_mode", 4, ""));
    // ---- Host paths, in the short and the long syntax.
    for (path, ro) in [
        ("/proc/self/root/var/run/docker.sock", false),
        ("/proc/1/root", true),
        ("/run/node/docker.sock", false),
        ("/var/run/docker.sock", false),
        ("//var//run/./docker.sock", false),
        ("/var/run/../run/docker.sock", false),
        ("/run/containerd/containerd.sock", false),
        ("/var/lib/containerd", false),
        ("/var/lib/docker", false),
        ("/", true),
        ("/etc", false),
        ("/etc", true),
        ("/root", false),
        ("/sys", true),
        ("/dev", false),
        ("/dev/sda", false),
        ("/boot", true),
        ("/home/x/..//..", true),
        ("/var/log", true),
        ("/srv", false),
    ] {
        let opt = if ro { ":ro" } else { "" };
        rows.push(row(
            &format!("bind {path}{opt}"),
            &format!("    volumes:\n      - \"{path}:/x{opt}\"\n"),
            "volumes[0]",
            5,
            "",
        ));
        let ro_line = if ro { "        read_only: true\n" } else { "" };
        rows.push(row(
            &format!("long bind {path}{opt}"),
            &format!("    volumes:\n      - type: bind\n        source: \"{path}\"\n        target: /x\n{ro_line}"),
            "volumes[0]",
            5,
            "",
        ));
    }
    // ---- Named volumes that are host paths or devices in disguise, and plugins.
    for (name, opts) in [
        ("volume bind /etc", "{type: none, o: bind, device: /etc}"),
        ("volume rbind /etc", "{type: none, o: rbind, device: /etc}"),
        ("volume ro,bind /etc", "{type: none, o: \"ro,bind\", device: /etc}"),
        ("volume bind without type", "{o: bind, device: /var/run/docker.sock}"),
        ("volume bind of /", "{type: none, o: \" bind \", device: /}"),
        ("volume ext4 /dev/vda", "{type: ext4, device: /dev/vda}"),
        ("volume xfs", "{type: xfs, device: /dev/sdb1}"),
        ("volume btrfs", "{type: btrfs, device: /dev/sdb}"),
        ("volume device only", "{device: /dev/sda}"),
        ("volume type none no bind", "{type: none, device: /etc}"),
        ("volume NFS uppercase", "{type: NFS, device: \":/x\"}"),
    ] {
        rows.push(row(
            name,
            &format!("    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {opts}\n"),
            "volumes[0]",
            4,
            "",
        ));
    }
    rows.push(row(
        "volume driver some-plugin",
        "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver: some-plugin\n",
        "volumes[0]",
        4,
        "",
    ));
    // ---- Host namespaces, privileges, confinement.
    rows.push(row("privileged", "    privileged: true\n", "privileged", 4, ""));
    for key in ["pid", "ipc", "uts", "userns_mode", "cgroup"] {
        rows.push(row(&format!("{key} host"), &format!("    {key}: host\n"), key, 4, ""));
    }
    rows.push(row("pid container", "    pid: \"container:abc\"\n", "pid", 4, ""));
    rows.push(row("ipc shareable", "    ipc: shareable\n", "ipc", 4, ""));
    rows.push(row("devices", "    devices: [/dev/kvm]\n", "devices[0]", 4, ""));
    for cap in [
        "SYS_ADMIN",
        "sys_admin",
        "CAP_SYS_ADMIN",
        "cap_sys_admin",
        "ALL",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "DAC_READ_SEARCH",
    ] {
        rows.push(row(&format!("cap_add {cap}"), &format!("    cap_add: [CHOWN, {cap}]\n"), "cap_add[1]", 4, ""));
    }
    for opt in [
        "seccomp=unconfined",
        "seccomp:unconfined",
        "apparmor=unconfined",
        "apparmor:unconfined",
        "label=disable",
        "label:disable",
        "systempaths=unconfined",
        "no-new-privileges:false",
        "label=type:spc_t",
    ] {
        rows.push(row(
            &format!("security_opt {opt}"),
            &format!("    security_opt: [no-new-privileges, \"{opt}\"]\n"),
            "security_opt[1]",
            4,
            "",
        ));
    }
    for (key, line) in [
        ("kernel.core_pattern", 5),
        ("kernel.modprobe", 5),
        ("vm.overcommit_memory", 5),
        ("kernel/core_pattern", 5),
        ("net/../kernel/core_pattern", 5),
        ("fs.mqueue", 5),
    ] {
        rows.push(row(
            &format!("sysctl {key}"),
            &format!("    sysctls:\n      \"{key}\": \"1\"\n"),
            &format!("sysctls.{key}"),
            line,
            "",
        ));
    }
    rows.push(row(
        "sysctl list form",
        "    sysctls:\n      - net.core.somaxconn=1024\n      - kernel.core_pattern=|/x\n",
        "sysctls.kernel.core_pattern",
        6,
        "",
    ));
    rows.push(row("logging syslog", "    logging:\n      driver: syslog\n", "logging.driver", 5, ""));
    rows.push(row(
        "logging gelf",
        "    logging: {driver: gelf, options: {gelf-address: \"udp://1.2.3.4:12201\"}}\n",
        "logging.driver",
        4,
        "",
    ));
    rows.push(row("isolation hyperv", "    isolation: hyperv\n", "isolation", 4, ""));
    // ---- Relative to the allowances.
    let allowed = |mut r: Row, paths: Vec<(&'static str, bool)>| {
        r.paths = paths;
        r
    };
    rows.push(allowed(
        row("rw bind under ro allowance", "    volumes: [\"/srv/data/x:/x\"]\n", "volumes[0]", 4, "read-only"),
        vec![("/srv/data", false)],
    ));
    rows.push(allowed(
        row(
            "long rw bind under ro allowance",
            "    volumes:\n      - type: bind\n        source: /srv/data\n        target: /x\n",
            "volumes[0]",
            5,
            "read-only",
        ),
        vec![("/srv/data", false)],
    ));
    rows.push(allowed(
        row("sibling with common prefix", "    volumes: [\"/srv/database:/x\"]\n", "volumes[0]", 4, "not under"),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(
        row("dotdot out of allowance", "    volumes: [\"/srv/data/../../etc:/x\"]\n", "volumes[0]", 4, "not under"),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(
        row("dotdot to sibling", "    volumes: [\"/srv/data/../database:/x\"]\n", "volumes[0]", 4, "not under"),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(
        row("parent of allowance", "    volumes: [\"/srv:/x:ro\"]\n", "volumes[0]", 4, "not under"),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(
        row("proc under allowance", "    volumes: [\"/proc/sys:/x:ro\"]\n", "volumes[0]", 4, "never"),
        vec![("/proc", true)],
    ));
    rows.push(allowed(
        row("NUL in path", "    volumes: [\"/srv/data/..\\0/../../etc:/x\"]\n", "volumes[0]", 4, ""),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(
        row(
            "newline in path",
            "    volumes:\n      - type: bind\n        source: \"/srv/data/a\\nb\"\n        target: /x\n",
            "volumes[0]",
            5,
            "",
        ),
        vec![("/srv/data", true)],
    ));
    rows.push(allowed(row(
        "volume bind rw under ro allowance",
        "    volumes: [\"data:/x\"]\nvolumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv/data/x}\n",
        "volumes[0]", 4, "read-only"), vec![("/srv/data", false)]));
    rows.push(allowed(row(
        "volume bind escaping allowance",
        "    volumes: [\"data:/x:ro\"]\nvolumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv/data/../../etc}\n",
        "volumes[0]", 4, "contains `..`"), vec![("/srv/data", true)]));
    rows
}
