//! User-written regime files: `extends` with overrides (hypotheticals), and the precise errors for
//! an unknown field, a cycle, a country in two tiers and dates out of order (file, line, field).

use aidf_core::{DeterminationInput, Policy, PolicyError, PolicySources, determine};

fn load(extra: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let mut src = PolicySources::embedded();
    for (name, text) in extra {
        src.regimes.push((name.to_string(), text.to_string()));
    }
    Policy::from_sources(&src)
}

fn err(extra: &[(&str, &str)]) -> PolicyError {
    load(extra).expect_err("must fail")
}

fn run(policy: &Policy, json: &str) -> serde_json::Value {
    let input = DeterminationInput::from_json(json).expect("input");
    serde_json::to_value(determine(policy, &input).expect("determine")).expect("json")
}

const HEAD: &str =
    "schema = 1\nid = \"hypo\"\nextends = \"ai-diffusion-2025\"\ntitle = \"Hypothetical\"\n";

#[test]
fn a_hypothetical_overrides_one_field_and_inherits_the_rest() {
    let text = format!("{HEAD}[allocation]\ntier2_tpp_cap = 1.2e9\n");
    let p = load(&[("hypo.toml", &text)]).expect("loads");
    let h = p.regime("hypo").expect("hypo");
    let base = p.regime("ai-diffusion-2025").expect("base");
    let a = h.spec.allocation.as_ref().expect("allocation");
    assert_eq!(a.tier2_tpp_cap, 1_200_000_000);
    assert_eq!(
        a.window_end,
        base.spec.allocation.as_ref().expect("a").window_end
    );
    assert_eq!(
        h.spec.lpp.as_ref().map(|l| l.tpp_per_consignee_year),
        Some(26_900_000)
    );
    assert_eq!(h.spec.extends.as_deref(), Some("ai-diffusion-2025"));
    assert!(h.spec.changes.is_empty(), "changes are not inherited");
    assert_ne!(h.digest, base.digest);
    let q = r#"{"date":"2025-06-01","regime":"REG","destination":"MY","consignee":{"name":"X","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000,"context":{"country_allocation_used_tpp":1000000000}}"#;
    assert_eq!(
        run(&p, &q.replace("REG", "ai-diffusion-2025"))["review_policy"],
        "denial"
    );
    let v = run(&p, &q.replace("REG", "hypo"));
    assert_eq!(v["review_policy"], "approval");
    assert_eq!(v["regime"]["id"], "hypo");
    assert_eq!(v["regime"]["selected_by"], "pinned");
}

#[test]
fn a_hypothetical_moves_countries_between_tiers_and_sets_a_threshold() {
    let text = format!(
        "{HEAD}[tiers]\ntier1_countries = [\"PL\"]\ntier2_countries = [\"CN\"]\n[classification]\na1_tpp_min = 4000\n[allocation.country_caps]\nCN = 100000000\n"
    );
    let p = load(&[("hypo.toml", &text)]).expect("loads");
    let q = |dest: &str, item: &str| {
        format!(
            r#"{{"date":"2025-06-01","regime":"hypo","destination":"{dest}","consignee":{{"name":"X","hq":"{dest}"}},"item":{item},"quantity":10}}"#
        )
    };
    let v = run(&p, &q("PL", r#"{"chip":"H100 SXM"}"#));
    assert_eq!(
        (v["destination_tier"].clone(), v["authorization"].clone()),
        (1.into(), "AIA".into())
    );
    // H100 PCIe (600 GB/s, 2 TB/s) does not reach the 9 Apr 2025 letter's H20 figures, which
    // apply to China whatever its tier.
    let v = run(&p, &q("CN", r#"{"chip":"H100 PCIe"}"#));
    assert_eq!(v["destination_tier"], 2);
    assert_eq!(v["authorization"], "LPP");
    let v = run(&p, &q("IN", r#"{"tpp":4000,"pd":1}"#));
    assert_eq!(v["eccn"], "3A090.a");
    // The per-country cap applies to CN only.
    let big = r#"{"date":"2025-06-01","regime":"hypo","destination":"CN","consignee":{"name":"X","hq":"CN"},"item":{"chip":"H100 SXM"},"quantity":7000}"#;
    assert_eq!(run(&p, big)["review_policy"], "denial");
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text = format!("{HEAD}\n[allocation]\ntier2_tpp_capp = 5\n");
    let e = err(&[("my/hypo.toml", &text)]);
    assert_eq!(e.file, "my/hypo.toml");
    assert_eq!(e.line, Some(7), "{e}");
    assert!(e.message.contains("tier2_tpp_capp"), "{e}");
    assert!(e.message.contains("allocation"), "{e}");
}

#[test]
fn a_wrong_type_in_an_override_points_at_the_override() {
    let text = format!("{HEAD}[allocation]\ntier2_tpp_cap = \"lots\"\n");
    let e = err(&[("hypo.toml", &text)]);
    assert_eq!((e.file.as_str(), e.line), ("hypo.toml", Some(6)), "{e}");
    assert!(
        e.message.contains("field `allocation.tier2_tpp_cap`"),
        "{e}"
    );
    let text = format!("{HEAD}[allocation]\ntier2_tpp_cap = 1.5\n");
    let e = err(&[("hypo.toml", &text)]);
    assert!(e.message.contains("not a non-negative whole number"), "{e}");
}

#[test]
fn a_cycle_in_extends_is_named() {
    let a = "schema = 1\nid = \"a\"\ntitle = \"A\"\nextends = \"b\"\n";
    let b = "id = \"b\"\nextends = \"a\"\n";
    let e = err(&[("a.toml", a), ("b.toml", b)]);
    assert!(e.message.contains("field `extends`: cycle"), "{e}");
    assert!(
        e.message.contains("a -> b -> a") || e.message.contains("b -> a -> b"),
        "{e}"
    );
    assert!(e.line.is_some(), "{e}");
    let e = err(&[("self.toml", "id = \"s\"\nextends = \"s\"\n")]);
    assert!(e.message.contains("cycle s -> s"), "{e}");
    assert_eq!((e.file.as_str(), e.line), ("self.toml", Some(2)));
}

#[test]
fn a_country_in_two_tiers_is_an_error() {
    let text = format!("{HEAD}[tiers]\ntier1_countries = [\"PL\"]\ntier3_countries = [\"PL\"]\n");
    let e = err(&[("hypo.toml", &text)]);
    assert_eq!((e.file.as_str(), e.line), ("hypo.toml", Some(7)), "{e}");
    assert!(
        e.message
            .contains("field `tiers.tier3_countries`: `PL` is also in `tiers.tier1_countries`"),
        "{e}"
    );
    // Through groups: A:5 holds Tier 1 members.
    let text = format!("{HEAD}[tiers]\ntier3_groups = [\"D:5\", \"MO\", \"A:5\"]\n");
    let e = err(&[("hypo.toml", &text)]);
    assert!(e.message.contains("(Tier 1) and in `A:5` (Tier 3)"), "{e}");
    assert_eq!(e.line, Some(6), "{e}");
}

#[test]
fn dates_out_of_order_are_errors() {
    let text = format!("{HEAD}effective_date = 2026-01-01\ncompliance_date = 2025-12-31\n");
    let e = err(&[("hypo.toml", &text)]);
    assert_eq!((e.file.as_str(), e.line), ("hypo.toml", Some(6)), "{e}");
    assert!(e.message.contains("field `compliance_date`"), "{e}");
    assert!(e.message.contains("dates out of order"), "{e}");
    // An inherited date that the child makes inconsistent is reported where the child wrote it.
    let text = format!("{HEAD}effective_date = \"2025-06-01\"\n");
    let e = err(&[("hypo.toml", &text)]);
    assert!(
        e.message.contains("before the effective date 2025-06-01"),
        "{e}"
    );
    assert_eq!(e.file, "regimes/ai-diffusion-2025.toml", "{e}");
    let text = format!("{HEAD}[allocation]\nwindow_start = 2027-01-01\nwindow_end = 2026-12-31\n");
    let e = err(&[("hypo.toml", &text)]);
    assert_eq!(e.line, Some(7), "{e}");
    let text = "schema = 1\nid = \"f\"\nextends = \"foundry-2025\"\n[foundry]\nno_hbm_thresholds = [\n { year_from = 2029, transistors_below = 4 },\n { year_from = 2027, year_to = 2027, transistors_below = 3 },\n]\n";
    let e = err(&[("f.toml", text)]);
    assert!(e.message.contains("years out of order"), "{e}");
    assert_eq!(e.line, Some(5), "{e}");
}

#[test]
fn unknown_parent_duplicate_id_and_bad_remove_are_named() {
    let e = err(&[("x.toml", "id = \"x\"\nextends = \"nope\"\n")]);
    assert!(
        e.message.contains("field `extends`: unknown regime `nope`"),
        "{e}"
    );
    assert_eq!(e.line, Some(2));
    let e = err(&[("x.toml", "id = \"ac-2023\"\nextends = \"ec-2022\"\n")]);
    assert!(e.message.contains("defined twice"), "{e}");
    let e = err(&[(
        "x.toml",
        "id = \"x\"\nextends = \"ac-2023\"\nremove = [\"lpp\"]\n",
    )]);
    assert!(
        e.message
            .contains("field `remove`: `lpp` is not in the parent regime"),
        "{e}"
    );
    let e = err(&[(
        "x.toml",
        "id = \"x\"\nextends = \"ac-2023\"\ninclude = [\"zzz\"]\n",
    )]);
    assert!(
        e.message.contains("field `include`: unknown regime `zzz`"),
        "{e}"
    );
    // Removing a switch a section relies on.
    let text = format!("{HEAD}remove = [\"switches.lpp_in_d1_d4\"]\n");
    let e = err(&[("hypo.toml", &text)]);
    assert!(
        e.message.contains("field `switches.lpp_in_d1_d4`: missing"),
        "{e}"
    );
    assert_eq!(e.file, "hypo.toml");
}

#[test]
fn include_applies_another_regimes_own_changes() {
    let p = Policy::embedded().expect("policy");
    let w = p.regime("ai-diffusion-h200-2026").expect("regime");
    let e = p.regime("h200-2026").expect("regime");
    assert!(w.spec.tiers.is_some(), "keeps the diffusion rule");
    let (wu, eu) = (
        w.spec.us_export_review.as_ref().expect("included"),
        e.spec.us_export_review.as_ref().expect("own"),
    );
    assert_eq!(wu.tpp_below, eu.tpp_below);
    assert_eq!(wu.conditions.len(), eu.conditions.len());
    assert_eq!(w.spec.include, ["h200-2026"]);
    // h200-2026's inherited sections are not included: the diffusion scope stays.
    assert!(w.spec.scope.a_datacenter_worldwide);
    assert!(w.spec.dc_veu.is_none(), "removed by ai-diffusion-2025");
}

#[test]
fn the_derivative_share_reading_is_a_switch() {
    // Worked example 9 (rule-facts §11.3): 1e26 published + 3e25 = 1.3e26. Of the base, 25 % is
    // 2.5e25 and 3e25 is more; of the total, 25 % is 3.25e25 and 3e25 is not (rule-facts §14.7).
    let text = format!(
        "{HEAD}[switches.derivative_share_of]\nvalue = \"total\"\nconfidence = \"U\"\nnote = \"hypothetical\"\n"
    );
    let p = load(&[("hypo.toml", &text)]).expect("loads");
    let q = r#"{"date":"2025-06-01","regime":"REG","destination":"FR","consignee":{"name":"X","hq":"FR"},"item":{"model_weights":{"training_ops":1.3e26,"derived_from_published_ops":1e26}}}"#;
    let base = run(&p, &q.replace("REG", "ai-diffusion-2025"));
    assert_eq!(base["eccn"], "4E091", "{base}");
    let switches: Vec<&str> = base["assumptions"]
        .as_array()
        .expect("assumptions")
        .iter()
        .filter_map(|a| a["switch"].as_str())
        .collect();
    assert!(switches.contains(&"derivative_share_of"), "{switches:?}");
    let total = run(&p, &q.replace("REG", "hypo"));
    assert_eq!(total["authorization"], "not_controlled", "{total}");
}
