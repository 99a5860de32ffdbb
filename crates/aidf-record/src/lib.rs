//! aidf-record: the compliance record of a shipment ([`ComplianceRecord`], built by
//! `aidf_service::register::compliance_record`) rendered as JSON, a self-contained HTML page with
//! a print stylesheet, or a PDF (built with `krilla`, the DejaVu Sans font embedded and subset).
//! The CLI (`aidf record`) and the server (`GET /v1/shipments/{id}/record`) both call [`render`].
//! Reports to BIS (`aidf report NAME --format pdf`, `GET /v1/reports/{name}?format=pdf`) use the
//! same PDF layout ([`report_pdf`]).
//!
//! HTML and PDF are laid out from one list of sections ([`sections`]), so they say the same
//! things. Names keep their script: HTML carries the text as given (UTF-8); the PDF draws what
//! the embedded font has glyphs for (Latin, Greek, Cyrillic, Arabic, Hebrew, …) and, for any text
//! with a character the font lacks (Han, Hangul, Kana, …), prints the text also as Unicode code
//! points (`U+534E U+4E3A …`) and says so at the top of the document, so nothing is silently
//! dropped or drawn as a wrong glyph.

use std::str::FromStr;

use aidf_service::register::ComplianceRecord;

mod application;
mod html;
mod model;
mod pdf;
mod report;

pub use application::{application_sections, render_application};
pub use model::{Row, Section, sections};
pub use pdf::{FONT_NAME, font_covers};
pub use report::{report_pdf, report_sections};

/// A rendering of a compliance record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`: the record as data.
    Json,
    /// `text/html`: one self-contained page (no scripts, no external resources).
    Html,
    /// `application/pdf`.
    Pdf,
}

impl Format {
    /// The media type to serve it with.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }
}

/// A format name that is not `json`, `html` or `pdf`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format `{0}`: expected json, html or pdf")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            "pdf" => Ok(Format::Pdf),
            other => Err(UnknownFormat(other.chars().take(40).collect())),
        }
    }
}

/// Why a record could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialization failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The PDF writer failed.
    #[error("pdf: {0}")]
    Pdf(String),
}

/// The record in `format`, as bytes.
pub fn render(record: &ComplianceRecord, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => {
            let mut out = serde_json::to_vec_pretty(record)?;
            out.push(b'\n');
            Ok(out)
        }
        Format::Html => Ok(html::render(record).into_bytes()),
        Format::Pdf => pdf::render(record),
    }
}
