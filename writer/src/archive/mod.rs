//! The archive: base snapshots plus diffs on every destination, indexed by
//! `manifest.json`, in the layout laredo's Go consumers read
//! (reference/laredo.md §2), with the Go writer's defects fixed.
//!
//! A change travels: [`Table::apply`](crate::table::Table::apply) →
//! [`ChangeBuffer`] (net change per key) → [`ArchiveWriter::tick`] asks the
//! [`policy`] for a diff or a re-base → [`spool`] encodes each format once
//! (size and CRC-32C computed while writing) → every destination gets the
//! objects ([`PutMode::CreateNew`](crate::dest::PutMode)) → [`commit`] swaps
//! the manifest on every destination (the commit point) → [`retention`]
//! deletes what the new manifest no longer references. [`reader`] and
//! [`verify`] read archives back; [`cli`] exposes them as subcommands.

pub mod changes;
pub mod cli;
pub mod commit;
pub mod format;
pub mod keys;
pub mod manifest;
pub mod policy;
pub mod position;
pub mod reader;
pub mod rebuilt;
pub mod retention;
pub mod spool;
pub mod verify;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use changes::ChangeBuffer;
pub use manifest::{Artifact, ArtifactKind, FormatRef, Manifest, ManifestColumn};
pub use policy::Trigger;
pub use reader::ArchiveReader;
pub use rebuilt::{RebuiltRows, RebuiltTable};
pub use writer::{ArchiveSettings, ArchiveWriter, Committed, Restored, TickOutcome};

use crate::dest::DestError;

/// What the archive records about the source at an artifact: enough to resume
/// the fan-out subscription where the artifact left off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMark {
    /// The last non-empty source position applied (may be `""`).
    pub position: String,
    /// The last journal sequence applied (per server instance).
    pub sequence: i64,
    /// The fan-out snapshot id the stream started from.
    pub snapshot_id: String,
}

/// Why an archive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Another writer committed to this prefix: this writer must stop.
    #[error(
        "fenced: the manifest on {dest} was committed by writer {other:?}, not by this writer ({ours}); another writer owns the prefix"
    )]
    Fenced {
        /// The destination where the conflict was seen.
        dest: String,
        /// The other writer's identity (`None`: a manifest without one, e.g. Go's).
        other: Option<String>,
        /// This writer's identity.
        ours: String,
    },
    /// A destination operation failed.
    #[error(transparent)]
    Destination(#[from] DestError),
    /// A stored manifest could not be read.
    #[error("{dest}: {key}: {error}")]
    Manifest {
        /// Destination name.
        dest: String,
        /// The manifest key.
        key: String,
        /// What is wrong with it.
        error: manifest::ManifestError,
    },
    /// An artifact object could not be decoded.
    #[error("{key}: {error}")]
    Artifact {
        /// The object key.
        key: String,
        /// What is wrong.
        error: format::FormatError,
    },
    /// The manifest references an object that does not exist.
    #[error("{dest}: {key} is referenced by the manifest but does not exist")]
    MissingObject {
        /// Destination name.
        dest: String,
        /// The object key.
        key: String,
    },
    /// A row in the table could not be encoded.
    #[error("encoding {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// The spool directory failed.
    #[error("spool {path}: {error}")]
    Spool {
        /// The spool path.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The manifest under the key prefix belongs to another table.
    #[error("{dest}: {key} belongs to table {found:?}, not {expected:?}; check key_prefix")]
    WrongTable {
        /// Destination name.
        dest: String,
        /// The manifest key.
        key: String,
        /// The table the manifest names.
        found: String,
        /// The table this writer writes.
        expected: String,
    },
    /// The manifest was replaced by one of another table while this writer
    /// was committing: two tables write one place. This writer stops.
    #[error(
        "fenced: {dest}: {key} now belongs to table {found:?}, not {expected:?}: two tables write the same place; give each its own key_prefix or destination"
    )]
    FencedByTable {
        /// Destination name.
        dest: String,
        /// The manifest key.
        key: String,
        /// The table the stored manifest names.
        found: String,
        /// The table this writer writes.
        expected: String,
    },
    /// A diff was requested before any snapshot exists.
    #[error("no base snapshot in the archive yet; write a snapshot first")]
    NoBase,
    /// No destination is configured.
    #[error("an archive needs at least one destination")]
    NoDestination,
    /// The manifest could not be stored on any destination; it is retried on
    /// the next call.
    #[error("manifest not stored on any destination (retried on the next attempt): {0}")]
    NotCommitted(String),
}

impl ArchiveError {
    /// Whether this writer was fenced and must stop writing.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            ArchiveError::Fenced { .. } | ArchiveError::FencedByTable { .. }
        )
    }
}
