//! The `local` destination: a directory on a local (or shared POSIX) file
//! system.
//!
//! Objects are written to a temp file in a run directory of `<root>/.tmp/`
//! ([`scratch`]: a killed writer's leftovers are removed at the next
//! start-up), fsynced, and moved into place atomically: `rename` to overwrite, `hard_link` to create (which
//! fails if the target exists, so [`PutMode::CreateNew`] cannot replace a
//! committed artifact), then the directory is fsynced. The manifest's
//! compare-and-swap runs under an exclusive `flock` on a lock file in
//! `<root>/.locks/`, so it holds between threads and processes; the revision
//! is a hash of the content (SHA-256 as laredo's Go destination uses, CRC-32C
//! for objects above 4 MiB).
//!
//! Reads never leave the root ([`open`]): no symbolic link below it is
//! followed, only regular files are read, and a bounded read
//! ([`Destination::read_bounded`]) compares the size before reading.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{DestError, Destination, PutMode, Refusal, Revision, Versioned};

mod open;
pub mod scratch;

use open::{OpenError, Opened, open_regular, read_opened};
use scratch::RunDir;

/// Why a local operation failed, beside the I/O errors it passes on (the
/// cause of a [`DestError::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The key would leave the root or reach the scratch directories.
    #[error("key must be a relative path without '..'")]
    UnsafeKey,
    /// The blocking worker running the file-system work failed.
    #[error("the file-system worker failed: {reason}")]
    Worker {
        /// How (the panic, as the runtime reports it).
        reason: String,
    },
}

const TMP_DIR: &str = ".tmp";
const LOCK_DIR: &str = ".locks";

/// A directory destination.
#[derive(Debug, Clone)]
pub struct LocalDestination {
    root: PathBuf,
    name: String,
    /// This destination's run directory for temp files, made on first use.
    temp: Arc<Mutex<Option<Arc<RunDir>>>>,
}

impl LocalDestination {
    /// A destination rooted at `root` (created on first write). A relative
    /// root is made absolute so URIs are `file:///…`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = lexically_normal(std::path::absolute(&root).unwrap_or(root));
        let name = format!("local:{}", root.display());
        Self {
            root,
            name,
            temp: Arc::default(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, DestError> {
        let relative = Path::new(key);
        let safe = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            && !key.starts_with(TMP_DIR)
            && !key.starts_with(LOCK_DIR);
        if !safe {
            return Err(self.failed("resolve", key, LocalError::UnsafeKey, false));
        }
        Ok(self.root.join(relative))
    }

    fn failed(
        &self,
        operation: &'static str,
        key: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
        transient: bool,
    ) -> DestError {
        DestError::Failed {
            dest: self.name.clone(),
            operation,
            key: key.to_owned(),
            source: source.into(),
            transient,
        }
    }

    fn io_error(&self, operation: &'static str, key: &str, error: io::Error) -> DestError {
        use io::ErrorKind::*;
        let transient = !matches!(
            error.kind(),
            PermissionDenied | InvalidInput | ReadOnlyFilesystem | NotADirectory | IsADirectory
        );
        self.failed(operation, key, error, transient)
    }

    fn temp_path(&self) -> io::Result<PathBuf> {
        let mut temp = self.temp.lock().unwrap_or_else(|p| p.into_inner());
        // Made again if it vanished (someone emptied `.tmp/` by hand).
        let run = match temp.as_ref().filter(|run| run.path().is_dir()) {
            Some(run) => Arc::clone(run),
            None => {
                let run = RunDir::create(&self.root.join(TMP_DIR))?;
                *temp = Some(Arc::clone(&run));
                run
            }
        };
        Ok(run
            .path()
            .join(format!("{}.part", uuid::Uuid::new_v4().simple())))
    }

    /// Opens `key` as a regular file inside the root; `None` if it does not
    /// exist.
    fn open_object(&self, operation: &'static str, key: &str) -> Result<Option<Opened>, DestError> {
        let path = self.path_of(key)?;
        let relative = path.strip_prefix(&self.root).unwrap_or(&path);
        match open_regular(&self.root, relative) {
            Ok(opened) => Ok(Some(opened)),
            Err(OpenError::NotFound) => Ok(None),
            Err(OpenError::Refused(reason)) => Err(self.refused(key, reason)),
            Err(OpenError::Io(e)) => Err(self.io_error(operation, key, e)),
        }
    }

    fn refused(&self, key: &str, reason: Refusal) -> DestError {
        DestError::Refused {
            dest: self.name.clone(),
            key: key.to_owned(),
            reason,
        }
    }

    /// Copies `source` into a fresh fsynced temp file under the root (used
    /// when the source is on another file system or must be renamed over).
    fn stage_copy(&self, source: &Path) -> io::Result<PathBuf> {
        let temp = self.temp_path()?;
        let result = (|| {
            fs::copy(source, &temp)?;
            File::open(&temp)?.sync_all()
        })();
        match result {
            Ok(()) => Ok(temp),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    fn put_file_blocking(&self, key: &str, source: &Path, mode: PutMode) -> Result<(), DestError> {
        let target = self.path_of(key)?;
        let io = |e| self.io_error("put", key, e);
        let parent = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(io)?;
        match mode {
            PutMode::CreateNew => {
                File::open(source).and_then(|f| f.sync_all()).map_err(io)?;
                match fs::hard_link(source, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(DestError::Conflict {
                            dest: self.name.clone(),
                            key: key.to_owned(),
                        });
                    }
                    // Another file system (or no hard links): stage a copy here.
                    Err(_) => {
                        let temp = self.stage_copy(source).map_err(io)?;
                        let linked = fs::hard_link(&temp, &target);
                        let _ = fs::remove_file(&temp);
                        match linked {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                                return Err(DestError::Conflict {
                                    dest: self.name.clone(),
                                    key: key.to_owned(),
                                });
                            }
                            Err(e) => return Err(io(e)),
                        }
                    }
                }
            }
            PutMode::Overwrite => {
                let temp = self.stage_copy(source).map_err(io)?;
                fs::rename(&temp, &target).map_err(|e| {
                    let _ = fs::remove_file(&temp);
                    io(e)
                })?;
            }
        }
        sync_dir(parent).map_err(io)
    }

    fn get_blocking(&self, key: &str) -> Result<Option<Versioned>, DestError> {
        Ok(self.read_blocking(key, None)?.map(|body| Versioned {
            revision: content_revision(&body),
            body,
        }))
    }

    fn read_blocking(&self, key: &str, limit: Option<u64>) -> Result<Option<Bytes>, DestError> {
        let Some(opened) = self.open_object("read", key)? else {
            return Ok(None);
        };
        if let Some(limit) = limit.filter(|limit| opened.len > *limit) {
            let size = Some(opened.len);
            return Err(self.refused(key, Refusal::TooLarge { size, limit }));
        }
        read_opened(opened)
            .map(|body| Some(Bytes::from(body)))
            .map_err(|e| self.io_error("read", key, e))
    }

    fn put_if_blocking(
        &self,
        key: &str,
        body: &[u8],
        expected: Option<&Revision>,
    ) -> Result<Revision, DestError> {
        let target = self.path_of(key)?;
        let io = |e| self.io_error("put_if", key, e);
        let parent = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(io)?;
        let lock_dir = self.root.join(LOCK_DIR);
        fs::create_dir_all(&lock_dir).map_err(io)?;
        let lock_path = lock_dir.join(format!("{}.lock", key.replace('/', "%2F")));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        // Released when `lock` is dropped (closing the descriptor).
        lock.lock().map_err(io)?;
        let current = self
            .read_blocking(key, None)?
            .map(|bytes| content_revision(&bytes));
        if current.as_ref() != expected {
            return Err(DestError::Conflict {
                dest: self.name.clone(),
                key: key.to_owned(),
            });
        }
        let temp = self.temp_path().map_err(io)?;
        let written = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(body)?;
            file.sync_all()?;
            fs::rename(&temp, &target)?;
            sync_dir(parent)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io(e));
        }
        drop(lock);
        Ok(content_revision(body))
    }

    fn list_blocking(&self, prefix: &str) -> Result<Vec<String>, DestError> {
        // Walk only the directory the prefix names, not the whole root.
        let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.path_of(dir_part)?
        };
        let mut keys = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io_error("list", prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.io_error("list", prefix, e))?;
                let path = entry.path();
                let Ok(relative) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = relative
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                if key == TMP_DIR || key == LOCK_DIR {
                    continue;
                }
                if entry
                    .file_type()
                    .map_err(|e| self.io_error("list", prefix, e))?
                    .is_dir()
                {
                    stack.push(path);
                } else if key.starts_with(prefix) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }
}

/// Drops `.` and resolves `..` without touching the file system (the root
/// may not exist yet), so URIs read `file:///a/b`, not `file:///a/x/../b`.
fn lexically_normal(path: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Objects up to this size get a SHA-256 revision (laredo's); larger ones a
/// CRC-32C with the length, so reading a 200 MB snapshot does not spend more
/// time hashing than reading. Only the manifest is ever compared, and a
/// manifest this large still gets a revision no two versions share by
/// accident in practice (length and CRC both equal).
const SHA256_REVISION_LIMIT: usize = 4 << 20;

fn content_revision(body: &[u8]) -> Revision {
    if body.len() <= SHA256_REVISION_LIMIT {
        Revision(hex::encode(Sha256::digest(body)))
    } else {
        Revision(format!(
            "crc32c-{:08x}-{}",
            crc32c::crc32c(body),
            body.len()
        ))
    }
}

/// Makes a rename or link in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Runs blocking file-system work without stalling the runtime
/// ([`crate::blocking::run`]); a panic in it is this destination's error.
fn blocking<T>(
    dest: &LocalDestination,
    key: &str,
    work: impl FnOnce() -> Result<T, DestError>,
) -> Result<T, DestError> {
    crate::blocking::run(work)
        .unwrap_or_else(|reason| Err(dest.failed("run", key, LocalError::Worker { reason }, true)))
}

#[async_trait]
impl Destination for LocalDestination {
    fn name(&self) -> &str {
        &self.name
    }

    fn uri(&self, key: &str) -> String {
        format!("file://{}", self.root.join(key).display())
    }

    fn spool_dir(&self) -> Option<PathBuf> {
        Some(self.root.join(TMP_DIR))
    }

    async fn put_file(&self, key: &str, source: &Path, mode: PutMode) -> Result<(), DestError> {
        blocking(self, key, || self.put_file_blocking(key, source, mode))
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, DestError> {
        blocking(self, key, || self.get_blocking(key))
    }

    async fn read(&self, key: &str) -> Result<Option<Bytes>, DestError> {
        blocking(self, key, || self.read_blocking(key, None))
    }

    async fn read_bounded(&self, key: &str, limit: u64) -> Result<Option<Bytes>, DestError> {
        blocking(self, key, || self.read_blocking(key, Some(limit)))
    }

    async fn clean_up(&self) -> Result<(), DestError> {
        let tmp = self.root.join(TMP_DIR);
        let cleaned = crate::blocking::run(|| scratch::clean_stale(&tmp))
            .unwrap_or_else(|panic| Err(io::Error::other(panic)))
            .map_err(|e| self.io_error("clean up", TMP_DIR, e))?;
        if cleaned.files > 0 {
            tracing::info!(dest = %self.name, files = cleaned.files, bytes = cleaned.bytes, "removed temp files a killed writer left");
        }
        Ok(())
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        expected: Option<&Revision>,
    ) -> Result<Revision, DestError> {
        blocking(self, key, || self.put_if_blocking(key, &body, expected))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, DestError> {
        blocking(self, key, || {
            Ok(self.open_object("size", key)?.map(|o| o.len))
        })
    }

    async fn delete(&self, key: &str) -> Result<(), DestError> {
        let path = self.path_of(key)?;
        blocking(self, key, || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error("delete", key, e)),
            }
            // Drop the epoch directory once its last object is gone;
            // failing (not empty, already gone) is expected.
            if let Some(parent) = path.parent().filter(|p| *p != self.root) {
                let _ = fs::remove_dir(parent);
            }
            Ok(())
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, DestError> {
        blocking(self, prefix, || self.list_blocking(prefix))
    }
}

#[cfg(test)]
mod tests;
