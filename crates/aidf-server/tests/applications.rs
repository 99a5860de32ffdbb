//! License applications and license changes over HTTP, in process (`tower::ServiceExt::oneshot`):
//! tenant-scoped, 409 naming both states for a refused transition, 400/422 naming the field, and
//! the issue's flow under the issuance reading of `allocation_consumption_event`.

mod common;

use std::sync::Arc;

use aidf_core::{Policy, PolicySources};
use aidf_server::{AppState, router};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    app: Router,
    db: String,
    _dir: common::Scratch,
}

fn issuance_policy() -> Policy {
    let mut src = PolicySources::embedded();
    for (_, text) in &mut src.regimes {
        *text = text.replace(
            "[switches.allocation_consumption_event]\nvalue = \"shipped\"",
            "[switches.allocation_consumption_event]\nvalue = \"license_issued\"",
        );
    }
    Policy::from_sources(&src).expect("policy")
}

fn api(tag: &str) -> Api {
    let (dir, db) = common::scratch("apps", tag);
    let auditor = common::auditor(&db);
    let state = AppState::new(issuance_policy(), &db, false, auditor).expect("state");
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

    async fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
        let (status, _, bytes) = self.raw(method, path, token, body).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Status, content type and body bytes.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, String, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        (status, kind, bytes.to_vec())
    }
}

fn application(id: &str) -> String {
    json!({"id": id, "date": "2025-06-02", "destination": "AE",
        "consignee": {"name": "Gulf Compute LLC", "hq": "AE", "parent_hq": "AE", "veu": null},
        "items": [{"chip": "NVIDIA H100 SXM", "quantity": 50000}],
        "value_usd": "1250000000.00", "end_use": "deployment"})
    .to_string()
}

#[tokio::test]
async fn applications_over_http() {
    let api = api("flow");
    let a = api.token("acme", "officer");
    let b = api.token("other", "officer");
    let viewer = api.token("acme", "viewer");
    // The UAE's government-to-government arrangement (global data) doubles its 790,000,000 TPP
    // allocation: 50,000 H100 (791,600,000 TPP) fit it, and a second 50,000 pass it.
    let global = api.token("ops", "global_admin");
    let (s, v) = api
        .call(
            "POST",
            "/v1/g2g",
            &global,
            r#"{"country":"AE","date":"2025-01-15"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = api
        .call("POST", "/v1/applications", &a, &application("APP-1"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["application"]["id"], "APP-1");
    assert_eq!(v["application"]["review_policy"], "approval", "{v}");
    assert_eq!(v["application"]["allocation"]["held_tpp"], 791_600_000u64);
    let (s, v) = api
        .call("POST", "/v1/applications", &a, &application("APP-2"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["application"]["review_policy"], "denial");
    assert_eq!(v["application"]["allocation"]["held_by"][0]["id"], "APP-1");

    // Tenant-scoped: another tenant sees none of them; the same id is its own.
    let (s, _) = api.call("GET", "/v1/applications/APP-1", &b, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = api.call("GET", "/v1/applications", &b, "").await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, v) = api.call("GET", "/v1/applications", &viewer, "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    let (s, _) = api
        .call("POST", "/v1/applications", &viewer, &application("APP-3"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = api
        .call("POST", "/v1/applications", &a, &application("APP-1"))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let approve = json!({"decision": "approve", "date": "2025-06-10", "license_id": "L-1",
        "conditions": [{"kind": "end_user_unchanged"}]});
    let (s, v) = api
        .call(
            "POST",
            "/v1/applications/APP-1/decision",
            &a,
            &approve.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["application"]["state"], "approved");
    assert_eq!(
        v["transitions"][1]["actor"].as_str().map(str::is_empty),
        Some(false)
    );
    let (s, v) = api.call("GET", "/v1/licenses/L-1", &a, "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["license"]["allocation_drawn"], "country:AE:2025-2027");
    // Its value (and the 15 CFR 750.11 tolerance) is a capped account in US cents; a shipment
    // with a value draws it, one past it is not covered by the license.
    assert_eq!(v["value_cents"]["cap"], 137_500_000_000u64, "{v}");
    let valued = |value: &str| {
        json!({"date": "2025-06-12", "destination": "AE",
            "consignee": {"name": "Gulf Compute LLC", "hq": "AE"},
            "item": {"chip": "NVIDIA H100 SXM"}, "quantity": 2000, "value_usd": value})
        .to_string()
    };
    let (s, v) = api
        .call("POST", "/v1/shipments", &a, &valued("1375000000.00"))
        .await;
    assert_eq!(
        (s, &v["status"]),
        (StatusCode::OK, &json!("authorized")),
        "{v}"
    );
    let (s, v) = api.call("POST", "/v1/shipments", &a, &valued("0.01")).await;
    assert_eq!(
        (s, &v["status"]),
        (StatusCode::OK, &json!("refused")),
        "{v}"
    );
    assert!(
        v["refusal"]
            .as_str()
            .is_some_and(|r| r.contains("shipping tolerance of 15 CFR 750.11(b)")),
        "{v}"
    );
    let (s, v) = api
        .call("POST", "/v1/shipments", &a, &valued("1.234"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "value_usd", "{v}");

    // The application's compliance record: the tenant's own, in the formats of a shipment's.
    let (s, v) = api
        .call("GET", "/v1/applications/APP-1/record?format=json", &a, "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["application"]["state"], "approved", "{v}");
    assert_eq!(v["transitions"][1]["license_id"], "L-1", "{v}");
    let (s, _) = api
        .call("GET", "/v1/applications/APP-1/record", &b, "")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = api
        .call("GET", "/v1/applications/APP-1/record?format=docx", &a, "")
        .await;
    assert_eq!(
        (s, v["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("format")),
        "{v}"
    );

    let deny = json!({"decision": "deny", "date": "2025-06-11"}).to_string();
    let (s, v) = api
        .call("POST", "/v1/applications/APP-1/decision", &a, &deny)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("from `approved` to `denied`"), "{v}");

    let (s, v) = api
        .call(
            "POST",
            "/v1/applications/APP-2/decision",
            &a,
            r#"{"decision":"maybe","date":"2025-06-11"}"#,
        )
        .await;
    assert_eq!(
        (s, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("decision")),
        "{v}"
    );
    let (s, v) = api
        .call(
            "POST",
            "/v1/applications/APP-2/decision",
            &a,
            r#"{"decision":"deny"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let (s, v) = api
        .call(
            "POST",
            "/v1/licenses/L-1/changes",
            &a,
            r#"{"kind":"revoke","date":"2025-06-12"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["id"].clone(), v["status"].clone()),
        (json!("L-1"), json!("revoked"))
    );
    let (s, v) = api
        .call(
            "POST",
            "/v1/licenses/L-1/changes",
            &a,
            r#"{"kind":"reinstate","date":"2025-06-12"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = api
        .call(
            "POST",
            "/v1/licenses/L-1/changes",
            &b,
            r#"{"kind":"suspend","date":"2025-06-12"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Item 4: processing times from the dated transitions, per tenant; a bad date names `as_of`.
    let (s, v) = api
        .call("GET", "/v1/applications/stats?as_of=2025-12-31", &a, "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["as_of"], "2025-12-31", "{v}");
    assert!(v["applications"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert!(v["pending_by_age"].is_array(), "{v}");
    let (s, v) = api.call("GET", "/v1/applications/stats", &b, "").await;
    assert_eq!((s, v["applications"].clone()), (StatusCode::OK, json!(0)));
    let (s, v) = api
        .call("GET", "/v1/applications/stats?as_of=31/12/2025", &a, "")
        .await;
    assert_eq!(
        (s, v["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("as_of")),
        "{v}"
    );
}

#[tokio::test]
async fn bad_applications_name_the_field() {
    let api = api("bad");
    let a = api.token("acme", "officer");
    let cases = [
        (r#"{"id":"A"}"#, StatusCode::BAD_REQUEST, None),
        (
            r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":0}],"value_usd":"1"}"#,
            StatusCode::BAD_REQUEST,
            Some("items[0].quantity"),
        ),
        (
            r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":1,"x":1}],"value_usd":"1"}"#,
            StatusCode::BAD_REQUEST,
            Some("items[0].x"),
        ),
        (
            r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"no such chip","quantity":1}],"value_usd":"1"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("items[0].chip"),
        ),
        (
            r#"{"id":"A","date":"2025-06-02","destination":"ZZ","consignee":{"name":"X","hq":"AE"},"items":[{"chip":"H100","quantity":1}],"value_usd":"1"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("destination"),
        ),
        (
            r#"{"id":"A","date":"2025-06-02","destination":"AE","consignee":{"name":"X","hq":"QQ"},"items":[{"chip":"H100","quantity":1}],"value_usd":"1"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("consignee.hq"),
        ),
        ("{", StatusCode::BAD_REQUEST, None),
    ];
    for (body, status, field) in cases {
        let (s, v) = api.call("POST", "/v1/applications", &a, body).await;
        assert_eq!(s, status, "{body}: {v}");
        if let Some(f) = field {
            assert_eq!(v["field"], f, "{body}: {v}");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_routes() {
    let api = api("doc");
    let req = Request::builder()
        .uri("/openapi.json")
        .body(Body::empty())
        .expect("req");
    let resp = api.app.clone().oneshot(req).await.expect("resp");
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let doc: Value = serde_json::from_slice(&bytes).expect("json");
    for path in [
        "/v1/applications",
        "/v1/applications/stats",
        "/v1/applications/{id}",
        "/v1/applications/{id}/decision",
        "/v1/licenses/{id}/changes",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    let decision = &doc["paths"]["/v1/applications/{id}/decision"]["post"]["responses"];
    assert!(decision["409"].is_object() && decision["422"].is_object());
}

/// Issue 15, item 7: reports to BIS over HTTP, per tenant, as JSON, CSV or PDF; the NAC
/// notification of a recorded shipment, the tenant's only; bad parameters named.
#[tokio::test]
async fn reports_over_http_are_the_tenants_own() {
    let api = api("reports");
    let a = api.token("acme", "officer");
    let b = api.token("other", "officer");
    let ship = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"Consignee 1 Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#;
    let (s, v) = api.call("POST", "/v1/shipments", &a, ship).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .call("GET", "/v1/reports/lpp-certifications?period=2025", &a, "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "lpp-certifications");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["rows"][0][0], "Consignee 1 Sdn Bhd");
    assert_eq!(v["rows"][0][3], "158320");
    let (s, v) = api
        .call("GET", "/v1/reports/lpp_certifications?period=2025", &b, "")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(0), "{v}");
    let (s, v) = api
        .call(
            "GET",
            "/v1/reports/lpp-certifications?period=2025&format=csv",
            &a,
            "",
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, Value::Null), "CSV, not JSON");
    let (s, kind, pdf) = api
        .raw(
            "GET",
            "/v1/reports/lpp-certifications?period=2025&format=pdf",
            &a,
            "",
        )
        .await;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let nac = r#"{"date":"2025-06-01","destination":"CN","consignee":{"name":"Shenzhen Gaming Ltd","hq":"CN"},"item":{"chip":"nvidia-rtx-4090"},"quantity":100}"#;
    let (s, v) = api.call("POST", "/v1/shipments", &a, nac).await;
    assert_eq!(
        (s, v["determination"]["authorization"].as_str()),
        (StatusCode::OK, Some("NAC")),
        "{v}"
    );
    let id = v["shipment_id"].as_str().expect("id").to_string();
    let path = format!("/v1/reports/nac-notification?shipment={id}&as_of=2025-05-01");
    let (s, v) = api.call("GET", &path, &a, "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["tenant"], "acme");
    assert_eq!(
        v["due"], "2025-05-07",
        "25 days before the shipment date: {v}"
    );
    let earliest = v["rows"].as_array().and_then(|rows| {
        rows.iter().find(|r| {
            r[0].as_str()
                .is_some_and(|l| l.starts_with("Earliest ship date"))
        })
    });
    assert_eq!(
        earliest.map(|r| r[1].clone()),
        Some("2025-05-26".into()),
        "{v}"
    );
    let (s, v) = api.call("GET", &path, &b, "").await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::NOT_FOUND, Some("shipment")),
        "another tenant's shipment: {v}"
    );
    for (path, status, field) in [
        (
            "/v1/reports/veu-semiannual?period=2025",
            StatusCode::BAD_REQUEST,
            "period",
        ),
        (
            "/v1/reports/veu-semiannual?period=2025-H9",
            StatusCode::BAD_REQUEST,
            "period",
        ),
        (
            "/v1/reports/aia-certifications?as_of=soon",
            StatusCode::BAD_REQUEST,
            "as_of",
        ),
        (
            "/v1/reports/aia-certifications?format=xml",
            StatusCode::BAD_REQUEST,
            "format",
        ),
        ("/v1/reports/everything", StatusCode::NOT_FOUND, "name"),
        (
            "/v1/reports/nac-notification",
            StatusCode::BAD_REQUEST,
            "shipment",
        ),
        (
            "/v1/reports/nac-notification?shipment=acme.none",
            StatusCode::NOT_FOUND,
            "shipment",
        ),
    ] {
        let (s, v) = api.call("GET", path, &a, "").await;
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{path}: {v}"
        );
    }
}
