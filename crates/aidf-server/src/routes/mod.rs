//! Handlers, one file per concern, each annotated for the generated OpenAPI document; here the
//! router with that document, the request deadline and the tenant namespace of record ids.

use std::sync::Arc;

use aidf_ledger::LedgerError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::problem::{ApiError, Problem};

mod accounts;
mod admin;
mod audit;
mod determine;
mod extract;
mod ops;
mod policy;
mod records;
mod screen;
mod shipments;

pub(crate) use audit::{audit_refusals, audited_write, ctx};
pub(crate) use extract::{Body, P, Q, Raw, date_param};
pub(crate) use shipments::{RecordQuery, record_format};

type S = State<Arc<AppState>>;

/// Middleware: a request still running after the server's timeout is answered 503 problem+json.
/// Dropping the handler does not undo what it handed on: a shipment already queued for the
/// writer is recorded all the same, and a retry with its Idempotency-Key returns that record.
pub(crate) async fn deadline(
    State(state): S,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable(format!(
            "the request took longer than {} ms; a shipment may still be recorded: retry with the same Idempotency-Key to get its answer",
            limit.as_millis()
        ))
        .into_response(),
    }
}

pub(crate) fn ledger_error(e: LedgerError) -> ApiError {
    if e.is_storage() {
        ApiError::internal(format!("ledger: {e}"))
    } else {
        ApiError::from_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    }
}

fn scoped(tenant: &str, id: &str) -> String {
    format!("{tenant}.{id}")
}

fn strip(tenant: &str, id: &str) -> String {
    id.strip_prefix(&format!("{tenant}."))
        .unwrap_or(id)
        .to_string()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "aidf",
        description = "Export-control determinations and TPP accounting under the AI Diffusion framework and the advanced-computing rules"
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every secured operation can fail the same ways; say so once, as problem+json.
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let errors = [
            (
                "400",
                "Malformed request: syntax, wrong type, unknown field",
            ),
            ("401", "Missing or unknown bearer token"),
            ("403", "The token's role may not do this"),
            ("404", "Not found, or not visible to this tenant"),
            (
                "409",
                "Conflicts with stored state (e.g. an Idempotency-Key reused with another body)",
            ),
            ("413", "Request body larger than 1 MiB"),
            (
                "422",
                "Well-formed but unusable input (unknown country, chip, regime…)",
            ),
            ("503", "Busy or timed out; retry"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                if op.security.is_none() {
                    continue;
                }
                for (code, description) in errors {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// Every route, with the OpenAPI document generated from the handlers.
pub fn api() -> (axum::Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::metrics_text))
        .routes(routes!(determine::classify))
        .routes(routes!(screen::screen))
        .routes(routes!(determine::determinations))
        .routes(routes!(shipments::shipments, shipments::list_shipments))
        .routes(routes!(shipments::show_shipment))
        .routes(routes!(shipments::shipment_record))
        .routes(routes!(accounts::accounts))
        .routes(routes!(accounts::account))
        .routes(routes!(accounts::history))
        .routes(routes!(records::licenses, records::add_license))
        .routes(routes!(records::license))
        .routes(routes!(crate::applications::change_license))
        .routes(routes!(
            crate::applications::submit,
            crate::applications::list
        ))
        .routes(routes!(crate::applications::stats))
        .routes(routes!(crate::reports_due::due))
        .routes(routes!(crate::reports::report))
        .routes(routes!(crate::applications::show))
        .routes(routes!(crate::applications::record))
        .routes(routes!(crate::applications::decide))
        .routes(routes!(records::veus, records::add_veu))
        .routes(routes!(records::g2g, records::add_g2g))
        .routes(routes!(policy::countries))
        .routes(routes!(policy::regimes))
        .routes(routes!(policy::chips))
        .routes(routes!(admin::whoami))
        .routes(routes!(audit::audit))
        .routes(routes!(audit::verify))
        .routes(routes!(
            crate::screening::decide,
            crate::screening::decisions
        ))
        .routes(routes!(
            crate::screening::thresholds,
            crate::screening::set_thresholds
        ))
        .routes(routes!(admin::tenants, admin::add_tenant))
        .routes(routes!(admin::tokens))
        .routes(routes!(admin::revoke_token))
        .split_for_parts();
    // After the routes are in: the modifier walks their operations.
    Security.modify(&mut openapi);
    (router, openapi)
}
