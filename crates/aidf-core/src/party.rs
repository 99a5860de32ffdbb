//! Parties with identity: a name compared after Unicode normalization (NFKC, case folding,
//! whitespace collapsed; no script is stripped) and the headquarters country, under a stable id
//! derived from both. Ledger accounts of a consignee are keyed by this id, never by the raw name.

use serde::Serialize;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// The most characters a party name may have (after trimming).
pub const NAME_MAX_CHARS: usize = 512;

/// Why a party name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyNameError {
    /// Empty or only white space.
    #[error("is empty; expected a party name")]
    Empty,
    /// Longer than [`NAME_MAX_CHARS`].
    #[error("has {chars} characters; expected at most {max}", max = NAME_MAX_CHARS)]
    TooLong {
        /// Characters given.
        chars: usize,
    },
    /// A control character (NUL, line feed, …).
    #[error("contains the control character U+{code:04X}; expected printable text")]
    Control {
        /// The code point.
        code: u32,
    },
}

/// Checks a party name: not empty, at most [`NAME_MAX_CHARS`], no control characters.
pub fn check_name(name: &str) -> Result<(), PartyNameError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(PartyNameError::Empty);
    }
    if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
        return Err(PartyNameError::Control { code: u32::from(c) });
    }
    let chars = trimmed.chars().count();
    if chars > NAME_MAX_CHARS {
        return Err(PartyNameError::TooLong { chars });
    }
    Ok(())
}

/// The name as compared: NFKC, lower-cased (Unicode), runs of white space made one space,
/// trimmed. Every script is kept.
pub fn normalize_name(name: &str) -> String {
    // ASCII is its own NFKC form, and lower-cases byte by byte.
    let folded: String = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        let lower: String = name.nfkc().flat_map(char::to_lowercase).collect();
        // Lower-casing can denormalize (e.g. U+0130); normalize once more.
        lower.nfkc().collect()
    };
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A party's stable id: `p` and 24 hex digits of sha256 over the normalized name and the
/// headquarters country. The same party always gets the same id; two names that differ after
/// normalization never share one (barring a 96-bit collision).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PartyId(String);

impl PartyId {
    /// The id of the party named `name` headquartered in `hq` (an ISO code, upper case).
    pub fn of(name: &str, hq: &str) -> PartyId {
        let mut h = Sha256::new();
        h.update(normalize_name(name).as_bytes());
        h.update([0x1f]);
        h.update(hq.trim().to_ascii_uppercase().as_bytes());
        let digest = h.finalize();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(25);
        id.push('p');
        for b in &digest[..12] {
            id.push(char::from(HEX[usize::from(b >> 4)]));
            id.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        PartyId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "schema")]
crate::schema::string_type!(
    PartyId,
    "A party's stable id: `p` and 24 hex digits",
    [] as [&str; 0]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_any_script_keep_their_identity() {
        let names = [
            "华为技术",
            "中兴通讯",
            "شركة ألف",
            "ООО Ромашка",
            "Acme",
            "ACME GmbH",
        ];
        let ids: std::collections::BTreeSet<PartyId> =
            names.iter().map(|n| PartyId::of(n, "MY")).collect();
        assert_eq!(ids.len(), names.len());
    }

    #[test]
    fn normalization_equates_what_a_reader_would() {
        assert_eq!(normalize_name("  ACME\u{00a0} Corp "), "acme corp");
        assert_eq!(normalize_name("ＡＣＭＥ"), "acme");
        assert_eq!(normalize_name("Cafe\u{301}"), normalize_name("Café"));
        assert_eq!(
            PartyId::of("Acme  Corp", "my"),
            PartyId::of("acme corp", "MY")
        );
        assert_ne!(
            PartyId::of("Acme Corp", "MY"),
            PartyId::of("Acme Corp", "SG")
        );
    }

    proptest::proptest! {
        /// The ASCII fast path gives what the full Unicode path gives.
        #[test]
        fn ascii_fast_path_equals_the_unicode_path(name in "[ -~]{0,40}") {
            let slow: String = name.nfkc().flat_map(char::to_lowercase).collect::<String>().nfkc().collect();
            let slow = slow.split_whitespace().collect::<Vec<_>>().join(" ");
            proptest::prop_assert_eq!(normalize_name(&name), slow);
        }
    }

    #[test]
    fn bad_names_are_named() {
        assert_eq!(check_name("  "), Err(PartyNameError::Empty));
        assert_eq!(
            check_name("a\u{0}b"),
            Err(PartyNameError::Control { code: 0 })
        );
        let long = "x".repeat(NAME_MAX_CHARS + 1);
        assert_eq!(
            check_name(&long),
            Err(PartyNameError::TooLong {
                chars: NAME_MAX_CHARS + 1
            })
        );
        assert!(check_name(&"华".repeat(NAME_MAX_CHARS)).is_ok());
    }
}
