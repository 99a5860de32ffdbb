//! `aidf regimes list|show|diff`, `aidf classify --all-regimes` (status migrations),
//! `aidf classify --foundry`, hypothetical regime files and their errors, `aidf check --regime`.

use std::process::{Command, Output};

fn aidf(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidf"));
    c.args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn aidf");
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(s.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_ok(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn bad(out: &Output, want: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(want), "stderr `{err}` lacks `{want}`");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
}

#[test]
fn show_prints_the_regime_as_text_and_its_stored_values_with_json() {
    let out = aidf(&["regimes", "show", "ai-diffusion-2025"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    // Issue 16: text by default (whole numbers grouped), the stored values with `--json`.
    assert!(
        serde_json::from_str::<serde_json::Value>(&shown).is_err(),
        "{shown}"
    );
    insta::assert_snapshot!("show_ai_diffusion_2025", shown);
    let v = json_ok(&aidf(
        &["regimes", "show", "ai-diffusion-2025", "--json"],
        None,
    ));
    let h100 = v["spec"]["h100_tpp"].as_u64().expect("h100_tpp");
    let grouped = aidf_core::explain::thousands(u128::from(h100));
    assert!(shown.contains(&format!("h100_tpp: {grouped}\n")), "{shown}");
    assert!(
        shown.contains(v["digest"].as_str().expect("digest")),
        "{shown}"
    );
}

#[test]
fn diff_ac_2023_against_ai_diffusion_2025() {
    let out = aidf(&["regimes", "diff", "ac-2023", "ai-diffusion-2025"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("diff_ac2023_aidiffusion2025", text(&out.stdout));
    let v = json_ok(&aidf(
        &["regimes", "diff", "ac-2023", "ai-diffusion-2025", "--json"],
        None,
    ));
    let d = v["differences"].as_array().expect("array");
    let find = |p: &str| d.iter().find(|x| x["path"] == p).cloned();
    assert_eq!(
        find("scope.a_datacenter_worldwide").expect("scope")["b"],
        true
    );
    let countries = find("scope.countries").expect("countries");
    assert_eq!(countries["kind"], "list");
    assert_eq!(countries["only_b"], serde_json::json!(["AE"]));
    assert_eq!(
        find("lpp.tpp_per_consignee_year").expect("lpp")["kind"],
        "added"
    );
    let denial = find("review.denial_groups").expect("denial");
    assert_eq!(denial["only_a"], serde_json::json!(["D:5", "MO"]));
    assert!(find("classification.a1_tpp_min").is_none(), "same in both");
    // A regime against itself: nothing.
    let v = json_ok(&aidf(
        &["regimes", "diff", "ac-2023", "ac-2023", "--json"],
        None,
    ));
    assert_eq!(v["differences"], serde_json::json!([]));
    // A hypothetical against its parent: exactly the override.
    let v = json_ok(&aidf(
        &[
            "--regime-file",
            "examples/regimes/double-tier2.toml",
            "regimes",
            "diff",
            "ai-diffusion-2025",
            "double-tier2",
            "--json",
        ],
        None,
    ));
    let paths: Vec<&str> = v["differences"]
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths,
        ["allocation.tier2_tpp_cap", "confidence", "extends", "title"]
    );
}

#[test]
fn list_and_show_name_lineage_and_periods() {
    let v = json_ok(&aidf(&["regimes", "list", "--json"], None));
    let ids: Vec<&str> = v["regimes"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "informed-2022",
            "ec-2022",
            "ac-2023",
            "ac-2024-aca",
            "ac-2024-dcveu",
            "ac-2024-hbm",
            "foundry-2025",
            "h20-2025",
            "ai-diffusion-2025",
            "ai-diffusion-h200-2026",
            "h200-2026"
        ]
    );
    let v = json_ok(&aidf(&["regimes", "show", "h20-2025", "--json"], None));
    assert_eq!(v["extends"], "foundry-2025");
    assert_eq!(v["as_written"][0]["from"], "2025-04-09");
    assert_eq!(v["as_written"][0]["until"], "2025-05-15");
    assert_eq!(v["as_enforced"][0]["until"], "2026-01-15");
    let out = aidf(&["regimes", "list"], None);
    assert!(text(&out.stdout).contains("ac2023_start_date"));
    bad(
        &aidf(&["regimes", "diff", "ac-2023", "nope"], None),
        "argument `B`: unknown regime `nope`",
    );
}

fn statuses(chip: &str) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let v = json_ok(&aidf(
        &["classify", "--chip", chip, "--all-regimes", "--json"],
        None,
    ));
    v["regimes"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["regime"].as_str().expect("id").to_string(),
                r["paragraph"].clone(),
                r["notes"].clone(),
            )
        })
        .collect()
}

fn para<'a>(s: &'a [(String, serde_json::Value, serde_json::Value)], id: &str) -> &'a str {
    s.iter()
        .find(|x| x.0 == id)
        .and_then(|x| x.1.as_str())
        .unwrap_or("-")
}

#[test]
fn status_migrations() {
    // A100: controlled under 2022 (TPP 4,992 and 600 GB/s) and after.
    let a100 = statuses("A100 SXM");
    assert_eq!(para(&a100, "ec-2022"), "3A090.a");
    assert_eq!(para(&a100, "ac-2023"), "3A090.a.1");
    // A800 and H800: outside 2022 (400 GB/s), 3A090.a from 2023.
    for chip in ["A800 SXM", "H800 SXM"] {
        let s = statuses(chip);
        assert_eq!(
            para(&s, "ec-2022"),
            "not 3A090 (interconnect below the parameter)",
            "{chip}"
        );
        assert_eq!(para(&s, "ac-2023"), "3A090.a.1", "{chip}");
        assert_eq!(para(&s, "h200-2026"), "3A090.a.1", "{chip}");
    }
    // H20: never 3A090, but the 2025 China license requirement from h20-2025 on.
    let h20 = statuses("H20");
    for (id, p, notes) in &h20 {
        assert!(
            p.as_str().is_some_and(|p| p.starts_with("not 3A090")),
            "{id}"
        );
        let informed = notes.to_string().contains("is-informed `h20-2025`");
        let from_2025 = [
            "h20-2025",
            "ai-diffusion-2025",
            "ai-diffusion-h200-2026",
            "h200-2026",
        ]
        .contains(&id.as_str());
        assert_eq!(informed, from_2025, "{id}: {notes}");
    }
    // H200: case-by-case from the US under both 2026 regimes; nothing of the kind before.
    let h200 = statuses("H200 SXM");
    for (id, _, notes) in &h200 {
        let cbc = notes
            .to_string()
            .contains("case_by_case for exports from the US");
        assert_eq!(
            cbc,
            id == "h200-2026" || id == "ai-diffusion-h200-2026",
            "{id}: {notes}"
        );
    }
    // B200 (TPP 36,000) is outside the H200 parameters.
    let b200 = statuses("B200");
    let n = &b200.iter().find(|x| x.0 == "h200-2026").expect("row").2;
    assert!(
        n.to_string()
            .contains("outside the case_by_case parameters"),
        "{n}"
    );
    // The text table names every regime with its periods.
    let out = aidf(&["classify", "--chip", "A800 SXM", "--all-regimes"], None);
    let t = text(&out.stdout);
    assert!(
        t.contains("ec-2022                  2022-10-07..2023-11-17"),
        "{t}"
    );
    // Metrics without the 2022 interconnect figure: ec-2022 undetermined, named.
    let v = json_ok(&aidf(
        &[
            "classify",
            "--tops",
            "624",
            "--bits",
            "8",
            "--all-regimes",
            "--json",
        ],
        None,
    ));
    assert!(
        v["regimes"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("interconnect")),
        "{v}"
    );
    let v = json_ok(&aidf(
        &[
            "classify",
            "--tops",
            "624",
            "--bits",
            "8",
            "--interconnect",
            "600",
            "--regime",
            "ec-2022",
            "--json",
        ],
        None,
    ));
    assert_eq!(v["regimes"][0]["paragraph"], "3A090.a");
}

#[test]
fn foundry_case_10_and_routes() {
    let base = ["classify", "--foundry", "--date", "2026-03-01", "--json"];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        for (flag, default) in [
            ("--packaged-in", "JP"),
            ("--transistors", "33e9"),
            ("--designer", "none"),
            ("--node", "7"),
        ] {
            if !extra.contains(&flag) {
                args.extend_from_slice(&[flag, default]);
            }
        }
        json_ok(&aidf(&args, None))
    };
    // rule-facts §11.3 case 10: 2026, 33B, no HBM, designer not approved: not overcome.
    let v = run(&["--export-year", "2026"]);
    assert_eq!(v["outcome"]["applies"], true);
    assert_eq!(v["outcome"]["presumed_3a090a"], true);
    assert_eq!(v["outcome"]["overcome_by"], serde_json::Value::Null);
    // 2027: the 35B no-HBM threshold applies.
    let v = run(&["--export-year", "2027"]);
    assert_eq!(v["outcome"]["overcome_by"], "fabricator_packaging");
    // With HBM only 30B applies.
    let v = run(&["--export-year", "2027", "--hbm"]);
    assert_eq!(v["outcome"]["presumed_3a090a"], true);
    // 2028: the gap year reads as 30B only, and says so.
    let v = run(&["--export-year", "2028"]);
    assert_eq!(v["outcome"]["presumed_3a090a"], true);
    assert_eq!(v["outcome"]["assumptions"][0]["switch"], "foundry_gap_year");
    // 2029: 40B.
    assert_eq!(
        run(&["--export-year", "2029"])["outcome"]["presumed_3a090a"],
        false
    );
    // Packaged in China: the fabricator route is closed; an approved OSAT reopens it.
    let v = run(&["--export-year", "2027", "--packaged-in", "CN"]);
    assert_eq!(v["outcome"]["presumed_3a090a"], true);
    let v = run(&["--export-year", "2027", "--packager", "approved-osat"]);
    assert_eq!(v["outcome"]["overcome_by"], "approved_osat");
    // Designer routes: approved always, authorized only for exports through 2026.
    assert_eq!(
        run(&["--designer", "approved"])["outcome"]["overcome_by"],
        "designer"
    );
    assert_eq!(
        run(&["--designer", "authorized", "--export-year", "2026"])["outcome"]["overcome_by"],
        "designer"
    );
    assert_eq!(
        run(&[
            "--designer",
            "authorized",
            "--export-year",
            "2027",
            "--transistors",
            "36e9"
        ])["outcome"]["presumed_3a090a"],
        true
    );
    // 20 nm planar: not an applicable advanced logic IC.
    assert_eq!(run(&["--node", "20"])["outcome"]["applies"], false);
    // Before the foundry rule: no presumption.
    let v = json_ok(&aidf(
        &[
            "classify",
            "--foundry",
            "--node",
            "7",
            "--transistors",
            "33e9",
            "--designer",
            "none",
            "--date",
            "2024-06-01",
            "--json",
        ],
        None,
    ));
    assert_eq!(v["outcome"]["applies"], false);
    bad(
        &aidf(
            &[
                "classify",
                "--foundry",
                "--node",
                "7",
                "--transistors",
                "33.5",
                "--designer",
                "none",
            ],
            None,
        ),
        "option `--transistors`: `33.5` is not a whole number of transistors",
    );
}

#[test]
fn bad_regime_files_exit_2_with_file_line_and_field() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--regime-file",
                "examples/regimes/bad/unknown-field.toml",
                "regimes",
                "list",
            ],
            "policy file `examples/regimes/bad/unknown-field.toml`, line 7: field `allocation.tier2_tpp_capp`: unknown field `tier2_tpp_capp`",
        ),
        (
            &[
                "--regime-file",
                "examples/regimes/bad/cycle-a.toml",
                "--regime-file",
                "examples/regimes/bad/cycle-b.toml",
                "regimes",
                "list",
            ],
            "line 2: field `extends`: cycle cycle-a -> cycle-b -> cycle-a",
        ),
        (
            &[
                "--regime-file",
                "examples/regimes/bad/two-tiers.toml",
                "regimes",
                "list",
            ],
            "two-tiers.toml`, line 8: field `tiers.tier3_countries`: `CZ` is also in `tiers.tier1_countries`",
        ),
        (
            &[
                "--regime-file",
                "examples/regimes/bad/dates.toml",
                "regimes",
                "list",
            ],
            "dates.toml`, line 6: field `compliance_date`: 2026-01-01 is before the effective date 2026-06-01; dates out of order",
        ),
        (
            &[
                "--regime-file",
                "examples/regimes/nope.toml",
                "regimes",
                "list",
            ],
            "option `--regime-file`: `examples/regimes/nope.toml`: does not exist; expected a regime TOML file",
        ),
    ];
    for (args, want) in cases {
        bad(&aidf(args, None), want);
    }
}

#[test]
fn check_pins_a_regime_and_hypotheticals_apply() {
    let input = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000,"context":{"country_allocation_used_tpp":1000000000}}"#;
    let v = json_ok(&aidf(&["check", "-", "--json"], Some(input)));
    assert_eq!(v["review_policy"], "denial");
    let v = json_ok(&aidf(
        &[
            "--regime-file",
            "examples/regimes/malaysia-cap.toml",
            "check",
            "-",
            "--json",
            "--regime",
            "malaysia-cap-1200m",
        ],
        Some(input),
    ));
    assert_eq!(v["review_policy"], "approval");
    assert_eq!(v["regime"]["id"], "malaysia-cap-1200m");
    assert_eq!(v["regime"]["selected_by"], "pinned");
    let v = json_ok(&aidf(
        &[
            "--regime-file",
            "examples/regimes/no-lpp.toml",
            "check",
            "-",
            "--json",
            "--regime",
            "no-lpp",
        ],
        Some(&input.replace("1000000000", "0")),
    ));
    assert_eq!(v["authorization"], "license");
    let v = json_ok(&aidf(
        &[
            "--regime-file",
            "examples/regimes/poland-tier1.toml",
            "check",
            "-",
            "--json",
            "--regime",
            "poland-tier1",
        ],
        Some(&input.replace("\"MY\"", "\"IL\"")),
    ));
    assert_eq!(
        (v["destination_tier"].clone(), v["review_policy"].clone()),
        (3.into(), "denial".into())
    );
    bad(
        &aidf(&["check", "-", "--regime", "nope"], Some(input)),
        "field `regime`: unknown regime `nope`",
    );
}
