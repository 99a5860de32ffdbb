//! `aidf serve`, `aidf token create|list|revoke`, `aidf audit verify`.

use std::net::SocketAddr;

use aidf_core::Policy;
use std::path::Path;

use aidf_ledger::audit::AuditContext;
use aidf_server::store::{Db, TokenInfo};
use aidf_server::{AppState, Role, new_token, token_hash};
use anyhow::{Context, Result, bail};

use crate::cmd::print;

/// Runs the HTTP server until Ctrl-C.
pub fn serve(
    policy: Policy,
    addr: &str,
    db: &str,
    insecure_local: bool,
    audit_key_file: Option<&Path>,
    ship: aidf_service::ShipConfig,
) -> Result<()> {
    let addr = resolve_addr(addr)?;
    // Structured logs to stderr; the level comes from RUST_LOG (default info). Tokens are never
    // logged: only token ids reach the logs and the audit chain.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for a file or a log collector.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let auditor = crate::ledger_cmd::auditor(db, audit_key_file)?;
    let mut state =
        AppState::new(policy, db, insecure_local, auditor).map_err(anyhow::Error::msg)?;
    state.ship_config = ship;
    if ship.screen {
        // Loaded and indexed before the first request (~0.7 s), not by it.
        aidf_service::screening::default_lists()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(aidf_server::serve(addr, state))
        .map_err(anyhow::Error::msg)
}

/// `--addr`: an address and port, or a host name and port (`localhost:8080`), resolved to its
/// first address.
fn resolve_addr(addr: &str) -> Result<SocketAddr> {
    let expected = || {
        format!(
            "option `--addr`: `{addr}` is not HOST:PORT (e.g. 127.0.0.1:8080 or localhost:8080)"
        )
    };
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(a);
    }
    std::net::ToSocketAddrs::to_socket_addrs(addr)
        .ok()
        .and_then(|mut found| found.next())
        .with_context(expected)
}

/// Creates a token for a tenant and role and prints it once; audited as `token.create` by
/// `local:<user>` in the same transaction.
pub fn token_create(db: &str, tenant: &str, role: &str, json: bool) -> Result<()> {
    let role = Role::parse(role).with_context(|| {
        format!("option `--role`: `{role}` is not viewer, exporter, officer, admin or global_admin")
    })?;
    let ok = (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !ok {
        bail!("option `--tenant`: `{tenant}` must be 1-64 characters of [A-Za-z0-9_-]");
    }
    // The ledger refuses to adopt a database that already holds other tables, so it goes first;
    // it chains the token's audit record when it is dropped, after the token is stored.
    let _ledger = crate::ledger_cmd::open(db)?;
    let store = Db::open(db).with_context(|| format!("option `--db`: cannot open `{db}`"))?;
    let now = chrono::Utc::now().timestamp_millis();
    store.ensure_tenant(tenant, tenant, now)?;
    let (id, token) = new_token().map_err(anyhow::Error::msg)?;
    let info = TokenInfo {
        id: id.clone(),
        tenant: tenant.to_string(),
        role: role.as_str().to_string(),
        created_at: now,
        revoked_at: None,
    };
    store.add_token(&info, &token_hash(&token), &AuditContext::local_user())?;
    if json {
        let mut v = serde_json::to_value(&info)?;
        v["token"] = serde_json::Value::String(token);
        return print(&(serde_json::to_string_pretty(&v)? + "\n"));
    }
    print(&token_created_text(&info, &token))
}

/// A new token as text: its id, tenant, role and creation time (ISO 8601 UTC), then the secret
/// on a line of its own with the warning that it is not shown again (only its hash is stored).
pub fn token_created_text(info: &TokenInfo, token: &str) -> String {
    let created = crate::ledger_view::time(aidf_ledger::Timestamp(info.created_at));
    format!(
        "token created\n\
         id       {}\n\
         tenant   {}\n\
         role     {}\n\
         created  {created}\n\
         \n\
         secret (shown once):\n\
         \n    {token}\n\n\
         Store it now: it will not be shown again (aidf keeps only its hash). \
         Lost, revoke it (aidf token revoke {}) and create another.\n",
        info.id, info.tenant, info.role, info.id
    )
}

/// Lists tokens (ids, tenants, roles, times; never the tokens).
pub fn token_list(db: &str, tenant: Option<&str>, json: bool) -> Result<()> {
    crate::ledger_cmd::must_exist(db)?;
    let _ledger = crate::ledger_cmd::open(db)?;
    let store = Db::open(db).with_context(|| format!("option `--db`: cannot open `{db}`"))?;
    let list = store.tokens(tenant)?;
    if json {
        return print(&(serde_json::to_string_pretty(&list)? + "\n"));
    }
    let time = |ms: i64| crate::ledger_view::time(aidf_ledger::Timestamp(ms));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.tenant.clone(),
                t.role.clone(),
                time(t.created_at),
                t.revoked_at.map_or_else(|| "-".into(), time),
            ]
        })
        .collect();
    let out = if rows.is_empty() {
        "no tokens\n".to_string()
    } else {
        crate::render::aligned_right(
            &["ID", "TENANT", "ROLE", "CREATED (UTC)", "REVOKED (UTC)"],
            &rows,
            &[],
        )
    };
    print(&out)
}

/// Revokes a token; audited as `token.revoke` by `local:<user>` in the same transaction.
pub fn token_revoke(db: &str, id: &str) -> Result<()> {
    let _ledger = crate::ledger_cmd::open(db)?;
    let store = Db::open(db).with_context(|| format!("option `--db`: cannot open `{db}`"))?;
    let now = chrono::Utc::now().timestamp_millis();
    if !store.revoke_token(id, None, &AuditContext::local_user(), now)? {
        bail!("argument `ID`: no live token `{id}`");
    }
    eprintln!(
        "token {id} revoked; running servers refuse it within {} s",
        aidf_server::auth::TOKEN_TTL.as_secs()
    );
    Ok(())
}

/// Verifies the audit chain, its checkpoints and the anchor; exits 2 when something is wrong.
pub fn audit_verify(db: &str, audit_key_file: Option<&Path>, json: bool) -> Result<()> {
    crate::ledger_cmd::must_exist(db)?;
    let mut ledger = crate::ledger_cmd::open_with_key(db, audit_key_file)?;
    ledger.chain()?;
    let auditor = ledger.auditor().clone();
    let v = auditor.verify(&mut *ledger)?;
    if json {
        print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    } else {
        print(&verification_text(&v))?;
    }
    if !v.ok {
        bail!(
            "audit chain broken at record {}: {}",
            v.first_bad_seq.unwrap_or(0),
            v.problem.unwrap_or_default()
        );
    }
    Ok(())
}

/// `aidf audit verify` for a person.
fn verification_text(v: &aidf_ledger::audit::Verification) -> String {
    let mut out = format!(
        "audit chain {}: {} records ({} before MACs), {} signed checkpoints, ",
        if v.ok { "ok" } else { "BROKEN" },
        aidf_core::explain::thousands(v.records.max(0).unsigned_abs().into()),
        v.legacy_records,
        v.checkpoints
    );
    match v.anchored_records {
        Some(n) => out.push_str(&format!("anchor vouches for {n} records\n")),
        None => out.push_str("no anchor file\n"),
    }
    if let Some(p) = &v.problem {
        out.push_str(&format!(
            "first bad record: {}: {p}\n",
            v.first_bad_seq
                .map_or_else(|| "-".into(), |s| s.to_string())
        ));
    }
    out
}
