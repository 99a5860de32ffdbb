//! `aidf fleet …` and `aidf weights …` end to end: one happy path per subcommand, and bad input
//! giving exit code 2 with a one-line message that names the field.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn aidf(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aidf"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("aidf runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("aidf finishes")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/fleet")
        .join(name)
        .display()
        .to_string()
}

fn json_ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Exit code 2, one line on stderr starting `error:` and containing `needle`, nothing on stdout.
fn bad(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_case7_fails_only_the_us_share() {
    let v = json_ok(&aidf(
        &["fleet", "check", &example("uveu-us-hq.json"), "--json"],
        None,
    ));
    assert_eq!(v["compliant"], false);
    let codes: Vec<&str> = v["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|x| x["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["us_share_below_50pct"]);
    assert_eq!(v["violations"][0]["share"]["fraction"], "2/5");
    assert_eq!(v["violations"][0]["share"]["decimal"], 0.4);
    assert_eq!(v["violations"][0]["limit"]["pct"], 50);
    assert_eq!(v["shares"]["tier1"]["fraction"], "4/5");
    assert_eq!(v["shares"]["countries"]["IN"]["fraction"], "3/50");
    assert_eq!(v["regime"]["id"], "ai-diffusion-h200-2026");
    assert!(
        v["regime"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    // The share base ("total AI computing power") is an unconfirmed reading, and is reported.
    assert!(
        v["assumptions"]
            .as_array()
            .expect("assumptions")
            .iter()
            .any(|a| a["switch"] == "uveu_share_base")
    );
}

#[test]
fn check_case6_nveu_reports_the_schedule_and_its_assumption() {
    let v = json_ok(&aidf(
        &["fleet", "check", &example("nveu-uae.json"), "--json"],
        None,
    ));
    assert_eq!(v["compliant"], false);
    assert_eq!(v["violations"][0]["code"], "nveu_schedule_exceeded");
    assert_eq!(v["violations"][0]["limit"]["tpp"], 1_583_200_000u64);
    assert_eq!(v["assumptions"][0]["switch"], "nveu_schedule_reading");
    // Human output, too.
    let out = aidf(&["fleet", "check", &example("nveu-uae.json")], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("NOT compliant"), "{text}");
}

#[test]
fn check_reads_csv_with_header_flags_and_stdin() {
    let args = [
        "--owner",
        "Beispiel GmbH",
        "--hq",
        "DE",
        "--kind",
        "uveu",
        "--date",
        "2026-03-31",
        "--json",
    ];
    let file = example("uveu-de-hq.csv");
    let mut a = vec!["fleet", "check", file.as_str()];
    a.extend(args);
    let v = json_ok(&aidf(&a, None));
    assert_eq!(v["compliant"], true);
    assert_eq!(v["sites_not_yet_online"][0], "riyadh-1");
    let csv = std::fs::read_to_string(&file).expect("example");
    let mut a = vec!["fleet", "check", "-", "--format", "csv"];
    a.extend(args);
    let v2 = json_ok(&aidf(&a, Some(&csv)));
    assert_eq!(v, v2);
}

#[test]
fn headroom_in_whole_chips_and_raised_by_tier1() {
    let args = |file: &str| {
        vec![
            "fleet".to_string(),
            "headroom".into(),
            file.into(),
            "--owner".into(),
            "Beispiel GmbH".into(),
            "--hq".into(),
            "DE".into(),
            "--kind".into(),
            "uveu".into(),
            "--date".into(),
            "2026-03-31".into(),
            "--country".into(),
            "IN".into(),
            "--chip".into(),
            "b200".into(),
            "--json".into(),
        ]
    };
    let file = example("uveu-de-hq.csv");
    let a = args(&file);
    let v = json_ok(&aidf(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    ));
    assert_eq!(v["feasible"], true);
    assert_eq!(v["binding"]["code"], "tier2_country_above_7pct");
    assert_eq!(v["binding"]["country"], "IN");
    let tpp = v["tpp_headroom"].as_u64().expect("bounded");
    let chips = v["chip"]["chips_headroom"].as_u64().expect("bounded");
    let per = v["chip"]["tpp_per_chip"].as_u64().expect("per chip");
    assert!(chips * per <= tpp && tpp < (chips + 1) * per);
    // 100,000,000 more TPP in Japan (Tier 1) raises India's headroom.
    let csv = std::fs::read_to_string(&file).expect("example") + "tokyo-2,JP,100000000,,,,\n";
    let mut a = args("-");
    a.extend(["--format".into(), "csv".into()]);
    let v2 = json_ok(&aidf(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&csv),
    ));
    assert!(v2["tpp_headroom"].as_u64().expect("bounded") > tpp);
}

#[test]
fn plan_reports_first_break_and_fix() {
    let v = json_ok(&aidf(
        &["fleet", "plan", &example("uveu-plan.json"), "--json"],
        None,
    ));
    assert_eq!(v["compliant_throughout"], false);
    let b = &v["first_break"];
    assert_eq!(b["date"], "2026-06-01");
    assert_eq!(b["sites_online"][0], "mumbai-2");
    assert_eq!(b["violations"][0]["code"], "tier1_share_below_75pct");
    assert_eq!(b["violations"][1]["code"], "tier2_country_above_7pct");
    assert_eq!(b["fix"]["country"], "US");
    // IN at 170M of 1.1e9: ceil((100·170e6 − 7·1.1e9) / 7) = 1,328,571,429.
    assert_eq!(b["fix"]["tpp_min"], 1_328_571_429u64);
    let out = aidf(&["fleet", "plan", &example("uveu-plan.json")], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("breaks on 2026-06-01"));
}

#[test]
fn weights_classify_from_file_and_flags() {
    let v = json_ok(&aidf(
        &[
            "weights",
            "classify",
            &example("weights-fine-tune.json"),
            "--date",
            "2026-03-31",
            "--json",
        ],
        None,
    ));
    assert_eq!(v["controlled"], true);
    assert_eq!(v["eccn"], "4E091");
    assert_eq!(v["counted_ops"], "1.3e26");
    assert_eq!(v["reasons"][0]["rule"], "weights.derived_exceeds");
    assert!(
        v["reasons"][0]["citation"]
            .as_str()
            .is_some_and(|c| c.contains("742.6"))
    );
    let v = json_ok(&aidf(
        &[
            "weights",
            "classify",
            "--training-ops",
            "8e25",
            "--synthetic-share-pct",
            "15",
            "--synthetic-generation-ops",
            "5e24",
            "--synthetic-generator-training-ops",
            "2e25",
            "--date",
            "2026-03-31",
            "--json",
        ],
        None,
    ));
    assert_eq!(v["controlled"], true);
    assert_eq!(v["counted_ops"], "1.05e26");
    // As enforced, the diffusion rule (and 4E091) is not applied.
    let v = json_ok(&aidf(
        &[
            "weights",
            "classify",
            "--training-ops",
            "3e26",
            "--date",
            "2026-03-31",
            "--posture",
            "as-enforced",
            "--json",
        ],
        None,
    ));
    assert_eq!(v["controlled"], false);
    assert_eq!(v["reasons"][0]["rule"], "weights.not_in_regime");
}

const FLEET_HEAD: &str = r#""owner": "X", "hq": "US", "kind": "uveu", "date": "2026-03-31""#;

fn fleet_check_stdin(sites: &str) -> Output {
    aidf(
        &["fleet", "check", "-"],
        Some(&format!(r#"{{{FLEET_HEAD}, "sites": [{sites}]}}"#)),
    )
}

#[test]
fn bad_fleet_input_exits_2_naming_the_field() {
    bad(
        &fleet_check_stdin(r#"{"id": "a", "country": "US", "tpp": -5}"#),
        "field `sites[0].tpp`: must not be negative, got `-5`",
    );
    bad(
        &fleet_check_stdin(r#"{"id": "a", "country": "XX", "tpp": 5}"#),
        "field `sites[0].country`: unknown country code `XX`",
    );
    bad(
        &fleet_check_stdin(r#"{"id": "a", "country": "US", "chip": "Z9000", "quantity": 1}"#),
        "field `sites[0].chip`: unknown chip `Z9000`",
    );
    bad(
        &fleet_check_stdin(r#"{"id": "a", "country": "US", "chip": "H100 SXM", "quantity": -1}"#),
        "field `sites[0].quantity`: must not be negative, got `-1`",
    );
    bad(
        &fleet_check_stdin(r#"{"id": "a", "tpp": 5}"#),
        "field `sites[0].country`: required but missing",
    );
    bad(
        &aidf(&["fleet", "check", "-"], Some(r#"{"owner": "X", "hq": "#)),
        "field `hq`: invalid JSON: the document ends early (line 1, column 21)",
    );
    bad(
        &aidf(
            &["fleet", "check", "-"],
            Some(
                r#"{"owner": "X", "hq": "US", "kind": "uveu", "date": "2024-01-01", "sites": [{"id": "a", "country": "US", "tpp": 5}]}"#,
            ),
        ),
        "regime `ac-2023` has no data center VEU rules",
    );
    bad(
        &aidf(
            &["fleet", "check", "-"],
            Some(
                r#"{"owner": "X", "hq": "US", "kind": "uveu", "date": "2026-01-01", "sites": []}"#,
            ),
        ),
        "field `sites`: the fleet has no sites",
    );
    bad(
        &aidf(
            &["fleet", "check", "-", "--regime", "nope"],
            Some(&format!(
                r#"{{{FLEET_HEAD}, "sites": [{{"id": "a", "country": "US", "tpp": 5}}]}}"#
            )),
        ),
        "option `--regime`: unknown regime `nope`",
    );
    // The fleet's date before the timeline: the selection's own message (field `date`, where
    // the timeline starts), as every other command says it.
    bad(
        &aidf(
            &["fleet", "check", "-"],
            Some(
                r#"{"owner": "X", "hq": "US", "kind": "uveu", "date": "2021-01-01", "sites": [{"id": "a", "country": "US", "tpp": 5}]}"#,
            ),
        ),
        "field `date`: no regime is in force on 2021-01-01 under posture as_written (the timeline starts on 2022-08-26)",
    );
}

#[test]
fn bad_csv_and_flags_exit_2() {
    let head = [
        "--owner",
        "X",
        "--hq",
        "US",
        "--kind",
        "uveu",
        "--date",
        "2026-03-31",
    ];
    let run = |csv: &str| {
        let mut a = vec!["fleet", "check", "-", "--format", "csv"];
        a.extend(head);
        aidf(&a, Some(csv))
    };
    bad(
        &run("id,country,tpp\na,US,10\nb,IN,-3\n"),
        "line 3, field `tpp`: must not be negative, got `-3`",
    );
    bad(
        &run("id,country,tpp\na,US,ten\n"),
        "line 2, field `tpp`: `ten` is not a number",
    );
    bad(
        &run("id,country,tpp\na,QQ,10\n"),
        "line 2, field `country`: unknown country code `QQ`",
    );
    bad(
        &run("id,nation,tpp\na,US,10\n"),
        "line 1: unknown column `nation`",
    );
    bad(
        &aidf(
            &["fleet", "check", "-", "--format", "csv"],
            Some("id,country\n"),
        ),
        "option `--owner`: required for CSV input",
    );
    bad(
        &aidf(
            &[
                "fleet",
                "headroom",
                &example("uveu-us-hq.json"),
                "--country",
                "ZZ",
            ],
            None,
        ),
        "option `--country`: unknown country code `ZZ`",
    );
    bad(
        &aidf(
            &[
                "fleet",
                "headroom",
                &example("uveu-us-hq.json"),
                "--country",
                "IN",
                "--chip",
                "nope-9",
            ],
            None,
        ),
        "option `--chip`: unknown chip `nope-9`",
    );
    bad(
        &aidf(&["fleet", "check", "/nonexistent/fleet.json"], None),
        "file `/nonexistent/fleet.json`: does not exist",
    );
}

#[test]
fn bad_weights_input_exits_2() {
    bad(
        &aidf(
            &[
                "weights",
                "classify",
                "--training-ops",
                "-1e26",
                "--date",
                "2026-03-31",
            ],
            None,
        ),
        "option `--training-ops`: must not be negative",
    );
    bad(
        &aidf(
            &[
                "weights",
                "classify",
                "--training-ops",
                "lots",
                "--date",
                "2026-03-31",
            ],
            None,
        ),
        "option `--training-ops`: `lots` is not a number",
    );
    bad(
        &aidf(
            &["weights", "classify", "-", "--date", "2026-03-31"],
            Some(r#"{"training_ops": "3e26", "synthetic_share_pct": 150}"#),
        ),
        "field `synthetic_share_pct`: must be a percentage",
    );
    bad(
        &aidf(
            &["weights", "classify", "-", "--date", "2026-03-31"],
            Some(r#"{"training_opz": 1}"#),
        ),
        "field `training_opz`: unknown field; expected one of training_ops,",
    );
    bad(
        &aidf(&["weights", "classify", "--date", "2026-03-31"], None),
        "option `--training-ops`: required",
    );
}
