//! The writer's `/status` report copied into the resource's status, and
//! the last report kept while the writer cannot be asked.

use snapshot_contract::status::{ArtifactStatus, TableStatus};

use crate::crd::{ArtifactRef, SnapshotTableStatus, SourceBehind};

/// Copies the writer's report into `next`.
pub(super) fn reflect(report: &TableStatus, next: &mut SnapshotTableStatus) {
    next.ready = Some(report.ready);
    next.state = Some(report.state.to_string());
    next.epoch = Some(saturating_i64(report.epoch));
    // An empty position is left out (see `ArtifactRef::position`).
    next.head_position = Some(report.head_position.clone()).filter(|p| !p.is_empty());
    next.last_snapshot = report.last_snapshot.as_ref().map(artifact);
    next.last_diff = report.last_diff.as_ref().map(artifact);
    next.last_commit_at = report.last_commit_at.clone().filter(|at| !at.is_empty());
    next.buffered_changes = Some(saturating_i64(report.buffer_depth));
    next.rows = Some(saturating_i64(report.row_count));
    next.behind = report.behind.as_ref().map(|behind| SourceBehind {
        sequences: behind.sequences.map(saturating_i64),
        position: behind.position.clone().unwrap_or_default(),
        since: behind.since.clone().filter(|at| !at.is_empty()),
    });
}

/// Keeps the writer's fields of `current` (the writer could not be asked).
pub(super) fn carry_writer_fields(current: &SnapshotTableStatus, next: &mut SnapshotTableStatus) {
    next.ready = current.ready;
    next.state = current.state.clone();
    next.epoch = current.epoch;
    next.head_position = current.head_position.clone();
    next.last_snapshot = current.last_snapshot.clone();
    next.last_diff = current.last_diff.clone();
    next.last_commit_at = current.last_commit_at.clone();
    next.buffered_changes = current.buffered_changes;
    next.rows = current.rows;
    next.behind = current.behind.clone();
    next.writer_url = next
        .writer_url
        .take()
        .or_else(|| current.writer_url.clone());
}

/// A committed artifact as the status records it.
pub fn artifact(artifact: &ArtifactStatus) -> ArtifactRef {
    ArtifactRef {
        epoch: saturating_i64(artifact.epoch),
        position: artifact.position.clone(),
        at: artifact.at.clone(),
        records: Some(saturating_i64(artifact.records)),
        bytes: Some(saturating_i64(artifact.bytes)),
    }
}

/// The CRD uses signed integers (the apiserver has no unsigned format).
fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
