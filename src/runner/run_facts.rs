//! The verdict on a run of a CLI whose reader gathers plain facts — the
//! session id, the final answer, whether the CLI said it was done, the
//! errors it reported, tokens and money — rather than one result object.
//! Codex, Gemini and opencode readers fill a `RunFacts` from their own
//! events; `decide` turns it, with how the process ended, into a
//! `DispatchResult` the same way for each of them, with the words of the
//! CLI at hand (`CliWords`: its login, its account, its npm package).

use serde_json::{Map, Value};

use super::answer::{self, killed_before_result, succeed};
use super::lenient_json;
use super::messages;
use super::result::{DispatchResult, ErrorType, Usage};
use super::stream_sink::EventStream;
use super::verdict::{Captured, Context, Exit, Kill, Verdict};

/// How much of one step a progress line shows.
const MAX_PROGRESS_CHARS: usize = 500;

/// One step's text as a progress line shows it.
pub fn progress_text(text: &str) -> String {
    crate::chars::prefix(text, MAX_PROGRESS_CHARS).to_owned()
}

/// What a reader found in one run's output.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunFacts {
    pub session_id: Option<String>,
    /// The agent's final message, complete.
    pub answer: Option<String>,
    /// What the agent said in a run that ended without a final message:
    /// kept in `result` so nothing it produced is lost.
    pub partial: Option<String>,
    /// The CLI reported the turn finished (not cut off by a kill).
    pub finished: bool,
    /// The last error the CLI reported as ending the run.
    pub failure: Option<String>,
    /// The last message about trouble reaching the CLI's service, while it
    /// kept retrying.
    pub network_trouble: Option<String>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub num_turns: Option<u64>,
    pub duration_ms: Option<u64>,
    /// Tools whose calls the CLI refused for want of permission.
    pub denied_tools: Vec<String>,
}

impl RunFacts {
    /// Adds `more` tokens to what earlier turns or steps reported.
    pub fn add_usage(&mut self, more: Usage) {
        self.usage = Some(Usage::plus(self.usage, more));
    }

    /// Records a refused tool call (each tool once, at most 10, as for
    /// claude's denials).
    pub fn deny(&mut self, tool: &str) {
        let tool = crate::chars::prefix(tool, 100);
        if self.denied_tools.len() < 10 && !self.denied_tools.iter().any(|t| t == tool) {
            self.denied_tools.push(tool.to_owned());
        }
    }

    pub fn add_cost(&mut self, usd: f64) {
        self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + usd);
    }
}

/// A reader of one CLI's JSON-lines events into `RunFacts`. Every such
/// reader is an `EventStream`: lines become event objects (malformed ones
/// are skipped), and the run is decided by `decide` in the CLI's words.
pub trait FactEvents: Send + 'static {
    const WORDS: CliWords;
    /// Takes one event; returns the progress messages it carries.
    fn observe(&mut self, event: &Map<String, Value>) -> Vec<String>;
    /// The event that ends the run has arrived.
    fn has_result(&self) -> bool;
    /// What was found, once the output ended (`stderr`: for CLIs that
    /// report some failures only there).
    fn facts(&mut self, stderr: &[u8]) -> RunFacts;
}

impl<T: FactEvents> EventStream for T {
    fn feed_line(&mut self, line: &[u8]) -> Vec<String> {
        match lenient_json::event_object(line) {
            Some(event) => self.observe(&event),
            None => Vec::new(),
        }
    }

    fn has_result(&self) -> bool {
        FactEvents::has_result(self)
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        let facts = self.facts(&ended.stderr);
        decide(ctx, facts, &ended, &T::WORDS)
    }
}

/// The words that differ between CLIs in a failed result.
#[derive(Debug, Clone, Copy)]
pub struct CliWords {
    /// The executable, as messages name it.
    pub program: &'static str,
    /// How to log in, a full sentence.
    pub login: &'static str,
    /// Whose usage limit it is ("the OpenAI account").
    pub account: &'static str,
    /// An exit status that on its own means "not logged in".
    pub auth_exit: Option<i32>,
}

const AUTH_PATTERNS: [&str; 12] = [
    "not logged in",
    "unauthorized",
    "http 401",
    "http 403",
    "x-api-key",
    "invalid api key",
    "api key not valid",
    "auth method",
    "authentication",
    "please login",
    "please log in",
    "no provider",
];

const USAGE_LIMIT_PATTERNS: [&str; 8] = [
    "usage limit",
    "rate limit",
    "rate_limit",
    "too many requests",
    "quota",
    "resource_exhausted",
    "http 429",
    "insufficient_quota",
];

const NETWORK_PATTERNS: [&str; 13] = [
    "reconnecting",
    "stream disconnected",
    "failed to lookup address",
    "name does not resolve",
    "connection refused",
    "connection failed",
    "error sending request",
    "network is unreachable",
    "enotfound",
    "econnrefused",
    "fetch failed",
    "cannot connect",
    "unable to connect",
];

/// Classifies an error the CLI reported, by its text. Auth first (its
/// messages may name a status code a limit also has), then limits, then
/// the network.
pub fn classify(text: &str) -> ErrorType {
    first_matching(
        text,
        &[
            (&AUTH_PATTERNS, ErrorType::Auth),
            (&USAGE_LIMIT_PATTERNS, ErrorType::UsageLimit),
            (&NETWORK_PATTERNS, ErrorType::Network),
        ],
    )
}

/// The type of the first group with a pattern that `text` contains (any
/// case); `cli_error` when none does.
pub fn first_matching(text: &str, groups: &[(&[&str], ErrorType)]) -> ErrorType {
    let lower = text.to_lowercase();
    groups
        .iter()
        .find(|(patterns, _)| patterns.iter().any(|p| lower.contains(p)))
        .map_or(ErrorType::CliError, |(_, error_type)| error_type.clone())
}

/// Appends the hint of `error_type` in `cli`'s words.
fn with_hint(mut error: String, error_type: &ErrorType, cli: &CliWords, agent: &str) -> String {
    let program = cli.program;
    match error_type {
        ErrorType::Permission => error.push_str(&format!(
            "\n\nHint: nobody can approve a tool call in a dispatched run. To let agent \
             '{agent}' do more, raise its permission mode (README maps each mode for \
             {program}), e.g. agent-dispatch update {agent} --permission-mode acceptEdits"
        )),
        ErrorType::Auth => error.push_str(&format!(
            "\n\nHint: the {program} CLI that agent-dispatch starts is not logged in, so the \
             agent never ran; every {program} agent fails the same way. {}",
            cli.login
        )),
        ErrorType::UsageLimit => error.push_str(&format!(
            "\n\nHint: this is {}'s usage limit, shared by every {program} agent: wait for it \
             to reset, or reduce concurrent dispatches (settings.max_concurrency).",
            cli.account
        )),
        ErrorType::Network => error.push_str(&format!(
            "\n\nHint: {program} could not reach its service from this machine. Check the \
             network or proxy of the environment agent-dispatch runs in, then retry."
        )),
        _ => {}
    }
    error
}

/// The verdict on a finished run from what its reader found.
pub fn decide(ctx: &Context, facts: RunFacts, ended: &Captured, cli: &CliWords) -> Verdict {
    let session_id = facts
        .session_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .or(ctx.session_of_record.map(str::to_owned));
    let base = DispatchResult {
        session_id: session_id.clone(),
        cost_usd: facts.cost_usd,
        duration_ms: facts.duration_ms,
        num_turns: facts.num_turns,
        usage: facts.usage,
        ..DispatchResult::new(ctx.agent, false)
    };
    let answered = facts.failure.is_none() && facts.answer.is_some();
    let network_trouble = facts
        .network_trouble
        .clone()
        .or_else(|| network_line(&ended.stderr));
    let mut result = match (answered, ended.killed) {
        // A complete answer outranks a kill that came after it.
        (true, Some(kill)) if facts.finished => succeed(ctx, base, &answer_of(&facts), Some(kill)),
        (_, Some(Kill::Timeout)) if network_trouble.is_some() => {
            let trouble = network_trouble.as_deref().unwrap_or_default();
            let error = format!(
                "{} could not reach its service and kept retrying until the {} s timeout \
                 ended it (last message: {trouble})",
                cli.program, ctx.timeout_secs
            );
            DispatchResult {
                error: Some(with_hint(error, &ErrorType::Network, cli, ctx.agent)),
                error_type: Some(ErrorType::Network),
                ..base
            }
        }
        (_, Some(kill)) => DispatchResult {
            cost_usd: base.cost_usd,
            usage: base.usage,
            ..killed_before_result(
                &Context {
                    session_of_record: session_id.as_deref(),
                    ..*ctx
                },
                kill,
            )
        },
        (true, None) => succeed(ctx, base, &answer_of(&facts), None),
        (false, None) => failed(ctx, &facts, ended, cli, base),
    };
    if !facts.denied_tools.is_empty() {
        let denial = messages::denial_hint_by_mode(ctx.agent, &facts.denied_tools);
        result.hint = answer::join_hints([Some(denial), result.hint.take()]);
        result.denied_tools = Some(facts.denied_tools);
    }
    answer::flag_overspend(ctx, &mut result);
    Verdict::Done(result)
}

/// The last stderr line that says the CLI could not reach its service
/// (some CLIs report their retries only there).
fn network_line(stderr: &[u8]) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| classify(line) == ErrorType::Network)
        .map(|line| crate::chars::prefix(line, 300).to_owned())
}

fn answer_of(facts: &RunFacts) -> String {
    facts.answer.clone().unwrap_or_default()
}

/// A run that ended by itself without an answer: the CLI's own error,
/// else what it said on stderr, else its exit status.
fn failed(
    ctx: &Context,
    facts: &RunFacts,
    ended: &Captured,
    cli: &CliWords,
    base: DispatchResult,
) -> DispatchResult {
    let stderr = String::from_utf8_lossy(&ended.stderr);
    let stderr = stderr.trim();
    let error = match (&facts.failure, stderr.is_empty(), ended.exit) {
        (Some(failure), _, _) => failure.clone(),
        (None, _, _) if !facts.denied_tools.is_empty() => format!(
            "{} stopped without an answer: it was refused permission for {}",
            cli.program,
            facts.denied_tools.join(", ")
        ),
        (None, false, _) => stderr.to_owned(),
        (None, true, Exit::Code(0)) => {
            format!("{} finished without an answer", cli.program)
        }
        (None, true, exit) => format!(
            "{} exited with code {exit} and produced no answer",
            cli.program
        ),
    };
    let error_type = match ended.exit {
        Exit::Code(code) if Some(code) == cli.auth_exit => ErrorType::Auth,
        _ if facts.failure.is_none() && !facts.denied_tools.is_empty() => ErrorType::Permission,
        _ => classify(&error),
    };
    let partial = facts
        .answer
        .clone()
        .or_else(|| facts.partial.clone())
        .unwrap_or_default();
    let mut result = DispatchResult {
        result: partial,
        error: Some(with_hint(error, &error_type, cli, ctx.agent)),
        error_type: Some(error_type),
        ..base
    };
    if result.error_type == Some(ErrorType::CliError) && result.session_id.is_some() {
        let sentence = messages::resumable_sentence(ctx.agent, result.session_id.as_deref());
        answer::append_hint(&mut result, sentence.trim().to_owned());
    }
    result
}
