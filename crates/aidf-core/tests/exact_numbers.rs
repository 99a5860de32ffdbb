//! Exact numbers end to end (issue 13 item 6, issue 12 item 9): JSON numbers are read from their
//! text, never through `f64`; every "more than" / "at least" boundary of 4E091 and 3A090 holds
//! for values `f64` cannot represent; decimal overflow is a field error, never a panic; JSON input
//! is exactly one document. The inputs are raw JSON text (not built through `serde_json::Value`,
//! which would round them).

use aidf_core::{DeterminationInput, Policy, determine};

fn policy() -> Policy {
    Policy::embedded().expect("embedded policy loads")
}

/// A determination input on 2025-06-01 to France with `item` spliced in as raw JSON text.
fn input(item: &str, quantity: &str) -> String {
    format!(
        r#"{{"date":"2025-06-01","destination":"FR","consignee":{{"name":"FR SAS","hq":"FR"}},"item":{item},"quantity":{quantity},"context":{{"weights_storage_compliant":true}}}}"#
    )
}

fn answer(text: &str) -> serde_json::Value {
    let i = DeterminationInput::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let d = determine(&policy(), &i).unwrap_or_else(|e| panic!("{text}: {e}"));
    serde_json::to_value(&d).expect("serialize")
}

fn weights(body: &str) -> serde_json::Value {
    answer(&input(
        &format!(r#"{{"model_weights":{{{body}}}}}"#),
        "null",
    ))
}

#[test]
fn json_numbers_are_read_from_their_text() {
    let i =
        DeterminationInput::from_json(&input(r#"{"tpp":4799.99999999999999999999,"pd":1}"#, "1"))
            .expect("parses");
    assert_eq!(
        i.item.tpp.expect("tpp").to_string(),
        "4799.99999999999999999999"
    );
    let i = DeterminationInput::from_json(&input(
        r#"{"model_weights":{"training_ops":1.3e26,"derived_from_published_ops":1.04E+26}}"#,
        "null",
    ))
    .expect("parses");
    let w = i.item.model_weights.expect("weights");
    assert_eq!(
        w.training_ops.expect("ops").to_string(),
        "130000000000000000000000000"
    );
    assert_eq!(
        w.derived_from_published_ops.expect("base").to_string(),
        "104000000000000000000000000"
    );
}

#[test]
fn derived_model_at_exactly_a_quarter_more_is_not_controlled() {
    // 1.04e26 + 2.6e25 = 1.3e26: the extra training equals 25 % of the base, not more (Note 1 to
    // 4E091, rule-facts §14.7).
    let v = weights(r#""training_ops":1.3e26,"derived_from_published_ops":1.04e26"#);
    assert_eq!(v["authorization"], "not_controlled", "{v}");
    assert_eq!(v["eccn"], serde_json::Value::Null);
    // One operation more is more than 25 %.
    let v = weights(
        r#""training_ops":130000000000000000000000001,"derived_from_published_ops":1.04e26"#,
    );
    assert_eq!(v["eccn"], "4E091", "{v}");
}

#[test]
fn derived_model_at_the_absolute_floor() {
    // max(2.5e25, 25 % of 1e26) = 2.5e25: equal is not more; one more operation is.
    let v = weights(r#""training_ops":1.25e26,"derived_from_published_ops":1e26"#);
    assert_eq!(v["authorization"], "not_controlled", "{v}");
    let v =
        weights(r#""training_ops":125000000000000000000000001,"derived_from_published_ops":1e26"#);
    assert_eq!(v["eccn"], "4E091", "{v}");
}

#[test]
fn weights_threshold_is_at_least_ten_to_the_twenty_six() {
    // 10^26 or more operations: 1e26 - 0.1 (which f64 reads as 1e26) is below.
    let v = weights(r#""training_ops":99999999999999999999999999.9"#);
    assert_eq!(v["authorization"], "not_controlled", "{v}");
    let v = weights(r#""training_ops":1e26"#);
    assert_eq!(v["eccn"], "4E091", "{v}");
}

#[test]
fn tpp_and_pd_boundaries_hold_beyond_f64() {
    // (item, paragraph, whether the item must be in that paragraph).
    let cases = [
        // 3A090.a.1: TPP 4,800 or more.
        (
            r#"{"tpp":4799.99999999999999999999,"pd":1}"#,
            "3A090.a.1",
            false,
        ),
        (r#"{"tpp":4800,"pd":1}"#, "3A090.a.1", true),
        // 3A090.a.2: TPP 1,600 or more and PD 5.92 or more.
        (
            r#"{"tpp":1600,"pd":5.91999999999999999999999}"#,
            "3A090.a.2",
            false,
        ),
        (r#"{"tpp":1600,"pd":5.92}"#, "3A090.a.2", true),
        // Through the die area: 1600 / 270.27027027027027027027 is a hair above 5.92 ...
        (
            r#"{"tpp":1600,"die_area_mm2":270.27027027027027027027}"#,
            "3A090.a.2",
            true,
        ),
        // ... and a hair larger area is below it.
        (
            r#"{"tpp":1600,"die_area_mm2":270.27027027027027027028}"#,
            "3A090.a.2",
            false,
        ),
        // 3A090.b.1: TPP 2,400 or more (PD 1.6 or more, below 5.92).
        (
            r#"{"tpp":2399.99999999999999999999,"pd":2}"#,
            "3A090.b.1",
            false,
        ),
        (r#"{"tpp":2400,"pd":1.6}"#, "3A090.b.1", true),
    ];
    for (item, paragraph, inside) in cases {
        let v = answer(&input(item, "1"));
        assert_eq!(v["item"]["paragraph"] == paragraph, inside, "{item}: {v}");
    }
}

#[test]
fn overflow_is_a_field_error_not_a_panic() {
    let p = policy();
    let err = |text: &str| {
        let i = match DeterminationInput::from_json(text) {
            Ok(i) => i,
            Err(e) => return e.to_string(),
        };
        determine(&p, &i)
            .map(|_| String::from("ok"))
            .unwrap_or_else(|e| e.to_string())
    };
    // TPP / die area beyond Decimal's range.
    let e = err(&input(r#"{"tpp":4800,"die_area_mm2":1e-28}"#, "1"));
    assert!(e.contains("die_area_mm2"), "{e}");
    // A number beyond Decimal's range names its field.
    let e = err(&input(r#"{"tpp":1e30,"pd":1}"#, "1"));
    assert!(e.contains("item.tpp") && e.contains("out of range"), "{e}");
    // More places than a decimal holds exactly is an error, not a rounding.
    let e = err(&input(
        r#"{"tpp":1.00000000000000000000000000001,"pd":1}"#,
        "1",
    ));
    assert!(e.contains("item.tpp"), "{e}");
    // Rates whose TPP leaves the range (`aidf classify --tops 7e28 --bits 256`).
    let r = aidf_core::classify::Rate {
        precision: None,
        dense_tops: aidf_core::num::parse_decimal("7e28").expect("7e28"),
        bits: 256,
    };
    let m =
        aidf_core::classify::Metrics::from_rates(&[r], None, aidf_core::classify::Datacenter::Yes);
    assert!(m.is_err(), "{m:?}");
}

#[test]
fn json_input_is_exactly_one_document() {
    let one = input(r#"{"chip":"H100 SXM"}"#, "1");
    assert!(DeterminationInput::from_json(&one).is_ok());
    assert!(DeterminationInput::from_json(&format!("{one}\n  \n")).is_ok());
    for text in [
        format!("{one}{one}"),
        format!("{one}GARBAGE"),
        format!("{one} 5"),
    ] {
        let e = DeterminationInput::from_json(&text).expect_err(&text);
        let shown = e.to_string();
        assert!(
            shown.contains("trailing") && shown.contains("column"),
            "{text}: {shown}"
        );
    }
}
