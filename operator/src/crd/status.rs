//! `status`: what the writer reports, and the operator's conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the writer has made the table durable on every destination.
pub const CONDITION_READY: &str = "Ready";
/// Condition type: another SnapshotTable (or another writer) owns this
/// resource's table and destination prefix.
pub const CONDITION_CONFLICT: &str = "Conflict";
/// Condition type: the spec is invalid, the workload could not be applied, or
/// the writer reports failures.
pub const CONDITION_DEGRADED: &str = "Degraded";

/// Condition type: nothing was committed for longer than `spec.staleAfter`
/// while changes wait (buffered, or the source disconnected).
pub const CONDITION_STALE: &str = "Stale";

/// `status.state` while `spec.suspend` is true and a writer pod is still
/// there, flushing its final diff.
pub const STATE_SUSPENDING: &str = "suspending";
/// `status.state` once `spec.suspend` is true and no writer pod is left.
pub const STATE_SUSPENDED: &str = "suspended";

/// Observed state of a SnapshotTable, taken from the writer's `GET /status`
/// (not from what the operator intended).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotTableStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Whether the writer has made an initial base snapshot durable on every
    /// destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,

    /// The writer's state for this table (`starting`, `syncing`,
    /// `snapshotting`, `live`, `degraded`, `fenced`, `stopped`), or the
    /// operator's `suspending` and `suspended` while `spec.suspend` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,

    /// Epoch of the newest committed base snapshot (0 before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,

    /// Source position of the newest committed artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_position: Option<String>,

    /// The newest committed base snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<ArtifactRef>,

    /// The newest committed diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_diff: Option<ArtifactRef>,

    /// When the writer last committed the manifest (any artifact, RFC 3339):
    /// how fresh the archive's head is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit_at: Option<String>,

    /// Changes the writer holds that no committed artifact has yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffered_changes: Option<i64>,

    /// Rows in the writer's in-memory table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,

    /// How far the source is ahead of the committed head, as far as the
    /// source reports it; absent when the head holds every change received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<SourceBehind>,

    /// The last re-base request the operator passed to the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_rebase: Option<HandledRebase>,

    /// The writer HTTP API the operator polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_url: Option<String>,

    /// The immutable fields as they were when the writer workload was last
    /// applied. Servers before 1.25 drop the CEL rules that keep them
    /// immutable; the operator compares each spec against this instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<BoundIdentity>,

    /// `Ready`, `Conflict`, `Degraded` and `Stale`; `lastTransitionTime`
    /// moves only when a condition's status changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// Where a SnapshotTable's archive is: the fields that may not change once
/// a writer has written there.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct BoundIdentity {
    /// `spec.source.schema`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    /// `spec.source.table`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub table: String,
    /// `spec.keyPrefix` (absent when the spec leaves it to the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Each destination's identity, in order, as the CEL rule forms it:
    /// `s3|<endpoint>|<bucket>|<prefix>` or `local|<path>`.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// `spec.writer.storage` as JSON (absent when the spec has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// A committed artifact as the writer reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactRef {
    /// Epoch the artifact belongs to.
    pub epoch: i64,
    /// Snapshot watermark, or inclusive upper bound of a diff; absent when
    /// the source reported none (an empty string is not sent: servers
    /// before 1.21 turn it into `null` in a server-side apply and reject it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub position: String,
    /// Commit time (RFC 3339).
    pub at: String,
    /// Rows (snapshots) or net changes (diffs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<i64>,
    /// Size in bytes of the artifact's first format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
}

/// How far the source is ahead of the committed head, from the writer's
/// `/status` (`behind`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct SourceBehind {
    /// Journal sequences the server has past the head's (they include
    /// changes a filter leaves out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences: Option<i64>,
    /// Source position of the newest change received and not committed
    /// (absent when the source stamps none; see [`ArtifactRef::position`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub position: String,
    /// When the oldest change not committed yet was made at the source
    /// (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// A re-base request (annotation `rebase` or `laredo.io/rebase`) the writer
/// accepted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandledRebase {
    /// The annotation's value (e.g. `now`), kept as an opaque request token;
    /// absent for an empty value (see [`ArtifactRef::position`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// When the writer accepted it.
    pub at: Time,
    /// The epoch before the re-base; the new base snapshot has a greater one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_before: Option<i64>,
    /// The base snapshot the writer committed for it (epoch, position,
    /// time, rows, size); absent from a writer that only answered `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ArtifactRef>,
}

impl SnapshotTableStatus {
    /// The condition of this type, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether the condition of this type is `True`.
    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }
}
