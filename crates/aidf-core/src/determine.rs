//! The license determination: which authorization a transaction needs under a regime, why, and
//! which caps it draws on. Pure: the caller supplies the date, the balances and the policy.

use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::chip::{Chip, LookupError};
use crate::classify::{
    Classification, Datacenter, Eccn, IndeterminateError, Metrics, classify_with,
};
use crate::country::{CountryCode, CountryDataError, DatedMember, GroupIdx};
use crate::draws::Draw;
use crate::explain::{Assumption, Detail, Obligation, Reason, Trail, thousands};
use crate::input::{DeterminationInput, Transaction, VeuKind};
use crate::policy::{Policy, Posture};
use crate::regime::{Regime, ReviewPolicy};
use crate::restrict::{EntryItems, ItemReach, ItemStatus, stricter};
use crate::weights::{WeightsError, classify_weights};

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
    pub note: Option<String>,
}

/// Which regime answered, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub destination_tier: Option<u8>,
    /// Consignee tier: the worst of its location, headquarters and ultimate parent.
    pub consignee_tier: Option<u8>,
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
    /// A pinned regime that does not exist.
    #[error("field `regime`: unknown regime `{value}`; known: {known}")]
    UnknownRegime {
        /// As given.
        value: String,
        /// Known ids.
        known: String,
    },
    /// No regime covers the date.
    #[error("field `date`: no regime is in force on {date} under posture {posture}{}", earliest.map(|d| format!(" (the timeline starts on {d})")).unwrap_or_default())]
    NoRegime {
        /// The date.
        date: NaiveDate,
        /// The posture.
        posture: Posture,
        /// First covered date.
        earliest: Option<NaiveDate>,
    },
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

/// What an answer says of a name that fits several parts and was read as the catalog's default.
fn family_note(name: &str, chip: &crate::chip::Chip, parts: &[Arc<str>]) -> String {
    let list: Vec<&str> = parts.iter().map(|p| &**p).collect();
    format!(
        "`{name}` fits {} catalog parts ({}); taken as `{}` ({}), the catalog's default for that name: name the part to be exact",
        parts.len(),
        list.join(", "),
        chip.id,
        chip.name()
    )
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

    fn tier(&mut self, code: CountryCode) -> Option<u8> {
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
            if self.tier(code) != Some(3) {
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

fn outcome(authorization: Authorization) -> Outcome {
    Outcome {
        authorization,
        review: None,
        counts: Vec::new(),
    }
}

fn license(review: ReviewPolicy) -> Outcome {
    Outcome {
        authorization: Authorization::License,
        review: Some(review),
        counts: Vec::new(),
    }
}

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

/// The regime that answers `input`: the pinned one, or the one in force on its date under its
/// posture (with the timeline entry that put it there).
pub(crate) fn select_regime<'p>(
    policy: &'p Policy,
    input: &DeterminationInput,
) -> Result<
    (
        &'p Regime,
        &'static str,
        Option<&'p crate::policy::TimelineEntry>,
    ),
    DetermineError,
> {
    let posture = input.posture.unwrap_or_default();
    let date = input.date;
    match &input.regime {
        Some(id) => {
            let r = policy
                .regime(id)
                .ok_or_else(|| DetermineError::UnknownRegime {
                    value: id.clone(),
                    known: policy
                        .regimes
                        .iter()
                        .map(|r| r.spec.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            Ok((r, "pinned", None))
        }
        None => {
            let (r, entry) =
                policy
                    .regime_on(date, posture)
                    .ok_or_else(|| DetermineError::NoRegime {
                        date,
                        posture,
                        earliest: policy.earliest_date(posture),
                    })?;
            Ok((r, "timeline", Some(entry)))
        }
    }
}

/// The regime whose rules answer `input`: the selected one, or the later one an is-informed
/// letter applies at once to the item.
pub(crate) fn answering_regime<'p>(
    policy: &'p Policy,
    input: &DeterminationInput,
) -> Result<&'p Regime, DetermineError> {
    Ok(Selection::of(policy, input)?.regime)
}

/// A country field looked up and resolved through its aliases (Hong Kong is China).
pub(crate) fn canonical_country(
    policy: &Policy,
    field: &'static str,
    value: &str,
) -> Result<CountryCode, DetermineError> {
    Ok(policy.countries.canonical(country(policy, field, value)?).0)
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

/// The regime that answers a transaction and how it was chosen.
struct Selection<'p> {
    /// The regime whose rules answer (the letter's, when one applies).
    regime: &'p Regime,
    /// The regime the input pinned or the timeline put in force.
    chosen: &'p Regime,
    /// `timeline`, `pinned` or `informed_letter` (see [`RegimeRef::selected_by`]).
    selected_by: &'static str,
    /// The timeline entry that put `chosen` in force (none when pinned).
    timeline_entry: Option<&'p crate::policy::TimelineEntry>,
    /// An is-informed letter of `chosen` that applies a later regime to the item.
    letter: Option<(&'p Regime, &'p crate::regime::Informed)>,
}

impl<'p> Selection<'p> {
    /// Decides the answering regime: the pinned or timeline regime, or the later one an
    /// is-informed letter of the timeline's regime applies at once to the item (23 Oct 2023).
    fn of(policy: &'p Policy, input: &DeterminationInput) -> Result<Self, DetermineError> {
        let (chosen, selected_by, timeline_entry) = select_regime(policy, input)?;
        let letter = match selected_by {
            "timeline" => letter_regime(policy, chosen, input, input.date),
            _ => None,
        };
        Ok(Selection {
            regime: letter.map_or(chosen, |(r, _)| r),
            chosen,
            selected_by: if letter.is_some() {
                "informed_letter"
            } else {
                selected_by
            },
            timeline_entry,
            letter,
        })
    }
}

/// Records how the regime was chosen: the timeline's unconfirmed dates, and the timeline, letter
/// or pin that put the regime in force.
fn note_selection(ev: &mut Eval<'_>, sel: &Selection<'_>, posture: Posture) {
    let (policy, date, spec) = (ev.policy, ev.date, &sel.regime.spec);
    let Some(entry) = sel.timeline_entry else {
        let in_force = policy
            .regime_on(date, posture)
            .map(|(r, _)| r.spec.id == spec.id)
            .unwrap_or(false);
        ev.trail.reason("regime.pinned", &spec.citation, || {
            format!(
                "regime `{}` pinned by the input{}",
                spec.id,
                if in_force {
                    ""
                } else {
                    "; it is not the regime in force on this date under this posture"
                }
            )
        });
        return;
    };
    for u in policy.timeline.unconfirmed_on(date, posture) {
        ev.trail.assume(Assumption {
            switch: Arc::from(u.switch.as_str()),
            value: format!("{}..{}", u.from, u.until),
            confidence: Arc::from("U"),
            detail: Arc::from(u.note.as_str()),
        });
    }
    let t = &sel.chosen.spec;
    ev.trail.reason("regime.timeline", &t.citation, || {
        format!(
            "{date} under posture {posture}: `{}` applies from {} ({})",
            t.id, entry.from, entry.note
        )
    });
    if let Some((r, inf)) = sel.letter {
        ev.trail.reason("informed.regime_applied", &inf.citation, || {
            format!(
                "is-informed letter `{}`: for this item the requirements of `{}` apply from {} ({})",
                inf.id,
                r.spec.id,
                inf.from.map(|d| d.to_string()).unwrap_or_default(),
                inf.note
            )
        });
    }
}

/// Reads and checks every party's country, and resolves the ones the rules read through their
/// aliases (Hong Kong is China), noting each alias used.
fn read_parties(ev: &mut Eval<'_>, input: &DeterminationInput) -> Result<Parties, DetermineError> {
    let policy = ev.policy;
    let dest_given = country(policy, "destination", &input.destination)?;
    let hq_given = country(policy, "consignee.hq", &input.consignee.hq)?;
    let parent_given = match &input.consignee.parent_hq {
        Some(p) => country(policy, "consignee.parent_hq", p)?,
        None => hq_given,
    };
    let ultimate_given = match &input.ultimate_destination {
        Some(u) => Some(country(policy, "ultimate_destination", u)?),
        None => None,
    };
    if let Some(e) = input.exporter.as_ref().and_then(|e| e.hq.as_deref()) {
        country(policy, "exporter.hq", e)?;
    }
    // The other parties are screened, not read by the rules; their countries are checked alike.
    for (field, party) in [
        ("end_user.country", &input.end_user),
        ("purchaser.country", &input.purchaser),
        ("ultimate_parent.country", &input.ultimate_parent),
    ] {
        if let Some(c) = party.as_ref().and_then(|p| p.country.as_deref()) {
            country(policy, field, c)?;
        }
    }
    Ok(Parties {
        dest: canon(ev, dest_given),
        hq: canon(ev, hq_given),
        parent: canon(ev, parent_given),
        ultimate: ultimate_given.map(|u| canon(ev, u)),
    })
}

/// A country resolved through its alias, if any, with the alias's reason.
fn canon(ev: &mut Eval<'_>, c: CountryCode) -> CountryCode {
    let (to, alias) = ev.policy.countries.canonical(c);
    if let Some(a) = alias {
        ev.trail.reason("country.alias", &a.citation, || {
            format!("{c} is treated as {to}")
        });
    }
    to
}

/// The destination's and consignee's tiers (none when the regime has no tiers).
#[derive(Clone, Copy)]
struct Tiers {
    /// The destination's tier.
    destination: Option<u8>,
    /// The worst of the consignee's location, headquarters and ultimate parent.
    consignee: Option<u8>,
}

/// Assigns the tiers: the consignee's is the worst of the destination's, its headquarters' and
/// its ultimate parent's.
fn assign_tiers(ev: &mut Eval<'_>, parties: &Parties) -> Tiers {
    let destination = ev.tier(parties.dest);
    let consignee = match destination {
        Some(dt) => {
            let h = ev.tier(parties.hq).unwrap_or(dt);
            let p = ev.tier(parties.parent).unwrap_or(dt);
            Some(dt.max(h).max(p))
        }
        None => None,
    };
    if let (Some(dt), Some(ct), Some(tiers)) = (destination, consignee, &ev.regime.spec.tiers) {
        ev.trail.reason(
            "tier.assign",
            &tiers.citation,
            || format!(
                "destination {} is Tier {dt}; consignee (HQ {}, ultimate parent HQ {}) is Tier {ct}",
                parties.dest, parties.hq, parties.parent
            ),
        );
    }
    Tiers {
        destination,
        consignee,
    }
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

/// An item summary of `kind` with every other field empty.
fn bare_item(kind: &'static str) -> ItemSummary {
    ItemSummary {
        kind,
        chip_id: None,
        name: None,
        tpp: None,
        pd: None,
        datacenter: None,
        paragraph: None,
        training_ops: None,
        note: None,
    }
}

/// The summary of a catalog chip, before classification.
fn chip_item(chip: &Chip) -> ItemSummary {
    ItemSummary {
        chip_id: Some(chip.id.clone()),
        name: Some(chip.name()),
        ..bare_item("chip")
    }
}

/// Answers the item by its form: model weights, high-bandwidth memory, or a chip.
fn answer_item(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
) -> Result<ItemAnswer, DetermineError> {
    let item = &input.item;
    let forms = [
        item.chip.is_some(),
        item.tpp.is_some(),
        item.model_weights.is_some(),
        item.hbm.is_some(),
    ];
    if forms.iter().filter(|&&f| f).count() > 1 {
        return Err(DetermineError::Item(
            "give exactly one of `chip`, `tpp`, `model_weights` or `hbm`".into(),
        ));
    }
    // Model weights take their own path.
    if let Some(w) = &item.model_weights {
        return weights_answer(ev, parties, tiers, input, w);
    }
    let quantity = read_quantity(input)?;
    // High-bandwidth memory (3A090.c) takes its own path too.
    if let Some(h) = &item.hbm {
        return hbm_answer(ev, parties, h, quantity);
    }
    chip_answer(ev, parties, tiers, input, quantity)
}

/// The quantity of units: required for chips and memory, a positive whole number.
fn read_quantity(input: &DeterminationInput) -> Result<u64, DetermineError> {
    match input.quantity {
        None => Err(DetermineError::Quantity(
            "required for chips (a whole number of units)".into(),
        )),
        Some(q) if q <= 0 => Err(DetermineError::Quantity(format!(
            "`{q}` is not a positive whole number of units; {}",
            crate::input_error::quantity_expectation()
        ))),
        Some(q) => Ok(q as u64),
    }
}

/// Model weights (4E091): the weights rules, with the item's EAR status for part 744/746.
fn weights_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
    w: &crate::input::ModelWeightsInput,
) -> Result<ItemAnswer, DetermineError> {
    let (out, ops, eccn) = weights_rules(ev, parties, input, w, tiers.destination)?;
    let status = match (eccn, w.published) {
        (Some(_), _) => ItemStatus::Ccl,
        (None, true) => ItemStatus::NotSubject,
        (None, false) => ItemStatus::Ear99,
    };
    Ok(ItemAnswer {
        out,
        status,
        eccn,
        item: ItemSummary {
            training_ops: ops.map(crate::num::decimal_to_f64),
            ..bare_item("model_weights")
        },
        quantity: 1,
        unit_tpp: 0,
        total_tpp: 0,
    })
}

/// High-bandwidth memory (3A090.c): the memory rules, with the item's EAR status.
fn hbm_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    h: &crate::classify::HbmItem,
    quantity: u64,
) -> Result<ItemAnswer, DetermineError> {
    let (out, eccn, paragraph) = hbm_rules(ev, parties, h)?;
    let status = if eccn.is_some() {
        ItemStatus::Ccl
    } else {
        ItemStatus::BelowCcl
    };
    Ok(ItemAnswer {
        out,
        status,
        eccn,
        item: ItemSummary {
            paragraph,
            ..bare_item("hbm")
        },
        quantity,
        unit_tpp: 0,
        total_tpp: 0,
    })
}

/// The catalog chip the input names, if any, noting how a family name was read.
fn catalog_chip<'p>(
    ev: &mut Eval<'p>,
    input: &DeterminationInput,
) -> Result<Option<&'p Chip>, DetermineError> {
    let Some(name) = &input.item.chip else {
        return Ok(None);
    };
    let policy: &'p Policy = ev.policy;
    let (chip, family) = policy
        .catalog
        .lookup_noted(name)
        .map_err(DetermineError::Chip)?;
    ev.item_note = family.map(|parts| family_note(name, chip, parts));
    Ok(Some(chip))
}

/// A chip: its metrics and class (3A090/4A090), then the chip rules and any is-informed letter.
/// "Is informed" letters name catalog items, or state performance criteria.
fn chip_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
    quantity: u64,
) -> Result<ItemAnswer, DetermineError> {
    let catalog_chip = catalog_chip(ev, input)?;
    if let Some(chip) = catalog_chip.filter(|c| c.metrics().is_none())
        && let Some(review) = informed_rule(ev, parties, input, Some(chip), None)
    {
        // No published throughput: the requirement still holds; TPP stays unknown.
        return Ok(ItemAnswer {
            out: license(review),
            status: ItemStatus::BelowCcl,
            eccn: None,
            item: chip_item(chip),
            quantity,
            unit_tpp: 0,
            total_tpp: 0,
        });
    }
    let (metrics, item_base) = chip_metrics(catalog_chip, input, ev)?;
    let informed = informed_rule(ev, parties, input, catalog_chip, Some(&metrics));
    let unit_tpp = metrics.tpp_whole();
    let total_tpp = unit_tpp.checked_mul(quantity).ok_or_else(|| {
        DetermineError::Quantity(format!("`{quantity}` units overflow the TPP total"))
    })?;
    let class = classify_chip(ev, &metrics, item_base.chip_id.as_deref())?;
    ev.trail.reasons.push(class.reason);
    if let Some(chip) = catalog_chip {
        note_die_area_estimate(ev, chip, &metrics);
    }
    let item = ItemSummary {
        paragraph: Some(class.paragraph),
        pd: metrics
            .pd
            .map(|p| crate::num::decimal_to_f64(p.round_dp(2))),
        tpp: Some(crate::num::decimal_to_f64(metrics.tpp)),
        datacenter: Some(class.datacenter),
        ..item_base
    };
    let answer = |out, status, eccn| ItemAnswer {
        out,
        status,
        eccn,
        item,
        quantity,
        unit_tpp,
        total_tpp,
    };
    let Some(eccn) = class.eccn else {
        let out = not_controlled_rule(ev, informed);
        return Ok(answer(out, ItemStatus::BelowCcl, None));
    };
    let case = ChipCase {
        p: parties,
        tiers,
        input,
        eccn,
        datacenter: class.datacenter,
        metrics: &metrics,
        total_tpp,
    };
    let mut out = chip_rules(ev, &case)?;
    if let Some(review) = informed
        && !(out.authorization == Authorization::License
            && out.review == Some(ReviewPolicy::Denial))
    {
        out = license(review);
    }
    Ok(answer(out, ItemStatus::Ccl, Some(eccn)))
}

/// Classifies the chip under the regime; a catalog chip without the interconnect figure the
/// regime needs says which field to give.
fn classify_chip(
    ev: &Eval<'_>,
    metrics: &Metrics,
    chip_id: Option<&str>,
) -> Result<Classification, DetermineError> {
    let spec = &ev.regime.spec;
    classify_with(metrics, &spec.classification, ev.trail.detail).map_err(|e| {
        match (&e, chip_id) {
            (IndeterminateError::Interconnect { min, .. }, Some(id)) => DetermineError::Item(
                format!(
                    "chip `{id}` has no `interconnect_gbs` in the catalog, and regime `{}` classifies on aggregate bidirectional I/O >= {min} GB/s; give the item as metrics with `interconnect_gbs`",
                    spec.id
                ),
            ),
            _ => DetermineError::Indeterminate(e),
        }
    })
}

/// Notes a class resting on a third-party die-area estimate (the performance-density test
/// decides only below the TPP threshold).
fn note_die_area_estimate(ev: &mut Eval<'_>, chip: &Chip, metrics: &Metrics) {
    let cl = &ev.regime.spec.classification;
    if chip.die_area_estimate
        && cl.a2_pd_min.is_some()
        && cl.a1_tpp_min.is_some_and(|a1| metrics.tpp < a1)
    {
        ev.trail.assume(Assumption {
            switch: Arc::from("catalog_die_area_estimate"),
            value: format!("{} die area from {}", chip.id, chip.die_area_source),
            confidence: Arc::from("U"),
            detail: Arc::from(
                "the vendor publishes no die area; the class rests on a third-party estimate (policy/chips-supplement.csv); give the item as metrics with `die_area_mm2` to override",
            ),
        });
    }
}

/// A chip outside 3A090/4A090: no advanced-computing license requirement, unless an is-informed
/// letter reaches it.
fn not_controlled_rule(ev: &mut Eval<'_>, informed: Option<ReviewPolicy>) -> Outcome {
    if let Some(review) = informed {
        return license(review);
    }
    let spec = &ev.regime.spec;
    ev.trail
        .reason("not_controlled", &spec.classification.citation, || {
            "not 3A090/4A090 under this regime: no advanced-computing license requirement".into()
        });
    outcome(Authorization::NotControlled)
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
        draws: crate::draws::draws(&crate::draws::Drawn {
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

/// How an is-informed letter reaches an item.
#[derive(Clone, Copy)]
enum LetterHit {
    /// The letter names the catalog chip.
    Named,
    /// The item meets the letter's performance criteria.
    Criteria,
}

/// The letter's criteria as (minimum, the item's value, what) triples.
fn letter_tests(
    cr: &crate::regime::InformedCriteria,
    m: &Metrics,
) -> [(
    Option<rust_decimal::Decimal>,
    Option<rust_decimal::Decimal>,
    &'static str,
); 3] {
    [
        (cr.tpp_min, Some(m.tpp), "TPP"),
        (
            cr.interconnect_gbs_min,
            m.interconnect_gbs,
            "interconnect GB/s",
        ),
        (
            cr.dram_bandwidth_gbs_min,
            m.dram_bandwidth_gbs,
            "DRAM bandwidth GB/s",
        ),
    ]
}

/// Whether an is-informed letter reaches the item: named by catalog id, or meeting the letter's
/// performance criteria (for its addressees' items). Allocates nothing: texts are built lazily.
fn informed_item(
    inf: &crate::regime::Informed,
    input: &DeterminationInput,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> Option<LetterHit> {
    if let Some(c) = chip
        && inf.chips.iter().any(|id| **id == *c.id)
    {
        return Some(LetterHit::Named);
    }
    let (cr, m) = (inf.criteria.as_ref()?, metrics?);
    let vendor_ok = cr.vendors.iter().any(|v| {
        chip.is_some_and(|c| c.vendor.eq_ignore_ascii_case(v))
            || input
                .exporter
                .as_ref()
                .and_then(|e| e.name.as_deref())
                .is_some_and(|n| n.split_whitespace().any(|w| w.eq_ignore_ascii_case(v)))
    });
    if !vendor_ok || (cr.datacenter_only && m.datacenter == Datacenter::No) {
        return None;
    }
    let (mut stated, mut met) = (0, 0);
    for (min, value, _) in letter_tests(cr, m) {
        let Some(min) = min else { continue };
        stated += 1;
        met += usize::from(value.is_some_and(|v| v >= min));
    }
    let hit = if cr.all { met == stated } else { met > 0 };
    (hit && stated > 0).then_some(LetterHit::Criteria)
}

/// What a letter hit says, for the reason text.
fn letter_hit_text(
    hit: LetterHit,
    inf: &crate::regime::Informed,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> String {
    match (hit, inf.criteria.as_ref(), metrics) {
        (LetterHit::Criteria, Some(cr), Some(m)) => {
            let met: Vec<String> = letter_tests(cr, m)
                .into_iter()
                .filter_map(|(min, value, what)| {
                    let min = min?;
                    value
                        .is_some_and(|v| v >= min)
                        .then(|| format!("{what} >= {}", min.normalize()))
                })
                .collect();
            format!("meets the letter's criteria ({})", met.join(", "))
        }
        _ => format!(
            "`{}` is named",
            chip.map(|c| c.id.to_string()).unwrap_or_default()
        ),
    }
}

/// The regime an is-informed letter of the timeline's regime applies to this item on `date`.
fn letter_regime<'p>(
    policy: &'p Policy,
    regime: &'p Regime,
    input: &DeterminationInput,
    date: NaiveDate,
) -> Option<(&'p Regime, &'p crate::regime::Informed)> {
    // Most regimes have no such letter: look the item up only when one does.
    regime
        .spec
        .informed
        .iter()
        .find(|i| i.apply_regime.is_some())?;
    let chip = input
        .item
        .chip
        .as_deref()
        .and_then(|c| policy.catalog.lookup(c).ok());
    let metrics = match chip {
        Some(c) => c.metrics(),
        None => input.item.tpp.map(|tpp| Metrics {
            tpp,
            pd: None,
            die_area_mm2: None,
            die_area_mm2_max: None,
            die_area_mm2_min: None,
            datacenter: input.item.datacenter_status(),
            interconnect_gbs: input.item.interconnect_gbs,
            dram_bandwidth_gbs: input.item.dram_bandwidth_gbs,
        }),
    };
    regime.spec.informed.iter().find_map(|inf| {
        let id = inf.apply_regime.as_deref()?;
        let dated = inf.from.is_none_or(|f| f <= date) && inf.until.is_none_or(|u| date < u);
        informed_item(inf, input, chip, metrics.as_ref())
            .filter(|_| dated)
            .and_then(|_| Some((policy.regime(id)?, inf)))
    })
}

/// Whether a place (or a party's headquarters) is among an is-informed letter's destinations.
fn informed_place(ev: &mut Eval<'_>, i: usize, code: CountryCode) -> bool {
    let regime: &Regime = ev.regime;
    regime.resolved.informed_countries[i].contains(&code)
        || ev
            .member_of_any(code, &regime.resolved.informed_groups[i])
            .is_some()
}

/// An is-informed letter reaching this item and these parties on this date: its review policy.
fn informed_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> Option<ReviewPolicy> {
    if is_domestic(ev, p) {
        return None;
    }
    let regime: &Regime = ev.regime;
    let spec = &regime.spec;
    for (i, inf) in spec.informed.iter().enumerate() {
        let dated = inf.from.is_none_or(|f| f <= ev.date) && inf.until.is_none_or(|u| ev.date < u);
        if !dated || inf.apply_regime.is_some() {
            continue;
        }
        let Some(hit) = informed_item(inf, input, chip, metrics) else {
            continue;
        };
        // The destination (or ultimate destination), else a headquarters the letter covers.
        let place = [Some(p.dest), p.ultimate]
            .into_iter()
            .flatten()
            .find(|&c| informed_place(ev, i, c))
            .map(|c| (c, false))
            .or_else(|| {
                [p.hq, p.parent]
                    .into_iter()
                    .find(|&c| inf.headquarters && informed_place(ev, i, c))
                    .map(|c| (c, true))
            });
        let Some((code, by_hq)) = place else { continue };
        let s = spec.switches.informed_license_review.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("informed_license_review", s)));
        let review = s.map(|s| s.value).unwrap_or(ReviewPolicy::CaseByCase);
        ev.trail.reason("informed.license_required", &inf.citation, || {
            format!(
                "is-informed letter `{}`: the item {}; {} {code}: license required whatever its 3A090 status ({})",
                inf.id,
                letter_hit_text(hit, inf, chip, metrics),
                if by_hq {
                    "consignee or its ultimate parent headquartered in"
                } else {
                    "destination"
                },
                inf.note
            )
        });
        return Some(review);
    }
    None
}

/// 3A090.c (HBM): classification, scope and review.
fn hbm_rules(
    ev: &mut Eval<'_>,
    p: &Parties,
    h: &crate::classify::HbmItem,
) -> Result<(Outcome, Option<Eccn>, Option<&'static str>), DetermineError> {
    let spec = &ev.regime.spec;
    if h.bandwidth_gbs.is_sign_negative() || h.area_mm2.is_sign_negative() || h.area_mm2.is_zero() {
        return Err(DetermineError::Item(format!(
            "field `hbm`: bandwidth must not be negative and the area must be positive, got {} GB/s over {} mm²",
            h.bandwidth_gbs, h.area_mm2
        )));
    }
    let Some(hbm) = &spec.hbm else {
        ev.trail.reason("hbm.not_in_regime", &spec.citation, || {
            format!(
                "`{}` has no ECCN 3A090.c: memory is not controlled by it",
                spec.id
            )
        });
        return Ok((outcome(Authorization::NotControlled), None, None));
    };
    let class = crate::classify::classify_hbm(h, hbm.density_gbs_per_mm2_above, &hbm.citation);
    let paragraph = Some(class.paragraph);
    ev.trail.reasons.push(class.reason);
    let Some(eccn) = class.eccn else {
        return Ok((outcome(Authorization::NotControlled), None, paragraph));
    };
    let regime = ev.regime;
    let groups = &regime.resolved.hbm_groups;
    if let Some(out) = domestic_rule(ev, p) {
        return Ok((out, Some(eccn), paragraph));
    }
    // 89 FR 96790: to those destinations, or to a party headquartered in, or whose ultimate
    // parent is headquartered in, one of them.
    let hit = [Some(p.dest), p.ultimate, Some(p.hq), Some(p.parent)]
        .into_iter()
        .flatten()
        .find_map(|c| ev.member_of_any(c, groups));
    let Some(g) = hit else {
        ev.trail.reason("scope.outside", &hbm.scope_citation, || {
            format!("no license requirement for 3A090.c to {}", p.dest)
        });
        return Ok((outcome(Authorization::Nlr), Some(eccn), paragraph));
    };
    let gid = ev.group_id(g);
    ev.trail
        .reason("hbm.license_required", &hbm.scope_citation, || {
            format!("3A090.c to a destination in {gid}, or to a party headquartered (or with an ultimate parent) there: license required")
        });
    ev.trail.reason(
        "hbm.exception_not_modelled",
        &hbm.exception_citation,
        || "License Exception HBM may apply; its conditions are not modelled".into(),
    );
    let s = spec.switches.hbm_license_review.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("hbm_license_review", s)));
    Ok((
        license(s.map(|s| s.value).unwrap_or(spec.review.tier3)),
        Some(eccn),
        paragraph,
    ))
}

fn chip_metrics(
    catalog_chip: Option<&Chip>,
    input: &DeterminationInput,
    ev: &mut Eval<'_>,
) -> Result<(Metrics, ItemSummary), DetermineError> {
    let item = &input.item;
    match (catalog_chip, item.tpp) {
        (Some(chip), None) => {
            if item.pd.is_some()
                || item.die_area_mm2.is_some()
                || item.datacenter.is_some()
                || item.interconnect_gbs.is_some()
                || item.dram_bandwidth_gbs.is_some()
            {
                return Err(DetermineError::Item(
                    "a catalog `chip` takes no `pd`, `die_area_mm2`, `datacenter`, `interconnect_gbs` or `dram_bandwidth_gbs`; give metrics instead of `chip` to override".into(),
                ));
            }
            let metrics = chip.metrics().ok_or_else(|| {
                DetermineError::Item(format!(
                    "chip `{}` has no published dense throughput; give the item as {{\"tpp\": …, \"pd\": …, \"datacenter\": …}}",
                    chip.id
                ))
            })?;
            if chip.datacenter == Datacenter::Contested {
                ev.trail.assume(Assumption {
                    switch: Arc::from("chip_datacenter_contested"),
                    value: format!("{} treated as designed for datacenters", chip.id),
                    confidence: Arc::from("U"),
                    detail: Arc::from(
                        "Whether this workstation card is designed or marketed for datacenters is contested (shared/spec/chips.md); the stricter reading is used.",
                    ),
                });
            }
            Ok((metrics, chip_item(chip)))
        }
        (None, Some(tpp)) => {
            if tpp.is_sign_negative() || tpp.is_zero() {
                return Err(DetermineError::Item(format!(
                    "field `tpp` must be positive, got `{tpp}`"
                )));
            }
            for (field, v) in [
                ("pd", item.pd),
                ("interconnect_gbs", item.interconnect_gbs),
                ("dram_bandwidth_gbs", item.dram_bandwidth_gbs),
            ] {
                if let Some(v) = v.filter(|v| v.is_sign_negative()) {
                    return Err(DetermineError::Item(format!(
                        "field `{field}` must not be negative, got `{v}`"
                    )));
                }
            }
            if item.datacenter.is_none() {
                ev.trail.assume(Assumption {
                    switch: Arc::from("item_datacenter_default"),
                    value: "true".into(),
                    confidence: Arc::from("input"),
                    detail: Arc::from(
                        "`item.datacenter` not given: treated as designed or marketed for datacenters (the stricter reading).",
                    ),
                });
            }
            let pd = match item.pd {
                Some(pd) => Some(pd),
                None => crate::classify::pd_of(tpp, item.die_area_mm2)
                    .map_err(|e| DetermineError::Item(format!("field `die_area_mm2`: {e}")))?,
            };
            let metrics = Metrics {
                tpp,
                pd,
                die_area_mm2: item.die_area_mm2,
                die_area_mm2_max: None,
                die_area_mm2_min: None,
                datacenter: item.datacenter_status(),
                interconnect_gbs: item.interconnect_gbs,
                dram_bandwidth_gbs: item.dram_bandwidth_gbs,
            };
            Ok((metrics, bare_item("metrics")))
        }
        (Some(_), Some(_)) => Err(DetermineError::Item(
            "give exactly one of `chip`, `tpp`, `model_weights` or `hbm`".into(),
        )),
        (None, None) => Err(DetermineError::Item(
            "missing the item: give `chip`, `tpp` (with `pd`), `model_weights` or `hbm`".into(),
        )),
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

/// The lists placing the parties under a presumption of denial (Tier 3 / D:5 / Macau).
struct Embargoes {
    /// The consignee's or its ultimate parent's headquarters (§744.23(a)(3)).
    hq_taint: Option<Arc<str>>,
    /// The destination.
    dest: Option<Arc<str>>,
    /// The ultimate destination.
    ultimate: Option<Arc<str>>,
}

impl Embargoes {
    /// Looks up the headquarters taint (§744.23(a)(3)) and the embargoed destinations.
    fn of(ev: &mut Eval<'_>, p: &Parties) -> Embargoes {
        let hq_taint = ev.embargoed(p.hq).or_else(|| ev.embargoed(p.parent));
        let dest = ev.embargoed(p.dest);
        let ultimate = match p.ultimate {
            Some(u) => ev.embargoed(u),
            None => None,
        };
        Embargoes {
            hq_taint,
            dest,
            ultimate,
        }
    }

    /// Why the transaction is under the presumption of denial, if it is.
    fn why(&self, p: &Parties) -> Option<String> {
        self.dest
            .as_ref()
            .map(|g| format!("destination {} is in {g}", p.dest))
            .or_else(|| {
                self.ultimate
                    .as_ref()
                    .map(|g| format!("ultimate destination is in {g}"))
            })
            .or_else(|| {
                self.hq_taint
                    .as_ref()
                    .map(|g| format!("consignee or its ultimate parent is headquartered in {g}"))
            })
    }
}

/// 3A090/4A090 chips: the license requirement, then the exceptions, VEUs and review policy.
fn chip_rules(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Result<Outcome, DetermineError> {
    if let Some(out) = domestic_rule(ev, c.p) {
        return Ok(out);
    }
    let embargoes = Embargoes::of(ev, c.p);
    if let Some(out) = scope_rule(ev, c, &embargoes) {
        return Ok(out);
    }
    if let Some(why) = embargoes.why(c.p) {
        return embargo_rule(ev, c, &embargoes, why);
    }
    if !c.datacenter_a() {
        return Ok(non_datacenter_rule(ev, c));
    }
    datacenter_rule(ev, c, embargoes.hq_taint.is_some())
}

/// Whether a license is required at all: the regime's scope by item, country or headquarters.
/// Outside it, no license requirement (the answer); inside, the reason is recorded.
fn scope_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>, embargoes: &Embargoes) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let (p, eccn) = (c.p, c.eccn);
    let scope_reason = if spec.scope.a_datacenter_worldwide && eccn.is_a_type() {
        Some((
            &spec.scope.a_citation,
            format!("{eccn} requires a license to every destination"),
        ))
    } else if let Some(r) = ev.in_country_scope(p.dest) {
        Some((&spec.scope.citation, r))
    } else if let Some(r) = p.ultimate.and_then(|u| ev.in_country_scope(u)) {
        Some((&spec.scope.citation, format!("ultimate destination: {r}")))
    } else {
        embargoes.hq_taint.as_ref().map(|g| {
            (
                &spec.scope.hq_taint_citation,
                format!("consignee or its ultimate parent is headquartered in {g}"),
            )
        })
    };
    let Some((cite, why)) = scope_reason else {
        ev.trail.reason("scope.outside", &spec.scope.citation, || {
            format!(
                "no license requirement for {eccn} to {} for this consignee under `{}`",
                p.dest, spec.id
            )
        });
        return Some(outcome(Authorization::Nlr));
    };
    ev.trail.reason("scope.license_requirement", cite, || why);
    None
}

/// Tier 3 / D:5 / Macau: presumption of denial; only ACA (transfers) and NAC survive, for items
/// they cover, and the January 2026 review for exports from the United States.
fn embargo_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    embargoes: &Embargoes,
    why: String,
) -> Result<Outcome, DetermineError> {
    let spec = &ev.regime.spec;
    let eccn = c.eccn;
    if !c.datacenter_a()
        && c.input.transaction == Some(Transaction::Transfer)
        && let Some(cite) = spec
            .aca
            .as_ref()
            .and_then(|a| a.transfers_within_citation.as_ref())
    {
        ev.trail.reason("aca.eligible_transfer", cite, || {
            format!("{why}; {eccn} not designed for datacenters or .b, transferred within the country: License Exception ACA, no notice")
        });
        return Ok(outcome(Authorization::Aca));
    }
    if !c.datacenter_a()
        && let Some(nac) = &spec.nac
    {
        ev.trail.reason(
            "nac.eligible",
            &nac.citation,
            || format!("{why}; {eccn} not designed for datacenters or .b: License Exception NAC after notice"),
        );
        ev.trail.oblige(
            "nac.notify",
            &nac.citation,
            || format!(
                "notify BIS (SNAP-R) at least {} days before shipment, with TPP, PD and datasheet; ship only on confirmation",
                nac.notice_days
            ),
        );
        return Ok(outcome(Authorization::Nac));
    }
    let by_destination = embargoes.dest.is_some() || embargoes.ultimate.is_some();
    if let Some(out) = us_export_review(ev, c.p, c.input, c.metrics, by_destination)? {
        return Ok(out);
    }
    ev.trail
        .reason("tier3.denial", &spec.review.tier3_citation, || {
            format!("{why}: license required, presumption of denial, no exception")
        });
    let review = ev.review(spec.review.tier3);
    Ok(license(review))
}

/// Items NAC/ACA cover (non-datacenter .a, and .b) outside Tier 3: AIA, ACA or NAC without
/// notice, else a license under the default review.
fn non_datacenter_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Outcome {
    let spec = &ev.regime.spec;
    let eccn = c.eccn;
    if eccn.is_a_type()
        && let Some(aia) = aia_chip_eligible(ev, c.p, c.tiers.destination, c.tiers.consignee)
    {
        ev.trail.reason("aia.eligible", &aia, || {
            "Tier 1 destination and Tier 1 headquarters: License Exception AIA".into()
        });
        return outcome(Authorization::Aia);
    }
    if let Some(aca) = &spec.aca {
        let tier_note = if aca.tier2 && c.tiers.destination == Some(2) {
            "Tier 2 destination"
        } else {
            "destination in the country scope"
        };
        ev.trail.reason(
            "aca.eligible",
            &aca.citation,
            || format!("{eccn} not designed for datacenters or .b, {tier_note}: License Exception ACA, no notice"),
        );
        return outcome(Authorization::Aca);
    }
    if let Some(cite) = spec
        .nac
        .as_ref()
        .and_then(|n| n.without_notice_citation.as_ref())
    {
        ev.trail.reason("nac.eligible_no_notice", cite, || {
            format!("{eccn} not designed for datacenters or .b, destination outside Macau/D:5: License Exception NAC without notice")
        });
        return outcome(Authorization::Nac);
    }
    ev.trail.reason(
        "license.review_default",
        &spec.review.default_citation,
        || "no exception covers the item here".into(),
    );
    let review = ev.review(spec.review.default);
    license(review)
}

/// Datacenter .a items outside Tier 3: AIA, ACM, a VEU, LPP, else a license by tier and
/// allocation.
fn datacenter_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    hq_taint: bool,
) -> Result<Outcome, DetermineError> {
    let spec = &ev.regime.spec;
    let ctx = &c.input.context;
    if let Some(aia) = aia_chip_eligible(ev, c.p, c.tiers.destination, c.tiers.consignee) {
        ev.trail.reason(
            "aia.eligible",
            &aia,
            || format!(
                "destination {} is Tier 1 and the consignee and its ultimate parent are headquartered in Tier 1: License Exception AIA",
                c.p.dest
            ),
        );
        aia_obligations(ev, c.total_tpp, ctx.consignee_aia_cumulative_tpp);
        return Ok(outcome(Authorization::Aia));
    }
    if let Some(out) = acm_rule(ev, c.input) {
        return Ok(out);
    }
    if let Some(out) = veu_rule(ev, c) {
        return Ok(out);
    }
    if let (Some(dc), None, Some(v)) = (&spec.dc_veu, &spec.veu, &c.input.consignee.veu) {
        ev.trail.reason(
            "dc_veu.not_evaluated",
            &dc.citation,
            || format!(
                "consignee claims VEU `{}`: {}; aidf does not evaluate these authorizations, so the license requirement is reported as if there were none",
                v.id, dc.note
            ),
        );
    }
    if let Some(lpp) = &spec.lpp
        && let Some(out) = lpp_rule(ev, c, lpp, hq_taint)
    {
        return Ok(out);
    }
    Ok(license_review_rule(ev, c))
}

/// License Exception ACM: its end uses by a private-sector end user.
fn acm_rule(ev: &mut Eval<'_>, input: &DeterminationInput) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let acm = spec.acm.as_ref()?;
    let end_use = input.end_use.unwrap_or_default();
    if !end_use.is_acm_end_use() {
        return None;
    }
    if input.consignee.government {
        ev.trail
            .reason("acm.unavailable_government", &acm.citation, || {
                "ACM is for private-sector end users; the consignee is a government end user".into()
            });
        return None;
    }
    ev.trail.reason(
        "acm.eligible",
        &acm.citation,
        || format!(
            "{end_use:?} by a private-sector end user for items bound outside Macau/D:5: License Exception ACM"
        )
        .to_lowercase(),
    );
    ev.trail.oblige("acm.records", &acm.citation, || {
        "keep per-facility distribution records, updated at least every six months".into()
    });
    let s = spec.switches.acm_counts_against_allocation.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("acm_counts_against_allocation", s)));
    let mut out = outcome(Authorization::Acm);
    if s.is_some_and(|s| s.value) {
        out.counts.push(Counter::CountryAllocation);
    }
    Some(out)
}

/// The consignee's validated-end-user authorization, where the regime has VEUs.
fn veu_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Option<Outcome> {
    let regime: &Regime = ev.regime;
    let (veu, v) = (regime.spec.veu.as_ref()?, c.input.consignee.veu.as_ref()?);
    match v.kind {
        VeuKind::Uveu => uveu_rule(ev, c.p, veu, v),
        VeuKind::Nveu => nveu_rule(ev, c, veu, v),
    }
}

/// UVEU: §748.15(b)(2)(i): headquartered in, or ultimate parent headquartered in, Tier 1.
fn uveu_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    veu: &crate::regime::Veu,
    v: &crate::input::VeuRef,
) -> Option<Outcome> {
    let t1 = ev.tier(p.hq) == Some(1) || ev.tier(p.parent) == Some(1);
    if t1 {
        ev.trail.reason(
            "uveu.authorized",
            &veu.uveu_citation,
            || format!(
                "consignee holds UVEU `{}` (headquarters or ultimate parent in Tier 1): shipment under its authorization; does not draw the country allocation",
                v.id
            ),
        );
        return Some(outcome(Authorization::Uveu));
    }
    ev.trail
        .reason("uveu.hq_not_tier1", &veu.uveu_citation, || {
            format!(
                "UVEU `{}` requires headquarters or ultimate parent in Tier 1; HQ {} / parent {} are not",
                v.id, p.hq, p.parent
            )
        });
    None
}

/// NVEU: the shipment fits the destination's installed-base schedule on the date.
fn nveu_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    veu: &crate::regime::Veu,
    v: &crate::input::VeuRef,
) -> Option<Outcome> {
    let regime: &Regime = ev.regime;
    let s = regime.spec.switches.nveu_schedule_reading.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("nveu_schedule_reading", s)));
    let Some(limit) = regime.nveu_limit_tpp(ev.date) else {
        ev.trail.reason("nveu.no_schedule", &veu.nveu_citation, || {
            format!("the NVEU schedule does not cover {}", ev.date)
        });
        return None;
    };
    let (installed, total_tpp, date) = (c.input.context.nveu_installed_tpp, c.total_tpp, ev.date);
    let after = installed.saturating_add(total_tpp);
    if after <= limit {
        ev.trail
            .reason("nveu.within_schedule", &veu.nveu_citation, || {
                format!(
                    "NVEU `{}`: installed base {} + {} = {} <= {} TPP permitted in {} on {date}",
                    v.id,
                    thousands(installed.into()),
                    thousands(total_tpp.into()),
                    thousands(after.into()),
                    thousands(limit.into()),
                    c.p.dest,
                )
            });
        let mut out = outcome(Authorization::Nveu);
        out.counts.push(Counter::NveuAllocation);
        return Some(out);
    }
    ev.trail
        .reason("nveu.exceeds_schedule", &veu.nveu_citation, || {
            format!(
                "NVEU `{}`: installed base {} + {} = {} exceeds the {} TPP permitted on {date}",
                v.id,
                thousands(installed.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(limit.into()),
            )
        });
    None
}

/// A license: its review policy by destination tier and, in Tier 2, the country allocation.
fn license_review_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Outcome {
    let spec = &ev.regime.spec;
    let p = c.p;
    match c.tiers.destination {
        Some(1) => {
            let s = spec.switches.tier1_license_review.as_ref();
            ev.switch_assume(s.and_then(|s| Regime::assumption("tier1_license_review", s)));
            let review = s.map(|s| s.value).unwrap_or(spec.review.default);
            ev.trail.reason(
                "license.tier1",
                &spec.review.default_citation,
                || format!(
                    "Tier 1 destination but AIA is unavailable (headquarters {} / parent {}): license required",
                    p.hq, p.parent
                ),
            );
            license(review)
        }
        Some(_) => match &spec.allocation {
            Some(a) => allocation_rule(ev, p, a, c.total_tpp, &c.input.context),
            None => {
                ev.trail.reason(
                    "license.review_default",
                    &spec.review.default_citation,
                    || "license required".into(),
                );
                let review = ev.review(spec.review.default);
                license(review)
            }
        },
        None => untiered_review_rule(ev, p),
    }
}

/// A license where the regime has no tiers: denial for the denial groups, else the default.
fn untiered_review_rule(ev: &mut Eval<'_>, p: &Parties) -> Outcome {
    let regime: &Regime = ev.regime;
    let spec = &regime.spec;
    if let Some(g) = ev.member_of_any(p.dest, &regime.resolved.denial_groups) {
        let gid = ev.group_id(g);
        ev.trail
            .reason("license.review_denial", &spec.review.tier3_citation, || {
                format!("destination {} is in {gid}: presumption of denial", p.dest)
            });
        let review = ev.review(spec.review.tier3);
        return license(review);
    }
    let review = ev.review(spec.review.default);
    ev.trail.reason(
        "license.review_default",
        &spec.review.default_citation,
        || format!(
            "license required; review policy {review} for {} (not Macau/D:5, no Macau/D:5 headquarters)",
            p.dest
        ),
    );
    license(review)
}

/// The January 2026 rule: exports *from the United States* to the named destinations of items
/// below its parameters get its review policy (case-by-case) with its conditions as obligations;
/// other transactions, and items at or above the parameters, keep the presumption of denial.
fn us_export_review(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    metrics: &Metrics,
    by_destination: bool,
) -> Result<Option<Outcome>, DetermineError> {
    let spec = &ev.regime.spec;
    let Some(u) = &spec.us_export_review else {
        return Ok(None);
    };
    let covered = &ev.regime.resolved.us_export_countries;
    let dest = [Some(p.dest), p.ultimate]
        .into_iter()
        .flatten()
        .find(|c| covered.contains(c));
    let (Some(dest), true) = (dest, by_destination) else {
        return Ok(None);
    };
    let tx = input.transaction.unwrap_or_default();
    let tx_name = serde_json::to_value(tx)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    if !u.transactions.contains(&tx) {
        ev.trail.reason(
            "us_export_review.transaction_not_covered",
            &u.citation,
            || format!(
                "the {} review policy for {dest} covers exports from the United States only; a `{tx_name}` keeps the presumption of denial",
                u.review
            ),
        );
        return Ok(None);
    }
    let fmt = |d: rust_decimal::Decimal| d.normalize().to_string();
    if metrics.tpp >= u.tpp_below {
        ev.trail
            .reason("us_export_review.above_parameters", &u.citation, || {
                format!(
                    "TPP {} is not below {}: the {} review policy does not apply",
                    fmt(metrics.tpp),
                    fmt(u.tpp_below),
                    u.review
                )
            });
        return Ok(None);
    }
    let Some(bw) = metrics.dram_bandwidth_gbs else {
        return Err(DetermineError::Item(format!(
            "regime `{}` tests total DRAM bandwidth < {} GB/s for exports to {dest}, and the item has none: {}",
            spec.id,
            fmt(u.dram_bandwidth_gbs_below),
            match &input.item.chip {
                Some(c) => format!(
                    "chip `{c}` has no `memory_bandwidth_tbs` in the catalog; give the item as metrics with `dram_bandwidth_gbs`"
                ),
                None => "give `dram_bandwidth_gbs`".into(),
            }
        )));
    };
    if bw >= u.dram_bandwidth_gbs_below {
        ev.trail.reason(
            "us_export_review.above_parameters",
            &u.citation,
            || format!(
                "total DRAM bandwidth {} GB/s is not below {} GB/s: the {} review policy does not apply",
                fmt(bw),
                fmt(u.dram_bandwidth_gbs_below),
                u.review
            ),
        );
        return Ok(None);
    }
    ev.trail.reason(
        "us_export_review.applies",
        &u.citation,
        || format!(
            "export from the United States to {dest} of an item with TPP {} < {} and DRAM bandwidth {} GB/s < {} GB/s: license, {} review (was presumption of denial)",
            fmt(metrics.tpp),
            fmt(u.tpp_below),
            fmt(bw),
            fmt(u.dram_bandwidth_gbs_below),
            u.review
        ),
    );
    let cite = u.citation.clone();
    for c in &u.conditions {
        ev.trail
            .oblige_owned(Arc::from(c.id.as_str()), &cite, || c.detail.clone());
    }
    Ok(Some(license(u.review)))
}

/// AIA for chips: Tier 1 destination, Tier 1 headquarters and ultimate parent, approved designer.
fn aia_chip_eligible(
    ev: &mut Eval<'_>,
    p: &Parties,
    destination_tier: Option<u8>,
    consignee_tier: Option<u8>,
) -> Option<Arc<str>> {
    let aia = ev.regime.spec.aia.as_ref()?;
    if destination_tier != Some(1) {
        return None;
    }
    if consignee_tier != Some(1) {
        ev.trail.reason("aia.unavailable_hq", &aia.citation, || {
            format!(
                "AIA unavailable: consignee HQ {} / ultimate parent HQ {} not both in Tier 1",
                p.hq, p.parent
            )
        });
        return None;
    }
    let s = ev.regime.spec.switches.designers_assumed_approved.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("designers_assumed_approved", s)));
    if !s.is_some_and(|s| s.value) {
        ev.trail
            .reason("aia.designer_not_approved", &aia.citation, || {
                "AIA needs an approved or authorized IC designer; not assumed".into()
            });
        return None;
    }
    Some(aia.citation.clone())
}

fn aia_obligations(ev: &mut Eval<'_>, total_tpp: u64, cumulative_tpp: u64) {
    let spec = &ev.regime.spec;
    let Some(aia) = &spec.aia else { return };
    let cite = aia.citation.clone();
    ev.trail.oblige(
        "aia.notice",
        &cite,
        || "give the consignee the ECCN and written notice that the shipment is under AIA; obtain the one-time ultimate-consignee certification".into(),
    );
    if let Some(s) = &spec.switches.aia_reporting_trigger_tpp {
        let after = cumulative_tpp.saturating_add(total_tpp);
        let a = Regime::assumption("aia_reporting_trigger_tpp", s);
        let reporting = aia.reporting_citation.clone();
        if after >= s.value {
            ev.switch_assume(a);
            ev.trail.oblige(
                "aia.report",
                &reporting,
                || format!(
                    "consignee's cumulative AIA TPP {} reaches {}: submit the certification to BIS (EARReports) before shipment",
                    thousands(after.into()),
                    thousands(s.value.into())
                ),
            );
        } else {
            ev.trail.reason("aia.no_report", &reporting, || {
                format!(
                    "cumulative AIA TPP {} is below the {} reporting trigger",
                    thousands(after.into()),
                    thousands(s.value.into())
                )
            });
        }
    }
}

/// License Exception LPP: the consignee's calendar-year limit, unless the transaction, a
/// headquarters taint or a D:1-D:4 destination puts it out of reach.
fn lpp_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    lpp: &crate::regime::Lpp,
    hq_taint: bool,
) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let (p, total_tpp) = (c.p, c.total_tpp);
    let ytd_tpp = c.input.context.consignee_ytd_tpp;
    let tx = c.input.transaction.unwrap_or_default();
    if tx == Transaction::Transfer {
        let s = spec.switches.lpp_in_country_transfers.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_in_country_transfers", s)));
        if !s.is_some_and(|s| s.value) {
            ev.trail.reason("lpp.unavailable_transfer", &lpp.citation, || {
                "LPP authorizes export and reexport; an in-country transfer is read as outside it".into()
            });
            return None;
        }
    }
    if hq_taint {
        let s = spec.switches.lpp_excludes_d5_hq.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_excludes_d5_hq", s)));
        if s.is_some_and(|s| s.value) {
            ev.trail.reason("lpp.unavailable_hq", &lpp.citation, || {
                "LPP unavailable to parties headquartered in Macau/D:5".into()
            });
            return None;
        }
    }
    let d1d4 = ev.regime.resolved.d1_d4.clone();
    if let Some(g) = ev.member_of_any(p.dest, &d1d4) {
        let s = spec.switches.lpp_in_d1_d4.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_in_d1_d4", s)));
        if !s.is_some_and(|s| s.value) {
            let gid = ev.group_id(g);
            ev.trail.reason("lpp.unavailable_d1_d4", &lpp.citation, || {
                format!(
                    "LPP read as unavailable in {gid} destinations ({} is one)",
                    p.dest
                )
            });
            return None;
        }
    }
    let cap = lpp.tpp_per_consignee_year;
    let after = ytd_tpp.saturating_add(total_tpp);
    let year = ev.date.year();
    if after <= cap {
        ev.trail.reason(
            "lpp.within_limit",
            &lpp.citation,
            || format!(
                "consignee's {year} LPP total {} + {} = {} <= {} TPP: License Exception LPP; does not draw the country allocation",
                thousands(ytd_tpp.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(cap.into())
            ),
        );
        ev.trail.oblige(
            "lpp.certify",
            &lpp.citation,
            || "obtain the consignee's certification of its calendar-year LPP total; the consignee notifies BIS on reaching the limit".into(),
        );
        let mut out = outcome(Authorization::Lpp);
        out.counts.push(Counter::LppAnnual);
        return Some(out);
    }
    ev.trail.reason("lpp.exceeds_limit", &lpp.citation, || {
        format!(
            "consignee's {year} LPP total {} + {} = {} would exceed {} TPP: LPP unavailable",
            thousands(ytd_tpp.into()),
            thousands(total_tpp.into()),
            thousands(after.into()),
            thousands(cap.into())
        )
    });
    None
}

fn allocation_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    a: &crate::regime::Allocation,
    total_tpp: u64,
    ctx: &crate::input::Context,
) -> Outcome {
    let spec = &ev.regime.spec;
    let ce = spec.switches.allocation_consumption_event.as_ref();
    ev.switch_assume(ce.and_then(|s| Regime::assumption("allocation_consumption_event", s)));
    if ev.date < a.window_start || ev.date > a.window_end {
        ev.trail.reason(
            "allocation.outside_window",
            &a.citation,
            || format!(
                "{} is outside the allocation window {}..{}; the rule states no review policy for it",
                ev.date, a.window_start, a.window_end
            ),
        );
        return license(ReviewPolicy::CaseByCase);
    }
    let base_cap = a.cap_for(p.dest.as_str());
    let (cap, g2g) = if ctx.gov_to_gov_agreement {
        (
            base_cap.saturating_mul(a.g2g_multiplier),
            " (doubled under a government-to-government arrangement)",
        )
    } else {
        (base_cap, "")
    };
    let after = ctx.country_allocation_used_tpp.saturating_add(total_tpp);
    if after <= cap {
        ev.trail.reason("allocation.within", &a.citation, || {
            format!(
                "{} allocation: {} used + {} = {} <= {} TPP{g2g}: license, presumption of approval",
                p.dest,
                thousands(ctx.country_allocation_used_tpp.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(cap.into())
            )
        });
        let mut out = license(spec.review.default);
        out.counts.push(Counter::CountryAllocation);
        return out;
    }
    let s = spec.switches.allocation_exhausted_review.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("allocation_exhausted_review", s)));
    ev.trail.reason(
        "allocation.exhausted",
        &a.citation,
        || format!(
            "{} allocation: {} used + {} = {} would exceed {} TPP{g2g}: license, presumption of denial",
            p.dest,
            thousands(ctx.country_allocation_used_tpp.into()),
            thousands(total_tpp.into()),
            thousands(after.into()),
            thousands(cap.into())
        ),
    );
    // A license granted beyond the allocation would still draw it: the draw stays, so the ledger
    // refuses it unless the allocation has room by then.
    let mut out = license(s.map(|s| s.value).unwrap_or(ReviewPolicy::Denial));
    out.counts.push(Counter::CountryAllocation);
    out
}

fn weights_rules(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    w: &crate::input::ModelWeightsInput,
    destination_tier: Option<u8>,
) -> Result<(Outcome, Option<rust_decimal::Decimal>, Option<Eccn>), DetermineError> {
    let spec = &ev.regime.spec;
    let Some(mw) = &spec.model_weights else {
        ev.trail
            .reason("weights.not_in_regime", &spec.citation, || {
                format!(
                    "`{}` has no ECCN 4E091: model weights are not controlled by it",
                    spec.id
                )
            });
        return Ok((outcome(Authorization::NotControlled), None, None));
    };
    let class =
        classify_weights(w, mw, &spec.switches, &mut ev.trail).map_err(DetermineError::Weights)?;
    if !class.controlled {
        return Ok((
            outcome(Authorization::NotControlled),
            Some(class.counted_ops),
            None,
        ));
    }
    let ops = Some(class.counted_ops);
    let eccn = Some(Eccn::E4091);
    if let Some(out) = domestic_rule(ev, p) {
        return Ok((out, ops, eccn));
    }
    ev.trail
        .reason("scope.license_requirement", &mw.citation, || {
            "4E091 requires a license to every destination".into()
        });
    let embargoed = ev
        .embargoed(p.dest)
        .or_else(|| ev.embargoed(p.hq))
        .or_else(|| ev.embargoed(p.parent));
    if let Some(gid) = embargoed {
        ev.trail
            .reason("tier3.denial", &spec.review.tier3_citation, || {
                format!("destination or headquarters in {gid}: presumption of denial, no exception")
            });
        return Ok((license(spec.review.tier3), ops, eccn));
    }
    if let Some(aia) = &spec.aia {
        // §740.27(a)(3): headquartered in, or whose ultimate parent is headquartered in, Tier 1.
        let hq_t1 = ev.tier(p.hq) == Some(1) || ev.tier(p.parent) == Some(1);
        if hq_t1 {
            let s = spec.switches.weights_storage_required_for_aia.as_ref();
            let needs_storage = s.is_none_or(|s| s.value);
            let stored = input.context.weights_storage_compliant == Some(true);
            if !needs_storage || stored {
                ev.trail.reason(
                    "aia.weights",
                    &aia.weights_citation,
                    || format!(
                        "recipient headquartered in Tier 1 (HQ {} / parent {}), located outside Macau/D:5{}: License Exception AIA",
                        p.hq,
                        p.parent,
                        if stored { ", storage meets Supp. No. 10 paras. 14, 15, 18" } else { "" }
                    ),
                );
                return Ok((outcome(Authorization::Aia), ops, eccn));
            }
            ev.trail.reason(
                "aia.weights_storage_not_asserted",
                &aia.weights_citation,
                || "AIA for weights needs storage meeting Supp. No. 10 paras. 14, 15 and 18; set context.weights_storage_compliant to assert it".into(),
            );
        } else {
            ev.trail
                .reason("aia.unavailable_hq", &aia.weights_citation, || {
                    format!(
                        "AIA for weights needs headquarters or ultimate parent in Tier 1; HQ {} / parent {}",
                        p.hq, p.parent
                    )
                });
        }
    }
    let review = if destination_tier == Some(1) {
        mw.review_tier1
    } else {
        mw.review_other
    };
    ev.trail.reason("weights.review", &mw.citation, || {
        format!(
            "license required; presumption of {} for a Tier {} destination",
            review,
            destination_tier
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into())
        )
    });
    Ok((license(review), ops, eccn))
}

/// Part 746 and the Entity List: license requirements of their own, whatever the
/// advanced-computing rules answer. Where either applies, no license exception may be used
/// (15 CFR 740.2(a), 740.8(b), 744.11(a)): an exception the rules found is withdrawn, and a license
/// the rules required keeps the stricter review policy.
fn with_independent(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
    eccn: Option<Eccn>,
    out: Outcome,
) -> Outcome {
    if is_domestic(ev, p) {
        return out;
    }
    let found = [
        embargo_requirement(ev, p, input, status),
        entity_list_requirement(ev, input, status, eccn),
        end_use_requirement(ev, p, input, status),
        meu_requirement(ev, input, status),
    ];
    let Some(review) = found.into_iter().flatten().reduce(stricter) else {
        return out;
    };
    let cite = ev.policy.restrictions.exceptions_barred_citation.clone();
    if out.authorization == Authorization::License {
        let review = out.review.map_or(review, |r| stricter(r, review));
        return Outcome {
            review: Some(review),
            ..out
        };
    }
    let had = out.authorization;
    // The withdrawn exception's own findings are not part of the answer.
    let family = format!("{}.", had.as_str().to_ascii_lowercase());
    ev.trail.reasons.retain(|r| !r.rule.starts_with(&family));
    ev.trail.reason("exceptions.barred", &cite, || {
        format!("a part 744 or part 746 requirement applies: no license exception may be used, so `{had}` is not available; license required, review policy {review}")
    });
    ev.trail.obligations.clear();
    license(review)
}

/// Whether a requirement reaching `reach` covers an item of `status` (chips below 3A090 through the
/// `below_3a090_on_ccl` switch, reported when it decides).
fn reaches_item(ev: &mut Eval<'_>, reach: ItemReach, status: ItemStatus) -> bool {
    if reach == ItemReach::Ccl && status == ItemStatus::BelowCcl {
        let s = &ev.policy.restrictions.switches.below_3a090_on_ccl;
        ev.switch_assume(Regime::assumption("below_3a090_on_ccl", s));
        return s.value;
    }
    crate::restrict::reaches(reach, status)
}

/// The part 746 requirements covering the destination (or the ultimate destination).
fn embargo_requirement(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    let policy = ev.policy;
    let tx = input.transaction.unwrap_or_default();
    let region = input.destination_region.as_deref();
    let places = [(Some(p.dest), region), (p.ultimate, None)];
    let mut review = None;
    for (code, region) in places {
        let Some(code) = code else { continue };
        for e in policy.restrictions.embargoes_on(code, region, ev.date, tx) {
            if !reaches_item(ev, e.items, status) {
                continue;
            }
            if let Some(sw) = &e.unconfirmed {
                ev.trail.assume(Assumption {
                    switch: sw.clone(),
                    value: e.review.to_string(),
                    confidence: Arc::from("U"),
                    detail: e.note.clone(),
                });
            }
            ev.trail
                .reason("embargo.license_required", &e.citation, || {
                    format!(
                        "{code}{}: part 746 requires a license ({}); review: {} ({})",
                        region.map(|r| format!(" ({r})")).unwrap_or_default(),
                        e.note,
                        e.review,
                        e.review_citation
                    )
                });
            review = Some(review.map_or(e.review, |r| stricter(r, e.review)));
        }
    }
    review
}

/// The Entity List requirement for a listed consignee: the input's entry, or the common one.
fn entity_list_requirement(
    ev: &mut Eval<'_>,
    input: &DeterminationInput,
    status: ItemStatus,
    eccn: Option<Eccn>,
) -> Option<ReviewPolicy> {
    let c = &input.consignee;
    if !c.listed && c.entity_list.is_none() && !affiliate_of_listed(ev, input) {
        return None;
    }
    let dflt = &ev.policy.restrictions.entity_list;
    let (items, review) = match &c.entity_list {
        Some(e) => (e.items.clone(), e.review),
        None => (EntryItems::Reach(dflt.items), dflt.review),
    };
    let (mut cite, rcite) = (dflt.citation.clone(), dflt.review_citation.clone());
    if let Some(entry) = c.entity_list.as_ref().and_then(|e| e.citation.as_deref()) {
        cite = format!("{cite}; entry: {entry}").into();
    }
    let covered = match &items {
        EntryItems::Reach(r) => reaches_item(ev, *r, status),
        EntryItems::Eccns(list) => {
            eccn.is_some_and(|e| list.iter().any(|x| e.as_str().starts_with(x.as_str())))
        }
    };
    let who = c
        .entity_list
        .as_ref()
        .and_then(|e| e.party.clone())
        .unwrap_or_else(|| format!("consignee `{}`", c.name));
    if !covered {
        ev.trail.reason("party.listed_outside_scope", &cite, || {
            format!(
                "{who} is on the Entity List, but its entry's license requirement ({}) does not reach this item",
                scope_text(&items)
            )
        });
        return None;
    }
    let footnote = c.entity_list.as_ref().and_then(|e| e.footnote);
    ev.trail.reason("party.listed", &cite, || {
        format!(
            "{who} is on the Entity List; its entry requires a license ({}); review: {review} ({rcite}); no license exception{}",
            scope_text(&items),
            footnote
                .map(|n| format!("; entry footnote {n}: it extends the foreign direct product rules (rule-facts §14.2), so foreign-made items may be subject to the EAR too"))
                .unwrap_or_default()
        )
    });
    Some(review)
}

fn scope_text(items: &EntryItems) -> String {
    match items {
        EntryItems::Reach(ItemReach::All) => "all items subject to the EAR".into(),
        EntryItems::Reach(ItemReach::Ccl) => "items on the CCL".into(),
        EntryItems::Eccns(l) => format!("ECCNs {}", l.join(", ")),
    }
}

/// A shipment within the exporting country to a consignee there, going nowhere else: not an export.
fn is_domestic(ev: &Eval<'_>, p: &Parties) -> bool {
    let home = ev.policy.restrictions.domestic;
    home == Some(p.dest) && p.ultimate.is_none_or(|u| Some(u) == home)
}

/// The answer for a domestic transaction of a controlled item: no license requirement.
fn domestic_rule(ev: &mut Eval<'_>, p: &Parties) -> Option<Outcome> {
    if !is_domestic(ev, p) {
        return None;
    }
    let cite = ev.policy.restrictions.domestic_citation.clone();
    ev.trail.reason("domestic.not_an_export", &cite, || {
        format!(
            "consignee in {} and no destination abroad: not an export, reexport or transfer (in-country) abroad, so no license requirement applies (a release of technology to a foreign person, a deemed export, is not modelled)",
            p.dest
        )
    });
    Some(outcome(Authorization::Nlr))
}

/// Whether the Affiliates rule makes the consignee take its listed owners' restrictions.
fn affiliate_of_listed(ev: &mut Eval<'_>, input: &DeterminationInput) -> bool {
    let Some(share) = input.consignee.listed_owners_share_pct else {
        return false;
    };
    let a = &ev.policy.restrictions.affiliates;
    if share < a.share_min_pct || ev.date < a.from {
        return false;
    }
    let sw = &ev.policy.restrictions.switches.affiliates_suspension_until;
    if ev.date >= a.suspended_from {
        ev.switch_assume(Regime::assumption("affiliates_suspension_until", sw));
        if ev.date < sw.value {
            let until = sw.value;
            ev.trail.reason("party.affiliates_suspended", &a.suspension_citation, || {
                format!("the consignee is {share}% owned by listed parties, but the Affiliates rule is suspended until {until}")
            });
            return false;
        }
    }
    let min = a.share_min_pct;
    ev.trail.reason("party.affiliate_of_listed", &a.citation, || {
        format!("the consignee is {share}% owned by listed parties (at least {min}%): it takes their Entity List restrictions")
    });
    true
}

/// A part 744 end-use control for the input's `end_use` in the destination (or ultimate
/// destination).
fn end_use_requirement(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    let end_use = input.end_use?;
    let policy = ev.policy;
    let r = &policy.restrictions;
    let (i, e) = r
        .end_use
        .iter()
        .enumerate()
        .find(|(_, e)| e.end_use == end_use)?;
    let (codes, groups) = &r.end_use_places[i];
    let place = [Some(p.dest), p.ultimate]
        .into_iter()
        .flatten()
        .find(|&c| codes.contains(&c) || ev.member_of_any(c, groups).is_some())?;
    if !reaches_item(ev, e.items, status) {
        return None;
    }
    ev.trail.assume(Assumption {
        switch: e.unconfirmed.clone(),
        value: e.id.clone(),
        confidence: Arc::from("U"),
        detail: e.note.clone(),
    });
    ev.trail
        .reason("end_use.license_required", &e.citation, || {
            format!(
                "end use `{}` in {place}: license required ({}); review: {} ({})",
                e.id, e.note, e.review, e.review_citation
            )
        });
    Some(e.review)
}

/// The Military End-User list's requirement for a listed consignee.
fn meu_requirement(
    ev: &mut Eval<'_>,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    if !input.consignee.meu_listed {
        return None;
    }
    let m = &ev.policy.restrictions.meu_list;
    if !reaches_item(ev, m.items, status) {
        return None;
    }
    if let Some(switch) = &m.unconfirmed {
        ev.trail.assume(Assumption {
            switch: switch.clone(),
            value: "ccl".into(),
            confidence: Arc::from("U"),
            detail: m.note.clone(),
        });
    }
    let name = &input.consignee.name;
    ev.trail.reason("party.meu_listed", &m.citation, || {
        format!(
            "consignee `{name}` is on the Military End-User list: license required; review: {} ({})",
            m.review, m.review_citation
        )
    });
    Some(m.review)
}
