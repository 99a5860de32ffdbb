//! `aidf`: export-control determinations under the AI Diffusion framework and the rules around it.

mod batch_cmd;
mod cmd;
mod fleet_cmd;
mod ledger_cmd;
mod policy_load;
mod reevaluate_cmd;
mod regime_cmd;
mod render;
mod screen_cmd;
mod serve_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Classify AI chips, determine licenses and explain them, under the US advanced-computing export
/// rules (90 FR 4544 and its neighbours), as written or as enforced, on any date.
#[derive(Debug, Parser)]
#[command(name = "aidf", version, about, max_term_width = 100)]
struct Cli {
    /// Load policy files from DIR instead of the embedded defaults (files present replace theirs).
    #[arg(long, global = true, value_name = "DIR")]
    policy_dir: Option<PathBuf>,
    /// Add a regime file (e.g. a hypothetical that `extends` another); repeatable.
    #[arg(long, global = true, value_name = "FILE")]
    regime_file: Vec<PathBuf>,
    #[command(subcommand)]
    command: cmd::Command,
}

// The server allocates per request (JSON in and out, audit records); glibc malloc showed up at
// ~18% of a load profile, mimalloc is markedly faster for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli.command, cli.policy_dir.as_deref(), &cli.regime_file) {
        Ok(code) => code,
        Err(err) => {
            // Broken pipe (e.g. `| head`) is not an error worth reporting.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let msg = format!("{err:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
