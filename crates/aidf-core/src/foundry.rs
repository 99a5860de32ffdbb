//! The foundry / OSAT presumption (Note 1 to 3A090.a, 90 FR 5298): an "applicable advanced logic
//! IC" that a front-end fabricator or OSAT exports is presumed 3A090.a and designed for
//! datacenters unless a route overcomes the presumption (rule-facts §3.3):
//!
//! 1. the designer is an approved IC designer, or an authorized one (after the regime's
//!    `authorized_designer_until` date only with a pending application to become approved), and
//!    supplies a datasheet/attestation of TPP and PD;
//! 2. the front-end fabricator packages the die outside the excluded groups (Macau/D:5), or
//! 3. an approved OSAT packages it, and the package's aggregated approximated transistor count is
//!    below the threshold: the any-package one, or for a package without HBM the one for the
//!    export year (a year the text leaves out follows the `foundry_gap_year` switch).
//!
//! Every threshold, date and list comes from the regime's `[foundry]` section.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::country::CountryCode;
use crate::explain::{Assumption, Obligation, Reason, Trail, thousands};
use crate::policy::Policy;
use crate::regime::{Foundry, FoundryGapYear, Regime};

/// The IC designer's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Designer {
    /// On the approved IC designer list (Supp. No. 6 to part 740).
    Approved,
    /// An authorized IC designer.
    Authorized,
    /// An authorized IC designer with a pending application to become approved.
    AuthorizedPending,
    /// Neither.
    None,
}

/// Who packages the die.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Packager {
    /// The front-end fabricator itself.
    Fabricator,
    /// An approved OSAT (Supp. No. 7 to part 740).
    ApprovedOsat,
    /// Anyone else.
    Other,
}

/// Facts about a foundry export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundryInput {
    /// Process node in nm.
    pub node_nm: u32,
    /// Non-planar transistors (FinFET/GAA), whatever the node.
    pub non_planar: bool,
    /// Aggregated approximated transistor count of the package.
    pub transistors: u64,
    /// The package contains HBM.
    pub hbm: bool,
    /// The designer's standing.
    pub designer: Designer,
    /// Year the export is completed.
    pub export_year: i32,
    /// Who packages it.
    pub packager: Packager,
    /// Where it is packaged (needed for the fabricator route).
    pub packaged_in: Option<CountryCode>,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundryOutcome {
    /// The presumption applies to this IC (applicable advanced logic IC under a regime that has it).
    pub applies: bool,
    /// After the routes: presumed 3A090.a and designed for datacenters.
    pub presumed_3a090a: bool,
    /// The route that overcame the presumption, if any: `designer`, `fabricator_packaging`,
    /// `approved_osat`.
    pub overcome_by: Option<&'static str>,
    /// Why.
    pub reasons: Vec<Reason>,
    /// Unconfirmed readings relied on.
    pub assumptions: Vec<Assumption>,
    /// What the exporter must hold for the route.
    pub obligations: Vec<Obligation>,
    /// Regime id.
    pub regime: Arc<str>,
}

/// Applies the presumption of `regime` to `f`; group membership (where it is packaged) is read on
/// `date`.
pub fn presumption(
    policy: &Policy,
    regime: &Regime,
    f: &FoundryInput,
    date: chrono::NaiveDate,
) -> FoundryOutcome {
    let mut t = Trail::default();
    let done = |t: Trail, applies, presumed, by| FoundryOutcome {
        applies,
        presumed_3a090a: presumed,
        overcome_by: by,
        reasons: t.reasons,
        assumptions: t.assumptions,
        obligations: t.obligations,
        regime: regime.id.clone(),
    };
    let Some(fd) = &regime.spec.foundry else {
        t.reason("foundry.not_in_regime", &regime.spec.citation, || {
            format!(
                "`{}` has no foundry presumption: classify on the 3A090 parameters",
                regime.spec.id
            )
        });
        return done(t, false, false, None);
    };
    let cite = fd.citation.clone();
    if f.node_nm > fd.node_nm_max && !f.non_planar {
        t.reason(
            "foundry.not_applicable",
            &cite,
            || format!(
                "{} nm planar logic is not an applicable advanced logic IC (<= {} nm or non-planar): no presumption",
                f.node_nm, fd.node_nm_max
            ),
        );
        return done(t, false, false, None);
    }
    t.reason(
        "foundry.presumed",
        &cite,
        || format!(
            "{} nm{} logic IC exported by a front-end fabricator or OSAT: presumed 3A090.a and designed for datacenters unless overcome",
            f.node_nm,
            if f.non_planar { " non-planar" } else { "" }
        ),
    );
    if designer_route(&mut t, fd, f) {
        return done(t, true, false, Some("designer"));
    }
    // Routes 2 and 3: packaging and the transistor count.
    if let Some(route) = packaging_route(&mut t, policy, regime, fd, f, date)
        && transistor_route(&mut t, regime, fd, f, route)
    {
        return done(t, true, false, Some(route));
    }
    t.reason("foundry.not_overcome", &cite, || {
        "presumption not overcome: treat as 3A090.a, designed for datacenters".into()
    });
    done(t, true, true, None)
}

/// Route 1: whether the designer's standing overcomes the presumption (an approved designer, or
/// an authorized one through `authorized_designer_until` or with a pending application).
fn designer_route(t: &mut Trail, fd: &Foundry, f: &FoundryInput) -> bool {
    let until_year = chrono::Datelike::year(&fd.authorized_designer_until);
    let designer_ok = match f.designer {
        Designer::Approved => true,
        Designer::AuthorizedPending => true,
        Designer::Authorized => f.export_year <= until_year,
        Designer::None => false,
    };
    if !designer_ok {
        t.reason(
            "foundry.designer_route_closed",
            &fd.designer_citation,
            || match f.designer {
                Designer::Authorized => format!(
                    "an authorized designer without a pending approval application qualifies only for exports through {}",
                    fd.authorized_designer_until
                ),
                _ => "the designer is neither approved nor authorized".into(),
            },
        );
        return false;
    }
    t.reason(
        "foundry.route_designer",
        &fd.designer_citation,
        || format!(
            "designer is {}: the presumption is overcome by its datasheet/attestation of TPP and PD",
            match f.designer {
                Designer::Approved => "an approved IC designer".to_string(),
                Designer::AuthorizedPending => "an authorized IC designer with a pending approval application".to_string(),
                _ => format!("an authorized IC designer (exports through {})", fd.authorized_designer_until),
            }
        ),
    );
    t.oblige(
        "foundry.designer_attestation",
        &fd.designer_citation,
        || "hold the designer's datasheet or attestation of TPP and PD showing the IC is not 3A090.a; then classify on the parameters".into(),
    );
    if f.designer == Designer::AuthorizedPending {
        t.oblige("foundry.designer_pending", &fd.designer_citation, || {
            "authorized status lapses 180 days after the approval application is submitted".into()
        });
    }
    true
}

/// Routes 2 and 3: the packaging route open to this package (an approved OSAT, or the
/// fabricator packaging outside the excluded groups), if any.
fn packaging_route(
    t: &mut Trail,
    policy: &Policy,
    regime: &Regime,
    fd: &Foundry,
    f: &FoundryInput,
    date: chrono::NaiveDate,
) -> Option<&'static str> {
    match f.packager {
        Packager::ApprovedOsat => Some("approved_osat"),
        Packager::Fabricator => {
            let Some(cc) = f.packaged_in else {
                t.reason(
                    "foundry.packaging_unknown",
                    &fd.packaging_citation,
                    || "the fabricator-packaging route needs the packaging country (--packaged-in); not evaluated".into(),
                );
                return None;
            };
            let (cc, _) = policy.countries.canonical(cc);
            let Some(&g) = regime
                .resolved
                .foundry_excluded
                .iter()
                .find(|&&g| policy.countries.membership(cc, g, date).member)
            else {
                return Some("fabricator_packaging");
            };
            t.reason(
                "foundry.packaged_in_excluded",
                &fd.packaging_citation,
                || format!(
                    "packaged in {cc}, which is in {}: the fabricator-packaging route is closed",
                    policy.countries.group(g).id
                ),
            );
            None
        }
        Packager::Other => {
            t.reason(
                "foundry.packager_not_approved",
                &fd.packaging_citation,
                || {
                    "packaged by neither the fabricator nor an approved OSAT: no packaging route"
                        .into()
                },
            );
            None
        }
    }
}

/// Whether the package's transistor count overcomes the presumption on `route`: below the
/// any-package threshold, or (without HBM) below the export year's.
fn transistor_route(
    t: &mut Trail,
    regime: &Regime,
    fd: &Foundry,
    f: &FoundryInput,
    route: &'static str,
) -> bool {
    let count = thousands(f.transistors.into());
    if f.transistors < fd.transistors_below_any {
        t.reason(
            "foundry.route_transistors",
            &fd.packaging_citation,
            || format!(
                "aggregated approximated transistor count {count} < {}: presumption overcome ({route})",
                thousands(fd.transistors_below_any.into())
            ),
        );
        oblige_transistor_attestation(t, fd);
        return true;
    }
    if f.hbm {
        t.reason(
            "foundry.hbm_any_threshold_only",
            &fd.packaging_citation,
            || format!(
                "the package contains HBM: only the {} threshold applies, and {count} is not below it",
                thousands(fd.transistors_below_any.into())
            ),
        );
        return false;
    }
    let y = f.export_year;
    match no_hbm_threshold(t, regime, fd, y) {
        Some(th) if f.transistors < th => {
            t.reason(
                "foundry.route_transistors",
                &fd.packaging_citation,
                || format!(
                    "no HBM, exported in {y}: count {count} < {}: presumption overcome ({route})",
                    thousands(th.into())
                ),
            );
            oblige_transistor_attestation(t, fd);
            return true;
        }
        Some(th) => t.reason(
            "foundry.above_threshold",
            &fd.packaging_citation,
            || format!(
                "no HBM, exported in {y}: count {count} is not below {}",
                thousands(th.into())
            ),
        ),
        None => t.reason(
            "foundry.no_year_threshold",
            &fd.packaging_citation,
            || format!(
                "no HBM, but no no-HBM threshold covers exports in {y}; count {count} is not below the {} any-package threshold",
                thousands(fd.transistors_below_any.into())
            ),
        ),
    }
    false
}

/// The obligation of a route overcome by the transistor count.
fn oblige_transistor_attestation(t: &mut Trail, fd: &Foundry) {
    t.oblige(
        "foundry.transistor_attestation",
        &fd.packaging_citation,
        || "hold the packager's attestation of the final package's aggregated approximated transistor count".into(),
    );
}

/// The no-HBM transistor threshold for exports in `year`; a year between two stated ranges
/// follows the `foundry_gap_year` switch.
fn no_hbm_threshold(t: &mut Trail, regime: &Regime, fd: &Foundry, year: i32) -> Option<u64> {
    let covers = |th: &&crate::regime::FoundryThreshold| {
        th.year_from <= year && th.year_to.is_none_or(|to| year <= to)
    };
    let threshold = fd
        .no_hbm_thresholds
        .iter()
        .find(covers)
        .map(|th| th.transistors_below);
    let in_gap = threshold.is_none()
        && fd.no_hbm_thresholds.iter().any(|th| th.year_from < year)
        && fd.no_hbm_thresholds.iter().any(|th| th.year_from > year);
    if !in_gap {
        return threshold;
    }
    let s = regime.spec.switches.foundry_gap_year.as_ref()?;
    t.assume_opt(Regime::assumption("foundry_gap_year", s));
    if s.value != FoundryGapYear::CarryForward {
        return threshold;
    }
    fd.no_hbm_thresholds
        .iter()
        .rfind(|th| th.year_from < year)
        .map(|th| th.transistors_below)
}
