//! Batch determinations: CSV or JSON lines in, one output row per input row, in input order.
//!
//! Stateless ([`run`] with no ledger): a reader thread cuts the input into blocks of whole rows
//! ([`crate::split`]); one worker per core parses, determines and writes each block; a writer
//! thread writes the blocks in input order. At most a few blocks per worker are in flight, so
//! memory stays bounded whatever the file size. Stateful ([`run`] with a ledger): rows are
//! applied one by one, in order, through [`aidf_service::ship`], so caps bind as they would in
//! reality.
//!
//! A bad row (unparseable, unknown country or chip…) becomes an output row with `status = error`,
//! its row number, the field and the value; the batch goes on. The [`Summary`] counts rows by
//! authorization and by country, and TPP by outcome.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;

use aidf_core::{
    Authorization, Detail, Determination, DeterminationInput, Policy, Posture, determine_with,
};
use aidf_ledger::{LedgerStore, Timestamp};
use serde::Serialize;

use crate::row::{self, FieldError, Header};
use crate::split::Splitter;

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header (`docs/batch.md`).
    Csv,
    /// One JSON input (the contract) per line.
    Jsonl,
}

impl Format {
    /// From a file name's extension (`.csv`, `.jsonl`, `.ndjson`, `.json`).
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Options of a batch.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Override every row's posture.
    pub posture: Option<Posture>,
    /// Pin every row's regime.
    pub regime: Option<String>,
    /// Rows per chunk of a stateful batch (default 256).
    pub chunk_rows: Option<usize>,
    /// Bytes per block of whole rows handed to a worker in a stateless batch (default 1 MiB; a
    /// row longer than this gets a block of its own).
    pub block_bytes: Option<usize>,
}

/// Why a batch stopped (a bad row never stops it).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The CSV header is unusable.
    #[error(transparent)]
    Header(#[from] row::HeaderError),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("{0}")]
    Csv(#[from] csv::Error),
}

/// Totals over a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Input rows.
    pub rows: u64,
    /// Rows determined.
    pub ok: u64,
    /// Bad rows.
    pub errors: u64,
    /// Rows per authorization.
    pub by_authorization: BTreeMap<String, u64>,
    /// Rows per destination country (after aliases), then per authorization.
    pub by_country: BTreeMap<String, BTreeMap<String, u64>>,
    /// Total TPP per authorization.
    pub tpp_by_authorization: BTreeMap<String, u128>,
    /// Stateful batches: rows per ledger status (`authorized`, `refused`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_status: BTreeMap<String, u64>,
    /// Stateful batches: TPP per ledger status.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tpp_by_status: BTreeMap<String, u128>,
    /// Bad rows per field.
    pub errors_by_field: BTreeMap<String, u64>,
}

impl Summary {
    fn add_json(&mut self, d: &serde_json::Value) {
        self.rows += 1;
        self.ok += 1;
        let a = d["authorization"].as_str().unwrap_or("?").to_string();
        let cc = d["destination"].as_str().unwrap_or("?").to_string();
        *self.by_authorization.entry(a.clone()).or_default() += 1;
        *self
            .by_country
            .entry(cc)
            .or_default()
            .entry(a.clone())
            .or_default() += 1;
        *self.tpp_by_authorization.entry(a).or_default() +=
            u128::from(d["total_tpp"].as_u64().unwrap_or(0));
    }

    fn add_error(&mut self, field: &str) {
        self.rows += 1;
        self.errors += 1;
        *self.errors_by_field.entry(field.to_string()).or_default() += 1;
    }

    fn merge(&mut self, o: Summary) {
        self.rows += o.rows;
        self.ok += o.ok;
        self.errors += o.errors;
        for (k, v) in o.by_authorization {
            *self.by_authorization.entry(k).or_default() += v;
        }
        for (k, m) in o.by_country {
            let e = self.by_country.entry(k).or_default();
            for (a, v) in m {
                *e.entry(a).or_default() += v;
            }
        }
        for (k, v) in o.tpp_by_authorization {
            *self.tpp_by_authorization.entry(k).or_default() += v;
        }
        for (k, v) in o.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in o.tpp_by_status {
            *self.tpp_by_status.entry(k).or_default() += v;
        }
        for (k, v) in o.errors_by_field {
            *self.errors_by_field.entry(k).or_default() += v;
        }
    }

    /// A readable rendering.
    pub fn render(&self, h100_tpp: Option<u64>) -> String {
        use aidf_core::explain::thousands;
        let mut s = format!(
            "rows {}  determined {}  bad {}\n",
            thousands(self.rows.into()),
            thousands(self.ok.into()),
            thousands(self.errors.into())
        );
        s += "by authorization (rows, TPP, H100e):\n";
        for (a, n) in &self.by_authorization {
            let tpp = self.tpp_by_authorization.get(a).copied().unwrap_or(0);
            let h = h100_tpp
                .map(|h| format!("{:.1}", tpp as f64 / h as f64))
                .unwrap_or_default();
            s += &format!(
                "  {a:<15} {:>12} {:>22} {:>14}\n",
                thousands((*n).into()),
                thousands(tpp),
                h
            );
        }
        if !self.by_status.is_empty() {
            s += "ledger (rows, TPP):\n";
            for (k, n) in &self.by_status {
                let tpp = self.tpp_by_status.get(k).copied().unwrap_or(0);
                s += &format!(
                    "  {k:<15} {:>12} {:>22}\n",
                    thousands((*n).into()),
                    thousands(tpp)
                );
            }
        }
        s += "by country (rows: authorization=rows):\n";
        for (cc, m) in &self.by_country {
            let total: u64 = m.values().sum();
            let parts: Vec<String> = m.iter().map(|(a, n)| format!("{a}={n}")).collect();
            s += &format!("  {cc} {:>10}  {}\n", total, parts.join(" "));
        }
        if !self.errors_by_field.is_empty() {
            s += "bad rows by field:\n";
            for (f, n) in &self.errors_by_field {
                s += &format!("  {f:<28} {n}\n");
            }
        }
        s
    }
}

/// A chunk's counts, kept compact (no strings) while rows are determined, then folded into a
/// [`Summary`].
#[derive(Default)]
struct Tally {
    by: BTreeMap<(aidf_core::country::CountryCode, u8), (u64, u128)>,
    rest: Summary,
}

impl Tally {
    fn add(&mut self, d: &Determination) {
        let a = Authorization::ALL
            .iter()
            .position(|x| *x == d.authorization)
            .unwrap_or(0) as u8;
        let e = self.by.entry((d.destination, a)).or_default();
        e.0 += 1;
        e.1 += u128::from(d.total_tpp);
    }

    fn into_summary(self) -> Summary {
        let mut s = self.rest;
        for ((cc, a), (n, tpp)) in self.by {
            let a = Authorization::ALL[a as usize].as_str();
            s.rows += n;
            s.ok += n;
            *s.by_authorization.entry(a.to_string()).or_default() += n;
            *s.by_country
                .entry(cc.to_string())
                .or_default()
                .entry(a.to_string())
                .or_default() += n;
            *s.tpp_by_authorization.entry(a.to_string()).or_default() += tpp;
        }
        s
    }
}

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
enum Outcome {
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

fn write_csv_row(
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

fn write_json_row(
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

/// A raw input row, before parsing.
enum Raw {
    Csv(csv::StringRecord),
    Json(String),
    /// Unreadable (bad UTF-8, a broken CSV quote…).
    Bad(String),
}

/// A raw row, borrowed.
#[derive(Clone, Copy)]
enum RawRef<'a> {
    Csv(&'a csv::StringRecord),
    Json(&'a str),
    Bad(&'a str),
}

impl Raw {
    fn as_ref(&self) -> RawRef<'_> {
        match self {
            Raw::Csv(r) => RawRef::Csv(r),
            Raw::Json(t) => RawRef::Json(t),
            Raw::Bad(m) => RawRef::Bad(m),
        }
    }
}

fn parse_raw(
    header: Option<&Header>,
    raw: RawRef<'_>,
    opts: &Options,
) -> Result<(Option<String>, DeterminationInput), FieldError> {
    let (id, mut input) = match (raw, header) {
        (RawRef::Csv(rec), Some(header)) => row::record_to_input(header, rec)?,
        (RawRef::Csv(_), None) => {
            return Err(FieldError::new("", "", "a CSV row without a header"));
        }
        (RawRef::Json(text), _) => {
            let input = DeterminationInput::from_json(text).map_err(|e| FieldError {
                field: e.path.clone(),
                value: String::new(),
                message: e.message.clone(),
            })?;
            (None, input)
        }
        (RawRef::Bad(msg), _) => return Err(FieldError::new("", "", msg)),
    };
    if let Some(p) = opts.posture {
        input.posture = Some(p);
    }
    if opts.regime.is_some() {
        input.regime = opts.regime.clone();
    }
    Ok((id, input))
}

fn determine_error(
    csv: bool,
    input: &DeterminationInput,
    e: &aidf_core::DetermineError,
) -> FieldError {
    let path = row::determine_error_field(e);
    FieldError {
        field: if csv {
            row::column_of(path)
        } else {
            path.to_string()
        },
        value: row::value_of(input, path),
        message: {
            // The core's message starts with "field `path`: "; keep only what follows.
            let m = e.to_string();
            match m.split_once("`: ") {
                Some((head, rest)) if head.starts_with("field `") => rest.to_string(),
                _ => m,
            }
        },
    }
}

/// Determines one raw row (stateless), building detail texts only as `detail` says.
fn process(
    policy: &Policy,
    header: Option<&Header>,
    raw: RawRef<'_>,
    opts: &Options,
    detail: Detail,
) -> (String, Outcome) {
    match parse_raw(header, raw, opts) {
        Err(e) => (String::new(), Outcome::Err(e)),
        Ok((id, input)) => match determine_with(policy, &input, detail) {
            Ok(d) => (id.unwrap_or_default(), Outcome::Ok(Box::new(d))),
            Err(e) => (
                id.unwrap_or_default(),
                Outcome::Err(determine_error(header.is_some(), &input, &e)),
            ),
        },
    }
}

struct Chunk {
    first_row: u64,
    rows: Vec<Raw>,
    bytes_read: u64,
}

/// The CSV reader of every path (the settings [`crate::split`] models).
fn csv_reader<R: Read>(input: R, has_headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(has_headers)
        .from_reader(input)
}

/// Reads the header and sends it (or why it is unusable); false when the batch cannot go on.
fn send_header<R: Read>(
    rdr: &mut csv::Reader<R>,
    header_tx: &mpsc::SyncSender<Result<Option<Header>, BatchError>>,
) -> bool {
    let header = match rdr.headers() {
        Ok(h) => Header::new(h.iter()).map_err(BatchError::from),
        Err(e) => Err(BatchError::Csv(e)),
    };
    let ok = header.is_ok();
    header_tx.send(header.map(Some)).is_ok() && ok
}

/// Reads chunks of raw rows; returns the CSV header if any. Runs on the reader thread.
fn read_chunks<R: Read>(
    format: Format,
    input: R,
    chunk_rows: usize,
    header_tx: mpsc::SyncSender<Result<Option<Header>, BatchError>>,
    tx: mpsc::SyncSender<Result<Chunk, BatchError>>,
) {
    let mut next_row = 1u64;
    match format {
        Format::Csv => {
            let mut rdr = csv_reader(input, true);
            if !send_header(&mut rdr, &header_tx) {
                return;
            }
            loop {
                let mut rows = Vec::with_capacity(chunk_rows);
                let mut rec = csv::StringRecord::new();
                let first_row = next_row;
                while rows.len() < chunk_rows {
                    match rdr.read_record(&mut rec) {
                        Ok(true) => {
                            // The next record is sized like this one, so it rarely regrows.
                            let next = csv::StringRecord::with_capacity(
                                rec.as_byte_record().as_slice().len(),
                                rec.len(),
                            );
                            rows.push(Raw::Csv(std::mem::replace(&mut rec, next)));
                        }
                        Ok(false) => break,
                        Err(e) => {
                            if e.is_io_error() {
                                let _ = tx.send(Err(BatchError::Csv(e)));
                                return;
                            }
                            rows.push(Raw::Bad(format!("unreadable CSV row: {e}")));
                        }
                    }
                }
                next_row += rows.len() as u64;
                let done = rows.len() < chunk_rows;
                let bytes_read = rdr.position().byte();
                if !rows.is_empty()
                    && tx
                        .send(Ok(Chunk {
                            first_row,
                            rows,
                            bytes_read,
                        }))
                        .is_err()
                {
                    return;
                }
                if done {
                    return;
                }
            }
        }
        Format::Jsonl => {
            if header_tx.send(Ok(None)).is_err() {
                return;
            }
            let mut rdr = BufReader::with_capacity(1 << 20, input);
            let mut bytes = 0u64;
            let mut buf = Vec::new();
            loop {
                let mut rows = Vec::with_capacity(chunk_rows);
                let first_row = next_row;
                while rows.len() < chunk_rows {
                    buf.clear();
                    match rdr.read_until(b'\n', &mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            bytes += n as u64;
                            if !crate::split::is_json_row(&buf) {
                                continue;
                            }
                            rows.push(match String::from_utf8(std::mem::take(&mut buf)) {
                                Ok(s) => Raw::Json(s),
                                Err(_) => Raw::Bad("the line is not valid UTF-8".into()),
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Err(BatchError::Io(e)));
                            return;
                        }
                    }
                }
                next_row += rows.len() as u64;
                let done = rows.len() < chunk_rows;
                if !rows.is_empty()
                    && tx
                        .send(Ok(Chunk {
                            first_row,
                            rows,
                            bytes_read: bytes,
                        }))
                        .is_err()
                {
                    return;
                }
                if done {
                    return;
                }
            }
        }
    }
}

fn csv_writer(buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf)
}

fn header_bytes(out: OutFormat, ledger: bool) -> Result<Vec<u8>, BatchError> {
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

/// Where a stateful batch records its shipments.
pub struct Ledger<'a> {
    /// The store.
    pub store: &'a mut dyn LedgerStore,
    /// Time to record.
    pub now: Timestamp,
}

impl std::fmt::Debug for Ledger<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("now", &self.now).finish()
    }
}

/// Runs a batch: reads `input` in `format`, writes one row per input row to `output` in
/// `out_format`, calls `progress(rows_done, bytes_read)` after each chunk, and returns the summary.
/// With `ledger`, rows are shipped in order (see module docs).
#[allow(clippy::too_many_arguments)]
pub fn run<R: Read + Send, W: Write + Send>(
    policy: &Policy,
    format: Format,
    input: R,
    out_format: OutFormat,
    mut output: W,
    opts: &Options,
    ledger: Option<Ledger<'_>>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary, BatchError> {
    let pool = Pool::default();
    let pool = &pool;
    std::thread::scope(|s| {
        let (wtx, wrx) = mpsc::sync_channel::<Vec<u8>>(4);
        let writer = s.spawn(move || -> Result<W, std::io::Error> {
            for buf in wrx {
                output.write_all(&buf)?;
                pool.give(buf);
            }
            output.flush()?;
            Ok(output)
        });
        let send = |buf: Vec<u8>| -> Result<(), BatchError> {
            wtx.send(buf)
                .map_err(|_| std::io::Error::other("the output writer stopped"))?;
            Ok(())
        };
        let outcome = match ledger {
            None => run_stateless(
                s, policy, format, input, out_format, opts, pool, progress, &send,
            ),
            Some(l) => run_stateful(
                s, policy, format, input, out_format, opts, l, progress, &send,
            ),
        };
        drop(wtx);
        let w = writer
            .join()
            .map_err(|_| std::io::Error::other("the output writer panicked"))?;
        match outcome {
            // A write error explains a closed channel better than the channel does.
            Err(e) => {
                w?;
                Err(e)
            }
            Ok(summary) => {
                w?;
                Ok(summary)
            }
        }
    })
}

/// Stateless: a reader thread cuts the input into blocks of whole rows; one worker per core
/// parses, determines and writes each block; blocks are written in input order.
#[allow(clippy::too_many_arguments)]
fn run_stateless<'scope, 'env, R: Read + Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    policy: &'scope Policy,
    format: Format,
    input: R,
    out_format: OutFormat,
    opts: &'scope Options,
    pool: &'scope Pool,
    progress: &(dyn Fn(u64, u64) + Sync),
    send: &dyn Fn(Vec<u8>) -> Result<(), BatchError>,
) -> Result<Summary, BatchError> {
    let workers = rayon::current_num_threads().max(1);
    let block_bytes = opts.block_bytes.unwrap_or(1 << 20).max(1);
    let (header_tx, header_rx) = mpsc::sync_channel(1);
    let (order_tx, order_rx) = mpsc::sync_channel::<mpsc::Receiver<BlockResult>>(2 * workers + 2);
    let (work_tx, work_rx) = mpsc::sync_channel::<(Block, mpsc::SyncSender<BlockResult>)>(workers);
    s.spawn(move || {
        read_blocks(
            format,
            input,
            block_bytes,
            pool,
            header_tx,
            order_tx,
            work_tx,
        )
    });
    let header = match header_rx.recv() {
        Ok(h) => h?,
        Err(_) => return Ok(Summary::default()),
    };
    let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
    for _ in 0..workers {
        let work_rx = work_rx.clone();
        let header = header.clone();
        s.spawn(move || {
            loop {
                // The lock is held only to take the next block.
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((block, slot)) = next else { return };
                let r = process_block(
                    policy,
                    header.as_ref(),
                    format,
                    &block,
                    out_format,
                    opts,
                    pool,
                );
                pool.give(block.bytes);
                let _ = slot.send(r);
            }
        });
    }
    send(header_bytes(out_format, false)?)?;
    let mut summary = Summary::default();
    let mut done = 0u64;
    for slot in order_rx {
        let (buf, part, rows, bytes_read) = slot
            .recv()
            .map_err(|_| std::io::Error::other("a batch worker stopped"))??;
        done += rows;
        summary.merge(part);
        send(buf)?;
        progress(done, bytes_read);
    }
    Ok(summary)
}

/// Stateful: rows are shipped one by one, in order, against the ledger.
#[allow(clippy::too_many_arguments)]
fn run_stateful<'scope, 'env, R: Read + Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    policy: &Policy,
    format: Format,
    input: R,
    out_format: OutFormat,
    opts: &Options,
    mut ledger: Ledger<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
    send: &dyn Fn(Vec<u8>) -> Result<(), BatchError>,
) -> Result<Summary, BatchError> {
    let chunk_rows = opts.chunk_rows.unwrap_or(256).max(1);
    let (header_tx, header_rx) = mpsc::sync_channel(1);
    let (tx, rx) = mpsc::sync_channel::<Result<Chunk, BatchError>>(3);
    s.spawn(move || read_chunks(format, input, chunk_rows, header_tx, tx));
    let header = match header_rx.recv() {
        Ok(h) => h?,
        Err(_) => return Ok(Summary::default()),
    };
    send(header_bytes(out_format, true)?)?;
    let mut summary = Summary::default();
    let mut done = 0u64;
    for chunk in rx {
        let chunk = chunk?;
        let (buf, part) = ship_chunk(
            policy,
            header.as_ref(),
            &chunk,
            out_format,
            opts,
            &mut ledger,
        )?;
        done += chunk.rows.len() as u64;
        summary.merge(part);
        send(buf)?;
        progress(done, chunk.bytes_read);
    }
    Ok(summary)
}

fn render_rows(
    out_format: OutFormat,
    stateful: bool,
    first_row: u64,
    rows: &[(String, Outcome, Option<ShipCols>)],
) -> Result<Vec<u8>, BatchError> {
    let mut buf = Vec::with_capacity(rows.len() * 256);
    match out_format {
        OutFormat::Csv => {
            let mut w = CsvOut::new(buf);
            for (i, (id, out, ship)) in rows.iter().enumerate() {
                write_csv_row(
                    &mut w,
                    first_row + i as u64,
                    id,
                    out,
                    ship.as_ref(),
                    stateful,
                );
            }
            buf = w.buf;
        }
        OutFormat::Jsonl => {
            for (i, (id, out, ship)) in rows.iter().enumerate() {
                write_json_row(&mut buf, first_row + i as u64, id, out, ship.as_ref())?;
            }
        }
    }
    Ok(buf)
}

/// Byte buffers handed back for reuse. Blocks and outputs are a megabyte or two each; fresh ones
/// cost page faults, which took a sixth of a batch's time before buffers were reused.
#[derive(Debug, Default)]
struct Pool(std::sync::Mutex<Vec<Vec<u8>>>);

impl Pool {
    /// An empty buffer with room for `capacity` bytes.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let mut buf = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        buf.clear();
        buf.reserve(capacity);
        buf
    }

    /// Hands `buf` back (a bounded number are kept).
    fn give(&self, buf: Vec<u8>) {
        if let Ok(mut p) = self.0.lock()
            && p.len() < 32
        {
            p.push(buf);
        }
    }
}

/// A block of whole rows for a worker (stateless batches).
struct Block {
    first_row: u64,
    rows: u64,
    bytes: Vec<u8>,
    bytes_read: u64,
}

/// A worker's answer for one block: the output bytes, the block's counts, its rows, and how far
/// into the input it ends.
type BlockResult = Result<(Vec<u8>, Summary, u64, u64), BatchError>;

/// Parses, determines and writes one block, row by row while each row is hot.
fn process_block(
    policy: &Policy,
    header: Option<&Header>,
    format: Format,
    block: &Block,
    out_format: OutFormat,
    opts: &Options,
    pool: &Pool,
) -> BlockResult {
    // The CSV output keeps rule ids only, so detail texts are not built for it.
    let detail = match out_format {
        OutFormat::Csv => Detail::RuleIds,
        OutFormat::Jsonl => Detail::Full,
    };
    let mut tally = Tally::default();
    let mut csv_w =
        (out_format == OutFormat::Csv).then(|| CsvOut::new(pool.take(block.bytes.len() * 2)));
    let mut json_buf = match csv_w {
        Some(_) => Vec::new(),
        None => pool.take(block.bytes.len() * 8),
    };
    let mut row = block.first_row;
    let mut emit = |raw: Result<RawRef<'_>, FieldError>| -> Result<(), BatchError> {
        let (id, out) = match raw {
            Ok(raw) => process(policy, header, raw, opts, detail),
            Err(e) => (String::new(), Outcome::Err(e)),
        };
        match &out {
            Outcome::Ok(d) => tally.add(d),
            Outcome::Recorded(d) => tally.rest.add_json(d),
            Outcome::Err(e) => tally.rest.add_error(&e.field),
        }
        match csv_w.as_mut() {
            Some(w) => write_csv_row(w, row, &id, &out, None, false),
            None => write_json_row(&mut json_buf, row, &id, &out, None)?,
        }
        row += 1;
        Ok(())
    };
    match format {
        Format::Csv => {
            // The same reader and settings as for the header (and as `split` models).
            let mut rdr = csv_reader(block.bytes.as_slice(), false);
            let mut bytes = csv::ByteRecord::new();
            loop {
                match rdr.read_byte_record(&mut bytes) {
                    Ok(true) => {}
                    Ok(false) => break,
                    // Reading from memory fails only on bad input, which the line path refuses.
                    Err(e) => {
                        emit(Err(FieldError::new(
                            "",
                            "",
                            format!("unreadable CSV row: {e}"),
                        )))?;
                        continue;
                    }
                }
                // UTF-8 is checked here rather than by the reader, so that a bad cell is named by
                // its column and shown, and the record's buffers are reused either way.
                match csv::StringRecord::from_byte_record(std::mem::take(&mut bytes)) {
                    Ok(rec) => {
                        emit(Ok(RawRef::Csv(&rec)))?;
                        bytes = rec.into_byte_record();
                    }
                    Err(e) => {
                        let field = e.utf8_error().field();
                        bytes = e.into_byte_record();
                        let column = header.and_then(|h| h.name(field)).unwrap_or("");
                        let value = String::from_utf8_lossy(bytes.get(field).unwrap_or(b""));
                        emit(Err(FieldError::new(column, &value, "not valid UTF-8")))?;
                    }
                }
            }
        }
        Format::Jsonl => {
            for line in block.bytes.split(|&b| b == b'\n') {
                if !crate::split::is_json_row(line) {
                    continue;
                }
                match std::str::from_utf8(line) {
                    Ok(text) => emit(Ok(RawRef::Json(text)))?,
                    Err(_) => emit(Ok(RawRef::Bad("the line is not valid UTF-8")))?,
                }
            }
        }
    }
    let rows = row - block.first_row;
    if rows != block.rows {
        // The splitter and the reader disagree on where rows end: row numbers would be wrong.
        return Err(BatchError::Io(std::io::Error::other(format!(
            "internal: a block starting at row {} holds {rows} rows, the splitter counted {}",
            block.first_row, block.rows
        ))));
    }
    let buf = match csv_w {
        Some(w) => w.buf,
        None => json_buf,
    };
    Ok((buf, tally.into_summary(), rows, block.bytes_read))
}

/// Reads the input in blocks of whole rows ([`crate::split`]) and hands each to a worker through
/// `work`, after sending the block's result slot to `order`, so that results are taken in input
/// order and at most `order`'s capacity of blocks are in flight. Runs on the reader thread.
fn read_blocks<R: Read>(
    format: Format,
    mut input: R,
    block_bytes: usize,
    pool: &Pool,
    header_tx: mpsc::SyncSender<Result<Option<Header>, BatchError>>,
    order: mpsc::SyncSender<mpsc::Receiver<BlockResult>>,
    work: mpsc::SyncSender<(Block, mpsc::SyncSender<BlockResult>)>,
) {
    let splitter = Splitter::new(format);
    let mut buf: Vec<u8> = Vec::with_capacity(block_bytes + block_bytes / 4);
    let mut eof = false;
    // Reads until `buf` holds `target` bytes or the input ends.
    let mut fill = |buf: &mut Vec<u8>, eof: &mut bool, target: usize| -> std::io::Result<()> {
        if !*eof && buf.len() < target {
            let want = target - buf.len();
            let n = (&mut input).take(want as u64).read_to_end(buf)?;
            *eof = n < want;
        }
        Ok(())
    };
    let fail = |e: BatchError| {
        let (tx, rx) = mpsc::sync_channel(1);
        let _ = tx.send(Err(e));
        let _ = order.send(rx);
    };
    let mut target = block_bytes;
    let mut bytes_read = 0u64;
    // The header: the first CSV record.
    if format == Format::Csv {
        let end = loop {
            if let Err(e) = fill(&mut buf, &mut eof, target) {
                let _ = header_tx.send(Err(BatchError::Io(e)));
                return;
            }
            match splitter.first_row_end(&buf, eof) {
                Some(end) => break end,
                None if eof => break buf.len(),
                None => target = target.saturating_mul(2),
            }
        };
        if !send_header(&mut csv_reader(&buf[..end], true), &header_tx) {
            return;
        }
        buf.drain(..end);
        bytes_read = end as u64;
    } else if header_tx.send(Ok(None)).is_err() {
        return;
    }
    let mut next_row = 1u64;
    target = block_bytes;
    loop {
        if let Err(e) = fill(&mut buf, &mut eof, target) {
            fail(BatchError::Io(e));
            return;
        }
        let cut = splitter.cut(&buf, eof);
        if cut.end == 0 && !eof {
            // One row longer than a block: read on until it ends.
            target = target.saturating_mul(2);
            continue;
        }
        target = block_bytes;
        let mut rest = pool.take(block_bytes + block_bytes / 4);
        rest.extend_from_slice(&buf[cut.end..]);
        buf.truncate(cut.end);
        let bytes = std::mem::replace(&mut buf, rest);
        bytes_read += bytes.len() as u64;
        if cut.rows > 0 {
            let block = Block {
                first_row: next_row,
                rows: cut.rows,
                bytes,
                bytes_read,
            };
            next_row += cut.rows;
            let (tx, rx) = mpsc::sync_channel(1);
            if order.send(rx).is_err() || work.send((block, tx)).is_err() {
                return;
            }
        }
        if eof && buf.is_empty() {
            return;
        }
    }
}

/// The tenant of shipments a batch records into a local ledger (the CLI's).
pub const LOCAL_TENANT: &str = "local";

/// The shipment id of a row: its `id` cell, or one derived from the row number and the input.
pub fn shipment_id(row: u64, id: Option<&str>, input: &DeterminationInput) -> String {
    match id {
        Some(id) => id.to_string(),
        None => format!("batch-{row}-{}", &aidf_service::input_digest(input)[7..19]),
    }
}

fn ship_chunk(
    policy: &Policy,
    header: Option<&Header>,
    chunk: &Chunk,
    out_format: OutFormat,
    opts: &Options,
    ledger: &mut Ledger<'_>,
) -> Result<(Vec<u8>, Summary), BatchError> {
    let mut summary = Summary::default();
    let mut done = Vec::with_capacity(chunk.rows.len());
    for (i, raw) in chunk.rows.iter().enumerate() {
        let row = chunk.first_row + i as u64;
        let (id, input) = match parse_raw(header, raw.as_ref(), opts) {
            Ok(x) => x,
            Err(e) => {
                summary.add_error(&e.field);
                done.push((String::new(), Outcome::Err(e), None));
                continue;
            }
        };
        let sid = shipment_id(row, id.as_deref(), &input);
        if let Err(e) = aidf_ledger::validate_op_id(&sid) {
            let e = FieldError {
                field: "id".into(),
                value: sid.clone(),
                message: e.to_string(),
            };
            summary.add_error(&e.field);
            done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            continue;
        }
        let config = aidf_service::ShipConfig {
            posture: opts.posture.unwrap_or_default(),
            ..aidf_service::ShipConfig::default()
        };
        let request = aidf_service::ShipRequest {
            input: &input,
            shipment_id: &sid,
            tenant: LOCAL_TENANT,
            record_prefix: "",
            // A batch into a local ledger is the local officer's: back-dated rows are recorded
            // and marked as backfill.
            may_backfill: true,
            now: ledger.now,
        };
        match aidf_service::ship(&mut *ledger.store, policy, &config, &request) {
            Ok(o) => {
                // The determination the ledger recorded, made against its balances.
                let d = o.determination;
                summary.add_json(&d);
                let st = o.status.as_str().to_string();
                let tpp = d["total_tpp"].as_u64().unwrap_or(0);
                *summary.by_status.entry(st.clone()).or_default() += 1;
                *summary.tpp_by_status.entry(st.clone()).or_default() += u128::from(tpp);
                done.push((
                    id.unwrap_or_default(),
                    Outcome::Recorded(d),
                    Some(ShipCols {
                        shipment_id: o.shipment_id,
                        ship_status: st,
                        license_id: o.license_id,
                        refusal: o.refusal,
                    }),
                ));
            }
            Err(aidf_service::ShipError::Determine(e)) => {
                let e = determine_error(header.is_some(), &input, &e);
                summary.add_error(&e.field);
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
            Err(aidf_service::ShipError::Input { field, message }) => {
                let e = FieldError::new(field, "", &message);
                summary.add_error(&e.field);
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
            Err(e) => {
                let e = FieldError {
                    field: String::new(),
                    value: String::new(),
                    message: format!("ledger: {e}"),
                };
                summary.add_error("");
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
        }
    }
    Ok((
        render_rows(out_format, true, chunk.first_row, &done)?,
        summary,
    ))
}
