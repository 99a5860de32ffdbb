//! A ledger recorded with the old account keys (a slug of the name: every non-Latin name was
//! `unnamed`) is upgraded shipment by shipment to tenant and party keys (issue 12).

use aidf_core::{AccountRef, PartyId, Policy};
use aidf_ledger::{
    AccountKind, Ledger, LedgerStore, Meta, NewShipment, Op, ShipmentStatus, Timestamp,
};
use aidf_service::upgrade::rekey_legacy_accounts;

const OLD: &str = "lpp:MY:unnamed:2025";

fn legacy_shipment(id: &str, name: &str, amount: u64) -> NewShipment {
    NewShipment {
        shipment_id: id.into(),
        input_digest: format!("sha256:{id}"),
        status: ShipmentStatus::Authorized,
        determination: serde_json::json!({
            "determination": {},
            "input": {"date": "2025-06-01", "destination": "MY",
                      "consignee": {"name": name, "hq": "MY"},
                      "item": {"chip": "H100 SXM"}, "quantity": amount / 15_832}
        })
        .into(),
        ops: vec![Op::Transfer {
            op_id: format!("{id}:lpp"),
            account: OLD.into(),
            amount,
            meta: Meta::determination(id, "sha256:r"),
        }],
        ..NewShipment::default()
    }
}

fn key(tenant: &str, name: &str) -> String {
    AccountRef::LppAnnual {
        party: PartyId::of(name, "MY"),
        year: 2025,
    }
    .ledger_key(tenant)
}

#[test]
fn merged_non_latin_consignees_are_split_back_by_their_shipments() {
    let dir = std::env::temp_dir().join(format!("aidf-upgrade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("old.db");
    let mut l = Ledger::open(path.to_str().expect("utf8")).expect("open");
    let now = Timestamp::now_utc();
    l.ensure_account(OLD, AccountKind::Lpp, Some(26_900_000), now)
        .expect("old account");
    l.record_shipment(&mut legacy_shipment("ship-1", "华为技术", 15_832_000), now)
        .expect("first");
    l.record_shipment(&mut legacy_shipment("acme.o-2", "中兴通讯", 1_583_200), now)
        .expect("second");
    l.transfer("manual-1", OLD, 7, Meta::default(), now)
        .expect("manual");
    let policy = Policy::embedded().expect("policy");

    let report = rekey_legacy_accounts(&mut l, &policy, now).expect("upgrade");
    assert_eq!(report.moved.len(), 2, "{report:?}");
    assert_eq!(report.left, vec![(OLD.to_string(), 7)]);
    let huawei = key("local", "华为技术");
    let zte = key("acme", "中兴通讯");
    assert_eq!(l.account(&huawei).expect("huawei").posted, 15_832_000);
    assert_eq!(l.account(&zte).expect("zte").posted, 1_583_200);
    assert_eq!(l.account(OLD).expect("old").posted, 7);
    l.check_invariants().expect("invariants");

    // A second run moves nothing more.
    let again = rekey_legacy_accounts(&mut l, &policy, now).expect("rerun");
    assert!(again.moved.is_empty(), "{again:?}");
    assert_eq!(l.account(&huawei).expect("huawei").posted, 15_832_000);
    let _ = std::fs::remove_dir_all(&dir);
}
