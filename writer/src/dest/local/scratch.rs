//! Scratch directories a killed process cannot leak for good.
//!
//! Every user of a scratch directory (a spool, a local destination's temp
//! files) works in a run directory of its own, `<parent>/run-<id>/`, and
//! holds an exclusive `flock` on `<parent>/run-<id>.lock` for as long as it
//! lives. The kernel drops the locks of a dead process, so at start-up
//! [`clean_stale`] can tell a crashed run from a live one without guessing
//! from ages: a run whose lock it can take is dead, and goes. `flock` locks
//! belong to the open file, not the process, so a second user in the same
//! process (another table) is protected the same way as another process.
//! Loose `*.spool` and `*.part` files directly in the parent are what
//! versions before run directories left; they go too.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const RUN_PREFIX: &str = "run-";
const LOCK_SUFFIX: &str = ".lock";
/// Extensions of the loose files older versions wrote into the parent.
const LOOSE_EXTENSIONS: [&str; 2] = ["spool", "part"];

/// A run directory, locked while this value lives and removed when it is
/// dropped (module docs).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    lock_path: PathBuf,
    /// Holds the `flock`; closing it releases the lock.
    _lock: File,
}

impl RunDir {
    /// Creates and locks a new run directory under `parent` (created too).
    pub fn create(parent: &Path) -> io::Result<Arc<Self>> {
        fs::create_dir_all(parent)?;
        loop {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let lock_path = parent.join(format!("{RUN_PREFIX}{id}{LOCK_SUFFIX}"));
            let lock = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock_path)?;
            lock.lock()?;
            // A cleaner may have opened the new lock file before it was
            // locked, taken it for a dead run's and removed it: then it is
            // no longer the file at the path, and protects nothing.
            let still_ours = fs::metadata(&lock_path)
                .is_ok_and(|meta| lock.metadata().is_ok_and(|own| own.ino() == meta.ino()));
            if !still_ours {
                continue;
            }
            let path = parent.join(format!("{RUN_PREFIX}{id}"));
            fs::create_dir(&path)?;
            return Ok(Arc::new(Self {
                path,
                lock_path,
                _lock: lock,
            }));
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // The directory first: a run directory without its lock file is
        // taken for a dead one.
        let _ = fs::remove_dir_all(&self.path);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// What [`clean_stale`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    /// Files removed (in dead run directories, or loose).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Removes what dead runs left under `parent` (module docs); a missing
/// `parent` holds nothing.
pub fn clean_stale(parent: &Path) -> io::Result<Cleaned> {
    let mut cleaned = Cleaned::default();
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(cleaned),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let file_type = entry.file_type()?;
        if let Some(id) = name
            .strip_prefix(RUN_PREFIX)
            .and_then(|rest| rest.strip_suffix(LOCK_SUFFIX))
        {
            if file_type.is_file() {
                clean_run(parent, id, &mut cleaned)?;
            }
        } else if name.starts_with(RUN_PREFIX) && file_type.is_dir() {
            // A run directory whose lock file is gone belongs to nobody:
            // the lock file is created before the directory and removed
            // after it.
            if !parent.join(format!("{name}{LOCK_SUFFIX}")).exists() {
                remove_run_dir(&entry.path(), &mut cleaned)?;
            }
        } else if file_type.is_file()
            && Path::new(name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| LOOSE_EXTENSIONS.contains(&e))
        {
            remove_counted(&entry.path(), &mut cleaned)?;
        }
    }
    Ok(cleaned)
}

/// Removes the run `id` if its lock can be taken (its owner is dead).
fn clean_run(parent: &Path, id: &str, cleaned: &mut Cleaned) -> io::Result<()> {
    let lock_path = parent.join(format!("{RUN_PREFIX}{id}{LOCK_SUFFIX}"));
    let lock = match OpenOptions::new().write(true).open(&lock_path) {
        Ok(lock) => lock,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(()),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    // Held while removing, so a creator that opened this file cannot
    // start using it meanwhile.
    remove_run_dir(&parent.join(format!("{RUN_PREFIX}{id}")), cleaned)?;
    match fs::remove_file(&lock_path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn remove_run_dir(dir: &Path, cleaned: &mut Cleaned) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            remove_counted(&entry.path(), cleaned)?;
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn remove_counted(path: &Path, cleaned: &mut Cleaned) -> io::Result<()> {
    let bytes = fs::symlink_metadata(path).map_or(0, |meta| meta.len());
    match fs::remove_file(path) {
        Ok(()) => {
            cleaned.files += 1;
            cleaned.bytes += bytes;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_runs_and_loose_files_go_and_live_runs_stay() {
        let parent = tempfile::tempdir().unwrap();
        let live = RunDir::create(parent.path()).unwrap();
        fs::write(live.path().join("a.jsonl.spool"), b"live").unwrap();
        // A dead run: its lock file exists but nobody holds the lock.
        let dead = parent.path().join("run-dead");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("b.pb.spool"), b"12345").unwrap();
        File::create(parent.path().join("run-dead.lock")).unwrap();
        // A run directory without a lock file, and loose files.
        fs::create_dir(parent.path().join("run-orphan")).unwrap();
        fs::write(parent.path().join("run-orphan/c.part"), b"x").unwrap();
        fs::write(parent.path().join("old.jsonl.spool"), b"yy").unwrap();
        fs::write(parent.path().join("old.part"), b"zzz").unwrap();

        let cleaned = clean_stale(parent.path()).unwrap();
        assert_eq!(
            cleaned,
            Cleaned {
                files: 4,
                bytes: 11
            }
        );
        let mut left: Vec<String> = fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let live_name = live.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(left, [live_name.to_owned(), format!("{live_name}.lock")]);
        assert!(live.path().join("a.jsonl.spool").exists());

        drop(live);
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
