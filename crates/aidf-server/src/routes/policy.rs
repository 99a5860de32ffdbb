//! Policy queries: countries with their groups and tier, the chip catalog, the regimes.

use aidf_core::Posture;
use aidf_service::countries::{CountriesQuery, CountriesReport};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::S;
use super::extract::Q;
use crate::auth::Principal;
use crate::problem::ApiError;

/// A catalog chip as `GET /v1/chips` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChipLine {
    /// Catalog id.
    id: String,
    /// Display name.
    name: String,
    vendor: String,
    /// TPP per unit, whole; null when no dense rate is published.
    tpp: Option<u64>,
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
pub(super) struct RegimesReport {
    regimes: Vec<RegimeLine>,
    timeline: aidf_core::policy::Timeline,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct CountriesParams {
    /// Date (default today in UTC).
    date: Option<String>,
    /// `as_written` (default) or `as_enforced`.
    posture: Option<String>,
    /// Pin a regime id (default: the one in force on the date under the posture).
    regime: Option<String>,
}

/// Countries with their groups and tier on a date.
#[utoipa::path(get, path = "/v1/countries", tag = "policy", params(CountriesParams),
    responses((status = 200, body = CountriesReport)), security(("bearer" = [])))]
pub(super) async fn countries(
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
pub(super) async fn chips(State(state): S, _who: Principal) -> Json<Vec<ChipLine>> {
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

/// Regimes and the timeline.
#[utoipa::path(get, path = "/v1/regimes", tag = "policy", responses((status = 200, body = RegimesReport)), security(("bearer" = [])))]
pub(super) async fn regimes(State(state): S, _who: Principal) -> Json<RegimesReport> {
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
