//! `aidf serve` over real HTTP: every endpoint's success path, every role's permitted and
//! forbidden actions, tenant isolation, idempotent retries, problem+json errors, audit
//! verification catching a record edited in the database, and two server processes sharing one
//! PostgreSQL ledger.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aidf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
}

fn start(db: &str, extra: &[&str]) -> Server {
    let mut child = aidf()
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aidf serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read listening line");
    let base = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line `{line}`"))
        .to_string();
    Server { child, base }
}

fn token(db: &str, tenant: &str, role: &str) -> String {
    token_with_key(db, tenant, role, None)
}

/// `aidf token create`, with `AIDF_AUDIT_KEY_FILE` set when `key` is given.
fn token_with_key(db: &str, tenant: &str, role: &str, key: Option<&str>) -> String {
    let out = token_create(db, tenant, role, &["--json"], key);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("token json");
    v["token"].as_str().expect("token").to_string()
}

/// The standard output of a successful `aidf token create … EXTRA`.
fn token_create(db: &str, tenant: &str, role: &str, extra: &[&str], key: Option<&str>) -> Vec<u8> {
    let mut cmd = aidf();
    if let Some(k) = key {
        cmd.env("AIDF_AUDIT_KEY_FILE", k);
    }
    let out = cmd
        .args([
            "token", "create", "--db", db, "--tenant", tenant, "--role", role,
        ])
        .args(extra)
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct Resp {
    status: u16,
    head: String,
    content_type: String,
    body: Value,
    text: String,
}

/// One HTTP/1.1 request with `Connection: close`.
fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut s = TcpStream::connect(base).expect("connect");
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {base}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Resp {
        status,
        head: head.to_ascii_lowercase(),
        content_type,
        body: serde_json::from_str(&payload).unwrap_or(Value::Null),
        text: payload,
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out += &after[..n];
        rest = &after[n..];
        rest = rest.strip_prefix("\r\n").unwrap_or(rest);
    }
    out
}

/// The LPP account of `SHIP`'s consignee in a tenant, as the determination keys it.
fn lpp_key(tenant: &str) -> String {
    aidf_core::AccountRef::LppAnnual {
        party: aidf_core::PartyId::of("X Sdn Bhd", "MY"),
        year: 2025,
    }
    .ledger_key(tenant)
}

const SHIP: &str = r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":100}"#;

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("aidf-srv-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn endpoints_roles_tenants_idempotency_and_audit() {
    let dir = tmpdir("main");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    let viewer = token(db, "acme", "viewer");
    let exporter = token(db, "acme", "exporter");
    let officer = token(db, "acme", "officer");
    let admin = token(db, "acme", "admin");
    let global = token(db, "acme", "global_admin");
    let other = token(db, "globex", "officer");
    // These flows ship on 2025 dates by an exporter; the back-dating rule has its own test.
    let srv = start(db, &["--backdate-window-days", "36500"]);
    let b = srv.base.as_str();
    let get = |path: &str, t: &str| call(b, "GET", path, Some(t), None, &[]);
    let post = |path: &str, t: &str, body: &str| call(b, "POST", path, Some(t), Some(body), &[]);

    // Open endpoints.
    assert_eq!(call(b, "GET", "/healthz", None, None, &[]).status, 200);
    let spec = call(b, "GET", "/openapi.json", None, None, &[]);
    assert_eq!(spec.status, 200);
    assert!(spec.body["paths"]["/v1/shipments"]["post"].is_object());
    assert!(spec.body["components"]["securitySchemes"]["bearer"].is_object());

    // Authentication.
    let r = call(b, "GET", "/v1/regimes", None, None, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(
        call(b, "GET", "/v1/regimes", Some("aidf_nope"), None, &[]).status,
        401
    );

    // Viewer: reads, and checks without recording.
    assert_eq!(get("/v1/regimes", &viewer).status, 200);
    let countries = get("/v1/countries?date=2025-06-01", &viewer);
    assert_eq!(countries.status, 200);
    assert_eq!(
        countries.body["countries"].as_array().map(Vec::len),
        Some(249)
    );
    assert_eq!(
        post("/v1/classify", &viewer, r#"{"chip":"H100 SXM"}"#).body["eccn"],
        "3A090.a"
    );
    // A viewer checks (stateless: nothing drawn, nothing recorded but the audit) and may not ship.
    let checked = post("/v1/determinations", &viewer, SHIP);
    assert_eq!(checked.status, 200, "{}", checked.text);
    assert_eq!(checked.body["authorization"], "LPP");
    assert_eq!(post("/v1/shipments", &viewer, SHIP).status, 403);

    // Exporter: checks and ships, may not manage licenses.
    let d = post("/v1/determinations", &exporter, SHIP);
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["authorization"], "LPP");
    let lic = r#"{"id":"L-1","consignee":"X Sdn Bhd","destination":"MY","items":["H100 SXM"],"units":5000,"tpp":100000000,"granted":"2025-05-20","expires":"2026-05-20"}"#;
    assert_eq!(post("/v1/licenses", &exporter, lic).status, 403);

    // Idempotent retries.
    let key = [("Idempotency-Key", "order-1")];
    let s1 = call(
        b,
        "POST",
        "/v1/shipments",
        Some(&exporter),
        Some(SHIP),
        &key,
    );
    assert_eq!(s1.status, 200, "{}", s1.text);
    assert_eq!(s1.body["status"], "authorized");
    let s2 = call(
        b,
        "POST",
        "/v1/shipments",
        Some(&exporter),
        Some(SHIP),
        &key,
    );
    // A retry gets the original answer, byte for byte, marked as a replay in a header.
    assert_eq!(s2.status, 200, "{}", s2.text);
    assert_eq!(s2.text, s1.text);
    assert!(s2.head.contains("idempotent-replayed: true"), "{}", s2.head);
    assert!(!s1.head.contains("idempotent-replayed"));
    let other_body = SHIP.replace("\"quantity\":100", "\"quantity\":101");
    let s3 = call(
        b,
        "POST",
        "/v1/shipments",
        Some(&exporter),
        Some(&other_body),
        &key,
    );
    assert_eq!(s3.status, 409);
    assert_eq!(s3.body["field"], "Idempotency-Key");
    let lpp = &format!("/v1/accounts/{}", lpp_key("acme"));
    assert_eq!(
        get(lpp, &viewer).body["balance"]["posted"],
        1_583_200,
        "one draw, not two"
    );

    // Officer: licenses and VEUs.
    let l = post("/v1/licenses", &officer, lic);
    assert_eq!(l.status, 200, "{}", l.text);
    assert_eq!(l.body["id"], "L-1");
    assert_eq!(
        get("/v1/licenses/L-1", &viewer).body["license"]["id"],
        "L-1"
    );
    let veu = r#"{"id":"V-1","kind":"uveu","owner":"Acme Cloud","hq":"US","sites":[{"id":"dc1","country":"IN"}]}"#;
    assert_eq!(post("/v1/veus", &officer, veu).status, 200);
    assert_eq!(
        get("/v1/veus", &viewer).body.as_array().map(Vec::len),
        Some(1)
    );
    let g2g = r#"{"country":"MY","date":"2025-05-01"}"#;
    assert_eq!(post("/v1/g2g", &officer, g2g).status, 403);

    // Global data and tenants need a global admin; a tenant's admin is refused.
    assert_eq!(post("/v1/g2g", &admin, g2g).status, 403);
    assert_eq!(
        post("/v1/tenants", &admin, r#"{"id":"x","name":"X"}"#).status,
        403
    );
    assert_eq!(get("/v1/tenants", &admin).status, 403);
    assert_eq!(post("/v1/g2g", &global, g2g).status, 200);
    assert_eq!(get("/v1/g2g", &viewer).body[0]["country"], "MY");
    // Only a Tier 2 country has an allocation to double (issue 16).
    let tier1 = post(
        "/v1/g2g",
        &global,
        r#"{"country":"US","date":"2025-05-01"}"#,
    );
    assert_eq!(tier1.status, 422, "{:?}", tier1.body);
    assert_eq!(tier1.body["field"], "country", "{:?}", tier1.body);
    assert_eq!(
        post(
            "/v1/tenants",
            &global,
            r#"{"id":"initech","name":"Initech"}"#
        )
        .status,
        200
    );
    assert!(
        get("/v1/tenants", &global)
            .body
            .as_array()
            .expect("tenants")
            .iter()
            .any(|t| t == "initech")
    );
    assert_eq!(get("/v1/tenants", &officer).status, 403);

    // A licensed shipment draws the tenant's license and the (doubled) allocation.
    let big = SHIP.replace("\"quantity\":100", "\"quantity\":2000");
    let s = call(
        b,
        "POST",
        "/v1/shipments",
        Some(&exporter),
        Some(&big),
        &[("Idempotency-Key", "order-2")],
    );
    assert_eq!(s.body["status"], "authorized", "{}", s.text);
    assert_eq!(s.body["license_id"], "acme.L-1");
    let alloc = get("/v1/accounts/country:MY:2025-2027", &viewer);
    assert_eq!(alloc.body["balance"]["cap"], 1_580_000_000u64);
    assert_eq!(alloc.body["balance"]["posted"], 31_664_000);
    assert!(
        get("/v1/accounts/country:MY:2025-2027/history", &viewer)
            .body
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    assert_eq!(
        get(
            "/v1/accounts/country:MY:2025-2027?as_of=2020-01-01",
            &viewer
        )
        .body["balance"]["posted"],
        0
    );

    // Tenant isolation: globex sees none of acme's consignees, licenses, VEUs or audit records.
    assert_eq!(get("/v1/licenses/L-1", &other).status, 404);
    assert_eq!(get("/v1/licenses", &other).body, json!([]));
    assert_eq!(get("/v1/veus", &other).body, json!([]));
    assert_eq!(get(lpp, &other).status, 404);
    assert_eq!(get(&format!("{lpp}/history"), &other).status, 404);
    let accounts = get("/v1/accounts", &other).body;
    assert!(
        accounts
            .as_array()
            .expect("accounts")
            .iter()
            .all(|a| a["kind"] == "country_allocation")
    );
    // Globex shipping to the same consignee cannot draw acme's license.
    let g = call(
        b,
        "POST",
        "/v1/shipments",
        Some(&token(db, "globex", "exporter")),
        Some(&big),
        &[("Idempotency-Key", "g-1")],
    );
    assert_eq!(g.body["status"], "refused", "{}", g.text);
    // Country allocation history shows other tenants' entries redacted.
    let hist = get("/v1/accounts/country:MY:2025-2027/history", &other).body;
    let hist = hist.as_array().expect("history");
    assert!(
        hist.iter()
            .any(|e| e["meta"]["determination_id"] == "redacted")
    );
    assert!(
        hist.iter().all(|e| e["meta"]["determination_id"].is_null()
            || e["meta"]["determination_id"] == "redacted")
    );
    let audit_other = get("/v1/audit?limit=1000", &other).body;
    assert!(
        audit_other
            .as_array()
            .expect("audit")
            .iter()
            .all(|r| r["tenant"] == "globex")
    );

    // Problem+json for bad input, naming the field; never a 5xx.
    let bad = [
        ("/v1/determinations", "{\"date\":", 400, None),
        (
            "/v1/determinations",
            r#"{"date":"2025-06-01","destination":"XX","consignee":{"name":"a","hq":"MY"},"item":{"chip":"H100"},"quantity":1}"#,
            422,
            Some("destination"),
        ),
        (
            "/v1/determinations",
            r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"a","hq":"MY"},"item":{"chip":"H100"},"quantity":0}"#,
            422,
            Some("quantity"),
        ),
        (
            "/v1/determinations",
            r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"a","hq":"MY"},"item":{"chip":"H100"},"qty":1}"#,
            400,
            None,
        ),
        ("/v1/classify", r#"{"chip":"a100"}"#, 422, Some("chip")),
        (
            "/v1/licenses",
            r#"{"id":"bad id","consignee":"X","destination":"MY","units":1,"tpp":1,"granted":"2025-01-01","expires":"2026-01-01"}"#,
            422,
            Some("id"),
        ),
    ];
    for (path, body, status, field) in bad {
        let r = post(path, &admin, body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        if let Some(f) = field {
            assert_eq!(r.body["field"], f, "{path}: {}", r.text);
        }
    }
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = post("/v1/determinations", &admin, &huge);
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(get("/v1/accounts/no:such", &admin).status, 404);
    assert_eq!(
        get("/v1/accounts/country:MY:2025-2027?as_of=yesterday", &admin).status,
        400
    );

    // Audit: every action recorded, errors included; the chain verifies.
    let mine = get("/v1/audit?limit=1000", &exporter).body;
    let actions: Vec<&str> = mine
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for a in [
        "determination",
        "shipment",
        "license.add",
        "veu.add",
        "g2g.add",
        "tenant.add",
    ] {
        assert!(actions.contains(&a), "no `{a}` in {actions:?}");
    }
    assert!(mine.as_array().expect("audit").iter().any(|r| {
        r["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("error:4"))
    }));
    // Verification is for admins; the viewer's refusal is audited like every other 403.
    assert_eq!(post("/v1/audit/verify", &viewer, "").status, 403);
    let v = post("/v1/audit/verify", &admin, "");
    assert_eq!(v.body["ok"], true, "{}", v.text);
    let refusals: Vec<Value> = get("/v1/audit?limit=1000", &viewer)
        .body
        .as_array()
        .expect("audit")
        .iter()
        .filter(|r| r["action"] == "refused" && r["subject"] == "POST /v1/audit/verify")
        .cloned()
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["outcome"], "error:403");
    assert!(
        refusals[0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("tok_"))
    );

    // Metrics.
    let m = call(b, "GET", "/metrics", None, None, &[]);
    assert!(
        m.text
            .contains("aidf_http_requests_total{method=\"POST\",route=\"/v1/shipments\"")
    );
    drop(srv);

    // Edit a record directly in the database (after removing the append-only trigger, as an
    // attacker with database access could): verification names it.
    let conn = rusqlite_edit(db);
    assert!(conn.is_ok(), "{conn:?}");
    let srv = start(db, &[]);
    let v = call(
        &srv.base,
        "POST",
        "/v1/audit/verify",
        Some(&admin),
        Some(""),
        &[],
    );
    assert_eq!(v.body["ok"], false, "{}", v.text);
    assert_eq!(v.body["first_bad_seq"], 3);
    let out = aidf()
        .args(["audit", "verify", "--db", db])
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("record 3"));
    let _ = std::fs::remove_dir_all(dir);
}

fn rusqlite_edit(db: &str) -> Result<(), String> {
    // The test uses the sqlite3 CLI-free route: the aidf-ledger crate depends on rusqlite, but the
    // CLI test crate does not; python3 is on every machine of this project's kind.
    let script = format!(
        "import sqlite3; c=sqlite3.connect('{db}'); c.execute('DROP TRIGGER aidf_audit_no_update'); c.execute(\"UPDATE aidf_audit SET outcome='authorized:AIA' WHERE seq=3\"); c.commit()"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn insecure_local_only_on_loopback() {
    let dir = tmpdir("insecure");
    let db = dir.join("a.db");
    let out = aidf()
        .args([
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--insecure-local",
            "--db",
            db.to_str().expect("utf8"),
        ])
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let srv = start(db.to_str().expect("utf8"), &["--insecure-local"]);
    let r = call(
        &srv.base,
        "POST",
        "/v1/determinations",
        None,
        Some(SHIP),
        &[],
    );
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two server processes on one PostgreSQL database: 20 concurrent shipments of 100 H100 for the
/// same consignee, split across both. Exactly 16 fit LPP; the audit chain verifies.
#[test]
fn two_servers_one_postgres() {
    let Some((mut client, schema, url)) = support::pg_schema("aidf_srv") else {
        return;
    };
    let dir = tmpdir("pg-key");
    let key = dir.join("audit.key");
    let key = key.to_str().expect("utf8");
    std::fs::write(key, "a shared audit key for both servers, 48 characters\n").expect("key");
    let t = token_with_key(&url, "acme", "exporter", Some(key));
    let admin = token_with_key(&url, "acme", "admin", Some(key));
    // The shipments are dated 2025: widen the back-dating window for the exporter.
    let args = ["--audit-key-file", key, "--backdate-window-days", "36500"];
    let a = start(&url, &args);
    let b = start(&url, &args);
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let base = if i % 2 == 0 {
                a.base.clone()
            } else {
                b.base.clone()
            };
            let t = t.clone();
            std::thread::spawn(move || {
                let key = format!("pg-{i}");
                call(
                    &base,
                    "POST",
                    "/v1/shipments",
                    Some(&t),
                    Some(SHIP),
                    &[("Idempotency-Key", &key)],
                )
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        let r = h.join().expect("thread");
        assert_eq!(r.status, 200, "{}", r.text);
        statuses.push(r.body["status"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(statuses.iter().filter(|s| *s == "authorized").count(), 16);
    assert_eq!(statuses.iter().filter(|s| *s == "refused").count(), 4);
    let bal = call(
        &a.base,
        "GET",
        &format!("/v1/accounts/{}", lpp_key("acme")),
        Some(&t),
        None,
        &[],
    );
    assert_eq!(bal.body["balance"]["posted"], 16 * 1_583_200);
    // Every shipment has its record, chained by either server (the outbox is shared).
    let shipments = || {
        let list = call(
            &a.base,
            "GET",
            "/v1/audit?limit=1000",
            Some(&admin),
            None,
            &[],
        );
        list.body
            .as_array()
            .expect("audit")
            .iter()
            .filter(|r| r["action"] == "shipment")
            .count()
    };
    let chained = (0..100).any(|_| {
        let done = shipments() == 20;
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        done
    });
    assert!(chained, "{} of 20 shipment records chained", shipments());
    let v = call(
        &b.base,
        "POST",
        "/v1/audit/verify",
        Some(&admin),
        Some(""),
        &[],
    );
    assert_eq!(v.body["ok"], true, "{}", v.text);
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}

/// POST one shipment; false if the server is gone (killed) before it answers.
fn try_ship(base: &str, key: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(base) else {
        return false;
    };
    let req = format!(
        "POST /v1/shipments HTTP/1.1\r\nHost: {base}\r\nConnection: close\r\nContent-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{SHIP}",
        SHIP.len()
    );
    let mut raw = Vec::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_end(&mut raw).is_ok()
        && raw.starts_with(b"HTTP/1.1 200")
}

/// Ships from four threads while `aidf serve` is SIGKILLed, five times over; then every
/// committed shipment must have its audit record once the ledger is reopened and chained.
fn every_committed_shipment_is_audited_after_kills(db: &str, key_file: &str) {
    let mut acknowledged = 0;
    for round in 0..5u64 {
        let srv = start(db, &["--insecure-local", "--audit-key-file", key_file]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (base, stop) = (srv.base.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for i in 0.. {
                        if stop.load(std::sync::atomic::Ordering::Relaxed)
                            || !try_ship(&base, &format!("k{round}-{t}-{i}"))
                        {
                            break;
                        }
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300 + 70 * round));
        drop(srv); // SIGKILL, mid-request
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        acknowledged += threads
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .sum::<usize>();
    }
    assert!(acknowledged > 0, "no shipment went through");
    use aidf_ledger::LedgerStore;
    let mut ledger = aidf_ledger::Ledger::open(db).expect("reopen");
    let (auditor, _) =
        aidf_ledger::audit::Auditor::open(db, Some(std::path::Path::new(key_file))).expect("key");
    let left = auditor
        .drain(&mut ledger)
        .expect("chain what the kills left");
    let audited: std::collections::HashSet<String> = ledger
        .audit_records("local", 1_000_000)
        .expect("records")
        .into_iter()
        .filter(|r| r.action == "shipment")
        .map(|r| r.subject)
        .collect();
    let shipments = ledger.shipments().expect("shipments");
    assert!(
        shipments.len() >= acknowledged,
        "{} < {acknowledged}",
        shipments.len()
    );
    for s in &shipments {
        assert!(
            audited.contains(&s.shipment_id),
            "{} has no audit record",
            s.shipment_id
        );
    }
    let v = auditor.verify(&mut ledger).expect("verify");
    assert!(v.ok, "{v:?}");
    eprintln!(
        "{} shipments ({acknowledged} acknowledged), {left} records chained only after the kills",
        shipments.len()
    );
}

#[test]
fn killed_server_loses_no_audit_record_sqlite() {
    let dir = tmpdir("crash");
    let db = dir.join("aidf.db");
    let key = dir.join("audit.key");
    std::fs::write(&key, "a key for the crash test, at least 32 chars\n").expect("key");
    every_committed_shipment_is_audited_after_kills(
        db.to_str().expect("utf8"),
        key.to_str().expect("utf8"),
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn killed_server_loses_no_audit_record_postgres() {
    let Some((mut client, schema, url)) = support::pg_schema("aidf_crash") else {
        return;
    };
    let dir = tmpdir("crash-pg");
    let key = dir.join("audit.key");
    std::fs::write(&key, "a key for the crash test, at least 32 chars\n").expect("key");
    every_committed_shipment_is_audited_after_kills(&url, key.to_str().expect("utf8"));
    let _ = std::fs::remove_dir_all(dir);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drop");
}

/// Tokens: a tenant admin lists and revokes its own tenant's tokens only; a revocation in one
/// process (the CLI) reaches a running server within the cache's few seconds.
#[test]
fn tokens_are_listed_and_revoked_per_tenant() {
    let dir = tmpdir("tokens");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    let admin = token(db, "acme", "admin");
    let exporter = token(db, "acme", "exporter");
    let viewer = token(db, "acme", "viewer");
    let other_admin = token(db, "globex", "admin");
    let global = token(db, "ops", "global_admin");
    let srv = start(db, &[]);
    let b = srv.base.as_str();
    let get = |path: &str, t: &str| call(b, "GET", path, Some(t), None, &[]);
    let post = |path: &str, t: &str| call(b, "POST", path, Some(t), Some(""), &[]);
    let ids = |t: &str| -> Vec<(String, String)> {
        get("/v1/tokens", t)
            .body
            .as_array()
            .expect("tokens")
            .iter()
            .map(|x| {
                (
                    x["id"].as_str().unwrap_or_default().to_string(),
                    x["tenant"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    assert!(ids(&admin).iter().all(|(_, t)| t == "acme"));
    assert_eq!(ids(&admin).len(), 3);
    assert_eq!(ids(&global).len(), 5);
    assert_eq!(get("/v1/tokens", &exporter).status, 403);
    let me = |t: &str| {
        get("/v1/whoami", t).body["actor"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let exporter_id = me(&exporter);
    assert!(exporter_id.starts_with("tok_"), "{exporter_id}");
    // Another tenant's admin cannot revoke it; its own admin can, with effect at once here.
    assert_eq!(
        post(&format!("/v1/tokens/{exporter_id}/revoke"), &other_admin).status,
        404
    );
    assert_eq!(get("/v1/whoami", &exporter).status, 200);
    // Nor may a tenant's admin revoke a global admin's token of its own tenant.
    let acme_global = token(db, "acme", "global_admin");
    let acme_global_id = me(&acme_global);
    let r = post(&format!("/v1/tokens/{acme_global_id}/revoke"), &admin);
    assert_eq!(r.status, 404);
    assert_eq!(get("/v1/whoami", &acme_global).status, 200);
    assert_eq!(
        post(&format!("/v1/tokens/{exporter_id}/revoke"), &admin).status,
        200
    );
    assert_eq!(get("/v1/whoami", &exporter).status, 401);
    // Revoked from the CLI (another process) while this server has the token cached.
    let viewer_id = me(&viewer);
    let out = aidf()
        .args(["token", "revoke", &viewer_id, "--db", db])
        .output()
        .expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t0 = std::time::Instant::now();
    while get("/v1/whoami", &viewer).status == 200 {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(8),
            "still accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let audit = get("/v1/audit?limit=1000", &admin).body;
    let revokes = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|r| r["action"] == "token.revoke")
        .count();
    assert_eq!(revokes, 1, "the HTTP revocation, by acme's admin");
    // 401s are audited too: an unknown token (tenant unknown, so recorded under "").
    assert_eq!(get("/v1/whoami", "aidf_not_a_token").status, 401);
    assert_eq!(call(b, "GET", "/v1/whoami", None, None, &[]).status, 401);
    drop(srv);
    use aidf_ledger::LedgerStore;
    let mut ledger = aidf_ledger::Ledger::open(db).expect("open");
    let (auditor, _) = aidf_ledger::audit::Auditor::open(db, None).expect("key");
    auditor.drain(&mut ledger).expect("chain");
    let anonymous: Vec<(String, String)> = ledger
        .audit_records("", 100)
        .expect("records")
        .into_iter()
        .filter(|r| r.action == "refused" && r.outcome == "error:401")
        .map(|r| (r.actor, r.subject))
        .collect();
    assert!(
        anonymous.contains(&("unknown-token".into(), "GET /v1/whoami".into())),
        "{anonymous:?}"
    );
    assert!(
        anonymous.contains(&("anonymous".into(), "GET /v1/whoami".into())),
        "{anonymous:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 16: `aidf token create` prints text (id, tenant, role, ISO 8601 UTC creation time, the
/// secret once with a warning) and, with `--json`, the stored values and the secret.
#[test]
fn token_create_prints_text_with_the_secret_once_and_json_on_request() {
    let dir = tmpdir("token-text");
    let db = dir.join("aidf.db");
    let db = db.to_str().expect("utf8");
    let text = String::from_utf8(token_create(db, "acme", "viewer", &[], None)).expect("utf8");
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` in {text}"))
            .trim()
            .to_string()
    };
    let (id, created) = (field("id "), field("created "));
    assert!(id.starts_with("tok_"), "{id}");
    let parsed = chrono::DateTime::parse_from_rfc3339(&created).expect("ISO 8601 time");
    assert!(
        created.ends_with('Z') && parsed.offset().local_minus_utc() == 0,
        "{created}"
    );
    // The secret is on its own indented line after the heading.
    let secret = text
        .lines()
        .skip_while(|l| !l.starts_with("secret (shown once):"))
        .find_map(|l| l.strip_prefix("    "))
        .expect("secret line")
        .to_string();
    assert!(secret.len() >= 32 && !secret.contains(' '), "{secret}");
    let redacted = text
        .replace(&secret, "[secret]")
        .replace(&id, "[id]")
        .replace(&created, "[created]");
    insta::assert_snapshot!("token_create_text", redacted);
    // It is the token: the server names its tenant and role.
    let srv = start(db, &[]);
    let me = call(&srv.base, "GET", "/v1/whoami", Some(&secret), None, &[]);
    assert_eq!(me.status, 200);
    assert_eq!(me.body["tenant"], "acme", "{:?}", me.body);
    drop(srv);

    let out = token_create(db, "acme", "officer", &["--json"], None);
    let v: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(
        (v["tenant"].as_str(), v["role"].as_str()),
        (Some("acme"), Some("officer"))
    );
    assert!(v["created_at"].is_i64(), "stored epoch milliseconds: {v}");
    assert!(
        v["id"].as_str().is_some_and(|i| i.starts_with("tok_")),
        "{v}"
    );
    assert_ne!(v["token"].as_str(), Some(secret.as_str()));
    assert!(v["token"].as_str().is_some_and(|t| t.len() >= 32), "{v}");
}
