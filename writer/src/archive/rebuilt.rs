//! A table rebuilt from an archive, and the parallel load of its base
//! snapshot. Rows stay slices of the fetched objects; only key columns are
//! parsed. Loading splits the work over the cores twice: keying rows (and,
//! for JSONL, finding them), then filling one hash map shard per core. One
//! map filled by one thread spent most of a rebuild waiting for memory.

use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashMap};

use super::format::jsonl::ColumnCache;
use super::format::{self, DiffRecord, FormatError, StoredRow, json_scan, jsonl, protobuf};
use crate::config::Format;
use crate::table::{Action, KeySpec, RowKey};

/// A rebuilt table.
#[derive(Debug, Default)]
pub struct RebuiltTable {
    /// Rows by key, as stored in the artifacts.
    pub rows: RebuiltRows,
    /// The position the table is at (last artifact applied).
    pub position: String,
    /// The epoch read.
    pub epoch: u64,
    /// Artifacts read (1 snapshot + diffs).
    pub artifacts_read: usize,
}

impl RebuiltTable {
    /// Writes every row as a JSONL line, sorted by key.
    pub fn write_jsonl(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut rows: Vec<(&RowKey, &StoredRow)> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut buffer = Vec::with_capacity(1 << 20);
        let mut columns = ColumnCache::default();
        for (_, row) in rows {
            row.write_json_line(&mut columns, &mut buffer)
                .map_err(std::io::Error::other)?;
            if buffer.len() >= 1 << 20 {
                out.write_all(&buffer)?;
                buffer.clear();
            }
        }
        out.write_all(&buffer)
    }

    /// Applies one diff record.
    pub(super) fn apply(&mut self, record: DiffRecord) {
        match record.action {
            Action::Truncate => self.rows.clear(),
            Action::Delete => {
                self.rows.remove(&record.key);
            }
            Action::Insert | Action::Update => {
                if let Some(new) = record.new {
                    self.rows.insert(record.key.into_boxed_str(), new);
                }
            }
        }
    }
}

/// The rows of a rebuilt table by key, held in shards (by key hash) so a
/// load can fill them in parallel.
#[derive(Debug, Clone)]
pub struct RebuiltRows {
    hasher: DefaultHashBuilder,
    shards: Vec<HashMap<RowKey, StoredRow>>,
}

impl Default for RebuiltRows {
    fn default() -> Self {
        Self::with_shards(1)
    }
}

impl RebuiltRows {
    fn with_shards(count: usize) -> Self {
        let hasher = DefaultHashBuilder::default();
        let shards = (0..count.max(1))
            .map(|_| HashMap::with_hasher(hasher.clone()))
            .collect();
        Self { hasher, shards }
    }

    fn shard_of(&self, key: &str) -> usize {
        // Bits the maps do not use themselves: the low ones pick buckets and
        // the top seven are their tags.
        let hash = self.hasher.hash_one(key);
        ((hash >> 32) as usize) % self.shards.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    /// The row stored under `key`.
    pub fn get(&self, key: &str) -> Option<&StoredRow> {
        self.shards[self.shard_of(key)].get(key)
    }

    /// Stores `row` under `key`, returning the row it replaces.
    pub fn insert(&mut self, key: RowKey, row: StoredRow) -> Option<StoredRow> {
        let shard = self.shard_of(&key);
        self.shards[shard].insert(key, row)
    }

    /// Removes the row under `key`.
    pub fn remove(&mut self, key: &str) -> Option<StoredRow> {
        let shard = self.shard_of(key);
        self.shards[shard].remove(key)
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.shards.iter_mut().for_each(HashMap::clear);
    }

    /// Every `(key, row)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&RowKey, &StoredRow)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &RowKey> {
        self.shards.iter().flat_map(HashMap::keys)
    }
}

impl IntoIterator for RebuiltRows {
    type Item = (RowKey, StoredRow);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<HashMap<RowKey, StoredRow>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.shards.into_iter().flatten()
    }
}

/// Keyed rows headed for one shard.
type Keyed = Vec<(RowKey, StoredRow)>;

/// Decodes a snapshot object into rows keyed by `key`, using every core.
pub(super) fn load_snapshot(
    format: Format,
    body: &Bytes,
    key: &KeySpec,
) -> Result<RebuiltRows, FormatError> {
    load_in_parts(format, body, key, super::worker_threads())
}

/// [`load_snapshot`] on `workers` threads.
fn load_in_parts(
    format: Format,
    body: &Bytes,
    key: &KeySpec,
    workers: usize,
) -> Result<RebuiltRows, FormatError> {
    let mut rows = RebuiltRows::with_shards(workers);
    let parts = split(format, body, workers)?;
    let rows_ref = &rows;
    // Each worker keys its part and groups the rows by shard; then each
    // shard's rows are inserted by one worker.
    let by_worker: Vec<Result<Vec<Keyed>, FormatError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| scope.spawn(move || key_part(rows_ref, format, body, part, key)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(FormatError::at(0, "key worker panicked")))
            })
            .collect()
    });
    let mut by_shard: Vec<Vec<Keyed>> = (0..workers).map(|_| Vec::new()).collect();
    for keyed in by_worker {
        for (shard, rows) in keyed?.into_iter().enumerate() {
            by_shard[shard].push(rows);
        }
    }
    std::thread::scope(|scope| {
        for (map, parts) in rows.shards.iter_mut().zip(by_shard) {
            scope.spawn(move || {
                map.reserve(parts.iter().map(Vec::len).sum());
                for (key, row) in parts.into_iter().flatten() {
                    map.insert(key, row);
                }
            });
        }
    });
    Ok(rows)
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

/// Splits a snapshot object into about `count` parts of whole records.
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
    })
}

/// Keys the rows of one part, grouped by the shard they belong to.
fn key_part(
    rows: &RebuiltRows,
    format: Format,
    object: &Bytes,
    part: &Part,
    key: &KeySpec,
) -> Result<Vec<Keyed>, FormatError> {
    let mut by_shard: Vec<Keyed> = (0..rows.shards.len()).map(|_| Vec::new()).collect();
    format::decode_snapshot(format, &part.body, |record, row| {
        let keyed = match &row {
            StoredRow::Struct(bytes) => key.key_of(bytes).map_err(|e| e.to_string()),
            StoredRow::Json(line) => json_scan::key_of_json(line, key),
        };
        let keyed = keyed.map_err(|e| FormatError::at(record, e))?;
        by_shard[rows.shard_of(&keyed)].push((keyed, row));
        Ok(())
    })
    .map_err(|error| part.locate(object, error))?;
    Ok(by_shard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::format::RecordEncoder;
    use crate::table::ValueRef;
    use crate::table::wire::{encode_scalar, write_struct_entry};

    fn object(format: Format, rows: u32) -> Vec<u8> {
        let mut encoder = RecordEncoder::new(format);
        let mut out = Vec::new();
        for id in 0..rows {
            let mut row = Vec::new();
            write_struct_entry(&mut row, "id", &encode_scalar(&ValueRef::Number(id.into())));
            write_struct_entry(&mut row, "v", &encode_scalar(&ValueRef::String("x")));
            encoder.snapshot_row(&mut out, &row).unwrap();
        }
        out
    }

    #[test]
    fn every_row_lands_in_its_shard_whatever_the_split() {
        for format in [Format::Jsonl, Format::Protobuf] {
            let body = Bytes::from(object(format, 1000));
            for workers in [1, 2, 3, 7] {
                let mut rows = load_in_parts(format, &body, &KeySpec::default(), workers).unwrap();
                assert_eq!(rows.len(), 1000, "{format:?} on {workers}");
                for id in 0..1000 {
                    assert!(rows.get(&id.to_string()).is_some(), "{id}");
                }
                assert!(rows.remove("7").is_some());
                assert!(rows.get("7").is_none());
                assert!(
                    rows.insert("7".into(), StoredRow::Struct(Bytes::new()))
                        .is_none()
                );
                assert_eq!(rows.keys().count(), 1000);
                rows.clear();
                assert!(rows.is_empty());
            }
        }
    }

    #[test]
    fn a_bad_record_is_named_by_its_number_in_the_whole_object() {
        let mut jsonl = object(Format::Jsonl, 1000);
        // Break line 900 (the last part of any split).
        let start = jsonl
            .split(|b| *b == b'\n')
            .take(899)
            .map(|line| line.len() + 1)
            .sum::<usize>();
        jsonl[start + 1] = b'x';
        let mut protobuf = object(Format::Protobuf, 1000);
        // Cut the last message short.
        protobuf.truncate(protobuf.len() - 3);
        for (format, body, record) in [
            (Format::Jsonl, jsonl, 900),
            (Format::Protobuf, protobuf, 1000),
        ] {
            let body = Bytes::from(body);
            for workers in [1, 2, 3] {
                let error = load_in_parts(format, &body, &KeySpec::default(), workers).unwrap_err();
                assert_eq!(error.record, record, "{format:?} on {workers}: {error}");
            }
        }
    }
}
