//! The MCP tools. Each tool file keeps a tool's name, description, input
//! schema and argument decoding together; this module lists them, builds
//! `tools/list` from them, and holds what they share: the result type, the
//! config guard and the unknown-agent envelope.

pub mod args;
mod cache_tools;
mod discovery;
mod dispatching;
mod jobs;
mod manage;
mod multi;

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use super::progress::Progress;
use super::state::State;
use crate::config::Config;
use crate::config::store::LoadError;
use crate::pyfmt::repr_str;
use crate::runner::{CancelToken, DispatchResult};
use args::{ArgError, Args};

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
    pub schema: fn() -> Value,
    pub kind: Kind,
    pub run: Run,
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
        tools.extend(multi::tools());
        tools.extend(manage::tools());
        tools.extend(jobs::tools());
        tools.extend(cache_tools::tools());
        tools
    })
}

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
                let annotations = match tool.kind {
                    Kind::ReadOnly => json!({"readOnlyHint": true}),
                    Kind::Changes => json!({"readOnlyHint": false, "destructiveHint": false}),
                    Kind::Destructive => json!({"readOnlyHint": false, "destructiveHint": true}),
                    Kind::Dispatch => json!({"readOnlyHint": false, "openWorldHint": true}),
                };
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": (tool.schema)(),
                    "annotations": annotations,
                })
            })
            .collect();
        json!({"tools": tools})
    })
}

/// An input schema: an object of the given properties. It does not say
/// `additionalProperties: false` — the server refuses unknown arguments
/// anyway, and every byte of `tools/list` is resent to the model.
pub fn schema(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}
