//! Ledger operations an officer records by hand, with the domain rules the ledger itself does not
//! know (it is a generic TPP ledger): one place for the CLI and the server.

use aidf_core::{Policy, Posture, Tier};
use aidf_ledger::{
    AccountKind, Applied, G2gArrangement, LedgerError, LedgerStore, Meta, Timestamp,
};
use chrono::NaiveDate;

mod drafts;

pub use drafts::{
    ID_MAX_CHARS, LicenseDraft, SiteDraft, VeuDraft, add_license, add_veu, is_record_id,
    license_record, record_id_message, veu_record,
};

/// The field of a recorded operation at fault, as the server's JSON names it (`Display`:
/// `items[1]`, `sites[0].country`); the CLI writes it as the option that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    /// The record's id.
    Id,
    /// A license's consignee.
    Consignee,
    /// A license's destination country.
    Destination,
    /// One of a license's items (index).
    Item(usize),
    /// A license's units cap.
    Units,
    /// A license's TPP cap.
    Tpp,
    /// A license's grant date.
    Granted,
    /// A license's expiry date.
    Expires,
    /// A VEU's kind.
    Kind,
    /// A VEU's owner.
    Owner,
    /// A VEU's headquarters country.
    Hq,
    /// One of a VEU's sites as written (`ID:COUNTRY`).
    Site(usize),
    /// A VEU site's id.
    SiteId(usize),
    /// A VEU site's country.
    SiteCountry(usize),
    /// A G2G arrangement's country.
    Country,
    /// A ledger account.
    Account,
}

impl std::fmt::Display for RecordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use RecordField::*;
        match self {
            Item(i) => write!(f, "items[{i}]"),
            Site(i) => write!(f, "sites[{i}]"),
            SiteId(i) => write!(f, "sites[{i}].id"),
            SiteCountry(i) => write!(f, "sites[{i}].country"),
            other => f.write_str(match other {
                Id => "id",
                Consignee => "consignee",
                Destination => "destination",
                Units => "units",
                Tpp => "tpp",
                Granted => "granted",
                Expires => "expires",
                Kind => "kind",
                Owner => "owner",
                Hq => "hq",
                Country => "country",
                _ => "account",
            }),
        }
    }
}

/// Why a recorded operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A field the user gave is not valid (names the field, the value and what was expected).
    #[error("field `{field}`: {message}")]
    Input {
        /// The field at fault.
        field: RecordField,
        /// What is wrong, with the value.
        message: String,
    },
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

impl RecordError {
    /// The field at fault; `None` for the ledger's own refusals and failures.
    pub fn field(&self) -> Option<RecordField> {
        match self {
            RecordError::Input { field, .. } => Some(*field),
            RecordError::AttritionNotInstalledBase { .. } => Some(RecordField::Account),
            RecordError::G2gNotTier2 { .. } => Some(RecordField::Country),
            RecordError::Ledger(_) => None,
        }
    }

    /// The message without its ``field `…`: `` prefix, for an edge that names the field in its
    /// own terms (a command-line option).
    pub fn detail(&self) -> String {
        let text = self.to_string();
        let Some(field) = self.field() else {
            return text;
        };
        let prefix = format!("field `{field}`: ");
        text.strip_prefix(&prefix).unwrap_or(&text).to_string()
    }
}

fn input(field: RecordField, message: impl Into<String>) -> RecordError {
    RecordError::Input {
        field,
        message: message.into(),
    }
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
        .map_err(|e| input(RecordField::Country, e.to_string()))?;
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
        Some(Tier::Two) => {}
        Some(t) => return Err(refused(t.to_string(), &regime.spec.id)),
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
