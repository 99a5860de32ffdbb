//! The ledger as a person reads it: tables with grouped numbers and ISO 8601 UTC times (the
//! JSON of `--json` keeps the stored values: integers and epoch milliseconds).

use aidf_core::explain::thousands;
use aidf_ledger::{
    Account, AccountKind, AmountUnit, Applied, Balance, Entry, License, OpResult, Timestamp, Veu,
};

use crate::render::aligned_right;

/// `2026-11-30T15:40:43Z` (UTC, to the second); an impossible time as its raw milliseconds.
pub fn time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0).map_or_else(
        || format!("{} ms", t.0),
        |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

fn num(n: u64) -> String {
    thousands(u128::from(n))
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "none".into(), num)
}

/// The unit an account's amounts are read in: `TPP`, `units` or `USD`.
pub fn unit_name(kind: AccountKind) -> &'static str {
    match kind.unit() {
        AmountUnit::Tpp => "TPP",
        AmountUnit::Units => "units",
        AmountUnit::UsdCents => "USD",
    }
}

/// An amount of an account of `kind` without its unit: grouped, and in dollars with cents for
/// a value account (`5,500,000,000` cents read `55,000,000.00`).
pub fn amount(kind: AccountKind, n: u64) -> String {
    match kind.unit() {
        AmountUnit::UsdCents => usd(n),
        AmountUnit::Tpp | AmountUnit::Units => num(n),
    }
}

/// A signed change of an account of `kind`, as `amount` writes it.
fn change(kind: AccountKind, n: i64) -> String {
    let magnitude = amount(kind, n.unsigned_abs());
    match n {
        0 => amount(kind, 0),
        n if n > 0 => format!("+{magnitude}"),
        _ => format!("-{magnitude}"),
    }
}

fn amount_or_none(kind: AccountKind, n: Option<u64>) -> String {
    n.map_or_else(|| "none".into(), |n| amount(kind, n))
}

/// `aidf ledger accounts`.
pub fn accounts(accounts: &[Account]) -> String {
    if accounts.is_empty() {
        return "no accounts\n".into();
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            let available = a
                .cap
                .map(|c| c.saturating_sub(a.posted.saturating_add(a.pending)));
            vec![
                a.key.clone(),
                a.kind.as_str().to_string(),
                unit_name(a.kind).to_string(),
                amount_or_none(a.kind, a.cap),
                amount(a.kind, a.posted),
                amount(a.kind, a.pending),
                amount_or_none(a.kind, available),
                time(a.created_at),
            ]
        })
        .collect();
    aligned_right(
        &[
            "ACCOUNT",
            "KIND",
            "UNIT",
            "CAP",
            "POSTED",
            "PENDING",
            "AVAILABLE",
            "OPENED (UTC)",
        ],
        &rows,
        &[3, 4, 5, 6],
    )
}

/// `aidf ledger balance KEY`.
pub fn balance(key: &str, kind: AccountKind, when: Option<String>, b: &Balance) -> String {
    let mut out = format!(
        "{key}{}\n",
        when.map(|w| format!(" ({w})")).unwrap_or_default()
    );
    for (label, value) in [
        ("cap", amount_or_none(kind, b.cap)),
        ("posted", amount(kind, b.posted)),
        ("pending", amount(kind, b.pending)),
        ("available", amount_or_none(kind, b.available)),
    ] {
        let unit = unit_name(kind);
        out.push_str(&format!(
            "  {label:<10} {value:>width$} {unit}\n",
            width = 20
        ));
    }
    out
}

/// `aidf ledger history KEY`.
pub fn history(kind: AccountKind, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no entries\n".into();
    }
    let posted = format!("POSTED Δ {}", unit_name(kind));
    let pending = format!("PENDING Δ {}", unit_name(kind));
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                time(e.at),
                e.business_date.clone().unwrap_or_else(|| "-".into()),
                e.kind.as_str().to_string(),
                change(kind, e.posted_delta),
                change(kind, e.pending_delta),
                e.op_id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    aligned_right(
        &[
            "SEQ",
            "RECORDED (UTC)",
            "BUSINESS DATE",
            "ENTRY",
            posted.as_str(),
            pending.as_str(),
            "OP",
        ],
        &rows,
        &[0, 4, 5],
    )
}

fn status(l: &License) -> String {
    serde_json::to_value(l.status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A license recorded or changed, in one line.
pub fn license_line(what: &str, l: &License) -> String {
    format!(
        "{what} license {} ({}): {} in {}, {} units, {} TPP, {} to {}\n",
        l.id,
        status(l),
        l.consignee,
        l.destination_country,
        num(l.units_cap),
        num(l.tpp_cap),
        l.granted_on,
        l.expires_on
    )
}

/// `aidf license list`.
pub fn licenses(all: &[License]) -> String {
    if all.is_empty() {
        return "no licenses\n".into();
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|l| {
            vec![
                l.id.clone(),
                status(l),
                l.consignee.clone(),
                l.destination_country.clone(),
                num(l.units_cap),
                num(l.tpp_cap),
                l.granted_on.clone(),
                l.expires_on.clone(),
                if l.allowed_item_ids.is_empty() {
                    "any".into()
                } else {
                    l.allowed_item_ids.join(" ")
                },
            ]
        })
        .collect();
    aligned_right(
        &[
            "LICENSE",
            "STATUS",
            "CONSIGNEE",
            "DEST",
            "UNITS",
            "TPP",
            "GRANTED",
            "EXPIRES",
            "ITEMS",
        ],
        &rows,
        &[4, 5],
    )
}

/// `aidf license show ID`: the license, what it has left, its changes.
pub fn license_show(
    l: &License,
    tpp: &Balance,
    units: &Balance,
    value: Option<&Balance>,
    changes: usize,
) -> String {
    let mut out = license_line("license", l).replacen("license license", "license", 1);
    for (what, b) in [("TPP", tpp), ("units", units)] {
        out.push_str(&format!(
            "  {what:<6} used {:>16}  left {:>16}\n",
            num(b.posted.saturating_add(b.pending)),
            opt(b.available)
        ));
    }
    if let (Some(b), Some(licensed)) = (value, &l.value_usd) {
        out.push_str(&format!(
            "  value  used {:>16}  left {:>16}  (USD; {licensed} licensed, plus the 15 CFR 750.11 tolerance)\n",
            usd(b.posted.saturating_add(b.pending)),
            b.available.map_or_else(|| "-".into(), usd)
        ));
    }
    if l.beyond_allocation {
        out.push_str("  granted beyond the destination's allocation (recorded by an officer)\n");
    }
    for c in &l.conditions {
        out.push_str(&format!(
            "  condition: {}\n",
            serde_json::to_string(c).unwrap_or_default()
        ));
    }
    out.push_str(&format!("  {changes} change(s) recorded\n"));
    out
}

/// US cents as dollars, grouped: `1,100,000.00`.
fn usd(cents: u64) -> String {
    format!("{}.{:02}", num(cents / 100), cents % 100)
}

/// `aidf veu list` (and the VEU `veu add` recorded).
pub fn veus(all: &[Veu]) -> String {
    if all.is_empty() {
        return "no validated end users\n".into();
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|v| {
            let sites: Vec<String> = v
                .sites
                .iter()
                .map(|s| format!("{}:{}", s.id, s.country))
                .collect();
            vec![
                v.id.clone(),
                format!("{:?}", v.kind).to_uppercase(),
                v.owner.clone(),
                v.hq_country.clone(),
                sites.join(" "),
            ]
        })
        .collect();
    aligned_right(&["VEU", "KIND", "OWNER", "HQ", "SITES"], &rows, &[])
}

/// A manual op's result in one line, then the balance after it.
pub fn applied(a: &Applied, kind: AccountKind) -> String {
    let unit = unit_name(kind);
    let n = |v: u64| format!("{} {unit}", amount(kind, v));
    let what = match &a.result {
        OpResult::Reserved {
            amount, expires_at, ..
        } => format!(
            "reserved {}{}",
            n(*amount),
            expires_at.map_or_else(String::new, |t| format!(" until {}", time(t)))
        ),
        OpResult::Posted {
            amount_posted,
            amount_released,
            ..
        } => format!(
            "posted {}, released {}",
            n(*amount_posted),
            n(*amount_released)
        ),
        OpResult::Voided {
            amount_released, ..
        } => format!("voided, released {}", n(*amount_released)),
        OpResult::Attrited { amount } => format!("attrition of {}", n(*amount)),
        OpResult::Transferred { amount } => format!("drew {}", n(*amount)),
        OpResult::CapSet { old_cap, new_cap } => format!(
            "cap {} → {} {unit}",
            amount_or_none(kind, *old_cap),
            amount_or_none(kind, *new_cap)
        ),
    };
    let replay = if a.replayed { " (replayed)" } else { "" };
    let after = balance("  balance after", kind, None, &a.balance_after);
    format!(
        "{}: {what} on {}{replay}\n{}",
        a.op_id,
        a.account,
        after.trim_start_matches("  balance after\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aidf_ledger::{AccountKind, EntryKind, Meta};

    fn at(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// A change reads in its account's unit, a zero too (a USD account showed `0` beside
    /// `+1,250.00`).
    #[test]
    fn changes_read_in_the_accounts_unit() {
        assert_eq!(change(AccountKind::LicenseValue, 0), "0.00");
        assert_eq!(change(AccountKind::LicenseValue, 125_000), "+1,250.00");
        assert_eq!(change(AccountKind::LicenseValue, -5), "-0.05");
        assert_eq!(change(AccountKind::Lpp, 0), "0");
        assert_eq!(change(AccountKind::Lpp, -15_832), "-15,832");
    }

    #[test]
    fn accounts_table_groups_numbers_and_shows_utc_times() {
        let accounts = vec![
            Account {
                key: "country:MY:2025-2027".into(),
                kind: AccountKind::CountryAllocation,
                cap: Some(790_000_000),
                posted: 31_664_000,
                pending: 1_583_200,
                created_at: at(1_796_025_729_742),
            },
            Account {
                key: "lpp:local@p5a3b:2025".into(),
                kind: AccountKind::Lpp,
                cap: None,
                posted: 158_320,
                pending: 0,
                created_at: at(1_796_025_729_999),
            },
            Account {
                key: "license:L-1:value".into(),
                kind: AccountKind::LicenseValue,
                cap: Some(5_500_000_000),
                posted: 5_000_000_005,
                pending: 0,
                created_at: at(1_796_025_730_000),
            },
        ];
        insta::assert_snapshot!(super::accounts(&accounts));
        assert_eq!(super::accounts(&[]), "no accounts\n");
    }

    #[test]
    fn history_and_applied_read_like_a_statement() {
        let entries = vec![
            Entry {
                seq: 1,
                op_id: None,
                kind: EntryKind::Open,
                account: "country:MY:2025-2027".into(),
                posted_delta: 0,
                pending_delta: 0,
                cap: Some(790_000_000),
                pending_id: None,
                at: at(1_796_025_729_742),
                business_date: None,
                meta: Meta::default(),
            },
            Entry {
                seq: 2,
                op_id: Some("ship-1:d0".into()),
                kind: EntryKind::Transfer,
                account: "country:MY:2025-2027".into(),
                posted_delta: 31_664_000,
                pending_delta: -1_000,
                cap: None,
                pending_id: None,
                at: at(1_796_025_730_000),
                business_date: Some("2025-06-01".into()),
                meta: Meta::default(),
            },
        ];
        insta::assert_snapshot!(history(AccountKind::CountryAllocation, &entries));
        let applied = Applied {
            op_id: "r-1".into(),
            account: "country:MY:2025-2027".into(),
            at: at(1_796_025_730_000),
            result: OpResult::Reserved {
                pending_id: "r-1".into(),
                amount: 1_583_200,
                expires_at: Some(at(1_796_025_790_000)),
            },
            balance_after: Balance {
                cap: Some(790_000_000),
                posted: 0,
                pending: 1_583_200,
                available: Some(788_416_800),
            },
            replayed: false,
        };
        insta::assert_snapshot!(super::applied(&applied, AccountKind::CountryAllocation));
        assert_eq!(time(at(i64::MAX)), format!("{} ms", i64::MAX));
    }
}
