//! Rescreening when a new list version is loaded (issue 14, item 5): every party a tenant's
//! ledger records is screened against the previous list set and the new one, and the report names
//! what changed — new hits, cleared hits, hits whose verdict changed — with the entries and the
//! licenses, held shipments and pending applications each changed party touches.
//!
//! The parties come from (each read once, no shipment body decoded to find them):
//!
//! - the shipment register: one grouped query over its consignee column
//!   ([`LedgerStore::register_consignees`]), with shipment and refusal counts;
//! - the party registry ([`LedgerStore::parties`]), which gives a consignee's headquarters
//!   country (the screening qualifier, as when it shipped);
//! - licenses (consignee), validated end users (owner, headquarters), and license applications
//!   (consignee, purchaser, intermediate consignees, end users; the applicant is the exporter).
//!
//! A party is its name (white space folded, case ignored, as the register compares it) and its
//! country where a record gives one; a record without a country (a register row, a license)
//! counts for every party of that name, or is a party of its own when none has a country.
//! Held shipments (refused with [`HOLD_PREFIX`]) are looked up only for parties that changed,
//! through the register's consignee filter.

use std::collections::{BTreeMap, BTreeSet};

use aidf_ledger::register::consignee_key;
use aidf_ledger::{
    LedgerError, LedgerStore, LicenseStatus, ScreeningDecision, ShipmentQuery, ShipmentStatus,
};
use aidf_screen::{Hit, ListSet, Party, QueryError, ScoreParams, Thresholds, Verdict};
use serde::{Deserialize, Serialize};

use crate::application::Application;
use crate::screening::{
    HOLD_PREFIX, HitDecision, ListEffect, ListVersionRef, hit_decisions, list_effect,
    party_decisions,
};

/// Whose ledger records are rescreened.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The tenant (`local` for the CLI).
    pub tenant: &'a str,
    /// The prefix of the tenant's license and VEU ids (empty for the CLI).
    pub record_prefix: &'a str,
}

/// Why a rescreen could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RescreenError {
    /// The ledger could not be read.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A stored record could not be read as what it should be.
    #[error("{table} `{id}`: {message}")]
    Record {
        /// The table.
        table: &'static str,
        /// The record's id.
        id: String,
        /// What was wrong.
        message: String,
    },
}

/// Where a party appears in the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Appearances {
    /// The roles it is recorded in (`consignee`, `license consignee`, `veu holder`, `end user`,
    /// `purchaser`, `intermediate consignee`).
    pub roles: BTreeSet<&'static str>,
    /// Shipments to it.
    pub shipments: u64,
    /// Of those, refused.
    pub refused: u64,
    /// Its shipments held for review (filled for changed parties only).
    pub held_shipments: Vec<String>,
    /// Licenses naming it as consignee (not revoked).
    pub licenses: Vec<String>,
    /// Validated end users it holds.
    pub veus: Vec<String>,
    /// Applications naming it that are not decided yet.
    pub pending_applications: Vec<String>,
}

/// A list entry a party hit, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryHit {
    /// The list's short code (`EL`, `SDN`, …).
    pub list: String,
    /// The publisher's id of the entry, where it has one.
    pub id: Option<String>,
    /// The entry's name.
    pub entry: String,
    /// The name or alias that matched.
    pub matched_name: String,
    /// Federal Register citations.
    pub citations: Vec<String>,
    /// Clear or possible.
    pub verdict: Verdict,
    /// Score in 0..1 (display; the verdict is the thresholds').
    pub score: f64,
    /// What a hit on that list does to an export.
    pub effect: ListEffect,
    /// The tenant's latest decision on this party and entry, and whether it still applies under
    /// the new lists (an entry whose content changed no longer carries it): under the new
    /// lists' hits only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<HitDecision>,
}

/// An entry hit under both versions with another verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedHit {
    /// The verdict under the previous lists.
    pub verdict_before: Verdict,
    /// The hit under the new lists.
    #[serde(flatten)]
    pub hit: EntryHit,
}

/// A party whose screening changed between the versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyChange {
    /// The name as recorded.
    pub name: String,
    /// The country qualifier screened with, if any.
    pub country: Option<String>,
    /// Its worst verdict under the previous lists.
    pub verdict_before: Verdict,
    /// Its worst verdict under the new lists.
    pub verdict_after: Verdict,
    /// Entries it hits only under the new lists.
    pub new_hits: Vec<EntryHit>,
    /// Entries it hit only under the previous lists.
    pub cleared_hits: Vec<EntryHit>,
    /// Entries it hits under both, with another verdict.
    pub changed_hits: Vec<ChangedHit>,
    /// Where it appears in the ledger.
    pub appears: Appearances,
}

/// A recorded party that could not be screened (a name of punctuation only, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotScreened {
    /// The name as recorded.
    pub name: String,
    /// Why.
    pub error: String,
}

/// The rescreen report.
#[derive(Debug, Clone, Serialize)]
pub struct RescreenReport {
    /// The list versions screened against before.
    pub previous: Vec<ListVersionRef>,
    /// The new list versions.
    pub current: Vec<ListVersionRef>,
    /// The thresholds applied to both.
    pub thresholds: Thresholds,
    /// Distinct parties screened.
    pub parties_screened: usize,
    /// Of those, parties with a hit under the new lists and no change.
    pub parties_still_hit: usize,
    /// New hits over all parties.
    pub new_hits: usize,
    /// Cleared hits over all parties.
    pub cleared_hits: usize,
    /// Hits with a changed verdict over all parties.
    pub changed_hits: usize,
    /// The parties that changed, by name.
    pub changes: Vec<PartyChange>,
    /// Parties that could not be screened.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_screened: Vec<NotScreened>,
}

/// Screens every party `scope`'s ledger records against `previous` and `current` and reports
/// what changed.
pub fn rescreen(
    store: &mut dyn LedgerStore,
    scope: Scope<'_>,
    previous: &ListSet,
    current: &ListSet,
    thresholds: Thresholds,
) -> Result<RescreenReport, RescreenError> {
    let parties = gather(store, scope)?;
    let mut report = RescreenReport {
        previous: versions(previous),
        current: versions(current),
        thresholds,
        parties_screened: parties.len(),
        parties_still_hit: 0,
        new_hits: 0,
        cleared_hits: 0,
        changed_hits: 0,
        changes: Vec::new(),
        not_screened: Vec::new(),
    };
    for ((_, country), recorded) in parties {
        let party = Party {
            name: &recorded.name,
            country: country.as_deref(),
            party_type: None,
        };
        let decisions = party_decisions(store, scope.tenant, &recorded.name)?;
        match compare(previous, current, thresholds, &party, &decisions) {
            Err(e) => report.not_screened.push(NotScreened {
                name: recorded.name,
                error: e.to_string(),
            }),
            Ok(None) => {}
            Ok(Some(Compared::Unchanged)) => report.parties_still_hit += 1,
            Ok(Some(Compared::Changed(mut change))) => {
                change.appears = recorded.appears;
                change.appears.held_shipments = held_shipments(store, scope, &change)?;
                report.new_hits += change.new_hits.len();
                report.cleared_hits += change.cleared_hits.len();
                report.changed_hits += change.changed_hits.len();
                report.changes.push(*change);
            }
        }
    }
    Ok(report)
}

fn versions(lists: &ListSet) -> Vec<ListVersionRef> {
    lists
        .versions
        .iter()
        .map(|v| ListVersionRef {
            id: v.id.clone(),
            date: v.date.clone(),
            sha256: v.sha256.clone(),
        })
        .collect()
}

/// A party as gathered: its name as first recorded and where it appears.
#[derive(Debug, Default)]
struct Recorded {
    name: String,
    appears: Appearances,
}

/// Parties by (name key, country).
type Parties = BTreeMap<(String, Option<String>), Recorded>;

/// Every party the tenant's ledger records, records with a country first.
fn gather(store: &mut dyn LedgerStore, scope: Scope<'_>) -> Result<Parties, RescreenError> {
    let mut parties = Parties::new();
    for p in store.parties(scope.tenant)? {
        add(&mut parties, &p.name, Some(&p.hq), |_| {});
    }
    for v in store.veus()? {
        if let Some(id) = v.id.strip_prefix(scope.record_prefix) {
            add(&mut parties, &v.owner, Some(&v.hq_country), |a| {
                a.roles.insert("veu holder");
                a.veus.push(id.to_owned());
            });
        }
    }
    for body in store.applications()? {
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let app: Application = serde_json::from_value(body).map_err(|e| RescreenError::Record {
            table: "applications",
            id,
            message: e.to_string(),
        })?;
        if app.tenant == scope.tenant {
            add_application(&mut parties, &app);
        }
    }
    for c in store.register_consignees(scope.tenant)? {
        add_nameonly(&mut parties, &c.name, |a| {
            a.roles.insert("consignee");
            a.shipments += c.shipments;
            a.refused += c.refused;
        });
    }
    for l in store.licenses()? {
        match l.id.strip_prefix(scope.record_prefix) {
            Some(id) if l.status != LicenseStatus::Revoked => {
                add_nameonly(&mut parties, &l.consignee, |a| {
                    a.roles.insert("license consignee");
                    a.licenses.push(id.to_owned());
                });
            }
            _ => {}
        }
    }
    Ok(parties)
}

/// The parties an application names (not the applicant: the exporter itself).
fn add_application(parties: &mut Parties, app: &Application) {
    let input = &app.input;
    let pending = !app.state.is_final();
    let c = &input.consignee;
    let mut named: Vec<(&'static str, &str, &str)> = vec![("consignee", &c.name, &c.hq)];
    named.extend(
        input
            .purchaser
            .iter()
            .map(|p| ("purchaser", &*p.name, &*p.country)),
    );
    named.extend(
        input
            .intermediate_consignees
            .iter()
            .map(|p| ("intermediate consignee", &*p.name, &*p.country)),
    );
    named.extend(
        input
            .end_users
            .iter()
            .map(|p| ("end user", &*p.name, &*p.country)),
    );
    for (role, name, country) in named {
        add(parties, name, Some(country), |a| {
            a.roles.insert(role);
            if pending && !a.pending_applications.contains(&app.id) {
                a.pending_applications.push(app.id.clone());
            }
        });
    }
}

/// An ISO-2 country, upper case; anything else is no qualifier.
fn iso2(country: &str) -> Option<String> {
    let c = country.trim();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then(|| c.to_ascii_uppercase())
}

fn add(parties: &mut Parties, name: &str, country: Option<&str>, f: impl FnOnce(&mut Appearances)) {
    let key = (consignee_key(name), country.and_then(iso2));
    let recorded = parties.entry(key).or_insert_with(|| Recorded {
        name: name.trim().to_owned(),
        ..Recorded::default()
    });
    f(&mut recorded.appears);
}

/// A record without a country: it counts for every party of that name, or is its own party.
fn add_nameonly(parties: &mut Parties, name: &str, f: impl Fn(&mut Appearances)) {
    let key = consignee_key(name);
    let mut found = false;
    for (_, recorded) in parties
        .range_mut((key.clone(), None)..)
        .take_while(|((k, _), _)| *k == key)
    {
        f(&mut recorded.appears);
        found = true;
    }
    if !found {
        add(parties, name, None, f);
    }
}

/// What screening a party against both versions gave.
enum Compared {
    /// A hit under the new lists, as before.
    Unchanged,
    /// Something changed.
    Changed(Box<PartyChange>),
}

/// Screens a party against both versions; `None` when it hits nothing under either.
fn compare(
    previous: &ListSet,
    current: &ListSet,
    thresholds: Thresholds,
    party: &Party<'_>,
    decisions: &[ScreeningDecision],
) -> Result<Option<Compared>, QueryError> {
    let params = ScoreParams::default();
    let before = previous.screen(party, thresholds, &params)?;
    let after = current.screen(party, thresholds, &params)?;
    if before.hits.is_empty() && after.hits.is_empty() {
        return Ok(None);
    }
    let old = by_entry(&before.hits, &[]);
    let new = by_entry(&after.hits, decisions);
    let mut change = PartyChange {
        name: party.name.to_owned(),
        country: party.country.map(str::to_owned),
        verdict_before: before.verdict,
        verdict_after: after.verdict,
        new_hits: Vec::new(),
        cleared_hits: Vec::new(),
        changed_hits: Vec::new(),
        appears: Appearances::default(),
    };
    for (key, hit) in &new {
        match old.get(key) {
            None => change.new_hits.push(hit.clone()),
            Some(was) if was.verdict != hit.verdict => change.changed_hits.push(ChangedHit {
                verdict_before: was.verdict,
                hit: hit.clone(),
            }),
            Some(_) => {}
        }
    }
    change.cleared_hits = old
        .iter()
        .filter(|(key, _)| !new.contains_key(*key))
        .map(|(_, hit)| hit.clone())
        .collect();
    let same = change.new_hits.is_empty()
        && change.cleared_hits.is_empty()
        && change.changed_hits.is_empty()
        && before.verdict == after.verdict;
    Ok(Some(if same {
        Compared::Unchanged
    } else {
        Compared::Changed(Box::new(change))
    }))
}

/// The hits by entry: its list and the publisher's id, else its name (an entry keeps its
/// identity across versions where the list gives ids).
fn by_entry(
    hits: &[Hit<'_>],
    decisions: &[ScreeningDecision],
) -> BTreeMap<(String, String), EntryHit> {
    let mut out = BTreeMap::new();
    let decided = hit_decisions(hits, decisions);
    for (h, (_, decision)) in hits.iter().zip(decided) {
        let e = h.entry;
        let key = (
            e.list_code.to_ascii_uppercase(),
            e.entity_number.clone().unwrap_or_else(|| e.name.clone()),
        );
        out.entry(key).or_insert_with(|| EntryHit {
            list: e.list_code.clone(),
            id: e.entity_number.clone(),
            entry: e.name.clone(),
            matched_name: h.matched_name.to_owned(),
            citations: e.federal_register.iter().map(|c| c.text.clone()).collect(),
            verdict: h.verdict,
            score: h.score,
            effect: list_effect(&e.list_code),
            decision,
        });
    }
    out
}

/// The party's shipments held for review: its refused shipments (through the register's
/// consignee filter) whose refusal starts with [`HOLD_PREFIX`], newest first.
fn held_shipments(
    store: &mut dyn LedgerStore,
    scope: Scope<'_>,
    change: &PartyChange,
) -> Result<Vec<String>, RescreenError> {
    #[derive(Deserialize)]
    struct Body {
        determination: Stored,
    }
    #[derive(Deserialize)]
    struct Stored {
        #[serde(default)]
        refusal: Option<String>,
    }
    if change.appears.refused == 0 {
        return Ok(Vec::new());
    }
    let mut query = ShipmentQuery {
        tenant: scope.tenant.to_owned(),
        status: Some(ShipmentStatus::Refused),
        consignee: Some(change.name.clone()),
        limit: aidf_ledger::register::MAX_PAGE,
        ..ShipmentQuery::default()
    };
    let mut held = Vec::new();
    loop {
        let page = store.shipments_page(&query)?;
        for row in &page.items {
            let body: Body =
                serde_json::from_str(&row.body).map_err(|e| RescreenError::Record {
                    table: "shipments",
                    id: row.shipment_id.clone(),
                    message: e.to_string(),
                })?;
            let refusal = body.determination.refusal.unwrap_or_default();
            if refusal.starts_with(HOLD_PREFIX) {
                held.push(row.shipment_id.clone());
            }
        }
        match page.next_cursor {
            Some(next) => query.after = Some(next),
            None => return Ok(held),
        }
    }
}
