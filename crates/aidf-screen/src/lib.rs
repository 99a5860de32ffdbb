//! Restricted-party screening: dated, digested list versions (trade.gov CSL layout, OFAC legacy
//! CSV) and a name matcher that explains every score.
//!
//! Pure: no I/O beyond parsing the bytes handed to it, no clock, no threads. A caller passes a
//! [`Party`] (name, country, type) to [`ListSet::screen`] and gets [`Hit`]s, each naming the list
//! version it came from and carrying the entry (with an Entity List entry's structured license
//! requirement scope and review policy) and the [`Explanation`] of its score.
//!
//! See `docs/screening.md` for how matching works and what it measured.

mod dict;
mod index;
mod list;
mod load;
mod normalize;
mod ofac;
mod score;
pub mod snapshot;

use serde::Serialize;

pub use index::{IndexedName, ListSet, name_variants};
pub use list::{
    Entry, FrCitation, ItemScope, LicenseTerms, ListVersion, PartyType, ReviewPolicyKind,
    ear_sections, footnote_markers,
};
pub use load::{
    ListFormat, ListMeta, LoadError, LoadedList, OfacFileNames, OfacFiles, list_code, load_csl,
    load_ofac, parse_manifest, read_maybe_gzip,
};
pub use normalize::{NameForm, Script, Token, TokenKind, normalize, phonetic_key, skeleton};
pub use ofac::ofac_parity_score;
pub use score::{AlignedPart, Explanation, PartMatch, Qualifier, ScoreParams, round3};
pub use snapshot::{SnapshotBytes, SnapshotError};

/// The longest name accepted, in bytes (list names are far shorter; this bounds the work).
pub const NAME_BYTES_MAX: usize = 1024;

/// The repository's default lists manifest (`policy/lists/lists.toml`).
pub const DEFAULT_MANIFEST: &str = include_str!("../../../policy/lists/lists.toml");
/// The repository's default CSL snapshot (`policy/lists/csl.csv.gz`, built by
/// `scripts/build-lists.py`).
pub const DEFAULT_CSL_GZ: &[u8] = include_bytes!("../../../policy/lists/csl.csv.gz");
/// The snapshot of the default lists, built and indexed (`policy/lists/csl.snapshot`, built by
/// `cargo run --release -p aidf-screen --example build-lists-snapshot`; see [`snapshot`]).
pub const DEFAULT_SNAPSHOT: &[u8] = include_bytes!("../../../policy/lists/csl.snapshot");
/// Where [`DEFAULT_SNAPSHOT`] lives in the repository.
pub const DEFAULT_SNAPSHOT_FILE: &str = "policy/lists/csl.snapshot";

/// Why a query cannot be screened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// No name, or nothing but punctuation and legal forms.
    #[error("field `{field}`: empty (expected a party name)")]
    EmptyName {
        /// The field (e.g. `name`, `name1`).
        field: String,
    },
    /// The name is longer than [`NAME_BYTES_MAX`].
    #[error("field `{field}`: {bytes} bytes (expected at most {max})")]
    NameTooLong {
        /// The field.
        field: String,
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The country is not two ASCII letters.
    #[error("field `country`: `{value}` (expected an ISO 3166-1 alpha-2 code such as CN)")]
    Country {
        /// The value given.
        value: String,
    },
    /// Thresholds out of order or outside 0..1.
    #[error("thresholds: clear {clear}, possible {possible} (expected 0 < possible <= clear <= 1)")]
    Thresholds {
        /// Clear-hit threshold.
        clear: f64,
        /// Possible-hit threshold.
        possible: f64,
    },
}

/// The party to screen.
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    /// Its name, in any script.
    pub name: &'a str,
    /// ISO-2 country, if known (a qualifier: a different listed country lowers the score).
    pub country: Option<&'a str>,
    /// Person or organisation, if known.
    pub party_type: Option<PartyType>,
}

/// Score thresholds (per tenant configuration): at or above `clear` a hit is clear, at or above
/// `possible` it is possible (review), below it is no hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Thresholds {
    /// Clear hit.
    pub clear: f64,
    /// Possible hit.
    pub possible: f64,
}

impl Default for Thresholds {
    /// Calibrated on the development set (`tests/data/dev-pairs.csv`, see docs/screening.md).
    fn default() -> Self {
        Thresholds {
            clear: 0.88,
            possible: 0.70,
        }
    }
}

impl Thresholds {
    /// Checks `0 < possible <= clear <= 1`.
    pub fn validated(self) -> Result<Thresholds, QueryError> {
        let ordered = self.possible > 0.0 && self.possible <= self.clear && self.clear <= 1.0;
        if ordered {
            Ok(self)
        } else {
            Err(QueryError::Thresholds {
                clear: self.clear,
                possible: self.possible,
            })
        }
    }

    /// The verdict for a score.
    pub fn verdict(&self, score: f64) -> Verdict {
        if score >= self.clear {
            Verdict::ClearHit
        } else if score >= self.possible {
            Verdict::PossibleHit
        } else {
            Verdict::NoMatch
        }
    }
}

/// What a score means at the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Below the possible-hit threshold.
    NoMatch,
    /// Review: a possible hit.
    PossibleHit,
    /// A clear hit.
    ClearHit,
}

impl Verdict {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoMatch => "no_match",
            Verdict::PossibleHit => "possible_hit",
            Verdict::ClearHit => "clear_hit",
        }
    }
}

/// One hit: the entry, the name of it that matched, the score and why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Hit<'a> {
    /// Score in 0..1.
    pub score: f64,
    /// Clear or possible.
    pub verdict: Verdict,
    /// The entry's name or alias that scored best.
    pub matched_name: &'a str,
    /// The matched name is an alias.
    pub matched_alias: bool,
    /// The list entry (license terms included for the Entity List).
    pub entry: &'a Entry,
    /// The list version it comes from.
    pub list_version: &'a ListVersion,
    /// Features of the score.
    pub explanation: Explanation,
}

/// The answer to one screening.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Screening<'a> {
    /// The worst verdict over the hits (`no_match` if none).
    pub verdict: Verdict,
    /// Hits at or above the possible threshold, best first.
    pub hits: Vec<Hit<'a>>,
    /// The list versions screened against.
    pub list_versions: &'a [ListVersion],
    /// The thresholds applied.
    pub thresholds: Thresholds,
}

/// A pairwise comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Score in 0..1.
    pub score: f64,
    /// Score at or above the clear-hit threshold.
    #[serde(rename = "match")]
    pub is_match: bool,
    /// Verdict at the thresholds.
    pub verdict: Verdict,
    /// Features of the score.
    pub explanation: Explanation,
}

/// How much of each hit to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every hit with its explanation.
    Explained,
    /// Scores and entries only.
    ScoresOnly,
}

/// Candidates scored per query (retrieved by the index, best shared rarity first).
const CANDIDATES_MAX: usize = 32;

/// Checks and normalizes a name field.
pub fn normalize_query(field: &str, name: &str) -> Result<NameForm, QueryError> {
    if name.len() > NAME_BYTES_MAX {
        return Err(QueryError::NameTooLong {
            field: field.to_owned(),
            bytes: name.len(),
            max: NAME_BYTES_MAX,
        });
    }
    let form = normalize(name);
    if form.tokens.is_empty() {
        return Err(QueryError::EmptyName {
            field: field.to_owned(),
        });
    }
    Ok(form)
}

fn check_country(country: Option<&str>) -> Result<Option<String>, QueryError> {
    match country.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c.to_ascii_uppercase()))
        }
        Some(c) => Err(QueryError::Country {
            value: c.to_owned(),
        }),
    }
}

fn type_name(party_type: PartyType) -> &'static str {
    match party_type {
        PartyType::Person => "person",
        PartyType::Organization => "organization",
        PartyType::Vessel => "vessel",
        PartyType::Aircraft => "aircraft",
        PartyType::Unknown => "unknown",
    }
}

fn type_mismatch(
    query: Option<PartyType>,
    entry: PartyType,
) -> Option<(&'static str, &'static str)> {
    let query = query.filter(|t| *t != PartyType::Unknown)?;
    (entry != PartyType::Unknown && entry != query).then(|| (type_name(query), type_name(entry)))
}

impl ListSet {
    /// Screens one party against every loaded list; every hit explained.
    pub fn screen(
        &self,
        party: &Party<'_>,
        thresholds: Thresholds,
        params: &ScoreParams,
    ) -> Result<Screening<'_>, QueryError> {
        self.screen_with(party, thresholds, params, Detail::Explained)
    }

    /// Screens one party; with [`Detail::ScoresOnly`] the hits' explanations are left empty (the
    /// same hits and scores, for bulk consumers that print only the best hit).
    pub fn screen_with(
        &self,
        party: &Party<'_>,
        thresholds: Thresholds,
        params: &ScoreParams,
        detail: Detail,
    ) -> Result<Screening<'_>, QueryError> {
        let thresholds = thresholds.validated()?;
        let explain_from = match detail {
            Detail::Explained => thresholds.possible,
            Detail::ScoresOnly => f64::INFINITY,
        };
        let form = normalize_query("name", party.name)?;
        let country = check_country(party.country)?;
        let weights = self.weights_of(&form);
        let mut best: Vec<(u32, f64, u32, Explanation)> = Vec::new();
        for name_id in self.candidates(&form, CANDIDATES_MAX) {
            let query = score::Side {
                form: &form,
                weights: &weights,
            };
            let qualifiers = (party, country.as_deref());
            let (score, explanation) =
                self.score_name(query, name_id, qualifiers, params, explain_from);
            if score < thresholds.possible {
                continue;
            }
            let entry = self.name_at(name_id as usize).entry;
            match best.iter_mut().find(|(e, ..)| *e == entry) {
                Some(slot) if slot.1 >= score => {}
                Some(slot) => *slot = (entry, score, name_id, explanation),
                None => best.push((entry, score, name_id, explanation)),
            }
        }
        // Equal scores: a main name before an alias, then the shorter listed name (the parent
        // before an affiliate that only contains its name), then list order.
        best.sort_by(|a, b| {
            let rank = |(entry, _, name_id, _): &(u32, f64, u32, Explanation)| {
                let alias = self.name_at(*name_id as usize).alias;
                (alias, self.entry_at(*entry as usize).name.len(), *entry)
            };
            b.1.total_cmp(&a.1).then_with(|| rank(a).cmp(&rank(b)))
        });
        let hits: Vec<Hit<'_>> = best
            .into_iter()
            .map(|(entry, score, name_id, explanation)| {
                self.hit(entry, score, name_id, explanation, thresholds)
            })
            .collect();
        Ok(Screening {
            verdict: hits.first().map_or(Verdict::NoMatch, |h| h.verdict),
            hits,
            list_versions: &self.versions,
            thresholds,
        })
    }

    fn score_name(
        &self,
        query: score::Side<'_>,
        name_id: u32,
        (party, country): (&Party<'_>, Option<&str>),
        params: &ScoreParams,
        explain_from: f64,
    ) -> (f64, Explanation) {
        let name = self.name_at(name_id as usize);
        let entry = self.entry_at(name.entry as usize);
        let iso_countries: Option<&[String]> = (!entry.countries.is_empty()
            && entry.countries.iter().all(|c| c.len() == 2))
        .then_some(entry.countries.as_slice());
        let context = score::Context {
            persons: entry.party_type == PartyType::Person
                || party.party_type == Some(PartyType::Person),
            type_mismatch: type_mismatch(party.party_type, entry.party_type),
            country: country.zip(iso_countries),
        };
        let listed = score::Side {
            form: &name.form,
            weights: &name.weights,
        };
        score::score(query, listed, context, params, explain_from)
    }

    fn hit(
        &self,
        entry: u32,
        score: f64,
        name_id: u32,
        explanation: Explanation,
        thresholds: Thresholds,
    ) -> Hit<'_> {
        let name = self.name_at(name_id as usize);
        let entry = self.entry_at(entry as usize);
        Hit {
            score: round3(score),
            verdict: thresholds.verdict(score),
            matched_name: &name.text,
            matched_alias: name.alias,
            entry,
            list_version: &self.versions[entry.version],
            explanation,
        }
    }

    /// Compares two names (rarity weights from the loaded lists; `schema` person or not).
    pub fn compare(
        &self,
        name1: &str,
        name2: &str,
        person: bool,
        thresholds: Thresholds,
        params: &ScoreParams,
    ) -> Result<Comparison, QueryError> {
        let thresholds = thresholds.validated()?;
        let form1 = normalize_query("name1", name1)?;
        let form2 = normalize_query("name2", name2)?;
        let (weights1, weights2) = (self.weights_of(&form1), self.weights_of(&form2));
        let context = score::Context {
            persons: person,
            type_mismatch: None,
            country: None,
        };
        let side1 = score::Side {
            form: &form1,
            weights: &weights1,
        };
        let side2 = score::Side {
            form: &form2,
            weights: &weights2,
        };
        let (score, explanation) = score::score(side1, side2, context, params, 0.0);
        Ok(Comparison {
            score: round3(score),
            is_match: score >= thresholds.clear,
            verdict: thresholds.verdict(score),
            explanation,
        })
    }

    /// Loads the repository's default lists: the embedded snapshot read in place (a few
    /// milliseconds), or, if it is stale or unreadable, the embedded CSV built in full (~0.7 s;
    /// [`ListSet::note`] says why).
    pub fn default_lists() -> Result<ListSet, LoadError> {
        ListSet::from_snapshot_or_build(
            DEFAULT_SNAPSHOT_FILE,
            SnapshotBytes::Static(DEFAULT_SNAPSHOT),
            default_fingerprint(),
            false,
            ListSet::default_lists_built,
        )
    }

    /// Reads a snapshot in place if it carries `fingerprint` and is sound; otherwise builds the
    /// set with `build` (never a wrong answer) and records why in [`ListSet::note`].
    pub fn from_snapshot_or_build(
        file: &str,
        bytes: SnapshotBytes,
        fingerprint: u64,
        verify: bool,
        build: impl FnOnce() -> Result<ListSet, LoadError>,
    ) -> Result<ListSet, LoadError> {
        match ListSet::from_snapshot(file, bytes, fingerprint, verify) {
            Ok(set) => Ok(set),
            Err(e) => {
                let mut set = build()?;
                set.set_note(format!("{e}; lists built from their files instead"));
                Ok(set)
            }
        }
    }

    /// Loads the repository's default lists from the embedded CSV (gunzip, parse, normalize
    /// every name, index): what the snapshot is built from.
    pub fn default_lists_built() -> Result<ListSet, LoadError> {
        let metas = parse_manifest("policy/lists/lists.toml", DEFAULT_MANIFEST)?;
        let mut lists = Vec::new();
        for meta in &metas {
            let file = meta.file.as_deref().unwrap_or("csl.csv.gz");
            lists.push(load_csl(file, DEFAULT_CSL_GZ, meta)?);
        }
        Ok(ListSet::build(lists))
    }
}

/// The fingerprint of the default lists' files (manifest and CSV, as embedded), which
/// [`DEFAULT_SNAPSHOT`] must carry.
pub fn default_fingerprint() -> u64 {
    snapshot::fingerprint(&[DEFAULT_MANIFEST.as_bytes(), DEFAULT_CSL_GZ])
}
