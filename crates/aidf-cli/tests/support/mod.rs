//! Shared by the CLI's integration tests: a fresh PostgreSQL schema, a server's bearer token.
#![allow(dead_code)]

use std::io::Write;

/// A fresh schema `<prefix>_<pid>` on the test PostgreSQL (`AIDF_TEST_PG_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`): an admin client, the schema's name, and the URL
/// that selects it. `None` when the server is unreachable and not required, after a note on
/// stderr (the test then returns); in CI (`CI` set) or with `AIDF_REQUIRE_PG`, an unreachable
/// server fails the test.
pub fn pg_schema(prefix: &str) -> Option<(postgres::Client, String, String)> {
    let base = std::env::var("AIDF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("{prefix}_{}", std::process::id());
    let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
        Ok(c) => c,
        Err(e) if pg_required() => {
            panic!("PostgreSQL at {base} unreachable (CI or AIDF_REQUIRE_PG requires it): {e}")
        }
        Err(e) => {
            // Straight to stderr: the test harness captures `eprintln!` of a passing test, and
            // a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "note: PostgreSQL test skipped: {base} unreachable ({e}); start it or set AIDF_TEST_PG_URL"
            );
            return None;
        }
    };
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Some((client, schema, url))
}

/// Whether the PostgreSQL tests must run: in CI, or with `AIDF_REQUIRE_PG`.
fn pg_required() -> bool {
    ["CI", "AIDF_REQUIRE_PG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0" && x != "false"))
}

/// A bearer token of `role` for tenant `acme` in the server's store at `db` (the tenant is
/// created if missing).
pub fn acme_token(db: &str, role: &str) -> String {
    let store = aidf_server::store::Db::open(db).expect("db");
    store.ensure_tenant("acme", "acme", 0).expect("tenant");
    let (id, token) = aidf_server::new_token().expect("token");
    let info = aidf_server::store::TokenInfo {
        id,
        tenant: "acme".into(),
        role: role.into(),
        created_at: 0,
        revoked_at: None,
    };
    let by = aidf_ledger::audit::AuditContext {
        tenant: "acme".into(),
        actor: "test".into(),
    };
    store
        .add_token(&info, &aidf_server::token_hash(&token), &by)
        .expect("add token");
    token
}

/// The server in process over the ledger and store at `db` (embedded policy, audited), for
/// `oneshot` requests.
pub fn in_process_app(db: &str) -> axum::Router {
    let auditor = aidf_ledger::audit::Auditor::open(db, None)
        .expect("audit key")
        .0;
    let policy = aidf_core::Policy::embedded().expect("policy");
    let state = aidf_server::AppState::new(policy, db, false, auditor).expect("state");
    aidf_server::router(std::sync::Arc::new(state))
}
