//! MCP tasks, each one a job of our job store: a task-augmented call of a
//! dispatch tool starts a job (as `dispatch_async` does) and is answered
//! with its handle at once; the task's status, result and cancellation are
//! the job's, so a task outlives the server that started it and shows in
//! `dispatch_jobs`. Two wire forms over the same jobs (`Flavor`): the
//! 2025-11-25 utility (SEP-1686) and the 2026-07-28 tasks extension
//! (SEP-2663).

use std::fmt;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::jsonrpc;
use super::modern;
use super::progress::Progress;
use super::state::State;
use super::tools::args::{ArgError, Args};
use super::tools::{self, RecordedJob, ToolResult};
use super::writer::Writer;
use crate::ids;
use crate::jobs::record::{Job, Status};
use crate::jobs::store::StoreError;
use crate::jobs::worker::Ended;
use crate::pyfmt::repr_str;
use crate::runner::CancelToken;

/// How often a client should look again; a dispatch takes seconds at the
/// least, minutes often.
const POLL_INTERVAL_MS: u64 = 2000;

/// Which revision's task form a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// 2025-11-25: `ttl`, `pollInterval`, `tasks/result`, `tasks/list`;
    /// an `isError` result is a `failed` task.
    Utility,
    /// 2026-07-28 extension: `ttlMs`, `pollIntervalMs`, the result inline
    /// in `tasks/get`; an `isError` result is still `completed`.
    Extension,
}

/// A tasks method, as far as a flavor has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Cancel,
    /// 2025-11-25 only.
    Result,
    /// 2025-11-25 only.
    List,
    /// Extension only.
    Update,
}

impl Method {
    /// `name` as a method of `flavor`; `None` when it has no such method.
    pub fn of(name: &str, flavor: Flavor) -> Option<Method> {
        match (name, flavor) {
            ("tasks/get", _) => Some(Method::Get),
            ("tasks/cancel", _) => Some(Method::Cancel),
            ("tasks/result", Flavor::Utility) => Some(Method::Result),
            ("tasks/list", Flavor::Utility) => Some(Method::List),
            ("tasks/update", Flavor::Extension) => Some(Method::Update),
            _ => None,
        }
    }
}

/// Why a tasks request cannot be answered as asked.
#[derive(Debug)]
pub enum TaskError {
    /// `taskId` missing, not a string, or not one of our ids.
    BadId(String),
    NotFound(String),
    /// A cursor we never issued (`tasks/list` fits in one page).
    BadCursor,
    /// `tasks/cancel` (2025-11-25) of a task already over.
    Terminal {
        id: String,
        status: &'static str,
    },
    /// Running in another server process, which alone can stop it.
    NotOurs(String),
    /// `tasks/result` of a task cancelled before it had one.
    Cancelled(String),
    /// The job ended without a result (its server exited, its worker
    /// crashed): the error its record gives.
    NoResult(String),
    /// `tasks/result` was still waiting when this server stopped.
    Stopping(String),
    Storage(StoreError),
}

impl TaskError {
    pub fn code(&self) -> i64 {
        match self {
            TaskError::NotOurs(_)
            | TaskError::NoResult(_)
            | TaskError::Stopping(_)
            | TaskError::Storage(_) => jsonrpc::INTERNAL_ERROR,
            _ => jsonrpc::INVALID_PARAMS,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::BadId(got) => write!(
                f,
                "taskId must be a task id from a task-augmented tools/call (32 hex characters), got {got}"
            ),
            TaskError::NotFound(id) => write!(
                f,
                "task {id} not found: it never existed or was deleted (dispatch_gc, job_retention_days)"
            ),
            TaskError::BadCursor => {
                f.write_str("invalid cursor: tasks/list returns every task in one page")
            }
            TaskError::Terminal { id, status } => {
                write!(f, "cannot cancel task {id}: it is already {status}")
            }
            TaskError::NotOurs(id) => write!(
                f,
                "task {id} runs in another agent-dispatch server, which alone can stop it; poll tasks/get until it ends"
            ),
            TaskError::Cancelled(id) => {
                write!(f, "task {id} was cancelled before it had a result")
            }
            TaskError::NoResult(error) => write!(f, "the task ended without a result: {error}"),
            TaskError::Stopping(id) => write!(
                f,
                "this server stopped while waiting for task {id}: ask tasks/get from a new session where it stands"
            ),
            TaskError::Storage(err) => write!(f, "the job store failed: {err}"),
        }
    }
}

/// How many of its tasks a session lists; older ones stay readable by id.
const MAX_LISTED: usize = 1000;

/// Tasks one server process created in its 2025-11-25 session, oldest
/// first: what `tasks/list` shows (the newest `MAX_LISTED`). Ids live on
/// disk for every process sharing the directory, but a session lists only
/// its own.
#[derive(Default)]
pub struct Created(Mutex<Vec<String>>);

impl Created {
    fn add(&self, id: &str) {
        let mut ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() == MAX_LISTED {
            ids.remove(0);
        }
        ids.push(id.to_owned());
    }

    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why a task-augmented call has no task.
pub enum Refused {
    /// The call itself is refused (unknown agent, a run control its CLI
    /// cannot honour, …): the envelope a plain call would answer.
    Call(ToolResult),
    /// No job could be recorded (the store failed, too many jobs).
    Job(ToolResult),
}

impl Refused {
    /// The envelope, as one line: its `error`, and its `hint` if any.
    pub fn message(&self) -> String {
        let (Refused::Call(envelope) | Refused::Job(envelope)) = self;
        let text = |key: &str| envelope.value.get(key).and_then(Value::as_str);
        match (text("error"), text("hint")) {
            (Some(error), Some(hint)) => format!("{error} ({hint})"),
            (Some(error), None) => error.to_owned(),
            _ => envelope.value.to_string(),
        }
    }

    /// What a plain call would have answered.
    pub fn envelope(self) -> ToolResult {
        let (Refused::Call(envelope) | Refused::Job(envelope)) = self;
        envelope
    }
}

/// A task whose job is recorded but not started: it starts once its
/// handle is queued for the client, so nothing about the task (a status
/// notification, say) can reach the client first, and a call cancelled
/// before its answer leaves no job running.
pub struct Unstarted {
    recorded: RecordedJob,
    ended: Option<Ended>,
    /// The call's progress (a 2025-11-25 task with a token): closed when
    /// the job ends, or here when it never runs, so its heartbeat stops.
    progress: Option<Progress>,
}

impl Unstarted {
    pub fn job(&self) -> &Job {
        &self.recorded.job
    }

    pub fn start(self, state: &State) {
        // A worker that cannot start fails the record: tasks/get says so.
        if let Err(envelope) = self.recorded.start(state, self.ended) {
            crate::log::warn(&format!("a task did not start: {}", envelope.value));
            close(self.progress.as_ref());
        }
    }

    pub fn withdraw(self, state: &State) {
        self.recorded.withdraw(state);
        close(self.progress.as_ref());
    }
}

/// Where a new task reports: the session's task list, its writer, and the
/// call's progress token.
pub struct Reporting<'a> {
    pub created: &'a Created,
    pub writer: &'a Writer,
    pub progress_token: Option<Value>,
}

/// Records a dispatch tool's call as a task: checked like the call itself (a bad
/// argument or an unknown agent is refused, with no task), then its job is
/// durably recorded, to start once the handle is on its way. A 2025-11-25
/// session is told when it ends (`notifications/tasks/status`), can list
/// it, and gets its steps on the call's progress token, which stays valid
/// for the task's life (the extension has no progress for tasks).
pub fn create(
    state: &State,
    prepare: tools::Prepare,
    args: Args,
    flavor: Flavor,
    reporting: Reporting,
) -> Result<Result<Unstarted, Refused>, ArgError> {
    let never_cancelled = CancelToken::default();
    let mut call = tools::Call {
        state,
        args,
        cancel: &never_cancelled,
        progress: None,
    };
    let prepared = match prepare(&mut call)? {
        Ok(prepared) => prepared,
        Err(envelope) => return Ok(Err(Refused::Call(envelope))),
    };
    let progress = reporting
        .progress_token
        .filter(|_| flavor == Flavor::Utility)
        .map(|token| Progress::start(token, reporting.writer.clone()));
    let steps = prepared.steps_to(progress.as_ref());
    let recorded = match tools::record_job(prepared.tool, state, prepared, steps) {
        Ok(recorded) => recorded,
        Err(envelope) => {
            close(progress.as_ref());
            return Ok(Err(Refused::Job(envelope)));
        }
    };
    let call_progress = progress.clone();
    let ended = (flavor == Flavor::Utility).then(|| {
        reporting.created.add(&recorded.job.id);
        let writer = reporting.writer.clone();
        let store = state.jobs.store().clone();
        let ttl = ttl_ms(state);
        Box::new(move |id: &str| {
            close(progress.as_ref());
            if let Ok(Some(job)) = store.get(id) {
                writer.notify(&jsonrpc::notification(
                    "notifications/tasks/status",
                    Value::Object(task(&job, Flavor::Utility, ttl)),
                ));
            }
        }) as Ended
    });
    Ok(Ok(Unstarted {
        recorded,
        ended,
        progress: call_progress,
    }))
}

fn close(progress: Option<&Progress>) {
    if let Some(progress) = progress {
        progress.close();
    }
}

/// The answer to a task-augmented call: the new task's handle.
pub fn created(state: &State, job: &Job, flavor: Flavor) -> Value {
    let task = task(job, flavor, ttl_ms(state));
    match flavor {
        Flavor::Utility => json!({"task": task}),
        Flavor::Extension => modern::typed(Value::Object(task), "task"),
    }
}

/// `tasks/get`: the task now; in the extension, with its result (or
/// error) once it has one.
pub fn get(state: &State, params: &Value, flavor: Flavor) -> Result<Value, TaskError> {
    let job = job_of(state, params)?;
    Ok(match flavor {
        Flavor::Utility => Value::Object(task(&job, flavor, ttl_ms(state))),
        Flavor::Extension => modern::complete(Value::Object(detailed(state, &job))),
    })
}

/// A job as the extension's `DetailedTask`: the task, and once it ended
/// the call's `result` (or the `error` of a job left without one). What
/// `tasks/get` answers and `notifications/tasks` carries.
pub fn detailed(state: &State, job: &Job) -> Map<String, Value> {
    let mut task = task(job, Flavor::Extension, ttl_ms(state));
    match outcome(job) {
        Outcome::Answer(answer) => {
            task.insert("result".into(), answer.call_result());
        }
        Outcome::NoResult(error) => {
            task.insert(
                "error".into(),
                json!({"code": jsonrpc::INTERNAL_ERROR, "message": TaskError::NoResult(error).to_string()}),
            );
        }
        Outcome::Working | Outcome::Cancelled => {}
    }
    task
}

/// `tasks/result` (2025-11-25) of a task that has ended: the call's own
/// result, marked with the task it belongs to; `None` while it runs.
pub fn result(state: &State, id: &str) -> Result<Option<Value>, TaskError> {
    let job = job_named(state, id.to_owned())?;
    match outcome(&job) {
        Outcome::Working => Ok(None),
        Outcome::Answer(answer) => {
            let mut result = answer.call_result();
            result["_meta"] = json!({"io.modelcontextprotocol/related-task": {"taskId": job.id}});
            Ok(Some(result))
        }
        Outcome::Cancelled => Err(TaskError::Cancelled(job.id)),
        Outcome::NoResult(error) => Err(TaskError::NoResult(error)),
    }
}

/// The id a tasks request names, checked before any file is touched.
pub fn task_id(params: &Value) -> Result<String, TaskError> {
    id_of(params.get("taskId"))
}

/// `value` as a task id, checked before any file is touched.
pub fn id_of(value: Option<&Value>) -> Result<String, TaskError> {
    match value {
        Some(Value::String(id)) if ids::is_hex32(id) => Ok(id.clone()),
        // Named in the error, cut short: it is the caller's text.
        Some(Value::String(id)) => Err(TaskError::BadId(repr_str(crate::chars::prefix(id, 40)))),
        Some(other) => Err(TaskError::BadId(
            crate::chars::prefix(&other.to_string(), 40).to_owned(),
        )),
        None => Err(TaskError::BadId("nothing".to_owned())),
    }
}

/// `tasks/list` (2025-11-25): this session's tasks, newest first, those
/// since deleted left out.
pub fn list(state: &State, params: &Value, created: &Created) -> Result<Value, TaskError> {
    if params.get("cursor").is_some_and(|cursor| !cursor.is_null()) {
        return Err(TaskError::BadCursor);
    }
    let ttl = ttl_ms(state);
    let mut tasks = Vec::new();
    for id in created.ids().iter().rev() {
        if let Some(job) = read(state, id).map_err(TaskError::Storage)? {
            tasks.push(Value::Object(task(&job, Flavor::Utility, ttl)));
        }
    }
    Ok(json!({"tasks": tasks}))
}

/// `tasks/cancel`: the job cancelled (its process group killed when this
/// server runs it). 2025-11-25 answers with the cancelled task and refuses
/// a task already over; the extension acknowledges, whatever the task was.
pub fn cancel(state: &State, params: &Value, flavor: Flavor) -> Result<Value, TaskError> {
    let id = task_id(params)?;
    let reply = state.jobs.cancel(&id).map_err(TaskError::Storage)?;
    match (reply.outcome, flavor) {
        ("not_found", _) => Err(TaskError::NotFound(id)),
        (_, Flavor::Extension) => Ok(modern::complete(json!({}))),
        // 2025-11-25 names a failed dispatch `failed` whether or not it
        // has a result, so the result does not matter here.
        ("already_terminal", Flavor::Utility) => Err(TaskError::Terminal {
            id,
            status: reply
                .status
                .map_or("over", |status| status_of(status, false, Flavor::Utility)),
        }),
        ("running", Flavor::Utility) => Err(TaskError::NotOurs(id)),
        (_, Flavor::Utility) => get(state, params, Flavor::Utility),
    }
}

/// `tasks/update` (extension): we never ask for input, so there is
/// nothing to take; acknowledged for a task that exists.
pub fn update(state: &State, params: &Value) -> Result<Value, TaskError> {
    job_of(state, params)?;
    Ok(modern::complete(json!({})))
}

/// Task `id`'s job as a task sees it: one no server will finish (its
/// server was killed) has failed, though no server start has recorded it
/// so yet — a wait for it ends.
pub fn read(state: &State, id: &str) -> Result<Option<Job>, StoreError> {
    let store = state.jobs.store();
    Ok(store.get(id)?.map(|mut job| {
        if let Some(error) = store.abandoned(&job, crate::jobs::now()) {
            job.status = Status::Failed;
            job.error = Some(error);
        }
        job
    }))
}

fn job_of(state: &State, params: &Value) -> Result<Job, TaskError> {
    job_named(state, task_id(params)?)
}

fn job_named(state: &State, id: String) -> Result<Job, TaskError> {
    match read(state, &id) {
        Ok(Some(job)) => Ok(job),
        Ok(None) => Err(TaskError::NotFound(id)),
        Err(err) => Err(TaskError::Storage(err)),
    }
}

/// Where a task's job stands, as far as its caller is concerned.
enum Outcome {
    Working,
    /// The call's answer, success or not.
    Answer(ToolResult),
    Cancelled,
    NoResult(String),
}

fn outcome(job: &Job) -> Outcome {
    if !job.status.is_terminal() {
        return Outcome::Working;
    }
    if job.status == Status::Cancelled {
        return Outcome::Cancelled;
    }
    match tools::job_answer(job) {
        Some(answer) => Outcome::Answer(answer),
        None => Outcome::NoResult(
            job.error
                .clone()
                .unwrap_or_else(|| "no result was recorded".to_owned()),
        ),
    }
}

/// The task status of a job: pending and running are `working`; a failed
/// dispatch is `failed` in 2025-11-25 but a `completed` call with an
/// error result in the extension, where `failed` means no result at all.
fn status_of(status: Status, has_result: bool, flavor: Flavor) -> &'static str {
    match status {
        Status::Pending | Status::Running => "working",
        Status::Done => "completed",
        Status::Cancelled => "cancelled",
        Status::Failed if has_result && flavor == Flavor::Extension => "completed",
        Status::Failed => "failed",
    }
}

/// A job as a task of `flavor`: id, status with a message a person can
/// read, times in ISO 8601, how long it is kept, how often to poll.
fn task(job: &Job, flavor: Flavor, ttl_ms: Option<u64>) -> Map<String, Value> {
    let status = status_of(job.status, job.result.is_some(), flavor);
    let message = match job.status {
        Status::Pending => Some("starting (it waits while max_concurrency agents run)".to_owned()),
        Status::Running => Some(
            job.progress
                .as_ref()
                .and_then(|lines| lines.last().cloned())
                .unwrap_or_else(|| format!("{} is working on it", job.agent)),
        ),
        Status::Failed => job.error.clone(),
        Status::Done | Status::Cancelled => None,
    };
    let updated = [job.completed_at, job.progress_updated_at, job.started_at]
        .into_iter()
        .flatten()
        .fold(job.created_at, f64::max);
    let (ttl_key, poll_key) = match flavor {
        Flavor::Utility => ("ttl", "pollInterval"),
        Flavor::Extension => ("ttlMs", "pollIntervalMs"),
    };
    let mut task = Map::new();
    task.insert("taskId".into(), json!(job.id));
    task.insert("status".into(), json!(status));
    if let Some(message) = message {
        task.insert("statusMessage".into(), json!(message));
    }
    task.insert("createdAt".into(), json!(iso8601(job.created_at)));
    task.insert("lastUpdatedAt".into(), json!(iso8601(updated)));
    task.insert(ttl_key.into(), json!(ttl_ms));
    task.insert(poll_key.into(), json!(POLL_INTERVAL_MS));
    task
}

/// How long a task is kept: the job retention, or `None` (unlimited) when
/// finished jobs are kept until `dispatch_gc`.
fn ttl_ms(state: &State) -> Option<u64> {
    let days = state.config().map_or(0, |c| c.settings.job_retention_days);
    (days > 0).then(|| days.saturating_mul(86_400_000))
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn iso8601(epoch: f64) -> String {
    let millis = (epoch.max(0.0) * 1000.0) as i64;
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::DispatchResult;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn job(status: Status, result: Option<bool>) -> Job {
        Job {
            status,
            result: result.map(|success| DispatchResult::new("api", success)),
            ..Job::new_pending(ID.into(), "api", "t", None, None, None, 1_764_633_600.25)
        }
    }

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400.5), "2000-02-29T00:00:00.500Z");
        assert_eq!(iso8601(1_764_633_600.25), "2025-12-02T00:00:00.250Z");
        assert_eq!(iso8601(4_102_444_799.0), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn statuses_follow_each_revision() {
        for flavor in [Flavor::Utility, Flavor::Extension] {
            assert_eq!(status_of(Status::Pending, false, flavor), "working");
            assert_eq!(status_of(Status::Running, false, flavor), "working");
            assert_eq!(status_of(Status::Done, true, flavor), "completed");
            assert_eq!(status_of(Status::Cancelled, false, flavor), "cancelled");
            assert_eq!(status_of(Status::Failed, false, flavor), "failed");
        }
        assert_eq!(status_of(Status::Failed, true, Flavor::Utility), "failed");
        assert_eq!(
            status_of(Status::Failed, true, Flavor::Extension),
            "completed"
        );
    }

    #[test]
    fn a_task_carries_each_revision_s_field_names() {
        let utility = task(&job(Status::Pending, None), Flavor::Utility, None);
        assert_eq!(utility["taskId"], ID);
        assert_eq!(utility["ttl"], Value::Null);
        assert_eq!(utility["pollInterval"], POLL_INTERVAL_MS);
        assert_eq!(utility["createdAt"], "2025-12-02T00:00:00.250Z");
        let extension = task(
            &job(Status::Failed, Some(false)),
            Flavor::Extension,
            Some(5),
        );
        assert_eq!(extension["status"], "completed");
        assert_eq!(extension["ttlMs"], 5);
        assert!(extension.get("ttl").is_none());
    }

    #[test]
    fn ids_are_checked_before_any_file_is_read() {
        assert_eq!(task_id(&json!({"taskId": ID})).unwrap(), ID);
        for bad in [json!({}), json!({"taskId": "../x"}), json!({"taskId": 5})] {
            let err = task_id(&bad).unwrap_err();
            assert_eq!(err.code(), jsonrpc::INVALID_PARAMS, "{bad}");
        }
    }
}
