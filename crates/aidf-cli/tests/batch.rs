//! `aidf batch` end to end: on a generated book of 10,000 orders, every output row equals what
//! `aidf check` answers for that row; bad rows are reported with row number, field and value and
//! the batch goes on; and a stateful batch leaves the same ledger balances as `aidf ship` run row
//! by row.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aidf_core::{DeterminationInput, Policy, determine};

fn aidf(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidf"));
    c.args(args);
    c
}

fn run_ok(args: &[&str]) -> String {
    let out = aidf(args).output().expect("run aidf");
    assert!(
        out.status.success(),
        "aidf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-batch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("open csv");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("record").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("column {name}"))
}

#[test]
fn batch_equals_check_row_by_row_on_10000_generated_rows() {
    let dir = tmp("equal");
    let book_csv = dir.join("book.csv");
    let book_jsonl = dir.join("book.jsonl");
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "10000",
        "--seed",
        "11",
        "-o",
        s(&book_csv),
    ]);
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "10000",
        "--seed",
        "11",
        "--format",
        "jsonl",
        "-o",
        s(&book_jsonl),
    ]);
    // Deterministic for a seed.
    let again = dir.join("again.csv");
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "10000",
        "--seed",
        "11",
        "-o",
        s(&again),
    ]);
    assert_eq!(
        std::fs::read(&book_csv).expect("read"),
        std::fs::read(&again).expect("read")
    );

    let out_csv = dir.join("out.csv");
    let out_jsonl = dir.join("out.jsonl");
    let summary = run_ok(&["batch", s(&book_csv), "-o", s(&out_csv), "--json"]);
    run_ok(&["batch", s(&book_jsonl), "-o", s(&out_jsonl)]);
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("summary json");
    assert_eq!(summary["rows"], 10000);
    assert_eq!(summary["errors"], 0, "{summary}");

    let policy = Policy::embedded().expect("policy");
    let inputs: Vec<DeterminationInput> = std::fs::read_to_string(&book_jsonl)
        .expect("read")
        .lines()
        .map(|l| DeterminationInput::from_json(l).expect("generated input parses"))
        .collect();
    let out_lines: Vec<serde_json::Value> = std::fs::read_to_string(&out_jsonl)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (header, rows) = read_csv(&out_csv);
    assert_eq!(inputs.len(), 10000);
    assert_eq!(out_lines.len(), 10000);
    assert_eq!(rows.len(), 10000);
    let h = |n: &str| col(&header, n);
    let mut authorizations = std::collections::BTreeSet::new();
    for (i, input) in inputs.iter().enumerate() {
        let d = determine(&policy, input).expect("determines");
        // Through text both ways, as the files are (floats parse the same on both sides).
        let want: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&d).expect("json")).expect("json");
        let line = &out_lines[i];
        assert_eq!(line["row"], (i + 1) as u64);
        assert_eq!(line["status"], "ok");
        assert_eq!(line["determination"], want, "row {}", i + 1);
        let r = &rows[i];
        assert_eq!(r[h("row")], (i + 1).to_string());
        assert_eq!(r[h("id")], format!("ord-11-{:07}", i + 1));
        assert_eq!(
            r[h("authorization")],
            d.authorization.as_str(),
            "row {}",
            i + 1
        );
        assert_eq!(r[h("license_required")], d.license_required.to_string());
        assert_eq!(
            r[h("review_policy")],
            d.review_policy.map(|p| p.as_str()).unwrap_or("")
        );
        assert_eq!(r[h("eccn")], d.eccn.map(|e| e.as_str()).unwrap_or(""));
        assert_eq!(r[h("destination")], d.destination.as_str());
        assert_eq!(r[h("total_tpp")], d.total_tpp.to_string());
        assert_eq!(r[h("unit_tpp")], d.unit_tpp.to_string());
        assert_eq!(r[h("quantity")], d.quantity.to_string());
        assert_eq!(r[h("regime")], &*d.regime.id);
        let reasons: Vec<&str> = d.reasons.iter().map(|x| x.rule).collect();
        assert_eq!(r[h("reasons")], reasons.join(";"));
        let counts = want["counts_against"]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_str().expect("str"))
            .collect::<Vec<_>>()
            .join(";");
        assert_eq!(r[h("counts_against")], counts);
        authorizations.insert(d.authorization.as_str());
    }
    // The book exercises the engine widely.
    for a in [
        "AIA",
        "LPP",
        "license",
        "NLR",
        "UVEU",
        "NVEU",
        "ACM",
        "not_controlled",
    ] {
        assert!(authorizations.contains(a), "no {a} in {authorizations:?}");
    }
    // And the library is what `aidf check --json --no-screen` prints: a sample through the
    // binary (the batch determines the input alone; `check` screens the consignee unless told not
    // to, and the batch's generated names would be screening hits).
    for i in (0..10000).step_by(997) {
        let mut child = aidf(&["check", "-", "--json", "--no-screen"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let text = serde_json::to_string(&inputs[i]).expect("json");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v, out_lines[i]["determination"], "row {}", i + 1);
    }
}

#[test]
fn bad_rows_are_reported_and_the_batch_goes_on() {
    let dir = tmp("bad");
    let book = dir.join("book.csv");
    std::fs::write(
        &book,
        "id,date,destination,consignee_name,consignee_hq,chip,quantity\n\
         a,2025-06-01,MY,X Sdn Bhd,MY,H100 SXM,100\n\
         b,2025-06-01,ZZ,X Sdn Bhd,MY,H100 SXM,100\n\
         c,2025-13-01,MY,X Sdn Bhd,MY,H100 SXM,100\n\
         d,2025-06-01,MY,X Sdn Bhd,MY,H100 SXM,ten\n\
         e,2025-06-01,MY,X Sdn Bhd,MY,Z9000,1\n\
         f,2025-06-01,MY,,MY,H100 SXM,1\n\
         g,2025-06-01,MY,X Sdn Bhd,MY,H100 SXM,0\n\
         h,2025-06-01,MY,X Sdn Bhd,MY,H100 SXM,100\n",
    )
    .expect("write");
    let out = dir.join("out.csv");
    let summary = run_ok(&["batch", s(&book), "-o", s(&out), "--json"]);
    // Issue 16: with `--strict` the same batch exits 1 (bad rows), writing the same output.
    let strict = aidf(&[
        "batch",
        s(&book),
        "-o",
        s(&dir.join("strict.csv")),
        "--strict",
    ])
    .output()
    .expect("run");
    assert_eq!(strict.status.code(), Some(1), "{strict:?}");
    assert_eq!(
        std::fs::read(&out).expect("out"),
        std::fs::read(dir.join("strict.csv")).expect("strict out")
    );
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("json");
    assert_eq!(summary["rows"], 8);
    assert_eq!(summary["ok"], 2);
    assert_eq!(summary["errors"], 6);
    let (header, rows) = read_csv(&out);
    let h = |n: &str| col(&header, n);
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[h("row")].clone(),
                r[h("status")].clone(),
                r[h("error_field")].clone(),
            )
        })
        .collect();
    let want = [
        ("1", "ok", ""),
        ("2", "error", "destination"),
        ("3", "error", "date"),
        ("4", "error", "quantity"),
        ("5", "error", "chip"),
        ("6", "error", "consignee_name"),
        ("7", "error", "quantity"),
        ("8", "ok", ""),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2.as_str()), w);
    }
    assert!(
        rows[1][h("error")].contains("`ZZ`"),
        "{}",
        rows[1][h("error")]
    );
    assert!(rows[2][h("error")].contains("2025-13-01"));
    assert!(rows[3][h("error")].contains("`ten`"));

    // JSON lines: the field path and the line's row number.
    let jl = dir.join("book.jsonl");
    std::fs::write(
        &jl,
        "{\"date\":\"2025-06-01\",\"destination\":\"MY\",\"consignee\":{\"name\":\"X\",\"hq\":\"MY\"},\"item\":{\"chip\":\"H100 SXM\"},\"quantity\":1}\n\
         {\"date\":\"2025-06-01\",\"destination\":\"MY\",\"consignee\":{\"name\":\"X\",\"hq\":\"MY\",\"colour\":1},\"item\":{\"chip\":\"H100 SXM\"},\"quantity\":1}\n\
         not json\n",
    )
    .expect("write");
    let out = dir.join("out.jsonl");
    run_ok(&["batch", s(&jl), "-o", s(&out)]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(lines[1]["status"], "error");
    assert_eq!(lines[1]["row"], 2);
    assert_eq!(lines[1]["field"], "consignee.colour");
    assert!(lines[1]["error"].as_str().expect("str").contains("colour"));
    assert_eq!(lines[2]["row"], 3);
    assert_eq!(lines[2]["status"], "error");

    // A bad header stops the batch with exit code 2 and names the column.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "date,destination,consignee_name,consignee_hq,colour\n",
    )
    .expect("write");
    let o = aidf(&["batch", s(&bad), "-o", s(&dir.join("x.csv"))])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`colour`"));
}

/// A book where caps bind: three consignees in Malaysia ordering H100 until their LPP limit is
/// reached (then a license is needed, none is recorded, so the shipment is refused), NVEU and
/// UVEU orders, Tier 1 AIA orders, and 60 generated orders.
fn stateful_book(dir: &Path) -> PathBuf {
    let generated = dir.join("gen.csv");
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "60",
        "--seed",
        "5",
        "-o",
        s(&generated),
    ]);
    let text = std::fs::read_to_string(&generated).expect("read");
    let mut lines = text.lines();
    let header = lines.next().expect("header").to_string();
    let hdr: Vec<&str> = header.split(',').collect();
    let mut rows: Vec<String> = lines.map(String::from).collect();
    let mut k = 0;
    let mut add = |fields: &[(&str, &str)]| {
        k += 1;
        let mut cells = vec![String::new(); hdr.len()];
        cells[0] = format!("cap-{k:03}");
        for (name, v) in fields {
            let i = hdr.iter().position(|h| h == name).expect("column");
            cells[i] = v.to_string();
        }
        rows.push(cells.join(","));
    };
    for i in 0..8 {
        for name in ["MY One", "MY Two", "MY Three"] {
            add(&[
                ("date", &format!("2025-0{}-1{}", 6 + i % 3, i)),
                ("destination", "MY"),
                ("consignee_name", name),
                ("consignee_hq", "MY"),
                ("chip", "nvidia-h100-sxm"),
                ("quantity", "500"),
            ]);
        }
        add(&[
            ("date", "2025-07-01"),
            ("destination", "AE"),
            ("consignee_name", "AE Sovereign Cloud"),
            ("consignee_hq", "AE"),
            ("veu_kind", "nveu"),
            ("veu_id", "NVEU-AE-1"),
            ("chip", "nvidia-b200"),
            ("quantity", "4000"),
        ]);
        add(&[
            ("date", "2025-08-01"),
            ("destination", "DE"),
            ("consignee_name", "DE Cloud"),
            ("consignee_hq", "DE"),
            ("chip", "nvidia-h200-sxm"),
            ("quantity", "2000"),
        ]);
    }
    let book = dir.join("stateful.csv");
    let mut all = header;
    for r in rows {
        all.push('\n');
        all.push_str(&r);
    }
    all.push('\n');
    std::fs::write(&book, all).expect("write");
    book
}

fn balances(db: &Path) -> Vec<(String, Option<u64>, u64, u64)> {
    let mut l = aidf_ledger::Ledger::open(s(db)).expect("open");
    l.store()
        .accounts()
        .expect("accounts")
        .into_iter()
        .map(|a| (a.key, a.cap, a.posted, a.pending))
        .collect()
}

#[test]
fn stateful_batch_gives_the_balances_of_ship_row_by_row() {
    let dir = tmp("stateful");
    let book = stateful_book(&dir);
    let db1 = dir.join("batch.db");
    let db2 = dir.join("ship.db");
    let out = dir.join("out.csv");
    // The NVEU the book claims is recorded in both ledgers (an unrecorded claim draws nothing).
    for db in [&db1, &db2] {
        run_ok(&[
            "veu",
            "add",
            "NVEU-AE-1",
            "--kind",
            "nveu",
            "--owner",
            "AE Sovereign Cloud",
            "--hq",
            "AE",
            "--site",
            "dc1:AE",
            "--db",
            s(db),
        ]);
    }
    let summary = run_ok(&[
        "batch",
        s(&book),
        "-o",
        s(&out),
        "--ledger",
        s(&db1),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("json");
    assert!(
        summary["by_status"]["refused"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert!(summary["by_status"]["authorized"].as_u64().unwrap_or(0) > 0);
    let (header, rows) = read_csv(&out);
    let h = |n: &str| col(&header, n);

    // The same rows through `aidf ship`, one process per row, with the same shipment ids.
    let mut r = csv::Reader::from_path(&book).expect("open");
    let hdr = aidf_batch::row::Header::new(r.headers().expect("header").iter()).expect("header");
    for (i, rec) in r.records().enumerate() {
        let rec = rec.expect("record");
        let (id, input) = aidf_batch::row::record_to_input(&hdr, &rec).expect("row parses");
        let id = aidf_batch::batch::shipment_id((i + 1) as u64, id.as_deref(), &input);
        let mut child = aidf(&["ship", "-", "--db", s(&db2), "--id", &id, "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(serde_json::to_string(&input).expect("json").as_bytes())
            .expect("write");
        let o = child.wait_with_output().expect("wait");
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
            assert_eq!(rows[i][h("status")], "ok");
            assert_eq!(rows[i][h("shipment_id")], id);
            assert_eq!(
                rows[i][h("ship_status")],
                v["status"].as_str().expect("status")
            );
            assert_eq!(
                rows[i][h("authorization")],
                v["determination"]["authorization"].as_str().expect("auth")
            );
            assert_eq!(
                rows[i][h("total_tpp")],
                v["determination"]["total_tpp"].to_string()
            );
        } else {
            assert_eq!(rows[i][h("status")], "error", "row {}", i + 1);
        }
    }
    let b1 = balances(&db1);
    let b2 = balances(&db2);
    assert!(b1.iter().any(|a| a.0.starts_with("lpp:local@") && a.2 > 0));
    assert!(
        b1.iter()
            .any(|a| a.0.starts_with("nveu:local@NVEU-AE-1") && a.2 > 0)
    );
    assert_eq!(b1, b2);
}

#[test]
fn stateful_batch_on_postgres_gives_the_sqlite_balances() {
    let Some((mut client, schema, url)) = support::pg_schema("aidf_cli_batch") else {
        return;
    };
    let dir = tmp("pg");
    let book = stateful_book(&dir);
    let sqlite = dir.join("s.db");
    run_ok(&[
        "batch",
        s(&book),
        "-o",
        s(&dir.join("a.csv")),
        "--ledger",
        s(&sqlite),
    ]);
    run_ok(&[
        "batch",
        s(&book),
        "-o",
        s(&dir.join("b.csv")),
        "--ledger",
        &url,
    ]);
    // A rerun replays the recorded shipments: nothing is drawn twice.
    run_ok(&[
        "batch",
        s(&book),
        "-o",
        s(&dir.join("c.csv")),
        "--ledger",
        &url,
    ]);
    let pg: Vec<(String, Option<u64>, u64, u64)> = {
        let mut l = aidf_ledger::Ledger::open(&url).expect("open pg");
        l.store()
            .accounts()
            .expect("accounts")
            .into_iter()
            .map(|a| (a.key, a.cap, a.posted, a.pending))
            .collect()
    };
    assert_eq!(pg, balances(&sqlite));
    let (h, a) = read_csv(&dir.join("a.csv"));
    let (_, c) = read_csv(&dir.join("c.csv"));
    let st = col(&h, "ship_status");
    assert_eq!(
        a.iter().map(|r| &r[st]).collect::<Vec<_>>(),
        c.iter().map(|r| &r[st]).collect::<Vec<_>>()
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}

#[test]
fn simulate_writes_series_and_charts_and_rejects_bad_scenarios() {
    let dir = tmp("sim");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scenarios/tier2-demand.toml"
    );
    let out = dir.join("out");
    let text = run_ok(&["simulate", scenario, "--out", s(&out)]);
    assert!(text.contains("allocation binds"), "{text}");
    for f in [
        "countries.csv",
        "binding.csv",
        "tiers.csv",
        "compare.csv",
        "summary.json",
        "burn-down.svg",
        "burn-down.png",
        "tiers.svg",
        "tiers.png",
        "refused.svg",
        "refused.png",
        "compare.svg",
        "compare.png",
    ] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|_| panic!("{f} written"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let png = std::fs::read(out.join("burn-down.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let err = simulate_refused(
        &dir,
        "[[country]]\ncode = \"MY\"\nstart_h100e = 100\ngrowth = 5\n",
    );
    assert!(err.contains("bad.toml:8:"), "{err}");
    assert!(err.contains("growth"), "{err}");
}

/// `aidf simulate` on a scenario (four quarters of `ai-diffusion-2025`, then `countries`) written
/// to `dir/bad.toml`: asserts exit 2 and one line, returns it.
fn simulate_refused(dir: &std::path::Path, countries: &str) -> String {
    let bad = dir.join("bad.toml");
    let head =
        "name = \"x\"\nstart = \"2025-01-01\"\nquarters = 4\nregimes = [\"ai-diffusion-2025\"]\n";
    std::fs::write(&bad, format!("{head}{countries}")).expect("write");
    let o = aidf(&["simulate", s(&bad), "--out", s(&dir.join("x"))])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

/// Issue 15 item 4: the 2024 slowdown example reports, per country with a lag or a denial share,
/// what was licensed, denied and left pending, and writes `licensing.csv` and the licenses chart;
/// a bad share is one line naming the field and the value, exit 2.
#[test]
fn simulate_reports_the_licensing_lag_and_refuses_a_bad_share() {
    let dir = tmp("sim-lag");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scenario-2024-slowdown.toml"
    );
    let out = dir.join("out");
    let text = run_ok(&["simulate", scenario, "--out", s(&out)]);
    for cc in ["AE", "SA", "QA", "IN"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("licensing {cc} ")))
            .unwrap_or_else(|| panic!("no licensing line for {cc}: {text}"));
        assert!(
            line.contains("pending at horizon") && line.contains("mean delay"),
            "{line}"
        );
    }
    for f in ["licensing.csv", "licenses.svg", "licenses.png"] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|_| panic!("{f} written"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let mut csv = csv::Reader::from_path(out.join("licensing.csv")).expect("csv");
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4);
    let err = simulate_refused(
        &dir,
        "[[country]]\ncode = \"AE\"\nstart_h100e = 100\ndenial_share = \"1.5\"\n",
    );
    assert!(
        err.contains(
            "bad.toml:8:16: field `country[0].denial_share`: \"1.5\" is not between 0 and 1"
        ),
        "{err}"
    );
}

/// Issue 16: `aidf batch in.csv -o in.csv` truncated its own input (CSV: to 0 bytes, then an
/// error; JSON lines: emptied, "rows 0", exit 0). Now it refuses before opening anything, also
/// through another spelling of the same path; and a pinned regime with `--ledger` (which every
/// row would refuse) is refused once, up front.
#[test]
fn the_input_is_never_the_output_and_a_ledger_batch_pins_no_regime() {
    let dir = tmp("same-file");
    let csv = dir.join("in.csv");
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "5",
        "--seed",
        "3",
        "-o",
        s(&csv),
    ]);
    let jsonl = dir.join("in.jsonl");
    run_ok(&[
        "gen",
        "shipments",
        "--rows",
        "5",
        "--seed",
        "3",
        "--format",
        "jsonl",
        "-o",
        s(&jsonl),
    ]);
    let other_spelling = dir.join(".").join("in.jsonl");
    for (input, out) in [(&csv, csv.clone()), (&jsonl, other_spelling)] {
        let before = std::fs::read(input).expect("read");
        let o = aidf(&["batch", s(input), "-o", s(&out)])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{}", s(input));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("option `--out`") && err.contains("input file"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(input).expect("read"),
            before,
            "input untouched"
        );
    }
    let o = aidf(&[
        "batch",
        s(&csv),
        "-o",
        s(&dir.join("out.csv")),
        "--ledger",
        s(&dir.join("l.db")),
        "--regime",
        "ai-diffusion-2025",
    ])
    .output()
    .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("option `--regime`"));
    let _ = std::fs::remove_dir_all(dir);
}
