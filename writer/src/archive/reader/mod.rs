//! Rebuilding a table from an archive, at its head, as of a position or as
//! of a time ([`plan`] says which artifacts).
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
use super::rebuilt::{RebuiltRows, RebuiltTable, load_snapshot};
use super::retention::artifact_key;
use crate::config::Format;
use crate::dest::Destination;
use crate::table::KeySpec;

/// Objects fetched concurrently while rebuilding.
const FETCH_CONCURRENCY: usize = 8;

pub mod plan;

pub use plan::{AsOf, Plan, plan, plan_as_of};

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
        fetch(self.dest.as_ref(), key, limit).await
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
        let as_of = at.map_or(AsOf::Head, AsOf::Position);
        self.rebuild_as_of(as_of, key, preference).await
    }

    /// Rebuilds the table as of `as_of` (the head, a position or a time),
    /// keying snapshot rows by `key`; formats are tried in `preference`
    /// order.
    pub async fn rebuild_as_of(
        &self,
        as_of: AsOf<'_>,
        key: &KeySpec,
        preference: &[Format],
    ) -> Result<RebuiltTable, ArchiveError> {
        self.check_chain()?;
        let nothing = |reason: String| ArchiveError::Unreadable {
            what: "rebuild".to_owned(),
            reason,
        };
        let plan = plan_as_of(&self.manifest, as_of)
            .map_err(|error| nothing(error.to_string()))?
            .ok_or_else(|| {
                nothing(match as_of {
                    AsOf::Head => "the manifest lists no snapshot".to_owned(),
                    AsOf::Position(at) => format!("no snapshot at or before position {at:?}"),
                    AsOf::Time(at) => format!(
                        "no snapshot committed at or before {at} (the oldest artifact listed was created at {})",
                        self.manifest
                            .artifacts
                            .first()
                            .map_or("(none)", |a| a.created_at.as_str())
                    ),
                })
            })?;
        let mut objects = Vec::with_capacity(plan.diffs.len() + 1);
        for index in std::iter::once(plan.snapshot).chain(plan.diffs.iter().copied()) {
            let artifact = &self.manifest.artifacts[index];
            let format = Self::choose_format(artifact, preference)?;
            objects.push((index, format));
        }
        // Fetching, checking and decoding run ahead while earlier objects
        // are applied in order: each object loads in a task of its own
        // (decoding holds the task it runs in, `blocking::run`), in the
        // caller's span.
        let mut loaded = futures::stream::iter(objects.into_iter().map(|(index, format)| {
            let load = self.object_load(index, format, key);
            async move {
                let object_key = load.object_key.clone();
                tokio::spawn(tracing::Instrument::in_current_span(load.run()))
                    .await
                    .unwrap_or_else(|panic| {
                        Err(ArchiveError::Artifact {
                            key: object_key,
                            error: FormatError::at(0, format!("loading panicked: {panic}")),
                        })
                    })
            }
        }))
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
        self.object_load(index, format, key).run().await
    }

    /// What [`load`](Self::load) needs, owned, to run in a task of its own.
    fn object_load(&self, index: usize, format: Format, key: &KeySpec) -> ObjectLoad {
        let artifact = self.manifest.artifacts[index].clone();
        ObjectLoad {
            dest: Arc::clone(&self.dest),
            object_key: artifact_key(&self.key_prefix, &artifact, format),
            artifact,
            format,
            key: key.clone(),
        }
    }
}

/// Fetches one object of at most `limit` bytes from `dest`, failing if it
/// is missing.
async fn fetch(dest: &dyn Destination, key: &str, limit: u64) -> Result<Bytes, ArchiveError> {
    match dest.read_bounded(key, limit).await? {
        Some(body) => Ok(body),
        None => Err(ArchiveError::MissingObject {
            dest: dest.name().to_owned(),
            key: key.to_owned(),
        }),
    }
}

/// One object of an archive to load ([`ArchiveReader::load`]).
struct ObjectLoad {
    dest: Arc<dyn Destination>,
    object_key: String,
    artifact: Artifact,
    format: Format,
    key: KeySpec,
}

impl ObjectLoad {
    async fn run(self) -> Result<Loaded, ArchiveError> {
        let Self {
            dest,
            object_key,
            artifact,
            format,
            key,
        } = self;
        let bad = |key: &str, error: FormatError| ArchiveError::Artifact {
            key: key.to_owned(),
            error,
        };
        let Some(recorded) = artifact.formats.get(format.id()) else {
            let message = format!("the manifest lists no {} object", format.id());
            return Err(bad(&object_key, FormatError::at(0, message)));
        };
        let body = fetch(dest.as_ref(), &object_key, recorded.size_bytes).await?;
        let expected_crc = recorded
            .check_size(body.len())
            .and_then(|()| recorded.recorded_crc32c())
            .map_err(|message| bad(&object_key, FormatError::at(0, message)))?;
        let (kind, row_count) = (artifact.kind, artifact.row_count);
        let diff_key = object_key.clone();
        crate::blocking::run(move || match kind {
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
                // A Parquet diff's rows are decoded into a buffer of
                // `Struct`s of their own, which the table then holds.
                let (body, records) = match format {
                    Format::Parquet => format::parquet::diff_records(&body, &key)?,
                    _ => {
                        let mut records = Vec::new();
                        format::decode_diff(format, &body, |record| {
                            records.push(record);
                            Ok(())
                        })?;
                        (body, records)
                    }
                };
                Ok(Loaded::Diff {
                    format,
                    key: diff_key,
                    body,
                    records,
                })
            }
        })
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
