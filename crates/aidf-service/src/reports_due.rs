//! Which reports to BIS are due, as of a date (issue 15): the Data Center VEU semi-annual report
//! of the half year that ended last and of the current one (when the ledger records a VEU or the
//! tenant shipped under one in the period), and one AIA certification report per consignee past
//! the reporting trigger. Periods and due dates are `policy/reports.toml`'s (read through
//! `reports`), the trigger is the regime's switch; the ledger does not record a filing, so a past
//! due date is `overdue` until the officer files it outside aidf.

use aidf_core::{Policy, Posture};
use aidf_ledger::LedgerStore;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::application::Actor;
use crate::reports::{self, ReportError};

/// How far ahead a due date counts as due soon (a display window, not a rule).
const DUE_SOON_DAYS: i64 = 30;

/// Where a report stands against its due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub enum DueStatus {
    /// The due date has passed (the ledger does not record a filing).
    #[serde(rename = "overdue")]
    Overdue,
    /// Due today or within the next 30 days.
    #[serde(rename = "due-within-30-days")]
    DueWithin30Days,
    /// Due later.
    #[serde(rename = "upcoming")]
    Upcoming,
}

impl DueStatus {
    /// The status of a report due on `due`, as of `as_of`.
    pub fn of(due: NaiveDate, as_of: NaiveDate) -> DueStatus {
        let days_left = (due - as_of).num_days();
        if days_left < 0 {
            DueStatus::Overdue
        } else if days_left <= DUE_SOON_DAYS {
            DueStatus::DueWithin30Days
        } else {
            DueStatus::Upcoming
        }
    }

    /// The status as written in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            DueStatus::Overdue => "overdue",
            DueStatus::DueWithin30Days => "due-within-30-days",
            DueStatus::Upcoming => "upcoming",
        }
    }
}

/// A report that is or will be due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DueReport {
    /// The report's name (`GET /v1/reports/{name}`, `aidf report NAME`).
    pub report: String,
    /// The period to pass when building it (`2025-H1`), or `to YYYY-MM-DD` for AIA.
    pub period: String,
    /// Due date.
    pub due: NaiveDate,
    /// Overdue, due within 30 days, or upcoming.
    pub status: DueStatus,
    /// Why it is due (the VEU records, the consignee past the trigger).
    pub reason: String,
}

/// The reports due for `who`'s tenant as of `as_of` (under its posture), earliest due date first.
/// The tenant's VEU records are those whose id starts with `who.record_prefix`.
pub fn due(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    who: &Actor<'_>,
    as_of: NaiveDate,
) -> Result<Vec<DueReport>, ReportError> {
    let veus: Vec<String> = store
        .veus()?
        .into_iter()
        .filter_map(|v| v.id.strip_prefix(who.record_prefix).map(str::to_string))
        .collect();
    let mut out = veu_due(store, policy, who, &veus, as_of)?;
    out.extend(aia_due(store, policy, who.tenant, as_of, who.posture)?);
    out.sort_by(|a, b| (a.due, &a.report, &a.period).cmp(&(b.due, &b.report, &b.period)));
    Ok(out)
}

/// A half year of the VEU report: its name (`2025-H1`), first and last day, due date.
struct Half {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
    due: NaiveDate,
}

/// The halves of `year - 1` and `year`, from `policy/reports.toml`, in order.
fn halves_around(year: i32) -> Result<Vec<Half>, ReportError> {
    let defs = reports::definitions()?.veu_semiannual.periods;
    let mut out = Vec::new();
    for y in [year - 1, year] {
        for p in &defs {
            let due_year = if p.due_next_year { y + 1 } else { y };
            out.push(Half {
                name: format!("{y}-{}", p.name),
                from: reports::date(y, &p.from, "from")?,
                to: reports::date(y, &p.to, "to")?,
                due: reports::date(due_year, &p.due, "due")?,
            });
        }
    }
    out.sort_by_key(|h| h.from);
    Ok(out)
}

/// The VEU report of the half that ended last and of the current half, when the ledger records a
/// VEU or the tenant shipped under one in that half.
fn veu_due(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    who: &Actor<'_>,
    veus: &[String],
    as_of: NaiveDate,
) -> Result<Vec<DueReport>, ReportError> {
    let halves = halves_around(as_of.year())?;
    let current = halves.iter().find(|h| h.from <= as_of && as_of <= h.to);
    let ended = halves.iter().rev().find(|h| h.to < as_of);
    let mut out = Vec::new();
    for half in [ended, current].into_iter().flatten() {
        let (year, name) = half.name.split_once('-').unwrap_or((&half.name, ""));
        let year: i32 = year.parse().unwrap_or(as_of.year());
        let shipped = reports::veu_semiannual(store, policy, who.tenant, year, name, who.posture)?
            .rows
            .len();
        let reason = match (veus.is_empty(), shipped) {
            (true, 0) => continue,
            (false, 0) => format!("VEU recorded in the ledger: {}", veus.join(", ")),
            (true, n) => format!("{n} shipment(s) under a VEU in the period"),
            (false, n) => format!(
                "VEU recorded in the ledger: {}; {n} shipment(s) under a VEU in the period",
                veus.join(", ")
            ),
        };
        out.push(DueReport {
            report: "veu-semiannual".into(),
            period: half.name.clone(),
            due: half.due,
            status: DueStatus::of(half.due, as_of),
            reason,
        });
    }
    Ok(out)
}

/// One AIA report per consignee past the reporting trigger: due when the trigger was reached
/// (before the first shipment past it).
fn aia_due(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    as_of: NaiveDate,
    posture: Posture,
) -> Result<Vec<DueReport>, ReportError> {
    let report = reports::aia_certifications(store, policy, tenant, as_of, posture)?;
    let column = |name: &str| report.columns.iter().position(|c| c == name);
    let (Some(consignee), Some(hq), Some(total), Some(trigger), Some(reached)) = (
        column("consignee"),
        column("hq"),
        column("cumulative_tpp"),
        column("trigger_tpp"),
        column("reached_on"),
    ) else {
        return Err(ReportError::Definitions(
            "the AIA report lacks a column `due` reads".into(),
        ));
    };
    let mut out = Vec::new();
    for row in &report.rows {
        let Ok(due) = row[reached].parse::<NaiveDate>() else {
            continue;
        };
        out.push(DueReport {
            report: report.name.clone(),
            period: report.period.clone(),
            due,
            status: DueStatus::of(due, as_of),
            reason: format!(
                "consignee {} ({}) passed the AIA trigger on {due}: {} TPP >= {} TPP",
                row[consignee], row[hq], row[total], row[trigger]
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// (due, as of, status): the window's edges.
    #[test]
    fn the_status_follows_the_due_date() {
        let table = [
            ("2025-07-15", "2025-07-16", DueStatus::Overdue),
            ("2025-07-15", "2025-07-15", DueStatus::DueWithin30Days),
            ("2025-07-15", "2025-06-15", DueStatus::DueWithin30Days),
            ("2025-07-15", "2025-06-14", DueStatus::Upcoming),
        ];
        for (due, as_of, want) in table {
            assert_eq!(
                DueStatus::of(day(due), day(as_of)),
                want,
                "{due} as of {as_of}"
            );
        }
    }

    /// The halves and due dates come from policy/reports.toml (rule-facts §9: 15 July for
    /// January-June, 15 January of the next year for July-December).
    #[test]
    fn the_halves_carry_their_due_dates() {
        let halves = halves_around(2026).expect("halves");
        let got: Vec<(String, String)> = halves
            .iter()
            .map(|h| (h.name.clone(), h.due.to_string()))
            .collect();
        let want = [
            ("2025-H1", "2025-07-15"),
            ("2025-H2", "2026-01-15"),
            ("2026-H1", "2026-07-15"),
            ("2026-H2", "2027-01-15"),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
    }
}
