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

use crate::config::Format;
use crate::dest::DestError;
use crate::table::WireError;

/// The formats `read` and the writer's restore read an artifact in, the
/// first it lists: protobuf (the fastest to load), then JSONL, then Parquet
/// (an archive of Parquet alone still rebuilds).
pub const READ_PREFERENCE: [Format; 3] = [Format::Protobuf, Format::Jsonl, Format::Parquet];

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
    #[error("{dest}: {key}")]
    Manifest {
        /// Destination name.
        dest: String,
        /// The manifest key.
        key: String,
        /// What is wrong with it.
        #[source]
        error: manifest::ManifestError,
    },
    /// An artifact object could not be decoded.
    #[error("{key}")]
    Artifact {
        /// The object key.
        key: String,
        /// What is wrong.
        #[source]
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
    /// A Parquet object could not be written: above all a row that does not
    /// fit the table's Parquet schema (a value that does not convert to its
    /// column's type, a column the source did not announce), naming the
    /// table, the key and the column; the changes stay buffered.
    #[error(transparent)]
    Parquet(format::parquet::ParquetError),
    /// A row in the table could not be encoded.
    #[error("encoding {what}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// Why its bytes are not a valid `Struct`.
        #[source]
        source: WireError,
    },
    /// A row read back from the archive could not be loaded into the table.
    #[error("row {key:?} read back from the archive")]
    RowUnreadable {
        /// The row's key.
        key: String,
        /// Why (its JSON does not convert, or the table refuses it).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Nothing in the manifest can be read as asked (no format this reader
    /// reads, no snapshot at the position).
    #[error("{what}: {reason}")]
    Unreadable {
        /// The artifact or the request.
        what: String,
        /// What is missing.
        reason: String,
    },
    /// Every position an artifact was moved to already holds another
    /// object (orphans of failed attempts, or another writer).
    #[error("artifact {artifact}: {tries} consecutive positions hold other objects")]
    PositionsTaken {
        /// The artifact id.
        artifact: String,
        /// Positions tried.
        tries: usize,
    },
    /// The spool directory failed.
    #[error("spool {path}")]
    Spool {
        /// The spool path.
        path: String,
        /// The I/O error.
        #[source]
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
    /// Encoding or decoding hit a bug (it panicked); the work is retried
    /// like a failed write.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// What was being done.
        what: String,
        /// The panic's message.
        message: String,
    },
    /// A diff was requested before any snapshot exists.
    #[error("no base snapshot in the archive yet; write a snapshot first")]
    NoBase,
    /// No destination is configured.
    #[error("an archive needs at least one destination")]
    NoDestination,
    /// A destination's manifest kept changing under this writer's own
    /// compare-and-swap retries.
    #[error("{dest}: manifest compare-and-swap kept conflicting")]
    CasExhausted {
        /// Destination name.
        dest: String,
    },
    /// The manifest could not be stored on any destination; it is retried on
    /// the next call. The cause is the last destination's failure.
    #[error("manifest not stored on any destination (retried on the next attempt)")]
    NotCommitted(#[source] Option<Box<ArchiveError>>),
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
