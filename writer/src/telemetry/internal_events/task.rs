//! What happens to a table's task: its table restored from the archive,
//! ready, a write failed (retried), the final flush failed, a panic.

use std::time::Duration;

use super::InternalEvent;
use super::destination::DestinationFailed;
use crate::archive::ArchiveError;
use crate::metrics::TableMetrics;
use crate::telemetry::with_causes;

/// The table was rebuilt from the archive's head; the source resumes from
/// the manifest.
pub struct TableRestored<'a> {
    /// The epoch it continues.
    pub epoch: u64,
    /// The head position it continues from.
    pub head: &'a str,
    /// Rows in the rebuilt table.
    pub rows: usize,
}

impl InternalEvent for TableRestored<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.rows.set(self.rows as i64);
        tracing::info!(epoch = self.epoch, head = %self.head, rows = self.rows, "restored the table from the archive; resuming the source from the manifest");
    }
}

/// The table became ready: its base snapshot is durable on every
/// destination.
pub struct TableReady {
    /// The epoch of that base.
    pub epoch: u64,
}

impl InternalEvent for TableReady {
    fn emit(self, metrics: &TableMetrics) {
        metrics.ready.set(1);
        tracing::info!(
            epoch = self.epoch,
            "ready: the base snapshot is durable on every destination"
        );
    }
}

/// A write (snapshot or diff) failed for a reason other than fencing; the
/// buffered changes are kept and the write is retried after `retry_in`.
pub struct WriteFailed<'a> {
    /// Why.
    pub error: &'a ArchiveError,
    /// The pause before the next attempt.
    pub retry_in: Duration,
    /// The `dest` label spool failures count under (`spool:<dir>`).
    pub spool_label: &'a str,
}

impl InternalEvent for WriteFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        count_spool_failure(self.error, self.spool_label, metrics);
        let error = with_causes(self.error);
        tracing::warn!(%error, retry_in = ?self.retry_in, "write failed; buffered changes are kept and retried");
    }
}

/// The final flush at shutdown failed: changes since the last commit are
/// not in the archive.
pub struct FinalFlushFailed<'a> {
    /// Why.
    pub error: &'a ArchiveError,
    /// The `dest` label spool failures count under (`spool:<dir>`).
    pub spool_label: &'a str,
}

impl InternalEvent for FinalFlushFailed<'_> {
    fn emit(self, metrics: &TableMetrics) {
        count_spool_failure(self.error, self.spool_label, metrics);
        tracing::error!(error = %with_causes(self.error), "final flush failed; changes since the last commit are not in the archive");
    }
}

/// The table's task panicked; it restarts from the archive after
/// `restart_in` and is not ready meanwhile.
pub struct TaskPanicked<'a> {
    /// The panic's message.
    pub message: &'a str,
    /// The pause before the restart.
    pub restart_in: Duration,
}

impl InternalEvent for TaskPanicked<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.ready.set(0);
        tracing::error!(message = %self.message, restart_in = ?self.restart_in, "table task panicked; restarting it from the archive");
    }
}

/// A full or broken spool disk fails every write before any destination is
/// reached: it counts with the destinations, so the alert on destination
/// errors fires for it too.
fn count_spool_failure(error: &ArchiveError, spool_label: &str, metrics: &TableMetrics) {
    if matches!(error, ArchiveError::Spool { .. }) {
        DestinationFailed { dest: spool_label }.emit(metrics);
    }
}
