//! Screening decisions and thresholds over HTTP, in process: a possible hit holds the tenant's
//! determinations and shipments until an officer decides each of its hits (`POST
//! /v1/screen/decisions`, audited, listed by `GET`); an admin's thresholds (`PUT
//! /v1/screen/thresholds`) are the ones the tenant's screening uses, other tenants keep theirs;
//! bad input is 4xx naming the field; the OpenAPI document declares the routes.

mod common;

use std::sync::Arc;

use aidf_core::Policy;
use aidf_ledger::{Ledger, LedgerStore};
use aidf_server::{AppState, router};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

const SIBLING: &str = "Huawei Technologies Research Co., Ltd.";

struct Api {
    app: Router,
    db: String,
    _dir: common::Scratch,
}

fn api(tag: &str) -> Api {
    let (dir, db) = common::scratch("screening", tag);
    let policy = Policy::embedded().expect("policy");
    let mut state = AppState::new(policy, &db, false, common::auditor(&db)).expect("state");
    state.ship_config.backdate_window_days = 36_500;
    Api {
        app: router(Arc::new(state)),
        db,
        _dir: dir,
    }
}

impl Api {
    async fn call(&self, method: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("response");
        let status = resp.status().as_u16();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn determine(&self, token: &str) -> Value {
        let (status, body) = self
            .call("POST", "/v1/determinations", token, &order())
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn order() -> Value {
    json!({"date": "2025-06-01", "destination": "SG",
        "consignee": {"name": SIBLING, "hq": "CN"}, "item": {"chip": "L20"}, "quantity": 10})
}

/// `POST /v1/screen` of the sibling, as `token` sees it.
async fn screen_sibling(a: &Api, token: &str) -> Value {
    let (status, body) = a
        .call(
            "POST",
            "/v1/screen",
            token,
            &json!({"name": SIBLING, "country": "CN"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Every hit of the sibling as `LIST:ID`, from `POST /v1/screen`.
async fn every_hit(a: &Api, token: &str) -> Vec<String> {
    screen_sibling(a, token).await["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            let list = h["entry"]["list_code"].as_str().expect("list");
            format!("{list}:{}", h["entry_id"].as_str().expect("entry_id"))
        })
        .collect()
}

#[tokio::test]
async fn a_screen_reports_each_hits_entry_id_and_the_tenants_decision_on_it() {
    let a = api("screen-decision");
    let officer = common::token(&a.db, "acme", "officer");
    let other = common::token(&a.db, "beta", "officer");
    let before = screen_sibling(&a, &officer).await;
    let first = &before["hits"][0];
    // The Entity List publishes no ids: the entry's id is its name as published.
    assert_eq!(first["entry_id"], first["entry"]["name"], "{first}");
    assert!(first.get("decision").is_none(), "{first}");

    let entry = every_hit(&a, &officer).await.remove(0);
    let body = json!({"party": SIBLING, "entry": entry, "decision": "not_the_same_party", "reason": "a research arm, not listed"});
    let (status, recorded) = a
        .call("POST", "/v1/screen/decisions", &officer, &body)
        .await;
    assert_eq!(status, 200, "{recorded}");

    let after = screen_sibling(&a, &officer).await;
    let decision = &after["hits"][0]["decision"];
    assert_eq!(decision["id"], recorded["id"], "{decision}");
    assert_eq!(decision["applied"], true, "{decision}");
    assert_eq!(decision["reason"], "a research arm, not listed");
    assert!(
        after["hits"][1].get("decision").is_none(),
        "only the entry decided on"
    );
    let elsewhere = screen_sibling(&a, &other).await;
    assert!(
        elsewhere["hits"][0].get("decision").is_none(),
        "another tenant's screen: {}",
        elsewhere["hits"][0]
    );
}

#[tokio::test]
async fn decisions_clear_the_hold_for_the_tenant_only() {
    let a = api("decisions");
    let exporter = common::token(&a.db, "acme", "exporter");
    let officer = common::token(&a.db, "acme", "officer");
    let other = common::token(&a.db, "beta", "exporter");
    assert_eq!(
        a.determine(&exporter).await["screening"]["hold_for_review"],
        true
    );

    let entries = every_hit(&a, &officer).await;
    let decide = |entry: &str, reason: &str| json!({"party": SIBLING, "entry": entry, "decision": "not_the_same_party", "reason": reason});
    let (status, body) = a
        .call(
            "POST",
            "/v1/screen/decisions",
            &exporter,
            &decide(&entries[0], "r"),
        )
        .await;
    assert_eq!(status, 403, "an exporter may not decide: {body}");
    for entry in &entries {
        let (status, body) = a
            .call(
                "POST",
                "/v1/screen/decisions",
                &officer,
                &decide(entry, "a subsidiary"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["decision"], "not_the_same_party");
        assert!(
            body["entry_fingerprint"]
                .as_str()
                .is_some_and(|f| f.starts_with("sha256:"))
        );
    }

    let answer = a.determine(&exporter).await;
    let screening = &answer["screening"];
    assert_eq!(screening["hold_for_review"], false, "{screening}");
    assert_eq!(
        screening["parties"][0]["hits"][0]["decision"]["applied"],
        true
    );
    assert_eq!(
        screening["parties"][0]["hits"][0]["decision"]["reason"],
        "a subsidiary"
    );
    let (status, shipped) = a.call("POST", "/v1/shipments", &exporter, &order()).await;
    assert_eq!(status, 200, "{shipped}");
    assert_ne!(shipped["status"], "refused", "{shipped}");
    assert_eq!(
        a.determine(&other).await["screening"]["hold_for_review"],
        true
    );

    let (status, listed) = a
        .call("GET", "/v1/screen/decisions", &exporter, &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().expect("array").len(), entries.len());
    let (_, none) = a
        .call("GET", "/v1/screen/decisions", &other, &Value::Null)
        .await;
    assert_eq!(none, json!([]));

    for (body, field) in [
        (decide(&entries[0], " "), "reason"),
        (decide("EL:nobody at all", "r"), "entry"),
        (decide("no colon", "r"), "entry"),
    ] {
        let (status, problem) = a
            .call("POST", "/v1/screen/decisions", &officer, &body)
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let bad_kind =
        json!({"party": SIBLING, "entry": entries[0], "decision": "maybe", "reason": "r"});
    let (status, _) = a
        .call("POST", "/v1/screen/decisions", &officer, &bad_kind)
        .await;
    assert!((400..500).contains(&status), "{status}");

    let mut ledger = Ledger::open(&a.db).expect("open");
    common::auditor(&a.db).drain(&mut ledger).expect("drain");
    let audited = ledger
        .audit_records("acme", 10_000)
        .expect("records")
        .into_iter()
        .filter(|r| r.action == "screening.decision" && r.subject.starts_with("acme/"))
        .count();
    assert_eq!(audited, entries.len(), "each decision audited in its write");
}

#[tokio::test]
async fn an_admins_thresholds_are_the_tenants() {
    let a = api("thresholds");
    let admin = common::token(&a.db, "acme", "admin");
    let officer = common::token(&a.db, "acme", "officer");
    let other = common::token(&a.db, "beta", "exporter");
    let (status, shown) = a
        .call("GET", "/v1/screen/thresholds", &officer, &Value::Null)
        .await;
    assert_eq!((status, shown["source"].as_str()), (200, Some("default")));
    let set = json!({"clear": 1, "possible": "0.99"});
    let (status, _) = a.call("PUT", "/v1/screen/thresholds", &officer, &set).await;
    assert_eq!(status, 403, "an officer may not set them");
    let (status, body) = a.call("PUT", "/v1/screen/thresholds", &admin, &set).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["clear"].as_str(), body["possible"].as_str()),
        (Some("1"), Some("0.99"))
    );

    let answer = a.determine(&officer).await;
    assert_eq!(answer["screening"]["hold_for_review"], false, "{answer}");
    assert_eq!(answer["screening"]["thresholds"]["possible"], 0.99);
    let (_, screened) = a
        .call(
            "POST",
            "/v1/screen",
            &officer,
            &json!({"name": SIBLING, "country": "CN"}),
        )
        .await;
    assert_eq!(screened["verdict"], "no_match", "{screened}");
    assert_eq!(
        a.determine(&other).await["screening"]["hold_for_review"],
        true
    );

    for (body, field) in [
        (json!({"clear": 0.5, "possible": 0.6}), "possible"),
        (json!({"clear": "1.5", "possible": 0.6}), "clear"),
        (json!({"clear": 0.9, "possible": "x"}), "possible"),
    ] {
        let (status, problem) = a.call("PUT", "/v1/screen/thresholds", &admin, &body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (status, _) = a
        .call(
            "PUT",
            "/v1/screen/thresholds",
            &admin,
            &json!({"clear": 0.9}),
        )
        .await;
    assert!((400..500).contains(&status));
}

#[tokio::test]
async fn openapi_declares_the_screening_routes() {
    let a = api("openapi");
    let t = common::token(&a.db, "acme", "viewer");
    let (_, doc) = a.call("GET", "/openapi.json", &t, &Value::Null).await;
    let paths = &doc["paths"];
    assert!(paths["/v1/screen/decisions"]["post"].is_object());
    assert!(paths["/v1/screen/decisions"]["get"].is_object());
    assert!(paths["/v1/screen/thresholds"]["get"].is_object());
    assert!(paths["/v1/screen/thresholds"]["put"].is_object());
    // A PUT answers problems like every other route, and says so (schemathesis checks it).
    for code in ["400", "401", "403", "422"] {
        assert!(
            paths["/v1/screen/thresholds"]["put"]["responses"][code].is_object(),
            "{code}"
        );
    }
}

/// A body that is not JSON is one plain line, not the parser's wording.
#[tokio::test]
async fn a_body_that_is_not_json_is_named_plainly() {
    let a = api("syntax");
    let admin = common::token(&a.db, "acme", "admin");
    for (body, detail) in [
        ("", "the request body is empty; expected a JSON object"),
        (
            "{",
            "invalid JSON: the document ends early (line 1, column 1)",
        ),
        (
            "{x}",
            "invalid JSON: key must be a string (line 1, column 2)",
        ),
    ] {
        let req = Request::builder()
            .method("PUT")
            .uri("/v1/screen/thresholds")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let resp = a.app.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status().as_u16(), 400, "{body:?}");
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        let problem: Value = serde_json::from_slice(&bytes).expect("problem");
        assert_eq!(problem["detail"], detail, "{body:?}");
    }
}
