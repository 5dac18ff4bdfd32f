//! Writing a snapshot's spool file with `O_DIRECT`: the bytes go from our
//! buffer to the disk without a copy into the page cache. A snapshot is
//! written once and not read back by this process (the local put is a hard
//! link), so the cache copy was pure cost: ~0.09 CPU s per 224 MB, about a
//! seventh of a 1M-row JSONL snapshot's CPU on the write thread
//! (BENCHMARKS.md, "Archive"). It also keeps a multi-gigabyte snapshot from
//! evicting everything else from the cache.
//!
//! Direct writes need a buffer, a length and a file offset aligned to the
//! device's logical block size: bytes are gathered into one aligned buffer
//! and written a block run at a time; the last, partial block is written
//! padded and the file cut back to its length. A file system that refuses
//! `O_DIRECT` at open gets the spool's buffered path; one that refuses it
//! at the first write, ordinary writes from the same buffer.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Alignment of buffer, lengths and offsets: the largest logical block
/// size in common use (4 KiB sectors), a multiple of the others (512 B).
const ALIGN: usize = 4096;
/// Bytes gathered before a write: long enough that a write costs little
/// per byte, short enough that the encoders rarely wait for one.
const BLOCK_RUN: usize = 2 << 20;

/// A spool file written with `O_DIRECT` where the file system allows it.
#[derive(Debug)]
pub(super) struct DirectFile {
    path: PathBuf,
    file: File,
    /// Whether `file` was opened with `O_DIRECT` (false after a refusal).
    direct: bool,
    /// `BLOCK_RUN + ALIGN` bytes; the run starts at `start`, which is
    /// aligned.
    buffer: Vec<u8>,
    start: usize,
    /// Bytes gathered in the run.
    filled: usize,
    /// Bytes written to the file so far (a multiple of `ALIGN` while
    /// direct).
    written: u64,
}

impl DirectFile {
    /// Creates the file at `path`; `None` when its file system refuses
    /// `O_DIRECT` (the caller writes through the page cache instead).
    pub(super) fn create(path: &Path) -> io::Result<Option<Self>> {
        let file = match open(path, libc::O_DIRECT) {
            Ok(file) => file,
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
            Err(error) => return Err(error),
        };
        let buffer = vec![0u8; BLOCK_RUN + ALIGN];
        // `align_offset` may decline (it never does for `u8` on Linux);
        // then the first write is refused and we fall back.
        let start = buffer.as_ptr().align_offset(ALIGN).min(ALIGN);
        Ok(Some(Self {
            path: path.to_owned(),
            file,
            direct: true,
            buffer,
            start,
            filled: 0,
            written: 0,
        }))
    }

    /// Appends `bytes`.
    pub(super) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = BLOCK_RUN - self.filled;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            let at = self.start + self.filled;
            self.buffer[at..at + now.len()].copy_from_slice(now);
            self.filled += now.len();
            bytes = rest;
            if self.filled == BLOCK_RUN {
                self.flush_run(BLOCK_RUN)?;
            }
        }
        Ok(())
    }

    /// Writes what is gathered, padded to the alignment, and cuts the file
    /// back to its length. Not fsynced here, as the buffered path is not: a
    /// local destination fsyncs the file before it links it, and an upload
    /// needs no local durability.
    pub(super) fn finish(mut self) -> io::Result<()> {
        let length = self.written + self.filled as u64;
        if self.filled > 0 {
            let padded = self.filled.next_multiple_of(ALIGN);
            self.buffer[self.start + self.filled..self.start + padded].fill(0);
            self.flush_run(padded)?;
        }
        self.file.set_len(length)
    }

    /// Writes the first `len` bytes of the run (a multiple of `ALIGN`).
    fn flush_run(&mut self, len: usize) -> io::Result<()> {
        let run = &self.buffer[self.start..self.start + len];
        match self.file.write_all(run) {
            Ok(()) => {}
            Err(error) if self.direct && error.raw_os_error() == Some(libc::EINVAL) => {
                // Opened, but the file system (or the device's block size)
                // refuses these writes: go on through the page cache.
                let mut file = OpenOptions::new().write(true).open(&self.path)?;
                file.seek(SeekFrom::Start(self.written))?;
                file.write_all(run)?;
                self.file = file;
                self.direct = false;
            }
            Err(error) => return Err(error),
        }
        self.written += len as u64;
        self.filled = 0;
        Ok(())
    }
}

fn open(path: &Path, flags: i32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(flags)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files of every awkward length (empty, one byte, around the alignment
    /// and a run) hold exactly the bytes written, in pieces of any size.
    #[test]
    fn holds_exactly_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK_RUN,
            BLOCK_RUN + 3 * ALIGN + 5,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("{len}.spool"));
            let Some(mut file) = DirectFile::create(&path).unwrap() else {
                return; // this file system refuses O_DIRECT: nothing to test
            };
            for piece in bytes.chunks(7919) {
                file.write(piece).unwrap();
            }
            file.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "length {len}");
        }
    }
}
