//! The register use cases: list, show and the compliance record of shipments recorded by `ship`,
//! scoped to their tenant (another tenant's id is not found, like an unknown one).

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::audit::{AuditKey, Auditor};
use aidf_ledger::{Ledger, LedgerStore, ShipmentQuery, ShipmentStatus, Timestamp};
use aidf_service::register::{RegisterError, compliance_record, list_shipments, show_shipment};
use aidf_service::{ShipConfig, ShipRequest, ship};

/// 2025-06-02T12:00:00Z.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

fn input(name: &str, hq: &str, dest: &str) -> DeterminationInput {
    let name = serde_json::to_string(name).expect("name");
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"{dest}","consignee":{{"name":{name},"hq":"{hq}"}},"item":{{"chip":"H100 SXM"}},"quantity":10}}"#
    ))
    .expect("input")
}

fn record(l: &mut Ledger, policy: &Policy, tenant: &str, id: &str, i: &DeterminationInput, k: i64) {
    let req = ShipRequest {
        input: i,
        shipment_id: id,
        tenant,
        record_prefix: "",
        may_backfill: true,
        now: Timestamp(NOW.0 + k),
    };
    ship(l, policy, &ShipConfig::default(), &req).expect("ship");
}

fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::open(dir.path().join("l.db").to_str().expect("utf8")).expect("open");
    (dir, l)
}

fn seeded() -> (tempfile::TempDir, Ledger) {
    let policy = Policy::embedded().expect("policy");
    let (dir, mut l) = ledger();
    record(
        &mut l,
        &policy,
        "local",
        "s1",
        &input("X Sdn Bhd", "MY", "MY"),
        1,
    );
    record(
        &mut l,
        &policy,
        "local",
        "s2",
        &input("华为技术有限公司", "CN", "CN"),
        2,
    );
    record(
        &mut l,
        &policy,
        "other",
        "o1",
        &input("X Sdn Bhd", "MY", "MY"),
        3,
    );
    (dir, l)
}

fn query() -> ShipmentQuery {
    ShipmentQuery {
        limit: 50,
        ..ShipmentQuery::default()
    }
}

#[test]
fn list_filters_and_scopes_to_the_tenant() {
    let (_d, mut l) = seeded();
    let all = list_shipments(&mut l, "local", &query()).expect("list");
    let ids: Vec<&str> = all.items.iter().map(|s| s.shipment_id.as_str()).collect();
    assert_eq!(ids, ["s2", "s1"]);
    assert_eq!(all.items[0].status, ShipmentStatus::Refused);
    assert_eq!(all.items[0].consignee.as_deref(), Some("华为技术有限公司"));
    assert_eq!(all.items[0].destination.as_deref(), Some("CN"));
    let mut q = query();
    q.status = Some(ShipmentStatus::Authorized);
    q.tenant = "other".into(); // ignored: the caller's tenant wins
    let auth = list_shipments(&mut l, "local", &q).expect("list");
    assert_eq!(auth.items.len(), 1);
    assert_eq!(auth.items[0].shipment_id, "s1");
    let mut q = query();
    q.limit = 0;
    match list_shipments(&mut l, "local", &q) {
        Err(RegisterError::Invalid { field, value, .. }) => {
            assert_eq!((field, value.as_str()), ("limit", "0"))
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn another_tenants_shipment_is_not_found() {
    let (_d, mut l) = seeded();
    assert!(show_shipment(&mut l, "local", "s1").is_ok());
    for (tenant, id) in [
        ("local", "o1"),
        ("other", "s1"),
        ("local", "nope"),
        ("local", "bad id!"),
    ] {
        match show_shipment(&mut l, tenant, id) {
            Err(RegisterError::NotFound { id: got }) => assert_eq!(got, id),
            other => panic!("{tenant}/{id}: expected NotFound, got {other:?}"),
        }
        assert!(matches!(
            compliance_record(&mut l, tenant, id, "l.db"),
            Err(RegisterError::NotFound { .. })
        ));
    }
}

#[test]
fn compliance_record_has_reasons_draws_screening_and_audit() {
    let (dir, mut l) = seeded();
    let key = AuditKey::new(b"a test key of thirty-two bytes!!");
    let auditor = Auditor::new(key, Some(dir.path().join("a.anchor")));
    auditor.drain(&mut l).expect("chain");
    let r = compliance_record(&mut l, "local", "s1", "l.db").expect("record");
    assert_eq!(r.shipment.status, ShipmentStatus::Authorized);
    assert!(!r.reasons.is_empty());
    assert!(
        r.reasons.iter().all(|x| !x.citation.is_empty()),
        "{:?}",
        r.reasons
    );
    let regime = r.regime.as_ref().expect("regime");
    assert!(regime.digest.starts_with("sha256:"));
    assert!(!r.draws.is_empty(), "authorized: draws with balances after");
    assert!(r.screening.is_some());
    let audit = r.audit.as_ref().expect("chained audit record");
    assert!(
        audit.seq > 0 && audit.signed && audit.hash.len() >= 64,
        "{audit:?}"
    );
    assert_eq!(r.verify_hint, "aidf audit verify --db l.db");
    assert_eq!(r.input["consignee"]["name"], "X Sdn Bhd");
    let refused = compliance_record(&mut l, "local", "s2", "l.db").expect("record");
    assert!(refused.draws.is_empty());
    assert!(refused.shipment.refusal.is_some());
    let stored = l.shipment("s2").expect("read").expect("stored");
    let d = &stored.determination.to_value()["determination"]["reasons"];
    assert_eq!(
        refused.reasons.len(),
        d.as_array().map_or(0, Vec::len),
        "every reason"
    );
}
