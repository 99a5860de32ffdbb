//! License requirements of their own (part 744 and part 746: embargoes, the Entity List, end
//! uses, the Military End-User list), which bar every license exception where they apply.

use std::sync::Arc;

use crate::classify::Eccn;
use crate::explain::Assumption;
use crate::input::DeterminationInput;
use crate::regime::{Regime, ReviewPolicy};
use crate::restrict::{EntryItems, ItemReach, ItemStatus, stricter};

use super::parties::is_domestic;
use super::{Authorization, Eval, Outcome, Parties, license};

/// Part 746 and the Entity List: license requirements of their own, whatever the
/// advanced-computing rules answer. Where either applies, no license exception may be used
/// (15 CFR 740.2(a), 740.8(b), 744.11(a)): an exception the rules found is withdrawn, and a license
/// the rules required keeps the stricter review policy.
pub(super) fn with_independent(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
    eccn: Option<Eccn>,
    out: Outcome,
) -> Outcome {
    if is_domestic(ev, p) {
        return out;
    }
    let found = [
        embargo_requirement(ev, p, input, status),
        entity_list_requirement(ev, input, status, eccn),
        end_use_requirement(ev, p, input, status),
        meu_requirement(ev, input, status),
    ];
    let Some(review) = found.into_iter().flatten().reduce(stricter) else {
        return out;
    };
    let cite = ev.policy.restrictions.exceptions_barred_citation.clone();
    if out.authorization == Authorization::License {
        let review = out.review.map_or(review, |r| stricter(r, review));
        return Outcome {
            review: Some(review),
            ..out
        };
    }
    let had = out.authorization;
    // The withdrawn exception's own findings are not part of the answer.
    let family = format!("{}.", had.as_str().to_ascii_lowercase());
    ev.trail.reasons.retain(|r| !r.rule.starts_with(&family));
    ev.trail.reason("exceptions.barred", &cite, || {
        format!("a part 744 or part 746 requirement applies: no license exception may be used, so `{had}` is not available; license required, review policy {review}")
    });
    ev.trail.obligations.clear();
    license(review)
}

/// Whether a requirement reaching `reach` covers an item of `status` (chips below 3A090 through the
/// `below_3a090_on_ccl` switch, reported when it decides).
fn reaches_item(ev: &mut Eval<'_>, reach: ItemReach, status: ItemStatus) -> bool {
    if reach == ItemReach::Ccl && status == ItemStatus::BelowCcl {
        let s = &ev.policy.restrictions.switches.below_3a090_on_ccl;
        ev.switch_assume(Regime::assumption("below_3a090_on_ccl", s));
        return s.value;
    }
    crate::restrict::reaches(reach, status)
}

/// The part 746 requirements covering the destination (or the ultimate destination).
fn embargo_requirement(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    let policy = ev.policy;
    let tx = input.transaction.unwrap_or_default();
    let region = input.destination_region.as_deref();
    let places = [(Some(p.dest), region), (p.ultimate, None)];
    let mut review = None;
    for (code, region) in places {
        let Some(code) = code else { continue };
        for e in policy.restrictions.embargoes_on(code, region, ev.date, tx) {
            if !reaches_item(ev, e.items, status) {
                continue;
            }
            if let Some(sw) = &e.unconfirmed {
                ev.trail.assume(Assumption {
                    switch: sw.clone(),
                    value: e.review.to_string(),
                    confidence: Arc::from("U"),
                    detail: e.note.clone(),
                });
            }
            ev.trail
                .reason("embargo.license_required", &e.citation, || {
                    format!(
                        "{code}{}: part 746 requires a license ({}); review: {} ({})",
                        region.map(|r| format!(" ({r})")).unwrap_or_default(),
                        e.note,
                        e.review,
                        e.review_citation
                    )
                });
            review = Some(review.map_or(e.review, |r| stricter(r, e.review)));
        }
    }
    review
}

/// The Entity List requirement for a listed consignee: the input's entry, or the common one.
fn entity_list_requirement(
    ev: &mut Eval<'_>,
    input: &DeterminationInput,
    status: ItemStatus,
    eccn: Option<Eccn>,
) -> Option<ReviewPolicy> {
    let c = &input.consignee;
    if !c.listed && c.entity_list.is_none() && !affiliate_of_listed(ev, input) {
        return None;
    }
    let dflt = &ev.policy.restrictions.entity_list;
    let (items, review) = match &c.entity_list {
        Some(e) => (e.items.clone(), e.review),
        None => (EntryItems::Reach(dflt.items), dflt.review),
    };
    let (mut cite, rcite) = (dflt.citation.clone(), dflt.review_citation.clone());
    if let Some(entry) = c.entity_list.as_ref().and_then(|e| e.citation.as_deref()) {
        cite = format!("{cite}; entry: {entry}").into();
    }
    let covered = match &items {
        EntryItems::Reach(r) => reaches_item(ev, *r, status),
        EntryItems::Eccns(list) => {
            eccn.is_some_and(|e| list.iter().any(|x| e.as_str().starts_with(x.as_str())))
        }
    };
    let who = c
        .entity_list
        .as_ref()
        .and_then(|e| e.party.clone())
        .unwrap_or_else(|| format!("consignee `{}`", c.name));
    if !covered {
        ev.trail.reason("party.listed_outside_scope", &cite, || {
            format!(
                "{who} is on the Entity List, but its entry's license requirement ({}) does not reach this item",
                scope_text(&items)
            )
        });
        return None;
    }
    let footnote = c.entity_list.as_ref().and_then(|e| e.footnote);
    ev.trail.reason("party.listed", &cite, || {
        format!(
            "{who} is on the Entity List; its entry requires a license ({}); review: {review} ({rcite}); no license exception{}",
            scope_text(&items),
            footnote
                .map(|n| format!("; entry footnote {n}: it extends the foreign direct product rules (rule-facts §14.2), so foreign-made items may be subject to the EAR too"))
                .unwrap_or_default()
        )
    });
    Some(review)
}

/// What an Entity List entry's license requirement reaches, in words.
fn scope_text(items: &EntryItems) -> String {
    match items {
        EntryItems::Reach(ItemReach::All) => "all items subject to the EAR".into(),
        EntryItems::Reach(ItemReach::Ccl) => "items on the CCL".into(),
        EntryItems::Eccns(l) => format!("ECCNs {}", l.join(", ")),
    }
}

/// Whether the Affiliates rule makes the consignee take its listed owners' restrictions.
fn affiliate_of_listed(ev: &mut Eval<'_>, input: &DeterminationInput) -> bool {
    let Some(share) = input.consignee.listed_owners_share_pct else {
        return false;
    };
    let a = &ev.policy.restrictions.affiliates;
    if share < a.share_min_pct || ev.date < a.from {
        return false;
    }
    let sw = &ev.policy.restrictions.switches.affiliates_suspension_until;
    if ev.date >= a.suspended_from {
        ev.switch_assume(Regime::assumption("affiliates_suspension_until", sw));
        if ev.date < sw.value {
            let until = sw.value;
            ev.trail.reason("party.affiliates_suspended", &a.suspension_citation, || {
                format!("the consignee is {share}% owned by listed parties, but the Affiliates rule is suspended until {until}")
            });
            return false;
        }
    }
    let min = a.share_min_pct;
    ev.trail.reason("party.affiliate_of_listed", &a.citation, || {
        format!("the consignee is {share}% owned by listed parties (at least {min}%): it takes their Entity List restrictions")
    });
    true
}

/// A part 744 end-use control for the input's `end_use` in the destination (or ultimate
/// destination).
fn end_use_requirement(
    ev: &mut Eval<'_>,
    p: &Parties,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    let end_use = input.end_use?;
    let policy = ev.policy;
    let r = &policy.restrictions;
    let (i, e) = r
        .end_use
        .iter()
        .enumerate()
        .find(|(_, e)| e.end_use == end_use)?;
    let (codes, groups) = &r.end_use_places[i];
    let place = [Some(p.dest), p.ultimate]
        .into_iter()
        .flatten()
        .find(|&c| codes.contains(&c) || ev.member_of_any(c, groups).is_some())?;
    if !reaches_item(ev, e.items, status) {
        return None;
    }
    ev.trail.assume(Assumption {
        switch: e.unconfirmed.clone(),
        value: e.id.clone(),
        confidence: Arc::from("U"),
        detail: e.note.clone(),
    });
    ev.trail
        .reason("end_use.license_required", &e.citation, || {
            format!(
                "end use `{}` in {place}: license required ({}); review: {} ({})",
                e.id, e.note, e.review, e.review_citation
            )
        });
    Some(e.review)
}

/// The Military End-User list's requirement for a listed consignee.
fn meu_requirement(
    ev: &mut Eval<'_>,
    input: &DeterminationInput,
    status: ItemStatus,
) -> Option<ReviewPolicy> {
    if !input.consignee.meu_listed {
        return None;
    }
    let m = &ev.policy.restrictions.meu_list;
    if !reaches_item(ev, m.items, status) {
        return None;
    }
    if let Some(switch) = &m.unconfirmed {
        ev.trail.assume(Assumption {
            switch: switch.clone(),
            value: "ccl".into(),
            confidence: Arc::from("U"),
            detail: m.note.clone(),
        });
    }
    let name = &input.consignee.name;
    ev.trail.reason("party.meu_listed", &m.citation, || {
        format!(
            "consignee `{name}` is on the Military End-User list: license required; review: {} ({})",
            m.review, m.review_citation
        )
    });
    Some(m.review)
}
