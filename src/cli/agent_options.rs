//! The agent options `add` and `update` share: their names and help lines
//! live here once. Each option is read straight into the shared
//! `config::patch::AgentPatch`, which checks its value as it is parsed, so
//! a bad option fails before anything is read or written, with the wording
//! the MCP tools use too.

use lexopt::Parser;

use super::error::UsageError;
use super::{Token, option_text as text};
use crate::config::patch::{AgentPatch, Field, Given};

/// Help lines for the shared options (≤ 79 columns), each with its
/// default: what a new agent has and what `none` returns an option to. A
/// macro, not a `const`, so that `add` and `update` can `concat!` it into
/// their own `&'static str` help.
macro_rules! shared_help {
    () => {
        "\
  -d, --description TEXT      what the agent is for (shown to the caller;
                              default: guessed from the project's files)
      --backend CLI           agent CLI: claude, codex, gemini or opencode
                              (default: settings.default_backend, else claude)
      --host [USER@]NAME[:PORT]
                              run the agent on that machine over ssh; the
                              directory is then a path there (default: here)
      --ssh-options CSV       ssh options Key=Value, e.g. IdentityFile=~/.ssh/k
                              (README lists the keys allowed; default: none)
      --remote-cli PATH       the agent CLI's path on the host, when its PATH
                              lacks it (default: the CLI's name)
      --timeout SECONDS       time limit per dispatch, 1-604800 (default 300)
      --model NAME            the CLI's model, e.g. sonnet, gpt-5-codex,
                              gemini-2.5-pro (default: the CLI's own)
      --fallback-model MODELS claude: models to use when the main one is busy
                              (comma-separated; default: none)
      --effort LEVEL          claude: low, medium, high, xhigh or max
                              (default: claude's own)
      --max-turns N           claude: agentic turns per dispatch, 1-10000
                              (default: no limit)
      --max-budget USD        spend cap per dispatch, alias --max-budget-usd
                              (default: settings.default_max_budget_usd)
      --permission-mode MODE  plan, default, manual, dontAsk, acceptEdits,
                              auto or bypassPermissions (default: the CLI's
                              own; README maps them for each CLI)
      --allowed-tools CSV     tools the agent may use, e.g. 'Read,Bash(git *)'
                              (default: settings.default_allowed_tools)
      --disallowed-tools CSV  tools the agent may not use
                              (default: settings.default_disallowed_tools)
      --capabilities CSV      labels describing what the agent can do
                              (default: none)
      --risky-capabilities CSV
                              labels for what it can do that is dangerous
                              (default: none)
      --instructions TEXT     standing orders added to every dispatch
                              (default: none)
  -h, --help                  show this help
"
    };
}
pub(crate) use shared_help;

/// Each option and the field it sets, in the order of the help and of
/// `update`'s report. An alias follows the option it stands for, which is
/// how errors name it.
const OPTIONS: [(&str, Field); 19] = [
    ("--description", Field::Description),
    ("--backend", Field::Backend),
    ("--host", Field::Host),
    ("--ssh-options", Field::SshOptions),
    ("--remote-cli", Field::RemoteCli),
    ("--timeout", Field::Timeout),
    ("--model", Field::Model),
    ("--fallback-model", Field::FallbackModel),
    ("--effort", Field::Effort),
    ("--max-turns", Field::MaxTurns),
    ("--json-schema", Field::JsonSchema),
    ("--max-budget", Field::MaxBudgetUsd),
    ("--max-budget-usd", Field::MaxBudgetUsd),
    ("--permission-mode", Field::PermissionMode),
    ("--allowed-tools", Field::AllowedTools),
    ("--disallowed-tools", Field::DisallowedTools),
    ("--capabilities", Field::Capabilities),
    ("--risky-capabilities", Field::RiskyCapabilities),
    ("--instructions", Field::Instructions),
];

/// The field `token` sets and the option naming it, if it is ours.
fn option_of(token: &Token) -> Option<(Field, &'static str)> {
    let long = match token {
        Token::Short('d') => "description",
        Token::Long(name) => name.as_str(),
        _ => return None,
    };
    let (_, field) = OPTIONS
        .iter()
        .find(|(option, _)| option.strip_prefix("--") == Some(long))?;
    let (named, _) = OPTIONS.iter().find(|(_, f)| f == field)?;
    Some((*field, named))
}

/// The fields `update` changed, as their keys in the order of the options.
pub fn in_option_order(mut fields: Vec<Field>) -> Vec<&'static str> {
    fields.sort_by_key(|field| OPTIONS.iter().position(|(_, f)| f == field));
    fields.into_iter().map(Field::key).collect()
}

/// Reads `token`'s value into `patch` if it is one of the shared options;
/// `Ok(false)` when it is not ours to handle.
pub(crate) fn accept(
    patch: &mut AgentPatch,
    token: &Token,
    parser: &mut Parser,
) -> Result<bool, UsageError> {
    let Some((field, option)) = option_of(token) else {
        return Ok(false);
    };
    let value = text(parser)?;
    patch
        .set(field, option, Given::Text(&value))
        .map_err(UsageError::Field)?;
    Ok(true)
}
