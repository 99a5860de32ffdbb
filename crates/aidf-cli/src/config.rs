//! Settings a user gives once instead of on every command: the environment and `aidf.toml`.
//!
//! Precedence, highest first: the command-line flag, the environment (`AIDF_DB`), the config file,
//! the built-in default (`./aidf.db`, posture as written, the embedded policy). The config file is
//! `--config FILE`, else `AIDF_CONFIG`, else `./aidf.toml` when it exists; a file named by the
//! flag or the variable must exist. Relative paths in it are relative to the file's folder, so a
//! project's `aidf.toml` means the same ledger from any working directory.
//!
//! ```toml
//! db = "ledger/aidf.db"        # or "postgres://user@host/db"
//! posture = "as-written"       # ledger posture of `ship` and `serve`: as-written | as-enforced
//! policy_dir = "policy"        # as --policy-dir
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::Deserialize;

use crate::cmd::PostureArg;

/// The ledger when neither a flag, `AIDF_DB` nor the config file names one.
pub const DEFAULT_DB: &str = "aidf.db";

/// The environment variable naming the ledger.
pub const DB_ENV: &str = "AIDF_DB";

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "AIDF_CONFIG";

/// The config file looked for in the working directory.
pub const CONFIG_FILE: &str = "aidf.toml";

/// `aidf.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    db: Option<String>,
    posture: Option<String>,
    policy_dir: Option<PathBuf>,
}

/// The settings in force, after the environment and the config file.
#[derive(Debug, Default)]
pub struct Settings {
    db: Option<String>,
    /// `db` came from `AIDF_DB` (not the config file).
    db_from_env: bool,
    posture: Option<PostureArg>,
    policy_dir: Option<PathBuf>,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Reads the environment and the config file once, before any command runs.
pub fn init(config_flag: Option<&Path>) -> Result<()> {
    let settings = load(
        config_flag,
        std::env::var_os(CONFIG_ENV).map(PathBuf::from),
        std::env::var(DB_ENV).ok(),
    )?;
    let _ = SETTINGS.set(settings);
    Ok(())
}

fn settings() -> &'static Settings {
    SETTINGS.get_or_init(Settings::default)
}

/// The ledger: `--db`, else `AIDF_DB`, else the config file's `db`, else `./aidf.db`.
pub fn db(flag: Option<&Path>) -> String {
    match flag {
        Some(p) => p.display().to_string(),
        None => settings()
            .db
            .clone()
            .unwrap_or_else(|| DEFAULT_DB.to_string()),
    }
}

/// Where the ledger `db` came from, for messages: the flag unless the environment or the config
/// file named exactly this one.
pub fn db_origin(db: &str) -> &'static str {
    let s = settings();
    match (&s.db, s.db_from_env) {
        (Some(d), true) if d == db => "variable `AIDF_DB`",
        (Some(d), false) if d == db => "config field `db`",
        _ => "option `--db`",
    }
}

/// The ledger's posture: the flag, else the config file's, else as written.
pub fn posture(flag: Option<PostureArg>) -> PostureArg {
    flag.or(settings().posture).unwrap_or(PostureArg::AsWritten)
}

/// The policy folder: `--policy-dir`, else the config file's `policy_dir`.
pub fn policy_dir(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| settings().policy_dir.clone())
}

/// Builds the settings from the named config file (flag, then variable, then `./aidf.toml` if
/// present) and `AIDF_DB`.
fn load(flag: Option<&Path>, env: Option<PathBuf>, db_env: Option<String>) -> Result<Settings> {
    let named = flag
        .map(|p| (p.to_path_buf(), "option `--config`"))
        .or(env.map(|p| (p, "variable `AIDF_CONFIG`")));
    let file = match named {
        Some((path, origin)) => {
            if !path.is_file() {
                bail!("{origin}: `{}` is not a file", path.display());
            }
            Some(path)
        }
        None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.is_file()),
    };
    let mut settings = match file {
        Some(path) => from_file(&path)?,
        None => Settings::default(),
    };
    if let Some(db) = db_env.filter(|d| !d.trim().is_empty()) {
        settings.db = Some(db);
        settings.db_from_env = true;
    }
    Ok(settings)
}

fn from_file(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config `{}`", path.display()))?;
    let parsed: FileConfig = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| {
            1 + text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
        });
        let at = line.map(|l| format!(" line {l}:")).unwrap_or_default();
        anyhow::anyhow!("config `{}`:{at} {}", path.display(), e.message().trim())
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let posture = parsed
        .posture
        .map(|p| {
            PostureArg::from_str(&p, true).map_err(|_| {
                anyhow::anyhow!(
                    "config `{}`: field `posture`: `{p}` is not a posture; expected as-written or as-enforced",
                    path.display()
                )
            })
        })
        .transpose()?;
    Ok(Settings {
        db: parsed.db.map(|d| relative_to(base, &d)),
        db_from_env: false,
        posture,
        policy_dir: parsed.policy_dir.map(|p| base.join(p)),
    })
}

/// A path from the config file, relative to its folder (a URL is left as it is).
fn relative_to(base: &Path, db: &str) -> String {
    if db.contains("://") || Path::new(db).is_absolute() {
        db.to_string()
    } else {
        base.join(db).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).expect("dir");
        let p = dir.join("aidf.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("aidf-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn file_values_are_relative_to_the_file_and_the_environment_beats_the_file() {
        let dir = scratch("rel");
        let p = write(
            &dir,
            "db = \"l/a.db\"\nposture = \"as_enforced\"\npolicy_dir = \"pol\"\n",
        );
        let s = load(Some(&p), None, None).expect("load");
        assert_eq!(s.db.as_deref(), Some(dir.join("l/a.db").to_str().unwrap()));
        assert!(matches!(s.posture, Some(PostureArg::AsEnforced)));
        assert_eq!(s.policy_dir, Some(dir.join("pol")));
        let s = load(Some(&p), None, Some("other.db".into())).expect("load");
        assert_eq!(s.db.as_deref(), Some("other.db"));
        let url = write(&dir, "db = \"postgres://u@h/d\"\n");
        let s = load(Some(&url), None, None).expect("load");
        assert_eq!(s.db.as_deref(), Some("postgres://u@h/d"));
    }

    #[test]
    fn bad_files_are_one_line_naming_the_file_the_line_and_the_field() {
        let dir = scratch("bad");
        let p = write(&dir, "db = \"a.db\"\ndbb = 1\n");
        let e = load(Some(&p), None, None).unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("unknown field `dbb`"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let p = write(&dir, "posture = \"sometimes\"\n");
        let e = load(Some(&p), None, None).unwrap_err().to_string();
        assert!(
            e.contains("field `posture`: `sometimes` is not a posture"),
            "{e}"
        );
        let e = load(Some(&dir.join("missing.toml")), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("option `--config`:"), "{e}");
        let e = load(None, Some(dir.join("missing.toml")), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("variable `AIDF_CONFIG`:"), "{e}");
    }
}
