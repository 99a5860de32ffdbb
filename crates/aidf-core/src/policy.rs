//! The whole policy: countries, groups, catalog, regimes and the timeline, loaded from text and
//! validated. The default policy is embedded in the binary; `Policy::from_sources` takes files a
//! user supplies (`--policy-dir`). No I/O happens here: callers hand over file contents.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chip::Catalog;
use crate::country::{
    Alias, Country, CountryCode, CountryTable, DatedMember, Group, GroupIdx, parse_code,
};
use crate::regime::{Regime, RegimeSpec, Resolved, required_switches};
use crate::regime_file::{Locator, ResolvedFile};
use crate::restrict::{Restrictions, RestrictionsError};

pub use crate::policy_error::PolicyError;
pub use crate::terms::Posture;
use crate::terms::Tier;

/// One step of a posture's timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// First day the regime applies under this posture.
    pub from: NaiveDate,
    /// Regime id.
    pub regime: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// A window of dates whose regime rests on an unconfirmed reading of a rule's dates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnconfirmedWindow {
    /// Switch name reported under `assumptions`.
    pub switch: String,
    /// Postures the window applies to.
    pub postures: Vec<Posture>,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub until: NaiveDate,
    /// What is unconfirmed and how it is read.
    pub note: String,
}

/// Which regime applies on which date, per posture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// Format version (1).
    pub schema: u32,
    /// The text in force.
    pub as_written: Vec<TimelineEntry>,
    /// What BIS enforces.
    pub as_enforced: Vec<TimelineEntry>,
    /// Dates whose regime rests on an unconfirmed reading.
    #[serde(default)]
    pub unconfirmed: Vec<UnconfirmedWindow>,
}

impl Timeline {
    /// The unconfirmed windows covering `date` under `posture`.
    pub fn unconfirmed_on(
        &self,
        date: NaiveDate,
        posture: Posture,
    ) -> impl Iterator<Item = &UnconfirmedWindow> {
        self.unconfirmed
            .iter()
            .filter(move |u| u.postures.contains(&posture) && u.from <= date && date <= u.until)
    }

    /// Entries of one posture.
    pub fn entries(&self, posture: Posture) -> &[TimelineEntry] {
        match posture {
            Posture::AsWritten => &self.as_written,
            Posture::AsEnforced => &self.as_enforced,
        }
    }
}

/// The raw text of every policy file, with the names used in error messages.
#[derive(Debug, Clone)]
pub struct PolicySources {
    /// `countries.csv`: code,name.
    pub countries_csv: (String, String),
    /// `country-groups.toml`.
    pub groups_toml: (String, String),
    /// `chips.toml`.
    pub chips_toml: (String, String),
    /// `timeline.toml`.
    pub timeline_toml: (String, String),
    /// `restrictions.toml` (part 746 embargoes, the Entity List entry).
    pub restrictions_toml: (String, String),
    /// `regimes/*.toml`.
    pub regimes: Vec<(String, String)>,
}

impl PolicySources {
    /// The policy shipped in the repository's `policy/` directory, compiled in.
    pub fn embedded() -> PolicySources {
        let f = |name: &str, text: &str| (name.to_string(), text.to_string());
        PolicySources {
            countries_csv: f(
                "countries.csv",
                include_str!("../../../policy/countries.csv"),
            ),
            groups_toml: f(
                "country-groups.toml",
                include_str!("../../../policy/country-groups.toml"),
            ),
            chips_toml: f("chips.toml", include_str!("../../../policy/chips.toml")),
            timeline_toml: f(
                "timeline.toml",
                include_str!("../../../policy/timeline.toml"),
            ),
            restrictions_toml: f(
                "restrictions.toml",
                include_str!("../../../policy/restrictions.toml"),
            ),
            regimes: vec![
                f(
                    "regimes/ac-2023.toml",
                    include_str!("../../../policy/regimes/ac-2023.toml"),
                ),
                f(
                    "regimes/ai-diffusion-2025.toml",
                    include_str!("../../../policy/regimes/ai-diffusion-2025.toml"),
                ),
                f(
                    "regimes/informed-2022.toml",
                    include_str!("../../../policy/regimes/informed-2022.toml"),
                ),
                f(
                    "regimes/ec-2022.toml",
                    include_str!("../../../policy/regimes/ec-2022.toml"),
                ),
                f(
                    "regimes/ac-2024-aca.toml",
                    include_str!("../../../policy/regimes/ac-2024-aca.toml"),
                ),
                f(
                    "regimes/ac-2024-dcveu.toml",
                    include_str!("../../../policy/regimes/ac-2024-dcveu.toml"),
                ),
                f(
                    "regimes/ac-2024-hbm.toml",
                    include_str!("../../../policy/regimes/ac-2024-hbm.toml"),
                ),
                f(
                    "regimes/foundry-2025.toml",
                    include_str!("../../../policy/regimes/foundry-2025.toml"),
                ),
                f(
                    "regimes/h20-2025.toml",
                    include_str!("../../../policy/regimes/h20-2025.toml"),
                ),
                f(
                    "regimes/h200-2026.toml",
                    include_str!("../../../policy/regimes/h200-2026.toml"),
                ),
                f(
                    "regimes/ai-diffusion-h200-2026.toml",
                    include_str!("../../../policy/regimes/ai-diffusion-h200-2026.toml"),
                ),
            ],
        }
    }
}

/// The canonical content a regime digest covers.
#[derive(Serialize)]
struct DigestInput<'a> {
    regime: &'a RegimeSpec,
    groups: &'a [Group],
    aliases: &'a [Alias],
    restrictions: &'a Restrictions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    schema: u32,
    #[serde(default)]
    alias: Vec<Alias>,
    group: Vec<GroupSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    id: String,
    title: String,
    citation: String,
    confidence: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    dated: Vec<DatedSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatedSpec {
    country: String,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    until: Option<NaiveDate>,
    #[serde(default)]
    unconfirmed: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A regime chosen by [`Policy::select`]: pinned by id, or the one the timeline puts in force.
#[derive(Debug, Clone, Copy)]
pub struct Selected<'p> {
    /// The regime.
    pub regime: &'p Regime,
    /// The timeline entry that chose it; `None` when the regime was pinned.
    pub entry: Option<&'p TimelineEntry>,
}

/// Why no regime could be selected. The message names the field at fault and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A pinned regime id that the policy does not define.
    #[error("field `regime`: unknown regime `{value}`; known: {known}")]
    UnknownRegime {
        /// The id as given.
        value: String,
        /// The ids the policy defines, in file order, comma-separated.
        known: String,
    },
    /// No timeline entry of the posture covers the date.
    #[error("field `date`: no regime is in force on {date} under posture {posture}{}", earliest.map(|d| format!(" (the timeline starts on {d})")).unwrap_or_default())]
    NoRegime {
        /// The date asked about.
        date: NaiveDate,
        /// The posture asked about.
        posture: Posture,
        /// The first date the posture's timeline covers, if any.
        earliest: Option<NaiveDate>,
    },
}

impl SelectError {
    /// The input field at fault: `regime` or `date`.
    pub fn field(&self) -> &'static str {
        match self {
            SelectError::UnknownRegime { .. } => "regime",
            SelectError::NoRegime { .. } => "date",
        }
    }

    /// The message without its ``field `…`: `` prefix, for callers that name the field in their
    /// own terms (a command-line option, a query parameter).
    pub fn detail(&self) -> String {
        let text = self.to_string();
        let prefix = format!("field `{}`: ", self.field());
        text.strip_prefix(&prefix).unwrap_or(&text).to_string()
    }
}

/// The loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Countries and groups.
    pub countries: CountryTable,
    /// Accelerator catalog.
    pub catalog: Catalog,
    /// Regimes in file order.
    pub regimes: Vec<Regime>,
    regime_by_id: crate::fxhash::FxHashMap<String, usize>,
    /// The timeline.
    pub timeline: Timeline,
    /// Part 746 embargoes and the Entity List entry (every regime reads them).
    pub restrictions: Restrictions,
}

fn parse_countries(file: &str, text: &str) -> Result<Vec<Country>, PolicyError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| PolicyError::new(file, e.to_string()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != ["code", "name"] {
        return Err(PolicyError {
            file: file.into(),
            line: Some(1),
            message: "header must be `code,name`".into(),
        });
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = Some(i + 2);
        let rec = rec.map_err(|e| PolicyError {
            file: file.into(),
            line,
            message: e.to_string(),
        })?;
        let (code, name) = (rec.get(0).unwrap_or(""), rec.get(1).unwrap_or(""));
        let code = parse_code(code).map_err(|e| PolicyError {
            file: file.into(),
            line,
            message: format!("field `code`: {e}"),
        })?;
        if name.trim().is_empty() {
            return Err(PolicyError {
                file: file.into(),
                line,
                message: format!("field `name`: empty name for `{code}`"),
            });
        }
        out.push(Country {
            code,
            name: Arc::from(name),
        });
    }
    Ok(out)
}

fn parse_groups(file: &str, text: &str) -> Result<(Vec<Alias>, Vec<Group>), PolicyError> {
    let spec: GroupsFile = toml::from_str(text).map_err(|e| PolicyError::toml(file, text, &e))?;
    if spec.schema != 1 {
        return Err(PolicyError::new(
            file,
            format!("field `schema`: unsupported version {}", spec.schema),
        ));
    }
    let mut groups = Vec::new();
    for g in spec.group {
        let mut members = Vec::new();
        for m in &g.members {
            let country = parse_code(m).map_err(|e| {
                PolicyError::new(file, format!("field `group.members` of `{}`: {e}", g.id))
            })?;
            members.push(DatedMember {
                country,
                from: None,
                until: None,
                unconfirmed: None,
                note: None,
            });
        }
        for d in g.dated {
            let country = parse_code(&d.country).map_err(|e| {
                PolicyError::new(
                    file,
                    format!("field `group.dated.country` of `{}`: {e}", g.id),
                )
            })?;
            members.push(DatedMember {
                country,
                from: d.from,
                until: d.until,
                unconfirmed: d.unconfirmed.map(Arc::from),
                note: d.note.map(Arc::from),
            });
        }
        groups.push(Group {
            id: Arc::from(g.id),
            title: Arc::from(g.title),
            citation: Arc::from(g.citation),
            confidence: Arc::from(g.confidence),
            note: g.note.map(Arc::from),
            members,
        });
    }
    Ok((spec.alias, groups))
}

/// Looks up a regime file's group ids and country codes, errors naming the file, line and field.
struct Lookup<'a> {
    rf: &'a ResolvedFile<'a>,
    loc: &'a Locator,
    table: &'a CountryTable,
}

impl Lookup<'_> {
    /// The groups `ids` name, or an error naming the first unknown one.
    fn groups(&self, field: &str, ids: &[String]) -> Result<Vec<GroupIdx>, PolicyError> {
        ids.iter()
            .map(|id| {
                self.table.group_idx(id).ok_or_else(|| {
                    self.rf
                        .error(self.loc, field, format!("unknown country group `{id}`"))
                })
            })
            .collect()
    }

    /// The countries `codes` name, resolved through their aliases.
    fn countries(&self, field: &str, codes: &[String]) -> Result<Vec<CountryCode>, PolicyError> {
        codes
            .iter()
            .map(|c| {
                self.table
                    .lookup(c)
                    .map(|code| self.table.canonical(code).0)
                    .map_err(|e| self.rf.error(self.loc, field, e.to_string()))
            })
            .collect()
    }

    /// An error on `field` of this regime file.
    fn error(&self, field: &str, message: String) -> PolicyError {
        self.rf.error(self.loc, field, message)
    }
}

/// The regime's tier groups and explicit tier lists (Tier 1, 2, 3).
type TierLists = (Vec<GroupIdx>, Vec<GroupIdx>, [Vec<CountryCode>; 3]);

/// Resolves a regime file's ids and codes against the country table and the catalog, checking
/// that every name exists and that each country is in one tier.
fn resolve_regime(
    rf: &ResolvedFile<'_>,
    loc: &Locator,
    table: &CountryTable,
    catalog: &Catalog,
) -> Result<Resolved, PolicyError> {
    let spec = &rf.spec;
    let look = Lookup { rf, loc, table };
    let (tier1, tier3, tier_countries) = resolve_tiers(&look)?;
    if let Some(a) = &spec.allocation {
        for code in a.country_caps.keys() {
            table
                .lookup(code)
                .map_err(|e| look.error("allocation.country_caps", e.to_string()))?;
        }
    }
    let (informed_countries, informed_groups) = resolve_informed(&look, catalog)?;
    Ok(Resolved {
        scope_groups: look.groups("scope.groups", &spec.scope.groups)?,
        scope_exclude: look.groups("scope.exclude_groups", &spec.scope.exclude_groups)?,
        scope_countries: look.countries("scope.countries", &spec.scope.countries)?,
        taint_groups: look.groups("scope.hq_taint_groups", &spec.scope.hq_taint_groups)?,
        tier1_groups: tier1,
        tier3_groups: tier3,
        denial_groups: look.groups("review.denial_groups", &spec.review.denial_groups)?,
        d1_d4: ["D:1", "D:4"]
            .iter()
            .filter_map(|g| table.group_idx(g))
            .collect(),
        tier_countries,
        hbm_groups: match &spec.hbm {
            Some(h) => look.groups("hbm.scope_groups", &h.scope_groups)?,
            None => Vec::new(),
        },
        informed_countries,
        informed_groups,
        us_export_countries: match &spec.us_export_review {
            Some(u) => look.countries("us_export_review.countries", &u.countries)?,
            None => Vec::new(),
        },
        foundry_excluded: match &spec.foundry {
            Some(f) => look.groups(
                "foundry.packaging_excluded_groups",
                &f.packaging_excluded_groups,
            )?,
            None => Vec::new(),
        },
    })
}

/// The tier groups and lists. A country is in one tier: no code in two explicit lists, and no
/// group member (not moved explicitly) in both a Tier 1 and a Tier 3 group.
fn resolve_tiers(look: &Lookup<'_>) -> Result<TierLists, PolicyError> {
    let (tier1, tier3, tier_countries) = match &look.rf.spec.tiers {
        Some(t) => (
            look.groups("tiers.tier1_groups", &t.tier1_groups)?,
            look.groups("tiers.tier3_groups", &t.tier3_groups)?,
            [
                look.countries("tiers.tier1_countries", &t.tier1_countries)?,
                look.countries("tiers.tier2_countries", &t.tier2_countries)?,
                look.countries("tiers.tier3_countries", &t.tier3_countries)?,
            ],
        ),
        None => Default::default(),
    };
    let names = ["tier1_countries", "tier2_countries", "tier3_countries"];
    for (i, list) in tier_countries.iter().enumerate() {
        for (j, other) in tier_countries.iter().enumerate().skip(i + 1) {
            if let Some(c) = list.iter().find(|c| other.contains(c)) {
                return Err(look.error(
                    &format!("tiers.{}", names[j]),
                    format!(
                        "`{c}` is also in `tiers.{}`; a country is in one tier",
                        names[i]
                    ),
                ));
            }
        }
    }
    let explicit: Vec<CountryCode> = tier_countries.iter().flatten().copied().collect();
    check_tier_groups_apart(look, &tier1, &tier3, &explicit)?;
    Ok((tier1, tier3, tier_countries))
}

/// No member of a Tier 1 group (unless placed by an explicit list) is in a Tier 3 group over an
/// overlapping period.
fn check_tier_groups_apart(
    look: &Lookup<'_>,
    tier1: &[GroupIdx],
    tier3: &[GroupIdx],
    explicit: &[CountryCode],
) -> Result<(), PolicyError> {
    let table = look.table;
    for &g1 in tier1 {
        for m in &table.group(g1).members {
            if explicit.contains(&m.country) {
                continue;
            }
            for &g3 in tier3 {
                if table.group(g3).members.iter().any(|n| {
                    n.country == m.country
                        && n.from.is_none_or(|f| m.until.is_none_or(|u| f < u))
                        && m.from.is_none_or(|f| n.until.is_none_or(|u| f < u))
                }) {
                    return Err(look.error(
                        "tiers.tier3_groups",
                        format!(
                            "`{}` is in `{}` (Tier 1) and in `{}` (Tier 3); a country is in one tier (move it with tiers.tierN_countries)",
                            m.country,
                            table.group(g1).id,
                            table.group(g3).id
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Each is-informed letter's destination countries and groups, in letter order.
type LetterPlaces = (Vec<Vec<CountryCode>>, Vec<Vec<GroupIdx>>);

/// Each is-informed letter's destinations (countries, groups), checking that it names chips or
/// criteria, that its dates are in order and that its chips are in the catalog.
fn resolve_informed(look: &Lookup<'_>, catalog: &Catalog) -> Result<LetterPlaces, PolicyError> {
    let mut informed_countries = Vec::new();
    let mut informed_groups = Vec::new();
    for (i, inf) in look.rf.spec.informed.iter().enumerate() {
        if inf.chips.is_empty() && inf.criteria.is_none() {
            return Err(look.error(
                "informed",
                format!(
                    "entry {i} (`{}`): names no `chips` and no `criteria`",
                    inf.id
                ),
            ));
        }
        if let (Some(f), Some(u)) = (inf.from, inf.until)
            && u <= f
        {
            return Err(look.error(
                "informed",
                format!(
                    "entry {i} (`{}`): `until` {u} is not after `from` {f}; dates out of order",
                    inf.id
                ),
            ));
        }
        informed_groups.push(look.groups("informed.groups", &inf.groups)?);
        for chip in &inf.chips {
            if !catalog.chips().iter().any(|c| &*c.id == chip.as_str()) {
                return Err(look.error(
                    "informed",
                    format!("entry {i} (`{}`): unknown catalog chip id `{chip}`", inf.id),
                ));
            }
        }
        informed_countries.push(look.countries("informed", &inf.countries)?);
    }
    Ok((informed_countries, informed_groups))
}

/// Checks a regime's values that the types do not: schema, id, dates in order, positive
/// numbers, percentages, and the switches its sections rely on.
fn validate_regime(rf: &ResolvedFile<'_>, loc: &Locator) -> Result<(), PolicyError> {
    let spec = &rf.spec;
    let err = |field: &str, m: String| Err(rf.error(loc, field, m));
    if spec.schema != 1 {
        return err("schema", format!("unsupported version {}", spec.schema));
    }
    if spec.id.is_empty()
        || !spec
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return err(
            "id",
            format!("`{}` must be lower-case letters, digits and `-`", spec.id),
        );
    }
    if spec.compliance_date < spec.effective_date {
        return err(
            "compliance_date",
            format!(
                "{} is before the effective date {}; dates out of order",
                spec.compliance_date, spec.effective_date
            ),
        );
    }
    if spec.h100_tpp == 0 {
        return err("h100_tpp", "must be positive, got `0`".into());
    }
    if let Err((field, m)) = spec.classification.check() {
        return err(field, m);
    }
    if let Err((field, m)) = check_sections(spec) {
        return err(field, m);
    }
    for (name, present) in required_switches(spec) {
        if !present {
            return err(
                &format!("switches.{name}"),
                "missing; this regime's sections rely on that reading".into(),
            );
        }
    }
    Ok(())
}

/// Checks the allocation, VEU, foundry and January 2026 sections: the field and the problem.
fn check_sections(spec: &RegimeSpec) -> Result<(), (&'static str, String)> {
    if let Some(a) = &spec.allocation {
        if a.window_end < a.window_start {
            return Err((
                "allocation.window_end",
                format!(
                    "{} is before window_start {}; dates out of order",
                    a.window_end, a.window_start
                ),
            ));
        }
        if a.g2g_multiplier == 0 {
            return Err((
                "allocation.g2g_multiplier",
                "must be positive, got `0`".into(),
            ));
        }
    }
    if let Some(v) = &spec.veu {
        check_veu(v)?;
    }
    if let Some(f) = &spec.foundry {
        check_foundry_years(f)?;
    }
    if let Some(u) = &spec.us_export_review
        && u.transactions.is_empty()
    {
        return Err((
            "us_export_review.transactions",
            "must name at least one transaction".into(),
        ));
    }
    Ok(())
}

/// The NVEU schedule in date order and the UVEU shares percentages.
fn check_veu(v: &crate::regime::Veu) -> Result<(), (&'static str, String)> {
    if v.nveu_schedule
        .windows(2)
        .any(|w| w[1].through <= w[0].through)
    {
        return Err((
            "veu.nveu_schedule",
            "milestones must be in date order; dates out of order".into(),
        ));
    }
    for (name, pct) in [
        ("veu.uveu_tier1_share_min_pct", v.uveu_tier1_share_min_pct),
        (
            "veu.uveu_tier2_country_share_max_pct",
            v.uveu_tier2_country_share_max_pct,
        ),
        (
            "veu.uveu_us_share_min_pct_if_us_hq",
            v.uveu_us_share_min_pct_if_us_hq,
        ),
    ] {
        if pct > 100 {
            return Err((name, format!("{pct} is not a percentage")));
        }
    }
    Ok(())
}

/// The foundry's no-HBM thresholds: year ranges in order, none overlapping.
fn check_foundry_years(f: &crate::regime::Foundry) -> Result<(), (&'static str, String)> {
    let mut last: Option<i32> = None;
    for (i, t) in f.no_hbm_thresholds.iter().enumerate() {
        let end = t.year_to.unwrap_or(i32::MAX);
        if end < t.year_from || last.is_some_and(|l| t.year_from <= l) {
            return Err((
                "foundry.no_hbm_thresholds",
                format!(
                    "entry {i} (years {}..{}) overlaps or precedes the previous entry; years out of order",
                    t.year_from,
                    t.year_to.map(|y| y.to_string()).unwrap_or_default()
                ),
            ));
        }
        last = Some(end);
    }
    Ok(())
}

fn digest(spec: &RegimeSpec, table: &CountryTable, restrictions: &Restrictions) -> Arc<str> {
    let canonical = serde_json::to_vec(&DigestInput {
        regime: spec,
        groups: table.groups(),
        aliases: table.aliases(),
        restrictions,
    })
    .unwrap_or_default();
    let hash = Sha256::digest(&canonical);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Arc::from(format!("sha256:{hex}"))
}

/// The regimes in load order and their index by id.
type LoadedRegimes = (Vec<Regime>, crate::fxhash::FxHashMap<String, usize>);

/// Resolves, validates and digests every regime file, and checks that each letter's
/// `apply_regime` names a loaded regime.
fn load_regimes(
    src: &PolicySources,
    table: &CountryTable,
    catalog: &Catalog,
    restrictions: &Restrictions,
) -> Result<LoadedRegimes, PolicyError> {
    let mut regimes = Vec::new();
    let mut regime_by_id = crate::fxhash::FxHashMap::default();
    let (loc, files) = crate::regime_file::resolve_all(&src.regimes)?;
    for rf in &files {
        validate_regime(rf, &loc)?;
        let resolved = resolve_regime(rf, &loc, table, catalog)?;
        regime_by_id.insert(rf.spec.id.clone(), regimes.len());
        let digest = digest(&rf.spec, table, restrictions);
        regimes.push(Regime {
            id: Arc::from(rf.spec.id.as_str()),
            spec: rf.spec.clone(),
            digest,
            resolved,
            file: Arc::from(rf.file),
        });
    }
    for r in &regimes {
        for inf in &r.spec.informed {
            if let Some(id) = &inf.apply_regime
                && !regime_by_id.contains_key(id)
            {
                return Err(PolicyError::new(
                    &r.file,
                    format!(
                        "field `informed.apply_regime` of `{}`: unknown regime `{id}`",
                        inf.id
                    ),
                ));
            }
        }
    }
    Ok((regimes, regime_by_id))
}

/// Parses the timeline and checks it: schema, unconfirmed dates in order, and each posture's
/// entries naming known regimes, in date order, as written not before the compliance date.
fn load_timeline(src: &PolicySources, loaded: &LoadedRegimes) -> Result<Timeline, PolicyError> {
    let (regimes, regime_by_id) = loaded;
    let (tf, tt) = &src.timeline_toml;
    let timeline: Timeline = toml::from_str(tt).map_err(|e| PolicyError::toml(tf, tt, &e))?;
    if timeline.schema != 1 {
        return Err(PolicyError::new(
            tf,
            format!("field `schema`: unsupported version {}", timeline.schema),
        ));
    }
    for (i, u) in timeline.unconfirmed.iter().enumerate() {
        if u.until < u.from {
            return Err(PolicyError::new(
                tf,
                format!(
                    "field `unconfirmed[{i}].until`: {} is before `from` {}; dates out of order",
                    u.until, u.from
                ),
            ));
        }
    }
    for posture in [Posture::AsWritten, Posture::AsEnforced] {
        let entries = timeline.entries(posture);
        for (i, e) in entries.iter().enumerate() {
            let field = format!("{}[{i}]", posture.as_str());
            let Some(&ri) = regime_by_id.get(&e.regime) else {
                return Err(PolicyError::new(
                    tf,
                    format!("field `{field}.regime`: unknown regime `{}`", e.regime),
                ));
            };
            if i > 0 && e.from <= entries[i - 1].from {
                return Err(PolicyError::new(
                    tf,
                    format!(
                        "field `{field}.from`: {} is not after the previous entry",
                        e.from
                    ),
                ));
            }
            let compliance = regimes[ri].spec.compliance_date;
            if posture == Posture::AsWritten && e.from < compliance {
                return Err(PolicyError::new(
                    tf,
                    format!(
                        "field `{field}.from`: {} is before the compliance date {compliance} of `{}`",
                        e.from, e.regime
                    ),
                ));
            }
        }
    }
    Ok(timeline)
}

impl Policy {
    /// The embedded default policy.
    pub fn embedded() -> Result<Policy, PolicyError> {
        Policy::from_sources(&PolicySources::embedded())
    }

    /// Loads and validates every file.
    pub fn from_sources(src: &PolicySources) -> Result<Policy, PolicyError> {
        let (cf, ct) = &src.countries_csv;
        let countries = parse_countries(cf, ct)?;
        let (gf, gt) = &src.groups_toml;
        let (aliases, groups) = parse_groups(gf, gt)?;
        let table = CountryTable::new(countries, aliases, groups)
            .map_err(|e| PolicyError::new(gf, e.to_string()))?;
        let (chf, cht) = &src.chips_toml;
        let catalog = Catalog::from_toml(cht).map_err(|e| match e {
            crate::chip::CatalogError::Parse(te) => PolicyError::toml(chf, cht, &te),
            other => PolicyError::new(chf, other.to_string()),
        })?;
        let (rsf, rst) = &src.restrictions_toml;
        let restrictions = Restrictions::parse(rst, &table).map_err(|e| match e {
            RestrictionsError::Toml(te) => PolicyError::toml(rsf, rst, &te),
            other => PolicyError::new(rsf, other.to_string()),
        })?;
        let loaded = load_regimes(src, &table, &catalog, &restrictions)?;
        let timeline = load_timeline(src, &loaded)?;
        let (regimes, regime_by_id) = loaded;
        Ok(Policy {
            countries: table,
            catalog,
            regimes,
            regime_by_id,
            timeline,
            restrictions,
        })
    }

    /// A regime by id.
    pub fn regime(&self, id: &str) -> Option<&Regime> {
        self.regime_by_id.get(id).map(|&i| &self.regimes[i])
    }

    /// The regime in force on `date` under `posture`, with the timeline entry that chose it.
    pub fn regime_on(
        &self,
        date: NaiveDate,
        posture: Posture,
    ) -> Option<(&Regime, &TimelineEntry)> {
        let entry = self
            .timeline
            .entries(posture)
            .iter()
            .rev()
            .find(|e| e.from <= date)?;
        Some((self.regime(&entry.regime)?, entry))
    }

    /// The regime to apply: the one pinned by id when `pin` is given, else the one in force on
    /// `date` under `posture`. Every caller that lets a user pin a regime or pick a date goes
    /// through here, so the messages for an unknown id or an uncovered date are the same
    /// everywhere.
    pub fn select(
        &self,
        pin: Option<&str>,
        date: NaiveDate,
        posture: Posture,
    ) -> Result<Selected<'_>, SelectError> {
        if let Some(id) = pin {
            let regime = self.regime(id).ok_or_else(|| SelectError::UnknownRegime {
                value: id.to_string(),
                known: self
                    .regimes
                    .iter()
                    .map(|r| r.spec.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            return Ok(Selected {
                regime,
                entry: None,
            });
        }
        let (regime, entry) =
            self.regime_on(date, posture)
                .ok_or_else(|| SelectError::NoRegime {
                    date,
                    posture,
                    earliest: self.earliest_date(posture),
                })?;
        Ok(Selected {
            regime,
            entry: Some(entry),
        })
    }

    /// The tier of `code` (aliases applied) under `regime` on `date`: `None` when the regime has no
    /// tiers. Also returns the dated membership entry resting on an unconfirmed reading that the
    /// answer depends on, if any.
    pub fn tier(
        &self,
        regime: &Regime,
        code: crate::country::CountryCode,
        date: NaiveDate,
    ) -> Option<(Tier, Option<&DatedMember>)> {
        regime.spec.tiers.as_ref()?;
        let (code, _) = self.countries.canonical(code);
        let r = &regime.resolved;
        // Countries the regime places explicitly come first.
        for (i, list) in [(Tier::Three, 2usize), (Tier::One, 0), (Tier::Two, 1)] {
            if r.tier_countries[list].contains(&code) {
                return Some((i, None));
            }
        }
        let mut unconfirmed = None;
        let mut any = |groups: &[GroupIdx]| {
            let mut hit = false;
            for &g in groups {
                let m = self.countries.membership(code, g, date);
                unconfirmed = unconfirmed.or(m.unconfirmed);
                hit |= m.member;
            }
            hit
        };
        let tier = if any(&r.tier3_groups) {
            Tier::Three
        } else if any(&r.tier1_groups) {
            Tier::One
        } else {
            Tier::Two
        };
        Some((tier, unconfirmed))
    }

    /// The earliest date any posture covers.
    pub fn earliest_date(&self, posture: Posture) -> Option<NaiveDate> {
        self.timeline.entries(posture).first().map(|e| e.from)
    }
}
