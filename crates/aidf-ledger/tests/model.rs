//! Model check: random op sequences against a simple in-memory model
//! (SQLite backend); results, errors and balances must agree exactly.

mod common;

use std::collections::HashMap;

use aidf_ledger::{
    AccountKind, Applied, Balance, LedgerError, LedgerStore, Meta, Op, OpResult, Timestamp,
};
use common::{Backend, T0};
use proptest::prelude::*;

const KEYS: [&str; 3] = ["country:MY:2025-2027", "lpp:acme:2025", "aia:acme"];
const CAPS: [Option<u64>; 3] = [Some(1000), Some(300), None];

#[derive(Debug, Clone)]
enum Step {
    Reserve {
        acct: usize,
        amount: u64,
        ttl: Option<i64>,
    },
    Post {
        hold: usize,
        amount: Option<u64>,
    },
    Void {
        hold: usize,
    },
    Transfer {
        acct: usize,
        amount: u64,
    },
    Attrition {
        acct: usize,
        amount: u64,
    },
    SetCap {
        acct: usize,
        cap: Option<u64>,
    },
    Advance {
        secs: i64,
    },
    ExpireDue,
    /// Re-send an earlier op (identical fields).
    Replay {
        nth: usize,
    },
    /// Two ops as one linked batch.
    Batch {
        first: Box<Step>,
        second: Box<Step>,
    },
}

fn leaf() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, 1..400u64, prop::option::of(1..30i64)).prop_map(|(acct, amount, ttl)| Step::Reserve { acct, amount, ttl }),
        3 => (0..64usize, prop::option::of(1..400u64)).prop_map(|(hold, amount)| Step::Post { hold, amount }),
        2 => (0..64usize).prop_map(|hold| Step::Void { hold }),
        2 => (0..3usize, 1..300u64).prop_map(|(acct, amount)| Step::Transfer { acct, amount }),
        1 => (0..3usize, 1..300u64).prop_map(|(acct, amount)| Step::Attrition { acct, amount }),
        1 => (0..3usize, prop::option::of(0..1500u64)).prop_map(|(acct, cap)| Step::SetCap { acct, cap }),
        2 => (1..20i64).prop_map(|secs| Step::Advance { secs }),
        1 => Just(Step::ExpireDue),
        1 => (0..64usize).prop_map(|nth| Step::Replay { nth }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        9 => leaf(),
        1 => (leaf(), leaf()).prop_map(|(a, b)| Step::Batch { first: Box::new(a), second: Box::new(b) }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum HState {
    Pending,
    Posted,
    Voided,
    Expired,
}

#[derive(Debug, Clone)]
struct MHold {
    acct: usize,
    amount: u64,
    expires: Option<Timestamp>,
    state: HState,
}

#[derive(Debug, Clone, Default)]
struct Model {
    caps: [Option<u64>; 3],
    posted: [u64; 3],
    pending: [u64; 3],
    holds: HashMap<String, MHold>,
    /// Every successful op with its result, for replay checks.
    done: HashMap<String, (Op, Applied)>,
}

fn acct_of(key: &str) -> usize {
    KEYS.iter().position(|k| *k == key).expect("known key")
}

impl Model {
    fn sweep(&mut self, acct: usize, now: Timestamp) {
        for h in self.holds.values_mut() {
            if h.acct == acct && h.state == HState::Pending && h.expires.is_some_and(|e| e <= now) {
                h.state = HState::Expired;
                self.pending[acct] -= h.amount;
            }
        }
    }

    fn room(&self, acct: usize, amount: u64) -> Result<(), String> {
        match self.caps[acct] {
            Some(cap) if self.posted[acct] + self.pending[acct] + amount > cap => {
                Err("exceeds_cap".into())
            }
            _ => Ok(()),
        }
    }

    fn balance(&self, acct: usize) -> Balance {
        let (cap, posted, pending) = (self.caps[acct], self.posted[acct], self.pending[acct]);
        Balance {
            cap,
            posted,
            pending,
            available: cap.map(|c| c - posted - pending),
        }
    }

    /// Applies one op; returns the expected result (or error class).
    /// A failed op changes nothing, not even the expiry sweep its transaction did.
    fn apply(&mut self, op: &Op, now: Timestamp) -> Result<(usize, OpResult), String> {
        let before = self.clone();
        let res = self.apply_inner(op, now);
        if res.is_err() {
            *self = before;
        }
        res
    }

    fn apply_inner(&mut self, op: &Op, now: Timestamp) -> Result<(usize, OpResult), String> {
        if let Some((orig, applied)) = self.done.get(op.op_id()) {
            return if orig == op {
                Ok((acct_of(&applied.account), applied.result.clone()))
            } else {
                Err("op_exists".into())
            };
        }
        match op {
            Op::Reserve {
                op_id,
                account,
                amount,
                expires_at,
                ..
            } => {
                if expires_at.is_some_and(|e| e <= now) {
                    return Err("expiry_not_in_future".into());
                }
                let a = acct_of(account);
                self.sweep(a, now);
                self.room(a, *amount)?;
                self.pending[a] += amount;
                self.holds.insert(
                    op_id.clone(),
                    MHold {
                        acct: a,
                        amount: *amount,
                        expires: *expires_at,
                        state: HState::Pending,
                    },
                );
                Ok((
                    a,
                    OpResult::Reserved {
                        pending_id: op_id.clone(),
                        amount: *amount,
                        expires_at: *expires_at,
                    },
                ))
            }
            Op::Post { pending_id, .. } | Op::Void { pending_id, .. } => {
                let Some(h) = self.holds.get(pending_id).cloned() else {
                    return Err("unknown_pending".into());
                };
                self.sweep(h.acct, now);
                let h = self.holds[pending_id].clone();
                match h.state {
                    HState::Pending => {}
                    HState::Posted => return Err("already_posted".into()),
                    HState::Voided => return Err("already_voided".into()),
                    HState::Expired => return Err("already_expired".into()),
                }
                let (state, result) = if let Op::Post { amount, .. } = op {
                    let amount = amount.unwrap_or(h.amount);
                    if amount > h.amount {
                        return Err("post_exceeds_pending".into());
                    }
                    self.posted[h.acct] += amount;
                    let r = OpResult::Posted {
                        pending_id: pending_id.clone(),
                        amount_posted: amount,
                        amount_released: h.amount - amount,
                    };
                    (HState::Posted, r)
                } else {
                    (
                        HState::Voided,
                        OpResult::Voided {
                            pending_id: pending_id.clone(),
                            amount_released: h.amount,
                        },
                    )
                };
                self.pending[h.acct] -= h.amount;
                if let Some(m) = self.holds.get_mut(pending_id) {
                    m.state = state;
                }
                Ok((h.acct, result))
            }
            Op::Transfer {
                account, amount, ..
            } => {
                let a = acct_of(account);
                self.sweep(a, now);
                self.room(a, *amount)?;
                self.posted[a] += amount;
                Ok((a, OpResult::Transferred { amount: *amount }))
            }
            Op::Attrition {
                account, amount, ..
            } => {
                let a = acct_of(account);
                self.sweep(a, now);
                if *amount > self.posted[a] {
                    return Err("attrition_exceeds_posted".into());
                }
                self.posted[a] -= amount;
                Ok((a, OpResult::Attrited { amount: *amount }))
            }
            Op::SetCap { account, cap, .. } => {
                let a = acct_of(account);
                self.sweep(a, now);
                if let Some(c) = cap
                    && *c < self.posted[a] + self.pending[a]
                {
                    return Err("cap_below_usage".into());
                }
                let old = self.caps[a];
                self.caps[a] = *cap;
                Ok((
                    a,
                    OpResult::CapSet {
                        old_cap: old,
                        new_cap: *cap,
                    },
                ))
            }
        }
    }
}

fn class(e: &LedgerError) -> String {
    match e.root_cause() {
        LedgerError::ExceedsCap { .. } => "exceeds_cap",
        LedgerError::UnknownPending { .. } => "unknown_pending",
        LedgerError::AlreadyPosted { .. } => "already_posted",
        LedgerError::AlreadyVoided { .. } => "already_voided",
        LedgerError::AlreadyExpired { .. } => "already_expired",
        LedgerError::PostExceedsPending { .. } => "post_exceeds_pending",
        LedgerError::AttritionExceedsPosted { .. } => "attrition_exceeds_posted",
        LedgerError::CapBelowUsage { .. } => "cap_below_usage",
        LedgerError::OpExists { .. } => "op_exists",
        LedgerError::ExpiryNotInFuture { .. } => "expiry_not_in_future",
        other => panic!("unexpected error class: {other}"),
    }
    .to_owned()
}

struct Run {
    n: usize,
    ops: Vec<Op>,
    reserves: Vec<String>,
}

impl Run {
    fn make(&mut self, s: &Step, now: Timestamp) -> Option<Op> {
        self.n += 1;
        let op_id = format!("op-{}", self.n);
        let meta = Meta::default();
        let pick = |v: &Vec<String>, i: usize| {
            if v.is_empty() {
                "op-none".to_owned()
            } else {
                v[i % v.len()].clone()
            }
        };
        let op = match s {
            Step::Reserve { acct, amount, ttl } => {
                self.reserves.push(op_id.clone());
                Op::Reserve {
                    op_id,
                    account: KEYS[*acct].into(),
                    amount: *amount,
                    expires_at: ttl.map(|t| Timestamp(now.0 + t * 1000)),
                    meta,
                }
            }
            Step::Post { hold, amount } => Op::Post {
                op_id,
                pending_id: pick(&self.reserves, *hold),
                amount: *amount,
                meta,
            },
            Step::Void { hold } => Op::Void {
                op_id,
                pending_id: pick(&self.reserves, *hold),
                meta,
            },
            Step::Transfer { acct, amount } => Op::Transfer {
                op_id,
                account: KEYS[*acct].into(),
                amount: *amount,
                meta,
            },
            Step::Attrition { acct, amount } => Op::Attrition {
                op_id,
                account: KEYS[*acct].into(),
                amount: *amount,
                meta,
            },
            Step::SetCap { acct, cap } => Op::SetCap {
                op_id,
                account: KEYS[*acct].into(),
                cap: *cap,
                meta,
            },
            Step::Replay { nth } => {
                return (!self.ops.is_empty()).then(|| self.ops[nth % self.ops.len()].clone());
            }
            Step::Advance { .. } | Step::ExpireDue | Step::Batch { .. } => return None,
        };
        self.ops.push(op.clone());
        Some(op)
    }
}

fn run(steps: Vec<Step>) {
    let b = Backend::sqlite();
    let mut l = b.open();
    let mut m = Model {
        caps: CAPS,
        ..Model::default()
    };
    for (k, cap) in KEYS.iter().zip(CAPS) {
        l.ensure_account(k, AccountKind::Lpp, cap, T0)
            .expect("ensure");
    }
    let mut now = Timestamp(T0.0 + 1000);
    let mut r = Run {
        n: 0,
        ops: Vec::new(),
        reserves: Vec::new(),
    };
    for s in &steps {
        match s {
            Step::Advance { secs } => now = Timestamp(now.0 + secs * 1000),
            Step::ExpireDue => {
                let got = l.expire_due(now).expect("expire_due");
                let before: u64 = m.pending.iter().sum();
                for a in 0..3 {
                    m.sweep(a, now);
                }
                let after: u64 = m.pending.iter().sum();
                assert_eq!(got > 0, before > after, "expire_due count");
            }
            Step::Batch { first, second } => {
                let ops: Vec<Op> = [first, second]
                    .iter()
                    .filter_map(|s| r.make(s, now))
                    .collect();
                if ops.len() != 2 || ops[0].op_id() == ops[1].op_id() {
                    continue;
                }
                let mut trial = m.clone();
                let expected: Result<Vec<(usize, OpResult)>, String> =
                    ops.iter().map(|op| trial.apply(op, now)).collect();
                let got = l.apply_batch(&ops, now);
                match (expected, got) {
                    (Ok(exp), Ok(got)) => {
                        for (op, (e, g)) in ops.iter().zip(exp.iter().zip(&got)) {
                            assert_eq!(&e.1, &g.result, "batch result of {op:?}");
                            trial
                                .done
                                .entry(op.op_id().to_owned())
                                .or_insert((op.clone(), g.clone()));
                        }
                        m = trial;
                    }
                    (Err(e), Err(g)) => assert_eq!(e, class(&g), "batch {ops:?}"),
                    (e, g) => panic!("batch {ops:?}: model {e:?}, ledger {g:?}"),
                }
            }
            leaf => {
                let Some(op) = r.make(leaf, now) else {
                    continue;
                };
                let expected = m.apply(&op, now);
                let got = l
                    .apply_batch(std::slice::from_ref(&op), now)
                    .map(|mut v| v.remove(0));
                match (expected, got) {
                    (Ok((acct, res)), Ok(g)) => {
                        assert_eq!(res, g.result, "result of {op:?}");
                        assert_eq!(KEYS[acct], g.account);
                        if !g.replayed {
                            assert_eq!(g.balance_after, m.balance(acct), "balance after {op:?}");
                            m.done.insert(op.op_id().to_owned(), (op.clone(), g));
                        }
                    }
                    (Err(e), Err(g)) => assert_eq!(e, class(&g), "{op:?}"),
                    (e, g) => panic!("{op:?}: model {e:?}, ledger {g:?}"),
                }
            }
        }
        // Sweeping is lazy, so compare stored balances only after sweeping the model
        // and the ledger identically: the as-of view at `now` is exact either way.
        for (a, key) in KEYS.iter().enumerate() {
            let mut mm = m.clone();
            mm.sweep(a, now);
            assert_eq!(
                l.balance(key, Some(now)).expect("as of"),
                mm.balance(a),
                "as-of balance of {key}"
            );
        }
    }
    l.check_invariants().expect("invariants");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn ledger_matches_model(steps in prop::collection::vec(step(), 1..60)) {
        run(steps);
    }
}
