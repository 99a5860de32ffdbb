//! ECCN 3A090 / 4A090 classification from TPP and performance density.

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::explain::{Detail, Reason};
use crate::num::{de_decimal, de_opt_decimal, round_to_u64};

/// The 3A090 parameters of a regime, as data. The October 2023 parameters (TPP and performance
/// density, `.a.1/.a.2/.b.1/.b.2`, the datacenter note) are unchanged to 2026; the October 2022
/// rule had one test, TPP (bit length × TOPS) *and* aggregate bidirectional interconnect
/// bandwidth. A parameter that is absent does not exist in the regime.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Citation of ECCN 3A090 and its notes.
    pub citation: Arc<str>,
    /// 3A090.a.1: TPP of this or more. Absent: the regime has no ECCN 3A090 (before 7 Oct 2022).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub a1_tpp_min: Option<Decimal>,
    /// 2022 rule: 3A090 also needs aggregate bidirectional I/O of this many GB/s or more.
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub interconnect_gbs_min: Option<Decimal>,
    /// 3A090.a.2: TPP of this or more …
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub a2_tpp_min: Option<Decimal>,
    /// … and PD of this or more.
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub a2_pd_min: Option<Decimal>,
    /// 3A090.b.1: TPP of this or more (and below a1) …
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub b1_tpp_min: Option<Decimal>,
    /// … and PD of this or more (and below a2's PD).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub b1_pd_min: Option<Decimal>,
    /// 3A090.b.2: TPP of this or more …
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub b2_tpp_min: Option<Decimal>,
    /// … and PD of this or more (and below a2's PD).
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub b2_pd_min: Option<Decimal>,
    /// Note 2: items not designed or marketed for datacenters are outside 3A090 below this TPP.
    #[serde(
        default,
        deserialize_with = "de_opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub non_datacenter_tpp_min: Option<Decimal>,
}

impl Thresholds {
    /// Checks that paired parameters come together; returns the field at fault.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let pairs = [
            ("classification.a2_pd_min", self.a2_tpp_min, self.a2_pd_min),
            ("classification.b1_pd_min", self.b1_tpp_min, self.b1_pd_min),
            ("classification.b2_pd_min", self.b2_tpp_min, self.b2_pd_min),
        ];
        for (field, tpp, pd) in pairs {
            if tpp.is_some() != pd.is_some() {
                return Err((
                    field,
                    "a TPP minimum and a PD minimum come together (give both or neither)".into(),
                ));
            }
        }
        if self.a2_pd_min.is_none() && (self.b1_pd_min.is_some() || self.b2_pd_min.is_some()) {
            return Err((
                "classification.a2_pd_min",
                "the .b parameters are bounded by the .a.2 density; give a2_tpp_min and a2_pd_min"
                    .into(),
            ));
        }
        Ok(())
    }
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
    /// High-bandwidth memory above the bandwidth-density parameter (December 2024).
    A3090c,
    /// Computer or assembly containing a 3A090.a IC.
    A4090a,
    /// Computer or assembly containing a 3A090.b IC.
    A4090b,
    /// Model weights of a model trained with 10^26 or more operations.
    E4091,
}

impl Eccn {
    /// Every value, in the CCL's order.
    pub const ALL: [Eccn; 6] = [
        Eccn::A3090a,
        Eccn::A3090b,
        Eccn::A3090c,
        Eccn::A4090a,
        Eccn::A4090b,
        Eccn::E4091,
    ];

    /// As the CCL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Eccn::A3090a => "3A090.a",
            Eccn::A3090b => "3A090.b",
            Eccn::A3090c => "3A090.c",
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
    /// Lower bound on the die area (estimates): it proves PD below a minimum when TPP is below
    /// minimum × bound.
    pub die_area_mm2_min: Option<Decimal>,
    /// Datacenter note status.
    pub datacenter: Datacenter,
    /// Aggregate bidirectional interconnect bandwidth in GB/s, when known (2022 rule).
    pub interconnect_gbs: Option<Decimal>,
    /// Total DRAM bandwidth in GB/s, when known (2026 H200 rule).
    pub dram_bandwidth_gbs: Option<Decimal>,
}

impl Metrics {
    /// TPP from rates: the highest of rate × bits over all precisions (Technical Note to 3A090).
    /// `Ok(None)` when no rate is given; an error when TPP or PD leaves the exact decimal range.
    pub fn from_rates(
        rates: &[Rate],
        die_area_mm2: Option<Decimal>,
        datacenter: Datacenter,
    ) -> Result<Option<Metrics>, MetricsError> {
        let mut tpp: Option<Decimal> = None;
        for r in rates {
            let t = r
                .dense_tops
                .checked_mul(Decimal::from(r.bits))
                .ok_or_else(|| MetricsError::TppOverflow {
                    tops: r.dense_tops.normalize().to_string(),
                    bits: r.bits,
                })?;
            tpp = Some(tpp.map_or(t, |x| x.max(t)));
        }
        let Some(tpp) = tpp else { return Ok(None) };
        Ok(Some(Metrics {
            tpp,
            pd: pd_of(tpp, die_area_mm2)?,
            die_area_mm2,
            die_area_mm2_max: None,
            die_area_mm2_min: None,
            datacenter,
            interconnect_gbs: None,
            dram_bandwidth_gbs: None,
        }))
    }

    /// TPP rounded to a whole number, the unit the ledger and limits count in.
    pub fn tpp_whole(&self) -> u64 {
        round_to_u64(self.tpp).unwrap_or(u64::MAX)
    }

    /// Whether PD ≥ `min`, decided exactly (TPP ≥ min × area when the area is known; a product
    /// beyond the decimal range exceeds every TPP).
    fn pd_at_least(&self, min: Decimal) -> Option<bool> {
        let tpp_reaches = |area: Decimal| min.checked_mul(area).is_some_and(|p| self.tpp >= p);
        match (self.die_area_mm2, self.pd) {
            (Some(area), _) if !area.is_zero() => Some(tpp_reaches(area)),
            (_, Some(pd)) => Some(pd >= min),
            // Area below the upper bound means PD above TPP / bound: that settles "at least" when
            // true; area above the lower bound means PD below TPP / bound: that settles it when
            // false.
            _ => match (self.die_area_mm2_max, self.die_area_mm2_min) {
                (Some(max), _) if tpp_reaches(max) => Some(true),
                (_, Some(min_area)) if !tpp_reaches(min_area) => Some(false),
                _ => None,
            },
        }
    }
}

/// Performance density, TPP / die area; `None` without an area (or a zero one).
pub fn pd_of(tpp: Decimal, die_area_mm2: Option<Decimal>) -> Result<Option<Decimal>, MetricsError> {
    match die_area_mm2.filter(|a| !a.is_zero()) {
        None => Ok(None),
        Some(a) => tpp
            .checked_div(a)
            .map(Some)
            .ok_or_else(|| MetricsError::PdOverflow {
                tpp: tpp.normalize().to_string(),
                area: a.normalize().to_string(),
            }),
    }
}

/// Metrics that leave the exact decimal range (about 7.9e28).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Rate × bit length is too large.
    #[error("TPP {tops} x {bits} is out of range (exact decimals stop near 7.9e28)")]
    TppOverflow {
        /// The rate.
        tops: String,
        /// The bit length.
        bits: u32,
    },
    /// TPP / die area is too large.
    #[error(
        "performance density TPP {tpp} / die area {area} mm² is out of range (exact decimals stop near 7.9e28)"
    )]
    PdOverflow {
        /// TPP.
        tpp: String,
        /// Die area.
        area: String,
    },
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

/// Classification could not be decided from the data given: names the fact that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndeterminateError {
    /// Performance density decides and is unknown.
    #[error(
        "classification needs the performance density: TPP {tpp} lies between {low} and {high}, where PD decides the class; {hint}"
    )]
    Density {
        /// TPP of the item.
        tpp: String,
        /// Lower TPP bound of the undecided band.
        low: String,
        /// Upper TPP bound of the undecided band.
        high: String,
        /// What to supply.
        hint: &'static str,
    },
    /// The regime tests interconnect bandwidth and the item's is unknown.
    #[error(
        "classification needs the interconnect bandwidth: TPP {tpp} >= {tpp_min}, and this regime also tests aggregate bidirectional I/O >= {min} GB/s; the item has no `interconnect_gbs`"
    )]
    Interconnect {
        /// TPP of the item.
        tpp: String,
        /// The TPP minimum it meets.
        tpp_min: String,
        /// The bandwidth minimum.
        min: String,
    },
}

fn fmt_dec(d: Decimal) -> String {
    crate::explain::grouped_decimal(d)
}

/// A decimal shown as the rule writes it (trailing zeros dropped, thousands grouped), formatted
/// only when displayed.
struct Shown(Decimal);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fmt_dec(self.0))
    }
}

/// An optional decimal rounded to two places, `?` when absent.
struct Shown2(Option<Decimal>);

impl std::fmt::Display for Shown2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => Shown(d.round_dp(2)).fmt(f),
            None => f.write_str("?"),
        }
    }
}

/// Classifies one IC under `t`.
pub fn classify(m: &Metrics, t: &Thresholds) -> Result<Classification, IndeterminateError> {
    classify_with(m, t, Detail::Full)
}

/// Classifies one IC under `t`, building the reason's detail text only as `detail` says (the
/// classification is the same either way).
pub fn classify_with(
    m: &Metrics,
    t: &Thresholds,
    detail: Detail,
) -> Result<Classification, IndeterminateError> {
    let c = Classifying {
        m,
        t,
        detail,
        datacenter: m.datacenter != Datacenter::No,
    };
    let tpp = Shown(m.tpp);
    let Some(a1_tpp_min) = t.a1_tpp_min else {
        return c.done(
            None,
            "not 3A090 (no such ECCN in this regime)",
            "classify.no_3a090",
            &|| "ECCN 3A090 does not exist under this regime: the item is not 3A090".into(),
        );
    };
    if let Some(min) = t.non_datacenter_tpp_min
        && !c.datacenter
        && m.tpp < min
    {
        return c.done(
            None,
            "not 3A090 (datacenter note)",
            "classify.datacenter_note",
            &|| {
                format!(
                    "not designed or marketed for datacenters and TPP {tpp} < {}: outside 3A090",
                    fmt_dec(min)
                )
            },
        );
    }
    if m.tpp >= a1_tpp_min {
        return c.at_a1_tpp(a1_tpp_min);
    }
    c.below_a1_tpp(a1_tpp_min)
}

/// One IC being classified under one regime's thresholds.
struct Classifying<'a> {
    m: &'a Metrics,
    t: &'a Thresholds,
    detail: Detail,
    /// Designed or marketed for datacenters (a contested reading counts as designed).
    datacenter: bool,
}

impl Classifying<'_> {
    /// The classification, with its reason's text built only when details are kept.
    fn done(
        &self,
        eccn: Option<Eccn>,
        paragraph: &'static str,
        rule: &'static str,
        text: &dyn Fn() -> String,
    ) -> Result<Classification, IndeterminateError> {
        Ok(Classification {
            eccn,
            paragraph,
            datacenter: self.datacenter,
            reason: Reason {
                rule,
                citation: self.t.citation.clone(),
                detail: match self.detail {
                    Detail::Full => text(),
                    Detail::RuleIds => String::new(),
                },
            },
        })
    }

    /// TPP at or above 3A090.a.1's: 3A090.a.1, or, where the regime also tests interconnect
    /// bandwidth, 3A090.a only with that bandwidth.
    fn at_a1_tpp(&self, a1_tpp_min: Decimal) -> Result<Classification, IndeterminateError> {
        let (m, t, tpp) = (self.m, self.t, Shown(self.m.tpp));
        if let Some(min) = t.interconnect_gbs_min {
            let Some(bw) = m.interconnect_gbs else {
                return Err(IndeterminateError::Interconnect {
                    tpp: tpp.to_string(),
                    tpp_min: fmt_dec(a1_tpp_min),
                    min: fmt_dec(min),
                });
            };
            if bw < min {
                return self.done(
                    None,
                    "not 3A090 (interconnect below the parameter)",
                    "classify.interconnect_below",
                    &|| {
                        format!(
                            "TPP {tpp} >= {} but aggregate bidirectional I/O {} GB/s < {} GB/s: outside 3A090",
                            fmt_dec(a1_tpp_min),
                            fmt_dec(bw),
                            fmt_dec(min)
                        )
                    },
                );
            }
            return self.done(
                Some(Eccn::A3090a),
                "3A090.a",
                "classify.3a090.interconnect",
                &|| {
                    format!(
                        "TPP {tpp} >= {} and aggregate bidirectional I/O {} GB/s >= {} GB/s",
                        fmt_dec(a1_tpp_min),
                        fmt_dec(bw),
                        fmt_dec(min)
                    )
                },
            );
        }
        let note = if self.datacenter || t.non_datacenter_tpp_min.is_none() {
            ""
        } else {
            " (not designed for datacenters: NAC/ACA-eligible)"
        };
        self.done(
            Some(Eccn::A3090a),
            "3A090.a.1",
            "classify.3a090.a.1",
            &|| format!("TPP {tpp} >= {}{note}", fmt_dec(a1_tpp_min)),
        )
    }

    /// TPP below 3A090.a.1's: the performance-density paragraphs (3A090.a.2, .b.1, .b.2), or
    /// below every parameter.
    fn below_a1_tpp(&self, a1_tpp_min: Decimal) -> Result<Classification, IndeterminateError> {
        let (m, t, tpp) = (self.m, self.t, Shown(self.m.tpp));
        let floor = [t.a2_tpp_min, t.b2_tpp_min, t.b1_tpp_min]
            .into_iter()
            .flatten()
            .min();
        let Some(floor) = floor.filter(|f| m.tpp >= *f) else {
            let bound = floor.unwrap_or(a1_tpp_min).min(a1_tpp_min);
            return self.done(
                None,
                "not 3A090 (below parameters)",
                "classify.below_parameters",
                &|| {
                    format!(
                        "TPP {tpp} < {}: below every 3A090 parameter",
                        fmt_dec(bound)
                    )
                },
            );
        };
        let indeterminate = || IndeterminateError::Density {
            tpp: tpp.to_string(),
            low: fmt_dec(floor),
            high: fmt_dec(a1_tpp_min),
            hint: "give the die area (or pd) of the item",
        };
        let pd_text = Shown2(m.pd);
        let test = |tpp_min: Option<Decimal>,
                    pd_min: Option<Decimal>|
         -> Result<bool, IndeterminateError> {
            match (tpp_min, pd_min) {
                (Some(tm), Some(pm)) if m.tpp >= tm => m.pd_at_least(pm).ok_or_else(indeterminate),
                _ => Ok(false),
            }
        };
        if test(t.a2_tpp_min, t.a2_pd_min)? {
            return self.done(
                Some(Eccn::A3090a),
                "3A090.a.2",
                "classify.3a090.a.2",
                &|| {
                    format!(
                        "TPP {tpp} >= {} and PD {pd_text} >= {}",
                        t.a2_tpp_min.map(fmt_dec).unwrap_or_default(),
                        t.a2_pd_min.map(fmt_dec).unwrap_or_default()
                    )
                },
            );
        }
        let b1 = test(t.b1_tpp_min, t.b1_pd_min)?;
        let b2 = test(t.b2_tpp_min, t.b2_pd_min)?;
        if b1 || b2 {
            return self.paragraph_b(a1_tpp_min, b1);
        }
        self.done(
            None,
            "not 3A090 (below parameters)",
            "classify.below_parameters",
            &|| format!("TPP {tpp} with PD {pd_text} meets neither 3A090.a nor 3A090.b"),
        )
    }

    /// 3A090.b: .b.1 when its TPP and density band is met, else .b.2.
    fn paragraph_b(
        &self,
        a1_tpp_min: Decimal,
        b1: bool,
    ) -> Result<Classification, IndeterminateError> {
        let (t, tpp, pd_text) = (self.t, Shown(self.m.tpp), Shown2(self.m.pd));
        let a2_pd = || t.a2_pd_min.map(fmt_dec).unwrap_or_default();
        let text = || {
            if b1 {
                format!(
                    "{} <= TPP {tpp} < {} and {} <= PD {pd_text} < {}",
                    t.b1_tpp_min.map(fmt_dec).unwrap_or_default(),
                    fmt_dec(a1_tpp_min),
                    t.b1_pd_min.map(fmt_dec).unwrap_or_default(),
                    a2_pd(),
                )
            } else {
                format!(
                    "TPP {tpp} >= {} and {} <= PD {pd_text} < {}",
                    t.b2_tpp_min.map(fmt_dec).unwrap_or_default(),
                    t.b2_pd_min.map(fmt_dec).unwrap_or_default(),
                    a2_pd(),
                )
            }
        };
        let (para, rule) = if b1 {
            ("3A090.b.1", "classify.3a090.b.1")
        } else {
            ("3A090.b.2", "classify.3a090.b.2")
        };
        self.done(Some(Eccn::A3090b), para, rule, &text)
    }
}

/// An HBM (or other DRAM) item for 3A090.c: bandwidth and the package or stack area it is measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HbmItem {
    /// Memory bandwidth in GB/s (of the packaged device when the stack sits in a package).
    #[serde(deserialize_with = "crate::num::de_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = crate::schema::Decimal))]
    pub bandwidth_gbs: Decimal,
    /// Area of the package or stack in mm².
    #[serde(deserialize_with = "crate::num::de_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = crate::schema::Decimal))]
    pub area_mm2: Decimal,
    /// Co-packaged with a logic IC whose dominant function is processing (excluded from 3A090.c).
    #[serde(default)]
    pub logic_dominant: bool,
}

/// Classifies an HBM item under the 3A090.c parameter (`density_above`, GB/s per mm², exclusive).
pub fn classify_hbm(h: &HbmItem, density_above: Decimal, citation: &Arc<str>) -> Classification {
    let reason = |rule: &'static str, detail: String| Reason {
        rule,
        citation: citation.clone(),
        detail,
    };
    let density = if h.area_mm2.is_zero() {
        None
    } else {
        h.bandwidth_gbs.checked_div(h.area_mm2)
    };
    let shown = density
        .map(|d| fmt_dec(d.round_dp(2)))
        .unwrap_or_else(|| "?".into());
    if h.logic_dominant {
        return Classification {
            eccn: None,
            paragraph: "not 3A090.c (co-packaged with processing logic)",
            datacenter: true,
            reason: reason(
                "classify.3a090.c.logic_excluded",
                "memory co-packaged with a logic IC whose dominant function is processing is not 3A090.c".into(),
            ),
        };
    }
    // Exact: bandwidth > min × area.
    if density_above
        .checked_mul(h.area_mm2)
        .is_some_and(|floor| h.bandwidth_gbs > floor)
    {
        Classification {
            eccn: Some(Eccn::A3090c),
            paragraph: "3A090.c",
            datacenter: true,
            reason: reason(
                "classify.3a090.c",
                format!(
                    "memory bandwidth density {} GB/s / {} mm² = {shown} GB/s/mm² > {}",
                    fmt_dec(h.bandwidth_gbs),
                    fmt_dec(h.area_mm2),
                    fmt_dec(density_above)
                ),
            ),
        }
    } else {
        Classification {
            eccn: None,
            paragraph: "not 3A090.c (below the density parameter)",
            datacenter: true,
            reason: reason(
                "classify.3a090.c.below",
                format!(
                    "memory bandwidth density {shown} GB/s/mm² is not above {}",
                    fmt_dec(density_above)
                ),
            ),
        }
    }
}

/// The ECCN of a computer or assembly holding `chips` ICs of class `ic`: 4A090 mirrors 3A090.
pub fn system_eccn(ic: Option<Eccn>) -> Option<Eccn> {
    match ic {
        Some(Eccn::A3090a) => Some(Eccn::A4090a),
        Some(Eccn::A3090b) => Some(Eccn::A4090b),
        other => other,
    }
}

#[cfg(feature = "schema")]
crate::schema::string_type!(
    Eccn,
    "The ECCN the engine assigned",
    Eccn::ALL.map(Eccn::as_str)
);
