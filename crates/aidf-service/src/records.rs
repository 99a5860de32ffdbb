//! Ledger operations an officer records by hand, with the domain rules the ledger itself does not
//! know (it is a generic TPP ledger): one place for the CLI and the server.

use aidf_ledger::{AccountKind, Applied, LedgerError, LedgerStore, Meta, Timestamp};

/// Why a recorded operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Attrition lowers an installed base; exports already counted stay counted.
    #[error(
        "field `account`: `{account}` is a {kind} account; attrition (chips lost, failed or resold) applies only to an NVEU installed-base account (`nveu:…`)"
    )]
    AttritionNotInstalledBase {
        /// The account named.
        account: String,
        /// Its kind.
        kind: &'static str,
    },
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

/// Records attrition on an NVEU installed-base account; any other account is refused before
/// anything is written (a country allocation, an LPP year or a license counts exports made,
/// which attrition does not undo).
pub fn record_attrition(
    store: &mut dyn LedgerStore,
    op_id: &str,
    account: &str,
    amount: u64,
    meta: Meta,
    now: Timestamp,
) -> Result<Applied, RecordError> {
    let kind = store.account(account)?.kind;
    if kind != AccountKind::NveuInstalledBase {
        return Err(RecordError::AttritionNotInstalledBase {
            account: account.to_string(),
            kind: kind.as_str(),
        });
    }
    Ok(store.attrition(op_id, account, amount, meta, now)?)
}
