//! Loaders: the CSL CSV layout (trade.gov), OFAC's legacy CSV (sdn/add/alt/comments) and the
//! lists manifest. They read bytes handed to them (plain or gzip); errors name file, row and field.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::list::{Entry, FrCitation, LicenseTerms, ListVersion, PartyType};

/// Why a list could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A whole file is unusable (unreadable, bad gzip, empty).
    #[error("{file}: {message}")]
    File {
        /// File name as given.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A row cannot be read as CSV.
    #[error("{file}: row {row}: {message}")]
    Row {
        /// File name.
        file: String,
        /// Data row (1-based, header excluded).
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// A field has a bad value.
    #[error("{file}: row {row}: field `{field}`: {message}")]
    Field {
        /// File name.
        file: String,
        /// Data row (1-based, header excluded).
        row: usize,
        /// Column name.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The header lacks a column the layout needs.
    #[error("{file}: header: missing column `{column}`")]
    MissingColumn {
        /// File name.
        file: String,
        /// The column.
        column: String,
    },
    /// The lists manifest is invalid.
    #[error("{file}: {message}")]
    Manifest {
        /// Manifest file name.
        file: String,
        /// What is wrong, with the field path.
        message: String,
    },
}

/// A list version and its entries, before indexing.
#[derive(Debug, Clone)]
pub struct LoadedList {
    /// The version (id, date, digest).
    pub version: ListVersion,
    /// Its entries (`Entry::version` is set when the set is built).
    pub entries: Vec<Entry>,
}

/// What the manifest says about a version (everything but the digest and the entries).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMeta {
    /// Short id, e.g. `csl`.
    pub id: String,
    /// `csl` or `ofac`.
    pub format: ListFormat,
    /// Snapshot date, `YYYY-MM-DD`.
    pub date: String,
    /// Where it came from.
    #[serde(default)]
    pub source: String,
    /// The CSL file (format `csl`).
    #[serde(default)]
    pub file: Option<String>,
    /// The OFAC files (format `ofac`): `sdn`, `add`, `alt`, `comments`.
    #[serde(default)]
    pub files: Option<OfacFileNames>,
}

/// File layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// trade.gov's Consolidated Screening List CSV (with a header row).
    Csl,
    /// OFAC's legacy CSV files (no header).
    Ofac,
}

/// File names of an OFAC legacy CSV set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfacFileNames {
    /// `sdn.csv`.
    pub sdn: String,
    /// `add.csv`.
    pub add: String,
    /// `alt.csv`.
    pub alt: String,
    /// `sdn_comments.csv` (optional).
    #[serde(default)]
    pub comments: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    list: Vec<ListMeta>,
}

/// Parses a lists manifest (`lists.toml`: one `[[list]]` table per version).
pub fn parse_manifest(file: &str, text: &str) -> Result<Vec<ListMeta>, LoadError> {
    let error = |message: String| LoadError::Manifest {
        file: file.to_owned(),
        message,
    };
    let manifest: Manifest = toml::from_str(text).map_err(|e| error(e.message().to_lowercase()))?;
    for (index, meta) in manifest.list.iter().enumerate() {
        if !is_iso_date(&meta.date) {
            return Err(error(format!(
                "field `list[{index}].date`: `{}` (expected YYYY-MM-DD)",
                meta.date
            )));
        }
        let has_files = match meta.format {
            ListFormat::Csl => meta.file.is_some(),
            ListFormat::Ofac => meta.files.is_some(),
        };
        if !has_files {
            let field = if meta.format == ListFormat::Csl {
                "file"
            } else {
                "files"
            };
            return Err(error(format!("field `list[{index}].{field}`: missing")));
        }
    }
    Ok(manifest.list)
}

fn is_iso_date(date: &str) -> bool {
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}

/// Reads all bytes of a reader, gunzipping if they start with the gzip magic.
pub fn read_maybe_gzip(file: &str, mut reader: impl Read) -> Result<Vec<u8>, LoadError> {
    let file_error = |e: std::io::Error| LoadError::File {
        file: file.to_owned(),
        message: e.to_string().to_lowercase(),
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(file_error)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::with_capacity(bytes.len() * 5);
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(file_error)?;
        return Ok(plain);
    }
    Ok(bytes)
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn version(meta: &ListMeta, sha256: String, entries: usize) -> ListVersion {
    ListVersion {
        id: meta.id.clone(),
        date: meta.date.clone(),
        sha256,
        source: meta.source.clone(),
        entries,
    }
}

/// The short code in a CSL source name: `Entity List (EL) - Bureau …` → `EL`.
pub fn list_code(source: &str) -> String {
    let inside = source
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(code, _)| code.trim());
    inside.unwrap_or(source.trim()).to_owned()
}

fn split_multi(field: &str) -> Vec<String> {
    field
        .split("; ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// ISO-2 countries of CSL addresses (`street, city, state, postal, CC`; or only `CC`).
fn address_countries(addresses: &[String]) -> Vec<String> {
    let mut countries: Vec<String> = addresses
        .iter()
        .filter_map(|address| address.rsplit(',').next())
        .map(str::trim)
        .filter(|cc| cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect();
    countries.dedup();
    countries
}

/// The CSL columns this loader reads (`source` and `name` are required).
const CSL_COLUMNS: &[&str] = &[
    "source",
    "entity_number",
    "type",
    "programs",
    "name",
    "addresses",
    "federal_register_notice",
    "start_date",
    "license_requirement",
    "license_policy",
    "source_list_url",
    "alt_names",
];

/// Loads a CSL-layout CSV (plain or gzip bytes from `reader`).
pub fn load_csl(file: &str, reader: impl Read, meta: &ListMeta) -> Result<LoadedList, LoadError> {
    let bytes = read_maybe_gzip(file, reader)?;
    let mut csv = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let columns = csl_columns(file, &mut csv)?;
    let mut entries = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    loop {
        row += 1;
        match csv.read_record(&mut record) {
            Ok(true) => entries.push(csl_entry(file, row, &record, &columns)?),
            Ok(false) => break,
            Err(e) => return Err(csv_error(file, row, &e, |i| column_name(&columns, i))),
        }
    }
    if entries.is_empty() {
        return Err(LoadError::File {
            file: file.to_owned(),
            message: "no entries (expected a CSL header and data rows)".to_owned(),
        });
    }
    let count = entries.len();
    Ok(LoadedList {
        version: version(meta, sha256_hex(&[&bytes]), count),
        entries,
    })
}

fn column_name(columns: &HashMap<&'static str, usize>, index: usize) -> Option<String> {
    columns
        .iter()
        .find(|(_, i)| **i == index)
        .map(|(name, _)| (*name).to_owned())
}

fn csl_columns(
    file: &str,
    csv: &mut csv::Reader<&[u8]>,
) -> Result<HashMap<&'static str, usize>, LoadError> {
    let header = csv
        .headers()
        .map_err(|e| csv_error(file, 0, &e, |_| None))?;
    let columns: HashMap<&'static str, usize> = CSL_COLUMNS
        .iter()
        .filter_map(|name| {
            header
                .iter()
                .position(|h| h.trim() == *name)
                .map(|i| (*name, i))
        })
        .collect();
    for required in ["source", "name"] {
        if !columns.contains_key(required) {
            return Err(LoadError::MissingColumn {
                file: file.to_owned(),
                column: required.to_owned(),
            });
        }
    }
    Ok(columns)
}

fn csv_error(
    file: &str,
    row: usize,
    error: &csv::Error,
    field_name: impl Fn(usize) -> Option<String>,
) -> LoadError {
    if let csv::ErrorKind::Utf8 { err, .. } = error.kind() {
        let field =
            field_name(err.field()).unwrap_or_else(|| format!("column {}", err.field() + 1));
        return LoadError::Field {
            file: file.to_owned(),
            row,
            field,
            message: "not valid utf-8".to_owned(),
        };
    }
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields (expected {expected_len}, as in the header)")
        }
        _ => error.to_string().to_lowercase(),
    };
    LoadError::Row {
        file: file.to_owned(),
        row,
        message,
    }
}

fn csl_entry(
    file: &str,
    row: usize,
    record: &csv::StringRecord,
    columns: &HashMap<&'static str, usize>,
) -> Result<Entry, LoadError> {
    let get = |name: &str| {
        columns
            .get(name)
            .and_then(|&i| record.get(i))
            .unwrap_or("")
            .trim()
    };
    let field_error = |field: &str, message: String| LoadError::Field {
        file: file.to_owned(),
        row,
        field: field.to_owned(),
        message,
    };
    let name = get("name");
    if name.is_empty() {
        return Err(field_error(
            "name",
            "empty (expected the party's name)".to_owned(),
        ));
    }
    let party_type = PartyType::from_list_value(get("type")).ok_or_else(|| {
        field_error(
            "type",
            format!(
                "`{}` (expected Individual, Entity, Vessel, Aircraft or empty)",
                get("type")
            ),
        )
    })?;
    let addresses = split_multi(get("addresses"));
    let (requirement, policy) = (get("license_requirement"), get("license_policy"));
    let optional = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    Ok(Entry {
        version: 0,
        row,
        source: get("source").to_owned(),
        list_code: list_code(get("source")),
        entity_number: optional(get("entity_number")),
        party_type,
        name: name.to_owned(),
        alt_names: split_multi(get("alt_names")),
        countries: address_countries(&addresses),
        addresses,
        programs: split_multi(get("programs")),
        federal_register: FrCitation::parse_list(get("federal_register_notice")),
        license: (!requirement.is_empty() || !policy.is_empty())
            .then(|| LicenseTerms::parse(requirement, policy)),
        start_date: optional(get("start_date")),
        source_list_url: optional(get("source_list_url")),
        remarks: None,
    })
}

/// The four OFAC files, as readers with their names.
#[derive(Debug)]
pub struct OfacFiles<R> {
    /// `sdn.csv`: name and reader.
    pub sdn: (String, R),
    /// `add.csv`.
    pub add: (String, R),
    /// `alt.csv`.
    pub alt: (String, R),
    /// `sdn_comments.csv`, if given.
    pub comments: Option<(String, R)>,
}

const OFAC_SOURCE: &str = "Specially Designated Nationals (SDN) - Treasury Department";

/// Loads OFAC's legacy CSV set (no header, `-0-` as null, a trailing 0x1A line).
pub fn load_ofac<R: Read>(files: OfacFiles<R>, meta: &ListMeta) -> Result<LoadedList, LoadError> {
    let sdn = read_maybe_gzip(&files.sdn.0, files.sdn.1)?;
    let add = read_maybe_gzip(&files.add.0, files.add.1)?;
    let alt = read_maybe_gzip(&files.alt.0, files.alt.1)?;
    let comments = match files.comments {
        Some((name, reader)) => Some((read_maybe_gzip(&name, reader)?, name)),
        None => None,
    };
    let mut entries = Vec::new();
    let mut by_number = HashMap::new();
    for_each_ofac_row(&files.sdn.0, &sdn, 12, |row, fields| {
        let entry = ofac_entry(&files.sdn.0, row, fields)?;
        by_number.insert(fields[0].to_owned(), entries.len());
        entries.push(entry);
        Ok(())
    })?;
    let mut attach = |file: &str, bytes: &[u8], columns: usize, apply: fn(&mut Entry, &[&str])| {
        for_each_ofac_row(file, bytes, columns, |row, fields| {
            let index = by_number
                .get(fields[0])
                .copied()
                .ok_or_else(|| LoadError::Field {
                    file: file.to_owned(),
                    row,
                    field: "ent_num".to_owned(),
                    message: format!("`{}` is not in the sdn file", fields[0]),
                })?;
            apply(&mut entries[index], fields);
            Ok(())
        })
    };
    attach(&files.add.0, &add, 6, apply_ofac_address)?;
    attach(&files.alt.0, &alt, 5, |entry, f| {
        entry.alt_names.extend(ofac_value(f[3]))
    })?;
    if let Some((bytes, name)) = &comments {
        attach(name, bytes, 2, apply_ofac_comment)?;
    }
    let digest_parts: Vec<&[u8]> = [&sdn, &add, &alt]
        .into_iter()
        .map(Vec::as_slice)
        .chain(comments.as_ref().map(|(b, _)| b.as_slice()))
        .collect();
    let count = entries.len();
    Ok(LoadedList {
        version: version(meta, sha256_hex(&digest_parts), count),
        entries,
    })
}

fn apply_ofac_address(entry: &mut Entry, fields: &[&str]) {
    let parts: Vec<String> = fields[2..5].iter().filter_map(|f| ofac_value(f)).collect();
    if let Some(country) = ofac_value(fields[4]) {
        if !entry.countries.contains(&country) {
            entry.countries.push(country);
        }
    }
    if !parts.is_empty() {
        entry.addresses.push(parts.join(", "));
    }
}

fn apply_ofac_comment(entry: &mut Entry, fields: &[&str]) {
    if let Some(more) = ofac_value(fields[1]) {
        let remarks = entry.remarks.get_or_insert_with(String::new);
        remarks.push_str(&more);
    }
}

/// An OFAC field: `-0-` (OFAC's null) and blanks are none.
fn ofac_value(field: &str) -> Option<String> {
    let trimmed = field.trim();
    (!trimmed.is_empty() && trimmed != "-0-").then(|| trimmed.to_owned())
}

fn for_each_ofac_row(
    file: &str,
    bytes: &[u8],
    columns: usize,
    mut visit: impl FnMut(usize, &[&str]) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    loop {
        row += 1;
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, row, &e, |_| None)),
        }
        let fields: Vec<&str> = record.iter().collect();
        let end_of_file_marker =
            fields.len() == 1 && fields[0].trim_matches(['\u{1a}', ' ']).is_empty();
        if end_of_file_marker {
            continue;
        }
        if fields.len() < columns {
            return Err(LoadError::Row {
                file: file.to_owned(),
                row,
                message: format!("{} fields (expected {columns})", fields.len()),
            });
        }
        visit(row, &fields)?;
    }
}

fn ofac_entry(file: &str, row: usize, fields: &[&str]) -> Result<Entry, LoadError> {
    let field_error = |field: &str, message: String| LoadError::Field {
        file: file.to_owned(),
        row,
        field: field.to_owned(),
        message,
    };
    let name = ofac_value(fields[1])
        .ok_or_else(|| field_error("SDN_Name", "empty (expected the party's name)".to_owned()))?;
    let party_type = match ofac_value(fields[2]) {
        None => PartyType::Organization,
        Some(value) => PartyType::from_list_value(&value).ok_or_else(|| {
            field_error(
                "SDN_Type",
                format!("`{value}` (expected individual, vessel, aircraft or -0-)"),
            )
        })?,
    };
    Ok(Entry {
        version: 0,
        row,
        source: OFAC_SOURCE.to_owned(),
        list_code: "SDN".to_owned(),
        entity_number: Some(fields[0].trim().to_owned()),
        party_type,
        name,
        alt_names: Vec::new(),
        countries: Vec::new(),
        addresses: Vec::new(),
        programs: ofac_value(fields[3])
            .map(|p| split_multi(&p))
            .unwrap_or_default(),
        federal_register: Vec::new(),
        license: None,
        start_date: None,
        source_list_url: None,
        remarks: ofac_value(fields[11]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(format: ListFormat) -> ListMeta {
        ListMeta {
            id: "t".into(),
            format,
            date: "2026-07-31".into(),
            source: String::new(),
            file: None,
            files: None,
        }
    }

    #[test]
    fn csl_errors_name_file_row_and_field() {
        let cases = [
            ("source,type\nX,\n", "t.csv: header: missing column `name`"),
            (
                "source,name,type\nX,,\n",
                "t.csv: row 1: field `name`: empty (expected the party's name)",
            ),
            (
                "source,name,type\nX,A,\nX,B,Robot\n",
                "t.csv: row 2: field `type`: `Robot` (expected Individual, Entity, Vessel, Aircraft or empty)",
            ),
            (
                "source,name,type\nX,A\n",
                "t.csv: row 1: 2 fields (expected 3, as in the header)",
            ),
            ("", "t.csv: header: missing column `source`"),
        ];
        for (text, expected) in cases {
            let error = load_csl("t.csv", text.as_bytes(), &meta(ListFormat::Csl)).unwrap_err();
            assert_eq!(error.to_string(), expected, "{text:?}");
        }
        let bad_utf8 = b"source,name,type\nX,\xff,\n";
        let error = load_csl("t.csv", &bad_utf8[..], &meta(ListFormat::Csl)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.csv: row 1: field `name`: not valid utf-8"
        );
    }

    #[test]
    fn ofac_rows_and_errors() {
        let sdn = "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\u{1a}\r\n";
        let add = "36,25,-0- ,\"Havana\",\"Cuba\",-0- \r\n";
        let alt = "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \r\n";
        let files = |alt: &'static str| OfacFiles {
            sdn: ("sdn.csv".to_owned(), sdn.as_bytes()),
            add: ("add.csv".to_owned(), add.as_bytes()),
            alt: ("alt.csv".to_owned(), alt.as_bytes()),
            comments: None,
        };
        let loaded = load_ofac(files(alt), &meta(ListFormat::Ofac)).unwrap();
        let entry = &loaded.entries[0];
        assert_eq!(entry.alt_names, ["AERO-CARIBBEAN"]);
        assert_eq!(entry.countries, ["Cuba"]);
        assert_eq!(entry.party_type, PartyType::Organization);
        let error = load_ofac(
            files("99,1,\"aka\",\"X\",-0- \r\n"),
            &meta(ListFormat::Ofac),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "alt.csv: row 1: field `ent_num`: `99` is not in the sdn file"
        );
    }

    #[test]
    fn manifest_errors() {
        let bad_date =
            "[[list]]\nid = \"csl\"\nformat = \"csl\"\ndate = \"31.07.2026\"\nfile = \"c.csv\"\n";
        let error = parse_manifest("lists.toml", bad_date).unwrap_err();
        assert_eq!(
            error.to_string(),
            "lists.toml: field `list[0].date`: `31.07.2026` (expected YYYY-MM-DD)"
        );
    }
}
