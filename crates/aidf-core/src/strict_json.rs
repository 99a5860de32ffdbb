//! One strict reader for every JSON document a person or a client writes: a determination input,
//! a fleet, model weights, an application, license conditions, an HTTP request body. Exactly one
//! document (trailing data is an error naming its position), unknown fields refused where the type
//! says so, and every failure one plain line naming the field path (`item.hbm.bandwidth_gbs`),
//! never serde's wording.

use serde::de::DeserializeOwned;

use crate::input_error::{InputError, plain_json_error};

/// Reads `text` as exactly one JSON object of `T`. `document` names it for messages about its
/// top level ("a fleet", "a determination input").
pub fn parse_document<T: DeserializeOwned>(text: &str, document: &str) -> Result<T, InputError> {
    // The common case, valid input, parses without tracking the path; only a failure is parsed
    // again to name the field.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    // serde reads a struct from an array too (by position); a person's document is an object.
    if text.trim_start().starts_with('[') {
        return Err(InputError {
            path: String::new(),
            message: format!("the input must be a JSON object ({document}), not an array"),
        });
    }
    parse_slowly(text, document)
}

/// Reads `text` as exactly one JSON array of `T` (`document` names the list).
pub fn parse_list<T: DeserializeOwned>(text: &str, document: &str) -> Result<Vec<T>, InputError> {
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    if !text.trim().is_empty() && !text.trim_start().starts_with('[') {
        return Err(InputError {
            path: String::new(),
            message: format!("the input must be a JSON array ({document})"),
        });
    }
    parse_slowly(text, document)
}

/// The failure of a document the fast path refused, named by its field path.
fn parse_slowly<T: DeserializeOwned>(text: &str, document: &str) -> Result<T, InputError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let first: Result<T, _> = serde_path_to_error::deserialize(&mut *de);
    match first {
        Ok(value) => de.end().map(|()| value).map_err(|e| InputError {
            path: String::new(),
            message: format!(
                "invalid JSON: {}; the input must be exactly one JSON document",
                crate::input_error::with_short_position(&e)
            ),
        }),
        Err(e) => {
            // serde_path_to_error writes `?` for a key it had not read yet (the text broke off
            // inside an object): the field is the object around it.
            let path = e.path().to_string();
            let path = path.trim_end_matches('?').trim_end_matches('.');
            Err(plain_json_error(path, &e.into_inner(), text, document))
        }
    }
}

/// Reads `bytes` (an HTTP body) as exactly one JSON document of `T`; bytes that are not UTF-8
/// are an error at the top level.
pub fn parse_document_bytes<T: DeserializeOwned>(
    bytes: &[u8],
    document: &str,
) -> Result<T, InputError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_document(text, document),
        Err(e) => Err(InputError {
            path: String::new(),
            message: format!(
                "the body is not UTF-8 text (invalid byte at offset {}); expected a JSON object ({document})",
                e.valid_up_to()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_document;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        count: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    /// Each malformed document: the field path named and the one line said, in plain words.
    #[test]
    fn every_failure_is_one_plain_line_naming_the_field() {
        let cases = [
            (
                r#"{"name": "a", "count": 1}{}"#,
                "",
                "exactly one JSON document",
            ),
            (
                r#"{"name": "a", "count": 1} x"#,
                "",
                "exactly one JSON document",
            ),
            (
                r#"{"name": "a", "count": "x"}"#,
                "count",
                "expected a whole number",
            ),
            (
                r#"{"name": "a", "count": 1, "inner": {"flag": 1}}"#,
                "inner.flag",
                "",
            ),
            (
                r#"{"name": "a", "count": 1, "extra": 2}"#,
                "extra",
                "unknown field",
            ),
            (r#"{"name": "a"}"#, "count", "required but missing"),
            (
                r#"[1]"#,
                "",
                "must be a JSON object (a test document), not an array",
            ),
            (
                r#"7"#,
                "",
                "must be a JSON object (a test document), not a number",
            ),
            ("", "", "the input is empty"),
            (r#"{"name": "a", "#, "", "ends early"),
            (
                r#"{"name": "a", "count": 1, "inner": {"#,
                "inner",
                "ends early",
            ),
        ];
        for (text, path, needle) in cases {
            let e = parse_document::<Doc>(text, "a test document").expect_err(text);
            assert_eq!(e.path, path, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
            for leak in [
                "invalid type",
                "expected u32",
                "at line",
                "variant identifier",
            ] {
                assert!(!e.message.contains(leak), "{text}: serde's words in `{e}`");
            }
        }
        let ok: Doc = parse_document(r#" {"name": "a", "count": 2} "#, "a test document")
            .expect("one document with whitespace around it");
        assert_eq!(ok.count, 2);
    }

    #[test]
    fn a_list_is_an_array_of_documents() {
        let e = super::parse_list::<Inner>(r#"[{"flag": true}, {"flag": 2}]"#, "a list")
            .expect_err("bad item");
        assert_eq!(e.path, "[1].flag", "{e}");
        let e = super::parse_list::<Inner>(r#"{"flag": true}"#, "a list").expect_err("object");
        assert_eq!(e.message, "the input must be a JSON array (a list)");
        let ok = super::parse_list::<Inner>(r#"[{"flag": true}]"#, "a list").expect("list");
        assert_eq!(ok.len(), 1);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_at_the_top() {
        let e = super::parse_document_bytes::<Doc>(b"{\"name\": \"\xff\"}", "a test document")
            .expect_err("not UTF-8");
        assert_eq!(e.path, "");
        assert!(e.message.contains("not UTF-8"), "{e}");
    }
}
