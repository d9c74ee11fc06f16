//! Compose templates → Berth's canonical app spec.
//!
//! [`parse`] reads a Compose file (v2 or v3 keys) with its variables and Berth's extension labels
//! into an [`AppSpec`], naming the YAML line and field of every problem; [`variables`] lists what a
//! deploy form must ask for; [`policy_violations`] says what only admins may deploy; [`to_compose`]
//! writes a spec back as Compose YAML. Pure logic: no I/O.

use std::collections::BTreeMap;

mod container;
mod convert;
mod cx;
mod emit;
mod ext;
mod interp;
mod policy;
pub mod scaling;
pub mod spec;
mod values;
mod yaml;

pub use policy::{validate_allowances, Allowances, HostPath};
pub use spec::*;
pub use values::{lb_target, routing_target, LbTarget, RoutingTarget, MAX_ROUTING_DOMAIN};

/// The 1-based line of a service's label whose key ends with `suffix` (e.g. `routing.port_80`),
/// found in the template's text (for messages about a label the spec no longer places); 0 when it is
/// not found.
pub fn label_line(text: &str, service: &str, suffix: &str) -> usize {
    let mut within: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if within.is_some_and(|at| indent <= at) {
            within = None;
        }
        let key = trimmed.trim_start_matches(['"', '\'']);
        if within.is_none()
            && key.strip_prefix(service).is_some_and(|rest| rest.trim_start_matches(['"', '\'']).starts_with(':'))
        {
            within = Some(indent);
            continue;
        }
        if within.is_some() && trimmed.contains(suffix) {
            return i + 1;
        }
    }
    0
}

/// Templates larger than this are refused before parsing.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

/// Accepted label prefixes and names, and the canonical form each stands for. Prefix aliases end
/// with `.`; they are applied first, then whole-name aliases.
pub const ALIASES: &[(&str, &str)] = &[
    // The labels of the product Berth models its templates on.
    ("aliyun.", "berth."),
    // Reverse-DNS style, as Docker recommends for label keys.
    ("com.berth.", "berth."),
    ("berth.probe.initial_delay_seconds", "berth.probe.initial_delay"),
    ("berth.probe.timeout_seconds", "berth.probe.timeout"),
];

/// A successfully parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub spec: AppSpec,
    pub warnings: Vec<Diagnostic>,
}

/// Parses, interpolates and validates a template. `Err` holds every error found (severity
/// `Error`) together with the warnings, sorted by line.
pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Parsed, Vec<Diagnostic>> {
    convert::parse(text, vars)
}

/// The variables a template uses, in first-use order, deduplicated: read from the values `parse`
/// interpolates (not keys or comments), plus the `environment:` names of secrets and configs and a
/// service's bare environment names. Text that is not valid YAML yet is scanned line by line, so it
/// works (and never panics) while someone types. Linear in the text; empty beyond
/// [`MAX_TEMPLATE_BYTES`].
pub fn variables(text: &str) -> Vec<Variable> {
    interp::variables(text)
}

/// Workload policy, an allow-list: everything in `spec` that a caller without the
/// privileged-workload permission may not deploy on a cluster granting `allow` (admins skip the
/// check). Each violation names the service, the field and its YAML line.
pub fn policy_violations(spec: &AppSpec, allow: &Allowances) -> Vec<Violation> {
    policy::violations(spec, allow)
}

/// Compose YAML (version "3.8" style) that [`parse`] turns back into an equal spec (lines aside).
pub fn to_compose(spec: &AppSpec) -> String {
    emit::to_compose(spec)
}

/// At most this many diagnostics are returned (the first, by line), then one saying how many more
/// there were: a template with 20,000 duplicate keys must not produce a 20,000-line answer.
pub const MAX_DIAGNOSTICS: usize = 200;

/// A diagnostic, with quoted values and the field shortened: values come from the template and may
/// be as long as it is.
pub(crate) fn diagnostic(severity: Severity, line: usize, field: &str, message: String) -> Diagnostic {
    let service = service_of(field);
    let field = shorten(field, 200);
    let mut out = String::with_capacity(message.len().min(1024));
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts are between backticks: quoted values.
        out.push_str(&if i % 2 == 1 { shorten(part, 80) } else { part.to_string() });
    }
    Diagnostic { severity, line, service, field, message: out }
}

/// `s` cut to `max` characters (with `…`) when longer.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The service a field path is about (`services.web.ports[1]` → `web`).
pub(crate) fn service_of(field: &str) -> Option<String> {
    let rest = field.strip_prefix("services.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}
