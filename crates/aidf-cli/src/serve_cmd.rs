//! `aidf serve`, `aidf token create`, `aidf audit verify`.

use std::net::SocketAddr;

use aidf_core::Policy;
use aidf_server::{AppState, Role, new_token, store::Db, token_hash};
use anyhow::{Context, Result, bail};

use crate::cmd::print;

/// Runs the HTTP server until Ctrl-C.
pub fn serve(
    policy: Policy,
    addr: &str,
    db: &str,
    insecure_local: bool,
    ship: aidf_service::ShipConfig,
) -> Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("option `--addr`: `{addr}` is not HOST:PORT"))?;
    // Structured logs to stderr; the level comes from RUST_LOG (default info). Tokens are never
    // logged: only token ids reach the logs and the audit chain.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let mut state = AppState::new(policy, db, insecure_local).map_err(anyhow::Error::msg)?;
    state.ship_config = ship;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(aidf_server::serve(addr, state))
        .map_err(anyhow::Error::msg)
}

/// Creates a token for a tenant and role and prints it once.
pub fn token_create(db: &str, tenant: &str, role: &str) -> Result<()> {
    let role = Role::parse(role).with_context(|| {
        format!("option `--role`: `{role}` is not viewer, exporter, officer or admin")
    })?;
    let ok = (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !ok {
        bail!("option `--tenant`: `{tenant}` must be 1-64 characters of [A-Za-z0-9_-]");
    }
    // The ledger refuses to adopt a database that already holds other tables, so it goes first.
    aidf_ledger::Ledger::open(db)
        .with_context(|| format!("option `--db`: cannot open ledger `{db}`"))?;
    let store = Db::open(db).with_context(|| format!("option `--db`: cannot open `{db}`"))?;
    let now = chrono::Utc::now().timestamp_millis();
    store.ensure_tenant(tenant, tenant, now)?;
    let (id, token) = new_token().map_err(anyhow::Error::msg)?;
    store.add_token(&id, &token_hash(&token), tenant, role.as_str(), now)?;
    eprintln!(
        "token {id} for tenant `{tenant}` with role `{}`; it is shown once:",
        role.as_str()
    );
    print(&format!("{token}\n"))
}

/// Verifies the audit chain; exits non-zero (2) when a record is bad.
pub fn audit_verify(db: &str) -> Result<()> {
    let store = Db::open(db).with_context(|| format!("option `--db`: cannot open `{db}`"))?;
    let v = store.verify()?;
    print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    if !v.ok {
        bail!(
            "audit chain broken at record {}: {}",
            v.first_bad_seq.unwrap_or(0),
            v.problem.unwrap_or_default()
        );
    }
    Ok(())
}
