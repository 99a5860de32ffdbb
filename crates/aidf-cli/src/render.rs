//! Human-readable rendering of determinations and classifications.

use std::fmt::Write;

use aidf_core::Determination;
use aidf_core::explain::thousands;

/// Renders a determination as an explanation a compliance officer can read.
pub fn determination(d: &Determination) -> String {
    let mut s = String::new();
    let verdict = if d.license_required {
        format!(
            "LICENSE REQUIRED (review policy: {})",
            d.review_policy.map(|r| r.as_str()).unwrap_or("not stated")
        )
    } else {
        match d.authorization {
            aidf_core::Authorization::NotControlled => {
                "not controlled by these rules (no license required)".to_string()
            }
            aidf_core::Authorization::Nlr => {
                "controlled, but no license required here (NLR)".to_string()
            }
            a => format!("authorized under {a} (no license required)"),
        }
    };
    let _ = writeln!(s, "Authorization: {verdict}");
    let item = match (&d.item.name, &d.item.chip_id) {
        (Some(n), Some(id)) => format!("{n} ({id})"),
        _ => d.item.kind.to_string(),
    };
    let _ = writeln!(
        s,
        "Item:          {item}; ECCN {}{}",
        d.eccn.map(|e| e.as_str()).unwrap_or("none"),
        d.item
            .paragraph
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default()
    );
    if let Some(note) = &d.item.note {
        let _ = writeln!(s, "Item note:     {note}");
    }
    if d.item.kind != "model_weights" {
        let _ = writeln!(
            s,
            "Quantity:      {} x {} TPP = {} TPP ({:.1} H100e)",
            thousands(d.quantity.into()),
            thousands(d.unit_tpp.into()),
            thousands(d.total_tpp.into()),
            d.h100_equivalents
        );
    }
    let tier = |t: Option<u8>| {
        t.map(|t| format!("Tier {t}"))
            .unwrap_or_else(|| "no tiers".into())
    };
    let _ = writeln!(
        s,
        "Destination:   {} ({}); consignee {}",
        d.destination,
        tier(d.destination_tier),
        tier(d.consignee_tier)
    );
    if !d.counts_against.is_empty() {
        let names: Vec<String> = d
            .counts_against
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(s, "Draws on:      {}", names.join(", "));
    }
    let _ = writeln!(
        s,
        "Regime:        {} ({}, {}, {}) {}",
        d.regime.id, d.regime.posture, d.regime.date, d.regime.selected_by, d.regime.digest
    );
    let _ = writeln!(s, "\nWhy:");
    for (i, r) in d.reasons.iter().enumerate() {
        let _ = writeln!(s, "  {}. {} [{}; {}]", i + 1, r.detail, r.rule, r.citation);
    }
    if !d.obligations.is_empty() {
        let _ = writeln!(s, "\nObligations:");
        for o in &d.obligations {
            let _ = writeln!(s, "  - {} [{}; {}]", o.detail, o.id, o.citation);
        }
    }
    if !d.assumptions.is_empty() {
        let _ = writeln!(
            s,
            "\nAssumptions (unconfirmed readings this answer relies on):"
        );
        for a in &d.assumptions {
            let _ = writeln!(s, "  - {} = {}: {}", a.switch, a.value, a.detail);
        }
    }
    s
}
