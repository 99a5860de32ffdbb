//! `Policy::select`: a pinned id or the timeline, and one message for each way it fails.

use aidf_core::policy::SelectError;
use aidf_core::{Policy, Posture};
use chrono::NaiveDate;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

#[test]
fn a_pinned_id_wins_over_the_date_and_has_no_timeline_entry() {
    let p = Policy::embedded().expect("policy");
    // Long before the timeline starts: the pin alone decides.
    let s = p
        .select(Some("ac-2023"), day("2000-01-01"), Posture::AsEnforced)
        .expect("pinned");
    assert_eq!(s.regime.spec.id, "ac-2023");
    assert!(s.entry.is_none());
}

#[test]
fn without_a_pin_the_posture_s_timeline_decides() {
    let p = Policy::embedded().expect("policy");
    let date = day("2025-06-01");
    let written = p
        .select(None, date, Posture::AsWritten)
        .expect("as written");
    let enforced = p
        .select(None, date, Posture::AsEnforced)
        .expect("as enforced");
    assert_eq!(written.regime.spec.id, "ai-diffusion-2025");
    assert_ne!(enforced.regime.spec.id, written.regime.spec.id);
    let entry = written.entry.expect("timeline entry");
    assert_eq!(entry.regime, "ai-diffusion-2025");
    assert!(entry.from <= date);
}

#[test]
fn an_unknown_pin_names_the_field_the_value_and_the_known_ids() {
    let p = Policy::embedded().expect("policy");
    let e = p
        .select(Some("ai-2030"), day("2025-06-01"), Posture::AsWritten)
        .expect_err("unknown");
    assert_eq!(e.field(), "regime");
    let known: Vec<&str> = p.regimes.iter().map(|r| r.spec.id.as_str()).collect();
    assert_eq!(
        e.to_string(),
        format!(
            "field `regime`: unknown regime `ai-2030`; known: {}",
            known.join(", ")
        )
    );
    assert!(e.detail().starts_with("unknown regime `ai-2030`; known: "));
}

#[test]
fn a_date_before_the_timeline_names_the_date_and_where_the_timeline_starts() {
    let p = Policy::embedded().expect("policy");
    let e = p
        .select(None, day("2020-01-01"), Posture::AsWritten)
        .expect_err("uncovered");
    assert_eq!(e.field(), "date");
    let start = p.earliest_date(Posture::AsWritten).expect("start");
    assert!(
        matches!(e, SelectError::NoRegime { earliest: Some(d), .. } if d == start),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "field `date`: no regime is in force on 2020-01-01 under posture as_written (the timeline starts on {start})"
        )
    );
    assert_eq!(
        e.detail(),
        format!(
            "no regime is in force on 2020-01-01 under posture as_written (the timeline starts on {start})"
        )
    );
}
