//! The workspace's architecture, checked: which crate may depend on which (the crate map of
//! `docs/crates.md`), and no import cycle between the modules of one crate.
//!
//! The crate rules read `cargo metadata`; the module rules read the sources themselves with a
//! small Rust tokenizer (comments, strings and `#[cfg(test)]` items are skipped), so both run
//! without building anything. A failure names every offending edge or cycle at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Service crates: one per API service, plus `identity`, which none of them may reach into.
/// None may depend on another.
const SERVICES: &[&str] = &[
    "wekeza-ais",
    "wekeza-consent",
    "wekeza-pis",
    "wekeza-sandbox",
    "wekeza-identity",
    "wekeza-webhooks",
    "wekeza-partner",
];

/// Infrastructure and the layers below the services: none may depend on a service crate.
/// `wekeza-sandbox-bank` is checked once it exists.
const INFRASTRUCTURE: &[&str] = &[
    "wekeza-gateway",
    "wekeza-transcode",
    "wekeza-domain",
    "wekeza-rpc",
    "wekeza-store",
    "wekeza-events",
    "wekeza-ledger",
    "wekeza-fraud",
    "wekeza-sandbox-bank",
];

/// Named by the rules but not built yet: their absence is no failure.
const NOT_YET_BUILT: &[&str] = &["wekeza-sandbox-bank"];

/// The core-banking seam is traits and model only: no storage, no ORM, no wire types.
const LEDGER: &str = "wekeza-ledger";
const LEDGER_FORBIDDEN: &[&str] = &["wekeza-store", "sea-orm", "wekeza-proto"];

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap()
}

/// `cargo metadata --no-deps` of the workspace: its packages, each with its declared dependencies.
fn workspace_packages() -> Vec<Value> {
    let root = workspace_root();
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"].as_array().unwrap().clone()
}

/// The normal (not dev, not build) dependencies of each workspace package, by package name.
fn normal_dependencies(packages: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().unwrap().to_owned();
            let dependencies = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dependency| dependency["kind"].is_null())
                .map(|dependency| dependency["name"].as_str().unwrap().to_owned())
                .collect();
            (name, dependencies)
        })
        .collect()
}

/// Every dependency edge the crate map forbids, as one line each.
fn forbidden_edges(dependencies: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut violations = Vec::new();
    for (krate, uses) in dependencies {
        for used in uses {
            let krate = krate.as_str();
            let used = used.as_str();
            if SERVICES.contains(&krate) && SERVICES.contains(&used) {
                violations.push(format!(
                    "{krate} → {used}: a service crate must not depend on another service crate"
                ));
            }
            if INFRASTRUCTURE.contains(&krate) && SERVICES.contains(&used) {
                violations.push(format!(
                    "{krate} → {used}: infrastructure must not depend on a service crate"
                ));
            }
            if krate == LEDGER && LEDGER_FORBIDDEN.contains(&used) {
                violations.push(format!(
                    "{krate} → {used}: the core-banking seam depends on `wekeza-domain` only \
                     (no storage, sea-orm or wire types)"
                ));
            }
        }
    }
    violations
}

#[test]
fn crates_depend_only_as_the_crate_map_allows() {
    let dependencies = normal_dependencies(&workspace_packages());
    let missing: Vec<&str> = SERVICES
        .iter()
        .chain(INFRASTRUCTURE)
        .copied()
        .filter(|name| !NOT_YET_BUILT.contains(name) && !dependencies.contains_key(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the crate map names crates the workspace does not have (renamed? update this test and \
         docs/crates.md): {missing:?}"
    );
    let violations = forbidden_edges(&dependencies);
    assert!(
        violations.is_empty(),
        "forbidden dependencies between crates (see docs/crates.md):\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn the_rules_name_the_offending_edge() {
    let dependencies = BTreeMap::from([
        (
            "wekeza-pis".to_owned(),
            BTreeSet::from(["wekeza-consent".to_owned(), "wekeza-domain".to_owned()]),
        ),
        (
            "wekeza-gateway".to_owned(),
            BTreeSet::from(["wekeza-identity".to_owned()]),
        ),
        (
            "wekeza-ledger".to_owned(),
            BTreeSet::from(["sea-orm".to_owned(), "wekeza-domain".to_owned()]),
        ),
        (
            "wekeza-server".to_owned(),
            BTreeSet::from(["wekeza-pis".to_owned(), "wekeza-identity".to_owned()]),
        ),
    ]);
    let violations = forbidden_edges(&dependencies);
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(violations[0].starts_with("wekeza-gateway → wekeza-identity: infrastructure"));
    assert!(violations[1].starts_with("wekeza-ledger → sea-orm: the core-banking seam"));
    assert!(violations[2].starts_with("wekeza-pis → wekeza-consent: a service crate"));
}

// === module cycles ===

/// A token of Rust source, as far as module references need: identifiers and punctuation.
/// Comments, string/char literals, lifetimes and numbers never become tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_quoted(&chars, i + 1, '"');
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r'))
            && matches!(at(i + usize::from(c == 'b') + 1), '"' | '#')
            && raw_string_start(&chars, i + usize::from(c == 'b') + 1)
        {
            i = skip_raw_string(&chars, i + usize::from(c == 'b') + 1);
        } else if c == 'b' && at(i + 1) == '"' {
            i = skip_quoted(&chars, i + 2, '"');
        } else if c == 'b' && at(i + 1) == '\'' {
            i = skip_quoted(&chars, i + 2, '\'');
        } else if c == '\'' {
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                i = skip_quoted(&chars, i + 1, '\'');
            } else {
                // A lifetime or label: `'a`.
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && at(i + 1) == '#' {
                i += 2;
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

/// The index just past the literal whose body starts at `i` and ends with `quote`.
fn skip_quoted(chars: &[char], mut i: usize, quote: char) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Whether `r` at `i - 1` opens a raw string: `r"`, `r#"`, `r##"`…
fn raw_string_start(chars: &[char], mut i: usize) -> bool {
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    chars.get(i) == Some(&'"')
}

fn skip_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// One reference from a file to a top-level module of its crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reference {
    module: String,
    path: String,
}

/// What one source file refers to, and which of its `mod x;` declarations are test-only.
#[derive(Debug, Default)]
struct FileScan {
    references: Vec<Reference>,
    test_modules: Vec<String>,
}

/// Reads the references a file at module path `module_path` (e.g. `["seed", "builder"]`) makes
/// to the crate's top-level modules: `crate::x…`, `crate::{x, y…}` and `super::` paths that
/// climb to the crate root. Items under `#[cfg(test)]` are skipped.
fn scan_file(source: &str, module_path: &[String]) -> FileScan {
    let tokens = tokenize(source);
    let mut scan = FileScan::default();
    // Inline `mod x { … }` blocks entered, with the brace depth their body opened at.
    let mut inline_modules: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('#') => {
                let inner = tokens.get(i + 1) == Some(&Token::Punct('!'));
                let open = i + 1 + usize::from(inner);
                if tokens.get(open) != Some(&Token::Punct('[')) {
                    i += 1;
                    continue;
                }
                let close = matching(&tokens, open);
                let test_only = is_cfg_test(&tokens[open + 1..close]);
                i = close + 1;
                if test_only && inner {
                    return FileScan::default();
                }
                if test_only {
                    let (end, declared) = skip_item(&tokens, i);
                    scan.test_modules.extend(declared);
                    i = end;
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline_modules.push((name.clone(), depth));
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                if inline_modules
                    .last()
                    .is_some_and(|(_, open)| *open == depth)
                {
                    inline_modules.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Token::Ident(word)
                if (word == "crate" || word == "super")
                    && tokens.get(i + 1) == Some(&Token::PathSep)
                    && !(i > 0 && tokens[i - 1] == Token::Punct('$'))
                    && !(i > 0 && tokens[i - 1] == Token::PathSep) =>
            {
                let mut base: Vec<String> = module_path.to_vec();
                base.extend(inline_modules.iter().map(|(name, _)| name.clone()));
                let mut j = i;
                if word == "crate" {
                    base.clear();
                    j += 2;
                } else {
                    while tokens.get(j) == Some(&Token::Ident("super".to_owned()))
                        && tokens.get(j + 1) == Some(&Token::PathSep)
                    {
                        base.pop();
                        j += 2;
                    }
                }
                let rendered = render_path(&tokens[i..], j - i);
                if base.is_empty() {
                    for module in first_segments(&tokens, j) {
                        scan.references.push(Reference {
                            module,
                            path: rendered.clone(),
                        });
                    }
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    scan
}

/// Whether an attribute's tokens (between `[` and `]`) make its item test-only: `cfg(test)`,
/// `cfg(all(test, …))`, but not `cfg(not(test))`.
fn is_cfg_test(attribute: &[Token]) -> bool {
    attribute.first() == Some(&Token::Ident("cfg".to_owned()))
        && attribute.contains(&Token::Ident("test".to_owned()))
        && !attribute.contains(&Token::Ident("not".to_owned()))
}

/// Skips the item starting at `i` (its further attributes included); answers the index after
/// it and, when it is an out-of-line `mod x;`, the module it declares.
fn skip_item(tokens: &[Token], mut i: usize) -> (usize, Option<String>) {
    let start = i;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('[') | Token::Punct('(') => i = matching(tokens, i) + 1,
            Token::Punct(';') => {
                let declared = match &tokens[start..i] {
                    [.., Token::Ident(keyword), Token::Ident(name)] if keyword == "mod" => {
                        Some(name.clone())
                    }
                    _ => None,
                };
                return (i + 1, declared);
            }
            Token::Punct('{') => return (matching(tokens, i) + 1, None),
            _ => i += 1,
        }
    }
    (i, None)
}

/// The index of the bracket closing the one at `open`.
fn matching(tokens: &[Token], open: usize) -> usize {
    let (opening, closing) = match tokens[open] {
        Token::Punct('[') => ('[', ']'),
        Token::Punct('(') => ('(', ')'),
        _ => ('{', '}'),
    };
    let mut depth = 0;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        if *token == Token::Punct(opening) {
            depth += 1;
        } else if *token == Token::Punct(closing) {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    tokens.len().saturating_sub(1)
}

/// The first segment(s) a path continues with at `i`: `x` of `x::…`, or each `x` of `{x, y::z}`.
fn first_segments(tokens: &[Token], i: usize) -> Vec<String> {
    match tokens.get(i) {
        Some(Token::Ident(name)) => vec![name.clone()],
        Some(Token::Punct('{')) => {
            let close = matching(tokens, i);
            let mut names = Vec::new();
            let mut expect_segment = true;
            let mut depth = 0;
            for token in &tokens[i + 1..close] {
                match token {
                    Token::Punct('{') => depth += 1,
                    Token::Punct('}') => depth -= 1,
                    Token::Punct(',') if depth == 0 => expect_segment = true,
                    Token::Ident(name) if expect_segment && depth == 0 => {
                        names.push(name.clone());
                        expect_segment = false;
                    }
                    _ => expect_segment = false,
                }
            }
            names
        }
        _ => Vec::new(),
    }
}

/// `crate::x::y` or `crate::{x, y::z}`, as written, for the failure message.
fn render_path(tokens: &[Token], prefix: usize) -> String {
    let mut rendered = String::new();
    for (k, token) in tokens.iter().enumerate().take(prefix + 3) {
        match token {
            Token::Ident(name) => rendered.push_str(name),
            Token::PathSep => rendered.push_str("::"),
            Token::Punct('{') => {
                for inner in &tokens[k..=matching(tokens, k)] {
                    match inner {
                        Token::Ident(name) => rendered.push_str(name),
                        Token::PathSep => rendered.push_str("::"),
                        Token::Punct(',') => rendered.push_str(", "),
                        Token::Punct(other) => rendered.push(*other),
                    }
                }
                break;
            }
            Token::Punct(_) => break,
        }
    }
    rendered.trim_end_matches("::").to_owned()
}

/// A file's module path below `src/`: `consent.rs` → `[consent]`, `seed/builder.rs` →
/// `[seed, builder]`, `seed/mod.rs` → `[seed]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut path: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The module graph of one crate: top-level module → the sibling top-level modules its files
/// refer to, each edge with the file and path that make it.
type ModuleGraph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn module_graph(src: &Path) -> ModuleGraph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let top_level: BTreeSet<String> = files
        .iter()
        .filter_map(|file| module_path(src, file).first().cloned())
        .filter(|name| name != "lib" && name != "main")
        .collect();
    let mut scans = BTreeMap::new();
    let mut test_files: BTreeSet<Vec<String>> = BTreeSet::new();
    for file in &files {
        let path = module_path(src, file);
        let source = std::fs::read_to_string(file).unwrap();
        let scan = scan_file(&source, &path);
        // `lib.rs`/`main.rs` declare their modules at the crate root (module path `[lib]` or
        // `[main]` here), a `mod.rs` inside its directory module.
        let parent: Vec<String> = if matches!(path.as_slice(), [root] if root == "lib" || root == "main")
        {
            Vec::new()
        } else {
            path.clone()
        };
        for name in &scan.test_modules {
            let mut test_path = parent.clone();
            test_path.push(name.clone());
            test_files.insert(test_path);
        }
        scans.insert(file.clone(), (path, scan));
    }
    let mut graph = ModuleGraph::new();
    for (file, (path, scan)) in scans {
        let hub = file
            .file_name()
            .is_some_and(|name| name == "lib.rs" || name == "main.rs" || name == "mod.rs");
        let in_test_module = test_files
            .iter()
            .any(|test_path| path.starts_with(test_path));
        if hub || in_test_module {
            continue;
        }
        let Some(from) = path.first() else { continue };
        let shown = file.strip_prefix(src).unwrap().display().to_string();
        for reference in scan.references {
            if reference.module != *from && top_level.contains(&reference.module) {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(reference.module)
                    .or_default()
                    .push(format!("{shown}: {}", reference.path));
            }
        }
    }
    graph
}

/// Every cycle's modules, one per strongly connected component of more than one module (or a
/// module that refers to itself), in the order a walk around the cycle visits them.
fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(|edges| edges.keys()))
        .collect();
    let reaches = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flat_map(|edges| edges.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|node| (*node, reaches(node))).collect();
    let mut found = Vec::new();
    let mut placed = BTreeSet::new();
    for node in &nodes {
        if placed.contains(*node) || !reach[node].contains(*node) {
            continue;
        }
        let component: BTreeSet<String> = nodes
            .iter()
            .filter(|other| reach[node].contains(**other) && reach[**other].contains(*node))
            .map(|other| (*other).clone())
            .collect();
        placed.extend(component.iter().cloned());
        found.push(walk_cycle(graph, node, &component));
    }
    found
}

/// A shortest walk from `start` back to itself inside its component.
fn walk_cycle(graph: &ModuleGraph, start: &String, component: &BTreeSet<String>) -> Vec<String> {
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(&node).into_iter().flat_map(|edges| edges.keys()) {
            if !component.contains(next) {
                continue;
            }
            if next == start {
                let mut walk = vec![node.clone()];
                while let Some(before) = previous.get(walk.last().unwrap()) {
                    walk.push(before.clone());
                }
                walk.reverse();
                return walk;
            }
            if !previous.contains_key(next) {
                previous.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    vec![start.clone()]
}

/// The source roots of the workspace's crates: `crates/*/src`, `gen/src`, `bench/src`.
fn crate_sources() -> Vec<(String, PathBuf)> {
    workspace_packages()
        .iter()
        .filter_map(|package| {
            let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
            let src = manifest.parent().unwrap().join("src");
            src.is_dir()
                .then(|| (package["name"].as_str().unwrap().to_owned(), src))
        })
        .collect()
}

/// `a → b → a`, each step with the references that make it.
fn describe_cycle(krate: &str, graph: &ModuleGraph, cycle: &[String]) -> String {
    let mut lines = vec![format!("{krate}: {} → {}", cycle.join(" → "), cycle[0])];
    for (k, from) in cycle.iter().enumerate() {
        let to = &cycle[(k + 1) % cycle.len()];
        let evidence = &graph[from][to];
        lines.push(format!("    {from} → {to}: {}", evidence.join(", ")));
    }
    lines.join("\n")
}

#[test]
fn no_import_cycles_between_the_modules_of_a_crate() {
    let sources = crate_sources();
    assert!(
        sources.len() > 10,
        "expected the workspace's crates, found {sources:?}"
    );
    let mut found = Vec::new();
    for (krate, src) in &sources {
        let graph = module_graph(src);
        for cycle in cycles(&graph) {
            found.push(describe_cycle(krate, &graph, &cycle));
        }
    }
    assert!(
        found.is_empty(),
        "import cycles between the modules of a crate (a module must not be reached back from \
         what it uses):\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_module_scan_reads_paths_groups_and_super_and_skips_tests() {
    let source = r##"
        //! Docs mention crate::docs_only.
        use crate::alpha::Thing;
        use crate::{beta, gamma::{Delta, Epsilon}};
        use super::zeta;
        const TEXT: &str = "crate::in_string";
        const RAW: &str = r#"crate::in_raw "string""#;
        fn body<'a>(x: &'a str) -> char { let _ = crate::eta::call(x); '{' }
        mod inner { use super::theta; }
        #[cfg(test)]
        mod tests { use crate::iota; }
        #[cfg(test)]
        mod more_tests;
        #[cfg(not(test))]
        use crate::kappa;
    "##;
    let scan = scan_file(source, &["here".to_owned()]);
    let modules: Vec<&str> = scan.references.iter().map(|r| r.module.as_str()).collect();
    assert_eq!(
        modules,
        ["alpha", "beta", "gamma", "zeta", "eta", "kappa"],
        "{scan:#?}"
    );
    assert_eq!(scan.test_modules, ["more_tests"]);
    let nested = scan_file(
        "use super::sibling; use super::super::top;",
        &["outer".to_owned(), "file".to_owned()],
    );
    let modules: Vec<&str> = nested
        .references
        .iter()
        .map(|r| r.module.as_str())
        .collect();
    assert_eq!(modules, ["top"]);
}

#[test]
fn cycles_are_found_and_walked() {
    let edge = |to: &str| (to.to_owned(), vec![format!("x.rs: crate::{to}")]);
    let graph = ModuleGraph::from([
        ("a".to_owned(), BTreeMap::from([edge("b")])),
        ("b".to_owned(), BTreeMap::from([edge("c"), edge("d")])),
        ("c".to_owned(), BTreeMap::from([edge("a")])),
        ("d".to_owned(), BTreeMap::from([edge("e")])),
    ]);
    assert_eq!(cycles(&graph), [["a", "b", "c"]]);
    let message = describe_cycle("wekeza-x", &graph, &cycles(&graph)[0]);
    assert!(message.starts_with("wekeza-x: a → b → c → a"), "{message}");
    assert!(message.contains("c → a: x.rs: crate::a"), "{message}");
}
