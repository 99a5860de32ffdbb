//! Human-readable rendering of determinations and classifications.

use std::fmt::Write;

use aidf_core::Determination;
use aidf_core::explain::{grouped_decimal, h100e_text, thousands};

/// Renders a determination as an explanation a compliance officer can read; `h100_tpp` is the
/// regime's TPP of one H100, for the H100-equivalents figure.
pub fn determination(d: &Determination, h100_tpp: u64) -> String {
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
            "Quantity:      {} x {} TPP = {} TPP ({} H100e)",
            thousands(d.quantity.into()),
            thousands(d.unit_tpp.into()),
            thousands(d.total_tpp.into()),
            h100e_text(d.total_tpp.into(), h100_tpp)
        );
    }
    let tier = |t: Option<aidf_core::Tier>| {
        t.map(|t| t.to_string())
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

/// Renders the screening of a transaction's parties: the verdict per party with its best hits,
/// what the screening did, and the list versions.
pub fn screening(t: &aidf_service::screening::TransactionScreening) -> String {
    let mut s = String::from("Screening:\n");
    for p in &t.parties {
        let _ = writeln!(s, "  {} `{}`: {}", p.role, p.name, p.verdict.as_str());
        for h in p.hits.iter().take(3) {
            let _ = writeln!(
                s,
                "    {} {} on {}: `{}`{}",
                h.score,
                h.verdict.as_str(),
                h.list,
                h.entry,
                if h.federal_register.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", h.federal_register.join(", "))
                }
            );
            if let Some(d) = &h.decision {
                let _ = writeln!(
                    s,
                    "      decision {}: {} by {} ({}); {}",
                    d.id,
                    d.decision.as_str(),
                    d.by,
                    d.reason,
                    d.note
                );
            }
        }
    }
    if let Some(e) = &t.entity_list {
        let how = match &e.note {
            Some(note) => note.clone(),
            None => "its license requirement and review policy apply".into(),
        };
        let _ = writeln!(s, "  Entity List entry applied: {}; {how}", e.citation);
    }
    if let Some(m) = &t.military_end_user {
        let _ = writeln!(s, "  Military End-User list entry applied: {m}");
    }
    if let Some(r) = &t.refusal {
        let label = if t.hold_for_review {
            "HOLD FOR REVIEW"
        } else {
            "REFUSED"
        };
        let text = r
            .strip_prefix(aidf_service::screening::HOLD_PREFIX)
            .unwrap_or(r);
        let _ = writeln!(s, "  {label}: {}", text.trim());
    }
    for o in &t.caller_overrides {
        let _ = writeln!(s, "  Override: {o}");
    }
    for v in &t.list_versions {
        let _ = writeln!(s, "  List: {} of {} ({})", v.id, v.date, v.sha256);
    }
    s
}

/// The screening block of a recorded shipment (as stored), in one or two lines.
pub fn shipment_screening(v: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let lists: Vec<String> = v["list_versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| format!("{} of {}", text(&l["id"]), text(&l["date"])))
        .collect();
    let mut s = format!(
        "Screening: {} (lists: {})\n",
        text(&v["verdict"]),
        lists.join(", ")
    );
    if let Some(c) = v["entity_list"]["citation"].as_str() {
        let _ = writeln!(s, "Entity List entry applied: {c}");
    }
    for o in v["caller_overrides"].as_array().into_iter().flatten() {
        let _ = writeln!(s, "Override: {}", text(o));
    }
    let hits = v["parties"].as_array().into_iter().flatten();
    for h in hits.flat_map(|p| p["hits"].as_array().into_iter().flatten()) {
        let d = &h["decision"];
        if d.is_object() {
            let _ = writeln!(
                s,
                "Decision on {} `{}`: {} by {} ({}); {}",
                text(&h["list"]),
                text(&h["entry"]),
                text(&d["decision"]),
                text(&d["by"]),
                text(&d["reason"]),
                text(&d["note"])
            );
        }
    }
    s
}

/// Rows under a header, each column padded to its widest cell (counted in characters), two
/// spaces apart, trailing space trimmed.
pub fn aligned(head: &[&str], rows: &[Vec<String>]) -> String {
    aligned_right(head, rows, &[])
}

/// [`aligned`], with the columns at the indexes `right` (numbers) aligned to the right, their
/// header too.
pub fn aligned_right(head: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = " ".repeat(w.saturating_sub(c.chars().count()));
                if right.contains(&i) {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&mut head.iter().copied());
    for r in rows {
        out += &line(&mut r.iter().map(String::as_str));
    }
    out
}

/// Renders a classification report as the lines `aidf classify` prints.
pub fn classify_text(r: &aidf_service::classify::ClassifyReport) -> String {
    let eccn = r.eccn.as_deref().unwrap_or("not controlled");
    let mut s = String::new();
    if let Some(c) = &r.chip {
        let _ = writeln!(
            s,
            "Chip:       {} ({}), confidence {}",
            c.name, c.id, c.confidence
        );
    }
    let pd =
        r.pd.map(grouped_decimal)
            .unwrap_or_else(|| "unknown (no die area)".into());
    let _ = writeln!(s, "TPP:        {} per chip", grouped_decimal(r.tpp));
    let _ = writeln!(s, "PD:         {pd}");
    let _ = writeln!(s, "Datacenter: {}", if r.datacenter { "yes" } else { "no" });
    let _ = writeln!(s, "Class:      {eccn} [{}]", r.paragraph);
    let _ = writeln!(s, "Why:        {} [{}]", r.reason.detail, r.reason.citation);
    if r.quantity > 1 {
        let _ = writeln!(
            s,
            "System:     {} chips = {} TPP ({eccn})",
            thousands(r.quantity.into()),
            thousands(r.system_tpp.into())
        );
    }
    let _ = writeln!(s, "Regime:     {} {}", r.regime.id, r.regime.digest);
    s
}
