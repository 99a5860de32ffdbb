//! An application's compliance record ([`ApplicationRecord`], built by
//! `aidf_service::application_record::application_record`) as sections, and rendered as JSON,
//! HTML or PDF in the shipment record's layout.

use aidf_service::application_record::{ApplicationRecord, RecordedTransition};
use serde_json::Value;

use crate::model::{Row, Section, row};
use crate::{Format, RenderError};

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn filed(r: &ApplicationRecord) -> Section {
    let a = &r.application;
    let c = &a.input.consignee;
    let items = a
        .input
        .items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("; ");
    Section {
        title: "Application",
        rows: vec![
            row("Application id", a.id.clone()),
            row("Tenant", a.tenant.clone()),
            row("State", format!("{} (since {})", a.state, a.state_date)),
            row("Filed on", a.input.date.to_string()),
            row("Destination", a.input.destination.clone()),
            row("Consignee", format!("{} (HQ {})", c.name, c.hq)),
            row("Items", items),
            row("Units applied for", a.total_units.to_string()),
            row("TPP applied for", a.total_tpp.to_string()),
            row("Review policy", a.review_policy.as_deref().unwrap_or("—")),
            row("License", a.license_id.as_deref().unwrap_or("—")),
        ],
    }
}

fn allocation(r: &ApplicationRecord) -> Section {
    let al = &r.application.allocation;
    let held_by = al
        .held_by
        .iter()
        .map(|h| format!("{} ({} TPP)", h.id, h.tpp))
        .collect::<Vec<_>>()
        .join(", ");
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    Section {
        title: "Allocation",
        rows: vec![
            row("Consumption reading", al.reading.clone()),
            row("Account", or_dash(al.account.clone())),
            row("TPP held", or_dash(al.held_tpp.map(|t| t.to_string()))),
            row("Hold", or_dash(al.hold_id.clone())),
            row(
                "Held by pending applications",
                if held_by.is_empty() {
                    "—".into()
                } else {
                    held_by
                },
            ),
            row(
                "Held by other tenants (TPP)",
                al.held_by_others_tpp.to_string(),
            ),
            row("Note", al.note.clone()),
        ],
    }
}

/// Each item's reasons (cited), unconfirmed readings and regime, in item order.
fn determinations(r: &ApplicationRecord) -> Section {
    let mut rows = Vec::new();
    for item in &r.application.determinations {
        let d = &item.determination;
        let n = item.index + 1;
        let regime = format!(
            "{} {}",
            text(&d["regime"]["id"]),
            text(&d["regime"]["digest"])
        );
        rows.push(row(
            format!("Item {n}"),
            format!(
                "{}; review policy {}; {} TPP; regime {regime}",
                item.authorization,
                item.review_policy.as_deref().unwrap_or("—"),
                item.total_tpp
            ),
        ));
        for (i, x) in d["reasons"].as_array().into_iter().flatten().enumerate() {
            rows.push(Row {
                label: format!("Item {n}, reason {}: {}", i + 1, text(&x["rule"])),
                value: text(&x["detail"]),
                cite: Some(text(&x["citation"])),
            });
        }
        for a in d["assumptions"].as_array().into_iter().flatten() {
            let v = format!(
                "{} [{}] {}",
                text(&a["value"]),
                text(&a["confidence"]),
                text(&a["detail"])
            );
            rows.push(row(
                format!("Item {n}, assumption {}", text(&a["switch"])),
                v,
            ));
        }
    }
    Section {
        title: "Determination of each item",
        rows,
    }
}

fn transition_row(t: &RecordedTransition) -> Row {
    let x = &t.transition;
    let from = x.from.map_or("—".to_string(), |f| f.to_string());
    let mut value = format!("{} by {}", x.date, x.actor);
    if let Some(l) = &x.license_id {
        value.push_str(&format!("; license {l}"));
    }
    if !x.conditions.is_empty() {
        let c = serde_json::to_string(&x.conditions).unwrap_or_default();
        value.push_str(&format!("; conditions {c}"));
    }
    if !x.note.is_empty() {
        value.push_str(&format!("; {}", x.note));
    }
    value.push_str(&match &t.audit {
        Some(a) => format!("; audit record #{} {}", a.seq, a.hash),
        None => "; audit record not yet chained".into(),
    });
    row(format!("{}. {from} → {}", x.seq, x.to), value)
}

/// The record's sections, in the order the HTML and the PDF show them.
pub fn application_sections(r: &ApplicationRecord) -> Vec<Section> {
    let input = serde_json::to_string_pretty(&r.application.input).unwrap_or_default();
    vec![
        filed(r),
        allocation(r),
        determinations(r),
        Section {
            title: "Transitions (dated, with their actor and audit record)",
            rows: r.transitions.iter().map(transition_row).collect(),
        },
        Section {
            title: "Input (as filed)",
            rows: vec![row("Application", input)],
        },
        Section {
            title: "Verification",
            rows: vec![row("Check the audit chain", r.verify_hint.clone())],
        },
    ]
}

/// The application's record in `format`, as bytes.
pub fn render_application(r: &ApplicationRecord, format: Format) -> Result<Vec<u8>, RenderError> {
    let a = &r.application;
    let title = format!("Compliance record {}", a.id);
    let heading = format!("Compliance record — application {} ({})", a.id, a.state);
    match format {
        Format::Json => {
            let mut out = serde_json::to_vec_pretty(r)?;
            out.push(b'\n');
            Ok(out)
        }
        Format::Html => {
            let h = crate::html::escape(&heading);
            Ok(crate::html::page(&title, &h, &application_sections(r)).into_bytes())
        }
        Format::Pdf => crate::pdf::document(&title, &heading, &application_sections(r)),
    }
}
