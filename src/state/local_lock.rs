//! An in-process lock whose waiters give up after a bound, for code that
//! must never wait forever behind a thread that is stuck (the job store
//! holds it around file work). std's `Mutex` has no timed lock, so this is
//! a flag under a mutex with a condition variable.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct LocalLock {
    held: Mutex<bool>,
    freed: Condvar,
}

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct LocalGuard<'a> {
    lock: &'a LocalLock,
}

/// The lock stayed held for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub waited: Duration,
}

impl LocalLock {
    pub fn new() -> LocalLock {
        LocalLock::default()
    }

    /// Takes the lock, waiting at most `wait`.
    pub fn lock(&self, wait: Duration) -> Result<LocalGuard<'_>, Busy> {
        let deadline = Instant::now() + wait;
        // The flag is a plain bool: a panic cannot leave it inconsistent.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held {
            let now = Instant::now();
            if now >= deadline {
                return Err(Busy { waited: wait });
            }
            held = self
                .freed
                .wait_timeout(held, deadline - now)
                .map_or_else(|p| p.into_inner().0, |(guard, _)| guard);
        }
        *held = true;
        Ok(LocalGuard { lock: self })
    }
}

impl Drop for LocalGuard<'_> {
    fn drop(&mut self) {
        *self.lock.held.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.lock.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_then_is_free_after_release() {
        let lock = LocalLock::new();
        let held = lock.lock(Duration::from_secs(1)).unwrap();
        let err = lock.lock(Duration::from_millis(30)).unwrap_err();
        assert_eq!(err.waited, Duration::from_millis(30));
        drop(held);
        assert!(lock.lock(Duration::from_millis(30)).is_ok());
    }

    #[test]
    fn waiters_take_turns() {
        let lock = std::sync::Arc::new(LocalLock::new());
        let counter = std::sync::Arc::new(Mutex::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (lock, counter) = (lock.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let _guard = lock.lock(Duration::from_secs(30)).unwrap();
                        let value = *counter.lock().unwrap();
                        std::thread::yield_now();
                        *counter.lock().unwrap() = value + 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 800);
    }
}
