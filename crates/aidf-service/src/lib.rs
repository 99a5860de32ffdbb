//! aidf-service: determinations recorded against the ledger.
//!
//! [`ship`] is the one shipment path (CLI, HTTP, batch): it reads every balance the transaction
//! needs in one read, determines it once, and records it in one ledger transaction with the draws
//! the determination owns, the license's draws, the parties and the request's digest. The ledger
//! compares every balance the determination read inside that transaction; if one moved, the
//! shipment is determined again (bounded). So two processes can never both spend the last TPP of
//! a cap, and every recorded shipment was determined against balances it really had.

use aidf_core::{DetermineError, Posture};
use aidf_ledger::{LedgerError, Shipment, ShipmentStatus};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub mod application;
pub mod application_record;
pub mod application_stats;
pub mod classify;
pub mod countries;
mod in_flight;
pub mod licenses;
pub mod records;
pub mod reevaluate;
pub mod register;
pub mod reports;
pub mod reports_due;
pub mod rescreen;
pub mod screening;
pub mod screening_decisions;
mod ship;
pub mod upgrade;

pub use in_flight::InFlight;
pub use ship::{
    GroupItem, LicenseMismatch, Plan, Prepared, ShipRequest, commit_prepared, prepare, ship,
    ship_group,
};

/// Why a shipment could not be determined or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The input was bad (names the field).
    #[error("{0}")]
    Determine(#[from] DetermineError),
    /// A field the shipment path checks itself (names it, with the value).
    #[error("field `{field}`: {message}")]
    Input {
        /// Field path.
        field: &'static str,
        /// What is wrong, with the value.
        message: String,
    },
    /// The caller's role may not do this (a back-dated shipment needs an officer).
    #[error("{0}")]
    Forbidden(String),
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The ledger could not commit (the request may be retried under the same id).
    #[error("{0}")]
    Unavailable(String),
    /// Caps kept moving under us.
    #[error("shipment `{0}`: balances kept changing; gave up after {1} attempts")]
    Contention(String, u32),
}

/// How a ledger determines shipments: its posture, not the client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShipConfig {
    /// Posture every shipment is determined under (`aidf serve --posture`).
    pub posture: Posture,
    /// Shipments dated more than this many days before today are back-dated: they need an
    /// officer and are marked as backfill.
    pub backdate_window_days: i64,
    /// Shipments dated more than this many days after today are refused.
    pub future_days: i64,
    /// Screen the parties against the default restricted-party lists before determining
    /// ([`screening`]); off only where a caller screens elsewhere (tests of the rules alone).
    pub screen: bool,
}

impl Default for ShipConfig {
    fn default() -> Self {
        ShipConfig {
            posture: Posture::AsWritten,
            backdate_window_days: 30,
            future_days: 1,
            screen: true,
        }
    }
}

/// The result of `ship`: the determination plus what the ledger recorded. Built from the stored
/// record, so a replay serializes to the same bytes as the first answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShipOutcome {
    /// Shipment id.
    pub shipment_id: String,
    /// `authorized` or `refused`.
    pub status: ShipmentStatus,
    /// The license drawn, if the shipment went under one.
    pub license_id: Option<String>,
    /// Why it was refused, if it was.
    pub refusal: Option<String>,
    /// What the shipment path did besides the rules (an unknown VEU claim, a backfill).
    pub notes: Vec<String>,
    /// The screening of the parties (verdicts, hits, effects, list versions), when screened
    /// (boxed: most answers are moved around more often than read).
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Stored as written: declared as the screening it was built from.
    #[schema(value_type = crate::screening::TransactionScreening, required = false)]
    pub screening: Option<Box<serde_json::Value>>,
    /// The business date of the shipment.
    pub business_date: Option<String>,
    /// Recorded past the back-dating window by an officer.
    pub backfill: bool,
    /// The determination, made against the ledger's balances (stored as written: declared as
    /// the determination it was built from).
    #[schema(value_type = aidf_core::Determination)]
    pub determination: serde_json::Value,
    /// Ledger entries written (op ids and balances after).
    pub entries: Vec<aidf_ledger::Applied>,
    /// True when the shipment id was recorded before and this is the stored record (not part of
    /// the serialized answer, which is the same bytes either way).
    #[serde(skip)]
    pub replayed: bool,
}

impl ShipOutcome {
    /// The outcome a stored shipment record gives.
    pub fn from_record(mut s: Shipment, replayed: bool) -> ShipOutcome {
        let determination = s.determination["determination"].take();
        let screening = s.determination["screening"].take();
        let body = &s.determination;
        let notes = body["notes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ShipOutcome {
            shipment_id: s.shipment_id,
            status: s.status,
            license_id: body["license_id"].as_str().map(String::from),
            refusal: body["refusal"].as_str().map(String::from),
            notes,
            screening: Some(screening).filter(|v| !v.is_null()).map(Box::new),
            business_date: s.business_date,
            backfill: s.backfill,
            determination,
            entries: s.applied,
            replayed: replayed || s.replayed,
        }
    }
}

/// Digest of a request as the client gave it: canonical JSON of the parsed input, so a retry is
/// recognised whatever its white space. Computed once, before the ledger's balances are filled
/// in, and stored with the shipment.
pub fn input_digest(input: &aidf_core::DeterminationInput) -> String {
    let json = serde_json::to_vec(input).unwrap_or_default();
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    aidf_ledger::audit::push_hex(&mut hex, &Sha256::digest(&json));
    hex
}

/// The tenant of everything recorded without a server: the CLI's commands and `aidf batch
/// --ledger` (the server's tenants are named by their tokens).
pub const LOCAL_TENANT: &str = "local";

/// A new shipment id for a request that brought none: a UUIDv7 (time-ordered, random), never
/// derived from the request, so two identical requests without a key are two shipments.
pub fn new_shipment_id() -> String {
    format!("ship-{}", uuid::Uuid::now_v7())
}
