//! The ingest hot path: one pass over an encoded row that finds the key
//! columns' normalized values and whether any value needs rewriting,
//! decoding nothing else. Ingest speed (BENCHMARKS.md) rests on reading each
//! row once and skipping what the key and normalization do not need.

use super::RowError;
use super::column_index::ColumnIndex;
use super::key::KeySpec;
use super::normalize::{self, ColumnKind, ColumnTypes};
use laredo_wire::{RawStructEntries, ValueRef, WireError, check_value, is_utf8};

/// Key columns held without allocating; more spill to the heap.
const INLINE_KEY_COLUMNS: usize = 4;

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

    /// Appends the formatted key to `out`.
    pub fn write_key(&self, spec: &KeySpec, out: &mut String) -> Result<(), RowError> {
        Ok(spec.write_values(self.values(), out)?)
    }
}

/// The columns of the rows scanned so far: the names in a
/// [`ColumnIndex`], and what each means to the scan (its key slot and
/// normalized kind) by its number. Rows of one table have the same columns,
/// so one name lookup per column replaces the key-slot and column-type
/// searches and the UTF-8 check of the name. Only valid for the key spec
/// and column types it was filled with: the table clears it when they
/// change.
#[derive(Debug, Clone, Default)]
pub(super) struct Layout {
    names: ColumnIndex,
    /// Key slot and kind of each indexed name, by its number.
    meanings: Vec<(Option<usize>, Option<ColumnKind>)>,
}

impl Layout {
    /// Forgets every column (the column types changed).
    pub fn clear(&mut self) {
        self.names.clear();
        self.meanings.clear();
    }

    /// The key slot and kind of the column named `name` (`window`: the 16
    /// bytes of the row from the name's start, when it has them); `None`
    /// when the name is not UTF-8.
    #[inline]
    fn column(
        &mut self,
        name: &[u8],
        window: Option<u128>,
        spec: &KeySpec,
        types: &ColumnTypes,
    ) -> Option<(Option<usize>, Option<ColumnKind>)> {
        if let Some(number) = self.names.find(name, window) {
            return Some(self.meanings[number]);
        }
        self.learn(name, spec, types)
    }

    /// Looks a new column up and remembers it while the index has room.
    #[cold]
    fn learn(
        &mut self,
        name: &[u8],
        spec: &KeySpec,
        types: &ColumnTypes,
    ) -> Option<(Option<usize>, Option<ColumnKind>)> {
        let found = lookup(name, spec, types)?;
        if self.names.insert(name).is_some() {
            self.meanings.push(found);
        }
        Some(found)
    }
}

/// The key slot and kind of a column; `None` when the name is not UTF-8.
fn lookup(
    name: &[u8],
    spec: &KeySpec,
    types: &ColumnTypes,
) -> Option<(Option<usize>, Option<ColumnKind>)> {
    is_utf8(name).then(|| (spec.slot_of_name(name), types.kind_of_name(name)))
}

/// The 16 bytes of `row` from the start of `name`, a slice of it, when
/// the row has that many. (The entry iterator yields slices; their offset
/// is the distance between the pointers.) [`super::Prefix16::window`] spelled
/// out: calling it here cost the scan ~57 instructions per change
/// (callgrind), a code-generation quirk inside this large loop.
#[inline]
fn window(row: &[u8], name: &[u8]) -> Option<u128> {
    let at = name.as_ptr().addr().wrapping_sub(row.as_ptr().addr());
    row.get(at..)?
        .first_chunk()
        .map(|bytes| u128::from_le_bytes(*bytes))
}

pub(super) fn scan<'a>(
    encoded: &'a [u8],
    spec: &KeySpec,
    types: &ColumnTypes,
    depth: Depth,
    mut layout: Option<&mut Layout>,
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
        // Old rows are read for their key only: any other column is passed
        // over after a length comparison or two, without the layout lookup.
        if depth == Depth::KeyOnly && spec.slot_of_name(name).is_none() {
            continue;
        }
        let column = match layout.as_deref_mut() {
            Some(layout) => layout.column(name, window(encoded, name), spec, types),
            None => lookup(name, spec, types),
        };
        // A name that is not UTF-8 gets here only in a full scan: key
        // columns' names are UTF-8.
        let Some((slot, kind)) = column else {
            return Err(RowError::Malformed(WireError::Utf8));
        };
        if slot.is_none() && kind.is_none() {
            // Neither part of the key nor normalized: only checked.
            check_value(value)?;
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
