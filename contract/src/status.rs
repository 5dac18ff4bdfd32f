//! The JSON document of `GET /status`: one [`TableStatus`] per table, in config
//! order. It is a superset of laredo-snapshotter's fields (`table`, `epoch`,
//! `head_position`, `buffer_depth`, `churn_records`, `last_snapshot_at`), and the
//! operator reads it to fill the SnapshotTable status, so fields are only ever
//! added.
//!
//! The operator may be older or newer than the writer it asks: a reader
//! ignores fields it does not know, takes a missing counter as 0, and reads a
//! state or error scope it does not know as `Unknown`.

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
    /// A state this version does not know, sent by a newer writer; this
    /// writer never reports it.
    #[serde(other)]
    Unknown,
}

impl TableState {
    /// The state's name in the document (`live`, `fenced`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TableState::Starting => "starting",
            TableState::Syncing => "syncing",
            TableState::Snapshotting => "snapshotting",
            TableState::Live => "live",
            TableState::Degraded => "degraded",
            TableState::Fenced => "fenced",
            TableState::Stopped => "stopped",
            TableState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for TableState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// A scope this version does not know, sent by a newer writer.
    #[serde(other)]
    Unknown,
}

impl ErrorScope {
    /// The scope's name in the document (`source`, `destination`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorScope::Source => "source",
            ErrorScope::Row => "row",
            ErrorScope::Destination => "destination",
            ErrorScope::Manifest => "manifest",
            ErrorScope::Events => "events",
            ErrorScope::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    #[serde(default)]
    pub buffer_depth: u64,
    /// Changes since the last snapshot (re-base churn counter).
    #[serde(default)]
    pub churn_records: u64,
    /// When the last snapshot was committed.
    #[serde(default)]
    pub last_snapshot_at: Option<String>,
    /// When the manifest was last committed, by any artifact (RFC 3339;
    /// absent before the first). How fresh the archive's head is.
    #[serde(default)]
    pub last_commit_at: Option<String>,
    /// How far the source is ahead of the committed head; absent when the
    /// head holds every change received and the server reports nothing
    /// newer.
    #[serde(default)]
    pub behind: Option<BehindStatus>,
    /// The last committed snapshot.
    #[serde(default)]
    pub last_snapshot: Option<ArtifactStatus>,
    /// The last committed diff.
    #[serde(default)]
    pub last_diff: Option<ArtifactStatus>,
    /// Diffs committed since the last snapshot.
    #[serde(default)]
    pub diffs_since_snapshot: u64,
    /// Rows in the in-memory table.
    #[serde(default)]
    pub row_count: u64,
    /// The manifest as last committed.
    #[serde(default)]
    pub manifest: Option<ManifestStatus>,
    /// The fan-out subscription.
    #[serde(default)]
    pub source: SourceStatus,
    /// The most recent error, cleared by the next success of the same kind.
    #[serde(default)]
    pub last_error: Option<ErrorStatus>,
}

/// A committed artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactStatus {
    /// Unique artifact id, also in the manifest and in log lines.
    #[serde(default)]
    pub id: String,
    /// Epoch it belongs to.
    pub epoch: u64,
    /// Exclusive lower bound (diffs only).
    #[serde(default)]
    pub from_position: Option<String>,
    /// Snapshot watermark or inclusive upper bound of a diff.
    pub position: String,
    /// Commit time (RFC 3339).
    pub at: String,
    /// Rows (snapshots) or net changes (diffs).
    #[serde(default)]
    pub records: u64,
    /// Size of the first format's object.
    #[serde(default)]
    pub bytes: u64,
}

/// How far the source is ahead of the committed head, in what the source
/// reports: journal sequences, its position, and the time of its changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BehindStatus {
    /// Journal sequences the server has past the head's: its newest
    /// (handshake, heartbeats, changes) minus the one the manifest records.
    /// It counts every change of the table, also those a filter leaves
    /// out. Absent when either is unknown.
    pub sequences: Option<u64>,
    /// Source position of the newest change received and not committed
    /// yet (absent when the source stamps no positions).
    pub position: Option<String>,
    /// When the oldest change not committed yet was made at the source
    /// (its journal timestamp; when it has none, when the writer received
    /// it), RFC 3339. Absent when nothing is buffered.
    pub since: Option<String>,
    /// Seconds from `since` to when this status was made: how old the
    /// newest data missing from the archive's head can be.
    pub seconds: Option<u64>,
}

/// The manifest head as last committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestStatus {
    /// `manifest.epoch`.
    pub epoch: u64,
    /// `manifest.head_position`.
    pub head_position: String,
    /// `manifest.updated_at`.
    #[serde(default)]
    pub updated_at: String,
    /// Artifacts listed.
    #[serde(default)]
    pub artifacts: u64,
    /// URI of the manifest on the first destination.
    #[serde(default)]
    pub uri: String,
}

/// The fan-out subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// Where it happened.
    pub scope: ErrorScope,
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
            last_commit_at: None,
            behind: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_scope_reads_as_its_snake_case_name() {
        for state in [
            TableState::Starting,
            TableState::Syncing,
            TableState::Snapshotting,
            TableState::Live,
            TableState::Degraded,
            TableState::Fenced,
            TableState::Stopped,
        ] {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(serde_json::from_value::<TableState>(json).unwrap(), state);
        }
        for scope in [
            ErrorScope::Source,
            ErrorScope::Row,
            ErrorScope::Destination,
            ErrorScope::Manifest,
            ErrorScope::Events,
        ] {
            let json = serde_json::to_value(scope).unwrap();
            assert_eq!(json, serde_json::json!(scope.as_str()));
            assert_eq!(serde_json::from_value::<ErrorScope>(json).unwrap(), scope);
        }
    }

    /// An older operator reads a newer writer: a new state, a new error
    /// scope, a new field, and an older writer's missing counters.
    #[test]
    fn a_document_from_another_version_still_reads() {
        let newer = serde_json::json!([{
            "table": "public.orders",
            "state": "hibernating",
            "ready": true,
            "epoch": 3,
            "head_position": "0/1",
            "last_error": {"scope": "compaction", "message": "m", "at": "t"},
            "last_snapshot": {"epoch": 3, "position": "0/1", "at": "t"},
            "a_field_from_the_future": {"x": 1},
        }]);
        let read: Vec<TableStatus> = serde_json::from_value(newer).unwrap();
        assert_eq!(read[0].state, TableState::Unknown);
        assert_eq!(
            read[0].last_error.as_ref().unwrap().scope,
            ErrorScope::Unknown
        );
        assert_eq!(read[0].buffer_depth, 0);
        assert_eq!(read[0].last_snapshot.as_ref().unwrap().records, 0);
        assert_eq!(read[0].source, SourceStatus::default());
        assert_eq!((&read[0].last_commit_at, &read[0].behind), (&None, &None));
    }

    #[test]
    fn a_starting_table_round_trips() {
        let mut status = TableStatus::starting("public.orders", "laredo:4002");
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(serde_json::from_str::<TableStatus>(&json).unwrap(), status);
        status.last_commit_at = Some("2026-01-02T03:04:05Z".into());
        status.behind = Some(BehindStatus {
            sequences: Some(12),
            position: Some("0/16B3750".into()),
            since: Some("2026-01-02T03:04:06Z".into()),
            seconds: Some(40),
        });
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(serde_json::from_str::<TableStatus>(&json).unwrap(), status);
    }
}
