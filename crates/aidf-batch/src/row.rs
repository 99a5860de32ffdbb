//! The flat CSV form of the JSON input contract, both ways, and the output row.
//!
//! Every input column maps to one field of the JSON contract (see `docs/batch.md`); an empty cell
//! is an absent (or default) field. A CSV row converts to a [`DeterminationInput`] and back without
//! loss; JSON inputs that use fields with no column (the synthetic-data fields of model weights)
//! are refused by [`input_to_record`], naming the field.

use std::fmt;

use aidf_core::classify::HbmItem;
use aidf_core::input::{
    Consignee, Context, EndUse, Exporter, ItemInput, ModelWeightsInput, Transaction, VeuKind,
    VeuRef,
};
use aidf_core::num::parse_decimal;
use aidf_core::{DeterminationInput, DetermineError, Posture};
use rust_decimal::Decimal;

/// The input columns, in the order `aidf gen` writes them. Any subset may be given, in any
/// order; `date`, `destination`, `consignee_name` and `consignee_hq` are required.
pub const INPUT_COLUMNS: &[&str] = &[
    "id",
    "date",
    "posture",
    "regime",
    "transaction",
    "exporter_name",
    "exporter_hq",
    "destination",
    "consignee_name",
    "consignee_hq",
    "consignee_parent_hq",
    "veu_kind",
    "veu_id",
    "listed",
    "government",
    "end_use",
    "ultimate_destination",
    "chip",
    "tpp",
    "pd",
    "die_area_mm2",
    "datacenter",
    "interconnect_gbs",
    "dram_bandwidth_gbs",
    "hbm_bandwidth_gbs",
    "hbm_area_mm2",
    "hbm_logic_dominant",
    "training_ops",
    "parameters",
    "tokens",
    "weights_published",
    "derived_from_published_ops",
    "floor_ops",
    "quantity",
    "consignee_ytd_tpp",
    "country_allocation_used_tpp",
    "gov_to_gov_agreement",
    "nveu_installed_tpp",
    "consignee_aia_cumulative_tpp",
    "weights_storage_compliant",
];

const REQUIRED: &[&str] = &["date", "destination", "consignee_name", "consignee_hq"];

/// Column indices into [`INPUT_COLUMNS`].
#[allow(missing_docs)]
mod c {
    pub const ID: usize = 0;
    pub const DATE: usize = 1;
    pub const POSTURE: usize = 2;
    pub const REGIME: usize = 3;
    pub const TRANSACTION: usize = 4;
    pub const EXPORTER_NAME: usize = 5;
    pub const EXPORTER_HQ: usize = 6;
    pub const DESTINATION: usize = 7;
    pub const CONSIGNEE_NAME: usize = 8;
    pub const CONSIGNEE_HQ: usize = 9;
    pub const PARENT_HQ: usize = 10;
    pub const VEU_KIND: usize = 11;
    pub const VEU_ID: usize = 12;
    pub const LISTED: usize = 13;
    pub const GOVERNMENT: usize = 14;
    pub const END_USE: usize = 15;
    pub const ULTIMATE: usize = 16;
    pub const CHIP: usize = 17;
    pub const TPP: usize = 18;
    pub const PD: usize = 19;
    pub const DIE_AREA: usize = 20;
    pub const DATACENTER: usize = 21;
    pub const INTERCONNECT: usize = 22;
    pub const DRAM: usize = 23;
    pub const HBM_BW: usize = 24;
    pub const HBM_AREA: usize = 25;
    pub const HBM_LOGIC: usize = 26;
    pub const TRAINING_OPS: usize = 27;
    pub const PARAMETERS: usize = 28;
    pub const TOKENS: usize = 29;
    pub const W_PUBLISHED: usize = 30;
    pub const DERIVED: usize = 31;
    pub const FLOOR: usize = 32;
    pub const QUANTITY: usize = 33;
    pub const YTD: usize = 34;
    pub const ALLOC_USED: usize = 35;
    pub const G2G: usize = 36;
    pub const NVEU_INSTALLED: usize = 37;
    pub const AIA_CUM: usize = 38;
    pub const STORAGE: usize = 39;
    pub const N: usize = 40;
}

/// A bad row: which field, which value, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Column (CSV) or field path (JSON).
    pub field: String,
    /// The value as given (empty when missing).
    pub value: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else if self.value.is_empty() || self.message.contains(&format!("`{}`", self.value)) {
            write!(f, "field `{}`: {}", self.field, self.message)
        } else if let Some(expected) = self.message.strip_prefix("expected ") {
            write!(
                f,
                "field `{}`: `{}` is not {expected}",
                self.field, self.value
            )
        } else {
            write!(
                f,
                "field `{}`: {} (value `{}`)",
                self.field, self.message, self.value
            )
        }
    }
}

impl FieldError {
    /// An error in `field` (a column or JSON path) with the value found.
    pub fn new(field: &str, value: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            value: value.to_string(),
            message: message.into(),
        }
    }
}

/// A header that is not usable: names the column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CSV header: {0}")]
pub struct HeaderError(pub String);

/// Where each known column sits in the file.
#[derive(Debug, Clone)]
pub struct Header {
    pos: [Option<usize>; c::N],
    width: usize,
}

impl Header {
    /// Maps a header record; unknown, duplicate or missing required columns are errors.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, HeaderError> {
        let mut pos = [None; c::N];
        for (i, name) in names.into_iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}');
            let Some(k) = INPUT_COLUMNS.iter().position(|c| *c == name) else {
                return Err(HeaderError(format!(
                    "column {} `{name}` is not a known column (known: {})",
                    i + 1,
                    INPUT_COLUMNS.join(", ")
                )));
            };
            if pos[k].is_some() {
                return Err(HeaderError(format!("column `{name}` appears twice")));
            }
            pos[k] = Some(i);
        }
        for r in REQUIRED {
            let k = INPUT_COLUMNS.iter().position(|c| c == r).unwrap_or(0);
            if pos[k].is_none() {
                return Err(HeaderError(format!("required column `{r}` is missing")));
            }
        }
        Ok(Header::with(pos))
    }

    /// The column at `index` in the file, if it is a known one.
    pub fn name(&self, index: usize) -> Option<&'static str> {
        self.pos
            .iter()
            .position(|p| *p == Some(index))
            .map(|k| INPUT_COLUMNS[k])
    }

    /// The header `aidf gen` writes: every column, in order.
    pub fn full() -> Header {
        let mut pos = [None; c::N];
        for (i, p) in pos.iter_mut().enumerate() {
            *p = Some(i);
        }
        Header::with(pos)
    }

    fn with(pos: [Option<usize>; c::N]) -> Header {
        let width = pos.iter().flatten().map(|p| p + 1).max().unwrap_or(0);
        Header { pos, width }
    }

    /// Number of columns the file must not exceed.
    fn width(&self) -> usize {
        self.width
    }
}

struct Cells<'r> {
    h: &'r Header,
    rec: &'r csv::StringRecord,
}

impl<'r> Cells<'r> {
    fn get(&self, col: usize) -> Option<&'r str> {
        let i = self.h.pos[col]?;
        let v = self.rec.get(i)?;
        let b = v.as_bytes();
        // Most cells have no surrounding space: skip the general trim for them.
        let v = match (b.first(), b.last()) {
            (None, _) => return None,
            (Some(f), Some(l)) if !f.is_ascii_whitespace() && !l.is_ascii_whitespace() => v,
            _ => v.trim(),
        };
        (!v.is_empty()).then_some(v)
    }
    fn string(&self, col: usize) -> Option<String> {
        self.get(col).map(str::to_string)
    }
    fn required(&self, col: usize) -> Result<&'r str, FieldError> {
        self.get(col)
            .ok_or_else(|| FieldError::new(INPUT_COLUMNS[col], "", "required; the cell is empty"))
    }
    fn boolean(&self, col: usize) -> Result<Option<bool>, FieldError> {
        match self.get(col) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(FieldError::new(
                    INPUT_COLUMNS[col],
                    v,
                    "expected true or false",
                )),
            },
        }
    }
    fn u64(&self, col: usize) -> Result<u64, FieldError> {
        match self.get(col) {
            None => Ok(0),
            Some(v) => v.parse::<u64>().map_err(|_| {
                FieldError::new(INPUT_COLUMNS[col], v, "expected a whole number of TPP >= 0")
            }),
        }
    }
    fn decimal(&self, col: usize) -> Result<Option<Decimal>, FieldError> {
        match self.get(col) {
            None => Ok(None),
            Some(v) => parse_decimal(v)
                .map(Some)
                .ok_or_else(|| FieldError::new(INPUT_COLUMNS[col], v, "expected a number")),
        }
    }
    fn choice<T>(&self, col: usize, options: &[(&str, T)]) -> Result<Option<T>, FieldError>
    where
        T: Copy,
    {
        match self.get(col) {
            None => Ok(None),
            Some(v) => options
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(v) || name.replace('_', "-") == v)
                .map(|(_, t)| Some(*t))
                .ok_or_else(|| {
                    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                    FieldError::new(
                        INPUT_COLUMNS[col],
                        v,
                        format!("expected one of {}", names.join(", ")),
                    )
                }),
        }
    }
}

/// Parses one CSV record into the row's `id` (if given) and its input.
pub fn record_to_input(
    h: &Header,
    rec: &csv::StringRecord,
) -> Result<(Option<String>, DeterminationInput), FieldError> {
    if rec.len() > h.width() && rec.iter().skip(h.width()).any(|v| !v.trim().is_empty()) {
        return Err(FieldError::new(
            "",
            "",
            format!(
                "the row has {} cells; the header names {}",
                rec.len(),
                h.width()
            ),
        ));
    }
    let x = Cells { h, rec };
    let date_s = x.required(c::DATE)?;
    let date = aidf_core::input::de_date(
        serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(date_s),
    )
    .map_err(|e| FieldError::new("date", date_s, e.to_string()))?;
    let posture = x.choice(
        c::POSTURE,
        &[
            ("as_written", Posture::AsWritten),
            ("as_enforced", Posture::AsEnforced),
        ],
    )?;
    let transaction = x.choice(
        c::TRANSACTION,
        &[
            ("export", Transaction::Export),
            ("reexport", Transaction::Reexport),
            ("transfer", Transaction::Transfer),
        ],
    )?;
    let exporter = match (x.string(c::EXPORTER_NAME), x.string(c::EXPORTER_HQ)) {
        (None, None) => None,
        (name, hq) => Some(Exporter { name, hq }),
    };
    let veu_kind = x.choice(
        c::VEU_KIND,
        &[("uveu", VeuKind::Uveu), ("nveu", VeuKind::Nveu)],
    )?;
    let veu = match (veu_kind, x.get(c::VEU_ID)) {
        (None, None) => None,
        (Some(kind), Some(id)) => Some(VeuRef {
            kind,
            id: id.to_string(),
        }),
        (Some(_), None) => {
            return Err(FieldError::new(
                "veu_id",
                "",
                "required when `veu_kind` is given",
            ));
        }
        (None, Some(id)) => {
            return Err(FieldError::new(
                "veu_kind",
                "",
                format!("required when `veu_id` is given (`{id}`): uveu or nveu"),
            ));
        }
    };
    let consignee = Consignee {
        name: x.required(c::CONSIGNEE_NAME)?.to_string(),
        hq: x.required(c::CONSIGNEE_HQ)?.to_string(),
        parent_hq: x.string(c::PARENT_HQ),
        veu,
        listed: x.boolean(c::LISTED)?.unwrap_or(false),
        government: x.boolean(c::GOVERNMENT)?.unwrap_or(false),
        ..Default::default()
    };
    let end_use = x.choice(
        c::END_USE,
        &[
            ("deployment", EndUse::Deployment),
            ("development", EndUse::Development),
            ("production", EndUse::Production),
            ("storage", EndUse::Storage),
        ],
    )?;
    let hbm = match (x.decimal(c::HBM_BW)?, x.decimal(c::HBM_AREA)?) {
        (None, None) => {
            if let Some(v) = x.get(c::HBM_LOGIC) {
                return Err(FieldError::new(
                    "hbm_logic_dominant",
                    v,
                    "given without `hbm_bandwidth_gbs` and `hbm_area_mm2`",
                ));
            }
            None
        }
        (Some(bandwidth_gbs), Some(area_mm2)) => Some(HbmItem {
            bandwidth_gbs,
            area_mm2,
            logic_dominant: x.boolean(c::HBM_LOGIC)?.unwrap_or(false),
        }),
        (Some(_), None) => {
            return Err(FieldError::new(
                "hbm_area_mm2",
                "",
                "required with `hbm_bandwidth_gbs`",
            ));
        }
        (None, Some(_)) => {
            return Err(FieldError::new(
                "hbm_bandwidth_gbs",
                "",
                "required with `hbm_area_mm2`",
            ));
        }
    };
    let weights_cols = [
        c::TRAINING_OPS,
        c::PARAMETERS,
        c::TOKENS,
        c::W_PUBLISHED,
        c::DERIVED,
        c::FLOOR,
    ];
    let model_weights = if weights_cols.iter().any(|&k| x.get(k).is_some()) {
        Some(ModelWeightsInput {
            training_ops: x.decimal(c::TRAINING_OPS)?,
            parameters: x.decimal(c::PARAMETERS)?,
            tokens: x.decimal(c::TOKENS)?,
            published: x.boolean(c::W_PUBLISHED)?.unwrap_or(false),
            derived_from_published_ops: x.decimal(c::DERIVED)?,
            floor_ops: x.decimal(c::FLOOR)?,
            synthetic_share_pct: None,
            synthetic_generation_ops: None,
            synthetic_generator_training_ops: None,
            synthetic_generator_published: false,
        })
    } else {
        None
    };
    let item = ItemInput {
        chip: x.string(c::CHIP),
        tpp: x.decimal(c::TPP)?,
        pd: x.decimal(c::PD)?,
        die_area_mm2: x.decimal(c::DIE_AREA)?,
        datacenter: x.boolean(c::DATACENTER)?,
        interconnect_gbs: x.decimal(c::INTERCONNECT)?,
        dram_bandwidth_gbs: x.decimal(c::DRAM)?,
        hbm,
        model_weights,
    };
    let quantity = match x.get(c::QUANTITY) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| FieldError::new("quantity", v, "expected a whole number of units"))?,
        ),
    };
    let context = Context {
        consignee_ytd_tpp: x.u64(c::YTD)?,
        country_allocation_used_tpp: x.u64(c::ALLOC_USED)?,
        gov_to_gov_agreement: x.boolean(c::G2G)?.unwrap_or(false),
        nveu_installed_tpp: x.u64(c::NVEU_INSTALLED)?,
        consignee_aia_cumulative_tpp: x.u64(c::AIA_CUM)?,
        weights_storage_compliant: x.boolean(c::STORAGE)?,
    };
    let input = DeterminationInput {
        date,
        posture,
        regime: x.string(c::REGIME),
        transaction,
        exporter,
        destination: x.required(c::DESTINATION)?.to_string(),
        consignee,
        end_use,
        ultimate_destination: x.string(c::ULTIMATE),
        item,
        quantity,
        context,
        ..Default::default()
    };
    Ok((x.string(c::ID), input))
}

fn enum_name<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

fn num(v: u64) -> String {
    if v == 0 { String::new() } else { v.to_string() }
}

/// The CSV cells (in [`INPUT_COLUMNS`] order) of an input. Fields with no column are refused.
pub fn input_to_record(
    id: Option<&str>,
    input: &DeterminationInput,
) -> Result<Vec<String>, FieldError> {
    let mut r = vec![String::new(); c::N];
    if let Some(w) = &input.item.model_weights {
        let unsupported = [
            (
                "item.model_weights.synthetic_share_pct",
                w.synthetic_share_pct.is_some(),
            ),
            (
                "item.model_weights.synthetic_generation_ops",
                w.synthetic_generation_ops.is_some(),
            ),
            (
                "item.model_weights.synthetic_generator_training_ops",
                w.synthetic_generator_training_ops.is_some(),
            ),
            (
                "item.model_weights.synthetic_generator_published",
                w.synthetic_generator_published,
            ),
        ];
        if let Some((f, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(FieldError::new(
                f,
                "",
                "has no CSV column; use JSON lines for this input",
            ));
        }
        r[c::TRAINING_OPS] = opt(&w.training_ops);
        r[c::PARAMETERS] = opt(&w.parameters);
        r[c::TOKENS] = opt(&w.tokens);
        r[c::W_PUBLISHED] = if w.published {
            "true".into()
        } else {
            String::new()
        };
        r[c::DERIVED] = opt(&w.derived_from_published_ops);
        r[c::FLOOR] = opt(&w.floor_ops);
        if [&r[c::TRAINING_OPS], &r[c::PARAMETERS], &r[c::TOKENS]]
            .iter()
            .all(|s| s.is_empty())
            && !w.published
            && r[c::DERIVED].is_empty()
            && r[c::FLOOR].is_empty()
        {
            // An all-empty weights object would read back as no weights at all.
            r[c::W_PUBLISHED] = "false".into();
        }
    }
    r[c::ID] = id.unwrap_or_default().to_string();
    r[c::DATE] = input.date.to_string();
    r[c::POSTURE] = input
        .posture
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    r[c::REGIME] = opt(&input.regime);
    r[c::TRANSACTION] = input.transaction.map(|t| enum_name(&t)).unwrap_or_default();
    if let Some(e) = &input.exporter {
        if e.name.is_none() && e.hq.is_none() {
            return Err(FieldError::new(
                "exporter",
                "{}",
                "an empty exporter object has no CSV form",
            ));
        }
        r[c::EXPORTER_NAME] = opt(&e.name);
        r[c::EXPORTER_HQ] = opt(&e.hq);
    }
    r[c::DESTINATION] = input.destination.clone();
    let k = &input.consignee;
    r[c::CONSIGNEE_NAME] = k.name.clone();
    r[c::CONSIGNEE_HQ] = k.hq.clone();
    r[c::PARENT_HQ] = opt(&k.parent_hq);
    if let Some(v) = &k.veu {
        r[c::VEU_KIND] = enum_name(&v.kind);
        r[c::VEU_ID] = v.id.clone();
    }
    r[c::LISTED] = if k.listed {
        "true".into()
    } else {
        String::new()
    };
    r[c::GOVERNMENT] = if k.government {
        "true".into()
    } else {
        String::new()
    };
    r[c::END_USE] = input.end_use.map(|e| enum_name(&e)).unwrap_or_default();
    r[c::ULTIMATE] = opt(&input.ultimate_destination);
    let it = &input.item;
    r[c::CHIP] = opt(&it.chip);
    r[c::TPP] = opt(&it.tpp);
    r[c::PD] = opt(&it.pd);
    r[c::DIE_AREA] = opt(&it.die_area_mm2);
    r[c::DATACENTER] = opt(&it.datacenter);
    r[c::INTERCONNECT] = opt(&it.interconnect_gbs);
    r[c::DRAM] = opt(&it.dram_bandwidth_gbs);
    if let Some(h) = &it.hbm {
        r[c::HBM_BW] = h.bandwidth_gbs.to_string();
        r[c::HBM_AREA] = h.area_mm2.to_string();
        r[c::HBM_LOGIC] = if h.logic_dominant {
            "true".into()
        } else {
            String::new()
        };
    }
    r[c::QUANTITY] = opt(&input.quantity);
    let x = &input.context;
    r[c::YTD] = num(x.consignee_ytd_tpp);
    r[c::ALLOC_USED] = num(x.country_allocation_used_tpp);
    r[c::G2G] = if x.gov_to_gov_agreement {
        "true".into()
    } else {
        String::new()
    };
    r[c::NVEU_INSTALLED] = num(x.nveu_installed_tpp);
    r[c::AIA_CUM] = num(x.consignee_aia_cumulative_tpp);
    r[c::STORAGE] = opt(&x.weights_storage_compliant);
    Ok(r)
}

/// The field a determination error names, as a JSON path (`destination`, `item.chip`, …).
pub fn determine_error_field(e: &DetermineError) -> &'static str {
    match e {
        DetermineError::Country { field, .. } => field,
        DetermineError::Chip(_) => "item.chip",
        DetermineError::Item(_) | DetermineError::Indeterminate(_) => "item",
        DetermineError::Quantity(_) => "quantity",
        DetermineError::Regime(e) => e.field(),
        DetermineError::Weights(_) => "item.model_weights",
    }
}

/// The CSV column of a JSON field path (`consignee.hq` → `consignee_hq`, `item.chip` → `chip`).
pub fn column_of(path: &str) -> String {
    let p = path
        .trim_start_matches("item.model_weights.")
        .trim_start_matches("item.")
        .trim_start_matches("context.");
    match p {
        "consignee.veu.kind" => "veu_kind".into(),
        "consignee.veu.id" => "veu_id".into(),
        "consignee.parent_hq" => "consignee_parent_hq".into(),
        "published" => "weights_published".into(),
        "hbm.bandwidth_gbs" => "hbm_bandwidth_gbs".into(),
        "hbm.area_mm2" => "hbm_area_mm2".into(),
        "hbm.logic_dominant" => "hbm_logic_dominant".into(),
        other => other.replace('.', "_"),
    }
}

/// The value a CSV row gave for a JSON field path (for error messages).
pub fn value_of(input: &DeterminationInput, path: &str) -> String {
    match path {
        "destination" => input.destination.clone(),
        "consignee.hq" => input.consignee.hq.clone(),
        "consignee.parent_hq" => opt(&input.consignee.parent_hq),
        "ultimate_destination" => opt(&input.ultimate_destination),
        "exporter.hq" => input
            .exporter
            .as_ref()
            .and_then(|e| e.hq.clone())
            .unwrap_or_default(),
        "item.chip" => opt(&input.item.chip),
        "quantity" => opt(&input.quantity),
        "regime" => opt(&input.regime),
        "date" => input.date.to_string(),
        _ => String::new(),
    }
}
