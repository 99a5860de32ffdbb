//! OFAC-parity mode: a score on OFAC Sanctions List Search's scale (0-100), for officers who
//! compare with that tool. OFAC describes its search as Jaro-Winkler and Soundex over the whole
//! name and over name parts, reporting the higher. This reproduces that shape: the whole-name
//! Jaro-Winkler in the order written, and the name-part score (the weakest query part's best Jaro-Winkler, a
//! Soundex-equal part counting at least 0.9; parts under three letters ignored); the higher of the two. Calibrated against the 170
//! scores OFAC's tool gave (`shared/data/lists/matching/ofac-search-scores.csv`, see the test).

use crate::normalize::phonetic_key;

/// The OFAC-scale score (0-100) of a listed name for a query.
pub fn ofac_parity_score(query: &str, listed: &str) -> f64 {
    let query_parts = parts(query);
    let listed_parts = parts(listed);
    if query_parts.is_empty() || listed_parts.is_empty() {
        return 0.0;
    }
    let whole = whole_name(&query_parts, listed);
    let by_part = name_parts(&query_parts, &listed_parts);
    (whole.max(by_part) * 100.0).round()
}

/// Uppercase ASCII letters and digits per part (punctuation splits; `deunicode` for the rest).
fn parts(name: &str) -> Vec<String> {
    deunicode::deunicode(name)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Jaro-Winkler of the whole names, in the order written (OFAC does not reorder: `GEORGE BUSH`
/// / `HASWANI, George` scores 50 there).
fn whole_name(query: &[String], listed: &str) -> f64 {
    strsim::jaro_winkler(&query.join(" "), &parts(listed).join(" "))
}

/// Soundex agreement lifts a part to at least this Jaro-Winkler.
const SOUNDEX_FLOOR: f64 = 0.9;

/// Query parts shorter than this are ignored by the name-part score (`XI`, `UN`, `J.P.`), as
/// OFAC's scores show (`XI JINPING` / `YANG, Jianping` scores 97).
const PART_LEN_MIN: usize = 3;

/// The name-part score: every (significant) query part must find a partner, so the weakest
/// part's best Jaro-Winkler is the score (`GEORGE BUSH` / `HASWANI, George` scores 50 at OFAC).
fn name_parts(query: &[String], listed: &[String]) -> f64 {
    let significant: Vec<&String> = query.iter().filter(|p| p.len() >= PART_LEN_MIN).collect();
    let parts: Vec<&String> = if significant.is_empty() {
        query.iter().collect()
    } else {
        significant
    };
    parts
        .iter()
        .map(|part| {
            listed
                .iter()
                .map(|other| part_score(part, other))
                .fold(0.0, f64::max)
        })
        .fold(1.0, f64::min)
}

fn part_score(part: &str, other: &str) -> f64 {
    let similarity = strsim::jaro_winkler(part, other);
    let sounds_alike = part.len() >= PART_LEN_MIN
        && phonetic_key(&part.to_ascii_lowercase()) == phonetic_key(&other.to_ascii_lowercase());
    if sounds_alike {
        similarity.max(SOUNDEX_FLOOR)
    } else {
        similarity
    }
}
