//! The `SnapshotTable` custom resource (`laredo.io/v1alpha1`): one table block
//! of the writer's config in camelCase, plus credential profiles and the
//! writer workload's settings.
//!
//! Every field carries a doc comment because it becomes the field's
//! description in the CRD (`kubectl explain snapshottable.spec...`). CEL rules
//! (`x-kubernetes-validations`) state what the types cannot: immutable table
//! identity, "exactly one of" blocks, references between fields.

mod credentials;
mod destination;
pub mod rules;
mod schema;
mod source;
mod status;
mod writer;

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use credentials::{AmbientProfile, AssumeRoleProfile, CredentialProfileSpec, IrsaProfile};
pub use destination::{
    DestinationSpec, EventSinkSpec, KinesisSink, LocalDestination, S3Destination, SinkCommon,
    SnsSink, SqsSink,
};
pub use schema::{
    CEL_MIN_VERSION, CHART_CRD_PATH, CRD_PATH, DURATION_PATTERN, SIZE_PATTERN, chart_crd_template,
    crd_yaml, strip_unsigned_formats,
};
pub use source::{FilterSpec, ReconnectSpec, SourceProtocol, SourceSpec};
pub use status::{
    ArtifactRef, BoundIdentity, CONDITION_CONFLICT, CONDITION_DEGRADED, CONDITION_READY,
    CONDITION_STALE, HandledRebase, STATE_SUSPENDED, STATE_SUSPENDING, SnapshotTableStatus,
    SourceBehind,
};
pub use writer::{StorageSpec, WriterSpec};

/// Longest accepted `metadata.name`: children are named `<name>-writer`, the
/// writer pod `<name>-writer-0`, and the StatefulSet's revision label
/// `<name>-writer-<10-char hash>` must fit the 63-character label limit.
pub const MAX_NAME_LENGTH: usize = 45;

/// Desired state of a SnapshotTable: which laredo table to archive, where, how
/// often, and how the writer runs.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "laredo.io",
    version = "v1alpha1",
    kind = "SnapshotTable",
    plural = "snapshottables",
    singular = "snapshottable",
    shortname = "st",
    category = "laredo",
    namespaced,
    status = "SnapshotTableStatus",
    derive = "PartialEq",
    doc = "A laredo table kept on durable storage (local volume or S3) as a base snapshot plus a chain of diffs by one snapshot writer. The operator runs exactly one writer per (table, destination prefix) and reflects its epoch, head position and readiness here.",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether the writer has made the table durable on every destination"),
    printcolumn(name = "Epoch", type_ = "integer", json_path = ".status.epoch", description = "Epoch of the newest committed snapshot"),
    printcolumn(name = "Head", type_ = "string", json_path = ".status.headPosition", description = "Source position of the newest committed artifact"),
    printcolumn(name = "Last Snapshot", type_ = "date", json_path = ".status.lastSnapshot.at", description = "When the newest base snapshot was committed"),
    printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspend", description = "Whether the writer is scaled to zero (spec.suspend)"),
    printcolumn(name = "Stale", type_ = "string", json_path = ".status.conditions[?(@.type==\"Stale\")].status", priority = 1, description = "Whether nothing was committed for longer than spec.staleAfter while changes wait"),
    printcolumn(name = "Rows", type_ = "integer", json_path = ".status.rows", priority = 1, description = "Rows in the writer's table"),
    printcolumn(name = "Buffered", type_ = "integer", json_path = ".status.bufferedChanges", priority = 1, description = "Changes the writer holds that no committed artifact has yet"),
    printcolumn(name = "Last Commit", type_ = "date", json_path = ".status.lastCommitAt", priority = 1, description = "When the writer last committed the manifest"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 45").message(rules::NAME_TOO_LONG)
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.keyPrefix) == has(oldSelf.keyPrefix) && (!has(self.keyPrefix) || self.keyPrefix == oldSelf.keyPrefix)").message(rules::KEY_PREFIX_IMMUTABLE),
    validation = Rule::new("(has(self.writer) && has(self.writer.storage)) == (has(oldSelf.writer) && has(oldSelf.writer.storage)) && (!(has(self.writer) && has(self.writer.storage)) || self.writer.storage == oldSelf.writer.storage)").message(rules::STORAGE_IMMUTABLE),
    validation = Rule::new("self.destinations.all(d, !has(d.s3) || !has(d.s3.credentials) || (has(self.credentials) && d.s3.credentials in self.credentials))").message(rules::DESTINATION_PROFILE_UNDEFINED),
    validation = Rule::new("!has(self.events) || self.events.all(e, (!has(e.sns) || !has(e.sns.credentials) || (has(self.credentials) && e.sns.credentials in self.credentials)) && (!has(e.sqs) || !has(e.sqs.credentials) || (has(self.credentials) && e.sqs.credentials in self.credentials)) && (!has(e.kinesis) || !has(e.kinesis.credentials) || (has(self.credentials) && e.kinesis.credentials in self.credentials)))").message(rules::SINK_PROFILE_UNDEFINED),
    validation = Rule::new("!has(self.credentials) || !has(self.writer) || !has(self.writer.serviceAccountName) || self.credentials.all(k, !has(self.credentials[k].irsa))").message(rules::IRSA_WITH_OWN_ACCOUNT)
)]
pub struct SnapshotTableSpec {
    /// The laredo fan-out subscription: server, table and row filters.
    pub source: SourceSpec,

    /// Prefix of every key this table writes, relative to each destination
    /// (default `<table>/`). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub key_prefix: Option<String>,

    /// Columns whose values identify a row (default `[id]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    pub key_fields: Option<Vec<String>>,

    /// How often buffered changes are written as a diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffSpec>,

    /// How long the archive's head may go without a commit while changes
    /// wait (buffered in the writer, or unknown because the source is
    /// disconnected) before the `Stale` condition turns true; a Go
    /// duration (default three diff intervals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub stale_after: Option<String>,

    /// When to write a new base snapshot (a new epoch). Omitted thresholds are
    /// off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotPolicySpec>,

    /// How many epochs the manifest keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,

    /// Where artifacts go; an artifact is durable once it is on every
    /// destination. The destinations' identities (kind, S3 endpoint, bucket and
    /// prefix, local path) are immutable.
    #[schemars(length(min = 1, max = 8))]
    #[x_kube(validation = Rule::new("self.map(d, has(d.s3) ? 's3|' + (has(d.s3.endpoint) ? d.s3.endpoint : '') + '|' + d.s3.bucket + '|' + (has(d.s3.prefix) ? d.s3.prefix : '') : 'local|' + (has(d.local) ? d.local.path : '')) == oldSelf.map(d, has(d.s3) ? 's3|' + (has(d.s3.endpoint) ? d.s3.endpoint : '') + '|' + d.s3.bucket + '|' + (has(d.s3.prefix) ? d.s3.prefix : '') : 'local|' + (has(d.local) ? d.local.path : ''))").message(rules::DESTINATIONS_IMMUTABLE))]
    pub destinations: Vec<DestinationSpec>,

    /// Artifact formats per kind (default `jsonl` for both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<FormatsSpec>,

    /// Advisory notifications (SNS, SQS, Kinesis) published after each manifest
    /// commit, at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub events: Option<Vec<EventSinkSpec>>,

    /// Named AWS credential profiles, referenced by name from S3 destinations
    /// and event sinks. At most one may be an `irsa` profile: it becomes the
    /// role of the writer's ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 16))]
    #[x_kube(validation = Rule::new("self.filter(k, has(self[k].irsa)).size() <= 1").message(rules::ONE_IRSA_PROFILE))]
    pub credentials: Option<BTreeMap<String, CredentialProfileSpec>>,

    /// How the writer workload runs: image, resources, scheduling, grace
    /// period, ServiceAccount, storage for local destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<WriterSpec>,

    /// Stop the writer (for a maintenance window, or to save its cost):
    /// it flushes a final diff and commits the manifest, then its
    /// StatefulSet runs no pod. Setting it back to false starts the writer
    /// again, and it continues the same epoch from the archive's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Diff cadence.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct DiffSpec {
    /// Flush interval, a Go duration such as `30s` or `1m` (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub interval: Option<String>,
}

/// Re-base thresholds: any one that fires writes a new base snapshot in a new
/// epoch, unless `minInterval` has not passed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minInterval) || !has(self.maxInterval) || duration(self.minInterval) <= duration(self.maxInterval)").message(rules::MIN_OVER_MAX))]
pub struct SnapshotPolicySpec {
    /// Never re-base more often than this (forced snapshots excepted), e.g. `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub min_interval: Option<String>,
    /// Re-base at least this often, even on a quiet table, e.g. `24h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), length(max = 64))]
    pub max_interval: Option<String>,
    /// Re-base when a diff reaches this size, e.g. `32MiB` or `500MB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::SIZE_PATTERN), length(max = 64))]
    pub max_diff_bytes: Option<String>,
    /// Re-base when a diff reaches this fraction of the last snapshot's size
    /// (e.g. `0.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_diff_fraction: Option<f64>,
    /// Re-base after this many changes since the last snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_churn_records: Option<i64>,
    /// Re-base after changes reach this fraction of the row count (e.g. `0.25`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_churn_fraction: Option<f64>,
}

/// Manifest pruning; objects no manifest references are deleted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Keep the newest N epochs; omitted or 0 keeps every epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub keep_epochs: Option<i32>,
}

/// Artifact formats per kind.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct FormatsSpec {
    /// Snapshot formats (default `[jsonl]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 3))]
    pub snapshot: Option<Vec<Format>>,
    /// Diff formats (default `[jsonl]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 3))]
    pub diff: Option<Vec<Format>>,
}

/// An artifact format: `jsonl` (one JSON object per line, what laredo's Go
/// consumers read by default), `protobuf` (length-delimited records) or
/// `parquet` (typed columns for DuckDB, Athena and Spark, which laredo's Go
/// consumers do not read).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    /// One JSON object per line (`.jsonl`), what laredo's Go consumers read by default.
    Jsonl,
    /// Varint length-delimited protobuf records (`.pb`).
    Protobuf,
    /// Apache Parquet (`.parquet`); `parquet` diffs need `parquet` snapshots.
    Parquet,
}

impl From<Format> for snapshot_contract::config::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Jsonl => Self::Jsonl,
            Format::Protobuf => Self::Protobuf,
            Format::Parquet => Self::Parquet,
        }
    }
}

impl SnapshotTable {
    /// `schema.table`, the name the writer uses in `/status` and `/snapshot`.
    pub fn qualified_table(&self) -> String {
        format!("{}.{}", self.spec.source.schema, self.spec.source.table)
    }

    /// Whether `spec.suspend` asks for no writer pod.
    pub fn is_suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cel_tests;
