//! 15 CFR 750.11(b) at ship time: a license approved with a value draws each shipment's value
//! (`value_usd` of the shipment's input, whole cents) on its value account, whose cap is the
//! license's value plus the tolerance of `policy/licensing.toml`; the ledger enforces it in the
//! shipment's transaction, so no concurrency passes it. A shipment that would pass it is refused
//! with the tolerance's numbers; one without a value says the check was not made. Each shipment
//! is over the LPP allowance (1,700 H100 and more), so it needs the license.

mod common;

use aidf_core::{DeterminationInput, Policy, Posture};
use aidf_ledger::{LedgerStore, ShipmentStatus, Timestamp};
use aidf_service::application::{Actor, Approval, Decision, decide, parse_application, submit};
use aidf_service::{ShipConfig, ShipOutcome, ShipRequest, ship};

/// 2025-06-02T12:00:00Z.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

fn who() -> Actor<'static> {
    Actor {
        tenant: "local",
        record_prefix: "",
        actor: "local:officer",
        posture: Posture::AsWritten,
        now: NOW,
    }
}

/// Ships `quantity` H100 to the licensed consignee, with `value` if given.
fn ship_valued(
    l: &mut dyn LedgerStore,
    id: &str,
    quantity: u64,
    value: Option<&str>,
) -> ShipOutcome {
    let value = value.map_or(String::new(), |v| format!(r#","value_usd":"{v}""#));
    let input = DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-12","destination":"AE","consignee":{{"name":"Gulf Compute LLC","hq":"AE"}},"item":{{"chip":"NVIDIA H100 SXM"}},"quantity":{quantity}{value}}}"#
    ))
    .expect("input");
    let req = ShipRequest {
        input: &input,
        shipment_id: id,
        tenant: "local",
        record_prefix: "",
        may_backfill: true,
        now: Timestamp(1_749_729_600_000),
    };
    let config = ShipConfig {
        screen: false,
        ..ShipConfig::default()
    };
    ship(l, &Policy::embedded().expect("policy"), &config, &req).expect("ship")
}

fn shipments_draw_the_license_value_within_the_tolerance(pg: bool) {
    let Some((_d, mut l)) = common::ledger(pg) else {
        return;
    };
    let policy = Policy::embedded().expect("policy");
    let app = parse_application(
        r#"{"id":"APP-V","date":"2025-06-02","destination":"AE",
            "consignee":{"name":"Gulf Compute LLC","hq":"AE","parent_hq":"AE"},
            "items":[{"chip":"NVIDIA H100 SXM","quantity":10000}],
            "value_usd":"1000000.00","end_use":"deployment"}"#,
    )
    .expect("application");
    submit(&mut l, &policy, &app, &who()).expect("submit");
    let approval = Approval {
        license_id: "L-V".into(),
        ..Approval::default()
    };
    let day = "2025-06-10".parse().expect("date");
    decide(
        &mut l,
        "APP-V",
        &Decision::Approve(approval),
        day,
        "",
        &who(),
    )
    .expect("approve");
    let value =
        |l: &mut aidf_ledger::Ledger| l.account("license:L-V:value").expect("value account");
    // 1,000,000.00 USD + 10 % = 110,000,000 cents.
    assert_eq!(value(&mut l).cap, Some(110_000_000));

    let first = ship_valued(&mut l, "v1", 5_000, Some("600000.00"));
    assert_eq!(
        first.status,
        ShipmentStatus::Authorized,
        "{:?}",
        first.refusal
    );
    assert_eq!(first.license_id.as_deref(), Some("L-V"));
    assert_eq!(value(&mut l).posted, 60_000_000);
    // Up to the tolerance exactly ("by up to 10 %" is `<=`).
    let second = ship_valued(&mut l, "v2", 3_000, Some("500000.00"));
    assert_eq!(
        second.status,
        ShipmentStatus::Authorized,
        "{:?}",
        second.refusal
    );
    assert_eq!(value(&mut l).posted, 110_000_000);
    // One cent past it is refused, with the tolerance's numbers and citation.
    let third = ship_valued(&mut l, "v3", 2_000, Some("0.01"));
    assert_eq!(third.status, ShipmentStatus::Refused);
    let why = third.refusal.expect("refusal");
    assert!(
        why.contains("value: 1100000.00 USD shipped + 0.01 USD = 1100000.01 USD would exceed the license's 1000000.00 USD plus the 10 % shipping tolerance of 15 CFR 750.11(b) (1100000.00 USD)"),
        "{why}"
    );
    assert_eq!(value(&mut l).posted, 110_000_000);
    assert_eq!(l.account("license:L-V:units").expect("units").posted, 8_000);
    // Without a value the license still covers the units, and the answer says what was not checked.
    let unvalued = ship_valued(&mut l, "v4", 2_000, None);
    assert_eq!(
        unvalued.status,
        ShipmentStatus::Authorized,
        "{:?}",
        unvalued.refusal
    );
    assert!(
        unvalued
            .notes
            .iter()
            .any(|n| n.contains("no `value_usd`") && n.contains("15 CFR 750.11")),
        "{:?}",
        unvalued.notes
    );
}

#[test]
fn sqlite_shipments_draw_the_license_value_within_the_tolerance() {
    shipments_draw_the_license_value_within_the_tolerance(false);
}

#[test]
fn pg_shipments_draw_the_license_value_within_the_tolerance() {
    shipments_draw_the_license_value_within_the_tolerance(true);
}

#[test]
fn a_value_in_fractions_of_a_cent_is_bad_input() {
    let e = DeterminationInput::from_json(
        r#"{"date":"2025-06-12","destination":"AE","consignee":{"name":"X","hq":"AE"},"item":{"chip":"NVIDIA H100 SXM"},"quantity":1,"value_usd":"12.345"}"#,
    )
    .expect_err("fractions of a cent");
    assert_eq!(
        e.to_string(),
        "field `value_usd`: `12.345` has fractions of a cent; expected US dollars with at most two decimal places"
    );
}
