//! Recording a shipment: hold its accounts, compare the balances read, then apply its ops.

use std::collections::{BTreeMap, HashMap};

use crate::audit::{self, AuditEvent};
use crate::body_view::BodyView;
use crate::error::{LedgerError, Result};
use crate::types::{
    Account, AccountSpec, ExpectedBalance, Meta, Op, Party, Shipment, ShipmentStatus, Timestamp,
};
use crate::validate;

use super::apply::{apply_ops_locked, ensure_account};
use super::{RecordTable, TxOps};

/// A shipment to record: the determination, the ops it authorised, and what they rest on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewShipment {
    /// Shipment id (the idempotency key for the whole shipment).
    pub shipment_id: String,
    /// Digest of the client's request: a replay with another digest is
    /// [`LedgerError::ShipmentConflict`].
    pub input_digest: String,
    /// The determination (opaque JSON, kept as text: stored and answered as it is).
    pub determination: crate::JsonText,
    /// Authorised or refused.
    pub status: ShipmentStatus,
    /// Ops to apply as one linked batch (must be empty when refused).
    pub ops: Vec<Op>,
    /// The tenant recording it (`local` for the CLI).
    pub tenant: Option<String>,
    /// The business date (YYYY-MM-DD).
    pub business_date: Option<String>,
    /// Back-dated beyond the window (an officer's backfill).
    pub backfill: bool,
    /// Accounts the ops draw on, opened (or their cap set) in the same transaction.
    pub accounts: Vec<AccountSpec>,
    /// Every balance the determination read, compared before anything is written.
    pub expected: Vec<ExpectedBalance>,
    /// Parties of the shipment, added to the registry if absent.
    pub parties: Vec<Party>,
}

/// The accounts a shipment writes (its draws' accounts and the accounts it opens) and those it
/// only read, held in key order ([`TxOps::hold_accounts`]); returns them as they stand.
pub(super) fn hold_shipment_accounts<T: TxOps + ?Sized>(
    tx: &mut T,
    s: &NewShipment,
) -> Result<HashMap<String, Account>> {
    let mut keys: BTreeMap<&str, bool> = BTreeMap::new();
    for e in &s.expected {
        keys.entry(e.key.as_str()).or_insert(false);
    }
    let written = s
        .accounts
        .iter()
        .map(|a| a.key.as_str())
        .chain(s.ops.iter().filter_map(|op| match op {
            Op::Reserve { account, .. }
            | Op::Attrition { account, .. }
            | Op::Transfer { account, .. }
            | Op::SetCap { account, .. } => Some(account.as_str()),
            Op::Post { .. } | Op::Void { .. } => None,
        }));
    for key in written {
        keys.insert(key, true);
    }
    let order: Vec<(&str, bool)> = keys.into_iter().collect();
    Ok(tx
        .hold_accounts(&order)?
        .into_iter()
        .map(|a| (a.key.clone(), a))
        .collect())
}

/// Checks every balance a determination read against what the transaction holds now (expired
/// holds excluded); any difference fails the whole shipment with [`LedgerError::BalanceMoved`].
pub(super) fn compare_balances<T: TxOps + ?Sized>(
    tx: &mut T,
    expected: &[ExpectedBalance],
    held: &HashMap<String, Account>,
    now: Timestamp,
) -> Result<()> {
    for e in expected {
        let found = match held.get(&e.key) {
            None => 0,
            Some(a) if e.posted_only || a.pending == 0 => a.posted,
            Some(a) => {
                let due: u64 = tx.due_holds(&a.key, now)?.iter().map(|h| h.amount).sum();
                a.posted.saturating_add(a.pending.saturating_sub(due))
            }
        };
        if found != e.used {
            return Err(LedgerError::BalanceMoved {
                account: e.key.clone(),
                expected: e.used,
                found,
            });
        }
    }
    Ok(())
}

/// Opens the shipment's accounts that do not exist; returns `set_cap` ops for those whose cap
/// differs, to run first in the shipment's batch.
pub(super) fn prepare_accounts<T: TxOps + ?Sized>(
    tx: &mut T,
    s: &NewShipment,
    held: &HashMap<String, Account>,
    now: Timestamp,
) -> Result<Vec<Op>> {
    let mut cap_ops = Vec::new();
    for spec in &s.accounts {
        // `held` has every account the shipment writes, as its lock found them.
        match held.get(&spec.key) {
            None => {
                ensure_account(tx, &spec.key, spec.kind, spec.cap, now)?;
            }
            Some(a) if a.cap != spec.cap => {
                let cap_text = spec.cap.map_or_else(|| "none".into(), |c| c.to_string());
                cap_ops.push(Op::SetCap {
                    op_id: format!("{}:cap:{}:{cap_text}", s.shipment_id, cap_ops.len()),
                    account: spec.key.clone(),
                    cap: spec.cap,
                    meta: Meta::default(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(cap_ops)
}

/// Adds the shipment's parties to the registry (once each; a known party is left as it is).
pub(super) fn register_parties<T: TxOps + ?Sized>(
    tx: &mut T,
    parties: &[Party],
    now: Timestamp,
) -> Result<()> {
    for p in parties {
        validate::text("party name", &p.name)?;
        let id = p.record_id();
        tx.insert_record_if_absent(RecordTable::Parties, &id, &serde_json::to_string(p)?, now)?;
    }
    Ok(())
}

/// Compares the read balances, opens accounts, registers parties, applies the shipment's ops
/// and stores the shipment row, all in the caller's transaction. A stored id is replayed when
/// the request digest matches and refused with [`LedgerError::ShipmentConflict`] when not.
///
/// A new record is returned with its audit event and without its determination, which stays in
/// `s` (it is large: the caller moves it into the record once the transaction has committed,
/// instead of copying it here).
pub(crate) fn record_shipment<T: TxOps + ?Sized>(
    tx: &mut T,
    s: &mut NewShipment,
    now: Timestamp,
) -> Result<(Shipment, Option<AuditEvent>)> {
    validate::record_id("shipment id", &s.shipment_id)?;
    validate::text("input digest", &s.input_digest)?;
    if let Some(body) = tx.get_record(RecordTable::Shipments, &s.shipment_id)? {
        let mut stored: Shipment = serde_json::from_str(&body)?;
        if stored.input_digest != s.input_digest {
            return Err(LedgerError::ShipmentConflict {
                shipment_id: s.shipment_id.clone(),
                stored: stored.input_digest,
            });
        }
        stored.replayed = true;
        // A replay writes nothing, so it leaves no second record of the shipment.
        return Ok((stored, None));
    }
    if s.status == ShipmentStatus::Refused && !s.ops.is_empty() {
        return Err(LedgerError::RefusedWithOps {
            shipment_id: s.shipment_id.clone(),
            count: s.ops.len(),
        });
    }
    let held = hold_shipment_accounts(tx, s)?;
    compare_balances(tx, &s.expected, &held, now)?;
    register_parties(tx, &s.parties, now)?;
    let applied = if s.ops.is_empty() {
        Vec::new()
    } else {
        let mut ops = prepare_accounts(tx, s, &held, now)?;
        let cap_ops = ops.len();
        ops.extend(s.ops.iter().cloned());
        // Every account the shipment holds is locked and unchanged since it was read.
        let held = held.into_values().collect();
        let mut applied = apply_ops_locked(tx, &ops, now, s.business_date.as_deref(), held)?;
        applied.drain(..cap_ops);
        applied
    };
    // The determination is lent to the record while it is stored, then given back to `s`.
    let mut shipment = Shipment {
        shipment_id: s.shipment_id.clone(),
        input_digest: s.input_digest.clone(),
        determination: std::mem::take(&mut s.determination),
        status: s.status,
        applied,
        recorded_at: now,
        tenant: s.tenant.clone(),
        business_date: s.business_date.clone(),
        backfill: s.backfill,
        replayed: false,
    };
    let view = BodyView::of(&shipment.determination);
    let stored = store_shipment(tx, &shipment, &view, now);
    let event = audit::shipment_event(&shipment, &view);
    s.determination = std::mem::take(&mut shipment.determination);
    stored?;
    Ok((shipment, Some(event)))
}

/// Inserts the shipment's row, with its register columns.
fn store_shipment<T: TxOps + ?Sized>(
    tx: &mut T,
    shipment: &Shipment,
    view: &BodyView,
    now: Timestamp,
) -> Result<()> {
    tx.insert_shipment(
        &crate::register::Columns::of_view(shipment, view),
        &shipment.shipment_id,
        &serde_json::to_string(shipment)?,
        now,
    )
}
