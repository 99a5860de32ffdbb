//! Is-informed letters: whether one reaches the item and the parties, and what it requires.

use chrono::NaiveDate;

use crate::chip::Chip;
use crate::classify::{Datacenter, Metrics};
use crate::country::CountryCode;
use crate::input::DeterminationInput;
use crate::policy::Policy;
use crate::regime::{Regime, ReviewPolicy};

use super::parties::is_domestic;
use super::{Eval, Parties};

/// How an is-informed letter reaches an item.
#[derive(Clone, Copy)]
enum LetterHit {
    /// The letter names the catalog chip.
    Named,
    /// The item meets the letter's performance criteria.
    Criteria,
}

/// The letter's criteria as (minimum, the item's value, what) triples.
fn letter_tests(
    cr: &crate::regime::InformedCriteria,
    m: &Metrics,
) -> [(
    Option<rust_decimal::Decimal>,
    Option<rust_decimal::Decimal>,
    &'static str,
); 3] {
    [
        (cr.tpp_min, Some(m.tpp), "TPP"),
        (
            cr.interconnect_gbs_min,
            m.interconnect_gbs,
            "interconnect GB/s",
        ),
        (
            cr.dram_bandwidth_gbs_min,
            m.dram_bandwidth_gbs,
            "DRAM bandwidth GB/s",
        ),
    ]
}

/// Whether an is-informed letter reaches the item: named by catalog id, or meeting the letter's
/// performance criteria (for its addressees' items). Allocates nothing: texts are built lazily.
fn informed_item(
    inf: &crate::regime::Informed,
    input: &DeterminationInput,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> Option<LetterHit> {
    if let Some(c) = chip
        && inf.chips.iter().any(|id| **id == *c.id)
    {
        return Some(LetterHit::Named);
    }
    let (cr, m) = (inf.criteria.as_ref()?, metrics?);
    let vendor_ok = cr.vendors.iter().any(|v| {
        chip.is_some_and(|c| c.vendor.eq_ignore_ascii_case(v))
            || input
                .exporter
                .as_ref()
                .and_then(|e| e.name.as_deref())
                .is_some_and(|n| n.split_whitespace().any(|w| w.eq_ignore_ascii_case(v)))
    });
    if !vendor_ok || (cr.datacenter_only && m.datacenter == Datacenter::No) {
        return None;
    }
    let (mut stated, mut met) = (0, 0);
    for (min, value, _) in letter_tests(cr, m) {
        let Some(min) = min else { continue };
        stated += 1;
        met += usize::from(value.is_some_and(|v| v >= min));
    }
    let hit = if cr.all { met == stated } else { met > 0 };
    (hit && stated > 0).then_some(LetterHit::Criteria)
}

/// What a letter hit says, for the reason text.
fn letter_hit_text(
    hit: LetterHit,
    inf: &crate::regime::Informed,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> String {
    match (hit, inf.criteria.as_ref(), metrics) {
        (LetterHit::Criteria, Some(cr), Some(m)) => {
            let met: Vec<String> = letter_tests(cr, m)
                .into_iter()
                .filter_map(|(min, value, what)| {
                    let min = min?;
                    value
                        .is_some_and(|v| v >= min)
                        .then(|| format!("{what} >= {}", min.normalize()))
                })
                .collect();
            format!("meets the letter's criteria ({})", met.join(", "))
        }
        _ => format!(
            "`{}` is named",
            chip.map(|c| c.id.to_string()).unwrap_or_default()
        ),
    }
}

/// The regime an is-informed letter of the timeline's regime applies to this item on `date`.
pub(super) fn letter_regime<'p>(
    policy: &'p Policy,
    regime: &'p Regime,
    input: &DeterminationInput,
    date: NaiveDate,
) -> Option<(&'p Regime, &'p crate::regime::Informed)> {
    // Most regimes have no such letter: look the item up only when one does.
    regime
        .spec
        .informed
        .iter()
        .find(|i| i.apply_regime.is_some())?;
    let chip = input
        .item
        .chip
        .as_deref()
        .and_then(|c| policy.catalog.lookup(c).ok());
    let metrics = match chip {
        Some(c) => c.metrics(),
        None => input.item.tpp.map(|tpp| Metrics {
            tpp,
            pd: None,
            die_area_mm2: None,
            die_area_mm2_max: None,
            die_area_mm2_min: None,
            datacenter: input.item.datacenter_status(),
            interconnect_gbs: input.item.interconnect_gbs,
            dram_bandwidth_gbs: input.item.dram_bandwidth_gbs,
        }),
    };
    regime.spec.informed.iter().find_map(|inf| {
        let id = inf.apply_regime.as_deref()?;
        let dated = inf.from.is_none_or(|f| f <= date) && inf.until.is_none_or(|u| date < u);
        informed_item(inf, input, chip, metrics.as_ref())
            .filter(|_| dated)
            .and_then(|_| Some((policy.regime(id)?, inf)))
    })
}

/// Whether a place (or a party's headquarters) is among an is-informed letter's destinations.
fn informed_place(ev: &mut Eval<'_>, i: usize, code: CountryCode) -> bool {
    let regime: &Regime = ev.regime;
    regime.resolved.informed_countries[i].contains(&code)
        || ev
            .member_of_any(code, &regime.resolved.informed_groups[i])
            .is_some()
}

/// An is-informed letter reaching this item and these parties on this date: its review policy.
pub(super) fn informed_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    chip: Option<&Chip>,
    metrics: Option<&Metrics>,
) -> Option<ReviewPolicy> {
    if is_domestic(ev, p) {
        return None;
    }
    let regime: &Regime = ev.regime;
    let spec = &regime.spec;
    for (i, inf) in spec.informed.iter().enumerate() {
        let dated = inf.from.is_none_or(|f| f <= ev.date) && inf.until.is_none_or(|u| ev.date < u);
        if !dated || inf.apply_regime.is_some() {
            continue;
        }
        let Some(hit) = informed_item(inf, input, chip, metrics) else {
            continue;
        };
        // The destination (or ultimate destination), else a headquarters the letter covers.
        let place = [Some(p.dest), p.ultimate]
            .into_iter()
            .flatten()
            .find(|&c| informed_place(ev, i, c))
            .map(|c| (c, false))
            .or_else(|| {
                [p.hq, p.parent]
                    .into_iter()
                    .find(|&c| inf.headquarters && informed_place(ev, i, c))
                    .map(|c| (c, true))
            });
        let Some((code, by_hq)) = place else { continue };
        let s = spec.switches.informed_license_review.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("informed_license_review", s)));
        let review = s.map(|s| s.value).unwrap_or(ReviewPolicy::CaseByCase);
        ev.trail.reason("informed.license_required", &inf.citation, || {
            format!(
                "is-informed letter `{}`: the item {}; {} {code}: license required whatever its 3A090 status ({})",
                inf.id,
                letter_hit_text(hit, inf, chip, metrics),
                if by_hq {
                    "consignee or its ultimate parent headquartered in"
                } else {
                    "destination"
                },
                inf.note
            )
        });
        return Some(review);
    }
    None
}
