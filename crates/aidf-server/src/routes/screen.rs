//! Screening a party against the restricted-party lists (`POST /v1/screen`, issue 14).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::S;
use super::extract::Body;
use super::ledger_error;
use crate::auth::Principal;
use crate::problem::ApiError;

/// A party to screen against the restricted-party lists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScreenRequest {
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
pub(super) async fn screen(
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
pub(super) struct ScreenAnswer<'a> {
    /// The worst verdict over the hits.
    verdict: aidf_screen::Verdict,
    /// Hits, best first.
    hits: Vec<MarkedHit<'a>>,
    /// The list versions screened against.
    list_versions: Vec<aidf_screen::ListVersion>,
    /// The thresholds applied.
    thresholds: aidf_screen::Thresholds,
}
