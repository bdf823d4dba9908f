//! The repository lock: an exclusive OS file lock on `.kodiak/lock` holding the owner's pid.
//!
//! sled keeps an exclusive lock on its own files, so only one process can have the database
//! open; taking this lock first turns a second opener's failure into a clear message (or a
//! wait). The lock is released when the [`RepoLock`] is dropped or the process exits.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for a lock held by another process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockWait {
    /// Fail at once.
    No,
    /// Retry for up to this long, then fail.
    Poll(Duration),
    /// Block until the lock is free.
    Forever,
}

/// How long read-only commands retry a held lock before failing.
pub const READ_LOCK_WAIT: Duration = Duration::from_secs(3);

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A held repository lock.
#[derive(Debug)]
pub struct RepoLock {
    file: File,
    path: PathBuf,
}

/// The pid recorded in a lock file, if readable.
pub fn lock_holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl RepoLock {
    /// Takes the lock at `path` (creating the file), waiting as `wait` says.
    pub fn acquire(path: &Path, wait: LockWait) -> Result<RepoLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("opening the lock file", path, e))?;
        let deadline = match wait {
            LockWait::Poll(d) => Some(Instant::now() + d),
            _ => None,
        };
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => match wait {
                    LockWait::No => {
                        return Err(Error::Locked {
                            pid: lock_holder(path),
                        });
                    }
                    LockWait::Forever => {
                        file.lock().map_err(|e| Error::io("locking", path, e))?;
                        break;
                    }
                    LockWait::Poll(_) => {
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            return Err(Error::Locked {
                                pid: lock_holder(path),
                            });
                        }
                        std::thread::sleep(POLL_INTERVAL);
                    }
                },
                Err(TryLockError::Error(e)) => return Err(Error::io("locking", path, e)),
            }
        }
        let mut lock = RepoLock {
            file,
            path: path.to_path_buf(),
        };
        lock.write_pid()?;
        Ok(lock)
    }

    fn write_pid(&mut self) -> Result<()> {
        let pid = std::process::id();
        self.file
            .set_len(0)
            .and_then(|_| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(self.file, "{pid}"))
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io("writing", &self.path, e))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Best effort: a stale pid left behind is harmless, it is only read while locked.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_then_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = RepoLock::acquire(&path, LockWait::No).unwrap();
        assert_eq!(lock_holder(&path), Some(std::process::id()));
        match RepoLock::acquire(&path, LockWait::No) {
            Err(Error::Locked { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        let start = Instant::now();
        assert!(RepoLock::acquire(&path, LockWait::Poll(Duration::from_millis(120))).is_err());
        assert!(start.elapsed() >= Duration::from_millis(120));
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || RepoLock::acquire(&path, LockWait::Forever).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(first);
        waiter.join().unwrap().unwrap();
        let again = RepoLock::acquire(&path, LockWait::No).unwrap();
        assert_eq!(again.path(), path);
    }
}
