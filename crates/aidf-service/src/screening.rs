//! Screening the parties of a transaction against the restricted-party lists, and what the hits
//! mean for the determination (issue 14, item 3).
//!
//! [`screen_transaction`] is pure (lists in, typed data out): it screens each named party of the
//! input and returns the verdicts and hits with their explanations, plus the *effects*:
//!
//! - a clear hit on the Entity List (`EL`) puts that entry's license requirement and review
//!   policy on the consignee ([`EntityListEntry`], with the entry's name and Federal Register
//!   citations); an entry whose scope or review policy cannot be mapped onto the core's entry
//!   applies the common entry (`listed`), which is at least as strict;
//! - a clear hit on the Military End-User list (`MEU`) sets `meu_listed`;
//! - a clear hit on a list that bars the export outright ([`LIST_EFFECTS`]: `SDN`, `DPL`) refuses
//!   the transaction, naming the list and the entry;
//! - a clear hit on a list whose consequence a person must judge (`UVL`, `ISN`, `DTC`, `SSI`,
//!   `NS-MBS`, `PLC`, `CAP`, and any list code not named here) holds the transaction for review;
//! - a possible hit on any list with an effect holds it for review (never a silent pass, never a
//!   silent denial), unless the party has a clear hit on a list of the same or a stronger effect;
//! - a hit on a list with no export consequence (`CMIC`: an investment restriction) is reported
//!   only.
//!
//! An explicit `listed`, `entity_list` or `meu_listed` in the input stays, and the answer reports
//! it as given by the caller.

use std::sync::OnceLock;

use aidf_core::regime::ReviewPolicy;
use aidf_core::restrict::{EntityListEntry, EntryItems, ItemReach};
use aidf_core::{Determination, DeterminationInput, DetermineError, Policy, determine};
use aidf_ledger::{LedgerError, LedgerStore, PartyDecision, ScreeningDecision, Timestamp};
use aidf_screen::{
    Entry, Explanation, Hit, ItemScope, LicenseTerms, ListSet, Party, ReviewPolicyKind,
    ScoreParams, Thresholds, Verdict,
};
use serde::Serialize;

use crate::screening_decisions::{entry_fingerprint, entry_id, party_key};

/// What a list's hits do to an export determination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListEffect {
    /// Reported only: the list restricts something other than exports (investment).
    Informational,
    /// The Entity List: the entry's license requirement and review policy apply.
    EntityList,
    /// The Military End-User list: its license requirement applies.
    MilitaryEndUser,
    /// A person must judge what the listing means for this export: hold for review.
    Review,
    /// The export is barred outright: refused.
    Bar,
}

/// The effect of a clear hit on each list code, in the CSL's short codes. A code not named here
/// holds for review.
pub const LIST_EFFECTS: &[(&str, ListEffect)] = &[
    ("SDN", ListEffect::Bar),
    ("DPL", ListEffect::Bar),
    ("EL", ListEffect::EntityList),
    ("MEU", ListEffect::MilitaryEndUser),
    ("CMIC", ListEffect::Informational),
];

/// The effect of a hit on the list with this code.
pub fn list_effect(list_code: &str) -> ListEffect {
    LIST_EFFECTS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(list_code))
        .map_or(ListEffect::Review, |(_, effect)| *effect)
}

/// The strength of an effect: a clear hit decides over possible hits of no stronger effect
/// (the Entity List and the MEU list both require a license: equal).
fn rank(effect: ListEffect) -> u8 {
    match effect {
        ListEffect::Informational => 0,
        ListEffect::EntityList | ListEffect::MilitaryEndUser => 1,
        ListEffect::Review => 2,
        ListEffect::Bar => 3,
    }
}

/// The prefix of a refusal text when a possible hit holds the transaction.
pub const HOLD_PREFIX: &str = "hold for review:";

/// Hits reported per party (best first); the effects are computed from every hit.
const HITS_REPORTED_MAX: usize = 5;

/// One hit, as the answer carries it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyHit {
    /// Score in 0..1.
    pub score: f64,
    /// Clear or possible.
    pub verdict: Verdict,
    /// The list's short code (`EL`, `SDN`, `DPL`, …).
    pub list: String,
    /// What a hit on that list does here.
    pub effect: ListEffect,
    /// The entry's name.
    pub entry: String,
    /// The entry's id on its list (a decision on the hit names it as `LIST:ID`).
    pub entry_id: String,
    /// The entry's name or alias that matched.
    pub matched_name: String,
    /// Its Federal Register citations.
    pub federal_register: Vec<String>,
    /// The entry's license terms (Entity List).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub license: Option<LicenseTerms>,
    /// The list version's id.
    pub list_version: String,
    /// Why the score is what it is.
    pub explanation: Explanation,
    /// The tenant's current decision on this party and entry, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decision: Option<HitDecision>,
}

/// An officer's decision on a hit, as the answer reports it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HitDecision {
    /// The decision's id.
    pub id: String,
    /// `not_the_same_party` or `same_party`.
    pub decision: PartyDecision,
    /// Why.
    pub reason: String,
    /// Who decided.
    pub by: String,
    /// When (milliseconds since the Unix epoch).
    pub at: Timestamp,
    /// Whether it applies to this screening.
    pub applied: bool,
    /// Why it does not apply (the entry changed, or a clear hit), or what it did.
    pub note: String,
}

/// What a tenant's screening applies besides the lists: its thresholds and its officers'
/// current decisions on the parties screened (see [`crate::screening_decisions`]).
#[derive(Debug, Clone, Default)]
pub struct TenantScreening {
    /// The tenant's thresholds (the defaults when it set none).
    pub thresholds: Thresholds,
    /// The tenant's decisions on the parties (each key's oldest first: the last one stands).
    pub decisions: Vec<ScreeningDecision>,
}

impl TenantScreening {
    /// The defaults: no decisions.
    pub fn at(thresholds: Thresholds) -> TenantScreening {
        TenantScreening {
            thresholds,
            decisions: Vec::new(),
        }
    }
}

/// One party's screening.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyScreening {
    /// Its role in the transaction (`consignee`).
    pub role: &'static str,
    /// The name screened.
    pub name: String,
    /// The country qualifier used, if any.
    pub country: Option<String>,
    /// The worst verdict.
    pub verdict: Verdict,
    /// Hits, best first: the best five, and every other hit the tenant decided on.
    pub hits: Vec<PartyHit>,
    /// Hits beyond those reported.
    #[serde(skip_serializing_if = "is_zero")]
    pub hits_not_reported: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The Entity List entry screening put on the consignee.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppliedEntry {
    /// The entry's name.
    pub entry: String,
    /// Its citation as the reasons give it.
    pub citation: String,
    /// The requirement as the core applies it; `None`: the common entry (`listed`).
    pub applied: Option<EntityListEntry>,
    /// Why the common entry was applied instead of the entry's own terms, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub note: Option<String>,
}

/// A list version screened against.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListVersionRef {
    /// Id.
    pub id: String,
    /// Date.
    pub date: String,
    /// Digest of the bytes loaded.
    pub sha256: String,
}

/// The screening of a transaction's parties and what it does to the answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransactionScreening {
    /// The worst verdict over the parties.
    pub verdict: Verdict,
    /// Each party screened.
    pub parties: Vec<PartyScreening>,
    /// A clear Entity List hit on the consignee, applied to the determination.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub entity_list: Option<AppliedEntry>,
    /// A clear Military End-User list hit on the consignee, applied (`meu_listed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub military_end_user: Option<String>,
    /// Why the transaction is refused (a barred party) or held (`hold for review: …`), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refusal: Option<String>,
    /// True when a hit needs a person's review before anything ships.
    pub hold_for_review: bool,
    /// Restrictions the caller gave in the input, kept as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caller_overrides: Vec<String>,
    /// The list versions screened against.
    pub list_versions: Vec<ListVersionRef>,
    /// The thresholds applied.
    pub thresholds: Thresholds,
}

/// Why screening could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScreeningError {
    /// The default lists did not load.
    #[error("screening lists: {0}")]
    Lists(String),
    /// A party's name or country could not be screened (names the field and value).
    #[error("field `{field}`: {message}")]
    Party {
        /// Field path.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The lists this process screens with: those given to [`install_lists`], else the
/// repository's default lists, loaded once per process on first use: the committed
/// snapshot read in place (milliseconds), or, if it is stale or damaged, the CSV built in full
/// (~0.7 s; a warning on stderr says why).
pub fn default_lists() -> Result<&'static ListSet, ScreeningError> {
    DEFAULT_LISTS
        .get_or_init(|| {
            let lists = ListSet::default_lists().map_err(|e| e.to_string())?;
            if let Some(note) = lists.note() {
                eprintln!("warning: screening lists: {note}");
            }
            Ok(lists)
        })
        .as_ref()
        .map_err(|e| ScreeningError::Lists(e.clone()))
}

/// Makes `lists` the lists this process screens with (the `--lists DIR` of `check`, `ship` and
/// `serve`), in place of the repository's default; [`default_lists`] returns them from then on.
/// Refused once the lists have been loaded: a process screens every transaction against one set.
pub fn install_lists(lists: ListSet) -> Result<(), ScreeningError> {
    DEFAULT_LISTS.set(Ok(lists)).map_err(|_| {
        ScreeningError::Lists("the screening lists of this process are already loaded".into())
    })
}

/// Whether [`default_lists`] has been loaded (or has failed): then it answers at once, and a
/// caller on an async thread need not move to a blocking one for it.
pub fn default_lists_ready() -> bool {
    DEFAULT_LISTS.get().is_some()
}

static DEFAULT_LISTS: OnceLock<Result<ListSet, String>> = OnceLock::new();

/// Screens the named parties of the input (the consignee, with its headquarters country as
/// qualifier, and the end user, purchaser and ultimate parent where the input names them) and
/// derives the effects on the determination (see the module docs).
pub fn screen_transaction(
    lists: &ListSet,
    thresholds: Thresholds,
    input: &DeterminationInput,
) -> Result<TransactionScreening, ScreeningError> {
    screen_transaction_for(lists, &TenantScreening::at(thresholds), input)
}

/// [`screen_transaction`] for a tenant: at its thresholds, with its decisions on the parties'
/// hits applied (a `not_the_same_party` decision dismisses a possible hit whose entry is
/// unchanged; `same_party` makes the hit clear).
pub fn screen_transaction_for(
    lists: &ListSet,
    tenant: &TenantScreening,
    input: &DeterminationInput,
) -> Result<TransactionScreening, ScreeningError> {
    let named = named_parties(input);
    let mut parties = Vec::with_capacity(named.len());
    let mut effects = Effects::default();
    for party in &named {
        let decided = decisions_on(tenant, party.name);
        let (screening, party_effects) = if decided.is_empty() {
            screened_party(lists, tenant.thresholds, party)?
        } else {
            decided_party(lists, tenant.thresholds, party, &decided)?
        };
        effects.merge(party_effects);
        parties.push(screening);
    }
    let list_versions = lists
        .versions
        .iter()
        .map(|v| ListVersionRef {
            id: v.id.clone(),
            date: v.date.clone(),
            sha256: v.sha256.clone(),
        })
        .collect();
    Ok(effects.finish(parties, list_versions, tenant.thresholds, input))
}

fn named_parties(input: &DeterminationInput) -> Vec<Named<'_>> {
    // The qualifier only where the input gives an ISO-2 code (the core reads and checks the
    // field itself; an alias such as a country name is not a qualifier).
    let iso2 = |c: &str| {
        Some(c.trim().to_ascii_uppercase())
            .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_alphabetic()))
    };
    let c = &input.consignee;
    let mut named = vec![Named {
        role: "consignee",
        field: "consignee.name",
        name: &c.name,
        country: iso2(&c.hq),
    }];
    let others = [
        ("end user", "end_user.name", &input.end_user),
        ("purchaser", "purchaser.name", &input.purchaser),
        (
            "ultimate parent",
            "ultimate_parent.name",
            &input.ultimate_parent,
        ),
    ];
    for (role, field, party) in others {
        if let Some(p) = party {
            let country = match (&p.country, role) {
                (Some(cc), _) => iso2(cc),
                (None, "ultimate parent") => c.parent_hq.as_deref().and_then(iso2),
                (None, _) => None,
            };
            named.push(Named {
                role,
                field,
                name: &p.name,
                country,
            });
        }
    }
    named
}

/// The tenant's decisions on the parties `input` names, read from the ledger (one read a party).
pub fn decisions_for(
    store: &mut dyn LedgerStore,
    tenant: &str,
    input: &DeterminationInput,
) -> Result<Vec<ScreeningDecision>, LedgerError> {
    let mut all = Vec::new();
    for party in named_parties(input) {
        all.extend(party_decisions(store, tenant, party.name)?);
    }
    Ok(all)
}

/// The tenant's decisions on the party named `name`, read from the ledger (none for a name that
/// cannot be screened: screening reports it).
pub fn party_decisions(
    store: &mut dyn LedgerStore,
    tenant: &str,
    name: &str,
) -> Result<Vec<ScreeningDecision>, LedgerError> {
    match party_key(name) {
        Ok(key) => store.screening_decisions(tenant, Some(&key)),
        Err(_) => Ok(Vec::new()),
    }
}

/// Each hit's entry id (`LIST:ID` names it with its list) and the latest of `decisions` (the
/// party's, oldest first) on its entry, with whether it applies and why: what `POST /v1/screen`
/// reports beside the lists' answer.
pub fn hit_decisions(
    hits: &[Hit<'_>],
    decisions: &[ScreeningDecision],
) -> Vec<(String, Option<HitDecision>)> {
    let decided: Vec<&ScreeningDecision> = decisions.iter().collect();
    hits.iter()
        .map(|h| (entry_id(h.entry), hit_decision(h, &decided)))
        .collect()
}

/// The decisions on the party named `name`.
fn decisions_on<'t>(tenant: &'t TenantScreening, name: &str) -> Vec<&'t ScreeningDecision> {
    if tenant.decisions.is_empty() {
        return Vec::new();
    }
    let Ok(key) = party_key(name) else {
        return Vec::new();
    };
    tenant
        .decisions
        .iter()
        .filter(|d| d.party_key == key)
        .collect()
}

/// One party's screening with the tenant's decisions on its hits applied (never cached: the
/// decisions are the tenant's).
fn decided_party(
    lists: &ListSet,
    thresholds: Thresholds,
    party: &Named<'_>,
    decided: &[&ScreeningDecision],
) -> Result<(PartyScreening, Effects), ScreeningError> {
    let hits = screen_party(lists, thresholds, party)?;
    let applied: Vec<Option<HitDecision>> = hits.iter().map(|h| hit_decision(h, decided)).collect();
    let effective: Vec<Hit<'_>> = hits
        .iter()
        .zip(&applied)
        .filter_map(|(h, d)| match d {
            Some(d) if d.applied && d.decision == PartyDecision::NotTheSameParty => None,
            Some(d) if d.applied => Some(Hit {
                verdict: Verdict::ClearHit,
                ..h.clone()
            }),
            _ => Some(h.clone()),
        })
        .collect();
    let mut effects = Effects::default();
    effects.add(party, &effective);
    // The verdict stays the lists' (the hits are reported); the decisions act on the effects.
    effects.verdict = Some(hits.first().map_or(Verdict::NoMatch, |h| h.verdict));
    Ok((party_screening(party, hits, applied), effects))
}

/// The latest decision on the hit's entry, and whether it applies.
fn hit_decision(hit: &Hit<'_>, decided: &[&ScreeningDecision]) -> Option<HitDecision> {
    let id = entry_id(hit.entry);
    let d = decided
        .iter()
        .rev()
        .find(|d| d.list.eq_ignore_ascii_case(&hit.entry.list_code) && d.entry_id == id)?;
    let now = entry_fingerprint(hit.entry);
    let (applied, note) = if d.entry_fingerprint != now {
        (
            false,
            format!(
                "not applied: the entry changed since the decision ({} then, {now} now); a person must decide again",
                d.entry_fingerprint
            ),
        )
    } else {
        match (d.decision, hit.verdict) {
            (PartyDecision::NotTheSameParty, Verdict::ClearHit) => (
                false,
                "not applied: a clear hit is never dismissed by a decision".to_owned(),
            ),
            (PartyDecision::NotTheSameParty, _) => (
                true,
                "applied: the possible hit does not hold the transaction".to_owned(),
            ),
            (PartyDecision::SameParty, _) => {
                (true, "applied: the hit counts as a clear hit".to_owned())
            }
        }
    };
    Some(HitDecision {
        id: d.id.clone(),
        decision: d.decision,
        reason: d.reason.clone(),
        by: d.by.clone(),
        at: d.at,
        applied,
        note,
    })
}

/// A party of the input to screen.
struct Named<'a> {
    role: &'static str,
    field: &'static str,
    name: &'a str,
    country: Option<String>,
}

/// Parties screened lately, by the list versions' digests, thresholds, role, name and country:
/// screening is a pure function of those (about 70 µs a name against the whole CSL), and the
/// same consignees come back shipment after shipment. Bounded; emptied when full.
type PartyKey = (String, u64, u64, &'static str, String, Option<String>);
static SCREENED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<PartyKey, (PartyScreening, Effects)>>,
> = std::sync::LazyLock::new(Default::default);

/// Entries [`SCREENED`] holds at most.
const SCREENED_MAX: usize = 16_384;

/// One party's screening and its effects, from [`SCREENED`] when it was screened lately.
fn screened_party(
    lists: &ListSet,
    thresholds: Thresholds,
    party: &Named<'_>,
) -> Result<(PartyScreening, Effects), ScreeningError> {
    let digests: Vec<&str> = lists.versions.iter().map(|v| v.sha256.as_str()).collect();
    let key: PartyKey = (
        digests.join(" "),
        thresholds.clear.to_bits(),
        thresholds.possible.to_bits(),
        party.role,
        party.name.to_owned(),
        party.country.clone(),
    );
    let cache = || {
        SCREENED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(found) = cache().get(&key) {
        return Ok(found.clone());
    }
    let hits = screen_party(lists, thresholds, party)?;
    let mut effects = Effects::default();
    effects.add(party, &hits);
    let screened = (party_screening(party, hits, Vec::new()), effects);
    let mut cache = cache();
    if cache.len() >= SCREENED_MAX {
        cache.clear();
    }
    cache.insert(key, screened.clone());
    Ok(screened)
}

fn screen_party<'l>(
    lists: &'l ListSet,
    thresholds: Thresholds,
    party: &Named<'_>,
) -> Result<Vec<Hit<'l>>, ScreeningError> {
    let query = Party {
        name: party.name,
        country: party.country.as_deref(),
        party_type: None,
    };
    lists
        .screen(&query, thresholds, &ScoreParams::default())
        .map(|s| s.hits)
        .map_err(|e| ScreeningError::Party {
            field: party.field,
            message: e.to_string(),
        })
}

/// The party's screening as reported: its best hits, and every hit the tenant decided on
/// (`decisions`, one per hit, or empty), so no decision acts unseen.
fn party_screening(
    party: &Named<'_>,
    hits: Vec<Hit<'_>>,
    mut decisions: Vec<Option<HitDecision>>,
) -> PartyScreening {
    let verdict = hits.first().map_or(Verdict::NoMatch, |h| h.verdict);
    let total = hits.len();
    decisions.resize(total, None);
    let hits: Vec<PartyHit> = hits
        .into_iter()
        .zip(decisions)
        .enumerate()
        .filter(|(i, (_, d))| *i < HITS_REPORTED_MAX || d.is_some())
        .map(|(_, (h, decision))| PartyHit {
            score: h.score,
            verdict: h.verdict,
            list: h.entry.list_code.clone(),
            effect: list_effect(&h.entry.list_code),
            entry: h.entry.name.clone(),
            entry_id: entry_id(h.entry),
            matched_name: h.matched_name.to_owned(),
            federal_register: citations(h.entry),
            license: h.entry.license.clone(),
            list_version: h.list_version.id.clone(),
            explanation: h.explanation,
            decision,
        })
        .collect();
    PartyScreening {
        role: party.role,
        name: party.name.trim().to_owned(),
        country: party.country.clone(),
        verdict,
        hits_not_reported: total - hits.len(),
        hits,
    }
}

fn citations(entry: &Entry) -> Vec<String> {
    entry
        .federal_register
        .iter()
        .map(|c| c.text.clone())
        .collect()
}

/// The effects gathered over the parties.
#[derive(Debug, Clone, Default)]
struct Effects {
    verdict: Option<Verdict>,
    barred: Option<String>,
    review: Option<String>,
    entity_list: Option<AppliedEntry>,
    military_end_user: Option<String>,
}

impl Effects {
    fn add(&mut self, party: &Named<'_>, hits: &[Hit<'_>]) {
        let verdict = hits.first().map_or(Verdict::NoMatch, |h| h.verdict);
        self.verdict = Some(self.verdict.map_or(verdict, |v| v.max(verdict)));
        let clear = |effect: ListEffect| {
            hits.iter().filter(move |h| {
                h.verdict == Verdict::ClearHit && list_effect(&h.entry.list_code) == effect
            })
        };
        let strongest_clear = hits
            .iter()
            .filter(|h| h.verdict == Verdict::ClearHit)
            .map(|h| list_effect(&h.entry.list_code))
            .max()
            .unwrap_or(ListEffect::Informational);
        if let Some(h) = clear(ListEffect::Bar).next() {
            self.barred.get_or_insert_with(|| {
                format!(
                    "{} `{}` is a clear hit ({}) on the {} list: `{}`{}; the export is barred",
                    party.role,
                    party.name.trim(),
                    h.score,
                    h.entry.list_code,
                    h.entry.name,
                    cited(h.entry)
                )
            });
        }
        if let Some(h) = clear(ListEffect::Review).next() {
            self.review
                .get_or_insert_with(|| hold_text(party, h, "a clear hit"));
        }
        // A possible hit holds unless a clear hit of the same or a stronger effect decides.
        let possible = hits.iter().find(|h| {
            let effect = list_effect(&h.entry.list_code);
            h.verdict == Verdict::PossibleHit
                && effect != ListEffect::Informational
                && rank(strongest_clear) < rank(effect)
        });
        if let Some(h) = possible {
            self.review
                .get_or_insert_with(|| hold_text(party, h, "a possible hit"));
        }
        if let Some(h) = best_entity_list_hit(party.name, clear(ListEffect::EntityList)) {
            self.add_entity_list(party, h);
        }
        if let Some(h) = clear(ListEffect::MilitaryEndUser).next() {
            if party.role == "consignee" {
                self.military_end_user = Some(format!("`{}`{}", h.entry.name, cited(h.entry)));
            } else {
                // The core models the MEU listing of the consignee only: another party's is for
                // a person to weigh.
                self.review
                    .get_or_insert_with(|| hold_text(party, h, "a clear hit"));
            }
        }
    }

    /// A clear Entity List hit: the entry's terms on the transaction (15 CFR 744.11 reaches every
    /// party), the reasons naming the party when it is not the consignee. Another party's entry
    /// whose terms aidf cannot map is held for review (the common entry would name the consignee).
    fn add_entity_list(&mut self, party: &Named<'_>, h: &Hit<'_>) {
        let mut applied = applied_entry(h.entry);
        if party.role != "consignee" {
            let Some(entry) = applied.applied.as_mut() else {
                self.review
                    .get_or_insert_with(|| hold_text(party, h, "a clear hit"));
                return;
            };
            entry.party = Some(format!("{} `{}`", party.role, party.name.trim()));
        }
        self.entity_list.get_or_insert(applied);
    }

    /// Adds another party's effects as [`Effects::add`] would have: the first bar, hold and
    /// Entity List entry found stand (the consignee's first).
    fn merge(&mut self, other: Effects) {
        self.verdict = match (self.verdict, other.verdict) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.barred = self.barred.take().or(other.barred);
        self.review = self.review.take().or(other.review);
        self.entity_list = self.entity_list.take().or(other.entity_list);
        self.military_end_user = other.military_end_user.or(self.military_end_user.take());
    }

    fn finish(
        self,
        parties: Vec<PartyScreening>,
        list_versions: Vec<ListVersionRef>,
        thresholds: Thresholds,
        input: &DeterminationInput,
    ) -> TransactionScreening {
        let hold = self.barred.is_none() && self.review.is_some();
        let refusal = self
            .barred
            .or_else(|| self.review.map(|r| format!("{HOLD_PREFIX} {r}")));
        TransactionScreening {
            verdict: self.verdict.unwrap_or(Verdict::NoMatch),
            parties,
            entity_list: self.entity_list,
            military_end_user: self.military_end_user,
            refusal,
            hold_for_review: hold,
            caller_overrides: caller_overrides(input),
            list_versions,
            thresholds,
        }
    }
}

fn hold_text(party: &Named<'_>, h: &Hit<'_>, kind: &str) -> String {
    format!(
        "{} `{}` is {kind} ({}) on the {} list: `{}` (matched `{}`){}; a person must decide before it ships",
        party.role,
        party.name.trim(),
        h.score,
        h.entry.list_code,
        h.entry.name,
        h.matched_name,
        cited(h.entry)
    )
}

fn cited(entry: &Entry) -> String {
    let c = citations(entry);
    if c.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.join(", "))
    }
}

/// Of equally scored clear Entity List hits, the one whose listed name is the query's, written
/// alike (letters and digits, case folded); else the best in the screen crate's order.
fn best_entity_list_hit<'h, 'l>(
    query: &str,
    hits: impl Iterator<Item = &'h Hit<'l>>,
) -> Option<&'h Hit<'l>>
where
    'l: 'h,
{
    let folded = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let query = folded(query);
    let hits: Vec<&Hit<'_>> = hits.collect();
    let top = hits.first()?.score;
    hits.iter()
        .copied()
        .filter(|h| h.score >= top)
        .find(|h| folded(&h.entry.name) == query || folded(h.matched_name) == query)
        .or_else(|| hits.first().copied())
}

/// The core's entry for a listed entry's license terms, or the common entry with a note.
fn applied_entry(entry: &Entry) -> AppliedEntry {
    let citation = format!("`{}`{}", entry.name, cited(entry));
    let mapped = entry
        .license
        .as_ref()
        .ok_or_else(|| "the list states no license terms for it".to_owned())
        .and_then(|terms| map_terms(terms, &citation));
    match mapped {
        Ok(applied) => AppliedEntry {
            entry: entry.name.clone(),
            citation,
            applied: Some(applied),
            note: None,
        },
        Err(why) => AppliedEntry {
            entry: entry.name.clone(),
            citation,
            applied: None,
            note: Some(format!("{why}: the common Entity List entry applies")),
        },
    }
}

fn map_terms(terms: &LicenseTerms, citation: &str) -> Result<EntityListEntry, String> {
    let items = match &terms.scope {
        ItemScope::AllItemsSubjectToEar => EntryItems::Reach(ItemReach::All),
        ItemScope::AllItemsSubjectToEarQualified { qualification } => {
            return Err(format!(
                "its scope is qualified (`{qualification}`), which aidf does not model"
            ));
        }
        ItemScope::Narrower { text } => {
            return Err(format!(
                "its scope (`{text}`) is narrower than all items, which aidf does not model"
            ));
        }
    };
    let review = match terms.review_policy_kind {
        ReviewPolicyKind::PresumptionOfDenial | ReviewPolicyKind::PolicyOfDenial => {
            ReviewPolicy::Denial
        }
        ReviewPolicyKind::CaseByCase => ReviewPolicy::CaseByCase,
        ReviewPolicyKind::PresumptionOfApproval => ReviewPolicy::Approval,
        ReviewPolicyKind::SeeSections | ReviewPolicyKind::Other => {
            return Err(format!(
                "its review policy (`{}`) is not one aidf models",
                terms.review_policy
            ));
        }
    };
    // A footnote marker matters to the core only where the requirement cites the foreign direct
    // product rules (§ 734.9).
    let extends_fdp = terms
        .requirement_sections
        .iter()
        .any(|s| s.starts_with("734.9"));
    Ok(EntityListEntry {
        items,
        review,
        footnote: terms.footnotes.first().copied().filter(|_| extends_fdp),
        citation: Some(citation.to_owned()),
        party: None,
    })
}

fn caller_overrides(input: &DeterminationInput) -> Vec<String> {
    let c = &input.consignee;
    let mut given = Vec::new();
    if c.listed {
        given.push("listed given by the caller".to_owned());
    }
    if c.entity_list.is_some() {
        given.push(
            "entity_list given by the caller (it applies instead of a screened entry)".to_owned(),
        );
    }
    if c.meu_listed {
        given.push("meu_listed given by the caller".to_owned());
    }
    given
}

impl TransactionScreening {
    /// Puts the effects on the input the determination reads: a screened Entity List entry
    /// (unless the caller gave one), `meu_listed` for a clear MEU hit.
    pub fn apply(&self, input: &mut DeterminationInput) {
        let c = &mut input.consignee;
        if let Some(e) = &self.entity_list {
            match &e.applied {
                Some(entry) if c.entity_list.is_none() => c.entity_list = Some(entry.clone()),
                Some(_) => {}
                None => c.listed = true,
            }
        }
        if self.military_end_user.is_some() {
            c.meu_listed = true;
        }
    }

    /// Whether any party has a hit (then the tenant's decisions may matter).
    pub fn has_hits(&self) -> bool {
        self.parties.iter().any(|p| !p.hits.is_empty())
    }
}

/// A determination with the screening of its parties (`aidf check`, `POST /v1/determinations`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// The determination, made with the screening's effects on the input.
    #[serde(flatten)]
    pub determination: Determination,
    /// The screening, when screened.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub screening: Option<TransactionScreening>,
}

/// Why a check could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The input was bad (names the field).
    #[error("{0}")]
    Determine(#[from] DetermineError),
    /// Screening could not run.
    #[error("{0}")]
    Screening(#[from] ScreeningError),
}

/// Determines `input`, first screening its parties against the default lists when `screen` is
/// set: a screened Entity List entry or MEU listing is applied; a barred party or a hit held for
/// review is stated in the screening block (`refusal`, `hold_for_review`), the determination is
/// still given.
pub fn check(
    policy: &Policy,
    input: &DeterminationInput,
    screen: bool,
) -> Result<CheckAnswer, CheckError> {
    check_for(
        policy,
        input,
        screen.then(TenantScreening::default).as_ref(),
    )
}

/// [`check`] for a tenant (`None`: no screening): at its thresholds, with its decisions.
pub fn check_for(
    policy: &Policy,
    input: &DeterminationInput,
    tenant: Option<&TenantScreening>,
) -> Result<CheckAnswer, CheckError> {
    let Some(tenant) = tenant else {
        return Ok(CheckAnswer {
            determination: determine(policy, input)?,
            screening: None,
        });
    };
    let screening = match screen_transaction_for(default_lists()?, tenant, input) {
        Ok(s) => s,
        // An input the rules reject is reported as they report it.
        Err(e) => {
            determine(policy, input)?;
            return Err(e.into());
        }
    };
    let mut screened = input.clone();
    screening.apply(&mut screened);
    Ok(CheckAnswer {
        determination: determine(policy, &screened)?,
        screening: Some(screening),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_terms_map_onto_the_core_entry_or_fall_back_to_the_common_one() {
        let plain = LicenseTerms::parse(
            "For all items subject to the EAR. (See §744.11 of the EAR)",
            "Case-by-case review",
        );
        let entry = map_terms(&plain, "`X` (1 FR 2)").expect("mapped");
        assert_eq!(entry.items, EntryItems::Reach(ItemReach::All));
        assert_eq!(entry.review, ReviewPolicy::CaseByCase);
        assert_eq!(entry.footnote, None, "no § 734.9: no footnote for the core");
        assert_eq!(entry.citation.as_deref(), Some("`X` (1 FR 2)"));
        let fdp = LicenseTerms::parse(
            "For all items subject to the EAR, see §§ 734.9(e)1 and 744.11 of the EAR2",
            "Presumption of denial",
        );
        assert_eq!(map_terms(&fdp, "").expect("mapped").footnote, Some(1));
        let qualified = LicenseTerms::parse(
            "For all items subject to the EAR except EAR99 food",
            "Presumption of denial",
        );
        let why = map_terms(&qualified, "").expect_err("qualified");
        assert!(why.contains("qualified"), "{why}");
        let narrower = LicenseTerms::parse("Items on the CCL", "Presumption of denial");
        assert!(map_terms(&narrower, "").is_err());
        let unknown = LicenseTerms::parse("For all items subject to the EAR", "See § 746.8(b)");
        assert!(map_terms(&unknown, "").is_err());
    }

    #[test]
    fn each_list_has_its_effect_and_unknown_lists_hold() {
        assert_eq!(list_effect("SDN"), ListEffect::Bar);
        assert_eq!(list_effect("dpl"), ListEffect::Bar);
        assert_eq!(list_effect("EL"), ListEffect::EntityList);
        assert_eq!(list_effect("MEU"), ListEffect::MilitaryEndUser);
        assert_eq!(list_effect("CMIC"), ListEffect::Informational);
        assert_eq!(list_effect("UVL"), ListEffect::Review);
        assert_eq!(list_effect("NEW-LIST"), ListEffect::Review);
    }
}
