//! aidf-service: determinations recorded against the ledger.
//!
//! [`ship`] is the one shipment path (CLI, HTTP, batch): it reads every balance the transaction
//! needs in one read, determines it once, and records it in one ledger transaction with the draws
//! the determination owns, the license's draws, the parties and the request's digest. The ledger
//! compares every balance the determination read inside that transaction; if one moved, the
//! shipment is determined again (bounded). So two processes can never both spend the last TPP of
//! a cap, and every recorded shipment was determined against balances it really had.

use aidf_core::{DetermineError, Posture};
use aidf_ledger::{JsonText, LedgerError, Shipment, ShipmentStatus};
use serde::Serialize;
use serde_json::value::RawValue;
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
    /// The screening of the parties (verdicts, hits, effects, list versions), when screened.
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Stored as written: declared as the screening it was built from.
    #[schema(value_type = crate::screening::TransactionScreening, required = false)]
    pub screening: Option<JsonText>,
    /// The business date of the shipment.
    pub business_date: Option<String>,
    /// Recorded past the back-dating window by an officer.
    pub backfill: bool,
    /// The determination, made against the ledger's balances (stored as written: declared as
    /// the determination it was built from).
    #[schema(value_type = aidf_core::Determination)]
    pub determination: JsonText,
    /// Ledger entries written (op ids and balances after).
    pub entries: Vec<aidf_ledger::Applied>,
    /// True when the shipment id was recorded before and this is the stored record (not part of
    /// the serialized answer, which is the same bytes either way).
    #[serde(skip)]
    pub replayed: bool,
}

/// The parts of a stored answer, borrowed from its text (see `ship::StoredAnswer`). Read as
/// `Value` indexing would: a part that is absent or of another type is empty (and so is every
/// part of a body with a duplicate key, which no writer makes).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct StoredParts<'a> {
    #[serde(borrow)]
    determination: Option<&'a RawValue>,
    #[serde(borrow)]
    license_id: Option<&'a RawValue>,
    #[serde(borrow)]
    notes: Option<&'a RawValue>,
    #[serde(borrow)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow)]
    screening: Option<&'a RawValue>,
}

/// An answer's parts besides what the ledger's record gives: what a shipment's stored text
/// holds next to its input (see `ship::StoredAnswer`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AnswerParts {
    pub determination: JsonText,
    pub screening: Option<JsonText>,
    pub license_id: Option<String>,
    pub refusal: Option<String>,
    pub notes: Vec<String>,
}

impl AnswerParts {
    /// The parts of a stored text, copied as written.
    pub(crate) fn of_stored(stored: &JsonText) -> AnswerParts {
        let parts: StoredParts<'_> = match stored.is_object() {
            true => stored.parse().unwrap_or_default(),
            false => StoredParts::default(),
        };
        let text =
            |r: Option<&RawValue>| r.and_then(|r| serde_json::from_str::<String>(r.get()).ok());
        let notes = parts
            .notes
            .and_then(|r| serde_json::from_str::<Vec<serde_json::Value>>(r.get()).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| match n {
                serde_json::Value::String(n) => Some(n),
                _ => None,
            })
            .collect();
        AnswerParts {
            license_id: text(parts.license_id),
            refusal: text(parts.refusal),
            notes,
            screening: parts.screening.map(JsonText::from_raw),
            determination: parts
                .determination
                .map(JsonText::from_raw)
                .unwrap_or_default(),
        }
    }
}

impl ShipOutcome {
    /// The outcome a stored shipment record gives: its parts copied as written, so the first
    /// answer and every replay are the same bytes.
    pub fn from_record(s: Shipment, replayed: bool) -> ShipOutcome {
        let parts = AnswerParts::of_stored(&s.determination);
        ShipOutcome::of_parts(s, parts, replayed)
    }

    /// The outcome of a record and its answer's parts (the parts its stored text holds).
    pub(crate) fn of_parts(s: Shipment, parts: AnswerParts, replayed: bool) -> ShipOutcome {
        ShipOutcome {
            license_id: parts.license_id,
            refusal: parts.refusal,
            notes: parts.notes,
            screening: parts.screening,
            determination: parts.determination,
            shipment_id: s.shipment_id,
            status: s.status,
            business_date: s.business_date,
            backfill: s.backfill,
            entries: s.applied,
            replayed: replayed || s.replayed,
        }
    }

    /// The determination as a tree, for a caller that looks inside.
    pub fn determination_value(&self) -> serde_json::Value {
        self.determination.to_value()
    }

    /// The screening as a tree (`null` when not screened).
    pub fn screening_value(&self) -> serde_json::Value {
        self.screening
            .as_ref()
            .map_or(serde_json::Value::Null, JsonText::to_value)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str) -> Shipment {
        Shipment {
            shipment_id: "s-1".into(),
            input_digest: "sha256:x".into(),
            determination: JsonText::from_json(body.into()).expect("json"),
            status: ShipmentStatus::Authorized,
            applied: Vec::new(),
            recorded_at: aidf_ledger::Timestamp(1),
            tenant: None,
            business_date: None,
            backfill: false,
            replayed: false,
        }
    }

    /// Records written before the answer was kept as text have their keys sorted (a tree wrote
    /// them): the parts are answered as stored, so a replay is the bytes first answered.
    #[test]
    fn an_answer_copies_the_stored_parts_as_they_were_written() {
        let determination =
            r#"{"authorization":"LPP","regime":{"id":"r","digest":"sha256:d"},"total_tpp":1}"#;
        let screening = r#"{"verdict":"no_match","parties":[]}"#;
        let body = format!(
            r#"{{"determination":{determination},"input":{{"quantity":1}},"license_id":"L-1","notes":["a","b\"c"],"refusal":null,"screening":{screening}}}"#
        );
        let out = ShipOutcome::from_record(stored(&body), true);
        assert_eq!(out.determination.as_str(), determination);
        assert_eq!(
            out.screening.as_ref().map(JsonText::as_str),
            Some(screening)
        );
        assert_eq!(out.license_id.as_deref(), Some("L-1"));
        assert_eq!(out.notes, ["a", "b\"c"]);
        assert_eq!((out.refusal, out.replayed), (None, true));
        let answer =
            serde_json::to_string(&ShipOutcome::from_record(stored(&body), false)).expect("answer");
        assert!(answer.contains(determination), "{answer}");
    }

    /// Read as `Value` indexing read them: a part that is absent or of another type is empty.
    #[test]
    fn parts_of_another_shape_are_empty() {
        for body in [
            r#"{"authorization":"LPP"}"#,
            r#"{"determination":null,"license_id":7,"notes":["a",1,null,"b"],"refusal":{"x":1},"screening":null}"#,
            r#"[1,2]"#,
            r#"[{"authorization":"LPP"},"L-1",["a"]]"#,
        ] {
            let out = ShipOutcome::from_record(stored(body), false);
            assert_eq!(out.determination.as_str(), "null", "{body}");
            assert!(out.screening.is_none(), "{body}");
            assert_eq!((out.license_id, out.refusal), (None, None), "{body}");
            assert!(out.notes.iter().all(|n| n == "a" || n == "b"), "{body}");
        }
    }
}
