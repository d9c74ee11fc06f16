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
pub mod spec;
mod values;
mod yaml;

pub use policy::{validate_allowances, Allowances, HostPath};
pub use spec::*;

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

/// The variables a template uses, in first-use order, deduplicated. Scans the text, so it works
/// (and never panics) on templates that do not parse.
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

/// The service a field path is about (`services.web.ports[1]` → `web`).
pub(crate) fn service_of(field: &str) -> Option<String> {
    let rest = field.strip_prefix("services.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}
