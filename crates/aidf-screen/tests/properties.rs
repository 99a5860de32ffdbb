//! Property tests: no string, in any script or none, makes normalization, screening, comparison
//! or the OFAC-parity score panic; scores stay in 0..1; a listed name always finds itself.

use aidf_screen::{
    ListFormat, ListMeta, ListSet, Party, ScoreParams, Thresholds, load_csl, normalize,
    ofac_parity_score,
};
use proptest::prelude::*;

const LIST: &str = "source,name,type,alt_names,addresses\n\
Entity List (EL) - Bureau of Industry and Security,\"Huawei Technologies Co., Ltd. (Huawei)\",,华为技术有限公司,CN\n\
Specially Designated Nationals (SDN) - Treasury Department,\"PUTIN, Vladimir Vladimirovich\",Individual,Путин Владимир,RU\n\
Specially Designated Nationals (SDN) - Treasury Department,BANK MELLI IRAN,Entity,بنك ملي ايران,IR\n";

fn lists() -> ListSet {
    let meta = ListMeta {
        id: "t".into(),
        format: ListFormat::Csl,
        date: "2026-07-31".into(),
        source: String::new(),
        file: Some("t.csv".into()),
        files: None,
    };
    ListSet::build(vec![
        load_csl("t.csv", LIST.as_bytes(), &meta).expect("loads"),
    ])
}

/// Strings mixing scripts, combining marks, joiners, punctuation and control characters.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\p{Han}\\p{Cyrillic}\\p{Arabic}\\p{Greek}\\p{Latin} .,()'\\-\u{200c}\u{0301}]{0,60}",
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_panics_and_scores_stay_in_range(name in any_name(), other in any_name()) {
        let set = lists();
        let _ = normalize(&name);
        let party = Party { name: &name, country: None, party_type: None };
        if let Ok(screening) = set.screen(&party, Thresholds::default(), &ScoreParams::default()) {
            for hit in &screening.hits {
                prop_assert!((0.0..=1.0).contains(&hit.score));
            }
        }
        if let Ok(c) = set.compare(&name, &other, false, Thresholds::default(), &ScoreParams::default()) {
            prop_assert!((0.0..=1.0).contains(&c.score));
        }
        let ofac = ofac_parity_score(&name, &other);
        prop_assert!((0.0..=100.0).contains(&ofac));
    }

    #[test]
    fn a_name_compared_with_itself_is_a_clear_match(name in any_name()) {
        let set = lists();
        if let Ok(c) = set.compare(&name, &name, false, Thresholds::default(), &ScoreParams::default()) {
            prop_assert!(c.is_match, "{name:?} scored {}", c.score);
        }
    }
}
