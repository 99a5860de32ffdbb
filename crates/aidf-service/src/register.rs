//! The shipment register and the compliance record (issue 15, items 5 and 6): a tenant's
//! recorded shipments listed (keyset pages over the ledger's register columns), one shown again,
//! and the compliance record of one — everything an officer needs to defend it, as plain typed
//! data that the renderers (`aidf-record`) turn into JSON, HTML or PDF.
//!
//! A shipment is visible only to the tenant that recorded it: another tenant's id is
//! [`RegisterError::NotFound`], exactly like an unknown one.

use aidf_ledger::register::{RegisterColumns, tenant_of};
use aidf_ledger::{
    Applied, Balance, LedgerError, LedgerStore, OpResult, RegisterRow, Shipment, ShipmentQuery,
    ShipmentStatus, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::ShipOutcome;

/// Why a register request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No shipment with this id for this tenant.
    #[error("shipment `{id}` not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// A query field is malformed (names it, with the value).
    #[error("{field} `{value}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A stored record does not read as this version stores it (names the field).
    #[error("shipment `{id}`: stored {field} is not readable: {detail}")]
    Corrupt {
        /// Shipment id.
        id: String,
        /// Field of the stored record.
        field: &'static str,
        /// What failed.
        detail: String,
    },
    /// The ledger failed.
    #[error("{0}")]
    Ledger(LedgerError),
}

impl From<LedgerError> for RegisterError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::InvalidField {
                field,
                value,
                reason,
            } => RegisterError::Invalid {
                field,
                value,
                reason,
            },
            other => RegisterError::Ledger(other),
        }
    }
}

/// One line of the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentSummary {
    /// Shipment id.
    pub shipment_id: String,
    /// Authorized or refused.
    pub status: ShipmentStatus,
    /// How it was authorized (`nlr`, `license`, an exception …; `?` when not stored).
    pub authorization: String,
    /// When it was recorded (ms since the Unix epoch) and as RFC 3339.
    pub recorded_at: Timestamp,
    /// `recorded_at` as RFC 3339 (UTC).
    pub recorded_at_utc: String,
    /// Business date (YYYY-MM-DD).
    pub business_date: Option<String>,
    /// Destination country (after aliases).
    pub destination: Option<String>,
    /// Consignee name as given.
    pub consignee: Option<String>,
    /// Total TPP drawn by the transaction (whole), as stored.
    pub total_tpp: Option<u64>,
    /// License used.
    pub license_id: Option<String>,
    /// Why it was refused.
    pub refusal: Option<String>,
}

/// A page of the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentList {
    /// The shipments, newest first.
    pub items: Vec<ShipmentSummary>,
    /// Cursor of the next page (`after`), if any.
    pub next: Option<String>,
}

/// A shipment shown again: its register line and the answer as `ship` gave it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShipmentView {
    /// The register line.
    pub summary: ShipmentSummary,
    /// The stored answer (the same fields `aidf ship` printed).
    pub outcome: ShipOutcome,
}

/// RFC 3339 of a ledger timestamp (UTC, milliseconds).
pub fn utc(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0).map_or_else(
        || t.0.to_string(),
        |d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

/// The few fields of a stored body a register line shows (the rest is skipped, not built).
#[derive(Deserialize, Default)]
struct Head {
    #[serde(default)]
    determination: HeadStored,
}

#[derive(Deserialize, Default)]
struct HeadStored {
    #[serde(default)]
    determination: HeadDetermination,
    #[serde(default)]
    license_id: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
struct HeadDetermination {
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    total_tpp: Option<u64>,
}

/// The register line of a page row: its columns and a partial read of its body.
fn line(r: &RegisterRow) -> Result<ShipmentSummary, RegisterError> {
    let h: Head = serde_json::from_str(&r.body).map_err(|e| RegisterError::Corrupt {
        id: r.shipment_id.clone(),
        field: "body",
        detail: e.to_string(),
    })?;
    let s = h.determination;
    Ok(ShipmentSummary {
        shipment_id: r.shipment_id.clone(),
        status: r.status,
        authorization: s.determination.authorization.unwrap_or_else(|| "?".into()),
        recorded_at: r.recorded_at,
        recorded_at_utc: utc(r.recorded_at),
        business_date: r.business_date.clone(),
        destination: r.destination.clone(),
        consignee: r.consignee.clone(),
        total_tpp: s.determination.total_tpp,
        license_id: s.license_id,
        refusal: s.refusal,
    })
}

fn summary(s: &Shipment) -> ShipmentSummary {
    let cols = RegisterColumns::of(s);
    let body = &s.determination.to_value();
    let d = &body["determination"];
    let text = |v: &serde_json::Value| v.as_str().map(String::from);
    ShipmentSummary {
        shipment_id: s.shipment_id.clone(),
        status: s.status,
        authorization: text(&d["authorization"]).unwrap_or_else(|| "?".into()),
        recorded_at: s.recorded_at,
        recorded_at_utc: utc(s.recorded_at),
        business_date: s.business_date.clone(),
        destination: cols.destination,
        consignee: cols.consignee,
        total_tpp: d["total_tpp"].as_u64(),
        license_id: text(&body["license_id"]),
        refusal: text(&body["refusal"]),
    }
}

/// A tenant's shipments, one page (`query.tenant` is replaced by `tenant`).
pub fn list_shipments(
    store: &mut dyn LedgerStore,
    tenant: &str,
    query: &ShipmentQuery,
) -> Result<ShipmentList, RegisterError> {
    let q = ShipmentQuery {
        tenant: tenant.to_string(),
        ..query.clone()
    };
    let page = store.shipments_page(&q)?;
    Ok(ShipmentList {
        items: page.items.iter().map(line).collect::<Result<_, _>>()?,
        next: page.next_cursor,
    })
}

/// The tenant's shipment `id`; another tenant's is not found.
pub(crate) fn owned(
    store: &mut dyn LedgerStore,
    tenant: &str,
    id: &str,
) -> Result<Shipment, RegisterError> {
    let not_found = || RegisterError::NotFound { id: id.to_string() };
    let s = store.shipment(id).map_err(|e| match e {
        LedgerError::InvalidField { .. } => not_found(),
        other => other.into(),
    })?;
    s.filter(|s| tenant_of(s) == tenant).ok_or_else(not_found)
}

/// One of the tenant's shipments, as recorded.
pub fn show_shipment(
    store: &mut dyn LedgerStore,
    tenant: &str,
    id: &str,
) -> Result<ShipmentView, RegisterError> {
    let s = owned(store, tenant, id)?;
    Ok(ShipmentView {
        summary: summary(&s),
        outcome: ShipOutcome::from_record(s, false),
    })
}

/// A rule that decided the shipment, with its citation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordReason {
    /// Rule id.
    pub rule: String,
    /// CFR or Federal Register citation.
    pub citation: String,
    /// What it found.
    #[serde(default)]
    pub detail: String,
}

/// An unconfirmed reading relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordAssumption {
    /// Switch name.
    pub switch: String,
    /// Its value.
    pub value: String,
    /// Confidence tag.
    pub confidence: String,
    /// What it is.
    #[serde(default)]
    pub detail: String,
}

/// Something that must be done for the authorization to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordObligation {
    /// Id.
    pub id: String,
    /// Citation.
    pub citation: String,
    /// What must be done.
    #[serde(default)]
    pub detail: String,
}

/// The regime the determination applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordRegime {
    /// Regime id.
    pub id: String,
    /// `sha256:` digest of its canonical content.
    pub digest: String,
}

/// A ledger draw the shipment made, with the account's balance right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordDraw {
    /// Op id.
    pub op_id: String,
    /// Account key.
    pub account: String,
    /// What the op did (`transfer`, `reserve`, `set_cap` …).
    pub kind: String,
    /// Amount moved (TPP or units, whole).
    pub amount: u64,
    /// Balance after the op.
    pub balance_after: Balance,
}

/// The chained audit record of the shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordAudit {
    /// Position in the chain.
    pub seq: i64,
    /// Record hash (hex).
    pub hash: String,
    /// Whether the record carries an HMAC (records chained before schema 3 do not).
    pub signed: bool,
    /// Who recorded it.
    pub actor: String,
    /// Audit outcome.
    pub outcome: String,
}

impl From<aidf_ledger::audit::AuditRecord> for RecordAudit {
    fn from(r: aidf_ledger::audit::AuditRecord) -> RecordAudit {
        RecordAudit {
            seq: r.seq,
            signed: !r.mac.is_empty(),
            hash: r.hash,
            actor: r.actor,
            outcome: r.outcome,
        }
    }
}

/// The screening of the parties, as stored with the shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordScreening {
    /// Worst verdict.
    pub verdict: String,
    /// Refusal or hold stated by screening.
    pub refusal: Option<String>,
    /// A hit awaits a person's review.
    pub hold_for_review: bool,
    /// Each party screened: role, name, verdict, hits reported.
    pub parties: Vec<ScreenedParty>,
    /// The list versions screened against (`id date digest`).
    pub list_versions: Vec<String>,
}

/// One party as screened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScreenedParty {
    /// Role (`consignee` …).
    pub role: String,
    /// Name screened, as given.
    pub name: String,
    /// Verdict.
    pub verdict: String,
    /// Hits reported.
    pub hits: usize,
}

/// Everything recorded about one shipment, for an officer or an auditor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplianceRecord {
    /// The register line (id, status, dates, destination, consignee, TPP, license, refusal).
    pub shipment: ShipmentSummary,
    /// Tenant.
    pub tenant: String,
    /// Recorded past the back-dating window by an officer.
    pub backfill: bool,
    /// `sha256:` of the client's input as parsed.
    pub input_digest: String,
    /// The input as given (stored as parsed: declared as the input it was read into).
    #[schema(value_type = aidf_core::DeterminationInput)]
    pub input: serde_json::Value,
    /// Whether a license was required.
    pub license_required: Option<bool>,
    /// Review policy, when a license was required.
    pub review_policy: Option<String>,
    /// ECCN.
    pub eccn: Option<String>,
    /// Rules that decided it, in order, each with its citation.
    pub reasons: Vec<RecordReason>,
    /// Unconfirmed readings relied on.
    pub assumptions: Vec<RecordAssumption>,
    /// What must be done for the authorization to hold.
    pub obligations: Vec<RecordObligation>,
    /// Regime id and digest.
    pub regime: Option<RecordRegime>,
    /// Notes of the shipment path (an unknown VEU claim, a backfill …).
    pub notes: Vec<String>,
    /// Ledger draws and balances after (empty when refused).
    pub draws: Vec<RecordDraw>,
    /// Screening, when the shipment was screened.
    pub screening: Option<RecordScreening>,
    /// The chained audit record (none while it waits in the outbox).
    pub audit: Option<RecordAudit>,
    /// How to check the audit chain this record is part of.
    pub verify_hint: String,
}

fn field<T: serde::de::DeserializeOwned + Default>(
    id: &str,
    name: &'static str,
    v: &serde_json::Value,
) -> Result<T, RegisterError> {
    if v.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(v.clone()).map_err(|e| RegisterError::Corrupt {
        id: id.to_string(),
        field: name,
        detail: e.to_string(),
    })
}

/// A stored value as text: a string as it is, anything else (not null) as compact JSON.
fn shown(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn draw(a: &Applied) -> RecordDraw {
    let (kind, amount) = match &a.result {
        OpResult::Reserved { amount, .. } => ("reserve", *amount),
        OpResult::Posted { amount_posted, .. } => ("post", *amount_posted),
        OpResult::Voided {
            amount_released, ..
        } => ("void", *amount_released),
        OpResult::Transferred { amount } => ("transfer", *amount),
        OpResult::Attrited { amount } => ("attrition", *amount),
        OpResult::CapSet { .. } => ("set_cap", 0),
    };
    RecordDraw {
        op_id: a.op_id.clone(),
        account: a.account.clone(),
        kind: kind.to_string(),
        amount,
        balance_after: a.balance_after,
    }
}

fn screening(v: &serde_json::Value) -> Option<RecordScreening> {
    if !v.is_object() {
        return None;
    }
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let parties = v["parties"].as_array().map_or_else(Vec::new, |ps| {
        ps.iter()
            .map(|p| ScreenedParty {
                role: text(&p["role"]),
                name: text(&p["name"]),
                verdict: text(&p["verdict"]),
                hits: p["hits"].as_array().map_or(0, Vec::len),
            })
            .collect()
    });
    let list_versions = v["list_versions"].as_array().map_or_else(Vec::new, |ls| {
        ls.iter()
            .map(|l| {
                format!(
                    "{} {} {}",
                    text(&l["id"]),
                    text(&l["date"]),
                    text(&l["sha256"])
                )
            })
            .collect()
    });
    Some(RecordScreening {
        verdict: text(&v["verdict"]),
        refusal: v["refusal"].as_str().map(String::from),
        hold_for_review: v["hold_for_review"].as_bool().unwrap_or(false),
        parties,
        list_versions,
    })
}

/// The compliance record of one of the tenant's shipments. `verify_with` is the `--db` (or the
/// server's name for it) put in the verification hint.
pub fn compliance_record(
    store: &mut dyn LedgerStore,
    tenant: &str,
    id: &str,
    verify_with: &str,
) -> Result<ComplianceRecord, RegisterError> {
    let s = owned(store, tenant, id)?;
    let body = &s.determination.to_value();
    let d = &body["determination"];
    let audit = store
        .audit_record_of("shipment", &s.shipment_id)?
        .map(RecordAudit::from);
    let notes: Vec<String> = field(id, "notes", &body["notes"])?;
    Ok(ComplianceRecord {
        shipment: summary(&s),
        tenant: tenant_of(&s).to_string(),
        backfill: s.backfill,
        input_digest: s.input_digest.clone(),
        input: body["input"].clone(),
        license_required: d["license_required"].as_bool(),
        review_policy: shown(&d["review_policy"]),
        eccn: shown(&d["eccn"]),
        reasons: field(id, "determination.reasons", &d["reasons"])?,
        assumptions: field(id, "determination.assumptions", &d["assumptions"])?,
        obligations: field(id, "determination.obligations", &d["obligations"])?,
        regime: Some(&d["regime"])
            .filter(|r| r.is_object())
            .map(|r| field(id, "determination.regime", r))
            .transpose()?,
        notes,
        draws: s.applied.iter().map(draw).collect(),
        screening: screening(&body["screening"]),
        audit,
        verify_hint: format!("aidf audit verify --db {verify_with}"),
    })
}
