//! Issue 15, item 4: processing-time analytics from the dated transitions of applications.

mod common;

use aidf_core::{Policy, Posture};
use aidf_ledger::Timestamp;
use aidf_service::application::{
    Actor, ApplicationState, Approval, Decision, decide, parse_application, submit,
};
use aidf_service::application_stats::stats;
use chrono::NaiveDate;

fn who() -> Actor<'static> {
    Actor {
        tenant: "local",
        record_prefix: "",
        actor: "local:officer",
        posture: Posture::AsWritten,
        // 2025-06-02T12:00:00Z.
        now: Timestamp(1_748_865_600_000),
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn file(l: &mut aidf_ledger::Ledger, policy: &Policy, id: &str, destination: &str, date: &str) {
    let input = parse_application(&format!(
        r#"{{"id":"{id}","date":"{date}","destination":"{destination}",
            "consignee":{{"name":"Compute {id}","hq":"{destination}","parent_hq":"{destination}","veu":null}},
            "items":[{{"chip":"NVIDIA H100 SXM","quantity":100}}],
            "value_usd":"2500000.00","end_use":"deployment"}}"#
    ))
    .expect("application");
    submit(l, policy, &input, &who()).expect("submit");
}

fn to(state: ApplicationState) -> Decision {
    Decision::To(state)
}

fn stats_are_counted_from_the_dated_transitions(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = Policy::embedded().expect("policy");
    let w = who();
    file(&mut l, &policy, "A1", "AE", "2025-06-02");
    file(&mut l, &policy, "A2", "SA", "2025-06-02");
    file(&mut l, &policy, "A3", "AE", "2025-06-02");
    file(&mut l, &policy, "A4", "SA", "2025-06-02");
    file(&mut l, &policy, "A5", "AE", "2025-06-02");
    let approve = Decision::Approve(Approval {
        license_id: "L-A1".into(),
        ..Approval::default()
    });
    decide(&mut l, "A1", &approve, day("2025-06-30"), "", &w).expect("approve");
    decide(
        &mut l,
        "A2",
        &to(ApplicationState::Registered),
        day("2025-06-05"),
        "",
        &w,
    )
    .expect("register");
    decide(
        &mut l,
        "A2",
        &to(ApplicationState::Denied),
        day("2025-09-02"),
        "",
        &w,
    )
    .expect("deny");
    decide(
        &mut l,
        "A3",
        &to(ApplicationState::ReturnedWithoutAction),
        day("2025-06-12"),
        "",
        &w,
    )
    .expect("return");
    decide(
        &mut l,
        "A5",
        &to(ApplicationState::Withdrawn),
        day("2025-06-20"),
        "",
        &w,
    )
    .expect("withdraw");

    let s = stats(&mut l, &w, day("2025-10-01")).expect("stats");
    assert_eq!(s.applications, 5);
    assert_eq!((s.approved, s.decided), (1, 3));
    assert_eq!(s.approval_rate_permille, Some(333));
    // Decided after 28 (A1), 92 (A2) and 10 (A3) days; a withdrawal is not a decision.
    assert_eq!(s.days_to_decision.decided, 3);
    assert_eq!(s.days_to_decision.p50_days, Some(28));
    assert_eq!(s.days_to_decision.p90_days, Some(92));
    assert_eq!(s.by_destination["AE"].decided, 2);
    assert_eq!(s.by_destination["AE"].p90_days, Some(28));
    assert_eq!(s.by_destination["SA"].p50_days, Some(92));
    assert_eq!(s.by_outcome["denied"].max_days, Some(92));
    assert_eq!(s.by_state["submitted"], 1);
    assert_eq!(s.by_state["withdrawn"], 1);
    // A4 has waited 121 days.
    let pending: Vec<(String, u64)> = s
        .pending_by_age
        .iter()
        .map(|b| (b.days.clone(), b.pending))
        .collect();
    assert_eq!(
        pending,
        [
            ("0-30".to_string(), 0),
            ("31-60".into(), 0),
            ("61-90".into(), 0),
            ("91-180".into(), 1),
            ("181+".into(), 0)
        ]
    );

    // As of an earlier date only what had happened by then counts.
    let s = stats(&mut l, &w, day("2025-06-25")).expect("stats");
    assert_eq!((s.approved, s.decided), (0, 1));
    assert_eq!(s.by_state["registered"], 1);
    assert_eq!(
        s.pending_by_age[0].pending, 3,
        "A1, A2 and A4 waited 23 days"
    );
    let s = stats(&mut l, &w, day("2025-06-01")).expect("stats");
    assert_eq!(s.applications, 0);
    assert_eq!(s.approval_rate_permille, None);
    assert_eq!(s.days_to_decision.p50_days, None);
}

#[test]
fn stats_are_counted_from_the_dated_transitions_sqlite() {
    stats_are_counted_from_the_dated_transitions(false);
}

#[test]
fn stats_are_counted_from_the_dated_transitions_pg() {
    stats_are_counted_from_the_dated_transitions(true);
}
