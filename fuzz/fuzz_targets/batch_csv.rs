//! The batch on arbitrary bytes as a CSV file (after a valid header): it never panics or stops on
//! a bad row, and its output does not depend on where the input is cut into blocks (the splitter
//! must cut only where the CSV reader ends records, quotes and CR/LF included).
#![no_main]

use std::sync::LazyLock;

use aidf_batch::batch::{self, Format, OutFormat};
use aidf_core::Policy;
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| Policy::embedded().expect("embedded policy"));

const HEADER: &[u8] = b"id,date,destination,consignee_name,consignee_hq,chip,quantity\n";

fn run(input: &[u8], block: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let opts = batch::Options {
        block_bytes: Some(block),
        ..Default::default()
    };
    batch::run(
        &POLICY,
        Format::Csv,
        input,
        OutFormat::Csv,
        &mut out,
        &opts,
        None,
        &|_, _| {},
    )
    .expect("a batch over memory does not fail");
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = HEADER.to_vec();
    input.extend_from_slice(data);
    let whole = run(&input, 1 << 20);
    for block in [1, 5, 64] {
        assert!(
            run(&input, block) == whole,
            "{block}-byte blocks give other output"
        );
    }
});
