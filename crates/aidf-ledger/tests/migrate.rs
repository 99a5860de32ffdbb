//! A ledger written by schema version 1 (ops stored as JSON) is migrated on
//! open: results, replays, holds, balances and history survive unchanged.

mod common;

use aidf_ledger::{Applied, Ledger, LedgerError, LedgerStore, Meta, Op, Timestamp};
use common::PgSchema;

const SQLITE_V1: &str = include_str!("fixtures/ledger_v1.sqlite.sql");
const PG_V1: &str = include_str!("fixtures/ledger_v1.pg.sql");
const A: &str = "country:MY:2025-2027";
const B: &str = "aia:acme";
const T0: i64 = 1_735_689_600_000;

/// (op_id, canonical fields JSON, result JSON) of every op in a v1 database.
type V1Ops = Vec<(String, String, String)>;

fn check_migrated(l: &mut Ledger, v1: &V1Ops) {
    assert_eq!(v1.len(), 14, "fixture ops");
    l.check_invariants().expect("invariants after migration");
    for (id, fields, result) in v1 {
        let original: Applied = serde_json::from_str(result).expect("v1 result");
        assert_eq!(
            l.op(id).expect("op").as_ref(),
            Some(&original),
            "stored result of {id}"
        );
        // Identical fields replay the original result.
        let op: Op = serde_json::from_str(fields).expect("v1 fields");
        let now = Timestamp(T0 + 5000);
        let mut again = l
            .apply_batch(std::slice::from_ref(&op), now)
            .unwrap_or_else(|e| panic!("replay of {id}: {e}"));
        assert_eq!(again.len(), 1);
        let again = again.remove(0);
        assert!(again.replayed, "{id} replayed");
        assert_eq!(
            Applied {
                replayed: false,
                ..again
            },
            original,
            "replay of {id}"
        );
        // Any other meta is a different op.
        let mut changed = op.clone();
        match &mut changed {
            Op::Reserve { meta, .. }
            | Op::Post { meta, .. }
            | Op::Void { meta, .. }
            | Op::Attrition { meta, .. }
            | Op::Transfer { meta, .. }
            | Op::SetCap { meta, .. } => meta.regime_digest = Some("sha256:other".into()),
        }
        match l.apply_batch(std::slice::from_ref(&changed), now) {
            Err(LedgerError::BatchFailed { source, .. }) => match *source {
                LedgerError::OpExists { field, .. } => assert_eq!(field, "regime_digest", "{id}"),
                other => panic!("{id}: expected OpExists, got {other:?}"),
            },
            other => panic!("{id}: expected OpExists, got {other:?}"),
        }
    }
    // Meta (with a JSON memo) survives on holds.
    let r1 = l.hold("r1").expect("hold r1");
    let mut memo = Meta::determination("det-1", "sha256:abc");
    memo.memo = Some(serde_json::json!({"k": [1, 2.5, "x\"y"], "n": null}));
    assert_eq!(r1.meta, memo);
    assert_eq!(
        l.hold("r6").expect("hold r6").meta,
        Meta::determination("det-6", "sha256:666")
    );
    // Balances now and as of the past, then the pending expiring hold lapses.
    let before = l.balance(A, None).expect("balance");
    assert_eq!(
        (before.posted, before.pending, before.cap),
        (140, 12, Some(2000))
    );
    let past = l.balance(A, Some(Timestamp(T0 + 10))).expect("as of");
    assert_eq!(
        (past.posted, past.pending, past.cap),
        (140, 100, Some(2000))
    );
    assert_eq!(l.balance(B, None).expect("b").cap, None);
    assert_eq!(l.expire_due(Timestamp(T0 + 1_000_000)).expect("expire"), 1);
    assert_eq!(l.balance(A, None).expect("balance").pending, 5);
    // New ops work on the migrated schema.
    l.reserve("r7", A, 1, None, Meta::default(), Timestamp(T0 + 1_000_001))
        .expect("new reserve");
    l.post("p7", "r7", None, Meta::default(), Timestamp(T0 + 1_000_001))
        .expect("new post");
    l.check_invariants().expect("invariants");
    let history = l.history(A).expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|e| e.op_id.as_deref() == Some("r1"))
            .count(),
        1
    );
    // Schema 6: an upgraded ledger has no applications and records one, and license changes.
    assert!(l.applications().expect("applications").is_empty());
    let w = aidf_ledger::ApplicationWrite {
        id: "APP-upgraded".into(),
        body: serde_json::json!({"state": "submitted"}),
        transition: serde_json::json!({"to": "submitted"}),
        state: "submitted".into(),
        ..Default::default()
    };
    l.write_application(&w, Timestamp::now_utc())
        .expect("application on an upgraded ledger");
    let stored = l
        .application("APP-upgraded")
        .expect("read")
        .expect("stored");
    assert_eq!(stored.transitions.len(), 1);
}

#[test]
fn sqlite_v1_database_is_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    let v1: V1Ops = {
        let c = rusqlite::Connection::open(&path).expect("create");
        c.execute_batch(SQLITE_V1).expect("load v1 fixture");
        c.execute_batch("PRAGMA journal_mode=WAL").expect("wal");
        let mut st = c
            .prepare("SELECT op_id, fields, result FROM ops ORDER BY op_id")
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    let mut l = Ledger::open(path.to_str().expect("utf8")).expect("open migrates");
    check_migrated(&mut l, &v1);
    drop(l);
    // Reopening a migrated ledger applies nothing more.
    let mut l = Ledger::open(path.to_str().expect("utf8")).expect("reopen");
    l.check_invariants().expect("invariants");
    let version: i64 = rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
        })
        .expect("version");
    assert_eq!(version, aidf_ledger::SCHEMA_VERSION);
}

/// Schema 9: `ops.hold_state` is checked by comparisons, not `IN` (a list SQLite built a
/// temporary b-tree for at every insert), and the check still refuses any other state.
#[test]
fn sqlite_hold_state_check_compares_and_still_refuses_other_states() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("l.db");
    drop(Ledger::open(path.to_str().expect("utf8")).expect("open"));
    let c = rusqlite::Connection::open(&path).expect("open");
    let sql: String = c
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ops'",
            [],
            |r| r.get(0),
        )
        .expect("ops");
    assert!(!sql.contains(" IN ("), "{sql}");
    let insert = |id: &str, state: Option<&str>| {
        c.execute(
            "INSERT INTO ops (op_id, kind, account, amount, hold_state, at) \
             VALUES (?1, 'reserve', 'a', 1, ?2, 0)",
            rusqlite::params![id, state],
        )
    };
    for (i, state) in ["pending", "posted", "voided", "expired"]
        .iter()
        .enumerate()
    {
        insert(&format!("ok-{i}"), Some(state)).expect(state);
    }
    insert("none", None).expect("no hold state");
    let e = insert("bad", Some("Pending")).expect_err("another state");
    assert!(e.to_string().contains("CHECK constraint failed"), "{e}");
    let due: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ops_due'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert_eq!(due, 1, "the index is made again");
}

#[test]
fn pg_v1_database_is_migrated() {
    let Some(schema) = PgSchema::try_new() else {
        return;
    };
    let v1: V1Ops = {
        let mut c = schema.client();
        c.batch_execute(PG_V1).expect("load v1 fixture");
        c.query("SELECT op_id, fields, result FROM ops ORDER BY op_id", &[])
            .expect("query")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let mut l = Ledger::open(&schema.url).expect("open migrates");
    check_migrated(&mut l, &v1);
    drop(l);
    let mut l = Ledger::open(&schema.url).expect("reopen");
    l.check_invariants().expect("invariants");
    let version: i64 = schema
        .client()
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .expect("version")
        .get(0);
    assert_eq!(version, aidf_ledger::SCHEMA_VERSION);
}
