//! The three renderings of a compliance record made by `ship`: JSON round-trips, the HTML has
//! every reason's citation and the names as given, the PDF is a PDF naming the shipment, and a
//! Han name the embedded font cannot draw is printed as code points with a note.

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, Timestamp};
use aidf_record::{Format, font_covers, render};
use aidf_service::register::{ComplianceRecord, compliance_record};
use aidf_service::{ShipConfig, ShipRequest, ship};

fn record_of(name: &str, hq: &str, dest: &str) -> ComplianceRecord {
    let policy = Policy::embedded().expect("policy");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut l = Ledger::open(dir.path().join("l.db").to_str().expect("utf8")).expect("open");
    let name = serde_json::to_string(name).expect("name");
    let input = DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"{dest}","consignee":{{"name":{name},"hq":"{hq}"}},"item":{{"chip":"H100 SXM"}},"quantity":10}}"#
    ))
    .expect("input");
    let req = ShipRequest {
        input: &input,
        shipment_id: "rec-1",
        tenant: "local",
        record_prefix: "",
        may_backfill: true,
        now: Timestamp(1_748_865_600_000),
    };
    ship(&mut l, &policy, &ShipConfig::default(), &req).expect("ship");
    compliance_record(&mut l, "local", "rec-1", "l.db").expect("record")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn json_round_trips() {
    let r = record_of("X Sdn Bhd", "MY", "MY");
    let bytes = render(&r, Format::Json).expect("json");
    let back: ComplianceRecord = serde_json::from_slice(&bytes).expect("parse");
    assert_eq!(back, r);
}

#[test]
fn html_has_every_citation_and_the_name_as_given() {
    let r = record_of("华为技术有限公司", "CN", "CN");
    assert!(!r.reasons.is_empty());
    let html = String::from_utf8(render(&r, Format::Html).expect("html")).expect("utf8");
    for reason in &r.reasons {
        assert!(
            html.contains(&html_escape(&reason.citation)),
            "{}",
            reason.citation
        );
    }
    assert!(html.contains("华为技术有限公司"));
    assert!(html.contains("@media print"));
    assert!(!html.contains("<script"), "self-contained, no scripts");
}

#[test]
fn pdf_names_the_shipment_and_escapes_what_the_font_lacks() {
    let r = record_of("华为技术有限公司", "CN", "CN");
    let pdf = render(&r, Format::Pdf).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("rec-1"), "the id in the document's metadata");
    assert!(!font_covers('华'), "DejaVu Sans has no Han");
    assert!(
        font_covers('ش') && font_covers('é'),
        "Arabic and Latin are drawn"
    );
}

#[test]
fn pdf_of_an_arabic_name_renders() {
    let r = record_of("شركة الخليج للتقنية", "AE", "AE");
    let pdf = render(&r, Format::Pdf).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn format_names() {
    assert_eq!("pdf".parse::<Format>().ok(), Some(Format::Pdf));
    let e = "docx".parse::<Format>().unwrap_err();
    assert_eq!(e.to_string(), "format `docx`: expected json, html or pdf");
}

/// A report to BIS as a PDF: the same layout as the record; its sections carry the title's
/// provenance (tenant, period, due date, regime) and every row.
#[test]
fn report_pdf_carries_the_rows_and_provenance() {
    use aidf_record::{report_pdf, report_sections};
    use aidf_service::reports::Report;
    let report = Report {
        name: "lpp-certifications".into(),
        tenant: "acme".into(),
        title: "LPP ultimate-consignee certifications".into(),
        period: "2025".into(),
        due: Some("before each shipment".into()),
        citation: "15 CFR 740.29".into(),
        regime: Some(("ai-diffusion-2025".into(), "sha256:abc".into())),
        notes: vec!["[U] single source".into()],
        columns: ["consignee", "hq", "received_tpp"]
            .map(String::from)
            .to_vec(),
        numeric: vec![2],
        rows: vec![
            ["Consignee 1 Sdn Bhd", "MY", "158320"]
                .map(String::from)
                .to_vec(),
            ["华为马来西亚", "MY", "42"].map(String::from).to_vec(),
        ],
    };
    let sections = report_sections(&report);
    let text: Vec<String> = sections
        .iter()
        .flat_map(|s| &s.rows)
        .map(|r| format!("{} | {}", r.label, r.value))
        .collect();
    for want in [
        "Tenant | acme",
        "Period | 2025",
        "Due | before each shipment",
        "Regime | ai-diffusion-2025",
        "Regime digest | sha256:abc",
        "Note | [U] single source",
        "1. Consignee 1 Sdn Bhd | hq: MY; received_tpp: 158320",
        "2. 华为马来西亚 | hq: MY; received_tpp: 42",
    ] {
        assert!(text.iter().any(|t| t == want), "{want} in {text:#?}");
    }
    let pdf = report_pdf(&report).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let empty = Report {
        rows: Vec::new(),
        ..report
    };
    let rows = report_sections(&empty);
    assert!(
        rows.iter()
            .flat_map(|s| &s.rows)
            .any(|r| r.value == "nothing to report")
    );
}
