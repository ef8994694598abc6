//! `test NAME [TASK]`: one real dispatch from the terminal, to check that an
//! agent works — with live progress (`--stream`) and a verdict a person can
//! act on.

use std::sync::Arc;

use super::error::{CliError, UsageError};
use super::escape;
use super::interrupt;
use super::output::Color;
use super::wording::cli_words;
use super::{Context, Token, next_token, wants_help};
use crate::config::patch::{self, Given};
use crate::config::store;
use crate::dispatch::{Dispatcher, Request};
use crate::limiter::Limiter;
use crate::live::LiveBoard;
use crate::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, OutputMode, backends,
};
use crate::usage;

pub const HELP: &str = "\
Dispatch one task to an agent and show the answer: a quick check that the
agent, its directory and claude work together. Costs a real claude run.

Usage: agent-dispatch test NAME [TASK] [OPTIONS]

TASK defaults to asking the agent to describe its project in one sentence.

Options:
      --stream           show the agent's progress live (on stderr)
      --timeout SECONDS  time limit for this run instead of the agent's
";

const DEFAULT_TASK: &str = "What project is this? Describe in one sentence.";

#[derive(Debug, Clone, PartialEq)]
pub struct TestArgs {
    pub name: String,
    pub task: Option<String>,
    pub stream: bool,
    pub timeout: Option<u64>,
}

pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<TestArgs>, UsageError> {
    let mut positionals = Vec::new();
    let mut stream = false;
    let mut timeout = None;
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "stream" => stream = true,
            Token::Long(name) if name == "timeout" => {
                let value = super::option_text(parser)?;
                let seconds = patch::seconds("--timeout", Given::Text(&value));
                timeout = Some(seconds.map_err(UsageError::Field)?)
            }
            Token::Value(value) if positionals.len() < 2 => positionals.push(
                value
                    .into_string()
                    .map_err(|raw| UsageError::Parse(lexopt::Error::NonUnicodeValue(raw)))?,
            ),
            other => return Err(other.unexpected()),
        }
    }
    let mut positionals = positionals.into_iter();
    let name = positionals
        .next()
        .ok_or(UsageError::MissingArgument("NAME"))?;
    Ok(Some(TestArgs {
        name,
        task: positionals.next(),
        stream,
        timeout,
    }))
}

pub fn run(ctx: &Context, args: TestArgs) -> Result<(), CliError> {
    let config = store::load(&ctx.paths.config)?;
    let Some(agent) = config.agents.get(&args.name) else {
        return Err(CliError::AgentNotFound {
            name: args.name,
            available: config.agents.keys().cloned().collect(),
        });
    };
    let task = args.task.as_deref().unwrap_or(DEFAULT_TASK);
    ctx.ui.line(&format!(
        "Dispatching to '{}' ({})...\nTask: {}\n---",
        escape::line(&args.name),
        escape::path(&agent.directory),
        escape::block(task)
    ))?;
    let cancel = CancelToken::new();
    interrupt::cancel_on_interrupt(&cancel);
    let progress: Option<runner::Progress> = args.stream.then(|| {
        let ui = ctx.ui.clone();
        Arc::new(move |message: &str| ui.progress(message)) as runner::Progress
    });
    let dispatch = Dispatch {
        agent_name: &args.name,
        agent,
        backend: backends::of(agent, &config.settings),
        settings: &config.settings,
        ask: Ask {
            task,
            ..Ask::default()
        },
        resume: None,
        timeout_secs: args.timeout,
        mode: if args.stream {
            OutputMode::Stream
        } else {
            OutputMode::Json
        },
    };
    // The one dispatch path, with a slot of its own and no cache: a person
    // testing an agent wants it to run.
    let dispatcher = Dispatcher::new(
        Limiter::new(1),
        None,
        ctx.paths.usage_log.clone(),
        Arc::new(usage::Profiles::new()),
        LiveBoard::new(&ctx.paths.servers_dir),
    );
    let request = Request {
        what: "test",
        dispatch,
        cached: false,
        progress,
    };
    let result = dispatcher.run(request, &cancel).result;
    dispatcher.withdraw_from_ps();
    if interrupt::interrupted() {
        return Err(CliError::Interrupted);
    }
    report(ctx, &args.name, &result)
}

fn report(ctx: &Context, name: &str, result: &DispatchResult) -> Result<(), CliError> {
    if result.success {
        let mut text = escape::block(&result.result).into_owned();
        if let Some(hint) = &result.hint {
            let hint = cli_words(hint, name);
            text.push_str(&format!(
                "\n\n{}",
                ctx.ui
                    .paint(Color::Yellow, &format!("Note: {}", escape::block(&hint)))
            ));
        }
        text.push_str(&format!("\n\n{}", verdict_line(result)));
        return ctx.ui.line(&text);
    }
    let error = result.error.as_deref().map_or_else(
        || "the dispatch failed".to_owned(),
        |error| cli_words(error, name),
    );
    // The runner appends its remedy to the error as "\n\nHint: …"; the CLI
    // shows that as its own `hint:` line.
    let (message, hint) = match error.split_once("\n\nHint: ") {
        Some((message, hint)) => (message.to_owned(), Some(hint.to_owned())),
        None => (error, None),
    };
    if !result.result.is_empty() && result.result != message {
        ctx.ui.line(&escape::block(&result.result))?;
    }
    Err(CliError::DispatchFailed {
        message,
        hint: hint.or_else(|| diagnosis(name, result.error_type.as_ref())),
    })
}

/// `--- Cost: $0.0123 | Turns: 2 | Duration: 4.1s | Outcome: done`
fn verdict_line(result: &DispatchResult) -> String {
    let mut parts = Vec::new();
    if let Some(cost) = result.cost_usd {
        parts.push(format!("Cost: ${cost:.4}"));
    }
    if let Some(turns) = result.num_turns {
        parts.push(format!("Turns: {turns}"));
    }
    if let Some(ms) = result.duration_ms {
        parts.push(format!("Duration: {:.1}s", ms as f64 / 1000.0));
    }
    if let Some(outcome) = &result.outcome {
        parts.push(format!("Outcome: {}", outcome.as_str()));
    }
    if parts.is_empty() {
        "--- done".into()
    } else {
        format!("--- {}", parts.join(" | "))
    }
}

/// What to do about failures whose error text carries no remedy.
pub(crate) fn diagnosis(name: &str, error_type: Option<&ErrorType>) -> Option<String> {
    match error_type? {
        ErrorType::Timeout => Some(format!(
            "retry once with more time: agent-dispatch test {name} --timeout 600"
        )),
        ErrorType::NotFound => Some(format!(
            "install Claude Code (npm install -g @anthropic-ai/claude-code), or fix the agent's directory with 'agent-dispatch update {name} --directory DIR'"
        )),
        _ => None,
    }
}
