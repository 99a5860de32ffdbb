//! Committed operations per second, SQLite and PostgreSQL.
//!
//! `cargo bench -p aidf-ledger` (release profile). Environment:
//! * `AIDF_BENCH_SECS` seconds per measurement (default 5)
//! * `AIDF_BENCH_CLIENTS` PostgreSQL client threads (default 2)
//! * `AIDF_BENCH_ONLY` runs only the measurements whose name starts with it
//!   (`sqlite`, `pg`, `sqlite_single`, `pg_batched`, ...)
//! * `AIDF_TEST_PG_URL` server (default `postgres://postgres@127.0.0.1:5432/test`);
//!   the bench creates and drops its own schema.
//!
//! Prints `RESULT <name> <ops_per_s>` lines for scripts/bench-ledger.sh.

use std::time::{Duration, Instant};

use aidf_ledger::{AccountKind, Ledger, LedgerStore, Meta, Op, Timestamp};

/// Accounts hit by single reservations (spread, like pgbench's random rows).
const ACCOUNTS: usize = 1000;
/// Accounts hit by a 1,000-op batch: a bulk of shipments draws on a few allocations.
const BATCH_ACCOUNTS: usize = 10;
const BATCH: usize = 1000;
const NOW: Timestamp = Timestamp(1_735_689_600_000);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(i: usize) -> String {
    format!("country:C{:04}:2025-2027", i % ACCOUNTS)
}

fn batch_key(i: usize) -> String {
    key(i % BATCH_ACCOUNTS)
}

fn setup(url: &str) {
    let mut l = Ledger::open(url).expect("open");
    let ops: Vec<(String, AccountKind)> = (0..ACCOUNTS)
        .map(|i| (key(i), AccountKind::CountryAllocation))
        .collect();
    for (k, kind) in ops {
        // Caps far above what a run can reserve, so every reservation commits.
        l.ensure_account(&k, kind, Some(1 << 50), NOW)
            .expect("ensure");
    }
}

fn reserve(id: String, account: String) -> Op {
    Op::Reserve {
        op_id: id,
        account,
        amount: 1,
        expires_at: None,
        meta: Meta::default(),
    }
}

/// Runs `clients` threads for `secs`, each calling `step(ledger, thread, counter)`
/// which returns the number of ops it committed; returns committed ops/s.
fn run(
    url: &str,
    clients: usize,
    secs: u64,
    step: fn(&mut Ledger, usize, &mut usize) -> usize,
) -> f64 {
    let deadline = Duration::from_secs(secs);
    let started = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|t| {
                s.spawn(move || {
                    let mut l = Ledger::open(url).expect("open");
                    let (mut n, mut counter) = (0usize, 0usize);
                    while started.elapsed() < deadline {
                        n += step(&mut l, t, &mut counter);
                    }
                    n
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

fn single(l: &mut Ledger, t: usize, counter: &mut usize) -> usize {
    *counter += 1;
    let i = *counter;
    let id = format!("s{t}-{i}");
    l.reserve(
        &id,
        &key(i.wrapping_mul(7919) + t),
        1,
        None,
        Meta::default(),
        NOW,
    )
    .expect("reserve");
    1
}

fn batched(l: &mut Ledger, t: usize, counter: &mut usize) -> usize {
    let ops: Vec<Op> = (0..BATCH)
        .map(|_| {
            *counter += 1;
            let i = *counter;
            reserve(format!("b{t}-{i}"), batch_key(i.wrapping_mul(7919) + t))
        })
        .collect();
    l.apply_batch(&ops, NOW).expect("batch").len()
}

fn report(name: &str, ops_per_s: f64) {
    println!("RESULT {name} {ops_per_s:.0}");
}

fn only() -> String {
    std::env::var("AIDF_BENCH_ONLY").unwrap_or_default()
}

/// Whether the measurement `name` is selected by `AIDF_BENCH_ONLY`.
fn selected(name: &str) -> bool {
    name.starts_with(&only())
}

/// Whether any measurement of `backend` is selected.
fn backend_selected(backend: &str) -> bool {
    let only = only();
    backend.starts_with(&only) || only.starts_with(backend)
}

fn sqlite(secs: u64) {
    let dir = std::env::temp_dir().join(format!("aidf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, step) in [
        (
            "sqlite_single_reserve",
            single as fn(&mut Ledger, usize, &mut usize) -> usize,
        ),
        ("sqlite_batched_reserve", batched),
    ] {
        if !selected(name) {
            continue;
        }
        let path = dir.join(format!("{name}.db"));
        let url = path.to_str().expect("utf8 path").to_owned();
        setup(&url);
        report(name, run(&url, 1, secs, step));
        let mut l = Ledger::open(&url).expect("open");
        l.check_invariants().expect("invariants after bench");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn pg(secs: u64, clients: usize) {
    let base = std::env::var("AIDF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("aidf_bench_{}", std::process::id());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("postgres reachable");
    for (name, step) in [
        (
            "pg_single_reserve",
            single as fn(&mut Ledger, usize, &mut usize) -> usize,
        ),
        ("pg_batched_reserve", batched),
    ] {
        if !selected(name) {
            continue;
        }
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        setup(&url);
        report(
            &format!("{name}_c{clients}"),
            run(&url, clients, secs, step),
        );
        let mut l = Ledger::open(&url).expect("open");
        l.check_invariants().expect("invariants after bench");
    }
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .expect("drop schema");
}

fn main() {
    // `cargo test --benches` runs bench targets with `--test`-ish flags; only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ledger bench: pass --bench (cargo bench) to measure");
        return;
    }
    let secs = env_or("AIDF_BENCH_SECS", 5u64);
    let clients = env_or("AIDF_BENCH_CLIENTS", 2usize);
    if backend_selected("sqlite") {
        sqlite(secs);
    }
    if backend_selected("pg") {
        pg(secs, clients);
    }
}
