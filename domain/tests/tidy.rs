//! Tidy checks, run as ordinary tests (as rust-analyzer does): the domain's folders import each other
//! in one direction only, and the crates that must stay in one place stay there. ARCHITECTURE.md
//! ("Import direction") says why; each failure names the file, the line and the rule.
//!
//! The checks read the source as text: every `crate::…` path of a `use` (braces expanded) and of
//! the code, comments left out; and, since every folder extends the one facade `Berth` with its
//! methods, every call of a `Berth` method (`self.…(` inside `impl Berth`, `berth.…(`, `this.…(`)
//! is checked against the folder that defines the method.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders of `domain/src`, lowest first. A file may name its own folder and any folder of a
/// lower rank; product folders (rank 4) name one another only as [`PRODUCT_USES`] allows.
const FOLDERS: &[(&str, u8)] = &[
    // error.rs, clock.rs, authz.rs, secret.rs, listing.rs: what every layer shares.
    ("root", 0),
    ("engine", 1),
    ("store", 1),
    ("audit", 2),
    ("runtime", 3),
    ("access", 4),
    ("apps", 4),
    ("clusters", 4),
    ("observe", 4),
    ("routing", 4),
    ("elastic", 4),
];

/// The root files (`crate::error`, …): they may name only one another.
const ROOT_MODULES: &[&str] = &["authz", "clock", "error", "listing", "secret"];

/// The facade and its settings, defined in lib.rs: every file extends `Berth` with its methods.
const FACADE: &[&str] = &["Berth", "Config", "Inner"];

/// Which product folder may name which: what is not listed is refused. It must stay free of
/// circles (a test below checks that).
const PRODUCT_USES: &[(&str, &str, &str)] = &[
    ("apps", "clusters", "apps run on a cluster's nodes, named and labelled as the cluster's"),
    ("observe", "clusters", "the collector reads a cluster's nodes and their engines"),
    ("access", "clusters", "a shared dashboard link shows one cluster"),
    ("access", "observe", "a shared dashboard shows the cluster's alerts and charts"),
    ("observe", "apps", "an alert rule's subjects are the services of the cluster's apps (Berth::app_spec)"),
    ("routing", "clusters", "routers run on a cluster's edge nodes, reached at the nodes' addresses"),
    ("routing", "apps", "routes come from the apps' templates and join the apps' routing network"),
    ("elastic", "clusters", "the autoscaler reads a cluster's services and tasks through its manager"),
    ("elastic", "apps", "policies belong to an app's services, and scaling one is the app's"),
    ("elastic", "observe", "the autoscaler judges each collection of the cluster's metrics"),
    ("elastic", "routing", "requests per replica come from the routers' counts"),
];

/// Files exempt from the direction, and why.
const EXEMPT: &[(&str, &str)] = &[
    ("lib.rs", "the composition root: it declares every folder, builds `Berth` and registers what the parts plug in"),
    ("testing.rs", "test support (feature `testing`), above everything it sets up"),
];

/// Crates that only some files may use: (crate, where, why).
const CONFINED: &[(&str, &[&str], &str)] = &[
    (
        "sqlx",
        &["store/", "error.rs", "testing.rs"],
        "only the store runs SQL (error.rs maps its errors, testing.rs makes test databases)",
    ),
    ("bollard", &["engine/"], "only the engine adapter talks to Docker"),
    (
        "rustls",
        &["engine/", "observe/webhook.rs", "routing/certs.rs"],
        "mutual TLS to hosts is the engine's; webhooks post over https; an uploaded certificate is checked against its key",
    ),
    (
        "hyper_rustls",
        &["engine/", "observe/webhook.rs"],
        "mutual TLS to hosts is the engine's; webhooks post over https",
    ),
    ("tokio_rustls", &["engine/"], "the routers' admin port is reached by the engine adapter"),
    (
        "rustls_pki_types",
        &["engine/", "observe/webhook.rs", "routing/certs.rs"],
        "mutual TLS to hosts is the engine's; webhooks post over https; uploaded certificates are PEM",
    ),
];

/// One provider's own file may be named only by the providers' folder (and lib.rs, which makes its
/// inputs public): the rest of the crate reaches a provider through the `Provider` trait.
const PROVIDER_FILES: &str = "clusters::providers::";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's path under `src/`, with `/`.
fn relative(path: &Path) -> String {
    path.strip_prefix(src()).expect("under src").to_string_lossy().replace('\\', "/")
}

/// The folder a file belongs to: its first directory, or `root`.
fn folder_of(rel: &str) -> &str {
    rel.split_once('/').map_or("root", |(dir, _)| dir)
}

fn rank(folder: &str) -> Option<u8> {
    FOLDERS.iter().find(|(f, _)| *f == folder).map(|(_, r)| *r)
}

/// The lines of a file without comments (line comments and doc comments; block comments are not
/// used in this crate), numbered from 1. String contents are kept: a path in a string is rare and
/// reads as a path.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let code = match line.find("//") {
                Some(at) if !line[..at].contains('"') => &line[..at],
                _ => line,
            };
            (i + 1, code.to_string())
        })
        .collect()
}

/// Every `crate::` path a file names, as (line, the path's segments after `crate`), `use` trees
/// expanded (`use crate::{a::X, b::{Y, Z}}` names `a::X`, `b::Y`, `b::Z`).
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let lines = code_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (number, line) = &lines[i];
        let trimmed = line.trim_start();
        let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "].iter().any(|p| trimmed.starts_with(p));
        if is_use && trimmed.contains("crate::") {
            // A use statement, possibly over several lines, up to its `;`.
            let mut statement = String::new();
            let mut j = i;
            loop {
                statement.push_str(&lines[j].1);
                statement.push(' ');
                if lines[j].1.contains(';') || j + 1 == lines.len() {
                    break;
                }
                j += 1;
            }
            let tree = statement[statement.find("crate::").unwrap_or(0)..].trim_end().trim_end_matches(';');
            for path in expand(tree.trim_start_matches("crate::")) {
                out.push((*number, path));
            }
            i = j + 1;
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().last();
            let after = &rest[at + "crate::".len()..];
            // `$crate::` (macros) and `foo_crate::` are not this crate's paths.
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$')) {
                let mut path = Vec::new();
                let mut tail = after;
                loop {
                    let ident: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if ident.is_empty() {
                        break;
                    }
                    tail = &tail[ident.len()..];
                    path.push(ident);
                    match tail.strip_prefix("::") {
                        Some(next) => tail = next,
                        None => break,
                    }
                }
                if !path.is_empty() {
                    out.push((*number, path));
                }
            }
            rest = after;
        }
        i += 1;
    }
    out
}

/// The paths of a use tree, without `crate::` (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let (prefix, group) = match tree.find('{') {
        Some(open) => (&tree[..open], Some(&tree[open + 1..tree.rfind('}').unwrap_or(tree.len())])),
        None => (tree, None),
    };
    let base: Vec<String> = prefix
        .split("::")
        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let Some(group) = group else { return vec![base] };
    // Split the group at top-level commas.
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        for tail in expand(part) {
            let mut path = base.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            out.push(path);
        }
    }
    out
}

/// Why `file` (in `folder`) may not name `path`, if it may not.
fn refusal(rel: &str, folder: &str, path: &[String]) -> Option<String> {
    let first = path[0].as_str();
    if FACADE.contains(&first) {
        return None;
    }
    let target = if ROOT_MODULES.contains(&first) {
        "root"
    } else if rank(first).is_some() && first != "root" {
        first
    } else {
        return Some(format!(
            "name it by its folder (crate::<folder>::<file>::…): `crate::{first}` goes through lib.rs's public \
             re-exports, which are for other crates"
        ));
    };
    let joined = path.join("::");
    let provider_file = path.len() > 2 && src().join("clusters/providers").join(format!("{}.rs", path[2])).is_file();
    if joined.starts_with(PROVIDER_FILES) && provider_file && !rel.starts_with("clusters/providers/") {
        return Some(format!(
            "`{}` is one provider's own file: reach providers through the `Provider` trait (crate::clusters::providers)",
            path[..3].join("::")
        ));
    }
    direction(folder, target)
}

/// Why a file of `folder` may not use what `target` defines, if it may not.
fn direction(folder: &str, target: &str) -> Option<String> {
    if target == folder {
        return None;
    }
    let (from, to) = (rank(folder)?, rank(target)?);
    if from == 4 && to == 4 {
        if PRODUCT_USES.iter().any(|(a, b, _)| *a == folder && *b == target) {
            return None;
        }
        return Some(format!(
            "{folder}/ may not import {target}/: product folders name each other only as PRODUCT_USES in \
             domain/tests/tidy.rs allows"
        ));
    }
    if to < from {
        return None;
    }
    Some(format!(
        "{folder}/ may not import {target}/: imports run from the product folders to runtime/, audit/, then \
         engine/ and store/ and the root files, never back up or sideways"
    ))
}

#[test]
fn imports_run_one_way() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let rel = relative(file);
        if EXEMPT.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        let folder = folder_of(&rel);
        assert!(rank(folder).is_some(), "domain/src/{rel}: {folder}/ is not in FOLDERS of domain/tests/tidy.rs");
        let text = std::fs::read_to_string(file).expect("read file");
        for (line, path) in crate_paths(&text) {
            if let Some(why) = refusal(&rel, folder, &path) {
                problems.push(format!("domain/src/{rel}:{line}: crate::{}: {why}", path.join("::")));
            }
        }
        for (line, code) in code_lines(&text) {
            if code.contains("super::super") {
                problems.push(format!("domain/src/{rel}:{line}: name it from crate:: rather than super::super"));
            }
        }
    }
    assert!(problems.is_empty(), "imports against the direction of ARCHITECTURE.md:\n{}\n", problems.join("\n"));
}

/// The lines of a file with, for each, whether it is inside an `impl Berth` block (braces counted
/// per line; the format strings of this crate keep theirs balanced).
fn berth_blocks(text: &str) -> Vec<(usize, String, bool)> {
    let (mut depth, mut berth_at): (i64, Option<i64>) = (0, None);
    let mut out = Vec::new();
    for (number, code) in code_lines(text) {
        if berth_at.is_none() && code.trim_start().starts_with("impl Berth {") {
            berth_at = Some(depth);
        }
        out.push((number, code.clone(), berth_at.is_some()));
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        if berth_at.is_some_and(|at| depth <= at) {
            berth_at = None;
        }
    }
    out
}

/// The name of the function a line declares, if it declares one.
fn declared_fn(code: &str) -> Option<String> {
    let mut rest = code.trim_start();
    for prefix in ["pub(crate) ", "pub(super) ", "pub ", "async ", "const "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    rest = rest.strip_prefix("async ").unwrap_or(rest);
    let name = rest.strip_prefix("fn ")?;
    Some(name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
}

#[test]
fn berth_methods_run_one_way() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let texts: Vec<(String, String)> =
        files.iter().map(|f| (relative(f), std::fs::read_to_string(f).expect("read file"))).collect();
    // Where each method of `Berth` is defined: lib.rs's are the facade's, anyone's to call.
    let mut defined: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in &texts {
        for (_, code, in_berth) in berth_blocks(text) {
            if let Some(name) = declared_fn(&code).filter(|_| in_berth) {
                let folder = if rel == "lib.rs" { "lib" } else { folder_of(rel) };
                defined.entry(name).or_default().insert(folder.to_string());
            }
        }
    }
    let mut problems = Vec::new();
    for (rel, text) in &texts {
        if EXEMPT.iter().any(|(f, _)| f == rel) {
            continue;
        }
        let folder = folder_of(rel);
        for (line, code, in_berth) in berth_blocks(text) {
            for receiver in ["self.", "berth.", "this."] {
                let mut rest = code.as_str();
                while let Some(at) = rest.find(receiver) {
                    let before = rest[..at].chars().last();
                    let after = &rest[at + receiver.len()..];
                    rest = after;
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                        continue;
                    }
                    if receiver == "self." && !in_berth {
                        continue;
                    }
                    let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !after[name.len()..].starts_with('(') {
                        continue;
                    }
                    let Some(homes) = defined.get(&name) else { continue };
                    // Refused only when no folder that defines the name may be used from here.
                    let refusals: Vec<String> =
                        homes.iter().filter(|home| *home != "lib").filter_map(|home| direction(folder, home)).collect();
                    if homes.iter().all(|h| h != "lib") && refusals.len() == homes.len() {
                        problems.push(format!("domain/src/{rel}:{line}: Berth::{name}: {}", refusals[0]));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "Berth methods called against the direction of ARCHITECTURE.md:\n{}\n",
        problems.join("\n")
    );
}

#[test]
fn confined_crates_stay_where_they_belong() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let rel = relative(file);
        let text = std::fs::read_to_string(file).expect("read file");
        for (line, code) in code_lines(&text) {
            for (name, allowed, why) in CONFINED {
                if allowed.iter().any(|a| rel.starts_with(a)) {
                    continue;
                }
                let mentions = code.match_indices(name).any(|(at, _)| {
                    let before = code[..at].chars().last();
                    let after = code[at + name.len()..].chars().next();
                    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    !word(before) && !word(after) && code[at + name.len()..].starts_with("::")
                });
                if mentions {
                    problems.push(format!("domain/src/{rel}:{line}: uses {name}: {why}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "crates outside their place:\n{}\n", problems.join("\n"));
}

#[test]
fn product_folders_form_no_circle() {
    // Depth-first search for a cycle in PRODUCT_USES.
    fn visit<'a>(node: &'a str, path: &mut Vec<&'a str>, done: &mut BTreeSet<&'a str>) -> Option<Vec<&'a str>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node);
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for (_, to, _) in PRODUCT_USES.iter().filter(|(from, _, _)| *from == node) {
            if let Some(circle) = visit(to, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    for (from, _, _) in PRODUCT_USES {
        let (mut path, mut done) = (Vec::new(), BTreeSet::new());
        if let Some(circle) = visit(from, &mut path, &mut done) {
            panic!("PRODUCT_USES has a circle: {}", circle.join(" → "));
        }
    }
    for (from, to, _) in PRODUCT_USES {
        assert_eq!(
            (rank(from), rank(to)),
            (Some(4), Some(4)),
            "PRODUCT_USES names a folder that is not a product folder"
        );
    }
}

#[test]
fn the_reader_expands_use_trees() {
    let text = "use crate::a::{b::X, c::{Y, Z}};\nuse crate::Berth;\nfn f() { crate::d::e(); } // crate::no\nif a { crate::f::G } else { crate::h::I }\n";
    let paths: Vec<String> = crate_paths(text).into_iter().map(|(l, p)| format!("{l}:{}", p.join("::"))).collect();
    assert_eq!(paths, ["1:a::b::X", "1:a::c::Y", "1:a::c::Z", "2:Berth", "3:d::e", "4:f::G", "4:h::I"]);
}
