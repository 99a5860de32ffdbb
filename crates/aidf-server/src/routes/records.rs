//! Records: licenses, validated end users and government-to-government arrangements.

use aidf_ledger::{License, Timestamp, Veu};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::S;
use super::audit::{audited_write, ctx};
use super::extract::{P, Raw, date_field};
use super::ledger_error;
use super::scoped;
use super::strip;
use crate::auth::{Principal, Role};
use crate::problem::ApiError;

/// One license with its balances (`GET /v1/licenses/{id}`), its id without the tenant's scope.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct LicenseView {
    license: License,
    /// TPP drawn on it.
    tpp: aidf_ledger::Balance,
    /// Units drawn on it.
    units: aidf_ledger::Balance,
    /// US cents drawn on its value, when it has one.
    value_cents: Option<aidf_ledger::Balance>,
}

/// A license to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LicenseRequest {
    id: String,
    consignee: String,
    destination: String,
    #[serde(default)]
    items: Vec<String>,
    units: u64,
    tpp: u64,
    /// YYYY-MM-DD.
    granted: String,
    /// YYYY-MM-DD.
    expires: String,
    /// BIS granted it beyond the destination's allocation (an officer's explicit override).
    #[serde(default)]
    beyond_allocation: bool,
}

/// A site of a VEU.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SiteRequest {
    id: String,
    country: String,
}

/// A validated end user to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VeuRequest {
    id: String,
    /// `uveu` or `nveu`.
    kind: String,
    owner: String,
    hq: String,
    #[serde(default)]
    sites: Vec<SiteRequest>,
}

/// A government-to-government arrangement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct G2gRequest {
    country: String,
    /// YYYY-MM-DD.
    date: String,
}

fn record_error(e: aidf_service::records::RecordError) -> ApiError {
    use aidf_service::records::RecordError;
    match e {
        RecordError::Ledger(l) => ledger_error(l),
        other => ApiError::unprocessable(other.field().map(|f| f.to_string()), other.to_string()),
    }
}

/// The audit result of a record just stored: shown without the tenant's namespace.
fn recorded<T: serde::Serialize>(
    tenant: &str,
    mut record: T,
    id: impl Fn(&mut T) -> &mut String,
) -> (Value, String, String) {
    let shown = strip(tenant, id(&mut record));
    *id(&mut record) = shown;
    (
        serde_json::to_value(&record).unwrap_or_default(),
        "recorded".to_string(),
        String::new(),
    )
}

/// The records whose id is in the tenant's namespace, shown with the namespace stripped.
fn tenant_records<T: serde::Serialize>(
    tenant: &str,
    all: Vec<T>,
    id: impl Fn(&mut T) -> &mut String,
) -> Value {
    let prefix = format!("{tenant}.");
    Value::Array(
        all.into_iter()
            .filter_map(|mut r| {
                let own = id(&mut r).strip_prefix(&prefix).map(str::to_string)?;
                *id(&mut r) = own;
                serde_json::to_value(&r).ok()
            })
            .collect(),
    )
}

/// The tenant's licenses.
#[utoipa::path(get, path = "/v1/licenses", tag = "records", responses((status = 200, body = [License])), security(("bearer" = [])))]
pub(super) async fn licenses(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().licenses().map_err(ledger_error))
        .await?;
    Ok(Json(tenant_records(&who.tenant, all, |l| &mut l.id)))
}

/// One license with its balances.
#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "records", params(("id" = String, Path, description = "License id")),
    responses((status = 200, body = LicenseView)), security(("bearer" = [])))]
pub(super) async fn license(
    State(state): S,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<LicenseView>, ApiError> {
    let full = scoped(&who.tenant, &id);
    let tenant = who.tenant.clone();
    state
        .with_ledger(move |l| {
            let s = l.store();
            let lic = s
                .license(&full)
                .map_err(ledger_error)?
                .ok_or_else(|| ApiError::not_found("id", format!("no license `{id}`")))?;
            let tpp = s.balance(&lic.tpp_account(), None).map_err(ledger_error)?;
            let units = s
                .balance(&lic.units_account(), None)
                .map_err(ledger_error)?;
            let value_cents = match lic.value_cap_cents {
                Some(_) => Some(
                    s.balance(&lic.value_account(), None)
                        .map_err(ledger_error)?,
                ),
                None => None,
            };
            let mut shown = lic.clone();
            shown.id = strip(&tenant, &lic.id);
            Ok(Json(LicenseView {
                license: shown,
                tpp,
                units,
                value_cents,
            }))
        })
        .await
}

/// Record a license granted by BIS (officer).
#[utoipa::path(post, path = "/v1/licenses", tag = "records", request_body = LicenseRequest,
    responses((status = 200, body = License)), security(("bearer" = [])))]
pub(super) async fn add_license(
    State(state): S,
    who: Principal,
    body: Raw,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest.clone();
    let result = async {
        who.require(Role::Officer, "record licenses")?;
        let r: LicenseRequest = body.parse()?;
        let draft = aidf_service::records::LicenseDraft {
            id: r.id,
            consignee: r.consignee,
            destination: r.destination,
            items: r.items,
            units: r.units,
            tpp: r.tpp,
            granted: r.granted,
            expires: r.expires,
            beyond_allocation: r.beyond_allocation,
        };
        let (policy, prefix) = (state.policy.clone(), format!("{}.", who.tenant));
        let stored = state
            .with_ledger_as(ctx(&who), move |l| {
                let now = Timestamp::now_utc();
                aidf_service::records::add_license(l.store(), &policy, &prefix, &draft, now)
                    .map_err(record_error)
            })
            .await?;
        Ok(recorded(&who.tenant, stored, |r| &mut r.id))
    }
    .await;
    audited_write(&state, &who, "license.add", &digest, result)
        .await
        .map(Json)
}

/// The tenant's validated end users.
#[utoipa::path(get, path = "/v1/veus", tag = "records", responses((status = 200, body = [Veu])), security(("bearer" = [])))]
pub(super) async fn veus(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().veus().map_err(ledger_error))
        .await?;
    Ok(Json(tenant_records(&who.tenant, all, |v| &mut v.id)))
}

/// Record a UVEU/NVEU authorization and its sites (officer).
#[utoipa::path(post, path = "/v1/veus", tag = "records", request_body = VeuRequest,
    responses((status = 200, body = Veu)), security(("bearer" = [])))]
pub(super) async fn add_veu(
    State(state): S,
    who: Principal,
    body: Raw,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest.clone();
    let result = async {
        who.require(Role::Officer, "record validated end users")?;
        let r: VeuRequest = body.parse()?;
        let sites = r
            .sites
            .into_iter()
            .map(|s| aidf_service::records::SiteDraft {
                id: s.id,
                country: s.country,
            });
        let draft = aidf_service::records::VeuDraft {
            id: r.id,
            kind: r.kind,
            owner: r.owner,
            hq: r.hq,
            sites: sites.collect(),
        };
        let (policy, prefix) = (state.policy.clone(), format!("{}.", who.tenant));
        let stored = state
            .with_ledger_as(ctx(&who), move |l| {
                let now = Timestamp::now_utc();
                aidf_service::records::add_veu(l.store(), &policy, &prefix, &draft, now)
                    .map_err(record_error)
            })
            .await?;
        Ok(recorded(&who.tenant, stored, |r| &mut r.id))
    }
    .await;
    audited_write(&state, &who, "veu.add", &digest, result)
        .await
        .map(Json)
}

/// Government-to-government arrangements (global).
#[utoipa::path(get, path = "/v1/g2g", tag = "records", responses((status = 200, body = [aidf_ledger::G2gArrangement])), security(("bearer" = [])))]
pub(super) async fn g2g(State(state): S, _who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().g2g_arrangements().map_err(ledger_error))
        .await?;
    Ok(Json(serde_json::to_value(all).unwrap_or_default()))
}

/// Record a government-to-government arrangement (admin).
#[utoipa::path(post, path = "/v1/g2g", tag = "records", request_body = G2gRequest,
    responses((status = 200, body = aidf_ledger::G2gArrangement)), security(("bearer" = [])))]
pub(super) async fn add_g2g(
    State(state): S,
    who: Principal,
    body: Raw,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest.clone();
    let result = async {
        who.require(
            Role::GlobalAdmin,
            "record government-to-government arrangements",
        )?;
        let r: G2gRequest = body.parse()?;
        let date = date_field("date", &r.date)?;
        let date = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| ApiError::bad_request(Some("date".into()), e.to_string()))?;
        let policy = state.policy.clone();
        let stored = state
            .with_ledger_as(ctx(&who), move |l| {
                aidf_service::records::add_g2g(
                    l.store(),
                    &policy,
                    &r.country,
                    date,
                    Timestamp::now_utc(),
                )
                .map_err(record_error)
            })
            .await?;
        Ok((
            serde_json::to_value(&stored).unwrap_or_default(),
            "recorded".to_string(),
            String::new(),
        ))
    }
    .await;
    audited_write(&state, &who, "g2g.add", &digest, result)
        .await
        .map(Json)
}
