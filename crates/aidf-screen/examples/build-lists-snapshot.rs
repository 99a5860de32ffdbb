//! Writes `policy/lists/csl.snapshot`: the default lists (`policy/lists/lists.toml` and
//! `csl.csv.gz`, as embedded in this build) built and indexed, in the snapshot layout that
//! `ListSet::default_lists` reads in place. The same lists give the same bytes
//! (`tests/snapshot.rs` checks the committed file is current).
//!
//! Usage: `cargo run --release -p aidf-screen --example build-lists-snapshot [OUT]`
//! (OUT defaults to `policy/lists/csl.snapshot` under the workspace root).

use std::path::PathBuf;
use std::process::ExitCode;

use aidf_screen::{DEFAULT_SNAPSHOT_FILE, ListSet, default_fingerprint};

fn main() -> ExitCode {
    let out = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(DEFAULT_SNAPSHOT_FILE)
        },
        PathBuf::from,
    );
    let set = match ListSet::default_lists_built() {
        Ok(set) => set,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(bytes) = set.to_snapshot(default_fingerprint()) else {
        eprintln!("error: the built set has no snapshot");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::write(&out, &bytes) {
        eprintln!("error: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("{}: {} bytes", out.display(), bytes.len());
    ExitCode::SUCCESS
}
