//! The shipment register over HTTP, in process: `GET /v1/shipments` (filters, keyset pages,
//! parameters named in 400s), `GET /v1/shipments/{id}` and `GET /v1/shipments/{id}/record` in
//! every format, scoped to the token's tenant (another tenant's id is 404), and the OpenAPI
//! document listing them.

mod common;

use std::sync::Arc;

use aidf_core::Policy;
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
    content_type: String,
    bytes: Vec<u8>,
    body: Value,
}

fn api(tag: &str) -> Api {
    let (dir, db) = common::scratch("register", tag);
    let policy = Policy::embedded().expect("policy");
    let auditor = common::auditor(&db);
    let mut state = AppState::new(policy, &db, false, auditor).expect("state");
    state.ship_config.backdate_window_days = 36_500;
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
        body: Option<(&str, &str)>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        let mut text = String::new();
        if let Some((key, b)) = body {
            req = req.header("idempotency-key", key);
            text = b.to_string();
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(text)).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            bytes,
            body,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, token, None).await
    }

    /// Ships to `name` in `dest`; returns the stored shipment id.
    async fn ship(&self, token: &str, key: &str, name: &str, dest: &str, date: &str) -> String {
        let body = serde_json::json!({
            "date": date, "destination": dest,
            "consignee": {"name": name, "hq": dest},
            "item": {"chip": "H100 SXM"}, "quantity": 10,
        })
        .to_string();
        let a = self
            .call("POST", "/v1/shipments", token, Some((key, &body)))
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        a.body["shipment_id"].as_str().expect("id").to_string()
    }
}

fn ids(a: &Answer) -> Vec<String> {
    a.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["shipment_id"].as_str().expect("id").to_string())
        .collect()
}

/// Tenant `acme`: MY (authorized), CN to a Han name (refused), MY again; tenant `beta`: one.
async fn seeded(a: &Api) -> (String, String, Vec<String>) {
    let acme = a.token("acme", "officer");
    let beta = a.token("beta", "exporter");
    let s1 = a.ship(&acme, "k1", "X Sdn Bhd", "MY", "2025-06-01").await;
    let s2 = a
        .ship(&acme, "k2", "华为技术有限公司", "CN", "2025-06-02")
        .await;
    let s3 = a
        .ship(&acme, "k3", "Beta Systems", "MY", "2025-06-03")
        .await;
    a.ship(&beta, "k1", "X Sdn Bhd", "MY", "2025-06-01").await;
    (acme, beta, vec![s1, s2, s3])
}

#[tokio::test]
async fn list_filters_pages_and_scopes_to_the_tenant() {
    let a = api("list");
    let (acme, beta, s) = seeded(&a).await;
    let all = a.get("/v1/shipments", &acme).await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(ids(&all), [s[2].clone(), s[1].clone(), s[0].clone()]);
    assert!(all.body["next"].is_null());
    assert_eq!(
        ids(&a.get("/v1/shipments", &beta).await).len(),
        1,
        "beta sees its own only"
    );
    let refused = a.get("/v1/shipments?status=refused", &acme).await;
    assert_eq!(ids(&refused), [s[1].clone()]);
    let han = a
        .get("/v1/shipments?consignee=%E5%8D%8E%E4%B8%BA%E6%8A%80%E6%9C%AF%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8", &acme)
        .await;
    assert_eq!(ids(&han), [s[1].clone()]);
    let my = a
        .get(
            "/v1/shipments?country=MY&from=2025-06-02&to=2025-06-30",
            &acme,
        )
        .await;
    assert_eq!(ids(&my), [s[2].clone()]);
    let first = a.get("/v1/shipments?limit=2", &acme).await;
    assert_eq!(ids(&first), [s[2].clone(), s[1].clone()]);
    let next = first.body["next"].as_str().expect("next");
    let second = a
        .get(&format!("/v1/shipments?limit=2&after={next}"), &acme)
        .await;
    assert_eq!(ids(&second), [s[0].clone()]);
    assert!(second.body["next"].is_null());
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let a = api("bad");
    let t = a.token("acme", "viewer");
    for (query, field) in [
        ("status=maybe", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("after=zz", "after"),
        ("country=Malaysia", "country"),
        ("from=2025-02-30", "from"),
        ("to=soon", "to"),
    ] {
        let r = a.get(&format!("/v1/shipments?{query}"), &t).await;
        assert_eq!(r.status, 400, "{query}: {:?}", r.body);
        assert!(
            r.content_type.starts_with("application/problem+json"),
            "{query}"
        );
        assert_eq!(r.body["field"], field, "{query}: {:?}", r.body);
    }
    let r = a.get("/v1/shipments/x/record?format=docx", &t).await;
    assert_eq!(
        (r.status.as_u16(), r.body["field"].as_str()),
        (400, Some("format"))
    );
}

#[tokio::test]
async fn show_and_record_in_every_format_and_404_across_tenants() {
    let a = api("record");
    let (acme, beta, s) = seeded(&a).await;
    let shown = a.get(&format!("/v1/shipments/{}", s[1]), &acme).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["summary"]["status"], "refused");
    for path in [
        format!("/v1/shipments/{}", s[1]),
        format!("/v1/shipments/{}/record", s[1]),
    ] {
        let other = a.get(&path, &beta).await;
        assert_eq!(other.status, 404, "{path}: {:?}", other.body);
    }
    assert_eq!(a.get("/v1/shipments/acme.nope", &acme).await.status, 404);
    let json = a
        .get(&format!("/v1/shipments/{}/record", s[1]), &acme)
        .await;
    assert_eq!(json.status, 200, "{:?}", json.body);
    assert!(json.content_type.starts_with("application/json"));
    let reasons = json.body["reasons"].as_array().expect("reasons").clone();
    assert!(!reasons.is_empty());
    let html = a
        .get(&format!("/v1/shipments/{}/record?format=html", s[1]), &acme)
        .await;
    assert!(html.content_type.starts_with("text/html"));
    let page = String::from_utf8(html.bytes).expect("utf8");
    assert!(page.contains("华为技术有限公司"));
    for r in &reasons {
        let cite = r["citation"].as_str().expect("citation");
        let esc = cite
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            page.contains(&esc.replace('"', "&quot;").replace('\'', "&#39;")),
            "{cite}"
        );
    }
    let pdf = a
        .get(&format!("/v1/shipments/{}/record?format=pdf", s[1]), &acme)
        .await;
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn openapi_lists_the_register() {
    let a = api("openapi");
    let t = a.token("acme", "viewer");
    let doc = a.get("/openapi.json", &t).await;
    let paths = &doc.body["paths"];
    assert!(paths["/v1/shipments"]["get"].is_object());
    assert!(paths["/v1/shipments"]["post"].is_object());
    assert!(paths["/v1/shipments/{id}"]["get"].is_object());
    let record = &paths["/v1/shipments/{id}/record"]["get"]["responses"]["200"]["content"];
    for ct in ["application/json", "text/html", "application/pdf"] {
        assert!(record[ct].is_object(), "{ct}: {record}");
    }
}

/// `GET /v1/reports/due`: nothing before the tenant records a VEU; then the VEU report of the
/// ended half (overdue after 15 July) and of the current one; `due` is not taken for a report
/// name; a bad `as_of` is a 400 naming it; the OpenAPI document declares the route.
#[tokio::test]
async fn reports_due_for_the_tenant() {
    let a = api("due");
    let acme = a.token("acme", "officer");
    let beta = a.token("beta", "officer");
    let none = a.get("/v1/reports/due?as_of=2025-08-01", &acme).await;
    assert_eq!(
        (none.status, none.body.clone()),
        (StatusCode::OK, serde_json::json!([]))
    );
    let veu = r#"{"id":"UVEU-1","kind":"uveu","owner":"BigCloud Inc","hq":"US","sites":[{"id":"kl-1","country":"MY"}]}"#;
    let added = a.call("POST", "/v1/veus", &acme, Some(("v1", veu))).await;
    assert_eq!(added.status, StatusCode::OK, "{:?}", added.body);
    let due = a.get("/v1/reports/due?as_of=2025-08-01", &acme).await;
    assert_eq!(due.status, StatusCode::OK, "{:?}", due.body);
    let rows: Vec<(String, String, String, String)> = due
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().expect(k).to_string();
            (s("report"), s("period"), s("due"), s("status"))
        })
        .collect();
    let want = [
        ("veu-semiannual", "2025-H1", "2025-07-15", "overdue"),
        ("veu-semiannual", "2025-H2", "2026-01-15", "upcoming"),
    ]
    .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()));
    assert_eq!(rows, want.to_vec());
    assert_eq!(due.body[0]["reason"], "VEU recorded in the ledger: UVEU-1");
    let other = a.get("/v1/reports/due?as_of=2025-08-01", &beta).await;
    assert_eq!(other.body, serde_json::json!([]), "another tenant's VEU");
    let bad = a.get("/v1/reports/due?as_of=2025-13-01", &acme).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.content_type.starts_with("application/problem+json"));
    assert_eq!(bad.body["field"], "as_of");
    let doc = a.get("/openapi.json", &acme).await;
    assert!(doc.body["paths"]["/v1/reports/due"]["get"].is_object());
}
