//! Reads `codex exec --json` (Codex CLI 0.171) one JSON line at a time:
//! `thread.started` names the session (`thread_id`), `item.*` events carry
//! the agent's messages, commands, file changes and tool calls (progress),
//! the last completed `agent_message` is the answer, `turn.completed`
//! brings token usage and ends the turn, `turn.failed` ends it with an
//! error. Top-level `error` events are either retries while codex cannot
//! reach its service (it retries forever offline) or a failure.

use serde_json::{Map, Value};

use crate::runner::ErrorType;
use crate::runner::lenient_json::str_field;
use crate::runner::result::Usage;
use crate::runner::run_facts::{self, CliWords, FactEvents, RunFacts, progress_text};

pub const WORDS: CliWords = CliWords {
    program: "codex",
    login: "Run `codex login` once in a terminal (or set CODEX_API_KEY in the environment \
            the agent-dispatch MCP server runs with), then retry.",
    account: "the OpenAI account",
    auth_exit: None,
};

/// How much of a message or command a progress line shows.

#[derive(Debug, Default)]
pub struct CodexEvents {
    facts: RunFacts,
    /// An `error` event that was not a retry: the failure, unless the turn
    /// completes after it.
    last_error: Option<String>,
}

impl FactEvents for CodexEvents {
    const WORDS: CliWords = WORDS;

    fn observe(&mut self, event: &Map<String, Value>) -> Vec<String> {
        match str_field(event, "type") {
            Some("thread.started") => {
                self.facts.session_id = str_field(event, "thread_id").map(str::to_owned);
                Vec::new()
            }
            Some("turn.completed") => {
                self.facts.finished = true;
                self.facts.num_turns = Some(self.facts.num_turns.unwrap_or(0) + 1);
                if let Some(usage) = event.get("usage").and_then(Value::as_object).and_then(|u| {
                    Usage::read(u, "input_tokens", "output_tokens", "cached_input_tokens")
                }) {
                    self.facts.add_usage(usage);
                }
                Vec::new()
            }
            Some("turn.failed") => {
                let message = event
                    .get("error")
                    .and_then(Value::as_object)
                    .and_then(|error| str_field(error, "message"))
                    .unwrap_or("the turn failed");
                self.facts.failure = Some(message.to_owned());
                Vec::new()
            }
            Some("error") => {
                let message = str_field(event, "message").unwrap_or("error").to_owned();
                let progress = format!("codex: {}", progress_text(&message));
                if run_facts::classify(&message) == ErrorType::Network {
                    self.facts.network_trouble = Some(message);
                } else {
                    self.last_error = Some(message);
                }
                vec![progress]
            }
            Some(kind @ ("item.started" | "item.completed")) => {
                let Some(item) = event.get("item").and_then(Value::as_object) else {
                    return Vec::new();
                };
                self.item(item, kind == "item.completed")
            }
            _ => Vec::new(),
        }
    }

    fn has_result(&self) -> bool {
        self.facts.finished || self.facts.failure.is_some()
    }

    fn facts(&mut self, _stderr: &[u8]) -> RunFacts {
        let mut facts = std::mem::take(&mut self.facts);
        if !facts.finished && facts.failure.is_none() {
            facts.failure = self.last_error.take();
        }
        facts
    }
}

impl CodexEvents {
    /// One item: the answer when it is a completed agent message, and a
    /// progress line for what the agent is doing.
    fn item(&mut self, item: &Map<String, Value>, completed: bool) -> Vec<String> {
        let line = match (str_field(item, "type"), completed) {
            (Some("agent_message"), true) => {
                let message = str_field(item, "text").unwrap_or_default();
                self.facts.answer = Some(message.to_owned());
                (!message.is_empty()).then(|| progress_text(message))
            }
            (Some("command_execution"), false) => str_field(item, "command")
                .map(|command| format!("Running: {}", progress_text(command))),
            (Some("mcp_tool_call"), false) => Some(format!(
                "Using tool: {}.{}",
                str_field(item, "server").unwrap_or("?"),
                str_field(item, "tool").unwrap_or("?")
            )),
            (Some("file_change"), true) => Some(format!("Changed files: {}", changed_paths(item))),
            (Some("web_search"), false) => str_field(item, "query")
                .map(|query| format!("Searching the web: {}", progress_text(query))),
            (Some("error"), true) => {
                str_field(item, "message").map(|m| format!("codex: {}", progress_text(m)))
            }
            _ => None,
        };
        line.into_iter().collect()
    }
}

fn changed_paths(item: &Map<String, Value>) -> String {
    let paths: Vec<&str> = item
        .get("changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|change| change.get("path").and_then(Value::as_str))
        .take(10)
        .collect();
    if paths.is_empty() {
        "?".to_owned()
    } else {
        paths.join(", ")
    }
}
