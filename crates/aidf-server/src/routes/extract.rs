//! Request extractors and input checks: strict JSON bodies with their digest, the raw body,
//! `Query` and `Path` with problem+json rejections, record ids and dates.

use std::sync::Arc;

use aidf_ledger::Timestamp;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::ApiError;

/// A JSON body parsed strictly, with the field path of any error, plus its digest.
pub struct Body<T> {
    pub(super) value: T,
    pub(super) digest: String,
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
    pub(super) bytes: Bytes,
    pub(super) digest: String,
}

impl Raw {
    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The body read as a `U` (strictly, as `Body` reads it), for a handler that audits a body
    /// it could not read: the failure is the handler's answer, not the extractor's.
    pub fn parse<U: serde::de::DeserializeOwned>(&self) -> Result<U, ApiError> {
        parse_body(&self.bytes)
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
        let raw = Raw::from_request(req, state).await?;
        Ok(Body {
            value: raw.parse()?,
            digest: raw.digest,
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

/// `Path`, with its rejection as problem+json.
pub struct P<T>(pub T);

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

pub(super) fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
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

/// The date in query parameter `field`, or a 400 naming it.
pub(crate) fn date_param(field: &str, s: &str) -> Result<chrono::NaiveDate, ApiError> {
    s.parse().map_err(|_| {
        ApiError::bad_request(
            Some(field.into()),
            format!("parameter `{field}`: `{s}` is not a date (YYYY-MM-DD)"),
        )
    })
}

pub(super) fn end_of(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    let d = date_param(field, s)?;
    let t = d
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(i64::MAX);
    Ok(Timestamp(t))
}

pub(super) fn date_field(field: &str, s: &str) -> Result<String, ApiError> {
    s.parse::<chrono::NaiveDate>()
        .map(|d| d.to_string())
        .map_err(|_| {
            ApiError::unprocessable(
                Some(field.into()),
                format!("field `{field}`: `{s}` is not a date (YYYY-MM-DD)"),
            )
        })
}
