//! The column layout of a table's rows. Rows of one table have the same
//! member names, while Go's `encoding/json` writes them sorted. Remembering
//! the sorted order and the escaped `"name":` text of a row turns the
//! per-row name work (UTF-8 check, sort, escape) into one comparison per
//! name.
//!
//! A row of the remembered names in the framing every encoder writes (what
//! almost every row is) is read by [`ColumnCache::locate_values`], which
//! checks each entry's name against the remembered entry bytes with one
//! 16-byte comparison, in any member order and at any width (Go writes map
//! entries in random order; a member out of place is found through the
//! [`ColumnIndex`], the ingest scan's index of names); any other row takes
//! the general path, which collects the members and relearns the layout
//! when it changed.

use super::write_string;
use crate::table::Prefix16;
use crate::table::column_index::ColumnIndex;
use laredo_wire::{RawStructEntries, WireError, read_varint, utf8, write_varint};

/// Bytes copied at once for a member's `,"name":` prefix.
const PREFIX_COPY: usize = 16;

/// Members of one object kept on the stack; wider objects spill to the heap.
const STACK_ENTRIES: usize = 32;

/// `(name, encoded Value)` members of one object, in wire order.
pub(super) type Member<'a> = (&'a [u8], &'a [u8]);

/// Collects the members of an encoded `Struct` and hands them to `f`,
/// without allocating for an object of usual width.
pub(super) fn with_members<R>(
    row: &[u8],
    f: impl FnOnce(&mut [Member<'_>]) -> Result<R, WireError>,
) -> Result<R, WireError> {
    let mut stack: [Member<'_>; STACK_ENTRIES] = [(&[], &[]); STACK_ENTRIES];
    let mut len = 0;
    let mut spilled: Vec<Member<'_>> = Vec::new();
    for member in RawStructEntries::new(row) {
        let member = member?;
        match stack.get_mut(len) {
            Some(slot) if spilled.is_empty() => {
                *slot = member;
                len += 1;
            }
            _ => {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&stack[..len]);
                }
                spilled.push(member);
            }
        }
    }
    match spilled.is_empty() {
        true => f(&mut stack[..len]),
        false => f(&mut spilled),
    }
}

/// Output order of members: wire indices sorted by name (bytewise, as Go
/// sorts map keys), keeping only the last of equal names (protobuf map
/// semantics: the last duplicate wins).
pub(super) fn sorted_order(members: &[Member<'_>], order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..members.len());
    if members.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    order.sort_unstable_by(|&a, &b| members[a].0.cmp(members[b].0).then(b.cmp(&a)));
    order.dedup_by(|later, earlier| members[*later].0 == members[*earlier].0);
}

/// A remembered member's entry bytes from the name's tag to the value's tag
/// (`0a <name length> name 12`).
#[derive(Debug, Default, Clone)]
struct EntryHeader {
    /// The bytes, compared as one word when there are at most 16.
    prefix: Prefix16,
    /// Where the bytes are in `ColumnCache::header_bytes`, and where the
    /// name starts among them (it ends one byte before `end`).
    start: usize,
    name_start: usize,
    end: usize,
}

impl EntryHeader {
    /// The member's name, from `header_bytes`.
    fn name<'a>(&self, header_bytes: &'a [u8]) -> &'a [u8] {
        &header_bytes[self.name_start..self.end - 1]
    }
}

/// The layout of the rows written (module docs).
#[derive(Debug, Default, Clone)]
pub struct ColumnCache {
    /// The entry headers of the row's members in wire order.
    headers: Vec<EntryHeader>,
    /// The headers' bytes, concatenated.
    header_bytes: Vec<u8>,
    /// Where each member's value is in the row being written, by the wire
    /// position of the remembered row (filled by `locate_values`).
    values: Vec<(usize, usize)>,
    /// The remembered names, numbered by wire position; empty when the
    /// remembered row has a name twice.
    names: ColumnIndex,
    /// Bit `c % 64` of word `c / 64`: column `c` was found in the row being
    /// located.
    found: Vec<u64>,
    /// Output position → wire index.
    order: Vec<usize>,
    /// `{"name":` for the first output position and `,"name":` for the
    /// others, concatenated in output order, then 16 bytes of padding.
    prefixes: Vec<u8>,
    /// End of each prefix in `prefixes`.
    prefix_ends: Vec<usize>,
}

impl ColumnCache {
    /// Whether `members` have exactly the remembered names in wire order.
    fn matches(&self, members: &[Member<'_>]) -> bool {
        members.len() == self.headers.len()
            && members
                .iter()
                .zip(&self.headers)
                .all(|((name, _), header)| *name == header.name(&self.header_bytes))
    }

    /// Whether the remembered row has a name twice (then only rows in its
    /// exact order are located: which duplicate wins depends on order).
    fn repeated_names(&self) -> bool {
        self.order.len() != self.headers.len()
    }

    /// Remembers the layout of `members`, checking their names are UTF-8.
    fn learn(&mut self, members: &[Member<'_>]) -> Result<(), WireError> {
        // Names are recorded last: a row whose names fail the check leaves
        // no layout that a later row could match.
        self.prefixes.clear();
        self.prefix_ends.clear();
        self.headers.clear();
        self.header_bytes.clear();
        self.order.clear();
        self.values.clear();
        self.names.clear();
        self.found.clear();
        for (name, _) in members {
            utf8(name)?;
        }
        sorted_order(members, &mut self.order);
        for (position, &wire) in self.order.iter().enumerate() {
            self.prefixes.push(if position == 0 { b'{' } else { b',' });
            write_string(&mut self.prefixes, utf8(members[wire].0)?);
            self.prefixes.push(b':');
            self.prefix_ends.push(self.prefixes.len());
        }
        self.prefixes.extend_from_slice(&[0; PREFIX_COPY]);
        for (name, _) in members {
            self.learn_header(name);
        }
        self.values.resize(members.len(), (0, 0));
        if !self.repeated_names() {
            // Numbered in wire order, as the headers are. Names past the
            // index's bound stay unindexed: rows that move them take the
            // general path.
            for (name, _) in members {
                self.names.insert(name);
            }
            self.found.resize(members.len().div_ceil(64), 0);
        }
        Ok(())
    }

    fn learn_header(&mut self, name: &[u8]) {
        let start = self.header_bytes.len();
        self.header_bytes.push(0x0a);
        write_varint(&mut self.header_bytes, name.len() as u64);
        let name_start = self.header_bytes.len();
        self.header_bytes.extend_from_slice(name);
        self.header_bytes.push(0x12);
        self.headers.push(EntryHeader {
            prefix: Prefix16::new(&self.header_bytes[start..]),
            start,
            name_start,
            end: self.header_bytes.len(),
        });
    }

    /// Finds the values of a row that has exactly the remembered members in
    /// the usual framing (entries of `0a <len> 0a <len> name 12 <len> value`
    /// filling the row), recording where each is in `values`; `false` for
    /// any other row. Each member is first compared with the remembered one
    /// at its own position, then looked up by name: Go's protobuf writes a
    /// map's entries in random order, so rows from laredo-server seldom
    /// repeat the previous order.
    #[inline]
    pub(super) fn locate_values(&mut self, row: &[u8]) -> bool {
        let columns = self.headers.len();
        // A remembered row with a name twice is matched in its exact order
        // only (which duplicate wins depends on order).
        let may_search = !self.repeated_names();
        self.found.fill(0);
        let mut pos = 0;
        let mut wire = 0;
        while pos < row.len() {
            if row[pos] != 0x0a {
                return false;
            }
            pos += 1;
            let Ok(entry_len) = read_varint(row, &mut pos) else {
                return false;
            };
            let entry_end = pos.saturating_add(entry_len as usize);
            let column = match self.header_at(row, pos, wire) {
                true => wire,
                false if may_search => match self.find_header(row, pos) {
                    Some(column) => column,
                    None => return false,
                },
                false => return false,
            };
            if may_search {
                let (word, bit) = (column / 64, 1u64 << (column % 64));
                if self.found[word] & bit != 0 {
                    return false;
                }
                self.found[word] |= bit;
            }
            pos += self.headers[column].end - self.headers[column].start;
            let Ok(value_len) = read_varint(row, &mut pos) else {
                return false;
            };
            if pos.checked_add(value_len as usize) != Some(entry_end) || entry_end > row.len() {
                return false;
            }
            self.values[column] = (pos, entry_end);
            pos = entry_end;
            wire += 1;
        }
        // Each entry went to its own column, so all were found.
        wire == columns
    }

    /// The remembered column whose header is the entry bytes at `pos`,
    /// looked up by the entry's name.
    fn find_header(&self, row: &[u8], pos: usize) -> Option<usize> {
        let mut name_start = pos + 1;
        if row.get(pos) != Some(&0x0a) {
            return None;
        }
        let len = usize::try_from(read_varint(row, &mut name_start).ok()?).ok()?;
        let name = row.get(name_start..name_start.checked_add(len)?)?;
        let column = self.names.find(name, Prefix16::window(row, name_start))?;
        // The name matched; the rest of the header (the length's encoding,
        // the value's tag) must too.
        self.header_at(row, pos, column).then_some(column)
    }

    /// Whether the entry bytes at `pos` are remembered column `column`'s
    /// header.
    #[inline]
    fn header_at(&self, row: &[u8], pos: usize, column: usize) -> bool {
        let Some(header) = self.headers.get(column) else {
            return false;
        };
        match Prefix16::window(row, pos) {
            Some(window) if header.prefix.is_exact() => header.prefix.starts(window),
            _ => {
                let len = header.end - header.start;
                row.get(pos..pos + len) == Some(&self.header_bytes[header.start..header.end])
            }
        }
    }

    /// Finds where each member's value is in `row` (a range of it), by the
    /// remembered column ([`located`](Self::located)), learning the row's
    /// layout when it is not the remembered one; `true` when the layout
    /// changed. The Parquet encoder reads rows through this too.
    pub fn locate(&mut self, row: &[u8]) -> Result<bool, WireError> {
        if self.locate_values(row) {
            return Ok(false);
        }
        let base = row.as_ptr().addr();
        with_members(row, |members| {
            let changed = !self.matches(members);
            if changed {
                self.learn(members)?;
            }
            for (slot, (_, value)) in self.values.iter_mut().zip(members.iter()) {
                let start = value.as_ptr().addr() - base;
                *slot = (start, start + value.len());
            }
            Ok(changed)
        })
    }

    /// The remembered columns' names and where [`locate`](Self::locate)
    /// found their values, in the remembered row's order (a name given
    /// twice appears twice, the later one last).
    pub fn located(&self) -> impl Iterator<Item = (&[u8], (usize, usize))> {
        self.headers
            .iter()
            .map(|header| header.name(&self.header_bytes))
            .zip(self.values.iter().copied())
    }

    /// Appends the members of a top-level row as a JSON object with sorted
    /// names, `value` writing each member's encoded value.
    pub(super) fn write_row(
        &mut self,
        out: &mut Vec<u8>,
        row: &[u8],
        value: impl FnMut(&mut Vec<u8>, &[u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        if self.locate_values(row) {
            let values = &self.values;
            return self.write_members(out, |wire| &row[values[wire].0..values[wire].1], value);
        }
        with_members(row, |members| {
            if !self.matches(members) {
                self.learn(members)?;
            }
            self.write_members(out, |wire| members[wire].1, value)
        })
    }

    /// Writes the remembered layout's members, `member` giving the encoded
    /// value at a wire position.
    #[inline]
    fn write_members<'a>(
        &self,
        out: &mut Vec<u8>,
        member: impl Fn(usize) -> &'a [u8],
        mut value: impl FnMut(&mut Vec<u8>, &[u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        if self.order.is_empty() {
            out.extend_from_slice(b"{}");
            return Ok(());
        }
        let mut start = 0;
        for (&wire, &end) in self.order.iter().zip(&self.prefix_ends) {
            // A copy of a fixed 16 bytes, then cut back, is a few moves
            // where a copy of a variable length is a call to `memmove`
            // (8 per row); `learn` pads `prefixes` so 16 bytes are there.
            let chunk = self.prefixes[start..].first_chunk::<PREFIX_COPY>();
            match chunk {
                Some(chunk) if end - start <= PREFIX_COPY => {
                    let len = out.len();
                    out.extend_from_slice(chunk);
                    out.truncate(len + end - start);
                }
                _ => out.extend_from_slice(&self.prefixes[start..end]),
            }
            start = end;
            value(out, member(wire))?;
        }
        out.push(b'}');
        Ok(())
    }
}
