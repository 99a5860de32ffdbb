//! Test helpers: one fresh ledger per test on either backend.
#![allow(dead_code)]

use std::path::PathBuf;

use aidf_ledger::{Ledger, Timestamp};

/// Base URL of the test PostgreSQL server.
pub fn pg_base_url() -> String {
    std::env::var("AIDF_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
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
    pub fn new() -> Self {
        let name = format!("aidf_test_{}", random_suffix());
        let mut admin =
            postgres::Client::connect(&pg_base_url(), postgres::NoTls).unwrap_or_else(|e| {
                panic!(
                    "postgres at {} unreachable (tests require it): {e}",
                    pg_base_url()
                )
            });
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create schema");
        PgSchema {
            url: url_with_schema(&pg_base_url(), &name),
            name,
            owned: true,
        }
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

    pub fn pg() -> Self {
        Backend::Pg(PgSchema::new())
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
