//! The rows of a rebuilt table. A key's text lives in one shared buffer and a
//! row stays a range of the object it was read from, so holding a million
//! rows costs no allocation and no reference count per row (the atomic
//! count of a `Bytes` per row, bumped by two threads at once, cost more than
//! keying the row). The maps are sharded by hash: a load fills each shard
//! while it fits in a core's cache.

use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::archive::format::{FormatError, StoredRow};
use crate::config::Format;

/// How the rows of a held object are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowKind {
    /// JSON objects (`jsonl`).
    Json,
    /// Encoded `Struct`s (`protobuf`).
    Struct,
}

impl RowKind {
    /// How rows of `format` are encoded.
    pub(super) fn of(format: Format) -> Self {
        match format {
            Format::Jsonl => RowKind::Json,
            // Parquet rows are decoded into `Struct`s.
            Format::Protobuf | Format::Parquet => RowKind::Struct,
        }
    }
}

/// One row: where its key text and its bytes are (32 bytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    key_offset: usize,
    row_offset: usize,
    object: usize,
    key_len: u32,
    row_len: u32,
}

impl Slot {
    /// A row of `object` at `row` (offset, length), keyed by the text at
    /// `key` (offset, length) of the key buffer it will be stored with.
    pub(super) fn new(
        object: usize,
        row: (usize, usize),
        key: (usize, usize),
    ) -> Result<Self, String> {
        let too_large = |what: &str, len: usize| format!("{what} of {len} bytes is too large");
        Ok(Self {
            key_offset: key.0,
            row_offset: row.0,
            object,
            key_len: u32::try_from(key.1).map_err(|_| too_large("a key", key.1))?,
            row_len: u32::try_from(row.1).map_err(|_| too_large("a row", row.1))?,
        })
    }

    /// The same row with its key text `by` bytes further on (a load
    /// appends each worker's key buffer to the shared one).
    pub(super) fn shift_key(mut self, by: usize) -> Self {
        self.key_offset += by;
        self
    }

    fn key_range(&self) -> std::ops::Range<usize> {
        self.key_offset..self.key_offset + self.key_len as usize
    }
}

/// A row keyed during a load, with its key's hash.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keyed {
    pub(super) hash: u64,
    pub(super) slot: Slot,
}

/// A key that two rows of one snapshot have: where the rows are in the
/// object (byte offsets), for the error to name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DuplicateKey {
    pub(super) key: String,
    pub(super) first_row: usize,
    pub(super) second_row: usize,
}

/// The rows of a rebuilt table by key, sharded by key hash.
#[derive(Debug, Clone)]
pub struct RebuiltRows {
    hasher: DefaultHashBuilder,
    shards: Vec<HashTable<Slot>>,
    /// Key text of every row, one after another.
    keys: String,
    /// The objects rows are ranges of.
    objects: Vec<(Bytes, RowKind)>,
}

impl Default for RebuiltRows {
    fn default() -> Self {
        Self::with_shards(1)
    }
}

impl RebuiltRows {
    /// No rows, in `count` shards (a power of two).
    pub(super) fn with_shards(count: usize) -> Self {
        Self {
            hasher: DefaultHashBuilder::default(),
            shards: (0..count.max(1).next_power_of_two())
                .map(|_| HashTable::new())
                .collect(),
            keys: String::new(),
            objects: Vec::new(),
        }
    }

    /// The hash of a key.
    pub(super) fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard a key of this hash is in. It uses bits the maps do not:
    /// the low ones pick buckets and the top seven are their tags.
    pub(super) fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) as usize) & (self.shards.len() - 1)
    }

    /// The number of shards.
    pub(super) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Holds `object`, whose rows are then stored as ranges of it; returns
    /// its index for [`Slot::new`].
    pub(super) fn hold(&mut self, object: Bytes, kind: RowKind) -> usize {
        self.objects.push((object, kind));
        self.objects.len() - 1
    }

    /// Appends key text, returning where it is.
    pub(super) fn push_key_text(&mut self, text: &str) -> (usize, usize) {
        self.keys.push_str(text);
        (self.keys.len() - text.len(), text.len())
    }

    /// Fills the shards with keyed rows whose key text is already in the key
    /// buffer: each part is `(where its key text starts, its rows by shard)`,
    /// parts in object order. A key met twice is an error (the map's own
    /// insert finds it, at no cost per row). Each of `workers` threads fills
    /// its own run of shards.
    pub(super) fn fill(
        &mut self,
        parts: &[(usize, Vec<Vec<Keyed>>)],
        workers: usize,
    ) -> Result<(), DuplicateKey> {
        let Self {
            hasher,
            shards,
            keys,
            ..
        } = self;
        let (hasher, keys) = (&*hasher, keys.as_str());
        let hash_of = |slot: &Slot| hasher.hash_one(&keys[slot.key_range()]);
        let per_worker = shards.len().div_ceil(workers.max(1));
        std::thread::scope(|scope| {
            let mut runs = Vec::new();
            for (run, tables) in shards.chunks_mut(per_worker).enumerate() {
                runs.push(scope.spawn(move || {
                    for (index, table) in tables.iter_mut().enumerate() {
                        let shard = run * per_worker + index;
                        let count = parts.iter().map(|(_, part)| part[shard].len()).sum();
                        table.reserve(count, hash_of);
                        for (key_base, part) in parts {
                            for keyed in &part[shard] {
                                let slot = keyed.slot.shift_key(*key_base);
                                let key = &keys[slot.key_range()];
                                match table.entry(
                                    keyed.hash,
                                    |held| &keys[held.key_range()] == key,
                                    hash_of,
                                ) {
                                    Entry::Occupied(held) => {
                                        return Err(DuplicateKey {
                                            key: key.to_owned(),
                                            first_row: held.get().row_offset,
                                            second_row: slot.row_offset,
                                        });
                                    }
                                    Entry::Vacant(free) => {
                                        free.insert(slot);
                                    }
                                }
                            }
                        }
                    }
                    Ok(())
                }));
            }
            runs.into_iter().try_for_each(|run| {
                run.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        })
    }

    fn row(&self, slot: &Slot) -> StoredRow {
        row_of(&self.objects, slot)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }

    /// The row stored under `key`.
    pub fn get(&self, key: &str) -> Option<StoredRow> {
        let hash = self.hash(key);
        self.shards[self.shard_of(hash)]
            .find(hash, |slot| &self.keys[slot.key_range()] == key)
            .map(|slot| self.row(slot))
    }

    /// Stores `row` under `key`; `true` if it replaced a row (not handed
    /// back: a diff replaces many, and each would cost a reference count).
    pub fn insert(&mut self, key: &str, row: StoredRow) -> Result<bool, FormatError> {
        let (bytes, kind) = match row {
            StoredRow::Json(bytes) => (bytes, RowKind::Json),
            StoredRow::Struct(bytes) => (bytes, RowKind::Struct),
        };
        let (object, offset) = self.locate(&bytes, kind);
        let hash = self.hash(key);
        let shard = self.shard_of(hash);
        let Self {
            hasher,
            shards,
            keys,
            ..
        } = self;
        let entry = shards[shard].entry(
            hash,
            |slot| &keys[slot.key_range()] == key,
            |slot| hasher.hash_one(&keys[slot.key_range()]),
        );
        let too_large = |message: String| FormatError::at(0, message);
        match entry {
            Entry::Occupied(mut held) => {
                let old = *held.get();
                *held.get_mut() = Slot::new(
                    object,
                    (offset, bytes.len()),
                    (old.key_offset, old.key_len as usize),
                )
                .map_err(too_large)?;
                Ok(true)
            }
            Entry::Vacant(free) => {
                let slot = Slot::new(object, (offset, bytes.len()), (keys.len(), key.len()))
                    .map_err(too_large)?;
                keys.push_str(key);
                free.insert(slot);
                Ok(false)
            }
        }
    }

    /// The held object `bytes` are a range of, and where in it; rows of a
    /// diff are ranges of the diff object held last. Other bytes are held
    /// as an object of their own.
    fn locate(&mut self, bytes: &Bytes, kind: RowKind) -> (usize, usize) {
        if let Some((last, last_kind)) = self.objects.last()
            && *last_kind == kind
        {
            let (start, base) = (bytes.as_ptr().addr(), last.as_ptr().addr());
            if start >= base && start + bytes.len() <= base + last.len() {
                return (self.objects.len() - 1, start - base);
            }
        }
        (self.hold(bytes.clone(), kind), 0)
    }

    /// Removes the row under `key`.
    pub fn remove(&mut self, key: &str) -> Option<StoredRow> {
        let hash = self.hash(key);
        let shard = self.shard_of(hash);
        let keys = &self.keys;
        let held = self.shards[shard]
            .find_entry(hash, |slot| &keys[slot.key_range()] == key)
            .ok()?
            .remove()
            .0;
        Some(self.row(&held))
    }

    /// Removes every row (a TRUNCATE). The object held last stays held:
    /// the rest of the diff being applied is a range of it.
    pub fn clear(&mut self) {
        self.shards.iter_mut().for_each(HashTable::clear);
        self.keys = String::new();
        let last = self.objects.pop();
        self.objects = last.into_iter().collect();
    }

    /// Every `(key, row)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, StoredRow)> {
        self.shards
            .iter()
            .flat_map(HashTable::iter)
            .map(|slot| (&self.keys[slot.key_range()], self.row(slot)))
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.shards
            .iter()
            .flat_map(HashTable::iter)
            .map(|slot| &self.keys[slot.key_range()])
    }
}

/// The row `slot` refers to, as a slice of its object.
fn row_of(objects: &[(Bytes, RowKind)], slot: &Slot) -> StoredRow {
    let (object, kind) = &objects[slot.object];
    let bytes = object.slice(slot.row_offset..slot.row_offset + slot.row_len as usize);
    match kind {
        RowKind::Json => StoredRow::Json(bytes),
        RowKind::Struct => StoredRow::Struct(bytes),
    }
}
