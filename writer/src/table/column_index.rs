//! The column index: the member names a table's rows have, each numbered
//! in the order first seen, for the two places that look up every member
//! of every row: the ingest scan (`table::scan`: a name's key slot and
//! type) and the JSONL encoder (`archive::format::jsonl`: where a name goes
//! in Go's sorted output).
//!
//! Rows of one table have the same names, but Go's protobuf writes a map's
//! entries in random order, so rows from laredo-server seldom repeat the
//! previous row's order. A name is found by a hash of its first bytes in a
//! small table of slots, with one masked 16-byte comparison; only a name
//! that shares its slot with another, or ends a row too short to read 16
//! bytes at it, is searched: one by one in a narrow index, through a hash
//! map in a wide one. Searching one by one, the loop's unpredictable exit
//! cost more than the comparisons. Any number of names up to
//! [`MAX_COLUMNS`] is indexed; the users take a general path beyond.

use super::Prefix16;

/// Names indexed at most (PostgreSQL allows 1,600 columns per table), so a
/// hostile row of ever new names cannot grow the index without bound.
pub const MAX_COLUMNS: usize = 2048;

/// Up to this many names, comparing them one by one costs less than
/// hashing the name.
const SEARCHED_COLUMNS: usize = 16;

/// Bits of a slot number: 256 slots (512 bytes), few shared below ~32
/// names.
const SLOT_BITS: u32 = 8;

/// One indexed name.
#[derive(Debug, Clone)]
struct Name {
    bytes: Box<[u8]>,
    prefix: Prefix16,
}

impl Name {
    /// Whether this is `name`, whose first 16 bytes (with the bytes after
    /// it) are `window` when the row has them: for a name of the same
    /// length, one masked word comparison.
    #[inline]
    fn is(&self, name: &[u8], window: Option<u128>) -> bool {
        if self.bytes.len() != name.len() {
            return false;
        }
        match window {
            Some(window) if self.prefix.is_exact() => self.prefix.starts(window),
            _ => *self.bytes == *name,
        }
    }
}

/// Member names, numbered `0..len()` in the order they were added (module
/// docs).
#[derive(Debug, Clone, Default)]
pub struct ColumnIndex {
    names: Vec<Name>,
    /// Number of each name, once there are more than [`SEARCHED_COLUMNS`].
    by_name: hashbrown::HashMap<Box<[u8]>, u16>,
    /// `1 << SLOT_BITS` slots once a name is known: the number plus one of
    /// the first name that hashes there, 0 for none.
    slots: Vec<u16>,
}

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

impl ColumnIndex {
    /// Forgets every name.
    pub fn clear(&mut self) {
        self.names.clear();
        self.by_name.clear();
        self.slots.clear();
    }

    /// The number of `name` (`window`: the 16 bytes of the row from the
    /// name's start, when it has them).
    #[inline]
    pub fn find(&self, name: &[u8], window: Option<u128>) -> Option<usize> {
        if let Some(word) = window
            && let Some(&held) = self.slots.get(slot_of(word, name.len()))
            && let Some(known) = self.names.get(usize::from(held).wrapping_sub(1))
            && known.is(name, window)
        {
            return Some(usize::from(held) - 1);
        }
        self.search(name, window)
    }

    /// [`find`](Self::find) past the slots.
    fn search(&self, name: &[u8], window: Option<u128>) -> Option<usize> {
        match self.names.len() <= SEARCHED_COLUMNS {
            true => self.names.iter().position(|known| known.is(name, window)),
            false => self.by_name.get(name).map(|&number| usize::from(number)),
        }
    }

    /// Adds `name`, which must not be indexed yet, and returns its number;
    /// `None` once [`MAX_COLUMNS`] names are.
    #[cold]
    pub fn insert(&mut self, name: &[u8]) -> Option<usize> {
        if self.names.len() >= MAX_COLUMNS {
            return None;
        }
        let prefix = Prefix16::new(name);
        let slot = slot_of(prefix.word(), name.len());
        self.names.push(Name {
            bytes: name.into(),
            prefix,
        });
        // Fits: at most MAX_COLUMNS names.
        let number = (self.names.len() - 1) as u16;
        self.by_name.insert(name.into(), number);
        self.slots.resize(1 << SLOT_BITS, 0);
        if self.slots[slot] == 0 {
            self.slots[slot] = number + 1;
        }
        Some(usize::from(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name is found by its number, from a window or without one, at
    /// every width (slots shared, the one-by-one search and the map), and
    /// a name that is not indexed is not found.
    #[test]
    fn finds_every_name_at_any_width() {
        let names: Vec<Vec<u8>> = (0..300)
            .map(|i| match i % 3 {
                0 => format!("c{i}").into_bytes(),
                1 => format!("a_column_name_longer_than_sixteen_bytes_{i}").into_bytes(),
                _ => format!("col_{i:04}").into_bytes(),
            })
            .collect();
        let mut index = ColumnIndex::default();
        for (number, name) in names.iter().enumerate() {
            assert_eq!(index.insert(name), Some(number));
            for (known, name) in names[..=number].iter().enumerate() {
                let mut row = name.clone();
                row.extend_from_slice(&[0x12; 16]);
                let window = Prefix16::window(&row, 0);
                assert_eq!(index.find(name, window), Some(known), "{number}");
                assert_eq!(index.find(name, None), Some(known));
            }
            assert_eq!(index.find(b"missing", None), None);
            assert_eq!(index.find(&[name.as_slice(), b"!"].concat(), None), None);
        }
        index.clear();
        assert_eq!(index.find(&names[0], None), None);
    }

    #[test]
    fn holds_at_most_max_columns() {
        let mut index = ColumnIndex::default();
        for i in 0..MAX_COLUMNS {
            assert!(index.insert(format!("{i}").as_bytes()).is_some());
        }
        assert_eq!(index.insert(b"one more"), None);
        assert_eq!(index.find(b"one more", None), None);
        assert_eq!(index.find(b"0", None), Some(0));
    }
}
