//! `aidf regimes list|show|diff`, `aidf classify --all-regimes` (status migrations) and
//! `aidf classify --foundry` (the foundry presumption).

use aidf_core::chip::Chip;
use aidf_core::classify::Metrics;
use aidf_core::explain::thousands;
use aidf_core::foundry::{Designer, FoundryInput, Packager, presumption};
use aidf_core::inspect::{self, Period};
use aidf_core::num::{Decimal, parse_decimal};
use aidf_core::{Policy, Posture};
use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::cmd::print;

/// `aidf regimes …`
#[derive(Debug, Subcommand)]
pub enum RegimesAction {
    /// List regimes in date order: dates, parent, what each changes, when it is in force.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one regime's resolved data, digest, lineage and periods in force.
    Show {
        /// Regime id.
        id: String,
        /// Print JSON (the resolved data as stored).
        #[arg(long)]
        json: bool,
    },
    /// Every parameter, list and rule that differs between regimes A and B.
    Diff {
        /// Regime A.
        a: String,
        /// Regime B.
        b: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Designer standing on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DesignerArg {
    /// Approved IC designer.
    Approved,
    /// Authorized IC designer.
    Authorized,
    /// Authorized, with a pending application to become approved.
    #[value(alias = "authorized_pending")]
    AuthorizedPending,
    /// Neither.
    None,
}

/// Packager on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PackagerArg {
    /// The front-end fabricator.
    Fabricator,
    /// An approved OSAT.
    #[value(alias = "approved_osat")]
    ApprovedOsat,
    /// Anyone else.
    Other,
}

/// Extra `aidf classify` options: status under every regime, 2022/2026 parameters, foundry.
#[derive(Debug, Args)]
pub struct ClassifyExtra {
    /// The chip's status under each regime (the status migrations table).
    #[arg(long, conflicts_with = "foundry")]
    pub all_regimes: bool,
    /// Aggregate bidirectional interconnect bandwidth in GB/s (the 2022 test), with --tops.
    #[arg(long, value_name = "GBS")]
    pub interconnect: Option<String>,
    /// Total DRAM bandwidth in GB/s (the 2026 H200 test), with --tops.
    #[arg(long, value_name = "GBS")]
    pub dram_bandwidth: Option<String>,
    /// Apply the foundry presumption (Note 1 to 3A090.a) instead of the parameters.
    #[arg(long, requires_all = ["node", "transistors", "designer"])]
    pub foundry: bool,
    /// Foundry: process node in nm.
    #[arg(long, value_name = "NM")]
    pub node: Option<u32>,
    /// Foundry: non-planar transistors (FinFET/GAA).
    #[arg(long)]
    pub non_planar: bool,
    /// Foundry: aggregated approximated transistor count (e.g. 33e9).
    #[arg(long, value_name = "N")]
    pub transistors: Option<String>,
    /// Foundry: the package contains HBM.
    #[arg(long)]
    pub hbm: bool,
    /// Foundry: the IC designer's standing.
    #[arg(long, value_enum, ignore_case = true)]
    pub designer: Option<DesignerArg>,
    /// Foundry: who packages the die.
    #[arg(long, value_enum, ignore_case = true, default_value = "fabricator")]
    pub packager: PackagerArg,
    /// Foundry: country where the die is packaged (fabricator route).
    #[arg(long, value_name = "CC")]
    pub packaged_in: Option<String>,
    /// Foundry: year the export is completed (default: the year of --date).
    #[arg(long, value_name = "YYYY")]
    pub export_year: Option<i32>,
}

impl ClassifyExtra {
    /// Whether this module handles the command.
    pub fn wanted(&self) -> bool {
        self.all_regimes
            || self.foundry
            || self.interconnect.is_some()
            || self.dram_bandwidth.is_some()
    }
}

fn periods(p: &[Period]) -> String {
    if p.is_empty() {
        return "-".into();
    }
    p.iter()
        .map(|x| match x.until {
            Some(u) => format!("{}..{}", x.from, u),
            None => format!("{}..", x.from),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `aidf regimes …`.
pub fn regimes(policy: &Policy, action: RegimesAction) -> Result<()> {
    let get = |arg: &str, id: &str| {
        policy.regime(id).with_context(|| {
            let known: Vec<&str> = policy.regimes.iter().map(|r| r.spec.id.as_str()).collect();
            format!(
                "argument `{arg}`: unknown regime `{id}`; known: {}",
                known.join(", ")
            )
        })
    };
    match action {
        RegimesAction::List { json } => {
            let rows: Vec<_> = inspect::by_date(policy)
                .into_iter()
                .map(|r| {
                    json!({
                        "id": r.spec.id,
                        "title": r.spec.title,
                        "citation": r.spec.citation,
                        "effective_date": r.spec.effective_date,
                        "compliance_date": r.spec.compliance_date,
                        "extends": r.spec.extends,
                        "include": r.spec.include,
                        "changes": r.spec.changes,
                        "as_written": inspect::in_force(policy, &r.spec.id, Posture::AsWritten),
                        "as_enforced": inspect::in_force(policy, &r.spec.id, Posture::AsEnforced),
                        "digest": r.digest,
                        "file": r.file,
                    })
                })
                .collect();
            if json {
                let v = json!({"regimes": rows, "timeline": policy.timeline});
                return print(&(serde_json::to_string_pretty(&v)? + "\n"));
            }
            let mut s = String::new();
            for r in inspect::by_date(policy) {
                s += &format!(
                    "{:<24} effective {}  compliance {}  {}\n",
                    r.spec.id, r.spec.effective_date, r.spec.compliance_date, r.spec.title
                );
                if let Some(p) = &r.spec.extends {
                    let inc = if r.spec.include.is_empty() {
                        String::new()
                    } else {
                        format!(" + {}", r.spec.include.join(", "))
                    };
                    s += &format!("{:<24} extends {p}{inc}\n", "");
                }
                for c in &r.spec.changes {
                    s += &format!("{:<24} - {c}\n", "");
                }
                s += &format!(
                    "{:<24} in force as written: {}; as enforced: {}\n{:<24} {}\n",
                    "",
                    periods(&inspect::in_force(policy, &r.spec.id, Posture::AsWritten)),
                    periods(&inspect::in_force(policy, &r.spec.id, Posture::AsEnforced)),
                    "",
                    r.digest
                );
            }
            for posture in [Posture::AsWritten, Posture::AsEnforced] {
                s += &format!("\ntimeline {posture}:\n");
                for e in policy.timeline.entries(posture) {
                    s += &format!("  from {}  {:<24} {}\n", e.from, e.regime, e.note);
                }
            }
            s += "\nunconfirmed dates (reported as assumptions):\n";
            for u in &policy.timeline.unconfirmed {
                s += &format!("  {}..{}  {:<26} {}\n", u.from, u.until, u.switch, u.note);
            }
            print(&s)
        }
        RegimesAction::Show { id, json } => {
            let r = get("ID", &id)?;
            if !json {
                return print(&show_text(policy, r)?);
            }
            let v = json!({
                "id": r.spec.id,
                "digest": r.digest,
                "file": r.file,
                "extends": r.spec.extends,
                "include": r.spec.include,
                "as_written": inspect::in_force(policy, &r.spec.id, Posture::AsWritten),
                "as_enforced": inspect::in_force(policy, &r.spec.id, Posture::AsEnforced),
                "spec": r.spec,
            });
            print(&(serde_json::to_string_pretty(&v)? + "\n"))
        }
        RegimesAction::Diff { a, b, json } => {
            let (ra, rb) = (get("A", &a)?, get("B", &b)?);
            let d = inspect::diff(ra, rb);
            if json {
                let v = json!({"a": ra.spec.id, "b": rb.spec.id, "differences": d});
                return print(&(serde_json::to_string_pretty(&v)? + "\n"));
            }
            print(&diff_text(&ra.spec.id, &rb.spec.id, &d))
        }
    }
}

/// `regimes show` as text: the lineage, dates, periods in force and digest, then the resolved
/// data as an indented outline (whole numbers grouped, absent sections as `none`).
fn show_text(policy: &Policy, r: &aidf_core::regime::Regime) -> Result<String> {
    let spec = &r.spec;
    let mut s = format!("{}  {}\n", spec.id, spec.title);
    let mut row = |k: &str, v: &str| s += &format!("{k:<12} {v}\n");
    row("citation", &spec.citation);
    row(
        "effective",
        &format!(
            "{}  compliance {}",
            spec.effective_date, spec.compliance_date
        ),
    );
    if let Some(p) = &spec.extends {
        let inc = if spec.include.is_empty() {
            String::new()
        } else {
            format!(" + {}", spec.include.join(", "))
        };
        row("extends", &format!("{p}{inc}"));
    }
    row("file", &r.file);
    row("digest", &r.digest);
    row(
        "as written",
        &periods(&inspect::in_force(policy, &spec.id, Posture::AsWritten)),
    );
    row(
        "as enforced",
        &periods(&inspect::in_force(policy, &spec.id, Posture::AsEnforced)),
    );
    s += "\nresolved data:\n";
    let data = serde_json::to_value(spec)?;
    outline(&data, 1, &mut s);
    Ok(s)
}

/// A scalar as a person reads it: whole numbers grouped, strings bare, null as `none`.
fn scalar_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => Some("none".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => thousands(u128::from(u)),
            (None, Some(i)) if i < 0 => format!("-{}", thousands(u128::from(i.unsigned_abs()))),
            _ => n.to_string(),
        }),
        Value::String(t) => Some(t.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Writes `v` as an indented outline: `key: value`, nested sections indented, lists as `- `.
fn outline(v: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                match scalar_text(item) {
                    Some(t) => *out += &format!("{pad}{k}: {t}\n"),
                    None if is_empty(item) => *out += &format!("{pad}{k}: none\n"),
                    None => {
                        *out += &format!("{pad}{k}:\n");
                        outline(item, depth + 1, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar_text(item) {
                    Some(t) => *out += &format!("{pad}- {t}\n"),
                    None => {
                        *out += &format!("{pad}-\n");
                        outline(item, depth + 1, out);
                    }
                }
            }
        }
        scalar => *out += &format!("{pad}{}\n", scalar_text(scalar).unwrap_or_default()),
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// The diff as text: `~` changed, `+` only in B, `-` only in A, lists as set differences.
pub fn diff_text(a: &str, b: &str, d: &[inspect::Difference]) -> String {
    let show = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut s = format!(
        "regimes diff {a} -> {b}: {} differences (~ changed, + only in {b}, - only in {a})\n",
        d.len()
    );
    for x in d {
        match x.kind {
            "added" => s += &format!("+ {} = {}\n", x.path, show(&x.b)),
            "removed" => s += &format!("- {} = {}\n", x.path, show(&x.a)),
            "list" => {
                let items = |v: &[serde_json::Value], sign: char| {
                    v.iter()
                        .map(|e| {
                            format!(
                                "{sign}{}",
                                e.as_str()
                                    .map(String::from)
                                    .unwrap_or_else(|| e.to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                };
                let mut parts = items(&x.only_a, '-');
                parts.extend(items(&x.only_b, '+'));
                if parts.is_empty() {
                    parts.push(format!("{} -> {}", show(&x.a), show(&x.b)));
                }
                s += &format!("~ {}: {}\n", x.path, parts.join(" "));
            }
            _ => s += &format!("~ {}: {} -> {}\n", x.path, show(&x.a), show(&x.b)),
        }
    }
    s
}

fn positive(opt: &str, t: &str) -> Result<Decimal> {
    parse_decimal(t)
        .filter(|d| !d.is_sign_negative())
        .with_context(|| format!("option `{opt}`: `{t}` is not a non-negative number"))
}

/// Metrics from `--chip` or `--tops/--bits`, with the extra bandwidths.
#[allow(clippy::too_many_arguments)]
fn metrics<'p>(
    policy: &'p Policy,
    chip: Option<&str>,
    tops: &[String],
    bits: &[u32],
    die_area: Option<&str>,
    not_datacenter: bool,
    extra: &ClassifyExtra,
) -> Result<(Option<Metrics>, Option<&'p Chip>)> {
    if let Some(name) = chip {
        if extra.interconnect.is_some() || extra.dram_bandwidth.is_some() {
            bail!(
                "option `--interconnect`/`--dram-bandwidth`: a catalog chip brings its own figures; use --tops/--bits to override"
            );
        }
        let c = policy
            .catalog
            .lookup(name)
            .map_err(|e| anyhow::anyhow!("option `--chip`: {e}"))?;
        return Ok((c.metrics(), Some(c)));
    }
    let mut m = crate::cmd::metrics_from_rates(tops, bits, die_area, not_datacenter)?;
    if let Some(i) = &extra.interconnect {
        m.interconnect_gbs = Some(positive("--interconnect", i)?);
    }
    if let Some(d) = &extra.dram_bandwidth {
        m.dram_bandwidth_gbs = Some(positive("--dram-bandwidth", d)?);
    }
    Ok((Some(m), None))
}

/// `aidf classify` with `--all-regimes`, `--foundry`, `--interconnect` or `--dram-bandwidth`.
#[allow(clippy::too_many_arguments)]
pub fn classify(
    policy: &Policy,
    chip: Option<&str>,
    tops: &[String],
    bits: &[u32],
    die_area: Option<&str>,
    not_datacenter: bool,
    regime: Option<&str>,
    date: NaiveDate,
    json: bool,
    extra: &ClassifyExtra,
) -> Result<()> {
    if extra.foundry {
        return foundry(policy, regime, date, json, extra);
    }
    let (m, c) = metrics(policy, chip, tops, bits, die_area, not_datacenter, extra)?;
    let chip_id = c.map(|c| c.id.to_string());
    let statuses = if extra.all_regimes {
        if regime.is_some() {
            bail!("option `--regime`: --all-regimes shows every regime; drop --regime");
        }
        inspect::chip_statuses(policy, m.as_ref(), chip_id.as_deref())
    } else {
        let r = crate::cmd::select_regime(policy, regime, date, Posture::AsWritten)?;
        vec![inspect::chip_status(
            policy,
            r,
            m.as_ref(),
            chip_id.as_deref(),
        )]
    };
    let fmt_opt = |d: Option<Decimal>, unit: &str| {
        d.map(|d| format!("{}{unit}", d.normalize()))
            .unwrap_or_else(|| "unknown".into())
    };
    if json {
        let v = json!({
            "chip": c.map(|c| json!({"id": c.id, "name": c.display_name()})),
            "tpp": m.as_ref().map(|m| m.tpp_whole()),
            "pd": m.as_ref().and_then(|m| m.pd).map(|p| aidf_core::num::decimal_to_f64(p.round_dp(2))),
            "interconnect_gbs": m.as_ref().and_then(|m| m.interconnect_gbs).map(|d| d.normalize().to_string()),
            "dram_bandwidth_gbs": m.as_ref().and_then(|m| m.dram_bandwidth_gbs).map(|d| d.normalize().to_string()),
            "regimes": statuses,
        });
        return print(&(serde_json::to_string_pretty(&v)? + "\n"));
    }
    let mut s = String::new();
    let name = c
        .map(|c| format!("{} ({})", c.display_name(), c.id))
        .unwrap_or_else(|| "item".into());
    match &m {
        Some(m) => {
            s += &format!(
                "{name}: TPP {}, PD {}, interconnect {}, DRAM bandwidth {}\n",
                thousands(m.tpp_whole().into()),
                m.pd.map(|p| p.round_dp(2).to_string())
                    .unwrap_or_else(|| "unknown".into()),
                fmt_opt(m.interconnect_gbs, " GB/s"),
                fmt_opt(m.dram_bandwidth_gbs, " GB/s"),
            )
        }
        None => s += &format!("{name}: no published dense throughput\n"),
    }
    s += &format!(
        "{:<24} {:<26} {:<26} {:<40} {}\n",
        "REGIME", "AS WRITTEN", "AS ENFORCED", "CLASS", "LICENSE SCOPE / ITEM RULES"
    );
    for st in &statuses {
        let class = match (&st.error, st.eccn, st.paragraph) {
            (Some(e), _, _) => format!("undetermined: {}", short(e)),
            (None, Some(e), Some(p)) if p.starts_with(e) => p.to_string(),
            (None, Some(e), Some(p)) => format!("{e} [{p}]"),
            (None, None, Some(p)) => p.to_string(),
            _ => "-".into(),
        };
        let mut tail: Vec<String> = st.license_scope.iter().cloned().collect();
        tail.extend(st.notes.iter().cloned());
        s += &format!(
            "{:<24} {:<26} {:<26} {:<40} {}\n",
            st.regime,
            periods(&st.as_written),
            periods(&st.as_enforced),
            class,
            tail.join("; ")
        );
    }
    print(&s)
}

fn short(e: &str) -> String {
    if e.contains("interconnect") {
        "interconnect bandwidth unknown".into()
    } else if e.contains("performance density") {
        "PD unknown".into()
    } else {
        e.to_string()
    }
}

fn name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn foundry(
    policy: &Policy,
    regime: Option<&str>,
    date: NaiveDate,
    json: bool,
    extra: &ClassifyExtra,
) -> Result<()> {
    let r = crate::cmd::select_regime(policy, regime, date, Posture::AsWritten)?;
    let transistors = extra.transistors.as_deref().unwrap_or_default();
    let count = parse_decimal(transistors)
        .filter(|d| !d.is_sign_negative() && d.fract().is_zero())
        .and_then(|d| u64::try_from(d).ok())
        .with_context(|| {
            format!("option `--transistors`: `{transistors}` is not a whole number of transistors")
        })?;
    let packaged_in = match &extra.packaged_in {
        Some(cc) => Some(
            policy
                .countries
                .lookup(cc)
                .map_err(|e| anyhow::anyhow!("option `--packaged-in`: {e}"))?,
        ),
        None => None,
    };
    let input = FoundryInput {
        node_nm: extra.node.unwrap_or_default(),
        non_planar: extra.non_planar,
        transistors: count,
        hbm: extra.hbm,
        designer: match extra.designer.unwrap_or(DesignerArg::None) {
            DesignerArg::Approved => Designer::Approved,
            DesignerArg::Authorized => Designer::Authorized,
            DesignerArg::AuthorizedPending => Designer::AuthorizedPending,
            DesignerArg::None => Designer::None,
        },
        export_year: extra.export_year.unwrap_or(date.year()),
        packager: match extra.packager {
            PackagerArg::Fabricator => Packager::Fabricator,
            PackagerArg::ApprovedOsat => Packager::ApprovedOsat,
            PackagerArg::Other => Packager::Other,
        },
        packaged_in,
    };
    let out = presumption(policy, r, &input, date);
    if json {
        let v = json!({"input": input, "outcome": out, "digest": r.digest});
        return print(&(serde_json::to_string_pretty(&v)? + "\n"));
    }
    let verdict = match (out.applies, out.presumed_3a090a, out.overcome_by) {
        (false, _, _) => "no foundry presumption: classify on the 3A090 parameters".to_string(),
        (true, true, _) => {
            "PRESUMED 3A090.a (designed for datacenters): presumption not overcome".to_string()
        }
        (true, false, Some(route)) => {
            format!("presumption overcome ({route}): classify on the 3A090 parameters")
        }
        (true, false, None) => "presumption overcome".to_string(),
    };
    let mut s = format!(
        "Foundry:   {verdict}\nInput:     {} nm{}, {} transistors, {}HBM, designer {}, export year {}, packager {}{}\nRegime:    {} {}\nWhy:\n",
        input.node_nm,
        if input.non_planar { " non-planar" } else { "" },
        thousands(input.transistors.into()),
        if input.hbm { "" } else { "no " },
        name(&input.designer),
        input.export_year,
        name(&input.packager),
        input
            .packaged_in
            .map(|c| format!(" in {c}"))
            .unwrap_or_default(),
        r.spec.id,
        r.digest
    );
    for (i, x) in out.reasons.iter().enumerate() {
        s += &format!("  {}. {} [{}; {}]\n", i + 1, x.detail, x.rule, x.citation);
    }
    if !out.obligations.is_empty() {
        s += "Obligations:\n";
        for o in &out.obligations {
            s += &format!("  - {} [{}]\n", o.detail, o.id);
        }
    }
    if !out.assumptions.is_empty() {
        s += "Assumptions (unconfirmed readings this answer relies on):\n";
        for a in &out.assumptions {
            s += &format!("  - {} = {}: {}\n", a.switch, a.value, a.detail);
        }
    }
    print(&s)
}
