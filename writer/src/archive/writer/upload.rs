//! Putting artifact objects on every destination, and copying them to
//! destinations that lack them.

use super::artifact::Draft;
use super::{ArchiveWriter, new_id};
use crate::archive::ArchiveError;
use crate::archive::changes::ChangeBuffer;
use crate::archive::position;
use crate::archive::retention;
use crate::archive::spool::SpoolFile;
use crate::dest::{DestError, Destination, PutMode};
use crate::telemetry::internal_events::{ArtifactUploadFailed, DestinationFailed};

/// How many times an artifact moves to the next position when its key holds
/// other content (orphans of failed attempts) before giving up.
const MAX_POSITION_BUMPS: usize = 16;

impl ArchiveWriter {
    /// Puts every file on every destination; a key holding different
    /// content moves the artifact to the next position.
    pub(super) async fn upload(
        &self,
        draft: &mut Draft,
        files: &mut [SpoolFile],
        buffer: &ChangeBuffer,
    ) -> Result<(), ArchiveError> {
        for _ in 0..MAX_POSITION_BUMPS {
            let keys: Vec<String> = files
                .iter()
                .map(|f| {
                    self.settings.key_of(
                        draft.kind,
                        draft.epoch,
                        draft.from.as_deref(),
                        &draft.position,
                        f.format,
                    )
                })
                .collect();
            let results = futures::future::join_all(
                self.store
                    .destinations()
                    .iter()
                    .map(|dest| self.upload_to(dest.as_ref(), &keys, &*files)),
            )
            .await;
            let mut collision = None;
            for result in results {
                if let Some(key) = result? {
                    collision = Some(key);
                }
            }
            let Some(key) = collision else { return Ok(()) };
            let bumped = position::bump(&draft.position);
            tracing::warn!(
                artifact = %draft.id,
                key = %key,
                next_position = %bumped,
                "another object already exists under this key (an orphan of a failed attempt, or another writer); moving the artifact to the next position"
            );
            draft.position = bumped;
            self.reencode_parquet_diff(draft, files, buffer)?;
        }
        Err(ArchiveError::PositionsTaken {
            artifact: draft.id.clone(),
            tries: MAX_POSITION_BUMPS,
        })
    }

    /// Puts the files on one destination; `Some(key)` if a key holds other content.
    async fn upload_to(
        &self,
        dest: &dyn Destination,
        keys: &[String],
        files: &[SpoolFile],
    ) -> Result<Option<String>, ArchiveError> {
        for (key, file) in keys.iter().zip(files) {
            match dest.put_file(key, file.path(), PutMode::CreateNew).await {
                Ok(()) => {}
                Err(DestError::Conflict { .. }) => {
                    if !same_content(dest, key, file).await.inspect_err(|_| {
                        self.metrics.emit(DestinationFailed { dest: dest.name() })
                    })? {
                        return Ok(Some(key.clone()));
                    }
                }
                Err(error) => {
                    self.metrics.emit(ArtifactUploadFailed {
                        dest: dest.name(),
                        key,
                        error: &error,
                    });
                    return Err(error.into());
                }
            }
        }
        Ok(None)
    }

    /// Copies the objects the committed manifest references to destinations
    /// that lack them (e.g. one added to the config).
    pub(super) async fn repair_lagging(&self) -> Result<(), ArchiveError> {
        let holders = self.store.holders();
        let Some(&source_index) = holders.first() else {
            return Ok(());
        };
        let dests = self.store.destinations();
        let source = &dests[source_index];
        for (index, dest) in dests.iter().enumerate() {
            if holders.contains(&index) {
                continue;
            }
            for artifact in &self.store.committed().artifacts {
                for (_, key) in retention::artifact_keys(&self.settings.key_prefix, artifact) {
                    if dest.size(&key).await?.is_some() {
                        continue;
                    }
                    let Some(body) = source.read(&key).await? else {
                        return Err(ArchiveError::MissingObject {
                            dest: source.name().to_owned(),
                            key,
                        });
                    };
                    let path = self.spool.dir()?.join(format!("{}.copy", new_id()));
                    std::fs::write(&path, &body).map_err(|error| ArchiveError::Spool {
                        path: path.display().to_string(),
                        error,
                    })?;
                    let put = dest.put_file(&key, &path, PutMode::CreateNew).await;
                    let _ = std::fs::remove_file(&path);
                    match put {
                        Ok(()) | Err(DestError::Conflict { .. }) => {}
                        Err(error) => return Err(error.into()),
                    }
                    tracing::info!(dest = %dest.name(), key = %key, "copied a missing artifact to a lagging destination");
                }
            }
        }
        Ok(())
    }
}

async fn same_content(
    dest: &dyn Destination,
    key: &str,
    file: &SpoolFile,
) -> Result<bool, ArchiveError> {
    if dest.size(key).await? != Some(file.size) {
        return Ok(false);
    }
    Ok(dest
        .read(key)
        .await?
        .is_some_and(|body| crc32c::crc32c(&body) == file.crc32c))
}
