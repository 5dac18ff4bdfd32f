//! The writer's internal events: one type per thing that happens to a table
//! (an artifact committed, a destination operation failed, an event
//! published, …), each with an [`emit`](InternalEvent::emit) that writes its
//! log line and updates its metrics. The archive, destination, event and
//! table-task code says *what happened* in one call,
//! [`TableMetrics::emit`], and the log line and the metrics cannot drift
//! apart (the pattern of vector's `internal_events`).
//!
//! Not to be confused with [`crate::events`], the advisory SNS/SQS/Kinesis
//! notifications. Log lines carry no `table` field: they are written inside
//! the table task's span ([`crate::service::table_task::span`]), which names
//! the table. Metric names and labels are [`crate::metrics`]'s; errors become
//! text through [`with_causes`](super::with_causes).
//!
//! One module per concern: the archive's commits in [`archive`], failed
//! destination operations in [`destination`], the event publisher's sinks in
//! [`sink`], the table task's life in [`task`].

pub mod archive;
pub mod destination;
pub mod sink;
pub mod task;

use crate::metrics::TableMetrics;

pub use archive::{
    ArchiveOpened, ArtifactCommitted, BufferChanged, Fenced, FencedBy, ManifestCasRetried,
    SnapshotStarted,
};
pub use destination::{
    ArtifactUploadFailed, DestinationFailed, ManifestWriteFailed, RetentionDeleteFailed,
    RetiredEpochsDeleteFailed,
};
pub use sink::{EventDropped, EventPublishFailed, EventPublished};
pub use task::{FinalFlushFailed, TableReady, TableRestored, TaskPanicked, WriteFailed};

/// Something that happened to a table, logged and counted in one place.
pub trait InternalEvent {
    /// Writes the log line (if any) and updates the table's metrics.
    fn emit(self, metrics: &TableMetrics);
}

/// Milliseconds of `duration` as a log field (saturating).
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
