//! `aidf check` and `aidf ship` screen the consignee against the default lists (issue 14, item 3);
//! `check --no-screen` gives the answer of the input alone.

use std::path::{Path, PathBuf};
use std::process::Command;

fn aidf(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .output()
        .expect("run aidf");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh directory of this test's own.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-screening-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// An L20 to Singapore for `name` (headquarters `hq`), written to a file of its own.
fn input(dir: &Path, file: &str, name: &str, hq: &str, extra: &str) -> PathBuf {
    let name = serde_json::to_string(name).expect("name");
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(
            r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":{name},"hq":"{hq}"{extra}}},"item":{{"chip":"L20"}},"quantity":10}}"#
        ),
    )
    .expect("write");
    path
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

#[test]
fn check_applies_the_entity_list_entry_a_screen_finds() {
    let dir = scratch("check_applies_the_entity_list_entry_a_screen_finds");
    let file = input(&dir, "hw.json", "Huawei Technologies Co., Ltd.", "SG", "");
    let file = file.to_str().expect("utf8");
    let (ok, out, err) = aidf(&["check", "--json", file]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["authorization"], "license");
    assert_eq!(v["screening"]["verdict"], "clear_hit");
    assert_eq!(
        v["screening"]["entity_list"]["entry"],
        "Huawei Technologies Co., Ltd."
    );
    let cited = v["reasons"].as_array().expect("reasons").iter().any(|r| {
        r["rule"] == "party.listed"
            && r["citation"]
                .as_str()
                .unwrap_or_default()
                .contains("84 FR 22963")
    });
    assert!(cited, "{out}");
    let (ok, text, err) = aidf(&["check", file]);
    assert!(ok, "{err}");
    assert!(
        text.contains("LICENSE REQUIRED") && text.contains("Entity List entry applied"),
        "{text}"
    );

    let (ok, old, err) = aidf(&["check", "--json", "--no-screen", file]);
    assert!(ok, "{err}");
    let v = json(&old);
    assert!(v.get("screening").is_none(), "{old}");
    assert_ne!(
        v["authorization"], "license",
        "the input alone does not list Huawei"
    );
}

#[test]
fn check_says_hold_for_review_on_a_possible_hit() {
    let dir = scratch("check_says_hold_for_review_on_a_possible_hit");
    let file = input(
        &dir,
        "sib.json",
        "Huawei Technologies Research Co., Ltd.",
        "CN",
        "",
    );
    let file = file.to_str().expect("utf8");
    let (ok, text, err) = aidf(&["check", file]);
    assert!(ok, "{err}");
    assert!(
        text.contains("HOLD FOR REVIEW") && text.contains("possible hit"),
        "{text}"
    );
    let (ok, out, err) = aidf(&["check", "--json", file]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["screening"]["verdict"], "possible_hit");
    assert_eq!(v["screening"]["hold_for_review"], true);
    assert!(
        v["screening"]["refusal"]
            .as_str()
            .expect("refusal")
            .starts_with("hold for review:")
    );
}

#[test]
fn check_reports_the_callers_listed_flag() {
    let dir = scratch("check_reports_the_callers_listed_flag");
    let file = input(
        &dir,
        "l.json",
        "Acme Computing Pte Ltd",
        "SG",
        r#","listed":true"#,
    );
    let (ok, out, err) = aidf(&["check", "--json", file.to_str().expect("utf8")]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["screening"]["verdict"], "no_match");
    assert_eq!(
        v["screening"]["caller_overrides"][0],
        "listed given by the caller"
    );
    assert_eq!(v["authorization"], "license");
}

#[test]
fn ship_screens_the_consignee() {
    let dir = scratch("ship_screens_the_consignee");
    let db = dir.join("ledger.db");
    let db = db.to_str().expect("utf8");
    let cases = [
        ("han", "华为技术有限公司", "CN"),
        ("sdn", "Bank Melli Iran", "IR"),
        ("sib", "Huawei Technologies Research Co., Ltd.", "CN"),
    ];
    for (id, name, hq) in cases {
        let file = input(&dir, &format!("{id}.json"), name, hq, "");
        let (ok, out, err) = aidf(&[
            "ship",
            file.to_str().expect("utf8"),
            "--db",
            db,
            "--json",
            "--id",
            id,
        ]);
        assert!(ok, "{id}: {err}");
        let v = json(&out);
        assert_eq!(v["status"], "refused", "{id}: {out}");
        assert!(
            v["entries"].as_array().expect("entries").is_empty(),
            "{id}: nothing drawn"
        );
        let refusal = v["refusal"].as_str().expect("refusal");
        let screening = &v["screening"];
        match id {
            "han" => assert!(
                screening["verdict"] == "clear_hit"
                    && v["determination"]["authorization"] == "license"
                    || refusal.starts_with("hold for review:"),
                "{out}"
            ),
            "sdn" => assert!(refusal.contains("on the SDN list"), "{refusal}"),
            _ => assert!(refusal.starts_with("hold for review:"), "{refusal}"),
        }
    }
}
