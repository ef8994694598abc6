//! What went wrong in a run and what to tell the caller about it: the text
//! classification behind `error_type`, every hint and message text a result
//! can carry, and the small facts read from the CLI's transcript that feed
//! them (denied tools, an authentication failure, MCP servers that did not
//! connect, an old CLI rejecting `--session-id`). `interpret` decides which
//! applies; this file only knows the words.

use crate::chars;
use serde_json::{Map, Value};

use crate::pyfmt::format_g;
use crate::pyvalue::truthy as is_truthy;
use crate::runner::lenient_json::str_field;
use crate::runner::messages::resumable_sentence;
use crate::runner::result::{ErrorType, text_of};
use crate::runner::run_facts::first_matching;

const AUTH_PATTERNS: [&str; 5] = [
    "not logged in",
    "please run /login",
    "invalid api key",
    "authentication_error",
    "oauth token has expired",
];

const USAGE_LIMIT_PATTERNS: [&str; 6] = [
    "session limit",
    "usage limit",
    "rate limit",
    "rate_limit",
    "too many requests",
    "quota exceeded",
];

const PERMISSION_PATTERNS: [&str; 9] = [
    "permission denied",
    "not allowed",
    "not permitted",
    "disallowed tool",
    "permission mode",
    "not have permission",
    "tool is not available",
    "tool_use is not allowed",
    "unauthorized",
];

/// Classifies a failure by its text (case-insensitive substrings).
///
/// Auth is checked first: a missing or expired login makes every run fail
/// before any tool or quota matters, so it is the cause to report, and its
/// messages can contain words of the later groups (an API "401
/// Unauthorized" would otherwise read as a tool permission problem). Then
/// usage limits, before permissions, because a limit message can mention
/// what was "not allowed" while the fix is only to wait.
pub fn classify(text: &str) -> ErrorType {
    first_matching(
        text,
        &[
            (&AUTH_PATTERNS, ErrorType::Auth),
            (&USAGE_LIMIT_PATTERNS, ErrorType::UsageLimit),
            (&PERMISSION_PATTERNS, ErrorType::Permission),
        ],
    )
}

/// Appends the hint that goes with a classified error type to its text.
/// Every classification site goes through here so none forgets its hint.
pub fn with_hint(mut error: String, error_type: &ErrorType, agent: &str) -> String {
    match error_type {
        ErrorType::Permission => error.push_str(&permission_hint(agent)),
        ErrorType::UsageLimit => {
            let hint = usage_limit_hint(&error);
            error.push_str(&hint);
        }
        ErrorType::Auth => error.push_str(AUTH_HINT),
        _ => {}
    }
    error
}

fn permission_hint(agent: &str) -> String {
    format!(
        "\n\nHint: Agent '{agent}' was denied a tool or action. To fix, configure permissions \
         in agents.yaml:\n  agent-dispatch update {agent} --permission-mode bypassPermissions\
         \n  agent-dispatch update {agent} --allowed-tools Bash,Read,Edit,Write,Glob,Grep"
    )
}

fn usage_limit_hint(error: &str) -> String {
    let resets = reset_time(error)
        .map(|when| format!(" It resets {when}."))
        .unwrap_or_default();
    format!(
        "\n\nHint: this is the Claude ACCOUNT's usage limit, not this agent's.{resets} Every \
         agent shares it, so dispatching a different agent (or retrying now) fails the same \
         way — wait for the reset, or reduce concurrent dispatches (settings.max_concurrency). \
         Nothing was billed for this call."
    )
}

/// When the limit resets, from text like `… · resets 6pm (Asia/Almaty)` or
/// `reset at 18:00`: what follows `reset`/`resets` (and an optional `at`)
/// up to a newline or period, at most 40 characters, trimmed.
fn reset_time(text: &str) -> Option<&str> {
    // ASCII lower-casing keeps byte offsets valid for `text`.
    let lower = text.to_ascii_lowercase();
    lower.match_indices("reset").find_map(|(at, _)| {
        let starts_word = !text[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        if !starts_word {
            return None;
        }
        let mut rest = &text[at + "reset".len()..];
        rest = rest.strip_prefix(['s', 'S']).unwrap_or(rest);
        let spaced = rest.trim_start();
        if spaced.len() == rest.len() {
            return None;
        }
        rest = spaced;
        if let Some(after_at) = rest.get(..2).filter(|w| w.eq_ignore_ascii_case("at")) {
            let after = &rest[after_at.len()..];
            if after.starts_with(char::is_whitespace) {
                rest = after.trim_start();
            }
        }
        let end = rest
            .char_indices()
            .take(40)
            .find(|(_, c)| *c == '\n' || *c == '.')
            .map_or_else(|| chars::prefix(rest, 40).len(), |(end, _)| end);
        Some(rest[..end].trim()).filter(|when| !when.is_empty())
    })
}

/// Our addition: the child `claude` is not logged in. The fix is outside
/// the agent, so say where it is and that other agents fail the same way.
const AUTH_HINT: &str = "\n\nHint: the claude CLI that agent-dispatch starts is not logged in, so \
     the agent never ran. Every agent uses the same login, so dispatching another agent fails \
     the same way. Run `claude` once in a terminal and use /login, or set ANTHROPIC_API_KEY in \
     the environment the agent-dispatch MCP server runs with, then retry.";

/// Appended to `error` when the CLI stopped at the spend cap. `cap` is the
/// effective `--max-budget-usd`, if one was passed.
pub fn budget_hint(agent: &str, cap: Option<f64>, session_id: Option<&str>) -> String {
    // A zero cap is no cap, as everywhere else budgets are read.
    let cap = cap.filter(|cap| *cap > 0.0).map_or_else(
        || "the configured cap".to_owned(),
        |cap| format!("${}", format_g(cap)),
    );
    format!(
        "\n\nHint: the dispatch was stopped by the spend cap {cap} (passed to claude as \
         --max-budget-usd), so this answer is incomplete. Raise it (agent-dispatch update \
         {agent} --max-budget-usd <amount>), use a cheaper model, or split the task into \
         smaller dispatches.{}",
        resumable_sentence(agent, session_id)
    )
}

/// Appended to `error` when the CLI stopped at its turn limit.
pub fn max_turns_hint(agent: &str, session_id: Option<&str>) -> String {
    format!(
        "\n\nHint: the agent used every turn it was given, so this answer is incomplete. \
         Raise its limit (agent-dispatch update {agent} --max-turns <n>) or split the task.{}",
        resumable_sentence(agent, session_id)
    )
}

/// Appended to `error` when no answer fit the JSON Schema asked for.
pub const SCHEMA_HINT: &str = "\n\nHint: the agent could not produce an answer that fits the \
     JSON Schema in response_format. Loosen the schema, or ask for \"json\" and check the shape \
     yourself.";

/// The CLI's `permission_denials` as tool names: `tool_name`, else `tool`,
/// else `unknown`; each cut to 100 characters, duplicates dropped, at most
/// 10. `None` when there were no denials.
pub fn denied_tools(denials: Option<&Value>) -> Option<Vec<String>> {
    const MAX_NAMES: usize = 10;
    let entries = denials?.as_array().filter(|entries| !entries.is_empty())?;
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let name = match entry {
            Value::Object(fields) => ["tool_name", "tool"]
                .into_iter()
                .filter_map(|key| fields.get(key))
                .find(|value| is_truthy(value))
                .map_or_else(|| "unknown".to_owned(), text_of),
            other => text_of(other),
        };
        let name = chars::prefix(&name, 100);
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
            if names.len() == MAX_NAMES {
                break;
            }
        }
    }
    Some(names)
}

/// Why an error payload without text failed: the first five non-blank
/// `errors` entries (300 characters each), else the CLI's `subtype`.
pub fn failure_detail(errors: Option<&Value>, subtype: Option<&Value>) -> Option<String> {
    const MAX_CHARS: usize = 300;
    if let Some(Value::Array(entries)) = errors {
        let details: Vec<String> = entries
            .iter()
            .take(5)
            .map(text_of)
            .filter_map(|text| {
                let text = text.trim();
                (!text.is_empty()).then(|| chars::prefix(text, MAX_CHARS).to_owned())
            })
            .collect();
        if !details.is_empty() {
            return Some(details.join("; "));
        }
    }
    let subtype = subtype?.as_str()?.trim();
    (!subtype.is_empty()).then(|| {
        format!(
            "claude CLI reported '{}'",
            chars::prefix(subtype, MAX_CHARS)
        )
    })
}

/// Whether `claude` refused the `--session-id` flag (CLIs before it
/// existed), so the run may be retried once without it.
pub fn rejects_session_id_flag(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("--session-id")
        && [
            "unknown option",
            "unrecognized option",
            "unknown argument",
            "unexpected argument",
        ]
        .iter()
        .any(|phrase| lower.contains(phrase))
}

/// An assistant message the CLI synthesized because the API refused its
/// credentials (`"error": "authentication_failed"`): a structured auth
/// signal that does not depend on the wording of the text.
pub fn is_auth_failure_event(event: &Map<String, Value>) -> bool {
    str_field(event, "type") == Some("assistant")
        && str_field(event, "error") == Some("authentication_failed")
}

/// An MCP server of the agent's project that was not available to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedMcpServer {
    pub name: String,
    pub status: String,
}

/// For a `system`/`init` event: the listed MCP servers whose status is not
/// `connected` (entries without a status say nothing and are skipped).
/// `None` for any other event.
pub fn failed_mcp_servers(event: &Map<String, Value>) -> Option<Vec<FailedMcpServer>> {
    let is_init =
        str_field(event, "type") == Some("system") && str_field(event, "subtype") == Some("init");
    if !is_init {
        return None;
    }
    let servers = event.get("mcp_servers").and_then(Value::as_array);
    let failed = servers
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|server| {
            let status = str_field(server, "status")?;
            let name = server.get("name").map_or_else(|| "?".to_owned(), text_of);
            (status != "connected").then(|| FailedMcpServer {
                name: chars::prefix(&name, 100).to_owned(),
                status: chars::prefix(status, 100).to_owned(),
            })
        })
        .collect();
    Some(failed)
}

/// Goes to `hint` when the child's own MCP servers did not connect — the
/// usual reason a cross-project dispatch "cannot see" that project's
/// database or tracker.
pub fn mcp_failure_hint(agent: &str, servers: &[FailedMcpServer]) -> String {
    let listed: Vec<String> = servers
        .iter()
        .map(|server| format!("{} ({})", server.name, server.status))
        .collect();
    format!(
        "Agent '{agent}' ran without these MCP servers of its project: {}. Their tools were \
         unavailable, so the answer may lack what they provide. Check that project's .mcp.json \
         and run `claude mcp list` in its directory.",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn cuts_count_characters_not_bytes() {
        let long = "д".repeat(400);
        let names = denied_tools(Some(&json!([{"tool_name": long}]))).unwrap();
        assert_eq!(names, ["д".repeat(100)]);
        assert_eq!(
            failure_detail(Some(&json!([long])), None),
            Some("д".repeat(300))
        );
        let init = object(json!({"type": "system", "subtype": "init",
            "mcp_servers": [{"name": long, "status": long}]}));
        assert_eq!(
            failed_mcp_servers(&init).unwrap(),
            [FailedMcpServer {
                name: "д".repeat(100),
                status: "д".repeat(100)
            }]
        );
    }

    #[test]
    fn not_logged_in_text_is_auth() {
        assert_eq!(
            classify("Not logged in · Please run /login"),
            ErrorType::Auth
        );
        assert_eq!(
            classify("Invalid API key · Please run /login"),
            ErrorType::Auth
        );
    }

    #[test]
    fn auth_beats_usage_limit_and_permission_words() {
        assert_eq!(
            classify("API Error: 401 Unauthorized {\"type\":\"authentication_error\"}"),
            ErrorType::Auth
        );
        assert_eq!(
            classify("rate limit reached · Please run /login"),
            ErrorType::Auth
        );
    }

    #[test]
    fn usage_limit_is_checked_before_permission() {
        assert_eq!(
            classify("Too many requests: not allowed right now"),
            ErrorType::UsageLimit
        );
        for text in [
            "You've hit your session limit",
            "USAGE LIMIT reached",
            "rate_limit_error",
            "Quota exceeded",
        ] {
            assert_eq!(classify(text), ErrorType::UsageLimit, "{text}");
        }
    }

    #[test]
    fn permission_patterns_classify_as_permission() {
        for text in [
            "Permission denied",
            "Bash is not allowed",
            "operation not permitted",
            "Disallowed tool",
            "because of permission mode",
            "you do not have permission",
            "That tool is not available",
            "tool_use is not allowed here",
            "Unauthorized",
        ] {
            assert_eq!(classify(text), ErrorType::Permission, "{text}");
        }
    }

    #[test]
    fn other_text_is_cli_error() {
        assert_eq!(classify("boom"), ErrorType::CliError);
        assert_eq!(classify(""), ErrorType::CliError);
    }

    #[test]
    fn permission_hint_names_the_fix() {
        let error = with_hint("denied".into(), &ErrorType::Permission, "web");
        assert_eq!(
            error,
            "denied\n\nHint: Agent 'web' was denied a tool or action. To fix, configure \
             permissions in agents.yaml:\n  agent-dispatch update web --permission-mode \
             bypassPermissions\n  agent-dispatch update web --allowed-tools \
             Bash,Read,Edit,Write,Glob,Grep"
        );
    }

    #[test]
    fn usage_limit_hint_says_when_it_resets() {
        let error = with_hint(
            "You've hit your session limit · resets 6pm (Asia/Almaty)".into(),
            &ErrorType::UsageLimit,
            "web",
        );
        assert!(
            error.ends_with(
                "\n\nHint: this is the Claude ACCOUNT's usage limit, not this agent's. It \
                 resets 6pm (Asia/Almaty). Every agent shares it, so dispatching a different \
                 agent (or retrying now) fails the same way — wait for the reset, or reduce \
                 concurrent dispatches (settings.max_concurrency). Nothing was billed for this \
                 call."
            ),
            "{error}"
        );
    }

    #[test]
    fn reset_time_extraction() {
        assert_eq!(
            reset_time("limit · resets 6pm (Asia/Almaty)"),
            Some("6pm (Asia/Almaty)")
        );
        assert_eq!(reset_time("Limit. Resets at 18:00. Sorry"), Some("18:00"));
        assert_eq!(reset_time("will reset at\n3am"), Some("3am"));
        assert_eq!(
            reset_time(&format!("resets {}", "x".repeat(60))),
            Some("x".repeat(40).as_str())
        );
        assert_eq!(reset_time("presets 5"), None);
        assert_eq!(reset_time("resetting soon"), None);
        assert_eq!(reset_time("resets ."), None);
        assert_eq!(reset_time("no word here"), None);
    }

    #[test]
    fn usage_limit_hint_without_reset_time() {
        let error = with_hint("usage limit".into(), &ErrorType::UsageLimit, "web");
        assert!(
            error.contains("not this agent's. Every agent shares it"),
            "{error}"
        );
    }

    #[test]
    fn auth_hint_says_how_to_log_in() {
        let error = with_hint("Not logged in".into(), &ErrorType::Auth, "web");
        assert!(error.contains("/login"), "{error}");
        assert!(error.contains("ANTHROPIC_API_KEY"), "{error}");
    }

    #[test]
    fn cli_error_gets_no_hint() {
        assert_eq!(
            with_hint("boom".into(), &ErrorType::CliError, "web"),
            "boom"
        );
    }

    #[test]
    fn budget_hint_formats_cap_with_percent_g_and_offers_resume() {
        assert_eq!(
            budget_hint("web", Some(2.0), Some("s-1")),
            "\n\nHint: the dispatch was stopped by the spend cap $2 (passed to claude as \
             --max-budget-usd), so this answer is incomplete. Raise it (agent-dispatch update \
             web --max-budget-usd <amount>), use a cheaper model, or split the task into \
             smaller dispatches. Partial work may be resumable: dispatch_session(agent='web', \
             task='Continue where you left off', session_id='s-1')."
        );
        let without = budget_hint("web", None, None);
        assert!(
            without.contains("spend cap the configured cap (passed"),
            "{without}"
        );
        assert!(without.ends_with("smaller dispatches."), "{without}");
        let zero = budget_hint("web", Some(0.0), None);
        assert!(
            zero.contains("spend cap the configured cap (passed"),
            "{zero}"
        );
    }

    #[test]
    fn denial_caps_and_dedupe() {
        let mut denials: Vec<Value> = vec![
            json!({"tool_name": "Bash"}),
            json!({"tool_name": "Bash"}),
            json!({"tool_name": "", "tool": "Edit"}),
            json!({"other": 1}),
            json!("Write"),
            json!({"tool_name": "x".repeat(150)}),
        ];
        denials.extend((0..20).map(|i| json!({"tool_name": format!("T{i}")})));
        let names = denied_tools(Some(&Value::Array(denials))).unwrap();
        assert_eq!(names.len(), 10);
        assert_eq!(&names[..4], ["Bash", "Edit", "unknown", "Write"]);
        assert_eq!(names[4], "x".repeat(100));
        assert_eq!(names[5], "T0");
    }

    #[test]
    fn no_denials_is_none() {
        assert_eq!(denied_tools(None), None);
        assert_eq!(denied_tools(Some(&json!([]))), None);
        assert_eq!(denied_tools(Some(&json!("Bash"))), None);
    }

    #[test]
    fn failure_detail_from_errors_then_subtype() {
        let errors = json!([" first ", "", "second", {"code": 1}, "4", "5", "sixth"]);
        assert_eq!(
            failure_detail(Some(&errors), Some(&json!("error_during_execution"))),
            Some(r#"first; second; {"code":1}; 4"#.into())
        );
        let long = "e".repeat(400);
        assert_eq!(
            failure_detail(Some(&json!([long])), None),
            Some("e".repeat(300))
        );
        assert_eq!(
            failure_detail(Some(&json!(["  "])), Some(&json!(" error_max_turns "))),
            Some("claude CLI reported 'error_max_turns'".into())
        );
        assert_eq!(failure_detail(None, Some(&json!("  "))), None);
        assert_eq!(failure_detail(Some(&json!("x")), Some(&json!(3))), None);
    }

    #[test]
    fn session_id_rejection_needs_flag_and_phrase() {
        assert!(rejects_session_id_flag(
            "error: unknown option '--session-id'"
        ));
        assert!(rejects_session_id_flag(
            "Unexpected argument --session-id found"
        ));
        assert!(!rejects_session_id_flag(
            "error: unknown option '--bogus-flag'"
        ));
        assert!(!rejects_session_id_flag(
            "--session-id must be a valid UUID"
        ));
    }

    #[test]
    fn authentication_failed_assistant_event_is_auth() {
        let event = object(json!({"type": "assistant", "error": "authentication_failed"}));
        assert!(is_auth_failure_event(&event));
        let other = object(json!({"type": "assistant", "error": "rate_limit"}));
        assert!(!is_auth_failure_event(&other));
    }

    #[test]
    fn init_event_lists_servers_that_did_not_connect() {
        let init = object(json!({
            "type": "system", "subtype": "init",
            "mcp_servers": [
                {"name": "ok", "status": "connected"},
                {"name": "db", "status": "failed"},
                {"name": "jira", "status": "needs-auth"},
                {"name": "mystery"},
                "garbage"
            ]
        }));
        let failed = failed_mcp_servers(&init).unwrap();
        assert_eq!(
            failed,
            [
                FailedMcpServer {
                    name: "db".into(),
                    status: "failed".into()
                },
                FailedMcpServer {
                    name: "jira".into(),
                    status: "needs-auth".into()
                },
            ]
        );
        assert_eq!(
            mcp_failure_hint("web", &failed),
            "Agent 'web' ran without these MCP servers of its project: db (failed), jira \
             (needs-auth). Their tools were unavailable, so the answer may lack what they \
             provide. Check that project's .mcp.json and run `claude mcp list` in its directory."
        );
    }

    #[test]
    fn other_events_have_no_server_list() {
        assert_eq!(
            failed_mcp_servers(&object(json!({"type": "assistant"}))),
            None
        );
        let bare_init = object(json!({"type": "system", "subtype": "init"}));
        assert_eq!(failed_mcp_servers(&bare_init), Some(vec![]));
    }
}
