//! The score: explicit features over two normalized names, each reported.
//!
//! 1. Name parts are aligned one to one, best similarity first (exact, typo, phonetic, consonant
//!    skeleton for abjad scripts, Jaro-Winkler, initials; numbers only exactly; two adjacent parts
//!    joined may match one).
//! 2. Each side's coverage is the share of its rarity weight (IDF over the loaded names) that is
//!    aligned, times the similarity. The base score is their mean. For persons, extra given names
//!    and patronymics left over on the longer side weigh less.
//! 3. Specificity: a match of common words only (`bank`, `trading`) is scaled down by how much
//!    rarity it carries.
//! 4. Qualifiers multiply: numbers that disagree, person vs organisation, country.

use std::ops::Range;

use serde::Serialize;

use crate::normalize::{
    NameForm, PHONETIC_KEY_LEN_MIN, Script, Token, TokenKind, phonetic_key, skeleton,
};

/// How two name parts were found to agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartMatch {
    /// Same Latin form (or the same text in its own script).
    Exact,
    /// One edit apart (two in long words).
    Typo,
    /// Same phonetic key.
    Phonetic,
    /// Same consonant skeleton (one side in Arabic script, which omits short vowels).
    Skeleton,
    /// Jaro-Winkler similarity.
    Similar,
    /// An initial and a name starting with it.
    Initial,
    /// Two adjacent parts on one side spell the part on the other (`hua wei` / `huawei`).
    Joined,
}

/// One aligned pair of name parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AlignedPart {
    /// The query's part as written (its own script).
    pub query: String,
    /// The list name's part as written.
    pub entry: String,
    /// Latin comparison forms, `query / entry`.
    pub latin: String,
    /// Similarity in 0..1.
    pub similarity: f64,
    /// How they agree.
    pub how: PartMatch,
    /// Rarity weight of the query part.
    pub weight_query: f64,
    /// Rarity weight of the list part.
    pub weight_entry: f64,
}

/// A multiplicative qualifier applied to the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Qualifier {
    /// Feature name: `number_mismatch`, `type_mismatch`, `country_mismatch`, `country_match`.
    pub feature: &'static str,
    /// Factor applied (1 for a qualifier that only informs).
    pub factor: f64,
    /// Why.
    pub detail: String,
}

/// Why a score is what it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// Share of the query's weight aligned (similarity-weighted).
    pub query_coverage: f64,
    /// Share of the list name's weight aligned.
    pub entry_coverage: f64,
    /// Rarity the alignment carries, scaled to 0..1.
    pub specificity: f64,
    /// Aligned parts, query order.
    pub aligned: Vec<AlignedPart>,
    /// Query parts left without a partner.
    pub unmatched_query: Vec<String>,
    /// List name parts left without a partner.
    pub unmatched_entry: Vec<String>,
    /// Legal forms and stop words set aside, query side.
    pub legal_forms_query: Vec<String>,
    /// Legal forms and stop words set aside, list side.
    pub legal_forms_entry: Vec<String>,
    /// Qualifiers applied.
    pub qualifiers: Vec<Qualifier>,
}

/// Tunable constants of the score (not regulatory numbers: matching parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreParams {
    /// Aligned rarity weight at which specificity reaches 1.
    pub specificity_weight: f64,
    /// Weight kept by a person's leftover middle names / patronymics.
    pub person_extra_name_weight: f64,
    /// Weight kept by a leftover place word (city, province, country).
    pub place_weight: f64,
    /// Factor when numbers on both sides disagree.
    pub number_mismatch_factor: f64,
    /// Factor when person and organisation are compared.
    pub type_mismatch_factor: f64,
    /// Factor when the query's country is not among the entry's.
    pub country_mismatch_factor: f64,
}

impl Default for ScoreParams {
    fn default() -> Self {
        ScoreParams {
            specificity_weight: 7.0,
            person_extra_name_weight: 0.3,
            place_weight: 0.3,
            number_mismatch_factor: 0.7,
            type_mismatch_factor: 0.85,
            country_mismatch_factor: 0.9,
        }
    }
}

/// One side of a comparison: its form and each token's rarity weight.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The normalized name.
    pub form: &'a NameForm,
    /// Weight per token (same order).
    pub weights: &'a [f64],
}

/// Phonetic keys are coarse (`zhongxin` and `shenzhen` share one): the spellings must also be
/// this close for a phonetic agreement to count.
const PHONETIC_JARO_WINKLER_MIN: f64 = 0.75;

/// Similarity of two parts and how they agree (0 and `None` when they do not).
pub fn part_similarity(a: &Token, b: &Token) -> Option<(f64, PartMatch)> {
    if a.kind == TokenKind::Number || b.kind == TokenKind::Number {
        return (a.latin == b.latin).then_some((1.0, PartMatch::Exact));
    }
    if a.latin == b.latin || (a.script != Script::Latin && a.native == b.native) {
        return Some((1.0, PartMatch::Exact));
    }
    if a.kind == TokenKind::Initial || b.kind == TokenKind::Initial {
        let same_first = a.latin.as_bytes().first() == b.latin.as_bytes().first();
        return same_first.then_some((0.6, PartMatch::Initial));
    }
    let shorter = a.latin.len().min(b.latin.len());
    let mut best: Option<(f64, PartMatch)> = None;
    let mut offer = |similarity: f64, how: PartMatch| {
        if best.is_none_or(|(s, _)| similarity > s) {
            best = Some((similarity, how));
        }
    };
    // Jaro-Winkler cannot reach the phonetic or similarity floors when one word is under a
    // quarter of the other's length: skip it.
    let jaro_winkler = if shorter * 4 < a.latin.len().max(b.latin.len()) {
        0.0
    } else {
        strsim::jaro_winkler(&a.latin, &b.latin)
    };
    let shorter_spelled = a.spelled.len().min(b.spelled.len());
    let length_gap = a.spelled.len().abs_diff(b.spelled.len());
    if shorter_spelled >= 4 && length_gap <= 2 && a.spelled.as_bytes()[0] == b.spelled.as_bytes()[0]
    {
        let edits = strsim::osa_distance(&a.spelled, &b.spelled);
        if edits == 1 || (edits == 2 && shorter_spelled >= 9) {
            offer(typo_similarity(edits, shorter_spelled), PartMatch::Typo);
        }
    }
    if shorter >= 4 && jaro_winkler >= PHONETIC_JARO_WINKLER_MIN {
        let key = phonetic_key(&a.latin);
        if key.len() >= PHONETIC_KEY_LEN_MIN && key == phonetic_key(&b.latin) {
            offer(0.85, PartMatch::Phonetic);
        }
    }
    let abjad = a.script == Script::Arabic || b.script == Script::Arabic;
    if abjad && shorter >= 2 && skeleton(&a.latin) == skeleton(&b.latin) {
        offer(0.9, PartMatch::Skeleton);
    }
    if jaro_winkler >= SIMILAR_JARO_WINKLER_MIN && !is_extended(&a.latin, &b.latin) {
        offer(jaro_winkler * jaro_winkler, PartMatch::Similar);
    }
    best
}

/// One word is the other plus three letters or more (`smith` / `smithson`, `abramov` /
/// `abramovich`): a different name, though Jaro-Winkler rewards the shared prefix.
fn is_extended(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.len() >= short.len() + 3 && long.starts_with(short)
}

/// Jaro-Winkler below this is no agreement.
const SIMILAR_JARO_WINKLER_MIN: f64 = 0.88;

/// One edit in a long word is a typo; in a short word it changes more: `1 - edits × 0.4 / len`,
/// at most 0.95.
fn typo_similarity(edits: usize, shorter_len: usize) -> f64 {
    (1.0 - edits as f64 * 0.4 / shorter_len as f64).min(0.95)
}

/// Which part pairs were aligned: `(query index, entry indices, similarity, how)`.
type Alignment = Vec<(usize, Range<usize>, f64, PartMatch)>;

/// Exact pairs first, then joined pairs (`sense time` / `sensetime`), then the rest by similarity.
fn align(query: &NameForm, entry: &NameForm) -> (Alignment, Vec<bool>, Vec<bool>) {
    let mut pairs = Vec::new();
    for (i, a) in query.tokens.iter().enumerate() {
        for (j, b) in entry.tokens.iter().enumerate() {
            if let Some((similarity, how)) = part_similarity(a, b) {
                pairs.push((similarity, i, j, how));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut used_query = vec![false; query.tokens.len()];
    let mut used_entry = vec![false; entry.tokens.len()];
    let mut alignment: Alignment = Vec::new();
    let (exact, fuzzy): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|p| p.3 == PartMatch::Exact);
    take_pairs(exact, &mut used_query, &mut used_entry, &mut alignment);
    align_joined(
        query,
        entry,
        &mut used_query,
        &mut used_entry,
        &mut alignment,
    );
    take_pairs(fuzzy, &mut used_query, &mut used_entry, &mut alignment);
    alignment.sort_by_key(|(i, ..)| *i);
    (alignment, used_query, used_entry)
}

fn take_pairs(
    pairs: Vec<(f64, usize, usize, PartMatch)>,
    used_query: &mut [bool],
    used_entry: &mut [bool],
    alignment: &mut Alignment,
) {
    for (similarity, i, j, how) in pairs {
        if !used_query[i] && !used_entry[j] {
            used_query[i] = true;
            used_entry[j] = true;
            alignment.push((i, j..j + 1, similarity, how));
        }
    }
}

/// A part on one side equal to two adjacent unaligned parts on the other, joined.
fn align_joined(
    query: &NameForm,
    entry: &NameForm,
    used_query: &mut [bool],
    used_entry: &mut [bool],
    alignment: &mut Alignment,
) {
    for (i, a) in query.tokens.iter().enumerate() {
        if used_query[i] {
            continue;
        }
        let found = entry.tokens.windows(2).enumerate().find(|(j, pair)| {
            !used_entry[*j] && !used_entry[j + 1] && joined_equals(&a.latin, &pair[0], &pair[1])
        });
        if let Some((j, _)) = found {
            used_query[i] = true;
            used_entry[j] = true;
            used_entry[j + 1] = true;
            alignment.push((i, j..j + 2, 1.0, PartMatch::Joined));
        }
    }
    for (j, b) in entry.tokens.iter().enumerate() {
        if used_entry[j] {
            continue;
        }
        let found = query.tokens.windows(2).enumerate().find(|(i, pair)| {
            !used_query[*i] && !used_query[i + 1] && joined_equals(&b.latin, &pair[0], &pair[1])
        });
        if let Some((i, _)) = found {
            used_entry[j] = true;
            used_query[i] = true;
            used_query[i + 1] = true;
            alignment.push((i, j..j + 1, 1.0, PartMatch::Joined));
            alignment.push((i + 1, j..j + 1, 1.0, PartMatch::Joined));
        }
    }
}

fn joined_equals(whole: &str, first: &Token, second: &Token) -> bool {
    whole.len() == first.latin.len() + second.latin.len()
        && whole.starts_with(first.latin.as_str())
        && whole.ends_with(second.latin.as_str())
}

/// The comparison's inputs beyond the two names.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Both are persons (leftover given names weigh less).
    pub persons: bool,
    /// The query's party type and the entry's, when both are known and differ.
    pub type_mismatch: Option<(&'a str, &'a str)>,
    /// The query's country and the entry's countries (ISO-2), if both are known.
    pub country: Option<(&'a str, &'a [String])>,
}

/// Scores two names and explains the score (the explanation is left empty for a score below
/// `explain_from`: screening explains hits only).
pub fn score(
    query: Side<'_>,
    entry: Side<'_>,
    context: Context<'_>,
    params: &ScoreParams,
    explain_from: f64,
) -> (f64, Explanation) {
    let (alignment, used_query, used_entry) = align(query.form, entry.form);
    let extra_weight = if context.persons && !alignment.is_empty() {
        params.person_extra_name_weight
    } else {
        1.0
    };
    let (mut matched_query, mut matched_entry) = (0.0, 0.0);
    for (i, js, similarity, _) in &alignment {
        let weight_entry: f64 = entry.weights[js.clone()].iter().sum::<f64>();
        matched_query += similarity * query.weights[*i];
        matched_entry += similarity * weight_entry / shared_count(&alignment, js) as f64;
    }
    // Leftover places on both sides disagree (Beijing vs Shanghai subsidiaries): no discount.
    let places_conflict =
        has_leftover_place(query.form, &used_query) && has_leftover_place(entry.form, &used_entry);
    let place_weight = if places_conflict {
        1.0
    } else {
        params.place_weight
    };
    let total_query = total_weight(query, &used_query, extra_weight, place_weight);
    let total_entry = total_weight(entry, &used_entry, extra_weight, place_weight);
    let query_coverage = ratio(matched_query, total_query);
    let entry_coverage = ratio(matched_entry, total_entry);
    let whole_names_agree = query_coverage >= 1.0 && entry_coverage >= 1.0;
    let specificity = if whole_names_agree {
        1.0
    } else {
        (matched_query.max(matched_entry) / params.specificity_weight).min(1.0)
    };
    let qualifiers_found = qualifiers(query.form, entry.form, (&used_query, &used_entry), context);
    let factor: f64 = qualifiers_found.iter().map(|q| q.factor(params)).product();
    let value = ((query_coverage + entry_coverage) / 2.0 * specificity * factor).clamp(0.0, 1.0);
    if value < explain_from {
        return (value, Explanation::default());
    }
    let aligned = alignment
        .iter()
        .map(|(i, js, similarity, how)| {
            let weight_entry: f64 = entry.weights[js.clone()].iter().sum::<f64>();
            let weights = (query.weights[*i], weight_entry);
            aligned_part(
                query.form,
                entry.form,
                *i,
                js.clone(),
                (*similarity, *how),
                weights,
            )
        })
        .collect();
    let explanation = Explanation {
        query_coverage: round3(query_coverage),
        entry_coverage: round3(entry_coverage),
        specificity: round3(specificity),
        aligned,
        unmatched_query: unmatched(query.form, &used_query),
        unmatched_entry: unmatched(entry.form, &used_entry),
        legal_forms_query: query.form.legal_forms.clone(),
        legal_forms_entry: entry.form.legal_forms.clone(),
        qualifiers: qualifiers_found.iter().map(|q| q.explain(params)).collect(),
    };
    (value, explanation)
}

/// How many query parts share the same entry parts (a joined entry part counts once).
fn shared_count(alignment: &Alignment, js: &Range<usize>) -> usize {
    alignment
        .iter()
        .filter(|(_, other, ..)| other == js)
        .count()
        .max(1)
}

fn aligned_part(
    query: &NameForm,
    entry: &NameForm,
    i: usize,
    js: Range<usize>,
    (similarity, how): (f64, PartMatch),
    (weight_query, weight_entry): (f64, f64),
) -> AlignedPart {
    let join = |f: fn(&Token) -> &str| {
        entry.tokens[js.clone()]
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .join(" ")
    };
    AlignedPart {
        query: query.tokens[i].native.clone(),
        entry: join(|t| &t.native),
        latin: format!("{} / {}", query.tokens[i].latin, join(|t| &t.latin)),
        similarity: round3(similarity),
        how,
        weight_query: round3(weight_query),
        weight_entry: round3(weight_entry),
    }
}

fn has_leftover_place(form: &NameForm, used: &[bool]) -> bool {
    form.tokens.iter().zip(used).any(|(t, u)| t.place && !u)
}

/// A side's weight, leftover middle names (persons) and place words discounted.
fn total_weight(side: Side<'_>, used: &[bool], middle_weight: f64, place_weight: f64) -> f64 {
    side.weights
        .iter()
        .zip(used)
        .zip(&side.form.tokens)
        .map(|((w, &u), token)| match (u, token.middle, token.place) {
            (true, ..) => *w,
            (false, _, true) => w * place_weight,
            (false, true, false) => w * middle_weight,
            (false, false, false) => *w,
        })
        .sum()
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (part / whole).min(1.0)
    } else {
        0.0
    }
}

fn unmatched(form: &NameForm, used: &[bool]) -> Vec<String> {
    form.tokens
        .iter()
        .zip(used)
        .filter(|(_, u)| !**u)
        .map(|(t, _)| t.native.clone())
        .collect()
}

/// A qualifier found, before it is worded.
#[derive(Debug, Clone, Copy)]
enum Found<'a> {
    NumberMismatch,
    TypeMismatch(&'a str, &'a str),
    Country {
        country: &'a str,
        listed: &'a [String],
        agrees: bool,
    },
}

impl Found<'_> {
    fn factor(&self, params: &ScoreParams) -> f64 {
        match self {
            Found::NumberMismatch => params.number_mismatch_factor,
            Found::TypeMismatch(..) => params.type_mismatch_factor,
            Found::Country { agrees: true, .. } => 1.0,
            Found::Country { agrees: false, .. } => params.country_mismatch_factor,
        }
    }

    fn explain(&self, params: &ScoreParams) -> Qualifier {
        let (feature, detail) = match self {
            Found::NumberMismatch => (
                "number_mismatch",
                "numbers in the names disagree".to_owned(),
            ),
            Found::TypeMismatch(query, listed) => (
                "type_mismatch",
                format!("{query} compared with a listed {listed}"),
            ),
            Found::Country {
                country,
                listed,
                agrees,
            } => (
                if *agrees {
                    "country_match"
                } else {
                    "country_mismatch"
                },
                format!("{country} vs listed {}", listed.join(", ")),
            ),
        };
        Qualifier {
            feature,
            factor: self.factor(params),
            detail,
        }
    }
}

fn qualifiers<'a>(
    query: &NameForm,
    entry: &NameForm,
    (used_query, used_entry): (&[bool], &[bool]),
    context: Context<'a>,
) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    let unmatched_numbers = |form: &NameForm, used: &[bool]| {
        form.tokens
            .iter()
            .zip(used)
            .any(|(t, u)| t.kind == TokenKind::Number && !u)
    };
    let has_numbers = |form: &NameForm| form.tokens.iter().any(|t| t.kind == TokenKind::Number);
    if has_numbers(query)
        && has_numbers(entry)
        && (unmatched_numbers(query, used_query) || unmatched_numbers(entry, used_entry))
    {
        out.push(Found::NumberMismatch);
    }
    if let Some((query_type, entry_type)) = context.type_mismatch {
        out.push(Found::TypeMismatch(query_type, entry_type));
    }
    if let Some((country, listed)) = context.country {
        let agrees = listed.iter().any(|c| c.eq_ignore_ascii_case(country));
        out.push(Found::Country {
            country,
            listed,
            agrees,
        });
    }
    out
}

/// Rounds to three decimals (for display fields).
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
