//! 15 CFR 750.11 (shipping tolerances), read in the regulation's text: the value of all shipments
//! under one license, up to its full quantity, may exceed the license's value by up to 10 %
//! (`<=`), unless the license stipulates another tolerance; once the full quantity has shipped no
//! further shipment may be made. The percentage is policy data (`policy/licensing.toml`).

use aidf_service::licenses::{ToleranceRefusal, check_value_tolerance, licensing};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

#[test]
fn the_policy_reads_ten_percent_on_value_and_none_on_quantity_from_the_primary_text() {
    let t = licensing()
        .expect("policy/licensing.toml")
        .shipping_tolerance;
    assert_eq!(t.value_percent, dec("10"), "15 CFR 750.11(b)");
    assert!(!t.quantity_tolerance, "15 CFR 750.11(a)");
    assert_eq!(
        (t.citation.as_str(), t.confidence.as_str()),
        ("15 CFR 750.11", "P")
    );
    assert_eq!(t.exceptions.len(), 2, "750.11(b)(1) and (b)(2)");
}

/// (licensed USD, shipped before, this shipment, (units shipped, units cap), stipulated %,
/// allowed?)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    (u64, u64),
    Option<&'static str>,
    bool,
);

#[test]
fn value_boundaries_of_the_tolerance() {
    let t = licensing().expect("policy").shipping_tolerance;
    // Source: 15 CFR 750.11(b) ("by up to 10%"), (b)(1) (a stipulated tolerance).
    let table: [Case; 8] = [
        ("1000000.00", "0", "1100000.00", (0, 10), None, true),
        ("1000000.00", "0", "1100000.01", (0, 10), None, false),
        ("1000000.00", "600000.00", "500000.00", (6, 10), None, true),
        ("1000000.00", "600000.00", "500000.01", (6, 10), None, false),
        ("1000000.00", "0", "999999.99", (0, 10), None, true),
        ("1000000.00", "0", "1050000.00", (0, 10), Some("5"), true),
        ("1000000.00", "0", "1050000.01", (0, 10), Some("5"), false),
        ("0.03", "0", "0.033", (0, 1), None, true),
    ];
    for (licensed, shipped, shipment, units, stipulated, allowed) in table {
        let got = check_value_tolerance(
            &t,
            dec(licensed),
            dec(shipped),
            dec(shipment),
            units,
            stipulated.map(dec),
        );
        assert_eq!(
            got.is_ok(),
            allowed,
            "{licensed} {shipped} {shipment} {stipulated:?}: {got:?}"
        );
    }
}

#[test]
fn a_refusal_names_the_tolerance_and_the_numbers() {
    let t = licensing().expect("policy").shipping_tolerance;
    let e = check_value_tolerance(
        &t,
        dec("1000000.00"),
        dec("600000.00"),
        dec("500000.01"),
        (6, 10),
        None,
    )
    .expect_err("over");
    assert_eq!(
        e.to_string(),
        "value: 600000.00 USD shipped + 500000.01 USD = 1100000.01 USD would exceed the license's 1000000.00 USD plus the 10 % shipping tolerance of 15 CFR 750.11(b) (1100000.00 USD)"
    );
}

#[test]
fn no_tolerance_once_the_full_quantity_has_shipped() {
    let t = licensing().expect("policy").shipping_tolerance;
    let e = check_value_tolerance(&t, dec("100"), dec("50"), dec("1"), (10, 10), None)
        .expect_err("quantity shipped");
    assert!(matches!(
        e,
        ToleranceRefusal::QuantityShipped { units_cap: 10, .. }
    ));
    assert!(
        e.to_string()
            .contains("15 CFR 750.11(a) allows no further shipment"),
        "{e}"
    );
}

#[test]
fn values_beyond_the_decimal_range_are_a_field_error() {
    let t = licensing().expect("policy").shipping_tolerance;
    let e = check_value_tolerance(&t, Decimal::MAX, dec("0"), dec("1"), (0, 1), None)
        .expect_err("overflow");
    assert_eq!(
        e.to_string(),
        "field `license value_usd`: the value is too large to compute exactly"
    );
}
