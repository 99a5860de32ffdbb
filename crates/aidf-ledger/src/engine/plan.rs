//! What one op would do before anything is written, and idempotent replay of a stored op.

use crate::error::{LedgerError, Result};
use crate::types::{Account, Applied, EntryKind, HoldState, Meta, Op, OpResult, Timestamp};
use crate::validate;

use super::TxOps;
use super::apply::Cache;
use super::rows::StoredOp;

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
pub(super) struct Effect {
    pub(super) account: String,
    pub(super) result: OpResult,
    pub(super) entry_kind: EntryKind,
    pub(super) posted_delta: i64,
    pub(super) pending_delta: i64,
    /// `Some(cap)` for cap entries (`cap` itself `None` = uncapped).
    pub(super) cap_entry: Option<Option<i64>>,
    pub(super) pending_id: Option<String>,
    /// New state of the hold `pending_id` (post/void).
    pub(super) hold_state: Option<HoldState>,
    /// The account's cap, posted and pending after the op.
    pub(super) cap: Option<u64>,
    pub(super) posted: u64,
    pub(super) pending: u64,
}

/// Computes what `op` would do. Writes nothing (the account's expiry sweep
/// happens in memory, see [`Slot::expiring`]).
pub(super) fn plan<T: TxOps + ?Sized>(
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
pub(super) fn replay(op: &Op, stored: &StoredOp) -> Result<Applied> {
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
