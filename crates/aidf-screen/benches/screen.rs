//! Screening benchmarks (release builds only: `cargo bench -p aidf-screen --bench screen`).
//!
//! 1. Loading the embedded CSL (25,921 rows: gunzip, parse, structure, normalize every name,
//!    weigh and index): median of 5 runs, and the resident memory the loaded set adds (VmRSS
//!    after minus before, Linux) and the process peak (VmHWM).
//! 2. One name screened against all lists, in-process: p50, p99 and max over 20,000 queries
//!    (a third listed names as published, a third listed names with a typo, in a different
//!    legal form or case, a third names that are on no list, some in Cyrillic, Arabic and Han).
//!    Timings are per call, wall (`Instant`) and this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`):
//!    on a shared machine wall time includes preemption by other processes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aidf_screen::{ListSet, Party, ScoreParams, Thresholds};

// The same allocator as the `aidf` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// SplitMix64, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const UNLISTED: &[&str] = &[
    "Acme Widgets of Ohio LLC",
    "Nordic Timber Holdings AB",
    "Maria Gonzalez Fernandez",
    "Shenzhen Bright Star Lighting Co Ltd",
    "Иван Петрович Сидоров",
    "شركة النور للتجارة",
    "北京明日科技有限公司",
    "Hans Mueller GmbH",
    "Pacific Rim Logistics Pte Ltd",
    "John A. Doe",
    "Societe Generale de Transport SA",
    "Tokyo Precision Instruments KK",
];

fn queries(set: &ListSet, count: usize) -> Vec<String> {
    let mut rng = Rng(20_261_130);
    (0..count)
        .map(|i| {
            let entry = set.entry(rng.below(set.entry_count())).expect("entry");
            match i % 6 {
                0 | 1 => entry.name.clone(),
                2 => typo(&entry.name, &mut rng),
                3 => format!("{} Limited", entry.name.to_uppercase()),
                _ => format!("{} {}", UNLISTED[rng.below(UNLISTED.len())], i % 97),
            }
        })
        .collect()
}

fn typo(name: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() > 3 {
        let at = 1 + rng.below(chars.len() - 2);
        chars.swap(at, at - 1);
    }
    chars.into_iter().collect()
}

/// CPU time of this thread: unlike wall time, not inflated when other processes hold the cores
/// (the benchmark machine is shared).
fn thread_cpu_time() -> Duration {
    cpu_time::ThreadTime::try_now().map_or(Duration::ZERO, |t| t.as_duration())
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction) as usize]
}

fn main() {
    let rss_before = memory_kib("VmRSS:").unwrap_or(0);
    let start = Instant::now();
    let mut set = ListSet::default_lists().expect("default lists");
    let mut loads = vec![start.elapsed()];
    let rss_after = memory_kib("VmRSS:").unwrap_or(0);
    let peak = memory_kib("VmHWM:").unwrap_or(0);
    for _ in 0..4 {
        drop(set);
        let start = Instant::now();
        set = ListSet::default_lists().expect("default lists");
        loads.push(start.elapsed());
    }
    loads.sort();
    println!(
        "load + index: {} entries, {} names; median {:?} (min {:?}, max {:?}) of 5; \
         first load: resident +{} MiB, process peak {} MiB",
        set.entry_count(),
        set.name_count(),
        loads[2],
        loads[0],
        loads[4],
        rss_after.saturating_sub(rss_before) / 1024,
        peak / 1024
    );
    let names = queries(&set, 20_000);
    // A snapshot decodes a name and its entry when a query first touches them: the first pass
    // pays that, the second is the steady state (a server's).
    run(&set, &names, "first pass");
    run(&set, &names, "second pass");
    let built = ListSet::default_lists_built().expect("default lists");
    run(&built, &names, "full build");
}

fn run(set: &ListSet, names: &[String], pass: &str) {
    let (thresholds, params) = (Thresholds::default(), ScoreParams::default());
    let mut times = Vec::with_capacity(names.len());
    let mut cpu_times = Vec::with_capacity(names.len());
    let mut hits = 0usize;
    for name in names {
        let party = Party {
            name,
            country: None,
            party_type: None,
        };
        let (start, cpu_start) = (Instant::now(), thread_cpu_time());
        let screening = set.screen(black_box(&party), thresholds, &params);
        times.push(start.elapsed());
        cpu_times.push(thread_cpu_time().saturating_sub(cpu_start));
        hits += screening.map(|s| s.hits.len()).unwrap_or(0);
    }
    if std::env::var_os("SLOWEST").is_some() {
        let mut by_time: Vec<(Duration, &String)> = times.iter().copied().zip(names).collect();
        by_time.sort();
        for (time, name) in by_time.iter().rev().take(15) {
            println!("slow {time:?} {name}");
        }
    }
    times.sort();
    cpu_times.sort();
    println!(
        "screen one name, {pass}: {} queries, wall p50 {:?}, p99 {:?}, max {:?}; thread CPU p50 {:?}, \
         p99 {:?}, max {:?} ({hits} hits in all)",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        percentile(&cpu_times, 0.5),
        percentile(&cpu_times, 0.99),
        cpu_times[cpu_times.len() - 1]
    );
}
