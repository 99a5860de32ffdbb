//! Headroom: each rule's exact bound on adding TPP in one country, and their intersection.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::chip::Chip;
use crate::country::CountryCode;
use crate::terms::{Tier, VeuKind};

use super::input::input_err;
use super::{
    ChipHeadroom, Constraint, Fleet, FleetError, FleetRules, Headroom, RuleBound, RuleCode,
    RuleRef, State, chip_tpp, us_code,
};

fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

fn to_u(v: i128) -> u128 {
    u128::try_from(v.max(0)).unwrap_or(0)
}

/// `part / total ≥ pct%` after adding `x` (to the part when `inside`): the bound on `x`.
fn min_share(part: i128, total: i128, pct: i128, inside: bool) -> Constraint {
    if inside {
        // 100(part + x) ≥ pct(total + x)  ⇔  (100 − pct)·x ≥ pct·total − 100·part
        let need = pct * total - 100 * part;
        if pct == 100 {
            return if need <= 0 {
                Constraint::Free
            } else {
                Constraint::Never
            };
        }
        let x = ceil_div(need, 100 - pct);
        if x <= 0 {
            Constraint::Free
        } else {
            Constraint::AtLeast(to_u(x))
        }
    } else {
        // 100·part ≥ pct(total + x)  ⇔  pct·x ≤ 100·part − pct·total
        let room = 100 * part - pct * total;
        if room < 0 {
            Constraint::Never
        } else if pct == 0 {
            Constraint::Free
        } else {
            Constraint::AtMost(to_u(room.div_euclid(pct)))
        }
    }
}

/// `part / total ≤ pct%` after adding `x` (to the part when `inside`): the bound on `x`.
fn max_share(part: i128, total: i128, pct: i128, inside: bool) -> Constraint {
    if inside {
        // 100(part + x) ≤ pct(total + x)  ⇔  (100 − pct)·x ≤ pct·total − 100·part
        let room = pct * total - 100 * part;
        if room < 0 {
            Constraint::Never
        } else if pct == 100 {
            Constraint::Free
        } else {
            Constraint::AtMost(to_u(room.div_euclid(100 - pct)))
        }
    } else {
        // 100·part ≤ pct(total + x)  ⇔  pct·x ≥ 100·part − pct·total
        let need = 100 * part - pct * total;
        if need <= 0 {
            Constraint::Free
        } else if pct == 0 {
            Constraint::Never
        } else {
            Constraint::AtLeast(to_u(ceil_div(need, pct)))
        }
    }
}

impl FleetRules<'_> {
    /// Each rule's bound on adding TPP in `c` (closed form, exact).
    pub(super) fn constraints(
        &self,
        fleet: &Fleet,
        st: &State,
        c: CountryCode,
    ) -> Result<Vec<(RuleRef, Constraint)>, FleetError> {
        let v = self.veu;
        let rule = |code, country| RuleRef { code, country };
        let i = |x: u128| x as i128; // INVARIANT: `state` bounds every TPP sum far below i128::MAX.
        let total = i(st.total);
        let mut out = Vec::new();
        out.push((
            rule(RuleCode::HqIneligible, Some(fleet.hq_treated_as)),
            if self.hq_eligible(fleet, st) {
                Constraint::Free
            } else {
                Constraint::Never
            },
        ));
        let mut tier3: BTreeSet<CountryCode> = st
            .by_country
            .iter()
            .filter(|(k, t)| st.tier(**k) == Tier::Three && **t > 0)
            .map(|(k, _)| *k)
            .collect();
        if st.tier(c) == Tier::Three {
            tier3.insert(c);
        }
        for k in tier3 {
            let cons = if st.of(k) > 0 {
                Constraint::Never
            } else {
                Constraint::AtMost(0)
            };
            out.push((rule(RuleCode::Tier3Deployment, Some(k)), cons));
        }
        match fleet.kind {
            VeuKind::Uveu => {
                let us = us_code();
                if self.us_hq(fleet) {
                    out.push((
                        rule(RuleCode::UsShareBelow50pct, Some(us)),
                        min_share(
                            i(st.of(us)),
                            total,
                            v.uveu_us_share_min_pct_if_us_hq.into(),
                            c == us,
                        ),
                    ));
                }
                out.push((
                    rule(RuleCode::Tier1ShareBelow75pct, None),
                    min_share(
                        i(st.sum_where(|_, t| t == Tier::One)),
                        total,
                        v.uveu_tier1_share_min_pct.into(),
                        st.tier(c) == Tier::One,
                    ),
                ));
                let mut tier2: BTreeSet<CountryCode> = st
                    .by_country
                    .keys()
                    .filter(|k| st.tier(**k) == Tier::Two)
                    .copied()
                    .collect();
                if st.tier(c) == Tier::Two {
                    tier2.insert(c);
                }
                for k in tier2 {
                    out.push((
                        rule(RuleCode::Tier2CountryAbove7pct, Some(k)),
                        max_share(
                            i(st.of(k)),
                            total,
                            v.uveu_tier2_country_share_max_pct.into(),
                            k == c,
                        ),
                    ));
                }
            }
            VeuKind::Nveu => {
                let limit = self.nveu_limit(st.date)?;
                let mut countries: BTreeSet<CountryCode> = st.by_country.keys().copied().collect();
                countries.insert(c);
                for k in countries {
                    let have = st.of(k);
                    let cons = match (have > limit, k == c) {
                        (true, _) => Constraint::Never,
                        (false, true) => Constraint::AtMost(limit - have),
                        (false, false) => Constraint::Free,
                    };
                    out.push((rule(RuleCode::NveuScheduleExceeded, Some(k)), cons));
                }
            }
        }
        Ok(out)
    }

    /// The most TPP (and whole `chip`s) that can be added in `country` on `date` with every rule
    /// holding, the fewest that must be added for every rule to hold, and the binding rule.
    pub fn headroom(
        &self,
        fleet: &Fleet,
        date: NaiveDate,
        country: CountryCode,
        chip: Option<&Chip>,
    ) -> Result<Headroom, FleetError> {
        let mut assumptions = Vec::new();
        let c = self.policy.countries.canonical(country).0;
        let st = self.state(fleet, date, &[c], &mut assumptions)?;
        let compliant_now = self.violations(fleet, &st)?.is_empty();
        let cons = self.constraints(fleet, &st, c)?;
        let (lo, hi, never) = combine(&cons);
        let feasible = never.is_none() && hi.is_none_or(|h| lo <= h);
        let binding = if let Some(r) = never {
            Some(r)
        } else if let Some(h) = hi {
            // The ceiling that sets the headroom (when a floor exceeds it, the ceiling is what
            // makes the addition infeasible).
            cons.iter()
                .find(|(_, k)| *k == Constraint::AtMost(h))
                .map(|(r, _)| *r)
        } else {
            None
        };
        let tpp_headroom = if feasible { hi } else { Some(0) };
        let tpp_min = if feasible { lo } else { 0 };
        let chip = match chip {
            Some(ch) => {
                let per = chip_tpp(ch).map_err(|m| input_err("chip", None, m))?;
                let per128 = u128::from(per);
                Some(ChipHeadroom {
                    id: ch.id.clone(),
                    tpp_per_chip: per,
                    chips_headroom: tpp_headroom.map(|h| h / per128),
                    chips_min: tpp_min.div_ceil(per128),
                })
            }
            None => None,
        };
        let bounds = cons
            .iter()
            .filter_map(|(r, k)| {
                let (bound, tpp) = match *k {
                    Constraint::Free => return None,
                    Constraint::Never => ("never", None),
                    Constraint::AtLeast(x) => ("min", Some(x)),
                    Constraint::AtMost(x) => ("max", Some(x)),
                };
                Some(RuleBound {
                    code: r.code,
                    country: r.country,
                    bound,
                    tpp,
                })
            })
            .collect();
        Ok(Headroom {
            owner: fleet.owner.clone(),
            kind: fleet.kind,
            date,
            country: c,
            tier: st.tier(c),
            compliant_now,
            feasible,
            tpp_headroom,
            tpp_min,
            binding,
            bounds,
            chip,
            regime: self.regime(),
            assumptions,
        })
    }
}

/// Intersects the rules' bounds: (largest floor, smallest ceiling, a rule that can never hold).
pub(super) fn combine(cons: &[(RuleRef, Constraint)]) -> (u128, Option<u128>, Option<RuleRef>) {
    let mut lo = 0u128;
    let mut hi: Option<u128> = None;
    let mut never = None;
    for (r, k) in cons {
        match *k {
            Constraint::Free => {}
            Constraint::Never => {
                never = never.or(Some(*r));
            }
            Constraint::AtLeast(x) => lo = lo.max(x),
            Constraint::AtMost(x) => hi = Some(hi.map_or(x, |h| h.min(x))),
        }
    }
    (lo, hi, never)
}

#[cfg(test)]
mod tests {
    use super::super::Share;
    use super::*;

    #[test]
    fn min_share_bounds_are_exact() {
        // 75 of 100 in Tier 1: adding outside Tier 1 breaks at once; inside is free.
        assert_eq!(min_share(75, 100, 75, false), Constraint::AtMost(0));
        assert_eq!(min_share(75, 100, 75, true), Constraint::Free);
        // 70 of 100: need (75·100 − 100·70)/25 = 20 more inside.
        assert_eq!(min_share(70, 100, 75, true), Constraint::AtLeast(20));
        assert_eq!(min_share(70, 100, 75, false), Constraint::Never);
        // 80 of 100: outside room (8000 − 7500)/75 = 6.67 → 6.
        assert_eq!(min_share(80, 100, 75, false), Constraint::AtMost(6));
    }

    #[test]
    fn max_share_bounds_are_exact() {
        // 7 of 100 in one Tier 2 country: no more there; elsewhere free.
        assert_eq!(max_share(7, 100, 7, true), Constraint::AtMost(0));
        assert_eq!(max_share(7, 100, 7, false), Constraint::Free);
        // 8 of 100: adding elsewhere needs ceil((800 − 700)/7) = 15.
        assert_eq!(max_share(8, 100, 7, false), Constraint::AtLeast(15));
        assert_eq!(max_share(8, 100, 7, true), Constraint::Never);
        // 0 of 100: (700 − 0)/93 = 7.5 → 7.
        assert_eq!(max_share(0, 100, 7, true), Constraint::AtMost(7));
    }

    #[test]
    fn share_fraction_is_reduced() {
        let s = Share {
            tpp: 40,
            tpp_total: 100,
        };
        assert_eq!(s.fraction(), Some((2, 5)));
        assert_eq!(s.decimal().map(|d| d.to_string()), Some("0.4".into()));
        let z = Share {
            tpp: 0,
            tpp_total: 0,
        };
        assert_eq!(z.fraction(), None);
    }
}
