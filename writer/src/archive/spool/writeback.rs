//! Early writeback of a spool file: while a large snapshot is still being
//! encoded, its dirty pages are already written to disk, so the fsync before
//! the put finds little left (what RocksDB's `bytes_per_sync` does). Without
//! it, encoding and the disk take turns and a snapshot costs their sum.
//!
//! std has no `sync_file_range`, so a helper thread calls `sync_data` on a
//! clone of the handle; requests that arrive while one runs are merged. An
//! error is kept and reported by [`Writeback::finish`]: the kernel reports a
//! writeback error once per open file, and the helper may be the one that
//! sees it.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

/// Bytes written between two writeback requests.
pub(super) const WRITEBACK_EVERY: u64 = 16 << 20;

/// The helper thread of one spool file.
#[derive(Debug)]
pub(super) struct Writeback {
    requests: SyncSender<()>,
    helper: JoinHandle<io::Result<()>>,
}

impl Writeback {
    /// Starts a helper for `file`.
    pub(super) fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        let (requests, pending) = mpsc::sync_channel::<()>(1);
        let helper = std::thread::Builder::new()
            .name("spool-writeback".to_owned())
            .spawn(move || {
                let mut result = Ok(());
                for () in pending {
                    if result.is_ok() {
                        result = file.sync_data();
                    }
                }
                result
            })?;
        Ok(Self { requests, helper })
    }

    /// Asks for the file's dirty pages to be written; returns at once.
    pub(super) fn request(&self) {
        // Full: a request is already waiting, which covers this one. The
        // helper only stops once `finish` has dropped the sender.
        let _ = self.requests.try_send(());
    }

    /// Stops the helper, returning the first error it met.
    pub(super) fn finish(self) -> io::Result<()> {
        drop(self.requests);
        self.helper
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("spool writeback thread panicked")))
    }
}
