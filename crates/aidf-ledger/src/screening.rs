//! Screening records (schema 8): officers' decisions on possible hits and tenants' thresholds.
//! Both are append-only JSON records; the ledger numbers them, keys them and audits them with
//! the write, and knows nothing of what they mean for a screening.
//!
//! Record ids: a decision is `<tenant>/<party digest>/<entry digest>/<seq:06>` (the digests are
//! 16 hex digits of sha256 of the party key and of `list NUL entry id`), so one key's decisions
//! are a contiguous range, oldest first, and a party's decisions too; thresholds are
//! `<tenant>/<seq:06>`.

use sha2::{Digest, Sha256};

use crate::engine::{RecordTable, TxOps};
use crate::error::{LedgerError, Result};
use crate::types::{ScreeningDecision, ScreeningThresholds, Timestamp};
use crate::validate;

fn short_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    crate::audit::hex(&h.finalize()[..8])
}

/// The id range (`from`, `before`) of a tenant's decisions, or of those on one party.
pub(crate) fn decision_range(tenant: &str, party_key: Option<&str>) -> (String, String) {
    match party_key {
        Some(key) => {
            let prefix = format!("{tenant}/{}", short_digest(&[key]));
            (format!("{prefix}/"), format!("{prefix}0"))
        }
        None => (format!("{tenant}/"), format!("{tenant}0")),
    }
}

/// The id prefix of the decisions on one key (without the trailing `/`).
fn decision_prefix(d: &ScreeningDecision) -> String {
    format!(
        "{}/{}/{}",
        d.tenant,
        short_digest(&[&d.party_key]),
        short_digest(&[&d.list, &d.entry_id])
    )
}

/// The first free number under `prefix` (`<prefix>/<seq:06>` ids).
fn next_seq<T: TxOps + ?Sized>(tx: &mut T, table: RecordTable, prefix: &str) -> Result<u32> {
    let mut seq = 0u32;
    while tx
        .get_record(table, &format!("{prefix}/{seq:06}"))?
        .is_some()
    {
        seq = seq
            .checked_add(1)
            .ok_or_else(|| LedgerError::InvalidField {
                field: "seq",
                value: prefix.to_owned(),
                reason: "too many records under one key",
            })?;
    }
    Ok(seq)
}

/// Appends a decision after the earlier ones on its key; returns it with `id`, `at` and `seq`
/// set, and its record id.
pub(crate) fn record_decision<T: TxOps + ?Sized>(
    tx: &mut T,
    d: &ScreeningDecision,
    now: Timestamp,
) -> Result<(ScreeningDecision, String)> {
    validate::record_id("tenant", &d.tenant)?;
    validate::text("party", &d.party)?;
    validate::text("party key", &d.party_key)?;
    validate::text("list", &d.list)?;
    validate::text("entry id", &d.entry_id)?;
    validate::text("entry fingerprint", &d.entry_fingerprint)?;
    validate::text("reason", &d.reason)?;
    validate::text("by", &d.by)?;
    let prefix = decision_prefix(d);
    let seq = next_seq(tx, RecordTable::ScreeningDecisions, &prefix)?;
    let id = format!("{prefix}/{seq:06}");
    let stored = ScreeningDecision {
        id: id.clone(),
        at: now,
        seq,
        ..d.clone()
    };
    let body = serde_json::to_string(&stored)?;
    tx.insert_record(RecordTable::ScreeningDecisions, &id, &body, now)?;
    Ok((stored, id))
}

/// Appends a tenant's thresholds; returns them with `at`, `seq` set and their record id.
pub(crate) fn set_thresholds<T: TxOps + ?Sized>(
    tx: &mut T,
    t: &ScreeningThresholds,
    now: Timestamp,
) -> Result<(ScreeningThresholds, String)> {
    validate::record_id("tenant", &t.tenant)?;
    validate::text("clear", &t.clear)?;
    validate::text("possible", &t.possible)?;
    validate::text("by", &t.by)?;
    let seq = next_seq(tx, RecordTable::ScreeningThresholds, &t.tenant)?;
    let stored = ScreeningThresholds {
        at: now,
        seq,
        ..t.clone()
    };
    let id = format!("{}/{seq:06}", t.tenant);
    let body = serde_json::to_string(&stored)?;
    tx.insert_record(RecordTable::ScreeningThresholds, &id, &body, now)?;
    Ok((stored, id))
}
