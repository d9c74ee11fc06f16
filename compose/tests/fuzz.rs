//! A deterministic fuzz test: mutates a corpus (the table's inputs and a few large realistic
//! files) with YAML-aware mutations and feeds the results to every public function. Any panic fails
//! the test; parsed results must also survive a round trip through `to_compose`.
//!
//! `FUZZ_ITERATIONS` runs longer than the default; `FUZZ_SEED` picks another sequence.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use compose::*;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "*a",
    "&a ",
    "<<: ",
    "<<: *a\n",
    "${",
    "${X}",
    "${X:-",
    "${X:?m}",
    "$",
    "$$",
    "\t",
    "\n",
    "\n  ",
    "\n    - ",
    "'",
    "\"",
    "#",
    "? ",
    "!",
    "!!str ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "yes",
    "-1",
    "0x10",
    "1e9",
    "99999999999999999999",
    "ü",
    "✓",
    "\u{feff}",
    "\u{2028}",
    "\0",
    "berth.",
    "aliyun.scale: ",
    "berth.probe.url: ",
    "image: ",
    "ports: ",
    "volumes: ",
    "deploy: ",
    "replicas: ",
    "/var/run/docker.sock",
    "../",
    "./",
    "~/",
    "127.0.0.1:",
    "8000-8100:",
    "/udp",
    "1m30s",
    "512m",
    "0.5",
    "1.5g",
    "network_mode: ",
    "extra_hosts: ",
    "\"h:::1\"",
    "sysctls: ",
    "kernel.sem=1",
    "ulimits: ",
    "{soft: 2, hard: 1}",
    "logging: ",
    "pids_limit: ",
    "driver_opts: ",
    "{type: none, o: bind, device: /etc}",
    "security_opt: ",
    "${A:-{",
    "}}",
    "$-",
];

fn big_files() -> Vec<String> {
    let mut files = Vec::new();
    let mut s = String::from("version: \"3.8\"\nx-defaults: &defaults\n  restart: always\n  labels:\n    berth.latest_image: \"true\"\n  deploy:\n    resources:\n      limits: {cpus: \"0.5\", memory: 256M}\nservices:\n");
    for i in 0..60 {
        s.push_str(&format!(
            "  svc{i}:\n    <<: *defaults\n    image: registry.example.com/app/svc{i}:${{TAG:-latest}}\n    command: [\"serve\", \"--port\", \"{port}\"]\n    environment:\n      ID: \"{i}\"\n      DB_URL: postgres://db:5432/app\n    ports:\n      - \"{published}:{port}\"\n    volumes:\n      - data{m}:/data\n      - /srv/svc{i}:/srv:ro\n    networks: [front, back]\n    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -q -O- localhost:{port}/health || exit 1\"]\n      interval: 10s\n    depends_on: [{dep}]\n",
            port = 8000 + i,
            published = 20000 + i,
            m = i % 5,
            dep = if i == 0 { "db".to_string() } else { format!("svc{}", i - 1) },
        ));
    }
    s.push_str("  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${PG_PASS:?set a password}\n    volumes: [pg:/var/lib/postgresql/data]\n    deploy:\n      placement:\n        constraints: [node.labels.db==true]\n");
    s.push_str("networks:\n  front:\n  back:\n    internal: true\nvolumes:\n  pg:\n");
    for m in 0..5 {
        s.push_str(&format!("  data{m}:\n"));
    }
    files.push(s);
    files.push(String::from(
        "version: '2.4'\nservices:\n  app:\n    image: wordpress:6\n    restart: on-failure:3\n    scale: 2\n    mem_limit: 1g\n    cpus: 1.5\n    links: [db]\n    logging: {driver: json-file}\n    environment:\n      - WORDPRESS_DB_HOST=db\n      - WORDPRESS_DB_PASSWORD\n    labels:\n      - aliyun.routing.port_80=blog.example.com;www.example.com/blog\n      - aliyun.probe.url=http://container:80/\n      - aliyun.probe.initial_delay_seconds=30\n  db:\n    image: mysql:8\n    privileged: true\n    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n        target: /sock\n    secrets:\n      - source: pw\n        target: db_password\nsecrets:\n  pw:\n    environment: DB_PASSWORD\n",
    ));
    files
}

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut bytes = input.as_bytes().to_vec();
    // Half the time a single mutation, so that many inputs stay close enough to parse.
    let rounds = if rng.below(2) == 0 { 1 } else { 1 + rng.below(4) };
    for _ in 0..rounds {
        let len = bytes.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 | 2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let i = rng.below(len + 1);
                bytes.splice(i..i, token.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(16).min(len - i);
                bytes.drain(i..i + n);
            }
            4 => {
                // Delete or duplicate a line.
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    if rng.below(2) == 0 {
                        lines.remove(i);
                    } else {
                        lines.insert(i, lines[i]);
                    }
                }
                bytes = lines.join("\n").into_bytes();
            }
            5 => bytes.truncate(rng.below(len + 1)),
            6 => {
                // Nest: wrap a region in brackets or indent a block of lines.
                let depth = 1 + rng.below(200);
                let i = rng.below(len + 1);
                let open = if rng.below(2) == 0 { "[".repeat(depth) } else { "{a: ".repeat(depth) };
                bytes.splice(i..i, open.bytes());
            }
            7 => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let indent = " ".repeat(1 + rng.below(4));
                let mut out = String::new();
                let skip = rng.below(text.lines().count().max(1));
                for (n, line) in text.lines().enumerate() {
                    if n >= skip {
                        out.push_str(&indent);
                    }
                    out.push_str(line);
                    out.push('\n');
                }
                bytes = out.into_bytes();
            }
            _ => {
                let i = rng.below(len + 1);
                let c = char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}');
                let mut buf = [0; 4];
                bytes.splice(i..i, c.encode_utf8(&mut buf).bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs everything on `text`; says whether it parsed.
fn exercise(text: &str, vars: &BTreeMap<String, String>) -> bool {
    let _ = variables(text);
    let parsed = parse(text, vars);
    let ok = parsed.is_ok();
    if let Ok(parsed) = parsed {
        let _ = policy_violations(&parsed.spec, &Allowances::default());
        let out = to_compose(&parsed.spec);
        match parse(&out, &BTreeMap::new()) {
            Ok(back) => {
                assert_eq!(
                    back.spec.without_lines(),
                    parsed.spec.without_lines(),
                    "round trip changed the spec of:\n{text}\n---\n{out}"
                );
            }
            Err(e) => panic!("to_compose wrote something parse refuses:\n{text}\n---\n{out}\n{e:#?}"),
        }
    }
    ok
}

#[test]
fn fuzz() {
    let iterations: usize = std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut corpus: Vec<String> =
        common::cases().iter().map(|c| c.yaml.to_string()).filter(|y| !y.is_empty()).collect();
    corpus.extend(big_files());
    let vars: BTreeMap<String, String> =
        [("TAG", "1.0"), ("X", "x"), ("PG_PASS", "p"), ("DB_PASSWORD", "d"), ("A", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let mut parsed = 0;
    for _ in 0..iterations {
        let base = &corpus[rng.below(corpus.len())];
        let mut text = mutate(&mut rng, base);
        if rng.below(8) == 0 {
            text = mutate(&mut rng, &text);
        }
        parsed += usize::from(exercise(&text, &vars));
    }
    // The round-trip property only bites on inputs that parse; make sure enough of them do.
    assert!(parsed * 20 >= iterations, "only {parsed} of {iterations} mutated inputs parsed");
    // Keep the default run affordable in debug builds on a small machine.
    if iterations <= 20_000 {
        assert!(start.elapsed().as_secs() < 60, "fuzzing took {:?}", start.elapsed());
    }
}

#[test]
fn hostile_inputs() {
    let vars = BTreeMap::new();
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, c) in ('a'..='y').zip('b'..='z') {
        laughs.push_str(&format!(
            "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let merge_laughs = {
        let mut s = String::from("a: &a {k0: v}\n");
        for (prev, c) in ('a'..='y').zip('b'..='z') {
            s.push_str(&format!("{c}: &{c}\n"));
            for i in 0..10 {
                s.push_str(&format!("  m{i}: *{prev}\n"));
            }
        }
        s
    };
    let inputs = [
        laughs,
        merge_laughs,
        format!("services: {}", "[".repeat(10_000)),
        format!("services: {}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("services: {}", "{a: ".repeat(10_000)),
        (0..10_000).map(|i| format!("{}- \n", " ".repeat(i % 200))).collect(),
        format!("services:\n  web:\n    image: nginx\n    user: {}\n", "${A:-".repeat(5_000)),
        format!("services:\n  web:\n    image: nginx\n    user: {}x{}\n", "${A:-".repeat(5_000), "}".repeat(5_000)),
        "x".repeat(MAX_TEMPLATE_BYTES + 1),
        "\u{feff}services:\n  web:\n    image: nginx\n".into(),
        "\0\0\0".into(),
        "services:\n  web:\n    image: nginx\n    ports: [\"1-65535\"]\n".into(),
        format!(
            "services:\n  web:\n    image: nginx\n    environment:\n{}",
            (0..20_000).map(|i| format!("      K{i}: v\n")).collect::<String>()
        ),
    ];
    for text in &inputs {
        let start = Instant::now();
        exercise(text, &vars);
        assert!(start.elapsed().as_secs() < 10, "slow input: {:?}", &text[..text.len().min(80)]);
    }
    assert!(parse(&inputs[0], &vars).unwrap_err()[0].message.contains("expands too much"));
    assert!(parse(&inputs[1], &vars).unwrap_err()[0].message.contains("expands too much"));
    assert!(parse(&inputs[3], &vars).unwrap_err()[0].message.contains("nests too deeply"));
    let huge = parse(&inputs[8], &vars).unwrap_err();
    assert_eq!(huge.len(), 1);
    assert_eq!(huge[0].message, "the template is 257 KB; the limit is 256 KB");
}

/// Inputs built to exhaust time or memory, each of nearly the largest size a template may have:
/// every one is answered quickly (a generous bound for a debug build on a small machine), and the
/// refused ones with an error naming a line.
#[test]
fn byte_bombs() {
    let bound = std::time::Duration::from_secs(2);
    for b in common::bombs::bombs() {
        assert!(b.text.len() <= MAX_TEMPLATE_BYTES, "{}: {} bytes", b.name, b.text.len());
        let start = Instant::now();
        let result = parse(&b.text, &b.vars);
        let parsing = start.elapsed();
        let start = Instant::now();
        let _ = variables(&b.text);
        let scanning = start.elapsed();
        assert!(parsing < bound && scanning < bound, "{}: parse {parsing:?}, variables {scanning:?}", b.name);
        match result {
            Err(ds) if b.refused => {
                let e = ds.iter().find(|d| d.severity == Severity::Error).expect("an error");
                assert!(e.line > 0, "{}: {e:?}", b.name);
                // The answer stays small too: a bounded list of short messages.
                assert!(ds.len() <= MAX_DIAGNOSTICS + 1, "{}: {} diagnostics", b.name, ds.len());
                for d in &ds {
                    assert!(d.message.len() < 1_000 && d.field.len() < 1_000, "{}: {d:?}", b.name);
                }
            }
            Ok(_) if !b.refused => {}
            Ok(_) => panic!("{}: parsed", b.name),
            Err(ds) => panic!("{}: {:?}", b.name, &ds[..ds.len().min(3)]),
        }
    }
}
