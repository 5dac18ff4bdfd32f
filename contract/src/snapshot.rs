//! The answer of `POST /snapshot`: a JSON object keyed by `schema.table`,
//! holding for each table the base snapshot it committed (an
//! [`ArtifactStatus`]: epoch, position, time, rows, size), or
//! `{"error": "…"}`.
//!
//! Writers before this document answered the plain strings `"ok"` and
//! `"error: …"`; a reader still takes those ([`SnapshotOutcome::Text`]), so
//! an operator newer than its writers keeps working.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::ArtifactStatus;

/// What an older writer answered for a table whose snapshot committed.
pub const LEGACY_OK: &str = "ok";

/// The whole answer: one outcome per table asked for.
pub type SnapshotAnswer = BTreeMap<String, SnapshotOutcome>;

/// One table's outcome of a forced snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SnapshotOutcome {
    /// The snapshot is committed on every destination: this is it.
    Committed(ArtifactStatus),
    /// The snapshot was refused or failed.
    Failed {
        /// Why, with its causes.
        error: String,
    },
    /// An older writer's plain answer: [`LEGACY_OK`] or `error: …`.
    Text(String),
}

impl SnapshotOutcome {
    /// The committed snapshot (`None` when an older writer only said
    /// `ok`), or the writer's reason.
    pub fn committed(&self) -> Result<Option<&ArtifactStatus>, &str> {
        match self {
            SnapshotOutcome::Committed(artifact) => Ok(Some(artifact)),
            SnapshotOutcome::Text(text) if text == LEGACY_OK => Ok(None),
            SnapshotOutcome::Failed { error } => Err(error),
            SnapshotOutcome::Text(text) => Err(text.strip_prefix("error: ").unwrap_or(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact() -> ArtifactStatus {
        ArtifactStatus {
            id: "a1".into(),
            epoch: 4,
            from_position: None,
            position: "0/16B3748".into(),
            at: "2026-01-02T03:04:05Z".into(),
            records: 10,
            bytes: 2048,
        }
    }

    #[test]
    fn a_committed_snapshot_and_a_failure_round_trip() {
        let answer = SnapshotAnswer::from([
            ("public.a".into(), SnapshotOutcome::Committed(artifact())),
            (
                "public.b".into(),
                SnapshotOutcome::Failed {
                    error: "destination down".into(),
                },
            ),
        ]);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["public.a"]["epoch"], 4);
        assert_eq!(json["public.a"]["position"], "0/16B3748");
        assert_eq!(
            json["public.b"],
            serde_json::json!({"error": "destination down"})
        );
        let read: SnapshotAnswer = serde_json::from_value(json).unwrap();
        assert_eq!(read, answer);
        assert_eq!(read["public.a"].committed(), Ok(Some(&artifact())));
        assert_eq!(read["public.b"].committed(), Err("destination down"));
    }

    #[test]
    fn an_older_writers_plain_answers_still_read() {
        let read: SnapshotAnswer = serde_json::from_value(serde_json::json!({
            "public.a": "ok",
            "public.b": "error: fenced",
        }))
        .unwrap();
        assert_eq!(read["public.a"].committed(), Ok(None));
        assert_eq!(read["public.b"].committed(), Err("fenced"));
    }
}
