//! What happens to a table's archive: opened, a snapshot started, the change
//! buffer measured, an artifact committed, a manifest compare-and-swap
//! retried, the writer fenced.

use jiff::Timestamp;

use super::InternalEvent;
use crate::archive::{ArtifactKind, Committed, Manifest, Trigger};
use crate::metrics::TableMetrics;

/// The archive was opened: the manifest's state becomes the metrics'.
pub struct ArchiveOpened<'a> {
    /// This process's writer identity.
    pub identity: &'a str,
    /// The newest manifest stored.
    pub manifest: &'a Manifest,
}

impl InternalEvent for ArchiveOpened<'_> {
    fn emit(self, metrics: &TableMetrics) {
        let manifest = self.manifest;
        metrics.epoch.set(manifest.epoch as i64);
        if let Ok(at) = manifest.updated_at.parse::<Timestamp>() {
            metrics.last_commit_timestamp_seconds.set(at.as_second());
        }
        metrics
            .diffs_since_snapshot
            .set(manifest.diffs_since_snapshot() as i64);
        tracing::info!(
            writer = %self.identity,
            epoch = manifest.epoch,
            head = %manifest.head_position,
            artifacts = manifest.artifacts.len(),
            "archive opened"
        );
    }
}

/// A base snapshot of the in-memory table is about to be encoded.
pub struct SnapshotStarted<'a> {
    /// The artifact's id.
    pub artifact: &'a str,
    /// The epoch it starts.
    pub epoch: u64,
    /// Why it is written.
    pub trigger: Trigger,
    /// Rows in the table (and so in the snapshot).
    pub rows: u64,
}

impl InternalEvent for SnapshotStarted<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.rows.set(self.rows as i64);
        tracing::info!(artifact = %self.artifact, epoch = self.epoch, trigger = %self.trigger, rows = self.rows, "writing snapshot");
    }
}

/// The change buffer took changes in or was drained into an artifact.
pub struct BufferChanged {
    /// Changes buffered since the last committed artifact.
    pub depth: u64,
    /// Changes since the last snapshot.
    pub churn: u64,
}

impl InternalEvent for BufferChanged {
    fn emit(self, metrics: &TableMetrics) {
        metrics.buffer_depth.set(self.depth as i64);
        metrics.churn_records.set(self.churn as i64);
    }
}

/// An artifact and the manifest listing it are stored.
pub struct ArtifactCommitted<'a> {
    /// What was committed.
    pub committed: &'a Committed,
    /// The manifest as now committed.
    pub manifest: &'a Manifest,
    /// Artifacts retention dropped from the manifest.
    pub pruned: usize,
}

impl InternalEvent for ArtifactCommitted<'_> {
    fn emit(self, metrics: &TableMetrics) {
        let (committed, manifest) = (self.committed, self.manifest);
        metrics.epoch.set(manifest.epoch as i64);
        metrics
            .last_commit_timestamp_seconds
            .set(Timestamp::now().as_second());
        metrics
            .diffs_since_snapshot
            .set(manifest.diffs_since_snapshot() as i64);
        match committed.kind {
            ArtifactKind::Snapshot => {
                metrics.snapshots_written.inc();
                metrics.snapshot_bytes.inc_by(committed.total_bytes);
                metrics.snapshot_age_seconds.set(0);
            }
            ArtifactKind::Diff => {
                metrics.diffs_written.inc();
                metrics.diff_bytes_total.inc_by(committed.total_bytes);
                metrics.diff_bytes.set(committed.bytes as i64);
            }
        }
        tracing::info!(
            artifact = %committed.id,
            kind = committed.kind.as_str(),
            epoch = committed.epoch,
            from = committed.from_position.as_deref().unwrap_or(""),
            to = %committed.position,
            source_position = %committed.source.position,
            records = committed.records,
            bytes = committed.total_bytes,
            trigger = committed.trigger.map_or("", Trigger::as_str),
            millis = super::millis(committed.duration),
            pruned = self.pruned,
            lagging = ?committed.lagging,
            "artifact committed"
        );
    }
}

/// A manifest compare-and-swap conflicted with this writer's own earlier
/// write (a request that timed out but landed, or a manifest deleted under
/// it): re-read and retried.
pub struct ManifestCasRetried<'a> {
    /// The destination's name.
    pub dest: &'a str,
}

impl InternalEvent for ManifestCasRetried<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.manifest_cas_retries.inc();
        tracing::debug!(dest = %self.dest, "manifest compare-and-swap conflict with this writer's own write; retrying");
    }
}

/// Who fenced this writer.
#[derive(Debug, Clone, Copy)]
pub enum FencedBy<'a> {
    /// Another writer identity committed the manifest.
    Writer {
        /// The other writer's identity, if it recorded one.
        other: Option<&'a str>,
        /// This writer's identity.
        ours: &'a str,
    },
    /// The manifest now names another table (two tables on one place).
    Table {
        /// The table it names.
        other: &'a str,
    },
}

/// Another writer (or table) committed the manifest: this table stops
/// writing for good, and is not ready.
pub struct Fenced<'a> {
    /// The destination where the conflict was seen.
    pub dest: &'a str,
    /// Who committed instead.
    pub by: FencedBy<'a>,
}

impl InternalEvent for Fenced<'_> {
    fn emit(self, metrics: &TableMetrics) {
        metrics.fenced.set(1);
        metrics.ready.set(0);
        match self.by {
            FencedBy::Writer { other, ours } => tracing::error!(
                dest = %self.dest,
                other_writer = other.unwrap_or("<none recorded>"),
                writer = %ours,
                "fenced: another writer committed the manifest; this writer stops writing"
            ),
            FencedBy::Table { other } => tracing::error!(
                dest = %self.dest,
                other_table = %other,
                "fenced: the manifest belongs to another table (two tables on one place); this table stops writing"
            ),
        }
    }
}
