//! `aidf shipments list|show` and `aidf record` over shipments recorded with `aidf ship`: filters,
//! pages, CSV/JSON, a refused shipment and a consignee named in Han script, the compliance record
//! as PDF, HTML and JSON, and bad input as one line naming the option (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aidf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
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
    String::from_utf8(out.stdout).expect("utf8")
}

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-register-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

const SHIPMENTS: [(&str, &str, &str, &str, &str); 4] = [
    ("s-my-1", "2025-06-01", "MY", "X Sdn Bhd", "MY"),
    ("s-cn-1", "2025-06-02", "CN", "华为技术有限公司", "CN"),
    ("s-ae-1", "2025-06-03", "AE", "شركة الخليج للتقنية", "AE"),
    ("s-my-2", "2025-07-01", "MY", "Beta Systems", "MY"),
];

/// A ledger with the four shipments above (the Chinese one refused).
fn seeded(dir: &Path) -> String {
    let db = dir.join("l.db").to_str().expect("utf8").to_string();
    for (id, date, dest, name, hq) in SHIPMENTS {
        let name = serde_json::to_string(name).expect("name");
        let input = format!(
            r#"{{"date":"{date}","destination":"{dest}","consignee":{{"name":{name},"hq":"{hq}"}},"item":{{"chip":"H100 SXM"}},"quantity":100}}"#
        );
        let file = dir.join(format!("{id}.json"));
        std::fs::write(&file, input).expect("write");
        ok(&[
            "ship",
            file.to_str().expect("utf8"),
            "--db",
            &db,
            "--id",
            id,
        ]);
    }
    db
}

fn ids(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["shipment_id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn list_filters_pages_and_formats() {
    let dir = fresh_dir("list");
    let db = seeded(&dir);
    let list = |extra: &[&str]| {
        ids(&ok(
            &[&["shipments", "list", "--db", &db, "--json"], extra].concat()
        ))
    };
    assert_eq!(list(&[]), ["s-my-2", "s-ae-1", "s-cn-1", "s-my-1"]);
    assert_eq!(list(&["--status", "refused"]), ["s-cn-1"]);
    assert_eq!(list(&["--consignee", "华为技术有限公司"]), ["s-cn-1"]);
    assert_eq!(list(&["--consignee", "x sdn  BHD"]), ["s-my-1"]);
    assert_eq!(list(&["--country", "MY"]), ["s-my-2", "s-my-1"]);
    assert_eq!(
        list(&["--from", "2025-06-02", "--to", "2025-06-03"]),
        ["s-ae-1", "s-cn-1"]
    );
    // Pages of two with the cursor: every shipment once, newest first.
    let first: serde_json::Value = serde_json::from_str(&ok(&[
        "shipments",
        "list",
        "--db",
        &db,
        "--json",
        "--limit",
        "2",
    ]))
    .expect("json");
    let next = first["next"].as_str().expect("a next cursor").to_string();
    assert_eq!(
        list(&["--limit", "2", "--after", &next]),
        ["s-cn-1", "s-my-1"]
    );
    let table = ok(&["shipments", "list", "--db", &db]);
    assert!(table.starts_with("RECORDED (UTC)"), "{table}");
    assert!(
        table.contains("华为技术有限公司") && table.contains("refused"),
        "{table}"
    );
    let csv = ok(&[
        "shipments",
        "list",
        "--db",
        &db,
        "--csv",
        "--status",
        "refused",
    ]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("shipment_id,status")
    );
    assert!(
        lines
            .next()
            .expect("row")
            .starts_with("s-cn-1,refused,license,")
    );
}

#[test]
fn bad_input_is_one_line_naming_the_option() {
    let dir = fresh_dir("bad");
    let db = seeded(&dir);
    for (args, expect) in [
        (
            vec!["--from", "2025-13-01"],
            "option `--from`: `2025-13-01`",
        ),
        (vec!["--limit", "0"], "option `--limit`: `0`"),
        (vec!["--after", "zz"], "option `--after`: `zz`"),
        (
            vec!["--country", "Malaysia"],
            "option `--country`: `Malaysia`",
        ),
    ] {
        let out = aidf(&[&["shipments", "list", "--db", &db], &args[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{err}");
    }
    let out = aidf(&["shipments", "show", "nope", "--db", &db]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shipment `nope` not found"));
}

#[test]
fn show_and_record_in_every_format() {
    let dir = fresh_dir("record");
    let db = seeded(&dir);
    let shown = ok(&["shipments", "show", "s-cn-1", "--db", &db]);
    assert!(shown.contains("Shipment s-cn-1: REFUSED"), "{shown}");
    let view: serde_json::Value =
        serde_json::from_str(&ok(&["shipments", "show", "s-cn-1", "--db", &db, "--json"]))
            .expect("json");
    assert_eq!(view["summary"]["consignee"], "华为技术有限公司");
    let out = |ext: &str| {
        dir.join(format!("r.{ext}"))
            .to_str()
            .expect("utf8")
            .to_string()
    };
    for (format, file) in [
        ("pdf", out("pdf")),
        ("html", out("html")),
        ("json", out("json")),
    ] {
        ok(&[
            "record", "s-cn-1", "--format", format, "-o", &file, "--db", &db,
        ]);
    }
    let pdf = std::fs::read(out("pdf")).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        String::from_utf8_lossy(&pdf).contains("s-cn-1"),
        "the id in the PDF"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out("json")).expect("json")).expect("json");
    let html = std::fs::read_to_string(out("html")).expect("html");
    let reasons = record["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty());
    for r in reasons {
        let cite = r["citation"].as_str().expect("citation");
        let escaped = cite
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let escaped = escaped.replace('"', "&quot;").replace('\'', "&#39;");
        assert!(html.contains(&escaped), "citation {cite} in the HTML");
    }
    assert!(html.contains("华为技术有限公司"));
    assert!(
        record["audit"]["seq"].as_i64().is_some_and(|s| s > 0),
        "{record}"
    );
    assert_eq!(record["shipment"]["status"], "refused");
    let bad = aidf(&[
        "record",
        "nope",
        "--format",
        "pdf",
        "-o",
        &out("pdf"),
        "--db",
        &db,
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
