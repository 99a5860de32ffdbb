//! Screening against the repository's default lists (the CSL of 2026-07-31): the checks issue 14
//! names, obvious pairs that must never fail, and bad input.

use std::sync::OnceLock;

use aidf_screen::{
    ItemScope, ListSet, Party, PartyType, QueryError, ReviewPolicyKind, ScoreParams, Screening,
    Thresholds, Verdict,
};

fn lists() -> &'static ListSet {
    static LISTS: OnceLock<ListSet> = OnceLock::new();
    LISTS.get_or_init(|| ListSet::default_lists().expect("default lists load"))
}

fn screen(name: &str) -> Screening<'static> {
    screen_as(name, None, None)
}

fn screen_as(
    name: &str,
    country: Option<&str>,
    party_type: Option<PartyType>,
) -> Screening<'static> {
    let party = Party {
        name,
        country,
        party_type,
    };
    lists()
        .screen(&party, Thresholds::default(), &ScoreParams::default())
        .expect("screens")
}

const HUAWEI_EL_NAME: &str = "Huawei Technologies Co., Ltd. (Huawei)";

/// The verdict of the hit on the main Huawei Entity List entry, if any.
fn huawei_entry_verdict(screening: &Screening<'_>) -> Option<Verdict> {
    screening
        .hits
        .iter()
        .find(|h| h.entry.list_code == "EL" && h.entry.name == HUAWEI_EL_NAME)
        .map(|h| h.verdict)
}

#[test]
fn huawei_entry_is_on_the_entity_list_with_structured_terms() {
    let entry = lists()
        .entries()
        .find(|e| e.list_code == "EL" && e.name == HUAWEI_EL_NAME)
        .expect("Huawei Technologies Co., Ltd. on the Entity List");
    let terms = entry.license.as_ref().expect("license terms");
    assert_eq!(terms.scope, ItemScope::AllItemsSubjectToEar);
    assert_eq!(terms.requirement_sections, ["734.9(e)", "744.11"]);
    assert_eq!(terms.footnotes, [1, 2]);
    assert_eq!(
        terms.review_policy_kind,
        ReviewPolicyKind::PresumptionOfDenial
    );
    assert_eq!(entry.federal_register[0].text, "84 FR 22963");
    assert_eq!(entry.countries, ["CN"]);
    assert_eq!(lists().versions[entry.version].date, "2026-07-31");
}

#[test]
fn huawei_variants_find_the_entry() {
    // (query, the weakest acceptable verdict on the main Huawei entry): issue 14.
    let cases = [
        ("Huawei Technologies Co., Ltd.", Verdict::ClearHit),
        ("Huawei Tech. Co Ltd", Verdict::ClearHit),
        ("HUAWEI TECHNOLOGIES CO LTD", Verdict::ClearHit),
        ("华为技术有限公司", Verdict::PossibleHit),
    ];
    for (query, weakest) in cases {
        let verdict = huawei_entry_verdict(&screen(query));
        assert!(verdict >= Some(weakest), "{query}: {verdict:?}");
    }
}

#[test]
fn sibling_company_is_a_possible_hit_with_its_explanation() {
    // A company of the same group whose own name is not listed: it must go to review, with the
    // part that differs shown, and must not be a clear hit.
    let screening = screen("Huawei Technologies Research Co., Ltd.");
    assert_eq!(screening.verdict, Verdict::PossibleHit);
    let hit = screening
        .hits
        .iter()
        .find(|h| h.entry.name == HUAWEI_EL_NAME)
        .expect("the parent entry among the hits");
    assert_eq!(hit.verdict, Verdict::PossibleHit);
    assert_eq!(hit.explanation.unmatched_query, ["research"]);
    assert!(
        hit.explanation
            .aligned
            .iter()
            .any(|a| a.latin == "huawei / huawei")
    );
}

#[test]
fn listed_names_find_themselves() {
    // Identical names never fail: every 50th entry name of the CSL, screened as published.
    let set = lists();
    for entry in set.entries().step_by(50) {
        let screening = screen(&entry.name);
        let found = screening
            .hits
            .iter()
            .any(|h| std::ptr::eq(h.entry, entry) && h.verdict == Verdict::ClearHit);
        assert!(found, "{} not a clear hit on itself", entry.name);
    }
}

#[test]
fn obvious_variants_are_clear_hits() {
    // (query, a listed name it must hit clearly): a typo in a long word, clean transliterations
    // of well-known listed parties, word order, legal forms.
    let cases = [
        ("Huawei Technologeis Co Ltd", "HUAWEI TECHNOLOGIES CO., LTD"),
        (
            "Semiconductor Manufacturing Internatonal Corporation",
            "Semiconductor Manufacturing International Corporation",
        ),
        ("Газпромбанк", "GAZPROMBANK JOINT STOCK COMPANY"),
        (
            "Путин Владимир Владимирович",
            "PUTIN, Vladimir Vladimirovich",
        ),
        ("Vladimir Putin", "PUTIN, Vladimir"),
        ("بنك ملي ايران", "BANK MELLI IRAN"),
        ("Bank Melli Iran", "BANK MELLI IRAN"),
    ];
    for (query, listed) in cases {
        let screening = screen(query);
        let hit = screening
            .hits
            .iter()
            .find(|h| h.matched_name == listed || h.entry.name == listed);
        assert_eq!(
            hit.map(|h| h.verdict),
            Some(Verdict::ClearHit),
            "{query} → {listed}"
        );
    }
}

#[test]
fn common_words_alone_are_not_hits() {
    // The watchman "CORP" class of false positive: legal forms and common words carry no identity.
    for query in [
        "Corp",
        "Trading Company Limited",
        "Bank",
        "International Group",
    ] {
        let screening = screen(query);
        assert_ne!(screening.verdict, Verdict::ClearHit, "{query}");
    }
}

#[test]
fn country_and_type_qualify() {
    // Bank Melli Iran is an SDN entity with an Iranian address.
    const LISTED: &str = "BANK MELLI IRAN";
    let plain = screen_as(LISTED, Some("IR"), Some(PartyType::Organization));
    let elsewhere = screen_as(LISTED, Some("JP"), Some(PartyType::Person));
    let score_of = |s: &Screening<'_>| {
        s.hits
            .iter()
            .find(|h| h.matched_name == LISTED)
            .map(|h| h.score)
            .unwrap_or(0.0)
    };
    assert!(score_of(&elsewhere) < score_of(&plain));
    let hit = elsewhere
        .hits
        .iter()
        .find(|h| h.matched_name == LISTED)
        .expect("hit");
    let features: Vec<&str> = hit
        .explanation
        .qualifiers
        .iter()
        .map(|q| q.feature)
        .collect();
    assert_eq!(features, ["type_mismatch", "country_mismatch"]);
}

#[test]
fn bad_queries_are_typed_errors() {
    let params = ScoreParams::default();
    let long = "a".repeat(10 * 1024 * 1024);
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("", None, "field `name`: empty (expected a party name)"),
        (
            "  ,.;  ",
            None,
            "field `name`: empty (expected a party name)",
        ),
        (
            &long,
            None,
            "field `name`: 10485760 bytes (expected at most 1024)",
        ),
        (
            "Huawei",
            Some("China"),
            "field `country`: `China` (expected an ISO 3166-1 alpha-2 code such as CN)",
        ),
        (
            "Huawei",
            Some("C1"),
            "field `country`: `C1` (expected an ISO 3166-1 alpha-2 code such as CN)",
        ),
    ];
    for (name, country, expected) in cases {
        let party = Party {
            name,
            country,
            party_type: None,
        };
        let error = lists()
            .screen(&party, Thresholds::default(), &params)
            .unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    let bad = Thresholds {
        clear: 0.5,
        possible: 0.9,
    };
    let party = Party {
        name: "x",
        country: None,
        party_type: None,
    };
    assert!(matches!(
        lists().screen(&party, bad, &params),
        Err(QueryError::Thresholds { .. })
    ));
}
