//! Administration: the caller (`whoami`), tenants and API tokens.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::S;
use super::audit::{audited, ctx, now_ms};
use super::extract::{P, Raw, check_id};
use crate::auth::{Principal, Role};
use crate::problem::ApiError;
use crate::store::TokenInfo;

/// The caller, as `GET /v1/whoami` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Whoami {
    tenant: String,
    /// `viewer`, `exporter`, `officer`, `admin` or `global_admin`.
    role: &'static str,
    /// Token id (never the token), or `local:<user>`.
    actor: String,
    /// The server runs without tokens on a local address.
    insecure_local: bool,
}

/// A tenant just created (`POST /v1/tenants`).
#[derive(Debug, Serialize, ToSchema)]
struct TenantCreated {
    id: String,
    name: String,
}

/// A token just revoked (`POST /v1/tokens/{id}/revoke`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Revoked {
    id: String,
    /// Always true.
    revoked: bool,
}

/// A tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TenantRequest {
    id: String,
    name: String,
}

/// The caller: tenant, role and token id (what the dashboard may offer).
#[utoipa::path(get, path = "/v1/whoami", tag = "admin", responses((status = 200, body = Whoami)), security(("bearer" = [])))]
pub(super) async fn whoami(State(state): S, who: Principal) -> Json<Whoami> {
    Json(Whoami {
        tenant: who.tenant,
        role: who.role.as_str(),
        actor: who.actor,
        insecure_local: state.insecure_local,
    })
}

/// Tenants (admin).
#[utoipa::path(get, path = "/v1/tenants", tag = "admin", responses((status = 200, body = [String])), security(("bearer" = [])))]
pub(super) async fn tenants(
    State(state): S,
    who: Principal,
) -> Result<Json<Vec<String>>, ApiError> {
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
pub(super) async fn add_tenant(
    State(state): S,
    who: Principal,
    body: Raw,
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
pub(super) async fn tokens(
    State(state): S,
    who: Principal,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
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
pub(super) async fn revoke_token(
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
