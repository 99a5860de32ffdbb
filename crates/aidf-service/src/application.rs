//! License applications (issue 15), shaped like the BIS-748P: submitted, moved through BIS's
//! states by a typed state machine ([`ApplicationState::check`]), every transition dated, by an
//! actor, and audited (the ledger's outbox row commits with it). Each application carries the
//! rule's determination of its items (exception? presumption of approval or denial? which
//! allocation?), made with the core's `determine` as `aidf check` does.
//!
//! Where the regime reads the country allocation as consumed on license issuance
//! (`allocation_consumption_event = license_issued`, a [U] switch), a pending application holds
//! its TPP on the allocation (a ledger hold, written with the application); approval posts the
//! hold and records the license, which then carries the allocation it drew; denial, return and
//! withdrawal void it. Under `shipped` (the default reading) applications hold nothing and say so.

use aidf_core::input::{Consignee, Context, EndUse, ItemInput};
use aidf_core::num::{de_decimal_json, de_opt_decimal_json};
use aidf_core::regime::ConsumptionEvent;
use aidf_core::{
    AccountRef, Determination, DeterminationInput, DetermineError, Policy, Posture, balance_reads,
    determine,
};
use aidf_ledger::{
    AccountKind, AccountSpec, ApplicationWrite, ExpectedBalance, LedgerError, LedgerStore, License,
    LicenseCondition, Meta, Op, Timestamp,
};
use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where BIS has an application (BIS-748P processing states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Filed, not yet registered by BIS.
    Submitted,
    /// Registered (given a control number), under review.
    Registered,
    /// Referred to State, Defense or Energy.
    Referred,
    /// Held without action (BIS awaits something).
    HoldWithoutAction,
    /// Approved, wholly or partly, into a license.
    Approved,
    /// Denied.
    Denied,
    /// Returned without action.
    ReturnedWithoutAction,
    /// Withdrawn by the applicant.
    Withdrawn,
}

impl ApplicationState {
    /// Every state, in processing order.
    pub const ALL: [ApplicationState; 8] = [
        ApplicationState::Submitted,
        ApplicationState::Registered,
        ApplicationState::Referred,
        ApplicationState::HoldWithoutAction,
        ApplicationState::Approved,
        ApplicationState::Denied,
        ApplicationState::ReturnedWithoutAction,
        ApplicationState::Withdrawn,
    ];

    /// The state's name in records, messages and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "submitted",
            ApplicationState::Registered => "registered",
            ApplicationState::Referred => "referred",
            ApplicationState::HoldWithoutAction => "hold_without_action",
            ApplicationState::Approved => "approved",
            ApplicationState::Denied => "denied",
            ApplicationState::ReturnedWithoutAction => "returned_without_action",
            ApplicationState::Withdrawn => "withdrawn",
        }
    }

    /// A state by name.
    pub fn parse(s: &str) -> Option<ApplicationState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Approved, denied, returned or withdrawn: nothing follows.
    pub fn is_final(self) -> bool {
        self.successors().is_empty()
    }

    /// The states this one may move to. A decision (approve, deny) needs the application under
    /// review (submitted, registered or referred); one held without action must be resumed
    /// first (registered or referred). The applicant may withdraw, and BIS return, any
    /// application not decided.
    pub fn successors(self) -> &'static [ApplicationState] {
        use ApplicationState::*;
        match self {
            Submitted => &[
                Registered,
                HoldWithoutAction,
                Approved,
                Denied,
                ReturnedWithoutAction,
                Withdrawn,
            ],
            Registered => &[
                Referred,
                HoldWithoutAction,
                Approved,
                Denied,
                ReturnedWithoutAction,
                Withdrawn,
            ],
            Referred => &[
                Registered,
                HoldWithoutAction,
                Approved,
                Denied,
                ReturnedWithoutAction,
                Withdrawn,
            ],
            HoldWithoutAction => &[Registered, Referred, ReturnedWithoutAction, Withdrawn],
            Approved | Denied | ReturnedWithoutAction | Withdrawn => &[],
        }
    }

    /// Whether the machine allows `self → to`; the error names both states.
    pub fn check(self, to: ApplicationState) -> Result<(), TransitionError> {
        if self.successors().contains(&to) {
            Ok(())
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

impl std::fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", transition_message(*from, *to))]
pub struct TransitionError {
    /// The application's state.
    pub from: ApplicationState,
    /// The state asked for.
    pub to: ApplicationState,
}

fn transition_message(from: ApplicationState, to: ApplicationState) -> String {
    let next: Vec<&str> = from.successors().iter().map(|s| s.as_str()).collect();
    let allowed = if next.is_empty() {
        format!("`{from}` is final")
    } else {
        format!("from `{from}` it may go to {}", next.join(", "))
    };
    format!("an application cannot go from `{from}` to `{to}`; {allowed}")
}

/// Why an application use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// Bad input (names the field).
    #[error("field `{field}`: {message}")]
    Input {
        /// Field path.
        field: String,
        /// What is wrong, with the value.
        message: String,
    },
    /// The items could not be determined (names the item and field).
    #[error("field `items[{index}]`: {source}")]
    Determine {
        /// Item index.
        index: usize,
        /// The core's error.
        source: DetermineError,
    },
    /// No such application (of this tenant).
    #[error("unknown application `{0}`")]
    Unknown(String),
    /// The state machine refused (HTTP 409, CLI exit 2).
    #[error("application `{id}`: {source}")]
    Transition {
        /// Application id.
        id: String,
        /// Both states.
        source: TransitionError,
    },
    /// The id is taken.
    #[error("application `{0}` exists; submit under a new id")]
    Exists(String),
    /// The allocation kept moving under the application.
    #[error("application `{0}`: balances kept changing; gave up after 16 attempts")]
    Contention(String),
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

impl ApplicationError {
    /// A conflict with the recorded state (HTTP 409): an illegal transition, a taken id, a
    /// concurrent change.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            ApplicationError::Transition { .. }
                | ApplicationError::Exists(_)
                | ApplicationError::Ledger(LedgerError::StaleRecord { .. })
        )
    }
}

/// A party named on the application (applicant, purchaser, intermediate consignee, end user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyInput {
    /// Name.
    pub name: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: String,
    /// Address, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub address: Option<String>,
}

/// One item line: a catalog chip or metrics (as in the determination input) and a quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationItem {
    /// Catalog id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub chip: Option<String>,
    /// TPP per unit (metrics form).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal_json",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = aidf_core::schema::Decimal)]
    pub tpp: Option<Decimal>,
    /// Performance density (metrics form).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal_json",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = aidf_core::schema::Decimal)]
    pub pd: Option<Decimal>,
    /// Applicable die area in mm² (metrics form, instead of `pd`).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal_json",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = aidf_core::schema::Decimal)]
    pub die_area_mm2: Option<Decimal>,
    /// Designed or marketed for datacenters (metrics form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub datacenter: Option<bool>,
    /// Units.
    pub quantity: u64,
}

/// An application as filed (BIS-748P blocks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// Application id (the applicant's reference).
    pub id: String,
    /// Filing date.
    #[serde(deserialize_with = "aidf_core::input::de_date")]
    pub date: NaiveDate,
    /// Country of ultimate destination.
    pub destination: String,
    /// Applicant (block 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub applicant: Option<PartyInput>,
    /// Purchaser (block 17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub purchaser: Option<PartyInput>,
    /// Intermediate consignees (block 18).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intermediate_consignees: Vec<PartyInput>,
    /// Ultimate consignee (block 19), as in the determination input.
    pub consignee: Consignee,
    /// End users (block 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_users: Vec<PartyInput>,
    /// Items (blocks 22).
    pub items: Vec<ApplicationItem>,
    /// Total value in USD, exact (a decimal string or number, never a float).
    #[serde(deserialize_with = "de_decimal_json")]
    #[schema(value_type = aidf_core::schema::Decimal)]
    pub value_usd: Decimal,
    /// End use (block 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub end_use: Option<EndUse>,
    /// Supporting documents (references).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<String>,
}

/// Reads an application from JSON (strict: unknown fields are errors naming their path).
pub fn parse_application(json: &str) -> Result<ApplicationInput, ApplicationError> {
    let input: ApplicationInput = aidf_core::strict_json::parse_document(json, "an application")
        .map_err(|plain| input_error(plain.path, plain.message))?;
    check_input(&input)?;
    Ok(input)
}

fn input_error(field: impl Into<String>, message: impl Into<String>) -> ApplicationError {
    ApplicationError::Input {
        field: field.into(),
        message: message.into(),
    }
}

/// Application and license ids: 1-64 characters of `[A-Za-z0-9_:-]` (as every record id a person
/// gives; the tenant's prefix and the hold's op ids are added to them).
fn check_id(field: &str, id: &str) -> Result<(), ApplicationError> {
    if crate::records::is_record_id(id) {
        Ok(())
    } else {
        Err(input_error(field, crate::records::record_id_message(id)))
    }
}

fn check_input(input: &ApplicationInput) -> Result<(), ApplicationError> {
    check_id("id", &input.id)?;
    if input.items.is_empty() {
        return Err(input_error(
            "items",
            "an application names at least one item",
        ));
    }
    for (i, item) in input.items.iter().enumerate() {
        if item.quantity == 0 || i64::try_from(item.quantity).is_err() {
            return Err(input_error(
                format!("items[{i}].quantity"),
                format!("`{}` is not a quantity of 1 or more", item.quantity),
            ));
        }
    }
    if input.value_usd.is_sign_negative() {
        return Err(input_error(
            "value_usd",
            format!("`{}` is negative", input.value_usd),
        ));
    }
    aidf_core::party::check_name(&input.consignee.name)
        .map_err(|e| input_error("consignee.name", e.to_string()))?;
    Ok(())
}

/// One item's determination, as shown with the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemDetermination {
    /// Index in `items`.
    pub index: usize,
    /// `license`, `lpp`, `aca`, … (the core's authorization).
    pub authorization: String,
    /// `approval`, `denial`, `case_by_case`, … when a license is required.
    pub review_policy: Option<String>,
    /// The item's TPP (quantity × unit TPP).
    pub total_tpp: u64,
    /// The core's whole determination (reasons, assumptions, draws, regime and digest).
    #[schema(value_type = aidf_core::Determination)]
    pub determination: Value,
}

/// The application's place on the country allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocationView {
    /// The `allocation_consumption_event` reading of the regime in force (`shipped`,
    /// `license_issued`), or `none` where the regime has no allocation for the items.
    pub reading: String,
    /// The allocation account (`country:AE:2025-2027`), if the items draw one.
    pub account: Option<String>,
    /// TPP this application holds on it (its hold's pending id is `hold_id`).
    pub held_tpp: Option<u64>,
    /// The hold's pending id.
    pub hold_id: Option<String>,
    /// Pending applications holding the allocation when this one was determined (this
    /// tenant's by id, with their TPP).
    pub held_by: Vec<HeldBy>,
    /// TPP held by other tenants' applications (not named).
    pub held_by_others_tpp: u64,
    /// What the hold is or why there is none.
    pub note: String,
}

/// A pending application holding the allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldBy {
    /// Application id.
    pub id: String,
    /// TPP it holds.
    pub tpp: u64,
}

/// A recorded application: what was filed, where it stands, and what the rule says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    /// Id as given (without the tenant's prefix).
    pub id: String,
    /// The tenant that filed it.
    pub tenant: String,
    /// Current state.
    pub state: ApplicationState,
    /// Date of the last transition.
    pub state_date: NaiveDate,
    /// The application as filed.
    pub input: ApplicationInput,
    /// Each item's determination.
    pub determinations: Vec<ItemDetermination>,
    /// The strictest review policy of the items' (`denial` if any item is presumed denied).
    pub review_policy: Option<String>,
    /// Units applied for.
    pub total_units: u64,
    /// TPP applied for.
    pub total_tpp: u64,
    /// The allocation and this application's hold on it.
    pub allocation: AllocationView,
    /// The license it was approved into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub license_id: Option<String>,
}

/// One dated transition of an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    /// Application id (without the tenant's prefix).
    pub application_id: String,
    /// 0 for the submission.
    pub seq: u32,
    /// State before (`None` for the submission).
    pub from: Option<ApplicationState>,
    /// State after.
    pub to: ApplicationState,
    /// Business date.
    pub date: NaiveDate,
    /// Who recorded it.
    pub actor: String,
    /// When it was recorded (ms since the epoch).
    pub recorded_at: i64,
    /// Why, or what BIS said (may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The license of an approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub license_id: Option<String>,
    /// The approval's conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<LicenseCondition>,
}

/// An application with its history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    /// Where it stands.
    pub application: Application,
    /// Every transition, oldest first.
    pub transitions: Vec<Transition>,
}

/// Who acts, for which tenant, when.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// Tenant (`local` for the CLI).
    pub tenant: &'a str,
    /// Prefix of the tenant's record ids (empty for the CLI).
    pub record_prefix: &'a str,
    /// Who (the audit context's actor).
    pub actor: &'a str,
    /// Posture the ledger determines under.
    pub posture: Posture,
    /// Recording time.
    pub now: Timestamp,
}

/// Values read back from the ledger: through text, so exact decimals stay exact.
fn decode<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> Result<T, ApplicationError> {
    serde_json::from_str(&v.to_string()).map_err(|e| {
        ApplicationError::Ledger(LedgerError::Corrupt {
            what: what.to_string(),
            detail: e.to_string(),
        })
    })
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ApplicationError> {
    serde_json::to_value(v).map_err(|e| input_error("application", e.to_string()))
}

/// The determination input of one item line.
fn item_input(
    input: &ApplicationInput,
    item: &ApplicationItem,
    posture: Posture,
) -> DeterminationInput {
    DeterminationInput {
        date: input.date,
        posture: Some(posture),
        destination: input.destination.clone(),
        consignee: input.consignee.clone(),
        end_use: input.end_use,
        item: ItemInput {
            chip: item.chip.clone(),
            tpp: item.tpp,
            pd: item.pd,
            die_area_mm2: item.die_area_mm2,
            datacenter: item.datacenter,
            ..ItemInput::default()
        },
        quantity: i64::try_from(item.quantity).ok(),
        ..DeterminationInput::default()
    }
}

/// The items determined against the ledger's balances now, each item counting the allocation
/// the ones before it draw; returns the determinations and the balances read (for the write).
fn determine_items(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    input: &ApplicationInput,
    who: &Actor<'_>,
) -> Result<(Vec<Determination>, Vec<ExpectedBalance>), ApplicationError> {
    let mut out = Vec::new();
    let mut expected: Vec<ExpectedBalance> = Vec::new();
    let mut drawn: Vec<(String, u64)> = Vec::new();
    for (index, item) in input.items.iter().enumerate() {
        let mut di = item_input(input, item, who.posture);
        let fail = |source| ApplicationError::Determine { index, source };
        let reads = balance_reads(policy, &di).map_err(fail)?;
        let keys: Vec<String> = reads
            .accounts()
            .iter()
            .map(|a| a.ledger_key(who.tenant))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let live = store.live_accounts(&refs, who.now)?;
        for ((a, key), acc) in reads.accounts().iter().zip(&keys).zip(&live) {
            let (posted, pending) = acc.as_ref().map_or((0, 0), |a| (a.posted, a.pending));
            let used = if a.reads_posted_only() {
                posted
            } else {
                posted + pending
            };
            if !expected.iter().any(|e| &e.key == key) {
                expected.push(ExpectedBalance {
                    key: key.clone(),
                    used,
                    posted_only: a.reads_posted_only(),
                });
            }
        }
        let earlier =
            |key: &str| -> u64 { drawn.iter().filter(|(k, _)| k == key).map(|(_, n)| n).sum() };
        reads.reads_fill(&mut di.context, &keys, &live, &earlier);
        di.context.gov_to_gov_agreement = crate::ship::has_g2g(store, &reads, di.date)?;
        let d = determine(policy, &di).map_err(fail)?;
        for draw in &d.draws {
            drawn.push((draw.account.ledger_key(who.tenant), draw.amount_tpp));
        }
        out.push(d);
    }
    Ok((out, expected))
}

/// Fills a determination context from live accounts, plus what earlier items of the same
/// application draw.
trait FillExt {
    fn reads_fill(
        &self,
        ctx: &mut Context,
        keys: &[String],
        live: &[Option<aidf_ledger::Account>],
        earlier: &dyn Fn(&str) -> u64,
    );
}

impl FillExt for aidf_core::BalanceReads {
    fn reads_fill(
        &self,
        ctx: &mut Context,
        keys: &[String],
        live: &[Option<aidf_ledger::Account>],
        earlier: &dyn Fn(&str) -> u64,
    ) {
        let accounts = self.accounts();
        self.fill(ctx, |a| {
            let i = accounts.iter().position(|x| *x == a);
            let (posted, pending) = i
                .and_then(|i| live[i].as_ref())
                .map_or((0, 0), |a| (a.posted, a.pending));
            let extra = i.map_or(0, |i| earlier(&keys[i]));
            (posted.saturating_add(extra), pending)
        });
    }
}

/// The regime's `allocation_consumption_event` reading for a determination.
fn consumption_reading(policy: &Policy, d: &Determination) -> Option<ConsumptionEvent> {
    policy
        .regime(&d.regime.id)
        .and_then(|r| r.spec.switches.allocation_consumption_event.as_ref())
        .map(|s| s.value)
}

fn reading_name(e: Option<ConsumptionEvent>) -> &'static str {
    match e {
        Some(ConsumptionEvent::LicenseIssued) => "license_issued",
        Some(ConsumptionEvent::Shipped) => "shipped",
        None => "none",
    }
}

/// The allocation the items draw (one country allocation per application), with the TPP and
/// the cap the draws name.
fn allocation_draw(ds: &[Determination], tenant: &str) -> Option<(String, u64, Option<u64>)> {
    let mut found: Option<(String, u64, Option<u64>)> = None;
    for d in ds {
        for draw in &d.draws {
            if !matches!(draw.account, AccountRef::CountryAllocation { .. }) {
                continue;
            }
            let key = draw.account.ledger_key(tenant);
            match &mut found {
                Some((k, n, _)) if *k == key => *n += draw.amount_tpp,
                Some(_) => {}
                None => found = Some((key, draw.amount_tpp, draw.cap_tpp)),
            }
        }
    }
    found
}

/// Pending applications holding `account` (this tenant's named, others summed).
fn holders(
    store: &mut dyn LedgerStore,
    account: &str,
    who: &Actor<'_>,
) -> Result<(Vec<HeldBy>, u64), ApplicationError> {
    let mut mine = Vec::new();
    let mut others = 0u64;
    for body in store.applications()? {
        let a: Application = decode("applications", &body)?;
        if a.state.is_final() || a.allocation.account.as_deref() != Some(account) {
            continue;
        }
        let Some(tpp) = a.allocation.held_tpp else {
            continue;
        };
        if a.tenant == who.tenant {
            mine.push(HeldBy { id: a.id, tpp });
        } else {
            others = others.saturating_add(tpp);
        }
    }
    Ok((mine, others))
}

/// `denial` if any item is presumed denied, else the first stated policy.
fn strictest(ds: &[ItemDetermination]) -> Option<String> {
    let policies: Vec<&str> = ds
        .iter()
        .filter_map(|d| d.review_policy.as_deref())
        .collect();
    ["denial", "case_by_case", "approval"]
        .into_iter()
        .find(|p| policies.contains(p))
        .or(policies.first().copied())
        .map(String::from)
}

fn item_view(index: usize, d: &Determination) -> Result<ItemDetermination, ApplicationError> {
    let json = to_value(d)?;
    Ok(ItemDetermination {
        index,
        authorization: json["authorization"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        review_policy: json["review_policy"].as_str().map(String::from),
        total_tpp: d.total_tpp,
        determination: json,
    })
}

/// What the application does to the allocation: its hold (under the issuance reading, when
/// the items fit), or why it holds nothing.
fn plan_hold(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    ds: &[Determination],
    pid: &str,
    who: &Actor<'_>,
) -> Result<(AllocationView, Option<(AccountSpec, Op)>), ApplicationError> {
    let reading = ds.first().and_then(|d| consumption_reading(policy, d));
    let mut view = AllocationView {
        reading: reading_name(reading).to_string(),
        account: None,
        held_tpp: None,
        hold_id: None,
        held_by: Vec::new(),
        held_by_others_tpp: 0,
        note: String::new(),
    };
    let Some((key, tpp, cap)) = allocation_draw(ds, who.tenant) else {
        view.note = "the items draw no country allocation: the application holds nothing".into();
        return Ok((view, None));
    };
    view.account = Some(key.clone());
    let (held_by, others) = holders(store, &key, who)?;
    view.held_by = held_by;
    view.held_by_others_tpp = others;
    if reading != Some(ConsumptionEvent::LicenseIssued) {
        view.note = format!(
            "allocation_consumption_event reads `{}` ([U], reported under assumptions): a pending application holds nothing on `{key}`; the allocation is drawn when items ship",
            view.reading
        );
        return Ok((view, None));
    }
    let presumed_denied = ds
        .iter()
        .any(|d| d.reasons.iter().any(|r| r.rule == "allocation.exhausted"));
    if presumed_denied {
        view.note = hold_refused_note(&key, tpp, &view);
        return Ok((view, None));
    }
    let hold_id = format!("application:{pid}:hold");
    view.held_tpp = Some(tpp);
    view.hold_id = Some(hold_id.clone());
    view.note = format!(
        "allocation_consumption_event reads `license_issued` ([U]): this pending application holds {tpp} TPP on `{key}` until it is decided"
    );
    let spec = AccountSpec {
        key: key.clone(),
        kind: AccountKind::CountryAllocation,
        cap,
    };
    let digest = ds
        .first()
        .map(|d| d.regime.digest.to_string())
        .unwrap_or_default();
    let op = Op::Reserve {
        op_id: hold_id,
        account: key,
        amount: tpp,
        expires_at: None,
        meta: Meta::determination(pid, &digest),
    };
    Ok((view, Some((spec, op))))
}

fn hold_refused_note(key: &str, tpp: u64, view: &AllocationView) -> String {
    let named: Vec<String> = view
        .held_by
        .iter()
        .map(|h| format!("`{}` ({} TPP)", h.id, h.tpp))
        .collect();
    let mut by = if named.is_empty() {
        "no pending application of this tenant".to_string()
    } else {
        format!("pending application(s) {}", named.join(", "))
    };
    if view.held_by_others_tpp > 0 {
        by.push_str(&format!(
            " and other tenants' applications ({} TPP)",
            view.held_by_others_tpp
        ));
    }
    format!(
        "{tpp} TPP would pass the allocation on `{key}`, which is held by {by} (and what was exported): presumption of denial; the application holds nothing"
    )
}

fn scoped_id(who: &Actor<'_>, id: &str) -> String {
    format!("{}{id}", who.record_prefix)
}

/// Files an application: determines its items, holds its TPP on the allocation where the regime
/// reads it as consumed on issuance, and records it (state `submitted`) with its hold in one
/// ledger transaction. A balance that moved between the read and the write determines again.
pub fn submit(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    input: &ApplicationInput,
    who: &Actor<'_>,
) -> Result<ApplicationView, ApplicationError> {
    check_input(input)?;
    let pid = scoped_id(who, &input.id);
    if store.application(&pid)?.is_some() {
        return Err(ApplicationError::Exists(input.id.clone()));
    }
    for _ in 0..16 {
        let (ds, expected) = determine_items(store, policy, input, who)?;
        let (allocation, hold) = plan_hold(store, policy, &ds, &pid, who)?;
        let determinations = ds
            .iter()
            .enumerate()
            .map(|(i, d)| item_view(i, d))
            .collect::<Result<Vec<_>, _>>()?;
        let app = Application {
            id: input.id.clone(),
            tenant: who.tenant.to_string(),
            state: ApplicationState::Submitted,
            state_date: input.date,
            input: input.clone(),
            review_policy: strictest(&determinations),
            total_units: input.items.iter().map(|i| i.quantity).sum(),
            total_tpp: ds.iter().map(|d| d.total_tpp).sum(),
            determinations,
            allocation,
            license_id: None,
        };
        let t = new_transition(&app, 0, None, ApplicationState::Submitted, input.date, who);
        let (accounts, ops) = hold.map(|(s, o)| (vec![s], vec![o])).unwrap_or_default();
        let w = ApplicationWrite {
            id: pid.clone(),
            seq: 0,
            body: to_value(&app)?,
            transition: to_value(&t)?,
            state: t.to.as_str().to_string(),
            license: None,
            accounts,
            ops,
            expected,
            parties: vec![consignee_party(input, who.tenant)],
        };
        match store.write_application(&w, who.now) {
            Ok(_) => return show(store, who, &input.id),
            Err(e) if e.is_balance_moved() || e.is_exceeds_cap() => continue,
            Err(LedgerError::RecordExists { .. }) => {
                return Err(ApplicationError::Exists(input.id.clone()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApplicationError::Contention(input.id.clone()))
}

/// The ultimate consignee as the ledger's party registry keys it (as a shipment does).
fn consignee_party(input: &ApplicationInput, tenant: &str) -> aidf_ledger::Party {
    let c = &input.consignee;
    aidf_ledger::Party {
        tenant: tenant.to_string(),
        id: aidf_core::PartyId::of(&c.name, &c.hq).to_string(),
        name: c.name.trim().to_string(),
        normalized_name: aidf_core::party::normalize_name(&c.name),
        hq: c.hq.trim().to_ascii_uppercase(),
        parent_hq: c.parent_hq.as_ref().map(|p| p.trim().to_ascii_uppercase()),
    }
}

fn new_transition(
    app: &Application,
    seq: u32,
    from: Option<ApplicationState>,
    to: ApplicationState,
    date: NaiveDate,
    who: &Actor<'_>,
) -> Transition {
    Transition {
        application_id: app.id.clone(),
        seq,
        from,
        to,
        date,
        actor: who.actor.to_string(),
        recorded_at: who.now.0,
        note: String::new(),
        license_id: None,
        conditions: Vec::new(),
    }
}

/// An application with its transitions.
pub fn show(
    store: &mut dyn LedgerStore,
    who: &Actor<'_>,
    id: &str,
) -> Result<ApplicationView, ApplicationError> {
    let stored = store
        .application(&scoped_id(who, id))?
        .ok_or_else(|| ApplicationError::Unknown(id.to_string()))?;
    let application: Application = decode("applications", &stored.body)?;
    if application.tenant != who.tenant {
        return Err(ApplicationError::Unknown(id.to_string()));
    }
    let transitions = stored
        .transitions
        .iter()
        .map(|t| decode("application_transitions", t))
        .collect::<Result<_, _>>()?;
    Ok(ApplicationView {
        application,
        transitions,
    })
}

/// The tenant's applications, by id.
pub fn list(
    store: &mut dyn LedgerStore,
    who: &Actor<'_>,
) -> Result<Vec<Application>, ApplicationError> {
    let mut out = Vec::new();
    for body in store.applications()? {
        let a: Application = decode("applications", &body)?;
        if a.tenant == who.tenant {
            out.push(a);
        }
    }
    Ok(out)
}

/// BIS's approval: the license it becomes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// License id.
    pub license_id: String,
    /// Expiry; default from `policy/licensing.toml` (an unconfirmed reading of four years).
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
    /// Units approved, when fewer than applied for (a partial approval).
    #[serde(default)]
    pub units: Option<u64>,
    /// TPP approved, when less than applied for.
    #[serde(default)]
    pub tpp: Option<u64>,
    /// Conditions (riders).
    #[serde(default)]
    pub conditions: Vec<LicenseCondition>,
}

/// A transition to record.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Approve into a license.
    Approve(Approval),
    /// Move to another state (registered, referred, hold without action, denied, returned,
    /// withdrawn).
    To(ApplicationState),
}

/// The validity of a license whose approval states no expiry: policy data, an unconfirmed
/// reading ([U]) that the approval's transition reports when it is used.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultValidity {
    /// Months after the approval.
    pub months: u32,
    /// `U` for an unconfirmed reading.
    pub confidence: String,
    /// What the reading is.
    pub note: String,
}

/// The default license validity from `policy/licensing.toml`.
pub fn default_validity() -> Result<DefaultValidity, ApplicationError> {
    crate::licenses::licensing()
        .map(|l| l.default_validity)
        .map_err(|e| input_error("policy/licensing.toml", e))
}

/// The cap of the value account of a license approved for `value` (its value plus the shipping
/// tolerance of `policy/licensing.toml`, in cents).
fn license_value_cap(value: Decimal) -> Result<u64, ApplicationError> {
    let t = crate::licenses::licensing()
        .map_err(|e| input_error("policy/licensing.toml", e))?
        .shipping_tolerance;
    crate::licenses::value_cap_cents(&t, value)
        .map_err(|e| input_error("value_usd", format!("`{value}`: {e}")))
}

/// Records a transition: checked by the state machine (both states named if refused), dated, by
/// the actor; approval records the license and posts the hold into it; denial, return and
/// withdrawal void the hold; one ledger transaction, audited.
pub fn decide(
    store: &mut dyn LedgerStore,
    id: &str,
    decision: &Decision,
    date: NaiveDate,
    note: &str,
    who: &Actor<'_>,
) -> Result<ApplicationView, ApplicationError> {
    let view = show(store, who, id)?;
    let mut app = view.application;
    let to = match decision {
        Decision::Approve(_) => ApplicationState::Approved,
        Decision::To(s) => *s,
    };
    app.state
        .check(to)
        .map_err(|source| ApplicationError::Transition {
            id: id.to_string(),
            source,
        })?;
    if date < app.state_date {
        return Err(input_error(
            "date",
            format!(
                "{date} is before the application's last transition ({})",
                app.state_date
            ),
        ));
    }
    let seq = u32::try_from(view.transitions.len()).unwrap_or(u32::MAX);
    let mut t = new_transition(&app, seq, Some(app.state), to, date, who);
    t.note = note.to_string();
    let (license, ops) = match decision {
        Decision::Approve(a) => {
            let (l, ops) = approve(&app, a, date, who)?;
            if a.expires_on.is_none() {
                let v = default_validity()?;
                let assumed = format!(
                    "license expiry {} assumed: [{}] default_validity = {} months: {}",
                    l.expires_on, v.confidence, v.months, v.note
                );
                t.note = [t.note.as_str(), assumed.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            t.license_id = Some(a.license_id.clone());
            t.conditions = a.conditions.clone();
            app.license_id = Some(a.license_id.clone());
            (Some(l), ops)
        }
        Decision::To(s) if s.is_final() => (None, void_hold(&app)),
        Decision::To(_) => (None, Vec::new()),
    };
    if let (Some(key), Some(tpp)) = (&app.allocation.account, app.allocation.held_tpp) {
        app.allocation.note = match &t.license_id {
            Some(l) => format!(
                "the hold was posted on {date}: license `{l}` drew {tpp} TPP on `{key}` at issuance (allocation_consumption_event reads `license_issued`, [U])"
            ),
            None if to.is_final() => {
                format!("the hold of {tpp} TPP on `{key}` was voided on {date} ({to})")
            }
            None => app.allocation.note.clone(),
        };
    }
    app.state = to;
    app.state_date = date;
    let w = ApplicationWrite {
        id: scoped_id(who, id),
        seq,
        body: to_value(&app)?,
        transition: to_value(&t)?,
        state: to.as_str().to_string(),
        license,
        ops,
        ..ApplicationWrite::default()
    };
    store.write_application(&w, who.now)?;
    show(store, who, id)
}

fn void_hold(app: &Application) -> Vec<Op> {
    app.allocation
        .hold_id
        .iter()
        .map(|pending| Op::Void {
            op_id: format!("{pending}:void"),
            pending_id: pending.clone(),
            meta: Meta::default(),
        })
        .collect()
}

/// Units and TPP approved: those applied for, or fewer (a partial approval).
fn approved_amounts(app: &Application, a: &Approval) -> Result<(u64, u64), ApplicationError> {
    let units = a.units.unwrap_or(app.total_units);
    let tpp = a.tpp.unwrap_or(app.total_tpp);
    for (field, v, applied) in [
        ("units", units, app.total_units),
        ("tpp", tpp, app.total_tpp),
    ] {
        if v == 0 || v > applied {
            return Err(input_error(
                field,
                format!("{v} is not between 1 and the {applied} applied for"),
            ));
        }
    }
    Ok((units, tpp))
}

/// The license an approval records, and the ops posting the application's hold into it.
fn approve(
    app: &Application,
    a: &Approval,
    date: NaiveDate,
    who: &Actor<'_>,
) -> Result<(License, Vec<Op>), ApplicationError> {
    check_id("license_id", &a.license_id)?;
    let (units, tpp) = approved_amounts(app, a)?;
    let expires = match a.expires_on {
        Some(e) if e < date => {
            return Err(input_error(
                "expires_on",
                format!("{e} is before the approval ({date})"),
            ));
        }
        Some(e) => e,
        None => date
            .checked_add_months(Months::new(default_validity()?.months))
            .unwrap_or(NaiveDate::MAX),
    };
    let items: Vec<String> = app
        .determinations
        .iter()
        .filter_map(|d| {
            d.determination["item"]["chip_id"]
                .as_str()
                .map(String::from)
        })
        .collect();
    let all_catalog = items.len() == app.determinations.len();
    let license = License {
        id: scoped_id(who, &a.license_id),
        consignee: app.input.consignee.name.trim().to_string(),
        destination_country: app
            .determinations
            .first()
            .and_then(|d| d.determination["destination"].as_str())
            .unwrap_or_default()
            .to_string(),
        allowed_item_ids: if all_catalog { items } else { Vec::new() },
        units_cap: units,
        tpp_cap: tpp,
        granted_on: date.to_string(),
        expires_on: expires.to_string(),
        conditions: a.conditions.clone(),
        application_id: Some(app.id.clone()),
        allocation_drawn: app
            .allocation
            .hold_id
            .as_ref()
            .and(app.allocation.account.clone()),
        value_usd: Some(app.input.value_usd.to_string()),
        value_cap_cents: Some(license_value_cap(app.input.value_usd)?),
        ..License::default()
    };
    let ops = app
        .allocation
        .hold_id
        .iter()
        .map(|pending| Op::Post {
            op_id: format!("{pending}:post"),
            pending_id: pending.clone(),
            amount: Some(tpp.min(app.allocation.held_tpp.unwrap_or(tpp))),
            meta: Meta::default(),
        })
        .collect();
    Ok((license, ops))
}
