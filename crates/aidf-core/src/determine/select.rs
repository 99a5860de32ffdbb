//! Which regime answers: the pinned or timeline regime, or the later one an is-informed letter
//! applies, and the reasons recording how it was chosen.

use std::sync::Arc;

use crate::country::CountryCode;
use crate::explain::Assumption;
use crate::input::DeterminationInput;
use crate::policy::Policy;
use crate::regime::Regime;
use crate::terms::Posture;

use super::informed::letter_regime;
use super::{DetermineError, Eval, country};

/// The regime that answers `input`: the pinned one, or the one in force on its date under its
/// posture (with the timeline entry that put it there).
pub(crate) fn select_regime<'p>(
    policy: &'p Policy,
    input: &DeterminationInput,
) -> Result<
    (
        &'p Regime,
        &'static str,
        Option<&'p crate::policy::TimelineEntry>,
    ),
    DetermineError,
> {
    let posture = input.posture.unwrap_or_default();
    let selected = policy.select(input.regime.as_deref(), input.date, posture)?;
    let how = if selected.entry.is_some() {
        "timeline"
    } else {
        "pinned"
    };
    Ok((selected.regime, how, selected.entry))
}

/// The regime whose rules answer `input`: the selected one, or the later one an is-informed
/// letter applies at once to the item.
pub(crate) fn answering_regime<'p>(
    policy: &'p Policy,
    input: &DeterminationInput,
) -> Result<&'p Regime, DetermineError> {
    Ok(Selection::of(policy, input)?.regime)
}

/// A country field looked up and resolved through its aliases (Hong Kong is China).
pub(crate) fn canonical_country(
    policy: &Policy,
    field: &'static str,
    value: &str,
) -> Result<CountryCode, DetermineError> {
    Ok(policy.countries.canonical(country(policy, field, value)?).0)
}

/// The regime that answers a transaction and how it was chosen.
pub(super) struct Selection<'p> {
    /// The regime whose rules answer (the letter's, when one applies).
    pub(super) regime: &'p Regime,
    /// The regime the input pinned or the timeline put in force.
    pub(super) chosen: &'p Regime,
    /// `timeline`, `pinned` or `informed_letter` (see [`super::RegimeRef::selected_by`]).
    pub(super) selected_by: &'static str,
    /// The timeline entry that put `chosen` in force (none when pinned).
    pub(super) timeline_entry: Option<&'p crate::policy::TimelineEntry>,
    /// An is-informed letter of `chosen` that applies a later regime to the item.
    pub(super) letter: Option<(&'p Regime, &'p crate::regime::Informed)>,
}

impl<'p> Selection<'p> {
    /// Decides the answering regime: the pinned or timeline regime, or the later one an
    /// is-informed letter of the timeline's regime applies at once to the item (23 Oct 2023).
    pub(super) fn of(
        policy: &'p Policy,
        input: &DeterminationInput,
    ) -> Result<Self, DetermineError> {
        let (chosen, selected_by, timeline_entry) = select_regime(policy, input)?;
        let letter = match selected_by {
            "timeline" => letter_regime(policy, chosen, input, input.date),
            _ => None,
        };
        Ok(Selection {
            regime: letter.map_or(chosen, |(r, _)| r),
            chosen,
            selected_by: if letter.is_some() {
                "informed_letter"
            } else {
                selected_by
            },
            timeline_entry,
            letter,
        })
    }
}

/// Records how the regime was chosen: the timeline's unconfirmed dates, and the timeline, letter
/// or pin that put the regime in force.
pub(super) fn note_selection(ev: &mut Eval<'_>, sel: &Selection<'_>, posture: Posture) {
    let (policy, date, spec) = (ev.policy, ev.date, &sel.regime.spec);
    let Some(entry) = sel.timeline_entry else {
        let in_force = policy
            .regime_on(date, posture)
            .map(|(r, _)| r.spec.id == spec.id)
            .unwrap_or(false);
        ev.trail.reason("regime.pinned", &spec.citation, || {
            format!(
                "regime `{}` pinned by the input{}",
                spec.id,
                if in_force {
                    ""
                } else {
                    "; it is not the regime in force on this date under this posture"
                }
            )
        });
        return;
    };
    for u in policy.timeline.unconfirmed_on(date, posture) {
        ev.trail.assume(Assumption {
            switch: Arc::from(u.switch.as_str()),
            value: format!("{}..{}", u.from, u.until),
            confidence: Arc::from("U"),
            detail: Arc::from(u.note.as_str()),
        });
    }
    let t = &sel.chosen.spec;
    ev.trail.reason("regime.timeline", &t.citation, || {
        format!(
            "{date} under posture {posture}: `{}` applies from {} ({})",
            t.id, entry.from, entry.note
        )
    });
    if let Some((r, inf)) = sel.letter {
        ev.trail.reason("informed.regime_applied", &inf.citation, || {
            format!(
                "is-informed letter `{}`: for this item the requirements of `{}` apply from {} ({})",
                inf.id,
                r.spec.id,
                inf.from.map(|d| d.to_string()).unwrap_or_default(),
                inf.note
            )
        });
    }
}
