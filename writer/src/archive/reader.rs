//! Rebuilding a table from an archive, at its head or as of a position.
//!
//! The plan links artifacts by epoch and manifest (commit) order, the robust
//! linkage of reference/laredo.md §4.1, never by following `from → to`
//! strings, so Go-written archives (`""` positions, `from == to` diffs,
//! snapshots whose position went backwards) are read without looping:
//!
//! - head: the last snapshot in manifest order, then every later diff of its
//!   epoch;
//! - `at P`: the snapshot with the greatest position `≤ P` (LSN order; on a
//!   tie the later one), then the diffs of its epoch after it while their
//!   `to_position ≤ P` (a diff straddling `P` ends the plan).
//!
//! The table itself, and how its snapshot is loaded, is in [`super::rebuilt`].
//!
//! Before anything is planned the manifest must hold together
//! ([`chain::check`]); every object is read bounded by the size the manifest
//! records (a larger one is refused before it is read), checked against
//! its CRC-32C, and decoded. A snapshot must hold exactly `row_count` rows,
//! each with every key column and no key twice. [`ArchiveReader::load`] is
//! that whole path for one object; `verify` runs it on every object.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use super::ArchiveError;
use super::format::{self, DiffRecord, FormatError};
use super::keys::manifest_key;
use super::manifest::chain;
use super::manifest::{
    Artifact, ArtifactKind, MAX_MANIFEST_BYTES, Manifest, ManifestError, check_crc32c,
};
use super::position::compare;
use super::rebuilt::{RebuiltRows, RebuiltTable, load_snapshot};
use super::retention::artifact_key;
use crate::blocking::off_runtime;
use crate::config::Format;
use crate::dest::Destination;
use crate::table::KeySpec;

/// Objects fetched concurrently while rebuilding.
const FETCH_CONCURRENCY: usize = 8;

/// Which artifacts a rebuild reads: indices into `manifest.artifacts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The base snapshot.
    pub snapshot: usize,
    /// The diffs, in the order to apply them.
    pub diffs: Vec<usize>,
    /// The position the rebuilt table is at.
    pub position: String,
}

/// Plans a rebuild (module docs); `None` when no snapshot qualifies.
pub fn plan(manifest: &Manifest, at: Option<&str>) -> Option<Plan> {
    let artifacts = &manifest.artifacts;
    let is_snapshot = |a: &&Artifact| a.kind == ArtifactKind::Snapshot;
    let snapshot = match at {
        None => artifacts.iter().rposition(|a| is_snapshot(&a))?,
        Some(at) => {
            artifacts
                .iter()
                .enumerate()
                .filter(|(_, a)| is_snapshot(a) && compare(&a.to_position, at).is_le())
                .max_by(|(i, a), (j, b)| compare(&a.to_position, &b.to_position).then(i.cmp(j)))?
                .0
        }
    };
    let base = &artifacts[snapshot];
    let mut diffs = Vec::new();
    let mut position = base.to_position.clone();
    for (index, artifact) in artifacts.iter().enumerate().skip(snapshot + 1) {
        if artifact.epoch != base.epoch {
            continue;
        }
        if artifact.kind == ArtifactKind::Snapshot {
            break;
        }
        if at.is_some_and(|at| compare(&artifact.to_position, at).is_gt()) {
            break;
        }
        diffs.push(index);
        position.clone_from(&artifact.to_position);
    }
    Some(Plan {
        snapshot,
        diffs,
        position,
    })
}

/// Reads one archive.
#[derive(Debug, Clone)]
pub struct ArchiveReader {
    dest: Arc<dyn Destination>,
    key_prefix: String,
    manifest: Manifest,
}

impl ArchiveReader {
    /// A reader over an already loaded manifest.
    pub fn new(dest: Arc<dyn Destination>, key_prefix: &str, manifest: Manifest) -> Self {
        Self {
            dest,
            key_prefix: key_prefix.to_owned(),
            manifest,
        }
    }

    /// Loads `<key_prefix>manifest.json` from `dest`, refusing one larger
    /// than [`MAX_MANIFEST_BYTES`] before reading it.
    pub async fn open(dest: Arc<dyn Destination>, key_prefix: &str) -> Result<Self, ArchiveError> {
        let key = manifest_key(key_prefix);
        let stored = dest
            .read_bounded(&key, MAX_MANIFEST_BYTES)
            .await?
            .ok_or_else(|| ArchiveError::MissingObject {
                dest: dest.name().to_owned(),
                key: key.clone(),
            })?;
        let manifest = Manifest::parse(&stored).map_err(|error| ArchiveError::Manifest {
            dest: dest.name().to_owned(),
            key,
            error,
        })?;
        Ok(Self::new(dest, key_prefix, manifest))
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The destination read from.
    pub fn destination(&self) -> &Arc<dyn Destination> {
        &self.dest
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Fetches one object of at most `limit` bytes (a larger one is
    /// refused before it is read), failing if it is missing.
    pub async fn fetch(&self, key: &str, limit: u64) -> Result<Bytes, ArchiveError> {
        match self.dest.read_bounded(key, limit).await? {
            Some(body) => Ok(body),
            None => Err(ArchiveError::MissingObject {
                dest: self.dest.name().to_owned(),
                key: key.to_owned(),
            }),
        }
    }

    /// The format to read an artifact in: the first of `preference` it lists.
    pub fn choose_format(
        artifact: &Artifact,
        preference: &[Format],
    ) -> Result<Format, ArchiveError> {
        preference
            .iter()
            .copied()
            .find(|f| artifact.formats.contains_key(f.id()))
            .ok_or_else(|| ArchiveError::Unreadable {
                what: format!(
                    "artifact epoch={} to={:?}",
                    artifact.epoch, artifact.to_position
                ),
                reason: format!(
                    "lists formats {:?}, none of which is readable here ({:?})",
                    artifact.formats.keys().collect::<Vec<_>>(),
                    preference.iter().map(|f| f.id()).collect::<Vec<_>>()
                ),
            })
    }

    /// Rebuilds the table at the head (`at = None`) or as of `at`, keying
    /// snapshot rows by `key`; formats are tried in `preference` order.
    pub async fn rebuild(
        &self,
        at: Option<&str>,
        key: &KeySpec,
        preference: &[Format],
    ) -> Result<RebuiltTable, ArchiveError> {
        self.check_chain()?;
        let plan = plan(&self.manifest, at).ok_or_else(|| ArchiveError::Unreadable {
            what: "rebuild".to_owned(),
            reason: match at {
                Some(at) => format!("no snapshot at or before position {at:?}"),
                None => "the manifest lists no snapshot".to_owned(),
            },
        })?;
        let mut objects = Vec::with_capacity(plan.diffs.len() + 1);
        for index in std::iter::once(plan.snapshot).chain(plan.diffs.iter().copied()) {
            let artifact = &self.manifest.artifacts[index];
            let format = Self::choose_format(artifact, preference)?;
            objects.push((index, format));
        }
        // Fetching, checking and decoding run ahead, off the runtime, while
        // earlier objects are applied in order.
        let mut loaded = futures::stream::iter(
            objects
                .into_iter()
                .map(|(index, format)| self.load(index, format, key)),
        )
        .buffered(FETCH_CONCURRENCY);
        let mut table = RebuiltTable {
            epoch: self.manifest.artifacts[plan.snapshot].epoch,
            ..RebuiltTable::default()
        };
        while let Some(loaded) = loaded.next().await {
            match loaded? {
                Loaded::Snapshot(rows) => table.rows = rows,
                Loaded::Diff {
                    format,
                    key,
                    body,
                    records,
                } => table
                    .apply_diff(format, body, records)
                    .map_err(|error| ArchiveError::Artifact { key, error })?,
            }
            table.artifacts_read += 1;
        }
        table.position = plan.position;
        Ok(table)
    }

    /// Refuses a manifest that does not hold together ([`chain::check`]).
    pub fn check_chain(&self) -> Result<(), ArchiveError> {
        let problems = chain::check(&self.manifest);
        if problems.is_empty() {
            return Ok(());
        }
        Err(ArchiveError::Manifest {
            dest: self.dest.name().to_owned(),
            key: manifest_key(&self.key_prefix),
            error: ManifestError::Inconsistent(problems),
        })
    }

    /// Fetches the object of artifact `index` in `format` (which it must
    /// list), checks its size and checksum against the manifest, and decodes
    /// it: a snapshot into rows keyed by `key`, which must be `row_count`
    /// rows with every key column and no key twice. Errors name the object.
    pub(super) async fn load(
        &self,
        index: usize,
        format: Format,
        key: &KeySpec,
    ) -> Result<Loaded, ArchiveError> {
        let artifact = &self.manifest.artifacts[index];
        let object_key = artifact_key(&self.key_prefix, artifact, format);
        let bad = |key: &str, error: FormatError| ArchiveError::Artifact {
            key: key.to_owned(),
            error,
        };
        let Some(recorded) = artifact.formats.get(format.id()) else {
            let message = format!("the manifest lists no {} object", format.id());
            return Err(bad(&object_key, FormatError::at(0, message)));
        };
        let body = self.fetch(&object_key, recorded.size_bytes).await?;
        let expected_crc = recorded
            .check_size(body.len())
            .and_then(|()| recorded.recorded_crc32c())
            .map_err(|message| bad(&object_key, FormatError::at(0, message)))?;
        let (kind, row_count) = (artifact.kind, artifact.row_count);
        let key = key.clone();
        let diff_key = object_key.clone();
        off_runtime(move || match kind {
            ArtifactKind::Snapshot => {
                let rows = load_snapshot(format, &body, &key, expected_crc)?;
                if rows.len() as u64 != row_count {
                    return Err(FormatError::at(
                        0,
                        format!(
                            "holds {} rows, the manifest records row_count {row_count}",
                            rows.len()
                        ),
                    ));
                }
                Ok(Loaded::Snapshot(rows))
            }
            ArtifactKind::Diff => {
                if let Some(expected) = expected_crc {
                    check_crc32c(crc32c::crc32c(&body), expected)
                        .map_err(|message| FormatError::at(0, message))?;
                }
                let mut records = Vec::new();
                format::decode_diff(format, &body, |record| {
                    records.push(record);
                    Ok(())
                })?;
                Ok(Loaded::Diff {
                    format,
                    key: diff_key,
                    body,
                    records,
                })
            }
        })
        .await
        .unwrap_or_else(|panic| Err(FormatError::at(0, format!("decoding panicked: {panic}"))))
        .map_err(|error| bad(&object_key, error))
    }
}

/// One object of a rebuild, read and decoded.
pub(super) enum Loaded {
    /// The base snapshot's rows.
    Snapshot(RebuiltRows),
    /// A diff's records, whose rows are ranges of `body`.
    Diff {
        format: Format,
        key: String,
        body: Bytes,
        records: Vec<DiffRecord>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::manifest::sample_artifact;

    fn artifact(kind: ArtifactKind, epoch: u64, to: &str) -> Artifact {
        let from = (kind == ArtifactKind::Diff).then_some(to);
        sample_artifact(kind, epoch, from, to)
    }

    #[test]
    fn plans_by_epoch_and_order_even_with_go_positions() {
        use ArtifactKind::*;
        let mut manifest = Manifest::new("t");
        manifest.artifacts = vec![
            artifact(Snapshot, 1, ""),
            artifact(Diff, 1, ""),
            artifact(Diff, 1, ""),
            artifact(Snapshot, 2, ""),
            artifact(Diff, 2, ""),
        ];
        assert_eq!(
            plan(&manifest, None),
            Some(Plan {
                snapshot: 3,
                diffs: vec![4],
                position: String::new()
            })
        );
        // Equal positions: the later snapshot wins a tie.
        assert_eq!(plan(&manifest, Some("")).map(|p| p.snapshot), Some(3));
    }

    #[test]
    fn plans_as_of_a_position() {
        use ArtifactKind::*;
        let mut manifest = Manifest::new("t");
        manifest.artifacts = vec![
            artifact(Snapshot, 1, "0/10"),
            artifact(Diff, 1, "0/20"),
            artifact(Diff, 1, "0/30"),
            artifact(Snapshot, 2, "0/40"),
            artifact(Diff, 2, "0/50"),
        ];
        let at = |p: &str| plan(&manifest, Some(p)).map(|p| (p.snapshot, p.diffs, p.position));
        assert_eq!(at("0/25"), Some((0, vec![1], "0/20".into())));
        assert_eq!(at("0/30"), Some((0, vec![1, 2], "0/30".into())));
        assert_eq!(at("0/45"), Some((3, vec![], "0/40".into())));
        assert_eq!(at("0/FF"), Some((3, vec![4], "0/50".into())));
        assert_eq!(at("0/5"), None);
        assert_eq!(at(""), None);
    }
}
