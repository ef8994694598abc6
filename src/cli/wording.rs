//! Dispatch texts in CLI words. The runner words a result's `error` and
//! `hint` for its main reader, an MCP client (`timeout_seconds=`,
//! `dispatch_async`, `dispatch_session(…)`), and MCP results keep those
//! words: clients and tests read them. `test` shows the same texts to a
//! person at a terminal, so it translates the MCP phrases, which
//! `runner::messages` keeps as constants for this, into what the CLI
//! offers. Translating here rather than wording both at the source keeps
//! one text per situation in the runner.

use crate::runner::messages::{
    GRANT_NOTE_MCP, MORE_TIME_MCP, RESUME_CALL_MCP, SUGGESTED_TIMEOUT_MCP,
};

/// `text` with every MCP phrase the runner writes replaced by its CLI
/// counterpart for agent `agent`.
pub fn cli_words(text: &str, agent: &str) -> String {
    let text = text
        .replace(
            MORE_TIME_MCP,
            &format!("retry with more time (agent-dispatch test {agent} --timeout SECONDS)"),
        )
        .replace(SUGGESTED_TIMEOUT_MCP, "suggest --timeout ")
        .replace(GRANT_NOTE_MCP, "");
    resume_calls(&text)
}

/// Each `dispatch_session(agent='A', …, session_id='S')` becomes the
/// `claude --resume S` a person runs in the agent's directory; one without
/// a session id becomes a new `test`.
fn resume_calls(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(RESUME_CALL_MCP) {
        let call = &rest[at..];
        let Some(end) = call.find(')') else { break };
        out.push_str(&rest[..at]);
        let args = &call[RESUME_CALL_MCP.len()..end];
        let agent = args.split('\'').next().unwrap_or_default();
        match args.split_once("session_id='") {
            Some((_, id)) => out.push_str(&format!(
                "'claude --resume {}' in the agent's directory",
                id.trim_end_matches('\'')
            )),
            None => out.push_str(&format!("'agent-dispatch test {agent} TASK'")),
        }
        rest = &call[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::messages;
    use crate::runner::result::Outcome;

    #[test]
    fn timeout_texts_speak_cli() {
        let text = cli_words(
            &messages::timeout_message("web", 300, Some(900), Some("s-1")),
            "web",
        );
        assert_eq!(
            text,
            "Agent 'web' timed out after 300s. Options: retry with more time \
             (agent-dispatch test web --timeout SECONDS), or raise the agent default \
             (agent-dispatch update web --timeout 900). Recent runs of this agent suggest \
             --timeout 900 (50% over its measured p90). Partial work may be resumable: \
             'claude --resume s-1' in the agent's directory."
        );
    }

    #[test]
    fn no_mcp_name_survives_in_any_runner_text() {
        let texts = [
            messages::timeout_message("web", 300, Some(900), Some("s-1")),
            messages::timeout_message("web", 300, None, None),
            messages::cancelled_message("web", Some("s-1")),
            messages::denial_hint("web", &["Bash".into()]),
            messages::outcome_hint("web", Outcome::Blocked, None).unwrap_or_default(),
            messages::outcome_hint("web", Outcome::Partial, Some("s-1")).unwrap_or_default(),
        ];
        for text in texts {
            let cli = cli_words(&text, "web");
            for mcp in [
                "timeout_seconds",
                "dispatch_",
                "update_agent",
                "session_id=",
            ] {
                assert!(!cli.contains(mcp), "{mcp} in: {cli}");
            }
        }
    }
}
