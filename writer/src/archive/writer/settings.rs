//! The writer's settings and the outcomes it reports.

use std::time::Duration;

use crate::archive::SourceMark;
use crate::archive::keys::{diff_key, snapshot_key};
use crate::archive::manifest::{Artifact, ArtifactKind, ManifestColumn};
use crate::archive::policy::Trigger;
use crate::config::{Format, SnapshotPolicyConfig, TableConfig};
use crate::status::ArtifactStatus;
use crate::table::Table;

/// What the writer needs from a table's config.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveSettings {
    /// `schema.table`.
    pub table: String,
    /// Prefix of every key (e.g. `users/`).
    pub key_prefix: String,
    /// Key columns, recorded in the manifest.
    pub key_fields: Vec<String>,
    /// Snapshot formats; the first is the measured one
    /// ([`measured_format`](Self::measured_format)).
    pub snapshot_formats: Vec<Format>,
    /// Diff formats; the first is the measured one.
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

    /// The format whose object size stands for an artifact of `kind`: the
    /// first one configured. The re-base policy measures it, and
    /// [`Committed::bytes`] and `/status` report it, so the three agree
    /// whatever the order of format ids in the manifest.
    pub fn measured_format(&self, kind: ArtifactKind) -> Option<Format> {
        match kind {
            ArtifactKind::Snapshot => self.snapshot_formats.first(),
            ArtifactKind::Diff => self.diff_formats.first(),
        }
        .copied()
    }

    /// The size of `artifact`'s object in its
    /// [`measured_format`](Self::measured_format); 0 when it has none (it
    /// was written under another config).
    pub fn measured_bytes(&self, artifact: &Artifact) -> u64 {
        self.measured_format(artifact.kind)
            .and_then(|format| artifact.formats.get(format.id()))
            .map_or(0, |object| object.size_bytes)
    }

    pub(super) fn key_of(
        &self,
        kind: ArtifactKind,
        epoch: u64,
        from: Option<&str>,
        to: &str,
        format: Format,
    ) -> String {
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
    /// Size of the measured format's object
    /// ([`ArchiveSettings::measured_format`]).
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
