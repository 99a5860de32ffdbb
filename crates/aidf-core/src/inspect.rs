//! Inspecting regimes: what differs between two, when each is in force, and one chip's status
//! under each (the "status migrations" table).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::classify::{Metrics, classify};
use crate::policy::Policy;
use crate::regime::Regime;
use crate::terms::Posture;

/// One difference between two regimes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Dotted path of the parameter, e.g. `allocation.tier2_tpp_cap` or `scope.countries`.
    pub path: String,
    /// `changed`, `added` (only in B), `removed` (only in A), or `list` (set difference).
    pub kind: &'static str,
    /// Value in A, if any.
    pub a: Option<Value>,
    /// Value in B, if any.
    pub b: Option<Value>,
    /// For lists of names: entries only in A.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only_a: Vec<Value>,
    /// For lists of names: entries only in B.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only_b: Vec<Value>,
}

/// Fields that describe a regime rather than its rules.
const NOT_COMPARED: &[&str] = &["id", "changes"];

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if prefix.is_empty() && NOT_COMPARED.contains(&k.as_str()) {
                    continue;
                }
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// Every parameter, list and rule (section) that differs between `a` and `b`, in path order.
/// Sections present in one regime only are listed leaf by leaf; lists of names are compared as
/// sets.
pub fn diff(a: &Regime, b: &Regime) -> Vec<Difference> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten(
        "",
        &serde_json::to_value(&a.spec).unwrap_or(Value::Null),
        &mut fa,
    );
    flatten(
        "",
        &serde_json::to_value(&b.spec).unwrap_or(Value::Null),
        &mut fb,
    );
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (x, y) = (fa.get(k), fb.get(k));
        if x == y {
            continue;
        }
        let mut d = Difference {
            path: k.clone(),
            kind: match (x, y) {
                (Some(_), None) => "removed",
                (None, Some(_)) => "added",
                _ => "changed",
            },
            a: x.cloned(),
            b: y.cloned(),
            only_a: Vec::new(),
            only_b: Vec::new(),
        };
        if let (Some(Value::Array(p)), Some(Value::Array(q))) = (x, y) {
            d.kind = "list";
            d.only_a = p.iter().filter(|e| !q.contains(e)).cloned().collect();
            d.only_b = q.iter().filter(|e| !p.contains(e)).cloned().collect();
        }
        out.push(d);
    }
    out
}

/// A period during which a regime is the one in force under a posture (`until` exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// First day it no longer applies, if it ends.
    pub until: Option<NaiveDate>,
}

/// The periods `id` is in force under `posture`, from the timeline (adjacent entries merged).
pub fn in_force(policy: &Policy, id: &str, posture: Posture) -> Vec<Period> {
    let entries = policy.timeline.entries(posture);
    let mut out: Vec<Period> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.regime != id {
            continue;
        }
        let until = entries.get(i + 1).map(|n| n.from);
        match out.last_mut() {
            Some(last) if last.until == Some(e.from) => last.until = until,
            _ => out.push(Period {
                from: e.from,
                until,
            }),
        }
    }
    out
}

/// Regimes in date order (compliance date, then effective date, then id).
pub fn by_date(policy: &Policy) -> Vec<&Regime> {
    let mut v: Vec<&Regime> = policy.regimes.iter().collect();
    v.sort_by(|a, b| {
        (a.spec.compliance_date, a.spec.effective_date, &a.spec.id).cmp(&(
            b.spec.compliance_date,
            b.spec.effective_date,
            &b.spec.id,
        ))
    });
    v
}

/// One chip's status under one regime.
#[derive(Debug, Clone, Serialize)]
pub struct ChipStatus {
    /// Regime id.
    pub regime: String,
    /// Periods in force as written.
    pub as_written: Vec<Period>,
    /// Periods in force as enforced.
    pub as_enforced: Vec<Period>,
    /// ECCN, when classified and controlled.
    pub eccn: Option<&'static str>,
    /// Paragraph or why not controlled.
    pub paragraph: Option<&'static str>,
    /// Why classification failed (a fact the regime needs is missing).
    pub error: Option<String>,
    /// Where a license is required for the class, in words.
    pub license_scope: Option<String>,
    /// Item-specific rules of the regime that reach the chip.
    pub notes: Vec<String>,
}

fn scope_words(r: &Regime, a_type_dc: bool) -> String {
    let s = &r.spec.scope;
    if s.a_datacenter_worldwide && a_type_dc {
        return "every destination (tiers, exceptions and allocations decide)".into();
    }
    let mut parts = Vec::new();
    if !s.groups.is_empty() {
        let mut g = s.groups.join(" ");
        if !s.exclude_groups.is_empty() {
            g += &format!(" excl. {}", s.exclude_groups.join(" "));
        }
        parts.push(g);
    }
    let countries: Vec<String> = r
        .resolved
        .scope_countries
        .iter()
        .map(|c| c.to_string())
        .collect();
    if !countries.is_empty() {
        parts.push(countries.join(" "));
    }
    if !s.hq_taint_groups.is_empty() {
        parts.push(format!(
            "parties headquartered in {} anywhere",
            s.hq_taint_groups.join("/")
        ));
    }
    parts.join("; ")
}

/// The status of a chip (`metrics` from the catalog or the command line) under every regime, in
/// date order. `chip_id` lets item-specific rules ("is informed" lists) find it.
pub fn chip_statuses(
    policy: &Policy,
    metrics: Option<&Metrics>,
    chip_id: Option<&str>,
) -> Vec<ChipStatus> {
    by_date(policy)
        .into_iter()
        .map(|r| chip_status(policy, r, metrics, chip_id))
        .collect()
}

/// The status of a chip under one regime.
pub fn chip_status(
    policy: &Policy,
    r: &Regime,
    metrics: Option<&Metrics>,
    chip_id: Option<&str>,
) -> ChipStatus {
    let spec = &r.spec;
    let mut st = ChipStatus {
        regime: spec.id.clone(),
        as_written: in_force(policy, &spec.id, Posture::AsWritten),
        as_enforced: in_force(policy, &spec.id, Posture::AsEnforced),
        eccn: None,
        paragraph: None,
        error: None,
        license_scope: None,
        notes: Vec::new(),
    };
    let fmt = |d: rust_decimal::Decimal| d.normalize().to_string();
    match metrics {
        None => st.error = Some("no published dense throughput".into()),
        Some(m) => match classify(m, &spec.classification) {
            Ok(c) => {
                st.eccn = c.eccn.map(|e| e.as_str());
                st.paragraph = Some(c.paragraph);
                if let Some(e) = c.eccn {
                    st.license_scope = Some(scope_words(r, e.is_a_type() && c.datacenter));
                    if let Some(u) = &spec.us_export_review {
                        let qualifies = if m.tpp < u.tpp_below {
                            m.dram_bandwidth_gbs.map(|b| b < u.dram_bandwidth_gbs_below)
                        } else {
                            Some(false)
                        };
                        let dest = u.countries.join("/");
                        st.notes.push(match qualifies {
                            Some(true) => format!(
                                "{dest}: {} for exports from the US (TPP < {}, DRAM < {} GB/s); reexports and transfers: denial",
                                u.review,
                                fmt(u.tpp_below),
                                fmt(u.dram_bandwidth_gbs_below)
                            ),
                            Some(false) => format!(
                                "{dest}: outside the {} parameters (TPP < {}, DRAM < {} GB/s): denial",
                                u.review,
                                fmt(u.tpp_below),
                                fmt(u.dram_bandwidth_gbs_below)
                            ),
                            None => format!(
                                "{dest}: DRAM bandwidth unknown; the {} policy cannot be decided",
                                u.review
                            ),
                        });
                    }
                }
            }
            Err(e) => st.error = Some(e.to_string()),
        },
    }
    if let Some(id) = chip_id {
        for inf in spec
            .informed
            .iter()
            .filter(|i| i.chips.iter().any(|c| c == id))
        {
            let from = inf.from.map(|d| format!(" from {d}")).unwrap_or_default();
            st.notes.push(match &inf.apply_regime {
                Some(r) => format!(
                    "is-informed `{}`{from}: the requirements of `{r}` apply",
                    inf.id
                ),
                None => format!(
                    "is-informed `{}`{from}: license required to {}{} whatever the class",
                    inf.id,
                    inf.countries
                        .iter()
                        .chain(&inf.groups)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                    if inf.headquarters {
                        " (and to parties headquartered there)"
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    st
}
