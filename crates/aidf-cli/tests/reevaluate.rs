//! `aidf reevaluate`: a recorded book of shipments re-run under a hypothetical regime that doubles
//! every Tier 2 allocation shows exactly the license shipments refused for an exhausted allocation
//! now approved; under the regime they were recorded under, nothing changes. Also batch files and
//! the CSV/JSON/table outputs. On SQLite and PostgreSQL.

mod support;

use std::process::{Command, Output};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn aidf(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .current_dir(ROOT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(s.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("json")
}

fn input(name: &str, dest: &str, hq: &str, qty: u64) -> String {
    format!(
        r#"{{"date":"2025-06-01","destination":"{dest}","consignee":{{"name":"{name}","hq":"{hq}"}},"item":{{"chip":"H100 SXM"}},"quantity":{qty}}}"#
    )
}

/// The book: two licensed shipments fill Malaysia's allocation to 775,768,000 TPP; two later
/// license shipments to Malaysia are refused for the exhausted allocation (denial); one LPP, one
/// AIA, one Tier 3 denial, and one Indian shipment refused only for want of a license (approval).
fn record_book(db: &str) {
    for (id, consignee) in [("L-A", "Northwind Compute"), ("L-B", "Southwind Compute")] {
        ok(&aidf(
            &[
                "license",
                "add",
                id,
                "--consignee",
                consignee,
                "--destination",
                "MY",
                "--units",
                "100000",
                "--tpp",
                "2000000000",
                "--granted",
                "2025-01-01",
                "--expires",
                "2027-12-31",
                "--db",
                db,
            ],
            None,
        ));
    }
    let book = [
        (
            "S1",
            input("Northwind Compute", "MY", "MY", 25_000),
            "authorized",
            "license",
            Some("approval"),
        ),
        (
            "S2",
            input("Southwind Compute", "MY", "MY", 24_000),
            "authorized",
            "license",
            Some("approval"),
        ),
        (
            "S3",
            input("Gamma", "MY", "MY", 2_000),
            "refused",
            "license",
            Some("denial"),
        ),
        (
            "S4",
            input("Bluefin Compute", "MY", "MY", 1_000),
            "authorized",
            "LPP",
            None,
        ),
        (
            "S5",
            input("Epsilon", "DE", "DE", 1_000),
            "authorized",
            "AIA",
            None,
        ),
        (
            "S6",
            input("Larkspur Compute", "IN", "IN", 2_000),
            "refused",
            "license",
            Some("approval"),
        ),
        (
            "S7",
            input("Marigold Compute", "MY", "MY", 3_000),
            "refused",
            "license",
            Some("denial"),
        ),
        (
            "S8",
            input("Theta", "CN", "CN", 10),
            "refused",
            "license",
            Some("denial"),
        ),
    ];
    for (id, text, status, auth, review) in book {
        let v = json(&aidf(
            &["ship", "-", "--db", db, "--id", id, "--json"],
            Some(&text),
        ));
        assert_eq!(v["status"], status, "{id}");
        assert_eq!(v["determination"]["authorization"], auth, "{id}");
        assert_eq!(
            v["determination"]["review_policy"],
            review.map(serde_json::Value::from).unwrap_or_default(),
            "{id}"
        );
    }
}

fn doubled(db: &str) {
    record_book(db);
    let file = "examples/regimes/double-tier2.toml";
    let run = |under: &str, format: &str| {
        aidf(
            &[
                "--regime-file",
                file,
                "reevaluate",
                "--under",
                under,
                "--db",
                db,
                "--format",
                format,
            ],
            None,
        )
    };
    let v = json(&run("double-tier2", "json"));
    assert_eq!(v["evaluated"], 8);
    assert_eq!(v["skipped"], serde_json::json!([]));
    let ids: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    // Exactly the refused-for-exhausted-allocation shipments; not S6 (refused for want of a
    // license, approval either way).
    assert_eq!(ids, ["S3", "S7"]);
    for c in v["changes"].as_array().expect("changes") {
        assert_eq!(c["recorded_status"], "refused");
        assert_eq!(c["from"]["authorization"], "license");
        assert_eq!(c["from"]["review_policy"], "denial");
        assert_eq!(c["from"]["regime"], "ai-diffusion-2025");
        assert_eq!(c["to"]["review_policy"], "approval");
        assert_eq!(c["to"]["regime"], "double-tier2");
        assert_eq!(c["why"][0]["rule"], "allocation.within");
        assert!(
            c["why"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("1,580,000,000 TPP")),
            "{c}"
        );
    }
    // S7 sees S3's draw in the replay: 775,768,000 + 31,664,000 + 47,496,000.
    assert!(
        v["changes"][1]["why"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("807,432,000 used + 47,496,000 = 854,928,000")),
        "{}",
        v["changes"][1]
    );
    assert_eq!(
        v["by_outcome"],
        serde_json::json!({"license (denial) -> license (approval)": 2})
    );
    assert_eq!(v["by_country"]["MY"]["shipments"], 5);
    assert_eq!(v["by_country"]["MY"]["changed"], 2);
    assert_eq!(
        v["by_country"]["MY"]["changed_tpp"],
        31_664_000 + 47_496_000
    );
    assert_eq!(v["by_country"]["IN"]["changed"], 0);

    // Under the regime the book was recorded under, the replay reproduces every outcome.
    let v = json(&run("ai-diffusion-2025", "json"));
    assert_eq!(
        (v["evaluated"].clone(), v["changed"].clone()),
        (8.into(), 0.into())
    );

    // CSV: a header and one row per change.
    let csv = ok(&run("double-tier2", "csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,date,destination,consignee,item,quantity,total_tpp"));
    assert!(lines[1].starts_with("S3,2025-06-01,MY,Gamma,nvidia-h100-sxm,2000,31664000,refused,ai-diffusion-2025,license (denial),double-tier2,license (approval),"), "{csv}");
    // The table carries the totals.
    let t = ok(&run("double-tier2", "table"));
    assert!(t.contains("2 changed, 6 unchanged, 0 skipped"), "{t}");
    assert!(t.contains("license (denial) -> license (approval)"), "{t}");

    // As the enforced rules had it, Malaysia needed no license at all.
    let v = json(&run("h20-2025", "json"));
    let my: Vec<_> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["destination"] == "MY")
        .map(|c| c["to"]["authorization"].as_str().expect("auth").to_string())
        .collect();
    assert_eq!(my, ["NLR"; 5]);
}

#[test]
fn doubled_tier2_allocation_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("aidf-reeval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("book.db");
    doubled(db.to_str().expect("utf8"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn doubled_tier2_allocation_on_postgres() {
    let Some((mut client, schema, url)) = support::pg_schema("aidf_reeval") else {
        return;
    };
    doubled(&url);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}

#[test]
fn batch_files_and_errors() {
    let lines = [
        // Exhausted allocation: denial, approval when doubled.
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"A","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000,"context":{"country_allocation_used_tpp":1000000000}}"#,
        // LPP: unchanged.
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"B","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#,
        "",
        // Above even the doubled cap: unchanged.
        r#"{"date":"2025-06-01","destination":"TH","consignee":{"name":"C","hq":"TH"},"item":{"chip":"H100 SXM"},"quantity":2000,"context":{"country_allocation_used_tpp":1579000000}}"#,
    ]
    .join("\n");
    let out = aidf(
        &[
            "--regime-file",
            "examples/regimes/double-tier2.toml",
            "reevaluate",
            "--under",
            "double-tier2",
            "--batch",
            "-",
            "--format",
            "json",
        ],
        Some(&lines),
    );
    let v = json(&out);
    assert_eq!(v["source"], "batch");
    assert_eq!(v["evaluated"], 3);
    assert_eq!(v["changes"][0]["id"], "line 1");
    assert_eq!(v["changed"], 1);
    assert_eq!(v["by_country"]["TH"]["changed"], 0);
    // Errors: exit 2, one line, naming what is wrong.
    let bad = |args: &[&str], stdin: Option<&str>, want: &str| {
        let out = aidf(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "`{err}` lacks `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    bad(
        &["reevaluate", "--under", "nope", "--batch", "-"],
        Some(""),
        "option `--under`: unknown regime `nope`",
    );
    bad(
        &["reevaluate", "--under", "ac-2023", "--batch", "-"],
        Some("{\"date\":\"2025-06-01\"}\n"),
        "batch line 1: field `destination`: required but missing",
    );
    bad(
        &[
            "reevaluate",
            "--under",
            "ac-2023",
            "--db",
            "/nonexistent/aidf.db",
        ],
        None,
        "option `--db`: ledger `/nonexistent/aidf.db` does not exist",
    );
}
