//! An elastic pool of worker threads for tool calls. A long dispatch holds
//! its worker for minutes, so the pool grows instead of queueing behind it
//! (the concurrency limiter, not the pool, bounds `claude` processes); idle
//! workers are reused and exit after a while. A pool takes at most
//! `capacity` jobs at once and refuses more, so a flood of calls is
//! answered at once instead of waiting unseen; a job that panics costs only
//! itself.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

const IDLE_EXIT: Duration = Duration::from_secs(60);

/// Why a job was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The pool already holds `capacity` jobs.
    Full { capacity: usize },
    /// No worker thread could be started for it (the system is out of
    /// threads).
    NoThread,
}

struct Queue {
    jobs: VecDeque<Job>,
    workers: usize,
    idle: usize,
    /// Jobs accepted and not yet finished (queued or running).
    active: usize,
    capacity: usize,
}

impl Queue {
    /// Whether a new worker must start for the jobs waiting. A parked
    /// worker counts as idle until it wakes, so two jobs submitted before
    /// it does must not both count on it: the second would wait behind the
    /// first, however long that one runs.
    fn needs_worker(&self) -> bool {
        self.jobs.len() > self.idle && self.workers < self.capacity
    }
}

#[derive(Clone)]
pub struct Pool {
    shared: Arc<(Mutex<Queue>, Condvar)>,
}

impl Pool {
    /// A pool running at most `capacity` jobs at once.
    pub fn new(capacity: usize) -> Pool {
        let queue = Queue {
            jobs: VecDeque::new(),
            workers: 0,
            idle: 0,
            active: 0,
            capacity,
        };
        Pool {
            shared: Arc::new((Mutex::new(queue), Condvar::new())),
        }
    }

    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Refused> {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        if queue.active >= queue.capacity {
            return Err(Refused::Full {
                capacity: queue.capacity,
            });
        }
        queue.active += 1;
        queue.jobs.push_back(Box::new(job));
        if !queue.needs_worker() {
            ready.notify_one();
            return Ok(());
        }
        // The new worker takes this job itself, so a worker that cannot be
        // started leaves nothing queued behind with nobody to run it.
        let Some(job) = queue.jobs.pop_back() else {
            return Ok(());
        };
        queue.workers += 1;
        drop(queue);
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("tool-call".into())
            .spawn(move || work(&shared, Some(job)));
        if spawned.is_err() {
            let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
            queue.workers -= 1;
            queue.active -= 1;
            return Err(Refused::NoThread);
        }
        Ok(())
    }
}

/// A worker's life: `first` (the job it was started for), then whatever is
/// queued, then idle until `IDLE_EXIT` passes with nothing to do.
fn work(shared: &(Mutex<Queue>, Condvar), first: Option<Job>) {
    let (lock, ready) = shared;
    let mut first = first;
    let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = first.take().or_else(|| queue.jobs.pop_front()) {
            drop(queue);
            // Callers answer their own panics; this only keeps the worker
            // and the counts alive if one slips through.
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                crate::log::warn("a tool call panicked outside its handler");
            }
            queue = lock.lock().unwrap_or_else(|p| p.into_inner());
            queue.active -= 1;
            continue;
        }
        queue.idle += 1;
        let (next, timeout) = ready
            .wait_timeout(queue, IDLE_EXIT)
            .unwrap_or_else(|p| p.into_inner());
        queue = next;
        queue.idle -= 1;
        if timeout.timed_out() && queue.jobs.is_empty() {
            queue.workers -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_blocked_job_does_not_hold_up_the_next() {
        let pool = Pool::new(8);
        let (release, blocked) = mpsc::channel::<()>();
        pool.submit(move || {
            let _ = blocked.recv();
        })
        .unwrap();
        let (done, finished) = mpsc::channel();
        pool.submit(move || done.send(()).unwrap()).unwrap();
        finished
            .recv_timeout(Duration::from_secs(5))
            .expect("second job ran while the first blocks");
        release.send(()).unwrap();
    }

    #[test]
    fn one_parked_worker_is_not_counted_twice() {
        let queue = |jobs: usize, idle: usize, workers: usize| Queue {
            jobs: (0..jobs).map(|_| Box::new(|| {}) as Job).collect(),
            workers,
            idle,
            active: jobs,
            capacity: 16,
        };
        assert!(!queue(1, 1, 1).needs_worker());
        assert!(queue(2, 1, 1).needs_worker());
        assert!(queue(1, 0, 3).needs_worker());
        assert!(!queue(2, 1, 16).needs_worker());
    }

    #[test]
    fn a_quick_job_submitted_right_after_a_blocking_one_runs() {
        let pool = Pool::new(8);
        for _ in 0..50 {
            let_workers_park(&pool);
            let (release, blocked) = mpsc::channel::<()>();
            let (done, finished) = mpsc::channel();
            pool.submit(move || {
                let _ = blocked.recv();
            })
            .unwrap();
            pool.submit(move || done.send(()).unwrap()).unwrap();
            finished
                .recv_timeout(Duration::from_secs(5))
                .expect("the quick job ran while the blocking one blocks");
            release.send(()).unwrap();
        }
    }

    /// Waits until every worker of `pool` is parked with nothing queued.
    fn let_workers_park(pool: &Pool) {
        let (done, finished) = mpsc::channel();
        pool.submit(move || done.send(()).unwrap()).unwrap();
        finished.recv_timeout(Duration::from_secs(5)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let queue = pool.shared.0.lock().unwrap();
            if queue.idle == queue.workers && queue.jobs.is_empty() {
                return;
            }
            drop(queue);
            assert!(std::time::Instant::now() < deadline, "workers never parked");
            thread::yield_now();
        }
    }

    #[test]
    fn idle_workers_are_reused() {
        let pool = Pool::new(8);
        let (done, finished) = mpsc::channel();
        for _ in 0..20 {
            let done = done.clone();
            pool.submit(move || done.send(()).unwrap()).unwrap();
            finished.recv_timeout(Duration::from_secs(5)).unwrap();
            // Let the worker park before the next job arrives.
            let parked = std::time::Instant::now() + Duration::from_secs(5);
            while pool.shared.0.lock().unwrap().idle == 0 {
                assert!(
                    std::time::Instant::now() < parked,
                    "the worker never went idle"
                );
                thread::yield_now();
            }
        }
        assert_eq!(pool.shared.0.lock().unwrap().workers, 1);
    }

    #[test]
    fn past_its_capacity_a_pool_refuses_and_a_panic_frees_its_place() {
        let pool = Pool::new(2);
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = Arc::new(Mutex::new(blocked));
        for _ in 0..2 {
            let blocked = Arc::clone(&blocked);
            pool.submit(move || {
                let _ = blocked.lock().unwrap().recv();
            })
            .unwrap();
        }
        assert_eq!(pool.submit(|| {}), Err(Refused::Full { capacity: 2 }));
        release.send(()).unwrap();
        release.send(()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.shared.0.lock().unwrap().active > 0 {
            assert!(std::time::Instant::now() < deadline, "jobs never ended");
            thread::yield_now();
        }
        pool.submit(|| panic!("a tool call fault")).unwrap();
        let (done, finished) = mpsc::channel();
        pool.submit(move || done.send(()).unwrap()).unwrap();
        finished
            .recv_timeout(Duration::from_secs(5))
            .expect("the pool keeps working after a panic");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.shared.0.lock().unwrap().active > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the panic kept its place"
            );
            thread::yield_now();
        }
    }
}
