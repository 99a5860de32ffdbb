//! The stateless batch: blocks determined in parallel by a pool of workers, written in input
//! order.

use std::io::Read;
use std::sync::mpsc;

use aidf_core::{Detail, DeterminationInput, Policy, determine_with};

use super::input::{RawRef, csv_reader, parse_raw, send_header};
use super::output::{
    CsvOut, OutFormat, Outcome, ShipCols, header_bytes, write_csv_row, write_json_row,
};
use super::{BatchError, Format, Options, Summary, Tally};
use crate::row::{self, FieldError, Header};
use crate::split::Splitter;

pub(super) fn determine_error(
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

/// Stateless: a reader thread cuts the input into blocks of whole rows; one worker per core
/// parses, determines and writes each block; blocks are written in input order.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_stateless<'scope, 'env, R: Read + Send + 'scope>(
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

pub(super) fn render_rows(
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
pub(super) struct Pool(std::sync::Mutex<Vec<Vec<u8>>>);

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
    pub(super) fn give(&self, buf: Vec<u8>) {
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
