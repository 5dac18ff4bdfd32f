//! The change buffer: the net change per key since the previous artifact.
//!
//! Every [`Change`] from [`Table::apply`](crate::table::Table::apply) is
//! recorded against the state at the start of the window (the previous
//! artifact): a key keeps the row it had then (`before`) and the row it has
//! now (`after`). The diff is the difference, in an order a consumer applying
//! the file top to bottom gets right:
//!
//! 1. `TRUNCATE` first if the window contained one (every earlier change of
//!    the window is then irrelevant: the table was emptied);
//! 2. one entry per key, sorted by key: `INSERT` (absent → present), `UPDATE`
//!    (changed), `DELETE` (present → absent). A key whose row ends as it
//!    started disappears. A primary-key change arrives as a delete of the old
//!    key and an upsert of the new one, so both keys get their entry.
//!
//! laredo's Go writer kept the last action per key in random map order
//! instead, so a TRUNCATE could land after the window's inserts and delete
//! them, and a PK change never deleted the old key (reference/laredo.md §3.2).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::format::DiffEntry;
use crate::table::{Action, Change, Row};

/// Net changes since the previous artifact, plus the churn counter.
#[derive(Debug, Default)]
pub struct ChangeBuffer {
    truncated: bool,
    /// One entry per key, found by the key its rows hold.
    entries: HashTable<NetChange>,
    hasher: hashbrown::DefaultHashBuilder,
    window_changes: u64,
    churn: u64,
}

#[derive(Debug)]
struct NetChange {
    /// A row recorded under the key, to read the key from (every table row
    /// holds its key): the latest `after`, or the `before` of a delete,
    /// so it keeps no row alive that `before` and `after` do not, except
    /// the last one of a key inserted and deleted within the window.
    keyed: Row,
    before: Option<Row>,
    after: Option<Row>,
}

impl ChangeBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one change made to the table.
    pub fn record(&mut self, change: Change) {
        self.window_changes += 1;
        self.churn += 1;
        match change {
            Change::Upsert { old, new } => {
                let net = self.net_change(&new, || old);
                net.keyed = new.clone();
                net.after = Some(new);
            }
            Change::Delete { old } => {
                self.net_change(&old, || Some(old.clone())).after = None;
            }
            Change::Truncate => {
                self.entries.clear();
                self.truncated = true;
            }
        }
    }

    /// The entry of the key `keyed` holds, made with `before` as the row at
    /// the start of the window if the key is new to it.
    fn net_change(&mut self, keyed: &Row, before: impl FnOnce() -> Option<Row>) -> &mut NetChange {
        let hasher = &self.hasher;
        let key = keyed.key();
        let same_key = |held: &NetChange| held.keyed.key() == key;
        self.entries
            .entry(hasher.hash_one(key), same_key, |held| {
                hasher.hash_one(held.keyed.key())
            })
            .or_insert_with(|| NetChange {
                keyed: keyed.clone(),
                before: before(),
                after: None,
            })
            .into_mut()
    }

    /// Changes recorded since the previous artifact (`buffer_depth`).
    pub fn depth(&self) -> u64 {
        self.window_changes
    }

    /// Changes recorded since the last snapshot (`churn_records`).
    pub fn churn(&self) -> u64 {
        self.churn
    }

    /// Whether the window changed nothing (a diff would be empty).
    pub fn is_net_empty(&self) -> bool {
        !self.truncated && self.entries.iter().all(|c| c.before == c.after)
    }

    /// The diff's entries in file order (module docs).
    pub fn net_changes(&self) -> Vec<DiffEntry<'_>> {
        let mut out = Vec::with_capacity(self.entries.len() + 1);
        if self.truncated {
            out.push(DiffEntry::TRUNCATE);
        }
        let mut keys: Vec<(&str, &NetChange)> = self
            .entries
            .iter()
            .map(|change| (change.keyed.key_str(), change))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, change) in keys {
            let (action, old, new) = match (&change.before, &change.after) {
                (None, Some(new)) => (Action::Insert, None, Some(new)),
                (Some(old), Some(new)) if old != new => (Action::Update, Some(old), Some(new)),
                (Some(old), None) => (Action::Delete, Some(old), None),
                _ => continue,
            };
            out.push(DiffEntry {
                action,
                key,
                old: old.map(Row::as_bytes),
                new: new.map(Row::as_bytes),
            });
        }
        out
    }

    /// Forgets the window after its diff was committed (or netted to
    /// nothing); churn keeps counting until the next snapshot.
    pub fn clear_window(&mut self) {
        self.truncated = false;
        self.entries.clear();
        self.window_changes = 0;
    }

    /// Forgets everything after a snapshot was committed: it covers every
    /// change recorded so far.
    pub fn clear_all(&mut self) {
        self.clear_window();
        self.churn = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{KeySpec, Table, ValueRef};
    use laredo_wire::{encode_scalar, write_struct_entry};

    fn row(id: f64, name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_struct_entry(&mut out, "id", &encode_scalar(&ValueRef::Number(id)));
        write_struct_entry(&mut out, "name", &encode_scalar(&ValueRef::String(name)));
        out
    }

    fn summary(buffer: &ChangeBuffer) -> Vec<(Action, String)> {
        buffer
            .net_changes()
            .iter()
            .map(|e| (e.action, e.key.to_owned()))
            .collect()
    }

    fn apply(
        table: &mut Table,
        buffer: &mut ChangeBuffer,
        action: &str,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) {
        table
            .apply(action, old, new, &mut |c| buffer.record(c))
            .unwrap();
    }

    #[test]
    fn net_change_per_key_sorted_by_key() {
        let mut table = Table::new(KeySpec::default());
        table.upsert_encoded(&row(1.0, "a")).unwrap();
        table.upsert_encoded(&row(2.0, "b")).unwrap();
        let mut buffer = ChangeBuffer::new();
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(9.0, "x")),
        );
        apply(
            &mut table,
            &mut buffer,
            "UPDATE",
            Some(&row(2.0, "b")),
            Some(&row(2.0, "c")),
        );
        apply(
            &mut table,
            &mut buffer,
            "DELETE",
            Some(&row(1.0, "a")),
            None,
        );
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(3.0, "t")),
        );
        apply(
            &mut table,
            &mut buffer,
            "DELETE",
            Some(&row(3.0, "t")),
            None,
        );
        // An update back to the original row nets to nothing.
        apply(
            &mut table,
            &mut buffer,
            "UPDATE",
            Some(&row(2.0, "c")),
            Some(&row(2.0, "b")),
        );
        apply(
            &mut table,
            &mut buffer,
            "UPDATE",
            Some(&row(9.0, "x")),
            Some(&row(9.0, "y")),
        );
        assert_eq!(
            summary(&buffer),
            [(Action::Delete, "1".into()), (Action::Insert, "9".into())]
        );
        assert_eq!(buffer.depth(), 7);
        assert_eq!(buffer.churn(), 7);
    }

    #[test]
    fn truncate_comes_first_and_drops_earlier_changes() {
        let mut table = Table::new(KeySpec::default());
        table.upsert_encoded(&row(1.0, "a")).unwrap();
        let mut buffer = ChangeBuffer::new();
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(5.0, "x")),
        );
        apply(&mut table, &mut buffer, "TRUNCATE", None, None);
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(2.0, "y")),
        );
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(1.0, "a")),
        );
        assert_eq!(
            summary(&buffer),
            [
                (Action::Truncate, String::new()),
                (Action::Insert, "1".into()),
                (Action::Insert, "2".into())
            ]
        );
        assert!(!buffer.is_net_empty());
    }

    #[test]
    fn a_primary_key_change_deletes_the_old_key() {
        let mut table = Table::new(KeySpec::default());
        table.upsert_encoded(&row(1.0, "a")).unwrap();
        let mut buffer = ChangeBuffer::new();
        apply(
            &mut table,
            &mut buffer,
            "UPDATE",
            Some(&row(1.0, "a")),
            Some(&row(7.0, "a")),
        );
        assert_eq!(
            summary(&buffer),
            [(Action::Delete, "1".into()), (Action::Insert, "7".into())]
        );
    }

    #[test]
    fn windows_and_churn_reset_separately() {
        let mut table = Table::new(KeySpec::default());
        let mut buffer = ChangeBuffer::new();
        apply(
            &mut table,
            &mut buffer,
            "INSERT",
            None,
            Some(&row(1.0, "a")),
        );
        apply(
            &mut table,
            &mut buffer,
            "DELETE",
            Some(&row(1.0, "a")),
            None,
        );
        assert!(buffer.is_net_empty());
        buffer.clear_window();
        assert_eq!((buffer.depth(), buffer.churn()), (0, 2));
        buffer.clear_all();
        assert_eq!(buffer.churn(), 0);
    }
}
