//! Exact numbers. Rates, areas, thresholds and operation counts are decimals (`rust_decimal`), so a
//! boundary such as "TPP of 4,800 or more" or "PD of 5.92 or more" is decided exactly; TPP for
//! accounting is a whole number.

use std::fmt;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;
use serde::de::{self, Deserializer, Visitor};

/// Converts a JSON/TOML float to the decimal it was written as. Rust prints the shortest digits
/// that round-trip, which for any literal of up to 15 significant digits are the digits typed, so
/// `5.92` becomes exactly 5.92 and `3e26` exactly 3×10^26.
pub fn decimal_from_f64(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    let text = format!("{value}");
    text.parse::<Decimal>().ok()
}

/// Parses a decimal written as text, accepting scientific notation (`1e26`, `2.5E+25`) and `_`
/// separators. Exact: a value a decimal cannot hold exactly (beyond about 7.9e28, or with more
/// than 28 places after the point) is `None`, never rounded.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    parse_decimal_exact(text).ok()
}

/// Why a numeric text is not an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number.
    Syntax,
    /// Beyond what a decimal holds exactly (about ±7.9e28, 28 places after the point).
    Range,
}

/// [`parse_decimal`] with the reason for a failure.
pub fn parse_decimal_exact(text: &str) -> Result<Decimal, NumberError> {
    let t = text.trim().replace('_', "");
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (
            &t[..i],
            t[i + 1..].parse::<i64>().map_err(|_| NumberError::Syntax)?,
        ),
        None => (t.as_str(), 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(NumberError::Syntax);
    }
    // value = all digits × 10^(exp - places). The scale is kept as written ("9.90" stays 9.90)
    // unless only dropping trailing zeros lets the value fit.
    let all = format!("{int}{frac}");
    let mut sig = all.trim_start_matches('0');
    let mut scale = i64::try_from(frac.len()).map_err(|_| NumberError::Range)? - exp;
    loop {
        if sig.is_empty() {
            return Ok(Decimal::ZERO);
        }
        match decimal_of(sig, scale, negative) {
            Some(d) => return Ok(d),
            None if scale > 0 && sig.ends_with('0') => {
                sig = &sig[..sig.len() - 1];
                scale -= 1;
            }
            None => return Err(NumberError::Range),
        }
    }
}

/// `digits` × 10^-scale, if a decimal holds it exactly.
fn decimal_of(digits: &str, scale: i64, negative: bool) -> Option<Decimal> {
    let mut m: i128 = digits.parse().ok()?;
    let mut scale = scale;
    while scale < 0 {
        m = m.checked_mul(10)?;
        scale += 1;
    }
    let m = if negative { -m } else { m };
    Decimal::try_from_i128_with_scale(m, u32::try_from(scale).ok()?).ok()
}

/// The message for a numeric text that is not an exact decimal.
fn number_message(text: &str, e: NumberError) -> String {
    match e {
        NumberError::Syntax => format!("`{text}` is not a number"),
        NumberError::Range => format!(
            "number `{text}` is out of range (exact decimals hold up to 28 significant digits, magnitude below 7.9e28)"
        ),
    }
}

/// Rounds a non-negative decimal to the nearest whole number, halves away from zero.
pub fn round_to_u64(value: Decimal) -> Option<u64> {
    let r = value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    u64::try_from(r).ok()
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number (or a string holding a number such as \"2.5e25\")")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        decimal_from_f64(v).ok_or_else(|| E::custom(format!("number `{v}` is out of range")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_decimal_exact(v).map_err(|e| E::custom(number_message(v, e)))
    }
}

/// A JSON number or numeric string, read from its text (`serde_json`'s raw value), so no digit
/// passes through `f64`.
fn decimal_from_raw<E: de::Error>(raw: &serde_json::value::RawValue) -> Result<Decimal, E> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(E::custom)?;
        return DecimalVisitor.visit_str(&s);
    }
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(E::custom(format!(
            "`{text}` is not a number; expected a number (or a string holding one such as \"2.5e25\")"
        )));
    }
    parse_decimal_exact(text).map_err(|e| E::custom(number_message(text, e)))
}

/// Serde helper for JSON input: an exact decimal from a number's text or a numeric string.
pub fn de_decimal_json<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let raw: Box<serde_json::value::RawValue> = serde::Deserialize::deserialize(d)?;
    decimal_from_raw(&raw)
}

/// Serde helper for JSON input: an optional exact decimal (`null` or absent is `None`).
pub fn de_opt_decimal_json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let raw: Option<Box<serde_json::value::RawValue>> = serde::Deserialize::deserialize(d)?;
    raw.map(|r| decimal_from_raw(&r)).transpose()
}

/// Serde helper: an exact decimal from a number or a numeric string.
pub fn de_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// Serde helper: an optional exact decimal.
pub fn de_opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("null or a number")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            de_decimal(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

fn whole_u64<E: de::Error>(d: Decimal) -> Result<u64, E> {
    if d.fract().is_zero() && !d.is_sign_negative() {
        u64::try_from(d).map_err(|_| E::custom(format!("`{d}` is out of range")))
    } else {
        Err(E::custom(format!(
            "`{}` is not a non-negative whole number",
            d.normalize()
        )))
    }
}

/// Serde helper: a non-negative whole number written as an integer, a float such as `1.2e9`, or
/// a numeric string; a fraction is an error, never rounded.
pub fn de_whole_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole_u64(de_decimal(d)?)
}

/// Serde helper: a map from names to whole numbers (see [`de_whole_u64`]).
pub fn de_whole_u64_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, u64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct W(#[serde(deserialize_with = "de_whole_u64")] u64);
    let m: std::collections::BTreeMap<String, W> = serde::Deserialize::deserialize(d)?;
    Ok(m.into_iter().map(|(k, W(v))| (k, v)).collect())
}

/// Serializes a decimal as a JSON number (a float for display; decisions never read it back).
pub fn decimal_to_f64(value: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    // Fast path: a mantissa below 2^53 and a power of ten up to 10^22 are both exact doubles,
    // and IEEE division rounds their quotient correctly, so this is the nearest double, as the
    // general (string-based) conversion gives.
    let mantissa = value.mantissa();
    let scale = value.scale();
    if mantissa.unsigned_abs() < (1u128 << 53) && scale <= 22 {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        return mantissa as f64 / POW10[scale as usize];
    }
    value.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_become_the_decimal_written() {
        let cases = [
            (5.92, "5.92"),
            (3e26, "300000000000000000000000000"),
            (2.5e25, "25000000000000000000000000"),
            (1670.5, "1670.5"),
        ];
        for (f, want) in cases {
            assert_eq!(decimal_from_f64(f).unwrap().to_string(), want, "{f}");
        }
        assert_eq!(
            parse_decimal("1e26").unwrap().to_string(),
            "100000000000000000000000000"
        );
        assert_eq!(round_to_u64(parse_decimal("20919.2").unwrap()), Some(20919));
        assert_eq!(round_to_u64(parse_decimal("5284.8").unwrap()), Some(5285));
        assert_eq!(round_to_u64(parse_decimal("0.5").unwrap()), Some(1));
    }

    #[test]
    fn decimal_to_f64_fast_path_matches_the_general_conversion() {
        use rust_decimal::prelude::ToPrimitive;
        for text in [
            "0",
            "5.92",
            "1670.5",
            "15832",
            "3957.76",
            "-2.5",
            "0.1",
            "0.3",
            "123456789.987654321",
            "9007199254740991",
            "9007199254740993",
            "1e26",
            "1.23456789012345678901",
            "0.0000001",
        ] {
            let d = parse_decimal(text).unwrap();
            assert_eq!(decimal_to_f64(d), d.to_f64().unwrap(), "{text}");
        }
    }
}
