//! Helpers shared by the archive tests (included with `mod`).
#![allow(dead_code, clippy::unwrap_used)]

pub mod go_reader;
pub mod timed;

use std::collections::BTreeMap;
use std::sync::Arc;

use laredo_wire::{encode_scalar, write_struct_entry};
use snapshot_writer::archive::format::jsonl;
use snapshot_writer::archive::{ArchiveSettings, ArchiveWriter, RebuiltTable};
use snapshot_writer::dest::{Destination, LocalDestination};
use snapshot_writer::metrics::TableMetrics;
use snapshot_writer::table::{Table, ValueRef};

/// An encoded row `{id, name, n}`.
pub fn row(id: u32, name: &str, n: f64) -> Vec<u8> {
    let mut out = Vec::new();
    write_struct_entry(
        &mut out,
        "id",
        &encode_scalar(&ValueRef::Number(f64::from(id))),
    );
    write_struct_entry(&mut out, "name", &encode_scalar(&ValueRef::String(name)));
    write_struct_entry(&mut out, "n", &encode_scalar(&ValueRef::Number(n)));
    out
}

/// A table as `key → JSON line`, for comparisons.
pub fn table_rows(table: &Table) -> BTreeMap<String, String> {
    // One column cache for all rows, where `rebuilt_rows` starts afresh for
    // each: comparing the two also checks the cache.
    let mut columns = jsonl::ColumnCache::default();
    table
        .iter()
        .map(|(key, row)| {
            let mut line = Vec::new();
            jsonl::encode_snapshot_row(&mut columns, &mut line, row.as_bytes()).unwrap();
            (key.to_string(), String::from_utf8(line).unwrap())
        })
        .collect()
}

/// A rebuilt table as `key → JSON line`.
pub fn rebuilt_rows(table: &RebuiltTable) -> BTreeMap<String, String> {
    table
        .rows
        .iter()
        .map(|(key, row)| {
            let mut line = Vec::new();
            row.write_json_line(&mut jsonl::ColumnCache::default(), &mut line)
                .unwrap();
            (key.to_string(), String::from_utf8(line).unwrap())
        })
        .collect()
}

/// A local destination as the trait object the writer takes.
pub fn local(path: &std::path::Path) -> Arc<dyn Destination> {
    Arc::new(LocalDestination::new(path))
}

/// Opens a writer with a fresh identity.
pub async fn open_writer(
    dests: &[Arc<dyn Destination>],
    settings: &ArchiveSettings,
    identity: &str,
) -> ArchiveWriter {
    ArchiveWriter::open(
        dests.to_vec(),
        settings.clone(),
        identity.to_owned(),
        TableMetrics::detached(&settings.table),
    )
    .await
    .unwrap()
}
