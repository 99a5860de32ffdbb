//! Issue 16: the OpenAPI document is generated from the types the handlers return, so every
//! response body must match the schema the document declares for it: the same property names,
//! the same JSON types and values, every required field present. Checked in process (`oneshot`)
//! over a realistic flow that calls every JSON endpoint, against the document `/openapi.json`
//! serves; and no 200 response may be declared as a bare object but the few truly free-form ones.

mod common;

use std::sync::Arc;

use aidf_core::Policy;
use aidf_server::{AppState, router};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("json"))
}

/// The JSON type names a value has, as a JSON Schema `type` writes them.
fn json_types(v: &Value) -> &'static [&'static str] {
    match v {
        Value::Null => &["null"],
        Value::Bool(_) => &["boolean"],
        Value::Number(n) if n.is_i64() || n.is_u64() => &["integer", "number"],
        Value::Number(_) => &["number"],
        Value::String(_) => &["string"],
        Value::Array(_) => &["array"],
        Value::Object(_) => &["object"],
    }
}

/// The schema `#/components/schemas/X` names, or `schema` itself.
fn resolve<'d>(doc: &'d Value, schema: &'d Value) -> &'d Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect("local $ref");
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "schema `{name}` is not in the document");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// `allOf` (a `#[serde(flatten)]`) merged into one object schema: every branch's properties and
/// required names.
fn merged(doc: &Value, branches: &[Value]) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for b in branches {
        let b = resolve(doc, b);
        if let Some(p) = b["properties"].as_object() {
            properties.extend(p.clone());
        }
        required.extend(b["required"].as_array().cloned().unwrap_or_default());
    }
    json!({"type": "object", "properties": properties, "required": required})
}

/// Whether a schema admits `null`: a `null` type, or a `null` branch of `oneOf`/`anyOf`.
fn nullable(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    let null_type = match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(ts) => ts.iter().any(|t| t == "null"),
        _ => false,
    };
    let null_branch = ["oneOf", "anyOf"].iter().any(|k| {
        schema[*k]
            .as_array()
            .is_some_and(|bs| bs.iter().any(|b| nullable(doc, b)))
    });
    null_type || null_branch
}

/// Every way `value` (at `path`) departs from `schema`: its type and enumerated values, its
/// property names (both ways: a property may be absent only when it is neither required nor
/// nullable, i.e. skipped when empty), its required fields, and the same for every property and
/// array item. An empty schema (`{}`) is free-form and admits any value.
fn mismatches(doc: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema["allOf"].as_array() {
        return mismatches(doc, &merged(doc, branches), value, path);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[key].as_array() {
            let fits = branches
                .iter()
                .any(|b| mismatches(doc, b, value, path).is_empty());
            return if fits {
                vec![]
            } else {
                vec![format!("{path}: `{value}` fits no branch of {key}")]
            };
        }
    }
    if schema.as_object().is_some_and(|o| o.is_empty()) {
        return vec![];
    }
    let mut out = Vec::new();
    let declared: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if declared.is_empty() {
        out.push(format!("{path}: the schema declares no type"));
    } else if !json_types(value).iter().any(|t| declared.contains(t)) {
        out.push(format!("{path}: `{value}` is not of type {declared:?}"));
    }
    if let Some(values) = schema["enum"].as_array()
        && !value.is_null()
        && !values.contains(value)
    {
        out.push(format!("{path}: `{value}` is not one of {values:?}"));
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Value::Object(fields) = value {
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        // A map (`BTreeMap`) declares its values under `additionalProperties`.
        let values = &schema["additionalProperties"];
        for (name, v) in fields.iter().filter(|(k, _)| !props.contains_key(*k)) {
            if values.is_object() {
                out.extend(mismatches(doc, values, v, &format!("{path}.{name}")));
            } else {
                out.push(format!("{path}.{name}: in the body, not in the schema"));
            }
        }
        for (name, sub) in &props {
            match fields.get(name) {
                Some(v) => out.extend(mismatches(doc, sub, v, &format!("{path}.{name}"))),
                None if nullable(doc, sub) || required.contains(&name.as_str()) => {
                    out.push(format!("{path}.{name}: in the schema, not in the body"))
                }
                None => {}
            }
        }
        for name in required.iter().filter(|n| !fields.contains_key(**n)) {
            out.push(format!("{path}.{name}: required, missing"));
        }
    }
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            out.extend(mismatches(
                doc,
                &schema["items"],
                item,
                &format!("{path}[{i}]"),
            ));
        }
    }
    out
}

/// The schema the document declares for the 200 response of `method path`.
fn response_schema<'d>(doc: &'d Value, path: &str, method: &str) -> &'d Value {
    let s =
        &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(
        !s.is_null(),
        "{method} {path}: no 200 application/json schema"
    );
    s
}

/// A server over a scratch ledger (shipping on past dates allowed), its ledger's path and the
/// document it serves at `/openapi.json`.
async fn served(tag: &str) -> (common::Scratch, String, Router, Value) {
    let (dir, db) = common::scratch("wire-schema", tag);
    let policy = Policy::embedded().expect("policy");
    let mut state = AppState::new(policy, &db, false, common::auditor(&db)).expect("state");
    state.ship_config.backdate_window_days = 36_500;
    let app = router(Arc::new(state));
    let req = Request::get("/openapi.json")
        .body(Body::empty())
        .expect("req");
    let (status, doc) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    (dir, db, app, doc)
}

#[tokio::test]
async fn classify_and_countries_bodies_match_their_declared_schemas() {
    let (_dir, db, app, doc) = served("bodies").await;
    let token = common::token(&db, "acme", "viewer");

    let classify_bodies = [
        json!({"chip": "H100 SXM", "date": "2025-06-01"}),
        json!({"tops": [1979], "bits": [8], "die_area_mm2": 814, "quantity": 8, "date": "2025-06-01"}),
        // Below every parameter, no die area: `pd`, `chip` and `eccn` are null.
        json!({"tops": [100], "bits": [8], "date": "2025-06-01"}),
    ];
    let mut checked = 0;
    for body in classify_bodies {
        let req = Request::post("/v1/classify")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, v) = call(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{body}: {v}");
        let schema = response_schema(&doc, "/v1/classify", "post");
        assert_eq!(
            mismatches(&doc, schema, &v, "$"),
            Vec::<String>::new(),
            "{body}: {v}"
        );
        checked += 1;
    }
    for query in [
        "date=2025-06-01",
        "date=2025-06-01&posture=as_enforced",
        "regime=ac-2023",
    ] {
        let req = Request::get(format!("/v1/countries?{query}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let (status, v) = call(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{query}: {v}");
        assert!(
            v["countries"].as_array().is_some_and(|c| c.len() > 200),
            "{query}"
        );
        let schema = response_schema(&doc, "/v1/countries", "get");
        assert_eq!(
            mismatches(&doc, schema, &v, "$"),
            Vec::<String>::new(),
            "{query}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn the_check_reports_a_missing_an_extra_and_a_mistyped_field() {
    let doc = json!({"components": {"schemas": {"R": {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "integer"}, "b": {"type": ["string", "null"]}}
    }}}});
    let schema = json!({"$ref": "#/components/schemas/R"});
    assert!(mismatches(&doc, &schema, &json!({"a": 1, "b": null}), "$").is_empty());
    assert_eq!(
        mismatches(&doc, &schema, &json!({"a": "1", "c": 2}), "$"),
        vec![
            "$.c: in the body, not in the schema",
            "$.a: `\"1\"` is not of type [\"integer\"]",
            "$.b: in the schema, not in the body",
            "$.b: required, missing",
        ]
    );
}

#[test]
fn the_check_merges_flattened_schemas_and_reads_enums_and_skipped_fields() {
    let doc = json!({"components": {"schemas": {
        "Inner": {"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string", "enum": ["x", "y"]}}},
        "Outer": {"allOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "object",
            "properties": {
                "skipped": {"type": "string"},
                "null_when_empty": {"type": ["string", "null"]}}}]}
    }}});
    let schema = json!({"$ref": "#/components/schemas/Outer"});
    assert!(
        mismatches(
            &doc,
            &schema,
            &json!({"a": "x", "null_when_empty": null}),
            "$"
        )
        .is_empty()
    );
    assert_eq!(
        mismatches(&doc, &schema, &json!({"a": "z", "skipped": "s"}), "$"),
        vec![
            "$.a: `\"z\"` is not one of [String(\"x\"), String(\"y\")]",
            "$.null_when_empty: in the schema, not in the body",
        ]
    );
    assert!(mismatches(&doc, &json!({}), &json!({"any": [1]}), "$").is_empty());
}

/// A flow of calls, each 200 body checked against the schema declared for its path and method.
struct Flow {
    app: Router,
    doc: Value,
    token: String,
    /// Every departure found, as `METHOD PATH: ...`.
    failures: Vec<String>,
    /// The `(method, path template)` pairs checked.
    checked: std::collections::BTreeSet<(String, String)>,
}

impl Flow {
    /// Calls `method uri` (which `template` documents) with `body`; expects 200 and checks the
    /// body against the declared schema. Returns the body.
    async fn check(
        &mut self,
        method: &str,
        template: &str,
        uri: &str,
        body: Option<&str>,
    ) -> Value {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let (status, v) = call(&self.app, req).await;
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {v}");
        let lower = method.to_ascii_lowercase();
        let schema = response_schema(&self.doc, template, &lower);
        for m in mismatches(&self.doc, schema, &v, "$") {
            self.failures.push(format!("{method} {uri}: {m}"));
        }
        self.checked.insert((lower, template.to_string()));
        v
    }

    /// `POST path` with `body`, checked.
    async fn post(&mut self, path: &str, body: &str) -> Value {
        self.check("POST", path, path, Some(body)).await
    }

    /// `GET path`, checked.
    async fn get(&mut self, path: &str) -> Value {
        self.check("GET", path, path, None).await
    }
}

/// A determination input shipping `item` to `destination` on a 2025 date.
fn order(destination: &str, consignee: &str, item: &str, quantity: u64) -> String {
    format!(
        r#"{{"date": "2025-06-01", "destination": "{destination}",
            "consignee": {{"name": "{consignee}", "hq": "{destination}"}},
            "item": {item}, "quantity": {quantity}}}"#
    )
}

/// A catalog chip, as an input's item.
const H100: &str = r#"{"chip": "H100 SXM"}"#;

/// `quantity` H100s to a Malaysian consignee (Tier 2).
fn to_kuala(quantity: u64) -> String {
    order("MY", "Kuala Compute Sdn Bhd", H100, quantity)
}

/// Determinations of several kinds, with and without screening.
async fn determinations(f: &mut Flow) {
    let t = "/v1/determinations";
    let chip = f.post(t, &to_kuala(8)).await;
    assert!(chip["screening"].is_object(), "{chip}");
    let rates = r#"{"tpp": 4800, "pd": 5.9, "datacenter": true}"#;
    f.post(t, &order("AE", "Gulf Compute LLC", rates, 100))
        .await;
    let weights = r#"{"date": "2025-06-01", "destination": "AE",
        "consignee": {"name": "Gulf Compute LLC", "hq": "AE"},
        "item": {"model_weights": {"training_ops": 200000000000000000000000000}}}"#;
    f.post(t, weights).await;
    let license = f.post(t, &order("CN", "Beijing Compute Co", H100, 8)).await;
    assert_eq!(license["license_required"], true, "{license}");
    // A clear Entity List hit: the screening block with the entry applied.
    let listed = order(
        "SG",
        "Huawei Technologies Co., Ltd.",
        r#"{"chip": "L20"}"#,
        10,
    );
    let hit = f.post(t, &listed).await;
    assert!(hit["screening"]["entity_list"].is_object(), "{hit}");
    let plain = "/v1/determinations?screen=false";
    let v = f
        .check(
            "POST",
            t,
            plain,
            Some(&order("IN", "Mumbai Compute Ltd", H100, 2)),
        )
        .await;
    assert!(v.get("screening").is_none(), "{v}");
}

/// Licenses, VEUs and government-to-government arrangements: added, listed, shown, changed.
async fn records(f: &mut Flow) {
    let lic = r#"{"id": "L-1", "consignee": "Kuala Compute Sdn Bhd", "destination": "MY",
        "items": ["H100 SXM"], "units": 1000000, "tpp": 5000000000,
        "granted": "2025-01-01", "expires": "2029-01-01", "beyond_allocation": true}"#;
    f.post("/v1/licenses", lic).await;
    f.get("/v1/licenses").await;
    f.check("GET", "/v1/licenses/{id}", "/v1/licenses/L-1", None)
        .await;
    let veu = r#"{"id": "V-1", "kind": "nveu", "owner": "Kuala Compute Sdn Bhd", "hq": "MY",
        "sites": [{"id": "KL-1", "country": "MY"}]}"#;
    f.post("/v1/veus", veu).await;
    f.get("/v1/veus").await;
    let g2g = r#"{"country": "AE", "date": "2025-01-15"}"#;
    f.post("/v1/g2g", g2g).await;
    f.get("/v1/g2g").await;
}

/// Shipments authorized (under LPP, under a license) and refused; listed, shown; the accounts
/// they drew on.
async fn shipments(f: &mut Flow) {
    let t = "/v1/shipments";
    let small = f.post(t, &to_kuala(8)).await;
    assert_eq!(small["status"], "authorized", "{small}");
    let big = to_kuala(5000);
    let licensed = f.post(t, &big).await;
    // Shipment answers keep the tenant's scope on their ids (`acme.L-1`).
    let under = licensed["license_id"].as_str().unwrap_or_default();
    assert!(under.ends_with("L-1"), "{licensed}");
    let cn = order("CN", "Beijing Compute Co", H100, 8);
    let refused = f.post(t, &cn).await;
    assert_eq!(refused["status"], "refused", "{refused}");
    let id = licensed["shipment_id"].as_str().expect("id").to_string();
    f.get(t).await;
    f.check("GET", t, "/v1/shipments?status=refused&limit=1", None)
        .await;
    f.check("GET", "/v1/shipments/{id}", &format!("{t}/{id}"), None)
        .await;
    let record = format!("{t}/{id}/record?format=json");
    f.check("GET", "/v1/shipments/{id}/record", &record, None)
        .await;
    let refused_id = refused["shipment_id"].as_str().expect("id");
    let record = format!("{t}/{refused_id}/record");
    f.check("GET", "/v1/shipments/{id}/record", &record, None)
        .await;
    let accounts = f.get("/v1/accounts").await;
    let key = accounts[0]["key"].as_str().expect("an account").to_string();
    f.check("GET", "/v1/accounts", "/v1/accounts?as_of=2025-06-30", None)
        .await;
    f.check(
        "GET",
        "/v1/accounts/{key}",
        &format!("/v1/accounts/{key}"),
        None,
    )
    .await;
    let history = format!("/v1/accounts/{key}/history");
    f.check("GET", "/v1/accounts/{key}/history", &history, None)
        .await;
}

/// An application filed, listed, shown, approved (a license), counted; the license changed.
async fn applications(f: &mut Flow) {
    let app = r#"{"id": "APP-1", "date": "2025-06-02", "destination": "AE",
        "consignee": {"name": "Gulf Compute LLC", "hq": "AE", "parent_hq": "AE", "veu": null},
        "items": [{"chip": "NVIDIA H100 SXM", "quantity": 50000}],
        "value_usd": "1250000000.00", "end_use": "deployment"}"#;
    let t = "/v1/applications";
    f.post(t, app).await;
    f.get(t).await;
    f.check(
        "GET",
        "/v1/applications/{id}",
        "/v1/applications/APP-1",
        None,
    )
    .await;
    let approve = r#"{"decision": "approve", "date": "2025-06-10", "license_id": "L-2",
        "conditions": [{"kind": "end_user_unchanged"}, {"kind": "report_within_days", "days": 30}]}"#;
    let decision = "/v1/applications/{id}/decision";
    f.check(
        "POST",
        decision,
        "/v1/applications/APP-1/decision",
        Some(approve),
    )
    .await;
    f.check(
        "GET",
        "/v1/applications/stats",
        "/v1/applications/stats?as_of=2025-07-01",
        None,
    )
    .await;
    f.check("GET", "/v1/licenses/{id}", "/v1/licenses/L-2", None)
        .await;
    let record = "/v1/applications/APP-1/record";
    f.check("GET", "/v1/applications/{id}/record", record, None)
        .await;
    let suspend = r#"{"kind": "suspend", "date": "2025-06-20", "reason": "BIS order"}"#;
    let changes = "/v1/licenses/{id}/changes";
    f.check("POST", changes, "/v1/licenses/L-2/changes", Some(suspend))
        .await;
    f.get("/v1/licenses").await;
}

/// A party screened, a decision on its first hit, the decisions, the thresholds.
async fn screening(f: &mut Flow) {
    let party = r#"{"name": "Huawei Technologies Co., Ltd.", "country": "CN"}"#;
    let screened = f.post("/v1/screen", party).await;
    let hit = &screened["hits"][0];
    let entry = format!(
        "{}:{}",
        hit["entry"]["list_code"].as_str().expect("list"),
        hit["entry_id"].as_str().expect("entry id")
    );
    let decide = json!({"party": "Huawei Technologies Co., Ltd.", "entry": entry,
        "decision": "same_party", "reason": "the listed company"})
    .to_string();
    let t = "/v1/screen/decisions";
    f.post(t, &decide).await;
    f.get(t).await;
    let decided = f.post("/v1/screen", party).await;
    assert!(decided["hits"][0]["decision"].is_object(), "{decided}");
    let t = "/v1/screen/thresholds";
    f.get(t).await;
    f.check("PUT", t, t, Some(r#"{"clear": 0.9, "possible": "0.75"}"#))
        .await;
    f.get(t).await;
}

/// Audit, tenants, tokens, reports due, and the policy's read-only views.
async fn administration(f: &mut Flow, other_token_id: &str) {
    f.check("GET", "/v1/audit", "/v1/audit?limit=5", None).await;
    f.check("POST", "/v1/audit/verify", "/v1/audit/verify", None)
        .await;
    f.get("/v1/tenants").await;
    let tenant = r#"{"id": "beta", "name": "Beta Compute"}"#;
    f.post("/v1/tenants", tenant).await;
    f.get("/v1/tokens").await;
    let revoke = format!("/v1/tokens/{other_token_id}/revoke");
    f.check("POST", "/v1/tokens/{id}/revoke", &revoke, None)
        .await;
    let due = "/v1/reports/due";
    f.check("GET", due, "/v1/reports/due?as_of=2026-01-01", None)
        .await;
    for report in [
        "lpp-certifications?period=2025",
        "veu-semiannual?period=2025-H1",
    ] {
        let uri = format!("/v1/reports/{report}");
        f.check("GET", "/v1/reports/{name}", &uri, None).await;
    }
    f.get("/v1/whoami").await;
    f.get("/v1/chips").await;
    f.get("/v1/regimes").await;
    let c = "/v1/classify";
    f.post(c, r#"{"chip": "H100 SXM", "date": "2025-06-01"}"#)
        .await;
    f.check(
        "GET",
        "/v1/countries",
        "/v1/countries?date=2025-06-01",
        None,
    )
    .await;
}

#[tokio::test]
async fn every_json_response_of_a_realistic_flow_matches_its_declared_schema() {
    let (_dir, db, app, doc) = served("flow").await;
    let token = common::token(&db, "acme", "global_admin");
    // A second token, for the admin to revoke.
    common::token(&db, "acme", "viewer");
    let mut f = Flow {
        app,
        doc,
        token,
        failures: Vec::new(),
        checked: Default::default(),
    };
    f.get("/healthz").await;
    let tokens = f.get("/v1/tokens").await;
    let mine = f.get("/v1/whoami").await;
    let other_id = tokens
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str())
        .find(|id| Some(*id) != mine["actor"].as_str())
        .expect("the viewer's token")
        .to_string();
    determinations(&mut f).await;
    records(&mut f).await;
    shipments(&mut f).await;
    applications(&mut f).await;
    screening(&mut f).await;
    administration(&mut f, &other_id).await;
    f.failures.dedup();
    assert!(f.failures.is_empty(), "{}", f.failures.join("\n"));

    // Every path and method with a JSON 200 was called.
    let unchecked: Vec<String> = json_200s(&f.doc)
        .into_iter()
        .filter(|(m, p)| !f.checked.contains(&(m.clone(), p.clone())))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert_eq!(unchecked, Vec::<String>::new());
}

/// Every `(method, path)` of the document with a 200 `application/json` response.
fn json_200s(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !op["responses"]["200"]["content"]["application/json"].is_null() {
                out.push((method.clone(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// Whether a response schema says nothing of its shape: an object with no properties (and no
/// `additionalProperties`, branches or reference), or an array of such.
fn bare(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    if schema["type"] == "array" {
        return bare(doc, &schema["items"]);
    }
    let shaped = [
        "properties",
        "additionalProperties",
        "oneOf",
        "anyOf",
        "allOf",
    ]
    .iter()
    .any(|k| !schema[*k].is_null());
    let object = schema["type"] == "object" || schema["type"].is_null();
    object && !shaped
}

/// The responses whose JSON really is free-form. Empty: every JSON response has a type.
const FREE_FORM: &[&str] = &[];

#[tokio::test]
async fn no_json_response_is_declared_a_bare_object() {
    let (_dir, _db, _app, doc) = served("bare").await;
    let bare_ones: Vec<String> = json_200s(&doc)
        .into_iter()
        .filter(|(m, p)| bare(&doc, response_schema(&doc, p, m)))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert_eq!(bare_ones, FREE_FORM);
}

#[test]
fn a_bare_object_is_one_without_properties() {
    let doc = json!({"components": {"schemas": {"Bare": {"type": "object"}}}});
    assert!(bare(&doc, &json!({"$ref": "#/components/schemas/Bare"})));
    assert!(bare(
        &doc,
        &json!({"type": "array", "items": {"type": "object"}})
    ));
    assert!(!bare(
        &doc,
        &json!({"type": "object", "properties": {"a": {"type": "string"}}})
    ));
    assert!(!bare(
        &doc,
        &json!({"type": "object", "additionalProperties": {"type": "integer"}})
    ));
    assert!(!bare(&doc, &json!({"type": "string"})));
}
