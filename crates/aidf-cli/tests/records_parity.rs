//! Issue 16: `aidf license add` / `aidf veu add` and `POST /v1/licenses` / `POST /v1/veus` are one
//! validation (aidf-service's records), so they refuse the same bad inputs naming the same field
//! (the CLI writes it as its option) with the same words, and accept the same good ones. The
//! server runs in process (`oneshot`), the CLI as the binary.

use std::process::Command;

use axum::body::{Body, to_bytes};
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

mod support;

/// One case: how the CLI says it, how the JSON says it, and the field both must name (`None`:
/// both accept it).
struct Case {
    cli: Vec<String>,
    body: Value,
    field: Option<&'static str>,
    option: &'static str,
}

fn license(change: &[(&str, Value)], field: Option<&'static str>, option: &'static str) -> Case {
    let mut body = json!({"id": "L-1", "consignee": "X Sdn Bhd", "destination": "MY",
        "items": ["H100 SXM"], "units": 10, "tpp": 1000000,
        "granted": "2025-01-01", "expires": "2026-01-01"});
    for (k, v) in change {
        body[*k] = v.clone();
    }
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut cli = vec!["license".into(), "add".into(), text(&body["id"])];
    for key in [
        "consignee",
        "destination",
        "units",
        "tpp",
        "granted",
        "expires",
    ] {
        cli.extend([format!("--{key}"), text(&body[key])]);
    }
    for item in body["items"].as_array().into_iter().flatten() {
        cli.extend(["--item".into(), text(item)]);
    }
    Case {
        cli,
        body,
        field,
        option,
    }
}

fn veu(change: &[(&str, Value)], field: Option<&'static str>, option: &'static str) -> Case {
    let mut body = json!({"id": "V-1", "kind": "uveu", "owner": "Acme Cloud", "hq": "US",
        "sites": [{"id": "dc1", "country": "IN"}]});
    for (k, v) in change {
        body[*k] = v.clone();
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut cli = vec!["veu".into(), "add".into(), text(&body["id"])];
    for key in ["kind", "owner", "hq"] {
        cli.extend([format!("--{key}"), text(&body[key])]);
    }
    for s in body["sites"].as_array().into_iter().flatten() {
        cli.extend([
            "--site".into(),
            format!("{}:{}", text(&s["id"]), text(&s["country"])),
        ]);
    }
    Case {
        cli,
        body,
        field,
        option,
    }
}

fn cases() -> Vec<Case> {
    let site = |id: &str, country: &str| json!({"id": id, "country": country});
    vec![
        license(&[("id", json!("bad id"))], Some("id"), "argument `ID`"),
        license(&[("id", json!("L\u{7}1"))], Some("id"), "argument `ID`"),
        license(
            &[("id", json!("L".repeat(65)))],
            Some("id"),
            "argument `ID`",
        ),
        license(
            &[("consignee", json!("  "))],
            Some("consignee"),
            "option `--consignee`",
        ),
        license(
            &[("destination", json!("ZZ"))],
            Some("destination"),
            "option `--destination`",
        ),
        license(
            &[("items", json!(["H100 SXM", "no such chip"]))],
            Some("items[1]"),
            "option `--item`",
        ),
        license(&[("units", json!(0))], Some("units"), "option `--units`"),
        license(&[("tpp", json!(0))], Some("tpp"), "option `--tpp`"),
        license(
            &[("granted", json!("2025-02-30"))],
            Some("granted"),
            "option `--granted`",
        ),
        license(
            &[("expires", json!("2024-12-31"))],
            Some("expires"),
            "option `--expires`",
        ),
        license(&[("id", json!("L-2"))], None, ""),
        veu(&[("kind", json!("xveu"))], Some("kind"), "option `--kind`"),
        veu(&[("owner", json!(""))], Some("owner"), "option `--owner`"),
        veu(&[("hq", json!("ZZ"))], Some("hq"), "option `--hq`"),
        veu(
            &[("sites", json!([site("dc1", "ZZ")]))],
            Some("sites[0].country"),
            "option `--site`",
        ),
        veu(
            &[("sites", json!([site("bad id", "IN")]))],
            Some("sites[0].id"),
            "option `--site`",
        ),
        veu(
            &[("sites", json!([site("dc1", "IN"), site("dc1", "MY")]))],
            Some("sites[1].id"),
            "option `--site`",
        ),
        // The kind is read in any case by both.
        veu(&[("id", json!("V-2")), ("kind", json!("NVEU"))], None, ""),
    ]
}

#[tokio::test]
async fn cli_and_http_refuse_the_same_licenses_and_veus_naming_the_same_field() {
    let dir = std::env::temp_dir().join(format!("aidf-records-parity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("server.db").to_str().expect("utf8").to_string();
    let cli_db = dir.join("cli.db").to_str().expect("utf8").to_string();
    let app = support::in_process_app(&db);
    let bearer = format!("Bearer {}", support::acme_token(&db, "officer"));
    for case in cases() {
        let path = if case.cli[0] == "license" {
            "/v1/licenses"
        } else {
            "/v1/veus"
        };
        let req = Request::post(path)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(Body::from(case.body.to_string()))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        let status = resp.status().as_u16();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        let http: Value = serde_json::from_slice(&bytes).expect("json");
        let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
            .args(&case.cli)
            .args(["--db", &cli_db])
            .output()
            .expect("run aidf");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let Some(field) = case.field else {
            assert_eq!(status, 200, "{}: {http}", case.body);
            assert!(out.status.success(), "{:?}: {err}", case.cli);
            continue;
        };
        assert_eq!(status, 422, "{}: {http}", case.body);
        assert_eq!(http["field"], field, "{}: {http}", case.body);
        let detail = http["detail"].as_str().expect("detail");
        let words = detail
            .strip_prefix(&format!("field `{field}`: "))
            .unwrap_or_else(|| panic!("{detail} names `{field}` first"));
        assert_eq!(out.status.code(), Some(2), "{:?}: {err}", case.cli);
        // (The first write to a new ledger also says on stderr that it made an audit key.)
        let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(
            errors,
            [format!("error: {}: {words}", case.option)],
            "{:?}",
            case.cli
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
