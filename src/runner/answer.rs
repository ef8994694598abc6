//! Building a dispatch's answer from what a backend's reader found, the
//! same for every CLI: a success from the answer's raw text (STATUS line
//! lifted, JSON parsed when asked for, hints in a fixed order), the result
//! of a run we killed before it answered, and the post-hoc spend check.

use super::messages;
use super::result::{DispatchResult, ErrorType};
use super::status_line::{lift_status, parse_json_answer};
use super::verdict::{Context, Kill};

/// Completes a successful result from the answer's raw text: the STATUS
/// line is lifted first, so JSON is parsed from what remains. Hints, in
/// order: denied tools, the cleanup note, the outcome's next step.
pub fn succeed(
    ctx: &Context,
    mut result: DispatchResult,
    raw: &str,
    killed: Option<Kill>,
) -> DispatchResult {
    let (text, outcome) = lift_status(raw);
    if ctx.response_format_json {
        result.parsed_result = parse_json_answer(&text);
    }
    let denial = result
        .denied_tools
        .as_deref()
        .map(|tools| messages::denial_hint(ctx.agent, tools));
    let cleanup = killed.map(|kill| {
        match kill {
            Kill::Timeout => messages::CLEANUP_NOTE_AFTER_TIMEOUT,
            Kill::Cancel => messages::CLEANUP_NOTE_AFTER_CANCEL,
        }
        .to_owned()
    });
    let next_step = outcome.and_then(|outcome| {
        messages::outcome_hint(ctx.agent, outcome, result.session_id.as_deref())
    });
    result.hint = join_hints([denial, cleanup, next_step]);
    result.success = true;
    result.result = text;
    result.outcome = outcome;
    result
}

/// We killed the run before it produced a complete result. The session of
/// record is reported so the partial work can be resumed.
pub fn killed_before_result(ctx: &Context, kill: Kill) -> DispatchResult {
    let session_id = ctx.session_of_record;
    let result = match kill {
        Kill::Timeout => DispatchResult::failure(
            ctx.agent,
            ErrorType::Timeout,
            messages::timeout_message(ctx.agent, ctx.timeout_secs, None, session_id),
        ),
        // Not a failure of the agent or the CLI, but callers only branch on
        // the documented types, and `cli_error` is the catch-all.
        Kill::Cancel => DispatchResult::failure(
            ctx.agent,
            ErrorType::CliError,
            messages::cancelled_message(ctx.agent, session_id),
        ),
    };
    DispatchResult {
        session_id: session_id.map(str::to_owned),
        ..result
    }
}

pub fn append_hint(result: &mut DispatchResult, note: String) {
    result.hint = join_hints([result.hint.take(), Some(note)]);
}

/// The non-empty hints joined with single spaces; `None` if there are none.
pub fn join_hints<const N: usize>(hints: [Option<String>; N]) -> Option<String> {
    let present: Vec<String> = hints
        .into_iter()
        .flatten()
        .filter(|hint| !hint.is_empty())
        .collect();
    (!present.is_empty()).then(|| present.join(" "))
}

/// Flags a result that cost more than its cap (the CLI reports the cost
/// after the fact). A budget stop already says so in its error and is left
/// alone.
pub fn flag_overspend(ctx: &Context, result: &mut DispatchResult) {
    if result.error_type != Some(ErrorType::Budget)
        && let (Some(budget), Some(cost)) = (ctx.budget_usd, result.cost_usd)
        && budget != 0.0
        && cost != 0.0
        && cost > budget
    {
        result.budget_exceeded = true;
        append_hint(result, messages::budget_exceeded_note(cost, budget));
    }
}
