//! The replica: the in-memory table plus the cursor it is at, advanced by
//! applying the source's events on the consumer's task.

use laredo_proto::replication::v1::{
    ColumnDefinition, SnapshotBegin, SnapshotEnd, SyncHandshake, SyncMode,
};
use tokio::sync::watch;

use super::cursor::{CatchUp, Cursor};
use super::event::{Batch, Event};
use crate::metrics::TableMetrics;
use crate::table::{Change, ColumnTypes, RowError, Table};

/// What applying a batch did, in order.
#[derive(Debug)]
pub enum Update {
    /// A journal entry changed the table.
    Change(Change),
    /// A full snapshot replaced the whole table (the first one, or one after
    /// a reconnect or re-baseline). Changes across the gap are not reported
    /// one by one: compare `previous` with the new table, or re-base. Boxed:
    /// it holds a whole table, and every change passes through this enum.
    Replaced(Box<Replacement>),
    /// The stream caught up with the server (snapshot done, journal caught
    /// up, or the server idle). Once per stream.
    Synced(SyncMode),
    /// A snapshot row or journal entry whose row is malformed was skipped.
    /// The cursor moves past it, so a reconnect does not replay it forever.
    Rejected(Rejection),
    /// A handshake announced the table's columns, and they differ from the
    /// ones announced before (the first handshake, or a schema change).
    Columns(Vec<ColumnDefinition>),
}

/// The state a snapshot replaced.
#[derive(Debug)]
pub struct Replacement {
    /// The table before the snapshot.
    pub previous: Table,
    /// The new snapshot's id.
    pub snapshot_id: String,
    /// The server sequence the snapshot is at.
    pub sequence: i64,
}

/// A skipped row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The journal entry's sequence; `None` for a snapshot row.
    pub sequence: Option<i64>,
    /// What is wrong with it.
    pub error: RowError,
}

/// Counters of what the replica applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// Journal entries applied (each counted once per delivery, so a replay
    /// by the server shows up here).
    pub entries_applied: u64,
    /// Snapshots that replaced the table.
    pub replacements: u64,
    /// Snapshots dropped because their stream ended before `SnapshotEnd`.
    pub snapshots_abandoned: u64,
    /// Rows skipped as malformed.
    pub rejected: u64,
}

/// What the connection task waits for before it reconnects: the last batch
/// applied and the cursor after it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    pub batch: u64,
    pub cursor: Cursor,
}

#[derive(Debug)]
struct Staging {
    table: Table,
    snapshot_id: String,
}

/// A table kept in step with a fan-out server.
///
/// Create it from an empty table or one restored from an archive (with its
/// cursor), start a [`Source`](super::Source) for it, and feed every batch
/// the source yields to [`apply`](Self::apply), in order.
#[derive(Debug)]
pub struct Replica {
    table: Table,
    cursor: Cursor,
    staging: Option<Staging>,
    catch_up: CatchUp,
    mode: SyncMode,
    synced: bool,
    /// The columns the last handshake that listed any announced.
    columns: Vec<ColumnDefinition>,
    stats: ReplicaStats,
    applied: watch::Sender<Applied>,
    metrics: Option<TableMetrics>,
}

impl Replica {
    /// A replica holding `table` at `cursor` (`Cursor::default()` for an
    /// empty table: the server then sends a full snapshot).
    pub fn new(table: Table, cursor: Cursor) -> Self {
        let (applied, _) = watch::channel(Applied {
            batch: 0,
            cursor: cursor.clone(),
        });
        Self {
            table,
            cursor,
            staging: None,
            catch_up: CatchUp::default(),
            mode: SyncMode::Unspecified,
            synced: false,
            columns: Vec::new(),
            stats: ReplicaStats::default(),
            applied,
            metrics: None,
        }
    }

    /// Reports `snapshotter_rows` and `snapshotter_source_changes_total`.
    pub fn with_metrics(mut self, metrics: TableMetrics) -> Self {
        metrics
            .rows
            .set(i64::try_from(self.table.len()).unwrap_or(i64::MAX));
        self.metrics = Some(metrics);
        self
    }

    /// The table as of [`cursor`](Self::cursor).
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Where the table stands: the last applied entry or snapshot.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Whether some stream has caught up with the server since this replica
    /// was created (readiness: the table is complete as of the cursor).
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Counters.
    pub fn stats(&self) -> ReplicaStats {
        self.stats
    }

    /// The table and cursor, e.g. to hand over to a new replica.
    pub fn into_parts(self) -> (Table, Cursor) {
        (self.table, self.cursor)
    }

    pub(crate) fn watch_applied(&self) -> watch::Receiver<Applied> {
        self.applied.subscribe()
    }

    /// Applies a batch, reporting each update to `sink` in order.
    pub fn apply(&mut self, batch: Batch, sink: &mut impl FnMut(Update)) {
        for event in batch.events {
            self.apply_event(event, sink);
        }
        if let Some(metrics) = &self.metrics {
            metrics
                .rows
                .set(i64::try_from(self.table.len()).unwrap_or(i64::MAX));
        }
        if batch.id > 0 {
            self.applied.send_replace(Applied {
                batch: batch.id,
                cursor: self.cursor.clone(),
            });
        }
    }

    fn apply_event(&mut self, event: Event, sink: &mut impl FnMut(Update)) {
        match event {
            Event::Handshake(handshake) => self.handshake(&handshake, sink),
            Event::SnapshotBegin(begin) => self.snapshot_begin(begin),
            Event::SnapshotRow(row) => {
                if let Some(staging) = &mut self.staging
                    && let Err(error) = staging.table.upsert_encoded(&row)
                {
                    self.reject(None, error, sink);
                }
            }
            Event::SnapshotEnd(end) => self.snapshot_end(&end, sink),
            Event::Entry(entry) => {
                let mut report = |change| sink(Update::Change(change));
                let result = self.table.apply(
                    entry.action(),
                    entry.old_values(),
                    entry.new_values(),
                    &mut report,
                );
                if let Err(error) = result {
                    self.reject(Some(entry.sequence()), error, sink);
                }
                self.cursor
                    .record_entry(entry.sequence(), entry.source_position());
                self.stats.entries_applied += 1;
                if let Some(metrics) = &self.metrics {
                    metrics.source_changes.inc();
                }
                if self.catch_up.entry(entry.sequence()) {
                    self.synced(sink);
                }
            }
            Event::Heartbeat(_) => {
                if self.catch_up.heartbeat() {
                    self.synced(sink);
                }
            }
            Event::StreamEnded => {
                if self.staging.take().is_some() {
                    self.stats.snapshots_abandoned += 1;
                }
            }
        }
    }

    fn handshake(&mut self, handshake: &SyncHandshake, sink: &mut impl FnMut(Update)) {
        // A new stream never continues an older stream's snapshot.
        if self.staging.take().is_some() {
            self.stats.snapshots_abandoned += 1;
        }
        if !handshake.columns.is_empty() {
            self.table
                .set_column_types(ColumnTypes::from_columns(&handshake.columns));
            if handshake.columns != self.columns {
                self.columns.clone_from(&handshake.columns);
                sink(Update::Columns(handshake.columns.clone()));
            }
        }
        self.mode = handshake.mode();
        if self.catch_up.handshake(handshake) {
            self.synced(sink);
        }
    }

    fn snapshot_begin(&mut self, begin: SnapshotBegin) {
        if self.staging.is_some() {
            self.stats.snapshots_abandoned += 1;
        }
        let mut table = self.table.empty_like();
        // A hint only: never trust a peer's count with a large allocation.
        table.reserve(usize::try_from(begin.row_count).unwrap_or(0).min(1 << 20));
        self.staging = Some(Staging {
            table,
            snapshot_id: begin.snapshot_id,
        });
        self.catch_up.snapshot_begin();
    }

    fn snapshot_end(&mut self, end: &SnapshotEnd, sink: &mut impl FnMut(Update)) {
        let Some(staging) = self.staging.take() else {
            return;
        };
        let previous = std::mem::replace(&mut self.table, staging.table);
        self.cursor = Cursor::after_snapshot(end.sequence, staging.snapshot_id.clone());
        self.stats.replacements += 1;
        sink(Update::Replaced(Box::new(Replacement {
            previous,
            snapshot_id: staging.snapshot_id,
            sequence: end.sequence,
        })));
        if self.catch_up.snapshot_end() {
            self.synced(sink);
        }
    }

    fn synced(&mut self, sink: &mut impl FnMut(Update)) {
        self.synced = true;
        sink(Update::Synced(self.mode));
    }

    fn reject(&mut self, sequence: Option<i64>, error: RowError, sink: &mut impl FnMut(Update)) {
        self.stats.rejected += 1;
        sink(Update::Rejected(Rejection { sequence, error }));
    }
}

#[cfg(test)]
mod tests;
