//! The what-if simulator: a scenario's demand, quarter by quarter, through the real engine.
//!
//! Every order is a [`DeterminationInput`] determined by the core's `determine` with the context
//! balances the ledger would supply (`aidf_service::ship` reads them the same way: LPP
//! year-to-date of the consignee, the country allocation used, the NVEU installed base, AIA
//! cumulative, a G2G arrangement in force), and its draws are accounted like `ship` plans them:
//! on the same account keys (`aidf_service::keys`), with the caps the regime data gives, in exact
//! integer TPP, and checked against the cap on every draw as the ledger does. There is no separate
//! model of the rules. Differences from a real ledger, by design: a license that the engine says
//! would be reviewed with a presumption of approval is taken as granted (the ledger would refuse
//! it until a license is recorded); denial is refused, and case-by-case is refused unless the
//! scenario says `case_by_case = "grant"`.
//!
//! License applications (orders the engine would license) are answered as the scenario's
//! `approval_lag_days` and `denial_share` say for the country: the n-th application of a country
//! in a run (date order, 1-based) is denied when `floor(n × share)` exceeds
//! `floor((n − 1) × share)` — a fixed rule, so a share of 0.25 denies the 4th, 8th, 12th… and
//! the denied count is always `floor(applications × share)`. A denial is counted as refused in
//! the quarter the application was filed. The others are granted `approval_lag_days` after the
//! application: the license's draws are taken on the grant date, checked against the caps then
//! (an allocation filled while the application waited refuses it, as exhausted), and its TPP
//! counts as granted in the quarter of the grant; a grant due after the last quarter is pending
//! at the horizon.
//!
//! Countries share no account (a fleet operator's consignee is its local entity in each
//! country), so countries run in parallel and the result does not depend on thread timing.

use std::collections::{BTreeMap, HashMap};

use aidf_core::draws::Draw;
use aidf_core::input::{Consignee, Context, ItemInput, VeuRef};
use aidf_core::regime::{Regime, ReviewPolicy};
use aidf_core::{AccountRef, Authorization, DeterminationInput, Policy, balance_reads, determine};
use chrono::{Datelike, Days, NaiveDate};
use rayon::prelude::*;
use serde::Serialize;

use crate::rng::Rng;
use crate::scenario::{Buyer, Licensing, RunSpec, Scenario};

/// One country in one quarter of one run. TPP figures are exact integers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuarterStats {
    /// Orders placed.
    pub orders: u64,
    /// Orders refused (including bad ones).
    pub refused_orders: u64,
    /// Orders the engine could not determine.
    pub errors: u64,
    /// TPP demanded.
    pub demand_tpp: u128,
    /// TPP granted (any authorization).
    pub granted_tpp: u128,
    /// TPP refused.
    pub refused_tpp: u128,
    /// TPP refused because the country allocation was exhausted.
    pub refused_exhausted_tpp: u128,
    /// TPP under License Exception LPP.
    pub lpp_tpp: u128,
    /// TPP under UVEU or NVEU.
    pub veu_tpp: u128,
    /// TPP under licenses (presumption of approval, or granted case-by-case).
    pub licensed_tpp: u128,
    /// TPP under anything else (AIA, NLR, ACM, ACA, NAC, not controlled).
    pub other_tpp: u128,
    /// Country allocation drawn so far (end of quarter), for the window in force.
    pub allocation_used_tpp: u64,
    /// The allocation's cap at the end of the quarter (with any G2G multiplier), if any.
    pub allocation_cap_tpp: Option<u64>,
    /// TPP of the license applications filed this quarter.
    pub license_applied_tpp: u128,
    /// TPP of the license applications filed this quarter and denied (part of `refused_tpp`).
    pub license_denied_tpp: u128,
    /// TPP of licenses granted this quarter after an approval lag (part of `licensed_tpp`).
    pub license_delayed_tpp: u128,
    /// TPP of license applications still waiting at the end of the quarter.
    pub license_pending_tpp: u128,
}

/// What became of one country's license applications over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LicensingOutcome {
    /// The approval lag applied, in days.
    pub approval_lag_days: u32,
    /// The denial share applied, in per mille.
    pub denial_per_mille: u16,
    /// Applications filed.
    pub applications: u64,
    /// TPP applied for.
    pub applied_tpp: u128,
    /// Applications granted (within the horizon).
    pub granted: u64,
    /// TPP granted.
    pub granted_tpp: u128,
    /// Applications denied.
    pub denied: u64,
    /// TPP denied.
    pub denied_tpp: u128,
    /// Applications refused at the grant date because the allocation had filled meanwhile.
    pub refused_at_grant: u64,
    /// TPP of those.
    pub refused_at_grant_tpp: u128,
    /// Applications still waiting at the horizon.
    pub pending: u64,
    /// TPP still waiting at the horizon.
    pub pending_tpp: u128,
    /// Days from application to grant, summed over the granted applications.
    pub delay_days_total: u64,
}

impl LicensingOutcome {
    /// Mean days from application to grant over the granted applications, with one decimal
    /// (exact integer division, rounded half up); `None` when nothing was granted.
    pub fn mean_delay_days(&self) -> Option<String> {
        if self.granted == 0 {
            return None;
        }
        let tenths = (u128::from(self.delay_days_total) * 10 + u128::from(self.granted) / 2)
            / u128::from(self.granted);
        Some(format!("{}.{}", tenths / 10, tenths % 10))
    }
}

/// An account as the simulation left it (same key as the ledger's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountState {
    /// Ledger key.
    pub key: String,
    /// Cap.
    pub cap: Option<u64>,
    /// Drawn.
    pub used: u64,
}

/// One country over one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountryResult {
    /// ISO code.
    pub country: String,
    /// Tier in the last quarter (None under a regime without tiers).
    pub tier: Option<aidf_core::Tier>,
    /// Per quarter.
    pub quarters: Vec<QuarterStats>,
    /// First quarter (index) in which an order was refused because the allocation was exhausted.
    pub binds: Option<u32>,
    /// Accounts at the end.
    pub accounts: Vec<AccountState>,
    /// Draws that would have exceeded a cap (the ledger would refuse them): always zero.
    pub cap_violations: u64,
    /// The first few determination errors.
    pub error_samples: Vec<String>,
    /// License applications: lag, denials, pending at the horizon.
    pub licensing: LicensingOutcome,
}

/// One run (a regime, or the timeline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// Run name (regime id, or `timeline-<posture>`).
    pub name: String,
    /// Countries in code order.
    pub countries: Vec<CountryResult>,
}

/// A whole simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimResult {
    /// Scenario name.
    pub scenario: String,
    /// Quarter labels (`2025Q1`…).
    pub quarters: Vec<String>,
    /// TPP of one H100-equivalent used to turn demand into orders.
    pub h100_tpp: u64,
    /// Runs, in scenario order.
    pub runs: Vec<RunResult>,
}

impl SimResult {
    /// Orders simulated per run.
    pub fn orders(&self) -> u64 {
        self.runs
            .first()
            .map(|r| {
                r.countries
                    .iter()
                    .flat_map(|c| &c.quarters)
                    .map(|q| q.orders)
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A run's regime could not be selected: an unknown pin, or a date no regime covers.
    #[error(transparent)]
    Regime(#[from] aidf_core::policy::SelectError),
}

#[derive(Debug, Default, Clone, Copy)]
struct Acct {
    cap: Option<u64>,
    used: u64,
}

/// Whether every draw fits its cap now (a delayed grant is checked before anything is drawn).
fn draws_fit(accts: &HashMap<AccountRef, Acct>, draws: &[Draw]) -> bool {
    draws.iter().all(|d| {
        let used = accts.get(&d.account).map_or(0, |a| a.used);
        match (used.checked_add(d.amount_tpp), d.cap_tpp) {
            (None, _) => false,
            (Some(after), Some(cap)) => after <= cap,
            (Some(_), None) => true,
        }
    })
}

/// Takes every draw (as `ship` does); false if one would have exceeded its cap.
fn take_draws(accts: &mut HashMap<AccountRef, Acct>, draws: &[Draw]) -> bool {
    let mut ok = true;
    for draw in draws {
        ok &= accts
            .entry(draw.account.clone())
            .or_default()
            .draw(draw.cap_tpp, draw.amount_tpp);
    }
    ok
}

/// A license application waiting for its grant date.
struct PendingGrant {
    applied: NaiveDate,
    tpp: u128,
    draws: Vec<Draw>,
}

/// The license applications of one country in one run, answered as its [`Licensing`] says.
struct LicenseDesk {
    rule: Licensing,
    /// Due date and filing sequence → application.
    waiting: BTreeMap<(NaiveDate, u64), PendingGrant>,
    outcome: LicensingOutcome,
}

/// What the desk did with an application on the day it was filed.
enum Filed {
    Denied,
    GrantedToday,
    Waiting,
}

impl LicenseDesk {
    fn new(rule: Licensing) -> LicenseDesk {
        LicenseDesk {
            rule,
            waiting: BTreeMap::new(),
            outcome: LicensingOutcome {
                approval_lag_days: rule.approval_lag_days,
                denial_per_mille: rule.denial_per_mille,
                ..Default::default()
            },
        }
    }

    /// Files an application; the n-th is denied when `floor(n × share)` steps up.
    fn file(&mut self, date: NaiveDate, tpp: u128, draws: &[Draw]) -> Filed {
        let o = &mut self.outcome;
        o.applications += 1;
        o.applied_tpp += tpp;
        let pm = u64::from(self.rule.denial_per_mille);
        let n = o.applications;
        if n * pm / 1000 > (n - 1) * pm / 1000 {
            o.denied += 1;
            o.denied_tpp += tpp;
            return Filed::Denied;
        }
        if self.rule.approval_lag_days == 0 {
            o.granted += 1;
            o.granted_tpp += tpp;
            return Filed::GrantedToday;
        }
        let due = date + Days::new(u64::from(self.rule.approval_lag_days));
        let pending = PendingGrant {
            applied: date,
            tpp,
            draws: draws.to_vec(),
        };
        self.waiting.insert((due, n), pending);
        Filed::Waiting
    }

    /// Grants what is due on or before `until`, in due order, into `st`; a grant whose draws no
    /// longer fit is refused as exhausted (the quarter index `q` marks where the cap bound).
    fn grant_due(
        &mut self,
        until: NaiveDate,
        accts: &mut HashMap<AccountRef, Acct>,
        st: &mut QuarterStats,
        binds: &mut Option<u32>,
        q: u32,
    ) {
        while let Some(entry) = self.waiting.first_entry() {
            let due = entry.key().0;
            if due > until {
                break;
            }
            let p = entry.remove();
            let o = &mut self.outcome;
            if draws_fit(accts, &p.draws) {
                take_draws(accts, &p.draws);
                o.granted += 1;
                o.granted_tpp += p.tpp;
                o.delay_days_total += (due - p.applied).num_days().max(0) as u64;
                st.granted_tpp += p.tpp;
                st.licensed_tpp += p.tpp;
                st.license_delayed_tpp += p.tpp;
            } else {
                o.refused_at_grant += 1;
                o.refused_at_grant_tpp += p.tpp;
                st.refused_tpp += p.tpp;
                st.refused_exhausted_tpp += p.tpp;
                binds.get_or_insert(q);
            }
        }
    }

    fn pending_tpp(&self) -> u128 {
        self.waiting.values().map(|p| p.tpp).sum()
    }

    /// The outcome, with what is still waiting counted as pending at the horizon.
    fn close(mut self) -> LicensingOutcome {
        self.outcome.pending = self.waiting.len() as u64;
        self.outcome.pending_tpp = self.pending_tpp();
        self.outcome
    }
}

impl Acct {
    /// Sets the cap (as `ship` does with `set_cap`) and draws `amount`; false if it would exceed.
    fn draw(&mut self, cap: Option<u64>, amount: u64) -> bool {
        self.cap = cap;
        let after = self.used.checked_add(amount);
        match (after, cap) {
            (Some(a), Some(c)) if a > c => false,
            (None, _) => false,
            (Some(a), _) => {
                self.used = a;
                true
            }
        }
    }
}

struct Order {
    date: NaiveDate,
    buyer: usize,
    consignee: usize,
    chip: usize,
    quantity: i64,
    unit_tpp: u64,
}

/// The tenant scope of a simulation's consignee accounts, as their keys show it.
pub const SCENARIO_SCOPE: &str = "scenario";

fn regime_for<'p>(
    policy: &'p Policy,
    run: &RunSpec,
    date: NaiveDate,
    posture: aidf_core::Posture,
) -> Result<&'p Regime, SimError> {
    let pin = match run {
        RunSpec::Regime(id) => Some(id.as_str()),
        RunSpec::Timeline => None,
    };
    Ok(policy.select(pin, date, posture)?.regime)
}

/// Runs every run of the scenario.
pub fn simulate(policy: &Policy, sc: &Scenario) -> Result<SimResult, SimError> {
    let first = regime_for(policy, &sc.runs[0], sc.start, sc.posture)?;
    let h100_tpp = first.spec.h100_tpp.max(1);
    // Countries in code order, each with its buyer groups.
    let mut by_country: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, b) in sc.buyers.iter().enumerate() {
        by_country.entry(&b.country).or_default().push(i);
    }
    let countries: Vec<(&str, Vec<usize>)> = by_country.into_iter().collect();
    let mut runs = Vec::new();
    for run in &sc.runs {
        // Check the timeline covers the whole scenario before fanning out.
        for q in 0..sc.quarters {
            regime_for(policy, run, sc.quarter_start(q), sc.posture)?;
        }
        let results: Vec<CountryResult> = countries
            .par_iter()
            .map(|(cc, buyers)| simulate_country(policy, sc, run, h100_tpp, cc, buyers))
            .collect::<Result<_, _>>()?;
        runs.push(RunResult {
            name: run.name(sc.posture),
            countries: results,
        });
    }
    Ok(SimResult {
        scenario: sc.name.clone(),
        quarters: (0..sc.quarters).map(|q| sc.quarter_label(q)).collect(),
        h100_tpp,
        runs,
    })
}

fn orders_for(
    sc: &Scenario,
    cc: &str,
    buyers: &[usize],
    q: u32,
    h100_tpp: u64,
    next_consignee: &mut [usize],
) -> Vec<Order> {
    let start = sc.quarter_start(q);
    let days = (sc.quarter_start(q + 1) - start).num_days().max(1) as u64;
    let mut orders = Vec::new();
    for (bi, &b) in buyers.iter().enumerate() {
        let buyer: &Buyer = &sc.buyers[b];
        let demand = buyer.demand_h100e.get(q as usize).copied().unwrap_or(0);
        if demand == 0 {
            continue;
        }
        let mut rng = Rng::derive(sc.seed, &format!("{cc}/{b}/{q}"));
        let size = buyer.order_h100e;
        let n = demand.div_ceil(size);
        let weights: Vec<u64> = buyer.mix.chips.iter().map(|c| c.1).collect();
        for j in 0..n {
            let h100e = if j + 1 == n {
                demand - size * (n - 1)
            } else {
                size
            };
            let chip = if weights.len() == 1 {
                0
            } else {
                rng.weighted(&weights)
            };
            let unit = buyer.mix.chips[chip].2;
            // Whole chips closest to the demanded TPP (at least one).
            let want = u128::from(h100e) * u128::from(h100_tpp);
            let qty = ((want + u128::from(unit) / 2) / u128::from(unit)).max(1);
            let consignee = next_consignee[bi] % buyer.consignees.len();
            next_consignee[bi] += 1;
            orders.push(Order {
                date: start + Days::new(j * days / n),
                buyer: bi,
                consignee,
                chip,
                quantity: i64::try_from(qty).unwrap_or(i64::MAX),
                unit_tpp: unit,
            });
        }
    }
    // In date order; ties by buyer and order, so the sequence is fixed.
    orders.sort_by_key(|o| (o.date, o.buyer));
    orders
}

fn simulate_country(
    policy: &Policy,
    sc: &Scenario,
    run: &RunSpec,
    h100_tpp: u64,
    cc: &str,
    buyers: &[usize],
) -> Result<CountryResult, SimError> {
    let pinned = match run {
        RunSpec::Regime(id) => Some(id.clone()),
        RunSpec::Timeline => None,
    };
    let g2g_date = sc.g2g.get(cc).copied();
    // Accounts, as the determination names them (the ledger's keys, scoped to the scenario).
    let mut accts: HashMap<AccountRef, Acct> = HashMap::new();
    let mut next_consignee = vec![0usize; buyers.len()];
    let mut quarters = Vec::with_capacity(sc.quarters as usize);
    let mut binds = None;
    let mut tier = None;
    let mut violations = 0u64;
    let mut error_samples = Vec::new();
    // Templates: one input per buyer, cloned per order.
    let templates: Vec<DeterminationInput> = buyers
        .iter()
        .map(|&b| {
            let buyer = &sc.buyers[b];
            DeterminationInput {
                date: sc.start,
                posture: Some(sc.posture),
                regime: pinned.clone(),
                transaction: None,
                exporter: None,
                destination: cc.to_string(),
                consignee: Consignee {
                    name: String::new(),
                    hq: buyer.hq.clone(),
                    parent_hq: None,
                    veu: buyer.veu.as_ref().map(|(kind, id)| VeuRef {
                        kind: *kind,
                        id: id.clone(),
                    }),
                    listed: false,
                    government: false,
                    ..Default::default()
                },
                end_use: None,
                ultimate_destination: None,
                item: ItemInput::default(),
                quantity: None,
                context: Context::default(),
                ..Default::default()
            }
        })
        .collect();
    let mut desk = LicenseDesk::new(sc.licensing_for(cc));
    for q in 0..sc.quarters {
        let mut st = QuarterStats::default();
        let orders = orders_for(sc, cc, buyers, q, h100_tpp, &mut next_consignee);
        for o in &orders {
            desk.grant_due(o.date, &mut accts, &mut st, &mut binds, q);
            let buyer = &sc.buyers[buyers[o.buyer]];
            let g2g = g2g_date.is_some_and(|d| d <= o.date);
            let mut input = templates[o.buyer].clone();
            input.date = o.date;
            input.consignee.name = buyer.consignees[o.consignee].clone();
            input.item.chip = Some(buyer.mix.chips[o.chip].0.clone());
            input.quantity = Some(o.quantity);
            // The balances `ship` would read, from the accounts drawn so far.
            if let Ok(reads) = balance_reads(policy, &input) {
                reads.fill(&mut input.context, |a| {
                    (accts.get(a).map_or(0, |acct| acct.used), 0)
                });
            }
            input.context.gov_to_gov_agreement = g2g;
            st.orders += 1;
            let d = match determine(policy, &input) {
                Ok(d) => d,
                Err(e) => {
                    let tpp = u128::from(o.unit_tpp) * o.quantity.max(0) as u128;
                    st.demand_tpp += tpp;
                    st.refused_tpp += tpp;
                    st.refused_orders += 1;
                    st.errors += 1;
                    if error_samples.len() < 5 {
                        error_samples.push(format!("{}: {e}", o.date));
                    }
                    continue;
                }
            };
            tier = d.destination_tier;
            let tpp = d.total_tpp;
            st.demand_tpp += u128::from(tpp);
            let licensed = d.authorization == Authorization::License;
            let granted = !licensed
                || match d.review_policy {
                    Some(ReviewPolicy::Approval) => true,
                    Some(ReviewPolicy::CaseByCase) => sc.grant_case_by_case,
                    _ => false,
                };
            if !granted {
                st.refused_tpp += u128::from(tpp);
                st.refused_orders += 1;
                if d.reasons.iter().any(|r| r.rule == "allocation.exhausted") {
                    st.refused_exhausted_tpp += u128::from(tpp);
                    binds.get_or_insert(q);
                }
                continue;
            }
            if licensed {
                st.license_applied_tpp += u128::from(tpp);
                match desk.file(o.date, u128::from(tpp), &d.draws) {
                    Filed::GrantedToday => {}
                    Filed::Denied => {
                        st.refused_tpp += u128::from(tpp);
                        st.license_denied_tpp += u128::from(tpp);
                        st.refused_orders += 1;
                        continue;
                    }
                    Filed::Waiting => continue,
                }
            }
            // The determination's draws, checked against their caps as the ledger checks them.
            if !take_draws(&mut accts, &d.draws) {
                violations += 1;
            }
            st.granted_tpp += u128::from(tpp);
            let bucket = match d.authorization {
                Authorization::Lpp => &mut st.lpp_tpp,
                Authorization::Uveu | Authorization::Nveu => &mut st.veu_tpp,
                Authorization::License => &mut st.licensed_tpp,
                _ => &mut st.other_tpp,
            };
            *bucket += u128::from(tpp);
        }
        // The allocation in force at the end of the quarter.
        let end = sc.quarter_start(q + 1).pred_opt().unwrap_or(sc.start);
        desk.grant_due(end, &mut accts, &mut st, &mut binds, q);
        st.license_pending_tpp = desk.pending_tpp();
        let regime = regime_for(policy, run, end, sc.posture)?;
        if let Some(a) = &regime.spec.allocation {
            let mult = if g2g_date.is_some_and(|d| d <= end) {
                a.g2g_multiplier
            } else {
                1
            };
            let used = accts
                .iter()
                .find(|(k, _)| {
                    matches!(k, AccountRef::CountryAllocation { from_year, to_year, .. }
                        if (*from_year, *to_year) == (a.window_start.year(), a.window_end.year()))
                })
                .map_or(0, |(_, acct)| acct.used);
            st.allocation_used_tpp = used;
            st.allocation_cap_tpp = Some(a.cap_for(cc).saturating_mul(mult));
        }
        quarters.push(st);
    }
    let mut accounts: Vec<AccountState> = accts
        .iter()
        .map(|(account, a)| AccountState {
            key: account.ledger_key(SCENARIO_SCOPE),
            cap: a.cap,
            used: a.used,
        })
        .collect();
    accounts.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(CountryResult {
        country: cc.to_string(),
        tier,
        quarters,
        binds,
        accounts,
        cap_violations: violations,
        error_samples,
        licensing: desk.close(),
    })
}

/// `tpp` in H100-equivalents with one decimal and no grouping, for files (CSV, JSON); people
/// read `aidf_core::explain::h100e_text`.
pub fn h100e(tpp: u128, h100_tpp: u64) -> String {
    let tenths = aidf_core::explain::h100e_tenths(tpp, h100_tpp);
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn tier_s(t: Option<aidf_core::Tier>) -> String {
    t.map(|t| t.number().to_string())
        .unwrap_or_else(|| "none".into())
}

/// Writes `licensing.csv`: per run and country, the demand and what became of its license
/// applications (licensed, denied, refused at the grant date, pending at the horizon, mean delay).
fn write_licensing_csv(
    dir: &std::path::Path,
    res: &SimResult,
) -> Result<std::path::PathBuf, crate::batch::BatchError> {
    let h = res.h100_tpp;
    let path = dir.join("licensing.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "run",
        "country",
        "approval_lag_days",
        "denial_share",
        "demand_tpp",
        "demand_h100e",
        "applications",
        "applied_tpp",
        "licensed",
        "licensed_tpp",
        "licensed_h100e",
        "denied",
        "denied_tpp",
        "denied_h100e",
        "refused_at_grant",
        "refused_at_grant_tpp",
        "pending",
        "pending_tpp",
        "pending_h100e",
        "mean_delay_days",
    ])?;
    for run in &res.runs {
        for c in &run.countries {
            let l = &c.licensing;
            let demand: u128 = c.quarters.iter().map(|q| q.demand_tpp).sum();
            w.write_record([
                run.name.clone(),
                c.country.clone(),
                l.approval_lag_days.to_string(),
                share_text(l.denial_per_mille),
                demand.to_string(),
                h100e(demand, h),
                l.applications.to_string(),
                l.applied_tpp.to_string(),
                l.granted.to_string(),
                l.granted_tpp.to_string(),
                h100e(l.granted_tpp, h),
                l.denied.to_string(),
                l.denied_tpp.to_string(),
                h100e(l.denied_tpp, h),
                l.refused_at_grant.to_string(),
                l.refused_at_grant_tpp.to_string(),
                l.pending.to_string(),
                l.pending_tpp.to_string(),
                h100e(l.pending_tpp, h),
                l.mean_delay_days().unwrap_or_default(),
            ])?;
        }
    }
    w.flush()?;
    Ok(path)
}

/// A per-mille share as decimal text: 250 → `0.25`, 1000 → `1`, 0 → `0`.
pub fn share_text(per_mille: u16) -> String {
    let frac = format!("{:03}", per_mille % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (per_mille / 1000).to_string()
    } else {
        format!("{}.{frac}", per_mille / 1000)
    }
}

/// Writes `countries.csv`, `licensing.csv`, `binding.csv`, `tiers.csv`, `compare.csv` (two runs or more) and
/// `summary.json` into `dir`; returns the paths written.
pub fn write_outputs(
    dir: &std::path::Path,
    res: &SimResult,
) -> Result<Vec<std::path::PathBuf>, crate::batch::BatchError> {
    std::fs::create_dir_all(dir)?;
    let h = res.h100_tpp;
    let mut written = Vec::new();
    let path = dir.join("countries.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "run",
        "country",
        "tier",
        "quarter",
        "demand_tpp",
        "demand_h100e",
        "granted_tpp",
        "granted_h100e",
        "allocation_used_tpp",
        "allocation_cap_tpp",
        "allocation_used_h100e",
        "lpp_tpp",
        "veu_tpp",
        "licensed_tpp",
        "other_tpp",
        "refused_tpp",
        "refused_h100e",
        "refused_exhausted_tpp",
        "orders",
        "refused_orders",
        "errors",
        "license_applied_tpp",
        "license_denied_tpp",
        "license_delayed_tpp",
        "license_pending_tpp",
    ])?;
    for run in &res.runs {
        for c in &run.countries {
            for (q, s) in c.quarters.iter().enumerate() {
                w.write_record([
                    run.name.clone(),
                    c.country.clone(),
                    tier_s(c.tier),
                    res.quarters[q].clone(),
                    s.demand_tpp.to_string(),
                    h100e(s.demand_tpp, h),
                    s.granted_tpp.to_string(),
                    h100e(s.granted_tpp, h),
                    s.allocation_used_tpp.to_string(),
                    s.allocation_cap_tpp
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                    h100e(u128::from(s.allocation_used_tpp), h),
                    s.lpp_tpp.to_string(),
                    s.veu_tpp.to_string(),
                    s.licensed_tpp.to_string(),
                    s.other_tpp.to_string(),
                    s.refused_tpp.to_string(),
                    h100e(s.refused_tpp, h),
                    s.refused_exhausted_tpp.to_string(),
                    s.orders.to_string(),
                    s.refused_orders.to_string(),
                    s.errors.to_string(),
                    s.license_applied_tpp.to_string(),
                    s.license_denied_tpp.to_string(),
                    s.license_delayed_tpp.to_string(),
                    s.license_pending_tpp.to_string(),
                ])?;
            }
        }
    }
    w.flush()?;
    written.push(path);
    written.push(write_licensing_csv(dir, res)?);

    let path = dir.join("binding.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "run",
        "country",
        "tier",
        "cap_binds",
        "allocation_used_tpp",
        "allocation_cap_tpp",
        "demand_tpp",
        "granted_tpp",
        "refused_tpp",
    ])?;
    for run in &res.runs {
        for c in &run.countries {
            let last = c.quarters.last().cloned().unwrap_or_default();
            let sum = |f: fn(&QuarterStats) -> u128| c.quarters.iter().map(f).sum::<u128>();
            w.write_record([
                run.name.clone(),
                c.country.clone(),
                tier_s(c.tier),
                c.binds
                    .map(|q| res.quarters[q as usize].clone())
                    .unwrap_or_default(),
                last.allocation_used_tpp.to_string(),
                last.allocation_cap_tpp
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                sum(|s| s.demand_tpp).to_string(),
                sum(|s| s.granted_tpp).to_string(),
                sum(|s| s.refused_tpp).to_string(),
            ])?;
        }
    }
    w.flush()?;
    written.push(path);

    let path = dir.join("tiers.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "run",
        "quarter",
        "tier",
        "granted_tpp",
        "granted_h100e",
        "refused_tpp",
    ])?;
    for run in &res.runs {
        for (q, label) in res.quarters.iter().enumerate() {
            let mut by: BTreeMap<String, (u128, u128)> = BTreeMap::new();
            for c in &run.countries {
                let e = by.entry(tier_s(c.tier)).or_default();
                e.0 += c.quarters[q].granted_tpp;
                e.1 += c.quarters[q].refused_tpp;
            }
            for (t, (g, r)) in by {
                w.write_record([
                    run.name.clone(),
                    label.clone(),
                    t,
                    g.to_string(),
                    h100e(g, h),
                    r.to_string(),
                ])?;
            }
        }
    }
    w.flush()?;
    written.push(path);

    if res.runs.len() > 1 {
        let path = dir.join("compare.csv");
        let mut w = csv::Writer::from_path(&path)?;
        w.write_record([
            "run_a",
            "run_b",
            "country",
            "quarter",
            "granted_a_tpp",
            "granted_b_tpp",
            "granted_diff_tpp",
            "granted_diff_h100e",
            "refused_a_tpp",
            "refused_b_tpp",
            "refused_diff_tpp",
        ])?;
        let a = &res.runs[0];
        for b in &res.runs[1..] {
            for (ca, cb) in a.countries.iter().zip(&b.countries) {
                for q in 0..res.quarters.len() {
                    let (x, y) = (&ca.quarters[q], &cb.quarters[q]);
                    let gd = y.granted_tpp as i128 - x.granted_tpp as i128;
                    let sign = if gd < 0 { "-" } else { "" };
                    w.write_record([
                        a.name.clone(),
                        b.name.clone(),
                        ca.country.clone(),
                        res.quarters[q].clone(),
                        x.granted_tpp.to_string(),
                        y.granted_tpp.to_string(),
                        gd.to_string(),
                        format!("{sign}{}", h100e(gd.unsigned_abs(), h)),
                        x.refused_tpp.to_string(),
                        y.refused_tpp.to_string(),
                        (y.refused_tpp as i128 - x.refused_tpp as i128).to_string(),
                    ])?;
                }
            }
        }
        w.flush()?;
        written.push(path);
    }

    #[derive(Serialize)]
    struct RunSummary<'a> {
        run: &'a str,
        orders: u64,
        demand_tpp: u128,
        granted_tpp: u128,
        refused_tpp: u128,
        demand_h100e: String,
        granted_h100e: String,
        refused_h100e: String,
        errors: u64,
        cap_violations: u64,
        caps_bind: BTreeMap<&'a str, &'a str>,
    }
    let runs: Vec<RunSummary<'_>> = res
        .runs
        .iter()
        .map(|r| {
            let all = || r.countries.iter().flat_map(|c| &c.quarters);
            let demand: u128 = all().map(|s| s.demand_tpp).sum();
            let granted: u128 = all().map(|s| s.granted_tpp).sum();
            let refused: u128 = all().map(|s| s.refused_tpp).sum();
            RunSummary {
                run: &r.name,
                orders: all().map(|s| s.orders).sum(),
                demand_tpp: demand,
                granted_tpp: granted,
                refused_tpp: refused,
                demand_h100e: h100e(demand, h),
                granted_h100e: h100e(granted, h),
                refused_h100e: h100e(refused, h),
                errors: all().map(|s| s.errors).sum(),
                cap_violations: r.countries.iter().map(|c| c.cap_violations).sum(),
                caps_bind: r
                    .countries
                    .iter()
                    .filter_map(|c| {
                        c.binds
                            .map(|q| (c.country.as_str(), res.quarters[q as usize].as_str()))
                    })
                    .collect(),
            }
        })
        .collect();
    let path = dir.join("summary.json");
    let v = serde_json::json!({
        "scenario": res.scenario,
        "quarters": res.quarters,
        "h100_tpp": res.h100_tpp,
        "runs": runs,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&v).map_err(std::io::Error::from)? + "\n",
    )?;
    written.push(path);
    Ok(written)
}
