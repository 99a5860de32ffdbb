//! Licenses after they are recorded (issue 15, item 3): amendment, suspension, reinstatement and
//! revocation, each a dated change by an actor, appended to the license's history and audited
//! (`license.<kind>`); caps changed by an amendment are set on the license's accounts in the
//! same transaction. Expiry needs no record: a shipment dated after `expires_on` is refused
//! naming it (see the shipment path's refusal reasons).

use aidf_ledger::{
    LedgerError, LedgerStore, License, LicenseChange, LicenseCondition, LicenseStatus, Timestamp,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::application::DefaultValidity;

/// The embedded license terms (`policy/licensing.toml`).
const LICENSING_TOML: &str = include_str!("../../../policy/licensing.toml");

/// The license terms of `policy/licensing.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Licensing {
    /// The validity of a license approved without a stated expiry.
    pub default_validity: DefaultValidity,
    /// 15 CFR 750.11.
    pub shipping_tolerance: ShippingTolerance,
}

/// The embedded license terms (parsed once); the error is the TOML parser's message.
pub fn licensing() -> Result<Licensing, String> {
    static PARSED: std::sync::OnceLock<Result<Licensing, String>> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| toml::from_str(LICENSING_TOML).map_err(|e| e.message().to_string()))
        .clone()
}

/// What a refusal for want of units on a license says about the tolerance: none on the quantity
/// approved (15 CFR 750.11(a)), unless the policy data gives one.
pub fn quantity_tolerance_note() -> Option<String> {
    let t = licensing().ok()?.shipping_tolerance;
    (!t.quantity_tolerance).then(|| {
        format!(
            "{}(a) gives no shipping tolerance on the quantity approved",
            t.citation
        )
    })
}

/// The shipping tolerance of 15 CFR 750.11, as policy data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingTolerance {
    /// Citation.
    pub citation: String,
    /// `P` when read in the regulation's text.
    pub confidence: String,
    /// Percent by which the value of all shipments under a license may exceed its value.
    #[serde(deserialize_with = "exact_decimal")]
    pub value_percent: Decimal,
    /// Whether any tolerance applies to the quantity approved.
    pub quantity_tolerance: bool,
    /// When another tolerance applies instead.
    pub exceptions: Vec<String>,
    /// What the rule says.
    pub note: String,
}

/// A decimal written as a string, read exactly.
fn exact_decimal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let text = String::deserialize(d)?;
    aidf_core::num::parse_decimal_exact(&text)
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an exact decimal")))
}

/// Why a shipment's value does not fit a license under the shipping tolerance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToleranceRefusal {
    /// The full quantity approved has shipped: no tolerance, no further shipment.
    #[error(
        "the full quantity approved ({units_cap} units) has shipped; {citation}(a) allows no further shipment under the license"
    )]
    QuantityShipped {
        /// Units approved.
        units_cap: u64,
        /// Citation.
        citation: String,
    },
    /// The value shipped would pass the license's value plus the tolerance.
    #[error(
        "value: {shipped} USD shipped + {shipment} USD = {total} USD would exceed the license's {licensed} USD plus the {percent} % shipping tolerance of {citation}(b) ({allowed} USD)"
    )]
    ValueOver {
        /// Value already shipped under the license.
        shipped: Decimal,
        /// This shipment's value.
        shipment: Decimal,
        /// Their sum.
        total: Decimal,
        /// The license's value.
        licensed: Decimal,
        /// The tolerance applied (percent).
        percent: Decimal,
        /// The license's value plus the tolerance.
        allowed: Decimal,
        /// Citation.
        citation: String,
    },
    /// A sum or product left the decimal range (names the value).
    #[error("field `{field}`: the value is too large to compute exactly")]
    Overflow {
        /// `value_usd` (of the license or the shipments).
        field: &'static str,
    },
}

/// A shipment's value under a license, against 15 CFR 750.11: refused once the license's full
/// quantity has shipped, or when the value of every shipment under it would pass the license's
/// value plus the tolerance (`stipulated`, the license's own percentage, replaces the policy's).
/// Exact decimal arithmetic; "by up to" is `<=`.
pub fn check_value_tolerance(
    t: &ShippingTolerance,
    licensed: Decimal,
    shipped: Decimal,
    shipment: Decimal,
    units: (u64, u64),
    stipulated: Option<Decimal>,
) -> Result<(), ToleranceRefusal> {
    let (units_shipped, units_cap) = units;
    if units_shipped >= units_cap {
        return Err(ToleranceRefusal::QuantityShipped {
            units_cap,
            citation: t.citation.clone(),
        });
    }
    let percent = stipulated.unwrap_or(t.value_percent);
    let overflow = |field| ToleranceRefusal::Overflow { field };
    let allowed = licensed
        .checked_mul(percent)
        .and_then(|p| p.checked_div(Decimal::ONE_HUNDRED))
        .and_then(|p| p.checked_add(licensed))
        .ok_or_else(|| overflow("license value_usd"))?;
    let total = shipped
        .checked_add(shipment)
        .ok_or_else(|| overflow("value_usd"))?;
    if total > allowed {
        return Err(ToleranceRefusal::ValueOver {
            shipped,
            shipment,
            total,
            licensed,
            percent,
            allowed,
            citation: t.citation.clone(),
        });
    }
    Ok(())
}

/// US cents in a dollar amount, exactly (`None` when it has fractions of a cent or does not fit).
pub fn usd_cents(usd: Decimal) -> Option<u64> {
    let cents = usd.checked_mul(Decimal::ONE_HUNDRED)?;
    if !cents.fract().is_zero() {
        return None;
    }
    u64::try_from(cents).ok()
}

/// The cap of a license's value account, in US cents: its value plus the tolerance, rounded down
/// to a whole cent. Shipments' values are whole cents, so their sum is within the cap exactly
/// when it is within the value plus the tolerance.
pub fn value_cap_cents(t: &ShippingTolerance, licensed: Decimal) -> Result<u64, ToleranceRefusal> {
    let overflow = ToleranceRefusal::Overflow {
        field: "license value_usd",
    };
    let allowed = licensed
        .checked_mul(t.value_percent)
        .and_then(|p| p.checked_div(Decimal::ONE_HUNDRED))
        .and_then(|p| p.checked_add(licensed))
        .and_then(|a| a.checked_mul(Decimal::ONE_HUNDRED))
        .ok_or(overflow.clone())?;
    u64::try_from(allowed.floor()).map_err(|_| overflow)
}

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
