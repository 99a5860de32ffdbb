//! The audit trail of the API: audited handlers, the audit context of ledger writes, the
//! middleware that audits refusals, and `GET /v1/audit`, `POST /v1/audit/verify`.

use std::sync::Arc;

use aidf_ledger::LedgerStore;
use aidf_ledger::audit::{AuditContext, AuditEvent, NewAudit};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::S;
use super::extract::Q;
use super::ledger_error;
use crate::AppState;
use crate::auth::{Principal, Role};
use crate::problem::ApiError;

pub(super) fn now_ms() -> i64 {
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
pub(super) async fn audited<T>(
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct Limit {
    /// Most records (default 100, at most 1000).
    limit: Option<i64>,
}

/// The tenant's audit records, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(Limit), responses((status = 200, body = [aidf_ledger::audit::AuditRecord])), security(("bearer" = [])))]
pub(super) async fn audit(
    State(state): S,
    who: Principal,
    Q(q): Q<Limit>,
) -> Result<Json<Value>, ApiError> {
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
pub(super) async fn verify(State(state): S, who: Principal) -> Result<Json<Value>, ApiError> {
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
