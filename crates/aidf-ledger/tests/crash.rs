//! Crash safety: a child process streams a deterministic op sequence and
//! prints each acknowledged op; the parent SIGKILLs it at random points,
//! restarts it from the last acknowledgement (re-sending the op that may or
//! may not have committed), and finally checks that every acknowledged op is
//! stored exactly once and that the ledger equals an uninterrupted run.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aidf_ledger::{AccountKind, Ledger, LedgerError, LedgerStore, Meta, Op, Timestamp};
use common::{Backend, T0};

const TOTAL: usize = 1200;
const KILLS: usize = 12;
const ACCOUNTS: [(&str, u64); 3] = [
    ("country:MY:2025-2027", 30_000),
    ("lpp:acme:2025", 8_000),
    ("aia:acme", 0),
];

fn setup(l: &mut Ledger) {
    for (key, cap) in ACCOUNTS {
        let cap = (cap > 0).then_some(cap);
        l.ensure_account(key, AccountKind::CountryAllocation, cap, T0)
            .expect("ensure");
    }
}

/// The i-th op of the deterministic stream (depends only on `i`).
fn op_at(i: usize) -> Op {
    let id = format!("op-{i}");
    let mut rng = fastrand::Rng::with_seed(i as u64);
    let (account, _) = ACCOUNTS[i % 3];
    let meta = Meta::determination(&format!("det-{i}"), "sha256:crash");
    match i % 5 {
        0 | 2 => Op::Reserve {
            op_id: id,
            account: account.into(),
            amount: rng.u64(1..900),
            expires_at: None,
            meta,
        },
        1 => Op::Post {
            op_id: id,
            pending_id: format!("op-{}", i - 1),
            amount: Some(rng.u64(1..900)),
            meta,
        },
        3 => Op::Void {
            op_id: id,
            pending_id: format!("op-{}", i - 1),
            meta,
        },
        _ if i % 2 == 0 => Op::Attrition {
            op_id: id,
            account: account.into(),
            amount: rng.u64(1..700),
            meta,
        },
        _ => Op::Transfer {
            op_id: id,
            account: account.into(),
            amount: rng.u64(1..400),
            meta,
        },
    }
}

fn now_at(i: usize) -> Timestamp {
    Timestamp(T0.0 + 1 + i as i64)
}

/// Applies op `i`; `Ok(true)` = applied (or replayed), `Ok(false)` = rejected by a ledger rule.
fn apply(l: &mut Ledger, i: usize) -> bool {
    match l.apply_batch(std::slice::from_ref(&op_at(i)), now_at(i)) {
        Ok(_) => true,
        Err(e @ LedgerError::BatchFailed { .. }) => {
            assert!(!e.root_cause().is_storage(), "storage error on op {i}: {e}");
            false
        }
        Err(e) => panic!("op {i}: {e}"),
    }
}

const CHILD_URL: &str = "AIDF_CRASH_CHILD_URL";
const CHILD_START: &str = "AIDF_CRASH_CHILD_START";

#[test]
#[ignore = "run by the crash tests in a child process"]
fn crash_writer_child() {
    let (Ok(url), Ok(start)) = (std::env::var(CHILD_URL), std::env::var(CHILD_START)) else {
        return;
    };
    let start: usize = start.parse().expect("start index");
    let mut l = Ledger::open(&url).expect("open");
    for i in start..TOTAL {
        let ok = apply(&mut l, i);
        // The acknowledgement is printed only after the commit returned.
        println!("ACK {i} {}", if ok { "ok" } else { "rejected" });
    }
    println!("DONE");
}

fn crash_loop(b: &Backend) {
    let url = b.url();
    setup(&mut b.open());
    let exe = std::env::current_exe().expect("current_exe");
    let mut acked: Vec<Option<bool>> = vec![None; TOTAL];
    let mut next = 0usize;
    let mut kills = 0usize;
    let mut rng = fastrand::Rng::with_seed(7);
    loop {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_URL, &url)
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let kill_after = if kills < KILLS {
            Some(rng.usize(1..(TOTAL / KILLS / 2).max(2)))
        } else {
            None
        };
        let mut seen = 0usize;
        let mut done = false;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read child stdout");
            // libtest prints "test name ... " without a newline before the first ACK.
            if let Some(rest) = line.find("ACK ").map(|at| &line[at + 4..]) {
                let (i, status) = rest.split_once(' ').expect("ack format");
                let i: usize = i.parse().expect("ack index");
                let ok = status == "ok";
                if let Some(prev) = acked[i] {
                    assert_eq!(prev, ok, "op {i} acknowledged differently after a restart");
                }
                acked[i] = Some(ok);
                next = i + 1;
                seen += 1;
                if kill_after == Some(seen) {
                    // Let the child get into the next transaction before killing it.
                    std::thread::sleep(Duration::from_micros(rng.u64(0..3000)));
                    child.kill().expect("SIGKILL");
                    kills += 1;
                    // Keep reading: acknowledgements already in the pipe were
                    // delivered before the kill and must be honoured, else the
                    // restart would re-send ops out of order.
                }
            } else if line.ends_with("DONE") {
                done = true;
            }
        }
        let status = child.wait().expect("wait");
        if done {
            assert!(status.success(), "writer failed");
            break;
        }
        assert!(
            kill_after.is_some(),
            "writer exited without finishing: {status}"
        );
    }
    assert!(kills >= 10, "only {kills} kills");

    let mut l = b.open();
    l.check_invariants().expect("invariants after crashes");
    for (i, ack) in acked.iter().enumerate() {
        let ok = ack.unwrap_or_else(|| panic!("op {i} never acknowledged"));
        let stored = l.op(&format!("op-{i}")).expect("lookup");
        assert_eq!(
            stored.is_some(),
            ok,
            "op {i}: acknowledged {ok} but stored {}",
            stored.is_some()
        );
        if let Some(a) = stored {
            assert!(!a.replayed);
        }
    }
    // Each stored op has exactly one history entry with its id (nothing duplicated).
    for (key, _) in ACCOUNTS {
        let mut ids: Vec<String> = l
            .history(key)
            .expect("history")
            .into_iter()
            .filter_map(|e| e.op_id)
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate entries on {key}");
    }
    // Same final state as an uninterrupted run of the same stream.
    let reference = Backend::sqlite();
    let mut r = reference.open();
    setup(&mut r);
    for (i, ack) in acked.iter().enumerate() {
        assert_eq!(
            apply(&mut r, i),
            *ack == Some(true),
            "op {i} differs from the reference run"
        );
    }
    for (key, _) in ACCOUNTS {
        assert_eq!(
            l.balance(key, None).expect("balance"),
            r.balance(key, None).expect("ref balance"),
            "{key}"
        );
    }
}

#[test]
fn sqlite_sigkill_writer() {
    crash_loop(&Backend::sqlite());
}

#[test]
fn pg_sigkill_writer() {
    if let Some(b) = Backend::pg() {
        crash_loop(&b);
    }
}
