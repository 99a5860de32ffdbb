//! `aidf screen`: restricted-party screening (crate `aidf-screen`) of one name, a batch file, or
//! name pairs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use aidf_screen::{
    Comparison, Detail, Explanation, Hit, ListFormat, ListMeta, ListSet, LoadedList, OfacFiles,
    Party, PartyType, ScoreParams, Screening, Thresholds, ofac_parity_score,
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::cmd::print;

/// `aidf screen …`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScreenArgs {
    #[command(subcommand)]
    compare: Option<ScreenAction>,
    /// The party's name (any script).
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    name: Option<String>,
    /// The party's country (ISO-2), a qualifier.
    #[arg(long)]
    country: Option<String>,
    /// Person or organization.
    #[arg(long = "type", value_enum, ignore_case = true)]
    party_type: Option<PartyTypeArg>,
    /// A CSV file with a `name` column (and optional `country`, `type`): screen every row.
    #[arg(long, value_name = "FILE.csv")]
    batch: Option<PathBuf>,
    /// Batch output file (default: standard output).
    #[arg(short = 'o', long = "out", requires = "batch")]
    out: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Options shared by screening and comparing.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Load lists from DIR/lists.toml instead of the embedded default (the CSL of 2026-07-31).
    #[arg(long, value_name = "DIR")]
    lists: Option<PathBuf>,
    #[command(flatten)]
    thresholds: ThresholdArgs,
    /// JSON output (batch: one JSON object per line).
    #[arg(long)]
    json: bool,
}

/// `--clear` and `--possible`.
#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// Clear-hit threshold (score in 0..1).
    #[arg(long, value_name = "SCORE")]
    clear: Option<f64>,
    /// Possible-hit threshold (score in 0..1).
    #[arg(long, value_name = "SCORE")]
    possible: Option<f64>,
}

impl ThresholdArgs {
    /// The thresholds given, the defaults for those not, checked.
    pub fn thresholds(&self) -> Result<Thresholds> {
        let defaults = Thresholds::default();
        Ok(Thresholds {
            clear: self.clear.unwrap_or(defaults.clear),
            possible: self.possible.unwrap_or(defaults.possible),
        }
        .validated()?)
    }
}

/// `aidf screen compare …`
#[derive(Debug, Subcommand)]
pub enum ScreenAction {
    /// Compare two names (or every pair of a `schema,name1,name2` CSV with --pairs).
    Compare {
        /// Person, Company or Organization (persons: extra given names weigh less).
        #[arg(long, value_enum, ignore_case = true, default_value = "Organization")]
        schema: SchemaArg,
        /// First name.
        #[arg(required_unless_present = "pairs", conflicts_with = "pairs")]
        name1: Option<String>,
        /// Second name.
        #[arg(required_unless_present = "pairs")]
        name2: Option<String>,
        /// A CSV of pairs (columns `schema,name1,name2`); prints a JSON array, one element per pair.
        #[arg(long, value_name = "FILE.csv")]
        pairs: Option<PathBuf>,
        /// Score on OFAC Sanctions List Search's scale instead (0..1 = OFAC's 0..100).
        #[arg(long)]
        ofac_parity: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Screen every party the ledger records (shipment and license consignees, VEU holders,
    /// application parties) against a new list version and report what changed.
    Rescreen(crate::rescreen_cmd::RescreenArgs),
    /// Record an officer's decision on a hit of a party on a list entry (`local` tenant): it
    /// supersedes earlier ones on that party and entry, and applies while the entry is unchanged.
    Decide(crate::screen_decisions_cmd::DecideArgs),
    /// List the recorded decisions (`local` tenant), oldest first.
    Decisions(crate::screen_decisions_cmd::LedgerArgs),
    /// The screening thresholds of the `local` tenant (used by `aidf ship`).
    Thresholds {
        #[command(subcommand)]
        action: crate::screen_decisions_cmd::ThresholdsAction,
    },
}

/// Party type as typed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PartyTypeArg {
    /// A natural person.
    Person,
    /// A company or other organization.
    Organization,
}

impl From<PartyTypeArg> for PartyType {
    fn from(t: PartyTypeArg) -> PartyType {
        match t {
            PartyTypeArg::Person => PartyType::Person,
            PartyTypeArg::Organization => PartyType::Organization,
        }
    }
}

/// FollowTheMoney-style schema of a pair.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "PascalCase")]
pub enum SchemaArg {
    /// Natural persons.
    Person,
    /// Companies.
    Company,
    /// Other organizations.
    Organization,
}

/// Runs `aidf screen`.
pub fn run(args: ScreenArgs) -> Result<()> {
    match args.compare {
        Some(ScreenAction::Rescreen(rescreen)) => return crate::rescreen_cmd::run(&rescreen),
        Some(ScreenAction::Decide(a)) => return crate::screen_decisions_cmd::decide(a),
        Some(ScreenAction::Decisions(a)) => return crate::screen_decisions_cmd::decisions(a),
        Some(ScreenAction::Thresholds { action }) => {
            return crate::screen_decisions_cmd::thresholds(action);
        }
        _ => {}
    }
    if let Some(ScreenAction::Compare {
        schema,
        name1,
        name2,
        pairs,
        ofac_parity,
        common,
    }) = args.compare
    {
        let settings = Settings::new(&common)?;
        return match pairs {
            Some(file) => compare_pairs(&settings, &file, ofac_parity),
            None => compare_one(
                &settings,
                schema,
                &name1.unwrap_or_default(),
                &name2.unwrap_or_default(),
                ofac_parity,
            ),
        };
    }
    let settings = Settings::new(&args.common)?;
    if let Some(file) = &args.batch {
        return batch(&settings, file, args.out.as_deref());
    }
    let party = Party {
        name: args.name.as_deref().unwrap_or_default(),
        country: args.country.as_deref(),
        party_type: args.party_type.map(PartyType::from),
    };
    let screening = settings
        .lists
        .screen(&party, settings.thresholds, &settings.params)?;
    if settings.json {
        print(&(serde_json::to_string_pretty(&screening)? + "\n"))
    } else {
        print(&render_screening(party.name, &screening))
    }
}

/// Loaded lists and the options every mode shares.
#[derive(Debug)]
pub struct Settings {
    /// The lists.
    pub lists: ListSet,
    /// Thresholds.
    pub thresholds: Thresholds,
    /// Score parameters.
    pub params: ScoreParams,
    /// JSON output.
    pub json: bool,
}

impl Settings {
    fn new(common: &CommonArgs) -> Result<Settings> {
        let thresholds = common.thresholds.thresholds()?;
        let lists = match &common.lists {
            Some(dir) => load_lists(dir)?,
            None => ListSet::default_lists()?,
        };
        Ok(Settings {
            lists,
            thresholds,
            params: ScoreParams::default(),
            json: common.json,
        })
    }
}

/// Loads `DIR/lists.toml` and the files it names, through a snapshot cache: the set built from
/// the same files (manifest, names and bytes) is kept as a snapshot in the cache directory
/// (`$AIDF_CACHE_DIR`, else `$XDG_CACHE_HOME/aidf`, else `~/.cache/aidf`) and read in place the
/// next time; a damaged or unwritable cache only costs the full build (with a warning).
pub fn load_lists(dir: &Path) -> Result<ListSet> {
    load_lists_of("--lists", dir)
}

/// [`load_lists`] for the option `option` (named when the manifest cannot be read).
pub fn load_lists_of(option: &str, dir: &Path) -> Result<ListSet> {
    let manifest_path = dir.join("lists.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("option `{option}`: cannot read {}", manifest_path.display()))?;
    let metas = aidf_screen::parse_manifest(&manifest_path.display().to_string(), &text)?;
    let files = read_files(dir, &metas)?;
    let mut parts: Vec<&[u8]> = vec![text.as_bytes()];
    for file in &files {
        parts.extend([file.name.as_bytes(), file.bytes.as_slice()]);
    }
    let fingerprint = aidf_screen::snapshot::fingerprint(&parts);
    let cache = cache_dir().map(|d| d.join(format!("lists-{fingerprint:016x}.snapshot")));
    let build = || build_lists(&files, &metas);
    let set = match cache
        .as_ref()
        .and_then(|path| Some((path, std::fs::read(path).ok()?)))
    {
        Some((path, bytes)) => ListSet::from_snapshot_or_build(
            &path.display().to_string(),
            aidf_screen::SnapshotBytes::Owned(bytes),
            fingerprint,
            true,
            build,
        )?,
        None => build()?,
    };
    if let Some(note) = set.note() {
        eprintln!("warning: screening lists: {note}");
    }
    if let (Some(path), Some(bytes)) = (&cache, set.to_snapshot(fingerprint)) {
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let partial = path.with_extension(format!("{}.tmp", std::process::id()));
                std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path))
            });
        if let Err(e) = written {
            eprintln!("warning: screening lists cache {}: {e}", path.display());
        }
    }
    Ok(set)
}

fn cache_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("AIDF_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("aidf")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("aidf")))
}

/// One list file as read: its name in the manifest, the path shown in errors, its bytes.
struct ListFile {
    name: String,
    shown: String,
    bytes: Vec<u8>,
}

fn read_files(dir: &Path, metas: &[ListMeta]) -> Result<Vec<ListFile>> {
    let mut names: Vec<&str> = Vec::new();
    for meta in metas {
        match (&meta.file, &meta.files) {
            (Some(file), _) if meta.format == ListFormat::Csl => names.push(file),
            (_, Some(f)) if meta.format == ListFormat::Ofac => {
                names.extend([f.sdn.as_str(), f.add.as_str(), f.alt.as_str()]);
                names.extend(f.comments.as_deref());
            }
            _ => bail!(
                "lists.toml: list `{}`: field `file`/`files`: missing",
                meta.id
            ),
        }
    }
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(name);
            let shown = path.display().to_string();
            let bytes = std::fs::read(&path).with_context(|| format!("{shown}: cannot open"))?;
            Ok(ListFile {
                name: name.to_owned(),
                shown,
                bytes,
            })
        })
        .collect()
}

fn build_lists(files: &[ListFile], metas: &[ListMeta]) -> Result<ListSet, aidf_screen::LoadError> {
    let file = |name: &str| {
        let found = files.iter().find(|f| f.name == name);
        found.map_or((name.to_owned(), &[][..]), |f| {
            (f.shown.clone(), f.bytes.as_slice())
        })
    };
    let mut lists: Vec<LoadedList> = Vec::with_capacity(metas.len());
    for meta in metas {
        match (&meta.file, &meta.files) {
            (Some(name), _) if meta.format == ListFormat::Csl => {
                let (shown, bytes) = file(name);
                lists.push(aidf_screen::load_csl(&shown, bytes, meta)?);
            }
            (_, Some(names)) => {
                let files = OfacFiles {
                    sdn: file(&names.sdn),
                    add: file(&names.add),
                    alt: file(&names.alt),
                    comments: names.comments.as_deref().map(file),
                };
                lists.push(aidf_screen::load_ofac(files, meta)?);
            }
            _ => {}
        }
    }
    Ok(ListSet::build(lists))
}

/// The human table of one screening.
fn render_screening(name: &str, screening: &Screening<'_>) -> String {
    let mut out = String::new();
    let verdict = serde_json::to_value(screening.verdict).unwrap_or_default();
    let _ = writeln!(
        out,
        "{name}: {} ({} hits)",
        verdict.as_str().unwrap_or(""),
        screening.hits.len()
    );
    if !screening.hits.is_empty() {
        out.push_str("\nscore  verdict      list  entry                                              matched name\n");
    }
    for hit in &screening.hits {
        render_hit(&mut out, hit);
    }
    let _ = writeln!(
        out,
        "\nthresholds: clear {} · possible {}",
        screening.thresholds.clear, screening.thresholds.possible
    );
    for version in screening.list_versions {
        let _ = writeln!(
            out,
            "list {} of {} ({}, {} entries)",
            version.id, version.date, version.sha256, version.entries
        );
    }
    out
}

fn render_hit(out: &mut String, hit: &Hit<'_>) {
    let verdict = serde_json::to_value(hit.verdict).unwrap_or_default();
    let entry_name: String = hit.entry.name.chars().take(50).collect();
    let _ = writeln!(
        out,
        "{:>5.3}  {:<12} {:<5} {:<50} {}{}",
        hit.score,
        verdict.as_str().unwrap_or(""),
        hit.entry.list_code,
        entry_name,
        hit.matched_name,
        if hit.matched_alias { " (alias)" } else { "" }
    );
    let _ = writeln!(out, "       why: {}", explain_line(&hit.explanation));
    if let Some(terms) = &hit.entry.license {
        let scope = serde_json::to_value(&terms.scope).unwrap_or_default();
        let _ = writeln!(
            out,
            "       license: {} (scope {}; sections {}; footnotes {:?}); review: {}",
            terms.requirement,
            scope["kind"].as_str().unwrap_or(""),
            terms.requirement_sections.join(", "),
            terms.footnotes,
            terms.review_policy
        );
    }
    let citations: Vec<&str> = hit
        .entry
        .federal_register
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    if !citations.is_empty() {
        let _ = writeln!(out, "       federal register: {}", citations.join(", "));
    }
}

/// One line: aligned parts, what is left over, qualifiers.
pub fn explain_line(explanation: &Explanation) -> String {
    let mut parts: Vec<String> = explanation
        .aligned
        .iter()
        .map(|a| {
            let how = serde_json::to_value(a.how).unwrap_or_default();
            format!(
                "{} ≈ {} ({} {:.2})",
                a.query,
                a.entry,
                how.as_str().unwrap_or(""),
                a.similarity
            )
        })
        .collect();
    if !explanation.unmatched_query.is_empty() {
        parts.push(format!(
            "query only: {}",
            explanation.unmatched_query.join(" ")
        ));
    }
    if !explanation.unmatched_entry.is_empty() {
        parts.push(format!(
            "list only: {}",
            explanation.unmatched_entry.join(" ")
        ));
    }
    parts.extend(
        explanation
            .qualifiers
            .iter()
            .map(|q| format!("{} ×{}", q.feature, q.factor)),
    );
    parts.push(format!(
        "coverage {:.2}/{:.2}, specificity {:.2}",
        explanation.query_coverage, explanation.entry_coverage, explanation.specificity
    ));
    parts.join("; ")
}

#[derive(Debug, Serialize)]
struct PairAnswer<'a> {
    schema: &'a str,
    name1: &'a str,
    name2: &'a str,
    #[serde(flatten)]
    comparison: Comparison,
    /// OFAC-scale score (0..100), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    ofac_score: Option<f64>,
}

fn compare(
    settings: &Settings,
    schema: SchemaArg,
    name1: &str,
    name2: &str,
    ofac: bool,
) -> Result<(Comparison, Option<f64>)> {
    let person = matches!(schema, SchemaArg::Person);
    let mut comparison =
        settings
            .lists
            .compare(name1, name2, person, settings.thresholds, &settings.params)?;
    if !ofac {
        return Ok((comparison, None));
    }
    let ofac_score = ofac_parity_score(name1, name2);
    comparison.score = ofac_score / 100.0;
    comparison.is_match = comparison.score >= settings.thresholds.clear;
    comparison.verdict = settings.thresholds.verdict(comparison.score);
    Ok((comparison, Some(ofac_score)))
}

fn schema_name(schema: SchemaArg) -> &'static str {
    match schema {
        SchemaArg::Person => "Person",
        SchemaArg::Company => "Company",
        SchemaArg::Organization => "Organization",
    }
}

fn compare_one(
    settings: &Settings,
    schema: SchemaArg,
    name1: &str,
    name2: &str,
    ofac: bool,
) -> Result<()> {
    let (comparison, ofac_score) = compare(settings, schema, name1, name2, ofac)?;
    if settings.json {
        let answer = PairAnswer {
            schema: schema_name(schema),
            name1,
            name2,
            comparison,
            ofac_score,
        };
        return print(&(serde_json::to_string_pretty(&answer)? + "\n"));
    }
    let verdict = serde_json::to_value(comparison.verdict).unwrap_or_default();
    print(&format!(
        "{:.3} {} (match: {})\nwhy: {}\n",
        comparison.score,
        verdict.as_str().unwrap_or(""),
        comparison.is_match,
        explain_line(&comparison.explanation)
    ))
}

/// A CSV file opened with its header read, and its name as errors show it.
fn open_csv(file: &Path) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord, String)> {
    let shown = file.display().to_string();
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("{shown}: cannot open"))?;
    let header = reader
        .headers()
        .with_context(|| format!("{shown}: header"))?
        .clone();
    Ok((reader, header, shown))
}

fn compare_pairs(settings: &Settings, file: &Path, ofac: bool) -> Result<()> {
    let (mut reader, header, shown) = open_csv(file)?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!("{shown}: header: missing column `{name}` (expected schema,name1,name2)")
            })
    };
    let (schema_at, name1_at, name2_at) = (column("schema")?, column("name1")?, column("name2")?);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(b"[\n")?;
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = record.with_context(|| format!("{shown}: row {row}"))?;
        let field = |at: usize| record.get(at).unwrap_or_default();
        let schema = SchemaArg::from_str(field(schema_at).trim(), true).map_err(|_| {
            anyhow::anyhow!("{shown}: row {row}: field `schema`: `{}` (expected Person, Company or Organization)", field(schema_at))
        })?;
        let (comparison, ofac_score) =
            compare(settings, schema, field(name1_at), field(name2_at), ofac)
                .with_context(|| format!("{shown}: row {row}"))?;
        let answer = PairAnswer {
            schema: schema_name(schema),
            name1: field(name1_at),
            name2: field(name2_at),
            comparison,
            ofac_score,
        };
        if index > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &answer)?;
    }
    out.write_all(b"\n]\n")?;
    out.flush()?;
    Ok(())
}

/// Rows screened per parallel step of a batch.
const BATCH_CHUNK_ROWS: usize = 65_536;

/// One batch row: its number, name, country and type (or why it cannot be read).
type BatchRow = (
    usize,
    String,
    Option<String>,
    Result<Option<PartyType>, String>,
);

/// Column positions of a batch file.
#[derive(Debug, Clone, Copy)]
struct BatchColumns {
    name: usize,
    country: Option<usize>,
    party_type: Option<usize>,
}

/// `aidf screen --batch FILE.csv`: every row screened, in parallel, output in input order.
fn batch(settings: &Settings, file: &Path, out: Option<&Path>) -> Result<()> {
    let (reader, header, shown) = open_csv(file)?;
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let columns = BatchColumns {
        name: find("name").with_context(|| format!("{shown}: header: missing column `name`"))?,
        country: find("country"),
        party_type: find("type"),
    };
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot create", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, &mut sink);
    if !settings.json {
        sink.write_all(
            b"row,name,country,verdict,score,list,entry,matched_name,list_version,error\n",
        )?;
    }
    // A reader thread cuts the next chunk while the workers screen this one.
    let (chunks_tx, chunks_rx) = std::sync::mpsc::sync_channel::<Result<Vec<BatchRow>>>(1);
    let errors = std::thread::scope(|scope| -> Result<Vec<String>> {
        let shown = shown.as_str();
        scope.spawn(move || read_chunks(reader, columns, shown, chunks_tx));
        let mut errors = Vec::new();
        for chunk in chunks_rx {
            for (bytes, chunk_errors) in screen_chunk(settings, &chunk?) {
                sink.write_all(&bytes)?;
                errors.extend(chunk_errors);
            }
        }
        Ok(errors)
    })?;
    sink.flush()?;
    match errors.first() {
        None => Ok(()),
        Some(first) => bail!(
            "{shown}: {} rows not screened; first: {first}",
            errors.len()
        ),
    }
}

/// Reads the batch in chunks of [`BATCH_CHUNK_ROWS`] and sends them on (stops at the first
/// unreadable record, which it sends as the error).
fn read_chunks(
    reader: csv::Reader<std::fs::File>,
    columns: BatchColumns,
    shown: &str,
    chunks: std::sync::mpsc::SyncSender<Result<Vec<BatchRow>>>,
) {
    let mut records = reader.into_records().enumerate();
    loop {
        let mut chunk: Vec<BatchRow> = Vec::with_capacity(BATCH_CHUNK_ROWS);
        for (index, record) in records.by_ref().take(BATCH_CHUNK_ROWS) {
            match record {
                Ok(record) => chunk.push(batch_row(index + 1, &record, columns)),
                Err(e) => {
                    let _ = chunks.send(Err(anyhow::anyhow!("{shown}: row {}: {e}", index + 1)));
                    return;
                }
            }
        }
        if chunk.is_empty() || chunks.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

fn batch_row(row: usize, record: &csv::StringRecord, columns: BatchColumns) -> BatchRow {
    let get = |at: Option<usize>| {
        at.and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let party_type = match get(columns.party_type) {
        None => Ok(None),
        Some(value) => PartyType::from_list_value(value).map(Some).ok_or_else(|| {
            format!("row {row}: field `type`: `{value}` (expected person or organization)")
        }),
    };
    let name = record.get(columns.name).unwrap_or_default().to_owned();
    (
        row,
        name,
        get(columns.country).map(str::to_owned),
        party_type,
    )
}

/// Screens a chunk on every core; each worker's output bytes and row errors, in order.
fn screen_chunk(settings: &Settings, chunk: &[BatchRow]) -> Vec<(Vec<u8>, Vec<String>)> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let per_worker = chunk.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(per_worker)
            .map(|rows| scope.spawn(move || screen_rows(settings, rows)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Vec::new(), vec!["a worker failed".to_owned()]))
            })
            .collect()
    })
}

#[derive(Debug, Serialize)]
struct BatchLine<'a> {
    row: usize,
    name: &'a str,
    country: Option<&'a str>,
    #[serde(flatten)]
    screening: Option<&'a Screening<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn screen_rows(settings: &Settings, rows: &[BatchRow]) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::with_capacity(rows.len() * 96);
    let mut errors = Vec::new();
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(&mut bytes);
    let mut json_lines = Vec::new();
    for (row, name, country, party_type) in rows {
        let party_type = party_type.clone();
        let screening = party_type.and_then(|party_type| {
            let party = Party {
                name,
                country: country.as_deref(),
                party_type,
            };
            let detail = if settings.json {
                Detail::Explained
            } else {
                Detail::ScoresOnly
            };
            settings
                .lists
                .screen_with(&party, settings.thresholds, &settings.params, detail)
                .map_err(|e| format!("row {row}: {e}"))
        });
        let error = screening.as_ref().err().cloned();
        if let Some(e) = &error {
            errors.push(e.clone());
        }
        let screening = screening.ok();
        if settings.json {
            let line = BatchLine {
                row: *row,
                name,
                country: country.as_deref(),
                screening: screening.as_ref(),
                error: error.as_deref(),
            };
            let _ = serde_json::to_writer(&mut json_lines, &line);
            json_lines.push(b'\n');
        } else {
            let _ = writer.write_record(csv_fields(
                *row,
                name,
                country.as_deref(),
                screening.as_ref(),
                error.as_deref(),
            ));
        }
    }
    let _ = writer.flush();
    drop(writer);
    if settings.json {
        return (json_lines, errors);
    }
    (bytes, errors)
}

fn csv_fields(
    row: usize,
    name: &str,
    country: Option<&str>,
    screening: Option<&Screening<'_>>,
    error: Option<&str>,
) -> [String; 10] {
    let best = screening.and_then(|s| s.hits.first());
    let verdict = screening.map_or("error", |s| s.verdict.as_str()).to_owned();
    [
        row.to_string(),
        name.to_owned(),
        country.unwrap_or_default().to_owned(),
        verdict,
        best.map(|h| format!("{:.3}", h.score)).unwrap_or_default(),
        best.map(|h| h.entry.list_code.clone()).unwrap_or_default(),
        best.map(|h| h.entry.name.clone()).unwrap_or_default(),
        best.map(|h| h.matched_name.to_owned()).unwrap_or_default(),
        best.map(|h| format!("{}@{}", h.list_version.id, h.list_version.date))
            .unwrap_or_default(),
        error.unwrap_or_default().to_owned(),
    ]
}
