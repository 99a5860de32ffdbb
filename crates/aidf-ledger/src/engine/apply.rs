//! Applying ops: the per-transaction account cache, linked batches, one op at a time, opening
//! accounts and expiring due holds.

use std::collections::{HashMap, HashSet};

use crate::error::{LedgerError, Result};
use crate::types::{
    Account, AccountKind, Applied, Balance, EntryKind, Hold, HoldState, Meta, Op, Timestamp,
};
use crate::validate;

use super::TxOps;
use super::plan::{plan, replay};
use super::rows::{NewEntry, NewOp, corrupt_op};

/// Per-transaction write-back cache of locked accounts.
#[derive(Debug, Default)]
pub(super) struct Cache {
    slots: HashMap<String, Slot>,
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) account: Account,
    dirty: bool,
    /// Whether the due holds were swept in this transaction; `now` is fixed
    /// per transaction, so one sweep per account suffices.
    swept: bool,
    /// Holds the sweep found due: already subtracted from `account.pending`
    /// (so they never count against the cap), written (state + `expire`
    /// entry) just before the first op that changes the account. A
    /// transaction that only replays ops on the account writes nothing.
    expiring: Vec<Hold>,
}

impl Cache {
    fn fill(&mut self, accounts: Vec<Account>) {
        for account in accounts {
            self.slots.entry(account.key.clone()).or_insert(Slot {
                account,
                dirty: false,
                swept: false,
                expiring: Vec::new(),
            });
        }
    }

    /// The account, loaded if needed, with expired holds swept in memory.
    pub(super) fn slot<'c, T: TxOps + ?Sized>(
        &'c mut self,
        tx: &mut T,
        key: &str,
        now: Timestamp,
    ) -> Result<&'c mut Slot> {
        if !self.slots.contains_key(key) {
            let rows = tx.lock_accounts(&[key])?;
            self.fill(rows);
        }
        let slot = self
            .slots
            .get_mut(key)
            .ok_or_else(|| LedgerError::UnknownAccount {
                key: key.to_owned(),
            })?;
        // `pending` is the sum of the account's unresolved holds (an invariant `check_invariants`
        // verifies): at zero there is no hold to sweep, and no query to run.
        if !slot.swept {
            let due = if slot.account.pending > 0 {
                tx.due_holds(key, now)?
            } else {
                Vec::new()
            };
            for hold in due {
                slot.account.pending =
                    slot.account
                        .pending
                        .checked_sub(hold.amount)
                        .ok_or_else(|| LedgerError::Corrupt {
                            what: format!("account `{}`", slot.account.key),
                            detail: format!(
                                "pending {} below expiring hold {}",
                                slot.account.pending, hold.amount
                            ),
                        })?;
                slot.expiring.push(hold);
            }
            slot.swept = true;
        }
        Ok(slot)
    }

    fn flush<T: TxOps + ?Sized>(self, tx: &mut T) -> Result<()> {
        for slot in self.slots.into_values() {
            if slot.dirty {
                tx.update_account(&slot.account)?;
            }
        }
        Ok(())
    }
}

/// Writes the expiries the sweep of `slot` found (see [`Slot::expiring`]).
fn write_expiries<T: TxOps + ?Sized>(tx: &mut T, slot: &mut Slot) -> Result<()> {
    for hold in std::mem::take(&mut slot.expiring) {
        slot.dirty = true;
        let expires_at = hold.expires_at.unwrap_or(Timestamp(i64::MIN));
        tx.set_hold_state(&hold.pending_id, HoldState::Expired)?;
        tx.insert_entry(&NewEntry {
            op_id: None,
            kind: EntryKind::Expire,
            account: &hold.account,
            posted_delta: 0,
            pending_delta: -validate::to_i64(&hold.pending_id, hold.amount)?,
            cap: None,
            pending_id: Some(&hold.pending_id),
            // Dated when it took effect, so that as-of balances are exact.
            at: expires_at.0,
            business_date: None,
            meta: &hold.meta,
        })?;
    }
    Ok(())
}

fn wrap(index: usize, len: usize, op: &Op, e: LedgerError) -> LedgerError {
    if e.is_storage() {
        e
    } else {
        LedgerError::BatchFailed {
            index,
            op_id: op.op_id().to_owned(),
            len,
            source: Box::new(e),
        }
    }
}

/// Applies `ops` as one linked batch inside the caller's transaction. On
/// error the caller must roll back.
pub(crate) fn apply_ops<T: TxOps + ?Sized>(
    tx: &mut T,
    ops: &[Op],
    now: Timestamp,
    business_date: Option<&str>,
) -> Result<Vec<Applied>> {
    apply_ops_locked(tx, ops, now, business_date, Vec::new())
}

/// [`apply_ops`] for a transaction that already holds some of the accounts (`held`, as it read
/// them under its lock and has not written them since): only the others are locked and read.
pub(super) fn apply_ops_locked<T: TxOps + ?Sized>(
    tx: &mut T,
    ops: &[Op],
    now: Timestamp,
    business_date: Option<&str>,
    held: Vec<Account>,
) -> Result<Vec<Applied>> {
    let len = ops.len();
    let mut seen = HashSet::with_capacity(len);
    let mut batch_reserves: HashMap<&str, &str> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        validate::op(op).map_err(|e| wrap(i, len, op, e))?;
        if let Op::Reserve { op_id, account, .. } = op {
            batch_reserves.insert(op_id, account);
        }
        if !seen.insert(op.op_id()) {
            return Err(wrap(
                i,
                len,
                op,
                LedgerError::DuplicateOpInBatch {
                    op_id: op.op_id().to_owned(),
                },
            ));
        }
    }

    // Lock every account the batch touches up front, in key order, so that
    // concurrent PostgreSQL transactions cannot deadlock on account rows.
    let mut keys: Vec<String> = Vec::with_capacity(len);
    for op in ops {
        match op {
            Op::Reserve { account, .. }
            | Op::Attrition { account, .. }
            | Op::Transfer { account, .. }
            | Op::SetCap { account, .. } => keys.push(account.clone()),
            Op::Post { pending_id, .. } | Op::Void { pending_id, .. } => {
                if let Some(account) = batch_reserves.get(pending_id.as_str()) {
                    keys.push((*account).to_owned());
                } else if let Some(hold) = tx.get_hold(pending_id)? {
                    // A hold's account never changes, so reading it unlocked is safe.
                    keys.push(hold.account);
                }
            }
        }
    }
    let mut cache = Cache::default();
    cache.fill(held);
    keys.retain(|k| !cache.slots.contains_key(k));
    keys.sort_unstable();
    keys.dedup();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    cache.fill(tx.lock_accounts(&key_refs)?);

    let mut out = Vec::with_capacity(len);
    for (i, op) in ops.iter().enumerate() {
        let applied =
            apply_one(tx, &mut cache, op, now, business_date).map_err(|e| wrap(i, len, op, e))?;
        out.push(applied);
    }
    cache.flush(tx)?;
    Ok(out)
}

/// Applies one op: the effect is computed first, then the op row is inserted
/// (insert-first idempotency: only an op id that is already stored costs a
/// read), and only then are the account, the hold and the history written.
fn apply_one<T: TxOps + ?Sized>(
    tx: &mut T,
    cache: &mut Cache,
    op: &Op,
    now: Timestamp,
    business_date: Option<&str>,
) -> Result<Applied> {
    let op_id = op.op_id();
    let effect = match plan(tx, cache, op, now) {
        Ok(effect) => effect,
        Err(e) if e.is_storage() => return Err(e),
        // A stored op with this id wins over the checks of the new one:
        // replaying a reservation after its expiry, a post of a hold it
        // resolved, an op whose cap check would now fail...
        Err(e) => {
            return match tx.get_op(op_id)? {
                Some(stored) => replay(op, &stored),
                None => Err(e),
            };
        }
    };
    let applied = Applied {
        op_id: op_id.to_owned(),
        account: effect.account,
        at: now,
        result: effect.result,
        balance_after: Balance::new(effect.cap, effect.posted, effect.pending),
        replayed: false,
    };
    if !tx.insert_op(&NewOp::new(op, &applied)?)? {
        let stored = tx
            .get_op(op_id)?
            .ok_or_else(|| corrupt_op(op_id, "conflicting insert but no stored row"))?;
        return replay(op, &stored);
    }
    let slot =
        cache
            .slots
            .get_mut(&applied.account)
            .ok_or_else(|| LedgerError::UnknownAccount {
                key: applied.account.clone(),
            })?;
    write_expiries(tx, slot)?;
    slot.account.cap = effect.cap;
    slot.account.posted = effect.posted;
    slot.account.pending = effect.pending;
    slot.dirty = true;
    if let (Some(state), Some(pending_id)) = (effect.hold_state, effect.pending_id.as_deref()) {
        tx.set_hold_state(pending_id, state)?;
    }
    tx.insert_entry(&NewEntry {
        op_id: Some(op_id),
        kind: effect.entry_kind,
        account: &applied.account,
        posted_delta: effect.posted_delta,
        pending_delta: effect.pending_delta,
        cap: effect.cap_entry.flatten(),
        pending_id: effect.pending_id.as_deref(),
        at: now.0,
        business_date,
        meta: op.meta(),
    })?;
    Ok(applied)
}

/// Opens an account, or checks that an existing one has the same kind and cap.
pub(crate) fn ensure_account<T: TxOps + ?Sized>(
    tx: &mut T,
    key: &str,
    kind: AccountKind,
    cap: Option<u64>,
    now: Timestamp,
) -> Result<Account> {
    validate::account_key(key)?;
    let cap_i = cap.map(|c| validate::to_i64(key, c)).transpose()?;
    if let Some(existing) = tx.lock_accounts(&[key])?.pop() {
        if existing.kind != kind {
            return Err(LedgerError::AccountExists {
                key: key.to_owned(),
                field: "kind",
            });
        }
        if existing.cap != cap {
            return Err(LedgerError::AccountExists {
                key: key.to_owned(),
                field: "cap",
            });
        }
        return Ok(existing);
    }
    let account = Account {
        key: key.to_owned(),
        kind,
        cap,
        posted: 0,
        pending: 0,
        created_at: now,
    };
    // On PostgreSQL a concurrent creator makes this fail with a unique
    // violation; the backend retries the transaction, which then finds it.
    tx.insert_account(&account)?;
    tx.insert_entry(&NewEntry {
        op_id: None,
        kind: EntryKind::Open,
        account: key,
        posted_delta: 0,
        pending_delta: 0,
        cap: cap_i,
        pending_id: None,
        at: now.0,
        business_date: None,
        meta: &Meta::default(),
    })?;
    Ok(account)
}

/// Expires every due hold; returns how many were expired.
pub(crate) fn expire_due<T: TxOps + ?Sized>(tx: &mut T, now: Timestamp) -> Result<u64> {
    let mut keys = tx.due_accounts(now)?;
    keys.sort_unstable();
    keys.dedup();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut cache = Cache::default();
    cache.fill(tx.lock_accounts(&refs)?);
    let mut count = 0u64;
    for key in &keys {
        if !cache.slots.contains_key(key) {
            continue;
        }
        let slot = cache.slot(tx, key, now)?;
        count += slot.expiring.len() as u64;
        write_expiries(tx, slot)?;
    }
    cache.flush(tx)?;
    Ok(count)
}
