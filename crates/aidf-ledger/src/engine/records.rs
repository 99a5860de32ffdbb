//! JSON records: licenses, VEUs, G2G arrangements, application transitions, license changes.

use std::collections::HashSet;

use crate::error::{LedgerError, Result};
use crate::types::{AccountKind, Applied, G2gArrangement, License, Meta, Op, Timestamp, Veu};
use crate::validate;

use super::apply::{apply_ops, ensure_account};
use super::shipment::{
    NewShipment, compare_balances, hold_shipment_accounts, prepare_accounts, register_parties,
};
use super::{RecordTable, TxOps};

/// Inserts a JSON record, or checks that the stored one is identical.
fn put_record<T: TxOps + ?Sized, R>(
    tx: &mut T,
    table: RecordTable,
    record: &'static str,
    id: &str,
    value: &R,
    diff: impl Fn(&R, &R) -> Option<&'static str>,
    now: Timestamp,
) -> Result<bool>
where
    R: serde::Serialize + serde::de::DeserializeOwned,
{
    if let Some(body) = tx.get_record(table, id)? {
        let stored: R = serde_json::from_str(&body)?;
        return match diff(&stored, value) {
            Some(field) => Err(LedgerError::RecordExists {
                record,
                id: id.to_owned(),
                field,
            }),
            None => Ok(false),
        };
    }
    tx.insert_record(table, id, &serde_json::to_string(value)?, now)?;
    Ok(true)
}

fn first_of(checks: &[(bool, &'static str)]) -> Option<&'static str> {
    checks
        .iter()
        .find(|(differs, _)| *differs)
        .map(|(_, name)| *name)
}

/// Records a license and opens its TPP and units accounts, and its value account when it has a
/// value cap (idempotent).
pub(crate) fn add_license<T: TxOps + ?Sized>(
    tx: &mut T,
    license: &License,
    now: Timestamp,
) -> Result<License> {
    validate::record_id("license id", &license.id)?;
    validate::text("consignee", &license.consignee)?;
    validate::country("destination country", &license.destination_country)?;
    for item in &license.allowed_item_ids {
        validate::text("allowed item id", item)?;
    }
    validate::date("granted date", &license.granted_on)?;
    validate::date("expiry date", &license.expires_on)?;
    if license.expires_on < license.granted_on {
        return Err(LedgerError::InvalidField {
            field: "expiry date",
            value: license.expires_on.clone(),
            reason: "must not precede the granted date",
        });
    }
    validate::to_i64("license tpp cap", license.tpp_cap)?;
    validate::to_i64("license units cap", license.units_cap)?;
    if let Some(cap) = license.value_cap_cents {
        validate::to_i64("license value cap", cap)?;
    }
    for (field, cap) in [
        ("license tpp cap", license.tpp_cap),
        ("license units cap", license.units_cap),
    ] {
        if cap == 0 {
            return Err(LedgerError::InvalidField {
                field,
                value: "0".into(),
                reason: "a license authorizes at least one unit and some TPP",
            });
        }
    }
    let diff = |a: &License, b: &License| {
        first_of(&[
            (a.consignee != b.consignee, "consignee"),
            (
                a.destination_country != b.destination_country,
                "destination_country",
            ),
            (a.allowed_item_ids != b.allowed_item_ids, "allowed_item_ids"),
            (a.units_cap != b.units_cap, "units_cap"),
            (a.tpp_cap != b.tpp_cap, "tpp_cap"),
            (a.granted_on != b.granted_on, "granted_on"),
            (a.expires_on != b.expires_on, "expires_on"),
            (
                a.beyond_allocation != b.beyond_allocation,
                "beyond_allocation",
            ),
            (a.value_usd != b.value_usd, "value_usd"),
            (a.value_cap_cents != b.value_cap_cents, "value_cap_cents"),
        ])
    };
    if put_record(
        tx,
        RecordTable::Licenses,
        "license",
        &license.id,
        license,
        diff,
        now,
    )? {
        ensure_account(
            tx,
            &license.tpp_account(),
            AccountKind::LicenseTpp,
            Some(license.tpp_cap),
            now,
        )?;
        ensure_account(
            tx,
            &license.units_account(),
            AccountKind::LicenseUnits,
            Some(license.units_cap),
            now,
        )?;
        if let Some(cap) = license.value_cap_cents {
            ensure_account(
                tx,
                &license.value_account(),
                AccountKind::LicenseValue,
                Some(cap),
                now,
            )?;
        }
    }
    Ok(license.clone())
}

/// Records a validated end user (idempotent).
pub(crate) fn add_veu<T: TxOps + ?Sized>(tx: &mut T, veu: &Veu, now: Timestamp) -> Result<Veu> {
    validate::record_id("veu id", &veu.id)?;
    validate::text("owner", &veu.owner)?;
    validate::country("hq country", &veu.hq_country)?;
    let mut site_ids = HashSet::new();
    for site in &veu.sites {
        validate::record_id("site id", &site.id)?;
        validate::country("site country", &site.country)?;
        if !site_ids.insert(site.id.as_str()) {
            return Err(LedgerError::InvalidField {
                field: "site id",
                value: site.id.clone(),
                reason: "duplicate site id",
            });
        }
    }
    let diff = |a: &Veu, b: &Veu| {
        first_of(&[
            (a.kind != b.kind, "kind"),
            (a.owner != b.owner, "owner"),
            (a.hq_country != b.hq_country, "hq_country"),
            (a.sites != b.sites, "sites"),
        ])
    };
    put_record(tx, RecordTable::Veus, "veu", &veu.id, veu, diff, now)?;
    Ok(veu.clone())
}

/// Records a government-to-government arrangement (one per country, idempotent).
pub(crate) fn add_g2g<T: TxOps + ?Sized>(
    tx: &mut T,
    g2g: &G2gArrangement,
    now: Timestamp,
) -> Result<G2gArrangement> {
    validate::country("country", &g2g.country)?;
    validate::date("arrangement date", &g2g.date)?;
    let diff = |a: &G2gArrangement, b: &G2gArrangement| first_of(&[(a.date != b.date, "date")]);
    put_record(tx, RecordTable::G2g, "g2g", &g2g.country, g2g, diff, now)?;
    Ok(g2g.clone())
}

/// Refuses a write whose `seq` is not the number of changes stored under `id` in `table`
/// (`<id>/<seq:06>` ids): another writer changed the record since the caller read it.
fn check_seq<T: TxOps + ?Sized>(
    tx: &mut T,
    table: RecordTable,
    record: &'static str,
    id: &str,
    seq: u32,
) -> Result<String> {
    let this = format!("{id}/{seq:06}");
    let before_missing = match seq.checked_sub(1) {
        Some(prev) => tx.get_record(table, &format!("{id}/{prev:06}"))?.is_none(),
        None => false,
    };
    if before_missing || tx.get_record(table, &this)?.is_some() {
        return Err(LedgerError::StaleRecord {
            record,
            id: id.to_owned(),
            expected: seq,
        });
    }
    Ok(this)
}

/// Records an application's transition (see [`crate::ApplicationWrite`]): compares the balances
/// its determination read, records the license of an approval, applies the hold's ops, stores
/// the application's state and appends the transition, all in the caller's transaction.
pub(crate) fn write_application<T: TxOps + ?Sized>(
    tx: &mut T,
    w: &crate::ApplicationWrite,
    now: Timestamp,
) -> Result<Vec<Applied>> {
    validate::record_id("application id", &w.id)?;
    let tid = check_seq(
        tx,
        RecordTable::ApplicationTransitions,
        "application",
        &w.id,
        w.seq,
    )?;
    let stored = tx.get_record(RecordTable::Applications, &w.id)?;
    match (w.seq, stored.is_some()) {
        (0, true) => {
            return Err(LedgerError::RecordExists {
                record: "application",
                id: w.id.clone(),
                field: "id",
            });
        }
        (1.., false) => {
            return Err(LedgerError::UnknownRecord {
                record: "application",
                id: w.id.clone(),
            });
        }
        _ => {}
    }
    let view = NewShipment {
        shipment_id: w.id.clone(),
        accounts: w.accounts.clone(),
        ops: w.ops.clone(),
        expected: w.expected.clone(),
        ..NewShipment::default()
    };
    let mut held = hold_shipment_accounts(tx, &view)?;
    compare_balances(tx, &w.expected, &held, now)?;
    register_parties(tx, &w.parties, now)?;
    if let Some(l) = &w.license {
        add_license(tx, l, now)?;
        // The license opened accounts of its own: read what the ops will find.
        held = hold_shipment_accounts(tx, &view)?;
    }
    let applied = if w.ops.is_empty() {
        Vec::new()
    } else {
        let mut ops = prepare_accounts(tx, &view, &held, now)?;
        let cap_ops = ops.len();
        ops.extend(w.ops.iter().cloned());
        let mut applied = apply_ops(tx, &ops, now, None)?;
        applied.drain(..cap_ops);
        applied
    };
    let body = serde_json::to_string(&w.body)?;
    if w.seq == 0 {
        tx.insert_record(RecordTable::Applications, &w.id, &body, now)?;
    } else {
        tx.update_record(RecordTable::Applications, &w.id, &body)?;
    }
    let transition = serde_json::to_string(&w.transition)?;
    tx.insert_record(RecordTable::ApplicationTransitions, &tid, &transition, now)?;
    Ok(applied)
}

/// Records a change to a license (see [`crate::LicenseChange`]): the license's new state, its
/// caps set on its accounts, and the change appended, in the caller's transaction.
pub(crate) fn change_license<T: TxOps + ?Sized>(
    tx: &mut T,
    c: &crate::LicenseChange,
    now: Timestamp,
) -> Result<License> {
    let l = &c.license;
    let Some(body) = tx.get_record(RecordTable::Licenses, &l.id)? else {
        return Err(LedgerError::UnknownRecord {
            record: "license",
            id: l.id.clone(),
        });
    };
    let stored: License = serde_json::from_str(&body)?;
    let cid = check_seq(tx, RecordTable::LicenseChanges, "license", &l.id, c.seq)?;
    validate::date("change date", &c.date)?;
    validate::date("expiry date", &l.expires_on)?;
    if l.expires_on < l.granted_on {
        return Err(LedgerError::InvalidField {
            field: "expiry date",
            value: l.expires_on.clone(),
            reason: "must not precede the granted date",
        });
    }
    if stored.status == crate::LicenseStatus::Revoked {
        return Err(LedgerError::InvalidField {
            field: "license",
            value: l.id.clone(),
            reason: "a revoked license cannot be changed",
        });
    }
    let mut ops = Vec::new();
    for (suffix, key, old, new) in [
        ("tpp", l.tpp_account(), stored.tpp_cap, l.tpp_cap),
        ("units", l.units_account(), stored.units_cap, l.units_cap),
    ] {
        if new == 0 {
            return Err(LedgerError::InvalidField {
                field: "license cap",
                value: "0".into(),
                reason: "a license authorizes at least one unit and some TPP",
            });
        }
        if old != new {
            ops.push(Op::SetCap {
                op_id: format!("license:{}:change:{}:{suffix}", l.id, c.seq),
                account: key,
                cap: Some(new),
                meta: Meta::default(),
            });
        }
    }
    if !ops.is_empty() {
        apply_ops(tx, &ops, now, None)?;
    }
    tx.update_record(RecordTable::Licenses, &l.id, &serde_json::to_string(l)?)?;
    tx.insert_record(
        RecordTable::LicenseChanges,
        &cid,
        &serde_json::to_string(c)?,
        now,
    )?;
    Ok(l.clone())
}
