//! aidf-batch: aidf at scale.
//!
//! * [`row`]: the flat CSV form of the JSON input contract (columns documented in
//!   `docs/batch.md`), both directions, and the output row.
//! * [`batch`]: streams CSV or JSON lines, determines rows in parallel (output in input order),
//!   reports bad rows by row number and field and goes on; or, with a ledger, ships rows in order
//!   through `aidf_service::ship` so caps bind as they would in reality. Ends with a summary.
//! * [`generate`]: deterministic synthetic order books.
//! * [`scenario`] and [`simulate`]: the what-if simulator, quarter by quarter through the core's
//!   `determine` with balances kept in exact integers under the ledger's account keys.
//! * [`charts`]: SVG and PNG charts of a simulation (plotters).
//!
//! Nothing here holds a regulatory number: caps, schedules and H100-equivalents come from the
//! regime data through the core.

pub mod batch;
pub mod charts;
pub mod generate;
pub mod rng;
pub mod row;
pub mod scenario;
pub mod simulate;
pub mod split;
