//! What the connection task hands the consumer: events in batches.

use bytes::Bytes;
use laredo_proto::replication::v1::{Heartbeat, SnapshotBegin, SnapshotEnd, SyncHandshake};

use super::JournalEntry;

/// One step of the replication stream, in server order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A stream opened; its mode and the table's columns.
    Handshake(SyncHandshake),
    /// A full snapshot starts; the rows that follow replace the state at its end.
    SnapshotBegin(SnapshotBegin),
    /// One snapshot row: an encoded `google.protobuf.Struct`.
    SnapshotRow(Bytes),
    /// The snapshot is complete.
    SnapshotEnd(SnapshotEnd),
    /// One change.
    Entry(JournalEntry),
    /// The server is idle and alive.
    Heartbeat(Heartbeat),
    /// The stream ended (error, clean end or GoAway handoff); a snapshot still
    /// being received is incomplete and must be dropped.
    StreamEnded,
}

/// Events read together from one stream, applied together.
///
/// A batch ends right after a `SnapshotEnd`, so when
/// [`Replica::apply`](super::Replica::apply) reports a replacement,
/// [`Replica::table`](super::Replica::table) is exactly the new snapshot
/// once it returns.
#[derive(Debug)]
pub struct Batch {
    pub(crate) id: u64,
    pub(crate) events: Vec<Event>,
}

impl Batch {
    /// A batch built by hand, to feed a replica without a source (tools,
    /// benchmarks). It does not count towards a source's applied batches.
    pub fn from_events(events: Vec<Event>) -> Self {
        Self { id: 0, events }
    }

    /// The events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
