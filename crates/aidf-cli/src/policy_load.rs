//! Reading a `--policy-dir`: files present there replace the embedded ones.

use std::fs;
use std::path::{Path, PathBuf};

use aidf_core::{Policy, PolicySources};
use anyhow::{Context, Result};

/// Loads the embedded policy, with files from `dir` replacing their embedded counterparts. Files in
/// `dir/regimes/` replace the embedded regime file of the same name and add the others (so a
/// hypothetical regime can `extends` an embedded one). `regime_files` are added last.
pub fn load(dir: Option<&Path>, regime_files: &[PathBuf]) -> Result<Policy> {
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
        read(&mut src.restrictions_toml)?;
        let regimes = dir.join("regimes");
        if regimes.is_dir() {
            let mut files: Vec<_> = fs::read_dir(&regimes)
                .with_context(|| format!("reading `{}`", regimes.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for p in files {
                let text = fs::read_to_string(&p)
                    .with_context(|| format!("reading policy file `{}`", p.display()))?;
                let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                let slot = src.regimes.iter_mut().find(|(embedded, _)| {
                    Path::new(embedded)
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        == name
                });
                match slot {
                    Some(slot) => *slot = (p.display().to_string(), text),
                    None => src.regimes.push((p.display().to_string(), text)),
                }
            }
        }
    }
    for p in regime_files {
        let text = fs::read_to_string(p).map_err(|e| {
            crate::cmd::unreadable_as("option `--regime-file`:", p, &e, "a regime TOML file")
        })?;
        src.regimes.push((p.display().to_string(), text));
    }
    Ok(Policy::from_sources(&src)?)
}
