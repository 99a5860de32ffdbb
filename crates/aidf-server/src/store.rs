//! The server's own tables, next to the ledger's in the same database: tenants, API tokens (hashed),
//! tenant-owned objects. (The audit log is the ledger's: `aidf_ledger::audit`.) SQLite or
//! PostgreSQL, chosen like the ledger (`postgres://…` or a file path). Statements use `$n`
//! placeholders, which both accept.

use std::sync::Mutex;

use aidf_ledger::audit::{AuditContext, OUTBOX_INSERT_SQL};

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
];

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

fn sqlite_params(args: &[V]) -> Vec<Box<dyn rusqlite::ToSql>> {
    args.iter()
        .map(|a| -> Box<dyn rusqlite::ToSql> {
            match a {
                V::T(s) => Box::new(s.clone()),
                V::I(i) => Box::new(*i),
            }
        })
        .collect()
}

fn pg_params(args: &[V]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    args.iter()
        .map(|a| -> Box<dyn postgres::types::ToSql + Sync> {
            match a {
                V::T(s) => Box::new(s.clone()),
                V::I(i) => Box::new(*i),
            }
        })
        .collect()
}

/// The ledger outbox row of a token change (see `aidf_ledger::audit::OUTBOX_INSERT_SQL`).
fn outbox_args(by: &AuditContext, action: &str, subject: &str, outcome: &str, at: i64) -> [V; 8] {
    [
        V::I(at),
        V::T(by.tenant.clone()),
        V::T(by.actor.clone()),
        V::T(action.into()),
        V::T(subject.into()),
        V::T(String::new()),
        V::T(outcome.into()),
        V::T(String::new()),
    ]
}

/// A token as listed: never its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Token id (`tok_…`).
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
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
            c.batch_execute("ALTER TABLE aidf_tokens ADD COLUMN IF NOT EXISTS revoked_at BIGINT")?;
            Ok(Db::Postgres(Mutex::new(c)))
        } else {
            let c = rusqlite::Connection::open(url)?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            for s in SCHEMA {
                c.execute_batch(s)?;
            }
            let has_revoked: i64 = c.query_row(
                "SELECT COUNT(*) FROM pragma_table_info('aidf_tokens') WHERE name = 'revoked_at'",
                [],
                |r| r.get(0),
            )?;
            if has_revoked == 0 {
                c.execute_batch("ALTER TABLE aidf_tokens ADD COLUMN revoked_at BIGINT")?;
            }
            Ok(Db::Sqlite(Mutex::new(c)))
        }
    }

    fn query(&self, sql: &str, args: &[V]) -> Result<Vec<Vec<V>>> {
        match self {
            Db::Sqlite(c) => {
                let c = lock(c);
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let params = sqlite_params(args);
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
                let params = pg_params(args);
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

    /// Stores a token's hash, and its audit record (`token.create`, by `by`) in the ledger's
    /// outbox in the same transaction.
    pub fn add_token(&self, t: &TokenInfo, hash: &str, by: &AuditContext) -> Result<()> {
        let insert = "INSERT INTO aidf_tokens (id, hash, tenant, role, created_at) VALUES ($1, $2, $3, $4, $5)";
        let args = [
            V::T(t.id.clone()),
            V::T(hash.into()),
            V::T(t.tenant.clone()),
            V::T(t.role.clone()),
            V::I(t.created_at),
        ];
        let outcome = format!("created:{}:{}", t.tenant, t.role);
        let audit = outbox_args(by, "token.create", &t.id, &outcome, t.created_at);
        self.run_tx(&[(insert, &args), (OUTBOX_INSERT_SQL, &audit)])
            .map(|_| ())
    }

    /// Revokes a token (of `tenant` only, and not a global admin's, unless `None`), with its
    /// audit record (`token.revoke`) in the same transaction. False if no such live token.
    pub fn revoke_token(
        &self,
        id: &str,
        tenant: Option<&str>,
        by: &AuditContext,
        now: i64,
    ) -> Result<bool> {
        // Placeholders in order of appearance: SQLite numbers `$n` by first use.
        // A tenant's admin may not revoke a global admin's token, even in its own tenant.
        let revoke = "UPDATE aidf_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                      AND ($3 = '' OR (tenant = $3 AND role <> 'global_admin'))";
        let args = [
            V::I(now),
            V::T(id.into()),
            V::T(tenant.unwrap_or_default().into()),
        ];
        let audit = outbox_args(by, "token.revoke", id, "revoked", now);
        let changed = self.run_tx(&[(revoke, &args), (OUTBOX_INSERT_SQL, &audit)])?;
        Ok(changed.first().copied().unwrap_or(0) == 1)
    }

    /// Tokens (of `tenant` only, unless `None`), by id; never their hashes.
    pub fn tokens(&self, tenant: Option<&str>) -> Result<Vec<TokenInfo>> {
        let rows = self.query(
            "SELECT id, tenant, role, created_at, COALESCE(revoked_at, 0) FROM aidf_tokens \
             WHERE ($1 = '' OR tenant = $1) ORDER BY id",
            &[V::T(tenant.unwrap_or_default().into())],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.as_slice() {
                [V::T(id), V::T(tenant), V::T(role), V::I(at), V::I(revoked)] => Some(TokenInfo {
                    id: id.clone(),
                    tenant: tenant.clone(),
                    role: role.clone(),
                    created_at: *at,
                    revoked_at: (*revoked != 0).then_some(*revoked),
                }),
                _ => None,
            })
            .collect())
    }

    /// Finds a live (not revoked) token by hash: (token id, tenant, role).
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String, String)>> {
        let rows = self.query(
            "SELECT id, tenant, role FROM aidf_tokens WHERE hash = $1 AND revoked_at IS NULL",
            &[V::T(hash.into())],
        )?;
        Ok(rows.into_iter().next().and_then(|r| match r.as_slice() {
            [V::T(a), V::T(b), V::T(c)] => Some((a.clone(), b.clone(), c.clone())),
            _ => None,
        }))
    }

    /// Runs statements in one transaction; returns the rows each changed. If the first changes
    /// no row, nothing is committed (and `[0]` is returned).
    fn run_tx(&self, stmts: &[(&str, &[V])]) -> Result<Vec<usize>> {
        match self {
            Db::Sqlite(c) => {
                let mut c = lock(c);
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut changed = Vec::with_capacity(stmts.len());
                for (sql, args) in stmts {
                    let params = sqlite_params(args);
                    let refs: Vec<&dyn rusqlite::ToSql> =
                        params.iter().map(|b| b.as_ref()).collect();
                    changed.push(tx.execute(sql, refs.as_slice())?);
                    if changed == [0] {
                        return Ok(changed);
                    }
                }
                tx.commit()?;
                Ok(changed)
            }
            Db::Postgres(c) => {
                let mut c = lock(c);
                let mut tx = c.transaction()?;
                let mut changed = Vec::with_capacity(stmts.len());
                for (sql, args) in stmts {
                    let params = pg_params(args);
                    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        params.iter().map(|b| b.as_ref()).collect();
                    let n = tx.execute(*sql, &refs)?;
                    changed.push(usize::try_from(n).unwrap_or(usize::MAX));
                    if changed == [0] {
                        return Ok(changed);
                    }
                }
                tx.commit()?;
                Ok(changed)
            }
        }
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
}
