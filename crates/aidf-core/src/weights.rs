//! ECCN 4E091: are these model weights controlled?

use rust_decimal::Decimal;

use crate::explain::Trail;
use crate::input::ModelWeightsInput;
use crate::regime::{DerivativeShareOf, ModelWeights, Switches};

/// The outcome of 4E091 classification.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsClass {
    /// Whether the weights are 4E091.
    pub controlled: bool,
    /// Operations counted, after the synthetic-data rule.
    pub counted_ops: Decimal,
}

/// Input that cannot be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct WeightsError {
    /// Field path.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Scientific notation with the mantissa's trailing zeros trimmed (`1.3e26`, not
/// `1.30000000000000000000000000e26`, which `{:e}` prints for a whole decimal).
pub fn sci(d: Decimal) -> String {
    let text = format!("{:e}", d.normalize());
    match text.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => text,
    }
}

/// Parses training facts written as a JSON object (the `item.model_weights` contract on its own);
/// errors name the field path.
pub fn weights_input_from_json(text: &str) -> Result<ModelWeightsInput, crate::input::InputError> {
    crate::strict_json::parse_document(text, "model weights' training facts")
}

/// Classifies weights under `rule`, writing the reasons to `trail`.
pub fn classify_weights(
    w: &ModelWeightsInput,
    rule: &ModelWeights,
    switches: &Switches,
    trail: &mut Trail,
) -> Result<WeightsClass, WeightsError> {
    let c = &rule.citation;
    check_weights_input(w)?;
    let ops = training_ops(w, rule, trail)?;
    let ops = with_synthetic_ops(w, rule, trail, ops)?;
    let not = |trail: &mut Trail, rule_id, detail: String| {
        trail.reason(rule_id, c, || detail);
        Ok(WeightsClass {
            controlled: false,
            counted_ops: ops,
        })
    };
    if w.published {
        return not(
            trail,
            "weights.published",
            "the weights are published: 4E091 does not control published parameters".into(),
        );
    }
    if ops < rule.threshold_ops {
        return not(
            trail,
            "weights.below_threshold",
            format!(
                "{} training operations < {}",
                sci(ops),
                sci(rule.threshold_ops)
            ),
        );
    }
    if let Some(base) = w.derived_from_published_ops
        && derivative_exempt(rule, switches, trail, ops, base)?
    {
        return Ok(WeightsClass {
            controlled: false,
            counted_ops: ops,
        });
    }
    if let Some(floor) = w.floor_ops
        && ops < floor
    {
        return not(
            trail,
            "weights.relative_floor",
            format!(
                "{} operations is below the relative floor {} (operations needed to match the most capable published model)",
                sci(ops),
                sci(floor)
            ),
        );
    }
    trail.reason("weights.4e091", c, || {
        format!(
            "unpublished weights trained with {} operations >= {}",
            sci(ops),
            sci(rule.threshold_ops)
        )
    });
    Ok(WeightsClass {
        controlled: true,
        counted_ops: ops,
    })
}

/// An operation count near Decimal's range (~7.9e28): an error naming the field, not a panic.
fn overflow(field: &'static str) -> WeightsError {
    WeightsError {
        field,
        message: "operation count is out of range".into(),
    }
}

/// Rejects negative counts and a synthetic-data share outside 0..=100.
fn check_weights_input(w: &ModelWeightsInput) -> Result<(), WeightsError> {
    let neg = |field: &'static str, v: Option<Decimal>| match v {
        Some(x) if x.is_sign_negative() => Err(WeightsError {
            field,
            message: format!("must not be negative, got `{x}`"),
        }),
        _ => Ok(()),
    };
    neg("item.model_weights.training_ops", w.training_ops)?;
    neg("item.model_weights.parameters", w.parameters)?;
    neg("item.model_weights.tokens", w.tokens)?;
    neg(
        "item.model_weights.derived_from_published_ops",
        w.derived_from_published_ops,
    )?;
    neg("item.model_weights.floor_ops", w.floor_ops)?;
    neg(
        "item.model_weights.synthetic_generation_ops",
        w.synthetic_generation_ops,
    )?;
    neg(
        "item.model_weights.synthetic_generator_training_ops",
        w.synthetic_generator_training_ops,
    )?;
    if let Some(share) = w.synthetic_share_pct
        && (share.is_sign_negative() && !share.is_zero() || share > Decimal::ONE_HUNDRED)
    {
        return Err(WeightsError {
            field: "item.model_weights.synthetic_share_pct",
            message: format!("must be a percentage from 0 to 100, got `{share}`"),
        });
    }
    Ok(())
}

/// The training operations: as given, or estimated as 6 × parameters × tokens.
fn training_ops(
    w: &ModelWeightsInput,
    rule: &ModelWeights,
    trail: &mut Trail,
) -> Result<Decimal, WeightsError> {
    match (w.training_ops, w.parameters, w.tokens) {
        (Some(ops), _, _) => Ok(ops),
        (None, Some(n), Some(d)) => {
            let ops = Decimal::from(6)
                .checked_mul(n)
                .and_then(|x| x.checked_mul(d))
                .ok_or(WeightsError {
                    field: "item.model_weights.parameters",
                    message: "6 x parameters x tokens is out of range".into(),
                })?;
            trail.reason("weights.estimate_6nd", &rule.citation, || {
                format!(
                    "training operations estimated as 6 x {} parameters x {} tokens = {}",
                    sci(n),
                    sci(d),
                    sci(ops)
                )
            });
            Ok(ops)
        }
        _ => Err(WeightsError {
            field: "item.model_weights.training_ops",
            message: "required (or give `parameters` and `tokens` for the 6·N·D estimate)".into(),
        }),
    }
}

/// The synthetic-data rule: above the share, the generator's operations (and its training's,
/// when unpublished) count too.
fn with_synthetic_ops(
    w: &ModelWeightsInput,
    rule: &ModelWeights,
    trail: &mut Trail,
    ops: Decimal,
) -> Result<Decimal, WeightsError> {
    let Some(share) = w.synthetic_share_pct else {
        return Ok(ops);
    };
    if share <= Decimal::from(rule.synthetic_data_share_min_pct) {
        return Ok(ops);
    }
    let mut added = w.synthetic_generation_ops.unwrap_or_default();
    if !w.synthetic_generator_published {
        added = added
            .checked_add(w.synthetic_generator_training_ops.unwrap_or_default())
            .ok_or_else(|| overflow("item.model_weights.synthetic_generator_training_ops"))?;
    }
    let ops = ops
        .checked_add(added)
        .ok_or_else(|| overflow("item.model_weights.synthetic_generation_ops"))?;
    trail.reason(
        "weights.synthetic_data",
        &rule.citation,
        || format!(
            "{share}% of operations used data from one unpublished generator (more than {}%): {} operations added",
            rule.synthetic_data_share_min_pct,
            sci(added)
        ),
    );
    Ok(ops)
}

/// Whether weights derived from a published model stay outside 4E091: their extra training does
/// not exceed the greater of the fixed minimum and the share (of the base, or the total under the
/// `derivative_share_of` switch).
fn derivative_exempt(
    rule: &ModelWeights,
    switches: &Switches,
    trail: &mut Trail,
    ops: Decimal,
    base: Decimal,
) -> Result<bool, WeightsError> {
    let c = &rule.citation;
    if base > ops {
        return Err(WeightsError {
            field: "item.model_weights.derived_from_published_ops",
            message: format!(
                "`{}` exceeds training_ops `{}`; training_ops counts the base model's operations too",
                sci(base),
                sci(ops)
            ),
        });
    }
    let extra = ops - base;
    let sw = switches.derivative_share_of.as_ref();
    if let Some(a) = sw.and_then(|s| crate::regime::Regime::assumption("derivative_share_of", s)) {
        trail.assume(a);
    }
    let of = match sw.map(|s| s.value) {
        Some(DerivativeShareOf::Total) => ops,
        _ => base,
    };
    // Divide first: of × pct can leave Decimal's range where of / 100 × pct does not.
    let share_min = (of / Decimal::ONE_HUNDRED)
        .checked_mul(Decimal::from(rule.derivative_extra_share_min_pct))
        .ok_or_else(|| overflow("item.model_weights.derived_from_published_ops"))?;
    let min = rule.derivative_extra_ops_min.max(share_min);
    if extra <= min {
        let detail = format!(
            "derived from a published model: extra training {} does not exceed max({}, {}% of {}) = {}",
            sci(extra),
            sci(rule.derivative_extra_ops_min),
            rule.derivative_extra_share_min_pct,
            sci(of),
            sci(min)
        );
        trail.reason("weights.derived_from_published", c, || detail);
        return Ok(true);
    }
    trail.reason("weights.derived_exceeds", c, || {
        format!(
            "derived from a published model, but extra training {} exceeds max({}, {}% of {}) = {}",
            sci(extra),
            sci(rule.derivative_extra_ops_min),
            rule.derivative_extra_share_min_pct,
            sci(of),
            sci(min)
        )
    });
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::parse_decimal;

    fn rule() -> ModelWeights {
        let p = crate::Policy::embedded().expect("embedded policy");
        let r = p.regime("ai-diffusion-2025").expect("regime");
        r.spec.model_weights.clone().expect("4E091")
    }

    fn d(s: &str) -> Decimal {
        parse_decimal(s).expect("number")
    }

    fn input() -> ModelWeightsInput {
        ModelWeightsInput {
            training_ops: None,
            parameters: None,
            tokens: None,
            published: false,
            derived_from_published_ops: None,
            floor_ops: None,
            synthetic_share_pct: None,
            synthetic_generation_ops: None,
            synthetic_generator_training_ops: None,
            synthetic_generator_published: false,
        }
    }

    #[test]
    fn sci_trims_the_mantissa() {
        assert_eq!(sci(d("1.3e26")), "1.3e26");
        assert_eq!(sci(d("1e26")), "1e26");
        assert_eq!(sci(d("2.5e25")), "2.5e25");
        assert_eq!(sci(d("0")), "0e0");
        assert_eq!(sci(d("123")), "1.23e2");
    }

    #[test]
    fn huge_counts_are_errors_not_panics() {
        let mut w = input();
        w.training_ops = Some(d("7e28"));
        w.derived_from_published_ops = Some(d("6e28"));
        assert!(classify_weights(&w, &rule(), &Switches::default(), &mut Trail::default()).is_ok());
        let mut w = input();
        w.training_ops = Some(d("7e28"));
        w.synthetic_share_pct = Some(d("50"));
        w.synthetic_generation_ops = Some(d("7e28"));
        let e =
            classify_weights(&w, &rule(), &Switches::default(), &mut Trail::default()).unwrap_err();
        assert_eq!(e.field, "item.model_weights.synthetic_generation_ops");
    }

    #[test]
    fn synthetic_inputs_are_validated() {
        let mut w = input();
        w.training_ops = Some(d("1e26"));
        w.synthetic_share_pct = Some(d("101"));
        let e =
            classify_weights(&w, &rule(), &Switches::default(), &mut Trail::default()).unwrap_err();
        assert_eq!(e.field, "item.model_weights.synthetic_share_pct");
        w.synthetic_share_pct = Some(d("20"));
        w.synthetic_generation_ops = Some(d("-1"));
        let e =
            classify_weights(&w, &rule(), &Switches::default(), &mut Trail::default()).unwrap_err();
        assert_eq!(e.field, "item.model_weights.synthetic_generation_ops");
    }
}
