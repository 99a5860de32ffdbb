//! A prebuilt, versioned binary snapshot of a built [`ListSet`](crate::ListSet): list versions,
//! entries, name texts, rarity (document frequencies), key masses and the inverted index, laid
//! out as little-endian arrays and string tables that are read in place (binary search over
//! sorted keys; nothing is parsed or allocated up front). A set loaded from it normalizes a name
//! and decodes an entry only when a query touches it, and gives the same answers as the full
//! build (`tests/snapshot.rs`).
//!
//! Layout: magic, [`SNAPSHOT_FORMAT`], the fingerprint of the list files it was built from, the
//! checksum of the body, then the body: versions, names (entry, alias flag, text), key masses,
//! document frequencies (sorted tokens + counts), postings (sorted keys + starts + name ids) and
//! entries (offsets + encoded entries). A snapshot whose fingerprint is not that of the files at
//! hand is stale and not used.

use std::io::{Read as _, Write as _};

use crate::list::{
    Entry, FrCitation, ItemScope, LicenseTerms, ListVersion, PartyType, ReviewPolicyKind,
};

/// The snapshot layout's version (also folded into every fingerprint): bump it whenever the
/// layout, normalization, name variants or index keys change (the up-to-date test fails until the
/// committed snapshot is rebuilt).
pub const SNAPSHOT_FORMAT: u32 = 1;

const MAGIC: &[u8; 8] = b"AIDFLSX\0";
/// Entries per deflated block (a query decodes the few blocks its candidates are in).
pub(crate) const ENTRY_BLOCK: usize = 16;
/// Magic, format, fingerprint, checksum.
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// Why a snapshot cannot be used (the caller builds from the list files instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot (or an empty file).
    #[error("{file}: not a list snapshot (bad magic)")]
    Magic {
        /// File name.
        file: String,
    },
    /// Another layout version.
    #[error("{file}: snapshot format {found} (expected {expected})")]
    Format {
        /// File name.
        file: String,
        /// Format in the file.
        found: u32,
        /// Format this build reads.
        expected: u32,
    },
    /// Built from other list files (or by another normalization).
    #[error("{file}: stale (fingerprint {found:016x}, the list files give {expected:016x})")]
    Stale {
        /// File name.
        file: String,
        /// Fingerprint in the file.
        found: u64,
        /// Fingerprint of the list files at hand.
        expected: u64,
    },
    /// Truncated, checksum mismatch or inconsistent tables.
    #[error("{file}: corrupt: {message}")]
    Corrupt {
        /// File name.
        file: String,
        /// What is wrong (with the byte offset where known).
        message: String,
    },
}

/// A 64-bit fingerprint of byte strings (length-prefixed, word-wise multiply–xorshift; not
/// cryptographic: it tells a stale snapshot from a current one, and a damaged one).
pub fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ u64::from(SNAPSHOT_FORMAT);
    for part in parts {
        hash = mix(hash, part.len() as u64);
        let mut words = part.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            hash = mix(hash, u64::from_le_bytes(buf));
        }
        let mut buf = [0u8; 8];
        buf[..words.remainder().len()].copy_from_slice(words.remainder());
        hash = mix(hash, u64::from_le_bytes(buf));
    }
    hash
}

fn mix(hash: u64, value: u64) -> u64 {
    let h = (hash ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// Snapshot bytes: embedded in the binary or read from a file.
#[derive(Debug, Clone)]
pub enum SnapshotBytes {
    /// Embedded (`include_bytes!`).
    Static(&'static [u8]),
    /// Read from a file.
    Owned(Vec<u8>),
}

impl SnapshotBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            SnapshotBytes::Static(b) => b,
            SnapshotBytes::Owned(b) => b,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Little-endian writer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    pub(crate) fn len32(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len32(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&String>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn strs(&mut self, list: &[String]) {
        self.len32(list.len());
        for s in list {
            self.str(s);
        }
    }
    /// A string table: count, offsets (count + 1), then the bytes.
    pub(crate) fn table<'s>(&mut self, items: impl ExactSizeIterator<Item = &'s [u8]>) {
        let items: Vec<&[u8]> = items.collect();
        self.len32(items.len());
        let mut offset = 0usize;
        self.len32(offset);
        for item in &items {
            offset += item.len();
            self.len32(offset);
        }
        for item in items {
            self.out.extend_from_slice(item);
        }
    }
    /// Ascending ids as LEB128 deltas (the first from 0).
    pub(crate) fn deltas(ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ids.len() * 2);
        let mut previous = 0u32;
        for &id in ids {
            let mut delta = id.wrapping_sub(previous);
            previous = id;
            loop {
                let byte = (delta & 0x7f) as u8;
                delta >>= 7;
                if delta == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        out
    }
    /// Entries in deflated blocks of [`ENTRY_BLOCK`], each block a table of encoded entries.
    pub(crate) fn entry_blocks(&mut self, entries: &[Entry]) {
        let blocks: Vec<Vec<u8>> = entries
            .chunks(ENTRY_BLOCK)
            .map(|chunk| {
                let encoded: Vec<Vec<u8>> = chunk
                    .iter()
                    .map(|entry| {
                        let mut e = Writer::default();
                        encode_entry(&mut e, entry);
                        e.out
                    })
                    .collect();
                let mut block = Writer::default();
                block.table(encoded.iter().map(Vec::as_slice));
                deflate(&block.out)
            })
            .collect();
        self.table(blocks.iter().map(Vec::as_slice));
    }
    pub(crate) fn u32s(&mut self, values: impl IntoIterator<Item = u32>) {
        for v in values {
            self.u32(v);
        }
    }
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let written = encoder.write_all(bytes).and_then(|()| encoder.finish());
    written.unwrap_or_default()
}

/// The header for a body: magic, format, fingerprint, checksum; then the body.
pub(crate) fn finish(fingerprint: u64, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
    out.extend_from_slice(&fingerprint.to_le_bytes());
    out.extend_from_slice(&self::fingerprint(&[&body]).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

pub(crate) fn write_version(w: &mut Writer, v: &ListVersion) {
    w.str(&v.id);
    w.str(&v.date);
    w.str(&v.sha256);
    w.str(&v.source);
    w.u64(v.entries as u64);
}

/// Encodes one entry (every field, so a decoded entry equals the loaded one).
pub(crate) fn encode_entry(w: &mut Writer, e: &Entry) {
    w.u64(e.version as u64);
    w.u64(e.row as u64);
    w.str(&e.source);
    w.str(&e.list_code);
    w.opt_str(e.entity_number.as_ref());
    w.u8(party_type_code(e.party_type));
    w.str(&e.name);
    w.strs(&e.alt_names);
    w.strs(&e.countries);
    w.strs(&e.addresses);
    w.strs(&e.programs);
    w.len32(e.federal_register.len());
    for c in &e.federal_register {
        w.str(&c.text);
        opt_u32(w, c.volume);
        opt_u32(w, c.page);
    }
    match &e.license {
        Some(terms) => {
            w.u8(1);
            encode_terms(w, terms);
        }
        None => w.u8(0),
    }
    w.opt_str(e.start_date.as_ref());
    w.opt_str(e.source_list_url.as_ref());
    w.opt_str(e.remarks.as_ref());
}

fn opt_u32(w: &mut Writer, v: Option<u32>) {
    match v {
        Some(v) => {
            w.u8(1);
            w.u32(v);
        }
        None => w.u8(0),
    }
}

fn encode_terms(w: &mut Writer, t: &LicenseTerms) {
    w.str(&t.requirement);
    match &t.scope {
        ItemScope::AllItemsSubjectToEar => w.u8(0),
        ItemScope::AllItemsSubjectToEarQualified { qualification } => {
            w.u8(1);
            w.str(qualification);
        }
        ItemScope::Narrower { text } => {
            w.u8(2);
            w.str(text);
        }
    }
    w.strs(&t.requirement_sections);
    w.len32(t.footnotes.len());
    for f in &t.footnotes {
        w.u8(*f);
    }
    w.str(&t.review_policy);
    w.u8(review_kind_code(t.review_policy_kind));
    w.strs(&t.review_policy_sections);
}

const PARTY_TYPES: [PartyType; 5] = [
    PartyType::Person,
    PartyType::Organization,
    PartyType::Vessel,
    PartyType::Aircraft,
    PartyType::Unknown,
];

fn party_type_code(t: PartyType) -> u8 {
    PARTY_TYPES.iter().position(|p| *p == t).unwrap_or(4) as u8
}

const REVIEW_KINDS: [ReviewPolicyKind; 6] = [
    ReviewPolicyKind::PresumptionOfDenial,
    ReviewPolicyKind::PolicyOfDenial,
    ReviewPolicyKind::CaseByCase,
    ReviewPolicyKind::PresumptionOfApproval,
    ReviewPolicyKind::SeeSections,
    ReviewPolicyKind::Other,
];

fn review_kind_code(k: ReviewPolicyKind) -> u8 {
    REVIEW_KINDS.iter().position(|p| *p == k).unwrap_or(5) as u8
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Bounds-checked little-endian reader; every failure names the byte offset.
#[derive(Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Check string tables (UTF-8, offsets) as they are read (files; not the embedded snapshot).
    validate: bool,
}

type Read<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {} (need {n} more)", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Read<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Read<u32> {
        let mut buf = [0u8; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(buf))
    }
    fn u64(&mut self) -> Read<u64> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(buf))
    }
    fn usize(&mut self) -> Read<usize> {
        let at = self.at;
        usize::try_from(self.u64()?).map_err(|_| format!("byte {at}: count out of range"))
    }
    fn len32(&mut self) -> Read<usize> {
        Ok(self.u32()? as usize)
    }
    fn str(&mut self) -> Read<String> {
        let n = self.len32()?;
        let at = self.at;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| format!("byte {at}: string not valid utf-8"))
    }
    fn flag(&mut self) -> Read<bool> {
        let at = self.at;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("byte {at}: flag {other} (expected 0 or 1)")),
        }
    }
    fn opt_str(&mut self) -> Read<Option<String>> {
        if self.flag()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }
    fn strs(&mut self) -> Read<Vec<String>> {
        let n = self.len32()?;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(self.str()?);
        }
        Ok(out)
    }
    fn opt_u32(&mut self) -> Read<Option<u32>> {
        if self.flag()? {
            self.u32().map(Some)
        } else {
            Ok(None)
        }
    }
    fn code<T: Copy>(&mut self, table: &[T]) -> Read<T> {
        let at = self.at;
        let code = self.u8()? as usize;
        table
            .get(code)
            .copied()
            .ok_or_else(|| format!("byte {at}: code {code} out of range"))
    }
    /// An array of `n` items of `width` bytes: where it starts.
    fn array(&mut self, n: usize, width: usize) -> Read<Span> {
        let start = self.at;
        let len = n.checked_mul(width).ok_or("array length overflows")?;
        self.take(len)?;
        Ok(Span { start })
    }
    fn table(&mut self, utf8: bool) -> Read<Table> {
        let count = self.len32()?;
        let offsets = self.array(count + 1, 4)?;
        let blob_len = read_u32(self.bytes, offsets.start + 4 * count) as usize;
        let blob_start = self.at;
        let blob = self.take(blob_len)?;
        if !self.validate {
            return Ok(Table {
                count,
                offsets: offsets.start,
                blob: blob_start,
            });
        }
        let text = if utf8 {
            std::str::from_utf8(blob)
                .map_err(|_| format!("byte {blob_start}: string table not valid utf-8"))?
        } else {
            ""
        };
        let mut previous = 0usize;
        for i in 0..=count {
            let offset = read_u32(self.bytes, offsets.start + 4 * i) as usize;
            let boundary = !utf8 || text.is_char_boundary(offset);
            if offset < previous || offset > blob.len() || !boundary {
                return Err(format!("byte {}: bad string offset", offsets.start + 4 * i));
            }
            previous = offset;
        }
        Ok(Table {
            count,
            offsets: offsets.start,
            blob: blob_start,
        })
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        buf.copy_from_slice(slice);
    }
    u32::from_le_bytes(buf)
}

fn read_f64(bytes: &[u8], at: usize) -> f64 {
    let mut buf = [0u8; 8];
    if let Some(slice) = bytes.get(at..at + 8) {
        buf.copy_from_slice(slice);
    }
    f64::from_bits(u64::from_le_bytes(buf))
}

/// An array's place in the bytes.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
}

/// A string table's place in the bytes (validated: offsets ordered, on char boundaries).
#[derive(Debug, Clone, Copy)]
struct Table {
    count: usize,
    offsets: usize,
    blob: usize,
}

impl Table {
    fn range(&self, bytes: &[u8], i: usize) -> (usize, usize) {
        let from = read_u32(bytes, self.offsets + 4 * i) as usize;
        let to = read_u32(bytes, self.offsets + 4 * (i + 1)) as usize;
        (self.blob + from, self.blob + to)
    }
    fn get<'b>(&self, bytes: &'b [u8], i: usize) -> &'b str {
        std::str::from_utf8(self.raw(bytes, i)).unwrap_or("")
    }
    fn raw<'b>(&self, bytes: &'b [u8], i: usize) -> &'b [u8] {
        let (from, to) = self.range(bytes, i);
        bytes.get(from..to).unwrap_or(&[])
    }
    /// Binary search (keys sorted bytewise, compared as bytes).
    fn find(&self, bytes: &[u8], key: &str) -> Option<usize> {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.raw(bytes, mid).cmp(key.as_bytes()) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// A validated snapshot, read in place.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    bytes: SnapshotBytes,
    pub(crate) versions: Vec<ListVersion>,
    pub(crate) name_count: usize,
    pub(crate) entry_count: usize,
    name_entry: Span,
    name_alias: Span,
    name_text: Table,
    key_mass: Span,
    df_keys: Table,
    df_counts: Span,
    post_keys: Table,
    /// Per key: its name ids, ascending, as LEB128 deltas.
    post_ids: Table,
    /// Blocks of [`ENTRY_BLOCK`] encoded entries (a string table each), deflated.
    entries: Table,
}

impl Snapshot {
    /// Checks magic, format, fingerprint and the tables' sizes; with `verify` (files) also the
    /// body's checksum, every string table and every name's entry. The embedded snapshot is not
    /// verified at run time (that would cost a few milliseconds per process): the tests check it
    /// byte for byte, and reads past a table give empty strings, never a panic.
    pub(crate) fn open(
        file: &str,
        bytes: SnapshotBytes,
        expected: u64,
        verify: bool,
    ) -> Result<Snapshot, SnapshotError> {
        let corrupt = |message: String| SnapshotError::Corrupt {
            file: file.to_owned(),
            message,
        };
        let data = bytes.bytes();
        if data.len() < HEADER_LEN || &data[..8] != MAGIC {
            return Err(SnapshotError::Magic {
                file: file.to_owned(),
            });
        }
        let mut header = Reader {
            bytes: data,
            at: 8,
            validate: true,
        };
        let (format, found, checksum) = (|| Ok((header.u32()?, header.u64()?, header.u64()?)))()
            .map_err(|e: String| corrupt(e))?;
        if format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format {
                file: file.to_owned(),
                found: format,
                expected: SNAPSHOT_FORMAT,
            });
        }
        if found != expected {
            return Err(SnapshotError::Stale {
                file: file.to_owned(),
                found,
                expected,
            });
        }
        if verify && fingerprint(&[&data[HEADER_LEN..]]) != checksum {
            return Err(corrupt("checksum mismatch".to_owned()));
        }
        let parts = read_parts(data, verify).map_err(corrupt)?;
        let snapshot = parts.with_bytes(bytes);
        if verify {
            snapshot.check_ids().map_err(corrupt)?;
        }
        Ok(snapshot)
    }

    fn data(&self) -> &[u8] {
        self.bytes.bytes()
    }

    /// Every name's entry exists (a posting's names are checked as it is read).
    fn check_ids(&self) -> Read<()> {
        let data = self.data();
        for i in 0..self.name_count {
            if read_u32(data, self.name_entry.start + 4 * i) as usize >= self.entry_count {
                return Err(format!("name {i}: entry out of range"));
            }
        }
        Ok(())
    }

    pub(crate) fn name_entry(&self, id: usize) -> u32 {
        read_u32(self.data(), self.name_entry.start + 4 * id)
    }
    pub(crate) fn name_alias(&self, id: usize) -> bool {
        self.data().get(self.name_alias.start + id) == Some(&1)
    }
    pub(crate) fn name_text(&self, id: usize) -> &str {
        self.name_text.get(self.data(), id)
    }
    pub(crate) fn key_mass(&self, id: usize) -> f64 {
        read_f64(self.data(), self.key_mass.start + 8 * id)
    }
    pub(crate) fn document_frequency(&self, token: &str) -> Option<u32> {
        let i = self.df_keys.find(self.data(), token)?;
        Some(read_u32(self.data(), self.df_counts.start + 4 * i))
    }
    /// The number of index keys.
    pub(crate) fn key_count(&self) -> usize {
        self.post_keys.count
    }
    /// Where an index key is, if it is one.
    pub(crate) fn key_index(&self, key: &str) -> Option<usize> {
        self.post_keys.find(self.data(), key)
    }
    /// The names of the `i`th index key, ascending.
    pub(crate) fn postings(&self, i: usize) -> Vec<u32> {
        let data = self.data();
        let mut ids = Vec::new();
        let mut previous = 0u64;
        let mut shift = 0;
        let mut delta = 0u64;
        for &byte in self.post_ids.raw(data, i) {
            delta |= u64::from(byte & 0x7f) << shift.min(63);
            shift += 7;
            if byte & 0x80 == 0 {
                previous += delta;
                // A damaged snapshot must not index past the names (checked, then dropped).
                match u32::try_from(previous) {
                    Ok(id) if (id as usize) < self.name_count => ids.push(id),
                    _ => break,
                }
                (delta, shift) = (0, 0);
            }
        }
        ids
    }
    pub(crate) fn entry(&self, id: usize) -> Result<Entry, String> {
        let block = self.entries.raw(self.data(), id / ENTRY_BLOCK);
        let mut plain = Vec::with_capacity(block.len() * 4);
        flate2::read::DeflateDecoder::new(block)
            .read_to_end(&mut plain)
            .map_err(|e| format!("entry {id}: block: {e}"))?;
        let mut reader = Reader {
            bytes: &plain,
            at: 0,
            validate: true,
        };
        let table = reader.table(false)?;
        let bytes = table.raw(&plain, id % ENTRY_BLOCK);
        let mut reader = Reader {
            bytes,
            at: 0,
            validate: true,
        };
        decode_entry(&mut reader).map_err(|e| format!("entry {id}: {e}"))
    }
}

/// The body's tables, before the bytes are moved into the [`Snapshot`].
struct Parts {
    versions: Vec<ListVersion>,
    name_count: usize,
    entry_count: usize,
    spans: [Span; 4],
    tables: [Table; 5],
}

impl Parts {
    fn with_bytes(self, bytes: SnapshotBytes) -> Snapshot {
        let [name_entry, name_alias, key_mass, df_counts] = self.spans;
        let [name_text, df_keys, post_keys, post_ids, entries] = self.tables;
        Snapshot {
            bytes,
            versions: self.versions,
            name_count: self.name_count,
            entry_count: self.entry_count,
            name_entry,
            name_alias,
            name_text,
            key_mass,
            df_keys,
            df_counts,
            post_keys,
            post_ids,
            entries,
        }
    }
}

fn read_parts(data: &[u8], validate: bool) -> Read<Parts> {
    let mut r = Reader {
        bytes: data,
        at: HEADER_LEN,
        validate,
    };
    let mut versions = Vec::new();
    for _ in 0..r.len32()? {
        versions.push(ListVersion {
            id: r.str()?,
            date: r.str()?,
            sha256: r.str()?,
            source: r.str()?,
            entries: r.usize()?,
        });
    }
    let (name_count, entry_count) = (r.len32()?, r.len32()?);
    let name_entry = r.array(name_count, 4)?;
    let name_alias = r.array(name_count, 1)?;
    let name_text = r.table(true)?;
    let key_mass = r.array(name_count, 8)?;
    let df_keys = r.table(true)?;
    let df_counts = r.array(df_keys.count, 4)?;
    let post_keys = r.table(true)?;
    let post_ids = r.table(false)?;
    let entries = r.table(false)?;
    let blocks = entry_count.div_ceil(ENTRY_BLOCK);
    let sizes_agree = name_text.count == name_count
        && post_ids.count == post_keys.count
        && entries.count == blocks;
    if !sizes_agree || r.at != data.len() {
        return Err("table sizes disagree".to_owned());
    }
    Ok(Parts {
        versions,
        name_count,
        entry_count,
        spans: [name_entry, name_alias, key_mass, df_counts],
        tables: [name_text, df_keys, post_keys, post_ids, entries],
    })
}

fn decode_entry(r: &mut Reader<'_>) -> Read<Entry> {
    Ok(Entry {
        version: r.usize()?,
        row: r.usize()?,
        source: r.str()?,
        list_code: r.str()?,
        entity_number: r.opt_str()?,
        party_type: r.code(&PARTY_TYPES)?,
        name: r.str()?,
        alt_names: r.strs()?,
        countries: r.strs()?,
        addresses: r.strs()?,
        programs: r.strs()?,
        federal_register: decode_citations(r)?,
        license: if r.flag()? {
            Some(decode_terms(r)?)
        } else {
            None
        },
        start_date: r.opt_str()?,
        source_list_url: r.opt_str()?,
        remarks: r.opt_str()?,
    })
}

fn decode_citations(r: &mut Reader<'_>) -> Read<Vec<FrCitation>> {
    let n = r.len32()?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(FrCitation {
            text: r.str()?,
            volume: r.opt_u32()?,
            page: r.opt_u32()?,
        });
    }
    Ok(out)
}

fn decode_terms(r: &mut Reader<'_>) -> Read<LicenseTerms> {
    let requirement = r.str()?;
    let at = r.at;
    let scope = match r.u8()? {
        0 => ItemScope::AllItemsSubjectToEar,
        1 => ItemScope::AllItemsSubjectToEarQualified {
            qualification: r.str()?,
        },
        2 => ItemScope::Narrower { text: r.str()? },
        other => return Err(format!("byte {at}: item scope {other}")),
    };
    let requirement_sections = r.strs()?;
    let footnotes = (0..r.len32()?).map(|_| r.u8()).collect::<Read<Vec<u8>>>()?;
    Ok(LicenseTerms {
        requirement,
        scope,
        requirement_sections,
        footnotes,
        review_policy: r.str()?,
        review_policy_kind: r.code(&REVIEW_KINDS)?,
        review_policy_sections: r.strs()?,
    })
}
