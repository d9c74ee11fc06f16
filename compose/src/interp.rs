//! Compose variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$VAR`, `$$`)
//! and the list of a template's variables for the deploy form.
//!
//! Interpolation works on scalar values only, after YAML parsing, so a value can never inject YAML
//! structure. The rules are the Compose specification's: a `$` starts a variable only when a name
//! or `{` follows it (`5$`, `a$ b`, `$-` stay as written); `$$` is a literal `$`; the argument of
//! `${VAR:-…}` may hold balanced braces (`${CONFIG:-{"debug":false}}`) and further variables.
//!
//! Every scan is linear: one pass pairs each `{` with its `}` (a stack), and everything after that
//! only walks ranges of the value, at most [`MAX_NESTING`] levels deep. (Searching for the close
//! from every `${` made one line of unclosed `${` take seconds.)

use std::collections::BTreeMap;

use crate::spec::Variable;
use crate::yaml::{self, Kind, Node};
use crate::MAX_TEMPLATE_BYTES;

/// Defaults may themselves use variables (`${A:-${B}}`); deeper nesting than this is refused.
const MAX_NESTING: usize = 8;

/// No close brace.
const OPEN: u32 = u32::MAX;

/// What `${...}` asks for after the name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    /// `${VAR}`
    Plain,
    /// `:-` (`colon` = also when empty) or `-`.
    Default { colon: bool },
    /// `:?` or `?`.
    Required { colon: bool },
    /// `:+` or `+`: the alternative when set.
    Alternative { colon: bool },
}

/// Whether interpolation looks into a mapping entry: everything but top-level `x-*` blocks, which
/// are only anchors (their copies are interpolated where they are used). Shared by
/// interpolation and [`variables`], so that the deploy form asks for exactly what parsing uses.
pub fn interpolated(key: &str, top: bool) -> bool {
    !(top && key.starts_with("x-"))
}

/// Splits the inside of `${...}` into name, operator and argument.
fn split_braced(inner: &str) -> Result<(&str, Op, &str), String> {
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    if name.is_empty() {
        return Err(if inner.is_empty() {
            "`${}` has no variable name".to_string()
        } else {
            format!("`${{{}}}` does not start with a variable name", shorten(inner))
        });
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{}` is not a variable name: names start with a letter or `_`", shorten(name)));
    }
    let ops: [(&str, Op); 6] = [
        (":-", Op::Default { colon: true }),
        ("-", Op::Default { colon: false }),
        (":?", Op::Required { colon: true }),
        ("?", Op::Required { colon: false }),
        (":+", Op::Alternative { colon: true }),
        ("+", Op::Alternative { colon: false }),
    ];
    if rest.is_empty() {
        return Ok((name, Op::Plain, ""));
    }
    for (prefix, op) in ops {
        if let Some(arg) = rest.strip_prefix(prefix) {
            return Ok((name, op, arg));
        }
    }
    let name = shorten(name);
    Err(format!(
        "`${{{}}}` is not valid: use ${{{name}}}, ${{{name}:-default}}, ${{{name}-default}}, ${{{name}:?message}} or ${{{name}?message}}",
        shorten(inner)
    ))
}

/// At most 60 characters of `s` for a message (a hostile value may be a whole template long).
fn shorten(s: &str) -> String {
    crate::shorten(s, 60)
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The position of the `}` closing each `{` of `s` (both `${` and a bare `{` open; `$$` is skipped
/// as an escaped `$`), or [`OPEN`]. One pass with a stack; indexed by byte position.
fn closes(s: &str) -> Vec<u32> {
    let b = s.as_bytes();
    if !b.contains(&b'{') {
        return Vec::new();
    }
    let mut close = vec![OPEN; b.len()];
    let mut stack = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
            b'{' => {
                stack.push(i);
                i += 1;
            }
            b'}' => {
                if let Some(open) = stack.pop() {
                    close[open] = i as u32;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    close
}

/// One value being interpolated.
struct Value<'a> {
    s: &'a str,
    close: Vec<u32>,
}

impl Value<'_> {
    fn new(s: &str) -> Value<'_> {
        Value { s, close: closes(s) }
    }

    /// The `}` matching the `{` at `open`, if any.
    fn close_of(&self, open: usize) -> Option<usize> {
        self.close.get(open).copied().filter(|c| *c != OPEN).map(|c| c as usize)
    }

    /// The braced expression whose `${` is at `i`.
    fn braced(&self, i: usize) -> Result<Braced<'_>, String> {
        let end = self.close_of(i + 1).ok_or_else(|| "`${` is not closed with `}`".to_string())?;
        let inner = &self.s[i + 2..end];
        let (name, op, arg) = split_braced(inner)?;
        Ok(Braced { name, op, arg: (end - arg.len(), end), after: end + 1 })
    }
}

/// `${name<op>arg}`: the argument as a range of the value, and where the expression ends.
struct Braced<'a> {
    name: &'a str,
    op: Op,
    arg: (usize, usize),
    after: usize,
}

/// Interpolates one scalar. `Ok` carries the value and the names of unset variables used without a
/// default (warnings); `Err` is the message of the first error. The result may be at most `limit`
/// bytes long: variables' values are the one thing a small template can multiply.
pub fn interpolate(s: &str, vars: &BTreeMap<String, String>, limit: usize) -> Result<(String, Vec<String>), String> {
    let value = Value::new(s);
    let mut x = Expand { v: &value, vars, unset: Vec::new(), limit };
    let mut out = String::with_capacity(s.len());
    x.expand(0, s.len(), 0, &mut out)?;
    Ok((out, x.unset))
}

/// The message of a result over its limit.
pub const TOO_LARGE: &str = "the variables' values make the document too large";

struct Expand<'a> {
    v: &'a Value<'a>,
    vars: &'a BTreeMap<String, String>,
    unset: Vec<String>,
    limit: usize,
}

impl Expand<'_> {
    fn push(&self, out: &mut String, s: &str) -> Result<(), String> {
        if out.len() + s.len() > self.limit {
            return Err(format!("{TOO_LARGE}: the values added exceed {} KB", crate::yaml::MAX_EXPANDED_BYTES / 1024));
        }
        out.push_str(s);
        Ok(())
    }

    /// Appends the interpolation of `s[start..end]` to `out`.
    fn expand(&mut self, start: usize, end: usize, depth: usize, out: &mut String) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!("variables nest more than {MAX_NESTING} levels deep"));
        }
        let s = self.v.s;
        let b = s.as_bytes();
        let mut literal = start;
        let mut i = start;
        while i < end {
            if b[i] != b'$' {
                i += 1;
                continue;
            }
            // Only ASCII bytes are ever cut at, so slicing stays on character boundaries.
            let next = if i + 1 < end { Some(b[i + 1]) } else { None };
            match next {
                Some(b'$') => {
                    self.push(out, &s[literal..i + 1])?;
                    i += 2;
                }
                Some(b'{') => {
                    self.push(out, &s[literal..i])?;
                    let Braced { name, op, arg: (a0, a1), after } = self.v.braced(i)?;
                    if after > end {
                        return Err("`${` is not closed with `}`".to_string());
                    }
                    let value = self.vars.get(name);
                    let empty = value.is_none_or(|v| v.is_empty());
                    match op {
                        Op::Plain => match value {
                            Some(v) => self.push(out, v)?,
                            None => self.unset.push(name.to_string()),
                        },
                        Op::Default { colon } => {
                            if value.is_none() || (colon && empty) {
                                self.expand(a0, a1, depth + 1, out)?;
                            } else if let Some(v) = value {
                                self.push(out, v)?;
                            }
                        }
                        Op::Required { colon } => {
                            if value.is_none() || (colon && empty) {
                                return Err(if a0 == a1 {
                                    format!("{name} is required but not set")
                                } else {
                                    // The message is interpolated too (`${A:?set A or ${B}}`).
                                    let mut message = String::new();
                                    let message = match self.expand(a0, a1, depth + 1, &mut message) {
                                        Ok(()) => message,
                                        Err(_) => s[a0..a1].to_string(),
                                    };
                                    format!("{name} is required: {}", shorten(&message))
                                });
                            }
                            if let Some(v) = value {
                                self.push(out, v)?;
                            }
                        }
                        Op::Alternative { colon } => {
                            if !(value.is_none() || (colon && empty)) {
                                self.expand(a0, a1, depth + 1, out)?;
                            }
                        }
                    }
                    i = after;
                }
                Some(c) if is_name_start(c) => {
                    self.push(out, &s[literal..i])?;
                    let mut j = i + 1;
                    while j < end && is_name_char(b[j]) {
                        j += 1;
                    }
                    let name = &s[i + 1..j];
                    match self.vars.get(name) {
                        Some(v) => self.push(out, v)?,
                        None => self.unset.push(name.to_string()),
                    }
                    i = j;
                }
                // Not a variable: the `$` stays as written.
                _ => {
                    i += 1;
                    continue;
                }
            }
            literal = i;
        }
        self.push(out, &s[literal..end])
    }
}

/// The variables a template uses, in first-use order, each with the line of its first use. Read
/// from the same YAML tree that interpolation walks (values only, not keys or comments; top-level
/// `x-` blocks only where their copies are used), plus the `environment:` names of top-level
/// secrets and configs (required) and the bare names in a service's `environment:` (optional: they
/// are left out when not given). Text that is not valid YAML yet is scanned line by line instead,
/// skipping comment lines, so the deploy form keeps working while someone types.
pub fn variables(text: &str) -> Vec<Variable> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Vec::new();
    }
    let mut found = Found::default();
    match yaml::load(text) {
        (Some(root), diags) if diags.is_empty() => found.tree(&root, &mut Vec::new()),
        _ => {
            for (n, line) in text.lines().enumerate() {
                if !line.trim_start().starts_with('#') {
                    found.value(line, n + 1);
                }
            }
        }
    }
    found.list
}

#[derive(Default)]
struct Found {
    list: Vec<Variable>,
}

impl Found {
    /// Walks values in document order; `path` holds the keys above (`[]` for list items).
    fn tree<'n>(&mut self, node: &'n Node, path: &mut Vec<&'n str>) {
        match &node.kind {
            Kind::Scalar(s) => {
                self.value(&s.value, node.line);
                let name = |v: &str| v.bytes().next().is_some_and(is_name_start) && v.bytes().all(is_name_char);
                match path.as_slice() {
                    ["secrets" | "configs", _, "environment"] if name(&s.value) => {
                        self.record(Variable::named(&s.value, node.line, true), true);
                    }
                    ["services", _, "environment", "[]"] if name(&s.value) => {
                        self.record(Variable::named(&s.value, node.line, false), false);
                    }
                    ["services", _, "environment", key] if s.null && name(key) => {
                        self.record(Variable::named(key, node.line, false), false);
                    }
                    _ => {}
                }
            }
            Kind::Seq(items) => {
                path.push("[]");
                for item in items {
                    self.tree(item, path);
                }
                path.pop();
            }
            Kind::Map(entries) => {
                let top = path.is_empty();
                for e in entries {
                    if interpolated(&e.key, top) {
                        path.push(&e.key);
                        self.tree(&e.value, path);
                        path.pop();
                    }
                }
            }
        }
    }

    /// The variables of one value (or one line of text).
    fn value(&mut self, s: &str, line: usize) {
        if s.contains('$') {
            let v = Value::new(s);
            self.scan(&v, 0, s.len(), line, 0);
        }
    }

    fn scan(&mut self, v: &Value<'_>, start: usize, end: usize, line: usize, depth: usize) {
        if depth > MAX_NESTING {
            return;
        }
        let b = v.s.as_bytes();
        let mut i = start;
        while i < end {
            if b[i] != b'$' || i + 1 >= end {
                i += 1;
                continue;
            }
            match b[i + 1] {
                b'$' => i += 2,
                b'{' => match v.braced(i) {
                    Ok(Braced { name, op, arg: (a0, a1), after }) if after <= end => {
                        let arg = &v.s[a0..a1];
                        let (default, required, message) = match op {
                            Op::Plain => (None, true, None),
                            Op::Default { .. } => (Some(arg.to_string()), false, None),
                            Op::Required { .. } => (None, true, (!arg.is_empty()).then(|| arg.to_string())),
                            Op::Alternative { .. } => (None, false, None),
                        };
                        let var = Variable { name: name.to_string(), default, required, message, line };
                        self.record(var, matches!(op, Op::Required { .. }));
                        if matches!(op, Op::Default { .. } | Op::Alternative { .. }) {
                            self.scan(v, a0, a1, line, depth + 1);
                        }
                        i = after;
                    }
                    // Unclosed or invalid: skip the `${` (the pairs are known, so this stays linear).
                    _ => i += 2,
                },
                c if is_name_start(c) => {
                    let mut j = i + 1;
                    while j < end && is_name_char(b[j]) {
                        j += 1;
                    }
                    self.record(Variable::named(&v.s[i + 1..j], line, true), false);
                    i = j;
                }
                _ => i += 1,
            }
        }
    }

    /// Keeps the first use of each name; a later use that makes parsing fail without a value
    /// (`${V:?}`, a secret's `environment:`) makes it required.
    fn record(&mut self, v: Variable, strict: bool) {
        match self.list.iter_mut().find(|f| f.name == v.name) {
            Some(first) => {
                if strict && !first.required {
                    first.required = true;
                    first.message = first.message.take().or(v.message);
                }
            }
            None => self.list.push(v),
        }
    }
}

impl Variable {
    /// A variable used without a default or message.
    fn named(name: &str, line: usize, required: bool) -> Variable {
        Variable { name: name.to_string(), default: None, required, message: None, line }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// (value, variables, expected result or error part)
    type Case = (&'static str, &'static [(&'static str, &'static str)], Result<&'static str, &'static str>);
    const CASES: &[Case] = &[
        (r#"${CONFIG:-{"debug":false}}"#, &[("CONFIG", "x")], Ok("x")),
        (r#"${CONFIG:-{"debug":false}}"#, &[], Ok(r#"{"debug":false}"#)),
        (r#"${FLAG:+{"a":1}}"#, &[], Ok("")),
        (r#"${FLAG:+{"a":1}}"#, &[("FLAG", "1")], Ok(r#"{"a":1}"#)),
        ("${A:-{{x}}}y", &[], Ok("{{x}}y")),
        ("${A:-{${B}}}", &[("B", "b")], Ok("{b}")),
        ("${A:-a}}", &[], Ok("a}")),
        ("} ${A} {", &[("A", "1")], Ok("} 1 {")),
        ("${A:-$${B}}", &[], Ok("${B}")),
        ("cost: 5$", &[], Ok("cost: 5$")),
        ("a$ b", &[], Ok("a$ b")),
        ("$-", &[], Ok("$-")),
        ("$1 and $", &[], Ok("$1 and $")),
        ("$$", &[], Ok("$")),
        ("$$$", &[], Ok("$$")),
        ("$$A", &[("A", "x")], Ok("$A")),
        ("$A$", &[("A", "x")], Ok("x$")),
        ("${A}${B:-b}$C", &[("A", "a"), ("C", "c")], Ok("abc")),
        ("ünï${A}ü", &[("A", "✓")], Ok("ünï✓ü")),
        ("${VAR:?message ${X}}", &[("X", "here")], Err("VAR is required: message here")),
        ("${VAR:?message ${X:-dflt}}", &[], Err("VAR is required: message dflt")),
        ("${VAR?}", &[], Err("VAR is required but not set")),
        ("${A", &[], Err("`${` is not closed")),
        ("${A:-{}", &[], Err("`${` is not closed")),
        ("${}", &[], Err("`${}` has no variable name")),
        ("${A:x}", &[], Err("`${A:x}` is not valid")),
    ];

    #[test]
    fn interpolation() {
        for (value, vs, expected) in CASES {
            let got = interpolate(value, &vars(vs), usize::MAX).map(|(v, _)| v);
            match (expected, &got) {
                (Ok(e), Ok(g)) if e == g => {}
                (Err(e), Err(g)) if g.contains(e) => {}
                _ => panic!("{value:?} with {vs:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn unset_variables_are_reported() {
        let (v, unset) = interpolate("${A}$B${C:-x}${D-}", &BTreeMap::new(), usize::MAX).unwrap();
        assert_eq!((v.as_str(), unset), ("x", vec!["A".to_string(), "B".to_string()]));
    }

    #[test]
    fn output_is_bounded() {
        let big = vars(&[("A", &"x".repeat(1000))]);
        assert!(interpolate(&"$A".repeat(10), &big, 9_999).unwrap_err().starts_with(TOO_LARGE));
        assert_eq!(interpolate(&"$A".repeat(10), &big, 10_000).unwrap().0.len(), 10_000);
    }

    #[test]
    fn braces_pair_linearly() {
        // Each `{` knows its `}` after one pass, including across unclosed ones.
        let c = closes("${ ${a} {b} }");
        assert_eq!((c[1], c[4], c[8], c[12]), (12, 6, 10, OPEN));
        let c = closes("${ ${a}");
        assert_eq!((c[1], c[4]), (OPEN, 6));
        assert!(closes("no braces").is_empty());
    }
}
