//! The in-memory table: rows keyed by the configured key columns, each row
//! held as its encoded `google.protobuf.Struct` bytes (about the row's own
//! size in memory), normalized on the way in.
//!
//! [`Table::apply`] turns one journal entry into the [`Change`]s it made,
//! which the archive buffers into diffs.

pub mod key;
pub mod normalize;
mod scan;
pub mod wire;

use bytes::Bytes;
use hashbrown::HashMap;

pub use key::{KeySpec, RowKey};
pub use normalize::ColumnTypes;
pub use wire::{ValueRef, WireError};

use scan::Depth;

/// A row: the encoded bytes of a `google.protobuf.Struct`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Row(Bytes);

impl Row {
    /// Wraps encoded `Struct` bytes without checking them.
    pub fn from_encoded(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// Encodes a prost `Struct`.
    pub fn from_struct(row: &prost_types::Struct) -> Self {
        Self(Bytes::from(prost::Message::encode_to_vec(row)))
    }

    /// Decodes into a prost `Struct` (slow; for tests and tools).
    pub fn to_struct(&self) -> Result<prost_types::Struct, prost::DecodeError> {
        prost::Message::decode(self.0.clone())
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded bytes, shared.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// `(column, value)` pairs in wire order.
    pub fn entries(&self) -> wire::StructEntries<'_> {
        wire::StructEntries::new(&self.0)
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for entry in self.entries() {
            match entry.and_then(|(k, v)| Ok((k, ValueRef::parse(v)?))) {
                Ok((name, value)) => map.entry(&name, &value),
                Err(e) => map.entry(&"<invalid>", &e),
            };
        }
        map.finish()
    }
}

/// The four journal actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new row.
    Insert,
    /// A changed row; `old` is the full previous row.
    Update,
    /// A removed row; `old` is the full previous row.
    Delete,
    /// Every row removed (also laredo-server's schema-change marker).
    Truncate,
}

impl Action {
    /// Parses laredo's action string.
    pub fn parse(action: &str) -> Option<Self> {
        Some(match action {
            "INSERT" => Action::Insert,
            "UPDATE" => Action::Update,
            "DELETE" => Action::Delete,
            "TRUNCATE" => Action::Truncate,
            _ => return None,
        })
    }

    /// laredo's action string.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Insert => "INSERT",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Truncate => "TRUNCATE",
        }
    }
}

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

/// What applying one entry did to the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A row was inserted (`old` is `None`) or replaced.
    Upsert {
        /// The row's key.
        key: RowKey,
        /// The row the table held before, if any.
        old: Option<Row>,
        /// The row now held.
        new: Row,
    },
    /// A row was removed.
    Delete {
        /// The row's key.
        key: RowKey,
        /// The row the table held.
        old: Row,
    },
    /// Every row was removed.
    Truncate,
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
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: HashMap<RowKey, Row>,
    key: KeySpec,
    types: ColumnTypes,
    stats: ApplyStats,
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
        self.rows.reserve(additional);
    }

    /// The row under `key`.
    pub fn get(&self, key: &str) -> Option<&Row> {
        self.rows.get(key)
    }

    /// Every `(key, row)`, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&RowKey, &Row)> {
        self.rows.iter()
    }

    /// Counters of unusual entries seen so far.
    pub fn stats(&self) -> ApplyStats {
        self.stats
    }

    /// Normalizes an encoded row and computes its key. The row is copied into
    /// its own allocation so it does not pin the network buffer it came in.
    pub fn prepare(&self, encoded: &[u8]) -> Result<(RowKey, Row), RowError> {
        let scanned = self.scan(encoded, Depth::Full)?;
        Ok((
            scanned.key(&self.key)?,
            self.materialize(encoded, scanned.rewrite)?,
        ))
    }

    /// The key of an encoded row, normalized as [`prepare`](Self::prepare)
    /// would, without copying the row or checking its other columns (old
    /// rows of UPDATEs and DELETEs, which are not kept).
    pub fn key_of(&self, encoded: &[u8]) -> Result<RowKey, RowError> {
        self.scan(encoded, Depth::KeyOnly)?.key(&self.key)
    }

    fn scan<'a>(&self, encoded: &'a [u8], depth: Depth) -> Result<scan::Scan<'a>, RowError> {
        scan::scan(encoded, &self.key, &self.types, depth)
    }

    fn materialize(&self, encoded: &[u8], rewrite: bool) -> Result<Row, RowError> {
        let normal = match rewrite {
            true => normalize::normalize_row(encoded, &self.types, &self.key)?,
            false => None,
        };
        Ok(Row(normal.map_or_else(
            || Bytes::copy_from_slice(encoded),
            Bytes::from,
        )))
    }

    /// Inserts or replaces a row given as encoded bytes (snapshot rows).
    pub fn upsert_encoded(&mut self, encoded: &[u8]) -> Result<Change, RowError> {
        let (key, row) = self.prepare(encoded)?;
        Ok(self.upsert(key, row))
    }

    /// Inserts or replaces a prepared row.
    pub fn upsert(&mut self, key: RowKey, row: Row) -> Change {
        // Replacing in place keeps the held key: no second copy of it.
        let old = match self.rows.get_mut(&key) {
            Some(held) => Some(std::mem::replace(held, row.clone())),
            None => self.rows.insert(key.clone(), row.clone()),
        };
        Change::Upsert { key, old, new: row }
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Applies one journal entry, reporting each change it made to `sink`
    /// (none for a DELETE of a missing row, two for a key-changing UPDATE).
    pub fn apply(
        &mut self,
        action: &str,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        sink: &mut impl FnMut(Change),
    ) -> Result<(), RowError> {
        let action =
            Action::parse(action).ok_or_else(|| RowError::UnknownAction(action.to_owned()))?;
        let missing = |missing| RowError::MissingRow {
            action: action.as_str(),
            missing,
        };
        match action {
            Action::Insert => {
                let (key, row) = self.prepare(new.ok_or_else(|| missing("new_values"))?)?;
                sink(self.upsert(key, row));
            }
            Action::Update => {
                let new = new.ok_or_else(|| missing("new_values"))?;
                let scanned = self.scan(new, Depth::Full)?;
                let key = scanned.key(&self.key)?;
                if let Some(old) = old.filter(|o| !o.is_empty()) {
                    let old_scanned = self.scan(old, Depth::KeyOnly)?;
                    // Equal key values make equal keys; only a difference
                    // needs the old key formatted.
                    if old_scanned.values() != scanned.values() {
                        let old_key = old_scanned.key(&self.key)?;
                        if old_key != key {
                            self.stats.key_changes += 1;
                            self.remove(old_key, sink);
                        }
                    }
                }
                let row = self.materialize(new, scanned.rewrite)?;
                sink(self.upsert(key, row));
            }
            Action::Delete => {
                let key = self.key_of(old.ok_or_else(|| missing("old_values"))?)?;
                self.remove(key, sink);
            }
            Action::Truncate => {
                self.rows.clear();
                sink(Change::Truncate);
            }
        }
        Ok(())
    }

    fn remove(&mut self, key: RowKey, sink: &mut impl FnMut(Change)) {
        match self.rows.remove(&key) {
            Some(old) => sink(Change::Delete { key, old }),
            None => self.stats.deletes_of_missing_rows += 1,
        }
    }
}

#[cfg(test)]
mod tests;
