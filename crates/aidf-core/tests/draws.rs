//! The determination owns its draws: accounts from canonical parties, amounts and caps from the
//! regime. Sources: rule-facts §5.3 (LPP 26,900,000 per consignee per year), §6 (allocation
//! 790,000,000 for 2025-2027, doubled under a government-to-government arrangement).

use aidf_core::{AccountRef, DeterminationInput, Policy, balance_reads, determine};

fn input(json: &str) -> DeterminationInput {
    DeterminationInput::from_json(json).expect("valid input")
}

fn shipment(name: &str, dest: &str, quantity: u64, extra_context: &str) -> DeterminationInput {
    input(&format!(
        r#"{{"date":"2025-06-01","destination":"{dest}","consignee":{{"name":"{name}","hq":"{dest}"}},
            "item":{{"chip":"H100 SXM"}},"quantity":{quantity},"context":{{{extra_context}}}}}"#
    ))
}

fn policy() -> Policy {
    Policy::embedded().expect("embedded policy")
}

#[test]
fn lpp_draws_are_keyed_by_party_whatever_the_script() {
    let p = policy();
    let mut keys = std::collections::BTreeSet::new();
    for name in [
        "华为技术",
        "中兴通讯",
        "شركة ألف",
        "شركة باء",
        "Acme Sdn Bhd",
    ] {
        let d = determine(&p, &shipment(name, "MY", 1000, "")).expect("determines");
        assert_eq!(d.draws.len(), 1, "{name}: {:?}", d.draws);
        let draw = &d.draws[0];
        assert!(matches!(
            draw.account,
            AccountRef::LppAnnual { year: 2025, .. }
        ));
        assert_eq!(draw.amount_tpp, 15_832_000);
        assert_eq!(draw.cap_tpp, Some(26_900_000));
        keys.insert(draw.account.ledger_key("local"));
    }
    assert_eq!(keys.len(), 5, "{keys:?}");
}

#[test]
fn the_same_party_draws_the_same_account_after_normalization() {
    let p = policy();
    let a = determine(&p, &shipment("ＡＣＭＥ  Sdn Bhd", "MY", 10, "")).expect("a");
    let b = determine(&p, &shipment("acme sdn bhd", "MY", 10, "")).expect("b");
    assert_eq!(a.draws, b.draws);
}

#[test]
fn allocation_draw_carries_the_cap_and_its_doubling() {
    let p = policy();
    let plain = determine(&p, &shipment("Big Co", "MY", 2000, "")).expect("plain");
    let draw = plain.draws.first().expect("a draw");
    assert_eq!(draw.account.ledger_key("t1"), "country:MY:2025-2027");
    assert_eq!(draw.cap_tpp, Some(790_000_000));
    let g2g = determine(
        &p,
        &shipment("Big Co", "MY", 2000, r#""gov_to_gov_agreement":true"#),
    )
    .expect("g2g");
    assert_eq!(g2g.draws[0].cap_tpp, Some(1_580_000_000));
}

#[test]
fn an_exhausted_allocation_is_still_drawn_so_the_ledger_refuses_a_license_past_it() {
    let p = policy();
    let d = determine(
        &p,
        &shipment(
            "Big Co",
            "MY",
            2000,
            r#""country_allocation_used_tpp":758336001"#,
        ),
    )
    .expect("determines");
    assert_eq!(d.draws.len(), 1);
    let draw = &d.draws[0];
    assert!(758_336_001 + draw.amount_tpp > draw.cap_tpp.expect("capped"));
}

#[test]
fn keys_are_scoped_by_tenant_and_no_scope_is_a_prefix_of_another() {
    let p = policy();
    let d = determine(&p, &shipment("Acme", "MY", 10, "")).expect("determines");
    let a = d.draws[0].account.ledger_key("a");
    let ab = d.draws[0].account.ledger_key("ab");
    assert_ne!(a, ab);
    let prefixes = AccountRef::scope_prefixes("a");
    assert!(prefixes.iter().any(|p| a.starts_with(p.as_str())));
    assert!(!prefixes.iter().any(|p| ab.starts_with(p.as_str())));
}

#[test]
fn reads_name_the_same_accounts_the_draws_use_with_aliases_resolved() {
    let p = policy();
    let hk = input(
        r#"{"date":"2025-06-01","destination":"HK","consignee":{"name":"X","hq":"HK"},
            "item":{"chip":"H100 SXM"},"quantity":1}"#,
    );
    let reads = balance_reads(&p, &hk).expect("reads");
    let cn = input(
        r#"{"date":"2025-06-01","destination":"CN","consignee":{"name":"X","hq":"CN"},
            "item":{"chip":"H100 SXM"},"quantity":1}"#,
    );
    assert_eq!(reads, balance_reads(&p, &cn).expect("reads"));
    let my = shipment("Big Co", "MY", 2000, "");
    let reads = balance_reads(&p, &my).expect("reads");
    let d = determine(&p, &my).expect("determines");
    for draw in &d.draws {
        assert!(
            reads.accounts().contains(&&draw.account),
            "draw {:?} not among reads {:?}",
            draw.account,
            reads.accounts()
        );
    }
}
