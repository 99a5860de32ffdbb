//! The license determination: which authorization a transaction needs under a regime, why, and
//! which caps it draws on. Pure: the caller supplies the date, the balances and the policy.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::chip::LookupError;
use crate::classify::{Eccn, IndeterminateError, Metrics};
use crate::country::{CountryCode, CountryDataError, DatedMember, GroupIdx};
use crate::draws::Draw;
use crate::explain::{Assumption, Detail, Obligation, Reason, Trail};
use crate::input::DeterminationInput;
use crate::policy::Policy;
use crate::regime::{Regime, ReviewPolicy};
use crate::restrict::ItemStatus;
use crate::terms::{Posture, Tier};
use crate::weights::WeightsError;

mod accounts;
mod chips;
mod informed;
mod item;
mod parties;
mod restrictions;
mod select;

pub use accounts::{BalanceReads, balance_reads};

use item::answer_item;
use parties::{assign_tiers, read_parties};
use restrictions::with_independent;
use select::{Selection, note_selection};

/// How the transaction is authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authorization {
    /// License Exception AIA.
    Aia,
    /// License Exception LPP.
    Lpp,
    /// License Exception ACM.
    Acm,
    /// License Exception ACA.
    Aca,
    /// License Exception NAC (notice first).
    Nac,
    /// Universal validated end user.
    Uveu,
    /// National validated end user.
    Nveu,
    /// Controlled, but no license is required for this transaction.
    Nlr,
    /// A license is required.
    License,
    /// The item is not controlled by these rules.
    NotControlled,
}

impl Authorization {
    /// As the JSON contract writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Authorization::Aia => "AIA",
            Authorization::Lpp => "LPP",
            Authorization::Acm => "ACM",
            Authorization::Aca => "ACA",
            Authorization::Nac => "NAC",
            Authorization::Uveu => "UVEU",
            Authorization::Nveu => "NVEU",
            Authorization::Nlr => "NLR",
            Authorization::License => "license",
            Authorization::NotControlled => "not_controlled",
        }
    }

    /// Every value, in contract order.
    pub const ALL: [Authorization; 10] = [
        Authorization::Aia,
        Authorization::Lpp,
        Authorization::Acm,
        Authorization::Aca,
        Authorization::Nac,
        Authorization::Uveu,
        Authorization::Nveu,
        Authorization::Nlr,
        Authorization::License,
        Authorization::NotControlled,
    ];
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Authorization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A cap the transaction draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// The destination's Tier 2 country allocation.
    CountryAllocation,
    /// The consignee's LPP calendar-year limit.
    LppAnnual,
    /// The NVEU's installed-base schedule in the destination.
    NveuAllocation,
}

/// What the item was.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ItemSummary {
    /// `chip`, `metrics` or `model_weights`.
    pub kind: &'static str,
    /// Catalog id, for catalog chips.
    pub chip_id: Option<Arc<str>>,
    /// Catalog name.
    pub name: Option<Arc<str>>,
    /// TPP per unit, exact, for display.
    pub tpp: Option<f64>,
    /// Performance density, for display (2 decimals).
    pub pd: Option<f64>,
    /// Designed or marketed for datacenters.
    pub datacenter: Option<bool>,
    /// The 3A090 paragraph that matched, or why none did.
    pub paragraph: Option<&'static str>,
    /// Training operations counted (weights).
    pub training_ops: Option<f64>,
    /// How the chip name was read, when it named several parts and the catalog's default was
    /// taken ("H100" is the SXM part; the PCIe part has other figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub note: Option<String>,
}

/// Which regime answered, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = DeterminationRegime))]
pub struct RegimeRef {
    /// Regime id.
    pub id: Arc<str>,
    /// `sha256:` digest of its canonical content.
    pub digest: Arc<str>,
    /// Posture used to resolve the date.
    pub posture: Posture,
    /// Date of the transaction.
    pub date: NaiveDate,
    /// `timeline` (resolved from the date), `pinned` (named in the input) or `informed_letter`
    /// (an is-informed letter of the timeline's regime applies this regime to the item).
    pub selected_by: &'static str,
}

/// The answer. Field names are the JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Determination {
    /// Whether a license must be obtained.
    pub license_required: bool,
    /// How the transaction is authorized.
    pub authorization: Authorization,
    /// Review policy when a license is required.
    pub review_policy: Option<ReviewPolicy>,
    /// ECCN, or null when not controlled by these rules.
    pub eccn: Option<Eccn>,
    /// Destination after aliases (Hong Kong is China).
    pub destination: CountryCode,
    /// Destination tier (null when the regime has no tiers).
    pub destination_tier: Option<Tier>,
    /// Consignee tier: the worst of its location, headquarters and ultimate parent.
    pub consignee_tier: Option<Tier>,
    /// The item.
    pub item: ItemSummary,
    /// Units.
    pub quantity: u64,
    /// TPP per unit, whole.
    pub unit_tpp: u64,
    /// Quantity × unit TPP.
    pub total_tpp: u64,
    /// Total TPP in H100-equivalents.
    pub h100_equivalents: f64,
    /// Caps the transaction draws on.
    pub counts_against: Vec<Counter>,
    /// The ledger draws this answer authorizes: account, amount and cap, built from canonical
    /// parties. A license's own accounts are drawn in addition when a license is used.
    pub draws: Vec<Draw>,
    /// What must be done for the authorization to hold.
    pub obligations: Vec<Obligation>,
    /// Rules that decided it, in order.
    pub reasons: Vec<Reason>,
    /// Unconfirmed readings relied on.
    pub assumptions: Vec<Assumption>,
    /// Regime used.
    pub regime: RegimeRef,
}

/// Why a determination could not be made. Every variant names the input field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetermineError {
    /// A country code that is malformed or unknown.
    #[error("field `{field}`: {source}")]
    Country {
        /// Field path.
        field: &'static str,
        /// The problem.
        source: CountryDataError,
    },
    /// A chip name that matched nothing, or several.
    #[error("field `item.chip`: {0}")]
    Chip(LookupError),
    /// An item in no valid form, or a chip without the data to classify it.
    #[error("field `item`: {0}")]
    Item(String),
    /// Classification needs data the input does not give.
    #[error("field `item`: {0}")]
    Indeterminate(IndeterminateError),
    /// Quantity missing, zero or negative.
    #[error("field `quantity`: {0}")]
    Quantity(String),
    /// No regime could be selected: an unknown pinned id (`regime`) or an uncovered date (`date`).
    #[error(transparent)]
    Regime(#[from] crate::policy::SelectError),
    /// Model-weights input that cannot be classified.
    #[error("{0}")]
    Weights(WeightsError),
}

struct Parties {
    dest: CountryCode,
    hq: CountryCode,
    parent: CountryCode,
    ultimate: Option<CountryCode>,
}

/// Rule evaluation state for one transaction.
struct Eval<'a> {
    policy: &'a Policy,
    regime: &'a Regime,
    date: NaiveDate,
    trail: Trail,
    /// How the chip name was read (see [`ItemSummary::note`]).
    item_note: Option<String>,
}

impl<'a> Eval<'a> {
    fn note_unconfirmed(&mut self, code: CountryCode, entry: &DatedMember) {
        self.trail.assume(Assumption {
            switch: entry
                .unconfirmed
                .clone()
                .unwrap_or_else(|| Arc::from("membership")),
            value: format!(
                "{code} member from {} until {}",
                entry
                    .from
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                entry
                    .until
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into())
            ),
            confidence: Arc::from("U"),
            detail: entry
                .note
                .clone()
                .unwrap_or_else(|| Arc::from("dated membership")),
        });
    }

    fn member_of_any(&mut self, code: CountryCode, groups: &[GroupIdx]) -> Option<GroupIdx> {
        let mut hit = None;
        for &g in groups {
            let m = self.policy.countries.membership(code, g, self.date);
            if let Some(entry) = m.unconfirmed {
                self.note_unconfirmed(code, entry);
            }
            if m.member && hit.is_none() {
                hit = Some(g);
            }
        }
        hit
    }

    fn group_id(&self, g: GroupIdx) -> Arc<str> {
        self.policy.countries.group(g).id.clone()
    }

    fn tier(&mut self, code: CountryCode) -> Option<Tier> {
        let (tier, unconfirmed) = self.policy.tier(self.regime, code, self.date)?;
        if let Some(entry) = unconfirmed {
            self.note_unconfirmed(code, entry);
        }
        Some(tier)
    }

    /// Tier 3 where the regime has tiers (its lists, or a country it places there); otherwise the
    /// headquarters-taint list (D:5 / Macau). Returns the list's name.
    fn embargoed(&mut self, code: CountryCode) -> Option<Arc<str>> {
        if self.regime.spec.tiers.is_some() {
            if self.tier(code) != Some(Tier::Three) {
                return None;
            }
            let (code, _) = self.policy.countries.canonical(code);
            let regime: &'a Regime = self.regime;
            let r = &regime.resolved;
            if r.tier_countries[2].contains(&code) {
                return Some(Arc::from("Tier 3 (tiers.tier3_countries)"));
            }
            let groups = &r.tier3_groups;
            return Some(
                self.member_of_any(code, groups)
                    .map(|g| self.group_id(g))
                    .unwrap_or_else(|| Arc::from("Tier 3")),
            );
        }
        let regime: &'a Regime = self.regime;
        self.member_of_any(code, &regime.resolved.taint_groups)
            .map(|g| self.group_id(g))
    }

    /// A review policy for a license, unless the regime's text states none (then the switch).
    fn review(&mut self, stated: ReviewPolicy) -> ReviewPolicy {
        match &self.regime.spec.switches.license_review_unstated {
            Some(s) => {
                self.trail
                    .assume_opt(Regime::assumption("license_review_unstated", s));
                s.value
            }
            None => stated,
        }
    }

    fn in_country_scope(&mut self, code: CountryCode) -> Option<String> {
        let regime: &'a Regime = self.regime;
        let r = &regime.resolved;
        if r.scope_countries.contains(&code) {
            return Some(format!("{code} is named in the license scope"));
        }
        let g = self.member_of_any(code, &r.scope_groups)?;
        if let Some(x) = self.member_of_any(code, &r.scope_exclude) {
            let (gid, xid) = (self.group_id(g), self.group_id(x));
            self.trail.reason(
                "scope.excluded_group",
                &self.regime.spec.scope.citation,
                || {
                    format!(
                        "{code} is in {gid} but also in {xid}, which is carved out of the scope"
                    )
                },
            );
            return None;
        }
        Some(format!("{code} is in Country Group {}", self.group_id(g)))
    }

    fn switch_assume(&mut self, a: Option<Assumption>) {
        if let Some(a) = a {
            self.trail.assume(a);
        }
    }
}

/// The result of the authorization rules, before the summary fields are attached.
struct Outcome {
    authorization: Authorization,
    review: Option<ReviewPolicy>,
    counts: Vec<Counter>,
}

/// An outcome with no review policy and no caps drawn.
fn outcome(authorization: Authorization) -> Outcome {
    Outcome {
        authorization,
        review: None,
        counts: Vec::new(),
    }
}

/// A license required under `review`.
fn license(review: ReviewPolicy) -> Outcome {
    Outcome {
        authorization: Authorization::License,
        review: Some(review),
        counts: Vec::new(),
    }
}

/// A country field looked up as given, the error naming the field.
fn country(
    policy: &Policy,
    field: &'static str,
    value: &str,
) -> Result<CountryCode, DetermineError> {
    policy
        .countries
        .lookup(value)
        .map_err(|source| DetermineError::Country { field, source })
}

/// Determines one transaction, with every reason's and obligation's detail text.
pub fn determine(
    policy: &Policy,
    input: &DeterminationInput,
) -> Result<Determination, DetermineError> {
    determine_with(policy, input, Detail::Full)
}

/// Determines one transaction, building detail texts only as `detail` says. The answer is the
/// same either way (authorization, rule ids, citations, obligations' ids, assumptions); with
/// [`Detail::RuleIds`] every reason's and obligation's `detail` is empty, for bulk consumers that
/// keep only rule ids.
pub fn determine_with(
    policy: &Policy,
    input: &DeterminationInput,
    detail: Detail,
) -> Result<Determination, DetermineError> {
    let sel = Selection::of(policy, input)?;
    let mut ev = Eval {
        policy,
        regime: sel.regime,
        date: input.date,
        trail: Trail::new(detail),
        item_note: None,
    };
    note_selection(&mut ev, &sel, input.posture.unwrap_or_default());
    let parties = read_parties(&mut ev, input)?;
    let tiers = assign_tiers(&mut ev, &parties);
    let answer = answer_item(&mut ev, &parties, tiers, input)?;
    let out = with_independent(
        &mut ev,
        &parties,
        input,
        answer.status,
        answer.eccn,
        answer.out,
    );
    let answer = ItemAnswer { out, ..answer };
    Ok(finish(ev, &sel, &parties, tiers, input, answer))
}

/// The destination's and consignee's tiers (none when the regime has no tiers).
#[derive(Clone, Copy)]
struct Tiers {
    /// The destination's tier.
    destination: Option<Tier>,
    /// The worst of the consignee's location, headquarters and ultimate parent.
    consignee: Option<Tier>,
}

/// What the item's rules answered, before the part 744/746 requirements and the summary fields.
struct ItemAnswer {
    out: Outcome,
    /// How far the item is subject to the EAR, for the part 744/746 requirements.
    status: ItemStatus,
    eccn: Option<Eccn>,
    item: ItemSummary,
    quantity: u64,
    unit_tpp: u64,
    total_tpp: u64,
}

/// The determination: the outcome with the parties, tiers, item, quantities, draws and trail.
fn finish(
    ev: Eval<'_>,
    sel: &Selection<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
    answer: ItemAnswer,
) -> Determination {
    let (regime, out) = (sel.regime, answer.out);
    let total_tpp = answer.total_tpp;
    Determination {
        license_required: out.authorization == Authorization::License,
        authorization: out.authorization,
        review_policy: out.review,
        eccn: answer.eccn,
        destination: parties.dest,
        destination_tier: tiers.destination,
        consignee_tier: tiers.consignee,
        item: ItemSummary {
            note: ev.item_note,
            ..answer.item
        },
        quantity: answer.quantity,
        unit_tpp: answer.unit_tpp,
        total_tpp,
        h100_equivalents: total_tpp as f64 / regime.spec.h100_tpp as f64,
        draws: accounts::draws(&accounts::Drawn {
            regime,
            input,
            hq: parties.hq,
            destination: parties.dest,
            authorization: out.authorization,
            counts: &out.counts,
            total_tpp,
        }),
        counts_against: out.counts,
        obligations: ev.trail.obligations,
        reasons: ev.trail.reasons,
        assumptions: ev.trail.assumptions,
        regime: RegimeRef {
            id: regime.id.clone(),
            digest: regime.digest.clone(),
            posture: input.posture.unwrap_or_default(),
            date: input.date,
            selected_by: sel.selected_by,
        },
    }
}

/// What the chip rules read: the parties and their tiers, the input, and the classified item.
struct ChipCase<'c> {
    p: &'c Parties,
    tiers: Tiers,
    input: &'c DeterminationInput,
    eccn: Eccn,
    /// Designed or marketed for datacenters.
    datacenter: bool,
    metrics: &'c Metrics,
    /// Quantity × unit TPP.
    total_tpp: u64,
}

impl ChipCase<'_> {
    /// A datacenter 3A090.a/4A090.a item: the items NAC and ACA do not cover.
    fn datacenter_a(&self) -> bool {
        self.eccn.is_a_type() && self.datacenter
    }
}

#[cfg(feature = "schema")]
crate::schema::string_type!(
    Authorization,
    "How the transaction is authorized",
    Authorization::ALL.map(Authorization::as_str)
);
