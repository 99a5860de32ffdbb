//! Licenses after they are recorded (issue 15, item 3): amendment, suspension, reinstatement and
//! revocation, each a dated change by an actor, appended to the license's history and audited
//! (`license.<kind>`); caps changed by an amendment are set on the license's accounts in the
//! same transaction. Expiry needs no record: a shipment dated after `expires_on` is refused
//! naming it (see the shipment path's refusal reasons).

use aidf_ledger::{
    LedgerError, LedgerStore, License, LicenseChange, LicenseCondition, LicenseStatus, Timestamp,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What an amendment changes (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// New units cap.
    #[serde(default)]
    pub units: Option<u64>,
    /// New TPP cap.
    #[serde(default)]
    pub tpp: Option<u64>,
    /// New expiry.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
    /// New conditions (replace the old ones).
    #[serde(default)]
    pub conditions: Option<Vec<LicenseCondition>>,
}

/// A change to a license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseAction {
    /// Change caps, expiry or conditions.
    Amend(Amendment),
    /// Suspend (unusable until reinstated).
    Suspend,
    /// Reinstate a suspended license.
    Reinstate,
    /// Revoke (final).
    Revoke,
}

impl LicenseAction {
    /// `amend`, `suspend`, `reinstate`, `revoke`.
    pub fn kind(&self) -> &'static str {
        match self {
            LicenseAction::Amend(_) => "amend",
            LicenseAction::Suspend => "suspend",
            LicenseAction::Reinstate => "reinstate",
            LicenseAction::Revoke => "revoke",
        }
    }
}

/// Why a license change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    /// No such license (of this tenant).
    #[error("unknown license `{0}`")]
    Unknown(String),
    /// The license's status does not allow the change (HTTP 409, CLI exit 2).
    #[error("license `{id}` is {}: it cannot be {}", from.as_str(), past(action))]
    Transition {
        /// License id.
        id: String,
        /// Its status.
        from: LicenseStatus,
        /// The change asked for.
        action: &'static str,
    },
    /// Bad input (names the field).
    #[error("field `{field}`: {message}")]
    Input {
        /// Field path.
        field: &'static str,
        /// What is wrong, with the value.
        message: String,
    },
    /// The ledger refused or failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

fn past(action: &str) -> &'static str {
    match action {
        "amend" => "amended",
        "suspend" => "suspended",
        "reinstate" => "reinstated",
        _ => "revoked",
    }
}

/// The status a change leads to, if the license's status allows it.
fn next_status(from: LicenseStatus, action: &LicenseAction) -> Option<LicenseStatus> {
    use LicenseStatus::*;
    match (from, action) {
        (Revoked, _) => None,
        (s, LicenseAction::Amend(_)) => Some(s),
        (Active, LicenseAction::Suspend) => Some(Suspended),
        (Suspended, LicenseAction::Reinstate) => Some(Active),
        (_, LicenseAction::Revoke) => Some(Revoked),
        _ => None,
    }
}

/// Who changes a license, for which tenant, when.
#[derive(Debug, Clone, Copy)]
pub struct ChangeBy<'a> {
    /// Prefix of the tenant's record ids (empty for the CLI).
    pub record_prefix: &'a str,
    /// Who (the audit context's actor).
    pub actor: &'a str,
    /// Recording time.
    pub now: Timestamp,
}

/// Records a change to the tenant's license `id` (unprefixed), dated `date`.
pub fn change_license(
    store: &mut dyn LedgerStore,
    by: &ChangeBy<'_>,
    id: &str,
    action: &LicenseAction,
    date: NaiveDate,
    reason: &str,
) -> Result<License, LicenseError> {
    let full = format!("{}{id}", by.record_prefix);
    let mut l = store
        .license(&full)?
        .ok_or_else(|| LicenseError::Unknown(id.to_string()))?;
    let status = next_status(l.status, action).ok_or(LicenseError::Transition {
        id: id.to_string(),
        from: l.status,
        action: action.kind(),
    })?;
    if let LicenseAction::Amend(a) = action {
        amend(&mut l, a)?;
    }
    l.status = status;
    let seq = u32::try_from(store.license_changes(&full)?.len()).unwrap_or(u32::MAX);
    let change = LicenseChange {
        license: l,
        seq,
        kind: action.kind().to_string(),
        date: date.to_string(),
        actor: by.actor.to_string(),
        reason: reason.to_string(),
    };
    Ok(store.change_license(&change, by.now)?)
}

fn amend(l: &mut License, a: &Amendment) -> Result<(), LicenseError> {
    if a == &Amendment::default() {
        return Err(LicenseError::Input {
            field: "amendment",
            message: "an amendment changes at least one of units, tpp, expires_on, conditions"
                .into(),
        });
    }
    for (field, v) in [("units", a.units), ("tpp", a.tpp)] {
        if v == Some(0) || v.is_some_and(|v| i64::try_from(v).is_err()) {
            return Err(LicenseError::Input {
                field,
                message: format!("`{}` is not a cap of 1 or more", v.unwrap_or(0)),
            });
        }
    }
    if let Some(e) = a.expires_on {
        if e.to_string() < l.granted_on {
            return Err(LicenseError::Input {
                field: "expires_on",
                message: format!("{e} is before the grant date {}", l.granted_on),
            });
        }
        l.expires_on = e.to_string();
    }
    l.units_cap = a.units.unwrap_or(l.units_cap);
    l.tpp_cap = a.tpp.unwrap_or(l.tpp_cap);
    if let Some(c) = &a.conditions {
        l.conditions = c.clone();
    }
    Ok(())
}
