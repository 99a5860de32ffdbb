//! Shared terms: the small vocabulary several modules use (the enforcement posture, the kind of
//! transaction, its end use, the kind of validated end user). A leaf: it imports no other module
//! of the crate, so the modules that share these terms need not import one another.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Enforcement posture: the text in force, or what BIS enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Posture {
    /// The regulation text in force on the date.
    #[default]
    #[serde(alias = "as-written")]
    AsWritten,
    /// What BIS enforces on the date.
    #[serde(alias = "as-enforced")]
    AsEnforced,
}

impl Posture {
    /// As the JSON contract writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Posture::AsWritten => "as_written",
            Posture::AsEnforced => "as_enforced",
        }
    }
}

impl fmt::Display for Posture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transaction {
    /// Export from the United States.
    #[default]
    Export,
    /// Reexport from one foreign country to another.
    Reexport,
    /// Transfer within a country.
    Transfer,
}

/// Intended end use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndUse {
    /// Installed and used (the ordinary case).
    #[default]
    Deployment,
    /// Development of items (ACM).
    Development,
    /// Production of items (ACM).
    Production,
    /// Storage before onward shipment (ACM).
    Storage,
    /// A military end use or end user (15 CFR 744.21).
    Military,
    /// A military-intelligence end use or end user (15 CFR 744.22).
    MilitaryIntelligence,
    /// Development, production or operation of a supercomputer (15 CFR 744.23).
    Supercomputer,
    /// Development or production of advanced-node integrated circuits (15 CFR 744.23).
    AdvancedNodeIc,
}

impl EndUse {
    /// Development, production or storage: the end uses License Exception ACM covers.
    pub fn is_acm_end_use(self) -> bool {
        matches!(
            self,
            EndUse::Development | EndUse::Production | EndUse::Storage
        )
    }
}

/// Kind of Data Center validated end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VeuKind {
    /// Universal VEU.
    Uveu,
    /// National VEU.
    Nveu,
}
