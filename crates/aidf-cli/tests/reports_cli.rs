//! Issue 15, item 7: reports to BIS from the ledger, with their period, due date and citation.

use std::path::Path;
use std::process::{Command, Output};

fn aidf(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .env("AIDF_DB", db)
        .env_remove("AIDF_CONFIG")
        .output()
        .expect("run aidf")
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = aidf(db, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each command exits 2 with one line on stderr that says what it should.
fn refuses(db: &Path, cases: &[(&[&str], &str)]) {
    for (args, says) in cases {
        let out = aidf(db, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

fn ship(dir: &Path, db: &Path, id: &str, body: &str) {
    let file = dir.join(format!("{id}.json"));
    std::fs::write(&file, body).expect("input");
    ok(db, &["ship", file.to_str().expect("utf8"), "--id", id]);
}

#[test]
fn veu_aia_and_lpp_reports_come_from_the_ledger() {
    let dir = std::env::temp_dir().join(format!("aidf-reports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("l.db");
    ok(
        &db,
        &[
            "veu",
            "add",
            "V-1",
            "--kind",
            "uveu",
            "--owner",
            "Acme Cloud",
            "--hq",
            "US",
            "--site",
            "dc1:IN",
        ],
    );
    ship(
        &dir,
        &db,
        "u1",
        r#"{"date":"2025-06-01","destination":"IN","consignee":{"name":"Acme Cloud India","hq":"US","veu":{"kind":"uveu","id":"V-1"}},"item":{"chip":"H100 SXM"},"quantity":100}"#,
    );
    ship(
        &dir,
        &db,
        "u2",
        r#"{"date":"2025-08-01","destination":"IN","consignee":{"name":"Acme Cloud India","hq":"US","veu":{"kind":"uveu","id":"V-1"}},"item":{"chip":"H100 SXM"},"quantity":10}"#,
    );
    // 16,000 H100 under AIA: 253,312,000 TPP, past the 253,000,000 trigger.
    ship(
        &dir,
        &db,
        "a1",
        r#"{"date":"2025-06-01","destination":"DE","consignee":{"name":"Rechenzentrum GmbH","hq":"DE"},"item":{"chip":"H100 SXM"},"quantity":16000}"#,
    );
    ship(
        &dir,
        &db,
        "a2",
        r#"{"date":"2025-06-01","destination":"FR","consignee":{"name":"Petit Calcul SAS","hq":"FR"},"item":{"chip":"H100 SXM"},"quantity":10}"#,
    );
    ship(
        &dir,
        &db,
        "l1",
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"华为马来西亚","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#,
    );

    let veu: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &[
            "report",
            "veu-semiannual",
            "--period",
            "2025-H1",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    assert_eq!(veu["due"], "2025-07-15");
    assert_eq!(veu["rows"].as_array().map(Vec::len), Some(1), "{veu}");
    assert_eq!(veu["rows"][0][1], "u1");
    assert_eq!(veu["rows"][0][3], "V-1");
    let h2 = ok(
        &db,
        &[
            "report",
            "veu-semiannual",
            "--period",
            "2025-h2",
            "--format",
            "csv",
        ],
    );
    assert_eq!(h2.lines().count(), 2, "{h2}");
    assert!(h2.contains(",u2,UVEU,V-1,"), "{h2}");
    let h2 = ok(&db, &["report", "veu-semiannual", "--period", "2025-H2"]);
    assert!(h2.contains("due: 2026-01-15"), "{h2}");

    let aia = ok(
        &db,
        &[
            "report",
            "aia-certifications",
            "--as-of",
            "2025-12-31",
            "--format",
            "csv",
        ],
    );
    let lines: Vec<&str> = aia.lines().collect();
    assert_eq!(lines.len(), 2, "only the consignee past the trigger: {aia}");
    assert!(lines[1].starts_with("Rechenzentrum GmbH,DE,"), "{aia}");
    assert!(
        lines[1].ends_with(",253312000,253000000,2025-06-01"),
        "{aia}"
    );
    let before = ok(
        &db,
        &["report", "aia-certifications", "--as-of", "2025-05-31"],
    );
    assert!(before.contains("nothing to report"), "{before}");
    assert!(before.contains("[U] aia_reporting_trigger_tpp"), "{before}");

    let lpp = ok(&db, &["report", "lpp-certifications", "--period", "2025"]);
    assert!(
        lpp.contains("华为马来西亚") && lpp.contains("158,320") && lpp.contains("26,741,680"),
        "{lpp}"
    );
    let none = ok(
        &db,
        &[
            "report",
            "lpp-certifications",
            "--period",
            "2026",
            "--format",
            "csv",
        ],
    );
    assert_eq!(none.lines().count(), 1, "{none}");

    refuses(
        &db,
        &[
            (
                &["report", "veu-semiannual", "--period", "2025-H3"][..],
                "option `--period`: `2025-H3`: the half year is one of H1, H2",
            ),
            (
                &["report", "veu-semiannual", "--period", "2025"][..],
                "option `--period`",
            ),
            (&["report", "lpp-certifications"][..], "option `--period`"),
            (
                &["report", "lpp-certifications", "--period", "next"][..],
                "`next` does not start with a year",
            ),
        ],
    );

    // What is due on 2025-08-01: the AIA consignee past the trigger (due when it was reached),
    // the VEU report of 2025-H1 (15 July, passed) and of 2025-H2 (15 January 2026).
    let due: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &["report", "due", "--as-of", "2025-08-01", "--json"],
    ))
    .expect("json");
    let rows: Vec<String> = due
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {}",
                d["report"], d["period"], d["due"], d["status"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            r#""aia-certifications" "to 2025-08-01" "2025-06-01" "overdue""#,
            r#""veu-semiannual" "2025-H1" "2025-07-15" "overdue""#,
            r#""veu-semiannual" "2025-H2" "2026-01-15" "upcoming""#,
        ]
    );
    assert_eq!(
        due[0]["reason"],
        "consignee Rechenzentrum GmbH (DE) passed the AIA trigger on 2025-06-01: 253312000 TPP >= 253000000 TPP"
    );
    assert_eq!(
        due[1]["reason"],
        "VEU recorded in the ledger: V-1; 1 shipment(s) under a VEU in the period"
    );
    let text = ok(&db, &["report", "due", "--as-of", "2025-08-01"]);
    assert!(text.starts_with("Reports due as of 2025-08-01\n"), "{text}");
    assert!(
        text.contains("veu-semiannual      2025-H2        2026-01-15  upcoming"),
        "{text}"
    );
    let bad = aidf(&db, &["report", "due", "--as-of", "2025-02-30"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--as-of"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The NAC notification's content for a recorded shipment and for a prospective one (an input
/// file, nothing recorded): the same fields, the regime's 25-day waiting period counted from the
/// notification date, every field cited; any report as a PDF.
#[test]
fn nac_notification_and_pdf_reports() {
    let dir = std::env::temp_dir().join(format!("aidf-nac-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("l.db");
    let body = r#"{"date":"2025-06-01","destination":"CN","consignee":{"name":"Shenzhen Gaming Ltd","hq":"CN"},"item":{"chip":"nvidia-rtx-4090"},"quantity":100}"#;
    ship(&dir, &db, "n1", body);
    let input = dir.join("n1.json");
    let recorded: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &[
            "report",
            "nac-notification",
            "--shipment",
            "n1",
            "--as-of",
            "2025-05-01",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    let prospective: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &[
            "report",
            "nac-notification",
            "--input",
            input.to_str().expect("utf8"),
            "--as-of",
            "2025-05-01",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    assert_eq!(
        recorded["rows"], prospective["rows"],
        "same content either way"
    );
    assert_eq!(recorded["due"], "2025-05-07", "{recorded}");
    assert_eq!(recorded["citation"], "15 CFR 740.8(a)");
    let field = |label: &str| -> Vec<String> {
        let rows = recorded["rows"].as_array().expect("rows");
        let row = rows
            .iter()
            .find(|r| r[0].as_str().is_some_and(|l| l.starts_with(label)))
            .unwrap_or_else(|| panic!("no row {label}: {recorded}"));
        row.as_array()
            .expect("row")
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(field("Earliest ship date")[1], "2025-05-26");
    assert_eq!(field("Waiting period")[1], "25");
    assert_eq!(field("Total processing performance")[1], "5285");
    assert_eq!(field("Quantity")[1], "100");
    assert_eq!(field("Total TPP")[1], "528500");
    assert_eq!(
        field("Destination")[3],
        "U",
        "unconfirmed fields are tagged"
    );
    let notes = recorded["notes"].to_string();
    assert!(notes.contains("[U] field `destination`"), "{notes}");
    for row in recorded["rows"].as_array().expect("rows") {
        assert!(
            !row[2].as_str().unwrap_or_default().is_empty(),
            "cited: {row}"
        );
    }

    let pdf = dir.join("nac.pdf");
    ok(
        &db,
        &[
            "report",
            "nac-notification",
            "--shipment",
            "n1",
            "--format",
            "pdf",
            "-o",
            pdf.to_str().expect("utf8"),
        ],
    );
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    refuses(
        &db,
        &[
            (
                &["report", "nac-notification", "--shipment", "nope"][..],
                "option `--shipment`: shipment `nope` not found",
            ),
            (&["report", "nac-notification"][..], "option `--shipment`"),
            (
                &[
                    "report",
                    "lpp-certifications",
                    "--period",
                    "2025",
                    "--format",
                    "pdf",
                ][..],
                "option `-o`",
            ),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
