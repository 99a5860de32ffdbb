//! Typed errors. Messages are lowercase and name the offending value.

use crate::types::Timestamp;

/// Convenience alias used throughout the crate.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// Every way a ledger call can fail.
///
/// Domain errors (bad input, cap exceeded, already resolved, ...) never leave
/// a trace in the database: the transaction that detected them is rolled back.
/// Storage errors (`Sqlite`, `Postgres`, `Io`) are passed through unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An op id (or pending id) is not 1–128 characters of `[A-Za-z0-9._:-]`.
    #[error("invalid op id `{value}`: expected 1-128 characters of [A-Za-z0-9._:-]")]
    InvalidOpId {
        /// The rejected value.
        value: String,
    },
    /// An account key is not 1–256 characters of `[A-Za-z0-9._:/@+-]`.
    #[error("invalid account key `{value}`: expected 1-256 characters of [A-Za-z0-9._:/@+-]")]
    InvalidAccountKey {
        /// The rejected value.
        value: String,
    },
    /// A record field (country code, date, record id, ...) is malformed.
    #[error("invalid {field} `{value}`: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// Amounts must be positive; a zero amount is almost always a caller bug.
    #[error("amount for op `{op_id}` must be positive, got 0")]
    ZeroAmount {
        /// The op carrying the zero amount.
        op_id: String,
    },
    /// A negative amount arrived through a signed interface (e.g. JSON or SQL).
    #[error("amount for `{what}` must not be negative, got {value}")]
    NegativeAmount {
        /// Which op or account.
        what: String,
        /// The rejected value.
        value: i64,
    },
    /// Amounts and caps are stored as signed 64-bit integers.
    #[error("amount {value} for `{what}` exceeds the largest storable amount {max}", max = i64::MAX)]
    AmountTooLarge {
        /// Which op or account.
        what: String,
        /// The rejected value.
        value: u64,
    },
    /// A sum of balances would overflow.
    #[error("balance of account `{account}` would overflow")]
    Overflow {
        /// The account.
        account: String,
    },
    /// A reservation's expiry must lie strictly after `now`.
    #[error("expires_at {expires_at} of op `{op_id}` is not after now {now}")]
    ExpiryNotInFuture {
        /// The op.
        op_id: String,
        /// The requested expiry.
        expires_at: Timestamp,
        /// The injected clock value.
        now: Timestamp,
    },
    /// No account with this key exists.
    #[error("unknown account `{key}`")]
    UnknownAccount {
        /// The key.
        key: String,
    },
    /// `ensure_account` found the account with a different kind or cap.
    #[error("account `{key}` exists with different {field}")]
    AccountExists {
        /// The key.
        key: String,
        /// First field that differs (`kind` or `cap`).
        field: &'static str,
    },
    /// No pending hold with this id exists.
    #[error("unknown pending hold `{pending_id}`")]
    UnknownPending {
        /// The pending id (the op id of the reservation).
        pending_id: String,
    },
    /// Accepting the op would push posted + pending above the cap.
    #[error(
        "{amount} on account `{account}` exceeds cap {cap} (posted {posted}, pending {pending}, available {available})",
        available = cap.saturating_sub(posted.saturating_add(*pending))
    )]
    ExceedsCap {
        /// The account.
        account: String,
        /// Its cap.
        cap: u64,
        /// Posted balance at the time of the check.
        posted: u64,
        /// Pending (live, unexpired) holds at the time of the check.
        pending: u64,
        /// The requested amount.
        amount: u64,
    },
    /// The hold was already posted.
    #[error("pending hold `{pending_id}` was already posted")]
    AlreadyPosted {
        /// The hold.
        pending_id: String,
    },
    /// The hold was already voided.
    #[error("pending hold `{pending_id}` was already voided")]
    AlreadyVoided {
        /// The hold.
        pending_id: String,
    },
    /// The hold expired before it was resolved.
    #[error("pending hold `{pending_id}` expired at {expires_at}")]
    AlreadyExpired {
        /// The hold.
        pending_id: String,
        /// When it expired.
        expires_at: Timestamp,
    },
    /// A partial post may not exceed the held amount.
    #[error("posting {amount} exceeds the {held} held by `{pending_id}`")]
    PostExceedsPending {
        /// The hold.
        pending_id: String,
        /// Amount held.
        held: u64,
        /// Amount requested.
        amount: u64,
    },
    /// Attrition may not push the posted balance below zero.
    #[error("attrition of {amount} on account `{account}` exceeds posted {posted}")]
    AttritionExceedsPosted {
        /// The account.
        account: String,
        /// Posted balance.
        posted: u64,
        /// Requested attrition.
        amount: u64,
    },
    /// A cap may not be lowered below what is already used.
    #[error(
        "new cap {new_cap} on account `{account}` is below posted {posted} + pending {pending}"
    )]
    CapBelowUsage {
        /// The account.
        account: String,
        /// Requested cap.
        new_cap: u64,
        /// Posted balance.
        posted: u64,
        /// Pending balance.
        pending: u64,
    },
    /// An op id was replayed with different fields.
    #[error("op `{op_id}` exists with different {field}")]
    OpExists {
        /// The op id.
        op_id: String,
        /// First field that differs.
        field: &'static str,
    },
    /// The same op id appears twice in one batch.
    #[error("op id `{op_id}` appears more than once in the batch")]
    DuplicateOpInBatch {
        /// The op id.
        op_id: String,
    },
    /// A record (license, VEU, G2G arrangement) exists with different fields.
    #[error("{record} `{id}` exists with different {field}")]
    RecordExists {
        /// Record type (`license`, `veu`, `g2g`).
        record: &'static str,
        /// Record id.
        id: String,
        /// First field that differs.
        field: &'static str,
    },
    /// Another writer changed the record since it was read.
    #[error(
        "{record} `{id}` changed since it was read (expected {expected} change(s) before this one); read it again"
    )]
    StaleRecord {
        /// Record type (`application`, `license`).
        record: &'static str,
        /// Record id.
        id: String,
        /// Changes the writer had seen.
        expected: u32,
    },
    /// A record that must exist does not.
    #[error("unknown {record} `{id}`")]
    UnknownRecord {
        /// Record type.
        record: &'static str,
        /// Record id.
        id: String,
    },
    /// A shipment id recorded before for a different request.
    #[error(
        "shipment `{shipment_id}` was recorded for a different request (digest {stored}); use a new id"
    )]
    ShipmentConflict {
        /// The shipment id.
        shipment_id: String,
        /// Digest of the request recorded under it.
        stored: String,
    },
    /// A balance the determination read changed before the write (compare-and-set failed).
    #[error("account `{account}`: balance moved from {expected} to {found} since it was read")]
    BalanceMoved {
        /// The account.
        account: String,
        /// What the determination read (posted + pending, or posted for installed bases).
        expected: u64,
        /// What the write found.
        found: u64,
    },
    /// A refused shipment must not carry ledger ops.
    #[error("shipment `{shipment_id}` is refused but carries {count} ops")]
    RefusedWithOps {
        /// The shipment.
        shipment_id: String,
        /// Number of ops supplied.
        count: usize,
    },
    /// One op of a linked batch failed; none of the batch was applied.
    /// The other ops' status is `linked_event_failed`.
    #[error(
        "op {index} (`{op_id}`) of a linked batch of {len} failed: {source}; the other ops were not applied (linked_event_failed)"
    )]
    BatchFailed {
        /// Index of the failing op in the batch.
        index: usize,
        /// Its op id.
        op_id: String,
        /// Batch length.
        len: usize,
        /// Why it failed.
        source: Box<LedgerError>,
    },
    /// The database exists but is not an aidf ledger; nothing was changed.
    #[error("`{location}` is not an aidf ledger: {reason}")]
    NotALedger {
        /// Path or URL (without password).
        location: String,
        /// What was found.
        reason: String,
    },
    /// The ledger was written by a newer version of this crate.
    #[error(
        "ledger `{location}` has schema version {found}, this build supports up to {supported}"
    )]
    SchemaTooNew {
        /// Path or URL.
        location: String,
        /// Version found.
        found: i64,
        /// Highest known version.
        supported: i64,
    },
    /// Stored data violates an invariant (found by [`crate::LedgerStore::check_invariants`]).
    #[error("invariant violated on `{account}`: {detail}")]
    InvariantViolated {
        /// The account (or `*`).
        account: String,
        /// Details.
        detail: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt stored value in {what}: {detail}")]
    Corrupt {
        /// Where.
        what: String,
        /// Details.
        detail: String,
    },
    /// Serialisable conflicts kept recurring.
    /// A write of a group's first run after one that failed part-way: the group is undone and
    /// run again with a savepoint per write ([`crate::LedgerStore::group`]); never the answer
    /// of a group that returned.
    #[error(
        "not written: an earlier write of the group failed after it had written, so the group is undone and run again"
    )]
    GroupRedone,
    #[error("transaction gave up after {attempts} attempts: {source}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        source: Box<LedgerError>,
    },
    /// SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL error.
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// JSON (de)serialisation error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// I/O error while inspecting a ledger file.
    #[error("io error on `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl LedgerError {
    /// The innermost error: unwraps [`LedgerError::BatchFailed`] and
    /// [`LedgerError::RetriesExhausted`].
    pub fn root_cause(&self) -> &LedgerError {
        match self {
            LedgerError::BatchFailed { source, .. }
            | LedgerError::RetriesExhausted { source, .. } => source.root_cause(),
            other => other,
        }
    }

    /// True for errors raised by the storage engine rather than by ledger rules.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            LedgerError::Sqlite(_)
                | LedgerError::Postgres(_)
                | LedgerError::Io { .. }
                | LedgerError::Corrupt { .. }
                | LedgerError::RetriesExhausted { .. }
                | LedgerError::GroupRedone
        )
    }

    /// True if the root cause is a cap check failure.
    pub fn is_exceeds_cap(&self) -> bool {
        matches!(self.root_cause(), LedgerError::ExceedsCap { .. })
    }

    /// True if a balance read for a determination moved before its write: determine again.
    pub fn is_balance_moved(&self) -> bool {
        matches!(self.root_cause(), LedgerError::BalanceMoved { .. })
    }
}

/// `postgres::Error`'s `Display` says only "db error"; include the server's message and SQLSTATE.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}
