//! A small YAML tree that remembers lines, built from `saphyr-parser`'s events.
//!
//! Compose files are small, but they come from users, so the tree is built defensively: aliases are
//! expanded into copies with a cap on the total number of copied nodes (the "billion laughs" attack
//! would otherwise exhaust memory), nesting is bounded, duplicate keys are errors (YAML forbids them
//! and a silent "last one wins" hides mistakes), and merge keys (`<<: *x`) are applied here so that
//! the Compose layer only ever sees plain mappings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::spec::{Diagnostic, Severity};

/// Deeper nesting than this is refused (real Compose files nest about six levels).
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases may copy in total before the document is refused.
pub const MAX_EXPANDED_NODES: usize = 100_000;

/// One YAML node and the line (1-based) where it starts.
#[derive(Clone, Debug)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
    /// Nodes in this subtree, itself included (what copying it through an alias costs).
    size: usize,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub struct Scalar {
    pub value: String,
    /// Written without quotes (only plain scalars can be `null`, numbers or booleans in YAML).
    pub plain: bool,
    /// A plain `null`, `~` or nothing at all.
    pub null: bool,
    /// Interpolation failed here and was already reported; later checks stay quiet about it.
    pub bad: bool,
}

/// A mapping entry. Keys are always strings in Compose files.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Node,
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.null)
    }

    /// What kind of node this is, for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(_) => "a single value",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Map {
        line: usize,
        anchor: usize,
        path: String,
        entries: Vec<Entry>,
        merges: Vec<Node>,
        key: Option<(String, usize, bool)>,
        seen: HashMap<String, usize>,
        size: usize,
    },
    Seq {
        line: usize,
        anchor: usize,
        path: String,
        items: Vec<Node>,
        size: usize,
    },
}

impl Frame {
    /// The field path of the next child (for messages).
    fn child_path(&self) -> String {
        match self {
            Frame::Map { path, key: Some((k, _, _)), .. } => join(path, k),
            Frame::Map { path, .. } => path.clone(),
            Frame::Seq { path, items, .. } => format!("{path}[{}]", items.len()),
        }
    }
}

/// Joins a field path and a key the way diagnostics name fields.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn error(line: usize, field: &str, message: String) -> Diagnostic {
    Diagnostic { severity: Severity::Error, line, service: crate::service_of(field), field: field.to_string(), message }
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    root: Option<Node>,
    diags: Vec<Diagnostic>,
}

impl Builder {
    fn path(&self) -> String {
        self.stack.last().map(Frame::child_path).unwrap_or_default()
    }

    /// Puts a finished node into its parent; `Err` is fatal.
    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match top {
            Frame::Seq { items, size, .. } => {
                *size += node.size;
                items.push(node);
            }
            Frame::Map { key, entries, merges, seen, size, path, .. } => match key.take() {
                None => match &node.kind {
                    Kind::Scalar(s) => *key = Some((s.value.clone(), node.line, s.plain)),
                    _ => {
                        return Err(error(
                            node.line,
                            path,
                            format!("a mapping key must be a string, not {}", node.describe()),
                        ))
                    }
                },
                Some((k, line, plain)) => {
                    if plain && k == "<<" {
                        merges.push(node);
                    } else if let Some(first) = seen.get(&k) {
                        let field = join(path, &k);
                        let message = format!("duplicate key `{k}` (first at line {first})");
                        self.diags.push(error(line, &field, message));
                    } else {
                        seen.insert(k.clone(), line);
                        *size += node.size;
                        entries.push(Entry { key: k, line, value: node });
                    }
                }
            },
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            let line = match &frame {
                Frame::Map { line, .. } | Frame::Seq { line, .. } => *line,
            };
            return Err(error(
                line,
                &self.path(),
                format!("the document nests too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn pop(&mut self) -> Result<(), Diagnostic> {
        let Some(frame) = self.stack.pop() else { return Ok(()) };
        let (node, anchor) = match frame {
            Frame::Seq { line, anchor, items, size, .. } => {
                (Node { line, kind: Kind::Seq(items), size: size + 1 }, anchor)
            }
            Frame::Map { line, anchor, mut entries, merges, mut seen, mut size, path, .. } => {
                // Explicit keys win over merged ones, and earlier merge sources over later ones.
                for merge in merges {
                    let sources = match merge.kind {
                        Kind::Map(_) => vec![merge],
                        Kind::Seq(items) if items.iter().all(|i| matches!(i.kind, Kind::Map(_))) => items,
                        _ => {
                            let field = join(&path, "<<");
                            let msg = "`<<` must merge a mapping or a list of mappings".to_string();
                            self.diags.push(error(merge.line, &field, msg));
                            continue;
                        }
                    };
                    for source in sources {
                        if let Kind::Map(more) = source.kind {
                            for e in more {
                                if !seen.contains_key(&e.key) {
                                    seen.insert(e.key.clone(), e.line);
                                    size += e.value.size;
                                    entries.push(e);
                                }
                            }
                        }
                    }
                }
                (Node { line, kind: Kind::Map(entries), size: size + 1 }, anchor)
            }
        };
        self.add(node, anchor)
    }

    fn event(&mut self, event: Event<'_>, line: usize) -> Result<bool, Diagnostic> {
        match event {
            Event::StreamEnd => return Ok(false),
            Event::DocumentStart(_) => {
                if self.root.is_some() || !self.stack.is_empty() {
                    return Err(error(line, "", "only one YAML document is allowed in a template".to_string()));
                }
            }
            Event::Scalar(value, style, anchor, _) => {
                let plain = style == ScalarStyle::Plain;
                let null = plain && matches!(&*value, "" | "~" | "null" | "Null" | "NULL");
                let scalar = Scalar { value: value.into_owned(), plain, null, bad: false };
                self.add(Node { line, kind: Kind::Scalar(scalar), size: 1 }, anchor)?;
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err(error(line, &self.path(), "an alias refers to the node that contains it".to_string()));
                };
                self.expanded += node.size;
                if self.expanded > MAX_EXPANDED_NODES {
                    let message =
                        format!("the document expands too much: aliases copy more than {MAX_EXPANDED_NODES} nodes");
                    return Err(error(line, &self.path(), message));
                }
                let node = node.clone();
                self.add(node, 0)?;
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.path();
                self.push(Frame::Seq { line, anchor, path, items: Vec::new(), size: 0 })?;
            }
            Event::MappingStart(anchor, _) => {
                let path = self.path();
                let frame = Frame::Map {
                    line,
                    anchor,
                    path,
                    entries: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                    seen: HashMap::new(),
                    size: 0,
                };
                self.push(frame)?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.pop()?,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
        Ok(true)
    }
}

/// Parses `text` into a tree. `None` means a fatal error (reported in the diagnostics) or an empty
/// document; non-fatal errors such as duplicate keys come back alongside a tree.
pub fn load(text: &str) -> (Option<Node>, Vec<Diagnostic>) {
    // The parser reports the end of input one line past the last; clamp to a line that exists.
    let last_line = text.lines().count().max(1);
    let mut b = Builder { stack: Vec::new(), anchors: HashMap::new(), expanded: 0, root: None, diags: Vec::new() };
    for item in Parser::new_from_str(text) {
        let step = match item {
            Ok((event, span)) => b.event(event, span.start.line().max(1)),
            Err(e) => {
                // saphyr-parser has its own bound on flow nesting; say so in the same words.
                let message = if e.info().contains("recursion limit") {
                    format!("the document nests too deeply (more than {MAX_DEPTH} levels)")
                } else {
                    format!("YAML syntax error: {}", e.info())
                };
                Err(error(e.marker().line().clamp(1, last_line), "", message))
            }
        };
        match step {
            Ok(true) => {}
            Ok(false) => break,
            Err(d) => {
                b.diags.push(d);
                return (None, b.diags);
            }
        }
    }
    (b.root, b.diags)
}
