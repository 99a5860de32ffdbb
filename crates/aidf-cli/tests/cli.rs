//! The `aidf` binary as a user runs it: output snapshots, exit codes, one-line errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn aidf(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aidf");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

/// An empty directory of this test process's own.
fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_example_json_snapshot() {
    let out = aidf(&["check", "examples/malaysia-h100.json", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    insta::assert_json_snapshot!("check_malaysia_2000_h100", v);
}

#[test]
fn check_explains_in_text() {
    let out = aidf(&["check", "examples/malaysia-h100.json"], None);
    assert!(out.status.success());
    insta::assert_snapshot!("check_malaysia_text", text(&out.stdout));
}

#[test]
fn check_as_enforced_and_stdin() {
    let input = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/malaysia-h100.json"
    ))
    .expect("example");
    let out = aidf(
        &["check", "-", "--json", "--posture", "as-enforced"],
        Some(&input),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["authorization"], "NLR");
    assert_eq!(v["regime"]["id"], "h20-2025");
    assert_eq!(v["regime"]["posture"], "as_enforced");
}

#[test]
fn classify_snapshots() {
    let out = aidf(
        &["classify", "--chip", "H100 SXM", "--date", "2025-06-01"],
        None,
    );
    assert!(out.status.success());
    insta::assert_snapshot!("classify_h100", text(&out.stdout));
    let out = aidf(
        &[
            "classify",
            "--tops",
            "1979",
            "--bits",
            "8",
            "--die-area",
            "814",
            "--quantity",
            "8",
            "--date",
            "2025-06-01",
            "--json",
        ],
        None,
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["eccn"], "4A090.a");
    assert_eq!(v["system_tpp"], 126656);
    assert_eq!(v["pd"], "19.45", "exact decimal text");
    let out = aidf(
        &[
            "classify",
            "--tops",
            "296",
            "--bits",
            "8",
            "--die-area",
            "814",
            "--json",
            "--date",
            "2025-06-01",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["eccn"],
        serde_json::Value::Null,
        "H20-class rates are not 3A090"
    );
    let out = aidf(
        &[
            "classify",
            "--tops",
            "660.6",
            "--bits",
            "8",
            "--die-area",
            "608.5",
            "--not-datacenter",
            "--json",
            "--date",
            "2025-06-01",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["eccn"], "3A090.a");
    assert_eq!(v["datacenter"], false);
}

/// Every bad input exits 2 with one line on stderr naming the field and the value.
#[test]
fn bad_input_exits_2_with_one_line() {
    let good = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#;
    let cases: &[(&[&str], Option<String>, &str)] = &[
        (
            &["check", "-"],
            Some(good.replace("\"MY\",\"consignee\"", "\"XX\",\"consignee\"")),
            "field `destination`: unknown country code `XX`",
        ),
        (
            &["check", "-"],
            Some(good.replace("H100 SXM", "H900")),
            "field `item.chip`: unknown chip `H900`; nearest:",
        ),
        (
            &["check", "-"],
            Some(good.replace("\"quantity\":10", "\"quantity\":0")),
            "field `quantity`: `0` is not a positive whole number of units; expected an integer from 1 to",
        ),
        (
            &["check", "-"],
            Some(good.replace("\"quantity\":10", "\"quantity\":-3")),
            "field `quantity`: `-3` is not a positive whole number of units; expected an integer from 1 to",
        ),
        (
            &["check", "-"],
            Some("{\"date\": ".into()),
            "invalid JSON: the document ends early (line 1, column 9)",
        ),
        (
            &["check", "-"],
            Some("not json".into()),
            "invalid JSON: expected a JSON value (line 1, column 2)",
        ),
        (
            &["check", "no-such-file.json"],
            None,
            "file `no-such-file.json`: does not exist",
        ),
        (
            &["check", "-"],
            Some(format!("{good}{good}")),
            "invalid JSON: trailing characters (line 1, column",
        ),
        (
            &["check", "-"],
            Some(format!("{good}GARBAGE")),
            "invalid JSON: trailing characters (line 1, column",
        ),
        (
            &["check", "-"],
            Some(good.replace(
                "{\"chip\":\"H100 SXM\"}",
                "{\"tpp\":4800,\"die_area_mm2\":1e-28}",
            )),
            "field `die_area_mm2`: performance density",
        ),
        (
            &["classify", "--tops", "7e28", "--bits", "256"],
            None,
            "option `--tops`: TPP 70000000000000000000000000000 x 256 is out of range",
        ),
        (
            &["classify", "--chip", "a100"],
            None,
            "option `--chip`: ambiguous chip `a100`",
        ),
        (
            &["classify", "--tops=-5", "--bits", "8"],
            None,
            "option `--tops`: `-5` is not a positive number",
        ),
        (
            &[
                "check",
                "examples/malaysia-h100.json",
                "--policy-dir",
                "crates/aidf-cli/tests/bad-policy",
            ],
            None,
            "policy file `crates/aidf-cli/tests/bad-policy/regimes/ai-diffusion-2025.toml`, line",
        ),
        (&["regimes", "show", "nope"], None, "unknown regime `nope`"),
    ];
    for (args, stdin, want) in cases {
        let out = aidf(args, stdin.as_deref());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(want),
            "{args:?}: stderr `{err}` lacks `{want}`"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn policy_dir_replaces_a_regime() {
    // A hypothetical regime: a 1.2 billion TPP country cap.
    let dir = std::env::temp_dir().join(format!("aidf-policy-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("regimes")).expect("mkdir");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/regimes/");
    for f in ["ac-2023.toml", "ai-diffusion-2025.toml"] {
        let mut t = std::fs::read_to_string(format!("{root}{f}")).expect("read");
        t = t.replace("tier2_tpp_cap = 790000000", "tier2_tpp_cap = 1200000000");
        std::fs::write(dir.join("regimes").join(f), t).expect("write");
    }
    let input = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000,"context":{"country_allocation_used_tpp":1000000000}}"#;
    let base = aidf(&["check", "-", "--json"], Some(input));
    let hypo = aidf(
        &[
            "check",
            "-",
            "--json",
            "--policy-dir",
            dir.to_str().expect("utf8"),
        ],
        Some(input),
    );
    let b: serde_json::Value = serde_json::from_slice(&base.stdout).expect("json");
    let h: serde_json::Value = serde_json::from_slice(&hypo.stdout).expect("json");
    assert_eq!(b["review_policy"], "denial");
    assert_eq!(h["review_policy"], "approval");
    assert_ne!(b["regime"]["digest"], h["regime"]["digest"]);
    let _ = std::fs::remove_dir_all(dir);
}

/// The human tables end their lines where their text ends (`countries` padded every row with
/// trailing spaces: a country without groups after its tier, and every name to 40 columns).
#[test]
fn countries_lines_have_no_trailing_space() {
    let out = aidf(&["countries", "--date", "2025-06-01"], None);
    assert!(out.status.success());
    let table = text(&out.stdout);
    assert!(table.lines().count() > 200, "{table}");
    for line in table.lines() {
        assert_eq!(line, line.trim_end(), "trailing space in `{line}`");
    }
}

#[test]
fn lists_work() {
    let out = aidf(&["chips"], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("nvidia-h100-sxm"));
    let out = aidf(&["regimes", "list"], None);
    assert!(text(&out.stdout).contains("ai-diffusion-2025"));
    let out = aidf(&["countries", "--date", "2025-06-01", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let countries = v["countries"].as_array().expect("array");
    assert_eq!(countries.len(), 249);
    let tier = |code: &str| {
        countries
            .iter()
            .find(|c| c["code"] == code)
            .map(|c| c["tier"].clone())
            .expect("country")
    };
    assert_eq!(tier("US"), 1);
    assert_eq!(tier("DE"), 1);
    assert_eq!(tier("IN"), 2);
    assert_eq!(tier("AE"), 2);
    assert_eq!(tier("CN"), 3);
    assert_eq!(tier("HK"), 3);
}

/// Issue 16: a mistyped `--db` made an empty ledger (`audit verify` said ok with 0 records,
/// `ledger accounts` printed `[]`). Commands that only read now refuse a file that does not
/// exist, and create nothing.
#[test]
fn read_only_commands_refuse_a_ledger_that_does_not_exist() {
    let dir = fresh_dir("nodb");
    let db = dir.join("typo.db");
    let db = db.to_str().expect("utf8");
    let reads: [&[&str]; 6] = [
        &["audit", "verify", "--db", db],
        &["ledger", "accounts", "--db", db],
        &["ledger", "balance", "country:MY:2025-2027", "--db", db],
        &["license", "list", "--db", db],
        &["veu", "list", "--db", db],
        &["token", "list", "--db", db],
    ];
    for args in reads {
        let out = aidf(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("option `--db`") && err.contains("does not exist"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert!(left.is_empty(), "nothing created: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: `license add --units 0`, `g2g add US|CN` and attrition on a country allocation or
/// an LPP year were accepted. A license authorizes something; attrition lowers an installed base only (exports
/// already counted stay counted). Each refusal is one line naming the field, and exit 2.
#[test]
fn domain_rules_refuse_empty_licenses_g2g_outside_tier_2_and_attrition_off_an_installed_base() {
    let dir = fresh_dir("domain");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    let license = |units: &str, tpp: &str| {
        aidf(
            &[
                "license",
                "add",
                "L-0",
                "--consignee",
                "X Sdn Bhd",
                "--destination",
                "MY",
                "--units",
                units,
                "--tpp",
                tpp,
                "--granted",
                "2025-01-01",
                "--expires",
                "2026-01-01",
                "--db",
                db,
            ],
            None,
        )
    };
    for (units, tpp, field) in [("0", "100000", "units"), ("10", "0", "tpp")] {
        let out = license(units, tpp);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{units}/{tpp}: {err}");
        assert!(
            err.contains(field) && err.contains("at least one unit"),
            "{err}"
        );
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
    }
    // G2G arrangements double a Tier 2 allocation: a Tier 1 or Tier 3 country has none.
    for (country, placement) in [("US", "Tier 1"), ("CN", "Tier 3")] {
        let out = aidf(
            &["g2g", "add", country, "--date", "2025-06-01", "--db", db],
            None,
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{country}: {err}");
        assert!(err.contains(placement) && err.contains("Tier 2"), "{err}");
    }
    let out = aidf(
        &["g2g", "add", "MY", "--date", "2025-06-01", "--db", db],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let input = dir.join("ship.json");
    std::fs::write(
        &input,
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2}"#,
    )
    .expect("write");
    let shipped = aidf(&["ship", input.to_str().expect("utf8"), "--db", db], None);
    assert!(shipped.status.success(), "{}", text(&shipped.stderr));
    let lpp = aidf_core::AccountRef::LppAnnual {
        party: aidf_core::PartyId::of("X Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("local");
    let out = aidf(&["ledger", "attrition", "a-1", &lpp, "1", "--db", db], None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("field `account`") && err.contains("installed-base"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    let balance = aidf(&["ledger", "balance", &lpp, "--db", db, "--json"], None);
    assert!(
        text(&balance.stdout).contains(&format!("\"posted\": {}", 2 * 15_832)),
        "nothing was written: {}",
        text(&balance.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: `gen … | head` ended with "error: Broken pipe (os error 32): Broken pipe (os error
/// 32)" and exit 2; errors repeated their cause ("unknown account `x`: unknown account `x`");
/// `--addr localhost:8080` was refused; server logs carried colour codes into files.
#[test]
fn pipes_hosts_and_messages_behave_like_a_unix_tool() {
    use std::io::{BufRead, BufReader};
    let mut generator = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(["gen", "shipments", "--rows", "200000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(generator.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    // The reader is gone (dropped above): the writer meets a closed pipe.
    let out = generator.wait_with_output().expect("wait");
    assert!(!first.is_empty());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "a closed pipe is not reported");

    let dir = fresh_dir("unix");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    assert!(
        aidf(
            &["g2g", "add", "MY", "--date", "2025-02-01", "--db", db],
            None
        )
        .status
        .success()
    );
    let out = aidf(
        &[
            "ledger",
            "attrition",
            "a-1",
            "no:such:account",
            "1",
            "--db",
            db,
        ],
        None,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.matches("no:such:account").count(),
        1,
        "said once: {err}"
    );

    let mut serve = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(["serve", "--addr", "localhost:0", "--db", db])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(serve.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let _ = serve.kill();
    let out = serve.wait_with_output().expect("wait");
    assert!(line.starts_with("listening on http://"), "{line}");
    assert!(
        !text(&out.stderr).contains('\u{1b}'),
        "no colour codes in a log that is not a terminal: {}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: `my` was accepted as a country but `--kind UVEU` and `--posture as_written` were
/// not. Enumerated values take any case, and `_` for `-`.
#[test]
fn enumerated_values_take_any_case_and_underscores() {
    for posture in ["as_written", "AS-WRITTEN", "As_Enforced"] {
        let out = aidf(
            &["check", "--posture", posture, "examples/malaysia-h100.json"],
            None,
        );
        assert!(out.status.success(), "{posture}: {}", text(&out.stderr));
    }
    let dir = fresh_dir("case");
    let db = dir.join("aidf.db");
    let out = aidf(
        &[
            "veu",
            "add",
            "V-1",
            "--kind",
            "UVEU",
            "--owner",
            "Acme",
            "--hq",
            "us",
            "--site",
            "dc1:IN",
            "--db",
            db.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: a refused shipment exited 0, so a script could not tell; `ship --strict` exits 1
/// unless the shipment is authorized. Totals are grouped for a person ("31,664,000").
#[test]
fn ship_strict_exits_1_on_a_refusal_and_totals_are_grouped() {
    let dir = fresh_dir("strict");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    // 2,000 H100 to MY: license required, none recorded: refused.
    let refused = aidf(&["ship", "examples/malaysia-h100.json", "--db", db], None);
    assert_eq!(refused.status.code(), Some(0), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stdout).contains("Total TPP: 31,664,000"),
        "{}",
        text(&refused.stdout)
    );
    let strict = aidf(
        &[
            "ship",
            "examples/malaysia-h100.json",
            "--db",
            db,
            "--strict",
        ],
        None,
    );
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    let small = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2}"#;
    let authorized = aidf(&["ship", "-", "--db", db, "--strict"], Some(small));
    assert_eq!(
        authorized.status.code(),
        Some(0),
        "{}",
        text(&authorized.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `aidf` in `dir` with extra environment variables.
fn aidf_in(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .current_dir(dir)
        .env_remove("AIDF_DB")
        .env_remove("AIDF_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run aidf")
}

/// Issue 16: no `AIDF_DB` or config file, so a stray `./aidf.db` appeared wherever a command ran.
/// Precedence: `--db`, then `AIDF_DB`, then `aidf.toml` (its paths relative to itself), then
/// `./aidf.db`.
#[test]
fn the_ledger_comes_from_the_flag_then_aidf_db_then_aidf_toml() {
    let dir = fresh_dir("config");
    let sub = dir.join("work");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let input = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#;
    std::fs::write(sub.join("in.json"), input).expect("input");
    std::fs::write(
        dir.join("aidf.toml"),
        "db = \"ledgers/main.db\"\nposture = \"as-written\"\n",
    )
    .expect("config");
    std::fs::create_dir_all(dir.join("ledgers")).expect("mkdir");
    let config = dir.join("aidf.toml");
    let config = config.to_str().expect("utf8");
    // The config file names the ledger, relative to the file, from any working directory.
    let out = aidf_in(
        &sub,
        &[("AIDF_CONFIG", config)],
        &["ship", "in.json", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("ledgers/main.db").is_file());
    assert!(!sub.join("aidf.db").exists(), "no stray ./aidf.db");
    // AIDF_DB wins over the file; a read-only command refuses a ledger that does not exist.
    let out = aidf_in(
        &sub,
        &[("AIDF_CONFIG", config), ("AIDF_DB", "elsewhere.db")],
        &["ledger", "accounts"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("variable `AIDF_DB`: `elsewhere.db` does not exist"),
        "{}",
        text(&out.stderr)
    );
    // The flag wins over both.
    let main_db = dir.join("ledgers/main.db");
    let out = aidf_in(
        &sub,
        &[("AIDF_DB", "elsewhere.db")],
        &[
            "ledger",
            "accounts",
            "--db",
            main_db.to_str().expect("utf8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("lpp:"), "{}", text(&out.stdout));
    // ./aidf.toml is read when present; a bad one is one line naming the file, line and field.
    std::fs::write(sub.join("aidf.toml"), "db = \"x.db\"\nledger = 1\n").expect("bad");
    let out = aidf_in(&sub, &[], &["ledger", "accounts"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("config `aidf.toml`: line 2: unknown field `ledger`"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: no shell completions and no man page.
#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "Elvish"] {
        let out = aidf(&["completions", shell], None);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains("aidf") && script.contains("ship"),
            "{shell}"
        );
    }
    let out = aidf(&["man"], None);
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH aidf"),
        "{page}"
    );
    assert!(page.contains("completions"));
    let dir = fresh_dir("man");
    let out = aidf(&["man", "--dir", dir.to_str().expect("utf8")], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in ["aidf.1", "aidf-ship.1", "aidf-ledger-accounts.1"] {
        assert!(dir.join(page).is_file(), "{page}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
