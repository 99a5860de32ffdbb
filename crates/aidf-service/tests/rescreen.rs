//! Rescreening when a new list version is loaded (issue 14, item 5): the parties a ledger records
//! (shipment consignees, license consignees, VEU holders, application parties) screened against
//! two list versions built here, and the report's changes asserted exactly.

mod common;

use std::path::Path;

use aidf_core::{Policy, Posture};
use aidf_ledger::register::consignee_key;
use aidf_ledger::{
    Ledger, LedgerStore, License, LicenseStatus, NewShipment, Party, ShipmentStatus, Timestamp,
    Veu, VeuKind,
};
use aidf_screen::{ListSet, Thresholds, Verdict, load_csl, parse_manifest};
use aidf_service::application::{Actor, parse_application, submit};
use aidf_service::rescreen::{PartyChange, Scope, rescreen};

const NOW: Timestamp = Timestamp(1_748_865_600_000);
const EL: &str = "Entity List (EL) - Bureau of Industry and Security";
const SDN: &str = "Specially Designated Nationals (SDN) - Treasury Department";

/// Entries both versions carry, so that name parts weigh as in a real list.
const FILLER: &str = "\
\"Entity List (EL) - Bureau of Industry and Security\",EL-90,Entity,Harbor Freight Shipping Co,90 FR 1090,For all items subject to the EAR,Presumption of denial
\"Entity List (EL) - Bureau of Industry and Security\",EL-91,Entity,Golden Sun Trading Ltd,90 FR 1091,For all items subject to the EAR,Presumption of denial
\"Entity List (EL) - Bureau of Industry and Security\",EL-92,Entity,Red Mountain Mining Corp,90 FR 1092,For all items subject to the EAR,Presumption of denial
\"Entity List (EL) - Bureau of Industry and Security\",EL-93,Entity,Blue River Electronics Institute,90 FR 1093,For all items subject to the EAR,Presumption of denial
";

/// The previous version: Zephyr (kept), Borealis (cleared next), Nimbus under an older name.
fn previous_rows() -> String {
    format!(
        "\"{EL}\",EL-1,Entity,Zephyr Quantum Systems Ltd,90 FR 1001,For all items subject to the EAR,Presumption of denial\n\
         \"{EL}\",EL-2,Entity,Borealis Photonics Company,90 FR 1002,For all items subject to the EAR,Presumption of denial\n\
         \"{EL}\",EL-4,Entity,Nimbus Orbital Dynamics Research Group,90 FR 1004,For all items subject to the EAR,Case-by-case review\n"
    )
}

/// The new version: Zephyr kept, Borealis gone, Cobalt added to the SDN list, Nimbus renamed.
fn current_rows() -> String {
    format!(
        "\"{EL}\",EL-1,Entity,Zephyr Quantum Systems Ltd,90 FR 1001,For all items subject to the EAR,Presumption of denial\n\
         \"{SDN}\",SDN-3,Entity,Cobalt Lattice Trading LLC,91 FR 2003,,\n\
         \"{EL}\",EL-4,Entity,Nimbus Orbital Dynamics,91 FR 2004,For all items subject to the EAR,Case-by-case review\n"
    )
}

/// Writes a list directory (manifest and CSL CSV) and returns it.
fn list_dir(root: &Path, name: &str, date: &str, rows: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let header = "source,entity_number,type,name,federal_register_notice,license_requirement,license_policy\n";
    std::fs::write(dir.join("csl.csv"), format!("{header}{rows}{FILLER}")).expect("csv");
    std::fs::write(
        dir.join("lists.toml"),
        format!(
            "[[list]]\nid = \"{name}\"\nformat = \"csl\"\ndate = \"{date}\"\nfile = \"csl.csv\"\n"
        ),
    )
    .expect("manifest");
    dir
}

/// The list set of a directory written by [`list_dir`].
fn load(dir: &Path) -> ListSet {
    let manifest = std::fs::read_to_string(dir.join("lists.toml")).expect("manifest");
    let metas = parse_manifest("lists.toml", &manifest).expect("parse");
    let bytes = std::fs::read(dir.join("csl.csv")).expect("csv");
    let lists = metas
        .iter()
        .map(|m| load_csl("csl.csv", bytes.as_slice(), m).expect("load"))
        .collect();
    ListSet::build(lists)
}

/// A shipment to `name` (headquartered in `hq`), refused with `refusal` when given.
fn ship(l: &mut Ledger, id: &str, name: &str, hq: &str, refusal: Option<&str>) {
    let mut new = NewShipment {
        shipment_id: id.into(),
        input_digest: format!("sha256:{id}"),
        determination: serde_json::json!({
            "determination": {"destination": "AE", "authorization": "nlr"},
            "refusal": refusal,
            "input": {"destination": "AE", "consignee": {"name": name, "hq": hq}},
        })
        .into(),
        status: if refusal.is_some() {
            ShipmentStatus::Refused
        } else {
            ShipmentStatus::Authorized
        },
        tenant: Some("local".into()),
        business_date: Some("2025-06-01".into()),
        parties: vec![Party {
            tenant: "local".into(),
            // As `ship` derives it: one party whatever the case and spacing of the name.
            id: format!("consignee:{}@{hq}", consignee_key(name)),
            name: name.into(),
            normalized_name: consignee_key(name),
            hq: hq.into(),
            parent_hq: None,
        }],
        ..NewShipment::default()
    };
    l.record_shipment(&mut new, NOW).expect("record");
}

/// The ledger: Zephyr and Cobalt and Plain Widgets shipped to (Cobalt once held, once refused
/// for want of a license), a license for Borealis (and a revoked one, not reported), a license
/// for a name of punctuation only, a VEU held by Cobalt, a pending application whose end user is
/// Nimbus.
fn record(l: &mut Ledger) {
    ship(l, "s-z1", "Zephyr Quantum Systems Ltd", "CN", None);
    ship(l, "s-c1", "Cobalt Lattice Trading LLC", "AE", None);
    let hold = "hold for review: consignee `Cobalt Lattice Trading LLC` is a possible hit";
    ship(l, "s-c2", "Cobalt Lattice Trading LLC", "AE", Some(hold));
    ship(
        l,
        "s-c3",
        "COBALT  Lattice Trading LLC",
        "AE",
        Some("license required"),
    );
    ship(l, "s-p1", "Plain Widgets GmbH", "DE", None);
    let license = License {
        id: "L-1".into(),
        consignee: "Borealis Photonics Company".into(),
        destination_country: "MY".into(),
        allowed_item_ids: vec!["h100-sxm".into()],
        units_cap: 10,
        tpp_cap: 1_000_000,
        granted_on: "2025-01-01".into(),
        expires_on: "2029-01-01".into(),
        ..License::default()
    };
    l.add_license(&license, NOW).expect("license");
    let revoked = License {
        id: "L-2".into(),
        status: LicenseStatus::Revoked,
        ..license.clone()
    };
    l.add_license(&revoked, NOW).expect("revoked license");
    let legal_form_only = License {
        id: "L-3".into(),
        consignee: "...".into(),
        ..license
    };
    l.add_license(&legal_form_only, NOW).expect("license");
    let veu = Veu {
        id: "V-1".into(),
        kind: VeuKind::Uveu,
        owner: "Cobalt Lattice Trading LLC".into(),
        hq_country: "AE".into(),
        sites: Vec::new(),
    };
    l.add_veu(&veu, NOW).expect("veu");
    let app = parse_application(
        r#"{"id":"APP-1","date":"2025-06-02","destination":"AE",
            "applicant":{"name":"Acme Exports Inc","country":"US"},
            "consignee":{"name":"Gulf Compute LLC","hq":"AE"},
            "end_users":[{"name":"Nimbus Orbital Dynamics","country":"AE"}],
            "items":[{"chip":"NVIDIA H100 SXM","quantity":10}],
            "value_usd":"250000.00"}"#,
    )
    .expect("application");
    let who = Actor {
        tenant: "local",
        record_prefix: "",
        actor: "local:officer",
        posture: Posture::AsWritten,
        now: NOW,
    };
    let policy = Policy::embedded().expect("policy");
    submit(l, &policy, &app, &who).expect("submit");
}

/// One changed party as the table states it: name, country, verdicts, the (list, id) of its
/// new, cleared and changed hits, its licenses, held shipments and pending applications.
type Row<'a> = (
    &'a str,
    Option<&'a str>,
    Verdict,
    Verdict,
    [&'a [(&'a str, &'a str)]; 3],
    [&'a [&'a str]; 3],
);

/// A [`Row`] as owned values, to compare with the report's.
type Owned = (
    String,
    Option<String>,
    Verdict,
    Verdict,
    [Vec<(String, String)>; 3],
    [Vec<String>; 3],
);

fn row_of(c: &PartyChange) -> Owned {
    let ids = |hits: Vec<&aidf_service::rescreen::EntryHit>| {
        hits.iter()
            .map(|h| (h.list.clone(), h.id.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    (
        c.name.clone(),
        c.country.clone(),
        c.verdict_before,
        c.verdict_after,
        [
            ids(c.new_hits.iter().collect()),
            ids(c.cleared_hits.iter().collect()),
            ids(c.changed_hits.iter().map(|h| &h.hit).collect()),
        ],
        [
            c.appears.licenses.clone(),
            c.appears.held_shipments.clone(),
            c.appears.pending_applications.clone(),
        ],
    )
}

fn owned(r: &Row<'_>) -> Owned {
    let pairs = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    let texts = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect();
    (
        r.0.to_owned(),
        r.1.map(str::to_owned),
        r.2,
        r.3,
        r.4.map(pairs),
        r.5.map(texts),
    )
}

fn parties_that_gain_lose_and_keep_hits(pg: bool) {
    use Verdict::{ClearHit, NoMatch, PossibleHit};
    let Some((_guard, mut l)) = common::ledger(pg) else {
        return;
    };
    record(&mut l);
    let root = tempfile::tempdir().expect("tempdir");
    let previous = load(&list_dir(
        root.path(),
        "csl-old",
        "2026-07-31",
        &previous_rows(),
    ));
    let current = load(&list_dir(
        root.path(),
        "csl-new",
        "2026-08-31",
        &current_rows(),
    ));
    // An officer dismissed Nimbus's possible hit under the previous version; the entry has since
    // changed (renamed), so the decision no longer carries.
    let dismissed = aidf_service::screening_decisions::DecideRequest {
        tenant: "local",
        party: "Nimbus Orbital Dynamics",
        entry: "EL:EL-4",
        decision: aidf_ledger::PartyDecision::NotTheSameParty,
        reason: "a different company of the same group name",
        by: "local:officer",
    };
    aidf_service::screening_decisions::decide(&mut l, &previous, &dismissed, NOW)
        .expect("decision");
    let scope = Scope {
        tenant: "local",
        record_prefix: "",
    };
    let report =
        rescreen(&mut l, scope, &previous, &current, Thresholds::default()).expect("rescreen");
    let expected: [Row<'_>; 3] = [
        (
            "Borealis Photonics Company",
            None,
            ClearHit,
            NoMatch,
            [&[], &[("EL", "EL-2")], &[]],
            [&["L-1"], &[], &[]],
        ),
        (
            "Cobalt Lattice Trading LLC",
            Some("AE"),
            NoMatch,
            ClearHit,
            [&[("SDN", "SDN-3")], &[], &[]],
            [&[], &["s-c2"], &[]],
        ),
        (
            "Nimbus Orbital Dynamics",
            Some("AE"),
            PossibleHit,
            ClearHit,
            [&[], &[], &[("EL", "EL-4")]],
            [&[], &[], &["APP-1"]],
        ),
    ];
    let got: Vec<_> = report.changes.iter().map(row_of).collect();
    let want: Vec<_> = expected.iter().map(owned).collect();
    assert_eq!(got, want);
    let cobalt = &report.changes[1].appears;
    assert_eq!((cobalt.shipments, cobalt.refused), (3, 2));
    assert_eq!(cobalt.veus, ["V-1"]);
    assert_eq!(
        cobalt.roles.iter().copied().collect::<Vec<_>>(),
        ["consignee", "veu holder"]
    );
    let nimbus = report.changes[2].changed_hits[0]
        .hit
        .decision
        .as_ref()
        .expect("the decision is reported");
    assert_eq!(nimbus.reason, "a different company of the same group name");
    assert!(!nimbus.applied, "{nimbus:?}");
    assert!(nimbus.note.contains("changed"), "{nimbus:?}");
    assert!(report.changes[1].new_hits[0].decision.is_none());
    let cited = &report.changes[1].new_hits[0];
    assert_eq!(
        (cited.entry.as_str(), cited.citations.as_slice()),
        (
            "Cobalt Lattice Trading LLC",
            ["91 FR 2003".to_owned()].as_slice()
        )
    );
    // Zephyr (CN), Cobalt, Plain Widgets, Borealis, Gulf Compute, Nimbus, `...`.
    assert_eq!(report.parties_screened, 7);
    let not_screened: Vec<(&str, &str)> = report
        .not_screened
        .iter()
        .map(|n| (n.name.as_str(), n.error.as_str()))
        .collect();
    assert_eq!(
        not_screened,
        [("...", "field `name`: empty (expected a party name)")]
    );
    assert_eq!(report.parties_still_hit, 1, "Zephyr keeps its hit");
    assert_eq!(
        (report.new_hits, report.cleared_hits, report.changed_hits),
        (1, 1, 1)
    );
    let named = |v: &[aidf_service::screening::ListVersionRef]| {
        v.iter()
            .map(|v| (v.id.clone(), v.date.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        named(&report.previous),
        [("csl-old".to_owned(), "2026-07-31".to_owned())]
    );
    assert_eq!(
        named(&report.current),
        [("csl-new".to_owned(), "2026-08-31".to_owned())]
    );
    assert!(report.current[0].sha256.starts_with("sha256:"));
    assert_ne!(report.previous[0].sha256, report.current[0].sha256);
}

both!(parties_that_gain_lose_and_keep_hits);
