//! The MCP tools. Each tool file keeps a tool's name, description,
//! parameter table (`params`) and run function together; this module lists
//! them, builds `tools/list` from them (each `inputSchema` generated from
//! the tool's table), and holds what they share: the result type, the
//! config guard and the unknown-agent envelope.

pub mod args;
mod cache_tools;
mod dialogue;
mod discovery;
mod dispatching;
mod jobs;
mod manage;
mod parallel;
pub mod params;

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use super::progress::Progress;
use super::state::State;
use crate::config::Config;
use crate::config::store::LoadError;
use crate::pyfmt::repr_str;
use crate::runner::{CancelToken, DispatchResult};
use args::{ArgError, Args};
pub use dispatching::{Prepare, Prepared};
pub use jobs::{RecordedJob, job_answer, record_job};
use params::Params;

/// What a tool returns: a JSON value, and whether the client should see it
/// as an error (`isError`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub value: Value,
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(value: Value) -> ToolResult {
        ToolResult {
            value,
            is_error: false,
        }
    }

    /// The error envelope `{"error": …}`.
    pub fn error(message: impl Into<String>) -> ToolResult {
        ToolResult {
            value: json!({"error": message.into()}),
            is_error: true,
        }
    }

    pub fn error_with_hint(message: impl Into<String>, hint: &str) -> ToolResult {
        ToolResult {
            value: json!({"error": message.into(), "hint": hint}),
            is_error: true,
        }
    }

    /// The `CallToolResult` members, `content` and `isError`, as JSON text
    /// to splice into a reply: the payload (often tens of KB) is
    /// serialized once and escaped once, never copied into a second tree.
    pub fn call_result_members(&self) -> String {
        let text = Value::String(self.value.to_string());
        format!(
            r#""content":[{{"type":"text","text":{text}}}],"isError":{}"#,
            self.is_error
        )
    }

    /// The same `CallToolResult` as a tree, for a reply that holds it
    /// inside other members (a task's `result`, a notification).
    pub fn call_result(&self) -> Value {
        json!({
            "content": [{"type": "text", "text": self.value.to_string()}],
            "isError": self.is_error,
        })
    }

    /// A dispatch result; a failed dispatch is an error for the client.
    pub fn dispatch(result: &DispatchResult) -> ToolResult {
        ToolResult {
            value: serde_json::to_value(result)
                .unwrap_or_else(|err| json!({"error": err.to_string()})),
            is_error: !result.success,
        }
    }
}

/// One call's inputs.
pub struct Call<'a> {
    pub state: &'a State,
    pub args: Args,
    pub cancel: &'a CancelToken,
    pub progress: Option<&'a Progress>,
}

impl Call<'_> {
    /// The config, or the envelope every config-reading tool returns when
    /// the file cannot be loaded.
    pub fn config(&self) -> Result<Arc<Config>, ToolResult> {
        self.state
            .config()
            .map_err(|err| config_unloadable(self.state, &err))
    }
}

/// The envelope every config-reading tool returns when the file cannot be
/// loaded.
pub fn config_unloadable(state: &State, err: &LoadError) -> ToolResult {
    ToolResult::error_with_hint(
        format!(
            "Config at {} could not be loaded: {err}",
            state.paths.config.display()
        ),
        "Fix the file (or restore a backup), then retry; 'agent-dispatch list' shows the error with the offending key.",
    )
}

/// `Unknown agent: 'x'. Available: a, b`
pub fn unknown_agent(name: &str, config: &Config) -> ToolResult {
    let available = if config.agents.is_empty() {
        "(none configured)".to_owned()
    } else {
        config.agents.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    ToolResult::error(format!(
        "Unknown agent: {}. Available: {available}",
        repr_str(name)
    ))
}

pub type Run = fn(Call) -> Result<ToolResult, ArgError>;

pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    /// What the tool takes: its `inputSchema`, and what `Args` decodes.
    pub params: Params,
    pub kind: Kind,
    pub body: Body,
}

/// What a tool does with a call.
#[derive(Clone, Copy)]
pub enum Body {
    /// Runs in the call.
    Run(Run),
    /// A dispatch: the checked call (`Prepare`) runs in the call, or as a
    /// task (a background job).
    Dispatch(Prepare),
}

impl Tool {
    /// Runs a call to completion on this thread.
    pub fn run(&self, mut call: Call) -> Result<ToolResult, ArgError> {
        match self.body {
            Body::Run(run) => run(call),
            Body::Dispatch(prepare) => Ok(match prepare(&mut call)? {
                Ok(prepared) => prepared.run_here(&call),
                Err(envelope) => envelope,
            }),
        }
    }

    /// How a call of it becomes a task, if it can.
    pub fn prepare(&self) -> Option<Prepare> {
        match self.body {
            Body::Dispatch(prepare) => Some(prepare),
            Body::Run(_) => None,
        }
    }
}

/// What a tool does to the world, for the `annotations` hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ReadOnly,
    Changes,
    Destructive,
    /// Starts agents that act on the world.
    Dispatch,
}

pub fn all() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let mut tools = Vec::new();
        tools.extend(discovery::tools());
        tools.extend(dispatching::tools());
        tools.extend(parallel::tools());
        tools.extend(dialogue::tools());
        tools.extend(manage::tools());
        tools.extend(jobs::tools());
        tools.extend(cache_tools::tools());
        tools
    })
}

/// Tools whose answer is an agent's whole answer, often long: Claude Code
/// shows one up to this many characters inline (`anthropic/
/// maxResultSizeChars`) instead of saving it to a file the model must
/// read back. Past it the answer is still whole, in that file; `return_ref`
/// keeps a copy on our side.
const LARGE_RESULTS: [&str; 4] = [
    "dispatch",
    "dispatch_session",
    "dispatch_stream",
    "fetch_result",
];
const LARGE_RESULT_CHARS: u64 = 200_000;

/// Whether tool `name` spends its time waiting on something else; such
/// calls run in their own lane so that many of them cannot starve the rest.
pub fn waits(name: &str) -> bool {
    name == "dispatch_wait"
}

pub fn find(name: &str) -> Option<&'static Tool> {
    all().iter().find(|tool| tool.name == name)
}

/// The `tools/list` result, built and serialized once: it is the same for
/// every request, and Claude Code asks for it at every session start.
pub fn list_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| list().to_string())
}

/// The `tools/list` result, built once.
pub fn list() -> &'static Value {
    static LIST: OnceLock<Value> = OnceLock::new();
    LIST.get_or_init(|| {
        let tools: Vec<Value> = all()
            .iter()
            .map(|tool| {
                // `readOnlyHint` is false unless said: every byte here is
                // resent to the model.
                let annotations = match tool.kind {
                    Kind::ReadOnly => json!({"readOnlyHint": true}),
                    Kind::Changes => json!({"destructiveHint": false}),
                    Kind::Destructive => json!({"destructiveHint": true}),
                    Kind::Dispatch => json!({"openWorldHint": true}),
                };
                let mut entry = json!({
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": params::schema(tool.params),
                    "annotations": annotations,
                });
                if tool.prepare().is_some() {
                    entry["execution"] = json!({"taskSupport": "optional"});
                }
                if LARGE_RESULTS.contains(&tool.name) {
                    entry["_meta"] = json!({"anthropic/maxResultSizeChars": LARGE_RESULT_CHARS});
                }
                entry
            })
            .collect();
        json!({"tools": tools})
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::params::Param;
    use super::*;
    use crate::config::Paths;
    use crate::runner::CancelToken;

    fn well_typed(param: &Param) -> Value {
        match param {
            Param::Text(_) => json!("x"),
            Param::Integer(p) => json!(p.default),
            Param::Number(p) => json!(p.default),
            Param::Boolean(p) => json!(p.default),
        }
    }

    fn ill_typed(param: &Param) -> Value {
        match param {
            Param::Text(_) => json!(5),
            Param::Integer(_) | Param::Number(_) => json!("five"),
            Param::Boolean(_) => json!(5),
        }
    }

    /// Runs `tool` with every declared parameter well typed except `bad`,
    /// plus `extra`.
    fn outcome(
        state: &State,
        tool: &Tool,
        bad: Option<&str>,
        extra: Option<&str>,
    ) -> Result<ToolResult, ArgError> {
        let mut arguments: Map<String, Value> = params::each(tool.params)
            .map(|param| {
                let value = if bad == Some(param.name()) {
                    ill_typed(param)
                } else {
                    well_typed(param)
                };
                (param.name().to_owned(), value)
            })
            .collect();
        if let Some(extra) = extra {
            arguments.insert(extra.to_owned(), json!(1));
        }
        let args = Args::new(Some(Value::Object(arguments)), tool.params)?;
        tool.run(Call {
            state,
            args,
            cancel: &CancelToken::default(),
            progress: None,
        })
    }

    /// A tool that forgot to decode a declared parameter would refuse it as
    /// unknown instead of naming its type; one that decodes a parameter
    /// missing from its table trips the check in `Args` once everything
    /// else decoded. Every call here is refused before the tool acts.
    #[test]
    fn every_tool_decodes_exactly_the_parameters_it_declares() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::new(Paths::resolve(|_| None, Some(dir.path().to_path_buf())));
        for tool in all() {
            assert!(
                matches!(
                    outcome(&state, tool, None, Some("undeclared")),
                    Err(ArgError::Unknown(_))
                ),
                "{}",
                tool.name
            );
            for param in params::each(tool.params) {
                match outcome(&state, tool, Some(param.name()), None) {
                    Err(ArgError::WrongType { name, .. }) if name == param.name() => {}
                    other => panic!("{}.{}: {other:?}", tool.name, param.name()),
                }
            }
        }
    }
}
