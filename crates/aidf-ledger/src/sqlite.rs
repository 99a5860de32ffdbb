//! SQLite backend: one file in WAL mode, writers serialised by `BEGIN IMMEDIATE`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use crate::audit::{
    self, AuditContext, AuditEvent, AuditKey, AuditRecord, Checkpoint, NewAudit, RecordRef,
};
use crate::engine::{
    NewEntry, NewOp, OP_COLS, RecordTable, STORED_OP_COLS, StoredOp, TxOps, V2_OP_COLS, meta_of,
    upgrade_v1_op,
};
use crate::error::{LedgerError, Result};
use crate::register::{Columns, PageSql, Param, VeuShipment};
use crate::types::{Account, AccountKind, Entry, EntryKind, Hold, HoldState, Meta, Timestamp};
use crate::{AsOf, Chained, Clock, Store, Sums, WriteFn, validate};

/// Marker row identifying an aidf ledger.
const APPLICATION: &str = "aidf-ledger";

/// Schema version 1.
const MIGRATION_1: &str = r#"
CREATE TABLE aidf_ledger (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO aidf_ledger (key, value) VALUES ('application', 'aidf-ledger');
CREATE TABLE accounts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    cap INTEGER CHECK (cap IS NULL OR cap >= 0),
    posted INTEGER NOT NULL CHECK (posted >= 0),
    pending INTEGER NOT NULL CHECK (pending >= 0),
    created_at INTEGER NOT NULL,
    CHECK (cap IS NULL OR posted + pending <= cap)
);
CREATE TABLE ops (
    op_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    expires_at INTEGER,
    hold_state TEXT CHECK (hold_state IN ('pending', 'posted', 'voided', 'expired')),
    fields TEXT NOT NULL,
    result TEXT NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ops_due ON ops (account, expires_at) WHERE hold_state = 'pending' AND expires_at IS NOT NULL;
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    op_id TEXT,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    posted_delta INTEGER NOT NULL,
    pending_delta INTEGER NOT NULL,
    cap INTEGER,
    pending_id TEXT,
    at INTEGER NOT NULL,
    determination_id TEXT,
    regime_digest TEXT,
    memo TEXT
);
CREATE INDEX entries_account ON entries (account, seq);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TABLE licenses (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE veus (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE g2g_arrangements (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE shipments (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TRIGGER shipments_no_update BEFORE UPDATE ON shipments
    BEGIN SELECT RAISE(ABORT, 'shipments are append-only'); END;
CREATE TRIGGER shipments_no_delete BEFORE DELETE ON shipments
    BEGIN SELECT RAISE(ABORT, 'shipments are append-only'); END;
"#;

/// Schema version 2: ops store their canonical fields and result as plain
/// columns instead of JSON (smaller rows, no JSON on the write path).
const MIGRATION_2: &str = r#"
ALTER TABLE ops ADD COLUMN pending_id TEXT;
ALTER TABLE ops ADD COLUMN req_amount INTEGER CHECK (req_amount >= 0);
ALTER TABLE ops ADD COLUMN cap INTEGER CHECK (cap >= 0);
ALTER TABLE ops ADD COLUMN old_cap INTEGER CHECK (old_cap >= 0);
ALTER TABLE ops ADD COLUMN released INTEGER CHECK (released >= 0);
ALTER TABLE ops ADD COLUMN bal_cap INTEGER CHECK (bal_cap >= 0);
ALTER TABLE ops ADD COLUMN bal_posted INTEGER CHECK (bal_posted >= 0);
ALTER TABLE ops ADD COLUMN bal_pending INTEGER CHECK (bal_pending >= 0);
ALTER TABLE ops ADD COLUMN determination_id TEXT;
ALTER TABLE ops ADD COLUMN regime_digest TEXT;
ALTER TABLE ops ADD COLUMN memo TEXT;
"#;

/// After the backfill of migration 2.
const MIGRATION_2_FINISH: &str = r#"
ALTER TABLE ops DROP COLUMN fields;
ALTER TABLE ops DROP COLUMN result;
"#;

/// Schema version 3: the audit log moves into the ledger. The chain keeps the table the server
/// created (its records stay as they are: legacy, without a MAC), gains the subject and MAC
/// columns; the outbox is written by every ledger write; checkpoints are signed heads.
const MIGRATION_3: &str = r#"
CREATE TABLE IF NOT EXISTS aidf_audit (seq INTEGER PRIMARY KEY, at BIGINT NOT NULL,
    tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, input_digest TEXT NOT NULL,
    outcome TEXT NOT NULL, regime_digest TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
ALTER TABLE aidf_audit ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE aidf_audit ADD COLUMN mac TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS aidf_audit_tenant ON aidf_audit (tenant, seq);
CREATE TRIGGER IF NOT EXISTS aidf_audit_no_update BEFORE UPDATE ON aidf_audit
    BEGIN SELECT RAISE(ABORT, 'aidf_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS aidf_audit_no_delete BEFORE DELETE ON aidf_audit
    BEGIN SELECT RAISE(ABORT, 'aidf_audit is append-only'); END;
CREATE TABLE aidf_audit_outbox (id INTEGER PRIMARY KEY, at INTEGER NOT NULL,
    tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
    input_digest TEXT NOT NULL, outcome TEXT NOT NULL, regime_digest TEXT NOT NULL);
CREATE TABLE aidf_audit_checkpoints (records INTEGER PRIMARY KEY, head_hash TEXT NOT NULL,
    at INTEGER NOT NULL, mac TEXT NOT NULL);
CREATE TRIGGER aidf_audit_checkpoints_no_update BEFORE UPDATE ON aidf_audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'aidf_audit_checkpoints is append-only'); END;
CREATE TRIGGER aidf_audit_checkpoints_no_delete BEFORE DELETE ON aidf_audit_checkpoints
    BEGIN SELECT RAISE(ABORT, 'aidf_audit_checkpoints is append-only'); END;
"#;

/// Schema version 4: the party registry (consignees and other parties by stable id, per tenant).
const MIGRATION_4: &str = r#"
CREATE TABLE parties (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
ALTER TABLE entries ADD COLUMN business_date TEXT;
"#;

/// Schema version 5: the shipment register. The columns a shipment is filtered and paged by,
/// filled from each stored body by the backfill (the append-only trigger is lifted for it and
/// put back), and the keyset indexes (newest first within a tenant, per filter).
const MIGRATION_5: &str = r#"
DROP TRIGGER shipments_no_update;
ALTER TABLE shipments ADD COLUMN tenant TEXT NOT NULL DEFAULT 'local';
ALTER TABLE shipments ADD COLUMN status TEXT NOT NULL DEFAULT 'refused';
ALTER TABLE shipments ADD COLUMN business_date TEXT;
ALTER TABLE shipments ADD COLUMN destination TEXT;
ALTER TABLE shipments ADD COLUMN consignee TEXT;
ALTER TABLE shipments ADD COLUMN consignee_key TEXT;
"#;

/// After the backfill of migration 5.
const MIGRATION_5_FINISH: &str = r#"
CREATE TRIGGER shipments_no_update BEFORE UPDATE ON shipments
    BEGIN SELECT RAISE(ABORT, 'shipments are append-only'); END;
-- Newest first within a tenant; business_date rides along, so a date range is filtered from
-- the index in page order (an index on the date itself made the planner sort a whole range).
CREATE INDEX shipments_page ON shipments (tenant, created_at, id, business_date);
CREATE INDEX shipments_status ON shipments (tenant, status, created_at, id);
CREATE INDEX shipments_consignee ON shipments (tenant, consignee_key, created_at, id);
CREATE INDEX shipments_destination ON shipments (tenant, destination, created_at, id);
CREATE INDEX aidf_audit_subject ON aidf_audit (subject, seq);
"#;

/// Schema version 6: license applications (their current state and their dated transitions,
/// append-only) and license changes (amendments, suspensions, revocations; append-only).
/// Applied after version 5 (the shipment register).
const MIGRATION_6: &str = r#"
CREATE TABLE applications (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE application_transitions (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TRIGGER application_transitions_no_update BEFORE UPDATE ON application_transitions
    BEGIN SELECT RAISE(ABORT, 'application transitions are append-only'); END;
CREATE TRIGGER application_transitions_no_delete BEFORE DELETE ON application_transitions
    BEGIN SELECT RAISE(ABORT, 'application transitions are append-only'); END;
CREATE TABLE license_changes (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TRIGGER license_changes_no_update BEFORE UPDATE ON license_changes
    BEGIN SELECT RAISE(ABORT, 'license changes are append-only'); END;
CREATE TRIGGER license_changes_no_delete BEFORE DELETE ON license_changes
    BEGIN SELECT RAISE(ABORT, 'license changes are append-only'); END;
"#;

/// Schema version 7: the VEU report's rows (see `register`): one narrow, append-only row per
/// authorized shipment under a VEU, filled for earlier shipments by the backfill. Keyed by
/// `(tenant, business_date, shipment_id)`, so a half year's rows are one range of the table.
const MIGRATION_7: &str = r#"
CREATE TABLE veu_shipments (
    shipment_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    business_date TEXT NOT NULL,
    authorization_kind TEXT NOT NULL,
    veu_id TEXT,
    consignee TEXT,
    destination TEXT,
    item TEXT,
    eccn TEXT,
    quantity INTEGER,
    total_tpp INTEGER,
    PRIMARY KEY (tenant, business_date, shipment_id)
) WITHOUT ROWID;
CREATE TRIGGER veu_shipments_no_update BEFORE UPDATE ON veu_shipments
    BEGIN SELECT RAISE(ABORT, 'veu shipments are append-only'); END;
CREATE TRIGGER veu_shipments_no_delete BEFORE DELETE ON veu_shipments
    BEGIN SELECT RAISE(ABORT, 'veu shipments are append-only'); END;
"#;

/// Schema version 8: screening decisions (officers' decisions on possible hits, per tenant) and
/// tenants' screening thresholds, both append-only.
const MIGRATION_8: &str = r#"
CREATE TABLE screening_decisions (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TRIGGER screening_decisions_no_update BEFORE UPDATE ON screening_decisions
    BEGIN SELECT RAISE(ABORT, 'screening decisions are append-only'); END;
CREATE TRIGGER screening_decisions_no_delete BEFORE DELETE ON screening_decisions
    BEGIN SELECT RAISE(ABORT, 'screening decisions are append-only'); END;
CREATE TABLE screening_thresholds (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TRIGGER screening_thresholds_no_update BEFORE UPDATE ON screening_thresholds
    BEGIN SELECT RAISE(ABORT, 'screening thresholds are append-only'); END;
CREATE TRIGGER screening_thresholds_no_delete BEFORE DELETE ON screening_thresholds
    BEGIN SELECT RAISE(ABORT, 'screening thresholds are append-only'); END;
"#;

/// Schema version 9: `ops.hold_state`'s check written as comparisons. As `IN` of four values,
/// SQLite built (and dropped) a temporary b-tree for the list at every insert into `ops`; the
/// rows allowed are the same. SQLite cannot change a check in place, so the table is rebuilt
/// (its rows copied in key order) and its index made again.
const MIGRATION_9: &str = r#"
CREATE TABLE ops_v9 (
    op_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    expires_at INTEGER,
    hold_state TEXT CHECK (hold_state = 'pending' OR hold_state = 'posted'
        OR hold_state = 'voided' OR hold_state = 'expired'),
    at INTEGER NOT NULL,
    pending_id TEXT,
    req_amount INTEGER CHECK (req_amount >= 0),
    cap INTEGER CHECK (cap >= 0),
    old_cap INTEGER CHECK (old_cap >= 0),
    released INTEGER CHECK (released >= 0),
    bal_cap INTEGER CHECK (bal_cap >= 0),
    bal_posted INTEGER CHECK (bal_posted >= 0),
    bal_pending INTEGER CHECK (bal_pending >= 0),
    determination_id TEXT,
    regime_digest TEXT,
    memo TEXT
) WITHOUT ROWID;
INSERT INTO ops_v9 (op_id, kind, account, amount, expires_at, hold_state, at, pending_id,
    req_amount, cap, old_cap, released, bal_cap, bal_posted, bal_pending, determination_id,
    regime_digest, memo)
SELECT op_id, kind, account, amount, expires_at, hold_state, at, pending_id, req_amount, cap,
    old_cap, released, bal_cap, bal_posted, bal_pending, determination_id, regime_digest, memo
FROM ops ORDER BY op_id;
DROP TABLE ops;
ALTER TABLE ops_v9 RENAME TO ops;
CREATE INDEX ops_due ON ops (account, expires_at) WHERE hold_state = 'pending' AND expires_at IS NOT NULL;
"#;

/// One numbered migration: SQL, then an optional data backfill in Rust, then more SQL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    name: &'static str,
    sql: &'static str,
    backfill: Option<fn(&Connection) -> Result<()>>,
    finish: &'static str,
}

/// Numbered migrations; append only, never edit a released one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: MIGRATION_1,
        backfill: None,
        finish: "",
    },
    Migration {
        version: 2,
        name: "ops_columns",
        sql: MIGRATION_2,
        backfill: Some(backfill_ops_v2),
        finish: MIGRATION_2_FINISH,
    },
    Migration {
        version: 3,
        name: "audit",
        sql: MIGRATION_3,
        backfill: None,
        finish: "",
    },
    Migration {
        version: 4,
        name: "parties",
        sql: MIGRATION_4,
        backfill: None,
        finish: "",
    },
    Migration {
        version: 5,
        name: "shipment_register",
        sql: MIGRATION_5,
        backfill: Some(backfill_register_v5),
        finish: MIGRATION_5_FINISH,
    },
    Migration {
        version: 6,
        name: "applications",
        sql: MIGRATION_6,
        backfill: None,
        finish: "",
    },
    Migration {
        version: 7,
        name: "veu_shipments",
        sql: MIGRATION_7,
        backfill: Some(backfill_veu_v7),
        finish: "",
    },
    Migration {
        version: 8,
        name: "screening_decisions",
        sql: MIGRATION_8,
        backfill: None,
        finish: "",
    },
    Migration {
        version: 9,
        name: "ops_hold_state_check",
        sql: MIGRATION_9,
        backfill: None,
        finish: "",
    },
];

/// Fills `veu_shipments` (migration 7) from each stored shipment.
fn backfill_veu_v7(conn: &Connection) -> Result<()> {
    let mut read = conn.prepare("SELECT body FROM shipments")?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let body: String = r.get(0)?;
        let s: crate::Shipment = serde_json::from_str(&body)?;
        if let Some(v) = VeuShipment::of(&s) {
            insert_veu(conn, crate::register::tenant_of(&s), &v)?;
        }
    }
    Ok(())
}

/// Inserts a `veu_shipments` row.
fn insert_veu(conn: &Connection, tenant: &str, v: &VeuShipment) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO veu_shipments (tenant, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        crate::register::VEU_COLUMNS
    ))?
    .execute(params![
        tenant,
        v.shipment_id,
        v.business_date,
        v.authorization,
        v.veu_id,
        v.consignee,
        v.destination,
        v.item,
        v.eccn,
        v.quantity,
        v.total_tpp
    ])?;
    Ok(())
}

/// A `veu_shipments` row as read (columns in `VEU_COLUMNS` order).
fn veu_row(r: &Row<'_>) -> rusqlite::Result<VeuShipment> {
    Ok(VeuShipment {
        shipment_id: r.get(0)?,
        business_date: r.get(1)?,
        authorization: r.get(2)?,
        veu_id: r.get(3)?,
        consignee: r.get(4)?,
        destination: r.get(5)?,
        item: r.get(6)?,
        eccn: r.get(7)?,
        quantity: r.get(8)?,
        total_tpp: r.get(9)?,
    })
}

/// Fills the register columns of migration 5 from each stored shipment.
fn backfill_register_v5(conn: &Connection) -> Result<()> {
    let mut read = conn.prepare("SELECT id, body FROM shipments")?;
    let mut rows = read.query([])?;
    let mut write = conn.prepare(
        "UPDATE shipments SET tenant = ?2, status = ?3, business_date = ?4, destination = ?5, \
         consignee = ?6, consignee_key = ?7 WHERE id = ?1",
    )?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let body: String = r.get(1)?;
        let s: crate::Shipment = serde_json::from_str(&body)?;
        let c = Columns::of(&s);
        write.execute(params![
            id,
            c.tenant,
            c.status,
            c.business_date,
            c.destination,
            c.consignee,
            c.consignee_key
        ])?;
    }
    Ok(())
}

/// Fills the columns of migration 2 from the JSON of schema 1.
fn backfill_ops_v2(conn: &Connection) -> Result<()> {
    let mut read =
        conn.prepare("SELECT op_id, kind, account, amount, expires_at, fields, result FROM ops")?;
    let mut rows = read.query([])?;
    let sets: Vec<String> = V2_OP_COLS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    let mut write = conn.prepare(&format!(
        "UPDATE ops SET {} WHERE op_id = ?1",
        sets.join(", ")
    ))?;
    while let Some(r) = rows.next()? {
        let op_id: String = r.get(0)?;
        let kind: String = r.get(1)?;
        let account: String = r.get(2)?;
        let fields: String = r.get(5)?;
        let result: String = r.get(6)?;
        let (op, applied) = upgrade_v1_op(
            &op_id,
            &fields,
            &result,
            (&kind, &account, r.get(3)?, r.get(4)?),
        )?;
        let n = NewOp::new(&op, &applied)?;
        write.execute(params![
            op_id,
            n.pending_id,
            n.req_amount,
            n.cap,
            n.old_cap,
            n.released,
            n.bal_cap,
            n.bal_posted,
            n.bal_pending,
            n.determination_id,
            n.regime_digest,
            n.memo
        ])?;
    }
    Ok(())
}

fn placeholder(n: usize) -> String {
    format!("?{n}")
}

impl SqliteLedger {
    /// How the register's page query spells placeholder `n`.
    pub(crate) const PLACEHOLDER: fn(usize) -> String = placeholder;
}

/// A busy handler that sleeps 50 µs per call, giving up after about 30 s (600,000 calls).
fn short_busy_wait(calls: i32) -> bool {
    if calls >= 600_000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(50));
    true
}
/// Page cache of a ledger connection (negative: KiB), 8 MiB. Reads of the file come through
/// the memory map ([`MMAP_BYTES`]) and need no cache; the cache holds the pages a transaction
/// changes and the WAL's pages.
/// It was 64 MiB: SQLite's cache then grew a hash table of 16,384 slots, and each commit walked
/// all of it. A b-tree balance that reorders pages parks one under a temporary number, the page
/// of the file's lock byte at 1 GiB, which raises the cache's largest key past the file's end; at
/// the commit SQLite drops the pages past the end, by scanning every slot, whenever the file is
/// smaller than 1 GiB (seen with a perf probe on `pcache1TruncateUnsafe`, 2026-12-02: each
/// commit of the server's shipment writer). With 8 MiB the writer spent 4-7 µs less per
/// shipment and served 4-8 % more shipments over HTTP (six alternating runs); on a ledger of a
/// million shipments (4.9 GiB) the rate was the same (docs/benchmarks.md).
const CACHE_KIB: i64 = -8_192;

/// WAL frames after which a ledger connection checkpoints the WAL itself, after its commit, so
/// that its next write can start the WAL again from the beginning (about 320 MiB of 4 KiB pages).
/// The background checkpointer copies most frames, but only a checkpoint right after a commit
/// lets the WAL restart; until one succeeds (no reader in the WAL) the writer checkpoints after
/// every commit, with two fsyncs on its own thread. At 10,000 frames the server's shipment writer
/// fsynced 17 times a second; at 80,000, twice: shipments over HTTP +9 %, p99 20 ms -> 10-14 ms,
/// and +22 % on a ledger of a million shipments (2026-12-02, docs/benchmarks.md). Under a load
/// that leaves the writer idle now and then, the WAL restarts long before this.
const WAL_AUTOCHECKPOINT_FRAMES: i64 = 80_000;

/// Largest memory map of the database file a ledger connection reads through, 1 TiB: the whole
/// file of any ledger (SQLite maps as much of it as exists, and more as it grows). It was 1 GiB:
/// in a ledger of a million shipments (4.9 GiB) the pages past the map, among them the newest
/// leaves of every index, were read with a system call each into the 8 MiB cache; with the whole
/// file mapped such a ledger recorded 31 % more shipments a second (medians of 12 alternating
/// runs of the growth bench, 2026-12-02, docs/benchmarks.md).
/// SQLite's own limit is 2 GiB unless it is built with a larger one: `.cargo/config.toml` sets
/// `SQLITE_MAX_MMAP_SIZE`, and `opens_with_the_whole_file_mapped` checks that it took effect.
/// The map's pages are the kernel's page cache: they count in the process's resident size but are
/// shared and reclaimable, not the process's own memory.
const MMAP_BYTES: i64 = 1 << 40;

/// Page cache while a verification scans the chain, 2 MiB.
const SCAN_CACHE_KIB: i64 = -2_048;

/// How many times a write is retried after `SQLITE_BUSY` outlasting the busy timeout.
const BUSY_RETRIES: u32 = 10;

/// A ledger stored in a SQLite file.
#[derive(Debug)]
pub struct SqliteLedger {
    conn: Connection,
    location: String,
    /// Who the audit rows of writes name (boxed: `Ledger`'s variants stay alike in size).
    audit: Box<AuditContext>,
    /// Declared after `conn`: stopped (and joined) after the writer closed.
    checkpointer: Option<Checkpointer>,
    /// The audit records of the open group's writes, not chained yet: chained by the group's
    /// chaining ([`Store::audit_chain`]), else put in the outbox before its commit.
    group_audit: Vec<NewAudit>,
    /// How the open group's writes run.
    group_writes: GroupWrites,
}

/// How the writes of an open group run ([`crate::LedgerStore::group`]). A savepoint copies each
/// page a write changes (4 KiB at a time, into memory) before changing it: a shipment's write
/// changes a dozen pages, and the copies were a sixth of the writer's time (2026-12-01, on the
/// shipments benchmark). A write that fails before it has changed a row needs no undoing, and
/// one that fails after is rare (a cap or balance check fails first): so the first run has no
/// savepoints, and only a run in which a write failed part-way is undone and run again with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum GroupWrites {
    /// Without savepoints.
    #[default]
    Bare,
    /// A write failed after it had changed rows: the run's later writes are refused, and the
    /// group is undone and run again ([`Store::group_redo`]).
    Tainted,
    /// Each in a savepoint of its own (the second run).
    Savepoints,
}

/// How long the background checkpointer rests between two checkpoints. Each checkpoint copies the
/// WAL's new pages into the file and syncs it. Under load the WAL grows by about 10 MiB in 100 ms:
/// after a pause that long each checkpoint wrote a burst, and the group commits made meanwhile
/// waited on the disk (their WAL writes stood behind that writeback): those took 20-35 ms instead
/// of 3, and shipments' p99 over HTTP was 34-40 ms. At 5 ms each checkpoint is small: p99 16-20 ms,
/// for about 15 µs more of the checkpointer's CPU per shipment. Checkpointing eagerly only when the
/// WAL was nearly full did not help (p99 33-34 ms). Figures: 2026-12-01, `scripts/bench-server.sh`,
/// docs/benchmarks.md.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct CheckpointState {
    requested: bool,
    stop: bool,
}

type CheckpointShared = Arc<(Mutex<CheckpointState>, Condvar)>;

/// Runs PASSIVE checkpoints on its own connection and thread while the
/// ledger writes, so that commits rarely wait for a checkpoint's fsyncs.
///
/// Durability is unchanged: a commit is acknowledged once it is in the WAL,
/// as before; checkpoints only copy committed frames into the database file.
/// The writer keeps `wal_autocheckpoint` ([`WAL_AUTOCHECKPOINT_FRAMES`]): when
/// the WAL reaches it, the writer's own checkpoint has little left to copy and
/// lets the WAL restart (a PASSIVE checkpoint racing a busy writer rarely can).
#[derive(Debug)]
struct Checkpointer {
    shared: CheckpointShared,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock_state(shared: &CheckpointShared) -> std::sync::MutexGuard<'_, CheckpointState> {
    shared
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Checkpointer {
    /// Starts the checkpointer, or returns `None` if its connection cannot be
    /// opened (the writer's own auto-checkpoints then do all the work).
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        conn.pragma_update(None, "synchronous", "NORMAL").ok()?;
        conn.pragma_update(None, "cache_size", -256).ok()?;
        let shared: CheckpointShared = Arc::default();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("aidf-ledger-checkpoint".into())
            .spawn(move || Checkpointer::run(&conn, &theirs))
            .ok()?;
        Some(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    fn run(conn: &Connection, shared: &CheckpointShared) {
        loop {
            {
                let mut st = lock_state(shared);
                while !st.requested && !st.stop {
                    st = shared
                        .1
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                if st.stop {
                    return;
                }
                st.requested = false;
            }
            // Busy (another checkpoint running) or failing: the writer's
            // auto-checkpoint still bounds the WAL.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            let st = lock_state(shared);
            let _ = shared
                .1
                .wait_timeout_while(st, CHECKPOINT_PAUSE, |s| !s.stop);
        }
    }

    /// Called after each commit.
    fn poke(&self) {
        let mut st = lock_state(&self.shared);
        if !st.requested {
            st.requested = true;
            self.shared.1.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        lock_state(&self.shared).stop = true;
        self.shared.1.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteLedger {
    /// Opens or creates the ledger file at `path`, applying migrations.
    ///
    /// An existing file that is not SQLite, or a SQLite database without the
    /// aidf marker, is rejected before anything is written to it.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteLedger> {
        let path = path.as_ref();
        let location = path.display().to_string();
        check_path(path, &location)?;
        let conn = Connection::open(path)?;
        // Wait for other openers first (it writes nothing): a process creating the same new
        // file, or switching it to WAL, holds a lock that would otherwise fail `inspect` at once.
        conn.busy_timeout(Duration::from_secs(30))?;
        // Inspect before any pragma that writes (journal_mode=WAL rewrites the header).
        inspect(&conn, &location)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::Corrupt {
                what: location,
                detail: format!("journal_mode is {mode}, wanted wal"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // SQLite's own busy timeout sleeps in steps of up to 100 ms, so a writer that finds the
        // lock taken for a few microseconds waits milliseconds: under many writers (the server's
        // shipments and its audit writer) that, not the work, set the latency. Poll in short
        // sleeps instead, for the same 30 s in all.
        conn.busy_handler(Some(short_busy_wait))?;
        // The page cache's size and the WAL's bound are measured choices (see the constants):
        // with synchronous=NORMAL commits do not fsync, checkpoints do.
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_FRAMES)?;
        // Savepoints (one per shipment of a group) journal the pages they change: in memory,
        // not in a temporary file written through the kernel. The database file is read
        // through a memory map: another connection's commit empties this connection's page
        // cache, and the pages it then reads again cost no system call.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut ledger = SqliteLedger {
            conn,
            location,
            audit: Box::default(),
            checkpointer: None,
            group_audit: Vec::new(),
            group_writes: GroupWrites::default(),
        };
        ledger.migrate()?;
        ledger.checkpointer = Checkpointer::start(path);
        Ok(ledger)
    }

    /// The file path this ledger was opened from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// One page of [`Store::audit_scan`].
    fn scan_page(
        &mut self,
        after: i64,
        upto: i64,
        f: &mut dyn FnMut(&RecordRef<'_>) -> bool,
    ) -> Result<()> {
        let mut st = self.conn.prepare_cached(audit::SCAN_SQL)?;
        let mut rows = st.query(params![after, upto])?;
        while let Some(r) = rows.next()? {
            let t = |i: usize| -> Result<&[u8]> {
                r.get_ref(i)?
                    .as_bytes()
                    .map_err(|e| corrupt_audit(i, &e.to_string()))
            };
            let view = RecordRef {
                seq: r.get(0)?,
                at: r.get(1)?,
                tenant: t(2)?,
                actor: t(3)?,
                action: t(4)?,
                subject: t(5)?,
                input_digest: t(6)?,
                outcome: t(7)?,
                regime_digest: t(8)?,
                prev_hash: t(9)?,
                hash: t(10)?,
                mac: t(11)?,
            };
            if !f(&view) {
                break;
            }
        }
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-inspect under the write lock: another process may have migrated meanwhile.
        let version = inspect(&tx, &self.location)?;
        for m in MIGRATIONS {
            if m.version <= version {
                continue;
            }
            if m.version == 1 {
                tx.execute_batch(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
                     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))",
                )?;
            }
            tx.execute_batch(m.sql)?;
            if let Some(backfill) = m.backfill {
                backfill(&tx)?;
            }
            tx.execute_batch(m.finish)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                params![m.version, m.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Rejects a directory. The file itself is never opened here: closing a descriptor of a SQLite
/// file drops every POSIX lock this process holds on it, including those of ledgers already open
/// on it, and another process closing the file would then take itself for the last user and
/// delete the WAL under them (their later commits were lost). A file that is not SQLite is
/// found by [`inspect`] through SQLite, before anything is written.
fn check_path(path: &Path, location: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(LedgerError::NotALedger {
            location: location.to_owned(),
            reason: "it is a directory".into(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LedgerError::Io {
            path: location.to_owned(),
            source,
        }),
    }
}

/// Returns the applied schema version (0 for an empty database) or an error
/// if the database holds something other than an aidf ledger.
fn inspect(conn: &Connection, location: &str) -> Result<i64> {
    let not_ledger = |reason: String| LedgerError::NotALedger {
        location: location.to_owned(),
        reason,
    };
    let tables: Vec<String> = (|| {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_ledger("not a SQLite database".into()),
        _ => LedgerError::Sqlite(e),
    })?;
    if tables.is_empty() {
        return Ok(0);
    }
    if !tables.iter().any(|t| t == "aidf_ledger")
        || !tables.iter().any(|t| t == "schema_migrations")
    {
        let mut listed = tables.clone();
        listed.sort();
        listed.truncate(5);
        return Err(not_ledger(format!(
            "found tables {listed:?} but no aidf ledger marker"
        )));
    }
    let app: Option<String> = conn
        .query_row(
            "SELECT value FROM aidf_ledger WHERE key = 'application'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if app.as_deref() != Some(APPLICATION) {
        return Err(not_ledger(format!("marker is {app:?}")));
    }
    let version: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let supported = MIGRATIONS.last().map_or(0, |m| m.version);
    if version > supported {
        return Err(LedgerError::SchemaTooNew {
            location: location.to_owned(),
            found: version,
            supported,
        });
    }
    Ok(version)
}

fn is_busy(e: &LedgerError) -> bool {
    matches!(e, LedgerError::Sqlite(err) if matches!(err.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)))
}

const ACCOUNT_COLS: &str = "key, kind, cap, posted, pending, created_at";

fn account_row(r: &Row<'_>) -> rusqlite::Result<(String, String, Option<i64>, i64, i64, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_account(row: (String, String, Option<i64>, i64, i64, i64)) -> Result<Account> {
    let (key, kind, cap, posted, pending, created_at) = row;
    Ok(Account {
        kind: AccountKind::parse(&kind)?,
        cap: cap.map(|c| validate::to_u64(&key, c)).transpose()?,
        posted: validate::to_u64(&key, posted)?,
        pending: validate::to_u64(&key, pending)?,
        created_at: Timestamp(created_at),
        key,
    })
}

const HOLD_COLS: &str =
    "op_id, account, amount, expires_at, hold_state, at, determination_id, regime_digest, memo";

fn hold_row(r: &Row<'_>) -> rusqlite::Result<HoldRow> {
    Ok(HoldRow {
        pending_id: r.get(0)?,
        account: r.get(1)?,
        amount: r.get(2)?,
        expires_at: r.get(3)?,
        state: r.get(4)?,
        at: r.get(5)?,
        determination_id: r.get(6)?,
        regime_digest: r.get(7)?,
        memo: r.get(8)?,
    })
}

/// A hold as read from `ops` (shared with the PostgreSQL backend).
pub(crate) struct HoldRow {
    pub pending_id: String,
    pub account: String,
    pub amount: i64,
    pub expires_at: Option<i64>,
    pub state: Option<String>,
    pub at: i64,
    pub determination_id: Option<String>,
    pub regime_digest: Option<String>,
    pub memo: Option<String>,
}

impl HoldRow {
    pub(crate) fn into_hold(self) -> Result<Hold> {
        Ok(Hold {
            amount: validate::to_u64(&self.pending_id, self.amount)?,
            expires_at: self.expires_at.map(Timestamp),
            state: HoldState::parse(self.state.as_deref().unwrap_or("?"))?,
            at: Timestamp(self.at),
            meta: meta_of(
                self.determination_id,
                self.regime_digest,
                self.memo.as_deref(),
            )?,
            pending_id: self.pending_id,
            account: self.account,
        })
    }
}

fn stored_op_row(r: &Row<'_>) -> rusqlite::Result<StoredOp> {
    Ok(StoredOp {
        op_id: r.get(0)?,
        kind: r.get(1)?,
        account: r.get(2)?,
        amount: r.get(3)?,
        expires_at: r.get(4)?,
        at: r.get(5)?,
        pending_id: r.get(6)?,
        req_amount: r.get(7)?,
        cap: r.get(8)?,
        old_cap: r.get(9)?,
        released: r.get(10)?,
        bal_cap: r.get(11)?,
        bal_posted: r.get(12)?,
        bal_pending: r.get(13)?,
        determination_id: r.get(14)?,
        regime_digest: r.get(15)?,
        memo: r.get(16)?,
    })
}

/// [`TxOps`] over an open `BEGIN IMMEDIATE` transaction.
struct SqlTx<'a>(&'a Connection);

impl TxOps for SqlTx<'_> {
    fn lock_accounts(&mut self, keys: &[&str]) -> Result<Vec<Account>> {
        // The IMMEDIATE transaction already holds the database write lock.
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE key = ?1"
        ))?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(row) = stmt.query_row([key], account_row).optional()? {
                out.push(to_account(row)?);
            }
        }
        Ok(out)
    }

    fn insert_account(&mut self, a: &Account) -> Result<()> {
        let cap = a.cap.map(|c| validate::to_i64(&a.key, c)).transpose()?;
        self.0
            .prepare_cached("INSERT INTO accounts (key, kind, cap, posted, pending, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![
                a.key,
                a.kind.as_str(),
                cap,
                validate::to_i64(&a.key, a.posted)?,
                validate::to_i64(&a.key, a.pending)?,
                a.created_at.0
            ])?;
        Ok(())
    }

    fn update_account(&mut self, a: &Account) -> Result<()> {
        let cap = a.cap.map(|c| validate::to_i64(&a.key, c)).transpose()?;
        self.0
            .prepare_cached(
                "UPDATE accounts SET cap = ?2, posted = ?3, pending = ?4 WHERE key = ?1",
            )?
            .execute(params![
                a.key,
                cap,
                validate::to_i64(&a.key, a.posted)?,
                validate::to_i64(&a.key, a.pending)?
            ])?;
        Ok(())
    }

    fn get_op(&mut self, op_id: &str) -> Result<Option<StoredOp>> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {STORED_OP_COLS} FROM ops WHERE op_id = ?1"
            ))?
            .query_row([op_id], stored_op_row)
            .optional()?)
    }

    fn insert_op(&mut self, op: &NewOp<'_>) -> Result<bool> {
        let inserted = self
            .0
            .prepare_cached(&format!(
                "INSERT INTO ops ({OP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 ?12, ?13, ?14, ?15, ?16, ?17, ?18) ON CONFLICT (op_id) DO NOTHING"
            ))?
            .execute(params![
                op.op_id,
                op.kind,
                op.account,
                op.amount,
                op.expires_at,
                op.hold_state,
                op.at,
                op.pending_id,
                op.req_amount,
                op.cap,
                op.old_cap,
                op.released,
                op.bal_cap,
                op.bal_posted,
                op.bal_pending,
                op.determination_id,
                op.regime_digest,
                op.memo
            ])?;
        Ok(inserted == 1)
    }

    fn get_hold(&mut self, pending_id: &str) -> Result<Option<Hold>> {
        let row = self
            .0
            .prepare_cached(&format!(
                "SELECT {HOLD_COLS} FROM ops WHERE op_id = ?1 AND kind = 'reserve'"
            ))?
            .query_row([pending_id], hold_row)
            .optional()?;
        row.map(HoldRow::into_hold).transpose()
    }

    fn set_hold_state(&mut self, pending_id: &str, state: HoldState) -> Result<()> {
        self.0
            .prepare_cached("UPDATE ops SET hold_state = ?2 WHERE op_id = ?1 AND kind = 'reserve'")?
            .execute(params![pending_id, state.as_str()])?;
        Ok(())
    }

    fn due_holds(&mut self, account: &str, now: Timestamp) -> Result<Vec<Hold>> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {HOLD_COLS} FROM ops WHERE account = ?1 AND hold_state = 'pending' \
             AND expires_at IS NOT NULL AND expires_at <= ?2 ORDER BY expires_at, op_id"
        ))?;
        let rows = stmt
            .query_map(params![account, now.0], hold_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(HoldRow::into_hold).collect()
    }

    fn due_accounts(&mut self, now: Timestamp) -> Result<Vec<String>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT DISTINCT account FROM ops WHERE hold_state = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?1",
        )?;
        Ok(stmt
            .query_map([now.0], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
    }

    fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<()> {
        let memo = e
            .meta
            .memo
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        self.0
            .prepare_cached(
                "INSERT INTO entries (op_id, kind, account, posted_delta, pending_delta, cap, pending_id, at, \
                 determination_id, regime_digest, memo, business_date) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                e.op_id,
                e.kind.as_str(),
                e.account,
                e.posted_delta,
                e.pending_delta,
                e.cap,
                e.pending_id,
                e.at,
                e.meta.determination_id,
                e.meta.regime_digest,
                memo,
                e.business_date
            ])?;
        Ok(())
    }

    fn get_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>> {
        Ok(self
            .0
            .prepare_cached(&format!("SELECT body FROM {} WHERE id = ?1", table.name()))?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    fn update_record(&mut self, table: RecordTable, id: &str, body: &str) -> Result<()> {
        self.0
            .prepare_cached(&format!(
                "UPDATE {} SET body = ?2 WHERE id = ?1",
                table.name()
            ))?
            .execute(params![id, body])?;
        Ok(())
    }

    fn insert_record(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.0
            .prepare_cached(&format!(
                "INSERT INTO {} (id, body, created_at) VALUES (?1, ?2, ?3)",
                table.name()
            ))?
            .execute(params![id, body, at.0])?;
        Ok(())
    }

    fn insert_record_if_absent(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.0
            .prepare_cached(&format!(
                "INSERT INTO {} (id, body, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                table.name()
            ))?
            .execute(params![id, body, at.0])?;
        Ok(())
    }

    fn insert_shipment(&mut self, c: &Columns, id: &str, body: &str, at: Timestamp) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO shipments (id, body, created_at, tenant, status, business_date, \
                 destination, consignee, consignee_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id,
                body,
                at.0,
                c.tenant,
                c.status,
                c.business_date,
                c.destination,
                c.consignee,
                c.consignee_key
            ])?;
        if let Some(v) = &c.veu {
            insert_veu(self.0, &c.tenant, v)?;
        }
        Ok(())
    }
}

fn entry_row(r: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        seq: r.get(0)?,
        op_id: r.get(1)?,
        kind: r.get(2)?,
        account: r.get(3)?,
        posted_delta: r.get(4)?,
        pending_delta: r.get(5)?,
        cap: r.get(6)?,
        pending_id: r.get(7)?,
        at: r.get(8)?,
        determination_id: r.get(9)?,
        regime_digest: r.get(10)?,
        memo: r.get(11)?,
        business_date: r.get(12)?,
    })
}

/// An `entries` row as stored (shared with the PostgreSQL backend).
pub(crate) struct EntryRow {
    pub seq: i64,
    pub op_id: Option<String>,
    pub kind: String,
    pub account: String,
    pub posted_delta: i64,
    pub pending_delta: i64,
    pub cap: Option<i64>,
    pub pending_id: Option<String>,
    pub at: i64,
    pub determination_id: Option<String>,
    pub regime_digest: Option<String>,
    pub memo: Option<String>,
    pub business_date: Option<String>,
}

impl EntryRow {
    pub(crate) fn into_entry(self) -> Result<Entry> {
        let memo = self
            .memo
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| LedgerError::Corrupt {
                what: "entries.memo".into(),
                detail: e.to_string(),
            })?;
        Ok(Entry {
            seq: self.seq,
            kind: EntryKind::parse(&self.kind)?,
            cap: self
                .cap
                .map(|c| validate::to_u64(&self.account, c))
                .transpose()?,
            op_id: self.op_id,
            account: self.account,
            posted_delta: self.posted_delta,
            pending_delta: self.pending_delta,
            pending_id: self.pending_id,
            at: Timestamp(self.at),
            business_date: self.business_date,
            meta: Meta {
                determination_id: self.determination_id,
                regime_digest: self.regime_digest,
                memo,
            },
        })
    }
}

pub(crate) const ENTRY_COLS: &str = "seq, op_id, kind, account, posted_delta, pending_delta, cap, pending_id, at, determination_id, regime_digest, memo, business_date";

/// SQLite's UTC date of an entry's `at` (milliseconds), for business-date balances.
const SQLITE_DATE_OF_AT: &str = "strftime('%Y-%m-%d', at / 1000, 'unixepoch')";

/// The cap in force by `on` (a condition on parameter 2): the latest `open`/`cap` entry that
/// meets it, or else the opening cap. Sums use SUM, which fails on overflow (TOTAL would round).
pub(crate) fn as_of_cap(on: &str) -> String {
    format!(
        "SELECT cap FROM entries WHERE account = $1 AND kind IN ('open', 'cap') \
         ORDER BY ({on}) DESC, CASE WHEN {on} THEN seq END DESC, seq ASC LIMIT 1"
    )
}

/// Runs a write transaction, retrying when the database stays busy, and wakes the
/// checkpointer after a commit.
fn checkpointed<R>(
    checkpointer: Option<&Checkpointer>,
    mut run: impl FnMut() -> Result<R>,
) -> Result<R> {
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = run();
            if res.is_ok()
                && let Some(c) = checkpointer
            {
                c.poke();
            }
            match res {
                Err(e) if is_busy(&e) && attempt < BUSY_RETRIES => continue,
                Err(e) if is_busy(&e) => {
                    return Err(LedgerError::RetriesExhausted {
                        attempts: attempt,
                        source: Box::new(e),
                    });
                }
                other => return other,
            }
        }
    }
}

/// Runs reads `f` in one snapshot: inside the open transaction (a group's, or the planner's read
/// snapshot), which already is one, else in a read transaction of its own ([`in_savepoint`]).
/// Inside a transaction the savepoint would only cost two statements: reads have nothing to
/// undo. The planner's reads of every shipment ran those two, in a snapshot already held.
fn in_read_snapshot<R>(conn: &Connection, f: impl FnOnce() -> Result<R>) -> Result<R> {
    if conn.is_autocommit() {
        in_savepoint(conn, f)
    } else {
        f()
    }
}

/// Runs `f` in a savepoint: nested in the open transaction, or a deferred transaction of its own
/// outside one. Undone if `f` fails. Its statements are prepared once per connection (rusqlite's
/// `Savepoint` parses them on every use, which showed in the shipment writer's profile).
fn in_savepoint<R>(conn: &Connection, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let run = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    run("SAVEPOINT aidf")?;
    match f() {
        Ok(out) => {
            run("RELEASE aidf")?;
            Ok(out)
        }
        Err(e) => {
            run("ROLLBACK TO aidf")?;
            run("RELEASE aidf")?;
            Err(e)
        }
    }
}

fn corrupt_audit(column: usize, detail: &str) -> LedgerError {
    LedgerError::Corrupt {
        what: format!("aidf_audit column {column}"),
        detail: detail.to_owned(),
    }
}

fn insert_outbox(c: &Connection, r: &NewAudit) -> Result<()> {
    let e = &r.event;
    c.prepare_cached(audit::OUTBOX_INSERT_SQL)?
        .execute(params![
            r.at,
            r.tenant,
            r.actor,
            e.action,
            e.subject,
            e.input_digest,
            e.outcome,
            e.regime_digest
        ])?;
    Ok(())
}

fn audit_record_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        tenant: r.get(2)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        subject: r.get(5)?,
        input_digest: r.get(6)?,
        outcome: r.get(7)?,
        regime_digest: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
        mac: r.get(11)?,
    })
}

fn outbox_row(r: &Row<'_>) -> rusqlite::Result<(i64, NewAudit)> {
    Ok((
        r.get(0)?,
        NewAudit {
            at: r.get(1)?,
            tenant: r.get(2)?,
            actor: r.get(3)?,
            event: AuditEvent {
                action: r.get(4)?,
                subject: r.get(5)?,
                input_digest: r.get(6)?,
                outcome: r.get(7)?,
                regime_digest: r.get(8)?,
            },
        },
    ))
}

/// Whether the audit outbox holds any row ([`audit::OUTBOX_ANY_SQL`]).
fn outbox_any(c: &Connection) -> Result<bool> {
    Ok(c.prepare_cached(audit::OUTBOX_ANY_SQL)?
        .query_row([], |r| r.get(0))?)
}

/// One chaining inside the caller's `BEGIN IMMEDIATE` transaction (which is the chain lock).
fn chain_tx(
    c: &Connection,
    key: &AuditKey,
    direct: &[NewAudit],
    limit: i64,
    checkpoint: bool,
) -> Result<Chained> {
    let head: Option<(i64, String)> = c
        .prepare_cached(audit::HEAD_SQL)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // In a group the outbox is nearly always empty: its own records wait in memory.
    let drained = match outbox_any(c)? {
        false => Vec::new(),
        true => c
            .prepare_cached(audit::OUTBOX_DRAIN_SQL)?
            .query_map([limit], outbox_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    let plan = audit::plan(key, head, drained, direct, checkpoint);
    for rows in plan.records.chunks(audit::ROWS_PER_INSERT) {
        let mut st = c.prepare_cached(audit::insert_sql(rows.len()))?;
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 12);
        for r in rows {
            params.extend_from_slice(&audit::record_values!(r));
        }
        st.execute(params.as_slice())?;
    }
    if let Some(cp) = &plan.checkpoint {
        c.prepare_cached(audit::CHECKPOINT_INSERT_SQL)?
            .execute(params![cp.records, cp.head_hash, cp.at, cp.mac])?;
    }
    Ok(plan.done())
}

impl Store for SqliteLedger {
    fn write<R>(&mut self, f: &mut WriteFn<'_, R>) -> Result<R> {
        let ctx = &self.audit;
        let conn = &mut self.conn;
        if !conn.is_autocommit() {
            // Inside a group (see `group_begin`): undone alone if `f` fails (see `GroupWrites`),
            // made durable by the group's commit. The group's own end wakes the checkpointer.
            // Its audit record waits with the group's others, which are chained or put in the
            // outbox before that commit (see `group_end`).
            let (out, event) = match self.group_writes {
                GroupWrites::Savepoints => in_savepoint(conn, || f(&mut SqlTx(conn)))?,
                GroupWrites::Tainted => return Err(LedgerError::GroupRedone),
                GroupWrites::Bare => {
                    let changed_before = conn.total_changes();
                    let done = f(&mut SqlTx(conn));
                    // A failed statement undoes itself; rows of the write's earlier statements
                    // stay, and only undoing the whole group removes them.
                    if done.is_err() && conn.total_changes() != changed_before {
                        self.group_writes = GroupWrites::Tainted;
                    }
                    done?
                }
            };
            if let Some(event) = event {
                self.group_audit.push(NewAudit::now(ctx, event));
            }
            return Ok(out);
        }
        checkpointed(self.checkpointer.as_ref(), || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (out, event) = f(&mut SqlTx(&tx))?;
            if let Some(event) = event {
                insert_outbox(&tx, &NewAudit::now(ctx, event))?;
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn group_begin(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            return Err(LedgerError::Corrupt {
                what: self.location.clone(),
                detail: "a group was begun inside an open transaction".into(),
            });
        }
        // The write lock for the whole group (the busy handler waits for it).
        // The last group's end or abort took its records.
        debug_assert!(
            self.group_audit.is_empty(),
            "audit records of another group"
        );
        self.group_writes = GroupWrites::Bare;
        checkpointed(None, || Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?))
    }

    fn group_redo(&mut self) -> Result<bool> {
        if self.group_writes != GroupWrites::Tainted {
            return Ok(false);
        }
        self.group_abort()?;
        self.group_begin()?;
        self.group_writes = GroupWrites::Savepoints;
        Ok(true)
    }

    fn group_end(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        // The records not chained in the group go to the outbox, in the same commit.
        let unchained = std::mem::take(&mut self.group_audit);
        let outboxed = unchained
            .iter()
            .try_for_each(|r| insert_outbox(&self.conn, r));
        if let Err(e) = outboxed.and_then(|()| Ok(self.conn.execute_batch("COMMIT")?)) {
            // A failed COMMIT can leave the transaction open: undo all of it.
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(e);
        }
        if let Some(c) = self.checkpointer.as_ref() {
            c.poke();
        }
        Ok(())
    }

    fn group_abort(&mut self) -> Result<()> {
        self.group_audit.clear();
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    fn snapshot_begin(&mut self) -> Result<bool> {
        if !self.conn.is_autocommit() {
            return Ok(false);
        }
        self.conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(true)
    }

    fn snapshot_end(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(())
    }

    fn audit_context_mut(&mut self) -> &mut AuditContext {
        &mut self.audit
    }

    fn audit_chain(
        &mut self,
        key: &AuditKey,
        direct: &[NewAudit],
        limit: i64,
        checkpoint: bool,
    ) -> Result<Chained> {
        let conn = &mut self.conn;
        if !conn.is_autocommit() {
            if self.group_writes == GroupWrites::Tainted {
                return Err(LedgerError::GroupRedone);
            }
            // Inside a group (see `group_begin`): the outbox and then the group's own records
            // are chained in its transaction, under the write lock it holds, and commit with
            // it; a failure undoes only the chaining, and the group's records go to the outbox
            // at its end, for the audit writer.
            let mut rows = std::mem::take(&mut self.group_audit);
            let own = rows.len();
            rows.extend_from_slice(direct);
            let chained = in_savepoint(conn, || chain_tx(conn, key, &rows, limit, checkpoint));
            if chained.is_err() {
                rows.truncate(own);
                self.group_audit = rows;
            }
            return chained;
        }
        if direct.is_empty() && !checkpoint && !outbox_any(conn)? {
            // Nothing waits and nothing is to be signed: the write lock is not taken. An idle
            // audit writer looks every 50 ms; taking the lock each time, it polled for it
            // against a busy shipment writer (1,700 sleeps a second) and then held it up.
            return Ok(Chained::default());
        }
        checkpointed(self.checkpointer.as_ref(), || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = chain_tx(&tx, key, direct, limit, checkpoint)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn audit_scan(
        &mut self,
        after: i64,
        upto: i64,
        f: &mut dyn FnMut(&RecordRef<'_>) -> bool,
    ) -> Result<()> {
        // A verification reads the whole chain once: through a small page cache and without the
        // memory map, so that it runs in constant memory instead of filling the writer-sized
        // cache or mapping every page of the chain into the process (490 MiB resident for a
        // chain of 1,000,000 records, scripts/bench-audit.sh).
        self.conn
            .pragma_update(None, "cache_size", SCAN_CACHE_KIB)?;
        self.conn.pragma_update(None, "mmap_size", 0)?;
        let scanned = self.scan_page(after, upto, f);
        let restored = self
            .conn
            .pragma_update(None, "cache_size", CACHE_KIB)
            .and_then(|()| self.conn.pragma_update(None, "mmap_size", MMAP_BYTES));
        scanned?;
        Ok(restored?)
    }

    fn audit_head(&mut self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM aidf_audit", [], |r| {
                r.get(0)
            })?)
    }

    fn audit_checkpoints(&mut self, after: i64, upto: i64) -> Result<Vec<Checkpoint>> {
        let mut st = self.conn.prepare_cached(audit::CHECKPOINTS_SQL)?;
        let rows = st.query_map(params![after, upto], |r| {
            Ok(Checkpoint {
                records: r.get(0)?,
                head_hash: r.get(1)?,
                at: r.get(2)?,
                mac: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn audit_checkpointed(&mut self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(records), 0) FROM aidf_audit_checkpoints",
            [],
            |r| r.get(0),
        )?)
    }

    fn audit_list(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>> {
        let mut st = self.conn.prepare_cached(audit::LIST_SQL)?;
        let rows = st.query_map(params![tenant, limit], audit_record_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn audit_find(&mut self, action: &str, subject: &str) -> Result<Option<AuditRecord>> {
        let mut st = self.conn.prepare_cached(audit::SUBJECT_SQL)?;
        Ok(st
            .query_row(params![subject, action], audit_record_row)
            .optional()?)
    }

    fn audit_outbox_len(&mut self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM aidf_audit_outbox", [], |r| r.get(0))?)
    }

    fn read_account(&mut self, key: &str) -> Result<Option<Account>> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE key = ?1"
            ))?
            .query_row([key], account_row)
            .optional()?;
        row.map(to_account).transpose()
    }

    fn read_live(&mut self, keys: &[&str], now: Timestamp) -> Result<Vec<Option<Account>>> {
        // One snapshot: a read transaction of its own, or the open one.
        let conn = &self.conn;
        let found = in_read_snapshot(conn, || {
            let mut found = Vec::with_capacity(keys.len());
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS}, (SELECT COALESCE(SUM(o.amount), 0) FROM ops o \
                 WHERE o.account = a.key AND o.hold_state = 'pending' AND o.expires_at IS NOT NULL \
                 AND o.expires_at <= ?2) FROM accounts a WHERE a.key = ?1"
            ))?;
            for key in keys {
                let row = stmt
                    .query_row(params![key, now.0], |r| {
                        Ok((account_row(r)?, r.get::<_, i64>(6)?))
                    })
                    .optional()?;
                if let Some((row, due)) = row {
                    found.push((to_account(row)?, due));
                }
            }
            Ok(found)
        })?;
        crate::live_accounts(keys, found)
    }

    fn read_accounts(&mut self) -> Result<Vec<Account>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY key"))?;
        let rows = stmt
            .query_map([], account_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(to_account).collect()
    }

    fn read_as_of(&mut self, key: &str, clock: &Clock) -> Result<AsOf> {
        let on = clock.entries_on(SQLITE_DATE_OF_AT);
        let bound: Box<dyn rusqlite::ToSql> = match clock {
            Clock::Recorded(t) => Box::new(t.0),
            Clock::Business { date, .. } => Box::new(date.clone()),
        };
        let until = clock.holds_until().0;
        // One snapshot for the three queries: a read transaction of its own, or the open one.
        let tx = &self.conn;
        let (posted_sum, pending_sum, cap, unswept_due) = in_read_snapshot(tx, || {
            let (posted_sum, pending_sum): (i64, i64) = tx
                .prepare_cached(&format!(
                    "SELECT COALESCE(SUM(posted_delta), 0), COALESCE(SUM(pending_delta), 0) \
                 FROM entries WHERE account = $1 AND {on}"
                ))?
                .query_row(params![key, bound], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let cap: Option<i64> = tx
                .prepare_cached(&as_of_cap(&on))?
                .query_row(params![key, bound], |r| r.get(0))
                .optional()?
                .flatten();
            let unswept_due: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(SUM(amount), 0) FROM ops WHERE account = ?1 AND hold_state = 'pending' \
                 AND at <= ?2 AND expires_at IS NOT NULL AND expires_at <= ?2",
            )?
            .query_row(params![key, until], |r| r.get(0))?;
            Ok((posted_sum, pending_sum, cap, unswept_due))
        })?;
        Ok(AsOf {
            posted_sum,
            pending_sum,
            cap,
            unswept_due,
        })
    }

    fn read_history(&mut self, key: &str) -> Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLS} FROM entries WHERE account = ?1 ORDER BY seq"
        ))?;
        let rows = stmt
            .query_map([key], entry_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    fn read_op(&mut self, op_id: &str) -> Result<Option<StoredOp>> {
        SqlTx(&self.conn).get_op(op_id)
    }

    fn read_hold(&mut self, pending_id: &str) -> Result<Option<Hold>> {
        SqlTx(&self.conn).get_hold(pending_id)
    }

    fn read_sums(&mut self) -> Result<Sums> {
        // One snapshot: a read transaction of its own, or the open one.
        let tx = &self.conn;
        in_read_snapshot(tx, || {
            let mut sums = Sums::default();
            {
                let mut stmt = tx.prepare(
                "SELECT account, SUM(posted_delta), SUM(pending_delta) FROM entries GROUP BY account",
            )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?;
                for row in rows {
                    let (k, p, q) = row?;
                    sums.entries.insert(k, (p, q));
                }
                let mut stmt =
                tx.prepare("SELECT account, SUM(amount) FROM ops WHERE hold_state = 'pending' GROUP BY account")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                let mut holds = HashMap::new();
                for row in rows {
                    let (k, s) = row?;
                    holds.insert(k, s);
                }
                sums.holds = holds;
                sums.ops_count = tx.query_row("SELECT COUNT(*) FROM ops", [], |r| r.get(0))?;
                sums.op_entries_count = tx.query_row(
                    "SELECT COUNT(*) FROM entries WHERE op_id IS NOT NULL",
                    [],
                    |r| r.get(0),
                )?;
            }
            Ok(sums)
        })
    }

    fn read_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>> {
        SqlTx(&self.conn).get_record(table, id)
    }

    fn read_records_range(
        &mut self,
        table: RecordTable,
        from: &str,
        before: &str,
    ) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT body FROM {} WHERE id >= ?1 AND id < ?2 ORDER BY id",
            table.name()
        ))?;
        Ok(stmt
            .query_map([from, before], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
    }

    fn read_page(&mut self, q: &PageSql) -> Result<Vec<crate::register::PageRow>> {
        let values: Vec<rusqlite::types::Value> = q
            .params
            .iter()
            .map(|p| match p {
                Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
                Param::Int(i) => rusqlite::types::Value::Integer(*i),
            })
            .collect();
        let mut stmt = self.conn.prepare_cached(&q.sql)?;
        Ok(stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn read_veu_period(&mut self, tenant: &str, from: &str, to: &str) -> Result<Vec<VeuShipment>> {
        let mut stmt = self
            .conn
            .prepare_cached(&crate::register::veu_period_sql(Self::PLACEHOLDER))?;
        Ok(stmt
            .query_map(params![tenant, from, to], veu_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn read_consignees(&mut self, tenant: &str) -> Result<Vec<(String, String, i64, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT consignee_key, MIN(consignee), COUNT(*), SUM(status = 'refused') \
             FROM shipments WHERE tenant = ?1 AND consignee_key IS NOT NULL GROUP BY consignee_key",
        )?;
        Ok(stmt
            .query_map([tenant], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn read_records(&mut self, table: RecordTable) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT body FROM {} ORDER BY id", table.name()))?;
        Ok(stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mmap_size(ledger: &SqliteLedger) -> i64 {
        ledger
            .conn
            .query_row("PRAGMA mmap_size", [], |r| r.get(0))
            .expect("mmap_size")
    }

    /// SQLite clamps the map to the limit it was built with (2 GiB unless `.cargo/config.toml`'s
    /// `SQLITE_MAX_MMAP_SIZE` reached its build): then a large ledger would be read past the map
    /// with a system call a page. Also after a verification, which reads without the map.
    #[test]
    fn opens_with_the_whole_file_mapped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ledger = SqliteLedger::open(dir.path().join("ledger.db")).expect("open");
        assert_eq!(
            mmap_size(&ledger),
            MMAP_BYTES,
            "SQLite was built without the larger SQLITE_MAX_MMAP_SIZE of .cargo/config.toml"
        );
        ledger
            .audit_scan(0, i64::MAX, &mut |_| true)
            .expect("audit scan");
        assert_eq!(mmap_size(&ledger), MMAP_BYTES);
    }
}
