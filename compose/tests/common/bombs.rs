//! Adversarial inputs of (nearly) the largest size a template may have, shared by the fuzz test
//! (each must be refused quickly with a line) and the parse benchmark (how long the worst takes).

use std::collections::BTreeMap;

/// The size each bomb is built up to (just under the template limit, so that it is parsed).
const SIZE: usize = 256 * 1024 - 64;

pub struct Bomb {
    pub name: &'static str,
    pub text: String,
    pub vars: BTreeMap<String, String>,
    /// Whether `parse` refuses it (the large valid template parses).
    pub refused: bool,
}

fn fill(prefix: &str, unit: &str, suffix: &str) -> String {
    let n = (SIZE - prefix.len() - suffix.len()) / unit.len();
    format!("{prefix}{}{suffix}", unit.repeat(n))
}

const WEB: &str = "services:\n  web:\n    image: nginx\n";

fn bomb(name: &'static str, text: String) -> Bomb {
    Bomb { name, text, vars: BTreeMap::new(), refused: true }
}

pub fn bombs() -> Vec<Bomb> {
    let mut out = Vec::new();
    // One 120 KB scalar aliased 30,000 times: 210 KB of text, 3.6 GB expanded.
    let scalar = "x".repeat(120 * 1024);
    let aliases = "*a, ".repeat(30_000);
    out.push(bomb("alias bomb (bytes)", format!("x-a: &a \"{scalar}\"\nx-b: [{aliases}]\n{WEB}")));
    // Billion laughs: ten aliases of ten aliases of ... (nodes, not bytes).
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, c) in ('a'..='y').zip('b'..='z') {
        let row = format!("*{prev}, ").repeat(10);
        laughs.push_str(&format!("{c}: &{c} [{row}]\n"));
    }
    out.push(bomb("alias bomb (nodes)", laughs));
    // Anchors nested inside anchors: each keeps its own copy of everything inside it.
    let open: String = (0..60).map(|i| format!("&n{i} [")).collect();
    let big = "y".repeat(200 * 1024);
    out.push(bomb("nested anchors", format!("x-a: {open}\"{big}\"{}\n{WEB}", "]".repeat(60))));
    out.push(bomb("deep flow nesting", fill("services: ", "[", "")));
    let mut block = String::new();
    for i in 0.. {
        let line = format!("{}k{i}:\n", " ".repeat(i % 700));
        if block.len() + line.len() > SIZE {
            break;
        }
        block.push_str(&line);
    }
    out.push(bomb("deep block nesting", block));
    out.push(bomb("huge scalar", fill("services:\n  web:\n    image: \"", "a", "\"\n")));
    out.push(bomb("line of ${", fill("services:\n  web:\n    image: nginx\n    user: \"", "${", "\"\n")));
    out.push(bomb("line of $", fill("services:\n  web:\n    image: \"", "$", "\"\n")));
    out.push(bomb("line of {", fill("services:\n  web:\n    image: nginx\n    user: ", "{", "\n")));
    // Valid: braces outside `${` are text; the unset `$A` is only a warning.
    let text = fill("services:\n  web:\n    image: nginx\n    user: \"$A", "{", "\"\n");
    out.push(Bomb { name: "line of { in a string", text, vars: BTreeMap::new(), refused: false });
    out.push(bomb("${A:-${A:-... nesting", fill("services:\n  web:\n    image: nginx\n    user: \"", "${A:-", "\"\n")));
    let n = (SIZE - 64) / 6;
    out.push(bomb(
        "${A:-${A:-... closed",
        format!("services:\n  web:\n    image: nginx\n    user: \"{}x{}\"\n", "${A:-".repeat(n), "}".repeat(n)),
    ));
    out.push(bomb("many duplicate keys", fill(WEB, "    image: x\n", "")));
    out.push(bomb("comment lines of ${ (not YAML)", fill("services: [\n", "# ${${${${${${${${${${\n", "")));
    out.push(bomb("many unclosed ${ (not YAML)", fill("services: [\n", "${", "")));
    // A value from the deploy form used many times: small template, huge document.
    let mut vars = BTreeMap::new();
    vars.insert("BIG".to_string(), "z".repeat(200 * 1024));
    let text = fill(&format!("{WEB}    environment:\n      A: \""), "$BIG", "\"\n");
    out.push(Bomb { name: "variable used 60,000 times", text, vars: vars.clone(), refused: true });
    let secrets: String = (0..5000).map(|i| format!("  s{i}:\n    environment: BIG\n")).collect();
    out.push(Bomb {
        name: "variable in 5,000 secrets",
        text: format!("{WEB}secrets:\n{secrets}"),
        vars,
        refused: true,
    });
    out.push(Bomb { name: "large valid template", text: large_valid(), vars: valid_vars(), refused: false });
    out
}

/// The variables [`large_valid`] needs.
pub fn valid_vars() -> BTreeMap<String, String> {
    [("TAG", "1.0"), ("PG_PASS", "p")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A realistic template of nearly the largest size: many services sharing an `x-` block.
pub fn large_valid() -> String {
    let mut s = String::from("version: \"3.8\"\nx-defaults: &defaults\n  restart: always\n  labels:\n    berth.latest_image: \"true\"\n  logging: {driver: json-file, options: {max-size: 10m}}\n  deploy:\n    resources:\n      limits: {cpus: \"0.5\", memory: 256M}\nservices:\n");
    let mut i = 0;
    while s.len() < SIZE - 2_000 {
        s.push_str(&format!(
            "  svc{i}:\n    <<: *defaults\n    image: registry.example.com/app/svc{i}:${{TAG:-latest}}\n    command: [\"serve\", \"--port\", \"{port}\"]\n    environment:\n      ID: \"{i}\"\n      DB_URL: postgres://db:5432/app\n    ports:\n      - \"{published}:{port}\"\n    volumes:\n      - data{m}:/data\n      - type: tmpfs\n        target: /tmp\n    networks: [front, back]\n    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -q -O- localhost:{port}/health || exit 1\"]\n      interval: 10s\n    ulimits: {{nofile: {{soft: 1024, hard: 4096}}}}\n    depends_on: [{dep}]\n",
            port = 8000 + i % 1000,
            published = 10000 + i,
            m = i % 5,
            dep = if i == 0 { "db".to_string() } else { format!("svc{}", i - 1) },
        ));
        i += 1;
    }
    s.push_str("  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${PG_PASS:?set a password}\n    volumes: [pg:/var/lib/postgresql/data]\n");
    s.push_str("networks:\n  front:\n  back:\n    internal: true\nvolumes:\n  pg:\n");
    for m in 0..5 {
        s.push_str(&format!("  data{m}:\n"));
    }
    s
}
