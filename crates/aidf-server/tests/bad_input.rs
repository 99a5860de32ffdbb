//! Issue 16 over HTTP, in process (`oneshot`): a bad determination input gets a problem+json
//! whose `field` names the field and whose `detail` is the CLI's line, without parser internals.

mod common;

use std::sync::Arc;

use aidf_core::Policy;
use aidf_server::{AppState, router};
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

const GOOD: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"Acme","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#;

fn changed(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[tokio::test]
async fn bad_input_problems_name_field_and_value() {
    let (_dir, db) = common::scratch("bad-input", "problems");
    let policy = Policy::embedded().expect("policy");
    let state = AppState::new(policy, &db, false, common::auditor(&db)).expect("state");
    let app = router(Arc::new(state));
    let token = common::token(&db, "acme", "exporter");
    let max = i64::MAX;
    let cases: Vec<(String, StatusCode, Value, String)> = vec![
        (
            changed("2025-06-01", "01/06/2025"),
            StatusCode::BAD_REQUEST,
            "date".into(),
            "field `date`: `01/06/2025` is not a date; expected YYYY-MM-DD".into(),
        ),
        (
            changed("2025-06-01", "2025-02-30"),
            StatusCode::BAD_REQUEST,
            "date".into(),
            "field `date`: `2025-02-30` is not a calendar date".into(),
        ),
        (
            changed("\"quantity\":10", "\"quantity\":1e9"),
            StatusCode::BAD_REQUEST,
            "quantity".into(),
            format!(
                "field `quantity`: `1e9` is not a whole number of units; expected an integer from 1 to {max}"
            ),
        ),
        (
            changed("\"chip\":\"H100 SXM\"", "\"chip\":42"),
            StatusCode::BAD_REQUEST,
            "item.chip".into(),
            "field `item.chip`: `42` is not a string".into(),
        ),
        (
            "[]".into(),
            StatusCode::BAD_REQUEST,
            Value::Null,
            "the input must be a JSON object (a determination input), not an array".into(),
        ),
    ];
    for path in ["/v1/determinations?screen=false", "/v1/shipments"] {
        for (body, status, field, detail) in &cases {
            let req = Request::post(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body.clone()))
                .expect("request");
            let resp = app.clone().oneshot(req).await.expect("response");
            let got_status = resp.status();
            let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
            let v: Value = serde_json::from_slice(&bytes).expect("problem+json");
            assert_eq!(got_status, *status, "{path} {body}: {v}");
            assert_eq!(v["field"], *field, "{path} {body}: {v}");
            assert_eq!(v["detail"], detail.as_str(), "{path} {body}: {v}");
        }
    }
}

/// A record write whose body cannot be read (here: a number where the units go, then a body cut
/// short) is answered by the handler, not the extractor: a plain problem naming the field, and a
/// failed `license.add` in the audit log like any other refused write.
#[tokio::test]
async fn an_unreadable_record_body_is_a_plain_problem_and_is_audited() {
    let (_dir, db) = common::scratch("bad-input", "record-body");
    let policy = Policy::embedded().expect("policy");
    let state = AppState::new(policy, &db, false, common::auditor(&db)).expect("state");
    let app = router(Arc::new(state));
    let token = common::token(&db, "acme", "officer");
    let bodies = [
        (
            r#"{"id":"L-1","consignee":"X","destination":"MY","units":"ten","tpp":1,"granted":"2025-01-01","expires":"2026-01-01"}"#,
            Value::from("units"),
            "field `units`: expected a whole number",
        ),
        (
            r#"{"id":"L-1", "#,
            Value::Null,
            "invalid JSON: the document ends early",
        ),
    ];
    for (body, field, detail) in bodies {
        let req = Request::post("/v1/licenses")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        let problem: Value = serde_json::from_slice(&bytes).expect("problem+json");
        assert_eq!(problem["field"], field, "{problem}");
        let text = problem["detail"].as_str().unwrap_or_default();
        assert!(text.starts_with(detail), "{problem}");
        assert!(!text.contains("invalid type"), "{problem}");
    }
    let req = Request::get("/v1/audit?limit=10")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let records: Value = serde_json::from_slice(&bytes).expect("audit json");
    let refused = records
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["action"] == "license.add")
        .count();
    assert_eq!(refused, 2, "{records}");
}
