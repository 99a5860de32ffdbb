//! Fleet input resolved into a validated [`Fleet`]: countries, whole TPP (or chip × quantity).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::chip::Chip;
use crate::country::CountryCode;
use crate::policy::Policy;
use crate::terms::VeuKind;

use super::input::input_err;
use super::{FleetError, FleetInput, SiteInput, SiteStatus};

/// One site, validated: the country is known, the TPP is a whole number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// The country as given.
    pub country: CountryCode,
    /// The country the EAR treats it as (Hong Kong → China); shares are counted per this code.
    pub country_treated_as: CountryCode,
    /// Whole TPP installed at the site.
    pub tpp: u64,
    /// Catalog chip id, when the site gave `chip`.
    pub chip: Option<Arc<str>>,
    /// Chips, when the site gave `chip`.
    pub quantity: Option<u64>,
    /// Operating or planned.
    pub status: SiteStatus,
    /// First day the site counts; `None`: every day.
    pub online_date: Option<NaiveDate>,
}

impl Site {
    /// Whether the site's compute counts on `date`.
    pub fn counts_on(&self, date: NaiveDate) -> bool {
        self.online_date.is_none_or(|d| d <= date)
    }
}

/// A validated fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// Owner.
    pub owner: String,
    /// Headquarters country as given.
    pub hq: CountryCode,
    /// Headquarters country as the EAR treats it.
    pub hq_treated_as: CountryCode,
    /// UVEU or NVEU.
    pub kind: VeuKind,
    /// Date the fleet is assessed on.
    pub date: NaiveDate,
    /// The sites.
    pub sites: Vec<Site>,
}

/// Builds a site's field error: the field path (with its line, for CSV input) and the problem.
type SiteErr<'a> = &'a dyn Fn(&str, String) -> FleetError;

/// A site's TPP, with the catalog chip and quantity when given that way.
type SiteCapacity = (u64, Option<Arc<str>>, Option<u64>);

/// A site's TPP: given whole, or a catalog chip's TPP times the quantity; with the chip and
/// quantity when given that way.
fn site_capacity(
    s: &SiteInput,
    policy: &Policy,
    err: SiteErr<'_>,
) -> Result<SiteCapacity, FleetError> {
    let capacity = match (s.tpp, &s.chip, s.quantity) {
        (Some(t), None, None) => {
            if t.is_sign_negative() && !t.is_zero() {
                return Err(err("tpp", format!("must not be negative, got `{t}`")));
            }
            if !t.fract().is_zero() {
                return Err(err("tpp", format!("must be a whole number, got `{t}`")));
            }
            let tpp = t
                .to_u64()
                .ok_or_else(|| err("tpp", format!("`{t}` is out of range")))?;
            (tpp, None, None)
        }
        (None, Some(name), Some(q)) => {
            let c = policy
                .catalog
                .lookup(name)
                .map_err(|e| err("chip", e.to_string()))?;
            if q < 0 {
                return Err(err("quantity", format!("must not be negative, got `{q}`")));
            }
            let per_chip = chip_tpp(c).map_err(|m| err("chip", m))?;
            let tpp = per_chip
                .checked_mul(q as u64)
                .ok_or_else(|| err("quantity", format!("`{q}` chips overflow the TPP count")))?;
            (tpp, Some(c.id.clone()), Some(q as u64))
        }
        (None, Some(_), None) => {
            return Err(err("quantity", "required with `chip`".into()));
        }
        (None, None, Some(_)) => {
            return Err(err("chip", "required with `quantity`".into()));
        }
        (None, None, None) => {
            return Err(err(
                "tpp",
                "missing: give `tpp`, or `chip` and `quantity`".into(),
            ));
        }
        (Some(_), _, _) => {
            return Err(err(
                "tpp",
                "give either `tpp` or `chip` and `quantity`, not both".into(),
            ));
        }
    };
    Ok(capacity)
}

/// A site's status: a planned site needs its online date, and an operating one cannot come
/// online after the fleet's date.
fn site_status(s: &SiteInput, date: NaiveDate, err: SiteErr<'_>) -> Result<SiteStatus, FleetError> {
    let status = s.status.unwrap_or_default();
    match (status, s.online_date) {
        (SiteStatus::Planned, None) => {
            return Err(err("online_date", "required for a planned site".into()));
        }
        (SiteStatus::Operating, Some(d)) if d > date => {
            return Err(err(
                "status",
                format!(
                    "`operating` but online_date {d} is after the fleet date {}; mark the site `planned`",
                    date
                ),
            ));
        }
        _ => {}
    }
    Ok(status)
}

impl Fleet {
    /// Validates an input against the policy's countries and catalog.
    pub fn resolve(input: &FleetInput, policy: &Policy) -> Result<Fleet, FleetError> {
        let hq = policy
            .countries
            .lookup(&input.hq)
            .map_err(|e| input_err("hq", None, e.to_string()))?;
        if input.owner.trim().is_empty() {
            return Err(input_err("owner", None, "must not be empty"));
        }
        // An empty fleet has no shares to check; saying "compliant" would be an answer we
        // could not tell.
        if input.sites.is_empty() {
            return Err(input_err("sites", None, "the fleet has no sites"));
        }
        let mut ids = BTreeSet::new();
        let mut sites = Vec::with_capacity(input.sites.len());
        for (i, s) in input.sites.iter().enumerate() {
            let err = |name: &str, message: String| {
                let (field, line) = input.site_field(i, name);
                input_err(field, line, message)
            };
            if s.id.trim().is_empty() {
                return Err(err("id", "must not be empty".into()));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(err("id", format!("`{}` is used by two sites", s.id)));
            }
            if s.country.is_empty() {
                return Err(err("country", "missing".into()));
            }
            let country = policy
                .countries
                .lookup(&s.country)
                .map_err(|e| err("country", e.to_string()))?;
            let (tpp, chip, quantity) = site_capacity(s, policy, &err)?;
            let status = site_status(s, input.date, &err)?;
            sites.push(Site {
                id: s.id.clone(),
                country,
                country_treated_as: policy.countries.canonical(country).0,
                tpp,
                chip,
                quantity,
                status,
                online_date: s.online_date,
            });
        }
        Ok(Fleet {
            owner: input.owner.clone(),
            hq,
            hq_treated_as: policy.countries.canonical(hq).0,
            kind: input.kind,
            date: input.date,
            sites,
        })
    }

    /// The same fleet with `tpp` more operating in `country` (a what-if; the site id is `added-N`).
    pub fn with_added(&self, policy: &Policy, country: CountryCode, tpp: u64) -> Fleet {
        let mut out = self.clone();
        out.sites.push(Site {
            id: format!("added-{}", self.sites.len()),
            country,
            country_treated_as: policy.countries.canonical(country).0,
            tpp,
            chip: None,
            quantity: None,
            status: SiteStatus::Operating,
            online_date: None,
        });
        out
    }

    /// Installed TPP per country (as the EAR treats it) on `date`.
    pub fn installed_on(&self, date: NaiveDate) -> BTreeMap<CountryCode, u128> {
        let mut by_country = BTreeMap::new();
        for s in self.sites.iter().filter(|s| s.counts_on(date)) {
            *by_country.entry(s.country_treated_as).or_insert(0u128) += u128::from(s.tpp);
        }
        by_country
    }
}

/// Whole TPP of one chip of the catalog.
pub fn chip_tpp(chip: &Chip) -> Result<u64, String> {
    let m = chip
        .metrics()
        .ok_or_else(|| format!("`{}` has no published dense throughput", chip.id))?;
    match m.tpp_whole() {
        0 => Err(format!("`{}` has a TPP of 0", chip.id)),
        u64::MAX => Err(format!("`{}` has a TPP out of range", chip.id)),
        t => Ok(t),
    }
}
