//! The server's chainer: one thread, on its own ledger connection, moves the ledger's audit
//! outbox (rows committed with every ledger write: shipments, licenses, VEUs, G2G) into the hash
//! chain, and appends the events that belong to no ledger write (stateless determinations,
//! errors, 401/403 refusals) in the same group commit. A request whose record is such an event
//! waits until it is committed; a ledger write's record is already durable in the outbox when
//! the write commits, and the writer is poked to chain it at once. Every second with new
//! records, the head is signed into a checkpoint and the anchor file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use aidf_ledger::Ledger;
use aidf_ledger::audit::{Auditor, NewAudit};
use tokio::sync::oneshot;

use crate::problem::ApiError;

enum Job {
    /// An event to append; the reply says whether it is committed.
    Record(NewAudit, oneshot::Sender<Result<(), String>>),
    /// Outbox rows are waiting (a ledger write just committed).
    Poke,
}

/// Handle to the writer thread.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    /// Set by writers that chain records themselves (the shipment writer): the head moved and
    /// is to be signed.
    chained: Arc<AtomicBool>,
}

/// Most records one transaction appends.
const BATCH_MAX: usize = 512;

/// How long the writer waits for more records after the first one of a batch. Each commit costs
/// tens of microseconds; under load, gathering for a fraction of a millisecond turns thousands of
/// tiny commits per second into a few hundred large ones. Idle latency grows by at most this.
const LINGER: Duration = Duration::from_micros(150);

/// How often an idle writer looks at the outbox (rows from the CLI or other processes).
const POLL: Duration = Duration::from_millis(50);

/// How often the head is signed into a checkpoint and the anchor, when records were added.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Record(..) => "Job::Record",
            Job::Poke => "Job::Poke",
        })
    }
}

/// The writer's state between batches.
struct Writer {
    ledger: Ledger,
    auditor: Arc<Auditor>,
    last_checkpoint: Instant,
    unsigned: bool,
    chained: Arc<AtomicBool>,
}

impl Writer {
    /// Chains the outbox and `records` in one transaction; replies to each waiter.
    fn commit(&mut self, records: &[NewAudit], replies: Vec<oneshot::Sender<Result<(), String>>>) {
        self.unsigned |= self.chained.swap(false, Ordering::AcqRel);
        let due = self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY;
        let res = self
            .auditor
            .chain(&mut self.ledger, records, due && self.unsigned);
        match res {
            Ok(out) => {
                self.unsigned |= out.drained > 0 || !records.is_empty();
                if out.checkpoint.is_some() {
                    self.last_checkpoint = Instant::now();
                    self.unsigned = false;
                }
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit append failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }

    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        loop {
            let first = match rx.recv_timeout(POLL) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.commit(&[], Vec::new());
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.last_checkpoint = Instant::now() - CHECKPOINT_EVERY;
                    self.commit(&[], Vec::new());
                    return;
                }
            };
            // Linger once, then take whatever arrived: one wake-up per batch rather than one per
            // record (at tens of thousands of records a second, the wake-ups cost more than the
            // inserts).
            std::thread::sleep(LINGER);
            let mut records = Vec::new();
            let mut replies = Vec::new();
            let mut job = Some(first);
            while let Some(j) = job.take() {
                match j {
                    Job::Record(r, reply) => {
                        records.push(r);
                        replies.push(reply);
                    }
                    Job::Poke => {}
                }
                if records.len() < BATCH_MAX {
                    job = rx.try_recv().ok();
                }
            }
            self.commit(&records, replies);
        }
    }
}

impl AuditLog {
    /// Starts the writer on its own ledger connection to `url`, first chaining whatever an
    /// earlier process left in the outbox.
    pub fn start(url: &str, auditor: Arc<Auditor>) -> Result<AuditLog, String> {
        let mut ledger = Ledger::open(url).map_err(|e| format!("option `--db`: {e}"))?;
        let drained = auditor
            .drain(&mut ledger)
            .map_err(|e| format!("audit outbox: {e}"))?;
        if drained > 0 {
            tracing::info!(drained, "chained audit records left in the outbox");
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let chained = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            ledger,
            auditor,
            last_checkpoint: Instant::now(),
            chained: chained.clone(),
            unsigned: false,
        };
        std::thread::Builder::new()
            .name("aidf-audit".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| format!("could not start the audit writer: {e}"))?;
        Ok(AuditLog { tx, chained })
    }

    /// Appends one event and waits until it is committed.
    pub async fn append(&self, record: NewAudit) -> Result<(), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Record(record, reply))
            .map_err(|_| ApiError::internal("the audit writer has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the audit writer dropped the record"))?
            .map_err(|e| ApiError::internal(format!("audit append failed: {e}")))
    }

    /// Tells the writer that records were chained by another connection (within the
    /// poll interval it signs the new head when a checkpoint is due); no wake-up.
    pub fn chained(&self) {
        self.chained.store(true, Ordering::Release);
    }

    /// Tells the writer that a ledger write left an outbox row to chain.
    pub fn poke(&self) {
        let _ = self.tx.send(Job::Poke);
    }
}
