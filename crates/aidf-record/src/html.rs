//! One self-contained HTML page: inline styles with a print stylesheet, no scripts, no
//! external resources; text as given (UTF-8), escaped.

use std::fmt::Write;

use aidf_service::register::ComplianceRecord;

use crate::model::{Section, sections};

const STYLE: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;max-width:60rem;\
margin:2rem auto;padding:0 1rem;color:#111;line-height:1.4}\
h1{font-size:1.4rem}h2{font-size:1.1rem;border-bottom:1px solid #999;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;\
padding:.25rem .5rem;border-bottom:1px solid #ddd}th{width:16rem;font-weight:600}\
.cite{color:#444;font-size:.9em;font-style:italic}pre{white-space:pre-wrap;margin:0}\
.status-refused{color:#a00}.status-authorized{color:#060}\
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}\
tr{break-inside:avoid}a{color:inherit;text-decoration:none}@page{margin:15mm}}";

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The record as one HTML page.
pub(crate) fn render(r: &ComplianceRecord) -> String {
    let id = escape(&r.shipment.shipment_id);
    let status = r.shipment.status.as_str();
    let heading = format!(
        "Compliance record — shipment {id} <span class=\"status-{status}\">({status})</span>"
    );
    let title = format!("Compliance record {}", r.shipment.shipment_id);
    page(&title, &heading, &sections(r))
}

/// A titled page of sections; `title` is text, `heading_html` is markup (escaped by the caller).
pub(crate) fn page(title: &str, heading_html: &str, sections: &[Section]) -> String {
    let mut h = String::with_capacity(16_384);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>{}</title><style>{STYLE}</style></head><body>\n<h1>{heading_html}</h1>\n",
        escape(title)
    );
    for s in sections {
        let _ = write!(h, "<h2>{}</h2>\n<table>\n", escape(s.title));
        for row in &s.rows {
            let value = if s.title.starts_with("Input") {
                format!("<pre>{}</pre>", escape(&row.value))
            } else {
                escape(&row.value)
            };
            let cite = row.cite.as_deref().map_or(String::new(), |c| {
                format!("<div class=\"cite\">{}</div>", escape(c))
            });
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\">{}</th><td>{value}{cite}</td></tr>",
                escape(&row.label)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}
