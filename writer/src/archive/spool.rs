//! Encoding artifacts into spool files: each format is encoded once, its size
//! and CRC-32C computed while it is written, and the same file is then put to
//! every destination. The spool lives on the first local destination's file
//! system when there is one, so the local put is a hard link, not a copy.
//!
//! Each spool works in a locked run directory of its own
//! ([`scratch`](crate::dest::local::scratch)); opening one first removes the
//! run directories of writers that were killed (SIGKILL, OOM, power loss
//! leave their spool files behind, hundreds of MB for a snapshot), never
//! those of live writers sharing the directory.
//!
//! Snapshots are encoded in parallel chunks (one scoped thread per core) and
//! written sequentially in chunk order: encoding, not the disk, is the limit
//! (BENCHMARKS.md, "Archive").
//!
//! A snapshot's file bypasses the page cache with `O_DIRECT` on Linux
//! ([`WritePath::Direct`], `direct.rs`); elsewhere (macOS, where the flag
//! does not exist) and where a file system refuses it, it goes through the
//! page cache with early writeback ([`WritePath::Buffered`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

#[cfg(target_os = "linux")]
mod direct;
mod parquet;
mod writeback;

#[cfg(target_os = "linux")]
use direct::DirectFile;
use writeback::{WRITEBACK_EVERY, Writeback};

use super::ArchiveError;
use super::format::{DiffEntry, RecordEncoder};
use crate::config::Format;
use crate::dest::local::scratch::{self, RunDir};
use crate::table::{Table, WireError};

/// Rows per parallel encoding chunk (about; a chunk is a range of row
/// addresses).
const CHUNK_ROWS: usize = 4096;
/// Bytes buffered before a write when encoding sequentially.
const WRITE_CHUNK: usize = 1 << 20;

/// An encoded artifact object waiting to be put; removed when dropped.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
    /// The format it is encoded in.
    pub format: Format,
    /// Its size in bytes.
    pub size: u64,
    /// Its CRC-32C.
    pub crc32c: u32,
}

impl SpoolFile {
    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checksum as recorded in the manifest (8 lowercase hex digits).
    pub fn crc32c_hex(&self) -> String {
        format!("{:08x}", self.crc32c)
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How a snapshot's spool file (a large file written once) reaches the
/// disk. Diffs, small, always go through the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// Around the page cache with `O_DIRECT` (Linux only), falling back to
    /// [`Buffered`](Self::Buffered) where the file system refuses it.
    Direct,
    /// Through the page cache, with early writeback.
    Buffered,
}

impl WritePath {
    /// `Direct` where the platform has it (Linux), else `Buffered`.
    pub const PLATFORM: Self = match cfg!(target_os = "linux") {
        true => Self::Direct,
        false => Self::Buffered,
    };
}

struct SpoolWriter {
    sink: Sink,
    spool: SpoolFile,
}

/// Where a spool file's bytes go.
enum Sink {
    /// Through the page cache; snapshots (large files) with early writeback.
    Buffered {
        file: File,
        writeback: Option<Writeback>,
        unsynced: u64,
    },
    /// Around it (`direct.rs`), for snapshots where the file system allows.
    #[cfg(target_os = "linux")]
    Direct(DirectFile),
}

impl Sink {
    /// The direct sink for a file at `path`; `None` where the file system
    /// refuses `O_DIRECT`.
    #[cfg(target_os = "linux")]
    fn direct(path: &Path) -> std::io::Result<Option<Self>> {
        Ok(DirectFile::create(path)?.map(Sink::Direct))
    }

    /// No direct sink: the platform has no `O_DIRECT`.
    #[cfg(not(target_os = "linux"))]
    fn direct(_path: &Path) -> std::io::Result<Option<Self>> {
        Ok(None)
    }
}

impl SpoolWriter {
    /// A file for `format`; `large` (a snapshot) is written by `path`,
    /// anything else buffered without early writeback.
    fn create(
        dir: &Path,
        id: &str,
        format: Format,
        large: Option<WritePath>,
    ) -> Result<Self, ArchiveError> {
        let path = dir.join(format!("{id}.{}.spool", format.extension()));
        let error = |error| spool_error(&path, error);
        let direct = match large {
            Some(WritePath::Direct) => Sink::direct(&path).map_err(error)?,
            Some(WritePath::Buffered) | None => None,
        };
        let sink = match direct {
            Some(direct) => direct,
            None => {
                let file = File::create(&path).map_err(error)?;
                let writeback = match large {
                    Some(_) => Some(Writeback::start(&file).map_err(error)?),
                    None => None,
                };
                Sink::Buffered {
                    file,
                    writeback,
                    unsynced: 0,
                }
            }
        };
        Ok(Self {
            sink,
            spool: SpoolFile {
                path,
                format,
                size: 0,
                crc32c: 0,
            },
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let written = match &mut self.sink {
            #[cfg(target_os = "linux")]
            Sink::Direct(direct) => direct.write(bytes),
            Sink::Buffered {
                file,
                writeback,
                unsynced,
            } => file.write_all(bytes).map(|()| {
                *unsynced += bytes.len() as u64;
                if let Some(writeback) = writeback
                    && *unsynced >= WRITEBACK_EVERY
                {
                    writeback.request();
                    *unsynced = 0;
                }
            }),
        };
        written.map_err(|error| spool_error(&self.spool.path, error))?;
        self.spool.size += bytes.len() as u64;
        self.spool.crc32c = crc32c::crc32c_append(self.spool.crc32c, bytes);
        Ok(())
    }

    fn finish(self) -> Result<SpoolFile, ArchiveError> {
        let finished = match self.sink {
            #[cfg(target_os = "linux")]
            Sink::Direct(direct) => direct.finish(),
            Sink::Buffered {
                writeback: Some(writeback),
                ..
            } => writeback.finish(),
            Sink::Buffered { .. } => Ok(()),
        };
        finished.map_err(|error| spool_error(&self.spool.path, error))?;
        Ok(self.spool)
    }
}

fn spool_error(path: &Path, error: std::io::Error) -> ArchiveError {
    ArchiveError::Spool {
        path: path.display().to_string(),
        error,
    }
}

fn encode_error(what: &str, source: WireError) -> ArchiveError {
    ArchiveError::Encode {
        what: what.to_owned(),
        source,
    }
}

/// A spool: a run directory under the spool directory, removed when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub struct Spool {
    parent: PathBuf,
    run: Arc<Mutex<Arc<RunDir>>>,
    /// How snapshots are written.
    snapshots: WritePath,
}

impl Spool {
    /// Removes what killed writers left in `dir` (created if missing), then
    /// opens a run directory of this spool's own in it; snapshots are
    /// written by the [platform's path](WritePath::PLATFORM).
    pub fn new(dir: PathBuf) -> Result<Self, ArchiveError> {
        Self::with_write_path(dir, WritePath::PLATFORM)
    }

    /// [`new`](Self::new), snapshots written by `snapshots`.
    pub fn with_write_path(dir: PathBuf, snapshots: WritePath) -> Result<Self, ArchiveError> {
        match scratch::clean_stale(&dir) {
            Ok(cleaned) if cleaned.files > 0 => {
                tracing::info!(dir = %dir.display(), files = cleaned.files, bytes = cleaned.bytes, "removed spool files a killed writer left");
            }
            Ok(_) => {}
            // Not fatal: what is left costs space, not correctness.
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "could not clean the spool directory");
            }
        }
        let run = RunDir::create(&dir).map_err(|error| spool_error(&dir, error))?;
        Ok(Self {
            parent: dir,
            run: Arc::new(Mutex::new(run)),
            snapshots,
        })
    }

    /// The directory spool files are written in: this spool's run
    /// directory, made again if it vanished (someone emptied the spool
    /// directory, or it was a full disk's casualty).
    pub fn dir(&self) -> Result<PathBuf, ArchiveError> {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        if !run.path().is_dir() {
            *run =
                RunDir::create(&self.parent).map_err(|error| spool_error(&self.parent, error))?;
        }
        Ok(run.path().to_owned())
    }

    /// Encodes every row of `table` in each record format, in parallel
    /// chunks (Parquet is spooled by [`parquet_snapshot`](Self::parquet_snapshot);
    /// it is skipped here).
    pub fn snapshot(
        &self,
        table: &Table,
        formats: &[Format],
        id: &str,
    ) -> Result<Vec<SpoolFile>, ArchiveError> {
        let formats: Vec<Format> = formats
            .iter()
            .copied()
            .filter(|f| *f != Format::Parquet)
            .collect();
        let formats = formats.as_slice();
        if formats.is_empty() {
            // Only Parquet: reading the rows here would be work for nothing.
            return Ok(Vec::new());
        }
        // Snapshot rows have no defined order: take the fastest to read,
        // memory order, sorting each chunk's range of addresses as it is
        // encoded.
        let dir = self.dir()?;
        let ranges = table.rows_by_address(CHUNK_ROWS);
        let mut writers = formats
            .iter()
            .map(|format| SpoolWriter::create(&dir, id, *format, Some(self.snapshots)))
            .collect::<Result<Vec<_>, _>>()?;
        let workers = crate::blocking::worker_threads().min(ranges.len());
        let next = AtomicUsize::new(0);
        // Written chunk buffers go back to the encoders: a fresh 1 MiB buffer
        // per chunk cost a page fault and a page of zeroes every 4 KiB.
        let spare: Mutex<Vec<Vec<Vec<u8>>>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let (sender, receiver) =
                mpsc::sync_channel::<(usize, Result<Vec<Vec<u8>>, WireError>)>(workers * 4);
            for _ in 0..workers {
                let (sender, ranges, next, spare) = (sender.clone(), &ranges, &next, &spare);
                // Encoder threads log in the table's span, like the caller.
                let span = tracing::Span::current();
                scope.spawn(move || {
                    let _span = span.enter();
                    let mut chunk = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= ranges.len() {
                            break;
                        }
                        ranges.sorted_into(index, &mut chunk);
                        let buffers = spare.lock().ok().and_then(|mut spare| spare.pop());
                        let encoded = encode_chunk(&chunk, formats, buffers.unwrap_or_default());
                        if sender.send((index, encoded)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            // Chunks arrive out of order; write them in order.
            let mut waiting = BTreeMap::new();
            let mut expected = 0;
            for (index, encoded) in receiver {
                waiting.insert(index, encoded);
                while let Some(encoded) = waiting.remove(&expected) {
                    let buffers = encoded.map_err(|e| encode_error("snapshot row", e))?;
                    for (writer, buffer) in writers.iter_mut().zip(&buffers) {
                        writer.write(buffer)?;
                    }
                    if let Ok(mut spare) = spare.lock() {
                        spare.push(buffers);
                    }
                    expected += 1;
                }
            }
            Ok::<(), ArchiveError>(())
        })?;
        writers.into_iter().map(SpoolWriter::finish).collect()
    }

    /// Encodes a diff's entries in each record format (Parquet is spooled
    /// by [`parquet_diff`](Self::parquet_diff); it is skipped here).
    pub fn diff(
        &self,
        entries: &[DiffEntry<'_>],
        formats: &[Format],
        id: &str,
    ) -> Result<Vec<SpoolFile>, ArchiveError> {
        let dir = self.dir()?;
        let mut files = Vec::with_capacity(formats.len());
        for format in formats.iter().filter(|f| **f != Format::Parquet) {
            let mut writer = SpoolWriter::create(&dir, id, *format, None)?;
            let mut buffer = Vec::with_capacity(WRITE_CHUNK + 4096);
            let mut encoder = RecordEncoder::new(*format);
            for entry in entries {
                encoder
                    .diff_entry(&mut buffer, entry)
                    .map_err(|e| encode_error(&format!("diff entry {:?}", entry.key), e))?;
                if buffer.len() >= WRITE_CHUNK {
                    writer.write(&buffer)?;
                    buffer.clear();
                }
            }
            writer.write(&buffer)?;
            files.push(writer.finish()?);
        }
        Ok(files)
    }
}

/// Encodes a chunk of rows in each format, into `buffers` (one per format,
/// reused from earlier chunks) when there are any.
fn encode_chunk(
    rows: &[&[u8]],
    formats: &[Format],
    mut buffers: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, WireError> {
    let raw: usize = rows.iter().map(|r| r.len()).sum();
    buffers.resize_with(formats.len(), Vec::new);
    for (format, out) in formats.iter().zip(&mut buffers) {
        out.clear();
        out.reserve(raw + raw / 4 + 64);
        let mut encoder = RecordEncoder::new(*format);
        for row in rows {
            encoder.snapshot_row(out, row)?;
        }
    }
    Ok(buffers)
}

#[cfg(test)]
mod tests;
