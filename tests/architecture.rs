//! The source tree's shape, checked on every run: no file in `src/` is longer than
//! [`MAX_LINES`], and no two files import each other, directly or round a longer loop
//! (`use crate::…`, `super::…`, `self::…` and a parent's use of its own child modules all count;
//! an item re-exported with `pub use` counts for the file that defines it, and the `pub use`
//! itself is the module's face, not a use).
//! Paths are read from the text, so the check needs no compiler internals; inline `#[cfg(test)]`
//! modules at the end of a file are left out, since they only ever look up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 450;

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let long: Vec<String> = source_files()
        .into_iter()
        .filter_map(|(file, text)| {
            let lines = text.lines().count();
            (lines > MAX_LINES).then(|| format!("{} has {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:#?}");
}

#[test]
fn no_two_source_files_import_each_other() {
    let graph = import_graph(&crate_files());
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "files that import each other (move what they share below both): {:#?}",
        edges_within(&graph, &circles)
    );
}

#[test]
fn the_checker_sees_a_circle_and_a_clean_tree() {
    let mut graph: Graph = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert!(circles(&graph).is_empty());
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
}

#[test]
fn the_checker_reads_use_trees_super_child_modules_and_reexports() {
    let files = [
        read("lib.rs", &[], "pub mod a;\npub mod c;\n"),
        read(
            "a/mod.rs",
            &["a"],
            "mod b;\npub use b::Thing;\nfn f() { super::c::g(); }\n",
        ),
        read("a/b.rs", &["a", "b"], "pub struct Thing;\n"),
        read(
            "c.rs",
            &["c"],
            "use crate::{a::Thing, a::b::{self}};\npub fn g() {}\n",
        ),
    ];
    let graph = import_graph(&files);
    let edges = |from: &str| -> Vec<&str> {
        graph
            .get(from)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    };
    // `a::Thing` is `a::b::Thing` re-exported: c.rs depends on b.rs, not on a/mod.rs.
    assert_eq!(edges("c.rs"), ["a/b.rs"]);
    // The re-export is no use; the parent's own code uses c.
    assert_eq!(edges("a/mod.rs"), ["c.rs"]);
    assert!(circles(&graph).is_empty());
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// One source file as the checker sees it: its module, the paths its own code uses, and the
/// names it re-exports (`pub use`) with where they come from (paths from the crate root).
struct SourceFile {
    name: String,
    module: Vec<String>,
    uses: Vec<Vec<String>>,
    reexports: BTreeMap<String, Vec<String>>,
}

fn read(name: &str, module: &[&str], text: &str) -> SourceFile {
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    let text = without_trailing_test_module(text);
    let children = declared_children(text);
    let (uses, exported) = paths(text);
    let to_absolute = |p: Vec<String>| absolute(&p, &module, &children);
    let reexports = exported
        .into_iter()
        .filter_map(to_absolute)
        .filter_map(|p| Some((p.last().filter(|n| *n != "self")?.clone(), p)))
        .collect();
    SourceFile {
        name: name.to_string(),
        uses: uses.into_iter().filter_map(to_absolute).collect(),
        module,
        reexports,
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file with its text (`main.rs` is the binary and imports only the library).
fn source_files() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/main.rs")
            {
                let text = std::fs::read_to_string(&path).expect("a source file is UTF-8");
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// The crate's files, read.
fn crate_files() -> Vec<SourceFile> {
    source_files()
        .iter()
        .map(|(file, text)| {
            let name = file.strip_prefix(src_dir()).unwrap().display().to_string();
            let module = module_path(file);
            let module: Vec<&str> = module.iter().map(String::as_str).collect();
            read(&name, &module, text)
        })
        .collect()
}

/// The module path of a file: `src/a/b.rs` and `src/a/b/mod.rs` are both `a::b`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// File → the files whose items its own code uses.
fn import_graph(files: &[SourceFile]) -> Graph {
    let by_module: BTreeMap<&[String], &SourceFile> =
        files.iter().map(|f| (f.module.as_slice(), f)).collect();
    let mut graph = Graph::new();
    for file in files {
        for path in &file.uses {
            let Some(target) = defining_file(path, &by_module, 0) else {
                continue;
            };
            if target != file.name {
                graph
                    .entry(file.name.clone())
                    .or_default()
                    .insert(target.to_string());
            }
        }
    }
    graph
}

/// The file a path points into: the deepest file module on it, followed through `pub use`.
fn defining_file<'a>(
    path: &[String],
    by_module: &BTreeMap<&[String], &'a SourceFile>,
    depth: usize,
) -> Option<&'a str> {
    let module_len = (0..=path.len())
        .rev()
        .find(|n| by_module.contains_key(&path[..*n]))?;
    let file = by_module[&path[..module_len]];
    let reexported = path
        .get(module_len)
        .and_then(|item| file.reexports.get(item));
    if let Some(source) = reexported.filter(|_| depth < 8) {
        let mut next = source.clone();
        next.extend(path[module_len + 1..].iter().cloned());
        if next != path {
            return defining_file(&next, by_module, depth + 1);
        }
    }
    Some(&file.name)
}

/// The file up to an inline `#[cfg(test)] mod … {` block, which by house style ends the file.
fn without_trailing_test_module(text: &str) -> &str {
    let lines: Vec<&str> = text.lines().collect();
    let mut offset = 0;
    for pair in lines.windows(2) {
        let inline_mod =
            pair[1].trim_start().starts_with("mod ") && pair[1].trim_end().ends_with('{');
        if pair[0].trim() == "#[cfg(test)]" && inline_mod {
            return &text[..offset];
        }
        offset += pair[0].len() + 1;
    }
    text
}

/// Names of the child modules a file declares with `mod name;`.
fn declared_children(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_suffix(';')?;
            let rest = rest
                .strip_prefix("pub mod ")
                .or_else(|| rest.strip_prefix("pub(crate) mod "))
                .or_else(|| rest.strip_prefix("mod "))?;
            Some(rest.trim().to_string())
        })
        .collect()
}

/// A path from the crate root, or `None` for paths into other crates.
fn absolute(path: &[String], here: &[String], children: &[String]) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let mut base: Vec<String> = match first {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut base = here.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        child if children.iter().any(|c| c == child) => {
            let mut base = here.to_vec();
            base.push(child.to_string());
            base.extend(path[1..].iter().cloned());
            return Some(base);
        }
        _ => return None,
    };
    base.extend(path[1..].iter().cloned());
    Some(base)
}

/// Every `a::b::c` path in the text, with `use` trees (`a::{b, c::d}`) expanded: those its own
/// code uses, and those its `pub use` statements re-export.
fn paths(text: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let tokens = tokens(text);
    let (mut uses, mut reexports) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = is_ident(&tokens[i])
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::");
        if let Some((start, end)) = reexport(&tokens, i) {
            let mut j = start;
            while j < end {
                if is_ident(&tokens[j]) {
                    j = expand(&tokens, j, Vec::new(), &mut reexports);
                } else {
                    j += 1;
                }
            }
            i = end;
        } else if starts_path {
            i = expand(&tokens, i, Vec::new(), &mut uses);
        } else {
            i += 1;
        }
    }
    (uses, reexports)
}

/// A `pub use` (or `pub(crate) use`) statement at `i`: where its tree starts and where the
/// statement ends. It gives the module's face, not a use by the module's own code.
fn reexport(tokens: &[String], i: usize) -> Option<(usize, usize)> {
    if tokens[i] != "pub" {
        return None;
    }
    let mut j = i + 1;
    if tokens.get(j).is_some_and(|t| t == "(") {
        j += tokens[j..].iter().position(|t| t == ")")? + 1;
    }
    if tokens.get(j).is_none_or(|t| t != "use") {
        return None;
    }
    Some((j + 1, j + tokens[j..].iter().position(|t| t == ";")? + 1))
}

/// Reads one path (and the tree under it) from `tokens[i]`; returns the index after it.
fn expand(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    while i < tokens.len() {
        if is_ident(&tokens[i]) {
            prefix.push(tokens[i].clone());
            i += 1;
            if tokens.get(i).is_some_and(|t| t == "::") {
                i += 1;
                continue;
            }
            out.push(prefix);
            return i;
        }
        if tokens[i] == "{" {
            i += 1;
            while i < tokens.len() && tokens[i] != "}" {
                if tokens[i] == "," {
                    i += 1;
                } else if is_ident(&tokens[i]) {
                    i = expand(tokens, i, prefix.clone(), out);
                } else {
                    i += 1;
                }
            }
            return i + 1;
        }
        break;
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
    i
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::`, braces and commas; comments, string and char literals are dropped.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '"'); a lifetime ('a) has no closing quote.
                let mut ahead = chars.clone();
                match ahead.next() {
                    Some('\\') => {
                        chars.next();
                        chars.next();
                        while chars.next().is_some_and(|n| n != '\'') {}
                    }
                    Some(_) if ahead.next() == Some('\'') => {
                        chars.next();
                        chars.next();
                    }
                    _ => {}
                }
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                out.push("::".into());
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut ident = c.to_string();
                while let Some(&n) = chars.peek().filter(|n| n.is_alphanumeric() || **n == '_') {
                    ident.push(n);
                    chars.next();
                }
                out.push(ident);
            }
            c if !c.is_whitespace() => out.push(c.to_string()),
            _ => {}
        }
    }
    out
}

/// Each set of files that reach each other (a strongly connected component of more than one).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(from, tos)| std::iter::once(from).chain(tos))
        .collect();
    let reach = |start: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(n) = todo.pop() {
            for next in graph.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        if !reachable[n].contains(*n) || out.iter().any(|c| c.contains(n)) {
            continue;
        }
        let circle: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[n].contains(**m) && reachable[**m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        out.push(circle);
    }
    out
}

/// The imports inside each circle, `from → to`, so a failure says what to move.
fn edges_within(graph: &Graph, circles: &[Vec<String>]) -> Vec<String> {
    circles
        .iter()
        .flat_map(|circle| {
            circle.iter().flat_map(move |from| {
                graph[from]
                    .iter()
                    .filter(|to| circle.contains(to))
                    .map(move |to| format!("{from} → {to}"))
            })
        })
        .collect()
}
