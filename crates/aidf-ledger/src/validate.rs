//! Input validation shared by both backends.

use crate::error::{LedgerError, Result};
use crate::types::Op;

/// Op ids: 1–128 characters of `[A-Za-z0-9._:-]`.
pub fn op_id(value: &str) -> Result<()> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidOpId {
            value: value.to_owned(),
        })
    }
}

/// Account keys: 1–256 characters of `[A-Za-z0-9._:/@+-]`.
pub fn account_key(value: &str) -> Result<()> {
    let ok = (1..=256).contains(&value.len())
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-' | b'/' | b'@' | b'+')
        });
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidAccountKey {
            value: value.to_owned(),
        })
    }
}

/// Record ids (licenses, VEUs, shipments, sites) follow the op id grammar.
pub fn record_id(field: &'static str, value: &str) -> Result<()> {
    op_id(value).map_err(|_| LedgerError::InvalidField {
        field,
        value: value.to_owned(),
        reason: "expected 1-128 characters of [A-Za-z0-9._:-]",
    })
}

/// Non-empty free text without control characters, at most 512 bytes.
pub fn text(field: &'static str, value: &str) -> Result<()> {
    let ok = !value.trim().is_empty() && value.len() <= 512 && !value.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidField {
            field,
            value: value.to_owned(),
            reason: "expected 1-512 bytes of text without control characters",
        })
    }
}

/// ISO 3166-1 alpha-2 shape: two ASCII uppercase letters.
pub fn country(field: &'static str, value: &str) -> Result<()> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(LedgerError::InvalidField {
            field,
            value: value.to_owned(),
            reason: "expected two uppercase letters",
        })
    }
}

/// Calendar date `YYYY-MM-DD` (proleptic Gregorian, years 1900–9999).
pub fn date(field: &'static str, value: &str) -> Result<()> {
    let err = || LedgerError::InvalidField {
        field,
        value: value.to_owned(),
        reason: "expected a date YYYY-MM-DD",
    };
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err());
    }
    let num = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(&value[0..4]), num(&value[5..7]), num(&value[8..10]))
    else {
        return Err(err());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(err()),
    };
    if !(1900..=9999).contains(&y) || d == 0 || d > days {
        return Err(err());
    }
    Ok(())
}

/// Amounts are stored as signed 64-bit integers; convert with a check.
pub fn to_i64(what: &str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| LedgerError::AmountTooLarge {
        what: what.to_owned(),
        value,
    })
}

/// Stored amounts must be non-negative.
pub fn to_u64(what: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| LedgerError::NegativeAmount {
        what: what.to_owned(),
        value,
    })
}

/// Static checks on one op (no database access).
pub fn op(op: &Op) -> Result<()> {
    op_id(op.op_id())?;
    let positive = |amount: u64| -> Result<()> {
        if amount == 0 {
            return Err(LedgerError::ZeroAmount {
                op_id: op.op_id().to_owned(),
            });
        }
        to_i64(op.op_id(), amount).map(|_| ())
    };
    match op {
        Op::Reserve {
            account, amount, ..
        }
        | Op::Attrition {
            account, amount, ..
        }
        | Op::Transfer {
            account, amount, ..
        } => {
            account_key(account)?;
            positive(*amount)
        }
        Op::Post {
            pending_id, amount, ..
        } => {
            op_id(pending_id)?;
            amount.map_or(Ok(()), positive)
        }
        Op::Void { pending_id, .. } => op_id(pending_id),
        Op::SetCap { account, cap, .. } => {
            account_key(account)?;
            cap.map_or(Ok(()), |c| to_i64(account, c).map(|_| ()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_ids() {
        assert!(op_id("a").is_ok());
        assert!(op_id("ship-1:reserve.country_MY").is_ok());
        assert!(op_id(&"x".repeat(128)).is_ok());
        assert!(op_id(&"x".repeat(129)).is_err());
        assert!(op_id("").is_err());
        assert!(op_id("a b").is_err());
        assert!(op_id("é").is_err());
        let msg = op_id("bad id").unwrap_err().to_string();
        assert!(msg.contains("`bad id`"), "{msg}");
    }

    #[test]
    fn dates() {
        assert!(date("d", "2025-01-15").is_ok());
        assert!(date("d", "2024-02-29").is_ok());
        assert!(date("d", "2025-02-29").is_err());
        assert!(date("d", "2025-13-01").is_err());
        assert!(date("d", "2025-1-01").is_err());
        assert!(date("d", "+025-01-01").is_err());
    }

    #[test]
    fn conversions() {
        assert!(to_i64("x", u64::MAX).is_err());
        assert_eq!(to_i64("x", 5).ok(), Some(5));
        assert!(to_u64("x", -1).is_err());
    }
}
