//! The licensing lag and denial share (issue 15, item 4): a table of small scenarios whose
//! outcomes are computed by hand, and the errors of bad values.
//!
//! Every scenario: Saudi Arabia under the pinned `ac-2024-aca` regime (a license is required for
//! a datacenter H100 to D:4, ACA does not cover it, and `case_by_case = "grant"` takes any review
//! as granted), one consignee, orders of one H100e (one H100), so each order is one license
//! application of one H100's TPP. Demand `[4, 0]` in a quarter of 90 days (2025Q1) places the
//! orders on day `j × 90 / 4`: 1 January, 23 January, 15 February and 9 March. The second quarter
//! (2025Q2) ends on 30 June, the horizon.

use aidf_batch::scenario::{Scenario, parse_share_per_mille};
use aidf_batch::simulate::{CountryResult, simulate};
use aidf_core::Policy;

fn policy() -> &'static Policy {
    static P: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    P.get_or_init(|| Policy::embedded().expect("policy"))
}

fn scenario(licensing: &str) -> String {
    format!(
        "name = \"lag\"\nstart = \"2025-01-01\"\nquarters = 2\nregimes = [\"ac-2024-aca\"]\n\
         case_by_case = \"grant\"\n[defaults]\nconsignees = 1\norder_h100e = 1\n\
         chip_mix = {{ \"nvidia-h100-sxm\" = 1 }}\n\
         [[country]]\ncode = \"SA\"\ndemand_h100e = [4, 0]\n{licensing}"
    )
}

/// Runs the scenario; the SA result and the TPP of one order (one H100).
fn run(licensing: &str) -> (CountryResult, u128) {
    let sc = Scenario::parse("t.toml", &scenario(licensing), policy()).expect("scenario");
    let res = simulate(policy(), &sc).expect("simulates");
    let sa = res.runs[0].countries[0].clone();
    assert_eq!(sa.country, "SA");
    let unit = policy()
        .catalog
        .lookup("nvidia-h100-sxm")
        .expect("h100")
        .metrics()
        .expect("metrics")
        .tpp_whole();
    (sa, u128::from(unit))
}

struct Case {
    what: &'static str,
    licensing: &'static str,
    /// Per quarter, in orders: licensed (granted that quarter), of which after the lag, denied,
    /// pending at quarter end.
    quarters: [(u128, u128, u128, u128); 2],
    /// Applications granted, denied, pending at the horizon; mean delay.
    granted: u64,
    denied: u64,
    pending: u64,
    mean_delay: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        what: "no lag, no denial: the four are licensed the day they are filed",
        licensing: "",
        quarters: [(4, 0, 0, 0), (0, 0, 0, 0)],
        granted: 4,
        denied: 0,
        pending: 0,
        mean_delay: Some("0.0"),
    },
    Case {
        what: "30 days: grants on 31 Jan, 22 Feb, 16 Mar and 8 Apr; the last lands in Q2",
        licensing: "approval_lag_days = 30\n",
        quarters: [(3, 3, 0, 1), (1, 1, 0, 0)],
        granted: 4,
        denied: 0,
        pending: 0,
        mean_delay: Some("30.0"),
    },
    Case {
        what: "100 days: 11 Apr, 3 May, 26 May, 17 Jun, all in Q2",
        licensing: "approval_lag_days = 100\n",
        quarters: [(0, 0, 0, 4), (4, 4, 0, 0)],
        granted: 4,
        denied: 0,
        pending: 0,
        mean_delay: Some("100.0"),
    },
    Case {
        what: "170 days: 20 Jun and 12 Jul; the last two lie past the horizon and stay pending",
        licensing: "approval_lag_days = 170\n",
        quarters: [(0, 0, 0, 4), (1, 1, 0, 3)],
        granted: 1,
        denied: 0,
        pending: 3,
        mean_delay: Some("170.0"),
    },
    Case {
        what: "denial share 1: every application is denied",
        licensing: "denial_share = \"1\"\napproval_lag_days = 30\n",
        quarters: [(0, 0, 4, 0), (0, 0, 0, 0)],
        granted: 0,
        denied: 4,
        pending: 0,
        mean_delay: None,
    },
    Case {
        what: "denial share 0 written out: as no denial",
        licensing: "denial_share = \"0.000\"\n",
        quarters: [(4, 0, 0, 0), (0, 0, 0, 0)],
        granted: 4,
        denied: 0,
        pending: 0,
        mean_delay: Some("0.0"),
    },
    Case {
        what: "0.25: floor(n/4) steps up at the 4th application only",
        licensing: "denial_share = \"0.25\"\n",
        quarters: [(3, 0, 1, 0), (0, 0, 0, 0)],
        granted: 3,
        denied: 1,
        pending: 0,
        mean_delay: Some("0.0"),
    },
    Case {
        what: "0.5 with 30 days: the 2nd and 4th denied, the 1st and 3rd granted in Q1",
        licensing: "denial_share = \"0.5\"\napproval_lag_days = 30\n",
        quarters: [(2, 2, 2, 0), (0, 0, 0, 0)],
        granted: 2,
        denied: 2,
        pending: 0,
        mean_delay: Some("30.0"),
    },
];

#[test]
fn the_lag_and_the_denial_share_give_the_hand_computed_outcomes() {
    for case in CASES {
        let (sa, unit) = run(case.licensing);
        for (q, &(licensed, delayed, denied, pending)) in case.quarters.iter().enumerate() {
            let s = &sa.quarters[q];
            let got = (
                s.licensed_tpp,
                s.license_delayed_tpp,
                s.license_denied_tpp,
                s.license_pending_tpp,
            );
            let want = (
                licensed * unit,
                delayed * unit,
                denied * unit,
                pending * unit,
            );
            assert_eq!(got, want, "{}: quarter {q}", case.what);
        }
        let l = &sa.licensing;
        assert_eq!(
            (l.applications, l.granted, l.denied, l.pending),
            (4, case.granted, case.denied, case.pending),
            "{}",
            case.what
        );
        assert_eq!(
            l.mean_delay_days().as_deref(),
            case.mean_delay,
            "{}",
            case.what
        );
        // Every application is accounted for once, in exact TPP.
        let demand: u128 = sa.quarters.iter().map(|q| q.demand_tpp).sum();
        assert_eq!(demand, 4 * unit, "{}", case.what);
        assert_eq!(
            l.granted_tpp + l.denied_tpp + l.refused_at_grant_tpp + l.pending_tpp,
            demand,
            "{}",
            case.what
        );
    }
}

#[test]
fn the_country_overrides_the_default_and_other_countries_keep_the_default() {
    let text = scenario("approval_lag_days = 100\n").replace(
        "[defaults]\n",
        "[defaults]\napproval_lag_days = 30\ndenial_share = \"0.5\"\n",
    ) + "[[country]]\ncode = \"QA\"\ndemand_h100e = [4, 0]\n";
    let sc = Scenario::parse("t.toml", &text, policy()).expect("scenario");
    let res = simulate(policy(), &sc).expect("simulates");
    let by = |cc: &str| {
        res.runs[0]
            .countries
            .iter()
            .find(|c| c.country == cc)
            .expect("country")
            .licensing
            .clone()
    };
    // SA: its own lag, the default share. QA: the defaults.
    assert_eq!(
        (by("SA").approval_lag_days, by("SA").denial_per_mille),
        (100, 500)
    );
    assert_eq!(
        (by("QA").approval_lag_days, by("QA").denial_per_mille),
        (30, 500)
    );
    assert_eq!((by("QA").granted, by("QA").denied), (2, 2));
}

fn err(licensing: &str) -> String {
    Scenario::parse("t.toml", &scenario(licensing), policy())
        .expect_err("should fail")
        .to_string()
}

#[test]
fn bad_values_name_the_field_and_the_value() {
    // The country block starts on line 10; the licensing line is line 13.
    let cases: &[(&str, &str)] = &[
        (
            "denial_share = \"1.5\"\n",
            "t.toml:13:16: field `country[0].denial_share`: \"1.5\" is not between 0 and 1",
        ),
        (
            "denial_share = \"-0.1\"\n",
            "field `country[0].denial_share`: \"-0.1\" is not a decimal number",
        ),
        (
            "denial_share = \"0.2555\"\n",
            "field `country[0].denial_share`: \"0.2555\" has more than three decimals",
        ),
        (
            "denial_share = \"a quarter\"\n",
            "\"a quarter\" is not a decimal number",
        ),
        ("denial_share = 0.25\n", "country[0].denial_share"),
        (
            "approval_lag_days = -1\n",
            "t.toml:13:21: field `country[0].approval_lag_days`: `-1` is not between 0 and 3653 days",
        ),
    ];
    for (licensing, want) in cases {
        let e = err(licensing);
        assert!(e.contains(want), "{licensing:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let e = Scenario::parse(
        "t.toml",
        &scenario("").replace("[defaults]\n", "[defaults]\ndenial_share = \"2\"\n"),
        policy(),
    )
    .expect_err("bad default")
    .to_string();
    assert!(
        e.contains("field `defaults.denial_share`: \"2\" is not between 0 and 1"),
        "{e}"
    );
}

#[test]
fn shares_parse_exactly_into_per_mille() {
    for (text, per_mille) in [
        ("0", 0),
        ("1", 1000),
        ("1.000", 1000),
        ("0.25", 250),
        ("0.125", 125),
        (" 0.5 ", 500),
    ] {
        assert_eq!(parse_share_per_mille(text), Ok(per_mille), "{text}");
    }
    for text in ["", ".5", "0.", "1.001", "2", "0,5", "1e-1", "NaN"] {
        assert!(parse_share_per_mille(text).is_err(), "{text:?}");
    }
}

#[test]
fn the_2024_slowdown_example_leaves_gulf_applications_pending_and_denied() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scenario-2024-slowdown.toml"
    );
    let text = std::fs::read_to_string(path).expect("example");
    let sc = Scenario::parse("scenario-2024-slowdown.toml", &text, policy()).expect("scenario");
    let res = simulate(policy(), &sc).expect("simulates");
    for c in &res.runs[0].countries {
        let l = &c.licensing;
        assert!(l.applications > 0, "{}: no license applications", c.country);
        let demand_licensed = l.granted_tpp + l.denied_tpp + l.refused_at_grant_tpp + l.pending_tpp;
        assert_eq!(demand_licensed, l.applied_tpp, "{}", c.country);
        if ["AE", "SA", "QA"].contains(&c.country.as_str()) {
            assert!(l.pending > 0 && l.denied > 0, "{}: {l:?}", c.country);
            assert!(l.approval_lag_days >= 270, "{}", c.country);
        } else {
            assert_eq!((l.pending, l.denied), (0, 0), "{}: {l:?}", c.country);
        }
    }
}

/// Two applications for Malaysia under the framework as written, each of 30,000 H100e (above
/// LPP, so licensed against the country allocation of 790,000,000 TPP; one fits, two do not).
/// Filed on 1 January and 15 February with a lag of 60 days, both are approved on filing (the
/// allocation read then is still empty); on the grant dates (2 March, 16 April) the first draws the allocation and the second no longer fits: it is
/// refused at grant as exhausted, not granted past the cap. Without a lag the second is refused
/// on filing, by the engine.
#[test]
fn a_grant_that_no_longer_fits_the_allocation_is_refused_at_grant() {
    let text = |lag: u32| {
        format!(
            "name = \"cap\"\nstart = \"2025-01-01\"\nquarters = 2\nregimes = [\"ai-diffusion-2025\"]\n\
             [defaults]\nconsignees = 1\norder_h100e = 30000\nchip_mix = {{ \"nvidia-h100-sxm\" = 1 }}\n\
             [[country]]\ncode = \"MY\"\ndemand_h100e = [60000, 0]\napproval_lag_days = {lag}\n"
        )
    };
    let run_lag = |lag: u32| {
        let sc = Scenario::parse("t.toml", &text(lag), policy()).expect("scenario");
        simulate(policy(), &sc).expect("simulates").runs[0].countries[0].clone()
    };
    let late = run_lag(60);
    let l = &late.licensing;
    assert_eq!(
        (l.applications, l.granted, l.refused_at_grant, l.pending),
        (2, 1, 1, 0),
        "{l:?}"
    );
    assert_eq!(late.cap_violations, 0);
    assert!(late.binds.is_some());
    let exhausted = |c: &CountryResult| -> Vec<u128> {
        c.quarters.iter().map(|q| q.refused_exhausted_tpp).collect()
    };
    // The second grant was due on 16 April: refused in the second quarter.
    assert_eq!(exhausted(&late), vec![0, l.refused_at_grant_tpp]);
    for q in &late.quarters {
        assert!(q.allocation_used_tpp <= q.allocation_cap_tpp.expect("cap"));
    }
    let now = run_lag(0);
    let l = &now.licensing;
    assert_eq!(
        (l.applications, l.granted, l.refused_at_grant),
        (1, 1, 0),
        "{l:?}"
    );
    // Without a lag the engine refuses the second on filing (15 February, first quarter).
    assert_eq!(
        exhausted(&now),
        vec![late.licensing.refused_at_grant_tpp, 0]
    );
}
