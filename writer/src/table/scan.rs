//! The ingest hot path: one pass over an encoded row that finds the key
//! columns' normalized values and whether any value needs rewriting,
//! decoding nothing else. Ingest speed (BENCHMARKS.md) rests on reading each
//! row once and skipping what the key and normalization do not need.

use std::cell::RefCell;

use super::RowError;
use super::key::{KeySpec, RowKey};
use super::normalize::{self, ColumnTypes};
use super::wire::{self, RawStructEntries, ValueRef, WireError};

/// Key columns held without allocating; more spill to the heap.
const INLINE_KEY_COLUMNS: usize = 4;

thread_local! {
    /// Where keys are formatted before their one exact-size allocation.
    static KEY_SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(64));
}

/// How much of a row to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    /// Only the key columns (rows that are not kept: old rows of UPDATEs
    /// and DELETEs).
    KeyOnly,
    /// The key columns, normalization, and a check of every other name and
    /// value (rows that are kept).
    Full,
}

/// What a scan found.
pub(super) struct Scan<'a> {
    values: KeyValues<'a>,
    /// Some value must be rewritten to its normal form.
    pub rewrite: bool,
}

enum KeyValues<'a> {
    Inline([ValueRef<'a>; INLINE_KEY_COLUMNS], usize),
    Spilled(Vec<ValueRef<'a>>),
}

impl<'a> Scan<'a> {
    /// The key columns' normalized values, in key order.
    pub fn values(&self) -> &[ValueRef<'a>] {
        match &self.values {
            KeyValues::Inline(values, len) => &values[..*len],
            KeyValues::Spilled(values) => values,
        }
    }

    fn values_mut(&mut self) -> &mut [ValueRef<'a>] {
        match &mut self.values {
            KeyValues::Inline(values, len) => &mut values[..*len],
            KeyValues::Spilled(values) => values,
        }
    }

    /// The formatted key.
    pub fn key(&self, spec: &KeySpec) -> Result<RowKey, RowError> {
        KEY_SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            spec.write_values(self.values(), scratch)?;
            Ok(RowKey::from(scratch.as_str()))
        })
    }
}

/// Reads an encoded row once.
pub(super) fn scan<'a>(
    encoded: &'a [u8],
    spec: &KeySpec,
    types: &ColumnTypes,
    depth: Depth,
) -> Result<Scan<'a>, RowError> {
    let columns = spec.fields().len();
    let values = if columns <= INLINE_KEY_COLUMNS {
        KeyValues::Inline([ValueRef::Null; INLINE_KEY_COLUMNS], columns)
    } else {
        KeyValues::Spilled(vec![ValueRef::Null; columns])
    };
    let mut scan = Scan {
        values,
        rewrite: false,
    };
    for entry in RawStructEntries::new(encoded) {
        let (name, value) = entry?;
        let slot = spec.slot_of_name(name);
        if slot.is_none() && depth == Depth::KeyOnly {
            continue;
        }
        if !wire::is_utf8(name) {
            return Err(RowError::Malformed(WireError::Utf8));
        }
        let kind = types.kind_of_name(name);
        if slot.is_none() && kind.is_none() {
            // Neither part of the key nor normalized: only checked.
            wire::check_value(value)?;
            continue;
        }
        let value = ValueRef::parse(value)?;
        let normal = normalize::normalize_value(&value, kind, slot.is_some());
        scan.rewrite |= normal.is_some();
        if let Some(slot) = slot {
            scan.values_mut()[slot] = normal.unwrap_or(value);
        }
    }
    Ok(scan)
}
