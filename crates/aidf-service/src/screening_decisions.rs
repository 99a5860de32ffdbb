//! Officers' decisions on screening hits and tenants' screening thresholds (issue 14).
//!
//! A decision concerns one party (by its normalized name, [`party_key`]) and one list entry (its
//! list code and [`entry_id`]) and carries the entry's [`entry_fingerprint`] when it was made.
//! [`crate::screening`] applies the tenant's latest decision on a hit only while the entry's
//! content is unchanged (same fingerprint):
//!
//! - `not_the_same_party` dismisses a **possible** hit: it no longer holds the transaction, and
//!   the answer still reports the hit with the decision (id, reason, who, when). A **clear** hit
//!   is never dismissed by a decision: the answer reports the decision as not applied.
//! - `same_party` makes the hit a clear one, with that list's effect (an Entity List entry
//!   applied, an SDN/DPL bar, …).
//! - an entry whose content changed (another fingerprint) ignores the decision, and says so.
//!
//! Thresholds: each tenant may set its clear and possible thresholds, exact decimals with
//! `0 < possible <= clear <= 1`; a tenant that has set none screens at the defaults
//! ([`aidf_screen::Thresholds::default`]).

use aidf_core::num::parse_decimal;
use aidf_ledger::{
    LedgerError, LedgerStore, PartyDecision, ScreeningDecision, ScreeningThresholds, Timestamp,
};
use aidf_screen::{Entry, ListSet, Thresholds};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::screening::ScreeningError;

/// Why a decision or thresholds could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// A field's value is not what was expected.
    #[error("field `{field}`: `{value}` {expected}")]
    Field {
        /// Field name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The screening lists did not load.
    #[error("{0}")]
    Screening(#[from] ScreeningError),
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

fn field(field: &'static str, value: &str, expected: impl Into<String>) -> DecisionError {
    DecisionError::Field {
        field,
        value: value.to_owned(),
        expected: expected.into(),
    }
}

/// A party's key: its name normalized by the screening crate (the Latin comparison form of the
/// parts that identify it, legal forms set aside), so `Acme Computing Pte. Ltd.` and
/// `ACME COMPUTING PTE LTD` share their decisions.
pub fn party_key(name: &str) -> Result<String, DecisionError> {
    let form = aidf_screen::normalize_query("party", name)
        .map_err(|e| field("party", name, format!("cannot be screened: {e}")))?;
    let parts: Vec<&str> = form.tokens.iter().map(|t| t.latin.as_str()).collect();
    Ok(parts.join(" "))
}

/// An entry's id on its list: the publisher's id where it has one (OFAC's `ent_num`), else the
/// name as published, white space collapsed (the BIS lists publish no ids).
pub fn entry_id(entry: &Entry) -> String {
    match entry.entity_number.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => entry.name.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The entry's content as loaded: what its fingerprint covers (not where it sits in its file).
#[derive(Serialize)]
struct EntryContent<'a> {
    source: &'a str,
    list_code: &'a str,
    entity_number: &'a Option<String>,
    party_type: &'a aidf_screen::PartyType,
    name: &'a str,
    alt_names: &'a [String],
    countries: &'a [String],
    addresses: &'a [String],
    programs: &'a [String],
    federal_register: Vec<&'a str>,
    license: &'a Option<aidf_screen::LicenseTerms>,
    start_date: &'a Option<String>,
    remarks: &'a Option<String>,
}

/// `sha256:` of the entry's content (names, aliases, countries, addresses, programs, citations,
/// license terms, dates, remarks): a decision applies only while it is unchanged.
pub fn entry_fingerprint(entry: &Entry) -> String {
    let content = EntryContent {
        source: &entry.source,
        list_code: &entry.list_code,
        entity_number: &entry.entity_number,
        party_type: &entry.party_type,
        name: &entry.name,
        alt_names: &entry.alt_names,
        countries: &entry.countries,
        addresses: &entry.addresses,
        programs: &entry.programs,
        federal_register: entry
            .federal_register
            .iter()
            .map(|c| c.text.as_str())
            .collect(),
        license: &entry.license,
        start_date: &entry.start_date,
        remarks: &entry.remarks,
    };
    let bytes = serde_json::to_vec(&content).unwrap_or_default();
    format!(
        "sha256:{}",
        aidf_ledger::audit::hex(&Sha256::digest(&bytes))
    )
}

/// The one entry `LIST:ID` names in `lists` (the list code and the id compared without case).
pub fn find_entry<'l>(lists: &'l ListSet, reference: &str) -> Result<&'l Entry, DecisionError> {
    let (list, id) = reference
        .split_once(':')
        .map(|(l, i)| (l.trim(), i.trim()))
        .filter(|(l, i)| !l.is_empty() && !i.is_empty())
        .ok_or_else(|| field("entry", reference, "is not LIST:ID (e.g. `EL:ACME CO.`)"))?;
    // The id as typed: white space collapsed, case folded (the decision stores the entry's own).
    let folded = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let id = folded(id);
    let found: Vec<&Entry> = lists
        .entries()
        .filter(|e| e.list_code.eq_ignore_ascii_case(list) && folded(&entry_id(e)) == id)
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(field(
            "entry",
            reference,
            "names no entry of the loaded lists (expected the list's code and the entry's id or published name)",
        )),
        many => Err(field(
            "entry",
            reference,
            format!(
                "names {} entries of the loaded lists; a decision needs one",
                many.len()
            ),
        )),
    }
}

/// An officer's decision to record.
#[derive(Debug, Clone)]
pub struct DecideRequest<'a> {
    /// Tenant (`local` for the CLI).
    pub tenant: &'a str,
    /// The party's name as screened.
    pub party: &'a str,
    /// `LIST:ID`.
    pub entry: &'a str,
    /// The decision.
    pub decision: PartyDecision,
    /// Why (required).
    pub reason: &'a str,
    /// Who decides.
    pub by: &'a str,
}

/// Records a decision on the entry `LIST:ID` of `lists` for a party, with the entry's
/// fingerprint now; it supersedes the tenant's earlier decisions on that party and entry.
pub fn decide(
    store: &mut dyn LedgerStore,
    lists: &ListSet,
    req: &DecideRequest<'_>,
    now: Timestamp,
) -> Result<ScreeningDecision, DecisionError> {
    if req.reason.trim().is_empty() {
        return Err(field(
            "reason",
            req.reason,
            "is empty; a decision needs a reason",
        ));
    }
    let key = party_key(req.party)?;
    let entry = find_entry(lists, req.entry)?;
    let decision = ScreeningDecision {
        id: String::new(),
        tenant: req.tenant.to_owned(),
        party: req.party.trim().to_owned(),
        party_key: key,
        list: entry.list_code.clone(),
        entry_id: entry_id(entry),
        entry_fingerprint: entry_fingerprint(entry),
        decision: req.decision,
        reason: req.reason.trim().to_owned(),
        by: req.by.to_owned(),
        at: now,
        seq: 0,
    };
    Ok(store.record_screening_decision(&decision, now)?)
}

/// A recorded decision as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    /// The decision.
    #[serde(flatten)]
    pub decision: ScreeningDecision,
    /// False once a later decision on the same party and entry supersedes it.
    pub current: bool,
}

/// The tenant's decisions, oldest first, each marked current or superseded.
pub fn decisions(
    store: &mut dyn LedgerStore,
    tenant: &str,
) -> Result<Vec<DecisionView>, DecisionError> {
    let all = store.screening_decisions(tenant, None)?;
    let mut views: Vec<DecisionView> = all
        .iter()
        .enumerate()
        .map(|(i, d)| DecisionView {
            current: !all[i + 1..].iter().any(|later| same_key(d, later)),
            decision: d.clone(),
        })
        .collect();
    views.sort_by(|a, b| (a.decision.at, &a.decision.id).cmp(&(b.decision.at, &b.decision.id)));
    Ok(views)
}

fn same_key(a: &ScreeningDecision, b: &ScreeningDecision) -> bool {
    a.party_key == b.party_key && a.list == b.list && a.entry_id == b.entry_id
}

/// A tenant's screening thresholds as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ThresholdsView {
    /// Tenant.
    pub tenant: String,
    /// Clear-hit threshold (exact decimal text).
    pub clear: String,
    /// Possible-hit threshold (exact decimal text).
    pub possible: String,
    /// `tenant` (set by the tenant) or `default`.
    pub source: &'static str,
    /// Who set them, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub set_by: Option<String>,
    /// When they were set (milliseconds since the Unix epoch), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub set_at: Option<Timestamp>,
}

impl ThresholdsView {
    /// The thresholds the screening crate compares scores with.
    pub fn thresholds(&self) -> Thresholds {
        // Both were checked as exact decimals within 0..1 when set: their text reads as f64.
        Thresholds {
            clear: self.clear.parse().unwrap_or(Thresholds::default().clear),
            possible: self
                .possible
                .parse()
                .unwrap_or(Thresholds::default().possible),
        }
    }
}

/// Checks a threshold pair: exact decimals with `0 < possible <= clear <= 1`.
pub fn parse_thresholds(clear: &str, possible: &str) -> Result<(Decimal, Decimal), DecisionError> {
    let read = |name: &'static str, text: &str| {
        parse_decimal(text)
            .filter(|d| *d > Decimal::ZERO && *d <= Decimal::ONE)
            .ok_or_else(|| field(name, text, "is not a decimal above 0 and at most 1"))
    };
    let (c, p) = (read("clear", clear)?, read("possible", possible)?);
    if p > c {
        return Err(field(
            "possible",
            possible,
            format!("is above the clear threshold {clear}; expected possible <= clear"),
        ));
    }
    Ok((c, p))
}

/// Sets a tenant's thresholds (checked by [`parse_thresholds`]), audited.
pub fn set_thresholds(
    store: &mut dyn LedgerStore,
    tenant: &str,
    clear: &str,
    possible: &str,
    by: &str,
    now: Timestamp,
) -> Result<ThresholdsView, DecisionError> {
    let (c, p) = parse_thresholds(clear, possible)?;
    let stored = store.set_screening_thresholds(
        &ScreeningThresholds {
            tenant: tenant.to_owned(),
            clear: c.normalize().to_string(),
            possible: p.normalize().to_string(),
            by: by.to_owned(),
            at: now,
            seq: 0,
        },
        now,
    )?;
    Ok(view(tenant, Some(stored)))
}

/// A tenant's thresholds: its latest setting, or the defaults.
pub fn thresholds(
    store: &mut dyn LedgerStore,
    tenant: &str,
) -> Result<ThresholdsView, DecisionError> {
    Ok(view(tenant, store.screening_thresholds(tenant)?))
}

fn view(tenant: &str, stored: Option<ScreeningThresholds>) -> ThresholdsView {
    match stored {
        Some(t) => ThresholdsView {
            tenant: tenant.to_owned(),
            clear: t.clear,
            possible: t.possible,
            source: "tenant",
            set_by: Some(t.by),
            set_at: Some(t.at),
        },
        None => {
            let d = Thresholds::default();
            ThresholdsView {
                tenant: tenant.to_owned(),
                clear: d.clear.to_string(),
                possible: d.possible.to_string(),
                source: "default",
                set_by: None,
                set_at: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_exact_decimals_in_order_within_zero_and_one() {
        let ok = [
            ("0.9", "0.7"),
            ("1", "1"),
            ("0.88", "0.880"),
            ("1e-1", "0.1"),
        ];
        for (c, p) in ok {
            assert!(parse_thresholds(c, p).is_ok(), "{c} {p}");
        }
        let bad = [
            ("1.01", "0.5", "clear"),
            ("0.9", "0", "possible"),
            ("abc", "0.5", "clear"),
            ("0.7", "0.70000000000000000000000001", "possible"),
            ("0.9", "-0.1", "possible"),
        ];
        for (c, p, name) in bad {
            let e = parse_thresholds(c, p).unwrap_err();
            assert!(
                matches!(&e, DecisionError::Field { field, .. } if *field == name),
                "{c} {p}: {e}"
            );
        }
    }

    #[test]
    fn party_keys_fold_case_punctuation_and_legal_forms() {
        let a = party_key("Acme Computing Pte. Ltd.").expect("key");
        assert_eq!(a, party_key("ACME COMPUTING PTE LTD").expect("key"));
        assert_ne!(a, party_key("Acme Computers").expect("key"));
        assert!(party_key("  ").is_err());
    }
}
