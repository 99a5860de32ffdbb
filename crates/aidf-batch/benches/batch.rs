//! Throughput of `aidf batch` and `aidf simulate`, in one run.
//!
//! `cargo bench -p aidf-batch --bench batch [-- ROWS]` (default 1,000,000):
//!
//! 1. generates ROWS orders (`aidf gen shipments`, seed 1) into a CSV file;
//! 2. times merely parsing that file with the batch's own CSV reader (records only), and parsing
//!    it into inputs (records → `DeterminationInput`), single-threaded;
//! 3. times the stateless batch of the same file (parse, determine on every core, write the CSV
//!    output file in order), and reports rows/s and the ratio to both parse times;
//! 4. times a simulation of 200 countries × 12 quarters with about 1,000,000 orders through the
//!    engine (outputs and charts excluded, then timed separately).
//!
//! Each timing is the best of three runs (the machine is shared).

use std::io::Read;
use std::time::{Duration, Instant};

use aidf_batch::batch::{self, Format, OutFormat};
use aidf_batch::row::{Header, record_to_input};
use aidf_batch::scenario::Scenario;
use aidf_core::Policy;

// The `aidf` binary's allocator, so the figures are the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time (user + system) this process has used, from /proc (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            // Fields 14 and 15 of stat (utime, stime), counted after the command name.
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Best wall time of `n` runs, the CPU time of that run, and the last result.
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T, Duration) {
    let mut out = None;
    let mut best = Duration::MAX;
    let mut cpu = Duration::ZERO;
    for _ in 0..n {
        let c = cpu_time();
        let t = Instant::now();
        let v = f();
        let e = t.elapsed();
        if e < best {
            best = e;
            cpu = cpu_time().saturating_sub(c);
        }
        out = Some(v);
    }
    (best, out.expect("ran at least once"), cpu)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let policy = Policy::embedded().expect("policy");
    let dir = std::env::temp_dir().join(format!("aidf-bench-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let book = dir.join("book.csv");
    let out = dir.join("out.csv");
    let t = Instant::now();
    aidf_batch::generate::write(
        &policy,
        rows,
        1,
        Format::Csv,
        std::fs::File::create(&book).expect("create"),
    )
    .expect("generate");
    let size = std::fs::metadata(&book).expect("meta").len();
    println!(
        "generated {rows} rows ({:.1} MB) in {:.2?}; {} threads",
        size as f64 / 1e6,
        t.elapsed(),
        rayon::current_num_threads()
    );
    // Warm the page cache.
    let mut sink = Vec::new();
    std::fs::File::open(&book)
        .expect("open")
        .read_to_end(&mut sink)
        .expect("read");
    drop(sink);

    let reader = || {
        csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(std::fs::File::open(&book).expect("open"))
    };
    println!("load average before: {}", loadavg());
    let (t_records, n, _) = best(3, || {
        let mut r = reader();
        let mut rec = csv::StringRecord::new();
        let mut n = 0u64;
        while r.read_record(&mut rec).expect("record") {
            n += 1;
        }
        n
    });
    assert_eq!(n, rows);
    let (t_inputs, n, cpu_inputs) = best(3, || {
        let mut r = reader();
        let h = Header::new(r.headers().expect("header").iter()).expect("header");
        let mut rec = csv::StringRecord::new();
        let mut n = 0u64;
        while r.read_record(&mut rec).expect("record") {
            if record_to_input(&h, &rec).is_ok() {
                n += 1;
            }
        }
        n
    });
    assert_eq!(n, rows);
    let (t_batch, summary, cpu_batch) = best(3, || {
        batch::run(
            &policy,
            Format::Csv,
            std::fs::File::open(&book).expect("open"),
            OutFormat::Csv,
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out).expect("out")),
            &batch::Options::default(),
            None,
            &|_, _| {},
        )
        .expect("batch")
    });
    assert_eq!(summary.rows, rows);
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!(
        "parse only (CSV records):          {:>8.3} s  {:>10.0} rows/s",
        t_records.as_secs_f64(),
        rate(t_records)
    );
    println!(
        "parse into inputs (single thread): {:>8.3} s  {:>10.0} rows/s",
        t_inputs.as_secs_f64(),
        rate(t_inputs)
    );
    println!(
        "stateless batch (parse, determine, write): {:>8.3} s  {:>10.0} rows/s  = {:.2}x records-only parse, {:.2}x parse into inputs  ({} determined, {} bad)",
        t_batch.as_secs_f64(),
        rate(t_batch),
        t_batch.as_secs_f64() / t_records.as_secs_f64(),
        t_batch.as_secs_f64() / t_inputs.as_secs_f64(),
        summary.ok,
        summary.errors
    );
    println!(
        "  CPU: batch {:.3} s ({:.0} rows per CPU-second), parse into inputs {:.3} s; batch CPU / parse CPU = {:.2}x",
        cpu_batch.as_secs_f64(),
        rows as f64 / cpu_batch.as_secs_f64().max(1e-9),
        cpu_inputs.as_secs_f64(),
        cpu_batch.as_secs_f64() / cpu_inputs.as_secs_f64().max(1e-9)
    );

    if std::env::var_os("AIDF_BENCH_BATCH_ONLY").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // 200 countries x 12 quarters, ~1,000,000 orders: 200 x 12 x 417 orders of 10 H100e.
    let text = "name = \"bench: 200 countries\"\nseed = 1\nstart = \"2025-01-01\"\nquarters = 12\n\
        regimes = [\"ai-diffusion-2025\"]\n[defaults]\nconsignees = 25\norder_h100e = 10\n\
        chip_mix = { \"nvidia-h100-sxm\" = 40, \"nvidia-h200-sxm\" = 30, \"nvidia-b200\" = 30 }\n\
        [[country]]\ncode = \"MY\"\nstart_h100e = 4170\n\
        [[g2g]]\ncountry = \"AE\"\ndate = \"2025-07-01\"\n\
        [synthetic]\ncountries = 200\nstart_h100e = 4170\n";
    let sc = Scenario::parse("bench.toml", text, &policy).expect("scenario");
    let (t_sim, res, cpu_sim) = best(3, || {
        aidf_batch::simulate::simulate(&policy, &sc).expect("sim")
    });
    let countries = res.runs[0].countries.len();
    let orders = res.orders();
    println!(
        "simulation: {countries} countries x {} quarters, {orders} orders: {:.3} s ({:.0} orders/s)",
        res.quarters.len(),
        t_sim.as_secs_f64(),
        orders as f64 / t_sim.as_secs_f64()
    );
    println!(
        "  CPU: simulation {:.3} s; load average after: {}",
        cpu_sim.as_secs_f64(),
        loadavg()
    );
    let simdir = dir.join("sim");
    let t = Instant::now();
    aidf_batch::simulate::write_outputs(&simdir, &res).expect("outputs");
    let t_out = t.elapsed();
    let t = Instant::now();
    aidf_batch::charts::write_all(&simdir, &res).expect("charts");
    println!(
        "simulation outputs: CSV/JSON {:.3} s, charts (4 SVG + 4 PNG) {:.3} s",
        t_out.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
