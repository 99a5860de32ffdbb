//! RFC 9457 `application/problem+json` errors. Every error names the offending field when there
//! is one; bad input is always 4xx.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The request field at fault (dotted path), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An API error, rendered as problem+json.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Problem type slug.
    pub kind: &'static str,
    /// Detail.
    pub detail: String,
    /// Field.
    pub field: Option<String>,
}

impl ApiError {
    /// A malformed request (syntax, wrong type).
    pub fn bad_request(field: Option<String>, detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad-request",
            detail: detail.into(),
            field,
        }
    }
    /// A well-formed request with values that cannot be used (unknown country, chip…).
    pub fn unprocessable(field: Option<String>, detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "invalid-input",
            detail: detail.into(),
            field,
        }
    }
    /// Missing or unknown token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            detail: detail.into(),
            field: None,
        }
    }
    /// The role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "forbidden",
            detail: detail.into(),
            field: None,
        }
    }
    /// Not found (or not visible to this tenant: the two are indistinguishable on purpose).
    pub fn not_found(field: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not-found",
            detail: detail.into(),
            field: Some(field.into()),
        }
    }
    /// A conflict with stored state (e.g. an id reused with different fields).
    pub fn conflict(field: Option<String>, detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            kind: "conflict",
            detail: detail.into(),
            field,
        }
    }
    /// Storage or other failure that is not the caller's fault.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            detail: detail.into(),
            field: None,
        }
    }
    /// Busy (contention that did not settle): retry.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "unavailable",
            detail: detail.into(),
            field: None,
        }
    }

    /// Builds from an error message that starts with "field `x`: …" (the core's convention).
    pub fn from_message(status: StatusCode, message: String) -> Self {
        let field = message
            .strip_prefix("field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(f, _)| f.to_string());
        ApiError {
            status,
            kind: if status == StatusCode::BAD_REQUEST {
                "bad-request"
            } else {
                "invalid-input"
            },
            detail: message,
            field,
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("https://aidf.dev/problems/{}", self.kind),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}
