//! `aidf ship`, `aidf ledger …`, `aidf license …`, `aidf veu …`, `aidf g2g …`: the ledger at the
//! command line. `--db` takes a SQLite path (default `./aidf.db`) or a `postgres://` URL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aidf_core::explain::thousands;
use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::audit::{AuditContext, Auditor};
use aidf_ledger::{AccountKind, Ledger, LedgerStore, Meta, Timestamp};
use aidf_service::records::{self, LicenseDraft, RecordError, RecordField, SiteDraft, VeuDraft};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::json;

use crate::cmd::{PostureArg, print, read_input};
use crate::ledger_view;

pub use aidf_service::LOCAL_TENANT;

/// A ledger opened by the CLI: its writes are audited with actor `local:<user>` (the outbox row
/// commits with each write), and the outbox is chained and the head signed (checkpoint and
/// anchor) when it is dropped, before the command exits.
pub struct CliLedger {
    ledger: Ledger,
    auditor: Auditor,
}

impl std::ops::Deref for CliLedger {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        &self.ledger
    }
}

impl std::ops::DerefMut for CliLedger {
    fn deref_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }
}

impl CliLedger {
    /// Chains the outbox now; the error says why it could not.
    pub fn chain(&mut self) -> Result<usize> {
        self.auditor
            .drain(&mut self.ledger)
            .context("chaining the audit outbox")
    }

    /// The audit key and anchor.
    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }
}

impl Drop for CliLedger {
    fn drop(&mut self) {
        if let Err(e) = self.chain() {
            eprintln!(
                "warning: {e:#}; the records stay in the outbox and are chained by the next opener"
            );
        }
    }
}

/// Environment variable naming the audit key file (as `--audit-key-file` does).
const KEY_FILE_ENV: &str = "AIDF_AUDIT_KEY_FILE";

/// The audit key: `AIDF_AUDIT_KEY`, else `key_file` (or `AIDF_AUDIT_KEY_FILE`), else the key
/// file next to the ledger, created if missing (said on stderr).
pub fn auditor(db: &str, key_file: Option<&Path>) -> Result<Auditor> {
    let env_file = std::env::var_os(KEY_FILE_ENV).map(PathBuf::from);
    let file = key_file.map(Path::to_path_buf).or(env_file);
    let (auditor, note) = Auditor::open(db, file.as_deref())
        .with_context(|| "option `--audit-key-file`: cannot load the audit key")?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(auditor)
}

/// Opens the ledger for the CLI (see [`CliLedger`]).
/// For a command that only reads: refuses a SQLite ledger file that does not exist, so a
/// mistyped `--db` is an error instead of a new, empty ledger (and audit key) that answers "no
/// records". PostgreSQL URLs name a database that exists or fails to connect.
pub fn must_exist(db: &str) -> Result<()> {
    let url = db.starts_with("postgres://") || db.starts_with("postgresql://");
    if !url && !Path::new(db).exists() {
        bail!(
            "{}: `{db}` does not exist; a command that only reads does not create a ledger",
            crate::config::db_origin(db)
        );
    }
    Ok(())
}

pub fn open(db: &str) -> Result<CliLedger> {
    open_with_key(db, None)
}

/// Opens the ledger for the CLI with an explicit audit key file.
pub fn open_with_key(db: &str, key_file: Option<&Path>) -> Result<CliLedger> {
    let mut ledger =
        Ledger::open(db).with_context(|| format!("option `--db`: cannot open ledger `{db}`"))?;
    ledger.set_audit_context(AuditContext::local_user());
    let auditor = auditor(db, key_file)?;
    Ok(CliLedger { ledger, auditor })
}

fn pretty(v: &impl serde::Serialize) -> Result<()> {
    print(&(serde_json::to_string_pretty(v)? + "\n"))
}

fn parse_time(field: &str, s: &str) -> Result<Timestamp> {
    let date = s
        .parse::<NaiveDate>()
        .with_context(|| format!("option `{field}`: `{s}` is not a date (YYYY-MM-DD)"))?;
    let end = date
        .and_hms_opt(23, 59, 59)
        .context("date out of range")?
        .and_utc();
    Ok(Timestamp(end.timestamp_millis()))
}

/// Determines and records one shipment.
pub fn ship(
    policy: &Policy,
    file: &Path,
    db: &str,
    id: Option<String>,
    posture: Option<PostureArg>,
    json: bool,
) -> Result<aidf_ledger::ShipmentStatus> {
    let text = read_input(file)?;
    let input = DeterminationInput::from_json(&text)?;
    let now = Timestamp::now_utc();
    let id = id.unwrap_or_else(aidf_service::new_shipment_id);
    aidf_ledger::validate_op_id(&id).map_err(|e| anyhow::anyhow!("option `--id`: {e}"))?;
    let config = aidf_service::ShipConfig {
        posture: crate::config::posture(posture).into(),
        ..aidf_service::ShipConfig::default()
    };
    let mut ledger = open(db)?;
    let request = aidf_service::ShipRequest {
        input: &input,
        shipment_id: &id,
        tenant: LOCAL_TENANT,
        record_prefix: "",
        // The local user owns the ledger file: an officer, whose back-dated shipments are
        // recorded and marked as backfill.
        may_backfill: true,
        now,
    };
    let out = aidf_service::ship(ledger.store(), policy, &config, &request)?;
    if json {
        // The HTTP answer carries `replayed` in a header; the CLI's JSON says it in the body.
        let mut v = serde_json::to_value(&out)?;
        v["replayed"] = json!(out.replayed);
        pretty(&v)?;
        return Ok(out.status);
    }
    let kinds = entry_kinds(ledger.store(), &out)?;
    print(&outcome_text(&out, &kinds))?;
    Ok(out.status)
}

/// The kind of each account a shipment's entries touched, so its amounts read in their unit.
pub fn entry_kinds(
    store: &mut dyn LedgerStore,
    out: &aidf_service::ShipOutcome,
) -> Result<HashMap<String, AccountKind>> {
    let mut kinds = HashMap::new();
    for e in &out.entries {
        if !kinds.contains_key(&e.account) {
            kinds.insert(e.account.clone(), store.account(&e.account)?.kind);
        }
    }
    Ok(kinds)
}

/// A recorded shipment as `aidf ship` prints it (also `aidf shipments show`).
pub fn outcome_text(
    out: &aidf_service::ShipOutcome,
    kinds: &HashMap<String, AccountKind>,
) -> String {
    let d = &out.determination_value();
    let mut s = format!(
        "Shipment {}: {}{}\nAuthorization: {} (review policy: {})\nTotal TPP: {}\n",
        out.shipment_id,
        out.status.as_str().to_uppercase(),
        if out.replayed {
            " (recorded earlier)"
        } else {
            ""
        },
        d["authorization"].as_str().unwrap_or("?"),
        d["review_policy"].as_str().unwrap_or("none"),
        d["total_tpp"]
            .as_u64()
            .map_or_else(|| d["total_tpp"].to_string(), |t| thousands(t.into()))
    );
    if let Some(l) = &out.license_id {
        s += &format!("License drawn: {l}\n");
    }
    if let Some(r) = &out.refusal {
        s += &format!("Refused: {r}\n");
    }
    if out.backfill {
        s += "Backfill: recorded after its business date, outside the back-dating window\n";
    }
    if let Some(screening) = &out.screening {
        s += &crate::render::shipment_screening(&screening.to_value());
    }
    for n in &out.notes {
        s += &format!("Note: {n}\n");
    }
    // The same explanation `aidf check` gives: the rules that decided it, with citations.
    let list = |key: &str| d[key].as_array().cloned().unwrap_or_default();
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    s += &format!(
        "Regime: {} ({}, {}) {}\nWhy:\n",
        text(&d["regime"], "id"),
        text(&d["regime"], "posture"),
        text(&d["regime"], "date"),
        text(&d["regime"], "digest")
    );
    for (i, r) in list("reasons").iter().enumerate() {
        s += &format!(
            "  {}. {} [{}; {}]\n",
            i + 1,
            text(r, "detail"),
            text(r, "rule"),
            text(r, "citation")
        );
    }
    for o in list("obligations") {
        s += &format!(
            "  obligation: {} [{}]\n",
            text(&o, "detail"),
            text(&o, "citation")
        );
    }
    for a in list("assumptions") {
        s += &format!(
            "  assumption: {} = {}: {}\n",
            text(&a, "switch"),
            text(&a, "value"),
            text(&a, "detail")
        );
    }
    s += if out.entries.is_empty() {
        "Ledger entries: none\n"
    } else {
        "Ledger entries:\n"
    };
    for e in &out.entries {
        let kind = kinds
            .get(&e.account)
            .copied()
            .unwrap_or(AccountKind::CountryAllocation);
        let b = &e.balance_after;
        s += &format!(
            "  {} on {}: posted {} pending {} cap {} {}\n",
            e.op_id,
            e.account,
            ledger_view::amount(kind, b.posted),
            ledger_view::amount(kind, b.pending),
            b.cap
                .map(|c| ledger_view::amount(kind, c))
                .unwrap_or_else(|| "none".into()),
            ledger_view::unit_name(kind),
        );
    }
    s
}

/// `aidf ledger …`
#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// List accounts with caps and balances.
    Accounts,
    /// One account's balance, now or at the end of a past date.
    Balance {
        /// Account key, e.g. `country:MY:2025-2027`.
        key: String,
        /// Balance at the end of this business date: shipments dated on or before it (whenever
        /// they were recorded), other entries recorded by then.
        #[arg(long, conflicts_with = "recorded_as_of")]
        as_of: Option<String>,
        /// Balance as recorded by the end of this date (the recording clock).
        #[arg(long)]
        recorded_as_of: Option<String>,
    },
    /// Move consignee accounts recorded before tenants and party ids (`lpp:MY:acme:2025`) to
    /// the accounts shipments draw on today, shipment by shipment; prints what moved and what
    /// no recorded shipment explains. Idempotent.
    UpgradeKeys,
    /// One account's history (append-only).
    History {
        /// Account key.
        key: String,
    },
    /// Place a hold on an account.
    Reserve {
        /// Client-supplied op id (idempotency key; also the pending id).
        op_id: String,
        /// Account key.
        account: String,
        /// TPP to hold.
        amount: u64,
        /// Hold expiry, in seconds from now.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Commit a hold, fully or partially.
    Post {
        /// Client-supplied op id.
        op_id: String,
        /// The reservation's op id.
        pending_id: String,
        /// Amount to commit (default: all).
        #[arg(long)]
        amount: Option<u64>,
    },
    /// Release a hold.
    Void {
        /// Client-supplied op id.
        op_id: String,
        /// The reservation's op id.
        pending_id: String,
    },
    /// Record attrition (chips lost, failed, resold) on an installed-base account.
    Attrition {
        /// Client-supplied op id.
        op_id: String,
        /// Account key.
        account: String,
        /// TPP removed.
        amount: u64,
    },
}

/// Runs `aidf ledger …`.
pub fn ledger(policy: &Policy, db: &str, action: LedgerAction, json: bool) -> Result<()> {
    if matches!(
        action,
        LedgerAction::Accounts | LedgerAction::Balance { .. } | LedgerAction::History { .. }
    ) {
        must_exist(db)?;
    }
    let mut ledger = open(db)?;
    let store = ledger.store();
    let now = Timestamp::now_utc();

    let manual = || Meta {
        determination_id: None,
        regime_digest: None,
        memo: Some(json!({"source": "aidf ledger (manual)"})),
    };
    match action {
        LedgerAction::Accounts => {
            let accounts = store.accounts()?;
            show(json, &accounts, || ledger_view::accounts(&accounts))
        }
        LedgerAction::Balance {
            key,
            as_of,
            recorded_as_of,
        } => {
            let balance = match (&as_of, &recorded_as_of) {
                (Some(d), _) => {
                    parse_time("--as-of", d)?;
                    store.balance_on(&key, d)?
                }
                (None, Some(d)) => store.balance(&key, Some(parse_time("--recorded-as-of", d)?))?,
                (None, None) => store.balance(&key, None)?,
            };
            let when = as_of
                .as_ref()
                .map(|d| format!("business date {d}"))
                .or_else(|| recorded_as_of.as_ref().map(|d| format!("recorded by {d}")));
            let value = json!({
                "key": key,
                "as_of": as_of,
                "recorded_as_of": recorded_as_of,
                "balance": balance,
            });
            let kind = store.account(&key)?.kind;
            show(json, &value, || {
                ledger_view::balance(&key, kind, when, &balance)
            })
        }
        LedgerAction::History { key } => {
            let entries = store.history(&key)?;
            let kind = store.account(&key)?.kind;
            show(json, &entries, || ledger_view::history(kind, &entries))
        }
        LedgerAction::UpgradeKeys => pretty(&aidf_service::upgrade::rekey_legacy_accounts(
            store, policy, now,
        )?),
        LedgerAction::Reserve {
            op_id,
            account,
            amount,
            expires_in,
        } => {
            let exp = expires_in.map(|s| Timestamp(now.0 + (s as i64) * 1_000));
            let a = store.reserve(&op_id, &account, amount, exp, manual(), now)?;
            applied(store, json, &a)
        }
        LedgerAction::Post {
            op_id,
            pending_id,
            amount,
        } => {
            let a = store.post(&op_id, &pending_id, amount, manual(), now)?;
            applied(store, json, &a)
        }
        LedgerAction::Void { op_id, pending_id } => {
            let a = store.void(&op_id, &pending_id, manual(), now)?;
            applied(store, json, &a)
        }
        LedgerAction::Attrition {
            op_id,
            account,
            amount,
        } => {
            let a = aidf_service::records::record_attrition(
                store,
                &op_id,
                &account,
                amount,
                manual(),
                now,
            )?;
            applied(store, json, &a)
        }
    }
}

/// JSON with `--json`, else the human text.
fn show(json: bool, value: &impl serde::Serialize, text: impl FnOnce() -> String) -> Result<()> {
    if json { pretty(value) } else { print(&text()) }
}

/// A manual op's result, its amounts in the unit of the account it touched.
fn applied(store: &mut dyn LedgerStore, json: bool, a: &aidf_ledger::Applied) -> Result<()> {
    let kind = store.account(&a.account)?.kind;
    show(json, a, || ledger_view::applied(a, kind))
}

/// `aidf license …`
#[derive(Debug, Subcommand)]
pub enum LicenseAction {
    /// Record a license granted by BIS.
    Add(LicenseAddArgs),
    /// List licenses.
    List,
    /// Show one license with its balances and changes.
    Show {
        /// License id.
        id: String,
    },
    /// Amend a license: caps, expiry or conditions (a dated, audited change).
    Amend {
        /// License id.
        id: String,
        /// New units cap.
        #[arg(long)]
        units: Option<u64>,
        /// New TPP cap.
        #[arg(long)]
        tpp: Option<u64>,
        /// New expiry.
        #[arg(long)]
        expires: Option<NaiveDate>,
        /// New conditions (JSON array, replaces the old ones).
        #[arg(long)]
        conditions: Option<PathBuf>,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Suspend a license (unusable until reinstated).
    Suspend {
        /// License id.
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Reinstate a suspended license.
    Reinstate {
        /// License id.
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Revoke a license (final).
    Revoke {
        /// License id.
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
}

/// `aidf license add`: a license as the officer gives it, checked by the service.
#[derive(Debug, clap::Args)]
pub struct LicenseAddArgs {
    /// License id.
    pub id: String,
    /// Consignee name (as in shipment inputs).
    #[arg(long)]
    pub consignee: String,
    /// Destination country.
    #[arg(long)]
    pub destination: String,
    /// Catalog item ids covered (repeat; none = any item).
    #[arg(long = "item")]
    pub items: Vec<String>,
    /// Units cap.
    #[arg(long)]
    pub units: u64,
    /// TPP cap.
    #[arg(long)]
    pub tpp: u64,
    /// Grant date (YYYY-MM-DD).
    #[arg(long)]
    pub granted: String,
    /// Expiry date (YYYY-MM-DD), on or after the grant date.
    #[arg(long)]
    pub expires: String,
    /// BIS granted it beyond the destination's country allocation: shipments under it may
    /// pass the allocation, the excess drawn on `country-beyond:…` (an explicit, audited
    /// override).
    #[arg(long)]
    pub beyond_allocation: bool,
}

impl From<LicenseAddArgs> for LicenseDraft {
    fn from(a: LicenseAddArgs) -> LicenseDraft {
        LicenseDraft {
            id: a.id,
            consignee: a.consignee,
            destination: a.destination,
            items: a.items,
            units: a.units,
            tpp: a.tpp,
            granted: a.granted,
            expires: a.expires,
            beyond_allocation: a.beyond_allocation,
        }
    }
}

/// Date and reason of a license change.
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Date of the change.
    #[arg(long)]
    date: NaiveDate,
    /// Why (what BIS said).
    #[arg(long, default_value = "")]
    reason: String,
}

/// Runs `aidf license amend|suspend|reinstate|revoke`.
fn change(db: &str, action: LicenseAction, json: bool) -> Result<()> {
    use aidf_service::licenses::{Amendment, ChangeBy, LicenseAction as Change, change_license};
    // Every option (the conditions file too) is read before the ledger is opened, so bad input
    // creates nothing.
    let (id, change, args) = match action {
        LicenseAction::Amend {
            id,
            units,
            tpp,
            expires,
            conditions,
            change,
        } => {
            let conditions = match conditions {
                Some(f) => Some(crate::application_cmd::read_conditions(Some(f))?),
                None => None,
            };
            let a = Amendment {
                units,
                tpp,
                expires_on: expires,
                conditions,
            };
            (id, Change::Amend(a), change)
        }
        LicenseAction::Suspend { id, change } => (id, Change::Suspend, change),
        LicenseAction::Reinstate { id, change } => (id, Change::Reinstate, change),
        LicenseAction::Revoke { id, change } => (id, Change::Revoke, change),
        _ => bail!("not a license change"),
    };
    let mut ledger = open(db)?;
    let actor = AuditContext::local_user().actor;
    let by = ChangeBy {
        record_prefix: "",
        actor: &actor,
        now: Timestamp::now_utc(),
    };
    let l = change_license(ledger.store(), &by, &id, &change, args.date, &args.reason)?;
    show(json, &l, || ledger_view::license_line("changed", &l))
}

/// Runs `aidf license …`.
pub fn license(policy: &Policy, db: &str, action: LicenseAction, json: bool) -> Result<()> {
    match action {
        LicenseAction::List | LicenseAction::Show { .. } => must_exist(db)?,
        LicenseAction::Add(_) => {}
        other => return change(db, other, json),
    }
    let mut ledger = open(db)?;
    let store = ledger.store();
    let now = Timestamp::now_utc();
    match action {
        LicenseAction::Add(args) => {
            let draft = LicenseDraft::from(args);
            let l = records::add_license(store, policy, "", &draft, now).map_err(record_error)?;
            show(json, &l, || ledger_view::license_line("recorded", &l))
        }
        LicenseAction::List => {
            let all = store.licenses()?;
            show(json, &all, || ledger_view::licenses(&all))
        }
        LicenseAction::Show { id } => {
            let l = store
                .license(&id)?
                .with_context(|| format!("argument `ID`: unknown license `{id}`"))?;
            let tpp = store.balance(&l.tpp_account(), None)?;
            let units = store.balance(&l.units_account(), None)?;
            let value_cents = match l.value_cap_cents {
                Some(_) => Some(store.balance(&l.value_account(), None)?),
                None => None,
            };
            let changes = store.license_changes(&id)?;
            let text =
                || ledger_view::license_show(&l, &tpp, &units, value_cents.as_ref(), changes.len());
            let value = json!({"license": l, "tpp": tpp, "units": units,
                "value_cents": value_cents, "changes": changes});
            show(json, &value, text)
        }
        _ => bail!("not a license record or listing"),
    }
}

/// `aidf veu …`
#[derive(Debug, Subcommand)]
pub enum VeuAction {
    /// Record a UVEU or NVEU authorization and its data-center sites.
    Add {
        /// VEU id.
        id: String,
        /// `uveu` or `nveu`.
        #[arg(long)]
        kind: String,
        /// Owner name.
        #[arg(long)]
        owner: String,
        /// Headquarters country.
        #[arg(long)]
        hq: String,
        /// Sites as ID:COUNTRY (repeat).
        #[arg(long = "site")]
        sites: Vec<String>,
    },
    /// List validated end users.
    List,
}

/// Runs `aidf veu …`.
pub fn veu(policy: &Policy, db: &str, action: VeuAction, json: bool) -> Result<()> {
    if matches!(action, VeuAction::List) {
        must_exist(db)?;
    }
    let mut ledger = open(db)?;
    let store = ledger.store();
    match action {
        VeuAction::Add {
            id,
            kind,
            owner,
            hq,
            sites,
        } => {
            let sites = sites
                .iter()
                .enumerate()
                .map(|(i, s)| SiteDraft::parse(i, s));
            let draft = VeuDraft {
                id,
                kind,
                owner,
                hq,
                sites: sites.collect::<Result<_, _>>().map_err(record_error)?,
            };
            let now = Timestamp::now_utc();
            let v = records::add_veu(store, policy, "", &draft, now).map_err(record_error)?;
            show(json, &v, || ledger_view::veus(std::slice::from_ref(&v)))
        }
        VeuAction::List => {
            let all = store.veus()?;
            show(json, &all, || ledger_view::veus(&all))
        }
    }
}

/// A refused license or VEU, its field written as the argument or option that sets it
/// (``option `--item`: unknown chip `x` …``); the ledger's own refusals as they are.
fn record_error(e: RecordError) -> anyhow::Error {
    let Some(field) = e.field() else {
        return e.into();
    };
    let name = match field {
        RecordField::Id => "argument `ID`".to_string(),
        RecordField::Item(_) => "option `--item`".to_string(),
        RecordField::Site(_) | RecordField::SiteId(_) | RecordField::SiteCountry(_) => {
            "option `--site`".to_string()
        }
        other => format!("option `--{other}`"),
    };
    anyhow::anyhow!("{name}: {}", e.detail())
}

/// Records a government-to-government arrangement (a Tier 2 country only).
pub fn g2g(policy: &Policy, db: &str, country: &str, date: NaiveDate, json: bool) -> Result<()> {
    let mut ledger = open(db)?;
    let store = ledger.store();
    let g = aidf_service::records::add_g2g(store, policy, country, date, Timestamp::now_utc())?;
    show(json, &g, || {
        format!(
            "recorded a government-to-government arrangement: {} from {} (its allocation doubles)\n",
            g.country, g.date
        )
    })
}

/// The ledger: `--db`, else `AIDF_DB`, else the config file's, else `./aidf.db` (see `config`).
pub fn db_arg(db: &Option<PathBuf>) -> String {
    crate::config::db(db.as_deref())
}
