//! The error of a policy file that failed to load, a leaf: the policy loader and the regime-file
//! merger both build it (re-exported as `policy::PolicyError` and `aidf_core::PolicyError`).

/// A policy file that failed to load. The message names the file, the line when known, and the
/// field and value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy file `{file}`{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct PolicyError {
    /// File name as given in [`PolicySources`](crate::PolicySources).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(file: &str, message: impl Into<String>) -> Self {
        PolicyError {
            file: file.to_string(),
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn toml(file: &str, text: &str, err: &toml::de::Error) -> Self {
        let line = err
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        PolicyError {
            file: file.to_string(),
            line,
            message: err.message().replace('\n', " ").trim().to_string(),
        }
    }
}
