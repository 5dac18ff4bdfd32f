//! Whether a manifest holds together: the rules a rebuild relies on, checked
//! in this one place by `read` (which refuses the manifest) and by `verify`
//! (which reports every broken rule).
//!
//! The rules are structural, so Go-written archives (positions `""`, diffs
//! with `from == to`, heads that go backwards after a restart) pass; `verify`
//! adds the position rules on top. In manifest (commit) order:
//!
//! - every snapshot opens an epoch greater than every earlier artifact's;
//! - every diff belongs to the epoch of the snapshot before it, and its
//!   `from_position` is the previous artifact's `to_position`, so a diff
//!   cut from the middle of the chain shows (where positions advance;
//!   with `""` positions nothing can);
//! - `head_position` is the last artifact's `to_position`, so a cut head
//!   shows;
//! - the manifest's `epoch` is not below any artifact's.

use super::{Artifact, ArtifactKind, Manifest};

/// One broken rule, naming the artifact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{artifact}: {rule}")]
pub struct ChainProblem {
    /// The artifact ([`artifact_name`]), or `manifest` for a top-level field.
    pub artifact: String,
    /// What is wrong.
    pub rule: ChainRule,
}

/// What is wrong in a [`ChainProblem`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainRule {
    /// A diff before any snapshot of its epoch.
    #[error("a diff with no snapshot before it in its epoch")]
    DiffWithoutSnapshot,
    /// A diff of another epoch than the snapshot before it.
    #[error("a diff of epoch {epoch} after the snapshot of epoch {current}")]
    DiffOutsideEpoch {
        /// The diff's epoch.
        epoch: u64,
        /// The epoch of the last snapshot before it.
        current: u64,
    },
    /// A snapshot whose epoch does not follow the earlier artifacts'.
    #[error("a snapshot of epoch {epoch} after an artifact of epoch {previous}")]
    EpochNotAfter {
        /// The snapshot's epoch.
        epoch: u64,
        /// The previous artifact's epoch.
        previous: u64,
    },
    /// A diff that does not start where the previous artifact ends.
    #[error(
        "chain broken: from_position {} is not the previous artifact's to_position {previous:?} (an artifact is missing)",
        .from.as_deref().map_or_else(|| "null".to_owned(), |from| format!("{from:?}"))
    )]
    ChainBroken {
        /// The diff's `from_position`.
        from: Option<String>,
        /// The previous artifact's `to_position`.
        previous: String,
    },
    /// `head_position` is not the last artifact's `to_position`.
    #[error("head_position {head:?} is not the last artifact's to_position {last:?}")]
    HeadMismatch {
        /// The manifest's `head_position`.
        head: String,
        /// The last artifact's `to_position`.
        last: String,
    },
    /// The manifest's `epoch` is below an artifact's.
    #[error("epoch {manifest} is below the newest artifact epoch {artifact}")]
    EpochBehind {
        /// The manifest's `epoch`.
        manifest: u64,
        /// The greatest artifact epoch.
        artifact: u64,
    },
}

/// How an artifact is named in problems: its index, kind, epoch, position
/// and id (when it has one).
pub fn artifact_name(index: usize, artifact: &Artifact) -> String {
    format!(
        "artifact #{index} ({} epoch={} to={:?}{})",
        artifact.kind.as_str(),
        artifact.epoch,
        artifact.to_position,
        artifact
            .id
            .as_deref()
            .map(|id| format!(" id={id}"))
            .unwrap_or_default()
    )
}

/// The first few problems, and how many more there are, for one message.
pub(super) fn list(problems: &[ChainProblem]) -> String {
    const SHOWN: usize = 5;
    let mut text = problems
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        text.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    text
}

/// Every broken rule of `manifest` (module docs), in manifest order.
pub fn check(manifest: &Manifest) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let artifacts = &manifest.artifacts;
    // The epoch of the last snapshot seen, and the greatest epoch seen.
    let mut current: Option<u64> = None;
    let mut newest: Option<u64> = None;
    for (index, artifact) in artifacts.iter().enumerate() {
        let mut broken = |rule| {
            problems.push(ChainProblem {
                artifact: artifact_name(index, artifact),
                rule,
            });
        };
        let previous = index.checked_sub(1).map(|i| &artifacts[i]);
        match artifact.kind {
            ArtifactKind::Snapshot => {
                if let Some(previous) = newest.filter(|newest| artifact.epoch <= *newest) {
                    broken(ChainRule::EpochNotAfter {
                        epoch: artifact.epoch,
                        previous,
                    });
                }
                current = Some(artifact.epoch);
            }
            ArtifactKind::Diff => match current {
                None => broken(ChainRule::DiffWithoutSnapshot),
                Some(current) if current != artifact.epoch => {
                    broken(ChainRule::DiffOutsideEpoch {
                        epoch: artifact.epoch,
                        current,
                    });
                }
                Some(_) => {
                    if let Some(previous) = previous
                        && artifact.from_position.as_deref() != Some(&previous.to_position)
                    {
                        broken(ChainRule::ChainBroken {
                            from: artifact.from_position.clone(),
                            previous: previous.to_position.clone(),
                        });
                    }
                }
            },
        }
        newest = newest.max(Some(artifact.epoch));
    }
    let top = |rule| ChainProblem {
        artifact: "manifest".to_owned(),
        rule,
    };
    if let Some(last) = artifacts.last()
        && last.to_position != manifest.head_position
    {
        problems.push(top(ChainRule::HeadMismatch {
            head: manifest.head_position.clone(),
            last: last.to_position.clone(),
        }));
    }
    if let Some(newest) = newest.filter(|newest| *newest > manifest.epoch) {
        problems.push(top(ChainRule::EpochBehind {
            manifest: manifest.epoch,
            artifact: newest,
        }));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::manifest::sample_artifact;

    fn manifest(artifacts: Vec<Artifact>) -> Manifest {
        let mut manifest = Manifest::new("t");
        manifest.epoch = artifacts.iter().map(|a| a.epoch).max().unwrap_or(0);
        manifest.head_position = artifacts
            .last()
            .map(|a| a.to_position.clone())
            .unwrap_or_default();
        manifest.artifacts = artifacts;
        manifest
    }

    fn snapshot(epoch: u64, to: &str) -> Artifact {
        sample_artifact(ArtifactKind::Snapshot, epoch, None, to)
    }

    fn diff(epoch: u64, from: &str, to: &str) -> Artifact {
        sample_artifact(ArtifactKind::Diff, epoch, Some(from), to)
    }

    fn rules(manifest: &Manifest) -> Vec<ChainRule> {
        check(manifest).into_iter().map(|p| p.rule).collect()
    }

    #[test]
    fn go_style_and_our_chains_hold_together() {
        let go = manifest(vec![
            snapshot(1, ""),
            diff(1, "", ""),
            snapshot(2, "0/10"),
            diff(2, "0/10", "0/20"),
            diff(2, "0/20", "0/20"),
            snapshot(3, ""),
        ]);
        assert_eq!(rules(&go), []);
        assert_eq!(rules(&manifest(vec![])), []);
    }

    #[test]
    fn a_cut_chain_a_stray_epoch_and_a_cut_head_are_named() {
        let cut = manifest(vec![
            snapshot(1, "0/1"),
            diff(1, "0/1", "0/2"),
            diff(1, "0/3", "0/4"),
        ]);
        let problems = check(&cut);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .starts_with("artifact #2 (diff epoch=1"),
            "{}",
            problems[0]
        );

        for stray in [99, u64::MAX] {
            let mut head = manifest(vec![snapshot(1, "0/1"), diff(stray, "0/1", "0/2")]);
            head.epoch = 1;
            assert_eq!(
                rules(&head),
                [
                    ChainRule::DiffOutsideEpoch {
                        epoch: stray,
                        current: 1
                    },
                    ChainRule::EpochBehind {
                        manifest: 1,
                        artifact: stray
                    }
                ]
            );
        }

        let mut stale = manifest(vec![snapshot(1, "0/1"), diff(1, "0/1", "0/2")]);
        stale.head_position = "0/3".to_owned();
        assert!(matches!(
            rules(&stale)[..],
            [ChainRule::HeadMismatch { .. }]
        ));

        let backwards = manifest(vec![snapshot(2, "0/1"), snapshot(2, "0/2")]);
        assert!(matches!(
            rules(&backwards)[..],
            [ChainRule::EpochNotAfter {
                epoch: 2,
                previous: 2
            }]
        ));
        let orphan = manifest(vec![diff(1, "", "0/1")]);
        assert_eq!(rules(&orphan), [ChainRule::DiffWithoutSnapshot]);
    }
}
