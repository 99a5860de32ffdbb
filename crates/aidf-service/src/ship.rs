//! The shipment path: one read, one determination, one write.

use aidf_core::input::{Context, VeuKind as CoreVeuKind};
use aidf_core::party::{check_name, normalize_name};
use aidf_core::{
    AccountRef, Authorization, BalanceReads, Determination, DeterminationInput, Draw, Policy,
    balance_reads, determine,
};
use aidf_ledger::audit::{AuditContext, Auditor};
use aidf_ledger::{
    Account, AccountKind, AccountSpec, ExpectedBalance, JsonText, LedgerError, LedgerStore,
    License, LicenseCondition, LicenseStatus, Meta, NewShipment, Op, Party, Shipment,
    ShipmentStatus, Timestamp, VeuKind,
};
use chrono::{DateTime, Days, NaiveDate};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::in_flight::InFlight;
use crate::screening::{self, ScreeningError, TenantScreening, TransactionScreening};
use crate::screening_decisions::DecisionError;
use crate::{AnswerParts, ShipConfig, ShipError, ShipOutcome, input_digest};

/// Determinations redone at most this often when balances move under them.
const ATTEMPTS: u32 = 16;

/// One shipment to determine and record.
#[derive(Debug, Clone, Copy)]
pub struct ShipRequest<'a> {
    /// The client's input, as given.
    pub input: &'a DeterminationInput,
    /// Shipment id (already in the tenant's namespace).
    pub shipment_id: &'a str,
    /// The tenant whose consignee accounts are drawn (`local` for the CLI).
    pub tenant: &'a str,
    /// Prefix of the tenant's license and VEU record ids (empty for the CLI).
    pub record_prefix: &'a str,
    /// The caller may record back-dated shipments (an officer).
    pub may_backfill: bool,
    /// Recording time.
    pub now: Timestamp,
}

/// Determines the request against the ledger's balances and records it. The shipment id makes the
/// call idempotent: the same request again returns the stored record; another request under the
/// same id is [`LedgerError::ShipmentConflict`].
pub fn ship(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    config: &ShipConfig,
    req: &ShipRequest<'_>,
) -> Result<ShipOutcome, ShipError> {
    match begin(store, config, req)? {
        Begun::Replayed(out) => Ok(out),
        Begun::New(fresh) => determine_and_record(store, policy, &fresh, req),
    }
}

/// Reads, determines and records a checked request; determines again (at most [`ATTEMPTS`]
/// times) while a balance it read moves or a cap loses its room before the write.
fn determine_and_record(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    fresh: &Fresh,
    req: &ShipRequest<'_>,
) -> Result<ShipOutcome, ShipError> {
    for _ in 0..ATTEMPTS {
        let (mut new, parts) = plan(store, policy, fresh, req, None)?;
        match store.record_shipment(&mut new, req.now) {
            Ok(rec) => return Ok(answer(rec, parts)),
            // A balance moved or another writer took the room: determine again.
            Err(e) if e.is_exceeds_cap() || e.is_balance_moved() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ShipError::Contention(req.shipment_id.to_string(), ATTEMPTS))
}

/// A shipment determined against what one connection read, not yet recorded: see [`prepare`].
#[derive(Debug)]
pub enum Prepared {
    /// The id was recorded before with this request: the stored answer.
    Replayed(ShipOutcome),
    /// The shipment to record, with every balance its determination read.
    Planned(Box<Plan>),
}

/// A checked request and the shipment [`prepare`] determined for it.
#[derive(Debug)]
pub struct Plan {
    /// The request as checked (and screened) by [`prepare`]: determined again from here when a
    /// balance has moved, without checking and screening it again.
    fresh: Fresh,
    /// The shipment to record.
    shipment: NewShipment,
    /// Its answer's parts, as its stored text holds them.
    parts: AnswerParts,
}

impl Plan {
    /// The shipment to record.
    pub fn shipment(&self) -> &NewShipment {
        &self.shipment
    }
}

/// The read-only half of [`ship`]: checks the request and determines it against the balances
/// `store` holds now, plus the draws `in_flight` (plans not recorded yet), without writing. Run
/// it off the writer (the server's planner thread, on a reader connection of its own); then
/// [`commit_prepared`] records the plan, which the ledger refuses if any balance it read has
/// moved meanwhile, in which case the shipment is determined again there.
pub fn prepare(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    config: &ShipConfig,
    req: &ShipRequest<'_>,
    in_flight: &InFlight,
) -> Result<Prepared, ShipError> {
    match begin(store, config, req)? {
        Begun::Replayed(out) => Ok(Prepared::Replayed(out)),
        Begun::New(fresh) => {
            let (shipment, parts) = plan(store, policy, &fresh, req, Some(in_flight))?;
            Ok(Prepared::Planned(Box::new(Plan {
                fresh,
                shipment,
                parts,
            })))
        }
    }
}

/// Records a plan made by [`prepare`] for the same request. If a balance it read has moved, or
/// a cap no longer has room, the shipment is determined again on `store` from the checked
/// request, so the answer is always the one the balances at commit give. The recorded answer
/// takes the plan's determination (see [`LedgerStore::record_shipment`]).
pub fn commit_prepared(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    req: &ShipRequest<'_>,
    plan: &mut Plan,
) -> Result<ShipOutcome, ShipError> {
    assert_eq!(
        plan.shipment.shipment_id, req.shipment_id,
        "a plan of another request"
    );
    match store.record_shipment(&mut plan.shipment, req.now) {
        // Cloned: a group can run twice (see `LedgerStore::group`).
        Ok(rec) => Ok(answer(rec, plan.parts.clone())),
        Err(e) if e.is_exceeds_cap() || e.is_balance_moved() => {
            determine_and_record(store, policy, &plan.fresh, req)
        }
        Err(e) => Err(e.into()),
    }
}

/// What [`begin`] found (short-lived, one per request: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Begun {
    Replayed(ShipOutcome),
    New(Fresh),
}

/// A request not recorded yet, checked, as the ledger determines it.
#[derive(Debug)]
struct Fresh {
    /// The input under the ledger's posture, an unknown VEU claim dropped.
    input: DeterminationInput,
    /// What the shipment path did besides the rules.
    notes: Vec<String>,
    /// Back-dated past the window (by an officer).
    backfill: bool,
    /// Digest of the request as given.
    digest: String,
    /// The parties' screening, when the ledger screens (its effects are on `input`).
    screening: Option<TransactionScreening>,
}

/// The checks before any determination: the request itself, then a stored shipment under the
/// same id (replayed, or a conflict), then the input as the ledger determines it.
fn begin(
    store: &mut dyn LedgerStore,
    config: &ShipConfig,
    req: &ShipRequest<'_>,
) -> Result<Begun, ShipError> {
    let backfill = check_request(config, req)?;
    let digest = input_digest(req.input);
    if let Some(stored) = store.shipment(req.shipment_id)? {
        if stored.input_digest != digest {
            return Err(LedgerError::ShipmentConflict {
                shipment_id: req.shipment_id.to_string(),
                stored: stored.input_digest,
            }
            .into());
        }
        return Ok(Begun::Replayed(ShipOutcome::from_record(stored, true)));
    }
    let (mut input, notes) = effective_input(store, config, req)?;
    let screening = if config.screen {
        Some(screen(store, req.tenant, &input)?)
    } else {
        None
    };
    if let Some(s) = &screening {
        s.apply(&mut input);
    }
    Ok(Begun::New(Fresh {
        input,
        notes,
        backfill,
        digest,
        screening,
    }))
}

/// Screens the input's parties against the default lists at the tenant's thresholds; where a
/// party has hits, with the tenant's decisions on them applied.
fn screen(
    store: &mut dyn LedgerStore,
    tenant: &str,
    input: &DeterminationInput,
) -> Result<TransactionScreening, ShipError> {
    let lists = screening::default_lists().map_err(|e| ShipError::Unavailable(e.to_string()))?;
    let thresholds = crate::screening_decisions::thresholds(store, tenant)
        .map_err(|e| match e {
            DecisionError::Ledger(e) => ShipError::Ledger(e),
            other => ShipError::Unavailable(other.to_string()),
        })?
        .thresholds();
    let mut for_tenant = TenantScreening::at(thresholds);
    let run = |t: &TenantScreening| {
        screening::screen_transaction_for(lists, t, input).map_err(|e| match e {
            ScreeningError::Party { field, message } => ShipError::Input { field, message },
            other => ShipError::Unavailable(other.to_string()),
        })
    };
    let first = run(&for_tenant)?;
    if !first.has_hits() {
        return Ok(first);
    }
    for_tenant.decisions = screening::decisions_for(store, tenant, input)?;
    if for_tenant.decisions.is_empty() {
        return Ok(first);
    }
    run(&for_tenant)
}

/// One shipment of a group: the request, who records it (the audit row's tenant and actor),
/// and the plan [`prepare`] made for it, if any.
#[derive(Debug)]
pub struct GroupItem<'a> {
    /// Who the shipment's audit record names.
    pub ctx: AuditContext,
    /// The shipment.
    pub req: ShipRequest<'a>,
    /// Its plan from [`prepare`] (`None`: determined in the group); recording it takes the
    /// plan's determination.
    pub plan: Option<&'a mut Plan>,
}

/// Records several shipments with one commit ([`LedgerStore::group`]): each is determined and
/// written in turn, against the balances its predecessors left, exactly as [`ship`] alone would
/// (a plan whose balances moved is determined again); one that fails undoes only its own writes
/// (the group may be run twice for that: see [`LedgerStore::group`]).
/// The answers are returned only once the group is committed; if the commit fails, every answer
/// is that failure and nothing was recorded. With `chain`, the group's audit records are chained
/// in its own transaction (on SQLite) instead of waiting in the outbox for the audit writer.
pub fn ship_group(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    config: &ShipConfig,
    items: &mut [GroupItem<'_>],
    chain: Option<&Auditor>,
) -> Vec<Result<ShipOutcome, ShipError>> {
    let mut out = Vec::with_capacity(items.len());
    let committed = store.group(&mut |s| {
        // A group can run twice (see `LedgerStore::group`): only the last run's answers count.
        out.clear();
        for item in items.iter_mut() {
            s.set_audit_context(item.ctx.clone());
            out.push(match item.plan.as_deref_mut() {
                Some(plan) => commit_prepared(s, policy, &item.req, plan),
                None => ship(s, policy, config, &item.req),
            });
        }
        // A failed chaining undoes only itself: the rows stay in the outbox, which the audit
        // writer drains (and reports if it fails too), and the shipments commit with them.
        if let Some(auditor) = chain {
            let _ = auditor.chain(s, &[], false);
        }
    });
    match committed {
        Ok(()) => {
            debug_assert_eq!(out.len(), items.len());
            out
        }
        Err(e) => {
            let message = format!("the group commit failed, nothing of it was recorded: {e}");
            items
                .iter()
                .map(|_| Err(ShipError::Unavailable(message.clone())))
                .collect()
        }
    }
}

fn today(now: Timestamp) -> NaiveDate {
    DateTime::from_timestamp_millis(now.0)
        .map(|t| t.date_naive())
        .unwrap_or(NaiveDate::MIN)
}

/// Checks what the shipment path decides itself; returns whether the shipment is a backfill.
fn check_request(config: &ShipConfig, req: &ShipRequest<'_>) -> Result<bool, ShipError> {
    let input = req.input;
    check_name(&input.consignee.name).map_err(|e| ShipError::Input {
        field: "consignee.name",
        message: e.to_string(),
    })?;
    if input.regime.is_some() {
        return Err(ShipError::Input {
            field: "regime",
            message: "a shipment is determined under the regime in force on its date; pin a regime only with `check`".into(),
        });
    }
    if let Some(p) = input.posture.filter(|p| *p != config.posture) {
        return Err(ShipError::Input {
            field: "posture",
            message: format!(
                "`{p}` differs from the ledger's posture `{}`; shipments are determined under the ledger's",
                config.posture
            ),
        });
    }
    let today = today(req.now);
    let latest = today.checked_add_days(Days::new(config.future_days.unsigned_abs()));
    if latest.is_some_and(|l| input.date > l) {
        return Err(ShipError::Input {
            field: "date",
            message: format!(
                "`{}` is more than {} day(s) after today ({today}); record a shipment when it happens",
                input.date, config.future_days
            ),
        });
    }
    let earliest = today.checked_sub_days(Days::new(config.backdate_window_days.unsigned_abs()));
    let backfill = earliest.is_some_and(|e| input.date < e);
    if backfill && !req.may_backfill {
        return Err(ShipError::Forbidden(format!(
            "a shipment dated {} is more than {} days before today ({today}): recording it is a backfill and needs the officer role",
            input.date, config.backdate_window_days
        )));
    }
    Ok(backfill)
}

/// The input determined for the shipment: the ledger's posture, and a VEU claim only when the
/// tenant has recorded that VEU, of that kind, with a site in the destination.
fn effective_input(
    store: &mut dyn LedgerStore,
    config: &ShipConfig,
    req: &ShipRequest<'_>,
) -> Result<(DeterminationInput, Vec<String>), ShipError> {
    let mut input = req.input.clone();
    input.posture = Some(config.posture);
    let mut notes = Vec::new();
    if let Some(claim) = input.consignee.veu.clone() {
        let record = store.veu(&format!("{}{}", req.record_prefix, claim.id))?;
        let kind = match claim.kind {
            CoreVeuKind::Uveu => VeuKind::Uveu,
            CoreVeuKind::Nveu => VeuKind::Nveu,
        };
        let dest = input.destination.trim().to_ascii_uppercase();
        let known =
            record.is_some_and(|v| v.kind == kind && v.sites.iter().any(|s| s.country == dest));
        if !known {
            notes.push(format!(
                "VEU `{}` is unknown: no {} of this tenant with a site in {dest} is recorded, so the consignee is treated as an ordinary one",
                claim.id,
                match kind {
                    VeuKind::Uveu => "UVEU",
                    VeuKind::Nveu => "NVEU",
                }
            ));
            input.consignee.veu = None;
        }
    }
    Ok((input, notes))
}

/// The balances read, by account: what the ledger holds now (expired holds left out).
struct Reads {
    reads: BalanceReads,
    keys: Vec<String>,
    accounts: Vec<Option<Account>>,
}

impl Reads {
    fn load(
        store: &mut dyn LedgerStore,
        policy: &Policy,
        input: &DeterminationInput,
        req: &ShipRequest<'_>,
        in_flight: Option<&InFlight>,
    ) -> Result<Reads, ShipError> {
        let reads = balance_reads(policy, input)?;
        let keys: Vec<String> = reads
            .accounts()
            .iter()
            .map(|a| a.ledger_key(req.tenant))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut accounts = store.live_accounts(&refs, req.now)?;
        if let Some(f) = in_flight {
            f.add_to(&refs, &mut accounts, req.now);
        }
        Ok(Reads {
            reads,
            keys,
            accounts,
        })
    }

    fn of(&self, account: &AccountRef) -> (u64, u64) {
        self.reads
            .accounts()
            .iter()
            .position(|a| *a == account)
            .and_then(|i| self.accounts[i].as_ref())
            .map_or((0, 0), |a| (a.posted, a.pending))
    }

    /// Each balance as the determination read it, for the write to compare.
    fn expected(&self) -> Vec<ExpectedBalance> {
        self.reads
            .accounts()
            .iter()
            .zip(&self.keys)
            .map(|(a, key)| {
                let (posted, pending) = self.of(a);
                ExpectedBalance {
                    key: key.clone(),
                    used: if a.reads_posted_only() {
                        posted
                    } else {
                        posted.saturating_add(pending)
                    },
                    posted_only: a.reads_posted_only(),
                }
            })
            .collect()
    }
}

/// The answer to a shipment just recorded: made from the parts its plan wrote into the stored
/// text (the same bytes a replay copies out of it), unless another request had recorded the id
/// first, whose stored answer it is then.
fn answer(rec: Shipment, parts: AnswerParts) -> ShipOutcome {
    match rec.replayed {
        true => ShipOutcome::from_record(rec, false),
        false => ShipOutcome::of_parts(rec, parts, false),
    }
}

/// Reads, determines and builds the shipment to record, with its answer's parts.
fn plan(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    fresh: &Fresh,
    req: &ShipRequest<'_>,
    in_flight: Option<&InFlight>,
) -> Result<(NewShipment, AnswerParts), ShipError> {
    let reads = Reads::load(store, policy, &fresh.input, req, in_flight)?;
    let mut input = context_input(store, fresh, &reads, req)?;
    let d = determine(policy, &input)?;
    // A barred party or a hit held for review refuses before any license or cap is looked at.
    let screened_refusal = fresh.screening.as_ref().and_then(|s| s.refusal.clone());
    let (license, misses) = match d.authorization {
        Authorization::License if screened_refusal.is_none() => {
            match matching_license(store, req, &d)? {
                Ok(l) => (Some(l), Vec::new()),
                Err(misses) => (None, misses),
            }
        }
        _ => (None, Vec::new()),
    };
    // Under a license that drew the allocation at issuance, this shipment is part of what it
    // drew: the allocation is read without the license's unshipped remainder.
    let d = match issued_remainder(store, &d, license.as_ref(), req)? {
        Some(remainder) => {
            let used = &mut input.context.country_allocation_used_tpp;
            *used = used.saturating_sub(remainder);
            determine(policy, &input)?
        }
        None => d,
    };
    let refusal = screened_refusal.or_else(|| refusal(&d, &reads, license.as_ref(), &misses, req));
    let mut new = NewShipment {
        shipment_id: req.shipment_id.to_string(),
        input_digest: fresh.digest.clone(),
        status: ShipmentStatus::Refused,
        tenant: Some(req.tenant.to_string()),
        business_date: Some(input.date.to_string()),
        backfill: fresh.backfill,
        expected: reads.expected(),
        parties: vec![party(req, &reads.reads)],
        ..NewShipment::default()
    };
    let mut notes = fresh.notes.clone();
    if refusal.is_none() {
        new.status = ShipmentStatus::Authorized;
        notes.extend(draw(&mut new, &d, &reads, license.as_ref(), req));
        notes.extend(
            license
                .iter()
                .flat_map(|l| license_notes(l, &d, req.input.value_usd.is_some())),
        );
    }
    let parts = AnswerParts {
        determination: JsonText::of(&d).map_err(unserializable)?,
        screening: (fresh.screening.as_ref())
            .map(JsonText::of)
            .transpose()
            .map_err(unserializable)?,
        license_id: license.map(|l| l.id),
        refusal,
        notes,
    };
    new.determination = stored_text(&parts, req.input)?;
    Ok((new, parts))
}

fn unserializable(e: serde_json::Error) -> ShipError {
    ShipError::Unavailable(format!("serializing the determination: {e}"))
}

/// The text a shipment's record stores: the answer's parts embedded as they were written, so
/// the stored text holds the answer's bytes, and the input as given.
fn stored_text(parts: &AnswerParts, input: &DeterminationInput) -> Result<JsonText, ShipError> {
    let text = JsonText::of(&StoredAnswer {
        determination: parts.determination.as_raw(),
        input,
        license_id: parts.license_id.as_deref(),
        notes: &parts.notes,
        refusal: parts.refusal.as_deref(),
        screening: parts.screening.as_ref().map(JsonText::as_raw),
    })
    .map_err(unserializable)?;
    debug_assert_eq!(
        &AnswerParts::of_stored(&text),
        parts,
        "a replay would answer other bytes"
    );
    Ok(text)
}

/// What a shipment's record stores as its determination, written once as text: the answer's
/// parts ([`crate::ShipOutcome::from_record`] reads them back) and the input as given, before
/// the ledger's balances (so `reevaluate` can run it again).
#[derive(Serialize)]
struct StoredAnswer<'a> {
    determination: &'a RawValue,
    input: &'a DeterminationInput,
    license_id: Option<&'a str>,
    notes: &'a [String],
    refusal: Option<&'a str>,
    screening: Option<&'a RawValue>,
}

/// The input as determined against the ledger: the balances read, a certified larger LPP
/// total, and any government-to-government arrangement.
fn context_input(
    store: &mut dyn LedgerStore,
    fresh: &Fresh,
    reads: &Reads,
    req: &ShipRequest<'_>,
) -> Result<DeterminationInput, ShipError> {
    let mut input = fresh.input.clone();
    input.context = Context {
        weights_storage_compliant: input.context.weights_storage_compliant,
        ..Context::default()
    };
    reads.reads.fill(&mut input.context, |a| reads.of(a));
    // A consignee's certified year-to-date LPP total counts when it is larger than ours.
    input.context.consignee_ytd_tpp = input
        .context
        .consignee_ytd_tpp
        .max(req.input.context.consignee_ytd_tpp);
    input.context.gov_to_gov_agreement = has_g2g(store, &reads.reads, input.date)?;
    Ok(input)
}

/// The TPP a license that drew the allocation at issuance has not shipped yet (its cap less its
/// draws), when the determination draws that allocation; `None` otherwise.
fn issued_remainder(
    store: &mut dyn LedgerStore,
    d: &Determination,
    license: Option<&License>,
    req: &ShipRequest<'_>,
) -> Result<Option<u64>, ShipError> {
    let Some(l) = license else { return Ok(None) };
    if !d
        .draws
        .iter()
        .any(|draw| drawn_at_issuance(Some(l), draw, req.tenant))
    {
        return Ok(None);
    }
    let key = l.tpp_account();
    let live = store.live_accounts(&[key.as_str()], req.now)?;
    let used = live[0]
        .as_ref()
        .map_or(0, |a| a.posted.saturating_add(a.pending));
    Ok(Some(l.tpp_cap.saturating_sub(used)))
}

fn party(req: &ShipRequest<'_>, reads: &BalanceReads) -> Party {
    let c = &req.input.consignee;
    let id = match &reads.aia {
        AccountRef::AiaCumulative { party } => party.to_string(),
        other => other.ledger_key(""),
    };
    Party {
        tenant: req.tenant.to_string(),
        id,
        name: c.name.trim().to_string(),
        normalized_name: normalize_name(&c.name),
        hq: c.hq.trim().to_ascii_uppercase(),
        parent_hq: c.parent_hq.as_ref().map(|p| p.trim().to_ascii_uppercase()),
    }
}

/// Whether the destination had a government-to-government arrangement on the date (only
/// allocations read it). Shipments and license applications read it alike.
pub(crate) fn has_g2g(
    store: &mut dyn LedgerStore,
    reads: &BalanceReads,
    date: NaiveDate,
) -> Result<bool, LedgerError> {
    let Some(AccountRef::CountryAllocation { country, .. }) = &reads.allocation else {
        return Ok(false);
    };
    let (cc, date) = (country.to_string(), date.to_string());
    Ok(store
        .g2g_arrangements()?
        .iter()
        .any(|g| g.country == cc && g.date.as_str() <= date.as_str()))
}

/// Why the shipment is refused, if it is: a license required and none usable, or a draw past
/// its cap (a license never carries a shipment past the allocation).
fn refusal(
    d: &Determination,
    reads: &Reads,
    license: Option<&License>,
    misses: &[(String, LicenseMismatch)],
    req: &ShipRequest<'_>,
) -> Option<String> {
    let name = &req.input.consignee.name;
    if d.authorization == Authorization::License && license.is_none() {
        let policy = d.review_policy.map(|r| r.as_str()).unwrap_or("not stated");
        if misses.is_empty() {
            return Some(format!(
                "license required (review policy: {policy}) and no license is recorded; none covers `{name}` in {}",
                d.destination
            ));
        }
        return Some(format!(
            "license required (review policy: {policy}) and no recorded license covers this shipment to `{name}` in {}: {}",
            d.destination,
            misses_text(misses)
        ));
    }
    let beyond_licensed = license.is_some_and(|l| l.beyond_allocation);
    for draw in &d.draws {
        let Some(cap) = draw.cap_tpp else { continue };
        if beyond_licensed && draw.account.beyond().is_some() {
            continue;
        }
        if drawn_at_issuance(license, draw, req.tenant) {
            continue;
        }
        let (posted, pending) = reads.of(&draw.account);
        let used = if draw.account.reads_posted_only() {
            posted
        } else {
            posted.saturating_add(pending)
        };
        if u128::from(used) + u128::from(draw.amount_tpp) > u128::from(cap) {
            return Some(format!(
                "`{}`: {} used + {} would exceed its cap of {} TPP; a license does not carry a shipment past it",
                draw.account.ledger_key(req.tenant),
                aidf_core::explain::thousands(used.into()),
                aidf_core::explain::thousands(draw.amount_tpp.into()),
                aidf_core::explain::thousands(cap.into())
            ));
        }
    }
    None
}

/// Whether `draw` is on the allocation the license already drew when it was issued (the regime
/// read the allocation as consumed on issuance): a shipment under it does not draw it again.
fn drawn_at_issuance(license: Option<&License>, draw: &Draw, tenant: &str) -> bool {
    license
        .and_then(|l| l.allocation_drawn.as_deref())
        .is_some_and(|key| key == draw.account.ledger_key(tenant))
}

/// What the shipment path says about a license it ships under: an allocation drawn at issuance,
/// each condition (checked where the shipment can be, else an obligation with its date), and a
/// value check that could not be made.
fn license_notes(l: &License, d: &Determination, value_given: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if let (Some(value), false) = (&l.value_usd, value_given) {
        notes.push(format!(
            "license `{}` is for {value} USD: the shipment gives no `value_usd`, so its value was not drawn or checked against the license's value and shipping tolerance (15 CFR 750.11(b))",
            l.id
        ));
    }
    if let Some(key) = &l.allocation_drawn {
        notes.push(format!(
            "`{key}` was drawn when license `{}` was issued (allocation_consumption_event = license_issued); this shipment does not draw it again",
            l.id
        ));
    }
    for c in &l.conditions {
        notes.push(match c {
            LicenseCondition::EndUserUnchanged => format!(
                "license `{}` condition: the end user may not be changed (checked: the consignee is the license's, `{}`)",
                l.id, l.consignee
            ),
            LicenseCondition::ReportWithinDays { days } => {
                let due = d.regime.date.checked_add_days(Days::new(u64::from(*days)));
                format!(
                    "license `{}` condition: report this export to BIS within {days} day(s), by {}",
                    l.id,
                    due.map_or_else(|| "a date past the calendar".into(), |d| d.to_string())
                )
            }
            LicenseCondition::Text { text } => {
                format!("license `{}` condition (not checked by aidf): {text}", l.id)
            }
        });
    }
    notes
}

fn account_kind(a: &AccountRef) -> AccountKind {
    match a {
        AccountRef::CountryAllocation { .. } => AccountKind::CountryAllocation,
        AccountRef::LppAnnual { .. } => AccountKind::Lpp,
        AccountRef::NveuInstalledBase { .. } => AccountKind::NveuInstalledBase,
        AccountRef::AiaCumulative { .. } => AccountKind::AiaCumulative,
        AccountRef::BeyondAllocation { .. } => AccountKind::CountryAllocation,
    }
}

/// The parts of a draw: the draw itself, or, under a license granted beyond the allocation,
/// what the allocation has room for and the rest on its `beyond` account, with a note saying so.
fn split_draw(
    draw: &Draw,
    reads: &Reads,
    license: Option<&License>,
    tenant: &str,
) -> (Vec<Draw>, Option<String>) {
    let whole = vec![draw.clone()];
    let (Some(beyond), Some(cap), Some(l)) = (
        draw.account.beyond(),
        draw.cap_tpp,
        license.filter(|l| l.beyond_allocation),
    ) else {
        return (whole, None);
    };
    let (posted, pending) = reads.of(&draw.account);
    let room = cap.saturating_sub(posted.saturating_add(pending));
    let over = draw.amount_tpp.saturating_sub(room);
    if over == 0 {
        return (whole, None);
    }
    let note = format!(
        "{over} TPP drawn beyond the allocation on `{}` under license `{}`, which BIS granted beyond it (recorded by an officer)",
        beyond.ledger_key(tenant),
        l.id
    );
    let parts = vec![
        Draw {
            amount_tpp: draw.amount_tpp - over,
            ..draw.clone()
        },
        Draw {
            account: beyond,
            amount_tpp: over,
            cap_tpp: None,
        },
    ];
    (parts, Some(note))
}

/// The ops of an authorized shipment: the determination's draws (split by [`split_draw`]), then
/// the license's; returns the note of a draw past the allocation.
fn draw(
    new: &mut NewShipment,
    d: &Determination,
    reads: &Reads,
    license: Option<&License>,
    req: &ShipRequest<'_>,
) -> Option<String> {
    let meta = Meta::determination(req.shipment_id, &d.regime.digest);
    let sid = req.shipment_id;
    let mut note = None;
    for (i, whole) in d.draws.iter().enumerate() {
        if drawn_at_issuance(license, whole, req.tenant) {
            continue;
        }
        let (parts, beyond_note) = split_draw(whole, reads, license, req.tenant);
        note = note.or(beyond_note);
        for (j, part) in parts.into_iter().enumerate() {
            if part.amount_tpp == 0 {
                continue;
            }
            let key = part.account.ledger_key(req.tenant);
            new.accounts.push(AccountSpec {
                key: key.clone(),
                kind: account_kind(&part.account),
                cap: part.cap_tpp,
            });
            let op_id = match j {
                0 => format!("{sid}:d{i}"),
                _ => format!("{sid}:d{i}:beyond"),
            };
            new.ops.push(Op::Transfer {
                op_id,
                account: key,
                amount: part.amount_tpp,
                meta: meta.clone(),
            });
        }
    }
    if let Some(l) = license {
        let value = license_value_cents(l, req);
        let draws = [
            ("license-tpp", l.tpp_account(), Some(d.total_tpp)),
            ("license-units", l.units_account(), Some(d.quantity)),
            ("license-value", l.value_account(), value),
        ];
        for (suffix, account, amount) in draws {
            let Some(amount) = amount else { continue };
            new.ops.push(Op::Transfer {
                op_id: format!("{sid}:{suffix}"),
                account,
                amount,
                meta: meta.clone(),
            });
        }
    }
    note
}

/// The cents a shipment under `l` draws on its value account: its value, when the license has a
/// value cap and the shipment a value (whole cents, checked by the input's parser and
/// [`value_mismatch`]).
fn license_value_cents(l: &License, req: &ShipRequest<'_>) -> Option<u64> {
    l.value_cap_cents?;
    req.input.value_usd.and_then(crate::licenses::usd_cents)
}

/// The first of the tenant's licenses that covers this shipment on its date and has room, or why
/// each of the tenant's licenses does not (see [`LicenseMismatch`]).
fn matching_license(
    store: &mut dyn LedgerStore,
    req: &ShipRequest<'_>,
    d: &Determination,
) -> Result<Result<License, Vec<(String, LicenseMismatch)>>, ShipError> {
    let mut misses = Vec::new();
    let licenses = store.licenses()?;
    for l in licenses
        .into_iter()
        .filter(|l| l.id.starts_with(req.record_prefix))
    {
        match license_mismatch(store, req, d, &l)? {
            None => return Ok(Ok(l)),
            Some(m) => misses.push((l.id[req.record_prefix.len()..].to_string(), m)),
        }
    }
    Ok(Err(misses))
}

/// Why `l` does not cover the shipment, checked in the order an officer would: the license's
/// status, its parties and items, its dates, then its room.
fn license_mismatch(
    store: &mut dyn LedgerStore,
    req: &ShipRequest<'_>,
    d: &Determination,
    l: &License,
) -> Result<Option<LicenseMismatch>, ShipError> {
    let date = d.regime.date.to_string();
    let item = d.item.chip_id.as_deref();
    let static_miss = match l.status {
        LicenseStatus::Revoked => Some(LicenseMismatch::Revoked),
        LicenseStatus::Suspended => Some(LicenseMismatch::Suspended),
        LicenseStatus::Active => None,
    }
    .or_else(|| {
        (normalize_name(&l.consignee) != normalize_name(&req.input.consignee.name)).then(|| {
            LicenseMismatch::OtherConsignee {
                licensed: l.consignee.clone(),
            }
        })
    })
    .or_else(|| {
        (l.destination_country != d.destination.as_str()).then(|| {
            LicenseMismatch::OtherDestination {
                licensed: l.destination_country.clone(),
            }
        })
    })
    .or_else(|| {
        let covered = l.allowed_item_ids.is_empty()
            || item.is_some_and(|i| l.allowed_item_ids.iter().any(|a| a == i));
        (!covered).then(|| LicenseMismatch::OtherItem {
            licensed: l.allowed_item_ids.clone(),
            shipped: item.map(String::from),
        })
    })
    .or_else(|| {
        (date.as_str() < l.granted_on.as_str()).then(|| LicenseMismatch::NotYetValid {
            from: l.granted_on.clone(),
            date: date.clone(),
        })
    })
    .or_else(|| {
        (date.as_str() > l.expires_on.as_str()).then(|| LicenseMismatch::Expired {
            on: l.expires_on.clone(),
            date: date.clone(),
        })
    });
    if static_miss.is_some() {
        return Ok(static_miss);
    }
    let (tpp, units) = (l.tpp_account(), l.units_account());
    let live = store.live_accounts(&[tpp.as_str(), units.as_str()], req.now)?;
    if let Some(m) = caps_mismatch(&live, d)? {
        return Ok(Some(m));
    }
    value_mismatch(store, req, l, live[1].as_ref())
}

/// Whether the shipment's TPP or units pass what the license's accounts have left.
fn caps_mismatch(
    live: &[Option<Account>],
    d: &Determination,
) -> Result<Option<LicenseMismatch>, ShipError> {
    for (account, amount, unit) in [
        (&live[0], d.total_tpp, "TPP"),
        (&live[1], d.quantity, "units"),
    ] {
        let Some(a) = account else {
            return Ok(Some(LicenseMismatch::NoAccount { unit }));
        };
        let used = a.posted.saturating_add(a.pending);
        if let Some(cap) = a.cap
            && u128::from(used) + u128::from(amount) > u128::from(cap)
        {
            return Ok(Some(LicenseMismatch::Exhausted {
                unit,
                used,
                shipment: amount,
                cap,
                tolerance: if unit == "units" {
                    crate::licenses::quantity_tolerance_note()
                } else {
                    None
                },
            }));
        }
    }
    Ok(None)
}

/// Whether the shipment's value passes the license's value plus the shipping tolerance (15 CFR
/// 750.11(b)), read from the license's value account: checked when the license has a value cap
/// and the shipment a value (the ledger enforces the same cap when the draw commits).
fn value_mismatch(
    store: &mut dyn LedgerStore,
    req: &ShipRequest<'_>,
    l: &License,
    units: Option<&Account>,
) -> Result<Option<LicenseMismatch>, ShipError> {
    let (Some(_), Some(value)) = (l.value_cap_cents, req.input.value_usd) else {
        return Ok(None);
    };
    let key = l.value_account();
    let Some(account) = store.live_accounts(&[key.as_str()], req.now)?.remove(0) else {
        return Ok(Some(LicenseMismatch::NoAccount { unit: "USD" }));
    };
    let value_error = |message: String| ShipError::Input {
        field: "value_usd",
        message,
    };
    let cents = crate::licenses::usd_cents(value)
        .ok_or_else(|| value_error(format!("`{value}` is too large to draw exactly")))?;
    let used = account.posted.saturating_add(account.pending);
    let fits = account
        .cap
        .is_none_or(|cap| u128::from(used) + u128::from(cents) <= u128::from(cap));
    if fits {
        return Ok(None);
    }
    let t = crate::licenses::licensing()
        .map_err(|e| value_error(format!("policy/licensing.toml: {e}")))?
        .shipping_tolerance;
    let licensed = l
        .value_usd
        .as_deref()
        .and_then(|v| aidf_core::num::parse_decimal_exact(v).ok())
        .unwrap_or_default();
    let shipped = rust_decimal::Decimal::from_i128_with_scale(i128::from(used), 2);
    let units = units.map_or((0, l.units_cap), |u| {
        (u.posted.saturating_add(u.pending), l.units_cap)
    });
    let refusal = crate::licenses::check_value_tolerance(&t, licensed, shipped, value, units, None)
        .err()
        .map_or_else(
            || format!("value: {value} USD would pass the license's value account (`{key}`)"),
            |e| e.to_string(),
        );
    Ok(Some(LicenseMismatch::Value { refusal }))
}

/// Licenses named in a refusal: the nearest misses first (a license of this consignee and
/// destination that is exhausted, expired, not yet valid, for another item, suspended or
/// revoked), then licenses of other parties; at most [`NAMED_MISSES`], the rest counted.
fn misses_text(misses: &[(String, LicenseMismatch)]) -> String {
    let mut sorted: Vec<&(String, LicenseMismatch)> = misses.iter().collect();
    sorted.sort_by_key(|(_, m)| m.distance());
    let mut parts: Vec<String> = sorted
        .iter()
        .take(NAMED_MISSES)
        .map(|(id, m)| format!("license `{id}`: {m}"))
        .collect();
    if sorted.len() > NAMED_MISSES {
        parts.push(format!(
            "and {} more license(s) of other consignees, destinations or items",
            sorted.len() - NAMED_MISSES
        ));
    }
    parts.join("; ")
}

/// At most this many licenses are named in a refusal.
const NAMED_MISSES: usize = 8;

impl LicenseMismatch {
    /// How far the license is from covering the shipment (0: only its room or dates).
    fn distance(&self) -> u8 {
        match self {
            LicenseMismatch::Exhausted { .. }
            | LicenseMismatch::NoAccount { .. }
            | LicenseMismatch::Value { .. } => 0,
            LicenseMismatch::Expired { .. } | LicenseMismatch::NotYetValid { .. } => 1,
            LicenseMismatch::Suspended | LicenseMismatch::Revoked => 2,
            LicenseMismatch::OtherItem { .. } => 3,
            LicenseMismatch::OtherDestination { .. } => 4,
            LicenseMismatch::OtherConsignee { .. } => 5,
        }
    }
}

/// Why a recorded license does not cover a shipment (each named in the refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseMismatch {
    /// Revoked by BIS.
    Revoked,
    /// Suspended by BIS.
    Suspended,
    /// Issued to another consignee.
    OtherConsignee {
        /// The license's consignee.
        licensed: String,
    },
    /// Issued for another destination.
    OtherDestination {
        /// The license's destination.
        licensed: String,
    },
    /// The item is not among the license's.
    OtherItem {
        /// The license's items.
        licensed: Vec<String>,
        /// The shipment's item (catalog id), if it has one.
        shipped: Option<String>,
    },
    /// The shipment is dated before the license's grant.
    NotYetValid {
        /// Grant date.
        from: String,
        /// Shipment date.
        date: String,
    },
    /// The shipment is dated after the license expired.
    Expired {
        /// Expiry date.
        on: String,
        /// Shipment date.
        date: String,
    },
    /// The shipment would pass a cap of the license.
    Exhausted {
        /// `TPP` or `units`.
        unit: &'static str,
        /// Already drawn (posted and held).
        used: u64,
        /// This shipment's amount.
        shipment: u64,
        /// The cap.
        cap: u64,
        /// What the shipping tolerance (15 CFR 750.11) says about passing it, if anything.
        tolerance: Option<String>,
    },
    /// The shipment's value would pass the license's value plus the shipping tolerance.
    Value {
        /// The tolerance's refusal, with its numbers and citation.
        refusal: String,
    },
    /// The license's account is missing from the ledger.
    NoAccount {
        /// `TPP` or `units`.
        unit: &'static str,
    },
}

impl std::fmt::Display for LicenseMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LicenseMismatch::Revoked => write!(f, "revoked"),
            LicenseMismatch::Suspended => write!(f, "suspended"),
            LicenseMismatch::OtherConsignee { licensed } => {
                write!(f, "other consignee (issued to `{licensed}`)")
            }
            LicenseMismatch::OtherDestination { licensed } => {
                write!(f, "other destination (issued for {licensed})")
            }
            LicenseMismatch::OtherItem { licensed, shipped } => write!(
                f,
                "other item (covers {}; the shipment is {})",
                licensed.join(", "),
                shipped.as_deref().unwrap_or("an item outside the catalog")
            ),
            LicenseMismatch::NotYetValid { from, date } => {
                write!(
                    f,
                    "not yet valid (valid from {from}; the shipment is dated {date})"
                )
            }
            LicenseMismatch::Expired { on, date } => {
                write!(f, "expired (on {on}; the shipment is dated {date})")
            }
            LicenseMismatch::Exhausted {
                unit,
                used,
                shipment,
                cap,
                tolerance,
            } => {
                let n = |v: u64| aidf_core::explain::thousands(v.into());
                write!(
                    f,
                    "exhausted ({unit}: {} used + {} = {} would exceed its cap of {}",
                    n(*used),
                    n(*shipment),
                    aidf_core::explain::thousands(u128::from(*used) + u128::from(*shipment)),
                    n(*cap)
                )?;
                match tolerance {
                    Some(t) => write!(f, "; {t})"),
                    None => write!(f, ")"),
                }
            }
            LicenseMismatch::NoAccount { unit } => {
                write!(f, "its {unit} account is missing from the ledger")
            }
            LicenseMismatch::Value { refusal } => f.write_str(refusal),
        }
    }
}
