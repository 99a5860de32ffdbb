//! Officers' screening decisions and tenants' screening thresholds over HTTP (issue 14):
//! `POST|GET /v1/screen/decisions`, `GET|PUT /v1/screen/thresholds`; the use cases are
//! `aidf_service::screening_decisions`, the handlers only parse and render. Also the tenant's
//! screening for `POST /v1/determinations` and `POST /v1/screen`: its thresholds (cached per
//! process for [`THRESHOLDS_TTL`], like tokens, so a change made through another process is
//! seen within that time), and its decisions, read only when a party has hits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aidf_core::DeterminationInput;
use aidf_ledger::{PartyDecision, Timestamp};
use aidf_screen::Thresholds;
use aidf_service::screening::{self, CheckAnswer, TenantScreening};
use aidf_service::screening_decisions::{self, DecideRequest, DecisionError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::problem::ApiError;
use crate::routes::{Body, audited_write, ctx, ledger_error};

type S = State<Arc<AppState>>;

/// How long a process trusts the thresholds it read for a tenant.
pub const THRESHOLDS_TTL: Duration = Duration::from_secs(5);

/// Tenants' thresholds read lately.
#[derive(Debug, Default)]
pub struct ThresholdsCache(Mutex<HashMap<String, (Instant, Thresholds)>>);

impl ThresholdsCache {
    fn get(&self, tenant: &str) -> Option<Thresholds> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(tenant)
            .filter(|(at, _)| at.elapsed() < THRESHOLDS_TTL)
            .map(|(_, t)| *t)
    }

    fn put(&self, tenant: &str, t: Thresholds) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(tenant.to_owned(), (Instant::now(), t));
    }
}

fn decision_error(e: DecisionError) -> ApiError {
    match e {
        DecisionError::Field { field, .. } => {
            ApiError::unprocessable(Some(field.into()), e.to_string())
        }
        DecisionError::Ledger(l) => ledger_error(l),
        DecisionError::Screening(s) => ApiError::internal(s.to_string()),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// The tenant's thresholds (the defaults until it sets some).
pub(crate) async fn tenant_thresholds(
    state: &Arc<AppState>,
    tenant: &str,
) -> Result<Thresholds, ApiError> {
    if let Some(t) = state.screening_thresholds.get(tenant) {
        return Ok(t);
    }
    let owned = tenant.to_owned();
    let view = state
        .with_ledger(move |l| {
            screening_decisions::thresholds(l.store(), &owned).map_err(decision_error)
        })
        .await?;
    let t = view.thresholds();
    state.screening_thresholds.put(tenant, t);
    Ok(t)
}

/// `aidf_service::screening::check_for` for the caller's tenant: at its thresholds; where a
/// party has hits, again with its decisions on them.
pub(crate) async fn tenant_check(
    state: &Arc<AppState>,
    who: &Principal,
    input: DeterminationInput,
) -> Result<CheckAnswer, ApiError> {
    let check = |input: &DeterminationInput, tenant: &TenantScreening| {
        screening::check_for(&state.policy, input, Some(tenant))
            .map_err(|e| ApiError::from_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
    };
    let mut tenant = TenantScreening::at(tenant_thresholds(state, &who.tenant).await?);
    let first = check(&input, &tenant)?;
    if !first.screening.as_ref().is_some_and(|s| s.has_hits()) {
        return Ok(first);
    }
    let (owned, name) = (input.clone(), who.tenant.clone());
    tenant.decisions = state
        .with_ledger(move |l| {
            screening::decisions_for(l.store(), &name, &owned).map_err(ledger_error)
        })
        .await?;
    if tenant.decisions.is_empty() {
        return Ok(first);
    }
    check(&input, &tenant)
}

/// An officer's decision on a hit of a party on a list entry.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ScreeningDecisionRequest)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    /// The party's name as screened.
    party: String,
    /// The list entry, `LIST:ID`: the list's code and the entry's id (its published name on
    /// the lists without ids), e.g. `EL:Huawei Technologies Co., Ltd.`.
    entry: String,
    /// `not_the_same_party` (a possible hit no longer holds) or `same_party` (the hit counts as
    /// a clear hit).
    #[schema(value_type = String)]
    decision: PartyDecision,
    /// Why (required, non-empty).
    reason: String,
}

/// Record a decision on a screening hit (officer): it supersedes the tenant's earlier ones on
/// the same party and entry, and applies while the entry's content is unchanged.
#[utoipa::path(post, path = "/v1/screen/decisions", tag = "screening", request_body = DecisionRequest,
    responses((status = 200, body = aidf_ledger::ScreeningDecision)), security(("bearer" = [])))]
pub(crate) async fn decide(
    State(state): S,
    who: Principal,
    body: Body<DecisionRequest>,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest().to_string();
    let result = async {
        who.require(Role::Officer, "record screening decisions")?;
        let r = body.into_value();
        let lists = tokio::task::spawn_blocking(screening::default_lists)
            .await
            .map_err(|e| ApiError::internal(format!("worker: {e}")))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let (tenant, by) = (who.tenant.clone(), who.actor.clone());
        let recorded = state
            .with_ledger_as(ctx(&who), move |l| {
                let req = DecideRequest {
                    tenant: &tenant,
                    party: &r.party,
                    entry: &r.entry,
                    decision: r.decision,
                    reason: &r.reason,
                    by: &by,
                };
                screening_decisions::decide(l.store(), lists, &req, Timestamp::now_utc())
                    .map_err(decision_error)
            })
            .await?;
        let outcome = recorded.decision.as_str().to_owned();
        Ok((to_json(&recorded), outcome, String::new()))
    }
    .await;
    audited_write(&state, &who, "screening.decision", &digest, result)
        .await
        .map(Json)
}

/// The tenant's screening decisions, oldest first, each marked `current` or superseded.
#[utoipa::path(get, path = "/v1/screen/decisions", tag = "screening",
    responses((status = 200, body = [aidf_service::screening_decisions::DecisionView])), security(("bearer" = [])))]
pub(crate) async fn decisions(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let tenant = who.tenant.clone();
    let all = state
        .with_ledger(move |l| {
            screening_decisions::decisions(l.store(), &tenant).map_err(decision_error)
        })
        .await?;
    Ok(Json(to_json(&all)))
}

/// A tenant's thresholds: exact decimals, as JSON numbers or strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdsRequest {
    /// Clear-hit threshold (0 < possible <= clear <= 1), e.g. `0.9`.
    #[schema(value_type = aidf_core::schema::Decimal)]
    clear: Box<RawValue>,
    /// Possible-hit threshold, e.g. `0.75`.
    #[schema(value_type = aidf_core::schema::Decimal)]
    possible: Box<RawValue>,
}

/// A number's text as written, or a string's content.
fn decimal_text(raw: &RawValue) -> String {
    let text = raw.get();
    serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned())
}

/// The tenant's screening thresholds (the defaults until set).
#[utoipa::path(get, path = "/v1/screen/thresholds", tag = "screening",
    responses((status = 200, body = aidf_service::screening_decisions::ThresholdsView)), security(("bearer" = [])))]
pub(crate) async fn thresholds(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let tenant = who.tenant.clone();
    let view = state
        .with_ledger(move |l| {
            screening_decisions::thresholds(l.store(), &tenant).map_err(decision_error)
        })
        .await?;
    Ok(Json(to_json(&view)))
}

/// Set the tenant's screening thresholds (admin): its determinations, shipments and screens use
/// them.
#[utoipa::path(put, path = "/v1/screen/thresholds", tag = "screening", request_body = ThresholdsRequest,
    responses((status = 200, body = aidf_service::screening_decisions::ThresholdsView)), security(("bearer" = [])))]
pub(crate) async fn set_thresholds(
    State(state): S,
    who: Principal,
    body: Body<ThresholdsRequest>,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest().to_string();
    let result = async {
        who.require(Role::Admin, "set screening thresholds")?;
        let r = body.into_value();
        let (clear, possible) = (decimal_text(&r.clear), decimal_text(&r.possible));
        let (tenant, by) = (who.tenant.clone(), who.actor.clone());
        let view = state
            .with_ledger_as(ctx(&who), move |l| {
                let now = Timestamp::now_utc();
                screening_decisions::set_thresholds(l.store(), &tenant, &clear, &possible, &by, now)
                    .map_err(decision_error)
            })
            .await?;
        state
            .screening_thresholds
            .put(&who.tenant, view.thresholds());
        let outcome = format!("clear {} possible {}", view.clear, view.possible);
        Ok((to_json(&view), outcome, String::new()))
    }
    .await;
    audited_write(&state, &who, "screening.thresholds", &digest, result)
        .await
        .map(Json)
}
