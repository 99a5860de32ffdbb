//! Fleet input as written: the JSON and CSV forms, and the errors a fleet can raise.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::num::{de_opt_decimal, parse_decimal};
use crate::policy::SelectError;
use crate::terms::VeuKind;

/// Whether a site is running or still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    /// Installed and counted (from its `online_date`, if one is given).
    #[default]
    Operating,
    /// Counted only from its `online_date`.
    Planned,
}

/// One data center site as written in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    /// Site id, unique within the fleet.
    pub id: String,
    /// ISO 3166-1 alpha-2 code of the site's country.
    pub country: String,
    /// Whole TPP installed at the site (instead of `chip` and `quantity`).
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub tpp: Option<Decimal>,
    /// Catalog chip installed at the site (with `quantity`).
    #[serde(default)]
    pub chip: Option<String>,
    /// Number of `chip`s.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// `operating` (default) or `planned`.
    #[serde(default)]
    pub status: Option<SiteStatus>,
    /// First day the site's compute counts.
    #[serde(default)]
    pub online_date: Option<NaiveDate>,
}

/// A fleet as written in the input (JSON, or CSV rows plus the header fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetInput {
    /// Owner of the advanced ICs (the VEU applicant).
    pub owner: String,
    /// Headquarters country of the owner (or of its ultimate parent).
    pub hq: String,
    /// `uveu` or `nveu`.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
    /// The sites.
    pub sites: Vec<SiteInput>,
    /// For CSV input, the line of each site (so errors can name it).
    #[serde(skip)]
    pub lines: Option<Vec<usize>>,
}

/// The fields a CSV fleet gives outside its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHeader {
    /// Owner.
    pub owner: String,
    /// Headquarters country.
    pub hq: String,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
}

/// A fleet that cannot be read or evaluated. Input errors name the field (and CSV line) and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// Input that does not parse or validate.
    #[error("{}{message}", location(.field, *.line))]
    Input {
        /// Field path, e.g. `sites[2].tpp`; empty for syntax errors.
        field: String,
        /// CSV line, when the input is CSV.
        line: Option<usize>,
        /// What is wrong, with the value.
        message: String,
    },
    /// The pinned regime is unknown, or none is in force on the fleet's date (as every other
    /// selection says it: `Policy::select`).
    #[error("{0}")]
    Regime(#[from] SelectError),
    /// The regime has no Data Center VEU section.
    #[error(
        "regime `{0}` has no data center VEU rules (no `veu` section); fleet rules do not apply"
    )]
    NoVeu(String),
    /// The regime has no tiers.
    #[error("regime `{0}` has no country tiers; fleet rules need them")]
    NoTiers(String),
    /// The NVEU schedule does not reach the date.
    #[error("the NVEU schedule of regime `{regime}` does not cover {date}")]
    NoSchedule {
        /// Regime id.
        regime: String,
        /// The date.
        date: NaiveDate,
    },
    /// TPP arithmetic beyond what the engine counts.
    #[error("field `{0}`: TPP total is out of range")]
    Overflow(String),
}

fn location(field: &str, line: Option<usize>) -> String {
    match (line, field.is_empty()) {
        (Some(l), false) => format!("line {l}, field `{field}`: "),
        (Some(l), true) => format!("line {l}: "),
        (None, false) => format!("field `{field}`: "),
        (None, true) => String::new(),
    }
}

pub(super) fn input_err(
    field: impl Into<String>,
    line: Option<usize>,
    message: impl Into<String>,
) -> FleetError {
    FleetError::Input {
        field: field.into(),
        line,
        message: message.into(),
    }
}

/// CSV columns, in the documented order.
pub const CSV_COLUMNS: [&str; 7] = [
    "id",
    "country",
    "tpp",
    "chip",
    "quantity",
    "status",
    "online_date",
];

impl FleetInput {
    /// Parses a JSON fleet. Unknown fields are errors; errors name the field path.
    pub fn from_json(text: &str) -> Result<FleetInput, FleetError> {
        crate::strict_json::parse_document(text, "a fleet")
            .map_err(|plain| input_err(plain.path, None, plain.message))
    }

    /// Parses CSV rows (`id,country,tpp,chip,quantity,status,online_date`; a header line is
    /// required, `id` and `country` are, the other columns may be left out or empty).
    pub fn from_csv(text: &str, header: FleetHeader) -> Result<FleetInput, FleetError> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| input_err("", Some(1), e.to_string()))?
            .clone();
        let mut col: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, h) in headers.iter().enumerate() {
            let Some(&known) = CSV_COLUMNS.iter().find(|c| **c == h) else {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("unknown column `{h}` (columns: {})", CSV_COLUMNS.join(",")),
                ));
            };
            if col.insert(known, i).is_some() {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("column `{h}` appears twice"),
                ));
            }
        }
        for required in ["id", "country"] {
            if !col.contains_key(required) {
                return Err(input_err(
                    "",
                    Some(1),
                    format!("missing column `{required}`"),
                ));
            }
        }
        let mut sites = Vec::new();
        let mut lines = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                input_err("", line, e.to_string())
            })?;
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
            let cell = |name: &str| -> Option<&str> {
                col.get(name)
                    .and_then(|&i| rec.get(i))
                    .filter(|s| !s.is_empty())
            };
            let bad = |name: &str, v: &str, what: &str| {
                input_err(name, Some(line), format!("`{v}` is not {what}"))
            };
            let tpp = match cell("tpp") {
                Some(v) => Some(parse_decimal(v).ok_or_else(|| bad("tpp", v, "a number"))?),
                None => None,
            };
            let quantity = match cell("quantity") {
                Some(v) => Some(
                    v.parse::<i64>()
                        .map_err(|_| bad("quantity", v, "a whole number"))?,
                ),
                None => None,
            };
            let status = match cell("status") {
                None => None,
                Some("operating") => Some(SiteStatus::Operating),
                Some("planned") => Some(SiteStatus::Planned),
                Some(v) => return Err(bad("status", v, "`operating` or `planned`")),
            };
            let online_date = match cell("online_date") {
                Some(v) => Some(
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| bad("online_date", v, "a date (YYYY-MM-DD)"))?,
                ),
                None => None,
            };
            sites.push(SiteInput {
                id: cell("id").unwrap_or_default().to_string(),
                country: cell("country").unwrap_or_default().to_string(),
                tpp,
                chip: cell("chip").map(str::to_string),
                quantity,
                status,
                online_date,
            });
            lines.push(line);
        }
        Ok(FleetInput {
            owner: header.owner,
            hq: header.hq,
            kind: header.kind,
            date: header.date,
            sites,
            lines: Some(lines),
        })
    }

    /// Where site `i`'s `name` field is, for error messages.
    pub(super) fn site_field(&self, i: usize, name: &str) -> (String, Option<usize>) {
        match &self.lines {
            Some(lines) => (name.to_string(), lines.get(i).copied()),
            None => (format!("sites[{i}].{name}"), None),
        }
    }
}
