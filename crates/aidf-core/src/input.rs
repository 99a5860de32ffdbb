//! The determination input contract (JSON), parsed strictly: unknown fields are errors, and every
//! error names the field path and the value.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::classify::{Datacenter, HbmItem};
use crate::num::de_opt_decimal_json;
use crate::restrict::EntityListEntry;
use crate::terms::Posture;

pub use crate::terms::{EndUse, Transaction, VeuKind};

/// A consignee's VEU authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VeuRef {
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Authorization id.
    pub id: String,
}

/// The exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Exporter {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Headquarters country.
    #[serde(default)]
    pub hq: Option<String>,
}

/// Another party to the transaction (end user, purchaser, ultimate parent): screened against the
/// restricted-party lists like the consignee; the rules read it only through what screening
/// finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OtherParty {
    /// Name as written (any script).
    pub name: String,
    /// Country (ISO 3166-1 alpha-2), a qualifier for screening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub country: Option<String>,
}

/// The ultimate consignee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Consignee {
    /// Name (the LPP year-to-date is kept per consignee).
    pub name: String,
    /// Headquarters country.
    pub hq: String,
    /// Headquarters country of the ultimate parent; defaults to `hq`.
    #[serde(default)]
    pub parent_hq: Option<String>,
    /// VEU authorization, if any.
    #[serde(default)]
    pub veu: Option<VeuRef>,
    /// On the Entity List.
    #[serde(default)]
    pub listed: bool,
    /// The consignee's own Entity List entry (its item scope and review policy), when it differs
    /// from the common entry in `restrictions.toml` (e.g. a narrower scope); implies `listed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub entity_list: Option<EntityListEntry>,
    /// A government or government-controlled end user.
    #[serde(default)]
    pub government: bool,
    /// On the Military End-User list (Supp. No. 7 to part 744).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub meu_listed: bool,
    /// Percent of the consignee owned, directly or indirectly, by parties on the Entity List (or
    /// MEU list) together: the Affiliates rule applies at 50 or more.
    #[serde(
        default,
        deserialize_with = "de_opt_decimal_json",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schema(value_type = crate::schema::Decimal))]
    pub listed_owners_share_pct: Option<Decimal>,
}

/// Training facts of a model whose weights are exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelWeightsInput {
    /// Operations used to train the model (pre-training and later training), if known.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub training_ops: Option<Decimal>,
    /// Parameter count, to estimate operations with 6·N·D when `training_ops` is absent.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub parameters: Option<Decimal>,
    /// Training tokens (examples), for 6·N·D.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub tokens: Option<Decimal>,
    /// The weights are published (open).
    #[serde(default)]
    pub published: bool,
    /// Operations of the published model this one was derived from, if it was.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub derived_from_published_ops: Option<Decimal>,
    /// Operations needed (with the most efficient published methods) to match the most capable
    /// published model: the relative floor.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub floor_ops: Option<Decimal>,
    /// Synthetic-data rule: share (percent) of training operations on data from the largest
    /// unpublished generator.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub synthetic_share_pct: Option<Decimal>,
    /// That generator's operations to produce the data.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub synthetic_generation_ops: Option<Decimal>,
    /// That generator's own training operations, counted when its weights are unpublished.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub synthetic_generator_training_ops: Option<Decimal>,
    /// Whether that generator's weights are published.
    #[serde(default)]
    pub synthetic_generator_published: bool,
}

/// The item: a catalog chip, raw metrics, or model weights. Exactly one form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// Catalog id or name.
    #[serde(default)]
    pub chip: Option<String>,
    /// TPP per unit.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub tpp: Option<Decimal>,
    /// Performance density.
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub pd: Option<Decimal>,
    /// Applicable die area (instead of `pd`).
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub die_area_mm2: Option<Decimal>,
    /// Designed or marketed for datacenters (metrics form; default: yes, and said so).
    #[serde(default)]
    pub datacenter: Option<bool>,
    /// Aggregate bidirectional interconnect bandwidth in GB/s (metrics form; the 2022 rule tests it).
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub interconnect_gbs: Option<Decimal>,
    /// Total DRAM bandwidth in GB/s (metrics form; the 2026 H200 rule tests it).
    #[serde(default, deserialize_with = "de_opt_decimal_json")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<crate::schema::Decimal>))]
    pub dram_bandwidth_gbs: Option<Decimal>,
    /// High-bandwidth memory (3A090.c).
    #[serde(default)]
    pub hbm: Option<HbmItem>,
    /// Model weights.
    #[serde(default)]
    pub model_weights: Option<ModelWeightsInput>,
}

impl ItemInput {
    /// The datacenter status for the metrics form.
    pub fn datacenter_status(&self) -> Datacenter {
        match self.datacenter {
            Some(false) => Datacenter::No,
            _ => Datacenter::Yes,
        }
    }
}

/// Balances the determination reads; the ledger fills them in when it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// TPP the consignee has received under LPP this calendar year, before this shipment.
    #[serde(default)]
    pub consignee_ytd_tpp: u64,
    /// TPP already drawn from the destination's country allocation.
    #[serde(default)]
    pub country_allocation_used_tpp: u64,
    /// The destination has a government-to-government arrangement.
    #[serde(default)]
    pub gov_to_gov_agreement: bool,
    /// The NVEU's installed base in the destination before this shipment.
    #[serde(default)]
    pub nveu_installed_tpp: u64,
    /// TPP the consignee has received under AIA so far (certification-report trigger).
    #[serde(default)]
    pub consignee_aia_cumulative_tpp: u64,
    /// The weights will be stored in a facility meeting Supp. No. 10 paras. 14, 15 and 18.
    #[serde(default)]
    pub weights_storage_compliant: Option<bool>,
}

/// One transaction to determine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeterminationInput {
    /// Date of the shipment.
    #[serde(deserialize_with = "crate::input_error::de_date")]
    pub date: NaiveDate,
    /// Posture (default as written).
    #[serde(default)]
    pub posture: Option<Posture>,
    /// Pin a regime instead of resolving the date.
    #[serde(default)]
    pub regime: Option<String>,
    /// Export, reexport or transfer.
    #[serde(default)]
    pub transaction: Option<Transaction>,
    /// The exporter.
    #[serde(default)]
    pub exporter: Option<Exporter>,
    /// Destination country.
    pub destination: String,
    /// ISO 3166-2 region of the destination, where a rule names regions (the covered regions of
    /// Ukraine, 15 CFR 746.6: `UA-43` Crimea, `UA-40` Sevastopol, `UA-14` Donetsk, `UA-09` Luhansk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub destination_region: Option<String>,
    /// Ultimate consignee.
    pub consignee: Consignee,
    /// End use.
    #[serde(default)]
    pub end_use: Option<EndUse>,
    /// Ultimate destination, if the items move on.
    #[serde(default)]
    pub ultimate_destination: Option<String>,
    /// The end user, when not the consignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub end_user: Option<OtherParty>,
    /// The purchaser, when not the consignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub purchaser: Option<OtherParty>,
    /// The consignee's ultimate parent by name (its country is `consignee.parent_hq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub ultimate_parent: Option<OtherParty>,
    /// The item.
    pub item: ItemInput,
    /// Units (chips); not needed for model weights.
    #[serde(default, deserialize_with = "crate::input_error::de_opt_quantity")]
    pub quantity: Option<i64>,
    /// The shipment's value in US dollars (whole cents), if given. The determination does not
    /// read it; a shipment under a license with a value draws it (15 CFR 750.11).
    #[serde(
        default,
        deserialize_with = "crate::input_error::de_opt_usd",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schema(value_type = crate::schema::Decimal))]
    pub value_usd: Option<Decimal>,
    /// Balances.
    #[serde(default)]
    pub context: Context,
}

pub use crate::input_error::{InputError, de_date, plain_json_error};

impl DeterminationInput {
    /// Parses one JSON document.
    pub fn from_json(text: &str) -> Result<DeterminationInput, InputError> {
        crate::strict_json::parse_document(text, "a determination input")
    }
}

#[cfg(test)]
mod tests {
    use super::DeterminationInput;

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"date":"2025-06-01","consignee":{"name":"X","hq":"MY"},"item":{}}"#,
                "destination",
            ),
            (
                r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X"},"item":{}}"#,
                "consignee.hq",
            ),
            (
                r#"{"date":"2025-06-01","destination":"MY","consignee":{"name":"X","hq":"MY"},"item":{},"quantity":"x"}"#,
                "quantity",
            ),
            (r#"{"date": 5"#, "date"),
            ("nope", ""),
        ];
        for (text, path) in cases {
            let e = DeterminationInput::from_json(text).expect_err(text);
            assert_eq!(e.path.trim_start_matches('.'), path, "{text}: {e}");
            if !path.is_empty() {
                assert!(
                    e.to_string().starts_with(&format!("field `{path}`: ")),
                    "{e}"
                );
            }
        }
    }
}
