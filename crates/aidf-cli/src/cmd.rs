//! Subcommands.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aidf_core::classify::{Datacenter, Metrics, Rate};
use aidf_core::explain::thousands;
use aidf_core::num::{Decimal, parse_decimal};
use aidf_core::{DeterminationInput, Policy, Posture};
use aidf_service::classify::{ClassifyItem, ClassifyQuery, business_date, classify_query};
use aidf_service::countries::{CountriesQuery, countries_query};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};

use crate::{ledger_cmd, policy_load, render, serve_cmd};

/// Posture as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PostureArg {
    /// The regulation text in force.
    #[value(alias = "as_written")]
    AsWritten,
    /// What BIS enforces.
    #[value(alias = "as_enforced")]
    AsEnforced,
}

impl From<PostureArg> for Posture {
    fn from(p: PostureArg) -> Posture {
        match p {
            PostureArg::AsWritten => Posture::AsWritten,
            PostureArg::AsEnforced => Posture::AsEnforced,
        }
    }
}

/// The regime a command applies: the one `--regime` pins, else the one in force on `date` under
/// `posture` ([`Policy::select`]). A failure is the policy's one message, with the field it names
/// written as the option that sets it (``option `--regime`: unknown regime `x`; known: …``).
pub fn select_regime<'p>(
    policy: &'p Policy,
    pin: Option<&str>,
    date: NaiveDate,
    posture: Posture,
) -> Result<&'p aidf_core::regime::Regime> {
    policy
        .select(pin, date, posture)
        .map(|s| s.regime)
        .map_err(|e| anyhow::anyhow!("option `--{}`: {}", e.field(), e.detail()))
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Determine one transaction (JSON contract) and explain the answer.
    Check {
        /// Input JSON file, or `-` for standard input.
        file: PathBuf,
        /// Print the determination as JSON.
        #[arg(long)]
        json: bool,
        /// Override the input's posture.
        #[arg(long, value_enum, ignore_case = true)]
        posture: Option<PostureArg>,
        /// Pin a regime (overrides the input's `regime`; default: the one in force on the date).
        #[arg(long)]
        regime: Option<String>,
        /// Do not screen the consignee against the restricted-party lists (the input's `listed`
        /// and `entity_list` alone decide the Entity List).
        #[arg(long)]
        no_screen: bool,
        /// Screen against the lists of DIR (a `lists.toml` manifest and its files, as `screen
        /// --lists`) instead of the embedded default; the answer names their versions.
        #[arg(long, value_name = "DIR")]
        lists: Option<PathBuf>,
    },
    /// Classify a chip (catalog or raw rates) as 3A090.a, 3A090.b or not controlled.
    Classify {
        /// Catalog id or name, e.g. "H100 SXM".
        #[arg(long, conflicts_with_all = ["tops", "bits", "die_area", "not_datacenter"])]
        chip: Option<String>,
        /// Dense peak rate in T(FL)OPS at a precision (repeat with --bits for each precision).
        #[arg(long, requires = "bits")]
        tops: Vec<String>,
        /// Bit length of the matching --tops.
        #[arg(long, requires = "tops")]
        bits: Vec<u32>,
        /// Applicable (non-planar logic) die area in mm².
        #[arg(long)]
        die_area: Option<String>,
        /// The item is not designed or marketed for datacenters.
        #[arg(long)]
        not_datacenter: bool,
        /// Chips in a system (a computer of N chips is 4A090 with N × TPP).
        #[arg(long, default_value = "1")]
        quantity: String,
        /// Regime whose thresholds apply (default: the one in force on --date).
        #[arg(long)]
        regime: Option<String>,
        /// Date (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        extra: crate::regime_cmd::ClassifyExtra,
    },
    /// Determine a transaction against the ledger's real balances and record it atomically.
    Ship {
        /// Input JSON file, or `-` for standard input.
        file: PathBuf,
        /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Shipment id (idempotency key); a replay returns the stored record.
        #[arg(long)]
        id: Option<String>,
        /// Override the input's posture.
        #[arg(long, value_enum, ignore_case = true)]
        posture: Option<PostureArg>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when the shipment is refused (or held for review), 0 only when authorized.
        #[arg(long)]
        strict: bool,
        /// Screen against the lists of DIR (a `lists.toml` manifest and its files, as `screen
        /// --lists`) instead of the embedded default; the answer names their versions.
        #[arg(long, value_name = "DIR")]
        lists: Option<PathBuf>,
    },
    /// The shipment register: recorded shipments listed (filtered, paged) or shown again.
    Shipments {
        /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL.
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        action: crate::register_cmd::ShipmentsAction,
    },
    /// Write the compliance record of a recorded shipment (reasons with citations, draws,
    /// screening, its audit record) or license application (each item's determination, the
    /// hold, every transition with its audit record) as PDF, HTML or JSON.
    Record {
        /// Shipment id, or application id when no shipment has it.
        id: String,
        /// Output format.
        #[arg(long, value_enum)]
        format: crate::register_cmd::FormatArg,
        /// Output file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Ledger accounts, balances, history and manual operations.
    Ledger {
        /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL.
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        /// Print JSON (stored values: integers, epoch milliseconds) instead of tables.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: crate::ledger_cmd::LedgerAction,
    },
    /// Licenses granted by BIS.
    License {
        /// Ledger location.
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        /// Print JSON (stored values) instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: crate::ledger_cmd::LicenseAction,
    },
    /// License applications (BIS-748P): submit, decide, transition, list, show.
    Application {
        /// Ledger location.
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        action: crate::application_cmd::ApplicationAction,
    },
    /// Validated end users (UVEU/NVEU) and their sites.
    Veu {
        /// Ledger location.
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        /// Print JSON (stored values) instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: crate::ledger_cmd::VeuAction,
    },
    /// Government-to-government arrangements.
    G2g {
        #[command(subcommand)]
        action: G2gAction,
    },
    /// Serve the HTTP API and the dashboard.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Ledger: a SQLite file path (default ./aidf.db) or a postgres:// URL shared by instances.
        #[arg(long)]
        db: Option<PathBuf>,
        /// No authentication (every request acts as global admin of tenant `local`); loopback only.
        #[arg(long)]
        insecure_local: bool,
        /// Posture every shipment is determined under (clients cannot choose another; default:
        /// the config file's, else as-written).
        #[arg(long, value_enum, ignore_case = true)]
        posture: Option<PostureArg>,
        /// Shipments dated more than this many days ago are backfills: officers only, marked.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=36500))]
        backdate_window_days: i64,
        /// The audit key file (default: `AIDF_AUDIT_KEY`, else `<db>.audit-key`, created if
        /// missing); the anchor is kept next to it.
        #[arg(long)]
        audit_key_file: Option<PathBuf>,
        /// Screen against the lists of DIR (a `lists.toml` manifest and its files, as `screen
        /// --lists`) instead of the embedded default; the answer names their versions.
        #[arg(long, value_name = "DIR")]
        lists: Option<PathBuf>,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// List the chip catalog.
    Chips {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect regimes: list, show, diff.
    Regimes {
        #[command(subcommand)]
        action: crate::regime_cmd::RegimesAction,
    },
    /// Re-run recorded shipments (ledger) or a batch file under another regime; report changes.
    Reevaluate(crate::reevaluate_cmd::ReevaluateArgs),
    /// List countries with their groups and tier on a date.
    Countries {
        /// Date (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Posture used to pick the regime for tiers.
        #[arg(long, value_enum, ignore_case = true, default_value = "as-written")]
        posture: PostureArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Data Center VEU fleets: check the UVEU/NVEU rules, headroom per country, dated plans.
    Fleet {
        #[command(subcommand)]
        action: crate::fleet_cmd::FleetAction,
    },
    /// Model weights: ECCN 4E091 classification.
    Weights {
        #[command(subcommand)]
        action: crate::fleet_cmd::WeightsAction,
    },
    /// Determine a CSV or JSON-lines file of transactions (in parallel, or in order against a ledger).
    Batch(crate::batch_cmd::BatchArgs),
    /// Generate synthetic data (order books).
    Gen {
        #[command(subcommand)]
        action: crate::batch_cmd::GenAction,
    },
    /// Simulate a what-if scenario quarter by quarter through the engine; CSV series and charts.
    Simulate(crate::batch_cmd::SimulateArgs),
    /// Screen a party (or a CSV batch) against restricted-party lists; `screen compare` for pairs.
    Screen(crate::screen_cmd::ScreenArgs),
    /// Reports to BIS from the ledger: veu-semiannual, aia-certifications, lpp-certifications;
    /// `due` lists what is due.
    Report(crate::report_cmd::ReportArgs),
    /// Print a shell completion script (e.g. `aidf completions bash > ~/.local/share/bash-completion/completions/aidf`).
    Completions {
        /// The shell.
        #[arg(value_enum, ignore_case = true)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `aidf man | man -l -`), or write one page per command.
    Man {
        /// Write `aidf.1`, `aidf-check.1`, … into this folder instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn token(action: TokenAction) -> Result<()> {
    match action {
        TokenAction::Create {
            tenant,
            role,
            json,
            db,
        } => serve_cmd::token_create(&ledger_cmd::db_arg(&db), &tenant, &role, json),
        TokenAction::List { tenant, json, db } => {
            serve_cmd::token_list(&ledger_cmd::db_arg(&db), tenant.as_deref(), json)
        }
        TokenAction::Revoke { id, db } => serve_cmd::token_revoke(&ledger_cmd::db_arg(&db), &id),
    }
}

/// `aidf token …`
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a bearer token for a tenant and role; it is printed once and stored hashed.
    Create {
        /// Tenant id (created if new).
        #[arg(long)]
        tenant: String,
        /// viewer, exporter, officer, admin (its tenant) or global_admin.
        #[arg(long)]
        role: String,
        /// Print JSON: the token's stored values (`created_at` in epoch milliseconds) and the
        /// secret as `token`.
        #[arg(long)]
        json: bool,
        /// Database (as for `serve`).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// List tokens: ids, tenants, roles, when created and revoked (never the tokens).
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Database (as for `serve`).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Revoke a token by id; every server refuses it within seconds.
    Revoke {
        /// Token id (`tok_…`).
        id: String,
        /// Database (as for `serve`).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// `aidf audit …`
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify the chain, its signed checkpoints and the anchor; reports the first altered or
    /// missing record.
    Verify {
        /// Database (as for `serve`).
        #[arg(long)]
        db: Option<PathBuf>,
        /// The audit key file (as for `serve`).
        #[arg(long)]
        audit_key_file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `aidf g2g …`
#[derive(Debug, Subcommand)]
pub enum G2gAction {
    /// Record an arrangement with COUNTRY effective from --date (doubles its allocation).
    Add {
        /// Country.
        country: String,
        /// Effective date.
        #[arg(long)]
        date: NaiveDate,
        /// Ledger location.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Reads an input file (or standard input for `-`) as UTF-8 text.
/// Why an input file could not be read, in plain words (not the OS's `(os error N)`).
fn unreadable(file: &Path, e: &std::io::Error) -> anyhow::Error {
    unreadable_as("file", file, e, "a file (or `-` for standard input)")
}

/// One plain line for a file that cannot be read: what names it (`file`, ``option `--out` ``),
/// the path, why in plain words, and what was expected; never the OS's `(os error N)`.
pub(crate) fn unreadable_as(
    what: &str,
    file: &Path,
    e: &std::io::Error,
    expected: &str,
) -> anyhow::Error {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".to_string(),
        std::io::ErrorKind::InvalidData => "is not UTF-8 text".to_string(),
        _ => format!("cannot be read ({})", e.kind()),
    };
    anyhow::anyhow!("{what} `{}`: {why}; expected {expected}", file.display())
}

pub fn read_input(file: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    let name = if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        "standard input".to_string()
    } else {
        bytes = std::fs::read(file).map_err(|e| unreadable(file, &e))?;
        format!("file `{}`", file.display())
    };
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        anyhow::anyhow!("{name}: not UTF-8 text (byte {at}); expected a JSON document in UTF-8")
    })
}

pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Rates from `--tops`/`--bits` pairs (one per precision) and `--die-area`, read as exact
/// decimals from their text, with errors naming the option and value.
pub fn rates_from_args(
    tops: &[String],
    bits: &[u32],
    die_area: Option<&str>,
) -> Result<(Vec<Rate>, Option<Decimal>)> {
    if tops.is_empty() {
        bail!("give --chip NAME, or --tops RATE --bits N (repeatable per precision)");
    }
    if tops.len() != bits.len() {
        bail!(
            "option `--bits`: give one --bits for each --tops ({} --tops, {} --bits)",
            tops.len(),
            bits.len()
        );
    }
    let mut rates = Vec::new();
    for (t, &b) in tops.iter().zip(bits) {
        let dense = parse_decimal(t)
            .filter(|d| d.is_sign_positive() && !d.is_zero())
            .with_context(|| format!("option `--tops`: `{t}` is not a positive number"))?;
        if b == 0 || b > 256 {
            bail!("option `--bits`: `{b}` is not a bit length");
        }
        rates.push(Rate {
            precision: None,
            dense_tops: dense,
            bits: b,
        });
    }
    let area = match die_area {
        Some(a) => Some(
            parse_decimal(a)
                .filter(|d| d.is_sign_positive() && !d.is_zero())
                .with_context(|| format!("option `--die-area`: `{a}` is not a positive number"))?,
        ),
        None => None,
    };
    Ok((rates, area))
}

/// Metrics from `--tops`/`--bits` pairs (one per precision), `--die-area` and
/// `--not-datacenter`, with errors naming the option and value.
pub fn metrics_from_rates(
    tops: &[String],
    bits: &[u32],
    die_area: Option<&str>,
    not_datacenter: bool,
) -> Result<Metrics> {
    let (rates, area) = rates_from_args(tops, bits, die_area)?;
    let dc = if not_datacenter {
        Datacenter::No
    } else {
        Datacenter::Yes
    };
    Metrics::from_rates(&rates, area, dc)
        .map_err(|e| match e {
            aidf_core::classify::MetricsError::TppOverflow { .. } => {
                anyhow::anyhow!("option `--tops`: {e}")
            }
            aidf_core::classify::MetricsError::PdOverflow { .. } => {
                anyhow::anyhow!("option `--die-area`: {e}")
            }
        })?
        .context("no rates given")
}

/// Runs a subcommand.
pub fn run(
    command: Command,
    policy_dir: Option<&Path>,
    regime_files: &[PathBuf],
) -> Result<ExitCode> {
    let policy = policy_load::load(policy_dir, regime_files)?;
    match command {
        Command::Check {
            file,
            json,
            posture,
            regime,
            no_screen,
            lists,
        } => {
            install_lists(lists.as_deref())?;
            let text = read_input(&file)?;
            let mut input = DeterminationInput::from_json(&text)?;
            if let Some(p) = posture {
                input.posture = Some(p.into());
            }
            if regime.is_some() {
                input.regime = regime;
            }
            let answer = aidf_service::screening::check(&policy, &input, !no_screen)?;
            if json {
                print(&(serde_json::to_string_pretty(&answer)? + "\n"))?;
            } else {
                let mut s = String::new();
                if let Some(t) = answer.screening.as_ref().filter(|t| t.refusal.is_some()) {
                    // Before the rules' answer, which does not stand until this is resolved.
                    s += if t.hold_for_review {
                        "HOLD FOR REVIEW: a party is a screening hit (see Screening)\n"
                    } else {
                        "REFUSED: a party is barred (see Screening)\n"
                    };
                }
                let d = &answer.determination;
                let h100_tpp = policy.regime(&d.regime.id).map(|r| r.spec.h100_tpp);
                s += &render::determination(d, h100_tpp.context("the answer's regime is unknown")?);
                if let Some(screening) = &answer.screening {
                    s += &render::screening(screening);
                }
                print(&s)?;
            }
        }
        Command::Classify {
            chip,
            tops,
            bits,
            die_area,
            not_datacenter,
            quantity: _,
            regime,
            date,
            json,
            extra,
        } if extra.wanted() => crate::regime_cmd::classify(
            &policy,
            chip.as_deref(),
            &tops,
            &bits,
            die_area.as_deref(),
            not_datacenter,
            regime.as_deref(),
            business_date(date),
            json,
            &extra,
        )?,
        Command::Classify {
            chip,
            tops,
            bits,
            die_area,
            not_datacenter,
            quantity,
            regime,
            date,
            json,
            extra: _,
        } => classify_cmd(
            &policy,
            chip,
            &tops,
            &bits,
            die_area,
            not_datacenter,
            chip_count(&quantity)?,
            regime,
            date,
            json,
        )?,
        Command::Ship {
            file,
            db,
            id,
            posture,
            json,
            strict,
            lists,
        } => {
            install_lists(lists.as_deref())?;
            let status =
                ledger_cmd::ship(&policy, &file, &ledger_cmd::db_arg(&db), id, posture, json)?;
            if strict && status != aidf_ledger::ShipmentStatus::Authorized {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Shipments { db, action } => {
            crate::register_cmd::shipments(&ledger_cmd::db_arg(&db), action)?
        }
        Command::Record {
            id,
            format,
            output,
            db,
        } => crate::register_cmd::record(&ledger_cmd::db_arg(&db), &id, format, &output)?,
        Command::Ledger { db, json, action } => {
            ledger_cmd::ledger(&policy, &ledger_cmd::db_arg(&db), action, json)?
        }
        Command::License { db, json, action } => {
            ledger_cmd::license(&policy, &ledger_cmd::db_arg(&db), action, json)?
        }
        Command::Application { db, action } => {
            crate::application_cmd::run(&policy, &ledger_cmd::db_arg(&db), action)?
        }
        Command::Veu { db, json, action } => {
            ledger_cmd::veu(&policy, &ledger_cmd::db_arg(&db), action, json)?
        }
        Command::G2g {
            action:
                G2gAction::Add {
                    country,
                    date,
                    db,
                    json,
                },
        } => ledger_cmd::g2g(&policy, &ledger_cmd::db_arg(&db), &country, date, json)?,
        Command::Serve {
            addr,
            db,
            insecure_local,
            posture,
            backdate_window_days,
            audit_key_file,
            lists,
        } => {
            install_lists(lists.as_deref())?;
            let ship = aidf_service::ShipConfig {
                posture: crate::config::posture(posture).into(),
                backdate_window_days,
                ..aidf_service::ShipConfig::default()
            };
            serve_cmd::serve(
                policy,
                &addr,
                &ledger_cmd::db_arg(&db),
                insecure_local,
                audit_key_file.as_deref(),
                ship,
            )?
        }
        Command::Token { action } => token(action)?,
        Command::Audit {
            action:
                AuditAction::Verify {
                    db,
                    audit_key_file,
                    json,
                },
        } => serve_cmd::audit_verify(&ledger_cmd::db_arg(&db), audit_key_file.as_deref(), json)?,
        Command::Chips { json } => chips_cmd(&policy, json)?,
        Command::Regimes { action } => crate::regime_cmd::regimes(&policy, action)?,
        Command::Reevaluate(args) => crate::reevaluate_cmd::run(&policy, args)?,
        Command::Countries {
            date,
            posture,
            json,
        } => countries_cmd(&policy, date, posture.into(), json)?,
        Command::Fleet { action } => crate::fleet_cmd::fleet(&policy, action)?,
        Command::Weights { action } => crate::fleet_cmd::weights(&policy, action)?,
        Command::Batch(args) => return crate::batch_cmd::batch_cmd(&policy, args),
        Command::Gen { action } => crate::batch_cmd::gen_cmd(&policy, action)?,
        Command::Simulate(args) => crate::batch_cmd::simulate_cmd(&policy, args)?,
        Command::Screen(args) => crate::screen_cmd::run(args)?,
        Command::Report(args) => crate::report_cmd::run(&policy, args)?,
        Command::Completions { shell } => crate::completions(shell),
        Command::Man { dir } => crate::man(dir.as_deref())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `--quantity` of `classify`: a positive whole number of chips, read from its text (clap's own
/// message would name its parser's error).
fn chip_count(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!(
            "option `--quantity`: `{text}` is not a positive whole number of chips; expected an integer from 1 to {}",
            u64::MAX
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn classify_cmd(
    policy: &Policy,
    chip: Option<String>,
    tops: &[String],
    bits: &[u32],
    die_area: Option<String>,
    not_datacenter: bool,
    quantity: u64,
    regime: Option<String>,
    date: Option<NaiveDate>,
    json: bool,
) -> Result<()> {
    let item = match chip {
        Some(name) => ClassifyItem::Chip(name),
        None => {
            let (rates, die_area_mm2) = rates_from_args(tops, bits, die_area.as_deref())?;
            ClassifyItem::Rates {
                rates,
                die_area_mm2,
                datacenter: !not_datacenter,
            }
        }
    };
    let query = ClassifyQuery {
        item,
        quantity,
        regime,
        date: business_date(date),
    };
    let report = classify_query(policy, &query)
        .map_err(|e| anyhow::anyhow!("option `--{}`: {}", option_of(e.field()), e.detail()))?;
    if json {
        print(&(serde_json::to_string_pretty(&report)? + "\n"))
    } else {
        print(&render::classify_text(&report))
    }
}

/// The `classify` option that sets a field of the query.
fn option_of(field: &str) -> &str {
    match field {
        "die_area_mm2" => "die-area",
        other => other,
    }
}

fn chips_cmd(policy: &Policy, json: bool) -> Result<()> {
    if json {
        print(&(serde_json::to_string_pretty(policy.catalog.chips())? + "\n"))?;
        return Ok(());
    }
    let mut s = format!("{:<28} {:<48} {:>9} {:>7}\n", "ID", "NAME", "TPP", "PD");
    for c in policy.catalog.chips() {
        let m = c.metrics();
        s += &format!(
            "{:<28} {:<48} {:>9} {:>7}\n",
            c.id,
            c.display_name(),
            m.as_ref()
                .map(|m| thousands(m.tpp_whole().into()))
                .unwrap_or_else(|| "-".into()),
            m.as_ref()
                .and_then(|m| m.pd)
                .map(|p| p.round_dp(2).to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    print(&s)
}

fn countries_cmd(
    policy: &Policy,
    date: Option<NaiveDate>,
    posture: Posture,
    json: bool,
) -> Result<()> {
    let query = CountriesQuery {
        date: business_date(date),
        posture,
        regime: None,
    };
    let report = countries_query(policy, &query)
        .map_err(|e| anyhow::anyhow!("option `--{}`: {}", e.field(), e.detail()))?;
    if json {
        return print(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    let mut s = format!("regime {} ({posture}, {})\n", report.regime.id, report.date);
    for r in &report.countries {
        let line = format!(
            "{}  {:<40} tier {:<4} {}",
            r.code,
            r.name,
            r.tier
                .map(|t| t.number().to_string())
                .unwrap_or_else(|| "-".into()),
            r.groups.join(" ")
        );
        s += line.trim_end();
        s.push('\n');
    }
    print(&s)
}

/// Screens this process's transactions against the lists of `dir` (`--lists`), if given.
fn install_lists(dir: Option<&std::path::Path>) -> Result<()> {
    if let Some(dir) = dir {
        let lists = crate::screen_cmd::load_lists_of("--lists", dir)?;
        aidf_service::screening::install_lists(lists)?;
    }
    Ok(())
}
