//! The shipment register and the compliance record at scale, on a SQLite ledger:
//!
//! * a filtered page of 100 (`shipments_page` through `list_shipments`) with
//!   `AIDF_REGISTER_SHIPMENTS` shipments recorded (default 1,000,000; target p99 < 20 ms),
//!   following the cursor up to 10 pages deep, for several filters;
//! * the compliance record of a real shipment rendered as PDF (target p99 < 200 ms).
//!
//! Shipment rows carry the body of a real `ship` answer (about 3.5 KB) with the destination,
//! consignee, status and business date varied; 90 % belong to one tenant. Filled in group
//! commits of 5,000. `cargo bench -p aidf-record --bench register`
//! (`AIDF_REGISTER_SHIPMENTS=100000` for a quicker run).

use std::time::{Duration, Instant};

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, LedgerStore, NewShipment, ShipmentQuery, ShipmentStatus, Timestamp};
use aidf_record::{Format, render};
use aidf_service::register::{compliance_record, list_shipments};
use aidf_service::{ShipConfig, ShipRequest, ship};

const NOW: Timestamp = Timestamp(1_748_865_600_000);
const COUNTRIES: [&str; 5] = ["MY", "AE", "SG", "IN", "CN"];

fn real_shipment(l: &mut Ledger) -> serde_json::Value {
    let policy = Policy::embedded().expect("policy");
    let input = DeterminationInput::from_json(
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#,
    )
    .expect("input");
    let req = ShipRequest {
        input: &input,
        shipment_id: "real-1",
        tenant: "acme",
        record_prefix: "",
        may_backfill: true,
        now: NOW,
    };
    ship(l, &policy, &ShipConfig::default(), &req).expect("ship");
    l.shipment("real-1")
        .expect("read")
        .expect("stored")
        .determination
}

fn row(template: &serde_json::Value, i: u64) -> NewShipment {
    let mut body = template.clone();
    let country = COUNTRIES[(i % 5) as usize];
    let name = format!("Consignee {}", i % 1_000);
    body["determination"]["destination"] = country.into();
    body["input"]["destination"] = country.into();
    body["input"]["consignee"]["name"] = name.into();
    let refused = i % 10 == 3;
    NewShipment {
        shipment_id: format!("b-{i:08}"),
        input_digest: format!("sha256:{i:064x}"),
        determination: body,
        status: if refused {
            ShipmentStatus::Refused
        } else {
            ShipmentStatus::Authorized
        },
        tenant: Some(if i % 10 == 9 { "beta" } else { "acme" }.into()),
        business_date: Some(format!("2025-{:02}-{:02}", 1 + (i / 28) % 12, 1 + i % 28)),
        ..NewShipment::default()
    }
}

fn fill(l: &mut Ledger, template: &serde_json::Value, n: u64) {
    let start = Instant::now();
    let mut next = 0u64;
    while next < n {
        let end = (next + 5_000).min(n);
        let mut failed = None;
        l.group(&mut |g| {
            for i in next..end {
                let at = Timestamp(NOW.0 + 1_000 + i64::try_from(i).unwrap_or(0));
                if let Err(e) = g.record_shipment(&row(template, i), at) {
                    failed = Some(e);
                }
            }
        })
        .expect("group");
        assert!(failed.is_none(), "{failed:?}");
        next = end;
        if next.is_multiple_of(100_000) {
            eprintln!("filled {next} ({:.0} s)", start.elapsed().as_secs_f64());
        }
    }
    eprintln!(
        "filled {n} shipments in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |p: f64| d[((d.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99), d[d.len() - 1])
}

fn pages(l: &mut Ledger, name: &str, base: &ShipmentQuery, rounds: usize) {
    let mut times = Vec::new();
    for _ in 0..rounds {
        let mut q = base.clone();
        for _ in 0..10 {
            let t = Instant::now();
            let page = list_shipments(l, "acme", &q).expect("page");
            times.push(t.elapsed());
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
    }
    let n = times.len();
    let (p50, p99, max) = percentiles(times);
    println!("page of 100, {name}: p50 {p50:?}, p99 {p99:?}, max {max:?} ({n} pages)");
}

fn main() {
    let n: u64 = std::env::var("AIDF_REGISTER_SHIPMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("aidf-bench-register-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("l.db");
    let mut l = Ledger::open(db.to_str().expect("utf8")).expect("open");
    let template = real_shipment(&mut l);
    fill(&mut l, &template, n);
    let q = |f: &dyn Fn(&mut ShipmentQuery)| {
        let mut q = ShipmentQuery {
            limit: 100,
            ..ShipmentQuery::default()
        };
        f(&mut q);
        q
    };
    println!("{n} shipments (+1 real) in a SQLite register");
    pages(&mut l, "no filter", &q(&|_| {}), 20);
    pages(
        &mut l,
        "status=refused",
        &q(&|q| q.status = Some(ShipmentStatus::Refused)),
        20,
    );
    pages(
        &mut l,
        "country=MY",
        &q(&|q| q.country = Some("MY".into())),
        20,
    );
    pages(
        &mut l,
        "consignee",
        &q(&|q| q.consignee = Some("consignee 17".into())),
        20,
    );
    let range = |q: &mut ShipmentQuery| {
        q.from = Some("2025-03-01".into());
        q.to = Some("2025-03-31".into());
    };
    pages(&mut l, "business dates in March", &q(&range), 20);
    let both = |q: &mut ShipmentQuery| {
        q.status = Some(ShipmentStatus::Authorized);
        q.country = Some("AE".into());
    };
    pages(&mut l, "status=authorized&country=AE", &q(&both), 20);
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = compliance_record(&mut l, "acme", "real-1", "l.db").expect("record");
        let pdf = render(&r, Format::Pdf).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        times.push(t.elapsed());
    }
    let (p50, p99, max) = percentiles(times);
    println!("compliance record as PDF: p50 {p50:?}, p99 {p99:?}, max {max:?} (50 runs)");
    drop(l);
    let _ = std::fs::remove_dir_all(&dir);
}
