//! List entries and list versions: what a hit points at.

use serde::Serialize;

/// Person, organisation, vessel or aircraft, as the list says (unknown where it says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartyType {
    /// A natural person.
    Person,
    /// A company, agency, institute or other organisation.
    Organization,
    /// A vessel.
    Vessel,
    /// An aircraft.
    Aircraft,
    /// The list does not say.
    Unknown,
}

impl PartyType {
    /// Parses the CSL `type` / OFAC `SDN_Type` value (case-insensitive; empty is unknown).
    pub fn from_list_value(value: &str) -> Option<PartyType> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "-0-" => Some(PartyType::Unknown),
            "individual" | "person" => Some(PartyType::Person),
            "entity" | "organization" | "organisation" | "company" => Some(PartyType::Organization),
            "vessel" => Some(PartyType::Vessel),
            "aircraft" => Some(PartyType::Aircraft),
            _ => None,
        }
    }
}

/// One loaded list version: a dated, digested snapshot of one file set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ListVersion {
    /// Short id from the manifest, e.g. `csl`.
    pub id: String,
    /// The snapshot date (`YYYY-MM-DD`) the publisher gave it.
    pub date: String,
    /// `sha256:` digest of the bytes loaded (decompressed; OFAC: sdn, add, alt, comments in order).
    pub sha256: String,
    /// Where it came from (free text from the manifest).
    pub source: String,
    /// Entries loaded from it.
    pub entries: usize,
}

/// One list entry (a listed party), as loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = ListEntry))]
pub struct Entry {
    /// Index of its [`ListVersion`] in the loaded set.
    pub version: usize,
    /// Data row in its file (1-based, header excluded; OFAC: the `sdn.csv` line).
    pub row: usize,
    /// The list it is on, as published (e.g. `Entity List (EL) - Bureau of Industry and Security`).
    pub source: String,
    /// The list's short code (`EL`, `SDN`, `DPL`, …), from the parenthesis in `source`.
    pub list_code: String,
    /// The publisher's id (OFAC `ent_num`), where it has one.
    pub entity_number: Option<String>,
    /// Person, organisation, vessel, aircraft or unknown.
    pub party_type: PartyType,
    /// The name as published.
    pub name: String,
    /// Aliases as published.
    pub alt_names: Vec<String>,
    /// ISO-2 countries of its addresses (CSL), or country names (OFAC).
    pub countries: Vec<String>,
    /// Addresses as published.
    pub addresses: Vec<String>,
    /// Sanctions programs (Treasury lists).
    pub programs: Vec<String>,
    /// Federal Register citations.
    pub federal_register: Vec<FrCitation>,
    /// License requirement and review policy (Entity List and other BIS lists that state them).
    pub license: Option<LicenseTerms>,
    /// Listing date, where given.
    pub start_date: Option<String>,
    /// The publisher's page for the list.
    pub source_list_url: Option<String>,
    /// Remarks (OFAC, with `sdn_comments.csv` continuations appended).
    pub remarks: Option<String>,
}

/// A Federal Register citation as the list gives it, e.g. `84 FR 22963`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FrCitation {
    /// The citation text (whitespace collapsed).
    pub text: String,
    /// Volume, where the text reads `<volume> FR <page>`.
    pub volume: Option<u32>,
    /// First page.
    pub page: Option<u32>,
}

impl FrCitation {
    /// Splits a list's `federal_register_notice` field (`,` or `;` separated).
    pub fn parse_list(field: &str) -> Vec<FrCitation> {
        field
            .split([',', ';'])
            .map(|part| part.split_whitespace().collect::<Vec<_>>())
            .filter(|words| !words.is_empty())
            .map(|words| {
                let numbers = match words.as_slice() {
                    [volume, fr, page] if fr.eq_ignore_ascii_case("fr") => {
                        volume.parse().ok().zip(page.parse().ok())
                    }
                    _ => None,
                };
                FrCitation {
                    text: words.join(" "),
                    volume: numbers.map(|(v, _)| v),
                    page: numbers.map(|(_, p)| p),
                }
            })
            .collect()
    }
}

/// Which items an Entity List license requirement covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemScope {
    /// "For all items subject to the EAR", without qualification.
    AllItemsSubjectToEar,
    /// All items subject to the EAR, with a qualification ("except …", "apart from …", "when
    /// used in …", "may be overcome by License Exception …"): read the text.
    AllItemsSubjectToEarQualified {
        /// The qualifying words, from the first qualifier on.
        qualification: String,
    },
    /// A narrower set of items (e.g. "items on the CCL and listed in supplement no. 7 to part 746").
    Narrower {
        /// The requirement text.
        text: String,
    },
}

/// The review policy's kind, read from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewPolicyKind {
    /// "Presumption of denial".
    PresumptionOfDenial,
    /// "Policy of denial" (possibly with case-by-case carve-outs in the text).
    PolicyOfDenial,
    /// "Case-by-case" review first.
    CaseByCase,
    /// "Presumption of approval".
    PresumptionOfApproval,
    /// Refers to sections of the EAR only ("See § 746.8(b)(2) of the EAR").
    SeeSections,
    /// None of the above (read the text).
    Other,
}

/// An Entity List entry's license terms, structured; the texts are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LicenseTerms {
    /// The license requirement as published.
    pub requirement: String,
    /// The items it covers.
    pub scope: ItemScope,
    /// EAR sections the requirement cites, e.g. `744.11`, `734.9(e)`.
    pub requirement_sections: Vec<String>,
    /// Footnote markers in the requirement (e.g. `1`, `2` in `734.9(e)1 and 744.11 of the EAR2`).
    pub footnotes: Vec<u8>,
    /// The license review policy as published.
    pub review_policy: String,
    /// Its kind.
    pub review_policy_kind: ReviewPolicyKind,
    /// EAR sections the review policy cites.
    pub review_policy_sections: Vec<String>,
}

impl LicenseTerms {
    /// Structures a requirement and a review policy text.
    pub fn parse(requirement: &str, review_policy: &str) -> LicenseTerms {
        LicenseTerms {
            requirement: requirement.to_owned(),
            scope: item_scope(requirement),
            requirement_sections: ear_sections(requirement),
            footnotes: footnote_markers(requirement),
            review_policy: review_policy.to_owned(),
            review_policy_kind: review_policy_kind(review_policy),
            review_policy_sections: ear_sections(review_policy),
        }
    }
}

const ALL_ITEMS: &str = "all items subject to the ear";
const QUALIFIERS: &[&str] = &[
    "except",
    "apart from",
    "when used",
    "with case-by-case",
    "may be overcome",
    "also extend",
];

fn item_scope(requirement: &str) -> ItemScope {
    let lower = requirement.to_lowercase();
    let trimmed = lower.trim_start().trim_start_matches("for ").trim_start();
    if !trimmed.starts_with(ALL_ITEMS) {
        return ItemScope::Narrower {
            text: requirement.to_owned(),
        };
    }
    let first_qualifier = QUALIFIERS.iter().filter_map(|q| lower.find(q)).min();
    match first_qualifier {
        // `lower` has the same byte offsets as `requirement` only for ASCII; fall back to it.
        Some(at) => ItemScope::AllItemsSubjectToEarQualified {
            qualification: requirement
                .get(at..)
                .unwrap_or(&lower[at..])
                .trim()
                .to_owned(),
        },
        None => ItemScope::AllItemsSubjectToEar,
    }
}

fn review_policy_kind(policy: &str) -> ReviewPolicyKind {
    let lower = policy.to_lowercase();
    let starts = |p: &str| lower.trim_start().starts_with(p);
    if lower.contains("presumption of denial") || lower.contains("presumption for denial") {
        ReviewPolicyKind::PresumptionOfDenial
    } else if lower.contains("policy of denial") {
        ReviewPolicyKind::PolicyOfDenial
    } else if starts("case-by-case") || starts("case by case") {
        ReviewPolicyKind::CaseByCase
    } else if lower.contains("presumption of approval") {
        ReviewPolicyKind::PresumptionOfApproval
    } else if starts("see") {
        ReviewPolicyKind::SeeSections
    } else {
        ReviewPolicyKind::Other
    }
}

/// EAR section references: `ddd.d+` followed by parenthesised paragraphs, e.g. `746.8(a)(3)`.
pub fn ear_sections(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut sections = Vec::new();
    let mut at = 0;
    while at + 4 < bytes.len() {
        let starts_section = bytes[at..at + 3].iter().all(u8::is_ascii_digit)
            && bytes[at + 3] == b'.'
            && bytes[at + 4].is_ascii_digit()
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric());
        if !starts_section {
            at += 1;
            continue;
        }
        let end = section_end(bytes, at + 4);
        sections.push(text[at..end].to_owned());
        at = end;
    }
    sections.dedup();
    sections
}

fn section_end(bytes: &[u8], mut end: usize) -> usize {
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    while end < bytes.len() && bytes[end] == b'(' {
        match bytes[end..].iter().position(|&b| b == b')') {
            Some(close)
                if close <= 5
                    && bytes[end + 1..end + close]
                        .iter()
                        .all(u8::is_ascii_alphanumeric) =>
            {
                end += close + 1;
            }
            _ => break,
        }
    }
    end
}

/// Footnote markers: a lone digit right after `)`, `)` + `,`, or `EAR`, not starting a number.
pub fn footnote_markers(text: &str) -> Vec<u8> {
    let chars: Vec<char> = text.chars().collect();
    let mut markers = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let Some(digit) = c.to_digit(10).filter(|d| *d > 0) else {
            continue;
        };
        let next = chars.get(i + 1).copied();
        let after_next = chars.get(i + 2).copied();
        let starts_number = next.is_some_and(|n| n.is_ascii_digit())
            || (next == Some('.') && after_next.is_some_and(|n| n.is_ascii_digit()));
        if starts_number || !follows_marker_anchor(&chars[..i]) {
            continue;
        }
        if let Ok(marker) = u8::try_from(digit) {
            markers.push(marker);
        }
    }
    markers.dedup();
    markers
}

/// Whether the text before a digit ends (spaces aside) with `)`, `),`, or the word `EAR`.
fn follows_marker_anchor(before: &[char]) -> bool {
    let trimmed: Vec<char> = before
        .iter()
        .rev()
        .skip_while(|c| c.is_whitespace())
        .copied()
        .collect();
    match trimmed.as_slice() {
        [')', ..] => true,
        [',', rest @ ..] => rest.iter().find(|c| !c.is_whitespace()) == Some(&')'),
        ['R', 'A', 'E', rest @ ..] => rest.first().is_none_or(|c| !c.is_alphanumeric()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_terms_from_entity_list_texts() {
        // (requirement, scope is all items unqualified, sections, footnotes): texts verbatim from
        // shared/data/lists/entity-list.csv.
        let cases: &[(&str, bool, &[&str], &[u8])] = &[
            (
                "For all items subject to the EAR, see §§ 734.9(e)1 and 744.11 of the EAR2",
                true,
                &["734.9(e)", "744.11"],
                &[1, 2],
            ),
            (
                "For all items subject to the EAR. (See §§ 734.9(g),3 746.8(a)(3), and 744.21(b) of the EAR)",
                true,
                &["734.9(g)", "746.8(a)(3)", "744.21(b)"],
                &[3],
            ),
            (
                "For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR)4",
                true,
                &["734.9(e)(2)", "744.11"],
                &[4],
            ),
            (
                "For All Items Subject to the EAR (See §734.9(g), 3 §746.8(a)(3), and §744.21(b) of the EAR).",
                true,
                &["734.9(g)", "746.8(a)(3)", "744.21(b)"],
                &[3],
            ),
            (
                "For all items subject to the EAR. (See §§734.4(a)(9), 734.9(e)(3), and 744.11 of the EAR)5",
                true,
                &["734.4(a)(9)", "734.9(e)(3)", "744.11"],
                &[5],
            ),
            (
                "For all items subject to the EAR (See §744.11 of the EAR)",
                true,
                &["744.11"],
                &[],
            ),
            (
                "For items on the CCL and listed in supplement no. 7 to part 746 of the EAR",
                false,
                &[],
                &[],
            ),
        ];
        for (text, all, sections, footnotes) in cases {
            let terms = LicenseTerms::parse(text, "Presumption of denial");
            assert_eq!(
                terms.scope == ItemScope::AllItemsSubjectToEar,
                *all,
                "{text}"
            );
            assert_eq!(terms.requirement_sections, *sections, "{text}");
            assert_eq!(terms.footnotes, *footnotes, "{text}");
        }
    }

    #[test]
    fn qualified_scope_and_policies() {
        let terms = LicenseTerms::parse(
            "For all items subject to the EAR when used in projects specified in § 746.8(a)(4) of the EAR",
            "Case-by-case for all items listed on the CCL. Presumption of approval for EAR99 items",
        );
        assert!(matches!(
            terms.scope,
            ItemScope::AllItemsSubjectToEarQualified { .. }
        ));
        assert_eq!(terms.review_policy_kind, ReviewPolicyKind::CaseByCase);
        let cases = [
            (
                "Presumption of denial.",
                ReviewPolicyKind::PresumptionOfDenial,
            ),
            (
                "Policy of denial. See §§ 746.8(b) and 744.21(e).",
                ReviewPolicyKind::PolicyOfDenial,
            ),
            (
                "See § 746.8(b)(2) of the EAR",
                ReviewPolicyKind::SeeSections,
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(review_policy_kind(text), kind, "{text}");
        }
    }

    #[test]
    fn federal_register_citations() {
        let cites = FrCitation::parse_list("84 FR 22963, 84 FR 43495,  85 FR 51603; 62 FR 35334");
        assert_eq!(cites.len(), 4);
        assert_eq!((cites[2].volume, cites[2].page), (Some(85), Some(51603)));
    }
}
