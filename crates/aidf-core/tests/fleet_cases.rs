//! Data-driven fleet cases: every `tests/fleet/*.json` file is a fleet (JSON object, JSON text or
//! CSV text) with the expected check, headroom and plan answers, or the expected error.

use std::path::PathBuf;

use aidf_core::fleet::{Fleet, FleetError, FleetHeader, FleetInput, FleetRules, fleet_regime};
use aidf_core::input::VeuKind;
use aidf_core::{Policy, Posture};
use chrono::NaiveDate;
use serde_json::{Value, json};

fn policy() -> Policy {
    Policy::embedded().expect("embedded policy loads")
}

fn case_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fleet");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fleet exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn parse_input(case: &Value) -> Result<FleetInput, FleetError> {
    if let Some(obj) = case.get("fleet") {
        return FleetInput::from_json(&obj.to_string());
    }
    if let Some(text) = case.get("fleet_json").and_then(Value::as_str) {
        return FleetInput::from_json(text);
    }
    let text = case["fleet_csv"]
        .as_str()
        .expect("fleet, fleet_json or fleet_csv");
    let h = &case["csv_header"];
    let kind = match h["kind"].as_str() {
        Some("nveu") => VeuKind::Nveu,
        _ => VeuKind::Uveu,
    };
    FleetInput::from_csv(
        text,
        FleetHeader {
            owner: h["owner"].as_str().unwrap_or_default().into(),
            hq: h["hq"].as_str().unwrap_or_default().into(),
            kind,
            date: h["date"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .expect("date"),
        },
    )
}

/// Runs the whole pipeline the CLI runs, returning every answer as JSON.
fn run(policy: &Policy, case: &Value) -> Result<Value, FleetError> {
    let input = parse_input(case)?;
    let fleet = Fleet::resolve(&input, policy)?;
    let regime = fleet_regime(
        policy,
        fleet.date,
        Posture::AsWritten,
        case.get("regime").and_then(Value::as_str),
    )?;
    let rules = FleetRules::new(policy, regime)?;
    let report = rules.check(&fleet, fleet.date)?;
    let mut headrooms = Vec::new();
    for h in case["expect"]["headroom"].as_array().into_iter().flatten() {
        let country = policy
            .countries
            .lookup(h["country"].as_str().expect("country"))
            .expect("known country");
        let chip = h["chip"]
            .as_str()
            .map(|c| policy.catalog.lookup(c).expect("known chip"));
        let date = h["date"]
            .as_str()
            .map(|d| d.parse::<NaiveDate>().expect("date"))
            .unwrap_or(fleet.date);
        let hr = rules.headroom(&fleet, date, country, chip)?;
        headrooms.push(serde_json::to_value(&hr).expect("serializes"));
    }
    let plan = rules.plan(&fleet)?;
    Ok(json!({
        "check": serde_json::to_value(&report).expect("serializes"),
        "headroom": headrooms,
        "plan": serde_json::to_value(&plan).expect("serializes"),
    }))
}

fn rule_ref(v: &Value) -> Value {
    json!({"code": v["code"], "country": v["country"]})
}

fn check_case(name: &str, case: &Value, got: Result<Value, FleetError>) -> Vec<String> {
    let mut fails = Vec::new();
    let mut fail = |m: String| fails.push(format!("{name}: {m}"));
    let exp = &case["expect"];
    if let Some(want) = exp.get("error").and_then(Value::as_str) {
        match got {
            Ok(_) => fail(format!("expected error containing {want:?}, got an answer")),
            Err(e) => {
                let msg = e.to_string();
                if !msg.contains(want) {
                    fail(format!("error {msg:?} does not contain {want:?}"));
                }
                if msg.contains('\n') {
                    fail(format!("error {msg:?} spans lines"));
                }
            }
        }
        return fails;
    }
    let got = match got {
        Ok(v) => v,
        Err(e) => {
            fail(format!("unexpected error: {e}"));
            return fails;
        }
    };
    let check = &got["check"];
    if let Some(c) = exp.get("compliant") {
        if &check["compliant"] != c {
            fail(format!("compliant: want {c}, got {}", check["compliant"]));
        }
    }
    if let Some(want) = exp.get("violations").and_then(Value::as_array) {
        let got_v: Vec<Value> = check["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(rule_ref)
            .collect();
        let want_v: Vec<Value> = want.iter().map(rule_ref).collect();
        if got_v != want_v {
            fail(format!("violations: want {want_v:?}, got {got_v:?}"));
        }
        for (w, g) in want
            .iter()
            .zip(check["violations"].as_array().into_iter().flatten())
        {
            if let Some(l) = w.get("limit_tpp") {
                if &g["limit"]["tpp"] != l {
                    fail(format!("limit tpp: want {l}, got {}", g["limit"]["tpp"]));
                }
            }
        }
    }
    if let Some(shares) = exp.get("shares").and_then(Value::as_object) {
        let s = &check["shares"];
        for (k, want) in shares {
            let got_f = match k.as_str() {
                "us" | "tier1" | "tier2" | "tier3" => &s[k.as_str()]["fraction"],
                cc => &s["countries"][cc]["fraction"],
            };
            if got_f != want {
                fail(format!("share {k}: want {want}, got {got_f}"));
            }
        }
    }
    if let Some(want) = exp.get("assumptions").and_then(Value::as_array) {
        for a in want {
            let found = check["assumptions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|g| &g["switch"] == a);
            if !found {
                fail(format!("assumption {a} not reported"));
            }
        }
    }
    for (w, g) in exp["headroom"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(got["headroom"].as_array().into_iter().flatten())
    {
        let at = format!("headroom {}", w["country"]);
        for key in ["feasible", "tpp_headroom", "tpp_min"] {
            if let Some(want) = w.get(key) {
                if &g[key] != want {
                    fail(format!("{at} {key}: want {want}, got {}", g[key]));
                }
            }
        }
        if let Some(want) = w.get("binding") {
            let got_b = if g["binding"].is_null() {
                Value::Null
            } else {
                rule_ref(&g["binding"])
            };
            let want_b = if want.is_null() {
                Value::Null
            } else {
                rule_ref(want)
            };
            if got_b != want_b {
                fail(format!("{at} binding: want {want_b}, got {got_b}"));
            }
        }
        if let Some(want) = w.get("chips_headroom") {
            if &g["chip"]["chips_headroom"] != want {
                fail(format!(
                    "{at} chips_headroom: want {want}, got {}",
                    g["chip"]["chips_headroom"]
                ));
            }
        }
    }
    if let Some(p) = exp.get("plan") {
        let plan = &got["plan"];
        if let Some(want) = p.get("compliant_throughout") {
            if &plan["compliant_throughout"] != want {
                fail(format!(
                    "plan compliant_throughout: want {want}, got {}",
                    plan["compliant_throughout"]
                ));
            }
        }
        if let Some(n) = p.get("steps").and_then(Value::as_u64) {
            let got_n = plan["steps"].as_array().map_or(0, Vec::len) as u64;
            if got_n != n {
                fail(format!("plan steps: want {n}, got {got_n}"));
            }
        }
        let fb = &plan["first_break"];
        if let Some(want) = p.get("first_break") {
            if &fb["date"] != want {
                fail(format!("plan first_break: want {want}, got {}", fb["date"]));
            }
        }
        if let Some(want) = p.get("violations").and_then(Value::as_array) {
            let codes: Vec<&Value> = fb["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| &v["code"])
                .collect();
            let want: Vec<&Value> = want.iter().collect();
            if codes != want {
                fail(format!("plan violations: want {want:?}, got {codes:?}"));
            }
        }
        if let Some(want) = p.get("fix").and_then(Value::as_object) {
            for (k, v) in want {
                if &fb["fix"][k.as_str()] != v {
                    fail(format!(
                        "plan fix {k}: want {v}, got {}",
                        fb["fix"][k.as_str()]
                    ));
                }
            }
        }
    }
    fails
}

#[test]
fn fleet_case_table() {
    let policy = policy();
    let files = case_files();
    assert!(files.len() >= 20, "case table has {} files", files.len());
    let mut fails = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let case: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", f.display()));
        let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        fails.extend(check_case(name, &case, run(&policy, &case)));
    }
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

#[test]
fn shares_of_case_fleets_sum_to_the_total() {
    let policy = policy();
    for f in case_files() {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("readable")).expect("json");
        let Ok(v) = run(&policy, &case) else { continue };
        let s = &v["check"]["shares"];
        let total = s["tpp_total"].as_u64().expect("total");
        let by_country: u64 = s["countries"]
            .as_object()
            .expect("countries")
            .values()
            .map(|c| c["tpp"].as_u64().expect("tpp"))
            .sum();
        let by_tier: u64 = ["tier1", "tier2", "tier3"]
            .iter()
            .map(|t| s[*t]["tpp"].as_u64().expect("tpp"))
            .sum();
        assert_eq!(by_country, total, "{}", f.display());
        assert_eq!(by_tier, total, "{}", f.display());
    }
}

mod properties {
    use super::*;
    use aidf_core::fleet::{Headroom, RuleRef, SiteInput};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    const TIER1: [&str; 5] = ["US", "DE", "FR", "JP", "GB"];
    const TIER2: [&str; 6] = ["IN", "MY", "BR", "AE", "SA", "MX"];

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")
    }

    /// A site: mostly Tier 1 with more compute, some Tier 2 with less, rarely Tier 3; TPP small
    /// (boundaries hit often) or large.
    fn site() -> impl Strategy<Value = (String, u64)> {
        let tier1 = (
            proptest::sample::select(TIER1.to_vec()),
            prop_oneof![0u64..2_000, 0u64..5_000_000_000],
        );
        let tier2 = (
            proptest::sample::select(TIER2.to_vec()),
            prop_oneof![0u64..200, 0u64..400_000_000],
        );
        let tier3 = (
            proptest::sample::select(vec!["CN", "MO", "HK"]),
            0u64..1_000,
        );
        prop_oneof![12 => tier1, 7 => tier2, 1 => tier3].prop_map(|(c, t)| (c.to_string(), t))
    }

    fn fleet_input() -> impl Strategy<Value = FleetInput> {
        (
            prop_oneof![8 => proptest::sample::select(vec!["US", "DE", "JP"]), 1 => Just("IN")],
            prop_oneof![4 => Just(VeuKind::Uveu), 1 => Just(VeuKind::Nveu)],
            proptest::collection::vec(site(), 1..8),
        )
            .prop_map(|(hq, kind, sites)| FleetInput {
                owner: "prop".into(),
                hq: hq.into(),
                kind,
                date: date(),
                sites: sites
                    .into_iter()
                    .enumerate()
                    .map(|(i, (c, t))| SiteInput {
                        id: format!("s{i}"),
                        country: c,
                        tpp: Some(Decimal::from(t)),
                        chip: None,
                        quantity: None,
                        status: None,
                        online_date: None,
                    })
                    .collect(),
                lines: None,
            })
    }

    fn target() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(
            TIER1
                .iter()
                .chain(TIER2.iter())
                .chain(["CN"].iter())
                .copied()
                .collect::<Vec<_>>(),
        )
    }

    struct Env {
        policy: &'static Policy,
    }

    impl Env {
        fn new() -> Env {
            static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
            Env {
                policy: POLICY.get_or_init(policy),
            }
        }

        fn rules(&self) -> FleetRules<'_> {
            let r = self.policy.regime("ai-diffusion-2025").expect("regime");
            FleetRules::new(self.policy, r).expect("rules")
        }

        fn code(&self, c: &str) -> aidf_core::country::CountryCode {
            self.policy.countries.lookup(c).expect("country")
        }

        fn violated(&self, fleet: &Fleet) -> Vec<RuleRef> {
            self.rules()
                .check(fleet, fleet.date)
                .expect("check")
                .violations
                .iter()
                .map(|v| RuleRef {
                    code: v.code,
                    country: v.country,
                })
                .collect()
        }

        fn headroom(&self, fleet: &Fleet, c: &str) -> Headroom {
            self.rules()
                .headroom(fleet, fleet.date, self.code(c), None)
                .expect("headroom")
        }

        fn add(&self, fleet: &Fleet, c: &str, tpp: u128) -> Fleet {
            fleet.with_added(self.policy, self.code(c), u64::try_from(tpp).expect("fits"))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Adding the headroom keeps (or makes) the fleet compliant; one TPP more breaks the
        /// binding rule; the minimum is the least that makes it compliant.
        #[test]
        fn headroom_is_exact(input in fleet_input(), c in target()) {
            let env = Env::new();
            let fleet = Fleet::resolve(&input, env.policy).expect("valid");
            let h = env.headroom(&fleet, c);
            prop_assert_eq!(h.compliant_now, env.violated(&fleet).is_empty());
            if !h.feasible {
                prop_assert_eq!(h.tpp_headroom, Some(0));
                prop_assert!(h.binding.is_some());
                for x in [0u128, 1, 1_000, 10_000_000_000] {
                    prop_assert!(!env.violated(&env.add(&fleet, c, x)).is_empty(), "adding {} fixed an infeasible fleet", x);
                }
                return Ok(());
            }
            let lo = h.tpp_min;
            prop_assert!(env.violated(&env.add(&fleet, c, lo)).is_empty(), "adding tpp_min {} is not compliant", lo);
            if lo > 0 {
                prop_assert!(!env.violated(&env.add(&fleet, c, lo - 1)).is_empty(), "tpp_min {} is not the least", lo);
            }
            match h.tpp_headroom {
                Some(hi) => {
                    prop_assert!(env.violated(&env.add(&fleet, c, hi)).is_empty(), "adding headroom {} breaks a rule", hi);
                    let over = env.violated(&env.add(&fleet, c, hi + 1));
                    let binding = h.binding.expect("a finite headroom has a binding rule");
                    prop_assert!(over.contains(&binding), "adding {} + 1 breaks {:?}, not the binding {:?}", hi, over, binding);
                }
                None => {
                    prop_assert!(h.binding.is_none());
                    let big = lo.max(1) * 1_000_000;
                    prop_assert!(env.violated(&env.add(&fleet, c, big)).is_empty(), "unbounded headroom, yet adding {} breaks a rule", big);
                }
            }
        }

        /// For a UVEU, compute added in the US (or, for an owner not headquartered in the US, in
        /// any Tier 1 country) never lowers the headroom in a Tier 2 country.
        #[test]
        fn tier1_or_us_compute_never_lowers_tier2_headroom(
            input in fleet_input(),
            c in proptest::sample::select(TIER2.to_vec()),
            t1 in proptest::sample::select(TIER1.to_vec()),
            y in 0u128..10_000_000_000,
        ) {
            prop_assume!(input.kind == VeuKind::Uveu);
            let env = Env::new();
            let fleet = Fleet::resolve(&input, env.policy).expect("valid");
            // A US-headquartered owner must keep its US share: compute added elsewhere in Tier 1
            // lowers that share and can lower the headroom; only US compute is monotone there.
            let add_in = if input.hq == "US" { "US" } else { t1 };
            let before = env.headroom(&fleet, c);
            let after = env.headroom(&env.add(&fleet, add_in, y), c);
            prop_assert!(after.feasible || !before.feasible);
            let as_key = |h: &Headroom| h.tpp_headroom.map_or(u128::MAX, |x| x);
            prop_assert!(as_key(&after) >= as_key(&before), "headroom in {} fell from {:?} to {:?} after adding {} in {}", c, before.tpp_headroom, after.tpp_headroom, y, add_in);
        }

        /// Shares add up to the total exactly, by country, by tier and as fractions.
        #[test]
        fn shares_sum_to_the_total(input in fleet_input()) {
            let env = Env::new();
            let fleet = Fleet::resolve(&input, env.policy).expect("valid");
            let r = env.rules().check(&fleet, fleet.date).expect("check");
            let s = &r.shares;
            let by_country: u128 = s.countries.values().map(|c| c.share.tpp).sum();
            prop_assert_eq!(by_country, s.tpp_total);
            prop_assert_eq!(s.tier1.tpp + s.tier2.tpp + s.tier3.tpp, s.tpp_total);
            let sites: u128 = fleet.sites.iter().map(|x| u128::from(x.tpp)).sum();
            prop_assert_eq!(sites, s.tpp_total);
            if s.tpp_total > 0 {
                // Σ n_i/d_i = 1, exactly: bring every fraction over the total.
                let mut num = 0u128;
                for c in s.countries.values() {
                    let (n, d) = c.share.fraction().expect("non-empty");
                    prop_assert_eq!(s.tpp_total % d, 0);
                    num += n * (s.tpp_total / d);
                }
                prop_assert_eq!(num, s.tpp_total);
            }
        }
    }

    #[test]
    fn us_hq_tier1_elsewhere_can_lower_tier2_headroom() {
        // Why the monotonicity property adds only US compute for a US-headquartered owner: with 52%
        // in the US, adding in Germany lowers the US share and so the room in India (21 → 10).
        let env = Env::new();
        let input = FleetInput::from_json(
            r#"{"owner":"x","hq":"US","kind":"uveu","date":"2026-03-31","sites":[
                {"id":"us","country":"US","tpp":520},{"id":"de","country":"DE","tpp":430},
                {"id":"in","country":"IN","tpp":50}]}"#,
        )
        .expect("parses");
        let fleet = Fleet::resolve(&input, env.policy).expect("valid");
        let before = env.headroom(&fleet, "IN").tpp_headroom.expect("bounded");
        let after = env
            .headroom(&env.add(&fleet, "DE", 30), "IN")
            .tpp_headroom
            .expect("bounded");
        assert!(after < before, "{after} < {before}");
        let after_us = env
            .headroom(&env.add(&fleet, "US", 30), "IN")
            .tpp_headroom
            .expect("bounded");
        assert!(after_us >= before);
    }
}

/// ECCN 4E091 classification: rule-facts §11.3 cases 8 and 9, the derivative and synthetic-data
/// rules at their boundaries, and the relative floor.
mod weights {
    use super::*;
    use aidf_core::explain::Trail;
    use aidf_core::input::ModelWeightsInput;
    use aidf_core::weights::classify_weights;

    fn classify(json: &str) -> (bool, String, Vec<&'static str>) {
        let policy = policy();
        let regime = policy.regime("ai-diffusion-2025").expect("regime");
        let rule = regime
            .spec
            .model_weights
            .clone()
            .expect("4E091 in the regime");
        let w: ModelWeightsInput = serde_json::from_str(json).expect("input parses");
        let mut trail = Trail::default();
        let c = classify_weights(&w, &rule, &regime.spec.switches, &mut trail).expect("classifies");
        let rules = trail.reasons.iter().map(|r| r.rule).collect();
        (c.controlled, aidf_core::weights::sci(c.counted_ops), rules)
    }

    #[test]
    fn case8_closed_3e26_is_controlled() {
        let (controlled, ops, rules) = classify(r#"{"training_ops": "3e26"}"#);
        assert!(controlled);
        assert_eq!(ops, "3e26");
        assert_eq!(rules, ["weights.4e091"]);
    }

    #[test]
    fn case9_fine_tune_above_max_of_floor_and_quarter_is_controlled() {
        // Base 1e26 (published) + 3e25 of fine-tuning: 3e25 > max(2.5e25, 25% × 1e26).
        let (controlled, ops, rules) =
            classify(r#"{"training_ops": "1.3e26", "derived_from_published_ops": "1e26"}"#);
        assert!(controlled);
        assert_eq!(ops, "1.3e26");
        assert_eq!(rules, ["weights.derived_exceeds", "weights.4e091"]);
    }

    #[test]
    fn fine_tune_at_exactly_the_derivative_limit_is_not_controlled() {
        // "exceeds": 2.5e25 extra on a 1e26 base is not more than max(2.5e25, 2.5e25).
        let (controlled, _, rules) =
            classify(r#"{"training_ops": "1.25e26", "derived_from_published_ops": "1e26"}"#);
        assert!(!controlled);
        assert_eq!(rules, ["weights.derived_from_published"]);
        // A 2e26 base: 25% = 5e25 is the larger limit, so 4e25 extra is not enough.
        let (controlled, _, _) =
            classify(r#"{"training_ops": "2.4e26", "derived_from_published_ops": "2e26"}"#);
        assert!(!controlled);
        let (controlled, _, _) =
            classify(r#"{"training_ops": "2.5000001e26", "derived_from_published_ops": "2e26"}"#);
        assert!(controlled);
    }

    #[test]
    fn synthetic_data_from_one_unpublished_generator_adds_its_operations() {
        // 8e25 own + 5e24 generation + 2e25 generator training = 1.05e26 ≥ 1e26.
        let base = r#""training_ops": "8e25", "synthetic_generation_ops": "5e24", "synthetic_generator_training_ops": "2e25""#;
        let (controlled, ops, rules) =
            classify(&format!(r#"{{{base}, "synthetic_share_pct": 15}}"#));
        assert!(controlled);
        assert_eq!(ops, "1.05e26");
        assert_eq!(rules, ["weights.synthetic_data", "weights.4e091"]);
        // "more than 10%": exactly 10% adds nothing.
        let (controlled, ops, _) = classify(&format!(r#"{{{base}, "synthetic_share_pct": 10}}"#));
        assert!(!controlled);
        assert_eq!(ops, "8e25");
        // A published generator: only the generation operations count (8.5e25).
        let (controlled, ops, _) = classify(&format!(
            r#"{{{base}, "synthetic_share_pct": 15, "synthetic_generator_published": true}}"#
        ));
        assert!(!controlled);
        assert_eq!(ops, "8.5e25");
    }

    #[test]
    fn published_estimate_and_floor() {
        let (controlled, _, rules) = classify(r#"{"training_ops": "5e26", "published": true}"#);
        assert!(!controlled);
        assert_eq!(rules, ["weights.published"]);
        let (controlled, ops, rules) = classify(r#"{"parameters": "1e12", "tokens": "2e13"}"#);
        assert!(controlled);
        assert_eq!(ops, "1.2e26");
        assert_eq!(rules, ["weights.estimate_6nd", "weights.4e091"]);
        let (controlled, _, rules) = classify(r#"{"training_ops": "2e26", "floor_ops": "3e26"}"#);
        assert!(!controlled);
        assert_eq!(rules, ["weights.relative_floor"]);
        let (controlled, _, _) = classify(r#"{"training_ops": "1e26"}"#);
        assert!(controlled, "10^26 or more");
        let (controlled, _, _) = classify(r#"{"training_ops": "9.9999999e25"}"#);
        assert!(!controlled);
    }
}
