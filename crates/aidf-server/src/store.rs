//! The server's own tables, next to the ledger's in the same database: tenants, API tokens (hashed),
//! tenant-owned objects, and the hash-chained audit log. SQLite or PostgreSQL, chosen like the
//! ledger (`postgres://…` or a file path). Statements use `$n` placeholders, which both accept.

use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// A value that violates the schema's rules.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS aidf_tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS aidf_tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, role TEXT NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS aidf_tenant_objects (tenant TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tenant, kind, key))",
    "CREATE TABLE IF NOT EXISTS aidf_audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, input_digest TEXT NOT NULL, outcome TEXT NOT NULL, regime_digest TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS aidf_audit_tenant ON aidf_audit (tenant, seq)",
];

/// SQLite's audit table: the same columns, but `seq` is `INTEGER PRIMARY KEY`, SQLite's row id,
/// so an append writes one B-tree fewer than with a separate primary-key index (a 64-bit integer
/// either way). Files made before keep their table, which works the same.
const SQLITE_AUDIT_TABLE: &str = "CREATE TABLE IF NOT EXISTS aidf_audit (seq INTEGER PRIMARY KEY, at BIGINT NOT NULL, tenant TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, input_digest TEXT NOT NULL, outcome TEXT NOT NULL, regime_digest TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)";

/// Pages (4 KiB) of WAL after which the audit writer checkpoints itself so that the WAL restarts
/// (see [`Db::checkpoint_in_background`]): 128 MiB, a few seconds of full load, so the short
/// stall comes rarely enough to stay out of the 99th percentile.
const AUDIT_WAL_RESTART_PAGES: i64 = 32_768;

/// Audit rows inserted by one statement: fewer statement runs per group commit.
const AUDIT_ROWS_PER_INSERT: usize = 16;

/// The insert of `rows` audit records, `1..=AUDIT_ROWS_PER_INSERT` (`$n` placeholders, which
/// both backends take); built once, as the writer uses them thousands of times a second.
fn audit_insert_sql(rows: usize) -> &'static str {
    static SQL: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        (1..=AUDIT_ROWS_PER_INSERT)
            .map(|rows| {
                let values: Vec<String> = (0..rows)
                    .map(|i| {
                        let cols: Vec<String> =
                            (1..=10).map(|c| format!("${}", i * 10 + c)).collect();
                        format!("({})", cols.join(","))
                    })
                    .collect();
                format!(
                    "INSERT INTO aidf_audit (seq, at, tenant, actor, action, input_digest, outcome, regime_digest, prev_hash, hash) VALUES {}",
                    values.join(",")
                )
            })
            .collect()
    });
    &SQL[rows.clamp(1, AUDIT_ROWS_PER_INSERT) - 1]
}

/// The values of an audit record in [`audit_insert_sql`]'s column order, as parameters of
/// either backend.
macro_rules! audit_values {
    ($r:expr) => {
        [
            &$r.seq as _,
            &$r.at as _,
            &$r.tenant as _,
            &$r.actor as _,
            &$r.action as _,
            &$r.input_digest as _,
            &$r.outcome as _,
            &$r.regime_digest as _,
            &$r.prev_hash as _,
            &$r.hash as _,
        ]
    };
}

const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER IF NOT EXISTS aidf_audit_no_update BEFORE UPDATE ON aidf_audit BEGIN SELECT RAISE(ABORT, 'aidf_audit is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS aidf_audit_no_delete BEFORE DELETE ON aidf_audit BEGIN SELECT RAISE(ABORT, 'aidf_audit is append-only'); END",
];

const PG_TRIGGERS: &str = "
CREATE OR REPLACE FUNCTION aidf_audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'aidf_audit is append-only'; END $$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'aidf_audit_no_change') THEN
    CREATE TRIGGER aidf_audit_no_change BEFORE UPDATE OR DELETE ON aidf_audit
      FOR EACH ROW EXECUTE FUNCTION aidf_audit_append_only();
  END IF;
END $$;";

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the chain (1-based).
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Tenant.
    pub tenant: String,
    /// Token id (never the token) or `local`.
    pub actor: String,
    /// What was done, e.g. `shipment`.
    pub action: String,
    /// `sha256:` of the request body.
    pub input_digest: String,
    /// Outcome: authorization, status, or `error:<status>`.
    pub outcome: String,
    /// Regime digest the answer used (empty when none).
    pub regime_digest: String,
    /// Hash of the previous record (`genesis` for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// A record to append; the store assigns seq and hashes.
#[derive(Debug, Clone)]
pub struct NewAudit {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Tenant.
    pub tenant: String,
    /// Token id.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Digest of the input.
    pub input_digest: String,
    /// Outcome.
    pub outcome: String,
    /// Regime digest.
    pub regime_digest: String,
}

/// The chain hash of a record: sha256 over its fields and the previous hash, length-prefixed so
/// no two field lists collide.
pub fn chain_hash(seq: i64, r: &NewAudit, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        r.at.to_string().as_str(),
        &r.tenant,
        &r.actor,
        &r.action,
        &r.input_digest,
        &r.outcome,
        &r.regime_digest,
        prev_hash,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    sha256_text(&h.finalize())
}

/// `sha256:` followed by the lower-case hex of `digest` (table lookup: this runs per request).
pub fn sha256_text(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256:");
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// The result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether every record checks out.
    pub ok: bool,
    /// Records checked.
    pub records: i64,
    /// The first bad record's seq, if any.
    pub first_bad_seq: Option<i64>,
    /// What is wrong with it.
    pub problem: Option<String>,
}

/// A database connection for the server's tables.
pub enum Db {
    /// SQLite file.
    Sqlite(Mutex<rusqlite::Connection>),
    /// PostgreSQL.
    Postgres(Mutex<postgres::Client>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

/// A row value, so one code path serves both backends.
#[derive(Debug, Clone)]
enum V {
    T(String),
    I(i64),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable; the transaction was rolled back.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Db {
    /// Opens the database behind `url` and creates the server's tables if needed.
    pub fn open(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut c = postgres::Client::connect(url, postgres::NoTls)?;
            for s in SCHEMA {
                c.batch_execute(s)?;
            }
            // Two servers starting together may race creating the trigger; a duplicate is fine.
            if let Err(e) = c.batch_execute(PG_TRIGGERS) {
                if !e.to_string().contains("already exists") {
                    return Err(e.into());
                }
            }
            Ok(Db::Postgres(Mutex::new(c)))
        } else {
            let c = rusqlite::Connection::open(url)?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            // Room for the audit insert of every batch size besides the other statements.
            c.set_prepared_statement_cache_capacity(64);
            // The audit table first, in its SQLite form; the generic statement then finds it.
            c.execute_batch(SQLITE_AUDIT_TABLE)?;
            for s in SCHEMA.iter().chain(SQLITE_TRIGGERS) {
                c.execute_batch(s)?;
            }
            Ok(Db::Sqlite(Mutex::new(c)))
        }
    }

    /// For SQLite: run passive checkpoints on a separate connection and thread, at most every
    /// `period`, when `commits` has moved, and let this connection checkpoint itself only when
    /// the WAL is large. With `synchronous=NORMAL` a WAL commit does not fsync but a checkpoint
    /// does; done in the writer at SQLite's default interval, checkpoints stalled all waiting
    /// requests.
    pub fn checkpoint_in_background(
        &self,
        url: &str,
        commits: std::sync::Arc<std::sync::atomic::AtomicU64>,
        period: std::time::Duration,
    ) -> Result<()> {
        let Db::Sqlite(c) = self else { return Ok(()) };
        // The writer keeps an auto-checkpoint, far apart: by the time the WAL reaches it the
        // background checkpoints have copied nearly everything, and the writer's own checkpoint,
        // with no other writer to race, lets the WAL restart, which a PASSIVE checkpoint racing
        // a busy writer rarely can (without it the WAL grew by some 40 MB a second under load,
        // without bound).
        lock(c).pragma_update(None, "wal_autocheckpoint", AUDIT_WAL_RESTART_PAGES)?;
        let bg = rusqlite::Connection::open(url)?;
        bg.busy_timeout(std::time::Duration::from_secs(10))?;
        std::thread::Builder::new()
            .name("aidf-audit-checkpoint".into())
            .spawn(move || {
                let mut seen = 0;
                loop {
                    std::thread::sleep(period);
                    let now = commits.load(std::sync::atomic::Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        // PASSIVE never blocks writers; a busy database just waits for next time.
                        let _ = bg.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the checkpointer: {e}")))?;
        Ok(())
    }

    fn query(&self, sql: &str, args: &[V]) -> Result<Vec<Vec<V>>> {
        match self {
            Db::Sqlite(c) => {
                let c = lock(c);
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let params: Vec<Box<dyn rusqlite::ToSql>> = args
                    .iter()
                    .map(|a| -> Box<dyn rusqlite::ToSql> {
                        match a {
                            V::T(s) => Box::new(s.clone()),
                            V::I(i) => Box::new(*i),
                        }
                    })
                    .collect();
                let refs: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
                let mut rows = st.query(refs.as_slice())?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        row.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Integer(x) => V::I(x),
                            rusqlite::types::ValueRef::Text(t) => {
                                V::T(String::from_utf8_lossy(t).into_owned())
                            }
                            _ => V::T(String::new()),
                        });
                    }
                    out.push(row);
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                let mut c = lock(c);
                let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = args
                    .iter()
                    .map(|a| -> Box<dyn postgres::types::ToSql + Sync> {
                        match a {
                            V::T(s) => Box::new(s.clone()),
                            V::I(i) => Box::new(*i),
                        }
                    })
                    .collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|b| b.as_ref()).collect();
                let rows = c.query(sql, &refs)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.columns()[i].type_() {
                                &postgres::types::Type::INT8 => V::I(r.get::<_, i64>(i)),
                                _ => V::T(r.get::<_, String>(i)),
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    fn exec(&self, sql: &str, args: &[V]) -> Result<()> {
        self.query(sql, args).map(|_| ())
    }

    /// Creates a tenant if it does not exist.
    pub fn ensure_tenant(&self, id: &str, name: &str, now: i64) -> Result<()> {
        self.exec(
            "INSERT INTO aidf_tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[V::T(id.into()), V::T(name.into()), V::I(now)],
        )
    }

    /// Every tenant id.
    pub fn tenants(&self) -> Result<Vec<String>> {
        Ok(self
            .query("SELECT id FROM aidf_tenants ORDER BY id", &[])?
            .into_iter()
            .filter_map(|r| match r.first() {
                Some(V::T(s)) => Some(s.clone()),
                _ => None,
            })
            .collect())
    }

    /// Stores a token's hash.
    pub fn add_token(
        &self,
        id: &str,
        hash: &str,
        tenant: &str,
        role: &str,
        now: i64,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO aidf_tokens (id, hash, tenant, role, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                V::T(id.into()),
                V::T(hash.into()),
                V::T(tenant.into()),
                V::T(role.into()),
                V::I(now),
            ],
        )
    }

    /// Finds a token by hash: (token id, tenant, role).
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String, String)>> {
        let rows = self.query(
            "SELECT id, tenant, role FROM aidf_tokens WHERE hash = $1",
            &[V::T(hash.into())],
        )?;
        Ok(rows.into_iter().next().and_then(|r| match r.as_slice() {
            [V::T(a), V::T(b), V::T(c)] => Some((a.clone(), b.clone(), c.clone())),
            _ => None,
        }))
    }

    /// Records that a tenant owns an object (an account key, a license, a shipment).
    pub fn own(&self, tenant: &str, kind: &str, key: &str) -> Result<()> {
        self.exec(
            "INSERT INTO aidf_tenant_objects (tenant, kind, key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[V::T(tenant.into()), V::T(kind.into()), V::T(key.into())],
        )
    }

    /// Whether a tenant owns an object.
    pub fn owns(&self, tenant: &str, kind: &str, key: &str) -> Result<bool> {
        Ok(!self
            .query(
                "SELECT key FROM aidf_tenant_objects WHERE tenant = $1 AND kind = $2 AND key = $3",
                &[V::T(tenant.into()), V::T(kind.into()), V::T(key.into())],
            )?
            .is_empty())
    }

    /// The inserts of one SQLite audit append, inside the caller's transaction.
    fn append_audit_sqlite(
        c: &rusqlite::Connection,
        records: &[NewAudit],
    ) -> Result<Vec<AuditRecord>> {
        use rusqlite::OptionalExtension;
        let last: Option<(i64, String)> = c
            .prepare_cached("SELECT seq, hash FROM aidf_audit ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let out = chain(last, records);
        for rows in out.chunks(AUDIT_ROWS_PER_INSERT) {
            let mut st = c.prepare_cached(audit_insert_sql(rows.len()))?;
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 10);
            for r in rows {
                params.extend_from_slice(&audit_values!(r));
            }
            st.execute(params.as_slice())?;
        }
        Ok(out)
    }

    /// Appends records to the chain in one transaction, serialized across processes.
    pub fn append_audit(&self, records: &[NewAudit]) -> Result<Vec<AuditRecord>> {
        match self {
            Db::Sqlite(c) => {
                let c = lock(c);
                // BEGIN and COMMIT as cached statements: this runs thousands of times a second,
                // and re-preparing them was a visible share of the writer's time.
                c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
                let appended = Self::append_audit_sqlite(&c, records).and_then(|out| {
                    c.prepare_cached("COMMIT")?.execute([])?;
                    Ok(out)
                });
                if appended.is_err() && !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
                appended
            }
            Db::Postgres(c) => {
                let mut c = lock(c);
                let mut tx = c.transaction()?;
                // One chain across every server process: serialize appends.
                tx.execute("SELECT pg_advisory_xact_lock(727274)", &[])?;
                let last = tx
                    .query_opt(
                        "SELECT seq, hash FROM aidf_audit ORDER BY seq DESC LIMIT 1",
                        &[],
                    )?
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
                let out = chain(last, records);
                for rows in out.chunks(AUDIT_ROWS_PER_INSERT) {
                    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        Vec::with_capacity(rows.len() * 10);
                    for r in rows {
                        params.extend_from_slice(&audit_values!(r));
                    }
                    tx.execute(audit_insert_sql(rows.len()), &params)?;
                }
                tx.commit()?;
                Ok(out)
            }
        }
    }

    /// A tenant's audit records, newest first, at most `limit`.
    pub fn audit(&self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = self.query(
            "SELECT seq, at, tenant, actor, action, input_digest, outcome, regime_digest, prev_hash, hash FROM aidf_audit WHERE tenant = $1 ORDER BY seq DESC LIMIT $2",
            &[V::T(tenant.into()), V::I(limit)],
        )?;
        rows.into_iter().map(|r| record(&r)).collect()
    }

    /// Walks the whole chain and reports the first record that does not check out.
    pub fn verify(&self) -> Result<Verification> {
        let rows = self.query(
            "SELECT seq, at, tenant, actor, action, input_digest, outcome, regime_digest, prev_hash, hash FROM aidf_audit ORDER BY seq",
            &[],
        )?;
        let mut prev = "genesis".to_string();
        let mut n = 0;
        for (expect_seq, row) in (1i64..).zip(rows.iter()) {
            let r = record(row)?;
            n += 1;
            let bad = |problem: String| Verification {
                ok: false,
                records: n,
                first_bad_seq: Some(r.seq),
                problem: Some(problem),
            };
            if r.seq != expect_seq {
                return Ok(Verification {
                    ok: false,
                    records: n,
                    first_bad_seq: Some(expect_seq),
                    problem: Some(format!(
                        "record {expect_seq} is missing (next is {})",
                        r.seq
                    )),
                });
            }
            if r.prev_hash != prev {
                return Ok(bad(format!(
                    "record {} does not follow the previous record's hash",
                    r.seq
                )));
            }
            let fresh = NewAudit {
                at: r.at,
                tenant: r.tenant.clone(),
                actor: r.actor.clone(),
                action: r.action.clone(),
                input_digest: r.input_digest.clone(),
                outcome: r.outcome.clone(),
                regime_digest: r.regime_digest.clone(),
            };
            if chain_hash(r.seq, &fresh, &r.prev_hash) != r.hash {
                return Ok(bad(format!(
                    "record {} was altered: its hash does not match its content",
                    r.seq
                )));
            }
            prev = r.hash.clone();
        }
        Ok(Verification {
            ok: true,
            records: n,
            first_bad_seq: None,
            problem: None,
        })
    }
}

fn chain(last: Option<(i64, String)>, records: &[NewAudit]) -> Vec<AuditRecord> {
    let (mut seq, mut prev) = last.unwrap_or((0, "genesis".into()));
    records
        .iter()
        .map(|r| {
            seq += 1;
            let hash = chain_hash(seq, r, &prev);
            let rec = AuditRecord {
                seq,
                at: r.at,
                tenant: r.tenant.clone(),
                actor: r.actor.clone(),
                action: r.action.clone(),
                input_digest: r.input_digest.clone(),
                outcome: r.outcome.clone(),
                regime_digest: r.regime_digest.clone(),
                prev_hash: prev.clone(),
                hash: hash.clone(),
            };
            prev = hash;
            rec
        })
        .collect()
}

fn record(row: &[V]) -> Result<AuditRecord> {
    let t = |i: usize| match row.get(i) {
        Some(V::T(s)) => Ok(s.clone()),
        _ => Err(StoreError::Invalid(format!("audit column {i} is not text"))),
    };
    let n = |i: usize| match row.get(i) {
        Some(V::I(x)) => Ok(*x),
        _ => Err(StoreError::Invalid(format!(
            "audit column {i} is not an integer"
        ))),
    };
    Ok(AuditRecord {
        seq: n(0)?,
        at: n(1)?,
        tenant: t(2)?,
        actor: t(3)?,
        action: t(4)?,
        input_digest: t(5)?,
        outcome: t(6)?,
        regime_digest: t(7)?,
        prev_hash: t(8)?,
        hash: t(9)?,
    })
}
