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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize, Serializer};

use crate::chip::Chip;
use crate::country::{CountryCode, DatedMember};
use crate::explain::{Assumption, thousands};
use crate::num::{de_opt_decimal, parse_decimal};
use crate::policy::{Policy, SelectError};
use crate::regime::{Regime, Veu};
use crate::terms::{Posture, Tier, VeuKind};

/// The ISO code of the United States, which the US-headquarters share rule names.
const US: &str = "US";

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// Whether a site is running or still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    /// Installed and counted (from its `online_date`, if one is given).
    #[default]
    Operating,
    /// Counted only from its `online_date`.
    Planned,
}

/// One data center site as written in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    /// Site id, unique within the fleet.
    pub id: String,
    /// ISO 3166-1 alpha-2 code of the site's country.
    pub country: String,
    /// Whole TPP installed at the site (instead of `chip` and `quantity`).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub tpp: Option<Decimal>,
    /// Catalog chip installed at the site (with `quantity`).
    #[serde(default)]
    pub chip: Option<String>,
    /// Number of `chip`s.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// `operating` (default) or `planned`.
    #[serde(default)]
    pub status: Option<SiteStatus>,
    /// First day the site's compute counts.
    #[serde(default)]
    pub online_date: Option<NaiveDate>,
}

/// A fleet as written in the input (JSON, or CSV rows plus the header fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetInput {
    /// Owner of the advanced ICs (the VEU applicant).
    pub owner: String,
    /// Headquarters country of the owner (or of its ultimate parent).
    pub hq: String,
    /// `uveu` or `nveu`.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
    /// The sites.
    pub sites: Vec<SiteInput>,
    /// For CSV input, the line of each site (so errors can name it).
    #[serde(skip)]
    pub lines: Option<Vec<usize>>,
}

/// The fields a CSV fleet gives outside its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHeader {
    /// Owner.
    pub owner: String,
    /// Headquarters country.
    pub hq: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
}

/// A fleet that cannot be read or evaluated. Input errors name the field (and CSV line) and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// Input that does not parse or validate.
    #[error("{}{message}", location(.field, *.line))]
    Input {
        /// Field path, e.g. `sites[2].tpp`; empty for syntax errors.
        field: String,
        /// CSV line, when the input is CSV.
        line: Option<usize>,
        /// What is wrong, with the value.
        message: String,
    },
    /// The pinned regime is unknown, or none is in force on the fleet's date (as every other
    /// selection says it: `Policy::select`).
    #[error("{0}")]
    Regime(#[from] SelectError),
    /// The regime has no Data Center VEU section.
    #[error(
        "regime `{0}` has no data center VEU rules (no `veu` section); fleet rules do not apply"
    )]
    NoVeu(String),
    /// The regime has no tiers.
    #[error("regime `{0}` has no country tiers; fleet rules need them")]
    NoTiers(String),
    /// The NVEU schedule does not reach the date.
    #[error("the NVEU schedule of regime `{regime}` does not cover {date}")]
    NoSchedule {
        /// Regime id.
        regime: String,
        /// The date.
        date: NaiveDate,
    },
    /// TPP arithmetic beyond what the engine counts.
    #[error("field `{0}`: TPP total is out of range")]
    Overflow(String),
}

fn location(field: &str, line: Option<usize>) -> String {
    match (line, field.is_empty()) {
        (Some(l), false) => format!("line {l}, field `{field}`: "),
        (Some(l), true) => format!("line {l}: "),
        (None, false) => format!("field `{field}`: "),
        (None, true) => String::new(),
    }
}

fn input_err(
    field: impl Into<String>,
    line: Option<usize>,
    message: impl Into<String>,
) -> FleetError {
    FleetError::Input {
        field: field.into(),
        line,
        message: message.into(),
    }
}

/// CSV columns, in the documented order.
pub const CSV_COLUMNS: [&str; 7] = [
    "id",
    "country",
    "tpp",
    "chip",
    "quantity",
    "status",
    "online_date",
];

impl FleetInput {
    /// Parses a JSON fleet. Unknown fields are errors; errors name the field path.
    pub fn from_json(text: &str) -> Result<FleetInput, FleetError> {
        crate::strict_json::parse_document(text, "a fleet")
            .map_err(|plain| input_err(plain.path, None, plain.message))
    }

    /// Parses CSV rows (`id,country,tpp,chip,quantity,status,online_date`; a header line is
    /// required, `id` and `country` are, the other columns may be left out or empty).
    pub fn from_csv(text: &str, header: FleetHeader) -> Result<FleetInput, FleetError> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| input_err("", Some(1), e.to_string()))?
            .clone();
        let mut col: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, h) in headers.iter().enumerate() {
            let Some(&known) = CSV_COLUMNS.iter().find(|c| **c == h) else {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("unknown column `{h}` (columns: {})", CSV_COLUMNS.join(",")),
                ));
            };
            if col.insert(known, i).is_some() {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("column `{h}` appears twice"),
                ));
            }
        }
        for required in ["id", "country"] {
            if !col.contains_key(required) {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("missing column `{required}`"),
                ));
            }
        }
        let mut sites = Vec::new();
        let mut lines = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                input_err("", line, e.to_string())
            })?;
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
            let cell = |name: &str| -> Option<&str> {
                col.get(name)
                    .and_then(|&i| rec.get(i))
                    .filter(|s| !s.is_empty())
            };
            let bad = |name: &str, v: &str, what: &str| {
                input_err(name, Some(line), format!("`{v}` is not {what}"))
            };
            let tpp = match cell("tpp") {
                Some(v) => Some(parse_decimal(v).ok_or_else(|| bad("tpp", v, "a number"))?),
                None => None,
            };
            let quantity = match cell("quantity") {
                Some(v) => Some(
                    v.parse::<i64>()
                        .map_err(|_| bad("quantity", v, "a whole number"))?,
                ),
                None => None,
            };
            let status = match cell("status") {
                None => None,
                Some("operating") => Some(SiteStatus::Operating),
                Some("planned") => Some(SiteStatus::Planned),
                Some(v) => return Err(bad("status", v, "`operating` or `planned`")),
            };
            let online_date = match cell("online_date") {
                Some(v) => Some(
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| bad("online_date", v, "a date (YYYY-MM-DD)"))?,
                ),
                None => None,
            };
            sites.push(SiteInput {
                id: cell("id").unwrap_or_default().to_string(),
                country: cell("country").unwrap_or_default().to_string(),
                tpp,
                chip: cell("chip").map(str::to_string),
                quantity,
                status,
                online_date,
            });
            lines.push(line);
        }
        Ok(FleetInput {
            owner: header.owner,
            hq: header.hq,
            kind: header.kind,
            date: header.date,
            sites,
            lines: Some(lines),
        })
    }

    /// Where site `i`'s `name` field is, for error messages.
    fn site_field(&self, i: usize, name: &str) -> (String, Option<usize>) {
        match &self.lines {
            Some(lines) => (name.to_string(), lines.get(i).copied()),
            None => (format!("sites[{i}].{name}"), None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resolved fleet
// ---------------------------------------------------------------------------------------------

/// One site, validated: the country is known, the TPP is a whole number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// The country as given.
    pub country: CountryCode,
    /// The country the EAR treats it as (Hong Kong → China); shares are counted per this code.
    pub country_treated_as: CountryCode,
    /// Whole TPP installed at the site.
    pub tpp: u64,
    /// Catalog chip id, when the site gave `chip`.
    pub chip: Option<Arc<str>>,
    /// Chips, when the site gave `chip`.
    pub quantity: Option<u64>,
    /// Operating or planned.
    pub status: SiteStatus,
    /// First day the site counts; `None`: every day.
    pub online_date: Option<NaiveDate>,
}

impl Site {
    /// Whether the site's compute counts on `date`.
    pub fn counts_on(&self, date: NaiveDate) -> bool {
        self.online_date.is_none_or(|d| d <= date)
    }
}

/// A validated fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// Owner.
    pub owner: String,
    /// Headquarters country as given.
    pub hq: CountryCode,
    /// Headquarters country as the EAR treats it.
    pub hq_treated_as: CountryCode,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
    /// The sites.
    pub sites: Vec<Site>,
}

/// Builds a site's field error: the field path (with its line, for CSV input) and the problem.
type SiteErr<'a> = &'a dyn Fn(&str, String) -> FleetError;

/// A site's TPP, with the catalog chip and quantity when given that way.
type SiteCapacity = (u64, Option<Arc<str>>, Option<u64>);

/// A site's TPP: given whole, or a catalog chip's TPP times the quantity; with the chip and
/// quantity when given that way.
fn site_capacity(
    s: &SiteInput,
    policy: &Policy,
    err: SiteErr<'_>,
) -> Result<SiteCapacity, FleetError> {
    let capacity = match (s.tpp, &s.chip, s.quantity) {
        (Some(t), None, None) => {
            if t.is_sign_negative() && !t.is_zero() {
                return Err(err("tpp", format!("must not be negative, got `{t}`")));
            }
            if !t.fract().is_zero() {
                return Err(err("tpp", format!("must be a whole number, got `{t}`")));
            }
            let tpp = t
                .to_u64()
                .ok_or_else(|| err("tpp", format!("`{t}` is out of range")))?;
            (tpp, None, None)
        }
        (None, Some(name), Some(q)) => {
            let c = policy
                .catalog
                .lookup(name)
                .map_err(|e| err("chip", e.to_string()))?;
            if q < 0 {
                return Err(err("quantity", format!("must not be negative, got `{q}`")));
            }
            let per_chip = chip_tpp(c).map_err(|m| err("chip", m))?;
            let tpp = per_chip
                .checked_mul(q as u64)
                .ok_or_else(|| err("quantity", format!("`{q}` chips overflow the TPP count")))?;
            (tpp, Some(c.id.clone()), Some(q as u64))
        }
        (None, Some(_), None) => {
            return Err(err("quantity", "required with `chip`".into()));
        }
        (None, None, Some(_)) => {
            return Err(err("chip", "required with `quantity`".into()));
        }
        (None, None, None) => {
            return Err(err(
                "tpp",
                "missing: give `tpp`, or `chip` and `quantity`".into(),
            ));
        }
        (Some(_), _, _) => {
            return Err(err(
                "tpp",
                "give either `tpp` or `chip` and `quantity`, not both".into(),
            ));
        }
    };
    Ok(capacity)
}

/// A site's status: a planned site needs its online date, and an operating one cannot come
/// online after the fleet's date.
fn site_status(s: &SiteInput, date: NaiveDate, err: SiteErr<'_>) -> Result<SiteStatus, FleetError> {
    let status = s.status.unwrap_or_default();
    match (status, s.online_date) {
        (SiteStatus::Planned, None) => {
            return Err(err("online_date", "required for a planned site".into()));
        }
        (SiteStatus::Operating, Some(d)) if d > date => {
            return Err(err(
                "status",
                format!(
                    "`operating` but online_date {d} is after the fleet date {}; mark the site `planned`",
                    date
                ),
            ));
        }
        _ => {}
    }
    Ok(status)
}

impl Fleet {
    /// Validates an input against the policy's countries and catalog.
    pub fn resolve(input: &FleetInput, policy: &Policy) -> Result<Fleet, FleetError> {
        let hq = policy
            .countries
            .lookup(&input.hq)
            .map_err(|e| input_err("hq", None, e.to_string()))?;
        if input.owner.trim().is_empty() {
            return Err(input_err("owner", None, "must not be empty"));
        }
        // An empty fleet has no shares to check; saying "compliant" would be an answer we
        // could not tell.
        if input.sites.is_empty() {
            return Err(input_err("sites", None, "the fleet has no sites"));
        }
        let mut ids = BTreeSet::new();
        let mut sites = Vec::with_capacity(input.sites.len());
        for (i, s) in input.sites.iter().enumerate() {
            let err = |name: &str, message: String| {
                let (field, line) = input.site_field(i, name);
                input_err(field, line, message)
            };
            if s.id.trim().is_empty() {
                return Err(err("id", "must not be empty".into()));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(err("id", format!("`{}` is used by two sites", s.id)));
            }
            if s.country.is_empty() {
                return Err(err("country", "missing".into()));
            }
            let country = policy
                .countries
                .lookup(&s.country)
                .map_err(|e| err("country", e.to_string()))?;
            let (tpp, chip, quantity) = site_capacity(s, policy, &err)?;
            let status = site_status(s, input.date, &err)?;
            sites.push(Site {
                id: s.id.clone(),
                country,
                country_treated_as: policy.countries.canonical(country).0,
                tpp,
                chip,
                quantity,
                status,
                online_date: s.online_date,
            });
        }
        Ok(Fleet {
            owner: input.owner.clone(),
            hq,
            hq_treated_as: policy.countries.canonical(hq).0,
            kind: input.kind,
            date: input.date,
            sites,
        })
    }

    /// The same fleet with `tpp` more operating in `country` (a what-if; the site id is `added-N`).
    pub fn with_added(&self, policy: &Policy, country: CountryCode, tpp: u64) -> Fleet {
        let mut out = self.clone();
        out.sites.push(Site {
            id: format!("added-{}", self.sites.len()),
            country,
            country_treated_as: policy.countries.canonical(country).0,
            tpp,
            chip: None,
            quantity: None,
            status: SiteStatus::Operating,
            online_date: None,
        });
        out
    }

    /// Installed TPP per country (as the EAR treats it) on `date`.
    pub fn installed_on(&self, date: NaiveDate) -> BTreeMap<CountryCode, u128> {
        let mut by_country = BTreeMap::new();
        for s in self.sites.iter().filter(|s| s.counts_on(date)) {
            *by_country.entry(s.country_treated_as).or_insert(0u128) += u128::from(s.tpp);
        }
        by_country
    }
}

/// Whole TPP of one chip of the catalog.
pub fn chip_tpp(chip: &Chip) -> Result<u64, String> {
    let m = chip
        .metrics()
        .ok_or_else(|| format!("`{}` has no published dense throughput", chip.id))?;
    match m.tpp_whole() {
        0 => Err(format!("`{}` has a TPP of 0", chip.id)),
        u64::MAX => Err(format!("`{}` has a TPP out of range", chip.id)),
        t => Ok(t),
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

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

fn pct_text(share: &Share) -> String {
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
    fn pct(bound: BoundKind, pct: u32) -> Limit {
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

    fn tpp(tpp: u128) -> Limit {
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

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

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

    /// Every rule the fleet breaks: where it is headquartered and deployed, then the UVEU shares
    /// or the NVEU schedule (15 CFR 748.15).
    fn violations(&self, fleet: &Fleet, st: &State) -> Result<Vec<Violation>, FleetError> {
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

    /// Each rule's bound on adding TPP in `c` (closed form, exact).
    fn constraints(
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

/// Intersects the rules' bounds: (largest floor, smallest ceiling, a rule that can never hold).
fn combine(cons: &[(RuleRef, Constraint)]) -> (u128, Option<u128>, Option<RuleRef>) {
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
