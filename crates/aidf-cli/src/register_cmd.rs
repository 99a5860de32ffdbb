//! `aidf shipments list|show` and `aidf record`: the shipment register and the compliance record
//! at the command line (the CLI's tenant, `local`). Bad input is one line naming the option and
//! its value (exit 2, as every CLI error).

use std::path::Path;

use aidf_ledger::{ShipmentQuery, ShipmentStatus};
use aidf_record::Format;
use aidf_service::register::{
    RegisterError, ShipmentList, compliance_record, list_shipments, show_shipment,
};
use anyhow::{Context, Result, anyhow};
use clap::{Subcommand, ValueEnum};

use crate::cmd::print;
use crate::ledger_cmd::{LOCAL_TENANT, must_exist, open};

/// `--status`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    /// Authorized shipments.
    Authorized,
    /// Refused shipments.
    Refused,
}

/// `--format` of `aidf record`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// PDF (DejaVu Sans embedded; characters it lacks printed as code points).
    Pdf,
    /// One self-contained HTML page with a print stylesheet.
    Html,
    /// The record as JSON.
    Json,
}

/// `aidf shipments …`
#[derive(Debug, Subcommand)]
pub enum ShipmentsAction {
    /// Recorded shipments, newest first, one page at a time.
    List {
        /// Only authorized or only refused shipments.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Consignee name (case and white space ignored; any script).
        #[arg(long)]
        consignee: Option<String>,
        /// Destination country (ISO alpha-2).
        #[arg(long)]
        country: Option<String>,
        /// First business date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last business date (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Page size (1-1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The cursor a previous page printed.
        #[arg(long)]
        after: Option<String>,
        /// Print JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV.
        #[arg(long)]
        csv: bool,
    },
    /// One recorded shipment, as `aidf ship` answered it.
    Show {
        /// Shipment id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A register error as one line naming the option.
fn cli_error(e: RegisterError) -> anyhow::Error {
    match e {
        RegisterError::Invalid {
            field,
            value,
            reason,
        } => anyhow!("option `--{field}`: `{value}`: {reason}"),
        other => anyhow!(other),
    }
}

/// `aidf shipments …`
pub fn shipments(db: &str, action: ShipmentsAction) -> Result<()> {
    must_exist(db)?;
    let mut ledger = open(db)?;
    match action {
        ShipmentsAction::List {
            status,
            consignee,
            country,
            from,
            to,
            limit,
            after,
            json,
            csv,
        } => {
            let query = ShipmentQuery {
                tenant: LOCAL_TENANT.into(),
                status: status.map(|s| match s {
                    StatusArg::Authorized => ShipmentStatus::Authorized,
                    StatusArg::Refused => ShipmentStatus::Refused,
                }),
                consignee,
                country,
                from,
                to,
                after,
                limit,
            };
            let page = list_shipments(ledger.store(), LOCAL_TENANT, &query).map_err(cli_error)?;
            match (json, csv) {
                (true, _) => print(&(serde_json::to_string_pretty(&page)? + "\n")),
                (_, true) => print(&csv_text(&page)?),
                _ => print(&table(&page)),
            }
        }
        ShipmentsAction::Show { id, json } => {
            let view = show_shipment(ledger.store(), LOCAL_TENANT, &id).map_err(cli_error)?;
            if json {
                print(&(serde_json::to_string_pretty(&view)? + "\n"))
            } else {
                let s = &view.summary;
                let mut text = format!(
                    "Recorded: {} (business date {})\n",
                    s.recorded_at_utc,
                    s.business_date.as_deref().unwrap_or("—")
                );
                let kinds = crate::ledger_cmd::entry_kinds(ledger.store(), &view.outcome)?;
                text += &crate::ledger_cmd::outcome_text(&view.outcome, &kinds);
                print(&text)
            }
        }
    }
}

/// The page as an aligned table (the consignee last: names of any script and width), times to
/// the second like the ledger's tables, the TPP to the right.
fn table(page: &ShipmentList) -> String {
    if page.items.is_empty() {
        return "No shipments.\n".into();
    }
    let cols = |s: &aidf_service::register::ShipmentSummary| {
        vec![
            crate::ledger_view::time(s.recorded_at),
            s.shipment_id.clone(),
            s.status.as_str().to_string(),
            s.authorization.clone(),
            s.business_date.clone().unwrap_or_default(),
            s.destination.clone().unwrap_or_default(),
            s.total_tpp
                .map_or(String::new(), |t| aidf_core::explain::thousands(t.into())),
            s.consignee.clone().unwrap_or_default(),
        ]
    };
    let head = [
        "RECORDED (UTC)",
        "ID",
        "STATUS",
        "AUTH",
        "DATE",
        "DEST",
        "TPP",
        "CONSIGNEE",
    ];
    let rows: Vec<Vec<String>> = page.items.iter().map(cols).collect();
    let tpp_column = head.iter().position(|h| *h == "TPP");
    let mut out = crate::render::aligned_right(&head, &rows, tpp_column.as_slice());
    if let Some(next) = &page.next {
        out += &format!("More: --after {next}\n");
    }
    out
}

fn csv_text(page: &ShipmentList) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "shipment_id",
        "status",
        "authorization",
        "recorded_at",
        "business_date",
        "destination",
        "consignee",
        "total_tpp",
        "license_id",
        "refusal",
    ])?;
    for s in &page.items {
        w.write_record([
            s.shipment_id.as_str(),
            s.status.as_str(),
            s.authorization.as_str(),
            s.recorded_at_utc.as_str(),
            s.business_date.as_deref().unwrap_or(""),
            s.destination.as_deref().unwrap_or(""),
            s.consignee.as_deref().unwrap_or(""),
            &s.total_tpp.map_or(String::new(), |t| t.to_string()),
            s.license_id.as_deref().unwrap_or(""),
            s.refusal.as_deref().unwrap_or(""),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("csv: {e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// `aidf record ID --format … -o FILE`: the shipment `ID`'s record, or, when no shipment has
/// that id, the application `ID`'s.
pub fn record(db: &str, id: &str, format: FormatArg, output: &Path) -> Result<()> {
    must_exist(db)?;
    let mut ledger = open(db)?;
    // The shipment's own audit record is chained before it is looked up.
    ledger.chain()?;
    let (format, format_name) = match format {
        FormatArg::Pdf => (Format::Pdf, "PDF"),
        FormatArg::Html => (Format::Html, "HTML"),
        FormatArg::Json => (Format::Json, "JSON"),
    };
    let (bytes, what) = match compliance_record(ledger.store(), LOCAL_TENANT, id, db) {
        Ok(record) => (aidf_record::render(&record, format)?, "shipment"),
        Err(RegisterError::NotFound { .. }) => (
            application_record(&mut ledger, db, id, format)?,
            "application",
        ),
        Err(e) => return Err(cli_error(e)),
    };
    std::fs::write(output, bytes)
        .with_context(|| format!("option `-o`: cannot write `{}`", output.display()))?;
    print(&format!(
        "wrote the compliance record of {what} `{id}` to {} ({format_name})\n",
        output.display()
    ))
}

/// The application `id`'s record, or "no shipment or application" naming the id.
fn application_record(
    ledger: &mut aidf_ledger::Ledger,
    db: &str,
    id: &str,
    format: Format,
) -> Result<Vec<u8>> {
    let who = aidf_service::application::Actor {
        tenant: LOCAL_TENANT,
        record_prefix: "",
        actor: "local",
        posture: aidf_core::Posture::AsWritten,
        now: aidf_ledger::Timestamp::now_utc(),
    };
    match aidf_service::application_record::application_record(ledger.store(), &who, id, db) {
        Ok(r) => Ok(aidf_record::render_application(&r, format)?),
        Err(aidf_service::application::ApplicationError::Unknown(_)) => Err(anyhow!(
            "argument `ID`: no shipment or application `{id}` in the ledger"
        )),
        Err(e) => Err(e.into()),
    }
}
