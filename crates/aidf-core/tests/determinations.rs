//! Data-driven determination cases: `cases/*.json` hold `{name, input, expect, reasons,
//! assumptions, obligations}` rows. `input` is merged over the file's `base`; every key of `expect`
//! must equal the same key of the JSON output; `reasons`/`assumptions`/`obligations` list rule ids,
//! switch names and obligation ids that must appear (`!id` means must not appear).
//!
//! Case files pass through `serde_json::Value`, whose numbers are `f64`: cases that need a number
//! `f64` cannot hold exactly live in `tests/exact_numbers.rs`, which feeds raw JSON text.

use aidf_core::{DeterminationInput, Policy, determine};
use serde_json::Value;

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn ids(out: &Value, list: &str, key: &str) -> Vec<String> {
    out[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r[key].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn check_list(
    name: &str,
    case: &Value,
    out: &Value,
    field: &str,
    key: &str,
    failures: &mut Vec<String>,
) {
    let have = ids(out, field, key);
    for want in case[field].as_array().into_iter().flatten() {
        let want = want.as_str().unwrap_or_default();
        let (negate, id) = match want.strip_prefix('!') {
            Some(id) => (true, id),
            None => (false, want),
        };
        if have.iter().any(|h| h == id) == negate {
            failures.push(format!(
                "{name}: {field} {} `{id}`; have {have:?}",
                if negate {
                    "must not contain"
                } else {
                    "must contain"
                }
            ));
        }
    }
}

#[test]
fn determination_cases() {
    let policy = Policy::embedded().expect("embedded policy loads");
    let mut failures = Vec::new();
    let mut count = 0;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("cases dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {dir}");
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let base = doc["base"].clone();
        for case in doc["cases"].as_array().expect("cases array") {
            count += 1;
            let name = format!(
                "{}: {}",
                file.file_name().unwrap_or_default().to_string_lossy(),
                case["name"].as_str().unwrap_or("?")
            );
            let mut input = base.clone();
            merge(&mut input, &case["input"]);
            let parsed = DeterminationInput::from_json(&input.to_string());
            let result = parsed
                .map_err(|e| e.to_string())
                .and_then(|i| determine(&policy, &i).map_err(|e| e.to_string()));
            if let Some(want_err) = case["error"].as_str() {
                match result {
                    Err(e) if e.contains(want_err) => {}
                    Err(e) => failures.push(format!("{name}: error `{e}` lacks `{want_err}`")),
                    Ok(_) => failures.push(format!("{name}: expected error `{want_err}`, got Ok")),
                }
                continue;
            }
            let out = match result {
                Ok(d) => serde_json::to_value(&d).expect("serialize"),
                Err(e) => {
                    failures.push(format!("{name}: unexpected error {e}"));
                    continue;
                }
            };
            for (k, v) in case["expect"].as_object().into_iter().flatten() {
                // Dotted keys reach into objects: `regime.id`.
                let got = k.split('.').fold(&out, |o, part| &o[part]);
                if got != v {
                    failures.push(format!("{name}: `{k}` = {got}, want {v}"));
                }
            }
            check_list(&name, case, &out, "reasons", "rule", &mut failures);
            check_list(&name, case, &out, "assumptions", "switch", &mut failures);
            check_list(&name, case, &out, "obligations", "id", &mut failures);
            // Every determination carries its regime id and digest, and at least one reason.
            if !out["regime"]["digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:"))
            {
                failures.push(format!("{name}: missing regime digest"));
            }
            if out["reasons"].as_array().is_none_or(|r| r.is_empty()) {
                failures.push(format!("{name}: no reasons"));
            }
        }
    }
    assert!(count >= 40, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
