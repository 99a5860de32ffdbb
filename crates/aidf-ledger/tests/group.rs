//! Group commit on SQLite: what a group wrote is neither visible to other connections nor
//! durable before its one commit, a group that panics leaves nothing behind, and a write that
//! fails part-way undoes only itself.

mod common;

use aidf_ledger::{AccountKind, Ledger, LedgerStore, Meta, NewShipment, Op, ShipmentStatus};
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

/// A shipment drawing `amount` on MY.
fn shipment(id: &str, amount: u64) -> NewShipment {
    NewShipment {
        shipment_id: id.into(),
        input_digest: format!("sha256:{id}"),
        determination: serde_json::json!({"determination": {"authorization": "license"}}).into(),
        status: ShipmentStatus::Authorized,
        ops: vec![Op::Transfer {
            op_id: format!("{id}:d0"),
            account: MY.into(),
            amount,
            meta: Meta::default(),
        }],
        ..NewShipment::default()
    }
}

/// Records three shipments in one group; returns how many times the group ran and each
/// shipment's answer (the number of entries it applied).
fn three_in_a_group(l: &mut Ledger, ids: [(&str, u64); 3]) -> (usize, Vec<Result<usize, String>>) {
    let mut runs = 0;
    let mut answers = Vec::new();
    l.group(&mut |s| {
        runs += 1;
        answers.clear();
        for (id, amount) in ids {
            let recorded = s.record_shipment(&mut shipment(id, amount), t(1));
            answers.push(recorded.map(|r| r.applied.len()).map_err(|e| e.to_string()));
        }
    })
    .expect("group");
    (runs, answers)
}

#[test]
fn a_write_that_fails_part_way_undoes_only_itself() {
    let (b, mut l) = with_allocation();
    // The second shipment's row is refused after its draw was applied: the draw must go too.
    b.raw_exec(
        "CREATE TRIGGER boom BEFORE INSERT ON shipments WHEN NEW.id = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .expect("trigger");
    let backlog = l.audit_backlog().expect("backlog");
    let (runs, answers) = three_in_a_group(&mut l, [("one", 10), ("boom", 20), ("three", 30)]);
    assert_eq!(
        runs, 2,
        "the group was not run again after a write failed part-way"
    );
    assert_eq!(answers[0], Ok(1));
    assert!(
        answers[1]
            .as_ref()
            .is_err_and(|e| e.contains("boom refused")),
        "{:?}",
        answers[1]
    );
    assert_eq!(answers[2], Ok(1));
    let mut other = b.open();
    assert_eq!(
        posted(&mut other),
        40,
        "the failed shipment's draw was kept"
    );
    assert!(other.op("boom:d0").expect("op").is_none());
    assert!(other.shipment("boom").expect("read").is_none());
    for id in ["one", "three"] {
        let kept = other.shipment(id).expect("read").expect("kept");
        assert_eq!(kept.determination, shipment(id, 0).determination);
    }
    // One audit record a kept shipment: none of the undone first run's.
    assert_eq!(l.audit_backlog().expect("backlog"), backlog + 2);
}

#[test]
fn a_write_that_fails_before_writing_does_not_run_the_group_again() {
    let (b, mut l) = with_allocation();
    // Past the cap: refused before anything is written.
    let (runs, answers) = three_in_a_group(&mut l, [("one", 600), ("over", 401), ("three", 400)]);
    assert_eq!(runs, 1);
    assert_eq!(answers[0], Ok(1));
    assert!(answers[1].is_err(), "{:?}", answers[1]);
    assert_eq!(answers[2], Ok(1));
    assert_eq!(posted(&mut b.open()), 1000);
}
