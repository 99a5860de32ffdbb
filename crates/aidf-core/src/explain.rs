//! The parts of an answer that say why: reasons, assumptions and obligations.

use std::sync::Arc;

use serde::Serialize;

/// One rule that decided (part of) an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Reason {
    /// Stable rule id, e.g. `lpp.within_limit`.
    pub rule: &'static str,
    /// CFR (or Federal Register) citation.
    pub citation: Arc<str>,
    /// What the rule found for this input.
    pub detail: String,
}

/// An unconfirmed ([U]) reading the answer relied on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Assumption {
    /// The switch name in the policy data.
    pub switch: Arc<str>,
    /// The value it had.
    pub value: String,
    /// Confidence tag (`U` for unconfirmed).
    pub confidence: Arc<str>,
    /// What the reading is and why it is uncertain.
    pub detail: Arc<str>,
}

/// Something the exporter or consignee must do for the authorization to hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Obligation {
    /// Stable id, e.g. `nac.notify`.
    pub id: Arc<str>,
    /// Citation.
    pub citation: Arc<str>,
    /// What must be done.
    pub detail: String,
}

/// How much of an explanation a determination builds.
///
/// Rule ids, citations, obligations' ids and assumptions are always recorded; only the
/// human-readable `detail` texts are optional, because formatting them is most of the cost of a
/// determination and a bulk consumer that keeps only rule ids (the batch CSV) never reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Every reason and obligation with its detail text (the contract's default).
    #[default]
    Full,
    /// Rule ids and citations only; every `detail` is empty.
    RuleIds,
}

/// Collects reasons and assumptions while a determination runs; assumptions are deduplicated.
#[derive(Debug, Default)]
pub struct Trail {
    /// Reasons in the order the rules ran.
    pub reasons: Vec<Reason>,
    /// Assumptions, each switch once.
    pub assumptions: Vec<Assumption>,
    /// Obligations attached to the authorization.
    pub obligations: Vec<Obligation>,
    /// Whether detail texts are built.
    pub detail: Detail,
}

impl Trail {
    /// An empty trail that builds detail texts as `detail` says.
    pub fn new(detail: Detail) -> Trail {
        Trail {
            detail,
            ..Trail::default()
        }
    }

    /// The detail text, built only when this trail keeps details.
    fn text(&self, detail: impl FnOnce() -> String) -> String {
        match self.detail {
            Detail::Full => detail(),
            Detail::RuleIds => String::new(),
        }
    }

    /// Records a reason; `detail` runs only when the trail keeps details.
    pub fn reason(
        &mut self,
        rule: &'static str,
        citation: &Arc<str>,
        detail: impl FnOnce() -> String,
    ) {
        let detail = self.text(detail);
        self.reasons.push(Reason {
            rule,
            citation: citation.clone(),
            detail,
        });
    }

    /// Records that an unconfirmed reading was used.
    pub fn assume(&mut self, assumption: Assumption) {
        if !self
            .assumptions
            .iter()
            .any(|a| a.switch == assumption.switch)
        {
            self.assumptions.push(assumption);
        }
    }

    /// Records an assumption, if there is one.
    pub fn assume_opt(&mut self, assumption: Option<Assumption>) {
        if let Some(a) = assumption {
            self.assume(a);
        }
    }

    /// Records an obligation whose id comes from policy data.
    pub fn oblige_owned(
        &mut self,
        id: Arc<str>,
        citation: &Arc<str>,
        detail: impl FnOnce() -> String,
    ) {
        let detail = self.text(detail);
        self.obligations.push(Obligation {
            id,
            citation: citation.clone(),
            detail,
        });
    }

    /// Records an obligation.
    pub fn oblige(
        &mut self,
        id: &'static str,
        citation: &Arc<str>,
        detail: impl FnOnce() -> String,
    ) {
        self.oblige_owned(Arc::from(id), citation, detail);
    }
}

/// Formats a whole number with thousands separators, as the rule writes its numbers.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Formats an exact decimal for a person: the whole part grouped in thousands, the fraction as
/// the number writes it without trailing zeros (`15832` reads `15,832`, `4800.50` reads
/// `4,800.5`).
pub fn grouped_decimal(d: rust_decimal::Decimal) -> String {
    let text = d.normalize().to_string();
    let unsigned = text.trim_start_matches('-');
    let whole_len = unsigned.find('.').unwrap_or(unsigned.len());
    let mut out = String::with_capacity(text.len() + whole_len / 3);
    if text.starts_with('-') {
        out.push('-');
    }
    for (i, ch) in unsigned.char_indices() {
        if i > 0 && i < whole_len && (whole_len - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `tpp` in H100-equivalents for a person to read: grouped digits and one decimal, by exact
/// integer division rounded half up (`31_664_000` TPP at `15_832` a unit reads `2,000.0`).
/// `h100_tpp` of zero is treated as one (a validated policy never has it).
pub fn h100e_text(tpp: u128, h100_tpp: u64) -> String {
    let tenths = h100e_tenths(tpp, h100_tpp);
    format!("{}.{}", thousands(tenths / 10), tenths % 10)
}

/// `tpp` in tenths of an H100-equivalent, by exact integer division rounded half up.
pub fn h100e_tenths(tpp: u128, h100_tpp: u64) -> u128 {
    let unit = u128::from(h100_tpp.max(1));
    tpp.saturating_mul(10).saturating_add(unit / 2) / unit
}

#[cfg(test)]
mod tests {
    use super::grouped_decimal;

    #[test]
    fn h100e_text_is_exact_grouped_and_rounded_half_up() {
        assert_eq!(super::h100e_text(31_664_000, 15_832), "2,000.0");
        assert_eq!(super::h100e_text(185_350_000_000, 15_832), "11,707,301.7");
        // 0.05 H100e rounds up to 0.1; just below it rounds down.
        assert_eq!(super::h100e_text(792, 15_840), "0.1");
        assert_eq!(super::h100e_text(791, 15_840), "0.0");
        assert_eq!(super::h100e_text(0, 0), "0.0");
    }

    #[test]
    fn grouped_decimal_groups_the_whole_part_only() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().expect("decimal");
        assert_eq!(grouped_decimal(d("15832")), "15,832");
        assert_eq!(grouped_decimal(d("4800.50")), "4,800.5");
        assert_eq!(grouped_decimal(d("999")), "999");
        assert_eq!(grouped_decimal(d("1234567.125")), "1,234,567.125");
        assert_eq!(grouped_decimal(d("-1000")), "-1,000");
        assert_eq!(grouped_decimal(d("0.000")), "0");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(26_900_000), "26,900,000");
        assert_eq!(super::thousands(1_000), "1,000");
    }
}
