//! Reports to BIS built from the ledger (issue 15, item 7): the Data Center VEU semi-annual
//! report, the AIA ultimate-consignee certifications past the reporting trigger, and the LPP
//! consignee certifications of a calendar year. Each report is a table with its period, due
//! date, citation, the regime whose numbers it used and every unconfirmed reading; the CLI and
//! the server render it (text, CSV, JSON). Periods, due dates and titles are data
//! (`policy/reports.toml`).

use aidf_core::regime::Regime;
use aidf_core::{DeterminationInput, Policy, Posture};

use aidf_ledger::{LedgerError, LedgerStore, VeuShipment};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The embedded report definitions.
const REPORTS_TOML: &str = include_str!("../../../policy/reports.toml");

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter is wrong (names it and the value).
    #[error("{message}")]
    Input {
        /// The parameter.
        field: &'static str,
        /// What is wrong, with the value.
        message: String,
    },
    /// The shipment a report names is not the tenant's (or does not exist).
    #[error("shipment `{0}` not found")]
    ShipmentNotFound(String),
    /// The embedded definitions do not parse (a build defect).
    #[error("policy/reports.toml: {0}")]
    Definitions(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Definitions {
    pub(crate) veu_semiannual: VeuDef,
    aia_certifications: PlainDef,
    lpp_certifications: LppDef,
    nac_notification: NacDef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NacDef {
    title: String,
    source: String,
    unconfirmed: String,
    fields: Vec<FieldDef>,
}

/// One field a notification carries: its id (the code fills the value by it), label, citation
/// and the confidence tag of the fact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDef {
    id: String,
    label: String,
    citation: String,
    confidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VeuDef {
    title: String,
    citation: String,
    source: String,
    pub(crate) periods: Vec<PeriodDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeriodDef {
    pub(crate) name: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) due: String,
    pub(crate) due_next_year: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainDef {
    title: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LppDef {
    title: String,
    source: String,
    unconfirmed: String,
}

pub(crate) fn definitions() -> Result<Definitions, ReportError> {
    toml::from_str(REPORTS_TOML).map_err(|e| ReportError::Definitions(e.message().to_string()))
}

/// A report: a table with what a reviewer needs to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// `veu-semiannual`, `aia-certifications`, `lpp-certifications`, `nac-notification`.
    pub name: String,
    /// The tenant whose ledger data it reports.
    pub tenant: String,
    /// Title.
    pub title: String,
    /// The period covered (`2025-H1`, `2025`, or `to 2025-12-31`).
    pub period: String,
    /// When it is due, if the rule says.
    pub due: Option<String>,
    /// Citation of the obligation.
    pub citation: String,
    /// The regime whose numbers it used: id and digest.
    #[schema(value_type = Option<Vec<String>>)]
    pub regime: Option<(String, String)>,
    /// Unconfirmed readings and limits of the data.
    pub notes: Vec<String>,
    /// Column names.
    pub columns: Vec<String>,
    /// Columns holding TPP or counts (a person's rendering groups their digits).
    pub numeric: Vec<usize>,
    /// Rows, values as text (integers without separators).
    pub rows: Vec<Vec<String>>,
}

pub(crate) fn date(
    year: i32,
    month_day: &str,
    field: &'static str,
) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(&format!("{year}-{month_day}"), "%Y-%m-%d")
        .map_err(|_| ReportError::Definitions(format!("{field}: `{month_day}` is not a month-day")))
}

/// The regime in force on `on`, for the numbers and readings a report uses.
fn regime_on(policy: &Policy, on: NaiveDate, posture: Posture) -> Result<&Regime, ReportError> {
    policy
        .select(None, on, posture)
        .map(|s| s.regime)
        .map_err(|e| ReportError::Input {
            field: "period",
            message: e.detail(),
        })
}

fn regime_id(r: &Regime) -> Option<(String, String)> {
    Some((r.spec.id.to_string(), r.digest.to_string()))
}

/// The party behind a consignee account `{prefix}{party}{suffix}`: its name and HQ.
fn party(
    store: &mut dyn LedgerStore,
    tenant: &str,
    party_id: &str,
) -> Result<(String, String), ReportError> {
    Ok(store.party(&format!("{tenant}/{party_id}"))?.map_or_else(
        || {
            (
                format!("(party {party_id} not in the registry)"),
                String::new(),
            )
        },
        |p| (p.name, p.hq),
    ))
}

/// The reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportName {
    /// Data Center VEU semi-annual report (period `YYYY-H1`/`YYYY-H2`).
    VeuSemiannual,
    /// AIA consignees past the reporting trigger (as of a date).
    AiaCertifications,
    /// LPP consignees of a calendar year (period `YYYY`).
    LppCertifications,
    /// The content of a License Exception NAC notification for a recorded or prospective
    /// shipment.
    NacNotification,
}

impl ReportName {
    /// Every report, by name.
    pub const ALL: [(&'static str, ReportName); 4] = [
        ("veu-semiannual", ReportName::VeuSemiannual),
        ("aia-certifications", ReportName::AiaCertifications),
        ("lpp-certifications", ReportName::LppCertifications),
        ("nac-notification", ReportName::NacNotification),
    ];

    /// The report named `s` (`_` for `-`, any case).
    pub fn parse(s: &str) -> Option<ReportName> {
        let s = s.to_ascii_lowercase().replace('_', "-");
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
    }
}

/// What a caller asks for: the report, its period or date, the posture whose regime gives the
/// numbers, and today (the default as-of date).
#[derive(Debug, Clone, Copy)]
pub struct ReportRequest<'a> {
    /// The report.
    pub name: ReportName,
    /// `YYYY` or `YYYY-H1`/`YYYY-H2`.
    pub period: Option<&'a str>,
    /// The AIA report counts shipments dated up to this date; the NAC notification is sent on
    /// it.
    pub as_of: Option<NaiveDate>,
    /// The NAC notification of this recorded shipment (the tenant's).
    pub shipment: Option<&'a str>,
    /// The NAC notification of this prospective shipment (determined, not recorded).
    pub input: Option<&'a DeterminationInput>,
    /// Posture.
    pub posture: Posture,
    /// Today (UTC).
    pub today: NaiveDate,
}

fn bad_period(message: String) -> ReportError {
    ReportError::Input {
        field: "period",
        message,
    }
}

/// `YYYY` or `YYYY-Hn`: the year and the half, if any.
fn parse_period(period: Option<&str>) -> Result<(i32, Option<&str>), ReportError> {
    let p =
        period.ok_or_else(|| bad_period("this report needs one (e.g. 2025 or 2025-H1)".into()))?;
    let (year, half) = match p.split_once('-') {
        Some((y, h)) => (y, Some(h)),
        None => (p, None),
    };
    let year = year
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| bad_period(format!("`{p}` does not start with a year")))?;
    Ok((year, half))
}

/// Builds the report `req` names for `tenant`.
pub fn build(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    req: &ReportRequest<'_>,
) -> Result<Report, ReportError> {
    match req.name {
        ReportName::AiaCertifications => {
            let as_of = req.as_of.unwrap_or(req.today);
            aia_certifications(store, policy, tenant, as_of, req.posture)
        }
        ReportName::LppCertifications => match parse_period(req.period)? {
            (year, None) => lpp_certifications(store, policy, tenant, year, req.posture),
            (_, Some(_)) => Err(bad_period(
                "the LPP report covers a calendar year (e.g. 2025)".into(),
            )),
        },
        ReportName::NacNotification => nac_notification(store, policy, tenant, req),
        ReportName::VeuSemiannual => match parse_period(req.period)? {
            (year, Some(half)) => veu_semiannual(store, policy, tenant, year, half, req.posture),
            (_, None) => Err(bad_period(
                "the VEU report covers a half year (e.g. 2025-H1)".into(),
            )),
        },
    }
}

/// The AIA consignees whose cumulative TPP reached the reporting trigger by `as_of` (the regime
/// in force on that date gives the trigger).
pub fn aia_certifications(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    as_of: NaiveDate,
    posture: Posture,
) -> Result<Report, ReportError> {
    let def = definitions()?.aia_certifications;
    let regime = regime_on(policy, as_of, posture)?;
    let mut report = Report {
        name: "aia-certifications".into(),
        tenant: tenant.to_string(),
        title: def.title,
        period: format!("to {as_of}"),
        due: Some("before the first shipment past the trigger".into()),
        citation: String::new(),
        regime: regime_id(regime),
        notes: vec![format!("source: {}", def.source)],
        columns: [
            "consignee",
            "hq",
            "party_id",
            "cumulative_tpp",
            "trigger_tpp",
            "reached_on",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![3, 4],
        rows: Vec::new(),
    };
    let (Some(aia), Some(trigger)) = (
        &regime.spec.aia,
        &regime.spec.switches.aia_reporting_trigger_tpp,
    ) else {
        report.notes.push(format!(
            "regime `{}` has no AIA reporting trigger: nothing to report",
            regime.spec.id
        ));
        return Ok(report);
    };
    report.citation = aia.reporting_citation.to_string();
    report.notes.push(format!(
        "[{}] aia_reporting_trigger_tpp = {}: {}",
        trigger.confidence, trigger.value, trigger.note
    ));
    let prefix = format!("aia:{tenant}@");
    for a in store.accounts()? {
        let Some(party_id) = a.key.strip_prefix(&prefix) else {
            continue;
        };
        let reached = reached_on(store, &a.key, trigger.value, as_of)?;
        let Some((cumulative, on)) = reached else {
            continue;
        };
        let (name, hq) = party(store, tenant, party_id)?;
        report.rows.push(vec![
            name,
            hq,
            party_id.to_string(),
            cumulative.to_string(),
            trigger.value.to_string(),
            on,
        ]);
    }
    Ok(report)
}

/// The cumulative posted TPP of `key` by `as_of` and the business date it reached `trigger`
/// (`>=`, the regime's reading), if it did.
fn reached_on(
    store: &mut dyn LedgerStore,
    key: &str,
    trigger: u64,
    as_of: NaiveDate,
) -> Result<Option<(u64, String)>, ReportError> {
    let mut total: u64 = 0;
    let mut reached = None;
    let as_of = as_of.to_string();
    for e in store.history(key)? {
        let on = e.business_date.clone().unwrap_or_default();
        if !on.is_empty() && on > as_of {
            continue;
        }
        total = total.saturating_add_signed(e.posted_delta);
        if reached.is_none() && total >= trigger {
            reached = Some(on);
        }
    }
    Ok(reached.map(|on| (total, on)))
}

/// Every consignee that received TPP under LPP in `year`, with its total against the limit.
pub fn lpp_certifications(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    year: i32,
    posture: Posture,
) -> Result<Report, ReportError> {
    let def = definitions()?.lpp_certifications;
    let end = date(year, "12-31", "year")?;
    let regime = regime_on(policy, end, posture)?;
    let limit = regime.spec.lpp.as_ref().map(|l| l.tpp_per_consignee_year);
    let mut report = Report {
        name: "lpp-certifications".into(),
        tenant: tenant.to_string(),
        title: def.title,
        period: year.to_string(),
        due: Some("before each shipment under LPP (obtained from the consignee)".into()),
        citation: regime
            .spec
            .lpp
            .as_ref()
            .map(|l| l.citation.to_string())
            .unwrap_or_default(),
        regime: regime_id(regime),
        notes: vec![
            format!("source: {}", def.source),
            format!("[U] {}", def.unconfirmed),
        ],
        columns: [
            "consignee",
            "hq",
            "party_id",
            "received_tpp",
            "limit_tpp",
            "remaining_tpp",
            "draws",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![3, 4, 5, 6],
        rows: Vec::new(),
    };
    let prefix = format!("lpp:{tenant}@");
    let suffix = format!(":{year}");
    for a in store.accounts()? {
        let Some(party_id) = a
            .key
            .strip_prefix(&prefix)
            .and_then(|k| k.strip_suffix(&suffix))
        else {
            continue;
        };
        let draws = store
            .history(&a.key)?
            .iter()
            .filter(|e| e.posted_delta > 0)
            .count();
        let (name, hq) = party(store, tenant, party_id)?;
        let limit_text = limit.map_or_else(String::new, |l| l.to_string());
        let remaining = limit.map_or_else(String::new, |l| l.saturating_sub(a.posted).to_string());
        report.rows.push(vec![
            name,
            hq,
            party_id.to_string(),
            a.posted.to_string(),
            limit_text,
            remaining,
            draws.to_string(),
        ]);
    }
    Ok(report)
}

/// The Data Center VEU report of a half year (`H1`, `H2`): every authorized shipment under a
/// UVEU or NVEU with its business date in the period.
pub fn veu_semiannual(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    year: i32,
    half: &str,
    posture: Posture,
) -> Result<Report, ReportError> {
    let def = definitions()?.veu_semiannual;
    let period = def
        .periods
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(half))
        .ok_or_else(|| ReportError::Input {
            field: "period",
            message: format!(
                "`{year}-{half}`: the half year is one of {}",
                def.periods
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let (from, to) = (
        date(year, &period.from, "from")?,
        date(year, &period.to, "to")?,
    );
    let due_year = if period.due_next_year { year + 1 } else { year };
    let regime = regime_on(policy, to, posture)?;
    let mut report = Report {
        name: "veu-semiannual".into(),
        tenant: tenant.to_string(),
        title: def.title,
        period: format!("{year}-{} ({from} to {to})", period.name),
        due: Some(date(due_year, &period.due, "due")?.to_string()),
        citation: def.citation,
        regime: regime_id(regime),
        notes: vec![
            format!("source: {}", def.source),
            "NVEUs also list their current customers: the ledger does not record them; add them to the report".into(),
            "value: the ledger does not record a shipment's value; add it from the invoice".into(),
        ],
        columns: ["business_date", "shipment_id", "authorization", "veu", "consignee", "destination", "item", "eccn", "quantity", "total_tpp"]
            .map(String::from)
            .to_vec(),
        numeric: vec![8, 9],
        rows: Vec::new(),
    };
    // The narrow rows of schema 7: no stored shipment is decoded.
    let shipments = store.veu_shipments(tenant, &from.to_string(), &to.to_string())?;
    report.rows = shipments.iter().map(|s| veu_row(s, tenant)).collect();
    report.rows.sort();
    Ok(report)
}

/// The report's row of an authorized shipment under a VEU.
fn veu_row(s: &VeuShipment, tenant: &str) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let number = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let local = s
        .shipment_id
        .strip_prefix(&format!("{tenant}."))
        .unwrap_or(&s.shipment_id);
    vec![
        s.business_date.clone(),
        local.to_string(),
        s.authorization.clone(),
        text(&s.veu_id),
        text(&s.consignee),
        text(&s.destination),
        text(&s.item),
        text(&s.eccn),
        number(s.quantity),
        number(s.total_tpp),
    ]
}

/// The stored answer of a recorded shipment, or the answer of a prospective one (its input
/// determined with the core, nothing recorded): `{"input": …, "determination": …}`.
fn nac_subject(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    req: &ReportRequest<'_>,
) -> Result<(String, serde_json::Value), ReportError> {
    let both = "give a recorded shipment (shipment) or a prospective one (input), not both";
    match (req.shipment, req.input) {
        (Some(id), None) => {
            let s = crate::register::owned(store, tenant, id).map_err(|e| match e {
                crate::register::RegisterError::NotFound { .. } => {
                    ReportError::ShipmentNotFound(id.to_string())
                }
                other => ReportError::Definitions(other.to_string()),
            })?;
            Ok((format!("shipment {id}"), s.determination.to_value()))
        }
        (None, Some(input)) => {
            let d = aidf_core::determine(policy, input).map_err(|e| ReportError::Input {
                field: "input",
                message: e.to_string(),
            })?;
            let body = serde_json::json!({"input": input, "determination": d});
            Ok((format!("prospective shipment of {}", input.date), body))
        }
        (None, None) => Err(ReportError::Input {
            field: "shipment",
            message: format!("the NAC notification needs a shipment: {both}"),
        }),
        (Some(_), Some(_)) => Err(ReportError::Input {
            field: "input",
            message: both.into(),
        }),
    }
}

/// Text of a JSON value: strings as they are, numbers and booleans as JSON writes them, none as
/// `—`.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shift(date: NaiveDate, days: i64) -> String {
    date.checked_add_signed(chrono::Duration::days(days))
        .map_or_else(|| "—".into(), |d| d.to_string())
}

/// The value of notification field `id` for the answer `body` (input and determination).
fn nac_value(
    id: &str,
    body: &serde_json::Value,
    notice_days: u32,
    notified_on: NaiveDate,
) -> String {
    let (input, d) = (&body["input"], &body["determination"]);
    let consignee = &input["consignee"];
    let ship_date = input["date"]
        .as_str()
        .and_then(|t| t.parse::<NaiveDate>().ok());
    match id {
        "notification_date" => notified_on.to_string(),
        "waiting_period_days" => notice_days.to_string(),
        "earliest_ship_date" => shift(notified_on, i64::from(notice_days)),
        "notify_by" => ship_date.map_or_else(|| "—".into(), |s| shift(s, -i64::from(notice_days))),
        "item" => format!(
            "{} ({})",
            json_text(&d["item"]["name"]),
            json_text(&d["item"]["chip_id"])
        ),
        "eccn" => json_text(&d["eccn"]),
        "unit_tpp" => json_text(&d["unit_tpp"]),
        "pd" => json_text(&d["item"]["pd"]),
        "datacenter" => json_text(&d["item"]["datacenter"]),
        "quantity" => json_text(&d["quantity"]),
        "total_tpp" => json_text(&d["total_tpp"]),
        "value" => "not recorded by the ledger: state it from the purchase order".into(),
        "consignee" => format!(
            "{}, headquarters {}, ultimate parent {}",
            json_text(&consignee["name"]),
            json_text(&consignee["hq"]),
            json_text(&consignee["parent_hq"])
        ),
        "end_user" => format!(
            "{} (the consignee, as recorded)",
            json_text(&consignee["name"])
        ),
        "destination" => json_text(&d["destination"]),
        "purchase_order" => "required for each shipment under the notification".into(),
        "bis_answer" => format!(
            "within {notice_days} days BIS says whether a license is needed; otherwise the shipment may go on the confirmation number it gives"
        ),
        other => format!("(no value for field `{other}`)"),
    }
}

/// The content of a License Exception NAC notification for a recorded shipment or a prospective
/// one: each field with its value, citation and confidence tag. The waiting period and the
/// exception's citation are those of the regime the determination used.
pub fn nac_notification(
    store: &mut dyn LedgerStore,
    policy: &Policy,
    tenant: &str,
    req: &ReportRequest<'_>,
) -> Result<Report, ReportError> {
    let def = definitions()?.nac_notification;
    let (subject, body) = nac_subject(store, policy, tenant, req)?;
    let regime_id_text = body["determination"]["regime"]["id"]
        .as_str()
        .unwrap_or_default();
    let regime = policy.regime(regime_id_text).ok_or_else(|| {
        ReportError::Definitions(format!("regime `{regime_id_text}` is not in the policy"))
    })?;
    let notified_on = req.as_of.unwrap_or(req.today);
    let mut notes = vec![
        format!("source: {}", def.source),
        format!("[U] {}", def.unconfirmed),
    ];
    let authorization = json_text(&body["determination"]["authorization"]);
    if authorization != aidf_core::Authorization::Nac.as_str() {
        notes.push(format!(
            "the determination is {authorization}, not NAC: License Exception NAC does not authorize this shipment, and no notification applies"
        ));
    }
    let mut report = nac_report(def.title, tenant, subject, regime);
    let Some(nac) = &regime.spec.nac else {
        notes.push(format!(
            "regime `{}` has no License Exception NAC",
            regime.spec.id
        ));
        report.notes = notes;
        return Ok(report);
    };
    let rows = def
        .fields
        .iter()
        .map(|f| {
            if f.confidence == "U" {
                notes.push(format!("[U] field `{}`: {}", f.id, f.citation));
            }
            let citation = if f.citation == "regime [nac]" {
                nac.citation.to_string()
            } else {
                f.citation.clone()
            };
            vec![
                f.label.clone(),
                nac_value(&f.id, &body, nac.notice_days, notified_on),
                citation,
                f.confidence.clone(),
            ]
        })
        .collect();
    report.due = Some(nac_value("notify_by", &body, nac.notice_days, notified_on));
    report.citation = nac.citation.to_string();
    report.notes = notes;
    report.rows = rows;
    Ok(report)
}

/// The notification's report, without rows yet.
fn nac_report(title: String, tenant: &str, period: String, regime: &Regime) -> Report {
    Report {
        name: "nac-notification".into(),
        tenant: tenant.to_string(),
        title,
        period,
        due: None,
        citation: String::new(),
        regime: regime_id(regime),
        notes: Vec::new(),
        columns: ["field", "value", "citation", "confidence"]
            .map(String::from)
            .to_vec(),
        numeric: Vec::new(),
        rows: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger picks the VEU report's rows by the determination's authorization names: they
    /// must be the core's.
    #[test]
    fn the_ledger_knows_the_cores_veu_authorizations() {
        use aidf_core::Authorization;
        assert_eq!(
            aidf_ledger::register::VEU_AUTHORIZATIONS,
            [Authorization::Uveu.as_str(), Authorization::Nveu.as_str()]
        );
    }

    #[test]
    fn the_definitions_parse_and_name_two_halves() {
        let d = definitions().expect("definitions");
        let names: Vec<&str> = d
            .veu_semiannual
            .periods
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["H1", "H2"]);
        for p in &d.veu_semiannual.periods {
            date(2025, &p.from, "from").expect("from");
            date(2025, &p.to, "to").expect("to");
            date(2025, &p.due, "due").expect("due");
        }
    }
}
