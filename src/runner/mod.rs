//! Running an agent CLI for one dispatch and turning what it printed into a
//! `DispatchResult`. `dispatch` is the one entry point: pre-flight checks
//! (`preflight` holds their results), the prompt and system prompt
//! (`prompt`), what the run asks of the CLI (`command`), the supervised
//! process (`transport` over `process`, with `stream_sink` for event
//! streams), and the verdict (`verdict`). What differs between CLIs — the
//! executable, the argv, reading the output — sits behind `Backend`
//! (`backend`), one implementation per CLI in `backends`; the helpers they
//! share are `lenient_json`, `status_line` and `result`.

pub mod answer;
pub mod backend;
pub mod backends;
pub mod cancel;
pub mod command;
pub mod environment;
pub mod lenient_json;
pub mod messages;
pub mod preflight;
pub mod process;
pub mod prompt;
pub mod result;
pub mod run_facts;
pub mod ssh;
pub mod status_line;
pub mod stream_sink;
pub mod transport;
pub mod verdict;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

pub use cancel::CancelToken;
pub use command::OutputMode;
pub use prompt::Ask;
pub use result::{DispatchResult, ErrorType, Outcome, Usage};
pub use stream_sink::Progress;

use crate::config::grants::Permissions;
use crate::config::schema::MAX_TIMEOUT_SECS;
use crate::config::{Agent, Settings};
use backend::Backend;
use command::{CommandLine, Session};
use process::Launch;
use transport::Transport;
use verdict::{Context, Verdict};

/// Everything one dispatch needs, resolved by the caller.
#[derive(Clone, Copy)]
pub struct Dispatch<'a> {
    pub agent_name: &'a str,
    pub agent: &'a Agent,
    /// The CLI that runs it, usually `backends::of(agent, settings)`.
    pub backend: &'a dyn Backend,
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
    /// default; zero means no cap, and so does a CLI that cannot stop at
    /// one (an agent's own cap is refused for it before it runs).
    pub fn budget_usd(&self) -> Option<f64> {
        if !self.backend.abilities().spend_cap {
            return None;
        }
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
        result.error = Some(messages::timeout_message(
            d.agent_name,
            d.timeout_secs(),
            Some(measured),
            result.session_id.as_deref(),
        ));
    }
}

/// Runs one dispatch to completion (or timeout, or cancellation) with its
/// backend's executable as found on `PATH`. Never panics and never returns
/// without a result: every failure is a `DispatchResult` with
/// `success: false` and an `error_type`.
pub fn dispatch(d: &Dispatch, cancel: &CancelToken, progress: Option<Progress>) -> DispatchResult {
    let program = if d.agent.is_remote() {
        environment::find_on_path("ssh")
    } else {
        d.backend.locate()
    };
    dispatch_using(program.as_deref(), d, cancel, progress)
}

/// `dispatch` with an explicit executable (`None`: not installed): the
/// agent CLI, or `ssh` for a remote agent.
pub fn dispatch_using(
    program: Option<&Path>,
    d: &Dispatch,
    cancel: &CancelToken,
    progress: Option<Progress>,
) -> DispatchResult {
    let depth = environment::current_depth();
    if depth >= i64::try_from(d.settings.max_dispatch_depth).unwrap_or(i64::MAX) {
        return preflight::recursion(d.agent_name, depth, d.settings.max_dispatch_depth);
    }
    let Some(program) = program else {
        return match d.agent.is_remote() {
            true => preflight::ssh_not_found(d.agent_name),
            false => d.backend.not_found(d.agent_name),
        };
    };
    let (transport, program) = match ssh::Remote::of(d.agent) {
        None if !d.agent.directory.is_dir() => {
            return preflight::directory_missing(d.agent_name, &d.agent.directory);
        }
        None => (Transport::Local, program.to_path_buf()),
        Some(Err(problem)) => return preflight::bad_remote(d.agent_name, &problem),
        Some(Ok(remote)) => match ssh::control_dir() {
            Ok(control_dir) => {
                let cli = d.agent.remote_cli.as_deref().unwrap_or(d.backend.program());
                let transport = Transport::Ssh {
                    remote,
                    ssh: program.to_path_buf(),
                    control_dir,
                };
                (transport, std::path::PathBuf::from(cli))
            }
            Err(err) => return preflight::no_control_dir(d.agent_name, &err),
        },
    };
    if let Err(problem) = backends::unsupported::check(d.backend, d.agent, d.settings) {
        return preflight::unsupported(d.agent_name, &problem);
    }
    let session = match (d.resume, d.mode) {
        (Some(id), OutputMode::Json) => Session::Resume(id.to_owned()),
        _ if !d.backend.abilities().names_new_sessions => Session::Unnamed,
        // Without a random source the CLI picks the id; the run is only
        // harder to resume after a timeout.
        _ => crate::ids::uuid_v4().map_or(Session::Unnamed, Session::New),
    };
    let launch = |session: &Session| {
        build_command(d, session)
            .map(|(args, mut env)| {
                env.push((
                    environment::DEPTH_ENV.into(),
                    depth.saturating_add(1).to_string().into(),
                ));
                Launch {
                    program: program.clone(),
                    args,
                    cwd: d.agent.directory.clone(),
                    env,
                }
            })
            .and_then(|launch| match transport {
                Transport::Ssh { .. } => ssh::command_fits(&launch).map(|()| launch),
                Transport::Local => Ok(launch),
            })
    };
    let first = match launch(&session) {
        Ok(first) => first,
        Err(r) => return refused(d, r),
    };
    let retry = match run_once(
        d,
        &transport,
        &first,
        &session,
        true,
        cancel,
        progress.clone(),
    ) {
        Verdict::Done(result) => return result,
        Verdict::RetryWithoutSessionId => match launch(&Session::Unnamed) {
            Ok(retry) => retry,
            Err(r) => return refused(d, r),
        },
    };
    match run_once(
        d,
        &transport,
        &retry,
        &Session::Unnamed,
        false,
        cancel,
        progress,
    ) {
        Verdict::Done(result) => result,
        // Not reachable: a retry is never offered twice.
        Verdict::RetryWithoutSessionId => DispatchResult::failure(
            d.agent_name,
            ErrorType::CliError,
            format!("{} rejected --session-id twice", d.backend.program()),
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
fn refused(d: &Dispatch, refused: command::Refused) -> DispatchResult {
    let agent = d.agent_name;
    match refused {
        command::Refused::BadFlagValue {
            argument,
            value,
            problem,
        } => preflight::bad_flag_value(agent, d.backend.program(), argument, &value, &problem),
        command::Refused::TooLong { what, bytes } => {
            preflight::argument_too_long(agent, what, bytes)
        }
        command::Refused::NulByte { what } => preflight::nul_byte(agent, what),
        command::Refused::Unsupported { what, value } => DispatchResult::failure(
            agent,
            ErrorType::InvalidArgument,
            format!(
                "Agent '{agent}' was not started: the {} CLI cannot honour {what} {value:?}",
                d.backend.program()
            ),
        ),
    }
}

/// The arguments and the extra environment of one run.
type Command = (Vec<OsString>, Vec<(OsString, OsString)>);

fn build_command(d: &Dispatch, session: &Session) -> Result<Command, command::Refused> {
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
    // The same resolution the MCP permission-raise check judges. Tool
    // lists reach only a CLI that takes them: the settings defaults are
    // not for the others, and an agent's own lists were refused for them.
    let permissions = Permissions::effective(d.agent, d.settings);
    let tool_lists = d.backend.abilities().tool_lists;
    let (allowed_tools, disallowed_tools) = if tool_lists {
        (permissions.allowed, permissions.disallowed)
    } else {
        (&[][..], &[][..])
    };
    let line = CommandLine {
        mode: d.mode,
        prompt: &prompt,
        system_prompt: system_prompt.as_deref(),
        session,
        budget_usd,
        model: d.agent.model.as_deref(),
        permission_mode: permissions.mode,
        allowed_tools,
        disallowed_tools,
        no_tools: tool_lists && d.agent.allowed_tools.as_ref().is_some_and(Vec::is_empty),
        json_schema: d.ask.json_schema(),
        fallback_model: d.agent.fallback_model.as_deref(),
        effort: d.agent.effort.as_deref(),
        max_turns: d.agent.max_turns,
    };
    Ok((d.backend.arguments(&line)?, d.backend.environment(&line)))
}

fn run_once(
    d: &Dispatch,
    transport: &Transport,
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
    let reader = d.backend.reader(d.mode, progress);
    match transport.run(launch, deadline, cancel, reader) {
        Ok(run) => {
            let mut reader = process::lock_sink(&run.sink);
            let cut = reader.lost_to_cut();
            mark_if_cut(reader.finish(&ctx, run.captured), cut)
        }
        Err(err) => Verdict::Done(d.backend.spawn_failure(&ctx, &err)),
    }
}
