//! Writing Parquet objects: a snapshot's rows in key order, cut into row
//! groups encoded in parallel and written in order as each is ready (no
//! whole-table buffer: at most a few row groups are held at once); a diff's
//! net changes as one row each.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use arrow_array::{ArrayRef, Int64Array, StringArray};
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::order::{KeyOrder, SnapshotRows, SortScratch};
use super::rows::{RowBatch, RowError};
use super::schema::ParquetSchema;
use super::{ParquetError, TABLE_METADATA};
use crate::archive::format::DiffEntry;
use crate::archive::position::Lsn;
use crate::table::{Action, KeySpec};

/// Rows per row group: DuckDB's own row group size, within its guidance
/// of 100,000 to 1,000,000 rows; its statistics let a key-range query skip
/// the groups outside the range.
pub const ROW_GROUP_ROWS: usize = 122_880;

/// The fewest rows of a row group cut to spread the work evenly: the low
/// end of DuckDB's guidance.
const ROW_GROUP_MIN_ROWS: usize = 100_000;

/// The most bytes of encoded rows in a row group. Arrow's text and binary
/// columns address their bytes with 32-bit offsets (2 GiB, and Arrow
/// panics past them); a value's text is at most about three times its
/// encoding (a number as `numeric` text), so rows of wide values are cut
/// into more, smaller groups, with room for a group the sampled key cuts
/// leave twice the average.
const ROW_GROUP_BYTES: usize = 256 * 1024 * 1024;

/// The most a row group holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupSize {
    /// Rows.
    pub rows: usize,
    /// Bytes of encoded rows.
    pub bytes: usize,
}

/// The row groups of every snapshot and diff.
pub(super) const GROUP_SIZE: GroupSize = GroupSize {
    rows: ROW_GROUP_ROWS,
    bytes: ROW_GROUP_BYTES,
};

/// How many row groups a snapshot of `rows` rows of `bytes` encoded bytes
/// is cut into: groups within `size`, or more of them to make whole
/// rounds of `workers` (so the last round leaves no core idle) while each
/// keeps [`ROW_GROUP_MIN_ROWS`].
pub(super) fn group_count(rows: usize, bytes: usize, size: GroupSize, workers: usize) -> usize {
    let groups = rows
        .div_ceil(size.rows.max(1))
        .max(bytes.div_ceil(size.bytes.max(1)))
        .max(1);
    let rounded = groups.next_multiple_of(workers.max(1));
    match rows / rounded >= ROW_GROUP_MIN_ROWS {
        true => rounded,
        false => groups,
    }
}

/// `entries` cut into row groups within `size`, in order.
fn diff_groups<'e, 'r>(
    entries: &'e [DiffEntry<'r>],
    size: GroupSize,
) -> impl Iterator<Item = &'e [DiffEntry<'r>]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let end = rest
            .iter()
            .take(size.rows.max(1))
            .position(|entry| {
                bytes += entry.new.map_or(0, <[u8]>::len) + entry.old.map_or(0, <[u8]>::len);
                bytes > size.bytes
            })
            .map_or(rest.len().min(size.rows.max(1)), |at| at.max(1));
        let (group, after) = rest.split_at(end);
        rest = after;
        Some(group)
    })
}

/// The zstd level: the fastest, which already compresses the typed columns
/// well (the snapshot's wall time is the goal, not the last percent).
const ZSTD_LEVEL: i32 = 1;

/// The largest dictionary of a column chunk: a column of few distinct
/// values (a status, a country) stays well below it; one of mostly distinct
/// values (names, e-mails) gives up on its dictionary early instead of
/// interning a megabyte of values first.
const DICTIONARY_PAGE_BYTES: usize = 128 * 1024;

/// What a failing row is named by: the table, and how to key a row.
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    /// `schema.table`.
    pub table: &'a str,
    /// The key columns.
    pub key: &'a KeySpec,
}

impl Naming<'_> {
    fn row_error(&self, row: &[u8], error: RowError) -> ParquetError {
        let key = self
            .key
            .key_of(row)
            .map_or_else(|_| "(undecodable)".to_owned(), String::from);
        self.keyed_error(&key, error)
    }

    fn keyed_error(&self, key: &str, error: RowError) -> ParquetError {
        ParquetError::Row {
            table: self.table.to_owned(),
            key: key.to_owned(),
            error,
        }
    }
}

/// The writer's settings: zstd; min/max statistics per row group (what
/// DuckDB, Athena and Spark skip row groups by; per page they cost a
/// comparison per value and a page index nobody here reads); a snapshot's
/// sort order, and no dictionary for its key columns (every value differs).
fn properties(
    schema: &SchemaRef,
    table: &str,
    sorting: Option<Vec<SortingColumn>>,
) -> Result<WriterProperties, ParquetError> {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in sorting.iter().flatten() {
        let field = usize::try_from(column.column_idx)
            .ok()
            .and_then(|index| schema.fields().get(index));
        if let Some(field) = field {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    let mut properties = builder
        .set_sorting_columns(sorting)
        .set_created_by(format!(
            "laredo snapshot-writer {}",
            env!("CARGO_PKG_VERSION")
        ))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            TABLE_METADATA.to_owned(),
            table.to_owned(),
        )]))
        .build();
    add_encoded_arrow_schema_to_metadata(schema, &mut properties);
    Ok(properties)
}

/// A file writer of `schema` on `out`, and the factory of its row groups'
/// column writers.
fn file_writer<W: Write + Send>(
    out: W,
    schema: &SchemaRef,
    properties: WriterProperties,
) -> Result<(SerializedFileWriter<W>, ArrowRowGroupWriterFactory), ParquetError> {
    let properties = Arc::new(properties);
    let descriptor = ArrowSchemaConverter::new().convert(schema)?;
    let writer = SerializedFileWriter::new(out, descriptor.root_schema_ptr(), properties)?;
    let factory = ArrowRowGroupWriterFactory::try_new(&writer, Arc::clone(schema))?;
    Ok((writer, factory))
}

/// Encodes the columns of one row group.
fn encode_row_group(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    index: usize,
    columns: &[ArrayRef],
) -> Result<Vec<ArrowColumnChunk>, ParquetError> {
    let mut writers = factory.create_column_writers(index)?.into_iter();
    let mut chunks = Vec::with_capacity(columns.len());
    for (field, array) in schema.fields().iter().zip(columns) {
        for leaf in compute_leaves(field, array)? {
            let mut writer = writers
                .next()
                .ok_or_else(|| ParquetError::Internal("fewer column writers than leaves".into()))?;
            writer.write(&leaf)?;
            chunks.push(writer.close()?);
        }
    }
    Ok(chunks)
}

/// Writes `rows` (encoded `Struct`s) as a snapshot of
/// `schema` to `out`, in key order: keys read, row groups sorted and
/// encoded on `workers` threads ([`KeyOrder`]); returns `out` once the file
/// is complete.
pub fn write_snapshot<'a, W: Write + Send>(
    out: W,
    rows: &(impl SnapshotRows<'a> + ?Sized),
    schema: &ParquetSchema,
    naming: Naming<'_>,
    workers: usize,
) -> Result<W, ParquetError> {
    write_snapshot_in_groups(out, rows, schema, naming, workers, GROUP_SIZE)
}

/// [`write_snapshot`] in row groups within `size` (tests use small ones).
pub(super) fn write_snapshot_in_groups<'a, W: Write + Send>(
    out: W,
    rows: &(impl SnapshotRows<'a> + ?Sized),
    schema: &ParquetSchema,
    naming: Naming<'_>,
    workers: usize,
    size: GroupSize,
) -> Result<W, ParquetError> {
    let groups = group_count(rows.len(), rows.bytes(), size, workers);
    // Builders sized up front for a group and an eighth: grown by
    // doubling, they reallocate (and fault in) the text columns repeatedly.
    let group_rows = rows.len().div_ceil(groups);
    let capacity = group_rows + group_rows / 8;
    let order =
        KeyOrder::new(rows, schema, workers, groups).map_err(|error| ParquetError::Row {
            table: naming.table.to_owned(),
            key: "(undecodable)".to_owned(),
            error: RowError::Wire(error),
        })?;
    let arrow = schema.snapshot_schema();
    let sorting = schema
        .key_columns()
        .iter()
        .map(|&index| SortingColumn {
            column_idx: index as i32,
            descending: false,
            nulls_first: true,
        })
        .collect();
    let (mut writer, factory) = file_writer(
        out,
        &arrow,
        properties(&arrow, naming.table, Some(sorting))?,
    )?;
    let groups = order.len();
    let workers = workers.clamp(1, groups.max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Each worker holds one group it encodes and one waiting to be
        // written: the memory held is a few row groups, whatever the table.
        let (sender, receiver) = mpsc::sync_channel(workers);
        for _ in 0..workers {
            let (sender, order, next, factory, arrow) =
                (sender.clone(), &order, &next, &factory, &arrow);
            scope.spawn(move || {
                let (mut scratch, mut sorted) = (SortScratch::default(), Vec::new());
                let mut batch = RowBatch::new(schema, capacity);
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= groups {
                        break;
                    }
                    order.sorted_into(index, &mut scratch, &mut sorted);
                    let encoded = batch
                        .push_rows(&sorted)
                        .map_err(|(at, e)| naming.row_error(sorted[at], e))
                        .and_then(|()| encode_row_group(factory, arrow, index, &batch.finish()?));
                    let failed = encoded.is_err();
                    if sender.send((index, encoded)).is_err() || failed {
                        break;
                    }
                    batch = RowBatch::new(schema, capacity);
                }
            });
        }
        drop(sender);
        let mut waiting = BTreeMap::new();
        let mut expected = 0;
        for (index, encoded) in receiver {
            waiting.insert(index, encoded);
            while let Some(chunks) = waiting.remove(&expected) {
                let mut group = writer.next_row_group()?;
                for chunk in chunks? {
                    chunk.append_to_row_group(&mut group)?;
                }
                group.close()?;
                expected += 1;
            }
        }
        if expected != groups {
            return Err(ParquetError::Internal(format!(
                "{expected} of {groups} row groups were written"
            )));
        }
        Ok::<(), ParquetError>(())
    })?;
    Ok(writer.into_inner()?)
}

/// Writes a diff's net changes, in order, to `out`: `_op`, `_position` and
/// `_lsn` (the diff's position, `position`), then the new row's columns;
/// a delete has only its key columns, a truncate none.
pub fn write_diff<W: Write + Send>(
    out: W,
    entries: &[DiffEntry<'_>],
    position: &str,
    schema: &ParquetSchema,
    naming: Naming<'_>,
) -> Result<W, ParquetError> {
    write_diff_in_groups(out, entries, position, schema, naming, GROUP_SIZE)
}

/// [`write_diff`] in row groups within `size` (tests use small ones).
pub(super) fn write_diff_in_groups<W: Write + Send>(
    out: W,
    entries: &[DiffEntry<'_>],
    position: &str,
    schema: &ParquetSchema,
    naming: Naming<'_>,
    size: GroupSize,
) -> Result<W, ParquetError> {
    let arrow = schema.diff_schema();
    let (mut writer, factory) = file_writer(out, &arrow, properties(&arrow, naming.table, None)?)?;
    let lsn = Lsn::parse(position).map_or(0, |lsn| lsn.0 as i64);
    for (index, group) in diff_groups(entries, size).enumerate() {
        let mut batch = RowBatch::new(schema, group.len());
        let mut ops = Vec::with_capacity(group.len());
        for entry in group {
            let named = |error| naming.keyed_error(entry.key, error);
            match (entry.action, entry.new, entry.old) {
                (Action::Truncate, ..) => batch.push_nulls(),
                (Action::Delete, _, Some(old)) => batch.push(old, true).map_err(named)?,
                (Action::Insert | Action::Update, Some(new), _) => {
                    batch.push(new, false).map_err(named)?;
                }
                (action, ..) => {
                    return Err(ParquetError::Internal(format!(
                        "a {} of key {:?} without its row",
                        action.as_str(),
                        entry.key
                    )));
                }
            }
            ops.push(entry.action.as_str());
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ops)),
            Arc::new(StringArray::from(vec![position; group.len()])),
            Arc::new(Int64Array::from(vec![lsn; group.len()])),
        ];
        columns.extend(batch.finish()?);
        let chunks = encode_row_group(&factory, &arrow, index, &columns)?;
        let mut group = writer.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
    }
    Ok(writer.into_inner()?)
}
