//! Which artifacts a rebuild reads, at the head, as of a position or as of a
//! time (pure: the manifest in, indices out).
//!
//! Artifacts are linked by epoch and manifest (commit) order, the robust
//! linkage of reference/laredo.md §4.1, never by following `from → to`
//! strings, so Go-written archives (`""` positions, `from == to` diffs,
//! snapshots whose position went backwards) are read without looping:
//!
//! - head: the last snapshot in manifest order, then every later diff of its
//!   epoch;
//! - `at P`: the snapshot with the greatest position `≤ P` (LSN order; on a
//!   tie the later one), then the diffs of its epoch after it while their
//!   `to_position ≤ P` (a diff straddling `P` ends the plan);
//! - at time `T`: the artifacts committed at or before `T`, i.e. the
//!   manifest's artifacts up to the first whose `created_at` is after `T`
//!   (commit order is the truth: an artifact committed after a later-dated
//!   one was committed after it too); the table is the one the last of them
//!   leaves, read as the head of that prefix.

use jiff::Timestamp;

use crate::archive::manifest::chain::artifact_name;
use crate::archive::manifest::{Artifact, ArtifactKind, Manifest};
use crate::archive::position::compare;

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

/// The state of the table a rebuild answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf<'a> {
    /// The newest: the manifest's head.
    Head,
    /// As of a source position (LSN order).
    Position(&'a str),
    /// As of a time: what had been committed at or before it.
    Time(Timestamp),
}

impl std::fmt::Display for AsOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsOf::Head => f.write_str("the head"),
            AsOf::Position(at) => write!(f, "position {at:?}"),
            AsOf::Time(at) => write!(f, "time {at}"),
        }
    }
}

/// Why a plan as of a time cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{artifact}: created_at {created_at:?} is not an RFC 3339 time, so reads as of a time cannot place it"
)]
pub struct UnreadableTime {
    /// The artifact ([`artifact_name`]).
    pub artifact: String,
    /// Its `created_at`.
    pub created_at: String,
}

/// Plans a rebuild at the head (`at = None`) or as of a position (module
/// docs); `None` when no snapshot qualifies.
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
    Some(chain_from(artifacts, snapshot, artifacts.len(), at))
}

/// Plans a rebuild as of `as_of` (module docs); `Ok(None)` when no snapshot
/// qualifies. Only a plan as of a time can fail: an artifact whose
/// `created_at` does not parse, among those it has to look at.
pub fn plan_as_of(manifest: &Manifest, as_of: AsOf<'_>) -> Result<Option<Plan>, UnreadableTime> {
    match as_of {
        AsOf::Head => Ok(plan(manifest, None)),
        AsOf::Position(at) => Ok(plan(manifest, Some(at))),
        AsOf::Time(at) => plan_at_time(manifest, at),
    }
}

fn plan_at_time(manifest: &Manifest, at: Timestamp) -> Result<Option<Plan>, UnreadableTime> {
    let artifacts = &manifest.artifacts;
    let mut committed = 0;
    for (index, artifact) in artifacts.iter().enumerate() {
        let created: Timestamp = artifact.created_at.parse().map_err(|_| UnreadableTime {
            artifact: artifact_name(index, artifact),
            created_at: artifact.created_at.clone(),
        })?;
        if created > at {
            break;
        }
        committed = index + 1;
    }
    let prefix = &artifacts[..committed];
    let Some(snapshot) = prefix
        .iter()
        .rposition(|a| a.kind == ArtifactKind::Snapshot)
    else {
        return Ok(None);
    };
    Ok(Some(chain_from(artifacts, snapshot, committed, None)))
}

/// The plan from the snapshot at `snapshot`: the later diffs of its epoch
/// among the first `end` artifacts, up to the next snapshot and, with `at`,
/// while their `to_position ≤ at`.
fn chain_from(artifacts: &[Artifact], snapshot: usize, end: usize, at: Option<&str>) -> Plan {
    let base = &artifacts[snapshot];
    let mut diffs = Vec::new();
    let mut position = base.to_position.clone();
    for (index, artifact) in artifacts.iter().enumerate().take(end).skip(snapshot + 1) {
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
    Plan {
        snapshot,
        diffs,
        position,
    }
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

    #[test]
    fn plans_as_of_a_time_from_created_at_in_commit_order() {
        use ArtifactKind::*;
        let mut manifest = Manifest::new("t");
        let at = |kind, epoch, to, created: &str| Artifact {
            created_at: created.to_owned(),
            ..artifact(kind, epoch, to)
        };
        manifest.artifacts = vec![
            at(Snapshot, 1, "0/10", "2026-12-07T10:00:00Z"),
            at(Diff, 1, "0/20", "2026-12-07T10:00:30.5Z"),
            at(Snapshot, 2, "0/30", "2026-12-07T10:01:00Z"),
            at(Diff, 2, "0/40", "2026-12-07T10:01:30Z"),
            // A clock that stepped back: committed after 0/40, so as of
            // any time before 0/40 was committed it does not count.
            at(Diff, 2, "0/50", "2026-12-07T10:01:20Z"),
        ];
        let time = |t: &str| {
            plan_as_of(&manifest, AsOf::Time(t.parse().unwrap()))
                .unwrap()
                .map(|p| (p.snapshot, p.diffs, p.position))
        };
        // Exactly at an artifact's time: it is included.
        assert_eq!(
            time("2026-12-07T10:00:00Z"),
            Some((0, vec![], "0/10".into()))
        );
        assert_eq!(
            time("2026-12-07T10:00:30.5Z"),
            Some((0, vec![1], "0/20".into()))
        );
        // Between artifacts: the older one.
        assert_eq!(
            time("2026-12-07T10:00:59.999Z"),
            Some((0, vec![1], "0/20".into()))
        );
        assert_eq!(
            time("2026-12-07T11:01:00+01:00"),
            Some((2, vec![], "0/30".into()))
        );
        assert_eq!(
            time("2026-12-07T10:01:25Z"),
            Some((2, vec![], "0/30".into()))
        );
        assert_eq!(
            time("2026-12-07T10:01:30Z"),
            Some((2, vec![3, 4], "0/50".into()))
        );
        // Before the first artifact: nothing.
        assert_eq!(time("2026-12-07T09:59:59Z"), None);
        // Head and position plans are the same through plan_as_of.
        assert_eq!(
            plan_as_of(&manifest, AsOf::Head).unwrap(),
            plan(&manifest, None)
        );
        assert_eq!(
            plan_as_of(&manifest, AsOf::Position("0/35")).unwrap(),
            plan(&manifest, Some("0/35"))
        );
    }

    #[test]
    fn an_unreadable_created_at_is_named() {
        let mut manifest = Manifest::new("t");
        manifest.artifacts = vec![artifact(ArtifactKind::Snapshot, 1, "0/10")];
        manifest.artifacts[0].created_at = "yesterday".into();
        let error = plan_as_of(&manifest, AsOf::Time(Timestamp::UNIX_EPOCH)).unwrap_err();
        assert!(
            error.to_string().contains("artifact #0 (snapshot epoch=1"),
            "{error}"
        );
        assert!(error.to_string().contains("\"yesterday\""), "{error}");
    }
}
