//! `aidf screen decide|decisions|thresholds`: officers' decisions on screening hits and the
//! screening thresholds of the `local` tenant, in the ledger (`aidf_service::screening_decisions`).

use std::fmt::Write as _;
use std::path::PathBuf;

use aidf_ledger::PartyDecision;
use aidf_ledger::audit::AuditContext;
use aidf_service::screening_decisions::{self, DecideRequest, DecisionView, ThresholdsView};
use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};

use crate::cmd::print;
use crate::ledger_cmd::{LOCAL_TENANT, db_arg, must_exist, open};
use crate::ledger_view::time;

/// The ledger and output options of these commands.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Ledger location.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `aidf screen decide …`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["not_same", "same"])))]
pub struct DecideArgs {
    /// The party's name as screened.
    #[arg(long)]
    party: String,
    /// The list entry: `LIST:ID` (the list's code and the entry's id, or its published name for
    /// the lists without ids, e.g. `EL:HUAWEI TECHNOLOGIES CO., LTD.`).
    #[arg(long, value_name = "LIST:ID")]
    entry: String,
    /// The party is not the listed one: the possible hit no longer holds its transactions.
    #[arg(long)]
    not_same: bool,
    /// The party is the listed one: the hit counts as a clear hit.
    #[arg(long)]
    same: bool,
    /// Why (required).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// `aidf screen thresholds …`
#[derive(Debug, Subcommand)]
pub enum ThresholdsAction {
    /// Set the clear and possible thresholds (exact decimals, 0 < possible <= clear <= 1).
    Set {
        /// Clear-hit threshold.
        #[arg(long)]
        clear: String,
        /// Possible-hit threshold.
        #[arg(long)]
        possible: String,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Show the thresholds screening uses (the defaults until set).
    Show {
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

/// Records a decision.
pub fn decide(args: DecideArgs) -> Result<()> {
    let mut ledger = open(&db_arg(&args.ledger.db))?;
    let by = AuditContext::local_user().actor;
    let req = DecideRequest {
        tenant: LOCAL_TENANT,
        party: &args.party,
        entry: &args.entry,
        decision: if args.same {
            PartyDecision::SameParty
        } else {
            PartyDecision::NotTheSameParty
        },
        reason: &args.reason,
        by: &by,
    };
    let lists = aidf_service::screening::default_lists()?;
    let d = screening_decisions::decide(
        ledger.store(),
        lists,
        &req,
        aidf_ledger::Timestamp::now_utc(),
    )?;
    if args.ledger.json {
        return print(&(serde_json::to_string_pretty(&d)? + "\n"));
    }
    print(&format!(
        "Decision {}: `{}` is {} on {}:{} (entry {}), by {}: {}\n",
        d.id,
        d.party,
        d.decision.as_str().replace('_', " "),
        d.list,
        d.entry_id,
        d.entry_fingerprint,
        d.by,
        d.reason
    ))
}

/// Lists the decisions.
pub fn decisions(args: LedgerArgs) -> Result<()> {
    let db = db_arg(&args.db);
    must_exist(&db)?;
    let mut ledger = open(&db)?;
    let all = screening_decisions::decisions(ledger.store(), LOCAL_TENANT)?;
    if args.json {
        return print(&(serde_json::to_string_pretty(&all)? + "\n"));
    }
    print(&decisions_text(&all))
}

fn decisions_text(all: &[DecisionView]) -> String {
    if all.is_empty() {
        return "No screening decisions recorded.\n".to_owned();
    }
    let mut out = String::new();
    for v in all {
        let d = &v.decision;
        let _ = writeln!(
            out,
            "{}  {:<18}  {}:{}  party `{}`  by {}{}\n    reason: {}",
            time(d.at),
            d.decision.as_str(),
            d.list,
            d.entry_id,
            d.party,
            d.by,
            if v.current { "" } else { "  (superseded)" },
            d.reason
        );
    }
    out
}

/// Sets or shows the thresholds.
pub fn thresholds(action: ThresholdsAction) -> Result<()> {
    let (view, json) = match action {
        ThresholdsAction::Set {
            clear,
            possible,
            ledger: args,
        } => {
            let mut ledger = open(&db_arg(&args.db))?;
            let by = AuditContext::local_user().actor;
            let now = aidf_ledger::Timestamp::now_utc();
            let set = screening_decisions::set_thresholds(
                ledger.store(),
                LOCAL_TENANT,
                &clear,
                &possible,
                &by,
                now,
            )?;
            (set, args.json)
        }
        ThresholdsAction::Show { ledger: args } => {
            let db = db_arg(&args.db);
            must_exist(&db)?;
            let mut ledger = open(&db)?;
            (
                screening_decisions::thresholds(ledger.store(), LOCAL_TENANT)?,
                args.json,
            )
        }
    };
    if json {
        return print(&(serde_json::to_string_pretty(&view)? + "\n"));
    }
    print(&thresholds_text(&view))
}

fn thresholds_text(v: &ThresholdsView) -> String {
    let set = match (&v.set_by, v.set_at) {
        (Some(by), Some(at)) => format!(" (set by {by} at {})", time(at)),
        _ => " (the defaults)".to_owned(),
    };
    format!(
        "Screening thresholds of tenant `{}`{set}:\n  clear hit:    score >= {}\n  possible hit: score >= {}\n",
        v.tenant, v.clear, v.possible
    )
}
