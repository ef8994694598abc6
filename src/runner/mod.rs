//! Running `claude` for one dispatch and turning what it printed into a
//! `DispatchResult`. `dispatch` is the one entry point: pre-flight checks,
//! the prompt and system prompt (`prompt`), the command line (`command`),
//! the supervised process (`process`, with `stream_sink` for live events),
//! and interpretation (`interpret`, built on `lenient_json`, `status_line`
//! and `classify`; `preflight` holds the early-failure results). Those two
//! backend-specific halves — how to call the CLI, how to read its output —
//! are all a second agent backend would replace.

pub mod cancel;
mod classify;
pub mod command;
pub mod environment;
pub mod interpret;
pub mod lenient_json;
pub mod preflight;
pub mod process;
pub mod prompt;
pub mod result;
pub mod status_line;
pub mod stream_sink;

use std::path::Path;
use std::time::{Duration, Instant};

pub use cancel::CancelToken;
pub use command::OutputMode;
pub use prompt::Ask;
pub use result::{DispatchResult, ErrorType, Outcome};
pub use stream_sink::Progress;

use crate::config::schema::MAX_TIMEOUT_SECS;
use crate::config::{Agent, Settings};
use command::{CommandLine, Session};
use interpret::{Captured, Context, Verdict};
use process::{CollectAll, Launch};
use stream_sink::StreamSink;

/// Everything one dispatch needs, resolved by the caller.
#[derive(Clone, Copy)]
pub struct Dispatch<'a> {
    pub agent_name: &'a str,
    pub agent: &'a Agent,
    pub settings: &'a Settings,
    pub ask: Ask<'a>,
    /// Continue this session instead of starting one (json mode only).
    pub resume: Option<&'a str>,
    /// A per-call timeout replacing the agent's, already bounded.
    pub timeout_secs: Option<u64>,
    pub mode: OutputMode,
}

impl Dispatch<'_> {
    /// Per-call override, else the agent's timeout, else (agent timeout 0)
    /// the settings default.
    pub fn timeout_secs(&self) -> u64 {
        match (self.timeout_secs, self.agent.timeout) {
            (Some(secs), _) => secs,
            (None, 0) => self.settings.default_timeout,
            (None, secs) => secs,
        }
    }

    /// The agent's cap when it has a non-zero one, else the settings
    /// default; zero means no cap.
    pub fn budget_usd(&self) -> Option<f64> {
        self.agent
            .max_budget_usd
            .filter(|cap| *cap > 0.0)
            .or(self.settings.default_max_budget_usd)
            .filter(|cap| *cap > 0.0)
    }
}

/// Offers a timeout measured from the agent's recent runs in the message of
/// a run that timed out. Callers look the measurement up only for such runs:
/// it comes from the usage journal, which is not free to read.
pub fn offer_measured_timeout(
    result: &mut DispatchResult,
    d: &Dispatch,
    measure: impl FnOnce() -> Option<u64>,
) {
    if result.error_type != Some(ErrorType::Timeout) {
        return;
    }
    if let Some(measured) = measure() {
        result.error = Some(classify::timeout_message(
            d.agent_name,
            d.timeout_secs(),
            Some(measured),
            result.session_id.as_deref(),
        ));
    }
}

/// Runs one dispatch to completion (or timeout, or cancellation) with the
/// `claude` found on `PATH`. Never panics and never returns without a
/// result: every failure is a `DispatchResult` with `success: false` and an
/// `error_type`.
pub fn dispatch(d: &Dispatch, cancel: &CancelToken, progress: Option<Progress>) -> DispatchResult {
    dispatch_using(
        environment::find_on_path("claude").as_deref(),
        d,
        cancel,
        progress,
    )
}

/// `dispatch` with an explicit `claude` executable (`None`: not installed).
pub fn dispatch_using(
    claude: Option<&Path>,
    d: &Dispatch,
    cancel: &CancelToken,
    progress: Option<Progress>,
) -> DispatchResult {
    let depth = environment::current_depth();
    if depth >= i64::try_from(d.settings.max_dispatch_depth).unwrap_or(i64::MAX) {
        return preflight::recursion(d.agent_name, depth, d.settings.max_dispatch_depth);
    }
    let Some(claude) = claude else {
        return preflight::claude_not_found(d.agent_name);
    };
    if !d.agent.directory.is_dir() {
        return preflight::directory_missing(d.agent_name, &d.agent.directory);
    }
    let session = match (d.resume, d.mode) {
        (Some(id), OutputMode::Json) => Session::Resume(id.to_owned()),
        // Without a random source the CLI picks the id; the run is only
        // harder to resume after a timeout.
        _ => crate::ids::uuid_v4().map_or(Session::Unnamed, Session::New),
    };
    let launch = |session: &Session| {
        build_arguments(d, session).map(|args| Launch {
            program: claude.to_path_buf(),
            args,
            cwd: d.agent.directory.clone(),
            env: vec![(
                environment::DEPTH_ENV.into(),
                depth.saturating_add(1).to_string().into(),
            )],
        })
    };
    let first = match launch(&session) {
        Ok(first) => first,
        Err(r) => return refused(d.agent_name, r),
    };
    let retry = match run_once(d, &first, &session, true, cancel, progress.clone()) {
        Verdict::Done(result) => return result,
        Verdict::RetryWithoutSessionId => match launch(&Session::Unnamed) {
            Ok(retry) => retry,
            Err(r) => return refused(d.agent_name, r),
        },
    };
    match run_once(d, &retry, &Session::Unnamed, false, cancel, progress) {
        Verdict::Done(result) => result,
        // Not reachable: a retry is never offered twice.
        Verdict::RetryWithoutSessionId => DispatchResult::failure(
            d.agent_name,
            ErrorType::CliError,
            "claude rejected --session-id twice".into(),
        ),
    }
}

/// Marks a finished result whose output was cut at the capture bound.
fn mark_if_cut(verdict: Verdict, cut: bool) -> Verdict {
    match verdict {
        Verdict::Done(mut result) if cut => {
            result.mark_truncated(process::STDOUT_KEEP_BYTES);
            Verdict::Done(result)
        }
        other => other,
    }
}

/// The failed result of a command line that was not built.
fn refused(agent: &str, refused: command::Refused) -> DispatchResult {
    match refused {
        command::Refused::BadFlagValue {
            argument,
            value,
            problem,
        } => preflight::bad_flag_value(agent, argument, &value, &problem),
        command::Refused::TooLong { what, bytes } => {
            preflight::argument_too_long(agent, what, bytes)
        }
        command::Refused::NulByte { what } => preflight::nul_byte(agent, what),
    }
}

fn build_arguments(
    d: &Dispatch,
    session: &Session,
) -> Result<Vec<std::ffi::OsString>, command::Refused> {
    let prompt = prompt::task_prompt(&d.ask);
    let budget_usd = d.budget_usd();
    let system_prompt = prompt::system_prompt(&prompt::Protocol {
        enabled: d.settings.dispatch_protocol,
        agent: d.agent_name,
        caller: d.ask.caller,
        timeout_secs: d.timeout_secs(),
        budget_usd,
        json_answer: d.ask.wants_json(),
        instructions: &d.agent.instructions,
    });
    let permission_mode = d
        .agent
        .permission_mode
        .as_deref()
        .or(d.settings.default_permission_mode.as_deref());
    command::arguments(&CommandLine {
        mode: d.mode,
        prompt: &prompt,
        system_prompt: system_prompt.as_deref(),
        session,
        budget_usd,
        model: d.agent.model.as_deref(),
        permission_mode,
        allowed_tools: d
            .agent
            .allowed_tools
            .as_deref()
            .unwrap_or(&d.settings.default_allowed_tools),
        disallowed_tools: d
            .agent
            .disallowed_tools
            .as_deref()
            .unwrap_or(&d.settings.default_disallowed_tools),
    })
}

fn run_once(
    d: &Dispatch,
    launch: &Launch,
    session: &Session,
    first_attempt: bool,
    cancel: &CancelToken,
    progress: Option<Progress>,
) -> Verdict {
    let (session_of_record, generated) = match session {
        Session::Resume(id) => (Some(id.as_str()), false),
        Session::New(id) => (Some(id.as_str()), true),
        Session::Unnamed => (None, false),
    };
    let timeout_secs = d.timeout_secs();
    let ctx = Context {
        agent: d.agent_name,
        session_of_record,
        session_id_was_generated: generated,
        first_attempt,
        response_format_json: d.ask.wants_json(),
        timeout_secs,
        budget_usd: d.budget_usd(),
    };
    // Callers bound the timeout already; the cap keeps `Dispatch`'s public
    // fields from ever overflowing the deadline into a panic.
    let deadline = Instant::now() + Duration::from_secs(timeout_secs.min(MAX_TIMEOUT_SECS));
    match d.mode {
        OutputMode::Json => match process::run(launch, deadline, cancel, CollectAll::default()) {
            Ok(run) => {
                let CollectAll { bytes, cut } = std::mem::take(&mut *process::lock_sink(&run.sink));
                let verdict = interpret::interpret_json(
                    &ctx,
                    &Captured {
                        stdout: bytes,
                        ..run.captured
                    },
                );
                mark_if_cut(verdict, cut)
            }
            Err(err) => Verdict::Done(interpret::spawn_failure(&ctx, &err)),
        },
        OutputMode::Stream => {
            match process::run(launch, deadline, cancel, StreamSink::new(progress)) {
                Ok(run) => {
                    let (collector, cut) = {
                        let mut sink = process::lock_sink(&run.sink);
                        (std::mem::take(&mut sink.collector), sink.cut)
                    };
                    // Progress lines may be cut harmlessly; only a cut that
                    // cost the result line is worth a mark.
                    let lost_result = cut && !collector.has_result();
                    let Captured {
                        stderr,
                        exit,
                        killed,
                        ..
                    } = run.captured;
                    mark_if_cut(collector.finish(&ctx, &stderr, exit, killed), lost_result)
                }
                Err(err) => Verdict::Done(interpret::spawn_failure(&ctx, &err)),
            }
        }
    }
}
