//! `aidf application …` (issue 15): license applications at the command line. The use cases are
//! `aidf_service::application`; this module parses arguments and renders.

use std::path::PathBuf;

use aidf_core::explain::thousands;
use aidf_core::{Policy, Posture};
use aidf_ledger::audit::AuditContext;
use aidf_ledger::{LedgerStore, LicenseCondition, Timestamp};
use aidf_service::application::{
    self, Actor, ApplicationState, ApplicationView, Approval, Decision,
};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Subcommand;

use crate::cmd::{PostureArg, print, read_input};
use crate::ledger_cmd::{LOCAL_TENANT, must_exist, open};

/// `aidf application …`
#[derive(Debug, Subcommand)]
pub enum ApplicationAction {
    /// File an application (JSON, BIS-748P blocks) from FILE or `-` (standard input).
    Submit {
        /// The application (JSON).
        file: PathBuf,
        /// Posture to determine under (default as written).
        #[arg(long, value_enum, ignore_case = true)]
        posture: Option<PostureArg>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record BIS's decision: approve into a license, deny, or return without action.
    Decide {
        /// Application id.
        id: String,
        #[command(flatten)]
        decision: DecideArgs,
        /// Decision date.
        #[arg(long)]
        date: NaiveDate,
        /// A note (what BIS said).
        #[arg(long, default_value = "")]
        note: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record another transition: registered, referred, hold_without_action, withdrawn.
    Transition {
        /// Application id.
        id: String,
        /// The state reached.
        #[arg(long)]
        to: String,
        /// Date.
        #[arg(long)]
        date: NaiveDate,
        /// A note.
        #[arg(long, default_value = "")]
        note: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List applications.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Processing times: days to decision (p50/p90) by destination and outcome, the pending
    /// queue by age, the approval rate.
    Stats {
        /// Count as of this date (default: today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one application with its determination and transitions.
    Show {
        /// Application id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What BIS decided.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// Approve (needs `--license-id`).
    #[arg(long, conflicts_with_all = ["deny", "return_"])]
    approve: bool,
    /// Deny.
    #[arg(long, conflicts_with_all = ["approve", "return_"])]
    deny: bool,
    /// Return without action.
    #[arg(long = "return", conflicts_with_all = ["approve", "deny"])]
    return_: bool,
    /// The license an approval becomes.
    #[arg(long)]
    license_id: Option<String>,
    /// The approval's conditions: a JSON array such as
    /// `[{"kind":"end_user_unchanged"},{"kind":"report_within_days","days":30}]`.
    #[arg(long)]
    conditions: Option<PathBuf>,
    /// License expiry (default: `policy/licensing.toml`, read as four years; reported as [U]).
    #[arg(long)]
    expires: Option<NaiveDate>,
    /// Units approved, when fewer than applied for.
    #[arg(long)]
    units: Option<u64>,
    /// TPP approved, when less than applied for.
    #[arg(long)]
    tpp: Option<u64>,
}

impl DecideArgs {
    fn decision(self) -> Result<Decision> {
        if self.approve {
            let license_id = self
                .license_id
                .context("option `--license-id`: an approval names its license")?;
            Ok(Decision::Approve(Approval {
                license_id,
                expires_on: self.expires,
                units: self.units,
                tpp: self.tpp,
                conditions: read_conditions(self.conditions)?,
            }))
        } else if self.deny {
            Ok(Decision::To(ApplicationState::Denied))
        } else if self.return_ {
            Ok(Decision::To(ApplicationState::ReturnedWithoutAction))
        } else {
            bail!("option `--approve`, `--deny` or `--return`: one is needed")
        }
    }
}

/// Runs `aidf application …`.
pub fn run(policy: &Policy, db: &str, action: ApplicationAction) -> Result<()> {
    if matches!(
        action,
        ApplicationAction::List { .. }
            | ApplicationAction::Show { .. }
            | ApplicationAction::Stats { .. }
    ) {
        must_exist(db)?;
    }
    // A bad application file is reported before a ledger is opened (or created).
    let submitted = match &action {
        ApplicationAction::Submit { file, .. } => {
            Some(application::parse_application(&read_input(file)?)?)
        }
        _ => None,
    };
    let mut ledger = open(db)?;
    let store = ledger.store();
    let actor = AuditContext::local_user().actor;
    let mut who = Actor {
        tenant: LOCAL_TENANT,
        record_prefix: "",
        actor: &actor,
        posture: Posture::AsWritten,
        now: Timestamp::now_utc(),
    };
    match action {
        ApplicationAction::Submit { posture, json, .. } => {
            let input = submitted.context("application file read above")?;
            who.posture = posture.map_or(Posture::AsWritten, Posture::from);
            let v = application::submit(store, policy, &input, &who)?;
            render(&v, json)
        }
        ApplicationAction::Decide {
            id,
            decision,
            date,
            note,
            json,
        } => {
            let decision = decision.decision()?;
            let v = application::decide(store, &id, &decision, date, &note, &who)?;
            render(&v, json)
        }
        ApplicationAction::Transition {
            id,
            to,
            date,
            note,
            json,
        } => {
            let state = ApplicationState::parse(&to)
                .filter(|s| !matches!(s, ApplicationState::Approved))
                .with_context(|| {
                    format!("option `--to`: `{to}` is not one of registered, referred, hold_without_action, denied, returned_without_action, withdrawn (approve with `decide --approve`)")
                })?;
            let v = application::decide(store, &id, &Decision::To(state), date, &note, &who)?;
            render(&v, json)
        }
        ApplicationAction::List { json } => list(store, &who, json),
        ApplicationAction::Stats { as_of, json } => {
            let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let s = aidf_service::application_stats::stats(store, &who, as_of)?;
            if json {
                print(&(serde_json::to_string_pretty(&s)? + "\n"))
            } else {
                print(&stats_text(&s))
            }
        }
        ApplicationAction::Show { id, json } => {
            let v = application::show(store, &who, &id)?;
            render(&v, json)
        }
    }
}

/// License conditions from a JSON file (`--conditions`), read strictly: a list, each fault named
/// by its path.
pub(crate) fn read_conditions(file: Option<PathBuf>) -> Result<Vec<LicenseCondition>> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let text = read_input(&file)?;
    aidf_core::strict_json::parse_list(&text, "license conditions")
        .map_err(|e| anyhow::anyhow!("option `--conditions`: {e}"))
}

fn list(store: &mut dyn LedgerStore, who: &Actor<'_>, json: bool) -> Result<()> {
    let apps = application::list(store, who)?;
    if json {
        return print(&(serde_json::to_string_pretty(&apps)? + "\n"));
    }
    let mut out = String::new();
    for a in &apps {
        out.push_str(&format!(
            "{}  {}  {}  {}  {} TPP  review: {}{}\n",
            a.id,
            a.state,
            a.state_date,
            a.input.destination,
            thousands(a.total_tpp.into()),
            a.review_policy.as_deref().unwrap_or("none"),
            a.license_id
                .as_deref()
                .map(|l| format!("  license {l}"))
                .unwrap_or_default()
        ));
    }
    if apps.is_empty() {
        out.push_str("no applications\n");
    }
    print(&out)
}

/// An amount of US dollars (whole cents, checked on submission), grouped: `1,250,000.00`.
fn usd_grouped(value: &impl std::fmt::Display) -> String {
    let text = format!("{value:.2}");
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    match whole.parse::<u128>() {
        Ok(w) => format!("{}.{cents}", thousands(w)),
        Err(_) => text,
    }
}

fn render(v: &ApplicationView, json: bool) -> Result<()> {
    if json {
        return print(&(serde_json::to_string_pretty(v)? + "\n"));
    }
    let a = &v.application;
    let mut out = format!(
        "application {}: {} ({})\n  consignee {} ({}), destination {}\n  {} units, {} TPP, USD {}\n  review policy: {}\n",
        a.id,
        a.state,
        a.state_date,
        a.input.consignee.name,
        a.input.consignee.hq,
        a.input.destination,
        thousands(a.total_units.into()),
        thousands(a.total_tpp.into()),
        usd_grouped(&a.input.value_usd),
        a.review_policy
            .as_deref()
            .unwrap_or("none (no license required)"),
    );
    for d in &a.determinations {
        out.push_str(&format!(
            "  item {}: {}, {} TPP\n",
            d.index,
            d.authorization,
            thousands(d.total_tpp.into())
        ));
        for r in d.determination["reasons"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "    - {} [{}]\n",
                r["detail"].as_str().unwrap_or_default(),
                r["citation"].as_str().unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!(
        "  allocation ({} read as `{}`): {}\n",
        "allocation_consumption_event", a.allocation.reading, a.allocation.note
    ));
    if let Some(l) = &a.license_id {
        out.push_str(&format!("  license: {l}\n"));
    }
    out.push_str("  transitions:\n");
    for t in &v.transitions {
        out.push_str(&format!(
            "    {} {} → {} by {}{}\n",
            t.date,
            t.from.map_or("-", |s| s.as_str()),
            t.to,
            t.actor,
            if t.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.note)
            }
        ));
    }
    print(&out)
}

fn days(d: &aidf_service::application_stats::DaysToDecision) -> String {
    let n = |v: Option<i64>| v.map_or_else(|| "-".into(), |d| d.to_string());
    format!(
        "{:>5} decided  p50 {:>4}  p90 {:>4}  max {:>4} days",
        d.decided,
        n(d.p50_days),
        n(d.p90_days),
        n(d.max_days)
    )
}

/// `aidf application stats` as text.
fn stats_text(s: &aidf_service::application_stats::ApplicationStats) -> String {
    let rate = s.approval_rate_permille.map_or_else(
        || "none decided".to_string(),
        |r| format!("{}.{} %", r / 10, r % 10),
    );
    let mut out = format!(
        "applications as of {}: {} filed, {} decided, {} approved (approval rate: {rate})\n",
        s.as_of, s.applications, s.decided, s.approved
    );
    out.push_str(&format!(
        "days to decision: {}\n",
        days(&s.days_to_decision)
    ));
    for (title, map) in [
        ("by destination", &s.by_destination),
        ("by outcome", &s.by_outcome),
    ] {
        if !map.is_empty() {
            out.push_str(&format!("{title}:\n"));
        }
        for (k, d) in map {
            out.push_str(&format!("  {k:<24} {}\n", days(d)));
        }
    }
    out.push_str("by state:\n");
    for (state, n) in &s.by_state {
        out.push_str(&format!("  {state:<24} {n:>5}\n"));
    }
    out.push_str("pending, by days since submission:\n");
    for b in &s.pending_by_age {
        out.push_str(&format!("  {:<24} {:>5}\n", b.days, b.pending));
    }
    out
}
