//! The shipment register, the compliance record and the reports to BIS at scale, on a SQLite
//! ledger, or on PostgreSQL with `AIDF_BENCH_PG=1` (a fresh schema of `AIDF_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, dropped after the run):
//!
//! * a filtered page of 100 (`shipments_page` through `list_shipments`) with
//!   `AIDF_REGISTER_SHIPMENTS` shipments recorded (default 1,000,000; target p99 < 20 ms),
//!   following the cursor up to 10 pages deep, for several filters;
//! * the compliance record of a real shipment rendered as PDF (target p99 < 200 ms);
//! * `aidf report`'s service call (`reports::build`) over the year 2025 of those shipments: the
//!   VEU report of both halves (target < 5 s for the year), and the LPP report of the year.
//!
//! Shipment rows carry the body of a real `ship` answer (about 3.5 KB) with the destination,
//! consignee, status, business date and (every other row) a UVEU authorization varied; 90 %
//! belong to one tenant; business dates cover 2025. Filled in group commits of 5,000.
//! `cargo bench -p aidf-record --bench register` (`AIDF_REGISTER_SHIPMENTS=100000` for a quicker
//! run).

use std::time::{Duration, Instant};

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, LedgerStore, NewShipment, ShipmentQuery, ShipmentStatus, Timestamp};
use aidf_record::{Format, render};
use aidf_service::register::{compliance_record, list_shipments};
use aidf_service::reports::{self, ReportName, ReportRequest};
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
        .to_value()
}

fn row(template: &serde_json::Value, i: u64) -> NewShipment {
    let mut body = template.clone();
    let country = COUNTRIES[(i % 5) as usize];
    let name = format!("Consignee {}", i % 1_000);
    body["determination"]["destination"] = country.into();
    body["input"]["destination"] = country.into();
    body["input"]["consignee"]["name"] = name.into();
    if i.is_multiple_of(2) {
        body["determination"]["authorization"] = "UVEU".into();
        body["input"]["consignee"]["veu"] = serde_json::json!({"kind": "uveu", "id": "V-1"});
    }
    let refused = i % 10 == 3;
    NewShipment {
        shipment_id: format!("b-{i:08}"),
        input_digest: format!("sha256:{i:064x}"),
        determination: body.into(),
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
                if let Err(e) = g.record_shipment(&mut row(template, i), at) {
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

/// `reports::build` for the year 2025: the VEU report of both halves, then the LPP report.
fn year_of_reports(l: &mut Ledger, rounds: usize) {
    let policy = Policy::embedded().expect("policy");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 20).expect("date");
    let build = |l: &mut Ledger, name: ReportName, period: &str| {
        let req = ReportRequest {
            name,
            period: Some(period),
            as_of: None,
            shipment: None,
            input: None,
            posture: aidf_core::Posture::default(),
            today,
        };
        reports::build(l, &policy, "acme", &req).expect("report")
    };
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        rows = build(l, ReportName::VeuSemiannual, "2025-H1").rows.len()
            + build(l, ReportName::VeuSemiannual, "2025-H2").rows.len();
        times.push(t.elapsed());
    }
    let (p50, _, max) = percentiles(times);
    println!("VEU report of 2025 (H1 + H2, {rows} rows): p50 {p50:?}, max {max:?} ({rounds} runs)");
    let t = Instant::now();
    let lpp = build(l, ReportName::LppCertifications, "2025");
    println!(
        "LPP report of 2025 ({} rows): {:?}",
        lpp.rows.len(),
        t.elapsed()
    );
}

/// A fresh SQLite file, or a fresh PostgreSQL schema with `AIDF_BENCH_PG` (and its cleanup).
/// The PostgreSQL schema's URL of this run, for the `ANALYZE` after the fill.
static PG_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// After the bulk fill, PostgreSQL's statistics are brought up to date as autovacuum would soon
/// do on its own: the planner picks its page plans from them.
fn analyze_pg() {
    if let Some(url) = PG_URL.get() {
        let t = Instant::now();
        let mut c = postgres::Client::connect(url, postgres::NoTls).expect("postgres");
        c.batch_execute("ANALYZE").expect("analyze");
        eprintln!("ANALYZE in {:.1} s", t.elapsed().as_secs_f64());
    }
}

fn open_ledger() -> (Ledger, Box<dyn FnOnce()>, &'static str) {
    if std::env::var_os("AIDF_BENCH_PG").is_some() {
        let base = std::env::var("AIDF_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("aidf_bench_register_{}", std::process::id());
        let drop_sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("postgres");
        admin
            .batch_execute(&format!("{drop_sql}; CREATE SCHEMA {schema}"))
            .expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        let l = Ledger::open(&url).expect("open pg");
        let _ = PG_URL.set(url);
        let cleanup = move || {
            let _ = admin.batch_execute(&drop_sql);
        };
        return (l, Box::new(cleanup), "PostgreSQL");
    }
    let dir = std::env::temp_dir().join(format!("aidf-bench-register-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("l.db");
    let l = Ledger::open(db.to_str().expect("utf8")).expect("open");
    let cleanup = move || {
        let _ = std::fs::remove_dir_all(&dir);
    };
    (l, Box::new(cleanup), "SQLite")
}

fn main() {
    let n: u64 = std::env::var("AIDF_REGISTER_SHIPMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (mut l, cleanup, backend) = open_ledger();
    let template = real_shipment(&mut l);
    fill(&mut l, &template, n);
    analyze_pg();
    let q = |f: &dyn Fn(&mut ShipmentQuery)| {
        let mut q = ShipmentQuery {
            limit: 100,
            ..ShipmentQuery::default()
        };
        f(&mut q);
        q
    };
    println!("{n} shipments (+1 real) in a {backend} register");
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
    year_of_reports(&mut l, 3);
    drop(l);
    cleanup();
}
