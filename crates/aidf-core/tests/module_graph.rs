//! Issue 16, item 5: the core's modules form no import circle (`policy` and `regime_file` over
//! `PolicyError`, `determine` and `draws` over the accounts a determination reads and draws did).
//! A module's imports are the `crate::MODULE` paths its files name outside comments; the
//! submodules of a directory module (`determine/`) count as that module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn read_dir(dir: &Path, module: Option<&str>, graph: &mut Graph) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let owner = module.unwrap_or(name).to_string();
        if path.is_dir() {
            read_dir(&path, Some(&owner), graph);
            continue;
        }
        if owner == "lib" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let imports = graph.entry(owner.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .unwrap_or(rest.len());
                if end > 0 && rest[..end] != owner {
                    imports.insert(rest[..end].to_string());
                }
            }
        }
    }
}

/// A circle through `from`, as the modules on it, if there is one.
fn circle(graph: &Graph, from: &str) -> Option<Vec<String>> {
    let mut path = vec![from.to_string()];
    let mut seen = BTreeSet::new();
    fn walk(g: &Graph, start: &str, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> bool {
        let last = path.last().expect("path").clone();
        for next in g.get(&last).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(graph, from, &mut path, &mut seen).then_some(path)
}

#[test]
fn core_modules_import_each_other_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    read_dir(&src, None, &mut graph);
    assert!(graph["policy"].contains("regime_file"), "{graph:?}");
    assert!(graph["determine"].contains("draws"), "{graph:?}");
    let circles: Vec<_> = graph
        .keys()
        .filter_map(|m| circle(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}
