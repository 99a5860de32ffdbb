//! aidf-server: the HTTP API (`aidf serve`).
//!
//! axum over the same use cases as the CLI. JSON under `/v1`, OpenAPI generated from the handlers
//! (utoipa) at `/openapi.json`, RFC 9457 problem+json errors naming the field at fault, bearer
//! tokens (stored hashed) with tenants and roles, a hash-chained audit record for every
//! determination, shipment and change (including refusals and errors), Prometheus metrics.
//! Ledger work runs on the blocking pool; the embedded SQLite file is the default and a PostgreSQL
//! URL lets several instances share one ledger and one audit chain. `/` serves the web dashboard
//! from assets embedded in the binary (`web.rs`).

mod applications;
pub mod audit;
pub mod auth;
mod metrics;
pub mod problem;
mod reports;
mod reports_due;
mod routes;
mod screening;
mod shipper;
pub mod store;
mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aidf_core::Policy;
use aidf_ledger::audit::{AuditContext, Auditor};
use aidf_ledger::{Ledger, LedgerStore};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

pub use auth::{Role, new_token, token_hash};

/// Shared state of one server process.
#[derive(Debug)]
pub struct AppState {
    /// The loaded policy.
    pub policy: Arc<Policy>,
    /// Ledger location.
    pub db_url: String,
    /// The server's tables (tokens, tenants, ownership).
    pub db: Arc<store::Db>,
    /// The audit writer.
    pub audit: audit::AuditLog,
    /// The audit key and anchor.
    pub auditor: Arc<Auditor>,
    /// Audit verifications running at once (each streams the chain on its own connection).
    verifying: tokio::sync::Semaphore,
    /// Authentication is off (loopback only, by explicit flag).
    pub insecure_local: bool,
    /// Token lookups already made.
    pub tokens: auth::TokenCache,
    /// Tenants' screening thresholds read lately.
    screening_thresholds: screening::ThresholdsCache,
    /// Idle ledger connections.
    ledgers: Mutex<Vec<Ledger>>,
    /// Request counters.
    metrics: metrics::Metrics,
    /// How shipments are determined: the ledger's posture (`aidf serve --posture`) and dates.
    pub ship_config: aidf_service::ShipConfig,
    /// A request still running after this is answered 503 (its ledger work, if any, goes on).
    pub request_timeout: Duration,
    /// Shipments that may run their ledger work at once: one on SQLite, whose writers are
    /// serialized by the database anyway (queueing here costs nothing; contending for the file
    /// lock costs sleeps and wake-ups), four per core on PostgreSQL
    /// ([`postgres_shipment_writers`]).
    writers: tokio::sync::Semaphore,
    /// On SQLite, the one writer that records shipments in groups (see `shipper`).
    shipper: Option<shipper::Shipper>,
}

impl AppState {
    /// Opens the databases and starts the audit writer, with the audit key of `auditor`.
    pub fn new(
        policy: Policy,
        db_url: &str,
        insecure_local: bool,
        auditor: Auditor,
    ) -> Result<AppState, String> {
        // Open the ledger once up front so a bad `--db` fails at start-up, not on first use.
        let mut ledger = Ledger::open(db_url).map_err(|e| format!("option `--db`: {e}"))?;
        // Consignee accounts recorded before tenants and party ids move to today's keys first,
        // so no consignee's year-to-date is forgotten.
        let rekeyed = aidf_service::upgrade::rekey_legacy_accounts(
            ledger.store(),
            &policy,
            aidf_ledger::Timestamp::now_utc(),
        )
        .map_err(|e| format!("option `--db`: upgrading account keys: {e}"))?;
        if !rekeyed.moved.is_empty() || !rekeyed.left.is_empty() {
            tracing::info!(
                moved = rekeyed.moved.len(),
                left = rekeyed.left.len(),
                "consignee accounts moved to tenant and party keys"
            );
        }
        let ledger_kind = match &ledger {
            Ledger::Sqlite(_) => LedgerKind::Sqlite,
            Ledger::Postgres(_) => LedgerKind::Postgres,
        };
        let auditor = Arc::new(auditor);
        let audit = audit::AuditLog::start(db_url, auditor.clone())?;
        let shipper = match &ledger_kind {
            LedgerKind::Sqlite => {
                let open = || Ledger::open(db_url).map_err(|e| format!("option `--db`: {e}"));
                Some(shipper::Shipper::start(
                    open()?,
                    open()?,
                    audit.clone(),
                    auditor.clone(),
                )?)
            }
            LedgerKind::Postgres => None,
        };
        let db = Arc::new(store::Db::open(db_url).map_err(|e| format!("option `--db`: {e}"))?);
        Ok(AppState {
            policy: Arc::new(policy),
            db_url: db_url.to_string(),
            db,
            audit,
            auditor,
            verifying: tokio::sync::Semaphore::new(MAX_VERIFICATIONS),
            insecure_local,
            tokens: auth::TokenCache::default(),
            screening_thresholds: screening::ThresholdsCache::default(),
            ledgers: Mutex::new(vec![ledger]),
            metrics: metrics::Metrics::default(),
            ship_config: aidf_service::ShipConfig::default(),
            request_timeout: REQUEST_TIMEOUT,
            writers: tokio::sync::Semaphore::new(if matches!(ledger_kind, LedgerKind::Sqlite) {
                1
            } else {
                postgres_shipment_writers()
            }),
            shipper,
        })
    }

    /// [`AppState::with_ledger_as`] for a shipment: waits for a writer's turn first.
    pub async fn with_ledger_writer<T, F>(
        self: &Arc<Self>,
        ctx: AuditContext,
        f: F,
    ) -> Result<T, problem::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, problem::ApiError> + Send + 'static,
    {
        let _turn = self
            .writers
            .acquire()
            .await
            .map_err(|e| problem::ApiError::internal(format!("writers: {e}")))?;
        self.with_ledger_as(ctx, f).await
    }

    /// The group-commit shipment writer (SQLite only).
    pub(crate) fn shipper(&self) -> Option<&shipper::Shipper> {
        self.shipper.as_ref()
    }

    /// Runs `f` with a ledger connection on the blocking pool; writes through it are audited
    /// as the server's own (actor `server`).
    pub async fn with_ledger<T, F>(self: &Arc<Self>, f: F) -> Result<T, problem::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, problem::ApiError> + Send + 'static,
    {
        let server = AuditContext {
            tenant: "server".into(),
            actor: "server".into(),
        };
        self.pooled(server, f).await
    }

    /// Runs `f` with a ledger connection whose writes are audited with `ctx` (the caller's
    /// tenant and token id), then wakes the audit writer to chain them.
    pub async fn with_ledger_as<T, F>(
        self: &Arc<Self>,
        ctx: AuditContext,
        f: F,
    ) -> Result<T, problem::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, problem::ApiError> + Send + 'static,
    {
        let out = self.pooled(ctx, f).await;
        self.audit.poke();
        out
    }

    async fn pooled<T, F>(self: &Arc<Self>, ctx: AuditContext, f: F) -> Result<T, problem::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, problem::ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = state
                .ledgers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let mut ledger = match pooled {
                Some(l) => l,
                None => Ledger::open(&state.db_url)
                    .map_err(|e| problem::ApiError::internal(format!("ledger: {e}")))?,
            };
            ledger.set_audit_context(ctx);
            let out = f(&mut ledger);
            let mut idle = state.ledgers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_LEDGERS {
                idle.push(ledger);
            }
            out
        })
        .await
        .map_err(|e| problem::ApiError::internal(format!("worker: {e}")))?
    }
}

/// How long a request may run before it is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Ledger connections kept open between requests (a miss opens one, which checks the schema).
const IDLE_LEDGERS: usize = 64;

/// Shipments one server process runs at once on PostgreSQL: four per core, the rest wait their
/// turn in order. With one per pooled connection (64) on 2 cores, two processes ran up to 128
/// shipment transactions at once, waiting on each other's account locks and on the CPU: p99
/// 1.27-1.41 s at 763-775 req/s. Eight each: p99 158-282 ms (once 945 ms in seven runs) at
/// 772-814 req/s (2026-12-01, `AIDF_BENCH_PG=1 scripts/bench-server.sh`, docs/benchmarks.md).
fn postgres_shipment_writers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    cores.saturating_mul(4).clamp(4, IDLE_LEDGERS)
}

/// Which backend the ledger is.
enum LedgerKind {
    Sqlite,
    Postgres,
}

/// Audit verifications that may run at once; more wait their turn.
const MAX_VERIFICATIONS: usize = 2;

/// The router with every route, the OpenAPI document and the middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let (api, openapi) = routes::api();
    let openapi = Arc::new(openapi);
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = openapi.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .merge(web::routes())
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        routes::audit_refusals,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        metrics::track,
    ))
    .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
    // Request spans (method, path, status, latency). Headers, and so tokens, are not recorded.
    .layer(tower_http::trace::TraceLayer::new_for_http())
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        routes::deadline,
    ))
    .layer(CatchPanicLayer::custom(
        |_panic: Box<dyn std::any::Any + Send>| {
            axum::response::IntoResponse::into_response(problem::ApiError::internal(
                "the request failed unexpectedly; nothing was recorded for it",
            ))
        },
    ))
    .with_state(state)
}

/// Serves until Ctrl-C. Refuses `insecure_local` on a non-loopback address.
pub async fn serve(addr: SocketAddr, state: AppState) -> Result<(), String> {
    if state.insecure_local && !addr.ip().is_loopback() {
        return Err(format!(
            "option `--insecure-local`: only allowed on a loopback address, not `{}`",
            addr.ip()
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("option `--addr`: cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("option `--addr`: {e}"))?;
    tracing::info!(%local, insecure_local = state.insecure_local, "aidf serving");
    // The test harness and scripts read this line to learn the port.
    println!("listening on http://{local}");
    let app = router(Arc::new(state));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server: {e}"))
}
