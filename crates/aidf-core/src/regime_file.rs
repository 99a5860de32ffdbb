//! Regime files as written: `extends`, `include` and `remove`, resolved into one [`RegimeSpec`]
//! per regime, with errors that name the file, the line and the field.
//!
//! A regime file either stands alone or names a parent with `extends = "id"`. A child is its
//! parent's data with the child's tables merged in: tables merge key by key (so
//! `[allocation] tier2_tpp_cap = 1.2e9` changes only the cap), anything else (numbers, strings,
//! arrays, arrays of tables) replaces the parent's value. `remove = ["lpp", "switches.x"]` deletes
//! inherited sections or fields first; `include = ["h200-2026"]` applies another regime's *own*
//! changes (the sections its file writes, not what it inherits) before the child's. `changes`
//! (the regime's own description) is never inherited.
//!
//! Every file is parsed with spans, and each file's spans are shifted into one address space, so
//! a value keeps pointing at the file and line it was written on after merging. Deserialization
//! errors and later validation errors are mapped back through those spans.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::policy_error::PolicyError;
use crate::regime::RegimeSpec;

/// Keys that describe a file rather than the rules: never copied by `include`.
const IDENTITY_KEYS: &[&str] = &[
    "schema",
    "id",
    "title",
    "citation",
    "effective_date",
    "compliance_date",
    "confidence",
    "changes",
    "extends",
    "include",
    "remove",
];

/// Keys that steer resolution and are not part of the merged data.
const DIRECTIVE_KEYS: &[&str] = &["include", "remove"];

/// One parsed file.
struct Parsed<'a> {
    file: &'a str,
    table: DeTable<'a>,
    id: String,
}

/// Maps positions in the shared address space back to a file and line.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    /// `(first offset, file name, text)` per file, in offset order.
    files: Vec<(usize, String, String)>,
}

impl Locator {
    /// File name and 1-based line of a shifted offset.
    pub(crate) fn place(&self, offset: usize) -> Option<(&str, usize)> {
        let i = self.files.partition_point(|(base, _, _)| *base <= offset);
        let (base, name, text) = self.files.get(i.checked_sub(1)?)?;
        let local = (offset - base).min(text.len());
        let line = text.get(..local).unwrap_or("").matches('\n').count() + 1;
        Some((name, line))
    }

    /// The source text of a shifted span.
    fn text(&self, span: &Range<usize>) -> Option<&str> {
        let i = self
            .files
            .partition_point(|(base, _, _)| *base <= span.start);
        let (base, _, text) = self.files.get(i.checked_sub(1)?)?;
        text.get(span.start - base..span.end.checked_sub(*base)?)
    }
}

/// chrono's and serde's words for a date that could not be read, rewritten as the value as
/// written and what was expected (`written` is its TOML source text).
fn plain_date_message(message: &str, written: &str) -> Option<String> {
    const CHRONO: [&str; 5] = [
        "input is out of range",
        "input contains invalid characters",
        "trailing input",
        "premature end of input",
        "input is not enough for unique date and time",
    ];
    if !CHRONO.contains(&message) && !message.ends_with("expected a formatted date string") {
        return None;
    }
    let value = written.trim().trim_matches('"');
    let read = crate::input_error::de_date(
        serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(value),
    );
    read.err().map(|e| e.to_string())
}

/// A resolved regime: the typed spec, the merged data (for locating fields) and its own file.
#[derive(Debug)]
pub(crate) struct ResolvedFile<'a> {
    /// The file the regime's id is written in.
    pub file: &'a str,
    /// The typed data.
    pub spec: RegimeSpec,
    /// The merged table, spans shifted.
    pub table: DeTable<'a>,
}

impl ResolvedFile<'_> {
    /// An error on `field` (a dotted path): the file and line where the field's value was
    /// written, else the regime's own file.
    pub(crate) fn error(&self, loc: &Locator, field: &str, message: String) -> PolicyError {
        let mut table = Some(&self.table);
        let mut span = None;
        // Only a field written somewhere has a line; a missing one is reported on the regime's file.
        for part in field.split('.') {
            let name = part.split('[').next().unwrap_or(part);
            match table.and_then(|t| t.get(name)) {
                Some(v) => {
                    span = Some(v.span());
                    table = v.get_ref().as_table();
                }
                None => {
                    span = None;
                    break;
                }
            }
        }
        match span.and_then(|s| loc.place(s.start)) {
            Some((file, line)) => PolicyError {
                file: file.to_string(),
                line: Some(line),
                message: format!("field `{field}`: {message}"),
            },
            None => PolicyError {
                file: self.file.to_string(),
                line: None,
                message: format!("field `{field}`: {message}"),
            },
        }
    }
}

fn err_at(
    loc: &Locator,
    fallback: &str,
    span: Option<Range<usize>>,
    message: String,
) -> PolicyError {
    match span.and_then(|s| loc.place(s.start)) {
        Some((file, line)) => PolicyError {
            file: file.to_string(),
            line: Some(line),
            message,
        },
        None => PolicyError {
            file: fallback.to_string(),
            line: None,
            message,
        },
    }
}

fn shift_value<'a>(v: Spanned<DeValue<'a>>, by: usize) -> Spanned<DeValue<'a>> {
    let span = v.span();
    let span = span.start + by..span.end + by;
    let inner = match v.into_inner() {
        DeValue::Table(t) => DeValue::Table(shift_table(t, by)),
        DeValue::Array(mut a) => {
            for e in a.iter_mut() {
                let taken = std::mem::replace(e, Spanned::new(0..0, DeValue::Boolean(false)));
                *e = shift_value(taken, by);
            }
            DeValue::Array(a)
        }
        // Dates may be written as TOML dates or as strings; the schema reads strings.
        DeValue::Datetime(d) => DeValue::String(DeString::Owned(d.to_string())),
        other => other,
    };
    Spanned::new(span, inner)
}

fn shift_table(t: DeTable<'_>, by: usize) -> DeTable<'_> {
    let mut out = DeTable::new();
    for (k, v) in t {
        let ks = k.span();
        out.insert(
            Spanned::new(ks.start + by..ks.end + by, k.into_inner()),
            shift_value(v, by),
        );
    }
    out
}

fn key(name: &str) -> Spanned<DeString<'static>> {
    Spanned::new(0..0, DeString::Owned(name.to_string()))
}

/// Merges `over` into `base`: tables key by key, everything else replaced.
fn merge<'a>(base: &mut DeTable<'a>, over: DeTable<'a>) {
    for (k, v) in over {
        let name = k.get_ref().to_string();
        let both_tables = v.get_ref().as_table().is_some()
            && base
                .get(name.as_str())
                .is_some_and(|b| b.get_ref().as_table().is_some());
        if both_tables {
            let Some(slot) = base.get_mut(name.as_str()) else {
                continue;
            };
            if let (DeValue::Table(b), DeValue::Table(o)) = (slot.get_mut(), v.into_inner()) {
                merge(b, o);
            }
        } else {
            base.remove(name.as_str());
            base.insert(k, v);
        }
    }
}

/// A string or array-of-strings directive with the span of each entry.
fn strings(
    loc: &Locator,
    p: &Parsed<'_>,
    name: &str,
) -> Result<Vec<(String, Range<usize>)>, PolicyError> {
    let Some(v) = p.table.get(name) else {
        return Ok(Vec::new());
    };
    let bad = || {
        err_at(
            loc,
            p.file,
            Some(v.span()),
            format!("field `{name}`: expected a string or an array of strings"),
        )
    };
    match v.get_ref() {
        DeValue::String(s) => Ok(vec![(s.to_string(), v.span())]),
        DeValue::Array(a) => a
            .iter()
            .map(|e| match e.get_ref() {
                DeValue::String(s) => Ok((s.to_string(), e.span())),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

struct Resolver<'a, 'b> {
    loc: &'b Locator,
    parsed: &'b [Parsed<'a>],
    by_id: HashMap<&'b str, usize>,
    done: HashMap<usize, DeTable<'a>>,
    stack: Vec<usize>,
}

impl<'a> Resolver<'a, '_> {
    fn lookup(
        &self,
        from: usize,
        field: &str,
        id: &str,
        span: Range<usize>,
    ) -> Result<usize, PolicyError> {
        self.by_id.get(id).copied().ok_or_else(|| {
            let mut known: Vec<&str> = self.by_id.keys().copied().collect();
            known.sort_unstable();
            err_at(
                self.loc,
                self.parsed[from].file,
                Some(span),
                format!(
                    "field `{field}`: unknown regime `{id}`; known: {}",
                    known.join(", ")
                ),
            )
        })
    }

    fn resolve(&mut self, i: usize) -> Result<DeTable<'a>, PolicyError> {
        if let Some(t) = self.done.get(&i) {
            return Ok(t.clone());
        }
        let p = &self.parsed[i];
        if let Some(pos) = self.stack.iter().position(|&s| s == i) {
            let mut chain: Vec<&str> = self.stack[pos..]
                .iter()
                .map(|&s| self.parsed[s].id.as_str())
                .collect();
            chain.push(&p.id);
            let last = self.parsed[*self.stack.last().unwrap_or(&i)].file;
            let span = self.parsed[*self.stack.last().unwrap_or(&i)]
                .table
                .get("extends")
                .map(|v| v.span());
            return Err(err_at(
                self.loc,
                last,
                span,
                format!("field `extends`: cycle {}", chain.join(" -> ")),
            ));
        }
        self.stack.push(i);
        let extends = strings(self.loc, p, "extends")?;
        if extends.len() > 1 {
            return Err(err_at(
                self.loc,
                p.file,
                Some(extends[1].1.clone()),
                "field `extends`: a regime extends one parent (use `include` for more)".into(),
            ));
        }
        let mut table = match extends.first() {
            Some((id, span)) => {
                let parent = self.lookup(i, "extends", id, span.clone())?;
                let mut t = self.resolve(parent)?;
                t.remove("changes");
                t
            }
            None => DeTable::new(),
        };
        for (path, span) in strings(self.loc, p, "remove")? {
            if !remove_path(&mut table, &path) {
                return Err(err_at(
                    self.loc,
                    p.file,
                    Some(span),
                    format!("field `remove`: `{path}` is not in the parent regime"),
                ));
            }
        }
        for (id, span) in strings(self.loc, p, "include")? {
            let inc = self.lookup(i, "include", &id, span)?;
            let mut own = self.parsed[inc].table.clone();
            for k in IDENTITY_KEYS {
                own.remove(*k);
            }
            merge(&mut table, own);
        }
        let mut own = p.table.clone();
        for k in DIRECTIVE_KEYS {
            own.remove(*k);
        }
        merge(&mut table, own);
        // `include` is kept as a record of what was applied.
        if let Some(v) = p.table.get("include") {
            table.insert(key("include"), v.clone());
        }
        self.stack.pop();
        self.done.insert(i, table.clone());
        Ok(table)
    }
}

fn remove_path(table: &mut DeTable<'_>, path: &str) -> bool {
    match path.split_once('.') {
        None => table.remove(path).is_some(),
        Some((head, rest)) => match table.get_mut(head).map(|v| v.get_mut()) {
            Some(DeValue::Table(t)) => remove_path(t, rest),
            _ => false,
        },
    }
}

/// Parses and resolves every regime file. Returns the locator and, in file order, each regime.
pub(crate) fn resolve_all(
    files: &[(String, String)],
) -> Result<(Locator, Vec<ResolvedFile<'_>>), PolicyError> {
    let (loc, tables) = parse_all(files)?;
    let parsed = identify_all(&loc, tables)?;
    let ids: Vec<String> = parsed.iter().map(|p| p.id.clone()).collect();
    let mut r = Resolver {
        loc: &loc,
        parsed: &parsed,
        by_id: ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect(),
        done: HashMap::new(),
        stack: Vec::new(),
    };
    let mut tables = BTreeMap::new();
    for i in 0..parsed.len() {
        tables.insert(i, r.resolve(i)?);
    }
    drop(r);
    let mut out = Vec::with_capacity(parsed.len());
    for (i, table) in tables {
        let p = &parsed[i];
        let spec = typed_spec(&loc, i, p.file, &table)?;
        out.push(ResolvedFile {
            file: p.file,
            spec,
            table,
        });
    }
    Ok((loc, out))
}

/// Each file's name and parsed table, in file order.
type FileTables<'a> = Vec<(&'a str, DeTable<'a>)>;

/// Parses each file into a table whose spans are shifted into one address space shared by all
/// the files, with the locator that maps them back.
fn parse_all(files: &[(String, String)]) -> Result<(Locator, FileTables<'_>), PolicyError> {
    let mut loc = Locator { files: Vec::new() };
    let mut base = 0usize;
    let mut parsed = Vec::with_capacity(files.len());
    for (name, text) in files {
        loc.files.push((base, name.clone(), text.clone()));
        let table = DeTable::parse(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            PolicyError {
                file: name.clone(),
                line,
                message: e.message().replace('\n', " ").trim().to_string(),
            }
        })?;
        let table = shift_table(table.into_inner(), base);
        parsed.push((name.as_str(), table));
        base += text.len() + 1;
    }
    Ok((loc, parsed))
}

/// Reads each file's `id`: present, a string, and defined once.
fn identify_all<'a>(loc: &Locator, tables: FileTables<'a>) -> Result<Vec<Parsed<'a>>, PolicyError> {
    let mut out = Vec::with_capacity(tables.len());
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (i, (file, table)) in tables.into_iter().enumerate() {
        let id = match table.get("id").map(|v| (v.get_ref(), v.span())) {
            Some((DeValue::String(s), span)) => {
                if let Some(&other) = by_id.get(s.as_ref()) {
                    let first: &Parsed<'_> = &out[other];
                    return Err(err_at(
                        loc,
                        file,
                        Some(span),
                        format!(
                            "field `id`: regime `{s}` is defined twice (also in `{}`)",
                            first.file
                        ),
                    ));
                }
                by_id.insert(s.to_string(), i);
                s.to_string()
            }
            Some((_, span)) => {
                return Err(err_at(
                    loc,
                    file,
                    Some(span),
                    "field `id`: expected a string".into(),
                ));
            }
            None => {
                return Err(PolicyError {
                    file: file.to_string(),
                    line: None,
                    message: "field `id`: missing".into(),
                });
            }
        };
        out.push(Parsed { file, table, id });
    }
    Ok(out)
}

/// The typed regime of file `i`'s resolved table; an error names the field, and a bad date the
/// value as written.
fn typed_spec(
    loc: &Locator,
    i: usize,
    file: &str,
    table: &DeTable<'_>,
) -> Result<RegimeSpec, PolicyError> {
    let root_span = loc.files[i].0..loc.files[i].0 + loc.files[i].2.len();
    let de = toml::de::Deserializer::from(Spanned::new(root_span.clone(), table.clone()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let span = inner.span().filter(|s| *s != root_span);
        let msg = inner.message().replace('\n', " ").trim().to_string();
        let written = span.as_ref().and_then(|s| loc.text(s));
        let msg = written
            .and_then(|w| plain_date_message(&msg, w))
            .unwrap_or(msg);
        let msg = if path.is_empty() || path == "." {
            msg
        } else {
            format!("field `{path}`: {msg}")
        };
        err_at(loc, file, span, msg)
    })
}
