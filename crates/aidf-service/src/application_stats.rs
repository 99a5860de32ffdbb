//! Processing-time analytics of license applications (issue 15, item 4): from the dated
//! transitions, days from submission to BIS's decision (p50/p90) overall, by destination and by
//! outcome; the pending queue by age; the approval rate. Integer days, nearest-rank percentiles,
//! rates in tenths of a per cent by integer arithmetic: nothing goes through floating point.

use std::collections::BTreeMap;

use aidf_ledger::LedgerStore;
use chrono::NaiveDate;
use serde::Serialize;

use crate::application::{self, Actor, ApplicationError, ApplicationState, ApplicationView};

/// Upper bounds (days, inclusive) of the pending queue's age buckets; the last bucket is open.
const AGE_BUCKETS: [i64; 4] = [30, 60, 90, 180];

/// Days to decision over a set of decided applications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DaysToDecision {
    /// Decided applications counted.
    pub decided: u64,
    /// Median days (nearest rank).
    pub p50_days: Option<i64>,
    /// 90th percentile days (nearest rank).
    pub p90_days: Option<i64>,
    /// Longest.
    pub max_days: Option<i64>,
}

/// One bucket of the pending queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgeBucket {
    /// `0-30`, `31-60`, …, `181+` days since submission.
    pub days: String,
    /// Applications pending that long.
    pub pending: u64,
}

/// The tenant's applications as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApplicationStats {
    /// The date ages are counted to.
    pub as_of: NaiveDate,
    /// Applications filed (on or before `as_of`).
    pub applications: u64,
    /// How many stand in each state as of `as_of`.
    pub by_state: BTreeMap<String, u64>,
    /// Approved (wholly or partly) among those BIS decided.
    pub approved: u64,
    /// Decided by BIS: approved, denied or returned without action.
    pub decided: u64,
    /// `approved / decided` in tenths of a per cent (`725` = 72.5 %), if any were decided.
    pub approval_rate_permille: Option<u64>,
    /// Days from submission to decision, all decided applications.
    pub days_to_decision: DaysToDecision,
    /// The same by destination country.
    pub by_destination: BTreeMap<String, DaysToDecision>,
    /// The same by the decision reached (`approved`, `denied`, `returned_without_action`).
    pub by_outcome: BTreeMap<String, DaysToDecision>,
    /// Applications not final as of `as_of`, by days since submission.
    pub pending_by_age: Vec<AgeBucket>,
}

/// A decision of BIS's (a withdrawal is the applicant's, and is not one).
fn is_decision(s: ApplicationState) -> bool {
    matches!(
        s,
        ApplicationState::Approved
            | ApplicationState::Denied
            | ApplicationState::ReturnedWithoutAction
    )
}

/// Nearest-rank percentile (`q` in per cent) of sorted values.
fn percentile(sorted: &[i64], q: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn summary(mut days: Vec<i64>) -> DaysToDecision {
    days.sort_unstable();
    DaysToDecision {
        decided: days.len() as u64,
        p50_days: percentile(&days, 50),
        p90_days: percentile(&days, 90),
        max_days: days.last().copied(),
    }
}

fn bucket_label(i: usize) -> String {
    let low = if i == 0 { 0 } else { AGE_BUCKETS[i - 1] + 1 };
    match AGE_BUCKETS.get(i) {
        Some(high) => format!("{low}-{high}"),
        None => format!("{low}+"),
    }
}

/// One application as it stood on a date.
struct AsOf {
    submitted: NaiveDate,
    state: ApplicationState,
    /// BIS's decision and its date, if it was decided by then.
    decision: Option<(ApplicationState, NaiveDate)>,
}

/// One application as of `as_of`; `None` if it was filed after `as_of`.
fn as_of_view(v: &ApplicationView, as_of: NaiveDate) -> Option<AsOf> {
    let known: Vec<_> = v.transitions.iter().filter(|t| t.date <= as_of).collect();
    Some(AsOf {
        submitted: known.iter().find(|t| t.seq == 0)?.date,
        state: known.last()?.to,
        decision: known
            .iter()
            .find(|t| is_decision(t.to))
            .map(|t| (t.to, t.date)),
    })
}

/// The statistics of `apps` as of `as_of` (pure: the tests give it applications directly).
pub fn compute(apps: &[ApplicationView], as_of: NaiveDate) -> ApplicationStats {
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    let (mut all, mut by_dest, mut by_outcome) = (Vec::new(), BTreeMap::new(), BTreeMap::new());
    let mut pending = vec![0u64; AGE_BUCKETS.len() + 1];
    let (mut filed, mut approved) = (0u64, 0u64);
    for v in apps {
        let Some(AsOf {
            submitted,
            state,
            decision,
        }) = as_of_view(v, as_of)
        else {
            continue;
        };
        filed += 1;
        *by_state.entry(state.as_str().to_string()).or_default() += 1;
        if let Some((outcome, date)) = decision {
            let days = (date - submitted).num_days();
            all.push(days);
            let dest = v.application.input.destination.clone();
            by_dest.entry(dest).or_insert_with(Vec::new).push(days);
            let key = outcome.as_str().to_string();
            by_outcome.entry(key).or_insert_with(Vec::new).push(days);
            approved += u64::from(outcome == ApplicationState::Approved);
        } else if !state.is_final() {
            let age = (as_of - submitted).num_days();
            let i = AGE_BUCKETS
                .iter()
                .position(|high| age <= *high)
                .unwrap_or(AGE_BUCKETS.len());
            pending[i] += 1;
        }
    }
    let decided = all.len() as u64;
    ApplicationStats {
        as_of,
        applications: filed,
        by_state,
        approved,
        decided,
        approval_rate_permille: (decided > 0).then(|| approved * 1000 / decided),
        days_to_decision: summary(all),
        by_destination: by_dest.into_iter().map(|(k, d)| (k, summary(d))).collect(),
        by_outcome: by_outcome
            .into_iter()
            .map(|(k, d)| (k, summary(d)))
            .collect(),
        pending_by_age: pending
            .into_iter()
            .enumerate()
            .map(|(i, n)| AgeBucket {
                days: bucket_label(i),
                pending: n,
            })
            .collect(),
    }
}

/// The tenant's application statistics as of `as_of`.
pub fn stats(
    store: &mut dyn LedgerStore,
    who: &Actor<'_>,
    as_of: NaiveDate,
) -> Result<ApplicationStats, ApplicationError> {
    let mut views = Vec::new();
    for a in application::list(store, who)? {
        views.push(application::show(store, who, &a.id)?);
    }
    Ok(compute(&views, as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[3, 40], 50), Some(3));
        assert_eq!(percentile(&[3, 40], 90), Some(40));
    }

    #[test]
    fn bucket_labels() {
        let labels: Vec<String> = (0..=AGE_BUCKETS.len()).map(bucket_label).collect();
        assert_eq!(labels, ["0-30", "31-60", "61-90", "91-180", "181+"]);
    }
}
