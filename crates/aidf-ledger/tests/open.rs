//! Opening: backend selection, migrations, and refusing databases that are not ledgers.

mod common;

use aidf_ledger::{AccountKind, Ledger, LedgerError, LedgerStore};
use common::{PgSchema, T0, pg_base_url, url_with_schema};

fn assert_not_a_ledger(res: Result<Ledger, LedgerError>, needle: &str) {
    match res {
        Err(e @ LedgerError::NotALedger { .. }) => {
            assert!(
                e.to_string().contains(needle),
                "message `{e}` should mention `{needle}`"
            );
        }
        other => panic!("expected NotALedger, got {other:?}"),
    }
}

#[test]
fn sqlite_refuses_foreign_sqlite_file_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&path).expect("create");
        c.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a');")
            .expect("seed");
    }
    let before = std::fs::read(&path).expect("read");
    assert_not_a_ledger(Ledger::open(path.to_str().expect("utf8")), "customers");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "file must be untouched"
    );
    assert!(
        !dir.path().join("other.db-wal").exists(),
        "no WAL file may be created"
    );
}

#[test]
fn sqlite_refuses_non_sqlite_file_and_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"these are my notes, not a database\n").expect("write");
    let before = std::fs::read(&path).expect("read");
    assert_not_a_ledger(
        Ledger::open(path.to_str().expect("utf8")),
        "not a SQLite database",
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_not_a_ledger(
        Ledger::open(dir.path().to_str().expect("utf8")),
        "directory",
    );
}

#[test]
fn sqlite_refuses_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.db");
    let p = path.to_str().expect("utf8");
    drop(Ledger::open(p).expect("create"));
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
                [],
            )
        })
        .expect("bump");
    match Ledger::open(p) {
        Err(LedgerError::SchemaTooNew {
            found: 999,
            supported: aidf_ledger::SCHEMA_VERSION,
            ..
        }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn sqlite_is_wal_and_reopens_with_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.db");
    let p = path.to_str().expect("utf8");
    let mut l = Ledger::open(p).expect("create");
    assert!(matches!(l, Ledger::Sqlite(_)));
    l.ensure_account("aia:acme", AccountKind::AiaCumulative, None, T0)
        .expect("ensure");
    drop(l);
    let c = rusqlite::Connection::open(&path).expect("open raw");
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let versions: i64 = c
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .expect("versions");
    assert_eq!(
        versions,
        aidf_ledger::MIGRATION_COUNT,
        "one row per migration"
    );
    let mut l = Ledger::open(p).expect("reopen");
    assert_eq!(l.account("aia:acme").expect("account").cap, None);
}

#[test]
fn pg_refuses_foreign_schema_and_leaves_it_untouched() {
    let Some(schema) = PgSchema::try_new() else {
        return;
    };
    let mut c = schema.client();
    c.batch_execute(
        "CREATE TABLE customers (id INT PRIMARY KEY); INSERT INTO customers VALUES (1);",
    )
    .expect("seed");
    assert_not_a_ledger(Ledger::open(&schema.url), "customers");
    let tables: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .expect("count")
        .get(0);
    assert_eq!(tables, 1, "nothing may be created in a foreign schema");
}

#[test]
fn pg_refuses_missing_schema() {
    let url = url_with_schema(&pg_base_url(), "aidf_test_does_not_exist");
    assert_not_a_ledger(Ledger::open(&url), "no existing schema");
}

#[test]
fn pg_concurrent_openers_migrate_once() {
    let Some(schema) = PgSchema::try_new() else {
        return;
    };
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut l = Ledger::open(&schema.url).expect("open");
                assert!(matches!(l, Ledger::Postgres(_)));
                l.ensure_account("aia:acme", AccountKind::AiaCumulative, None, T0)
                    .expect("ensure");
            });
        }
    });
    let n: i64 = schema
        .client()
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .expect("count")
        .get(0);
    assert_eq!(
        n,
        aidf_ledger::MIGRATION_COUNT,
        "each migration applied once"
    );
    let mut l = Ledger::open(&schema.url).expect("open");
    assert_eq!(
        l.history("aia:acme").expect("history").len(),
        1,
        "account opened exactly once"
    );
}

#[test]
fn pg_bad_password_in_url_is_redacted() {
    let url = "postgres://postgres:hunter2@127.0.0.1:1/test";
    let e = Ledger::open(url).expect_err("nothing listens on port 1");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// Runs Python's sqlite3 on `path` in another process; returns what it prints.
fn other_process(path: &str, code: &str) -> String {
    let script = format!("import sqlite3; c = sqlite3.connect({path:?}); {code}; c.close()");
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A second ledger opened in a process must not drop the SQLite file locks of the first (POSIX
/// locks go when any descriptor of the file is closed): otherwise another process that closes
/// the file believes it is the last user, checkpoints and deletes the WAL under the first, and
/// the first's later commits are lost (seen with `aidf serve` and a CLI `token revoke`).
#[test]
fn sqlite_second_open_keeps_the_first_connections_locks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.db");
    let p = path.to_str().expect("utf8");
    let mut first = Ledger::open(p).expect("open");
    first
        .ensure_account("aia:a", AccountKind::AiaCumulative, None, T0)
        .expect("write");
    let _second = Ledger::open(p).expect("second open");
    other_process(p, "c.execute('SELECT COUNT(*) FROM accounts').fetchall()");
    assert!(
        dir.path().join("ledger.db-wal").exists(),
        "the other process deleted the WAL of a ledger still open here"
    );
    first
        .ensure_account("aia:b", AccountKind::AiaCumulative, None, T0)
        .expect("write after the other process closed");
    let seen = other_process(
        p,
        "print(c.execute('SELECT COUNT(*) FROM accounts').fetchone()[0])",
    );
    assert_eq!(seen, "2", "the other process must see both commits");
}
