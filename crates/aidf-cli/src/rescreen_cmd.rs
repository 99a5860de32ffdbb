//! `aidf screen rescreen`: every party the ledger records screened against a new list version
//! and the previous one (`aidf_service::rescreen`), the changes printed as a summary line and a
//! table, or as JSON.

use std::path::PathBuf;

use aidf_screen::{ListSet, Verdict};
use aidf_service::rescreen::{Appearances, EntryHit, RescreenReport, Scope, rescreen};
use aidf_service::screening::ListVersionRef;
use anyhow::Result;
use clap::Args;

use crate::cmd::print;
use crate::ledger_cmd::{LOCAL_TENANT, db_arg, must_exist, open};
use crate::screen_cmd::{ThresholdArgs, load_lists_of};

/// `aidf screen rescreen …`
#[derive(Debug, Args)]
pub struct RescreenArgs {
    /// The new list version: DIR/lists.toml and the files it names.
    #[arg(long, value_name = "DIR")]
    lists: PathBuf,
    /// The previous list version (default: the embedded lists, the CSL of 2026-07-31).
    #[arg(long, value_name = "DIR")]
    previous: Option<PathBuf>,
    /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL.
    #[arg(long)]
    db: Option<PathBuf>,
    #[command(flatten)]
    thresholds: ThresholdArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `aidf screen rescreen`.
pub fn run(args: &RescreenArgs) -> Result<()> {
    let thresholds = args.thresholds.thresholds()?;
    let db = db_arg(&args.db);
    must_exist(&db)?;
    let current = load_lists_of("--lists", &args.lists)?;
    let previous = match &args.previous {
        Some(dir) => load_lists_of("--previous", dir)?,
        None => ListSet::default_lists()?,
    };
    let mut ledger = open(&db)?;
    let scope = Scope {
        tenant: LOCAL_TENANT,
        record_prefix: "",
    };
    let report = rescreen(ledger.store(), scope, &previous, &current, thresholds)?;
    if args.json {
        print(&(serde_json::to_string_pretty(&report)? + "\n"))
    } else {
        print(&text(&report))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn versions(v: &[ListVersionRef]) -> String {
    v.iter()
        .map(|v| format!("{} of {} ({})", v.id, v.date, v.sha256))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary line, the versions, then one table row per changed hit.
fn text(r: &RescreenReport) -> String {
    let mut out = format!(
        "{} rescreened: {}, {}, {}; {} as before.\n",
        plural(r.parties_screened, "party", "parties"),
        plural(r.new_hits, "new hit", "new hits"),
        plural(r.cleared_hits, "cleared hit", "cleared hits"),
        plural(r.changed_hits, "changed verdict", "changed verdicts"),
        plural(r.parties_still_hit, "party still hit", "parties still hit"),
    );
    out += &format!("Previous: {}\n", versions(&r.previous));
    out += &format!("Current:  {}\n", versions(&r.current));
    if !r.changes.is_empty() {
        out += "\n";
        out += &crate::render::aligned(&HEAD, &rows(r));
    }
    for n in &r.not_screened {
        out += &format!("Not screened: `{}`: {}\n", n.name, n.error);
    }
    out
}

const HEAD: [&str; 9] = [
    "CHANGE", "PARTY", "CTRY", "BEFORE", "AFTER", "LIST", "ID", "ENTRY", "TOUCHES",
];

fn rows(r: &RescreenReport) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for c in &r.changes {
        let hits = c
            .new_hits
            .iter()
            .map(|h| ("new", None, h))
            .chain(c.cleared_hits.iter().map(|h| ("cleared", None, h)))
            .chain(
                c.changed_hits
                    .iter()
                    .map(|h| ("changed", Some(h.verdict_before), &h.hit)),
            );
        for (kind, before, hit) in hits {
            let (before, after) = match (kind, before) {
                ("new", _) => (Verdict::NoMatch, hit.verdict),
                ("cleared", _) => (hit.verdict, Verdict::NoMatch),
                (_, b) => (b.unwrap_or(Verdict::NoMatch), hit.verdict),
            };
            rows.push(vec![
                kind.to_owned(),
                c.name.clone(),
                c.country.clone().unwrap_or_default(),
                verdict(before),
                verdict(after),
                hit.list.clone(),
                hit.id.clone().unwrap_or_default(),
                entry(hit),
                touches(&c.appears),
            ]);
        }
    }
    rows
}

fn verdict(v: Verdict) -> String {
    match v {
        Verdict::NoMatch => "-",
        Verdict::PossibleHit => "possible",
        Verdict::ClearHit => "clear",
    }
    .to_owned()
}

fn entry(h: &EntryHit) -> String {
    let mut text = if h.citations.is_empty() {
        h.entry.clone()
    } else {
        format!("{} ({})", h.entry, h.citations.join(", "))
    };
    if let Some(d) = &h.decision {
        let state = if d.applied {
            "applies"
        } else {
            "does not apply"
        };
        text += &format!("; decision {} by {}: {state} ({})", d.id, d.by, d.note);
    }
    text
}

/// What the party touches: licenses, held shipments, pending applications, VEUs, shipments.
fn touches(a: &Appearances) -> String {
    let mut parts = Vec::new();
    let mut named = |label: &str, ids: &[String]| {
        if !ids.is_empty() {
            parts.push(format!("{label} {}", ids.join(" ")));
        }
    };
    named("licenses", &a.licenses);
    named("held", &a.held_shipments);
    named("applications", &a.pending_applications);
    named("VEUs", &a.veus);
    if a.shipments > 0 {
        parts.push(plural(a.shipments as usize, "shipment", "shipments"));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join("; ")
    }
}
