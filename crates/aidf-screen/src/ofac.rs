//! OFAC-parity mode: a score on OFAC Sanctions List Search's scale (0-100), for officers who
//! compare with that tool. OFAC describes its search as Jaro-Winkler and Soundex over the whole
//! name and over name parts, reporting the higher. This reproduces that shape: the whole-name
//! Jaro-Winkler (with the listed name's parts reordered to follow the query's, as OFAC ignores
//! part order), and the name-part score (each query part's best Jaro-Winkler, a Soundex-equal
//! part counting as its Jaro-Winkler floor); the higher of the two. Calibrated against the 170
//! scores OFAC's tool gave (`shared/data/lists/matching/ofac-search-scores.csv`, see the test).

use crate::normalize::phonetic_key;

/// The OFAC-scale score (0-100) of a listed name for a query.
pub fn ofac_parity_score(query: &str, listed: &str) -> f64 {
    let query_parts = parts(query);
    let listed_parts = parts(listed);
    if query_parts.is_empty() || listed_parts.is_empty() {
        return 0.0;
    }
    let whole = whole_name(&query_parts, &listed_parts);
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

fn whole_name(query: &[String], listed: &[String]) -> f64 {
    let as_listed = strsim::jaro_winkler(&query.join(" "), &listed.join(" "));
    let reordered = strsim::jaro_winkler(
        &query.join(" "),
        &follow_query_order(query, listed).join(" "),
    );
    as_listed.max(reordered)
}

/// The listed parts, the best partner of each query part first (in query order), then the rest.
fn follow_query_order(query: &[String], listed: &[String]) -> Vec<String> {
    let mut used = vec![false; listed.len()];
    let mut ordered = Vec::with_capacity(listed.len());
    for part in query {
        let best = (0..listed.len()).filter(|&j| !used[j]).max_by(|&a, &b| {
            strsim::jaro_winkler(part, &listed[a])
                .total_cmp(&strsim::jaro_winkler(part, &listed[b]))
        });
        if let Some(j) = best {
            used[j] = true;
            ordered.push(listed[j].clone());
        }
    }
    ordered.extend(
        listed
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(p, _)| p.clone()),
    );
    ordered
}

/// Soundex agreement lifts a part to at least this Jaro-Winkler.
const SOUNDEX_FLOOR: f64 = 0.9;

fn name_parts(query: &[String], listed: &[String]) -> f64 {
    let total: f64 = query
        .iter()
        .map(|part| {
            listed
                .iter()
                .map(|other| {
                    let similarity = strsim::jaro_winkler(part, other);
                    let sounds_alike = part.len() >= 3
                        && phonetic_key(&part.to_ascii_lowercase())
                            == phonetic_key(&other.to_ascii_lowercase());
                    if sounds_alike {
                        similarity.max(SOUNDEX_FLOOR)
                    } else {
                        similarity
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    total / query.len() as f64
}
