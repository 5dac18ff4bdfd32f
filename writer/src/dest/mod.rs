//! Destinations: where artifacts and the manifest live (`local`, `s3`).
//!
//! Keys are relative to a destination (an S3 destination prepends its own
//! prefix; a local one joins the key onto its path). Artifacts are written
//! with [`Destination::put_file`] from a spool file, so a large snapshot is
//! never held whole in memory; the manifest is written with the
//! compare-and-swap [`Destination::put_if`], which is the commit point.

pub mod s3;

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

pub mod local;

pub use local::LocalDestination;

/// The stored revision of an object, as compare-and-swap compares it: the
/// ETag on S3, a content hash on local disk. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision(pub String);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether [`Destination::put_file`] may replace an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is stored under the key.
    Overwrite,
    /// Create the object only if no object exists under the key; otherwise
    /// fail with [`DestError::Conflict`] and leave the stored object untouched.
    /// Artifacts are written this way: laredo readers derive artifact keys from
    /// (epoch, positions), so two writers can compute the same key, and a
    /// committed artifact must never be replaced by different bytes.
    CreateNew,
}

/// An object's content with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The object's bytes.
    pub body: Bytes,
    /// Its revision, to pass to [`Destination::put_if`].
    pub revision: Revision,
}

/// Why a destination operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DestError {
    /// Compare-and-swap lost: the stored object is not at the expected
    /// revision (or exists when it was expected not to).
    #[error("{dest}: compare-and-swap conflict on {key}: the stored object changed")]
    Conflict {
        /// Destination name.
        dest: String,
        /// The key written.
        key: String,
    },
    /// The object does not exist.
    #[error("{dest}: {key} not found")]
    NotFound {
        /// Destination name.
        dest: String,
        /// The key read.
        key: String,
    },
    /// Any other failure. `transient` tells whether retrying may help
    /// (network, throttling, 5xx) or not (access denied, no such bucket).
    #[error("{dest}: {operation} {key}: {message}")]
    Failed {
        /// Destination name.
        dest: String,
        /// `put`, `get`, `delete`, …
        operation: &'static str,
        /// The key involved.
        key: String,
        /// What went wrong, including the underlying error.
        message: String,
        /// Whether a retry may succeed.
        transient: bool,
    },
}

impl DestError {
    /// Whether this is a compare-and-swap conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, DestError::Conflict { .. })
    }
}

/// A place artifacts and manifests are stored.
#[async_trait]
pub trait Destination: Send + Sync + fmt::Debug {
    /// A short, stable name for logs and the `dest` metric label, e.g.
    /// `local:/var/lib/laredo` or `s3://bucket/prefix/`.
    fn name(&self) -> &str;

    /// The URI of `key` (`file:///abs/path/key`, `s3://bucket/prefix/key`),
    /// as recorded in the manifest and in events.
    fn uri(&self, key: &str) -> String;

    /// A directory on the destination's own file system where artifacts can
    /// be encoded before [`put_file`](Self::put_file), so the put is a link
    /// instead of a copy. `None` (the default) for remote destinations.
    fn spool_dir(&self) -> Option<PathBuf> {
        None
    }

    /// Stores the file at `source` under `key` (see [`PutMode`]). The object
    /// is durable and complete when this returns, and never partially visible.
    /// `source` is left in place.
    async fn put_file(&self, key: &str, source: &Path, mode: PutMode) -> Result<(), DestError>;

    /// Reads a whole object with its revision; `None` if it does not exist.
    async fn get(&self, key: &str) -> Result<Option<Versioned>, DestError>;

    /// Reads a whole object without its revision, for objects that are never
    /// swapped (artifacts); `None` if it does not exist.
    async fn read(&self, key: &str) -> Result<Option<Bytes>, DestError> {
        Ok(self.get(key).await?.map(|object| object.body))
    }

    /// Writes `body` under `key` only if the stored object is at `expected`
    /// (`None`: only if no object exists). Returns the new revision, or
    /// [`DestError::Conflict`].
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        expected: Option<&Revision>,
    ) -> Result<Revision, DestError>;

    /// The size of an object in bytes; `None` if it does not exist.
    async fn size(&self, key: &str) -> Result<Option<u64>, DestError>;

    /// Deletes an object; deleting a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<(), DestError>;

    /// Every key that starts with `prefix`, in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, DestError>;
}
