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

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::changes::ChangeBuffer;
use super::commit::ManifestStore;
use super::keys::{diff_key, snapshot_key};
use super::manifest::{Artifact, ArtifactKind, FormatRef, Manifest, ManifestColumn, timestamp};
use super::policy::{self, Decision, PolicyInputs, Trigger};
use super::reader::ArchiveReader;
use super::retention;
use super::spool::{Spool, SpoolFile};
use super::{ArchiveError, SourceMark, position};
use crate::config::{Format, SnapshotPolicyConfig, TableConfig};
use crate::dest::{DestError, Destination, PutMode};
use crate::metrics::TableMetrics;
use crate::status::ArtifactStatus;
use crate::table::{KeySpec, Table};

/// How many times an artifact moves to the next position when its key holds
/// other content (orphans of failed attempts) before giving up.
const MAX_POSITION_BUMPS: usize = 16;

/// What the writer needs from a table's config.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveSettings {
    /// `schema.table`.
    pub table: String,
    /// Prefix of every key (e.g. `users/`).
    pub key_prefix: String,
    /// Key columns, recorded in the manifest.
    pub key_fields: Vec<String>,
    /// Snapshot formats, the first one measured by the policy.
    pub snapshot_formats: Vec<Format>,
    /// Diff formats, the first one measured by the policy.
    pub diff_formats: Vec<Format>,
    /// Epochs the manifest keeps (0: all).
    pub keep_epochs: u32,
    /// Re-base thresholds.
    pub policy: SnapshotPolicyConfig,
    /// Diff cadence.
    pub diff_interval: Duration,
    /// Schema written to the manifest (empty: keep what it has).
    pub columns: Vec<ManifestColumn>,
}

impl ArchiveSettings {
    /// Defaults for `table` under `key_prefix`: key `id`, JSONL only, no
    /// retention, no re-base triggers, 30 s diffs.
    pub fn new(table: &str, key_prefix: &str) -> Self {
        Self {
            table: table.to_owned(),
            key_prefix: key_prefix.to_owned(),
            key_fields: vec!["id".to_owned()],
            snapshot_formats: vec![Format::Jsonl],
            diff_formats: vec![Format::Jsonl],
            keep_epochs: 0,
            policy: SnapshotPolicyConfig::default(),
            diff_interval: Duration::from_secs(30),
            columns: Vec::new(),
        }
    }

    /// The settings of one table of the writer config.
    pub fn from_table_config(config: &TableConfig) -> Self {
        Self {
            table: config.qualified_name(),
            key_prefix: config.effective_key_prefix(),
            key_fields: config.key_fields.clone(),
            snapshot_formats: config.formats.snapshot.clone(),
            diff_formats: config.formats.diff.clone(),
            keep_epochs: config.retention.keep_epochs.unwrap_or(0),
            policy: config.snapshot.clone(),
            diff_interval: config.diff.interval.0,
            columns: Vec::new(),
        }
    }

    fn key_of(&self, kind: ArtifactKind, epoch: u64, from: Option<&str>, to: &str, format: Format) -> String {
        match kind {
            ArtifactKind::Snapshot => snapshot_key(&self.key_prefix, epoch, to, format),
            ArtifactKind::Diff => diff_key(&self.key_prefix, epoch, from, to, format),
        }
    }
}

/// A committed artifact, with what `/status`, metrics and logs need.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// Unique artifact id (in the manifest and every log line about it).
    pub id: String,
    /// Snapshot or diff.
    pub kind: ArtifactKind,
    /// Its epoch.
    pub epoch: u64,
    /// A diff's lower bound.
    pub from_position: Option<String>,
    /// Its archive position.
    pub position: String,
    /// The source cursor it covers.
    pub source: SourceMark,
    /// Rows (snapshot) or net changes (diff).
    pub records: u64,
    /// Size of the first format.
    pub bytes: u64,
    /// Size of all formats.
    pub total_bytes: u64,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Time from start of encoding to the manifest commit.
    pub duration: Duration,
    /// Why a snapshot was written.
    pub trigger: Option<Trigger>,
    /// Destinations that did not store the manifest yet (retried next time).
    pub lagging: Vec<String>,
}

impl Committed {
    /// The `/status` form.
    pub fn to_status(&self) -> ArtifactStatus {
        ArtifactStatus {
            id: self.id.clone(),
            epoch: self.epoch,
            from_position: self.from_position.clone(),
            position: self.position.clone(),
            at: self.created_at.clone(),
            records: self.records,
            bytes: self.bytes,
        }
    }
}

/// What one [`ArchiveWriter::tick`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum TickOutcome {
    /// Nothing to write.
    Idle,
    /// A diff was committed.
    Diff(Committed),
    /// A snapshot was committed (the trigger is in it).
    Snapshot(Committed),
}

/// The table and source cursor at the manifest head.
#[derive(Debug)]
pub struct Restored {
    /// The rebuilt table.
    pub table: Table,
    /// Where the source should resume.
    pub mark: SourceMark,
    /// The head epoch.
    pub epoch: u64,
    /// The head archive position.
    pub position: String,
}

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
        let store =
            ManifestStore::open(dests, &settings.key_prefix, &settings.table, identity.clone(), metrics.clone()).await?;
        let writer = Self { settings, store, spool, metrics, identity };
        let mut writer = writer;
        if !writer.store.lagging().is_empty() && !writer.store.committed().artifacts.is_empty() {
            if let Err(error) = writer.repair_lagging().await {
                tracing::warn!(table = %writer.settings.table, %error, "could not copy artifacts to a lagging destination; retried on the next write");
            } else if let Err(error) = writer.store.sync().await {
                if error.is_fenced() {
                    return Err(error);
                }
                tracing::warn!(table = %writer.settings.table, %error, "could not bring a lagging destination up to date");
            }
        }
        let manifest = writer.store.committed();
        writer.metrics.epoch.set(manifest.epoch as i64);
        writer.metrics.diffs_since_snapshot.set(manifest.diffs_since_snapshot() as i64);
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

    /// This writer's identity.
    pub fn identity(&self) -> &str {
        &self.identity
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

    /// Sets the schema recorded from the next commit on.
    pub fn set_columns(&mut self, columns: Vec<ManifestColumn>) {
        self.settings.columns = columns;
    }

    /// How long to sleep before the next [`tick`](Self::tick), given the
    /// time since the last one.
    pub fn next_tick_in(&self, since_last_tick: Duration) -> Duration {
        let since_snapshot = self.since_last_snapshot(Timestamp::now());
        policy::next_tick_in(&self.settings.policy, self.settings.diff_interval, since_last_tick, since_snapshot)
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
        let rebuilt = reader.rebuild(None, &key, &[Format::Protobuf, Format::Jsonl]).await?;
        let mut table = Table::new(key);
        table.reserve(rebuilt.rows.len());
        for (key, row) in rebuilt.rows {
            let encoded = row.to_struct_bytes().map_err(|message| ArchiveError::Encode { what: format!("row {key:?}"), message })?;
            table
                .upsert_encoded(&encoded)
                .map_err(|e| ArchiveError::Encode { what: format!("row {key:?}"), message: e.to_string() })?;
        }
        let mark = manifest.source.clone().unwrap_or_else(|| SourceMark {
            position: manifest.head_position.clone(),
            ..SourceMark::default()
        });
        self.metrics.rows.set(table.len() as i64);
        Ok(Some(Restored { table, mark, epoch: manifest.epoch, position: manifest.head_position }))
    }

    /// Evaluates the re-base policy now and writes a snapshot, a diff, or
    /// nothing. Call it every [`next_tick_in`](Self::next_tick_in), also when
    /// nothing changed (`max_interval` re-bases a quiet table).
    pub async fn tick(&mut self, table: &Table, buffer: &mut ChangeBuffer, mark: &SourceMark) -> Result<TickOutcome, ArchiveError> {
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
        let diff = if buffer.is_net_empty() { None } else { Some(self.encode_diff(buffer)?) };
        let last_snapshot_bytes = self
            .store
            .target()
            .last_snapshot()
            .and_then(|s| self.settings.snapshot_formats.first().and_then(|f| s.formats.get(f.id())))
            .map_or(0, |f| f.size_bytes);
        let inputs = PolicyInputs {
            since_snapshot: self.since_last_snapshot(now),
            diff_bytes: diff.as_ref().and_then(|(_, files)| files.first()).map_or(0, |f| f.size),
            last_snapshot_bytes,
            churn: buffer.churn(),
            row_count: table.len() as u64,
        };
        match policy::decide(&self.settings.policy, &inputs) {
            Decision::Snapshot(trigger) => {
                drop(diff);
                Ok(TickOutcome::Snapshot(self.write_snapshot(table, buffer, mark, trigger).await?))
            }
            Decision::Diff => match diff {
                Some((draft, files)) => Ok(TickOutcome::Diff(self.commit(draft, files, buffer, mark).await?)),
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
            position: position::next_position(base.head().map(|a| a.to_position.as_str()), &mark.position),
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
    pub async fn write_diff(&mut self, buffer: &mut ChangeBuffer, mark: &SourceMark) -> Result<Option<Committed>, ArchiveError> {
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
        let files = self.spool.diff(&entries, &self.settings.diff_formats, &draft.id)?;
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
                let key = self.settings.key_of(draft.kind, draft.epoch, draft.from.as_deref(), &draft.position, file.format);
                let reference = FormatRef { uri: first_dest.uri(&key), size_bytes: file.size, crc32c: Some(file.crc32c_hex()) };
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
            tracing::warn!(artifact = %draft.id, table = %self.settings.table, %error, "manifest commit failed");
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
            bytes: files.first().map_or(0, |f| f.size),
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
        self.metrics.diffs_since_snapshot.set(manifest.diffs_since_snapshot() as i64);
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

    /// Puts every file on every destination; a key holding different
    /// content moves the artifact to the next position.
    async fn upload(&self, draft: &mut Draft, files: &[SpoolFile]) -> Result<(), ArchiveError> {
        for _ in 0..MAX_POSITION_BUMPS {
            let keys: Vec<String> = files
                .iter()
                .map(|f| self.settings.key_of(draft.kind, draft.epoch, draft.from.as_deref(), &draft.position, f.format))
                .collect();
            let results = futures::future::join_all(
                self.store.destinations().iter().map(|dest| self.upload_to(dest.as_ref(), &keys, files)),
            )
            .await;
            let mut collision = None;
            for result in results {
                if let Some(key) = result? {
                    collision = Some(key);
                }
            }
            let Some(key) = collision else { return Ok(()) };
            let bumped = position::bump(&draft.position);
            tracing::warn!(
                artifact = %draft.id,
                key = %key,
                next_position = %bumped,
                "another object already exists under this key (an orphan of a failed attempt, or another writer); moving the artifact to the next position"
            );
            draft.position = bumped;
        }
        Err(ArchiveError::Encode {
            what: format!("artifact {}", draft.id),
            message: format!("{MAX_POSITION_BUMPS} consecutive positions hold other objects"),
        })
    }

    /// Puts the files on one destination; `Some(key)` if a key holds other content.
    async fn upload_to(&self, dest: &dyn Destination, keys: &[String], files: &[SpoolFile]) -> Result<Option<String>, ArchiveError> {
        for (key, file) in keys.iter().zip(files) {
            match dest.put_file(key, file.path(), PutMode::CreateNew).await {
                Ok(()) => {}
                Err(DestError::Conflict { .. }) => {
                    if !same_content(dest, key, file).await.inspect_err(|_| self.metrics.destination_error(dest.name()))? {
                        return Ok(Some(key.clone()));
                    }
                }
                Err(error) => {
                    self.metrics.destination_error(dest.name());
                    return Err(error.into());
                }
            }
        }
        Ok(None)
    }

    /// Copies the objects the committed manifest references to destinations
    /// that lack them (e.g. one added to the config).
    async fn repair_lagging(&self) -> Result<(), ArchiveError> {
        let holders = self.store.holders();
        let Some(&source_index) = holders.first() else { return Ok(()) };
        let dests = self.store.destinations();
        let source = &dests[source_index];
        for (index, dest) in dests.iter().enumerate() {
            if holders.contains(&index) {
                continue;
            }
            for artifact in &self.store.committed().artifacts {
                for (_, key) in retention::artifact_keys(&self.settings.key_prefix, artifact) {
                    if dest.size(&key).await?.is_some() {
                        continue;
                    }
                    let Some(object) = source.get(&key).await? else {
                        return Err(ArchiveError::MissingObject { dest: source.name().to_owned(), key });
                    };
                    let path = self.spool.dir().join(format!("{}.copy", new_id()));
                    std::fs::write(&path, &object.body)
                        .map_err(|error| ArchiveError::Spool { path: path.display().to_string(), error })?;
                    let put = dest.put_file(&key, &path, PutMode::CreateNew).await;
                    let _ = std::fs::remove_file(&path);
                    match put {
                        Ok(()) | Err(DestError::Conflict { .. }) => {}
                        Err(error) => return Err(error.into()),
                    }
                    tracing::info!(dest = %dest.name(), key = %key, "copied a missing artifact to a lagging destination");
                }
            }
        }
        Ok(())
    }

    fn since_last_snapshot(&self, now: Timestamp) -> Option<Duration> {
        let snapshot = self.store.target().last_snapshot()?;
        // An unreadable time (hand-edited manifest) never forces a re-base.
        let at: Timestamp = snapshot.created_at.parse().ok().unwrap_or(now);
        Some(Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO))
    }
}

async fn same_content(dest: &dyn Destination, key: &str, file: &SpoolFile) -> Result<bool, ArchiveError> {
    if dest.size(key).await? != Some(file.size) {
        return Ok(false);
    }
    Ok(dest.get(key).await?.is_some_and(|stored| crc32c::crc32c(&stored.body) == file.crc32c))
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
