//! The input of a batch: rows read raw, parsed, and cut into chunks for the
//! stateful batch.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

use aidf_core::DeterminationInput;

use super::{BatchError, Format, Options};
use crate::row::{self, FieldError, Header};

/// A raw input row, before parsing.
pub(super) enum Raw {
    Csv(csv::StringRecord),
    Json(String),
    /// Unreadable (bad UTF-8, a broken CSV quote…).
    Bad(String),
}

/// A raw row, borrowed.
#[derive(Clone, Copy)]
pub(super) enum RawRef<'a> {
    Csv(&'a csv::StringRecord),
    Json(&'a str),
    Bad(&'a str),
}

impl Raw {
    pub(super) fn as_ref(&self) -> RawRef<'_> {
        match self {
            Raw::Csv(r) => RawRef::Csv(r),
            Raw::Json(t) => RawRef::Json(t),
            Raw::Bad(m) => RawRef::Bad(m),
        }
    }
}

pub(super) fn parse_raw(
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

pub(super) struct Chunk {
    pub(super) first_row: u64,
    pub(super) rows: Vec<Raw>,
    pub(super) bytes_read: u64,
}

/// The CSV reader of every path (the settings [`crate::split`] models).
pub(super) fn csv_reader<R: Read>(input: R, has_headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(has_headers)
        .from_reader(input)
}

/// Reads the header and sends it (or why it is unusable); false when the batch cannot go on.
pub(super) fn send_header<R: Read>(
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
pub(super) fn read_chunks<R: Read>(
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
