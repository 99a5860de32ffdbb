//! `aidf report NAME` (issue 15, item 7): reports to BIS from the ledger. The reports are built by
//! `aidf_service::reports`; this module parses the period and renders text, CSV, JSON or PDF (the
//! compliance record's layout, `aidf_record::report_pdf`, written to `-o FILE`).

use std::path::PathBuf;

use aidf_core::DeterminationInput;
use aidf_core::Policy;
use aidf_core::explain::thousands;
use aidf_service::application::Actor;
use aidf_service::reports::{self, Report};
use aidf_service::reports_due::{self, DueReport};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::ValueEnum;

use crate::cmd::{PostureArg, print, read_input};
use crate::ledger_cmd::{LOCAL_TENANT, db_arg, must_exist, open};

/// The reports.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportName {
    /// Data Center VEU semi-annual report (`--period 2025-H1`).
    #[value(alias = "veu_semiannual")]
    VeuSemiannual,
    /// AIA consignees whose cumulative TPP reached the reporting trigger (`--as-of DATE`).
    #[value(alias = "aia_certifications")]
    AiaCertifications,
    /// LPP consignees of a calendar year and their certifications (`--period 2025`).
    #[value(alias = "lpp_certifications")]
    LppCertifications,
    /// The reports due as of a date (`--as-of DATE`, default today), with status and reason.
    Due,
    /// The content of a License Exception NAC notification (`--shipment ID` recorded, or
    /// `--input FILE` prospective; `--as-of` is the notification date).
    #[value(alias = "nac_notification")]
    NacNotification,
}

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// A table for a person.
    Text,
    /// CSV: a header row, then one row per line.
    Csv,
    /// JSON: the report with its period, due date, citation, regime and notes.
    Json,
    /// PDF (needs `-o FILE`): title, tenant, period, due date, provenance, notes and rows.
    Pdf,
}

/// `aidf report …`
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The report.
    #[arg(value_enum, ignore_case = true)]
    name: ReportName,
    /// The period: `YYYY-H1`/`YYYY-H2` for the VEU report, `YYYY` for LPP.
    #[arg(long)]
    period: Option<String>,
    /// The AIA report counts shipments dated up to this date; the NAC notification is sent on
    /// it (default: today).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// NAC notification: a recorded shipment's id.
    #[arg(long)]
    shipment: Option<String>,
    /// NAC notification: a prospective shipment, as the JSON input of `aidf check` (`-` for stdin).
    #[arg(long)]
    input: Option<PathBuf>,
    /// The file to write (required for `--format pdf`).
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "text")]
    format: ReportFormat,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Posture whose regime gives the numbers (default: the config file's, else as-written).
    #[arg(long, value_enum, ignore_case = true)]
    posture: Option<PostureArg>,
    /// Ledger (default: `AIDF_DB`, the config file, ./aidf.db).
    #[arg(long)]
    db: Option<PathBuf>,
}

/// Runs `aidf report …`.
pub fn run(policy: &Policy, args: ReportArgs) -> Result<()> {
    let db = db_arg(&args.db);
    must_exist(&db)?;
    let mut ledger = open(&db)?;
    let format = if args.json {
        ReportFormat::Json
    } else {
        args.format
    };
    let name = match args.name {
        ReportName::VeuSemiannual => reports::ReportName::VeuSemiannual,
        ReportName::AiaCertifications => reports::ReportName::AiaCertifications,
        ReportName::LppCertifications => reports::ReportName::LppCertifications,
        ReportName::Due => return due(policy, &mut ledger, &args, format),
        ReportName::NacNotification => reports::ReportName::NacNotification,
    };
    if matches!(format, ReportFormat::Pdf) && args.output.is_none() {
        anyhow::bail!("option `-o`: `--format pdf` writes a file; give -o FILE");
    }
    let input = match &args.input {
        Some(file) => Some(DeterminationInput::from_json(&read_input(file)?)?),
        None => None,
    };
    let req = reports::ReportRequest {
        name,
        period: args.period.as_deref(),
        as_of: args.as_of,
        shipment: args.shipment.as_deref(),
        input: input.as_ref(),
        posture: crate::config::posture(args.posture).into(),
        today: chrono::Utc::now().date_naive(),
    };
    let report =
        reports::build(ledger.store(), policy, LOCAL_TENANT, &req).map_err(|e| match e {
            reports::ReportError::Input { field, message } => {
                anyhow::anyhow!("option `--{field}`: {message}")
            }
            e @ reports::ReportError::ShipmentNotFound(_) => {
                anyhow::anyhow!("option `--shipment`: {e}")
            }
            other => other.into(),
        })?;
    let bytes = match format {
        ReportFormat::Json => (serde_json::to_string_pretty(&report)? + "\n").into_bytes(),
        ReportFormat::Csv => csv_bytes(&report)?,
        ReportFormat::Text => text(&report).into_bytes(),
        ReportFormat::Pdf => aidf_record::report_pdf(&report)?,
    };
    match &args.output {
        Some(file) => std::fs::write(file, bytes)
            .with_context(|| format!("option `-o`: cannot write `{}`", file.display())),
        None => print(&String::from_utf8_lossy(&bytes)),
    }
}

/// `aidf report due`: the reports due for the local tenant as of `--as-of` (default today).
fn due(
    policy: &Policy,
    ledger: &mut aidf_ledger::Ledger,
    args: &ReportArgs,
    format: ReportFormat,
) -> Result<()> {
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let who = Actor {
        tenant: LOCAL_TENANT,
        record_prefix: "",
        actor: "local",
        posture: crate::config::posture(args.posture).into(),
        now: aidf_ledger::Timestamp::now_utc(),
    };
    let due = reports_due::due(ledger.store(), policy, &who, as_of)?;
    match format {
        ReportFormat::Json => print(&(serde_json::to_string_pretty(&due)? + "\n")),
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(DUE_COLUMNS)?;
            for row in due_rows(&due) {
                w.write_record(&row)?;
            }
            w.flush()?;
            Ok(())
        }
        ReportFormat::Text => print(&due_text(&due, as_of)),
        ReportFormat::Pdf => {
            anyhow::bail!(
                "option `--format`: `pdf` is not available for `due`; use text, csv or json"
            )
        }
    }
}

const DUE_COLUMNS: [&str; 5] = ["report", "period", "due", "status", "reason"];

fn due_rows(due: &[DueReport]) -> Vec<Vec<String>> {
    due.iter()
        .map(|d| {
            vec![
                d.report.clone(),
                d.period.clone(),
                d.due.to_string(),
                d.status.as_str().to_string(),
                d.reason.clone(),
            ]
        })
        .collect()
}

/// The reports due for a person: a heading, then the table.
pub fn due_text(due: &[DueReport], as_of: NaiveDate) -> String {
    let mut out = format!("Reports due as of {as_of}\n\n");
    if due.is_empty() {
        out.push_str("nothing due\n");
        return out;
    }
    let header = DUE_COLUMNS.map(str::to_uppercase);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&crate::render::aligned_right(&header, &due_rows(due), &[]));
    out
}

fn csv_bytes(r: &Report) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&r.columns)?;
    for row in &r.rows {
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))
}

/// The report for a person: its heading, then the table with grouped numbers.
pub fn text(r: &Report) -> String {
    let mut out = format!("{} — {}\ntenant: {}\n", r.title, r.period, r.tenant);
    if let Some(due) = &r.due {
        out.push_str(&format!("due: {due}\n"));
    }
    if !r.citation.is_empty() {
        out.push_str(&format!("citation: {}\n", r.citation));
    }
    if let Some((id, digest)) = &r.regime {
        out.push_str(&format!("regime: {id} ({digest})\n"));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push('\n');
    if r.rows.is_empty() {
        out.push_str("nothing to report\n");
        return out;
    }
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, v)| match v.parse::<u128>() {
                    Ok(n) if r.numeric.contains(&i) => thousands(n),
                    _ => v.clone(),
                })
                .collect()
        })
        .collect();
    let header: Vec<String> = r.columns.iter().map(|c| c.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&crate::render::aligned_right(&header, &rows, &r.numeric));
    out
}
