//! The async-job tools: `dispatch_async` starts a dispatch in the
//! background and returns a job id at once; `dispatch_status`,
//! `dispatch_wait`, `dispatch_cancel`, `dispatch_jobs`, `fetch_result` and
//! `dispatch_gc` read and manage the job records (which also hold
//! `return_ref` results).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::args::ArgError;
use super::dispatching::{ASK_ONLY, Prepared, prepare_stream, shown};
use super::params::{Boolean, Integer, Number, Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult};
use crate::dispatch::Request;
use crate::ids;
use crate::jobs::record::{Job, Status};
use crate::jobs::store::StoreError;
use crate::jobs::worker::{Ended, Finished, JobRun, MAX_JOBS, Work};
use crate::mcp::state::State;
use crate::pyfmt::repr_str;
use crate::runner::{self, DispatchResult};

const JOB_ID: Text = Text::required("job_id", "From dispatch_async.");
const BY_JOB_ID: Params = &[&[Param::Text(JOB_ID)]];

const WAIT_SECONDS: Integer = Integer::clamped("timeout_seconds", 60, 1..=3600, "1-3600.");
const DISPATCH_WAIT: Params = &[&[Param::Text(JOB_ID), Param::Integer(WAIT_SECONDS)]];

const STATUS: Text = Text::optional("status", "pending, running, done, failed or cancelled.");
const AGENT: Text = Text::optional("agent", "Only this agent's jobs.");
const LIMIT: Integer = Integer::clamped("limit", 50, 1..=1000, "1-1000.");
const DISPATCH_JOBS: Params = &[&[
    Param::Text(STATUS),
    Param::Text(AGENT),
    Param::Integer(LIMIT),
]];

const REF: Text = Text::required("ref", "A ref or job id.");
/// Negative counts as 0, which is "all".
const MAX_CHARS: Integer = Integer::clamped("max_chars", 0, 0..=i64::MAX, "0 = all.");
const FETCH_RESULT: Params = &[&[Param::Text(REF), Param::Integer(MAX_CHARS)]];

const MAX_AGE_DAYS: Number = Number::new("max_age_days", 7.0);
const DRY_RUN: Boolean = Boolean::new("dry_run", false);
const DISPATCH_GC: Params = &[&[Param::Number(MAX_AGE_DAYS), Param::Boolean(DRY_RUN)]];

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "dispatch_async",
            description: "dispatch_stream in the background: a job_id at once, for dispatch_status (live progress) or dispatch_wait. Kept on disk.",
            params: ASK_ONLY,
            kind: Kind::Dispatch,
            body: Body::Run(dispatch_async),
        },
        Tool {
            name: "dispatch_status",
            description: "A job's state now: status, progress tail, and the result once done.",
            params: BY_JOB_ID,
            kind: Kind::ReadOnly,
            body: Body::Run(dispatch_status),
        },
        Tool {
            name: "dispatch_wait",
            description: "Wait until a job ends or timeout_seconds pass (then `timed_out_waiting: true`; the job keeps running).",
            params: DISPATCH_WAIT,
            kind: Kind::ReadOnly,
            body: Body::Run(dispatch_wait),
        },
        Tool {
            name: "dispatch_cancel",
            description: "Cancel a pending job, or kill a running one this server started.",
            params: BY_JOB_ID,
            kind: Kind::Changes,
            body: Body::Run(dispatch_cancel),
        },
        Tool {
            name: "dispatch_jobs",
            description: "Recent jobs, newest first.",
            params: DISPATCH_JOBS,
            kind: Kind::ReadOnly,
            body: Body::Run(dispatch_jobs),
        },
        Tool {
            name: "fetch_result",
            description: "The full result behind a return_ref ref or a job id; max_chars > 0 cuts the text.",
            params: FETCH_RESULT,
            kind: Kind::ReadOnly,
            body: Body::Run(fetch_result),
        },
        Tool {
            name: "dispatch_gc",
            description: "Delete finished jobs older than max_age_days; dry_run lists them instead.",
            params: DISPATCH_GC,
            kind: Kind::Destructive,
            body: Body::Run(dispatch_gc),
        },
    ]
}

/// The envelope for an I/O failure of the job store.
fn storage_error(tool: &str, err: &StoreError) -> ToolResult {
    ToolResult::error_with_hint(
        format!("{tool} failed on I/O: {err}"),
        "Check free space and permissions of the jobs directory (AGENT_DISPATCH_JOBS_DIR, or jobs/ beside agents.yaml).",
    )
}

fn invalid_id(id: &str) -> ToolResult {
    ToolResult::error(format!(
        "Invalid ref/job_id format: {} (expected a 32-char hex id)",
        repr_str(id)
    ))
}

/// What `return_ref` returns instead of the full result: a ref to fetch it
/// with, its size in characters, and the first `summary_chars` of it.
pub(super) fn ref_payload(job_id: &str, result: &DispatchResult, summary_chars: usize) -> Value {
    let size = result.result.chars().count();
    let shown = if summary_chars > 0 {
        size.min(summary_chars)
    } else {
        0
    };
    let mut payload = json!({
        "ref": job_id,
        "agent": result.agent,
        "success": result.success,
        "size": size,
        "summary_chars": shown,
        "summary": crate::chars::prefix(&result.result, shown),
    });
    let full = serde_json::to_value(result).unwrap_or_default();
    for key in [
        "session_id",
        "cost_usd",
        "duration_ms",
        "num_turns",
        "error",
        "error_type",
        "denied_tools",
        "outcome",
        "hint",
        "parsed_result",
    ] {
        if let Some(value) = full.get(key) {
            payload[key] = value.clone();
        }
    }
    payload
}

fn job_json(job: &Job) -> Value {
    job.to_value()
}

fn dispatch_async(mut call: Call) -> Result<ToolResult, ArgError> {
    let prepared = match prepare_stream(&mut call)? {
        Ok(prepared) => prepared,
        Err(envelope) => return Ok(envelope),
    };
    let agent = prepared.ask.agent.clone();
    let started = record_job("dispatch_async", call.state, prepared, None)
        .and_then(|recorded| recorded.start(call.state, None));
    Ok(match started {
        Ok(job) => ToolResult::ok(json!({"job_id": job.id, "status": "pending", "agent": agent})),
        Err(envelope) => envelope,
    })
}

/// A dispatch recorded as a `pending` job whose worker has not started:
/// the job behind `dispatch_async` and behind every task (which starts
/// only once its handle is on its way to the client).
pub struct RecordedJob {
    pub job: Job,
    work: Work,
    /// The call, for errors.
    tool: &'static str,
}

/// Records `prepared` as a `pending` job, to run through the one dispatch
/// path once started; refused while this server already runs or queues
/// `MAX_JOBS` jobs. Its steps go to the record's progress tail, and to
/// `steps` too when given.
pub fn record_job(
    tool: &'static str,
    state: &State,
    prepared: Prepared,
    steps: Option<runner::Progress>,
) -> Result<RecordedJob, ToolResult> {
    let jobs = &state.jobs;
    if jobs.owned_count() >= MAX_JOBS {
        return Err(ToolResult::error_with_hint(
            format!("server busy: {MAX_JOBS} jobs already run or wait in this server"),
            "Wait for some to end (dispatch_jobs shows them), or cancel some with dispatch_cancel.",
        ));
    }
    let ask = &prepared.ask;
    let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let job = jobs
        .store()
        .create(
            &ask.agent,
            &ask.task,
            given(&ask.context),
            given(&ask.caller),
            given(&ask.goal),
            prepared.return_ref,
        )
        .map_err(|err| storage_error(tool, &err))?;
    let dispatcher = state.dispatcher.clone();
    let what = format!("job {}", job.id);
    let work = Box::new(move |run: JobRun| {
        let progress = match steps {
            Some(steps) => {
                let tail = run.progress;
                Arc::new(move |message: &str| {
                    tail(message);
                    steps(message);
                }) as runner::Progress
            }
            None => run.progress,
        };
        let request = Request {
            what: &what,
            dispatch: prepared.dispatch(),
            cached: prepared.cached,
            progress: Some(progress),
        };
        dispatcher
            .run_then(request, run.cancel, run.start)
            .map(|answer| Finished {
                result: answer.result,
                cached: answer.cached,
            })
    });
    Ok(RecordedJob { job, work, tool })
}

impl RecordedJob {
    /// Starts the job's worker; `ended` is told once its record is final.
    pub fn start(self, state: &State, ended: Option<Ended>) -> Result<Job, ToolResult> {
        let tool = self.tool;
        Arc::clone(&state.jobs)
            .start(self.job.id.clone(), self.work, ended)
            .map_err(|err| ToolResult::error(format!("{tool} could not start a worker: {err}")))?;
        Ok(self.job)
    }

    /// Records the job cancelled, never run: its call was cancelled
    /// before the client learned of it.
    pub fn withdraw(self, state: &State) {
        if let Err(err) = state.jobs.store().cancel(&self.job.id, false) {
            crate::log::warn(&format!(
                "job {}: could not withdraw it: {err}",
                self.job.id
            ));
        }
    }
}

/// What a finished job answers as the call it stands for: its result (as
/// a ref payload when it was asked for one), or `None` while it has none.
pub fn job_answer(job: &Job) -> Option<ToolResult> {
    let result = job.result.as_ref()?;
    let reference = job.return_ref.map(|chars| (job.id.as_str(), chars));
    Some(shown(result, job.cached == Some(true), reference))
}

fn dispatch_status(mut call: Call) -> Result<ToolResult, ArgError> {
    let id = call.args.text(&JOB_ID)?;
    call.args.finish()?;
    if !ids::is_hex32(&id) {
        return Ok(invalid_id(&id));
    }
    Ok(match call.state.jobs.store().get(&id) {
        Ok(Some(job)) => ToolResult::ok(job_json(&job)),
        Ok(None) => ToolResult::error(format!("Job not found: {id}")),
        Err(err) => storage_error("dispatch_status", &err),
    })
}

fn dispatch_wait(mut call: Call) -> Result<ToolResult, ArgError> {
    let id = call.args.text(&JOB_ID)?;
    let seconds = call.args.integer(&WAIT_SECONDS)?;
    call.args.finish()?;
    if !ids::is_hex32(&id) {
        return Ok(invalid_id(&id));
    }
    let wait = Duration::from_secs(seconds as u64);
    Ok(match call.state.jobs.wait(&id, wait, call.cancel) {
        Ok(Some((job, timed_out))) => {
            let mut value = job_json(&job);
            if timed_out {
                value["timed_out_waiting"] = json!(true);
            }
            ToolResult::ok(value)
        }
        Ok(None) => ToolResult::error(format!("Job not found: {id}")),
        Err(err) => storage_error("dispatch_wait", &err),
    })
}

fn dispatch_cancel(mut call: Call) -> Result<ToolResult, ArgError> {
    let id = call.args.text(&JOB_ID)?;
    call.args.finish()?;
    if !ids::is_hex32(&id) {
        return Ok(invalid_id(&id));
    }
    let reply = match call.state.jobs.cancel(&id) {
        Ok(reply) => reply,
        Err(err) => return Ok(storage_error("dispatch_cancel", &err)),
    };
    if reply.outcome == "not_found" {
        return Ok(ToolResult::error(format!("Job not found: {id}")));
    }
    let mut value = json!({"job_id": id, "outcome": reply.outcome});
    if let Some(status) = reply.status {
        value["status"] = json!(status.as_str());
    }
    if let Some(message) = reply.message {
        value["message"] = json!(message);
    }
    Ok(ToolResult::ok(value))
}

fn dispatch_jobs(mut call: Call) -> Result<ToolResult, ArgError> {
    let status = call.args.text(&STATUS)?;
    let limit = call.args.integer(&LIMIT)? as usize;
    let agent = call.args.text(&AGENT)?;
    call.args.finish()?;
    let status_filter = match status.trim().to_lowercase().as_str() {
        "" => None,
        word => match Status::parse(word) {
            Some(status) => Some(status),
            None => {
                return Ok(ToolResult::error(format!(
                    "Invalid status: {}. Use one of: cancelled, done, failed, pending, running or empty.",
                    repr_str(&status)
                )));
            }
        },
    };
    let agent_filter = (!agent.is_empty()).then_some(agent.as_str());
    let jobs = match call.state.jobs.store().list(status_filter, agent_filter) {
        Ok(jobs) => jobs,
        Err(err) => return Ok(storage_error("dispatch_jobs", &err)),
    };
    Ok(ToolResult::ok(Value::Array(
        jobs.iter().take(limit).map(Job::summary).collect(),
    )))
}

fn fetch_result(mut call: Call) -> Result<ToolResult, ArgError> {
    let id = call.args.text(&REF)?;
    let cap = call.args.integer(&MAX_CHARS)? as usize;
    call.args.finish()?;
    if !ids::is_hex32(&id) {
        return Ok(invalid_id(&id));
    }
    let job = match call.state.jobs.store().get(&id) {
        Ok(Some(job)) => job,
        Ok(None) => return Ok(ToolResult::error(format!("Ref not found: {id}"))),
        Err(err) => return Ok(storage_error("fetch_result", &err)),
    };
    let Some(result) = &job.result else {
        return Ok(ToolResult::ok(job_json(&job)));
    };
    let mut value = ToolResult::dispatch(result);
    let full_size = result.result.chars().count();
    if cap > 0 && full_size > cap {
        value.value["result"] = json!(crate::chars::prefix(&result.result, cap));
        value.value["truncated"] = json!(true);
        value.value["full_size"] = json!(full_size);
    }
    Ok(value)
}

fn dispatch_gc(mut call: Call) -> Result<ToolResult, ArgError> {
    let days = call.args.number(&MAX_AGE_DAYS)?;
    let dry_run = call.args.boolean(&DRY_RUN)?;
    call.args.finish()?;
    if days <= 0.0 {
        return Ok(ToolResult::error("max_age_days must be > 0"));
    }
    let max_age = days * 86_400.0;
    if !max_age.is_finite() {
        return Ok(ToolResult::error("max_age_days is too large (non-finite)"));
    }
    let store = call.state.jobs.store();
    let now = crate::jobs::now();
    if dry_run {
        return Ok(match store.gc_candidates(max_age, now) {
            Ok(candidates) => ToolResult::ok(json!({
                "dry_run": true,
                "purged": 0,
                "would_purge": candidates.len(),
                "job_ids": candidates.iter().map(|job| job.id.clone()).collect::<Vec<_>>(),
                "max_age_days": days,
            })),
            Err(err) => storage_error("dispatch_gc", &err),
        });
    }
    Ok(match store.gc(max_age, now) {
        Ok(purged) => ToolResult::ok(json!({"purged": purged, "max_age_days": days})),
        Err(err) => storage_error("dispatch_gc", &err),
    })
}
