//! Artifact formats: `jsonl` and `protobuf` (reference/laredo.md §2.4–§2.5),
//! and `parquet` ([`parquet`]: typed columns for query engines).
//!
//! Encoders transcode rows straight from their encoded `Struct` bytes (no
//! intermediate `serde_json::Value` or prost `Struct` per row: those ran at
//! half the speed). Decoders hand out rows as slices of the
//! object's bytes, so a rebuild copies nothing per row.

pub mod json_scan;
pub mod jsonl;
pub mod parquet;
pub mod protobuf;
mod swar;

use bytes::Bytes;

use crate::config::Format;
use crate::table::{Action, WireError};

/// Why an artifact's bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *record == 0 { String::new() } else { format!("record {record}: ") })]
pub struct FormatError {
    /// 1-based record (line or message) number; 0 when the error is about
    /// the whole object (its size or checksum).
    pub record: usize,
    /// What is wrong.
    pub message: String,
}

impl FormatError {
    pub(crate) fn at(record: usize, message: impl std::fmt::Display) -> Self {
        Self {
            record,
            message: message.to_string(),
        }
    }
}

/// One net change as written to a diff.
#[derive(Debug, Clone, Copy)]
pub struct DiffEntry<'a> {
    /// INSERT, UPDATE, DELETE or TRUNCATE.
    pub action: Action,
    /// The row key (`""` for TRUNCATE).
    pub key: &'a str,
    /// The previous row (UPDATE, DELETE), encoded `Struct`.
    pub old: Option<&'a [u8]>,
    /// The new row (INSERT, UPDATE), encoded `Struct`.
    pub new: Option<&'a [u8]>,
}

impl DiffEntry<'static> {
    /// The entry of a TRUNCATE: no key, no rows.
    pub const TRUNCATE: Self = Self {
        action: Action::Truncate,
        key: "",
        old: None,
        new: None,
    };
}

/// Encodes the records of artifacts in one format. It remembers what makes
/// the next row of the same table cheaper (the JSONL column layout), so use
/// one encoder per stream of rows of one table. Parquet objects are not
/// streams of records: they are written whole ([`parquet::write_snapshot`],
/// [`parquet::write_diff`]), and an encoder of it appends nothing.
#[derive(Debug, Clone)]
pub struct RecordEncoder {
    format: Format,
    columns: jsonl::ColumnCache,
}

impl RecordEncoder {
    /// An encoder for `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            columns: jsonl::ColumnCache::default(),
        }
    }

    /// Appends one snapshot record.
    pub fn snapshot_row(&mut self, out: &mut Vec<u8>, row: &[u8]) -> Result<(), WireError> {
        match self.format {
            Format::Jsonl => jsonl::encode_snapshot_row(&mut self.columns, out, row),
            Format::Protobuf => {
                protobuf::encode_snapshot_row(out, row);
                Ok(())
            }
            Format::Parquet => Ok(()),
        }
    }

    /// Appends one diff record.
    pub fn diff_entry(
        &mut self,
        out: &mut Vec<u8>,
        entry: &DiffEntry<'_>,
    ) -> Result<(), WireError> {
        match self.format {
            Format::Jsonl => jsonl::encode_diff_entry(&mut self.columns, out, entry),
            Format::Protobuf => {
                protobuf::encode_diff_entry(out, entry);
                Ok(())
            }
            Format::Parquet => Ok(()),
        }
    }
}

/// A row as stored in an artifact: JSON text or an encoded `Struct`, a slice
/// of the object it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredRow {
    /// One JSON object (a JSONL line without its newline).
    Json(Bytes),
    /// An encoded `google.protobuf.Struct`.
    Struct(Bytes),
}

impl StoredRow {
    /// Appends the row as a JSONL line in our (Go-compatible) encoding;
    /// JSON rows are copied as stored, `Struct` rows encoded (`columns`:
    /// one cache for every row of a table).
    pub fn write_json_line(
        &self,
        columns: &mut jsonl::ColumnCache,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        match self {
            StoredRow::Json(line) => {
                out.extend_from_slice(line);
                out.push(b'\n');
                Ok(())
            }
            StoredRow::Struct(row) => jsonl::encode_snapshot_row(columns, out, row),
        }
    }

    /// The row as encoded `Struct` bytes (JSON rows are converted).
    pub fn to_struct_bytes(&self) -> Result<Bytes, String> {
        match self {
            StoredRow::Struct(row) => Ok(row.clone()),
            StoredRow::Json(line) => json_scan::json_to_struct(line).map(Bytes::from),
        }
    }
}

/// One change read back from a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRecord {
    /// INSERT, UPDATE, DELETE or TRUNCATE.
    pub action: Action,
    /// The stored row key.
    pub key: String,
    /// The new row (INSERT, UPDATE).
    pub new: Option<StoredRow>,
}

/// Calls `row` with the record number (1-based line or message number) and
/// the row (a slice of `object`) of every record of a snapshot object. A
/// Parquet object has no rows as slices of it: decode it with
/// [`parquet::snapshot_rows`] (into the `protobuf` form) first.
pub fn snapshot_rows<'a>(
    format: Format,
    object: &'a [u8],
    row: impl FnMut(usize, &'a [u8]) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    match format {
        Format::Jsonl => jsonl::snapshot_rows(object, row),
        Format::Protobuf => protobuf::snapshot_rows(object, row),
        Format::Parquet => Err(decode_whole()),
    }
}

/// Calls `change` for every record of a diff object, in file order. A
/// Parquet diff is keyed by the key columns: read it with
/// [`parquet::diff_records`].
pub fn decode_diff(
    format: Format,
    object: &Bytes,
    change: impl FnMut(DiffRecord) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    match format {
        Format::Jsonl => jsonl::decode_diff(object, change),
        Format::Protobuf => protobuf::decode_diff(object, change),
        Format::Parquet => Err(decode_whole()),
    }
}

/// The error of reading a Parquet object record by record.
pub(crate) fn decode_whole() -> FormatError {
    FormatError::at(
        0,
        "a parquet object is decoded whole (format::parquet), not record by record",
    )
}
