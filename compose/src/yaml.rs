//! A small YAML tree that remembers lines, built from `saphyr-parser`'s events.
//!
//! Compose files are small, but they come from users, so the tree is built defensively: aliases are
//! expanded into copies with a cap on the total number of copied nodes and on the bytes of text they
//! copy (the "billion laughs" attack, or one long scalar aliased thousands of times, would otherwise
//! exhaust memory; the caps are checked before anything is copied), nesting is bounded, duplicate keys are errors (YAML forbids them
//! and a silent "last one wins" hides mistakes), and merge keys (`<<: *x`) are applied here so that
//! the Compose layer only ever sees plain mappings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::spec::{Diagnostic, Severity};

/// Deeper nesting than this is refused (real Compose files nest about six levels).
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases may copy in total before the document is refused.
pub const MAX_EXPANDED_NODES: usize = 100_000;

/// How many bytes of text (scalars and keys) aliases may copy in total: four times the largest
/// template. Real templates copy a few kilobytes (shared `x-` blocks); without this cap a 210 KB
/// template aliasing one 120 KB scalar 30,000 times expands to 3.6 GB.
pub const MAX_EXPANDED_BYTES: usize = 4 * crate::MAX_TEMPLATE_BYTES;

/// One YAML node and the line (1-based) where it starts.
#[derive(Clone, Debug)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
    /// Nodes in this subtree, itself included (what copying it through an alias costs).
    size: usize,
    /// Bytes of text in this subtree: scalar values and keys.
    bytes: usize,
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
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.null)
    }

    /// Interpolation failed here and was reported: checks that would complain about the missing
    /// value stay quiet, so the error is reported alone.
    pub fn is_bad(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.bad)
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

/// A collection being built. Frames keep no field path of their own: paths are only needed for
/// messages, so they are put together from the stack when one is written.
enum Frame {
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<Entry>,
        merges: Vec<Node>,
        key: Option<(String, usize, bool)>,
        /// Key → line, once the mapping is large enough for a scan of `entries` to be slow.
        index: Option<HashMap<String, usize>>,
        size: usize,
        bytes: usize,
    },
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
        bytes: usize,
    },
}

/// Mappings with more entries than this get a hash index for duplicate checks.
const INDEXED: usize = 16;

/// The line of `key` among a mapping's entries, if it is there.
fn line_of(entries: &[Entry], index: &Option<HashMap<String, usize>>, key: &str) -> Option<usize> {
    match index {
        Some(map) => map.get(key).copied(),
        None => entries.iter().find(|e| e.key == key).map(|e| e.line),
    }
}

/// Keeps the index (if any, or once needed) up to date after an entry was added.
fn indexed(entries: &[Entry], index: &mut Option<HashMap<String, usize>>) {
    match index {
        Some(map) => {
            if let Some(e) = entries.last() {
                map.insert(e.key.clone(), e.line);
            }
        }
        None if entries.len() > INDEXED => {
            *index = Some(entries.iter().map(|e| (e.key.clone(), e.line)).collect());
        }
        None => {}
    }
}

/// The field path of the next child of the innermost frame in `stack` (`services.web.ports[1]`).
fn path_of(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Map { key: Some((k, ..)), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Map { .. } => {}
            Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
        }
    }
    path
}

/// Joins a field path and a key the way diagnostics name fields.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_string();
    }
    // Every key of a template is joined once; plain concatenation is several times quicker than
    // `format!` here.
    let mut joined = String::with_capacity(path.len() + 1 + key.len());
    joined.push_str(path);
    joined.push('.');
    joined.push_str(key);
    joined
}

fn error(line: usize, field: &str, message: String) -> Diagnostic {
    crate::diagnostic(Severity::Error, line, field, message)
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    expanded_bytes: usize,
    /// Duplicate keys beyond the diagnostics shown: how many, and the line of the last.
    dropped: (usize, usize),
    root: Option<Node>,
    diags: Vec<Diagnostic>,
}

impl Builder {
    fn path(&self) -> String {
        path_of(&self.stack)
    }

    /// Counts a copy of `node` (an alias, or an anchor kept for later aliases) against the caps,
    /// before it is made.
    fn charge(&mut self, size: usize, bytes: usize, line: usize) -> Result<(), Diagnostic> {
        self.expanded += size;
        self.expanded_bytes += bytes;
        if self.expanded > MAX_EXPANDED_NODES {
            let message = format!("the document expands too much: aliases copy more than {MAX_EXPANDED_NODES} nodes");
            return Err(error(line, &self.path(), message));
        }
        if self.expanded_bytes > MAX_EXPANDED_BYTES {
            let message = format!(
                "the document expands too much: aliases copy more than {} KB of text",
                MAX_EXPANDED_BYTES / 1024
            );
            return Err(error(line, &self.path(), message));
        }
        Ok(())
    }

    /// Puts a finished node into its parent; `Err` is fatal.
    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            // Anchors nest (`&a [&b [...]]`), and each keeps a copy of its subtree.
            self.charge(node.size, node.bytes, node.line)?;
            self.anchors.insert(anchor, node.clone());
        }
        let depth = self.stack.len();
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match top {
            Frame::Seq { items, size, bytes, .. } => {
                *size += node.size;
                *bytes += node.bytes;
                items.push(node);
            }
            Frame::Map { key, entries, merges, index, size, bytes, .. } => match key.take() {
                None => match node.kind {
                    // The key's node is not kept: its text moves into the entry.
                    Kind::Scalar(s) => *key = Some((s.value, node.line, s.plain)),
                    _ => {
                        let message = format!("a mapping key must be a string, not {}", node.describe());
                        return Err(error(node.line, &path_of(&self.stack[..depth - 1]), message));
                    }
                },
                Some((k, line, plain)) => {
                    if plain && k == "<<" {
                        merges.push(node);
                    } else if let Some(first) = line_of(entries, index, &k) {
                        // One place is left for the line that counts the rest.
                        if self.diags.len() + 1 < crate::MAX_DIAGNOSTICS {
                            let field = join(&path_of(&self.stack[..depth - 1]), &k);
                            let message = format!("duplicate key `{k}` (first at line {first})");
                            self.diags.push(error(line, &field, message));
                        } else {
                            // Only so many are shown; the rest are counted, not written out.
                            self.dropped = (self.dropped.0 + 1, line);
                        }
                    } else {
                        *size += node.size;
                        *bytes += node.bytes + k.len();
                        entries.push(Entry { key: k, line, value: node });
                        indexed(entries, index);
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
            Frame::Seq { line, anchor, items, size, bytes, .. } => {
                (Node { line, kind: Kind::Seq(items), size: size + 1, bytes }, anchor)
            }
            Frame::Map { line, anchor, mut entries, merges, mut index, mut size, mut bytes, .. } => {
                // Explicit keys win over merged ones, and earlier merge sources over later ones.
                for merge in merges {
                    let sources = match merge.kind {
                        Kind::Map(_) => vec![merge],
                        Kind::Seq(items) if items.iter().all(|i| matches!(i.kind, Kind::Map(_))) => items,
                        _ => {
                            let field = join(&path_of(&self.stack), "<<");
                            let msg = "`<<` must merge a mapping or a list of mappings".to_string();
                            self.diags.push(error(merge.line, &field, msg));
                            continue;
                        }
                    };
                    for source in sources {
                        if let Kind::Map(more) = source.kind {
                            for e in more {
                                if line_of(&entries, &index, &e.key).is_none() {
                                    size += e.value.size;
                                    bytes += e.value.bytes + e.key.len();
                                    entries.push(e);
                                    indexed(&entries, &mut index);
                                }
                            }
                        }
                    }
                }
                (Node { line, kind: Kind::Map(entries), size: size + 1, bytes }, anchor)
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
                let bytes = value.len();
                let scalar = Scalar { value: value.into_owned(), plain, null, bad: false };
                self.add(Node { line, kind: Kind::Scalar(scalar), size: 1, bytes }, anchor)?;
            }
            Event::Alias(id) => {
                let Some((size, bytes)) = self.anchors.get(&id).map(|n| (n.size, n.bytes)) else {
                    return Err(error(line, &self.path(), "an alias refers to the node that contains it".to_string()));
                };
                // The caps are checked before the copy is made, so a refused document costs no
                // more memory than its text.
                self.charge(size, bytes, line)?;
                let Some(node) = self.anchors.get(&id).cloned() else { return Ok(true) };
                self.add(node, 0)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.push(Frame::Seq { line, anchor, items: Vec::new(), size: 0, bytes: 0 })?;
            }
            Event::MappingStart(anchor, _) => {
                let frame = Frame::Map {
                    line,
                    anchor,
                    entries: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                    index: None,
                    size: 0,
                    bytes: 0,
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
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        expanded: 0,
        expanded_bytes: 0,
        dropped: (0, 0),
        root: None,
        diags: Vec::new(),
    };
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
    if b.dropped.0 > 0 {
        let (n, last) = b.dropped;
        let message = if n == 1 {
            format!("… and 1 more duplicate key, at line {last}")
        } else {
            format!("… and {n} more duplicate keys, the last at line {last}")
        };
        b.diags.push(error(last, "", message));
    }
    (b.root, b.diags)
}
