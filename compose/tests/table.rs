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
    assert!(variables("a: [\n$X ${Y").iter().any(|v| v.name == "X"));
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
