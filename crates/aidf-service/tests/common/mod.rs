//! One fresh ledger per test on SQLite or PostgreSQL (`AIDF_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, one schema per test, dropped after it). An
//! unreachable PostgreSQL skips the test with a note, or fails it in CI / with `AIDF_REQUIRE_PG`.
#![allow(dead_code)]

use std::io::Write;

use aidf_ledger::Ledger;

/// Keeps a test's database alive; drops the PostgreSQL schema at the end.
pub enum Guard {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL schema.
    Pg(String),
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Pg(schema) = self
            && let Ok(mut c) = postgres::Client::connect(&base(), postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn base() -> String {
    std::env::var("AIDF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn pg_required() -> bool {
    ["CI", "AIDF_REQUIRE_PG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0" && x != "false"))
}

/// A fresh ledger: SQLite, or PostgreSQL when `pg` (`None`: PostgreSQL unreachable, skipped).
pub fn ledger(pg: bool) -> Option<(Guard, Ledger)> {
    if !pg {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(dir.path().join("l.db").to_str().expect("utf8")).expect("open");
        return Some((Guard::Sqlite(dir), l));
    }
    let mut admin = match postgres::Client::connect(&base(), postgres::NoTls) {
        Ok(c) => c,
        Err(e) if pg_required() => panic!("PostgreSQL at {} unreachable: {e}", base()),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "note: PostgreSQL test skipped: {e}");
            return None;
        }
    };
    let schema = format!("aidf_svc_{}_{:016x}", std::process::id(), fastrand_u64());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("schema");
    let url = format!("{}?options=-csearch_path%3D{schema}", base());
    let guard = Guard::Pg(schema);
    let l = Ledger::open(&url).expect("open pg");
    Some((guard, l))
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// Runs each named `fn(pg: bool)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(false); } )*
        }
        mod pg {
            $( #[test] fn $name() { super::$name(true); } )*
        }
    };
}
