//! The `countries` query: every country with its groups and tier on a date, under the regime
//! pinned or in force. One implementation for `aidf countries` and `GET /v1/countries`.

use aidf_core::policy::SelectError;
use aidf_core::{Policy, Posture};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::classify::RegimeRef;

/// A countries request, parsed by the edge that received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountriesQuery {
    /// The date of the groups and tiers (see [`crate::classify::business_date`]).
    pub date: NaiveDate,
    /// Which timeline chooses the regime when none is pinned.
    pub posture: Posture,
    /// A pinned regime id.
    pub regime: Option<String>,
}

/// One country on the date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CountryRow {
    /// ISO 3166-1 alpha-2 code.
    pub code: String,
    /// English short name.
    pub name: String,
    /// The code the EAR treats it as (Hong Kong: China); `null` when itself.
    pub treated_as: Option<String>,
    /// Ids of the country groups it belongs to on the date.
    pub groups: Vec<String>,
    /// Its tier under the regime (1, 2 or 3); `null` when the regime has no tiers.
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 3)]
    pub tier: Option<aidf_core::Tier>,
}

/// The answer to `countries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CountriesReport {
    /// The date.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// `as_written` or `as_enforced`.
    #[schema(value_type = String)]
    pub posture: Posture,
    /// The regime the tiers are read under.
    pub regime: RegimeRef,
    /// Every country, in the policy's order.
    pub countries: Vec<CountryRow>,
}

/// Every country's groups and tier on the query's date.
pub fn countries_query(
    policy: &Policy,
    query: &CountriesQuery,
) -> Result<CountriesReport, SelectError> {
    let date = query.date;
    let regime = policy
        .select(query.regime.as_deref(), date, query.posture)?
        .regime;
    let table = &policy.countries;
    let countries = table
        .countries()
        .iter()
        .map(|c| {
            let (canon, _) = table.canonical(c.code);
            CountryRow {
                code: c.code.to_string(),
                name: c.name.to_string(),
                treated_as: (canon != c.code).then(|| canon.to_string()),
                groups: table
                    .groups_of(canon, date)
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
                tier: policy.tier(regime, c.code, date).map(|(t, _)| t),
            }
        })
        .collect();
    Ok(CountriesReport {
        date,
        posture: query.posture,
        regime: RegimeRef::of(regime),
        countries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aidf_core::Tier;

    fn query(regime: Option<&str>) -> CountriesQuery {
        CountriesQuery {
            date: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date"),
            posture: Posture::AsWritten,
            regime: regime.map(str::to_string),
        }
    }

    #[test]
    fn tiers_and_aliases_on_a_date() {
        let p = Policy::embedded().expect("policy");
        let r = countries_query(&p, &query(None)).expect("report");
        assert_eq!(r.regime.id, "ai-diffusion-2025");
        assert_eq!(r.countries.len(), p.countries.countries().len());
        let row = |code: &str| r.countries.iter().find(|c| c.code == code).expect(code);
        assert_eq!(
            (row("US").tier, row("IN").tier, row("CN").tier),
            (Some(Tier::One), Some(Tier::Two), Some(Tier::Three))
        );
        assert_eq!(row("HK").treated_as.as_deref(), Some("CN"));
        assert_eq!(row("HK").tier, Some(Tier::Three));
        assert_eq!(row("US").treated_as, None);
    }

    #[test]
    fn a_pinned_regime_without_tiers_gives_no_tier_and_an_unknown_one_names_regime() {
        let p = Policy::embedded().expect("policy");
        let r = countries_query(&p, &query(Some("ac-2023"))).expect("report");
        assert!(r.countries.iter().all(|c| c.tier.is_none()));
        let e = countries_query(&p, &query(Some("nope"))).expect_err("unknown");
        assert_eq!(e.field(), "regime");
    }
}
