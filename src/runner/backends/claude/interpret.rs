//! Turns what a finished `claude` run left behind — its captured output,
//! how it exited, whether we killed it — into a `DispatchResult`, or into
//! the decision to retry once without `--session-id`. Pure functions over
//! data the process layer hands over: nothing here spawns, waits or reads
//! pipes. Covers both output modes: `--output-format json` (one object, or
//! the array verbose mode prints) through `interpret_json`, and
//! `stream-json` line by line through `StreamCollector`.

use std::io;

use serde_json::{Map, Value};

use super::classify::{self, FailedMcpServer};
use crate::chars;
use crate::pyvalue::truthy as is_truthy;
use crate::runner::answer::{self, append_hint, join_hints, killed_before_result, succeed};
use crate::runner::lenient_json::{self, str_field};
use crate::runner::messages;
use crate::runner::result::{
    DispatchResult, ErrorType, Usage, coerce_cost, coerce_count, result_text, text_of,
};
use crate::runner::stream_sink::EventStream;
use crate::runner::verdict::{Captured, Context, Exit, Kill, Verdict};

/// Whether this run's stderr is an old CLI refusing the `--session-id`
/// we generated: retried once, and only on a first attempt.
fn may_retry_without_session_id(ctx: &Context, stderr: &str) -> bool {
    ctx.first_attempt && ctx.session_id_was_generated && classify::rejects_session_id_flag(stderr)
}

/// Interprets an ordinary run (`--output-format json`).
pub fn interpret_json(ctx: &Context, out: &Captured) -> Verdict {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed = lenient_json::parse(&stdout).ok();
    let mut transcript = Transcript::default();
    let payload = parsed
        .as_ref()
        .and_then(|value| final_payload(value, &mut transcript));

    if let Some(kill) = out.killed {
        // Only a complete answer outranks the kill: a `result` message
        // means the agent finished and only its exit was late. Anything
        // less (partial text, cut-off JSON) is the run we gave up on.
        let result = match payload.filter(|payload| is_result_event(payload)) {
            Some(payload) => from_payload(ctx, payload, &transcript, Some(out.exit), Some(kill)),
            None => killed_before_result(ctx, kill),
        };
        return Verdict::Done(finish(ctx, &transcript, result));
    }

    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = stderr.trim();
    if out.exit != Exit::Code(0) && stdout.trim().is_empty() {
        if may_retry_without_session_id(ctx, stderr) {
            return Verdict::RetryWithoutSessionId;
        }
        // The CLI failed before producing anything, so no session id is
        // reported: there is nothing to resume.
        let error = if stderr.is_empty() {
            format!("claude exited with code {}", out.exit)
        } else {
            stderr.to_owned()
        };
        let result = classified_failure(ctx, &transcript, error);
        return Verdict::Done(finish(ctx, &transcript, result));
    }

    let result = match payload {
        Some(payload) => from_payload(ctx, payload, &transcript, Some(out.exit), None),
        None => plain_text(ctx, &transcript, stdout.trim(), stderr, out.exit),
    };
    Verdict::Done(finish(ctx, &transcript, result))
}

/// The result of a run whose `claude` could not be started at all.
pub fn spawn_failure(ctx: &Context, err: &io::Error) -> DispatchResult {
    let message = err.to_string();
    match err.kind() {
        // E.g. the agent's directory vanished between the check and the spawn.
        io::ErrorKind::NotFound => DispatchResult::failure(ctx.agent, ErrorType::NotFound, message),
        io::ErrorKind::PermissionDenied => DispatchResult::failure(
            ctx.agent,
            ErrorType::Permission,
            classify::with_hint(message, &ErrorType::Permission, ctx.agent),
        ),
        _ => DispatchResult::failure(ctx.agent, ErrorType::CliError, message),
    }
}

/// Reads a `stream-json` run one stdout line at a time: yields progress
/// messages as they come and keeps what the final result needs.
#[derive(Debug, Default)]
pub struct StreamCollector {
    /// The last `result` event; a later one replaces an earlier one.
    result: Option<Map<String, Value>>,
    transcript: Transcript,
}

impl EventStream for StreamCollector {
    /// True once a `result` event has arrived.
    fn has_result(&self) -> bool {
        self.result.is_some()
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        std::mem::take(self).decide(ctx, &ended.stderr, ended.exit, ended.killed)
    }

    /// Takes one line of stdout and returns the progress messages it
    /// carries: an assistant's text (first 500 characters) and
    /// `Using tool: <name>` per tool call. Blank, unparsable and
    /// unexpectedly shaped lines are skipped — a malformed event must never
    /// cost the final result.
    fn feed_line(&mut self, line: &[u8]) -> Vec<String> {
        let Some(event) = lenient_json::event_object(line) else {
            return Vec::new();
        };
        self.transcript.observe(&event);
        if is_result_event(&event) {
            self.result = Some(event);
            return Vec::new();
        }
        if str_field(&event, "type") == Some("assistant") {
            return progress_messages(&event);
        }
        Vec::new()
    }
}

impl StreamCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides the run once the process is done and stdout is drained.
    pub fn decide(self, ctx: &Context, stderr: &[u8], exit: Exit, killed: Option<Kill>) -> Verdict {
        let transcript = &self.transcript;
        let result = if let Some(payload) = &self.result {
            // The stream's result wins even over a kill: it is complete.
            // Unlike the ordinary path, the original quotes no exit code
            // in this path's no-details message; kept for parity.
            from_payload(ctx, payload, transcript, None, killed)
        } else if let Some(kill) = killed {
            killed_before_result(ctx, kill)
        } else {
            let stderr = String::from_utf8_lossy(stderr);
            let stderr = stderr.trim();
            if may_retry_without_session_id(ctx, stderr) {
                return Verdict::RetryWithoutSessionId;
            }
            let error = if stderr.is_empty() {
                format!("No result received (exit code {exit})")
            } else {
                stderr.to_owned()
            };
            let mut result = classified_failure(ctx, transcript, error);
            result.session_id = ctx.session_of_record.map(str::to_owned);
            result
        };
        Verdict::Done(finish(ctx, transcript, result))
    }
}

/// What the messages before the final result said that matters to it.
#[derive(Debug, Default)]
struct Transcript {
    /// The CLI reported that the API rejected its credentials.
    auth_failed: bool,
    /// From the `system`/`init` event: project MCP servers that did not
    /// connect.
    failed_mcp: Vec<FailedMcpServer>,
}

impl Transcript {
    fn observe(&mut self, event: &Map<String, Value>) {
        if classify::is_auth_failure_event(event) {
            self.auth_failed = true;
        }
        if let Some(failed) = classify::failed_mcp_servers(event) {
            self.failed_mcp = failed;
        }
    }

    /// Text classification, overridden by a structured auth signal, which
    /// does not depend on the CLI's wording.
    fn classify(&self, text: &str) -> ErrorType {
        if self.auth_failed {
            ErrorType::Auth
        } else {
            classify::classify(text)
        }
    }
}

fn is_result_event(event: &Map<String, Value>) -> bool {
    str_field(event, "type") == Some("result")
}

/// The object that carries the run's answer: the printed object itself,
/// or — when the user's settings turn on verbose mode, which prints every
/// message as one JSON array — the last `result` message of the array.
fn final_payload<'v>(
    value: &'v Value,
    transcript: &mut Transcript,
) -> Option<&'v Map<String, Value>> {
    match value {
        Value::Object(payload) => Some(payload),
        Value::Array(messages) => {
            let events: Vec<&Map<String, Value>> =
                messages.iter().filter_map(Value::as_object).collect();
            for event in &events {
                transcript.observe(event);
            }
            events
                .into_iter()
                .rev()
                .find(|event| is_result_event(event))
        }
        _ => None,
    }
}

/// A result built from the CLI's JSON result object. `exit` is quoted in
/// the message of an error with no details, where it is meaningful.
fn from_payload(
    ctx: &Context,
    payload: &Map<String, Value>,
    transcript: &Transcript,
    exit: Option<Exit>,
    killed: Option<Kill>,
) -> DispatchResult {
    // A malformed session id, cost or count is dropped; never the answer.
    let session_id = str_field(payload, "session_id")
        .filter(|id| !id.trim().is_empty())
        .or(ctx.session_of_record);
    let mut result = DispatchResult {
        session_id: session_id.map(str::to_owned),
        cost_usd: payload.get("total_cost_usd").and_then(coerce_cost),
        duration_ms: payload.get("duration_ms").and_then(coerce_count),
        num_turns: payload.get("num_turns").and_then(coerce_count),
        denied_tools: classify::denied_tools(payload.get("permission_denials")),
        usage: payload
            .get("usage")
            .and_then(Value::as_object)
            .and_then(|usage| {
                Usage::read(
                    usage,
                    "input_tokens",
                    "output_tokens",
                    "cache_read_input_tokens",
                )
            }),
        ..DispatchResult::new(ctx.agent, false)
    };
    let text = result_text(payload.get("result"));
    if !payload.get("is_error").is_some_and(is_truthy) {
        let mut result = succeed(ctx, result, &text, killed);
        // With --json-schema the CLI hands the validated answer over apart.
        if let Some(structured) = payload.get("structured_output").filter(|v| !v.is_null()) {
            result.parsed_result = Some(structured.clone());
        }
        return result;
    }

    let error = if text.is_empty() {
        no_text_error(ctx.agent, payload, exit)
    } else {
        text.clone()
    };
    let stopped_by_budget = str_field(payload, "subtype") == Some("error_max_budget_usd")
        || str_field(payload, "terminal_reason") == Some("budget_exhausted");
    let stopped_by = |subtype| str_field(payload, "subtype") == Some(subtype);
    if stopped_by_budget {
        let hint = classify::budget_hint(ctx.agent, ctx.budget_usd, result.session_id.as_deref());
        result.error = Some(error + &hint);
        result.error_type = Some(ErrorType::Budget);
        result.budget_exceeded = true;
    } else if stopped_by("error_max_turns") {
        result.error =
            Some(error + &classify::max_turns_hint(ctx.agent, result.session_id.as_deref()));
        result.error_type = Some(ErrorType::MaxTurns);
    } else if stopped_by("error_max_structured_output_retries") {
        result.error = Some(error + classify::SCHEMA_HINT);
        result.error_type = Some(ErrorType::Schema);
    } else {
        // Denied tools explain a failure better than its wording — except
        // a failed login, which stops the run whatever happened before it.
        let by_text = transcript.classify(&error);
        let error_type = if by_text != ErrorType::Auth && result.denied_tools.is_some() {
            ErrorType::Permission
        } else {
            by_text
        };
        result.error = Some(classify::with_hint(error, &error_type, ctx.agent));
        result.error_type = Some(error_type);
    }
    result.result = text;
    result
}

/// The error of an `is_error` payload whose `result` is empty.
fn no_text_error(agent: &str, payload: &Map<String, Value>, exit: Option<Exit>) -> String {
    if let Some(detail) = classify::failure_detail(payload.get("errors"), payload.get("subtype")) {
        return format!("Agent '{agent}' failed: {detail}");
    }
    match exit {
        Some(exit) => {
            format!("Agent '{agent}' reported an error with no details (exit code {exit})")
        }
        None => format!("Agent '{agent}' reported an error with no details"),
    }
}

/// stdout that is not a JSON object (or not JSON at all) is the answer as
/// plain text: a success only with a clean exit and some text, with a hint
/// that it was not JSON (the answer was paid for; its cost and session
/// are what is lost).
fn plain_text(
    ctx: &Context,
    transcript: &Transcript,
    text: &str,
    stderr: &str,
    exit: Exit,
) -> DispatchResult {
    let session_id = ctx.session_of_record.map(str::to_owned);
    if exit == Exit::Code(0) && !text.is_empty() {
        let result = DispatchResult {
            session_id,
            ..DispatchResult::new(ctx.agent, true)
        };
        let mut result = succeed(ctx, result, text, None);
        result.hint = join_hints([Some(messages::NOT_JSON_NOTE.to_owned()), result.hint]);
        return result;
    }
    let error = if !text.is_empty() {
        text.to_owned()
    } else if !stderr.is_empty() {
        stderr.to_owned()
    } else {
        format!("claude exited with code {exit} and produced no output")
    };
    DispatchResult {
        result: text.to_owned(),
        session_id,
        ..classified_failure(ctx, transcript, error)
    }
}

fn classified_failure(ctx: &Context, transcript: &Transcript, error: String) -> DispatchResult {
    let error_type = transcript.classify(&error);
    let error = classify::with_hint(error, &error_type, ctx.agent);
    DispatchResult::failure(ctx.agent, error_type, error)
}

/// Applies what holds for every result of a run: the hint about MCP
/// servers that did not connect, then the post-hoc budget check, which
/// flags a run that cost more than its cap. A budget stop already says so
/// in its error and is left alone.
fn finish(ctx: &Context, transcript: &Transcript, mut result: DispatchResult) -> DispatchResult {
    if !transcript.failed_mcp.is_empty() {
        let hint = classify::mcp_failure_hint(ctx.agent, &transcript.failed_mcp);
        append_hint(&mut result, hint);
    }
    answer::flag_overspend(ctx, &mut result);
    result
}

/// Progress lines for one assistant event. Shapes other than the expected
/// `message.content[]` blocks yield nothing.
fn progress_messages(event: &Map<String, Value>) -> Vec<String> {
    const MAX_TEXT_CHARS: usize = 500;
    let blocks = event
        .get("message")
        .and_then(Value::as_object)
        .and_then(|message| message.get("content"))
        .and_then(Value::as_array);
    blocks
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|block| match str_field(block, "type") {
            Some("text") => str_field(block, "text")
                .filter(|text| !text.is_empty())
                .map(|text| chars::prefix(text, MAX_TEXT_CHARS).to_owned()),
            Some("tool_use") => {
                let name = block.get("name").map_or_else(|| "?".to_owned(), text_of);
                Some(format!("Using tool: {name}"))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::Outcome;
    use serde_json::json;

    const NOT_LOGGED_IN_JSON: &str = include_str!("testdata/not-logged-in.json");
    const NOT_LOGGED_IN_STREAM: &str = include_str!("testdata/not-logged-in.stream.jsonl");
    const NOT_LOGGED_IN_VERBOSE: &str = include_str!("testdata/not-logged-in.verbose-json.txt");

    const GENERATED: &str = "gen-0000";

    fn ctx() -> Context<'static> {
        Context {
            agent: "web",
            session_of_record: Some(GENERATED),
            session_id_was_generated: true,
            first_attempt: true,
            response_format_json: false,
            timeout_secs: 300,
            budget_usd: None,
        }
    }

    fn run(stdout: &str, stderr: &str, exit: Exit) -> Captured {
        Captured {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            exit,
            killed: None,
        }
    }

    fn killed(stdout: &str, kill: Kill) -> Captured {
        Captured {
            killed: Some(kill),
            ..run(stdout, "late stderr", Exit::Signal(9))
        }
    }

    fn done(verdict: Verdict) -> DispatchResult {
        match verdict {
            Verdict::Done(result) => result,
            Verdict::RetryWithoutSessionId => panic!("unexpected retry"),
        }
    }

    /// A run's result under the standard context.
    fn interpreted(out: &Captured) -> DispatchResult {
        done(interpret_json(&ctx(), out))
    }

    fn json_result(ctx: &Context, stdout: &str) -> DispatchResult {
        done(interpret_json(ctx, &run(stdout, "", Exit::Code(0))))
    }

    fn stream(lines: &[&str], stderr: &str, exit: Exit, kill: Option<Kill>) -> Verdict {
        let mut collector = StreamCollector::new();
        for line in lines {
            collector.feed_line(line.as_bytes());
        }
        collector.decide(&ctx(), stderr.as_bytes(), exit, kill)
    }

    // --- ordinary path: success -------------------------------------------

    #[test]
    fn success_payload_fills_every_field() {
        let result = json_result(
            &ctx(),
            r#"{"type":"result","result":"answer","session_id":"cli-1","total_cost_usd":0.42,
                "duration_ms":1234,"num_turns":3,"is_error":false,"cost_usd":9}"#,
        );
        let expected = DispatchResult {
            result: "answer".into(),
            session_id: Some("cli-1".into()),
            cost_usd: Some(0.42),
            duration_ms: Some(1234),
            num_turns: Some(3),
            ..DispatchResult::new("web", true)
        };
        assert_eq!(result, expected);
    }

    #[test]
    fn success_is_decided_by_is_error_not_exit_code() {
        let result = interpreted(&run(
            r#"{"result":"ok","is_error":false}"#,
            "warn",
            Exit::Code(1),
        ));
        assert!(result.success);
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    #[test]
    fn malformed_session_id_falls_back_to_session_of_record() {
        for session in [json!("  "), json!(42), json!(null)] {
            let stdout = json!({"result": "kept", "session_id": session}).to_string();
            let result = json_result(&ctx(), &stdout);
            assert_eq!(result.result, "kept");
            assert_eq!(result.session_id.as_deref(), Some(GENERATED), "{session}");
        }
    }

    #[test]
    fn malformed_duration_and_turns_never_lose_the_result() {
        let result = json_result(
            &ctx(),
            r#"{"result":"kept","duration_ms":"soon","num_turns":-2,"total_cost_usd":NaN}"#,
        );
        assert!(result.success);
        assert_eq!(result.result, "kept");
        assert_eq!(
            (result.duration_ms, result.num_turns, result.cost_usd),
            (None, None, None)
        );
        let result = json_result(
            &ctx(),
            r#"{"result":"kept","duration_ms":"12.7","num_turns":true}"#,
        );
        assert_eq!((result.duration_ms, result.num_turns), (Some(12), None));
    }

    #[test]
    fn non_string_result_is_coerced_to_text() {
        let result = json_result(&ctx(), r#"{"result":{"rows":[1,2]},"is_error":false}"#);
        assert!(result.success);
        assert_eq!(result.result, r#"{"rows":[1,2]}"#);
        assert_eq!(json_result(&ctx(), r#"{"result":7}"#).result, "7");
        assert_eq!(json_result(&ctx(), r#"{"result":null}"#).result, "");
    }

    #[test]
    fn status_line_is_lifted_with_outcome_hint() {
        let result = json_result(
            &ctx(),
            r#"{"result":"did half\n**STATUS: partial**","session_id":"cli-1"}"#,
        );
        assert!(result.success, "outcome never changes success");
        assert_eq!(result.result, "did half");
        assert_eq!(result.outcome, Some(Outcome::Partial));
        let hint = result.hint.unwrap();
        assert!(
            hint.starts_with("The agent reports its work is PARTIAL"),
            "{hint}"
        );
        assert!(hint.contains("session_id='cli-1'"), "{hint}");
    }

    #[test]
    fn done_outcome_adds_no_hint() {
        let result = json_result(&ctx(), r#"{"result":"all\nSTATUS: done"}"#);
        assert_eq!((result.outcome, result.hint), (Some(Outcome::Done), None));
    }

    #[test]
    fn json_answer_is_parsed_after_status_lifting() {
        let ctx = Context {
            response_format_json: true,
            ..ctx()
        };
        let stdout = json!({"result": "```json\n{\"a\": null}\n```\nSTATUS: done"}).to_string();
        let result = json_result(&ctx, &stdout);
        assert_eq!(result.parsed_result, Some(json!({"a": null})));
        assert_eq!(result.outcome, Some(Outcome::Done));
        let text = serde_json::to_string(&result).unwrap();
        assert!(text.contains(r#""parsed_result":{"a":null}"#), "{text}");
    }

    #[test]
    fn json_answer_is_not_parsed_without_json_format() {
        let result = json_result(&ctx(), r#"{"result":"{\"a\":1}"}"#);
        assert_eq!(result.parsed_result, None);
    }

    #[test]
    fn lone_surrogate_in_json_answer_becomes_replacement_char_in_parsed_result() {
        let ctx = Context {
            response_format_json: true,
            ..ctx()
        };
        // The CLI escapes the answer's own escape: the answer text holds
        // `{"name": "x\ud800"}` literally.
        let result = json_result(&ctx, r#"{"result":"{\"name\": \"x\\ud800\"}"}"#);
        assert_eq!(result.parsed_result, Some(json!({"name": "x\u{FFFD}"})));
        // And a lone surrogate in the CLI's own JSON becomes U+FFFD text.
        let result = json_result(&ctx, r#"{"result":"\"a\ud800\""}"#);
        assert_eq!(result.result, "\"a\u{FFFD}\"");
        assert_eq!(result.parsed_result, Some(json!("a\u{FFFD}")));
    }

    #[test]
    fn invalid_utf8_byte_becomes_replacement_char() {
        let out = Captured {
            stdout: b"{\"result\":\"caf\xe9 ok\",\"is_error\":false}".to_vec(),
            ..run("", "", Exit::Code(0))
        };
        let result = interpreted(&out);
        assert!(result.success);
        assert_eq!(result.result, "caf\u{FFFD} ok");
    }

    #[test]
    fn denied_tools_on_success_add_denial_hint() {
        let result = json_result(
            &ctx(),
            r#"{"result":"partly","permission_denials":[{"tool_name":"Bash"},{"tool_name":"Bash"}]}"#,
        );
        assert!(result.success);
        assert_eq!(result.denied_tools, Some(vec!["Bash".to_owned()]));
        assert!(
            result
                .hint
                .unwrap()
                .starts_with("1 tool call(s) were denied")
        );
    }

    #[test]
    fn hints_come_in_order_denial_cleanup_outcome_budget() {
        let ctx = Context {
            budget_usd: Some(1.0),
            ..ctx()
        };
        let stdout = r#"{"type":"result","result":"x\nSTATUS: blocked","total_cost_usd":1.5,
            "permission_denials":[{"tool_name":"Bash"}]}"#;
        let result = done(interpret_json(&ctx, &killed(stdout, Kill::Timeout)));
        let hint = result.hint.unwrap();
        let positions: Vec<usize> = [
            "tool call(s) were denied",
            "only cleanup was cut short",
            "The agent reports it is BLOCKED",
            "Cost $1.5000 exceeded the configured budget $1.00",
        ]
        .iter()
        .map(|part| {
            hint.find(part)
                .unwrap_or_else(|| panic!("{part} in {hint}"))
        })
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{hint}");
        assert!(result.budget_exceeded);
    }

    // --- ordinary path: plain-text tier ------------------------------------

    #[test]
    fn plain_text_stdout_is_a_success_with_session_of_record() {
        let result = json_result(&ctx(), "  just text\nSTATUS: done\n");
        let expected = DispatchResult {
            result: "just text".into(),
            session_id: Some(GENERATED.into()),
            outcome: Some(Outcome::Done),
            hint: Some(messages::NOT_JSON_NOTE.into()),
            ..DispatchResult::new("web", true)
        };
        assert_eq!(result, expected);
    }

    #[test]
    fn bare_json_string_stdout_is_plain_text() {
        let result = json_result(&ctx(), r#""hello""#);
        assert!(result.success);
        assert_eq!(result.result, r#""hello""#);
    }

    #[test]
    fn plain_text_with_failed_exit_is_a_classified_failure() {
        let result = interpreted(&run("Permission denied for Bash", "ignored", Exit::Code(2)));
        assert!(!result.success);
        assert_eq!(result.result, "Permission denied for Bash");
        assert_eq!(result.error_type, Some(ErrorType::Permission));
        assert!(
            result
                .error
                .unwrap()
                .contains("\n\nHint: Agent 'web' was denied")
        );
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    #[test]
    fn exit_zero_with_empty_stdout_is_a_failure_with_session_id() {
        let result = interpreted(&run(" \n", "", Exit::Code(0)));
        assert!(!result.success);
        assert_eq!(
            result.error.as_deref(),
            Some("claude exited with code 0 and produced no output")
        );
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));

        let result = interpreted(&run("", " went wrong \n", Exit::Code(0)));
        assert_eq!(result.error.as_deref(), Some("went wrong"));
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    // --- ordinary path: failed exit with blank stdout ----------------------

    #[test]
    fn failed_exit_with_blank_stdout_reports_stderr_without_session() {
        let result = interpreted(&run(
            "",
            "You've hit your session limit · resets 6pm\n",
            Exit::Code(1),
        ));
        assert_eq!(result.error_type, Some(ErrorType::UsageLimit));
        let error = result.error.unwrap();
        assert!(error.starts_with("You've hit your session limit · resets 6pm\n\nHint:"));
        assert!(error.contains("It resets 6pm."), "{error}");
        assert_eq!(result.session_id, None);
    }

    #[test]
    fn failed_exit_without_stderr_quotes_the_exit_code_like_python() {
        let result = interpreted(&run("", "", Exit::Signal(9)));
        assert_eq!(result.error.as_deref(), Some("claude exited with code -9"));
        let result = interpreted(&run("", "", Exit::Code(3)));
        assert_eq!(result.error.as_deref(), Some("claude exited with code 3"));
        assert_eq!(result.error_type, Some(ErrorType::CliError));
    }

    #[test]
    fn unknown_exit_status_is_not_a_success() {
        let result = interpreted(&run("text", "", Exit::Unknown));
        assert!(!result.success);
        let result = interpreted(&run("", "", Exit::Unknown));
        assert_eq!(
            result.error.as_deref(),
            Some("claude exited with code unknown")
        );
    }

    // --- ordinary path: is_error payloads -----------------------------------

    #[test]
    fn is_error_uses_result_text_as_error() {
        let result = json_result(
            &ctx(),
            r#"{"result":"it broke","is_error":true,"session_id":"cli-1","total_cost_usd":0.1}"#,
        );
        assert!(!result.success);
        assert_eq!(result.result, "it broke");
        assert_eq!(result.error.as_deref(), Some("it broke"));
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert_eq!(result.session_id.as_deref(), Some("cli-1"));
        assert_eq!(result.cost_usd, Some(0.1));
    }

    #[test]
    fn is_error_truthiness_follows_python() {
        assert!(!json_result(&ctx(), r#"{"result":"x","is_error":"yes"}"#).success);
        assert!(!json_result(&ctx(), r#"{"result":"x","is_error":1}"#).success);
        assert!(json_result(&ctx(), r#"{"result":"x","is_error":""}"#).success);
        assert!(json_result(&ctx(), r#"{"result":"x","is_error":0}"#).success);
    }

    #[test]
    fn is_error_with_empty_or_null_result_reports_no_details_with_exit_code() {
        for result_field in [r#""""#, "null", "false"] {
            let stdout = format!(r#"{{"result":{result_field},"is_error":true}}"#);
            let result = interpreted(&run(&stdout, "", Exit::Code(1)));
            assert_eq!(result.result, "");
            assert_eq!(
                result.error.as_deref(),
                Some("Agent 'web' reported an error with no details (exit code 1)"),
                "{result_field}"
            );
            assert_eq!(result.session_id.as_deref(), Some(GENERATED));
        }
    }

    #[test]
    fn is_error_details_come_from_errors_then_subtype() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"errors":["disk full"," ","quota"],"subtype":"error_during_execution"}"#,
        );
        assert_eq!(
            result.error.as_deref(),
            Some("Agent 'web' failed: disk full; quota")
        );
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"subtype":"error_during_execution"}"#,
        );
        assert_eq!(
            result.error.as_deref(),
            Some("Agent 'web' failed: claude CLI reported 'error_during_execution'")
        );
    }

    #[test]
    fn turn_limit_and_schema_failures_have_types_of_their_own() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"subtype":"error_max_turns","session_id":"cli-1","result":""}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::MaxTurns));
        let error = result.error.unwrap();
        assert!(
            error.contains("--max-turns") && error.contains("session_id='cli-1'"),
            "{error}"
        );
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"subtype":"error_max_structured_output_retries","result":""}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Schema));
        assert!(result.error.unwrap().contains("JSON Schema"));
    }

    #[test]
    fn structured_output_is_the_parsed_result() {
        let ctx = Context {
            response_format_json: true,
            ..ctx()
        };
        let result = json_result(
            &ctx,
            r#"{"type":"result","is_error":false,"result":"not json at all","structured_output":{"name":"x"}}"#,
        );
        assert!(result.success);
        assert_eq!(result.parsed_result, Some(json!({"name": "x"})));
    }

    #[test]
    fn budget_stop_by_subtype_alone() {
        let ctx = Context {
            budget_usd: Some(0.5),
            ..ctx()
        };
        let result = json_result(
            &ctx,
            r#"{"is_error":true,"subtype":"error_max_budget_usd","session_id":"cli-1","total_cost_usd":0.51}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Budget));
        assert!(result.budget_exceeded);
        let error = result.error.unwrap();
        assert!(
            error.starts_with(
                "Agent 'web' failed: claude CLI reported 'error_max_budget_usd'\n\nHint: the \
                 dispatch was stopped by the spend cap $0.5 (passed"
            ),
            "{error}"
        );
        assert!(error.contains("session_id='cli-1'"), "{error}");
        // The post-hoc check does not repeat what the error says.
        assert_eq!(result.hint, None);
    }

    #[test]
    fn budget_stop_by_terminal_reason_alone() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"result":"stopped","terminal_reason":"budget_exhausted"}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Budget));
        assert!(result.budget_exceeded);
        assert!(
            result
                .error
                .unwrap()
                .contains("spend cap the configured cap")
        );
    }

    #[test]
    fn budget_beats_denials() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"subtype":"error_max_budget_usd","permission_denials":[{"tool":"Bash"}]}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Budget));
        assert_eq!(result.denied_tools, Some(vec!["Bash".to_owned()]));
    }

    #[test]
    fn denials_make_an_error_payload_a_permission_error() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"result":"could not finish","permission_denials":[{"tool_name":"Edit"}]}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Permission));
        assert!(
            result
                .error
                .unwrap()
                .starts_with("could not finish\n\nHint: Agent 'web'")
        );
        assert_eq!(result.hint, None);
    }

    #[test]
    fn auth_failure_beats_denials() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"result":"Not logged in · Please run /login","permission_denials":["Edit"]}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::Auth));
    }

    #[test]
    fn error_payload_text_is_classified() {
        let result = json_result(
            &ctx(),
            r#"{"is_error":true,"result":"API Error: rate limit reached"}"#,
        );
        assert_eq!(result.error_type, Some(ErrorType::UsageLimit));
        assert!(
            result
                .error
                .unwrap()
                .contains("Claude ACCOUNT's usage limit")
        );
    }

    #[test]
    fn not_logged_in_json_is_auth() {
        let result = json_result(&ctx(), NOT_LOGGED_IN_JSON);
        assert!(!result.success);
        assert_eq!(result.error_type, Some(ErrorType::Auth));
        assert_eq!(result.result, "Not logged in · Please run /login");
        let error = result.error.unwrap();
        assert!(error.starts_with("Not logged in · Please run /login\n\nHint:"));
        assert!(error.contains("ANTHROPIC_API_KEY"));
        assert_eq!(
            result.session_id.as_deref(),
            Some("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21")
        );
        assert_eq!(
            (result.cost_usd, result.duration_ms, result.num_turns),
            (Some(0.0), Some(95), Some(1))
        );
        assert_eq!(result.denied_tools, None);
    }

    #[test]
    fn post_hoc_budget_check_flags_costly_results() {
        let ctx = Context {
            budget_usd: Some(0.5),
            ..ctx()
        };
        let result = json_result(&ctx, r#"{"result":"ok","total_cost_usd":0.75}"#);
        assert!(result.success);
        assert!(result.budget_exceeded);
        assert_eq!(
            result.hint.as_deref(),
            Some(
                "Cost $0.7500 exceeded the configured budget $0.50 for this agent. Consider a \
                 cheaper model, a tighter task, or raising max_budget_usd."
            )
        );
        // Error results are checked too.
        let result = json_result(
            &ctx,
            r#"{"result":"bad","is_error":true,"total_cost_usd":0.75}"#,
        );
        assert!(result.budget_exceeded);
    }

    #[test]
    fn post_hoc_budget_check_needs_a_cap_and_an_overshoot() {
        let stdout = r#"{"result":"ok","total_cost_usd":0.75}"#;
        for budget in [None, Some(0.0), Some(0.75), Some(1.0)] {
            let ctx = Context {
                budget_usd: budget,
                ..ctx()
            };
            let result = json_result(&ctx, stdout);
            assert!(!result.budget_exceeded, "{budget:?}");
            assert_eq!(result.hint, None, "{budget:?}");
        }
    }

    // --- ordinary path: verbose array ---------------------------------------

    #[test]
    fn verbose_array_takes_last_result_element() {
        let stdout = r#"[{"type":"system","subtype":"init"},
            {"type":"result","result":"first"},
            {"type":"assistant","message":{"content":[]}},
            {"type":"result","result":"last","session_id":"cli-9"},
            {"type":"user"}]"#;
        let result = json_result(&ctx(), stdout);
        assert_eq!(result.result, "last");
        assert_eq!(result.session_id.as_deref(), Some("cli-9"));
    }

    #[test]
    fn verbose_not_logged_in_array_is_auth() {
        let result = json_result(&ctx(), NOT_LOGGED_IN_VERBOSE);
        assert_eq!(result.error_type, Some(ErrorType::Auth));
        assert_eq!(
            result.session_id.as_deref(),
            Some("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b23")
        );
        assert_eq!(result.hint, None, "its one MCP server connected");
    }

    #[test]
    fn verbose_array_auth_signal_classifies_reworded_errors() {
        let stdout = r#"[{"type":"assistant","error":"authentication_failed","message":{}},
            {"type":"result","is_error":true,"result":"Something new went wrong"}]"#;
        assert_eq!(
            json_result(&ctx(), stdout).error_type,
            Some(ErrorType::Auth)
        );
    }

    #[test]
    fn verbose_array_reports_failed_mcp_servers() {
        let stdout = r#"[{"type":"system","subtype":"init","mcp_servers":[{"name":"db","status":"failed"}]},
            {"type":"result","result":"no db"}]"#;
        let result = json_result(&ctx(), stdout);
        assert!(result.success);
        assert!(result.hint.unwrap().contains("db (failed)"));
    }

    #[test]
    fn verbose_array_without_result_falls_back_to_plain_text() {
        let result = json_result(&ctx(), r#"[{"type":"system"}]"#);
        assert!(result.success);
        assert_eq!(result.result, r#"[{"type":"system"}]"#);
    }

    // --- ordinary path: killed runs -----------------------------------------

    #[test]
    fn complete_result_beats_timeout_with_cleanup_note() {
        let result = interpreted(&killed(
            r#"{"type":"result","result":"paid answer","total_cost_usd":0.42}"#,
            Kill::Timeout,
        ));
        assert!(result.success);
        assert_eq!(result.result, "paid answer");
        assert_eq!(result.cost_usd, Some(0.42));
        assert_eq!(result.error_type, None);
        assert_eq!(
            result.hint.as_deref(),
            Some(messages::CLEANUP_NOTE_AFTER_TIMEOUT)
        );
    }

    #[test]
    fn complete_result_beats_cancel_with_cleanup_note() {
        let result = interpreted(&killed(
            r#"{"type":"result","result":"done"}"#,
            Kill::Cancel,
        ));
        assert!(result.success);
        assert_eq!(
            result.hint.as_deref(),
            Some(messages::CLEANUP_NOTE_AFTER_CANCEL)
        );
    }

    #[test]
    fn complete_verbose_array_beats_timeout() {
        let result = interpreted(&killed(
            r#"[{"type":"result","result":"in array"}]"#,
            Kill::Timeout,
        ));
        assert!(result.success);
        assert_eq!(result.result, "in array");
    }

    #[test]
    fn timeout_requires_a_complete_result() {
        for stdout in [
            "",
            "partial text",
            r#"{"type":"result","result":"cut o"#,
            r#"{"result":"no type","is_error":false}"#,
            "[]",
        ] {
            let result = interpreted(&killed(stdout, Kill::Timeout));
            assert!(!result.success, "{stdout}");
            assert_eq!(result.error_type, Some(ErrorType::Timeout), "{stdout}");
            assert_eq!(result.result, "", "{stdout}");
            assert_eq!(result.session_id.as_deref(), Some(GENERATED), "{stdout}");
        }
    }

    #[test]
    fn timeout_error_suggests_a_longer_timeout_and_resume() {
        let result = interpreted(&killed("", Kill::Timeout));
        assert_eq!(
            result.error.as_deref(),
            Some(
                "Agent 'web' timed out after 300s. Options: pass timeout_seconds= for a longer \
                 one-off run, use dispatch_async for fire-and-forget, or raise the agent default \
                 (agent-dispatch update web --timeout 600). Partial work may be resumable: \
                 dispatch_session(agent='web', task='Continue where you left off', \
                 session_id='gen-0000')."
            )
        );
    }

    #[test]
    fn budget_payload_received_before_cleanup_timeout_wins() {
        let stdout = r#"{"type":"result","is_error":true,"subtype":"error_max_budget_usd",
            "session_id":"cli-b","total_cost_usd":2.01}"#;
        let result = interpreted(&killed(stdout, Kill::Timeout));
        assert_eq!(result.error_type, Some(ErrorType::Budget));
        assert!(result.budget_exceeded);
        assert_eq!(result.session_id.as_deref(), Some("cli-b"));
        assert_eq!(result.cost_usd, Some(2.01));
    }

    #[test]
    fn killed_error_payload_quotes_the_observed_exit() {
        let result = interpreted(&killed(
            r#"{"type":"result","is_error":true}"#,
            Kill::Timeout,
        ));
        assert_eq!(
            result.error.as_deref(),
            Some("Agent 'web' reported an error with no details (exit code -9)")
        );
    }

    #[test]
    fn cancel_without_result_is_a_cli_error_with_session() {
        let result = interpreted(&killed("partial", Kill::Cancel));
        assert!(!result.success);
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
        assert!(
            result
                .error
                .unwrap()
                .starts_with("Dispatch to agent 'web' was cancelled before it finished.")
        );
    }

    // --- ordinary path: old-CLI retry ----------------------------------------

    const SESSION_ID_REJECTED: &str = "error: unknown option '--session-id'\n";

    #[test]
    fn retry_when_old_cli_rejects_session_id() {
        let verdict = interpret_json(&ctx(), &run("", SESSION_ID_REJECTED, Exit::Code(1)));
        assert_eq!(verdict, Verdict::RetryWithoutSessionId);
    }

    #[test]
    fn retry_only_once_and_only_for_a_generated_session_id() {
        let out = run("", SESSION_ID_REJECTED, Exit::Code(1));
        let second = Context {
            first_attempt: false,
            session_of_record: None,
            session_id_was_generated: false,
            ..ctx()
        };
        let result = done(interpret_json(&second, &out));
        assert_eq!(result.error.as_deref(), Some(SESSION_ID_REJECTED.trim()));
        let resumed = Context {
            session_id_was_generated: false,
            ..ctx()
        };
        assert!(matches!(interpret_json(&resumed, &out), Verdict::Done(_)));
    }

    #[test]
    fn no_retry_for_other_rejections_or_when_output_exists() {
        let other = run("", "error: unknown option '--bogus-flag'", Exit::Code(1));
        assert!(matches!(interpret_json(&ctx(), &other), Verdict::Done(_)));
        let with_output = run("text", SESSION_ID_REJECTED, Exit::Code(1));
        assert!(matches!(
            interpret_json(&ctx(), &with_output),
            Verdict::Done(_)
        ));
        let clean_exit = run("", SESSION_ID_REJECTED, Exit::Code(0));
        assert!(matches!(
            interpret_json(&ctx(), &clean_exit),
            Verdict::Done(_)
        ));
    }

    // --- spawn failures --------------------------------------------------------

    #[test]
    fn spawn_failure_maps_os_error_kinds() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        let result = spawn_failure(&ctx(), &missing);
        assert_eq!(result.error_type, Some(ErrorType::NotFound));
        assert_eq!(result.error, Some(missing.to_string()));
        assert_eq!(result.session_id, None);

        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let result = spawn_failure(&ctx(), &denied);
        assert_eq!(result.error_type, Some(ErrorType::Permission));
        assert!(
            result
                .error
                .unwrap()
                .contains("\n\nHint: Agent 'web' was denied")
        );

        let other = io::Error::other("too many open files");
        let result = spawn_failure(&ctx(), &other);
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert_eq!(result.error.as_deref(), Some("too many open files"));
    }

    // --- streaming path ---------------------------------------------------------

    #[test]
    fn stream_progress_reports_text_and_tool_use() {
        let mut collector = StreamCollector::new();
        let long = "д".repeat(600);
        let line = json!({"type": "assistant", "message": {"content": [
            {"type": "text", "text": long},
            {"type": "text", "text": ""},
            {"type": "tool_use", "name": "Bash"},
            {"type": "tool_use"},
            {"type": "thinking", "thinking": "hmm"},
            "not a block"
        ]}})
        .to_string();
        let messages = collector.feed_line(line.as_bytes());
        assert_eq!(
            messages,
            [
                "д".repeat(500),
                "Using tool: Bash".into(),
                "Using tool: ?".into()
            ]
        );
    }

    #[test]
    fn stream_skips_blank_garbage_and_malformed_lines() {
        let mut collector = StreamCollector::new();
        for line in [
            "",
            "   \r",
            "not json",
            "[1, 2]",
            r#""text""#,
            r#"{"type":"assistant"}"#,
            r#"{"type":"assistant","message":"x"}"#,
            r#"{"type":"assistant","message":{"content":{"type":"text"}}}"#,
            r#"{"type":"user","message":{"content":[{"type":"text","text":"tool output"}]}}"#,
        ] {
            assert!(collector.feed_line(line.as_bytes()).is_empty(), "{line}");
        }
        collector.feed_line(br#"{"type":"result","result":"kept"}"#);
        let result = done(collector.decide(&ctx(), b"", Exit::Code(0), None));
        assert_eq!(result.result, "kept");
    }

    #[test]
    fn stream_last_result_wins() {
        let result = done(stream(
            &[
                r#"{"type":"result","result":"first"}"#,
                r#"{"type":"result","result":"second","session_id":"cli-2"}"#,
            ],
            "",
            Exit::Code(0),
            None,
        ));
        assert_eq!(result.result, "second");
        assert_eq!(result.session_id.as_deref(), Some("cli-2"));
    }

    #[test]
    fn stream_result_beats_timeout_with_cleanup_note() {
        let result = done(stream(
            &[r#"{"type":"result","result":"ANSWER"}"#],
            "",
            Exit::Signal(9),
            Some(Kill::Timeout),
        ));
        assert!(result.success);
        assert_eq!(result.result, "ANSWER");
        assert_eq!(
            result.hint.as_deref(),
            Some(messages::CLEANUP_NOTE_AFTER_TIMEOUT)
        );
    }

    #[test]
    fn stream_timeout_without_result_keeps_session() {
        let result = done(stream(
            &[r#"{"type":"assistant","message":{"content":[]}}"#],
            "",
            Exit::Signal(9),
            Some(Kill::Timeout),
        ));
        assert_eq!(result.error_type, Some(ErrorType::Timeout));
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    #[test]
    fn stream_cancel_without_result_is_a_cli_error() {
        let result = done(stream(&[], "", Exit::Signal(9), Some(Kill::Cancel)));
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert!(
            result
                .error
                .unwrap()
                .contains("was cancelled before it finished")
        );
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    #[test]
    fn stream_without_result_reports_stderr_or_exit_code() {
        let result = done(stream(
            &[],
            "boom: everything is on fire\n",
            Exit::Code(3),
            None,
        ));
        assert!(!result.success);
        assert_eq!(result.error.as_deref(), Some("boom: everything is on fire"));
        assert_eq!(result.error_type, Some(ErrorType::CliError));
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));

        let result = done(stream(&[], "", Exit::Signal(15), None));
        assert_eq!(
            result.error.as_deref(),
            Some("No result received (exit code -15)")
        );
    }

    #[test]
    fn stream_retry_on_session_id_rejection_ignores_exit_code() {
        let verdict = stream(&[], SESSION_ID_REJECTED, Exit::Code(0), None);
        assert_eq!(verdict, Verdict::RetryWithoutSessionId);
        let mut collector = StreamCollector::new();
        collector.feed_line(b"");
        let second = Context {
            first_attempt: false,
            ..ctx()
        };
        let verdict =
            collector.decide(&second, SESSION_ID_REJECTED.as_bytes(), Exit::Code(1), None);
        assert!(matches!(verdict, Verdict::Done(_)));
    }

    #[test]
    fn stream_error_payload_without_details_omits_exit_code() {
        let result = done(stream(
            &[r#"{"type":"result","is_error":true}"#],
            "",
            Exit::Code(1),
            None,
        ));
        assert_eq!(
            result.error.as_deref(),
            Some("Agent 'web' reported an error with no details")
        );
        assert_eq!(result.session_id.as_deref(), Some(GENERATED));
    }

    #[test]
    fn stream_not_logged_in_sample_is_auth() {
        let mut collector = StreamCollector::new();
        let progress: Vec<String> = NOT_LOGGED_IN_STREAM
            .lines()
            .flat_map(|line| collector.feed_line(line.as_bytes()))
            .collect();
        assert_eq!(progress, ["Not logged in · Please run /login"]);
        let result = done(collector.decide(&ctx(), b"", Exit::Code(1), None));
        assert_eq!(result.error_type, Some(ErrorType::Auth));
        assert_eq!(
            result.session_id.as_deref(),
            Some("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b22")
        );
        assert!(result.error.unwrap().contains("ANTHROPIC_API_KEY"));
    }

    #[test]
    fn stream_authentication_failed_without_result_is_auth() {
        let result = done(stream(
            &[r#"{"type":"assistant","error":"authentication_failed","message":{"content":[]}}"#],
            "",
            Exit::Code(1),
            None,
        ));
        assert_eq!(result.error_type, Some(ErrorType::Auth));
        assert!(
            result
                .error
                .unwrap()
                .starts_with("No result received (exit code 1)\n\nHint:")
        );
    }

    #[test]
    fn stream_failed_mcp_servers_add_hint_to_any_result() {
        let init = r#"{"type":"system","subtype":"init","mcp_servers":[
            {"name":"ok","status":"connected"},{"name":"db","status":"failed"}]}"#
            .replace('\n', "");
        let result = done(stream(
            &[&init, r#"{"type":"result","result":"x\nSTATUS: partial"}"#],
            "",
            Exit::Code(0),
            None,
        ));
        let hint = result.hint.unwrap();
        assert!(
            hint.starts_with("The agent reports its work is PARTIAL"),
            "{hint}"
        );
        assert!(
            hint.ends_with(
                "Check that project's .mcp.json and run `claude mcp list` in its directory."
            ),
            "{hint}"
        );
        assert!(
            hint.contains("db (failed)") && !hint.contains("ok ("),
            "{hint}"
        );

        let result = done(stream(&[&init], "", Exit::Signal(9), Some(Kill::Timeout)));
        assert_eq!(result.error_type, Some(ErrorType::Timeout));
        assert!(result.hint.unwrap().contains("db (failed)"));
    }

    #[test]
    fn stream_invalid_utf8_result_line_succeeds() {
        let mut collector = StreamCollector::new();
        collector.feed_line(b"{\"type\":\"result\",\"result\":\"caf\xe9\"}\n");
        let result = done(collector.decide(&ctx(), b"", Exit::Code(0), None));
        assert!(result.success);
        assert_eq!(result.result, "caf\u{FFFD}");
    }

    #[test]
    fn stream_post_hoc_budget_check_applies() {
        let mut collector = StreamCollector::new();
        collector.feed_line(br#"{"type":"result","result":"ok","total_cost_usd":3}"#);
        let ctx = Context {
            budget_usd: Some(2.0),
            ..ctx()
        };
        let result = done(collector.decide(&ctx, b"", Exit::Code(0), None));
        assert!(result.budget_exceeded);
    }
}
