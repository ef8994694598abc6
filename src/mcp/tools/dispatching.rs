//! `dispatch`, `dispatch_session`, `dispatch_stream`: hand a task to an
//! agent and wait for its answer. Every run goes through the server's one
//! dispatch path (`crate::dispatch`); `dispatch` may be answered from the
//! result cache; `dispatch_stream` forwards the agent's progress.

use std::sync::Arc;

use serde_json::{Value, json};

use super::args::{ArgError, Args};
use super::discovery::unknown_group;
use super::{Call, Kind, Tool, ToolResult, schema, unknown_agent};
use crate::config::{Agent, Settings};
use crate::dispatch::{Answer, Request};
use crate::pyfmt::repr_str;
use crate::runner::{self, Ask, Dispatch, OutputMode, backends};

/// The bounds of a per-call `timeout_seconds`.
const MIN_TIMEOUT: i64 = 10;
const MAX_TIMEOUT: i64 = 7200;

/// The arguments every dispatch tool takes. Optional strings carry no
/// `default` (empty is implied): every byte here is resent to the model on
/// each `tools/list`.
pub(super) fn ask_properties() -> Value {
    json!({
        "agent": {"type": "string", "description": "From list_agents."},
        "task": {"type": "string", "description": "What to do."},
        "context": {"type": "string", "description": "Facts it lacks."},
        "caller": {"type": "string", "description": "Your project."},
        "goal": {"type": "string", "description": "Why you ask."},
        "response_format": {"type": "string", "description": "\"json\": parse the answer."},
        "timeout_seconds": {"type": "integer", "default": 0, "description": "10-7200; 0 = agent's."},
    })
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "dispatch",
            description: "Delegate a task to an agent: a Claude Code session in that project's directory (its CLAUDE.md, MCP servers, tools) returns its answer. Check `outcome` (done/partial/blocked) and `hint`. Identical repeats come from a cache (`cached: true`). A timeout returns a session_id for dispatch_session.",
            schema: || {
                let mut props = ask_properties();
                props["group"] =
                    json!({"type": "string", "description": "Adds the group's shared context."});
                props["return_ref"] = json!({"type": "boolean", "default": false, "description": "Return a ref + summary; fetch_result has the rest."});
                props["summary_chars"] =
                    json!({"type": "integer", "default": 500, "description": "With return_ref."});
                schema(props, &["agent", "task"])
            },
            kind: Kind::Dispatch,
            run: dispatch,
        },
        Tool {
            name: "dispatch_session",
            description: "Multi-turn conversation with an agent. Without session_id a new session starts; pass the returned session_id to continue it (also the way to resume a timed-out dispatch: task='Continue where you left off'). Never cached.",
            schema: || {
                let mut props = ask_properties();
                props["session_id"] =
                    json!({"type": "string", "description": "To continue; empty starts one."});
                schema(props, &["agent", "task"])
            },
            kind: Kind::Dispatch,
            run: dispatch_session,
        },
        Tool {
            name: "dispatch_stream",
            description: "Like dispatch, for long tasks: the agent's steps (its messages, \"Using tool: X\") arrive as progress notifications while it works. Always a fresh session; never cached.",
            schema: || schema(ask_properties(), &["agent", "task"]),
            kind: Kind::Dispatch,
            run: dispatch_stream,
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
            backend: backends::of(agent),
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
}

pub(super) fn ask_args(args: &mut Args) -> Result<AskArgs, ArgError> {
    Ok(AskArgs {
        agent: args.string("agent")?,
        task: args.string("task")?,
        context: args.string_or_empty("context")?,
        caller: args.string_or_empty("caller")?,
        goal: args.string_or_empty("goal")?,
        response_format: args.string_or_empty("response_format")?,
        timeout: per_call_timeout(args.integer("timeout_seconds", 0, i64::MIN, i64::MAX)?),
    })
}

/// `0` or less: the agent's own timeout; otherwise clamped to 10-7200.
pub(super) fn per_call_timeout(seconds: i64) -> Option<u64> {
    (seconds > 0).then(|| seconds.clamp(MIN_TIMEOUT, MAX_TIMEOUT) as u64)
}

/// Runs one dispatch through the server's dispatch path; only one-shot
/// JSON dispatches (`cached`) may be answered from the cache.
pub(super) fn run(
    call: &Call,
    d: Dispatch,
    cached: bool,
    progress: Option<runner::Progress>,
) -> Answer {
    call.state.dispatcher.run(
        Request {
            dispatch: d,
            cached,
            progress,
        },
        call.cancel,
    )
}

/// The `return_ref` summary length: default 500, clamped to 0-100000.
pub(super) fn summary_chars(requested: Option<i64>) -> usize {
    requested.unwrap_or(500).clamp(0, 100_000) as usize
}

fn dispatch(mut call: Call) -> Result<ToolResult, ArgError> {
    let ask = ask_args(&mut call.args)?;
    let group_name = call.args.string_or_empty("group")?;
    let return_ref = call.args.boolean("return_ref", false)?;
    let chars = summary_chars(Some(call.args.integer(
        "summary_chars",
        500,
        i64::MIN,
        i64::MAX,
    )?));
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    let Some(agent) = config.agents.get(&ask.agent) else {
        return Ok(unknown_agent(&ask.agent, &config));
    };
    let context = match group_context(&config, &group_name, &ask.agent, &ask.context) {
        Ok(context) => context,
        Err(envelope) => return Ok(envelope),
    };
    let d = ask.dispatch(agent, &config.settings, &context, None, OutputMode::Json);
    let run = run(&call, d, true, None);
    Ok(answer(&call, &run, &d, return_ref.then_some(chars)))
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
        return answer_result(run);
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
        Ok(job) => {
            let mut payload = super::jobs::ref_payload(&job.id, &run.result, chars);
            if run.cached {
                payload["cached"] = json!(true);
            }
            ToolResult {
                value: payload,
                is_error: !run.result.success,
            }
        }
        // The paid answer is not lost to a storage failure: it is returned
        // in full, with the reason it has no ref.
        Err(err) => {
            let mut full = answer_result(run);
            full.value["ref_error"] = json!(format!(
                "the result could not be stored for return_ref: {err}"
            ));
            full
        }
    }
}

/// The answer as the client sees it: a cache hit ends with
/// `"cached": true`.
pub(super) fn answer_result(run: &Answer) -> ToolResult {
    let mut value = ToolResult::dispatch(&run.result);
    if run.cached {
        value.value["cached"] = json!(true);
    }
    value
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

fn dispatch_session(mut call: Call) -> Result<ToolResult, ArgError> {
    let ask = ask_args(&mut call.args)?;
    let session = call.args.string_or_empty("session_id")?;
    call.args.finish()?;
    run_uncached(
        &call,
        &ask,
        (!session.is_empty()).then_some(session.as_str()),
        OutputMode::Json,
    )
}

fn dispatch_stream(mut call: Call) -> Result<ToolResult, ArgError> {
    let ask = ask_args(&mut call.args)?;
    call.args.finish()?;
    run_uncached(&call, &ask, None, OutputMode::Stream)
}

fn run_uncached(
    call: &Call,
    ask: &AskArgs,
    resume: Option<&str>,
    mode: OutputMode,
) -> Result<ToolResult, ArgError> {
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    let Some(agent) = config.agents.get(&ask.agent) else {
        return Ok(unknown_agent(&ask.agent, &config));
    };
    let d = ask.dispatch(agent, &config.settings, &ask.context, resume, mode);
    let progress = match (mode, call.progress) {
        (OutputMode::Stream, Some(progress)) => {
            let progress = progress.clone();
            let agent = ask.agent.clone();
            Some(
                Arc::new(move |message: &str| progress.report(&format!("[{agent}] {message}")))
                    as runner::Progress,
            )
        }
        _ => None,
    };
    Ok(ToolResult::dispatch(&run(call, d, false, progress).result))
}
