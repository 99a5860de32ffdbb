//! The audit writer: one thread appends records to the hash chain in batches (group commit), and
//! every request waits until its record is durable before it answers.

use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::problem::ApiError;
use crate::store::{AuditRecord, Db, NewAudit};

type Job = (NewAudit, oneshot::Sender<Result<AuditRecord, String>>);

/// Handle to the writer thread.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
}

/// Most records one transaction appends.
const BATCH_MAX: usize = 512;

/// How long the writer waits for more records after the first one of a batch. Each commit costs
/// tens of microseconds; under load, gathering for a fraction of a millisecond turns thousands of
/// tiny commits per second into a few hundred large ones. Idle latency grows by at most this.
const LINGER: std::time::Duration = std::time::Duration::from_micros(150);

impl AuditLog {
    /// Starts the writer on its own connection (`url` is the database it is open on).
    pub fn start(db: Arc<Db>, url: &str) -> AuditLog {
        let (tx, rx) = mpsc::channel::<Job>();
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        if let Err(e) =
            db.checkpoint_in_background(url, commits.clone(), std::time::Duration::from_millis(10))
        {
            tracing::warn!(error = %e, "audit checkpoints stay in the writer");
        }
        std::thread::Builder::new()
            .name("aidf-audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Linger once, then take whatever arrived: one wake-up per batch rather than
                    // one per record (at tens of thousands of records a second, the wake-ups
                    // cost more than the inserts).
                    std::thread::sleep(LINGER);
                    let (mut records, mut replies): (Vec<NewAudit>, Vec<_>) =
                        std::iter::once(first).unzip();
                    while records.len() < BATCH_MAX {
                        match rx.try_recv() {
                            Ok((r, reply)) => {
                                records.push(r);
                                replies.push(reply);
                            }
                            Err(_) => break,
                        }
                    }
                    match db.append_audit(&records) {
                        Ok(stored) => {
                            commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            for (reply, rec) in replies.into_iter().zip(stored) {
                                let _ = reply.send(Ok(rec));
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
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "could not start the audit writer"));
        AuditLog { tx }
    }

    /// Appends one record and waits until it is committed.
    pub async fn append(&self, record: NewAudit) -> Result<AuditRecord, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((record, reply))
            .map_err(|_| ApiError::internal("the audit writer has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the audit writer dropped the record"))?
            .map_err(|e| ApiError::internal(format!("audit append failed: {e}")))
    }
}
