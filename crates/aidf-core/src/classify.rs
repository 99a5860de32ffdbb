//! ECCN 3A090 / 4A090 classification from TPP and performance density.

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::explain::Reason;
use crate::num::{de_decimal, round_to_u64};

/// The 3A090 parameters (unchanged from October 2023 to 2026), as regime data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Citation of ECCN 3A090 and its notes.
    pub citation: Arc<str>,
    /// 3A090.a.1: TPP of this or more.
    #[serde(deserialize_with = "de_decimal")]
    pub a1_tpp_min: Decimal,
    /// 3A090.a.2: TPP of this or more …
    #[serde(deserialize_with = "de_decimal")]
    pub a2_tpp_min: Decimal,
    /// … and PD of this or more.
    #[serde(deserialize_with = "de_decimal")]
    pub a2_pd_min: Decimal,
    /// 3A090.b.1: TPP of this or more (and below a1) …
    #[serde(deserialize_with = "de_decimal")]
    pub b1_tpp_min: Decimal,
    /// … and PD of this or more (and below a2's PD).
    #[serde(deserialize_with = "de_decimal")]
    pub b1_pd_min: Decimal,
    /// 3A090.b.2: TPP of this or more …
    #[serde(deserialize_with = "de_decimal")]
    pub b2_tpp_min: Decimal,
    /// … and PD of this or more (and below a2's PD).
    #[serde(deserialize_with = "de_decimal")]
    pub b2_pd_min: Decimal,
    /// Note 2: items not designed or marketed for datacenters are outside 3A090 below this TPP.
    #[serde(deserialize_with = "de_decimal")]
    pub non_datacenter_tpp_min: Decimal,
}

/// Whether an item is designed or marketed for use in datacenters (the datacenter note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Datacenter {
    /// Designed or marketed for datacenters.
    Yes,
    /// Not designed or marketed for datacenters.
    No,
    /// Sources disagree (e.g. workstation cards); treated as datacenter, and said so.
    Contested,
}

/// The ECCNs the engine assigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eccn {
    /// Advanced-computing IC meeting the .a parameters.
    A3090a,
    /// Advanced-computing IC meeting the .b parameters.
    A3090b,
    /// Computer or assembly containing a 3A090.a IC.
    A4090a,
    /// Computer or assembly containing a 3A090.b IC.
    A4090b,
    /// Model weights of a model trained with 10^26 or more operations.
    E4091,
}

impl Eccn {
    /// As the CCL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Eccn::A3090a => "3A090.a",
            Eccn::A3090b => "3A090.b",
            Eccn::A4090a => "4A090.a",
            Eccn::A4090b => "4A090.b",
            Eccn::E4091 => "4E091",
        }
    }

    /// Whether this is an ".a-type" item (the diffusion rule's worldwide control).
    pub fn is_a_type(self) -> bool {
        matches!(self, Eccn::A3090a | Eccn::A4090a)
    }
}

impl fmt::Display for Eccn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Eccn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One precision an IC supports: dense peak rate in T(FL)OPS and the bit length of the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Label such as "FP8".
    #[serde(default)]
    pub precision: Option<String>,
    /// Dense (non-sparse) peak rate in tera-operations per second (2 × MacTOPS).
    #[serde(deserialize_with = "de_decimal")]
    pub dense_tops: Decimal,
    /// Bit length of the operation.
    pub bits: u32,
}

/// The metrics classification needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Total processing performance, exact.
    pub tpp: Decimal,
    /// Performance density (TPP per mm² of applicable die area), when known.
    pub pd: Option<Decimal>,
    /// Die area, when known (PD is then TPP / area).
    pub die_area_mm2: Option<Decimal>,
    /// Upper bound on the die area when only a bound is published: it proves PD at least
    /// TPP / bound, never less.
    pub die_area_mm2_max: Option<Decimal>,
    /// Datacenter note status.
    pub datacenter: Datacenter,
}

impl Metrics {
    /// TPP from rates: the highest of rate × bits over all precisions (Technical Note to 3A090).
    pub fn from_rates(
        rates: &[Rate],
        die_area_mm2: Option<Decimal>,
        datacenter: Datacenter,
    ) -> Option<Metrics> {
        let tpp = rates
            .iter()
            .map(|r| r.dense_tops * Decimal::from(r.bits))
            .max()?;
        let pd = die_area_mm2.filter(|a| !a.is_zero()).map(|a| tpp / a);
        Some(Metrics {
            tpp,
            pd,
            die_area_mm2,
            die_area_mm2_max: None,
            datacenter,
        })
    }

    /// TPP rounded to a whole number, the unit the ledger and limits count in.
    pub fn tpp_whole(&self) -> u64 {
        round_to_u64(self.tpp).unwrap_or(u64::MAX)
    }

    /// Whether PD ≥ `min`, decided exactly (TPP ≥ min × area when the area is known).
    fn pd_at_least(&self, min: Decimal) -> Option<bool> {
        match (self.die_area_mm2, self.pd) {
            (Some(area), _) if !area.is_zero() => Some(self.tpp >= min * area),
            (_, Some(pd)) => Some(pd >= min),
            // Area below the bound means PD above TPP / bound: that settles "at least" only when true.
            _ => match self.die_area_mm2_max {
                Some(max) if self.tpp >= min * max => Some(true),
                _ => None,
            },
        }
    }
}

/// Outcome of 3A090 classification.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// ECCN, or `None` when the item is outside 3A090.
    pub eccn: Option<Eccn>,
    /// The paragraph that matched, e.g. `3A090.a.1`, or why none did.
    pub paragraph: &'static str,
    /// Whether the item counts as designed or marketed for datacenters.
    pub datacenter: bool,
    /// Why.
    pub reason: Reason,
}

/// Classification could not be decided from the data given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "classification needs the performance density: TPP {tpp} lies between {low} and {high}, where PD decides the class; {hint}"
)]
pub struct IndeterminateError {
    /// TPP of the item.
    pub tpp: String,
    /// Lower TPP bound of the undecided band.
    pub low: String,
    /// Upper TPP bound of the undecided band.
    pub high: String,
    /// What to supply.
    pub hint: &'static str,
}

fn fmt_dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Classifies one IC under `t`.
pub fn classify(m: &Metrics, t: &Thresholds) -> Result<Classification, IndeterminateError> {
    let datacenter = m.datacenter != Datacenter::No;
    let tpp = fmt_dec(m.tpp);
    let reason = |rule: &'static str, detail: String| Reason {
        rule,
        citation: t.citation.clone(),
        detail,
    };
    let done = |eccn, paragraph, r| {
        Ok(Classification {
            eccn,
            paragraph,
            datacenter,
            reason: r,
        })
    };
    if !datacenter && m.tpp < t.non_datacenter_tpp_min {
        return done(
            None,
            "not 3A090 (datacenter note)",
            reason(
                "classify.datacenter_note",
                format!(
                    "not designed or marketed for datacenters and TPP {tpp} < {}: outside 3A090",
                    fmt_dec(t.non_datacenter_tpp_min)
                ),
            ),
        );
    }
    if m.tpp >= t.a1_tpp_min {
        let note = if datacenter {
            ""
        } else {
            " (not designed for datacenters: NAC/ACA-eligible)"
        };
        return done(
            Some(Eccn::A3090a),
            "3A090.a.1",
            reason(
                "classify.3a090.a.1",
                format!("TPP {tpp} >= {}{note}", fmt_dec(t.a1_tpp_min)),
            ),
        );
    }
    let floor = t.a2_tpp_min.min(t.b2_tpp_min).min(t.b1_tpp_min);
    if m.tpp < floor {
        return done(
            None,
            "not 3A090 (below parameters)",
            reason(
                "classify.below_parameters",
                format!(
                    "TPP {tpp} < {}: below every 3A090 parameter",
                    fmt_dec(floor)
                ),
            ),
        );
    }
    let indeterminate = || IndeterminateError {
        tpp: tpp.clone(),
        low: fmt_dec(floor),
        high: fmt_dec(t.a1_tpp_min),
        hint: "give the die area (or pd) of the item",
    };
    let pd_text =
        m.pd.map(|p| fmt_dec(p.round_dp(2)))
            .unwrap_or_else(|| "?".into());
    let a2 = m.tpp >= t.a2_tpp_min && m.pd_at_least(t.a2_pd_min).ok_or_else(indeterminate)?;
    if a2 {
        return done(
            Some(Eccn::A3090a),
            "3A090.a.2",
            reason(
                "classify.3a090.a.2",
                format!(
                    "TPP {tpp} >= {} and PD {pd_text} >= {}",
                    fmt_dec(t.a2_tpp_min),
                    fmt_dec(t.a2_pd_min)
                ),
            ),
        );
    }
    let b1 = m.tpp >= t.b1_tpp_min && m.pd_at_least(t.b1_pd_min).ok_or_else(indeterminate)?;
    let b2 = m.tpp >= t.b2_tpp_min && m.pd_at_least(t.b2_pd_min).ok_or_else(indeterminate)?;
    if b1 || b2 {
        let (para, detail) = if b1 {
            (
                "3A090.b.1",
                format!(
                    "{} <= TPP {tpp} < {} and {} <= PD {pd_text} < {}",
                    fmt_dec(t.b1_tpp_min),
                    fmt_dec(t.a1_tpp_min),
                    fmt_dec(t.b1_pd_min),
                    fmt_dec(t.a2_pd_min)
                ),
            )
        } else {
            (
                "3A090.b.2",
                format!(
                    "TPP {tpp} >= {} and {} <= PD {pd_text} < {}",
                    fmt_dec(t.b2_tpp_min),
                    fmt_dec(t.b2_pd_min),
                    fmt_dec(t.a2_pd_min)
                ),
            )
        };
        return done(
            Some(Eccn::A3090b),
            para,
            reason(
                if b1 {
                    "classify.3a090.b.1"
                } else {
                    "classify.3a090.b.2"
                },
                detail,
            ),
        );
    }
    done(
        None,
        "not 3A090 (below parameters)",
        reason(
            "classify.below_parameters",
            format!("TPP {tpp} with PD {pd_text} meets neither 3A090.a nor 3A090.b"),
        ),
    )
}

/// The ECCN of a computer or assembly holding `chips` ICs of class `ic`: 4A090 mirrors 3A090.
pub fn system_eccn(ic: Option<Eccn>) -> Option<Eccn> {
    match ic {
        Some(Eccn::A3090a) => Some(Eccn::A4090a),
        Some(Eccn::A3090b) => Some(Eccn::A4090b),
        other => other,
    }
}
