//! Group commit on SQLite: what a group wrote is neither visible to other connections nor
//! durable before its one commit, and a group that panics leaves nothing behind.

mod common;

use aidf_ledger::{AccountKind, Ledger, LedgerStore, Meta};
use common::{Backend, t};

const MY: &str = "country:MY:2025-2027";

/// A SQLite ledger with MY's allocation opened, and a connection to it.
fn with_allocation() -> (Backend, Ledger) {
    let b = Backend::sqlite();
    let mut l = b.open();
    l.ensure_account(MY, AccountKind::CountryAllocation, Some(1000), t(0))
        .expect("ensure");
    (b, l)
}

fn posted(l: &mut Ledger) -> u64 {
    l.account(MY).expect("account").posted
}

#[test]
fn a_group_is_invisible_to_others_until_it_commits() {
    let (b, mut writer) = with_allocation();
    let mut reader = b.open();
    let mut inside = Vec::new();
    writer
        .group(&mut |s| {
            s.transfer("g1", MY, 10, Meta::default(), t(1)).expect("g1");
            s.transfer("g2", MY, 20, Meta::default(), t(2)).expect("g2");
            inside.push(posted(&mut reader));
        })
        .expect("group");
    assert_eq!(
        inside,
        vec![0],
        "another connection saw the group before its commit"
    );
    assert_eq!(posted(&mut reader), 30);
}

#[test]
fn a_group_that_panics_keeps_nothing_and_the_connection_goes_on() {
    let (b, mut l) = with_allocation();
    let backlog = l.audit_backlog().expect("backlog");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = l.group(&mut |s| {
            s.transfer("g1", MY, 10, Meta::default(), t(1)).expect("g1");
            panic!("a bug in the middle of a group");
        });
    }));
    assert!(caught.is_err());
    assert_eq!(posted(&mut l), 0, "the panicking group's write was kept");
    assert_eq!(l.audit_backlog().expect("backlog"), backlog);
    l.transfer("after", MY, 5, Meta::default(), t(3))
        .expect("the connection works after the panic");
    assert_eq!(posted(&mut b.open()), 5);
}

#[test]
fn a_read_snapshot_sees_one_state_and_leaves_the_connection_free() {
    let (b, mut writer) = with_allocation();
    writer
        .transfer("before", MY, 10, Meta::default(), t(1))
        .expect("before");
    let mut reader = b.open();
    let mut seen = Vec::new();
    reader
        .read_snapshot(&mut |s| {
            seen.push(s.account(MY).expect("account").posted);
            // Another connection commits in the middle: the snapshot does not see it.
            writer
                .transfer("during", MY, 20, Meta::default(), t(2))
                .expect("a write while the snapshot is open");
            seen.push(s.account(MY).expect("account").posted);
        })
        .expect("snapshot");
    assert_eq!(seen, vec![10, 10], "the reads of one snapshot differed");
    // Ended: the next read sees the commit, and the connection can write.
    assert_eq!(posted(&mut reader), 30);
    reader
        .transfer("after", MY, 5, Meta::default(), t(3))
        .expect("a write after the snapshot");
    assert_eq!(posted(&mut writer), 35);
}

#[test]
fn a_read_snapshot_that_panics_is_ended_and_one_inside_a_group_only_runs() {
    let (b, mut l) = with_allocation();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = l.read_snapshot(&mut |s| {
            let _ = s.account(MY);
            panic!("a bug while reading");
        });
    }));
    assert!(caught.is_err());
    l.transfer("after-panic", MY, 5, Meta::default(), t(1))
        .expect("the connection writes after the panic");
    // Inside a group the snapshot is the group's own transaction: its writes are seen.
    let mut inside = Vec::new();
    l.group(&mut |g| {
        g.transfer("g1", MY, 10, Meta::default(), t(2)).expect("g1");
        g.read_snapshot(&mut |s| inside.push(s.account(MY).expect("account").posted))
            .expect("nested snapshot");
        g.transfer("g2", MY, 20, Meta::default(), t(3)).expect("g2");
    })
    .expect("group");
    assert_eq!(inside, vec![15]);
    assert_eq!(posted(&mut b.open()), 35);
}
