//! A cancel request that can be handed to any number of running
//! dispatches. Whoever holds a clone may cancel; whoever waits on something
//! else (a limiter slot, a process) subscribes a waker and is woken the
//! moment it happens, instead of polling.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Called once when the token is cancelled. A waker must take the lock its
/// waiter checks `is_cancelled` under before notifying, or the wake-up can
/// fall between the waiter's check and its wait — so `cancel` must never be
/// called while holding such a lock.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    wakers: Mutex<Vec<(u64, Waker)>>,
}

#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CancelToken")
            .field(&self.is_cancelled())
            .finish()
    }
}

/// Keeps a waker subscribed; dropping it unsubscribes.
#[must_use = "dropping a Subscription unsubscribes its waker at once"]
pub struct Subscription {
    token: CancelToken,
    id: u64,
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels and wakes every subscriber; later calls do nothing.
    pub fn cancel(&self) {
        if self.0.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        // Called outside the list's lock: a waker takes its waiter's lock,
        // and that waiter may be subscribing or unsubscribing right now.
        let wakers: Vec<Waker> = self.wakers().iter().map(|(_, w)| Arc::clone(w)).collect();
        for wake in wakers {
            wake();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Calls `wake` when the token is cancelled, for as long as the
    /// returned subscription lives. Subscribe before the waiter's last
    /// `is_cancelled` check.
    pub fn subscribe(&self, wake: Waker) -> Subscription {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        self.wakers().push((id, wake));
        Subscription {
            token: self.clone(),
            id,
        }
    }

    fn wakers(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
        // A list of callbacks: a panic elsewhere cannot leave it torn.
        self.0.wakers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.token.wakers().retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Condvar;
    use std::time::Duration;

    #[test]
    fn a_waiter_is_woken_at_once_and_unsubscribes_when_done() {
        let token = CancelToken::new();
        let shared = Arc::new((Mutex::new(()), Condvar::new()));
        let waker_shared = Arc::clone(&shared);
        let subscription = token.subscribe(Arc::new(move || {
            let _held = waker_shared.0.lock().unwrap();
            waker_shared.1.notify_all();
        }));
        let canceller = token.clone();
        let waiting = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            canceller.cancel();
        });
        let mut guard = shared.0.lock().unwrap();
        while !token.is_cancelled() {
            // Far longer than the test may take: only the waker ends it.
            let (next, timeout) = shared
                .1
                .wait_timeout(guard, Duration::from_secs(60))
                .unwrap();
            assert!(!timeout.timed_out(), "never woken");
            guard = next;
        }
        drop(guard);
        waiting.join().unwrap();
        drop(subscription);
        assert!(token.wakers().is_empty());
    }
}
