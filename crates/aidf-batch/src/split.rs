//! Cutting an input stream into blocks of whole rows, so that workers can parse blocks in
//! parallel while one thread only reads.
//!
//! A CSV record may hold quoted line breaks, so a block may only end where the CSV reader would
//! end a record. [`Splitter::cut`] finds the last such place in a buffer and counts the records
//! before it, exactly as the batch's CSV reader (`csv`, with the same settings) will read them
//! (the count gives every block its first row number before any block is parsed).
//!
//! Most books hold no quote character at all; for those a block ends at its last line feed and
//! its records are its non-empty lines, found with `memchr`. Otherwise the records are found with
//! `csv_core`, the state machine the `csv` reader itself runs. A property test holds the two
//! paths to the same answer.

use crate::batch::Format;

/// Where a buffer may be cut, and how many rows lie before the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Bytes of whole rows at the start of the buffer.
    pub end: usize,
    /// Rows in `..end`, as the reader will count them (blank lines are not rows).
    pub rows: u64,
}

/// Finds row boundaries in CSV or JSON-lines buffers.
#[derive(Debug)]
pub struct Splitter {
    format: Format,
}

impl Splitter {
    /// A splitter for `format`.
    pub fn new(format: Format) -> Splitter {
        Splitter { format }
    }

    /// The last row boundary in `buf`, which starts at a row boundary. With `eof`, the end of the
    /// buffer ends the last row.
    pub fn cut(&self, buf: &[u8], eof: bool) -> Cut {
        match self.format {
            Format::Jsonl => lines_cut(buf, eof, is_json_row),
            Format::Csv => {
                if memchr::memchr(b'"', buf).is_none() && lone_cr_free(buf) {
                    // No quotes and every CR ends a CRLF: records are exactly the lines that are
                    // not empty once their CR is dropped.
                    lines_cut(buf, eof, |line| !matches!(line, [] | [b'\r']))
                } else {
                    csv_cut(buf, eof)
                }
            }
        }
    }
}

impl Splitter {
    /// Where the first CSV record (the header) ends, if `buf` holds all of it.
    pub fn first_row_end(&self, buf: &[u8], eof: bool) -> Option<usize> {
        let mut first = None;
        scan_records(buf, eof, |end| {
            first = Some(end);
            false
        });
        first
    }
}

/// Whether a JSON-lines line holds a row (blank lines do not).
pub fn is_json_row(line: &[u8]) -> bool {
    line.iter().any(|b| !b.is_ascii_whitespace())
}

/// Whether every carriage return in `buf` is followed by a line feed (a lone CR also ends a CSV
/// record, which the line path does not model). A CR as the very last byte counts as lone: its
/// line feed may not have been read yet, and the exact path handles it.
fn lone_cr_free(buf: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', buf).all(|i| buf.get(i + 1) == Some(&b'\n'))
}

/// Cuts after the last line feed (or at the end, with `eof`), counting the lines `is_row` keeps.
fn lines_cut(buf: &[u8], eof: bool, is_row: impl Fn(&[u8]) -> bool) -> Cut {
    let end = if eof {
        buf.len()
    } else {
        match memchr::memrchr(b'\n', buf) {
            Some(i) => i + 1,
            None => return Cut { end: 0, rows: 0 },
        }
    };
    let mut rows = 0u64;
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', &buf[..end]) {
        rows += u64::from(is_row(&buf[start..i]));
        start = i + 1;
    }
    if start < end {
        rows += u64::from(is_row(&buf[start..end]));
    }
    Cut { end, rows }
}

/// Runs `csv_core` (with the `csv` reader's default settings) over `buf`, calling `on_record`
/// with the end of each record until it returns false. With `eof`, the end of the buffer ends an
/// open record; without, an open record at the end is left alone.
fn scan_records(buf: &[u8], eof: bool, mut on_record: impl FnMut(usize) -> bool) {
    use csv_core::ReadRecordResult as R;
    let mut rdr = csv_core::Reader::new();
    // Field contents are not needed, only where records end; small scratch buffers are reused
    // whenever they fill.
    let mut out = [0u8; 4096];
    let mut ends = [0usize; 64];
    let mut pos = 0;
    loop {
        if pos == buf.len() && !eof {
            // Empty input would tell `csv_core` the input has ended.
            return;
        }
        let (res, nin, _, _) = rdr.read_record(&buf[pos..], &mut out, &mut ends);
        pos += nin;
        match res {
            R::Record => {
                if !on_record(pos) {
                    return;
                }
            }
            R::OutputFull | R::OutputEndsFull | R::InputEmpty => {}
            R::End => return,
        }
    }
}

/// The exact path: where the last whole record ends, and how many records lie before it.
fn csv_cut(buf: &[u8], eof: bool) -> Cut {
    let (mut end, mut rows) = (0, 0u64);
    scan_records(buf, eof, |e| {
        end = e;
        rows += 1;
        true
    });
    if eof {
        // Whatever follows the last record (blank lines) holds no row.
        end = buf.len();
    }
    Cut { end, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Rows the `csv` reader (as the batch configures it) reads from `buf`.
    fn csv_rows(buf: &[u8]) -> u64 {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(buf);
        let mut rec = csv::ByteRecord::new();
        let mut n = 0;
        while r.read_byte_record(&mut rec).expect("in-memory") {
            n += 1;
        }
        n
    }

    /// Cuts `buf` in steps of `step` bytes, as the reader thread does, and returns the blocks'
    /// row counts and the blocks.
    fn blocks(buf: &[u8], step: usize, format: Format) -> Vec<(u64, Vec<u8>)> {
        let s = Splitter::new(format);
        let mut out = Vec::new();
        let mut carry: Vec<u8> = Vec::new();
        let mut at = 0;
        loop {
            let next = (at + step).min(buf.len());
            carry.extend_from_slice(&buf[at..next]);
            at = next;
            let eof = at == buf.len();
            let c = s.cut(&carry, eof);
            if c.end > 0 || eof {
                out.push((c.rows, carry[..c.end].to_vec()));
                carry.drain(..c.end);
            }
            if eof {
                assert!(carry.is_empty());
                return out;
            }
        }
    }

    #[test]
    fn cases() {
        let cases: &[&[u8]] = &[
            b"a,b\nc,d\n",
            b"a,b\nc,d",
            b"a,b\n\n\nc,d\n",
            b"a,b\r\nc,d\r\n",
            b"a,b\r\rc,d\r",
            b"\"x\ny\",b\nc,\"d\"\"\n\"\n",
            b"a,b\"c\nd\n",
            b"",
            b"\n\n",
            b"\"unterminated\nrow\n",
        ];
        for &c in cases {
            let want = csv_rows(c);
            assert_eq!(Splitter::new(Format::Csv).cut(c, true).rows, want, "{c:?}");
            assert_eq!(csv_cut(c, true).rows, want, "{c:?}");
            for step in 1..c.len().max(2) {
                let b = blocks(c, step, Format::Csv);
                let total: u64 = b.iter().map(|x| x.0).sum();
                assert_eq!(total, want, "{c:?} step {step}");
                for (rows, block) in &b {
                    assert_eq!(*rows, csv_rows(block), "{c:?} step {step} block {block:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_text_cuts_where_the_csv_reader_would(
            text in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b'"'), Just(b' ')],
                0..120,
            ),
            step in 1usize..40,
        ) {
            let want = csv_rows(&text);
            let b = blocks(&text, step, Format::Csv);
            let total: u64 = b.iter().map(|x| x.0).sum();
            prop_assert_eq!(total, want);
            for (rows, block) in &b {
                prop_assert_eq!(*rows, csv_rows(block));
            }
            let joined: Vec<u8> = b.iter().flat_map(|x| x.1.clone()).collect();
            prop_assert_eq!(joined, text);
        }

        #[test]
        fn quote_free_lines_match_the_exact_path(
            text in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b' ')],
                0..120,
            ),
            eof in any::<bool>(),
        ) {
            let fast = Splitter::new(Format::Csv).cut(&text, eof);
            if lone_cr_free(&text) {
                let exact = csv_cut(&text, eof);
                prop_assert_eq!(fast.rows, csv_rows(&text[..fast.end]));
                prop_assert_eq!(exact.rows, csv_rows(&text[..exact.end]));
                if eof {
                    prop_assert_eq!(fast, exact);
                }
            }
        }
    }
}
