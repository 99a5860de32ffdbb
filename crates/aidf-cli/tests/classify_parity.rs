//! Issue 16: `aidf classify --json` and `POST /v1/classify` are one query rendered twice, so the
//! same inputs give the same JSON: a chip by name, rates with a die area, a system of several
//! chips, a pinned regime. The server runs in process (`oneshot`), the CLI as the binary.

use std::process::Command;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

mod support;

fn cli_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .arg("classify")
        .args(args)
        .arg("--json")
        .output()
        .expect("run aidf");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test]
async fn cli_and_http_classify_give_the_same_json() {
    let dir = std::env::temp_dir().join(format!("aidf-classify-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = dir.join("aidf.db").to_str().expect("utf8").to_string();
    let app = support::in_process_app(&db);
    let bearer = format!("Bearer {}", support::acme_token(&db, "viewer"));
    let cases: [(&[&str], Value); 4] = [
        (
            &["--chip", "H100 SXM", "--date", "2025-06-01"],
            json!({"chip": "H100 SXM", "date": "2025-06-01"}),
        ),
        (
            &[
                "--tops",
                "1979.5",
                "--bits",
                "8",
                "--die-area",
                "814",
                "--quantity",
                "8",
                "--date",
                "2025-06-01",
            ],
            json!({"tops": [1979.5], "bits": [8], "die_area_mm2": 814, "quantity": 8, "date": "2025-06-01"}),
        ),
        (
            &[
                "--tops",
                "660.6",
                "--bits",
                "8",
                "--die-area",
                "608.5",
                "--not-datacenter",
                "--quantity",
                "3",
                "--date",
                "2025-06-01",
            ],
            json!({"tops": [660.6], "bits": [8], "die_area_mm2": 608.5, "datacenter": false, "quantity": 3, "date": "2025-06-01"}),
        ),
        (
            &[
                "--chip",
                "H20",
                "--regime",
                "ac-2023",
                "--date",
                "2025-06-01",
            ],
            json!({"chip": "H20", "regime": "ac-2023", "date": "2025-06-01"}),
        ),
    ];
    for (args, body) in cases {
        let cli = cli_json(args);
        let req = Request::post("/v1/classify")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        let http: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(status, StatusCode::OK, "{body}: {http}");
        assert_eq!(cli, http, "{args:?} vs {body}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
