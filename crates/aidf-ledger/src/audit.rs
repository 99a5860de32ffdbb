//! The audit log: an outbox written in the same transaction as every ledger write, a hash chain
//! the outbox is moved into, a keyed MAC over every chained record, and signed checkpoints, one
//! of which is also kept outside the database (the anchor file).
//!
//! * **Outbox.** Every write transaction of the ledger ([`crate::LedgerStore`]'s writes, and so
//!   `record_shipment`) inserts one `aidf_audit_outbox` row before it commits: the backend's
//!   `write` takes the facts from the write closure and adds the row, so a write without its
//!   audit row cannot commit. The actor and tenant come from the store's [`AuditContext`].
//! * **Chain.** A chainer ([`Auditor::chain`]) moves outbox rows, oldest first, into
//!   `aidf_audit` under one lock (SQLite: the write lock; PostgreSQL: an advisory lock), together
//!   with events that belong to no ledger write (stateless determinations, refusals), which it
//!   appends directly. Each record's `hash` covers its fields and the previous hash; its `mac`
//!   is HMAC-SHA256 of the hash under a key kept outside the database.
//! * **Checkpoints.** The chainer signs (record count, head hash) into `aidf_audit_checkpoints`
//!   and, after the commit, into the anchor file next to the key. `verify` checks every record,
//!   every checkpoint, and the anchor: removing the tail or the whole table, or editing a record
//!   and recomputing the hashes, is caught.
//! * Records written before the MAC existed (schema version 2, the server's chain) have an
//!   empty `mac` and the old hash; they are accepted only as a prefix of the chain, where the
//!   first MAC-signed record or checkpoint after them covers them.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{LedgerError, Result};
use crate::{Chained, LedgerStore};

/// Who acts, for the audit rows of writes (set with `LedgerStore::set_audit_context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// Tenant (`local` for the CLI).
    pub tenant: String,
    /// Token id, or `local:<user>` for the CLI.
    pub actor: String,
}

impl Default for AuditContext {
    fn default() -> Self {
        AuditContext {
            tenant: "local".into(),
            actor: "local".into(),
        }
    }
}

impl AuditContext {
    /// The CLI's context: tenant `local`, actor `local:<user>` (from `USER`/`LOGNAME`).
    pub fn local_user() -> AuditContext {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(user_of_process)
            .unwrap_or_else(|| "unknown".into());
        AuditContext {
            tenant: "local".into(),
            actor: format!("local:{user}"),
        }
    }
}

/// The name of this process's user from `/etc/passwd` (or `uid:<n>`), when `USER` is unset.
fn user_of_process() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = passwd.lines().find_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        });
        Some(name.unwrap_or_else(|| format!("uid:{uid}")))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What a write (or another event) did, without who or when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEvent {
    /// E.g. `shipment`, `license.add`, `ledger.transfer`, `determination`.
    pub action: String,
    /// The object acted on (shipment id, license id, op id), or empty.
    pub subject: String,
    /// `sha256:` of the input, or empty.
    pub input_digest: String,
    /// Outcome: `recorded`, `replayed`, `authorized:…`, `error:<status>`.
    pub outcome: String,
    /// Regime digest of the answer, or empty.
    pub regime_digest: String,
}

/// A record to chain: an event with who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Tenant.
    pub tenant: String,
    /// Actor.
    pub actor: String,
    /// The event.
    pub event: AuditEvent,
}

impl NewAudit {
    /// `event` by the context's actor, now.
    pub fn now(ctx: &AuditContext, event: AuditEvent) -> NewAudit {
        NewAudit {
            at: now_ms(),
            tenant: ctx.tenant.clone(),
            actor: ctx.actor.clone(),
            event,
        }
    }
}

/// One chained record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the chain (1-based).
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Tenant.
    pub tenant: String,
    /// Token id (never the token) or `local:<user>`.
    pub actor: String,
    /// What was done, e.g. `shipment`.
    pub action: String,
    /// The object acted on, or empty.
    pub subject: String,
    /// `sha256:` of the input.
    pub input_digest: String,
    /// Outcome.
    pub outcome: String,
    /// Regime digest the answer used (empty when none).
    pub regime_digest: String,
    /// Hash of the previous record (`genesis` for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
    /// HMAC-SHA256 of the 32 bytes `hash` spells (hex; empty for records from before schema
    /// version 3).
    pub mac: String,
}

/// A record as read, borrowed from the database row as bytes (verification allocates nothing
/// and validates no UTF-8 per row: it only hashes and compares).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    pub seq: i64,
    pub at: i64,
    pub tenant: &'a [u8],
    pub actor: &'a [u8],
    pub action: &'a [u8],
    pub subject: &'a [u8],
    pub input_digest: &'a [u8],
    pub outcome: &'a [u8],
    pub regime_digest: &'a [u8],
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
    pub mac: &'a [u8],
}

/// Columns of `aidf_audit` in [`RecordRef`] order.
pub(crate) const RECORD_COLS: &str = "seq, at, tenant, actor, action, subject, input_digest, \
     outcome, regime_digest, prev_hash, hash, mac";

/// The outbox insert, `$n` placeholders (both backends), for writers outside the ledger crate
/// that must audit in their own transaction on the same database (the server's token table).
pub const OUTBOX_INSERT_SQL: &str = "INSERT INTO aidf_audit_outbox (at, tenant, actor, action, \
     subject, input_digest, outcome, regime_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Chained records inserted by one statement.
pub(crate) const ROWS_PER_INSERT: usize = 16;

/// The insert of `rows` chained records (`1..=ROWS_PER_INSERT`), `$n` placeholders; built once.
pub(crate) fn insert_sql(rows: usize) -> &'static str {
    static SQL: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        (1..=ROWS_PER_INSERT)
            .map(|rows| {
                let values: Vec<String> = (0..rows)
                    .map(|i| {
                        let cols: Vec<String> =
                            (1..=12).map(|c| format!("${}", i * 12 + c)).collect();
                        format!("({})", cols.join(","))
                    })
                    .collect();
                format!(
                    "INSERT INTO aidf_audit ({RECORD_COLS}) VALUES {}",
                    values.join(",")
                )
            })
            .collect()
    });
    &SQL[rows.clamp(1, ROWS_PER_INSERT) - 1]
}

/// Insert of a checkpoint (a second signer of the same head keeps the first row).
pub(crate) const CHECKPOINT_INSERT_SQL: &str = "INSERT INTO aidf_audit_checkpoints \
     (records, head_hash, at, mac) VALUES ($1, $2, $3, $4) ON CONFLICT (records) DO NOTHING";

/// The PostgreSQL advisory lock (transaction-scoped) that serializes chainers across processes
/// ("aidfaudt").
pub const PG_CHAIN_LOCK: i64 = 0x6169_6466_6175_6474;

/// Whether the outbox holds any row (a cheap look before [`OUTBOX_DRAIN_SQL`], whose temporary
/// tables and re-prepared plan cost more than the rest of a group's chaining on SQLite).
pub(crate) const OUTBOX_ANY_SQL: &str = "SELECT EXISTS (SELECT 1 FROM aidf_audit_outbox)";

/// Moves up to `$1` outbox rows out, returning them (the caller sorts by id).
pub(crate) const OUTBOX_DRAIN_SQL: &str = "DELETE FROM aidf_audit_outbox WHERE id IN \
     (SELECT id FROM aidf_audit_outbox ORDER BY id LIMIT $1) RETURNING id, at, tenant, actor, \
     action, subject, input_digest, outcome, regime_digest";

/// The last chained record.
pub(crate) const HEAD_SQL: &str = "SELECT seq, hash FROM aidf_audit ORDER BY seq DESC LIMIT 1";

/// A tenant's records, newest first.
pub(crate) const LIST_SQL: &str = "SELECT seq, at, tenant, actor, action, subject, input_digest, \
     outcome, regime_digest, prev_hash, hash, mac FROM aidf_audit WHERE tenant = $1 \
     ORDER BY seq DESC LIMIT $2";

/// The first chained record of an action on a subject (index `aidf_audit_subject`, schema 5).
pub(crate) const SUBJECT_SQL: &str = "SELECT seq, at, tenant, actor, action, subject, \
     input_digest, outcome, regime_digest, prev_hash, hash, mac FROM aidf_audit \
     WHERE subject = $1 AND action = $2 ORDER BY seq LIMIT 1";

/// Records of a page.
pub(crate) const SCAN_SQL: &str = "SELECT seq, at, tenant, actor, action, subject, input_digest, \
     outcome, regime_digest, prev_hash, hash, mac FROM aidf_audit WHERE seq > $1 AND seq <= $2 \
     ORDER BY seq";

/// Checkpoints of a page.
pub(crate) const CHECKPOINTS_SQL: &str = "SELECT records, head_hash, at, mac FROM \
     aidf_audit_checkpoints WHERE records > $1 AND records <= $2 ORDER BY records";

/// The values of a chained record in [`RECORD_COLS`] order, as parameters of either backend.
macro_rules! record_values {
    ($r:expr) => {
        [
            &$r.seq as _,
            &$r.at as _,
            &$r.tenant as _,
            &$r.actor as _,
            &$r.action as _,
            &$r.subject as _,
            &$r.input_digest as _,
            &$r.outcome as _,
            &$r.regime_digest as _,
            &$r.prev_hash as _,
            &$r.hash as _,
            &$r.mac as _,
        ]
    };
}
pub(crate) use record_values;

/// One chaining worked out: the records to insert (drained outbox rows first, in id order, then
/// the direct ones) and the checkpoint to sign.
pub(crate) struct Plan {
    pub records: Vec<AuditRecord>,
    pub checkpoint: Option<Checkpoint>,
    drained: usize,
}

/// Plans one chaining after `head` (the last record, if any).
pub(crate) fn plan(
    key: &AuditKey,
    head: Option<(i64, String)>,
    mut drained: Vec<(i64, NewAudit)>,
    direct: &[NewAudit],
    checkpoint: bool,
) -> Plan {
    drained.sort_unstable_by_key(|(id, _)| *id);
    let n = drained.len();
    let records = chain(
        key,
        head.clone(),
        drained
            .into_iter()
            .map(|(_, r)| r)
            .chain(direct.iter().cloned()),
    );
    let checkpoint = checkpoint_of(key, head.as_ref(), &records, checkpoint);
    Plan {
        records,
        checkpoint,
        drained: n,
    }
}

impl Plan {
    /// What was done, once the plan is committed.
    pub(crate) fn done(mut self) -> Chained {
        Chained {
            drained: self.drained,
            direct: self.records.split_off(self.drained),
            checkpoint: self.checkpoint,
        }
    }
}

/// Whether a checkpoint is due and what it signs: after the records just chained, or (forced)
/// the head as it stands.
fn checkpoint_of(
    key: &AuditKey,
    head: Option<&(i64, String)>,
    chained: &[AuditRecord],
    wanted: bool,
) -> Option<Checkpoint> {
    if !wanted {
        return None;
    }
    let (records, hash) = match chained.last() {
        Some(r) => (r.seq, r.hash.as_str()),
        None => head.map(|(s, h)| (*s, h.as_str()))?,
    };
    Some(key.checkpoint(records, hash, now_ms()))
}

/// A signed checkpoint: the chain had `records` records ending in `head_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Records in the chain.
    pub records: i64,
    /// Hash of record `records` (`genesis` for none).
    pub head_hash: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// HMAC-SHA256 of the above (hex).
    pub mac: String,
}

/// The result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Verification {
    /// Whether every record, checkpoint and the anchor check out.
    pub ok: bool,
    /// Records checked.
    pub records: i64,
    /// Of those, records from before the MAC (schema version 2), covered by what follows them.
    pub legacy_records: i64,
    /// Signed checkpoints checked.
    pub checkpoints: i64,
    /// Records the anchor outside the database vouches for (`None`: no anchor file).
    pub anchored_records: Option<i64>,
    /// The first bad record's seq, if any.
    pub first_bad_seq: Option<i64>,
    /// What is wrong.
    pub problem: Option<String>,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `sha256:` and the lower-case hex of the SHA-256 of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    sha256_text(&Sha256::digest(bytes))
}

/// `sha256:` followed by the lower-case hex of `digest`.
pub fn sha256_text(digest: &[u8]) -> String {
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256:");
    push_hex(&mut out, digest);
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends the lower-case hex of `bytes` to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

fn hash_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The chain hash of a record. Records with a MAC (schema 3) hash a version tag and the
/// subject too; legacy records (no MAC) keep the server's original field list.
fn record_hash(r: &RecordRef<'_>, legacy: bool) -> [u8; 32] {
    let mut seq = [0; 20];
    let mut at = [0; 20];
    let seq = decimal(&mut seq, r.seq);
    let at = decimal(&mut at, r.at);
    let common = [seq, at, r.tenant, r.actor, r.action];
    let tail = [r.input_digest, r.outcome, r.regime_digest, r.prev_hash];
    if legacy {
        let parts: Vec<&[u8]> = common.iter().chain(tail.iter()).copied().collect();
        hash_parts(&parts)
    } else {
        let mut parts: [&[u8]; 11] = [b"aidf-audit-v3"; 11];
        parts[1..6].copy_from_slice(&common);
        parts[6] = r.subject;
        parts[7..].copy_from_slice(&tail);
        hash_parts(&parts)
    }
}

/// The hash a record should carry, from its fields (`sha256:` hex); what `verify` recomputes.
pub fn record_hash_text(r: &AuditRecord) -> String {
    let view = RecordRef {
        seq: r.seq,
        at: r.at,
        tenant: r.tenant.as_bytes(),
        actor: r.actor.as_bytes(),
        action: r.action.as_bytes(),
        subject: r.subject.as_bytes(),
        input_digest: r.input_digest.as_bytes(),
        outcome: r.outcome.as_bytes(),
        regime_digest: r.regime_digest.as_bytes(),
        prev_hash: r.prev_hash.as_bytes(),
        hash: r.hash.as_bytes(),
        mac: r.mac.as_bytes(),
    };
    sha256_text(&record_hash(&view, r.mac.is_empty()))
}

/// `v` in decimal, as `to_string` spells it, without allocating.
fn decimal(buf: &mut [u8; 20], v: i64) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        // i64::MIN has 19 digits: there is always room for the sign.
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// The HMAC-SHA256 key that signs records and checkpoints. Its text never leaves this value
/// (`Debug` prints nothing of it).
#[derive(Clone)]
pub struct AuditKey {
    inner: Sha256,
    outer: Sha256,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// Shortest accepted key text.
const MIN_KEY_CHARS: usize = 32;

impl AuditKey {
    /// A key from its secret bytes (RFC 2104: longer than a block → hashed first).
    pub fn new(secret: &[u8]) -> AuditKey {
        let mut block = [0u8; 64];
        if secret.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            block[..secret.len()].copy_from_slice(secret);
        }
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        AuditKey { inner, outer }
    }

    /// A key from its text (file or environment): at least 32 characters after trimming.
    pub fn from_text(what: &str, text: &str) -> Result<AuditKey> {
        let t = text.trim();
        if t.chars().count() < MIN_KEY_CHARS {
            return Err(LedgerError::InvalidField {
                field: "audit key",
                value: format!("{what} ({} characters)", t.chars().count()),
                reason: "must hold at least 32 characters",
            });
        }
        Ok(AuditKey::new(t.as_bytes()))
    }

    /// HMAC-SHA256 of `msg`.
    pub fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let mut i = self.inner.clone();
        i.update(msg);
        let mut o = self.outer.clone();
        o.update(i.finalize());
        o.finalize().into()
    }

    fn mac_hex(&self, msg: &[u8]) -> String {
        let mut s = String::with_capacity(64);
        push_hex(&mut s, &self.mac(msg));
        s
    }

    fn checkpoint_mac(&self, records: i64, head_hash: &str, at: i64) -> String {
        self.mac_hex(format!("aidf-audit-checkpoint\0{records}\0{head_hash}\0{at}").as_bytes())
    }

    /// A signed checkpoint.
    pub fn checkpoint(&self, records: i64, head_hash: &str, at: i64) -> Checkpoint {
        Checkpoint {
            records,
            head_hash: head_hash.to_owned(),
            at,
            mac: self.checkpoint_mac(records, head_hash, at),
        }
    }

    /// Whether the checkpoint was signed by this key.
    pub fn signed(&self, c: &Checkpoint) -> bool {
        self.checkpoint_mac(c.records, &c.head_hash, c.at) == c.mac
    }
}

/// Chains `records` after `head` (`(seq, hash)` of the last record, if any), signing each.
pub(crate) fn chain(
    key: &AuditKey,
    head: Option<(i64, String)>,
    records: impl IntoIterator<Item = NewAudit>,
) -> Vec<AuditRecord> {
    let (mut seq, mut prev) = head.unwrap_or((0, "genesis".into()));
    records
        .into_iter()
        .map(|r| {
            seq += 1;
            let e = r.event;
            let view = RecordRef {
                seq,
                at: r.at,
                tenant: r.tenant.as_bytes(),
                actor: r.actor.as_bytes(),
                action: e.action.as_bytes(),
                subject: e.subject.as_bytes(),
                input_digest: e.input_digest.as_bytes(),
                outcome: e.outcome.as_bytes(),
                regime_digest: e.regime_digest.as_bytes(),
                prev_hash: prev.as_bytes(),
                hash: b"",
                mac: b"",
            };
            let digest = record_hash(&view, false);
            let hash = sha256_text(&digest);
            let mac = key.mac_hex(&digest);
            AuditRecord {
                seq,
                at: r.at,
                tenant: r.tenant,
                actor: r.actor,
                action: e.action,
                subject: e.subject,
                input_digest: e.input_digest,
                outcome: e.outcome,
                regime_digest: e.regime_digest,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
                mac,
            }
        })
        .collect()
}

/// Walks the chain in order, one record at a time, in constant memory.
pub(crate) struct Verifier<'k> {
    key: &'k AuditKey,
    prev: Vec<u8>,
    hash_buf: String,
    next_seq: i64,
    legacy: i64,
    failure: Option<(i64, String)>,
}

impl<'k> Verifier<'k> {
    pub(crate) fn new(key: &'k AuditKey) -> Verifier<'k> {
        Verifier {
            key,
            prev: b"genesis".to_vec(),
            hash_buf: String::with_capacity(71),
            next_seq: 1,
            legacy: 0,
            failure: None,
        }
    }

    /// Checks the next record; false once a record is bad (the failure is kept).
    pub(crate) fn step(&mut self, r: &RecordRef<'_>) -> bool {
        if let Err(problem) = self.check(r) {
            self.failure = Some((r.seq.min(self.next_seq), problem));
            return false;
        }
        self.prev.clear();
        self.prev.extend_from_slice(r.hash);
        self.next_seq += 1;
        true
    }

    fn check(&mut self, r: &RecordRef<'_>) -> std::result::Result<(), String> {
        if r.seq != self.next_seq {
            return Err(format!(
                "record {} is missing (next is {})",
                self.next_seq, r.seq
            ));
        }
        if r.prev_hash != self.prev.as_slice() {
            return Err(format!(
                "record {} does not follow the previous record's hash",
                r.seq
            ));
        }
        let legacy = r.mac.is_empty();
        if legacy && self.legacy + 1 != r.seq {
            return Err(format!(
                "record {} has no MAC after signed records: it was not written by aidf",
                r.seq
            ));
        }
        let digest = record_hash(r, legacy);
        self.hash_buf.clear();
        self.hash_buf.push_str("sha256:");
        push_hex(&mut self.hash_buf, &digest);
        if self.hash_buf.as_bytes() != r.hash {
            return Err(format!(
                "record {} was altered: its hash does not match its content",
                r.seq
            ));
        }
        if legacy {
            self.legacy += 1;
        } else if !mac_matches(&self.key.mac(&digest), r.mac) {
            return Err(format!(
                "record {} is not signed by the audit key: it was altered or forged",
                r.seq
            ));
        }
        Ok(())
    }

    /// Records checked so far.
    pub(crate) fn records(&self) -> i64 {
        self.next_seq - 1
    }

    /// Checks a checkpoint once the walk has reached its record count.
    pub(crate) fn checkpoint(&mut self, c: &Checkpoint, what: &str) -> bool {
        let problem = if !self.key.signed(c) {
            format!(
                "{what} at {} records is not signed by the audit key",
                c.records
            )
        } else if c.head_hash.as_bytes() != self.prev.as_slice() {
            format!(
                "{what} at {} records names another head hash: records were changed",
                c.records
            )
        } else {
            return true;
        };
        self.failure = Some((c.records, problem));
        false
    }

    /// Fails with a problem found outside the walk.
    pub(crate) fn fail(&mut self, seq: i64, problem: String) {
        self.failure = Some((seq, problem));
    }

    pub(crate) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    pub(crate) fn finish(self, checkpoints: i64, anchored: Option<i64>) -> Verification {
        let (first_bad_seq, problem) = match self.failure {
            Some((s, p)) => (Some(s), Some(p)),
            None => (None, None),
        };
        Verification {
            ok: first_bad_seq.is_none(),
            records: self.next_seq - 1,
            legacy_records: self.legacy,
            checkpoints,
            anchored_records: anchored,
            first_bad_seq,
            problem,
        }
    }
}

fn mac_matches(mac: &[u8; 32], hex: &[u8]) -> bool {
    hex.len() == 64
        && mac.iter().enumerate().all(|(i, b)| {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            hex[2 * i] == HEX[(b >> 4) as usize] && hex[2 * i + 1] == HEX[(b & 15) as usize]
        })
}

/// Where the audit key and the anchor live, and the key itself.
#[derive(Debug, Clone)]
pub struct Auditor {
    key: AuditKey,
    anchor: Option<PathBuf>,
}

/// Outbox rows one chaining moves at most.
pub const OUTBOX_BATCH: i64 = 4096;
const OUTBOX_BATCH_LEN: usize = 4096;

/// Environment variable holding the audit key text.
pub const KEY_ENV: &str = "AIDF_AUDIT_KEY";

/// The default key file of a ledger: next to a SQLite file; for PostgreSQL, under
/// `$XDG_STATE_HOME/aidf` (or `~/.local/state/aidf`), named by a digest of the URL.
pub fn default_key_file(db_url: &str) -> PathBuf {
    if db_url.starts_with("postgres://") || db_url.starts_with("postgresql://") {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        let tag = &sha256_digest(db_url.as_bytes())[7..23];
        base.join("aidf").join(format!("pg-{tag}.audit-key"))
    } else {
        PathBuf::from(format!("{db_url}.audit-key"))
    }
}

impl Auditor {
    /// An auditor with this key and anchor file (`None`: no anchor outside the database).
    pub fn new(key: AuditKey, anchor: Option<PathBuf>) -> Auditor {
        Auditor { key, anchor }
    }

    /// The key from `AIDF_AUDIT_KEY`, else from `key_file`, else from the ledger's default key
    /// file, which is created (random, mode 0600) if missing. The anchor lives next to the key
    /// file (`<key file>.anchor`; with the environment key, next to the default key file).
    /// The second value says what was done, for the caller to tell the user.
    pub fn open(db_url: &str, key_file: Option<&Path>) -> Result<(Auditor, Option<String>)> {
        let file = key_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_key_file(db_url));
        let anchor = Some(anchor_path(&file));
        if let Ok(text) = std::env::var(KEY_ENV) {
            let key = AuditKey::from_text(KEY_ENV, &text)?;
            return Ok((Auditor { key, anchor }, None));
        }
        let io = |source| LedgerError::Io {
            path: file.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let key = AuditKey::from_text(&file.display().to_string(), &text)?;
                Ok((Auditor { key, anchor }, None))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && key_file.is_none() => {
                let text = create_key_file(&file).map_err(io)?;
                let key = AuditKey::from_text("new key", &text)?;
                let note = format!(
                    "created audit key {} (mode 0600); keep it outside the database and back it up, \
                     or set {KEY_ENV}",
                    file.display()
                );
                Ok((Auditor { key, anchor }, Some(note)))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Moves outbox rows (at most [`OUTBOX_BATCH`]) and `direct` into the chain; with
    /// `checkpoint`, signs the new head into the database and the anchor file.
    pub fn chain(
        &self,
        store: &mut dyn LedgerStore,
        direct: &[NewAudit],
        checkpoint: bool,
    ) -> Result<Chained> {
        let out = store.chain_audit(&self.key, direct, OUTBOX_BATCH, checkpoint)?;
        if let Some(cp) = &out.checkpoint {
            self.write_anchor(cp)?;
        }
        Ok(out)
    }

    /// Chains the whole outbox and signs the head (the CLI before it exits; any opener, for
    /// what a crash left). Returns how many outbox rows were chained.
    pub fn drain(&self, store: &mut dyn LedgerStore) -> Result<usize> {
        let mut total = 0;
        loop {
            let out = store.chain_audit(&self.key, &[], OUTBOX_BATCH, false)?;
            total += out.drained;
            if out.drained < OUTBOX_BATCH_LEN {
                break;
            }
        }
        self.chain(store, &[], true)?;
        Ok(total)
    }

    /// Verifies the chain, its checkpoints and the anchor.
    pub fn verify(&self, store: &mut dyn LedgerStore) -> Result<Verification> {
        store.verify_audit(self)
    }

    /// The key.
    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    /// The anchor file, if any.
    pub fn anchor_file(&self) -> Option<&Path> {
        self.anchor.as_deref()
    }

    /// The anchored checkpoint, if the anchor file exists.
    pub fn read_anchor(&self) -> Result<Option<Checkpoint>> {
        let Some(path) = &self.anchor else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt {
                    what: path.display().to_string(),
                    detail: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LedgerError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Replaces the anchor with `c` unless it already vouches for more records.
    pub(crate) fn write_anchor(&self, c: &Checkpoint) -> Result<()> {
        let Some(path) = &self.anchor else {
            return Ok(());
        };
        if matches!(self.read_anchor(), Ok(Some(old)) if old.records >= c.records) {
            return Ok(());
        }
        let io = |source| LedgerError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(c)?).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// `<key file>.anchor`.
fn anchor_path(key_file: &Path) -> PathBuf {
    let mut p = key_file.as_os_str().to_owned();
    p.push(".anchor");
    PathBuf::from(p)
}

/// Writes a new random key (64 hex characters) to `path` with mode 0600; returns its text.
fn create_key_file(path: &Path) -> std::io::Result<String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut text = String::with_capacity(65);
    push_hex(&mut text, &bytes);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            Ok(text)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map(|t| t.trim().to_owned())
        }
        Err(e) => Err(e),
    }
}

/// The event of a write, computed from the write's input and result.
pub(crate) fn event(
    action: &str,
    subject: &str,
    input: &impl Serialize,
    outcome: &str,
) -> AuditEvent {
    AuditEvent {
        action: action.to_owned(),
        subject: subject.to_owned(),
        input_digest: serde_json::to_vec(input)
            .map(|b| sha256_digest(&b))
            .unwrap_or_default(),
        outcome: outcome.to_owned(),
        regime_digest: String::new(),
    }
}

/// The event of a recorded (or replayed) shipment.
pub(crate) fn shipment_event(s: &crate::Shipment, view: &crate::body_view::BodyView) -> AuditEvent {
    // The service stores `{determination, input}`; a bare determination is read as well.
    let (authorization, regime_digest) = view.authorization_and_digest();
    let mut outcome = String::new();
    if s.replayed {
        outcome.push_str("replayed:");
    }
    let _ = write!(
        outcome,
        "{}:{}",
        s.status.as_str(),
        authorization.unwrap_or("?")
    );
    AuditEvent {
        action: "shipment".into(),
        subject: s.shipment_id.clone(),
        input_digest: s.input_digest.clone(),
        outcome,
        regime_digest: regime_digest.unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    /// RFC 4231 test cases 1, 2 and 6 (short key, text key, key longer than a block).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let cases: &[(&[u8], &[u8], &str)] = &[
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, msg, want) in cases {
            assert_eq!(hex(&AuditKey::new(key).mac(msg)), *want);
        }
    }

    #[test]
    fn decimal_spells_like_to_string() {
        for v in [0, 7, -7, 10, 1_735_689_600_000, i64::MAX, i64::MIN] {
            let mut buf = [0; 20];
            assert_eq!(decimal(&mut buf, v), v.to_string().as_bytes());
        }
    }

    /// Verification never stalls writers: a write commits while a page of the chain is being
    /// read (SQLite WAL: a reader's open statement does not hold the write lock).
    #[test]
    fn a_write_commits_while_verify_reads_a_page() {
        use crate::{AccountKind, LedgerStore, SqliteLedger, Store, Timestamp};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.db");
        let mut reader = SqliteLedger::open(&path).expect("open");
        let mut writer = SqliteLedger::open(&path).expect("open");
        let key = AuditKey::new(&[7; 32]);
        for i in 0..3 {
            let account = format!("aia:{i}");
            writer
                .ensure_account(&account, AccountKind::AiaCumulative, None, Timestamp(0))
                .expect("write");
        }
        writer.chain_audit(&key, &[], 100, true).expect("chain");
        let mut writes = 0;
        reader
            .audit_scan(0, 3, &mut |_| {
                let account = format!("aia:during-{writes}");
                writer
                    .ensure_account(&account, AccountKind::AiaCumulative, None, Timestamp(0))
                    .expect("a write while a verification reads");
                writes += 1;
                true
            })
            .expect("scan");
        assert_eq!(writes, 3);
        assert_eq!(writer.audit_backlog().expect("backlog"), 3);
    }

    #[test]
    fn short_key_text_is_refused() {
        let e = AuditKey::from_text("AIDF_AUDIT_KEY", "short").unwrap_err();
        assert!(e.to_string().contains("at least 32"), "{e}");
    }
}
