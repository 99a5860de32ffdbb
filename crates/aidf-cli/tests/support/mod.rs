//! Shared by the CLI's integration tests: a fresh PostgreSQL schema.

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
