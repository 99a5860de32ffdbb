//! `audit verify` over a long chain: records per second, and (under `/usr/bin/time -v`) peak
//! memory. Two phases, so the memory figure is the verification's alone:
//!
//! ```text
//! audit_verify build PATH [RECORDS]   # a SQLite ledger with RECORDS (default 1,000,000) records
//! audit_verify verify PATH            # verify it; prints records, seconds, records/s
//! ```
//!
//! `scripts/bench-audit.sh` runs both with a release build and reports the figures.

use std::time::Instant;

use aidf_ledger::Ledger;
use aidf_ledger::audit::{AuditEvent, AuditKey, Auditor, NewAudit};

const KEY: &[u8] = b"the audit benchmark's key, 32+ bytes";

fn auditor(path: &str) -> Auditor {
    Auditor::new(AuditKey::new(KEY), Some(format!("{path}.anchor").into()))
}

/// A record shaped like a shipment's (digests, ids, outcome), so sizes are realistic.
fn record(i: u64) -> NewAudit {
    NewAudit {
        at: 1_735_689_600_000 + i64::try_from(i).unwrap_or(0),
        tenant: "acme".into(),
        actor: "tok_0123456789ab".into(),
        event: AuditEvent {
            action: "shipment".into(),
            subject: format!("acme.order-{i}"),
            input_digest: format!("sha256:{:064x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15),
            outcome: "authorized:lpp".into(),
            regime_digest: format!("sha256:{:064x}", 42),
        },
    }
}

fn build(path: &str, records: u64) {
    let mut ledger = Ledger::open(path).expect("open");
    let auditor = auditor(path);
    let t0 = Instant::now();
    let mut next = 0;
    while next < records {
        let batch: Vec<NewAudit> = (next..records.min(next + 4096)).map(record).collect();
        next += batch.len() as u64;
        auditor
            .chain(&mut ledger, &batch, next == records)
            .expect("chain");
    }
    println!(
        "built {records} records in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

fn verify(path: &str) {
    let mut ledger = Ledger::open(path).expect("open");
    let auditor = auditor(path);
    let t0 = Instant::now();
    let v = auditor.verify(&mut ledger).expect("verify");
    let secs = t0.elapsed().as_secs_f64();
    assert!(v.ok, "{v:?}");
    println!(
        "verified {} records in {secs:.2} s: {:.0} records/s (checkpoints {}, anchored {:?})",
        v.records,
        v.records as f64 / secs,
        v.checkpoints,
        v.anchored_records
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [mode, path] if mode == "verify" => verify(path),
        [mode, path] if mode == "build" => build(path, 1_000_000),
        [mode, path, n] if mode == "build" => build(path, n.parse().expect("RECORDS")),
        _ => eprintln!("usage: audit_verify build PATH [RECORDS] | verify PATH"),
    }
}
