//! The committed snapshot of the default lists (`policy/lists/csl.snapshot`): current with the
//! CSV, read in place by `ListSet::default_lists`, and giving byte-identical answers to the full
//! build; stale or damaged snapshots are passed over for the list files.

use std::sync::OnceLock;

use aidf_screen::{
    DEFAULT_SNAPSHOT, DEFAULT_SNAPSHOT_FILE, ListSet, Party, PartyType, ScoreParams, SnapshotBytes,
    SnapshotError, Thresholds, default_fingerprint,
};

fn built() -> &'static ListSet {
    static BUILT: OnceLock<ListSet> = OnceLock::new();
    BUILT.get_or_init(|| ListSet::default_lists_built().expect("default lists build"))
}

fn fast() -> &'static ListSet {
    static FAST: OnceLock<ListSet> = OnceLock::new();
    FAST.get_or_init(|| ListSet::default_lists().expect("default lists load"))
}

#[test]
fn committed_snapshot_is_current() {
    let rebuilt = built()
        .to_snapshot(default_fingerprint())
        .expect("a built set has a snapshot");
    assert!(
        rebuilt == DEFAULT_SNAPSHOT,
        "{DEFAULT_SNAPSHOT_FILE} is stale ({} bytes, rebuilt {}): run \
         `cargo run --release -p aidf-screen --example build-lists-snapshot`",
        DEFAULT_SNAPSHOT.len(),
        rebuilt.len()
    );
}

#[test]
fn default_lists_read_the_snapshot_with_the_same_versions_and_entries() {
    let (fast, built) = (fast(), built());
    assert!(fast.is_snapshot(), "{:?}", fast.note());
    assert_eq!(fast.note(), None);
    assert_eq!(fast.versions, built.versions);
    assert_eq!(fast.entry_count(), built.entry_count());
    assert_eq!(fast.name_count(), built.name_count());
    for (a, b) in fast.entries().zip(built.entries()) {
        assert_eq!(a, b);
    }
}

/// Names to screen: issue 14's, near misses, several scripts, and every 211th listed name and
/// alias as published, with a typo and upper-cased.
fn names(set: &ListSet) -> Vec<String> {
    let mut names: Vec<String> = [
        "Huawei Technologies Co., Ltd.",
        "华为技术有限公司",
        "Bank Melli Iran",
        "Huawei Technologies Research Co., Ltd.",
        "Huawei Technologeis Co Ltd",
        "Semiconductor Manufacturing International Corporation",
        "Газпромбанк",
        "Путин Владимир Владимирович",
        "بنك ملي ايران",
        "شركة النور للتجارة",
        "Consignee 1 Sdn Bhd",
        "Acme Widgets of Ohio LLC",
        "Mohammed Al Hassan",
        "Rosoboronexport",
        "Company Limited",
    ]
    .map(str::to_owned)
    .to_vec();
    for entry in set.entries().step_by(211) {
        names.push(entry.name.clone());
        names.push(entry.name.to_uppercase());
        let mut chars: Vec<char> = entry.name.chars().collect();
        if chars.len() > 4 {
            chars.swap(2, 3);
        }
        names.push(chars.into_iter().collect());
        names.extend(entry.alt_names.first().cloned());
    }
    names
}

#[test]
fn snapshot_answers_equal_the_full_build_byte_for_byte() {
    let (fast, built) = (fast(), built());
    let (thresholds, params) = (Thresholds::default(), ScoreParams::default());
    let qualifiers = [
        (None, None),
        (Some("CN"), Some(PartyType::Organization)),
        (Some("IR"), Some(PartyType::Person)),
    ];
    for name in names(built) {
        for (country, party_type) in qualifiers {
            let party = Party {
                name: &name,
                country,
                party_type,
            };
            let a = fast
                .screen(&party, thresholds, &params)
                .map(|s| to_json(&s));
            let b = built
                .screen(&party, thresholds, &params)
                .map(|s| to_json(&s));
            assert_eq!(a, b, "{name} {country:?} {party_type:?}");
        }
        let a = fast.compare(&name, "Huawei Technologies", false, thresholds, &params);
        let b = built.compare(&name, "Huawei Technologies", false, thresholds, &params);
        assert_eq!(a.map(|c| to_json(&c)), b.map(|c| to_json(&c)), "{name}");
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("serializes")
}

#[test]
fn stale_or_damaged_snapshots_are_passed_over() {
    let open = |bytes: Vec<u8>, fingerprint| {
        ListSet::from_snapshot("x.snapshot", SnapshotBytes::Owned(bytes), fingerprint, true)
    };
    let good = DEFAULT_SNAPSHOT.to_vec();
    let stale = open(good.clone(), default_fingerprint() ^ 1);
    assert!(
        matches!(stale, Err(SnapshotError::Stale { .. })),
        "{stale:?}"
    );
    assert!(matches!(
        open(Vec::new(), default_fingerprint()),
        Err(SnapshotError::Magic { .. })
    ));
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let damaged = open(flipped, default_fingerprint());
    assert!(
        matches!(damaged, Err(SnapshotError::Corrupt { .. })),
        "{damaged:?}"
    );
    let truncated = open(good[..good.len() - 9].to_vec(), default_fingerprint());
    assert!(
        matches!(truncated, Err(SnapshotError::Corrupt { .. })),
        "{truncated:?}"
    );
    assert!(open(good, default_fingerprint()).is_ok());
}

#[test]
fn a_stale_snapshot_falls_back_to_the_list_files_and_says_so() {
    let set = ListSet::from_snapshot_or_build(
        "x.snapshot",
        SnapshotBytes::Static(DEFAULT_SNAPSHOT),
        default_fingerprint() ^ 1,
        false,
        ListSet::default_lists_built,
    )
    .expect("builds");
    assert!(!set.is_snapshot());
    let note = set.note().expect("a note");
    assert!(note.contains("x.snapshot: stale"), "{note}");
    let party = Party {
        name: "Bank Melli Iran",
        country: None,
        party_type: None,
    };
    let (t, p) = (Thresholds::default(), ScoreParams::default());
    let a = set.screen(&party, t, &p).map(|s| to_json(&s));
    let b = fast().screen(&party, t, &p).map(|s| to_json(&s));
    assert_eq!(a, b);
}
