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
    #[error("{dest}: {operation} {key}")]
    Failed {
        /// Destination name.
        dest: String,
        /// `put`, `get`, `delete`, …
        operation: &'static str,
        /// The key involved.
        key: String,
        /// What went wrong: the I/O or S3 error, with its own causes.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Whether a retry may succeed.
        transient: bool,
    },
    /// A read was refused before the object's bytes were read: it is not a
    /// regular file inside the destination, or it is larger than the reader
    /// allows. Retrying does not help.
    #[error("{dest}: {key}: {reason}")]
    Refused {
        /// Destination name.
        dest: String,
        /// The key read.
        key: String,
        /// Why.
        #[source]
        reason: Refusal,
    },
}

/// Why a read was refused ([`DestError::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A path component (relative to the destination root) is a symbolic
    /// link. Where it points is never looked at, so nothing about the file
    /// outside the archive (its size, its existence) reaches the message.
    #[error("{path} is a symbolic link; archives are read without following links")]
    SymbolicLink {
        /// The component's path under the root.
        path: String,
    },
    /// The object is not a regular file (or a directory on its path is not
    /// a directory): a FIFO would block the read, a device never ends.
    #[error("{path} is a {kind}, not a {expected}")]
    WrongType {
        /// The entry's path under the root.
        path: String,
        /// `FIFO`, `character device`, `directory`, …
        kind: &'static str,
        /// `regular file` or `directory`.
        expected: &'static str,
    },
    /// The object has more bytes than the reader allows (the size the
    /// manifest records, or a fixed cap).
    #[error("{}", too_large(.size, .limit))]
    TooLarge {
        /// Its size, when the store tells it before the body is read.
        size: Option<u64>,
        /// The most the reader accepts.
        limit: u64,
    },
}

impl DestError {
    /// Whether this is a compare-and-swap conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, DestError::Conflict { .. })
    }
}

fn too_large(size: &Option<u64>, limit: &u64) -> String {
    match size {
        Some(size) => format!("it has {size} bytes, more than the {limit} expected"),
        None => format!("it has more than the {limit} bytes expected"),
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

    /// Reads a whole object of at most `limit` bytes (an artifact: the size
    /// the manifest records; the manifest: a fixed cap); `None` if it does
    /// not exist. A larger object is [`DestError::Refused`], on local disk
    /// and S3 before its body is read, so a hostile size cannot drive memory
    /// up. Also refused locally: anything but a regular file reached without
    /// following a symbolic link. This default reads first, then checks.
    async fn read_bounded(&self, key: &str, limit: u64) -> Result<Option<Bytes>, DestError> {
        let body = self.read(key).await?;
        match body {
            Some(body) if body.len() as u64 > limit => Err(DestError::Refused {
                dest: self.name().to_owned(),
                key: key.to_owned(),
                reason: Refusal::TooLarge {
                    size: Some(body.len() as u64),
                    limit,
                },
            }),
            other => Ok(other),
        }
    }

    /// Removes what a killed writer left behind in the destination's own
    /// scratch space (the local destination's `.tmp/`), never touching
    /// what a live writer is using. Run at start-up; the default does
    /// nothing.
    async fn clean_up(&self) -> Result<(), DestError> {
        Ok(())
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
