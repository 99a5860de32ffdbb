//! `aidf screen rescreen`: the ledger's parties screened against a new list version and the
//! previous one (a directory, or the embedded default lists), the changes as text and JSON; bad
//! options are one line naming the option (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EL: &str = "Entity List (EL) - Bureau of Industry and Security";
const SDN: &str = "Specially Designated Nationals (SDN) - Treasury Department";

fn aidf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .env(
            "AIDF_CACHE_DIR",
            std::env::temp_dir().join("aidf-rescreen-cli-cache"),
        )
        .output()
        .expect("run aidf")
}

fn ok(args: &[&str]) -> String {
    let out = aidf(args);
    assert!(
        out.status.success(),
        "aidf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory of this test's own.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-rescreen-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// A list directory in the CSL layout: `rows` and two entries every version carries.
fn list_dir(root: &Path, id: &str, date: &str, rows: &[(&str, &str, &str, &str)]) -> String {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut csv = String::from("source,entity_number,type,name,federal_register_notice\n");
    let filler = [
        (EL, "EL-90", "Harbor Freight Shipping Co", "90 FR 1090"),
        (EL, "EL-91", "Golden Sun Trading Ltd", "90 FR 1091"),
        (EL, "EL-92", "Red Mountain Mining Corp", "90 FR 1092"),
    ];
    for (source, id, name, fr) in rows.iter().chain(&filler) {
        csv += &format!("\"{source}\",{id},Entity,{name},{fr}\n");
    }
    std::fs::write(dir.join("csl.csv"), csv).expect("csv");
    std::fs::write(
        dir.join("lists.toml"),
        format!(
            "[[list]]\nid = \"{id}\"\nformat = \"csl\"\ndate = \"{date}\"\nfile = \"csl.csv\"\n"
        ),
    )
    .expect("manifest");
    dir.to_str().expect("utf8").to_owned()
}

/// A ledger with shipments to Zephyr and Cobalt and a license for Borealis.
fn ledger(dir: &Path) -> String {
    let db = dir.join("aidf.db").to_str().expect("utf8").to_owned();
    for (id, name, hq) in [
        ("s-1", "Zephyr Quantum Systems Ltd", "CN"),
        ("s-2", "Cobalt Lattice Trading LLC", "AE"),
    ] {
        let file = dir.join(format!("{id}.json"));
        std::fs::write(
            &file,
            format!(
                r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":"{name}","hq":"{hq}"}},"item":{{"chip":"L20"}},"quantity":10}}"#
            ),
        )
        .expect("write");
        ok(&[
            "ship",
            file.to_str().expect("utf8"),
            "--db",
            &db,
            "--id",
            id,
        ]);
    }
    ok(&[
        "license",
        "add",
        "L-1",
        "--consignee",
        "Borealis Photonics Company",
        "--destination",
        "MY",
        "--units",
        "10",
        "--tpp",
        "100000",
        "--granted",
        "2025-01-01",
        "--expires",
        "2029-01-01",
        "--db",
        &db,
    ]);
    db
}

#[test]
fn rescreen_reports_new_and_cleared_hits_with_what_they_touch() {
    let dir = scratch("report");
    let db = ledger(&dir);
    let zephyr = (EL, "EL-1", "Zephyr Quantum Systems Ltd", "90 FR 1001");
    let old = list_dir(
        &dir,
        "csl-old",
        "2026-07-31",
        &[
            zephyr,
            (EL, "EL-2", "Borealis Photonics Company", "90 FR 1002"),
        ],
    );
    let new = list_dir(
        &dir,
        "csl-new",
        "2026-08-31",
        &[
            zephyr,
            (SDN, "SDN-3", "Cobalt Lattice Trading LLC", "91 FR 2003"),
        ],
    );
    let args = [
        "screen",
        "rescreen",
        "--lists",
        &new,
        "--previous",
        &old,
        "--db",
        &db,
    ];
    insta::assert_snapshot!("rescreen_text", ok(&args));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&[&args[..], &["--json"]].concat())).expect("json");
    assert_eq!(v["previous"][0]["id"], "csl-old");
    assert_eq!(v["current"][0]["date"], "2026-08-31");
    assert_eq!(v["parties_still_hit"], 1, "Zephyr");
    let changes = v["changes"].as_array().expect("changes");
    let named: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or(""),
                c["verdict_after"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("Borealis Photonics Company", "no_match"),
            ("Cobalt Lattice Trading LLC", "clear_hit")
        ]
    );
    assert_eq!(changes[0]["appears"]["licenses"][0], "L-1");
    assert_eq!(changes[1]["new_hits"][0]["citations"][0], "91 FR 2003");
    // Without --previous, the embedded lists are the previous version.
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "screen", "rescreen", "--lists", &new, "--db", &db, "--json",
    ]))
    .expect("json");
    assert_eq!(v["previous"][0]["id"], "csl");
    assert_eq!(v["previous"][0]["date"], "2026-07-31");
}

#[test]
fn bad_options_are_one_line_and_exit_2() {
    let dir = scratch("bad");
    let db = ledger(&dir);
    let lists = list_dir(&dir, "csl-new", "2026-08-31", &[]);
    let missing = dir.join("none");
    let missing = missing.to_str().expect("utf8");
    let absent_db = dir.join("absent.db");
    let absent_db = absent_db.to_str().expect("utf8");
    let cases = [
        (
            vec!["--lists", missing, "--db", &db],
            format!("error: option `--lists`: cannot read {missing}/lists.toml"),
        ),
        (
            vec!["--lists", &lists, "--previous", missing, "--db", &db],
            format!("error: option `--previous`: cannot read {missing}/lists.toml"),
        ),
        (
            vec![
                "--lists",
                &lists,
                "--db",
                &db,
                "--clear",
                "0.5",
                "--possible",
                "0.8",
            ],
            "error: thresholds: clear 0.5, possible 0.8 (expected 0 < possible <= clear <= 1)"
                .to_owned(),
        ),
        (
            vec!["--lists", &lists, "--db", absent_db],
            format!(
                "error: option `--db`: `{absent_db}` does not exist; a command that only reads does not create a ledger"
            ),
        ),
    ];
    for (args, expected) in cases {
        let out = aidf(&[&["screen", "rescreen"][..], &args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
