//! Draws planned but not yet recorded, counted by the planner on top of the balances it reads.
//!
//! The server determines shipments on a reader connection ([`crate::prepare`]) while its writer
//! records earlier plans. A shipment planned behind another to the same consignee would read the
//! consignee's balance before the other's draw and be refused by the ledger at commit (the
//! balance moved), then be determined a second time on the writer. With the draws still in flight
//! added to what it reads, its plan usually holds.
//!
//! This is only a forecast: the ledger still compares every balance a plan read when it records
//! it, so a wrong forecast (a plan refused at commit, or counted twice in a short race with a
//! commit) costs a second determination, never a wrong answer.

use std::collections::{HashMap, VecDeque};

use aidf_ledger::{Account, AccountKind, NewShipment, Op, Timestamp};

/// The draws of plans handed to the writer, by the sequence number of their hand-off.
#[derive(Debug, Default)]
pub struct InFlight {
    /// Each plan's transfers (account, TPP or units), oldest first.
    plans: VecDeque<(u64, Vec<(String, u64)>)>,
    /// Per account: the sum of its transfers in `plans`, and how a plan opens it.
    totals: HashMap<String, (u64, Option<Opens>)>,
}

/// The kind and cap a plan opens an account with.
type Opens = (AccountKind, Option<u64>);

impl InFlight {
    /// Counts the transfers of `shipment`, handed to the writer as number `seq` (increasing).
    pub fn add(&mut self, seq: u64, shipment: &NewShipment) {
        debug_assert!(self.plans.back().is_none_or(|(last, _)| *last < seq));
        let mut draws = Vec::new();
        for op in &shipment.ops {
            let Op::Transfer {
                account, amount, ..
            } = op
            else {
                continue;
            };
            let opens = shipment
                .accounts
                .iter()
                .find(|a| a.key == *account)
                .map(|a| (a.kind, a.cap));
            let total = self.totals.entry(account.clone()).or_insert((0, None));
            total.0 = total.0.saturating_add(*amount);
            total.1 = total.1.or(opens);
            draws.push((account.clone(), *amount));
        }
        if !draws.is_empty() {
            self.plans.push_back((seq, draws));
        }
    }

    /// Forgets the plans up to number `seq`: the writer has committed (or failed) them, so a
    /// snapshot begun after it knew that shows what they drew.
    pub fn settled(&mut self, seq: u64) {
        while self.plans.front().is_some_and(|(s, _)| *s <= seq) {
            let Some((_, draws)) = self.plans.pop_front() else {
                break;
            };
            for (account, amount) in draws {
                if let Some(total) = self.totals.get_mut(&account) {
                    total.0 = total.0.saturating_sub(amount);
                    if total.0 == 0 {
                        self.totals.remove(&account);
                    }
                }
            }
        }
    }

    /// Plans still counted.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether no plan is counted.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// Adds the draws in flight to the balances of `keys` as read (`accounts`, in the order of
    /// `keys`); an account a plan in flight opens is counted as opened.
    pub(crate) fn add_to(&self, keys: &[&str], accounts: &mut [Option<Account>], now: Timestamp) {
        debug_assert_eq!(keys.len(), accounts.len());
        for (key, account) in keys.iter().zip(accounts.iter_mut()) {
            let Some(&(amount, opens)) = self.totals.get(*key) else {
                continue;
            };
            if account.is_none() {
                let Some((kind, cap)) = opens else { continue };
                *account = Some(Account {
                    key: (*key).to_string(),
                    kind,
                    cap,
                    posted: 0,
                    pending: 0,
                    created_at: now,
                });
            }
            if let Some(a) = account.as_mut() {
                a.posted = a.posted.saturating_add(amount);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aidf_ledger::{AccountSpec, Meta};

    use super::*;

    fn shipment(draws: &[(&str, u64)]) -> NewShipment {
        NewShipment {
            ops: draws
                .iter()
                .map(|(account, amount)| Op::Transfer {
                    op_id: format!("{account}:{amount}"),
                    account: (*account).to_string(),
                    amount: *amount,
                    meta: Meta::default(),
                })
                .collect(),
            accounts: vec![AccountSpec {
                key: "lpp:t@p1:2025".into(),
                kind: AccountKind::Lpp,
                cap: Some(26_900_000),
            }],
            ..NewShipment::default()
        }
    }

    fn read(f: &InFlight, keys: &[&str], stored: Vec<Option<Account>>) -> Vec<Option<u64>> {
        let mut accounts = stored;
        f.add_to(keys, &mut accounts, Timestamp(0));
        accounts
            .iter()
            .map(|a| a.as_ref().map(|a| a.posted))
            .collect()
    }

    #[test]
    fn draws_in_flight_add_up_until_settled() {
        let mut f = InFlight::default();
        let keys = ["lpp:t@p1:2025", "country:MY:2025-2027"];
        f.add(1, &shipment(&[("lpp:t@p1:2025", 100)]));
        f.add(
            2,
            &shipment(&[("lpp:t@p1:2025", 30), ("country:MY:2025-2027", 7)]),
        );
        let stored = Account {
            key: "country:MY:2025-2027".into(),
            kind: AccountKind::CountryAllocation,
            cap: Some(1_000),
            posted: 500,
            pending: 0,
            created_at: Timestamp(0),
        };
        // The consignee's account is opened by the first plan: counted as opened, with its cap.
        assert_eq!(
            read(&f, &keys, vec![None, Some(stored.clone())]),
            vec![Some(130), Some(507)]
        );
        let mut opened = vec![None];
        f.add_to(&keys[..1], &mut opened, Timestamp(0));
        assert_eq!(
            opened[0].as_ref().map(|a| (a.kind, a.cap)),
            Some((AccountKind::Lpp, Some(26_900_000)))
        );
        f.settled(1);
        assert_eq!(f.len(), 1);
        assert_eq!(
            read(&f, &keys, vec![None, Some(stored.clone())]),
            vec![Some(30), Some(507)]
        );
        f.settled(5);
        assert!(f.is_empty());
        assert_eq!(
            read(&f, &keys, vec![None, Some(stored)]),
            vec![None, Some(500)]
        );
    }
}
