//! Where loading the default lists goes (release builds: `cargo bench -p aidf-screen --bench
//! load`): the full build from the embedded CSV phase by phase (gunzip, sha256, CSV parse and
//! entry structure, name variants + normalization, weighing and indexing), against reading the
//! committed snapshot in place and the first query on it. Medians of 5 runs, wall time; resident
//! memory (VmRSS) added by the first snapshot load and query, then by the first full build.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aidf_screen::{
    DEFAULT_CSL_GZ, DEFAULT_MANIFEST, ListSet, Party, ScoreParams, Thresholds, load_csl,
    name_variants, normalize, parse_manifest, read_maybe_gzip,
};
use sha2::Digest;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

fn main() {
    let rss = memory_kib("VmRSS:").unwrap_or(0);
    let start = Instant::now();
    let set = ListSet::default_lists().expect("snapshot");
    let party = Party {
        name: "Huawei Technologies Co., Ltd.",
        country: Some("CN"),
        party_type: None,
    };
    let screening = set.screen(&party, Thresholds::default(), &ScoreParams::default());
    let first_query = start.elapsed();
    let rss_snapshot = memory_kib("VmRSS:").unwrap_or(0).saturating_sub(rss);
    assert!(set.is_snapshot() && screening.is_ok());
    let rss = memory_kib("VmRSS:").unwrap_or(0);
    let full = ListSet::default_lists_built().expect("build");
    let rss_full = memory_kib("VmRSS:").unwrap_or(0).saturating_sub(rss);
    drop(full);
    let meta = &parse_manifest("lists.toml", DEFAULT_MANIFEST).expect("manifest")[0];
    let gunzip = median(|| {
        black_box(read_maybe_gzip("csl", DEFAULT_CSL_GZ).expect("gunzip"));
    });
    let plain = read_maybe_gzip("csl", DEFAULT_CSL_GZ).expect("gunzip");
    let sha = median(|| {
        black_box(sha2::Sha256::digest(&plain));
    });
    let load = median(|| {
        black_box(load_csl("csl", DEFAULT_CSL_GZ, meta).expect("load"));
    });
    let list = load_csl("csl", DEFAULT_CSL_GZ, meta).expect("load");
    let names = median(|| {
        for entry in &list.entries {
            for text in std::iter::once(&entry.name).chain(&entry.alt_names) {
                for variant in name_variants(text) {
                    black_box(normalize(&variant));
                }
            }
        }
    });
    let build = median(|| {
        black_box(ListSet::build(vec![list.clone()]));
    });
    let snapshot = median(|| {
        black_box(ListSet::default_lists().expect("snapshot"));
    });
    println!(
        "full build: gunzip {gunzip:?}, sha256 {sha:?}, load_csl (gunzip + sha256 + CSV + \
         entries) {load:?}, name variants + normalize {names:?}, ListSet::build (normalize + \
         weigh + index) {build:?} (weigh + index ≈ {:?}); total ≈ {:?}; resident +{} MiB",
        build.saturating_sub(names),
        load + build,
        rss_full / 1024
    );
    println!(
        "snapshot: open {snapshot:?}; open + first screening {first_query:?}; resident +{} KiB",
        rss_snapshot
    );
}
