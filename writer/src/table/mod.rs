//! The in-memory table: rows keyed by the configured key columns, each row
//! held as its encoded `google.protobuf.Struct` bytes (about the row's own
//! size in memory), normalized on the way in.
//!
//! [`Table::apply`] turns one journal entry into the [`Change`]s it made,
//! which the archive buffers into diffs.

pub(crate) mod column_index;
pub mod key;
mod memory_order;
pub mod normalize;
mod prefix;
mod row;
mod scan;

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

pub use key::{KeySpec, RowKey};
/// The journal's actions, the row values and their errors: laredo-wire's,
/// which the table is written in.
pub use laredo_wire::{Action, ValueRef, WireError};
pub use normalize::ColumnTypes;
pub(crate) use prefix::Prefix16;
pub use row::{KeyedRows, Row};

pub use memory_order::AddressRanges;
use scan::{Depth, Layout};

/// Why a journal entry or snapshot row could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The row bytes are not a valid `Struct`.
    #[error("malformed row: {0}")]
    Malformed(#[from] WireError),
    /// The action string is not one of the four.
    #[error("unknown journal action {0:?}")]
    UnknownAction(String),
    /// INSERT/UPDATE without `new_values`, or DELETE without `old_values`.
    #[error("{action} entry without {missing}")]
    MissingRow {
        /// The entry's action.
        action: &'static str,
        /// `new_values` or `old_values`.
        missing: &'static str,
    },
}

/// What applying one entry did to the table. Each row in it is a row the
/// table holds or held, so it carries its key ([`Row::key_str`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A row was inserted (`old` is `None`) or replaced.
    Upsert {
        /// The row the table held before, if any.
        old: Option<Row>,
        /// The row now held.
        new: Row,
    },
    /// A row was removed.
    Delete {
        /// The row the table held.
        old: Row,
    },
    /// Every row was removed.
    Truncate,
}

impl Change {
    /// The key of the row that changed; `None` for a truncate.
    pub fn key(&self) -> Option<&str> {
        match self {
            Change::Upsert { new: row, .. } | Change::Delete { old: row } => Some(row.key_str()),
            Change::Truncate => None,
        }
    }
}

/// Counters of what [`Table::apply`] saw, beyond the changes it made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// DELETEs of a key the table does not hold (replays, filters, handoff
    /// overlap). They change nothing; laredo's Go writer wrongly recorded them
    /// as TRUNCATE.
    pub deletes_of_missing_rows: u64,
    /// UPDATEs whose key changed: recorded as a delete of the old key plus an
    /// upsert of the new one.
    pub key_changes: u64,
}

/// The in-memory table.
///
/// Rows are held in a hash table of [`Row`]s, each carrying its own key (see
/// `row.rs` for why): no separate key allocation and a 16-byte slot per row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: HashTable<Row>,
    hasher: hashbrown::DefaultHashBuilder,
    key: KeySpec,
    types: ColumnTypes,
    stats: ApplyStats,
    /// Reused state for applying entries: their keys' text and the columns
    /// of the rows scanned (`scan::Layout`). Boxed: it is taken out for
    /// each entry (to borrow it beside the table), which moves a pointer
    /// instead of the whole struct.
    scratch: Option<Box<KeyScratch>>,
}

#[derive(Debug, Clone, Default)]
struct KeyScratch {
    new: String,
    old: String,
    layout: Layout,
}

impl Table {
    /// An empty table keyed by `key`.
    pub fn new(key: KeySpec) -> Self {
        Self {
            key,
            ..Self::default()
        }
    }

    /// An empty table with the same key and column types, e.g. to stage a
    /// snapshot that will replace this one.
    pub fn empty_like(&self) -> Self {
        Self {
            key: self.key.clone(),
            types: self.types.clone(),
            ..Self::default()
        }
    }

    /// Sets the column types used for normalization (from the handshake).
    pub fn set_column_types(&mut self, types: ColumnTypes) {
        self.types = types;
        if let Some(scratch) = &mut self.scratch {
            scratch.layout.clear();
        }
    }

    /// The key columns.
    pub fn key_spec(&self) -> &KeySpec {
        &self.key
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Pre-sizes the map for `additional` more rows (e.g. from `SnapshotBegin`).
    pub fn reserve(&mut self, additional: usize) {
        let hasher = &self.hasher;
        self.rows
            .reserve(additional, |row| hasher.hash_one(row.key()));
    }

    /// The row under `key`.
    pub fn get(&self, key: &str) -> Option<&Row> {
        let key = key.as_bytes();
        self.rows
            .find(self.hasher.hash_one(key), |row| row.key() == key)
    }

    /// Every `(key, row)`, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Row)> {
        self.rows.iter().map(|row| (row.key_str(), row))
    }

    /// Every row split into address ranges of about `rows_per_range` rows,
    /// to read them all in the order they lie in memory (`memory_order.rs`).
    pub fn rows_by_address(&self, rows_per_range: usize) -> AddressRanges<'_> {
        // Taking each allocation's address reads only the table's slots.
        let rows = self.rows.iter().map(Row::raw).collect();
        let ranges = self.rows.len().div_ceil(rows_per_range.max(1));
        AddressRanges::split(rows, ranges, crate::blocking::worker_threads())
    }

    /// Every row with its formatted key, in no particular order, gathered
    /// without reading any row (only the table's slots are read).
    pub fn keyed_rows(&self) -> KeyedRows<'_> {
        KeyedRows {
            raw: self.rows.iter().map(Row::raw).collect(),
            key: &self.key,
        }
    }

    /// Every row's encoded bytes, in the order the rows lie in memory.
    pub fn rows_in_memory_order(&self) -> Vec<&[u8]> {
        let ranges = self.rows_by_address(4096);
        (0..ranges.len()).flat_map(|i| ranges.sorted(i)).collect()
    }

    /// Counters of unusual entries seen so far.
    pub fn stats(&self) -> ApplyStats {
        self.stats
    }

    /// Scans an encoded row with the remembered column layout.
    fn scan_with<'a>(
        &self,
        encoded: &'a [u8],
        depth: Depth,
        layout: &mut Layout,
    ) -> Result<scan::Scan<'a>, RowError> {
        scan::scan(encoded, &self.key, &self.types, depth, Some(layout))
    }

    fn materialize(&self, key: &str, encoded: &[u8], rewrite: bool) -> Result<Row, RowError> {
        let normal = match rewrite {
            true => normalize::normalize_row(encoded, &self.types, &self.key)?,
            false => None,
        };
        Ok(Row::keyed(
            key.as_bytes(),
            normal.as_deref().unwrap_or(encoded),
        ))
    }

    /// Inserts or replaces a row given as encoded bytes (snapshot rows).
    pub fn upsert_encoded(&mut self, encoded: &[u8]) -> Result<Change, RowError> {
        self.with_scratch(|table, scratch| table.upsert_scanned(encoded, scratch))
    }

    /// Runs `work` with the scratch taken out of the table.
    fn with_scratch<T>(&mut self, work: impl FnOnce(&mut Self, &mut KeyScratch) -> T) -> T {
        let mut scratch = self.scratch.take().unwrap_or_default();
        let result = work(self, &mut scratch);
        self.scratch = Some(scratch);
        result
    }

    fn upsert_scanned(
        &mut self,
        encoded: &[u8],
        scratch: &mut KeyScratch,
    ) -> Result<Change, RowError> {
        let scanned = self.scan_with(encoded, Depth::Full, &mut scratch.layout)?;
        scratch.new.clear();
        scanned.write_key(&self.key, &mut scratch.new)?;
        let row = self.materialize(&scratch.new, encoded, scanned.rewrite)?;
        Ok(self.put(row))
    }

    /// Stores `row`, replacing the row under its key.
    fn put(&mut self, row: Row) -> Change {
        let hasher = &self.hasher;
        let key = row.key();
        let hash = hasher.hash_one(key);
        let held = |held: &Row| held.key() == key;
        let old = match self
            .rows
            .entry(hash, held, |row| hasher.hash_one(row.key()))
        {
            Entry::Occupied(mut entry) => Some(std::mem::replace(entry.get_mut(), row.clone())),
            Entry::Vacant(entry) => {
                entry.insert(row.clone());
                None
            }
        };
        Change::Upsert { old, new: row }
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Applies one journal entry, reporting each change it made to `sink`
    /// (none for a DELETE of a missing row, two for a key-changing UPDATE).
    /// `action` is laredo's action string, as text or as received bytes.
    pub fn apply(
        &mut self,
        action: impl AsRef<[u8]>,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        sink: &mut impl FnMut(Change),
    ) -> Result<(), RowError> {
        let action = action.as_ref();
        self.with_scratch(|table, scratch| table.apply_with(action, old, new, sink, scratch))
    }

    fn apply_with(
        &mut self,
        action: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        sink: &mut impl FnMut(Change),
        keys: &mut KeyScratch,
    ) -> Result<(), RowError> {
        let action = Action::parse_bytes(action)
            .ok_or_else(|| RowError::UnknownAction(String::from_utf8_lossy(action).into_owned()))?;
        let missing = |missing| RowError::MissingRow {
            action: action.as_str(),
            missing,
        };
        match action {
            Action::Insert => {
                let new = new.ok_or_else(|| missing("new_values"))?;
                sink(self.upsert_scanned(new, keys)?);
            }
            Action::Update => {
                let new = new.ok_or_else(|| missing("new_values"))?;
                let scanned = self.scan_with(new, Depth::Full, &mut keys.layout)?;
                keys.new.clear();
                scanned.write_key(&self.key, &mut keys.new)?;
                if let Some(old) = old.filter(|o| !o.is_empty()) {
                    let old_scanned = self.scan_with(old, Depth::KeyOnly, &mut keys.layout)?;
                    // Equal key values make equal keys; only a difference
                    // needs the old key formatted.
                    if old_scanned.values() != scanned.values() {
                        keys.old.clear();
                        old_scanned.write_key(&self.key, &mut keys.old)?;
                        if keys.old != keys.new {
                            self.stats.key_changes += 1;
                            self.remove(&keys.old, sink);
                        }
                    }
                }
                let row = self.materialize(&keys.new, new, scanned.rewrite)?;
                sink(self.put(row));
            }
            Action::Delete => {
                let old = old.ok_or_else(|| missing("old_values"))?;
                keys.old.clear();
                self.scan_with(old, Depth::KeyOnly, &mut keys.layout)?
                    .write_key(&self.key, &mut keys.old)?;
                self.remove(&keys.old, sink);
            }
            Action::Truncate => {
                self.rows.clear();
                sink(Change::Truncate);
            }
        }
        Ok(())
    }

    fn remove(&mut self, key: &str, sink: &mut impl FnMut(Change)) {
        let bytes = key.as_bytes();
        let hash = self.hasher.hash_one(bytes);
        match self.rows.find_entry(hash, |row| row.key() == bytes) {
            Ok(entry) => {
                let (old, _) = entry.remove();
                sink(Change::Delete { old });
            }
            Err(_) => self.stats.deletes_of_missing_rows += 1,
        }
    }
}

#[cfg(test)]
mod tests;
