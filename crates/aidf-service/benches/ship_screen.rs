//! What screening adds to one shipment: `ship` on a SQLite ledger, N shipments with screening on
//! and N with it off (distinct ids, an unlisted consignee and a listed one), mean wall time per
//! shipment. `cargo bench -p aidf-service --bench ship_screen [-- N]`.

use std::time::{Duration, Instant};

use aidf_core::{DeterminationInput, Policy};
use aidf_ledger::{Ledger, Timestamp};
use aidf_service::screening::{default_lists, screen_transaction};
use aidf_service::{ShipConfig, ShipRequest, ship};

/// 2025-06-02T12:00:00Z.
const NOW: Timestamp = Timestamp(1_748_865_600_000);

fn input(name: &str) -> DeterminationInput {
    let name = serde_json::to_string(name).expect("name");
    DeterminationInput::from_json(&format!(
        r#"{{"date":"2025-06-01","destination":"SG","consignee":{{"name":{name},"hq":"SG"}},"item":{{"chip":"L20"}},"quantity":10}}"#
    ))
    .expect("input")
}

fn run(policy: &Policy, screen: bool, name: &str, n: usize) -> Duration {
    let dir = std::env::temp_dir().join(format!("aidf-bench-ship-{}-{screen}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut ledger = Ledger::open(dir.join("l.db").to_str().expect("utf8")).expect("open");
    let config = ShipConfig {
        screen,
        ..ShipConfig::default()
    };
    let input = input(name);
    let start = Instant::now();
    for i in 0..n {
        let id = format!("b{i}");
        let req = ShipRequest {
            input: &input,
            shipment_id: &id,
            tenant: "local",
            record_prefix: "",
            may_backfill: true,
            now: NOW,
        };
        ship(&mut ledger, policy, &config, &req).expect("ship");
    }
    let spent = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    spent / u32::try_from(n).unwrap_or(u32::MAX)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let policy = Policy::embedded().expect("policy");
    let load = Instant::now();
    let lists = default_lists().expect("lists");
    println!("load + index the default lists: {:?}", load.elapsed());
    for name in ["Acme Computing Pte Ltd", "Huawei Technologies Co., Ltd."] {
        let t = Instant::now();
        for _ in 0..n {
            screen_transaction(lists, Default::default(), &input(name)).expect("screen");
        }
        let screen_only = t.elapsed() / u32::try_from(n).unwrap_or(u32::MAX);
        let off = run(&policy, false, name, n);
        let on = run(&policy, true, name, n);
        println!(
            "{name}: ship without screening {off:?}, with {on:?} (+{:.1} %); screen_transaction alone {screen_only:?}",
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
        );
    }
}
