//! The output of a batch: its columns, CSV and JSON-lines rows, and the CSV writer.

use aidf_core::Determination;
use serde::Serialize;

use super::BatchError;
use crate::row::FieldError;

/// The output columns of a CSV result file.
pub const OUTPUT_COLUMNS: &[&str] = &[
    "row",
    "id",
    "status",
    "authorization",
    "license_required",
    "review_policy",
    "eccn",
    "destination",
    "destination_tier",
    "consignee_tier",
    "item",
    "quantity",
    "unit_tpp",
    "total_tpp",
    "h100_equivalents",
    "counts_against",
    "regime",
    "reasons",
    "error_field",
    "error",
];

/// Extra output columns of a stateful (ledger) batch.
pub const LEDGER_COLUMNS: &[&str] = &["shipment_id", "ship_status", "license_id", "refusal"];

/// What the ledger did with a row.
#[derive(Debug, Clone, Serialize)]
pub struct ShipCols {
    /// Shipment id.
    pub shipment_id: String,
    /// `authorized` or `refused`.
    pub ship_status: String,
    /// License drawn.
    pub license_id: Option<String>,
    /// Why refused.
    pub refusal: Option<String>,
}

/// One processed row.
pub(super) enum Outcome {
    Ok(Box<Determination>),
    /// The determination a ledger recorded (stateful batches), as stored.
    Recorded(serde_json::Value),
    Err(FieldError),
}

/// Output format, from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// CSV with [`OUTPUT_COLUMNS`] (and [`LEDGER_COLUMNS`]).
    Csv,
    /// One JSON object per row: `row`, `id`, `status` and the full `determination` (exactly what
    /// `aidf check --json` prints) or `error`.
    Jsonl,
}

/// Writes CSV rows exactly as `csv::Writer` with its default settings does (fields joined by
/// commas, quoted only when they hold a comma, a quote or a line break, quotes doubled, `\n`
/// after each row), without its per-field state machine, which was a fifth of a batch's time.
/// A property test holds the two to the same bytes.
#[derive(Debug, Default)]
pub struct CsvOut {
    /// The bytes written so far.
    pub buf: Vec<u8>,
    in_row: bool,
}

impl CsvOut {
    /// A writer appending to `buf`.
    pub fn new(buf: Vec<u8>) -> CsvOut {
        CsvOut { buf, in_row: false }
    }

    /// Appends one field to the current row.
    pub fn field(&mut self, value: impl AsRef<[u8]>) {
        let v = value.as_ref();
        if self.in_row {
            self.buf.push(b',');
        }
        self.in_row = true;
        if v.iter().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            self.buf.push(b'"');
            for &b in v {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(v);
        }
    }

    /// Ends the current row.
    pub fn end(&mut self) {
        self.buf.push(b'\n');
        self.in_row = false;
    }
}

pub(super) fn write_csv_row(
    w: &mut CsvOut,
    row: u64,
    id: &str,
    out: &Outcome,
    ship: Option<&ShipCols>,
    stateful: bool,
) {
    let mut row_buf = itoa::Buffer::new();
    let row_s = row_buf.format(row);
    match out {
        Outcome::Ok(d) => {
            let mut t = String::with_capacity(160);
            let mut nums = itoa::Buffer::new();
            w.field(row_s);
            w.field(id);
            w.field("ok");
            w.field(d.authorization.as_str());
            w.field(if d.license_required { "true" } else { "false" });
            w.field(d.review_policy.map(|r| r.as_str()).unwrap_or(""));
            w.field(d.eccn.map(|e| e.as_str()).unwrap_or(""));
            w.field(d.destination.as_str());
            w.field(
                d.destination_tier
                    .map(|t| nums.format(t.number()))
                    .unwrap_or(""),
            );
            w.field(
                d.consignee_tier
                    .map(|t| nums.format(t.number()))
                    .unwrap_or(""),
            );
            w.field(d.item.chip_id.as_deref().unwrap_or(d.item.kind));
            w.field(nums.format(d.quantity));
            w.field(nums.format(d.unit_tpp));
            w.field(nums.format(d.total_tpp));
            // Three decimals, rounded (the exact-float formatter is slow and this is a display
            // column; TPP stays exact in `total_tpp`).
            let milli = (d.h100_equivalents * 1000.0).round();
            t.clear();
            if milli.is_finite() && milli.abs() < 9.0e15 {
                let m = milli as i64;
                if m < 0 {
                    t.push('-');
                }
                t.push_str(nums.format(m.unsigned_abs() / 1000));
                t.push('.');
                let frac = m.unsigned_abs() % 1000;
                if frac < 100 {
                    t.push('0');
                }
                if frac < 10 {
                    t.push('0');
                }
                t.push_str(nums.format(frac));
            } else {
                use std::fmt::Write as _;
                let _ = write!(t, "{:.3}", d.h100_equivalents);
            }
            w.field(&t);
            t.clear();
            for (i, c) in d.counts_against.iter().enumerate() {
                if i > 0 {
                    t.push(';');
                }
                t.push_str(match c {
                    aidf_core::Counter::CountryAllocation => "country_allocation",
                    aidf_core::Counter::LppAnnual => "lpp_annual",
                    aidf_core::Counter::NveuAllocation => "nveu_allocation",
                });
            }
            w.field(&t);
            w.field(&*d.regime.id);
            t.clear();
            for (i, r) in d.reasons.iter().enumerate() {
                if i > 0 {
                    t.push(';');
                }
                t.push_str(r.rule);
            }
            w.field(&t);
            w.field("");
            w.field("");
        }
        Outcome::Recorded(d) => {
            let st = |k: &str| match &d[k] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let list = |k: &str, field: Option<&str>| {
                d[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| match field {
                                Some(f) => v[f].as_str(),
                                None => v.as_str(),
                            })
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .unwrap_or_default()
            };
            w.field(row_s);
            w.field(id);
            w.field("ok");
            for k in [
                "authorization",
                "license_required",
                "review_policy",
                "eccn",
                "destination",
                "destination_tier",
                "consignee_tier",
            ] {
                w.field(st(k));
            }
            let item = d["item"]["chip_id"]
                .as_str()
                .or(d["item"]["kind"].as_str())
                .unwrap_or("");
            w.field(item);
            w.field(st("quantity"));
            w.field(st("unit_tpp"));
            w.field(st("total_tpp"));
            w.field(format!(
                "{:.3}",
                d["h100_equivalents"].as_f64().unwrap_or(0.0)
            ));
            w.field(list("counts_against", None));
            w.field(d["regime"]["id"].as_str().unwrap_or(""));
            w.field(list("reasons", Some("rule")));
            w.field("");
            w.field("");
        }
        Outcome::Err(e) => {
            w.field(row_s);
            w.field(id);
            w.field("error");
            for _ in 3..18 {
                w.field("");
            }
            w.field(&e.field);
            w.field(e.to_string());
        }
    }
    if stateful {
        let s = ship;
        w.field(s.map(|s| s.shipment_id.as_str()).unwrap_or(""));
        w.field(s.map(|s| s.ship_status.as_str()).unwrap_or(""));
        w.field(s.and_then(|s| s.license_id.as_deref()).unwrap_or(""));
        w.field(s.and_then(|s| s.refusal.as_deref()).unwrap_or(""));
    }
    w.end();
}

pub(super) fn write_json_row(
    buf: &mut Vec<u8>,
    row: u64,
    id: &str,
    out: &Outcome,
    ship: Option<&ShipCols>,
) -> Result<(), std::io::Error> {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Det<'a> {
        Typed(&'a Determination),
        Json(&'a serde_json::Value),
    }
    #[derive(Serialize)]
    struct Line<'a> {
        row: u64,
        #[serde(skip_serializing_if = "str::is_empty")]
        id: &'a str,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        determination: Option<Det<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        shipment: Option<&'a ShipCols>,
    }
    let mut line = Line {
        row,
        id,
        status: "ok",
        determination: None,
        field: None,
        value: None,
        error: None,
        shipment: ship,
    };
    match out {
        Outcome::Ok(d) => line.determination = Some(Det::Typed(d)),
        Outcome::Recorded(d) => line.determination = Some(Det::Json(d)),
        Outcome::Err(e) => {
            line.status = "error";
            line.field = Some(&e.field);
            line.value = Some(&e.value);
            line.error = Some(e.to_string());
        }
    }
    serde_json::to_writer(&mut *buf, &line)?;
    buf.push(b'\n');
    Ok(())
}

fn csv_writer(buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf)
}

pub(super) fn header_bytes(out: OutFormat, ledger: bool) -> Result<Vec<u8>, BatchError> {
    if out == OutFormat::Jsonl {
        return Ok(Vec::new());
    }
    let mut w = csv_writer(Vec::new());
    let mut cols: Vec<&str> = OUTPUT_COLUMNS.to_vec();
    if ledger {
        cols.extend_from_slice(LEDGER_COLUMNS);
    }
    w.write_record(&cols)?;
    w.into_inner().map_err(|e| BatchError::Io(e.into_error()))
}
