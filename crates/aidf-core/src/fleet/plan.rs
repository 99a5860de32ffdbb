//! Dated plans: the dates a plan walk checks, the first break, and the addition that mends it.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::country::CountryCode;
use crate::terms::{Tier, VeuKind};

use super::headroom::combine;
use super::{
    Constraint, Fix, Fleet, FleetError, FleetRules, PlanBreak, PlanReport, PlanStep, RuleRef,
    State, us_code,
};

impl FleetRules<'_> {
    /// The dates a plan walk checks: the fleet date and every later date on which a site comes
    /// online, an NVEU milestone changes, or a tier list changes for a country of the fleet.
    pub fn checkpoints(&self, fleet: &Fleet) -> BTreeSet<NaiveDate> {
        let start = fleet.date;
        let mut dates = BTreeSet::from([start]);
        dates.extend(
            fleet
                .sites
                .iter()
                .filter_map(|s| s.online_date)
                .filter(|d| *d > start),
        );
        if fleet.kind == VeuKind::Nveu {
            dates.extend(
                self.veu
                    .nveu_schedule
                    .iter()
                    .filter_map(|m| m.through.succ_opt())
                    .filter(|d| *d > start),
            );
        }
        let countries: BTreeSet<CountryCode> = fleet
            .sites
            .iter()
            .map(|s| s.country_treated_as)
            .chain([fleet.hq_treated_as, us_code()])
            .collect();
        let r = &self.regime.resolved;
        for &g in r.tier1_groups.iter().chain(&r.tier3_groups) {
            for m in &self.policy.countries.group(g).members {
                if countries.contains(&m.country) {
                    dates.extend(
                        [m.from, m.until]
                            .into_iter()
                            .flatten()
                            .filter(|d| *d > start),
                    );
                }
            }
        }
        dates
    }

    /// Walks the dated plan from the fleet date: the first date a rule breaks, which rule, and
    /// the smallest Tier 1 / US addition that mends it.
    pub fn plan(&self, fleet: &Fleet) -> Result<PlanReport, FleetError> {
        let mut assumptions = Vec::new();
        let mut steps = Vec::new();
        let mut first_break: Option<(usize, PlanBreak)> = None;
        let mut unchecked_from = None;
        let mut states = Vec::new();
        for date in self.checkpoints(fleet) {
            let fix_country = self.fix_country(fleet);
            let st = self.state(fleet, date, &[fix_country], &mut assumptions)?;
            let violations = match self.violations(fleet, &st) {
                Ok(v) => v,
                Err(FleetError::NoSchedule { .. }) => {
                    unchecked_from = Some(date);
                    break;
                }
                Err(e) => return Err(e),
            };
            steps.push(PlanStep {
                date,
                tpp_total: st.total,
                compliant: violations.is_empty(),
                violations: violations
                    .iter()
                    .map(|v| RuleRef {
                        code: v.code,
                        country: v.country,
                    })
                    .collect(),
            });
            if first_break.is_none() && !violations.is_empty() {
                first_break = Some((
                    states.len(),
                    PlanBreak {
                        date,
                        sites_online: fleet
                            .sites
                            .iter()
                            .filter(|s| s.online_date == Some(date))
                            .map(|s| s.id.clone())
                            .collect(),
                        violations,
                        fix: None,
                        no_fix_reason: None,
                    },
                ));
            }
            states.push(st);
        }
        let first_break = match first_break {
            Some((at, mut b)) => {
                self.fill_fix(fleet, &states[at..], &mut b)?;
                Some(b)
            }
            None => None,
        };
        Ok(PlanReport {
            owner: fleet.owner.clone(),
            kind: fleet.kind,
            compliant_throughout: first_break.is_none() && unchecked_from.is_none(),
            steps,
            first_break,
            unchecked_from,
            regime: self.regime(),
            assumptions,
        })
    }

    /// The country an addition mends the most from: the US for a US-headquartered UVEU (it counts
    /// for both the US and the Tier 1 minimum), else the Tier 1 headquarters country.
    fn fix_country(&self, fleet: &Fleet) -> CountryCode {
        if self.us_hq(fleet) {
            us_code()
        } else {
            fleet.hq_treated_as
        }
    }

    fn fill_fix(
        &self,
        fleet: &Fleet,
        states: &[State],
        b: &mut PlanBreak,
    ) -> Result<(), FleetError> {
        if fleet.kind == VeuKind::Nveu {
            b.no_fix_reason = Some(
                "an NVEU limit is per country: adding compute elsewhere does not mend it; reduce or defer the installed base in that country".into(),
            );
            return Ok(());
        }
        let c = self.fix_country(fleet);
        let Some(first) = states.first() else {
            return Ok(());
        };
        if first.tier(c) != Tier::One {
            b.no_fix_reason = Some(format!(
                "the owner's headquarters {c} is not in Tier 1, so no addition makes a UVEU fleet compliant"
            ));
            return Ok(());
        }
        let mut at_first = None;
        let mut whole: Option<u128> = Some(0);
        for (i, st) in states.iter().enumerate() {
            let cons = self.constraints(fleet, st, c)?;
            let (lo, hi, never) = combine(&cons);
            let ok = never.is_none() && hi.is_none_or(|h| lo <= h);
            if i == 0 {
                if !ok {
                    let r = never.or_else(|| {
                        cons.iter()
                            .find(|(_, k)| matches!(k, Constraint::AtMost(_)))
                            .map(|(r, _)| *r)
                    });
                    b.no_fix_reason = Some(match r {
                        Some(r) => format!(
                            "adding compute in {c} cannot mend `{}`{}",
                            r.code,
                            r.country.map(|k| format!(" ({k})")).unwrap_or_default()
                        ),
                        None => format!("adding compute in {c} cannot mend the break"),
                    });
                    return Ok(());
                }
                at_first = Some(lo);
            }
            // An addition made on the first broken date stays: it must fit every later date.
            whole = match (whole, ok) {
                (Some(w), true) => {
                    let w = w.max(lo);
                    hi.is_none_or(|h| w <= h).then_some(w)
                }
                _ => None,
            };
        }
        b.fix = at_first.map(|tpp_min| Fix {
            country: c,
            any_tier1: !self.us_hq(fleet),
            tpp_min,
            tpp_min_whole_plan: whole,
        });
        Ok(())
    }
}
