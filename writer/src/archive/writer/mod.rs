//! The archive writer: the API the per-table service loop drives.
//!
//! ```text
//! open(destinations, settings, identity)   load and reconcile the manifests
//! restore()                                 table + source mark at the head, to continue the chain
//! loop {
//!     table.apply(…, |change| buffer.record(change))
//!     on timer (next_tick_in): tick(&table, &mut buffer, &mark)   policy → diff, snapshot or nothing
//!     on POST /snapshot: write_snapshot(&table, &mut buffer, &mark, Trigger::Forced)
//! }
//! ```
//!
//! A failed write never loses changes: before the objects are on every
//! destination the buffer is untouched (retried next time); once they are, the
//! buffer is drained into the manifest candidate, which is retried unchanged
//! until a destination stores it. [`ArchiveError::Fenced`] means another
//! writer owns the prefix: stop calling.
//!
//! The identity passed to [`ArchiveWriter::open`] must be unique per process
//! run (e.g. `host/pid/uuid`): a manifest written under the same identity is
//! taken as this writer's own.

mod cleanup;
mod settings;
mod upload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

pub use settings::{ArchiveSettings, Committed, Restored, TickOutcome};

use super::changes::ChangeBuffer;
use super::commit::ManifestStore;
use super::manifest::{Artifact, ArtifactKind, FormatRef, Manifest, ManifestColumn, timestamp};
use super::policy::{self, Decision, PolicyInputs, Trigger};
use super::reader::ArchiveReader;
use super::retention;
use super::spool::{Spool, SpoolFile};
use super::{ArchiveError, SourceMark, position};
use crate::config::Format;
use crate::dest::Destination;
use crate::metrics::TableMetrics;
use crate::table::{KeySpec, Table};
use crate::telemetry::with_causes;

struct Draft {
    id: String,
    kind: ArtifactKind,
    epoch: u64,
    from: Option<String>,
    position: String,
    records: u64,
    trigger: Option<Trigger>,
    started: Instant,
}

/// Writes one table's archive (module docs).
#[derive(Debug)]
pub struct ArchiveWriter {
    settings: ArchiveSettings,
    store: ManifestStore,
    spool: Spool,
    metrics: TableMetrics,
    identity: String,
}

impl ArchiveWriter {
    /// Opens the archive on every destination: reads each manifest, takes the
    /// most advanced, and brings lagging destinations up to date (copying
    /// artifacts they lack). Fails if a destination cannot be read.
    pub async fn open(
        dests: Vec<Arc<dyn Destination>>,
        settings: ArchiveSettings,
        identity: String,
        metrics: TableMetrics,
    ) -> Result<Self, ArchiveError> {
        let spool_dir = dests
            .iter()
            .find_map(|d| d.spool_dir())
            .unwrap_or_else(|| std::env::temp_dir().join("snapshot-writer-spool"));
        let spool = Spool::new(spool_dir)?;
        let store = ManifestStore::open(
            dests,
            &settings.key_prefix,
            &settings.table,
            identity.clone(),
            metrics.clone(),
        )
        .await?;
        let mut writer = Self {
            settings,
            store,
            spool,
            metrics,
            identity,
        };
        if !writer.store.lagging().is_empty() && !writer.store.committed().artifacts.is_empty() {
            if let Err(error) = writer.repair_lagging().await {
                tracing::warn!(table = %writer.settings.table, error = %with_causes(&error), "could not copy artifacts to a lagging destination; retried on the next write");
            } else if let Err(error) = writer.store.sync().await {
                if error.is_fenced() {
                    return Err(error);
                }
                tracing::warn!(table = %writer.settings.table, error = %with_causes(&error), "could not bring a lagging destination up to date");
            }
        }
        writer.clean_up_after_kill().await;
        let manifest = writer.store.committed();
        writer.metrics.epoch.set(manifest.epoch as i64);
        if let Ok(at) = manifest.updated_at.parse::<Timestamp>() {
            writer
                .metrics
                .last_commit_timestamp_seconds
                .set(at.as_second());
        }
        writer
            .metrics
            .diffs_since_snapshot
            .set(manifest.diffs_since_snapshot() as i64);
        tracing::info!(
            table = %writer.settings.table,
            writer = %writer.identity,
            epoch = manifest.epoch,
            head = %manifest.head_position,
            artifacts = manifest.artifacts.len(),
            "archive opened"
        );
        Ok(writer)
    }

    /// The settings it writes with.
    pub fn settings(&self) -> &ArchiveSettings {
        &self.settings
    }

    /// The newest manifest stored on at least one destination.
    pub fn manifest(&self) -> &Manifest {
        self.store.committed()
    }

    /// Destinations that do not hold the newest manifest yet.
    pub fn lagging_destinations(&self) -> Vec<String> {
        self.store.lagging()
    }

    /// Whether another writer owns the prefix (every write now fails).
    pub fn is_fenced(&self) -> bool {
        self.store.fenced_error().is_some()
    }

    /// Sets the table's columns (from the source's handshake), recorded in
    /// `manifest.json` from the next commit on; until then, and while none
    /// are set, the manifest keeps the columns it has.
    pub fn set_columns(&mut self, columns: Vec<ManifestColumn>) {
        self.settings.columns = columns;
    }

    /// How long to sleep before the next [`tick`](Self::tick), given the
    /// time since the last one.
    pub fn next_tick_in(&self, since_last_tick: Duration) -> Duration {
        let since_snapshot = self.since_last_snapshot(Timestamp::now());
        policy::next_tick_in(
            &self.settings.policy,
            self.settings.diff_interval,
            since_last_tick,
            since_snapshot,
        )
    }

    /// Rebuilds the table and the source mark at the manifest head, so a
    /// restart can continue the chain. `None` when there is no snapshot yet.
    pub async fn restore(&self) -> Result<Option<Restored>, ArchiveError> {
        let manifest = self.store.committed().clone();
        if manifest.last_snapshot().is_none() {
            return Ok(None);
        }
        let holder = self.store.holders().first().copied().unwrap_or(0);
        let dest = Arc::clone(&self.store.destinations()[holder]);
        let reader = ArchiveReader::new(dest, &self.settings.key_prefix, manifest.clone());
        let key = KeySpec::new(self.settings.key_fields.clone());
        let rebuilt = reader
            .rebuild(None, &key, &[Format::Protobuf, Format::Jsonl])
            .await?;
        let mut table = Table::new(key);
        table.reserve(rebuilt.rows.len());
        for (key, row) in rebuilt.rows.iter() {
            let unreadable = |source| ArchiveError::RowUnreadable {
                key: key.to_owned(),
                source,
            };
            let encoded = row
                .to_struct_bytes()
                .map_err(|message| unreadable(message.into()))?;
            table
                .upsert_encoded(&encoded)
                .map_err(|error| unreadable(error.into()))?;
        }
        let mark = manifest.source.clone().unwrap_or_else(|| SourceMark {
            position: manifest.head_position.clone(),
            ..SourceMark::default()
        });
        self.metrics.rows.set(table.len() as i64);
        Ok(Some(Restored {
            table,
            mark,
            epoch: manifest.epoch,
            position: manifest.head_position,
        }))
    }

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
        let diff = if buffer.is_net_empty() {
            None
        } else {
            Some(self.encode_diff(buffer)?)
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
                    self.metrics.buffer_depth.set(0);
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
        let draft = Draft {
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
        };
        tracing::info!(artifact = %draft.id, table = %self.settings.table, epoch = draft.epoch, trigger = %trigger, rows = draft.records, "writing snapshot");
        let formats = self.settings.snapshot_formats.clone();
        let files = run_blocking(|| self.spool.snapshot(table, &formats, &draft.id))?;
        self.metrics.rows.set(table.len() as i64);
        self.commit(draft, files, buffer, mark).await
    }

    /// Writes the buffered net changes as a diff in the current epoch.
    /// `Ok(None)` when they net to nothing (the window is then cleared).
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
        let (draft, files) = self.encode_diff(buffer)?;
        self.commit(draft, files, buffer, mark).await.map(Some)
    }

    fn encode_diff(&self, buffer: &ChangeBuffer) -> Result<(Draft, Vec<SpoolFile>), ArchiveError> {
        let started = Instant::now();
        let base = self.store.target();
        let head = base.head().ok_or(ArchiveError::NoBase)?;
        let entries = buffer.net_changes();
        let draft = Draft {
            id: new_id(),
            kind: ArtifactKind::Diff,
            epoch: base.epoch,
            from: Some(head.to_position.clone()),
            position: String::new(),
            records: entries.len() as u64,
            trigger: None,
            started,
        };
        let files = self
            .spool
            .diff(&entries, &self.settings.diff_formats, &draft.id)?;
        Ok((draft, files))
    }

    /// Puts the objects everywhere, drains the buffer, commits the manifest.
    async fn commit(
        &mut self,
        mut draft: Draft,
        files: Vec<SpoolFile>,
        buffer: &mut ChangeBuffer,
        mark: &SourceMark,
    ) -> Result<Committed, ArchiveError> {
        if draft.kind == ArtifactKind::Diff {
            draft.position = position::next_position(draft.from.as_deref(), &mark.position);
        }
        self.upload(&mut draft, &files).await?;
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
        candidate.manifest_version = super::manifest::MANIFEST_VERSION;
        candidate.table.clone_from(&self.settings.table);
        candidate.head_position.clone_from(&draft.position);
        candidate.updated_at.clone_from(&now);
        candidate.writer = Some(self.identity.clone());
        candidate.source = Some(mark.clone());
        candidate.key_fields.clone_from(&self.settings.key_fields);
        if !self.settings.columns.is_empty() {
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
        self.metrics.buffer_depth.set(0);
        self.metrics.churn_records.set(buffer.churn() as i64);
        let result = self.store.commit(candidate, deletions).await;
        if let Err(error) = &result {
            tracing::warn!(artifact = %draft.id, table = %self.settings.table, error = %with_causes(error), "manifest commit failed");
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
        self.record_metrics(&committed, dropped.len());
        Ok(committed)
    }

    fn record_metrics(&self, committed: &Committed, dropped: usize) {
        let manifest = self.store.committed();
        self.metrics.epoch.set(manifest.epoch as i64);
        self.metrics
            .last_commit_timestamp_seconds
            .set(Timestamp::now().as_second());
        self.metrics
            .diffs_since_snapshot
            .set(manifest.diffs_since_snapshot() as i64);
        match committed.kind {
            ArtifactKind::Snapshot => {
                self.metrics.snapshots_written.inc();
                self.metrics.snapshot_bytes.inc_by(committed.total_bytes);
                self.metrics.snapshot_age_seconds.set(0);
            }
            ArtifactKind::Diff => {
                self.metrics.diffs_written.inc();
                self.metrics.diff_bytes_total.inc_by(committed.total_bytes);
                self.metrics.diff_bytes.set(committed.bytes as i64);
            }
        }
        tracing::info!(
            artifact = %committed.id,
            table = %self.settings.table,
            kind = committed.kind.as_str(),
            epoch = committed.epoch,
            from = committed.from_position.as_deref().unwrap_or(""),
            to = %committed.position,
            source_position = %committed.source.position,
            records = committed.records,
            bytes = committed.total_bytes,
            trigger = committed.trigger.map_or("", Trigger::as_str),
            millis = committed.duration.as_millis() as u64,
            pruned = dropped,
            lagging = ?committed.lagging,
            "artifact committed"
        );
    }

    /// The size of the file in the measured format of `kind`.
    fn measured_size(&self, kind: ArtifactKind, files: &[SpoolFile]) -> u64 {
        let format = self.settings.measured_format(kind);
        files
            .iter()
            .find(|file| Some(file.format) == format)
            .map_or(0, |file| file.size)
    }

    fn since_last_snapshot(&self, now: Timestamp) -> Option<Duration> {
        let snapshot = self.store.target().last_snapshot()?;
        // An unreadable time (hand-edited manifest) never forces a re-base.
        let at: Timestamp = snapshot.created_at.parse().ok().unwrap_or(now);
        Some(Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO))
    }
}

/// A new artifact id: a UUIDv7 (time-ordered, unique).
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Runs CPU-heavy encoding without stalling other tasks of a multi-threaded
/// runtime (`block_in_place` panics on a current-thread runtime, where the
/// work simply runs inline).
fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
