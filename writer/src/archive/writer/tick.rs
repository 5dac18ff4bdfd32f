//! Deciding what to write, and encoding it: the re-base policy at each tick
//! chooses a snapshot, a diff or nothing; a snapshot encodes the table, a
//! diff the buffered net changes, into spool files that `artifact.rs`
//! commits.

use std::time::Instant;

use jiff::Timestamp;

use super::artifact::Draft;
use super::{ArchiveWriter, Committed, TickOutcome, new_id};
use crate::archive::changes::ChangeBuffer;
use crate::archive::manifest::ArtifactKind;
use crate::archive::policy::{self, Decision, PolicyInputs, Trigger};
use crate::archive::spool::SpoolFile;
use crate::archive::{ArchiveError, SourceMark, position};
use crate::config::Format;
use crate::table::Table;
use crate::telemetry::internal_events::{BufferChanged, SnapshotStarted};

impl ArchiveWriter {
    /// Evaluates the re-base policy now and writes a snapshot, a diff, or
    /// nothing. Call it every [`next_tick_in`](Self::next_tick_in), also when
    /// nothing changed (`max_interval` re-bases a quiet table).
    pub async fn tick(
        &mut self,
        table: &Table,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<TickOutcome, ArchiveError> {
        self.tick_at(Timestamp::now(), table, buffer, mark).await
    }

    /// [`tick`](Self::tick) with an explicit clock (tests).
    pub async fn tick_at(
        &mut self,
        now: Timestamp,
        table: &Table,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<TickOutcome, ArchiveError> {
        self.store.sync().await?;
        if self.store.target().last_snapshot().is_none() {
            let committed = self
                .write_snapshot(table, buffer, mark, Trigger::Initial)
                .await?;
            return Ok(TickOutcome::Snapshot(committed));
        }
        if let Some(committed) = self.snapshot_for_schema(table, buffer, mark).await? {
            return Ok(TickOutcome::Snapshot(committed));
        }
        let diff = if buffer.is_net_empty() {
            None
        } else {
            Some(self.encode_diff(buffer, mark)?)
        };
        let last_snapshot_bytes = self
            .store
            .target()
            .last_snapshot()
            .map_or(0, |snapshot| self.settings.measured_bytes(snapshot));
        let inputs = PolicyInputs {
            since_snapshot: self.since_last_snapshot(now),
            diff_bytes: diff.as_ref().map_or(0, |(_, files)| {
                self.measured_size(ArtifactKind::Diff, files)
            }),
            last_snapshot_bytes,
            churn: buffer.churn(),
            row_count: table.len() as u64,
        };
        match policy::decide(&self.settings.policy, &inputs) {
            Decision::Snapshot(trigger) => {
                drop(diff);
                Ok(TickOutcome::Snapshot(
                    self.write_snapshot(table, buffer, mark, trigger).await?,
                ))
            }
            Decision::Diff => match diff {
                Some((draft, files)) => Ok(TickOutcome::Diff(
                    self.commit(draft, files, buffer, mark).await?,
                )),
                None => {
                    buffer.clear_window();
                    self.metrics.emit(BufferChanged {
                        depth: 0,
                        churn: buffer.churn(),
                    });
                    Ok(TickOutcome::Idle)
                }
            },
        }
    }

    /// Writes a base snapshot of `table` in a new epoch; on success the buffer
    /// is emptied (the snapshot covers every change in it).
    pub async fn write_snapshot(
        &mut self,
        table: &Table,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
        trigger: Trigger,
    ) -> Result<Committed, ArchiveError> {
        self.store.sync().await?;
        let started = Instant::now();
        let base = self.store.target();
        let mut draft = Draft {
            id: new_id(),
            kind: ArtifactKind::Snapshot,
            epoch: base.epoch + 1,
            from: None,
            position: position::next_position(
                base.head().map(|a| a.to_position.as_str()),
                &mark.position,
            ),
            records: table.len() as u64,
            trigger: Some(trigger),
            started,
            columns: None,
        };
        self.metrics.emit(SnapshotStarted {
            artifact: &draft.id,
            epoch: draft.epoch,
            trigger,
            rows: draft.records,
        });
        let formats = &self.settings.snapshot_formats;
        let mut files = crate::blocking::run(|| self.spool.snapshot(table, formats, &draft.id))
            .map_err(|message| ArchiveError::Panicked {
            what: format!("encoding snapshot {}", draft.id),
            message,
        })??;
        files.extend(self.parquet_snapshot(table, &mut draft)?);
        sort_as_configured(&mut files, formats);
        self.commit(draft, files, buffer, mark).await
    }

    /// Writes the buffered net changes as a diff in the current epoch.
    /// `Ok(None)` when they net to nothing (the window is then cleared).
    /// A Parquet diff is written with the epoch's schema even where
    /// [`tick`](Self::tick) would start a new epoch first
    /// (`writer/parquet.rs`): a row that does not fit it is an error.
    pub async fn write_diff(
        &mut self,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<Option<Committed>, ArchiveError> {
        self.store.sync().await?;
        if buffer.is_net_empty() {
            buffer.clear_window();
            return Ok(None);
        }
        let (draft, files) = self.encode_diff(buffer, mark)?;
        self.commit(draft, files, buffer, mark).await.map(Some)
    }

    /// A snapshot in a new epoch, where the Parquet schema calls for one.
    async fn snapshot_for_schema(
        &mut self,
        table: &Table,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<Option<Committed>, ArchiveError> {
        let Some(reason) = self.parquet_needs_new_epoch(buffer) else {
            return Ok(None);
        };
        tracing::info!(reason, "the Parquet schema changed: a new epoch starts");
        self.write_snapshot(table, buffer, mark, Trigger::SchemaChange)
            .await
            .map(Some)
    }

    fn encode_diff(
        &self,
        buffer: &ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<(Draft, Vec<SpoolFile>), ArchiveError> {
        let started = Instant::now();
        let base = self.store.target();
        let head = base.head().ok_or(ArchiveError::NoBase)?;
        let id = new_id();
        let from = head.to_position.clone();
        // Known before the objects are encoded: a Parquet diff holds it.
        let position = position::next_position(Some(&from), &mark.position);
        // Ordering the net changes and encoding them costs CPU in proportion
        // to the diff: not on an async worker.
        let (records, files) = crate::blocking::run(|| {
            let entries = buffer.net_changes();
            let formats = &self.settings.diff_formats;
            let mut files = self.spool.diff(&entries, formats, &id)?;
            files.extend(self.parquet_diff(&entries, &position, &id)?);
            sort_as_configured(&mut files, formats);
            Ok::<_, ArchiveError>((entries.len() as u64, files))
        })
        .map_err(|message| ArchiveError::Panicked {
            what: format!("encoding diff {id}"),
            message,
        })??;
        let draft = Draft {
            id,
            kind: ArtifactKind::Diff,
            epoch: base.epoch,
            from: Some(from),
            position,
            records,
            trigger: None,
            started,
            columns: None,
        };
        Ok((draft, files))
    }

    /// The size of the file in the measured format of `kind`.
    pub(super) fn measured_size(&self, kind: ArtifactKind, files: &[SpoolFile]) -> u64 {
        let format = self.settings.measured_format(kind);
        files
            .iter()
            .find(|file| Some(file.format) == format)
            .map_or(0, |file| file.size)
    }
}

/// Orders spool files as their formats are configured (the first is the
/// one the re-base policy measures and `/status` reports).
fn sort_as_configured(files: &mut [SpoolFile], formats: &[Format]) {
    files.sort_by_key(|file| formats.iter().position(|f| *f == file.format));
}
