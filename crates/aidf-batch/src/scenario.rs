//! Simulation scenarios (TOML): demand per country per quarter, validated end users and their
//! growth, government-to-government deals by date, and the regimes to run. Every error names the
//! file, line, column and field. The format is in `docs/batch.md`.

use std::collections::BTreeMap;
use std::fmt;

use aidf_core::{Policy, Posture};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use toml::Spanned;

/// A scenario file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// File name as given.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Dotted field path (`country[2].chip_mix`), when known.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Demand of one buyer group: explicit per quarter, or a start and a growth rate. (Written as
/// fields of `[[country]]`, `[[veu]]` and `[synthetic]`.)
#[derive(Debug, Clone, Default)]
pub struct DemandSpec {
    /// H100-equivalents demanded in each quarter (as many entries as quarters).
    pub demand_h100e: Option<Spanned<Vec<u64>>>,
    /// H100-equivalents demanded in the first quarter.
    pub start_h100e: Option<u64>,
    /// Growth per quarter in percent (whole percent, compounding, rounded down).
    pub growth_pct: Option<Spanned<i64>>,
}

/// One country's demand.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountrySpec {
    /// ISO code.
    pub code: Spanned<String>,
    /// H100-equivalents demanded in each quarter (as many entries as quarters).
    #[serde(default)]
    pub demand_h100e: Option<Spanned<Vec<u64>>>,
    /// H100-equivalents demanded in the first quarter.
    #[serde(default)]
    pub start_h100e: Option<u64>,
    /// Growth per quarter in percent (whole percent, compounding, rounded down).
    #[serde(default)]
    pub growth_pct: Option<Spanned<i64>>,
    /// Distinct consignees the demand is spread over (round robin).
    #[serde(default)]
    pub consignees: Option<Spanned<u64>>,
    /// Size of one order in H100-equivalents.
    #[serde(default)]
    pub order_h100e: Option<Spanned<u64>>,
    /// Chip mix: catalog chip → share of the demanded TPP (whole numbers, any total).
    #[serde(default)]
    pub chip_mix: Option<Spanned<BTreeMap<String, u64>>>,
    /// Days from a license application to its grant (overrides the default).
    #[serde(default)]
    pub approval_lag_days: Option<Spanned<i64>>,
    /// Share of license applications denied, as decimal text (`"0.25"`).
    #[serde(default)]
    pub denial_share: Option<Spanned<String>>,
}

/// A validated end user's fleet in one country.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VeuSpec {
    /// VEU authorization id.
    pub id: Spanned<String>,
    /// `uveu` or `nveu`.
    pub kind: Spanned<String>,
    /// Operator name.
    pub name: String,
    /// Headquarters country.
    pub hq: Spanned<String>,
    /// Country of the fleet.
    pub country: Spanned<String>,
    /// H100-equivalents demanded in each quarter (as many entries as quarters).
    #[serde(default)]
    pub demand_h100e: Option<Spanned<Vec<u64>>>,
    /// H100-equivalents demanded in the first quarter.
    #[serde(default)]
    pub start_h100e: Option<u64>,
    /// Growth per quarter in percent (whole percent, compounding, rounded down).
    #[serde(default)]
    pub growth_pct: Option<Spanned<i64>>,
    /// Size of one order in H100-equivalents.
    #[serde(default)]
    pub order_h100e: Option<Spanned<u64>>,
    /// Chip mix.
    #[serde(default)]
    pub chip_mix: Option<Spanned<BTreeMap<String, u64>>>,
}

/// A government-to-government arrangement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct G2gSpec {
    /// Country.
    pub country: Spanned<String>,
    /// Effective date.
    #[serde(deserialize_with = "de_date")]
    pub date: NaiveDate,
}

/// Defaults for countries (and synthetic countries).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Consignees per country.
    #[serde(default)]
    pub consignees: Option<Spanned<u64>>,
    /// Order size in H100-equivalents.
    #[serde(default)]
    pub order_h100e: Option<Spanned<u64>>,
    /// Chip mix.
    #[serde(default)]
    pub chip_mix: Option<Spanned<BTreeMap<String, u64>>>,
    /// Days from a license application to its grant.
    #[serde(default)]
    pub approval_lag_days: Option<Spanned<i64>>,
    /// Share of license applications denied, as decimal text (`"0.25"`).
    #[serde(default)]
    pub denial_share: Option<Spanned<String>>,
}

/// Synthetic extra countries, for scale: every country of the policy not listed, in code order,
/// up to `countries` in total.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    /// Total countries in the run (listed plus synthetic).
    pub countries: Spanned<u64>,
    /// H100-equivalents demanded in each quarter (as many entries as quarters).
    #[serde(default)]
    pub demand_h100e: Option<Spanned<Vec<u64>>>,
    /// H100-equivalents demanded in the first quarter.
    #[serde(default)]
    pub start_h100e: Option<u64>,
    /// Growth per quarter in percent (whole percent, compounding, rounded down).
    #[serde(default)]
    pub growth_pct: Option<Spanned<i64>>,
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: u64,
    #[serde(deserialize_with = "de_spanned_date")]
    start: Spanned<NaiveDate>,
    quarters: Spanned<u32>,
    #[serde(default)]
    posture: Option<Posture>,
    regimes: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    case_by_case: Option<Spanned<String>>,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    country: Vec<CountrySpec>,
    #[serde(default)]
    veu: Vec<VeuSpec>,
    #[serde(default)]
    g2g: Vec<G2gSpec>,
    #[serde(default)]
    synthetic: Option<SyntheticSpec>,
}

macro_rules! demand_of {
    ($t:ty) => {
        impl $t {
            fn demand(&self) -> DemandSpec {
                DemandSpec {
                    demand_h100e: self.demand_h100e.clone(),
                    start_h100e: self.start_h100e,
                    growth_pct: self.growth_pct.clone(),
                }
            }
        }
    };
}
demand_of!(CountrySpec);
demand_of!(VeuSpec);
demand_of!(SyntheticSpec);

/// A validated chip mix: catalog ids, integer shares, unit TPP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// (chip id, share, unit TPP).
    pub chips: Vec<(String, u64, u64)>,
}

/// A buyer group after validation.
#[derive(Debug, Clone)]
pub struct Buyer {
    /// Destination.
    pub country: String,
    /// Consignee names (round robin), with HQ and VEU.
    pub consignees: Vec<String>,
    /// Consignee headquarters.
    pub hq: String,
    /// VEU, if a fleet.
    pub veu: Option<(aidf_core::input::VeuKind, String)>,
    /// H100e per quarter.
    pub demand_h100e: Vec<u64>,
    /// Order size, H100e.
    pub order_h100e: u64,
    /// Mix.
    pub mix: Mix,
}

/// How license applications are answered in one country: after a lag, and a share denied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Licensing {
    /// Days from application to grant (0: granted the day it is filed).
    pub approval_lag_days: u32,
    /// Share of applications denied, in per mille (0 to 1000).
    pub denial_per_mille: u16,
}

/// The longest approval lag a scenario takes, in days (ten years: longer is never).
pub const MAX_APPROVAL_LAG_DAYS: i64 = 3653;

/// Parses a share written as decimal text between 0 and 1 with at most three decimals
/// (`"0.25"`, `"1"`, `"0.125"`) into per mille, exactly; the error says what is wrong.
pub fn parse_share_per_mille(text: &str) -> Result<u16, String> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
        return Err(format!(
            "\"{text}\" is not a decimal number such as \"0.25\""
        ));
    }
    if frac.len() > 3 {
        return Err(format!(
            "\"{text}\" has more than three decimals (the share is kept in per mille)"
        ));
    }
    let whole: u64 = whole
        .parse()
        .map_err(|_| format!("\"{text}\" is not between 0 and 1"))?;
    let frac_per_mille: u64 = format!("{frac:0<3}").parse().unwrap_or(0);
    let per_mille = whole.saturating_mul(1000).saturating_add(frac_per_mille);
    if per_mille > 1000 {
        return Err(format!("\"{text}\" is not between 0 and 1"));
    }
    Ok(per_mille as u16)
}

/// One run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSpec {
    /// Pin this regime.
    Regime(String),
    /// Follow the timeline (`timeline` uses the scenario posture).
    Timeline,
}

impl RunSpec {
    /// Name in outputs.
    pub fn name(&self, posture: Posture) -> String {
        match self {
            RunSpec::Regime(r) => r.clone(),
            RunSpec::Timeline => format!("timeline-{}", posture.as_str()),
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Seed (order dates and chip choice).
    pub seed: u64,
    /// First day of the first quarter.
    pub start: NaiveDate,
    /// Number of quarters.
    pub quarters: u32,
    /// Posture.
    pub posture: Posture,
    /// Runs.
    pub runs: Vec<RunSpec>,
    /// Whether a case-by-case license review is counted as granted.
    pub grant_case_by_case: bool,
    /// Buyer groups: countries first, then VEU fleets.
    pub buyers: Vec<Buyer>,
    /// G2G arrangements: country → date.
    pub g2g: BTreeMap<String, NaiveDate>,
    /// How license applications are answered where a country does not say (`[defaults]`).
    pub licensing_default: Licensing,
    /// How license applications are answered, per listed country that says.
    pub licensing: BTreeMap<String, Licensing>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    /// The approval lag and denial share written at `field`, over `fallback` where absent.
    fn licensing(
        &self,
        lag: Option<&Spanned<i64>>,
        share: Option<&Spanned<String>>,
        field: &str,
        fallback: Licensing,
    ) -> Result<Licensing, ScenarioError> {
        let mut out = fallback;
        if let Some(l) = lag {
            let days = *l.get_ref();
            if !(0..=MAX_APPROVAL_LAG_DAYS).contains(&days) {
                return Err(self.err(
                    Some(l.span()),
                    &format!("{field}.approval_lag_days"),
                    format!("`{days}` is not between 0 and {MAX_APPROVAL_LAG_DAYS} days"),
                ));
            }
            out.approval_lag_days = days as u32;
        }
        if let Some(s) = share {
            out.denial_per_mille = parse_share_per_mille(s.get_ref())
                .map_err(|m| self.err(Some(s.span()), &format!("{field}.denial_share"), m))?;
        }
        Ok(out)
    }

    fn err(&self, span: Option<std::ops::Range<usize>>, field: &str, msg: String) -> ScenarioError {
        let (line, column) = match span {
            Some(s) => {
                let at = s.start.min(self.text.len());
                let before = &self.text[..at];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1);
                (Some(line), col)
            }
            None => (None, None),
        };
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message: msg,
        }
    }
}

/// A date in a scenario: a TOML date (`2025-01-01`) or a string holding one; anything else is
/// quoted back as it reads (`2025` is not a date; expected YYYY-MM-DD).
fn de_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        other => other.to_string(),
    };
    aidf_core::input::de_date(serde::de::IntoDeserializer::<D::Error>::into_deserializer(
        text.as_str(),
    ))
}

/// [`de_date`] keeping the value's place in the file.
fn de_spanned_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Spanned<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    struct Date(#[serde(deserialize_with = "de_date")] NaiveDate);
    let s = Spanned::<Date>::deserialize(d)?;
    Ok(Spanned::new(s.span(), s.into_inner().0))
}

fn quarter_start(d: NaiveDate) -> bool {
    d.day() == 1 && matches!(d.month(), 1 | 4 | 7 | 10)
}

impl Scenario {
    /// Parses and validates a scenario against `policy` (countries, chips, regimes).
    pub fn parse(file: &str, text: &str, policy: &Policy) -> Result<Scenario, ScenarioError> {
        let cx = Ctx { file, text };
        let de = toml::de::Deserializer::parse(text).map_err(|e| {
            cx.err(
                e.span(),
                "",
                e.message().replace('\n', " ").trim().to_string(),
            )
        })?;
        let f: ScenarioFile = serde_path_to_error::deserialize(de).map_err(|e| {
            // A `Spanned` value's inner field is toml's, not the user's.
            let path = e
                .path()
                .to_string()
                .replace(".$__serde_spanned_private_value", "");
            let inner = e.into_inner();
            cx.err(
                inner.span(),
                if path == "." { "" } else { &path },
                inner.message().replace('\n', " ").trim().to_string(),
            )
        })?;
        let start = *f.start.get_ref();
        if !quarter_start(start) {
            return Err(cx.err(
                Some(f.start.span()),
                "start",
                format!("{start} is not the first day of a quarter"),
            ));
        }
        let quarters = *f.quarters.get_ref();
        if quarters == 0 || quarters > 400 {
            return Err(cx.err(
                Some(f.quarters.span()),
                "quarters",
                format!("`{quarters}` must be between 1 and 400"),
            ));
        }
        let posture = f.posture.unwrap_or_default();
        let mut runs = Vec::new();
        if f.regimes.get_ref().is_empty() {
            return Err(cx.err(
                Some(f.regimes.span()),
                "regimes",
                "name at least one regime (or `timeline`)".into(),
            ));
        }
        for (i, r) in f.regimes.get_ref().iter().enumerate() {
            let id = r.get_ref();
            let run = if id == "timeline" {
                RunSpec::Timeline
            } else if policy.regime(id).is_some() {
                RunSpec::Regime(id.clone())
            } else {
                let known: Vec<&str> = policy.regimes.iter().map(|r| &*r.id).collect();
                return Err(cx.err(
                    Some(r.span()),
                    &format!("regimes[{i}]"),
                    format!(
                        "unknown regime `{id}`; known: timeline, {}",
                        known.join(", ")
                    ),
                ));
            };
            if runs.contains(&run) {
                return Err(cx.err(
                    Some(r.span()),
                    &format!("regimes[{i}]"),
                    format!("`{id}` is listed twice"),
                ));
            }
            runs.push(run);
        }
        let grant_case_by_case = match &f.case_by_case {
            None => false,
            Some(s) => match s.get_ref().as_str() {
                "refuse" => false,
                "grant" => true,
                other => {
                    return Err(cx.err(
                        Some(s.span()),
                        "case_by_case",
                        format!("`{other}`: expected `refuse` or `grant`"),
                    ));
                }
            },
        };
        let h100_tpp = policy
            .regimes
            .iter()
            .map(|r| r.spec.h100_tpp)
            .find(|&t| t > 0)
            .unwrap_or(1);
        let country = |s: &Spanned<String>, field: &str| -> Result<String, ScenarioError> {
            let code = s.get_ref().trim().to_ascii_uppercase();
            let ok = aidf_core::country::parse_code(&code)
                .ok()
                .is_some_and(|c| policy.countries.get(c).is_some());
            if ok {
                Ok(code)
            } else {
                Err(cx.err(
                    Some(s.span()),
                    field,
                    format!(
                        "`{}` is not a known ISO 3166-1 alpha-2 country code",
                        s.get_ref()
                    ),
                ))
            }
        };
        let mix = |m: Option<&Spanned<BTreeMap<String, u64>>>,
                   field: &str|
         -> Result<Option<Mix>, ScenarioError> {
            let Some(m) = m else { return Ok(None) };
            let mut chips = Vec::new();
            for (name, &share) in m.get_ref() {
                let chip = policy.catalog.lookup(name).map_err(|e| {
                    cx.err(Some(m.span()), &format!("{field}.{name}"), e.to_string())
                })?;
                let unit = chip.metrics().map(|m| m.tpp_whole()).unwrap_or(0);
                if unit == 0 {
                    return Err(cx.err(
                        Some(m.span()),
                        &format!("{field}.{name}"),
                        format!("`{}` has no published TPP", chip.id),
                    ));
                }
                if share > 0 {
                    chips.push((chip.id.to_string(), share, unit));
                }
            }
            if chips.is_empty() {
                return Err(cx.err(
                    Some(m.span()),
                    field,
                    "give at least one chip with a positive share".into(),
                ));
            }
            Ok(Some(Mix { chips }))
        };
        let default_mix = match mix(f.defaults.chip_mix.as_ref(), "defaults.chip_mix")? {
            Some(m) => m,
            None => {
                let chip = policy.catalog.lookup("nvidia-h100-sxm").ok();
                let unit = chip.and_then(|c| c.metrics()).map(|m| m.tpp_whole());
                match (chip, unit) {
                    (Some(c), Some(u)) => Mix {
                        chips: vec![(c.id.to_string(), 1, u)],
                    },
                    _ => {
                        return Err(cx.err(
                            None,
                            "defaults.chip_mix",
                            "required: the catalog has no nvidia-h100-sxm to default to".into(),
                        ));
                    }
                }
            }
        };
        let positive =
            |v: Option<&Spanned<u64>>, field: &str, default: u64| -> Result<u64, ScenarioError> {
                match v {
                    None => Ok(default),
                    Some(s) if *s.get_ref() == 0 => Err(cx.err(
                        Some(s.span()),
                        field,
                        "must be a positive whole number".into(),
                    )),
                    Some(s) => Ok(*s.get_ref()),
                }
            };
        let default_consignees =
            positive(f.defaults.consignees.as_ref(), "defaults.consignees", 10)?;
        let default_order = positive(f.defaults.order_h100e.as_ref(), "defaults.order_h100e", 100)?;
        let demand = |d: &DemandSpec, field: &str| -> Result<Vec<u64>, ScenarioError> {
            match (&d.demand_h100e, d.start_h100e) {
                (Some(v), None) => {
                    if v.get_ref().len() != quarters as usize {
                        return Err(cx.err(
                            Some(v.span()),
                            &format!("{field}.demand_h100e"),
                            format!(
                                "has {} entries; the scenario has {quarters} quarters",
                                v.get_ref().len()
                            ),
                        ));
                    }
                    if let Some(g) = &d.growth_pct {
                        return Err(cx.err(
                            Some(g.span()),
                            &format!("{field}.growth_pct"),
                            "applies to `start_h100e`, not to an explicit `demand_h100e`".into(),
                        ));
                    }
                    Ok(v.get_ref().clone())
                }
                (None, Some(s)) => {
                    let g = d.growth_pct.as_ref().map(|g| *g.get_ref()).unwrap_or(0);
                    if g <= -100 {
                        return Err(cx.err(
                            d.growth_pct.as_ref().map(|g| g.span()),
                            &format!("{field}.growth_pct"),
                            format!("`{g}` must be above -100"),
                        ));
                    }
                    let mut out = Vec::with_capacity(quarters as usize);
                    let mut x = u128::from(s);
                    for _ in 0..quarters {
                        out.push(u64::try_from(x).unwrap_or(u64::MAX));
                        x = x * (100 + g) as u128 / 100;
                    }
                    Ok(out)
                }
                (Some(v), Some(_)) => Err(cx.err(
                    Some(v.span()),
                    field,
                    "give `demand_h100e` or `start_h100e`, not both".into(),
                )),
                (None, None) => Err(cx.err(
                    None,
                    field,
                    "give `demand_h100e` (one per quarter) or `start_h100e` (with `growth_pct`)"
                        .into(),
                )),
            }
        };
        let licensing_default = cx.licensing(
            f.defaults.approval_lag_days.as_ref(),
            f.defaults.denial_share.as_ref(),
            "defaults",
            Licensing::default(),
        )?;
        let mut licensing = BTreeMap::new();
        let mut buyers = Vec::new();
        let mut listed = std::collections::BTreeSet::new();
        for (i, c) in f.country.iter().enumerate() {
            let field = format!("country[{i}]");
            let code = country(&c.code, &format!("{field}.code"))?;
            if !listed.insert(code.clone()) {
                return Err(cx.err(
                    Some(c.code.span()),
                    &format!("{field}.code"),
                    format!("`{code}` is listed twice"),
                ));
            }
            let n = positive(
                c.consignees.as_ref(),
                &format!("{field}.consignees"),
                default_consignees,
            )?;
            if c.approval_lag_days.is_some() || c.denial_share.is_some() {
                let l = cx.licensing(
                    c.approval_lag_days.as_ref(),
                    c.denial_share.as_ref(),
                    &field,
                    licensing_default,
                )?;
                licensing.insert(code.clone(), l);
            }
            buyers.push(Buyer {
                consignees: (1..=n).map(|k| format!("{code} buyer {k:03}")).collect(),
                hq: code.clone(),
                veu: None,
                demand_h100e: demand(&c.demand(), &field)?,
                order_h100e: positive(
                    c.order_h100e.as_ref(),
                    &format!("{field}.order_h100e"),
                    default_order,
                )?,
                mix: mix(c.chip_mix.as_ref(), &format!("{field}.chip_mix"))?
                    .unwrap_or_else(|| default_mix.clone()),
                country: code,
            });
        }
        if let Some(s) = &f.synthetic {
            let want = *s.countries.get_ref();
            let d = demand(&s.demand(), "synthetic")?;
            let mut extra = want.saturating_sub(listed.len() as u64);
            for c in policy.countries.countries() {
                if extra == 0 {
                    break;
                }
                let code = c.code.to_string();
                let (canon, _) = policy.countries.canonical(c.code);
                if canon != c.code || listed.contains(&code) {
                    continue;
                }
                listed.insert(code.clone());
                extra -= 1;
                buyers.push(Buyer {
                    consignees: (1..=default_consignees)
                        .map(|k| format!("{code} buyer {k:03}"))
                        .collect(),
                    hq: code.clone(),
                    veu: None,
                    demand_h100e: d.clone(),
                    order_h100e: default_order,
                    mix: default_mix.clone(),
                    country: code,
                });
            }
            if extra > 0 {
                return Err(cx.err(
                    Some(s.countries.span()),
                    "synthetic.countries",
                    format!("`{want}` is more countries than the policy has"),
                ));
            }
        }
        let mut veu_ids = std::collections::BTreeSet::new();
        for (i, v) in f.veu.iter().enumerate() {
            let field = format!("veu[{i}]");
            let kind = match v.kind.get_ref().as_str() {
                "uveu" => aidf_core::input::VeuKind::Uveu,
                "nveu" => aidf_core::input::VeuKind::Nveu,
                other => {
                    return Err(cx.err(
                        Some(v.kind.span()),
                        &format!("{field}.kind"),
                        format!("`{other}`: expected `uveu` or `nveu`"),
                    ));
                }
            };
            let cc = country(&v.country, &format!("{field}.country"))?;
            let hq = country(&v.hq, &format!("{field}.hq"))?;
            let id = v.id.get_ref().clone();
            if id.trim().is_empty() || !veu_ids.insert((id.clone(), cc.clone())) {
                return Err(cx.err(
                    Some(v.id.span()),
                    &format!("{field}.id"),
                    format!("`{id}` is empty or listed twice for {cc}"),
                ));
            }
            buyers.push(Buyer {
                // The operator's consignee in this country (its local entity): VEU accounts are
                // per country, and a fleet's LPP/AIA accounts stay within one country.
                consignees: vec![format!("{} {cc}", v.name)],
                hq,
                veu: Some((kind, id)),
                demand_h100e: demand(&v.demand(), &field)?,
                order_h100e: positive(
                    v.order_h100e.as_ref(),
                    &format!("{field}.order_h100e"),
                    default_order,
                )?,
                mix: mix(v.chip_mix.as_ref(), &format!("{field}.chip_mix"))?
                    .unwrap_or_else(|| default_mix.clone()),
                country: cc,
            });
        }
        let mut g2g = BTreeMap::new();
        for (i, g) in f.g2g.iter().enumerate() {
            let cc = country(&g.country, &format!("g2g[{i}].country"))?;
            if g2g.insert(cc.clone(), g.date).is_some() {
                return Err(cx.err(
                    Some(g.country.span()),
                    &format!("g2g[{i}].country"),
                    format!("`{cc}` has two arrangements; give one"),
                ));
            }
        }
        if buyers.is_empty() {
            return Err(cx.err(
                None,
                "country",
                "the scenario has no demand: add [[country]], [[veu]] or [synthetic]".into(),
            ));
        }
        let _ = h100_tpp;
        Ok(Scenario {
            name: f.name,
            description: f.description,
            seed: f.seed,
            start,
            quarters,
            posture,
            runs,
            grant_case_by_case,
            buyers,
            g2g,
            licensing_default,
            licensing,
        })
    }

    /// How license applications for `country` are answered.
    pub fn licensing_for(&self, country: &str) -> Licensing {
        self.licensing
            .get(country)
            .copied()
            .unwrap_or(self.licensing_default)
    }

    /// First day of quarter `q` (0-based).
    pub fn quarter_start(&self, q: u32) -> NaiveDate {
        self.start
            .checked_add_months(chrono::Months::new(3 * q))
            .unwrap_or(self.start)
    }

    /// Label of quarter `q`: `2025Q1`.
    pub fn quarter_label(&self, q: u32) -> String {
        let d = self.quarter_start(q);
        format!("{}Q{}", d.year(), (d.month() - 1) / 3 + 1)
    }
}
