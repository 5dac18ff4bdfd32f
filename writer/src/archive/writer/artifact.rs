//! An artifact from draft to commit: its objects put on every destination,
//! the manifest candidate that lists it, the buffer drained into that
//! candidate, the manifest stored, and the commit reported
//! ([`ArtifactCommitted`]).

use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;

use super::{ArchiveWriter, Committed};
use crate::archive::changes::ChangeBuffer;
use crate::archive::manifest::{
    self, Artifact, ArtifactKind, FormatRef, ManifestColumn, timestamp,
};
use crate::archive::policy::Trigger;
use crate::archive::spool::SpoolFile;
use crate::archive::{ArchiveError, SourceMark, retention};
use crate::telemetry::internal_events::{ArtifactCommitted, BufferChanged};
use crate::telemetry::with_causes;

/// An artifact being written, until it is committed.
pub(super) struct Draft {
    /// Its unique id (in the manifest and every log line about it).
    pub(super) id: String,
    pub(super) kind: ArtifactKind,
    pub(super) epoch: u64,
    /// A diff's lower bound (the head it follows).
    pub(super) from: Option<String>,
    /// Its position; a diff's is set at commit, from the source mark.
    pub(super) position: String,
    /// Rows (snapshot) or net changes (diff).
    pub(super) records: u64,
    pub(super) trigger: Option<Trigger>,
    /// When encoding started.
    pub(super) started: Instant,
    /// The columns a Parquet snapshot was written with, for the manifest.
    pub(super) columns: Option<Vec<ManifestColumn>>,
}

impl ArchiveWriter {
    /// Puts the objects everywhere, drains the buffer, commits the manifest.
    pub(super) async fn commit(
        &mut self,
        mut draft: Draft,
        mut files: Vec<SpoolFile>,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<Committed, ArchiveError> {
        self.upload(&mut draft, &mut files, buffer).await?;
        let now = timestamp(Timestamp::now());
        let first_dest = Arc::clone(&self.store.destinations()[0]);
        let formats = files
            .iter()
            .map(|file| {
                let key = self.settings.key_of(
                    draft.kind,
                    draft.epoch,
                    draft.from.as_deref(),
                    &draft.position,
                    file.format,
                );
                let reference = FormatRef {
                    uri: first_dest.uri(&key),
                    size_bytes: file.size,
                    crc32c: Some(file.crc32c_hex()),
                };
                (file.format.id().to_owned(), reference)
            })
            .collect();
        let (row_count, change_count) = match draft.kind {
            ArtifactKind::Snapshot => (draft.records, 0),
            ArtifactKind::Diff => (0, draft.records),
        };
        let mut candidate = self.store.target().clone();
        candidate.artifacts.push(Artifact {
            kind: draft.kind,
            epoch: draft.epoch,
            from_position: draft.from.clone(),
            to_position: draft.position.clone(),
            created_at: now.clone(),
            row_count,
            change_count,
            formats,
            id: Some(draft.id.clone()),
        });
        if draft.kind == ArtifactKind::Snapshot {
            candidate.epoch = draft.epoch;
        }
        candidate.manifest_version = manifest::MANIFEST_VERSION;
        candidate.table.clone_from(&self.settings.table);
        candidate.head_position.clone_from(&draft.position);
        candidate.updated_at.clone_from(&now);
        candidate.writer = Some(self.identity.clone());
        candidate.source = Some(mark.clone());
        candidate.key_fields.clone_from(&self.settings.key_fields);
        if let Some(columns) = draft.columns.take() {
            candidate.columns = columns;
        } else if !self.settings.columns.is_empty() {
            candidate.columns.clone_from(&self.settings.columns);
        }
        let dropped = candidate.prune(self.settings.keep_epochs);
        let deletions = retention::plan(&self.settings.key_prefix, &dropped, &candidate.artifacts);
        // The objects are on every destination: from here the changes live in
        // the candidate, which is retried until stored.
        match draft.kind {
            ArtifactKind::Snapshot => buffer.clear_all(),
            ArtifactKind::Diff => buffer.clear_window(),
        }
        self.metrics.emit(BufferChanged {
            depth: 0,
            churn: buffer.churn(),
        });
        let result = self.store.commit(candidate, deletions).await;
        if let Err(error) = &result {
            tracing::warn!(artifact = %draft.id, error = %with_causes(error), "manifest commit failed");
        }
        result?;
        let committed = Committed {
            id: draft.id,
            kind: draft.kind,
            epoch: draft.epoch,
            from_position: draft.from,
            position: draft.position,
            source: mark.clone(),
            records: draft.records,
            bytes: self.measured_size(draft.kind, &files),
            total_bytes: files.iter().map(|f| f.size).sum(),
            created_at: now,
            duration: draft.started.elapsed(),
            trigger: draft.trigger,
            lagging: self.store.lagging(),
        };
        self.metrics.emit(ArtifactCommitted {
            committed: &committed,
            manifest: self.store.committed(),
            pruned: dropped.len(),
        });
        Ok(committed)
    }
}
