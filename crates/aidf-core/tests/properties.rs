//! Invariants of the determination, over generated transactions.

use aidf_core::input::{Consignee, Context, ItemInput, VeuKind, VeuRef};
use aidf_core::{Authorization, DeterminationInput, Policy, Posture, determine};
use chrono::NaiveDate;
use proptest::prelude::*;
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(|| Policy::embedded().expect("policy"));

const COUNTRIES: &[&str] = &[
    "US", "DE", "FR", "JP", "GB", "MY", "IN", "AE", "SA", "SG", "IL", "BR", "VN", "KZ", "CN", "HK",
    "MO", "RU", "IR", "KH", "MX", "TW", "KR", "ZA",
];
const EMBARGOED: &[&str] = &["CN", "HK", "MO", "RU", "IR"];

fn datacenter_chips() -> Vec<String> {
    POLICY
        .catalog
        .chips()
        .iter()
        .filter(|c| c.datacenter == aidf_core::classify::Datacenter::Yes && c.metrics().is_some())
        .filter(|c| {
            let m = c.metrics().expect("metrics");
            m.tpp_whole() >= 4800
        })
        .map(|c| c.id.to_string())
        .collect()
}

prop_compose! {
    fn transaction()(
        dest in 0..COUNTRIES.len(),
        hq in 0..COUNTRIES.len(),
        parent in 0..COUNTRIES.len(),
        chip in 0..datacenter_chips().len(),
        quantity in 1i64..20_000,
        ytd in 0u64..40_000_000,
        used in 0u64..1_700_000_000,
        g2g in any::<bool>(),
        veu in 0u8..3,
        installed in 0u64..6_000_000_000,
        end_use in 0u8..4,
        day in 0i64..1300,
        enforced in any::<bool>(),
        listed in proptest::bool::weighted(0.05),
    ) -> DeterminationInput {
        let date = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + chrono::Duration::days(day);
        DeterminationInput {
            date,
            posture: Some(if enforced { Posture::AsEnforced } else { Posture::AsWritten }),
            regime: None,
            transaction: None,
            exporter: None,
            destination: COUNTRIES[dest].into(),
            consignee: Consignee {
                name: "c".into(),
                hq: COUNTRIES[hq].into(),
                parent_hq: Some(COUNTRIES[parent].into()),
                veu: match veu {
                    1 => Some(VeuRef { kind: VeuKind::Uveu, id: "u".into() }),
                    2 => Some(VeuRef { kind: VeuKind::Nveu, id: "n".into() }),
                    _ => None,
                },
                listed,
                government: false,
                ..Default::default()
            },
            end_use: Some(match end_use {
                0 => aidf_core::input::EndUse::Deployment,
                1 => aidf_core::input::EndUse::Development,
                2 => aidf_core::input::EndUse::Production,
                _ => aidf_core::input::EndUse::Storage,
            }),
            ultimate_destination: None,
            item: ItemInput { chip: Some(datacenter_chips()[chip].clone()), ..Default::default() },
            quantity: Some(quantity),
            context: Context {
                consignee_ytd_tpp: ytd,
                country_allocation_used_tpp: used,
                gov_to_gov_agreement: g2g,
                nveu_installed_tpp: installed,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// More quantity never turns a required license into none.
    #[test]
    fn more_quantity_never_removes_a_license(t in transaction(), extra in 1i64..50_000) {
        let a = determine(&POLICY, &t).expect("determine");
        let mut more = t.clone();
        more.quantity = Some(t.quantity.unwrap_or(1) + extra);
        let b = determine(&POLICY, &more).expect("determine");
        if a.license_required {
            prop_assert!(b.license_required, "{:?} -> {:?}", a.authorization, b.authorization);
        }
    }

    /// Tier 3 destinations and Macau/D:5-headquartered parties never get an exception for
    /// datacenter 3A090.a chips under the diffusion rule (a sale within the US is no export at
    /// all, 15 CFR 734.13, and is left out).
    #[test]
    fn tier3_never_gets_an_exception(t in transaction()) {
        let d = determine(&POLICY, &t).expect("determine");
        let tainted = t.destination != "US"
            && [&t.destination, &t.consignee.hq, t.consignee.parent_hq.as_ref().expect("parent")]
                .iter()
                .any(|c| EMBARGOED.contains(&c.as_str()));
        if tainted && d.regime.id.as_ref() == "ai-diffusion-2025" {
            prop_assert_eq!(d.authorization, Authorization::License);
            prop_assert_eq!(d.review_policy, Some(aidf_core::regime::ReviewPolicy::Denial));
        }
        if tainted {
            prop_assert!(!matches!(d.authorization,
                Authorization::Aia | Authorization::Lpp | Authorization::Acm | Authorization::Uveu | Authorization::Nveu));
        }
    }

    /// total_tpp is quantity × unit TPP; every answer names its regime and has reasons; a license
    /// always has a review policy and an exception never does.
    #[test]
    fn output_is_consistent(t in transaction()) {
        let d = determine(&POLICY, &t).expect("determine");
        prop_assert_eq!(d.total_tpp, d.unit_tpp * t.quantity.expect("q") as u64);
        prop_assert!(d.regime.digest.starts_with("sha256:"));
        prop_assert!(!d.reasons.is_empty());
        prop_assert_eq!(d.license_required, d.review_policy.is_some());
        prop_assert_eq!(d.license_required, d.authorization == Authorization::License);
        if d.counts_against.contains(&aidf_core::Counter::LppAnnual) {
            prop_assert!(t.context.consignee_ytd_tpp + d.total_tpp <= 26_900_000);
        }
    }

    /// Arbitrary JSON never panics the parser or the engine.
    #[test]
    fn arbitrary_json_never_panics(s in ".{0,200}") {
        if let Ok(i) = DeterminationInput::from_json(&s) {
            let _ = determine(&POLICY, &i);
        }
    }
}
