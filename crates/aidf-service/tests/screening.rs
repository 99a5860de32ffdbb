//! Shipments screen the consignee against the default restricted-party lists (issue 14, item 3):
//! a clear Entity List hit applies the entry's license requirement with its citation, a clear SDN
//! hit refuses naming the list, a possible hit holds for review, and the caller's `listed` stays.

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, ShipmentStatus, Timestamp};
use aidf_screen::{Thresholds, Verdict};
use aidf_service::screening::{HOLD_PREFIX, default_lists, screen_transaction};
use aidf_service::{ShipConfig, ShipOutcome, ShipRequest, ship};
use serde_json::Value;

/// 2025-06-02T12:00:00Z: the shipments, dated the day before, are no backfill.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

fn input(name: &str, hq: &str, extra: &str) -> DeterminationInput {
    let name = serde_json::to_string(name).expect("name");
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":{name},"hq":"{hq}"{extra}}},"item":{{"chip":"L20"}},"quantity":10}}"#
    ))
    .expect("input")
}

fn ship_one(input: &DeterminationInput, config: &ShipConfig) -> (ShipOutcome, ShipOutcome) {
    let policy = Policy::embedded().expect("policy");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(dir.path().join("l.db").to_str().expect("utf8")).expect("open");
    let req = ShipRequest {
        input,
        shipment_id: "s1",
        tenant: "local",
        record_prefix: "",
        may_backfill: true,
        now: NOW,
    };
    let first = ship(&mut ledger, &policy, config, &req).expect("ship");
    let again = ship(&mut ledger, &policy, config, &req).expect("replay");
    (first, again)
}

fn reasons(out: &ShipOutcome) -> Vec<(String, String, String)> {
    out.determination_value()["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("rule"), text("citation"), text("detail"))
        })
        .collect()
}

/// A screening as the answers carry it.
fn json(s: &aidf_service::screening::TransactionScreening) -> Value {
    serde_json::to_value(s).expect("a screening serializes")
}

fn screening(out: &ShipOutcome) -> Value {
    out.screening
        .as_ref()
        .expect("a screening block")
        .to_value()
}

#[test]
fn huawei_in_singapore_needs_a_license_under_its_entity_list_entry() {
    for hq in ["SG", "CN"] {
        let given = input("Huawei Technologies Co., Ltd.", hq, "");
        assert!(!given.consignee.listed && given.consignee.entity_list.is_none());
        let (out, replay) = ship_one(&given, &ShipConfig::default());
        assert_eq!(
            out.determination_value()["authorization"],
            "license",
            "{hq}"
        );
        assert_eq!(out.determination_value()["review_policy"], "denial", "{hq}");
        assert_eq!(out.status, ShipmentStatus::Refused);
        assert!(out.entries.is_empty(), "nothing drawn");
        let listed = reasons(&out)
            .into_iter()
            .find(|(rule, ..)| rule == "party.listed")
            .expect("the Entity List reason");
        assert!(
            listed
                .1
                .contains("entry: `Huawei Technologies Co., Ltd.` (84 FR 22963"),
            "{hq}: {listed:?}"
        );
        let s = screening(&out);
        assert_eq!(s["verdict"], "clear_hit");
        assert_eq!(s["entity_list"]["entry"], "Huawei Technologies Co., Ltd.");
        assert_eq!(s["hold_for_review"], false);
        assert_eq!(s["list_versions"][0]["id"], "csl");
        assert!(
            s["list_versions"][0]["sha256"]
                .as_str()
                .expect("digest")
                .starts_with("sha256:")
        );
        assert_eq!(
            serde_json::to_string(&out).expect("json"),
            serde_json::to_string(&replay).expect("json"),
            "a replay answers the same bytes"
        );
    }
}

#[test]
fn an_abbreviated_name_is_a_clear_hit_on_the_same_entry() {
    let lists = default_lists().expect("lists");
    for name in ["Huawei Tech. Co Ltd", "华为技术有限公司"] {
        let s = screen_transaction(lists, Thresholds::default(), &input(name, "CN", ""))
            .expect("screen");
        assert_eq!(s.verdict, Verdict::ClearHit, "{name}");
        let applied = s.entity_list.expect("an Entity List entry");
        assert_eq!(applied.entry, "Huawei Technologies Co., Ltd.", "{name}");
        assert!(applied.citation.contains("84 FR 22963"), "{name}");
        assert!(!s.hold_for_review);
    }
}

#[test]
fn the_chinese_name_is_at_least_a_possible_hit_and_never_a_silent_pass() {
    let (out, _) = ship_one(&input("华为技术有限公司", "SG", ""), &ShipConfig::default());
    let s = screening(&out);
    assert!(
        s["verdict"] == "clear_hit" || s["verdict"] == "possible_hit",
        "{s}"
    );
    assert_eq!(out.status, ShipmentStatus::Refused);
    let held = out
        .refusal
        .as_deref()
        .unwrap_or_default()
        .starts_with(HOLD_PREFIX);
    assert!(
        held || out.determination_value()["authorization"] == "license",
        "{out:?}"
    );
}

#[test]
fn a_sibling_is_a_possible_hit_held_for_review_with_its_explanation() {
    let (out, _) = ship_one(
        &input("Huawei Technologies Research Co., Ltd.", "CN", ""),
        &ShipConfig::default(),
    );
    let s = screening(&out);
    assert_eq!(s["verdict"], "possible_hit", "not a clear hit: {s}");
    assert!(s.get("entity_list").is_none(), "no entry applied");
    assert_eq!(s["hold_for_review"], true);
    let refusal = out.refusal.as_deref().expect("held");
    assert!(refusal.starts_with(HOLD_PREFIX), "{refusal}");
    assert!(
        refusal.contains("possible hit") && refusal.contains("EL list"),
        "{refusal}"
    );
    let hit = &s["parties"][0]["hits"][0];
    let aligned = hit["explanation"]["aligned"]
        .as_array()
        .expect("aligned parts");
    assert!(!aligned.is_empty(), "{hit}");
    assert!(
        !hit["explanation"]["unmatched_entry"]
            .as_array()
            .expect("left over")
            .is_empty()
    );
    assert_eq!(out.status, ShipmentStatus::Refused);
    assert!(out.entries.is_empty(), "nothing drawn");
    assert!(out.license_id.is_none());
}

#[test]
fn a_clear_sdn_hit_is_refused_naming_the_list() {
    let (out, _) = ship_one(&input("Bank Melli Iran", "IR", ""), &ShipConfig::default());
    let refusal = out.refusal.as_deref().expect("refused");
    assert!(
        refusal.contains("on the SDN list") && refusal.contains("BANK MELLI IRAN"),
        "{refusal}"
    );
    assert!(!refusal.starts_with(HOLD_PREFIX));
    assert_eq!(out.status, ShipmentStatus::Refused);
    assert_eq!(screening(&out)["hold_for_review"], false);
}

#[test]
fn without_screening_the_old_answer_stands() {
    let config = ShipConfig {
        screen: false,
        ..ShipConfig::default()
    };
    let (out, _) = ship_one(&input("Huawei Technologies Co., Ltd.", "SG", ""), &config);
    assert!(out.screening.is_none());
    assert_ne!(out.determination_value()["authorization"], "license");
    assert_eq!(out.status, ShipmentStatus::Authorized);
}

#[test]
fn the_callers_listed_flag_stays_and_is_reported() {
    let (out, _) = ship_one(
        &input("Acme Computing Pte Ltd", "SG", r#","listed":true"#),
        &ShipConfig::default(),
    );
    let s = screening(&out);
    assert_eq!(s["verdict"], "no_match");
    assert_eq!(s["caller_overrides"][0], "listed given by the caller");
    assert_eq!(out.determination_value()["authorization"], "license");
}

#[test]
fn an_unlisted_consignee_ships_with_the_lists_named() {
    let (out, _) = ship_one(
        &input("Acme Computing Pte Ltd", "SG", ""),
        &ShipConfig::default(),
    );
    let s = screening(&out);
    assert_eq!(s["verdict"], "no_match");
    assert_eq!(out.status, ShipmentStatus::Authorized, "{out:?}");
    assert_eq!(s["list_versions"][0]["date"], "2026-07-31");
}

/// Screening a party again answers from the cache of recent screenings: the answer is the same
/// as the first, and what depends on the rest of the input (the caller's `listed`) is still
/// read from that input.
#[test]
fn a_party_screened_again_gets_the_same_answer_and_its_own_overrides() {
    let lists = default_lists().expect("lists");
    let thresholds = Thresholds::default();
    for name in [
        "Huawei Technologies Co., Ltd.",
        "Bank Melli Iran",
        "Quiet Trading Sdn Bhd",
    ] {
        let plain = input(name, "SG", "");
        let first = screen_transaction(lists, thresholds, &plain).expect("first");
        let again = screen_transaction(lists, thresholds, &plain).expect("again");
        assert_eq!(json(&first), json(&again), "{name}");
        let listed = input(name, "SG", r#","listed":true"#);
        let overridden = screen_transaction(lists, thresholds, &listed).expect("listed");
        assert_eq!(
            overridden.parties[0].verdict, first.parties[0].verdict,
            "{name}"
        );
        assert_ne!(
            json(&overridden)["caller_overrides"],
            json(&first)["caller_overrides"],
            "{name}: the override is the input's, not the cached party's"
        );
    }
}

/// A clean consignee in Singapore, with other parties (`,"end_user":{…}` and so on).
fn with_parties(parties: &str) -> DeterminationInput {
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":"Acme Computing Pte Ltd","hq":"SG","parent_hq":"CN"}},"item":{{"chip":"L20"}},"quantity":10{parties}}}"#
    ))
    .expect("input")
}

/// Every named party is screened, not only the consignee (issue 14, item 3): a listed end user
/// puts its entry's license requirement on the transaction with the reasons naming the end user;
/// a purchaser on the SDN list bars it naming the purchaser; an ultimate parent's possible hit
/// holds it; parties the input does not name are not screened.
#[test]
fn every_named_party_is_screened() {
    let (out, _) = ship_one(
        &with_parties(r#","end_user":{"name":"Huawei Technologies Co., Ltd.","country":"CN"}"#),
        &ShipConfig::default(),
    );
    assert_eq!(
        out.determination_value()["authorization"],
        "license",
        "{out:?}"
    );
    assert_eq!(out.status, ShipmentStatus::Refused);
    let listed = reasons(&out)
        .into_iter()
        .find(|(rule, ..)| rule == "party.listed")
        .expect("the Entity List reason");
    assert!(
        listed
            .2
            .starts_with("end user `Huawei Technologies Co., Ltd.` is on the Entity List"),
        "{listed:?}"
    );
    assert!(listed.1.contains("84 FR 22963"), "{listed:?}");
    let s = screening(&out);
    let roles: Vec<&str> = s["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .filter_map(|p| p["role"].as_str())
        .collect();
    assert_eq!(roles, ["consignee", "end user"]);
    assert_eq!(s["parties"][0]["verdict"], "no_match");

    let (out, _) = ship_one(
        &with_parties(r#","purchaser":{"name":"Bank Melli Iran","country":"IR"}"#),
        &ShipConfig::default(),
    );
    let refusal = out.refusal.as_deref().expect("refused");
    assert!(
        refusal.starts_with("purchaser `Bank Melli Iran` is a clear hit")
            && refusal.contains("SDN"),
        "{refusal}"
    );

    let (out, _) = ship_one(
        &with_parties(r#","ultimate_parent":{"name":"Huawei Technologies Research Co., Ltd."}"#),
        &ShipConfig::default(),
    );
    let refusal = out.refusal.as_deref().expect("held");
    assert!(refusal.starts_with(HOLD_PREFIX), "{refusal}");
    assert!(
        refusal.contains("ultimate parent `Huawei Technologies Research Co., Ltd.`"),
        "{refusal}"
    );
    // Its country is the consignee's parent_hq when the party gives none.
    assert_eq!(screening(&out)["parties"][1]["country"], "CN");
}

/// A party's name is checked like the consignee's, the error naming its field.
#[test]
fn an_empty_party_name_names_its_field() {
    let e = screen_transaction(
        default_lists().expect("lists"),
        Thresholds::default(),
        &with_parties(r#","end_user":{"name":"  "}"#),
    )
    .expect_err("empty name");
    assert!(e.to_string().starts_with("field `end_user.name`"), "{e}");
}
