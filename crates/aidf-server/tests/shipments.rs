//! The shipment path over HTTP, in process (`tower::ServiceExt::oneshot`): each defect the review
//! of 2026-11-30 found on `POST /v1/shipments` (issue 12), as a test that failed before.

mod common;

use std::sync::Arc;

use aidf_core::{AccountRef, PartyId, Policy};
use aidf_ledger::{AccountKind, Ledger, LedgerStore, Meta, Timestamp};
use aidf_server::{AppState, router};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

struct Api {
    app: Router,
    db: String,
    _dir: common::Scratch,
}

struct Answer {
    status: StatusCode,
    replayed: bool,
    bytes: Vec<u8>,
    body: Value,
}

use common::auditor;

fn api(tag: &str) -> Api {
    let (dir, db) = common::scratch("ship", tag);
    let policy = Policy::embedded().expect("policy");
    let state = AppState::new(policy, &db, false, auditor(&db)).expect("state");
    Api {
        app: router(Arc::new(state)),
        db,
        _dir: dir,
    }
}

impl Api {
    fn token(&self, tenant: &str, role: &str) -> String {
        common::token(&self.db, tenant, role)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &str,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body.to_string())).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let replayed = resp.headers().contains_key("idempotent-replayed");
        let bytes = to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            replayed,
            bytes,
            body,
        }
    }

    /// Records a license for H100 SXM to `consignee` in MY (2025-2028, room to spare).
    async fn license(&self, token: &str, id: &str, consignee: &str, beyond_allocation: bool) {
        let lic = serde_json::json!({"id": id, "consignee": consignee, "destination": "MY",
            "items": ["H100 SXM"], "units": 1_000_000, "tpp": 5_000_000_000u64,
            "granted": "2025-01-01", "expires": "2029-01-01",
            "beyond_allocation": beyond_allocation});
        let r = self
            .call("POST", "/v1/licenses", token, None, &lic.to_string())
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    async fn ship(&self, token: &str, key: Option<&str>, body: &str) -> Answer {
        self.call("POST", "/v1/shipments", token, key, body).await
    }
}

fn order(name: &str, quantity: u64) -> String {
    serde_json::json!({
        "date": "2025-06-01",
        "destination": "MY",
        "consignee": {"name": name, "hq": "MY"},
        "item": {"chip": "H100 SXM"},
        "quantity": quantity
    })
    .to_string()
}

fn with_window(tag: &str) -> Api {
    // The flows below ship on 2025 dates as an exporter: widen the back-dating window (the
    // default window has its own test).
    let mut a = api(tag);
    let policy = Policy::embedded().expect("policy");
    let mut state = AppState::new(policy, &a.db, false, auditor(&a.db)).expect("state");
    state.ship_config.backdate_window_days = 36_500;
    // These flows are about balances, caps and accounts, with made-up names of which several
    // are possible hits on the lists ("Big Sdn Bhd", "Hold Sdn Bhd") and two real Entity List
    // parties (华为技术, 中兴通讯): screening off here; `shipments_screen_the_consignee` has it on.
    state.ship_config.screen = false;
    a.app = router(Arc::new(state));
    a
}

#[tokio::test]
async fn shipments_screen_the_consignee() {
    let mut a = api("screened");
    let policy = Policy::embedded().expect("policy");
    let mut state = AppState::new(policy, &a.db, false, auditor(&a.db)).expect("state");
    state.ship_config.backdate_window_days = 36_500;
    a.app = router(Arc::new(state));
    let t = a.token("acme", "exporter");
    let body = serde_json::json!({
        "date": "2025-06-01",
        "destination": "SG",
        "consignee": {"name": "Huawei Technologies Co., Ltd.", "hq": "SG"},
        "item": {"chip": "L20"},
        "quantity": 10
    })
    .to_string();
    let first = a.ship(&t, Some("hw-1"), &body).await;
    assert_eq!(first.body["status"], "refused", "{:?}", first.body);
    assert_eq!(first.body["determination"]["authorization"], "license");
    let screening = &first.body["screening"];
    assert_eq!(
        screening["entity_list"]["entry"],
        "Huawei Technologies Co., Ltd."
    );
    assert_eq!(screening["list_versions"][0]["id"], "csl");
    let again = a.ship(&t, Some("hw-1"), &body).await;
    assert_eq!(first.bytes, again.bytes, "a replay answers the same bytes");

    let checked = a.call("POST", "/v1/determinations", &t, None, &body).await;
    assert_eq!(checked.body["authorization"], "license");
    assert_eq!(checked.body["screening"]["verdict"], "clear_hit");
    let plain = a
        .call("POST", "/v1/determinations?screen=false", &t, None, &body)
        .await;
    assert!(plain.body.get("screening").is_none(), "{:?}", plain.body);
    assert_ne!(plain.body["authorization"], "license");
}

#[tokio::test]
async fn a_retry_after_earlier_draws_replays_byte_for_byte() {
    let a = with_window("retry");
    let t = a.token("acme", "exporter");
    let body = order("X Sdn Bhd", 100);
    let first = a.ship(&t, Some("k1"), &body).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let second = a.ship(&t, Some("k2"), &body).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    // Before: 409, because the stored digest was of the input after the balances were filled.
    let again = a.ship(&t, Some("k2"), &body).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert!(again.replayed && !second.replayed);
    assert_eq!(again.bytes, second.bytes);
    // The same key for another request is a conflict naming the key.
    let other = a.ship(&t, Some("k2"), &order("X Sdn Bhd", 101)).await;
    assert_eq!(other.status, 409);
    assert_eq!(other.body["field"], "Idempotency-Key");
}

#[tokio::test]
async fn keyless_twins_are_separate_shipments() {
    let a = with_window("twins");
    let t = a.token("acme", "exporter");
    let body = order("Twin Sdn Bhd", 1);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, t, body) = (a.app.clone(), t.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/v1/shipments")
                .header("authorization", format!("Bearer {t}"))
                .body(Body::from(body))
                .expect("request");
            let resp = app.oneshot(req).await.expect("response");
            let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
            serde_json::from_slice::<Value>(&bytes).expect("json")
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let v = task.await.expect("join");
        assert_eq!(v["status"], "authorized", "{v}");
        ids.insert(v["shipment_id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids.len(), 32, "every keyless request is its own shipment");
    let lpp = AccountRef::LppAnnual {
        party: PartyId::of("Twin Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("acme");
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    assert_eq!(ledger.account(&lpp).expect("lpp").posted, 32 * 15_832);
}

#[tokio::test]
async fn one_key_two_bodies_at_once_never_answers_with_the_other_body() {
    let a = with_window("race");
    let t = a.token("acme", "exporter");
    for round in 0..20 {
        let key = format!("race-{round}");
        let mut tasks = Vec::new();
        for quantity in [10u64, 20] {
            let (app, t, key) = (a.app.clone(), t.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let req = Request::post("/v1/shipments")
                    .header("authorization", format!("Bearer {t}"))
                    .header("idempotency-key", key)
                    .body(Body::from(order("Race Sdn Bhd", quantity)))
                    .expect("request");
                let resp = app.oneshot(req).await.expect("response");
                let status = resp.status();
                let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
                (
                    quantity,
                    status,
                    serde_json::from_slice::<Value>(&bytes).expect("json"),
                )
            }));
        }
        let mut executed = 0;
        for task in tasks {
            let (quantity, status, v) = task.await.expect("join");
            match status.as_u16() {
                200 => {
                    executed += 1;
                    assert_eq!(v["determination"]["quantity"], quantity, "{v}");
                }
                409 => assert_eq!(v["field"], "Idempotency-Key"),
                other => panic!("status {other}: {v}"),
            }
        }
        assert_eq!(executed, 1, "round {round}: exactly one body executes");
    }
}

#[tokio::test]
async fn consignees_in_any_script_have_their_own_accounts_and_licenses() {
    let a = with_window("scripts");
    let t = a.token("acme", "officer");
    // 1,000 H100 = 15,832,000 TPP each: both fit LPP, each in its own account.
    for name in ["华为技术", "中兴通讯"] {
        let r = a.ship(&t, None, &order(name, 1000)).await;
        assert_eq!(
            r.body["determination"]["authorization"], "LPP",
            "{name}: {:?}",
            r.body
        );
        assert_eq!(r.body["status"], "authorized", "{name}");
    }
    // A license for one Arabic-named company is not drawn by another.
    a.license(&t, "L-A", "شركة ألف", false).await;
    let other = a.ship(&t, None, &order("شركة باء", 2000)).await;
    assert_eq!(other.body["status"], "refused", "{:?}", other.body);
    let own = a.ship(&t, None, &order("شركة ألف", 2000)).await;
    assert_eq!(own.body["status"], "authorized", "{:?}", own.body);
    assert_eq!(own.body["license_id"], "acme.L-A");
}

#[tokio::test]
async fn a_license_never_carries_a_shipment_past_the_allocation() {
    let a = with_window("cap");
    let t = a.token("acme", "officer");
    a.license(&t, "L-BIG", "Big Sdn Bhd", false).await;
    // 49,000 H100 = 775,768,000 TPP: within the 790,000,000 allocation.
    let first = a.ship(&t, None, &order("Big Sdn Bhd", 49_000)).await;
    assert_eq!(first.body["status"], "authorized", "{:?}", first.body);
    // 4,000 more (63,328,000) would reach 839,096,000: refused, though the license has room.
    let second = a.ship(&t, None, &order("Big Sdn Bhd", 4_000)).await;
    assert_eq!(second.body["status"], "refused", "{:?}", second.body);
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    let alloc = ledger.account("country:MY:2025-2027").expect("allocation");
    assert_eq!(alloc.posted, 775_768_000);
    let lic = ledger.account("license:acme.L-BIG:tpp").expect("license");
    assert_eq!(
        lic.posted, 775_768_000,
        "every TPP is on the allocation too"
    );
}

#[tokio::test]
async fn an_expired_hold_does_not_count() {
    let a = with_window("hold");
    let t = a.token("acme", "officer");
    a.license(&t, "L-H", "Hold Sdn Bhd", false).await;
    let key = "country:MY:2025-2027";
    {
        let mut ledger = Ledger::open(&a.db).expect("ledger");
        let now = Timestamp::now_utc();
        ledger
            .ensure_account(key, AccountKind::CountryAllocation, Some(790_000_000), now)
            .expect("account");
        ledger
            .reserve(
                "hold-1",
                key,
                780_000_000,
                Some(Timestamp(now.0 + 1)),
                Meta::default(),
                now,
            )
            .expect("hold");
    }
    std::thread::sleep(std::time::Duration::from_millis(5));
    // 2,000 H100 (31,664,000) fits once the hold has lapsed.
    let r = a.ship(&t, None, &order("Hold Sdn Bhd", 2_000)).await;
    assert_eq!(r.body["status"], "authorized", "{:?}", r.body);
    assert_eq!(r.body["determination"]["review_policy"], "approval");
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    assert_eq!(
        ledger.account(key).expect("allocation").pending,
        0,
        "swept by the write"
    );
}

#[tokio::test]
async fn a_client_cannot_choose_posture_regime_date_or_an_unrecorded_veu() {
    let a = api("bypass");
    let exporter = a.token("acme", "exporter");
    let officer = a.token("acme", "officer");
    let today = chrono::Utc::now().date_naive();
    let base = |extra: serde_json::Value| {
        let mut v: Value = serde_json::from_str(&order("By Sdn Bhd", 10)).expect("json");
        v["date"] = Value::String(today.to_string());
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v.to_string()
    };
    let refused = [
        (serde_json::json!({"posture": "as_enforced"}), "posture"),
        (serde_json::json!({"regime": "ai-diffusion-2025"}), "regime"),
        (serde_json::json!({"date": "2099-01-01"}), "date"),
    ];
    for (extra, field) in refused {
        let r = a.ship(&exporter, None, &base(extra)).await;
        assert_eq!(r.status, 422, "{field}: {:?}", r.body);
        assert_eq!(r.body["field"], field);
    }
    // Back-dated past the window: an officer's backfill, marked; never an exporter's.
    let r = a
        .ship(
            &exporter,
            None,
            &base(serde_json::json!({"date": "2025-06-01"})),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = a
        .ship(
            &officer,
            None,
            &base(serde_json::json!({"date": "2025-06-01"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["backfill"], true);
    // A UVEU never recorded is unknown: the consignee is an ordinary one.
    let r = a
        .ship(
            &exporter,
            None,
            &base(serde_json::json!({"consignee": {"name": "By Sdn Bhd", "hq": "MY", "veu": {"kind": "uveu", "id": "NOPE"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_ne!(r.body["determination"]["authorization"], "UVEU");
    assert!(
        r.body["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("unknown")),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn tenants_never_share_consignee_accounts_or_veus() {
    let a = with_window("tenants");
    let (acme, globex) = (a.token("acme", "officer"), a.token("globex", "officer"));
    let veu = r#"{"id":"VA1","kind":"nveu","owner":"Acme DC","hq":"MY","sites":[{"id":"s1","country":"MY"}]}"#;
    assert_eq!(
        a.call("POST", "/v1/veus", &acme, None, veu).await.status,
        200
    );
    let r = a.ship(&acme, None, &order("Shared Name Bhd", 1000)).await;
    assert_eq!(r.body["status"], "authorized");
    let r = a.ship(&globex, None, &order("Shared Name Bhd", 1000)).await;
    assert_eq!(
        r.body["determination"]["authorization"], "LPP",
        "globex has its own year-to-date"
    );
    let acme_lpp = AccountRef::LppAnnual {
        party: PartyId::of("Shared Name Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("acme");
    let seen = a
        .call(
            "GET",
            &format!("/v1/accounts/{acme_lpp}"),
            &globex,
            None,
            "",
        )
        .await;
    assert_eq!(seen.status, 404);
    let mine = a
        .call("GET", &format!("/v1/accounts/{acme_lpp}"), &acme, None, "")
        .await;
    assert_eq!(
        mine.body["balance"]["posted"], 15_832_000,
        "globex drew nothing of acme's"
    );
    // Claiming acme's NVEU from globex: unknown, no draw on acme's installed base.
    let claim = serde_json::json!({"date":"2025-06-01","destination":"MY",
        "consignee":{"name":"G","hq":"MY","veu":{"kind":"nveu","id":"VA1"}},
        "item":{"chip":"H100 SXM"},"quantity":10});
    let r = a.ship(&globex, None, &claim.to_string()).await;
    assert!(
        r.body["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("unknown")),
        "{:?}",
        r.body
    );
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    assert!(
        ledger
            .accounts()
            .expect("accounts")
            .iter()
            .all(|x| !x.key.contains("VA1"))
    );
}

#[tokio::test]
async fn names_over_the_limit_or_with_control_characters_are_refused_by_field() {
    let a = with_window("names");
    let t = a.token("acme", "exporter");
    for name in ["a\u{0}b".to_string(), "x".repeat(600), "   ".to_string()] {
        let r = a.ship(&t, None, &order(&name, 1)).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert_eq!(r.body["field"], "consignee.name");
    }
    let r = a.call("GET", "/v1/accounts/a%00b", &t, None, "").await;
    assert!(r.status.is_client_error(), "{}", r.status);
}

#[tokio::test]
async fn balances_read_the_business_date_and_reject_a_bad_one() {
    let a = with_window("clocks");
    let t = a.token("acme", "officer");
    let r = a.ship(&t, None, &order("Clock Sdn Bhd", 100)).await;
    assert_eq!(r.body["status"], "authorized", "{:?}", r.body);
    let key = AccountRef::LppAnnual {
        party: PartyId::of("Clock Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("acme");
    // Shipped 2025-06-01, recorded today: in the 2025-06-30 balance by business date, not in
    // the balance as recorded by then.
    let on = a
        .call(
            "GET",
            &format!("/v1/accounts/{key}?as_of=2025-06-30"),
            &t,
            None,
            "",
        )
        .await;
    assert_eq!(on.body["balance"]["posted"], 1_583_200, "{:?}", on.body);
    let rec = a
        .call(
            "GET",
            &format!("/v1/accounts/{key}?recorded_as_of=2025-06-30"),
            &t,
            None,
            "",
        )
        .await;
    assert_eq!(rec.body["balance"]["posted"], 0, "{:?}", rec.body);
    let list = a
        .call("GET", "/v1/accounts?as_of=2025-05-31", &t, None, "")
        .await;
    let lpp = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["key"] == key.as_str())
        .cloned();
    assert_eq!(lpp.map(|x| x["posted"].clone()), Some(Value::from(0)));
    for bad in [
        "/v1/accounts?as_of=garbage",
        "/v1/accounts?as_of=2025-02-30",
    ] {
        let r = a.call("GET", bad, &t, None, "").await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["field"], "as_of");
    }
}

#[tokio::test]
async fn control_characters_in_a_path_are_a_400_naming_the_path() {
    let a = api("nul");
    let t = a.token("acme", "viewer");
    for path in [
        "/v1/licenses/a%00b",
        "/v1/accounts/x%0Ay",
        "/v1/licenses/a%7fb",
    ] {
        let r = a.call("GET", path, &t, None, "").await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert_eq!(r.body["field"], "path", "{path}");
    }
}

#[tokio::test]
async fn a_license_granted_beyond_the_allocation_draws_past_it_on_a_separate_account() {
    let a = with_window("beyond");
    let t = a.token("acme", "officer");
    a.license(&t, "L-OVER", "Big Sdn Bhd", true).await;
    let first = a.ship(&t, None, &order("Big Sdn Bhd", 49_000)).await;
    assert_eq!(first.body["status"], "authorized", "{:?}", first.body);
    let second = a.ship(&t, None, &order("Big Sdn Bhd", 4_000)).await;
    assert_eq!(second.body["status"], "authorized", "{:?}", second.body);
    assert!(
        second.body["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("beyond the allocation")),
        "{:?}",
        second.body
    );
    // Every TPP is shown: the allocation to its cap, the rest beside it.
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    let alloc = ledger.account("country:MY:2025-2027").expect("allocation");
    assert_eq!(alloc.posted, 790_000_000);
    let beyond = ledger
        .account("country-beyond:MY:2025-2027")
        .expect("beyond");
    assert_eq!(beyond.posted, 839_096_000 - 790_000_000);
    let lic = ledger.account("license:acme.L-OVER:tpp").expect("license");
    assert_eq!(lic.posted, 839_096_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_shipment_is_recorded_once_and_its_retry_gets_the_answer() {
    let mut a = api("timeout");
    let policy = Policy::embedded().expect("policy");
    let mut state = AppState::new(policy, &a.db, false, auditor(&a.db)).expect("state");
    state.ship_config.backdate_window_days = 36_500;
    state.request_timeout = std::time::Duration::from_millis(300);
    a.app = router(Arc::new(state));
    let t = a.token("acme", "exporter");
    // Another writer holds the ledger for a second: the shipment outlives the request timeout.
    let db = a.db.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut other = Ledger::open(&db).expect("ledger");
        other
            .group(&mut |_| {
                locked_tx.send(()).expect("signal");
                std::thread::sleep(std::time::Duration::from_millis(1000));
            })
            .expect("group");
    });
    locked_rx.recv().expect("locked");
    let first = a.ship(&t, Some("slow-1"), &order("Slow Sdn Bhd", 3)).await;
    assert_eq!(
        first.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        first.body
    );
    assert_eq!(first.body["status"], 503, "problem+json: {:?}", first.body);
    assert!(
        first.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Idempotency-Key")),
        "{:?}",
        first.body
    );
    holder.join().expect("holder");
    // Retried as a client would (on a loaded machine a retry may itself outlive the 300 ms while
    // the first is still being recorded); every answer is the 503 or the one recorded shipment.
    let mut retry = a.ship(&t, Some("slow-1"), &order("Slow Sdn Bhd", 3)).await;
    for _ in 0..50 {
        if retry.status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        retry = a.ship(&t, Some("slow-1"), &order("Slow Sdn Bhd", 3)).await;
    }
    assert_eq!(retry.status, 200, "{:?}", retry.body);
    assert!(
        retry.replayed,
        "the retry finds the shipment the timed-out request queued"
    );
    assert_eq!(retry.body["status"], "authorized");
    let lpp = AccountRef::LppAnnual {
        party: PartyId::of("Slow Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key("acme");
    let mut ledger = Ledger::open(&a.db).expect("ledger");
    assert_eq!(
        ledger.account(&lpp).expect("lpp").posted,
        3 * 15_832,
        "recorded once"
    );
}
