//! Shipments: `POST /v1/shipments` (determined and recorded with their draws) and the
//! register (`GET /v1/shipments`, one shipment, its compliance record).

use std::sync::Arc;

use aidf_core::DeterminationInput;
use aidf_ledger::{LedgerError, Timestamp};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::S;
use super::audit::{audited_write, ctx};
use super::determine::parse_input;
use super::extract::{P, Q, Raw, check_id};
use super::ledger_error;
use super::scoped;
use crate::AppState;
use crate::auth::{Principal, Role};
use crate::problem::ApiError;

/// Determine a transaction against the ledger and record it with its draws.
#[utoipa::path(post, path = "/v1/shipments", tag = "ledger", request_body = DeterminationInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the original response")),
    responses((status = 200, body = aidf_service::ShipOutcome)),
    security(("bearer" = [])))]
pub(super) async fn shipments(
    State(state): S,
    who: Principal,
    headers: HeaderMap,
    body: Raw,
) -> Result<Response, ApiError> {
    let result = match who.require(Role::Exporter, "record shipments") {
        Err(e) => Err(e),
        Ok(()) => record_shipment(&state, &who, &headers, &body).await,
    };
    audited_write(&state, &who, "shipment", &body.digest, result)
        .await
        .map(|(json, replayed)| {
            let mut r = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
            if replayed {
                r.headers_mut().insert(
                    "idempotent-replayed",
                    header::HeaderValue::from_static("true"),
                );
            }
            r
        })
}

/// Query of `GET /v1/shipments` (every value read as text, so an error names its parameter).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct ShipmentsQuery {
    /// `authorized` or `refused`.
    status: Option<String>,
    /// Consignee name (case and white space ignored; any script).
    consignee: Option<String>,
    /// Destination country (ISO alpha-2, after aliases: Hong Kong is CN).
    country: Option<String>,
    /// First business date (YYYY-MM-DD).
    from: Option<String>,
    /// Last business date (YYYY-MM-DD).
    to: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
    /// Page size, 1-1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

impl ShipmentsQuery {
    fn to_query(&self, tenant: &str) -> Result<aidf_ledger::ShipmentQuery, ApiError> {
        let bad = |field: &str, value: &str, expected: &str| {
            ApiError::bad_request(
                Some(field.into()),
                format!("parameter `{field}`: `{value}`: expected {expected}"),
            )
        };
        let status = match self.status.as_deref() {
            None => None,
            Some("authorized") => Some(aidf_ledger::ShipmentStatus::Authorized),
            Some("refused") => Some(aidf_ledger::ShipmentStatus::Refused),
            Some(other) => return Err(bad("status", other, "authorized or refused")),
        };
        let limit = match self.limit.as_deref() {
            None => 50,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=aidf_ledger::register::MAX_PAGE).contains(n))
                .ok_or_else(|| bad("limit", l, "an integer from 1 to 1000"))?,
        };
        Ok(aidf_ledger::ShipmentQuery {
            tenant: tenant.to_string(),
            status,
            consignee: self.consignee.clone(),
            country: self.country.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            after: self.after.clone(),
            limit,
        })
    }
}

fn register_error(e: aidf_service::register::RegisterError) -> ApiError {
    use aidf_service::register::RegisterError;
    match e {
        RegisterError::NotFound { id } => ApiError::not_found("id", format!("no shipment `{id}`")),
        RegisterError::Invalid {
            field,
            value,
            reason,
        } => ApiError::bad_request(
            Some(field.into()),
            format!("parameter `{field}`: `{value}`: {reason}"),
        ),
        RegisterError::Ledger(l) => ledger_error(l),
        other => ApiError::internal(other.to_string()),
    }
}

/// The tenant's recorded shipments, newest first, filtered and paged by keyset (`next` is the
/// cursor of the following page).
#[utoipa::path(get, path = "/v1/shipments", tag = "ledger", params(ShipmentsQuery),
    responses((status = 200, body = aidf_service::register::ShipmentList)), security(("bearer" = [])))]
pub(super) async fn list_shipments(
    State(state): S,
    who: Principal,
    Q(q): Q<ShipmentsQuery>,
) -> Result<Json<Value>, ApiError> {
    let query = q.to_query(&who.tenant)?;
    let tenant = who.tenant.clone();
    let page = state
        .with_ledger(move |l| {
            aidf_service::register::list_shipments(l.store(), &tenant, &query)
                .map_err(register_error)
        })
        .await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

/// One of the tenant's shipments (its register line and the stored answer); another tenant's
/// id is not found.
#[utoipa::path(get, path = "/v1/shipments/{id}", tag = "ledger",
    params(("id" = String, Path, description = "Shipment id as `POST /v1/shipments` answered it")),
    responses((status = 200, body = aidf_service::register::ShipmentView)), security(("bearer" = [])))]
pub(super) async fn show_shipment(
    State(state): S,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = who.tenant.clone();
    let view = state
        .with_ledger(move |l| {
            aidf_service::register::show_shipment(l.store(), &tenant, &id).map_err(register_error)
        })
        .await?;
    Ok(Json(serde_json::to_value(view).unwrap_or_default()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct RecordQuery {
    /// `json` (default), `html` or `pdf`.
    pub(crate) format: Option<String>,
}

/// The compliance record of one of the tenant's shipments: input, determination with every
/// reason and citation, regime and digest, assumptions, draws and balances after, license,
/// screening, and its audit record (sequence and hash).
#[utoipa::path(get, path = "/v1/shipments/{id}/record", tag = "ledger",
    params(("id" = String, Path, description = "Shipment id"), RecordQuery),
    responses((status = 200, description = "The record in the format asked for",
        content((aidf_service::register::ComplianceRecord = "application/json"), (String = "text/html"), (Vec<u8> = "application/pdf")))),
    security(("bearer" = [])))]
pub(super) async fn shipment_record(
    State(state): S,
    who: Principal,
    P(id): P<String>,
    Q(q): Q<RecordQuery>,
) -> Result<Response, ApiError> {
    let format = record_format(&q)?;
    let tenant = who.tenant.clone();
    let bytes = state
        .with_ledger(move |l| {
            let r = aidf_service::register::compliance_record(
                l.store(),
                &tenant,
                &id,
                "<the server's --db>",
            )
            .map_err(register_error)?;
            aidf_record::render(&r, format).map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], bytes).into_response())
}

/// The `format` parameter of a record (`json` when absent).
pub(crate) fn record_format(q: &RecordQuery) -> Result<aidf_record::Format, ApiError> {
    let text = q.format.as_deref().unwrap_or("json");
    text.parse().map_err(|e: aidf_record::UnknownFormat| {
        ApiError::bad_request(Some("format".into()), format!("parameter {e}"))
    })
}

/// The shipment id the request names (its Idempotency-Key) or a new one.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(aidf_service::new_shipment_id());
    };
    let k = v.to_str().map_err(|_| {
        ApiError::bad_request(
            Some("Idempotency-Key".into()),
            "header `Idempotency-Key` is not text",
        )
    })?;
    check_id("Idempotency-Key", k)?;
    Ok(k.to_string())
}

fn ship_error(key: &str, e: aidf_service::ShipError) -> ApiError {
    use aidf_service::ShipError;
    match e {
        ShipError::Determine(d) => {
            ApiError::from_message(StatusCode::UNPROCESSABLE_ENTITY, d.to_string())
        }
        ShipError::Input { field, message } => {
            ApiError::unprocessable(Some(field.into()), format!("field `{field}`: {message}"))
        }
        ShipError::Forbidden(m) => ApiError::forbidden(m),
        ShipError::Ledger(LedgerError::ShipmentConflict { .. }) => ApiError::conflict(
            Some("Idempotency-Key".into()),
            format!("header `Idempotency-Key`: `{key}` was used for a different request"),
        ),
        ShipError::Ledger(l) => ledger_error(l),
        other => ApiError::unavailable(other.to_string()),
    }
}

/// Determines and records one shipment; the answer (same bytes on a replay), whether it was a
/// replay, and the audit outcome. On SQLite the shipment goes to the group-commit writer; on
/// PostgreSQL it runs on a pooled connection, in parallel with others.
async fn record_shipment(
    state: &Arc<AppState>,
    who: &Principal,
    headers: &HeaderMap,
    body: &Raw,
) -> Result<((Vec<u8>, bool), String, String), ApiError> {
    let key = idempotency_key(headers)?;
    let job = crate::shipper::Job {
        ctx: ctx(who),
        input: parse_input(&body.bytes)?,
        shipment_id: scoped(&who.tenant, &key),
        tenant: who.tenant.clone(),
        record_prefix: format!("{}.", who.tenant),
        may_backfill: who.role >= Role::Officer,
        policy: state.policy.clone(),
        config: state.ship_config,
        now: Timestamp::now_utc(),
        plan: None,
        seq: 0,
    };
    let out = match state.shipper() {
        Some(shipper) => shipper.ship(job).await,
        None => {
            state
                .with_ledger_writer(job.ctx.clone(), move |ledger| {
                    let request = job.request();
                    Ok(aidf_service::ship(
                        ledger.store(),
                        &job.policy,
                        &job.config,
                        &request,
                    ))
                })
                .await?
        }
    }
    .map_err(|e| ship_error(&key, e))?;
    let json = serde_json::to_vec(&out)
        .map_err(|e| ApiError::internal(format!("serializing the answer: {e}")))?;
    // The shipment's audit record was committed with it (outcome and regime digest included):
    // `audited_write` writes another only for a failure, which has neither.
    Ok(((json, out.replayed), String::new(), String::new()))
}
