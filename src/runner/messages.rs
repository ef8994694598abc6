//! The texts a result carries to its caller whichever CLI ran: what to do
//! after a timeout or a cancel, how to resume a session, what a partial or
//! blocked answer, denied tools or an overspent budget mean. Backends add
//! their own words for their own failures.

use super::result::Outcome;

// The phrases below name MCP tools and parameters. They are constants so
// that a surface speaking other words (the CLI's `test`) can find and
// translate them; the MCP results keep them verbatim.

/// The one-off ways to get more time, in MCP words.
pub const MORE_TIME_MCP: &str =
    "pass timeout_seconds= for a longer one-off run, use dispatch_async for fire-and-forget";
/// Leads a measured timeout suggestion, in MCP words; the seconds follow.
pub const SUGGESTED_TIMEOUT_MCP: &str = "suggest timeout_seconds=";
/// Follows a CLI command that grants tools, about the MCP tool that can too.
pub const GRANT_NOTE_MCP: &str =
    " (update_agent grants permissions only where settings.mcp_may_grant is true)";
/// Opens every resume call `resume_call` and `outcome_hint` write.
pub const RESUME_CALL_MCP: &str = "dispatch_session(agent='";

/// How to continue a session that stopped early, for hints that offer it.
fn resume_call(agent: &str, session_id: &str) -> String {
    format!(
        "{RESUME_CALL_MCP}{agent}', task='Continue where you left off', \
         session_id='{session_id}')"
    )
}

pub fn resumable_sentence(agent: &str, session_id: Option<&str>) -> String {
    session_id
        .map(|id| {
            format!(
                " Partial work may be resumable: {}.",
                resume_call(agent, id)
            )
        })
        .unwrap_or_default()
}

/// The whole `error` of a run that hit its deadline without a complete
/// result. A measured suggestion is offered only when it is longer than
/// the timeout that just failed.
pub fn timeout_message(
    agent: &str,
    timeout_secs: u64,
    suggested: Option<u64>,
    session_id: Option<&str>,
) -> String {
    let suggested = suggested.filter(|s| *s > timeout_secs);
    let retry = suggested.unwrap_or(timeout_secs.saturating_mul(2));
    let suggestion = suggested
        .map(|s| {
            format!(
                " Recent runs of this agent {SUGGESTED_TIMEOUT_MCP}{s} (50% over its measured \
                 p90)."
            )
        })
        .unwrap_or_default();
    format!(
        "Agent '{agent}' timed out after {timeout_secs}s. Options: {MORE_TIME_MCP}, or raise the \
         agent default (agent-dispatch update {agent} --timeout {retry}).{suggestion}{}",
        resumable_sentence(agent, session_id)
    )
}

/// The whole `error` of a run we killed because the caller cancelled it.
pub fn cancelled_message(agent: &str, session_id: Option<&str>) -> String {
    format!(
        "Dispatch to agent '{agent}' was cancelled before it finished.{}",
        resumable_sentence(agent, session_id)
    )
}

/// Goes to `hint` when tools were denied: the answer may be incomplete.
pub fn denial_hint(agent: &str, denied: &[String]) -> String {
    format!(
        "{} tool call(s) were denied by permissions: {}. The result may be incomplete — the \
         agent could not use these tools. To grant access, ask the user to run: agent-dispatch \
         update {agent} --allowed-tools {}{GRANT_NOTE_MCP}.",
        denied.len(),
        denied.join(", "),
        denied.join(",")
    )
}

/// `denial_hint` for a CLI that takes no tool lists: the fix is a wider
/// permission mode.
pub fn denial_hint_by_mode(agent: &str, denied: &[String]) -> String {
    format!(
        "{} tool call(s) were denied by permissions: {}. The result may be incomplete — the \
         agent could not use these tools. To grant more, ask the user to raise its permission \
         mode, e.g. agent-dispatch update {agent} --permission-mode acceptEdits{GRANT_NOTE_MCP}.",
        denied.len(),
        denied.join(", ")
    )
}

/// Goes to `hint` when a run ended up costing more than its cap. It never
/// fails the dispatch: the answer is there, only the spend is worth flagging.
pub fn budget_exceeded_note(cost: f64, budget: f64) -> String {
    format!(
        "Cost ${cost:.4} exceeded the configured budget ${budget:.2} for this agent. Consider a \
         cheaper model, a tighter task, or raising max_budget_usd."
    )
}

/// Goes to `hint` when a run asked for JSON printed plain text: the answer
/// is kept, but what only the JSON carries is missing.
pub const NOT_JSON_NOTE: &str = "The agent's output was plain text, not the JSON it was asked \
     for, so this run's session and cost are unknown (the answer is kept as printed).";

/// Goes to `hint` when the result was complete but the process had to be
/// killed at the deadline. Tests and callers look for "cleanup".
pub const CLEANUP_NOTE_AFTER_TIMEOUT: &str = "The agent produced its final result but the \
     process had not exited by the timeout and was killed. The result is complete — only \
     cleanup was cut short.";

/// The same situation when the kill came from a cancellation, not the
/// deadline.
pub const CLEANUP_NOTE_AFTER_CANCEL: &str = "The agent produced its final result but the process \
     had not exited when the dispatch was cancelled and was killed. The result is complete — only \
     cleanup was cut short.";

/// Goes to `hint` for a partial or blocked answer: how to carry on.
pub fn outcome_hint(agent: &str, outcome: Outcome, session_id: Option<&str>) -> Option<String> {
    let resume = session_id.map_or_else(
        || format!("{RESUME_CALL_MCP}{agent}', ...)"),
        |id| resume_call(agent, id),
    );
    match outcome {
        Outcome::Done => None,
        Outcome::Partial => Some(format!(
            "The agent reports its work is PARTIAL — read the result for what is missing, then \
             continue in the same session via {resume} or re-dispatch with what it needed."
        )),
        Outcome::Blocked => Some(format!(
            "The agent reports it is BLOCKED — the result names what it needs (context, access, \
             a tool, a running service). Supply it and re-dispatch, or resume via {resume}."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_message_doubles_without_a_suggestion() {
        assert_eq!(
            timeout_message("web", 300, None, Some("s-1")),
            "Agent 'web' timed out after 300s. Options: pass timeout_seconds= for a longer \
             one-off run, use dispatch_async for fire-and-forget, or raise the agent default \
             (agent-dispatch update web --timeout 600). Partial work may be resumable: \
             dispatch_session(agent='web', task='Continue where you left off', \
             session_id='s-1')."
        );
    }

    #[test]
    fn timeout_message_offers_a_longer_suggestion() {
        let message = timeout_message("web", 300, Some(450), None);
        assert!(message.contains("--timeout 450)."), "{message}");
        assert!(message.ends_with(
            " Recent runs of this agent suggest timeout_seconds=450 (50% over its measured p90)."
        ));
    }

    #[test]
    fn timeout_message_ignores_a_suggestion_not_above_current() {
        let message = timeout_message("web", 300, Some(300), None);
        assert!(message.contains("--timeout 600)."), "{message}");
        assert!(!message.contains("Recent runs"), "{message}");
    }

    #[test]
    fn denial_hint_lists_tools() {
        assert_eq!(
            denial_hint("web", &["Bash".into(), "Write".into()]),
            "2 tool call(s) were denied by permissions: Bash, Write. The result may be \
             incomplete — the agent could not use these tools. To grant access, ask the user \
             to run: agent-dispatch update web --allowed-tools Bash,Write (update_agent grants \
             permissions only where settings.mcp_may_grant is true)."
        );
    }

    #[test]
    fn budget_exceeded_note_rounds_like_python() {
        assert_eq!(
            budget_exceeded_note(1.23456, 1.0),
            "Cost $1.2346 exceeded the configured budget $1.00 for this agent. Consider a \
             cheaper model, a tighter task, or raising max_budget_usd."
        );
    }

    #[test]
    fn outcome_hints_offer_resume() {
        assert_eq!(outcome_hint("web", Outcome::Done, Some("s")), None);
        let partial = outcome_hint("web", Outcome::Partial, Some("s-1")).unwrap();
        assert!(partial.starts_with("The agent reports its work is PARTIAL"));
        assert!(partial.contains(
            "via dispatch_session(agent='web', task='Continue where you left off', \
             session_id='s-1') or re-dispatch"
        ));
        let blocked = outcome_hint("web", Outcome::Blocked, None).unwrap();
        assert!(blocked.ends_with("or resume via dispatch_session(agent='web', ...)."));
    }

    #[test]
    fn cancelled_message_offers_resume() {
        assert_eq!(
            cancelled_message("web", None),
            "Dispatch to agent 'web' was cancelled before it finished."
        );
        assert!(cancelled_message("web", Some("s-1")).contains("session_id='s-1'"));
    }
}
