//! The CLI's writes are audited: `ship`, `license add`, `veu add`, `g2g add`, `ledger
//! reserve|post|void|attrition`, `token create|revoke` each leave a chained record with actor
//! `local:<user>`, and `audit verify` checks the chain, its checkpoints and the anchor.

use std::path::Path;
use std::process::Command;

use aidf_ledger::audit::Auditor;
use aidf_ledger::{Ledger, LedgerStore};

const INPUT: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":100}"#;

const NVEU_INPUT: &str = r#"{"date":"2025-06-01","destination":"IN","consignee":{"name":"Acme","hq":"US","veu":{"kind":"nveu","id":"V-2"}},"item":{"chip":"H100 SXM"},"quantity":1}"#;

/// Runs `aidf` as user `auditor-test`; panics (with stderr) unless it succeeds.
fn aidf(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .env("USER", "auditor-test")
        .env_remove("AIDF_AUDIT_KEY")
        .env_remove("AIDF_AUDIT_KEY_FILE")
        .output()
        .expect("run aidf");
    assert!(
        out.status.success(),
        "aidf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_cli_write_is_audited_as_the_local_user() {
    let dir = tempfile_dir("cli");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    let input = dir.join("ship.json");
    std::fs::write(&input, INPUT).expect("write");
    let input = input.to_str().expect("utf8");
    aidf(&["ship", input, "--db", db, "--id", "s-1"]);
    let lic = [
        "license",
        "add",
        "L-1",
        "--consignee",
        "X Sdn Bhd",
        "--destination",
        "MY",
        "--units",
        "10",
        "--tpp",
        "100000",
        "--granted",
        "2025-01-01",
        "--expires",
        "2026-01-01",
    ];
    aidf(&[&lic[..], &["--db", db]].concat());
    aidf(&[
        "veu", "add", "V-1", "--kind", "uveu", "--owner", "Acme", "--hq", "US", "--site", "dc1:IN",
        "--db", db,
    ]);
    aidf(&["g2g", "add", "MY", "--date", "2025-02-01", "--db", db]);
    let account = aidf_core::AccountRef::LppAnnual {
        party: aidf_core::PartyId::of("X Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("local");
    let account = account.as_str();
    aidf(&["ledger", "reserve", "r-1", account, "10", "--db", db]);
    aidf(&["ledger", "post", "p-1", "r-1", "--amount", "5", "--db", db]);
    aidf(&["ledger", "reserve", "r-2", account, "10", "--db", db]);
    aidf(&["ledger", "void", "v-2", "r-2", "--db", db]);
    // Attrition applies to an installed base: an NVEU's, drawn by a shipment under it.
    aidf(&[
        "veu", "add", "V-2", "--kind", "nveu", "--owner", "Acme", "--hq", "US", "--site", "dc2:IN",
        "--db", db,
    ]);
    let nveu_input = dir.join("nveu.json");
    std::fs::write(&nveu_input, NVEU_INPUT).expect("write");
    aidf(&[
        "ship",
        nveu_input.to_str().expect("utf8"),
        "--db",
        db,
        "--id",
        "s-2",
    ]);
    aidf(&[
        "ledger",
        "attrition",
        "a-1",
        "nveu:local@V-2:IN",
        "1",
        "--db",
        db,
    ]);
    aidf(&[
        "token", "create", "--tenant", "acme", "--role", "viewer", "--db", db,
    ]);
    let listed = aidf(&["token", "list", "--json", "--db", db]);
    let id = serde_json::from_str::<serde_json::Value>(&listed).expect("json")[0]["id"]
        .as_str()
        .expect("token id")
        .to_string();
    aidf(&["token", "revoke", &id, "--db", db]);
    let verified = aidf(&["audit", "verify", "--db", db, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&verified).expect("json");
    assert_eq!(v["ok"], true, "{verified}");

    let mut l = Ledger::open(db).expect("open");
    let mut records = l.audit_records("local", 1000).expect("records");
    records.reverse();
    for want in [
        "shipment",
        "license.add",
        "veu.add",
        "g2g.add",
        "ledger.reserve",
        "ledger.post",
        "ledger.void",
        "ledger.attrition",
        "token.create",
        "token.revoke",
    ] {
        assert!(
            records.iter().any(|r| r.action == want),
            "no `{want}` record in {:?}",
            records.iter().map(|r| &r.action).collect::<Vec<_>>()
        );
    }
    assert!(
        records.iter().all(|r| r.actor == "local:auditor-test"),
        "{records:?}"
    );
    let shipment = records
        .iter()
        .find(|r| r.action == "shipment")
        .expect("shipment");
    assert_eq!(shipment.subject, "s-1");
    assert!(shipment.regime_digest.starts_with("sha256:"));
    assert!(key_is_private(
        &Path::new(db).with_extension("db.audit-key")
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
fn key_is_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o600)
}

#[cfg(not(unix))]
fn key_is_private(path: &Path) -> bool {
    path.exists()
}

#[test]
fn a_tail_deleted_behind_the_clis_back_fails_verify() {
    let dir = tempfile_dir("tail");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    aidf(&["g2g", "add", "MY", "--date", "2025-02-01", "--db", db]);
    aidf(&["g2g", "add", "IN", "--date", "2025-02-01", "--db", db]);
    let c = rusqlite_free_exec(
        db,
        "DROP TRIGGER aidf_audit_no_delete; DROP TRIGGER aidf_audit_checkpoints_no_delete; \
         DELETE FROM aidf_audit WHERE seq = 2; DELETE FROM aidf_audit_checkpoints;",
    );
    assert!(c.is_ok(), "{c:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(["audit", "verify", "--db", db])
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("records were removed"), "{err}");
    // The anchor next to the key says how many records there were.
    let mut l = Ledger::open(db).expect("open");
    let (auditor, _) = Auditor::open(db, None).expect("key");
    assert_eq!(
        auditor.read_anchor().expect("anchor").map(|a| a.records),
        Some(2)
    );
    assert!(!auditor.verify(&mut l).expect("verify").ok);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs SQL on a SQLite file with python3 (the test has no SQLite shell).
fn rusqlite_free_exec(db: &str, sql: &str) -> Result<(), String> {
    let script = format!(
        "import sqlite3; c=sqlite3.connect('{db}'); c.executescript('''{sql}'''); c.commit()"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("aidf-audit-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}
