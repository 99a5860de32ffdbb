//! `GET /v1/reports/due?as_of=` (issue 15): which reports to BIS are due for the caller's tenant,
//! from `aidf_service::reports_due`. Declared before `/v1/reports/{name}`; axum's router prefers
//! the static segment anyway, so `due` is never taken for a report name.

use std::sync::Arc;

use aidf_service::reports::ReportError;
use aidf_service::reports_due::{self, DueReport};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::AppState;
use crate::applications::OwnedActor;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::routes::{Q, date_param, ledger_error};

/// The query of `GET /v1/reports/due`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct DueQuery {
    /// Due as of this date (YYYY-MM-DD; default today, UTC).
    as_of: Option<String>,
}

/// The reports due for the caller's tenant as of a date, earliest first: the VEU semi-annual
/// report of the half that ended last and of the current half (when a VEU is recorded or the
/// tenant shipped under one), and the AIA certifications of consignees past the trigger. Each
/// with its period, due date, status (`overdue`, `due-within-30-days`, `upcoming`) and reason.
#[utoipa::path(get, path = "/v1/reports/due", tag = "ledger", params(DueQuery),
    responses((status = 200, description = "The reports due", body = [DueReport])),
    security(("bearer" = [])))]
pub(crate) async fn due(
    State(state): State<Arc<AppState>>,
    who: Principal,
    Q(q): Q<DueQuery>,
) -> Result<Json<Vec<DueReport>>, ApiError> {
    let as_of = match q.as_of.as_deref() {
        None => chrono::Utc::now().date_naive(),
        Some(d) => date_param("as_of", d)?,
    };
    let (policy, owned) = (state.policy.clone(), OwnedActor::of(&state, &who));
    let out = state
        .with_ledger(move |l| {
            let who = owned.actor();
            reports_due::due(l.store(), &policy, &who, as_of).map_err(|e| match e {
                ReportError::Input { field, message } => ApiError::bad_request(
                    Some("as_of".into()),
                    format!("parameter `as_of`: {field}: {message}"),
                ),
                ReportError::Ledger(e) => ledger_error(e),
                other => ApiError::internal(other.to_string()),
            })
        })
        .await?;
    Ok(Json(out))
}
