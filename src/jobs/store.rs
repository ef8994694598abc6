//! The job store: one `<id>.json` file per job in the jobs directory, and
//! every change to those files. Each mutation takes the in-process lock and
//! then `flock`s `.jobs.lock` (the same lock file the original takes, so
//! both tools can share a directory), re-reads the record under the lock,
//! applies its transition rule and replaces the file atomically. Reads take
//! no lock: atomic renames mean a reader sees a whole old or new record.
//!
//! Ids are checked before any path is built, and a record whose inner id
//! differs from its file name, or that fails to decode, is invisible:
//! never listed, mutated, recovered or deleted. Nothing here runs jobs;
//! the async worker and the cancel registry sit above this module.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::record::{Job, Status, cap_progress, now};
use crate::ids::{self, RandomUnavailable};
use crate::runner::result::DispatchResult;
use crate::state::atomic::replace_private;
use crate::state::flock::{FileLock, LockError, lock_exclusive};
use crate::state::local_lock::{Busy, LocalGuard, LocalLock};
use crate::state::regular::read_regular;

/// The lock file every mutation `flock`s; it does not end in `.json`, so it
/// is never mistaken for a record.
pub const LOCK_FILE_NAME: &str = ".jobs.lock";
/// A running job whose start is older than this, and whose file nobody has
/// touched for as long, was abandoned by a server that died.
pub const STALE_RUNNING_SECS: f64 = 3600.0;
/// A pending job older than this will never be picked up.
pub const STALE_PENDING_SECS: f64 = 24.0 * 3600.0;
/// Far above any record (a result holds at most 16 MiB of agent output,
/// which JSON escaping can grow a few times); a larger file is not one of
/// ours and is not read whole.
const MAX_RECORD_BYTES: u64 = 128 * 1024 * 1024;
/// The `error` of a job cancelled before it started.
pub const CANCELLED_PENDING_ERROR: &str = "Cancelled before execution";
/// The `error` of a running job cancelled by its owning server.
pub const CANCELLED_RUNNING_ERROR: &str = "Cancelled while running — subprocess killed";

#[derive(Debug)]
pub enum StoreError {
    /// Reading the directory or a record, or writing a record, failed.
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `.jobs.lock` could not be opened or stayed held by another process;
    /// nothing was changed.
    Lock(LockError),
    /// Another thread of this process held the store for the whole wait;
    /// nothing was changed.
    Busy(Busy),
    /// No id could be drawn for a new job.
    Random(RandomUnavailable),
    /// A record could not be rendered as JSON.
    Encode(serde_json::Error),
    /// The background thread of a new job could not be started (the async
    /// worker reports this through the store's error type; the job itself
    /// has been failed).
    Spawn(io::Error),
    /// The server is exiting and starts no more jobs (the job has been
    /// failed).
    Closed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io {
                action,
                path,
                source,
            } => write!(f, "could not {action} {}: {source}", path.display()),
            StoreError::Lock(err) => err.fmt(f),
            StoreError::Busy(busy) => write!(
                f,
                "the job store stayed busy for {} s; nothing was changed",
                busy.waited.as_secs()
            ),
            StoreError::Random(err) => write!(f, "could not create a job id: {err}"),
            StoreError::Encode(err) => write!(f, "could not encode a job record: {err}"),
            StoreError::Spawn(err) => write!(f, "could not start the job's worker thread: {err}"),
            StoreError::Closed => f.write_str("the server is exiting and starts no more jobs"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// A pending job was cancelled; it will never start.
    Cancelled,
    /// A running job was marked cancelled (force only); the caller must now
    /// kill its process. The worker's later `finish` is refused.
    CancelledRunning,
    /// The job is running and `force` was not given: nothing changed.
    Running,
    /// The job had already ended with this status: nothing changed.
    AlreadyTerminal(Status),
    /// No readable record has this id (or the id is not a job id).
    NotFound,
}

impl CancelOutcome {
    /// The `outcome` word of `dispatch_cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::CancelledRunning => "cancelled_running",
            CancelOutcome::Running => "running",
            CancelOutcome::AlreadyTerminal(_) => "already_terminal",
            CancelOutcome::NotFound => "not_found",
        }
    }
}

/// The jobs directory and the rules for changing it. Cheap to clone;
/// clones share the in-process lock.
#[derive(Debug, Clone)]
pub struct JobStore {
    dir: PathBuf,
    local: Arc<LocalLock>,
    lock_wait: Duration,
}

/// Held for the length of one mutation. Fields drop in order: the `flock`
/// is released before the in-process lock, so the next thread in line
/// finds the file lock free.
struct Locked<'a> {
    _file: FileLock,
    _local: LocalGuard<'a>,
}

impl JobStore {
    /// A store over `dir`. Nothing is touched until the first mutation,
    /// which creates the directory (0700) if needed.
    pub fn new(dir: PathBuf) -> JobStore {
        JobStore {
            dir,
            local: Arc::new(LocalLock::new()),
            lock_wait: crate::state::flock::lock_wait(),
        }
    }

    /// How long a mutation waits for another process's `.jobs.lock` before
    /// failing with `StoreError::Lock` (default 10 s).
    pub fn with_lock_wait(mut self, wait: Duration) -> JobStore {
        self.lock_wait = wait;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of job `id`, or `None` when `id` is not a job id — the only
    /// way this store builds a path from an id.
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        ids::is_hex32(id).then(|| self.dir.join(format!("{id}.json")))
    }

    /// Records a new `pending` job. Empty context, caller or goal count as
    /// absent; `return_ref` is a task's (see `Job`).
    pub fn create(
        &self,
        agent: &str,
        task: &str,
        context: Option<String>,
        caller: Option<String>,
        goal: Option<String>,
        return_ref: Option<usize>,
    ) -> Result<Job, StoreError> {
        let id = ids::hex32().map_err(StoreError::Random)?;
        let mut job = Job::new_pending(id, agent, task, context, caller, goal, now());
        job.return_ref = return_ref;
        let _locked = self.lock()?;
        self.write(&job)?;
        Ok(job)
    }

    /// Records a job that is already over (a `return_ref` result): `done`
    /// or `failed` by `result.success`, started and completed now, with the
    /// result's error when it failed.
    pub fn create_completed(
        &self,
        agent: &str,
        task: &str,
        result: &DispatchResult,
        context: Option<String>,
        caller: Option<String>,
        goal: Option<String>,
    ) -> Result<Job, StoreError> {
        let id = ids::hex32().map_err(StoreError::Random)?;
        let now = now();
        let mut job = Job::new_pending(id, agent, task, context, caller, goal, now);
        job.started_at = Some(now);
        complete_with(&mut job, result, now);
        let _locked = self.lock()?;
        self.write(&job)?;
        Ok(job)
    }

    /// The job `id`. `None` for an id that is not a job id (decided before
    /// any file-system access), a missing file, or a record that does not
    /// decode or whose inner id differs from the file name. An error only
    /// when the file exists but cannot be read.
    pub fn get(&self, id: &str) -> Result<Option<Job>, StoreError> {
        match self.path_of(id) {
            Some(path) => read_record(id, &path),
            None => Ok(None),
        }
    }

    /// Every readable job, optionally only those with `status` and/or of
    /// `agent` (exact name), newest first. A missing directory has no jobs.
    pub fn list(
        &self,
        status: Option<Status>,
        agent: Option<&str>,
    ) -> Result<Vec<Job>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.io_error("read", &self.dir, source)),
        };
        let mut jobs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.io_error("read", &self.dir, source))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !ids::is_hex32(id) {
                continue;
            }
            // A record that cannot be read is skipped here as everywhere;
            // one that is not a regular file is also reported.
            let job = match read_record(id, &entry.path()) {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(err) => {
                    crate::log::warn(&format!("skipped a job record: {err}"));
                    continue;
                }
            };
            if status.is_some_and(|s| s != job.status) || agent.is_some_and(|a| a != job.agent) {
                continue;
            }
            jobs.push(job);
        }
        jobs.sort_by(|a, b| {
            b.created_at
                .total_cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(jobs)
    }

    /// `pending` → `running`, `started_at` now. `None` when the job is
    /// missing or not pending (cancelled while queued, say): the caller
    /// must then not run it.
    pub fn mark_running(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.transition(id, |job| {
            if job.status != Status::Pending {
                return false;
            }
            job.status = Status::Running;
            job.started_at = Some(now());
            true
        })
    }

    /// Replaces the progress tail (capped to the last 20 lines of at most
    /// 300 chars) of a job that is not over yet.
    pub fn update_progress(&self, id: &str, lines: &[String]) -> Result<Option<Job>, StoreError> {
        let lines = cap_progress(lines);
        self.transition(id, |job| {
            if job.status.is_terminal() {
                return false;
            }
            job.progress = Some(lines);
            job.progress_updated_at = Some(now());
            true
        })
    }

    /// Cancels a pending job; with `force`, a running one too. The new
    /// state is persisted before this returns, so a caller that kills the
    /// process afterwards can rely on the worker's `finish` being refused.
    pub fn cancel(&self, id: &str, force: bool) -> Result<CancelOutcome, StoreError> {
        let Some(path) = self.path_of(id) else {
            return Ok(CancelOutcome::NotFound);
        };
        let _locked = self.lock()?;
        let Some(mut job) = read_record(id, &path)? else {
            return Ok(CancelOutcome::NotFound);
        };
        let error = match job.status {
            status if status.is_terminal() => return Ok(CancelOutcome::AlreadyTerminal(status)),
            Status::Running if !force => return Ok(CancelOutcome::Running),
            Status::Running => CANCELLED_RUNNING_ERROR,
            _ => CANCELLED_PENDING_ERROR,
        };
        let was_running = job.status == Status::Running;
        job.status = Status::Cancelled;
        job.completed_at = Some(now());
        job.error = Some(error.to_owned());
        self.write(&job)?;
        Ok(if was_running {
            CancelOutcome::CancelledRunning
        } else {
            CancelOutcome::Cancelled
        })
    }

    /// Stores the result of a job that is not over yet: `done` or `failed`
    /// by `result.success`. Refused (`None`) once the job is terminal —
    /// a cancelled job stays cancelled.
    pub fn finish(
        &self,
        id: &str,
        result: &DispatchResult,
        cached: bool,
    ) -> Result<Option<Job>, StoreError> {
        self.transition(id, |job| {
            if job.status.is_terminal() {
                return false;
            }
            complete_with(job, result, now());
            job.cached = cached.then_some(true);
            true
        })
    }

    /// Marks a job that is not over yet as `failed` with `error`.
    pub fn fail(&self, id: &str, error: &str) -> Result<Option<Job>, StoreError> {
        let now = now();
        self.transition(id, |job| fail_at(job, error, now))
    }

    /// Fails jobs no server will finish (run once at server start): running
    /// for more than an hour with a file untouched for an hour (a live
    /// worker rewrites it at least every progress interval), or pending for
    /// more than a day. Returns how many jobs were failed.
    pub fn recover_stale(&self, now: f64) -> Result<usize, StoreError> {
        let _locked = self.lock()?;
        let mut recovered = 0;
        for mut job in self.list(None, None)? {
            let Some(error) = self.abandoned(&job, now) else {
                continue;
            };
            if fail_at(&mut job, &error, now) {
                self.write(&job)?;
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    /// Why no server will finish `job` (see `recover_stale`), or `None`
    /// while it may still end.
    pub fn abandoned(&self, job: &Job, now: f64) -> Option<String> {
        let age = match job.status {
            Status::Running => now - job.started_at.unwrap_or(job.created_at),
            Status::Pending => now - job.created_at,
            _ => return None,
        };
        let stale = match job.status {
            Status::Running => {
                age > STALE_RUNNING_SECS && self.untouched_since(&job.id, now - STALE_RUNNING_SECS)
            }
            _ => age > STALE_PENDING_SECS,
        };
        stale.then(|| {
            format!(
                "Abandoned in '{}' for {}s — likely a server restart. Re-dispatch if still needed.",
                job.status,
                age.round_ties_even()
            )
        })
    }

    /// Terminal jobs that ended (or, lacking `completed_at`, were created)
    /// more than `max_age_secs` before `now`, newest first. A snapshot for
    /// a preview; `gc` decides again under the lock. `max_age_secs` 0 means
    /// every terminal job.
    pub fn gc_candidates(&self, max_age_secs: f64, now: f64) -> Result<Vec<Job>, StoreError> {
        let cutoff = now - max_age_secs;
        let mut jobs = self.list(None, None)?;
        jobs.retain(|job| {
            job.status.is_terminal() && job.completed_at.unwrap_or(job.created_at) < cutoff
        });
        Ok(jobs)
    }

    /// Deletes what `gc_candidates` names, under the lock. A file that
    /// cannot be removed is skipped; returns how many were deleted.
    pub fn gc(&self, max_age_secs: f64, now: f64) -> Result<usize, StoreError> {
        let _locked = self.lock()?;
        let mut deleted = 0;
        for job in self.gc_candidates(max_age_secs, now)? {
            if let Some(path) = self.path_of(&job.id)
                && fs::remove_file(path).is_ok()
            {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Re-reads job `id` under the lock and lets `change` edit it; writes
    /// it back when `change` says it applied.
    fn transition(
        &self,
        id: &str,
        change: impl FnOnce(&mut Job) -> bool,
    ) -> Result<Option<Job>, StoreError> {
        let Some(path) = self.path_of(id) else {
            return Ok(None);
        };
        let _locked = self.lock()?;
        let Some(mut job) = read_record(id, &path)? else {
            return Ok(None);
        };
        if !change(&mut job) {
            return Ok(None);
        }
        self.write(&job)?;
        Ok(Some(job))
    }

    fn lock(&self) -> Result<Locked<'_>, StoreError> {
        // Bounded too: a thread stuck while holding it must not stall
        // every other call of this server.
        let local = self.local.lock(self.lock_wait).map_err(StoreError::Busy)?;
        let file = lock_exclusive(&self.dir.join(LOCK_FILE_NAME), self.lock_wait)
            .map_err(StoreError::Lock)?;
        Ok(Locked {
            _file: file,
            _local: local,
        })
    }

    /// Replaces the record of `job` atomically (unique temp, 0600). Callers
    /// hold the lock.
    fn write(&self, job: &Job) -> Result<(), StoreError> {
        let path = self
            .path_of(&job.id)
            .ok_or_else(|| self.io_error("write", &self.dir, invalid_id_error(&job.id)))?;
        let text = job.to_pretty_json().map_err(StoreError::Encode)?;
        replace_private(&path, text.as_bytes())
            .map_err(|source| self.io_error("write", &path, source))
    }

    /// True when the file of job `id` was last modified no later than
    /// `cutoff`. An unreadable mtime counts as fresh: this check may only
    /// ever prevent a recovery.
    fn untouched_since(&self, id: &str, cutoff: f64) -> bool {
        let Some(path) = self.path_of(id) else {
            return false;
        };
        fs::symlink_metadata(path)
            .and_then(|meta| meta.modified())
            .is_ok_and(|mtime| epoch_seconds(mtime) <= cutoff)
    }

    fn io_error(&self, action: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads the record at `path`, which must belong to job `id`.
fn read_record(id: &str, path: &Path) -> Result<Option<Job>, StoreError> {
    let bytes = match read_regular(path, MAX_RECORD_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // A copied or damaged record must never redirect a mutation to
    // another job, so its inner id has to match its file name.
    Ok(Job::from_json(&bytes).ok().filter(|job| job.id == id))
}

/// Stores `result` as the end of `job`.
fn complete_with(job: &mut Job, result: &DispatchResult, now: f64) {
    job.status = if result.success {
        Status::Done
    } else {
        Status::Failed
    };
    job.completed_at = Some(now);
    job.result = Some(result.clone());
    if !result.success {
        job.error = result.error.clone();
    }
}

/// Fails a job that is not over; false (and no change) when it is.
fn fail_at(job: &mut Job, error: &str, now: f64) -> bool {
    if job.status.is_terminal() {
        return false;
    }
    job.status = Status::Failed;
    job.completed_at = Some(now);
    job.error = Some(error.to_owned());
    true
}

fn invalid_id_error(id: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is not a job id", crate::pyfmt::repr_str(id)),
    )
}

fn epoch_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::ErrorType;
    use crate::state::flock::LOCK_WAIT;
    use std::os::unix::fs::PermissionsExt;

    const HOUR: f64 = 3600.0;

    fn store() -> (tempfile::TempDir, JobStore) {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::new(tmp.path().join("jobs"));
        (tmp, store)
    }

    fn pending(store: &JobStore) -> Job {
        store
            .create("api", "Count rows", None, None, None, None)
            .unwrap()
    }

    fn ok_result() -> DispatchResult {
        DispatchResult {
            result: "42 rows".into(),
            ..DispatchResult::new("api", true)
        }
    }

    fn failed_result() -> DispatchResult {
        DispatchResult::failure("api", ErrorType::Timeout, "too slow".into())
    }

    /// Writes `job` as its file, bypassing every rule (an old record, or
    /// one written by another tool).
    fn plant(store: &JobStore, job: &Job) -> PathBuf {
        let path = store.path_of(&job.id).unwrap();
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(&path, job.to_pretty_json().unwrap()).unwrap();
        path
    }

    fn set_mtime(path: &Path, seconds_ago: f64) {
        let when = SystemTime::now() - Duration::from_secs_f64(seconds_ago);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn aged(status: Status, created_ago: f64, now: f64) -> Job {
        let id = ids::hex32().unwrap();
        let mut job = Job::new_pending(id, "api", "old task", None, None, None, now - created_ago);
        job.status = status;
        if status != Status::Pending {
            job.started_at = Some(now - created_ago);
        }
        if status.is_terminal() {
            job.completed_at = Some(now - created_ago);
        }
        job
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn create_writes_a_pending_record_that_reads_back() {
        let (_tmp, store) = store();
        let job = store
            .create(
                "api",
                "Count rows",
                Some("ctx".into()),
                Some(String::new()),
                Some("goal".into()),
                None,
            )
            .unwrap();
        assert!(ids::is_hex32(&job.id));
        assert_eq!(job.status, Status::Pending);
        assert_eq!(job.caller, None);
        assert!(job.created_at > 1.0e9);
        assert_eq!(store.get(&job.id).unwrap(), Some(job));
    }

    #[test]
    fn create_completed_is_done_or_failed_by_the_result() {
        let (_tmp, store) = store();
        let done = store
            .create_completed("api", "t", &ok_result(), None, None, None)
            .unwrap();
        assert_eq!(done.status, Status::Done);
        assert_eq!(done.error, None);
        assert_eq!(done.started_at, done.completed_at);
        assert!(done.started_at.is_some());
        let failed = store
            .create_completed("api", "t", &failed_result(), None, None, None)
            .unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.error.as_deref(), Some("too slow"));
        assert_eq!(store.get(&failed.id).unwrap(), Some(failed));
    }

    #[test]
    fn files_are_0600_in_a_0700_dir_and_the_lock_file_is_never_listed() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(&store.path_of(&job.id).unwrap()), 0o600);
        assert_eq!(
            file_names(store.dir()),
            [LOCK_FILE_NAME.to_owned(), format!("{}.json", job.id)]
        );
        assert_eq!(store.list(None, None).unwrap(), [job]);
    }

    #[test]
    fn invalid_ids_are_refused_without_touching_the_file_system() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("never-created");
        let store = JobStore::new(dir.clone());
        let good = "0123456789abcdef0123456789abcdef";
        let bad = [
            "../../x".to_owned(),
            "/etc/passwd".to_owned(),
            good[..31].to_owned(),
            format!("{good}0"),
            good.to_uppercase(),
            format!("{good}\n"),
            String::new(),
        ];
        for id in &bad {
            assert_eq!(store.path_of(id), None, "{id:?}");
            assert_eq!(store.get(id).unwrap(), None);
            assert_eq!(store.mark_running(id).unwrap(), None);
            assert_eq!(store.update_progress(id, &["x".into()]).unwrap(), None);
            assert_eq!(store.cancel(id, true).unwrap(), CancelOutcome::NotFound);
            assert_eq!(store.finish(id, &ok_result(), false).unwrap(), None);
            assert_eq!(store.fail(id, "x").unwrap(), None);
        }
        assert!(!dir.exists(), "an invalid id reached the file system");
    }

    #[test]
    fn a_missing_job_or_directory_is_none_not_an_error() {
        let (_tmp, store) = store();
        let id = ids::hex32().unwrap();
        assert_eq!(store.get(&id).unwrap(), None);
        assert_eq!(store.list(None, None).unwrap(), []);
        assert_eq!(store.gc_candidates(0.0, now()).unwrap(), []);
        assert_eq!(store.mark_running(&id).unwrap(), None);
        assert_eq!(store.cancel(&id, false).unwrap(), CancelOutcome::NotFound);
    }

    #[test]
    fn a_regular_file_in_place_of_the_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("jobs");
        fs::write(&dir, "not a dir").unwrap();
        let store = JobStore::new(dir);
        assert!(store.list(None, None).is_err());
        assert!(store.get(&ids::hex32().unwrap()).is_err());
        let err = store
            .create("api", "t", None, None, None, None)
            .unwrap_err();
        assert!(err.to_string().contains("jobs"), "{err}");
    }

    #[test]
    fn list_filters_by_status_and_agent_and_sorts_newest_first() {
        let (_tmp, store) = store();
        let now = now();
        let old = aged(Status::Done, 300.0, now);
        let mut middle = aged(Status::Pending, 200.0, now);
        middle.agent = "web".into();
        let new = aged(Status::Done, 100.0, now);
        for job in [&middle, &old, &new] {
            plant(&store, job);
        }
        let ids_of = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
        assert_eq!(
            ids_of(store.list(None, None).unwrap()),
            [new.id.as_str(), &middle.id, &old.id]
        );
        assert_eq!(
            ids_of(store.list(Some(Status::Done), None).unwrap()),
            [new.id.as_str(), &old.id]
        );
        assert_eq!(
            ids_of(store.list(None, Some("web")).unwrap()),
            [middle.id.as_str()]
        );
        assert_eq!(
            ids_of(store.list(Some(Status::Done), Some("web")).unwrap()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn mark_running_starts_only_pending_jobs() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let running = store.mark_running(&job.id).unwrap().unwrap();
        assert_eq!(running.status, Status::Running);
        assert!(running.started_at.is_some());
        assert_eq!(store.mark_running(&job.id).unwrap(), None, "started twice");

        let cancelled = pending(&store);
        store.cancel(&cancelled.id, false).unwrap();
        assert_eq!(store.mark_running(&cancelled.id).unwrap(), None);
        assert_eq!(
            store.get(&cancelled.id).unwrap().unwrap().status,
            Status::Cancelled
        );
    }

    #[test]
    fn progress_is_kept_while_not_terminal_and_capped() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let lines: Vec<String> = (0..25)
            .map(|i| format!("{i} {}", "y".repeat(400)))
            .collect();
        let updated = store.update_progress(&job.id, &lines).unwrap().unwrap();
        let progress = updated.progress.unwrap();
        assert_eq!(progress.len(), 20);
        assert!(progress[0].starts_with("5 "));
        assert!(progress.iter().all(|l| l.chars().count() == 300));
        assert!(updated.progress_updated_at.is_some());

        store.mark_running(&job.id).unwrap().unwrap();
        assert!(
            store
                .update_progress(&job.id, &["run".into()])
                .unwrap()
                .is_some()
        );
        let done = store.finish(&job.id, &ok_result(), false).unwrap().unwrap();
        assert_eq!(done.progress.as_deref(), Some(&["run".to_owned()][..]));
        assert_eq!(
            store.update_progress(&job.id, &["late".into()]).unwrap(),
            None
        );
        assert_eq!(
            store.get(&job.id).unwrap().unwrap().progress.unwrap(),
            ["run"],
            "progress is kept after completion"
        );
    }

    #[test]
    fn cancel_without_force_cancels_pending_and_leaves_running_alone() {
        let (_tmp, store) = store();
        let job = pending(&store);
        assert_eq!(
            store.cancel(&job.id, false).unwrap(),
            CancelOutcome::Cancelled
        );
        let cancelled = store.get(&job.id).unwrap().unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert_eq!(cancelled.error.as_deref(), Some(CANCELLED_PENDING_ERROR));
        assert!(cancelled.completed_at.is_some());

        let running = pending(&store);
        let before = store.mark_running(&running.id).unwrap().unwrap();
        let outcome = store.cancel(&running.id, false).unwrap();
        assert_eq!(outcome, CancelOutcome::Running);
        assert_eq!(outcome.as_str(), "running");
        assert_eq!(store.get(&running.id).unwrap(), Some(before));
    }

    #[test]
    fn forced_cancel_of_a_running_job_is_persisted_and_finish_is_then_refused() {
        let (_tmp, store) = store();
        let job = pending(&store);
        store.mark_running(&job.id).unwrap().unwrap();
        let outcome = store.cancel(&job.id, true).unwrap();
        assert_eq!(outcome, CancelOutcome::CancelledRunning);
        assert_eq!(outcome.as_str(), "cancelled_running");
        let on_disk = store.get(&job.id).unwrap().unwrap();
        assert_eq!(on_disk.status, Status::Cancelled);
        assert_eq!(on_disk.error.as_deref(), Some(CANCELLED_RUNNING_ERROR));

        assert_eq!(store.finish(&job.id, &ok_result(), false).unwrap(), None);
        assert_eq!(store.fail(&job.id, "Worker crashed: x").unwrap(), None);
        assert_eq!(store.get(&job.id).unwrap(), Some(on_disk));
    }

    #[test]
    fn a_cancelled_pending_job_stays_cancelled_after_a_later_finish() {
        let (_tmp, store) = store();
        let job = pending(&store);
        store.cancel(&job.id, false).unwrap();
        let before = fs::read(store.path_of(&job.id).unwrap()).unwrap();
        assert_eq!(store.finish(&job.id, &ok_result(), false).unwrap(), None);
        assert_eq!(fs::read(store.path_of(&job.id).unwrap()).unwrap(), before);
    }

    #[test]
    fn cancel_of_a_terminal_job_reports_it_unchanged() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let done = store.finish(&job.id, &ok_result(), false).unwrap().unwrap();
        for force in [false, true] {
            assert_eq!(
                store.cancel(&job.id, force).unwrap(),
                CancelOutcome::AlreadyTerminal(Status::Done)
            );
            assert_eq!(store.get(&job.id).unwrap().as_ref(), Some(&done));
        }
    }

    #[test]
    fn finish_sets_done_or_failed_with_the_result_error() {
        let (_tmp, store) = store();
        let a = pending(&store);
        store.mark_running(&a.id).unwrap();
        let done = store.finish(&a.id, &ok_result(), false).unwrap().unwrap();
        assert_eq!(done.status, Status::Done);
        assert_eq!(done.result.as_ref().unwrap().result, "42 rows");
        assert_eq!(done.error, None);
        assert_eq!(store.finish(&a.id, &failed_result(), false).unwrap(), None);

        // A job may be finished straight from pending (no separate start).
        let b = pending(&store);
        let failed = store
            .finish(&b.id, &failed_result(), false)
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.error.as_deref(), Some("too slow"));
    }

    #[test]
    fn fail_is_refused_on_terminal_jobs() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let failed = store
            .fail(&job.id, "Worker crashed: boom")
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.error.as_deref(), Some("Worker crashed: boom"));
        assert_eq!(store.fail(&job.id, "again").unwrap(), None);
        assert_eq!(store.finish(&job.id, &ok_result(), false).unwrap(), None);
        assert_eq!(store.get(&job.id).unwrap(), Some(failed));
    }

    #[test]
    fn a_record_whose_inner_id_differs_from_its_name_is_invisible_and_untouched() {
        let (_tmp, store) = store();
        let now = now();
        let real = aged(Status::Running, 2.0 * 86400.0, now);
        let real_path = plant(&store, &real);
        set_mtime(&real_path, 2.0 * 86400.0);
        let copy_id = ids::hex32().unwrap();
        let copy_path = store.path_of(&copy_id).unwrap();
        fs::copy(&real_path, &copy_path).unwrap();
        set_mtime(&copy_path, 2.0 * 86400.0);
        let mut real_done = real.clone();
        real_done.status = Status::Done;
        real_done.id = ids::hex32().unwrap();
        let done_copy = store.path_of(&ids::hex32().unwrap()).unwrap();
        fs::write(&done_copy, real_done.to_pretty_json().unwrap()).unwrap();
        let copy_bytes = fs::read(&copy_path).unwrap();
        let done_bytes = fs::read(&done_copy).unwrap();

        assert_eq!(store.get(&copy_id).unwrap(), None);
        assert_eq!(store.mark_running(&copy_id).unwrap(), None);
        assert_eq!(
            store.update_progress(&copy_id, &["x".into()]).unwrap(),
            None
        );
        assert_eq!(
            store.cancel(&copy_id, true).unwrap(),
            CancelOutcome::NotFound
        );
        assert_eq!(store.finish(&copy_id, &ok_result(), false).unwrap(), None);
        assert_eq!(store.fail(&copy_id, "x").unwrap(), None);
        assert_eq!(store.list(None, None).unwrap().len(), 1);
        assert_eq!(store.recover_stale(now).unwrap(), 1, "only the real record");
        assert_eq!(store.gc(0.0, now + 1.0).unwrap(), 1, "only the real record");

        assert_eq!(fs::read(&copy_path).unwrap(), copy_bytes);
        assert_eq!(fs::read(&done_copy).unwrap(), done_bytes);
        assert!(!real_path.exists());
    }

    #[test]
    fn undecodable_records_are_skipped_everywhere_and_left_byte_identical() {
        let (_tmp, store) = store();
        let now = now();
        fs::create_dir_all(store.dir()).unwrap();
        let id = ids::hex32().unwrap();
        let nan = format!(
            r#"{{"id": "{id}", "agent": "a", "task": "t", "status": "done", "created_at": NaN}}"#
        );
        let path = store.path_of(&id).unwrap();
        let variants = [
            nan.clone(),
            nan.replace("NaN", "\"yesterday\""),
            nan.replace("NaN", "1e999"),
            nan.replace("NaN", "1.0").replace("done", "exploded"),
            "{ truncated".to_owned(),
        ];
        for text in variants {
            fs::write(&path, &text).unwrap();
            set_mtime(&path, 30.0 * 86400.0);
            assert_eq!(store.get(&id).unwrap(), None, "{text}");
            assert_eq!(store.list(None, None).unwrap(), []);
            assert_eq!(store.cancel(&id, true).unwrap(), CancelOutcome::NotFound);
            assert_eq!(store.fail(&id, "x").unwrap(), None);
            assert_eq!(store.recover_stale(now).unwrap(), 0);
            assert_eq!(store.gc(0.0, now).unwrap(), 0);
            assert_eq!(fs::read_to_string(&path).unwrap(), text);
        }
    }

    #[test]
    fn stale_running_job_with_an_old_file_is_failed() {
        let (_tmp, store) = store();
        let now = now();
        let job = aged(Status::Running, 2.0 * HOUR, now);
        let path = plant(&store, &job);
        set_mtime(&path, 2.0 * HOUR);
        assert_eq!(store.recover_stale(now).unwrap(), 1);
        let after = store.get(&job.id).unwrap().unwrap();
        assert_eq!(after.status, Status::Failed);
        assert_eq!(after.completed_at, Some(now));
        assert_eq!(
            after.error.as_deref(),
            Some(
                "Abandoned in 'running' for 7200s — likely a server restart. Re-dispatch if still needed."
            )
        );
        assert_eq!(store.recover_stale(now).unwrap(), 0);
    }

    #[test]
    fn old_running_job_with_a_fresh_file_is_left_alone() {
        let (_tmp, store) = store();
        let now = now();
        let job = aged(Status::Running, 3.0 * HOUR, now);
        plant(&store, &job); // mtime: just now, as a live worker leaves it
        assert_eq!(store.recover_stale(now).unwrap(), 0);
        assert_eq!(store.get(&job.id).unwrap(), Some(job));
    }

    #[test]
    fn recently_started_running_job_is_left_alone_even_with_an_old_file() {
        let (_tmp, store) = store();
        let now = now();
        let mut job = aged(Status::Running, 5.0 * HOUR, now);
        job.started_at = Some(now - 0.5 * HOUR);
        let path = plant(&store, &job);
        set_mtime(&path, 5.0 * HOUR);
        assert_eq!(store.recover_stale(now).unwrap(), 0);
    }

    #[test]
    fn pending_jobs_are_failed_only_after_a_day_and_then_gc_able() {
        let (_tmp, store) = store();
        let now = now();
        let two_hours = aged(Status::Pending, 2.0 * HOUR, now);
        let two_days = aged(Status::Pending, 48.0 * HOUR, now);
        for job in [&two_hours, &two_days] {
            let path = plant(&store, job);
            set_mtime(&path, 48.0 * HOUR);
        }
        assert_eq!(store.recover_stale(now).unwrap(), 1);
        assert_eq!(store.get(&two_hours.id).unwrap(), Some(two_hours.clone()));
        let failed = store.get(&two_days.id).unwrap().unwrap();
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(
            failed.error.as_deref(),
            Some(
                "Abandoned in 'pending' for 172800s — likely a server restart. Re-dispatch if still needed."
            )
        );
        let later = now + 1.0;
        assert_eq!(store.gc_candidates(0.0, later).unwrap(), [failed]);
        assert_eq!(store.gc(0.0, later).unwrap(), 1);
        assert_eq!(store.list(None, None).unwrap(), [two_hours]);
    }

    #[test]
    fn gc_deletes_only_terminal_jobs_older_than_the_cutoff() {
        let (_tmp, store) = store();
        let now = now();
        let day = 86400.0;
        let old_done = aged(Status::Done, 10.0 * day, now);
        let old_cancelled = aged(Status::Cancelled, 8.0 * day, now);
        let recent_failed = aged(Status::Failed, 2.0 * day, now);
        let old_pending = aged(Status::Pending, 10.0 * day, now);
        let old_running = aged(Status::Running, 10.0 * day, now);
        // No completed_at: the creation time counts.
        let mut no_completion = aged(Status::Failed, 9.0 * day, now);
        no_completion.completed_at = None;
        // Created long ago but finished recently: kept.
        let mut finished_late = aged(Status::Done, 30.0 * day, now);
        finished_late.completed_at = Some(now - day);
        for job in [
            &old_done,
            &old_cancelled,
            &recent_failed,
            &old_pending,
            &old_running,
            &no_completion,
            &finished_late,
        ] {
            plant(&store, job);
        }
        let ids_of = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
        assert_eq!(
            ids_of(store.gc_candidates(7.0 * day, now).unwrap()),
            [old_cancelled.id.as_str(), &no_completion.id, &old_done.id],
            "newest first"
        );
        assert_eq!(
            store.list(None, None).unwrap().len(),
            7,
            "preview deletes nothing"
        );
        assert_eq!(store.gc(7.0 * day, now).unwrap(), 3);
        assert_eq!(store.list(None, None).unwrap().len(), 4);
        assert_eq!(
            store.gc(0.0, now).unwrap(),
            2,
            "all ages: every terminal job"
        );
        let left = ids_of(store.list(None, None).unwrap());
        assert_eq!(left.len(), 2);
        assert!(left.contains(&old_pending.id) && left.contains(&old_running.id));
    }

    #[test]
    fn a_directory_in_place_of_a_record_is_a_read_error_and_nothing_is_written() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let path = store.path_of(&job.id).unwrap();
        fs::remove_file(&path).unwrap();
        fs::create_dir_all(path.join("inside")).unwrap();
        assert!(store.get(&job.id).is_err());
        assert!(store.finish(&job.id, &ok_result(), false).is_err());
        assert!(store.cancel(&job.id, false).is_err());
        assert!(path.join("inside").is_dir());
        // The listing skips it rather than failing as a whole.
        assert_eq!(store.list(None, None).unwrap(), []);
    }

    #[test]
    fn writes_use_unique_temp_names_and_leave_none_behind() {
        let (_tmp, store) = store();
        let job = pending(&store);
        // A stray temp file of an earlier, killed writer with the fixed name
        // the old original used does not block later writes.
        fs::write(store.dir().join(format!("{}.tmp", job.id)), "x").unwrap();
        for step in 0..5 {
            store
                .update_progress(&job.id, &[format!("step {step}")])
                .unwrap()
                .unwrap();
        }
        let names = file_names(store.dir());
        assert_eq!(
            names,
            [
                LOCK_FILE_NAME.to_owned(),
                format!("{}.json", job.id),
                format!("{}.tmp", job.id)
            ]
        );
    }

    #[test]
    fn concurrent_transitions_from_two_stores_never_corrupt_a_record() {
        let (_tmp, store) = store();
        for _ in 0..10 {
            let job = pending(&store);
            // A second handle has its own in-process lock: only the flock
            // serializes the two threads, as with two processes.
            let other = JobStore::new(store.dir().to_path_buf());
            let id = job.id.clone();
            let worker = std::thread::spawn(move || {
                other.mark_running(&id).unwrap();
                for step in 0..20 {
                    other
                        .update_progress(&id, &[format!("step {step}")])
                        .unwrap();
                }
                other.finish(&id, &ok_result(), false).unwrap()
            });
            let mut cancelled = false;
            for _ in 0..20 {
                let seen = store.get(&job.id).unwrap().expect("always a whole record");
                assert_eq!(seen.id, job.id);
                if let CancelOutcome::CancelledRunning | CancelOutcome::Cancelled =
                    store.cancel(&job.id, true).unwrap()
                {
                    cancelled = true;
                    break;
                }
            }
            let finished = worker.join().unwrap();
            let end = store.get(&job.id).unwrap().unwrap();
            if cancelled {
                assert_eq!(end.status, Status::Cancelled);
                assert_eq!(finished, None, "finish overwrote a cancellation");
            } else {
                assert_eq!(end.status, Status::Done);
            }
        }
        let names = file_names(store.dir());
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_held_jobs_lock_makes_mutations_fail_rather_than_write_unlocked() {
        let (_tmp, store) = store();
        let job = pending(&store);
        let _held = lock_exclusive(&store.dir().join(LOCK_FILE_NAME), LOCK_WAIT).unwrap();
        let wait = Duration::from_millis(100);
        let other = JobStore::new(store.dir().to_path_buf()).with_lock_wait(wait);
        let before = fs::read(store.path_of(&job.id).unwrap()).unwrap();
        // Reads need no lock.
        assert!(other.get(&job.id).unwrap().is_some());
        let started = std::time::Instant::now();
        let err = other.cancel(&job.id, false).unwrap_err();
        assert!(
            matches!(err, StoreError::Lock(LockError::TimedOut { .. })),
            "{err}"
        );
        assert!(started.elapsed() >= wait);
        assert!(other.finish(&job.id, &ok_result(), false).is_err());
        assert!(other.create("api", "t", None, None, None, None).is_err());
        assert_eq!(fs::read(store.path_of(&job.id).unwrap()).unwrap(), before);
    }

    #[test]
    fn a_thread_stuck_holding_the_store_makes_others_fail_not_wait_forever() {
        let (_tmp, store) = store();
        let store = store.with_lock_wait(Duration::from_millis(100));
        let job = pending(&store);
        let held = store.lock().unwrap();
        let other = store.clone();
        let id = job.id.clone();
        let waiter = std::thread::spawn(move || other.cancel(&id, false));
        let err = waiter.join().unwrap().unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err}");
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        drop(held);
        assert_eq!(
            store.cancel(&job.id, false).unwrap(),
            CancelOutcome::Cancelled
        );
    }
}
