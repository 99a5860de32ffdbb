//! Group commit of shipments on SQLite.
//!
//! SQLite has one writer at a time, so shipments are recorded by one thread that owns a ledger
//! connection: it takes every shipment waiting, records them one after the other inside a single
//! transaction ([`aidf_service::ship_group`]), commits once, and only then answers each request.
//! Each shipment is still determined against the balances its predecessors left and written with
//! its audit row, undone alone if it fails (the group runs again, with a savepoint per shipment,
//! when one fails part-way: [`aidf_ledger::LedgerStore::group`]), so the invariants of the
//! single-shipment path hold; what
//! the group saves is the per-transaction work (lock, WAL frames, commit) and the hand-offs. The
//! group's audit rows are chained in the same transaction, on the writer's connection: the audit
//! writer's own commits would otherwise empty the writer's page cache after every group.
//!
//! The determination itself is made before, by the request on a pooled reader connection
//! ([`aidf_service::prepare`]), in parallel with the writer; the writer only records the plan,
//! which the ledger refuses if a balance it read has moved since, and then determines that one
//! shipment again itself.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::audit::{AuditContext, Auditor};
use aidf_ledger::{Ledger, LedgerStore, Timestamp};
use aidf_service::{GroupItem, InFlight, ShipConfig, ShipError, ShipOutcome, ShipRequest};
use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditLog;

/// Shipments recorded in one group at most (the rest wait for the next one).
const GROUP_MAX: usize = 256;

/// Shipments waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// One shipment handed to the writer.
#[derive(Debug)]
pub(crate) struct Job {
    /// Who the audit record names.
    pub ctx: AuditContext,
    /// The client's input.
    pub input: DeterminationInput,
    /// Shipment id, in the tenant's namespace.
    pub shipment_id: String,
    /// The tenant.
    pub tenant: String,
    /// Prefix of the tenant's license and VEU ids.
    pub record_prefix: String,
    /// The caller is an officer.
    pub may_backfill: bool,
    /// The policy to determine under.
    pub policy: Arc<Policy>,
    /// The ledger's shipment settings.
    pub config: ShipConfig,
    /// Recording time.
    pub now: Timestamp,
    /// The plan made on a reader connection ([`aidf_service::prepare`]), if any.
    pub plan: Option<Box<aidf_service::Plan>>,
    /// Its number in the planner's hand-offs to the writer (set by the planner).
    pub seq: u64,
}

impl Job {
    /// The service's view of this shipment.
    pub fn request(&self) -> ShipRequest<'_> {
        ShipRequest {
            input: &self.input,
            shipment_id: &self.shipment_id,
            tenant: &self.tenant,
            record_prefix: &self.record_prefix,
            may_backfill: self.may_backfill,
            now: self.now,
        }
    }
}

type Reply = oneshot::Sender<Result<ShipOutcome, ShipError>>;

/// The handle requests send their shipments through.
#[derive(Debug)]
pub(crate) struct Shipper {
    jobs: mpsc::Sender<(Job, Reply)>,
}

impl Shipper {
    /// Starts the planner on `reader` and the writer on `writer`; they end when the last handle
    /// is dropped.
    pub fn start(
        reader: Ledger,
        writer: Ledger,
        audit: AuditLog,
        auditor: Arc<Auditor>,
    ) -> Result<Shipper, String> {
        let (jobs, planned) = mpsc::channel(QUEUE);
        let (to_writer, rx) = mpsc::channel(QUEUE);
        // The number of the last hand-off the writer has committed (or failed).
        let settled = Arc::new(AtomicU64::new(0));
        let settled_by_writer = settled.clone();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(|_| ())
                .map_err(|e| format!("starting the shipment {name}: {e}"))
        };
        spawn(
            "aidf-plan",
            Box::new(move || plan_all(reader, planned, &to_writer, &settled)),
        )?;
        spawn(
            "aidf-shipments",
            Box::new(move || run(writer, &audit, &auditor, rx, &settled_by_writer)),
        )?;
        Ok(Shipper { jobs })
    }

    /// Records one shipment; answers once its group is committed.
    pub async fn ship(&self, job: Job) -> Result<ShipOutcome, ShipError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ShipError::Unavailable("the shipment writer has stopped".into());
        self.jobs.send((job, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Shipments the planner determines in one read snapshot at most. A longer snapshot keeps the
/// checkpointer from reaching the end of the WAL for longer: with 32, the shipments' p99 went
/// over 20 ms (20.3-23.7 ms in six 10 s runs, against 16.1-18.1 ms with 16 and 8).
const PLAN_BATCH: usize = 16;

/// The planner: determines each shipment on its reader connection ([`aidf_service::prepare`]),
/// in parallel with the writer's commits; answers replays and bad requests itself and passes the
/// plans on to the writer. The shipments waiting are determined in one read snapshot: each read
/// of its own would begin a transaction and, after the writer's every commit, start again from
/// an empty page cache. The draws of the plans handed to the writer and not yet committed
/// (hand-offs after `settled`) are counted on top of what the snapshot shows ([`InFlight`]).
fn plan_all(
    mut reader: Ledger,
    mut rx: mpsc::Receiver<(Job, Reply)>,
    writer: &mpsc::Sender<(Job, Reply)>,
    settled: &AtomicU64,
) {
    let mut batch = Vec::with_capacity(PLAN_BATCH);
    let mut out = HandOff {
        writer,
        in_flight: InFlight::default(),
        sent: 0,
    };
    while next_batch(&mut rx, &mut batch, PLAN_BATCH) {
        // Read before the snapshot begins: what the writer committed by then, the snapshot shows.
        out.in_flight.settled(settled.load(Ordering::Acquire));
        let mut jobs = batch.drain(..);
        // Reads only: a failure to end the snapshot loses nothing.
        let _ = reader.store().read_snapshot(&mut |store| {
            for (job, reply) in jobs.by_ref() {
                plan_one(store, job, reply, &mut out);
            }
        });
        // If the snapshot could not begin, the writer determines these itself.
        for (job, reply) in jobs {
            out.send(job, reply);
        }
    }
}

/// The planner's side of the hand-off to the writer.
struct HandOff<'a> {
    writer: &'a mpsc::Sender<(Job, Reply)>,
    /// The draws of the plans handed off and not known to be committed.
    in_flight: InFlight,
    /// Hand-offs so far (the last one's number).
    sent: u64,
}

impl HandOff<'_> {
    /// Hands a shipment to the writer (answering it if the writer has stopped).
    fn send(&mut self, mut job: Job, reply: Reply) {
        self.sent += 1;
        job.seq = self.sent;
        if let Some(plan) = &job.plan {
            self.in_flight.add(job.seq, plan.shipment());
        }
        if let Err(lost) = self.writer.blocking_send((job, reply)) {
            let (_, reply) = lost.0;
            let _ = reply.send(Err(ShipError::Unavailable(
                "the shipment writer has stopped".into(),
            )));
        }
    }
}

/// Determines one shipment; answers a replay or an error itself, else passes the plan on.
fn plan_one(store: &mut dyn LedgerStore, mut job: Job, reply: Reply, out: &mut HandOff<'_>) {
    let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
        aidf_service::prepare(
            store,
            &job.policy,
            &job.config,
            &job.request(),
            &out.in_flight,
        )
    }));
    match prepared {
        Ok(Ok(aidf_service::Prepared::Planned(plan))) => job.plan = Some(plan),
        Ok(Ok(aidf_service::Prepared::Replayed(out))) => {
            let _ = reply.send(Ok(out));
            return;
        }
        Ok(Err(e)) => {
            let _ = reply.send(Err(e));
            return;
        }
        // The writer determines it again from scratch.
        Err(_) => job.plan = None,
    }
    out.send(job, reply);
}

/// Waits for the next shipment, then takes those already waiting behind it, up to `max` in
/// `into` (empty before); false once every sender is gone.
fn next_batch(
    rx: &mut mpsc::Receiver<(Job, Reply)>,
    into: &mut Vec<(Job, Reply)>,
    max: usize,
) -> bool {
    debug_assert!(into.is_empty(), "a batch left over");
    let Some(first) = rx.blocking_recv() else {
        return false;
    };
    into.push(first);
    while into.len() < max {
        match rx.try_recv() {
            Ok(next) => into.push(next),
            Err(_) => break,
        }
    }
    true
}

fn run(
    mut ledger: Ledger,
    audit: &AuditLog,
    auditor: &Auditor,
    mut rx: mpsc::Receiver<(Job, Reply)>,
    settled: &AtomicU64,
) {
    let mut waiting = Vec::with_capacity(GROUP_MAX);
    while next_batch(&mut rx, &mut waiting, GROUP_MAX) {
        // A group shares one policy and one configuration; they change only when an operator
        // restarts with others, so a drained queue is nearly always a single group.
        while !waiting.is_empty() {
            let same = waiting
                .iter()
                .take_while(|(j, _)| {
                    Arc::ptr_eq(&j.policy, &waiting[0].0.policy) && j.config == waiting[0].0.config
                })
                .count();
            let group: Vec<(Job, Reply)> = waiting.drain(..same).collect();
            let last = group.iter().map(|(j, _)| j.seq).max().unwrap_or(0);
            record(&mut ledger, auditor, group);
            // Committed or failed: either way, its draws are no longer in flight.
            settled.fetch_max(last, Ordering::Release);
        }
        // Each group chained its own audit rows; the chainer signs the new head when its next
        // checkpoint is due, and chains what a failed chaining left in the outbox at its next
        // poll. It is not woken: after every group, it would only wait for the write lock.
        audit.chained();
    }
}

/// Records one group and answers each of its requests.
fn record(ledger: &mut Ledger, auditor: &Auditor, group: Vec<(Job, Reply)>) {
    let (mut jobs, replies): (Vec<Job>, Vec<Reply>) = group.into_iter().unzip();
    // Out of the jobs, so each plan can give its determination to its answer while the
    // requests stay borrowed from the jobs.
    let mut plans: Vec<Option<Box<aidf_service::Plan>>> =
        jobs.iter_mut().map(|j| j.plan.take()).collect();
    let mut items: Vec<GroupItem<'_>> = jobs
        .iter()
        .zip(plans.iter_mut())
        .map(|(j, plan)| GroupItem {
            ctx: j.ctx.clone(),
            req: j.request(),
            plan: plan.as_deref_mut(),
        })
        .collect();
    let (policy, config) = (&jobs[0].policy, jobs[0].config);
    // A panic inside rolls the group back (see `LedgerStore::group`); its requests get an error
    // and the writer goes on with the next group.
    let answers = std::panic::catch_unwind(AssertUnwindSafe(|| {
        aidf_service::ship_group(ledger.store(), policy, &config, &mut items, Some(auditor))
    }))
    .unwrap_or_else(|_| {
        items
            .iter()
            .map(|_| {
                Err(ShipError::Unavailable(
                    "recording the shipment failed; nothing was recorded".into(),
                ))
            })
            .collect()
    });
    for (reply, answer) in replies.into_iter().zip(answers) {
        // The client may have gone: its shipment is recorded all the same, and a retry with
        // the same key gets this answer.
        let _ = reply.send(answer);
    }
}
