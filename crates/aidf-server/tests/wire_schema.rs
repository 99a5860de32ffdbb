//! Issue 16: the OpenAPI document is generated from the types the handlers return, so every
//! response body must match the schema the document declares for it: the same property names,
//! the same JSON types, every required field present. Checked in process (`oneshot`) for
//! `POST /v1/classify` and `GET /v1/countries`, against the document `/openapi.json` serves.

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

/// Every way `value` (at `path`) departs from `schema`: its type, its property names (both ways),
/// its required fields, and the same for every property and array item.
fn mismatches(doc: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
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
    if let Value::Object(fields) = value {
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for name in fields.keys().filter(|k| !props.contains_key(*k)) {
            out.push(format!("{path}.{name}: in the body, not in the schema"));
        }
        for (name, sub) in &props {
            match fields.get(name) {
                Some(v) => out.extend(mismatches(doc, sub, v, &format!("{path}.{name}"))),
                None => out.push(format!("{path}.{name}: in the schema, not in the body")),
            }
        }
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                out.push(format!("{path}.{name}: required, missing"));
            }
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

#[tokio::test]
async fn classify_and_countries_bodies_match_their_declared_schemas() {
    let (_dir, db) = common::scratch("wire-schema", "bodies");
    let policy = Policy::embedded().expect("policy");
    let state = AppState::new(policy, &db, false, common::auditor(&db)).expect("state");
    let app = router(Arc::new(state));
    let token = common::token(&db, "acme", "viewer");
    let (status, doc) = call(
        &app,
        Request::get("/openapi.json")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

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
