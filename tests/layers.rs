//! The architecture as a test: hrsync's modules form four layers (see `src/lib.rs`), and a module
//! imports only from its own layer or the layers below. This test reads the `crate::` paths in
//! `src/` and fails on an import from a layer above, on a module no layer names, and on an
//! import cycle between modules.
//!
//! A module is a top-level file or folder of `src/`, or a folder's direct child when a path names
//! one (`plan/limits`); a child's imports of its own parent are not edges. Test code
//! (`#[cfg(test)]` and after) and comments are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: each top-level module and the layer it belongs to.
const LAYERS: [(&str, &[&str]); 4] = [
    (
        "vocabulary",
        &["dn", "attributes", "model", "problem", "secret", "schedule"],
    ),
    ("pure domain", &["events", "mapping", "plan", "render"]),
    (
        "adapters",
        &[
            "hr",
            "directory",
            "apply",
            "journal",
            "audit",
            "hooks",
            "metrics",
            "progress",
            "files",
        ],
    ),
    ("application", &["config", "cli", "app"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split('/').next().unwrap_or(module);
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&top))
}

/// Top-level modules with their direct children.
fn modules(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        let name = path
            .file_name()
            .expect("src/ is readable")
            .to_string_lossy()
            .to_string();
        if path.is_dir() {
            let children = std::fs::read_dir(&path)
                .expect("src/ is readable")
                .map(|e| e.expect("src/ is readable").path())
                .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
                .map(|p| {
                    p.file_stem()
                        .expect("src/ is readable")
                        .to_string_lossy()
                        .to_string()
                })
                .filter(|c| c != "mod")
                .collect();
            out.insert(name, children);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
        {
            out.insert(stem.to_string(), BTreeSet::new());
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to (`plan/planner.rs` and `plan/planner/dates.rs` are
/// `plan/planner`; `plan/mod.rs` is `plan`).
fn owner(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("src/ is readable");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    let stem = |s: &str| s.strip_suffix(".rs").unwrap_or(s).to_string();
    match parts.as_slice() {
        [file] => stem(file),
        [top, child, ..] if stem(child) == "mod" => top.clone(),
        [top, child, ..] => format!("{top}/{}", stem(child)),
        [] => String::new(),
    }
}

/// The code a module's imports are read from: up to its tests, without comment lines.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a `crate::` path names.
fn node(modules: &BTreeMap<String, BTreeSet<String>>, segments: &[&str]) -> Option<String> {
    let top = segments.first()?;
    let children = modules.get(*top)?;
    match segments.get(1) {
        Some(child) if children.contains(*child) => Some(format!("{top}/{child}")),
        _ => Some(top.to_string()),
    }
}

/// Every `crate::a::b` path, and each name inside `crate::a::{b, c::d}`, as segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segments: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let after = &rest[path.len()..];
        if let (Some(first), true) = (segments.first(), after.starts_with('{')) {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.push(vec![first.clone(), name.to_string()]);
                }
            }
        }
        out.push(segments);
    }
    out
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let modules = modules(&root);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let me = owner(&root, &file);
        if me == "lib" || me == "main" {
            continue;
        }
        let text = code(&std::fs::read_to_string(&file).expect("src/ is readable"));
        for path in crate_paths(&text) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let Some(target) = node(&modules, &segments) else {
                continue;
            };
            let related = target == me
                || target.starts_with(&format!("{me}/"))
                || me.starts_with(&format!("{target}/"));
            if !related {
                edges.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn every_module_belongs_to_a_layer() {
    let unplaced: Vec<String> = modules(&src())
        .into_keys()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS here and to the list in src/lib.rs): {unplaced:?}"
    );
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (from, targets) in edges() {
        for to in targets {
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to))
                && b > a
            {
                upward.push(format!(
                    "{from} ({}) imports {to} ({})",
                    LAYERS[a].0, LAYERS[b].0
                ));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

/// The modules that can reach themselves through `edges`.
fn on_cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut on_cycle = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges[start].iter().collect();
        while let Some(next) = stack.pop() {
            if next == start {
                on_cycle.push(start.clone());
                break;
            }
            if seen.insert(next)
                && let Some(targets) = edges.get(next)
            {
                stack.extend(targets);
            }
        }
    }
    on_cycle
}

#[test]
fn no_import_cycle_between_modules() {
    let edges = edges();
    let on_cycle = on_cycles(&edges);
    assert!(
        on_cycle.is_empty(),
        "modules on an import cycle: {on_cycle:?}\nedges: {edges:#?}"
    );
}

/// The checks themselves: a cycle is found, a chain is not one.
#[test]
fn a_cycle_is_found_and_a_chain_is_not() {
    let graph = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            edges
                .entry(a.to_string())
                .or_default()
                .insert(b.to_string());
        }
        edges
    };
    let cycle = graph(&[
        ("audit", "metrics"),
        ("metrics", "journal"),
        ("journal", "audit"),
    ]);
    assert_eq!(on_cycles(&cycle), ["audit", "journal", "metrics"]);
    let chain = graph(&[
        ("audit", "metrics"),
        ("metrics", "journal"),
        ("audit", "journal"),
    ]);
    assert!(on_cycles(&chain).is_empty());
}

#[test]
fn the_reader_finds_paths_in_use_groups_and_plain_paths() {
    let code = "use crate::plan::{ops::Step, Plan};\nfn f() { crate::config::load(); }";
    let paths = crate_paths(code);
    assert!(paths.contains(&vec!["plan".to_string(), "ops".to_string()]));
    assert!(paths.contains(&vec!["config".to_string(), "load".to_string()]));
    assert_eq!(layer_of("plan/planner"), Some(1));
    assert_eq!(layer_of("app/commands"), Some(3));
    assert!(layer_of("nowhere").is_none());
}
