//! `aidf batch`, `aidf gen shipments` and `aidf simulate`: aidf at scale (crate `aidf-batch`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use aidf_batch::batch::{self, Format, OutFormat};
use aidf_core::Policy;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use crate::cmd::{PostureArg, print};

/// `aidf batch …`
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Input: a CSV file (columns in docs/batch.md) or JSON lines (`.jsonl`), or `-` (stdin).
    file: PathBuf,
    /// Output file: `.csv` (key fields and reason ids) or `.jsonl` (full determinations).
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    /// Ship rows in order against this ledger (SQLite path or postgres:// URL), so caps bind.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Input format when it cannot be told from the file name.
    #[arg(long, value_enum, ignore_case = true)]
    format: Option<FormatArg>,
    /// Override every row's posture.
    #[arg(long, value_enum, ignore_case = true)]
    posture: Option<PostureArg>,
    /// Pin every row's regime.
    #[arg(long)]
    regime: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 when any row was bad or (with `--ledger`) any shipment was refused.
    #[arg(long)]
    strict: bool,
}

/// File format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// CSV with a header.
    Csv,
    /// JSON lines.
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        }
    }
}

/// `aidf gen …`
#[derive(Debug, Subcommand)]
pub enum GenAction {
    /// A synthetic order book (deterministic for a seed).
    Shipments {
        /// Number of orders.
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// csv (default) or jsonl.
        #[arg(long, value_enum, ignore_case = true, default_value = "csv")]
        format: FormatArg,
    },
}

pub fn gen_cmd(policy: &Policy, action: GenAction) -> Result<()> {
    let GenAction::Shipments {
        rows,
        seed,
        out,
        format,
    } = action;
    match out {
        Some(p) => {
            let f = std::fs::File::create(&p)
                .with_context(|| format!("option `--out`: cannot create `{}`", p.display()))?;
            aidf_batch::generate::write(policy, rows, seed, format.into(), f)?;
        }
        None => aidf_batch::generate::write(
            policy,
            rows,
            seed,
            format.into(),
            std::io::stdout().lock(),
        )?,
    }
    Ok(())
}

fn input_format(file: &Path, given: Option<FormatArg>) -> Result<Format> {
    match given {
        Some(f) => Ok(f.into()),
        None => Format::from_path(file).with_context(|| {
            format!(
                "argument `FILE`: cannot tell the format of `{}` from its name; use --format csv|jsonl",
                file.display()
            )
        }),
    }
}

/// Whether `out` names the file `input` names (through links and relative paths alike). An
/// output that does not exist yet is never the input.
fn same_file(input: &Path, out: &Path) -> bool {
    match (std::fs::canonicalize(input), std::fs::canonicalize(out)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs `aidf batch`; the exit code is 1 under `--strict` when a row was bad or refused.
pub fn batch_cmd(policy: &Policy, a: BatchArgs) -> Result<std::process::ExitCode> {
    let format = input_format(&a.file, a.format)?;
    let out_format = match a.out.extension().and_then(|e| e.to_str()) {
        Some("csv") => OutFormat::Csv,
        Some("jsonl" | "ndjson") => OutFormat::Jsonl,
        _ => bail!(
            "option `--out`: `{}` must end in .csv or .jsonl",
            a.out.display()
        ),
    };
    let opts = batch::Options {
        posture: a.posture.map(Into::into),
        regime: a.regime.clone(),
        chunk_rows: None,
        block_bytes: None,
    };
    if let Some(r) = &a.regime {
        // Only the pin is checked here (each row's date picks nothing when a regime is pinned).
        crate::cmd::select_regime(policy, Some(r), chrono::NaiveDate::MIN, Default::default())?;
    }
    if let (Some(r), Some(_)) = (&a.regime, &a.ledger) {
        bail!(
            "option `--regime`: `{r}` cannot be pinned with `--ledger`; shipments are determined under the regime in force on each row's date"
        );
    }
    if same_file(&a.file, &a.out) {
        bail!(
            "option `--out`: `{}` is the input file; writing it would destroy the input before it is read",
            a.out.display()
        );
    }
    let out = std::fs::File::create(&a.out)
        .with_context(|| format!("option `--out`: cannot create `{}`", a.out.display()))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, out);
    let (input, len): (Box<dyn std::io::Read + Send>, u64) = if a.file == Path::new("-") {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = std::fs::File::open(&a.file).map_err(|e| {
            crate::cmd::unreadable_as(
                "file",
                &a.file,
                &e,
                "a CSV or JSON-lines file (or `-` for standard input)",
            )
        })?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), len)
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let progress = |rows: u64, bytes: u64| {
        if let Some(b) = &bar {
            b.set_position(bytes);
            b.set_message(format!("{rows} rows"));
        }
    };
    let mut ledger_handle = match &a.ledger {
        Some(db) => {
            let db = db.to_string_lossy().to_string();
            Some(
                crate::ledger_cmd::open(&db)
                    .with_context(|| format!("option `--ledger`: cannot open ledger `{db}`"))?,
            )
        }
        None => None,
    };
    let ledger = ledger_handle.as_mut().map(|l| batch::Ledger {
        store: l.store(),
        now: aidf_ledger::Timestamp::now_utc(),
    });
    let summary = batch::run(
        policy, format, input, out_format, out, &opts, ledger, &progress,
    )?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if a.json {
        print(&(serde_json::to_string_pretty(&summary)? + "\n"))?;
    } else {
        let h100 = policy
            .regime_on(
                chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default(),
                aidf_core::Posture::AsWritten,
            )
            .map(|(r, _)| r.spec.h100_tpp);
        print(&summary.render(h100))?;
    }
    let refused = summary.by_status.get("refused").copied().unwrap_or(0);
    Ok(if a.strict && (summary.errors > 0 || refused > 0) {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// `aidf simulate …`
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML; see docs/batch.md and examples/scenarios/).
    scenario: PathBuf,
    /// Output directory.
    #[arg(long, default_value = "sim-out")]
    out: PathBuf,
    /// Skip the SVG/PNG charts.
    #[arg(long)]
    no_charts: bool,
}

/// One line per country whose license applications wait or are denied: what became of them.
fn licensing_lines(run: &aidf_batch::simulate::RunResult, h100_tpp: u64) -> String {
    use aidf_batch::simulate::share_text;
    use aidf_core::explain::h100e_text as h100e;
    let mut s = String::new();
    for c in &run.countries {
        let l = &c.licensing;
        if l.approval_lag_days == 0 && l.denial_per_mille == 0 {
            continue;
        }
        let demand: u128 = c.quarters.iter().map(|q| q.demand_tpp).sum();
        s += &format!(
            "  licensing {} (lag {} days, denial share {}): demand {} H100e, licensed {} H100e, \
             denied {} H100e, refused at grant {} H100e, pending at horizon {} H100e, \
             mean delay {}\n",
            c.country,
            l.approval_lag_days,
            share_text(l.denial_per_mille),
            h100e(demand, h100_tpp),
            h100e(l.granted_tpp, h100_tpp),
            h100e(l.denied_tpp, h100_tpp),
            h100e(l.refused_at_grant_tpp, h100_tpp),
            h100e(l.pending_tpp, h100_tpp),
            l.mean_delay_days()
                .map(|d| format!("{d} days"))
                .unwrap_or_else(|| "none granted".into()),
        );
    }
    s
}

pub fn simulate_cmd(policy: &Policy, a: SimulateArgs) -> Result<()> {
    if a.out.exists() && !a.out.is_dir() {
        bail!(
            "option `--out`: `{}` is a file; expected a directory (new or existing)",
            a.out.display()
        );
    }
    let text = std::fs::read_to_string(&a.scenario).map_err(|e| {
        crate::cmd::unreadable_as("scenario", &a.scenario, &e, "a scenario TOML file")
    })?;
    let sc =
        aidf_batch::scenario::Scenario::parse(&a.scenario.display().to_string(), &text, policy)?;
    let t0 = std::time::Instant::now();
    let res = aidf_batch::simulate::simulate(policy, &sc)?;
    let elapsed = t0.elapsed();
    let mut files = aidf_batch::simulate::write_outputs(&a.out, &res)?;
    if !a.no_charts {
        files.extend(aidf_batch::charts::write_all(&a.out, &res)?);
    }
    let h = res.h100_tpp;
    let mut s = format!(
        "{}: {} orders x {} run(s), {} quarters ({} to {}), simulated in {:.2?}\n",
        res.scenario,
        aidf_core::explain::thousands(res.orders().into()),
        res.runs.len(),
        res.quarters.len(),
        res.quarters.first().map(String::as_str).unwrap_or(""),
        res.quarters.last().map(String::as_str).unwrap_or(""),
        elapsed
    );
    for run in &res.runs {
        let all = || run.countries.iter().flat_map(|c| &c.quarters);
        let demand: u128 = all().map(|q| q.demand_tpp).sum();
        let granted: u128 = all().map(|q| q.granted_tpp).sum();
        let refused: u128 = all().map(|q| q.refused_tpp).sum();
        s += &format!(
            "{}: demand {} H100e, granted {} H100e, refused {} H100e\n",
            run.name,
            aidf_core::explain::h100e_text(demand, h),
            aidf_core::explain::h100e_text(granted, h),
            aidf_core::explain::h100e_text(refused, h)
        );
        let binds: Vec<String> = run
            .countries
            .iter()
            .filter_map(|c| {
                c.binds
                    .map(|q| format!("{} {}", c.country, res.quarters[q as usize]))
            })
            .collect();
        if !binds.is_empty() {
            s += &format!("  allocation binds: {}\n", binds.join(", "));
        }
        s += &licensing_lines(run, h);
    }
    for f in files {
        s += &format!("wrote {}\n", f.display());
    }
    print(&s)
}
