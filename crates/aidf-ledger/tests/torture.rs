//! Concurrency torture: many writers, few shared capped accounts, on both
//! backends, plus two OS processes sharing one PostgreSQL ledger.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use aidf_ledger::{AccountKind, Ledger, LedgerError, LedgerStore, Meta, OpResult, Timestamp};
use common::{Backend, PgSchema, T0};

const ACCOUNTS: [(&str, u64); 3] = [
    ("country:MY:2025-2027", 20_000),
    ("lpp:acme:2025", 5_000),
    ("nveu:veu-1:IN", 50_000),
];

fn setup(l: &mut Ledger) {
    for (key, cap) in ACCOUNTS {
        l.ensure_account(key, AccountKind::CountryAllocation, Some(cap), T0)
            .expect("ensure");
    }
}

#[derive(Debug, Default)]
struct Stats {
    ok: AtomicU64,
    rejected: AtomicU64,
}

/// One writer: random reserve/post/void/transfer/attrition/expire ops.
/// Asserts after every successful op that the account is within its cap.
fn writer(url: &str, tag: &str, seed: u64, ops: usize, clock: &AtomicI64, stats: &Stats) {
    let mut l = Ledger::open(url).expect("open");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut holds: Vec<String> = Vec::new();
    let caps: HashMap<&str, u64> = ACCOUNTS.into_iter().collect();
    for i in 0..ops {
        let now = Timestamp(clock.fetch_add(1, Ordering::Relaxed));
        let op_id = format!("{tag}-{i}");
        let (key, _) = ACCOUNTS[rng.usize(..ACCOUNTS.len())];
        let m = Meta::default();
        let roll = rng.u32(..100);
        let res = if roll < 40 || holds.is_empty() {
            let expires = (rng.u32(..3) == 0).then(|| Timestamp(now.0 + rng.i64(1..200)));
            let r = l.reserve(&op_id, key, rng.u64(1..800), expires, m, now);
            if r.is_ok() {
                holds.push(op_id.clone());
            }
            r
        } else if roll < 60 {
            let h = holds.swap_remove(rng.usize(..holds.len()));
            let amount = rng.bool().then(|| rng.u64(1..800));
            l.post(&op_id, &h, amount, m, now)
        } else if roll < 80 {
            let h = holds.swap_remove(rng.usize(..holds.len()));
            l.void(&op_id, &h, m, now)
        } else if roll < 85 {
            l.transfer(&op_id, key, rng.u64(1..500), m, now)
        } else if roll < 98 {
            l.attrition(&op_id, key, rng.u64(1..1500), m, now)
        } else {
            l.expire_due(now).expect("expire_due");
            stats.ok.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match res {
            Ok(a) => {
                stats.ok.fetch_add(1, Ordering::Relaxed);
                let b = a.balance_after;
                let cap = caps.get(a.account.as_str()).copied().unwrap_or(0);
                assert!(
                    b.cap.is_some_and(|c| c >= cap),
                    "cap changed unexpectedly: {b:?}"
                );
                assert!(
                    b.posted + b.pending <= b.cap.unwrap_or(0),
                    "overdraft after {op_id}: {b:?}"
                );
                if let OpResult::Posted { amount_posted, .. } = a.result {
                    assert!(amount_posted > 0);
                }
            }
            Err(
                LedgerError::ExceedsCap { .. }
                | LedgerError::AlreadyExpired { .. }
                | LedgerError::PostExceedsPending { .. }
                | LedgerError::AttritionExceedsPosted { .. },
            ) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => panic!("unexpected error on {op_id}: {e}"),
        }
    }
}

/// Stored balances equal the sum of history, and replaying each account's
/// history in commit order never exceeds the cap in force.
fn verify(l: &mut Ledger) {
    l.check_invariants().expect("invariants");
    for account in l.accounts().expect("accounts") {
        let (mut posted, mut pending, mut cap) = (0i128, 0i128, None::<u64>);
        for e in l.history(&account.key).expect("history") {
            if matches!(
                e.kind,
                aidf_ledger::EntryKind::Open | aidf_ledger::EntryKind::Cap
            ) {
                cap = e.cap;
            }
            posted += i128::from(e.posted_delta);
            pending += i128::from(e.pending_delta);
            assert!(
                posted >= 0 && pending >= 0,
                "negative balance at seq {} of {}",
                e.seq,
                account.key
            );
            if let Some(c) = cap {
                assert!(
                    posted + pending <= i128::from(c),
                    "overdraft at seq {} of {}",
                    e.seq,
                    account.key
                );
            }
        }
        assert_eq!(
            (posted, pending),
            (i128::from(account.posted), i128::from(account.pending)),
            "{}",
            account.key
        );
    }
}

fn torture(b: &Backend, threads: usize, ops_per_thread: usize) {
    let mut l = b.open();
    setup(&mut l);
    let clock = Arc::new(AtomicI64::new(T0.0 + 1));
    let stats = Arc::new(Stats::default());
    let url = b.url();
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let (clock, stats, url) = (Arc::clone(&clock), Arc::clone(&stats), url.clone());
            s.spawn(move || {
                writer(
                    &url,
                    &format!("w{th}"),
                    1000 + th as u64,
                    ops_per_thread,
                    &clock,
                    &stats,
                )
            });
        }
    });
    let ok = stats.ok.load(Ordering::Relaxed);
    let rejected = stats.rejected.load(Ordering::Relaxed);
    eprintln!(
        "{threads} writers: {ok} ok, {rejected} rejected in {:?}",
        started.elapsed()
    );
    assert_eq!(ok + rejected, (threads * ops_per_thread) as u64);
    assert!(
        ok > 1000 && rejected > 100,
        "the mix should both succeed and hit caps: {ok} ok, {rejected} rejected"
    );
    verify(&mut l);
}

#[test]
fn sqlite_16_writers_10k_ops() {
    torture(&Backend::sqlite(), 16, 640);
}

#[test]
fn pg_16_writers_10k_ops() {
    if let Some(b) = Backend::pg() {
        torture(&b, 16, 640);
    }
}

const CHILD_URL: &str = "AIDF_TORTURE_CHILD_URL";
const CHILD_TAG: &str = "AIDF_TORTURE_CHILD_TAG";

/// Child half of [`pg_two_processes`]: 8 writer threads in this process.
#[test]
#[ignore = "run by pg_two_processes in a child process"]
fn pg_two_processes_child() {
    let (Ok(url), Ok(tag)) = (std::env::var(CHILD_URL), std::env::var(CHILD_TAG)) else {
        return;
    };
    let seed: u64 = tag.bytes().map(u64::from).sum();
    // Disjoint clock ranges per process keep timestamps unique-ish; correctness does not depend on it.
    let clock = AtomicI64::new(T0.0 + 1 + i64::try_from(seed).unwrap_or(0) * 1_000_000);
    let stats = Stats::default();
    std::thread::scope(|s| {
        for th in 0..8 {
            let (url, tag, clock, stats) = (&url, &tag, &clock, &stats);
            s.spawn(move || {
                writer(
                    url,
                    &format!("{tag}-w{th}"),
                    seed * 100 + th,
                    640,
                    clock,
                    stats,
                )
            });
        }
    });
    println!(
        "CHILD {tag} ok={} rejected={}",
        stats.ok.load(Ordering::Relaxed),
        stats.rejected.load(Ordering::Relaxed)
    );
}

#[test]
fn pg_two_processes() {
    let Some(schema) = PgSchema::try_new() else {
        return;
    };
    let mut l = Ledger::open(&schema.url).expect("open");
    setup(&mut l);
    let exe = std::env::current_exe().expect("current_exe");
    let children: Vec<_> = ["pa", "pb"]
        .iter()
        .map(|tag| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "pg_two_processes_child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_URL, &schema.url)
                .env(CHILD_TAG, tag)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        assert!(
            stdout.contains("CHILD "),
            "child did not run the writer: {stdout}"
        );
    }
    let ops = l.history(ACCOUNTS[0].0).expect("history").len();
    assert!(
        ops > 1000,
        "both processes wrote: {ops} entries on the first account"
    );
    verify(&mut l);
}

/// The same op ids submitted concurrently from many connections: each is
/// applied once, every other submission gets the replayed original result.
fn concurrent_same_ids(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let ids = 200;
    let results: Vec<Vec<aidf_ledger::Applied>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let mut l = b.open();
                    (0..ids)
                        .map(|i| {
                            let (key, _) = ACCOUNTS[i % ACCOUNTS.len()];
                            l.transfer(&format!("same-{i}"), key, 1, Meta::default(), T0)
                                .expect("transfer")
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for i in 0..ids {
        let fresh = results.iter().filter(|r| !r[i].replayed).count();
        assert_eq!(fresh, 1, "op same-{i} applied {fresh} times");
        assert!(
            results
                .iter()
                .all(|r| r[i].result == results[0][i].result && r[i].at == results[0][i].at)
        );
    }
    let posted: u64 = ACCOUNTS
        .iter()
        .map(|(k, _)| l.balance(k, None).expect("balance").posted)
        .sum();
    assert_eq!(posted, ids as u64);
    verify(&mut l);
}

#[test]
fn sqlite_concurrent_same_op_ids() {
    concurrent_same_ids(&Backend::sqlite());
}

#[test]
fn pg_concurrent_same_op_ids() {
    if let Some(b) = Backend::pg() {
        concurrent_same_ids(&b);
    }
}
