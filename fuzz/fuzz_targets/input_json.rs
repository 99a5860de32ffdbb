//! The JSON contract's parser and the engine on arbitrary text: an input either parses or gets an
//! error naming where; a parsed input is determined or refused with an error; nothing panics, and
//! the rule-ids answer is the full answer without its texts.
#![no_main]

use std::sync::LazyLock;

use aidf_core::{Detail, DeterminationInput, Policy, determine, determine_with};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| Policy::embedded().expect("embedded policy"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) = DeterminationInput::from_json(text) else {
        return;
    };
    let full = determine(&POLICY, &input);
    let lean = determine_with(&POLICY, &input, Detail::RuleIds);
    match (full, lean) {
        (Ok(mut full), Ok(lean)) => {
            full.reasons.iter_mut().for_each(|r| r.detail.clear());
            full.obligations.iter_mut().for_each(|o| o.detail.clear());
            assert_eq!(full, lean);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("full and rule-ids answers differ: {a:?} vs {b:?}"),
    }
});
