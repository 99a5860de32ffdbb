//! PostgreSQL backend for ledgers shared by several processes.
//!
//! Concurrency: READ COMMITTED transactions that first lock every touched
//! account row with `SELECT … ORDER BY key FOR UPDATE` (stable order, so no
//! lock-order deadlocks), then read ops/holds under those locks. A shipment
//! holds the balances it only read `FOR SHARE` and those it writes `FOR
//! UPDATE`, one pass in key order, so shipments that read the same allocation
//! without drawing it run side by side. The whole
//! transaction is retried, a bounded number of times, on serialization
//! failure (40001), deadlock (40P01) and unique violation (23505: a concurrent
//! transaction inserted the same op id, account or record first; the retry
//! sees the committed row and replays or reports the mismatch).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row, Statement, Transaction};

use crate::audit::{
    self, AuditContext, AuditEvent, AuditKey, AuditRecord, Checkpoint, NewAudit, RecordRef,
};
use crate::engine::{
    NewEntry, NewOp, OP_COLS, RecordTable, STORED_OP_COLS, StoredOp, TxOps, V2_OP_COLS,
    upgrade_v1_op,
};
use crate::error::{LedgerError, Result};
use crate::register::{Columns, PageSql, Param, VeuShipment};
use crate::sqlite::{ENTRY_COLS, EntryRow, HoldRow, as_of_cap};
use crate::types::{Account, AccountKind, Entry, Hold, HoldState, Timestamp};
use crate::{AsOf, Chained, Clock, Store, Sums, WriteFn, validate};

/// PostgreSQL's UTC date of an entry's `at` (milliseconds), for business-date balances.
const PG_DATE_OF_AT: &str = "to_char(to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

const APPLICATION: &str = "aidf-ledger";

/// Advisory lock key serialising migrations across processes.
const MIGRATION_LOCK: i64 = 0x6169_6466_6c65_6467; // "aidfledg"

/// Retries of a whole transaction on a transient conflict.
const MAX_ATTEMPTS: u32 = 32;

/// Numbered migrations; append only, never edit a released one.
/// Schema version 1.
const MIGRATION_1: &str = r#"
CREATE TABLE aidf_ledger (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO aidf_ledger (key, value) VALUES ('application', 'aidf-ledger');
CREATE TABLE accounts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    cap BIGINT CHECK (cap IS NULL OR cap >= 0),
    posted BIGINT NOT NULL CHECK (posted >= 0),
    pending BIGINT NOT NULL CHECK (pending >= 0),
    created_at BIGINT NOT NULL,
    CHECK (cap IS NULL OR posted::numeric + pending <= cap)
);
CREATE TABLE ops (
    op_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    expires_at BIGINT,
    hold_state TEXT CHECK (hold_state IN ('pending', 'posted', 'voided', 'expired')),
    fields TEXT NOT NULL,
    result TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX ops_due ON ops (account, expires_at) WHERE hold_state = 'pending' AND expires_at IS NOT NULL;
CREATE TABLE entries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    op_id TEXT,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    posted_delta BIGINT NOT NULL,
    pending_delta BIGINT NOT NULL,
    cap BIGINT,
    pending_id TEXT,
    at BIGINT NOT NULL,
    determination_id TEXT,
    regime_digest TEXT,
    memo TEXT
);
CREATE INDEX entries_account ON entries (account, seq);
CREATE FUNCTION aidf_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$fn$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
CREATE TABLE licenses (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE veus (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE g2g_arrangements (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE shipments (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TRIGGER shipments_append_only BEFORE UPDATE OR DELETE ON shipments
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
"#;

/// Schema version 2: ops store their canonical fields and result as plain
/// columns instead of JSON (smaller rows, no JSON on the write path).
const MIGRATION_2: &str = r#"
ALTER TABLE ops
    ADD COLUMN pending_id TEXT,
    ADD COLUMN req_amount BIGINT CHECK (req_amount >= 0),
    ADD COLUMN cap BIGINT CHECK (cap >= 0),
    ADD COLUMN old_cap BIGINT CHECK (old_cap >= 0),
    ADD COLUMN released BIGINT CHECK (released >= 0),
    ADD COLUMN bal_cap BIGINT CHECK (bal_cap >= 0),
    ADD COLUMN bal_posted BIGINT CHECK (bal_posted >= 0),
    ADD COLUMN bal_pending BIGINT CHECK (bal_pending >= 0),
    ADD COLUMN determination_id TEXT,
    ADD COLUMN regime_digest TEXT,
    ADD COLUMN memo TEXT;
"#;

/// After the backfill of migration 2.
const MIGRATION_2_FINISH: &str = "ALTER TABLE ops DROP COLUMN fields, DROP COLUMN result;";

/// Schema version 3: the audit log moves into the ledger (see the SQLite migration 3). The
/// server's old row trigger is replaced by the ledger's, and TRUNCATE is blocked too.
const MIGRATION_3: &str = r#"
CREATE TABLE IF NOT EXISTS aidf_audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL,
    tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, input_digest TEXT NOT NULL,
    outcome TEXT NOT NULL, regime_digest TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
ALTER TABLE aidf_audit ADD COLUMN subject TEXT NOT NULL DEFAULT '',
    ADD COLUMN mac TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS aidf_audit_tenant ON aidf_audit (tenant, seq);
DROP TRIGGER IF EXISTS aidf_audit_no_change ON aidf_audit;
DROP FUNCTION IF EXISTS aidf_audit_append_only();
CREATE TRIGGER aidf_audit_append_only BEFORE UPDATE OR DELETE ON aidf_audit
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER aidf_audit_no_truncate BEFORE TRUNCATE ON aidf_audit
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
CREATE TABLE aidf_audit_outbox (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL, tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, input_digest TEXT NOT NULL, outcome TEXT NOT NULL,
    regime_digest TEXT NOT NULL);
CREATE TRIGGER aidf_audit_outbox_no_truncate BEFORE TRUNCATE ON aidf_audit_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
CREATE TABLE aidf_audit_checkpoints (records BIGINT PRIMARY KEY, head_hash TEXT NOT NULL,
    at BIGINT NOT NULL, mac TEXT NOT NULL);
CREATE TRIGGER aidf_audit_checkpoints_append_only BEFORE UPDATE OR DELETE
    ON aidf_audit_checkpoints FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER aidf_audit_checkpoints_no_truncate BEFORE TRUNCATE ON aidf_audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
"#;

/// Schema version 4: the party registry (consignees and other parties by stable id, per tenant).
const MIGRATION_4: &str = r#"
CREATE TABLE parties (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
ALTER TABLE entries ADD COLUMN business_date TEXT;
"#;

/// Schema version 5: the shipment register (see the SQLite migration 5). The append-only
/// trigger is lifted for the backfill and put back.
const MIGRATION_5: &str = r#"
DROP TRIGGER shipments_append_only ON shipments;
ALTER TABLE shipments
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'local',
    ADD COLUMN status TEXT NOT NULL DEFAULT 'refused',
    ADD COLUMN business_date TEXT,
    ADD COLUMN destination TEXT,
    ADD COLUMN consignee TEXT,
    ADD COLUMN consignee_key TEXT;
"#;

/// After the backfill of migration 5.
const MIGRATION_5_FINISH: &str = r#"
CREATE TRIGGER shipments_append_only BEFORE UPDATE OR DELETE ON shipments
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
-- Newest first within a tenant; business_date rides along, so a date range is filtered from
-- the index in page order (an index on the date itself made the planner sort a whole range).
CREATE INDEX shipments_page ON shipments (tenant, created_at, id, business_date);
CREATE INDEX shipments_status ON shipments (tenant, status, created_at, id);
CREATE INDEX shipments_consignee ON shipments (tenant, consignee_key, created_at, id);
CREATE INDEX shipments_destination ON shipments (tenant, destination, created_at, id);
CREATE INDEX aidf_audit_subject ON aidf_audit (subject, seq);
"#;

/// Schema version 6: license applications (current state; dated transitions, append-only) and
/// license changes (append-only).
const MIGRATION_6: &str = r#"
CREATE TABLE applications (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE application_transitions (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TRIGGER application_transitions_append_only BEFORE UPDATE OR DELETE ON application_transitions
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER application_transitions_no_truncate BEFORE TRUNCATE ON application_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
CREATE TABLE license_changes (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TRIGGER license_changes_append_only BEFORE UPDATE OR DELETE ON license_changes
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER license_changes_no_truncate BEFORE TRUNCATE ON license_changes
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
"#;

/// Schema version 7: the VEU report's rows (see the SQLite migration 7).
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
    quantity BIGINT,
    total_tpp BIGINT,
    PRIMARY KEY (tenant, business_date, shipment_id)
);
CREATE TRIGGER veu_shipments_append_only BEFORE UPDATE OR DELETE ON veu_shipments
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER veu_shipments_no_truncate BEFORE TRUNCATE ON veu_shipments
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
"#;

/// Schema version 8: screening decisions and tenants' screening thresholds, both append-only
/// (see the SQLite migration 8).
const MIGRATION_8: &str = r#"
CREATE TABLE screening_decisions (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TRIGGER screening_decisions_append_only BEFORE UPDATE OR DELETE ON screening_decisions
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER screening_decisions_no_truncate BEFORE TRUNCATE ON screening_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
CREATE TABLE screening_thresholds (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TRIGGER screening_thresholds_append_only BEFORE UPDATE OR DELETE ON screening_thresholds
    FOR EACH ROW EXECUTE FUNCTION aidf_append_only();
CREATE TRIGGER screening_thresholds_no_truncate BEFORE TRUNCATE ON screening_thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION aidf_append_only();
"#;

/// One numbered migration: SQL, then an optional data backfill in Rust, then more SQL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    name: &'static str,
    sql: &'static str,
    backfill: Option<fn(&mut Transaction<'_>) -> Result<()>>,
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
    // SQLite's version 9 rewrites a check PostgreSQL evaluates well as it is: nothing to do.
    Migration {
        version: 9,
        name: "ops_hold_state_check",
        sql: "",
        backfill: None,
        finish: "",
    },
];

/// Fills `veu_shipments` (migration 7) from each stored shipment.
fn backfill_veu_v7(tx: &mut Transaction<'_>) -> Result<()> {
    let rows = tx.query("SELECT body FROM shipments", &[])?;
    let write = tx.prepare(&veu_insert_sql())?;
    for r in rows {
        let body: String = r.try_get(0)?;
        let s: crate::Shipment = serde_json::from_str(&body)?;
        if let Some(v) = VeuShipment::of(&s) {
            let tenant = crate::register::tenant_of(&s).to_string();
            tx.execute(&write, &veu_params(&tenant, &v))?;
        }
    }
    Ok(())
}

/// The insert of a `veu_shipments` row (parameters from [`veu_params`]).
fn veu_insert_sql() -> String {
    format!(
        "INSERT INTO veu_shipments (tenant, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        crate::register::VEU_COLUMNS
    )
}

fn veu_params<'a>(tenant: &'a String, v: &'a VeuShipment) -> [&'a (dyn ToSql + Sync); 11] {
    [
        tenant,
        &v.shipment_id,
        &v.business_date,
        &v.authorization,
        &v.veu_id,
        &v.consignee,
        &v.destination,
        &v.item,
        &v.eccn,
        &v.quantity,
        &v.total_tpp,
    ]
}

/// A `veu_shipments` row as read (columns in `VEU_COLUMNS` order).
fn veu_row(r: &Row) -> std::result::Result<VeuShipment, postgres::Error> {
    Ok(VeuShipment {
        shipment_id: r.try_get(0)?,
        business_date: r.try_get(1)?,
        authorization: r.try_get(2)?,
        veu_id: r.try_get(3)?,
        consignee: r.try_get(4)?,
        destination: r.try_get(5)?,
        item: r.try_get(6)?,
        eccn: r.try_get(7)?,
        quantity: r.try_get(8)?,
        total_tpp: r.try_get(9)?,
    })
}

/// Fills the register columns of migration 5 from each stored shipment.
fn backfill_register_v5(tx: &mut Transaction<'_>) -> Result<()> {
    let rows = tx.query("SELECT id, body FROM shipments", &[])?;
    let write = tx.prepare(
        "UPDATE shipments SET tenant = $2, status = $3, business_date = $4, destination = $5, \
         consignee = $6, consignee_key = $7 WHERE id = $1",
    )?;
    for r in rows {
        let id: String = r.try_get(0)?;
        let body: String = r.try_get(1)?;
        let s: crate::Shipment = serde_json::from_str(&body)?;
        let c = Columns::of(&s);
        tx.execute(
            &write,
            &[
                &id,
                &c.tenant,
                &c.status,
                &c.business_date,
                &c.destination,
                &c.consignee,
                &c.consignee_key,
            ],
        )?;
    }
    Ok(())
}

fn placeholder(n: usize) -> String {
    format!("${n}")
}

impl PgLedger {
    /// How the register's page query spells placeholder `n`.
    pub(crate) const PLACEHOLDER: fn(usize) -> String = placeholder;
}

/// Fills the columns of migration 2 from the JSON of schema 1.
fn backfill_ops_v2(tx: &mut Transaction<'_>) -> Result<()> {
    let rows = tx.query(
        "SELECT op_id, kind, account, amount, expires_at, fields, result FROM ops",
        &[],
    )?;
    let sets: Vec<String> = V2_OP_COLS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 2))
        .collect();
    let write = tx.prepare(&format!(
        "UPDATE ops SET {} WHERE op_id = $1",
        sets.join(", ")
    ))?;
    for r in rows {
        let op_id: String = r.try_get(0)?;
        let kind: String = r.try_get(1)?;
        let account: String = r.try_get(2)?;
        let fields: String = r.try_get(5)?;
        let result: String = r.try_get(6)?;
        let (op, applied) = upgrade_v1_op(
            &op_id,
            &fields,
            &result,
            (&kind, &account, r.try_get(3)?, r.try_get(4)?),
        )?;
        let n = NewOp::new(&op, &applied)?;
        let params: [&(dyn ToSql + Sync); 12] = [
            &op_id,
            &n.pending_id,
            &n.req_amount,
            &n.cap,
            &n.old_cap,
            &n.released,
            &n.bal_cap,
            &n.bal_posted,
            &n.bal_pending,
            &n.determination_id,
            &n.regime_digest,
            &n.memo,
        ];
        tx.execute(&write, &params)?;
    }
    Ok(())
}

const ACCOUNT_COLS: &str = "key, kind, cap, posted, pending, created_at";
const HOLD_COLS: &str =
    "op_id, account, amount, expires_at, hold_state, at, determination_id, regime_digest, memo";

/// Statements prepared once per connection.
#[derive(Debug)]
struct Stmts {
    lock_accounts: Statement,
    lock_account: Statement,
    share_account: Statement,
    insert_account: Statement,
    update_account: Statement,
    get_op: Statement,
    insert_op: Statement,
    get_hold: Statement,
    set_hold_state: Statement,
    due_holds: Statement,
    due_accounts: Statement,
    insert_entry: Statement,
    insert_outbox: Statement,
    /// Statements over the record tables, prepared on first use (by SQL text).
    records: std::sync::Mutex<HashMap<String, Statement>>,
}

/// A ledger in a PostgreSQL database (schema chosen by the connection's `search_path`).
pub struct PgLedger {
    client: Client,
    stmts: Stmts,
    location: String,
    /// Who the audit rows of writes name.
    audit: AuditContext,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Removes the password from a connection URL for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

fn code(e: &LedgerError) -> Option<&SqlState> {
    match e {
        LedgerError::Postgres(pe) => pe.code(),
        _ => None,
    }
}

fn retryable(e: &LedgerError) -> bool {
    matches!(
        code(e),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// Short randomised back-off so that retrying transactions do not collide again.
fn backoff(attempt: u32) {
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 1000;
    let base = 200u64 << attempt.min(6);
    std::thread::sleep(Duration::from_micros(
        base + jitter * u64::from(attempt.min(10)),
    ));
}

impl PgLedger {
    /// Connects to `url` (libpq-style URL; `options=-csearch_path%3Dschema`
    /// selects the schema), checks the schema and applies migrations.
    pub fn open(url: &str) -> Result<PgLedger> {
        let location = redact(url);
        let mut client = Client::connect(url, NoTls)?;
        migrate(&mut client, &location)?;
        let stmts = Stmts {
            lock_accounts: client.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE key = ANY($1) ORDER BY key FOR UPDATE"
            ))?,
            lock_account: client.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE key = $1 FOR UPDATE"
            ))?,
            share_account: client.prepare(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE key = $1 FOR SHARE"
            ))?,
            insert_account: client.prepare(
                "INSERT INTO accounts (key, kind, cap, posted, pending, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )?,
            update_account: client.prepare("UPDATE accounts SET cap = $2, posted = $3, pending = $4 WHERE key = $1")?,
            get_op: client.prepare(&format!("SELECT {STORED_OP_COLS} FROM ops WHERE op_id = $1"))?,
            insert_op: client.prepare(&format!(
                "INSERT INTO ops ({OP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18) ON CONFLICT (op_id) DO NOTHING"
            ))?,
            get_hold: client.prepare(&format!("SELECT {HOLD_COLS} FROM ops WHERE op_id = $1 AND kind = 'reserve'"))?,
            set_hold_state: client.prepare("UPDATE ops SET hold_state = $2 WHERE op_id = $1 AND kind = 'reserve'")?,
            due_holds: client.prepare(&format!(
                "SELECT {HOLD_COLS} FROM ops WHERE account = $1 AND hold_state = 'pending' \
                 AND expires_at IS NOT NULL AND expires_at <= $2 ORDER BY expires_at, op_id"
            ))?,
            due_accounts: client.prepare(
                "SELECT DISTINCT account FROM ops WHERE hold_state = 'pending' \
                 AND expires_at IS NOT NULL AND expires_at <= $1",
            )?,
            insert_entry: client.prepare(
                "INSERT INTO entries (op_id, kind, account, posted_delta, pending_delta, cap, pending_id, at, \
                 determination_id, regime_digest, memo, business_date) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )?,
            insert_outbox: client.prepare(audit::OUTBOX_INSERT_SQL)?,
            records: std::sync::Mutex::default(),
        };
        Ok(PgLedger {
            client,
            stmts,
            location,
            audit: AuditContext::default(),
        })
    }

    /// The connection URL with any password redacted.
    pub fn location(&self) -> &str {
        &self.location
    }
}

fn migrate(client: &mut Client, location: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    // Serialise concurrent openers of a fresh database.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let version = inspect(&mut tx, location)?;
    for m in MIGRATIONS {
        if m.version <= version {
            continue;
        }
        if m.version == 1 {
            tx.batch_execute(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )?;
        }
        tx.batch_execute(m.sql)?;
        if let Some(backfill) = m.backfill {
            backfill(&mut tx)?;
        }
        tx.batch_execute(m.finish)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn inspect(tx: &mut Transaction<'_>, location: &str) -> Result<i64> {
    let not_ledger = |reason: String| LedgerError::NotALedger {
        location: location.to_owned(),
        reason,
    };
    let schema: Option<String> = tx.query_one("SELECT current_schema()::text", &[])?.get(0);
    let Some(schema) = schema else {
        return Err(not_ledger("search_path names no existing schema".into()));
    };
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&schema],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        return Ok(0);
    }
    if !tables.iter().any(|t| t == "aidf_ledger")
        || !tables.iter().any(|t| t == "schema_migrations")
    {
        let listed: Vec<&String> = tables.iter().take(5).collect();
        return Err(not_ledger(format!(
            "schema `{schema}` has tables {listed:?} but no aidf ledger marker"
        )));
    }
    let app: Option<String> = tx
        .query_opt(
            "SELECT value FROM aidf_ledger WHERE key = 'application'",
            &[],
        )?
        .map(|r| r.get(0));
    if app.as_deref() != Some(APPLICATION) {
        return Err(not_ledger(format!("marker is {app:?}")));
    }
    let version: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
            &[],
        )?
        .get(0);
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

fn to_account(r: &Row) -> Result<Account> {
    let key: String = r.try_get(0)?;
    let kind: String = r.try_get(1)?;
    let cap: Option<i64> = r.try_get(2)?;
    Ok(Account {
        kind: AccountKind::parse(&kind)?,
        cap: cap.map(|c| validate::to_u64(&key, c)).transpose()?,
        posted: validate::to_u64(&key, r.try_get(3)?)?,
        pending: validate::to_u64(&key, r.try_get(4)?)?,
        created_at: Timestamp(r.try_get(5)?),
        key,
    })
}

fn to_hold(r: &Row) -> Result<Hold> {
    HoldRow {
        pending_id: r.try_get(0)?,
        account: r.try_get(1)?,
        amount: r.try_get(2)?,
        expires_at: r.try_get(3)?,
        state: r.try_get(4)?,
        at: r.try_get(5)?,
        determination_id: r.try_get(6)?,
        regime_digest: r.try_get(7)?,
        memo: r.try_get(8)?,
    }
    .into_hold()
}

fn to_stored_op(r: &Row) -> Result<StoredOp> {
    Ok(StoredOp {
        op_id: r.try_get(0)?,
        kind: r.try_get(1)?,
        account: r.try_get(2)?,
        amount: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        at: r.try_get(5)?,
        pending_id: r.try_get(6)?,
        req_amount: r.try_get(7)?,
        cap: r.try_get(8)?,
        old_cap: r.try_get(9)?,
        released: r.try_get(10)?,
        bal_cap: r.try_get(11)?,
        bal_posted: r.try_get(12)?,
        bal_pending: r.try_get(13)?,
        determination_id: r.try_get(14)?,
        regime_digest: r.try_get(15)?,
        memo: r.try_get(16)?,
    })
}

fn to_entry(r: &Row) -> Result<Entry> {
    EntryRow {
        seq: r.try_get(0)?,
        op_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        account: r.try_get(3)?,
        posted_delta: r.try_get(4)?,
        pending_delta: r.try_get(5)?,
        cap: r.try_get(6)?,
        pending_id: r.try_get(7)?,
        at: r.try_get(8)?,
        determination_id: r.try_get(9)?,
        regime_digest: r.try_get(10)?,
        memo: r.try_get(11)?,
        business_date: r.try_get(12)?,
    }
    .into_entry()
}

/// [`TxOps`] over an open READ COMMITTED transaction.
struct PgTx<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    st: &'t Stmts,
}

impl TxOps for PgTx<'_, '_> {
    fn lock_accounts(&mut self, keys: &[&str]) -> Result<Vec<Account>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.tx
            .query(&self.st.lock_accounts, &[&keys])?
            .iter()
            .map(to_account)
            .collect()
    }

    fn hold_accounts(&mut self, keys: &[(&str, bool)]) -> Result<Vec<Account>> {
        debug_assert!(keys.windows(2).all(|w| w[0].0 < w[1].0), "keys in order");
        let mut held = Vec::with_capacity(keys.len());
        for (key, write) in keys {
            let st = if *write {
                &self.st.lock_account
            } else {
                &self.st.share_account
            };
            if let Some(row) = self.tx.query_opt(st, &[key])? {
                held.push(to_account(&row)?);
            }
        }
        Ok(held)
    }

    fn insert_account(&mut self, a: &Account) -> Result<()> {
        let cap = a.cap.map(|c| validate::to_i64(&a.key, c)).transpose()?;
        let posted = validate::to_i64(&a.key, a.posted)?;
        let pending = validate::to_i64(&a.key, a.pending)?;
        self.tx.execute(
            &self.st.insert_account,
            &[
                &a.key,
                &a.kind.as_str(),
                &cap,
                &posted,
                &pending,
                &a.created_at.0,
            ],
        )?;
        Ok(())
    }

    fn update_account(&mut self, a: &Account) -> Result<()> {
        let cap = a.cap.map(|c| validate::to_i64(&a.key, c)).transpose()?;
        let posted = validate::to_i64(&a.key, a.posted)?;
        let pending = validate::to_i64(&a.key, a.pending)?;
        self.tx
            .execute(&self.st.update_account, &[&a.key, &cap, &posted, &pending])?;
        Ok(())
    }

    fn get_op(&mut self, op_id: &str) -> Result<Option<StoredOp>> {
        self.tx
            .query_opt(&self.st.get_op, &[&op_id])?
            .as_ref()
            .map(to_stored_op)
            .transpose()
    }

    fn insert_op(&mut self, op: &NewOp<'_>) -> Result<bool> {
        let params: [&(dyn ToSql + Sync); 18] = [
            &op.op_id,
            &op.kind,
            &op.account,
            &op.amount,
            &op.expires_at,
            &op.hold_state,
            &op.at,
            &op.pending_id,
            &op.req_amount,
            &op.cap,
            &op.old_cap,
            &op.released,
            &op.bal_cap,
            &op.bal_posted,
            &op.bal_pending,
            &op.determination_id,
            &op.regime_digest,
            &op.memo,
        ];
        Ok(self.tx.execute(&self.st.insert_op, &params)? == 1)
    }

    fn get_hold(&mut self, pending_id: &str) -> Result<Option<Hold>> {
        self.tx
            .query_opt(&self.st.get_hold, &[&pending_id])?
            .as_ref()
            .map(to_hold)
            .transpose()
    }

    fn set_hold_state(&mut self, pending_id: &str, state: HoldState) -> Result<()> {
        self.tx
            .execute(&self.st.set_hold_state, &[&pending_id, &state.as_str()])?;
        Ok(())
    }

    fn due_holds(&mut self, account: &str, now: Timestamp) -> Result<Vec<Hold>> {
        self.tx
            .query(&self.st.due_holds, &[&account, &now.0])?
            .iter()
            .map(to_hold)
            .collect()
    }

    fn due_accounts(&mut self, now: Timestamp) -> Result<Vec<String>> {
        Ok(self
            .tx
            .query(&self.st.due_accounts, &[&now.0])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<()> {
        let memo = e
            .meta
            .memo
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let kind = e.kind.as_str();
        let params: [&(dyn ToSql + Sync); 12] = [
            &e.op_id,
            &kind,
            &e.account,
            &e.posted_delta,
            &e.pending_delta,
            &e.cap,
            &e.pending_id,
            &e.at,
            &e.meta.determination_id,
            &e.meta.regime_digest,
            &memo,
            &e.business_date,
        ];
        self.tx.execute(&self.st.insert_entry, &params)?;
        Ok(())
    }

    fn get_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>> {
        let st = self.prepared(format!("SELECT body FROM {} WHERE id = $1", table.name()))?;
        Ok(self
            .tx
            .query_opt(&st, &[&id])?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    fn update_record(&mut self, table: RecordTable, id: &str, body: &str) -> Result<()> {
        let sql = format!("UPDATE {} SET body = $2 WHERE id = $1", table.name());
        self.tx.execute(&sql, &[&id, &body])?;
        Ok(())
    }

    fn insert_record(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        let st = self.prepared(format!(
            "INSERT INTO {} (id, body, created_at) VALUES ($1, $2, $3)",
            table.name()
        ))?;
        self.tx.execute(&st, &[&id, &body, &at.0])?;
        Ok(())
    }

    fn insert_record_if_absent(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        let st = self.prepared(format!(
            "INSERT INTO {} (id, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            table.name()
        ))?;
        self.tx.execute(&st, &[&id, &body, &at.0])?;
        Ok(())
    }

    fn insert_shipment(&mut self, c: &Columns, id: &str, body: &str, at: Timestamp) -> Result<()> {
        let st = self.prepared(
            "INSERT INTO shipments (id, body, created_at, tenant, status, business_date, \
             destination, consignee, consignee_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                .to_string(),
        )?;
        self.tx.execute(
            &st,
            &[
                &id,
                &body,
                &at.0,
                &c.tenant,
                &c.status,
                &c.business_date,
                &c.destination,
                &c.consignee,
                &c.consignee_key,
            ],
        )?;
        if let Some(v) = &c.veu {
            let st = self.prepared(veu_insert_sql())?;
            self.tx.execute(&st, &veu_params(&c.tenant, v))?;
        }
        Ok(())
    }
}

impl PgTx<'_, '_> {
    fn prepared(&mut self, sql: String) -> Result<Statement> {
        prepared(&mut *self.tx, &self.st.records, sql)
    }
}

/// The connection's prepared statement for `sql`, prepared the first time: a statement run from
/// its text costs a second round trip (parse, then execute) every time.
fn prepared(
    client: &mut impl GenericClient,
    cache: &std::sync::Mutex<HashMap<String, Statement>>,
    sql: String,
) -> Result<Statement> {
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(st) = cache.get(&sql) {
        return Ok(st.clone());
    }
    let st = client.prepare(&sql)?;
    cache.insert(sql, st.clone());
    Ok(st)
}

impl PgLedger {
    fn prepared(&mut self, sql: String) -> Result<Statement> {
        prepared(&mut self.client, &self.stmts.records, sql)
    }

    /// Runs `f` in a read-only REPEATABLE READ transaction (one snapshot).
    fn read<R>(&mut self, f: impl FnOnce(&mut Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Runs a transaction, retrying (bounded) on transient conflicts.
fn retrying<R>(mut run: impl FnMut() -> Result<R>) -> Result<R> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match run() {
            Err(e) if retryable(&e) && attempt < MAX_ATTEMPTS => backoff(attempt),
            Err(e) if retryable(&e) => {
                return Err(LedgerError::RetriesExhausted {
                    attempts: attempt,
                    source: Box::new(e),
                });
            }
            other => return other,
        }
    }
}

fn audit_record_row(r: &Row) -> AuditRecord {
    AuditRecord {
        seq: r.get(0),
        at: r.get(1),
        tenant: r.get(2),
        actor: r.get(3),
        action: r.get(4),
        subject: r.get(5),
        input_digest: r.get(6),
        outcome: r.get(7),
        regime_digest: r.get(8),
        prev_hash: r.get(9),
        hash: r.get(10),
        mac: r.get(11),
    }
}

/// One chaining inside the caller's transaction, which holds the chain's advisory lock.
fn chain_tx(
    tx: &mut Transaction<'_>,
    key: &AuditKey,
    direct: &[NewAudit],
    limit: i64,
    checkpoint: bool,
) -> Result<Chained> {
    let head = tx
        .query_opt(audit::HEAD_SQL, &[])?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
    let drained: Vec<(i64, NewAudit)> = tx
        .query(audit::OUTBOX_DRAIN_SQL, &[&limit])?
        .iter()
        .map(|r| {
            let event = AuditEvent {
                action: r.get(4),
                subject: r.get(5),
                input_digest: r.get(6),
                outcome: r.get(7),
                regime_digest: r.get(8),
            };
            let at = r.get(1);
            (
                r.get(0),
                NewAudit {
                    at,
                    tenant: r.get(2),
                    actor: r.get(3),
                    event,
                },
            )
        })
        .collect();
    let plan = audit::plan(key, head, drained, direct, checkpoint);
    for rows in plan.records.chunks(audit::ROWS_PER_INSERT) {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 12);
        for r in rows {
            params.extend_from_slice(&audit::record_values!(r));
        }
        tx.execute(audit::insert_sql(rows.len()), &params)?;
    }
    if let Some(cp) = &plan.checkpoint {
        tx.execute(
            audit::CHECKPOINT_INSERT_SQL,
            &[&cp.records, &cp.head_hash, &cp.at, &cp.mac],
        )?;
    }
    Ok(plan.done())
}

impl Store for PgLedger {
    fn write<R>(&mut self, f: &mut WriteFn<'_, R>) -> Result<R> {
        let (client, stmts, ctx) = (&mut self.client, &self.stmts, &self.audit);
        retrying(|| {
            let mut tx = client.transaction()?;
            let (out, event) = f(&mut PgTx {
                tx: &mut tx,
                st: stmts,
            })?;
            if let Some(event) = event {
                let r = NewAudit::now(ctx, event);
                let e = &r.event;
                tx.execute(
                    &stmts.insert_outbox,
                    &[
                        &r.at,
                        &r.tenant,
                        &r.actor,
                        &e.action,
                        &e.subject,
                        &e.input_digest,
                        &e.outcome,
                        &e.regime_digest,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(out)
        })
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
        let client = &mut self.client;
        if direct.is_empty() && !checkpoint {
            // Nothing to chain: the chain lock is not taken (an idle audit writer looks often).
            let waiting: bool = client.query_one(audit::OUTBOX_ANY_SQL, &[])?.try_get(0)?;
            if !waiting {
                return Ok(Chained::default());
            }
        }
        retrying(|| {
            let mut tx = client.transaction()?;
            // One chain across every process.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&audit::PG_CHAIN_LOCK])?;
            let out = chain_tx(&mut tx, key, direct, limit, checkpoint)?;
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
        use postgres::fallible_iterator::FallibleIterator;
        let params: [&(dyn ToSql + Sync); 2] = [&after, &upto];
        let mut rows = self.client.query_raw(audit::SCAN_SQL, params)?;
        while let Some(r) = rows.next()? {
            let view = RecordRef {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                tenant: r.try_get::<_, &str>(2)?.as_bytes(),
                actor: r.try_get::<_, &str>(3)?.as_bytes(),
                action: r.try_get::<_, &str>(4)?.as_bytes(),
                subject: r.try_get::<_, &str>(5)?.as_bytes(),
                input_digest: r.try_get::<_, &str>(6)?.as_bytes(),
                outcome: r.try_get::<_, &str>(7)?.as_bytes(),
                regime_digest: r.try_get::<_, &str>(8)?.as_bytes(),
                prev_hash: r.try_get::<_, &str>(9)?.as_bytes(),
                hash: r.try_get::<_, &str>(10)?.as_bytes(),
                mac: r.try_get::<_, &str>(11)?.as_bytes(),
            };
            if !f(&view) {
                break;
            }
        }
        Ok(())
    }

    fn audit_head(&mut self) -> Result<i64> {
        Ok(self
            .client
            .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM aidf_audit", &[])?
            .try_get(0)?)
    }

    fn audit_checkpoints(&mut self, after: i64, upto: i64) -> Result<Vec<Checkpoint>> {
        Ok(self
            .client
            .query(audit::CHECKPOINTS_SQL, &[&after, &upto])?
            .iter()
            .map(|r| Checkpoint {
                records: r.get(0),
                head_hash: r.get(1),
                at: r.get(2),
                mac: r.get(3),
            })
            .collect())
    }

    fn audit_checkpointed(&mut self) -> Result<i64> {
        Ok(self
            .client
            .query_one(
                "SELECT COALESCE(MAX(records), 0)::BIGINT FROM aidf_audit_checkpoints",
                &[],
            )?
            .try_get(0)?)
    }

    fn audit_find(&mut self, action: &str, subject: &str) -> Result<Option<AuditRecord>> {
        Ok(self
            .client
            .query_opt(audit::SUBJECT_SQL, &[&subject, &action])?
            .as_ref()
            .map(audit_record_row))
    }

    fn audit_list(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>> {
        Ok(self
            .client
            .query(audit::LIST_SQL, &[&tenant, &limit])?
            .iter()
            .map(audit_record_row)
            .collect())
    }

    fn audit_outbox_len(&mut self) -> Result<i64> {
        Ok(self
            .client
            .query_one("SELECT COUNT(*) FROM aidf_audit_outbox", &[])?
            .try_get(0)?)
    }

    fn read_account(&mut self, key: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE key = $1");
        self.client
            .query_opt(&sql, &[&key])?
            .as_ref()
            .map(to_account)
            .transpose()
    }

    fn read_live(&mut self, keys: &[&str], now: Timestamp) -> Result<Vec<Option<Account>>> {
        // One statement: its own snapshot, no transaction around it.
        let st = self.prepared(format!(
            "SELECT {ACCOUNT_COLS}, (SELECT COALESCE(SUM(o.amount), 0)::bigint FROM ops o \
             WHERE o.account = a.key AND o.hold_state = 'pending' AND o.expires_at IS NOT NULL \
             AND o.expires_at <= $2) FROM accounts a WHERE a.key = ANY($1)"
        ))?;
        let rows = self.client.query(&st, &[&keys, &now.0])?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            let due: i64 = r.try_get(6)?;
            found.push((to_account(r)?, due));
        }
        crate::live_accounts(keys, found)
    }

    fn read_accounts(&mut self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY key");
        self.client
            .query(&sql, &[])?
            .iter()
            .map(to_account)
            .collect()
    }

    fn read_as_of(&mut self, key: &str, clock: &Clock) -> Result<AsOf> {
        let on = clock.entries_on(PG_DATE_OF_AT);
        let until = clock.holds_until().0;
        let (at, date);
        let bound: &(dyn ToSql + Sync) = match clock {
            Clock::Recorded(t) => {
                at = t.0;
                &at
            }
            Clock::Business { date: d, .. } => {
                date = d.clone();
                &date
            }
        };
        self.read(|tx| {
            let r = tx.query_one(
                &format!(
                    "SELECT COALESCE(SUM(posted_delta), 0)::bigint, COALESCE(SUM(pending_delta), 0)::bigint \
                     FROM entries WHERE account = $1 AND {on}"
                ),
                &[&key, bound],
            )?;
            let (posted_sum, pending_sum): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            let cap: Option<i64> = match tx.query_opt(&as_of_cap(&on), &[&key, bound])? {
                Some(r) => r.try_get(0)?,
                None => None,
            };
            let unswept_due: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(amount), 0)::bigint FROM ops WHERE account = $1 AND hold_state = 'pending' \
                     AND at <= $2 AND expires_at IS NOT NULL AND expires_at <= $2",
                    &[&key, &until],
                )?
                .try_get(0)?;
            Ok(AsOf { posted_sum, pending_sum, cap, unswept_due })
        })
    }

    fn read_history(&mut self, key: &str) -> Result<Vec<Entry>> {
        let sql = format!("SELECT {ENTRY_COLS} FROM entries WHERE account = $1 ORDER BY seq");
        self.client
            .query(&sql, &[&key])?
            .iter()
            .map(to_entry)
            .collect()
    }

    fn read_op(&mut self, op_id: &str) -> Result<Option<StoredOp>> {
        let sql = format!("SELECT {STORED_OP_COLS} FROM ops WHERE op_id = $1");
        self.client
            .query_opt(&sql, &[&op_id])?
            .as_ref()
            .map(to_stored_op)
            .transpose()
    }

    fn read_hold(&mut self, pending_id: &str) -> Result<Option<Hold>> {
        let sql = format!("SELECT {HOLD_COLS} FROM ops WHERE op_id = $1 AND kind = 'reserve'");
        self.client
            .query_opt(&sql, &[&pending_id])?
            .as_ref()
            .map(to_hold)
            .transpose()
    }

    fn read_sums(&mut self) -> Result<Sums> {
        self.read(|tx| {
            let mut sums = Sums::default();
            for r in tx.query(
                "SELECT account, SUM(posted_delta)::bigint, SUM(pending_delta)::bigint FROM entries GROUP BY account",
                &[],
            )? {
                sums.entries.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
            }
            let mut holds = HashMap::new();
            for r in tx.query(
                "SELECT account, SUM(amount)::bigint FROM ops WHERE hold_state = 'pending' GROUP BY account",
                &[],
            )? {
                holds.insert(r.try_get(0)?, r.try_get(1)?);
            }
            sums.holds = holds;
            sums.ops_count = tx.query_one("SELECT COUNT(*) FROM ops", &[])?.try_get(0)?;
            sums.op_entries_count = tx.query_one("SELECT COUNT(*) FROM entries WHERE op_id IS NOT NULL", &[])?.try_get(0)?;
            Ok(sums)
        })
    }

    fn read_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>> {
        let st = self.prepared(format!("SELECT body FROM {} WHERE id = $1", table.name()))?;
        Ok(self
            .client
            .query_opt(&st, &[&id])?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    fn read_records_range(
        &mut self,
        table: RecordTable,
        from: &str,
        before: &str,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT body FROM {} WHERE id >= $1 AND id < $2 ORDER BY id",
            table.name()
        );
        Ok(self
            .client
            .query(&sql, &[&from, &before])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn read_page(&mut self, q: &PageSql) -> Result<Vec<crate::register::PageRow>> {
        let values: Vec<Box<dyn ToSql + Sync>> = q
            .params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    Param::Text(t) => Box::new(t.clone()),
                    Param::Int(i) => Box::new(*i),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        Ok(self
            .client
            .query(&q.sql, &refs)?
            .iter()
            .map(|r| -> Result<crate::register::PageRow, postgres::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            })
            .collect::<Result<_, _>>()?)
    }

    fn read_veu_period(&mut self, tenant: &str, from: &str, to: &str) -> Result<Vec<VeuShipment>> {
        let st = self.prepared(crate::register::veu_period_sql(Self::PLACEHOLDER))?;
        Ok(self
            .client
            .query(&st, &[&tenant, &from, &to])?
            .iter()
            .map(veu_row)
            .collect::<Result<_, _>>()?)
    }

    fn read_consignees(&mut self, tenant: &str) -> Result<Vec<(String, String, i64, i64)>> {
        // Byte order (`C`) for the name kept, as SQLite's MIN compares.
        let st = self.prepared(
            "SELECT consignee_key, MIN(consignee COLLATE \"C\"), COUNT(*), \
             SUM(CASE WHEN status = 'refused' THEN 1 ELSE 0 END)::BIGINT \
             FROM shipments WHERE tenant = $1 AND consignee_key IS NOT NULL GROUP BY consignee_key"
                .to_string(),
        )?;
        Ok(self
            .client
            .query(&st, &[&tenant])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
            })
            .collect::<Result<_, _>>()?)
    }

    fn read_records(&mut self, table: RecordTable) -> Result<Vec<String>> {
        let st = self.prepared(format!("SELECT body FROM {} ORDER BY id", table.name()))?;
        Ok(self
            .client
            .query(&st, &[])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }
}
