//! The foundry presumption in the core: rule-facts §11.3 case 10 and the 2028 gap-year switch.

use aidf_core::foundry::{Designer, FoundryInput, Packager, presumption};
use aidf_core::{Policy, PolicySources};
use chrono::NaiveDate;

fn case(transistors: u64, year: i32) -> FoundryInput {
    FoundryInput {
        node_nm: 7,
        non_planar: false,
        transistors,
        hbm: false,
        designer: Designer::None,
        export_year: year,
        packager: Packager::Fabricator,
        packaged_in: Some("JP".parse().expect("code")),
    }
}

#[test]
fn case_10_presumption_not_overcome() {
    let p = Policy::embedded().expect("policy");
    let r = p.regime("foundry-2025").expect("regime");
    let d = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    let out = presumption(&p, r, &case(33_000_000_000, 2026), d);
    assert!(out.applies && out.presumed_3a090a, "{out:?}");
    let rules: Vec<&str> = out.reasons.iter().map(|r| r.rule).collect();
    assert_eq!(
        rules,
        [
            "foundry.presumed",
            "foundry.designer_route_closed",
            "foundry.no_year_threshold",
            "foundry.not_overcome"
        ]
    );
    // Just below 30B overcomes it in any year; exactly 30B does not (below = <).
    assert!(!presumption(&p, r, &case(29_999_999_999, 2026), d).presumed_3a090a);
    assert!(presumption(&p, r, &case(30_000_000_000, 2026), d).presumed_3a090a);
    // 2027: 35B; exactly 35B is not below it.
    assert!(!presumption(&p, r, &case(34_999_999_999, 2027), d).presumed_3a090a);
    assert!(presumption(&p, r, &case(35_000_000_000, 2027), d).presumed_3a090a);
    // Every regime from the foundry rule on carries it; none before.
    for id in [
        "h20-2025",
        "ai-diffusion-2025",
        "h200-2026",
        "ai-diffusion-h200-2026",
    ] {
        let r = p.regime(id).expect("regime");
        assert!(
            presumption(&p, r, &case(33_000_000_000, 2026), d).presumed_3a090a,
            "{id}"
        );
    }
    let r = p.regime("ac-2024-hbm").expect("regime");
    assert!(!presumption(&p, r, &case(33_000_000_000, 2026), d).applies);
}

#[test]
fn the_2028_gap_follows_the_switch() {
    let d = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    let p = Policy::embedded().expect("policy");
    let r = p.regime("foundry-2025").expect("regime");
    let out = presumption(&p, r, &case(34_000_000_000, 2028), d);
    assert!(out.presumed_3a090a, "any_package_only reading");
    assert_eq!(&*out.assumptions[0].switch, "foundry_gap_year");
    let mut src = PolicySources::embedded();
    src.regimes.push((
        "carry.toml".into(),
        "id = \"carry\"\nextends = \"foundry-2025\"\ntitle = \"carry\"\n[switches.foundry_gap_year]\nvalue = \"carry_forward\"\nconfidence = \"U\"\nnote = \"2027 threshold carried into 2028\"\n".into(),
    ));
    let p = Policy::from_sources(&src).expect("policy");
    let r = p.regime("carry").expect("regime");
    let out = presumption(&p, r, &case(34_000_000_000, 2028), d);
    assert!(!out.presumed_3a090a, "{out:?}");
    assert_eq!(out.overcome_by, Some("fabricator_packaging"));
    assert_eq!(out.assumptions[0].value, "carry_forward");
}
