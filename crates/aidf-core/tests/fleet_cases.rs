//! Data-driven fleet cases: every `tests/fleet/*.json` file is a fleet (JSON object, JSON text or
//! CSV text) with the expected check, headroom and plan answers, or the expected error.

use std::path::PathBuf;

use aidf_core::fleet::{Fleet, FleetError, FleetHeader, FleetInput, FleetRules, fleet_regime};
use aidf_core::input::VeuKind;
use aidf_core::{Policy, Posture};
use chrono::NaiveDate;
use serde_json::{Value, json};

fn policy() -> Policy {
    Policy::embedded().expect("embedded policy loads")
}

fn case_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fleet");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fleet exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn parse_input(case: &Value) -> Result<FleetInput, FleetError> {
    if let Some(obj) = case.get("fleet") {
        return FleetInput::from_json(&obj.to_string());
    }
    if let Some(text) = case.get("fleet_json").and_then(Value::as_str) {
        return FleetInput::from_json(text);
    }
    let text = case["fleet_csv"]
        .as_str()
        .expect("fleet, fleet_json or fleet_csv");
    let h = &case["csv_header"];
    let kind = match h["kind"].as_str() {
        Some("nveu") => VeuKind::Nveu,
        _ => VeuKind::Uveu,
    };
    FleetInput::from_csv(
        text,
        FleetHeader {
            owner: h["owner"].as_str().unwrap_or_default().into(),
            hq: h["hq"].as_str().unwrap_or_default().into(),
            kind,
            date: h["date"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .expect("date"),
        },
    )
}

/// Runs the whole pipeline the CLI runs, returning every answer as JSON.
fn run(policy: &Policy, case: &Value) -> Result<Value, FleetError> {
    let input = parse_input(case)?;
    let fleet = Fleet::resolve(&input, policy)?;
    let regime = fleet_regime(
        policy,
        fleet.date,
        Posture::AsWritten,
        case.get("regime").and_then(Value::as_str),
    )?;
    let rules = FleetRules::new(policy, regime)?;
    let report = rules.check(&fleet, fleet.date)?;
    let mut headrooms = Vec::new();
    for h in case["expect"]["headroom"].as_array().into_iter().flatten() {
        let country = policy
            .countries
            .lookup(h["country"].as_str().expect("country"))
            .expect("known country");
        let chip = h["chip"]
            .as_str()
            .map(|c| policy.catalog.lookup(c).expect("known chip"));
        let date = h["date"]
            .as_str()
            .map(|d| d.parse::<NaiveDate>().expect("date"))
            .unwrap_or(fleet.date);
        let hr = rules.headroom(&fleet, date, country, chip)?;
        headrooms.push(serde_json::to_value(&hr).expect("serializes"));
    }
    let plan = rules.plan(&fleet)?;
    Ok(json!({
        "check": serde_json::to_value(&report).expect("serializes"),
        "headroom": headrooms,
        "plan": serde_json::to_value(&plan).expect("serializes"),
    }))
}

fn rule_ref(v: &Value) -> Value {
    json!({"code": v["code"], "country": v["country"]})
}

fn check_case(name: &str, case: &Value, got: Result<Value, FleetError>) -> Vec<String> {
    let mut fails = Vec::new();
    let mut fail = |m: String| fails.push(format!("{name}: {m}"));
    let exp = &case["expect"];
    if let Some(want) = exp.get("error").and_then(Value::as_str) {
        match got {
            Ok(_) => fail(format!("expected error containing {want:?}, got an answer")),
            Err(e) => {
                let msg = e.to_string();
                if !msg.contains(want) {
                    fail(format!("error {msg:?} does not contain {want:?}"));
                }
                if msg.contains('\n') {
                    fail(format!("error {msg:?} spans lines"));
                }
            }
        }
        return fails;
    }
    let got = match got {
        Ok(v) => v,
        Err(e) => {
            fail(format!("unexpected error: {e}"));
            return fails;
        }
    };
    let check = &got["check"];
    if let Some(c) = exp.get("compliant") {
        if &check["compliant"] != c {
            fail(format!("compliant: want {c}, got {}", check["compliant"]));
        }
    }
    if let Some(want) = exp.get("violations").and_then(Value::as_array) {
        let got_v: Vec<Value> = check["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(rule_ref)
            .collect();
        let want_v: Vec<Value> = want.iter().map(rule_ref).collect();
        if got_v != want_v {
            fail(format!("violations: want {want_v:?}, got {got_v:?}"));
        }
        for (w, g) in want
            .iter()
            .zip(check["violations"].as_array().into_iter().flatten())
        {
            if let Some(l) = w.get("limit_tpp") {
                if &g["limit"]["tpp"] != l {
                    fail(format!("limit tpp: want {l}, got {}", g["limit"]["tpp"]));
                }
            }
        }
    }
    if let Some(shares) = exp.get("shares").and_then(Value::as_object) {
        let s = &check["shares"];
        for (k, want) in shares {
            let got_f = match k.as_str() {
                "us" | "tier1" | "tier2" | "tier3" => &s[k.as_str()]["fraction"],
                cc => &s["countries"][cc]["fraction"],
            };
            if got_f != want {
                fail(format!("share {k}: want {want}, got {got_f}"));
            }
        }
    }
    if let Some(want) = exp.get("assumptions").and_then(Value::as_array) {
        for a in want {
            let found = check["assumptions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|g| &g["switch"] == a);
            if !found {
                fail(format!("assumption {a} not reported"));
            }
        }
    }
    for (w, g) in exp["headroom"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(got["headroom"].as_array().into_iter().flatten())
    {
        let at = format!("headroom {}", w["country"]);
        for key in ["feasible", "tpp_headroom", "tpp_min"] {
            if let Some(want) = w.get(key) {
                if &g[key] != want {
                    fail(format!("{at} {key}: want {want}, got {}", g[key]));
                }
            }
        }
        if let Some(want) = w.get("binding") {
            let got_b = if g["binding"].is_null() {
                Value::Null
            } else {
                rule_ref(&g["binding"])
            };
            let want_b = if want.is_null() {
                Value::Null
            } else {
                rule_ref(want)
            };
            if got_b != want_b {
                fail(format!("{at} binding: want {want_b}, got {got_b}"));
            }
        }
        if let Some(want) = w.get("chips_headroom") {
            if &g["chip"]["chips_headroom"] != want {
                fail(format!(
                    "{at} chips_headroom: want {want}, got {}",
                    g["chip"]["chips_headroom"]
                ));
            }
        }
    }
    if let Some(p) = exp.get("plan") {
        let plan = &got["plan"];
        if let Some(want) = p.get("compliant_throughout") {
            if &plan["compliant_throughout"] != want {
                fail(format!(
                    "plan compliant_throughout: want {want}, got {}",
                    plan["compliant_throughout"]
                ));
            }
        }
        if let Some(n) = p.get("steps").and_then(Value::as_u64) {
            let got_n = plan["steps"].as_array().map_or(0, Vec::len) as u64;
            if got_n != n {
                fail(format!("plan steps: want {n}, got {got_n}"));
            }
        }
        let fb = &plan["first_break"];
        if let Some(want) = p.get("first_break") {
            if &fb["date"] != want {
                fail(format!("plan first_break: want {want}, got {}", fb["date"]));
            }
        }
        if let Some(want) = p.get("violations").and_then(Value::as_array) {
            let codes: Vec<&Value> = fb["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| &v["code"])
                .collect();
            let want: Vec<&Value> = want.iter().collect();
            if codes != want {
                fail(format!("plan violations: want {want:?}, got {codes:?}"));
            }
        }
        if let Some(want) = p.get("fix").and_then(Value::as_object) {
            for (k, v) in want {
                if &fb["fix"][k.as_str()] != v {
                    fail(format!(
                        "plan fix {k}: want {v}, got {}",
                        fb["fix"][k.as_str()]
                    ));
                }
            }
        }
    }
    fails
}

#[test]
fn fleet_case_table() {
    let policy = policy();
    let files = case_files();
    assert!(files.len() >= 20, "case table has {} files", files.len());
    let mut fails = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let case: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", f.display()));
        let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        fails.extend(check_case(name, &case, run(&policy, &case)));
    }
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

#[test]
fn shares_of_case_fleets_sum_to_the_total() {
    let policy = policy();
    for f in case_files() {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("readable")).expect("json");
        let Ok(v) = run(&policy, &case) else { continue };
        let s = &v["check"]["shares"];
        let total = s["tpp_total"].as_u64().expect("total");
        let by_country: u64 = s["countries"]
            .as_object()
            .expect("countries")
            .values()
            .map(|c| c["tpp"].as_u64().expect("tpp"))
            .sum();
        let by_tier: u64 = ["tier1", "tier2", "tier3"]
            .iter()
            .map(|t| s[*t]["tpp"].as_u64().expect("tpp"))
            .sum();
        assert_eq!(by_country, total, "{}", f.display());
        assert_eq!(by_tier, total, "{}", f.display());
    }
}
