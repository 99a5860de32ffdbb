//! aidf-service: determinations recorded against the ledger.
//!
//! `ship` reads the real balances a transaction draws on (LPP year-to-date, the country
//! allocation, the NVEU installed base, AIA cumulative, government-to-government arrangements),
//! determines the transaction with them, and records it in one database transaction together with
//! the draws it authorizes. The ledger re-checks every cap inside that transaction; if another
//! writer got there first, the draw fails with "exceeds cap" and the whole determination is
//! redone against the new balances (bounded retries). So two processes can never both spend the
//! last TPP of a cap, and every recorded shipment was determined against balances it really had.

use aidf_core::regime::Regime;
use aidf_core::{Authorization, Counter, Determination, DeterminationInput, Policy, determine};
use aidf_ledger::{
    AccountKind, Applied, LedgerError, LedgerStore, License, Meta, NewShipment, Op, Shipment,
    ShipmentStatus, Timestamp,
};
use chrono::Datelike;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub mod reevaluate;

/// Why a shipment could not be determined or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The input was bad (names the field).
    #[error("{0}")]
    Determine(#[from] aidf_core::DetermineError),
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// Caps kept moving under us.
    #[error("shipment `{0}`: balances kept changing; gave up after {1} attempts")]
    Contention(String, u32),
}

/// The result of `ship`: the determination plus what the ledger recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ShipOutcome {
    /// Shipment id.
    pub shipment_id: String,
    /// `authorized` or `refused`.
    pub status: ShipmentStatus,
    /// The license drawn, if the shipment went under one.
    pub license_id: Option<String>,
    /// Why it was refused, if it was.
    pub refusal: Option<String>,
    /// The determination, made against the ledger's balances.
    pub determination: serde_json::Value,
    /// Ledger entries written (op ids and balances after).
    pub entries: Vec<Applied>,
    /// True when the shipment id was recorded before and this is the stored record.
    pub replayed: bool,
}

pub(crate) fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "unnamed".into() } else { t }
}

/// Ledger account keys the rules use.
pub mod keys {
    /// LPP calendar-year account of a consignee.
    pub fn lpp(hq: &str, consignee: &str, year: i32) -> String {
        format!("lpp:{hq}:{}:{year}", super::slug(consignee))
    }
    /// Country allocation over the window.
    pub fn country(cc: &str, from_year: i32, to_year: i32) -> String {
        format!("country:{cc}:{from_year}-{to_year}")
    }
    /// NVEU installed base in a country.
    pub fn nveu(veu_id: &str, cc: &str) -> String {
        format!("nveu:{veu_id}:{cc}")
    }
    /// AIA cumulative of a consignee.
    pub fn aia(hq: &str, consignee: &str) -> String {
        format!("aia:{hq}:{}", super::slug(consignee))
    }
}

fn used(store: &mut dyn LedgerStore, key: &str) -> Result<u64, LedgerError> {
    match store.account(key) {
        Ok(a) => Ok(a.posted.saturating_add(a.pending)),
        Err(LedgerError::UnknownAccount { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

fn posted(store: &mut dyn LedgerStore, key: &str) -> Result<u64, LedgerError> {
    match store.account(key) {
        Ok(a) => Ok(a.posted),
        Err(LedgerError::UnknownAccount { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Digest of the input as given, recorded with the shipment.
pub fn input_digest(input: &DeterminationInput) -> String {
    let json = serde_json::to_vec(input).unwrap_or_default();
    let hex: String = Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

struct Plan {
    ops: Vec<Op>,
    license_id: Option<String>,
    refusal: Option<String>,
}

pub(crate) fn has_g2g(
    store: &mut dyn LedgerStore,
    cc: &str,
    date: &str,
) -> Result<bool, LedgerError> {
    Ok(store
        .g2g_arrangements()?
        .iter()
        .any(|g| g.country == cc && g.date.as_str() <= date))
}

fn regime_for<'p>(policy: &'p Policy, d: &Determination) -> Option<&'p Regime> {
    policy.regime(&d.regime.id)
}

/// Determines `input` against the ledger's balances and records it. `shipment_id` makes the call
/// idempotent: a replay returns the stored record.
pub fn ship(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    input: &DeterminationInput,
    shipment_id: &str,
    now: Timestamp,
) -> Result<ShipOutcome, ShipError> {
    ship_scoped(store, policy, input, shipment_id, now, None)
}

/// [`ship`], drawing only licenses whose id starts with `license_prefix` (a tenant's licenses).
pub fn ship_scoped(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    input: &DeterminationInput,
    shipment_id: &str,
    now: Timestamp,
    license_prefix: Option<&str>,
) -> Result<ShipOutcome, ShipError> {
    if let Some(s) = store.shipment(shipment_id)? {
        return Ok(outcome_from_record(s, true));
    }
    const ATTEMPTS: u32 = 16;
    let original = serde_json::to_value(input).unwrap_or_default();
    for _ in 0..ATTEMPTS {
        let mut input = input.clone();
        // A first determination tells us the regime and destination; then read real balances.
        let probe = determine(policy, &input)?;
        let date = input.date;
        let date_s = date.to_string();
        let dest = probe.destination.to_string();
        let hq = input.consignee.hq.to_ascii_uppercase();
        let name = input.consignee.name.clone();
        let regime = regime_for(policy, &probe).expect("determination names a loaded regime");
        let spec = &regime.spec;
        let ctx = &mut input.context;
        ctx.gov_to_gov_agreement = has_g2g(store, &dest, &date_s)?;
        ctx.consignee_ytd_tpp = if spec.lpp.is_some() {
            used(store, &keys::lpp(&hq, &name, date.year()))?
        } else {
            0
        };
        ctx.country_allocation_used_tpp = match &spec.allocation {
            Some(a) => used(
                store,
                &keys::country(&dest, a.window_start.year(), a.window_end.year()),
            )?,
            None => 0,
        };
        ctx.nveu_installed_tpp = match &input.consignee.veu {
            Some(v) => posted(store, &keys::nveu(&v.id, &dest))?,
            None => 0,
        };
        ctx.consignee_aia_cumulative_tpp = posted(store, &keys::aia(&hq, &name))?;
        let d = determine(policy, &input)?;
        let plan = plan(store, regime, &input, &d, shipment_id, now, license_prefix)?;
        let determination = serde_json::to_value(&d).unwrap_or_default();
        let status = if plan.refusal.is_some() {
            ShipmentStatus::Refused
        } else {
            ShipmentStatus::Authorized
        };
        let new = NewShipment {
            shipment_id: shipment_id.to_string(),
            input_digest: input_digest(&input),
            determination: serde_json::json!({
                "determination": determination,
                "license_id": plan.license_id,
                "refusal": plan.refusal,
                // The input as given (before the ledger's balances), so `reevaluate` can re-run it.
                "input": original,
            }),
            status,
            ops: if status == ShipmentStatus::Refused {
                Vec::new()
            } else {
                plan.ops
            },
        };
        match store.record_shipment(&new, now) {
            Ok(rec) => return Ok(outcome_from_record(rec, false)),
            // Someone drew the cap first: determine again against the new balances.
            Err(e) if e.is_exceeds_cap() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ShipError::Contention(shipment_id.to_string(), ATTEMPTS))
}

fn outcome_from_record(s: Shipment, replayed: bool) -> ShipOutcome {
    let body = &s.determination;
    ShipOutcome {
        shipment_id: s.shipment_id,
        status: s.status,
        license_id: body["license_id"].as_str().map(String::from),
        refusal: body["refusal"].as_str().map(String::from),
        determination: body["determination"].clone(),
        entries: s.applied,
        replayed: replayed || s.replayed,
    }
}

fn ensure(
    store: &mut dyn LedgerStore,
    key: &str,
    kind: AccountKind,
    cap: Option<u64>,
    now: Timestamp,
    meta: &Meta,
    op_prefix: &str,
) -> Result<Option<Op>, LedgerError> {
    match store.account(key) {
        Ok(a) => {
            // The cap may have moved (a G2G arrangement doubles a country cap; the NVEU schedule
            // steps up): set it inside the same batch so the draw is checked against it.
            if a.cap != cap {
                let cap_text = cap.map(|c| c.to_string()).unwrap_or_else(|| "none".into());
                return Ok(Some(Op::SetCap {
                    op_id: format!("{op_prefix}:cap:{cap_text}"),
                    account: key.to_string(),
                    cap,
                    meta: meta.clone(),
                }));
            }
            Ok(None)
        }
        Err(LedgerError::UnknownAccount { .. }) => {
            store.ensure_account(key, kind, cap, now)?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The first of the tenant's licenses that covers this shipment and still has room.
fn matching_license(
    store: &mut dyn LedgerStore,
    input: &DeterminationInput,
    d: &Determination,
    license_prefix: Option<&str>,
) -> Result<Option<License>, LedgerError> {
    let date = d.regime.date.to_string();
    let dest = d.destination.to_string();
    let name = &input.consignee.name;
    let item = d.item.chip_id.as_deref().map(String::from);
    let candidates: Vec<License> = store
        .licenses()?
        .into_iter()
        .filter(|l| {
            license_prefix.is_none_or(|p| l.id.starts_with(p))
                && slug(&l.consignee) == slug(name)
                && l.destination_country == dest
                && l.granted_on.as_str() <= date.as_str()
                && date.as_str() <= l.expires_on.as_str()
                && (l.allowed_item_ids.is_empty()
                    || item
                        .as_ref()
                        .is_some_and(|i| l.allowed_item_ids.contains(i)))
        })
        .collect();
    for l in candidates {
        let tpp_bal = store.balance(&l.tpp_account(), None)?;
        let units_bal = store.balance(&l.units_account(), None)?;
        let fits = |b: &aidf_ledger::Balance, amount: u64| b.available.is_none_or(|a| amount <= a);
        if fits(&tpp_bal, d.total_tpp) && fits(&units_bal, d.quantity) {
            return Ok(Some(l));
        }
    }
    Ok(None)
}

fn plan(
    store: &mut dyn LedgerStore,
    regime: &Regime,
    input: &DeterminationInput,
    d: &Determination,
    shipment_id: &str,
    now: Timestamp,
    license_prefix: Option<&str>,
) -> Result<Plan, LedgerError> {
    let spec = &regime.spec;
    let meta = Meta::determination(shipment_id, &d.regime.digest);
    let dest = d.destination.to_string();
    let hq = input.consignee.hq.to_ascii_uppercase();
    let name = &input.consignee.name;
    let tpp = d.total_tpp;
    // Find the license before touching any account: a refused shipment creates nothing.
    let license = if d.authorization == Authorization::License {
        let found = matching_license(store, input, d, license_prefix)?;
        if found.is_none() {
            return Ok(Plan {
                ops: Vec::new(),
                license_id: None,
                refusal: Some(refusal_text(d, name, &dest)),
            });
        }
        found
    } else {
        None
    };
    let mut ops = Vec::new();
    let transfer = |ops: &mut Vec<Op>, suffix: &str, key: String| {
        ops.push(Op::Transfer {
            op_id: format!("{shipment_id}:{suffix}"),
            account: key,
            amount: tpp,
            meta: meta.clone(),
        });
    };
    for c in &d.counts_against {
        match c {
            Counter::LppAnnual => {
                let Some(lpp) = &spec.lpp else { continue };
                let key = keys::lpp(&hq, name, d.regime.date.year());
                ops.extend(ensure(
                    store,
                    &key,
                    AccountKind::Lpp,
                    Some(lpp.tpp_per_consignee_year),
                    now,
                    &meta,
                    &format!("{shipment_id}:lpp"),
                )?);
                transfer(&mut ops, "lpp", key);
            }
            Counter::CountryAllocation => {
                let Some(a) = &spec.allocation else { continue };
                let key = keys::country(&dest, a.window_start.year(), a.window_end.year());
                let mult = if input.context.gov_to_gov_agreement {
                    a.g2g_multiplier
                } else {
                    1
                };
                let cap = a.cap_for(&dest).saturating_mul(mult);
                ops.extend(ensure(
                    store,
                    &key,
                    AccountKind::CountryAllocation,
                    Some(cap),
                    now,
                    &meta,
                    &format!("{shipment_id}:country"),
                )?);
                transfer(&mut ops, "country", key);
            }
            Counter::NveuAllocation => {
                let Some(v) = &input.consignee.veu else {
                    continue;
                };
                let key = keys::nveu(&v.id, &dest);
                let cap = regime.nveu_limit_tpp(d.regime.date);
                ops.extend(ensure(
                    store,
                    &key,
                    AccountKind::NveuInstalledBase,
                    cap,
                    now,
                    &meta,
                    &format!("{shipment_id}:nveu"),
                )?);
                transfer(&mut ops, "nveu", key);
            }
        }
    }
    if d.authorization == Authorization::Aia && tpp > 0 {
        let key = keys::aia(&hq, name);
        ops.extend(ensure(
            store,
            &key,
            AccountKind::AiaCumulative,
            None,
            now,
            &meta,
            &format!("{shipment_id}:aia"),
        )?);
        transfer(&mut ops, "aia", key);
    }
    // A license is required: draw the one found above.
    if let Some(l) = license {
        ops.push(Op::Transfer {
            op_id: format!("{shipment_id}:license-tpp"),
            account: l.tpp_account(),
            amount: tpp,
            meta: meta.clone(),
        });
        ops.push(Op::Transfer {
            op_id: format!("{shipment_id}:license-units"),
            account: l.units_account(),
            amount: d.quantity,
            meta: meta.clone(),
        });
        return Ok(Plan {
            ops,
            license_id: Some(l.id),
            refusal: None,
        });
    }
    Ok(Plan {
        ops,
        license_id: None,
        refusal: None,
    })
}

fn refusal_text(d: &Determination, name: &str, dest: &str) -> String {
    format!(
        "license required (review policy: {}) and no matching license with room is recorded for `{name}` in {dest}",
        d.review_policy.map(|r| r.as_str()).unwrap_or("not stated")
    )
}
