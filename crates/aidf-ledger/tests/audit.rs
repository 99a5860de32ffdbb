//! The audit log in the ledger: every write leaves its outbox row in the same transaction, the
//! chainer moves it into the signed chain, and `verify` catches the tampering a database
//! administrator could do (tail delete, truncate, edit with recomputed hashes), on both backends.

mod common;

use aidf_ledger::audit::{self, AuditContext, AuditKey, AuditRecord, Auditor, record_hash_text};
use aidf_ledger::{AccountKind, G2gArrangement, Ledger, LedgerStore, Meta};
use common::{Backend, PgSchema, T0, t};

const SQLITE_V2_SERVER: &str = include_str!("fixtures/ledger_v2_server.sqlite.sql");
const PG_V2_SERVER: &str = include_str!("fixtures/ledger_v2_server.pg.sql");

/// A ledger with an auditor whose key and anchor live in a temporary directory.
struct Audited {
    backend: Backend,
    auditor: Auditor,
    _keys: tempfile::TempDir,
}

fn auditor() -> (Auditor, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = AuditKey::new(b"a test key of thirty-two bytes!!");
    (
        Auditor::new(key, Some(dir.path().join("audit.anchor"))),
        dir,
    )
}

fn audited(backend: Backend) -> Audited {
    let (auditor, keys) = auditor();
    Audited {
        backend,
        auditor,
        _keys: keys,
    }
}

/// Seven writes by `local:alice`, chained and checkpointed.
fn seven_writes(a: &Audited) -> Ledger {
    let mut l = a.backend.open();
    l.set_audit_context(AuditContext {
        tenant: "local".into(),
        actor: "local:alice".into(),
    });
    l.ensure_account(
        "country:MY:2025",
        AccountKind::CountryAllocation,
        Some(1000),
        T0,
    )
    .expect("open");
    for i in 0..5 {
        l.transfer(
            &format!("x{i}"),
            "country:MY:2025",
            10,
            Meta::default(),
            t(i),
        )
        .expect("transfer");
    }
    l.add_g2g(
        &G2gArrangement {
            country: "MY".into(),
            date: "2025-02-01".into(),
        },
        T0,
    )
    .expect("g2g");
    assert_eq!(a.auditor.drain(&mut l).expect("drain"), 7);
    l
}

fn verify(a: &Audited, l: &mut Ledger) -> aidf_ledger::audit::Verification {
    a.auditor.verify(l).expect("verify runs")
}

fn both(test: fn(Backend)) {
    test(Backend::sqlite());
    if let Some(b) = Backend::pg() {
        test(b);
    }
}

#[test]
fn every_write_is_chained_with_its_actor() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        let recs = l.audit_records("local", 100).expect("records");
        let actions: Vec<&str> = recs.iter().rev().map(|r| r.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "account.open",
                "ledger.transfer",
                "ledger.transfer",
                "ledger.transfer",
                "ledger.transfer",
                "ledger.transfer",
                "g2g.add"
            ]
        );
        assert!(recs.iter().all(|r| r.actor == "local:alice"));
        assert_eq!(recs[0].subject, "MY");
        let v = verify(&a, &mut l);
        assert!(v.ok, "{v:?}");
        assert_eq!(
            (v.records, v.checkpoints, v.anchored_records),
            (7, 1, Some(7))
        );
    });
}

#[test]
fn a_failed_write_leaves_no_audit_row() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        l.transfer("big", "country:MY:2025", 10_000, Meta::default(), t(9))
            .expect_err("exceeds the cap");
        assert_eq!(l.audit_backlog().expect("backlog"), 0);
    });
}

#[test]
fn checking_an_existing_account_writes_no_record() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        l.ensure_account(
            "country:MY:2025",
            AccountKind::CountryAllocation,
            Some(1000),
            t(1),
        )
        .expect("exists");
        assert_eq!(l.audit_backlog().expect("backlog"), 0);
        l.ensure_account("aia:new", AccountKind::AiaCumulative, None, t(1))
            .expect("opened");
        assert_eq!(l.audit_backlog().expect("backlog"), 1);
    });
}

/// Holds the chain's lock from another connection until dropped: SQLite's write lock, or the
/// chainers' advisory lock on PostgreSQL.
fn hold_chain_lock(backend: &Backend) -> Box<dyn std::any::Any> {
    match backend {
        Backend::Sqlite { path, .. } => {
            let c = rusqlite::Connection::open(path).expect("open");
            c.execute_batch("BEGIN IMMEDIATE").expect("write lock");
            Box::new(c)
        }
        Backend::Pg(s) => {
            let mut c = s.client();
            c.execute("SELECT pg_advisory_lock($1)", &[&audit::PG_CHAIN_LOCK])
                .expect("advisory lock");
            Box::new(c)
        }
    }
}

/// An idle chainer looks at the outbox every 50 ms: with nothing waiting and nothing to sign it
/// must not wait for the chain's lock, which a busy shipment writer holds nearly all the time
/// (it used to take the lock, polling for it on SQLite and queueing on PostgreSQL). With a row
/// waiting it still chains it once the lock is free.
#[test]
fn an_idle_look_at_an_empty_outbox_takes_no_lock() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        let holder = hold_chain_lock(&a.backend);
        let key = a.auditor.key().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let looker = std::thread::spawn(move || {
            let out = l.chain_audit(&key, &[], 64, false).map(|c| c.drained);
            tx.send(out).expect("send");
            l
        });
        let looked = rx.recv_timeout(std::time::Duration::from_secs(5));
        drop(holder);
        let mut l = looker.join().expect("looker");
        let drained = looked.expect("the look waited for the chain's lock");
        assert_eq!(drained.expect("look"), 0);

        l.ensure_account("aia:idle", AccountKind::AiaCumulative, None, t(9))
            .expect("opened");
        assert_eq!(l.audit_backlog().expect("backlog"), 1);
        let key = a.auditor.key().clone();
        assert_eq!(
            l.chain_audit(&key, &[], 64, false).expect("chain").drained,
            1
        );
        assert_eq!(l.audit_backlog().expect("backlog"), 0);
        assert!(verify(&a, &mut l).ok);
    });
}

/// Runs `sql` as the attacker: a database administrator without the audit key.
fn tamper(a: &Audited, sql: &str) {
    a.backend.raw_exec(sql).expect("tampering SQL runs");
}

fn unlock_sql(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite { .. } => {
            "DROP TRIGGER aidf_audit_no_delete; DROP TRIGGER aidf_audit_no_update; \
             DROP TRIGGER aidf_audit_checkpoints_no_delete;"
        }
        Backend::Pg(_) => {
            "ALTER TABLE aidf_audit DISABLE TRIGGER USER; \
             ALTER TABLE aidf_audit_checkpoints DISABLE TRIGGER USER;"
        }
    }
}

fn assert_caught(v: &aidf_ledger::audit::Verification, needle: &str) {
    assert!(!v.ok, "tampering passed verification: {v:?}");
    let problem = v.problem.as_deref().unwrap_or_default();
    assert!(
        problem.contains(needle),
        "problem `{problem}` lacks `{needle}`"
    );
}

#[test]
fn deleting_the_tail_and_its_checkpoints_is_caught() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        tamper(&a, unlock_sql(&a.backend));
        tamper(
            &a,
            "DELETE FROM aidf_audit WHERE seq = (SELECT MAX(seq) FROM aidf_audit); \
             DELETE FROM aidf_audit_checkpoints;",
        );
        assert_caught(
            &verify(&a, &mut l),
            "the anchor outside the database vouches for 7",
        );
    });
}

#[test]
fn deleting_the_tail_with_checkpoints_left_is_caught_without_the_anchor() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        let unanchored = Auditor::new(a.auditor.key().clone(), None);
        tamper(&a, unlock_sql(&a.backend));
        tamper(&a, "DELETE FROM aidf_audit WHERE seq >= 6");
        let v = unanchored.verify(&mut l).expect("verify");
        assert_caught(
            &v,
            "a signed checkpoint vouches for 7 records but the chain has 5",
        );
    });
}

#[test]
fn truncating_is_blocked_on_postgres_and_caught_everywhere() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        if let Backend::Pg(_) = &a.backend {
            let e = a
                .backend
                .raw_exec("TRUNCATE aidf_audit")
                .expect_err("blocked");
            assert!(e.contains("append-only"), "{e}");
            for table in ["aidf_audit_checkpoints", "aidf_audit_outbox"] {
                let e = a
                    .backend
                    .raw_exec(&format!("TRUNCATE {table}"))
                    .expect_err("blocked");
                assert!(e.contains("append-only"), "{table}: {e}");
            }
            tamper(&a, unlock_sql(&a.backend));
            tamper(&a, "TRUNCATE aidf_audit, aidf_audit_checkpoints");
        } else {
            tamper(&a, unlock_sql(&a.backend));
            tamper(
                &a,
                "DELETE FROM aidf_audit; DELETE FROM aidf_audit_checkpoints;",
            );
        }
        let v = verify(&a, &mut l);
        assert_eq!(v.records, 0);
        assert_caught(&v, "the chain has 0: records were removed");
    });
}

/// Edits record 3's outcome and rewrites the hashes of every record from there, as an attacker
/// who knows the hash recipe (it is public) but not the key would.
fn edit_and_recompute(a: &Audited, l: &mut Ledger, forge_key: Option<&AuditKey>) {
    let mut recs: Vec<AuditRecord> = l.audit_records("local", 100).expect("records");
    recs.reverse();
    let mut prev = recs[1].hash.clone();
    let mut sql = unlock_sql(&a.backend).to_owned();
    for r in recs.iter_mut().skip(2) {
        if r.seq == 3 {
            r.outcome = "refused".into();
        }
        r.prev_hash = prev.clone();
        r.hash = record_hash_text(r);
        if let Some(k) = forge_key {
            let digest: Vec<u8> = (7..r.hash.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&r.hash[i..i + 2], 16).expect("hex"))
                .collect();
            r.mac = k.mac(&digest).iter().map(|b| format!("{b:02x}")).collect();
        }
        prev = r.hash.clone();
        sql.push_str(&format!(
            "UPDATE aidf_audit SET outcome = '{}', prev_hash = '{}', hash = '{}', mac = '{}' \
             WHERE seq = {};",
            r.outcome, r.prev_hash, r.hash, r.mac, r.seq
        ));
    }
    tamper(a, &sql);
}

#[test]
fn editing_and_recomputing_the_hashes_is_caught() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        edit_and_recompute(&a, &mut l, None);
        let v = verify(&a, &mut l);
        assert_eq!(v.first_bad_seq, Some(3));
        assert_caught(&v, "record 3 is not signed by the audit key");
    });
}

#[test]
fn editing_with_macs_under_another_key_is_caught() {
    both(|backend| {
        let a = audited(backend);
        let mut l = seven_writes(&a);
        let theirs = AuditKey::new(b"the attacker's own key, 32 bytes");
        edit_and_recompute(&a, &mut l, Some(&theirs));
        let v = verify(&a, &mut l);
        assert_caught(&v, "record 3 is not signed by the audit key");
    });
}

/// The server's chain from before migration 3 stays readable and chained: its records are the
/// legacy prefix, and new records follow them.
fn check_upgraded(backend: Backend) {
    let a = audited(backend);
    let mut l = a.backend.open();
    let legacy = l.audit_records("local", 100).expect("records");
    assert_eq!(legacy.len(), 4, "fixture records");
    assert!(
        legacy
            .iter()
            .all(|r| r.mac.is_empty() && r.subject.is_empty())
    );
    let v = verify(&a, &mut l);
    assert!(v.ok, "{v:?}");
    assert_eq!((v.records, v.legacy_records), (4, 4));
    l.set_audit_context(AuditContext::local_user());
    l.ensure_account("aia:x", AccountKind::AiaCumulative, None, T0)
        .expect("write");
    assert_eq!(a.auditor.drain(&mut l).expect("drain"), 1);
    let v = verify(&a, &mut l);
    assert!(v.ok, "{v:?}");
    assert_eq!((v.records, v.legacy_records), (5, 4));
    let newest = &l.audit_records("local", 1).expect("records")[0];
    assert_eq!(newest.prev_hash, legacy[0].hash);
    // A legacy record edited without the key is caught by the hash chain.
    tamper(&a, unlock_sql(&a.backend));
    tamper(
        &a,
        "UPDATE aidf_audit SET outcome = 'authorized:license' WHERE seq = 2",
    );
    assert_caught(&verify(&a, &mut l), "record 2 was altered");
}

#[test]
fn sqlite_ledger_of_today_is_upgraded_with_its_audit_chain() {
    let backend = Backend::sqlite();
    let Backend::Sqlite { path, .. } = &backend else {
        unreachable!()
    };
    rusqlite::Connection::open(path)
        .and_then(|c| c.execute_batch(SQLITE_V2_SERVER))
        .expect("load fixture");
    check_upgraded(backend);
}

#[test]
fn pg_ledger_of_today_is_upgraded_with_its_audit_chain() {
    let Some(schema) = PgSchema::try_new() else {
        return;
    };
    schema
        .client()
        .batch_execute(PG_V2_SERVER)
        .expect("load fixture");
    check_upgraded(Backend::Pg(schema));
}
