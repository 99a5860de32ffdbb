//! Cost growth of the shipment path: shipments per second on an empty SQLite ledger, and again
//! once it holds `AIDF_GROWTH_SHIPMENTS` earlier shipments (default 1,000,000), through the path
//! the server's writer runs (`ship_group`, groups of 64, every shipment drawing a consignee's LPP
//! year and writing its record, draws and audit outbox row).
//!
//! `cargo bench -p aidf-service --bench growth` (release profile). Environment:
//! * `AIDF_GROWTH_SHIPMENTS` earlier shipments (default 1,000,000; ~4 KB of ledger each)
//! * `AIDF_GROWTH_SAMPLE` shipments per measurement (default 20,000)
//! * `AIDF_GROWTH_DIR` where the ledger file goes (default a temporary directory)
//!
//! Prints `RESULT empty <shipments/s>`, `RESULT after_<n> <shipments/s>` and the ratio (the
//! aim of issue 12: at least 0.80).

use std::time::Instant;

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::audit::AuditContext;
use aidf_ledger::{Ledger, Timestamp};
use aidf_service::{GroupItem, ShipConfig, ShipRequest, ship_group};

/// 2025-06-02T12:00:00Z: the shipments, dated the day before, are no backfill.
const NOW: Timestamp = Timestamp(1_748_865_600_000);
/// Consignees: one H100 each time, about 1,000 shipments per consignee per million, all within
/// the LPP year (1,699 H100 a consignee). Few enough that opening their accounts is a small part
/// of the empty ledger's sample (which would otherwise flatter the full ledger).
const CONSIGNEES: usize = 1_000;
const GROUP: usize = 64;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The name of consignee `n`, spelled in letters: every shipment is screened, and a name with
/// a number in it ("Consignee 728") was a possible hit on a list entry written with digits
/// ("7-28"), held for review and so not drawn.
fn consignee_name(n: usize) -> String {
    let mut letters = String::new();
    let mut rest = n;
    loop {
        letters.insert(0, char::from(b'a' + (rest % 26) as u8));
        rest /= 26;
        if rest == 0 {
            break;
        }
    }
    format!("Consignee Qx{letters} Sdn Bhd")
}

fn input(i: usize) -> DeterminationInput {
    serde_json::from_str(&format!(
        r#"{{"date":"2025-06-01","destination":"MY","consignee":{{"name":"{}","hq":"MY"}},"item":{{"chip":"H100 SXM"}},"quantity":1}}"#,
        consignee_name(i % CONSIGNEES)
    ))
    .expect("input")
}

/// Shipments per second of wall clock, and per second of this process's CPU time (steadier
/// on a shared machine).
#[derive(Debug, Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: f64,
}

/// Records shipments `from..to` in groups.
fn run(ledger: &mut Ledger, policy: &Policy, from: usize, to: usize) -> Rate {
    let config = ShipConfig::default();
    let ctx = AuditContext {
        tenant: "bench".into(),
        actor: "bench".into(),
    };
    let (start, cpu) = (Instant::now(), cpu_time::ProcessTime::now());
    let mut i = from;
    while i < to {
        let end = (i + GROUP).min(to);
        let inputs: Vec<DeterminationInput> = (i..end).map(input).collect();
        let ids: Vec<String> = (i..end).map(|n| format!("bench.s{n}")).collect();
        let mut items: Vec<GroupItem<'_>> = inputs
            .iter()
            .zip(&ids)
            .map(|(input, id)| GroupItem {
                ctx: ctx.clone(),
                req: ShipRequest {
                    input,
                    shipment_id: id,
                    tenant: "bench",
                    record_prefix: "bench.",
                    may_backfill: false,
                    now: NOW,
                },
                plan: None,
            })
            .collect();
        for out in ship_group(ledger, policy, &config, &mut items, None) {
            let out = out.expect("shipment");
            assert!(out.refusal.is_none(), "refused: {:?}", out.refusal);
        }
        i = end;
    }
    let n = (to - from) as f64;
    Rate {
        wall: n / start.elapsed().as_secs_f64(),
        cpu: n / cpu.elapsed().as_secs_f64(),
    }
}

fn main() {
    let earlier = env_or("AIDF_GROWTH_SHIPMENTS", 1_000_000);
    let sample = env_or("AIDF_GROWTH_SAMPLE", 20_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var("AIDF_GROWTH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let path = dir.join(format!("growth-{}.db", std::process::id()));
    let policy = Policy::embedded().expect("policy");
    let mut ledger = Ledger::open(path.to_str().expect("utf8")).expect("open");
    let empty = run(&mut ledger, &policy, 0, sample);
    println!(
        "RESULT empty {:.0} (per CPU second {:.0})",
        empty.wall, empty.cpu
    );
    let start = Instant::now();
    let mut done = sample;
    while done < earlier {
        let next = (done + 100_000).min(earlier);
        let rate = run(&mut ledger, &policy, done, next);
        done = next;
        eprintln!(
            "filled {done} shipments ({:.0}/s; {:.0} s so far)",
            rate.wall,
            start.elapsed().as_secs_f64()
        );
    }
    let after = run(&mut ledger, &policy, done, done + sample);
    println!(
        "RESULT after_{done} {:.0} (per CPU second {:.0})",
        after.wall, after.cpu
    );
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "== shipments/s: empty ledger {:.0}, after {done} shipments {:.0}: ratio {:.2} of wall clock, {:.2} per CPU second (aim >= 0.80); ledger file {:.0} MiB",
        empty.wall,
        after.wall,
        after.wall / empty.wall,
        after.cpu / empty.cpu,
        bytes as f64 / (1024.0 * 1024.0)
    );
    drop(ledger);
    for suffix in ["", "-wal", "-shm", ".audit-key", ".audit-anchor"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
