//! One generic behaviour suite, run against SQLite and PostgreSQL.

mod common;

use aidf_ledger::{
    AccountKind, AccountSpec, Balance, EntryKind, ExpectedBalance, G2gArrangement, HoldState,
    Ledger, LedgerError, LedgerStore, License, Meta, NewShipment, Op, OpResult, Party,
    PartyDecision, ScreeningDecision, ScreeningThresholds, ShipmentStatus, Timestamp, Veu, VeuKind,
    VeuSite,
};
use common::{Backend, t};

fn meta(det: &str) -> Meta {
    Meta::determination(det, "sha256:regime-v1")
}

fn reserve(id: &str, account: &str, amount: u64) -> Op {
    Op::Reserve {
        op_id: id.into(),
        account: account.into(),
        amount,
        expires_at: None,
        meta: meta("d1"),
    }
}

fn bal(l: &mut Ledger, key: &str) -> Balance {
    l.balance(key, None).expect("balance")
}

const MY: &str = "country:MY:2025-2027";

fn setup(l: &mut Ledger) {
    l.ensure_account(MY, AccountKind::CountryAllocation, Some(1000), t(0))
        .expect("ensure");
}

fn reserve_post_partial_void(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let a = l
        .reserve("r1", MY, 600, None, meta("d1"), t(1))
        .expect("r1");
    assert_eq!(
        a.result,
        OpResult::Reserved {
            pending_id: "r1".into(),
            amount: 600,
            expires_at: None
        }
    );
    assert_eq!(
        a.balance_after,
        Balance {
            cap: Some(1000),
            posted: 0,
            pending: 600,
            available: Some(400)
        }
    );
    match l.reserve("r2", MY, 401, None, meta("d2"), t(2)) {
        Err(LedgerError::ExceedsCap {
            account,
            cap,
            posted,
            pending,
            amount,
        }) => {
            assert_eq!(
                (account.as_str(), cap, posted, pending, amount),
                (MY, 1000, 0, 600, 401)
            );
        }
        other => panic!("expected ExceedsCap, got {other:?}"),
    }
    // "No more than" the cap: equality is allowed.
    l.reserve("r2", MY, 400, None, meta("d2"), t(2))
        .expect("r2 fills the cap exactly");
    assert_eq!(bal(&mut l, MY).available, Some(0));

    let p = l
        .post("p1", "r1", Some(500), meta("d1"), t(3))
        .expect("partial post");
    assert_eq!(
        p.result,
        OpResult::Posted {
            pending_id: "r1".into(),
            amount_posted: 500,
            amount_released: 100
        }
    );
    assert_eq!(
        bal(&mut l, MY),
        Balance {
            cap: Some(1000),
            posted: 500,
            pending: 400,
            available: Some(100)
        }
    );

    let v = l.void("v2", "r2", meta("d2"), t(4)).expect("void");
    assert_eq!(
        v.result,
        OpResult::Voided {
            pending_id: "r2".into(),
            amount_released: 400
        }
    );
    assert_eq!(
        bal(&mut l, MY),
        Balance {
            cap: Some(1000),
            posted: 500,
            pending: 0,
            available: Some(500)
        }
    );

    assert!(matches!(
        l.post("p1b", "r1", None, meta("x"), t(5)),
        Err(LedgerError::AlreadyPosted { .. })
    ));
    assert!(matches!(
        l.void("v1", "r1", meta("x"), t(5)),
        Err(LedgerError::AlreadyPosted { .. })
    ));
    assert!(matches!(
        l.post("p2", "r2", None, meta("x"), t(5)),
        Err(LedgerError::AlreadyVoided { .. })
    ));
    assert!(matches!(
        l.void("v2b", "r2", meta("x"), t(5)),
        Err(LedgerError::AlreadyVoided { .. })
    ));
    assert!(matches!(
        l.post("p3", "nope", None, meta("x"), t(5)),
        Err(LedgerError::UnknownPending { .. })
    ));
    // Posting more than held.
    l.reserve("r3", MY, 10, None, meta("d3"), t(6)).expect("r3");
    match l.post("p4", "r3", Some(11), meta("d3"), t(6)) {
        Err(LedgerError::PostExceedsPending {
            held: 10,
            amount: 11,
            ..
        }) => {}
        other => panic!("expected PostExceedsPending, got {other:?}"),
    }
    assert_eq!(l.hold("r3").expect("hold").state, HoldState::Pending);
    assert_eq!(l.hold("r1").expect("hold").state, HoldState::Posted);
    l.check_invariants().expect("invariants");
}

fn expiry(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    l.reserve("h1", MY, 700, Some(t(100)), meta("d1"), t(10))
        .expect("h1");
    // Before expiry the hold counts.
    assert!(
        l.reserve("h2", MY, 400, None, meta("d2"), t(99))
            .unwrap_err()
            .is_exceeds_cap()
    );
    // At expires_at the hold is expired ("<= now") and no longer counts.
    l.reserve("h2", MY, 400, None, meta("d2"), t(100))
        .expect("h2 after expiry");
    assert_eq!(bal(&mut l, MY).pending, 400);
    match l.post("p1", "h1", None, meta("d1"), t(101)) {
        Err(LedgerError::AlreadyExpired {
            pending_id,
            expires_at,
        }) => {
            assert_eq!((pending_id.as_str(), expires_at), ("h1", t(100)));
        }
        other => panic!("expected AlreadyExpired, got {other:?}"),
    }
    assert!(matches!(
        l.void("v1", "h1", meta("d1"), t(101)),
        Err(LedgerError::AlreadyExpired { .. })
    ));
    assert_eq!(l.hold("h1").expect("hold").state, HoldState::Expired);
    let expire = l
        .history(MY)
        .expect("history")
        .into_iter()
        .find(|e| e.kind == EntryKind::Expire)
        .expect("expire entry");
    assert_eq!(
        (expire.pending_delta, expire.at, expire.op_id.as_deref()),
        (-700, t(100), None)
    );
    assert_eq!(
        expire.meta,
        meta("d1"),
        "expiry entry keeps the hold's determination"
    );

    // expire_due sweeps without any other write.
    l.reserve("h3", MY, 100, Some(t(200)), meta("d3"), t(150))
        .expect("h3");
    l.reserve("h4", MY, 100, Some(t(300)), meta("d4"), t(150))
        .expect("h4");
    // As-of before the sweep already excludes due holds.
    assert_eq!(l.balance(MY, Some(t(250))).expect("as of").pending, 500);
    assert_eq!(l.expire_due(t(250)).expect("expire_due"), 1);
    assert_eq!(l.expire_due(t(250)).expect("expire_due again"), 0);
    assert_eq!(bal(&mut l, MY).pending, 500);
    assert_eq!(l.hold("h3").expect("h3").state, HoldState::Expired);
    assert_eq!(l.hold("h4").expect("h4").state, HoldState::Pending);
    // Expiry must be in the future.
    assert!(matches!(
        l.reserve("h5", MY, 1, Some(t(300)), meta("d5"), t(300)),
        Err(LedgerError::ExpiryNotInFuture { .. })
    ));
    l.check_invariants().expect("invariants");
}

fn attrition_and_transfer(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    l.transfer("t1", MY, 300, meta("d1"), t(1))
        .expect("transfer");
    let a = l
        .attrition("a1", MY, 100, meta("lost"), t(2))
        .expect("attrition");
    assert_eq!(a.balance_after.posted, 200);
    match l.attrition("a2", MY, 201, meta("lost"), t(3)) {
        Err(LedgerError::AttritionExceedsPosted {
            posted: 200,
            amount: 201,
            ..
        }) => {}
        other => panic!("expected AttritionExceedsPosted, got {other:?}"),
    }
    l.transfer("t2", MY, 800, meta("d2"), t(4))
        .expect("transfer to the cap");
    assert!(
        l.transfer("t3", MY, 1, meta("d3"), t(5))
            .unwrap_err()
            .is_exceeds_cap()
    );
    // Attrition frees room under the cap.
    l.attrition("a3", MY, 1000, meta("resold"), t(6))
        .expect("attrition to zero");
    assert_eq!(bal(&mut l, MY).posted, 0);
    l.check_invariants().expect("invariants");
}

fn batches(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    l.ensure_account("lpp:acme:2025", AccountKind::Lpp, Some(50), t(0))
        .expect("lpp");
    let err = l
        .apply_batch(
            &[
                reserve("b1", MY, 10),
                reserve("b2", "lpp:acme:2025", 40),
                Op::Transfer {
                    op_id: "b3".into(),
                    account: "lpp:acme:2025".into(),
                    amount: 11,
                    meta: meta("d"),
                },
            ],
            t(1),
        )
        .unwrap_err();
    match &err {
        LedgerError::BatchFailed {
            index: 2,
            op_id,
            len: 3,
            source,
        } => {
            assert_eq!(op_id, "b3");
            assert!(matches!(
                **source,
                LedgerError::ExceedsCap { amount: 11, .. }
            ));
        }
        other => panic!("expected BatchFailed, got {other:?}"),
    }
    assert!(err.to_string().contains("linked_event_failed"), "{err}");
    // Nothing of the batch was written.
    assert_eq!(bal(&mut l, MY).pending, 0);
    assert!(l.op("b1").expect("op").is_none());
    // Reserve and post within one batch.
    let out = l
        .apply_batch(
            &[
                reserve("c1", MY, 10),
                Op::Post {
                    op_id: "c2".into(),
                    pending_id: "c1".into(),
                    amount: Some(7),
                    meta: meta("d"),
                },
                Op::Transfer {
                    op_id: "c3".into(),
                    account: "lpp:acme:2025".into(),
                    amount: 50,
                    meta: meta("d"),
                },
            ],
            t(2),
        )
        .expect("batch");
    assert_eq!(out.len(), 3);
    assert_eq!(
        bal(&mut l, MY),
        Balance {
            cap: Some(1000),
            posted: 7,
            pending: 0,
            available: Some(993)
        }
    );
    // Duplicate op ids inside one batch.
    let err = l
        .apply_batch(&[reserve("d1", MY, 1), reserve("d1", MY, 1)], t(3))
        .unwrap_err();
    assert!(
        matches!(err.root_cause(), LedgerError::DuplicateOpInBatch { .. }),
        "{err}"
    );
    l.check_invariants().expect("invariants");
}

fn idempotency(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let first = l
        .reserve("i1", MY, 100, None, meta("d1"), t(1))
        .expect("i1");
    assert!(!first.replayed);
    let again = l
        .reserve("i1", MY, 100, None, meta("d1"), t(50))
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(
        (again.at, &again.result, again.balance_after),
        (first.at, &first.result, first.balance_after)
    );
    assert_eq!(bal(&mut l, MY).pending, 100, "replay changed nothing");
    let e = l
        .reserve("i1", MY, 101, None, meta("d1"), t(2))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            LedgerError::OpExists {
                field: "amount",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "op `i1` exists with different amount");
    let e = l
        .reserve("i1", "lpp:x", 100, None, meta("d1"), t(2))
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::OpExists {
                field: "account",
                ..
            }
        ),
        "{e:?}"
    );
    let e = l
        .reserve("i1", MY, 100, None, meta("d9"), t(2))
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::OpExists {
                field: "determination_id",
                ..
            }
        ),
        "{e:?}"
    );
    let e = l.transfer("i1", MY, 100, meta("d1"), t(2)).unwrap_err();
    assert!(
        matches!(e, LedgerError::OpExists { field: "kind", .. }),
        "{e:?}"
    );
    // Post replays even though the hold is no longer pending.
    l.post("i2", "i1", None, meta("d1"), t(3)).expect("post");
    assert!(
        l.post("i2", "i1", None, meta("d1"), t(4))
            .expect("post replay")
            .replayed
    );
    // Failed ops are not stored: the same id may be retried after a cap raise.
    assert!(
        l.transfer("i3", MY, 950, meta("d3"), t(5))
            .unwrap_err()
            .is_exceeds_cap()
    );
    assert!(l.op("i3").expect("lookup").is_none());
    l.set_cap("c1", MY, Some(2000), meta("g2g"), t(6))
        .expect("raise cap");
    l.transfer("i3", MY, 950, meta("d3"), t(7))
        .expect("retry after raise");
    // Batch replay returns every original result.
    let ops = [reserve("j1", MY, 1), reserve("j2", MY, 2)];
    let a = l.apply_batch(&ops, t(8)).expect("batch");
    let r = l.apply_batch(&ops, t(9)).expect("batch replay");
    assert!(r.iter().all(|x| x.replayed));
    assert_eq!(
        a.iter().map(|x| &x.result).collect::<Vec<_>>(),
        r.iter().map(|x| &x.result).collect::<Vec<_>>()
    );
    l.check_invariants().expect("invariants");
}

fn as_of_and_caps(b: &Backend) {
    let mut l = b.open();
    setup(&mut l); // t0: cap 1000
    l.transfer("a", MY, 100, meta("d"), t(10)).expect("a");
    l.reserve("b", MY, 200, Some(t(50)), meta("d"), t(20))
        .expect("b");
    l.set_cap("c", MY, Some(2000), meta("g2g"), t(30))
        .expect("double");
    l.post("d", "b", Some(150), meta("d"), t(40)).expect("post");
    l.reserve("e", MY, 300, Some(t(70)), meta("d"), t(60))
        .expect("e");
    let at = |l: &mut Ledger, s| l.balance(MY, Some(t(s))).expect("as of");
    assert_eq!(at(&mut l, 5), Balance::of(Some(1000), 0, 0));
    assert_eq!(at(&mut l, 10), Balance::of(Some(1000), 100, 0));
    assert_eq!(at(&mut l, 25), Balance::of(Some(1000), 100, 200));
    assert_eq!(at(&mut l, 30), Balance::of(Some(2000), 100, 200));
    assert_eq!(at(&mut l, 45), Balance::of(Some(2000), 250, 0));
    assert_eq!(at(&mut l, 65), Balance::of(Some(2000), 250, 300));
    // e expired at 70 but nobody swept yet: as-of still excludes it.
    assert_eq!(at(&mut l, 80), Balance::of(Some(2000), 250, 0));
    // Lowering below usage fails; lowering to exactly usage works; uncap works.
    match l.set_cap("f", MY, Some(549), meta("x"), t(65)) {
        Err(LedgerError::CapBelowUsage {
            new_cap: 549,
            posted: 250,
            pending: 300,
            ..
        }) => {}
        other => panic!("expected CapBelowUsage, got {other:?}"),
    }
    l.set_cap("f", MY, Some(550), meta("x"), t(65))
        .expect("cap to usage");
    l.set_cap("g", MY, None, meta("x"), t(66)).expect("uncap");
    l.reserve(
        "h",
        MY,
        u64::try_from(i64::MAX).expect("fits") - 550,
        None,
        meta("x"),
        t(67),
    )
    .expect("uncapped");
    assert_eq!(bal(&mut l, MY).available, None);
    let caps: Vec<_> = l
        .history(MY)
        .expect("history")
        .into_iter()
        .filter(|e| matches!(e.kind, EntryKind::Open | EntryKind::Cap))
        .map(|e| e.cap)
        .collect();
    assert_eq!(caps, vec![Some(1000), Some(2000), Some(550), None]);
    l.check_invariants().expect("invariants");
}

fn history_records_meta(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let m = Meta {
        determination_id: Some("det-42".into()),
        regime_digest: Some("sha256:abc".into()),
        memo: Some(serde_json::json!({"shipment": "S1", "units": 8})),
    };
    l.reserve("r", MY, 5, None, m.clone(), t(1)).expect("r");
    l.post("p", "r", None, m.clone(), t(2)).expect("p");
    let h = l.history(MY).expect("history");
    assert_eq!(
        h.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EntryKind::Open, EntryKind::Reserve, EntryKind::Post]
    );
    assert!(h.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(h[1].meta, m);
    assert_eq!(
        (
            h[2].posted_delta,
            h[2].pending_delta,
            h[2].pending_id.as_deref()
        ),
        (5, -5, Some("r"))
    );
    assert!(matches!(
        l.history("country:XX:2025"),
        Err(LedgerError::UnknownAccount { .. })
    ));
}

fn bad_input(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    for bad in ["", "has space", "semi;colon", "ünïcode", &"x".repeat(129)] {
        let e = l
            .reserve(bad, MY, 1, None, Meta::default(), t(1))
            .unwrap_err();
        assert!(
            matches!(&e, LedgerError::InvalidOpId { value } if value == bad),
            "{e:?}"
        );
        assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
    }
    assert!(matches!(
        l.reserve("z", MY, 0, None, Meta::default(), t(1)),
        Err(LedgerError::ZeroAmount { .. })
    ));
    assert!(matches!(
        l.transfer("z", MY, 0, Meta::default(), t(1)),
        Err(LedgerError::ZeroAmount { .. })
    ));
    assert!(matches!(
        l.post("z", "r", Some(0), Meta::default(), t(1)),
        Err(LedgerError::ZeroAmount { .. })
    ));
    let e = l
        .reserve("big", MY, u64::MAX, None, Meta::default(), t(1))
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::AmountTooLarge {
                value: u64::MAX,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        l.reserve("u", "country:ZZ:2025", 1, None, Meta::default(), t(1)),
        Err(LedgerError::UnknownAccount { key }) if key == "country:ZZ:2025"
    ));
    assert!(matches!(
        l.ensure_account("bad key", AccountKind::Lpp, None, t(1)),
        Err(LedgerError::InvalidAccountKey { .. })
    ));
    assert!(matches!(
        l.ensure_account(MY, AccountKind::Lpp, Some(1000), t(1)),
        Err(LedgerError::AccountExists { field: "kind", .. })
    ));
    assert!(matches!(
        l.ensure_account(MY, AccountKind::CountryAllocation, Some(999), t(1)),
        Err(LedgerError::AccountExists { field: "cap", .. })
    ));
    l.ensure_account(MY, AccountKind::CountryAllocation, Some(1000), t(1))
        .expect("idempotent ensure");
    assert!(matches!(
        l.ensure_account("huge", AccountKind::Lpp, Some(u64::MAX), t(1)),
        Err(LedgerError::AmountTooLarge { .. })
    ));
    // None of that wrote anything.
    assert_eq!(bal(&mut l, MY), Balance::of(Some(1000), 0, 0));
    assert_eq!(l.history(MY).expect("history").len(), 1);
    l.check_invariants().expect("invariants");
}

fn license() -> License {
    License {
        id: "L-2025-001".into(),
        consignee: "Acme Compute Sdn Bhd".into(),
        destination_country: "MY".into(),
        allowed_item_ids: vec!["H100-SXM".into(), "B200".into()],
        units_cap: 1000,
        tpp_cap: 16_000_000,
        granted_on: "2025-02-01".into(),
        expires_on: "2027-01-31".into(),
        beyond_allocation: false,
        ..License::default()
    }
}

fn records(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let lic = license();
    l.add_license(&lic, t(1)).expect("license");
    l.add_license(&lic, t(2)).expect("license replay");
    let tpp = l.account("license:L-2025-001:tpp").expect("tpp account");
    assert_eq!(
        (tpp.kind, tpp.cap),
        (AccountKind::LicenseTpp, Some(16_000_000))
    );
    assert_eq!(
        l.account("license:L-2025-001:units").expect("units").cap,
        Some(1000)
    );
    let e = l
        .add_license(
            &License {
                tpp_cap: 1,
                ..lic.clone()
            },
            t(3),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::RecordExists {
                field: "tpp_cap",
                ..
            }
        ),
        "{e:?}"
    );
    let e = l
        .add_license(
            &License {
                id: "L2".into(),
                destination_country: "my".into(),
                ..lic.clone()
            },
            t(3),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::InvalidField {
                field: "destination country",
                ..
            }
        ),
        "{e:?}"
    );
    let e = l
        .add_license(
            &License {
                id: "L2".into(),
                expires_on: "2027-02-30".into(),
                ..lic.clone()
            },
            t(3),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::InvalidField {
                field: "expiry date",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(l.licenses().expect("list"), vec![lic.clone()]);
    assert_eq!(l.license("L-2025-001").expect("show"), Some(lic));

    let veu = Veu {
        id: "nveu-1".into(),
        kind: VeuKind::Nveu,
        owner: "Example DC".into(),
        hq_country: "US".into(),
        sites: vec![VeuSite {
            id: "kl-1".into(),
            country: "MY".into(),
        }],
    };
    l.add_veu(&veu, t(4)).expect("veu");
    assert_eq!(l.veus().expect("veus"), vec![veu.clone()]);
    assert_eq!(l.veu("nveu-1").expect("veu"), Some(veu));
    let g = G2gArrangement {
        country: "MY".into(),
        date: "2025-06-01".into(),
    };
    l.add_g2g(&g, t(5)).expect("g2g");
    let e = l
        .add_g2g(
            &G2gArrangement {
                date: "2025-07-01".into(),
                ..g.clone()
            },
            t(6),
        )
        .unwrap_err();
    assert!(
        matches!(e, LedgerError::RecordExists { field: "date", .. }),
        "{e:?}"
    );
    assert_eq!(l.g2g_arrangements().expect("list"), vec![g]);
}

fn shipments(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    l.add_license(&license(), t(0)).expect("license");
    let ship = NewShipment {
        shipment_id: "S-1".into(),
        input_digest: "sha256:input1".into(),
        determination: serde_json::json!({"outcome": "authorized", "path": "license"}).into(),
        status: ShipmentStatus::Authorized,
        ops: vec![
            Op::Transfer {
                op_id: "S-1:country".into(),
                account: MY.into(),
                amount: 600,
                meta: meta("det-S-1"),
            },
            Op::Transfer {
                op_id: "S-1:license-tpp".into(),
                account: "license:L-2025-001:tpp".into(),
                amount: 600,
                meta: meta("det-S-1"),
            },
        ],
        ..NewShipment::default()
    };
    let mut first = ship.clone();
    let s = l.record_shipment(&mut first, t(1)).expect("record");
    assert_eq!((s.applied.len(), s.replayed), (2, false));
    // The record stores the determination and the argument keeps it (a group run again
    // records the same shipment again).
    assert_eq!(s.determination, ship.determination);
    assert_eq!(first.determination, ship.determination);
    let stored = l.shipment("S-1").expect("read").expect("stored");
    assert_eq!(stored.determination, ship.determination);
    // The same id for another request is a conflict naming the id, never the other's answer.
    let e = l
        .record_shipment(
            &mut NewShipment {
                input_digest: "other".into(),
                ..ship.clone()
            },
            t(2),
        )
        .unwrap_err();
    assert!(
        matches!(&e, LedgerError::ShipmentConflict { shipment_id, .. } if shipment_id == "S-1"),
        "{e:?}"
    );
    let mut retry = ship.clone();
    let again = l.record_shipment(&mut retry, t(2)).expect("replay");
    assert!(again.replayed);
    // A replay answers the stored determination and leaves the argument as it was.
    assert_eq!(again.determination, ship.determination);
    assert_eq!(retry, ship);
    assert_eq!(
        (again.input_digest.as_str(), again.recorded_at),
        ("sha256:input1", t(1))
    );
    assert_eq!(bal(&mut l, MY).posted, 600);
    // A cap failure inside record_shipment writes nothing, not even the shipment.
    let over = NewShipment {
        shipment_id: "S-2".into(),
        ops: vec![Op::Transfer {
            op_id: "S-2:country".into(),
            account: MY.into(),
            amount: 401,
            meta: meta("det-S-2"),
        }],
        ..ship.clone()
    };
    let mut refused_over = over.clone();
    let e = l.record_shipment(&mut refused_over, t(3)).unwrap_err();
    assert!(e.is_exceeds_cap(), "{e:?}");
    // A write that fails leaves the argument whole (its determination was lent and given back).
    assert_eq!(refused_over, over);
    assert!(l.shipment("S-2").expect("lookup").is_none());
    assert!(l.op("S-2:country").expect("lookup").is_none());
    // Refused shipments carry no ops.
    let refused = NewShipment {
        shipment_id: "S-3".into(),
        status: ShipmentStatus::Refused,
        ops: vec![],
        ..ship.clone()
    };
    assert_eq!(
        l.record_shipment(&mut refused.clone(), t(4))
            .expect("refused")
            .status,
        ShipmentStatus::Refused
    );
    let bad = NewShipment {
        shipment_id: "S-4".into(),
        status: ShipmentStatus::Refused,
        ..ship.clone()
    };
    assert!(matches!(
        l.record_shipment(&mut bad.clone(), t(5)),
        Err(LedgerError::RefusedWithOps { count: 2, .. })
    ));
    assert_eq!(
        l.shipment("S-1").expect("show").expect("exists").applied,
        s.applied
    );
    // The listing holds every recorded shipment once, by id, and nothing that failed.
    let all = l.shipments().expect("list");
    let ids: Vec<&str> = all.iter().map(|s| s.shipment_id.as_str()).collect();
    assert_eq!(ids, ["S-1", "S-3"]);
    assert_eq!(all[0], l.shipment("S-1").expect("show").expect("exists"));
    assert_eq!(all[1].status, ShipmentStatus::Refused);
    l.check_invariants().expect("invariants");
}

fn append_only(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    l.transfer("x", MY, 5, meta("d"), t(1)).expect("x");
    let upd = b.raw_exec("UPDATE entries SET posted_delta = 0");
    assert!(
        upd.is_err_and(|e| e.contains("append-only")),
        "update of entries must fail"
    );
    let del = b.raw_exec("DELETE FROM entries");
    assert!(
        del.is_err_and(|e| e.contains("append-only")),
        "delete of entries must fail"
    );
    assert_eq!(l.history(MY).expect("history").len(), 2);
    l.check_invariants().expect("invariants");
    // Reopening an existing ledger is a no-op migration.
    drop(l);
    let mut l = b.open();
    assert_eq!(bal(&mut l, MY).posted, 5);
}

/// The shipment path's guarantees: every balance read is compared in the write transaction,
/// accounts open with the shipment, parties are registered once, and live balances never count
/// an expired hold (issue 12: "an expired hold still counts as pending").
fn shipment_transaction(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let lpp = "lpp:local@p1:2025";
    let base = NewShipment {
        shipment_id: "S-1".into(),
        input_digest: "sha256:a".into(),
        status: ShipmentStatus::Authorized,
        tenant: Some("local".into()),
        ops: vec![Op::Transfer {
            op_id: "S-1:0".into(),
            account: lpp.into(),
            amount: 10,
            meta: meta("S-1"),
        }],
        accounts: vec![AccountSpec {
            key: lpp.into(),
            kind: AccountKind::Lpp,
            cap: Some(100),
        }],
        expected: vec![ExpectedBalance {
            key: lpp.into(),
            used: 0,
            posted_only: false,
        }],
        parties: vec![Party {
            tenant: "local".into(),
            id: "p1".into(),
            name: "华为技术".into(),
            normalized_name: "华为技术".into(),
            hq: "CN".into(),
            parent_hq: None,
        }],
        ..NewShipment::default()
    };
    l.record_shipment(&mut base.clone(), t(1)).expect("first");
    assert_eq!(bal(&mut l, lpp), Balance::of(Some(100), 10, 0));
    assert_eq!(
        l.party("local/p1").expect("party").map(|p| p.name),
        Some("华为技术".to_string())
    );
    // A second shipment determined against the old balance (0) fails and writes nothing.
    let stale = NewShipment {
        shipment_id: "S-2".into(),
        ops: vec![Op::Transfer {
            op_id: "S-2:0".into(),
            account: lpp.into(),
            amount: 10,
            meta: meta("S-2"),
        }],
        ..base.clone()
    };
    let e = l.record_shipment(&mut stale.clone(), t(2)).unwrap_err();
    assert!(e.is_balance_moved(), "{e:?}");
    assert!(l.shipment("S-2").expect("lookup").is_none());
    let fresh = NewShipment {
        expected: vec![ExpectedBalance {
            key: lpp.into(),
            used: 10,
            posted_only: false,
        }],
        ..stale
    };
    l.record_shipment(&mut fresh.clone(), t(2)).expect("fresh");
    assert_eq!(bal(&mut l, lpp).posted, 20);
    // A hold that has expired is not pending for any read, swept or not.
    l.reserve("h", MY, 300, Some(t(5)), meta("h"), t(3))
        .expect("hold");
    let live = l.live_accounts(&[MY, lpp, "lpp:none"], t(4)).expect("live");
    assert_eq!(live[0].as_ref().map(|a| a.pending), Some(300));
    let live = l.live_accounts(&[MY, lpp, "lpp:none"], t(5)).expect("live");
    assert_eq!(live[0].as_ref().map(|a| a.pending), Some(0));
    assert_eq!(live[1].as_ref().map(|a| a.posted), Some(20));
    assert!(live[2].is_none());
    l.check_invariants().expect("invariants");
}

/// Two clocks (issue 12): a shipment's entries carry its business date beside the recording time;
/// `balance_on` reads business dates, `balance(.., Some(t))` recording times.
fn business_dates(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let recorded = Timestamp(1_796_000_000_000); // 2026-11-30, long after the shipment's date
    let late = NewShipment {
        shipment_id: "S-late".into(),
        input_digest: "sha256:late".into(),
        status: ShipmentStatus::Authorized,
        business_date: Some("2025-06-01".into()),
        ops: vec![Op::Transfer {
            op_id: "S-late:0".into(),
            account: MY.into(),
            amount: 40,
            meta: meta("S-late"),
        }],
        ..NewShipment::default()
    };
    l.record_shipment(&mut late.clone(), recorded)
        .expect("record");
    let history = l.history(MY).expect("history");
    assert_eq!(
        history.last().and_then(|e| e.business_date.as_deref()),
        Some("2025-06-01")
    );
    assert_eq!(l.balance_on(MY, "2025-06-30").expect("on").posted, 40);
    assert_eq!(l.balance_on(MY, "2025-05-31").expect("on").posted, 0);
    // Recorded in 2026: not in a recording-time balance of mid-2025.
    let mid_2025 = Timestamp(1_751_328_000_000);
    assert_eq!(l.balance(MY, Some(mid_2025)).expect("as of").posted, 0);
    assert_eq!(l.balance(MY, Some(recorded)).expect("as of").posted, 40);
    // The opening cap holds on every date; a bad date is an error naming it.
    assert_eq!(l.balance_on(MY, "2020-01-01").expect("on").cap, Some(1000));
    assert!(l.balance_on(MY, "2025-02-30").is_err());
}

/// A group commit: each write in it stands or falls alone, reads see the group's earlier writes,
/// and every write that stood is kept with its audit row (SQLite: one commit; PostgreSQL: one
/// transaction a write).
fn group(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let backlog = l.audit_backlog().expect("backlog");
    let mut seen = Vec::new();
    l.group(&mut |s| {
        seen.push(
            s.transfer("g1", MY, 600, meta("d1"), t(1))
                .map(|a| a.balance_after),
        );
        // Past the cap: fails, and undoes only itself.
        seen.push(
            s.transfer("g2", MY, 401, meta("d2"), t(2))
                .map(|a| a.balance_after),
        );
        seen.push(
            s.transfer("g3", MY, 400, meta("d3"), t(3))
                .map(|a| a.balance_after),
        );
        let read = s.account(MY).expect("read in group");
        assert_eq!(
            (read.posted, read.pending),
            (1000, 0),
            "reads see the group's writes"
        );
    })
    .expect("group");
    assert_eq!(
        seen[0].as_ref().expect("g1"),
        &Balance::of(Some(1000), 600, 0)
    );
    assert!(
        matches!(seen[1], Err(LedgerError::ExceedsCap { .. })),
        "{:?}",
        seen[1]
    );
    assert_eq!(
        seen[2].as_ref().expect("g3"),
        &Balance::of(Some(1000), 1000, 0)
    );
    drop(l);
    let mut l = b.open();
    assert_eq!(bal(&mut l, MY), Balance::of(Some(1000), 1000, 0));
    assert!(
        l.op("g2").expect("op").is_none(),
        "the failed write left nothing"
    );
    assert_eq!(
        l.audit_backlog().expect("backlog"),
        backlog + 2,
        "one audit row per write kept"
    );
    l.check_invariants().expect("invariants");
}

trait BalanceExt {
    fn of(cap: Option<u64>, posted: u64, pending: u64) -> Balance;
}
impl BalanceExt for Balance {
    fn of(cap: Option<u64>, posted: u64, pending: u64) -> Balance {
        Balance {
            cap,
            posted,
            pending,
            available: cap.map(|c| c - posted - pending),
        }
    }
}

/// Issue 15: an application's write (record, appended transition, hold ops, the license of an
/// approval) is one transaction; a stale sequence number writes nothing; transitions and license
/// changes are append-only; a license change sets the caps with it.
fn applications_and_license_changes(b: &Backend) {
    let mut l = b.open();
    setup(&mut l);
    let hold = |id: &str, amount: u64| aidf_ledger::ApplicationWrite {
        id: id.into(),
        seq: 0,
        body: serde_json::json!({"id": id, "state": "submitted"}),
        transition: serde_json::json!({"to": "submitted"}),
        state: "submitted".into(),
        ops: vec![reserve(&format!("application:{id}:hold"), MY, amount)],
        expected: vec![ExpectedBalance {
            key: MY.into(),
            used: 0,
            posted_only: false,
        }],
        ..Default::default()
    };
    l.write_application(&hold("APP-1", 40), t(1))
        .expect("submit");
    assert_eq!(bal(&mut l, MY).pending, 40);
    // The balance it read has moved: nothing of the second is written.
    let e = l.write_application(&hold("APP-2", 10), t(2)).unwrap_err();
    assert!(e.is_balance_moved(), "{e:?}");
    assert!(l.application("APP-2").expect("read").is_none());
    // The same id again: its submission is stored, so the write is stale; nothing written.
    let again = aidf_ledger::ApplicationWrite {
        expected: Vec::new(),
        ..hold("APP-1", 40)
    };
    let e = l.write_application(&again, t(2)).unwrap_err();
    assert!(
        matches!(e, LedgerError::StaleRecord { expected: 0, .. }),
        "{e:?}"
    );
    assert_eq!(bal(&mut l, MY).pending, 40);
    // Approval: the hold posted, the license recorded, the transition appended.
    let approve = aidf_ledger::ApplicationWrite {
        id: "APP-1".into(),
        seq: 1,
        body: serde_json::json!({"id": "APP-1", "state": "approved"}),
        transition: serde_json::json!({"to": "approved"}),
        state: "approved".into(),
        license: Some(license()),
        ops: vec![Op::Post {
            op_id: "application:APP-1:hold:post".into(),
            pending_id: "application:APP-1:hold".into(),
            amount: None,
            meta: Meta::default(),
        }],
        ..Default::default()
    };
    l.write_application(&approve, t(3)).expect("approve");
    let e = l.write_application(&approve, t(3)).unwrap_err();
    assert!(
        matches!(e, LedgerError::StaleRecord { expected: 1, .. }),
        "{e:?}"
    );
    assert_eq!((bal(&mut l, MY).posted, bal(&mut l, MY).pending), (40, 0));
    let stored = l.application("APP-1").expect("read").expect("stored");
    assert_eq!(stored.body["state"], "approved");
    assert_eq!(stored.transitions.len(), 2);
    assert_eq!(l.applications().expect("all").len(), 1);
    let lic = l.license("L-2025-001").expect("read").expect("license");
    // A change: caps set with it, appended, stale numbers refused.
    let change = aidf_ledger::LicenseChange {
        license: License {
            units_cap: 2000,
            status: aidf_ledger::LicenseStatus::Suspended,
            ..lic
        },
        seq: 0,
        kind: "suspend".into(),
        date: "2025-03-01".into(),
        actor: "officer".into(),
        reason: String::new(),
    };
    l.change_license(&change, t(4)).expect("change");
    assert_eq!(
        l.account("license:L-2025-001:units").expect("a").cap,
        Some(2000)
    );
    let e = l.change_license(&change, t(4)).unwrap_err();
    assert!(matches!(e, LedgerError::StaleRecord { .. }), "{e:?}");
    assert_eq!(l.license_changes("L-2025-001").expect("changes").len(), 1);
    let now = l.license("L-2025-001").expect("read").expect("license");
    assert_eq!(now.status, aidf_ledger::LicenseStatus::Suspended);
    for table in ["application_transitions", "license_changes"] {
        let upd = b.raw_exec(&format!("UPDATE {table} SET body = '{{}}'"));
        assert!(upd.is_err_and(|e| e.contains("append-only")), "{table}");
        let del = b.raw_exec(&format!("DELETE FROM {table}"));
        assert!(del.is_err_and(|e| e.contains("append-only")), "{table}");
    }
    l.check_invariants().expect("invariants");
}

fn decision(reason: &str, kind: PartyDecision) -> ScreeningDecision {
    ScreeningDecision {
        id: String::new(),
        tenant: "acme".into(),
        party: "Huawei Technologies Research Co., Ltd.".into(),
        party_key: "huawei technologies research".into(),
        list: "EL".into(),
        entry_id: "HUAWEI TECHNOLOGIES CO., LTD.".into(),
        entry_fingerprint: "sha256:aa".into(),
        decision: kind,
        reason: reason.into(),
        by: "officer".into(),
        at: Timestamp(0),
        seq: 0,
    }
}

fn screening_decisions_and_thresholds(b: &Backend) {
    let mut l = b.open();
    let first = l
        .record_screening_decision(
            &decision("other company", PartyDecision::NotTheSameParty),
            t(1),
        )
        .expect("decide");
    assert_eq!((first.seq, first.at), (0, t(1)));
    assert!(
        first.id.starts_with("acme/") && first.id.ends_with("/000000"),
        "{}",
        first.id
    );
    let later = l
        .record_screening_decision(&decision("same after all", PartyDecision::SameParty), t(2))
        .expect("decide again");
    assert_eq!(later.seq, 1, "supersedes, appended after");
    let other_party = ScreeningDecision {
        party_key: "acme computing".into(),
        ..decision("unrelated", PartyDecision::NotTheSameParty)
    };
    l.record_screening_decision(&other_party, t(3))
        .expect("decide");
    let all = l.screening_decisions("acme", None).expect("list");
    assert_eq!(all.len(), 3);
    let on_party = l
        .screening_decisions("acme", Some("huawei technologies research"))
        .expect("list");
    let reasons: Vec<&str> = on_party.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, ["other company", "same after all"], "oldest first");
    assert_eq!(on_party[1], later);
    assert!(
        l.screening_decisions("other", None)
            .expect("list")
            .is_empty()
    );
    for (bad, field) in [
        (decision(" ", PartyDecision::SameParty), "reason"),
        (
            ScreeningDecision {
                tenant: "a/b".into(),
                ..decision("r", PartyDecision::SameParty)
            },
            "tenant",
        ),
    ] {
        let e = l.record_screening_decision(&bad, t(4)).unwrap_err();
        assert!(
            matches!(&e, LedgerError::InvalidField { field: f, .. } if *f == field),
            "{e:?}"
        );
    }
    assert!(l.screening_thresholds("acme").expect("read").is_none());
    let set = |clear: &str, possible: &str| ScreeningThresholds {
        tenant: "acme".into(),
        clear: clear.into(),
        possible: possible.into(),
        by: "admin".into(),
        at: Timestamp(0),
        seq: 0,
    };
    l.set_screening_thresholds(&set("0.9", "0.75"), t(5))
        .expect("set");
    l.set_screening_thresholds(&set("0.95", "0.8"), t(6))
        .expect("set");
    let now = l.screening_thresholds("acme").expect("read").expect("set");
    assert_eq!(
        (now.clear.as_str(), now.possible.as_str(), now.seq),
        ("0.95", "0.8", 1)
    );
    assert!(l.screening_thresholds("other").expect("read").is_none());
    for table in ["screening_decisions", "screening_thresholds"] {
        let upd = b.raw_exec(&format!("UPDATE {table} SET body = '{{}}'"));
        assert!(upd.is_err_and(|e| e.contains("append-only")), "{table}");
        let del = b.raw_exec(&format!("DELETE FROM {table}"));
        assert!(del.is_err_and(|e| e.contains("append-only")), "{table}");
    }
    // Each write left its audit row (the outbox), in its own transaction.
    let (auditor, _keys) = test_auditor();
    assert_eq!(auditor.drain(&mut l).expect("drain"), 5);
    let actions: Vec<String> = l
        .audit_records("local", 10)
        .expect("records")
        .into_iter()
        .rev()
        .map(|r| format!("{} {}", r.action, r.outcome))
        .collect();
    assert_eq!(
        actions,
        [
            "screening.decision not_the_same_party",
            "screening.decision same_party",
            "screening.decision not_the_same_party",
            "screening.thresholds clear 0.9 possible 0.75",
            "screening.thresholds clear 0.95 possible 0.8",
        ]
    );
}

fn test_auditor() -> (aidf_ledger::audit::Auditor, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = aidf_ledger::audit::AuditKey::new(b"a test key of thirty-two bytes!!");
    (
        aidf_ledger::audit::Auditor::new(key, Some(dir.path().join("audit.anchor"))),
        dir,
    )
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::Backend::sqlite()); } )*
        }
        mod pg {
            $( #[test] fn $name() { if let Some(b) = super::Backend::pg() { super::$name(&b); } } )*
        }
    };
}

suite!(
    reserve_post_partial_void,
    expiry,
    attrition_and_transfer,
    batches,
    idempotency,
    as_of_and_caps,
    history_records_meta,
    bad_input,
    records,
    shipments,
    shipment_transaction,
    business_dates,
    append_only,
    group,
    applications_and_license_changes,
    screening_decisions_and_thresholds,
);
