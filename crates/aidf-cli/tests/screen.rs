//! `aidf screen`: one name, a batch, name pairs, other lists, and bad input (one line, exit 2).

use std::path::PathBuf;
use std::process::{Command, Output};

fn aidf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args(args)
        .output()
        .expect("runs aidf")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-screen-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn one_name_json_names_the_entry_its_terms_and_the_list_version() {
    let output = aidf(&["screen", "Huawei Tech. Co Ltd", "--country", "CN", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(answer["verdict"], "clear_hit");
    let hit = answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|h| h["entry"]["name"] == "Huawei Technologies Co., Ltd. (Huawei)")
        .expect("the Huawei Entity List entry");
    assert_eq!(hit["verdict"], "clear_hit");
    assert_eq!(
        hit["entry"]["license"]["scope"]["kind"],
        "all_items_subject_to_ear"
    );
    assert_eq!(
        hit["entry"]["license"]["review_policy_kind"],
        "presumption_of_denial"
    );
    assert_eq!(hit["list_version"]["date"], "2026-07-31");
    assert!(
        hit["list_version"]["sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(!hit["explanation"]["aligned"].as_array().unwrap().is_empty());
}

#[test]
fn pairs_give_one_element_per_pair_in_order() {
    let dir = temp_dir("pairs");
    let file = dir.join("pairs.csv");
    std::fs::write(
        &file,
        "schema,name1,name2\nPerson,Vladimir Putin,\"PUTIN, Vladimir Vladimirovich\"\n\
         Company,Huawei Technologies Co. Ltd.,Huawei Device Co. Ltd.\nOrganization,华为技术有限公司,Huawei Technologies\n",
    )
    .expect("write");
    let output = aidf(&[
        "screen",
        "compare",
        "--pairs",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let answers: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("json array");
    let matches: Vec<bool> = answers
        .iter()
        .map(|a| a["match"].as_bool().unwrap())
        .collect();
    assert_eq!(matches, [true, false, true]);
    for answer in &answers {
        let score = answer["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(answer["explanation"]["aligned"].is_array());
    }
}

#[test]
fn batch_screens_every_row_in_order() {
    let dir = temp_dir("batch");
    let file = dir.join("names.csv");
    std::fs::write(&file, "name,country\nHuawei Technologies Co Ltd,CN\nAcme Widgets of Ohio,US\nBANK MELLI IRAN,IR\n")
        .expect("write");
    let output = aidf(&["screen", "--batch", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let verdicts: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(verdicts, ["clear_hit", "no_match", "clear_hit"]);
}

#[test]
fn other_lists_from_a_manifest_including_ofac_csv() {
    let dir = temp_dir("ofac");
    std::fs::write(
        dir.join("sdn.csv"),
        "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\u{1a}",
    )
    .expect("write");
    std::fs::write(
        dir.join("add.csv"),
        "36,25,-0- ,\"Havana\",\"Cuba\",-0- \r\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("alt.csv"),
        "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \r\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("lists.toml"),
        "[[list]]\nid = \"sdn\"\nformat = \"ofac\"\ndate = \"2021-07-07\"\nfiles = { sdn = \"sdn.csv\", add = \"add.csv\", alt = \"alt.csv\" }\n",
    )
    .expect("write");
    let output = aidf(&[
        "screen",
        "Aero Caribbean",
        "--lists",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(answer["verdict"], "clear_hit");
    assert_eq!(answer["list_versions"][0]["id"], "sdn");
    assert_eq!(answer["hits"][0]["matched_name"], "AERO-CARIBBEAN");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = temp_dir("bad");
    std::fs::write(
        dir.join("lists.toml"),
        "[[list]]\nid = \"x\"\nformat = \"csl\"\ndate = \"2026-07-31\"\nfile = \"x.csv\"\n",
    )
    .expect("write");
    std::fs::write(dir.join("x.csv"), "source,name,type\nEL,Acme,\nEL,,\n").expect("write");
    let batch = dir.join("names.csv");
    let long = "a".repeat(10 * 1024 * 1024);
    std::fs::write(&batch, format!("name\nAcme\n{long}\n")).expect("write");
    let lists = dir.to_str().unwrap();
    let batch = batch.to_str().unwrap();
    let cases: [(&[&str], String); 4] = [
        (
            &["screen", " "],
            "error: field `name`: empty (expected a party name)".to_owned(),
        ),
        (
            &["screen", "Acme", "--lists", lists],
            format!("error: {lists}/x.csv: row 2: field `name`: empty (expected the party's name)"),
        ),
        (
            &["screen", "Acme", "--country", "Chinaland"],
            "error: field `country`: `Chinaland` (expected an ISO 3166-1 alpha-2 code such as CN)"
                .to_owned(),
        ),
        (
            &["screen", "--batch", batch, "-o", "/dev/null"],
            format!(
                "error: {batch}: 1 rows not screened; first: row 2: field `name`: 10485760 bytes (expected at most 1024)"
            ),
        ),
    ];
    for (args, expected) in cases {
        let output = aidf(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&output).trim_end(), expected, "{args:?}");
    }
}

/// `POST /v1/screen` on a spawned `aidf serve --insecure-local`: (status, JSON body).
fn post_screen(base: &str, body: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(base).expect("connect");
    let request = format!(
        "POST /v1/screen HTTP/1.1\r\nHost: {base}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response[9..12].parse().expect("status");
    let json = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(json).unwrap_or_default())
}

#[test]
fn http_screen_answers_hits_and_problems() {
    use std::io::BufRead;
    let dir = temp_dir("serve");
    let db = dir.join("aidf.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aidf"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--insecure-local",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn aidf serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    let base = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("listening line")
        .to_owned();
    let (status, answer) = post_screen(&base, r#"{"name":"华为技术有限公司","country":"CN"}"#);
    let (bad_status, problem) = post_screen(&base, r#"{"name":"  "}"#);
    let (type_status, type_problem) = post_screen(&base, r#"{"name":"Acme","type":"robot"}"#);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
    assert_eq!(answer["verdict"], "clear_hit");
    assert!(
        answer["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["entry"]["name"] == "Huawei Technologies Co., Ltd. (Huawei)")
    );
    assert_eq!(bad_status, 422);
    assert_eq!(
        problem["detail"],
        "field `name`: empty (expected a party name)"
    );
    assert_eq!(type_status, 422);
    assert_eq!(
        type_problem["detail"],
        "field `type`: `robot` (expected person or organization)"
    );
}

#[test]
fn lists_from_a_directory_are_cached_as_a_snapshot_and_read_back_the_same() {
    let cache = temp_dir("cache");
    let lists = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/lists");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_aidf"))
            .args(["screen", "Bank Melli Iran", "--lists", lists, "--json"])
            .env("AIDF_CACHE_DIR", &cache)
            .output()
            .expect("runs aidf")
    };
    let built = run();
    assert!(built.status.success(), "{}", stderr(&built));
    let snapshots: Vec<PathBuf> = std::fs::read_dir(&cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "snapshot"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let cached = run();
    assert_eq!(cached.stdout, built.stdout);
    assert_eq!(stderr(&cached), "");
    let mut bytes = std::fs::read(&snapshots[0]).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&snapshots[0], bytes).expect("write");
    let damaged = run();
    assert_eq!(damaged.stdout, built.stdout);
    assert!(
        stderr(&damaged).contains("corrupt: checksum mismatch"),
        "{}",
        stderr(&damaged)
    );
}
