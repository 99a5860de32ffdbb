//! Stateless answers: `POST /v1/classify` and `POST /v1/determinations`.

use aidf_core::DeterminationInput;
use aidf_core::classify::Rate;
use aidf_service::classify::{ClassifyItem, ClassifyQuery, ClassifyReport};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::S;
use super::audit::audited;
use super::extract::{Body, Q, Raw};
use crate::auth::Principal;
use crate::problem::ApiError;

/// Classification request: a catalog chip, or rates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ClassifyRequest {
    /// Catalog id or name.
    chip: Option<String>,
    /// Dense rates in T(FL)OPS, one per precision, read exactly from the number's text (a
    /// numeric string such as `"1979.5"` is accepted too).
    #[serde(default)]
    #[schema(value_type = Vec<f64>)]
    tops: Vec<ExactDecimal>,
    /// Bit lengths matching `tops`.
    #[serde(default)]
    bits: Vec<u32>,
    /// Applicable die area, mm², read exactly from the number's text.
    #[serde(default, deserialize_with = "aidf_core::num::de_opt_decimal_json")]
    #[schema(value_type = Option<f64>)]
    die_area_mm2: Option<aidf_core::num::Decimal>,
    /// Designed for datacenters (default true).
    datacenter: Option<bool>,
    /// Chips in a system (4A090 when more than one).
    quantity: Option<u64>,
    /// Regime id (default: in force on `date`, as written).
    regime: Option<String>,
    /// Business date YYYY-MM-DD that picks the regime (default: today in UTC).
    #[schema(value_type = Option<String>, format = Date)]
    date: Option<chrono::NaiveDate>,
}

/// A decimal read from a JSON number's text (or a numeric string), never through `f64`.
#[derive(Debug, Deserialize)]
struct ExactDecimal(
    #[serde(deserialize_with = "aidf_core::num::de_decimal_json")] aidf_core::num::Decimal,
);

/// Classify a chip as 3A090.a, 3A090.b or not controlled (4A090 for a system of several).
#[utoipa::path(post, path = "/v1/classify", tag = "determinations", request_body = ClassifyRequest,
    responses((status = 200, body = ClassifyReport)),
    security(("bearer" = [])))]
pub(super) async fn classify(
    State(state): S,
    _who: Principal,
    body: Body<ClassifyRequest>,
) -> Result<Json<ClassifyReport>, ApiError> {
    let query = classify_query_of(body.value)?;
    aidf_service::classify::classify_query(&state.policy, &query)
        .map(Json)
        .map_err(|e| ApiError::unprocessable(Some(e.field().into()), e.to_string()))
}

/// The service's query from a request body: a chip, or rates that are positive with a bit length
/// each; the date defaults to today in UTC.
fn classify_query_of(r: ClassifyRequest) -> Result<ClassifyQuery, ApiError> {
    let bad = |field: String, detail: String| ApiError::unprocessable(Some(field), detail);
    let item = match r.chip {
        Some(name) => {
            if !r.tops.is_empty() || !r.bits.is_empty() || r.die_area_mm2.is_some() {
                return Err(bad(
                    "chip".into(),
                    "field `chip`: give a catalog chip or rates, not both".into(),
                ));
            }
            ClassifyItem::Chip(name)
        }
        None => {
            if r.tops.is_empty() || r.tops.len() != r.bits.len() {
                return Err(bad(
                    "tops".into(),
                    "field `tops`: give `chip`, or `tops` and `bits` of equal length".into(),
                ));
            }
            let positive = |field: String, d: aidf_core::num::Decimal| {
                if d.is_sign_positive() && !d.is_zero() {
                    Ok(d)
                } else {
                    let detail = format!("field `{field}`: `{d}` must be a positive number");
                    Err(bad(field, detail))
                }
            };
            let mut rates = Vec::new();
            for (i, (t, &b)) in r.tops.iter().zip(&r.bits).enumerate() {
                if b == 0 || b > 256 {
                    let field = format!("bits[{i}]");
                    let detail = format!("field `{field}`: `{b}` is not a bit length");
                    return Err(bad(field, detail));
                }
                rates.push(Rate {
                    precision: None,
                    dense_tops: positive(format!("tops[{i}]"), t.0)?,
                    bits: b,
                });
            }
            let die_area_mm2 = r
                .die_area_mm2
                .map(|a| positive("die_area_mm2".into(), a))
                .transpose()?;
            ClassifyItem::Rates {
                rates,
                die_area_mm2,
                datacenter: r.datacenter != Some(false),
            }
        }
    };
    Ok(ClassifyQuery {
        item,
        quantity: r.quantity.unwrap_or(1),
        regime: r.regime,
        date: aidf_service::classify::business_date(r.date),
    })
}

pub(super) fn parse_input(text: &Bytes) -> Result<DeterminationInput, ApiError> {
    let s = std::str::from_utf8(text)
        .map_err(|_| ApiError::bad_request(None, "request body is not UTF-8"))?;
    DeterminationInput::from_json(s).map_err(|e| {
        let field = (!e.path.is_empty() && e.path != ".").then(|| e.path.clone());
        ApiError::bad_request(field, e.to_string())
    })
}

/// Whether `POST /v1/determinations` screens the consignee.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct ScreenQuery {
    /// `false` skips screening against the restricted-party lists (default `true`).
    screen: Option<bool>,
}

/// Determine a transaction (stateless: balances from the input's `context`). Any role may check,
/// viewers too: nothing is drawn or recorded but the audit record. The consignee is screened
/// against the default restricted-party lists first (unless `?screen=false`), at the tenant's
/// thresholds and with its screening decisions: the answer carries a `screening` block, with a
/// clear Entity List hit's entry applied.
#[utoipa::path(post, path = "/v1/determinations", tag = "determinations", request_body = DeterminationInput,
    params(ScreenQuery),
    responses((status = 200, body = aidf_service::screening::CheckAnswer)),
    security(("bearer" = [])))]
pub(super) async fn determinations(
    State(state): S,
    who: Principal,
    Q(q): Q<ScreenQuery>,
    body: Raw,
) -> Result<Response, ApiError> {
    let screen = q.screen.unwrap_or(true);
    if screen && !aidf_service::screening::default_lists_ready() {
        // The first use loads and indexes the lists (~0.7 s): off the async threads.
        tokio::task::spawn_blocking(aidf_service::screening::default_lists)
            .await
            .map_err(|e| ApiError::internal(format!("screening lists: {e}")))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    // Parsed once into the contract and serialized straight from the answer: this is the hot
    // path of the API, and a `serde_json::Value` in between would cost as much as the rules.
    let result = async {
        let input = parse_input(&body.bytes)?;
        let answer = if screen {
            crate::screening::tenant_check(&state, &who, input).await?
        } else {
            aidf_service::screening::check_for(&state.policy, &input, None).map_err(|e| {
                ApiError::from_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            })?
        };
        // Sized for a typical answer (about 2 KB), so it is not regrown while written.
        let mut json = Vec::with_capacity(4096);
        serde_json::to_writer(&mut json, &answer)
            .map_err(|e| ApiError::internal(format!("serializing the answer: {e}")))?;
        let d = &answer.determination;
        Ok((
            json,
            d.authorization.as_str().to_string(),
            d.regime.digest.to_string(),
        ))
    }
    .await;
    audited(&state, &who, "determination", &body.digest, result)
        .await
        .map(|json| ([(header::CONTENT_TYPE, "application/json")], json).into_response())
}
