//! License requirements that stand beside the advanced-computing rules: the embargoes and special
//! controls of 15 CFR part 746 and the Entity List (15 CFR 744.11), read from
//! `policy/restrictions.toml`. Where one applies, no license exception may be used (15 CFR
//! 740.2(a), 740.8(b)).

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::country::{CountryCode, CountryTable};
use crate::regime::{ReviewPolicy, SwitchDef};
use crate::terms::{EndUse, Transaction};

/// Which items a requirement reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemReach {
    /// Every item subject to the EAR.
    All,
    /// Items on the Commerce Control List.
    Ccl,
}

/// What the item is, as far as these requirements care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// Classified under an ECCN aidf determines (3A090, 4A090, 4E091).
    Ccl,
    /// A chip or memory below those ECCNs: subject to the EAR, on the CCL only through the
    /// `below_3a090_on_ccl` switch.
    BelowCcl,
    /// Subject to the EAR but not on the CCL (EAR99), e.g. unpublished weights below 4E091.
    Ear99,
    /// Not subject to the EAR (published weights).
    NotSubject,
}

/// One part 746 requirement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Embargo {
    /// Stable id, e.g. `russia`.
    pub id: String,
    /// Countries it covers (aliases applied).
    pub countries: Vec<String>,
    /// ISO 3166-2 regions within those countries (empty: the whole country).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// First day in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// First day no longer in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// Items it reaches.
    pub items: ItemReach,
    /// Transactions it covers.
    pub transactions: Vec<Transaction>,
    /// Review policy of a license.
    pub review: ReviewPolicy,
    /// Citation of the requirement.
    pub citation: Arc<str>,
    /// Citation of the review policy.
    pub review_citation: Arc<str>,
    /// Switch name when the review policy rests on an unconfirmed reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<Arc<str>>,
    /// What the requirement is.
    pub note: Arc<str>,
}

/// An Entity List entry's license requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntityListEntry {
    /// Items the entry's license requirement reaches.
    pub items: EntryItems,
    /// The entry's license review policy.
    pub review: ReviewPolicy,
    /// The entry's footnote (e.g. 4 or 5: the foreign direct product rules it extends), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub footnote: Option<u8>,
    /// The entry itself as the reasons cite it (its name and Federal Register citations, e.g.
    /// `Huawei Technologies Co., Ltd. (84 FR 22963)`), when known (screening fills it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub citation: Option<String>,
    /// The listed party, when it is not the consignee but another party to the transaction
    /// (e.g. ``end user `X` ``): the reasons name it (15 CFR 744.11 reaches every party).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub party: Option<String>,
}

/// An entry's item scope: every item subject to the EAR, or the items of named ECCNs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum EntryItems {
    /// `"all"` or `"ccl"`.
    Reach(ItemReach),
    /// ECCNs (e.g. `["3A090", "4A090"]`); an ECCN matches its paragraphs (`3A090` covers `3A090.a`).
    Eccns(Vec<String>),
}

/// A list of parties with its own license requirement: the common Entity List entry, the
/// Military End-User list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyList {
    /// Items the requirement reaches.
    pub items: ItemReach,
    /// Review policy.
    pub review: ReviewPolicy,
    /// Citation of the requirement.
    pub citation: Arc<str>,
    /// Citation of the review policy.
    pub review_citation: Arc<str>,
    /// Switch name of the unconfirmed reading it rests on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<Arc<str>>,
    /// What else the entry carries.
    pub note: Arc<str>,
}

/// Switches of the restrictions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionSwitches {
    /// Chips and memory below 3A090 are items on the CCL.
    pub below_3a090_on_ccl: SwitchDef<bool>,
    /// First day the Affiliates rule applies again after its suspension.
    pub affiliates_suspension_until: SwitchDef<NaiveDate>,
}

/// A part 744 end-use control.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUseControl {
    /// Stable id.
    pub id: String,
    /// The input's `end_use` it applies to.
    pub end_use: EndUse,
    /// Countries (aliases applied).
    #[serde(default)]
    pub countries: Vec<String>,
    /// Country groups (membership on the date).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Items it reaches.
    pub items: ItemReach,
    /// Review policy.
    pub review: ReviewPolicy,
    /// Citation of the requirement.
    pub citation: Arc<str>,
    /// Citation of the review policy.
    pub review_citation: Arc<str>,
    /// Switch name of the unconfirmed reading it rests on.
    pub unconfirmed: Arc<str>,
    /// What the control is.
    pub note: Arc<str>,
}

/// The Affiliates rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affiliates {
    /// First day in force.
    pub from: NaiveDate,
    /// First day of the suspension (its end is the switch `affiliates_suspension_until`).
    pub suspended_from: NaiveDate,
    /// Listed owners' aggregate share, percent, at or above which the rule applies.
    #[serde(deserialize_with = "crate::num::de_decimal")]
    pub share_min_pct: rust_decimal::Decimal,
    /// Citation.
    pub citation: Arc<str>,
    /// Citation of the suspension.
    pub suspension_citation: Arc<str>,
}

/// `restrictions.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restrictions {
    /// Format version (1).
    pub schema: u32,
    /// Citation of the rule that no license exception may be used where these apply.
    pub exceptions_barred_citation: Arc<str>,
    /// The exporting country: a shipment within it is not an export.
    pub domestic_country: String,
    /// Citation of the definitions of export and transfer (in-country).
    pub domestic_citation: Arc<str>,
    /// `domestic_country`, resolved.
    #[serde(skip)]
    pub domestic: Option<CountryCode>,
    /// Part 746 requirements.
    #[serde(default)]
    pub embargo: Vec<Embargo>,
    /// The Entity List entry used when the input gives none.
    pub entity_list: PartyList,
    /// Part 744 end-use controls.
    #[serde(default)]
    pub end_use: Vec<EndUseControl>,
    /// The Military End-User list.
    pub meu_list: PartyList,
    /// The Affiliates rule.
    pub affiliates: Affiliates,
    /// Unconfirmed readings.
    pub switches: RestrictionSwitches,
    /// `end_use[i].countries` and `.groups`, resolved.
    #[serde(skip)]
    pub end_use_places: Vec<(Vec<CountryCode>, Vec<crate::country::GroupIdx>)>,
    /// `embargo[i].countries`, resolved.
    #[serde(skip)]
    pub countries: Vec<Vec<CountryCode>>,
}

impl Restrictions {
    /// Parses and validates the file against the country table. Errors are `(field, message)`.
    pub fn parse(text: &str, table: &CountryTable) -> Result<Restrictions, RestrictionsError> {
        let mut r: Restrictions = toml::from_str(text).map_err(RestrictionsError::Toml)?;
        if r.schema != 1 {
            return Err(RestrictionsError::Field(
                "schema".into(),
                format!("unsupported version {}", r.schema),
            ));
        }
        r.domestic =
            Some(table.lookup(&r.domestic_country).map_err(|err| {
                RestrictionsError::Field("domestic_country".into(), err.to_string())
            })?);
        for (i, e) in r.end_use.iter().enumerate() {
            let field = |name: &str| format!("end_use[{i}].{name}");
            let codes = resolve_countries(table, &e.countries, &field("countries"))?;
            let groups = e
                .groups
                .iter()
                .map(|g| {
                    table.group_idx(g).ok_or_else(|| {
                        RestrictionsError::Field(
                            field("groups"),
                            format!("unknown country group `{g}`"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            r.end_use_places.push((codes, groups));
        }
        if r.switches.affiliates_suspension_until.value < r.affiliates.suspended_from {
            return Err(RestrictionsError::Field(
                "switches.affiliates_suspension_until".into(),
                "is before `affiliates.suspended_from`; dates out of order".into(),
            ));
        }
        for (i, e) in r.embargo.iter().enumerate() {
            let field = |name: &str| format!("embargo[{i}].{name}");
            if let (Some(f), Some(u)) = (e.from, e.until)
                && u <= f
            {
                return Err(RestrictionsError::Field(
                    field("until"),
                    format!("{u} is not after `from` {f}; dates out of order"),
                ));
            }
            if e.transactions.is_empty() {
                return Err(RestrictionsError::Field(
                    field("transactions"),
                    "must name at least one transaction".into(),
                ));
            }
            let codes = resolve_countries(table, &e.countries, &field("countries"))?;
            r.countries.push(codes);
        }
        Ok(r)
    }

    /// Part 746 entries covering `dest` (and `region`, if given) on `date` for `tx`.
    pub fn embargoes_on<'a>(
        &'a self,
        dest: CountryCode,
        region: Option<&'a str>,
        date: NaiveDate,
        tx: Transaction,
    ) -> impl Iterator<Item = &'a Embargo> + 'a {
        self.embargo
            .iter()
            .zip(&self.countries)
            .filter(move |(e, codes)| {
                codes.contains(&dest)
                    && e.from.is_none_or(|f| f <= date)
                    && e.until.is_none_or(|u| date < u)
                    && e.transactions.contains(&tx)
                    && (e.regions.is_empty()
                        || region
                            .is_some_and(|r| e.regions.iter().any(|x| x.eq_ignore_ascii_case(r))))
            })
            .map(|(e, _)| e)
    }
}

fn resolve_countries(
    table: &CountryTable,
    codes: &[String],
    field: &str,
) -> Result<Vec<CountryCode>, RestrictionsError> {
    codes
        .iter()
        .map(|c| {
            table
                .lookup(c)
                .map(|code| table.canonical(code).0)
                .map_err(|err| RestrictionsError::Field(field.to_string(), err.to_string()))
        })
        .collect()
}

/// A restrictions file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestrictionsError {
    /// TOML syntax or shape.
    #[error("{0}")]
    Toml(toml::de::Error),
    /// A field with a bad value.
    #[error("field `{0}`: {1}")]
    Field(String, String),
}

/// The stricter of two review policies (denial, then case-by-case, then approval).
pub fn stricter(a: ReviewPolicy, b: ReviewPolicy) -> ReviewPolicy {
    let rank = |p| match p {
        ReviewPolicy::Denial => 2,
        ReviewPolicy::CaseByCase => 1,
        ReviewPolicy::Approval => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Whether an entry's item scope reaches an item of `status` with ECCN `eccn`. `Some(true)` only
/// through the `below_3a090_on_ccl` switch is reported by the caller.
pub fn reaches(reach: ItemReach, status: ItemStatus) -> bool {
    match (reach, status) {
        (_, ItemStatus::NotSubject) => false,
        (ItemReach::All, _) => true,
        (ItemReach::Ccl, ItemStatus::Ccl | ItemStatus::BelowCcl) => true,
        (ItemReach::Ccl, ItemStatus::Ear99) => false,
    }
}
