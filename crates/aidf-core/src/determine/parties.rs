//! The parties: their countries read and resolved through aliases, their tiers, and whether the
//! transaction is an export at all.

use crate::country::CountryCode;
use crate::input::DeterminationInput;

use super::{Authorization, DetermineError, Eval, Outcome, Parties, Tiers, country, outcome};

/// Reads and checks every party's country, and resolves the ones the rules read through their
/// aliases (Hong Kong is China), noting each alias used.
pub(super) fn read_parties(
    ev: &mut Eval<'_>,
    input: &DeterminationInput,
) -> Result<Parties, DetermineError> {
    let policy = ev.policy;
    let dest_given = country(policy, "destination", &input.destination)?;
    let hq_given = country(policy, "consignee.hq", &input.consignee.hq)?;
    let parent_given = match &input.consignee.parent_hq {
        Some(p) => country(policy, "consignee.parent_hq", p)?,
        None => hq_given,
    };
    let ultimate_given = match &input.ultimate_destination {
        Some(u) => Some(country(policy, "ultimate_destination", u)?),
        None => None,
    };
    if let Some(e) = input.exporter.as_ref().and_then(|e| e.hq.as_deref()) {
        country(policy, "exporter.hq", e)?;
    }
    // The other parties are screened, not read by the rules; their countries are checked alike.
    for (field, party) in [
        ("end_user.country", &input.end_user),
        ("purchaser.country", &input.purchaser),
        ("ultimate_parent.country", &input.ultimate_parent),
    ] {
        if let Some(c) = party.as_ref().and_then(|p| p.country.as_deref()) {
            country(policy, field, c)?;
        }
    }
    Ok(Parties {
        dest: canon(ev, dest_given),
        hq: canon(ev, hq_given),
        parent: canon(ev, parent_given),
        ultimate: ultimate_given.map(|u| canon(ev, u)),
    })
}

/// A country resolved through its alias, if any, with the alias's reason.
fn canon(ev: &mut Eval<'_>, c: CountryCode) -> CountryCode {
    let (to, alias) = ev.policy.countries.canonical(c);
    if let Some(a) = alias {
        ev.trail.reason("country.alias", &a.citation, || {
            format!("{c} is treated as {to}")
        });
    }
    to
}

/// Assigns the tiers: the consignee's is the worst of the destination's, its headquarters' and
/// its ultimate parent's.
pub(super) fn assign_tiers(ev: &mut Eval<'_>, parties: &Parties) -> Tiers {
    let destination = ev.tier(parties.dest);
    let consignee = match destination {
        Some(dt) => {
            let h = ev.tier(parties.hq).unwrap_or(dt);
            let p = ev.tier(parties.parent).unwrap_or(dt);
            Some(dt.max(h).max(p))
        }
        None => None,
    };
    if let (Some(dt), Some(ct), Some(tiers)) = (destination, consignee, &ev.regime.spec.tiers) {
        ev.trail.reason("tier.assign", &tiers.citation, || {
            format!(
                "destination {} is {dt}; consignee (HQ {}, ultimate parent HQ {}) is {ct}",
                parties.dest, parties.hq, parties.parent
            )
        });
    }
    Tiers {
        destination,
        consignee,
    }
}

/// A shipment within the exporting country to a consignee there, going nowhere else: not an export.
pub(super) fn is_domestic(ev: &Eval<'_>, p: &Parties) -> bool {
    let home = ev.policy.restrictions.domestic;
    home == Some(p.dest) && p.ultimate.is_none_or(|u| Some(u) == home)
}

/// The answer for a domestic transaction of a controlled item: no license requirement.
pub(super) fn domestic_rule(ev: &mut Eval<'_>, p: &Parties) -> Option<Outcome> {
    if !is_domestic(ev, p) {
        return None;
    }
    let cite = ev.policy.restrictions.domestic_citation.clone();
    ev.trail.reason("domestic.not_an_export", &cite, || {
        format!(
            "consignee in {} and no destination abroad: not an export, reexport or transfer (in-country) abroad, so no license requirement applies (a release of technology to a foreign person, a deemed export, is not modelled)",
            p.dest
        )
    });
    Some(outcome(Authorization::Nlr))
}
