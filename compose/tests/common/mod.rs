//! The table's cases, shared by the table test and the fuzz test (as its corpus).

#![allow(dead_code)]

use compose::*;

pub mod bombs;

pub enum Expect {
    /// Parses; the predicate holds on the spec.
    Spec(fn(&AppSpec) -> bool),
    /// Parses, with this warning (line, field, message part).
    Warn(usize, &'static str, &'static str),
    /// Fails, with this error among the diagnostics (line, field, message part).
    Error(usize, &'static str, &'static str),
}

pub struct Case {
    pub name: &'static str,
    pub yaml: &'static str,
    pub vars: &'static [(&'static str, &'static str)],
    pub expect: Expect,
}

use Expect::*;

/// A template with one service `web` (image on line 3); the argument starts at line 4.
macro_rules! web {
    ($s:expr) => {
        concat!("services:\n  web:\n    image: nginx\n", $s)
    };
}

const NO_VARS: &[(&str, &str)] = &[];

fn w(s: &AppSpec) -> &ServiceSpec {
    &s.services["web"]
}

pub fn cases() -> Vec<Case> {
    let c = |name, yaml, expect| Case { name, yaml, vars: NO_VARS, expect };
    let v = |name, yaml, vars, expect| Case { name, yaml, vars, expect };
    vec![
        // ---- Basics, v2 and v3.
        c("minimal", web!(""), Spec(|s| w(s).image == "nginx" && w(s).mode == Mode::Replicated(1) && w(s).line == 2)),
        c("v3 version", concat!("version: \"3.8\"\n", web!("")), Spec(|s| s.services.len() == 1)),
        c("v2 version number", concat!("version: 2.4\n", web!("")), Spec(|s| s.services.len() == 1)),
        c("odd version", concat!("version: \"1\"\n", web!("")), Warn(1, "version", "not a Compose 2.x or 3.x")),
        c("name ignored", concat!("name: app\n", web!("")), Spec(|s| s.services.len() == 1)),
        c("x- top level ignored", concat!("x-foo: {a: 1}\n", web!("")), Spec(|s| s.services.len() == 1)),
        c("unknown top-level", concat!(web!(""), "servics: {}\n"), Error(4, "servics", "unknown top-level key `servics`")),
        c("empty template", "", Error(0, "", "the template is empty")),
        c("comment only", "# nothing\n", Error(0, "", "the template is empty")),
        c("not a mapping", "- a\n- b\n", Error(1, "", "must be a mapping with `services:`")),
        c("no services", "volumes: {}\n", Error(1, "services", "the template has no `services:`")),
        c("empty services", "services: {}\n", Error(1, "services", "`services:` is empty")),
        c("services not a map", "services: [a]\n", Error(1, "services", "expected a mapping, not a list")),
        c("service without definition", "services:\n  web:\n", Error(2, "services.web", "has no definition")),
        c("bad service name", "services:\n  Web_1:\n    image: nginx\n", Error(2, "services.Web_1", "must be a DNS label")),
        c("service without image", "services:\n  web:\n    user: a\n", Error(2, "services.web", "has no `image:`")),
        c("empty image", "services:\n  web:\n    image: \"\"\n", Error(3, "services.web.image", "the image is empty")),
        c("null image", "services:\n  web:\n    image:\n", Error(3, "services.web.image", "the image is empty")),
        c("image list", "services:\n  web:\n    image: [a]\n", Error(3, "services.web.image", "expected a single value, not a list")),
        c("image uppercase", "services:\n  web:\n    image: Nginx\n", Error(3, "services.web.image", "names are lowercase")),
        c("image bad tag", "services:\n  web:\n    image: \"nginx:-x\"\n", Error(3, "services.web.image", "a tag is")),
        c("image bad digest", "services:\n  web:\n    image: nginx@sha256:abc\n", Error(3, "services.web.image", "digest")),
        c("image too long", "services:\n  web:\n    image: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", Error(3, "services.web.image", "longer than 255 characters")),
        c("image bad registry", "services:\n  web:\n    image: \"reg.io:x/nginx\"\n", Error(3, "services.web.image", "registry")),
        c(
            "image full reference",
            "services:\n  web:\n    image: registry.example.com:5000/team/app_x:1.2-rc@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
            Spec(|s| w(s).image.starts_with("registry.example.com:5000/")),
        ),
        c("build refused", "services:\n  web:\n    build: .\n", Error(3, "services.web.build", "build is not supported")),
        c("build and image", web!("    build: .\n"), Warn(4, "services.web.build", "build is ignored")),
        c("unknown service key", web!("    imagee: x\n"), Error(4, "services.web.imagee", "unknown key `imagee`")),
        c("x- service key", web!("    x-note: hi\n"), Spec(|s| w(s).image == "nginx")),
        c("ignored key", web!("    container_name: w\n"), Warn(4, "services.web.container_name", "`container_name` is ignored by swarm services: swarm names containers itself; the service is `<app>_web`")),
        c("cpu_shares", web!("    cpu_shares: 512\n"), Warn(4, "services.web.cpu_shares", "`cpu_shares` is ignored by swarm services: use deploy.resources")),
        c("links", web!("    links: [db]\n"), Warn(4, "services.web.links", "services reach each other by name on the app's networks")),
        c("shm_size", web!("    shm_size: 64m\n"), Warn(4, "services.web.shm_size", "mount a tmpfs at /dev/shm")),
        c("mem_swappiness", web!("    mem_swappiness: 0\n"), Warn(4, "services.web.mem_swappiness", "set deploy.resources.limits.memory")),
        c("platform", web!("    platform: linux/amd64\n"), Warn(4, "services.web.platform", "node.platform.arch")),
        c("extends", web!("    extends: {service: base}\n"), Error(4, "services.web.extends", "`extends` is a Compose key Berth does not support: write the service out in full")),
        c("volumes_from", web!("    volumes_from: [db]\n"), Error(4, "services.web.volumes_from", "`volumes_from` is a Compose key Berth does not support: declare a named volume")),
        c("post_start", web!("    post_start:\n      - command: [chown, x]\n"), Error(4, "services.web.post_start", "`post_start` is a Compose key Berth does not support")),
        c("gpus", web!("    gpus: all\n"), Error(4, "services.web.gpus", "cannot be given GPUs")),
        c("use_api_socket", web!("    use_api_socket: true\n"), Error(4, "services.web.use_api_socket", "never hands the engine's socket")),
        c("profiles", web!("    profiles: [debug]\n"), Warn(4, "services.web.profiles", "`profiles` is a Compose key Berth does not support: every service of the template is deployed")),
        c("develop", web!("    develop: {watch: []}\n"), Warn(4, "services.web.develop", "`develop` is a Compose key Berth does not support")),
        c("pull_policy", web!("    pull_policy: always\n"), Warn(4, "services.web.pull_policy", "berth.latest_image")),
        c("label_file", web!("    label_file: ./labels\n"), Error(4, "services.web.label_file", "a web console has no files; put the labels in `labels:`")),
        c("pre_stop", web!("    pre_stop: [{command: [x]}]\n"), Error(4, "services.web.pre_stop", "handle the stop signal in the container")),
        c("attach", web!("    attach: false\n"), Warn(4, "services.web.attach", "`attach` is a Compose key Berth does not support")),
        c("provider", web!("    provider: {type: model}\n"), Error(4, "services.web.provider", "run by the Compose CLI")),
        c("annotations", web!("    annotations: {a: b}\n"), Warn(4, "services.web.annotations", "use `labels`")),
        c("oom_kill_disable", web!("    oom_kill_disable: true\n"), Warn(4, "services.web.oom_kill_disable", "cannot turn off the OOM killer")),
        c("domainname", web!("    domainname: example.com\n"), Warn(4, "services.web.domainname", "fully qualified `hostname`")),
        c("cpuset", web!("    cpuset: \"0-1\"\n"), Warn(4, "services.web.cpuset", "cannot be pinned to CPUs")),
        c("models top level", concat!("models:\n  m: {}\n", web!("")), Error(1, "models", "`models` is a Compose key Berth does not support")),
        c("include", concat!("include: [other.yaml]\n", web!("")), Error(1, "include", "`include` is a Compose key Berth does not support: a web console has no files")),
        c("too big", "", Error(0, "", "")), // replaced in `run` by a generated huge input
        c("alias bomb by bytes", "", Error(0, "", "")),
        c("nested anchors", "", Error(0, "", "")),
        c("too many problems", "", Error(0, "", "")),
        c("too many duplicate keys", "", Error(0, "", "")),
        // ---- YAML layer.
        c("syntax error", web!("    ports: [\n"), Error(4, "", "YAML syntax error")),
        c("tab indentation", "services:\n\tweb:\n", Error(2, "", "YAML syntax error")),
        c("duplicate key", web!("    image: redis\n"), Error(4, "services.web.image", "duplicate key `image` (first at line 3)")),
        c("complex key", "services:\n  ? [a]\n  : b\n", Error(2, "services", "a mapping key must be a string")),
        c("two documents", concat!(web!(""), "---\nservices: {}\n"), Error(4, "", "only one YAML document")),
        c(
            "anchors and merge",
            "x-base: &base\n  image: redis:7\n  user: \"1000\"\nservices:\n  web:\n    <<: *base\n    user: root\n",
            Spec(|s| w(s).image == "redis:7" && w(s).user.as_deref() == Some("root")),
        ),
        c(
            "merge list",
            "x-a: &a {image: a}\nx-b: &b {image: b, user: u}\nservices:\n  web:\n    <<: [*a, *b]\n",
            Spec(|s| w(s).image == "a" && w(s).user.as_deref() == Some("u")),
        ),
        c("bad merge", "x-a: &a [1]\nservices:\n  web:\n    image: nginx\n    <<: *a\n", Error(1, "services.web.<<", "`<<` must merge")),
        c("recursive alias", "a: &a [*a]\n", Error(1, "a[0]", "refers to the node that contains it")),
        c("billion laughs", "", Error(0, "", "")), // generated in `run`
        c("deep nesting", "", Error(0, "", "")),   // generated in `run`
        c("deep block nesting", "", Error(0, "", "")), // generated in `run`
        c("yes is text", web!("    privileged: yes\n"), Error(4, "services.web.privileged", "YAML 1.2 reads `yes` as text")),
        c("bad bool", web!("    init: 1\n"), Error(4, "services.web.init", "expected true or false, not `1`")),
        c("quoted bool", web!("    init: \"true\"\n"), Spec(|s| w(s).init)),
        // ---- command, entrypoint, environment.
        c(
            "command string",
            web!("    command: sh -c 'echo \"hi there\"' x\\ y \"a\\\"b\"\n"),
            Spec(|s| w(s).command == Some(vec!["sh".into(), "-c".into(), "echo \"hi there\"".into(), "x y".into(), "a\"b".into()])),
        ),
        c("command list", web!("    command: [\"a b\", c]\n"), Spec(|s| w(s).command == Some(vec!["a b".into(), "c".into()]))),
        c("entrypoint", web!("    entrypoint: /bin/tini --\n"), Spec(|s| w(s).entrypoint == Some(vec!["/bin/tini".into(), "--".into()]))),
        c("unclosed single quote", web!("    command: echo 'x\n"), Error(4, "services.web.command", "single quote is not closed")),
        c("unclosed double quote", web!("    command: echo \"x\n"), Error(4, "services.web.command", "double quote is not closed")),
        c(
            "environment map",
            web!("    environment:\n      A: 1\n      B: \"two\"\n      C: true\n"),
            Spec(|s| w(s).environment.get("A").map(String::as_str) == Some("1") && w(s).environment["C"] == "true"),
        ),
        v(
            "environment list",
            web!("    environment:\n      - A=1=2\n      - B\n      - C=\n"),
            &[("B", "from-vars")],
            Spec(|s| w(s).environment["A"] == "1=2" && w(s).environment["B"] == "from-vars" && w(s).environment["C"].is_empty()),
        ),
        c("environment unset key", web!("    environment:\n      - B\n"), Warn(5, "services.web.environment[0]", "`B` has no value and is not set")),
        c("environment empty name", web!("    environment:\n      - =x\n"), Error(5, "services.web.environment[0]", "the name before `=` is empty")),
        c("env_file", web!("    env_file: .env\n"), Error(4, "services.web.env_file", "env_file is not supported")),
        c(
            "working_dir user hostname",
            web!("    working_dir: /app\n    user: 1000\n    hostname: h\n"),
            Spec(|s| w(s).working_dir.as_deref() == Some("/app") && w(s).user.as_deref() == Some("1000") && w(s).hostname.as_deref() == Some("h")),
        ),
        // ---- Ports.
        c(
            "ports short",
            web!("    ports:\n      - 80\n      - \"8080:80\"\n      - 53:53/udp\n"),
            Spec(|s| {
                w(s).ports
                    == vec![
                        PortSpec { target: 80, published: None, protocol: "tcp".into() },
                        PortSpec { target: 80, published: Some(8080), protocol: "tcp".into() },
                        PortSpec { target: 53, published: Some(53), protocol: "udp".into() },
                    ]
            }),
        ),
        c(
            "ports range",
            web!("    ports: [\"8000-8001:80-81\", \"90-91\"]\n"),
            Spec(|s| w(s).ports.len() == 4 && w(s).ports[1].target == 81 && w(s).ports[1].published == Some(8001) && w(s).ports[3].published.is_none()),
        ),
        c("ports range mismatch", web!("    ports: [\"8000-8002:80-81\"]\n"), Error(4, "services.web.ports[0]", "differ in length")),
        c("ports range backwards", web!("    ports: [\"81-80\"]\n"), Error(4, "services.web.ports[0]", "runs backwards")),
        c("ports range huge", web!("    ports: [\"1-5000\"]\n"), Error(4, "services.web.ports[0]", "more than 1000 ports")),
        c("ports host ip", web!("    ports:\n      - 127.0.0.1:8080:80\n"), Error(5, "services.web.ports[0]", "host IP `127.0.0.1` is not supported")),
        c("ports bad number", web!("    ports: [\"70000:80\"]\n"), Error(4, "services.web.ports[0]", "`70000` is not a port")),
        c("ports bad protocol", web!("    ports: [\"80/icmp\"]\n"), Error(4, "services.web.ports[0]", "protocol `icmp` must be tcp or udp")),
        c(
            "ports long",
            web!("    ports:\n      - target: 80\n        published: \"8080\"\n        protocol: udp\n        mode: host\n"),
            Spec(|s| w(s).ports == vec![PortSpec { target: 80, published: Some(8080), protocol: "udp".into() }]),
        ),
        c("ports long ingress", web!("    ports:\n      - target: 80\n        published: 80\n        mode: ingress\n"), Warn(7, "services.web.ports[0].mode", "published in host mode")),
        c("ports long bad mode", web!("    ports:\n      - target: 80\n        mode: bridge\n"), Error(6, "services.web.ports[0].mode", "`bridge` must be one of: host, ingress")),
        c("ports long no target", web!("    ports:\n      - published: 80\n"), Error(5, "services.web.ports[0]", "`target` (the container port) is required")),
        c("ports long bad target", web!("    ports:\n      - target: 0\n"), Error(5, "services.web.ports[0].target", "`0` is not a port")),
        c("ports long host_ip", web!("    ports:\n      - target: 80\n        host_ip: 10.0.0.1\n"), Error(6, "services.web.ports[0].host_ip", "host IP `10.0.0.1`")),
        c("ports long range", web!("    ports:\n      - target: 80\n        published: 8000-8001\n"), Error(6, "services.web.ports[0].published", "needs the short syntax")),
        c("ports long unknown", web!("    ports:\n      - target: 80\n        hostport: 1\n"), Error(6, "services.web.ports[0].hostport", "unknown key")),
        c("ports not a list", web!("    ports: 80\n"), Error(4, "services.web.ports", "expected a list, not a single value")),
        c("expose", web!("    expose: [\"3000\"]\n"), Spec(|s| w(s).ports.is_empty())),
        c(
            "port collision across services",
            "services:\n  a:\n    image: x\n    ports: [\"80:80\"]\n  b:\n    image: y\n    ports: [\"80:80\"]\n",
            Error(7, "services.b.ports[0]", "published port 80/tcp is also published by service `a` (line 4)"),
        ),
        c("port collision in one service", web!("    ports: [\"80:80\", \"80:81\"]\n"), Error(4, "services.web.ports[1]", "also published by this service")),
        c("tcp and udp do not collide", web!("    ports: [\"53:53\", \"53:53/udp\"]\n"), Spec(|s| w(s).ports.len() == 2)),
        // ---- Volumes and tmpfs.
        c(
            "volumes short",
            concat!(web!("    volumes:\n      - data:/data:ro\n      - /srv//x/./y/../:/y:rw,z\n      - /anon\n"), "volumes:\n  data:\n"),
            Spec(|s| {
                w(s).mounts
                    == vec![
                        MountSpec { kind: MountKind::Volume, source: "data".into(), target: "/data".into(), read_only: true },
                        MountSpec { kind: MountKind::Bind, source: "/srv/x".into(), target: "/y".into(), read_only: false },
                        MountSpec { kind: MountKind::Volume, source: String::new(), target: "/anon".into(), read_only: false },
                    ]
            }),
        ),
        c("volume relative", web!("    volumes: [\"./conf:/etc/conf\"]\n"), Error(4, "services.web.volumes[0]", "the relative path `./conf` has no meaning on swarm nodes")),
        c("volume home", web!("    volumes: [\"~/conf:/etc/conf\"]\n"), Error(4, "services.web.volumes[0]", "home directories have no meaning")),
        c("volume undeclared", web!("    volumes: [\"data:/data\"]\n"), Error(4, "services.web.volumes[0]", "volume `data` is not declared in the top-level `volumes:`")),
        c("volume weird source", web!("    volumes: [\"C\\\\x:/data\"]\n"), Error(4, "services.web.volumes[0]", "neither an absolute path nor a volume name")),
        c("volume relative target", web!("    volumes: [\"/a:b\"]\n"), Error(4, "services.web.volumes[0]", "the container path `b` must be absolute")),
        c("volume too many colons", web!("    volumes: [\"/a:/b:ro:x\"]\n"), Error(4, "services.web.volumes[0]", "is not a volume")),
        c("volume bad option", web!("    volumes: [\"/a:/b:rx\"]\n"), Error(4, "services.web.volumes[0]", "unknown volume option `rx`")),
        c(
            "volumes long",
            concat!(
                web!("    volumes:\n      - type: bind\n        source: /var/log/\n        target: /logs\n        read_only: true\n      - type: volume\n        source: data\n        target: /data\n        volume: {nocopy: true}\n      - type: tmpfs\n        target: /tmp\n"),
                "volumes:\n  data: {}\n"
            ),
            Spec(|s| {
                w(s).mounts
                    == vec![
                        MountSpec { kind: MountKind::Bind, source: "/var/log".into(), target: "/logs".into(), read_only: true },
                        MountSpec { kind: MountKind::Volume, source: "data".into(), target: "/data".into(), read_only: false },
                        MountSpec { kind: MountKind::Tmpfs, source: String::new(), target: "/tmp".into(), read_only: false },
                    ]
            }),
        ),
        c("volume long no type", web!("    volumes:\n      - target: /x\n"), Error(5, "services.web.volumes[0]", "`type` is required")),
        c("volume long bad type", web!("    volumes:\n      - type: npipe\n        target: /x\n"), Error(5, "services.web.volumes[0].type", "must be one of: volume, bind, tmpfs")),
        c("volume long no target", web!("    volumes:\n      - type: tmpfs\n"), Error(5, "services.web.volumes[0]", "`target` (the path in the container) is required")),
        c("bind without source", web!("    volumes:\n      - type: bind\n        target: /x\n"), Error(5, "services.web.volumes[0]", "a bind mount needs `source`")),
        c("bind named source", concat!(web!("    volumes:\n      - type: bind\n        source: data\n        target: /x\n"), "volumes: {data: }\n"), Error(6, "services.web.volumes[0].source", "a bind mount's source must be an absolute path")),
        c("volume path source", web!("    volumes:\n      - type: volume\n        source: /srv\n        target: /x\n"), Error(6, "services.web.volumes[0].source", "use type: bind")),
        c("volume long unknown", web!("    volumes:\n      - type: tmpfs\n        target: /x\n        size: 3\n"), Error(7, "services.web.volumes[0].size", "unknown key `size`")),
        c(
            "tmpfs",
            web!("    volumes: [\"/a:/a\"]\n    tmpfs:\n      - /run:size=64m\n      - /tmp\n"),
            Spec(|s| w(s).mounts.len() == 3 && w(s).mounts[1].kind == MountKind::Tmpfs && w(s).mounts[1].target == "/run"),
        ),
        c("tmpfs string", web!("    tmpfs: /run\n"), Spec(|s| w(s).mounts.len() == 1)),
        c("tmpfs relative", web!("    tmpfs: run\n"), Error(4, "services.web.tmpfs", "must be absolute")),
        // ---- Networks.
        c(
            "networks list",
            concat!(web!("    networks: [front, default]\n"), "networks:\n  front:\n    driver: overlay\n    attachable: true\n    internal: true\n    labels: [a=b]\n"),
            Spec(|s| w(s).networks == vec!["front".to_string(), "default".to_string()] && s.networks["front"].attachable && s.networks["front"].labels["a"] == "b"),
        ),
        c(
            "networks map",
            concat!(web!("    networks:\n      front:\n      back: {}\n"), "networks:\n  front:\n  back:\n"),
            Spec(|s| w(s).networks == vec!["front".to_string(), "back".to_string()]),
        ),
        c("network alias option", concat!(web!("    networks:\n      front:\n        aliases: [x]\n"), "networks: {front: }\n"), Warn(6, "services.web.networks.front.aliases", "network option `aliases` is ignored")),
        c("network undeclared", web!("    networks: [front]\n"), Error(4, "services.web.networks[0]", "network `front` is not declared")),
        c("network driver", concat!(web!(""), "networks:\n  n:\n    driver: bridge\n"), Warn(6, "networks.n.driver", "driver `bridge` is not used")),
        c("network encrypted", concat!(web!(""), "networks:\n  n:\n    driver_opts:\n      encrypted: \"\"\n"), Warn(7, "networks.n.driver_opts.encrypted", "silently drop traffic")),
        c("network driver opt", concat!(web!(""), "networks:\n  n:\n    driver_opts:\n      mtu: \"1400\"\n"), Warn(7, "networks.n.driver_opts.mtu", "driver option `mtu` is ignored")),
        c("network ipam", concat!(web!(""), "networks:\n  n:\n    ipam: {}\n"), Warn(6, "networks.n.ipam", "`ipam` is ignored by Berth")),
        c("network external", concat!(web!(""), "networks:\n  n:\n    external: true\n"), Spec(|s| s.networks["n"].external.as_deref() == Some("n"))),
        c("network external name", concat!(web!(""), "networks:\n  n:\n    external: true\n    name: proxy\n"), Spec(|s| s.networks["n"].external.as_deref() == Some("proxy"))),
        c("network external v3.4", concat!(web!(""), "networks:\n  n:\n    external:\n      name: proxy\n"), Spec(|s| s.networks["n"].external.as_deref() == Some("proxy"))),
        c("network name only", concat!(web!(""), "networks:\n  n:\n    name: other\n"), Warn(6, "networks.n.name", "`name: other` is ignored")),
        c("network unknown key", concat!(web!(""), "networks:\n  n:\n    drivr: overlay\n"), Error(6, "networks.n.drivr", "unknown key")),
        // ---- Top-level volumes, secrets, configs.
        c("volume top-level", concat!(web!(""), "volumes:\n  data:\n    driver: local\n    labels: {a: b}\n"), Spec(|s| s.volumes["data"].driver.as_deref() == Some("local") && s.volumes["data"].labels["a"] == "b")),
        c(
            "volume driver_opts",
            concat!(web!(""), "volumes:\n  data:\n    driver_opts:\n      type: nfs\n      o: \"addr=10.0.0.1,nfsvers=4\"\n      device: \":/export\"\n"),
            Spec(|s| s.volumes["data"].driver_opts.len() == 3 && s.volumes["data"].driver_opts["device"] == ":/export"),
        ),
        c(
            "secrets",
            concat!(web!("    secrets:\n      - db\n      - source: api\n        target: key\n        mode: 0400\n"), "secrets:\n  db:\n    content: hunter2\n  api:\n    environment: API_KEY\n"),
            Spec(|s| {
                w(s).secrets
                    == vec![
                        FileRef { source: "db".into(), target: "/run/secrets/db".into() },
                        FileRef { source: "api".into(), target: "/run/secrets/key".into() },
                    ]
                    && s.secrets["db"].content.as_deref() == Some("hunter2")
                    && s.secrets["api"].content.as_deref() == Some("k3y")
            }),
        )
        .with_vars(&[("API_KEY", "k3y")]),
        c("secret file", concat!(web!(""), "secrets:\n  db:\n    file: ./db.txt\n"), Error(6, "secrets.db.file", "`file:` is not supported")),
        c("secret env unset", concat!(web!(""), "secrets:\n  db:\n    environment: NOPE\n"), Error(6, "secrets.db.environment", "variable `NOPE` is not set")),
        c("config empty", concat!(web!(""), "configs:\n  c:\n"), Error(5, "configs.c", "config `c` needs `content:`")),
        c("secret empty", concat!(web!(""), "secrets:\n  db: {}\n"), Error(5, "secrets.db", "secret `db` needs `content:`")),
        c("secret driver", concat!(web!(""), "secrets:\n  db:\n    external: true\n    driver: vault\n"), Warn(7, "secrets.db.driver", "`driver` is ignored")),
        c("secret undeclared", web!("    secrets: [db]\n"), Error(4, "services.web.secrets[0]", "secret `db` is not declared in the top-level `secrets:`")),
        c("secret long no source", concat!(web!("    secrets:\n      - target: x\n"), "secrets: {}\n"), Error(5, "services.web.secrets[0]", "`source` is required")),
        c(
            "configs",
            concat!(web!("    configs:\n      - conf\n      - source: conf\n        target: /etc/x.conf\n"), "configs:\n  conf:\n    content: |\n      a=1\n"),
            Spec(|s| w(s).configs[0].target == "/conf" && w(s).configs[1].target == "/etc/x.conf" && s.configs["conf"].content.as_deref() == Some("a=1\n")),
        ),
        c("config undeclared", web!("    configs: [c]\n"), Error(4, "services.web.configs[0]", "config `c` is not declared in the top-level `configs:`")),
        // ---- Healthcheck, init, stop_grace_period.
        c(
            "healthcheck string",
            web!("    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      timeout: 500ms\n      retries: 3\n      start_period: 1.5s\n"),
            Spec(|s| {
                w(s).healthcheck
                    == Some(HealthSpec {
                        test: vec!["CMD-SHELL".into(), "curl -f http://localhost".into()],
                        interval_ns: Some(90_000_000_000),
                        timeout_ns: Some(500_000_000),
                        retries: Some(3),
                        start_period_ns: Some(1_500_000_000),
                    })
            }),
        ),
        c("healthcheck list", web!("    healthcheck:\n      test: [CMD, pg_isready]\n      interval: 2us\n"), Spec(|s| w(s).healthcheck.as_ref().is_some_and(|h| h.test[0] == "CMD" && h.interval_ns == Some(2000)))),
        c("healthcheck disable", web!("    healthcheck:\n      disable: true\n"), Spec(|s| w(s).healthcheck.as_ref().is_some_and(|h| h.test == vec!["NONE".to_string()]))),
        c("healthcheck bad list", web!("    healthcheck:\n      test: [curl, x]\n"), Error(5, "services.web.healthcheck.test", "must start with CMD, CMD-SHELL or NONE")),
        c("healthcheck empty test", web!("    healthcheck:\n      test: \"\"\n"), Error(5, "services.web.healthcheck.test", "the test is empty")),
        c("healthcheck start_interval", web!("    healthcheck:\n      start_interval: 1s\n"), Warn(5, "services.web.healthcheck.start_interval", "is ignored")),
        c("healthcheck bad retries", web!("    healthcheck:\n      retries: many\n"), Error(5, "services.web.healthcheck.retries", "expected a whole number (0 or more), not `many`")),
        c("healthcheck not a map", web!("    healthcheck: curl\n"), Error(4, "services.web.healthcheck", "expected a mapping, not a single value")),
        c("duration no unit", web!("    stop_grace_period: 10\n"), Error(4, "services.web.stop_grace_period", "has no unit (write e.g. 10s)")),
        c("duration bad", web!("    stop_grace_period: 10 seconds\n"), Error(4, "services.web.stop_grace_period", "is not a duration")),
        c("duration negative", web!("    stop_grace_period: -1s\n"), Error(4, "services.web.stop_grace_period", "is negative")),
        c("duration huge", web!("    stop_grace_period: 9999999999h\n"), Error(4, "services.web.stop_grace_period", "too long a duration")),
        c("duration required", web!("    stop_grace_period:\n"), Error(4, "services.web.stop_grace_period", "a value is required here")),
        c("init and grace", web!("    init: true\n    stop_grace_period: 1h2m\n"), Spec(|s| w(s).init && w(s).stop_grace_period_ns == Some(3_720_000_000_000))),
        // ---- Privileges (kept for the policy).
        c(
            "privileges",
            web!("    privileged: true\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    devices: [\"/dev/fuse:/dev/fuse\"]\n    pid: host\n    network_mode: host\n"),
            Spec(|s| {
                w(s).privileged
                    && w(s).cap_add == vec!["NET_ADMIN".to_string()]
                    && w(s).cap_drop.len() == 1
                    && w(s).devices.len() == 1
                    && w(s).pid.as_deref() == Some("host")
                    && w(s).network_mode.as_deref() == Some("host")
                    && w(s).lines["cap_add[0]"] == 5
                    && w(s).lines["network_mode"] == 9
            }),
        ),
        c("pid host", web!("    pid: host\n"), Warn(4, "services.web.pid", "`pid: host` is not supported by swarm services; ignored")),
        c("pid other", web!("    pid: \"service:db\"\n"), Warn(4, "services.web.pid", "`pid: service:db` is not supported by swarm services; ignored")),
        c("pid empty", web!("    pid: \"\"\n"), Spec(|s| w(s).pid.is_none())),
        c(
            "namespaces kept",
            web!("    ipc: shareable\n    uts: host\n    userns_mode: host\n    cgroup: private\n"),
            Spec(|s| {
                w(s).ipc.as_deref() == Some("shareable")
                    && w(s).uts.as_deref() == Some("host")
                    && w(s).userns_mode.as_deref() == Some("host")
                    && w(s).cgroup.as_deref() == Some("private")
            }),
        ),
        c("ipc warns", web!("    ipc: host\n"), Warn(4, "services.web.ipc", "`ipc: host` is not supported by swarm services; ignored")),
        c("cgroup warns", web!("    cgroup: host\n"), Warn(4, "services.web.cgroup", "`cgroup: host` is not supported by swarm services")),
        c("network_mode none", web!("    network_mode: none\n"), Spec(|s| w(s).network_mode.as_deref() == Some("none"))),
        c("network_mode bridge", web!("    network_mode: bridge\n"), Error(4, "services.web.network_mode", "network_mode `bridge` is not supported by swarm services: use networks:")),
        c("network_mode service", web!("    network_mode: \"service:db\"\n"), Error(4, "services.web.network_mode", "network_mode `service:db` is not supported by swarm services: use networks:")),
        c("network_mode and networks", web!("    network_mode: host\n    networks: [default]\n"), Error(4, "services.web.network_mode", "`network_mode` and `networks` cannot be used together")),
        c(
            "security_opt kept",
            web!("    security_opt:\n      - no-new-privileges:true\n      - \"seccomp=unconfined\"\n"),
            Spec(|s| w(s).security_opt == vec!["no-new-privileges:true".to_string(), "seccomp=unconfined".to_string()] && w(s).lines["security_opt[1]"] == 6),
        ),
        c("security_opt warns", web!("    security_opt: [no-new-privileges]\n"), Warn(4, "services.web.security_opt", "swarm services (API 1.41) cannot set security options")),
        c("read_only tty stdin_open", web!("    read_only: true\n    tty: true\n    stdin_open: true\n"), Spec(|s| w(s).read_only && w(s).tty && w(s).stdin_open)),
        c("read_only bad", web!("    read_only: yes\n"), Error(4, "services.web.read_only", "YAML 1.2 reads `yes` as text")),
        c("stop_signal", web!("    stop_signal: SIGINT\n"), Spec(|s| w(s).stop_signal.as_deref() == Some("SIGINT"))),
        c("stop_signal number", web!("    stop_signal: 15\n"), Spec(|s| w(s).stop_signal.as_deref() == Some("15"))),
        c("stop_signal realtime", web!("    stop_signal: SIGRTMIN+3\n"), Spec(|s| w(s).stop_signal.as_deref() == Some("SIGRTMIN+3"))),
        c("stop_signal bad", web!("    stop_signal: stop please\n"), Error(4, "services.web.stop_signal", "`stop please` is not a signal")),
        c(
            "extra_hosts list",
            web!("    extra_hosts:\n      - \"somehost:162.242.195.82\"\n      - \"other=50.31.209.229\"\n      - \"myhostv6:::1\"\n      - \"v6b=[::1]\"\n      - \"two=10.0.0.1,10.0.0.2\"\n"),
            Spec(|s| {
                let h = |host: &str, ip: &str| HostEntry { host: host.into(), ip: ip.into() };
                w(s).extra_hosts
                    == vec![
                        h("somehost", "162.242.195.82"),
                        h("other", "50.31.209.229"),
                        h("myhostv6", "::1"),
                        h("v6b", "::1"),
                        h("two", "10.0.0.1"),
                        h("two", "10.0.0.2"),
                    ]
            }),
        ),
        c(
            "extra_hosts map",
            web!("    extra_hosts:\n      db: 10.0.0.5\n      v6: [\"::1\", \"fe80::1\"]\n"),
            Spec(|s| w(s).extra_hosts.len() == 3 && w(s).extra_hosts[0] == HostEntry { host: "db".into(), ip: "10.0.0.5".into() } && w(s).extra_hosts[2].ip == "fe80::1"),
        ),
        c("extra_hosts bad ip", web!("    extra_hosts: [\"db:10.0.0.x\"]\n"), Error(4, "services.web.extra_hosts[0]", "`10.0.0.x` (for host `db`) is not an IP address")),
        c("extra_hosts no ip", web!("    extra_hosts:\n      - db\n"), Error(5, "services.web.extra_hosts[0]", "`db` must be host:ip or host=ip")),
        c("extra_hosts bad host", web!("    extra_hosts: [\"a b=10.0.0.1\"]\n"), Error(4, "services.web.extra_hosts[0]", "`a b` is not a host name")),
        c("extra_hosts map bad ip", web!("    extra_hosts:\n      db: here\n"), Error(5, "services.web.extra_hosts.db", "`here` (for host `db`) is not an IP address")),
        c("dns string", web!("    dns: 8.8.8.8\n"), Spec(|s| w(s).dns == vec!["8.8.8.8".to_string()])),
        c("dns list", web!("    dns: [1.1.1.1, \"2606:4700::1111\"]\n"), Spec(|s| w(s).dns == vec!["1.1.1.1".to_string(), "2606:4700::1111".to_string()])),
        c("dns bad", web!("    dns:\n      - 1.1.1.1\n      - dns.google\n"), Error(6, "services.web.dns[1]", "`dns.google` is not an IP address")),
        c("dns_search", web!("    dns_search: example.com\n    dns_opt: [\"ndots:2\", \"timeout:1\"]\n"), Spec(|s| w(s).dns_search == vec!["example.com".to_string()] && w(s).dns_opt.len() == 2)),
        c("dns_search bad", web!("    dns_search: [\"a b\"]\n"), Error(4, "services.web.dns_search[0]", "`a b` is not a search domain")),
        c(
            "sysctls map",
            web!("    sysctls:\n      net.core.somaxconn: 1024\n      kernel.shm_rmid_forced: \"1\"\n"),
            Spec(|s| w(s).sysctls["net.core.somaxconn"] == "1024" && w(s).sysctls["kernel.shm_rmid_forced"] == "1" && w(s).lines["sysctls.kernel.shm_rmid_forced"] == 6),
        ),
        c("sysctls list", web!("    sysctls:\n      - net.core.somaxconn=1024\n"), Spec(|s| w(s).sysctls["net.core.somaxconn"] == "1024" && w(s).lines["sysctls.net.core.somaxconn"] == 5)),
        c("sysctls no value", web!("    sysctls:\n      - net.core.somaxconn\n"), Error(5, "services.web.sysctls[0]", "`net.core.somaxconn` needs a value")),
        c("sysctls twice", web!("    sysctls: [a.b=1, a.b=2]\n"), Error(4, "services.web.sysctls[1]", "`a.b` is set twice")),
        c("sysctls empty name", web!("    sysctls:\n      \"\": 1\n"), Error(5, "services.web.sysctls.", "the name is empty")),
        c(
            "ulimits",
            web!("    ulimits:\n      nproc: 65535\n      nofile:\n        soft: 20000\n        hard: 40000\n      memlock: -1\n"),
            Spec(|s| {
                w(s).ulimits["nproc"] == Ulimit { soft: 65535, hard: 65535 }
                    && w(s).ulimits["nofile"] == Ulimit { soft: 20000, hard: 40000 }
                    && w(s).ulimits["memlock"] == Ulimit { soft: -1, hard: -1 }
            }),
        ),
        c("ulimits soft above hard", web!("    ulimits:\n      nofile: {soft: 2, hard: 1}\n"), Error(5, "services.web.ulimits.nofile", "the soft limit (2) is above the hard limit (1)")),
        c("ulimits soft above unlimited", web!("    ulimits:\n      nofile: {soft: -1, hard: 10}\n"), Error(5, "services.web.ulimits.nofile", "the soft limit (-1) is above the hard limit (10)")),
        c("ulimits unknown", web!("    ulimits:\n      files: 10\n"), Error(5, "services.web.ulimits.files", "`files` is not a resource limit")),
        c("ulimits half", web!("    ulimits:\n      nofile: {soft: 1}\n"), Error(5, "services.web.ulimits.nofile", "needs both `soft` and `hard`")),
        c("ulimits bad", web!("    ulimits:\n      nofile: many\n"), Error(5, "services.web.ulimits.nofile", "expected a whole number, not `many`")),
        c("ulimits below -1", web!("    ulimits:\n      nofile:\n        soft: -2\n        hard: 1\n"), Error(6, "services.web.ulimits.nofile.soft", "`-2` is not a limit")),
        c("group_add", web!("    group_add: [wheel, 1000]\n"), Spec(|s| w(s).group_add == vec!["wheel".to_string(), "1000".to_string()])),
        c(
            "logging",
            web!("    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n        max-file: 3\n"),
            Spec(|s| {
                w(s).logging.as_ref().is_some_and(|l| l.driver == "json-file" && l.options["max-size"] == "10m" && l.options["max-file"] == "3")
                    && w(s).lines["logging.driver"] == 5
            }),
        ),
        c("logging options only", web!("    logging:\n      options: {max-size: 1m}\n"), Spec(|s| w(s).logging.as_ref().is_some_and(|l| l.driver.is_empty() && l.options.len() == 1))),
        c("logging bad driver", web!("    logging:\n      driver: \"json file\"\n"), Error(5, "services.web.logging.driver", "`json file` is not a log driver name")),
        c("logging unknown key", web!("    logging: {drivr: syslog}\n"), Error(4, "services.web.logging.drivr", "unknown key `drivr`")),
        c("pids_limit", web!("    pids_limit: 100\n"), Spec(|s| w(s).pids_limit == Some(100))),
        c("pids_limit unlimited", web!("    pids_limit: -1\n"), Spec(|s| w(s).pids_limit.is_none())),
        c("pids_limit zero", web!("    pids_limit: 0\n"), Spec(|s| w(s).pids_limit.is_none())),
        c("pids_limit negative", web!("    pids_limit: -5\n"), Error(4, "services.web.pids_limit", "`-5` is not a pids limit")),
        c("pids_limit bad", web!("    pids_limit: lots\n"), Error(4, "services.web.pids_limit", "expected a whole number, not `lots`")),
        c("deploy pids", web!("    deploy:\n      resources:\n        limits:\n          pids: 10\n"), Spec(|s| w(s).pids_limit == Some(10))),
        c("pids agree", web!("    pids_limit: 10\n    deploy:\n      resources:\n        limits:\n          pids: 10\n"), Spec(|s| w(s).pids_limit == Some(10))),
        c(
            "pids disagree",
            web!("    pids_limit: 5\n    deploy:\n      resources:\n        limits:\n          pids: 10\n"),
            Error(8, "services.web.deploy.resources.limits.pids", "deploy.resources.limits.pids (10) and pids_limit (5) disagree"),
        ),
        c(
            "pids disagree with none",
            web!("    pids_limit: -1\n    deploy:\n      resources:\n        limits:\n          pids: 10\n"),
            Error(8, "services.web.deploy.resources.limits.pids", "(10) and pids_limit (none) disagree"),
        ),
        c("isolation", web!("    isolation: process\n"), Spec(|s| w(s).isolation.as_deref() == Some("process"))),
        c("isolation bad", web!("    isolation: vm\n"), Error(4, "services.web.isolation", "`vm` must be one of: default, process, hyperv")),
        // ---- v2 keys.
        c(
            "v2 file",
            "version: \"2.4\"\nservices:\n  web:\n    image: nginx\n    restart: on-failure:5\n    scale: 3\n    mem_limit: 512m\n    mem_reservation: 1G\n    cpus: 1.5\n",
            Spec(|s| {
                w(s).restart.condition.as_deref() == Some("on-failure")
                    && w(s).restart.max_attempts == Some(5)
                    && w(s).mode == Mode::Replicated(3)
                    && w(s).resources.limit_memory_bytes == Some(512 << 20)
                    && w(s).resources.reserve_memory_bytes == Some(1 << 30)
                    && w(s).resources.limit_nano_cpus == Some(1_500_000_000)
            }),
        ),
        c("restart no", web!("    restart: \"no\"\n"), Spec(|s| w(s).restart.condition.as_deref() == Some("none"))),
        c("restart unless-stopped", web!("    restart: unless-stopped\n"), Spec(|s| w(s).restart.condition.as_deref() == Some("any"))),
        c("restart bad", web!("    restart: sometimes\n"), Error(4, "services.web.restart", "restart `sometimes` must be no, always")),
        c("memory bad", web!("    mem_limit: 12x\n"), Error(4, "services.web.mem_limit", "is not a memory size")),
        c("memory huge", web!("    mem_limit: 99999999999t\n"), Error(4, "services.web.mem_limit", "too large a memory size")),
        c("cpus bad", web!("    cpus: lots\n"), Error(4, "services.web.cpus", "is not a number of CPUs")),
        c("cpus precise", web!("    cpus: 0.0000000001\n"), Error(4, "services.web.cpus", "more than 9 decimals")),
        c("scale vs replicas", web!("    scale: 2\n    deploy:\n      replicas: 3\n"), Error(4, "services.web.scale", "scale (2) and deploy.replicas (3) disagree")),
        c("scale with global", web!("    scale: 2\n    deploy:\n      mode: global\n"), Error(4, "services.web.deploy.mode", "scale cannot be set with `mode: global`")),
        c(
            "depends_on list and map",
            "services:\n  web:\n    image: a\n    depends_on: [db]\n  api:\n    image: b\n    depends_on:\n      db:\n        condition: service_healthy\n        restart: true\n  db:\n    image: c\n",
            Spec(|s| s.services["web"].ext.depends == vec!["db".to_string()] && s.services["api"].ext.depends == vec!["db".to_string()]),
        ),
        c("depends_on bad condition", concat!(web!("    depends_on:\n      db:\n        condition: started\n"), "  db:\n    image: x\n"), Error(6, "services.web.depends_on.db.condition", "must be one of: service_started")),
        c("depends_on unknown option", concat!(web!("    depends_on:\n      db:\n        when: now\n"), "  db:\n    image: x\n"), Error(6, "services.web.depends_on.db.when", "unknown key")),
        c("depends_on missing", web!("    depends_on: [db]\n"), Error(4, "services.web.depends_on[0]", "`db` is not a service of this template")),
        c("depends_on self", web!("    depends_on: [web]\n"), Error(4, "services.web.depends_on[0]", "service `web` depends on itself")),
        c(
            "depends cycle",
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    labels:\n      berth.depends: a\n",
            Error(2, "services.a", "dependency cycle: a → b → c → a"),
        ),
        // ---- deploy.
        c(
            "deploy full",
            web!(concat!(
                "    deploy:\n",
                "      mode: replicated\n",
                "      replicas: 4\n",
                "      labels: {traefik.enable: \"true\"}\n",
                "      resources:\n",
                "        limits: {cpus: \"0.25\", memory: 64MB}\n",
                "        reservations: {cpus: 0.1, memory: 1024k}\n",
                "      placement:\n",
                "        constraints: [node.role==worker, \"node.labels.ssd != false\"]\n",
                "        preferences:\n",
                "          - spread: node.labels.rack\n",
                "        max_replicas_per_node: 2\n",
                "      update_config: {parallelism: 2, delay: 10s, order: start-first, failure_action: rollback, monitor: 1m, max_failure_ratio: 0.1}\n",
                "      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 2m}\n",
                "      endpoint_mode: dnsrr\n",
            )),
            Spec(|s| {
                let w = w(s);
                w.mode == Mode::Replicated(4)
                    && w.service_labels["traefik.enable"] == "true"
                    && w.resources
                        == Resources {
                            limit_nano_cpus: Some(250_000_000),
                            limit_memory_bytes: Some(64 << 20),
                            reserve_nano_cpus: Some(100_000_000),
                            reserve_memory_bytes: Some(1 << 20),
                        }
                    && w.placement.constraints.len() == 2
                    && w.placement.spread == vec!["node.labels.rack".to_string()]
                    && w.placement.max_replicas_per_node == Some(2)
                    && w.update.parallelism == Some(2)
                    && w.update.delay_ns == Some(10_000_000_000)
                    && w.update.order.as_deref() == Some("start-first")
                    && w.update.failure_action.as_deref() == Some("rollback")
                    && w.update.monitor_ns == Some(60_000_000_000)
                    && w.restart
                        == RestartSpec {
                            condition: Some("on-failure".into()),
                            delay_ns: Some(5_000_000_000),
                            max_attempts: Some(3),
                            window_ns: Some(120_000_000_000),
                        }
            }),
        ),
        c("deploy global", web!("    deploy:\n      mode: global\n"), Spec(|s| w(s).mode == Mode::Global)),
        c("replicas with global", web!("    deploy:\n      mode: global\n      replicas: 2\n"), Error(6, "services.web.deploy.replicas", "replicas cannot be set with `mode: global`")),
        c("replicas quoted", web!("    deploy:\n      replicas: \"3\"\n"), Spec(|s| w(s).mode == Mode::Replicated(3))),
        c("replicas too many", web!("    deploy:\n      replicas: 1001\n"), Error(2, "services.web", "1001 replicas is more than the limit of 1000")),
        c("replicas negative", web!("    deploy:\n      replicas: -1\n"), Error(5, "services.web.deploy.replicas", "expected a whole number")),
        c("deploy bad mode", web!("    deploy:\n      mode: cron\n"), Error(5, "services.web.deploy.mode", "must be one of: replicated, global")),
        c("deploy unknown", web!("    deploy:\n      replica: 2\n"), Error(5, "services.web.deploy.replica", "unknown key `replica`")),
        c("deploy devices", web!("    deploy:\n      resources:\n        reservations:\n          devices: [{capabilities: [gpu]}]\n"), Error(7, "services.web.deploy.resources.reservations.devices", "device reservations are not supported")),
        c("deploy resources unknown", web!("    deploy:\n      resources:\n        limit: {}\n"), Error(6, "services.web.deploy.resources.limit", "unknown key")),
        c("bad constraint", web!("    deploy:\n      placement:\n        constraints: [node.role=worker]\n"), Error(6, "services.web.deploy.placement.constraints[0]", "must compare with == or !=")),
        c("bad preference", web!("    deploy:\n      placement:\n        preferences: [{pack: x}]\n"), Error(6, "services.web.deploy.placement.preferences[0].pack", "unknown key")),
        c("rollback_config", web!("    deploy:\n      rollback_config: {parallelism: 1}\n"), Warn(5, "services.web.deploy.rollback_config", "rollback_config is ignored")),
        c("endpoint vip", web!("    deploy:\n      endpoint_mode: vip\n"), Warn(5, "services.web.deploy.endpoint_mode", "Berth uses dnsrr")),
        c("bad update order", web!("    deploy:\n      update_config:\n        order: random\n"), Error(6, "services.web.deploy.update_config.order", "must be one of: stop-first, start-first")),
        c("bad restart condition", web!("    deploy:\n      restart_policy:\n        condition: always\n"), Error(6, "services.web.deploy.restart_policy.condition", "must be one of: none, on-failure, any")),
        // ---- Labels and extensions.
        c("labels list", web!("    labels:\n      - a=b\n      - c\n"), Spec(|s| w(s).labels["a"] == "b" && w(s).labels["c"].is_empty())),
        c(
            "extensions",
            concat!(
                web!(concat!(
                    "    labels:\n",
                    "      berth.scale: \"3\"\n",
                    "      berth.depends: \"db, cache\"\n",
                    "      berth.probe.url: http://container:8080/health\n",
                    "      berth.probe.initial_delay: \"10\"\n",
                    "      berth.probe.timeout: 2s\n",
                    "      berth.rolling_updates: \"true\"\n",
                    "      berth.rolling_updates.parallelism: \"2\"\n",
                    "      berth.latest_image: \"true\"\n",
                    "      berth.zone_spread: \"true\"\n",
                    "      berth.auto_scaling.min_instances: \"1\"\n",
                    "      berth.auto_scaling.max_instances: \"5\"\n",
                    "      berth.auto_scaling.target_rps: \"70.5\"\n",
                    "      berth.routing.port_80: \"a.example.com/api;shop;http://B.example.org:ctx/;https://secure.example.com\"\n",
                    "      berth.routing.session_sticky: \"true\"\n",
                    "      berth.lb.port_443: \"tcp://front:8443\"\n",
                    "      other: kept\n",
                )),
                "  db:\n    image: postgres\n  cache:\n    image: redis\n"
            ),
            Spec(|s| {
                let w = w(s);
                w.mode == Mode::Replicated(3)
                    && w.ext.depends == vec!["db".to_string(), "cache".to_string()]
                    && w.ext.probe
                        == Some(Probe {
                            url: Some("http://container:8080/health".into()),
                            cmd: None,
                            initial_delay_ns: Some(10_000_000_000),
                            timeout_ns: Some(2_000_000_000),
                        })
                    && w.healthcheck.is_none()
                    && w.ext.rolling_updates == Some(true)
                    && w.update.parallelism == Some(2)
                    && w.ext.latest_image
                    && w.ext.zone_spread
                    && w.placement.spread == vec!["node.labels.berth.zone".to_string()]
                    && w.ext.auto_scaling.len() == 3
                    && w.ext.routing[&80].len() == 4
                    && w.ext.session_sticky
                    && w.ext.lb[&443] == "tcp://front:8443"
                    && w.labels.len() == 1
            }),
        ),
        c(
            "aliyun aliases",
            web!("    labels:\n      aliyun.scale: \"2\"\n      aliyun.probe.cmd: pg_isready\n      aliyun.probe.initial_delay_seconds: \"5\"\n      aliyun.probe.timeout_seconds: \"3\"\n      com.berth.latest_image: \"true\"\n"),
            Spec(|s| {
                let w = w(s);
                w.mode == Mode::Replicated(2)
                    && w.ext.latest_image
                    && w.labels.is_empty()
                    && w.healthcheck
                        == Some(HealthSpec {
                            test: vec!["CMD-SHELL".into(), "pg_isready".into()],
                            interval_ns: None,
                            timeout_ns: Some(3_000_000_000),
                            retries: None,
                            start_period_ns: Some(5_000_000_000),
                        })
            }),
        ),
        c("extension on deploy labels", web!("    deploy:\n      labels:\n        berth.global: \"true\"\n        keep: x\n"), Spec(|s| w(s).mode == Mode::Global && w(s).service_labels.len() == 1)),
        c("probe cmd keeps healthcheck", web!("    healthcheck:\n      test: [CMD, x]\n    labels:\n      berth.probe.cmd: y\n"), Spec(|s| w(s).healthcheck.as_ref().is_some_and(|h| h.test[1] == "x"))),
        c("unknown extension", web!("    labels:\n      berth.scael: \"3\"\n"), Error(5, "services.web.labels.berth.scael", "unknown Berth label `berth.scael`")),
        c("unknown extension in list", web!("    labels:\n      - com.berth.scael=3\n"), Error(5, "services.web.labels[0]", "unknown Berth label `com.berth.scael`")),
        c("unknown alias extension", web!("    labels:\n      aliyun.logs.x: stdout\n"), Error(5, "services.web.labels.aliyun.logs.x", "unknown Berth label `aliyun.logs.x`")),
        c("scale bad", web!("    labels:\n      berth.scale: many\n"), Error(5, "services.web.labels.berth.scale", "must be a whole number from 0 to 1000")),
        c("scale conflicts", web!("    labels:\n      berth.scale: \"2\"\n    deploy:\n      replicas: 3\n"), Error(5, "services.web.labels.berth.scale", "berth.scale (2) conflicts with deploy.replicas (3)")),
        c("scale same as replicas", web!("    labels:\n      berth.scale: \"3\"\n    deploy:\n      replicas: 3\n"), Spec(|s| w(s).mode == Mode::Replicated(3))),
        c("scale with mode global", web!("    labels:\n      berth.scale: \"2\"\n    deploy:\n      mode: global\n"), Error(5, "services.web.labels.berth.scale", "berth.scale cannot be used with `mode: global`")),
        c("global with replicas", web!("    labels:\n      berth.global: \"true\"\n    deploy:\n      replicas: 2\n"), Error(5, "services.web.labels.berth.global", "berth.global cannot be used with a replica count")),
        c("bool extension bad", web!("    labels:\n      berth.latest_image: \"yes\"\n"), Error(5, "services.web.labels.berth.latest_image", "must be true or false, not `yes`")),
        c("depends extension bad", web!("    labels:\n      berth.depends: \"a,,b\"\n"), Error(5, "services.web.labels.berth.depends", "lists service names separated by commas")),
        c("probe url bad", web!("    labels:\n      berth.probe.url: \"ftp://x:1\"\n"), Error(5, "services.web.labels.berth.probe.url", "must look like http://container:8080/health")),
        c("probe url tcp", web!("    labels:\n      berth.probe.url: \"tcp://container:6379\"\n"), Spec(|s| w(s).ext.probe.as_ref().is_some_and(|p| p.url.is_some()))),
        c("probe cmd empty", web!("    labels:\n      berth.probe.cmd: \"\"\n"), Error(5, "services.web.labels.berth.probe.cmd", "must not be empty")),
        c("probe delay bad", web!("    labels:\n      berth.probe.initial_delay: soon\n"), Error(5, "services.web.labels.berth.probe.initial_delay", "must be seconds (e.g. 10) or a duration")),
        c("parallelism bad", web!("    labels:\n      berth.rolling_updates.parallelism: \"0\"\n"), Error(5, "services.web.labels.berth.rolling_updates.parallelism", "at least 1")),
        c(
            "rolling vs update_config",
            web!("    labels:\n      berth.rolling_updates: \"true\"\n    deploy:\n      update_config:\n        parallelism: 3\n"),
            Warn(2, "services.web.deploy.update_config.parallelism", "update_config.parallelism (3) wins over berth.rolling_updates (1)"),
        ),
        c("auto_scaling bad", web!("    labels:\n      berth.auto_scaling.min_cpu: lots\n"), Error(5, "services.web.labels.berth.auto_scaling.min_cpu", "must be a number")),
        c(
            "auto_scaling min > max",
            web!("    labels:\n      berth.auto_scaling.min_instances: \"5\"\n      berth.auto_scaling.max_instances: \"2\"\n      berth.auto_scaling.target_rps: \"9\"\n"),
            Error(5, "services.web.labels.berth.auto_scaling.min_instances", "berth.auto_scaling.min_instances (5) is more than max_instances (2)"),
        ),
        c(
            "auto_scaling without a metric",
            web!("    labels:\n      berth.auto_scaling.max_instances: \"2\"\n"),
            Error(5, "services.web.labels.berth.auto_scaling.max_instances", "needs a metric"),
        ),
        c(
            "auto_scaling cpu without a limit",
            web!("    labels:\n      berth.auto_scaling.max_instances: \"2\"\n      berth.auto_scaling.target_cpu: \"50\"\n"),
            Error(6, "services.web.labels.berth.auto_scaling.target_cpu", "needs deploy.resources.limits.cpus"),
        ),
        c(
            "auto_scaling cpu with a limit",
            web!("    labels:\n      berth.auto_scaling.max_instances: \"2\"\n      berth.auto_scaling.target_cpu: \"50\"\n    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n"),
            Spec(|s| w(s).scaling().is_some_and(|p| p.max == 2)),
        ),
        c(
            "auto_scaling a global service",
            web!("    labels:\n      berth.auto_scaling.max_instances: \"2\"\n      berth.auto_scaling.target_rps: \"5\"\n    deploy:\n      mode: global\n"),
            Error(6, "services.web.labels.berth.auto_scaling.target_rps", "cannot scale a global service"),
        ),
        c(
            "a job from deploy.mode",
            web!("    deploy:\n      mode: replicated-job\n      replicas: 3\n"),
            Spec(|s| w(s).mode == Mode::Job { completions: 3, parallelism: 3 } && w(s).restart.condition.as_deref() == Some("none")),
        ),
        c(
            "a job's parallelism and deadline",
            web!("    labels:\n      berth.job.parallelism: \"2\"\n      berth.job.deadline: 10m\n    deploy:\n      mode: replicated-job\n      replicas: 4\n      restart_policy:\n        condition: on-failure\n        max_attempts: 2\n"),
            Spec(|s| w(s).mode == Mode::Job { completions: 4, parallelism: 2 } && w(s).ext.job_deadline_s == Some(600) && w(s).restart.max_attempts == Some(2)),
        ),
        c(
            "a schedule makes a job",
            web!("    labels:\n      berth.schedule: \"*/5 * * * *\"\n      berth.schedule.timezone: Europe/Berlin\n      berth.schedule.concurrency: replace\n      berth.schedule.starting_deadline: 2m\n"),
            Spec(|s| {
                let sc = w(s).ext.schedule.as_ref();
                w(s).mode == Mode::Job { completions: 1, parallelism: 1 }
                    && sc.is_some_and(|sc| sc.cron == "*/5 * * * *" && sc.timezone == "Europe/Berlin" && sc.concurrency == Concurrency::Replace && sc.starting_deadline_s == 120)
            }),
        ),
        c(
            "a schedule's defaults",
            web!("    labels:\n      aliyun.schedule: \"0 */10 * * * *\"\n"),
            Spec(|s| w(s).ext.schedule.as_ref().is_some_and(|sc| sc.timezone == "UTC" && sc.concurrency == Concurrency::Forbid && sc.starting_deadline_s == 60)),
        ),
        c("schedule with 4 fields", web!("    labels:\n      berth.schedule: \"* * * *\"\n"), Error(5, "services.web.labels.berth.schedule", "has 4 field(s)")),
        c("schedule not cron", web!("    labels:\n      berth.schedule: \"61 * * * *\"\n"), Error(5, "services.web.labels.berth.schedule", "is not a cron expression")),
        c("schedule bad time zone", web!("    labels:\n      berth.schedule: \"* * * * *\"\n      berth.schedule.timezone: Mars/Olympus\n"), Error(6, "services.web.labels.berth.schedule.timezone", "must be an IANA time zone")),
        c("schedule bad concurrency", web!("    labels:\n      berth.schedule: \"* * * * *\"\n      berth.schedule.concurrency: skip\n"), Error(6, "services.web.labels.berth.schedule.concurrency", "must be allow, forbid or replace")),
        c("schedule parts without a schedule", web!("    labels:\n      berth.schedule.timezone: UTC\n"), Error(5, "services.web.labels.berth.schedule.timezone", "need berth.schedule")),
        c("schedule on a global service", web!("    labels:\n      berth.schedule: \"* * * * *\"\n    deploy:\n      mode: global\n"), Error(5, "services.web.labels.berth.schedule", "cannot be global")),
        c("job parallelism above completions", web!("    labels:\n      berth.job.parallelism: \"3\"\n    deploy:\n      mode: replicated-job\n      replicas: 2\n"), Error(5, "services.web.labels.berth.job.parallelism", "is more than the job's completions (2)")),
        c("job with no completions", web!("    deploy:\n      mode: replicated-job\n      replicas: 0\n"), Error(6, "services.web.deploy.replicas", "at least 1 completion")),
        c("job deadline bad", web!("    labels:\n      berth.job.deadline: soon\n"), Error(5, "services.web.labels.berth.job.deadline", "must be seconds")),
        c("deploy mode global-job", web!("    deploy:\n      mode: global-job\n"), Error(5, "services.web.deploy.mode", "must be one of: replicated, global, replicated-job")),
        c(
            "auto_scaling a job",
            web!("    labels:\n      berth.auto_scaling.max_instances: \"2\"\n      berth.auto_scaling.target_rps: \"5\"\n    deploy:\n      mode: replicated-job\n"),
            Error(6, "services.web.labels.berth.auto_scaling.target_rps", "cannot scale a job"),
        ),
        c("routing bad domain", web!("    labels:\n      berth.routing.port_80: \"not a domain\"\n"), Error(5, "services.web.labels.berth.routing.port_80", "`not a domain` in `berth.routing.port_80` is not a routing target")),
        c("routing wildcard", web!("    labels:\n      berth.routing.port_80: \"*.example.com\"\n"), Error(5, "services.web.labels.berth.routing.port_80", "wildcard domains are not routed")),
        c("routing dot segment", web!("    labels:\n      berth.routing.port_80: \"a.example.com/x/../admin\"\n"), Error(5, "services.web.labels.berth.routing.port_80", "a context path is segments")),
        c("routing second target bad", web!("    labels:\n      berth.routing.port_80: \"ok.example.com;bad_host\"\n"), Error(5, "services.web.labels.berth.routing.port_80", "`bad_host` in")),
        c("lb without scheme", web!("    labels:\n      berth.lb.port_80: \"front:80\"\n"), Error(5, "services.web.labels.berth.lb.port_80", "it starts with tcp://")),
        c("lb bad front port", web!("    labels:\n      berth.lb.port_80: \"tcp://front:0\"\n"), Error(5, "services.web.labels.berth.lb.port_80", "is not a port from 1 to 65535")),
        c("lb bad name", web!("    labels:\n      berth.lb.port_80: \"tcp://Front_1:80\"\n"), Error(5, "services.web.labels.berth.lb.port_80", "is not a load balancer name")),
        c("routing bad port", web!("    labels:\n      berth.routing.port_x: a.example.com\n"), Error(5, "services.web.labels.berth.routing.port_x", "must name a port from 1 to 65535")),
        c("lb bad port", web!("    labels:\n      berth.lb.port_0: x\n"), Error(5, "services.web.labels.berth.lb.port_0", "must name a port")),
        c("update method", web!("    labels:\n      aliyun.update_method: blue-green\n"), Spec(|s| s.services["web"].ext.update_method == Some(UpdateMethod::BlueGreen))),
        c("update method unknown", web!("    labels:\n      berth.update_method: canary\n"), Error(5, "services.web.labels.berth.update_method", "must be rolling, blue-green or progressive")),
        // ---- Variables.
        v(
            "variables",
            web!("    environment:\n      A: ${A}\n      B: ${B:-dflt}\n      C: ${C-unset}\n      D: $D-x\n      E: $$E\n      F: ${F:+alt}\n      G: ${G:-${A}}\n"),
            &[("A", "a"), ("C", ""), ("D", "d"), ("F", "f")],
            Spec(|s| {
                let e = &w(s).environment;
                e["A"] == "a" && e["B"] == "dflt" && e["C"].is_empty() && e["D"] == "d-x" && e["E"] == "$E" && e["F"] == "alt" && e["G"] == "a"
            }),
        ),
        v("variable in number", web!("    deploy:\n      replicas: ${N}\n"), &[("N", "3")], Spec(|s| w(s).mode == Mode::Replicated(3))),
        v("variable empty default", web!("    environment:\n      B: ${B:-x}\n"), &[("B", "")], Spec(|s| w(s).environment["B"] == "x")),
        c("variable unset", web!("    user: ${WHO}\n"), Warn(4, "services.web.user", "WHO is not set; using an empty string")),
        c("variable unset bare", web!("    user: $WHO\n"), Warn(4, "services.web.user", "WHO is not set")),
        c("variable required", web!("    user: ${WHO:?pick a user}\n"), Error(4, "services.web.user", "WHO is required: pick a user")),
        c("variable required bare", web!("    user: ${WHO?}\n"), Error(4, "services.web.user", "WHO is required but not set")),
        v("variable required empty", web!("    user: ${WHO:?}\n"), &[("WHO", "")], Error(4, "services.web.user", "WHO is required")),
        c("variable unclosed", web!("    user: ${WHO\n"), Error(4, "services.web.user", "`${` is not closed")),
        c("variable bad op", web!("    user: ${WHO:x}\n"), Error(4, "services.web.user", "`${WHO:x}` is not valid")),
        c("variable empty", web!("    user: ${}\n"), Error(4, "services.web.user", "`${}` has no variable name")),
        c("variable no name", web!("    user: ${:-x}\n"), Error(4, "services.web.user", "does not start with a variable name")),
        c("variable digit", web!("    user: ${1A}\n"), Error(4, "services.web.user", "`1A` is not a variable name")),
        c("variable lone dollar", web!("    user: a$ b\n"), Spec(|s| w(s).user.as_deref() == Some("a$ b"))),
        c(
            "variable dollars kept",
            web!("    environment:\n      COST: 5$\n      DASH: $-\n      NUM: $1\n      END: x$\n      ESC: $$HOME\n"),
            Spec(|s| {
                let e = &w(s).environment;
                e["COST"] == "5$" && e["DASH"] == "$-" && e["NUM"] == "$1" && e["END"] == "x$" && e["ESC"] == "$HOME"
            }),
        ),
        v(
            "variable braces in default",
            web!("    environment:\n      A: '${CONFIG:-{\"debug\":false}}'\n      B: '${UNSET:-{\"debug\":false}}'\n      C: '${FLAG:+{\"a\":1}}'\n"),
            &[("CONFIG", "x")],
            Spec(|s| {
                let e = &w(s).environment;
                e["A"] == "x" && e["B"] == r#"{"debug":false}"# && e["C"].is_empty()
            }),
        ),
        v("variable required message expanded", web!("    user: \"${WHO:?set WHO (see ${DOCS})}\"\n"), &[("DOCS", "the README")], Error(4, "services.web.user", "WHO is required: set WHO (see the README)")),
        v(
            "variables too large",
            web!("    environment:\n      A: $BIG$BIG$BIG$BIG$BIG\n"),
            &[("BIG", include_str!("../../src/yaml.rs"))],
            Spec(|s| w(s).environment["A"].len() > 5 * 10_000),
        ),
        c("environment empty name", web!("    environment:\n      \"\": x\n"), Error(5, "services.web.environment.", "the name is empty")),
        c("environment empty name in list", web!("    environment:\n      - =x\n"), Error(5, "services.web.environment[0]", "the name before `=` is empty")),
        c(
            "variable nesting",
            web!("    user: ${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-x}}}}}}}}}}\n"),
            Error(4, "services.web.user", "variables nest more than 8 levels"),
        ),
        c("variable in image", "services:\n  web:\n    image: ${IMG:?set the image}\n", Error(3, "services.web.image", "IMG is required: set the image")),
        c("keys not interpolated", web!("    labels:\n      $x: y\n"), Spec(|s| w(s).labels["$x"] == "y")),
        c("x- blocks not interpolated", concat!("x-a: ${NOPE:?never}\n", web!("")), Spec(|s| s.services.len() == 1)),
        v(
            "variable through anchor",
            "x-env: &env\n  TAG: ${TAG}\nservices:\n  web:\n    image: nginx\n    environment: *env\n",
            &[("TAG", "1")],
            Spec(|s| w(s).environment["TAG"] == "1"),
        ),
        c("bad list element", web!("    cap_add: [[a]]\n"), Error(4, "services.web.cap_add[0]", "expected a single value, not a list")),
    ]
}

trait WithVars {
    fn with_vars(self, vars: &'static [(&'static str, &'static str)]) -> Self;
}

impl WithVars for Case {
    fn with_vars(self, vars: &'static [(&'static str, &'static str)]) -> Self {
        Case { vars, ..self }
    }
}

/// Generated inputs for cases that cannot be written inline.
pub fn generated(name: &str) -> Option<(String, usize, &'static str, &'static str)> {
    match name {
        "too big" => {
            Some((format!("# {}\n", "x".repeat(300 * 1024)), 0, "", "the template is 301 KB; the limit is 256 KB"))
        }
        "billion laughs" => {
            let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
            let mut prev = 'a';
            for c in 'b'..='j' {
                s.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
                prev = c;
            }
            Some((s, 5, "e[6]", "the document expands too much"))
        }
        "alias bomb by bytes" => {
            let text = format!("x-a: &a \"{}\"\nx-b: [{}]\n", "x".repeat(100 * 1024), "*a, ".repeat(20));
            Some((text, 2, "x-b[9]", "the document expands too much: aliases copy more than 1024 KB of text"))
        }
        "nested anchors" => {
            let open: String = (0..20).map(|i| format!("&n{i} [")).collect();
            let text = format!("x-a: {open}\"{}\"{}\n", "y".repeat(100 * 1024), "]".repeat(20));
            Some((text, 1, "", "aliases copy more than 1024 KB of text"))
        }
        "too many problems" => {
            let keys: String = (0..300).map(|i| format!("    k{i}: x\n")).collect();
            Some((
                format!("services:\n  web:\n    image: nginx\n{keys}"),
                203,
                "",
                "… and 100 more problems after this line",
            ))
        }
        "too many duplicate keys" => {
            let keys = "    image: x\n".repeat(300);
            Some((
                format!("services:\n  web:\n    image: nginx\n{keys}"),
                303,
                "",
                "… and 101 more duplicate keys, the last at line 303",
            ))
        }
        "deep nesting" => {
            Some((format!("services: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)), 1, "", "nests too deeply"))
        }
        "deep block nesting" => {
            let mut s = String::new();
            for i in 0..100 {
                s.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
            }
            Some((s, 65, "", "nests too deeply (more than 64 levels)"))
        }
        _ => None,
    }
}
