//! The 3A090/4A090 chip rules: the license requirement, the exceptions (NAC, ACA, AIA, ACM,
//! LPP), validated end users, the January 2026 review and the license review policy.

use std::sync::Arc;

use chrono::Datelike;

use crate::classify::Metrics;
use crate::explain::thousands;
use crate::input::DeterminationInput;
use crate::regime::{Regime, ReviewPolicy};
use crate::terms::{Tier, Transaction, VeuKind};

use super::parties::domestic_rule;
use super::{
    Authorization, ChipCase, Counter, DetermineError, Eval, Outcome, Parties, license, outcome,
};

/// The lists placing the parties under a presumption of denial (Tier 3 / D:5 / Macau).
struct Embargoes {
    /// The consignee's or its ultimate parent's headquarters (§744.23(a)(3)).
    hq_taint: Option<Arc<str>>,
    /// The destination.
    dest: Option<Arc<str>>,
    /// The ultimate destination.
    ultimate: Option<Arc<str>>,
}

impl Embargoes {
    /// Looks up the headquarters taint (§744.23(a)(3)) and the embargoed destinations.
    fn of(ev: &mut Eval<'_>, p: &Parties) -> Embargoes {
        let hq_taint = ev.embargoed(p.hq).or_else(|| ev.embargoed(p.parent));
        let dest = ev.embargoed(p.dest);
        let ultimate = match p.ultimate {
            Some(u) => ev.embargoed(u),
            None => None,
        };
        Embargoes {
            hq_taint,
            dest,
            ultimate,
        }
    }

    /// Why the transaction is under the presumption of denial, if it is.
    fn why(&self, p: &Parties) -> Option<String> {
        self.dest
            .as_ref()
            .map(|g| format!("destination {} is in {g}", p.dest))
            .or_else(|| {
                self.ultimate
                    .as_ref()
                    .map(|g| format!("ultimate destination is in {g}"))
            })
            .or_else(|| {
                self.hq_taint
                    .as_ref()
                    .map(|g| format!("consignee or its ultimate parent is headquartered in {g}"))
            })
    }
}

/// 3A090/4A090 chips: the license requirement, then the exceptions, VEUs and review policy.
pub(super) fn chip_rules(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Result<Outcome, DetermineError> {
    if let Some(out) = domestic_rule(ev, c.p) {
        return Ok(out);
    }
    let embargoes = Embargoes::of(ev, c.p);
    if let Some(out) = scope_rule(ev, c, &embargoes) {
        return Ok(out);
    }
    if let Some(why) = embargoes.why(c.p) {
        return embargo_rule(ev, c, &embargoes, why);
    }
    if !c.datacenter_a() {
        return Ok(non_datacenter_rule(ev, c));
    }
    datacenter_rule(ev, c, embargoes.hq_taint.is_some())
}

/// Whether a license is required at all: the regime's scope by item, country or headquarters.
/// Outside it, no license requirement (the answer); inside, the reason is recorded.
fn scope_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>, embargoes: &Embargoes) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let (p, eccn) = (c.p, c.eccn);
    let scope_reason = if spec.scope.a_datacenter_worldwide && eccn.is_a_type() {
        Some((
            &spec.scope.a_citation,
            format!("{eccn} requires a license to every destination"),
        ))
    } else if let Some(r) = ev.in_country_scope(p.dest) {
        Some((&spec.scope.citation, r))
    } else if let Some(r) = p.ultimate.and_then(|u| ev.in_country_scope(u)) {
        Some((&spec.scope.citation, format!("ultimate destination: {r}")))
    } else {
        embargoes.hq_taint.as_ref().map(|g| {
            (
                &spec.scope.hq_taint_citation,
                format!("consignee or its ultimate parent is headquartered in {g}"),
            )
        })
    };
    let Some((cite, why)) = scope_reason else {
        ev.trail.reason("scope.outside", &spec.scope.citation, || {
            format!(
                "no license requirement for {eccn} to {} for this consignee under `{}`",
                p.dest, spec.id
            )
        });
        return Some(outcome(Authorization::Nlr));
    };
    ev.trail.reason("scope.license_requirement", cite, || why);
    None
}

/// Tier 3 / D:5 / Macau: presumption of denial; only ACA (transfers) and NAC survive, for items
/// they cover, and the January 2026 review for exports from the United States.
fn embargo_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    embargoes: &Embargoes,
    why: String,
) -> Result<Outcome, DetermineError> {
    let spec = &ev.regime.spec;
    let eccn = c.eccn;
    if !c.datacenter_a()
        && c.input.transaction == Some(Transaction::Transfer)
        && let Some(cite) = spec
            .aca
            .as_ref()
            .and_then(|a| a.transfers_within_citation.as_ref())
    {
        ev.trail.reason("aca.eligible_transfer", cite, || {
            format!("{why}; {eccn} not designed for datacenters or .b, transferred within the country: License Exception ACA, no notice")
        });
        return Ok(outcome(Authorization::Aca));
    }
    if !c.datacenter_a()
        && let Some(nac) = &spec.nac
    {
        ev.trail.reason(
            "nac.eligible",
            &nac.citation,
            || format!("{why}; {eccn} not designed for datacenters or .b: License Exception NAC after notice"),
        );
        ev.trail.oblige(
            "nac.notify",
            &nac.citation,
            || format!(
                "notify BIS (SNAP-R) at least {} days before shipment, with TPP, PD and datasheet; ship only on confirmation",
                nac.notice_days
            ),
        );
        return Ok(outcome(Authorization::Nac));
    }
    let by_destination = embargoes.dest.is_some() || embargoes.ultimate.is_some();
    if let Some(out) = us_export_review(ev, c.p, c.input, c.metrics, by_destination)? {
        return Ok(out);
    }
    ev.trail
        .reason("tier3.denial", &spec.review.tier3_citation, || {
            format!("{why}: license required, presumption of denial, no exception")
        });
    let review = ev.review(spec.review.tier3);
    Ok(license(review))
}

/// Items NAC/ACA cover (non-datacenter .a, and .b) outside Tier 3: AIA, ACA or NAC without
/// notice, else a license under the default review.
fn non_datacenter_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Outcome {
    let spec = &ev.regime.spec;
    let eccn = c.eccn;
    if eccn.is_a_type()
        && let Some(aia) = aia_chip_eligible(ev, c.p, c.tiers.destination, c.tiers.consignee)
    {
        ev.trail.reason("aia.eligible", &aia, || {
            "Tier 1 destination and Tier 1 headquarters: License Exception AIA".into()
        });
        return outcome(Authorization::Aia);
    }
    if let Some(aca) = &spec.aca {
        let tier_note = if aca.tier2 && c.tiers.destination == Some(Tier::Two) {
            "Tier 2 destination"
        } else {
            "destination in the country scope"
        };
        ev.trail.reason(
            "aca.eligible",
            &aca.citation,
            || format!("{eccn} not designed for datacenters or .b, {tier_note}: License Exception ACA, no notice"),
        );
        return outcome(Authorization::Aca);
    }
    if let Some(cite) = spec
        .nac
        .as_ref()
        .and_then(|n| n.without_notice_citation.as_ref())
    {
        ev.trail.reason("nac.eligible_no_notice", cite, || {
            format!("{eccn} not designed for datacenters or .b, destination outside Macau/D:5: License Exception NAC without notice")
        });
        return outcome(Authorization::Nac);
    }
    ev.trail.reason(
        "license.review_default",
        &spec.review.default_citation,
        || "no exception covers the item here".into(),
    );
    let review = ev.review(spec.review.default);
    license(review)
}

/// Datacenter .a items outside Tier 3: AIA, ACM, a VEU, LPP, else a license by tier and
/// allocation.
fn datacenter_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    hq_taint: bool,
) -> Result<Outcome, DetermineError> {
    let spec = &ev.regime.spec;
    let ctx = &c.input.context;
    if let Some(aia) = aia_chip_eligible(ev, c.p, c.tiers.destination, c.tiers.consignee) {
        ev.trail.reason(
            "aia.eligible",
            &aia,
            || format!(
                "destination {} is Tier 1 and the consignee and its ultimate parent are headquartered in Tier 1: License Exception AIA",
                c.p.dest
            ),
        );
        aia_obligations(ev, c.total_tpp, ctx.consignee_aia_cumulative_tpp);
        return Ok(outcome(Authorization::Aia));
    }
    if let Some(out) = acm_rule(ev, c.input) {
        return Ok(out);
    }
    if let Some(out) = veu_rule(ev, c) {
        return Ok(out);
    }
    if let (Some(dc), None, Some(v)) = (&spec.dc_veu, &spec.veu, &c.input.consignee.veu) {
        ev.trail.reason(
            "dc_veu.not_evaluated",
            &dc.citation,
            || format!(
                "consignee claims VEU `{}`: {}; aidf does not evaluate these authorizations, so the license requirement is reported as if there were none",
                v.id, dc.note
            ),
        );
    }
    if let Some(lpp) = &spec.lpp
        && let Some(out) = lpp_rule(ev, c, lpp, hq_taint)
    {
        return Ok(out);
    }
    Ok(license_review_rule(ev, c))
}

/// License Exception ACM: its end uses by a private-sector end user.
fn acm_rule(ev: &mut Eval<'_>, input: &DeterminationInput) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let acm = spec.acm.as_ref()?;
    let end_use = input.end_use.unwrap_or_default();
    if !end_use.is_acm_end_use() {
        return None;
    }
    if input.consignee.government {
        ev.trail
            .reason("acm.unavailable_government", &acm.citation, || {
                "ACM is for private-sector end users; the consignee is a government end user".into()
            });
        return None;
    }
    ev.trail.reason(
        "acm.eligible",
        &acm.citation,
        || format!(
            "{end_use:?} by a private-sector end user for items bound outside Macau/D:5: License Exception ACM"
        )
        .to_lowercase(),
    );
    ev.trail.oblige("acm.records", &acm.citation, || {
        "keep per-facility distribution records, updated at least every six months".into()
    });
    let s = spec.switches.acm_counts_against_allocation.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("acm_counts_against_allocation", s)));
    let mut out = outcome(Authorization::Acm);
    if s.is_some_and(|s| s.value) {
        out.counts.push(Counter::CountryAllocation);
    }
    Some(out)
}

/// The consignee's validated-end-user authorization, where the regime has VEUs.
fn veu_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Option<Outcome> {
    let regime: &Regime = ev.regime;
    let (veu, v) = (regime.spec.veu.as_ref()?, c.input.consignee.veu.as_ref()?);
    match v.kind {
        VeuKind::Uveu => uveu_rule(ev, c.p, veu, v),
        VeuKind::Nveu => nveu_rule(ev, c, veu, v),
    }
}

/// UVEU: §748.15(b)(2)(i): headquartered in, or ultimate parent headquartered in, Tier 1.
fn uveu_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    veu: &crate::regime::Veu,
    v: &crate::input::VeuRef,
) -> Option<Outcome> {
    let t1 = ev.tier(p.hq) == Some(Tier::One) || ev.tier(p.parent) == Some(Tier::One);
    if t1 {
        ev.trail.reason(
            "uveu.authorized",
            &veu.uveu_citation,
            || format!(
                "consignee holds UVEU `{}` (headquarters or ultimate parent in Tier 1): shipment under its authorization; does not draw the country allocation",
                v.id
            ),
        );
        return Some(outcome(Authorization::Uveu));
    }
    ev.trail
        .reason("uveu.hq_not_tier1", &veu.uveu_citation, || {
            format!(
                "UVEU `{}` requires headquarters or ultimate parent in Tier 1; HQ {} / parent {} are not",
                v.id, p.hq, p.parent
            )
        });
    None
}

/// NVEU: the shipment fits the destination's installed-base schedule on the date.
fn nveu_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    veu: &crate::regime::Veu,
    v: &crate::input::VeuRef,
) -> Option<Outcome> {
    let regime: &Regime = ev.regime;
    let s = regime.spec.switches.nveu_schedule_reading.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("nveu_schedule_reading", s)));
    let Some(limit) = regime.nveu_limit_tpp(ev.date) else {
        ev.trail.reason("nveu.no_schedule", &veu.nveu_citation, || {
            format!("the NVEU schedule does not cover {}", ev.date)
        });
        return None;
    };
    let (installed, total_tpp, date) = (c.input.context.nveu_installed_tpp, c.total_tpp, ev.date);
    let after = installed.saturating_add(total_tpp);
    if after <= limit {
        ev.trail
            .reason("nveu.within_schedule", &veu.nveu_citation, || {
                format!(
                    "NVEU `{}`: installed base {} + {} = {} <= {} TPP permitted in {} on {date}",
                    v.id,
                    thousands(installed.into()),
                    thousands(total_tpp.into()),
                    thousands(after.into()),
                    thousands(limit.into()),
                    c.p.dest,
                )
            });
        let mut out = outcome(Authorization::Nveu);
        out.counts.push(Counter::NveuAllocation);
        return Some(out);
    }
    ev.trail
        .reason("nveu.exceeds_schedule", &veu.nveu_citation, || {
            format!(
                "NVEU `{}`: installed base {} + {} = {} exceeds the {} TPP permitted on {date}",
                v.id,
                thousands(installed.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(limit.into()),
            )
        });
    None
}

/// A license: its review policy by destination tier and, in Tier 2, the country allocation.
fn license_review_rule(ev: &mut Eval<'_>, c: &ChipCase<'_>) -> Outcome {
    let spec = &ev.regime.spec;
    let p = c.p;
    match c.tiers.destination {
        Some(Tier::One) => {
            let s = spec.switches.tier1_license_review.as_ref();
            ev.switch_assume(s.and_then(|s| Regime::assumption("tier1_license_review", s)));
            let review = s.map(|s| s.value).unwrap_or(spec.review.default);
            ev.trail.reason(
                "license.tier1",
                &spec.review.default_citation,
                || format!(
                    "Tier 1 destination but AIA is unavailable (headquarters {} / parent {}): license required",
                    p.hq, p.parent
                ),
            );
            license(review)
        }
        Some(_) => match &spec.allocation {
            Some(a) => allocation_rule(ev, p, a, c.total_tpp, &c.input.context),
            None => {
                ev.trail.reason(
                    "license.review_default",
                    &spec.review.default_citation,
                    || "license required".into(),
                );
                let review = ev.review(spec.review.default);
                license(review)
            }
        },
        None => untiered_review_rule(ev, p),
    }
}

/// A license where the regime has no tiers: denial for the denial groups, else the default.
fn untiered_review_rule(ev: &mut Eval<'_>, p: &Parties) -> Outcome {
    let regime: &Regime = ev.regime;
    let spec = &regime.spec;
    if let Some(g) = ev.member_of_any(p.dest, &regime.resolved.denial_groups) {
        let gid = ev.group_id(g);
        ev.trail
            .reason("license.review_denial", &spec.review.tier3_citation, || {
                format!("destination {} is in {gid}: presumption of denial", p.dest)
            });
        let review = ev.review(spec.review.tier3);
        return license(review);
    }
    let review = ev.review(spec.review.default);
    ev.trail.reason(
        "license.review_default",
        &spec.review.default_citation,
        || format!(
            "license required; review policy {review} for {} (not Macau/D:5, no Macau/D:5 headquarters)",
            p.dest
        ),
    );
    license(review)
}

/// The January 2026 rule: exports *from the United States* to the named destinations of items
/// below its parameters get its review policy (case-by-case) with its conditions as obligations;
/// other transactions, and items at or above the parameters, keep the presumption of denial.
fn us_export_review(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    metrics: &Metrics,
    by_destination: bool,
) -> Result<Option<Outcome>, DetermineError> {
    let spec = &ev.regime.spec;
    let Some(u) = &spec.us_export_review else {
        return Ok(None);
    };
    let covered = &ev.regime.resolved.us_export_countries;
    let dest = [Some(p.dest), p.ultimate]
        .into_iter()
        .flatten()
        .find(|c| covered.contains(c));
    let (Some(dest), true) = (dest, by_destination) else {
        return Ok(None);
    };
    let tx = input.transaction.unwrap_or_default();
    let tx_name = serde_json::to_value(tx)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    if !u.transactions.contains(&tx) {
        ev.trail.reason(
            "us_export_review.transaction_not_covered",
            &u.citation,
            || format!(
                "the {} review policy for {dest} covers exports from the United States only; a `{tx_name}` keeps the presumption of denial",
                u.review
            ),
        );
        return Ok(None);
    }
    let fmt = |d: rust_decimal::Decimal| d.normalize().to_string();
    if metrics.tpp >= u.tpp_below {
        ev.trail
            .reason("us_export_review.above_parameters", &u.citation, || {
                format!(
                    "TPP {} is not below {}: the {} review policy does not apply",
                    fmt(metrics.tpp),
                    fmt(u.tpp_below),
                    u.review
                )
            });
        return Ok(None);
    }
    let Some(bw) = metrics.dram_bandwidth_gbs else {
        return Err(DetermineError::Item(format!(
            "regime `{}` tests total DRAM bandwidth < {} GB/s for exports to {dest}, and the item has none: {}",
            spec.id,
            fmt(u.dram_bandwidth_gbs_below),
            match &input.item.chip {
                Some(c) => format!(
                    "chip `{c}` has no `memory_bandwidth_tbs` in the catalog; give the item as metrics with `dram_bandwidth_gbs`"
                ),
                None => "give `dram_bandwidth_gbs`".into(),
            }
        )));
    };
    if bw >= u.dram_bandwidth_gbs_below {
        ev.trail.reason(
            "us_export_review.above_parameters",
            &u.citation,
            || format!(
                "total DRAM bandwidth {} GB/s is not below {} GB/s: the {} review policy does not apply",
                fmt(bw),
                fmt(u.dram_bandwidth_gbs_below),
                u.review
            ),
        );
        return Ok(None);
    }
    ev.trail.reason(
        "us_export_review.applies",
        &u.citation,
        || format!(
            "export from the United States to {dest} of an item with TPP {} < {} and DRAM bandwidth {} GB/s < {} GB/s: license, {} review (was presumption of denial)",
            fmt(metrics.tpp),
            fmt(u.tpp_below),
            fmt(bw),
            fmt(u.dram_bandwidth_gbs_below),
            u.review
        ),
    );
    let cite = u.citation.clone();
    for c in &u.conditions {
        ev.trail
            .oblige_owned(Arc::from(c.id.as_str()), &cite, || c.detail.clone());
    }
    Ok(Some(license(u.review)))
}

/// AIA for chips: Tier 1 destination, Tier 1 headquarters and ultimate parent, approved designer.
fn aia_chip_eligible(
    ev: &mut Eval<'_>,
    p: &Parties,
    destination_tier: Option<Tier>,
    consignee_tier: Option<Tier>,
) -> Option<Arc<str>> {
    let aia = ev.regime.spec.aia.as_ref()?;
    if destination_tier != Some(Tier::One) {
        return None;
    }
    if consignee_tier != Some(Tier::One) {
        ev.trail.reason("aia.unavailable_hq", &aia.citation, || {
            format!(
                "AIA unavailable: consignee HQ {} / ultimate parent HQ {} not both in Tier 1",
                p.hq, p.parent
            )
        });
        return None;
    }
    let s = ev.regime.spec.switches.designers_assumed_approved.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("designers_assumed_approved", s)));
    if !s.is_some_and(|s| s.value) {
        ev.trail
            .reason("aia.designer_not_approved", &aia.citation, || {
                "AIA needs an approved or authorized IC designer; not assumed".into()
            });
        return None;
    }
    Some(aia.citation.clone())
}

/// AIA's obligations: the notice and certification, and the report once the consignee's
/// cumulative AIA TPP reaches the reporting trigger.
fn aia_obligations(ev: &mut Eval<'_>, total_tpp: u64, cumulative_tpp: u64) {
    let spec = &ev.regime.spec;
    let Some(aia) = &spec.aia else { return };
    let cite = aia.citation.clone();
    ev.trail.oblige(
        "aia.notice",
        &cite,
        || "give the consignee the ECCN and written notice that the shipment is under AIA; obtain the one-time ultimate-consignee certification".into(),
    );
    if let Some(s) = &spec.switches.aia_reporting_trigger_tpp {
        let after = cumulative_tpp.saturating_add(total_tpp);
        let a = Regime::assumption("aia_reporting_trigger_tpp", s);
        let reporting = aia.reporting_citation.clone();
        if after >= s.value {
            ev.switch_assume(a);
            ev.trail.oblige(
                "aia.report",
                &reporting,
                || format!(
                    "consignee's cumulative AIA TPP {} reaches {}: submit the certification to BIS (EARReports) before shipment",
                    thousands(after.into()),
                    thousands(s.value.into())
                ),
            );
        } else {
            ev.trail.reason("aia.no_report", &reporting, || {
                format!(
                    "cumulative AIA TPP {} is below the {} reporting trigger",
                    thousands(after.into()),
                    thousands(s.value.into())
                )
            });
        }
    }
}

/// License Exception LPP: the consignee's calendar-year limit, unless the transaction, a
/// headquarters taint or a D:1-D:4 destination puts it out of reach.
fn lpp_rule(
    ev: &mut Eval<'_>,
    c: &ChipCase<'_>,
    lpp: &crate::regime::Lpp,
    hq_taint: bool,
) -> Option<Outcome> {
    let spec = &ev.regime.spec;
    let (p, total_tpp) = (c.p, c.total_tpp);
    let ytd_tpp = c.input.context.consignee_ytd_tpp;
    let tx = c.input.transaction.unwrap_or_default();
    if tx == Transaction::Transfer {
        let s = spec.switches.lpp_in_country_transfers.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_in_country_transfers", s)));
        if !s.is_some_and(|s| s.value) {
            ev.trail.reason("lpp.unavailable_transfer", &lpp.citation, || {
                "LPP authorizes export and reexport; an in-country transfer is read as outside it".into()
            });
            return None;
        }
    }
    if hq_taint {
        let s = spec.switches.lpp_excludes_d5_hq.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_excludes_d5_hq", s)));
        if s.is_some_and(|s| s.value) {
            ev.trail.reason("lpp.unavailable_hq", &lpp.citation, || {
                "LPP unavailable to parties headquartered in Macau/D:5".into()
            });
            return None;
        }
    }
    let d1d4 = ev.regime.resolved.d1_d4.clone();
    if let Some(g) = ev.member_of_any(p.dest, &d1d4) {
        let s = spec.switches.lpp_in_d1_d4.as_ref();
        ev.switch_assume(s.and_then(|s| Regime::assumption("lpp_in_d1_d4", s)));
        if !s.is_some_and(|s| s.value) {
            let gid = ev.group_id(g);
            ev.trail.reason("lpp.unavailable_d1_d4", &lpp.citation, || {
                format!(
                    "LPP read as unavailable in {gid} destinations ({} is one)",
                    p.dest
                )
            });
            return None;
        }
    }
    let cap = lpp.tpp_per_consignee_year;
    let after = ytd_tpp.saturating_add(total_tpp);
    let year = ev.date.year();
    if after <= cap {
        ev.trail.reason(
            "lpp.within_limit",
            &lpp.citation,
            || format!(
                "consignee's {year} LPP total {} + {} = {} <= {} TPP: License Exception LPP; does not draw the country allocation",
                thousands(ytd_tpp.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(cap.into())
            ),
        );
        ev.trail.oblige(
            "lpp.certify",
            &lpp.citation,
            || "obtain the consignee's certification of its calendar-year LPP total; the consignee notifies BIS on reaching the limit".into(),
        );
        let mut out = outcome(Authorization::Lpp);
        out.counts.push(Counter::LppAnnual);
        return Some(out);
    }
    ev.trail.reason("lpp.exceeds_limit", &lpp.citation, || {
        format!(
            "consignee's {year} LPP total {} + {} = {} would exceed {} TPP: LPP unavailable",
            thousands(ytd_tpp.into()),
            thousands(total_tpp.into()),
            thousands(after.into()),
            thousands(cap.into())
        )
    });
    None
}

/// A Tier 2 license against the country allocation: presumption of approval within it, of
/// denial (by the switch) beyond it; outside the allocation window, case by case.
fn allocation_rule(
    ev: &mut Eval<'_>,
    p: &Parties,
    a: &crate::regime::Allocation,
    total_tpp: u64,
    ctx: &crate::input::Context,
) -> Outcome {
    let spec = &ev.regime.spec;
    let ce = spec.switches.allocation_consumption_event.as_ref();
    ev.switch_assume(ce.and_then(|s| Regime::assumption("allocation_consumption_event", s)));
    if ev.date < a.window_start || ev.date > a.window_end {
        ev.trail.reason(
            "allocation.outside_window",
            &a.citation,
            || format!(
                "{} is outside the allocation window {}..{}; the rule states no review policy for it",
                ev.date, a.window_start, a.window_end
            ),
        );
        return license(ReviewPolicy::CaseByCase);
    }
    let base_cap = a.cap_for(p.dest.as_str());
    let (cap, g2g) = if ctx.gov_to_gov_agreement {
        (
            base_cap.saturating_mul(a.g2g_multiplier),
            " (doubled under a government-to-government arrangement)",
        )
    } else {
        (base_cap, "")
    };
    let after = ctx.country_allocation_used_tpp.saturating_add(total_tpp);
    if after <= cap {
        ev.trail.reason("allocation.within", &a.citation, || {
            format!(
                "{} allocation: {} used + {} = {} <= {} TPP{g2g}: license, presumption of approval",
                p.dest,
                thousands(ctx.country_allocation_used_tpp.into()),
                thousands(total_tpp.into()),
                thousands(after.into()),
                thousands(cap.into())
            )
        });
        let mut out = license(spec.review.default);
        out.counts.push(Counter::CountryAllocation);
        return out;
    }
    let s = spec.switches.allocation_exhausted_review.as_ref();
    ev.switch_assume(s.and_then(|s| Regime::assumption("allocation_exhausted_review", s)));
    ev.trail.reason(
        "allocation.exhausted",
        &a.citation,
        || format!(
            "{} allocation: {} used + {} = {} would exceed {} TPP{g2g}: license, presumption of denial",
            p.dest,
            thousands(ctx.country_allocation_used_tpp.into()),
            thousands(total_tpp.into()),
            thousands(after.into()),
            thousands(cap.into())
        ),
    );
    // A license granted beyond the allocation would still draw it: the draw stays, so the ledger
    // refuses it unless the allocation has room by then.
    let mut out = license(s.map(|s| s.value).unwrap_or(ReviewPolicy::Denial));
    out.counts.push(Counter::CountryAllocation);
    out
}
