//! The simulated server's authoritative table and its journal, and the
//! sync-mode choice of laredo-server (reference/laredo.md §1.4).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use laredo_proto::prost_types::Timestamp;
use laredo_proto::replication::v1::SyncMode;
use laredo_wire::Action;
use laredo_wire::lsn::{self, Lsn};

use crate::{Filter, PositionMode, Row};

/// One journal entry.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub sequence: i64,
    pub position: String,
    pub timestamp: Timestamp,
    pub action: Action,
    pub old: Option<Row>,
    pub new: Option<Row>,
    /// Written after the baseline (sent as text by a PostgreSQL-like server).
    pub live: bool,
}

impl Record {
    /// The row filters are tested against: the new row, or the old one for
    /// a DELETE; `None` for a TRUNCATE, which always passes.
    pub fn filtered_row(&self) -> Option<&Row> {
        match self.action {
            Action::Delete => self.old.as_ref(),
            Action::Truncate => None,
            Action::Insert | Action::Update => self.new.as_ref(),
        }
    }
}

/// A held row and whether a live change wrote it last.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub row: Row,
    pub live: bool,
}

/// The mode a request gets and where its journal catch-up starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub mode: SyncMode,
    pub resume: i64,
    pub current: i64,
    pub oldest: i64,
}

/// Rows of a full snapshot.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub id: String,
    pub sequence: i64,
    pub rows: Vec<Held>,
}

/// The journal no longer holds the entries a stream needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FellBehind;

/// A write to the table.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Insert(Row),
    Update(Row),
    /// Delete the row with this row's key.
    Delete(Row),
    Truncate,
}

#[derive(Debug)]
pub(crate) struct Store {
    /// The held rows by their key ([`Row::key`]).
    rows: HashMap<String, Held>,
    journal: VecDeque<Record>,
    sequence: i64,
    lsn: u64,
    baseline_position: String,
    positions: PositionMode,
    retention: usize,
}

impl Store {
    pub fn new(positions: PositionMode, retention: usize) -> Self {
        Self {
            rows: HashMap::new(),
            journal: VecDeque::new(),
            sequence: 0,
            lsn: 0x0100_0000,
            baseline_position: String::new(),
            positions,
            retention,
        }
    }

    /// Loads the baseline: one INSERT entry per row, all stamped with the
    /// baseline's end position (laredo backfills them so).
    pub fn load_baseline(&mut self, rows: impl IntoIterator<Item = Row>) {
        let start = self.journal.len();
        for row in rows {
            self.lsn += 64 + row.as_bytes().len() as u64;
            self.record(Action::Insert, None, Some(row), false);
        }
        self.baseline_position = Lsn(self.lsn).format();
        for record in self.journal.iter_mut().skip(start) {
            record.position.clone_from(&self.baseline_position);
        }
    }

    /// Applies a live write; an error names what is wrong.
    pub fn write(&mut self, write: Write) -> Result<(), String> {
        let (action, old, new) = match write {
            Write::Insert(row) => (Action::Insert, None, Some(row)),
            Write::Update(row) => {
                let old = self.held_by_row(&row)?.map(|h| h.row.clone());
                (Action::Update, old, Some(row))
            }
            Write::Delete(row) => match self.held_by_row(&row)? {
                Some(held) => (Action::Delete, Some(held.row.clone()), None),
                None => return Err(format!("DELETE of a row the table lacks: {row:?}")),
            },
            Write::Truncate => (Action::Truncate, None, None),
        };
        self.lsn += 64
            + new
                .as_ref()
                .or(old.as_ref())
                .map_or(0, |r| r.as_bytes().len() as u64);
        self.record(action, old, new, true);
        Ok(())
    }

    fn held_by_row(&self, row: &Row) -> Result<Option<&Held>, String> {
        let key = row.key().map_err(|e| e.to_string())?;
        Ok(self.rows.get(&key))
    }

    fn record(&mut self, action: Action, old: Option<Row>, new: Option<Row>, live: bool) {
        match (&action, &new, &old) {
            (Action::Truncate, _, _) => self.rows.clear(),
            (_, Some(row), _) => {
                if let Ok(key) = row.key() {
                    self.rows.insert(
                        key,
                        Held {
                            row: row.clone(),
                            live,
                        },
                    );
                }
            }
            (_, None, Some(row)) => {
                if let Ok(key) = row.key() {
                    self.rows.remove(&key);
                }
            }
            (_, None, None) => {}
        }
        self.sequence += 1;
        let position = match self.positions {
            _ if !live => String::new(),
            PositionMode::Advancing => Lsn(self.lsn).format(),
            PositionMode::Stuck => self.baseline_position.clone(),
            PositionMode::Empty => String::new(),
        };
        let now = std::time::SystemTime::now();
        self.journal.push_back(Record {
            sequence: self.sequence,
            position,
            timestamp: Timestamp::from(now),
            action,
            old,
            new,
            live,
        });
        self.prune(self.retention);
    }

    /// Drops all but the newest `keep` journal entries.
    pub fn prune(&mut self, keep: usize) {
        while self.journal.len() > keep {
            self.journal.pop_front();
        }
    }

    /// The newest sequence.
    pub fn sequence(&self) -> i64 {
        self.sequence
    }

    /// The oldest retained sequence (one past the newest when empty).
    pub fn oldest(&self) -> i64 {
        self.journal
            .front()
            .map_or(self.sequence + 1, |r| r.sequence)
    }

    /// Whether the table holds a row with this key.
    pub fn contains(&self, key: &str) -> bool {
        self.rows.contains_key(key)
    }

    /// The held rows.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values().map(|h| &h.row)
    }

    /// The mode laredo-server picks: (a) a position covered by the journal →
    /// DELTA after the last entry whose position is ≤ it; (c) a sequence the
    /// journal still holds → DELTA; otherwise a full snapshot. (b) archive
    /// replay and (d) retained in-memory snapshots are not simulated.
    pub fn plan(&self, last_sequence: i64, position: &str) -> Plan {
        let current = self.sequence;
        let oldest = self.oldest();
        let delta = |resume| Plan {
            mode: SyncMode::Delta,
            resume,
            current,
            oldest,
        };
        if Lsn::parse(position).is_some()
            && let Some(resume) = self.resume_for_position(position)
        {
            return delta(resume);
        }
        if last_sequence > 0 && last_sequence >= oldest {
            return delta(last_sequence);
        }
        Plan {
            mode: SyncMode::FullSnapshot,
            resume: current,
            current,
            oldest,
        }
    }

    fn resume_for_position(&self, position: &str) -> Option<i64> {
        self.journal
            .iter()
            .filter(|r| !r.position.is_empty())
            .take_while(|r| lsn::compare(&r.position, position) != Ordering::Greater)
            .last()
            .map(|r| r.sequence)
    }

    /// The rows passing `filter`, at the current sequence.
    pub fn snapshot(&self, filter: &Filter) -> Snapshot {
        let millis = jiff::Timestamp::now().as_millisecond();
        Snapshot {
            id: format!("fanout-{}-{millis}", self.sequence),
            sequence: self.sequence,
            rows: self
                .rows
                .values()
                .filter(|h| filter.matches(h.row.as_bytes()))
                .cloned()
                .collect(),
        }
    }

    /// Up to `max` entries after `sequence`.
    pub fn entries_after(&self, sequence: i64, max: usize) -> Result<Vec<Record>, FellBehind> {
        if sequence >= self.sequence {
            return Ok(Vec::new());
        }
        let first = self.journal.front().ok_or(FellBehind)?.sequence;
        let skip = usize::try_from(sequence + 1 - first).map_err(|_| FellBehind)?;
        Ok(self.journal.iter().skip(skip).take(max).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Generator;

    fn store(positions: PositionMode, rows: usize, retention: usize) -> (Store, Generator) {
        let mut generator = Generator::new(3);
        let mut store = Store::new(positions, retention);
        store.load_baseline((0..rows).map(|_| generator.insert()));
        (store, generator)
    }

    #[test]
    fn modes_follow_laredo_server() {
        let (mut store, mut generator) = store(PositionMode::Advancing, 10, 100);
        assert_eq!(store.plan(0, "").mode, SyncMode::FullSnapshot);
        for _ in 0..5 {
            let row = generator.insert();
            store.write(Write::Insert(row)).unwrap();
        }
        let third_live = store.entries_after(12, 1).unwrap()[0].clone();
        assert_eq!(third_live.sequence, 13);
        let by_position = store.plan(0, &third_live.position);
        assert_eq!(
            (by_position.mode, by_position.resume),
            (SyncMode::Delta, 13)
        );
        assert_eq!(store.plan(11, "").resume, 11, "sequence resume");
        store.prune(3);
        assert_eq!(
            store.plan(11, "").mode,
            SyncMode::FullSnapshot,
            "fell off the journal"
        );
        assert_eq!(store.entries_after(11, 10).unwrap_err(), FellBehind);
        assert_eq!(store.entries_after(13, 10).unwrap().len(), 2);
    }

    #[test]
    fn stuck_positions_resume_after_the_newest_entry_as_laredo_does() {
        let (mut store, mut generator) = store(PositionMode::Stuck, 3, 100);
        for _ in 0..4 {
            let row = generator.insert();
            store.write(Write::Insert(row)).unwrap();
        }
        let stuck = store.entries_after(3, 1).unwrap()[0].position.clone();
        assert_eq!(
            store.plan(4, &stuck).resume,
            7,
            "skips entries 5-7: why the client never sends it"
        );
    }

    #[test]
    fn empty_positions_leave_only_the_baselines() {
        let (mut store, mut generator) = store(PositionMode::Empty, 3, 100);
        let row = generator.insert();
        store.write(Write::Insert(row)).unwrap();
        let records = store.entries_after(0, 10).unwrap();
        assert!(
            records[..3]
                .iter()
                .all(|r| !r.position.is_empty() && !r.live)
        );
        assert_eq!(records[3].position, "");
    }
}
