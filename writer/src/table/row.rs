//! [`Row`]: one shared allocation per row, holding the encoded `Struct` and,
//! for rows a [`Table`](super::Table) holds, the row's formatted key.
//!
//! Why the key lives in the row: a map from a `Box<str>` key to a row costs
//! a 48-byte slot (at 1M rows hashbrown has ~2 slots per row), a separate key
//! allocation and a second cache miss per lookup; that was 354 B of heap
//! for a 221-byte row. With the key in front of the row bytes, the table is
//! a set of rows keyed by what they hold (16-byte slots), a lookup's key
//! comparison reads the line a later drop of the row touches anyway, and a
//! held row costs about its own size plus its key (BENCHMARKS.md, "Ingest").
//! `Arc<[u8]>` rather than `Bytes`: cloning a `Bytes` made from a `Vec`
//! allocates its shared header on the first clone, which every upsert does.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use laredo_wire::{DebugStruct, read_varint, varint_len, write_varint};

thread_local! {
    static BUILD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A row: the encoded bytes of a `google.protobuf.Struct`, cheap to clone.
#[derive(Clone)]
pub struct Row(Arc<[u8]>);

/// Bytes of the key-length prefix: a little-endian base-128 varint.
fn prefix_len(key_len: usize) -> usize {
    varint_len(key_len as u64)
}

impl Row {
    /// Wraps encoded `Struct` bytes without checking them.
    pub fn from_encoded(bytes: Bytes) -> Self {
        Self::keyed(b"", &bytes)
    }

    /// A row holding `key` in front of `encoded`, in one allocation.
    pub(super) fn keyed(key: &[u8], encoded: &[u8]) -> Self {
        // Assembled in a reused buffer, then copied into the one exact-size
        // allocation (`Arc::from(Vec)` would allocate twice).
        BUILD.with_borrow_mut(|buf| {
            buf.clear();
            buf.reserve(prefix_len(key.len()) + key.len() + encoded.len());
            write_varint(buf, key.len() as u64);
            buf.extend_from_slice(key);
            buf.extend_from_slice(encoded);
            Self(Arc::from(buf.as_slice()))
        })
    }

    /// The key a table holds this row under (empty for a row outside a
    /// table), as bytes: keys are UTF-8 text ([`key_str`](Self::key_str)).
    #[inline]
    pub fn key(&self) -> &[u8] {
        key_and_row(&self.0).0
    }

    /// [`key`](Self::key) as text (keys are formatted as UTF-8 text).
    pub fn key_str(&self) -> &str {
        std::str::from_utf8(self.key()).unwrap_or_default()
    }

    /// Decodes into a prost `Struct` (slow; for tests and tools).
    pub fn to_struct(&self) -> Result<prost_types::Struct, prost::DecodeError> {
        prost::Message::decode(self.as_bytes())
    }

    /// The encoded bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        Self::encoded_in(&self.0)
    }

    /// The whole allocation (key prefix, key, row). Computing it reads
    /// nothing from the row's memory.
    pub(super) fn raw(&self) -> &[u8] {
        &self.0
    }

    /// The encoded row within [`raw`](Self::raw) bytes.
    pub(super) fn encoded_in(raw: &[u8]) -> &[u8] {
        key_and_row(raw).1
    }
}

/// The key and the encoded row of [`Row::raw`] bytes.
#[inline]
fn key_and_row(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    // The prefix is ours: it always reads; the fallback is never taken.
    let len = read_varint(raw, &mut pos).unwrap_or(0) as usize;
    let start = pos.min(raw.len());
    let end = pos.saturating_add(len).min(raw.len());
    (&raw[start..end], &raw[end..])
}

/// A table's rows, each with the key the table holds it under; the rows
/// are read only when asked for (a snapshot reads them on every core).
#[derive(Debug)]
pub struct KeyedRows<'a> {
    /// Each row's [`Row::raw`] bytes.
    pub(super) raw: Vec<&'a [u8]>,
    /// The columns the keys are made of.
    pub(super) key: &'a super::KeySpec,
}

impl<'a> KeyedRows<'a> {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The bytes the rows take, with their keys (read from the row list,
    /// not from the rows).
    pub fn bytes(&self) -> usize {
        self.raw.iter().map(|raw| raw.len()).sum()
    }

    /// The columns the keys are made of.
    pub fn key_spec(&self) -> &'a super::KeySpec {
        self.key
    }

    /// Row `index`: its formatted key (as [`Row::key`]) and its encoded
    /// `Struct`; `None` past the end.
    pub fn get(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        self.raw.get(index).map(|raw| key_and_row(raw))
    }
}

impl AsRef<[u8]> for Row {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Rows are equal when their encoded bytes are; the key a table stored
/// with a row is not part of its value.
impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Row {}

impl std::hash::Hash for Row {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        DebugStruct(self.as_bytes()).fmt(f)
    }
}
