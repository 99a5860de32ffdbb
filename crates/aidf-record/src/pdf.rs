//! The PDF rendering, built with `krilla` (text shaped with rustybuzz, the font subset and
//! embedded). A4, one column of labelled rows, the same sections as the HTML.
//!
//! Font: DejaVu Sans (the font `aidf-batch` embeds for charts). It covers Latin, Greek,
//! Cyrillic, Arabic and Hebrew, but no Han, Hangul or Kana: a character it has no glyph for is
//! printed as its code point (`<U+534E>`) in place, and the first page says so, so a name is
//! never dropped or drawn as a wrong glyph. Right-to-left runs (Arabic, Hebrew) are shaped and
//! drawn right to left, each run in the line's logical order (no full bidi reordering).

use std::sync::OnceLock;

use aidf_service::register::ComplianceRecord;
use krilla::Document;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

use crate::RenderError;
use crate::model::{Section, sections};

/// The embedded font's name, for the note on missing glyphs.
pub const FONT_NAME: &str = "DejaVu Sans";

static FONT_BYTES: &[u8] = include_bytes!("../../aidf-batch/assets/DejaVuSans.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const LABEL_W: f32 = 150.0;
const BODY: f32 = 8.5;
const LEADING: f32 = 11.5;

fn face() -> Option<&'static ttf_parser::Face<'static>> {
    static FACE: OnceLock<Option<ttf_parser::Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| ttf_parser::Face::parse(FONT_BYTES, 0).ok())
        .as_ref()
}

/// Whether the embedded font has a glyph for `c` (white space and controls always pass).
pub fn font_covers(c: char) -> bool {
    c.is_whitespace() || c.is_control() || face().is_some_and(|f| f.glyph_index(c).is_some())
}

/// `text` with every character the font lacks written as `<U+XXXX>`.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' {
            out.push_str("    ");
        } else if font_covers(c) && !c.is_control() {
            out.push(c);
        } else if !c.is_control() {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        }
    }
    out
}

fn advance(c: char, size: f32) -> f32 {
    let Some(f) = face() else {
        return size * 0.6;
    };
    let units = f.units_per_em().max(1);
    let adv = f
        .glyph_index(c)
        .and_then(|g| f.glyph_hor_advance(g))
        .unwrap_or(units / 2);
    f32::from(adv) * size / f32::from(units)
}

fn width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| advance(c, size)).sum()
}

/// Greedy line breaking at spaces (a word wider than the line is cut between characters).
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                if width(&line, size) + advance(c, size) > max && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(c);
            }
        }
        lines.push(line);
    }
    lines
}

/// A piece of text placed on a page (y: baseline from the top).
#[derive(Debug, Clone)]
struct Placed {
    x: f32,
    y: f32,
    size: f32,
    text: String,
}

/// Lays text out into pages.
#[derive(Debug, Default)]
struct Layout {
    pages: Vec<Vec<Placed>>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn room(&mut self, needed: f32) {
        if self.y + needed > PAGE_H - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn put(&mut self, x: f32, size: f32, text: String) {
        if let Some(page) = self.pages.last_mut() {
            page.push(Placed {
                x,
                y: self.y,
                size,
                text,
            });
        }
    }

    fn heading(&mut self, text: &str, size: f32) {
        self.room(size * 3.0);
        self.y += size * 1.6;
        self.put(MARGIN, size, printable(text));
        self.y += size * 0.6;
    }

    fn row(&mut self, label: &str, value: &str, cite: Option<&str>) {
        let value_w = PAGE_W - 2.0 * MARGIN - LABEL_W;
        let labels = wrap(&printable(label), BODY, LABEL_W - 8.0);
        let mut values = wrap(&printable(value), BODY, value_w);
        if let Some(c) = cite {
            values.extend(wrap(&format!("Citation: {}", printable(c)), BODY, value_w));
        }
        for i in 0..labels.len().max(values.len()) {
            self.room(LEADING);
            self.y += LEADING;
            if let Some(l) = labels.get(i) {
                self.put(MARGIN, BODY, l.clone());
            }
            if let Some(v) = values.get(i) {
                self.put(MARGIN + LABEL_W, BODY, v.clone());
            }
        }
        self.y += 2.0;
    }

    fn section(&mut self, s: &Section) {
        self.heading(s.title, 11.0);
        if s.rows.is_empty() {
            self.row("—", "none", None);
        }
        for r in &s.rows {
            self.row(&r.label, &r.value, r.cite.as_deref());
        }
    }
}

fn section_text(sections: &[Section]) -> impl Iterator<Item = &str> {
    sections.iter().flat_map(|s| &s.rows).flat_map(|row| {
        [row.label.as_str(), row.value.as_str()]
            .into_iter()
            .chain(row.cite.as_deref())
    })
}

/// A document: its heading, a note on characters the font lacks (if any), then the sections.
fn layout(heading: &str, sections: &[Section]) -> Layout {
    let mut l = Layout::new();
    l.heading(heading, 14.0);
    let missing = section_text(sections)
        .chain([heading])
        .flat_map(str::chars)
        .filter(|c| !font_covers(*c))
        .count();
    if missing > 0 {
        let note = format!(
            "Note: the embedded font ({FONT_NAME}) has no glyph for {missing} character(s) in \
             this document (e.g. Han script); each is printed as its Unicode code point \
             <U+XXXX>. The JSON and HTML renderings carry the text as given."
        );
        l.row("Font", &note, None);
    }
    for sec in sections {
        l.section(sec);
    }
    l
}

fn is_rtl(c: char) -> bool {
    matches!(u32::from(c), 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Splits a line into runs of one direction; spaces stay with the run they are in.
fn runs(text: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        let rtl = is_rtl(c);
        match out.last_mut() {
            Some((dir, run)) if *dir == rtl || c == ' ' => run.push(c),
            _ => out.push((rtl, c.to_string())),
        }
    }
    out
}

fn draw_page(doc: &mut Document, font: &Font, placed: &[Placed]) -> Result<(), RenderError> {
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| RenderError::Pdf("page size".into()))?;
    let mut page = doc.start_page_with(settings);
    let mut surface = page.surface();
    for p in placed {
        let mut x = p.x;
        for (rtl, run) in runs(&p.text) {
            let dir = if rtl {
                TextDirection::RightToLeft
            } else {
                TextDirection::LeftToRight
            };
            let at = Point::from_xy(x, p.y);
            surface.draw_text(at, font.clone(), p.size, &run, false, dir);
            x += width(&run, p.size);
        }
    }
    surface.finish();
    page.finish();
    Ok(())
}

/// The record as a PDF.
pub(crate) fn render(r: &ComplianceRecord) -> Result<Vec<u8>, RenderError> {
    let s = &r.shipment;
    let heading = format!(
        "Compliance record — shipment {} ({})",
        s.shipment_id,
        s.status.as_str()
    );
    let title = format!("Compliance record {}", s.shipment_id);
    document(&title, &heading, &sections(r))
}

/// Any titled list of sections as a PDF (A4, one column of labelled rows): the layout the
/// compliance records and the reports to BIS share.
pub(crate) fn document(
    title: &str,
    heading: &str,
    sections: &[Section],
) -> Result<Vec<u8>, RenderError> {
    let font = Font::new(FONT_BYTES.into(), 0)
        .ok_or_else(|| RenderError::Pdf(format!("the embedded font {FONT_NAME} did not load")))?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .language("en".into())
            .creator("aidf".into()),
    );
    for page in &layout(heading, sections).pages {
        draw_page(&mut doc, &font, page)?;
    }
    doc.finish().map_err(|e| RenderError::Pdf(format!("{e:?}")))
}
