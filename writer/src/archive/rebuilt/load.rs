//! The parallel load of a base snapshot: the object is split into one part
//! per core (whole records); each part is keyed on its own thread, its rows
//! grouped by shard; then each thread fills its own run of shards. One map
//! filled by one thread spent most of a rebuild waiting for memory; many
//! small shards fit in a core's cache while they are filled.

use bytes::Bytes;

use super::rows::{DuplicateKey, Keyed, RebuiltRows, RowKind, Slot};
use crate::archive::format::{self, FormatError, json_scan, jsonl, parquet, protobuf};
use crate::archive::manifest::check_crc32c;
use crate::config::Format;
use crate::table::KeySpec;
use laredo_wire::{StructEntries, ValueRef, find_field, push_go_value};

/// Object bytes per shard: about 4,000 rows of 250 bytes, whose map slots
/// fit in a core's cache.
const BYTES_PER_SHARD: usize = 1 << 20;

/// Decodes a snapshot object into rows keyed by `key`, using every core.
/// Every row must have every key column, and no key may appear twice: a
/// snapshot is one row per key, and either would make the rebuilt table
/// silently differ from the source's.
///
/// With `expected_crc`, the object must have that CRC-32C (computed while
/// the parts are keyed), and JSON rows are scanned only up to their last key
/// column: the checksum vouches for the rest of the line, as our writer
/// wrote it. Without one (Go writers record none), every line is scanned
/// whole, so a malformed line is still an error.
///
/// A Parquet object is checked against its checksum first, then decoded
/// ([`load_parquet`]).
pub(in crate::archive) fn load_snapshot(
    format: Format,
    body: &Bytes,
    key: &KeySpec,
    expected_crc: Option<u32>,
) -> Result<RebuiltRows, FormatError> {
    let workers = crate::blocking::worker_threads();
    if format == Format::Parquet {
        if let Some(expected) = expected_crc {
            check_crc32c(crc32c::crc32c(body), expected)
                .map_err(|message| FormatError::at(0, message))?;
        }
        return load_parquet(body, key, workers);
    }
    load_in_parts(format, body, key, expected_crc, workers)
}

/// Loads a Parquet snapshot: each of `workers` threads decodes a share of
/// its row groups into encoded `Struct`s and keys each row as it is
/// decoded ([`parquet::snapshot_parts`]), then groups its rows by shard;
/// each part is held as an object of its own.
fn load_parquet(body: &Bytes, key: &KeySpec, workers: usize) -> Result<RebuiltRows, FormatError> {
    let write_key =
        |row: &parquet::DecodedRow<'_>, out: &mut String| write_decoded_key(key, row, out);
    let decoded = parquet::snapshot_parts(body, workers, &write_key)?;
    let size: usize = decoded.iter().map(|part| part.rows.len()).sum();
    let mut rows = RebuiltRows::with_shards((size / BYTES_PER_SHARD).clamp(workers, 4096));
    let held: Vec<usize> = decoded
        .iter()
        .map(|part| rows.hold(part.rows.clone(), RowKind::Struct))
        .collect();
    let shared = &rows;
    let grouped = on_threads(decoded.iter().zip(&held), |(part, &object)| {
        group_by_shard(shared, part, object)
    })?;
    let by_part: Vec<(usize, Vec<Vec<Keyed>>)> = decoded
        .iter()
        .zip(grouped)
        .map(|(part, by_shard)| (rows.push_key_text(&part.keys).0, by_shard))
        .collect();
    rows.fill(&by_part, workers).map_err(|duplicate| {
        FormatError::at(
            0,
            format!("key {:?} appears twice in the snapshot", duplicate.key),
        )
    })?;
    Ok(rows)
}

/// `work` of each item, each on a thread of its own
/// ([`blocking::on_threads`](crate::blocking::on_threads)); the results in
/// order, or the first error.
fn on_threads<I: Send, T: Send>(
    items: impl Iterator<Item = I>,
    work: impl Fn(I) -> Result<T, FormatError> + Sync,
) -> Result<Vec<T>, FormatError> {
    crate::blocking::on_threads(items, work)
        .map_err(|_| FormatError::at(0, "key worker panicked"))?
        .into_iter()
        .collect()
}

/// The rows of a decoded Parquet part (held as `object`), by shard.
fn group_by_shard(
    rows: &RebuiltRows,
    part: &parquet::SnapshotPart,
    object: usize,
) -> Result<Vec<Vec<Keyed>>, FormatError> {
    let mut by_shard: Vec<Vec<Keyed>> = (0..rows.shard_count()).map(|_| Vec::new()).collect();
    let (mut row_start, mut key_start) = (0, 0);
    for (index, (&row_end, &key_end)) in part.row_ends.iter().zip(&part.key_ends).enumerate() {
        let hash = rows.hash(&part.keys[key_start..key_end]);
        let slot = Slot::new(
            object,
            (row_start, row_end - row_start),
            (key_start, key_end - key_start),
        )
        .map_err(|message| FormatError::at(part.rows_before + index + 1, message))?;
        by_shard[rows.shard_of(hash)].push(Keyed { hash, slot });
        (row_start, key_start) = (row_end, key_end);
    }
    Ok(by_shard)
}

/// [`load_snapshot`] on `workers` threads.
pub(super) fn load_in_parts(
    format: Format,
    body: &Bytes,
    key: &KeySpec,
    expected_crc: Option<u32>,
    workers: usize,
) -> Result<RebuiltRows, FormatError> {
    // Damage shows first as a record that does not decode; the checksum
    // says which it is.
    let damage = |error: FormatError| match expected_crc {
        Some(expected) if error.record != 0 => check_crc32c(crc32c::crc32c(body), expected)
            .map_or_else(|message| FormatError::at(0, message), |()| error),
        _ => error,
    };
    let shards = (body.len() / BYTES_PER_SHARD).clamp(workers, 4096);
    let mut rows = RebuiltRows::with_shards(shards);
    let object = rows.hold(body.clone(), RowKind::of(format));
    let parts = split(format, body, workers).map_err(damage)?;
    let job = Job {
        rows: &rows,
        format,
        object: body,
        held: object,
        key,
        checked: expected_crc.is_some(),
    };
    let keyed = on_threads(parts.iter(), |part| job.key_part(part)).map_err(damage)?;
    if let Some(expected) = expected_crc {
        let actual = keyed.iter().fold(0, |crc, part| {
            crc32c::crc32c_combine(crc, part.crc, part.len)
        });
        check_crc32c(actual, expected).map_err(|message| FormatError::at(0, message))?;
    }
    let by_part: Vec<(usize, Vec<Vec<Keyed>>)> = keyed
        .into_iter()
        .map(|part| (rows.push_key_text(&part.keys).0, part.by_shard))
        .collect();
    rows.fill(&by_part, workers)
        .map_err(|duplicate| duplicate_error(format, body, &duplicate))?;
    Ok(rows)
}

/// Names a key found twice by its two records (counted only now: this is
/// the error path).
fn duplicate_error(format: Format, object: &Bytes, duplicate: &DuplicateKey) -> FormatError {
    let base = object.as_ptr().addr();
    let (mut first, mut second) = (0, 0);
    let _ = format::snapshot_rows(format, object, |number, row| {
        let offset = row.as_ptr().addr().wrapping_sub(base);
        if !row.is_empty() && offset == duplicate.first_row {
            first = number;
        } else if !row.is_empty() && offset == duplicate.second_row {
            second = number;
        }
        Ok(())
    });
    FormatError::at(
        second,
        format!(
            "key {:?} appears twice in the snapshot (also record {first})",
            duplicate.key
        ),
    )
}

/// Appends the key of an encoded `Struct` row; a row without one of the key
/// columns is an error (Go would key it `<nil>`, so two such rows would
/// silently become one).
fn write_struct_key(spec: &KeySpec, row: &[u8], out: &mut String) -> Result<(), String> {
    let fields = spec.fields();
    if let [field] = fields {
        let value = find_field(row, field)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| json_scan::missing_key_column(field))?;
        return push_go_value(out, &value).map_err(|e| e.to_string());
    }
    let mut values: Vec<Option<ValueRef<'_>>> = vec![None; fields.len()];
    for entry in StructEntries::new(row) {
        let (name, encoded) = entry.map_err(|e| e.to_string())?;
        if let Some(slot) = spec.slot(name) {
            values[slot] = Some(ValueRef::parse(encoded).map_err(|e| e.to_string())?);
        }
    }
    let values = values
        .into_iter()
        .zip(fields)
        .map(|(value, field)| value.ok_or_else(|| json_scan::missing_key_column(field)))
        .collect::<Result<Vec<_>, _>>()?;
    spec.write_values(&values, out).map_err(|e| e.to_string())
}

/// Appends the key of a row decoded from Parquet, from its key columns'
/// values as decoded; a row without one of them is an error, as in
/// [`write_struct_key`].
fn write_decoded_key(
    spec: &KeySpec,
    row: &parquet::DecodedRow<'_>,
    out: &mut String,
) -> Result<(), String> {
    let value = |field: &String| {
        let encoded = row
            .value(field)
            .ok_or_else(|| json_scan::missing_key_column(field))?;
        ValueRef::parse(encoded).map_err(|e| e.to_string())
    };
    // One key column, the usual case: no vector per row.
    if let [field] = spec.fields() {
        return spec
            .write_values(&[value(field)?], out)
            .map_err(|e| e.to_string());
    }
    let values = spec
        .fields()
        .iter()
        .map(value)
        .collect::<Result<Vec<_>, _>>()?;
    spec.write_values(&values, out).map_err(|e| e.to_string())
}

/// A slice of a snapshot object holding whole records.
struct Part {
    body: Bytes,
    start: PartStart,
}

/// Where a part starts, as needed to number its records in the object.
enum PartStart {
    /// After this many messages (protobuf: counted while splitting).
    Records(usize),
    /// At this byte (JSONL: lines are counted only for an error).
    Byte(usize),
}

impl Part {
    /// Makes a record number within the part one within the object.
    fn locate(&self, object: &[u8], mut error: FormatError) -> FormatError {
        error.record += match self.start {
            PartStart::Records(before) => before,
            PartStart::Byte(offset) => memchr::memchr_iter(b'\n', &object[..offset]).count(),
        };
        error
    }
}

/// Splits a snapshot object into about `count` parts of whole records, one
/// after another from its first byte to its last.
fn split(format: Format, object: &Bytes, count: usize) -> Result<Vec<Part>, FormatError> {
    Ok(match format {
        Format::Jsonl => jsonl::split_lines(object, count)
            .into_iter()
            .map(|(offset, body)| Part {
                body,
                start: PartStart::Byte(offset),
            })
            .collect(),
        Format::Protobuf => protobuf::split_messages(object, count)?
            .into_iter()
            .map(|(before, body)| Part {
                body,
                start: PartStart::Records(before),
            })
            .collect(),
        // `load_snapshot` decodes a Parquet object into protobuf first.
        Format::Parquet => return Err(format::decode_whole()),
    })
}

/// The rows of one part, keyed.
struct KeyedPart {
    /// `by_shard[s]`: the part's rows in shard `s`, key offsets into `keys`.
    by_shard: Vec<Vec<Keyed>>,
    /// The key text of the part's rows, one after another.
    keys: String,
    /// The part's CRC-32C (0 when no checksum is checked).
    crc: u32,
    /// The part's length in bytes.
    len: usize,
}

/// What every part's worker shares.
struct Job<'a> {
    rows: &'a RebuiltRows,
    format: Format,
    object: &'a Bytes,
    /// The object's index in `rows`.
    held: usize,
    key: &'a KeySpec,
    /// Whether the object's checksum is checked.
    checked: bool,
}

impl Job<'_> {
    fn key_part(&self, part: &Part) -> Result<KeyedPart, FormatError> {
        let crc = if self.checked {
            crc32c::crc32c(&part.body)
        } else {
            0
        };
        let mut by_shard: Vec<Vec<Keyed>> =
            (0..self.rows.shard_count()).map(|_| Vec::new()).collect();
        let mut keys = String::with_capacity(part.body.len() / 16);
        let base = self.object.as_ptr().addr();
        format::snapshot_rows(self.format, &part.body, |record, row| {
            let start = keys.len();
            let written = match self.format {
                Format::Protobuf | Format::Parquet => write_struct_key(self.key, row, &mut keys),
                Format::Jsonl => json_scan::write_json_key(row, self.key, self.checked, &mut keys),
            };
            let bad = |message| FormatError::at(record, message);
            written.map_err(bad)?;
            let hash = self.rows.hash(&keys[start..]);
            let offset = if row.is_empty() {
                0
            } else {
                row.as_ptr().addr() - base
            };
            let slot = Slot::new(self.held, (offset, row.len()), (start, keys.len() - start))
                .map_err(bad)?;
            by_shard[self.rows.shard_of(hash)].push(Keyed { hash, slot });
            Ok(())
        })
        .map_err(|error| part.locate(self.object, error))?;
        Ok(KeyedPart {
            by_shard,
            keys,
            crc,
            len: part.body.len(),
        })
    }
}
