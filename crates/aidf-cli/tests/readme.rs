//! Issue 16: every command in README.md runs, and prints what the README says it prints.
//!
//! The README's tour is a series of ```console blocks: a line `$ COMMAND` is run with `sh` in one
//! scratch directory shared by the whole README (the tour's ledger carries from one step to the
//! next), with `examples/` linked into it and the `aidf` under test first on `PATH`; the lines
//! after it, up to the next `$ ` line, are its output (standard output and error, as a terminal
//! shows them). In the expected output a line `...` stands for any number of lines, `...` inside a
//! line for any text, and a last line `[exit N]` for the exit status (0 when absent).
//!
//! Two other kinds of block are allowed and checked: the first ```sh block (the README's two
//! commands: `cargo run --release -- ARGS` is run as `aidf ARGS` in a fresh directory and must
//! succeed; `cargo test --workspace` must be what `.ci/run` runs), and a ```sh block whose
//! command is `aidf serve …`, which is started on a free port and must serve the dashboard and
//! the shipments the tour recorded. Any other shell block fails the test, so nothing in the README
//! is a command that no test runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fenced block of the README: its language, its first line's number and its lines.
struct Block {
    lang: String,
    line: usize,
    body: Vec<String>,
}

/// One `$ COMMAND` of a console block with what it must print and its exit status.
struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
    exit: i32,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_string(),
                    line: i + 1,
                    body: Vec::new(),
                })
            }
            (Some(b), Some(_)) => out.push(b),
            (Some(mut b), None) => {
                b.body.push(line.to_string());
                open = Some(b);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md: a fenced block is not closed");
    out
}

fn steps(block: &Block) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for (i, line) in block.body.iter().enumerate() {
        if let Some(command) = line.strip_prefix("$ ") {
            out.push(Step {
                line: block.line + 1 + i,
                command: command.to_string(),
                expected: Vec::new(),
                exit: 0,
            });
            continue;
        }
        let step = out.last_mut().unwrap_or_else(|| {
            panic!(
                "README.md:{}: a console block starts with output, not `$ `",
                block.line
            )
        });
        match line
            .strip_prefix("[exit ")
            .and_then(|r| r.strip_suffix(']'))
        {
            Some(code) => step.exit = code.parse().expect("[exit N] with a number"),
            None => step.expected.push(line.clone()),
        }
    }
    out
}

/// Whether `actual` fits `expected`, where `...` stands for any text.
fn line_fits(expected: &str, actual: &str) -> bool {
    let (expected, actual) = (expected.trim_end(), actual.trim_end());
    let parts: Vec<&str> = expected.split("...").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    if !rest.ends_with(last) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the lines `actual` fit the lines `expected`, where a line `...` stands for any number
/// of lines.
fn lines_fit(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|skip| lines_fit(rest, &actual[skip..]))
        }
        Some((e, rest)) => {
            !actual.is_empty() && line_fits(e, actual[0]) && lines_fit(rest, &actual[1..])
        }
    }
}

/// The environment of a newcomer's shell: the `aidf` under test first on `PATH`, no ledger or
/// config chosen by the environment, a scratch home, UTC.
fn shell(dir: &Path, command: &str) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_aidf"))
        .parent()
        .expect("binary directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec 2>&1\n{command}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env("USER", "officer")
        .env("TZ", "UTC")
        .env_remove("AIDF_DB")
        .env_remove("AIDF_CONFIG")
        .env_remove("AIDF_AUDIT_KEY")
        .env_remove("RUST_LOG");
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aidf-readme-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    std::os::unix::fs::symlink(repo_root().join("examples"), dir.join("examples"))
        .expect("link examples");
    dir
}

fn run_step(dir: &Path, step: &Step) -> Result<(), String> {
    let out = shell(dir, &step.command).output().expect("sh runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let actual: Vec<&str> = text.lines().collect();
    let code = out.status.code().unwrap_or(-1);
    if code == step.exit && lines_fit(&step.expected, &actual) {
        return Ok(());
    }
    Err(format!(
        "README.md:{}: `{}` exited {code} (README: {}) and printed:\n{text}\n--- README expects:\n{}",
        step.line,
        step.command,
        step.exit,
        step.expected.join("\n")
    ))
}

/// `cargo run --release -- ARGS` of the first screen, run as `aidf ARGS` in a fresh directory;
/// `cargo test --workspace` must be the command CI runs.
fn first_screen(block: &Block) -> usize {
    let mut checked = 0;
    for (i, line) in block.body.iter().enumerate() {
        let line = line.trim();
        if let Some(args) = line.strip_prefix("cargo run --release -- ") {
            let dir = scratch("first");
            let out = shell(&dir, &format!("aidf {args}"))
                .output()
                .expect("sh runs");
            assert!(
                out.status.success(),
                "README.md:{}: `{line}` failed: {}",
                block.line + 1 + i,
                String::from_utf8_lossy(&out.stdout)
            );
            let _ = std::fs::remove_dir_all(dir);
            checked += 1;
        } else if line == "cargo test --workspace" {
            let ci = std::fs::read_to_string(repo_root().join(".ci/run")).expect(".ci/run");
            assert!(
                ci.lines().any(|l| l.trim() == line),
                ".ci/run does not run the README's test command `{line}`"
            );
            checked += 1;
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "README.md:{}: `{line}` in the first screen is not a command this test knows",
                block.line + 1 + i
            );
        }
    }
    assert_eq!(checked, 2, "the first screen gives the two commands");
    checked
}

/// A GET over a plain TCP connection: the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw)
}

/// `aidf serve …` of the tour, on a free port: the dashboard and the tour's shipments are served.
fn serve(dir: &Path, block: &Block) -> usize {
    let command = block.body.iter().map(|l| l.trim()).find(|l| !l.is_empty());
    let command = command.expect("a command").split(" #").next().unwrap_or("");
    assert!(
        command.starts_with("aidf serve"),
        "README.md:{}: `{command}` is not a command this test knows",
        block.line
    );
    let mut child = shell(dir, &format!("exec {command} --addr 127.0.0.1:0"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("aidf serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = lines
        .find_map(|l| {
            l.ok()?
                .strip_prefix("listening on http://")
                .map(String::from)
        })
        .expect("aidf serve says where it listens");
    let (page, html) = get(&addr, "/");
    let (list, shipments) = get(&addr, "/v1/shipments");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(page, 200, "README.md:{}: GET / of `{command}`", block.line);
    assert!(html.contains("<html"), "the dashboard is an HTML page");
    assert_eq!(list, 200, "GET /v1/shipments of `{command}`: {shipments}");
    assert!(
        shipments.contains("\"S-1\""),
        "the dashboard's register lists the tour's shipment: {shipments}"
    );
    1
}

#[test]
fn every_command_in_the_readme_runs_and_prints_what_it_says() {
    let text = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let dir = scratch("tour");
    let (mut commands, mut failures) = (0, Vec::new());
    for (n, block) in blocks(&text).iter().enumerate() {
        match block.lang.as_str() {
            "sh" if n == 0 => commands += first_screen(block),
            "console" => {
                for step in steps(block) {
                    commands += 1;
                    if let Err(e) = run_step(&dir, &step) {
                        failures.push(e);
                    }
                }
            }
            "sh" => commands += serve(&dir, block),
            "bash" | "shell" => panic!("README.md:{}: a shell block no test runs", block.line),
            "" if block.body.iter().any(|l| l.starts_with("$ ")) => {
                panic!("README.md:{}: commands in a block no test runs", block.line)
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        commands >= 10,
        "only {commands} commands found in README.md"
    );
}

#[test]
fn the_output_matcher_can_fail() {
    let exp = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(lines_fit(&exp("a\n...\nd"), &["a", "b", "c", "d"]));
    assert!(lines_fit(&exp("a\n...\nd"), &["a", "d"]));
    assert!(!lines_fit(&exp("a\n...\nd"), &["a", "b", "c"]));
    assert!(!lines_fit(&exp("a\nb"), &["a", "b", "c"]));
    assert!(line_fits("TPP ... per chip", "TPP 15,832 per chip"));
    assert!(!line_fits("TPP ... per chip", "TPP 15,832 per die"));
    assert!(line_fits("x ...", "x y"));
    assert!(!line_fits("ab...ba", "aba"));
}
