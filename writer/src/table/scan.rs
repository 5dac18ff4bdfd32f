//! The ingest hot path: one pass over an encoded row that finds the key
//! columns' normalized values and whether any value needs rewriting,
//! decoding nothing else. Ingest speed (BENCHMARKS.md) rests on reading each
//! row once and skipping what the key and normalization do not need.

use super::Prefix16;
use super::RowError;
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

/// What a column name means to the scan: its key slot and normalized kind.
#[derive(Debug, Clone)]
struct Column {
    name: Box<[u8]>,
    prefix: Prefix16,
    slot: Option<usize>,
    kind: Option<ColumnKind>,
}

impl Column {
    /// Whether this column is named `name`, whose first 16 bytes (with the
    /// bytes after it) are `window` when the row has them: for a name of
    /// the same length, one masked word comparison.
    #[inline]
    fn is(&self, name: &[u8], window: Option<u128>) -> bool {
        if self.name.len() != name.len() {
            return false;
        }
        match window {
            Some(window) if self.prefix.is_exact() => self.prefix.starts(window),
            _ => *self.name == *name,
        }
    }
}

/// The columns of the rows scanned so far. Rows of one table have the same
/// columns, so one name comparison per column replaces the key-slot and
/// column-type searches and the UTF-8 check of the name. Go's protobuf
/// writes a map's entries in random order, so rows from laredo-server
/// seldom repeat the previous row's order: a column is found by a hash of
/// its name's first bytes in a small table of slots, and only a name that
/// shares its slot with another, or ends a row too short to read 16 bytes
/// at it, is searched (one by one in a narrow table, through a hash map in
/// a wide one). Searching one by one, the loop's unpredictable exit cost
/// more than the comparisons. Only valid for the key spec and column types
/// it was filled with: the table clears it when they change.
#[derive(Debug, Clone, Default)]
pub(super) struct Layout {
    /// Every column seen, in the order first seen.
    columns: Vec<Column>,
    /// Index in `columns` by name.
    by_name: hashbrown::HashMap<Box<[u8]>, u16>,
    /// `1 << SLOT_BITS` slots once a column is known: index in `columns`
    /// plus one of the column whose name hashes there, 0 for none.
    slots: Vec<u16>,
}

/// Columns remembered at most (PostgreSQL allows 1,600 per table), so a
/// hostile row of ever new names cannot grow the layout without bound.
const LAYOUT_COLUMNS: usize = 2048;

/// Up to this many columns, comparing names one by one costs less than
/// hashing the name.
const SEARCHED_COLUMNS: usize = 16;

/// Bits of a slot number: 256 slots (512 bytes), few shared below ~32
/// columns.
const SLOT_BITS: u32 = 8;

/// The slot of a name of `len` bytes whose first bytes are the low bytes
/// of `word` (bytes after the name are ignored).
#[inline]
fn slot_of(word: u128, len: usize) -> usize {
    let low = word as u64;
    let name_bytes = match len {
        0..8 => low & ((1u64 << (8 * len)) - 1),
        _ => low,
    };
    let hash = (name_bytes ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (hash >> (64 - SLOT_BITS)) as usize
}

impl Layout {
    /// Forgets every column (the column types changed).
    pub fn clear(&mut self) {
        self.columns.clear();
        self.by_name.clear();
        self.slots.clear();
    }

    /// The key slot and kind of the column named `name` (`window`: see
    /// [`Column::is`]); `None` when the name is not UTF-8.
    #[inline]
    fn column(
        &mut self,
        name: &[u8],
        window: Option<u128>,
        spec: &KeySpec,
        types: &ColumnTypes,
    ) -> Option<(Option<usize>, Option<ColumnKind>)> {
        if let Some(word) = window
            && let Some(&held) = self.slots.get(slot_of(word, name.len()))
            && let Some(column) = self.columns.get(usize::from(held).wrapping_sub(1))
            && column.is(name, window)
        {
            return Some((column.slot, column.kind));
        }
        let known = match self.columns.len() <= SEARCHED_COLUMNS {
            true => self
                .columns
                .iter()
                .position(|column| column.is(name, window)),
            false => self.by_name.get(name).map(|&index| usize::from(index)),
        };
        let index = match known {
            Some(index) => index,
            None => {
                let found = lookup(name, spec, types)?;
                match self.learn(name, found) {
                    Some(index) => index,
                    None => return Some(found),
                }
            }
        };
        let column = &self.columns[index];
        Some((column.slot, column.kind))
    }

    /// Remembers a new column; `None` once the layout is full.
    #[cold]
    fn learn(&mut self, name: &[u8], found: (Option<usize>, Option<ColumnKind>)) -> Option<usize> {
        if self.columns.len() >= LAYOUT_COLUMNS {
            return None;
        }
        let prefix = Prefix16::new(name);
        let slot = slot_of(prefix.word(), name.len());
        self.columns.push(Column {
            name: name.into(),
            prefix,
            slot: found.0,
            kind: found.1,
        });
        // Fits: at most LAYOUT_COLUMNS columns.
        let index = (self.columns.len() - 1) as u16;
        self.by_name.insert(name.into(), index);
        self.slots.resize(1 << SLOT_BITS, 0);
        if self.slots[slot] == 0 {
            self.slots[slot] = index + 1;
        }
        Some(usize::from(index))
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
/// is the distance between the pointers.) [`Prefix16::window`] spelled
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
