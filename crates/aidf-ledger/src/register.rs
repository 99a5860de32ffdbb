//! The shipment register (schema 5): the plain columns a shipment is filtered and paged by, and
//! the keyset page query over them (newest first; never `OFFSET`).
//!
//! The columns are derived from the stored shipment by one function, [`Columns::of`], used both
//! when a shipment is recorded and by migration 5's backfill, so the two cannot drift:
//!
//! * `tenant`: the shipment's tenant; `local` for records made before tenants were stored (the
//!   CLI's tenant: such a record is never shown to a server tenant).
//! * `status`: `authorized` / `refused`.
//! * `business_date`: the shipment's business date (YYYY-MM-DD), if stored.
//! * `destination`: the determination's destination (after aliases), else the input's.
//! * `consignee`: the consignee's name as the input gives it, trimmed; `consignee_key` the same
//!   name with white space folded and Unicode lower case (any script kept), which the
//!   `consignee` filter compares.
//! * `created_at` is the recording time (`recorded_at`); keyset order is `(created_at, id)`.
//!
//! Schema 7 adds `veu_shipments`: one narrow row per authorized shipment that went under a
//! validated end-user authorization ([`VEU_AUTHORIZATIONS`]), with the fields the Data Center VEU
//! report shows ([`VeuShipment::of`], the same derivation at recording and in the backfill). The
//! report reads a half year of these rows by `(tenant, business_date)` without decoding a single
//! stored shipment; other shipments write nothing there.

use serde::{Deserialize, Serialize};

use crate::body_view::BodyView;
use crate::error::{LedgerError, Result};
use crate::types::{Shipment, ShipmentStatus, Timestamp};
use crate::validate;

/// The tenant of records stored before shipments carried one (the CLI's tenant).
pub const LEGACY_TENANT: &str = "local";

/// The largest page [`crate::LedgerStore::shipments_page`] returns.
pub const MAX_PAGE: u32 = 1_000;

/// A page request over a tenant's shipments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShipmentQuery {
    /// Only this tenant's shipments are read.
    pub tenant: String,
    /// Only authorized or only refused shipments.
    pub status: Option<ShipmentStatus>,
    /// Consignee name (compared with white space folded and case ignored, any script).
    pub consignee: Option<String>,
    /// Destination country (ISO alpha-2, after aliases: Hong Kong is CN).
    pub country: Option<String>,
    /// First business date (YYYY-MM-DD), inclusive.
    pub from: Option<String>,
    /// Last business date (YYYY-MM-DD), inclusive.
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: u32,
}

/// A shipment as the register reads it: its plain fields and columns, and the stored body
/// (decoded in full only on demand, [`RegisterRow::shipment`]: a page of 100 decodes no
/// determination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    /// Shipment id.
    pub shipment_id: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Authorized or refused.
    pub status: ShipmentStatus,
    /// Tenant ([`LEGACY_TENANT`] for records made before tenants were stored).
    pub tenant: String,
    /// Business date (YYYY-MM-DD).
    pub business_date: Option<String>,
    /// The register's destination column.
    pub destination: Option<String>,
    /// The register's consignee column (the name as given).
    pub consignee: Option<String>,
    /// The stored record (JSON of [`Shipment`]).
    pub body: String,
}

impl RegisterRow {
    /// The full stored shipment.
    pub fn shipment(&self) -> Result<Shipment> {
        serde_json::from_str(&self.body).map_err(|e| LedgerError::Corrupt {
            what: "shipments".into(),
            detail: e.to_string(),
        })
    }
}

/// The top-level fields of a stored shipment (the determination is skipped, not built).
#[derive(Deserialize)]
struct Head {
    shipment_id: String,
    status: ShipmentStatus,
    recorded_at: Timestamp,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    business_date: Option<String>,
}

/// A page row from its body and its destination and consignee columns.
pub(crate) fn register_row(
    body: String,
    destination: Option<String>,
    consignee: Option<String>,
) -> Result<RegisterRow> {
    let h: Head = serde_json::from_str(&body).map_err(|e| LedgerError::Corrupt {
        what: "shipments".into(),
        detail: e.to_string(),
    })?;
    Ok(RegisterRow {
        shipment_id: h.shipment_id,
        recorded_at: h.recorded_at,
        status: h.status,
        tenant: h.tenant.unwrap_or_else(|| LEGACY_TENANT.to_string()),
        business_date: h.business_date,
        destination,
        consignee,
        body,
    })
}

/// One page of shipments, newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShipmentPage {
    /// The shipments of the page.
    pub items: Vec<RegisterRow>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One consignee of a tenant's shipments, as the register's columns group them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterConsignee {
    /// The compared form of the name ([`consignee_key`]).
    pub key: String,
    /// The name as one of its shipments gives it (the least in byte order, so stable).
    pub name: String,
    /// Its shipments.
    pub shipments: u64,
    /// Of those, the refused ones.
    pub refused: u64,
}

/// The tenant a stored shipment belongs to.
pub fn tenant_of(s: &Shipment) -> &str {
    s.tenant.as_deref().unwrap_or(LEGACY_TENANT)
}

/// How a consignee name is compared: white space folded, Unicode lower case.
pub fn consignee_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The register columns of a shipment (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) tenant: String,
    pub(crate) status: &'static str,
    pub(crate) business_date: Option<String>,
    pub(crate) destination: Option<String>,
    pub(crate) consignee: Option<String>,
    pub(crate) consignee_key: Option<String>,
    /// The `veu_shipments` row (schema 7), for an authorized shipment under a VEU.
    pub(crate) veu: Option<VeuShipment>,
}

/// The determination's names of the validated end-user authorizations (`authorization` in a
/// stored determination); aidf-service checks them against the core's own names.
pub const VEU_AUTHORIZATIONS: [&str; 2] = ["UVEU", "NVEU"];

/// An authorized shipment under a VEU authorization with a business date, as the Data Center
/// VEU report lists it (the `veu_shipments` table, schema 7). Texts are as stored, untrimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VeuShipment {
    /// Shipment id (with its tenant prefix, as stored).
    pub shipment_id: String,
    /// Business date (YYYY-MM-DD).
    pub business_date: String,
    /// One of [`VEU_AUTHORIZATIONS`].
    pub authorization: String,
    /// The VEU authorization's id, as the input named it.
    pub veu_id: Option<String>,
    /// The consignee's name, as the input gave it.
    pub consignee: Option<String>,
    /// The determination's destination.
    pub destination: Option<String>,
    /// The item's name.
    pub item: Option<String>,
    /// The item's ECCN.
    pub eccn: Option<String>,
    /// Units shipped.
    pub quantity: Option<i64>,
    /// Total TPP of the shipment.
    pub total_tpp: Option<i64>,
}

impl VeuShipment {
    /// The row of a stored shipment, if it is an authorized shipment under a VEU with a business
    /// date. Numbers are the ledger's integers: a figure beyond `i64` could not have been drawn.
    pub fn of(s: &Shipment) -> Option<VeuShipment> {
        VeuShipment::of_view(s, &BodyView::of(&s.determination))
    }

    /// The same, from the view of the shipment's stored body.
    pub(crate) fn of_view(s: &Shipment, view: &BodyView) -> Option<VeuShipment> {
        let d = view.determination.get()?;
        let authorization = d.authorization.as_deref()?;
        let is_veu = VEU_AUTHORIZATIONS.contains(&authorization);
        if s.status != ShipmentStatus::Authorized || !is_veu {
            return None;
        }
        let consignee = view.input.get().and_then(|i| i.consignee.get());
        let text = |v: Option<&str>| v.map(str::to_string);
        Some(VeuShipment {
            shipment_id: s.shipment_id.clone(),
            business_date: s.business_date.clone()?,
            authorization: authorization.to_string(),
            veu_id: text(
                consignee
                    .and_then(|c| c.veu.get())
                    .and_then(|v| v.id.as_deref()),
            ),
            consignee: text(consignee.and_then(|c| c.name.as_deref())),
            destination: text(d.destination.as_deref()),
            item: text(d.item.get().and_then(|i| i.name.as_deref())),
            eccn: text(d.eccn.as_deref()),
            quantity: d.quantity.value(),
            total_tpp: d.total_tpp.value(),
        })
    }
}

impl Columns {
    /// The columns of a shipment, from its fields and its stored determination.
    pub(crate) fn of(s: &Shipment) -> Columns {
        Columns::of_view(s, &BodyView::of(&s.determination))
    }

    /// The same, from the view of the shipment's stored body.
    pub(crate) fn of_view(s: &Shipment, view: &BodyView) -> Columns {
        fn text(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|t| !t.is_empty())
        }
        let input = view.input.get();
        let destination = text(
            view.determination
                .get()
                .and_then(|d| d.destination.as_deref()),
        )
        .or_else(|| text(input.and_then(|i| i.destination.as_deref())))
        .map(str::to_ascii_uppercase);
        let consignee = text(
            input
                .and_then(|i| i.consignee.get())
                .and_then(|c| c.name.as_deref()),
        )
        .map(str::to_string);
        Columns {
            tenant: tenant_of(s).to_string(),
            status: s.status.as_str(),
            business_date: s.business_date.clone(),
            destination,
            consignee_key: consignee.as_deref().map(consignee_key),
            consignee,
            veu: VeuShipment::of_view(s, view),
        }
    }
}

/// The opaque position after a shipment: its recording time and id, hex-encoded.
pub(crate) fn encode_cursor(at: Timestamp, id: &str) -> String {
    crate::audit::hex(format!("{}.{id}", at.0).as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    let bad = || LedgerError::InvalidField {
        field: "after",
        value: cursor.chars().take(200).collect(),
        reason: "not a cursor this register returned",
    };
    if cursor.len() % 2 != 0 || cursor.len() > 1_024 {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((at, id.to_string()))
}

/// A row of the page query: body, destination, consignee.
pub(crate) type PageRow = (String, Option<String>, Option<String>);

/// A bound value of the page query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// The page query as SQL with numbered placeholders (`ph(n)` spells placeholder n, 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageSql {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

/// Checks a query's fields; every error names the field and the value.
fn check(q: &ShipmentQuery) -> Result<()> {
    if !(1..=MAX_PAGE).contains(&q.limit) {
        return Err(LedgerError::InvalidField {
            field: "limit",
            value: q.limit.to_string(),
            reason: "expected 1 to 1000",
        });
    }
    validate::text("tenant", &q.tenant)?;
    if let Some(c) = &q.country {
        let ok = c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic());
        if !ok {
            return Err(LedgerError::InvalidField {
                field: "country",
                value: c.clone(),
                reason: "expected an ISO 3166-1 alpha-2 code",
            });
        }
    }
    if let Some(c) = &q.consignee {
        validate::text("consignee", c)?;
    }
    for (field, d) in [("from", &q.from), ("to", &q.to)] {
        if let Some(d) = d {
            validate::date(field, d)?;
        }
    }
    Ok(())
}

impl PageSql {
    /// The keyset query of `q`: one row more than the limit, to know whether a next page exists.
    pub(crate) fn build(q: &ShipmentQuery, ph: fn(usize) -> String) -> Result<PageSql> {
        check(q)?;
        let mut params = vec![Param::Text(q.tenant.clone())];
        let mut sql = format!(
            "SELECT body, destination, consignee FROM shipments WHERE tenant = {}",
            ph(1)
        );
        let mut add = |sql: &mut String, cond: &str, p: Param| {
            params.push(p);
            sql.push_str(&format!(" AND {cond} {}", ph(params.len())));
        };
        if let Some(s) = q.status {
            add(&mut sql, "status =", Param::Text(s.as_str().into()));
        }
        if let Some(c) = &q.consignee {
            add(&mut sql, "consignee_key =", Param::Text(consignee_key(c)));
        }
        if let Some(c) = &q.country {
            add(
                &mut sql,
                "destination =",
                Param::Text(c.to_ascii_uppercase()),
            );
        }
        if let Some(d) = &q.from {
            add(&mut sql, "business_date >=", Param::Text(d.clone()));
        }
        if let Some(d) = &q.to {
            add(&mut sql, "business_date <=", Param::Text(d.clone()));
        }
        if let Some(c) = &q.after {
            let (at, id) = decode_cursor(c)?;
            params.push(Param::Int(at));
            params.push(Param::Text(id));
            let n = params.len();
            sql.push_str(&format!(
                " AND (created_at, id) < ({}, {})",
                ph(n - 1),
                ph(n)
            ));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            q.limit + 1
        ));
        Ok(PageSql { sql, params })
    }
}

/// The `veu_shipments` columns, in the order the writers and readers use.
pub(crate) const VEU_COLUMNS: &str = "shipment_id, business_date, authorization_kind, veu_id, \
     consignee, destination, item, eccn, quantity, total_tpp";

/// The query of a tenant's VEU shipments with business dates in `[from, to]`, by date and id;
/// `ph` spells a placeholder.
pub(crate) fn veu_period_sql(ph: fn(usize) -> String) -> String {
    format!(
        "SELECT {VEU_COLUMNS} FROM veu_shipments WHERE tenant = {} AND business_date >= {} \
         AND business_date <= {} ORDER BY business_date, shipment_id",
        ph(1),
        ph(2),
        ph(3)
    )
}

/// Checks a VEU period request's fields before a query.
pub(crate) fn check_veu_period(tenant: &str, from: &str, to: &str) -> Result<()> {
    validate::text("tenant", tenant)?;
    validate::date("from", from)?;
    validate::date("to", to)
}

/// Cuts the rows read (limit + 1 at most) into a page and its cursor.
pub(crate) fn page_of(mut items: Vec<RegisterRow>, limit: u32) -> ShipmentPage {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|s| encode_cursor(s.recorded_at, &s.shipment_id))
    } else {
        None
    };
    ShipmentPage { items, next_cursor }
}

/// A shipment as the register lists it, for callers that need no determination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterColumns {
    /// Tenant.
    pub tenant: String,
    /// Destination country, if stored.
    pub destination: Option<String>,
    /// Consignee name as given, if stored.
    pub consignee: Option<String>,
}

impl RegisterColumns {
    /// The register's view of a stored shipment (the same derivation as its columns).
    pub fn of(s: &Shipment) -> RegisterColumns {
        let c = Columns::of(s);
        RegisterColumns {
            tenant: c.tenant,
            destination: c.destination,
            consignee: c.consignee,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor(Timestamp(1_700_000_000_123), "t.ship-1");
        assert_eq!(
            decode_cursor(&c).ok(),
            Some((1_700_000_000_123, "t.ship-1".into()))
        );
        for bad in ["", "zz", "abc", "2e", "31"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn consignee_key_folds_case_and_space_in_any_script() {
        assert_eq!(consignee_key("  ACME   Corp "), "acme corp");
        assert_eq!(consignee_key("华为 技术"), "华为 技术");
        assert_eq!(consignee_key("ΣΙΓΜΑ"), "σιγμα");
    }
}
