//! Upgrading ledgers recorded before consignee accounts were keyed by tenant and party id.
//!
//! Until 2026-11-30 a consignee's accounts were keyed by a slug of its name that kept only ASCII
//! letters and digits (`lpp:MY:acme-sdn-bhd:2025`, `aia:MY:acme`, `nveu:VA1:MY`): every non-Latin
//! name became `unnamed`, and tenants shared accounts. [`rekey_legacy_accounts`] moves what such an
//! account holds to the accounts the determination names today, shipment by shipment: each entry
//! made by a recorded shipment goes to the account that shipment's stored input reads
//! ([`balance_reads`]), by a transfer into the new account and an attrition of the old one, in one
//! ledger batch per old account (idempotent op ids, so a rerun does nothing). What no shipment made
//! (manual reservations, transfers) stays on the old account and is reported.

use aidf_core::{AccountRef, DeterminationInput, Policy, balance_reads};
use aidf_ledger::{Account, LedgerError, LedgerStore, Meta, Op, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What an upgrade moved and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// (old key, new key, TPP moved).
    pub moved: Vec<(String, String, u64)>,
    /// Old accounts with TPP no recorded shipment explains, left in place: (key, TPP).
    pub left: Vec<(String, i64)>,
}

/// Whether `key` is in the format before tenants and party ids.
fn is_legacy(key: &str) -> bool {
    let parts: Vec<&str> = key.split(':').collect();
    !key.contains('@')
        && match parts.first() {
            Some(&"lpp") => parts.len() == 4,
            Some(&"aia") | Some(&"nveu") => parts.len() == 3,
            _ => false,
        }
}

/// The tenant a legacy shipment belongs to: the one recorded with it, or the server's namespace
/// prefix of its id (`acme.order-1`), or the CLI's `local`.
fn tenant_of(shipment_id: &str, recorded: Option<&str>) -> String {
    if let Some(t) = recorded {
        return t.to_string();
    }
    match shipment_id.split_once('.') {
        Some((t, _)) if !t.is_empty() => t.to_string(),
        _ => "local".to_string(),
    }
}

/// The account of the same kind that `input` reads today.
fn successor(policy: &Policy, input: &DeterminationInput, old: &str) -> Option<AccountRef> {
    let reads = balance_reads(policy, input).ok()?;
    match old.split(':').next() {
        Some("lpp") => reads.lpp,
        Some("aia") => Some(reads.aia),
        Some("nveu") => reads.nveu,
        _ => None,
    }
}

/// Moves every legacy consignee account's shipment entries to today's accounts.
pub fn rekey_legacy_accounts(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    now: Timestamp,
) -> Result<RekeyReport, LedgerError> {
    let mut report = RekeyReport::default();
    let legacy: Vec<Account> = store
        .accounts()?
        .into_iter()
        .filter(|a| is_legacy(&a.key) && a.posted > 0)
        .collect();
    for old in legacy {
        let (moves, unexplained) = pending_moves(store, policy, &old)?;
        if unexplained != 0 {
            report.left.push((old.key.clone(), unexplained));
        }
        let mut ops = Vec::new();
        let mut remaining = old.posted;
        for m in moves {
            let amount = m.amount.min(remaining);
            if amount == 0 {
                continue;
            }
            remaining -= amount;
            if store.account(&m.to).is_err() {
                store.ensure_account(&m.to, old.kind, old.cap, now)?;
            }
            let meta = Meta {
                determination_id: Some(m.shipment_id.clone()),
                memo: Some(serde_json::json!({"rekeyed_from": old.key})),
                ..Meta::default()
            };
            ops.push(Op::Transfer {
                op_id: format!("{}:in", m.op_base),
                account: m.to.clone(),
                amount,
                meta: meta.clone(),
            });
            ops.push(Op::Attrition {
                op_id: format!("{}:out", m.op_base),
                account: old.key.clone(),
                amount,
                meta,
            });
            report.moved.push((old.key.clone(), m.to, amount));
        }
        if !ops.is_empty() {
            store.apply_batch(&ops, now)?;
        }
    }
    Ok(report)
}

/// One shipment's draw on a legacy account, still to move.
struct Move {
    shipment_id: String,
    to: String,
    amount: u64,
    /// Op ids are this plus `:in` / `:out`: the same on every run, so a moved draw is known.
    op_base: String,
}

fn op_base(old: &str, shipment_id: &str) -> String {
    let digest = Sha256::digest(format!("{old}\u{1f}{shipment_id}").as_bytes());
    format!("rekey:{}", aidf_ledger::audit::hex(&digest[..16]))
}

/// The legacy account's shipment draws not yet moved, each with the account its shipment's
/// input reads today, and the posted TPP no recorded shipment explains.
fn pending_moves(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    old: &Account,
) -> Result<(Vec<Move>, i64), LedgerError> {
    let mut moves = Vec::new();
    let mut unexplained: i64 = 0;
    for e in store.history(&old.key)? {
        let is_rekey = e
            .op_id
            .as_deref()
            .is_some_and(|id| id.starts_with("rekey:"));
        if e.posted_delta <= 0 || is_rekey {
            continue;
        }
        let Some(id) = e.meta.determination_id.clone() else {
            unexplained += e.posted_delta;
            continue;
        };
        let base = op_base(&old.key, &id);
        if store.op(&format!("{base}:in"))?.is_some() {
            continue;
        }
        let to = store.shipment(&id)?.and_then(|s| {
            let input: DeterminationInput =
                serde_json::from_value(s.determination.to_value()["input"].take()).ok()?;
            let account = successor(policy, &input, &old.key)?;
            Some(account.ledger_key(&tenant_of(&id, s.tenant.as_deref())))
        });
        match (to, u64::try_from(e.posted_delta)) {
            (Some(to), Ok(amount)) => moves.push(Move {
                shipment_id: id,
                to,
                amount,
                op_base: base,
            }),
            _ => unexplained += e.posted_delta,
        }
    }
    Ok((moves, unexplained))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_keys_are_told_from_todays() {
        assert!(is_legacy("lpp:MY:acme-sdn-bhd:2025"));
        assert!(is_legacy("aia:MY:unnamed"));
        assert!(is_legacy("nveu:VA1:MY"));
        assert!(!is_legacy("lpp:acme@p0123:2025"));
        assert!(!is_legacy("nveu:local@VA1:MY"));
        assert!(!is_legacy("country:MY:2025-2027"));
        assert!(!is_legacy("license:L1:tpp"));
    }

    #[test]
    fn tenants_come_from_the_record_or_the_id() {
        assert_eq!(tenant_of("acme.order-1", None), "acme");
        assert_eq!(tenant_of("ship-1", None), "local");
        assert_eq!(tenant_of("acme.order-1", Some("globex")), "globex");
    }
}
