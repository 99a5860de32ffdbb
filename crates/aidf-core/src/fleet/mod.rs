//! Data Center validated end users (UVEU / NVEU): fleet compliance, headroom and dated plans.
//!
//! A fleet is every data center site of one VEU owner with the TPP installed there. The rules
//! (15 CFR 748.15 and Supp. No. 10 to part 748, para. 6; rule-facts §7):
//!
//! * UVEU: at least `uveu_tier1_share_min_pct` of total compute in Tier 1; at most
//!   `uveu_tier2_country_share_max_pct` in any single Tier 2 country; a US-headquartered owner keeps
//!   at least `uveu_us_share_min_pct_if_us_hq` in the United States; headquarters in Tier 1.
//! * NVEU: installed base per country no more than the dated schedule
//!   ([`Regime::nveu_limit_tpp`]); headquarters outside Tier 3.
//! * Both: no data center in Tier 3 (Macau / D:5).
//!
//! Every number comes from the regime. Shares are compared by cross-multiplication on whole TPP
//! (`100 · tier1 ≥ 75 · total`), so a boundary such as "at least 75%" is decided exactly, and
//! boundaries are inclusive as the rule words them. Nothing here reads a clock: the fleet's date
//! and the sites' `online_date`s are inputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::country::{CountryCode, DatedMember};
use crate::explain::Assumption;
use crate::policy::Policy;
use crate::regime::{Regime, Veu};
use crate::terms::{Posture, Tier, VeuKind};

/// The ISO code of the United States, which the US-headquarters share rule names.
const US: &str = "US";

mod checks;
mod headroom;
mod input;
mod plan;
mod report;
mod resolve;

pub use input::{CSV_COLUMNS, FleetError, FleetHeader, FleetInput, SiteInput, SiteStatus};
pub use report::{
    BoundKind, ChipHeadroom, Constraint, CountryShare, Fix, FleetReport, Headroom, Limit,
    PlanBreak, PlanReport, PlanStep, RegimeRef, RuleBound, RuleCode, RuleRef, Share, Shares,
    Violation,
};
pub use resolve::{Fleet, Site, chip_tpp};

/// The regime that applies to a fleet: `id` when given, else the one in force on `date`.
pub fn fleet_regime<'p>(
    policy: &'p Policy,
    date: NaiveDate,
    posture: Posture,
    id: Option<&str>,
) -> Result<&'p Regime, FleetError> {
    Ok(policy.select(id, date, posture)?.regime)
}

/// The fleet rules of one regime.
#[derive(Debug, Clone, Copy)]
pub struct FleetRules<'a> {
    policy: &'a Policy,
    regime: &'a Regime,
    veu: &'a Veu,
}

/// Installed compute and tiers on one date.
struct State {
    date: NaiveDate,
    total: u128,
    by_country: BTreeMap<CountryCode, u128>,
    tiers: BTreeMap<CountryCode, Tier>,
}

impl State {
    fn tier(&self, c: CountryCode) -> Tier {
        // INVARIANT: `state` looks up every country it is later asked about.
        self.tiers.get(&c).copied().unwrap_or(Tier::Two)
    }

    fn sum_where(&self, f: impl Fn(CountryCode, Tier) -> bool) -> u128 {
        self.by_country
            .iter()
            .filter(|(c, _)| f(**c, self.tier(**c)))
            .map(|(_, t)| *t)
            .sum()
    }

    fn of(&self, c: CountryCode) -> u128 {
        self.by_country.get(&c).copied().unwrap_or(0)
    }

    fn share(&self, tpp: u128) -> Share {
        Share {
            tpp,
            tpp_total: self.total,
        }
    }
}

fn us_code() -> CountryCode {
    // INVARIANT: "US" is two ASCII letters.
    US.parse().unwrap_or_else(|()| unreachable!())
}

fn push_unique(out: &mut Vec<Assumption>, a: Assumption) {
    if !out
        .iter()
        .any(|b| b.switch == a.switch && b.value == a.value)
    {
        out.push(a);
    }
}

fn membership_assumption(code: CountryCode, entry: &DatedMember) -> Assumption {
    let d = |x: Option<NaiveDate>| x.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    Assumption {
        switch: entry
            .unconfirmed
            .clone()
            .unwrap_or_else(|| Arc::from("membership")),
        value: format!(
            "{code} member from {} until {}",
            d(entry.from),
            d(entry.until)
        ),
        confidence: Arc::from("U"),
        detail: entry
            .note
            .clone()
            .unwrap_or_else(|| Arc::from("dated membership")),
    }
}

impl<'a> FleetRules<'a> {
    /// The rules of `regime`; an error when it has no VEU section or no tiers.
    pub fn new(policy: &'a Policy, regime: &'a Regime) -> Result<FleetRules<'a>, FleetError> {
        let veu = regime
            .spec
            .veu
            .as_ref()
            .ok_or_else(|| FleetError::NoVeu(regime.spec.id.clone()))?;
        if regime.spec.tiers.is_none() {
            return Err(FleetError::NoTiers(regime.spec.id.clone()));
        }
        Ok(FleetRules {
            policy,
            regime,
            veu,
        })
    }

    /// The regime.
    pub fn regime(&self) -> RegimeRef {
        RegimeRef {
            id: self.regime.id.clone(),
            digest: self.regime.digest.clone(),
        }
    }

    fn state(
        &self,
        fleet: &Fleet,
        date: NaiveDate,
        extra: &[CountryCode],
        assumptions: &mut Vec<Assumption>,
    ) -> Result<State, FleetError> {
        let by_country = fleet.installed_on(date);
        let total: u128 = by_country.values().sum();
        // 100 × total must stay exact in i128 arithmetic.
        if total > (i128::MAX as u128) / 1000 {
            return Err(FleetError::Overflow("sites".into()));
        }
        let mut tiers = BTreeMap::new();
        let wanted = by_country
            .keys()
            .copied()
            .chain(extra.iter().map(|c| self.policy.countries.canonical(*c).0))
            .chain([fleet.hq_treated_as, us_code()]);
        for c in wanted {
            if tiers.contains_key(&c) {
                continue;
            }
            let (tier, unconfirmed) = self
                .policy
                .tier(self.regime, c, date)
                .ok_or_else(|| FleetError::NoTiers(self.regime.spec.id.clone()))?;
            if let Some(entry) = unconfirmed {
                push_unique(assumptions, membership_assumption(c, entry));
            }
            tiers.insert(c, tier);
        }
        if fleet.kind == VeuKind::Uveu {
            if let Some(a) = self
                .regime
                .spec
                .switches
                .uveu_share_base
                .as_ref()
                .and_then(|s| Regime::assumption("uveu_share_base", s))
            {
                push_unique(assumptions, a);
            }
        }
        if fleet.kind == VeuKind::Nveu {
            if let Some(a) = self
                .regime
                .spec
                .switches
                .nveu_schedule_reading
                .as_ref()
                .and_then(|s| Regime::assumption("nveu_schedule_reading", s))
            {
                push_unique(assumptions, a);
            }
        }
        Ok(State {
            date,
            total,
            by_country,
            tiers,
        })
    }

    fn nveu_limit(&self, date: NaiveDate) -> Result<u128, FleetError> {
        self.regime
            .nveu_limit_tpp(date)
            .map(u128::from)
            .ok_or_else(|| FleetError::NoSchedule {
                regime: self.regime.spec.id.clone(),
                date,
            })
    }

    fn us_hq(&self, fleet: &Fleet) -> bool {
        fleet.kind == VeuKind::Uveu && fleet.hq_treated_as == us_code()
    }

    fn hq_eligible(&self, fleet: &Fleet, st: &State) -> bool {
        let t = st.tier(fleet.hq_treated_as);
        match fleet.kind {
            VeuKind::Uveu => t == Tier::One,
            VeuKind::Nveu => t != Tier::Three,
        }
    }

    fn shares(&self, st: &State) -> Shares {
        let us = us_code();
        Shares {
            tpp_total: st.total,
            tier1: st.share(st.sum_where(|_, t| t == Tier::One)),
            tier2: st.share(st.sum_where(|_, t| t == Tier::Two)),
            tier3: st.share(st.sum_where(|_, t| t == Tier::Three)),
            us: st.share(st.of(us)),
            countries: st
                .by_country
                .iter()
                .map(|(&c, &t)| {
                    (
                        c,
                        CountryShare {
                            tier: st.tier(c),
                            share: st.share(t),
                        },
                    )
                })
                .collect(),
        }
    }

    /// Checks the fleet on `date` (normally `fleet.date`).
    pub fn check(&self, fleet: &Fleet, date: NaiveDate) -> Result<FleetReport, FleetError> {
        let mut assumptions = Vec::new();
        let st = self.state(fleet, date, &[], &mut assumptions)?;
        let violations = self.violations(fleet, &st)?;
        Ok(FleetReport {
            owner: fleet.owner.clone(),
            kind: fleet.kind,
            hq: fleet.hq_treated_as,
            date,
            compliant: violations.is_empty(),
            violations,
            shares: self.shares(&st),
            sites_counted: fleet.sites.iter().filter(|s| s.counts_on(date)).count(),
            sites_not_yet_online: fleet
                .sites
                .iter()
                .filter(|s| !s.counts_on(date))
                .map(|s| s.id.clone())
                .collect(),
            regime: self.regime(),
            assumptions,
        })
    }
}
