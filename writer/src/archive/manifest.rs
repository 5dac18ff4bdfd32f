//! `manifest.json` version 1: the index of an archive and its commit point.
//!
//! Field names and order are laredo's (reference/laredo.md §2.2), so Go
//! readers parse what we write; `columns` uses Go's field names because the Go
//! type has no JSON tags. Additive fields, ignored by Go readers:
//!
//! - `writer` (top level): identity of the writer process that committed this
//!   manifest; a compare-and-swap conflict with a manifest of another identity
//!   fences this writer.
//! - `source` (top level): the source cursor at the head artifact (exact
//!   source position, journal sequence, fan-out snapshot id), to resume the
//!   subscription on restart and continue the chain.
//! - `key_fields` (top level): the key columns the writer keyed rows and diff
//!   keys by; `read` uses them by default.
//! - `id` (artifact): a unique artifact id, also in every log line about it.
//! - `crc32c` (format entry): CRC-32C of the object, 8 lowercase hex digits;
//!   `verify` checks it.

pub mod chain;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::SourceMark;
use super::position::{Lsn, compare};

/// The manifest version we write and the newest we read.
pub const MANIFEST_VERSION: u32 = 1;

/// The largest `manifest.json` read, refused before it is read where the
/// store tells the size first. Our writer's artifact entries are about
/// 700 bytes, so this is some 380,000 artifacts: a year and more of 30 s
/// diffs without retention, which no writer should get near (it rewrites
/// the whole manifest on every commit).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// The most artifacts a manifest may list: every one is planned, checked
/// and (by `verify`) read, and a small entry is under 100 bytes.
pub const MAX_ARTIFACTS: usize = 1_000_000;

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 1; readers reject greater versions.
    pub manifest_version: u32,
    /// `schema.table`.
    pub table: String,
    /// Epoch of the newest committed snapshot.
    pub epoch: u64,
    /// Time of the last commit (RFC 3339, UTC, nanoseconds).
    pub updated_at: String,
    /// `to_position` of the last artifact.
    pub head_position: String,
    /// Artifacts in commit order, oldest first. Go writes `null` for none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub artifacts: Vec<Artifact>,
    /// Table schema, Go-style field names; omitted when unknown.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub columns: Vec<ManifestColumn>,
    /// Additive: identity of the writer that committed this manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// Additive: the source cursor at the head artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceMark>,
    /// Additive: the key columns rows and diff keys are keyed by.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub key_fields: Vec<String>,
}

/// What an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// A full base snapshot; starts an epoch.
    Snapshot,
    /// The net changes since the previous artifact of the epoch.
    Diff,
}

impl ArtifactKind {
    /// `snapshot` or `diff`, as in the manifest and the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Snapshot => "snapshot",
            ArtifactKind::Diff => "diff",
        }
    }
}

/// One artifact entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Snapshot or diff.
    pub kind: ArtifactKind,
    /// The epoch it belongs to.
    pub epoch: u64,
    /// A diff's exclusive lower bound; `null` for snapshots (always written).
    pub from_position: Option<String>,
    /// A snapshot's watermark, or a diff's inclusive upper bound.
    pub to_position: String,
    /// When it was written (RFC 3339, UTC, nanoseconds).
    pub created_at: String,
    /// Rows (snapshots); omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub row_count: u64,
    /// Net changes (diffs); omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub change_count: u64,
    /// One object per format id.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub formats: BTreeMap<String, FormatRef>,
    /// Additive: unique artifact id, also in the writer's log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Where one format of an artifact is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatRef {
    /// URI on the first destination (readers recompute keys instead).
    pub uri: String,
    /// Object size.
    pub size_bytes: u64,
    /// Additive: CRC-32C of the object as 8 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
}

impl FormatRef {
    /// Whether an object of `len` bytes has the recorded size.
    pub fn check_size(&self, len: usize) -> Result<(), String> {
        if len as u64 == self.size_bytes {
            Ok(())
        } else {
            Err(format!(
                "has {len} bytes, the manifest records {}",
                self.size_bytes
            ))
        }
    }

    /// The recorded CRC-32C, if any (Go writers record none); one that is
    /// not 8 hex digits is an error.
    pub fn recorded_crc32c(&self) -> Result<Option<u32>, String> {
        self.crc32c
            .as_deref()
            .map(|text| {
                u32::from_str_radix(text, 16)
                    .ok()
                    .filter(|_| text.len() == 8)
                    .ok_or_else(|| format!("the manifest records an invalid CRC-32C {text:?}"))
            })
            .transpose()
    }
}

/// Whether an object's CRC-32C is the recorded one.
pub fn check_crc32c(actual: u32, recorded: u32) -> Result<(), String> {
    if actual == recorded {
        Ok(())
    } else {
        Err(format!(
            "has CRC-32C {actual:08x}, the manifest records {recorded:08x}: the object is corrupt"
        ))
    }
}

/// A column of the table schema, with the Go struct's field names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)] // each field is the Go field of the same name
pub struct ManifestColumn {
    pub name: String,
    #[serde(rename = "Type")]
    pub data_type: String,
    pub nullable: bool,
    pub primary_key: bool,
    pub ordinal_position: i64,
    pub primary_key_ordinal: i64,
    pub default_value: Option<String>,
    pub max_length: i64,
    #[serde(rename = "TypeOID")]
    pub type_oid: u32,
}

impl ManifestColumn {
    /// The manifest form of a handshake column.
    pub fn from_definition(column: &laredo_proto::replication::v1::ColumnDefinition) -> Self {
        Self {
            name: column.column_name.clone(),
            data_type: column.data_type.clone(),
            nullable: !column.not_null,
            primary_key: column.is_primary_key,
            ordinal_position: i64::from(column.ordinal_position),
            primary_key_ordinal: i64::from(column.primary_key_ordinal),
            ..Self::default()
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the manifest's shape; names the field.
    #[error("manifest.json is invalid at {path}")]
    Invalid {
        /// JSON path of the offending field.
        path: String,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// Written by a newer laredo format.
    #[error(
        "manifest.json has manifest_version {0}; this reader supports up to {MANIFEST_VERSION}"
    )]
    UnsupportedVersion(u32),
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("has {0} bytes, more than the {MAX_MANIFEST_BYTES} a reader accepts")]
    TooLarge(u64),
    /// Lists more than [`MAX_ARTIFACTS`].
    #[error("lists {0} artifacts, more than the {MAX_ARTIFACTS} a reader accepts")]
    TooManyArtifacts(usize),
    /// Parses, but does not hold together ([`chain`]): a rebuild from it
    /// would answer from a stale or partial chain.
    #[error("does not hold together: {}", chain::list(.0))]
    Inconsistent(Vec<chain::ChainProblem>),
}

impl Manifest {
    /// An empty manifest for `table`, before the first commit.
    pub fn new(table: &str) -> Self {
        Self {
            manifest_version: MANIFEST_VERSION,
            table: table.to_owned(),
            epoch: 0,
            updated_at: String::new(),
            head_position: String::new(),
            artifacts: Vec::new(),
            columns: Vec::new(),
            writer: None,
            source: None,
            key_fields: Vec::new(),
        }
    }

    /// Parses stored bytes, rejecting versions this reader does not know.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len() as u64));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let manifest: Manifest =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ManifestError::Invalid {
                path: e.path().to_string(),
                source: e.into_inner(),
            })?;
        if manifest.manifest_version > MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion(manifest.manifest_version));
        }
        if manifest.artifacts.len() > MAX_ARTIFACTS {
            return Err(ManifestError::TooManyArtifacts(manifest.artifacts.len()));
        }
        Ok(manifest)
    }

    /// The stored form: JSON indented by two spaces, as the Go writer writes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The last snapshot in commit order.
    pub fn last_snapshot(&self) -> Option<&Artifact> {
        self.artifacts
            .iter()
            .rev()
            .find(|a| a.kind == ArtifactKind::Snapshot)
    }

    /// The last artifact in commit order.
    pub fn head(&self) -> Option<&Artifact> {
        self.artifacts.last()
    }

    /// Diffs committed after the last snapshot of the head epoch.
    pub fn diffs_since_snapshot(&self) -> usize {
        self.artifacts
            .iter()
            .rev()
            .take_while(|a| a.kind == ArtifactKind::Diff)
            .count()
    }

    /// Drops every artifact of epochs older than the newest `keep_epochs`
    /// (0 keeps everything) and returns the dropped ones.
    pub fn prune(&mut self, keep_epochs: u32) -> Vec<Artifact> {
        let Some(oldest_kept) = self.oldest_kept_epoch(keep_epochs) else {
            return Vec::new();
        };
        let (kept, dropped) = std::mem::take(&mut self.artifacts)
            .into_iter()
            .partition(|a| a.epoch >= oldest_kept);
        self.artifacts = kept;
        dropped
    }

    /// The oldest epoch retention keeps with `keep_epochs` (`None`: 0 keeps
    /// every epoch); objects of older epochs are retired.
    pub fn oldest_kept_epoch(&self, keep_epochs: u32) -> Option<u64> {
        (keep_epochs > 0).then(|| self.epoch.saturating_sub(u64::from(keep_epochs) - 1))
    }

    /// Orders two manifests of the same archive by how far they have got:
    /// epoch, then head position (LSN order), then artifact count, then
    /// commit time. Used on open to pick the most advanced destination.
    pub fn progress_cmp(&self, other: &Manifest) -> std::cmp::Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare(&self.head_position, &other.head_position))
            .then_with(|| self.updated_at.cmp(&other.updated_at))
            .then_with(|| self.artifacts.len().cmp(&other.artifacts.len()))
    }

    /// Whether the head position parses as an LSN (false for Go archives whose
    /// head is `""` or `<nil>`).
    pub fn head_is_lsn(&self) -> bool {
        Lsn::parse(&self.head_position).is_some()
    }
}

/// RFC 3339 with nanoseconds in UTC, trailing zeros trimmed, as Go's
/// `time.RFC3339Nano`.
pub fn timestamp(at: jiff::Timestamp) -> String {
    at.to_string()
}

/// An artifact with one `jsonl` format and no other details, for tests.
#[cfg(test)]
pub(crate) fn sample_artifact(
    kind: ArtifactKind,
    epoch: u64,
    from: Option<&str>,
    to: &str,
) -> Artifact {
    let format = FormatRef {
        uri: String::new(),
        size_bytes: 0,
        crc32c: None,
    };
    Artifact {
        kind,
        epoch,
        from_position: from.map(str::to_owned),
        to_position: to.to_owned(),
        created_at: String::new(),
        row_count: 0,
        change_count: 0,
        formats: [("jsonl".to_owned(), format)].into(),
        id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MANIFEST: &str = r#"{
  "manifest_version": 1,
  "table": "public.users",
  "epoch": 2,
  "updated_at": "2026-08-21T10:00:00.123456789Z",
  "head_position": "",
  "artifacts": [
    {
      "kind": "snapshot",
      "epoch": 1,
      "from_position": null,
      "to_position": "",
      "created_at": "2026-08-21T09:00:00Z",
      "row_count": 3,
      "formats": {
        "jsonl": {
          "uri": "file:///data/users/epoch=1/snapshot-0.jsonl",
          "size_bytes": 120
        }
      }
    },
    {
      "kind": "diff",
      "epoch": 1,
      "from_position": "",
      "to_position": "",
      "created_at": "2026-08-21T09:00:30Z",
      "change_count": 2,
      "formats": {
        "jsonl": {
          "uri": "file:///data/users/epoch=1/diff-0-0.jsonl",
          "size_bytes": 80
        }
      }
    }
  ],
  "columns": [
    {
      "Name": "id",
      "Type": "bigint",
      "Nullable": false,
      "PrimaryKey": true,
      "OrdinalPosition": 1,
      "PrimaryKeyOrdinal": 1,
      "DefaultValue": null,
      "MaxLength": 0,
      "TypeOID": 20
    }
  ]
}"#;

    #[test]
    fn reads_a_go_manifest_and_writes_it_back_field_for_field() {
        let manifest = Manifest::parse(GO_MANIFEST.as_bytes()).unwrap();
        assert_eq!(manifest.artifacts.len(), 2);
        assert_eq!(manifest.artifacts[1].from_position.as_deref(), Some(""));
        assert_eq!(manifest.columns[0].type_oid, 20);
        assert_eq!(String::from_utf8(manifest.to_json()).unwrap(), GO_MANIFEST);
    }

    #[test]
    fn rejects_newer_versions_and_names_bad_fields() {
        let newer = GO_MANIFEST.replace("\"manifest_version\": 1", "\"manifest_version\": 2");
        assert!(matches!(
            Manifest::parse(newer.as_bytes()),
            Err(ManifestError::UnsupportedVersion(2))
        ));
        let bad = GO_MANIFEST.replace("\"epoch\": 2", "\"epoch\": \"two\"");
        let err = Manifest::parse(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("epoch"), "{err}");
        let null_artifacts = r#"{"manifest_version":1,"table":"t","epoch":0,"updated_at":"","head_position":"","artifacts":null}"#;
        assert!(
            Manifest::parse(null_artifacts.as_bytes())
                .unwrap()
                .artifacts
                .is_empty()
        );
    }

    #[test]
    fn prune_keeps_the_newest_epochs() {
        let mut manifest = Manifest::parse(GO_MANIFEST.as_bytes()).unwrap();
        let mut third = manifest.artifacts[0].clone();
        third.epoch = 2;
        manifest.artifacts.push(third);
        assert!(manifest.prune(0).is_empty());
        let dropped = manifest.prune(1);
        assert_eq!(dropped.len(), 2);
        assert_eq!(manifest.artifacts.len(), 1);
    }

    #[test]
    fn timestamps_look_like_go_rfc3339nano() {
        let at: jiff::Timestamp = "2026-08-21T10:00:00.120Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-08-21T10:00:00.12Z");
        let at: jiff::Timestamp = "2026-08-21T10:00:00Z".parse().unwrap();
        assert_eq!(timestamp(at), "2026-08-21T10:00:00Z");
    }
}
