//! Helpers shared by the archive tests (included with `mod`).
#![allow(dead_code, clippy::unwrap_used)]

pub mod go_reader;
pub mod parquet;
pub mod timed;

use std::collections::BTreeMap;
use std::sync::Arc;

use laredo_wire::{encode_scalar, write_struct_entry};
use snapshot_writer::archive::format::jsonl;
use snapshot_writer::archive::verify::verify;
use snapshot_writer::archive::{
    ArchiveError, ArchiveReader, ArchiveSettings, ArchiveWriter, ChangeBuffer, Committed,
    RebuiltTable, SourceMark, Trigger,
};
use snapshot_writer::config::Format;
use snapshot_writer::dest::{Destination, LocalDestination};
use snapshot_writer::metrics::TableMetrics;
use snapshot_writer::table::{KeySpec, Table, ValueRef};

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

/// Settings of `table` at the prefix `items/`: snapshots in both formats,
/// diffs in protobuf.
pub fn settings(table: &str) -> ArchiveSettings {
    ArchiveSettings {
        snapshot_formats: vec![Format::Jsonl, Format::Protobuf],
        diff_formats: vec![Format::Protobuf],
        ..ArchiveSettings::new(table, "items/")
    }
}

/// Opens the archive at `items/` on `dest` and fails unless it verifies.
pub async fn assert_valid(dest: &Arc<dyn Destination>) -> ArchiveReader {
    let reader = ArchiveReader::open(dest.clone(), "items/").await.unwrap();
    let report = verify(&reader).await.unwrap();
    assert!(report.ok(), "{report}");
    reader
}

/// A table being archived and the changes buffered since its last
/// artifact, as a table task holds them.
pub struct Source {
    /// The table.
    pub table: Table,
    /// Its changes not yet written.
    pub buffer: ChangeBuffer,
}

impl Source {
    /// An empty table keyed by `id`.
    pub fn new() -> Self {
        Self::restored(Table::new(KeySpec::default()))
    }

    /// `table` (e.g. restored from the archive) with nothing buffered.
    pub fn restored(table: Table) -> Self {
        Self {
            table,
            buffer: ChangeBuffer::new(),
        }
    }

    /// Applies a journal entry, buffering what it changed.
    pub fn apply(&mut self, action: &str, old: Option<&[u8]>, new: Option<&[u8]>) {
        let buffer = &mut self.buffer;
        self.table
            .apply(action, old, new, &mut |change| buffer.record(change))
            .unwrap();
    }

    /// Inserts `{id, name, n: 1}`.
    pub fn insert(&mut self, id: u32, name: &str) {
        self.apply("INSERT", None, Some(&row(id, name, 1.0)));
    }

    /// Writes a snapshot of the table with `writer` (no source position).
    pub async fn snapshot(
        &mut self,
        writer: &mut ArchiveWriter,
        trigger: Trigger,
    ) -> Result<Committed, ArchiveError> {
        writer
            .write_snapshot(
                &self.table,
                &mut self.buffer,
                &SourceMark::default(),
                trigger,
            )
            .await
    }

    /// Writes the buffered changes as a diff with `writer` (no source
    /// position).
    pub async fn diff(
        &mut self,
        writer: &mut ArchiveWriter,
    ) -> Result<Option<Committed>, ArchiveError> {
        writer
            .write_diff(&mut self.buffer, &SourceMark::default())
            .await
    }
}

/// The archive's head table, read from `formats` (keyed by `id`), as
/// `key → JSON line`.
pub async fn head_rows(reader: &ArchiveReader, formats: &[Format]) -> BTreeMap<String, String> {
    let head = reader
        .rebuild(None, &KeySpec::default(), formats)
        .await
        .unwrap();
    rebuilt_rows(&head)
}

/// Two writers opened on one empty place before either commits, as two
/// processes, or two tables of one process, starting together: the first
/// has committed a snapshot of row 1; the second, asked for a snapshot of
/// row 2, got `error`.
pub struct Contenders {
    /// The writer that committed first.
    pub first: ArchiveWriter,
    /// Its table.
    pub first_source: Source,
    /// The writer that committed second.
    pub second: ArchiveWriter,
    /// Its table.
    pub second_source: Source,
    /// What the second writer's snapshot returned.
    pub error: ArchiveError,
}

impl Contenders {
    /// Opens both writers on `dests` (each with its settings and identity)
    /// and has them commit in turn.
    pub async fn race(
        dests: &[Arc<dyn Destination>],
        first: (&ArchiveSettings, &str),
        second: (&ArchiveSettings, &str),
    ) -> Self {
        let mut first = open_writer(dests, first.0, first.1).await;
        let mut second = open_writer(dests, second.0, second.1).await;
        let mut first_source = Source::new();
        first_source.insert(1, "a");
        first_source
            .snapshot(&mut first, Trigger::Initial)
            .await
            .unwrap();
        let mut second_source = Source::new();
        second_source.insert(2, "b");
        let error = second_source
            .snapshot(&mut second, Trigger::Initial)
            .await
            .unwrap_err();
        Self {
            first,
            first_source,
            second,
            second_source,
            error,
        }
    }
}
