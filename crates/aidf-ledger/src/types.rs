//! Public value types: timestamps, accounts, ops, results, entries, records.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// The ledger never reads the system clock; every operation takes `now` so
/// that tests (and replays) are deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    /// From seconds since the Unix epoch (saturating).
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }
    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_millis(self) -> i64 {
        self.0
    }
    /// Reads the system clock. Provided for callers (the CLI); the ledger itself never calls it.
    pub fn now_utc() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// What an account limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A country's TPP allocation for a period (`country:MY:2025-2027`).
    CountryAllocation,
    /// Low-processing-performance allowance per consignee (`lpp:<consignee>:2025`).
    Lpp,
    /// National VEU installed base in one country (`nveu:<veu-id>:<CC>`).
    NveuInstalledBase,
    /// TPP authorised by a license (`license:<id>:tpp`).
    LicenseTpp,
    /// Units authorised by a license (`license:<id>:units`).
    LicenseUnits,
    /// Value in US cents a license's shipments may reach: its value plus the shipping tolerance
    /// (`license:<id>:value`).
    LicenseValue,
    /// Cumulative AIA exports per consignee, usually uncapped (`aia:<consignee>`).
    AiaCumulative,
}

/// What an account's integer amounts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountUnit {
    /// Total processing performance.
    Tpp,
    /// Whole chips.
    Units,
    /// US dollars in cents.
    UsdCents,
}

impl AccountKind {
    /// Stable string form stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountKind::CountryAllocation => "country_allocation",
            AccountKind::Lpp => "lpp",
            AccountKind::NveuInstalledBase => "nveu_installed_base",
            AccountKind::LicenseTpp => "license_tpp",
            AccountKind::LicenseUnits => "license_units",
            AccountKind::LicenseValue => "license_value",
            AccountKind::AiaCumulative => "aia_cumulative",
        }
    }
    /// What the account's amounts count: TPP, chips (a license's units) or US cents (a
    /// license's value).
    pub const fn unit(self) -> AmountUnit {
        match self {
            AccountKind::LicenseUnits => AmountUnit::Units,
            AccountKind::LicenseValue => AmountUnit::UsdCents,
            _ => AmountUnit::Tpp,
        }
    }
    /// Parses the stored string form.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "country_allocation" => AccountKind::CountryAllocation,
            "lpp" => AccountKind::Lpp,
            "nveu_installed_base" => AccountKind::NveuInstalledBase,
            "license_tpp" => AccountKind::LicenseTpp,
            "license_units" => AccountKind::LicenseUnits,
            "license_value" => AccountKind::LicenseValue,
            "aia_cumulative" => AccountKind::AiaCumulative,
            other => {
                return Err(LedgerError::InvalidField {
                    field: "account kind",
                    value: other.to_owned(),
                    reason: "expected country_allocation, lpp, nveu_installed_base, license_tpp, license_units, license_value or aia_cumulative",
                });
            }
        })
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Provenance attached to every op and copied onto every history entry it causes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Meta {
    /// The determination that caused this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub determination_id: Option<String>,
    /// Digest of the regulatory regime (policy data) the determination used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub regime_digest: Option<String>,
    /// Free-form annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub memo: Option<serde_json::Value>,
}

impl Meta {
    /// True when no field is set (serialised compactly).
    pub fn is_empty(&self) -> bool {
        self.determination_id.is_none() && self.regime_digest.is_none() && self.memo.is_none()
    }

    /// Meta naming a determination and regime digest.
    pub fn determination(determination_id: &str, regime_digest: &str) -> Self {
        Meta {
            determination_id: Some(determination_id.to_owned()),
            regime_digest: Some(regime_digest.to_owned()),
            memo: None,
        }
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Account {
    /// Account key, e.g. `country:MY:2025-2027`.
    pub key: String,
    /// What it limits.
    pub kind: AccountKind,
    /// Upper bound on posted + pending; `None` = uncapped.
    pub cap: Option<u64>,
    /// Committed amount.
    pub posted: u64,
    /// Amount held by unresolved holds (may include holds that expired but were not yet swept).
    pub pending: u64,
    /// When the account was opened.
    pub created_at: Timestamp,
}

/// Balance of one account, now or as of a past time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Balance {
    /// Cap in force; `None` = uncapped.
    pub cap: Option<u64>,
    /// Committed amount.
    pub posted: u64,
    /// Held amount.
    pub pending: u64,
    /// `cap - posted - pending`, `None` when uncapped.
    pub available: Option<u64>,
}

impl Balance {
    pub(crate) fn new(cap: Option<u64>, posted: u64, pending: u64) -> Self {
        let available = cap.map(|c| c.saturating_sub(posted.saturating_add(pending)));
        Balance {
            cap,
            posted,
            pending,
            available,
        }
    }
}

/// One ledger operation. Every op carries a client-chosen id that makes it idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Place a pending hold; its id (`op_id`) is the pending id used by post/void.
    Reserve {
        /// Op id (also the pending id).
        op_id: String,
        /// Account key.
        account: String,
        /// Amount to hold.
        amount: u64,
        /// When the hold lapses by itself; `None` = never.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<Timestamp>,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
    /// Commit a hold fully (`amount: None`) or partially; the remainder is released.
    Post {
        /// Op id.
        op_id: String,
        /// The reservation's op id.
        pending_id: String,
        /// Amount to commit, at most the held amount.
        amount: Option<u64>,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
    /// Release a hold.
    Void {
        /// Op id.
        op_id: String,
        /// The reservation's op id.
        pending_id: String,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
    /// Lower the posted balance (chips lost, failed, resold); never below 0.
    Attrition {
        /// Op id.
        op_id: String,
        /// Account key.
        account: String,
        /// Amount to remove.
        amount: u64,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
    /// Post directly without a hold (reserve + post in one step).
    Transfer {
        /// Op id.
        op_id: String,
        /// Account key.
        account: String,
        /// Amount to post.
        amount: u64,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
    /// Raise or lower a cap (`None` = uncapped).
    SetCap {
        /// Op id.
        op_id: String,
        /// Account key.
        account: String,
        /// New cap.
        cap: Option<u64>,
        /// Provenance.
        #[serde(default, skip_serializing_if = "Meta::is_empty")]
        meta: Meta,
    },
}

impl Op {
    /// The op's id.
    pub fn op_id(&self) -> &str {
        match self {
            Op::Reserve { op_id, .. }
            | Op::Post { op_id, .. }
            | Op::Void { op_id, .. }
            | Op::Attrition { op_id, .. }
            | Op::Transfer { op_id, .. }
            | Op::SetCap { op_id, .. } => op_id,
        }
    }
    /// Stable name of the op kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Reserve { .. } => "reserve",
            Op::Post { .. } => "post",
            Op::Void { .. } => "void",
            Op::Attrition { .. } => "attrition",
            Op::Transfer { .. } => "transfer",
            Op::SetCap { .. } => "set_cap",
        }
    }
    /// The op's provenance.
    pub fn meta(&self) -> &Meta {
        match self {
            Op::Reserve { meta, .. }
            | Op::Post { meta, .. }
            | Op::Void { meta, .. }
            | Op::Attrition { meta, .. }
            | Op::Transfer { meta, .. }
            | Op::SetCap { meta, .. } => meta,
        }
    }
}

/// What an op did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OpResult {
    /// A hold was placed.
    Reserved {
        /// The pending id (= op id).
        pending_id: String,
        /// Amount held.
        amount: u64,
        /// Expiry of the hold.
        expires_at: Option<Timestamp>,
    },
    /// A hold was committed.
    Posted {
        /// The hold.
        pending_id: String,
        /// Amount committed.
        amount_posted: u64,
        /// Remainder released.
        amount_released: u64,
    },
    /// A hold was released.
    Voided {
        /// The hold.
        pending_id: String,
        /// Amount released.
        amount_released: u64,
    },
    /// Posted balance was lowered.
    Attrited {
        /// Amount removed.
        amount: u64,
    },
    /// Posted directly.
    Transferred {
        /// Amount posted.
        amount: u64,
    },
    /// Cap changed.
    CapSet {
        /// Previous cap.
        old_cap: Option<u64>,
        /// New cap.
        new_cap: Option<u64>,
    },
}

/// The outcome of one successful op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Applied {
    /// The op id.
    pub op_id: String,
    /// The account it touched.
    pub account: String,
    /// The `now` it was applied at.
    pub at: Timestamp,
    /// What it did.
    pub result: OpResult,
    /// Account balance right after the op (in the op's transaction).
    pub balance_after: Balance,
    /// True when this call was an idempotent replay of an earlier success.
    #[serde(skip)]
    pub replayed: bool,
}

/// Kind of a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Account opened (carries the initial cap).
    Open,
    /// Cap changed (carries the new cap).
    Cap,
    /// Hold placed (+pending).
    Reserve,
    /// Hold committed (+posted, -held).
    Post,
    /// Hold released (-pending).
    Void,
    /// Hold lapsed (-pending), dated at its `expires_at`.
    Expire,
    /// Posted lowered (-posted).
    Attrition,
    /// Posted directly (+posted).
    Transfer,
}

impl EntryKind {
    /// Stable string form stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Open => "open",
            EntryKind::Cap => "cap",
            EntryKind::Reserve => "reserve",
            EntryKind::Post => "post",
            EntryKind::Void => "void",
            EntryKind::Expire => "expire",
            EntryKind::Attrition => "attrition",
            EntryKind::Transfer => "transfer",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "open" => EntryKind::Open,
            "cap" => EntryKind::Cap,
            "reserve" => EntryKind::Reserve,
            "post" => EntryKind::Post,
            "void" => EntryKind::Void,
            "expire" => EntryKind::Expire,
            "attrition" => EntryKind::Attrition,
            "transfer" => EntryKind::Transfer,
            other => {
                return Err(LedgerError::Corrupt {
                    what: "entries.kind".into(),
                    detail: other.to_owned(),
                });
            }
        })
    }
}

/// One append-only history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Entry {
    /// Global sequence number (commit order within an account).
    pub seq: i64,
    /// The op that caused it; `None` for lazy expiry sweeps.
    pub op_id: Option<String>,
    /// What happened.
    pub kind: EntryKind,
    /// The account.
    pub account: String,
    /// Signed change of the posted balance.
    pub posted_delta: i64,
    /// Signed change of the pending balance.
    pub pending_delta: i64,
    /// New cap for `open`/`cap` entries (`None` there = uncapped); `None` otherwise.
    pub cap: Option<u64>,
    /// The hold involved, if any.
    pub pending_id: Option<String>,
    /// When it took effect (expiries are dated at the hold's `expires_at`): the recording clock.
    pub at: Timestamp,
    /// The business date of the shipment that caused it (YYYY-MM-DD); none for entries not made
    /// by a shipment, whose business date is the UTC date of `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub business_date: Option<String>,
    /// Provenance.
    pub meta: Meta,
}

/// State of a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    /// Still held.
    Pending,
    /// Committed.
    Posted,
    /// Released.
    Voided,
    /// Lapsed.
    Expired,
}

impl HoldState {
    /// Stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            HoldState::Pending => "pending",
            HoldState::Posted => "posted",
            HoldState::Voided => "voided",
            HoldState::Expired => "expired",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => HoldState::Pending,
            "posted" => HoldState::Posted,
            "voided" => HoldState::Voided,
            "expired" => HoldState::Expired,
            other => {
                return Err(LedgerError::Corrupt {
                    what: "ops.hold_state".into(),
                    detail: other.to_owned(),
                });
            }
        })
    }
}

/// A pending hold (a successful reservation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// Pending id (= reservation op id).
    pub pending_id: String,
    /// Account.
    pub account: String,
    /// Amount held.
    pub amount: u64,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Current state.
    pub state: HoldState,
    /// When it was placed.
    pub at: Timestamp,
    /// Provenance of the reservation.
    pub meta: Meta,
}

/// Whether a license may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Usable within its dates and caps.
    #[default]
    Active,
    /// Suspended by BIS: unusable until reinstated.
    Suspended,
    /// Revoked by BIS: never usable again.
    Revoked,
}

impl LicenseStatus {
    /// The name used in records and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Revoked => "revoked",
        }
    }
}

/// A condition BIS attached to a license (BIS-748P approvals carry them as riders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LicenseCondition {
    /// The end user named on the license may not be changed: a shipment to another consignee is
    /// refused (checked at ship time).
    EndUserUnchanged,
    /// Each export is reported to BIS within `days` days (an obligation added to each shipment,
    /// with its due date).
    ReportWithinDays {
        /// Days after the export.
        days: u32,
    },
    /// Any other condition, as BIS wrote it (shown with each shipment; not checked).
    Text {
        /// The condition's text.
        text: String,
    },
}

/// An export license and its caps. Creating one opens `license:<id>:tpp` and `license:<id>:units`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct License {
    /// License id.
    pub id: String,
    /// Consignee.
    pub consignee: String,
    /// Destination country (ISO 3166-1 alpha-2).
    pub destination_country: String,
    /// Item ids the license covers.
    pub allowed_item_ids: Vec<String>,
    /// Units cap.
    pub units_cap: u64,
    /// TPP cap.
    pub tpp_cap: u64,
    /// Grant date `YYYY-MM-DD`.
    pub granted_on: String,
    /// Expiry date `YYYY-MM-DD`.
    pub expires_on: String,
    /// BIS licensed these exports beyond the destination's allocation: an officer's explicit
    /// override, recorded (and audited) with the license. Shipments under it may pass the
    /// allocation; what passes it is drawn on the allocation's `beyond` account, so the ledger
    /// still shows every TPP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub beyond_allocation: bool,
    /// Active, suspended or revoked (changed only through [`LicenseChange`]s).
    #[serde(default, skip_serializing_if = "is_active")]
    pub status: LicenseStatus,
    /// Conditions BIS attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<LicenseCondition>,
    /// The application it was granted on, if recorded through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub application_id: Option<String>,
    /// The country-allocation account the license drew when it was issued (the regime read the
    /// allocation as consumed on issuance): shipments under it do not draw that account again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub allocation_drawn: Option<String>,
    /// Declared value in USD, an exact decimal string, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub value_usd: Option<String>,
    /// The most its shipments may be worth together, in US cents: the value plus the shipping
    /// tolerance (15 CFR 750.11(b)), set by the service from policy data. The license's value
    /// account (`license:<id>:value`) is created with this cap, and shipments with a value draw
    /// it in their transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub value_cap_cents: Option<u64>,
}

fn is_active(s: &LicenseStatus) -> bool {
    *s == LicenseStatus::Active
}

/// A change to a recorded license (amendment, suspension, reinstatement, revocation): the
/// license as it stands after it, appended as the license's change number `seq` (0-based), in the
/// same transaction as the new caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LicenseChange {
    /// The license after the change (same id).
    pub license: License,
    /// Changes already stored for this license; another writer's change in between is
    /// [`crate::LedgerError::StaleRecord`].
    pub seq: u32,
    /// `amend`, `suspend`, `reinstate` or `revoke` (the audit action is `license.<kind>`).
    pub kind: String,
    /// Business date of the change (`YYYY-MM-DD`).
    pub date: String,
    /// Who recorded it.
    pub actor: String,
    /// Why (free text, may be empty).
    pub reason: String,
}

/// A write of a license application (see `aidf_service::application`): its current state, one
/// dated transition appended as number `seq`, the license it was approved into, and the ops of
/// its allocation hold, in one transaction. The ledger does not know the application's rules; it
/// keeps the record, the transitions append-only, and the ops atomic with them.
#[derive(Debug, Clone, Default)]
pub struct ApplicationWrite {
    /// Application id (record id grammar).
    pub id: String,
    /// Transitions already stored; another writer's transition in between is
    /// [`crate::LedgerError::StaleRecord`].
    pub seq: u32,
    /// The application as it stands after the transition.
    pub body: serde_json::Value,
    /// The transition (dated, with its actor).
    pub transition: serde_json::Value,
    /// The state reached (the audit outcome).
    pub state: String,
    /// A license recorded with the transition (an approval).
    pub license: Option<License>,
    /// Accounts the ops need, opened if absent.
    pub accounts: Vec<AccountSpec>,
    /// Ops (a hold placed, posted or voided), one linked batch.
    pub ops: Vec<Op>,
    /// Balances the application's determination read, compared before anything is written.
    pub expected: Vec<ExpectedBalance>,
    /// Parties of the application, added to the registry if absent.
    pub parties: Vec<Party>,
}

/// An application as stored: its current state and its transitions in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredApplication {
    /// Current state.
    pub body: serde_json::Value,
    /// Every transition, oldest first.
    pub transitions: Vec<serde_json::Value>,
}

impl License {
    /// Key of the license's TPP account.
    pub fn tpp_account(&self) -> String {
        format!("license:{}:tpp", self.id)
    }
    /// Key of the license's units account.
    pub fn units_account(&self) -> String {
        format!("license:{}:units", self.id)
    }
    /// Key of the license's value account (US cents), present when it has a value cap.
    pub fn value_account(&self) -> String {
        format!("license:{}:value", self.id)
    }
}

/// Universal or national validated end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VeuKind {
    /// Universal VEU.
    Uveu,
    /// National VEU.
    Nveu,
}

/// A data-center site of a VEU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct VeuSite {
    /// Site id.
    pub id: String,
    /// Country (ISO alpha-2).
    pub country: String,
}

/// A validated end user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Veu {
    /// VEU id.
    pub id: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Owner name.
    pub owner: String,
    /// Headquarters country (ISO alpha-2).
    pub hq_country: String,
    /// Data-center sites.
    pub sites: Vec<VeuSite>,
}

/// A government-to-government arrangement with a country, effective from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct G2gArrangement {
    /// Country (ISO alpha-2).
    pub country: String,
    /// Effective date `YYYY-MM-DD`.
    pub date: String,
}

/// Outcome of a shipment determination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Authorised; its ops were applied.
    Authorized,
    /// Refused; recorded with no ops.
    #[default]
    Refused,
}

impl ShipmentStatus {
    /// Stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Authorized => "authorized",
            ShipmentStatus::Refused => "refused",
        }
    }
}

/// A recorded shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// Shipment id.
    pub shipment_id: String,
    /// Digest of the determination input.
    pub input_digest: String,
    /// The determination as stored: opaque JSON (the service's answer body), kept as text.
    pub determination: crate::JsonText,
    /// Authorised or refused.
    pub status: ShipmentStatus,
    /// Results of the ops applied with it (empty when refused).
    pub applied: Vec<Applied>,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// The tenant that recorded it (`local` for the CLI; absent on records made before tenants
    /// were stored with shipments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The shipment's business date (YYYY-MM-DD), as opposed to `recorded_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_date: Option<String>,
    /// Recorded more than the back-dating window after its business date, by an officer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backfill: bool,
    /// True when this call returned an earlier record.
    #[serde(skip)]
    pub replayed: bool,
}

/// A party (consignee, end user, ultimate parent) in a tenant's registry. Its id comes from the
/// caller (aidf-core derives it from the normalized name and headquarters), so the same party
/// always has the same id and accounts keyed by it never merge two parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Tenant (`local` for the CLI).
    pub tenant: String,
    /// Stable party id.
    pub id: String,
    /// Name as first given.
    pub name: String,
    /// Name as compared (Unicode-normalized; any script).
    pub normalized_name: String,
    /// Headquarters country (ISO alpha-2).
    pub hq: String,
    /// Ultimate parent's headquarters country, if given.
    #[serde(default)]
    pub parent_hq: Option<String>,
}

impl Party {
    /// Record id in the registry: tenant and party id.
    pub fn record_id(&self) -> String {
        format!("{}/{}", self.tenant, self.id)
    }
}

/// An account a shipment needs, opened in the shipment's transaction if it does not exist, its
/// cap set if it differs (a G2G arrangement doubles a country cap; the NVEU schedule steps up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// Key.
    pub key: String,
    /// Kind.
    pub kind: AccountKind,
    /// Cap (none: uncapped).
    pub cap: Option<u64>,
}

/// A balance a determination read: the write fails with `BalanceMoved` unless it is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedBalance {
    /// Key.
    pub key: String,
    /// The value read: posted + pending of live holds, or posted alone when `posted_only`.
    pub used: u64,
    /// Compare the posted total only (installed bases, cumulative totals).
    pub posted_only: bool,
}

/// What an officer decided about a possible hit of a party on a list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartyDecision {
    /// The party is not the listed one: the hit no longer holds the transaction.
    NotTheSameParty,
    /// The party is the listed one: the hit counts as a clear hit.
    SameParty,
}

impl PartyDecision {
    /// The stored spelling (`not_the_same_party`, `same_party`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartyDecision::NotTheSameParty => "not_the_same_party",
            PartyDecision::SameParty => "same_party",
        }
    }
}

/// An officer's decision on a possible screening hit, per tenant (schema 8). Decisions are
/// append-only: a later one for the same tenant, party key and list entry supersedes the earlier
/// ones. The ledger keeps them; what they mean for a screening is `aidf_service`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ScreeningDecision {
    /// Its record id (set by the ledger: see `LedgerStore::record_screening_decision`).
    pub id: String,
    /// Tenant (record id grammar).
    pub tenant: String,
    /// The party's name as screened.
    pub party: String,
    /// The party's normalized name (the key decisions are found by).
    pub party_key: String,
    /// The list's short code (`EL`, `SDN`, …).
    pub list: String,
    /// The entry's id on that list.
    pub entry_id: String,
    /// Digest of the entry's content when the decision was made.
    pub entry_fingerprint: String,
    /// The decision.
    pub decision: PartyDecision,
    /// Why (required).
    pub reason: String,
    /// Who decided.
    pub by: String,
    /// When it was recorded (set by the ledger).
    pub at: Timestamp,
    /// Its number among the decisions on the same key, from 0 (set by the ledger).
    pub seq: u32,
}

/// A tenant's screening thresholds (schema 8), as exact decimal texts; append-only, the latest
/// applies. The ledger checks only that they are given; their meaning is `aidf_service`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreeningThresholds {
    /// Tenant (record id grammar).
    pub tenant: String,
    /// Clear-hit threshold, as written.
    pub clear: String,
    /// Possible-hit threshold, as written.
    pub possible: String,
    /// Who set them.
    pub by: String,
    /// When they were recorded (set by the ledger).
    pub at: Timestamp,
    /// Their number among the tenant's settings, from 0 (set by the ledger).
    pub seq: u32,
}
