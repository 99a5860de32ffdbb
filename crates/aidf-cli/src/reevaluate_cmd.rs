//! `aidf reevaluate --under ID [--db DB | --batch FILE] [--format table|csv|json]`.

use std::fmt::Write;
use std::path::PathBuf;

use aidf_core::Policy;
use aidf_core::explain::thousands;
use aidf_ledger::Ledger;
use aidf_service::reevaluate::{self, Report};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::cmd::{print, read_input};

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Format {
    /// Aligned table with totals.
    #[default]
    Table,
    /// One CSV row per changed shipment.
    Csv,
    /// The whole report.
    Json,
}

/// Arguments of `aidf reevaluate`.
#[derive(Debug, Args)]
pub struct ReevaluateArgs {
    /// Regime to re-run under (any id, including a hypothetical added with --regime-file).
    #[arg(long, value_name = "ID")]
    pub under: String,
    /// Ledger with the recorded shipments: a SQLite path (default ./aidf.db) or a postgres:// URL.
    #[arg(long, conflicts_with = "batch")]
    pub db: Option<PathBuf>,
    /// Instead of the ledger: JSON lines of determination inputs (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "table")]
    pub format: Format,
}

/// Runs the command.
pub fn run(policy: &Policy, args: ReevaluateArgs) -> Result<()> {
    let report = match &args.batch {
        Some(file) => {
            let text = read_input(file)?;
            reevaluate::from_batch(policy, &text, &args.under)?
        }
        None => {
            let db = crate::ledger_cmd::db_arg(&args.db);
            if !db.starts_with("postgres://")
                && !db.starts_with("postgresql://")
                && !std::path::Path::new(&db).exists()
            {
                anyhow::bail!("option `--db`: ledger `{db}` does not exist");
            }
            let mut ledger = Ledger::open(&db)
                .with_context(|| format!("option `--db`: cannot open ledger `{db}`"))?;
            reevaluate::from_ledger(ledger.store(), policy, &args.under)?
        }
    };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Csv => csv(&report),
        Format::Table => table(&report),
    };
    print(&out)
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per changed shipment.
pub fn csv(r: &Report) -> String {
    let mut s = String::from(
        "id,date,destination,consignee,item,quantity,total_tpp,recorded_status,from_regime,from,to_regime,to,why\n",
    );
    for c in &r.changes {
        let why: Vec<String> = c
            .why
            .iter()
            .map(|w| format!("{}: {}", w.rule, w.detail))
            .collect();
        let row = [
            c.id.clone(),
            c.date.clone(),
            c.destination.clone(),
            c.consignee.clone(),
            c.item.clone(),
            c.quantity.to_string(),
            c.total_tpp.to_string(),
            c.recorded_status.clone().unwrap_or_default(),
            c.from.regime.clone(),
            c.from.label(),
            c.to.regime.clone(),
            c.to.label(),
            why.join(" | "),
        ];
        let _ = writeln!(
            s,
            "{}",
            row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",")
        );
    }
    s
}

/// The table with totals.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Re-evaluated {} {} shipment(s) under `{}` ({}); balances {}.\n{} changed, {} unchanged, {} skipped.",
        r.evaluated,
        r.source,
        r.under,
        r.digest,
        r.balances,
        r.changed,
        r.evaluated - r.changed,
        r.skipped.len()
    );
    if !r.changes.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<14} {:<10} {:<4} {:<16} {:<18} {:>14}  {:<24} {:<24}",
            "ID", "DATE", "DEST", "CONSIGNEE", "ITEM", "TPP", "FROM", "TO"
        );
        for c in &r.changes {
            let _ = writeln!(
                s,
                "{:<14} {:<10} {:<4} {:<16} {:<18} {:>14}  {:<24} {:<24}",
                c.id,
                c.date,
                c.destination,
                c.consignee,
                c.item,
                thousands(c.total_tpp.into()),
                c.from.label(),
                c.to.label()
            );
            for w in &c.why {
                let _ = writeln!(s, "{:<14}   why: {} [{}]", "", w.detail, w.rule);
            }
        }
    }
    let _ = writeln!(s, "\nBy country:");
    let _ = writeln!(
        s,
        "  {:<4} {:>9} {:>8} {:>16}",
        "DEST", "SHIPMENTS", "CHANGED", "CHANGED TPP"
    );
    for (cc, t) in &r.by_country {
        let _ = writeln!(
            s,
            "  {:<4} {:>9} {:>8} {:>16}",
            cc,
            t.shipments,
            t.changed,
            thousands(t.changed_tpp.into())
        );
    }
    if !r.by_outcome.is_empty() {
        let _ = writeln!(s, "\nBy outcome:");
        for (k, n) in &r.by_outcome {
            let _ = writeln!(s, "  {n:>5}  {k}");
        }
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(s, "\nSkipped:");
        for k in &r.skipped {
            let _ = writeln!(s, "  {}: {}", k.id, k.reason);
        }
    }
    s
}
