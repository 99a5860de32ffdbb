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

/// A country's tier under the AI Diffusion rule: Tier 1 the least restricted, Tier 3 the most
/// (so the worse of two tiers is their `max`). Written "Tier 2" for people and as the bare number
/// (`2`) in JSON, as it always was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Tier 1, the least restricted.
    One = 1,
    /// Tier 2: a country the regime places in neither other tier.
    Two = 2,
    /// Tier 3, the most restricted.
    Three = 3,
}

impl Tier {
    /// The tier's number: 1, 2 or 3.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The tier numbered `n`, if `n` is 1, 2 or 3.
    pub fn from_number(n: u8) -> Option<Tier> {
        match n {
            1 => Some(Tier::One),
            2 => Some(Tier::Two),
            3 => Some(Tier::Three),
            _ => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tier {}", self.number())
    }
}

impl Serialize for Tier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tier, D::Error> {
        let n = u8::deserialize(d)?;
        Tier::from_number(n)
            .ok_or_else(|| serde::de::Error::custom(format!("`{n}` is not a tier (1, 2 or 3)")))
    }
}

#[cfg(feature = "schema")]
impl utoipa::PartialSchema for Tier {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .description(Some("A tier of the AI Diffusion rule: 1, 2 or 3"))
            .enum_values(Some([1, 2, 3]))
            .into()
    }
}

#[cfg(feature = "schema")]
impl utoipa::ToSchema for Tier {}

#[cfg(test)]
mod tests {
    use super::Tier;

    #[test]
    fn a_tier_is_its_number_on_the_wire_and_tier_n_for_people() {
        for (tier, n) in [(Tier::One, 1u8), (Tier::Two, 2), (Tier::Three, 3)] {
            assert_eq!(serde_json::to_string(&tier).expect("json"), n.to_string());
            assert_eq!(
                serde_json::from_str::<Tier>(&n.to_string()).ok(),
                Some(tier)
            );
            assert_eq!(tier.to_string(), format!("Tier {n}"));
            assert_eq!(Tier::from_number(n), Some(tier));
        }
        let err = serde_json::from_str::<Tier>("4").expect_err("no Tier 4");
        assert!(
            err.to_string().starts_with("`4` is not a tier (1, 2 or 3)"),
            "{err}"
        );
        assert_eq!(Tier::from_number(0), None);
        // The consignee's tier is the worst of its places: the highest.
        assert_eq!(Tier::One.max(Tier::Three).max(Tier::Two), Tier::Three);
    }
}
