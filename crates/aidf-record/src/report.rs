//! A report to BIS (`aidf_service::reports::Report`) as sections of labelled rows, rendered with
//! the compliance record's PDF layout: heading, the report's provenance (tenant, period, due
//! date, citation, regime and digest), its notes and unconfirmed readings, then one row per line
//! of the table (the first column as the label, every other column named).

use aidf_service::reports::Report;

use crate::RenderError;
use crate::model::{Section, row};

fn provenance(r: &Report) -> Section {
    let (regime, digest) = r
        .regime
        .as_ref()
        .map_or(("—", "—"), |(id, d)| (id.as_str(), d.as_str()));
    let mut rows = vec![
        row("Report", r.name.clone()),
        row("Tenant", r.tenant.clone()),
        row("Period", r.period.clone()),
        row("Due", r.due.clone().unwrap_or_else(|| "—".into())),
    ];
    if !r.citation.is_empty() {
        rows.push(row("Citation", r.citation.clone()));
    }
    rows.push(row("Regime", regime));
    rows.push(row("Regime digest", digest));
    rows.push(row("Rows", r.rows.len().to_string()));
    Section {
        title: "Report",
        rows,
    }
}

fn table(r: &Report) -> Section {
    let rows = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let first = line.first().map_or("", String::as_str);
            let rest: Vec<String> = r
                .columns
                .iter()
                .zip(line)
                .skip(1)
                .map(|(c, v)| format!("{c}: {}", if v.is_empty() { "—" } else { v }))
                .collect();
            row(format!("{}. {first}", i + 1), rest.join("; "))
        })
        .collect::<Vec<_>>();
    Section {
        title: "Rows",
        rows: if rows.is_empty() {
            vec![row("Rows", "nothing to report")]
        } else {
            rows
        },
    }
}

/// The report's sections, in the order the PDF shows them.
pub fn report_sections(r: &Report) -> Vec<Section> {
    let notes = r.notes.iter().map(|n| row("Note", n.clone())).collect();
    vec![
        provenance(r),
        Section {
            title: "Notes and unconfirmed readings",
            rows: notes,
        },
        table(r),
    ]
}

/// The report as a PDF, laid out like a compliance record.
pub fn report_pdf(r: &Report) -> Result<Vec<u8>, RenderError> {
    let heading = format!("{} — {}", r.title, r.period);
    crate::pdf::document(&heading, &heading, &report_sections(r))
}
