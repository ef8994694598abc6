//! Bounded exclusive `flock(2)` locks on a side file (`agents.yaml.lock`,
//! `jobs/.jobs.lock`). The Python original takes the same locks, so the two
//! tools can share one config directory. A waiter gives up after a bounded
//! time with an error — it never proceeds unlocked.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::atomic::ensure_private_dir;
use super::regular::open_or_create_private;

/// How long a mutation waits for another process's lock before failing.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The same polling step the original uses; short enough that a queue of
/// CLI invocations drains quickly, long enough not to spin.
const POLL_STEP: Duration = Duration::from_millis(20);

/// Holds the lock until dropped (closing the descriptor releases it).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

#[derive(Debug)]
pub enum LockError {
    Open { path: PathBuf, source: io::Error },
    TimedOut { path: PathBuf, waited: Duration },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Open { path, source } => {
                write!(f, "could not open lock file {}: {source}", path.display())
            }
            LockError::TimedOut { path, waited } => write!(
                f,
                "another process held {} for {} s; nothing was changed",
                path.display(),
                waited.as_secs()
            ),
        }
    }
}

impl std::error::Error for LockError {}

/// Takes an exclusive lock on `path` (created 0600 if missing), waiting at
/// most `wait`. A symlink or FIFO in its place is refused.
pub fn lock_exclusive(path: &Path, wait: Duration) -> Result<FileLock, LockError> {
    let open_error = |source| LockError::Open {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        ensure_private_dir(dir).map_err(open_error)?;
    }
    let file = open_or_create_private(path).map_err(open_error)?;
    let started = Instant::now();
    loop {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(FileLock { _file: file });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
            _ => return Err(open_error(err)),
        }
        if started.elapsed() >= wait {
            return Err(LockError::TimedOut {
                path: path.to_path_buf(),
                waited: wait,
            });
        }
        thread::sleep(POLL_STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_makes_a_second_taker_time_out_then_succeed_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/agents.yaml.lock");
        let held = lock_exclusive(&path, LOCK_WAIT).unwrap();
        // A separate open file description conflicts even within one process.
        let err = lock_exclusive(&path, Duration::from_millis(60)).unwrap_err();
        assert!(matches!(err, LockError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("nothing was changed"));
        drop(held);
        lock_exclusive(&path, Duration::from_millis(60)).unwrap();
    }
}
