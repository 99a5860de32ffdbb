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
use crate::num::{de_decimal, de_whole_u64, de_whole_u64_map};
use crate::terms::Transaction;

/// License review policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
    /// Countries placed in Tier 1 whatever their groups (e.g. a hypothetical move).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier1_countries: Vec<String>,
    /// Countries placed in Tier 2 whatever their groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier2_countries: Vec<String>,
    /// Countries placed in Tier 3 whatever their groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier3_countries: Vec<String>,
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
    /// NAC's branch without notice for items outside Macau/D:5 (October 2023 text, before ACA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_notice_citation: Option<Arc<str>>,
}

/// License Exception ACA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aca {
    /// Citation.
    pub citation: Arc<str>,
    /// ACA also covers Tier 2 destinations (diffusion rule).
    pub tier2: bool,
    /// ACA covers in-country transfers within Macau/D:5 (2024 text): its citation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers_within_citation: Option<Arc<str>>,
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
    #[serde(deserialize_with = "de_whole_u64")]
    pub tpp_per_consignee_year: u64,
}

/// Tier 2 country allocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// Citation.
    pub citation: Arc<str>,
    /// TPP per Tier 2 country over the whole window.
    #[serde(deserialize_with = "de_whole_u64")]
    pub tier2_tpp_cap: u64,
    /// Countries with their own cap instead of `tier2_tpp_cap` (e.g. a hypothetical), by code.
    #[serde(
        default,
        deserialize_with = "de_whole_u64_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub country_caps: BTreeMap<String, u64>,
    /// First day of the window.
    pub window_start: NaiveDate,
    /// Last day of the window.
    pub window_end: NaiveDate,
    /// Multiplier under a government-to-government arrangement.
    pub g2g_multiplier: u64,
}

impl Allocation {
    /// The cap of `country` (before any government-to-government multiplier).
    pub fn cap_for(&self, country: &str) -> u64 {
        self.country_caps
            .get(country)
            .copied()
            .unwrap_or(self.tier2_tpp_cap)
    }
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

/// The Data Center VEU of October 2024 (15 CFR 748.15 before the diffusion rule). Recorded with
/// its citation; the engine does not evaluate these authorizations (a consignee's `veu` is
/// reported, not applied).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcVeu {
    /// Citation.
    pub citation: Arc<str>,
    /// What the authorization is.
    pub note: Arc<str>,
}

/// ECCN 3A090.c (high-bandwidth memory), December 2024.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hbm {
    /// Citation of 3A090.c.
    pub citation: Arc<str>,
    /// Memory bandwidth density (GB/s per mm²) above which memory is 3A090.c (exclusive).
    #[serde(deserialize_with = "de_decimal")]
    pub density_gbs_per_mm2_above: Decimal,
    /// Destinations needing a license for 3A090.c.
    pub scope_groups: Vec<String>,
    /// Citation of that license requirement.
    pub scope_citation: Arc<str>,
    /// Citation of License Exception HBM (its conditions are not modelled).
    pub exception_citation: Arc<str>,
}

/// A license requirement imposed on named items by letters to their exporters ("is informed"),
/// outside the CCL parameters (the letters of 26 Aug 2022, 23 Oct 2023 and 9 Apr 2025).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Informed {
    /// Stable id, e.g. `h20-2025`.
    pub id: String,
    /// Where the requirement comes from.
    pub citation: Arc<str>,
    /// Date of the letter: the first day it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// First day it no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// Catalog ids of the items the letters name.
    #[serde(default)]
    pub chips: Vec<String>,
    /// The letter's performance criteria for items it does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<InformedCriteria>,
    /// Destinations (aliases applied: Hong Kong is China).
    #[serde(default)]
    pub countries: Vec<String>,
    /// Country groups whose members are destinations too (membership on the transaction's date).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The letter also reaches companies headquartered in, or whose ultimate parent is
    /// headquartered in, those destinations, wherever the item goes.
    #[serde(default)]
    pub headquarters: bool,
    /// Instead of a license requirement of its own, the letter makes this regime's requirements
    /// apply to the items from its date (the 23 Oct 2023 letter: the October 2023 rule at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_regime: Option<String>,
    /// What is known and what is not.
    pub note: Arc<str>,
}

/// An is-informed letter's performance criteria. Every stated minimum is inclusive ("achieving",
/// "reaching"); `all` says whether every one must be met or any one suffices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InformedCriteria {
    /// Vendors the letter was addressed to (catalog `vendor`, or a word of `exporter.name`).
    pub vendors: Vec<String>,
    /// TPP of this or more.
    #[serde(
        default,
        deserialize_with = "crate::num::de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub tpp_min: Option<Decimal>,
    /// Aggregate bidirectional interconnect of this many GB/s or more.
    #[serde(
        default,
        deserialize_with = "crate::num::de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub interconnect_gbs_min: Option<Decimal>,
    /// Total DRAM bandwidth of this many GB/s or more.
    #[serde(
        default,
        deserialize_with = "crate::num::de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub dram_bandwidth_gbs_min: Option<Decimal>,
    /// Every stated minimum must be met (otherwise any one).
    pub all: bool,
    /// Only items designed or marketed for datacenters.
    #[serde(default)]
    pub datacenter_only: bool,
    /// Where the figures come from.
    pub citation: Arc<str>,
}

/// One condition of a license policy, reported as an obligation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Stable id, e.g. `h200.volume_cap`.
    pub id: String,
    /// What must be done or certified.
    pub detail: String,
}

/// A review policy for exports *from the United States* of items below stated parameters to
/// named destinations (the January 2026 H200 rule), replacing the destination's presumption of
/// denial; other transactions keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsExportReview {
    /// Citation.
    pub citation: Arc<str>,
    /// Destinations it covers (aliases applied).
    pub countries: Vec<String>,
    /// Transactions it covers (`export` = from the United States).
    pub transactions: Vec<Transaction>,
    /// The item's TPP must be below this.
    #[serde(deserialize_with = "de_decimal")]
    pub tpp_below: Decimal,
    /// The item's total DRAM bandwidth (GB/s) must be below this.
    #[serde(deserialize_with = "de_decimal")]
    pub dram_bandwidth_gbs_below: Decimal,
    /// The review policy it sets.
    pub review: ReviewPolicy,
    /// Conditions the exporter certifies (reported as obligations).
    pub conditions: Vec<Condition>,
}

/// One transistor threshold of the foundry presumption, for packages without HBM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundryThreshold {
    /// First export year it applies to.
    pub year_from: i32,
    /// Last export year it applies to (absent: every later year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_to: Option<i32>,
    /// Aggregated approximated transistor count must be below this.
    #[serde(deserialize_with = "de_whole_u64")]
    pub transistors_below: u64,
}

/// The foundry / OSAT presumption (Note 1 to 3A090.a, January 2025) and the routes that overcome it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Foundry {
    /// Citation.
    pub citation: Arc<str>,
    /// An "applicable advanced logic IC" is made at this node (nm) or below, or is non-planar.
    pub node_nm_max: u32,
    /// Routes 2/3: a count below this overcomes the presumption for any package.
    #[serde(deserialize_with = "de_whole_u64")]
    pub transistors_below_any: u64,
    /// Routes 2/3: thresholds for packages without HBM, by export year.
    pub no_hbm_thresholds: Vec<FoundryThreshold>,
    /// Designer route: authorized (not approved) designers qualify on their own through this date;
    /// after it they also need a pending application to become approved.
    pub authorized_designer_until: NaiveDate,
    /// Citation of the approved/authorized designer lists.
    pub designer_citation: Arc<str>,
    /// Route 2: the front-end fabricator must package outside these groups.
    pub packaging_excluded_groups: Vec<String>,
    /// Citation of the packaging routes.
    pub packaging_citation: Arc<str>,
}

/// How the foundry presumption treats 2028 exports, for which the text states no no-HBM threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundryGapYear {
    /// Only the any-package threshold applies (the stricter reading).
    AnyPackageOnly,
    /// The latest earlier no-HBM threshold continues.
    CarryForward,
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

/// What a UVEU's shares of "total AI computing power" are measured on. Only one reading is
/// implemented; the switch exists so the reading is data, and is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UveuShareBase {
    /// TPP installed at the fleet's sites on the test date (planned sites count from their
    /// online date).
    InstalledSites,
}

/// Which training operations the 4E091 derivative rule's percentage is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DerivativeShareOf {
    /// The published base model's operations.
    PublishedBase,
    /// The derived model's total operations (pre-training plus later training, Technical Note 2).
    Total,
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
    /// LPP covers in-country transfers (the text names export and reexport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lpp_in_country_transfers: Option<SwitchDef<bool>>,
    /// Review policy once a country's allocation is exhausted.
    pub allocation_exhausted_review: Option<SwitchDef<ReviewPolicy>>,
    /// When a licensed export draws the allocation.
    pub allocation_consumption_event: Option<SwitchDef<ConsumptionEvent>>,
    /// Review policy for a Tier 1 destination without AIA.
    pub tier1_license_review: Option<SwitchDef<ReviewPolicy>>,
    /// How the NVEU schedule applies within a year.
    pub nveu_schedule_reading: Option<SwitchDef<NveuReading>>,
    /// What UVEU shares are measured on ("total AI computing power").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uveu_share_base: Option<SwitchDef<UveuShareBase>>,
    /// ACM exports draw the country allocation.
    pub acm_counts_against_allocation: Option<SwitchDef<bool>>,
    /// AIA for weights needs storage meeting Supp. No. 10 paras. 14, 15, 18.
    pub weights_storage_required_for_aia: Option<SwitchDef<bool>>,
    /// Review policy where the regime's text (as the facts record it) states none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_review_unstated: Option<SwitchDef<ReviewPolicy>>,
    /// Review policy for the 3A090.c license requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hbm_license_review: Option<SwitchDef<ReviewPolicy>>,
    /// Review policy for "is informed" license requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informed_license_review: Option<SwitchDef<ReviewPolicy>>,
    /// 4E091 derivative rule: what the 25 % is taken of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivative_share_of: Option<SwitchDef<DerivativeShareOf>>,
    /// Foundry presumption: the no-HBM threshold for a year the text leaves out (2028).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundry_gap_year: Option<SwitchDef<FoundryGapYear>>,
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
    /// The regime this one amends (its data is the parent's with this file's changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Regimes whose own changes are applied on top of the parent (before this file's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// What this regime changes, in words (not inherited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
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
    /// The October 2024 Data Center VEU, if in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dc_veu: Option<DcVeu>,
    /// 3A090.c (HBM), if in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hbm: Option<Hbm>,
    /// The foundry presumption, if in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundry: Option<Foundry>,
    /// "Is informed" license requirements on named items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub informed: Vec<Informed>,
    /// A review policy for exports from the United States below stated parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_export_review: Option<UsExportReview>,
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
    /// `tiers.tier1_countries`, `tier2_countries`, `tier3_countries`.
    pub tier_countries: [Vec<CountryCode>; 3],
    /// `hbm.scope_groups`.
    pub hbm_groups: Vec<GroupIdx>,
    /// `informed[i].countries`.
    pub informed_countries: Vec<Vec<CountryCode>>,
    /// `informed[i].groups`.
    pub informed_groups: Vec<Vec<GroupIdx>>,
    /// `us_export_review.countries`.
    pub us_export_countries: Vec<CountryCode>,
    /// `foundry.packaging_excluded_groups`.
    pub foundry_excluded: Vec<GroupIdx>,
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
    /// The file the regime is written in.
    pub file: Arc<str>,
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
            need.insert("derivative_share_of", s.derivative_share_of.is_some());
            need.insert(
                "weights_storage_required_for_aia",
                s.weights_storage_required_for_aia.is_some(),
            );
        }
    }
    if spec.lpp.is_some() {
        need.insert("lpp_excludes_d5_hq", s.lpp_excludes_d5_hq.is_some());
        need.insert("lpp_in_d1_d4", s.lpp_in_d1_d4.is_some());
        need.insert(
            "lpp_in_country_transfers",
            s.lpp_in_country_transfers.is_some(),
        );
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
        need.insert("uveu_share_base", s.uveu_share_base.is_some());
    }
    if spec.hbm.is_some() {
        need.insert("hbm_license_review", s.hbm_license_review.is_some());
    }
    if spec.informed.iter().any(|i| i.apply_regime.is_none()) {
        need.insert(
            "informed_license_review",
            s.informed_license_review.is_some(),
        );
    }
    if spec.foundry.is_some() {
        need.insert("foundry_gap_year", s.foundry_gap_year.is_some());
    }
    if spec.acm.is_some() {
        need.insert(
            "acm_counts_against_allocation",
            s.acm_counts_against_allocation.is_some(),
        );
    }
    need
}
