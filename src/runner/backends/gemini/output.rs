//! Reads what `gemini` prints (Gemini CLI 0.61). `-o json`: one object at
//! the end — `response` (the answer), `session_id`, `stats.models.*.tokens`
//! and, on failure, `error {type, message, code}`; an error before the run
//! (no login: exit 41) prints that object on stderr instead. `-o
//! stream-json`: one event per line — `init` (session id), `message`
//! (assistant text, in deltas), `tool_use`, `tool_result`, `error`, and
//! `result` with `status` and `stats` at the end.

use serde_json::{Map, Value};

use crate::runner::lenient_json;
use crate::runner::lenient_json::str_field;
use crate::runner::process::{CollectAll, StdoutSink};
use crate::runner::result::{Usage, coerce_count};
use crate::runner::run_facts::{self, CliWords, FactEvents, RunFacts, progress_text};
use crate::runner::verdict::{Captured, Context, Verdict};

pub const WORDS: CliWords = CliWords {
    program: "gemini",
    login: "Run `gemini` once in a terminal and sign in (or set GEMINI_API_KEY in the \
            environment the agent-dispatch MCP server runs with), then retry.",
    account: "the Google account or API key",
    auth_exit: Some(41),
};

/// The message of an `error` object (`{type, message, code}`).
fn error_message(value: Option<&Value>) -> Option<String> {
    let error = value?.as_object()?;
    Some(
        str_field(error, "message")
            .unwrap_or("unknown error")
            .to_owned(),
    )
}

/// The JSON object in `bytes`: the first one that parses, starting at any
/// line that opens with `{` (log lines may come before it, more text
/// after it).
fn object_in(bytes: &[u8]) -> Option<Map<String, Value>> {
    let text = String::from_utf8_lossy(bytes);
    let starts = text
        .match_indices('\n')
        .map(|(at, _)| at + 1)
        .chain([0])
        .filter(|at| text[*at..].trim_start().starts_with('{'));
    let mut starts: Vec<usize> = starts.collect();
    starts.sort_unstable();
    starts.into_iter().find_map(|at| first_object(&text[at..]))
}

/// The first JSON value of `text`, if it is an object; what follows it is
/// ignored.
fn first_object(text: &str) -> Option<Map<String, Value>> {
    let rewritten = lenient_json::rewrite(text);
    let mut values = serde_json::Deserializer::from_str(&rewritten).into_iter::<Value>();
    match values.next() {
        Some(Ok(Value::Object(object))) => Some(object),
        _ => None,
    }
}

/// Tokens summed over the models of `stats.models` (`-o json`).
fn model_usage(stats: Option<&Value>) -> Option<Usage> {
    let models = stats?.get("models")?.as_object()?;
    models
        .values()
        .filter_map(|model| {
            let tokens = model.get("tokens")?.as_object()?;
            Usage::read(tokens, "prompt", "candidates", "cached")
        })
        .fold(None, |sum, usage| Some(Usage::plus(sum, usage)))
}

/// `-o json`: the whole stdout, read at the end.
#[derive(Default)]
pub struct JsonReader(pub CollectAll);

impl JsonReader {
    pub fn facts(&self, stderr: &[u8]) -> RunFacts {
        let mut facts = RunFacts::default();
        let reported = object_in(&self.0.bytes).or_else(|| object_in(stderr));
        let Some(object) = reported else {
            return facts;
        };
        facts.session_id = str_field(&object, "session_id").map(str::to_owned);
        facts.failure = error_message(object.get("error"));
        if facts.failure.is_none() {
            facts.answer = object.get("response").map(crate::runner::result::text_of);
            facts.finished = facts.answer.is_some();
        }
        facts.usage = model_usage(object.get("stats"));
        facts
    }
}

impl StdoutSink for JsonReader {
    fn chunk(&mut self, bytes: &[u8]) {
        self.0.chunk(bytes);
    }
    fn explains_outcome(&self) -> bool {
        self.0.explains_outcome()
    }
}

impl crate::runner::backend::OutputReader for JsonReader {
    fn lost_to_cut(&self) -> bool {
        self.0.cut
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        let facts = self.facts(&ended.stderr);
        run_facts::decide(ctx, facts, &ended, &WORDS)
    }
}

/// `-o stream-json`, a line at a time.
#[derive(Debug, Default)]
pub struct StreamEvents {
    facts: RunFacts,
    /// Assistant text since the last tool call: the answer is what the
    /// model said last.
    text: String,
    /// The last `error` event of severity error.
    last_error: Option<String>,
    has_result: bool,
}

impl FactEvents for StreamEvents {
    const WORDS: CliWords = WORDS;

    fn observe(&mut self, event: &Map<String, Value>) -> Vec<String> {
        match str_field(event, "type") {
            Some("init") => {
                self.facts.session_id = str_field(event, "session_id").map(str::to_owned);
                Vec::new()
            }
            Some("message") if str_field(event, "role") == Some("assistant") => {
                let content = str_field(event, "content").unwrap_or_default();
                self.text.push_str(content);
                if event.get("delta").and_then(Value::as_bool) == Some(true) {
                    Vec::new()
                } else {
                    (!content.is_empty())
                        .then(|| progress_text(content))
                        .into_iter()
                        .collect()
                }
            }
            Some("tool_use") => {
                // Text before a tool call was a step, not the answer.
                let said = std::mem::take(&mut self.text);
                let mut lines: Vec<String> = (!said.trim().is_empty())
                    .then(|| progress_text(said.trim()))
                    .into_iter()
                    .collect();
                lines.push(format!(
                    "Using tool: {}",
                    str_field(event, "tool_name").unwrap_or("?")
                ));
                lines
            }
            Some("error") => {
                let message = str_field(event, "message").unwrap_or("error").to_owned();
                let line = format!("gemini: {}", progress_text(&message));
                if str_field(event, "severity") != Some("warning") {
                    self.last_error = Some(message);
                }
                vec![line]
            }
            Some("result") => {
                self.has_result = true;
                if str_field(event, "status") == Some("success") {
                    self.facts.finished = true;
                } else {
                    self.facts.failure = Some(
                        error_message(event.get("error"))
                            .or_else(|| self.last_error.clone())
                            .unwrap_or_else(|| "gemini reported an error".to_owned()),
                    );
                }
                if let Some(stats) = event.get("stats").and_then(Value::as_object) {
                    self.facts.usage =
                        Usage::read(stats, "input_tokens", "output_tokens", "cached");
                    self.facts.duration_ms = stats.get("duration_ms").and_then(coerce_count);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn has_result(&self) -> bool {
        self.has_result
    }

    fn facts(&mut self, stderr: &[u8]) -> RunFacts {
        let mut facts = std::mem::take(&mut self.facts);
        if !self.text.is_empty() {
            facts.answer = Some(std::mem::take(&mut self.text));
        }
        if facts.failure.is_none() && !facts.finished {
            facts.failure = self.last_error.take();
        }
        // An error before the run (no login) is an object on stderr.
        if facts.failure.is_none() && facts.answer.is_none() {
            facts.failure = object_in(stderr).and_then(|o| error_message(o.get("error")));
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_object_is_found_among_other_output() {
        let stdout =
            b"{not json: a log line\n{\"session_id\":\"s\",\"response\":\"42\"}\ntrailing text\n";
        let object = object_in(stdout).unwrap();
        assert_eq!(object["response"], "42");
        assert!(object_in(b"no json here").is_none());
        let reader = JsonReader(CollectAll {
            bytes: stdout.to_vec(),
            ..CollectAll::default()
        });
        assert_eq!(reader.facts(b"").answer.as_deref(), Some("42"));
    }
}
