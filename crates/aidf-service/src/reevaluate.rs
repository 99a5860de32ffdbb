//! Re-evaluation: run recorded shipments (or a batch of inputs) again under another regime and
//! report every one whose outcome changes, from what to what and why, with totals.
//!
//! **Recorded shipments** are replayed in the order they were recorded, with the date each was
//! recorded for and the target regime pinned. Balances (LPP year-to-date, country allocation,
//! NVEU installed base, AIA cumulative) are *replayed* under the target regime, starting from
//! zero: a shipment draws its caps when it is authorized without a license, went under a recorded
//! license, or needs a license with a presumption of approval under the target regime (the
//! application is assumed granted). Government-to-government arrangements come from the ledger.
//! Ledger operations made outside `ship` (manual reservations, attrition) are not replayed. The
//! "from" outcome is the one recorded. Shipments recorded without their input are skipped, and
//! said so.
//!
//! **A batch** (JSON lines of the determination input) is determined twice, as given and with the
//! target regime pinned, each with its own `context` (as `aidf check` would).

use std::collections::{BTreeMap, HashMap};

use aidf_core::regime::ReviewPolicy;
use aidf_core::{
    AccountRef, Authorization, Determination, DeterminationInput, Policy, balance_reads, determine,
};
use aidf_ledger::{LedgerError, LedgerStore};
use serde::Serialize;
use serde_json::Value;

/// Why re-evaluation could not run at all (single shipments that fail are skipped, not fatal).
#[derive(Debug, thiserror::Error)]
pub enum ReevaluateError {
    /// The target regime does not exist.
    #[error("option `--under`: unknown regime `{value}`; known: {known}")]
    UnknownRegime {
        /// As given.
        value: String,
        /// Known ids.
        known: String,
    },
    /// The ledger failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A batch line is not a valid input.
    #[error("batch line {line}: {message}")]
    Batch {
        /// 1-based line.
        line: usize,
        /// What is wrong (names the field).
        message: String,
    },
}

/// An outcome, as compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `license`, `LPP`, `AIA`, …
    pub authorization: String,
    /// Review policy, for licenses.
    pub review_policy: Option<String>,
    /// Regime that gave it.
    pub regime: String,
}

impl Outcome {
    fn of_json(d: &Value) -> Outcome {
        Outcome {
            authorization: d["authorization"].as_str().unwrap_or("?").to_string(),
            review_policy: d["review_policy"].as_str().map(String::from),
            regime: d["regime"]["id"].as_str().unwrap_or("?").to_string(),
        }
    }

    fn of(d: &Determination) -> Outcome {
        Outcome {
            authorization: d.authorization.as_str().to_string(),
            review_policy: d.review_policy.map(|r| r.as_str().to_string()),
            regime: d.regime.id.to_string(),
        }
    }

    /// `license (denial)`, `LPP`, …
    pub fn label(&self) -> String {
        match &self.review_policy {
            Some(r) => format!("{} ({r})", self.authorization),
            None => self.authorization.clone(),
        }
    }

    fn same(&self, other: &Outcome) -> bool {
        self.authorization == other.authorization && self.review_policy == other.review_policy
    }
}

/// One rule behind the new outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Why {
    /// Rule id.
    pub rule: String,
    /// What it found.
    pub detail: String,
}

/// A shipment whose outcome changes.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Shipment id, or `line N` for a batch.
    pub id: String,
    /// Date of the shipment.
    pub date: String,
    /// Destination (aliases applied).
    pub destination: String,
    /// Consignee name.
    pub consignee: String,
    /// Item (catalog id or kind).
    pub item: String,
    /// Units.
    pub quantity: u64,
    /// Total TPP.
    pub total_tpp: u64,
    /// Recorded status (`authorized`/`refused`), for ledger shipments.
    pub recorded_status: Option<String>,
    /// Before.
    pub from: Outcome,
    /// After.
    pub to: Outcome,
    /// Rules of the new determination that the old one did not apply.
    pub why: Vec<Why>,
}

/// A shipment that could not be re-evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Shipment id or line.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// Counts for one group of the totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Shipments re-evaluated.
    pub shipments: u64,
    /// Of which changed.
    pub changed: u64,
    /// TPP of the changed ones.
    pub changed_tpp: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Target regime id.
    pub under: String,
    /// Its digest.
    pub digest: String,
    /// `ledger` or `batch`.
    pub source: &'static str,
    /// How balances were obtained.
    pub balances: &'static str,
    /// Shipments re-evaluated.
    pub evaluated: u64,
    /// Of which changed.
    pub changed: u64,
    /// Every change.
    pub changes: Vec<Change>,
    /// Shipments skipped, with the reason.
    pub skipped: Vec<Skipped>,
    /// Totals by destination country.
    pub by_country: BTreeMap<String, Tally>,
    /// Changed shipments by transition, `from -> to`.
    pub by_outcome: BTreeMap<String, u64>,
}

impl Report {
    fn new(policy: &Policy, under: &str, source: &'static str, balances: &'static str) -> Report {
        Report {
            under: under.to_string(),
            digest: policy
                .regime(under)
                .map(|r| r.digest.to_string())
                .unwrap_or_default(),
            source,
            balances,
            evaluated: 0,
            changed: 0,
            changes: Vec::new(),
            skipped: Vec::new(),
            by_country: BTreeMap::new(),
            by_outcome: BTreeMap::new(),
        }
    }

    fn add(&mut self, destination: &str, change: Option<Change>, tpp: u64) {
        self.evaluated += 1;
        let t = self.by_country.entry(destination.to_string()).or_default();
        t.shipments += 1;
        if let Some(c) = change {
            t.changed += 1;
            t.changed_tpp = t.changed_tpp.saturating_add(tpp);
            self.changed += 1;
            *self
                .by_outcome
                .entry(format!("{} -> {}", c.from.label(), c.to.label()))
                .or_default() += 1;
            self.changes.push(c);
        }
    }
}

fn check_regime(policy: &Policy, under: &str) -> Result<(), ReevaluateError> {
    if policy.regime(under).is_none() {
        return Err(ReevaluateError::UnknownRegime {
            value: under.to_string(),
            known: policy
                .regimes
                .iter()
                .map(|r| r.spec.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

fn why(old_reasons: &Value, new: &Determination) -> Vec<Why> {
    let old: Vec<&str> = old_reasons
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["rule"].as_str()).collect())
        .unwrap_or_default();
    let fresh: Vec<Why> = new
        .reasons
        .iter()
        .filter(|r| !old.contains(&r.rule) && r.rule != "regime.pinned")
        .map(|r| Why {
            rule: r.rule.to_string(),
            detail: r.detail.clone(),
        })
        .collect();
    if fresh.is_empty() {
        // Same rules, other numbers: the deciding (last) rule.
        new.reasons
            .last()
            .map(|r| {
                vec![Why {
                    rule: r.rule.to_string(),
                    detail: r.detail.clone(),
                }]
            })
            .unwrap_or_default()
    } else {
        fresh
    }
}

fn change(
    id: String,
    input: &DeterminationInput,
    old: &Value,
    new: &Determination,
    recorded_status: Option<String>,
) -> Option<Change> {
    let from = Outcome::of_json(old);
    let to = Outcome::of(new);
    if from.same(&to) {
        return None;
    }
    Some(Change {
        id,
        date: input.date.to_string(),
        destination: new.destination.to_string(),
        consignee: input.consignee.name.clone(),
        item: new
            .item
            .chip_id
            .as_deref()
            .map(String::from)
            .unwrap_or_else(|| new.item.kind.to_string()),
        quantity: new.quantity,
        total_tpp: new.total_tpp,
        recorded_status,
        from,
        to,
        why: why(&old["reasons"], new),
    })
}

/// Re-evaluates every recorded shipment under `under`, replaying balances.
pub fn from_ledger(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    under: &str,
) -> Result<Report, ReevaluateError> {
    check_regime(policy, under)?;
    let mut report = Report::new(policy, under, "ledger", "replayed under the target regime");
    let g2g = store.g2g_arrangements()?;
    let mut ships = store.shipments()?;
    ships.sort_by(|a, b| (a.recorded_at, &a.shipment_id).cmp(&(b.recorded_at, &b.shipment_id)));
    let mut bal: HashMap<AccountRef, u64> = HashMap::new();
    let get = |bal: &HashMap<AccountRef, u64>, k: &AccountRef| bal.get(k).copied().unwrap_or(0);
    for s in ships {
        let body = &s.determination.to_value();
        let Some(raw) = body.get("input").filter(|v| !v.is_null()) else {
            report.skipped.push(Skipped {
                id: s.shipment_id,
                reason:
                    "recorded without its input (before re-evaluation support); cannot be re-run"
                        .into(),
            });
            continue;
        };
        let mut input: DeterminationInput = match serde_json::from_value(raw.clone()) {
            Ok(i) => i,
            Err(e) => {
                report.skipped.push(Skipped {
                    id: s.shipment_id,
                    reason: format!("stored input does not parse: {e}"),
                });
                continue;
            }
        };
        input.regime = Some(under.to_string());
        let reads = match balance_reads(policy, &input) {
            Ok(r) => r,
            Err(e) => {
                report.skipped.push(Skipped {
                    id: s.shipment_id,
                    reason: format!("under `{under}`: {e}"),
                });
                continue;
            }
        };
        let date_s = input.date.to_string();
        let dest_g2g = match &reads.allocation {
            Some(AccountRef::CountryAllocation { country, .. }) => {
                let cc = country.to_string();
                g2g.iter()
                    .any(|g| g.country == cc && g.date.as_str() <= date_s.as_str())
            }
            _ => false,
        };
        // Balances replayed from zero: what was drawn so far, by account (posted only).
        reads.fill(&mut input.context, |a| (get(&bal, a), 0));
        input.context.gov_to_gov_agreement = dest_g2g;
        let d = match determine(policy, &input) {
            Ok(d) => d,
            Err(e) => {
                report.skipped.push(Skipped {
                    id: s.shipment_id,
                    reason: format!("under `{under}`: {e}"),
                });
                continue;
            }
        };
        let dest = d.destination.to_string();
        let licensed = body["license_id"].is_string();
        let draws = d.authorization != Authorization::License
            || licensed
            || d.review_policy == Some(ReviewPolicy::Approval);
        if draws {
            for draw in &d.draws {
                let e = bal.entry(draw.account.clone()).or_default();
                *e = e.saturating_add(draw.amount_tpp);
            }
        }
        let old = &body["determination"];
        let ch = change(
            s.shipment_id.clone(),
            &input,
            old,
            &d,
            Some(s.status.as_str().to_string()),
        );
        report.add(&dest, ch, d.total_tpp);
    }
    Ok(report)
}

/// Re-evaluates a batch: each line a JSON determination input, with its own context.
pub fn from_batch(policy: &Policy, text: &str, under: &str) -> Result<Report, ReevaluateError> {
    check_regime(policy, under)?;
    let mut report = Report::new(policy, under, "batch", "as given in each input's context");
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let input = DeterminationInput::from_json(line).map_err(|e| ReevaluateError::Batch {
            line: n,
            message: e.to_string(),
        })?;
        let before = determine(policy, &input).map_err(|e| ReevaluateError::Batch {
            line: n,
            message: e.to_string(),
        })?;
        let mut pinned = input.clone();
        pinned.regime = Some(under.to_string());
        let after = match determine(policy, &pinned) {
            Ok(d) => d,
            Err(e) => {
                report.skipped.push(Skipped {
                    id: format!("line {n}"),
                    reason: format!("under `{under}`: {e}"),
                });
                continue;
            }
        };
        let old = serde_json::to_value(&before).unwrap_or_default();
        let ch = change(format!("line {n}"), &input, &old, &after, None);
        report.add(&after.destination.to_string(), ch, after.total_tpp);
    }
    Ok(report)
}
