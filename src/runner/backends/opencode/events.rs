//! Reads `opencode run --format json` (opencode 1.18), one JSON event per
//! line, each with `type`, `timestamp`, `sessionID` and a `part`:
//! `step_start`, `text` (a finished text part), `tool_use` (a finished
//! tool call), `step_finish` (`reason`, `cost` in US dollars, `tokens`),
//! and `error` (`error {name, data {message}}`). The answer is the text of
//! the last step; a last step that ends for any reason but more tool calls
//! ends the run.

use serde_json::{Map, Value};

use crate::runner::lenient_json::str_field;
use crate::runner::result::{Usage, coerce_cost, coerce_count};
use crate::runner::run_facts::{CliWords, FactEvents, RunFacts, progress_text};

pub const WORDS: CliWords = CliWords {
    program: "opencode",
    login: "Run `opencode auth login` once in a terminal to add a provider (or set the \
            provider's API key in the environment the agent-dispatch MCP server runs with), \
            then retry.",
    account: "the model provider's account",
    auth_exit: None,
};

#[derive(Debug, Default)]
pub struct OpencodeEvents {
    facts: RunFacts,
    /// Text parts of the current step.
    step_text: Vec<String>,
}

impl FactEvents for OpencodeEvents {
    const WORDS: CliWords = WORDS;

    fn observe(&mut self, event: &Map<String, Value>) -> Vec<String> {
        if let Some(id) = str_field(event, "sessionID") {
            self.facts.session_id = Some(id.to_owned());
        }
        let part = event.get("part").and_then(Value::as_object);
        match (str_field(event, "type"), part) {
            (Some("step_start"), _) => {
                self.step_text.clear();
                Vec::new()
            }
            (Some("text"), Some(part)) => {
                let said = str_field(part, "text").unwrap_or_default();
                self.step_text.push(said.to_owned());
                (!said.is_empty())
                    .then(|| progress_text(said))
                    .into_iter()
                    .collect()
            }
            (Some("tool_use"), Some(part)) => {
                let tool = str_field(part, "tool").unwrap_or("?");
                if refused_permission(part) {
                    self.facts.deny(tool);
                }
                vec![format!("Using tool: {tool}")]
            }
            (Some("step_finish"), Some(part)) => {
                self.step_finish(part);
                Vec::new()
            }
            (Some("error"), _) => {
                let message = error_message(event.get("error"));
                let line = format!("opencode: {}", progress_text(&message));
                // After the final step, an error cannot unmake the answer.
                if !self.facts.finished {
                    self.facts.failure = Some(message);
                }
                vec![line]
            }
            _ => Vec::new(),
        }
    }

    fn has_result(&self) -> bool {
        self.facts.finished || self.facts.failure.is_some()
    }

    fn facts(&mut self, _stderr: &[u8]) -> RunFacts {
        let mut facts = std::mem::take(&mut self.facts);
        if !self.step_text.is_empty() {
            let said = self.step_text.join("\n\n");
            // Text of a step that ended in tool calls was not the answer:
            // the run stopped before one (a refused tool ends it so).
            if facts.finished {
                facts.answer = Some(said);
            } else {
                facts.partial = Some(said);
            }
        }
        facts
    }
}

impl OpencodeEvents {
    fn step_finish(&mut self, part: &Map<String, Value>) {
        if let Some(cost) = part.get("cost").and_then(coerce_cost) {
            self.facts.add_cost(cost);
        }
        if let Some(tokens) = part.get("tokens").and_then(Value::as_object) {
            let cached = tokens
                .get("cache")
                .and_then(Value::as_object)
                .and_then(|cache| cache.get("read"))
                .and_then(coerce_count);
            // Reasoning tokens are output opencode counts apart.
            let reasoning = tokens.get("reasoning").and_then(coerce_count).unwrap_or(0);
            if let Some(usage) = Usage::read(tokens, "input", "output", "") {
                self.facts.add_usage(Usage {
                    output_tokens: usage.output_tokens.saturating_add(reasoning),
                    cached_input_tokens: cached,
                    ..usage
                });
            }
        }
        self.facts.num_turns = Some(self.facts.num_turns.unwrap_or(0) + 1);
        let more_tools = matches!(str_field(part, "reason"), Some("tool-calls" | "tool_calls"));
        self.facts.finished = !more_tools;
    }
}

/// A tool call that failed because opencode refused it: a rule denied it,
/// or it needed a question nobody can answer in a headless run.
fn refused_permission(part: &Map<String, Value>) -> bool {
    let Some(state) = part.get("state").and_then(Value::as_object) else {
        return false;
    };
    str_field(state, "status") == Some("error")
        && str_field(state, "error").is_some_and(|error| {
            error.contains("rejected permission") || error.contains("prevents you from using")
        })
}

/// `{name, data: {message}}`, the shape of opencode's named errors.
fn error_message(error: Option<&Value>) -> String {
    let Some(error) = error.and_then(Value::as_object) else {
        return "opencode reported an error".to_owned();
    };
    let name = str_field(error, "name").unwrap_or("Error");
    let data = error.get("data").and_then(Value::as_object);
    // The HTTP status says more than the provider's wording (a 401 reads
    // "invalid x-api-key" at one provider, something else at the next).
    let name = match data
        .and_then(|d| d.get("statusCode"))
        .and_then(coerce_count)
    {
        Some(status) => format!("{name} (HTTP {status})"),
        None => name.to_owned(),
    };
    match data.and_then(|data| str_field(data, "message")) {
        Some(message) => format!("{name}: {message}"),
        None => name,
    }
}
