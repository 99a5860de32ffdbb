//! The stateful batch: rows shipped one by one, in order, through the ledger.

use std::io::Read;
use std::sync::mpsc;

use aidf_core::{DeterminationInput, Policy};

use super::input::{Chunk, parse_raw, read_chunks};
use super::output::{OutFormat, Outcome, ShipCols, header_bytes};
use super::parallel::{determine_error, render_rows};
use super::{BatchError, Format, Ledger, Options, Summary};
use crate::row::{FieldError, Header};

/// Stateful: rows are shipped one by one, in order, against the ledger.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_stateful<'scope, 'env, R: Read + Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    policy: &Policy,
    format: Format,
    input: R,
    out_format: OutFormat,
    opts: &Options,
    mut ledger: Ledger<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
    send: &dyn Fn(Vec<u8>) -> Result<(), BatchError>,
) -> Result<Summary, BatchError> {
    let chunk_rows = opts.chunk_rows.unwrap_or(256).max(1);
    let (header_tx, header_rx) = mpsc::sync_channel(1);
    let (tx, rx) = mpsc::sync_channel::<Result<Chunk, BatchError>>(3);
    s.spawn(move || read_chunks(format, input, chunk_rows, header_tx, tx));
    let header = match header_rx.recv() {
        Ok(h) => h?,
        Err(_) => return Ok(Summary::default()),
    };
    send(header_bytes(out_format, true)?)?;
    let mut summary = Summary::default();
    let mut done = 0u64;
    for chunk in rx {
        let chunk = chunk?;
        let (buf, part) = ship_chunk(
            policy,
            header.as_ref(),
            &chunk,
            out_format,
            opts,
            &mut ledger,
        )?;
        done += chunk.rows.len() as u64;
        summary.merge(part);
        send(buf)?;
        progress(done, chunk.bytes_read);
    }
    Ok(summary)
}

pub use aidf_service::LOCAL_TENANT;

/// The shipment id of a row: its `id` cell, or one derived from the row number and the input.
pub fn shipment_id(row: u64, id: Option<&str>, input: &DeterminationInput) -> String {
    match id {
        Some(id) => id.to_string(),
        None => format!("batch-{row}-{}", &aidf_service::input_digest(input)[7..19]),
    }
}

fn ship_chunk(
    policy: &Policy,
    header: Option<&Header>,
    chunk: &Chunk,
    out_format: OutFormat,
    opts: &Options,
    ledger: &mut Ledger<'_>,
) -> Result<(Vec<u8>, Summary), BatchError> {
    let mut summary = Summary::default();
    let mut done = Vec::with_capacity(chunk.rows.len());
    for (i, raw) in chunk.rows.iter().enumerate() {
        let row = chunk.first_row + i as u64;
        let (id, input) = match parse_raw(header, raw.as_ref(), opts) {
            Ok(x) => x,
            Err(e) => {
                summary.add_error(&e.field);
                done.push((String::new(), Outcome::Err(e), None));
                continue;
            }
        };
        let sid = shipment_id(row, id.as_deref(), &input);
        if let Err(e) = aidf_ledger::validate_op_id(&sid) {
            let e = FieldError {
                field: "id".into(),
                value: sid.clone(),
                message: e.to_string(),
            };
            summary.add_error(&e.field);
            done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            continue;
        }
        let config = aidf_service::ShipConfig {
            posture: opts.posture.unwrap_or_default(),
            ..aidf_service::ShipConfig::default()
        };
        let request = aidf_service::ShipRequest {
            input: &input,
            shipment_id: &sid,
            tenant: LOCAL_TENANT,
            record_prefix: "",
            // A batch into a local ledger is the local officer's: back-dated rows are recorded
            // and marked as backfill.
            may_backfill: true,
            now: ledger.now,
        };
        match aidf_service::ship(&mut *ledger.store, policy, &config, &request) {
            Ok(o) => {
                // The determination the ledger recorded, made against its balances.
                let d = o.determination.to_value();
                summary.add_json(&d);
                let st = o.status.as_str().to_string();
                let tpp = d["total_tpp"].as_u64().unwrap_or(0);
                *summary.by_status.entry(st.clone()).or_default() += 1;
                *summary.tpp_by_status.entry(st.clone()).or_default() += u128::from(tpp);
                done.push((
                    id.unwrap_or_default(),
                    Outcome::Recorded(d),
                    Some(ShipCols {
                        shipment_id: o.shipment_id,
                        ship_status: st,
                        license_id: o.license_id,
                        refusal: o.refusal,
                    }),
                ));
            }
            Err(aidf_service::ShipError::Determine(e)) => {
                let e = determine_error(header.is_some(), &input, &e);
                summary.add_error(&e.field);
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
            Err(aidf_service::ShipError::Input { field, message }) => {
                let e = FieldError::new(field, "", &message);
                summary.add_error(&e.field);
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
            Err(e) => {
                let e = FieldError {
                    field: String::new(),
                    value: String::new(),
                    message: format!("ledger: {e}"),
                };
                summary.add_error("");
                done.push((id.unwrap_or_default(), Outcome::Err(e), None));
            }
        }
    }
    Ok((
        render_rows(out_format, true, chunk.first_row, &done)?,
        summary,
    ))
}
