//! Plain error messages for a determination input that could not be read: the field path, the
//! value as written and what was expected, never a parser's internals or its wording.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, Deserializer, Visitor};
use serde_json::error::Category;

/// A JSON input that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() || path == "." { String::new() } else { format!("field `{path}`: ") })]
pub struct InputError {
    /// Dotted path of the field at fault (empty for syntax errors).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The largest quantity the contract accepts (a signed 64-bit count of units).
const QUANTITY_MAX_UNITS: i64 = i64::MAX;

/// Reads a date as `YYYY-MM-DD`, quoting the text it could not read.
pub fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    d.deserialize_str(DateVisitor)
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date YYYY-MM-DD")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<NaiveDate, E> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            let shaped = text.len() == 10
                && text.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            E::custom(if shaped {
                format!("`{text}` is not a calendar date")
            } else {
                format!("`{text}` is not a date; expected YYYY-MM-DD")
            })
        })
    }
}

/// Reads an optional amount of US dollars (a number or a numeric string, exact): not negative,
/// in whole cents.
pub(crate) fn de_opt_usd<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<rust_decimal::Decimal>, D::Error> {
    let Some(v) = crate::num::de_opt_decimal_json(d)? else {
        return Ok(None);
    };
    if v.is_sign_negative() {
        return Err(de::Error::custom(format!(
            "`{v}` is negative; expected US dollars"
        )));
    }
    if v.normalize().scale() > 2 {
        return Err(de::Error::custom(format!(
            "`{v}` has fractions of a cent; expected US dollars with at most two decimal places"
        )));
    }
    Ok(Some(v))
}

/// Reads an optional quantity: a whole number of units; a fraction or exponent is quoted back.
pub(crate) fn de_opt_quantity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptQuantityVisitor)
}

struct OptQuantityVisitor;

/// The tail of a quantity message; the value as written is put in front of it.
const NOT_WHOLE_UNITS: &str = "is not a whole number of units";

impl<'de> Visitor<'de> for OptQuantityVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer from 1 to {QUANTITY_MAX_UNITS}")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_i64(self)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("`{v}` is too large; {}", quantity_expectation())))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "{NOT_WHOLE_UNITS}; {}",
            quantity_expectation()
        )))
    }
}

/// What a quantity must be.
pub(crate) fn quantity_expectation() -> String {
    format!("expected an integer from 1 to {QUANTITY_MAX_UNITS}")
}

/// A serde_json message without its ` at line L column C` suffix.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// A syntax error with its position as a short suffix; serde_json's `expected ident` (a
/// misspelt `null`, `true` or `false`) and `expected value` in plain words.
pub(crate) fn with_short_position(e: &serde_json::Error) -> String {
    let message = without_position(e);
    let message = match message.as_str() {
        "expected ident" | "expected value" => "expected a JSON value".to_string(),
        _ => message,
    };
    format!("{message} (line {}, column {})", e.line(), e.column())
}

/// Turns a parse failure at `path` (a `serde_path_to_error` path) of a JSON `document` (named
/// for the messages on its top level, e.g. "a fleet") into one plain line.
pub fn plain_json_error(
    path: &str,
    e: &serde_json::Error,
    text: &str,
    document: &str,
) -> InputError {
    let path = if path == "." { "" } else { path };
    let top = |message: String| InputError {
        path: String::new(),
        message,
    };
    match e.classify() {
        Category::Eof if text.trim().is_empty() => {
            return top(format!(
                "the input is empty; expected a JSON object ({document})"
            ));
        }
        Category::Eof => {
            return InputError {
                path: path.to_string(),
                message: format!(
                    "invalid JSON: the document ends early (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            };
        }
        Category::Syntax | Category::Io => {
            return InputError {
                path: path.to_string(),
                message: format!("invalid JSON: {}", with_short_position(e)),
            };
        }
        Category::Data => {}
    }
    if path.is_empty() && !text.trim_start().starts_with('{') {
        return top(format!(
            "the input must be a JSON object ({document}), not {}",
            json_kind_of_text(text)
        ));
    }
    let message = without_position(e);
    if let Some(name) = between(&message, "missing field `", "`") {
        let path = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return InputError {
            path,
            message: "required but missing".into(),
        };
    }
    InputError {
        path: path.to_string(),
        message: plain_data_message(&message, e, text),
    }
}

/// Rewrites serde's data-error wording.
fn plain_data_message(message: &str, e: &serde_json::Error, text: &str) -> String {
    if message.starts_with(NOT_WHOLE_UNITS) {
        return format!("`{}` {message}", token_before(text, e.line(), e.column()));
    }
    if message.starts_with("unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map_or("", |(_, rest)| rest);
        return format!("unknown field; expected {}", plain_names(expected));
    }
    if let Some(value) = between(message, "unknown variant `", "`") {
        let expected = message
            .split_once(", expected ")
            .map_or("", |(_, rest)| rest);
        return format!("`{value}` is not {}", plain_names(expected));
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return plain_mismatch(found, expected);
        }
    }
    message.to_string()
}

/// `one of `a`, `b`` as `one of a, b`, with a `_` alias of a `-` name left out.
fn plain_names(expected: &str) -> String {
    let expected = expected.replace('`', "");
    let (lead, list) = match expected.strip_prefix("one of ") {
        Some(list) => ("one of ", list),
        None => ("", expected.as_str()),
    };
    let names: Vec<&str> = list.split(", ").collect();
    let kept: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !(n.contains('_') && names.contains(&n.replace('_', "-").as_str())))
        .collect();
    format!("{lead}{}", kept.join(", "))
}

/// serde's `integer `42`` as `` `42` is not … ``, and `map` as `expected …, not an object`.
fn plain_mismatch(found: &str, expected: &str) -> String {
    let expected = plain_expected(expected);
    if let Some((_, value)) = found.split_once(" `") {
        return format!("`{value} is not {expected}");
    }
    let kind = match found {
        "map" => "an object",
        "sequence" => "an array",
        "boolean" => "true or false",
        other => other,
    };
    format!("expected {expected}, not {kind}")
}

/// serde's expectation (`a string`, `u64`, `struct X`) in plain words.
fn plain_expected(expected: &str) -> &str {
    match expected {
        "i64" | "u64" | "u32" | "i32" | "a u64" => "a whole number",
        "a boolean" => "true or false",
        "f64" => "a number",
        "variant identifier" | "a string" => "a string",
        other if other.starts_with("struct ") => "an object",
        other if other.starts_with("a sequence") => "an array",
        other => other,
    }
}

/// The JSON kind a document starts with.
fn json_kind_of_text(text: &str) -> &'static str {
    match text.trim_start().chars().next() {
        Some('[') => "an array",
        Some('"') => "a string",
        Some('t' | 'f') => "true or false",
        Some('n') => "null",
        _ => "a number",
    }
}

/// The text between `start` and the next `end` in `message`.
fn between<'a>(message: &'a str, start: &str, end: &str) -> Option<&'a str> {
    message
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(value, _)| value)
}

/// The number token ending at `line`:`column` (1-based) of `text`, as written.
fn token_before(text: &str, line: usize, column: usize) -> &str {
    let Some(row) = text.lines().nth(line.saturating_sub(1)) else {
        return "";
    };
    let head = row.get(..column.min(row.len())).unwrap_or(row);
    let start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')))
        .map_or(0, |i| i + 1);
    &head[start..]
}
