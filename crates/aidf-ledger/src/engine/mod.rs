//! Backend-independent ledger rules.
//!
//! Both backends implement [`TxOps`] on top of an open write transaction; all
//! rules (validation, idempotency, lazy expiry, cap checks, history entries)
//! live here once, so the two backends cannot drift apart.

use crate::error::Result;
use crate::types::{Account, Hold, HoldState, Timestamp};

/// Tables holding JSON records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordTable {
    Licenses,
    Veus,
    G2g,
    Shipments,
    Parties,
    Applications,
    ApplicationTransitions,
    LicenseChanges,
    ScreeningDecisions,
    ScreeningThresholds,
}

impl RecordTable {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            RecordTable::Licenses => "licenses",
            RecordTable::Veus => "veus",
            RecordTable::G2g => "g2g_arrangements",
            RecordTable::Shipments => "shipments",
            RecordTable::Parties => "parties",
            RecordTable::Applications => "applications",
            RecordTable::ApplicationTransitions => "application_transitions",
            RecordTable::LicenseChanges => "license_changes",
            RecordTable::ScreeningDecisions => "screening_decisions",
            RecordTable::ScreeningThresholds => "screening_thresholds",
        }
    }
}

mod apply;
mod plan;
mod records;
mod rows;
mod shipment;

pub(crate) use apply::{apply_ops, ensure_account, expire_due};
pub(crate) use records::{add_g2g, add_license, add_veu, change_license, write_application};
pub(crate) use rows::{
    NewEntry, NewOp, OP_COLS, STORED_OP_COLS, StoredOp, V2_OP_COLS, meta_of, upgrade_v1_op,
};
pub use shipment::NewShipment;
pub(crate) use shipment::record_shipment;

/// Primitive operations inside one write transaction.
pub(crate) trait TxOps {
    /// Loads (and on PostgreSQL, row-locks in key order) the given accounts.
    /// `keys` is sorted and deduplicated. Missing keys are simply absent.
    fn lock_accounts(&mut self, keys: &[&str]) -> Result<Vec<Account>>;
    /// Holds a shipment's accounts until the transaction ends, in the order given (sorted by
    /// key): those it writes (`true`) for update, those it only read against any change. On
    /// PostgreSQL, `FOR UPDATE` / `FOR SHARE`, so shipments that only read a balance (the country
    /// allocation of every LPP export) do not queue behind each other; on SQLite the IMMEDIATE
    /// transaction already holds the whole database. Missing keys are absent from the result.
    fn hold_accounts(&mut self, keys: &[(&str, bool)]) -> Result<Vec<Account>> {
        let all: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        self.lock_accounts(&all)
    }
    fn insert_account(&mut self, account: &Account) -> Result<()>;
    fn update_account(&mut self, account: &Account) -> Result<()>;
    fn get_op(&mut self, op_id: &str) -> Result<Option<StoredOp>>;
    /// Inserts the op unless its id is already stored; false if it was.
    fn insert_op(&mut self, op: &NewOp<'_>) -> Result<bool>;
    fn get_hold(&mut self, pending_id: &str) -> Result<Option<Hold>>;
    fn set_hold_state(&mut self, pending_id: &str, state: HoldState) -> Result<()>;
    /// Unresolved holds on `account` with `expires_at <= now`.
    fn due_holds(&mut self, account: &str, now: Timestamp) -> Result<Vec<Hold>>;
    /// Accounts with at least one unresolved hold with `expires_at <= now`.
    fn due_accounts(&mut self, now: Timestamp) -> Result<Vec<String>>;
    fn insert_entry(&mut self, entry: &NewEntry<'_>) -> Result<()>;
    fn get_record(&mut self, table: RecordTable, id: &str) -> Result<Option<String>>;
    /// Replaces a record's body (tables without an append-only trigger: licenses, applications).
    fn update_record(&mut self, table: RecordTable, id: &str, body: &str) -> Result<()>;
    fn insert_record(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Inserts the record unless its id is stored (then leaves that one as it is).
    fn insert_record_if_absent(
        &mut self,
        table: RecordTable,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        if self.get_record(table, id)?.is_none() {
            self.insert_record(table, id, body, at)?;
        }
        Ok(())
    }
    /// Inserts a shipment row with its register columns (schema 5).
    fn insert_shipment(
        &mut self,
        cols: &crate::register::Columns,
        id: &str,
        body: &str,
        at: Timestamp,
    ) -> Result<()>;
}
