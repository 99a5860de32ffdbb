//! Test helpers: one fresh ledger per test on either backend.
#![allow(dead_code)]

use std::io::Write;

use std::path::PathBuf;

use aidf_ledger::{Ledger, Timestamp};

/// Base URL of the test PostgreSQL server.
pub fn pg_base_url() -> String {
    std::env::var("AIDF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether the PostgreSQL tests must run (CI, or `AIDF_REQUIRE_PG`): then an unreachable server
/// fails them instead of skipping them.
pub fn pg_required() -> bool {
    ["CI", "AIDF_REQUIRE_PG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0" && x != "false"))
}

/// A random lowercase suffix for schema and op names.
pub fn random_suffix() -> String {
    format!("{}_{:016x}", std::process::id(), fastrand::u64(..))
}

/// `url` with `search_path` set to `schema`.
pub fn url_with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A fresh PostgreSQL schema, dropped on drop. Panics (fails the test) if the server is unreachable.
#[derive(Debug)]
pub struct PgSchema {
    pub name: String,
    pub url: String,
    /// Set in child processes so that only the parent drops the schema.
    pub owned: bool,
}

impl PgSchema {
    /// A fresh schema; panics if PostgreSQL is unreachable (see [`PgSchema::try_new`]).
    pub fn new() -> Self {
        Self::try_new().expect("PostgreSQL is required here")
    }

    /// A fresh schema, or `None` when PostgreSQL is unreachable and not required: the test then
    /// returns early after a note on stderr. In CI (`CI` set) or with `AIDF_REQUIRE_PG` set, an
    /// unreachable server fails the test.
    pub fn try_new() -> Option<Self> {
        let name = format!("aidf_test_{}", random_suffix());
        let mut admin = match postgres::Client::connect(&pg_base_url(), postgres::NoTls) {
            Ok(c) => c,
            Err(e) if pg_required() => panic!(
                "postgres at {} unreachable (CI or AIDF_REQUIRE_PG requires it): {e}",
                pg_base_url()
            ),
            Err(e) => {
                // Straight to stderr: the test harness captures `eprintln!` of a passing test,
                // and a skip must be seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: PostgreSQL test skipped: {} unreachable ({e}); start it or set AIDF_TEST_PG_URL",
                    pg_base_url()
                );
                return None;
            }
        };
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create schema");
        Some(PgSchema {
            url: url_with_schema(&pg_base_url(), &name),
            name,
            owned: true,
        })
    }

    /// A client whose search_path is this schema.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Ok(mut admin) = postgres::Client::connect(&pg_base_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Where a test ledger lives.
#[derive(Debug)]
pub enum Backend {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Pg(PgSchema),
}

impl Backend {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.db");
        Backend::Sqlite { _dir: dir, path }
    }

    /// `None` when PostgreSQL is unreachable and not required (see [`PgSchema::try_new`]).
    pub fn pg() -> Option<Self> {
        PgSchema::try_new().map(Backend::Pg)
    }

    pub fn url(&self) -> String {
        match self {
            Backend::Sqlite { path, .. } => path.display().to_string(),
            Backend::Pg(s) => s.url.clone(),
        }
    }

    pub fn open(&self) -> Ledger {
        Ledger::open(&self.url()).unwrap_or_else(|e| panic!("open {}: {e}", self.url()))
    }

    /// Executes raw SQL against the backing database (to probe triggers etc.).
    pub fn raw_exec(&self, sql: &str) -> Result<(), String> {
        match self {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                conn.execute_batch(sql).map_err(|e| e.to_string())
            }
            Backend::Pg(s) => s
                .client()
                .batch_execute(sql)
                .map_err(|e| format!("{e}: {:?}", e.as_db_error().map(|d| d.message()))),
        }
    }
}

pub const T0: Timestamp = Timestamp(1_735_689_600_000); // 2025-01-01T00:00:00Z

/// `T0 + secs`.
pub fn t(secs: i64) -> Timestamp {
    Timestamp(T0.0 + secs * 1000)
}
