//! The limiter: one FIFO counting semaphore per server process that bounds
//! how many `claude` subprocesses run at once. Every dispatch path (plain,
//! session, parallel items and aggregator, stream, dialogue turns, async job
//! workers) takes a `Slot` from the same `Limiter` before it spawns and drops
//! it only after the child is reaped. Slots are granted in strict arrival
//! order, the ceiling can be moved at any time without revoking held slots,
//! and a caller still waiting can give up through its `CancelToken`. Knows
//! nothing about processes, configuration or MCP.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::runner::CancelToken;

pub struct Limiter {
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Slots held by a `Slot` plus slots reserved for a waiter that has not
    /// woken up yet. Counting reservations here is what keeps a newcomer
    /// from taking a slot that was freed for the head of the queue.
    active: usize,
    /// Waiters not yet granted, oldest first.
    queue: VecDeque<Waiter>,
    /// Waiters granted a slot that they have not picked up yet.
    granted: Vec<u64>,
    next_ticket: u64,
}

struct Waiter {
    ticket: u64,
    /// One condition variable per waiter (all paired with the one mutex),
    /// so a grant wakes exactly the waiter it was made for.
    wake: Arc<Condvar>,
}

impl State {
    /// Hands free slots to the head of the queue, reserving each before its
    /// waiter wakes, so arrival order holds however the threads are
    /// scheduled.
    fn grant(&mut self) {
        while self.active < self.limit {
            let Some(waiter) = self.queue.pop_front() else {
                break;
            };
            self.active += 1;
            self.granted.push(waiter.ticket);
            waiter.wake.notify_one();
        }
    }

    fn release(&mut self) {
        // A `Slot` exists only for a counted slot and releases once, so
        // `active` cannot be 0 here; saturating keeps a bug from wrapping the
        // count into "no limit at all".
        debug_assert!(self.active > 0, "released a slot that was never held");
        self.active = self.active.saturating_sub(1);
        self.grant();
    }

    /// Whether `ticket` was granted; the grant is taken out either way.
    fn take_grant(&mut self, ticket: u64) -> bool {
        match self.granted.iter().position(|t| *t == ticket) {
            Some(index) => {
                self.granted.swap_remove(index);
                true
            }
            None => false,
        }
    }
}

impl Limiter {
    /// A limiter allowing `limit` slots at once; 0 is taken as 1 (a limit of
    /// 0 would block every dispatch forever).
    pub fn new(limit: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            state: Mutex::new(State {
                limit: limit.max(1),
                active: 0,
                queue: VecDeque::new(),
                granted: Vec::new(),
                next_ticket: 0,
            }),
        })
    }

    /// Moves the ceiling (0 is taken as 1). Held slots are never revoked:
    /// growing grants queued waiters at once, shrinking only delays future
    /// grants until enough slots have been released.
    pub fn resize(&self, limit: usize) {
        let mut state = self.lock();
        state.limit = limit.max(1);
        state.grant();
    }

    /// Waits for a slot in strict arrival order. Returns `None`, without
    /// holding or owing anything, if `cancel` is (or becomes) cancelled
    /// before the slot is handed over — a cancelled caller never gets to
    /// launch a process.
    pub fn acquire(self: &Arc<Self>, cancel: &CancelToken) -> Option<Slot> {
        let mut state = self.lock();
        if cancel.is_cancelled() {
            return None;
        }
        if state.queue.is_empty() && state.active < state.limit {
            state.active += 1;
            return Some(self.slot());
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let wake = Arc::new(Condvar::new());
        state.queue.push_back(Waiter {
            ticket,
            wake: Arc::clone(&wake),
        });
        let _woken_on_cancel = cancel.subscribe({
            let (limiter, wake) = (Arc::clone(self), Arc::clone(&wake));
            Arc::new(move || {
                let _state = limiter.lock();
                wake.notify_all();
            })
        });
        loop {
            let granted = state.take_grant(ticket);
            if cancel.is_cancelled() {
                if granted {
                    // Granted between our last look and the cancel: the
                    // slot was reserved for us, so pass it on, once.
                    state.release();
                } else {
                    state.queue.retain(|waiter| waiter.ticket != ticket);
                }
                return None;
            }
            if granted {
                return Some(self.slot());
            }
            state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A slot if one is free and nobody is queued for it; never waits.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let mut state = self.lock();
        if state.queue.is_empty() && state.active < state.limit {
            state.active += 1;
            Some(self.slot())
        } else {
            None
        }
    }

    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Slots taken, including ones reserved for a waiter about to wake.
    pub fn active(&self) -> usize {
        self.lock().active
    }

    /// Callers waiting for a slot that have not been granted one.
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    fn slot(self: &Arc<Self>) -> Slot {
        Slot {
            limiter: Arc::clone(self),
        }
    }

    /// The state stays consistent even if a holder of the lock panicked (no
    /// critical section can leave it half-updated), so a poisoned lock is
    /// used as it is rather than taking the whole server down.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One occupied slot. Dropping it frees the slot and hands it to the next
/// waiter; hold it until the child process has been reaped.
#[must_use = "dropping a Slot releases it at once"]
pub struct Slot {
    limiter: Arc<Limiter>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limiter.lock().release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    /// Long enough for any healthy run; a bug fails the test instead of
    /// hanging it.
    const BOUND: Duration = Duration::from_secs(10);

    fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + BOUND;
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Starts a thread that waits for a slot, reports `(id, got_slot)` on
    /// `events`, and holds the slot until `release` is sent (or dropped).
    fn spawn_waiter(
        limiter: &Arc<Limiter>,
        id: usize,
        cancel: CancelToken,
        events: &mpsc::Sender<(usize, bool)>,
    ) -> mpsc::Sender<()> {
        let (release, hold) = mpsc::channel::<()>();
        let limiter = Arc::clone(limiter);
        let events = events.clone();
        thread::spawn(move || {
            let slot = limiter.acquire(&cancel);
            let got = slot.is_some();
            let _ = events.send((id, got));
            if got {
                let _ = hold.recv();
            }
            drop(slot);
        });
        release
    }

    /// Starts a waiter and returns only once it is queued, so waiters
    /// started one after another queue in that order.
    fn queue_waiter(
        limiter: &Arc<Limiter>,
        id: usize,
        cancel: CancelToken,
        events: &mpsc::Sender<(usize, bool)>,
    ) -> mpsc::Sender<()> {
        let before = limiter.queued();
        let release = spawn_waiter(limiter, id, cancel, events);
        wait_until("the waiter is queued", || limiter.queued() == before + 1);
        release
    }

    fn next(events: &mpsc::Receiver<(usize, bool)>) -> (usize, bool) {
        events.recv_timeout(BOUND).expect("a waiter reported")
    }

    #[test]
    fn never_more_than_limit_slots_are_held() {
        let limiter = Limiter::new(3);
        let holding = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (done, finished) = mpsc::channel();
        for index in 0..20u64 {
            let (limiter, holding, most, done) = (
                Arc::clone(&limiter),
                Arc::clone(&holding),
                Arc::clone(&most),
                done.clone(),
            );
            thread::spawn(move || {
                let mut seed = index.wrapping_mul(6_364_136_223_846_793_005) | 1;
                for _ in 0..5 {
                    let slot = limiter.acquire(&CancelToken::new());
                    assert!(slot.is_some());
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    assert!(limiter.active() <= 3);
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    thread::sleep(Duration::from_micros(seed % 2000));
                    holding.fetch_sub(1, Ordering::SeqCst);
                    drop(slot);
                }
                done.send(()).unwrap();
            });
        }
        for _ in 0..20 {
            finished.recv_timeout(BOUND).expect("every thread finishes");
        }
        let most = most.load(Ordering::SeqCst);
        assert!((1..=3).contains(&most), "{most} slots held at once");
        assert_eq!((limiter.active(), limiter.queued()), (0, 0));
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        let limiter = Limiter::new(1);
        let first = limiter.try_acquire().unwrap();
        let (events, reports) = mpsc::channel();
        let releases: Vec<_> = (0..6)
            .map(|id| queue_waiter(&limiter, id, CancelToken::new(), &events))
            .collect();
        drop(first);
        for (expected, release) in releases.iter().enumerate() {
            assert_eq!(next(&reports), (expected, true));
            release.send(()).unwrap();
        }
        wait_until("every slot is back", || limiter.active() == 0);
    }

    #[test]
    fn newcomer_cannot_take_the_slot_reserved_for_the_queue_head() {
        let limiter = Limiter::new(1);
        let first = limiter.try_acquire().unwrap();
        let (events, reports) = mpsc::channel();
        let head = queue_waiter(&limiter, 0, CancelToken::new(), &events);
        drop(first);
        // The head may not have woken yet, but its slot is already counted.
        assert_eq!((limiter.active(), limiter.queued()), (1, 0));
        assert!(limiter.try_acquire().is_none());
        let newcomer = queue_waiter(&limiter, 1, CancelToken::new(), &events);
        assert_eq!(next(&reports), (0, true));
        head.send(()).unwrap();
        assert_eq!(next(&reports), (1, true));
        newcomer.send(()).unwrap();
        wait_until("every slot is back", || limiter.active() == 0);
    }

    #[test]
    fn cancelled_waiter_leaves_the_queue_and_the_next_gets_the_slot() {
        let limiter = Limiter::new(1);
        let first = limiter.try_acquire().unwrap();
        let (events, reports) = mpsc::channel();
        let cancel = CancelToken::new();
        let _cancelled = queue_waiter(&limiter, 0, cancel.clone(), &events);
        let second = queue_waiter(&limiter, 1, CancelToken::new(), &events);
        cancel.cancel();
        assert_eq!(next(&reports), (0, false));
        assert_eq!(limiter.queued(), 1);
        drop(first);
        assert_eq!(next(&reports), (1, true));
        second.send(()).unwrap();
        wait_until("every slot is back", || limiter.active() == 0);
    }

    #[test]
    fn already_cancelled_caller_gets_nothing_even_with_a_free_slot() {
        let limiter = Limiter::new(1);
        let cancel = CancelToken::new();
        cancel.cancel();
        assert!(limiter.acquire(&cancel).is_none());
        assert_eq!((limiter.active(), limiter.queued()), (0, 0));
    }

    #[test]
    fn cancel_after_grant_passes_the_slot_on_exactly_once() {
        let limiter = Limiter::new(1);
        let first = limiter.try_acquire().unwrap();
        let (events, reports) = mpsc::channel();
        let cancel = CancelToken::new();
        let _granted_then_cancelled = queue_waiter(&limiter, 0, cancel.clone(), &events);
        let second = queue_waiter(&limiter, 1, CancelToken::new(), &events);
        let _third = queue_waiter(&limiter, 2, CancelToken::new(), &events);
        {
            // Under the lock, so waiter 0 is granted and cancelled before it
            // can wake: it must find both and hand the slot on. The cancel
            // comes from another thread, since its waker takes this lock;
            // the flag is set before the waker waits for it.
            let mut state = limiter.lock();
            std::mem::forget(first);
            state.release();
            let canceller = cancel.clone();
            let cancelling = thread::spawn(move || canceller.cancel());
            while !cancel.is_cancelled() {
                thread::yield_now();
            }
            drop(state);
            cancelling.join().unwrap();
        }
        let mut both = [next(&reports), next(&reports)];
        both.sort();
        assert_eq!(both, [(0, false), (1, true)]);
        assert_eq!((limiter.active(), limiter.queued()), (1, 1));
        second.send(()).unwrap();
        assert_eq!(next(&reports), (2, true));
    }

    #[test]
    fn growing_grants_queued_waiters_at_once() {
        let limiter = Limiter::new(1);
        let _first = limiter.try_acquire().unwrap();
        let (events, reports) = mpsc::channel();
        let _a = queue_waiter(&limiter, 0, CancelToken::new(), &events);
        let _b = queue_waiter(&limiter, 1, CancelToken::new(), &events);
        let _c = queue_waiter(&limiter, 2, CancelToken::new(), &events);
        limiter.resize(3);
        assert_eq!((limiter.active(), limiter.queued()), (3, 1));
        let mut both = [next(&reports), next(&reports)];
        both.sort();
        assert_eq!(both, [(0, true), (1, true)]);
        assert_eq!(limiter.limit(), 3);
    }

    #[test]
    fn shrinking_never_revokes_and_releases_do_not_over_grant() {
        let limiter = Limiter::new(3);
        let a = limiter.try_acquire().unwrap();
        let b = limiter.try_acquire().unwrap();
        let c = limiter.try_acquire().unwrap();
        limiter.resize(1);
        assert_eq!(limiter.active(), 3);
        let (events, reports) = mpsc::channel();
        let waiter = queue_waiter(&limiter, 0, CancelToken::new(), &events);
        // Grants happen inside `drop`, so the counts are exact right after.
        drop(a);
        assert_eq!((limiter.active(), limiter.queued()), (2, 1));
        drop(b);
        assert_eq!((limiter.active(), limiter.queued()), (1, 1));
        drop(c);
        assert_eq!((limiter.active(), limiter.queued()), (1, 0));
        assert_eq!(next(&reports), (0, true));
        assert!(limiter.try_acquire().is_none());
        waiter.send(()).unwrap();
        wait_until("every slot is back", || limiter.active() == 0);
    }

    #[test]
    fn zero_limit_is_taken_as_one() {
        let limiter = Limiter::new(0);
        assert_eq!(limiter.limit(), 1);
        limiter.resize(4);
        limiter.resize(0);
        assert_eq!(limiter.limit(), 1);
        let _slot = limiter.try_acquire().unwrap();
        assert!(limiter.try_acquire().is_none());
    }
}
