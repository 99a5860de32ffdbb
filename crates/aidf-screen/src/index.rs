//! The loaded lists: entries, their name variants, rarity weights and an inverted index for
//! candidate retrieval (no full scan per query).

use std::collections::HashMap;

use foldhash::fast::FixedState;

/// Maps keyed by list-derived strings: foldhash (SipHash was a tenth of a query's time), fixed
/// seed so runs are reproducible.
type FastMap<K, V> = HashMap<K, V, FixedState>;

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::list::{Entry, ListVersion};
use crate::load::LoadedList;
use crate::normalize::{
    NameForm, PHONETIC_KEY_LEN_MIN, Script, TokenKind, normalize, phonetic_key, skeleton,
};
use crate::snapshot::{self, Snapshot, SnapshotBytes, SnapshotError, Writer};

/// One searchable name of an entry (its name, an alias, a parenthesised short name, or the
/// affiliate's own name in an "Affiliated Entity:" row).
#[derive(Debug, Clone)]
pub struct IndexedName {
    /// Index of the entry in [`ListSet::entries`].
    pub entry: u32,
    /// The name variant as published.
    pub text: String,
    /// It is an alias (not the entry's main name).
    pub alias: bool,
    /// Normalized form.
    pub form: NameForm,
    /// Rarity weight per token.
    pub weights: Vec<f64>,
}

/// Loaded list versions, their entries and the index: built from the list files, or read in
/// place from a prebuilt snapshot (names normalized and entries decoded when a query first
/// touches them; the same answers).
#[derive(Debug, Clone, Default)]
pub struct ListSet {
    /// List versions, in load order.
    pub versions: Vec<ListVersion>,
    store: Store,
    note: Option<String>,
}

#[derive(Debug, Clone)]
enum Store {
    Built(Built),
    Snapshot(Box<Lazy>),
}

impl Default for Store {
    fn default() -> Self {
        Store::Built(Built::default())
    }
}

/// Everything built up front.
#[derive(Debug, Clone, Default)]
struct Built {
    entries: Vec<Entry>,
    names: Vec<IndexedName>,
    postings: FastMap<String, Vec<u32>>,
    /// Per name: the rarity of all its index keys, summed (for a Dice-like candidate rank).
    key_mass: Vec<f64>,
    document_frequency: FastMap<String, u32>,
}

/// A snapshot read in place, with the entries and names decoded so far.
#[derive(Debug, Clone)]
struct Lazy {
    snapshot: Snapshot,
    entries: Box<[OnceLock<Box<Entry>>]>,
    names: Box<[OnceLock<Box<IndexedName>>]>,
    /// Per index key: its postings, decoded when a query first uses the key.
    postings: Box<[OnceLock<Box<[u32]>>]>,
}

/// A name's rarity weight: `ln(1 + N / df)`.
fn rarity(name_count: usize, document_frequency: u32) -> f64 {
    (1.0 + name_count as f64 / f64::from(document_frequency.max(1))).ln()
}

/// A cap on an initial's weight (an initial says little).
const INITIAL_WEIGHT_MAX: f64 = 1.5;

impl ListSet {
    /// Builds the set from loaded lists (in order) and indexes every name.
    pub fn build(lists: Vec<LoadedList>) -> ListSet {
        let mut versions = Vec::new();
        let mut built = Built::default();
        for (version_index, list) in lists.into_iter().enumerate() {
            versions.push(list.version);
            for mut entry in list.entries {
                entry.version = version_index;
                built.add_names(&entry);
                built.entries.push(entry);
            }
        }
        built.weigh_and_index();
        ListSet {
            versions,
            store: Store::Built(built),
            note: None,
        }
    }

    /// Reads a snapshot (see [`crate::snapshot`]) in place. `expected` is the fingerprint of the
    /// list files it must have been built from ([`crate::snapshot::fingerprint`]); with
    /// `verify` (a file) the body's checksum and every table are checked first.
    pub fn from_snapshot(
        file: &str,
        bytes: SnapshotBytes,
        expected: u64,
        verify: bool,
    ) -> Result<ListSet, SnapshotError> {
        let snapshot = Snapshot::open(file, bytes, expected, verify)?;
        let entries = (0..snapshot.entry_count).map(|_| OnceLock::new()).collect();
        let names = (0..snapshot.name_count).map(|_| OnceLock::new()).collect();
        let postings = (0..snapshot.key_count()).map(|_| OnceLock::new()).collect();
        Ok(ListSet {
            versions: snapshot.versions.clone(),
            store: Store::Snapshot(Box::new(Lazy {
                snapshot,
                entries,
                names,
                postings,
            })),
            note: None,
        })
    }

    /// The snapshot of a set built from list files (`None` for a set read from a snapshot):
    /// the same bytes for the same lists, `fingerprint` naming the files it was built from.
    pub fn to_snapshot(&self, fingerprint: u64) -> Option<Vec<u8>> {
        let Store::Built(built) = &self.store else {
            return None;
        };
        Some(snapshot::finish(fingerprint, built.encode(&self.versions)))
    }

    /// How the set was loaded, where it is worth saying (a stale or unreadable snapshot that was
    /// passed over for the list files).
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    pub(crate) fn set_note(&mut self, note: String) {
        self.note = Some(note);
    }

    /// Whether the set reads a snapshot in place.
    pub fn is_snapshot(&self) -> bool {
        matches!(self.store, Store::Snapshot(_))
    }

    /// Number of entries.
    pub fn entry_count(&self) -> usize {
        match &self.store {
            Store::Built(b) => b.entries.len(),
            Store::Snapshot(l) => l.entries.len(),
        }
    }

    /// Number of searchable names.
    pub fn name_count(&self) -> usize {
        match &self.store {
            Store::Built(b) => b.names.len(),
            Store::Snapshot(l) => l.names.len(),
        }
    }

    /// An entry by index (in load order).
    pub fn entry(&self, index: usize) -> Option<&Entry> {
        (index < self.entry_count()).then(|| self.entry_at(index))
    }

    /// Every entry, in load order (a snapshot decodes them all).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        (0..self.entry_count()).map(|i| self.entry_at(i))
    }

    /// A searchable name by index.
    pub fn name(&self, index: usize) -> Option<&IndexedName> {
        (index < self.name_count()).then(|| self.name_at(index))
    }

    pub(crate) fn entry_at(&self, index: usize) -> &Entry {
        match &self.store {
            Store::Built(b) => &b.entries[index],
            Store::Snapshot(l) => l.entries[index].get_or_init(|| {
                // The snapshot's tables were checked when it was opened, and the tests decode
                // every entry of the committed one: a failure here is a damaged binary.
                let entry = l.snapshot.entry(index);
                Box::new(entry.unwrap_or_else(|e| panic!("list snapshot: {e}")))
            }),
        }
    }

    pub(crate) fn name_at(&self, index: usize) -> &IndexedName {
        match &self.store {
            Store::Built(b) => &b.names[index],
            Store::Snapshot(l) => l.names[index].get_or_init(|| {
                let text = l.snapshot.name_text(index);
                let form = normalize(text);
                let weights = self.weights_of(&form);
                Box::new(IndexedName {
                    entry: l.snapshot.name_entry(index),
                    text: text.to_owned(),
                    alias: l.snapshot.name_alias(index),
                    form,
                    weights,
                })
            }),
        }
    }

    fn document_frequency(&self, token: &str) -> Option<u32> {
        match &self.store {
            Store::Built(b) => b.document_frequency.get(token).copied(),
            Store::Snapshot(l) => l.snapshot.document_frequency(token),
        }
    }

    fn postings(&self, key: &str) -> Option<Cow<'_, [u32]>> {
        match &self.store {
            Store::Built(b) => b.postings.get(key).map(|l| Cow::Borrowed(l.as_slice())),
            Store::Snapshot(l) => {
                let i = l.snapshot.key_index(key)?;
                let ids = l.postings[i].get_or_init(|| l.snapshot.postings(i).into_boxed_slice());
                Some(Cow::Borrowed(ids))
            }
        }
    }

    fn key_mass(&self, name: usize) -> f64 {
        match &self.store {
            Store::Built(b) => b.key_mass[name],
            Store::Snapshot(l) => l.snapshot.key_mass(name),
        }
    }

    /// Rarity weights of a query's tokens (unknown tokens weigh as the rarest).
    pub fn weights_of(&self, form: &NameForm) -> Vec<f64> {
        let count = self.name_count().max(1);
        form.tokens
            .iter()
            .map(|t| token_weight(t.kind, count, self.document_frequency(&t.latin)))
            .collect()
    }

    /// Names sharing index keys with the query, best `limit` by shared rarity over the rarity of
    /// both (a Dice coefficient over index keys).
    pub fn candidates(&self, form: &NameForm, limit: usize) -> Vec<u32> {
        let name_count = self.name_count();
        let mut keys: Vec<(Cow<'_, [u32]>, f64)> = index_keys(form, false)
            .into_iter()
            .filter_map(|key| self.postings(&key))
            .map(|list| {
                let weight = rarity(name_count, saturate(list.len()));
                (list, weight)
            })
            .collect();
        keys.sort_by_key(|(list, _)| list.len());
        let query_mass: f64 = keys.iter().map(|(_, weight)| weight).sum();
        let mut ranked: Vec<(u32, f64)> = SCRATCH.with_borrow_mut(|scratch| {
            scratch.accumulate(name_count, &keys);
            scratch
                .drain()
                .map(|(id, shared)| (id, shared / (query_mass + self.key_mass(id as usize))))
                .collect()
        });
        // Names far behind the best share little with the query: not worth ranking or scoring.
        let best = ranked.iter().map(|(_, rank)| *rank).fold(0.0, f64::max);
        ranked.retain(|(_, rank)| *rank >= best * CANDIDATE_RANK_SHARE_MIN);
        let by_score = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, by_score);
            ranked.truncate(limit);
        }
        ranked.sort_by(by_score);
        ranked.into_iter().map(|(id, _)| id).collect()
    }
}

impl Built {
    fn add_names(&mut self, entry: &Entry) {
        let entry_index = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        let mut seen: Vec<Vec<String>> = Vec::new();
        let published =
            std::iter::once((&entry.name, false)).chain(entry.alt_names.iter().map(|a| (a, true)));
        for (text, alias) in published {
            for variant in name_variants(text) {
                let form = normalize(&variant);
                let key: Vec<String> = form.tokens.iter().map(|t| t.latin.clone()).collect();
                if key.is_empty() || seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                self.names.push(IndexedName {
                    entry: entry_index,
                    text: variant,
                    alias,
                    form,
                    weights: Vec::new(),
                });
            }
        }
    }

    fn weigh_and_index(&mut self) {
        let mut document_frequency: FastMap<String, u32> = FastMap::default();
        for name in &self.names {
            let mut tokens: Vec<&str> = name.form.tokens.iter().map(|t| t.latin.as_str()).collect();
            tokens.sort_unstable();
            tokens.dedup();
            for token in tokens {
                *document_frequency.entry(token.to_owned()).or_default() += 1;
            }
        }
        let count = self.names.len();
        let mut postings: FastMap<String, Vec<u32>> = FastMap::default();
        let mut keys_per_name = Vec::with_capacity(count);
        for (id, name) in self.names.iter_mut().enumerate() {
            name.weights = name
                .form
                .tokens
                .iter()
                .map(|t| token_weight(t.kind, count, document_frequency.get(&t.latin).copied()))
                .collect();
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            let keys = index_keys(&name.form, true);
            for key in &keys {
                match postings.get_mut(key) {
                    Some(list) => list.push(id),
                    None => {
                        postings.insert(key.clone(), vec![id]);
                    }
                }
            }
            keys_per_name.push(keys);
        }
        self.key_mass = keys_per_name
            .iter()
            .map(|keys| {
                keys.iter()
                    .filter_map(|key| postings.get(key))
                    .map(|list| rarity(count, saturate(list.len())))
                    .sum()
            })
            .collect();
        for list in postings.values_mut() {
            list.shrink_to_fit();
        }
        self.postings = postings;
        self.document_frequency = document_frequency;
    }

    /// The snapshot body (see [`crate::snapshot`] for the layout).
    fn encode(&self, versions: &[ListVersion]) -> Vec<u8> {
        let mut w = Writer::default();
        w.len32(versions.len());
        for version in versions {
            snapshot::write_version(&mut w, version);
        }
        w.len32(self.names.len());
        w.len32(self.entries.len());
        w.u32s(self.names.iter().map(|n| n.entry));
        for name in &self.names {
            w.u8(u8::from(name.alias));
        }
        w.table(self.names.iter().map(|n| n.text.as_bytes()));
        for mass in &self.key_mass {
            w.f64(*mass);
        }
        let mut tokens: Vec<(&String, &u32)> = self.document_frequency.iter().collect();
        tokens.sort_unstable();
        w.table(tokens.iter().map(|(t, _)| t.as_bytes()));
        w.u32s(tokens.iter().map(|(_, df)| **df));
        let mut keys: Vec<(&String, &Vec<u32>)> = self.postings.iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        w.table(keys.iter().map(|(k, _)| k.as_bytes()));
        let deltas: Vec<Vec<u8>> = keys.iter().map(|(_, ids)| Writer::deltas(ids)).collect();
        w.table(deltas.iter().map(Vec::as_slice));
        w.entry_blocks(&self.entries);
        w.out
    }
}

/// Per-thread accumulator of shared key rarity per name (dense, reset by the touched list), so a
/// query allocates no map.
#[derive(Debug, Default)]
struct Scratch {
    shared: Vec<f64>,
    touched: Vec<u32>,
}

impl Scratch {
    fn accumulate(&mut self, name_count: usize, keys: &[(Cow<'_, [u32]>, f64)]) {
        if self.shared.len() != name_count {
            self.shared = vec![0.0; name_count];
        }
        for (index, (list, weight)) in keys.iter().enumerate() {
            // Common keys (long postings) only add to names already found by a rarer one.
            let common = index > 0 && list.len() > POSTINGS_SCAN_MAX;
            for &id in list.iter() {
                let slot = &mut self.shared[id as usize];
                if *slot == 0.0 {
                    if common {
                        continue;
                    }
                    self.touched.push(id);
                }
                *slot += weight;
            }
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = (u32, f64)> + '_ {
        let shared = &mut self.shared;
        self.touched
            .drain(..)
            .map(move |id| (id, std::mem::take(&mut shared[id as usize])))
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Candidates ranking below this share of the best candidate's rank are not scored.
const CANDIDATE_RANK_SHARE_MIN: f64 = 0.4;

/// Longer postings than this are only used to re-rank names a rarer key found.
const POSTINGS_SCAN_MAX: usize = 500;

fn saturate(length: usize) -> u32 {
    u32::try_from(length).unwrap_or(u32::MAX)
}

fn token_weight(kind: TokenKind, name_count: usize, document_frequency: Option<u32>) -> f64 {
    let weight = rarity(name_count, document_frequency.unwrap_or(1));
    if kind == TokenKind::Initial {
        weight.min(INITIAL_WEIGHT_MAX)
    } else {
        weight
    }
}

/// Index keys of a name: each part (`w:`), its phonetic key (`p:`), its consonant skeleton
/// (`s:`, listed names always; a query only for Arabic-script parts) and adjacent parts joined.
fn index_keys(form: &NameForm, listed: bool) -> Vec<String> {
    let mut keys = Vec::with_capacity(form.tokens.len() * 3);
    for token in &form.tokens {
        keys.push(format!("w:{}", token.latin));
        if token.kind == TokenKind::Word && token.latin.len() >= 3 {
            let key = phonetic_key(&token.latin);
            if key.len() >= PHONETIC_KEY_LEN_MIN {
                keys.push(format!("p:{key}"));
            }
            if listed || token.script == Script::Arabic {
                keys.push(format!("s:{}", skeleton(&token.latin)));
            }
        }
    }
    for pair in form.tokens.windows(2) {
        keys.push(format!("w:{}{}", pair[0].latin, pair[1].latin));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The searchable variants of a published name: the affiliate's own name in an "Affiliated
/// Entity:" row, names split at `a.k.a.`/`f.k.a.`, and a parenthesised short name on its own.
pub fn name_variants(published: &str) -> Vec<String> {
    let lower = published.to_lowercase();
    let own = match lower.find("affiliated entity:") {
        Some(at) if lower.len() == published.len() => &published[at + "affiliated entity:".len()..],
        _ => published,
    };
    let mut variants = Vec::new();
    for part in split_aka(own) {
        let (outside, inside) = split_parenthesised(part);
        let whole = part.replace(['(', ')'], " ");
        let short_names = inside.into_iter().filter(|i| is_short_name(i, &outside));
        for text in [whole, outside.clone()].into_iter().chain(short_names) {
            let text = text.trim().trim_matches([',', ';', '.']).trim();
            if !text.is_empty() && !variants.iter().any(|v: &String| v == text) {
                variants.push(text.to_owned());
            }
        }
    }
    variants
}

/// Whether a parenthesised part is a name of its own: an acronym (`LETRI`, `CSSC`) or a short
/// form starting like the name (`Huawei` in `Huawei Technologies Co., Ltd. (Huawei)`), not a
/// place or qualifier (`Thailand`, `OFF SHORE`).
fn is_short_name(inside: &str, outside: &str) -> bool {
    let inside = inside.trim();
    let acronym = (2..=8).contains(&inside.len())
        && inside
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    let first = |text: &str| normalize(text).tokens.first().map(|t| t.latin.clone());
    acronym || (first(inside).is_some() && first(inside) == first(outside))
}

fn split_aka(text: &str) -> Vec<&str> {
    let mut parts = vec![text];
    for marker in ["a.k.a.", "f.k.a.", "A.K.A.", "F.K.A."] {
        parts = parts.into_iter().flat_map(|p| p.split(marker)).collect();
    }
    parts
}

/// `Name (Short)` → (`Name`, [`Short`]); nested or unbalanced parentheses stay in the name.
fn split_parenthesised(text: &str) -> (String, Vec<String>) {
    let mut outside = String::with_capacity(text.len());
    let mut inside = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                if depth > 1 {
                    current.push(c);
                }
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    inside.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            _ if depth > 0 => current.push(c),
            _ => outside.push(c),
        }
    }
    if depth > 0 {
        return (text.to_owned(), Vec::new());
    }
    (outside, inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_published_names() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Huawei Technologies Co., Ltd. (Huawei)",
                &[
                    "Huawei Technologies Co., Ltd.  Huawei",
                    "Huawei Technologies Co., Ltd",
                    "Huawei",
                ],
            ),
            (
                "Huawei Technologies (Thailand) Co.",
                &[
                    "Huawei Technologies  Thailand  Co",
                    "Huawei Technologies  Co",
                ],
            ),
            (
                "Huawei Technologies Co., Ltd. (Huawei). Affiliated Entity: Beijing Huawei Longshine Information Technology Co., Ltd.",
                &["Beijing Huawei Longshine Information Technology Co., Ltd"],
            ),
            (
                "Chitron Electronics Company Ltd., a.k.a. Chi-Chung Electronics Company Ltd. (Chitron-Shenzhen)",
                &[
                    "Chitron Electronics Company Ltd",
                    "Chi-Chung Electronics Company Ltd.  Chitron-Shenzhen",
                    "Chi-Chung Electronics Company Ltd",
                ],
            ),
            ("Odd (name", &["Odd  name", "Odd (name"]),
        ];
        for (published, expected) in cases {
            assert_eq!(name_variants(published), *expected, "{published}");
        }
    }
}
