//! End to end: 20 `aidf ship` processes in parallel, each shipping 100 H100 (1,583,200 TPP) to the
//! same Tier 2 consignee in the same year. Exactly 16 fit the 26,900,000 TPP LPP limit; the other
//! four need a license, and with none recorded they are refused and draw nothing. On SQLite and on
//! PostgreSQL.

mod support;

use std::process::{Command, Stdio};

const INPUT: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":100}"#;

/// The LPP account of `INPUT`'s consignee in the CLI's tenant, as the determination keys it.
fn lpp_key() -> String {
    aidf_core::AccountRef::LppAnnual {
        party: aidf_core::PartyId::of("X Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("local")
}

fn aidf(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidf"));
    c.args(args);
    c
}

fn twenty_in_parallel(db: &str) {
    let dir = std::env::temp_dir().join(format!("aidf-ship-{}-{}", std::process::id(), db.len()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let input = dir.join("ship.json");
    std::fs::write(&input, INPUT).expect("write");
    let input = input.to_str().expect("utf8").to_string();
    let children: Vec<_> = (0..20)
        .map(|i| {
            aidf(&[
                "ship",
                &input,
                "--db",
                db,
                "--json",
                "--id",
                &format!("e2e-{i}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    let mut authorized = 0;
    let mut refused = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        match v["status"].as_str() {
            Some("authorized") => {
                authorized += 1;
                assert_eq!(v["determination"]["authorization"], "LPP");
                assert_eq!(v["entries"][0]["account"], lpp_key());
            }
            Some("refused") => {
                refused += 1;
                assert_eq!(v["determination"]["authorization"], "license");
                assert_eq!(v["license_id"], serde_json::Value::Null);
                assert_eq!(v["entries"].as_array().map(Vec::len), Some(0));
            }
            other => panic!("status {other:?}"),
        }
    }
    assert_eq!((authorized, refused), (16, 4), "on {db}");
    let out = aidf(&["ledger", "balance", &lpp_key(), "--db", db, "--json"])
        .output()
        .expect("balance");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["balance"]["posted"], 16 * 1_583_200);
    assert_eq!(v["balance"]["pending"], 0);
    // Nothing drew the country allocation.
    let out = aidf(&["ledger", "accounts", "--db", db, "--json"])
        .output()
        .expect("accounts");
    let accounts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for a in accounts.as_array().expect("array") {
        if a["kind"] == "country_allocation" {
            assert_eq!(a["posted"], 0);
        }
    }
    // A replay of a shipment id returns the stored record.
    let out = aidf(&["ship", &input, "--db", db, "--json", "--id", "e2e-0"])
        .output()
        .expect("replay");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["replayed"], true);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn twenty_parallel_ships_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("aidf-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("ledger.db");
    twenty_in_parallel(db.to_str().expect("utf8"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn twenty_parallel_ships_on_postgres() {
    let Some((mut client, schema, url)) = support::pg_schema("aidf_cli_e2e") else {
        return;
    };
    twenty_in_parallel(&url);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}

#[test]
fn ship_with_a_license_draws_it() {
    let dir = std::env::temp_dir().join(format!("aidf-lic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("l.db");
    let db = db.to_str().expect("utf8");
    let out = aidf(&[
        "license",
        "add",
        "L-1",
        "--db",
        db,
        "--consignee",
        "X Sdn Bhd",
        "--destination",
        "MY",
        "--item",
        "H100 SXM",
        "--units",
        "2500",
        "--tpp",
        "40000000",
        "--granted",
        "2025-05-20",
        "--expires",
        "2026-05-20",
    ])
    .output()
    .expect("license add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let input = dir.join("big.json");
    std::fs::write(
        &input,
        INPUT.replace("\"quantity\":100", "\"quantity\":2000"),
    )
    .expect("write");
    let out = aidf(&[
        "ship",
        input.to_str().expect("utf8"),
        "--db",
        db,
        "--json",
        "--id",
        "big-1",
    ])
    .output()
    .expect("ship");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], "authorized", "{v}");
    assert_eq!(v["license_id"], "L-1");
    let accounts: Vec<String> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["account"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        accounts,
        [
            "country:MY:2025-2027",
            "license:L-1:tpp",
            "license:L-1:units"
        ]
    );
    // The second 2,000 exceeds the license's 2,500 units: refused, nothing drawn.
    let out = aidf(&[
        "ship",
        input.to_str().expect("utf8"),
        "--db",
        db,
        "--json",
        "--id",
        "big-2",
    ])
    .output()
    .expect("ship");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], "refused", "{v}");
    // Bad input through the ledger commands: exit 2, one line.
    let out = aidf(&["ledger", "balance", "no:such:account", "--db", db])
        .output()
        .expect("bal");
    assert_eq!(out.status.code(), Some(2));
    let out = aidf(&["ledger", "reserve", "bad id!", &lpp_key(), "5", "--db", db])
        .output()
        .expect("reserve");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad id!"), "{err}");
    let not_a_ledger = dir.join("plain.txt");
    std::fs::write(&not_a_ledger, "hello").expect("write");
    let out = aidf(&[
        "ledger",
        "accounts",
        "--db",
        not_a_ledger.to_str().expect("utf8"),
    ])
    .output()
    .expect("accounts");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&not_a_ledger).expect("read"),
        "hello"
    );
    let _ = std::fs::remove_dir_all(dir);
}
