//! The JSON document of `GET /status`: one [`TableStatus`] per table, in config
//! order. It is a superset of laredo-snapshotter's fields (`table`, `epoch`,
//! `head_position`, `buffer_depth`, `churn_records`, `last_snapshot_at`), and the
//! operator reads it to fill the SnapshotTable status, so fields are only ever
//! added.

use serde::{Deserialize, Serialize};

/// What a table's writer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableState {
    /// Loading the manifest and, when the chain continues, the table from it.
    Starting,
    /// Connecting or receiving the source's initial snapshot.
    Syncing,
    /// Writing the initial base snapshot.
    Snapshotting,
    /// The initial base is durable; diffs and re-bases follow.
    Live,
    /// The last source connection or destination write failed; retrying.
    Degraded,
    /// Another writer owns the prefix (manifest compare-and-swap lost to a
    /// different writer identity); this one has stopped writing.
    Fenced,
    /// Shut down.
    Stopped,
}

/// Where a table's last error happened: the `scope` of `last_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorScope {
    /// The fan-out subscription.
    Source,
    /// A row the source sent that the table could not take.
    Row,
    /// Writing artifacts (or the spool they are encoded in), or opening the
    /// archive.
    Destination,
    /// Committing the manifest, fencing included.
    Manifest,
    /// Setting up the event sinks.
    Events,
}

impl ErrorScope {
    /// The name `/status` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorScope::Source => "source",
            ErrorScope::Row => "row",
            ErrorScope::Destination => "destination",
            ErrorScope::Manifest => "manifest",
            ErrorScope::Events => "events",
        }
    }
}

/// One table's state as reported by `GET /status`.
///
/// [`TableStatus::starting`] is the state before anything is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableStatus {
    /// `schema.table`.
    pub table: String,
    /// What the writer is doing.
    pub state: TableState,
    /// True once this process has made an initial base snapshot durable on every
    /// destination (the readiness rule of `/health/ready`).
    pub ready: bool,
    /// Epoch of the newest committed snapshot (0 before the first).
    pub epoch: u64,
    /// Position of the newest committed artifact (`""` before the first).
    pub head_position: String,
    /// Changes buffered since the last committed artifact.
    pub buffer_depth: u64,
    /// Changes since the last snapshot (re-base churn counter).
    pub churn_records: u64,
    /// When the last snapshot was committed.
    pub last_snapshot_at: Option<String>,
    /// The last committed snapshot.
    pub last_snapshot: Option<ArtifactStatus>,
    /// The last committed diff.
    pub last_diff: Option<ArtifactStatus>,
    /// Diffs committed since the last snapshot.
    pub diffs_since_snapshot: u64,
    /// Rows in the in-memory table.
    pub row_count: u64,
    /// The manifest as last committed.
    pub manifest: Option<ManifestStatus>,
    /// The fan-out subscription.
    pub source: SourceStatus,
    /// The most recent error, cleared by the next success of the same kind.
    pub last_error: Option<ErrorStatus>,
}

/// A committed artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactStatus {
    /// Unique artifact id, also in the manifest and in log lines.
    pub id: String,
    /// Epoch it belongs to.
    pub epoch: u64,
    /// Exclusive lower bound (diffs only).
    pub from_position: Option<String>,
    /// Snapshot watermark or inclusive upper bound of a diff.
    pub position: String,
    /// Commit time (RFC 3339).
    pub at: String,
    /// Rows (snapshots) or net changes (diffs).
    pub records: u64,
    /// Size of the first format's object.
    pub bytes: u64,
}

/// The manifest head as last committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestStatus {
    /// `manifest.epoch`.
    pub epoch: u64,
    /// `manifest.head_position`.
    pub head_position: String,
    /// `manifest.updated_at`.
    pub updated_at: String,
    /// Artifacts listed.
    pub artifacts: u64,
    /// URI of the manifest on the first destination.
    pub uri: String,
}

/// The fan-out subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Server address.
    pub server: String,
    /// Whether a stream is open.
    pub connected: bool,
    /// Sync mode of the current stream (`full_snapshot`, `delta`, …).
    pub mode: Option<String>,
    /// Last journal sequence applied.
    pub sequence: i64,
    /// Last non-empty source position applied.
    pub position: String,
    /// Reconnects since start.
    pub reconnects: u64,
}

/// An error with the time it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// Where it happened: an [`ErrorScope`] (`source`, `row`,
    /// `destination`, `manifest`, `events`).
    pub scope: String,
    /// The error, as logged.
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
}

impl TableStatus {
    /// A table that has just started: nothing opened, nothing received.
    pub fn starting(table: &str, server: &str) -> Self {
        Self {
            table: table.to_owned(),
            state: TableState::Starting,
            ready: false,
            epoch: 0,
            head_position: String::new(),
            buffer_depth: 0,
            churn_records: 0,
            last_snapshot_at: None,
            last_snapshot: None,
            last_diff: None,
            diffs_since_snapshot: 0,
            row_count: 0,
            manifest: None,
            source: SourceStatus {
                server: server.to_owned(),
                ..SourceStatus::default()
            },
            last_error: None,
        }
    }
}
