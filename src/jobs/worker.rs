//! Runs async jobs in the background of one server process and keeps the
//! registry of the jobs it owns, so `dispatch_cancel` can kill a running
//! job's process group and `dispatch_wait` wakes the moment a job ends.
//!
//! A job's life here: its work runs the one dispatch path, which queues it
//! for a limiter slot (still `pending` on disk) and calls back once a slot
//! is held, so it is marked `running` only then; the streaming runner
//! writes a progress tail at most once a second; then `finish`. A cancel is persisted before the kill,
//! so the worker's late `finish` is refused by the store and can never
//! resurrect the job.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::record::{Job, ProgressTail, Status};
use super::store::{CancelOutcome, JobStore, StoreError};
use crate::runner::{self, CancelToken, DispatchResult};

/// The `error` of a job whose server exited before it finished.
const EXIT_ERROR: &str = "server exited before the job finished";
/// Jobs one server runs or queues at once (each holds a thread); past it a
/// new one is refused before it is recorded.
pub const MAX_JOBS: usize = 512;
/// Progress reaches the job file at most this often.
const PROGRESS_WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// The work of one job: run the dispatch, calling `start` once it may
/// begin (a limiter slot is held) and giving up when `start` says no.
/// `None` means it never started.
pub type Work = Box<dyn FnOnce(JobRun) -> Option<Finished> + Send>;

/// What a job's run gave: its result, and whether the cache gave it.
pub struct Finished {
    pub result: DispatchResult,
    pub cached: bool,
}

/// Told the job's id once its record is final (or left to stale recovery):
/// how a task's status notification goes out after the record it reports.
pub type Ended = Box<dyn FnOnce(&str) + Send>;

/// What a job's work gets from its worker.
pub struct JobRun<'a> {
    pub cancel: &'a CancelToken,
    pub progress: runner::Progress,
    /// Marks the job `running`; false when it must not run (it was
    /// cancelled while queued, or its record cannot be updated).
    pub start: &'a dyn Fn() -> bool,
}

/// What `dispatch_cancel` did.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelReply {
    pub outcome: &'static str,
    pub status: Option<Status>,
    pub message: Option<&'static str>,
}

pub struct Jobs {
    store: JobStore,
    /// Jobs whose worker lives in this process, with their cancel tokens.
    owned: Mutex<HashMap<String, CancelToken>>,
    /// Set (under the `owned` lock) once the server is exiting: no job
    /// starts after that.
    closed: AtomicBool,
    /// Notified whenever an owned job ends, for `dispatch_wait`.
    ended: Condvar,
}

impl Jobs {
    pub fn new(store: JobStore) -> Arc<Jobs> {
        Arc::new(Jobs {
            store,
            owned: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            ended: Condvar::new(),
        })
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// How many jobs this server runs or queues now.
    pub fn owned_count(&self) -> usize {
        self.owned().len()
    }

    fn owned(&self) -> MutexGuard<'_, HashMap<String, CancelToken>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the worker of a freshly created `pending` job and returns at
    /// once. Ownership is claimed before the thread starts, so a cancel that
    /// arrives while the job waits for a slot can still stop it.
    pub fn start(
        self: &Arc<Self>,
        job_id: String,
        work: Work,
        ended: Option<Ended>,
    ) -> Result<(), StoreError> {
        let cancel = CancelToken::new();
        {
            let mut owned = self.owned();
            if self.closed.load(Ordering::SeqCst) {
                drop(owned);
                let _ = self.store.fail(&job_id, EXIT_ERROR);
                return Err(StoreError::Closed);
            }
            owned.insert(job_id.clone(), cancel.clone());
        }
        let jobs = Arc::clone(self);
        let id = job_id.clone();
        let spawned = thread::Builder::new()
            .name("async-job".into())
            .spawn(move || {
                jobs.run(&id, &cancel, work);
                if let Some(ended) = ended {
                    ended(&id);
                }
            });
        if let Err(err) = spawned {
            self.owned().remove(&job_id);
            let _ = self
                .store
                .fail(&job_id, &format!("Worker could not start: {err}"));
            return Err(StoreError::Spawn(err));
        }
        Ok(())
    }

    fn run(&self, id: &str, cancel: &CancelToken, work: Work) {
        let tail = Arc::new(ProgressWriter::new(self.store.clone(), id.to_owned()));
        let reporter = Arc::clone(&tail);
        let progress: runner::Progress = Arc::new(move |message: &str| reporter.push(message));
        let start = || match self.store.mark_running(id) {
            Ok(marked) => marked.is_some(),
            Err(err) => {
                crate::log::warn(&format!("job {id}: could not mark it running: {err}"));
                false
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            work(JobRun {
                cancel,
                progress,
                start: &start,
            })
        }));
        tail.flush();
        let stored = match outcome {
            Ok(Some(done)) => self.store.finish(id, &done.result, done.cached).map(|_| ()),
            Ok(None) => Ok(()),
            Err(panic) => {
                let what = crate::panics::message(panic.as_ref());
                self.store
                    .fail(id, &format!("Worker crashed: {what}"))
                    .map(|_| ())
            }
        };
        // A refused finish (the job was cancelled meanwhile) is not an
        // error; a storage failure is left to stale recovery.
        if let Err(err) = stored {
            crate::log::warn(&format!("job {id}: could not store its result: {err}"));
        }
        self.owned().remove(id);
        self.ended.notify_all();
    }

    /// Cancels a pending job, or a running one this server owns (persisted
    /// first, then its process group is killed).
    pub fn cancel(&self, id: &str) -> Result<CancelReply, StoreError> {
        let reply = |outcome, status, message| CancelReply {
            outcome,
            status,
            message,
        };
        match self.store.cancel(id, false)? {
            CancelOutcome::Cancelled => {
                // Queued in our limiter: leave the queue now.
                // Cancelled outside the lock: its wakers take locks of their own.
                let token = self.owned().get(id).cloned();
                if let Some(token) = token {
                    token.cancel();
                }
                Ok(reply("cancelled", Some(Status::Cancelled), None))
            }
            CancelOutcome::AlreadyTerminal(status) => {
                Ok(reply("already_terminal", Some(status), None))
            }
            CancelOutcome::NotFound => Ok(reply("not_found", None, None)),
            CancelOutcome::CancelledRunning => {
                Ok(reply("cancelled_running", Some(Status::Cancelled), None))
            }
            CancelOutcome::Running => {
                let owned = self.owned().get(id).cloned();
                let Some(token) = owned else {
                    return Ok(match self.store.get(id)? {
                        Some(job) if job.status.is_terminal() => {
                            reply("already_terminal", Some(job.status), None)
                        }
                        _ => reply(
                            "running",
                            Some(Status::Running),
                            Some(
                                "Job is running but was not started by this server instance, so its subprocess cannot be killed safely. Poll dispatch_status until it finishes.",
                            ),
                        ),
                    });
                };
                match self.store.cancel(id, true)? {
                    CancelOutcome::CancelledRunning => {
                        token.cancel();
                        Ok(reply(
                            "cancelled_running",
                            Some(Status::Cancelled),
                            Some("Job was running; its process group has been killed."),
                        ))
                    }
                    CancelOutcome::AlreadyTerminal(status) => {
                        Ok(reply("already_terminal", Some(status), None))
                    }
                    CancelOutcome::NotFound => Ok(reply("not_found", None, None)),
                    CancelOutcome::Cancelled | CancelOutcome::Running => {
                        token.cancel();
                        Ok(reply("cancelled", Some(Status::Cancelled), None))
                    }
                }
            }
        }
    }

    /// Waits until the job is terminal or `timeout` passes. Own jobs wake
    /// the waiter the moment they end; jobs of other servers sharing the
    /// directory are re-read a few times a second.
    /// A cancelled wait returns what the job is now, as if it timed out.
    pub fn wait(
        self: &Arc<Self>,
        id: &str,
        timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<Option<(Job, bool)>, StoreError> {
        let deadline = Instant::now() + timeout;
        let _woken_on_cancel = cancel.subscribe({
            let jobs = Arc::clone(self);
            Arc::new(move || {
                let _owned = jobs.owned();
                jobs.ended.notify_all();
            })
        });
        loop {
            let ours = self.owned().contains_key(id);
            let Some(job) = self.store.get(id)? else {
                return Ok(None);
            };
            if job.status.is_terminal() {
                return Ok(Some((job, false)));
            }
            let now = Instant::now();
            if now >= deadline || cancel.is_cancelled() {
                return Ok(Some((job, true)));
            }
            let owned = self.owned();
            // Looked at again under the lock its wake-ups take: a cancel or
            // an end of our job since the read above must not be slept
            // through.
            if cancel.is_cancelled() || (ours && !owned.contains_key(id)) {
                continue;
            }
            let _ = self
                .ended
                .wait_timeout(owned, (deadline - now).min(Duration::from_millis(250)));
        }
    }

    /// Called when the server exits: no job starts any more, and every job
    /// it still runs is recorded as failed (never left `running`) and then
    /// cancelled. Each record waits for the store's locks until `until` at
    /// most: a record not written by then is left to stale recovery, since
    /// the exit must not wait on another process's lock.
    pub fn abandon_all(&self, until: Instant) {
        let owned: Vec<(String, CancelToken)> = {
            let owned = self.owned();
            self.closed.store(true, Ordering::SeqCst);
            owned
                .iter()
                .map(|(id, t)| (id.clone(), t.clone()))
                .collect()
        };
        for (id, token) in owned {
            let left = until.saturating_duration_since(Instant::now());
            let store = self.store.clone().with_lock_wait(left);
            if let Err(err) = store.fail(&id, EXIT_ERROR) {
                crate::log::warn(&format!(
                    "job {id}: could not record the server's exit: {err}"
                ));
            }
            token.cancel();
        }
    }

    /// Waits until no worker of this server runs, or `deadline` passes.
    pub fn wait_idle(&self, deadline: Instant) {
        let mut owned = self.owned();
        while !owned.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            owned = self
                .ended
                .wait_timeout(owned, deadline - now)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }
}

/// Writes a job's progress tail to its file at most once a second (the
/// first message at once), plus a final flush.
struct ProgressWriter {
    store: JobStore,
    id: String,
    state: Mutex<WriterState>,
}

struct WriterState {
    tail: ProgressTail,
    last_write: Option<Instant>,
    unwritten: bool,
}

impl ProgressWriter {
    fn new(store: JobStore, id: String) -> ProgressWriter {
        ProgressWriter {
            store,
            id,
            state: Mutex::new(WriterState {
                tail: ProgressTail::new(),
                last_write: None,
                unwritten: false,
            }),
        }
    }

    fn push(&self, message: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.tail.push(message);
        state.unwritten = true;
        if state
            .last_write
            .is_none_or(|at| at.elapsed() >= PROGRESS_WRITE_INTERVAL)
        {
            self.write(&mut state);
        }
    }

    fn flush(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.unwritten {
            self.write(&mut state);
        }
    }

    /// A failed progress write never costs the result: it is only logged.
    fn write(&self, state: &mut WriterState) {
        if let Err(err) = self.store.update_progress(&self.id, &state.tail.lines()) {
            crate::log::warn(&format!("job {}: could not write progress: {err}", self.id));
        }
        state.last_write = Some(Instant::now());
        state.unwritten = false;
    }
}
