//! Synthetic order books: a realistic mix of destinations (Tier 1 markets, the Tier 2 countries
//! analysts watch — Malaysia, the UAE, Saudi Arabia, India, Brazil — and embargoed ones), chips,
//! recurring consignees (some validated end users, a few listed), order sizes from a handful of
//! cards to cluster-sized orders, dates over 2025–2027. Deterministic for a seed.
//!
//! The mix is sampling weights, not regulation: tiers, caps and outcomes come from the engine.

use std::io::Write;

use aidf_core::input::{
    Consignee, Context, EndUse, Exporter, ItemInput, ModelWeightsInput, Transaction, VeuKind,
    VeuRef,
};
use aidf_core::{DeterminationInput, Policy, determine};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::batch::Format;
use crate::rng::Rng;
use crate::row::{INPUT_COLUMNS, input_to_record};

/// Destination weights (sampling only).
const COUNTRIES: &[(&str, u64)] = &[
    ("US", 14),
    ("DE", 4),
    ("JP", 4),
    ("GB", 4),
    ("FR", 3),
    ("NL", 2),
    ("KR", 3),
    ("TW", 3),
    ("AU", 2),
    ("CA", 2),
    ("IE", 2),
    ("MY", 8),
    ("AE", 6),
    ("SA", 6),
    ("IN", 7),
    ("BR", 4),
    ("SG", 5),
    ("IL", 2),
    ("VN", 2),
    ("ID", 2),
    ("TH", 2),
    ("MX", 2),
    ("PL", 1),
    ("CH", 1),
    ("TR", 1),
    ("ZA", 1),
    ("KZ", 1),
    ("CN", 4),
    ("HK", 1),
    ("RU", 1),
    ("MO", 1),
];

/// Chip weights (sampling only); chips missing from the catalog are skipped.
const CHIPS: &[(&str, u64)] = &[
    ("nvidia-h100-sxm", 20),
    ("nvidia-h100-pcie", 4),
    ("nvidia-h200-sxm", 14),
    ("nvidia-b200", 14),
    ("nvidia-gb200", 6),
    ("nvidia-b300", 3),
    ("nvidia-h20", 6),
    ("nvidia-a100-sxm", 4),
    ("nvidia-l40s", 6),
    ("nvidia-l4", 4),
    ("nvidia-rtx-4090", 3),
    ("amd-mi300x", 6),
    ("amd-mi325x", 3),
    ("intel-gaudi3", 3),
    ("google-tpu-v5p", 1),
];

const HYPERSCALERS: &[(&str, &str)] = &[
    ("Contoso Cloud", "US"),
    ("Northwind Compute", "US"),
    ("Fabrikam AI", "US"),
    ("Tailspin Hyperscale", "GB"),
];

const CONSIGNEES_PER_COUNTRY: u64 = 24;

/// One recurring consignee.
#[derive(Debug, Clone)]
struct Party {
    name: String,
    hq: String,
    parent_hq: Option<String>,
    veu: Option<VeuRef>,
    listed: bool,
    government: bool,
}

/// A deterministic order-book generator.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    seed: u64,
    countries: Vec<&'static str>,
    country_w: Vec<u64>,
    chips: Vec<&'static str>,
    chip_w: Vec<u64>,
    parties: Vec<Vec<Party>>,
    start: NaiveDate,
    days: u64,
    next: u64,
}

impl Generator {
    /// A generator over 2025-01-01..=2027-12-31 for `seed`, using the chips of `policy`'s catalog
    /// that the engine can determine on every date of the window.
    pub fn new(policy: &Policy, seed: u64) -> Generator {
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date");
        let end = NaiveDate::from_ymd_opt(2027, 12, 31).expect("valid date");
        let probe_dates = [
            start,
            end,
            NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
        ];
        let mut chips = Vec::new();
        let mut chip_w = Vec::new();
        for &(id, w) in CHIPS {
            let ok = policy.catalog.lookup(id).is_ok()
                && probe_dates.iter().all(|&date| {
                    ["CN", "MY", "US"].iter().all(|cc| {
                        let input = probe_input(date, cc, id);
                        determine(policy, &input).is_ok()
                    })
                });
            if ok {
                chips.push(id);
                chip_w.push(w);
            }
        }
        let mut rng = Rng::derive(seed, "parties");
        let parties = COUNTRIES
            .iter()
            .map(|&(cc, _)| {
                let mut v: Vec<Party> = (0..CONSIGNEES_PER_COUNTRY)
                    .map(|k| {
                        let foreign = rng.chance(150);
                        let hq = if foreign {
                            COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize].0
                        } else {
                            cc
                        };
                        let parent_hq = rng.chance(80).then(|| "US".to_string());
                        Party {
                            name: format!("{cc} Compute {k:02}"),
                            hq: hq.to_string(),
                            parent_hq,
                            veu: None,
                            listed: rng.chance(8),
                            government: rng.chance(30),
                        }
                    })
                    .collect();
                for (name, hq) in HYPERSCALERS {
                    v.push(Party {
                        name: (*name).to_string(),
                        hq: (*hq).to_string(),
                        parent_hq: None,
                        veu: Some(VeuRef {
                            kind: VeuKind::Uveu,
                            id: format!("UVEU-{}", slug(name)),
                        }),
                        listed: false,
                        government: false,
                    });
                }
                v.push(Party {
                    name: format!("{cc} National AI Cloud"),
                    hq: cc.to_string(),
                    parent_hq: None,
                    veu: Some(VeuRef {
                        kind: VeuKind::Nveu,
                        id: format!("NVEU-{cc}-1"),
                    }),
                    listed: false,
                    government: true,
                });
                v
            })
            .collect();
        Generator {
            rng: Rng::derive(seed, "orders"),
            seed,
            countries: COUNTRIES.iter().map(|c| c.0).collect(),
            country_w: COUNTRIES.iter().map(|c| c.1).collect(),
            chips,
            chip_w,
            parties,
            start,
            days: (end - start).num_days() as u64 + 1,
            next: 0,
        }
    }

    /// The next order: its id and input.
    pub fn order(&mut self) -> (String, DeterminationInput) {
        let r = &mut self.rng;
        self.next += 1;
        let id = format!("ord-{}-{:07}", self.seed, self.next);
        let ci = r.weighted(&self.country_w);
        let dest = self.countries[ci];
        let pool = &self.parties[ci];
        // Validated end users and the big buyers order more often.
        let p = if r.chance(120) {
            &pool[CONSIGNEES_PER_COUNTRY as usize
                + r.below((pool.len() as u64) - CONSIGNEES_PER_COUNTRY) as usize]
        } else {
            &pool[r.below(CONSIGNEES_PER_COUNTRY) as usize]
        };
        let date = self.start + Days::new(r.below(self.days));
        let form = r.below(1000);
        let (item, quantity) = if form < 10 {
            let ops =
                Decimal::from_i128_with_scale(i128::from(r.below(40) + 1) * 10i128.pow(25), 0);
            (
                ItemInput {
                    model_weights: Some(ModelWeightsInput {
                        training_ops: Some(ops),
                        parameters: None,
                        tokens: None,
                        published: r.chance(300),
                        derived_from_published_ops: None,
                        floor_ops: None,
                        synthetic_share_pct: None,
                        synthetic_generation_ops: None,
                        synthetic_generator_training_ops: None,
                        synthetic_generator_published: false,
                    }),
                    ..ItemInput::default()
                },
                None,
            )
        } else if form < 40 {
            (
                ItemInput {
                    tpp: Some(Decimal::from(1000 + r.below(6000))),
                    pd: Some(Decimal::new(100 + r.below(900) as i64, 2)),
                    datacenter: Some(!r.chance(200)),
                    dram_bandwidth_gbs: Some(Decimal::from(800 + r.below(8000))),
                    ..ItemInput::default()
                },
                Some(quantity(r)),
            )
        } else {
            let chip = self.chips[r.weighted(&self.chip_w)];
            (
                ItemInput {
                    chip: Some(chip.to_string()),
                    ..ItemInput::default()
                },
                Some(quantity(r)),
            )
        };
        let transaction = match r.below(100) {
            0..=89 => None,
            90..=97 => Some(Transaction::Reexport),
            _ => Some(Transaction::Transfer),
        };
        let end_use = match r.below(100) {
            0..=91 => None,
            92..=95 => Some(EndUse::Development),
            96..=97 => Some(EndUse::Production),
            _ => Some(EndUse::Storage),
        };
        let context = Context {
            consignee_ytd_tpp: if r.chance(300) {
                r.below(30_000_000)
            } else {
                0
            },
            country_allocation_used_tpp: if r.chance(300) {
                r.below(900_000_000)
            } else {
                0
            },
            gov_to_gov_agreement: r.chance(50),
            nveu_installed_tpp: if p.veu.is_some() && r.chance(500) {
                r.below(6_000_000_000)
            } else {
                0
            },
            consignee_aia_cumulative_tpp: if r.chance(100) {
                r.below(60_000_000)
            } else {
                0
            },
            weights_storage_compliant: item.model_weights.as_ref().map(|_| r.chance(500)),
        };
        let input = DeterminationInput {
            date,
            posture: None,
            regime: None,
            transaction,
            exporter: Some(Exporter {
                name: Some("Acme Accelerators".into()),
                hq: Some("US".into()),
            }),
            destination: dest.to_string(),
            consignee: Consignee {
                name: p.name.clone(),
                hq: p.hq.clone(),
                parent_hq: p.parent_hq.clone(),
                veu: p.veu.clone(),
                listed: p.listed,
                government: p.government,
                ..Default::default()
            },
            end_use,
            ultimate_destination: None,
            item,
            quantity,
            context,
            ..Default::default()
        };
        (id, input)
    }
}

fn quantity(r: &mut Rng) -> i64 {
    // Log-uniform within a size class: a few cards, racks, clusters.
    let (lo, hi) = match r.below(100) {
        0..=39 => (1u64, 64u64),
        40..=84 => (64, 1024),
        _ => (1024, 20_000),
    };
    let span = (hi as f64 / lo as f64).ln();
    let x = (r.below(1_000_000) as f64 / 1_000_000.0) * span;
    ((lo as f64) * x.exp()).round().max(1.0) as i64
}

fn probe_input(date: NaiveDate, cc: &str, chip: &str) -> DeterminationInput {
    DeterminationInput {
        date,
        posture: None,
        regime: None,
        transaction: None,
        exporter: None,
        destination: cc.to_string(),
        consignee: Consignee {
            name: "probe".into(),
            hq: cc.to_string(),
            parent_hq: None,
            veu: None,
            listed: false,
            government: false,
            ..Default::default()
        },
        end_use: None,
        ultimate_destination: None,
        item: ItemInput {
            chip: Some(chip.to_string()),
            ..ItemInput::default()
        },
        quantity: Some(1),
        context: Context::default(),
        ..Default::default()
    }
}

/// Writes `rows` orders for `seed` as CSV (every column of `docs/batch.md`) or JSON lines.
pub fn write<W: Write>(
    policy: &Policy,
    rows: u64,
    seed: u64,
    format: Format,
    out: W,
) -> Result<(), crate::batch::BatchError> {
    let mut g = Generator::new(policy, seed);
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .buffer_capacity(1 << 20)
                .from_writer(out);
            w.write_record(INPUT_COLUMNS)?;
            for _ in 0..rows {
                let (id, input) = g.order();
                let rec = input_to_record(Some(&id), &input)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                w.write_record(&rec)?;
            }
            w.flush()?;
        }
        Format::Jsonl => {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
            for _ in 0..rows {
                let (_, input) = g.order();
                serde_json::to_writer(&mut w, &input).map_err(std::io::Error::from)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

fn slug(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("-")
}
