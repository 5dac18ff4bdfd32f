//! The ingest hot path: one pass over an encoded row that finds the key
//! columns' normalized values and whether any value needs rewriting,
//! decoding nothing else. Ingest speed (BENCHMARKS.md) rests on reading each
//! row once and skipping what the key and normalization do not need.

use super::RowError;
use super::key::KeySpec;
use super::normalize::{self, ColumnKind, ColumnTypes};
use super::wire::{self, RawStructEntries, ValueRef, WireError};

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

/// Reads an encoded row once.
/// What a column name means to the scan: its key slot and normalized kind.
#[derive(Debug, Clone)]
struct Column {
    name: Box<[u8]>,
    /// The name as a little-endian word and the mask of its bytes in it;
    /// the mask is 0 for a name longer than 16 bytes (or empty).
    word: u128,
    mask: u128,
    slot: Option<usize>,
    kind: Option<ColumnKind>,
}

impl Column {
    fn new(name: &[u8], (slot, kind): (Option<usize>, Option<ColumnKind>)) -> Self {
        let mut padded = [0u8; 16];
        let (word, mask) = match padded.get_mut(..name.len()) {
            Some(head) if !name.is_empty() => {
                head.copy_from_slice(name);
                (
                    u128::from_le_bytes(padded),
                    u128::MAX >> (8 * (16 - name.len())),
                )
            }
            _ => (0, 0),
        };
        Self {
            name: name.into(),
            word,
            mask,
            slot,
            kind,
        }
    }

    /// Whether this column is named `name`, whose first 16 bytes (with the
    /// bytes after it) are `window` when the row has them: one masked word
    /// comparison instead of a call to `memcmp` per candidate.
    #[inline]
    fn is(&self, name: &[u8], window: Option<&[u8; 16]>) -> bool {
        match window {
            Some(window) if self.mask != 0 => {
                name.len() == self.name.len()
                    && (u128::from_le_bytes(*window) ^ self.word) & self.mask == 0
            }
            _ => *self.name == *name,
        }
    }
}

/// The columns of the rows scanned so far. Rows of one table have the same
/// columns, so one name comparison per column replaces the key-slot and
/// column-type searches and the UTF-8 check of the name: first with the
/// column found at the same position in the previous row (a server that
/// keeps one order), then with the others (Go's protobuf writes a map's
/// entries in random order): one by one in a narrow table, through a hash
/// map in a wide one. Only valid for the key spec and column types it was
/// filled with: the table clears it when they change.
#[derive(Debug, Clone, Default)]
pub(super) struct Layout {
    /// Every column seen, in the order first seen.
    columns: Vec<Column>,
    /// Index in `columns` by name.
    by_name: hashbrown::HashMap<Box<[u8]>, u16>,
    /// Index in `columns` of the column at each position of the last row.
    at_position: Vec<u16>,
}

/// Columns remembered at most (PostgreSQL allows 1,600 per table), so a
/// hostile row of ever new names cannot grow the layout without bound.
const LAYOUT_COLUMNS: usize = 2048;

/// Up to this many columns, comparing names one by one costs less than
/// hashing the name.
const SEARCHED_COLUMNS: usize = 16;

impl Layout {
    /// Forgets every column (the column types changed).
    pub fn clear(&mut self) {
        self.columns.clear();
        self.by_name.clear();
        self.at_position.clear();
    }

    /// The key slot and kind of the column named `name` at `position`
    /// (`window`: see [`Column::is`]); `None` when the name is not UTF-8.
    #[inline]
    fn column(
        &mut self,
        position: usize,
        name: &[u8],
        window: Option<&[u8; 16]>,
        spec: &KeySpec,
        types: &ColumnTypes,
    ) -> Option<(Option<usize>, Option<ColumnKind>)> {
        let previous = self
            .at_position
            .get(position)
            .map(|&index| usize::from(index));
        if let Some(column) = previous.and_then(|index| self.columns.get(index))
            && column.is(name, window)
        {
            return Some((column.slot, column.kind));
        }
        let known = match self.columns.len() <= SEARCHED_COLUMNS {
            true => self.columns.iter().position(|column| column.is(name, window)),
            false => self.by_name.get(name).map(|&index| usize::from(index)),
        };
        let index = match known {
            Some(index) => index,
            None => {
                let found = lookup(name, spec, types)?;
                if self.columns.len() >= LAYOUT_COLUMNS {
                    return Some(found);
                }
                self.columns.push(Column::new(name, found));
                let index = self.columns.len() - 1;
                // Fits: at most LAYOUT_COLUMNS columns.
                self.by_name.insert(name.into(), index as u16);
                index
            }
        };
        let index16 = index as u16;
        if let Some(held) = self.at_position.get_mut(position) {
            *held = index16;
        } else if position == self.at_position.len() {
            // Bounded by the longest row seen.
            self.at_position.push(index16);
        }
        let column = &self.columns[index];
        Some((column.slot, column.kind))
    }
}

/// The key slot and kind of a column; `None` when the name is not UTF-8.
fn lookup(
    name: &[u8],
    spec: &KeySpec,
    types: &ColumnTypes,
) -> Option<(Option<usize>, Option<ColumnKind>)> {
    wire::is_utf8(name).then(|| (spec.slot_of_name(name), types.kind_of_name(name)))
}

/// The 16 bytes of `row` from the start of `name`, a slice of it, when the
/// row has that many. (The entry iterator yields slices; their offset is
/// the distance between the pointers.)
#[inline]
fn window<'a>(row: &'a [u8], name: &[u8]) -> Option<&'a [u8; 16]> {
    let at = name.as_ptr().addr().wrapping_sub(row.as_ptr().addr());
    row.get(at..)?.first_chunk()
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
    for (position, entry) in RawStructEntries::new(encoded).enumerate() {
        let (name, value) = entry?;
        let column = match layout.as_deref_mut() {
            Some(layout) => layout.column(position, name, window(encoded, name), spec, types),
            None => lookup(name, spec, types),
        };
        let (slot, kind) = match (column, depth) {
            (Some(column), _) => column,
            // A key column's name is UTF-8: this one is not part of the key.
            (None, Depth::KeyOnly) => continue,
            (None, Depth::Full) => return Err(RowError::Malformed(WireError::Utf8)),
        };
        if slot.is_none() && depth == Depth::KeyOnly {
            continue;
        }
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
