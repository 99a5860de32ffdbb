//! Ledger operations an officer records by hand, with the domain rules the ledger itself does not
//! know (it is a generic TPP ledger): one place for the CLI and the server.

use aidf_core::{Policy, Posture};
use aidf_ledger::{
    AccountKind, Applied, G2gArrangement, LedgerError, LedgerStore, Meta, Timestamp,
};
use chrono::NaiveDate;

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
    /// Not a country the policy knows.
    #[error("field `country`: {0}")]
    Country(String),
    /// A government-to-government arrangement doubles a Tier 2 country's allocation; other
    /// countries have none to double.
    #[error(
        "field `country`: `{country}` is {placement} under `{regime}` on {date}; a government-to-government arrangement applies only to a Tier 2 country"
    )]
    G2gNotTier2 {
        /// The country.
        country: String,
        /// Where the regime places it ("Tier 1", "Tier 3", "not tiered").
        placement: String,
        /// The regime in force (as written) on the date.
        regime: String,
        /// The arrangement's date.
        date: NaiveDate,
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

/// Records a government-to-government arrangement for a country that is Tier 2 under the tiered
/// regime it belongs to (as written): the one in force on its date, or, for an arrangement made
/// before the allocations apply, the first tiered regime after that date. Any other country is
/// refused before anything is written.
pub fn add_g2g(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    country: &str,
    date: NaiveDate,
    now: Timestamp,
) -> Result<G2gArrangement, RecordError> {
    let code = policy
        .countries
        .lookup(country)
        .map_err(|e| RecordError::Country(e.to_string()))?;
    let refused = |placement: String, regime: &str| RecordError::G2gNotTier2 {
        country: code.to_string(),
        placement,
        regime: regime.to_string(),
        date,
    };
    let Some((regime, on)) = tiered_regime(policy, date) else {
        return Err(refused("not tiered".into(), "any regime"));
    };
    match policy.tier(regime, code, on).map(|(t, _)| t) {
        Some(2) => {}
        Some(t) => return Err(refused(format!("Tier {t}"), &regime.spec.id)),
        None => return Err(refused("not tiered".into(), &regime.spec.id)),
    }
    let arrangement = G2gArrangement {
        country: code.to_string(),
        date: date.to_string(),
    };
    Ok(store.add_g2g(&arrangement, now)?)
}

/// The tiered regime (as written) an arrangement dated `date` belongs to, and the day to read
/// its tiers on: the regime in force then if it has tiers, else the first tiered one after.
fn tiered_regime(
    policy: &Policy,
    date: NaiveDate,
) -> Option<(&aidf_core::regime::Regime, NaiveDate)> {
    let entries = policy.timeline.entries(Posture::AsWritten);
    let current = entries.iter().rev().find(|e| e.from <= date);
    let later = entries.iter().filter(|e| e.from > date);
    current
        .into_iter()
        .map(|e| (e, date))
        .chain(later.map(|e| (e, e.from)))
        .filter_map(|(e, on)| policy.regime(&e.regime).map(|r| (r, on)))
        .find(|(r, _)| r.spec.tiers.is_some())
}
