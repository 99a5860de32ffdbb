//! The `classify` query: a catalog chip or its rates → 3A090/4A090 under the regime in force.
//!
//! One implementation for `aidf classify` and `POST /v1/classify`: each edge parses its own input
//! (option or JSON field, as exact decimals read from their text) into a [`ClassifyQuery`] and
//! renders the [`ClassifyReport`]; the report's serialization is the JSON both give.
//!
//! The date is the caller's: the server uses its UTC business date, the CLI `--date` or else
//! today's UTC date. It chooses the regime (as written) when none is pinned.

use aidf_core::Policy;
use aidf_core::chip::Chip;
use aidf_core::classify::{
    Datacenter, IndeterminateError, Metrics, MetricsError, Rate, classify, system_eccn,
};
use aidf_core::num::Decimal;
use aidf_core::policy::SelectError;
use aidf_core::regime::Regime;
use aidf_core::{Posture, chip::LookupError};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

/// What to classify.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassifyItem {
    /// A catalog chip by id or name.
    Chip(String),
    /// Dense rates, one per precision, with the optional applicable die area.
    Rates {
        /// Rates as exact decimals.
        rates: Vec<Rate>,
        /// Applicable die area, mm².
        die_area_mm2: Option<Decimal>,
        /// Designed or marketed for datacenters.
        datacenter: bool,
    },
}

/// A classification request, parsed by the edge that received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyQuery {
    /// The chip or its rates.
    pub item: ClassifyItem,
    /// Chips in one system (more than one: 4A090).
    pub quantity: u64,
    /// A pinned regime id; `None`: the one in force on `date`, as written.
    pub regime: Option<String>,
    /// The business date the regime is chosen for.
    pub date: NaiveDate,
}

/// Why a classification could not be given. Each names the field at fault and its value.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The chip is not in the catalog, or the name matches several.
    #[error("field `chip`: {0}")]
    Chip(#[from] LookupError),
    /// The catalog gives no dense rate for the chip.
    #[error("field `chip`: `{0}` has no published dense throughput; give its rates instead")]
    NoThroughput(String),
    /// No rates were given.
    #[error("field `tops`: no rates; give a catalog chip, or one or more rates with their bits")]
    NoRates,
    /// A rate, or TPP over the die area, is beyond exact decimals.
    #[error("field `{}`: {}", metrics_field(.0), .0)]
    Metrics(#[from] MetricsError),
    /// The regime could not be selected.
    #[error("{0}")]
    Regime(#[from] SelectError),
    /// The class needs data the input does not give.
    #[error("field `{}`: {}", indeterminate_field(.0), .0)]
    Indeterminate(#[from] IndeterminateError),
    /// Zero chips.
    #[error("field `quantity`: `0` is not a positive whole number of chips")]
    ZeroQuantity,
    /// Quantity × TPP per chip does not fit a 64-bit count.
    #[error(
        "field `quantity`: {quantity} chips of TPP {tpp} each total more than {} TPP",
        u64::MAX
    )]
    Overflow {
        /// Chips.
        quantity: u64,
        /// TPP per chip.
        tpp: u64,
    },
}

fn metrics_field(e: &MetricsError) -> &'static str {
    match e {
        MetricsError::TppOverflow { .. } => "tops",
        MetricsError::PdOverflow { .. } => "die_area_mm2",
    }
}

fn indeterminate_field(e: &IndeterminateError) -> &'static str {
    match e {
        IndeterminateError::Density { .. } => "die_area_mm2",
        IndeterminateError::Interconnect { .. } => "interconnect_gbs",
    }
}

impl ClassifyError {
    /// The field at fault: `chip`, `tops`, `die_area_mm2`, `interconnect_gbs`, `quantity`,
    /// `regime` or `date`.
    pub fn field(&self) -> &'static str {
        match self {
            ClassifyError::Chip(_) | ClassifyError::NoThroughput(_) => "chip",
            ClassifyError::NoRates => "tops",
            ClassifyError::Metrics(e) => metrics_field(e),
            ClassifyError::Regime(e) => e.field(),
            ClassifyError::Indeterminate(e) => indeterminate_field(e),
            ClassifyError::ZeroQuantity | ClassifyError::Overflow { .. } => "quantity",
        }
    }

    /// The message without its ``field `…`: `` prefix, for an edge that names the field in its
    /// own terms (a command-line option).
    pub fn detail(&self) -> String {
        let text = self.to_string();
        let prefix = format!("field `{}`: ", self.field());
        text.strip_prefix(&prefix).unwrap_or(&text).to_string()
    }
}

/// The catalog entry a classification read.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChipRef {
    /// Catalog id.
    pub id: String,
    /// Vendor and model.
    pub name: String,
    /// Confidence of the catalog's figures.
    pub confidence: String,
    /// Where the figures come from.
    pub sources: String,
}

/// A rule that decided the class.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReasonRef {
    /// Stable rule id.
    pub rule: String,
    /// CFR citation.
    pub citation: String,
    /// What the rule found.
    pub detail: String,
}

/// A regime and the digest of its resolved data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegimeRef {
    /// Regime id.
    pub id: String,
    /// Digest of its resolved data.
    pub digest: String,
}

impl RegimeRef {
    /// The id and digest of `regime`.
    pub fn of(regime: &Regime) -> RegimeRef {
        RegimeRef {
            id: regime.spec.id.clone(),
            digest: regime.digest.to_string(),
        }
    }
}

/// The answer to `classify`: exact figures as decimal text, whole TPP as integers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClassifyReport {
    /// The catalog chip, when one was named.
    pub chip: Option<ChipRef>,
    /// TPP per chip, exact (decimal text, e.g. `"15832"`).
    #[schema(value_type = String)]
    pub tpp: Decimal,
    /// TPP per chip, whole.
    pub tpp_whole: u64,
    /// Performance density rounded to 2 places (decimal text); `null` without a die area.
    #[schema(value_type = Option<String>)]
    pub pd: Option<Decimal>,
    /// Treated as designed or marketed for datacenters.
    pub datacenter: bool,
    /// 3A090.a/.b, or 4A090.a/.b for a system of more than one chip; `null`: not controlled.
    pub eccn: Option<String>,
    /// The paragraph that decided.
    pub paragraph: String,
    /// Chips in the system.
    pub quantity: u64,
    /// Whole TPP of all the chips.
    pub system_tpp: u64,
    /// The rule that decided.
    pub reason: ReasonRef,
    /// The regime applied.
    pub regime: RegimeRef,
    /// The date the regime was chosen for.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
}

/// The business date of a query: the one given, else today's date in UTC. The CLI and the server
/// both use this rule, so a query without a date means the same day on both.
pub fn business_date(given: Option<NaiveDate>) -> NaiveDate {
    given.unwrap_or_else(|| chrono::Utc::now().date_naive())
}

/// Classifies the query's chip or rates under the pinned regime or the one in force.
pub fn classify_query(
    policy: &Policy,
    query: &ClassifyQuery,
) -> Result<ClassifyReport, ClassifyError> {
    if query.quantity == 0 {
        return Err(ClassifyError::ZeroQuantity);
    }
    let regime = policy
        .select(query.regime.as_deref(), query.date, Posture::AsWritten)?
        .regime;
    let (metrics, chip) = metrics_of(policy, &query.item)?;
    let class = classify(&metrics, &regime.spec.classification)?;
    let tpp_whole = metrics.tpp_whole();
    let system_tpp = tpp_whole
        .checked_mul(query.quantity)
        .ok_or(ClassifyError::Overflow {
            quantity: query.quantity,
            tpp: tpp_whole,
        })?;
    let eccn = if query.quantity > 1 {
        system_eccn(class.eccn)
    } else {
        class.eccn
    };
    Ok(ClassifyReport {
        chip: chip.map(|c| ChipRef {
            id: c.id.to_string(),
            name: c.display_name(),
            confidence: c.confidence.clone(),
            sources: c.sources.clone(),
        }),
        tpp: metrics.tpp.normalize(),
        tpp_whole,
        pd: metrics.pd.map(|p| p.round_dp(2)),
        datacenter: class.datacenter,
        eccn: eccn.map(|e| e.as_str().to_string()),
        paragraph: class.paragraph.to_string(),
        quantity: query.quantity,
        system_tpp,
        reason: ReasonRef {
            rule: class.reason.rule.to_string(),
            citation: class.reason.citation.to_string(),
            detail: class.reason.detail,
        },
        regime: RegimeRef::of(regime),
        date: query.date,
    })
}

fn metrics_of<'p>(
    policy: &'p Policy,
    item: &ClassifyItem,
) -> Result<(Metrics, Option<&'p Chip>), ClassifyError> {
    match item {
        ClassifyItem::Chip(name) => {
            let chip = policy.catalog.lookup(name)?;
            let metrics = chip
                .metrics()
                .ok_or_else(|| ClassifyError::NoThroughput(chip.id.to_string()))?;
            Ok((metrics, Some(chip)))
        }
        ClassifyItem::Rates {
            rates,
            die_area_mm2,
            datacenter,
        } => {
            let dc = if *datacenter {
                Datacenter::Yes
            } else {
                Datacenter::No
            };
            let metrics =
                Metrics::from_rates(rates, *die_area_mm2, dc)?.ok_or(ClassifyError::NoRates)?;
            Ok((metrics, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(item: ClassifyItem, quantity: u64) -> ClassifyQuery {
        ClassifyQuery {
            item,
            quantity,
            regime: None,
            date: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date"),
        }
    }

    fn rates(tops: &str, bits: u32, area: Option<&str>) -> ClassifyItem {
        ClassifyItem::Rates {
            rates: vec![Rate {
                precision: None,
                dense_tops: tops.parse().expect("tops"),
                bits,
            }],
            die_area_mm2: area.map(|a| a.parse().expect("area")),
            datacenter: true,
        }
    }

    #[test]
    fn rates_with_a_die_area_give_exact_figures_and_a_system_class() {
        let p = Policy::embedded().expect("policy");
        let r = classify_query(&p, &query(rates("1979", 8, Some("814")), 8)).expect("report");
        assert_eq!(r.tpp.to_string(), "15832");
        assert_eq!(r.tpp_whole, 15832);
        assert_eq!(r.pd.map(|d| d.to_string()).as_deref(), Some("19.45"));
        assert_eq!(r.system_tpp, 8 * 15832);
        assert_eq!(r.eccn.as_deref(), Some("4A090.a"));
        assert_eq!(r.regime.id, "ai-diffusion-2025");
        assert!(r.chip.is_none());
    }

    #[test]
    fn a_catalog_chip_is_named_in_the_report() {
        let p = Policy::embedded().expect("policy");
        let item = ClassifyItem::Chip("H100 SXM".into());
        let r = classify_query(&p, &query(item, 1)).expect("report");
        let chip = r.chip.expect("chip");
        let entry = p.catalog.lookup("H100 SXM").expect("catalog");
        assert_eq!(
            (chip.id.as_str(), chip.name),
            (&*entry.id, entry.display_name())
        );
        assert_eq!(r.tpp_whole, entry.metrics().expect("metrics").tpp_whole());
        assert_eq!(r.eccn.as_deref(), Some("3A090.a"));
    }

    #[test]
    fn a_total_beyond_a_64_bit_count_is_an_error_naming_quantity() {
        let p = Policy::embedded().expect("policy");
        let e = classify_query(&p, &query(rates("1979", 8, Some("814")), u64::MAX))
            .expect_err("overflow");
        assert_eq!(e.field(), "quantity");
        assert_eq!(
            e.to_string(),
            format!(
                "field `quantity`: {} chips of TPP 15832 each total more than {} TPP",
                u64::MAX,
                u64::MAX
            )
        );
    }

    #[test]
    fn zero_chips_and_an_unknown_regime_name_their_fields() {
        let p = Policy::embedded().expect("policy");
        let e = classify_query(&p, &query(rates("1979", 8, None), 0)).expect_err("zero");
        assert_eq!(e.field(), "quantity");
        let mut q = query(rates("1979", 8, None), 1);
        q.regime = Some("nope".into());
        let e = classify_query(&p, &q).expect_err("unknown");
        assert_eq!(e.field(), "regime");
        assert!(
            e.detail().starts_with("unknown regime `nope`; known: "),
            "{e}"
        );
    }
}
