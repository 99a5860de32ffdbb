//! License applications (issue 15) and license changes over HTTP: tenant-scoped like licenses;
//! the use cases are `aidf_service::application` and `aidf_service::licenses`, the handlers only
//! parse and render. A refused transition is 409 naming both states; bad input 400/422 naming
//! the field.

use std::sync::Arc;

use aidf_ledger::{LicenseCondition, Timestamp};
use aidf_service::application::{
    self, Actor, ApplicationError, ApplicationState, Approval, Decision,
};
use aidf_service::licenses::{self, Amendment, ChangeBy, LicenseAction, LicenseError};
use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::problem::ApiError;
use crate::routes::{Body, P, Raw, audited_write, ctx, ledger_error};

type S = State<Arc<AppState>>;

fn prefix(who: &Principal) -> String {
    format!("{}.", who.tenant)
}

/// The caller as the use cases see it, owned so it can move onto the blocking pool.
pub(crate) struct OwnedActor {
    tenant: String,
    record_prefix: String,
    actor: String,
    posture: aidf_core::Posture,
}

impl OwnedActor {
    /// The principal's tenant, record prefix and actor, under the ledger's posture.
    pub(crate) fn of(state: &AppState, who: &Principal) -> OwnedActor {
        OwnedActor {
            tenant: who.tenant.clone(),
            record_prefix: prefix(who),
            actor: who.actor.clone(),
            posture: state.ship_config.posture,
        }
    }

    /// The use cases' `Actor`, recording now.
    pub(crate) fn actor(&self) -> Actor<'_> {
        Actor {
            tenant: &self.tenant,
            record_prefix: &self.record_prefix,
            actor: &self.actor,
            posture: self.posture,
            now: Timestamp::now_utc(),
        }
    }
}

/// The problem an application use case's error is.
fn app_error(e: ApplicationError) -> ApiError {
    match e {
        ApplicationError::Input { ref field, .. } => {
            ApiError::unprocessable(Some(field.clone()), e.to_string())
        }
        ApplicationError::Determine { index, ref source } => {
            ApiError::unprocessable(Some(determine_field(index, source)), e.to_string())
        }
        ApplicationError::Unknown(_) => ApiError::not_found("id", e.to_string()),
        ApplicationError::Contention(_) => ApiError::unavailable(e.to_string()),
        ref c if c.is_conflict() => ApiError::conflict(None, e.to_string()),
        ApplicationError::Ledger(l) => ledger_error(l),
        other => ApiError::conflict(None, other.to_string()),
    }
}

/// The application's field an item's determination error names: the item line's own fields
/// (`item.chip` → `items[0].chip`, `quantity` → `items[0].quantity`), or the application's
/// (`destination`, `consignee.hq`), which every item's determination reads alike.
fn determine_field(index: usize, source: &aidf_core::DetermineError) -> String {
    let inner = ApiError::from_message(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        source.to_string(),
    )
    .field;
    match inner.as_deref() {
        None => format!("items[{index}]"),
        Some("quantity") => format!("items[{index}].quantity"),
        Some(f) => match f.strip_prefix("item.").or_else(|| f.strip_prefix("item")) {
            Some("") => format!("items[{index}]"),
            Some(rest) => format!("items[{index}].{rest}"),
            None => f.to_string(),
        },
    }
}

fn license_error(e: LicenseError) -> ApiError {
    match e {
        LicenseError::Unknown(_) => ApiError::not_found("id", e.to_string()),
        LicenseError::Transition { .. } => ApiError::conflict(None, e.to_string()),
        LicenseError::Input { field, .. } => {
            ApiError::unprocessable(Some(field.into()), e.to_string())
        }
        LicenseError::Ledger(l) => ledger_error(l),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// File a license application (officer): determined, recorded `submitted`, holding the
/// allocation where the regime reads it as consumed on issuance.
#[utoipa::path(post, path = "/v1/applications", tag = "applications", request_body = application::ApplicationInput,
    responses((status = 200, body = application::ApplicationView)), security(("bearer" = [])))]
pub(crate) async fn submit(
    State(state): S,
    who: Principal,
    body: Raw,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest().to_string();
    let result = async {
        who.require(Role::Officer, "file license applications")?;
        let text = std::str::from_utf8(body.bytes())
            .map_err(|e| ApiError::bad_request(None, format!("request body: {e}")))?;
        let input = application::parse_application(text).map_err(|e| match e {
            ApplicationError::Input { ref field, .. } => {
                let f = (field != ".").then(|| field.clone());
                ApiError::bad_request(f, e.to_string())
            }
            other => app_error(other),
        })?;
        let (policy, owned) = (state.policy.clone(), OwnedActor::of(&state, &who));
        let view = state
            .with_ledger_as(ctx(&who), move |l| {
                let who = owned.actor();
                application::submit(l.store(), &policy, &input, &who).map_err(app_error)
            })
            .await?;
        Ok((to_json(&view), "submitted".to_string(), String::new()))
    }
    .await;
    audited_write(&state, &who, "application.submit", &digest, result)
        .await
        .map(Json)
}

/// The tenant's applications.
#[utoipa::path(get, path = "/v1/applications", tag = "applications",
    responses((status = 200, body = [application::Application])), security(("bearer" = [])))]
pub(crate) async fn list(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let owned = OwnedActor::of(&state, &who);
    let apps = state
        .with_ledger(move |l| {
            let who = owned.actor();
            application::list(l.store(), &who).map_err(app_error)
        })
        .await?;
    Ok(Json(to_json(&apps)))
}

/// The query of `GET /v1/applications/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct StatsQuery {
    /// Count as of this date (YYYY-MM-DD; default today, UTC).
    as_of: Option<String>,
}

/// Processing times of the tenant's applications: days to decision (p50/p90, nearest rank) by
/// destination and outcome, the pending queue by age, the approval rate (tenths of a per cent).
#[utoipa::path(get, path = "/v1/applications/stats", tag = "applications", params(StatsQuery),
    responses((status = 200, body = aidf_service::application_stats::ApplicationStats)),
    security(("bearer" = [])))]
pub(crate) async fn stats(
    State(state): S,
    who: Principal,
    crate::routes::Q(q): crate::routes::Q<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
    let as_of = match q.as_of.as_deref() {
        None => chrono::Utc::now().date_naive(),
        Some(d) => d.parse::<NaiveDate>().map_err(|_| {
            ApiError::bad_request(
                Some("as_of".into()),
                format!("parameter `as_of`: `{d}` is not a date (YYYY-MM-DD)"),
            )
        })?,
    };
    let owned = OwnedActor::of(&state, &who);
    let out = state
        .with_ledger(move |l| {
            let who = owned.actor();
            aidf_service::application_stats::stats(l.store(), &who, as_of).map_err(app_error)
        })
        .await?;
    Ok(Json(to_json(&out)))
}

/// One application with its determination and transitions.
#[utoipa::path(get, path = "/v1/applications/{id}", tag = "applications",
    params(("id" = String, Path, description = "Application id")),
    responses((status = 200, body = application::ApplicationView)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(state): S,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<Value>, ApiError> {
    let owned = OwnedActor::of(&state, &who);
    let view = state
        .with_ledger(move |l| {
            let who = owned.actor();
            application::show(l.store(), &who, &id).map_err(app_error)
        })
        .await?;
    Ok(Json(to_json(&view)))
}

/// The compliance record of one of the tenant's applications: as filed, each item's
/// determination with reasons and citations, the allocation and the hold, every transition with
/// its actor and audit record, the license it became.
#[utoipa::path(get, path = "/v1/applications/{id}/record", tag = "applications",
    params(("id" = String, Path, description = "Application id"), crate::routes::RecordQuery),
    responses((status = 200, description = "The record in the format asked for",
        content((aidf_service::application_record::ApplicationRecord = "application/json"), (String = "text/html"), (Vec<u8> = "application/pdf")))),
    security(("bearer" = [])))]
pub(crate) async fn record(
    State(state): S,
    who: Principal,
    P(id): P<String>,
    crate::routes::Q(q): crate::routes::Q<crate::routes::RecordQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let format = crate::routes::record_format(&q)?;
    let owned = OwnedActor::of(&state, &who);
    let bytes = state
        .with_ledger(move |l| {
            let who = owned.actor();
            let r = aidf_service::application_record::application_record(
                l.store(),
                &who,
                &id,
                "<the server's --db>",
            )
            .map_err(app_error)?;
            aidf_record::render_application(&r, format)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, format.content_type())],
        bytes,
    )
        .into_response())
}

/// A decision or other transition of an application.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ApplicationDecisionRequest)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    /// `approve`, `deny`, `return`, or a state: `registered`, `referred`,
    /// `hold_without_action`, `withdrawn`.
    decision: String,
    /// Date, YYYY-MM-DD.
    #[schema(value_type = String)]
    date: NaiveDate,
    /// The license an approval becomes.
    #[serde(default)]
    license_id: Option<String>,
    /// License expiry (default: `policy/licensing.toml`, read as four years; reported as [U]).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    expires_on: Option<NaiveDate>,
    /// Units approved, when fewer than applied for.
    #[serde(default)]
    units: Option<u64>,
    /// TPP approved, when less than applied for.
    #[serde(default)]
    tpp: Option<u64>,
    /// Conditions: `{"kind":"end_user_unchanged"}`, `{"kind":"report_within_days","days":30}`,
    /// `{"kind":"text","text":"…"}`.
    #[serde(default)]
    conditions: Vec<LicenseCondition>,
    /// A note.
    #[serde(default)]
    note: String,
}

fn decision_of(r: DecisionRequest) -> Result<Decision, ApiError> {
    let state = match r.decision.as_str() {
        "approve" => {
            let license_id = r.license_id.ok_or_else(|| {
                ApiError::unprocessable(
                    Some("license_id".into()),
                    "field `license_id`: an approval names its license",
                )
            })?;
            return Ok(Decision::Approve(Approval {
                license_id,
                expires_on: r.expires_on,
                units: r.units,
                tpp: r.tpp,
                conditions: r.conditions,
            }));
        }
        "deny" => Some(ApplicationState::Denied),
        "return" => Some(ApplicationState::ReturnedWithoutAction),
        other => ApplicationState::parse(other).filter(|s| *s != ApplicationState::Approved),
    };
    state.map(Decision::To).ok_or_else(|| {
        ApiError::unprocessable(
            Some("decision".into()),
            format!(
                "field `decision`: `{}` is not one of approve, deny, return, registered, referred, hold_without_action, withdrawn",
                r.decision
            ),
        )
    })
}

/// Record a decision or transition (officer): 409 naming both states if the state machine
/// refuses it.
#[utoipa::path(post, path = "/v1/applications/{id}/decision", tag = "applications",
    params(("id" = String, Path, description = "Application id")), request_body = DecisionRequest,
    responses((status = 200, body = application::ApplicationView)), security(("bearer" = [])))]
pub(crate) async fn decide(
    State(state): S,
    who: Principal,
    P(id): P<String>,
    body: Body<DecisionRequest>,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest().to_string();
    let result = async {
        who.require(Role::Officer, "record application decisions")?;
        let (date, note) = (body.value().date, body.value().note.clone());
        let decision = decision_of(body.into_value())?;
        let owned = OwnedActor::of(&state, &who);
        let view = state
            .with_ledger_as(ctx(&who), move |l| {
                let who = owned.actor();
                application::decide(l.store(), &id, &decision, date, &note, &who).map_err(app_error)
            })
            .await?;
        let outcome = view.application.state.as_str().to_string();
        Ok((to_json(&view), outcome, String::new()))
    }
    .await;
    audited_write(&state, &who, "application.decision", &digest, result)
        .await
        .map(Json)
}

/// A change to a license.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LicenseChangeRequest {
    /// `amend`, `suspend`, `reinstate` or `revoke`.
    kind: String,
    /// Date, YYYY-MM-DD.
    #[schema(value_type = String)]
    date: NaiveDate,
    /// Why.
    #[serde(default)]
    reason: String,
    /// Amendment: new units cap.
    #[serde(default)]
    units: Option<u64>,
    /// Amendment: new TPP cap.
    #[serde(default)]
    tpp: Option<u64>,
    /// Amendment: new expiry.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    expires_on: Option<NaiveDate>,
    /// Amendment: new conditions.
    #[serde(default)]
    conditions: Option<Vec<LicenseCondition>>,
}

fn license_action(r: &LicenseChangeRequest) -> Result<LicenseAction, ApiError> {
    Ok(match r.kind.as_str() {
        "amend" => LicenseAction::Amend(Amendment {
            units: r.units,
            tpp: r.tpp,
            expires_on: r.expires_on,
            conditions: r.conditions.clone(),
        }),
        "suspend" => LicenseAction::Suspend,
        "reinstate" => LicenseAction::Reinstate,
        "revoke" => LicenseAction::Revoke,
        other => {
            return Err(ApiError::unprocessable(
                Some("kind".into()),
                format!("field `kind`: `{other}` is not one of amend, suspend, reinstate, revoke"),
            ));
        }
    })
}

/// Amend, suspend, reinstate or revoke a license (officer): 409 if its status does not allow it.
#[utoipa::path(post, path = "/v1/licenses/{id}/changes", tag = "records",
    params(("id" = String, Path, description = "License id")), request_body = LicenseChangeRequest,
    responses((status = 200, body = aidf_ledger::License)), security(("bearer" = [])))]
pub(crate) async fn change_license(
    State(state): S,
    who: Principal,
    P(id): P<String>,
    body: Body<LicenseChangeRequest>,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest().to_string();
    let result = async {
        who.require(Role::Officer, "change licenses")?;
        let r = body.into_value();
        let action = license_action(&r)?;
        let (pre, actor) = (prefix(&who), who.actor.clone());
        let mut l = state
            .with_ledger_as(ctx(&who), move |l| {
                let by = ChangeBy {
                    record_prefix: &pre,
                    actor: &actor,
                    now: Timestamp::now_utc(),
                };
                licenses::change_license(l.store(), &by, &id, &action, r.date, &r.reason)
                    .map_err(license_error)
            })
            .await?;
        l.id =
            l.id.strip_prefix(&prefix(&who))
                .unwrap_or(&l.id)
                .to_string();
        let status = l.status.as_str().to_string();
        Ok((json!(l), status, String::new()))
    }
    .await;
    audited_write(&state, &who, "license.change", &digest, result)
        .await
        .map(Json)
}
