//! aidf-core: the pure domain of aidf.
//!
//! Countries and dated country groups, the accelerator catalog, 3A090/4A090/4E091 classification,
//! regimes as data, and the license determination. Nothing here does I/O, reads a clock or
//! spawns work: dates, balances and policy files come in as values, so every answer is a function
//! of its inputs and can be replayed.

pub mod chip;
pub mod classify;
pub mod country;
pub mod determine;
pub mod draws;
pub mod explain;
pub mod fleet;
pub mod foundry;
mod fxhash;
pub mod input;
mod input_error;
pub mod inspect;
pub mod num;
pub mod party;
pub mod policy;
mod policy_error;
pub mod regime;
mod regime_file;
pub mod restrict;
#[cfg(feature = "schema")]
pub mod schema;
pub mod strict_json;
pub mod terms;
pub mod weights;

pub use determine::{
    Authorization, BalanceReads, Counter, Determination, DetermineError, balance_reads, determine,
    determine_with,
};
pub use draws::{AccountRef, Draw};
pub use explain::Detail;
pub use input::DeterminationInput;
pub use party::PartyId;
pub use policy::{Policy, PolicyError, PolicySources, Posture};
pub use terms::Tier;
