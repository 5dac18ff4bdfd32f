//! What one table task knows about itself, and how it becomes the
//! [`TableStatus`] served by `/status`. Artifact and manifest fields come from
//! the committed manifest, so the status reports what is stored, never what
//! was only attempted.

use jiff::Timestamp;

use crate::archive::{ArchiveSettings, Artifact, ArtifactKind, Manifest};
use crate::status::{
    ArtifactStatus, BehindStatus, ErrorScope, ErrorStatus, ManifestStatus, SourceStatus,
    TableState, TableStatus,
};

/// The task's own state, beyond what the archive, buffer and source hold.
#[derive(Debug, Clone)]
pub struct Progress {
    /// `schema.table`.
    pub table: String,
    /// What the task is doing.
    pub state: TableState,
    /// The initial base is durable (see [`crate::status::TableStatus::ready`]).
    pub ready: bool,
    /// The most recent error.
    pub last_error: Option<LastError>,
}

/// The most recent error of a table task, as `/status` will show it.
#[derive(Debug, Clone)]
pub struct LastError {
    /// Where it happened.
    pub scope: ErrorScope,
    /// The error with its causes.
    pub message: String,
    /// When.
    pub at: Timestamp,
}

impl LastError {
    fn to_status(&self) -> ErrorStatus {
        ErrorStatus {
            scope: self.scope,
            message: self.message.clone(),
            at: self.at.to_string(),
        }
    }
}

impl Progress {
    /// A task that has just started.
    pub fn starting(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            state: TableState::Starting,
            ready: false,
            last_error: None,
        }
    }

    /// Records an error of `scope`; `message` is the error as logged, with
    /// its causes ([`with_causes`](crate::telemetry::with_causes)).
    pub fn error(&mut self, scope: ErrorScope, message: impl std::fmt::Display) {
        self.error_at(scope, message, Timestamp::now());
    }

    /// Records an error of `scope` that happened at `at`.
    pub fn error_at(&mut self, scope: ErrorScope, message: impl std::fmt::Display, at: Timestamp) {
        self.last_error = Some(LastError {
            scope,
            message: message.to_string(),
            at,
        });
    }

    /// Whether the last error is of `scope`.
    pub fn has_error(&self, scope: ErrorScope) -> bool {
        self.last_error.as_ref().is_some_and(|e| e.scope == scope)
    }

    /// Clears the last error if it was of `scope`.
    pub fn clear_error(&mut self, scope: ErrorScope) {
        if self.has_error(scope) {
            self.last_error = None;
        }
    }
}

/// Everything a status is assembled from at one moment.
#[derive(Debug, Default)]
pub struct Snapshot<'a> {
    /// The committed manifest and the settings it is written with, once
    /// the archive is open.
    pub archive: Option<(&'a Manifest, &'a ArchiveSettings)>,
    /// URI of the manifest on the first destination.
    pub manifest_uri: String,
    /// Changes buffered since the last artifact.
    pub buffer_depth: u64,
    /// Changes since the last snapshot.
    pub churn: u64,
    /// Rows held.
    pub rows: u64,
    /// The subscription.
    pub source: SourceStatus,
    /// How far the source is ahead of the committed head.
    pub behind: Option<BehindStatus>,
}

impl Progress {
    /// The `/status` entry.
    pub fn to_status(&self, at: &Snapshot<'_>) -> TableStatus {
        let manifest = at.archive.map(|(manifest, _)| manifest);
        let artifact_status = |artifact| {
            let (_, settings) = at.archive?;
            Some(artifact_status(artifact, settings))
        };
        let last_of =
            |kind| manifest.and_then(|m| m.artifacts.iter().rev().find(|a| a.kind == kind));
        let last_snapshot = last_of(ArtifactKind::Snapshot);
        TableStatus {
            table: self.table.clone(),
            state: self.state,
            ready: self.ready,
            epoch: manifest.map_or(0, |m| m.epoch),
            head_position: manifest
                .map(|m| m.head_position.clone())
                .unwrap_or_default(),
            buffer_depth: at.buffer_depth,
            churn_records: at.churn,
            last_snapshot_at: last_snapshot.map(|a| a.created_at.clone()),
            last_commit_at: manifest
                .filter(|m| !m.artifacts.is_empty())
                .map(|m| m.updated_at.clone()),
            behind: at.behind.clone(),
            last_snapshot: last_snapshot.and_then(artifact_status),
            last_diff: last_of(ArtifactKind::Diff).and_then(artifact_status),
            diffs_since_snapshot: manifest.map_or(0, |m| m.diffs_since_snapshot() as u64),
            row_count: at.rows,
            manifest: manifest
                .filter(|m| !m.artifacts.is_empty())
                .map(|m| ManifestStatus {
                    epoch: m.epoch,
                    head_position: m.head_position.clone(),
                    updated_at: m.updated_at.clone(),
                    artifacts: m.artifacts.len() as u64,
                    uri: at.manifest_uri.clone(),
                }),
            source: at.source.clone(),
            last_error: self.last_error.as_ref().map(LastError::to_status),
        }
    }
}

/// The status form of a manifest entry; its size is the measured format's,
/// the one the re-base policy uses ([`ArchiveSettings::measured_format`]).
fn artifact_status(artifact: &Artifact, settings: &ArchiveSettings) -> ArtifactStatus {
    let records = match artifact.kind {
        ArtifactKind::Snapshot => artifact.row_count,
        ArtifactKind::Diff => artifact.change_count,
    };
    ArtifactStatus {
        id: artifact.id.clone().unwrap_or_default(),
        epoch: artifact.epoch,
        from_position: artifact.from_position.clone(),
        position: artifact.to_position.clone(),
        at: artifact.created_at.clone(),
        records,
        bytes: settings.measured_bytes(artifact),
    }
}
