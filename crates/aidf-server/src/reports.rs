//! Reports to BIS over HTTP (issue 15, item 7): `GET /v1/reports/{name}?period=&as_of=&format=`.
//! The reports are `aidf_service::reports`, for the caller's tenant; JSON, CSV or PDF (the
//! compliance record's layout, `aidf_record::report_pdf`).

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
    /// The AIA report counts shipments dated up to this date; the NAC notification is sent on it
    /// (YYYY-MM-DD; default today, UTC).
    as_of: Option<String>,
    /// The NAC notification's shipment: an id as `POST /v1/shipments` answered it.
    shipment: Option<String>,
    /// `json` (default), `csv` or `pdf`.
    format: Option<String>,
}

fn bad(field: &str, detail: String) -> ApiError {
    ApiError::bad_request(Some(field.into()), detail)
}

/// A report to BIS from the ledger, for the caller's tenant: `veu-semiannual`,
/// `aia-certifications`, `lpp-certifications` or `nac-notification` (the content of a License
/// Exception NAC notification for one of the tenant's recorded shipments, `shipment=ID`), with
/// its period, due date, citation, regime and unconfirmed readings.
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "ledger", params(
        ("name" = String, Path, description = "veu-semiannual, aia-certifications, lpp-certifications or nac-notification"),
        ReportQuery),
    responses((status = 200, description = "The report (JSON), its table (CSV) or the report as a PDF",
        content((aidf_service::reports::Report = "application/json"), (String = "text/csv"), (Vec<u8> = "application/pdf"))),
        (status = 400, description = "A parameter is malformed (problem+json naming it)"),
        (status = 404, description = "No such report (problem+json)")),
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
    let format = match q.format.as_deref() {
        None | Some("json") => Out::Json,
        Some("csv") => Out::Csv,
        Some("pdf") => Out::Pdf,
        Some(f) => {
            return Err(bad(
                "format",
                format!("parameter `format`: `{f}` is not json, csv or pdf"),
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
                shipment: q.shipment.as_deref(),
                input: None,
                posture,
                today: chrono::Utc::now().date_naive(),
            };
            reports::build(l.store(), &policy, &tenant, &req).map_err(|e| match e {
                ReportError::Input { field, message } => {
                    bad(field, format!("parameter `{field}`: {message}"))
                }
                ReportError::ShipmentNotFound(id) => ApiError::not_found(
                    "shipment",
                    format!("parameter `shipment`: shipment `{id}` not found"),
                ),
                ReportError::Ledger(e) => ledger_error(e),
                other => ApiError::internal(other.to_string()),
            })
        })
        .await?;
    match format {
        Out::Json => Ok(axum::Json(out).into_response()),
        Out::Csv => {
            let body = to_csv(&out).map_err(|e| ApiError::internal(format!("writing CSV: {e}")))?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
        }
        Out::Pdf => {
            let body = aidf_record::report_pdf(&out)
                .map_err(|e| ApiError::internal(format!("writing PDF: {e}")))?;
            Ok(([(header::CONTENT_TYPE, "application/pdf")], body).into_response())
        }
    }
}

/// The renderings a report is served in.
enum Out {
    Json,
    Csv,
    Pdf,
}

fn to_csv(r: &reports::Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&r.columns)?;
    for row in &r.rows {
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
