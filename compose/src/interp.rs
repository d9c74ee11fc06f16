//! Compose variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$VAR`, `$$`)
//! and the scan that lists a template's variables for the deploy form.
//!
//! Interpolation works on scalar values only, after YAML parsing, so a value can never inject YAML
//! structure; the scan works on the raw text so that it can describe templates that do not parse.

use std::collections::BTreeMap;

use crate::spec::Variable;

/// Defaults may themselves use variables (`${A:-${B}}`); deeper nesting than this is refused.
const MAX_NESTING: usize = 8;

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

/// Splits the inside of `${...}` into name, operator and argument.
fn split_braced(inner: &str) -> Result<(&str, Op, &str), String> {
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    if name.is_empty() {
        return Err(if inner.is_empty() {
            "`${}` has no variable name".to_string()
        } else {
            format!("`${{{inner}}}` does not start with a variable name")
        });
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{name}` is not a variable name: names start with a letter or `_`"));
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
    Err(format!(
        "`${{{inner}}}` is not valid: use ${{{name}}}, ${{{name}:-default}}, ${{{name}-default}}, ${{{name}:?message}} or ${{{name}?message}}"
    ))
}

/// Finds the `}` closing a `${` whose contents start at `start`, allowing nested `${...}`.
fn find_close(s: &str, start: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 1;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Interpolates one scalar. `Ok` carries the value and the names of unset variables used without a
/// default (warnings); `Err` is the message of the first error.
pub fn interpolate(s: &str, vars: &BTreeMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut unset = Vec::new();
    let value = expand(s, vars, 0, &mut unset)?;
    Ok((value, unset))
}

fn expand(s: &str, vars: &BTreeMap<String, String>, depth: usize, unset: &mut Vec<String>) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!("variables nest more than {MAX_NESTING} levels deep"));
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut literal = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        // Only ASCII bytes are ever cut at, so slicing stays on character boundaries.
        out.push_str(&s[literal..i]);
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = find_close(s, i + 2).ok_or_else(|| "`${` is not closed with `}`".to_string())?;
                let (name, op, arg) = split_braced(&s[i + 2..end])?;
                let value = vars.get(name);
                let empty = value.is_none_or(|v| v.is_empty());
                match op {
                    Op::Plain => match value {
                        Some(v) => out.push_str(v),
                        None => unset.push(name.to_string()),
                    },
                    Op::Default { colon } => {
                        if value.is_none() || (colon && empty) {
                            out.push_str(&expand(arg, vars, depth + 1, unset)?);
                        } else if let Some(v) = value {
                            out.push_str(v);
                        }
                    }
                    Op::Required { colon } => {
                        if value.is_none() || (colon && empty) {
                            return Err(if arg.is_empty() {
                                format!("{name} is required but not set")
                            } else {
                                format!("{name} is required: {arg}")
                            });
                        }
                        if let Some(v) = value {
                            out.push_str(v);
                        }
                    }
                    Op::Alternative { colon } => {
                        if !(value.is_none() || (colon && empty)) {
                            out.push_str(&expand(arg, vars, depth + 1, unset)?);
                        }
                    }
                }
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut j = i + 1;
                while j < b.len() && is_name_char(b[j]) {
                    j += 1;
                }
                let name = &s[i + 1..j];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => unset.push(name.to_string()),
                }
                i = j;
            }
            _ => return Err("`$` must be followed by a variable name or `{`; write `$$` for a literal `$`".to_string()),
        }
        literal = i;
    }
    out.push_str(&s[literal..]);
    Ok(out)
}

/// The variables used in `text`, in first-use order. Tolerant: it never fails and skips what it
/// cannot read, because it also describes templates that do not parse yet.
pub fn variables(text: &str) -> Vec<Variable> {
    let mut found: Vec<Variable> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        scan(line, n + 1, 0, &mut found);
    }
    found
}

fn scan(s: &str, line: usize, depth: usize, found: &mut Vec<Variable>) {
    if depth > MAX_NESTING {
        return;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let Some(end) = find_close(s, i + 2) else {
                    i += 2;
                    continue;
                };
                if let Ok((name, op, arg)) = split_braced(&s[i + 2..end]) {
                    let (default, required, message) = match op {
                        Op::Plain => (None, true, None),
                        Op::Default { .. } => (Some(arg.to_string()), false, None),
                        Op::Required { .. } => (None, true, (!arg.is_empty()).then(|| arg.to_string())),
                        Op::Alternative { .. } => (None, false, None),
                    };
                    record(found, Variable { name: name.to_string(), default, required, message, line });
                    if matches!(op, Op::Default { .. } | Op::Alternative { .. }) {
                        scan(arg, line, depth + 1, found);
                    }
                }
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut j = i + 1;
                while j < b.len() && is_name_char(b[j]) {
                    j += 1;
                }
                let name = s[i + 1..j].to_string();
                record(found, Variable { name, default: None, required: true, message: None, line });
                i = j;
            }
            _ => i += 1,
        }
    }
}

fn record(found: &mut Vec<Variable>, v: Variable) {
    if !found.iter().any(|f| f.name == v.name) {
        found.push(v);
    }
}
