//! The rules checked on one date: headquarters, Tier 3 sites, UVEU shares, NVEU schedule.

use crate::explain::thousands;
use crate::terms::{Tier, VeuKind};

use super::report::pct_text;
use super::{BoundKind, Fleet, FleetError, FleetRules, Limit, RuleCode, State, Violation, us_code};

impl FleetRules<'_> {
    /// Every rule the fleet breaks: where it is headquartered and deployed, then the UVEU shares
    /// or the NVEU schedule (15 CFR 748.15).
    pub(super) fn violations(
        &self,
        fleet: &Fleet,
        st: &State,
    ) -> Result<Vec<Violation>, FleetError> {
        let mut out = Vec::new();
        self.site_violations(fleet, st, &mut out);
        match fleet.kind {
            VeuKind::Uveu => self.uveu_violations(fleet, st, &mut out),
            VeuKind::Nveu => self.nveu_violations(st, &mut out)?,
        }
        Ok(out)
    }

    /// A headquarters the VEU kind cannot have, and any deployment in a Tier 3 destination.
    fn site_violations(&self, fleet: &Fleet, st: &State, out: &mut Vec<Violation>) {
        let v = self.veu;
        if !self.hq_eligible(fleet, st) {
            let why = match fleet.kind {
                VeuKind::Uveu => "a UVEU must be headquartered in Tier 1",
                VeuKind::Nveu => "an NVEU cannot be headquartered in Tier 3 (Macau / D:5)",
            };
            out.push(Violation {
                code: RuleCode::HqIneligible,
                country: Some(fleet.hq_treated_as),
                tpp: 0,
                share: None,
                limit: None,
                citation: v.citation.clone(),
                detail: format!(
                    "{why}; {} is {}",
                    fleet.hq_treated_as,
                    st.tier(fleet.hq_treated_as)
                ),
            });
        }
        for (&c, &t) in &st.by_country {
            if st.tier(c) == Tier::Three && t > 0 {
                out.push(Violation {
                    code: RuleCode::Tier3Deployment,
                    country: Some(c),
                    tpp: t,
                    share: Some(st.share(t)),
                    limit: Some(Limit::tpp(0)),
                    citation: v.citation.clone(),
                    detail: format!(
                        "{} TPP in {c}, a Tier 3 destination: no Data Center VEU site may be there",
                        thousands(t)
                    ),
                });
            }
        }
    }

    /// UVEU shares: the US share of a US-headquartered UVEU, the Tier 1 minimum, and the cap on
    /// any one Tier 2 country.
    fn uveu_violations(&self, fleet: &Fleet, st: &State, out: &mut Vec<Violation>) {
        let v = self.veu;
        let total = st.total;
        if self.us_hq(fleet) {
            let us = st.of(us_code());
            let pct = v.uveu_us_share_min_pct_if_us_hq;
            if 100 * us < u128::from(pct) * total {
                let share = st.share(us);
                out.push(Violation {
                    code: RuleCode::UsShareBelow50pct,
                    country: Some(us_code()),
                    tpp: us,
                    share: Some(share),
                    limit: Some(Limit::pct(BoundKind::Min, pct)),
                    citation: v.uveu_citation.clone(),
                    detail: format!(
                        "{} of {} TPP ({}) in the United States, below the {pct}% a US-headquartered UVEU must keep there",
                        thousands(us),
                        thousands(total),
                        pct_text(&share)
                    ),
                });
            }
        }
        let t1 = st.sum_where(|_, tier| tier == Tier::One);
        let pct = v.uveu_tier1_share_min_pct;
        if 100 * t1 < u128::from(pct) * total {
            let share = st.share(t1);
            out.push(Violation {
                code: RuleCode::Tier1ShareBelow75pct,
                country: None,
                tpp: t1,
                share: Some(share),
                limit: Some(Limit::pct(BoundKind::Min, pct)),
                citation: v.uveu_citation.clone(),
                detail: format!(
                    "{} of {} TPP ({}) in Tier 1, below the {pct}% minimum",
                    thousands(t1),
                    thousands(total),
                    pct_text(&share)
                ),
            });
        }
        let pct = v.uveu_tier2_country_share_max_pct;
        for (&c, &t) in &st.by_country {
            if st.tier(c) == Tier::Two && 100 * t > u128::from(pct) * total {
                let share = st.share(t);
                out.push(Violation {
                    code: RuleCode::Tier2CountryAbove7pct,
                    country: Some(c),
                    tpp: t,
                    share: Some(share),
                    limit: Some(Limit::pct(BoundKind::Max, pct)),
                    citation: v.uveu_citation.clone(),
                    detail: format!(
                        "{} of {} TPP ({}) in {c}, above the {pct}% maximum for one Tier 2 country",
                        thousands(t),
                        thousands(total),
                        pct_text(&share)
                    ),
                });
            }
        }
    }

    /// NVEU: each country's installed base within the schedule on the date.
    fn nveu_violations(&self, st: &State, out: &mut Vec<Violation>) -> Result<(), FleetError> {
        let v = self.veu;
        let limit = self.nveu_limit(st.date)?;
        for (&c, &t) in &st.by_country {
            if t > limit {
                out.push(Violation {
                    code: RuleCode::NveuScheduleExceeded,
                    country: Some(c),
                    tpp: t,
                    share: None,
                    limit: Some(Limit::tpp(limit)),
                    citation: v.nveu_citation.clone(),
                    detail: format!(
                        "installed base of {} TPP in {c} exceeds the {} TPP ({} H100e) the NVEU schedule permits on {}",
                        thousands(t),
                        thousands(limit),
                        thousands(limit / u128::from(self.regime.spec.h100_tpp)),
                        st.date
                    ),
                });
            }
        }
        Ok(())
    }
}
