//! Licenses and validated end users as a person gives them (`aidf license add`, `aidf veu add`,
//! `POST /v1/licenses`, `POST /v1/veus`), checked once, here, field by field, and recorded.
//! Every refusal names the field ([`RecordField`]), the value as given and what was expected.
//! The ledger checks the same shapes again on write; nothing it would refuse gets that far.

use aidf_core::Policy;
use aidf_ledger::{LedgerStore, License, Timestamp, Veu, VeuKind, VeuSite};
use chrono::{Datelike, NaiveDate};

use super::{RecordError, RecordField, input};

/// The longest record id a person may give: the ledger holds 128 characters, and the server
/// puts the tenant's prefix before it.
pub const ID_MAX_CHARS: usize = 64;

/// The longest free text (consignee, owner) the ledger holds, in bytes.
const TEXT_MAX_BYTES: usize = 512;

/// The largest cap the ledger holds (a signed 64-bit amount).
const CAP_MAX: u64 = i64::MAX as u64;

/// A license granted by BIS, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseDraft {
    /// License id (1-64 characters of `[A-Za-z0-9_:-]`).
    pub id: String,
    /// Consignee name, as in shipment inputs.
    pub consignee: String,
    /// Destination country (code, name or alias).
    pub destination: String,
    /// Catalog items covered (id, name or alias); none means any item.
    pub items: Vec<String>,
    /// Units cap (1 or more).
    pub units: u64,
    /// TPP cap (1 or more).
    pub tpp: u64,
    /// Grant date, `YYYY-MM-DD`.
    pub granted: String,
    /// Expiry date, `YYYY-MM-DD`, on or after the grant date.
    pub expires: String,
    /// Granted beyond the destination's country allocation.
    pub beyond_allocation: bool,
}

/// A validated end user, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VeuDraft {
    /// VEU id (1-64 characters of `[A-Za-z0-9_:-]`).
    pub id: String,
    /// `uveu` or `nveu`, in any case.
    pub kind: String,
    /// Owner name.
    pub owner: String,
    /// Headquarters country (code, name or alias).
    pub hq: String,
    /// Data-center sites.
    pub sites: Vec<SiteDraft>,
}

/// A VEU's data-center site, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteDraft {
    /// Site id (1-64 characters of `[A-Za-z0-9_:-]`, unique within the VEU).
    pub id: String,
    /// Country (code, name or alias).
    pub country: String,
}

impl SiteDraft {
    /// The `index`th site written `ID:COUNTRY` (the CLI's `--site`).
    pub fn parse(index: usize, text: &str) -> Result<SiteDraft, RecordError> {
        let (id, country) = text.split_once(':').ok_or_else(|| {
            input(
                RecordField::Site(index),
                format!("`{}` is not ID:COUNTRY", text.escape_debug()),
            )
        })?;
        Ok(SiteDraft {
            id: id.to_string(),
            country: country.to_string(),
        })
    }
}

/// Whether `id` is a record id a person may give: 1-64 characters of `[A-Za-z0-9_:-]` (so no
/// control characters, no white space, no `.`, which separates the tenant's prefix).
pub fn is_record_id(id: &str) -> bool {
    (1..=ID_MAX_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

/// The message for an id [`is_record_id`] refuses.
pub fn record_id_message(id: &str) -> String {
    format!(
        "`{}` must be 1-{ID_MAX_CHARS} characters of [A-Za-z0-9_:-]",
        id.escape_debug()
    )
}

/// Checks a license as given and builds the record the ledger stores, its id under
/// `record_prefix` (the tenant's, empty for the CLI). Nothing is written.
pub fn license_record(
    policy: &Policy,
    record_prefix: &str,
    d: &LicenseDraft,
) -> Result<License, RecordError> {
    id(RecordField::Id, &d.id)?;
    text(RecordField::Consignee, &d.consignee)?;
    let destination = country(policy, RecordField::Destination, &d.destination)?;
    let items = d
        .items
        .iter()
        .enumerate()
        .map(|(i, name)| {
            policy
                .catalog
                .lookup(name)
                .map(|chip| chip.id.to_string())
                .map_err(|e| input(RecordField::Item(i), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    cap(RecordField::Units, d.units)?;
    cap(RecordField::Tpp, d.tpp)?;
    let granted = date(RecordField::Granted, &d.granted)?;
    let expires = date(RecordField::Expires, &d.expires)?;
    if expires < granted {
        return Err(input(
            RecordField::Expires,
            format!("`{expires}` is before the grant date `{granted}`"),
        ));
    }
    Ok(License {
        id: format!("{record_prefix}{}", d.id),
        consignee: d.consignee.clone(),
        destination_country: destination,
        allowed_item_ids: items,
        units_cap: d.units,
        tpp_cap: d.tpp,
        granted_on: granted.to_string(),
        expires_on: expires.to_string(),
        beyond_allocation: d.beyond_allocation,
        ..License::default()
    })
}

/// Checks a license as given ([`license_record`]) and records it; the stored license (its id
/// under `record_prefix`).
pub fn add_license(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    record_prefix: &str,
    draft: &LicenseDraft,
    now: Timestamp,
) -> Result<License, RecordError> {
    let license = license_record(policy, record_prefix, draft)?;
    Ok(store.add_license(&license, now)?)
}

/// Checks a validated end user as given and builds the record the ledger stores, its id under
/// `record_prefix`. Nothing is written.
pub fn veu_record(policy: &Policy, record_prefix: &str, d: &VeuDraft) -> Result<Veu, RecordError> {
    id(RecordField::Id, &d.id)?;
    let kind = match d.kind.to_ascii_lowercase().as_str() {
        "uveu" => VeuKind::Uveu,
        "nveu" => VeuKind::Nveu,
        _ => {
            return Err(input(
                RecordField::Kind,
                format!("`{}` is not `uveu` or `nveu`", d.kind.escape_debug()),
            ));
        }
    };
    text(RecordField::Owner, &d.owner)?;
    let hq = country(policy, RecordField::Hq, &d.hq)?;
    let mut sites: Vec<VeuSite> = Vec::with_capacity(d.sites.len());
    for (i, s) in d.sites.iter().enumerate() {
        id(RecordField::SiteId(i), &s.id)?;
        if let Some(first) = sites.iter().position(|seen| seen.id == s.id) {
            return Err(input(
                RecordField::SiteId(i),
                format!(
                    "`{}` is the id of sites[{first}] too; site ids are unique",
                    s.id
                ),
            ));
        }
        let country = country(policy, RecordField::SiteCountry(i), &s.country)?;
        sites.push(VeuSite {
            id: s.id.clone(),
            country,
        });
    }
    Ok(Veu {
        id: format!("{record_prefix}{}", d.id),
        kind,
        owner: d.owner.clone(),
        hq_country: hq,
        sites,
    })
}

/// Checks a validated end user as given ([`veu_record`]) and records it; the stored VEU (its
/// id under `record_prefix`).
pub fn add_veu(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    record_prefix: &str,
    draft: &VeuDraft,
    now: Timestamp,
) -> Result<Veu, RecordError> {
    let veu = veu_record(policy, record_prefix, draft)?;
    Ok(store.add_veu(&veu, now)?)
}

fn id(field: RecordField, value: &str) -> Result<(), RecordError> {
    if is_record_id(value) {
        Ok(())
    } else {
        Err(input(field, record_id_message(value)))
    }
}

/// Free text the ledger holds: not blank, at most 512 bytes, no control characters.
fn text(field: RecordField, value: &str) -> Result<(), RecordError> {
    let ok = !value.trim().is_empty()
        && value.len() <= TEXT_MAX_BYTES
        && !value.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(input(
            field,
            format!(
                "`{}` is not 1-{TEXT_MAX_BYTES} bytes of text without control characters",
                value.escape_debug()
            ),
        ))
    }
}

/// A country the policy knows, as its ISO code.
fn country(policy: &Policy, field: RecordField, value: &str) -> Result<String, RecordError> {
    policy
        .countries
        .lookup(value)
        .map(|c| c.to_string())
        .map_err(|e| input(field, e.to_string()))
}

/// A cap of 1 or more that the ledger can hold.
fn cap(field: RecordField, value: u64) -> Result<(), RecordError> {
    if value == 0 {
        return Err(input(
            field,
            "`0` is not a cap of 1 or more; a license authorizes at least one unit and some TPP",
        ));
    }
    if value > CAP_MAX {
        return Err(input(
            field,
            format!("`{value}` is above the largest cap the ledger holds ({CAP_MAX})"),
        ));
    }
    Ok(())
}

/// A calendar date written `YYYY-MM-DD`, in the years the ledger holds (1900-9999).
fn date(field: RecordField, value: &str) -> Result<NaiveDate, RecordError> {
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|d| d.to_string() == value);
    match parsed {
        Some(d) if (1900..=9999).contains(&d.year()) => Ok(d),
        Some(_) => Err(input(
            field,
            format!("`{value}` is outside the years 1900-9999 the ledger holds"),
        )),
        None => Err(input(
            field,
            format!("`{}` is not a date (YYYY-MM-DD)", value.escape_debug()),
        )),
    }
}
