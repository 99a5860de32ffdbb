//! `aidf screen decide|decisions|thresholds` (issue 14): an officer's decisions on the possible
//! hits of a party clear the hold `aidf ship` puts on it, each decision audited as the local user;
//! the `local` tenant's thresholds are exact decimals, checked, shown and audited.

use std::path::{Path, PathBuf};
use std::process::Command;

use aidf_ledger::{Ledger, LedgerStore};
use serde_json::Value;

const SIBLING: &str = "Huawei Technologies Research Co., Ltd.";

/// Runs `aidf` as user `officer-test`: (success, exit code, stdout, stderr).
fn aidf(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .env("USER", "officer-test")
        .env_remove("AIDF_AUDIT_KEY")
        .env_remove("AIDF_AUDIT_KEY_FILE")
        .output()
        .expect("run aidf");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = aidf(args);
    assert_eq!(code, Some(0), "aidf {args:?}: {err}");
    out
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-decisions-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn ship(dir: &Path, db: &str, id: &str) -> Value {
    let path = dir.join("sibling.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":"{SIBLING}","hq":"CN"}},"item":{{"chip":"L20"}},"quantity":10}}"#
        ),
    )
    .expect("write");
    let out = ok(&[
        "ship",
        path.to_str().expect("utf8"),
        "--db",
        db,
        "--json",
        "--id",
        id,
    ]);
    serde_json::from_str(&out).expect("json")
}

fn held(v: &Value) -> bool {
    v["refusal"]
        .as_str()
        .is_some_and(|r| r.starts_with("hold for review:"))
}

/// Every hit of the sibling as `LIST:ID`, as `aidf screen` lists them.
fn every_hit() -> Vec<String> {
    let out = ok(&["screen", SIBLING, "--country", "CN", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            let e = &h["entry"];
            let id = e["entity_number"].as_str().map_or_else(
                || {
                    let name = e["name"].as_str().expect("name");
                    name.split_whitespace().collect::<Vec<_>>().join(" ")
                },
                str::to_owned,
            );
            format!("{}:{id}", e["list_code"].as_str().expect("list"))
        })
        .collect()
}

#[test]
fn decisions_clear_the_hold_and_are_audited() {
    let dir = scratch("decisions_clear_the_hold_and_are_audited");
    let db = dir.join("ledger.db");
    let db = db.to_str().expect("utf8");
    assert!(held(&ship(&dir, db, "s-1")));
    let entries = every_hit();
    assert!(!entries.is_empty());
    for entry in &entries {
        let text = ok(&[
            "screen",
            "decide",
            "--party",
            SIBLING,
            "--entry",
            entry,
            "--not-same",
            "--reason",
            "a research subsidiary",
            "--db",
            db,
        ]);
        assert!(text.contains("is not the same party on"), "{text}");
    }
    let v = ship(&dir, db, "s-2");
    assert!(!held(&v), "{v}");
    let decision = &v["screening"]["parties"][0]["hits"][0]["decision"];
    assert_eq!(decision["applied"], true, "{v}");
    assert_eq!(decision["by"], "local:officer-test");

    let listed: Value =
        serde_json::from_str(&ok(&["screen", "decisions", "--db", db, "--json"])).expect("json");
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), entries.len());
    assert!(
        listed
            .iter()
            .all(|d| d["current"] == true && d["decision"] == "not_the_same_party")
    );
    let text = ok(&["screen", "decisions", "--db", db]);
    assert!(text.contains("reason: a research subsidiary"), "{text}");

    // Bad decisions: exit 2, one line naming the field; nothing recorded.
    for (args, field) in [
        (
            vec!["--entry", entries[0].as_str(), "--same", "--reason", " "],
            "field `reason`",
        ),
        (
            vec!["--entry", "EL:nobody at all", "--same", "--reason", "r"],
            "field `entry`",
        ),
        (
            vec!["--entry", "nocolon", "--same", "--reason", "r"],
            "field `entry`",
        ),
    ] {
        let all = [
            &["screen", "decide", "--party", SIBLING, "--db", db][..],
            &args,
        ]
        .concat();
        let (code, _, err) = aidf(&all);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(err.contains(field), "{err}");
    }

    let mut ledger = Ledger::open(db).expect("open");
    let decided = ledger
        .audit_records("local", 1000)
        .expect("records")
        .into_iter()
        .filter(|r| r.action == "screening.decision")
        .inspect(|r| assert_eq!(r.actor, "local:officer-test"))
        .count();
    assert_eq!(decided, entries.len(), "each decision chained");
}

#[test]
fn thresholds_are_set_checked_and_shown() {
    let dir = scratch("thresholds_are_set_checked_and_shown");
    let db = dir.join("ledger.db");
    let db = db.to_str().expect("utf8");
    let text = ok(&[
        "screen",
        "thresholds",
        "set",
        "--clear",
        "0.95",
        "--possible",
        "0.90",
        "--db",
        db,
    ]);
    assert!(text.contains("possible hit: score >= 0.9"), "{text}");
    let shown: Value =
        serde_json::from_str(&ok(&["screen", "thresholds", "show", "--db", db, "--json"]))
            .expect("json");
    assert_eq!(shown["clear"], "0.95");
    assert_eq!(shown["possible"], "0.9");
    assert_eq!(shown["source"], "tenant");
    assert_eq!(shown["set_by"], "local:officer-test");
    // Above the sibling's score: the shipment is no longer held (the tenant's thresholds apply).
    let v = ship(&dir, db, "s-1");
    assert!(!held(&v), "{v}");
    assert_eq!(v["screening"]["thresholds"]["possible"], 0.9);
    for (clear, possible, field) in [
        ("0.7", "0.8", "field `possible`"),
        ("1.5", "0.8", "field `clear`"),
        ("0.9", "zero", "field `possible`"),
    ] {
        let (code, _, err) = aidf(&[
            "screen",
            "thresholds",
            "set",
            "--clear",
            clear,
            "--possible",
            possible,
            "--db",
            db,
        ]);
        assert_eq!(code, Some(2));
        assert!(err.contains(field), "{err}");
    }
}
