//! Decoding a snapshot object on every core: each worker decodes a share
//! of the row groups into encoded `Struct`s and keys each row as it goes.

use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::{Column, columns, each_batch, encode_row, metadata};
use crate::archive::format::{FormatError, protobuf};

/// A worker's share of a snapshot's rows, decoded ([`snapshot_parts`]).
#[derive(Debug)]
pub struct SnapshotPart {
    /// The rows as encoded `Struct`s, one after another.
    pub rows: Bytes,
    /// Where each row ends in `rows` (it starts where the one before ends).
    pub row_ends: Vec<usize>,
    /// The rows' keys, one after another.
    pub keys: String,
    /// Where each row's key ends in `keys`.
    pub key_ends: Vec<usize>,
    /// The file's rows before this part's first (to number a bad one).
    pub rows_before: usize,
}

/// Writes a row's key (from the row as decoded) to a string, or says why
/// it cannot.
pub type KeyWriter<'a> = &'a (dyn Fn(&DecodedRow<'_>, &mut String) -> Result<(), String> + Sync);

/// A row as it was just decoded: its encoded `Struct`, and where each
/// column's value lies in it, so keying it needs no scan of the row (a scan
/// for the key column was a third of a Parquet snapshot's decoding).
pub struct DecodedRow<'a> {
    row: &'a [u8],
    columns: &'a [Column<'a>],
    /// Each column's encoded value in `row`, in column order.
    values: &'a [(usize, usize)],
}

impl std::fmt::Debug for DecodedRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedRow")
            .field("row", &laredo_wire::DebugStruct(self.row))
            .finish_non_exhaustive()
    }
}

impl<'a> DecodedRow<'a> {
    /// The encoded value of column `name` (every column of the file is in
    /// every row, a null as a null value); `None` for a name the file lacks.
    pub fn value(&self, name: &str) -> Option<&'a [u8]> {
        let index = self.columns.iter().position(|column| column.name == name)?;
        let &(start, end) = self.values.get(index)?;
        self.row.get(start..end)
    }
}

/// Decodes a snapshot object on `workers` threads, a share of the row
/// groups each, into its rows as encoded `Struct`s, each keyed by
/// `write_key` as it is decoded: the parts in file order.
pub fn snapshot_parts(
    object: &Bytes,
    workers: usize,
    write_key: KeyWriter<'_>,
) -> Result<Vec<SnapshotPart>, FormatError> {
    let metadata = metadata(object)?;
    let row_groups = metadata.metadata().row_groups();
    let groups = row_groups.len();
    let workers = workers.clamp(1, groups.max(1));
    let shares: Vec<(usize, Vec<usize>)> = (0..workers)
        .map(|w| {
            let share: Vec<usize> = (groups * w / workers..groups * (w + 1) / workers).collect();
            let before = row_groups[..share.first().copied().unwrap_or(groups)]
                .iter()
                .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
                .sum();
            (before, share)
        })
        .collect();
    crate::blocking::on_threads(shares, |(rows_before, share)| {
        decode_share(object, &metadata, share, rows_before, write_key)
    })
    .map_err(|_| FormatError::at(0, "a Parquet decoding worker panicked"))?
    .into_iter()
    .collect()
}

/// Decodes the row groups `share` of a snapshot ([`snapshot_parts`]).
fn decode_share(
    object: &Bytes,
    metadata: &ArrowReaderMetadata,
    share: Vec<usize>,
    rows_before: usize,
    write_key: KeyWriter<'_>,
) -> Result<SnapshotPart, FormatError> {
    // Capacity hints from the metadata, bounded by the object's size: an
    // archive is outside input, and its row counts may lie.
    let rows_in_share = share
        .iter()
        .map(|&g| usize::try_from(metadata.metadata().row_group(g).num_rows()).unwrap_or(0))
        .fold(0usize, usize::saturating_add)
        .min(object.len());
    let mut rows = Vec::new();
    let mut row_ends = Vec::with_capacity(rows_in_share);
    let mut keys = String::with_capacity(rows_in_share * 8);
    let mut key_ends = Vec::with_capacity(rows_in_share);
    let (mut value, mut text, mut values) = (Vec::new(), String::new(), Vec::new());
    each_batch(object, metadata, share, |batch| {
        let columns = columns(batch, 0).map_err(|m| FormatError::at(0, m))?;
        for index in 0..batch.num_rows() {
            let start = rows.len();
            values.clear();
            encode_row(&columns, index, &mut rows, &mut value, &mut text, |range| {
                values.push((range.0 - start, range.1 - start));
            });
            if start == 0 {
                // Room for the share's rows if they are like the first.
                let room = rows.len().saturating_mul(rows_in_share).saturating_mul(9) / 8;
                rows.reserve(room.min(object.len().saturating_mul(64)));
            }
            row_ends.push(rows.len());
            let decoded = DecodedRow {
                row: &rows[start..],
                columns: &columns,
                values: &values,
            };
            write_key(&decoded, &mut keys)
                .map_err(|message| FormatError::at(rows_before + row_ends.len(), message))?;
            key_ends.push(keys.len());
        }
        Ok(())
    })?;
    Ok(SnapshotPart {
        rows: Bytes::from(rows),
        row_ends,
        keys,
        key_ends,
        rows_before,
    })
}

/// Decodes a snapshot object into its rows in the `protobuf` snapshot
/// format (varint-delimited `SnapshotRow`s), on `workers` threads.
pub fn snapshot_rows(object: &Bytes, workers: usize) -> Result<Bytes, FormatError> {
    let parts = snapshot_parts(object, workers, &|_, _| Ok(()))?;
    let size = parts
        .iter()
        .map(|p| p.rows.len() + p.row_ends.len() * 3)
        .sum();
    let mut out = Vec::with_capacity(size);
    for part in &parts {
        let mut start = 0;
        for &end in &part.row_ends {
            protobuf::encode_snapshot_row(&mut out, &part.rows[start..end]);
            start = end;
        }
    }
    Ok(Bytes::from(out))
}
