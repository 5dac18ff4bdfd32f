//! Retention: the manifest keeps the newest `retention.keep_epochs` epochs
//! ([`Manifest::prune`](super::Manifest::prune)); the objects of dropped
//! epochs are deleted from each destination only after that destination
//! stores a manifest that no longer references them (never before: a reader
//! of the previous manifest may still be fetching them).
//!
//! Deleting a dropped epoch removes every object under `<prefix>epoch=N/`,
//! not only the ones the manifest listed, so orphans of crashed or failed
//! attempts (objects put before a manifest commit that never happened) are
//! removed with their epoch. Orphans in epochs the manifest still keeps are
//! left alone: a concurrent writer's in-flight artifact looks exactly like an
//! orphan, and deleting it could break that writer's next commit. With
//! retention off (`keep_epochs` omitted or 0) nothing is ever deleted.

use std::collections::BTreeSet;

use super::keys::{diff_key, epoch_prefix, snapshot_key};
use super::manifest::{Artifact, ArtifactKind};
use crate::config::Format;

/// One deletion, run on a destination after its manifest dropped the object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deletion {
    /// One object.
    Key(String),
    /// Every object under an epoch prefix (listed, then deleted).
    EpochPrefix(String),
}

/// The keys of one artifact, one per format it lists (unknown format ids
/// are skipped: their objects go with the epoch prefix).
pub fn artifact_keys(key_prefix: &str, artifact: &Artifact) -> Vec<(Format, String)> {
    artifact
        .formats
        .keys()
        .filter_map(|id| Format::from_id(id))
        .map(|format| (format, artifact_key(key_prefix, artifact, format)))
        .collect()
}

/// The key of one format of an artifact, recomputed from its fields as Go
/// readers do.
pub fn artifact_key(key_prefix: &str, artifact: &Artifact, format: Format) -> String {
    match artifact.kind {
        ArtifactKind::Snapshot => {
            snapshot_key(key_prefix, artifact.epoch, &artifact.to_position, format)
        }
        ArtifactKind::Diff => diff_key(
            key_prefix,
            artifact.epoch,
            artifact.from_position.as_deref(),
            &artifact.to_position,
            format,
        ),
    }
}

/// What to delete once a manifest without `dropped` is stored: their objects
/// and the whole prefix of every epoch no kept artifact belongs to.
pub fn plan(key_prefix: &str, dropped: &[Artifact], kept: &[Artifact]) -> Vec<Deletion> {
    let kept_epochs: BTreeSet<u64> = kept.iter().map(|a| a.epoch).collect();
    let mut deletions: BTreeSet<Deletion> = BTreeSet::new();
    for artifact in dropped {
        for (_, key) in artifact_keys(key_prefix, artifact) {
            deletions.insert(Deletion::Key(key));
        }
        if !kept_epochs.contains(&artifact.epoch) {
            deletions.insert(Deletion::EpochPrefix(epoch_prefix(
                key_prefix,
                artifact.epoch,
            )));
        }
    }
    deletions.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::manifest::sample_artifact as artifact;

    #[test]
    fn dropped_epochs_are_deleted_whole_and_kept_ones_untouched() {
        let dropped = vec![
            artifact(ArtifactKind::Snapshot, 1, None, ""),
            artifact(ArtifactKind::Diff, 1, Some(""), "0/1"),
        ];
        let kept = vec![artifact(ArtifactKind::Snapshot, 2, None, "0/2")];
        assert_eq!(
            plan("t/", &dropped, &kept),
            vec![
                Deletion::Key("t/epoch=1/diff-0-0_1.jsonl".into()),
                Deletion::Key("t/epoch=1/snapshot-0.jsonl".into()),
                Deletion::EpochPrefix("t/epoch=1/".into()),
            ]
        );
    }
}
