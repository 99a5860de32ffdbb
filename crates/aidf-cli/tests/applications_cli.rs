//! Issue 15's "done means", end to end through the CLI on SQLite and PostgreSQL: with the UAE's
//! government-to-government arrangement recorded (its 790,000,000 TPP allocation doubled), an
//! application for 50,000 H100 (791,600,000 TPP) holds the allocation (under the issuance reading
//! of the [U] switch, set in a copy of the policy), a second one for as many is determined with
//! presumption of denial naming the first (1,583,200,000 > 1,580,000,000), the first is approved
//! with a condition, a shipment under the license draws it, the register lists it, its record is
//! filed as a PDF and the VEU report is produced. An illegal transition exits 2 naming both
//! states, and a revoked license is named in the refusal.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-app-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// A copy of the repository's policy with `allocation_consumption_event = license_issued`.
fn issuance_policy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy");
    let dst = dir.join("policy");
    copy_dir(&src, &dst);
    let regime = dst.join("regimes/ai-diffusion-2025.toml");
    let text = std::fs::read_to_string(&regime).expect("regime");
    let from = "[switches.allocation_consumption_event]\nvalue = \"shipped\"";
    assert!(text.contains(from));
    let to = "[switches.allocation_consumption_event]\nvalue = \"license_issued\"";
    std::fs::write(&regime, text.replace(from, to)).expect("write");
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir") {
        let e = e.expect("entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}

struct Cli {
    policy: PathBuf,
    db: String,
    dir: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aidf"))
            .arg("--policy-dir")
            .arg(&self.policy)
            .args(args)
            .args(["--db", &self.db])
            .output()
            .expect("run")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("utf8").to_string()
    }
}

fn application(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","date":"2025-06-02","destination":"AE","consignee":{{"name":"Gulf Compute LLC","hq":"AE","parent_hq":"AE","veu":null}},"items":[{{"chip":"NVIDIA H100 SXM","quantity":50000}}],"value_usd":"1250000000.00","end_use":"deployment","applicant":{{"name":"Acme Exports Inc","country":"US"}},"end_users":[{{"name":"Gulf Compute LLC","country":"AE"}}]}}"#
    )
}

fn done_means(cli: &Cli) {
    let a1 = cli.file("app1.json", &application("APP-1"));
    let a2 = cli.file("app2.json", &application("APP-2"));
    cli.json(&["g2g", "add", "AE", "--date", "2025-01-15", "--json"]);
    let v = cli.json(&["application", "submit", &a1, "--json"]);
    assert_eq!(v["application"]["state"], "submitted");
    assert_eq!(v["application"]["review_policy"], "approval");
    assert_eq!(v["application"]["allocation"]["held_tpp"], 791_600_000u64);
    let bal = cli.json(&["ledger", "balance", "country:AE:2025-2027", "--json"]);
    assert_eq!(bal["balance"]["pending"], 791_600_000u64, "{bal}");

    let v = cli.json(&["application", "submit", &a2, "--json"]);
    assert_eq!(v["application"]["review_policy"], "denial");
    assert_eq!(v["application"]["allocation"]["held_by"][0]["id"], "APP-1");

    let cond = cli.file("cond.json", r#"[{"kind":"report_within_days","days":30}]"#);
    let v = cli.json(&[
        "application",
        "decide",
        "APP-1",
        "--approve",
        "--license-id",
        "L-1",
        "--conditions",
        &cond,
        "--date",
        "2025-06-10",
        "--json",
    ]);
    assert_eq!(v["application"]["state"], "approved");
    assert_eq!(v["transitions"][1]["from"], "submitted");
    assert_eq!(v["transitions"][1]["to"], "approved");

    let ship = cli.file(
        "ship.json",
        r#"{"date":"2025-06-12","destination":"AE","consignee":{"name":"Gulf Compute LLC","hq":"AE"},"item":{"chip":"NVIDIA H100 SXM"},"quantity":10000,"value_usd":"250000000.00"}"#,
    );
    let s = cli.json(&["ship", &ship, "--json", "--id", "s-1"]);
    assert_eq!(s["status"], "authorized", "{s}");
    assert_eq!(s["license_id"], "L-1");
    // The shipment's value is drawn on the license's value (15 CFR 750.11): 1,250,000,000.00
    // USD licensed plus 10 % is the cap.
    let shown = cli.json(&["license", "show", "L-1", "--json"]);
    assert_eq!(shown["value_cents"]["posted"], 25_000_000_000u64, "{shown}");
    assert_eq!(shown["value_cents"]["cap"], 137_500_000_000u64, "{shown}");
    let text = String::from_utf8_lossy(&cli.run(&["license", "show", "L-1"]).stdout).to_string();
    assert!(
        text.contains(
            "value  used   250,000,000.00  left 1,125,000,000.00  (USD; 1250000000.00 licensed"
        ),
        "{text}"
    );
    let bal = cli.json(&["ledger", "balance", "country:AE:2025-2027", "--json"]);
    assert_eq!(
        (
            bal["balance"]["posted"].clone(),
            bal["balance"]["pending"].clone()
        ),
        (791_600_000u64.into(), 0.into())
    );
    filed(cli);
    application_record(cli);

    // Illegal transition: exit 2, both states named.
    let out = cli.run(&[
        "application",
        "decide",
        "APP-1",
        "--deny",
        "--date",
        "2025-06-11",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("from `approved` to `denied`"), "{err}");

    // A revoked license: the refusal says so.
    cli.json(&["license", "revoke", "L-1", "--date", "2025-06-13", "--json"]);
    let s = cli.json(&["ship", &ship, "--json", "--id", "s-2"]);
    assert_eq!(s["status"], "refused");
    assert!(
        s["refusal"]
            .as_str()
            .unwrap_or_default()
            .contains("license `L-1`: revoked"),
        "{s}"
    );

    let list = cli.json(&["application", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    // Item 4: the processing times, as JSON and as text.
    let stats = cli.json(&["application", "stats", "--as-of", "2025-12-31", "--json"]);
    assert_eq!(stats["applications"], 2, "{stats}");
    assert_eq!(stats["approved"], 1, "{stats}");
    let out = cli.run(&["application", "stats", "--as-of", "2025-12-31"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("days to decision:") && text.contains("approval rate"),
        "{text}"
    );
}

/// The register lists the shipment, its record is filed as a PDF, and the VEU report of the
/// half-year is produced with its due date.
fn filed(cli: &Cli) {
    let list = cli.json(&["shipments", "list", "--country", "AE", "--json"]);
    assert_eq!(list["items"][0]["shipment_id"], "s-1", "{list}");
    assert_eq!(list["items"][0]["license_id"], "L-1", "{list}");
    assert_eq!(list["items"][0]["status"], "authorized", "{list}");
    let pdf = cli.dir.join("s-1.pdf");
    let pdf_path = pdf.to_str().expect("utf8");
    let out = cli.run(&["record", "s-1", "--format", "pdf", "-o", pdf_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It says what it wrote (it printed nothing before).
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("wrote the compliance record of shipment `s-1` to {pdf_path} (PDF)\n")
    );
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let report = cli.json(&[
        "report",
        "veu-semiannual",
        "--period",
        "2025-H1",
        "--format",
        "json",
    ]);
    // Due 15 July for January to June; the licensed shipment is under no VEU, so no rows.
    assert_eq!(report["due"], "2025-07-15", "{report}");
    assert!(
        report["period"]
            .as_str()
            .is_some_and(|p| p.starts_with("2025-H1")),
        "{report}"
    );
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(0), "{report}");
}

/// The application's own compliance record: as filed, the hold, each transition with its audit
/// record; an id that is neither a shipment nor an application exits 2 naming it.
fn application_record(cli: &Cli) {
    let json = cli.dir.join("app-1.json");
    let out = cli.run(&[
        "record",
        "APP-1",
        "--format",
        "json",
        "-o",
        json.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("wrote the compliance record of application `APP-1` to "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("json");
    assert_eq!(r["application"]["state"], "approved", "{r}");
    assert_eq!(
        r["application"]["allocation"]["held_tpp"], 791_600_000u64,
        "{r}"
    );
    assert_eq!(r["transitions"][1]["to"], "approved", "{r}");
    assert!(r["transitions"][1]["audit"]["seq"].is_u64(), "chained: {r}");
    let html = cli.dir.join("app-1.html");
    let out = cli.run(&[
        "record",
        "APP-1",
        "--format",
        "html",
        "-o",
        html.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("application APP-1 (approved)") && page.contains("submitted → approved"),
        "{page}"
    );
    let pdf = cli.dir.join("app-1.pdf");
    let out = cli.run(&[
        "record",
        "APP-1",
        "--format",
        "pdf",
        "-o",
        pdf.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF-"));
    let out = cli.run(&[
        "record",
        "NOPE",
        "--format",
        "json",
        "-o",
        json.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no shipment or application `NOPE`"), "{err}");
}

#[test]
fn done_means_on_sqlite() {
    let dir = fresh_dir("sqlite");
    let cli = Cli {
        policy: issuance_policy(&dir),
        db: dir.join("l.db").to_str().expect("utf8").to_string(),
        dir,
    };
    done_means(&cli);
}

#[test]
fn done_means_on_postgres() {
    let Some((mut admin, schema, url)) = support::pg_schema("aidf_app_cli") else {
        return;
    };
    let dir = fresh_dir("pg");
    let cli = Cli {
        policy: issuance_policy(&dir),
        db: url,
        dir,
    };
    done_means(&cli);
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}
