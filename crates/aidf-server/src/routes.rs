//! Handlers. Each is annotated for the generated OpenAPI document.

use std::sync::Arc;

use aidf_core::classify::Rate;
use aidf_core::{DeterminationInput, Posture};
use aidf_ledger::{LedgerError, License, Timestamp, Veu};
use aidf_service::classify::{ClassifyItem, ClassifyQuery, ClassifyReport};
use aidf_service::countries::{CountriesQuery, CountriesReport};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Principal, Role};
use crate::problem::{ApiError, Problem};
use crate::store::TokenInfo;
use crate::{AppState, metrics};
use aidf_ledger::LedgerStore;
use aidf_ledger::audit::{AuditContext, AuditEvent, NewAudit};

type S = State<Arc<AppState>>;

/// A JSON body parsed strictly, with the field path of any error, plus its digest.
pub struct Body<T> {
    value: T,
    bytes: Bytes,
    digest: String,
}

impl<T> Body<T> {
    /// The parsed body.
    pub fn value(&self) -> &T {
        &self.value
    }
    /// The parsed body, taken.
    pub fn into_value(self) -> T {
        self.value
    }
    /// The body's digest.
    pub fn digest(&self) -> &str {
        &self.digest
    }
    /// The body read again as a `U` (strictly, as `Body` reads it), for a handler that audits
    /// a body it could not read: the failure is the handler's answer, not the extractor's.
    pub fn parse<U: serde::de::DeserializeOwned>(&self) -> Result<U, ApiError> {
        parse_body(&self.bytes)
    }
}

/// Reads a request body strictly (`aidf_core::strict_json`): one JSON object, the field path of
/// any fault in the problem's `field`, plain words.
fn parse_body<U: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<U, ApiError> {
    if bytes.trim_ascii().is_empty() {
        return Err(ApiError::bad_request(
            None,
            "the request body is empty; expected a JSON object".to_string(),
        ));
    }
    aidf_core::strict_json::parse_document_bytes(bytes, "a request body").map_err(|e| {
        let field = (!e.path.is_empty()).then(|| e.path.clone());
        ApiError::bad_request(field, e.to_string())
    })
}

/// The raw body and its digest, for handlers that parse it themselves (once).
pub struct Raw {
    bytes: Bytes,
    digest: String,
}

impl Raw {
    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The body's digest.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

impl FromRequest<Arc<AppState>> for Raw {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            ApiError {
                status: if status.is_client_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                kind: "bad-request",
                detail: format!("request body: {}", e.body_text()),
                field: None,
            }
        })?;
        let digest = digest(&bytes);
        Ok(Raw { bytes, digest })
    }
}

fn digest(bytes: &[u8]) -> String {
    aidf_ledger::audit::sha256_text(&Sha256::digest(bytes))
}

impl<T: serde::de::DeserializeOwned> FromRequest<Arc<AppState>> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            ApiError {
                status: if status.is_client_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                kind: "bad-request",
                detail: format!("request body: {}", e.body_text()),
                field: None,
            }
        })?;
        let value = parse_body(&bytes)?;
        Ok(Body {
            value,
            digest: digest(&bytes),
            bytes,
        })
    }
}

/// `Query`, with its rejection as problem+json naming the parameter problem.
pub struct Q<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<Arc<AppState>>
    for Q<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Q(v))
            .map_err(|e| ApiError::bad_request(None, format!("query string: {}", e.body_text())))
    }
}

/// `Path`, with its rejection as problem+json.
pub struct P<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<Arc<AppState>>
    for P<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if let Some(code) = control_escape(parts.uri.path()) {
            return Err(ApiError::bad_request(
                Some("path".into()),
                format!(
                    "path: `{}` holds the control character %{code}; ids and keys are printable text",
                    parts.uri.path()
                ),
            ));
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| P(v))
            .map_err(|e| ApiError::bad_request(None, format!("path: {}", e.body_text())))
    }
}

/// The first percent-escaped control character (`%00`-`%1F`, `%7F`) in a raw path, as its two
/// hex digits. Raw control bytes cannot reach here (the URI parser refuses them).
fn control_escape(path: &str) -> Option<&str> {
    let bytes = path.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        if bytes[i] != b'%' {
            return None;
        }
        let hex = path.get(i + 1..i + 3)?;
        let v = u8::from_str_radix(hex, 16).ok()?;
        (v < 0x20 || v == 0x7f).then_some(hex)
    })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An event by the caller, now.
fn event_of(
    who: &Principal,
    action: &str,
    input_digest: &str,
    outcome: String,
    regime: String,
) -> NewAudit {
    NewAudit {
        at: now_ms(),
        tenant: who.tenant.clone(),
        actor: who.actor.clone(),
        event: AuditEvent {
            action: action.to_string(),
            subject: String::new(),
            input_digest: input_digest.to_string(),
            outcome,
            regime_digest: regime,
        },
    }
}

/// Records an audit entry for an action that writes nothing to the ledger and passes its result
/// through once the record is committed. Refusals (401/403) are left to [`audit_refusals`].
async fn audited<T>(
    state: &Arc<AppState>,
    who: &Principal,
    action: &str,
    input_digest: &str,
    result: Result<(T, String, String), ApiError>,
) -> Result<T, ApiError> {
    let (outcome, regime_digest) = match &result {
        Ok((_, o, r)) => (o.clone(), r.clone()),
        Err(e) if is_refusal(e.status) => return result.map(|(v, _, _)| v),
        Err(e) => (format!("error:{}", e.status.as_u16()), String::new()),
    };
    let record = event_of(who, action, input_digest, outcome, regime_digest);
    state.audit.append(record).await?;
    result.map(|(v, _, _)| v)
}

/// For a ledger write: its audit record was committed with it (the ledger's outbox), so only a
/// failure, which wrote nothing, is recorded here.
pub(crate) async fn audited_write<T>(
    state: &Arc<AppState>,
    who: &Principal,
    action: &str,
    input_digest: &str,
    result: Result<(T, String, String), ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok((v, _, _)) => Ok(v),
        Err(e) => audited::<T>(state, who, action, input_digest, Err(e)).await,
    }
}

fn is_refusal(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// The audit context of a caller's ledger writes.
pub(crate) fn ctx(who: &Principal) -> AuditContext {
    AuditContext {
        tenant: who.tenant.clone(),
        actor: who.actor.clone(),
    }
}

/// Middleware: a request still running after the server's timeout is answered 503 problem+json.
/// Dropping the handler does not undo what it handed on: a shipment already queued for the
/// writer is recorded all the same, and a retry with its Idempotency-Key returns that record.
pub(crate) async fn deadline(
    State(state): S,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable(format!(
            "the request took longer than {} ms; a shipment may still be recorded: retry with the same Idempotency-Key to get its answer",
            limit.as_millis()
        ))
        .into_response(),
    }
}

/// Middleware: every 401 and 403 gets an audit record (action `refused`, subject the method and
/// path, the token's tenant and id when the token is known) before the response leaves.
pub(crate) async fn audit_refusals(
    State(state): S,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    // Cheap clones (reference-counted); the hash and the text are made only for a refusal.
    let auth = req.headers().get(header::AUTHORIZATION).cloned();
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let response = next.run(req).await;
    if !is_refusal(response.status()) {
        return response;
    }
    let bearer = auth
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| crate::auth::token_hash(t.trim()));
    let subject = format!("{method} {}", uri.path());
    let known = bearer.as_deref().and_then(|h| state.tokens.get(h));
    let (tenant, actor) = match (known, &bearer) {
        (Some(p), _) => (p.tenant, p.actor),
        (None, Some(_)) => (String::new(), "unknown-token".to_string()),
        (None, None) => (String::new(), "anonymous".to_string()),
    };
    let record = NewAudit {
        at: now_ms(),
        tenant,
        actor,
        event: AuditEvent {
            action: "refused".into(),
            subject,
            input_digest: String::new(),
            outcome: format!("error:{}", response.status().as_u16()),
            regime_digest: String::new(),
        },
    };
    match state.audit.append(record).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
}

pub(crate) fn ledger_error(e: LedgerError) -> ApiError {
    if e.is_storage() {
        ApiError::internal(format!("ledger: {e}"))
    } else {
        ApiError::from_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    }
}

fn scoped(tenant: &str, id: &str) -> String {
    format!("{tenant}.{id}")
}

fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    use aidf_service::records::{is_record_id, record_id_message};
    if is_record_id(id) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            Some(field.into()),
            format!("field `{field}`: {}", record_id_message(id)),
        ))
    }
}

// ---------------------------------------------------------------- responses built here

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// A catalog chip as `GET /v1/chips` lists it.
#[derive(Debug, Serialize, ToSchema)]
struct ChipLine {
    /// Catalog id.
    id: String,
    /// Display name.
    name: String,
    vendor: String,
    /// TPP per unit, whole; null when no dense rate is published.
    tpp: Option<u64>,
}

/// The caller, as `GET /v1/whoami` shows it.
#[derive(Debug, Serialize, ToSchema)]
struct Whoami {
    tenant: String,
    /// `viewer`, `exporter`, `officer`, `admin` or `global_admin`.
    role: &'static str,
    /// Token id (never the token), or `local:<user>`.
    actor: String,
    /// The server runs without tokens on a local address.
    insecure_local: bool,
}

/// One regime as `GET /v1/regimes` lists it.
#[derive(Debug, Serialize, ToSchema)]
struct RegimeLine {
    id: String,
    title: String,
    citation: String,
    effective_date: chrono::NaiveDate,
    compliance_date: chrono::NaiveDate,
    /// `sha256:` of its canonical content.
    digest: String,
}

/// `GET /v1/regimes`: the regimes and the timeline that selects them.
#[derive(Debug, Serialize, ToSchema)]
struct RegimesReport {
    regimes: Vec<RegimeLine>,
    timeline: aidf_core::policy::Timeline,
}

/// One account's balance, now or as of a date (`GET /v1/accounts/{key}`).
#[derive(Debug, Serialize, ToSchema)]
struct AccountView {
    key: String,
    /// The business date asked for, if any.
    as_of: Option<String>,
    /// The recording date asked for, if any.
    recorded_as_of: Option<String>,
    balance: aidf_ledger::Balance,
}

/// One license with its balances (`GET /v1/licenses/{id}`), its id without the tenant's scope.
#[derive(Debug, Serialize, ToSchema)]
struct LicenseView {
    license: License,
    /// TPP drawn on it.
    tpp: aidf_ledger::Balance,
    /// Units drawn on it.
    units: aidf_ledger::Balance,
    /// US cents drawn on its value, when it has one.
    value_cents: Option<aidf_ledger::Balance>,
}

/// A tenant just created (`POST /v1/tenants`).
#[derive(Debug, Serialize, ToSchema)]
struct TenantCreated {
    id: String,
    name: String,
}

/// A token just revoked (`POST /v1/tokens/{id}/revoke`).
#[derive(Debug, Serialize, ToSchema)]
struct Revoked {
    id: String,
    /// Always true.
    revoked: bool,
}

/// Classification request: a catalog chip, or rates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClassifyRequest {
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

/// A tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TenantRequest {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct AsOf {
    /// Balance at the end of this business date (YYYY-MM-DD): shipments dated on or before it,
    /// whenever recorded, and other entries recorded by then.
    as_of: Option<String>,
    /// Balance as recorded by the end of this date (YYYY-MM-DD): the recording clock.
    recorded_as_of: Option<String>,
}

impl AsOf {
    /// The balance of `key` on the clock the query names (now when it names none).
    fn balance(
        &self,
        store: &mut dyn aidf_ledger::LedgerStore,
        key: &str,
    ) -> Result<aidf_ledger::Balance, LedgerError> {
        match (&self.as_of, &self.recorded_as_of) {
            (Some(d), _) => store.balance_on(key, d),
            (None, Some(d)) => store.balance(
                key,
                Some(end_of("recorded_as_of", d).unwrap_or(Timestamp(0))),
            ),
            (None, None) => store.balance(key, None),
        }
    }

    /// Checks the dates before any read.
    fn check(&self) -> Result<(), ApiError> {
        if self.as_of.is_some() && self.recorded_as_of.is_some() {
            return Err(ApiError::bad_request(
                Some("as_of".into()),
                "give `as_of` (business date) or `recorded_as_of`, not both",
            ));
        }
        for (field, v) in [
            ("as_of", &self.as_of),
            ("recorded_as_of", &self.recorded_as_of),
        ] {
            if let Some(s) = v {
                end_of(field, s)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct CountriesParams {
    /// Date (default today in UTC).
    date: Option<String>,
    /// `as_written` (default) or `as_enforced`.
    posture: Option<String>,
    /// Pin a regime id (default: the one in force on the date under the posture).
    regime: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct Limit {
    /// Most records (default 100, at most 1000).
    limit: Option<i64>,
}

// ---------------------------------------------------------------- handlers

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "ok", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain")))]
async fn metrics_text(State(state): S) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        metrics::render(&state),
    )
}

/// Classify a chip as 3A090.a, 3A090.b or not controlled (4A090 for a system of several).
#[utoipa::path(post, path = "/v1/classify", tag = "determinations", request_body = ClassifyRequest,
    responses((status = 200, body = ClassifyReport)),
    security(("bearer" = [])))]
async fn classify(
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

fn parse_input(text: &Bytes) -> Result<DeterminationInput, ApiError> {
    let s = std::str::from_utf8(text)
        .map_err(|_| ApiError::bad_request(None, "request body is not UTF-8"))?;
    DeterminationInput::from_json(s).map_err(|e| {
        let field = (!e.path.is_empty() && e.path != ".").then(|| e.path.clone());
        ApiError::bad_request(field, e.to_string())
    })
}

/// Whether `POST /v1/determinations` screens the consignee.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ScreenQuery {
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
async fn determinations(
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

/// Determine a transaction against the ledger and record it with its draws.
#[utoipa::path(post, path = "/v1/shipments", tag = "ledger", request_body = DeterminationInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the original response")),
    responses((status = 200, body = aidf_service::ShipOutcome)),
    security(("bearer" = [])))]
async fn shipments(
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

// ---------------------------------------------------------------- shipment register (issue 15)

/// Query of `GET /v1/shipments` (every value read as text, so an error names its parameter).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ShipmentsQuery {
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
async fn list_shipments(
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
async fn show_shipment(
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
async fn shipment_record(
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

fn record_error(e: aidf_service::records::RecordError) -> ApiError {
    use aidf_service::records::RecordError;
    match e {
        RecordError::Ledger(l) => ledger_error(l),
        other => ApiError::unprocessable(other.field().map(|f| f.to_string()), other.to_string()),
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
    let outcome = format!(
        "{}:{}",
        out.status.as_str(),
        out.determination["authorization"].as_str().unwrap_or("?")
    );
    let digest = out.determination["regime"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let json = serde_json::to_vec(&out)
        .map_err(|e| ApiError::internal(format!("serializing the answer: {e}")))?;
    Ok(((json, out.replayed), outcome, digest))
}

/// Whether the tenant may see an account: country allocations are global; consignee accounts
/// carry their tenant in the key; license accounts their license's id.
fn visible(who: &Principal, key: &str) -> Result<(), ApiError> {
    let tenant = &who.tenant;
    let own = key.starts_with("country:")
        || key.starts_with("country-beyond:")
        || aidf_core::AccountRef::scope_prefixes(tenant)
            .iter()
            .any(|p| key.starts_with(p.as_str()))
        || key.starts_with(&format!("license:{tenant}."));
    if own {
        Ok(())
    } else {
        Err(ApiError::not_found("key", format!("no account `{key}`")))
    }
}

/// Accounts visible to the tenant (country allocations are global).
#[utoipa::path(get, path = "/v1/accounts", tag = "ledger", params(AsOf), responses((status = 200, body = [aidf_ledger::Account])), security(("bearer" = [])))]
async fn accounts(State(state): S, who: Principal, Q(q): Q<AsOf>) -> Result<Json<Value>, ApiError> {
    q.check()?;
    let tenant = who.clone();
    let out = state
        .with_ledger(move |l| {
            let store = l.store();
            let mut out = Vec::new();
            for mut a in store.accounts().map_err(ledger_error)? {
                if visible(&tenant, &a.key).is_err() {
                    continue;
                }
                if q.as_of.is_some() || q.recorded_as_of.is_some() {
                    let b = q.balance(store, &a.key).map_err(ledger_error)?;
                    (a.cap, a.posted, a.pending) = (b.cap, b.posted, b.pending);
                }
                out.push(serde_json::to_value(&a).unwrap_or_default());
            }
            Ok(out)
        })
        .await?;
    Ok(Json(Value::Array(out)))
}

/// The date in query parameter `field`, or a 400 naming it.
pub(crate) fn date_param(field: &str, s: &str) -> Result<chrono::NaiveDate, ApiError> {
    s.parse().map_err(|_| {
        ApiError::bad_request(
            Some(field.into()),
            format!("parameter `{field}`: `{s}` is not a date (YYYY-MM-DD)"),
        )
    })
}

fn end_of(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    let d = date_param(field, s)?;
    let t = d
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(i64::MAX);
    Ok(Timestamp(t))
}

/// One account's balance, now or as of a date.
#[utoipa::path(get, path = "/v1/accounts/{key}", tag = "ledger", params(("key" = String, Path, description = "Account key"), AsOf),
    responses((status = 200, body = AccountView)), security(("bearer" = [])))]
async fn account(
    State(state): S,
    who: Principal,
    P(key): P<String>,
    Q(q): Q<AsOf>,
) -> Result<Json<AccountView>, ApiError> {
    visible(&who, &key)?;
    q.check()?;
    let k = key.clone();
    let (as_of, recorded_as_of) = (q.as_of.clone(), q.recorded_as_of.clone());
    let bal = state
        .with_ledger(move |l| match q.balance(l.store(), &k) {
            Err(LedgerError::UnknownAccount { .. }) => {
                Err(ApiError::not_found("key", format!("no account `{k}`")))
            }
            other => other.map_err(ledger_error),
        })
        .await?;
    Ok(Json(AccountView {
        key,
        as_of,
        recorded_as_of,
        balance: bal,
    }))
}

/// One account's history; other tenants' shipment ids are redacted.
#[utoipa::path(get, path = "/v1/accounts/{key}/history", tag = "ledger", params(("key" = String, Path, description = "Account key")),
    responses((status = 200, body = [aidf_ledger::Entry])), security(("bearer" = [])))]
async fn history(
    State(state): S,
    who: Principal,
    P(key): P<String>,
) -> Result<Json<Value>, ApiError> {
    visible(&who, &key)?;
    let k = key.clone();
    let entries = state
        .with_ledger(move |l| match l.store().history(&k) {
            Err(LedgerError::UnknownAccount { .. }) => {
                Err(ApiError::not_found("key", format!("no account `{k}`")))
            }
            other => other.map_err(ledger_error),
        })
        .await?;
    let prefix = format!("{}.", who.tenant);
    let out: Vec<Value> = entries
        .into_iter()
        .map(|mut e| {
            let mine = e
                .meta
                .determination_id
                .as_deref()
                .is_none_or(|d| d.starts_with(&prefix));
            if !mine {
                e.meta.determination_id = Some("redacted".into());
                e.meta.memo = None;
                e.op_id = Some("redacted".into());
            }
            serde_json::to_value(&e).unwrap_or_default()
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

fn strip(tenant: &str, id: &str) -> String {
    id.strip_prefix(&format!("{tenant}."))
        .unwrap_or(id)
        .to_string()
}

/// The tenant's licenses.
#[utoipa::path(get, path = "/v1/licenses", tag = "records", responses((status = 200, body = [License])), security(("bearer" = [])))]
async fn licenses(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().licenses().map_err(ledger_error))
        .await?;
    Ok(Json(tenant_records(&who.tenant, all, |l| &mut l.id)))
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

/// One license with its balances.
#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "records", params(("id" = String, Path, description = "License id")),
    responses((status = 200, body = LicenseView)), security(("bearer" = [])))]
async fn license(
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

fn date_field(field: &str, s: &str) -> Result<String, ApiError> {
    s.parse::<chrono::NaiveDate>()
        .map(|d| d.to_string())
        .map_err(|_| {
            ApiError::unprocessable(
                Some(field.into()),
                format!("field `{field}`: `{s}` is not a date (YYYY-MM-DD)"),
            )
        })
}

/// Record a license granted by BIS (officer).
#[utoipa::path(post, path = "/v1/licenses", tag = "records", request_body = LicenseRequest,
    responses((status = 200, body = License)), security(("bearer" = [])))]
async fn add_license(
    State(state): S,
    who: Principal,
    body: Body<Value>,
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
async fn veus(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().veus().map_err(ledger_error))
        .await?;
    Ok(Json(tenant_records(&who.tenant, all, |v| &mut v.id)))
}

/// Record a UVEU/NVEU authorization and its sites (officer).
#[utoipa::path(post, path = "/v1/veus", tag = "records", request_body = VeuRequest,
    responses((status = 200, body = Veu)), security(("bearer" = [])))]
async fn add_veu(
    State(state): S,
    who: Principal,
    body: Body<Value>,
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
async fn g2g(State(state): S, _who: Principal) -> Result<Json<Value>, ApiError> {
    let all = state
        .with_ledger(|l| l.store().g2g_arrangements().map_err(ledger_error))
        .await?;
    Ok(Json(serde_json::to_value(all).unwrap_or_default()))
}

/// Record a government-to-government arrangement (admin).
#[utoipa::path(post, path = "/v1/g2g", tag = "records", request_body = G2gRequest,
    responses((status = 200, body = aidf_ledger::G2gArrangement)), security(("bearer" = [])))]
async fn add_g2g(
    State(state): S,
    who: Principal,
    body: Body<Value>,
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

/// Countries with their groups and tier on a date.
#[utoipa::path(get, path = "/v1/countries", tag = "policy", params(CountriesParams),
    responses((status = 200, body = CountriesReport)), security(("bearer" = [])))]
async fn countries(
    State(state): S,
    _who: Principal,
    Q(q): Q<CountriesParams>,
) -> Result<Json<CountriesReport>, ApiError> {
    let date = match &q.date {
        Some(d) => Some(d.parse().map_err(|_| {
            ApiError::bad_request(
                Some("date".into()),
                format!("parameter `date`: `{d}` is not a date (YYYY-MM-DD)"),
            )
        })?),
        None => None,
    };
    let posture = match q.posture.as_deref() {
        None | Some("as_written") | Some("as-written") => Posture::AsWritten,
        Some("as_enforced") | Some("as-enforced") => Posture::AsEnforced,
        Some(p) => {
            return Err(ApiError::bad_request(
                Some("posture".into()),
                format!("parameter `posture`: `{p}` is not `as_written` or `as_enforced`"),
            ));
        }
    };
    let query = CountriesQuery {
        date: aidf_service::classify::business_date(date),
        posture,
        regime: q.regime,
    };
    aidf_service::countries::countries_query(&state.policy, &query)
        .map(Json)
        .map_err(|e| ApiError::unprocessable(Some(e.field().into()), e.to_string()))
}

/// The chip catalog: id, name and TPP of each chip (TPP null when no dense rate is published).
#[utoipa::path(get, path = "/v1/chips", tag = "policy", responses((status = 200, body = [ChipLine])), security(("bearer" = [])))]
async fn chips(State(state): S, _who: Principal) -> Json<Vec<ChipLine>> {
    let list = state
        .policy
        .catalog
        .chips()
        .iter()
        .map(|c| ChipLine {
            id: c.id.to_string(),
            name: c.display_name(),
            vendor: c.vendor.clone(),
            tpp: c.metrics().map(|m| m.tpp_whole()),
        })
        .collect();
    Json(list)
}

/// The caller: tenant, role and token id (what the dashboard may offer).
#[utoipa::path(get, path = "/v1/whoami", tag = "admin", responses((status = 200, body = Whoami)), security(("bearer" = [])))]
async fn whoami(State(state): S, who: Principal) -> Json<Whoami> {
    Json(Whoami {
        tenant: who.tenant,
        role: who.role.as_str(),
        actor: who.actor,
        insecure_local: state.insecure_local,
    })
}

/// Regimes and the timeline.
#[utoipa::path(get, path = "/v1/regimes", tag = "policy", responses((status = 200, body = RegimesReport)), security(("bearer" = [])))]
async fn regimes(State(state): S, _who: Principal) -> Json<RegimesReport> {
    let p = &state.policy;
    let regimes = p
        .regimes
        .iter()
        .map(|r| RegimeLine {
            id: r.spec.id.clone(),
            title: r.spec.title.clone(),
            citation: r.spec.citation.to_string(),
            effective_date: r.spec.effective_date,
            compliance_date: r.spec.compliance_date,
            digest: r.digest.to_string(),
        })
        .collect();
    Json(RegimesReport {
        regimes,
        timeline: p.timeline.clone(),
    })
}

/// The tenant's audit records, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(Limit), responses((status = 200, body = [aidf_ledger::audit::AuditRecord])), security(("bearer" = [])))]
async fn audit(State(state): S, who: Principal, Q(q): Q<Limit>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = state
        .with_ledger(move |l| l.audit_records(&who.tenant, limit).map_err(ledger_error))
        .await?;
    Ok(Json(serde_json::to_value(rows).unwrap_or_default()))
}

/// Verify the whole audit chain, its signed checkpoints and the anchor outside the database
/// (admin); reports the first bad record. Streams the chain page by page in constant memory;
/// at most two run at once.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit", responses((status = 200, body = aidf_ledger::audit::Verification)), security(("bearer" = [])))]
async fn verify(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(Role::Admin, "verify the audit chain")?;
    let _turn = state
        .verifying
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let auditor = state.auditor.clone();
    let v = state
        .with_ledger(move |l| auditor.verify(l).map_err(ledger_error))
        .await?;
    Ok(Json(serde_json::to_value(v).unwrap_or_default()))
}

/// Tenants (admin).
#[utoipa::path(get, path = "/v1/tenants", tag = "admin", responses((status = 200, body = [String])), security(("bearer" = [])))]
async fn tenants(State(state): S, who: Principal) -> Result<Json<Vec<String>>, ApiError> {
    who.require(Role::GlobalAdmin, "list tenants")?;
    let db = state.db.clone();
    let t = tokio::task::spawn_blocking(move || db.tenants())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(t))
}

/// Create a tenant (admin).
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", request_body = TenantRequest,
    responses((status = 200, body = TenantCreated)), security(("bearer" = [])))]
async fn add_tenant(
    State(state): S,
    who: Principal,
    body: Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let digest = body.digest.clone();
    let result = async {
        who.require(Role::GlobalAdmin, "create tenants")?;
        let r: TenantRequest = body.parse()?;
        check_id("id", &r.id)?;
        let db = state.db.clone();
        let (id, name) = (r.id.clone(), r.name.clone());
        tokio::task::spawn_blocking(move || db.ensure_tenant(&id, &name, now_ms()))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok((
            json!(TenantCreated {
                id: r.id,
                name: r.name
            }),
            "recorded".to_string(),
            String::new(),
        ))
    }
    .await;
    audited(&state, &who, "tenant.add", &digest, result)
        .await
        .map(Json)
}

/// The tenant whose tokens an admin may manage: its own, or any (`None`) for a global admin.
fn token_scope(who: &Principal) -> Result<Option<String>, ApiError> {
    who.require(Role::Admin, "manage tokens")?;
    Ok((who.role < Role::GlobalAdmin).then(|| who.tenant.clone()))
}

/// API tokens (admin: its tenant's; global admin: all). Never the tokens or their hashes.
#[utoipa::path(get, path = "/v1/tokens", tag = "admin", responses((status = 200, body = [TokenInfo])), security(("bearer" = [])))]
async fn tokens(State(state): S, who: Principal) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let scope = token_scope(&who)?;
    let db = state.db.clone();
    let list = tokio::task::spawn_blocking(move || db.tokens(scope.as_deref()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(list))
}

/// Revoke a token (admin: of its tenant; global admin: any). Every server process refuses it
/// within a few seconds (token lookups are cached that long). Audited as `token.revoke`.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "admin", params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = Revoked)), security(("bearer" = [])))]
async fn revoke_token(
    State(state): S,
    who: Principal,
    P(id): P<String>,
) -> Result<Json<Revoked>, ApiError> {
    let scope = token_scope(&who)?;
    check_id("id", &id)?;
    let db = state.db.clone();
    let (by, token) = (ctx(&who), id.clone());
    let revoked = tokio::task::spawn_blocking(move || {
        db.revoke_token(&token, scope.as_deref(), &by, now_ms())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    state.audit.poke();
    if !revoked {
        return Err(ApiError::not_found(
            "id",
            format!("no live token `{id}` that you may revoke"),
        ));
    }
    state.tokens.forget(&id);
    Ok(Json(Revoked { id, revoked: true }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "aidf",
        description = "Export-control determinations and TPP accounting under the AI Diffusion framework and the advanced-computing rules"
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every secured operation can fail the same ways; say so once, as problem+json.
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let errors = [
            (
                "400",
                "Malformed request: syntax, wrong type, unknown field",
            ),
            ("401", "Missing or unknown bearer token"),
            ("403", "The token's role may not do this"),
            ("404", "Not found, or not visible to this tenant"),
            (
                "409",
                "Conflicts with stored state (e.g. an Idempotency-Key reused with another body)",
            ),
            ("413", "Request body larger than 1 MiB"),
            (
                "422",
                "Well-formed but unusable input (unknown country, chip, regime…)",
            ),
            ("503", "Busy or timed out; retry"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                if op.security.is_none() {
                    continue;
                }
                for (code, description) in errors {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// Every route, with the OpenAPI document generated from the handlers.
pub fn api() -> (axum::Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics_text))
        .routes(routes!(classify))
        .routes(routes!(screen))
        .routes(routes!(determinations))
        .routes(routes!(shipments, list_shipments))
        .routes(routes!(show_shipment))
        .routes(routes!(shipment_record))
        .routes(routes!(accounts))
        .routes(routes!(account))
        .routes(routes!(history))
        .routes(routes!(licenses, add_license))
        .routes(routes!(license))
        .routes(routes!(crate::applications::change_license))
        .routes(routes!(
            crate::applications::submit,
            crate::applications::list
        ))
        .routes(routes!(crate::applications::stats))
        .routes(routes!(crate::reports_due::due))
        .routes(routes!(crate::reports::report))
        .routes(routes!(crate::applications::show))
        .routes(routes!(crate::applications::record))
        .routes(routes!(crate::applications::decide))
        .routes(routes!(veus, add_veu))
        .routes(routes!(g2g, add_g2g))
        .routes(routes!(countries))
        .routes(routes!(regimes))
        .routes(routes!(chips))
        .routes(routes!(whoami))
        .routes(routes!(audit))
        .routes(routes!(verify))
        .routes(routes!(
            crate::screening::decide,
            crate::screening::decisions
        ))
        .routes(routes!(
            crate::screening::thresholds,
            crate::screening::set_thresholds
        ))
        .routes(routes!(tenants, add_tenant))
        .routes(routes!(tokens))
        .routes(routes!(revoke_token))
        .split_for_parts();
    // After the routes are in: the modifier walks their operations.
    Security.modify(&mut openapi);
    (router, openapi)
}

// ---------------------------------------------------------------- screening (issue 14)

/// A party to screen against the restricted-party lists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScreenRequest {
    /// The party's name, in any script.
    name: String,
    /// ISO-2 country (a qualifier).
    country: Option<String>,
    /// `person` or `organization`.
    #[serde(rename = "type")]
    party_type: Option<String>,
    /// Clear-hit threshold (0..1; default: the tenant's, see `/v1/screen/thresholds`).
    clear: Option<f64>,
    /// Possible-hit threshold (0..1; default: the tenant's).
    possible: Option<f64>,
}

/// The embedded default lists (the CSL of 2026-07-31), loaded and indexed on first use.
fn screening_lists() -> Result<&'static aidf_screen::ListSet, ApiError> {
    aidf_service::screening::default_lists().map_err(|e| ApiError::internal(e.to_string()))
}

/// Screen a party: hits with scores, verdicts, list versions and explanations, at the tenant's
/// thresholds unless the request gives both.
#[utoipa::path(post, path = "/v1/screen", tag = "screening", request_body = ScreenRequest,
    responses((status = 200, body = ScreenAnswer)),
    security(("bearer" = [])))]
async fn screen(
    State(state): S,
    who: Principal,
    body: Body<ScreenRequest>,
) -> Result<Json<ScreenAnswer<'static>>, ApiError> {
    use aidf_screen::{Party, PartyType, QueryError, ScoreParams, Thresholds};
    let r = body.value;
    let party_type = match r.party_type.as_deref() {
        None => None,
        Some("person") => Some(PartyType::Person),
        Some("organization") => Some(PartyType::Organization),
        Some(other) => {
            return Err(ApiError::unprocessable(
                Some("type".into()),
                format!("field `type`: `{other}` (expected person or organization)"),
            ));
        }
    };
    let defaults = if r.clear.is_some() && r.possible.is_some() {
        Thresholds::default()
    } else {
        crate::screening::tenant_thresholds(&state, &who.tenant).await?
    };
    let thresholds = Thresholds {
        clear: r.clear.unwrap_or(defaults.clear),
        possible: r.possible.unwrap_or(defaults.possible),
    };
    let party = Party {
        name: &r.name,
        country: r.country.as_deref(),
        party_type,
    };
    let lists = tokio::task::spawn_blocking(screening_lists)
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))??;
    let screening = lists
        .screen(&party, thresholds, &ScoreParams::default())
        .map_err(|e| {
            let field = match &e {
                QueryError::EmptyName { .. } | QueryError::NameTooLong { .. } => "name",
                QueryError::Country { .. } => "country",
                QueryError::Thresholds { .. } => "clear",
            };
            ApiError::unprocessable(Some(field.into()), e.to_string())
        })?;
    let decisions = if screening.hits.is_empty() {
        Vec::new()
    } else {
        let (tenant, name) = (who.tenant.clone(), r.name.clone());
        state
            .with_ledger(move |l| {
                aidf_service::screening::party_decisions(l.store(), &tenant, &name)
                    .map_err(ledger_error)
            })
            .await?
    };
    let marks = aidf_service::screening::hit_decisions(&screening.hits, &decisions);
    let hits = screening
        .hits
        .into_iter()
        .zip(marks)
        .map(|(hit, (entry_id, decision))| MarkedHit {
            hit,
            entry_id,
            decision,
        })
        .collect();
    Ok(Json(ScreenAnswer {
        verdict: screening.verdict,
        hits,
        list_versions: screening.list_versions.to_vec(),
        thresholds: screening.thresholds,
    }))
}

/// A hit of `POST /v1/screen`: the list's hit, its entry's id and the tenant's decision on it.
#[derive(Debug, Serialize, ToSchema)]
struct MarkedHit<'a> {
    #[serde(flatten)]
    hit: aidf_screen::Hit<'a>,
    /// The entry's id on its list (a decision on the hit names it as `LIST:ID`).
    entry_id: String,
    /// The tenant's current decision on this party and entry, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    decision: Option<aidf_service::screening::HitDecision>,
}

/// The answer of `POST /v1/screen`.
#[derive(Debug, Serialize, ToSchema)]
struct ScreenAnswer<'a> {
    /// The worst verdict over the hits.
    verdict: aidf_screen::Verdict,
    /// Hits, best first.
    hits: Vec<MarkedHit<'a>>,
    /// The list versions screened against.
    list_versions: Vec<aidf_screen::ListVersion>,
    /// The thresholds applied.
    thresholds: aidf_screen::Thresholds,
}
