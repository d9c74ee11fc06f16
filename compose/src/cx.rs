//! The conversion context: collects diagnostics and reads typed values out of YAML nodes, so that
//! every "expected a number here" message is worded the same way and names field and line.

use std::collections::BTreeMap;

use crate::interp::TOO_LARGE;
use crate::spec::{Diagnostic, Severity};
use crate::values;
use crate::yaml::MAX_EXPANDED_BYTES;
use crate::yaml::{Entry, Kind, Node};

/// A `depends_on` or `berth.depends` reference, kept with its line for the checks after parsing.
pub struct DependsRef {
    pub service: String,
    pub target: String,
    pub line: usize,
    pub field: String,
}

/// A published port, kept with its line for the uniqueness check across services.
pub struct PublishedRef {
    pub port: u16,
    pub protocol: String,
    pub service: String,
    pub line: usize,
    pub field: String,
}

pub struct Cx<'a> {
    pub vars: &'a BTreeMap<String, String>,
    pub diags: Vec<Diagnostic>,
    pub depends: Vec<DependsRef>,
    pub published: Vec<PublishedRef>,
    /// Bytes that variables' values have added to the document so far (see [`Cx::grow`]).
    pub grown: usize,
    too_large: bool,
}

/// A label or environment entry: key, value (`None` for a bare `KEY`), line and field path.
pub struct Pair {
    pub key: String,
    pub value: Option<String>,
    pub line: usize,
    pub field: String,
    /// The value failed interpolation (already reported): consumers skip the pair quietly.
    pub bad: bool,
}

impl<'a> Cx<'a> {
    pub fn new(vars: &'a BTreeMap<String, String>) -> Self {
        Cx { vars, diags: Vec::new(), depends: Vec::new(), published: Vec::new(), grown: 0, too_large: false }
    }

    /// How many more bytes variables' values may add to the document: a small template that
    /// uses one large value thousands of times must not exhaust the server.
    pub fn growth_left(&self) -> usize {
        MAX_EXPANDED_BYTES.saturating_sub(self.grown)
    }

    /// Counts `added` bytes taken from the variables; `false` (reported once, at `line`) when the
    /// document would grow beyond [`MAX_EXPANDED_BYTES`].
    pub fn grow(&mut self, line: usize, field: &str, added: usize) -> bool {
        if added <= self.growth_left() {
            self.grown += added;
            return true;
        }
        self.too_large(line, field);
        false
    }

    /// Reports, once, that variables made the document too large.
    pub fn too_large(&mut self, line: usize, field: &str) {
        if !self.too_large {
            self.too_large = true;
            let message = format!("{}: the values added exceed {} KB", TOO_LARGE, MAX_EXPANDED_BYTES / 1024);
            self.err(line, field, message);
        }
    }

    pub fn push(&mut self, severity: Severity, line: usize, field: &str, message: impl Into<String>) {
        self.diags.push(crate::diagnostic(severity, line, field, message.into()));
    }

    pub fn err(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, line, field, message);
    }

    pub fn warn(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.push(Severity::Warning, line, field, message);
    }

    pub fn unknown_key(&mut self, e: &Entry, field: &str) {
        self.err(e.line, field, format!("unknown key `{}`", e.key));
    }

    /// A scalar as text; `None` (quietly) for null or an already-reported bad value.
    pub fn text(&mut self, n: &Node, field: &str) -> Option<String> {
        match &n.kind {
            Kind::Scalar(s) if s.bad || s.null => None,
            Kind::Scalar(s) => Some(s.value.clone()),
            _ => {
                self.err(n.line, field, format!("expected a single value, not {}", n.describe()));
                None
            }
        }
    }

    /// A scalar that must be present.
    pub fn required_text(&mut self, n: &Node, field: &str) -> Option<String> {
        if n.is_null() {
            self.err(n.line, field, "a value is required here");
            return None;
        }
        self.text(n, field)
    }

    pub fn boolean(&mut self, n: &Node, field: &str) -> Option<bool> {
        let v = self.required_text(n, field)?;
        match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            "yes" | "no" | "on" | "off" | "y" | "n" => {
                self.err(n.line, field, format!("expected true or false, not `{v}` (YAML 1.2 reads `{v}` as text)"));
                None
            }
            _ => {
                self.err(n.line, field, format!("expected true or false, not `{v}`"));
                None
            }
        }
    }

    /// A whole number that may be negative.
    pub fn int(&mut self, n: &Node, field: &str) -> Option<i64> {
        let v = self.required_text(n, field)?;
        match v.trim().parse::<i64>() {
            Ok(x) => Some(x),
            Err(_) => {
                self.err(n.line, field, format!("expected a whole number, not `{v}`"));
                None
            }
        }
    }

    pub fn uint(&mut self, n: &Node, field: &str) -> Option<u64> {
        let v = self.required_text(n, field)?;
        match v.trim().parse::<u64>() {
            Ok(x) => Some(x),
            Err(_) => {
                self.err(n.line, field, format!("expected a whole number (0 or more), not `{v}`"));
                None
            }
        }
    }

    pub fn duration(&mut self, n: &Node, field: &str) -> Option<i64> {
        let v = self.required_text(n, field)?;
        self.check(n.line, field, values::duration(&v))
    }

    pub fn memory(&mut self, n: &Node, field: &str) -> Option<i64> {
        let v = self.required_text(n, field)?;
        self.check(n.line, field, values::memory(&v))
    }

    pub fn cpus(&mut self, n: &Node, field: &str) -> Option<i64> {
        let v = self.required_text(n, field)?;
        self.check(n.line, field, values::cpus(&v))
    }

    /// Reports an `Err` from a value parser at `line`.
    pub fn check<T>(&mut self, line: usize, field: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.err(line, field, m)).ok()
    }

    /// One of a fixed set of words.
    pub fn one_of(&mut self, n: &Node, field: &str, allowed: &[&str]) -> Option<String> {
        let v = self.required_text(n, field)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.err(n.line, field, format!("`{v}` must be one of: {}", allowed.join(", ")));
            None
        }
    }

    /// A mapping's entries (`null` counts as an empty mapping, as Compose reads `key:` alone).
    pub fn map<'n>(&mut self, n: &'n Node, field: &str) -> Option<&'n [Entry]> {
        match &n.kind {
            Kind::Map(entries) => Some(entries),
            Kind::Scalar(s) if s.null => Some(&[]),
            Kind::Scalar(s) if s.bad => None,
            _ => {
                self.err(n.line, field, format!("expected a mapping, not {}", n.describe()));
                None
            }
        }
    }

    pub fn list<'n>(&mut self, n: &'n Node, field: &str) -> Option<&'n [Node]> {
        match &n.kind {
            Kind::Seq(items) => Some(items),
            Kind::Scalar(s) if s.null => Some(&[]),
            Kind::Scalar(s) if s.bad => None,
            _ => {
                self.err(n.line, field, format!("expected a list, not {}", n.describe()));
                None
            }
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, n: &Node, field: &str) -> Vec<String> {
        let items = self.list(n, field).unwrap_or_default();
        items.iter().enumerate().filter_map(|(i, item)| self.text(item, &format!("{field}[{i}]"))).collect()
    }

    /// A list of strings, or one string standing for a list of one.
    pub fn strings_or_one(&mut self, n: &Node, field: &str) -> Vec<String> {
        self.strings_or_one_at(n, field).into_iter().map(|(s, ..)| s).collect()
    }

    /// A list of strings, each with its line and field (`field[i]`).
    pub fn strings_at(&mut self, n: &Node, field: &str) -> Vec<(String, usize, String)> {
        let items = self.list(n, field).unwrap_or_default();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            if let Some(s) = self.text(item, &f) {
                out.push((s, item.line, f));
            }
        }
        out
    }

    /// [`Cx::strings_or_one`] with lines and fields.
    pub fn strings_or_one_at(&mut self, n: &Node, field: &str) -> Vec<(String, usize, String)> {
        match &n.kind {
            Kind::Scalar(_) => self.text(n, field).into_iter().map(|s| (s, n.line, field.to_string())).collect(),
            _ => self.strings_at(n, field),
        }
    }

    /// Compose's two forms for labels and environment: a mapping, or a list of `KEY=value` (or a
    /// bare `KEY`).
    pub fn pairs(&mut self, n: &Node, field: &str) -> Vec<Pair> {
        let mut out = Vec::new();
        match &n.kind {
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let f = format!("{field}[{i}]");
                    let Some(t) = self.text(item, &f) else { continue };
                    let (key, value) = match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (t, None),
                    };
                    if key.trim().is_empty() {
                        self.err(item.line, &f, "the name before `=` is empty");
                        continue;
                    }
                    out.push(Pair { key, value, line: item.line, field: f, bad: false });
                }
            }
            _ => {
                for e in self.map(n, field).unwrap_or_default() {
                    let f = crate::yaml::join(field, &e.key);
                    if e.key.trim().is_empty() {
                        self.err(e.line, &f, "the name is empty");
                        continue;
                    }
                    let bad = e.value.is_bad();
                    let value = self.text(&e.value, &f);
                    out.push(Pair { key: e.key.clone(), value, line: e.line, field: f, bad });
                }
            }
        }
        out
    }
}
