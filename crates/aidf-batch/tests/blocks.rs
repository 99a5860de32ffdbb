//! A stateless batch cuts its input into blocks that workers parse in parallel. Wherever the cuts
//! fall, the output must be the same, byte for byte: row numbers, quoted line breaks, CRLF line
//! ends, blank lines and unreadable rows included.

use aidf_batch::batch::{self, Format, OutFormat};
use aidf_core::Policy;

fn run(policy: &Policy, format: Format, input: &[u8], out: OutFormat, block: usize) -> Vec<u8> {
    let mut output = Vec::new();
    let opts = batch::Options {
        block_bytes: Some(block),
        ..Default::default()
    };
    batch::run(
        policy,
        format,
        input,
        out,
        &mut output,
        &opts,
        None,
        &|_, _| {},
    )
    .expect("batch runs");
    output
}

/// A generated book with awkward rows spliced in.
fn awkward_csv(policy: &Policy) -> Vec<u8> {
    let mut book = Vec::new();
    aidf_batch::generate::write(policy, 300, 7, Format::Csv, &mut book).expect("generate");
    let text = String::from_utf8(book).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines[0].clone();
    let cols = header.split(',').count();
    let row = |id: &str, consignee: &str| {
        let mut cells = vec![String::new(); cols];
        let names: Vec<&str> = header.split(',').collect();
        let set = |cells: &mut Vec<String>, k: &str, v: &str| {
            let i = names.iter().position(|n| *n == k).expect("column");
            cells[i] = v.to_string();
        };
        set(&mut cells, "id", id);
        set(&mut cells, "date", "2025-06-01");
        set(&mut cells, "destination", "MY");
        set(&mut cells, "consignee_name", consignee);
        set(&mut cells, "consignee_hq", "MY");
        set(&mut cells, "chip", "nvidia-h100-sxm");
        set(&mut cells, "quantity", "10");
        cells.join(",")
    };
    lines.insert(5, row("q-1", "\"Line\nbreak, \"\"quoted\"\" Sdn Bhd\""));
    lines.insert(9, String::new());
    lines.insert(40, row("q-2", "\"a\r\nb\""));
    lines.insert(80, row("bad-country", "X").replace(",MY,", ",ZZ,"));
    let mut out: Vec<u8> = lines.join("\r\n").into_bytes();
    // An unreadable row: invalid UTF-8 in a cell.
    out.extend_from_slice(b"\r\nbad-utf8,2025-06-01,,,,,,MY,\xff\xfe,MY");
    out.extend_from_slice(b"\r\n\r\n");
    out
}

#[test]
fn csv_output_does_not_depend_on_where_blocks_are_cut() {
    let policy = Policy::embedded().expect("policy");
    let input = awkward_csv(&policy);
    for out in [OutFormat::Csv, OutFormat::Jsonl] {
        let whole = run(&policy, Format::Csv, &input, out, 1 << 20);
        let text = String::from_utf8_lossy(&whole);
        assert!(text.contains("q-1") && text.contains("q-2"), "{out:?}");
        assert!(
            text.contains("not valid UTF-8") && text.contains("consignee_name"),
            "{out:?}"
        );
        for block in [1, 2, 7, 64, 500, 4096] {
            let got = run(&policy, Format::Csv, &input, out, block);
            if got != whole {
                let (a, b) = (
                    String::from_utf8_lossy(&whole),
                    String::from_utf8_lossy(&got),
                );
                let first = a.lines().zip(b.lines()).position(|(x, y)| x != y);
                panic!(
                    "{out:?} with {block}-byte blocks differs at line {first:?}: {:?} vs {:?}",
                    first.and_then(|i| a.lines().nth(i)),
                    first.and_then(|i| b.lines().nth(i))
                );
            }
        }
    }
}

#[test]
fn jsonl_output_does_not_depend_on_where_blocks_are_cut() {
    let policy = Policy::embedded().expect("policy");
    let mut input = Vec::new();
    aidf_batch::generate::write(&policy, 200, 9, Format::Jsonl, &mut input).expect("generate");
    input.extend_from_slice(b"\n   \n{\"date\": \"not a date\"}\n\xff\n");
    let whole = run(&policy, Format::Jsonl, &input, OutFormat::Csv, 1 << 20);
    assert!(String::from_utf8_lossy(&whole).contains("not valid UTF-8"));
    for block in [1, 3, 100, 2048] {
        assert!(
            run(&policy, Format::Jsonl, &input, OutFormat::Csv, block) == whole,
            "{block}-byte blocks differ"
        );
    }
}

/// The CSV output is made without detail texts (`Detail::RuleIds`); the answer must be the full
/// one with its texts left out, on every generated order.
#[test]
fn rule_ids_mode_gives_the_full_answer_without_texts() {
    use aidf_core::{Detail, determine, determine_with};
    let policy = Policy::embedded().expect("policy");
    let mut g = aidf_batch::generate::Generator::new(&policy, 11);
    let mut seen_reasons = 0;
    for _ in 0..5000 {
        let (_, input) = g.order();
        let full = determine(&policy, &input);
        let lean = determine_with(&policy, &input, Detail::RuleIds);
        match (full, lean) {
            (Ok(mut full), Ok(lean)) => {
                assert!(full.reasons.iter().all(|r| !r.detail.is_empty()));
                seen_reasons += full.reasons.len();
                full.reasons.iter_mut().for_each(|r| r.detail.clear());
                full.obligations.iter_mut().for_each(|o| o.detail.clear());
                assert_eq!(full, lean, "{input:?}");
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("{input:?}: {a:?} vs {b:?}"),
        }
    }
    assert!(seen_reasons > 5000);
}

proptest::proptest! {
    /// `CsvOut` writes the bytes `csv::Writer` (default settings) writes.
    #[test]
    fn csv_out_writes_what_the_csv_writer_writes(
        rows in proptest::collection::vec(
            proptest::collection::vec("[a-z ,\"\r\n;éß0-9-]{0,8}", 2..6),
            1..5,
        ),
    ) {
        let mut ours = batch::CsvOut::default();
        let mut theirs = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        for row in &rows {
            for f in row {
                ours.field(f);
            }
            ours.end();
            theirs.write_record(row).expect("in memory");
        }
        let theirs = theirs.into_inner().expect("flush");
        proptest::prop_assert_eq!(ours.buf, theirs);
    }
}
