//! `dispatch`, `dispatch_session`, `dispatch_stream`: hand a task to an
//! agent and wait for its answer. Every run goes through the server's one
//! dispatch path (`crate::dispatch`); `dispatch` may be answered from the
//! result cache; `dispatch_stream` forwards the agent's progress. The
//! parameters every dispatch tool takes (`ASK`, decoded by `ask_args`) are
//! declared here once; `dispatch_async` takes them too.

use std::sync::Arc;

use serde_json::json;

use super::args::{ArgError, Args};
use super::discovery::unknown_group;
use super::params::{Boolean, Integer, Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult, unknown_agent};
use crate::config::patch::{AgentPatch, Field, FieldError, Given};
use crate::config::{Agent, Config, Settings};
use crate::dispatch::{Answer, Request};
use crate::mcp::progress::Progress;
use crate::pyfmt::repr_str;
use crate::runner::backends::unsupported;
use crate::runner::prompt::compact_schema;
use crate::runner::{self, Ask, Dispatch, DispatchResult, OutputMode, backends};

/// The bounds of a per-call `timeout_seconds`.
const MIN_TIMEOUT: i64 = 10;
const MAX_TIMEOUT: i64 = 7200;

const AGENT: Text = Text::required("agent", "From list_agents.");
const TASK: Text = Text::required("task", "What to do.");
const CONTEXT: Text = Text::optional("context", "Facts it lacks.");
const CALLER: Text = Text::optional("caller", "Your project.");
const GOAL: Text = Text::optional("goal", "Why you ask.");
const RESPONSE_FORMAT: Text =
    Text::optional("response_format", "\"json\", or a JSON Schema to fit.");
/// Given as is: 0 or less means the agent's own timeout, anything else is
/// clamped by `per_call_timeout`.
const TIMEOUT_SECONDS: Integer = Integer::as_given("timeout_seconds", 0, "10-7200; 0 = agent's.");
/// Claude Code's run controls for this call, over the agent's own: empty
/// or 0 keeps the agent's; checked like the agent keys (`AgentPatch`).
const MAX_TURNS: Integer = Integer::as_given("max_turns", 0, "");
const EFFORT: Text = Text::optional("effort", "low-max.");
const FALLBACK_MODEL: Text = Text::optional("fallback_model", "");

/// The parameters every dispatch tool takes, decoded by `ask_args`.
const ASK: &[Param] = &[
    Param::Text(AGENT),
    Param::Text(TASK),
    Param::Text(CONTEXT),
    Param::Text(CALLER),
    Param::Text(GOAL),
    Param::Text(RESPONSE_FORMAT),
    Param::Integer(TIMEOUT_SECONDS),
    Param::Integer(MAX_TURNS),
    Param::Text(EFFORT),
    Param::Text(FALLBACK_MODEL),
];

const GROUP: Text = Text::optional("group", "Adds the group's shared context.");
const RETURN_REF: Boolean =
    Boolean::new("return_ref", false).described("A ref + summary; fetch_result has the rest.");
/// Also the bounds of a `dispatch_parallel` item's `summary_chars`.
const SUMMARY_CHARS: Integer =
    Integer::clamped("summary_chars", 500, 0..=100_000, "With return_ref.");
const DISPATCH: Params = &[
    ASK,
    &[
        Param::Text(GROUP),
        Param::Boolean(RETURN_REF),
        Param::Integer(SUMMARY_CHARS),
    ],
];

const SESSION_ID: Text = Text::optional("session_id", "To continue; empty starts one.");
const DISPATCH_SESSION: Params = &[ASK, &[Param::Text(SESSION_ID)]];

/// `dispatch_stream` and `dispatch_async` take the shared set alone.
pub(super) const ASK_ONLY: Params = &[ASK];

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "dispatch",
            description: "Delegate a task to an agent: a claude/codex/gemini/opencode session in its project (instructions, MCP servers, tools) answers. Check `outcome` (done/partial/blocked) and `hint`. Repeats may be cached (`cached: true`). A timeout returns a session_id to resume. max_turns, effort, fallback_model: claude only.",
            params: DISPATCH,
            kind: Kind::Dispatch,
            body: Body::Dispatch(prepare_dispatch),
        },
        Tool {
            name: "dispatch_session",
            description: "A conversation with an agent: no session_id starts one; pass the returned session_id to continue (also a timed-out dispatch: task='Continue where you left off'). Never cached.",
            params: DISPATCH_SESSION,
            kind: Kind::Dispatch,
            body: Body::Dispatch(prepare_session),
        },
        Tool {
            name: "dispatch_stream",
            description: "Like dispatch, for long tasks: the agent's steps arrive as progress notifications. A fresh session; never cached.",
            params: ASK_ONLY,
            kind: Kind::Dispatch,
            body: Body::Dispatch(prepare_stream),
        },
    ]
}

/// The fields every dispatch tool takes.
pub(super) struct AskArgs {
    pub(super) agent: String,
    pub(super) task: String,
    pub(super) context: String,
    pub(super) caller: String,
    pub(super) goal: String,
    pub(super) response_format: String,
    pub(super) timeout: Option<u64>,
    max_turns: i64,
    effort: String,
    fallback_model: String,
}

impl AskArgs {
    /// The dispatch these arguments ask for, with `context` as the
    /// effective context (a group's shared facts already merged in).
    pub(super) fn dispatch<'a>(
        &'a self,
        agent: &'a Agent,
        settings: &'a Settings,
        context: &'a str,
        resume: Option<&'a str>,
        mode: OutputMode,
    ) -> Dispatch<'a> {
        Dispatch {
            agent_name: &self.agent,
            agent,
            backend: backends::of(agent, settings),
            settings,
            ask: Ask {
                task: &self.task,
                context,
                caller: &self.caller,
                goal: &self.goal,
                response_format: &self.response_format,
            },
            resume,
            timeout_secs: self.timeout,
            mode,
        }
    }

    /// `agent` with this call's run controls over its own, checked as the
    /// agent keys of the same names are.
    fn run_by(&self, agent: &Agent) -> Result<Agent, FieldError> {
        let mut patch = AgentPatch::default();
        if self.max_turns != 0 {
            patch.set(
                Field::MaxTurns,
                MAX_TURNS.name,
                Given::Integer(self.max_turns),
            )?;
        }
        for (field, param, text) in [
            (Field::Effort, EFFORT, &self.effort),
            (Field::FallbackModel, FALLBACK_MODEL, &self.fallback_model),
        ] {
            if !text.trim().is_empty() {
                patch.set(field, param.name, Given::Text(text))?;
            }
        }
        let mut agent = agent.clone();
        patch.apply(&mut agent);
        Ok(agent)
    }
}

pub(super) fn ask_args(args: &mut Args) -> Result<AskArgs, ArgError> {
    Ok(AskArgs {
        agent: args.text(&AGENT)?,
        task: args.text(&TASK)?,
        context: args.text(&CONTEXT)?,
        caller: args.text(&CALLER)?,
        goal: args.text(&GOAL)?,
        response_format: compact_schema(&args.text(&RESPONSE_FORMAT)?).map_err(|_| {
            ArgError::WrongType {
                name: RESPONSE_FORMAT.name.to_owned(),
                expected: "\"json\" or a JSON Schema (a JSON object)",
            }
        })?,
        timeout: per_call_timeout(args.integer(&TIMEOUT_SECONDS)?),
        max_turns: args.integer(&MAX_TURNS)?,
        effort: args.text(&EFFORT)?,
        fallback_model: args.text(&FALLBACK_MODEL)?,
    })
}

/// `0` or less: the agent's own timeout; otherwise clamped to 10-7200.
pub(super) fn per_call_timeout(seconds: i64) -> Option<u64> {
    // The floor may be lowered for the test suite (debug builds only).
    let floor = crate::tunables::count("AGENT_DISPATCH_TEST_MIN_TIMEOUT_SECS", MIN_TIMEOUT as u64);
    (seconds > 0).then(|| seconds.clamp(floor as i64, MAX_TIMEOUT) as u64)
}

/// Runs one dispatch through the server's dispatch path; only one-shot
/// JSON dispatches (`cached`) may be answered from the cache.
pub(super) fn run(
    call: &Call,
    tool: &str,
    d: Dispatch,
    cached: bool,
    progress: Option<runner::Progress>,
) -> Answer {
    call.state.dispatcher.run(
        Request {
            what: tool,
            dispatch: d,
            cached,
            progress,
        },
        call.cancel,
    )
}

/// The `return_ref` summary length: `summary_chars`'s default when not
/// given, clamped to its bounds.
pub(super) fn summary_chars(requested: Option<i64>) -> usize {
    SUMMARY_CHARS.bounded(requested.unwrap_or(SUMMARY_CHARS.default)) as usize
}

/// A dispatch call decoded and checked, owning all its run needs: it runs
/// here (`run_here`) or as a background job (`jobs::start_job`: a task or
/// `dispatch_async`) the same way.
pub struct Prepared {
    /// The tool called.
    pub tool: &'static str,
    pub(super) ask: AskArgs,
    /// The agent with the call's run controls applied.
    agent: Agent,
    config: Arc<Config>,
    /// The effective context, a group's shared facts merged in.
    context: String,
    resume: Option<String>,
    mode: OutputMode,
    /// Whether the result cache may answer (one-shot `dispatch` only).
    pub(super) cached: bool,
    /// `return_ref`'s summary length, when the answer is a ref.
    pub(super) return_ref: Option<usize>,
}

/// How a tool decodes and checks a call before it runs: the call's
/// `Prepared` dispatch, or the envelope that answers it at once.
pub type Prepare = fn(&mut Call) -> Result<Result<Prepared, ToolResult>, ArgError>;

impl Prepared {
    pub(super) fn dispatch(&self) -> Dispatch<'_> {
        self.ask.dispatch(
            &self.agent,
            &self.config.settings,
            &self.context,
            self.resume.as_deref(),
            self.mode,
        )
    }

    /// The agent's steps for `progress`, each marked with the agent's
    /// name (stream mode only: a JSON-mode run has no steps to tell).
    pub fn steps_to(&self, progress: Option<&Progress>) -> Option<runner::Progress> {
        let progress = progress
            .filter(|_| self.mode == OutputMode::Stream)?
            .clone();
        let agent = self.ask.agent.clone();
        Some(Arc::new(move |message: &str| {
            progress.report(&format!("[{agent}] {message}"));
        }))
    }

    /// Runs the dispatch on this call's thread, with its cancellation and
    /// (stream mode) its progress.
    pub(super) fn run_here(&self, call: &Call) -> ToolResult {
        let progress = self.steps_to(call.progress);
        let d = self.dispatch();
        let answer = run(call, self.tool, d, self.cached, progress);
        self::answer(call, &answer, &d, self.return_ref)
    }
}

/// Decodes the arguments every dispatch tool takes (after the tool's own,
/// all of them consumed) and checks them against the config: the agent
/// exists, the run controls are valid, the group (if any) has it.
fn prepare(
    call: &mut Call,
    tool: &'static str,
    ask: AskArgs,
    group: &str,
    resume: Option<String>,
    mode: OutputMode,
) -> Result<Result<Prepared, ToolResult>, ArgError> {
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(Err(envelope)),
    };
    let Some(agent) = config.agents.get(&ask.agent) else {
        return Ok(Err(unknown_agent(&ask.agent, &config)));
    };
    let agent = ask.run_by(agent).map_err(ArgError::Invalid)?;
    // Refused here as the runner would, so a job (a task, dispatch_async)
    // is never recorded for a run that cannot happen.
    if let Err(problem) = unsupported::check(
        backends::of(&agent, &config.settings),
        &agent,
        &config.settings,
    ) {
        return Ok(Err(ToolResult::dispatch(&runner::preflight::unsupported(
            &ask.agent, &problem,
        ))));
    }
    let context = match group_context(&config, group, &ask.agent, &ask.context) {
        Ok(context) => context,
        Err(envelope) => return Ok(Err(envelope)),
    };
    Ok(Ok(Prepared {
        tool,
        ask,
        agent,
        config,
        context,
        resume,
        mode,
        cached: false,
        return_ref: None,
    }))
}

fn prepare_dispatch(call: &mut Call) -> Result<Result<Prepared, ToolResult>, ArgError> {
    let ask = ask_args(&mut call.args)?;
    let group = call.args.text(&GROUP)?;
    let return_ref = call.args.boolean(&RETURN_REF)?;
    let chars = call.args.integer(&SUMMARY_CHARS)? as usize;
    let prepared = prepare(call, "dispatch", ask, &group, None, OutputMode::Json)?;
    Ok(prepared.map(|prepared| Prepared {
        cached: true,
        return_ref: return_ref.then_some(chars),
        ..prepared
    }))
}

fn prepare_session(call: &mut Call) -> Result<Result<Prepared, ToolResult>, ArgError> {
    let ask = ask_args(&mut call.args)?;
    let session = call.args.text(&SESSION_ID)?;
    let resume = (!session.is_empty()).then_some(session);
    prepare(call, "dispatch_session", ask, "", resume, OutputMode::Json)
}

/// `dispatch_stream`'s call; `dispatch_async` takes the same one.
pub(super) fn prepare_stream(call: &mut Call) -> Result<Result<Prepared, ToolResult>, ArgError> {
    let ask = ask_args(&mut call.args)?;
    prepare(call, "dispatch_stream", ask, "", None, OutputMode::Stream)
}

/// The client's answer to a one-shot dispatch: the result itself, or with
/// `return_ref` (`Some(summary_chars)`) a stored record of it and a short
/// ref payload. A cache hit gets a record of its own, as a fresh run would.
pub(super) fn answer(
    call: &Call,
    run: &Answer,
    d: &Dispatch,
    return_ref: Option<usize>,
) -> ToolResult {
    let Some(chars) = return_ref else {
        return shown(&run.result, run.cached, None);
    };
    let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let stored = call.state.jobs.store().create_completed(
        d.agent_name,
        d.ask.task,
        &run.result,
        given(d.ask.context),
        given(d.ask.caller),
        given(d.ask.goal),
    );
    match stored {
        Ok(job) => shown(&run.result, run.cached, Some((&job.id, chars))),
        // The paid answer is not lost to a storage failure: it is returned
        // in full, with the reason it has no ref.
        Err(err) => {
            let mut full = shown(&run.result, run.cached, None);
            full.value["ref_error"] = json!(format!(
                "the result could not be stored for return_ref: {err}"
            ));
            full
        }
    }
}

/// A dispatch's answer as the client sees it, whether the call ran it or a
/// job did: the result, or with a ref (`job id, summary_chars`) a short ref
/// payload; a cache hit ends with `"cached": true`.
pub(super) fn shown(
    result: &DispatchResult,
    cached: bool,
    reference: Option<(&str, usize)>,
) -> ToolResult {
    let mut shown = match reference {
        Some((id, chars)) => ToolResult {
            value: super::jobs::ref_payload(id, result, chars),
            is_error: !result.success,
        },
        None => ToolResult::dispatch(result),
    };
    if cached {
        shown.value["cached"] = json!(true);
    }
    shown
}

/// The context a dispatch gets: with a group, the group's shared facts
/// merged in after checking the agent belongs to it; without, as given.
pub(super) fn group_context(
    config: &crate::config::Config,
    group_name: &str,
    agent: &str,
    context: &str,
) -> Result<String, ToolResult> {
    if group_name.is_empty() {
        return Ok(context.to_owned());
    }
    let Some(group) = config.groups.get(group_name) else {
        return Err(unknown_group(group_name, config));
    };
    if group.members.is_empty() {
        return Err(ToolResult::error(format!(
            "Group {} has no members yet. Add some with 'agent-dispatch group add' or by editing agents.yaml.",
            repr_str(group_name)
        )));
    }
    if !group.has_member(agent) {
        let members: Vec<&str> = group.members.iter().map(|m| m.agent.as_str()).collect();
        return Err(ToolResult::error(format!(
            "Agent {} is not a member of group {}. Members: {}",
            repr_str(agent),
            repr_str(group_name),
            members.join(", ")
        )));
    }
    Ok(group.merge_context(group_name, context))
}
