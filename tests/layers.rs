//! The top-level modules form layers with no cycle: pure core → storage → services →
//! transport → application (docs/architecture.md). A module may use modules of its own
//! layer or below, never above, and no set of modules may use each other in a circle.
//!
//! Dependencies are read from the source: every `crate::<module>` path (including the
//! `use crate::{a, b}` form) outside comments, in `src/<module>.rs` and `src/<module>/**`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. Every top-level module of `src/` is in exactly one.
const LAYERS: &[(&str, &[&str])] = &[
    // No I/O, no async runtime, no web framework (ledger, domain and bundle build without
    // the `server` feature; ingest is the pure OTLP decoding and normalization).
    ("pure core", &["domain", "ledger", "bundle", "ingest"]),
    ("storage", &["store"]),
    (
        "services",
        &[
            "auth",
            "error",
            "sequencer",
            "signing",
            "provenance",
            "audit",
            "verifier_keys",
            "intake",
            "os",
        ],
    ),
    // `config` holds the flags of the listeners (connection limits), so it sits with them;
    // `state` is the leaf the handlers share.
    ("transport", &["connections", "config", "state", "api", "grpc"]),
    ("application", &["app", "cli"]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules of `src/` (files and folders), without `lib` and `main`.
fn top_level_modules() -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src_dir()).expect("read src/") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("utf-8 name")
            .to_owned();
        let is_module = path.is_dir() || path.extension().is_some_and(|extension| extension == "rs");
        if is_module && name != "lib" && name != "main" {
            modules.insert(name);
        }
    }
    modules
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            rust_files(&entry.expect("dir entry").path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|extension| extension == "rs") {
        out.push(path.to_owned());
    }
}

/// `source` without `//` comments (doc comments included) and without the contents of
/// string literals, so doc links and texts are not dependencies.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let mut in_string = false;
    while let Some(character) = chars.next() {
        if in_string {
            match character {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match character {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                out.push('\'');
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\"'") || rest.starts_with("\\\"'") {
                    for _ in 0..rest.find('\'').unwrap_or(0) + 1 {
                        chars.next();
                    }
                }
            }
            _ => out.push(character),
        }
    }
    out
}

/// The modules among `modules` that `code` names as `crate::<module>`.
fn referenced(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (position, _) in code.match_indices("crate::") {
        let rest = &code[position + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0usize;
            let mut items = Vec::new();
            let mut start = 0usize;
            for (offset, character) in group.char_indices() {
                match character {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(&group[start..offset]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[start..offset]);
                        start = offset + 1;
                    }
                    _ => {}
                }
            }
            items
        } else {
            vec![rest]
        };
        for name in names {
            let name: String = name
                .trim_start()
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

/// Module → the other top-level modules it uses.
fn dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = top_level_modules();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let mut files = Vec::new();
        rust_files(&src_dir().join(format!("{module}.rs")), &mut files);
        rust_files(&src_dir().join(module), &mut files);
        let mut uses = BTreeSet::new();
        for file in files {
            let source = std::fs::read_to_string(&file).expect("read source");
            uses.extend(referenced(&code_only(&source), &modules));
        }
        uses.remove(module);
        graph.insert(module.clone(), uses);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        next: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        walk.index.insert(node, walk.next);
        walk.low.insert(node, walk.next);
        walk.next += 1;
        walk.stack.push(node);
        for target in walk.graph.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !walk.index.contains_key(target) {
                visit(walk, target);
                let low = walk.low[node].min(walk.low[target]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&target) {
                let low = walk.low[node].min(walk.index[target]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(member) = walk.stack.pop() {
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, members)| members.contains(&module))
}

#[test]
fn the_reader_sees_what_it_should() {
    let modules: BTreeSet<String> = ["api", "app", "store"].iter().map(|name| name.to_string()).collect();
    let code = code_only(
        "use crate::{api::x, store};\n/// [`crate::app`]\nlet s = \"crate::app\"; let c = '\"'; crate::app::run();",
    );
    assert_eq!(
        referenced(&code, &modules),
        ["api", "app", "store"].iter().map(|name| name.to_string()).collect()
    );
    let commented = code_only("// crate::api\nlet s = \"crate::store\";");
    assert!(referenced(&commented, &modules).is_empty());
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(from, to)| (from.to_owned(), to.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(
        cycles(&graph),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = top_level_modules()
        .into_iter()
        .filter(|module| layer_of(module).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "place these modules in a layer of tests/layers.rs: {unplaced:?}"
    );
    for (_, members) in LAYERS {
        for member in *members {
            assert!(
                top_level_modules().contains(*member),
                "{member} is in LAYERS but not in src/"
            );
        }
    }
}

#[test]
fn no_module_cycle() {
    let graph = dependency_graph();
    let found = cycles(&graph);
    assert!(found.is_empty(), "modules that use each other in a circle: {found:?}");
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let mut upward = Vec::new();
    for (module, uses) in dependency_graph() {
        let Some(layer) = layer_of(&module) else { continue };
        for used in uses {
            if let Some(used_layer) = layer_of(&used) {
                if used_layer > layer {
                    upward.push(format!(
                        "{module} ({}) uses {used} ({})",
                        LAYERS[layer].0, LAYERS[used_layer].0
                    ));
                }
            }
        }
    }
    assert!(upward.is_empty(), "{upward:#?}");
}

#[test]
fn the_pure_ingest_core_names_no_transport() {
    let mut files = Vec::new();
    rust_files(&src_dir().join("ingest"), &mut files);
    let mut named = Vec::new();
    for file in files {
        let code = code_only(&std::fs::read_to_string(&file).expect("read source"))
            .replace("opentelemetry_proto::tonic::", "opentelemetry_proto::generated::");
        for word in ["axum", "tonic", "AppState", "sqlx", "hyper"] {
            if code.contains(word) {
                named.push(format!("{} names {word}", file.display()));
            }
        }
    }
    assert!(named.is_empty(), "{named:#?}");
}
