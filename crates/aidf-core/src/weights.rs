//! ECCN 4E091: are these model weights controlled?

use rust_decimal::Decimal;

use crate::explain::Trail;
use crate::input::ModelWeightsInput;
use crate::regime::ModelWeights;

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

fn sci(d: Decimal) -> String {
    format!("{:e}", d.normalize())
}

/// Classifies weights under `rule`, writing the reasons to `trail`.
pub fn classify_weights(
    w: &ModelWeightsInput,
    rule: &ModelWeights,
    trail: &mut Trail,
) -> Result<WeightsClass, WeightsError> {
    let c = &rule.citation;
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
    let mut ops = match (w.training_ops, w.parameters, w.tokens) {
        (Some(ops), _, _) => ops,
        (None, Some(n), Some(d)) => {
            let ops = Decimal::from(6)
                .checked_mul(n)
                .and_then(|x| x.checked_mul(d))
                .ok_or(WeightsError {
                    field: "item.model_weights.parameters",
                    message: "6 x parameters x tokens is out of range".into(),
                })?;
            trail.reason(
                "weights.estimate_6nd",
                c,
                format!(
                    "training operations estimated as 6 x {} parameters x {} tokens = {}",
                    sci(n),
                    sci(d),
                    sci(ops)
                ),
            );
            ops
        }
        _ => {
            return Err(WeightsError {
                field: "item.model_weights.training_ops",
                message: "required (or give `parameters` and `tokens` for the 6·N·D estimate)"
                    .into(),
            });
        }
    };
    if let Some(share) = w.synthetic_share_pct {
        if share > Decimal::from(rule.synthetic_data_share_min_pct) {
            let mut added = w.synthetic_generation_ops.unwrap_or_default();
            if !w.synthetic_generator_published {
                added += w.synthetic_generator_training_ops.unwrap_or_default();
            }
            ops += added;
            trail.reason(
                "weights.synthetic_data",
                c,
                format!(
                    "{share}% of operations used data from one unpublished generator (more than {}%): {} operations added",
                    rule.synthetic_data_share_min_pct,
                    sci(added)
                ),
            );
        }
    }
    let not = |trail: &mut Trail, rule_id, detail: String| {
        trail.reason(rule_id, c, detail);
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
    if let Some(base) = w.derived_from_published_ops {
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
        let share_min =
            base * Decimal::from(rule.derivative_extra_share_min_pct) / Decimal::from(100);
        let min = rule.derivative_extra_ops_min.max(share_min);
        if extra <= min {
            return not(
                trail,
                "weights.derived_from_published",
                format!(
                    "derived from a published model: extra training {} does not exceed max({}, {}% of {}) = {}",
                    sci(extra),
                    sci(rule.derivative_extra_ops_min),
                    rule.derivative_extra_share_min_pct,
                    sci(base),
                    sci(min)
                ),
            );
        }
        trail.reason(
            "weights.derived_exceeds",
            c,
            format!(
                "derived from a published model, but extra training {} exceeds max({}, {}% of {}) = {}",
                sci(extra),
                sci(rule.derivative_extra_ops_min),
                rule.derivative_extra_share_min_pct,
                sci(base),
                sci(min)
            ),
        );
    }
    if let Some(floor) = w.floor_ops {
        if ops < floor {
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
    }
    trail.reason(
        "weights.4e091",
        c,
        format!(
            "unpublished weights trained with {} operations >= {}",
            sci(ops),
            sci(rule.threshold_ops)
        ),
    );
    Ok(WeightsClass {
        controlled: true,
        counted_ops: ops,
    })
}
