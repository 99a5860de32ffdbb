//! `reports_due::due` against a ledger: the VEU report of the ended and the current half year
//! once a VEU is recorded, with the due dates of `policy/reports.toml` (rule-facts §9).
mod common;

use aidf_core::{Policy, Posture};
use aidf_ledger::{Timestamp, Veu, VeuKind, VeuSite};
use aidf_service::application::Actor;
use aidf_service::reports_due::{DueStatus, due};
use chrono::NaiveDate;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// Tenant `acme` on a server: its records carry the prefix `acme.`.
fn who() -> Actor<'static> {
    Actor {
        tenant: "acme",
        record_prefix: "acme.",
        actor: "acme:officer",
        posture: Posture::AsWritten,
        now: Timestamp(1_748_865_600_000),
    }
}

fn veu(id: &str) -> Veu {
    Veu {
        id: id.into(),
        kind: VeuKind::Uveu,
        owner: "BigCloud Inc".into(),
        hq_country: "US".into(),
        sites: vec![VeuSite {
            id: "kl-1".into(),
            country: "MY".into(),
        }],
    }
}

fn veu_reports_fall_due_by_half_year(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = Policy::embedded().expect("policy");
    let as_of = day("2025-08-01");
    let now = Timestamp(1_748_865_600_000);
    let none = due(l.store(), &policy, &who(), as_of).expect("due");
    assert_eq!(none, vec![], "no VEU, no shipment: nothing due");
    // Another tenant's VEU is not this tenant's reason.
    l.store().add_veu(&veu("beta.UVEU-9"), now).expect("veu");
    assert_eq!(due(l.store(), &policy, &who(), as_of).expect("due"), vec![]);
    l.store().add_veu(&veu("acme.UVEU-1"), now).expect("veu");
    let got = due(l.store(), &policy, &who(), as_of).expect("due");
    // (report, period, due, status): H1 was due on 15 July (past), H2 on 15 January next year.
    let table = [
        (
            "veu-semiannual",
            "2025-H1",
            "2025-07-15",
            DueStatus::Overdue,
        ),
        (
            "veu-semiannual",
            "2025-H2",
            "2026-01-15",
            DueStatus::Upcoming,
        ),
    ];
    assert_eq!(got.len(), table.len(), "{got:?}");
    for (g, (report, period, on, status)) in got.iter().zip(table) {
        assert_eq!(
            (g.report.as_str(), g.period.as_str(), g.due, g.status),
            (report, period, day(on), status)
        );
        assert_eq!(g.reason, "VEU recorded in the ledger: UVEU-1");
    }
    // Two weeks before H1's due date: H1 is due soon; the current half is H2 still.
    let soon = due(l.store(), &policy, &who(), day("2025-07-01")).expect("due");
    let statuses: Vec<(&str, DueStatus)> =
        soon.iter().map(|d| (d.period.as_str(), d.status)).collect();
    assert_eq!(
        statuses,
        [
            ("2025-H1", DueStatus::DueWithin30Days),
            ("2025-H2", DueStatus::Upcoming)
        ]
    );
}

#[test]
fn veu_reports_fall_due_by_half_year_sqlite() {
    veu_reports_fall_due_by_half_year(false);
}

#[test]
fn veu_reports_fall_due_by_half_year_pg() {
    veu_reports_fall_due_by_half_year(true);
}
