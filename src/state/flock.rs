//! Bounded exclusive `flock(2)` locks on a side file (`agents.yaml.lock`,
//! `jobs/.jobs.lock`). The Python original takes the same locks, so the two
//! tools can share one config directory. A waiter gives up after a bounded
//! time with an error — it never proceeds unlocked.

use std::fmt;
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::atomic::ensure_private_dir;
use super::regular::open_or_create_private;

/// How long a mutation waits for another process's lock before failing.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// `LOCK_WAIT`, or the test suite's shorter wait
/// (`AGENT_DISPATCH_TEST_LOCK_WAIT_MS`, debug builds only).
pub fn lock_wait() -> Duration {
    crate::tunables::duration("AGENT_DISPATCH_TEST_LOCK_WAIT_MS", LOCK_WAIT)
}

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
        match file.try_lock() {
            Ok(()) => return Ok(FileLock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(err)) => return Err(open_error(err)),
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
