//! `aidf fleet …` (Data Center VEU fleet compliance, headroom and dated plans) and
//! `aidf weights …` (ECCN 4E091 classification of model weights).

use std::io::Write;
use std::path::PathBuf;

use aidf_core::Policy;
use aidf_core::country::CountryCode;
use aidf_core::explain::{Trail, thousands};
use aidf_core::fleet::{
    Fleet, FleetError, FleetHeader, FleetInput, FleetReport, FleetRules, Headroom, PlanReport,
    RuleCode, Share, Violation, fleet_regime,
};
use aidf_core::input::{ModelWeightsInput, VeuKind};
use aidf_core::num::parse_decimal;
use aidf_core::weights::{classify_weights, sci, weights_input_from_json};
use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::cmd::PostureArg;

/// `aidf fleet …`
#[derive(Debug, Subcommand)]
pub enum FleetAction {
    /// Check a fleet against the UVEU / NVEU rules on its date.
    Check {
        #[command(flatten)]
        src: FleetSource,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The most TPP (and whole chips) that can be added in one country without breaking a rule.
    Headroom {
        #[command(flatten)]
        src: FleetSource,
        /// Country to add compute in.
        #[arg(long)]
        country: String,
        /// Chip model, to express the headroom in whole chips.
        #[arg(long)]
        chip: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Walk the dated site plan: the first date a rule breaks and the smallest Tier 1 / US fix.
    Plan {
        #[command(flatten)]
        src: FleetSource,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Input format of a fleet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JSON document.
    Json,
    /// CSV rows `id,country,tpp,chip,quantity,status,online_date`.
    Csv,
}

/// VEU kind as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Universal VEU.
    Uveu,
    /// National VEU.
    Nveu,
}

impl From<KindArg> for VeuKind {
    fn from(k: KindArg) -> VeuKind {
        match k {
            KindArg::Uveu => VeuKind::Uveu,
            KindArg::Nveu => VeuKind::Nveu,
        }
    }
}

/// Where the fleet comes from and which regime judges it.
#[derive(Debug, Args)]
pub struct FleetSource {
    /// Fleet file (JSON or CSV), or `-` for standard input.
    file: PathBuf,
    /// Input format (default: from the extension, else JSON when the text starts with `{`).
    #[arg(long, value_enum, ignore_case = true)]
    format: Option<FormatArg>,
    /// Owner (required for CSV; overrides JSON).
    #[arg(long)]
    owner: Option<String>,
    /// Headquarters country (required for CSV; overrides JSON).
    #[arg(long)]
    hq: Option<String>,
    /// VEU kind (required for CSV; overrides JSON).
    #[arg(long, value_enum, ignore_case = true)]
    kind: Option<KindArg>,
    /// Date the fleet is assessed on (required for CSV; overrides JSON).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Regime id (default: the one in force on the date).
    #[arg(long)]
    regime: Option<String>,
    /// Posture used to pick the regime.
    #[arg(long, value_enum, ignore_case = true, default_value = "as-written")]
    posture: PostureArg,
}

fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    print(&(serde_json::to_string_pretty(v)? + "\n"))
}

impl FleetSource {
    fn format(&self, text: &str) -> FormatArg {
        if let Some(f) = self.format {
            return f;
        }
        match self.file.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => FormatArg::Csv,
            Some(e) if e.eq_ignore_ascii_case("json") => FormatArg::Json,
            _ if text.trim_start().starts_with('{') => FormatArg::Json,
            _ => FormatArg::Csv,
        }
    }

    fn input(&self) -> Result<FleetInput> {
        let text = crate::cmd::read_input(&self.file)?;
        let mut input = match self.format(&text) {
            FormatArg::Json => FleetInput::from_json(&text)?,
            FormatArg::Csv => {
                let need = |name: &str| anyhow!("option `--{name}`: required for CSV input");
                FleetInput::from_csv(
                    &text,
                    FleetHeader {
                        owner: self.owner.clone().ok_or_else(|| need("owner"))?,
                        hq: self.hq.clone().ok_or_else(|| need("hq"))?,
                        kind: self.kind.ok_or_else(|| need("kind"))?.into(),
                        date: self.date.ok_or_else(|| need("date"))?,
                    },
                )?
            }
        };
        if let Some(o) = &self.owner {
            input.owner = o.clone();
        }
        if let Some(h) = &self.hq {
            input.hq = h.clone();
        }
        if let Some(k) = self.kind {
            input.kind = k.into();
        }
        if let Some(d) = self.date {
            input.date = d;
        }
        Ok(input)
    }

    fn load<'p>(&self, policy: &'p Policy) -> Result<(Fleet, FleetRules<'p>)> {
        let input = self.input()?;
        let fleet = Fleet::resolve(&input, policy)?;
        let regime = fleet_regime(
            policy,
            fleet.date,
            self.posture.into(),
            self.regime.as_deref(),
        )
        .map_err(|e| match e {
            FleetError::Regime(s) if s.field() == "regime" => {
                anyhow!("option `--regime`: {}", s.detail())
            }
            other => anyhow!(other),
        })?;
        let rules = FleetRules::new(policy, regime)?;
        Ok((fleet, rules))
    }
}

/// Runs `aidf fleet …`.
pub fn fleet(policy: &Policy, action: FleetAction) -> Result<()> {
    match action {
        FleetAction::Check { src, json } => {
            let (fleet, rules) = src.load(policy)?;
            let report = rules.check(&fleet, fleet.date)?;
            if json {
                print_json(&report)
            } else {
                print(&render_check(&report))
            }
        }
        FleetAction::Headroom {
            src,
            country,
            chip,
            json,
        } => {
            let (fleet, rules) = src.load(policy)?;
            let code = policy
                .countries
                .lookup(&country)
                .map_err(|e| anyhow!("option `--country`: {e}"))?;
            let chip = match chip {
                Some(name) => Some(
                    policy
                        .catalog
                        .lookup(&name)
                        .map_err(|e| anyhow!("option `--chip`: {e}"))?,
                ),
                None => None,
            };
            let h = rules
                .headroom(&fleet, fleet.date, code, chip)
                .map_err(|e| match e {
                    FleetError::Input { field, message, .. } if field == "chip" => {
                        anyhow!("option `--chip`: {message}")
                    }
                    other => anyhow!(other),
                })?;
            if json {
                print_json(&h)
            } else {
                print(&render_headroom(&h))
            }
        }
        FleetAction::Plan { src, json } => {
            let (fleet, rules) = src.load(policy)?;
            let plan = rules.plan(&fleet)?;
            if json {
                print_json(&plan)
            } else {
                print(&render_plan(&plan))
            }
        }
    }
}

fn pct(s: &Share) -> String {
    s.percent_text(2)
}

/// A broken rule by code, with the country it concerns: `tier2_country_above_7pct (IN)`.
fn rule_name(code: &RuleCode, country: Option<CountryCode>) -> String {
    match country {
        Some(c) => format!("{code} ({c})"),
        None => code.to_string(),
    }
}

fn render_violations(s: &mut String, violations: &[Violation]) {
    for v in violations {
        s.push_str(&format!(
            "  {}: {} [{}]\n",
            rule_name(&v.code, v.country),
            v.detail,
            v.citation
        ));
    }
}

fn render_footer(
    s: &mut String,
    regime: &aidf_core::fleet::RegimeRef,
    assumptions: &[aidf_core::explain::Assumption],
) {
    for a in assumptions {
        s.push_str(&format!(
            "Assumes:   {} = {} [{}]: {}\n",
            a.switch, a.value, a.confidence, a.detail
        ));
    }
    s.push_str(&format!("Regime:    {} {}\n", regime.id, regime.digest));
}

fn kind_text(k: VeuKind) -> &'static str {
    match k {
        VeuKind::Uveu => "UVEU",
        VeuKind::Nveu => "NVEU",
    }
}

fn render_check(r: &FleetReport) -> String {
    let sh = &r.shares;
    let mut s = format!(
        "Fleet:     {} ({}, HQ {}) on {}\n",
        r.owner,
        kind_text(r.kind),
        r.hq,
        r.date
    );
    s += &format!(
        "Total:     {} TPP in {} site(s){}\n",
        thousands(sh.tpp_total),
        r.sites_counted,
        if r.sites_not_yet_online.is_empty() {
            String::new()
        } else {
            format!("; not yet online: {}", r.sites_not_yet_online.join(", "))
        }
    );
    s += &format!(
        "Tiers:     Tier 1 {} ({}), Tier 2 {} ({}), Tier 3 {} ({}); US {} ({})\n",
        thousands(sh.tier1.tpp),
        pct(&sh.tier1),
        thousands(sh.tier2.tpp),
        pct(&sh.tier2),
        thousands(sh.tier3.tpp),
        pct(&sh.tier3),
        thousands(sh.us.tpp),
        pct(&sh.us)
    );
    for (c, cs) in &sh.countries {
        s += &format!(
            "  {c} ({}): {} TPP, {}\n",
            cs.tier,
            thousands(cs.share.tpp),
            pct(&cs.share)
        );
    }
    if r.compliant {
        s += "Result:    compliant\n";
    } else {
        s += &format!(
            "Result:    NOT compliant ({} rule(s) broken)\n",
            r.violations.len()
        );
        render_violations(&mut s, &r.violations);
    }
    render_footer(&mut s, &r.regime, &r.assumptions);
    s
}

fn render_headroom(h: &Headroom) -> String {
    let mut s = format!(
        "Fleet:     {} ({}) on {}; adding in {} ({})\n",
        h.owner,
        kind_text(h.kind),
        h.date,
        h.country,
        h.tier
    );
    let rule = |r: &aidf_core::fleet::RuleRef| {
        format!(
            "{}{}",
            r.code,
            r.country.map(|c| format!(" ({c})")).unwrap_or_default()
        )
    };
    if !h.feasible {
        s += &format!(
            "Headroom:  none: no addition in {} makes the fleet compliant{}\n",
            h.country,
            h.binding
                .as_ref()
                .map(|r| format!(" (blocked by {})", rule(r)))
                .unwrap_or_default()
        );
    } else {
        match h.tpp_headroom {
            Some(t) => {
                s += &format!(
                    "Headroom:  {} TPP{}\n",
                    thousands(t),
                    h.binding
                        .as_ref()
                        .map(|r| format!(", bound by {}", rule(r)))
                        .unwrap_or_default()
                )
            }
            None => s += "Headroom:  unbounded: no rule limits compute added here\n",
        }
        if h.tpp_min > 0 {
            s += &format!(
                "Minimum:   {} TPP must be added here for the fleet to comply\n",
                thousands(h.tpp_min)
            );
        }
        if let Some(c) = &h.chip {
            s += &format!(
                "Chips:     {} x {} ({} TPP each){}\n",
                c.chips_headroom
                    .map(thousands)
                    .unwrap_or_else(|| "unbounded".into()),
                c.id,
                thousands(c.tpp_per_chip.into()),
                if c.chips_min > 0 {
                    format!(", at least {}", thousands(c.chips_min))
                } else {
                    String::new()
                }
            );
        }
    }
    for b in &h.bounds {
        s += &format!(
            "  {} {}{}\n",
            rule(&aidf_core::fleet::RuleRef {
                code: b.code,
                country: b.country
            }),
            b.bound,
            b.tpp
                .map(|t| format!(" {}", thousands(t)))
                .unwrap_or_default()
        );
    }
    render_footer(&mut s, &h.regime, &h.assumptions);
    s
}

fn render_plan(p: &PlanReport) -> String {
    let mut s = format!("Fleet:     {} ({})\n", p.owner, kind_text(p.kind));
    for st in &p.steps {
        s += &format!(
            "  {}  {:>20} TPP  {}\n",
            st.date,
            thousands(st.tpp_total),
            if st.compliant {
                "compliant".to_string()
            } else {
                st.violations
                    .iter()
                    .map(|r| rule_name(&r.code, r.country))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    match &p.first_break {
        None => s += "Result:    compliant on every checked date\n",
        Some(b) => {
            s += &format!(
                "Result:    breaks on {}{}\n",
                b.date,
                if b.sites_online.is_empty() {
                    String::new()
                } else {
                    format!(" (online that day: {})", b.sites_online.join(", "))
                }
            );
            render_violations(&mut s, &b.violations);
            match (&b.fix, &b.no_fix_reason) {
                (Some(f), _) => {
                    s += &format!(
                        "Fix:       add {} TPP in {}{} by {}",
                        thousands(f.tpp_min),
                        f.country,
                        if f.any_tier1 {
                            " (or any Tier 1 country)"
                        } else {
                            ""
                        },
                        b.date
                    );
                    s += &match f.tpp_min_whole_plan {
                        Some(w) => {
                            format!("; {} TPP keeps the whole plan compliant\n", thousands(w))
                        }
                        None => "; a later break cannot be mended that way\n".into(),
                    };
                }
                (None, Some(why)) => s += &format!("Fix:       none: {why}\n"),
                (None, None) => {}
            }
        }
    }
    if let Some(d) = p.unchecked_from {
        s += &format!("Unchecked: from {d} (the NVEU schedule ends)\n");
    }
    render_footer(&mut s, &p.regime, &p.assumptions);
    s
}

/// `aidf weights …`
#[derive(Debug, Subcommand)]
pub enum WeightsAction {
    /// Classify model weights under ECCN 4E091 (training operations, published, derived,
    /// synthetic data, relative floor).
    Classify(Box<WeightsArgs>),
}

/// Training facts, from a JSON file or flags.
#[derive(Debug, Args)]
pub struct WeightsArgs {
    /// JSON file of training facts, or `-` for standard input (instead of the flags).
    file: Option<PathBuf>,
    /// Operations used to train the model (pre-training and later training), e.g. 3e26.
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    training_ops: Option<String>,
    /// Parameter count, for the 6·N·D estimate.
    #[arg(
        long,
        conflicts_with = "file",
        requires = "tokens",
        allow_hyphen_values = true
    )]
    parameters: Option<String>,
    /// Training tokens, for the 6·N·D estimate.
    #[arg(
        long,
        conflicts_with = "file",
        requires = "parameters",
        allow_hyphen_values = true
    )]
    tokens: Option<String>,
    /// The weights are published.
    #[arg(long, conflicts_with = "file")]
    published: bool,
    /// Training operations of the published model this one derives from.
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    derived_from_published_ops: Option<String>,
    /// Operations needed to match the most capable published model (the relative floor).
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    floor_ops: Option<String>,
    /// Percent of training operations on data from the largest unpublished generator.
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    synthetic_share_pct: Option<String>,
    /// That generator's operations to produce the data.
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    synthetic_generation_ops: Option<String>,
    /// That generator's own training operations.
    #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
    synthetic_generator_training_ops: Option<String>,
    /// That generator's weights are published.
    #[arg(long, conflicts_with = "file")]
    synthetic_generator_published: bool,
    /// Regime id (default: the one in force on --date).
    #[arg(long)]
    regime: Option<String>,
    /// Date (default: today).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Posture used to pick the regime.
    #[arg(long, value_enum, ignore_case = true, default_value = "as-written")]
    posture: PostureArg,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl WeightsArgs {
    fn input(&self) -> Result<(ModelWeightsInput, bool)> {
        if let Some(file) = &self.file {
            let text = crate::cmd::read_input(file)?;
            return Ok((weights_input_from_json(&text)?, false));
        }
        let num = |flag: &str, v: &Option<String>| match v {
            None => Ok(None),
            Some(t) => parse_decimal(t)
                .map(Some)
                .with_context(|| format!("option `--{flag}`: `{t}` is not a number")),
        };
        let w = ModelWeightsInput {
            training_ops: num("training-ops", &self.training_ops)?,
            parameters: num("parameters", &self.parameters)?,
            tokens: num("tokens", &self.tokens)?,
            published: self.published,
            derived_from_published_ops: num(
                "derived-from-published-ops",
                &self.derived_from_published_ops,
            )?,
            floor_ops: num("floor-ops", &self.floor_ops)?,
            synthetic_share_pct: num("synthetic-share-pct", &self.synthetic_share_pct)?,
            synthetic_generation_ops: num(
                "synthetic-generation-ops",
                &self.synthetic_generation_ops,
            )?,
            synthetic_generator_training_ops: num(
                "synthetic-generator-training-ops",
                &self.synthetic_generator_training_ops,
            )?,
            synthetic_generator_published: self.synthetic_generator_published,
        };
        Ok((w, true))
    }
}

/// Runs `aidf weights …`.
pub fn weights(policy: &Policy, action: WeightsAction) -> Result<()> {
    let WeightsAction::Classify(args) = action;
    let (w, from_flags) = args.input()?;
    let date = args
        .date
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let regime =
        crate::cmd::select_regime(policy, args.regime.as_deref(), date, args.posture.into())?;
    let mut trail = Trail::default();
    let (controlled, counted_ops, rule) = match &regime.spec.model_weights {
        Some(rule) => {
            let c = classify_weights(&w, rule, &regime.spec.switches, &mut trail).map_err(|e| {
                let field = e
                    .field
                    .strip_prefix("item.model_weights.")
                    .unwrap_or(e.field);
                if from_flags {
                    anyhow!("option `--{}`: {}", field.replace('_', "-"), e.message)
                } else {
                    anyhow!("field `{field}`: {}", e.message)
                }
            })?;
            (c.controlled, Some(c.counted_ops), Some(rule))
        }
        None => {
            trail.reason(
                "weights.not_in_regime",
                &regime.spec.citation.clone(),
                || {
                    format!(
                        "`{}` has no ECCN 4E091: model weights are not controlled by it",
                        regime.spec.id
                    )
                },
            );
            (false, None, None)
        }
    };
    if args.json {
        let v = json!({
            "controlled": controlled,
            "eccn": if controlled { Some("4E091") } else { None },
            "counted_ops": counted_ops.map(sci),
            "counted_ops_exact": counted_ops.map(|d| d.normalize().to_string()),
            "threshold_ops": rule.map(|r| sci(r.threshold_ops)),
            "review": if controlled {
                rule.map(|r| json!({"tier1": r.review_tier1, "other": r.review_other}))
            } else {
                None
            },
            "reasons": trail.reasons,
            "date": date,
            "regime": {"id": regime.spec.id, "digest": regime.digest},
        });
        return print_json(&v);
    }
    let mut s = format!(
        "Class:     {}\n",
        if controlled {
            "4E091 (controlled)"
        } else {
            "not controlled under 4E091"
        }
    );
    if let Some(ops) = counted_ops {
        s += &format!("Ops:       {} counted\n", sci(ops));
    }
    if let (true, Some(r)) = (controlled, rule) {
        s += &format!(
            "Review:    presumption of {} for Tier 1, {} elsewhere [{}]\n",
            r.review_tier1, r.review_other, r.citation
        );
    }
    for r in &trail.reasons {
        s += &format!("Why:       {} [{}]\n", r.detail, r.citation);
    }
    s += &format!("Regime:    {} {}\n", regime.spec.id, regime.digest);
    print(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_recognised_by_extension_or_content() {
        let src = |file: &str| FleetSource {
            file: file.into(),
            format: None,
            owner: None,
            hq: None,
            kind: None,
            date: None,
            regime: None,
            posture: PostureArg::AsWritten,
        };
        assert_eq!(src("a.csv").format("{"), FormatArg::Csv);
        assert_eq!(src("a.json").format("id,"), FormatArg::Json);
        assert_eq!(src("-").format("  {\"a\":1}"), FormatArg::Json);
        assert_eq!(src("-").format("id,country\n"), FormatArg::Csv);
    }
}
