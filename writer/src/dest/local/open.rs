//! Opening an object of a local destination for reading without leaving the
//! destination's directory.
//!
//! Every component below the root is opened relative to its parent's
//! descriptor (`openat`) with `O_NOFOLLOW`, so a symbolic link anywhere on
//! the path (an artifact, an `epoch=N` directory or `manifest.json` linked
//! to a file outside, to `/dev/zero`) is refused without looking at what it
//! points to. The object must be a regular file: its type is read without
//! opening it (`fstatat`), since opening a FIFO blocks until a writer comes
//! and a device never ends, then checked again on the opened descriptor in
//! case the entry was swapped in between. The root itself is followed: the
//! operator chose it.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat};
use nix::sys::stat::{Mode, SFlag, fstatat};

use crate::dest::Refusal;

/// Why [`open_regular`] did not open a file.
#[derive(Debug)]
pub(super) enum OpenError {
    /// The object, or a directory on its path, does not exist.
    NotFound,
    /// It exists but must not be read ([`Refusal`]).
    Refused(Refusal),
    /// The file system failed.
    Io(io::Error),
}

impl From<Errno> for OpenError {
    fn from(errno: Errno) -> Self {
        match errno {
            Errno::ENOENT => OpenError::NotFound,
            other => OpenError::Io(other.into()),
        }
    }
}

/// An opened regular file and its size at the open.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) file: File,
    pub(super) len: u64,
}

/// Opens `relative` (normal components only) under `root` as a regular file
/// (module docs).
pub(super) fn open_regular(root: &Path, relative: &Path) -> Result<Opened, OpenError> {
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => names.push(name),
            _ => {
                return Err(OpenError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a key must be a relative path of plain names",
                )));
            }
        }
    }
    let Some((name, parents)) = names.split_last() else {
        return Err(OpenError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an empty key",
        )));
    };
    let directory = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir: OwnedFd = open(root, directory, Mode::empty())?;
    let mut walked = PathBuf::new();
    for part in parents {
        walked.push(part);
        dir = match openat(&dir, *part, directory | OFlag::O_NOFOLLOW, Mode::empty()) {
            Ok(next) => next,
            Err(errno @ (Errno::ELOOP | Errno::ENOTDIR)) => {
                return Err(classify(&dir, part, &walked, "directory", errno));
            }
            Err(errno) => return Err(errno.into()),
        };
    }
    walked.push(name);
    let stat = fstatat(&dir, *name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    refuse_unless(stat.st_mode, SFlag::S_IFREG, &walked, "regular file")?;
    // O_NONBLOCK: should a FIFO be swapped in after the check, the open
    // returns at once instead of waiting for a writer.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = File::from(openat(&dir, *name, flags, Mode::empty())?);
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() || meta.ino() != stat.st_ino || meta.dev() != stat.st_dev {
        return Err(OpenError::Refused(Refusal::WrongType {
            path: display(&walked),
            kind: "file replaced while it was opened",
            expected: "regular file",
        }));
    }
    Ok(Opened {
        len: meta.len(),
        file,
    })
}

/// Why opening `name` in `dir` as a directory failed with `errno`: a link or
/// another type of file is refused by name; anything else is passed on.
fn classify(
    dir: &impl AsFd,
    name: &OsStr,
    walked: &Path,
    expected: &'static str,
    errno: Errno,
) -> OpenError {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => match refuse_unless(stat.st_mode, SFlag::S_IFDIR, walked, expected) {
            Err(refused) => refused,
            Ok(()) => OpenError::Io(errno.into()),
        },
        Err(other) => other.into(),
    }
}

/// Refuses an entry of `walked` whose mode is not of type `wanted`.
fn refuse_unless(
    mode: libc::mode_t,
    wanted: SFlag,
    walked: &Path,
    expected: &'static str,
) -> Result<(), OpenError> {
    let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
    if kind == wanted {
        return Ok(());
    }
    let path = display(walked);
    Err(OpenError::Refused(if kind == SFlag::S_IFLNK {
        Refusal::SymbolicLink { path }
    } else {
        Refusal::WrongType {
            path,
            kind: kind_name(kind),
            expected,
        }
    }))
}

fn kind_name(kind: SFlag) -> &'static str {
    const NAMES: [(SFlag, &str); 6] = [
        (SFlag::S_IFREG, "regular file"),
        (SFlag::S_IFDIR, "directory"),
        (SFlag::S_IFIFO, "FIFO"),
        (SFlag::S_IFCHR, "character device"),
        (SFlag::S_IFBLK, "block device"),
        (SFlag::S_IFSOCK, "socket"),
    ];
    NAMES
        .iter()
        .find(|(flag, _)| *flag == kind)
        .map_or("special file", |(_, name)| name)
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Reads the first `len` bytes of `file` (its size at the open, checked by
/// the caller against what it expects); a file that shrank meanwhile
/// yields fewer, which the caller's size check reports. Large files are
/// read in one range per core at once: copying a snapshot out of the page
/// cache is mostly the kernel zeroing and copying pages, which one thread
/// does at a few GB/s, and a rebuild waits for it.
pub(super) fn read_opened(opened: Opened) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    let Opened { file, len } = opened;
    let len = usize::try_from(len).map_err(io::Error::other)?;
    let threads = crate::blocking::worker_threads();
    if len < PARALLEL_READ_BYTES || threads == 1 {
        let mut body = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut body)?;
        return Ok(body);
    }
    let mut body = vec![0; len];
    let run = len.div_ceil(threads);
    std::thread::scope(|scope| {
        let reads: Vec<_> = body
            .chunks_mut(run)
            .enumerate()
            .map(|(index, range)| {
                let file = &file;
                scope.spawn(move || file.read_exact_at(range, (index * run) as u64))
            })
            .collect();
        reads.into_iter().try_for_each(|read| {
            read.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })?;
    Ok(body)
}

/// Files from this size on are read on several threads.
pub(super) const PARALLEL_READ_BYTES: usize = 64 << 20;
