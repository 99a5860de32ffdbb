//! Ops and history entries as stored: the `ops` columns, the v1 upgrade, reading a row back
//! into its op and result, and the rows to insert.

use crate::error::{LedgerError, Result};
use crate::types::{Applied, Balance, EntryKind, HoldState, Meta, Op, OpResult, Timestamp};
use crate::validate;

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

pub(super) fn corrupt_op(op_id: &str, detail: &str) -> LedgerError {
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
