//! The column layout of the previous row. Rows of one table arrive with the
//! same member names in the same wire order, almost always unsorted, while Go's
//! `encoding/json` writes them sorted. Remembering the sorted order and the
//! escaped `"name":` text of the previous row turns the per-row name work
//! (UTF-8 check, sort, escape) into one byte comparison per name.

use super::write_string;
use crate::table::wire::{RawStructEntries, WireError, utf8};

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

/// The layout of the last row written (module docs).
#[derive(Debug, Default, Clone)]
pub struct ColumnCache {
    /// The row's names in wire order, concatenated.
    wire_names: Vec<u8>,
    /// End of each wire name in `wire_names`.
    wire_ends: Vec<usize>,
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
        if members.len() != self.wire_ends.len() {
            return false;
        }
        let mut start = 0;
        for ((name, _), &end) in members.iter().zip(&self.wire_ends) {
            if *name != &self.wire_names[start..end] {
                return false;
            }
            start = end;
        }
        true
    }

    /// Remembers the layout of `members`, checking their names are UTF-8.
    fn learn(&mut self, members: &[Member<'_>]) -> Result<(), WireError> {
        // Names are recorded last: a row whose names fail the check leaves
        // no layout that a later row could match.
        self.wire_names.clear();
        self.wire_ends.clear();
        self.prefixes.clear();
        self.prefix_ends.clear();
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
            self.wire_names.extend_from_slice(name);
            self.wire_ends.push(self.wire_names.len());
        }
        Ok(())
    }

    /// Appends the members of a top-level row as a JSON object with sorted
    /// names, `value` writing each member's encoded value.
    pub(super) fn write_row(
        &mut self,
        out: &mut Vec<u8>,
        row: &[u8],
        mut value: impl FnMut(&mut Vec<u8>, &[u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        with_members(row, |members| {
            if !self.matches(members) {
                self.learn(members)?;
            }
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
                value(out, members[wire].1)?;
            }
            out.push(b'}');
            Ok(())
        })
    }
}
