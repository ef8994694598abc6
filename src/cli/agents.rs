//! `add`, `update` and `remove`: changing agents in `agents.yaml`, always
//! under the config lock with a fresh reload.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use lexopt::Parser;

use super::agent_options::{AgentOptions, means_clear};
use super::error::{CliError, UsageError};
use super::escape;
use super::{Context, Token, next_token, wants_help};
use crate::config::directory::ProjectDirError;
use crate::config::rules::{self, NameKind};
use crate::config::{Agent, Config, directory, project, store};
use crate::runner::backends;

pub const ADD_HELP: &str = "\
Register a project directory as an agent.

Usage: agent-dispatch add NAME DIRECTORY [OPTIONS]

NAME is letters, digits, '-' and '_', starting with a letter or digit.
Without --description, one is guessed from CLAUDE.md, README.md,
pyproject.toml, package.json and the project's files.

Options:
";

pub const UPDATE_HELP: &str = "\
Change an agent's settings; only the options given change.

Usage: agent-dispatch update NAME [OPTIONS]

'none' (or an empty value) clears --model, --permission-mode and
--instructions, makes the tool lists inherit the settings defaults again,
and empties the capability lists. --max-budget 0 clears the cap.

Options:
";

pub const REMOVE_HELP: &str = "\
Remove an agent from the config (its project directory is not touched).

Usage: agent-dispatch remove NAME
";

#[derive(Debug, Clone, PartialEq)]
pub struct AddArgs {
    pub name: String,
    pub directory: OsString,
    pub options: AgentOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdateArgs {
    pub name: String,
    pub options: AgentOptions,
}

/// Parses `NAME DIRECTORY [OPTIONS]`; `None` when help was asked for.
pub fn parse_add(parser: &mut Parser) -> Result<Option<AddArgs>, UsageError> {
    let mut options = AgentOptions::default();
    let mut positionals: Vec<OsString> = Vec::new();
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        if options.accept(&arg, parser)? {
            continue;
        }
        match arg {
            Token::Value(value) if positionals.len() < 2 => positionals.push(value),
            other => return Err(other.unexpected()),
        }
    }
    let mut positionals = positionals.into_iter();
    let name = name_argument(positionals.next())?;
    let directory = positionals
        .next()
        .ok_or(UsageError::MissingArgument("DIRECTORY"))?;
    Ok(Some(AddArgs {
        name,
        directory,
        options,
    }))
}

pub fn parse_update(parser: &mut Parser) -> Result<Option<UpdateArgs>, UsageError> {
    let mut options = AgentOptions::default();
    let mut name = None;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        if options.accept(&arg, parser)? {
            continue;
        }
        match arg {
            Token::Value(value) if name.is_none() => name = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    let name = name_argument(name)?;
    if options.is_empty() {
        return Err(UsageError::NothingToUpdate(
            "at least one option (see --help)",
        ));
    }
    Ok(Some(UpdateArgs { name, options }))
}

/// Parses a command taking only `NAME` (and `--json` when `json` is set).
pub fn parse_name(parser: &mut Parser, json: bool) -> Result<Option<(String, bool)>, UsageError> {
    let mut name = None;
    let mut as_json = false;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        match arg {
            Token::Long(name) if json && name == "json" => as_json = true,
            Token::Value(value) if name.is_none() => name = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some((name_argument(name)?, as_json)))
}

/// The NAME positional as text. Its naming rule is checked only where a
/// name is created: an existing agent with an unusual hand-written name
/// must still be reachable by `update` and `remove`.
fn name_argument(value: Option<OsString>) -> Result<String, UsageError> {
    value
        .ok_or(UsageError::MissingArgument("NAME"))?
        .into_string()
        .map_err(|raw| UsageError::Parse(lexopt::Error::NonUnicodeValue(raw)))
}

pub fn run_add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    let usage = |error| CliError::usage("add", error);
    rules::check_name(NameKind::Agent, &args.name)
        .map_err(|e| usage(UsageError::InvalidName(e)))?;
    let directory = resolve_directory(Path::new(&args.directory)).map_err(usage)?;
    let options = args.options;

    let description = match options.description {
        Some(text) => text,
        None => {
            let files = backends::default_backend().project_files();
            let guessed = project::auto_description(&directory, &files);
            ctx.ui.line(&format!(
                "Auto-generated description: {}",
                escape::line(&guessed)
            ))?;
            guessed
        }
    };
    let mut agent = Agent::new(directory.clone());
    agent.description = description;
    if let Some(timeout) = options.timeout {
        agent.timeout = timeout;
    }
    agent.max_budget_usd = options.max_budget_usd;
    agent.model = options.model.filter(|m| !means_clear(m));
    agent.permission_mode = options
        .permission_mode
        .map(|m| m.trim().to_owned())
        .filter(|m| !means_clear(m));
    agent.allowed_tools = options.allowed_tools.as_deref().and_then(tool_list);
    agent.disallowed_tools = options.disallowed_tools.as_deref().and_then(tool_list);
    agent.capabilities = options
        .capabilities
        .as_deref()
        .map_or_else(Vec::new, rules::split_csv);
    agent.risky_capabilities = options
        .risky_capabilities
        .as_deref()
        .map_or_else(Vec::new, rules::split_csv);
    agent.instructions = options
        .instructions
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if let Some(warning) = agent
        .permission_mode
        .as_deref()
        .and_then(rules::permission_mode_warning)
    {
        ctx.ui.warn(&warning);
    }

    let name = args.name;
    store::mutate(&ctx.paths, |config: &mut Config| {
        if config.agents.contains_key(&name) {
            return Err(CliError::AgentExists(name.clone()));
        }
        config.agents.insert(name.clone(), agent);
        Ok(())
    })?;
    ctx.ui.line(&format!(
        "Added agent '{name}' -> {}",
        escape::line(&directory.to_string_lossy())
    ))
}

/// Tool lists on `add`: blank means "inherit" (`None`); otherwise the list,
/// which may be explicitly empty (`,`).
fn tool_list(csv: &str) -> Option<Vec<String>> {
    (!csv.trim().is_empty()).then(|| rules::split_csv(csv))
}

/// Checks the DIRECTORY argument (see `directory::project`).
fn resolve_directory(raw: &Path) -> Result<PathBuf, UsageError> {
    directory::project(raw).map_err(|problem| match problem {
        ProjectDirError::Blank | ProjectDirError::Missing(_) => {
            UsageError::NotADirectory(raw.to_path_buf())
        }
        ProjectDirError::Unresolvable(reason) => UsageError::UnresolvableDirectory {
            path: raw.to_path_buf(),
            reason: reason.to_string(),
        },
        ProjectDirError::NotUtf8(path) => UsageError::NotUtf8Path(path),
    })
}

pub fn run_update(ctx: &Context, args: UpdateArgs) -> Result<(), CliError> {
    let options = args.options;
    let name = args.name;
    let mut warning = None;
    let fields = store::mutate(&ctx.paths, |config: &mut Config| {
        let available: Vec<String> = config.agents.keys().cloned().collect();
        let Some(agent) = config.agents.get_mut(&name) else {
            return Err(CliError::AgentNotFound {
                name: name.clone(),
                available,
            });
        };
        let mut fields = Vec::new();
        if let Some(text) = &options.description {
            agent.description = text.clone();
            fields.push("description");
        }
        if let Some(timeout) = options.timeout {
            agent.timeout = timeout;
            fields.push("timeout");
        }
        if let Some(model) = &options.model {
            agent.model = (!means_clear(model)).then(|| model.trim().to_owned());
            fields.push("model");
        }
        if let Some(budget) = options.max_budget_usd {
            agent.max_budget_usd = (budget > 0.0).then_some(budget);
            fields.push("max_budget_usd");
        }
        if let Some(mode) = &options.permission_mode {
            agent.permission_mode = (!means_clear(mode)).then(|| mode.trim().to_owned());
            warning = agent
                .permission_mode
                .as_deref()
                .and_then(rules::permission_mode_warning);
            fields.push("permission_mode");
        }
        if let Some(csv) = &options.allowed_tools {
            agent.allowed_tools = (!means_clear(csv)).then(|| rules::split_csv(csv));
            fields.push("allowed_tools");
        }
        if let Some(csv) = &options.disallowed_tools {
            agent.disallowed_tools = (!means_clear(csv)).then(|| rules::split_csv(csv));
            fields.push("disallowed_tools");
        }
        if let Some(csv) = &options.capabilities {
            agent.capabilities = if means_clear(csv) {
                Vec::new()
            } else {
                rules::split_csv(csv)
            };
            fields.push("capabilities");
        }
        if let Some(csv) = &options.risky_capabilities {
            agent.risky_capabilities = if means_clear(csv) {
                Vec::new()
            } else {
                rules::split_csv(csv)
            };
            fields.push("risky_capabilities");
        }
        if let Some(text) = &options.instructions {
            let text = text.trim();
            agent.instructions = if text.eq_ignore_ascii_case("none") {
                String::new()
            } else {
                text.to_owned()
            };
            fields.push("instructions");
        }
        Ok(fields)
    })?;
    if let Some(warning) = warning {
        ctx.ui.warn(&warning);
    }
    ctx.ui
        .line(&format!("Updated agent '{name}': {}", fields.join(", ")))
}

pub fn run_remove(ctx: &Context, name: String) -> Result<(), CliError> {
    let groups = store::mutate(&ctx.paths, |config: &mut Config| {
        if config.agents.shift_remove(&name).is_none() {
            return Err(CliError::AgentNotFound {
                name: name.clone(),
                available: config.agents.keys().cloned().collect(),
            });
        }
        Ok(config
            .groups
            .iter()
            .filter(|(_, group)| group.members.iter().any(|m| m.agent == name))
            .map(|(group, _)| group.clone())
            .collect::<Vec<_>>())
    })?;
    ctx.ui.line(&format!("Removed agent '{name}'."))?;
    for group in groups {
        ctx.ui.warn(&format!(
            "group '{group}' still lists '{name}' as a member; recreate the group or edit agents.yaml"
        ));
    }
    Ok(())
}
