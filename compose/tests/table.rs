//! The data-driven table: template (+ variables) → an expected spec fragment or an expected
//! diagnostic (severity, line, field, message substring). Every message the parser can emit
//! appears in at least one case.

mod common;

use std::collections::BTreeMap;

use common::Expect::{self, *};
use common::{cases, generated, Case};
use compose::*;

fn run(case: &Case) -> Result<(), String> {
    let vars: BTreeMap<String, String> = case.vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (yaml, expect) = match generated(case.name) {
        Some((text, line, field, msg)) => (text, Expect::Error(line, field, msg)),
        None => (
            case.yaml.to_string(),
            match &case.expect {
                Spec(f) => Spec(*f),
                Warn(l, f, m) => Warn(*l, f, m),
                Error(l, f, m) => Error(*l, f, m),
            },
        ),
    };
    let result = parse(&yaml, &vars);
    let matches = |d: &Diagnostic, sev: Severity, line: usize, field: &str, msg: &str| {
        d.severity == sev
            && (line == 0 && d.line <= 1 || d.line == line)
            && (field.is_empty() || d.field == field)
            && d.message.contains(msg)
    };
    match (&expect, &result) {
        (Spec(f), Ok(p)) if f(&p.spec) => Ok(()),
        (Warn(l, f, m), Ok(p)) if p.warnings.iter().any(|d| matches(d, Severity::Warning, *l, f, m)) => Ok(()),
        (Error(l, f, m), Err(ds)) if ds.iter().any(|d| matches(d, Severity::Error, *l, f, m)) => Ok(()),
        _ => Err(format!("case `{}` failed:\n{yaml}\n=> {result:#?}", case.name)),
    }
}

#[test]
fn table() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| run(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn diagnostics_are_sorted_and_carry_service() {
    let yaml =
        "services:\n  web:\n    image: nginx\n    ports: [\"1:1\", \"1:1\"]\n    privileged: yes\n    user: ${X:?}\n";
    let ds = parse(yaml, &BTreeMap::new()).unwrap_err();
    assert!(ds.windows(2).all(|w| w[0].line <= w[1].line), "{ds:#?}");
    assert!(ds.iter().all(|d| d.service.as_deref() == Some("web")), "{ds:#?}");
    assert_eq!(ds.len(), 3, "{ds:#?}");
}

#[test]
fn variables_scan() {
    let text = "# ${COMMENTED}\nservices:\n  web:\n    image: ${IMAGE:-nginx}\n    user: $USER $$NOT ${USER}\n    x: ${PASS:?give a password} ${OPT-}\n    y: ${A:-${B}} ${C:+x} ${broken\n";
    let vs = variables(text);
    let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["IMAGE", "USER", "PASS", "OPT", "A", "B", "C"]);
    assert_eq!(
        vs[0],
        Variable { name: "IMAGE".into(), default: Some("nginx".into()), required: false, message: None, line: 4 }
    );
    assert_eq!(vs[1], Variable { name: "USER".into(), default: None, required: true, message: None, line: 5 });
    assert_eq!(vs[2].message.as_deref(), Some("give a password"));
    assert!(vs[2].required);
    assert_eq!(vs[3].default.as_deref(), Some(""));
    assert!(!vs[3].required);
    assert_eq!(vs[5].line, 7);
    assert!(!vs[6].required);
}

/// `variables` reads what `parse` interpolates: values, not keys or comments; `x-` blocks where
/// they are used; the names secrets and configs take from the variables; a service's bare
/// environment names.
#[test]
fn variables_follow_the_tree() {
    let text = concat!(
        "# ${COMMENTED}\n",                                      // 1
        "x-unused: ${UNUSED}\n",                                 // 2
        "x-env: &env\n",                                         // 3
        "  TAG: ${TAG}\n",                                       // 4
        "services:\n",                                           // 5
        "  web:\n",                                              // 6
        "    image: ${IMAGE:-nginx}  # ${IN_COMMENT}\n",         // 7
        "    environment:\n",                                    // 8
        "      <<: *env\n",                                      // 9
        "      ${KEY_VAR}: v\n",                                 // 10
        "      FROM_FORM:\n",                                    // 11
        "  db:\n",                                               // 12
        "    image: postgres\n",                                 // 13
        "    environment: [BARE, \"P=${DB_PASS:?give one}\"]\n", // 14
        "secrets:\n",                                            // 15
        "  s:\n",                                                // 16
        "    environment: SECRET_VAR\n",                         // 17
        "configs:\n",                                            // 18
        "  c:\n",                                                // 19
        "    environment: CONFIG_VAR\n",                         // 20
    );
    let vs = variables(text);
    let got: Vec<(&str, bool, usize)> = vs.iter().map(|v| (v.name.as_str(), v.required, v.line)).collect();
    assert_eq!(
        got,
        [
            ("IMAGE", false, 7),
            ("FROM_FORM", false, 11),
            ("TAG", true, 4),
            ("BARE", false, 14),
            ("DB_PASS", true, 14),
            ("SECRET_VAR", true, 17),
            ("CONFIG_VAR", true, 20),
        ]
    );
    // Every variable the form asks for is enough for the template to parse.
    let vars: BTreeMap<String, String> = vs.iter().map(|v| (v.name.clone(), "x".to_string())).collect();
    assert!(parse(text, &vars).is_ok(), "{:#?}", parse(text, &vars));
    // A later use that parsing cannot do without makes a variable required.
    let vs = variables("a: ${A:-x}\nb: ${A:?set A}\nc: ${B}\nd: ${B:-y}\n");
    assert_eq!((vs[0].required, vs[0].message.as_deref(), vs[1].required), (true, Some("set A"), true));
    // Text that is not YAML yet is scanned line by line, comment lines skipped.
    let vs = variables("services:\n  web:\n    image: ${IMG}\n  # ${NO}\n    ports: [\n$X ${Y");
    assert_eq!(vs.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["IMG", "X"]);
    assert!(variables(&format!("a: ${{A}}\n# {}", "x".repeat(MAX_TEMPLATE_BYTES))).is_empty());
}

/// A value whose interpolation fails is reported once, with no follow-on message about the value
/// it did not get ("the test is empty", "has no value", "the image is empty", ...): every scalar
/// of a template using every key is replaced in turn by a failing variable.
#[test]
fn interpolation_errors_stand_alone() {
    let template = "services:\n  web:\n    image: nginx\n    command: serve\n    entrypoint:\n      - /bin/sh\n    environment:\n      A: a\n      B:\n    working_dir: /srv\n    user: app\n    hostname: web\n    ports:\n      - \"80:80\"\n      - target: 81\n        published: 8081\n        protocol: tcp\n        mode: host\n    expose:\n      - \"3000\"\n    volumes:\n      - data:/data\n      - type: bind\n        source: /srv/x\n        target: /x\n        read_only: true\n      - type: tmpfs\n        target: /t\n    tmpfs: /run\n    networks:\n      - front\n    labels:\n      berth.scale: \"2\"\n      berth.probe.cmd: pg_isready\n      other: x\n    healthcheck:\n      test: curl -f http://localhost\n      interval: 10s\n      retries: 3\n    init: true\n    stop_grace_period: 10s\n    secrets:\n      - db\n      - source: db\n        target: key\n    configs:\n      - c\n    cap_add:\n      - CHOWN\n    cap_drop:\n      - ALL\n    devices:\n      - /dev/fuse\n    privileged: false\n    pid: host\n    ipc: private\n    security_opt:\n      - no-new-privileges\n    read_only: true\n    tty: false\n    stdin_open: false\n    stop_signal: SIGINT\n    extra_hosts:\n      - \"a=10.0.0.1\"\n    dns: 1.1.1.1\n    dns_search: example.com\n    dns_opt:\n      - ndots:2\n    sysctls:\n      net.core.somaxconn: \"1024\"\n    ulimits:\n      nofile: 100\n      nproc:\n        soft: 1\n        hard: 2\n    group_add:\n      - wheel\n    logging:\n      driver: json-file\n      options:\n        max-size: 1m\n    pids_limit: 10\n    isolation: default\n    restart: always\n    depends_on:\n      - db\n    deploy:\n      mode: replicated\n      replicas: 2\n      labels:\n        k: v\n      resources:\n        limits:\n          cpus: \"0.5\"\n          memory: 256m\n          pids: 10\n        reservations:\n          memory: 64m\n      placement:\n        constraints:\n          - node.role==worker\n        preferences:\n          - spread: node.labels.zone\n        max_replicas_per_node: 2\n      update_config:\n        parallelism: 1\n        delay: 5s\n        order: start-first\n        failure_action: rollback\n        monitor: 1s\n      restart_policy:\n        condition: on-failure\n        delay: 1s\n        max_attempts: 3\n        window: 1m\n      endpoint_mode: dnsrr\n  db:\n    image: postgres\n    scale: 1\n    mem_limit: 1g\n    cpus: 1\n    container_name: x\n  cache:\n    image: redis\n    depends_on:\n      db:\n        condition: service_started\nnetworks:\n  front:\n    driver: overlay\n    internal: false\n    attachable: true\n    labels:\n      a: b\n  ext:\n    external: true\n    name: shared\nvolumes:\n  data:\n    driver: local\n    driver_opts:\n      type: tmpfs\n    labels:\n      - a=b\nsecrets:\n  db:\n    content: hunter2\n  e:\n    external: true\n    name: shared\nconfigs:\n  c:\n    environment: C_VAR\n";
    let vars: BTreeMap<String, String> =
        [("C_VAR".to_string(), "x".to_string()), ("B".to_string(), "b".to_string())].into();
    let base = parse(template, &vars).unwrap_or_else(|e| panic!("the template itself must parse: {e:#?}"));
    let known: Vec<(String, String)> = base.warnings.iter().map(|d| (d.field.clone(), d.message.clone())).collect();
    let mut checked = 0;
    let lines: Vec<&str> = template.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let (prefix, rest) = match trimmed.strip_prefix("- ") {
            Some(r) => (format!("{indent}- "), r),
            None => (indent.to_string(), trimmed),
        };
        let replaced = match rest.split_once(": ") {
            Some((key, value)) if !value.is_empty() => format!("{prefix}{key}: \"${{X:?boom}}\""),
            None if prefix.ends_with("- ") => format!("{prefix}\"${{X:?boom}}\""),
            _ => continue,
        };
        let mut variant = lines.clone();
        variant[i] = &replaced;
        let text = variant.join("\n") + "\n";
        let ds = parse(&text, &vars).expect_err(&replaced);
        let new: Vec<&Diagnostic> =
            ds.iter().filter(|d| !known.iter().any(|(f, m)| *f == d.field && *m == d.message)).collect();
        assert!(
            new.len() == 1 && new[0].line == i + 1 && new[0].message == "X is required: boom",
            "line {}: `{replaced}` gives {new:#?}",
            i + 1
        );
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} values replaced");
}

#[test]
fn every_parsed_case_round_trips() {
    let mut checked = 0;
    for case in cases() {
        let vars: BTreeMap<String, String> = case.vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let Ok(parsed) = parse(case.yaml, &vars) else { continue };
        let text = to_compose(&parsed.spec);
        let back = parse(&text, &BTreeMap::new()).unwrap_or_else(|e| panic!("case `{}`: {text}\n{e:#?}", case.name));
        // Lines are where things were written, which a round trip through `to_compose` changes.
        assert_eq!(back.spec.clone().without_lines(), parsed.spec.without_lines(), "case `{}`:\n{text}", case.name);
        assert_eq!(to_compose(&back.spec), text, "case `{}`: not a fixed point", case.name);
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} cases parse");
}
