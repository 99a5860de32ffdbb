//! Issue 16: a bad determination input gives exit code 2 and one plain line on stderr naming the
//! field, the value as written and what was expected, never a parser's internals.

use std::process::{Command, Output};

/// A valid input; each case below changes one thing in it.
const GOOD: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"Acme","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#;

/// The largest quantity the contract accepts (a signed 64-bit count).
const MAX: i64 = i64::MAX;

fn check_file(name: &str, bytes: &[u8]) -> Output {
    let dir = std::env::temp_dir().join(format!("aidf-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(name), bytes).expect("write input");
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(["check", name])
        .current_dir(&dir)
        .output()
        .expect("run aidf")
}

fn changed(from: &str, to: &str) -> Vec<u8> {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1).into_bytes()
}

#[test]
fn bad_input_gives_one_plain_line() {
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "date not ISO",
            changed("2025-06-01", "01/06/2025"),
            "field `date`: `01/06/2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            "date not in the calendar",
            changed("2025-06-01", "2025-02-30"),
            "field `date`: `2025-02-30` is not a calendar date".into(),
        ),
        (
            "quantity with an exponent",
            changed("\"quantity\":10", "\"quantity\":1e9"),
            format!("field `quantity`: `1e9` is not a whole number of units; expected an integer from 1 to {MAX}"),
        ),
        (
            "quantity with a fraction",
            changed("\"quantity\":10", "\"quantity\":2.5"),
            format!("field `quantity`: `2.5` is not a whole number of units; expected an integer from 1 to {MAX}"),
        ),
        (
            "negative quantity",
            changed("\"quantity\":10", "\"quantity\":-5"),
            format!("field `quantity`: `-5` is not a positive whole number of units; expected an integer from 1 to {MAX}"),
        ),
        (
            "value in fractions of a cent",
            changed("\"quantity\":10", "\"quantity\":10,\"value_usd\":12.345"),
            "field `value_usd`: `12.345` has fractions of a cent; expected US dollars with at most two decimal places".into(),
        ),
        (
            "end user's country unknown",
            changed("\"quantity\":10", "\"quantity\":10,\"end_user\":{\"name\":\"X\",\"country\":\"QQ\"}"),
            "field `end_user.country`: unknown country code `QQ`".into(),
        ),
        (
            "end user without a name",
            changed("\"quantity\":10", "\"quantity\":10,\"end_user\":{\"country\":\"MY\"}"),
            "field `end_user.name`: required but missing".into(),
        ),
        (
            "negative value",
            changed("\"quantity\":10", "\"quantity\":10,\"value_usd\":\"-1.00\""),
            "field `value_usd`: `-1.00` is negative; expected US dollars".into(),
        ),
        (
            "value not a number",
            changed("\"quantity\":10", "\"quantity\":10,\"value_usd\":true"),
            "field `value_usd`: `true` is not a number; expected a number (or a string holding one such as \"2.5e25\")".into(),
        ),
        (
            "zero quantity",
            changed("\"quantity\":10", "\"quantity\":0"),
            format!("field `quantity`: `0` is not a positive whole number of units; expected an integer from 1 to {MAX}"),
        ),
        (
            "an array",
            b"[]".to_vec(),
            "the input must be a JSON object (a determination input), not an array".into(),
        ),
        (
            "a string",
            b"\"x\"".to_vec(),
            "the input must be a JSON object (a determination input), not a string".into(),
        ),
        (
            "unknown country",
            changed("\"destination\":\"MY\"", "\"destination\":\"XX\""),
            "field `destination`: unknown country code `XX`".into(),
        ),
        (
            "missing consignee",
            changed("\"consignee\":{\"name\":\"Acme\",\"hq\":\"MY\"},", ""),
            "field `consignee`: required but missing".into(),
        ),
        (
            "chip is a number",
            changed("\"chip\":\"H100 SXM\"", "\"chip\":42"),
            "field `item.chip`: `42` is not a string".into(),
        ),
        (
            "unknown posture",
            changed("{\"date\"", "{\"posture\":\"sideways\",\"date\""),
            "field `posture`: `sideways` is not one of as-written, as-enforced".into(),
        ),
        (
            "unknown field",
            changed("\"hq\":\"MY\"}", "\"hq\":\"MY\",\"colour\":1}"),
            "field `consignee.colour`: unknown field; expected one of name, hq, parent_hq, veu, listed, entity_list, government, meu_listed, listed_owners_share_pct".into(),
        ),
        (
            "two documents",
            format!("{GOOD}{GOOD}").into_bytes(),
            format!("invalid JSON: trailing characters (line 1, column {}); the input must be exactly one JSON document", GOOD.len() + 1),
        ),
        (
            "cut short",
            b"{\"date\": ".to_vec(),
            "field `date`: invalid JSON: the document ends early (line 1, column 9)".into(),
        ),
        (
            "empty file",
            Vec::new(),
            "the input is empty; expected a JSON object (a determination input)".into(),
        ),
        (
            "not UTF-8",
            b"{\"date\":\"\xff\"}".to_vec(),
            "file `not-utf-8.json`: not UTF-8 text (byte 9); expected a JSON document in UTF-8".into(),
        ),
    ];
    for (name, input, want) in cases {
        let out = check_file(
            &format!("{}.json", name.replace(' ', "-").to_lowercase()),
            &input,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr, format!("error: {want}\n"), "{name}");
    }
}

/// An unknown chip names the chip once and offers the nearest catalog names.
#[test]
fn unknown_chip_names_it_once() {
    let out = check_file("unknown-chip.json", &changed("H100 SXM", "Z9000"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: field `item.chip`: unknown chip `Z9000`; nearest: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Z9000").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
