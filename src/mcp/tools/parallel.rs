//! `dispatch_parallel`: several dispatches for one call. Every item is
//! validated before anything runs; the items then run concurrently through
//! the shared limiter and the result cache (both via `dispatching`), the
//! answers keep the caller's order, and an aggregator agent can be handed
//! the collected answers. Item fields follow the original's Python
//! semantics (`int()` for numbers, truthiness for the optional fields, as
//! `crate::pyvalue` reads them).

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use serde_json::{Map, Value, json};

use super::args::ArgError;
use super::dispatching::{answer, group_context, per_call_timeout, run, summary_chars};
use super::params::{Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult, unknown_agent};
use crate::config::{Agent, Config};
use crate::dispatch::Answer;
use crate::pyfmt::repr_str;
use crate::pyvalue;
use crate::runner::prompt::compact_schema;
use crate::runner::{Ask, Dispatch, DispatchResult, ErrorType, Outcome, OutputMode, backends};

/// Items allowed per call: at least this many, more with a higher
/// `max_concurrency` (twenty per slot).
const MIN_ITEM_LIMIT: u64 = 100;
const ITEMS_PER_SLOT: u64 = 20;

const AGGREGATE_TASK: &str = "Synthesize the results below into a single coherent answer. Highlight key findings, note any conflicts between agents, and provide actionable conclusions.";
const AGGREGATE_CALLER: &str = "dispatch_parallel";
const AGGREGATE_GOAL: &str = "aggregate parallel dispatch results";

const DISPATCHES: Text = Text::required("dispatches", "A JSON array, as a string.");
const AGGREGATE: Text = Text::optional("aggregate", "Agent that combines the results.");
const DISPATCH_PARALLEL: Params = &[&[Param::Text(DISPATCHES), Param::Text(AGGREGATE)]];

pub fn tools() -> Vec<Tool> {
    vec![Tool {
        name: "dispatch_parallel",
        description: "Several dispatches at once (within max_concurrency), results in input order. `dispatches`: a JSON array string of dispatch arguments ({agent, task, …}; no run controls), all checked first. `aggregate`: an agent that synthesizes the results.",
        params: DISPATCH_PARALLEL,
        kind: Kind::Dispatch,
        body: Body::Run(dispatch_parallel),
    }]
}

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
        backend: backends::of(aggregator, &config.settings),
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
    let aggregated =
        ToolResult::dispatch(&run(&call, "dispatch_parallel", d, false, None).result).value;
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
            pyvalue::type_name(value)
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
        response_format: response_format(fields, i)?,
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
        Some(value) => pyvalue::int(value).map(Some).ok_or_else(|| {
            ToolResult::error(format!(
                "dispatches[{i}].{name} must be a number, got {}",
                pyvalue::repr(value)
            ))
        }),
    }
}

/// An item's `response_format`: text, or a JSON Schema given as an object
/// or as its text, kept on one line.
fn response_format(fields: &Map<String, Value>, i: usize) -> Result<String, ToolResult> {
    let text = match fields.get("response_format") {
        Some(schema @ Value::Object(_)) => schema.to_string(),
        _ => truthy_text(fields, "response_format"),
    };
    compact_schema(&text).map_err(|err| {
        ToolResult::error(format!(
            "dispatches[{i}].response_format must be \"json\" or a JSON Schema (a JSON object): {err}"
        ))
    })
}

/// An optional text item field the original took as "truthy or None": a
/// falsy value (`""`, `0`, `false`, `[]`, …) is no value, and a truthy
/// non-string is used as Python's `str()` of it.
fn truthy_text(fields: &Map<String, Value>, name: &str) -> String {
    match fields.get(name) {
        Some(Value::String(text)) => text.clone(),
        Some(value) if pyvalue::truthy(value) => pyvalue::repr(value),
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
    run(
        call,
        "dispatch_parallel",
        item_dispatch(config, item),
        true,
        None,
    )
}

fn item_dispatch<'a>(config: &'a Config, item: &'a Item) -> Dispatch<'a> {
    Dispatch {
        agent_name: &item.agent_name,
        agent: item.agent,
        backend: backends::of(item.agent, &config.settings),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
