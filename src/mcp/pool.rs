//! An elastic pool of worker threads for tool calls. A long dispatch holds
//! its worker for minutes, so the pool grows instead of queueing behind it
//! (the concurrency limiter, not the pool, bounds `claude` processes); idle
//! workers are reused and exit after a while.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// More in-flight calls than this queue until a worker frees up.
const MAX_WORKERS: usize = 512;
const IDLE_EXIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    workers: usize,
    idle: usize,
}

impl Queue {
    /// Whether a new worker must start for the jobs waiting. A parked
    /// worker counts as idle until it wakes, so two jobs submitted before
    /// it does must not both count on it: the second would wait behind the
    /// first, however long that one runs.
    fn needs_worker(&self) -> bool {
        self.jobs.len() > self.idle && self.workers < MAX_WORKERS
    }
}

#[derive(Clone, Default)]
pub struct Pool {
    shared: Arc<(Mutex<Queue>, Condvar)>,
}

impl Pool {
    pub fn new() -> Pool {
        Pool::default()
    }

    pub fn submit(&self, job: impl FnOnce() + Send + 'static) {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
        queue.jobs.push_back(Box::new(job));
        if !queue.needs_worker() {
            ready.notify_one();
            return;
        }
        queue.workers += 1;
        drop(queue);
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("tool-call".into())
            .spawn(move || work(&shared));
        if spawned.is_err() {
            // Out of threads: the queued job waits for an existing worker.
            lock.lock().unwrap_or_else(|p| p.into_inner()).workers -= 1;
            crate::log::warn("could not start a worker thread; the call waits for a free one");
        }
    }
}

fn work(shared: &(Mutex<Queue>, Condvar)) {
    let (lock, ready) = shared;
    let mut queue = lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            drop(queue);
            job();
            queue = lock.lock().unwrap_or_else(|p| p.into_inner());
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
        let pool = Pool::new();
        let (release, blocked) = mpsc::channel::<()>();
        pool.submit(move || {
            let _ = blocked.recv();
        });
        let (done, finished) = mpsc::channel();
        pool.submit(move || done.send(()).unwrap());
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
        };
        assert!(!queue(1, 1, 1).needs_worker());
        assert!(queue(2, 1, 1).needs_worker());
        assert!(queue(1, 0, 3).needs_worker());
        assert!(!queue(2, 1, MAX_WORKERS).needs_worker());
    }

    #[test]
    fn a_quick_job_submitted_right_after_a_blocking_one_runs() {
        let pool = Pool::new();
        for _ in 0..50 {
            let_workers_park(&pool);
            let (release, blocked) = mpsc::channel::<()>();
            let (done, finished) = mpsc::channel();
            pool.submit(move || {
                let _ = blocked.recv();
            });
            pool.submit(move || done.send(()).unwrap());
            finished
                .recv_timeout(Duration::from_secs(5))
                .expect("the quick job ran while the blocking one blocks");
            release.send(()).unwrap();
        }
    }

    /// Waits until every worker of `pool` is parked with nothing queued.
    fn let_workers_park(pool: &Pool) {
        let (done, finished) = mpsc::channel();
        pool.submit(move || done.send(()).unwrap());
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
        let pool = Pool::new();
        let (done, finished) = mpsc::channel();
        for _ in 0..20 {
            let done = done.clone();
            pool.submit(move || done.send(()).unwrap());
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
}
