//! Issue 15, items 1 and 2: license applications through their state machine, with their
//! determination, and — where the regime reads the allocation as consumed on issuance — holding
//! the country allocation until they are decided.

mod common;

use aidf_core::{DeterminationInput, Policy, PolicySources, Posture};
use aidf_ledger::{Ledger, LedgerStore, LicenseCondition, ShipmentStatus, Timestamp};
use aidf_service::application::{
    Actor, ApplicationError, ApplicationInput, ApplicationState, Approval, Decision, decide, list,
    parse_application, show, submit,
};
use aidf_service::{ShipConfig, ShipRequest, ship};
use chrono::NaiveDate;

/// 2025-06-02T12:00:00Z.
const NOW: Timestamp = Timestamp(1_748_865_600_000);
const ALLOCATION: &str = "country:AE:2025-2027";
/// 45,000 H100 SXM × 15,832 TPP.
const TPP_45K: u64 = 712_440_000;

fn who() -> Actor<'static> {
    Actor {
        tenant: "local",
        record_prefix: "",
        actor: "local:officer",
        posture: Posture::AsWritten,
        now: NOW,
    }
}

/// The embedded policy with `allocation_consumption_event` read as license issuance.
fn issuance_policy() -> Policy {
    let mut src = PolicySources::embedded();
    let mut changed = 0;
    for (_, text) in &mut src.regimes {
        let from = "[switches.allocation_consumption_event]\nvalue = \"shipped\"";
        if text.contains(from) {
            *text = text.replace(
                from,
                "[switches.allocation_consumption_event]\nvalue = \"license_issued\"",
            );
            changed += 1;
        }
    }
    assert!(changed > 0, "the switch is in the regime files");
    Policy::from_sources(&src).expect("policy")
}

fn application(id: &str, quantity: u64) -> ApplicationInput {
    parse_application(&format!(
        r#"{{"id":"{id}","date":"2025-06-02","destination":"AE",
            "applicant":{{"name":"Acme Exports Inc","country":"US"}},
            "purchaser":{{"name":"Gulf Compute LLC","country":"AE"}},
            "intermediate_consignees":[{{"name":"Jebel Ali Freight FZE","country":"AE"}}],
            "consignee":{{"name":"Gulf Compute LLC","hq":"AE","parent_hq":"AE","veu":null}},
            "end_users":[{{"name":"Gulf Compute LLC","country":"AE","address":"Abu Dhabi"}}],
            "items":[{{"chip":"NVIDIA H100 SXM","quantity":{quantity}}}],
            "value_usd":"1125000000.00","end_use":"deployment","documents":["PO-7781"]}}"#
    ))
    .expect("application")
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn alloc(l: &mut Ledger) -> (u64, u64) {
    l.account(ALLOCATION)
        .map_or((0, 0), |a| (a.posted, a.pending))
}

#[test]
fn the_state_machine_allows_exactly_these_transitions() {
    use ApplicationState::*;
    let allowed = [
        (Submitted, Registered),
        (Submitted, HoldWithoutAction),
        (Submitted, Approved),
        (Submitted, Denied),
        (Submitted, ReturnedWithoutAction),
        (Submitted, Withdrawn),
        (Registered, Referred),
        (Registered, HoldWithoutAction),
        (Registered, Approved),
        (Registered, Denied),
        (Registered, ReturnedWithoutAction),
        (Registered, Withdrawn),
        (Referred, Registered),
        (Referred, HoldWithoutAction),
        (Referred, Approved),
        (Referred, Denied),
        (Referred, ReturnedWithoutAction),
        (Referred, Withdrawn),
        (HoldWithoutAction, Registered),
        (HoldWithoutAction, Referred),
        (HoldWithoutAction, ReturnedWithoutAction),
        (HoldWithoutAction, Withdrawn),
    ];
    for from in ApplicationState::ALL {
        for to in ApplicationState::ALL {
            let r = from.check(to);
            if allowed.contains(&(from, to)) {
                assert!(r.is_ok(), "{from} → {to}");
            } else {
                let e = r.expect_err("refused");
                let text = e.to_string();
                assert!(text.contains(&format!("from `{from}` to `{to}`")), "{text}");
            }
        }
    }
    assert_eq!(
        Approved.check(Denied).unwrap_err().to_string(),
        "an application cannot go from `approved` to `denied`; `approved` is final"
    );
}

fn every_transition_is_dated_by_its_actor_and_a_refused_one_names_both_states(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = Policy::embedded().expect("policy");
    submit(&mut l, &policy, &application("APP-1", 2000), &who()).expect("submit");
    let steps = [
        (ApplicationState::Registered, "2025-06-03"),
        (ApplicationState::Referred, "2025-06-04"),
        (ApplicationState::HoldWithoutAction, "2025-06-05"),
        (ApplicationState::Registered, "2025-06-06"),
        (ApplicationState::Withdrawn, "2025-06-07"),
    ];
    for (to, date) in steps {
        // Each transition commits its own audit outbox row.
        let before = l.audit_backlog().expect("backlog");
        let v = decide(&mut l, "APP-1", &Decision::To(to), day(date), "", &who()).expect("step");
        assert_eq!(v.application.state, to);
        assert_eq!(l.audit_backlog().expect("backlog"), before + 1, "{to}");
    }
    let v = show(&mut l, &who(), "APP-1").expect("show");
    assert_eq!(v.transitions.len(), 6);
    assert!(v.transitions.iter().all(|t| t.actor == "local:officer"));
    assert_eq!(v.transitions[5].from, Some(ApplicationState::Registered));
    assert_eq!(v.transitions[5].date, day("2025-06-07"));
    let before = l.audit_backlog().expect("backlog");
    let e = decide(
        &mut l,
        "APP-1",
        &Decision::To(ApplicationState::Registered),
        day("2025-06-08"),
        "",
        &who(),
    )
    .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "application `APP-1`: an application cannot go from `withdrawn` to `registered`; `withdrawn` is final"
    );
    // A refused transition writes nothing (no audit row, no transition).
    assert_eq!(l.audit_backlog().expect("backlog"), before);
    assert_eq!(
        show(&mut l, &who(), "APP-1")
            .expect("show")
            .transitions
            .len(),
        6
    );
    let e = decide(
        &mut l,
        "APP-9",
        &Decision::To(ApplicationState::Registered),
        day("2025-06-08"),
        "",
        &who(),
    )
    .unwrap_err();
    assert!(matches!(e, ApplicationError::Unknown(_)), "{e:?}");
    let e = submit(&mut l, &policy, &application("APP-1", 2000), &who()).unwrap_err();
    assert!(matches!(e, ApplicationError::Exists(_)), "{e:?}");
}

fn under_the_default_reading_an_application_holds_nothing_and_says_so(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = Policy::embedded().expect("policy");
    let v = submit(&mut l, &policy, &application("APP-1", 45_000), &who()).expect("submit");
    let a = &v.application;
    assert_eq!(a.state, ApplicationState::Submitted);
    assert_eq!(a.total_tpp, TPP_45K);
    assert_eq!(a.review_policy.as_deref(), Some("approval"));
    assert_eq!(a.allocation.reading, "shipped");
    assert_eq!(a.allocation.held_tpp, None);
    assert!(
        a.allocation.note.contains("holds nothing"),
        "{}",
        a.allocation.note
    );
    let assumptions = a.determinations[0].determination["assumptions"].to_string();
    assert!(
        assumptions.contains("allocation_consumption_event"),
        "{assumptions}"
    );
    assert_eq!(alloc(&mut l), (0, 0));
    // The consignee is in the party registry, keyed as a shipment keys it.
    let id = aidf_core::PartyId::of("Gulf Compute LLC", "AE");
    let party = l
        .party(&format!("local/{id}"))
        .expect("read")
        .expect("registered");
    assert_eq!(party.name, "Gulf Compute LLC");
    // A second one is determined against exports only: still presumption of approval.
    let v2 = submit(&mut l, &policy, &application("APP-2", 45_000), &who()).expect("submit");
    assert_eq!(v2.application.review_policy.as_deref(), Some("approval"));
}

fn under_the_issuance_reading_a_pending_application_holds_the_allocation(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = issuance_policy();
    let v = submit(&mut l, &policy, &application("APP-1", 45_000), &who()).expect("submit");
    assert_eq!(v.application.allocation.reading, "license_issued");
    assert_eq!(v.application.allocation.held_tpp, Some(TPP_45K));
    assert_eq!(v.application.review_policy.as_deref(), Some("approval"));
    assert_eq!(alloc(&mut l), (0, TPP_45K));

    // The second is presumed denied, naming the application that holds the allocation.
    let v2 = submit(&mut l, &policy, &application("APP-2", 45_000), &who()).expect("submit");
    let a2 = &v2.application;
    assert_eq!(a2.review_policy.as_deref(), Some("denial"));
    assert_eq!(a2.allocation.held_by.len(), 1);
    assert_eq!(a2.allocation.held_by[0].id, "APP-1");
    assert_eq!(a2.allocation.held_tpp, None);
    assert!(
        a2.allocation.note.contains("`APP-1` (712440000 TPP)"),
        "{}",
        a2.allocation.note
    );
    assert!(
        a2.allocation.note.contains("presumption of denial"),
        "{}",
        a2.allocation.note
    );
    assert_eq!(alloc(&mut l), (0, TPP_45K));

    // Approval with a condition: the hold becomes the license's draw on the allocation.
    let approval = Approval {
        license_id: "L-APP-1".into(),
        conditions: vec![
            LicenseCondition::EndUserUnchanged,
            LicenseCondition::ReportWithinDays { days: 30 },
        ],
        ..Approval::default()
    };
    let v = decide(
        &mut l,
        "APP-1",
        &Decision::Approve(approval),
        day("2025-06-10"),
        "",
        &who(),
    )
    .expect("approve");
    assert_eq!(v.application.state, ApplicationState::Approved);
    assert_eq!(v.application.license_id.as_deref(), Some("L-APP-1"));
    assert_eq!(alloc(&mut l), (TPP_45K, 0));
    let lic = l.license("L-APP-1").expect("read").expect("license");
    assert_eq!((lic.units_cap, lic.tpp_cap), (45_000, TPP_45K));
    assert_eq!(lic.expires_on, "2029-06-10");
    // The four years are policy data, an unconfirmed reading, reported with the approval.
    let approval_note = &v.transitions.last().expect("transition").note;
    assert!(
        approval_note
            .contains("license expiry 2029-06-10 assumed: [U] default_validity = 48 months"),
        "{approval_note}"
    );
    assert_eq!(lic.allocation_drawn.as_deref(), Some(ALLOCATION));
    assert_eq!(lic.application_id.as_deref(), Some("APP-1"));
    assert_eq!(lic.value_usd.as_deref(), Some("1125000000.00"));

    // A shipment under it draws the license, not the allocation again.
    let input = DeterminationInput::from_json(
        r#"{"date":"2025-06-12","destination":"AE","consignee":{"name":"Gulf Compute LLC","hq":"AE"},"item":{"chip":"NVIDIA H100 SXM"},"quantity":10000}"#,
    )
    .expect("input");
    let req = ShipRequest {
        input: &input,
        shipment_id: "s1",
        tenant: "local",
        record_prefix: "",
        may_backfill: true,
        now: Timestamp(1_749_729_600_000),
    };
    let config = ShipConfig {
        screen: false,
        ..ShipConfig::default()
    };
    let out = ship(&mut l, &policy, &config, &req).expect("ship");
    assert_eq!(out.status, ShipmentStatus::Authorized, "{:?}", out.refusal);
    assert_eq!(out.license_id.as_deref(), Some("L-APP-1"));
    assert_eq!(alloc(&mut l), (TPP_45K, 0));
    assert_eq!(
        l.account("license:L-APP-1:units").expect("units").posted,
        10_000
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("does not draw it again")),
        "{:?}",
        out.notes
    );
    // Its determination reads the allocation without the license's own unshipped remainder:
    // 712,440,000 posted − 712,440,000 not yet shipped + 158,320,000 ≤ 790,000,000.
    assert_eq!(
        out.determination_value()["review_policy"],
        "approval",
        "{}",
        out.determination
    );
    let second = ShipRequest {
        shipment_id: "s2",
        ..req
    };
    let out2 = ship(&mut l, &policy, &config, &second).expect("ship");
    assert_eq!(
        out2.status,
        ShipmentStatus::Authorized,
        "{:?}",
        out2.refusal
    );
    assert_eq!(
        out2.determination_value()["review_policy"],
        "approval",
        "{}",
        out2.determination
    );
    assert_eq!(alloc(&mut l), (TPP_45K, 0));
    assert_eq!(
        l.account("license:L-APP-1:units").expect("units").posted,
        20_000
    );
    assert!(
        out.notes.iter().any(|n| n.contains("by 2025-07-12")),
        "{:?}",
        out.notes
    );

    // Denial of the second: it held nothing, and nothing moves.
    decide(
        &mut l,
        "APP-2",
        &Decision::To(ApplicationState::Denied),
        day("2025-06-10"),
        "",
        &who(),
    )
    .expect("deny");
    assert_eq!(alloc(&mut l), (TPP_45K, 0));
    assert_eq!(list(&mut l, &who()).expect("list").len(), 2);
}

fn denial_return_and_withdrawal_void_the_hold(pg: bool) {
    let policy = issuance_policy();
    for to in [
        ApplicationState::Denied,
        ApplicationState::ReturnedWithoutAction,
        ApplicationState::Withdrawn,
    ] {
        let Some((_d, mut l)) = common::ledger(pg) else {
            return;
        };
        submit(&mut l, &policy, &application("APP-1", 45_000), &who()).expect("submit");
        assert_eq!(alloc(&mut l), (0, TPP_45K));
        decide(
            &mut l,
            "APP-1",
            &Decision::To(to),
            day("2025-06-03"),
            "",
            &who(),
        )
        .expect("decide");
        assert_eq!(alloc(&mut l), (0, 0), "{to}");
        // The room is back: a new application holds it.
        let v = submit(&mut l, &policy, &application("APP-2", 45_000), &who()).expect("submit");
        assert_eq!(v.application.allocation.held_tpp, Some(TPP_45K), "{to}");
        l.check_invariants().expect("invariants");
    }
}

fn fifty_thousand_h100_alone_pass_the_uae_allocation(pg: bool) {
    // 50,000 × 15,832 = 791,600,000 TPP > 790,000,000: presumed denied on its own.
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let v = submit(
        &mut l,
        &issuance_policy(),
        &application("APP-1", 50_000),
        &who(),
    )
    .expect("submit");
    assert_eq!(v.application.total_tpp, 791_600_000);
    assert_eq!(v.application.review_policy.as_deref(), Some("denial"));
    assert_eq!(v.application.allocation.held_tpp, None);
}

fn a_g2g_arrangement_doubles_the_allocation_an_application_reads(pg: bool) {
    // With a G2G arrangement the AE allocation is 1,580,000,000 TPP (the regime's multiplier):
    // 50,000 H100 (791,600,000) fit and hold it; a second 50,000 pass it (1,583,200,000),
    // presumed denied naming the first.
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let g2g = aidf_ledger::G2gArrangement {
        country: "AE".into(),
        date: "2025-01-15".into(),
    };
    l.store().add_g2g(&g2g, NOW).expect("g2g");
    let policy = issuance_policy();
    let one = submit(&mut l, &policy, &application("APP-1", 50_000), &who()).expect("submit");
    assert_eq!(one.application.review_policy.as_deref(), Some("approval"));
    assert_eq!(one.application.allocation.held_tpp, Some(791_600_000));
    let two = submit(&mut l, &policy, &application("APP-2", 50_000), &who()).expect("submit");
    assert_eq!(two.application.review_policy.as_deref(), Some("denial"));
    let held: Vec<(&str, u64)> = two
        .application
        .allocation
        .held_by
        .iter()
        .map(|h| (h.id.as_str(), h.tpp))
        .collect();
    assert_eq!(held, [("APP-1", 791_600_000)]);
}

#[test]
fn bad_applications_name_the_field() {
    let e = parse_application(r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":1,"colour":"red"}],"value_usd":"1"}"#)
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("field `items[0].colour`: unknown field"),
        "{e}"
    );
    let e = parse_application(r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":0}],"value_usd":"1"}"#)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("field `items[0].quantity`"),
        "{e}"
    );
    let e = parse_application(r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[],"value_usd":"1"}"#)
        .unwrap_err();
    assert!(e.to_string().starts_with("field `items`"), "{e}");
    let a = parse_application(r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":1}],"value_usd":1234567890123.4567891}"#)
        .expect("exact");
    assert_eq!(a.value_usd.to_string(), "1234567890123.4567891");
}

both!(
    every_transition_is_dated_by_its_actor_and_a_refused_one_names_both_states,
    under_the_default_reading_an_application_holds_nothing_and_says_so,
    under_the_issuance_reading_a_pending_application_holds_the_allocation,
    denial_return_and_withdrawal_void_the_hold,
    fifty_thousand_h100_alone_pass_the_uae_allocation,
    a_g2g_arrangement_doubles_the_allocation_an_application_reads,
);
