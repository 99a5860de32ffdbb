//! Reports to BIS over HTTP (issue 15, item 7): `GET /v1/reports/{name}?period=&as_of=&format=`.
//! The reports are `aidf_service::reports`, for the caller's tenant; JSON or CSV.

use std::sync::Arc;

use aidf_service::reports::{self, ReportError, ReportName, ReportRequest};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::routes::{P, Q, ledger_error};

/// The query of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ReportQuery {
    /// `YYYY` (LPP) or `YYYY-H1`/`YYYY-H2` (VEU).
    period: Option<String>,
    /// The AIA report counts shipments dated up to this date (YYYY-MM-DD; default today, UTC).
    as_of: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn bad(field: &str, detail: String) -> ApiError {
    ApiError::bad_request(Some(field.into()), detail)
}

/// A report to BIS from the ledger, for the caller's tenant: `veu-semiannual`,
/// `aia-certifications` or `lpp-certifications`, with its period, due date, citation, regime and
/// unconfirmed readings.
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "ledger", params(
        ("name" = String, Path, description = "veu-semiannual, aia-certifications or lpp-certifications"),
        ReportQuery),
    responses((status = 200, description = "The report (JSON), or its table (CSV)",
        content((Object = "application/json"), (String = "text/csv")))),
    security(("bearer" = [])))]
pub(crate) async fn report(
    State(state): State<Arc<AppState>>,
    who: Principal,
    P(name): P<String>,
    Q(q): Q<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = ReportName::parse(&name).ok_or_else(|| {
        let names: Vec<&str> = ReportName::ALL.iter().map(|(n, _)| *n).collect();
        ApiError::not_found(
            "name",
            format!("no report `{name}`; reports: {}", names.join(", ")),
        )
    })?;
    let as_of = match q.as_of.as_deref() {
        None => None,
        Some(d) => Some(d.parse::<NaiveDate>().map_err(|_| {
            bad(
                "as_of",
                format!("parameter `as_of`: `{d}` is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(bad(
                "format",
                format!("parameter `format`: `{f}` is not json or csv"),
            ));
        }
    };
    let (policy, posture, tenant) = (
        state.policy.clone(),
        state.ship_config.posture,
        who.tenant.clone(),
    );
    let out = state
        .with_ledger(move |l| {
            let req = ReportRequest {
                name: report,
                period: q.period.as_deref(),
                as_of,
                posture,
                today: chrono::Utc::now().date_naive(),
            };
            reports::build(l.store(), &policy, &tenant, &req).map_err(|e| match e {
                ReportError::Input { field, message } => {
                    bad(field, format!("parameter `{field}`: {message}"))
                }
                ReportError::Ledger(e) => ledger_error(e),
                other => ApiError::internal(other.to_string()),
            })
        })
        .await?;
    if csv {
        let body = to_csv(&out).map_err(|e| ApiError::internal(format!("writing CSV: {e}")))?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(axum::Json(out).into_response())
}

fn to_csv(r: &reports::Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&r.columns)?;
    for row in &r.rows {
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
