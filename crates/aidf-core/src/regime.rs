//! Regimes: one dated body of rules (thresholds, scopes, exceptions, caps, switches) as data.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::classify::Thresholds;
use crate::country::{CountryCode, GroupIdx};
use crate::explain::Assumption;
use crate::num::de_decimal;

/// License review policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewPolicy {
    /// Presumption of approval.
    Approval,
    /// Presumption (or policy) of denial.
    Denial,
    /// Case-by-case review.
    CaseByCase,
}

impl ReviewPolicy {
    /// As the output writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewPolicy::Approval => "approval",
            ReviewPolicy::Denial => "denial",
            ReviewPolicy::CaseByCase => "case_by_case",
        }
    }
}

impl fmt::Display for ReviewPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a license is required.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// 3A090.a / 4A090.a need a license to every destination.
    pub a_datacenter_worldwide: bool,
    /// Citation for the .a scope.
    pub a_citation: Arc<str>,
    /// Groups whose members need a license (for everything not covered worldwide).
    pub groups: Vec<String>,
    /// Groups whose members are carved out of `groups`.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    /// Countries named in addition to `groups`.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Citation for the country scope.
    pub citation: Arc<str>,
    /// A party headquartered (or whose ultimate parent is) in these groups needs a license
    /// everywhere and gets a presumption of denial.
    pub hq_taint_groups: Vec<String>,
    /// Citation of the headquarters rule.
    pub hq_taint_citation: Arc<str>,
}

/// The diffusion rule's three tiers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    /// Tier 1 lists.
    pub tier1_groups: Vec<String>,
    /// Tier 3 lists.
    pub tier3_groups: Vec<String>,
    /// Citation.
    pub citation: Arc<str>,
}

/// Default review policies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Policy where nothing worse applies.
    pub default: ReviewPolicy,
    /// Citation.
    pub default_citation: Arc<str>,
    /// Policy for Tier 3 / D:5 / Macau destinations and parties headquartered there.
    pub tier3: ReviewPolicy,
    /// Citation.
    pub tier3_citation: Arc<str>,
    /// Policy for parties on the Entity List.
    pub listed: ReviewPolicy,
    /// Citation.
    pub listed_citation: Arc<str>,
    /// Destinations that carry the tier-3 policy when the regime has no tiers.
    #[serde(default)]
    pub denial_groups: Vec<String>,
}

/// License Exception NAC (notified advanced computing).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nac {
    /// Citation.
    pub citation: Arc<str>,
    /// Days of notice before shipment.
    pub notice_days: u32,
}

/// License Exception ACA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aca {
    /// Citation.
    pub citation: Arc<str>,
    /// ACA also covers Tier 2 destinations (diffusion rule).
    pub tier2: bool,
}

/// License Exception ACM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acm {
    /// Citation.
    pub citation: Arc<str>,
}

/// License Exception AIA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aia {
    /// Citation for chips.
    pub citation: Arc<str>,
    /// Citation for model weights.
    pub weights_citation: Arc<str>,
    /// Citation for the certification report.
    pub reporting_citation: Arc<str>,
}

/// License Exception LPP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lpp {
    /// Citation.
    pub citation: Arc<str>,
    /// At most this much TPP per ultimate consignee per calendar year.
    pub tpp_per_consignee_year: u64,
}

/// Tier 2 country allocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// Citation.
    pub citation: Arc<str>,
    /// TPP per Tier 2 country over the whole window.
    pub tier2_tpp_cap: u64,
    /// First day of the window.
    pub window_start: NaiveDate,
    /// Last day of the window.
    pub window_end: NaiveDate,
    /// Multiplier under a government-to-government arrangement.
    pub g2g_multiplier: u64,
}

/// One milestone of the NVEU installed-base schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NveuMilestone {
    /// Last day the milestone covers.
    pub through: NaiveDate,
    /// Installed base permitted, in H100-equivalents.
    pub h100e: u64,
}

/// Data Center validated end users.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Veu {
    /// Citation.
    pub citation: Arc<str>,
    /// UVEU: at least this share of compute in Tier 1.
    pub uveu_tier1_share_min_pct: u32,
    /// UVEU: at most this share in any one Tier 2 country.
    pub uveu_tier2_country_share_max_pct: u32,
    /// UVEU headquartered in the US: at least this share in the US.
    pub uveu_us_share_min_pct_if_us_hq: u32,
    /// Citation of the UVEU limits.
    pub uveu_citation: Arc<str>,
    /// Citation of the NVEU rules.
    pub nveu_citation: Arc<str>,
    /// NVEU installed-base schedule per country.
    pub nveu_schedule: Vec<NveuMilestone>,
}

/// ECCN 4E091 model weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelWeights {
    /// Citation.
    pub citation: Arc<str>,
    /// Controlled when trained with this many operations or more.
    #[serde(deserialize_with = "de_decimal")]
    pub threshold_ops: Decimal,
    /// A model derived from a published one is controlled only if the extra training exceeds
    /// the larger of this …
    #[serde(deserialize_with = "de_decimal")]
    pub derivative_extra_ops_min: Decimal,
    /// … and this share of the published model's training operations.
    pub derivative_extra_share_min_pct: u32,
    /// Synthetic-data rule: share of operations on one unpublished generator's data.
    pub synthetic_data_share_min_pct: u32,
    /// Review policy for Tier 1 destinations.
    pub review_tier1: ReviewPolicy,
    /// Review policy elsewhere.
    pub review_other: ReviewPolicy,
}

/// Other dates the rule sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    /// Compliance date of Supp. No. 10 to part 748 paras. 14, 15 and 18.
    pub supp10_delayed_compliance: NaiveDate,
}

/// A named reading of an unconfirmed fact.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchDef<T> {
    /// The reading chosen.
    pub value: T,
    /// Confidence tag; `U` marks an unconfirmed reading that determinations must report.
    pub confidence: Arc<str>,
    /// What the reading is and why it is uncertain.
    pub note: Arc<str>,
}

/// How the NVEU year-end milestones are applied within a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NveuReading {
    /// The year's end milestone applies throughout the year.
    YearEndStep,
    /// The previous milestone applies until a year ends (most conservative).
    PreviousYearEnd,
}

/// When a licensed export draws the country allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumptionEvent {
    /// When BIS issues the license.
    LicenseIssued,
    /// When the items are shipped.
    Shipped,
}

/// Every named switch the engine understands. A section that uses a switch requires it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    /// AIA certification-report trigger in TPP (>=).
    pub aia_reporting_trigger_tpp: Option<SwitchDef<u64>>,
    /// Catalog chips come from approved or authorized IC designers.
    pub designers_assumed_approved: Option<SwitchDef<bool>>,
    /// LPP is closed to parties headquartered in Macau/D:5.
    pub lpp_excludes_d5_hq: Option<SwitchDef<bool>>,
    /// LPP is open in D:1/D:4 destinations.
    pub lpp_in_d1_d4: Option<SwitchDef<bool>>,
    /// Review policy once a country's allocation is exhausted.
    pub allocation_exhausted_review: Option<SwitchDef<ReviewPolicy>>,
    /// When a licensed export draws the allocation.
    pub allocation_consumption_event: Option<SwitchDef<ConsumptionEvent>>,
    /// Review policy for a Tier 1 destination without AIA.
    pub tier1_license_review: Option<SwitchDef<ReviewPolicy>>,
    /// How the NVEU schedule applies within a year.
    pub nveu_schedule_reading: Option<SwitchDef<NveuReading>>,
    /// ACM exports draw the country allocation.
    pub acm_counts_against_allocation: Option<SwitchDef<bool>>,
    /// AIA for weights needs storage meeting Supp. No. 10 paras. 14, 15, 18.
    pub weights_storage_required_for_aia: Option<SwitchDef<bool>>,
}

/// A regime file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeSpec {
    /// Format version (1).
    pub schema: u32,
    /// Stable id, e.g. `ai-diffusion-2025`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Federal Register citations.
    pub citation: Arc<str>,
    /// Effective date.
    pub effective_date: NaiveDate,
    /// Compliance date: before it the earlier regime applies.
    pub compliance_date: NaiveDate,
    /// Confidence tag of the regime as a whole.
    pub confidence: String,
    /// TPP of one H100, for H100-equivalent figures.
    pub h100_tpp: u64,
    /// 3A090 parameters.
    pub classification: Thresholds,
    /// License scope.
    pub scope: Scope,
    /// Tiers, if the regime has them.
    #[serde(default)]
    pub tiers: Option<Tiers>,
    /// Review policies.
    pub review: Review,
    /// NAC, if available.
    #[serde(default)]
    pub nac: Option<Nac>,
    /// ACA, if available.
    #[serde(default)]
    pub aca: Option<Aca>,
    /// ACM, if available.
    #[serde(default)]
    pub acm: Option<Acm>,
    /// AIA, if available.
    #[serde(default)]
    pub aia: Option<Aia>,
    /// LPP, if available.
    #[serde(default)]
    pub lpp: Option<Lpp>,
    /// Country allocations, if any.
    #[serde(default)]
    pub allocation: Option<Allocation>,
    /// Data Center VEU (UVEU/NVEU), if any.
    #[serde(default)]
    pub veu: Option<Veu>,
    /// 4E091, if controlled.
    #[serde(default)]
    pub model_weights: Option<ModelWeights>,
    /// Other dates.
    #[serde(default)]
    pub dates: Option<Dates>,
    /// Unconfirmed readings.
    #[serde(default)]
    pub switches: Switches,
}

/// Group and country references of a regime, resolved against the country table.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// `scope.groups`.
    pub scope_groups: Vec<GroupIdx>,
    /// `scope.exclude_groups`.
    pub scope_exclude: Vec<GroupIdx>,
    /// `scope.countries`.
    pub scope_countries: Vec<CountryCode>,
    /// `scope.hq_taint_groups`.
    pub taint_groups: Vec<GroupIdx>,
    /// `tiers.tier1_groups`.
    pub tier1_groups: Vec<GroupIdx>,
    /// `tiers.tier3_groups`.
    pub tier3_groups: Vec<GroupIdx>,
    /// `review.denial_groups`.
    pub denial_groups: Vec<GroupIdx>,
    /// D:1 and D:4 (for the LPP switch), when the policy has them.
    pub d1_d4: Vec<GroupIdx>,
}

/// A loaded, validated regime with its digest.
#[derive(Debug, Clone)]
pub struct Regime {
    /// The data.
    pub spec: RegimeSpec,
    /// `sha256:` digest of the canonical content (regime and the country data it reads).
    pub digest: Arc<str>,
    /// Resolved references.
    pub resolved: Resolved,
    /// Id as a shared string.
    pub id: Arc<str>,
}

impl Regime {
    /// The assumption record for a switch, if its reading is unconfirmed.
    pub fn assumption<T: fmt::Debug + Serialize>(
        name: &str,
        s: &SwitchDef<T>,
    ) -> Option<Assumption> {
        if &*s.confidence != "U" {
            return None;
        }
        let value = match serde_json::to_value(&s.value) {
            Ok(serde_json::Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(_) => format!("{:?}", s.value),
        };
        Some(Assumption {
            switch: Arc::from(name),
            value,
            confidence: s.confidence.clone(),
            detail: s.note.clone(),
        })
    }

    /// The NVEU installed-base limit (TPP) per country on `date`, or `None` after the schedule.
    pub fn nveu_limit_tpp(&self, date: NaiveDate) -> Option<u64> {
        let veu = self.spec.veu.as_ref()?;
        let reading = self
            .spec
            .switches
            .nveu_schedule_reading
            .as_ref()
            .map(|s| s.value)
            .unwrap_or(NveuReading::YearEndStep);
        let sched = &veu.nveu_schedule;
        let pos = sched.iter().position(|m| date <= m.through)?;
        let h100e = match reading {
            NveuReading::YearEndStep => sched[pos].h100e,
            NveuReading::PreviousYearEnd if pos == 0 => 0,
            NveuReading::PreviousYearEnd => sched[pos - 1].h100e,
        };
        h100e.checked_mul(self.spec.h100_tpp)
    }
}

/// The canonical content a regime digest covers.
#[derive(Serialize)]
pub(crate) struct DigestInput<'a> {
    pub regime: &'a RegimeSpec,
    pub groups: &'a [crate::country::Group],
    pub aliases: &'a [crate::country::Alias],
}

/// Collects switch names whose section needs them, for validation.
pub(crate) fn required_switches(spec: &RegimeSpec) -> BTreeMap<&'static str, bool> {
    let s = &spec.switches;
    let mut need = BTreeMap::new();
    if spec.aia.is_some() {
        need.insert(
            "aia_reporting_trigger_tpp",
            s.aia_reporting_trigger_tpp.is_some(),
        );
        need.insert(
            "designers_assumed_approved",
            s.designers_assumed_approved.is_some(),
        );
        if spec.model_weights.is_some() {
            need.insert(
                "weights_storage_required_for_aia",
                s.weights_storage_required_for_aia.is_some(),
            );
        }
    }
    if spec.lpp.is_some() {
        need.insert("lpp_excludes_d5_hq", s.lpp_excludes_d5_hq.is_some());
        need.insert("lpp_in_d1_d4", s.lpp_in_d1_d4.is_some());
    }
    if spec.allocation.is_some() {
        need.insert(
            "allocation_exhausted_review",
            s.allocation_exhausted_review.is_some(),
        );
        need.insert(
            "allocation_consumption_event",
            s.allocation_consumption_event.is_some(),
        );
    }
    if spec.tiers.is_some() {
        need.insert("tier1_license_review", s.tier1_license_review.is_some());
    }
    if spec.veu.is_some() {
        need.insert("nveu_schedule_reading", s.nveu_schedule_reading.is_some());
    }
    if spec.acm.is_some() {
        need.insert(
            "acm_counts_against_allocation",
            s.acm_counts_against_allocation.is_some(),
        );
    }
    need
}
