//! One job as it lives on disk: the `Job` record (field order, absent
//! fields omitted, the same JSON the original writes and reads), its
//! `Status`, the compact `summary()` listings show, and the rolling
//! progress tail an async worker keeps. Pure data: reading and writing the
//! files, locking and the transition rules live in `store`.

use crate::chars;
use std::collections::VecDeque;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids;
use crate::runner::result::DispatchResult;

/// How many progress lines a job keeps (the newest ones).
pub const PROGRESS_MAX_LINES: usize = 20;
/// How many characters of each progress line a job keeps.
pub const PROGRESS_LINE_CHARS: usize = 300;
/// How much of the task a summary shows.
pub const SUMMARY_TASK_CHARS: usize = 120;

/// Where a job is in its life. `Done`, `Failed` and `Cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Done,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status named exactly `name` (lowercase, no surrounding space).
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }

    /// Done, failed and cancelled jobs never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The persistent record of one async job or `return_ref` result. Field
/// order is the on-disk order of the original; `None` fields are omitted.
/// Timestamps are Unix epoch seconds with sub-second precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub agent: String,
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    pub status: Status,
    pub created_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DispatchResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The rolling tail of a streaming run's progress messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_updated_at: Option<f64>,
    /// A task's `return_ref` summary length: its result is answered as a
    /// ref payload. Ours alone; the original ignores the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_ref: Option<usize>,
    /// `Some(true)` when the result cache answered (a `dispatch` task), so
    /// its answer says `cached: true` as the plain call's does. Ours alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
}

/// Why bytes on disk are not a usable job record. Such a record is skipped
/// everywhere and never modified or deleted.
#[derive(Debug)]
pub enum RecordError {
    /// Not JSON, or not the shape of a job (a missing field, a timestamp
    /// that is a string, an unknown status, …).
    Malformed(serde_json::Error),
    InvalidId(String),
    NonFiniteTimestamp(&'static str),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Malformed(err) => write!(f, "not a job record: {err}"),
            RecordError::InvalidId(id) => write!(
                f,
                "job id {} is not 32 lowercase hex characters",
                crate::pyfmt::repr_str(id)
            ),
            RecordError::NonFiniteTimestamp(field) => {
                write!(f, "timestamp {field} is not a finite number")
            }
        }
    }
}

impl std::error::Error for RecordError {}

impl Job {
    /// A new `pending` job. Empty context, caller or goal count as absent.
    pub fn new_pending(
        id: String,
        agent: &str,
        task: &str,
        context: Option<String>,
        caller: Option<String>,
        goal: Option<String>,
        now: f64,
    ) -> Job {
        let present = |text: Option<String>| text.filter(|t| !t.is_empty());
        Job {
            id,
            agent: agent.to_owned(),
            task: task.to_owned(),
            context: present(context),
            caller: present(caller),
            goal: present(goal),
            status: Status::Pending,
            created_at: now,
            started_at: None,
            completed_at: None,
            result: None,
            error: None,
            progress: None,
            progress_updated_at: None,
            return_ref: None,
            cached: None,
        }
    }

    /// Decodes and validates a record: its id must be a job id and every
    /// timestamp a finite number. (Whether the id matches the file name is
    /// the store's check.)
    pub fn from_json(bytes: &[u8]) -> Result<Job, RecordError> {
        let job: Job = serde_json::from_slice(bytes).map_err(RecordError::Malformed)?;
        if !ids::is_hex32(&job.id) {
            return Err(RecordError::InvalidId(job.id));
        }
        let stamps = [
            ("created_at", Some(job.created_at)),
            ("started_at", job.started_at),
            ("completed_at", job.completed_at),
            ("progress_updated_at", job.progress_updated_at),
        ];
        for (field, value) in stamps {
            if value.is_some_and(|v| !v.is_finite()) {
                return Err(RecordError::NonFiniteTimestamp(field));
            }
        }
        Ok(job)
    }

    /// The on-disk form: pretty JSON, indent 2, absent fields omitted.
    pub fn to_pretty_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The full record as a JSON value (what `dispatch_status` returns).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The compact form listings show, keys in this order: `id`, `agent`,
    /// `status`, `task` (first 120 chars), `created_at`, `started_at?`,
    /// `completed_at?`; with a result `success`, `cost_usd?`, `outcome?`;
    /// `last_progress` only while running; `error_type` only when the job
    /// has an error (the result's type, else `cli_error`).
    pub fn summary(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::from(self.id.as_str()));
        map.insert("agent".into(), Value::from(self.agent.as_str()));
        map.insert("status".into(), Value::from(self.status.as_str()));
        map.insert(
            "task".into(),
            Value::from(chars::prefix(&self.task, SUMMARY_TASK_CHARS)),
        );
        map.insert("created_at".into(), Value::from(self.created_at));
        if let Some(at) = self.started_at {
            map.insert("started_at".into(), Value::from(at));
        }
        if let Some(at) = self.completed_at {
            map.insert("completed_at".into(), Value::from(at));
        }
        if let Some(result) = &self.result {
            map.insert("success".into(), Value::from(result.success));
            if let Some(cost) = result.cost_usd.filter(|c| c.is_finite()) {
                map.insert("cost_usd".into(), Value::from(cost));
            }
            if let Some(outcome) = result.outcome {
                map.insert("outcome".into(), Value::from(outcome.as_str()));
            }
        }
        if self.status == Status::Running
            && let Some(last) = self.progress.as_ref().and_then(|lines| lines.last())
        {
            map.insert("last_progress".into(), Value::from(last.as_str()));
        }
        if self.error.as_deref().is_some_and(|e| !e.is_empty()) {
            let error_type = self
                .result
                .as_ref()
                .and_then(|result| result.error_type.as_ref())
                .map_or("cli_error", |t| t.as_str());
            map.insert("error_type".into(), Value::from(error_type));
        }
        Value::Object(map)
    }
}

/// The newest progress messages of a run: at most 20, each cut to 300
/// characters. The async worker feeds it and stores `lines()` in the job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressTail {
    lines: VecDeque<String>,
}

impl ProgressTail {
    pub fn new() -> ProgressTail {
        ProgressTail::default()
    }

    /// Appends one message, dropping the oldest beyond the cap.
    pub fn push(&mut self, message: &str) {
        if self.lines.len() == PROGRESS_MAX_LINES {
            self.lines.pop_front();
        }
        self.lines
            .push_back(chars::prefix(message, PROGRESS_LINE_CHARS).to_owned());
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Applies the tail rules to lines from elsewhere: the last 20, each cut to
/// 300 characters.
pub fn cap_progress(lines: &[String]) -> Vec<String> {
    let skip = lines.len().saturating_sub(PROGRESS_MAX_LINES);
    lines[skip..]
        .iter()
        .map(|line| chars::prefix(line, PROGRESS_LINE_CHARS).to_owned())
        .collect()
}

/// The current time as Unix epoch seconds, the unit of every job
/// timestamp, to the microsecond. Whole microseconds are written as at most
/// 16 significant digits, which serde_json reads back bit-identical (its
/// default parser may be one unit off on longer decimals), so a job
/// returned by a mutation equals the job read back from its file.
pub fn now() -> f64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    micros as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::{ErrorType, Outcome};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn job(status: Status) -> Job {
        Job {
            status,
            ..Job::new_pending(ID.into(), "api", "Count rows", None, None, None, 100.5)
        }
    }

    #[test]
    fn fields_are_written_in_the_original_order_and_absent_ones_omitted() {
        let mut job = job(Status::Failed);
        job.context = Some("ctx".into());
        job.goal = Some("goal".into());
        job.started_at = Some(101.0);
        job.completed_at = Some(102.25);
        job.result = Some(DispatchResult::new("api", false));
        job.error = Some("boom".into());
        job.progress = Some(vec!["step".into()]);
        job.progress_updated_at = Some(101.5);
        let text = job.to_pretty_json().unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("  \""))
            .filter_map(|line| line.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "agent",
                "task",
                "context",
                "goal",
                "status",
                "created_at",
                "started_at",
                "completed_at",
                "result",
                "error",
                "progress",
                "progress_updated_at"
            ]
        );
        assert!(text.contains("\n  \"status\": \"failed\",\n"), "{text}");
        assert_eq!(Job::from_json(text.as_bytes()).unwrap(), job);
    }

    #[test]
    fn empty_context_caller_and_goal_are_absent() {
        let job = Job::new_pending(
            ID.into(),
            "a",
            "t",
            Some(String::new()),
            Some("me".into()),
            Some(String::new()),
            1.0,
        );
        assert_eq!(
            (job.context, job.caller.as_deref(), job.goal),
            (None, Some("me"), None)
        );
    }

    #[test]
    fn records_with_bad_ids_or_timestamps_are_rejected() {
        let record = |id: &str, created: &str| {
            format!(
                r#"{{"id": "{id}", "agent": "a", "task": "t", "status": "pending", "created_at": {created}}}"#
            )
        };
        assert!(Job::from_json(record(ID, "1.5").as_bytes()).is_ok());
        assert!(Job::from_json(record(ID, "17").as_bytes()).is_ok());
        for (id, created) in [
            (ID, "\"1.5\""),
            (ID, "NaN"),
            (ID, "Infinity"),
            (ID, "1e999"),
            (ID, "null"),
            ("../../x", "1.5"),
            (&ID.to_uppercase(), "1.5"),
            (&ID[..31], "1.5"),
        ] {
            assert!(
                Job::from_json(record(id, created).as_bytes()).is_err(),
                "{id} {created} accepted"
            );
        }
        let unknown_status = record(ID, "1").replace("pending", "paused");
        assert!(Job::from_json(unknown_status.as_bytes()).is_err());
        let stringly_started = record(ID, "1").replace('}', r#", "started_at": "2"}"#);
        assert!(Job::from_json(stringly_started.as_bytes()).is_err());
    }

    #[test]
    fn terminal_statuses_are_done_failed_and_cancelled() {
        let terminal: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [Status::Done, Status::Failed, Status::Cancelled]);
        assert_eq!(Status::parse("cancelled"), Some(Status::Cancelled));
        assert_eq!(Status::parse("Done"), None);
    }

    #[test]
    fn summary_keys_follow_the_original_order() {
        let mut job = job(Status::Failed);
        job.started_at = Some(101.0);
        job.completed_at = Some(102.0);
        let mut result = DispatchResult::failure("api", ErrorType::Timeout, "slow".into());
        result.cost_usd = Some(0.5);
        result.outcome = Some(Outcome::Partial);
        job.result = Some(result);
        job.error = Some("slow".into());
        let summary = job.summary();
        let keys: Vec<&String> = summary.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "agent",
                "status",
                "task",
                "created_at",
                "started_at",
                "completed_at",
                "success",
                "cost_usd",
                "outcome",
                "error_type"
            ]
        );
        assert_eq!(summary["error_type"], "timeout");
        assert_eq!(summary["created_at"], 100.5);
    }

    #[test]
    fn summary_cuts_the_task_to_120_characters_not_bytes() {
        let mut job = job(Status::Pending);
        job.task = "é".repeat(130);
        let summary = job.summary();
        assert_eq!(summary["task"].as_str().unwrap().chars().count(), 120);
    }

    #[test]
    fn summary_shows_last_progress_only_while_running() {
        let mut running = job(Status::Running);
        running.progress = Some(vec!["one".into(), "two".into()]);
        assert_eq!(running.summary()["last_progress"], "two");
        let mut done = running.clone();
        done.status = Status::Done;
        assert!(done.summary().get("last_progress").is_none());
        running.progress = Some(Vec::new());
        assert!(running.summary().get("last_progress").is_none());
    }

    #[test]
    fn summary_error_type_defaults_to_cli_error_and_needs_an_error() {
        let mut cancelled = job(Status::Cancelled);
        cancelled.error = Some("Cancelled before execution".into());
        assert_eq!(cancelled.summary()["error_type"], "cli_error");
        let mut ok = job(Status::Done);
        ok.result = Some(DispatchResult::new("api", true));
        let summary = ok.summary();
        assert!(summary.get("error_type").is_none());
        assert_eq!(summary["success"], true);
        assert!(summary.get("cost_usd").is_none());
    }

    #[test]
    fn progress_tail_keeps_the_last_20_lines_each_cut_to_300_chars() {
        let mut tail = ProgressTail::new();
        assert!(tail.is_empty());
        for step in 0..25 {
            tail.push(&format!("{step}:{}", "ж".repeat(400)));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), 20);
        assert!(lines[0].starts_with("5:"));
        assert!(lines[19].starts_with("24:"));
        assert!(lines.iter().all(|l| l.chars().count() == 300));

        let raw: Vec<String> = (0..22).map(|i| format!("{i}{}", "x".repeat(350))).collect();
        let capped = cap_progress(&raw);
        assert_eq!(capped.len(), 20);
        assert!(capped[0].starts_with("2x"));
        assert!(capped.iter().all(|l| l.chars().count() == 300));
    }

    #[test]
    fn timestamps_from_now_survive_a_round_trip_through_the_file_exactly() {
        for _ in 0..200 {
            let job = Job::new_pending(ID.into(), "a", "t", None, None, None, now());
            let text = job.to_pretty_json().unwrap();
            assert_eq!(Job::from_json(text.as_bytes()).unwrap(), job);
        }
    }
}
