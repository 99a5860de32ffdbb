//! Issue 16: the human output of every command, as insta snapshots (`tests/snapshots/
//! human_output__*.snap`): the record of what a person reads. One small ledger in a temp dir, fixed
//! business dates and a fixed user; the wall-clock times the ledger stamps (recorded, opened) are
//! redacted. Not here: `serve` (a server), `token create` (a random secret, snapshotted in
//! `server.rs` with its own redaction), `record` (PDF/HTML files, tested in `register_cli.rs`),
//! `simulate` and `batch`/`gen` (files and progress bars, tested in `batch.rs`), `completions`
//! and `man` (clap's generated text).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A shipment that License Exception LPP covers (100 H100 to a Malaysian consignee).
const SMALL: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":100}"#;

/// An application for 50 H100 to a UAE consignee.
const APPLICATION: &str = r#"{"id":"APP-1","date":"2025-06-02","destination":"AE","consignee":{"name":"Gulf Compute LLC","hq":"AE","parent_hq":"AE","veu":null},"items":[{"chip":"NVIDIA H100 SXM","quantity":50}],"value_usd":"1250000.00","end_use":"deployment","applicant":{"name":"Acme Exports Inc","country":"US"},"end_users":[{"name":"Gulf Compute LLC","country":"AE"}]}"#;

struct Cli {
    dir: PathBuf,
}

impl Cli {
    fn new(tag: &str) -> Cli {
        let dir = std::env::temp_dir().join(format!("aidf-human-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        Cli { dir }
    }

    /// Runs `aidf ARGS` in the temp dir (ledger `./aidf.db`, user `officer`); its stdout, after
    /// asserting it succeeded.
    fn stdout(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
            .args(args)
            .current_dir(&self.dir)
            .env("USER", "officer")
            .env("AIDF_DB", self.dir.join("aidf.db"))
            .env_remove("AIDF_CONFIG")
            .env_remove("AIDF_AUDIT_KEY")
            .env_remove("AIDF_AUDIT_KEY_FILE")
            .output()
            .expect("run aidf");
        assert!(
            out.status.success(),
            "aidf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8 stdout")
    }

    fn file(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.join(name), text).expect("write");
        name.to_string()
    }
}

fn example(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path);
    p.to_str().expect("utf8").to_string()
}

/// The first `n` lines of a long listing.
fn head(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// Snapshots `text` as `name`, with the ledger's wall-clock stamps redacted.
fn snap(name: &str, text: &str) {
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", "[wall-clock]"),
        (r"tok_[0-9a-f]{12}", "[token-id]"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn stateless_commands() {
    let cli = Cli::new("stateless");
    let input = cli.file("small.json", SMALL);
    let cases: &[(&str, &[&str], usize)] = &[
        ("check", &["check", &input], usize::MAX),
        (
            "classify",
            &["classify", "--chip", "H100 SXM", "--date", "2025-06-01"],
            usize::MAX,
        ),
        (
            "classify_system",
            &[
                "classify",
                "--chip",
                "H100 SXM",
                "--quantity",
                "8",
                "--date",
                "2025-06-01",
            ],
            usize::MAX,
        ),
        ("chips", &["chips"], 12),
        ("regimes_list", &["regimes", "list"], 20),
        (
            "regimes_diff",
            &[
                "regimes",
                "diff",
                "ai-diffusion-2025",
                "ai-diffusion-h200-2026",
            ],
            usize::MAX,
        ),
        ("countries", &["countries", "--date", "2025-06-01"], 30),
        (
            "fleet_check",
            &["fleet", "check", &example("fleet/uveu-us-hq.json")],
            usize::MAX,
        ),
        (
            "fleet_headroom",
            &[
                "fleet",
                "headroom",
                &example("fleet/uveu-us-hq.json"),
                "--country",
                "MY",
            ],
            usize::MAX,
        ),
        (
            "fleet_plan",
            &["fleet", "plan", &example("fleet/uveu-plan.json")],
            usize::MAX,
        ),
        (
            "classify_all_regimes",
            &["classify", "--chip", "H100 SXM", "--all-regimes"],
            usize::MAX,
        ),
        (
            "weights_classify",
            &[
                "weights",
                "classify",
                &example("fleet/weights-fine-tune.json"),
            ],
            usize::MAX,
        ),
        ("screen_name", &["screen", "Huawei Technologies"], 12),
        (
            "screen_compare",
            &[
                "screen",
                "compare",
                "Huawei Technologies Co Ltd",
                "Huawei Tech Co",
            ],
            usize::MAX,
        ),
    ];
    for (name, args, lines) in cases {
        snap(name, &head(&cli.stdout(args), *lines));
    }
}

/// Every ledger command on one ledger, in the order a user would run them.
#[test]
fn ledger_commands() {
    let cli = Cli::new("ledger");
    let small = cli.file("small.json", SMALL);
    let big = cli.file(
        "big.json",
        &SMALL.replace("\"quantity\":100", "\"quantity\":2000"),
    );
    let app = cli.file("app.json", APPLICATION);
    let lpp = aidf_core::AccountRef::LppAnnual {
        party: aidf_core::PartyId::of("X Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("local");
    let steps: &[(&str, &[&str])] = &[
        ("g2g_add", &["g2g", "add", "MY", "--date", "2025-02-01"]),
        (
            "license_add",
            &[
                "license",
                "add",
                "L-1",
                "--consignee",
                "X Sdn Bhd",
                "--destination",
                "MY",
                "--units",
                "10",
                "--tpp",
                "100000",
                "--granted",
                "2025-01-01",
                "--expires",
                "2026-01-01",
            ],
        ),
        ("license_list", &["license", "list"]),
        ("license_show", &["license", "show", "L-1"]),
        ("ship_authorized", &["ship", &small, "--id", "s-1"]),
        ("ship_refused", &["ship", &big, "--id", "s-2"]),
        ("shipments_list", &["shipments", "list"]),
        ("shipments_show", &["shipments", "show", "s-1"]),
        ("ledger_accounts", &["ledger", "accounts"]),
        ("ledger_balance", &["ledger", "balance", &lpp]),
        ("ledger_history", &["ledger", "history", &lpp]),
        (
            "veu_add",
            &[
                "veu", "add", "V-1", "--kind", "uveu", "--owner", "Acme", "--hq", "US", "--site",
                "dc1:IN",
            ],
        ),
        ("veu_list", &["veu", "list"]),
        ("application_submit", &["application", "submit", &app]),
        ("application_list", &["application", "list"]),
        ("application_show", &["application", "show", "APP-1"]),
        (
            "application_stats",
            &["application", "stats", "--as-of", "2025-07-01"],
        ),
        ("report_due", &["report", "due", "--as-of", "2025-07-01"]),
        (
            "report_lpp",
            &["report", "lpp-certifications", "--period", "2025"],
        ),
        (
            "reevaluate",
            &["reevaluate", "--under", "ai-diffusion-h200-2026"],
        ),
        (
            "report_veu",
            &["report", "veu-semiannual", "--period", "2025-H1"],
        ),
        (
            "report_aia",
            &["report", "aia-certifications", "--as-of", "2025-07-01"],
        ),
        (
            "application_decide",
            &[
                "application",
                "decide",
                "APP-1",
                "--approve",
                "--license-id",
                "L-2",
                "--date",
                "2025-06-20",
            ],
        ),
        (
            "license_suspend",
            &[
                "license",
                "suspend",
                "L-2",
                "--date",
                "2025-07-01",
                "--reason",
                "BIS letter",
            ],
        ),
        (
            "ledger_reserve",
            &["ledger", "reserve", "h-1", &lpp, "1000"],
        ),
        (
            "ledger_post",
            &["ledger", "post", "p-1", "h-1", "--amount", "400"],
        ),
        (
            "ledger_reserve_value",
            &["ledger", "reserve", "h-2", "license:L-1:units", "3"],
        ),
        ("ledger_void", &["ledger", "void", "v-2", "h-2"]),
        ("token_list", &["token", "list"]),
        ("audit_verify", &["audit", "verify"]),
    ];
    // A token for `token list` (its secret is random: `token create` is snapshotted in
    // server.rs with its own redaction).
    cli.stdout(&["token", "create", "--tenant", "acme", "--role", "viewer"]);
    for (name, args) in steps {
        snap(name, &cli.stdout(args));
    }
}
