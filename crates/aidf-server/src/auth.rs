//! Bearer tokens, tenants and roles.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::ApiError;

/// What a token may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads its tenant's data.
    Viewer,
    /// Also checks and ships for its tenant.
    Exporter,
    /// Also manages its tenant's licenses and VEU records.
    Officer,
    /// Also manages its tenant's tokens and verifies the audit chain.
    Admin,
    /// Also manages tenants, every tenant's tokens and global data (government-to-government
    /// arrangements).
    GlobalAdmin,
}

impl Role {
    /// Parses `viewer|exporter|officer|admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "exporter" => Some(Role::Exporter),
            "officer" => Some(Role::Officer),
            "admin" => Some(Role::Admin),
            "global_admin" => Some(Role::GlobalAdmin),
            _ => None,
        }
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Exporter => "exporter",
            Role::Officer => "officer",
            Role::Admin => "admin",
            Role::GlobalAdmin => "global_admin",
        }
    }
}

/// The caller, from its token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: Role,
    /// Token id (safe to log and audit; never the token).
    pub actor: String,
}

impl Principal {
    /// Fails unless the role is at least `min`.
    pub fn require(&self, min: Role, action: &str) -> Result<(), ApiError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role `{}` may not {action} (needs `{}`)",
                self.role.as_str(),
                min.as_str()
            )))
        }
    }
}

/// `sha256:` of a token, the only form stored.
pub fn token_hash(token: &str) -> String {
    aidf_ledger::audit::sha256_text(&Sha256::digest(token.as_bytes()))
}

/// Makes a new random token and its id.
pub fn new_token() -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let hex = aidf_ledger::audit::hex(&bytes);
    let id = format!("tok_{}", &hex[..12]);
    Ok((id, format!("aidf_{hex}")))
}

/// How long a token lookup is trusted before the database is asked again: a token revoked in
/// any process stops working in every process within this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(5);

/// Tokens seen lately, by hash, so most requests do not hit the database to authenticate.
#[derive(Debug, Default)]
pub struct TokenCache(RwLock<HashMap<String, (Principal, Instant)>>);

impl TokenCache {
    /// The principal of a token looked up less than [`TOKEN_TTL`] ago.
    pub(crate) fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.0.read().ok()?;
        let (p, at) = map.get(hash)?;
        (at.elapsed() < TOKEN_TTL).then(|| p.clone())
    }
    fn put(&self, hash: String, p: Principal) {
        if let Ok(mut m) = self.0.write() {
            // Bounded: expired entries go when the map grows large.
            if m.len() >= 10_000 {
                m.retain(|_, (_, at)| at.elapsed() < TOKEN_TTL);
            }
            m.insert(hash, (p, Instant::now()));
        }
    }
    /// Forgets a token at once in this process (other processes within [`TOKEN_TTL`]).
    pub(crate) fn forget(&self, token_id: &str) {
        if let Ok(mut m) = self.0.write() {
            m.retain(|_, (p, _)| p.actor != token_id);
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if state.insecure_local {
            return Ok(Principal {
                tenant: "local".into(),
                role: Role::GlobalAdmin,
                actor: "local".into(),
            });
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing `Authorization: Bearer <token>` header")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| {
                ApiError::unauthorized("the `Authorization` header must be `Bearer <token>`")
            })?
            .trim();
        let hash = token_hash(token);
        if let Some(p) = state.tokens.get(&hash) {
            return Ok(p);
        }
        let db = state.db.clone();
        let h = hash.clone();
        let found = tokio::task::spawn_blocking(move || db.token_by_hash(&h))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let (actor, tenant, role) = found.ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        let role = Role::parse(&role)
            .ok_or_else(|| ApiError::internal(format!("stored role `{role}` is unknown")))?;
        let p = Principal {
            tenant,
            role,
            actor,
        };
        state.tokens.put(hash, p.clone());
        Ok(p)
    }
}
