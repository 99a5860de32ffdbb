//! Officers' decisions on possible hits and tenants' thresholds (issue 14): a possible hit holds
//! the shipment; a `not_the_same_party` decision on it clears the hold while the entry is
//! unchanged, and the answer still reports the hit with the decision; a decision made on other
//! content of the entry (another fingerprint) no longer applies and the hold comes back;
//! `same_party` makes the hit clear; a tenant's thresholds are the ones its shipments screen at.

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::ScreeningDecision;
use aidf_ledger::{Ledger, LedgerStore, PartyDecision, ShipmentStatus, Timestamp};
use aidf_screen::{ListSet, Party, ScoreParams, Thresholds, Verdict};
use aidf_service::screening::{
    HOLD_PREFIX, TenantScreening, TransactionScreening, default_lists, screen_transaction_for,
};
use aidf_service::screening_decisions::{
    DecideRequest, DecisionError, decide, decisions, entry_fingerprint, entry_id, find_entry,
    party_key, set_thresholds, thresholds,
};
use aidf_service::{ShipConfig, ShipOutcome, ShipRequest, ship};
use serde_json::Value;

/// 2025-06-02T12:00:00Z: the shipments, dated the day before, are no backfill.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

/// A sibling of a listed company: a possible hit on the Entity List.
const SIBLING: &str = "Huawei Technologies Research Co., Ltd.";

fn input(name: &str) -> DeterminationInput {
    let name = serde_json::to_string(name).expect("name");
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":{name},"hq":"CN"}},"item":{{"chip":"L20"}},"quantity":10}}"#
    ))
    .expect("input")
}

struct Fixture {
    ledger: Ledger,
    policy: Policy,
    _dir: tempfile::TempDir,
    shipped: u32,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Ledger::open(dir.path().join("l.db").to_str().expect("utf8")).expect("open");
        Fixture {
            ledger,
            policy: Policy::embedded().expect("policy"),
            _dir: dir,
            shipped: 0,
        }
    }

    fn ship(&mut self, tenant: &str, name: &str) -> ShipOutcome {
        self.shipped += 1;
        let input = input(name);
        let id = format!("s{}", self.shipped);
        let req = ShipRequest {
            input: &input,
            shipment_id: &id,
            tenant,
            record_prefix: "",
            may_backfill: true,
            now: NOW,
        };
        ship(&mut self.ledger, &self.policy, &ShipConfig::default(), &req).expect("ship")
    }

    fn decide(&mut self, tenant: &str, entry: &str, decision: PartyDecision) {
        let req = DecideRequest {
            tenant,
            party: SIBLING,
            entry,
            decision,
            reason: "a research subsidiary, not the listed parent",
            by: "officer",
        };
        let lists = default_lists().expect("lists");
        decide(&mut self.ledger, lists, &req, NOW).expect("decide");
    }
}

fn held(out: &ShipOutcome) -> bool {
    out.refusal
        .as_deref()
        .is_some_and(|r| r.starts_with(HOLD_PREFIX))
}

/// Every hit of the sibling as `LIST:ID`, as `aidf screen` lists them for the officer (a
/// shipment's answer reports the best five).
fn every_hit() -> Vec<String> {
    let party = Party {
        name: SIBLING,
        country: Some("CN"),
        party_type: None,
    };
    let lists = default_lists().expect("lists");
    let screening = lists
        .screen(&party, Thresholds::default(), &ScoreParams::default())
        .expect("screen");
    screening
        .hits
        .iter()
        .map(|h| {
            assert_eq!(h.verdict, Verdict::PossibleHit);
            format!("{}:{}", h.entry.list_code, entry_id(h.entry))
        })
        .collect()
}

/// The consignee's reported hits, each with its entry as `LIST:ID`.
fn hits(out: &ShipOutcome) -> Vec<(Value, String)> {
    let mut screening = out.screening.as_ref().expect("screened").to_value();
    let party = screening["parties"][0].take();
    party["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| {
            let entry = format!(
                "{}:{}",
                hit["list"].as_str().expect("list"),
                hit["entry_id"].as_str().expect("entry id")
            );
            (hit.clone(), entry)
        })
        .collect()
}

fn first_hit(out: &ShipOutcome) -> (Value, String) {
    hits(out).into_iter().next().expect("a hit")
}

#[test]
fn a_decision_clears_a_possible_hit_until_the_entry_changes() {
    let mut f = Fixture::new();
    let out = f.ship("acme", SIBLING);
    assert!(held(&out), "a possible hit holds: {:?}", out.refusal);
    for (hit, _) in hits(&out) {
        assert_eq!(hit["verdict"], "possible_hit");
        assert!(hit.get("decision").is_none());
    }
    let found = every_hit();
    assert!(found.len() > 1, "the sibling resembles several entries");
    // One decision is not enough: every possible hit holds until it is decided.
    f.decide("acme", &found[0], PartyDecision::NotTheSameParty);
    assert!(held(&f.ship("acme", SIBLING)));
    for entry in &found[1..] {
        f.decide("acme", entry, PartyDecision::NotTheSameParty);
    }
    let out = f.ship("acme", SIBLING);
    assert!(
        !held(&out),
        "the decision clears the hold: {:?}",
        out.refusal
    );
    assert_ne!(out.status, ShipmentStatus::Refused);
    let screening = &out.screening.as_ref().expect("screened").to_value();
    assert_eq!(screening["hold_for_review"], false);
    assert_eq!(
        screening["verdict"], "possible_hit",
        "the hit is still reported"
    );
    assert_eq!(
        hits(&out).len(),
        found.len(),
        "every decided hit is reported"
    );
    for (hit, _) in hits(&out) {
        let decision = &hit["decision"];
        assert_eq!(decision["decision"], "not_the_same_party");
        assert_eq!(decision["applied"], true);
        assert_eq!(decision["by"], "officer");
        assert_eq!(
            decision["reason"],
            "a research subsidiary, not the listed parent"
        );
        assert!(
            decision["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("acme/"))
        );
    }

    // Another tenant's shipments are not touched by acme's decision.
    assert!(held(&f.ship("other", SIBLING)));

    // A decision made on other content of the entry (its address since changed, say) is the
    // tenant's latest: it no longer applies, and the hold comes back saying why.
    let first_decision = f.ledger.screening_decisions("acme", None).expect("read");
    let mut stale = first_decision
        .iter()
        .find(|d| format!("{}:{}", d.list, d.entry_id) == first_hit(&out).1)
        .expect("the first hit's decision")
        .clone();
    stale.entry_fingerprint = "sha256:content-before-the-list-changed".into();
    let stale = f
        .ledger
        .record_screening_decision(&stale, NOW)
        .expect("record");
    let out = f.ship("acme", SIBLING);
    assert!(held(&out), "{:?}", out.refusal);
    let (hit, _) = first_hit(&out);
    assert_eq!(hit["decision"]["id"], stale.id.as_str());
    assert_eq!(hit["decision"]["applied"], false);
    let note = hit["decision"]["note"].as_str().expect("note");
    assert!(note.contains("the entry changed"), "{note}");

    let listed = decisions(&mut f.ledger, "acme").expect("list");
    let superseded: Vec<&str> = listed
        .iter()
        .filter(|d| !d.current)
        .map(|d| d.decision.id.as_str())
        .collect();
    assert_eq!(
        superseded,
        [stale.id.replace("/000001", "/000000")],
        "the later decision supersedes"
    );
    assert_eq!(listed.len(), found.len() + 1);
}

#[test]
fn same_party_makes_the_hit_clear_with_its_lists_effect() {
    let mut f = Fixture::new();
    let out = f.ship("acme", SIBLING);
    let (_, entry) = first_hit(&out);
    f.decide("acme", &entry, PartyDecision::SameParty);
    let out = f.ship("acme", SIBLING);
    assert!(!held(&out), "{:?}", out.refusal);
    let screening = &out.screening.as_ref().expect("screened").to_value();
    assert!(
        screening.get("entity_list").is_some(),
        "the Entity List entry applies: {screening}"
    );
    assert_eq!(out.determination_value()["authorization"], "license");
}

#[test]
fn the_entry_fingerprint_follows_the_entrys_content() {
    let lists = default_lists().expect("lists");
    let entry = find_entry(lists, "EL:HUAWEI TECHNOLOGIES CO., LTD.");
    let entry = match entry {
        Ok(e) => e,
        // The Entity List names Huawei more than once: any one-entry id will do.
        Err(DecisionError::Field { .. }) => lists
            .entries()
            .find(|e| e.list_code == "EL")
            .expect("an EL entry"),
        Err(e) => panic!("{e}"),
    };
    let mut changed = entry.clone();
    changed.addresses.push("A new address".into());
    assert_ne!(entry_fingerprint(entry), entry_fingerprint(&changed));
    let mut moved = entry.clone();
    moved.row += 1;
    assert_eq!(
        entry_fingerprint(entry),
        entry_fingerprint(&moved),
        "content only"
    );
    let typed = format!("el:  {}", entry_id(entry).to_uppercase());
    assert!(
        find_entry(lists, &typed).is_ok_and(|found| std::ptr::eq(found, entry)),
        "{typed}"
    );
    for bad in ["EL", "EL:", "XX:nobody at all", ":x"] {
        let e = find_entry(lists, bad).unwrap_err();
        assert!(e.to_string().starts_with("field `entry`"), "{e}");
    }
}

#[test]
fn a_decision_needs_a_reason_and_an_entry_of_the_lists() {
    let mut f = Fixture::new();
    let lists = default_lists().expect("lists");
    let req = DecideRequest {
        tenant: "acme",
        party: SIBLING,
        entry: "EL:no such entry",
        decision: PartyDecision::NotTheSameParty,
        reason: "  ",
        by: "officer",
    };
    let e = decide(&mut f.ledger, lists, &req, NOW).unwrap_err();
    assert!(e.to_string().starts_with("field `reason`"), "{e}");
    let e = decide(
        &mut f.ledger,
        lists,
        &DecideRequest { reason: "r", ..req },
        NOW,
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("field `entry`"), "{e}");
    assert!(decisions(&mut f.ledger, "acme").expect("list").is_empty());
}

#[test]
fn a_tenants_thresholds_are_the_ones_its_shipments_screen_at() {
    let mut f = Fixture::new();
    assert_eq!(
        thresholds(&mut f.ledger, "acme").expect("read").source,
        "default"
    );
    let score = first_hit(&f.ship("acme", SIBLING)).0["score"]
        .as_f64()
        .expect("score");
    assert!(score < 0.99, "{score}");
    let set = set_thresholds(&mut f.ledger, "acme", "1", "0.99", "admin", NOW).expect("set");
    assert_eq!((set.clear.as_str(), set.possible.as_str()), ("1", "0.99"));
    let out = f.ship("acme", SIBLING);
    assert!(
        !held(&out),
        "below the tenant's possible threshold: {:?}",
        out.refusal
    );
    let screening = &out.screening.as_ref().expect("screened").to_value();
    assert_eq!(screening["thresholds"]["possible"], 0.99);
    assert!(
        held(&f.ship("other", SIBLING)),
        "other tenants keep the defaults"
    );
    let e = set_thresholds(&mut f.ledger, "acme", "0.5", "0.6", "admin", NOW).unwrap_err();
    assert!(e.to_string().starts_with("field `possible`"), "{e}");
}

/// The committed CSL built from its CSV; with `moved`, the Xi'an research institute's Entity List
/// entry has an address it did not have (the list changed after a decision).
fn csl(moved: bool) -> ListSet {
    let gz = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policy/lists/csl.csv.gz"
    ))
    .expect("csl");
    let bytes = aidf_screen::read_maybe_gzip("csl.csv.gz", gz.as_slice()).expect("gunzip");
    let text = String::from_utf8(bytes).expect("utf8");
    let mut lines = text.lines();
    let mut csv = format!("{}\n", lines.next().expect("header"));
    for line in lines {
        let line = if moved {
            line.replace(
                "Xi'an Research Institute\",CN,",
                "Xi'an Research Institute\",\"1 Example Road, Xi'an, CN\",",
            )
        } else {
            line.to_owned()
        };
        csv.push_str(&line);
        csv.push('\n');
    }
    let manifest = "[[list]]\nid = \"el\"\nformat = \"csl\"\ndate = \"2026-07-31\"\nfile = \"el.csv\"\nsource = \"test\"\n";
    let meta = aidf_screen::parse_manifest("lists.toml", manifest).expect("manifest");
    let list = aidf_screen::load_csl("el.csv", csv.as_bytes(), &meta[0]).expect("load");
    ListSet::build(vec![list])
}

fn hold(s: &TransactionScreening) -> bool {
    s.hold_for_review
}

#[test]
fn a_changed_entry_ignores_the_decision_made_before_and_says_so() {
    let (before, after) = (csl(false), csl(true));
    let input = input(SIBLING);
    let plain =
        screen_transaction_for(&before, &TenantScreening::default(), &input).expect("screen");
    assert!(hold(&plain), "a possible hit holds: {:?}", plain.verdict);
    // The officer decides every hit on the lists as they were.
    let party = Party {
        name: SIBLING,
        country: Some("CN"),
        party_type: None,
    };
    let screened = before
        .screen(&party, Thresholds::default(), &ScoreParams::default())
        .expect("screen");
    let decisions: Vec<ScreeningDecision> = screened
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| ScreeningDecision {
            id: format!("d{i}"),
            tenant: "acme".into(),
            party: SIBLING.into(),
            party_key: party_key(SIBLING).expect("key"),
            list: h.entry.list_code.clone(),
            entry_id: entry_id(h.entry),
            entry_fingerprint: entry_fingerprint(h.entry),
            decision: PartyDecision::NotTheSameParty,
            reason: "a research subsidiary".into(),
            by: "officer".into(),
            at: NOW,
            seq: 0,
        })
        .collect();
    assert!(
        decisions
            .iter()
            .any(|d| d.entry_id.contains("Xi'an Research Institute"))
    );
    let tenant = TenantScreening {
        thresholds: Thresholds::default(),
        decisions,
    };
    let decided = screen_transaction_for(&before, &tenant, &input).expect("screen");
    assert!(!hold(&decided), "{:?}", decided.refusal);

    let changed = screen_transaction_for(&after, &tenant, &input).expect("screen");
    assert!(hold(&changed), "the changed entry holds again");
    let refusal = changed.refusal.as_deref().expect("held");
    assert!(refusal.contains("Xi'an Research Institute"), "{refusal}");
    for hit in &changed.parties[0].hits {
        let d = hit.decision.as_ref().expect("each hit has its decision");
        let moved = hit.entry.contains("Xi'an Research Institute");
        assert_eq!(d.applied, !moved, "{}: {}", hit.entry, d.note);
        if moved {
            assert!(d.note.contains("the entry changed"), "{}", d.note);
        }
    }
}
