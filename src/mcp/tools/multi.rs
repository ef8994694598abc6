//! `dispatch_parallel` and `dispatch_dialogue`: the tools that make several
//! dispatches for one call. Parallel validates every item before anything
//! runs, runs the items concurrently through the shared limiter and the
//! result cache (both via `dispatching`), keeps the caller's order, and can
//! hand the collected answers to an aggregator agent. Dialogue alternates
//! two agents, each in its own resumed session, until one of them marks
//! the topic resolved. Item fields follow the original's Python semantics
//! (`int()` for numbers, truthiness for the optional fields); the helpers
//! for those live at the bottom of this file.

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use serde_json::{Map, Value, json};

use super::args::ArgError;
use super::dispatching::{answer, group_context, per_call_timeout, run, summary_chars};
use super::params::{Bounds, Integer, Param, Params, Text};
use super::{Call, Kind, Tool, ToolResult, unknown_agent};
use crate::config::{Agent, Config};
use crate::dispatch::Answer;
use crate::pyfmt::{repr_float, repr_str};
use crate::pyvalue;
use crate::runner::{Ask, Dispatch, DispatchResult, ErrorType, Outcome, OutputMode, backends};

/// Items allowed per call: at least this many, more with a higher
/// `max_concurrency` (twenty per slot).
const MIN_ITEM_LIMIT: u64 = 100;
const ITEMS_PER_SLOT: u64 = 20;

const AGGREGATE_TASK: &str = "Synthesize the results below into a single coherent answer. Highlight key findings, note any conflicts between agents, and provide actionable conclusions.";
const AGGREGATE_CALLER: &str = "dispatch_parallel";
const AGGREGATE_GOAL: &str = "aggregate parallel dispatch results";

/// The marker an agent ends a dialogue reply with when it is done.
const RESOLVED: &str = "[RESOLVED]";
/// The topic as a dialogue turn's `goal` is cut to this many chars.
const GOAL_CHARS: usize = 200;
/// How much of a turn's answer its progress message shows.
const TURN_PREVIEW_CHARS: usize = 120;

const DISPATCHES: Text = Text::required("dispatches", "JSON array of dispatch items, as a string.");
const AGGREGATE: Text = Text::optional(
    "aggregate",
    "Agent that combines the results; empty for none.",
);
const DISPATCH_PARALLEL: Params = &[&[Param::Text(DISPATCHES), Param::Text(AGGREGATE)]];

const REQUESTER: Text = Text::required("requester", "Agent that poses the topic and answers back.");
const RESPONDER: Text = Text::required("responder", "Agent that speaks first.");
const TOPIC: Text = Text::required("topic", "What to work out.");
const MAX_ROUNDS: Integer = Integer {
    name: "max_rounds",
    default: 3,
    bounds: Bounds::Clamped {
        min: 1,
        max: 10,
        in_schema: false,
    },
    description: "Rounds of two turns, 1-10 (clamped).",
};
const DISPATCH_DIALOGUE: Params = &[&[
    Param::Text(REQUESTER),
    Param::Text(RESPONDER),
    Param::Text(TOPIC),
    Param::Integer(MAX_ROUNDS),
]];

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "dispatch_parallel",
            description: "Run several dispatches at once (within max_concurrency); results in input order. `dispatches`: a JSON array string of {agent, task, context?, caller?, goal?, response_format?, timeout_seconds?, group?, return_ref?, summary_chars?}. All are validated before any runs. `aggregate`: an agent that synthesizes the results.",
            params: DISPATCH_PARALLEL,
            kind: Kind::Dispatch,
            run: dispatch_parallel,
        },
        Tool {
            name: "dispatch_dialogue",
            description: "Two agents work a topic out: the responder first, then they alternate (each in its own session) until a reply says [RESOLVED] or max_rounds pass. Returns resolved, final_answer, totals and the conversation.",
            params: DISPATCH_DIALOGUE,
            kind: Kind::Dispatch,
            run: dispatch_dialogue,
        },
    ]
}

// ---------------------------------------------------------------------------
// dispatch_parallel

/// One validated item, resolved against the config it will run with.
struct Item<'c> {
    agent_name: String,
    agent: &'c Agent,
    task: String,
    /// Effective context: the group's shared facts already merged in.
    context: String,
    caller: String,
    goal: String,
    response_format: String,
    timeout: Option<u64>,
    /// `return_ref`: answer with a stored ref and this long a summary.
    reference: Option<usize>,
}

fn dispatch_parallel(mut call: Call) -> Result<ToolResult, ArgError> {
    let dispatches = call.args.text(&DISPATCHES)?;
    let aggregate = call.args.text(&AGGREGATE)?;
    call.args.finish()?;
    let list = match parse_list(&dispatches) {
        Ok(list) => list,
        Err(envelope) => return Ok(envelope),
    };
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    let items = match validate_items(&config, &list) {
        Ok(items) => items,
        Err(envelope) => return Ok(envelope),
    };
    let aggregator = if aggregate.is_empty() {
        None
    } else {
        match config.agents.get(&aggregate) {
            Some(agent) => Some(agent),
            None => return Ok(unknown_agent(&aggregate, &config)),
        }
    };

    let runs = run_items(&call, &config, &items);
    let individual: Vec<Value> = runs
        .iter()
        .zip(&items)
        .map(|(run, item)| answer(&call, run, &item_dispatch(&config, item), item.reference).value)
        .collect();
    let Some(aggregator) = aggregator else {
        return Ok(ToolResult::ok(Value::Array(individual)));
    };
    if let Some(progress) = call.progress {
        progress.report(&format!("Aggregating results via {aggregate}"));
    }
    let sections = aggregate_context(runs.iter().map(|run| &run.result));
    let d = Dispatch {
        agent_name: &aggregate,
        agent: aggregator,
        backend: backends::of(aggregator),
        settings: &config.settings,
        ask: Ask {
            task: AGGREGATE_TASK,
            context: &sections,
            caller: AGGREGATE_CALLER,
            goal: AGGREGATE_GOAL,
            response_format: "",
        },
        resume: None,
        timeout_secs: None,
        mode: OutputMode::Json,
    };
    // The aggregator is never cached: its input is this call's fresh (or
    // freshly cached) answers, and the original never cached it either.
    let aggregated = ToolResult::dispatch(&run(&call, d, false, None).result).value;
    Ok(ToolResult::ok(json!({
        "individual_results": individual,
        "aggregated": aggregated,
    })))
}

/// Steps 1 and 2 of the up-front validation: the string is a JSON array
/// with at least one element.
fn parse_list(text: &str) -> Result<Vec<Value>, ToolResult> {
    // Strict JSON: `NaN`/`Infinity` (which Python accepted and then failed
    // to convert) are rejected here, so they can never reach a number field.
    let value: Value = serde_json::from_str(text)
        .map_err(|err| ToolResult::error(format!("Invalid JSON in dispatches: {err}")))?;
    match value {
        Value::Array(list) if !list.is_empty() => Ok(list),
        _ => Err(ToolResult::error(
            "dispatches must be a non-empty JSON array",
        )),
    }
}

/// Steps 3 and 4: the item limit, then every item in order; the first
/// problem found rejects the whole call.
fn validate_items<'c>(config: &'c Config, list: &[Value]) -> Result<Vec<Item<'c>>, ToolResult> {
    let limit = MIN_ITEM_LIMIT.max(
        config
            .settings
            .max_concurrency
            .saturating_mul(ITEMS_PER_SLOT),
    );
    if list.len() as u64 > limit {
        return Err(ToolResult::error(format!(
            "Too many dispatches: {} > {limit}. Split into multiple calls or raise settings.max_concurrency.",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, value)| validate_item(config, i, value))
        .collect()
}

fn validate_item<'c>(config: &'c Config, i: usize, value: &Value) -> Result<Item<'c>, ToolResult> {
    let Value::Object(fields) = value else {
        return Err(ToolResult::error(format!(
            "dispatches[{i}] must be an object, got {}",
            py_type_name(value)
        )));
    };
    // Present-but-null counts as present here, as in the original: it then
    // fails the string check below with the more precise message.
    let (Some(agent_name), Some(task)) = (fields.get("agent"), fields.get("task")) else {
        return Err(ToolResult::error(format!(
            "dispatches[{i}] must have 'agent' and 'task' keys"
        )));
    };
    let (Value::String(agent_name), Value::String(task)) = (agent_name, task) else {
        return Err(ToolResult::error(format!(
            "dispatches[{i}].agent and .task must be strings"
        )));
    };
    let Some(agent) = config.agents.get(agent_name) else {
        return Err(unknown_agent(agent_name, config));
    };
    let group = truthy_text(fields, "group");
    let context = group_context(config, &group, agent_name, &truthy_text(fields, "context"))?;
    let timeout = number_field(fields, i, "timeout_seconds")?.unwrap_or(0);
    let chars = summary_chars(number_field(fields, i, "summary_chars")?);
    let reference = fields
        .get("return_ref")
        .is_some_and(pyvalue::truthy)
        .then_some(chars);
    Ok(Item {
        agent_name: agent_name.clone(),
        agent,
        task: task.clone(),
        context,
        caller: truthy_text(fields, "caller"),
        goal: truthy_text(fields, "goal"),
        response_format: truthy_text(fields, "response_format"),
        timeout: per_call_timeout(timeout),
        reference,
    })
}

/// An optional numeric item field: absent or `null` is `None`; anything
/// Python's `int()` accepts is its value; the rest rejects the call.
fn number_field(
    fields: &Map<String, Value>,
    i: usize,
    name: &str,
) -> Result<Option<i64>, ToolResult> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => py_int(value).map(Some).ok_or_else(|| {
            ToolResult::error(format!(
                "dispatches[{i}].{name} must be a number, got {}",
                py_repr(value)
            ))
        }),
    }
}

/// An optional text item field the original took as "truthy or None": a
/// falsy value (`""`, `0`, `false`, `[]`, …) is no value, and a truthy
/// non-string is used as Python's `str()` of it.
fn truthy_text(fields: &Map<String, Value>, name: &str) -> String {
    match fields.get(name) {
        Some(Value::String(text)) => text.clone(),
        Some(value) if pyvalue::truthy(value) => py_repr(value),
        _ => String::new(),
    }
}

/// Runs every item and returns the answers in input order.
///
/// A fixed set of workers (this thread plus up to `max_concurrency - 1`
/// helpers) take items in order. More workers could only wait in the
/// limiter's queue, since it never lets this call run more than
/// `max_concurrency` processes, so a 100-item call costs a handful of
/// threads, not a hundred parked ones.
fn run_items(call: &Call, config: &Config, items: &[Item]) -> Vec<Answer> {
    let total = items.len();
    let workers = usize::try_from(config.settings.max_concurrency)
        .unwrap_or(usize::MAX)
        .clamp(1, total.max(1));
    let next = AtomicUsize::new(0);
    let finished = AtomicU64::new(0);
    let slots: Vec<OnceLock<Answer>> = items.iter().map(|_| OnceLock::new()).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let run = run_caught(&item.agent_name, || run_item(call, config, item));
            if let Some(progress) = call.progress {
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                progress.report_count(done, total as u64, &item_progress(done, total, &run));
            }
            let _ = slots[i].set(run);
        }
    };
    thread::scope(|scope| {
        for n in 1..workers {
            // A helper that cannot be started only means fewer workers:
            // this thread works through the items too.
            let _ = thread::Builder::new()
                .name(format!("parallel-{n}"))
                .spawn_scoped(scope, work);
        }
        work();
    });
    slots
        .into_iter()
        .zip(items)
        .map(|(slot, item)| {
            // Every index below `total` was taken by exactly one worker, and
            // workers never unwind (`run_caught`), so each slot is filled.
            slot.into_inner().unwrap_or_else(|| Answer {
                result: DispatchResult::failure(
                    &item.agent_name,
                    ErrorType::CliError,
                    "The dispatch did not run.".into(),
                ),
                cached: false,
            })
        })
        .collect()
}

fn run_item(call: &Call, config: &Config, item: &Item) -> Answer {
    run(call, item_dispatch(config, item), true, None)
}

fn item_dispatch<'a>(config: &'a Config, item: &'a Item) -> Dispatch<'a> {
    Dispatch {
        agent_name: &item.agent_name,
        agent: item.agent,
        backend: backends::of(item.agent),
        settings: &config.settings,
        ask: Ask {
            task: &item.task,
            context: &item.context,
            caller: &item.caller,
            goal: &item.goal,
            response_format: &item.response_format,
        },
        resume: None,
        timeout_secs: item.timeout,
        mode: OutputMode::Json,
    }
}

/// Runs one item so that a panic becomes that item's failed result (as an
/// exception did in the original) instead of taking the call down.
fn run_caught(agent: &str, run: impl FnOnce() -> Answer) -> Answer {
    panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Answer {
            result: DispatchResult::failure(
                agent,
                ErrorType::CliError,
                format!(
                    "Internal error while dispatching to {}: {message}",
                    repr_str(agent)
                ),
            ),
            cached: false,
        }
    })
}

/// `[2/5] api: ok` — which item finished and how.
fn item_progress(done: u64, total: usize, run: &Answer) -> String {
    let result = &run.result;
    let how = match (&result.error_type, result.success) {
        (_, true) if run.cached => "ok (cached)".to_owned(),
        (_, true) => "ok".to_owned(),
        (Some(error_type), false) => format!("failed ({})", error_type.as_str()),
        (None, false) => "failed".to_owned(),
    };
    format!("[{done}/{total}] {}: {how}", result.agent)
}

/// The aggregator's context: one `## Agent: <name> [<status>]` section per
/// item, in input order.
fn aggregate_context<'a>(results: impl Iterator<Item = &'a DispatchResult>) -> String {
    results
        .map(|result| {
            let mut status = if result.success { "OK" } else { "FAILED" }.to_owned();
            if let Some(outcome) = result.outcome.filter(|o| *o != Outcome::Done) {
                status.push_str(", agent reports ");
                status.push_str(&outcome.as_str().to_uppercase());
            }
            let body = if result.result.is_empty() {
                result.error.as_deref().unwrap_or("")
            } else {
                &result.result
            };
            format!("## Agent: {} [{status}]\n{body}", result.agent)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

// ---------------------------------------------------------------------------
// dispatch_dialogue

/// One side of a dialogue and the session it continues.
struct Speaker<'c> {
    name: String,
    agent: &'c Agent,
    role: &'static str,
    session: Option<String>,
}

fn dispatch_dialogue(mut call: Call) -> Result<ToolResult, ArgError> {
    let requester = call.args.text(&REQUESTER)?;
    let responder = call.args.text(&RESPONDER)?;
    let topic = call.args.text(&TOPIC)?;
    let max_rounds = call.args.integer(&MAX_ROUNDS)?;
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    // The responder speaks first, but the requester is checked first.
    let Some(requester_agent) = config.agents.get(&requester) else {
        return Ok(unknown_agent(&requester, &config));
    };
    let Some(responder_agent) = config.agents.get(&responder) else {
        return Ok(unknown_agent(&responder, &config));
    };
    // In speaking order. Each side keeps its own session even when both
    // are the same agent: they are two voices, not one.
    let mut speakers = [
        Speaker {
            name: responder,
            agent: responder_agent,
            role: "responder",
            session: None,
        },
        Speaker {
            name: requester,
            agent: requester_agent,
            role: "requester",
            session: None,
        },
    ];

    let goal = crate::chars::prefix(&topic, GOAL_CHARS);
    let mut conversation: Vec<Value> = Vec::new();
    let mut last_message = String::new();
    let (mut resolved, mut final_answer) = (false, String::new());
    let (mut total_cost, mut total_duration, mut rounds) = (0.0_f64, 0_u64, 0_i64);
    'rounds: for round in 1..=max_rounds {
        for turn in 0..2 {
            let other = speakers[1 - turn].name.clone();
            let speaker = &mut speakers[turn];
            let task = if round == 1 && turn == 0 {
                opening_prompt(&other, &topic)
            } else {
                reply_prompt(&other, &last_message)
            };
            let d = Dispatch {
                agent_name: &speaker.name,
                agent: speaker.agent,
                backend: backends::of(speaker.agent),
                settings: &config.settings,
                ask: Ask {
                    task: &task,
                    context: "",
                    caller: &other,
                    goal,
                    response_format: "",
                },
                resume: speaker.session.as_deref(),
                timeout_secs: None,
                mode: OutputMode::Json,
            };
            let result = run(&call, d, false, None).result;
            speaker.session = result.session_id.clone();
            total_cost += result.cost_usd.unwrap_or(0.0);
            total_duration = total_duration.saturating_add(result.duration_ms.unwrap_or(0));
            rounds = round;
            if let Some(progress) = call.progress {
                let shown = if result.success {
                    &result.result
                } else {
                    result.error.as_deref().unwrap_or("")
                };
                let preview = crate::chars::prefix(shown, TURN_PREVIEW_CHARS);
                progress.report(&format!("[round {round}] {}: {preview}", speaker.name));
            }
            conversation.push(turn_entry(speaker, round, &result));
            let marked = result.result.contains(RESOLVED);
            if marked || !result.success {
                resolved = marked;
                final_answer = match result.error.as_deref() {
                    Some(error) if !result.success && !error.is_empty() => error.to_owned(),
                    _ => result.result.replace(RESOLVED, "").trim().to_owned(),
                };
                break 'rounds;
            }
            last_message = result.result;
        }
    }
    if final_answer.is_empty()
        && let Some(message) = conversation
            .last()
            .and_then(|entry| entry["message"].as_str())
    {
        final_answer = message.to_owned();
    }
    Ok(ToolResult::ok(json!({
        "resolved": resolved,
        "rounds": rounds,
        "total_cost_usd": round4(total_cost),
        "total_duration_ms": total_duration,
        "final_answer": final_answer,
        "conversation": conversation,
    })))
}

fn opening_prompt(requester: &str, topic: &str) -> String {
    format!(
        "You are starting a collaborative dialogue with agent '{requester}'.\nProvide your analysis or ask questions. When you have a complete answer and no further questions, end your response with {RESOLVED}.\n\nTopic:\n{topic}"
    )
}

fn reply_prompt(other: &str, message: &str) -> String {
    format!(
        "Agent '{other}' responds:\n\n{message}\n\nContinue the discussion. If you have a complete answer and no further questions, end your response with {RESOLVED}."
    )
}

/// A conversation entry; `cost_usd` is always present (`null` when
/// unknown), the error fields only on a failed turn.
fn turn_entry(speaker: &Speaker, round: i64, result: &DispatchResult) -> Value {
    let mut entry = json!({
        "agent": speaker.name,
        "role": speaker.role,
        "round": round,
        "message": result.result,
        "cost_usd": result.cost_usd,
    });
    if !result.success {
        if let Some(error) = &result.error {
            entry["error"] = json!(error);
        }
        if let Some(error_type) = &result.error_type {
            entry["error_type"] = json!(error_type.as_str());
        }
    }
    entry
}

/// Python's `round(x, 4)`: the nearest 4-decimal value, found the way
/// Python does it, through the correctly rounded decimal text.
fn round4(value: f64) -> f64 {
    format!("{value:.4}").parse().unwrap_or(value)
}

// ---------------------------------------------------------------------------
// Python semantics of item values

/// Python's `int(value)` on a decoded JSON value, saturated to `i64` (every
/// caller clamps far below that): integers; floats truncated toward zero;
/// booleans as 0/1; strings of decimal digits with optional surrounding
/// whitespace, sign and single underscores between digits. Everything else
/// (`"9.5"`, `""`, lists, objects) is `None`, as Python raises for it.
fn py_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            // `as` saturates, and serde_json numbers are always finite.
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(text) => py_int_text(text),
        _ => None,
    }
}

fn py_int_text(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut magnitude: i64 = 0;
    for ch in digits.chars().filter(|c| *c != '_') {
        let digit = ch.to_digit(10)?;
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add(i64::from(digit));
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// Python's `repr()` of what `json.loads` would have produced.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) if n.is_f64() => repr_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::Number(n) => n.to_string(),
        Value::String(text) => repr_str(text),
        Value::Array(list) => {
            let parts: Vec<String> = list.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}: {}", repr_str(key), py_repr(value)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// The Python type name `json.loads` would have produced for `value`.
fn py_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_int_accepts_what_python_int_accepts() {
        for (value, expected) in [
            (json!(900), 900),
            (json!("900"), 900),
            (json!(" -42\n"), -42),
            (json!("+7"), 7),
            (json!("1_000"), 1000),
            (json!(9.9), 9),
            (json!(-9.9), -9),
            (json!(true), 1),
            (json!(false), 0),
            (json!("99999999999999999999999"), i64::MAX),
        ] {
            assert_eq!(py_int(&value), Some(expected), "{value}");
        }
    }

    #[test]
    fn py_int_rejects_what_python_int_rejects() {
        for value in [
            json!("abc"),
            json!("9.5"),
            json!(""),
            json!("  "),
            json!("1__0"),
            json!("_1"),
            json!("1_"),
            json!("--1"),
            json!("1e3"),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert_eq!(py_int(&value), None, "{value}");
        }
    }

    #[test]
    fn repr_and_type_names_read_like_python() {
        assert_eq!(py_repr(&json!("abc")), "'abc'");
        assert_eq!(
            py_repr(&json!([1, "a", null, true])),
            "[1, 'a', None, True]"
        );
        assert_eq!(py_repr(&json!({"k": 1.5})), "{'k': 1.5}");
        assert_eq!(py_type_name(&json!(1)), "int");
        assert_eq!(py_type_name(&json!(1.0)), "float");
        assert_eq!(py_type_name(&json!(null)), "NoneType");
        assert_eq!(py_type_name(&json!({})), "dict");
    }

    #[test]
    fn truthy_text_drops_falsy_values_and_stringifies_others() {
        let fields = json!({"a": "", "b": 0, "c": [], "d": "x", "e": 5, "f": true, "g": false});
        let fields = fields.as_object().unwrap();
        let got: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "absent"]
            .iter()
            .map(|name| truthy_text(fields, name))
            .collect();
        assert_eq!(got, ["", "", "", "x", "5", "True", "", ""]);
    }

    #[test]
    fn a_panicking_item_becomes_a_cli_error_result() {
        let run = run_caught("api", || panic!("boom"));
        assert!(!run.result.success);
        assert_eq!(run.result.error_type, Some(ErrorType::CliError));
        assert_eq!(
            run.result.error.as_deref(),
            Some("Internal error while dispatching to 'api': boom")
        );
        assert_eq!(
            ToolResult::dispatch(&run.result).value,
            json!({"agent": "api", "success": false, "result": "", "error": "Internal error while dispatching to 'api': boom", "error_type": "cli_error"})
        );
    }

    #[test]
    fn aggregator_sections_carry_status_outcome_and_body() {
        let ok = DispatchResult {
            result: "42 rows".into(),
            ..DispatchResult::new("api", true)
        };
        let partial = DispatchResult {
            result: "half".into(),
            outcome: Some(Outcome::Partial),
            ..DispatchResult::new("web", true)
        };
        let failed = DispatchResult::failure("db", ErrorType::Timeout, "timed out".into());
        assert_eq!(
            aggregate_context([&ok, &partial, &failed].into_iter()),
            "## Agent: api [OK]\n42 rows\n\n## Agent: web [OK, agent reports PARTIAL]\nhalf\n\n## Agent: db [FAILED]\ntimed out"
        );
    }

    #[test]
    fn costs_round_to_four_decimals() {
        assert_eq!(round4(0.0123 * 3.0), 0.0369);
        assert_eq!(round4(0.0), 0.0);
        assert_eq!(round4(1.23456), 1.2346);
    }
}
