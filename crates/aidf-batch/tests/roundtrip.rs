//! The CSV form round-trips to the JSON contract: input → CSV row → input is the identity, and so
//! is CSV row → input → CSV row, on generated books; JSON-only fields are refused by name.

use aidf_batch::generate::Generator;
use aidf_batch::row::{Header, INPUT_COLUMNS, input_to_record, record_to_input};
use aidf_core::{DeterminationInput, Policy};

#[test]
fn generated_rows_round_trip_through_csv() {
    let policy = Policy::embedded().expect("policy");
    let mut g = Generator::new(&policy, 3);
    let header = Header::full();
    for _ in 0..3000 {
        let (id, input) = g.order();
        let cells = input_to_record(Some(&id), &input).expect("has a CSV form");
        let rec = csv::StringRecord::from(cells.clone());
        let (id2, back) = record_to_input(&header, &rec).expect("parses");
        assert_eq!(id2.as_deref(), Some(id.as_str()));
        assert_eq!(back, input);
        // And through JSON: the contract's own text parses to the same input.
        let json = serde_json::to_string(&back).expect("json");
        assert_eq!(
            DeterminationInput::from_json(&json).expect("contract"),
            input
        );
        assert_eq!(input_to_record(Some(&id), &back).expect("again"), cells);
    }
}

#[test]
fn json_only_fields_are_refused_by_name() {
    let input = DeterminationInput::from_json(
        r#"{"date":"2025-06-01","destination":"US","consignee":{"name":"X","hq":"US"},
            "item":{"model_weights":{"training_ops":3e26,"synthetic_share_pct":20}}}"#,
    )
    .expect("parses");
    let e = input_to_record(None, &input).expect_err("no column");
    assert_eq!(e.field, "item.model_weights.synthetic_share_pct");
}

#[test]
fn header_errors_name_the_column() {
    let e = Header::new([
        "date",
        "destination",
        "consignee_name",
        "consignee_hq",
        "qty",
    ])
    .expect_err("unknown");
    assert!(e.to_string().contains("`qty`"), "{e}");
    let e = Header::new(["date", "destination", "consignee_name"]).expect_err("missing");
    assert!(e.to_string().contains("`consignee_hq`"), "{e}");
    assert_eq!(INPUT_COLUMNS.len(), 40);
}
