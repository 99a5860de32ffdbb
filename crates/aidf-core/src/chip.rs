//! The accelerator catalog (policy/chips.toml) and lookup by id or name.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::classify::{Datacenter, Metrics, Rate};
use crate::num::de_opt_decimal;

/// Gigabytes in a terabyte (unit conversion, not a regulatory number).
const TB_IN_GB: u32 = 1000;

/// One catalog entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Stable id, e.g. `nvidia-h100-sxm`.
    pub id: Arc<str>,
    /// Vendor.
    pub vendor: String,
    /// Model as the vendor names it.
    pub model: String,
    /// Short names that also find it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Module, card, chip…
    #[serde(default)]
    pub form_factor: String,
    /// Year of release.
    #[serde(default)]
    pub year: Option<u32>,
    /// Dense rates per precision; empty when the vendor published none.
    #[serde(default)]
    pub rates: Vec<Rate>,
    /// Applicable (non-planar logic) die area in mm², when published.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub die_area_mm2: Option<Decimal>,
    /// Published upper bound on the die area, when only a bound is known.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub die_area_mm2_max: Option<Decimal>,
    /// Lower bound on the die area, when only estimates are known (their smallest).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub die_area_mm2_min: Option<Decimal>,
    /// Where the die area (or its bounds) comes from.
    #[serde(default)]
    pub die_area_source: String,
    /// The die area (or its bounds) is a third-party estimate, not a vendor or measured figure:
    /// classifications resting on it report the assumption `catalog_die_area_estimate`.
    #[serde(default)]
    pub die_area_estimate: bool,
    /// Datacenter note status.
    pub datacenter: Datacenter,
    /// Memory in GB.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub memory_gb: Option<Decimal>,
    /// Peak DRAM bandwidth in TB/s.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub memory_bandwidth_tbs: Option<Decimal>,
    /// Aggregate bidirectional interconnect bandwidth in GB/s, where the facts state it.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub interconnect_gbs: Option<Decimal>,
    /// Where the interconnect figure comes from (source keys of shared/spec/chips.md).
    #[serde(default)]
    pub interconnect_source: String,
    /// TPP the facts file gives, for cross-checking.
    #[serde(default)]
    pub expected_tpp: Option<u64>,
    /// Class the facts file gives under the October 2023 parameters.
    #[serde(default)]
    pub expected_eccn_oct2023: Option<String>,
    /// H, M or L (vendor figure, secondary, estimate).
    pub confidence: String,
    /// Source keys (see shared/spec/chips.md).
    #[serde(default)]
    pub sources: String,
    /// Research notes.
    #[serde(default)]
    pub notes: String,
    /// Derived once when the catalog loads (see [`Catalog::from_toml`]): the display name and
    /// the metrics, which every determination of this chip reads.
    #[serde(skip)]
    derived: Option<Derived>,
}

#[derive(Debug, Clone)]
struct Derived {
    name: Arc<str>,
    metrics: Option<Metrics>,
}

impl Chip {
    /// Vendor and model, e.g. "NVIDIA H100 SXM5 80GB".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.vendor, self.model)
    }

    /// [`Chip::display_name`], shared (computed once for catalog entries).
    pub fn name(&self) -> Arc<str> {
        match &self.derived {
            Some(d) => d.name.clone(),
            None => Arc::from(self.display_name()),
        }
    }

    /// Classification metrics, or `None` when no throughput is published.
    pub fn metrics(&self) -> Option<Metrics> {
        match &self.derived {
            Some(d) => d.metrics.clone(),
            None => self.compute_metrics(),
        }
    }

    fn compute_metrics(&self) -> Option<Metrics> {
        // The catalog is validated when it loads: its rates and areas stay in range.
        let mut m = Metrics::from_rates(&self.rates, self.die_area_mm2, self.datacenter)
            .ok()
            .flatten()?;
        m.die_area_mm2_max = self.die_area_mm2_max;
        m.die_area_mm2_min = self.die_area_mm2_min;
        m.interconnect_gbs = self.interconnect_gbs;
        m.dram_bandwidth_gbs = self
            .memory_bandwidth_tbs
            .map(|tbs| tbs * Decimal::from(TB_IN_GB));
        Some(m)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    schema: u32,
    chip: Vec<Chip>,
}

/// A failed lookup, with the nearest candidates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Nothing matched.
    #[error("unknown chip `{query}`{}", candidates_text(.nearest))]
    Unknown {
        /// The name asked for.
        query: String,
        /// Closest ids.
        nearest: Vec<String>,
    },
    /// Several entries matched.
    #[error("ambiguous chip `{query}`: matches {}", .candidates.join(", "))]
    Ambiguous {
        /// The name asked for.
        query: String,
        /// The ids that matched.
        candidates: Vec<String>,
    },
}

fn candidates_text(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; nearest: {}", nearest.join(", "))
    }
}

/// Errors loading the catalog file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// TOML syntax or a wrong field.
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// An unsupported schema version.
    #[error("field `schema`: unsupported catalog schema {0} (expected 1)")]
    Schema(u32),
    /// Two entries share an id or an exact name.
    #[error("field `chip.id`: id or name `{0}` is used by two chips")]
    Duplicate(String),
    /// An id with characters other than lower-case letters, digits and `-`.
    #[error("field `chip.id`: `{0}` must be lower-case letters, digits and `-`")]
    BadId(String),
    /// Rates or die area whose TPP or PD leaves the exact decimal range.
    #[error("field `chip.rates` of `{0}`: {1}")]
    Metrics(String, crate::classify::MetricsError),
}

/// Lower-cases and keeps letters and digits, splitting on everything else.
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The tokens joined by single spaces (`tokens(s).join(" ")`, in one pass).
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for t in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        if t.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(t.chars().map(|c| c.to_ascii_lowercase()));
    }
    out
}

/// A chip found by name, and every part the name fits when it was a family's default.
pub type Resolved<'a> = (&'a Chip, Option<&'a [Arc<str>]>);

/// The catalog with its name index.
#[derive(Debug, Clone)]
pub struct Catalog {
    chips: Vec<Chip>,
    /// Ids as written (the common query, found without normalizing).
    by_id: crate::fxhash::FxHashMap<Arc<str>, usize>,
    exact: crate::fxhash::FxHashMap<String, usize>,
    token_sets: Vec<Vec<String>>,
    /// Names that are one entry's alias but whose words also fit other entries ("H100": the SXM,
    /// PCIe and NVL parts), with every entry they fit: the alias is the catalog's default for
    /// that name, and an answer resolved through it says so.
    families: crate::fxhash::FxHashMap<String, Vec<Arc<str>>>,
}

impl Catalog {
    /// Parses `policy/chips.toml`.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        if file.schema != 1 {
            return Err(CatalogError::Schema(file.schema));
        }
        let mut file = file;
        for c in &mut file.chip {
            Metrics::from_rates(&c.rates, c.die_area_mm2, c.datacenter)
                .map_err(|e| CatalogError::Metrics(c.id.to_string(), e))?;
            c.derived = Some(Derived {
                name: Arc::from(c.display_name()),
                metrics: c.compute_metrics(),
            });
        }
        let mut exact = crate::fxhash::FxHashMap::default();
        let mut by_id = crate::fxhash::FxHashMap::default();
        let mut token_sets = Vec::with_capacity(file.chip.len());
        for (i, c) in file.chip.iter().enumerate() {
            if c.id.is_empty()
                || !c
                    .id
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            {
                return Err(CatalogError::BadId(c.id.to_string()));
            }
            by_id.insert(c.id.clone(), i);
            let mut names = vec![
                normalize(&c.id),
                normalize(&c.display_name()),
                normalize(&c.model),
            ];
            names.extend(c.aliases.iter().map(|a| normalize(a)));
            names.extend(
                c.aliases
                    .iter()
                    .map(|a| normalize(&format!("{} {a}", c.vendor))),
            );
            names.sort();
            names.dedup();
            for n in names {
                if let Some(&other) = exact.get(&n) {
                    if other != i {
                        return Err(CatalogError::Duplicate(n));
                    }
                }
                exact.insert(n, i);
            }
            let mut set = tokens(&c.display_name());
            set.extend(tokens(&c.id));
            set.sort();
            set.dedup();
            token_sets.push(set);
        }
        let mut catalog = Catalog {
            chips: file.chip,
            by_id,
            exact,
            token_sets,
            families: crate::fxhash::FxHashMap::default(),
        };
        let names: Vec<String> = catalog.exact.keys().cloned().collect();
        for name in names {
            let fits = catalog.word_hits(&tokens(&name));
            if fits.len() > 1 {
                let ids = fits.iter().map(|&i| catalog.chips[i].id.clone()).collect();
                catalog.families.insert(name, ids);
            }
        }
        Ok(catalog)
    }

    /// Entries with a name word starting with each query word.
    fn word_hits(&self, words: &[String]) -> Vec<usize> {
        if words.is_empty() {
            return Vec::new();
        }
        (0..self.chips.len())
            .filter(|&i| {
                words
                    .iter()
                    .all(|w| self.token_sets[i].iter().any(|t| t.starts_with(w.as_str())))
            })
            .collect()
    }

    /// Every entry.
    pub fn chips(&self) -> &[Chip] {
        &self.chips
    }

    /// Finds a chip by id, name or alias; failing that, by words ("h100 sxm" finds the entry whose
    /// name has a word starting with each query word). Matching is case- and punctuation-blind.
    pub fn lookup(&self, query: &str) -> Result<&Chip, LookupError> {
        self.lookup_noted(query).map(|(chip, _)| chip)
    }

    /// [`Catalog::lookup`], and, when the name was a family's default ("H100" is the SXM part,
    /// though the PCIe and NVL parts are H100s too), every part it fits, so the answer can say so.
    pub fn lookup_noted(&self, query: &str) -> Result<Resolved<'_>, LookupError> {
        if let Some(&i) = self.by_id.get(query) {
            return Ok((&self.chips[i], None));
        }
        let norm = normalize(query);
        if let Some(&i) = self.exact.get(&norm) {
            let family = self.families.get(&norm).map(Vec::as_slice);
            return Ok((&self.chips[i], family));
        }
        let hits = self.word_hits(&tokens(query));
        match hits.as_slice() {
            [one] => Ok((&self.chips[*one], None)),
            [] => Err(LookupError::Unknown {
                query: query.to_string(),
                nearest: self.nearest(&norm, 3),
            }),
            many => Err(LookupError::Ambiguous {
                query: query.to_string(),
                candidates: many.iter().map(|&i| self.chips[i].id.to_string()).collect(),
            }),
        }
    }

    /// The `n` ids whose names are closest to `norm` (Jaro-Winkler over every name).
    fn nearest(&self, norm: &str, n: usize) -> Vec<String> {
        let mut best: HashMap<usize, f64> = HashMap::new();
        for (name, &i) in &self.exact {
            let s = strsim::jaro_winkler(norm, name);
            let e = best.entry(i).or_insert(0.0);
            if s > *e {
                *e = s;
            }
        }
        let mut ranked: Vec<(usize, f64)> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(n)
            .map(|(i, _)| self.chips[i].id.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalize_joins_tokens() {
        for s in [
            "H100 SXM",
            "  nvidia-h100--sxm ",
            "",
            "--",
            "MI300X",
            "Gaudi 3 (HL-325L)",
        ] {
            assert_eq!(super::normalize(s), super::tokens(s).join(" "), "{s:?}");
        }
    }
}
