//! The item by its form (chip, metrics, high-bandwidth memory, model weights): what it is, how it
//! classifies, and the rules of its own path.

use std::sync::Arc;

use crate::chip::Chip;
use crate::classify::{
    Classification, Datacenter, Eccn, IndeterminateError, Metrics, classify_with,
};
use crate::explain::Assumption;
use crate::input::DeterminationInput;
use crate::policy::Policy;
use crate::regime::{Regime, ReviewPolicy};
use crate::restrict::ItemStatus;
use crate::terms::Tier;
use crate::weights::classify_weights;

use super::chips::chip_rules;
use super::informed::informed_rule;
use super::parties::domestic_rule;
use super::{
    Authorization, ChipCase, DetermineError, Eval, ItemAnswer, ItemSummary, Outcome, Parties,
    Tiers, license, outcome,
};

/// What an answer says of a name that fits several parts and was read as the catalog's default.
fn family_note(name: &str, chip: &crate::chip::Chip, parts: &[Arc<str>]) -> String {
    let list: Vec<&str> = parts.iter().map(|p| &**p).collect();
    format!(
        "`{name}` fits {} catalog parts ({}); taken as `{}` ({}), the catalog's default for that name: name the part to be exact",
        parts.len(),
        list.join(", "),
        chip.id,
        chip.name()
    )
}

/// An item summary of `kind` with every other field empty.
fn bare_item(kind: &'static str) -> ItemSummary {
    ItemSummary {
        kind,
        chip_id: None,
        name: None,
        tpp: None,
        pd: None,
        datacenter: None,
        paragraph: None,
        training_ops: None,
        note: None,
    }
}

/// The summary of a catalog chip, before classification.
fn chip_item(chip: &Chip) -> ItemSummary {
    ItemSummary {
        chip_id: Some(chip.id.clone()),
        name: Some(chip.name()),
        ..bare_item("chip")
    }
}

/// Answers the item by its form: model weights, high-bandwidth memory, or a chip.
pub(super) fn answer_item(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
) -> Result<ItemAnswer, DetermineError> {
    let item = &input.item;
    let forms = [
        item.chip.is_some(),
        item.tpp.is_some(),
        item.model_weights.is_some(),
        item.hbm.is_some(),
    ];
    if forms.iter().filter(|&&f| f).count() > 1 {
        return Err(DetermineError::Item(
            "give exactly one of `chip`, `tpp`, `model_weights` or `hbm`".into(),
        ));
    }
    // Model weights take their own path.
    if let Some(w) = &item.model_weights {
        return weights_answer(ev, parties, tiers, input, w);
    }
    let quantity = read_quantity(input)?;
    // High-bandwidth memory (3A090.c) takes its own path too.
    if let Some(h) = &item.hbm {
        return hbm_answer(ev, parties, h, quantity);
    }
    chip_answer(ev, parties, tiers, input, quantity)
}

/// The quantity of units: required for chips and memory, a positive whole number.
fn read_quantity(input: &DeterminationInput) -> Result<u64, DetermineError> {
    match input.quantity {
        None => Err(DetermineError::Quantity(
            "required for chips (a whole number of units)".into(),
        )),
        Some(q) if q <= 0 => Err(DetermineError::Quantity(format!(
            "`{q}` is not a positive whole number of units; {}",
            crate::input_error::quantity_expectation()
        ))),
        Some(q) => Ok(q as u64),
    }
}

/// Model weights (4E091): the weights rules, with the item's EAR status for part 744/746.
fn weights_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
    w: &crate::input::ModelWeightsInput,
) -> Result<ItemAnswer, DetermineError> {
    let (out, ops, eccn) = weights_rules(ev, parties, input, w, tiers.destination)?;
    let status = match (eccn, w.published) {
        (Some(_), _) => ItemStatus::Ccl,
        (None, true) => ItemStatus::NotSubject,
        (None, false) => ItemStatus::Ear99,
    };
    Ok(ItemAnswer {
        out,
        status,
        eccn,
        item: ItemSummary {
            training_ops: ops.map(crate::num::decimal_to_f64),
            ..bare_item("model_weights")
        },
        quantity: 1,
        unit_tpp: 0,
        total_tpp: 0,
    })
}

/// High-bandwidth memory (3A090.c): the memory rules, with the item's EAR status.
fn hbm_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    h: &crate::classify::HbmItem,
    quantity: u64,
) -> Result<ItemAnswer, DetermineError> {
    let (out, eccn, paragraph) = hbm_rules(ev, parties, h)?;
    let status = if eccn.is_some() {
        ItemStatus::Ccl
    } else {
        ItemStatus::BelowCcl
    };
    Ok(ItemAnswer {
        out,
        status,
        eccn,
        item: ItemSummary {
            paragraph,
            ..bare_item("hbm")
        },
        quantity,
        unit_tpp: 0,
        total_tpp: 0,
    })
}

/// The catalog chip the input names, if any, noting how a family name was read.
fn catalog_chip<'p>(
    ev: &mut Eval<'p>,
    input: &DeterminationInput,
) -> Result<Option<&'p Chip>, DetermineError> {
    let Some(name) = &input.item.chip else {
        return Ok(None);
    };
    let policy: &'p Policy = ev.policy;
    let (chip, family) = policy
        .catalog
        .lookup_noted(name)
        .map_err(DetermineError::Chip)?;
    ev.item_note = family.map(|parts| family_note(name, chip, parts));
    Ok(Some(chip))
}

/// A chip: its metrics and class (3A090/4A090), then the chip rules and any is-informed letter.
/// "Is informed" letters name catalog items, or state performance criteria.
fn chip_answer(
    ev: &mut Eval<'_>,
    parties: &Parties,
    tiers: Tiers,
    input: &DeterminationInput,
    quantity: u64,
) -> Result<ItemAnswer, DetermineError> {
    let catalog_chip = catalog_chip(ev, input)?;
    if let Some(chip) = catalog_chip.filter(|c| c.metrics().is_none())
        && let Some(review) = informed_rule(ev, parties, input, Some(chip), None)
    {
        // No published throughput: the requirement still holds; TPP stays unknown.
        return Ok(ItemAnswer {
            out: license(review),
            status: ItemStatus::BelowCcl,
            eccn: None,
            item: chip_item(chip),
            quantity,
            unit_tpp: 0,
            total_tpp: 0,
        });
    }
    let (metrics, item_base) = chip_metrics(catalog_chip, input, ev)?;
    let informed = informed_rule(ev, parties, input, catalog_chip, Some(&metrics));
    let unit_tpp = metrics.tpp_whole();
    let total_tpp = unit_tpp.checked_mul(quantity).ok_or_else(|| {
        DetermineError::Quantity(format!("`{quantity}` units overflow the TPP total"))
    })?;
    let class = classify_chip(ev, &metrics, item_base.chip_id.as_deref())?;
    ev.trail.reasons.push(class.reason);
    if let Some(chip) = catalog_chip {
        note_die_area_estimate(ev, chip, &metrics);
    }
    let item = ItemSummary {
        paragraph: Some(class.paragraph),
        pd: metrics
            .pd
            .map(|p| crate::num::decimal_to_f64(p.round_dp(2))),
        tpp: Some(crate::num::decimal_to_f64(metrics.tpp)),
        datacenter: Some(class.datacenter),
        ..item_base
    };
    let answer = |out, status, eccn| ItemAnswer {
        out,
        status,
        eccn,
        item,
        quantity,
        unit_tpp,
        total_tpp,
    };
    let Some(eccn) = class.eccn else {
        let out = not_controlled_rule(ev, informed);
        return Ok(answer(out, ItemStatus::BelowCcl, None));
    };
    let case = ChipCase {
        p: parties,
        tiers,
        input,
        eccn,
        datacenter: class.datacenter,
        metrics: &metrics,
        total_tpp,
    };
    let mut out = chip_rules(ev, &case)?;
    if let Some(review) = informed
        && !(out.authorization == Authorization::License
            && out.review == Some(ReviewPolicy::Denial))
    {
        out = license(review);
    }
    Ok(answer(out, ItemStatus::Ccl, Some(eccn)))
}

/// Classifies the chip under the regime; a catalog chip without the interconnect figure the
/// regime needs says which field to give.
fn classify_chip(
    ev: &Eval<'_>,
    metrics: &Metrics,
    chip_id: Option<&str>,
) -> Result<Classification, DetermineError> {
    let spec = &ev.regime.spec;
    classify_with(metrics, &spec.classification, ev.trail.detail).map_err(|e| {
        match (&e, chip_id) {
            (IndeterminateError::Interconnect { min, .. }, Some(id)) => DetermineError::Item(
                format!(
                    "chip `{id}` has no `interconnect_gbs` in the catalog, and regime `{}` classifies on aggregate bidirectional I/O >= {min} GB/s; give the item as metrics with `interconnect_gbs`",
                    spec.id
                ),
            ),
            _ => DetermineError::Indeterminate(e),
        }
    })
}

/// Notes a class resting on a third-party die-area estimate (the performance-density test
/// decides only below the TPP threshold).
fn note_die_area_estimate(ev: &mut Eval<'_>, chip: &Chip, metrics: &Metrics) {
    let cl = &ev.regime.spec.classification;
    if chip.die_area_estimate
        && cl.a2_pd_min.is_some()
        && cl.a1_tpp_min.is_some_and(|a1| metrics.tpp < a1)
    {
        ev.trail.assume(Assumption {
            switch: Arc::from("catalog_die_area_estimate"),
            value: format!("{} die area from {}", chip.id, chip.die_area_source),
            confidence: Arc::from("U"),
            detail: Arc::from(
                "the vendor publishes no die area; the class rests on a third-party estimate (policy/chips-supplement.csv); give the item as metrics with `die_area_mm2` to override",
            ),
        });
    }
}

/// A chip outside 3A090/4A090: no advanced-computing license requirement, unless an is-informed
/// letter reaches it.
fn not_controlled_rule(ev: &mut Eval<'_>, informed: Option<ReviewPolicy>) -> Outcome {
    if let Some(review) = informed {
        return license(review);
    }
    let spec = &ev.regime.spec;
    ev.trail
        .reason("not_controlled", &spec.classification.citation, || {
            "not 3A090/4A090 under this regime: no advanced-computing license requirement".into()
        });
    outcome(Authorization::NotControlled)
}

/// 3A090.c (HBM): classification, scope and review.
fn hbm_rules(
    ev: &mut Eval<'_>,
    p: &Parties,
    h: &crate::classify::HbmItem,
) -> Result<(Outcome, Option<Eccn>, Option<&'static str>), DetermineError> {
    let spec = &ev.regime.spec;
    if h.bandwidth_gbs.is_sign_negative() || h.area_mm2.is_sign_negative() || h.area_mm2.is_zero() {
        return Err(DetermineError::Item(format!(
            "field `hbm`: bandwidth must not be negative and the area must be positive, got {} GB/s over {} mm²",
            h.bandwidth_gbs, h.area_mm2
        )));
    }
    let Some(hbm) = &spec.hbm else {
        ev.trail.reason("hbm.not_in_regime", &spec.citation, || {
            format!(
                "`{}` has no ECCN 3A090.c: memory is not controlled by it",
                spec.id
            )
        });
        return Ok((outcome(Authorization::NotControlled), None, None));
    };
    let class = crate::classify::classify_hbm(h, hbm.density_gbs_per_mm2_above, &hbm.citation);
    let paragraph = Some(class.paragraph);
    ev.trail.reasons.push(class.reason);
    let Some(eccn) = class.eccn else {
        return Ok((outcome(Authorization::NotControlled), None, paragraph));
    };
    let regime = ev.regime;
    let groups = &regime.resolved.hbm_groups;
    if let Some(out) = domestic_rule(ev, p) {
        return Ok((out, Some(eccn), paragraph));
    }
    // 89 FR 96790: to those destinations, or to a party headquartered in, or whose ultimate
    // parent is headquartered in, one of them.
    let hit = [Some(p.dest), p.ultimate, Some(p.hq), Some(p.parent)]
        .into_iter()
        .flatten()
        .find_map(|c| ev.member_of_any(c, groups));
    let Some(g) = hit else {
        ev.trail.reason("scope.outside", &hbm.scope_citation, || {
            format!("no license requirement for 3A090.c to {}", p.dest)
        });
        return Ok((outcome(Authorization::Nlr), Some(eccn), paragraph));
    };
    let gid = ev.group_id(g);
    ev.trail
        .reason("hbm.license_required", &hbm.scope_citation, || {
            format!("3A090.c to a destination in {gid}, or to a party headquartered (or with an ultimate parent) there: license required")
        });
    ev.trail.reason(
        "hbm.exception_not_modelled",
        &hbm.exception_citation,
        || "License Exception HBM may apply; its conditions are not modelled".into(),
    );
    let s = spec.switches.hbm_license_review.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("hbm_license_review", s)));
    Ok((
        license(s.map(|s| s.value).unwrap_or(spec.review.tier3)),
        Some(eccn),
        paragraph,
    ))
}

/// The chip's metrics: the catalog's published figures, or the input's own (checked), with the
/// item summary before classification.
fn chip_metrics(
    catalog_chip: Option<&Chip>,
    input: &DeterminationInput,
    ev: &mut Eval<'_>,
) -> Result<(Metrics, ItemSummary), DetermineError> {
    let item = &input.item;
    match (catalog_chip, item.tpp) {
        (Some(chip), None) => {
            if item.pd.is_some()
                || item.die_area_mm2.is_some()
                || item.datacenter.is_some()
                || item.interconnect_gbs.is_some()
                || item.dram_bandwidth_gbs.is_some()
            {
                return Err(DetermineError::Item(
                    "a catalog `chip` takes no `pd`, `die_area_mm2`, `datacenter`, `interconnect_gbs` or `dram_bandwidth_gbs`; give metrics instead of `chip` to override".into(),
                ));
            }
            let metrics = chip.metrics().ok_or_else(|| {
                DetermineError::Item(format!(
                    "chip `{}` has no published dense throughput; give the item as {{\"tpp\": …, \"pd\": …, \"datacenter\": …}}",
                    chip.id
                ))
            })?;
            if chip.datacenter == Datacenter::Contested {
                ev.trail.assume(Assumption {
                    switch: Arc::from("chip_datacenter_contested"),
                    value: format!("{} treated as designed for datacenters", chip.id),
                    confidence: Arc::from("U"),
                    detail: Arc::from(
                        "Whether this workstation card is designed or marketed for datacenters is contested (shared/spec/chips.md); the stricter reading is used.",
                    ),
                });
            }
            Ok((metrics, chip_item(chip)))
        }
        (None, Some(tpp)) => {
            if tpp.is_sign_negative() || tpp.is_zero() {
                return Err(DetermineError::Item(format!(
                    "field `tpp` must be positive, got `{tpp}`"
                )));
            }
            for (field, v) in [
                ("pd", item.pd),
                ("interconnect_gbs", item.interconnect_gbs),
                ("dram_bandwidth_gbs", item.dram_bandwidth_gbs),
            ] {
                if let Some(v) = v.filter(|v| v.is_sign_negative()) {
                    return Err(DetermineError::Item(format!(
                        "field `{field}` must not be negative, got `{v}`"
                    )));
                }
            }
            if item.datacenter.is_none() {
                ev.trail.assume(Assumption {
                    switch: Arc::from("item_datacenter_default"),
                    value: "true".into(),
                    confidence: Arc::from("input"),
                    detail: Arc::from(
                        "`item.datacenter` not given: treated as designed or marketed for datacenters (the stricter reading).",
                    ),
                });
            }
            let pd = match item.pd {
                Some(pd) => Some(pd),
                None => crate::classify::pd_of(tpp, item.die_area_mm2)
                    .map_err(|e| DetermineError::Item(format!("field `die_area_mm2`: {e}")))?,
            };
            let metrics = Metrics {
                tpp,
                pd,
                die_area_mm2: item.die_area_mm2,
                die_area_mm2_max: None,
                die_area_mm2_min: None,
                datacenter: item.datacenter_status(),
                interconnect_gbs: item.interconnect_gbs,
                dram_bandwidth_gbs: item.dram_bandwidth_gbs,
            };
            Ok((metrics, bare_item("metrics")))
        }
        (Some(_), Some(_)) => Err(DetermineError::Item(
            "give exactly one of `chip`, `tpp`, `model_weights` or `hbm`".into(),
        )),
        (None, None) => Err(DetermineError::Item(
            "missing the item: give `chip`, `tpp` (with `pd`), `model_weights` or `hbm`".into(),
        )),
    }
}

/// Model weights (4E091): classification, the license requirement to every destination, Tier 3
/// denial, AIA, else the weights' review policy by destination tier.
fn weights_rules(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    w: &crate::input::ModelWeightsInput,
    destination_tier: Option<Tier>,
) -> Result<(Outcome, Option<rust_decimal::Decimal>, Option<Eccn>), DetermineError> {
    let spec = &ev.regime.spec;
    let Some(mw) = &spec.model_weights else {
        ev.trail
            .reason("weights.not_in_regime", &spec.citation, || {
                format!(
                    "`{}` has no ECCN 4E091: model weights are not controlled by it",
                    spec.id
                )
            });
        return Ok((outcome(Authorization::NotControlled), None, None));
    };
    let class =
        classify_weights(w, mw, &spec.switches, &mut ev.trail).map_err(DetermineError::Weights)?;
    if !class.controlled {
        return Ok((
            outcome(Authorization::NotControlled),
            Some(class.counted_ops),
            None,
        ));
    }
    let ops = Some(class.counted_ops);
    let eccn = Some(Eccn::E4091);
    if let Some(out) = domestic_rule(ev, p) {
        return Ok((out, ops, eccn));
    }
    ev.trail
        .reason("scope.license_requirement", &mw.citation, || {
            "4E091 requires a license to every destination".into()
        });
    let embargoed = ev
        .embargoed(p.dest)
        .or_else(|| ev.embargoed(p.hq))
        .or_else(|| ev.embargoed(p.parent));
    if let Some(gid) = embargoed {
        ev.trail
            .reason("tier3.denial", &spec.review.tier3_citation, || {
                format!("destination or headquarters in {gid}: presumption of denial, no exception")
            });
        return Ok((license(spec.review.tier3), ops, eccn));
    }
    if let Some(out) = weights_aia_rule(ev, p, input) {
        return Ok((out, ops, eccn));
    }
    let review = if destination_tier == Some(Tier::One) {
        mw.review_tier1
    } else {
        mw.review_other
    };
    ev.trail.reason("weights.review", &mw.citation, || {
        format!(
            "license required; presumption of {} for a {} destination",
            review,
            destination_tier
                .map(|t| t.to_string())
                .unwrap_or_else(|| "Tier ?".into())
        )
    });
    Ok((license(review), ops, eccn))
}

/// License Exception AIA for weights: a recipient headquartered (or with an ultimate parent) in
/// Tier 1, with compliant storage where the switch requires it (15 CFR 740.27(a)(3)).
fn weights_aia_rule(ev: &mut Eval<'_>, p: &Parties, input: &DeterminationInput) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let aia = spec.aia.as_ref()?;
    // §740.27(a)(3): headquartered in, or whose ultimate parent is headquartered in, Tier 1.
    let hq_t1 = ev.tier(p.hq) == Some(Tier::One) || ev.tier(p.parent) == Some(Tier::One);
    if hq_t1 {
        let s = spec.switches.weights_storage_required_for_aia.as_ref();
        let needs_storage = s.is_none_or(|s| s.value);
        let stored = input.context.weights_storage_compliant == Some(true);
        if !needs_storage || stored {
            ev.trail.reason(
                "aia.weights",
                &aia.weights_citation,
                || format!(
                    "recipient headquartered in Tier 1 (HQ {} / parent {}), located outside Macau/D:5{}: License Exception AIA",
                    p.hq,
                    p.parent,
                    if stored { ", storage meets Supp. No. 10 paras. 14, 15, 18" } else { "" }
                ),
            );
            return Some(outcome(Authorization::Aia));
        }
        ev.trail.reason(
            "aia.weights_storage_not_asserted",
            &aia.weights_citation,
            || "AIA for weights needs storage meeting Supp. No. 10 paras. 14, 15 and 18; set context.weights_storage_compliant to assert it".into(),
        );
    } else {
        ev.trail
            .reason("aia.unavailable_hq", &aia.weights_citation, || {
                format!(
                    "AIA for weights needs headquarters or ultimate parent in Tier 1; HQ {} / parent {}",
                    p.hq, p.parent
                )
            });
    }
    None
}
