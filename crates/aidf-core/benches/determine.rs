//! In-process determinations over 10,000+ generated, mixed transactions.
//!
//! `cargo bench -p aidf-core --bench determine [-- ROWS]` prints the median and p99 latency of one
//! `determine()` call (explanation included: every reason, assumption and obligation is built),
//! of the same call building rule ids only (`Detail::RuleIds`), and of determine + JSON
//! serialization. Timings are per call with `Instant`, whose own cost
//! (~20-30 ns) is included, so the figures are slight overestimates. With `PROFILE_IDS=1` it only
//! runs rule-ids determinations in a loop, for a profiler (`perf record`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aidf_core::input::{Consignee, Context, EndUse, ItemInput, ModelWeightsInput, VeuKind, VeuRef};
use aidf_core::{Detail, DeterminationInput, Policy, Posture, determine, determine_with};
use chrono::NaiveDate;

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const COUNTRIES: &[&str] = &[
    "US", "DE", "FR", "JP", "GB", "NL", "KR", "TW", "MY", "IN", "AE", "SA", "SG", "IL", "BR", "VN",
    "KZ", "MX", "ID", "TH", "PL", "CH", "CN", "HK", "MO", "RU", "KH",
];

fn generate(policy: &Policy, rows: usize, seed: u64) -> Vec<DeterminationInput> {
    let chips: Vec<String> = policy
        .catalog
        .chips()
        .iter()
        .filter(|c| {
            c.metrics().is_some_and(|m| {
                aidf_core::classify::classify(&m, &policy.regimes[0].spec.classification).is_ok()
            })
        })
        .map(|c| {
            if c.aliases.is_empty() {
                c.id.to_string()
            } else {
                c.aliases[0].clone()
            }
        })
        .collect();
    let mut rng = Rng(seed);
    let start = NaiveDate::from_ymd_opt(2024, 6, 1).expect("date");
    (0..rows)
        .map(|i| {
            let dest = *rng.pick(COUNTRIES);
            let hq = if rng.below(4) == 0 {
                *rng.pick(COUNTRIES)
            } else {
                dest
            };
            let parent = if rng.below(6) == 0 {
                *rng.pick(COUNTRIES)
            } else {
                hq
            };
            let item = if rng.below(20) == 0 {
                ItemInput {
                    model_weights: Some(ModelWeightsInput {
                        training_ops: Some(rust_decimal::Decimal::from_i128_with_scale(
                            (rng.below(50) as i128 + 1) * 10i128.pow(25),
                            0,
                        )),
                        parameters: None,
                        tokens: None,
                        published: rng.below(5) == 0,
                        derived_from_published_ops: None,
                        floor_ops: None,
                        synthetic_share_pct: None,
                        synthetic_generation_ops: None,
                        synthetic_generator_training_ops: None,
                        synthetic_generator_published: false,
                    }),
                    ..Default::default()
                }
            } else {
                ItemInput {
                    chip: Some(rng.pick(&chips).clone()),
                    ..Default::default()
                }
            };
            let weights = item.model_weights.is_some();
            DeterminationInput {
                date: start + chrono::Duration::days(rng.below(900) as i64),
                posture: Some(if rng.below(3) == 0 {
                    Posture::AsEnforced
                } else {
                    Posture::AsWritten
                }),
                regime: None,
                transaction: None,
                exporter: None,
                destination: dest.into(),
                consignee: Consignee {
                    name: format!("consignee-{}", i % 500),
                    hq: hq.into(),
                    parent_hq: Some(parent.into()),
                    veu: match rng.below(10) {
                        0 => Some(VeuRef {
                            kind: VeuKind::Uveu,
                            id: "u-1".into(),
                        }),
                        1 => Some(VeuRef {
                            kind: VeuKind::Nveu,
                            id: "n-1".into(),
                        }),
                        _ => None,
                    },
                    listed: rng.below(50) == 0,
                    government: rng.below(10) == 0,
                    ..Default::default()
                },
                end_use: Some(match rng.below(8) {
                    0 => EndUse::Development,
                    1 => EndUse::Storage,
                    _ => EndUse::Deployment,
                }),
                ultimate_destination: None,
                item,
                quantity: if weights {
                    None
                } else {
                    Some(1 + rng.below(3000) as i64)
                },
                context: Context {
                    consignee_ytd_tpp: rng.below(30_000_000),
                    country_allocation_used_tpp: rng.below(900_000_000),
                    gov_to_gov_agreement: rng.below(5) == 0,
                    nveu_installed_tpp: rng.below(3_000_000_000),
                    consignee_aia_cumulative_tpp: rng.below(300_000_000),
                    weights_storage_compliant: Some(rng.below(2) == 0),
                },
                ..Default::default()
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let policy = Policy::embedded().expect("policy");
    let inputs = generate(&policy, rows, 42);
    // Warm up and count the mix.
    let mut mix = std::collections::BTreeMap::new();
    for i in &inputs {
        let d = determine(&policy, i).expect("generated inputs are valid");
        *mix.entry(d.authorization.as_str()).or_insert(0u32) += 1;
    }
    let passes = 5;
    if std::env::var_os("PROFILE_IDS").is_some() {
        for _ in 0..200 {
            for i in &inputs {
                black_box(determine_with(&policy, black_box(i), Detail::RuleIds)).ok();
            }
        }
        return;
    }
    let mut t_det = Vec::with_capacity(rows * passes);
    let mut t_json = Vec::with_capacity(rows * passes);
    let mut t_ids = Vec::with_capacity(rows * passes);
    for _ in 0..passes {
        for i in &inputs {
            let t0 = Instant::now();
            let d = determine_with(&policy, black_box(i), Detail::RuleIds);
            t_ids.push(t0.elapsed());
            black_box(&d);
        }
        for i in &inputs {
            let t0 = Instant::now();
            let d = determine(&policy, black_box(i));
            t_det.push(t0.elapsed());
            black_box(&d);
        }
        for i in &inputs {
            let t0 = Instant::now();
            let d = determine(&policy, black_box(i)).expect("ok");
            let s = serde_json::to_vec(&d).expect("json");
            t_json.push(t0.elapsed());
            black_box(s);
        }
    }
    t_det.sort();
    t_json.sort();
    t_ids.sort();
    let total: Duration = t_det.iter().sum();
    println!("determine: {rows} generated transactions x {passes} passes");
    println!("  mix: {mix:?}");
    println!(
        "  determine()          median {:>8.2?}  p99 {:>8.2?}  mean {:>8.2?}  ({:.0} determinations/s on one core)",
        percentile(&t_det, 0.5),
        percentile(&t_det, 0.99),
        total / t_det.len() as u32,
        t_det.len() as f64 / total.as_secs_f64()
    );
    println!(
        "  rule ids only        median {:>8.2?}  p99 {:>8.2?}  (Detail::RuleIds: no detail texts, as the batch CSV)",
        percentile(&t_ids, 0.5),
        percentile(&t_ids, 0.99)
    );
    println!(
        "  determine() + JSON   median {:>8.2?}  p99 {:>8.2?}",
        percentile(&t_json, 0.5),
        percentile(&t_json, 0.99)
    );
}
