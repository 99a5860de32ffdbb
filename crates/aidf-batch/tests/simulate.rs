//! Simulation invariants (property tests over generated scenarios) and scenario-file errors.
//!
//! - no cap is ever exceeded (every account's draws stay within its cap, and no draw the ledger
//!   would refuse was made);
//! - refused + granted = demanded, per country and quarter, in exact TPP;
//! - doubling a cap (a government-to-government arrangement from the first day) never lowers
//!   what a country receives, at any quarter;
//! - the same scenario and seed give byte-identical outputs (CSV, JSON, SVG and PNG).

use aidf_batch::scenario::Scenario;
use aidf_batch::simulate::{SimResult, simulate};
use aidf_core::Policy;
use proptest::prelude::*;

fn policy() -> &'static Policy {
    static P: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    P.get_or_init(|| Policy::embedded().expect("policy"))
}

#[derive(Debug, Clone)]
struct Spec {
    seed: u64,
    quarters: u32,
    countries: Vec<(&'static str, u64, i64, u64, u64)>,
    nveu: Option<(&'static str, u64)>,
    g2g: Vec<&'static str>,
    timeline: bool,
}

const CODES: &[&str] = &["MY", "AE", "SA", "IN", "BR", "SG", "DE", "CN"];

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<u64>(),
        4u32..=12,
        proptest::sample::subsequence(CODES, 1..=4),
        proptest::collection::vec((200u64..30_000, -10i64..40, 1u64..6, 100u64..4000), 4),
        proptest::option::of((0usize..4, 500u64..20_000)),
        proptest::collection::vec(any::<bool>(), 4),
        any::<bool>(),
    )
        .prop_map(|(seed, quarters, codes, params, nveu, g2g, timeline)| {
            let countries: Vec<_> = codes
                .iter()
                .zip(&params)
                .map(|(c, p)| (*c, p.0, p.1, p.2, p.3))
                .collect();
            let n = countries.len();
            Spec {
                seed,
                quarters,
                nveu: nveu.map(|(i, d)| (countries[i % n].0, d)),
                g2g: countries
                    .iter()
                    .zip(&g2g)
                    .filter(|(_, g)| **g)
                    .map(|(c, _)| c.0)
                    .collect(),
                countries,
                timeline,
            }
        })
}

/// Which G2G arrangements the scenario gets.
#[derive(Clone, Copy, PartialEq)]
enum G2g {
    None,
    AsGenerated,
    EverywhereFromDayOne,
}

fn toml(s: &Spec, g: G2g) -> String {
    let mut t = format!(
        "name = \"prop\"\nseed = {}\nstart = \"2025-01-01\"\nquarters = {}\nregimes = [{}]\n\
         [defaults]\nchip_mix = {{ \"nvidia-h100-sxm\" = 2, \"nvidia-b200\" = 1 }}\n",
        s.seed,
        s.quarters,
        if s.timeline {
            "\"ai-diffusion-2025\", \"timeline\""
        } else {
            "\"ai-diffusion-2025\""
        }
    );
    for (code, start, growth, consignees, order) in &s.countries {
        t += &format!(
            "[[country]]\ncode = \"{code}\"\nstart_h100e = {start}\ngrowth_pct = {growth}\nconsignees = {consignees}\norder_h100e = {order}\n"
        );
    }
    if let Some((cc, d)) = s.nveu {
        t += &format!(
            "[[veu]]\nid = \"NVEU-{cc}\"\nkind = \"nveu\"\nname = \"{cc} Cloud\"\nhq = \"{cc}\"\ncountry = \"{cc}\"\nstart_h100e = {d}\norder_h100e = 2000\n"
        );
    }
    let g2g: Vec<&str> = match g {
        G2g::None => Vec::new(),
        G2g::AsGenerated => s.g2g.clone(),
        G2g::EverywhereFromDayOne => s.countries.iter().map(|c| c.0).collect(),
    };
    for cc in g2g {
        let date = if g == G2g::EverywhereFromDayOne {
            "2025-01-01"
        } else {
            "2025-07-01"
        };
        t += &format!("[[g2g]]\ncountry = \"{cc}\"\ndate = \"{date}\"\n");
    }
    t
}

fn run(text: &str) -> SimResult {
    let sc = Scenario::parse("prop.toml", text, policy()).expect("scenario");
    simulate(policy(), &sc).expect("simulates")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn caps_hold_and_demand_is_split_exactly(s in spec()) {
        let res = run(&toml(&s, G2g::AsGenerated));
        for r in &res.runs {
            for c in &r.countries {
                prop_assert_eq!(c.cap_violations, 0);
                for a in &c.accounts {
                    if let Some(cap) = a.cap {
                        prop_assert!(a.used <= cap, "{} used {} > cap {}", a.key, a.used, cap);
                    }
                }
                for q in &c.quarters {
                    prop_assert_eq!(q.granted_tpp + q.refused_tpp, q.demand_tpp);
                    prop_assert_eq!(
                        q.lpp_tpp + q.veu_tpp + q.licensed_tpp + q.other_tpp,
                        q.granted_tpp
                    );
                    if let Some(cap) = q.allocation_cap_tpp {
                        prop_assert!(q.allocation_used_tpp <= cap);
                    }
                }
            }
        }
    }

    #[test]
    fn doubling_a_cap_never_lowers_what_a_country_receives(s in spec()) {
        // The same scenario with every country's cap doubled for the whole window (a G2G
        // arrangement from the first day; the multiplier is the regime's). A cap that grows
        // mid-window is not a doubled cap, so the base has no arrangements.
        let base = run(&toml(&s, G2g::None));
        let doubled = run(&toml(&s, G2g::EverywhereFromDayOne));
        for (rb, rd) in base.runs.iter().zip(&doubled.runs) {
            for (cb, cd) in rb.countries.iter().zip(&rd.countries) {
                prop_assert_eq!(&cb.country, &cd.country);
                let (mut gb, mut gd) = (0u128, 0u128);
                for (qb, qd) in cb.quarters.iter().zip(&cd.quarters) {
                    prop_assert_eq!(qb.demand_tpp, qd.demand_tpp);
                    gb += qb.granted_tpp;
                    gd += qd.granted_tpp;
                    prop_assert!(gd >= gb, "{} {}: {} < {}", rb.name, cb.country, gd, gb);
                }
            }
        }
    }
}

#[test]
fn the_example_scenario_binds_caps_and_is_byte_identical_run_to_run() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scenarios/tier2-demand.toml"
    );
    let text = std::fs::read_to_string(path).expect("example");
    let dirs: Vec<std::path::PathBuf> = (0..2)
        .map(|i| {
            let d = std::env::temp_dir().join(format!("aidf-sim-{}-{i}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            d
        })
        .collect();
    let mut listings = Vec::new();
    for d in &dirs {
        let res = run(&text);
        let mut files = aidf_batch::simulate::write_outputs(d, &res).expect("write");
        files.extend(aidf_batch::charts::write_all(d, &res).expect("charts"));
        listings.push(files);
        // The diffusion rule binds Malaysia's cap; the enforced regime has none.
        let diffusion = &res.runs[0];
        let my = diffusion
            .countries
            .iter()
            .find(|c| c.country == "MY")
            .expect("MY");
        assert!(my.binds.is_some());
        assert!(res.runs[1].countries.iter().all(|c| c.binds.is_none()));
    }
    let names = |v: &Vec<std::path::PathBuf>| {
        v.iter()
            .map(|p| p.file_name().expect("name").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&listings[0]), names(&listings[1]));
    for (a, b) in listings[0].iter().zip(&listings[1]) {
        assert_eq!(
            std::fs::read(a).expect("read"),
            std::fs::read(b).expect("read"),
            "{} differs",
            a.display()
        );
    }
}

fn err(text: &str) -> String {
    Scenario::parse("s.toml", text, policy())
        .expect_err("should fail")
        .to_string()
}

const HEAD: &str =
    "name = \"x\"\nstart = \"2025-01-01\"\nquarters = 4\nregimes = [\"ai-diffusion-2025\"]\n";

#[test]
fn bad_scenarios_name_line_and_field() {
    let e = err(&format!(
        "{HEAD}[[country]]\ncode = \"XX\"\nstart_h100e = 5\n"
    ));
    assert!(e.starts_with("s.toml:6:8: field `country[0].code`"), "{e}");
    assert!(e.contains("`XX`"), "{e}");
    let e = err(&format!(
        "{HEAD}[[country]]\ncode = \"MY\"\nstart_h100e = 5\ncolour = 1\n"
    ));
    assert!(e.starts_with("s.toml:8:"), "{e}");
    assert!(e.contains("colour"), "{e}");
    let e = err(&format!(
        "{HEAD}[[country]]\ncode = \"MY\"\nstart_h100e = \"lots\"\n"
    ));
    assert!(e.starts_with("s.toml:7:"), "{e}");
    assert!(e.contains("country[0].start_h100e"), "{e}");
    let e = err(&format!(
        "{HEAD}[[country]]\ncode = \"MY\"\ndemand_h100e = [1, 2, 3]\n"
    ));
    assert!(e.starts_with("s.toml:7:"), "{e}");
    assert!(
        e.contains("country[0].demand_h100e") && e.contains("4 quarters"),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}[[country]]\ncode = \"MY\"\nstart_h100e = 5\nchip_mix = {{ \"Z9000\" = 1 }}\n"
    ));
    assert!(e.starts_with("s.toml:8:"), "{e}");
    assert!(e.contains("country[0].chip_mix.Z9000"), "{e}");
    let e = err(
        "name = \"x\"\nstart = \"2025-02-01\"\nquarters = 4\nregimes = [\"ai-diffusion-2025\"]\n",
    );
    assert!(e.starts_with("s.toml:2:"), "{e}");
    assert!(e.contains("`start`"), "{e}");
    let e = err(
        "name = \"x\"\nstart = \"2025-01-01\"\nquarters = 4\nregimes = [\"nope\"]\n[[country]]\ncode = \"MY\"\nstart_h100e = 1\n",
    );
    assert!(e.starts_with("s.toml:4:"), "{e}");
    assert!(e.contains("regimes[0]") && e.contains("`nope`"), "{e}");
    let e = err("name = \"x\"\nstart = \"2025-01-01\"\nquarters = 4\n");
    assert!(e.contains("regimes"), "{e}");
}

/// A scenario's dates may be TOML dates or strings holding one; any other value is quoted back
/// with what was expected, never toml's internal field names.
#[test]
fn scenario_dates_are_toml_dates_or_strings() {
    let body = "quarters = 4\nregimes = [\"ai-diffusion-2025\"]\n[[country]]\ncode = \"MY\"\nstart_h100e = 1\n[[g2g]]\ncountry = \"MY\"\n";
    for (start, g2g) in [
        ("2025-01-01", "2025-07-01"),
        ("\"2025-01-01\"", "\"2025-07-01\""),
    ] {
        let text = format!("name = \"x\"\nstart = {start}\n{body}date = {g2g}\n");
        let sc = Scenario::parse("s.toml", &text, policy()).expect("scenario");
        assert_eq!(sc.g2g["MY"].to_string(), "2025-07-01");
    }
    for (start, want) in [
        (
            "2025",
            "s.toml:2:9: field `start`: `2025` is not a date; expected YYYY-MM-DD",
        ),
        (
            "\"2025-02-30\"",
            "s.toml:2:9: field `start`: `2025-02-30` is not a calendar date",
        ),
        (
            "2025-01-01T00:00:00",
            "s.toml:2:9: field `start`: `2025-01-01T00:00:00` is not a date; expected YYYY-MM-DD",
        ),
    ] {
        let e = err(&format!(
            "name = \"x\"\nstart = {start}\n{body}date = 2025-07-01\n"
        ));
        assert_eq!(e, want);
    }
}
