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
            "cut short after a field",
            b"{\"date\":\"2025-06-01\", ".to_vec(),
            "invalid JSON: the document ends early (line 1, column 22)".into(),
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

/// Runs `aidf ARGS` in a fresh directory holding `files`; exit code, stdout, stderr.
fn run_in(tag: &str, files: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let dir = std::env::temp_dir().join(format!("aidf-bad-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .current_dir(&dir)
        .env_remove("AIDF_DB")
        .env_remove("AIDF_CONFIG")
        .output()
        .expect("run aidf");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A scenario whose `start` line is `start`.
fn scenario(start: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scenarios/tier2-demand.toml"
    );
    let text = std::fs::read_to_string(path).expect("scenario");
    let from = "start = \"2025-01-01\"";
    assert!(text.contains(from));
    text.replacen(from, start, 1)
}

/// A hypothetical regime whose effective date is `date` (as TOML).
fn regime(date: &str) -> String {
    format!("schema = 1\nid = \"h\"\nextends = \"ai-diffusion-2025\"\neffective_date = {date}\n")
}

/// A valid application; each case changes one thing in it.
const APPLICATION: &str = r#"{"id":"APP-1","date":"2025-06-02","destination":"AE","consignee":{"name":"Gulf Compute LLC","hq":"AE"},"items":[{"chip":"NVIDIA H100 SXM","quantity":50}],"end_use":"deployment","applicant":{"name":"Acme Exports Inc","country":"US"},"end_users":[{"name":"Gulf Compute LLC","country":"AE"}]}"#;

/// A case: its name, the files in the directory, the arguments, the stderr line wanted.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>, String);

/// The other inputs (options, fleet, application and scenario files, output paths, ledgers): one
/// plain line on stderr naming the option or field, the value and what was expected; exit 2.
#[test]
fn other_bad_inputs_give_one_plain_line() {
    let u64_max = u64::MAX;
    let bad_date_app = APPLICATION.replace("2025-06-02", "2025-13-02");
    let scenario_int = scenario("start = 2025");
    let scenario_bad = scenario("start = \"1 January 2025\"");
    let regime_int = regime("2025");
    let regime_month = regime("\"2025-13-01\"");
    let regime_words = regime("\"1 Jan 2025\"");
    let cases: Vec<Case> = vec![
        (
            "regime date an integer",
            vec![("r.toml", regime_int.as_str())],
            vec!["--regime-file", "r.toml", "regimes", "list"],
            "policy file `r.toml`, line 4: field `effective_date`: `2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            "regime date not in the calendar",
            vec![("r.toml", regime_month.as_str())],
            vec!["--regime-file", "r.toml", "regimes", "list"],
            "policy file `r.toml`, line 4: field `effective_date`: `2025-13-01` is not a calendar date".into(),
        ),
        (
            "regime date in words",
            vec![("r.toml", regime_words.as_str())],
            vec!["--regime-file", "r.toml", "regimes", "list"],
            "policy file `r.toml`, line 4: field `effective_date`: `1 Jan 2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            "scenario file missing",
            vec![],
            vec!["simulate", "nope.toml", "--out", "sim"],
            "scenario `nope.toml`: does not exist; expected a scenario TOML file".into(),
        ),
        (
            "batch file missing",
            vec![],
            vec!["batch", "nope.csv", "-o", "out.csv"],
            "file `nope.csv`: does not exist; expected a CSV or JSON-lines file (or `-` for standard input)".into(),
        ),
        (
            "classify zero quantity",
            vec![],
            vec!["classify", "--chip", "H100 SXM", "--quantity", "0"],
            format!("option `--quantity`: `0` is not a positive whole number of chips; expected an integer from 1 to {u64_max}"),
        ),
        (
            "classify quantity not a number",
            vec![],
            vec!["classify", "--chip", "H100 SXM", "--quantity", "x"],
            format!("option `--quantity`: `x` is not a positive whole number of chips; expected an integer from 1 to {u64_max}"),
        ),
        (
            "fleet cut short",
            vec![("f.json", "{\"owner\":")],
            vec!["fleet", "check", "f.json"],
            "field `owner`: invalid JSON: the document ends early (line 1, column 9)".into(),
        ),
        (
            "fleet sites not a list",
            vec![("f.json", "{\"owner\":\"x\",\"sites\":3}")],
            vec!["fleet", "check", "f.json"],
            "field `sites`: `3` is not an array".into(),
        ),
        (
            "application date not in the calendar",
            vec![("a.json", bad_date_app.as_str())],
            vec!["application", "submit", "a.json", "--db", "aidf.db"],
            "field `date`: `2025-13-02` is not a calendar date".into(),
        ),
        (
            "scenario start not a date",
            vec![("s.toml", scenario_int.as_str())],
            vec!["simulate", "s.toml", "--no-charts"],
            "s.toml:18:9: field `start`: `2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            "scenario start in words",
            vec![("s.toml", scenario_bad.as_str())],
            vec!["simulate", "s.toml", "--no-charts"],
            "s.toml:18:9: field `start`: `1 January 2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            "simulate onto a file",
            vec![("taken", "")],
            vec!["simulate", concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/tier2-demand.toml"), "--out", "taken"],
            "option `--out`: `taken` is a file; expected a directory (new or existing)".into(),
        ),
        (
            "input file missing",
            vec![],
            vec!["check", "missing.json"],
            "file `missing.json`: does not exist; expected a file (or `-` for standard input)".into(),
        ),
        (
            "input file a directory",
            vec![],
            vec!["check", "."],
            "file `.`: is a directory; expected a file (or `-` for standard input)".into(),
        ),
        (
            "weights flag a number",
            vec![("w.json", r#"{"training_ops": 3e26, "published": 1}"#)],
            vec!["weights", "classify", "w.json"],
            "field `published`: `1` is not true or false".into(),
        ),
        (
            "license conditions with a number for a kind",
            vec![("c.json", r#"[{"kind": 1}]"#)],
            vec!["license", "amend", "L-1", "--conditions", "c.json", "--date", "2025-07-01"],
            "option `--conditions`: field `[0].kind`: `1` is not a string".into(),
        ),
        (
            "license conditions not a list",
            vec![("c.json", r#"{"kind": "text"}"#)],
            vec!["license", "amend", "L-1", "--conditions", "c.json", "--date", "2025-07-01"],
            "option `--conditions`: the input must be a JSON array (license conditions)".into(),
        ),
        (
            "read-only command on a missing ledger",
            vec![],
            vec!["ledger", "accounts", "--db", "missing.db"],
            "option `--db`: `missing.db` does not exist; a command that only reads does not create a ledger".into(),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, files, args, want) in cases {
        let tag = name.replace(' ', "-");
        let (code, _, stderr) = run_in(&tag, &files, &args);
        let want = format!("error: {want}\n");
        if code != Some(2) || stderr != want {
            wrong.push(format!(
                "{name}: exit {code:?}\n  got:  {stderr}  want: {want}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A batch CSV with bad rows: each row's error names the row, the column and the value; the good
/// rows are determined.
#[test]
fn batch_bad_rows_name_row_and_column() {
    let csv = "date,destination,consignee_name,consignee_hq,chip,quantity\n\
               2025-06-01,MY,Acme,MY,H100 SXM,10\n\
               2025-13-01,MY,Acme,MY,H100 SXM,10\n\
               2025-06-01,MY,Acme,MY,H100 SXM,x\n\
               2025-06-01,XX,Acme,MY,H100 SXM,10\n";
    let (code, _, stderr) = run_in(
        "batch",
        &[("b.csv", csv)],
        &["batch", "b.csv", "--out", "out.csv"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let out = std::env::temp_dir().join(format!("aidf-bad-batch-{}/out.csv", std::process::id()));
    let stdout = std::fs::read_to_string(out).expect("batch output");
    let rows: Vec<(String, String, String)> = csv::Reader::from_reader(stdout.as_bytes())
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| {
            let r = r.expect("row");
            (
                r["row"].clone(),
                r["error_field"].clone(),
                r["error"].clone(),
            )
        })
        .collect();
    let want = [
        ("1", "", ""),
        (
            "2",
            "date",
            "field `date`: `2025-13-01` is not a calendar date",
        ),
        (
            "3",
            "quantity",
            "field `quantity`: `x` is not a whole number of units",
        ),
        (
            "4",
            "destination",
            "field `destination`: unknown country code `XX`",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(rows, want);
}
