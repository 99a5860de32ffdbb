//! # aidf-ledger
//!
//! An exact, concurrency-safe allocation ledger (TigerBeetle-style) for TPP
//! caps under the AI Diffusion rule. It knows no regulation: callers open
//! accounts with caps and move integer amounts through them.
//!
//! ## Model
//! * **Accounts** (`country:MY:2025-2027`, `license:L1:tpp`, ...) have a kind,
//!   an optional cap, a `posted` and a `pending` balance (integers, in the
//!   account's unit: TPP, or units for `license_units`).
//! * **Ops** carry a client-chosen id and are idempotent: `reserve` places a
//!   pending hold (its op id is the pending id), `post` commits it fully or
//!   partially, `void` releases it, holds lapse at `expires_at`, `transfer`
//!   posts without a hold, `attrition` lowers `posted`, `set_cap` changes a cap.
//!   [`LedgerStore::apply_batch`] applies several ops all-or-nothing.
//! * **History**: every balance change appends one row to `entries`
//!   (append-only, enforced by database triggers) carrying the op id, signed
//!   `posted_delta`/`pending_delta`, the time and the op's [`Meta`]
//!   (determination id, regime digest).
//!
//! ## Invariants
//! 1. For capped accounts `posted + pending <= cap` after every commit (also a
//!    `CHECK` constraint in the schema).
//! 2. `posted == Σ posted_delta` and `pending == Σ pending_delta` over the
//!    account's entries, and `pending == Σ amount` of its unresolved holds.
//! 3. Every stored op has exactly one entry with its op id.
//! 4. Expired holds never count against caps: every write transaction first
//!    sweeps due holds of each account it touches (the `expire` entry is dated
//!    at the hold's `expires_at`, so as-of balances are exact).
//!
//! [`LedgerStore::check_invariants`] verifies 1–3 on the stored data.
//!
//! ## Idempotency
//! Only successful ops are stored. Replaying a stored op id with identical
//! fields returns the original [`Applied`] (with `replayed = true`); different
//! fields give [`LedgerError::OpExists`] naming the first differing field. A
//! failed op leaves no trace, so its id may be retried (e.g. after a cap
//! raise, or with corrected fields).
//!
//! ## Concurrency
//! * **SQLite**: WAL mode, `synchronous=NORMAL`, a busy timeout, and every
//!   write transaction is `BEGIN IMMEDIATE`, so writers are serialised by the
//!   database lock and a transaction never upgrades a read lock (no
//!   `SQLITE_BUSY` deadlocks). Busy errors are retried a bounded number of times.
//! * **PostgreSQL**: READ COMMITTED; each transaction first locks every
//!   account it touches with `SELECT … ORDER BY key FOR UPDATE` (a stable order,
//!   so transactions cannot deadlock on accounts), then re-reads ops and holds
//!   under those locks. Holds change only under their account's lock. The whole
//!   transaction is retried (bounded) on SQLSTATE 40001, 40P01 and 23505 (a
//!   concurrent insert of the same op id / account / record; the retry then
//!   sees it and replays).
//!
//! ## Opening
//! [`Ledger::open`]: `postgres://…`/`postgresql://…` selects PostgreSQL (use
//! `options=-csearch_path%3Dmyschema` to pick a schema), anything else is a
//! SQLite file path. Migrations in `schema_migrations` are applied on open; a
//! database that is not an aidf ledger is rejected without being modified.

pub mod audit;
mod body_view;
mod engine;
mod error;
mod json_text;
mod pg;
pub mod register;
mod screening;
mod sqlite;
mod types;
mod validate;

use std::collections::HashMap;

pub use engine::NewShipment;
pub use error::{LedgerError, Result};
pub use json_text::JsonText;
pub use pg::PgLedger;
pub use register::{RegisterConsignee, RegisterRow, ShipmentPage, ShipmentQuery, VeuShipment};
pub use sqlite::SqliteLedger;
pub use types::{
    Account, AccountKind, AccountSpec, AmountUnit, ApplicationWrite, Applied, Balance, Entry,
    EntryKind, ExpectedBalance, G2gArrangement, Hold, HoldState, License, LicenseChange,
    LicenseCondition, LicenseStatus, Meta, Op, OpResult, Party, PartyDecision, ScreeningDecision,
    ScreeningThresholds, Shipment, ShipmentStatus, StoredApplication, Timestamp, Veu, VeuKind,
    VeuSite,
};

use audit::{
    AuditContext, AuditEvent, AuditKey, AuditRecord, Auditor, Checkpoint, NewAudit, RecordRef,
    Verification,
};
use engine::{RecordTable, TxOps};

/// The schema version this build writes (the last migration's number).
pub const SCHEMA_VERSION: i64 = 9;

/// How many migrations lead to [`SCHEMA_VERSION`] (their numbers need not be contiguous).
pub const MIGRATION_COUNT: i64 = 9;

/// Validates an op id (1–128 characters of `[A-Za-z0-9._:-]`).
pub fn validate_op_id(op_id: &str) -> Result<()> {
    validate::op_id(op_id)
}

/// Validates an account key (1–256 characters of `[A-Za-z0-9._:/@+-]`).
pub fn validate_account_key(key: &str) -> Result<()> {
    validate::account_key(key)
}

/// The ledger API, implemented by both backends.
pub trait LedgerStore: Send + std::fmt::Debug {
    /// Opens an account; idempotent if kind and cap match, else [`LedgerError::AccountExists`].
    fn ensure_account(
        &mut self,
        key: &str,
        kind: AccountKind,
        cap: Option<u64>,
        now: Timestamp,
    ) -> Result<Account>;

    /// Applies `ops` all-or-nothing in one transaction. On failure returns
    /// [`LedgerError::BatchFailed`] naming the failing op; the others are
    /// `linked_event_failed` and nothing was written.
    fn apply_batch(&mut self, ops: &[Op], now: Timestamp) -> Result<Vec<Applied>>;

    /// Expires every hold with `expires_at <= now`; returns how many.
    fn expire_due(&mut self, now: Timestamp) -> Result<u64>;

    /// One account.
    fn account(&mut self, key: &str) -> Result<Account>;

    /// All accounts, ordered by key.
    fn accounts(&mut self) -> Result<Vec<Account>>;

    /// The accounts among `keys` as of `now`, read in one snapshot, in the order of `keys`
    /// (`None` for an account that does not exist). Holds due by `now` are left out of
    /// `pending` even before a write sweeps them.
    fn live_accounts(&mut self, keys: &[&str], now: Timestamp) -> Result<Vec<Option<Account>>>;

    /// A party in the registry (`tenant/party id`).
    fn party(&mut self, record_id: &str) -> Result<Option<Party>>;
    /// Every party in a tenant's registry, by id.
    fn parties(&mut self, tenant: &str) -> Result<Vec<Party>>;

    /// Balance now (`as_of = None`: stored balances) or at a past time
    /// (replayed from history; holds due by then are excluded even if not yet swept).
    fn balance(&mut self, key: &str, as_of: Option<Timestamp>) -> Result<Balance>;

    /// Balance at the end of a business date (YYYY-MM-DD): entries of shipments dated on or
    /// before it, and other entries recorded by then; holds due by then are left out.
    fn balance_on(&mut self, key: &str, date: &str) -> Result<Balance>;

    /// The account's entries in commit order.
    fn history(&mut self, key: &str) -> Result<Vec<Entry>>;

    /// The stored result of an op, if it succeeded earlier.
    fn op(&mut self, op_id: &str) -> Result<Option<Applied>>;

    /// A hold by pending id.
    fn hold(&mut self, pending_id: &str) -> Result<Hold>;

    /// Verifies the invariants listed in the crate docs on the stored data.
    fn check_invariants(&mut self) -> Result<()>;

    /// Records a license and opens `license:<id>:tpp` / `license:<id>:units` (idempotent).
    fn add_license(&mut self, license: &License, now: Timestamp) -> Result<License>;
    /// Changes a recorded license (amend, suspend, reinstate, revoke): its new state and caps
    /// with the change appended, one transaction, audited as `license.<kind>`.
    fn change_license(&mut self, change: &LicenseChange, now: Timestamp) -> Result<License>;
    /// A license's changes, oldest first.
    fn license_changes(&mut self, id: &str) -> Result<Vec<LicenseChange>>;
    /// Records an application's transition with its hold ops (and the license of an approval),
    /// one transaction, audited as `application.<state>`.
    fn write_application(&mut self, w: &ApplicationWrite, now: Timestamp) -> Result<Vec<Applied>>;
    /// An application with its transitions.
    fn application(&mut self, id: &str) -> Result<Option<StoredApplication>>;
    /// Every application's current state, by id.
    fn applications(&mut self) -> Result<Vec<serde_json::Value>>;
    /// A license by id.
    fn license(&mut self, id: &str) -> Result<Option<License>>;
    /// All licenses, ordered by id.
    fn licenses(&mut self) -> Result<Vec<License>>;

    /// Appends an officer's decision on a screening hit (after the earlier ones on the same
    /// tenant, party key and entry, which it supersedes), one transaction, audited as
    /// `screening.decision`. Returns it with its time and number.
    fn record_screening_decision(
        &mut self,
        decision: &ScreeningDecision,
        now: Timestamp,
    ) -> Result<ScreeningDecision>;
    /// A tenant's decisions (`party_key`: only those on that party), every one recorded, each
    /// key's oldest first.
    fn screening_decisions(
        &mut self,
        tenant: &str,
        party_key: Option<&str>,
    ) -> Result<Vec<ScreeningDecision>>;
    /// Appends a tenant's screening thresholds (the latest apply), one transaction, audited as
    /// `screening.thresholds`.
    fn set_screening_thresholds(
        &mut self,
        thresholds: &ScreeningThresholds,
        now: Timestamp,
    ) -> Result<ScreeningThresholds>;
    /// A tenant's latest screening thresholds, if it has set any.
    fn screening_thresholds(&mut self, tenant: &str) -> Result<Option<ScreeningThresholds>>;

    /// Records a validated end user (idempotent).
    fn add_veu(&mut self, veu: &Veu, now: Timestamp) -> Result<Veu>;
    /// A VEU by id.
    fn veu(&mut self, id: &str) -> Result<Option<Veu>>;
    /// All VEUs, ordered by id.
    fn veus(&mut self) -> Result<Vec<Veu>>;

    /// Records a government-to-government arrangement (one per country, idempotent).
    fn add_g2g(&mut self, arrangement: &G2gArrangement, now: Timestamp) -> Result<G2gArrangement>;
    /// All arrangements, ordered by country.
    fn g2g_arrangements(&mut self) -> Result<Vec<G2gArrangement>>;

    /// Applies the shipment's ops as one linked batch and stores the shipment
    /// in the same transaction. A replayed shipment id returns the stored
    /// record (`replayed = true`) without looking at the new fields.
    ///
    /// `shipment` is left as it was (a group run again records it again).
    fn record_shipment(&mut self, shipment: &mut NewShipment, now: Timestamp) -> Result<Shipment>;
    /// Runs `f` as one group commit: on SQLite, one transaction that holds the write lock
    /// throughout, in which a failing write undoes only itself and reads see the group's
    /// earlier writes. Nothing `f` wrote is visible to other connections, or durable, until
    /// this returns `Ok`; on `Err` none of it was kept. PostgreSQL keeps one transaction a write
    /// (its writers run in parallel instead).
    ///
    /// `f` may run twice, so it must start afresh each time (clear what it collects): SQLite
    /// runs the group's writes without savepoints (a savepoint copies every page a write
    /// changes), and when one fails after it had written, the whole group is undone and `f`
    /// runs again from the start with a savepoint per write; the writes after the failure in
    /// the first run fail with [`LedgerError::GroupRedone`], and nothing of that run is kept.
    fn group(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()>;
    /// Runs `f`, whose calls only read, in one read transaction: on SQLite every read sees the
    /// same snapshot and the connection's page cache is kept between them (each read of its own
    /// would begin a transaction, and empty the cache when another connection has committed
    /// meanwhile). Inside an open transaction, or on PostgreSQL, it only runs `f`. A write
    /// inside is an error on SQLite when another connection has written since the snapshot.
    fn read_snapshot(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()>;
    /// A shipment by id.
    fn shipment(&mut self, id: &str) -> Result<Option<Shipment>>;
    /// All recorded shipments, ordered by id.
    fn shipments(&mut self) -> Result<Vec<Shipment>>;
    /// One page of a tenant's shipments, newest first (by recording time, then id), filtered
    /// on the register's columns (schema 5) and paged by keyset: `next_cursor` is the position
    /// after the page's last row, so rows recorded meanwhile never shift a later page.
    fn shipments_page(&mut self, query: &ShipmentQuery) -> Result<ShipmentPage>;
    /// A tenant's authorized shipments under a VEU with business dates from `from` to `to`
    /// (YYYY-MM-DD, inclusive), by date and id, from the narrow rows of schema 7.
    fn veu_shipments(&mut self, tenant: &str, from: &str, to: &str) -> Result<Vec<VeuShipment>>;
    /// The distinct consignees of a tenant's shipments, from the register's columns (one
    /// grouped query over `consignee_key`; no body decoded), ordered by key.
    fn register_consignees(&mut self, tenant: &str) -> Result<Vec<RegisterConsignee>>;

    /// Sets who the audit rows of later writes name (default tenant and actor `local`).
    fn set_audit_context(&mut self, ctx: AuditContext);
    /// Records an event that is not a ledger write (an error, a refusal) in the outbox, in its
    /// own transaction, with the current audit context.
    fn audit_event(&mut self, event: &AuditEvent) -> Result<()>;
    /// Moves up to `limit` outbox rows into the chain, then appends `direct`, in one
    /// transaction under the chain lock; with `checkpoint`, signs the new head into
    /// `aidf_audit_checkpoints`. Use [`Auditor::chain`], which also writes the anchor. Inside a
    /// group on SQLite ([`LedgerStore::group`]) it runs in the group's transaction, so the
    /// group's records are chained in the commit that makes its writes durable.
    fn chain_audit(
        &mut self,
        key: &AuditKey,
        direct: &[NewAudit],
        limit: i64,
        checkpoint: bool,
    ) -> Result<Chained>;
    /// A tenant's chained records, newest first, at most `limit`.
    fn audit_records(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>>;
    /// The first chained record of `action` on `subject` (a shipment's: `shipment`, its id);
    /// `None` while it waits in the outbox.
    fn audit_record_of(&mut self, action: &str, subject: &str) -> Result<Option<AuditRecord>>;
    /// Outbox rows not yet chained.
    fn audit_backlog(&mut self) -> Result<i64>;
    /// Verifies the chain, its checkpoints and the anchor, page by page in constant memory.
    fn verify_audit(&mut self, auditor: &Auditor) -> Result<Verification>;

    /// Places a pending hold of `amount` on `account`.
    fn reserve(
        &mut self,
        op_id: &str,
        account: &str,
        amount: u64,
        expires_at: Option<Timestamp>,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::Reserve {
            op_id: op_id.into(),
            account: account.into(),
            amount,
            expires_at,
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }

    /// Commits a hold, fully (`amount = None`) or partially.
    fn post(
        &mut self,
        op_id: &str,
        pending_id: &str,
        amount: Option<u64>,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::Post {
            op_id: op_id.into(),
            pending_id: pending_id.into(),
            amount,
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }

    /// Releases a hold.
    fn void(
        &mut self,
        op_id: &str,
        pending_id: &str,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::Void {
            op_id: op_id.into(),
            pending_id: pending_id.into(),
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }

    /// Lowers the posted balance (never below zero).
    fn attrition(
        &mut self,
        op_id: &str,
        account: &str,
        amount: u64,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::Attrition {
            op_id: op_id.into(),
            account: account.into(),
            amount,
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }

    /// Posts directly without a hold.
    fn transfer(
        &mut self,
        op_id: &str,
        account: &str,
        amount: u64,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::Transfer {
            op_id: op_id.into(),
            account: account.into(),
            amount,
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }

    /// Raises or lowers a cap; lowering below posted + pending is an error.
    fn set_cap(
        &mut self,
        op_id: &str,
        account: &str,
        cap: Option<u64>,
        meta: Meta,
        now: Timestamp,
    ) -> Result<Applied> {
        let op = Op::SetCap {
            op_id: op_id.into(),
            account: account.into(),
            cap,
            meta,
        };
        single(self.apply_batch(std::slice::from_ref(&op), now))
    }
}

/// What one [`LedgerStore::chain_audit`] did.
#[derive(Debug, Clone, Default)]
pub struct Chained {
    /// Outbox rows moved into the chain.
    pub drained: usize,
    /// The records appended from `direct`, in order.
    pub direct: Vec<AuditRecord>,
    /// The checkpoint signed, if any.
    pub checkpoint: Option<Checkpoint>,
}

/// Unwraps the one-op batch used by the single-op helpers, so that callers
/// see the op's own error rather than `BatchFailed`.
fn single(res: Result<Vec<Applied>>) -> Result<Applied> {
    match res {
        Ok(mut v) => v.pop().ok_or_else(|| LedgerError::Corrupt {
            what: "batch".into(),
            detail: "empty result".into(),
        }),
        Err(LedgerError::BatchFailed { source, .. }) => Err(*source),
        Err(e) => Err(e),
    }
}

/// A ledger on either backend, chosen by [`Ledger::open`].
#[derive(Debug)]
pub enum Ledger {
    /// SQLite file.
    Sqlite(SqliteLedger),
    /// PostgreSQL database.
    Postgres(Box<PgLedger>),
}

impl Ledger {
    /// Opens (creating or migrating as needed) a ledger:
    /// `postgres://…` or `postgresql://…` → PostgreSQL, anything else → SQLite file path.
    pub fn open(url: &str) -> Result<Ledger> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Ledger::Postgres(Box::new(PgLedger::open(url)?)))
        } else {
            Ok(Ledger::Sqlite(SqliteLedger::open(url)?))
        }
    }

    /// The backend behind this ledger, as a trait object.
    pub fn store(&mut self) -> &mut dyn LedgerStore {
        match self {
            Ledger::Sqlite(s) => s,
            Ledger::Postgres(p) => p.as_mut(),
        }
    }
}

/// Runs `f` on `store`; should `f` unwind, `on_unwind` runs on the store first (so that a group
/// or a read transaction `f` runs in is never left open on the connection).
fn run_unwind_safe<S: Store + LedgerStore>(
    store: &mut S,
    on_unwind: Option<fn(&mut S) -> Result<()>>,
    f: &mut dyn FnMut(&mut dyn LedgerStore),
) {
    struct Guard<'a, S: Store> {
        store: &'a mut S,
        on_unwind: Option<fn(&mut S) -> Result<()>>,
    }
    impl<S: Store> Drop for Guard<'_, S> {
        fn drop(&mut self) {
            if let Some(end) = self.on_unwind {
                let _ = end(self.store);
            }
        }
    }
    let mut guard = Guard { store, on_unwind };
    f(&mut *guard.store);
    guard.on_unwind = None;
}

/// A write transaction's body: its result and the audit event it commits with (`None` only for
/// a transaction that wrote nothing: `ensure_account` of an account that exists).
pub(crate) type WriteFn<'a, R> = dyn FnMut(&mut dyn TxOps) -> Result<(R, Option<AuditEvent>)> + 'a;

/// Read and write primitives each backend provides; [`LedgerStore`] is built on them.
pub(crate) trait Store {
    /// Runs `f` in a write transaction, retrying on transient conflicts, and inserts the
    /// outbox row of the event `f` returns in the same transaction: no write commits without it.
    fn write<R>(&mut self, f: &mut WriteFn<'_, R>) -> Result<R>;
    /// Opens a group: one transaction holding the write lock until [`Store::group_end`], in
    /// which a failing write undoes only itself ([`Store::group_redo`]). A backend without
    /// groups keeps one transaction a write.
    fn group_begin(&mut self) -> Result<()> {
        Ok(())
    }
    /// Commits the group opened by [`Store::group_begin`]; if that fails nothing of it stays.
    fn group_end(&mut self) -> Result<()> {
        Ok(())
    }
    /// Rolls the open group back (after a panic in it).
    fn group_abort(&mut self) -> Result<()> {
        Ok(())
    }
    /// After the first run of a group's function: whether it must run again. A backend whose
    /// group writes run without savepoints (SQLite) says so when one of them failed after it
    /// had written: it has then undone the whole group and opened it again, with a savepoint
    /// per write. Otherwise (and on a backend without groups) `false`.
    fn group_redo(&mut self) -> Result<bool> {
        Ok(false)
    }
    /// Opens a read transaction (see [`LedgerStore::read_snapshot`]); returns whether it did
    /// (not inside an open transaction, nor on a backend without them).
    fn snapshot_begin(&mut self) -> Result<bool> {
        Ok(false)
    }
    /// Ends the read transaction [`Store::snapshot_begin`] opened.
    fn snapshot_end(&mut self) -> Result<()> {
        Ok(())
    }
    fn audit_context_mut(&mut self) -> &mut AuditContext;
    fn audit_chain(
        &mut self,
        key: &AuditKey,
        direct: &[NewAudit],
        limit: i64,
        checkpoint: bool,
    ) -> Result<Chained>;
    /// Calls `f` on records with `after < seq <= upto`, in order, until it returns false.
    fn audit_scan(
        &mut self,
        after: i64,
        upto: i64,
        f: &mut dyn FnMut(&RecordRef<'_>) -> bool,
    ) -> Result<()>;
    /// The largest seq (0 when empty).
    fn audit_head(&mut self) -> Result<i64>;
    /// Checkpoints with `after < records <= upto`, by records.
    fn audit_checkpoints(&mut self, after: i64, upto: i64) -> Result<Vec<Checkpoint>>;
    /// The largest checkpointed record count (0 when none).
    fn audit_checkpointed(&mut self) -> Result<i64>;
    fn audit_list(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>>;
    fn audit_outbox_len(&mut self) -> Result<i64>;
    fn audit_find(&mut self, action: &str, subject: &str) -> Result<Option<AuditRecord>>;
    fn read_account(&mut self, key: &str) -> Result<Option<Account>>;
    fn read_accounts(&mut self) -> Result<Vec<Account>>;
    /// The accounts among `keys` in one snapshot, each with the sum of its holds due by `now`.
    fn read_live(&mut self, keys: &[&str], now: Timestamp) -> Result<Vec<Option<Account>>>;
    fn read_as_of(&mut self, key: &str, clock: &Clock) -> Result<AsOf>;
    fn read_history(&mut self, key: &str) -> Result<Vec<Entry>>;
    fn read_op(&mut self, op_id: &str) -> Result<Option<engine::StoredOp>>;
    fn read_hold(&mut self, pending_id: &str) -> Result<Option<Hold>>;
    fn read_sums(&mut self) -> Result<Sums>;
    fn read_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>>;
    fn read_records(&mut self, table: RecordTable) -> Result<Vec<String>>;
    /// Records with `from <= id < before`, by id.
    fn read_records_range(
        &mut self,
        table: RecordTable,
        from: &str,
        before: &str,
    ) -> Result<Vec<String>>;
    /// Bodies of the rows of a register page query.
    fn read_page(&mut self, q: &register::PageSql) -> Result<Vec<register::PageRow>>;
    /// The `veu_shipments` rows of a tenant and period (checked by the caller).
    fn read_veu_period(&mut self, tenant: &str, from: &str, to: &str) -> Result<Vec<VeuShipment>>;
    /// Per consignee key of a tenant's shipments: a name as given, shipments, refused ones.
    fn read_consignees(&mut self, tenant: &str) -> Result<Vec<(String, String, i64, i64)>>;
}

/// Which clock an as-of balance reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Clock {
    /// Entries recorded by this time.
    Recorded(Timestamp),
    /// Entries whose business date (a shipment's date; otherwise the UTC recording date) is on or
    /// before this date; holds placed by `end` and due by then are left out.
    Business {
        /// YYYY-MM-DD.
        date: String,
        /// The end of that date (UTC).
        end: Timestamp,
    },
}

impl Clock {
    /// The entries condition on parameter 2 (`at` or the effective business date), given the
    /// backend's expression for the UTC date of `at`.
    fn entries_on(&self, date_of_at: &str) -> String {
        match self {
            Clock::Recorded(_) => "at <= $2".to_string(),
            Clock::Business { .. } => format!("COALESCE(business_date, {date_of_at}) <= $2"),
        }
    }

    /// The time that bounds holds (placed and due by it).
    fn holds_until(&self) -> Timestamp {
        match self {
            Clock::Recorded(t) => *t,
            Clock::Business { end, .. } => *end,
        }
    }
}

/// Raw sums for an as-of balance.
#[derive(Debug)]
pub(crate) struct AsOf {
    posted_sum: i64,
    pending_sum: i64,
    /// Cap from the latest `open`/`cap` entry at or before the time (or the opening cap).
    cap: Option<i64>,
    /// Holds placed by then, still unresolved, and due by then.
    unswept_due: i64,
}

/// Aggregates for invariant checks.
#[derive(Debug, Default)]
pub(crate) struct Sums {
    /// account → (Σ posted_delta, Σ pending_delta)
    entries: HashMap<String, (i64, i64)>,
    /// account → Σ amount of unresolved holds
    holds: HashMap<String, i64>,
    ops_count: i64,
    op_entries_count: i64,
}

/// Orders `found` (account, sum of its due holds) as `keys`, with due holds taken out of
/// `pending`: expired holds never count, swept or not.
fn live_accounts(keys: &[&str], found: Vec<(Account, i64)>) -> Result<Vec<Option<Account>>> {
    let mut by_key: HashMap<String, Account> = HashMap::with_capacity(found.len());
    for (mut account, due) in found {
        let due = u64_of(&account.key, due)?;
        account.pending = account.pending.saturating_sub(due);
        by_key.insert(account.key.clone(), account);
    }
    Ok(keys.iter().map(|k| by_key.get(*k).cloned()).collect())
}

fn u64_of(what: &str, v: i64) -> Result<u64> {
    validate::to_u64(what, v)
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| LedgerError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

/// A balance replayed from history on `clock`.
fn balance_at<S: Store>(store: &mut S, key: &str, clock: &Clock) -> Result<Balance> {
    let s = store.read_as_of(key, clock)?;
    let cap = s.cap.map(|c| u64_of(key, c)).transpose()?;
    let posted = u64_of(key, s.posted_sum)?;
    let pending = u64_of(key, s.pending_sum.checked_sub(s.unswept_due).unwrap_or(-1))?;
    Ok(Balance::new(cap, posted, pending))
}

macro_rules! impl_ledger_store {
    ($ty:ty) => {
        impl LedgerStore for $ty {
            fn ensure_account(
                &mut self,
                key: &str,
                kind: AccountKind,
                cap: Option<u64>,
                now: Timestamp,
            ) -> Result<Account> {
                let input = (key, kind, cap);
                self.write(&mut |tx| {
                    // An account that exists is checked, not written: no record.
                    let existed = !tx.lock_accounts(&[key])?.is_empty();
                    let a = engine::ensure_account(tx, key, kind, cap, now)?;
                    let opened = audit::event("account.open", key, &input, "recorded");
                    Ok((a, (!existed).then_some(opened)))
                })
            }
            fn apply_batch(&mut self, ops: &[Op], now: Timestamp) -> Result<Vec<Applied>> {
                self.write(&mut |tx| {
                    let applied = engine::apply_ops(tx, ops, now, None)?;
                    Ok((applied, Some(ops_event(ops))))
                })
            }
            fn expire_due(&mut self, now: Timestamp) -> Result<u64> {
                self.write(&mut |tx| {
                    let n = engine::expire_due(tx, now)?;
                    let outcome = format!("expired:{n}");
                    Ok((n, Some(audit::event("ledger.expire", "", &now, &outcome))))
                })
            }
            fn account(&mut self, key: &str) -> Result<Account> {
                validate::account_key(key)?;
                self.read_account(key)?
                    .ok_or_else(|| LedgerError::UnknownAccount {
                        key: key.to_owned(),
                    })
            }
            fn accounts(&mut self) -> Result<Vec<Account>> {
                self.read_accounts()
            }
            fn live_accounts(
                &mut self,
                keys: &[&str],
                now: Timestamp,
            ) -> Result<Vec<Option<Account>>> {
                for k in keys {
                    validate::account_key(k)?;
                }
                self.read_live(keys, now)
            }
            fn party(&mut self, record_id: &str) -> Result<Option<Party>> {
                self.read_record(RecordTable::Parties, record_id)?
                    .map(|b| decode("parties", &b))
                    .transpose()
            }
            fn parties(&mut self, tenant: &str) -> Result<Vec<Party>> {
                let (from, before) = (format!("{tenant}/"), format!("{tenant}0"));
                let mut parties = Vec::new();
                for body in self.read_records_range(RecordTable::Parties, &from, &before)? {
                    let p: Party = decode("parties", &body)?;
                    if p.tenant == tenant {
                        parties.push(p);
                    }
                }
                Ok(parties)
            }
            fn balance(&mut self, key: &str, as_of: Option<Timestamp>) -> Result<Balance> {
                let account = self.account(key)?;
                let Some(t) = as_of else {
                    return Ok(Balance::new(account.cap, account.posted, account.pending));
                };
                balance_at(self, key, &Clock::Recorded(t))
            }
            fn balance_on(&mut self, key: &str, date: &str) -> Result<Balance> {
                self.account(key)?;
                validate::date("as-of date", date)?;
                let end = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
                    .map_or(Timestamp(i64::MAX), |t| {
                        Timestamp(t.and_utc().timestamp_millis())
                    });
                balance_at(
                    self,
                    key,
                    &Clock::Business {
                        date: date.to_string(),
                        end,
                    },
                )
            }
            fn history(&mut self, key: &str) -> Result<Vec<Entry>> {
                self.account(key)?;
                self.read_history(key)
            }
            fn op(&mut self, op_id: &str) -> Result<Option<Applied>> {
                validate::op_id(op_id)?;
                self.read_op(op_id)?.map(|op| op.to_applied()).transpose()
            }
            fn hold(&mut self, pending_id: &str) -> Result<Hold> {
                validate::op_id(pending_id)?;
                self.read_hold(pending_id)?
                    .ok_or_else(|| LedgerError::UnknownPending {
                        pending_id: pending_id.to_owned(),
                    })
            }
            fn check_invariants(&mut self) -> Result<()> {
                let accounts = self.read_accounts()?;
                let sums = self.read_sums()?;
                check_sums(&accounts, &sums)
            }
            fn add_license(&mut self, license: &License, now: Timestamp) -> Result<License> {
                self.write(&mut |tx| {
                    let l = engine::add_license(tx, license, now)?;
                    let e = audit::event("license.add", &license.id, license, "recorded");
                    Ok((l, Some(e)))
                })
            }
            fn change_license(&mut self, c: &LicenseChange, now: Timestamp) -> Result<License> {
                self.write(&mut |tx| {
                    let l = engine::change_license(tx, c, now)?;
                    let action = format!("license.{}", c.kind);
                    let e = audit::event(&action, &c.license.id, c, l.status.as_str());
                    Ok((l, Some(e)))
                })
            }
            fn license_changes(&mut self, id: &str) -> Result<Vec<LicenseChange>> {
                let (from, before) = (format!("{id}/"), format!("{id}0"));
                self.read_records_range(RecordTable::LicenseChanges, &from, &before)?
                    .iter()
                    .map(|b| decode("license_changes", b))
                    .collect()
            }
            fn write_application(
                &mut self,
                w: &ApplicationWrite,
                now: Timestamp,
            ) -> Result<Vec<Applied>> {
                self.write(&mut |tx| {
                    let applied = engine::write_application(tx, w, now)?;
                    let action = format!("application.{}", w.state);
                    let e = audit::event(&action, &w.id, &w.transition, &w.state);
                    Ok((applied, Some(e)))
                })
            }
            fn application(&mut self, id: &str) -> Result<Option<StoredApplication>> {
                let Some(body) = self.read_record(RecordTable::Applications, id)? else {
                    return Ok(None);
                };
                let (from, before) = (format!("{id}/"), format!("{id}0"));
                let transitions = self
                    .read_records_range(RecordTable::ApplicationTransitions, &from, &before)?
                    .iter()
                    .map(|b| decode("application_transitions", b))
                    .collect::<Result<_>>()?;
                Ok(Some(StoredApplication {
                    body: decode("applications", &body)?,
                    transitions,
                }))
            }
            fn applications(&mut self) -> Result<Vec<serde_json::Value>> {
                self.read_records(RecordTable::Applications)?
                    .iter()
                    .map(|b| decode("applications", b))
                    .collect()
            }
            fn license(&mut self, id: &str) -> Result<Option<License>> {
                self.read_record(RecordTable::Licenses, id)?
                    .map(|b| decode("licenses", &b))
                    .transpose()
            }
            fn licenses(&mut self) -> Result<Vec<License>> {
                self.read_records(RecordTable::Licenses)?
                    .iter()
                    .map(|b| decode("licenses", b))
                    .collect()
            }
            fn record_screening_decision(
                &mut self,
                d: &ScreeningDecision,
                now: Timestamp,
            ) -> Result<ScreeningDecision> {
                self.write(&mut |tx| {
                    let (stored, id) = screening::record_decision(tx, d, now)?;
                    let e = audit::event("screening.decision", &id, &stored, d.decision.as_str());
                    Ok((stored, Some(e)))
                })
            }
            fn screening_decisions(
                &mut self,
                tenant: &str,
                party_key: Option<&str>,
            ) -> Result<Vec<ScreeningDecision>> {
                validate::record_id("tenant", tenant)?;
                let (from, before) = screening::decision_range(tenant, party_key);
                let all: Vec<ScreeningDecision> = self
                    .read_records_range(RecordTable::ScreeningDecisions, &from, &before)?
                    .iter()
                    .map(|b| decode("screening_decisions", b))
                    .collect::<Result<_>>()?;
                // A digest shared by two keys must not mix their decisions.
                Ok(all
                    .into_iter()
                    .filter(|d| party_key.is_none_or(|k| d.party_key == k))
                    .collect())
            }
            fn set_screening_thresholds(
                &mut self,
                t: &ScreeningThresholds,
                now: Timestamp,
            ) -> Result<ScreeningThresholds> {
                self.write(&mut |tx| {
                    let (stored, id) = screening::set_thresholds(tx, t, now)?;
                    let outcome = format!("clear {} possible {}", t.clear, t.possible);
                    let e = audit::event("screening.thresholds", &id, &stored, &outcome);
                    Ok((stored, Some(e)))
                })
            }
            fn screening_thresholds(
                &mut self,
                tenant: &str,
            ) -> Result<Option<ScreeningThresholds>> {
                validate::record_id("tenant", tenant)?;
                let (from, before) = (format!("{tenant}/"), format!("{tenant}0"));
                self.read_records_range(RecordTable::ScreeningThresholds, &from, &before)?
                    .last()
                    .map(|b| decode("screening_thresholds", b))
                    .transpose()
            }
            fn add_veu(&mut self, veu: &Veu, now: Timestamp) -> Result<Veu> {
                self.write(&mut |tx| {
                    let v = engine::add_veu(tx, veu, now)?;
                    Ok((v, Some(audit::event("veu.add", &veu.id, veu, "recorded"))))
                })
            }
            fn veu(&mut self, id: &str) -> Result<Option<Veu>> {
                self.read_record(RecordTable::Veus, id)?
                    .map(|b| decode("veus", &b))
                    .transpose()
            }
            fn veus(&mut self) -> Result<Vec<Veu>> {
                self.read_records(RecordTable::Veus)?
                    .iter()
                    .map(|b| decode("veus", b))
                    .collect()
            }
            fn add_g2g(
                &mut self,
                arrangement: &G2gArrangement,
                now: Timestamp,
            ) -> Result<G2gArrangement> {
                self.write(&mut |tx| {
                    let g = engine::add_g2g(tx, arrangement, now)?;
                    let e = audit::event("g2g.add", &arrangement.country, arrangement, "recorded");
                    Ok((g, Some(e)))
                })
            }
            fn g2g_arrangements(&mut self) -> Result<Vec<G2gArrangement>> {
                self.read_records(RecordTable::G2g)?
                    .iter()
                    .map(|b| decode("g2g_arrangements", b))
                    .collect()
            }
            fn record_shipment(
                &mut self,
                shipment: &mut NewShipment,
                now: Timestamp,
            ) -> Result<Shipment> {
                // The shipment's audit row commits with it (see `Store::write`).
                let mut s = self.write(&mut |tx| engine::record_shipment(tx, shipment, now))?;
                if !s.replayed {
                    // Copied, not moved: a group run again records the same shipment again.
                    s.determination = shipment.determination.clone();
                }
                Ok(s)
            }
            fn group(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()> {
                self.group_begin()?;
                // Rolled back if `f` unwinds, so the connection is never left inside it.
                run_unwind_safe(self, Some(<$ty as Store>::group_abort), f);
                if self.group_redo()? {
                    run_unwind_safe(self, Some(<$ty as Store>::group_abort), f);
                }
                self.group_end()
            }
            fn read_snapshot(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()> {
                let opened = self.snapshot_begin()?;
                let end: fn(&mut $ty) -> Result<()> = <$ty as Store>::snapshot_end;
                run_unwind_safe(self, opened.then_some(end), f);
                if opened { self.snapshot_end() } else { Ok(()) }
            }
            fn shipment(&mut self, id: &str) -> Result<Option<Shipment>> {
                let found = self.read_record(RecordTable::Shipments, id)?;
                let mut s: Option<Shipment> = found.map(|b| decode("shipments", &b)).transpose()?;
                if let Some(s) = s.as_mut() {
                    s.replayed = false;
                }
                Ok(s)
            }
            fn shipments(&mut self) -> Result<Vec<Shipment>> {
                self.read_records(RecordTable::Shipments)?
                    .iter()
                    .map(|b| decode("shipments", b))
                    .collect()
            }
            fn shipments_page(&mut self, query: &ShipmentQuery) -> Result<ShipmentPage> {
                let q = register::PageSql::build(query, <$ty>::PLACEHOLDER)?;
                let items = self
                    .read_page(&q)?
                    .into_iter()
                    .map(|(body, dest, consignee)| register::register_row(body, dest, consignee))
                    .collect::<Result<Vec<_>>>()?;
                Ok(register::page_of(items, query.limit))
            }
            fn veu_shipments(
                &mut self,
                tenant: &str,
                from: &str,
                to: &str,
            ) -> Result<Vec<VeuShipment>> {
                register::check_veu_period(tenant, from, to)?;
                self.read_veu_period(tenant, from, to)
            }
            fn register_consignees(&mut self, tenant: &str) -> Result<Vec<RegisterConsignee>> {
                validate::text("tenant", tenant)?;
                let mut rows = self
                    .read_consignees(tenant)?
                    .into_iter()
                    .map(|(key, name, shipments, refused)| {
                        Ok(RegisterConsignee {
                            key,
                            name,
                            shipments: u64_of("shipments", shipments)?,
                            refused: u64_of("shipments", refused)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                rows.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(rows)
            }
            fn set_audit_context(&mut self, ctx: AuditContext) {
                *self.audit_context_mut() = ctx;
            }
            fn audit_event(&mut self, event: &AuditEvent) -> Result<()> {
                self.write(&mut |_| Ok(((), Some(event.clone()))))
            }
            fn chain_audit(
                &mut self,
                key: &AuditKey,
                direct: &[NewAudit],
                limit: i64,
                checkpoint: bool,
            ) -> Result<Chained> {
                self.audit_chain(key, direct, limit, checkpoint)
            }
            fn audit_records(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>> {
                self.audit_list(tenant, limit)
            }
            fn audit_record_of(
                &mut self,
                action: &str,
                subject: &str,
            ) -> Result<Option<AuditRecord>> {
                self.audit_find(action, subject)
            }
            fn audit_backlog(&mut self) -> Result<i64> {
                self.audit_outbox_len()
            }
            fn verify_audit(&mut self, auditor: &Auditor) -> Result<Verification> {
                verify_chain(self, auditor)
            }
        }
    };
}

/// The audit event of a batch of ops: `ledger.<kind>` for one op, `ledger.batch` for several.
fn ops_event(ops: &[Op]) -> AuditEvent {
    let (action, subject) = match ops {
        [one] => (format!("ledger.{}", one.kind()), one.op_id()),
        [first, ..] => ("ledger.batch".to_owned(), first.op_id()),
        [] => ("ledger.batch".to_owned(), ""),
    };
    audit::event(&action, subject, &ops, "applied")
}

/// Records per page of a verification: a few MiB whatever the chain's length.
const VERIFY_PAGE: i64 = 8192;

/// Verifies the chain page by page: every record, every checkpoint, and the anchor. The anchor
/// and the checkpoint high-water mark are read before the head, so that checkpoints written
/// while this runs never count against it.
fn verify_chain<S: Store + ?Sized>(s: &mut S, auditor: &Auditor) -> Result<Verification> {
    let anchor = auditor.read_anchor()?;
    let checkpointed = s.audit_checkpointed()?;
    let head = s.audit_head()?;
    let mut v = audit::Verifier::new(auditor.key());
    if let Some(a) = anchor.as_ref().filter(|a| !auditor.key().signed(a)) {
        v.fail(
            a.records,
            "the anchor outside the database is not signed by the audit key".into(),
        );
    }
    let mut checked = 0i64;
    let mut after = 0;
    while after < head && !v.failed() {
        let upto = (after + VERIFY_PAGE).min(head);
        let mut marks: Vec<(Checkpoint, &str)> = s
            .audit_checkpoints(after, upto)?
            .into_iter()
            .map(|c| (c, "checkpoint"))
            .collect();
        if let Some(a) = anchor
            .as_ref()
            .filter(|a| a.records > after && a.records <= upto)
        {
            marks.push((a.clone(), "the anchor outside the database"));
        }
        marks.sort_by_key(|(c, _)| c.records);
        let mut marks = marks.into_iter().peekable();
        s.audit_scan(after, upto, &mut |r| {
            if !v.step(r) {
                return false;
            }
            while let Some((c, what)) = marks.next_if(|(c, _)| c.records == r.seq) {
                checked += i64::from(what == "checkpoint");
                if !v.checkpoint(&c, what) {
                    return false;
                }
            }
            true
        })?;
        if !v.failed() && v.records() != upto {
            let missing = v.records() + 1;
            v.fail(missing, format!("record {missing} is missing"));
        }
        after = upto;
    }
    let records = v.records();
    let vouched = [
        (checkpointed, "a signed checkpoint"),
        (
            anchor.as_ref().map_or(0, |a| a.records),
            "the anchor outside the database",
        ),
    ];
    for (count, what) in vouched {
        if !v.failed() && count > records {
            v.fail(
                records + 1,
                format!(
                    "{what} vouches for {count} records but the chain has {records}: records were removed"
                ),
            );
        }
    }
    Ok(v.finish(checked, anchor.map(|a| a.records)))
}

impl_ledger_store!(SqliteLedger);
impl_ledger_store!(PgLedger);

impl LedgerStore for Ledger {
    fn ensure_account(
        &mut self,
        key: &str,
        kind: AccountKind,
        cap: Option<u64>,
        now: Timestamp,
    ) -> Result<Account> {
        self.store().ensure_account(key, kind, cap, now)
    }
    fn apply_batch(&mut self, ops: &[Op], now: Timestamp) -> Result<Vec<Applied>> {
        self.store().apply_batch(ops, now)
    }
    fn expire_due(&mut self, now: Timestamp) -> Result<u64> {
        self.store().expire_due(now)
    }
    fn account(&mut self, key: &str) -> Result<Account> {
        self.store().account(key)
    }
    fn accounts(&mut self) -> Result<Vec<Account>> {
        self.store().accounts()
    }
    fn live_accounts(&mut self, keys: &[&str], now: Timestamp) -> Result<Vec<Option<Account>>> {
        self.store().live_accounts(keys, now)
    }
    fn party(&mut self, record_id: &str) -> Result<Option<Party>> {
        self.store().party(record_id)
    }
    fn parties(&mut self, tenant: &str) -> Result<Vec<Party>> {
        self.store().parties(tenant)
    }
    fn balance(&mut self, key: &str, as_of: Option<Timestamp>) -> Result<Balance> {
        self.store().balance(key, as_of)
    }
    fn balance_on(&mut self, key: &str, date: &str) -> Result<Balance> {
        self.store().balance_on(key, date)
    }
    fn history(&mut self, key: &str) -> Result<Vec<Entry>> {
        self.store().history(key)
    }
    fn op(&mut self, op_id: &str) -> Result<Option<Applied>> {
        self.store().op(op_id)
    }
    fn hold(&mut self, pending_id: &str) -> Result<Hold> {
        self.store().hold(pending_id)
    }
    fn check_invariants(&mut self) -> Result<()> {
        self.store().check_invariants()
    }
    fn add_license(&mut self, license: &License, now: Timestamp) -> Result<License> {
        self.store().add_license(license, now)
    }
    fn change_license(&mut self, c: &LicenseChange, now: Timestamp) -> Result<License> {
        self.store().change_license(c, now)
    }
    fn license_changes(&mut self, id: &str) -> Result<Vec<LicenseChange>> {
        self.store().license_changes(id)
    }
    fn write_application(&mut self, w: &ApplicationWrite, now: Timestamp) -> Result<Vec<Applied>> {
        self.store().write_application(w, now)
    }
    fn application(&mut self, id: &str) -> Result<Option<StoredApplication>> {
        self.store().application(id)
    }
    fn applications(&mut self) -> Result<Vec<serde_json::Value>> {
        self.store().applications()
    }
    fn license(&mut self, id: &str) -> Result<Option<License>> {
        self.store().license(id)
    }
    fn licenses(&mut self) -> Result<Vec<License>> {
        self.store().licenses()
    }
    fn record_screening_decision(
        &mut self,
        d: &ScreeningDecision,
        now: Timestamp,
    ) -> Result<ScreeningDecision> {
        self.store().record_screening_decision(d, now)
    }
    fn screening_decisions(
        &mut self,
        tenant: &str,
        party_key: Option<&str>,
    ) -> Result<Vec<ScreeningDecision>> {
        self.store().screening_decisions(tenant, party_key)
    }
    fn set_screening_thresholds(
        &mut self,
        t: &ScreeningThresholds,
        now: Timestamp,
    ) -> Result<ScreeningThresholds> {
        self.store().set_screening_thresholds(t, now)
    }
    fn screening_thresholds(&mut self, tenant: &str) -> Result<Option<ScreeningThresholds>> {
        self.store().screening_thresholds(tenant)
    }
    fn add_veu(&mut self, veu: &Veu, now: Timestamp) -> Result<Veu> {
        self.store().add_veu(veu, now)
    }
    fn veu(&mut self, id: &str) -> Result<Option<Veu>> {
        self.store().veu(id)
    }
    fn veus(&mut self) -> Result<Vec<Veu>> {
        self.store().veus()
    }
    fn add_g2g(&mut self, arrangement: &G2gArrangement, now: Timestamp) -> Result<G2gArrangement> {
        self.store().add_g2g(arrangement, now)
    }
    fn g2g_arrangements(&mut self) -> Result<Vec<G2gArrangement>> {
        self.store().g2g_arrangements()
    }
    fn record_shipment(&mut self, shipment: &mut NewShipment, now: Timestamp) -> Result<Shipment> {
        self.store().record_shipment(shipment, now)
    }
    fn group(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()> {
        self.store().group(f)
    }
    fn read_snapshot(&mut self, f: &mut dyn FnMut(&mut dyn LedgerStore)) -> Result<()> {
        self.store().read_snapshot(f)
    }
    fn shipment(&mut self, id: &str) -> Result<Option<Shipment>> {
        self.store().shipment(id)
    }
    fn shipments(&mut self) -> Result<Vec<Shipment>> {
        self.store().shipments()
    }
    fn shipments_page(&mut self, query: &ShipmentQuery) -> Result<ShipmentPage> {
        self.store().shipments_page(query)
    }
    fn veu_shipments(&mut self, tenant: &str, from: &str, to: &str) -> Result<Vec<VeuShipment>> {
        self.store().veu_shipments(tenant, from, to)
    }
    fn register_consignees(&mut self, tenant: &str) -> Result<Vec<RegisterConsignee>> {
        self.store().register_consignees(tenant)
    }
    fn set_audit_context(&mut self, ctx: AuditContext) {
        self.store().set_audit_context(ctx);
    }
    fn audit_record_of(&mut self, action: &str, subject: &str) -> Result<Option<AuditRecord>> {
        self.store().audit_record_of(action, subject)
    }
    fn audit_event(&mut self, event: &AuditEvent) -> Result<()> {
        self.store().audit_event(event)
    }
    fn chain_audit(
        &mut self,
        key: &AuditKey,
        direct: &[NewAudit],
        limit: i64,
        checkpoint: bool,
    ) -> Result<Chained> {
        self.store().chain_audit(key, direct, limit, checkpoint)
    }
    fn audit_records(&mut self, tenant: &str, limit: i64) -> Result<Vec<AuditRecord>> {
        self.store().audit_records(tenant, limit)
    }
    fn audit_backlog(&mut self) -> Result<i64> {
        self.store().audit_backlog()
    }
    fn verify_audit(&mut self, auditor: &Auditor) -> Result<Verification> {
        self.store().verify_audit(auditor)
    }
}

fn check_sums(accounts: &[Account], sums: &Sums) -> Result<()> {
    let violated = |account: &str, detail: String| LedgerError::InvariantViolated {
        account: account.to_owned(),
        detail,
    };
    for a in accounts {
        let (posted_sum, pending_sum) = sums.entries.get(&a.key).copied().unwrap_or((0, 0));
        let holds_sum = sums.holds.get(&a.key).copied().unwrap_or(0);
        if i128::from(posted_sum) != i128::from(a.posted) {
            return Err(violated(
                &a.key,
                format!("posted {} != sum of history {posted_sum}", a.posted),
            ));
        }
        if i128::from(pending_sum) != i128::from(a.pending) {
            return Err(violated(
                &a.key,
                format!("pending {} != sum of history {pending_sum}", a.pending),
            ));
        }
        if i128::from(holds_sum) != i128::from(a.pending) {
            return Err(violated(
                &a.key,
                format!(
                    "pending {} != sum of unresolved holds {holds_sum}",
                    a.pending
                ),
            ));
        }
        if let Some(cap) = a.cap
            && u128::from(a.posted) + u128::from(a.pending) > u128::from(cap)
        {
            return Err(violated(
                &a.key,
                format!(
                    "posted {} + pending {} exceeds cap {cap}",
                    a.posted, a.pending
                ),
            ));
        }
    }
    for key in sums.entries.keys().chain(sums.holds.keys()) {
        if !accounts.iter().any(|a| &a.key == key) {
            return Err(violated(
                key,
                "history or holds for an account that does not exist".into(),
            ));
        }
    }
    if sums.ops_count != sums.op_entries_count {
        return Err(violated(
            "*",
            format!(
                "{} stored ops but {} entries carry an op id",
                sums.ops_count, sums.op_entries_count
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod migration_list {
    #[test]
    fn constants_describe_both_backends_migrations() {
        for versions in [
            crate::sqlite::MIGRATIONS
                .iter()
                .map(|m| m.version)
                .collect::<Vec<_>>(),
            crate::pg::MIGRATIONS
                .iter()
                .map(|m| m.version)
                .collect::<Vec<_>>(),
        ] {
            assert_eq!(versions.last().copied(), Some(crate::SCHEMA_VERSION));
            assert_eq!(versions.len() as i64, crate::MIGRATION_COUNT);
        }
    }
}
