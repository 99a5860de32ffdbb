//! JSON kept as the text it was written as: a shipment's stored determination.
//!
//! The ledger never needs the determination as a tree: it stores the text, gives it back on a
//! replay and reads a few fields of it ([`crate::register`]'s view). Keeping the text means
//! the answer, the stored row and a replay are the same bytes without building, copying and
//! dropping a `serde_json::Value` of several kilobytes for each shipment.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON document as text (always valid JSON: made by serializing, or read by parsing).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// `null`.
    pub fn null() -> JsonText {
        JsonText::from_json("null".to_string()).expect("`null` is JSON")
    }

    /// The text of `value` serialized (compact).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<JsonText> {
        Ok(JsonText(serde_json::value::to_raw_value(value)?))
    }

    /// The text of a JSON tree (a tree always serializes).
    pub fn from_value(value: &serde_json::Value) -> JsonText {
        JsonText::of(value).expect("a JSON tree serializes")
    }

    /// Checks that `text` is one JSON document and keeps it as it is.
    pub fn from_json(text: String) -> serde_json::Result<JsonText> {
        Ok(JsonText(RawValue::from_string(text)?))
    }

    /// A copy of a raw value (valid JSON already: not checked again).
    pub fn from_raw(raw: &RawValue) -> JsonText {
        JsonText(raw.to_owned())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The text as a raw value, to embed in another document as it is.
    pub fn as_raw(&self) -> &RawValue {
        &self.0
    }

    /// Whether the document is an object (a derived struct would also read an array, by
    /// position: readers of named fields look here first).
    pub fn is_object(&self) -> bool {
        self.as_str().trim_start().starts_with('{')
    }

    /// The JSON as a tree, for a reader that looks inside (the text is valid JSON, so this only
    /// fails past serde_json's nesting limit, read as `null`).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).unwrap_or(serde_json::Value::Null)
    }

    /// Reads the text as `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.as_str())
    }
}

impl Default for JsonText {
    fn default() -> Self {
        JsonText::null()
    }
}

/// Equal when the texts are (the same document written twice is the same bytes).
impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JsonText {}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText::from_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_kept_as_written_and_read_back_as_it_was() {
        // Key order as written, not sorted as a tree would write it.
        let text = r#"{"z":1,"a":[true,null],"m":"é"}"#;
        let j = JsonText::from_json(text.into()).expect("json");
        assert_eq!(j.as_str(), text);
        #[derive(Serialize)]
        struct Row<'a> {
            body: &'a RawValue,
        }
        let in_a_row = serde_json::to_string(&Row { body: j.as_raw() }).expect("row");
        assert_eq!(in_a_row, format!(r#"{{"body":{text}}}"#));
        let back: JsonText = serde_json::from_str(text).expect("parse");
        assert_eq!(back, j);
        assert_eq!(j.to_value()["m"], "é");
    }

    #[test]
    fn text_that_is_not_one_json_document_is_refused() {
        for bad in ["", "{", "{}{}", "nul"] {
            assert!(JsonText::from_json(bad.into()).is_err(), "{bad:?}");
        }
        assert_eq!(JsonText::default().as_str(), "null");
    }
}
