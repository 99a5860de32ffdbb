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
use std::io::{Read, Write};
use std::sync::mpsc;

use aidf_core::{Authorization, Determination, Policy, Posture};
use aidf_ledger::{LedgerStore, Timestamp};
use serde::Serialize;

use crate::row;

mod input;
mod output;
mod parallel;
mod stateful;

pub use output::{CsvOut, LEDGER_COLUMNS, OUTPUT_COLUMNS, OutFormat, ShipCols};
use parallel::{Pool, run_stateless};
use stateful::run_stateful;
pub use stateful::{LOCAL_TENANT, shipment_id};

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
