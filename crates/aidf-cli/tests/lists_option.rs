//! Issue 14, item 1: `--lists DIR` replaces the embedded screening lists for `check` and `ship`
//! (and `serve`, through the same process-wide set): a party on the given lists only is found,
//! and the answer names the given list version; a directory that cannot be read is one line
//! naming the option (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SDN: &str = "Specially Designated Nationals (SDN) - Treasury Department";
const EL: &str = "Entity List (EL) - Bureau of Industry and Security";

fn aidf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .current_dir(dir)
        .env("AIDF_CACHE_DIR", dir.join("cache"))
        .env_remove("AIDF_DB")
        .output()
        .expect("run aidf")
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-lists-option-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lists")).expect("mkdir");
    let csv = format!(
        "source,entity_number,type,name,federal_register_notice\n\
         \"{SDN}\",SDN-3,Entity,Cobalt Lattice Trading LLC,91 FR 2003\n\
         \"{EL}\",EL-90,Entity,Harbor Freight Shipping Co,90 FR 1090\n"
    );
    std::fs::write(dir.join("lists/csl.csv"), csv).expect("csv");
    std::fs::write(
        dir.join("lists/lists.toml"),
        "[[list]]\nid = \"csl-given\"\nformat = \"csl\"\ndate = \"2026-08-31\"\nfile = \"csl.csv\"\n",
    )
    .expect("manifest");
    std::fs::write(
        dir.join("in.json"),
        r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"Cobalt Lattice Trading LLC","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":10}"#,
    )
    .expect("input");
    dir
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn check_and_ship_screen_against_the_given_lists() {
    let dir = scratch("given");
    let given = json(&aidf(
        &dir,
        &["check", "in.json", "--lists", "lists", "--json"],
    ));
    let hit = &given["screening"]["parties"][0]["hits"][0];
    assert_eq!(
        (&hit["list"], &hit["entry_id"], &hit["list_version"]),
        (&"SDN".into(), &"SDN-3".into(), &"csl-given".into()),
        "{given}"
    );
    assert!(given["screening"]["refusal"].is_string(), "{given}");
    // The embedded lists do not name this (made-up) party.
    let default = json(&aidf(&dir, &["check", "in.json", "--json"]));
    assert!(default["screening"]["refusal"].is_null(), "{default}");

    let shipped = json(&aidf(
        &dir,
        &[
            "ship", "in.json", "--lists", "lists", "--db", "l.db", "--json",
        ],
    ));
    assert_eq!(shipped["status"], "refused", "{shipped}");
    assert!(
        shipped["refusal"]
            .as_str()
            .is_some_and(|r| r.contains("SDN")),
        "{shipped}"
    );
}

#[test]
fn an_unreadable_lists_directory_is_one_line() {
    let dir = scratch("bad");
    for cmd in [
        &["check", "in.json"][..],
        &["ship", "in.json", "--db", "l.db"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--lists", "missing"]);
        let out = aidf(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: option `--lists`: cannot read missing/lists.toml"),
            "{err}"
        );
    }
    assert!(!dir.join("l.db").exists(), "nothing recorded");
}
