//! The shipment register (schema 5): filters on the register's columns, keyset pages with no
//! gaps or duplicates while shipments are recorded, tenant isolation, and older ledgers (frozen
//! fixtures of schema 2 and 4) upgraded with every shipment filterable — on both backends.

mod common;

use aidf_ledger::{
    Ledger, LedgerError, LedgerStore, NewShipment, ShipmentPage, ShipmentQuery, ShipmentStatus,
};
use common::{Backend, PgSchema, t};

const SQLITE_V2_SERVER: &str = include_str!("fixtures/ledger_v2_server.sqlite.sql");
const PG_V2_SERVER: &str = include_str!("fixtures/ledger_v2_server.pg.sql");
const SQLITE_V4: &str = include_str!("fixtures/ledger_v4.sqlite.sql");
const PG_V4: &str = include_str!("fixtures/ledger_v4.pg.sql");

struct Ship<'a> {
    id: &'a str,
    tenant: &'a str,
    status: ShipmentStatus,
    destination: &'a str,
    consignee: &'a str,
    date: &'a str,
}

fn ship(l: &mut Ledger, s: &Ship<'_>, secs: i64) {
    let new = NewShipment {
        shipment_id: s.id.into(),
        input_digest: format!("sha256:{}", s.id),
        determination: serde_json::json!({
            "determination": {"destination": s.destination, "authorization": "nlr"},
            "input": {"destination": s.destination, "consignee": {"name": s.consignee}},
        })
        .into(),
        status: s.status,
        tenant: Some(s.tenant.into()),
        business_date: Some(s.date.into()),
        ..NewShipment::default()
    };
    l.record_shipment(&mut new.clone(), t(secs))
        .unwrap_or_else(|e| panic!("record {}: {e}", s.id));
}

fn query(tenant: &str) -> ShipmentQuery {
    ShipmentQuery {
        tenant: tenant.into(),
        limit: 100,
        ..ShipmentQuery::default()
    }
}

fn ids(p: &ShipmentPage) -> Vec<&str> {
    p.items.iter().map(|s| s.shipment_id.as_str()).collect()
}

/// Five shipments of tenant `a` and one of `b`.
fn seed(l: &mut Ledger) {
    use ShipmentStatus::{Authorized, Refused};
    let rows = [
        ("a.1", "a", Authorized, "MY", "Acme Corp", "2025-03-01"),
        ("a.2", "a", Refused, "CN", "华为技术有限公司", "2025-03-02"),
        ("a.3", "a", Authorized, "MY", "ACME   corp", "2025-03-03"),
        ("a.4", "a", Authorized, "AE", "شركة الخليج", "2025-03-04"),
        ("b.1", "b", Authorized, "MY", "Acme Corp", "2025-03-01"),
        ("a.5", "a", Refused, "MY", "Beta Ltd", "2025-03-05"),
    ];
    for (i, (id, tenant, status, destination, consignee, date)) in rows.into_iter().enumerate() {
        let s = Ship {
            id,
            tenant,
            status,
            destination,
            consignee,
            date,
        };
        ship(l, &s, i64::try_from(i).unwrap_or(0) + 1);
    }
}

fn l_page(l: &mut Ledger, q: &ShipmentQuery) -> ShipmentPage {
    l.shipments_page(q).expect("page")
}

fn filters(b: &Backend) {
    let mut l = b.open();
    seed(&mut l);
    let all = l.shipments_page(&query("a")).expect("page");
    assert_eq!(
        ids(&all),
        ["a.5", "a.4", "a.3", "a.2", "a.1"],
        "newest first"
    );
    assert_eq!(all.next_cursor, None);
    let mut q = query("a");
    q.status = Some(ShipmentStatus::Refused);
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.5", "a.2"]);
    let mut q = query("a");
    q.consignee = Some("acme corp".into());
    assert_eq!(
        ids(&l_page(&mut l, &q)),
        ["a.3", "a.1"],
        "case and spaces folded"
    );
    q.consignee = Some("华为技术有限公司".into());
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.2"], "Han name kept");
    q.consignee = Some("شركة الخليج".into());
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.4"], "Arabic name kept");
    let mut q = query("a");
    q.country = Some("my".into());
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.5", "a.3", "a.1"]);
    let mut q = query("a");
    q.from = Some("2025-03-02".into());
    q.to = Some("2025-03-04".into());
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.4", "a.3", "a.2"]);
    q.status = Some(ShipmentStatus::Authorized);
    q.country = Some("MY".into());
    assert_eq!(ids(&l_page(&mut l, &q)), ["a.3"], "filters combine");
    // Each bad field is named with its value.
    let bad = |l: &mut Ledger, q: ShipmentQuery| match l.shipments_page(&q) {
        Err(LedgerError::InvalidField { field, value, .. }) => format!("{field}={value}"),
        other => panic!("expected InvalidField, got {other:?}"),
    };
    let mut q = query("a");
    q.limit = 0;
    assert_eq!(bad(&mut l, q.clone()), "limit=0");
    q.limit = 1001;
    assert_eq!(bad(&mut l, q), "limit=1001");
    let mut q = query("a");
    q.after = Some("nonsense".into());
    assert_eq!(bad(&mut l, q), "after=nonsense");
    let mut q = query("a");
    q.country = Some("MYS".into());
    assert_eq!(bad(&mut l, q), "country=MYS");
    let mut q = query("a");
    q.from = Some("2025-13-01".into());
    assert_eq!(bad(&mut l, q), "from=2025-13-01");
}

/// Pages of 7 over 30 shipments, with 10 more recorded between the pages: the pages hold the
/// first 30 exactly once each, in order; a fresh first page starts with the new ones.
fn pages_while_recording(b: &Backend) {
    let mut l = b.open();
    let id = |i: i64| format!("t.{i:03}");
    let record = |l: &mut Ledger, i: i64| {
        let name = id(i);
        let s = Ship {
            id: &name,
            tenant: "t",
            status: ShipmentStatus::Authorized,
            destination: "MY",
            consignee: "Acme",
            date: "2025-03-01",
        };
        // Two shipments share each recording time: the id breaks the tie.
        ship(l, &s, 10 + i / 2);
    };
    for i in 0..30 {
        record(&mut l, i);
    }
    let mut q = query("t");
    q.limit = 7;
    let mut seen = Vec::new();
    let mut next = 30;
    loop {
        let p = l.shipments_page(&q).expect("page");
        assert!(p.items.len() <= 7);
        seen.extend(p.items.iter().map(|s| s.shipment_id.clone()));
        for _ in 0..2 {
            if next < 40 {
                record(&mut l, next);
                next += 1;
            }
        }
        match p.next_cursor {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).rev().map(id).collect();
    assert_eq!(seen, expected, "no gap, no duplicate, newest first");
    q.after = None;
    q.limit = 3;
    let first = l.shipments_page(&q).expect("page");
    assert_eq!(ids(&first), ["t.039", "t.038", "t.037"]);
}

/// A tenant sees only its own shipments, even with a cursor taken from another tenant's page.
fn tenant_isolation(b: &Backend) {
    let mut l = b.open();
    seed(&mut l);
    let p = l.shipments_page(&query("b")).expect("page");
    assert_eq!(ids(&p), ["b.1"]);
    let mut q = query("a");
    q.limit = 2;
    let a = l.shipments_page(&q).expect("page");
    let mut q = query("b");
    q.after = a.next_cursor;
    assert!(q.after.is_some());
    let p = l.shipments_page(&q).expect("page");
    assert!(p.items.iter().all(|s| s.tenant == "b"));
    assert!(
        l.shipments_page(&query("c"))
            .expect("page")
            .items
            .is_empty()
    );
}

/// The distinct consignees of a tenant from the register's columns (names folded as the
/// `consignee` filter folds them), with their shipment and refusal counts; the party registry
/// of a tenant, not another's.
fn consignees_and_parties(b: &Backend) {
    let mut l = b.open();
    seed(&mut l);
    let got = l.register_consignees("a").expect("consignees");
    let rows: Vec<(&str, &str, u64, u64)> = got
        .iter()
        .map(|c| (c.key.as_str(), c.name.as_str(), c.shipments, c.refused))
        .collect();
    let expected = [
        ("acme corp", "ACME   corp", 2, 0),
        ("beta ltd", "Beta Ltd", 1, 1),
        ("شركة الخليج", "شركة الخليج", 1, 0),
        ("华为技术有限公司", "华为技术有限公司", 1, 1),
    ];
    assert_eq!(rows, expected);
    assert_eq!(l.register_consignees("c").expect("none"), []);
    let party = |tenant: &str, id: &str, name: &str| aidf_ledger::Party {
        tenant: tenant.into(),
        id: id.into(),
        name: name.into(),
        normalized_name: name.to_lowercase(),
        hq: "CN".into(),
        parent_hq: None,
    };
    let parties = [
        party("a", "p1", "Acme Corp"),
        party("a", "p2", "Beta Ltd"),
        party("ab", "p3", "Other tenant"),
        party("b", "p1", "Acme Corp"),
    ];
    for (i, p) in parties.iter().enumerate() {
        let new = NewShipment {
            shipment_id: format!("p.{i}"),
            input_digest: format!("sha256:p{i}"),
            determination: serde_json::json!({"input": {}}).into(),
            tenant: Some(p.tenant.clone()),
            parties: vec![p.clone()],
            ..NewShipment::default()
        };
        l.record_shipment(&mut new.clone(), t(100)).expect("record");
    }
    assert_eq!(l.parties("a").expect("parties"), parties[..2]);
    assert_eq!(l.parties("b").expect("parties"), parties[3..]);
}

#[test]
fn sqlite_consignees_and_parties() {
    consignees_and_parties(&Backend::sqlite());
}
#[test]
fn pg_consignees_and_parties() {
    if let Some(b) = Backend::pg() {
        consignees_and_parties(&b);
    }
}
#[test]
fn sqlite_filters() {
    filters(&Backend::sqlite());
}
#[test]
fn pg_filters() {
    if let Some(b) = Backend::pg() {
        filters(&b);
    }
}
#[test]
fn sqlite_pages_while_recording() {
    pages_while_recording(&Backend::sqlite());
}
#[test]
fn pg_pages_while_recording() {
    if let Some(b) = Backend::pg() {
        pages_while_recording(&b);
    }
}
#[test]
fn sqlite_tenant_isolation() {
    tenant_isolation(&Backend::sqlite());
}
#[test]
fn pg_tenant_isolation() {
    if let Some(b) = Backend::pg() {
        tenant_isolation(&b);
    }
}

/// Every stored shipment is found by the register under its tenant, by status, destination,
/// consignee and business date, exactly as its body says.
fn check_all_filterable(l: &mut Ledger, expected: usize) {
    let all = l.shipments().expect("shipments");
    assert_eq!(all.len(), expected, "fixture shipments");
    for s in &all {
        let cols = aidf_ledger::register::RegisterColumns::of(s);
        let mut q = query(&cols.tenant);
        q.limit = 1000;
        q.status = Some(s.status);
        q.country.clone_from(&cols.destination);
        q.consignee.clone_from(&cols.consignee);
        q.from.clone_from(&s.business_date);
        q.to.clone_from(&s.business_date);
        let p = l.shipments_page(&q).expect("page");
        assert!(
            p.items.iter().any(|x| x.shipment_id == s.shipment_id),
            "{} not found by {q:?}",
            s.shipment_id
        );
    }
}

fn sqlite_fixture(sql: &str) -> Backend {
    let backend = Backend::sqlite();
    let Backend::Sqlite { path, .. } = &backend else {
        unreachable!()
    };
    rusqlite::Connection::open(path)
        .and_then(|c| c.execute_batch(sql))
        .expect("load fixture");
    backend
}

fn pg_fixture(sql: &str) -> Option<Backend> {
    let schema = PgSchema::try_new()?;
    schema.client().batch_execute(sql).expect("load fixture");
    Some(Backend::Pg(schema))
}

#[test]
fn sqlite_v2_server_fixture_is_filterable() {
    check_all_filterable(&mut sqlite_fixture(SQLITE_V2_SERVER).open(), 1);
}
#[test]
fn pg_v2_server_fixture_is_filterable() {
    if let Some(b) = pg_fixture(PG_V2_SERVER) {
        check_all_filterable(&mut b.open(), 1);
    }
}
#[test]
fn sqlite_v4_fixture_is_filterable() {
    check_all_filterable(&mut sqlite_fixture(SQLITE_V4).open(), V4_SHIPMENTS);
}
#[test]
fn pg_v4_fixture_is_filterable() {
    if let Some(b) = pg_fixture(PG_V4) {
        check_all_filterable(&mut b.open(), V4_SHIPMENTS);
    }
}

/// Shipments in the schema-4 fixtures (see their header).
const V4_SHIPMENTS: usize = 4;

/// A shipment whose stored determination went under `authorization`, for the VEU rows.
fn ship_authorized(l: &mut Ledger, id: &str, authorization: &str, date: Option<&str>, secs: i64) {
    let status = if id.contains("refused") {
        ShipmentStatus::Refused
    } else {
        ShipmentStatus::Authorized
    };
    let new = NewShipment {
        shipment_id: id.into(),
        input_digest: format!("sha256:{id}"),
        determination: serde_json::json!({
            "determination": {
                "destination": "AE", "authorization": authorization, "eccn": "3A090.a",
                "item": {"name": "NVIDIA H100 SXM"}, "quantity": 2000, "total_tpp": 31_664_000,
            },
            "input": {"destination": "ae", "consignee": {"name": " Gulf DC ", "veu": {"id": "V-1"}}},
        })
        .into(),
        status,
        tenant: Some(id.split('.').next().unwrap_or("a").into()),
        business_date: date.map(str::to_string),
        ..NewShipment::default()
    };
    l.record_shipment(&mut new.clone(), t(secs))
        .unwrap_or_else(|e| panic!("record {id}: {e}"));
}

/// The VEU rows (schema 7) hold exactly the tenant's authorized UVEU/NVEU shipments with a
/// business date, with the fields as stored; a ledger of schema 6 gets them by the backfill.
fn veu_rows(b: &Backend) {
    let mut l = b.open();
    let seeded = [
        ("a.u1", "UVEU", Some("2025-03-01")),
        ("a.n1", "NVEU", Some("2025-06-30")),
        ("a.refused", "UVEU", Some("2025-03-02")),
        ("a.nlr", "NLR", Some("2025-03-03")),
        ("a.late", "UVEU", Some("2025-07-01")),
        ("a.undated", "UVEU", None),
        ("b.u1", "UVEU", Some("2025-03-01")),
    ];
    for (i, (id, auth, date)) in seeded.into_iter().enumerate() {
        ship_authorized(&mut l, id, auth, date, i64::try_from(i).unwrap_or(0) + 1);
    }
    let expected = |l: &mut Ledger| {
        let rows = l
            .veu_shipments("a", "2025-01-01", "2025-06-30")
            .expect("veu rows");
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.shipment_id.as_str(), r.authorization.as_str()))
            .collect();
        assert_eq!(got, [("a.u1", "UVEU"), ("a.n1", "NVEU")]);
        let r = &rows[0];
        assert_eq!(r.business_date, "2025-03-01");
        assert_eq!(r.veu_id.as_deref(), Some("V-1"));
        assert_eq!(r.consignee.as_deref(), Some(" Gulf DC "));
        assert_eq!(r.destination.as_deref(), Some("AE"));
        assert_eq!(r.item.as_deref(), Some("NVIDIA H100 SXM"));
        assert_eq!(r.eccn.as_deref(), Some("3A090.a"));
        assert_eq!((r.quantity, r.total_tpp), (Some(2000), Some(31_664_000)));
    };
    expected(&mut l);
    let bad = l.veu_shipments("a", "2025-1-1", "2025-06-30");
    assert!(
        matches!(bad, Err(LedgerError::InvalidField { field: "from", .. })),
        "{bad:?}"
    );
    drop(l);
    // Back to schema 6: the later migrations (7, and 8's screening tables) undone.
    b.raw_exec(
        "DROP TABLE veu_shipments; DROP TABLE screening_decisions; \
         DROP TABLE screening_thresholds; DELETE FROM schema_migrations WHERE version >= 7;",
    )
    .expect("back to schema 6");
    expected(&mut b.open());
}

#[test]
fn sqlite_veu_rows() {
    veu_rows(&Backend::sqlite());
}
#[test]
fn pg_veu_rows() {
    if let Some(b) = Backend::pg() {
        veu_rows(&b);
    }
}
