//! A group commit records exactly what the same shipments recorded one by one would: the same
//! answers (authorized, refused past a cap, replayed, conflicting, invalid) and the same balances.
//! The serial path is the model; the group, with plans made before it on a snapshot, is what the
//! server runs on SQLite.

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::audit::AuditContext;
use aidf_ledger::{Ledger, LedgerStore, Timestamp};
use aidf_service::{
    GroupItem, InFlight, Prepared, ShipConfig, ShipError, ShipOutcome, ShipRequest, prepare, ship,
    ship_group,
};
use proptest::prelude::*;

/// 2025-06-02T12:00:00Z: the shipments, dated the day before, are no backfill.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

const NAMES: [&str; 4] = ["Alpha Sdn Bhd", "华为技术", "شركة ألف", "ALPHA  SDN BHD"];

#[derive(Debug, Clone)]
struct Request {
    key: usize,
    name: usize,
    units: u64,
    bad_posture: bool,
}

fn input(r: &Request) -> DeterminationInput {
    let posture = if r.bad_posture {
        r#","posture":"as_enforced""#
    } else {
        ""
    };
    serde_json::from_str(&format!(
        r#"{{"date":"2025-06-01","destination":"MY","consignee":{{"name":"{}","hq":"MY"}},"item":{{"chip":"H100 SXM"}},"quantity":{}{posture}}}"#,
        NAMES[r.name], r.units
    ))
    .expect("input")
}

/// What a caller sees of an answer: everything serialized, and the replay flag.
fn seen(r: &Result<ShipOutcome, ShipError>) -> String {
    match r {
        Ok(o) => format!(
            "{} replayed={}",
            serde_json::to_string(o).expect("json"),
            o.replayed
        ),
        Err(e) => format!("error: {e}"),
    }
}

fn ledger(dir: &tempfile::TempDir, name: &str) -> Ledger {
    Ledger::open(dir.path().join(name).to_str().expect("utf8")).expect("open")
}

/// Tenant acme's request to ship `input` under `id`, recorded at [`NOW`].
fn acme_request<'a>(input: &'a DeterminationInput, id: &'a str) -> ShipRequest<'a> {
    ShipRequest {
        input,
        shipment_id: id,
        tenant: "acme",
        record_prefix: "acme.",
        may_backfill: false,
        now: NOW,
    }
}

/// The embedded policy, and shipments determined without screening (see the property test).
fn unscreened() -> (Policy, ShipConfig) {
    let config = ShipConfig {
        screen: false,
        ..ShipConfig::default()
    };
    (Policy::embedded().expect("policy"), config)
}

fn ctx() -> AuditContext {
    AuditContext {
        tenant: "acme".into(),
        actor: "test".into(),
    }
}

fn request() -> impl Strategy<Value = Request> {
    (
        0..6usize,
        0..4usize,
        prop::sample::select(vec![1u64, 300, 900, 1700]),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(key, name, units, bad_posture)| Request {
            key,
            name,
            units,
            bad_posture,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_group_records_what_one_by_one_records(
        requests in prop::collection::vec(request(), 1..24),
        cuts in prop::collection::vec(1..6usize, 24),
        planned in prop::collection::vec(prop::bool::ANY, 1..8),
    ) {
        let (policy, config) = unscreened();
        // Screening off: "Alpha Sdn Bhd" is a clear SDN hit (alias `ALPHA` of ARTAVIL) and 华为技术
        // an Entity List one, which would refuse most shipments here and leave the caps this
        // equivalence is about untested; screening has its own tests (tests/screening.rs).
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut serial, mut grouped) = (ledger(&dir, "serial.db"), ledger(&dir, "group.db"));
        let inputs: Vec<DeterminationInput> = requests.iter().map(input).collect();
        let ids: Vec<String> = requests.iter().map(|r| format!("acme.k{}", r.key)).collect();
        let req = |i: usize| acme_request(&inputs[i], &ids[i]);
        serial.set_audit_context(ctx());
        let one_by_one: Vec<String> = (0..requests.len())
            .map(|i| seen(&ship(&mut serial, &policy, &config, &req(i))))
            .collect();
        let mut in_groups = Vec::new();
        let (mut start, mut cut) = (0, cuts.iter().cycle());
        // As the server's planner: the draws of the plans not yet recorded count on top of
        // what it reads (a wrong forecast only makes the writer determine again).
        let (mut in_flight, mut sent) = (InFlight::default(), 0);
        while start < requests.len() {
            let end = (start + cut.next().copied().unwrap_or(1)).min(requests.len());
            // Plans made before the group, as the server makes them on a reader connection: a
            // later shipment of the group may find them stale and is then determined again.
            let mut answers: Vec<Option<String>> = vec![None; end - start];
            let mut plans = Vec::new();
            for i in start..end {
                if !planned[i % planned.len()] {
                    plans.push(None);
                    continue;
                }
                match prepare(&mut grouped, &policy, &config, &req(i), &in_flight) {
                    Ok(Prepared::Planned(plan)) => {
                        sent += 1;
                        in_flight.add(sent, plan.shipment());
                        plans.push(Some(plan));
                    }
                    // A replay or a bad request is answered without the writer.
                    Ok(Prepared::Replayed(out)) => {
                        answers[i - start] = Some(seen(&Ok(out)));
                        plans.push(None);
                    }
                    Err(e) => {
                        answers[i - start] = Some(seen(&Err(e)));
                        plans.push(None);
                    }
                }
            }
            let mut items: Vec<GroupItem<'_>> = plans
                .iter_mut()
                .enumerate()
                .filter(|(k, _)| answers[*k].is_none())
                .map(|(k, plan)| GroupItem { ctx: ctx(), req: req(start + k), plan: plan.as_deref_mut() })
                .collect();
            let mut recorded =
                ship_group(&mut grouped, &policy, &config, &mut items, None).into_iter();
            for answer in answers {
                in_groups.push(answer.unwrap_or_else(|| seen(&recorded.next().expect("answer"))));
            }
            in_flight.settled(sent);
            prop_assert!(in_flight.is_empty());
            start = end;
        }
        // The comparison means something only if shipments were recorded (a bad id, say, would
        // make every answer the same error on both sides).
        let valid = requests.iter().filter(|r| !r.bad_posture).count();
        let recorded = one_by_one.iter().filter(|a| !a.starts_with("error")).count();
        prop_assert!(valid == 0 || recorded > 0, "nothing recorded: {:?}", one_by_one);
        prop_assert_eq!(one_by_one, in_groups);
        prop_assert_eq!(serial.accounts().expect("accounts"), grouped.accounts().expect("accounts"));
        prop_assert_eq!(
            serial.audit_backlog().expect("backlog"),
            grouped.audit_backlog().expect("backlog")
        );
        grouped.check_invariants().expect("invariants");
    }
}

/// With an auditor, a group chains its shipments' audit records in its own transaction: nothing
/// is left in the outbox, and the chain verifies with one record a shipment. Without one, the
/// records wait in the outbox for the audit writer.
#[test]
fn a_group_chains_its_audit_records_in_its_transaction() {
    let (policy, config) = unscreened();
    let dir = tempfile::tempdir().expect("tempdir");
    let auditor =
        aidf_ledger::audit::Auditor::new(aidf_ledger::audit::AuditKey::new(&[7; 32]), None);
    let requests: Vec<Request> = (0..5)
        .map(|key| Request {
            key,
            name: key % 3,
            units: 10,
            bad_posture: false,
        })
        .collect();
    let inputs: Vec<DeterminationInput> = requests.iter().map(input).collect();
    let ids: Vec<String> = requests
        .iter()
        .map(|r| format!("acme.k{}", r.key))
        .collect();
    for (name, chain) in [("outbox.db", None), ("chained.db", Some(&auditor))] {
        let mut ledger = ledger(&dir, name);
        let mut items: Vec<GroupItem<'_>> = (0..inputs.len())
            .map(|i| GroupItem {
                ctx: ctx(),
                req: acme_request(&inputs[i], &ids[i]),
                plan: None,
            })
            .collect();
        let answers = ship_group(&mut ledger, &policy, &config, &mut items, chain);
        assert!(answers.iter().all(Result::is_ok), "{name}: {answers:?}");
        let backlog = ledger.audit_backlog().expect("backlog");
        let verified = auditor.verify(&mut ledger).expect("verify");
        match chain {
            None => assert_eq!((backlog, verified.records), (5, 0), "{name}"),
            Some(_) => {
                assert_eq!((backlog, verified.records), (0, 5), "{name}");
                assert!(verified.ok, "{name}: {verified:?}");
            }
        }
    }
}

/// A shipment planned behind another to the same consignee, with the other's draw counted as in
/// flight, reads the balance that other leaves: its plan holds when both are recorded in turn.
/// Planned without it, the ledger refuses the second plan (the balance moved).
#[test]
fn a_plan_counts_the_draws_in_flight_before_it() {
    let (policy, config) = unscreened();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut l = ledger(&dir, "in-flight.db");
    let request = |key: usize| Request {
        key,
        name: 0,
        units: 10,
        bad_posture: false,
    };
    let inputs: Vec<DeterminationInput> = (0..3).map(|k| input(&request(k))).collect();
    let ids: Vec<String> = (0..3).map(|k| format!("acme.f{k}")).collect();
    let plan = |l: &mut Ledger, k: usize, in_flight: &InFlight| match prepare(
        l,
        &policy,
        &config,
        &acme_request(&inputs[k], &ids[k]),
        in_flight,
    ) {
        Ok(Prepared::Planned(plan)) => plan,
        other => panic!("not planned: {other:?}"),
    };
    let mut in_flight = InFlight::default();
    let first = plan(&mut l, 0, &in_flight);
    in_flight.add(1, first.shipment());
    let counted = plan(&mut l, 1, &in_flight);
    let blind = plan(&mut l, 2, &InFlight::default());
    let drawn = |p: &aidf_service::Plan| p.shipment().expected.iter().map(|e| e.used).max();
    assert_eq!(drawn(&first), Some(0));
    assert_eq!(drawn(&counted), Some(10 * 15_832));
    l.record_shipment(&mut first.shipment().clone(), NOW)
        .expect("first");
    l.record_shipment(&mut counted.shipment().clone(), NOW)
        .expect("the plan that counted the first draw holds");
    let stale = l
        .record_shipment(&mut blind.shipment().clone(), NOW)
        .unwrap_err();
    assert!(stale.is_balance_moved(), "{stale:?}");
}
