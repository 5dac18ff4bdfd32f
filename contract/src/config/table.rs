//! One table's block: its source, cadence, retention, destinations, formats
//! and event sinks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DestinationConfig, EventSinkConfig, SourceConfig, default_value, is_default};
use crate::units::{ByteSize, GoDuration};

/// One table: where it comes from, how often it is written and where to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The fan-out subscription.
    pub source: SourceConfig,
    /// Prefix of every key this table writes, relative to each destination
    /// (default `<table>/`, as laredo-snapshotter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Columns whose values identify a row (default `[id]`).
    #[serde(
        default = "default_key_fields",
        skip_serializing_if = "is_default_key_fields"
    )]
    pub key_fields: Vec<String>,
    /// Diff cadence.
    #[serde(default, skip_serializing_if = "is_default")]
    pub diff: DiffConfig,
    /// Re-base thresholds; an omitted key disables its trigger.
    #[serde(default, skip_serializing_if = "is_default")]
    pub snapshot: SnapshotPolicyConfig,
    /// How many epochs the manifest keeps.
    #[serde(default, skip_serializing_if = "is_default")]
    pub retention: RetentionConfig,
    /// Where artifacts go; an artifact is durable once on every one.
    pub destinations: Vec<DestinationConfig>,
    /// Artifact formats per kind.
    #[serde(default, skip_serializing_if = "is_default")]
    pub formats: FormatsConfig,
    /// Advisory notifications after each manifest commit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSinkConfig>,
}

impl TableConfig {
    /// A table from `source` to `destinations` with every other key at its
    /// default.
    pub fn new(source: SourceConfig, destinations: Vec<DestinationConfig>) -> Self {
        Self {
            source,
            key_prefix: None,
            key_fields: default_key_fields(),
            diff: DiffConfig::default(),
            snapshot: SnapshotPolicyConfig::default(),
            retention: RetentionConfig::default(),
            destinations,
            formats: FormatsConfig::default(),
            events: Vec::new(),
        }
    }

    /// `schema.table`, the name used in `/status`, metrics and the manifest.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.source.schema, self.source.table)
    }

    /// The key prefix in effect: the configured one, or `<table>/`.
    pub fn effective_key_prefix(&self) -> String {
        self.key_prefix
            .clone()
            .unwrap_or_else(|| default_key_prefix(&self.source.table))
    }

    /// What `check-config` warns of in the table's formats: each kind of
    /// artifact written in no format laredo's Go consumers read (they read
    /// `jsonl` and `protobuf`, not `parquet`). Valid, but those consumers
    /// would see no archive.
    pub fn format_warnings(&self) -> Vec<String> {
        [
            ("snapshots", &self.formats.snapshot),
            ("diffs", &self.formats.diff),
        ]
        .into_iter()
        .filter(|(_, formats)| !formats.iter().any(|f| f.go_readable()))
        .map(|(kind, formats)| {
            let ids: Vec<&str> = formats.iter().map(|f| f.id()).collect();
            format!(
                "table {}: {kind} are written only as {}, which laredo's Go consumers (cold replay, the archive source, reconstruct) do not read; add jsonl or protobuf for them",
                self.qualified_name(),
                ids.join(", ")
            )
        })
        .collect()
    }
}

/// The key prefix of a table that sets none: `<table>/`, as
/// laredo-snapshotter.
pub fn default_key_prefix(table: &str) -> String {
    format!("{table}/")
}

default_value!(default_key_fields, is_default_key_fields: Vec<String> = vec!["id".to_owned()]);

/// `diff:` — how often buffered changes are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffConfig {
    /// Flush interval (default `30s`).
    #[serde(
        default = "default_diff_interval",
        skip_serializing_if = "is_default_diff_interval"
    )]
    pub interval: GoDuration,
}

impl Default for DiffConfig {
    fn default() -> Self {
        Self {
            interval: default_diff_interval(),
        }
    }
}

default_value!(default_diff_interval, is_default_diff_interval: GoDuration = GoDuration(Duration::from_secs(30)));

/// `snapshot:` — re-base thresholds. Any one that fires writes a new base
/// snapshot in a new epoch, unless `min_interval` has not passed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPolicyConfig {
    /// Never re-base more often than this (forced snapshots excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<GoDuration>,
    /// Re-base at least this often, even on a quiet table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<GoDuration>,
    /// Re-base when a diff reaches this size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_diff_bytes: Option<ByteSize>,
    /// Re-base when a diff reaches this fraction of the last snapshot's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_diff_fraction: Option<f64>,
    /// Re-base after this many changes since the last snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_churn_records: Option<u64>,
    /// Re-base after changes reach this fraction of the row count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_churn_fraction: Option<f64>,
}

/// `retention:` — manifest pruning; objects no manifest references are deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep the newest N epochs; omitted or 0 keeps every epoch (laredo's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_epochs: Option<u32>,
}

/// `formats:` — the artifact formats written for each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatsConfig {
    /// Snapshot formats (default `[jsonl]`).
    #[serde(
        default = "default_formats",
        skip_serializing_if = "is_default_formats"
    )]
    pub snapshot: Vec<Format>,
    /// Diff formats (default `[jsonl]`).
    #[serde(
        default = "default_formats",
        skip_serializing_if = "is_default_formats"
    )]
    pub diff: Vec<Format>,
}

impl Default for FormatsConfig {
    fn default() -> Self {
        Self {
            snapshot: default_formats(),
            diff: default_formats(),
        }
    }
}

default_value!(default_formats, is_default_formats: Vec<Format> = vec![Format::Jsonl]);

/// An artifact format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line (`.jsonl`).
    Jsonl,
    /// Varint length-delimited protobuf records (`.pb`).
    Protobuf,
    /// Apache Parquet with typed columns (`.parquet`), for DuckDB, Athena,
    /// Spark and the like; laredo's Go consumers do not read it.
    Parquet,
}

impl Format {
    /// The format id used in the manifest (`jsonl`, `protobuf`, `parquet`).
    pub fn id(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Protobuf => "protobuf",
            Format::Parquet => "parquet",
        }
    }

    /// The file extension without the dot (`jsonl`, `pb`, `parquet`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Protobuf => "pb",
            Format::Parquet => "parquet",
        }
    }

    /// Whether laredo's Go consumers (cold replay, the archive source,
    /// `reconstruct`) read this format.
    pub fn go_readable(self) -> bool {
        matches!(self, Format::Jsonl | Format::Protobuf)
    }

    /// The format with this manifest id.
    pub fn from_id(id: &str) -> Option<Self> {
        [Format::Jsonl, Format::Protobuf, Format::Parquet]
            .into_iter()
            .find(|f| f.id() == id)
    }
}
