//! What fleet answers hold: exact shares, rules and limits, violations, headroom, plan reports.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Serialize, Serializer};

use crate::country::CountryCode;
use crate::explain::Assumption;
use crate::terms::{Tier, VeuKind};

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A part of the fleet's total, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// TPP in the part.
    pub tpp: u128,
    /// TPP of the whole fleet.
    pub tpp_total: u128,
}

impl Share {
    /// The share as a reduced fraction `(numerator, denominator)`; `None` for an empty fleet.
    pub fn fraction(&self) -> Option<(u128, u128)> {
        if self.tpp_total == 0 {
            return None;
        }
        let g = gcd(self.tpp, self.tpp_total).max(1);
        Some((self.tpp / g, self.tpp_total / g))
    }

    /// The share as a decimal rounded to 9 places (for display; decisions use [`Share::fraction`]).
    pub fn decimal(&self) -> Option<Decimal> {
        let (n, d) = self.fraction()?;
        let v = Decimal::from_u128(n)?.checked_div(Decimal::from_u128(d)?)?;
        Some(v.round_dp(9).normalize())
    }
}

impl Serialize for Share {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Share", 3)?;
        st.serialize_field("tpp", &self.tpp)?;
        st.serialize_field(
            "fraction",
            &self.fraction().map(|(n, d)| format!("{n}/{d}")),
        )?;
        st.serialize_field("decimal", &self.decimal().and_then(|d| d.to_f64()))?;
        st.end()
    }
}

impl Share {
    /// The share in percent with up to `dp` decimals, e.g. `6.67%`; `-` for an empty fleet.
    ///
    /// When rounding to `dp` decimals lands on a whole percent that is not exact (7.00003% shown as
    /// 7% next to a 7% limit), seven decimals are shown instead, prefixed with `~`.
    pub fn percent_text(&self, dp: u32) -> String {
        let Some(d) = self.decimal() else {
            return "-".into();
        };
        let pct = d * Decimal::ONE_HUNDRED;
        let short = pct.round_dp(dp);
        let exact = self.fraction().is_some_and(|(n, den)| {
            // short == 100·n/den exactly ⇔ short·den == 100·n.
            Decimal::from_u128(den)
                .and_then(|den| short.checked_mul(den))
                .zip(Decimal::from_u128(n).and_then(|n| n.checked_mul(Decimal::ONE_HUNDRED)))
                .is_some_and(|(a, b)| a == b)
        });
        // Only a rounding that lands on a whole percent reads like a limit; widen just that one.
        if exact || !short.fract().is_zero() {
            format!("{}%", short.normalize())
        } else {
            format!("~{}%", pct.round_dp(7).normalize())
        }
    }
}

pub(super) fn pct_text(share: &Share) -> String {
    share.percent_text(4)
}

/// A country's part of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryShare {
    /// Tier of the country on the date.
    pub tier: Tier,
    /// The share.
    #[serde(flatten)]
    pub share: Share,
}

/// The fleet's compute by tier and by country, exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shares {
    /// Total TPP counted on the date.
    pub tpp_total: u128,
    /// In Tier 1 (the US included).
    pub tier1: Share,
    /// In Tier 2.
    pub tier2: Share,
    /// In Tier 3.
    pub tier3: Share,
    /// In the United States.
    pub us: Share,
    /// Per country (as the EAR treats it).
    pub countries: BTreeMap<CountryCode, CountryShare>,
}

/// Which rule a violation or bound is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleCode {
    /// The owner's headquarters are not eligible for this kind of VEU.
    HqIneligible,
    /// Compute in a Tier 3 country.
    Tier3Deployment,
    /// A US-headquartered UVEU keeps less than the minimum in the US.
    UsShareBelow50pct,
    /// Less than the minimum in Tier 1.
    Tier1ShareBelow75pct,
    /// More than the maximum in one Tier 2 country.
    Tier2CountryAbove7pct,
    /// An NVEU country's installed base exceeds the schedule.
    NveuScheduleExceeded,
}

impl RuleCode {
    /// The stable code the output writes.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::HqIneligible => "hq_ineligible",
            RuleCode::Tier3Deployment => "tier3_deployment",
            RuleCode::UsShareBelow50pct => "us_share_below_50pct",
            RuleCode::Tier1ShareBelow75pct => "tier1_share_below_75pct",
            RuleCode::Tier2CountryAbove7pct => "tier2_country_above_7pct",
            RuleCode::NveuScheduleExceeded => "nveu_schedule_exceeded",
        }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether a limit is a floor or a ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// At least.
    Min,
    /// No more than.
    Max,
}

/// A rule's limit as the regime gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// Floor or ceiling (inclusive).
    pub bound: BoundKind,
    /// Percent of the total, for share rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pct: Option<u32>,
    /// The percent as a reduced fraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction: Option<String>,
    /// The percent as a decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal: Option<f64>,
    /// TPP, for per-country installed-base rules (and 0 for Tier 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpp: Option<u128>,
}

impl Limit {
    pub(super) fn pct(bound: BoundKind, pct: u32) -> Limit {
        let s = Share {
            tpp: pct.into(),
            tpp_total: 100,
        };
        let (n, d) = s.fraction().unwrap_or((0, 1));
        Limit {
            bound,
            pct: Some(pct),
            fraction: Some(format!("{n}/{d}")),
            decimal: s.decimal().and_then(|d| d.to_f64()),
            tpp: None,
        }
    }

    pub(super) fn tpp(tpp: u128) -> Limit {
        Limit {
            bound: BoundKind::Max,
            pct: None,
            fraction: None,
            decimal: None,
            tpp: Some(tpp),
        }
    }
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub code: RuleCode,
    /// The country it concerns (`None` for fleet-wide rules).
    pub country: Option<CountryCode>,
    /// TPP the rule measures (Tier 1 total, one country's, the US's…).
    pub tpp: u128,
    /// That TPP as a share of the fleet (share rules only).
    pub share: Option<Share>,
    /// The limit (`None` for the headquarters rule).
    pub limit: Option<Limit>,
    /// Citation.
    pub citation: Arc<str>,
    /// What was found.
    pub detail: String,
}

/// The regime an answer used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegimeRef {
    /// Regime id.
    pub id: Arc<str>,
    /// Digest of its data.
    pub digest: Arc<str>,
}

/// Result of checking a fleet on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    /// Owner.
    pub owner: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Headquarters as the EAR treats it.
    pub hq: CountryCode,
    /// The date checked.
    pub date: NaiveDate,
    /// No rule is broken.
    pub compliant: bool,
    /// Broken rules, in rule order.
    pub violations: Vec<Violation>,
    /// Compute by tier and country.
    pub shares: Shares,
    /// Sites counted on the date.
    pub sites_counted: usize,
    /// Sites not yet online on the date.
    pub sites_not_yet_online: Vec<String>,
    /// The regime.
    pub regime: RegimeRef,
    /// Unconfirmed readings the answer relied on.
    pub assumptions: Vec<Assumption>,
}

/// The limit one rule puts on adding TPP in one country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// The rule holds whatever is added.
    Free,
    /// The rule is broken whatever is added.
    Never,
    /// The rule holds once at least this much is added.
    AtLeast(u128),
    /// The rule holds while at most this much is added.
    AtMost(u128),
}

/// One rule's bound on an addition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleBound {
    /// Which rule.
    pub code: RuleCode,
    /// The country the rule concerns, if any.
    pub country: Option<CountryCode>,
    /// `min`, `max` or `never` (the rule is broken and adding here cannot mend it).
    pub bound: &'static str,
    /// The bound in TPP (`min`/`max` only).
    pub tpp: Option<u128>,
}

/// A rule, named by code and country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// Which rule.
    pub code: RuleCode,
    /// The country it concerns, if any.
    pub country: Option<CountryCode>,
}

/// Whole chips of one model that fit the headroom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChipHeadroom {
    /// Catalog id.
    pub id: Arc<str>,
    /// Whole TPP per chip.
    pub tpp_per_chip: u64,
    /// Most whole chips that can be added (`None`: no rule limits it).
    pub chips_headroom: Option<u128>,
    /// Fewest whole chips that make the fleet compliant (0 when it already is).
    pub chips_min: u128,
}

/// How much can be added in one country without breaking a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headroom {
    /// Owner.
    pub owner: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// The date.
    pub date: NaiveDate,
    /// The country asked about (as the EAR treats it).
    pub country: CountryCode,
    /// Its tier on the date.
    pub tier: Tier,
    /// The fleet is compliant before anything is added.
    pub compliant_now: bool,
    /// Some addition here (possibly none) leaves the fleet compliant.
    pub feasible: bool,
    /// Most TPP that can be added here with every rule holding; `None` when no rule limits it;
    /// 0 when infeasible.
    pub tpp_headroom: Option<u128>,
    /// Fewest TPP that must be added here for every rule to hold (0 when compliant now).
    pub tpp_min: u128,
    /// The rule that sets `tpp_headroom` (or one that makes the addition infeasible).
    pub binding: Option<RuleRef>,
    /// Every rule that bounds an addition here.
    pub bounds: Vec<RuleBound>,
    /// In whole chips, when a chip was given.
    pub chip: Option<ChipHeadroom>,
    /// The regime.
    pub regime: RegimeRef,
    /// Unconfirmed readings relied on.
    pub assumptions: Vec<Assumption>,
}

/// The smallest Tier 1 / US addition that mends a broken plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Where to add: the US for a US-headquartered owner, else the owner's Tier 1 headquarters
    /// country (any Tier 1 country counts the same when no US share rule applies).
    pub country: CountryCode,
    /// Any Tier 1 country would do equally.
    pub any_tier1: bool,
    /// Fewest TPP that mends the first broken date.
    pub tpp_min: u128,
    /// Fewest TPP, added by the first broken date and kept, that keeps every later checked date
    /// compliant too; `None` when a later break cannot be mended by adding there.
    pub tpp_min_whole_plan: Option<u128>,
}

/// The first date a dated plan breaks a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanBreak {
    /// The date.
    pub date: NaiveDate,
    /// Sites that come online that day.
    pub sites_online: Vec<String>,
    /// The rules broken.
    pub violations: Vec<Violation>,
    /// The smallest Tier 1 / US addition that mends it, when one can.
    pub fix: Option<Fix>,
    /// Why there is no fix, when there is none.
    pub no_fix_reason: Option<String>,
}

/// One date the plan walk checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanStep {
    /// The date.
    pub date: NaiveDate,
    /// Total TPP counted.
    pub tpp_total: u128,
    /// No rule broken.
    pub compliant: bool,
    /// Codes of the broken rules.
    pub violations: Vec<RuleRef>,
}

/// Result of walking a dated site plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// Owner.
    pub owner: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Every checked date is compliant.
    pub compliant_throughout: bool,
    /// The dates checked: the fleet date, each later `online_date`, and each later date a tier
    /// or NVEU milestone changes.
    pub steps: Vec<PlanStep>,
    /// The first broken date.
    pub first_break: Option<PlanBreak>,
    /// The first date that could not be checked (the NVEU schedule ends), if any.
    pub unchecked_from: Option<NaiveDate>,
    /// The regime.
    pub regime: RegimeRef,
    /// Unconfirmed readings relied on.
    pub assumptions: Vec<Assumption>,
}
