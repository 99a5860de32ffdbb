//! `aidf`: export-control determinations under the AI Diffusion framework and the rules around it.

mod application_cmd;
mod batch_cmd;
mod cmd;
mod config;
mod fleet_cmd;
mod ledger_cmd;
mod ledger_view;
mod policy_load;
mod reevaluate_cmd;
mod regime_cmd;
mod register_cmd;
mod render;
mod report_cmd;
mod rescreen_cmd;
mod screen_cmd;
mod screen_decisions_cmd;
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
    /// Settings file (default: `AIDF_CONFIG`, else ./aidf.toml if present): `db`, `posture`,
    /// `policy_dir`. Flags win over `AIDF_DB`, which wins over the file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: cmd::Command,
}

// The server allocates per request (JSON in and out, audit records); glibc malloc showed up at
// ~18% of a load profile, mimalloc is markedly faster for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ran = config::init(cli.config.as_deref()).and_then(|()| {
        let policy_dir = config::policy_dir(cli.policy_dir.as_deref());
        cmd::run(cli.command, policy_dir.as_deref(), &cli.regime_file)
    });
    match ran {
        Ok(code) => code,
        // A closed pipe (e.g. `| head`) is the reader's choice, not an error.
        Err(err) if err.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// `aidf completions SHELL`: the completion script on standard output.
pub(crate) fn completions(shell: clap_complete::Shell) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "aidf", &mut std::io::stdout());
}

/// `aidf man`: the manual page (roff) on standard output, or one page per command in `dir`.
pub(crate) fn man(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    use anyhow::Context;
    use clap::CommandFactory;
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("option `--dir`: creating `{}`", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("option `--dir`: writing pages to `{}`", dir.display()))
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::Write::write_all(&mut std::io::stdout(), &out)?;
            Ok(())
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let broken = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.downcast_ref::<std::io::Error>().is_some_and(broken)
        || e.downcast_ref::<csv::Error>()
            .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if broken(io)))
}

/// The error and its causes on one line, each said once: many errors print their source in
/// their own text, and the chain would repeat it ("unknown account `x`: unknown account `x`").
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(text.as_str()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
