//! Issue 15, item 3: a shipment refused for want of a license says why each recorded license
//! does not cover it (one test per reason), and licenses are amended, suspended, reinstated and
//! revoked through dated, audited changes.

mod common;

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, LedgerStore, License, LicenseCondition, ShipmentStatus, Timestamp};
use aidf_service::licenses::{Amendment, ChangeBy, LicenseAction, LicenseError, change_license};
use aidf_service::{ShipConfig, ShipOutcome, ShipRequest, ship};
use chrono::NaiveDate;

/// 2025-06-02T12:00:00Z.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

fn config() -> ShipConfig {
    ShipConfig {
        screen: false,
        ..ShipConfig::default()
    }
}

fn input(name: &str, chip: &str, quantity: u64) -> DeterminationInput {
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-02","destination":"AE","consignee":{{"name":"{name}","hq":"AE"}},"item":{{"chip":"{chip}"}},"quantity":{quantity}}}"#
    ))
    .expect("input")
}

fn license(id: &str) -> License {
    License {
        id: id.into(),
        consignee: "Gulf Compute LLC".into(),
        destination_country: "AE".into(),
        allowed_item_ids: vec!["nvidia-h100-sxm".into()],
        units_cap: 5_000,
        tpp_cap: 79_160_000,
        granted_on: "2025-03-01".into(),
        expires_on: "2029-02-28".into(),
        ..License::default()
    }
}

struct Fixture {
    _guard: common::Guard,
    ledger: Ledger,
    policy: Policy,
}

fn fixture(pg: bool, licenses: &[License]) -> Option<Fixture> {
    let (guard, mut ledger) = common::ledger(pg)?;
    for l in licenses {
        ledger.add_license(l, NOW).expect("license");
    }
    Some(Fixture {
        _guard: guard,
        ledger,
        policy: Policy::embedded().expect("policy"),
    })
}

fn ship_as(f: &mut Fixture, id: &str, input: &DeterminationInput) -> ShipOutcome {
    let req = ShipRequest {
        input,
        shipment_id: id,
        tenant: "local",
        record_prefix: "",
        may_backfill: true,
        now: NOW,
    };
    ship(&mut f.ledger, &f.policy, &config(), &req).expect("ship")
}

fn refusal(f: &mut Fixture, input: &DeterminationInput) -> String {
    let out = ship_as(f, "s1", input);
    assert_eq!(out.status, ShipmentStatus::Refused, "{out:?}");
    out.refusal.expect("a refusal")
}

fn a_license_that_covers_the_shipment_is_drawn(pg: bool) {
    let Some(mut f) = fixture(pg, &[license("L1")]) else {
        return;
    };
    let out = ship_as(&mut f, "s1", &input("Gulf Compute LLC", "H100", 2000));
    assert_eq!(out.status, ShipmentStatus::Authorized, "{:?}", out.refusal);
    assert_eq!(out.license_id.as_deref(), Some("L1"));
}

fn no_license_recorded_says_so(pg: bool) {
    let Some(mut f) = fixture(pg, &[]) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(r.contains("no license is recorded"), "{r}");
}

fn refusal_names_a_license_not_yet_valid(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            granted_on: "2025-07-01".into(),
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains(
            "license `L1`: not yet valid (valid from 2025-07-01; the shipment is dated 2025-06-02)"
        ),
        "{r}"
    );
}

fn refusal_names_an_expired_license(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            granted_on: "2025-01-01".into(),
            expires_on: "2025-05-31".into(),
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("license `L1`: expired (on 2025-05-31; the shipment is dated 2025-06-02)"),
        "{r}"
    );
}

/// 15 CFR 750.11(a): no shipping tolerance on the quantity approved. One unit past the units cap
/// is refused, naming the section; exactly the cap ships (each shipment large enough to pass LPP).
fn refusal_names_exhausted_units_with_the_numbers(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            units_cap: 4_000,
            ..license("L1")
        }],
    ) else {
        return;
    };
    let first = ship_as(&mut f, "s0", &input("Gulf Compute LLC", "H100", 2000));
    assert_eq!(
        first.status,
        ShipmentStatus::Authorized,
        "{:?}",
        first.refusal
    );
    let over = ship_as(&mut f, "s1", &input("Gulf Compute LLC", "H100", 2001));
    assert_eq!(
        over.status,
        ShipmentStatus::Refused,
        "one unit over: {over:?}"
    );
    let r = over.refusal.unwrap_or_default();
    assert!(
        r.contains("units: 2,000 used + 2,001 = 4,001 would exceed its cap of 4,000; 15 CFR 750.11(a) gives no shipping tolerance on the quantity approved"),
        "{r}"
    );
    let at_cap = ship_as(&mut f, "s2", &input("Gulf Compute LLC", "H100", 2000));
    assert_eq!(
        at_cap.status,
        ShipmentStatus::Authorized,
        "exactly the cap: {:?}",
        at_cap.refusal
    );
    assert_eq!(at_cap.license_id.as_deref(), Some("L1"));
}

fn refusal_names_exhausted_tpp_with_the_numbers(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            tpp_cap: 30_000_000,
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("license `L1`: exhausted (TPP: 0 used + 31,664,000 = 31,664,000 would exceed its cap of 30,000,000)"),
        "{r}"
    );
}

fn refusal_names_a_license_for_another_item(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            allowed_item_ids: vec!["B200".into()],
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("license `L1`: other item (covers B200; the shipment is nvidia-h100-sxm)"),
        "{r}"
    );
}

fn refusal_names_a_license_for_another_consignee(pg: bool) {
    let Some(mut f) = fixture(pg, &[license("L1")]) else {
        return;
    };
    let r = refusal(&mut f, &input("Desert Cloud FZ", "H100", 2000));
    assert!(
        r.contains("license `L1`: other consignee (issued to `Gulf Compute LLC`)"),
        "{r}"
    );
}

fn refusal_names_a_license_for_another_destination(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            destination_country: "SA".into(),
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("license `L1`: other destination (issued for SA)"),
        "{r}"
    );
}

fn the_nearest_misses_are_named_first_and_the_rest_counted(pg: bool) {
    let mut all: Vec<License> = (0..10)
        .map(|i| License {
            consignee: format!("Other Co {i}"),
            ..license(&format!("L{i:02}"))
        })
        .collect();
    all.push(License {
        expires_on: "2025-05-01".into(),
        ..license("LX")
    });
    let Some(mut f) = fixture(pg, &all) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(r.contains(": license `LX`: expired"), "{r}");
    assert!(
        r.ends_with("and 3 more license(s) of other consignees, destinations or items"),
        "{r}"
    );
}

fn by() -> ChangeBy<'static> {
    ChangeBy {
        record_prefix: "",
        actor: "officer",
        now: NOW,
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn refusal_names_a_revoked_license(pg: bool) {
    let Some(mut f) = fixture(pg, &[license("L1")]) else {
        return;
    };
    let l = change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Revoke,
        day("2025-06-01"),
        "",
    )
    .expect("revoke");
    assert_eq!(l.status.as_str(), "revoked");
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(r.contains("license `L1`: revoked"), "{r}");
    let e = change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Reinstate,
        day("2025-06-02"),
        "",
    )
    .unwrap_err();
    assert!(matches!(e, LicenseError::Transition { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "license `L1` is revoked: it cannot be reinstated"
    );
}

fn refusal_names_a_suspended_license_and_reinstatement_lifts_it(pg: bool) {
    let Some(mut f) = fixture(pg, &[license("L1")]) else {
        return;
    };
    change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Suspend,
        day("2025-06-01"),
        "BIS letter",
    )
    .expect("suspend");
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(r.contains("license `L1`: suspended"), "{r}");
    let e = change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Suspend,
        day("2025-06-01"),
        "",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "license `L1` is suspended: it cannot be suspended"
    );
    change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Reinstate,
        day("2025-06-02"),
        "",
    )
    .expect("reinstate");
    let out = ship_as(&mut f, "s2", &input("Gulf Compute LLC", "H100", 2000));
    assert_eq!(out.status, ShipmentStatus::Authorized, "{:?}", out.refusal);
    let changes = f.ledger.license_changes("L1").expect("changes");
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["suspend", "reinstate"]);
    assert_eq!(changes[0].actor, "officer");
    assert_eq!(changes[0].reason, "BIS letter");
}

fn amendment_raises_a_cap_and_sets_conditions(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[License {
            units_cap: 1_000,
            ..license("L1")
        }],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("units: 0 used + 2,000 = 2,000 would exceed its cap of 1,000"),
        "{r}"
    );
    let amendment = Amendment {
        units: Some(2_000),
        conditions: Some(vec![LicenseCondition::ReportWithinDays { days: 30 }]),
        ..Amendment::default()
    };
    let l = change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Amend(amendment),
        day("2025-06-01"),
        "",
    )
    .expect("amend");
    assert_eq!(l.units_cap, 2_000);
    assert_eq!(
        f.ledger.account("license:L1:units").expect("acct").cap,
        Some(2_000)
    );
    let out = ship_as(&mut f, "s2", &input("Gulf Compute LLC", "H100", 2000));
    assert_eq!(out.status, ShipmentStatus::Authorized, "{:?}", out.refusal);
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("report this export to BIS within 30 day(s), by 2025-07-02")),
        "{:?}",
        out.notes
    );
    let e = change_license(
        &mut f.ledger,
        &by(),
        "L1",
        &LicenseAction::Amend(Amendment::default()),
        day("2025-06-01"),
        "",
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            LicenseError::Input {
                field: "amendment",
                ..
            }
        ),
        "{e:?}"
    );
}

fn every_license_is_named_when_several_miss(pg: bool) {
    let Some(mut f) = fixture(
        pg,
        &[
            License {
                expires_on: "2025-05-01".into(),
                ..license("L1")
            },
            License {
                allowed_item_ids: vec!["B200".into()],
                ..license("L2")
            },
        ],
    ) else {
        return;
    };
    let r = refusal(&mut f, &input("Gulf Compute LLC", "H100", 2000));
    assert!(
        r.contains("license `L1`: expired") && r.contains("license `L2`: other item"),
        "{r}"
    );
}

both!(
    refusal_names_a_license_for_another_destination,
    the_nearest_misses_are_named_first_and_the_rest_counted,
    a_license_that_covers_the_shipment_is_drawn,
    no_license_recorded_says_so,
    refusal_names_a_license_not_yet_valid,
    refusal_names_an_expired_license,
    refusal_names_exhausted_units_with_the_numbers,
    refusal_names_exhausted_tpp_with_the_numbers,
    refusal_names_a_license_for_another_item,
    refusal_names_a_license_for_another_consignee,
    refusal_names_a_revoked_license,
    refusal_names_a_suspended_license_and_reinstatement_lifts_it,
    amendment_raises_a_cap_and_sets_conditions,
    every_license_is_named_when_several_miss,
);
