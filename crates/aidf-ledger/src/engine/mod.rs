//! Backend-independent ledger rules.
//!
//! Both backends implement [`TxOps`] on top of an open write transaction; all
//! rules (validation, idempotency, lazy expiry, cap checks, history entries)
//! live here once, so the two backends cannot drift apart.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::{LedgerError, Result};
use crate::types::{
    Account, AccountKind, AccountSpec, Applied, Balance, EntryKind, ExpectedBalance,
    G2gArrangement, Hold, HoldState, License, Meta, Op, OpResult, Party, Shipment, ShipmentStatus,
    Timestamp, Veu,
};
use crate::validate;

/// Tables holding JSON records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordTable {
    Licenses,
    Veus,
    G2g,
    Shipments,
    Parties,
    Applications,
    ApplicationTransitions,
    LicenseChanges,
    ScreeningDecisions,
    ScreeningThresholds,
}

impl RecordTable {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            RecordTable::Licenses => "licenses",
            RecordTable::Veus => "veus",
            RecordTable::G2g => "g2g_arrangements",
            RecordTable::Shipments => "shipments",
            RecordTable::Parties => "parties",
            RecordTable::Applications => "applications",
            RecordTable::ApplicationTransitions => "application_transitions",
            RecordTable::LicenseChanges => "license_changes",
            RecordTable::ScreeningDecisions => "screening_decisions",
            RecordTable::ScreeningThresholds => "screening_thresholds",
        }
    }
}

/// Columns of an `ops` row (schema version 2), in insert order.
pub(crate) const OP_COLS: &str = "op_id, kind, account, amount, expires_at, hold_state, at, pending_id, \
     req_amount, cap, old_cap, released, bal_cap, bal_posted, bal_pending, determination_id, \
     regime_digest, memo";

/// Columns read back into a [`StoredOp`], in field order.
pub(crate) const STORED_OP_COLS: &str = "op_id, kind, account, amount, expires_at, at, pending_id, \
     req_amount, cap, old_cap, released, bal_cap, bal_posted, bal_pending, determination_id, \
     regime_digest, memo";

/// Columns added by schema version 2 (besides the v1 columns kind, account,
/// amount, expires_at, hold_state and at), replacing the JSON `fields` and `result`.
pub(crate) const V2_OP_COLS: [&str; 11] = [
    "pending_id",
    "req_amount",
    "cap",
    "old_cap",
    "released",
    "bal_cap",
    "bal_posted",
    "bal_pending",
    "determination_id",
    "regime_digest",
    "memo",
];

/// Decodes a schema-1 `ops` row (canonical fields and result as JSON) into
/// the row schema 2 stores, checking it against the row's plain columns.
pub(crate) fn upgrade_v1_op(
    op_id: &str,
    fields: &str,
    result: &str,
    plain: (&str, &str, i64, Option<i64>),
) -> Result<(Op, Applied)> {
    let bad = |detail: String| corrupt_op(op_id, &detail);
    let op: Op = serde_json::from_str(fields).map_err(|e| bad(format!("fields: {e}")))?;
    let applied: Applied = serde_json::from_str(result).map_err(|e| bad(format!("result: {e}")))?;
    let row = NewOp::new(&op, &applied)?;
    let ours = (row.kind, row.account, row.amount, row.expires_at);
    if op.op_id() != op_id || applied.op_id != op_id || ours != plain {
        return Err(bad(format!(
            "JSON {ours:?} does not match the columns {plain:?}"
        )));
    }
    Ok((op, applied))
}

/// A stored op as read back: the canonical request and its result as plain
/// columns (no JSON except the free-form memo), enough to rebuild both the
/// [`Op`] (for replay comparison) and the original [`Applied`].
#[derive(Debug, Clone)]
pub(crate) struct StoredOp {
    pub op_id: String,
    pub kind: String,
    /// The account the op touched (a hold's account for post/void).
    pub account: String,
    /// Held amount (reserve), posted amount (post), 0 (void, set_cap), or the amount.
    pub amount: i64,
    pub expires_at: Option<i64>,
    pub at: i64,
    /// The hold a post/void resolves.
    pub pending_id: Option<String>,
    /// The amount a post asked for (`None` = the whole hold).
    pub req_amount: Option<i64>,
    /// New cap of a set_cap.
    pub cap: Option<i64>,
    /// Previous cap of a set_cap.
    pub old_cap: Option<i64>,
    /// Amount a post/void released.
    pub released: Option<i64>,
    pub bal_cap: Option<i64>,
    pub bal_posted: i64,
    pub bal_pending: i64,
    pub determination_id: Option<String>,
    pub regime_digest: Option<String>,
    /// JSON text of the memo.
    pub memo: Option<String>,
}

fn corrupt_op(op_id: &str, detail: &str) -> LedgerError {
    LedgerError::Corrupt {
        what: format!("ops row `{op_id}`"),
        detail: detail.to_owned(),
    }
}

/// Memo as stored: JSON text, with a JSON `null` stored as no memo.
pub(crate) fn memo_json(meta: &Meta) -> Result<Option<String>> {
    Ok(meta
        .memo
        .as_ref()
        .filter(|v| !v.is_null())
        .map(serde_json::to_string)
        .transpose()?)
}

pub(crate) fn meta_of(
    determination_id: Option<String>,
    regime_digest: Option<String>,
    memo: Option<&str>,
) -> Result<Meta> {
    let memo = memo
        .map(serde_json::from_str::<serde_json::Value>)
        .transpose()
        .map_err(|e| LedgerError::Corrupt {
            what: "ops.memo".into(),
            detail: e.to_string(),
        })?;
    Ok(Meta {
        determination_id,
        regime_digest,
        memo,
    })
}

impl StoredOp {
    fn u64_of(&self, v: i64) -> Result<u64> {
        validate::to_u64(&self.op_id, v)
    }

    fn opt_u64(&self, v: Option<i64>) -> Result<Option<u64>> {
        v.map(|v| self.u64_of(v)).transpose()
    }

    fn pending_id(&self) -> Result<String> {
        self.pending_id
            .clone()
            .ok_or_else(|| corrupt_op(&self.op_id, "missing pending_id"))
    }

    fn released(&self) -> Result<u64> {
        let r = self
            .released
            .ok_or_else(|| corrupt_op(&self.op_id, "missing released amount"))?;
        self.u64_of(r)
    }

    /// The op as it was requested.
    pub(crate) fn to_op(&self) -> Result<Op> {
        let op_id = self.op_id.clone();
        let meta = meta_of(
            self.determination_id.clone(),
            self.regime_digest.clone(),
            self.memo.as_deref(),
        )?;
        let account = self.account.clone();
        Ok(match self.kind.as_str() {
            "reserve" => Op::Reserve {
                op_id,
                account,
                amount: self.u64_of(self.amount)?,
                expires_at: self.expires_at.map(Timestamp),
                meta,
            },
            "post" => Op::Post {
                op_id,
                pending_id: self.pending_id()?,
                amount: self.opt_u64(self.req_amount)?,
                meta,
            },
            "void" => Op::Void {
                op_id,
                pending_id: self.pending_id()?,
                meta,
            },
            "attrition" => Op::Attrition {
                op_id,
                account,
                amount: self.u64_of(self.amount)?,
                meta,
            },
            "transfer" => Op::Transfer {
                op_id,
                account,
                amount: self.u64_of(self.amount)?,
                meta,
            },
            "set_cap" => Op::SetCap {
                op_id,
                account,
                cap: self.opt_u64(self.cap)?,
                meta,
            },
            other => return Err(corrupt_op(&self.op_id, &format!("unknown kind `{other}`"))),
        })
    }

    /// The op's original result.
    pub(crate) fn to_applied(&self) -> Result<Applied> {
        let amount = self.u64_of(self.amount)?;
        let result = match self.kind.as_str() {
            "reserve" => OpResult::Reserved {
                pending_id: self.op_id.clone(),
                amount,
                expires_at: self.expires_at.map(Timestamp),
            },
            "post" => OpResult::Posted {
                pending_id: self.pending_id()?,
                amount_posted: amount,
                amount_released: self.released()?,
            },
            "void" => OpResult::Voided {
                pending_id: self.pending_id()?,
                amount_released: self.released()?,
            },
            "attrition" => OpResult::Attrited { amount },
            "transfer" => OpResult::Transferred { amount },
            "set_cap" => OpResult::CapSet {
                old_cap: self.opt_u64(self.old_cap)?,
                new_cap: self.opt_u64(self.cap)?,
            },
            other => return Err(corrupt_op(&self.op_id, &format!("unknown kind `{other}`"))),
        };
        Ok(Applied {
            op_id: self.op_id.clone(),
            account: self.account.clone(),
            at: Timestamp(self.at),
            result,
            balance_after: Balance::new(
                self.opt_u64(self.bal_cap)?,
                self.u64_of(self.bal_posted)?,
                self.u64_of(self.bal_pending)?,
            ),
            replayed: false,
        })
    }
}

/// Row to insert into `ops` (see [`OP_COLS`]). Reservations double as holds (`hold_state`).
#[derive(Debug)]
pub(crate) struct NewOp<'a> {
    pub op_id: &'a str,
    pub kind: &'static str,
    pub account: &'a str,
    pub amount: i64,
    pub expires_at: Option<i64>,
    pub hold_state: Option<&'static str>,
    pub at: i64,
    pub pending_id: Option<&'a str>,
    pub req_amount: Option<i64>,
    pub cap: Option<i64>,
    pub old_cap: Option<i64>,
    pub released: Option<i64>,
    pub bal_cap: Option<i64>,
    pub bal_posted: i64,
    pub bal_pending: i64,
    pub determination_id: Option<&'a str>,
    pub regime_digest: Option<&'a str>,
    pub memo: Option<String>,
}

impl<'a> NewOp<'a> {
    /// The row storing `op` and its result `applied`.
    pub(crate) fn new(op: &'a Op, applied: &'a Applied) -> Result<NewOp<'a>> {
        let id = op.op_id();
        let i = |v: u64| validate::to_i64(id, v);
        let oi = |v: Option<u64>| v.map(i).transpose();
        let (amount, expires_at, pending_id, req_amount, cap, old_cap, released) =
            match (op, &applied.result) {
                (Op::Reserve { expires_at, .. }, OpResult::Reserved { amount, .. }) => (
                    i(*amount)?,
                    expires_at.map(|t| t.0),
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    Op::Post {
                        pending_id, amount, ..
                    },
                    OpResult::Posted {
                        amount_posted,
                        amount_released,
                        ..
                    },
                ) => (
                    i(*amount_posted)?,
                    None,
                    Some(pending_id.as_str()),
                    oi(*amount)?,
                    None,
                    None,
                    Some(i(*amount_released)?),
                ),
                (
                    Op::Void { pending_id, .. },
                    OpResult::Voided {
                        amount_released, ..
                    },
                ) => (
                    0,
                    None,
                    Some(pending_id.as_str()),
                    None,
                    None,
                    None,
                    Some(i(*amount_released)?),
                ),
                (Op::Attrition { .. }, OpResult::Attrited { amount })
                | (Op::Transfer { .. }, OpResult::Transferred { amount }) => {
                    (i(*amount)?, None, None, None, None, None, None)
                }
                (Op::SetCap { .. }, OpResult::CapSet { old_cap, new_cap }) => {
                    (0, None, None, None, oi(*new_cap)?, oi(*old_cap)?, None)
                }
                _ => return Err(corrupt_op(id, "result does not match the op kind")),
            };
        let b = &applied.balance_after;
        let meta = op.meta();
        Ok(NewOp {
            op_id: id,
            kind: op.kind(),
            account: &applied.account,
            amount,
            expires_at,
            hold_state: matches!(op, Op::Reserve { .. }).then_some(HoldState::Pending.as_str()),
            at: applied.at.0,
            pending_id,
            req_amount,
            cap,
            old_cap,
            released,
            bal_cap: oi(b.cap)?,
            bal_posted: i(b.posted)?,
            bal_pending: i(b.pending)?,
            determination_id: meta.determination_id.as_deref(),
            regime_digest: meta.regime_digest.as_deref(),
            memo: memo_json(meta)?,
        })
    }
}

/// Row to append to `entries`.
#[derive(Debug)]
pub(crate) struct NewEntry<'a> {
    pub op_id: Option<&'a str>,
    pub kind: EntryKind,
    pub account: &'a str,
    pub posted_delta: i64,
    pub pending_delta: i64,
    pub cap: Option<i64>,
    pub pending_id: Option<&'a str>,
    pub at: i64,
    /// The business date of the shipment that caused it (none: the recording date).
    pub business_date: Option<&'a str>,
    pub meta: &'a Meta,
}

/// Primitive operations inside one write transaction.
pub(crate) trait TxOps {
    /// Loads (and on PostgreSQL, row-locks in key order) the given accounts.
    /// `keys` is sorted and deduplicated. Missing keys are simply absent.
    fn lock_accounts(&mut self, keys: &[&str]) -> Result<Vec<Account>>;
    /// Holds a shipment's accounts until the transaction ends, in the order given (sorted by
    /// key): those it writes (`true`) for update, those it only read against any change. On
    /// PostgreSQL, `FOR UPDATE` / `FOR SHARE`, so shipments that only read a balance (the country
    /// allocation of every LPP export) do not queue behind each other; on SQLite the IMMEDIATE
    /// transaction already holds the whole database. Missing keys are absent from the result.
    fn hold_accounts(&mut self, keys: &[(&str, bool)]) -> Result<Vec<Account>> {
        let all: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        self.lock_accounts(&all)
    }
    fn insert_account(&mut self, account: &Account) -> Result<()>;
    fn update_account(&mut self, account: &Account) -> Result<()>;
    fn get_op(&mut self, op_id: &str) -> Result<Option<StoredOp>>;
    /// Inserts the op unless its id is already stored; false if it was.
    fn insert_op(&mut self, op: &NewOp<'_>) -> Result<bool>;
    fn get_hold(&mut self, pending_id: &str) -> Result<Option<Hold>>;
    fn set_hold_state(&mut self, pending_id: &str, state: HoldState) -> Result<()>;
    /// Unresolved holds on `account` with `expires_at <= now`.
    fn due_holds(&mut self, account: &str, now: Timestamp) -> Result<Vec<Hold>>;
    /// Accounts with at least one unresolved hold with `expires_at <= now`.
    fn due_accounts(&mut self, now: Timestamp) -> Result<Vec<String>>;
    fn insert_entry(&mut self, entry: &NewEntry<'_>) -> Result<()>;
    fn get_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>>;
    /// Replaces a record's body (tables without an append-only trigger: licenses, applications).
    fn update_record(&mut self, table: RecordTable, id: &str, body: &str) -> Result<()>;
    fn insert_record(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Inserts the record unless its id is stored (then leaves that one as it is).
    fn insert_record_if_absent(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        if self.get_record(table, id)?.is_none() {
            self.insert_record(table, id, body, at)?;
        }
        Ok(())
    }
    /// Inserts a shipment row with its register columns (schema 5).
    fn insert_shipment(
        &mut self,
        cols: &crate::register::Columns,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()>;
}

/// Per-transaction write-back cache of locked accounts.
#[derive(Debug, Default)]
struct Cache {
    slots: HashMap<String, Slot>,
}

#[derive(Debug)]
struct Slot {
    account: Account,
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
    fn slot<'c, T: TxOps + ?Sized>(
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
fn apply_ops_locked<T: TxOps + ?Sized>(
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

fn check_cap(account: &Account, amount: u64) -> Result<()> {
    if let Some(cap) = account.cap {
        // u128: the sum of three u64 cannot overflow.
        let used = u128::from(account.posted) + u128::from(account.pending) + u128::from(amount);
        if used > u128::from(cap) {
            return Err(LedgerError::ExceedsCap {
                account: account.key.clone(),
                cap,
                posted: account.posted,
                pending: account.pending,
                amount,
            });
        }
    }
    Ok(())
}

fn add(account: &Account, a: u64, b: u64) -> Result<u64> {
    let sum = a.checked_add(b).ok_or_else(|| LedgerError::Overflow {
        account: account.key.clone(),
    })?;
    validate::to_i64(&account.key, sum)?;
    Ok(sum)
}

fn sub(account: &Account, a: u64, b: u64) -> Result<u64> {
    a.checked_sub(b).ok_or_else(|| LedgerError::Corrupt {
        what: format!("account `{}`", account.key),
        detail: format!("balance {a} below {b}"),
    })
}

/// What one op does, computed before anything is written.
struct Effect {
    account: String,
    result: OpResult,
    entry_kind: EntryKind,
    posted_delta: i64,
    pending_delta: i64,
    /// `Some(cap)` for cap entries (`cap` itself `None` = uncapped).
    cap_entry: Option<Option<i64>>,
    pending_id: Option<String>,
    /// New state of the hold `pending_id` (post/void).
    hold_state: Option<HoldState>,
    /// The account's cap, posted and pending after the op.
    cap: Option<u64>,
    posted: u64,
    pending: u64,
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

/// Computes what `op` would do. Writes nothing (the account's expiry sweep
/// happens in memory, see [`Slot::expiring`]).
fn plan<T: TxOps + ?Sized>(
    tx: &mut T,
    cache: &mut Cache,
    op: &Op,
    now: Timestamp,
) -> Result<Effect> {
    let op_id = op.op_id();
    Ok(match op {
        Op::Reserve {
            account,
            amount,
            expires_at,
            ..
        } => {
            if let Some(expires_at) = *expires_at
                && expires_at <= now
            {
                return Err(LedgerError::ExpiryNotInFuture {
                    op_id: op_id.to_owned(),
                    expires_at,
                    now,
                });
            }
            let a = &cache.slot(tx, account, now)?.account;
            check_cap(a, *amount)?;
            let pending = add(a, a.pending, *amount)?;
            Effect {
                account: account.clone(),
                result: OpResult::Reserved {
                    pending_id: op_id.to_owned(),
                    amount: *amount,
                    expires_at: *expires_at,
                },
                entry_kind: EntryKind::Reserve,
                posted_delta: 0,
                pending_delta: validate::to_i64(op_id, *amount)?,
                cap_entry: None,
                pending_id: Some(op_id.to_owned()),
                hold_state: None,
                cap: a.cap,
                posted: a.posted,
                pending,
            }
        }
        Op::Post { pending_id, .. } | Op::Void { pending_id, .. } => {
            let hold = tx
                .get_hold(pending_id)?
                .ok_or_else(|| LedgerError::UnknownPending {
                    pending_id: pending_id.clone(),
                })?;
            // Loading the slot sweeps the account, which expires this hold if it is due.
            let a = &cache.slot(tx, &hold.account, now)?.account;
            let expired_now =
                hold.state == HoldState::Pending && hold.expires_at.is_some_and(|e| e <= now);
            match hold.state {
                HoldState::Pending if !expired_now => {}
                HoldState::Posted => {
                    return Err(LedgerError::AlreadyPosted {
                        pending_id: pending_id.clone(),
                    });
                }
                HoldState::Voided => {
                    return Err(LedgerError::AlreadyVoided {
                        pending_id: pending_id.clone(),
                    });
                }
                HoldState::Pending | HoldState::Expired => {
                    return Err(LedgerError::AlreadyExpired {
                        pending_id: pending_id.clone(),
                        expires_at: hold.expires_at.unwrap_or(now),
                    });
                }
            }
            let held_i = validate::to_i64(pending_id, hold.amount)?;
            let (result, entry_kind, posted_amount, state) = match op {
                Op::Post { amount, .. } => {
                    let amount = amount.unwrap_or(hold.amount);
                    if amount > hold.amount {
                        return Err(LedgerError::PostExceedsPending {
                            pending_id: pending_id.clone(),
                            held: hold.amount,
                            amount,
                        });
                    }
                    let result = OpResult::Posted {
                        pending_id: pending_id.clone(),
                        amount_posted: amount,
                        amount_released: hold.amount - amount,
                    };
                    (result, EntryKind::Post, amount, HoldState::Posted)
                }
                _ => {
                    let result = OpResult::Voided {
                        pending_id: pending_id.clone(),
                        amount_released: hold.amount,
                    };
                    (result, EntryKind::Void, 0, HoldState::Voided)
                }
            };
            let posted = add(a, a.posted, posted_amount)?;
            let pending = sub(a, a.pending, hold.amount)?;
            Effect {
                result,
                entry_kind,
                posted_delta: validate::to_i64(op_id, posted_amount)?,
                pending_delta: -held_i,
                cap_entry: None,
                pending_id: Some(pending_id.clone()),
                hold_state: Some(state),
                cap: a.cap,
                posted,
                pending,
                account: hold.account,
            }
        }
        Op::Attrition {
            account, amount, ..
        } => {
            let a = &cache.slot(tx, account, now)?.account;
            if *amount > a.posted {
                return Err(LedgerError::AttritionExceedsPosted {
                    account: account.clone(),
                    posted: a.posted,
                    amount: *amount,
                });
            }
            Effect {
                account: account.clone(),
                result: OpResult::Attrited { amount: *amount },
                entry_kind: EntryKind::Attrition,
                posted_delta: -validate::to_i64(op_id, *amount)?,
                pending_delta: 0,
                cap_entry: None,
                pending_id: None,
                hold_state: None,
                cap: a.cap,
                posted: a.posted - *amount,
                pending: a.pending,
            }
        }
        Op::Transfer {
            account, amount, ..
        } => {
            let a = &cache.slot(tx, account, now)?.account;
            check_cap(a, *amount)?;
            Effect {
                account: account.clone(),
                result: OpResult::Transferred { amount: *amount },
                entry_kind: EntryKind::Transfer,
                posted_delta: validate::to_i64(op_id, *amount)?,
                pending_delta: 0,
                cap_entry: None,
                pending_id: None,
                hold_state: None,
                cap: a.cap,
                posted: add(a, a.posted, *amount)?,
                pending: a.pending,
            }
        }
        Op::SetCap { account, cap, .. } => {
            let a = &cache.slot(tx, account, now)?.account;
            if let Some(new_cap) = *cap {
                let used = u128::from(a.posted) + u128::from(a.pending);
                if u128::from(new_cap) < used {
                    return Err(LedgerError::CapBelowUsage {
                        account: account.clone(),
                        new_cap,
                        posted: a.posted,
                        pending: a.pending,
                    });
                }
            }
            Effect {
                account: account.clone(),
                result: OpResult::CapSet {
                    old_cap: a.cap,
                    new_cap: *cap,
                },
                entry_kind: EntryKind::Cap,
                posted_delta: 0,
                pending_delta: 0,
                cap_entry: Some(cap.map(|c| validate::to_i64(account, c)).transpose()?),
                pending_id: None,
                hold_state: None,
                cap: *cap,
                posted: a.posted,
                pending: a.pending,
            }
        }
    })
}

/// Idempotent replay: identical fields return the original result, anything
/// else names the first differing field.
fn replay(op: &Op, stored: &StoredOp) -> Result<Applied> {
    let original = stored.to_op()?;
    if let Some(field) = first_diff(&original, op) {
        return Err(LedgerError::OpExists {
            op_id: op.op_id().to_owned(),
            field,
        });
    }
    let mut applied = stored.to_applied()?;
    applied.replayed = true;
    Ok(applied)
}

fn meta_diff(a: &Meta, b: &Meta) -> Option<&'static str> {
    if a.determination_id != b.determination_id {
        Some("determination_id")
    } else if a.regime_digest != b.regime_digest {
        Some("regime_digest")
    } else if a.memo.as_ref().filter(|v| !v.is_null()) != b.memo.as_ref().filter(|v| !v.is_null()) {
        // A JSON `null` memo is stored as no memo.
        Some("memo")
    } else {
        None
    }
}

/// First field (in declaration order) in which two ops differ.
pub(crate) fn first_diff(a: &Op, b: &Op) -> Option<&'static str> {
    fn first(checks: &[(bool, &'static str)]) -> Option<&'static str> {
        checks
            .iter()
            .find(|(differs, _)| *differs)
            .map(|(_, name)| *name)
    }
    match (a, b) {
        (
            Op::Reserve {
                account: a1,
                amount: m1,
                expires_at: e1,
                meta: x1,
                ..
            },
            Op::Reserve {
                account: a2,
                amount: m2,
                expires_at: e2,
                meta: x2,
                ..
            },
        ) => first(&[
            (a1 != a2, "account"),
            (m1 != m2, "amount"),
            (e1 != e2, "expires_at"),
        ])
        .or_else(|| meta_diff(x1, x2)),
        (
            Op::Post {
                pending_id: p1,
                amount: m1,
                meta: x1,
                ..
            },
            Op::Post {
                pending_id: p2,
                amount: m2,
                meta: x2,
                ..
            },
        ) => first(&[(p1 != p2, "pending_id"), (m1 != m2, "amount")]).or_else(|| meta_diff(x1, x2)),
        (
            Op::Void {
                pending_id: p1,
                meta: x1,
                ..
            },
            Op::Void {
                pending_id: p2,
                meta: x2,
                ..
            },
        ) => first(&[(p1 != p2, "pending_id")]).or_else(|| meta_diff(x1, x2)),
        (
            Op::Attrition {
                account: a1,
                amount: m1,
                meta: x1,
                ..
            },
            Op::Attrition {
                account: a2,
                amount: m2,
                meta: x2,
                ..
            },
        )
        | (
            Op::Transfer {
                account: a1,
                amount: m1,
                meta: x1,
                ..
            },
            Op::Transfer {
                account: a2,
                amount: m2,
                meta: x2,
                ..
            },
        ) => first(&[(a1 != a2, "account"), (m1 != m2, "amount")]).or_else(|| meta_diff(x1, x2)),
        (
            Op::SetCap {
                account: a1,
                cap: c1,
                meta: x1,
                ..
            },
            Op::SetCap {
                account: a2,
                cap: c2,
                meta: x2,
                ..
            },
        ) => first(&[(a1 != a2, "account"), (c1 != c2, "cap")]).or_else(|| meta_diff(x1, x2)),
        _ => Some("kind"),
    }
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

/// Inserts a JSON record, or checks that the stored one is identical.
fn put_record<T: TxOps + ?Sized, R>(
    tx: &mut T,
    table: RecordTable,
    record: &'static str,
    id: &str,
    value: &R,
    diff: impl Fn(&R, &R) -> Option<&'static str>,
    now: Timestamp,
) -> Result<bool>
where
    R: serde::Serialize + serde::de::DeserializeOwned,
{
    if let Some(body) = tx.get_record(table, id)? {
        let stored: R = serde_json::from_str(&body)?;
        return match diff(&stored, value) {
            Some(field) => Err(LedgerError::RecordExists {
                record,
                id: id.to_owned(),
                field,
            }),
            None => Ok(false),
        };
    }
    tx.insert_record(table, id, &serde_json::to_string(value)?, now)?;
    Ok(true)
}

fn first_of(checks: &[(bool, &'static str)]) -> Option<&'static str> {
    checks
        .iter()
        .find(|(differs, _)| *differs)
        .map(|(_, name)| *name)
}

/// Records a license and opens its TPP and units accounts, and its value account when it has a
/// value cap (idempotent).
pub(crate) fn add_license<T: TxOps + ?Sized>(
    tx: &mut T,
    license: &License,
    now: Timestamp,
) -> Result<License> {
    validate::record_id("license id", &license.id)?;
    validate::text("consignee", &license.consignee)?;
    validate::country("destination country", &license.destination_country)?;
    for item in &license.allowed_item_ids {
        validate::text("allowed item id", item)?;
    }
    validate::date("granted date", &license.granted_on)?;
    validate::date("expiry date", &license.expires_on)?;
    if license.expires_on < license.granted_on {
        return Err(LedgerError::InvalidField {
            field: "expiry date",
            value: license.expires_on.clone(),
            reason: "must not precede the granted date",
        });
    }
    validate::to_i64("license tpp cap", license.tpp_cap)?;
    validate::to_i64("license units cap", license.units_cap)?;
    if let Some(cap) = license.value_cap_cents {
        validate::to_i64("license value cap", cap)?;
    }
    for (field, cap) in [
        ("license tpp cap", license.tpp_cap),
        ("license units cap", license.units_cap),
    ] {
        if cap == 0 {
            return Err(LedgerError::InvalidField {
                field,
                value: "0".into(),
                reason: "a license authorizes at least one unit and some TPP",
            });
        }
    }
    let diff = |a: &License, b: &License| {
        first_of(&[
            (a.consignee != b.consignee, "consignee"),
            (
                a.destination_country != b.destination_country,
                "destination_country",
            ),
            (a.allowed_item_ids != b.allowed_item_ids, "allowed_item_ids"),
            (a.units_cap != b.units_cap, "units_cap"),
            (a.tpp_cap != b.tpp_cap, "tpp_cap"),
            (a.granted_on != b.granted_on, "granted_on"),
            (a.expires_on != b.expires_on, "expires_on"),
            (
                a.beyond_allocation != b.beyond_allocation,
                "beyond_allocation",
            ),
            (a.value_usd != b.value_usd, "value_usd"),
            (a.value_cap_cents != b.value_cap_cents, "value_cap_cents"),
        ])
    };
    if put_record(
        tx,
        RecordTable::Licenses,
        "license",
        &license.id,
        license,
        diff,
        now,
    )? {
        ensure_account(
            tx,
            &license.tpp_account(),
            AccountKind::LicenseTpp,
            Some(license.tpp_cap),
            now,
        )?;
        ensure_account(
            tx,
            &license.units_account(),
            AccountKind::LicenseUnits,
            Some(license.units_cap),
            now,
        )?;
        if let Some(cap) = license.value_cap_cents {
            ensure_account(
                tx,
                &license.value_account(),
                AccountKind::LicenseValue,
                Some(cap),
                now,
            )?;
        }
    }
    Ok(license.clone())
}

/// Records a validated end user (idempotent).
pub(crate) fn add_veu<T: TxOps + ?Sized>(tx: &mut T, veu: &Veu, now: Timestamp) -> Result<Veu> {
    validate::record_id("veu id", &veu.id)?;
    validate::text("owner", &veu.owner)?;
    validate::country("hq country", &veu.hq_country)?;
    let mut site_ids = HashSet::new();
    for site in &veu.sites {
        validate::record_id("site id", &site.id)?;
        validate::country("site country", &site.country)?;
        if !site_ids.insert(site.id.as_str()) {
            return Err(LedgerError::InvalidField {
                field: "site id",
                value: site.id.clone(),
                reason: "duplicate site id",
            });
        }
    }
    let diff = |a: &Veu, b: &Veu| {
        first_of(&[
            (a.kind != b.kind, "kind"),
            (a.owner != b.owner, "owner"),
            (a.hq_country != b.hq_country, "hq_country"),
            (a.sites != b.sites, "sites"),
        ])
    };
    put_record(tx, RecordTable::Veus, "veu", &veu.id, veu, diff, now)?;
    Ok(veu.clone())
}

/// Records a government-to-government arrangement (one per country, idempotent).
pub(crate) fn add_g2g<T: TxOps + ?Sized>(
    tx: &mut T,
    g2g: &G2gArrangement,
    now: Timestamp,
) -> Result<G2gArrangement> {
    validate::country("country", &g2g.country)?;
    validate::date("arrangement date", &g2g.date)?;
    let diff = |a: &G2gArrangement, b: &G2gArrangement| first_of(&[(a.date != b.date, "date")]);
    put_record(tx, RecordTable::G2g, "g2g", &g2g.country, g2g, diff, now)?;
    Ok(g2g.clone())
}

/// A shipment to record: the determination, the ops it authorised, and what they rest on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewShipment {
    /// Shipment id (the idempotency key for the whole shipment).
    pub shipment_id: String,
    /// Digest of the client's request: a replay with another digest is
    /// [`LedgerError::ShipmentConflict`].
    pub input_digest: String,
    /// The determination (opaque JSON from aidf-core).
    pub determination: serde_json::Value,
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
fn hold_shipment_accounts<T: TxOps + ?Sized>(
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
fn compare_balances<T: TxOps + ?Sized>(
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
fn prepare_accounts<T: TxOps + ?Sized>(
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
fn register_parties<T: TxOps + ?Sized>(
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
pub(crate) fn record_shipment<T: TxOps + ?Sized>(
    tx: &mut T,
    s: &NewShipment,
    now: Timestamp,
) -> Result<Shipment> {
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
        return Ok(stored);
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
    let shipment = Shipment {
        shipment_id: s.shipment_id.clone(),
        input_digest: s.input_digest.clone(),
        determination: s.determination.clone(),
        status: s.status,
        applied,
        recorded_at: now,
        tenant: s.tenant.clone(),
        business_date: s.business_date.clone(),
        backfill: s.backfill,
        replayed: false,
    };
    tx.insert_shipment(
        &crate::register::Columns::of(&shipment),
        &s.shipment_id,
        &serde_json::to_string(&shipment)?,
        now,
    )?;
    Ok(shipment)
}

/// Refuses a write whose `seq` is not the number of changes stored under `id` in `table`
/// (`<id>/<seq:06>` ids): another writer changed the record since the caller read it.
fn check_seq<T: TxOps + ?Sized>(
    tx: &mut T,
    table: RecordTable,
    record: &'static str,
    id: &str,
    seq: u32,
) -> Result<String> {
    let this = format!("{id}/{seq:06}");
    let before_missing = match seq.checked_sub(1) {
        Some(prev) => tx.get_record(table, &format!("{id}/{prev:06}"))?.is_none(),
        None => false,
    };
    if before_missing || tx.get_record(table, &this)?.is_some() {
        return Err(LedgerError::StaleRecord {
            record,
            id: id.to_owned(),
            expected: seq,
        });
    }
    Ok(this)
}

/// Records an application's transition (see [`crate::ApplicationWrite`]): compares the balances
/// its determination read, records the license of an approval, applies the hold's ops, stores
/// the application's state and appends the transition, all in the caller's transaction.
pub(crate) fn write_application<T: TxOps + ?Sized>(
    tx: &mut T,
    w: &crate::ApplicationWrite,
    now: Timestamp,
) -> Result<Vec<Applied>> {
    validate::record_id("application id", &w.id)?;
    let tid = check_seq(
        tx,
        RecordTable::ApplicationTransitions,
        "application",
        &w.id,
        w.seq,
    )?;
    let stored = tx.get_record(RecordTable::Applications, &w.id)?;
    match (w.seq, stored.is_some()) {
        (0, true) => {
            return Err(LedgerError::RecordExists {
                record: "application",
                id: w.id.clone(),
                field: "id",
            });
        }
        (1.., false) => {
            return Err(LedgerError::UnknownRecord {
                record: "application",
                id: w.id.clone(),
            });
        }
        _ => {}
    }
    let view = NewShipment {
        shipment_id: w.id.clone(),
        accounts: w.accounts.clone(),
        ops: w.ops.clone(),
        expected: w.expected.clone(),
        ..NewShipment::default()
    };
    let mut held = hold_shipment_accounts(tx, &view)?;
    compare_balances(tx, &w.expected, &held, now)?;
    register_parties(tx, &w.parties, now)?;
    if let Some(l) = &w.license {
        add_license(tx, l, now)?;
        // The license opened accounts of its own: read what the ops will find.
        held = hold_shipment_accounts(tx, &view)?;
    }
    let applied = if w.ops.is_empty() {
        Vec::new()
    } else {
        let mut ops = prepare_accounts(tx, &view, &held, now)?;
        let cap_ops = ops.len();
        ops.extend(w.ops.iter().cloned());
        let mut applied = apply_ops(tx, &ops, now, None)?;
        applied.drain(..cap_ops);
        applied
    };
    let body = serde_json::to_string(&w.body)?;
    if w.seq == 0 {
        tx.insert_record(RecordTable::Applications, &w.id, &body, now)?;
    } else {
        tx.update_record(RecordTable::Applications, &w.id, &body)?;
    }
    let transition = serde_json::to_string(&w.transition)?;
    tx.insert_record(RecordTable::ApplicationTransitions, &tid, &transition, now)?;
    Ok(applied)
}

/// Records a change to a license (see [`crate::LicenseChange`]): the license's new state, its
/// caps set on its accounts, and the change appended, in the caller's transaction.
pub(crate) fn change_license<T: TxOps + ?Sized>(
    tx: &mut T,
    c: &crate::LicenseChange,
    now: Timestamp,
) -> Result<License> {
    let l = &c.license;
    let Some(body) = tx.get_record(RecordTable::Licenses, &l.id)? else {
        return Err(LedgerError::UnknownRecord {
            record: "license",
            id: l.id.clone(),
        });
    };
    let stored: License = serde_json::from_str(&body)?;
    let cid = check_seq(tx, RecordTable::LicenseChanges, "license", &l.id, c.seq)?;
    validate::date("change date", &c.date)?;
    validate::date("expiry date", &l.expires_on)?;
    if l.expires_on < l.granted_on {
        return Err(LedgerError::InvalidField {
            field: "expiry date",
            value: l.expires_on.clone(),
            reason: "must not precede the granted date",
        });
    }
    if stored.status == crate::LicenseStatus::Revoked {
        return Err(LedgerError::InvalidField {
            field: "license",
            value: l.id.clone(),
            reason: "a revoked license cannot be changed",
        });
    }
    let mut ops = Vec::new();
    for (suffix, key, old, new) in [
        ("tpp", l.tpp_account(), stored.tpp_cap, l.tpp_cap),
        ("units", l.units_account(), stored.units_cap, l.units_cap),
    ] {
        if new == 0 {
            return Err(LedgerError::InvalidField {
                field: "license cap",
                value: "0".into(),
                reason: "a license authorizes at least one unit and some TPP",
            });
        }
        if old != new {
            ops.push(Op::SetCap {
                op_id: format!("license:{}:change:{}:{suffix}", l.id, c.seq),
                account: key,
                cap: Some(new),
                meta: Meta::default(),
            });
        }
    }
    if !ops.is_empty() {
        apply_ops(tx, &ops, now, None)?;
    }
    tx.update_record(RecordTable::Licenses, &l.id, &serde_json::to_string(l)?)?;
    tx.insert_record(
        RecordTable::LicenseChanges,
        &cid,
        &serde_json::to_string(c)?,
        now,
    )?;
    Ok(l.clone())
}
