//! Reading a `--policy-dir`: files present there replace the embedded ones.

use std::fs;
use std::path::Path;

use aidf_core::{Policy, PolicySources};
use anyhow::{Context, Result};

/// Loads the embedded policy, with files from `dir` replacing their embedded counterparts. A
/// `regimes/` directory in `dir` replaces the embedded regimes as a whole.
pub fn load(dir: Option<&Path>) -> Result<Policy> {
    let mut src = PolicySources::embedded();
    if let Some(dir) = dir {
        if !dir.is_dir() {
            anyhow::bail!(
                "option `--policy-dir`: `{}` is not a directory",
                dir.display()
            );
        }
        let read = |slot: &mut (String, String)| -> Result<()> {
            let path = dir.join(&slot.0);
            if path.exists() {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("reading policy file `{}`", path.display()))?;
                *slot = (path.display().to_string(), text);
            }
            Ok(())
        };
        read(&mut src.countries_csv)?;
        read(&mut src.groups_toml)?;
        read(&mut src.chips_toml)?;
        read(&mut src.timeline_toml)?;
        let regimes = dir.join("regimes");
        if regimes.is_dir() {
            let mut files: Vec<_> = fs::read_dir(&regimes)
                .with_context(|| format!("reading `{}`", regimes.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            src.regimes = files
                .into_iter()
                .map(|p| {
                    let text = fs::read_to_string(&p)
                        .with_context(|| format!("reading policy file `{}`", p.display()))?;
                    Ok((p.display().to_string(), text))
                })
                .collect::<Result<_>>()?;
        }
    }
    Ok(Policy::from_sources(&src)?)
}
